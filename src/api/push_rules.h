/* push_rules.h: every user's push rules: where they are kept and the
 * compiled form the unread counts evaluate.
 *
 * A user's rule set is their global account data of type m.push_rules
 * (api/account_data.h), written whole by the /pushrules endpoints
 * (api/client/push_rules.c), so that clients also see it in /sync. When
 * read it is merged with the current server defaults (core/push.h); a user
 * who never changed anything has no entry and gets the defaults.
 *
 * The compiled rules of each user are cached and rebuilt when the user's
 * account data changed (checked through the user's account data position,
 * so a write by any path is noticed). Loop thread only. */
#ifndef BALAI_API_PUSH_RULES_H
#define BALAI_API_PUSH_RULES_H

#include <jansson.h>

#include "api/app.h"
#include "core/push.h"

#define BALAI_PUSH_RULES_TYPE "m.push_rules"

struct balai_push_store;

/* Creates app->push_rules (empty cache; reads nothing). */
void balai_api_push_rules_init(struct balai_app *app);
/* NULL-safe. */
void balai_api_push_rules_free(struct balai_push_store *ps);

/* The user's full rule set, merged with the server defaults: committed
 * (latest 0) or including writes submitted but not yet committed (latest
 * 1, for read-modify-write). A new reference. app->account_data may be
 * NULL (defaults). */
json_t *balai_api_push_rules_get(struct balai_app *app, const char *user_id, int latest);

/* The user's compiled rules (borrowed until the user's rules next change
 * and this is called again). */
const struct balai_push_rules *balai_api_push_rules_for(struct balai_app *app,
                                                        const char *user_id);

/* Drops the user's compiled rules (after a change). */
void balai_api_push_rules_changed(struct balai_app *app, const char *user_id);

/* Adds the /pushrules routes (api/client/push_rules.c). */
int balai_api_client_push_rules_routes(struct balai_app *app);

#endif

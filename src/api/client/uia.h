/* uia.h: user-interactive authentication (spec: "User-interactive
 * authentication API") with the m.login.password stage, for sensitive
 * actions: changing the password, deleting devices. */
#ifndef BALAI_API_CLIENT_UIA_H
#define BALAI_API_CLIENT_UIA_H

#include <jansson.h>

#include "http/server.h"

struct balai_app;
struct balai_uia;

struct balai_uia *balai_uia_new(void);
void balai_uia_free(struct balai_uia *u);

/* Called on the loop thread with BALAI_OK when the password was right. On any
 * failure the UIA code has already answered the request. */
typedef void (*balai_uia_done_fn)(void *arg, int rc);

/* Checks body.auth for the password of `user_id`. Without auth (or with an
 * unknown session) answers 401 with the flows and returns BALAI_EAUTH (done
 * is not called). With auth, verifies the password on the pool and calls
 * done; a wrong password answers 401 M_FORBIDDEN before done(EAUTH). */
int balai_uia_check(struct balai_http_req *req, json_t *body, const char *user_id,
                    balai_uia_done_fn done, void *arg);

#endif

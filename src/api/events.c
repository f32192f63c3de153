/* events.c: prepare → write (sealed, group-committed) → commit → notify. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/dlp.h"
#include "api/events.h"
#include "api/gov_hooks.h"
#include "api/relations.h"
#include "api/room_directory.h"
#include "api/unread.h"
#include "core/auth.h"
#include "core/accounts.h"
#include "core/event.h"
#include "core/redact.h"
#include "crypto/crypto.h"
#include "crypto/keystore.h"
#include "sync/notifier.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/map.h"
#include "util/time.h"

#define LOG_MODULE "events"
#include "util/log.h"

#define TXN_KEEP_MS (24LL * 3600 * 1000)

void balai_api_room_key_name(const char *room_id, char *out, size_t outlen)
{
    snprintf(out, outlen, "room:%s:0", room_id);
}

struct balai_api_write *balai_api_write_new(struct balai_app *app, struct balai_room *room)
{
    struct balai_api_write *w = balai_calloc(1, sizeof(*w));
    w->app = app;
    w->room = room;
    return w;
}

void balai_api_write_free(struct balai_api_write *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nevs; i++) {
        if (!w->submitted)
            balai_room_abort(w->room, w->evs[i]);
        balai_ev_unref(w->evs[i]);
        free(w->plain[i]);
    }
    for (size_t i = 0; i < w->nredacted; i++) {
        balai_ev_unref(w->redacted[i]);
        free(w->redacted_plain[i]);
    }
    free(w->txn_user);
    free(w->txn_device);
    free(w->txn_id);
    free(w->alias);
    free(w->forget_user);
    free(w);
}

static const char *e2ee_denied =
    "Your organisation does not allow end-to-end encrypted rooms on this server: messages "
    "must stay readable by the server so that data-loss prevention, retention and audit "
    "apply. Send the message unencrypted.";

static int event_add(struct balai_api_write *w, const char *sender, const char *type,
                     const char *state_key, const char *redacts, const json_t *content,
                     char *reason, size_t reasonlen)
{
    struct balai_app *app = w->app;
    struct balai_room *room = w->room;
    const struct balai_room_version *rv = balai_room_version(room);
    struct balai_state_lookup view = balai_room_auth_view(room);
    json_t *prev = NULL, *auth = NULL, *pdu = NULL;
    char *event_id = NULL;
    int64_t depth;
    int rc;

    if (w->nevs == BALAI_WRITE_MAX_EVENTS) {
        snprintf(reason, reasonlen, "Too many events in one request");
        return BALAI_EBUSY;
    }
    if (strcmp(app->cfg->e2ee, "deny") == 0 &&
        (strcmp(type, "m.room.encryption") == 0 || strcmp(type, "m.room.encrypted") == 0)) {
        snprintf(reason, reasonlen, "%s", e2ee_denied);
        return BALAI_EFORBIDDEN;
    }
    const char *head = balai_room_head(room, &depth);
    prev = json_array();
    if (head)
        json_array_append_new(prev, json_string(head));
    auth = balai_auth_select(type, state_key, sender, content, &view);
    struct balai_event_key key = {app->server_name, app->sign_key_id, app->sign_sk};
    struct balai_event_params p = {
        .room_version = rv->id,
        .room_id = balai_room_id(room),
        .sender = sender,
        .type = type,
        .state_key = state_key,
        .content = content,
        .origin_server_ts = balai_now_ms(),
        .depth = depth + 1,
        .prev_events = prev,
        .auth_events = auth,
        .redacts = redacts,
        .key = &key,
    };
    rc = balai_event_build(&p, &pdu, &event_id);
    if (rc == BALAI_ETOOBIG) {
        snprintf(reason, reasonlen, "The event is larger than %d bytes", BALAI_EVENT_MAX_BYTES);
        goto out;
    }
    if (rc != BALAI_OK) {
        snprintf(reason, reasonlen,
                 "The event is not valid: fields must be strings of at most %d bytes and content "
                 "a JSON object with integers in the canonical range (no floats)",
                 BALAI_EVENT_FIELD_MAX);
        rc = BALAI_EINVAL;
        goto out;
    }
    rc = balai_auth_check(rv->id, pdu, &view, reason, reasonlen);
    if (rc != BALAI_OK)
        goto out;
    rc = balai_api_relations_check(app, room, sender, type, state_key, content, reason, reasonlen);
    if (rc != BALAI_OK)
        goto out;
    /* before_persist: governance policies (api/gov_hooks.h) */
    rc = balai_api_gov_before_event(app, room, &view, sender, type, state_key, content, reason,
                                    reasonlen);
    if (rc != BALAI_OK)
        goto out;
    size_t len;
    char *plain = balai_json_dump(pdu, 0, &len);
    if (!plain) {
        rc = BALAI_EINVAL;
        snprintf(reason, reasonlen, "The event cannot be encoded");
        goto out;
    }
    struct balai_ev *ev = balai_ev_new(pdu, event_id);
    pdu = NULL;
    balai_room_add_pending(room, ev);
    w->plain[w->nevs] = plain;
    w->plain_len[w->nevs] = len;
    w->evs[w->nevs++] = ev;
out:
    free(event_id);
    json_decref(pdu);
    json_decref(prev);
    json_decref(auth);
    return rc;
}

int balai_api_event_add(struct balai_api_write *w, const char *sender, const char *type,
                        const char *state_key, const json_t *content, char *reason,
                        size_t reasonlen)
{
    /* An invite carries the invitee's profile, as clients show it in the
     * invite (and before the invitee ever joins). */
    const char *m = json_string_value(json_object_get(content, "membership"));
    struct balai_user *u = NULL;
    if (state_key && m && strcmp(type, "m.room.member") == 0 && strcmp(m, "invite") == 0 &&
        !json_object_get(content, "displayname"))
        u = balai_accounts_user(w->app->accounts, state_key);
    if (!u || (!u->displayname && !u->avatar_url))
        return event_add(w, sender, type, state_key, NULL, content, reason, reasonlen);
    json_t *c = json_deep_copy(content);
    if (u->displayname)
        json_object_set_new(c, "displayname", json_string(u->displayname));
    if (u->avatar_url && !json_object_get(c, "avatar_url"))
        json_object_set_new(c, "avatar_url", json_string(u->avatar_url));
    int rc = event_add(w, sender, type, state_key, NULL, c, reason, reasonlen);
    json_decref(c);
    return rc;
}

int balai_api_event_add_redaction(struct balai_api_write *w, const char *sender,
                                  const char *redacts_event_id, const json_t *content, char *reason,
                                  size_t reasonlen)
{
    return event_add(w, sender, "m.room.redaction", NULL, redacts_event_id, content, reason,
                     reasonlen);
}

int balai_api_write_redact_target(struct balai_api_write *w, const struct balai_ev *target)
{
    if (w->nredacted == BALAI_WRITE_MAX_REDACTS)
        return BALAI_EBUSY;
    json_t *pdu = balai_redact_rv(target->pdu, balai_room_version(w->room));
    if (!pdu)
        return BALAI_EINVAL;
    size_t len;
    char *plain = balai_json_dump(pdu, 0, &len);
    if (!plain) {
        json_decref(pdu);
        return BALAI_EINVAL;
    }
    struct balai_ev *ev = balai_ev_new(pdu, target->event_id);
    ev->pos = target->pos;
    if (target->txn_id) {
        ev->txn_device = balai_strdup(target->txn_device);
        ev->txn_id = balai_strdup(target->txn_id);
    }
    w->redacted[w->nredacted] = ev;
    w->redacted_plain[w->nredacted] = plain;
    w->redacted_len[w->nredacted++] = len;
    return BALAI_OK;
}

void balai_api_event_error(struct balai_http_req *req, int rc, const char *reason)
{
    switch (rc) {
    case BALAI_EFORBIDDEN:
        balai_api_error(req, 403, "M_FORBIDDEN", "%s", reason);
        break;
    case BALAI_ETOOBIG:
        balai_api_error(req, 413, "M_TOO_LARGE", "%s", reason);
        break;
    case BALAI_EINVAL:
        balai_api_error(req, 400, "M_BAD_JSON", "%s", reason);
        break;
    case BALAI_EBUSY:
        balai_api_error(req, 400, "M_LIMIT_EXCEEDED", "%s", reason);
        break;
    case BALAI_EEXIST: /* api/relations.h: a duplicate annotation */
        balai_api_error(req, 400, "M_DUPLICATE_ANNOTATION", "%s", reason);
        break;
    case BALAI_ESTATE: /* api/relations.h: a thread from an event with a relation */
        balai_api_error(req, 400, "M_UNKNOWN", "%s", reason);
        break;
    default:
        balai_api_error_rc(req, rc, "the event");
        break;
    }
}

/* ---- the writer side (writer thread: touches only w's own data) ---- */

/* Events whose write was refused, remembered on the writer thread: a later
 * write built on one of them (chained to it while it was pending) is
 * refused as well, so no stored event ever points at a missing one. Refusals
 * are rare; a small ring is enough. */
#define FAILED_RING 256
static char *failed_ids[FAILED_RING];
static size_t failed_next;

static void failed_add(const char *event_id)
{
    free(failed_ids[failed_next]);
    failed_ids[failed_next] = balai_strdup(event_id);
    failed_next = (failed_next + 1) % FAILED_RING;
}

static int failed_has(const char *event_id)
{
    for (size_t i = 0; i < FAILED_RING; i++) {
        if (failed_ids[i] && strcmp(failed_ids[i], event_id) == 0)
            return 1;
    }
    return 0;
}

static int builds_on_failed(const struct balai_api_write *w)
{
    if (!failed_next && !failed_ids[0])
        return 0;
    for (size_t i = 0; i < w->nevs; i++) {
        json_t *prev = json_object_get(w->evs[i]->pdu, "prev_events");
        size_t j;
        json_t *v;
        json_array_foreach(prev, j, v)
        {
            if (json_is_string(v) && failed_has(json_string_value(v)))
                return 1;
        }
    }
    return 0;
}

static int write_apply_inner(struct balai_store_txn *t, struct balai_api_write *w);

static int write_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct balai_api_write *w = (struct balai_api_write *)op;
    int rc = builds_on_failed(w) ? BALAI_ESTATE : write_apply_inner(t, w);
    if (rc != BALAI_OK) {
        for (size_t i = 0; i < w->nevs; i++)
            failed_add(w->evs[i]->event_id);
    }
    return rc;
}

static int write_apply_inner(struct balai_store_txn *t, struct balai_api_write *w)
{
    struct balai_app *app = w->app;
    const char *room_id = balai_room_id(w->room);
    char key_name[300];
    uint8_t key[32];
    int rc = BALAI_OK;

    balai_api_room_key_name(room_id, key_name, sizeof(key_name));
    if (!w->new_room && w->nevs == 0 && w->nredacted == 0)
        goto rest;
    rc = w->new_room ? balai_keystore_get_or_create(app->keystore, key_name, key)
                     : balai_keystore_get(app->keystore, key_name, key);
    if (rc != BALAI_OK)
        return rc == BALAI_ENOTFOUND ? BALAI_ECRYPTO : rc;
    if (w->new_room) {
        struct balai_room_rec rr = {room_id, balai_room_version(w->room)->id,
                                    balai_room_creator(w->room), balai_room_is_direct(w->room),
                                    w->nevs ? w->evs[0]->ts : balai_now_ms()};
        rc = balai_store_txn_room_insert(t, &rr);
        if (rc != BALAI_OK)
            goto out;
    }
    for (size_t i = 0; i < w->nevs; i++) {
        struct balai_ev *ev = w->evs[i];
        size_t blen = w->plain_len[i] + BALAI_SEAL_OVERHEAD;
        uint8_t *blob = balai_malloc(blen);
        balai_seal(key, ev->event_id, strlen(ev->event_id), w->plain[i], w->plain_len[i], blob);
        const char *aux = NULL;
        if (ev->state_key && strcmp(ev->type, "m.room.history_visibility") == 0)
            aux = json_string_value(
                json_object_get(balai_event_content(ev->pdu), "history_visibility"));
        struct balai_event_rec r = {
            .event_id = ev->event_id,
            .room_id = room_id,
            .type = ev->type,
            .state_key = ev->state_key,
            .sender = ev->sender,
            .origin_server_ts = ev->ts,
            .depth = ev->depth,
            .membership = ev->membership,
            .aux = aux,
            .txn_user = i == 0 ? w->txn_user : NULL,
            .blob = blob,
            .blob_len = blen,
            .key_name = key_name,
        };
        rc = balai_store_txn_event_insert(t, &r);
        free(blob);
        if (rc != BALAI_OK)
            goto out;
        w->pos[i] = r.pos;
        if (ev->state_key) {
            rc = balai_store_txn_state_set(t, room_id, ev->type, ev->state_key, r.pos);
            if (rc != BALAI_OK)
                goto out;
        }
    }
    /* a redaction destroys the original: its sealed PDU is overwritten */
    for (size_t i = 0; i < w->nredacted; i++) {
        const char *id = w->redacted[i]->event_id;
        size_t blen = w->redacted_len[i] + BALAI_SEAL_OVERHEAD;
        uint8_t *blob = balai_malloc(blen);
        balai_seal(key, id, strlen(id), w->redacted_plain[i], w->redacted_len[i], blob);
        rc = balai_store_txn_event_set_blob(t, id, blob, blen, 1);
        free(blob);
        if (rc != BALAI_OK)
            goto out;
    }
    /* the relations of the new events, the redactions of the targets */
    rc = balai_api_relations_write(t, w);
    if (rc != BALAI_OK)
        goto out;
rest:
    if (w->txn_user && w->nevs) {
        rc = balai_store_txn_txn_insert(t, w->txn_user, w->txn_device, w->txn_id,
                                        w->evs[0]->event_id, w->evs[0]->ts);
        if (rc != BALAI_OK)
            goto out;
    }
    if (w->alias) {
        rc = balai_store_txn_alias_insert(t, w->alias, room_id, balai_room_creator(w->room));
        if (rc != BALAI_OK)
            goto out;
    }
    if (w->forget && w->forget_user)
        rc = w->forget > 0 ? balai_store_txn_forget(t, w->forget_user, room_id)
                           : balai_store_txn_unforget(t, w->forget_user, room_id);
    if (rc == BALAI_OK && w->publish)
        rc = balai_store_txn_room_publish(t, room_id, 1, balai_now_ms());
out:
    balai_wipe(key, sizeof(key));
    return rc;
}

/* ---- back on the loop thread ---- */

static void wake_member(const char *user_id, const char *membership, void *arg)
{
    struct balai_app *app = arg;
    (void)membership;
    balai_notifier_wake_user(app->notifier, user_id);
}

void balai_api_notify_event(struct balai_app *app, struct balai_room *room, struct balai_ev *ev)
{
    balai_room_members_each(room, "join", wake_member, app);
    if (ev && ev->membership && strcmp(ev->membership, "join") != 0)
        balai_notifier_wake_user(app->notifier, ev->state_key);
}

struct balai_api_wakes {
    struct balai_room **rooms;
    size_t nrooms, caprooms;
    char **users;
    size_t nusers, capusers;
};

void balai_api_wakes_init(struct balai_app *app)
{
    app->wakes = balai_calloc(1, sizeof(*app->wakes));
}

void balai_api_wakes_release(struct balai_app *app)
{
    struct balai_api_wakes *wk = app->wakes;
    if (!wk)
        return;
    for (size_t i = 0; i < wk->nusers; i++)
        free(wk->users[i]);
    free(wk->users);
    free(wk->rooms);
    free(wk);
    app->wakes = NULL;
}

static void wakes_add_room(struct balai_api_wakes *wk, struct balai_room *r)
{
    for (size_t i = 0; i < wk->nrooms; i++) {
        if (wk->rooms[i] == r)
            return;
    }
    if (wk->nrooms == wk->caprooms) {
        wk->caprooms = wk->caprooms ? wk->caprooms * 2 : 16;
        wk->rooms = balai_realloc(wk->rooms, wk->caprooms * sizeof(*wk->rooms));
    }
    wk->rooms[wk->nrooms++] = r;
}

static void wakes_add_user(struct balai_api_wakes *wk, const char *user_id)
{
    if (wk->nusers == wk->capusers) {
        wk->capusers = wk->capusers ? wk->capusers * 2 : 16;
        wk->users = balai_realloc(wk->users, wk->capusers * sizeof(*wk->users));
    }
    wk->users[wk->nusers++] = balai_strdup(user_id);
}

void balai_api_wakes_flush(struct balai_app *app)
{
    struct balai_api_wakes *wk = app->wakes;
    /* Waking may answer requests, which never submits writes synchronously;
     * still, take the lists first so the flush is re-entrant. */
    struct balai_room **rooms = wk->rooms;
    size_t nrooms = wk->nrooms;
    char **users = wk->users;
    size_t nusers = wk->nusers;
    wk->rooms = NULL;
    wk->nrooms = wk->caprooms = 0;
    wk->users = NULL;
    wk->nusers = wk->capusers = 0;
    for (size_t i = 0; i < nrooms; i++)
        balai_room_members_each(rooms[i], "join", wake_member, app);
    for (size_t i = 0; i < nusers; i++) {
        balai_notifier_wake_user(app->notifier, users[i]);
        free(users[i]);
    }
    free(rooms);
    free(users);
}

static char *txn_key(const char *user, const char *device, const char *txn)
{
    return balai_asprintf("%s\n%s\n%s", user, device, txn);
}

static void write_done(struct balai_store_op *op)
{
    struct balai_api_write *w = (struct balai_api_write *)op;
    struct balai_app *app = w->app;
    char *tk = w->txn_user ? txn_key(w->txn_user, w->txn_device, w->txn_id) : NULL;

    if (op->rc != BALAI_OK) {
        if (op->rc != BALAI_EEXIST)
            LOG_ERROR("writing %zu event(s) to %s failed: %s", w->nevs, balai_room_id(w->room),
                      balai_strerror(op->rc));
        for (size_t i = 0; i < w->nevs; i++)
            balai_room_abort(w->room, w->evs[i]);
        if (tk)
            free(balai_map_del_str(app->txns, tk));
    } else {
        for (size_t i = 0; i < w->nevs; i++) {
            struct balai_ev *ev = w->evs[i];
            ev->pos = w->pos[i];
            if (i == 0 && w->txn_user) {
                ev->txn_device = balai_strdup(w->txn_device);
                ev->txn_id = balai_strdup(w->txn_id);
            }
            balai_room_commit(w->room, ev);
            balai_rooms_set_max_pos(app->rooms, ev->pos);
            if (ev->membership)
                balai_rooms_note_member(app->rooms, w->room, ev->state_key);
            balai_api_unread_event(app, w->room, ev);
            balai_api_gov_after_event(app, w->room, ev); /* after_persist (api/gov_hooks.h) */
        }
        for (size_t i = 0; i < w->nredacted; i++)
            balai_room_replace(w->room, w->redacted[i]);
        balai_api_relations_commit(w);
        if (tk && w->nevs)
            free(balai_map_put_str(app->txns, tk, balai_strdup(w->evs[0]->event_id)));
        if (w->alias)
            balai_rooms_alias_set(app->rooms, w->alias, balai_room_id(w->room),
                                  balai_room_creator(w->room));
        if (w->forget && w->forget_user)
            balai_rooms_forget(app->rooms, w->forget_user, balai_room_id(w->room), w->forget > 0);
        if (w->publish)
            balai_api_room_directory_set(app->room_directory, balai_room_id(w->room), 1);
        wakes_add_room(app->wakes, w->room);
        for (size_t i = 0; i < w->nevs; i++) {
            struct balai_ev *ev = w->evs[i];
            if (ev->membership && strcmp(ev->membership, "join") != 0)
                wakes_add_user(app->wakes, ev->state_key);
        }
    }
    free(tk);
    if (w->done)
        w->done(w);
    balai_api_write_free(w);
}

int balai_api_txn_answered(struct balai_http_req *req, const char *user_id, const char *device_id,
                           const char *txn_id)
{
    struct balai_app *app = balai_api_app(req);
    if (strlen(txn_id) > 255) {
        balai_api_error(req, 400, "M_INVALID_PARAM", "Transaction ids are at most 255 bytes");
        return 1;
    }
    char *key = txn_key(user_id, device_id, txn_id);
    const char *done = balai_map_get_str(app->txns, key);
    free(key);
    if (done && strncmp(done, "h_", 2) == 0) {
        /* the transaction of a message held for review (api/dlp.h) */
        if (!balai_api_dlp_held_answered(req, user_id, device_id, txn_id))
            balai_api_error(req, 403, "ID.BALAI.DLP_HELD",
                            "This transaction's message is held for review by a moderator");
        return 1;
    }
    if (done && *done) {
        balai_api_json(req, 200, json_pack("{s:s}", "event_id", done));
        return 1;
    }
    if (done) {
        balai_api_limit(req, 200); /* the same transaction is being written */
        return 1;
    }
    return 0;
}

static void write_ready(struct balai_api_write *w)
{
    w->submitted = 1;
    if (w->txn_user) {
        char *tk = txn_key(w->txn_user, w->txn_device, w->txn_id);
        /* "" marks a send in flight: a duplicate arriving now is asked to retry */
        free(balai_map_put_str(w->app->txns, tk, balai_strdup("")));
        free(tk);
    }
    w->op.apply = write_apply;
    w->op.done = write_done;
}

void balai_api_write_submit(struct balai_api_write *w)
{
    write_ready(w);
    balai_store_submit(w->app->store, &w->op);
}

void balai_api_write_add_to_group(struct balai_api_write *w, struct balai_store_group *g)
{
    write_ready(w);
    balai_store_group_add(g, &w->op);
}

/* ---- loading at start ---- */

struct balai_ev *balai_api_event_unseal(struct balai_app *app, const struct balai_event_rec *r)
{
    uint8_t key[32];
    json_t *pdu = NULL;
    struct balai_ev *ev = NULL;
    uint8_t *plain = NULL;

    if (!r->blob || r->blob_len < BALAI_SEAL_OVERHEAD || !r->key_name ||
        balai_keystore_get(app->keystore, r->key_name, key) != BALAI_OK)
        goto out;
    plain = balai_malloc(r->blob_len - BALAI_SEAL_OVERHEAD + 1);
    if (balai_unseal(key, r->event_id, strlen(r->event_id), r->blob, r->blob_len, plain) !=
        BALAI_OK)
        goto out;
    pdu = json_loadb((const char *)plain, r->blob_len - BALAI_SEAL_OVERHEAD, 0, NULL);
    if (!pdu)
        goto out;
    ev = balai_ev_new(pdu, r->event_id);
    ev->pos = r->pos;
    pdu = NULL;
out:
    balai_wipe(key, sizeof(key));
    free(plain);
    json_decref(pdu);
    return ev;
}

struct load_ctx {
    struct balai_app *app;
    struct balai_ev **evs;
    size_t n, cap;
    int failed;
};

static int load_room(const struct balai_room_rec *r, void *arg)
{
    struct load_ctx *c = arg;
    const struct balai_room_version *rv = balai_room_version_get(r->room_version);
    if (!rv) {
        LOG_WARN("room %s has unsupported version %s; skipped", r->room_id, r->room_version);
        return 0;
    }
    balai_rooms_add(c->app->rooms, r->room_id, rv, r->creator, r->is_direct);
    return 0;
}

static int load_state(const struct balai_event_rec *r, void *arg)
{
    struct load_ctx *c = arg;
    struct balai_room *room = balai_rooms_get(c->app->rooms, r->room_id);
    if (!room)
        return 0;
    struct balai_ev *ev = balai_api_event_unseal(c->app, r);
    if (!ev) {
        LOG_ERROR("cannot unseal state event %s of %s (key missing or data damaged)", r->event_id,
                  r->room_id);
        c->failed++;
        return 0;
    }
    balai_room_load_state(room, ev);
    balai_ev_unref(ev);
    return 0;
}

static int load_policy(const struct balai_event_rec *r, void *arg)
{
    struct load_ctx *c = arg;
    struct balai_room *room = balai_rooms_get(c->app->rooms, r->room_id);
    if (!room)
        return 0;
    if (r->membership && r->state_key) {
        balai_room_load_history(room, r->pos, r->state_key, r->membership);
        balai_rooms_note_member(c->app->rooms, room, r->state_key);
    } else if (r->aux && r->type && strcmp(r->type, "m.room.history_visibility") == 0) {
        balai_room_load_history(room, r->pos, NULL, r->aux);
    }
    return 0;
}

static int collect_ev(const struct balai_event_rec *r, void *arg)
{
    struct load_ctx *c = arg;
    struct balai_ev *ev = balai_api_event_unseal(c->app, r);
    if (!ev) {
        c->failed++;
        return 0;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->evs = balai_realloc(c->evs, c->cap * sizeof(*c->evs));
    }
    c->evs[c->n++] = ev;
    return 0;
}

struct room_list {
    char **ids;
    size_t n, cap;
};

static int list_room(const struct balai_room_rec *r, void *arg)
{
    struct room_list *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->ids = balai_realloc(l->ids, l->cap * sizeof(*l->ids));
    }
    l->ids[l->n++] = balai_strdup(r->room_id);
    return 0;
}

static int load_alias(const char *alias, const char *room_id, const char *creator, void *arg)
{
    struct load_ctx *c = arg;
    balai_rooms_alias_set(c->app->rooms, alias, room_id, creator);
    return 0;
}

static int load_forgotten(const char *user_id, const char *room_id, void *arg)
{
    struct load_ctx *c = arg;
    balai_rooms_forget(c->app->rooms, user_id, room_id, 1);
    return 0;
}

static int load_txn(const char *user_id, const char *device_id, const char *txn_id,
                    const char *event_id, int64_t ts, void *arg)
{
    struct load_ctx *c = arg;
    (void)ts;
    char *k = txn_key(user_id, device_id, txn_id);
    free(balai_map_put_str(c->app->txns, k, balai_strdup(event_id)));
    free(k);
    return 0;
}

int balai_api_rooms_load(struct balai_app *app)
{
    struct load_ctx c = {app, NULL, 0, 0, 0};
    struct room_list l = {NULL, 0, 0};
    int rc;

    rc = balai_store_rooms_each(app->store, load_room, &c);
    if (rc == BALAI_OK)
        rc = balai_store_state_each(app->store, load_state, &c);
    if (rc == BALAI_OK)
        rc = balai_store_policy_events_each(app->store, load_policy, &c);
    if (rc == BALAI_OK)
        rc = balai_store_rooms_each(app->store, list_room, &l);
    for (size_t i = 0; rc == BALAI_OK && i < l.n; i++) {
        struct balai_room *room = balai_rooms_get(app->rooms, l.ids[i]);
        c.n = 0;
        if (!room)
            continue;
        rc = balai_store_room_events(app->store, l.ids[i], INT64_MAX, 0, 'b', BALAI_ROOM_CACHE,
                                     collect_ev, &c);
        for (size_t j = c.n; j > 0; j--) {
            balai_room_load_timeline(room, c.evs[j - 1]);
            balai_ev_unref(c.evs[j - 1]);
        }
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.ids[i]);
    free(l.ids);
    free(c.evs);
    if (rc == BALAI_OK)
        balai_rooms_set_max_pos(app->rooms, balai_store_pos_current(app->store, "events"));
    if (rc == BALAI_OK)
        rc = balai_store_aliases_each(app->store, load_alias, &c);
    if (rc == BALAI_OK)
        rc = balai_store_forgotten_each(app->store, load_forgotten, &c);
    if (rc == BALAI_OK)
        rc = balai_store_txns_each(app->store, balai_now_ms() - TXN_KEEP_MS, load_txn, &c);
    if (c.failed)
        LOG_ERROR("%d stored event(s) could not be unsealed", c.failed);
    return rc;
}

/* dlp.c: the before-persist DLP check of the send path, incidents, held
 * messages, suspension and the DLP settings in memory (api/dlp.h). */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/audit.h"
#include "api/common.h"
#include "api/dlp.h"
#include "api/events.h"
#include "core/room.h"
#include "crypto/crypto.h"
#include "crypto/keystore.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/map.h"
#include "util/time.h"

#define LOG_MODULE "dlp"
#include "util/log.h"

#define WORDLIST_PREFIX "wordlist:"
#define MAX_FIELDS 4
#define DESCRIBE_MAX 4 /* findings named in an error message */

static int load_held(const struct balai_dlp_held_rec *r, void *arg);

/* ---- settings ---- */

static int add_detector(struct balai_dlp_config *cfg, const char *name, json_t *d, char *err,
                        size_t errlen)
{
    const char *cat_s = json_string_value(json_object_get(d, "category"));
    enum balai_dlp_category cat = BALAI_DLP_CAT_OTHER;
    json_t *words = json_object_get(d, "keywords");
    const char *pattern = json_string_value(json_object_get(d, "pattern"));
    char e2[BALAI_DLP_ERR_LEN];
    int rc;

    if (cat_s && balai_dlp_category_parse(cat_s, strlen(cat_s), &cat) != BALAI_OK) {
        snprintf(err, errlen, "unknown category '%s'", cat_s);
        return BALAI_EINVAL;
    }
    e2[0] = '\0';
    if (pattern) {
        rc = balai_dlp_custom_add_regex(cfg, name, pattern, cat, e2, sizeof(e2));
    } else if (json_is_array(words)) {
        size_t n = json_array_size(words);
        const char **w = balai_calloc(n ? n : 1, sizeof(*w));
        for (size_t i = 0; i < n; i++) {
            w[i] = json_string_value(json_array_get(words, i));
            if (!w[i]) {
                free(w);
                snprintf(err, errlen, "keywords must be strings");
                return BALAI_EINVAL;
            }
        }
        rc = balai_dlp_custom_add_keywords(cfg, name, w, n, cat, e2, sizeof(e2));
        free(w);
    } else {
        snprintf(err, errlen, "a detector needs a 'pattern' string or a 'keywords' array");
        return BALAI_EINVAL;
    }
    if (rc != BALAI_OK)
        snprintf(err, errlen, "%s", e2[0] ? e2 : "invalid detector");
    return rc;
}

int balai_api_dlp_build(const char *rules, json_t *detectors, json_t *wordlists,
                        struct balai_dlp_config **cfg_out, struct balai_dlp_policy **policy_out,
                        char *err, size_t errlen)
{
    struct balai_dlp_config *cfg = balai_dlp_config_new();
    struct balai_dlp_policy *policy = balai_dlp_policy_new();
    const char *name;
    json_t *v;
    int rc = BALAI_OK;

    if (rules && *rules) {
        rc = balai_dlp_policy_set(policy, rules, err, errlen);
        if (rc != BALAI_OK)
            goto out;
    }
    json_object_foreach(detectors, name, v)
    {
        rc = add_detector(cfg, name, v, err, errlen);
        if (rc != BALAI_OK)
            goto out;
    }
    json_object_foreach(wordlists, name, v)
    {
        char full[BALAI_DLP_NAME_MAX + 16];
        json_t *d =
            json_pack("{s:O, s:s}", "keywords", json_object_get(v, "words"), "category", "other");
        snprintf(full, sizeof(full), WORDLIST_PREFIX "%s", name);
        rc = d ? add_detector(cfg, full, d, err, errlen) : BALAI_EINVAL;
        json_decref(d);
        if (rc != BALAI_OK)
            goto out;
    }
out:
    if (rc != BALAI_OK) {
        balai_dlp_config_free(cfg);
        balai_dlp_policy_free(policy);
        cfg = NULL;
        policy = NULL;
    }
    *cfg_out = cfg;
    *policy_out = policy;
    return rc;
}

static void rebuild(struct balai_app *app)
{
    struct balai_api_dlp *d = app->dlp;
    struct balai_dlp_config *cfg;
    struct balai_dlp_policy *policy;
    char err[BALAI_DLP_ERR_LEN + 64];

    if (balai_api_dlp_build(d->rules, d->detectors, d->wordlists, &cfg, &policy, err,
                            sizeof(err)) != BALAI_OK) {
        LOG_ERROR("the DLP settings do not build (%s); the previous ones stay in force", err);
        return;
    }
    balai_dlp_config_free(d->cfg);
    balai_dlp_policy_free(d->policy);
    d->cfg = cfg;
    d->policy = policy;
}

void balai_api_dlp_setting_committed(struct balai_app *app, const char *kind, const char *name,
                                     const char *value)
{
    struct balai_api_dlp *d = app->dlp;

    if (strcmp(kind, "policy") == 0) {
        free(d->rules);
        d->rules = balai_strdup(value ? value : "");
    } else {
        json_t *obj = strcmp(kind, "detector") == 0 ? d->detectors : d->wordlists;
        if (value) {
            json_t *j = json_loads(value, 0, NULL);
            if (j)
                json_object_set_new(obj, name, j);
        } else {
            json_object_del(obj, name);
        }
    }
    rebuild(app);
}

void balai_api_dlp_suspension_committed(struct balai_app *app, const char *user_id, int suspended,
                                        const char *actor)
{
    struct balai_api_dlp *d = app->dlp;
    if (suspended)
        free(balai_map_put_str(d->suspended, user_id, balai_strdup(actor ? actor : "")));
    else
        free(balai_map_del_str(d->suspended, user_id));
}

/* ---- life cycle ---- */

static int load_setting(const char *kind, const char *name, const char *value, int64_t ts,
                        void *arg)
{
    struct balai_api_dlp *d = arg;
    (void)ts;
    if (strcmp(kind, "policy") == 0) {
        free(d->rules);
        d->rules = balai_strdup(value);
        return 0;
    }
    json_t *obj = strcmp(kind, "detector") == 0   ? d->detectors
                  : strcmp(kind, "wordlist") == 0 ? d->wordlists
                                                  : NULL;
    json_t *j = json_loads(value, 0, NULL);
    if (!obj || !json_is_object(j)) {
        LOG_WARN("skipping an unreadable DLP setting %s/%s", kind, name);
        json_decref(j);
        return 0;
    }
    json_object_set_new(obj, name, j);
    return 0;
}

static int load_suspension(const char *user_id, int64_t ts, const char *actor, void *arg)
{
    struct balai_api_dlp *d = arg;
    (void)ts;
    free(balai_map_put_str(d->suspended, user_id, balai_strdup(actor)));
    return 0;
}

int balai_api_dlp_load(struct balai_app *app)
{
    struct balai_api_dlp *d = balai_calloc(1, sizeof(*d));
    int rc;

    app->dlp = d;
    d->rules = balai_strdup("");
    d->detectors = json_object();
    d->wordlists = json_object();
    d->suspended = balai_map_new();
    d->held_answers = balai_map_new();
    rc = balai_store_dlp_settings_each(app->store, load_setting, d);
    if (rc == BALAI_OK)
        rc = balai_store_suspensions_each(app->store, load_suspension, d);
    if (rc == BALAI_OK)
        rc = balai_store_dlp_held_each(app->store, NULL, load_held, app);
    if (rc != BALAI_OK)
        return rc;
    rebuild(app);
    if (!d->cfg) {
        /* stored settings the engine refuses: run with the defaults */
        d->cfg = balai_dlp_config_new();
        d->policy = balai_dlp_policy_new();
    }
    return BALAI_OK;
}

void balai_api_dlp_free(struct balai_app *app)
{
    struct balai_api_dlp *d = app ? app->dlp : NULL;
    size_t it = 0, kl;
    const void *k;
    void *v;

    if (!d)
        return;
    while (balai_map_next(d->suspended, &it, &k, &kl, &v))
        free(v);
    balai_map_free(d->suspended);
    it = 0;
    while (balai_map_next(d->held_answers, &it, &k, &kl, &v))
        free(v);
    balai_map_free(d->held_answers);
    balai_dlp_config_free(d->cfg);
    balai_dlp_policy_free(d->policy);
    free(d->rules);
    json_decref(d->detectors);
    json_decref(d->wordlists);
    free(d);
    app->dlp = NULL;
}

/* ---- suspension ---- */

int balai_api_suspended(struct balai_app *app, const char *user_id)
{
    return app->dlp && balai_map_get_str(app->dlp->suspended, user_id) != NULL;
}

int balai_api_refuse_suspended(struct balai_http_req *req, const char *user_id)
{
    struct balai_app *app = balai_api_app(req);
    if (!balai_api_suspended(app, user_id))
        return 0;
    json_t *o = json_pack(
        "{s:s, s:s, s:s}", "errcode", "M_USER_SUSPENDED", "error",
        "Your account is suspended: you can log in and read, but you cannot send messages, "
        "change rooms or your profile, or react until an administrator lifts the suspension.",
        "id.balai.error_id",
        "Akun Anda ditangguhkan: Anda tetap bisa masuk dan membaca, tetapi tidak bisa "
        "mengirim pesan, mengubah ruang atau profil sampai administrator mencabut penangguhan.");
    balai_api_json(req, 403, o);
    return 1;
}

/* ---- labels ---- */

const char *balai_api_dlp_room_label(struct balai_app *app, struct balai_room *room)
{
    if (balai_room_is_direct(room))
        return NULL;
    struct balai_ev *ev = balai_room_state_ev(room, BALAI_DLP_CLASSIFICATION_TYPE, "");
    const char *label =
        ev ? json_string_value(json_object_get(json_object_get(ev->pdu, "content"), "label"))
           : NULL;
    if (label && *label)
        return label;
    return app->cfg && app->cfg->rooms_default_label ? app->cfg->rooms_default_label
                                                     : BALAI_DLP_DEFAULT_LABEL;
}

/* ---- the check ---- */

struct field {
    json_t *obj;      /* the object holding it (content or m.new_content) */
    const char *key;  /* its key */
    const char *name; /* reported name: "body", "m.new_content.body", ... */
    struct balai_dlp_result r;
    enum balai_dlp_action act[BALAI_DLP_MAX_FINDINGS];
};

static enum balai_dlp_action finding_action(struct balai_api_dlp *d, const char *label,
                                            const struct balai_dlp_finding *f)
{
    if (f->type == BALAI_DLP_CUSTOM && f->name &&
        strncmp(f->name, WORDLIST_PREFIX, strlen(WORDLIST_PREFIX)) == 0) {
        json_t *wl = json_object_get(d->wordlists, f->name + strlen(WORDLIST_PREFIX));
        const char *a = json_string_value(json_object_get(wl, "action"));
        return a && strcmp(a, "mask") == 0 ? BALAI_DLP_MASK : BALAI_DLP_BLOCK;
    }
    return balai_dlp_policy_finding(d->policy, label, f);
}

/* Removes a leading marker from a string member; returns 1 if it was there
 * (also after "* ", the fallback prefix of an edit's body). */
static int strip_marker(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    const char *s = json_string_value(v);
    size_t ml = strlen(BALAI_DLP_CONFIRM_MARKER);

    if (!s)
        return 0;
    size_t len = json_string_length(v);
    if (len >= ml && memcmp(s, BALAI_DLP_CONFIRM_MARKER, ml) == 0) {
        json_object_set_new(obj, key, json_stringn(s + ml, len - ml));
        return 1;
    }
    if (len >= ml + 2 && memcmp(s, "* ", 2) == 0 &&
        memcmp(s + 2, BALAI_DLP_CONFIRM_MARKER, ml) == 0) {
        char *t = balai_malloc(len - ml);
        memcpy(t, "* ", 2);
        memcpy(t + 2, s + 2 + ml, len - ml - 2);
        json_object_set_new(obj, key, json_stringn(t, len - ml));
        free(t);
        return 1;
    }
    return 0;
}

static void add_field(struct field *f, size_t *n, json_t *obj, const char *key, const char *name)
{
    if (*n < MAX_FIELDS && json_is_string(json_object_get(obj, key))) {
        f[*n].obj = obj;
        f[*n].key = key;
        f[*n].name = name;
        (*n)++;
    }
}

/* Letters and digits of a finding's span (ASCII lower case, full-width
 * digits as ASCII, '@' and '.' kept for e-mail), for the keyed hash. */
static size_t normalise_value(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '@' || c == '.')
            out[n++] = (char)c;
        else if (c >= 'A' && c <= 'Z')
            out[n++] = (char)(c - 'A' + 'a');
        else if (c == 0xEF && i + 2 < len && (unsigned char)s[i + 1] == 0xBC &&
                 (unsigned char)s[i + 2] >= 0x90 && (unsigned char)s[i + 2] <= 0x99) {
            out[n++] = (char)('0' + ((unsigned char)s[i + 2] - 0x90));
            i += 2;
        }
    }
    return n;
}

/* The findings of every field as one JSON array: the engine's objects plus
 * "field" and "action", and "hash" for incidents. */
static json_t *findings_json(struct balai_app *app, struct field *fs, size_t nf, int with_hash)
{
    json_t *all = json_array();
    for (size_t i = 0; i < nf; i++) {
        struct field *f = &fs[i];
        if (!f->r.n)
            continue;
        const char *text = json_string_value(json_object_get(f->obj, f->key));
        size_t tlen = json_string_length(json_object_get(f->obj, f->key));
        json_t *arr = balai_dlp_findings_json(&f->r);
        size_t j;
        json_t *o;
        json_array_foreach(arr, j, o)
        {
            json_object_set_new(o, "field", json_string(f->name));
            json_object_set_new(o, "action", json_string(balai_dlp_action_name(f->act[j])));
            if (with_hash && text && f->r.findings[j].off + f->r.findings[j].len <= tlen) {
                char norm[512], hex[33];
                uint8_t mac[32];
                size_t nl = normalise_value(text + f->r.findings[j].off, f->r.findings[j].len, norm,
                                            sizeof(norm));
                balai_hmac_sha256(app->dlp_key, sizeof(app->dlp_key), norm, nl, mac);
                balai_hex_encode(mac, 16, hex);
                hex[32] = '\0';
                json_object_set_new(o, "hash", json_string(hex));
                balai_wipe(norm, sizeof(norm));
            }
            json_array_append(all, o);
        }
        json_decref(arr);
    }
    return all;
}

static char *types_text(struct field *fs, size_t nf)
{
    struct balai_buf b;
    balai_buf_init(&b, 0);
    balai_buf_append_char(&b, ',');
    for (size_t i = 0; i < nf; i++) {
        for (size_t j = 0; j < fs[i].r.n; j++) {
            const struct balai_dlp_finding *f = &fs[i].r.findings[j];
            char item[96];
            snprintf(item, sizeof(item), "%s,", balai_dlp_type_name(f->type));
            balai_buf_append_str(&b, item);
            if (f->type == BALAI_DLP_CUSTOM && f->name) {
                snprintf(item, sizeof(item), "%s,", f->name);
                for (char *p = item; *p; p++)
                    if (*p >= 'A' && *p <= 'Z')
                        *p = (char)(*p - 'A' + 'a');
                balai_buf_append_str(&b, item);
            }
        }
    }
    char *s = balai_strndup(b.data ? b.data : ",", b.len);
    balai_buf_release(&b);
    return s;
}

/* ---- incidents and held messages: writes ---- */

struct dlp_op {
    struct balai_store_op op; /* first */
    struct balai_app *app;
    struct balai_http_req *req; /* hold: answered in done */
    struct balai_dlp_incident_rec inc;
    char *room_id, *user_id, *label, *action, *outcome, *types, *findings;
    /* hold */
    char *held_id, *type, *held_findings, *event_id;
    char *txn_device, *txn_id; /* the client's transaction, or NULL */
    char *plain;
    size_t plain_len;
    json_t *answer; /* the 403 body for a held message */
};

static void dlp_op_free(struct dlp_op *x)
{
    free(x->room_id);
    free(x->user_id);
    free(x->label);
    free(x->action);
    free(x->outcome);
    free(x->types);
    free(x->findings);
    free(x->held_id);
    free(x->type);
    free(x->held_findings);
    free(x->event_id);
    free(x->txn_device);
    free(x->txn_id);
    if (x->plain)
        balai_wipe(x->plain, x->plain_len);
    free(x->plain);
    json_decref(x->answer);
    free(x);
}

static int dlp_op_apply(struct balai_store_txn *t, struct balai_store_op *op)
{
    struct dlp_op *x = (struct dlp_op *)op;
    int rc;

    if (x->held_id) {
        char key_name[300];
        uint8_t key[32];
        balai_api_room_key_name(x->room_id, key_name, sizeof(key_name));
        rc = balai_keystore_get(x->app->keystore, key_name, key);
        if (rc != BALAI_OK)
            return rc == BALAI_ENOTFOUND ? BALAI_ECRYPTO : rc;
        size_t blen = x->plain_len + BALAI_SEAL_OVERHEAD;
        uint8_t *blob = balai_malloc(blen);
        balai_seal(key, x->held_id, strlen(x->held_id), x->plain, x->plain_len, blob);
        balai_wipe(key, sizeof(key));
        struct balai_dlp_held_rec h = {x->held_id, x->inc.ts, x->room_id,       x->user_id,
                                       x->type,    x->label,  x->held_findings, key_name,
                                       blob,       blen};
        rc = balai_store_txn_dlp_held_add(t, &h);
        free(blob);
        if (rc == BALAI_OK && x->txn_id) /* the same transaction again: the same answer */
            rc = balai_store_txn_txn_insert(t, x->user_id, x->txn_device, x->txn_id, x->held_id,
                                            x->inc.ts);
        if (rc != BALAI_OK)
            return rc;
    }
    return balai_store_txn_dlp_incident_add(t, &x->inc);
}

/* The key of app->txns (api/app.h). Caller frees. */
static char *txn_key(const char *user, const char *device, const char *txn)
{
    return balai_asprintf("%s\n%s\n%s", user, device, txn);
}

static void held_answer_put(struct balai_app *app, const char *held_id, json_t *answer)
{
    char *text = balai_json_dump(answer, 1, NULL);
    if (text)
        free(balai_map_put_str(app->dlp->held_answers, held_id, text));
}

static void dlp_op_done(struct balai_store_op *op)
{
    struct dlp_op *x = (struct dlp_op *)op;

    if (op->rc != BALAI_OK)
        LOG_ERROR("could not record a DLP %s of %s: %s", x->held_id ? "held message" : "incident",
                  x->user_id, balai_strerror(op->rc));
    if (x->txn_id) {
        char *tk = txn_key(x->user_id, x->txn_device, x->txn_id);
        if (op->rc == BALAI_OK)
            free(balai_map_put_str(x->app->txns, tk, balai_strdup(x->held_id)));
        else
            free(balai_map_del_str(x->app->txns, tk));
        free(tk);
    }
    if (x->req) {
        if (op->rc == BALAI_OK) {
            held_answer_put(x->app, x->held_id, x->answer);
            balai_api_json(x->req, 403, x->answer);
            x->answer = NULL;
        } else {
            balai_api_error(x->req, 500, "M_UNKNOWN",
                            "Your message needs a moderator's review but could not be kept for "
                            "it; it was not sent. Try again later.");
        }
    }
    dlp_op_free(x);
}

static struct dlp_op *incident_new(struct balai_app *app, const struct balai_api_dlp_event *e,
                                   enum balai_dlp_action action, const char *outcome,
                                   struct field *fs, size_t nf)
{
    struct dlp_op *x = balai_calloc(1, sizeof(*x));
    json_t *f = findings_json(app, fs, nf, 1);

    x->app = app;
    x->room_id = balai_strdup(e->room_id);
    x->user_id = balai_strdup(e->sender);
    x->label = balai_strdup(e->label ? e->label : "direct");
    x->action = balai_strdup(balai_dlp_action_name(action));
    x->outcome = balai_strdup(outcome);
    x->types = types_text(fs, nf);
    x->findings = balai_json_dump(f, 1, NULL);
    json_decref(f);
    x->inc.ts = balai_now_ms();
    x->inc.room_id = x->room_id;
    x->inc.user_id = x->user_id;
    x->inc.label = x->label;
    x->inc.action = x->action;
    x->inc.outcome = x->outcome;
    x->inc.types = x->types;
    x->inc.findings = x->findings ? x->findings : "[]";
    x->op.apply = dlp_op_apply;
    x->op.done = dlp_op_done;
    return x;
}

/* ---- answers ---- */

static void describe_one(struct balai_buf *b, json_t *o, int id)
{
    const char *type = json_string_value(json_object_get(o, "type"));
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *masked = json_string_value(json_object_get(o, "masked"));
    static const struct {
        const char *type, *en, *id;
    } names[] = {
        {"nik", "a NIK (identity number)", "NIK (nomor induk kependudukan)"},
        {"kk", "a family card (KK) number", "nomor Kartu Keluarga"},
        {"npwp", "an NPWP (tax number)", "NPWP"},
        {"bpjs", "a BPJS health card number", "nomor kartu BPJS"},
        {"passport", "a passport number", "nomor paspor"},
        {"phone", "a phone number", "nomor telepon"},
        {"email", "an e-mail address", "alamat e-mail"},
        {"card", "a payment card number", "nomor kartu pembayaran"},
        {"iban", "a bank account number (IBAN)", "nomor rekening (IBAN)"},
    };
    type = type ? type : "";
    for (size_t i = 0; i < BALAI_ARRAY_LEN(names); i++) {
        if (strcmp(type, names[i].type) == 0) {
            balai_buf_append_str(b, id ? names[i].id : names[i].en);
            if (masked)
                balai_buf_printf(b, " (%s)", masked);
            return;
        }
    }
    if (strcmp(type, "context") == 0)
        balai_buf_printf(b, id ? "kata \"%s\"" : "the words \"%s\"", name ? name : "?");
    else if (strcmp(type, "bulk") == 0)
        balai_buf_printf(
            b, id ? "banyak nomor identitas sekaligus (%s)" : "many identifiers at once (%s)",
            masked ? masked : "?");
    else if (name && strncmp(name, WORDLIST_PREFIX, strlen(WORDLIST_PREFIX)) == 0)
        balai_buf_printf(
            b, id ? "kata terlarang \"%s\"" : "a word your organisation does not allow (\"%s\")",
            masked ? masked : "?");
    else
        balai_buf_printf(b,
                         id ? "teks yang cocok dengan aturan \"%s\""
                            : "text matching your organisation's rule \"%s\"",
                         name ? name : "?");
}

static char *describe(json_t *findings, int id)
{
    struct balai_buf b;
    size_t i, n = json_array_size(findings);
    json_t *o;

    balai_buf_init(&b, 0);
    json_array_foreach(findings, i, o)
    {
        if (i == DESCRIBE_MAX) {
            balai_buf_printf(&b, id ? " dan %zu lainnya" : " and %zu more", n - i);
            break;
        }
        if (i)
            balai_buf_append_str(&b, i + 1 == n ? (id ? " dan " : " and ") : ", ");
        describe_one(&b, o, id);
    }
    char *s = balai_strndup(b.data ? b.data : "", b.len);
    balai_buf_release(&b);
    return s;
}

static json_t *error_body(enum balai_dlp_action action, const char *label, json_t *findings)
{
    char *en = describe(findings, 0), *id = describe(findings, 1);
    const char *errcode;
    char *msg, *msg_id;
    const char *lab = label ? label : "direct message";

    if (action == BALAI_DLP_WARN) {
        errcode = "ID.BALAI.DLP_WARN";
        msg = balai_asprintf(
            "Your message seems to contain %s. This room (%s) asks you to confirm before sending "
            "such data. To send it anyway, start the message with \"%s\" (or resend it with "
            "\"" BALAI_DLP_CONFIRM_FIELD "\": true in the content).",
            en, lab, "!confirm");
        msg_id = balai_asprintf("Pesan Anda tampaknya berisi %s. Untuk tetap mengirim, awali "
                                "pesan dengan \"!confirm\".",
                                id);
    } else if (action == BALAI_DLP_HOLD) {
        errcode = "ID.BALAI.DLP_HELD";
        msg = balai_asprintf("Your message contains %s and was held for review: it will appear "
                             "in the room if a moderator releases it.",
                             en);
        msg_id = balai_asprintf("Pesan Anda berisi %s dan ditahan untuk ditinjau: pesan akan "
                                "muncul di ruang jika moderator meloloskannya.",
                                id);
    } else {
        errcode = "ID.BALAI.DLP_BLOCKED";
        msg = balai_asprintf("Your message was not sent: it contains %s, which may not be shared "
                             "in this room (%s). Remove it and send the message again.",
                             en, lab);
        msg_id = balai_asprintf("Pesan Anda tidak terkirim karena berisi %s, yang tidak boleh "
                                "dibagikan di ruang ini. Hapus data itu lalu kirim ulang.",
                                id);
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:O}", "errcode", errcode, "error", msg,
                          "id.balai.error_id", msg_id, "id.balai.findings", findings);
    free(en);
    free(id);
    free(msg);
    free(msg_id);
    return o;
}

void balai_api_dlp_answer_masked(struct balai_http_req *req, const char *event_id, json_t *findings)
{
    balai_api_json(req, 200,
                   json_pack("{s:s, s:b, s:o}", "event_id", event_id, "id.balai.masked", 1,
                             "id.balai.findings", findings));
}

/* Masks a field's findings whose action is MASK (digits but the last four;
 * word-list words letter by letter). Returns 1 if the text changed. */
static int mask_field(struct field *f)
{
    json_t *v = json_object_get(f->obj, f->key);
    size_t len = json_string_length(v);
    char *text = balai_malloc(len + 1), *out = NULL;
    size_t outlen = 0;
    struct balai_dlp_result sub = f->r;
    int changed = 0;

    memcpy(text, json_string_value(v), len + 1);
    sub.n = 0;
    for (size_t i = 0; i < f->r.n; i++) {
        const struct balai_dlp_finding *fd = &f->r.findings[i];
        if (f->act[i] != BALAI_DLP_MASK)
            continue;
        sub.findings[sub.n++] = *fd;
        if (fd->type == BALAI_DLP_CUSTOM && fd->name &&
            strncmp(fd->name, WORDLIST_PREFIX, strlen(WORDLIST_PREFIX)) == 0 &&
            fd->off + fd->len <= len) {
            for (size_t k = fd->off; k < fd->off + fd->len; k++) {
                unsigned char c = (unsigned char)text[k];
                if (c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
                    text[k] = '*';
            }
            changed = 1;
        }
    }
    if (sub.n && balai_dlp_mask(text, len, &sub, &out, &outlen) == BALAI_OK) {
        if (outlen != len || memcmp(out, json_string_value(v), len) != 0)
            changed = 1;
        if (changed)
            json_object_set_new(f->obj, f->key, json_stringn(out, outlen));
    }
    free(out);
    free(text);
    return changed;
}

static void hold(struct balai_http_req *req, struct balai_app *app,
                 const struct balai_api_dlp_event *e, const char *txn_device, const char *txn_id,
                 json_t *content, struct field *fs, size_t nf, json_t *findings)
{
    struct dlp_op *x = incident_new(app, e, BALAI_DLP_HOLD, "held", fs, nf);
    char *rnd = balai_random_alnum(20);
    json_t *ev = json_pack("{s:s, s:O}", "type", e->type, "content", content);

    x->held_id = balai_asprintf("h_%s", rnd);
    free(rnd);
    x->type = balai_strdup(e->type);
    if (e->state_key)
        json_object_set_new(ev, "state_key", json_string(e->state_key));
    x->plain = balai_json_dump(ev, 1, &x->plain_len);
    json_decref(ev);
    /* the queue shows masked findings only (the incident has their hashes too) */
    x->held_findings = balai_json_dump(findings, 1, NULL);
    x->answer = error_body(BALAI_DLP_HOLD, e->label, findings);
    json_object_set_new(x->answer, "id.balai.held_id", json_string(x->held_id));
    x->req = req;
    if (!x->plain || !x->held_findings) {
        balai_api_error(req, 400, "M_BAD_JSON", "The message cannot be encoded");
        dlp_op_free(x);
        return;
    }
    if (txn_device && txn_id) {
        /* "" marks the transaction in flight: a duplicate now is asked to retry */
        char *tk = txn_key(e->sender, txn_device, txn_id);
        free(balai_map_put_str(app->txns, tk, balai_strdup("")));
        free(tk);
        x->txn_device = balai_strdup(txn_device);
        x->txn_id = balai_strdup(txn_id);
    }
    balai_store_submit(app->store, &x->op);
}

int balai_api_dlp_check(struct balai_http_req *req, const struct balai_api_dlp_event *e,
                        json_t *content, json_t **masked_findings,
                        struct balai_api_dlp_pending **pending)
{
    return balai_api_dlp_check_txn(req, e, NULL, NULL, content, masked_findings, pending);
}

int balai_api_dlp_check_txn(struct balai_http_req *req, const struct balai_api_dlp_event *e,
                            const char *txn_device, const char *txn_id, json_t *content,
                            json_t **masked_findings, struct balai_api_dlp_pending **pending)
{
    struct balai_app *app = balai_api_app(req);
    struct balai_api_dlp *d = app->dlp;
    struct field fs[MAX_FIELDS];
    size_t nf = 0;
    int confirmed = 0;
    enum balai_dlp_action action = BALAI_DLP_ALLOW;

    *masked_findings = NULL;
    if (pending)
        *pending = NULL;
    if (!d || !json_is_object(content))
        return 0;
    if (e->state_key) {
        const char *key = NULL;
        if (e->state_key[0])
            return 0;
        if (strcmp(e->type, "m.room.name") == 0)
            key = "name";
        else if (strcmp(e->type, "m.room.topic") == 0)
            key = "topic";
        if (!key)
            return 0;
        json_t *confirm = json_object_get(content, BALAI_DLP_CONFIRM_FIELD);
        if (confirm) {
            confirmed = json_is_true(confirm);
            json_object_del(content, BALAI_DLP_CONFIRM_FIELD);
        }
        if (strip_marker(content, key))
            confirmed = 1;
        add_field(fs, &nf, content, key, key);
        if (!nf)
            return 0;
    } else {
        json_t *confirm = json_object_get(content, BALAI_DLP_CONFIRM_FIELD);
        if (confirm) {
            confirmed = json_is_true(confirm);
            json_object_del(content, BALAI_DLP_CONFIRM_FIELD);
        }
        json_t *nc = json_object_get(content, "m.new_content");
        if (strip_marker(content, "body"))
            confirmed = 1;
        strip_marker(content, "formatted_body");
        if (json_is_object(nc)) {
            if (strip_marker(nc, "body"))
                confirmed = 1;
            strip_marker(nc, "formatted_body");
        }
        add_field(fs, &nf, content, "body", "body");
        add_field(fs, &nf, content, "formatted_body", "formatted_body");
        if (json_is_object(nc)) {
            add_field(fs, &nf, nc, "body", "m.new_content.body");
            add_field(fs, &nf, nc, "formatted_body", "m.new_content.formatted_body");
        }
        if (!nf)
            return 0;
    }

    for (size_t i = 0; i < nf; i++) {
        struct field *f = &fs[i];
        json_t *v = json_object_get(f->obj, f->key);
        if (balai_dlp_scan(d->cfg, json_string_value(v), json_string_length(v), &f->r) !=
            BALAI_OK) {
            f->r.n = 0;
            continue;
        }
        if (!f->r.n && !f->r.truncated)
            continue;
        for (size_t j = 0; j < f->r.n; j++) {
            f->act[j] = finding_action(d, e->label, &f->r.findings[j]);
            if (f->act[j] > action)
                action = f->act[j];
        }
        if (f->r.truncated) {
            enum balai_dlp_action a = balai_dlp_policy_decide(d->policy, e->label, &f->r);
            if (a > action)
                action = a;
        }
    }
    if (action == BALAI_DLP_ALLOW)
        return 0; /* the common case: nothing found, or nothing that matters here */

    json_t *findings = findings_json(app, fs, nf, 0);
    const char *outcome = "stored";
    int answered = 0;

    if (action == BALAI_DLP_HOLD && !e->can_hold)
        action = BALAI_DLP_BLOCK;
    if (action == BALAI_DLP_WARN && confirmed) {
        outcome = "confirmed";
        balai_api_audit_log(
            app, e->sender, "dlp.warn.confirm", e->room_id,
            json_pack("{s:s, s:O}", "label", e->label ? e->label : "direct", "findings", findings));
    }
    /* the incident's hashes are of the values as sent: build it before masking */
    struct dlp_op *x =
        action == BALAI_DLP_HOLD ? NULL : incident_new(app, e, action, outcome, fs, nf);
    if (action == BALAI_DLP_MASK || (action == BALAI_DLP_WARN && confirmed)) {
        int masked = 0;
        for (size_t i = 0; i < nf; i++)
            masked |= fs[i].r.n ? mask_field(&fs[i]) : 0;
        if (masked) {
            if (action == BALAI_DLP_MASK)
                outcome = "masked";
            *masked_findings = json_incref(findings);
        }
    } else if (action == BALAI_DLP_WARN) {
        outcome = "warned";
        balai_api_json(req, 403, error_body(action, e->label, findings));
        answered = 1;
    } else if (action == BALAI_DLP_BLOCK) {
        outcome = "refused";
        balai_api_json(req, 403, error_body(action, e->label, findings));
        answered = 1;
    } else if (action == BALAI_DLP_HOLD) {
        hold(req, app, e, txn_device, txn_id, content, fs, nf, findings);
        json_decref(findings);
        return 1; /* the incident rides with the held message */
    }
    free(x->outcome);
    x->outcome = balai_strdup(outcome);
    x->inc.outcome = x->outcome;
    if (pending && !answered)
        *pending = (struct balai_api_dlp_pending *)x;
    else
        balai_store_submit(app->store, &x->op);
    json_decref(findings);
    return answered;
}

void balai_api_dlp_pending_done(struct balai_app *app, struct balai_api_dlp_pending *p,
                                const char *event_id)
{
    struct dlp_op *x = (struct dlp_op *)p;
    if (!x)
        return;
    if (!event_id) {
        dlp_op_free(x);
        return;
    }
    x->event_id = balai_strdup(event_id);
    x->inc.event_id = x->event_id;
    balai_store_submit(app->store, &x->op);
}

/* ---- a held message's transaction sent again ---- */

/* At start: the answer of every message still held (held id -> 403 body). */
static int load_held(const struct balai_dlp_held_rec *r, void *arg)
{
    struct balai_app *app = arg;
    json_t *findings = r->findings ? json_loads(r->findings, 0, NULL) : NULL;
    /* incidents and held rows record a direct message's missing label as "direct" */
    const char *label = r->label && strcmp(r->label, "direct") != 0 ? r->label : NULL;

    if (!json_is_array(findings)) {
        json_decref(findings);
        findings = json_array();
    }
    json_t *answer = error_body(BALAI_DLP_HOLD, label, findings);
    if (answer) {
        json_object_set_new(answer, "id.balai.held_id", json_string(r->held_id));
        held_answer_put(app, r->held_id, answer);
    }
    json_decref(answer);
    json_decref(findings);
    return 0;
}

int balai_api_dlp_held_answered(struct balai_http_req *req, const char *user_id,
                                const char *device_id, const char *txn_id)
{
    struct balai_app *app = balai_api_app(req);

    if (!app->dlp || strlen(txn_id) > 255)
        return 0; /* balai_api_txn_answered answers a too long id */
    char *tk = txn_key(user_id, device_id, txn_id);
    const char *held_id = balai_map_get_str(app->txns, tk);
    free(tk);
    if (!held_id || strncmp(held_id, "h_", 2) != 0)
        return 0; /* not held: an event id, "" (in flight) or nothing */
    const char *text = balai_map_get_str(app->dlp->held_answers, held_id);
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    if (!o) /* released or deleted since the last start */
        o = json_pack("{s:s, s:s, s:s, s:s}", "errcode", "ID.BALAI.DLP_HELD", "error",
                      "This message was held for review by a moderator; sending it again does "
                      "not send it.",
                      "id.balai.error_id",
                      "Pesan ini ditahan untuk ditinjau moderator; mengirimnya lagi tidak "
                      "mengirimkannya.",
                      "id.balai.held_id", held_id);
    balai_api_json(req, 403, o);
    return 1;
}

/* push.c: push rules: defaults, editing, compilation and evaluation (see push.h). */
#include "balai.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/push.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/map.h"

static const char *const kind_names[BALAI_PUSH_NKINDS] = {"override", "content", "room", "sender",
                                                          "underride"};

const char *balai_push_kind_name(enum balai_push_kind k)
{
    return (unsigned)k < BALAI_PUSH_NKINDS ? kind_names[k] : "?";
}

int balai_push_kind_parse(const char *name)
{
    for (int i = 0; i < BALAI_PUSH_NKINDS; i++) {
        if (name && strcmp(name, kind_names[i]) == 0)
            return i;
    }
    return -1;
}

/* ---- the server-default rules (spec v1.12 "Predefined Rules", in order) ---- */

#define SOUND_DEFAULT "{\"set_tweak\":\"sound\",\"value\":\"default\"}"
#define HIGHLIGHT "{\"set_tweak\":\"highlight\"}"
#define MATCH(k, p) "{\"kind\":\"event_match\",\"key\":\"" k "\",\"pattern\":\"" p "\"}"
#define RULE(id, enabled, conds, acts)                                                             \
    "{\"rule_id\":\"" id "\",\"default\":true,\"enabled\":" enabled ",\"conditions\":[" conds     \
    "],\"actions\":[" acts "]}"

/* "@USER" and "LOCALPART" are replaced with the user's values. */
static const char defaults_template[] =
    "{\"global\":{\"override\":["
    RULE(".m.rule.master", "false", "", "") ","
    RULE(".m.rule.suppress_notices", "true", MATCH("content.msgtype", "m.notice"), "") ","
    RULE(".m.rule.invite_for_me", "true",
         MATCH("type", "m.room.member") "," MATCH("content.membership", "invite") ","
         MATCH("state_key", "@USER"), "\"notify\"," SOUND_DEFAULT) ","
    RULE(".m.rule.member_event", "true", MATCH("type", "m.room.member"), "") ","
    RULE(".m.rule.is_user_mention", "true",
         "{\"kind\":\"event_property_contains\",\"key\":\"content.m\\\\.mentions.user_ids\","
         "\"value\":\"@USER\"}", "\"notify\"," SOUND_DEFAULT "," HIGHLIGHT) ","
    RULE(".m.rule.contains_display_name", "true", "{\"kind\":\"contains_display_name\"}",
         "\"notify\"," SOUND_DEFAULT "," HIGHLIGHT) ","
    RULE(".m.rule.is_room_mention", "true",
         "{\"kind\":\"event_property_is\",\"key\":\"content.m\\\\.mentions.room\",\"value\":true},"
         "{\"kind\":\"sender_notification_permission\",\"key\":\"room\"}",
         "\"notify\"," HIGHLIGHT) ","
    RULE(".m.rule.roomnotif", "true",
         MATCH("content.body", "@room") ","
         "{\"kind\":\"sender_notification_permission\",\"key\":\"room\"}",
         "\"notify\"," HIGHLIGHT) ","
    RULE(".m.rule.tombstone", "true", MATCH("type", "m.room.tombstone") "," MATCH("state_key", ""),
         "\"notify\"," HIGHLIGHT) ","
    RULE(".m.rule.reaction", "true", MATCH("type", "m.reaction"), "") ","
    RULE(".m.rule.room.server_acl", "true",
         MATCH("type", "m.room.server_acl") "," MATCH("state_key", ""), "") ","
    RULE(".m.rule.suppress_edits", "true",
         "{\"kind\":\"event_property_is\",\"key\":\"content.m\\\\.relates_to.rel_type\","
         "\"value\":\"m.replace\"}", "")
    "],\"content\":["
    "{\"rule_id\":\".m.rule.contains_user_name\",\"default\":true,\"enabled\":true,"
    "\"pattern\":\"LOCALPART\",\"actions\":[\"notify\"," SOUND_DEFAULT "," HIGHLIGHT "]}"
    "],\"room\":[],\"sender\":[],\"underride\":["
    RULE(".m.rule.call", "true", MATCH("type", "m.call.invite"),
         "\"notify\",{\"set_tweak\":\"sound\",\"value\":\"ring\"}") ","
    RULE(".m.rule.encrypted_room_one_to_one", "true",
         "{\"kind\":\"room_member_count\",\"is\":\"2\"}," MATCH("type", "m.room.encrypted"),
         "\"notify\"," SOUND_DEFAULT) ","
    RULE(".m.rule.room_one_to_one", "true",
         "{\"kind\":\"room_member_count\",\"is\":\"2\"}," MATCH("type", "m.room.message"),
         "\"notify\"," SOUND_DEFAULT) ","
    RULE(".m.rule.message", "true", MATCH("type", "m.room.message"), "\"notify\"") ","
    RULE(".m.rule.encrypted", "true", MATCH("type", "m.room.encrypted"), "\"notify\"")
    "]}}";

/* Replaces the placeholder strings anywhere in v. */
static void fill_user(json_t *v, const char *user_id, const char *localpart)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (json_is_string(x) && strcmp(json_string_value(x), "@USER") == 0)
                json_string_set(x, user_id);
            else if (json_is_string(x) && strcmp(json_string_value(x), "LOCALPART") == 0)
                json_string_set(x, localpart);
            else
                fill_user(x, user_id, localpart);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) fill_user(x, user_id, localpart);
    }
}

/* The template parsed once (json_loads is slow; a deep copy is not). Kept
 * for the process's life; set with a compare-and-swap so that threads
 * racing on first use stay correct. */
static json_t *template_parsed;

/* The localpart of a user id into lp. */
static void localpart_of(const char *user_id, char *lp, size_t lplen)
{
    const char *colon = strchr(user_id, ':');
    size_t n = user_id[0] == '@' ? (colon ? (size_t)(colon - user_id - 1) : strlen(user_id) - 1)
                                 : strlen(user_id);
    if (n >= lplen)
        n = lplen - 1;
    memcpy(lp, user_id[0] == '@' ? user_id + 1 : user_id, n);
    lp[n] = '\0';
}

static json_t *template_get(void)
{
    json_t *t = __atomic_load_n(&template_parsed, __ATOMIC_ACQUIRE);
    if (!t) {
        json_error_t err;
        json_t *fresh = json_loads(defaults_template, 0, &err);
        assert(fresh);
        if (__atomic_compare_exchange_n(&template_parsed, &t, fresh, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            t = fresh;
        else
            json_decref(fresh);
    }
    return t;
}

json_t *balai_push_defaults(const char *user_id)
{
    json_t *r = json_deep_copy(template_get());
    assert(r);
    char lp[256];
    localpart_of(user_id, lp, sizeof(lp));
    fill_user(r, user_id, lp);
    return r;
}

/* ---- the rule set as JSON ---- */

static json_t *kind_array(const json_t *ruleset, enum balai_push_kind kind)
{
    json_t *a = json_object_get(json_object_get(ruleset, "global"), kind_names[kind]);
    return json_is_array(a) ? a : NULL;
}

static const char *rule_id_of(const json_t *rule)
{
    return json_string_value(json_object_get(rule, "rule_id"));
}

json_t *balai_push_find(const json_t *ruleset, enum balai_push_kind kind, const char *rule_id)
{
    json_t *a = kind_array(ruleset, kind), *r;
    size_t i;
    json_array_foreach(a, i, r)
    {
        const char *id = rule_id_of(r);
        if (id && strcmp(id, rule_id) == 0)
            return r;
    }
    return NULL;
}

/* A stored user rule worth keeping: an object with a rule id not starting
 * with '.', boolean enabled, array actions, and what its kind needs. */
static int stored_rule_ok(enum balai_push_kind kind, const json_t *r)
{
    const char *id = rule_id_of(r);
    if (!json_is_object(r) || !id || !id[0] || id[0] == '.' ||
        !json_is_array(json_object_get(r, "actions")))
        return 0;
    if (kind == BALAI_PUSH_CONTENT && !json_is_string(json_object_get(r, "pattern")))
        return 0;
    json_t *c = json_object_get(r, "conditions");
    if ((kind == BALAI_PUSH_OVERRIDE || kind == BALAI_PUSH_UNDERRIDE) && c && !json_is_array(c))
        return 0;
    return 1;
}

json_t *balai_push_merge(const json_t *stored, const char *user_id)
{
    json_t *out = balai_push_defaults(user_id);
    json_t *g = json_object_get(out, "global");

    for (int k = 0; k < BALAI_PUSH_NKINDS; k++) {
        json_t *defs = json_object_get(g, kind_names[k]);
        json_t *merged = json_array();
        json_t *src = kind_array(stored, k), *r;
        size_t i;
        /* .m.rule.master always comes first */
        size_t head = (k == BALAI_PUSH_OVERRIDE) ? 1 : 0;
        for (i = 0; i < head; i++)
            json_array_append(merged, json_array_get(defs, i));
        json_array_foreach(src, i, r)
        {
            if (!stored_rule_ok(k, r) || balai_push_find(out, k, rule_id_of(r)))
                continue;
            json_t *c = json_deep_copy(r);
            json_object_set_new(c, "default", json_false());
            if (!json_is_boolean(json_object_get(c, "enabled")))
                json_object_set_new(c, "enabled", json_true());
            json_array_append_new(merged, c);
        }
        for (i = head; i < json_array_size(defs); i++)
            json_array_append(merged, json_array_get(defs, i));
        /* the user's changes to the defaults */
        json_array_foreach(merged, i, r)
        {
            if (!json_is_true(json_object_get(r, "default")))
                continue;
            json_t *s = balai_push_find(stored, k, rule_id_of(r));
            json_t *en = json_object_get(s, "enabled");
            json_t *acts = json_object_get(s, "actions");
            if (json_is_boolean(en))
                json_object_set(r, "enabled", en);
            if (json_is_array(acts) && balai_push_check_actions(acts, NULL, 0) == BALAI_OK)
                json_object_set_new(r, "actions", json_deep_copy(acts));
        }
        json_object_set_new(g, kind_names[k], merged);
    }
    return out;
}

static void say(char *reason, size_t reasonlen, const char *fmt, ...) BALAI_PRINTF(3, 4);

static void say(char *reason, size_t reasonlen, const char *fmt, ...)
{
    va_list ap;
    if (!reason || !reasonlen)
        return;
    va_start(ap, fmt);
    vsnprintf(reason, reasonlen, fmt, ap);
    va_end(ap);
}

int balai_push_check_actions(const json_t *actions, char *reason, size_t reasonlen)
{
    size_t i;
    json_t *a;
    if (!json_is_array(actions)) {
        say(reason, reasonlen, "%s", "'actions' must be an array");
        return BALAI_EINVAL;
    }
    json_array_foreach(actions, i, a)
    {
        if (json_is_string(a)) {
            const char *s = json_string_value(a);
            if (strcmp(s, "notify") != 0 && strcmp(s, "dont_notify") != 0 &&
                strcmp(s, "coalesce") != 0) {
                say(reason, reasonlen,
                    "Unknown action '%s': use \"notify\" or a {\"set_tweak\": ...} object", s);
                return BALAI_EINVAL;
            }
            continue;
        }
        const char *tweak = json_string_value(json_object_get(a, "set_tweak"));
        if (!json_is_object(a) || !tweak) {
            say(reason, reasonlen, "%s",
                "Each action must be a string or an object with a string 'set_tweak'");
            return BALAI_EINVAL;
        }
        json_t *v = json_object_get(a, "value");
        if (strcmp(tweak, "highlight") == 0 && v && !json_is_boolean(v)) {
            say(reason, reasonlen, "%s", "The highlight tweak's 'value' must be a boolean");
            return BALAI_EINVAL;
        }
        if (strcmp(tweak, "sound") == 0 && !json_is_string(v)) {
            say(reason, reasonlen, "%s", "The sound tweak's 'value' must be a string");
            return BALAI_EINVAL;
        }
    }
    return BALAI_OK;
}

/* A path whose every segment is non-empty. */
static int path_ok(const char *p)
{
    if (!p[0])
        return 0;
    int seglen = 0;
    for (; *p; p++) {
        if (*p == '\\' && (p[1] == '.' || p[1] == '\\')) {
            p++;
            seglen++;
        } else if (*p == '.') {
            if (!seglen)
                return 0;
            seglen = 0;
        } else {
            seglen++;
        }
    }
    return seglen > 0;
}

static int scalar_ok(const json_t *v)
{
    if (json_is_string(v) || json_is_boolean(v) || json_is_null(v))
        return 1;
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        return x >= -9007199254740991LL && x <= 9007199254740991LL;
    }
    return 0;
}

/* "[op]N" for room_member_count: sets *op ('=', '<', '>', 'l' (<=), 'g' (>=)). */
static int member_count_parse(const char *s, char *op, int64_t *n)
{
    *op = '=';
    if (strncmp(s, "==", 2) == 0) {
        s += 2;
    } else if (strncmp(s, "<=", 2) == 0) {
        *op = 'l';
        s += 2;
    } else if (strncmp(s, ">=", 2) == 0) {
        *op = 'g';
        s += 2;
    } else if (*s == '<' || *s == '>') {
        *op = *s++;
    }
    if (*s < '0' || *s > '9')
        return BALAI_EINVAL;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 1000000000)
            return BALAI_EINVAL;
        v = v * 10 + (*s - '0');
    }
    *n = v;
    return BALAI_OK;
}

static int check_condition(const json_t *c, char *reason, size_t reasonlen)
{
    const char *kind = json_string_value(json_object_get(c, "kind"));
    const char *key = json_string_value(json_object_get(c, "key"));
    if (!json_is_object(c) || !kind) {
        say(reason, reasonlen, "%s", "Each condition must be an object with a string 'kind'");
        return BALAI_EINVAL;
    }
    if (strcmp(kind, "event_match") == 0 || strcmp(kind, "event_property_is") == 0 ||
        strcmp(kind, "event_property_contains") == 0) {
        if (!key || !path_ok(key)) {
            say(reason, reasonlen, "A %s condition needs a 'key': a dot-separated property path",
                kind);
            return BALAI_EINVAL;
        }
        if (strcmp(kind, "event_match") == 0) {
            if (!json_is_string(json_object_get(c, "pattern"))) {
                say(reason, reasonlen, "%s", "An event_match condition needs a string 'pattern'");
                return BALAI_EINVAL;
            }
        } else if (!scalar_ok(json_object_get(c, "value"))) {
            say(reason, reasonlen,
                "A %s condition needs a 'value': a string, an integer, a boolean or null", kind);
            return BALAI_EINVAL;
        }
    } else if (strcmp(kind, "room_member_count") == 0) {
        const char *is = json_string_value(json_object_get(c, "is"));
        char op;
        int64_t n;
        if (!is || member_count_parse(is, &op, &n) != BALAI_OK) {
            say(reason, reasonlen, "%s",
                "A room_member_count condition needs 'is': a number, optionally prefixed by "
                "==, <, >, <= or >=");
            return BALAI_EINVAL;
        }
    } else if (strcmp(kind, "sender_notification_permission") == 0) {
        if (!key || !key[0]) {
            say(reason, reasonlen, "%s",
                "A sender_notification_permission condition needs a string 'key'");
            return BALAI_EINVAL;
        }
    }
    /* contains_display_name has no parameters; unknown kinds are kept
     * (the spec: they never match) */
    return BALAI_OK;
}

static int rule_id_ok(enum balai_push_kind kind, const char *id, char *reason, size_t reasonlen)
{
    if (!id[0] || strlen(id) > 255) {
        say(reason, reasonlen, "%s", "A rule ID must be 1 to 255 bytes");
        return BALAI_EINVAL;
    }
    if (id[0] == '.') {
        say(reason, reasonlen,
            "Rule IDs starting with '.' are reserved for server-default rules: '%s'", id);
        return BALAI_EINVAL;
    }
    if (strchr(id, '/') || strchr(id, '\\')) {
        say(reason, reasonlen, "%s", "A rule ID cannot contain '/' or '\\'");
        return BALAI_EINVAL;
    }
    if (kind == BALAI_PUSH_ROOM && (id[0] != '!' || !strchr(id, ':'))) {
        say(reason, reasonlen, "The ID of a room rule must be a room ID, not '%s'", id);
        return BALAI_EINVAL;
    }
    if (kind == BALAI_PUSH_SENDER && !balai_pl_user_id_ok(id)) {
        say(reason, reasonlen, "The ID of a sender rule must be a user ID, not '%s'", id);
        return BALAI_EINVAL;
    }
    return BALAI_OK;
}

static json_t *rule_from_body(enum balai_push_kind kind, const char *rule_id, const json_t *body,
                              char *reason, size_t reasonlen)
{
    json_t *actions = json_object_get(body, "actions");
    if (!actions) {
        say(reason, reasonlen, "%s", "The rule needs 'actions'");
        return NULL;
    }
    if (balai_push_check_actions(actions, reason, reasonlen) != BALAI_OK)
        return NULL;
    json_t *r = json_pack("{s:s, s:b, s:b, s:O}", "rule_id", rule_id, "default", 0, "enabled", 1,
                          "actions", actions);
    if (kind == BALAI_PUSH_CONTENT) {
        const char *pattern = json_string_value(json_object_get(body, "pattern"));
        if (!pattern || !pattern[0]) {
            say(reason, reasonlen, "%s", "A content rule needs a non-empty string 'pattern'");
            goto fail;
        }
        json_object_set_new(r, "pattern", json_string(pattern));
    } else if (kind == BALAI_PUSH_OVERRIDE || kind == BALAI_PUSH_UNDERRIDE) {
        json_t *conds = json_object_get(body, "conditions"), *c;
        size_t i;
        if (conds && !json_is_array(conds)) {
            say(reason, reasonlen, "%s", "'conditions' must be an array");
            goto fail;
        }
        json_array_foreach(conds, i, c)
        {
            if (check_condition(c, reason, reasonlen) != BALAI_OK)
                goto fail;
        }
        json_object_set_new(r, "conditions", conds ? json_deep_copy(conds) : json_array());
    }
    return r;
fail:
    json_decref(r);
    return NULL;
}

/* The index of the rule in a, or -1. */
static long index_of(const json_t *a, const char *rule_id)
{
    size_t i;
    json_t *r;
    json_array_foreach(a, i, r)
    {
        const char *id = rule_id_of(r);
        if (id && strcmp(id, rule_id) == 0)
            return (long)i;
    }
    return -1;
}

int balai_push_put(json_t *ruleset, enum balai_push_kind kind, const char *rule_id,
                   const json_t *body, const char *before, const char *after, char *reason,
                   size_t reasonlen)
{
    json_t *a = kind_array(ruleset, kind);
    if (!a || rule_id_ok(kind, rule_id, reason, reasonlen) != BALAI_OK)
        return BALAI_EINVAL;
    const char *rel = before ? before : after;
    if (rel && (rel[0] == '.' || strcmp(rel, rule_id) == 0)) {
        say(reason, reasonlen,
            "A rule can only be placed relative to another user-defined rule, not '%s'", rel);
        return BALAI_EINVAL;
    }
    json_t *r = rule_from_body(kind, rule_id, body, reason, reasonlen);
    if (!r)
        return BALAI_EINVAL;
    long old = index_of(a, rule_id);
    if (old >= 0) {
        json_t *en = json_object_get(json_array_get(a, (size_t)old), "enabled");
        if (json_is_boolean(en))
            json_object_set(r, "enabled", en);
    }
    if (rel && index_of(a, rel) < 0) {
        say(reason, reasonlen, "before/after rule not found: %s", rel);
        json_decref(r);
        return BALAI_ENOTFOUND;
    }
    if (old >= 0 && !rel) {
        json_array_set_new(a, (size_t)old, r);
        return BALAI_OK;
    }
    if (old >= 0)
        json_array_remove(a, (size_t)old);
    long at;
    if (rel) {
        at = index_of(a, rel) + (before ? 0 : 1);
    } else {
        /* first among the user rules: after .m.rule.master in override */
        at = 0;
        while ((size_t)at < json_array_size(a) &&
               strcmp(rule_id_of(json_array_get(a, (size_t)at)), ".m.rule.master") == 0)
            at++;
    }
    json_array_insert_new(a, (size_t)at, r);
    return BALAI_OK;
}

int balai_push_delete(json_t *ruleset, enum balai_push_kind kind, const char *rule_id)
{
    json_t *a = kind_array(ruleset, kind);
    long i = a ? index_of(a, rule_id) : -1;
    if (i < 0)
        return BALAI_ENOTFOUND;
    if (json_is_true(json_object_get(json_array_get(a, (size_t)i), "default")))
        return BALAI_EINVAL;
    json_array_remove(a, (size_t)i);
    return BALAI_OK;
}

/* ---- matching ---- */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int is_word(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Matches pattern p at s[start..]; the match must end at len (words: at a
 * word boundary). Greedy with backtracking to the last '*' only, which is
 * enough for patterns of literals, '?' and '*'. */
static int glob_at(const char *p, const char *s, size_t len, size_t start, int words)
{
    const char *pp = p, *star = NULL;
    size_t i = start, star_i = 0;
    for (;;) {
        if (!*pp) {
            if (i == len || (words && !is_word((unsigned char)s[i])))
                return 1;
        } else if (*pp == '*') {
            star = ++pp;
            star_i = i;
            continue;
        } else if (i < len && (*pp == '?' || lower((unsigned char)*pp) == lower((unsigned char)s[i]))) {
            pp++;
            i++;
            continue;
        }
        if (!star || star_i >= len)
            return 0;
        i = ++star_i;
        pp = star;
    }
}

int balai_push_glob(const char *pattern, const char *s, size_t len)
{
    return glob_at(pattern, s, len, 0, 0);
}

int balai_push_glob_words(const char *pattern, const char *s, size_t len)
{
    int first = (unsigned char)pattern[0];
    int literal_first = first && first != '*' && first != '?';
    for (size_t i = 0; i <= len; i++) {
        if (i > 0 && is_word((unsigned char)s[i - 1]))
            continue;
        if (literal_first && (i == len || lower((unsigned char)s[i]) != lower(first)))
            continue;
        if (glob_at(pattern, s, len, i, 1))
            return 1;
    }
    return 0;
}

/* Splits a path into segments (unescaping \. and \\): a new array of new strings. */
static char **path_split(const char *path, size_t *n)
{
    size_t cap = 1;
    for (const char *p = path; *p; p++)
        cap += *p == '.';
    char **segs = balai_calloc(cap, sizeof(*segs));
    char *cur = balai_malloc(strlen(path) + 1);
    size_t k = 0, len = 0;
    for (const char *p = path;; p++) {
        if (*p == '\\' && (p[1] == '.' || p[1] == '\\')) {
            cur[len++] = *++p;
        } else if (*p == '.' || !*p) {
            cur[len] = '\0';
            segs[k++] = balai_strdup(cur);
            len = 0;
            if (!*p)
                break;
        } else {
            cur[len++] = *p;
        }
    }
    free(cur);
    *n = k;
    return segs;
}

static void segs_free(char **segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(segs[i]);
    free(segs);
}

static const json_t *segs_get(const json_t *obj, char *const *segs, size_t n)
{
    for (size_t i = 0; obj && i < n; i++)
        obj = json_is_object(obj) ? json_object_get(obj, segs[i]) : NULL;
    return obj;
}

const json_t *balai_push_path_get(const json_t *obj, const char *path)
{
    size_t n;
    char **segs = path_split(path, &n);
    const json_t *v = segs_get(obj, segs, n);
    segs_free(segs, n);
    return v;
}

/* ---- compiled rules ---- */

enum cond_kind {
    C_MATCH,         /* event_match on a whole value */
    C_MATCH_BODY,    /* event_match on content.body, and content rules */
    C_IS,            /* event_property_is */
    C_CONTAINS,      /* event_property_contains */
    C_DISPLAY_NAME,  /* contains_display_name */
    C_MEMBER_COUNT,  /* room_member_count */
    C_SENDER_PERM,   /* sender_notification_permission */
    C_EQ_ROOM,       /* room rules: room_id equals */
    C_EQ_SENDER,     /* sender rules: sender equals */
};

struct cond {
    enum cond_kind kind;
    uint64_t hash; /* of what decides the result; 0 for contains_display_name */
    uint64_t path_hash; /* of the key, for paths; else 0 */
    char **path;
    size_t npath;
    char *pattern; /* match patterns, compared strings, the notification key */
    json_t *value; /* is/contains */
    char op;
    int64_t count;
};

struct rule {
    char *rule_id;
    int legacy_mention; /* skipped for events with m.mentions (spec v1.7 deprecation) */
    struct cond *conds;
    size_t nconds;
    int notify, highlight;
    char *sound;
};

struct balai_push_rules {
    struct rule *rules;
    size_t n, cap;
};

static void cond_release(struct cond *c)
{
    segs_free(c->path, c->npath);
    free(c->pattern);
    json_decref(c->value);
}

static void rule_release(struct rule *r)
{
    for (size_t i = 0; i < r->nconds; i++)
        cond_release(&r->conds[i]);
    free(r->conds);
    free(r->rule_id);
    free(r->sound);
}

void balai_push_rules_free(struct balai_push_rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        rule_release(&r->rules[i]);
    free(r->rules);
    free(r);
}

size_t balai_push_rules_count(const struct balai_push_rules *r)
{
    return r ? r->n : 0;
}

/* Sets c->hash from the kind, the key (raw path) and the pattern or value:
 * equal hashes mean equal results for one event (member counts aside, which
 * are the same for every member). Never 0 except for contains_display_name. */
static void cond_hash(struct cond *c, const char *key)
{
    struct balai_buf b;
    if (c->kind == C_DISPLAY_NAME) {
        c->hash = 0;
        return;
    }
    balai_buf_init(&b, 0);
    balai_buf_append_char(&b, (char)('A' + (int)c->kind));
    balai_buf_append_str(&b, key ? key : "");
    balai_buf_append_char(&b, '\n');
    if (c->pattern)
        balai_buf_append_str(&b, c->pattern);
    if (c->value) {
        char *v = json_dumps(c->value, JSON_ENCODE_ANY | JSON_COMPACT);
        balai_buf_append_str(&b, v ? v : "");
        free(v);
    }
    if (c->kind == C_MEMBER_COUNT)
        balai_buf_printf(&b, "%c%lld", c->op, (long long)c->count);
    c->hash = balai_hash_bytes(b.data, b.len) | 1;
    if (c->npath)
        c->path_hash = balai_hash_bytes(key, strlen(key)) | 1;
    balai_buf_release(&b);
}

/* Placeholders replaced while compiling the template (NULL: none). */
struct subst {
    const char *user_id;
    const char *localpart;
};

static const char *subst_str(const struct subst *u, const char *v)
{
    if (u && v && strcmp(v, "@USER") == 0)
        return u->user_id;
    if (u && v && strcmp(v, "LOCALPART") == 0)
        return u->localpart;
    return v;
}

/* Compiles a condition; BALAI_EINVAL when it cannot match (unknown, malformed). */
static int cond_compile(const json_t *j, struct cond *c, const struct subst *u)
{
    const char *kind = json_string_value(json_object_get(j, "kind"));
    const char *key = json_string_value(json_object_get(j, "key"));
    memset(c, 0, sizeof(*c));
    if (!kind || check_condition(j, NULL, 0) != BALAI_OK)
        return BALAI_EINVAL;
    if (strcmp(kind, "event_match") == 0) {
        c->path = path_split(key, &c->npath);
        c->pattern = balai_strdup(subst_str(u, json_string_value(json_object_get(j, "pattern"))));
        c->kind = (c->npath == 2 && strcmp(c->path[0], "content") == 0 &&
                   strcmp(c->path[1], "body") == 0)
                      ? C_MATCH_BODY
                      : C_MATCH;
    } else if (strcmp(kind, "event_property_is") == 0 ||
               strcmp(kind, "event_property_contains") == 0) {
        c->kind = kind[15] == 'i' ? C_IS : C_CONTAINS;
        c->path = path_split(key, &c->npath);
        json_t *v = json_object_get(j, "value");
        const char *vs = json_string_value(v);
        c->value = vs && subst_str(u, vs) != vs ? json_string(subst_str(u, vs)) : json_incref(v);
    } else if (strcmp(kind, "contains_display_name") == 0) {
        c->kind = C_DISPLAY_NAME;
    } else if (strcmp(kind, "room_member_count") == 0) {
        c->kind = C_MEMBER_COUNT;
        member_count_parse(json_string_value(json_object_get(j, "is")), &c->op, &c->count);
    } else if (strcmp(kind, "sender_notification_permission") == 0) {
        c->kind = C_SENDER_PERM;
        c->pattern = balai_strdup(key);
    } else {
        return BALAI_EINVAL;
    }
    cond_hash(c, key);
    return BALAI_OK;
}

static void rule_add(struct balai_push_rules *rs, enum balai_push_kind kind, const json_t *j,
                     const struct subst *u)
{
    const char *id = rule_id_of(j);
    json_t *acts = json_object_get(j, "actions"), *a, *conds;
    struct rule r;
    size_t i;

    if (!id || !json_is_true(json_object_get(j, "enabled")) || !json_is_array(acts))
        return;
    memset(&r, 0, sizeof(r));
    switch (kind) {
    case BALAI_PUSH_OVERRIDE:
    case BALAI_PUSH_UNDERRIDE:
        conds = json_object_get(j, "conditions");
        if (conds && !json_is_array(conds))
            return;
        r.conds = balai_calloc(json_array_size(conds) + 1, sizeof(*r.conds));
        for (i = 0; i < json_array_size(conds); i++) {
            if (cond_compile(json_array_get(conds, i), &r.conds[r.nconds], u) != BALAI_OK) {
                rule_release(&r); /* an unrecognised condition never matches */
                return;
            }
            r.nconds++;
        }
        break;
    case BALAI_PUSH_CONTENT: {
        const char *pattern = json_string_value(json_object_get(j, "pattern"));
        if (!pattern)
            return;
        r.conds = balai_calloc(1, sizeof(*r.conds));
        r.conds[0].kind = C_MATCH_BODY;
        r.conds[0].pattern = balai_strdup(subst_str(u, pattern));
        cond_hash(&r.conds[0], "content.body");
        r.nconds = 1;
        break;
    }
    case BALAI_PUSH_ROOM:
    case BALAI_PUSH_SENDER:
        r.conds = balai_calloc(1, sizeof(*r.conds));
        r.conds[0].kind = kind == BALAI_PUSH_ROOM ? C_EQ_ROOM : C_EQ_SENDER;
        r.conds[0].pattern = balai_strdup(id);
        cond_hash(&r.conds[0], NULL);
        r.nconds = 1;
        break;
    default:
        return;
    }
    r.rule_id = balai_strdup(id);
    r.legacy_mention = strcmp(id, ".m.rule.contains_display_name") == 0 ||
                       strcmp(id, ".m.rule.roomnotif") == 0 ||
                       strcmp(id, ".m.rule.contains_user_name") == 0;
    json_array_foreach(acts, i, a)
    {
        if (json_is_string(a) && strcmp(json_string_value(a), "notify") == 0) {
            r.notify = 1;
            continue;
        }
        const char *tweak = json_string_value(json_object_get(a, "set_tweak"));
        json_t *v = json_object_get(a, "value");
        if (tweak && strcmp(tweak, "highlight") == 0)
            r.highlight = !v || json_is_true(v);
        else if (tweak && strcmp(tweak, "sound") == 0 && json_is_string(v)) {
            free(r.sound);
            r.sound = balai_strdup(json_string_value(v));
        }
    }
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 32;
        rs->rules = balai_realloc(rs->rules, rs->cap * sizeof(*rs->rules));
    }
    rs->rules[rs->n++] = r;
}

static struct balai_push_rules *compile(const json_t *ruleset, const struct subst *u)
{
    struct balai_push_rules *rs = balai_calloc(1, sizeof(*rs));
    for (int k = 0; k < BALAI_PUSH_NKINDS; k++) {
        json_t *a = kind_array(ruleset, k), *j;
        size_t i;
        json_array_foreach(a, i, j) rule_add(rs, k, j, u);
    }
    return rs;
}

struct balai_push_rules *balai_push_compile(const json_t *ruleset)
{
    return compile(ruleset, NULL);
}

struct balai_push_rules *balai_push_compile_defaults(const char *user_id)
{
    char lp[256];
    localpart_of(user_id, lp, sizeof(lp));
    struct subst u = {user_id, lp};
    return compile(template_get(), &u);
}

void balai_push_event_init(struct balai_push_event *e, const json_t *pdu,
                           const struct balai_powerlevels *pl)
{
    e->body = NULL;
    e->body_len = 0;
    e->body_lower = NULL;
    e->starts = NULL;
    e->nstarts = 0;
    e->sender_level = 0;
    e->sender_level_known = 0;
    e->member_count = (size_t)-1; /* the first evaluation clears the memo */
    memset(e->path_key, 0, sizeof(e->path_key));
    e->pdu = pdu;
    e->pl = pl;
    e->sender = json_string_value(json_object_get(pdu, "sender"));
    json_t *content = json_object_get(pdu, "content");
    json_t *body = json_object_get(content, "body");
    e->has_mentions = json_object_get(content, "m.mentions") != NULL;
    if (json_is_string(body)) {
        e->body = json_string_value(body);
        e->body_len = json_string_length(body);
    }
}

void balai_push_event_release(struct balai_push_event *e)
{
    if (!e)
        return;
    free(e->body_lower);
    free(e->starts);
    e->body_lower = NULL;
    e->starts = NULL;
}

static int scalar_eq(const json_t *a, const json_t *b)
{
    if (json_is_string(a) && json_is_string(b))
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_boolean(a) && json_is_boolean(b))
        return json_is_true(a) == json_is_true(b);
    return json_is_null(a) && json_is_null(b);
}

/* Makes the lowercased body and its word starts, once per event. */
static void body_prepare(struct balai_push_event *e)
{
    if (e->body_lower)
        return;
    e->body_lower = balai_malloc(e->body_len + 1);
    e->starts = balai_malloc((e->body_len + 1) * sizeof(*e->starts));
    for (size_t i = 0; i <= e->body_len; i++) {
        if (i < e->body_len)
            e->body_lower[i] = (char)lower((unsigned char)e->body[i]);
        if (i == 0 || !is_word((unsigned char)e->body[i - 1]))
            e->starts[e->nstarts++] = (uint32_t)i;
    }
    e->body_lower[e->body_len] = '\0';
}

/* balai_push_glob_words over the prepared body. */
static int glob_starts(const char *pattern, const struct balai_push_event *e)
{
    int first = lower((unsigned char)pattern[0]);
    int literal_first = first && first != '*' && first != '?';
    for (size_t k = 0; k < e->nstarts; k++) {
        size_t i = e->starts[k];
        if (literal_first && (i == e->body_len || e->body_lower[i] != first))
            continue;
        if (glob_at(pattern, e->body_lower, e->body_len, i, 1))
            return 1;
    }
    return 0;
}

/* A literal (not glob) word-bounded, case-insensitive search of the
 * prepared body. */
static int literal_words(const char *needle, const struct balai_push_event *e)
{
    size_t n = strlen(needle);
    const char *s = e->body_lower;
    if (!n || n > e->body_len)
        return 0;
    int first = lower((unsigned char)needle[0]);
    for (size_t k = 0; k < e->nstarts; k++) {
        size_t i = e->starts[k], j = 0;
        if (i + n > e->body_len || s[i] != first)
            continue;
        while (j < n && s[i + j] == lower((unsigned char)needle[j]))
            j++;
        if (j == n && (i + n == e->body_len || !is_word((unsigned char)s[i + n])))
            return 1;
    }
    return 0;
}

/* The value at the condition's path, through the event's path memo. */
static const json_t *path_value(const struct cond *c, struct balai_push_event *e)
{
    size_t mask = BALAI_PUSH_PATHS - 1, i = (size_t)c->path_hash & mask;
    for (size_t n = 0; n < 4; n++, i = (i + 1) & mask) {
        if (e->path_key[i] == c->path_hash)
            return e->path_val[i];
        if (!e->path_key[i]) {
            e->path_key[i] = c->path_hash;
            return e->path_val[i] = segs_get(e->pdu, c->path, c->npath);
        }
    }
    return segs_get(e->pdu, c->path, c->npath);
}

static int cond_eval(const struct cond *c, struct balai_push_event *e,
                     const struct balai_push_ctx *x)
{
    const json_t *v;
    switch (c->kind) {
    case C_MATCH:
        v = path_value(c, e);
        return json_is_string(v) &&
               balai_push_glob(c->pattern, json_string_value(v), json_string_length(v));
    case C_MATCH_BODY:
        if (!e->body)
            return 0;
        body_prepare(e);
        return glob_starts(c->pattern, e);
    case C_IS:
        v = path_value(c, e);
        return v && scalar_ok(v) && scalar_eq(v, c->value);
    case C_CONTAINS: {
        v = path_value(c, e);
        size_t i;
        json_t *it;
        if (!json_is_array(v))
            return 0;
        json_array_foreach(v, i, it)
        {
            if (scalar_ok(it) && scalar_eq(it, c->value))
                return 1;
        }
        return 0;
    }
    case C_DISPLAY_NAME:
        if (!e->body || !x->display_name || !x->display_name[0])
            return 0;
        body_prepare(e);
        return literal_words(x->display_name, e);
    case C_MEMBER_COUNT: {
        int64_t n = (int64_t)x->member_count;
        switch (c->op) {
        case '<':
            return n < c->count;
        case '>':
            return n > c->count;
        case 'l':
            return n <= c->count;
        case 'g':
            return n >= c->count;
        default:
            return n == c->count;
        }
    }
    case C_SENDER_PERM:
        if (!e->pl || !e->sender)
            return 0;
        if (!e->sender_level_known) {
            e->sender_level = balai_pl_user_level(e->pl, e->sender);
            e->sender_level_known = 1;
        }
        return e->sender_level >= balai_pl_notification_level(e->pl, c->pattern);
    case C_EQ_ROOM:
        v = json_object_get(e->pdu, "room_id");
        return json_is_string(v) && strcmp(json_string_value(v), c->pattern) == 0;
    case C_EQ_SENDER:
        return e->sender && strcmp(e->sender, c->pattern) == 0;
    }
    return 0;
}

/* cond_eval through the event's memo (linear probing; when full, no memo). */
static int cond_eval_memo(const struct cond *c, struct balai_push_event *e,
                          const struct balai_push_ctx *x)
{
    if (!c->hash)
        return cond_eval(c, e, x);
    size_t mask = BALAI_PUSH_MEMO - 1, i = (size_t)c->hash & mask;
    for (size_t n = 0; n < 8; n++, i = (i + 1) & mask) {
        if (e->memo_key[i] == c->hash)
            return e->memo_val[i];
        if (!e->memo_key[i]) {
            int v = cond_eval(c, e, x);
            e->memo_key[i] = c->hash;
            e->memo_val[i] = (signed char)v;
            return v;
        }
    }
    return cond_eval(c, e, x);
}

void balai_push_eval(const struct balai_push_rules *r, struct balai_push_event *e,
                     const struct balai_push_ctx *c, struct balai_push_result *out)
{
    memset(out, 0, sizeof(*out));
    if (e->member_count != c->member_count) {
        /* the memo assumed another member count: start it again */
        memset(e->memo_key, 0, sizeof(e->memo_key));
        e->member_count = c->member_count;
    }
    for (size_t i = 0; r && i < r->n; i++) {
        const struct rule *ru = &r->rules[i];
        size_t k = 0;
        if (ru->legacy_mention && e->has_mentions)
            continue;
        while (k < ru->nconds && cond_eval_memo(&ru->conds[k], e, c))
            k++;
        if (k < ru->nconds)
            continue;
        out->notify = ru->notify;
        out->highlight = ru->notify && ru->highlight;
        out->rule_id = ru->rule_id;
        out->sound = ru->sound;
        return;
    }
}

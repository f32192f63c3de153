/* directory.c: the in-memory organisation directory (people, units, roles).
 *
 * People and units sit in hash maps keyed by id; a second map finds a person
 * by employee number. Records own copies of their strings (the public
 * structs hold const pointers into them, freed with cast-away const here
 * only). Searching walks every person: a directory of tens of thousands
 * answers in well under a millisecond. */
#include "balai.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gov/directory.h"
#include "util/alloc.h"
#include "util/map.h"

#define CHAIN_MAX 64  /* deepest manager chain or unit tree walked */
#define QUERY_WORDS 8 /* words of a search query */

struct balai_gov_directory {
    struct balai_map *people; /* user_id -> struct balai_gov_person * */
    struct balai_map *by_num; /* employee_number -> struct balai_gov_person * */
    struct balai_map *units;  /* unit_id -> struct balai_gov_unit * */
};

/* ---- roles ---- */

static const char *const role_names[BALAI_ROLE__COUNT] = {
    [BALAI_ROLE_GUEST] = "guest",           [BALAI_ROLE_MEMBER] = "member",
    [BALAI_ROLE_MODERATOR] = "moderator",   [BALAI_ROLE_COMPLIANCE] = "compliance",
    [BALAI_ROLE_HR] = "hr",                 [BALAI_ROLE_ADMIN] = "admin",
    [BALAI_ROLE_OWNER] = "owner",
};

#define R(x) BALAI_ROLE_BIT(BALAI_ROLE_##x)
/* The roles table: which roles may do each action (docs/directory.md). */
static const unsigned action_roles[BALAI_GOV__ACTION_COUNT] = {
    [BALAI_GOV_USERS_MANAGE] = R(OWNER) | R(ADMIN),
    [BALAI_GOV_DIRECTORY_READ] = R(OWNER) | R(ADMIN) | R(HR) | R(COMPLIANCE),
    [BALAI_GOV_DIRECTORY_EDIT] = R(OWNER) | R(ADMIN) | R(HR),
    [BALAI_GOV_ROLE_GRANT] = R(OWNER) | R(ADMIN),
    [BALAI_GOV_ROLE_GRANT_OWNER] = R(OWNER),
    [BALAI_GOV_AUDIT_READ] = R(OWNER) | R(COMPLIANCE),
    [BALAI_GOV_MODERATE] = R(OWNER) | R(ADMIN) | R(MODERATOR),
    [BALAI_GOV_POLICY_MANAGE] = R(OWNER) | R(ADMIN),
    [BALAI_GOV_DIRECTORY_SEARCH] = BALAI_ROLES_ALL,
};
#undef R

const char *balai_gov_role_name(enum balai_gov_role r)
{
    if ((unsigned)r >= BALAI_ROLE__COUNT)
        return "member";
    return role_names[r];
}

int balai_gov_role_parse(const char *s, enum balai_gov_role *out)
{
    if (!s)
        return BALAI_EINVAL;
    for (unsigned i = 0; i < BALAI_ROLE__COUNT; i++) {
        if (strcmp(s, role_names[i]) == 0) {
            *out = (enum balai_gov_role)i;
            return BALAI_OK;
        }
    }
    return BALAI_EINVAL;
}

unsigned balai_gov_action_roles(enum balai_gov_action action)
{
    if ((unsigned)action >= BALAI_GOV__ACTION_COUNT)
        return 0;
    return action_roles[action];
}

int balai_gov_role_may(enum balai_gov_role role, enum balai_gov_action action)
{
    if ((unsigned)role >= BALAI_ROLE__COUNT)
        return 0;
    return (balai_gov_action_roles(action) & BALAI_ROLE_BIT(role)) != 0;
}

static const char *const status_names[] = {"active", "leave", "terminated"};

const char *balai_gov_status_name(enum balai_gov_status s)
{
    if ((unsigned)s >= BALAI_ARRAY_LEN(status_names))
        return "active";
    return status_names[s];
}

int balai_gov_status_parse(const char *s, enum balai_gov_status *out)
{
    if (!s)
        return BALAI_EINVAL;
    for (unsigned i = 0; i < BALAI_ARRAY_LEN(status_names); i++) {
        if (strcmp(s, status_names[i]) == 0) {
            *out = (enum balai_gov_status)i;
            return BALAI_OK;
        }
    }
    return BALAI_EINVAL;
}

/* ---- records ---- */

static char *dup_or_null(const char *s)
{
    return s ? balai_strdup(s) : NULL;
}

static void person_free(struct balai_gov_person *p)
{
    if (!p)
        return;
    free((char *)p->user_id);
    free((char *)p->employee_number);
    free((char *)p->display_name);
    free((char *)p->unit_id);
    free((char *)p->title);
    free((char *)p->manager);
    free((char *)p->site);
    free((char *)p->working_hours);
    free((char *)p->email);
    free((char *)p->sponsor);
    free(p);
}

static struct balai_gov_person *person_copy(const struct balai_gov_person *src)
{
    struct balai_gov_person *p = balai_malloc(sizeof(*p));
    *p = *src;
    p->user_id = balai_strdup(src->user_id);
    p->employee_number =
        src->employee_number && *src->employee_number ? balai_strdup(src->employee_number) : NULL;
    p->display_name = dup_or_null(src->display_name);
    p->unit_id = dup_or_null(src->unit_id);
    p->title = dup_or_null(src->title);
    p->manager = dup_or_null(src->manager);
    p->site = dup_or_null(src->site);
    p->working_hours = dup_or_null(src->working_hours);
    p->email = dup_or_null(src->email);
    p->sponsor = dup_or_null(src->sponsor);
    return p;
}

static void unit_free(struct balai_gov_unit *u)
{
    if (!u)
        return;
    free((char *)u->unit_id);
    free((char *)u->name);
    free((char *)u->parent_id);
    for (size_t i = 0; i < u->n_admins; i++)
        free((char *)u->admins[i]);
    free((void *)u->admins);
    free(u);
}

static struct balai_gov_unit *unit_copy(const struct balai_gov_unit *src)
{
    struct balai_gov_unit *u = balai_malloc(sizeof(*u));
    char **admins = NULL;
    *u = *src;
    u->unit_id = balai_strdup(src->unit_id);
    u->name = balai_strdup(src->name);
    u->parent_id = dup_or_null(src->parent_id);
    if (src->n_admins) {
        admins = balai_calloc(src->n_admins, sizeof(*admins));
        for (size_t i = 0; i < src->n_admins; i++)
            admins[i] = balai_strdup(src->admins[i]);
    }
    u->admins = (const char *const *)admins;
    return u;
}

struct balai_gov_person *balai_gov_person_dup(const struct balai_gov_person *p)
{
    return person_copy(p);
}

void balai_gov_person_free(struct balai_gov_person *p)
{
    person_free(p);
}

void balai_gov_person_set(const char **field, const char *v)
{
    char *n = dup_or_null(v);
    free((char *)*field);
    *field = n;
}

struct balai_gov_directory *balai_gov_directory_new(void)
{
    struct balai_gov_directory *d = balai_calloc(1, sizeof(*d));
    d->people = balai_map_new();
    d->by_num = balai_map_new();
    d->units = balai_map_new();
    return d;
}

void balai_gov_directory_free(struct balai_gov_directory *d)
{
    size_t it = 0;
    const void *k;
    size_t kl;
    void *v;

    if (!d)
        return;
    while (balai_map_next(d->people, &it, &k, &kl, &v))
        person_free(v);
    it = 0;
    while (balai_map_next(d->units, &it, &k, &kl, &v))
        unit_free(v);
    balai_map_free(d->people);
    balai_map_free(d->by_num);
    balai_map_free(d->units);
    free(d);
}

struct balai_gov_directory *balai_gov_directory_clone(const struct balai_gov_directory *d)
{
    struct balai_gov_directory *c = balai_gov_directory_new();
    size_t it = 0, kl;
    const void *k;
    void *v;

    while (balai_map_next(d->people, &it, &k, &kl, &v)) {
        struct balai_gov_person *p = person_copy(v);
        balai_map_put_str(c->people, p->user_id, p);
        if (p->employee_number)
            balai_map_put_str(c->by_num, p->employee_number, p);
    }
    it = 0;
    while (balai_map_next(d->units, &it, &k, &kl, &v)) {
        struct balai_gov_unit *u = unit_copy(v);
        balai_map_put_str(c->units, u->unit_id, u);
    }
    return c;
}

/* ---- people ---- */

int balai_gov_directory_put(struct balai_gov_directory *d, const struct balai_gov_person *p)
{
    struct balai_gov_person *old, *n;

    if (!p || !p->user_id)
        return BALAI_EINVAL;
    if (p->employee_number && *p->employee_number) {
        const struct balai_gov_person *o = balai_map_get_str(d->by_num, p->employee_number);
        if (o && strcmp(o->user_id, p->user_id) != 0)
            return BALAI_EEXIST;
    }
    n = person_copy(p);
    old = balai_map_put_str(d->people, n->user_id, n);
    if (old && old->employee_number)
        balai_map_del_str(d->by_num, old->employee_number);
    if (n->employee_number)
        balai_map_put_str(d->by_num, n->employee_number, n);
    person_free(old);
    return BALAI_OK;
}

const struct balai_gov_person *balai_gov_directory_get(const struct balai_gov_directory *d,
                                                       const char *user_id)
{
    return user_id ? balai_map_get_str(d->people, user_id) : NULL;
}

const struct balai_gov_person *
balai_gov_directory_by_employee_number(const struct balai_gov_directory *d, const char *number)
{
    return number && *number ? balai_map_get_str(d->by_num, number) : NULL;
}

int balai_gov_directory_remove(struct balai_gov_directory *d, const char *user_id)
{
    struct balai_gov_person *p = user_id ? balai_map_del_str(d->people, user_id) : NULL;
    if (!p)
        return BALAI_ENOTFOUND;
    if (p->employee_number)
        balai_map_del_str(d->by_num, p->employee_number);
    person_free(p);
    return BALAI_OK;
}

size_t balai_gov_directory_count(const struct balai_gov_directory *d)
{
    return balai_map_count(d->people);
}

int balai_gov_directory_each(const struct balai_gov_directory *d,
                             int (*fn)(const struct balai_gov_person *p, void *arg), void *arg)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    int rc;

    while (balai_map_next(d->people, &it, &k, &kl, &v)) {
        rc = fn(v, arg);
        if (rc)
            return rc;
    }
    return 0;
}

size_t balai_gov_directory_role_count(const struct balai_gov_directory *d, enum balai_gov_role r)
{
    size_t it = 0, kl, n = 0;
    const void *k;
    void *v;

    while (balai_map_next(d->people, &it, &k, &kl, &v)) {
        if (((const struct balai_gov_person *)v)->role == r)
            n++;
    }
    return n;
}

size_t balai_gov_directory_manager_chain(const struct balai_gov_directory *d, const char *user_id,
                                         const char **out, size_t max)
{
    const struct balai_gov_person *p = balai_gov_directory_get(d, user_id);
    size_t n = 0;

    while (p && p->manager && n < max) {
        /* a cycle: the manager is the start or already listed */
        if (strcmp(p->manager, user_id) == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(out[i], p->manager) == 0)
                return n;
        }
        const struct balai_gov_person *m = balai_gov_directory_get(d, p->manager);
        if (!m)
            break;
        out[n++] = m->user_id;
        p = m;
    }
    return n;
}

int balai_gov_directory_check_manager(const struct balai_gov_directory *d, const char *user_id,
                                      const char *manager)
{
    const char *chain[CHAIN_MAX];
    size_t n;

    if (!manager)
        return BALAI_OK;
    if (strcmp(manager, user_id) == 0)
        return BALAI_EINVAL;
    n = balai_gov_directory_manager_chain(d, manager, chain, CHAIN_MAX);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(chain[i], user_id) == 0)
            return BALAI_EINVAL;
    }
    return BALAI_OK;
}

/* ---- units ---- */

const struct balai_gov_unit *balai_gov_unit_get(const struct balai_gov_directory *d,
                                                const char *unit_id)
{
    return unit_id ? balai_map_get_str(d->units, unit_id) : NULL;
}

int balai_gov_unit_within(const struct balai_gov_directory *d, const char *unit_id,
                          const char *ancestor)
{
    const struct balai_gov_unit *u = balai_gov_unit_get(d, unit_id);

    for (int depth = 0; u && depth < CHAIN_MAX; depth++) {
        if (strcmp(u->unit_id, ancestor) == 0)
            return 1;
        u = balai_gov_unit_get(d, u->parent_id);
    }
    return 0;
}

int balai_gov_unit_put(struct balai_gov_directory *d, const struct balai_gov_unit *u)
{
    struct balai_gov_unit *old;

    if (!u || !u->unit_id || !*u->unit_id || !u->name || !*u->name)
        return BALAI_EINVAL;
    if (u->parent_id) {
        if (!balai_gov_unit_get(d, u->parent_id))
            return BALAI_ENOTFOUND;
        /* the new parent must not be the unit or lie below it */
        if (balai_gov_unit_within(d, u->parent_id, u->unit_id))
            return BALAI_EINVAL;
    }
    old = balai_map_put_str(d->units, u->unit_id, unit_copy(u));
    unit_free(old);
    return BALAI_OK;
}

size_t balai_gov_unit_children(const struct balai_gov_directory *d, const char *unit_id)
{
    size_t it = 0, kl, n = 0;
    const void *k;
    void *v;

    while (balai_map_next(d->units, &it, &k, &kl, &v)) {
        const struct balai_gov_unit *u = v;
        if (u->parent_id && strcmp(u->parent_id, unit_id) == 0)
            n++;
    }
    return n;
}

size_t balai_gov_unit_members(const struct balai_gov_directory *d, const char *unit_id)
{
    size_t it = 0, kl, n = 0;
    const void *k;
    void *v;

    while (balai_map_next(d->people, &it, &k, &kl, &v)) {
        const struct balai_gov_person *p = v;
        if (p->unit_id && strcmp(p->unit_id, unit_id) == 0)
            n++;
    }
    return n;
}

int balai_gov_unit_remove(struct balai_gov_directory *d, const char *unit_id)
{
    if (!balai_gov_unit_get(d, unit_id))
        return BALAI_ENOTFOUND;
    if (balai_gov_unit_children(d, unit_id) || balai_gov_unit_members(d, unit_id))
        return BALAI_ESTATE;
    unit_free(balai_map_del_str(d->units, unit_id));
    return BALAI_OK;
}

int balai_gov_unit_each(const struct balai_gov_directory *d,
                        int (*fn)(const struct balai_gov_unit *u, void *arg), void *arg)
{
    size_t it = 0, kl;
    const void *k;
    void *v;
    int rc;

    while (balai_map_next(d->units, &it, &k, &kl, &v)) {
        rc = fn(v, arg);
        if (rc)
            return rc;
    }
    return 0;
}

char *balai_gov_unit_path(const struct balai_gov_directory *d, const char *unit_id)
{
    const struct balai_gov_unit *chain[CHAIN_MAX];
    const struct balai_gov_unit *u = balai_gov_unit_get(d, unit_id);
    size_t n = 0, len = 0;
    char *out, *p;

    if (!u)
        return NULL;
    while (u && n < CHAIN_MAX) {
        chain[n++] = u;
        len += strlen(u->name) + 1;
        u = balai_gov_unit_get(d, u->parent_id);
    }
    out = balai_malloc(len);
    p = out;
    while (n--) {
        size_t l = strlen(chain[n]->name);
        memcpy(p, chain[n]->name, l);
        p += l;
        *p++ = n ? '/' : '\0';
    }
    return out;
}

struct child_find {
    const char *parent_id; /* NULL: a root */
    const char *name;
    size_t name_len;
    const struct balai_gov_unit *found;
};

static int find_child(const struct balai_gov_unit *u, void *arg)
{
    struct child_find *f = arg;
    int same_parent = f->parent_id ? (u->parent_id && strcmp(u->parent_id, f->parent_id) == 0)
                                   : u->parent_id == NULL;
    if (same_parent && strlen(u->name) == f->name_len &&
        strncasecmp(u->name, f->name, f->name_len) == 0) {
        f->found = u;
        return 1;
    }
    return 0;
}

const struct balai_gov_unit *balai_gov_unit_by_path(const struct balai_gov_directory *d,
                                                    const char *path)
{
    const struct balai_gov_unit *cur = NULL;
    const char *p = path;
    int any = 0;

    if (!path)
        return NULL;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        /* trim spaces around the segment */
        while (l && *p == ' ') {
            p++;
            l--;
        }
        while (l && p[l - 1] == ' ')
            l--;
        if (l) {
            struct child_find f = {cur ? cur->unit_id : NULL, p, l, NULL};
            balai_gov_unit_each(d, find_child, &f);
            if (!f.found)
                return NULL;
            cur = f.found;
            any = 1;
        }
        if (!e)
            break;
        p = e + 1;
    }
    return any ? cur : NULL;
}

char *balai_gov_unit_new_id(const struct balai_gov_directory *d, const char *parent_id,
                            const char *name)
{
    char id0[200];
    size_t n = 0;
    int dash = 0;

    if (parent_id && strlen(parent_id) < 120)
        n = (size_t)snprintf(id0, sizeof(id0), "%s.", parent_id);
    for (const char *p = name ? name : ""; *p && n < 180; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c) && c < 0x80) {
            if (dash && n && id0[n - 1] != '.')
                id0[n++] = '-';
            dash = 0;
            id0[n++] = (char)tolower(c);
        } else {
            dash = 1;
        }
    }
    if (!n || id0[n - 1] == '.')
        n += (size_t)snprintf(id0 + n, sizeof(id0) - n, "unit");
    id0[n] = '\0';
    if (!balai_gov_unit_get(d, id0))
        return balai_strdup(id0);
    for (unsigned i = 2;; i++) {
        char *id = balai_asprintf("%s-%u", id0, i);
        if (!balai_gov_unit_get(d, id))
            return id;
        free(id);
    }
}

int balai_gov_unit_is_admin(const struct balai_gov_directory *d, const char *unit_id,
                            const char *user_id)
{
    const struct balai_gov_unit *u = balai_gov_unit_get(d, unit_id);

    for (int depth = 0; u && depth < CHAIN_MAX; depth++) {
        for (size_t i = 0; i < u->n_admins; i++) {
            if (strcmp(u->admins[i], user_id) == 0)
                return 1;
        }
        u = balai_gov_unit_get(d, u->parent_id);
    }
    return 0;
}

/* ---- search ---- */

struct balai_gov_query {
    char *words[QUERY_WORDS];
    size_t n;
};

static int word_char(unsigned char c)
{
    return isalnum(c) || c >= 0x80; /* UTF-8 bytes are part of words */
}

struct balai_gov_query *balai_gov_query_new(const char *q)
{
    struct balai_gov_query *query = balai_calloc(1, sizeof(*query));
    const char *p = q ? q : "";

    while (*p && query->n < QUERY_WORDS) {
        while (*p && !word_char((unsigned char)*p))
            p++;
        const char *s = p;
        while (*p && word_char((unsigned char)*p))
            p++;
        if (p > s) {
            char *w = balai_strndup(s, (size_t)(p - s));
            for (char *c = w; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            query->words[query->n++] = w;
        }
    }
    return query;
}

void balai_gov_query_free(struct balai_gov_query *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++)
        free(q->words[i]);
    free(q);
}

/* Whether `w` (lower case) prefixes a word of text. */
static int prefixes_a_word(const char *w, const char *text)
{
    size_t wl = strlen(w);
    const unsigned char *p = (const unsigned char *)text;

    while (*p) {
        while (*p && !word_char(*p))
            p++;
        if (!*p)
            break;
        size_t i = 0;
        while (i < wl && p[i] && (unsigned char)tolower(p[i]) == (unsigned char)w[i])
            i++;
        if (i == wl)
            return 1;
        while (*p && word_char(*p))
            p++;
    }
    return 0;
}

int balai_gov_query_match(const struct balai_gov_query *q, const char *const *texts, size_t n)
{
    for (size_t w = 0; w < q->n; w++) {
        int hit = 0;
        for (size_t i = 0; i < n && !hit; i++)
            hit = texts[i] && prefixes_a_word(q->words[w], texts[i]);
        if (!hit)
            return 0;
    }
    return 1;
}

int balai_gov_directory_match(const struct balai_gov_directory *d, const struct balai_gov_query *q,
                              const char *user_id, const struct balai_gov_person *p,
                              const char *alt_name)
{
    const char *texts[4 + CHAIN_MAX];
    char local[256];
    size_t n = 0;

    if (q->n == 0)
        return 1;
    if (user_id) {
        const char *colon = strchr(user_id, ':');
        size_t l = colon ? (size_t)(colon - user_id) : strlen(user_id);
        if (l && user_id[0] == '@') {
            user_id++;
            l--;
        }
        if (l >= sizeof(local))
            l = sizeof(local) - 1;
        memcpy(local, user_id, l);
        local[l] = '\0';
        texts[n++] = local;
    }
    texts[n++] = alt_name;
    if (p) {
        texts[n++] = p->display_name;
        texts[n++] = p->title;
        texts[n++] = p->employee_number;
        const struct balai_gov_unit *u = balai_gov_unit_get(d, p->unit_id);
        for (int depth = 0; u && depth < CHAIN_MAX; depth++) {
            texts[n++] = u->name;
            u = balai_gov_unit_get(d, u->parent_id);
        }
    }
    return balai_gov_query_match(q, texts, n);
}

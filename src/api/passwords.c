/* passwords.c: Argon2id on the bounded password pool. */
#include "balai.h"

#include <stdlib.h>
#include <string.h>

#include "api/passwords.h"
#include "crypto/crypto.h"
#include "net/pool.h"
#include "util/alloc.h"

struct pw_job {
    int verify;
    int known; /* hash was given */
    char *hash;
    char *pw;
    struct balai_pwhash_cost cost;
    int rc;
    char out[BALAI_PWHASH_STRBYTES];
    balai_pw_done_fn done;
    void *arg;
};

static void work(void *arg)
{
    struct pw_job *j = arg;
    if (j->verify) {
        j->rc = balai_pwhash_verify(j->hash, j->pw, strlen(j->pw));
        if (!j->known)
            j->rc = BALAI_EAUTH;
    } else {
        j->rc = balai_pwhash(j->pw, strlen(j->pw), &j->cost, j->out);
    }
}

static void done(void *arg)
{
    struct pw_job *j = arg;
    j->done(j->arg, j->rc, j->verify ? NULL : j->out);
    balai_wipe(j->pw, strlen(j->pw));
    free(j->pw);
    free(j->hash);
    free(j);
}

static int submit(struct balai_app *app, int verify, const char *hash, const char *pw,
                  balai_pw_done_fn cb, void *arg)
{
    struct pw_job *j = balai_calloc(1, sizeof(*j));
    j->verify = verify;
    j->known = hash != NULL;
    j->hash = balai_strdup(hash ? hash : app->dummy_hash);
    j->pw = balai_strdup(pw);
    j->cost = app->pwcost;
    j->done = cb;
    j->arg = arg;
    int rc = balai_pool_submit(app->hash_pool, work, done, j);
    if (rc != BALAI_OK) {
        balai_wipe(j->pw, strlen(j->pw));
        free(j->pw);
        free(j->hash);
        free(j);
    }
    return rc;
}

int balai_api_pw_verify(struct balai_app *app, const char *hash, const char *pw,
                        balai_pw_done_fn cb, void *arg)
{
    return submit(app, 1, hash, pw, cb, arg);
}

int balai_api_pw_hash(struct balai_app *app, const char *pw, balai_pw_done_fn cb, void *arg)
{
    return submit(app, 0, NULL, pw, cb, arg);
}

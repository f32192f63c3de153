/* test_keystore.c: unit tests for src/crypto/keystore.c (key file, sealed
 * keystore: persistence, wrong KEK, tampering, deletion, threads). */
#include "balai.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "crypto/keystore.h"
#include "util/alloc.h"
#include "util/log.h"

struct fixture {
    char dir[64];
    char *keyfile;
    char *store;
};

static int setup(void **state)
{
    struct fixture *f = balai_calloc(1, sizeof(*f));

    unsetenv(BALAI_KEK_ENV);
    snprintf(f->dir, sizeof(f->dir), "/tmp/balai-test-keystore-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->keyfile = balai_asprintf("%s/kek", f->dir);
    f->store = balai_asprintf("%s/keystore", f->dir);
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    unsetenv(BALAI_KEK_ENV);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f->keyfile);
    free(f->store);
    free(f);
    return 0;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *data = balai_malloc(1 << 20);

    assert_non_null(fp);
    *len = fread(data, 1, 1 << 20, fp);
    fclose(fp);
    return data;
}

static void spit(const char *path, const uint8_t *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

static void test_keyfile(void **state)
{
    struct fixture *f = *state;
    uint8_t kek[32], kek2[32];
    struct stat st;
    size_t len;
    uint8_t *data;

    assert_int_equal(balai_keyfile_load(f->keyfile, kek), BALAI_ENOTFOUND);
    assert_int_equal(balai_keyfile_create(f->keyfile), BALAI_OK);
    assert_int_equal(stat(f->keyfile, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    data = slurp(f->keyfile, &len);
    assert_int_equal(len, 65);
    assert_int_equal(data[64], '\n');
    assert_int_equal(strspn((const char *)data, "0123456789abcdef"), 64);

    assert_int_equal(balai_keyfile_load(f->keyfile, kek), BALAI_OK);
    data[64] = '\0';
    assert_int_equal(balai_hex_decode((const char *)data, kek2, 32), BALAI_OK);
    assert_memory_equal(kek, kek2, 32);
    free(data);

    /* Never overwritten. */
    assert_int_equal(balai_keyfile_create(f->keyfile), BALAI_EEXIST);
    assert_int_equal(balai_keyfile_load(f->keyfile, kek2), BALAI_OK);
    assert_memory_equal(kek, kek2, 32);

    /* Readable by others: refused. */
    assert_int_equal(chmod(f->keyfile, 0644), 0);
    assert_int_equal(balai_keyfile_load(f->keyfile, kek2), BALAI_EFORBIDDEN);
    assert_int_equal(chmod(f->keyfile, 0640), 0);
    assert_int_equal(balai_keyfile_load(f->keyfile, kek2), BALAI_EFORBIDDEN);
    assert_int_equal(chmod(f->keyfile, 0400), 0);
    assert_int_equal(balai_keyfile_load(f->keyfile, kek2), BALAI_OK);

    assert_int_equal(chmod(f->keyfile, 0600), 0);

    /* Malformed contents. */
    const char *bad[] = {"", "abcd\n", "zz" /* not hex */,
                         "0000000000000000000000000000000000000000000000000000000000000000\n\n"};
    for (size_t i = 0; i < BALAI_ARRAY_LEN(bad); i++) {
        write_text(f->keyfile, bad[i], 0600);
        assert_int_equal(balai_keyfile_load(f->keyfile, kek2), BALAI_ECONFIG);
    }
    /* No trailing newline is fine, upper case too. */
    write_text(f->keyfile, "00000000000000000000000000000000000000000000000000000000000000FF",
               0600);
    assert_int_equal(balai_keyfile_load(f->keyfile, kek2), BALAI_OK);
    assert_int_equal(kek2[31], 0xff);
    assert_int_equal(kek2[0], 0);
}

static void test_keyfile_env(void **state)
{
    struct fixture *f = *state;
    uint8_t kek[32];

    assert_int_equal(balai_keyfile_create(f->keyfile), BALAI_OK);
    setenv(BALAI_KEK_ENV, "0101010101010101010101010101010101010101010101010101010101010101", 1);
    assert_int_equal(balai_keyfile_load(f->keyfile, kek), BALAI_OK);
    for (int i = 0; i < 32; i++)
        assert_int_equal(kek[i], 1);
    /* The file is not needed (nor checked) when the variable is set. */
    assert_int_equal(balai_keyfile_load("/nonexistent/kek", kek), BALAI_OK);
    assert_int_equal(chmod(f->keyfile, 0644), 0);
    assert_int_equal(balai_keyfile_load(f->keyfile, kek), BALAI_OK);

    setenv(BALAI_KEK_ENV, "0101", 1);
    assert_int_equal(balai_keyfile_load(f->keyfile, kek), BALAI_ECONFIG);
    setenv(BALAI_KEK_ENV, "", 1);
    assert_int_equal(balai_keyfile_load(f->keyfile, kek), BALAI_ECONFIG);
    unsetenv(BALAI_KEK_ENV);
    assert_int_equal(balai_keyfile_load(f->keyfile, kek), BALAI_EFORBIDDEN);
}

static void test_keystore_basic(void **state)
{
    struct fixture *f = *state;
    uint8_t kek[32], k0[32], k1[32], got[32];
    struct balai_keystore *ks = NULL;
    struct stat st;

    balai_random_bytes(kek, 32);
    assert_int_equal(balai_keystore_open(f->store, kek, 0, &ks), BALAI_ENOTFOUND);
    assert_null(ks);
    assert_int_equal(balai_keystore_open(f->store, kek, 1, &ks), BALAI_OK);
    assert_non_null(ks);
    assert_int_equal(stat(f->store, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    assert_int_equal(balai_keystore_count(ks), 0);

    assert_int_equal(balai_keystore_get(ks, "room:!a:example.org:0", got), BALAI_ENOTFOUND);
    assert_int_equal(balai_keystore_create_key(ks, "room:!a:example.org:0", k0), BALAI_OK);
    assert_int_equal(balai_keystore_create_key(ks, "room:!a:example.org:0", got), BALAI_EEXIST);
    assert_int_equal(balai_keystore_get(ks, "room:!a:example.org:0", got), BALAI_OK);
    assert_memory_equal(got, k0, 32);
    assert_int_equal(balai_keystore_get_or_create(ks, "room:!a:example.org:1", k1), BALAI_OK);
    assert_memory_not_equal(k0, k1, 32);
    assert_int_equal(balai_keystore_get_or_create(ks, "room:!a:example.org:1", got), BALAI_OK);
    assert_memory_equal(got, k1, 32);
    assert_int_equal(balai_keystore_count(ks), 2);
    balai_keystore_free(ks);
    ks = NULL;

    /* No temp file left behind; the key is not stored in clear. */
    assert_int_equal(access(f->store, F_OK), 0);
    char *tmp = balai_asprintf("%s.tmp", f->store);
    assert_int_not_equal(access(tmp, F_OK), 0);
    free(tmp);
    size_t len;
    uint8_t *data = slurp(f->store, &len);
    assert_memory_equal(data, "BALAIKS1", 8);
    assert_null(memmem(data, len, k0, 32));
    assert_null(memmem(data, len, "room:", 5));
    free(data);

    /* create = 1 never overwrites. */
    assert_int_equal(balai_keystore_open(f->store, kek, 1, &ks), BALAI_EEXIST);
    assert_null(ks);

    /* Reopen from disk: the same keys. */
    assert_int_equal(balai_keystore_open(f->store, kek, 0, &ks), BALAI_OK);
    assert_int_equal(balai_keystore_count(ks), 2);
    assert_int_equal(balai_keystore_get(ks, "room:!a:example.org:0", got), BALAI_OK);
    assert_memory_equal(got, k0, 32);
    assert_int_equal(balai_keystore_get(ks, "room:!a:example.org:1", got), BALAI_OK);
    assert_memory_equal(got, k1, 32);

    /* Delete, then it is gone, also after reopening. */
    assert_int_equal(balai_keystore_delete(ks, "room:!a:example.org:0"), BALAI_OK);
    assert_int_equal(balai_keystore_delete(ks, "room:!a:example.org:0"), BALAI_ENOTFOUND);
    assert_int_equal(balai_keystore_get(ks, "room:!a:example.org:0", got), BALAI_ENOTFOUND);
    balai_keystore_free(ks);
    assert_int_equal(balai_keystore_open(f->store, kek, 0, &ks), BALAI_OK);
    assert_int_equal(balai_keystore_count(ks), 1);
    assert_int_equal(balai_keystore_get(ks, "room:!a:example.org:0", got), BALAI_ENOTFOUND);
    assert_int_equal(balai_keystore_get(ks, "room:!a:example.org:1", got), BALAI_OK);
    assert_memory_equal(got, k1, 32);
    /* Recreating a deleted name gives a new key. */
    assert_int_equal(balai_keystore_create_key(ks, "room:!a:example.org:0", got), BALAI_OK);
    assert_memory_not_equal(got, k0, 32);
    balai_keystore_free(ks);
    balai_keystore_free(NULL);
}

static void test_keystore_wrong_kek_and_tamper(void **state)
{
    struct fixture *f = *state;
    uint8_t kek[32], kek2[32], got[32];
    struct balai_keystore *ks = NULL;
    uint8_t *data;
    size_t len;

    balai_random_bytes(kek, 32);
    memcpy(kek2, kek, 32);
    kek2[31] ^= 1;

    /* Empty keystore: the check value still catches a wrong KEK. */
    assert_int_equal(balai_keystore_open(f->store, kek, 1, &ks), BALAI_OK);
    balai_keystore_free(ks);
    ks = NULL;
    assert_int_equal(balai_keystore_open(f->store, kek2, 0, &ks), BALAI_ECRYPTO);
    assert_null(ks);

    assert_int_equal(balai_keystore_open(f->store, kek, 0, &ks), BALAI_OK);
    assert_int_equal(balai_keystore_create_key(ks, "k", got), BALAI_OK);
    balai_keystore_free(ks);
    ks = NULL;
    assert_int_equal(balai_keystore_open(f->store, kek2, 0, &ks), BALAI_ECRYPTO);

    /* Flip one byte anywhere after the magic: ECRYPTO. */
    data = slurp(f->store, &len);
    for (size_t pos = 8; pos < len; pos += 7) {
        data[pos] ^= 0x10;
        spit(f->store, data, len);
        assert_int_equal(balai_keystore_open(f->store, kek, 0, &ks), BALAI_ECRYPTO);
        assert_null(ks);
        data[pos] ^= 0x10;
    }
    /* Truncated. */
    spit(f->store, data, len - 1);
    assert_int_equal(balai_keystore_open(f->store, kek, 0, &ks), BALAI_ECRYPTO);
    /* Bad magic, too short, empty: not a keystore. */
    data[7] = '2';
    spit(f->store, data, len);
    assert_int_equal(balai_keystore_open(f->store, kek, 0, &ks), BALAI_EINVAL);
    data[7] = '1';
    spit(f->store, data, 20);
    assert_int_equal(balai_keystore_open(f->store, kek, 0, &ks), BALAI_EINVAL);
    spit(f->store, data, 0);
    assert_int_equal(balai_keystore_open(f->store, kek, 0, &ks), BALAI_EINVAL);
    /* Restored: opens again. */
    spit(f->store, data, len);
    assert_int_equal(balai_keystore_open(f->store, kek, 0, &ks), BALAI_OK);
    assert_int_equal(balai_keystore_get(ks, "k", got), BALAI_OK);
    balai_keystore_free(ks);
    free(data);
}

static void test_keystore_names(void **state)
{
    struct fixture *f = *state;
    uint8_t kek[32], key[32], got[32];
    struct balai_keystore *ks = NULL;
    char name[300];

    balai_random_bytes(kek, 32);
    assert_int_equal(balai_keystore_open(f->store, kek, 1, &ks), BALAI_OK);
    assert_int_equal(balai_keystore_create_key(ks, "", key), BALAI_EINVAL);
    assert_int_equal(balai_keystore_create_key(ks, NULL, key), BALAI_EINVAL);
    assert_int_equal(balai_keystore_create_key(ks, "a\nb", key), BALAI_EINVAL);
    assert_int_equal(balai_keystore_create_key(ks, "caf\xc3\xa9", key), BALAI_EINVAL);
    assert_int_equal(balai_keystore_get(ks, "a\nb", key), BALAI_EINVAL);
    assert_int_equal(balai_keystore_delete(ks, ""), BALAI_EINVAL);
    memset(name, 'x', 256);
    name[256] = '\0';
    assert_int_equal(balai_keystore_create_key(ks, name, key), BALAI_EINVAL);
    name[255] = '\0';
    assert_int_equal(balai_keystore_create_key(ks, name, key), BALAI_OK);
    assert_int_equal(balai_keystore_create_key(ks, "with space ~!", got), BALAI_OK);
    balai_keystore_free(ks);
    assert_int_equal(balai_keystore_open(f->store, kek, 0, &ks), BALAI_OK);
    assert_int_equal(balai_keystore_get(ks, name, got), BALAI_OK);
    assert_memory_equal(got, key, 32);
    assert_int_equal(balai_keystore_count(ks), 2);
    balai_keystore_free(ks);
}

/* Many names, in and out of order: the sorted table and the file agree. */
static void test_keystore_many(void **state)
{
    struct fixture *f = *state;
    enum { N = 200 };
    uint8_t kek[32], keys[N][32], got[32];
    struct balai_keystore *ks = NULL;
    char name[32];

    balai_random_bytes(kek, 32);
    assert_int_equal(balai_keystore_open(f->store, kek, 1, &ks), BALAI_OK);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "room:%d:0", (i * 37) % N);
        assert_int_equal(balai_keystore_create_key(ks, name, keys[(i * 37) % N]), BALAI_OK);
    }
    for (int i = 0; i < N; i += 3) {
        snprintf(name, sizeof(name), "room:%d:0", i);
        assert_int_equal(balai_keystore_delete(ks, name), BALAI_OK);
    }
    balai_keystore_free(ks);
    assert_int_equal(balai_keystore_open(f->store, kek, 0, &ks), BALAI_OK);
    assert_int_equal(balai_keystore_count(ks), N - (N + 2) / 3);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "room:%d:0", i);
        if (i % 3 == 0) {
            assert_int_equal(balai_keystore_get(ks, name, got), BALAI_ENOTFOUND);
        } else {
            assert_int_equal(balai_keystore_get(ks, name, got), BALAI_OK);
            assert_memory_equal(got, keys[i], 32);
        }
    }
    balai_keystore_free(ks);
}

struct thread_arg {
    struct balai_keystore *ks;
    uint8_t keys[20][32];
    int failures;
};

static void *race(void *p)
{
    struct thread_arg *a = p;
    char name[32];

    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "room:%d:0", i);
        if (balai_keystore_get_or_create(a->ks, name, a->keys[i]) != BALAI_OK)
            a->failures++;
    }
    return NULL;
}

/* Threads racing to create the same keys all get the same ones. */
static void test_keystore_threads(void **state)
{
    struct fixture *f = *state;
    enum { T = 4 };
    uint8_t kek[32];
    struct balai_keystore *ks = NULL;
    pthread_t th[T];
    struct thread_arg *args = balai_calloc(T, sizeof(*args));

    balai_random_bytes(kek, 32);
    assert_int_equal(balai_keystore_open(f->store, kek, 1, &ks), BALAI_OK);
    for (int t = 0; t < T; t++) {
        args[t].ks = ks;
        assert_int_equal(pthread_create(&th[t], NULL, race, &args[t]), 0);
    }
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(balai_keystore_count(ks), 20);
    for (int t = 0; t < T; t++) {
        assert_int_equal(args[t].failures, 0);
        assert_memory_equal(args[t].keys, args[0].keys, sizeof(args[0].keys));
    }
    balai_keystore_free(ks);
    free(args);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keyfile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keystore_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keystore_wrong_kek_and_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keystore_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keystore_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keystore_threads, setup, teardown),
    };

    if (balai_crypto_init() != BALAI_OK)
        return 1;
    /* The error paths under test log; keep the output quiet. */
    balai_log_set_level(BALAI_LOG_OFF);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* keystore.c: the KEK key file and the sealed keystore of data keys.
 *
 * The keystore is a sorted array of (name, key) in memory, rewritten whole to
 * disk (temp file, fsync, rename, fsync dir) on each change. See keystore.h for
 * the file formats and the locking rules. */
#include "balai.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "crypto/keystore.h"
#include "util/alloc.h"

#define LOG_MODULE "keystore"
#include "util/log.h"

#define KS_MAGIC "BALAIKS1"
#define KS_MAGIC_LEN 8
#define KS_ENTRY_MIN (1 + 1 + BALAI_KEYSTORE_KEYBYTES) /* name_len, 1-byte name, key */
#define KS_FILE_MAX ((size_t)512 << 20)
#define KEYFILE_MAX 256 /* bytes read from a key file; a valid one has 64 or 65 */

struct ks_entry {
    char *name; /* NUL-terminated, owned */
    size_t namelen;
    uint8_t key[BALAI_KEYSTORE_KEYBYTES];
};

struct balai_keystore {
    char *path;
    char *tmp_path;
    uint8_t seal_key[BALAI_SEAL_KEYBYTES]; /* balai_kdf(kek, "keystore") */
    /* Held by every change, across the file write. Only a holder of this
     * mutex modifies entries, so a holder may read entries without `lock`. */
    pthread_mutex_t write_mu;
    /* Guards entries/n/alloc against concurrent readers; never held across I/O. */
    pthread_rwlock_t lock;
    struct ks_entry *entries; /* sorted by strcmp(name) */
    size_t n;
    size_t alloc;
};

/* ---- Small file helpers ---- */

static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;

    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* fsyncs the directory holding path, so a create or rename in it is durable. */
static int fsync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd, rc = BALAI_OK;

    if (!slash)
        dir = balai_strdup(".");
    else if (slash == path)
        dir = balai_strdup("/");
    else
        dir = balai_strndup(path, (size_t)(slash - path));
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        LOG_ERROR("cannot fsync directory %s: %s", dir, strerror(errno));
        rc = BALAI_EIO;
    }
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

/* Reads the whole file at path (at most max bytes) into a new buffer with a
 * NUL after the data. Caller frees *out (and wipes it if secret). With
 * owner_only, fails with BALAI_EFORBIDDEN, before reading, if the file grants
 * any permission to group or others. */
static int read_file(const char *path, size_t max, int owner_only, uint8_t **out, size_t *outlen)
{
    struct stat st;
    uint8_t *data = NULL;
    size_t len = 0;
    int fd, rc = BALAI_OK;

    *out = NULL;
    *outlen = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return BALAI_ENOTFOUND;
        LOG_ERROR("cannot open %s: %s", path, strerror(errno));
        return BALAI_EIO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        LOG_ERROR("%s is not a regular file", path);
        rc = BALAI_EIO;
        goto out;
    }
    if (owner_only && (st.st_mode & (S_IRWXG | S_IRWXO))) {
        rc = BALAI_EFORBIDDEN;
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        LOG_ERROR("%s is too large (%lld bytes)", path, (long long)st.st_size);
        rc = BALAI_ETOOBIG;
        goto out;
    }
    data = balai_malloc((size_t)st.st_size + 1);
    while (len < (size_t)st.st_size) {
        ssize_t r = read(fd, data + len, (size_t)st.st_size - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            LOG_ERROR("cannot read %s: %s", path, strerror(errno));
            rc = BALAI_EIO;
            goto out;
        }
        if (r == 0)
            break; /* shrank under us: take what is there */
        len += (size_t)r;
    }
    data[len] = '\0';
    *out = data;
    *outlen = len;
    data = NULL;
out:
    free(data);
    close(fd);
    return rc;
}

/* ---- Key file ---- */

int balai_keyfile_create(const char *path)
{
    uint8_t kek[BALAI_KEK_BYTES];
    char line[2 * BALAI_KEK_BYTES + 2];
    int fd, rc = BALAI_OK;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return BALAI_EEXIST;
        LOG_ERROR("cannot create key file %s: %s", path, strerror(errno));
        return BALAI_EIO;
    }
    balai_random_bytes(kek, sizeof(kek));
    balai_hex_encode(kek, sizeof(kek), line);
    line[2 * BALAI_KEK_BYTES] = '\n';
    line[2 * BALAI_KEK_BYTES + 1] = '\0';
    /* The umask can only narrow 0600; fchmod makes it exactly 0600. */
    if (fchmod(fd, 0600) != 0 || write_all(fd, line, 2 * BALAI_KEK_BYTES + 1) != 0 ||
        fsync(fd) != 0) {
        LOG_ERROR("cannot write key file %s: %s", path, strerror(errno));
        rc = BALAI_EIO;
    }
    if (close(fd) != 0 && rc == BALAI_OK) {
        LOG_ERROR("cannot write key file %s: %s", path, strerror(errno));
        rc = BALAI_EIO;
    }
    if (rc == BALAI_OK)
        rc = fsync_parent_dir(path);
    if (rc != BALAI_OK)
        unlink(path);
    balai_wipe(kek, sizeof(kek));
    balai_wipe(line, sizeof(line));
    return rc;
}

int balai_keyfile_load(const char *path, uint8_t kek[32])
{
    const char *env = getenv(BALAI_KEK_ENV);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc;

    if (env) {
        if (balai_hex_decode(env, kek, BALAI_KEK_BYTES) != BALAI_OK) {
            LOG_ERROR("%s must hold %d hex digits", BALAI_KEK_ENV, 2 * BALAI_KEK_BYTES);
            return BALAI_ECONFIG;
        }
        return BALAI_OK;
    }
    rc = read_file(path, KEYFILE_MAX, 1, &data, &len);
    if (rc == BALAI_EFORBIDDEN)
        LOG_ERROR("key file %s is accessible to group or others; it must be readable by its "
                  "owner only: run chmod 600 %s",
                  path, path);
    if (rc == BALAI_ETOOBIG)
        rc = BALAI_ECONFIG;
    if (rc != BALAI_OK)
        goto out;
    if (len > 0 && data[len - 1] == '\n')
        len--;
    data[len] = '\0';
    if (balai_hex_decode((const char *)data, kek, BALAI_KEK_BYTES) != BALAI_OK) {
        LOG_ERROR("key file %s must hold %d hex digits", path, 2 * BALAI_KEK_BYTES);
        rc = BALAI_ECONFIG;
    }
out:
    if (data)
        balai_wipe(data, len);
    free(data);
    return rc;
}

/* ---- Keystore: in-memory table ---- */

/* A valid name is 1..255 bytes of printable ASCII. Returns its length or 0. */
static size_t name_len(const char *name)
{
    size_t i;

    if (!name)
        return 0;
    for (i = 0; name[i]; i++) {
        if (i >= BALAI_KEYSTORE_NAME_MAX || (unsigned char)name[i] < 0x20 ||
            (unsigned char)name[i] > 0x7e)
            return 0;
    }
    return i;
}

/* Binary search. Returns 1 and *idx = its index if found, else 0 and *idx =
 * where it would be inserted. */
static int find(const struct balai_keystore *ks, const char *name, size_t *idx)
{
    size_t lo = 0, hi = ks->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, ks->entries[mid].name);
        if (c == 0) {
            *idx = mid;
            return 1;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *idx = lo;
    return 0;
}

static void insert_at(struct balai_keystore *ks, size_t idx, const char *name, size_t namelen,
                      const uint8_t key[32])
{
    if (ks->n == ks->alloc) {
        size_t na = ks->alloc ? ks->alloc * 2 : 16;
        struct ks_entry *ne = balai_calloc(na, sizeof(*ne));
        /* Copy rather than realloc, so no stale key bytes are left behind. */
        if (ks->n)
            memcpy(ne, ks->entries, ks->n * sizeof(*ne));
        if (ks->entries) {
            balai_wipe(ks->entries, ks->alloc * sizeof(*ks->entries));
            free(ks->entries);
        }
        ks->entries = ne;
        ks->alloc = na;
    }
    memmove(&ks->entries[idx + 1], &ks->entries[idx], (ks->n - idx) * sizeof(*ks->entries));
    ks->entries[idx].name = balai_strndup(name, namelen);
    ks->entries[idx].namelen = namelen;
    memcpy(ks->entries[idx].key, key, BALAI_KEYSTORE_KEYBYTES);
    ks->n++;
}

static void remove_at(struct balai_keystore *ks, size_t idx)
{
    free(ks->entries[idx].name);
    memmove(&ks->entries[idx], &ks->entries[idx + 1], (ks->n - idx - 1) * sizeof(*ks->entries));
    ks->n--;
    balai_wipe(&ks->entries[ks->n], sizeof(*ks->entries));
}

/* ---- Keystore: file ---- */

static void put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Writes one entry at p; returns its size. */
static size_t put_entry(uint8_t *p, const char *name, size_t nl, const uint8_t *key)
{
    p[0] = (uint8_t)nl;
    memcpy(p + 1, name, nl);
    memcpy(p + 1 + nl, key, BALAI_KEYSTORE_KEYBYTES);
    return 1 + nl + BALAI_KEYSTORE_KEYBYTES;
}

/* Builds the file image of the table, leaving out entry `skip` (SIZE_MAX for
 * none) and adding (extra_name, extra_key) when extra_name is not NULL. The
 * caller holds write_mu and frees *out. */
static void serialize(const struct balai_keystore *ks, size_t skip, const char *extra_name,
                      size_t extra_len, const uint8_t *extra_key, uint8_t **out, size_t *outlen)
{
    size_t plen = 4, count = 0, off;
    uint8_t *plain, *file;

    for (size_t i = 0; i < ks->n; i++) {
        if (i != skip) {
            plen += 1 + ks->entries[i].namelen + BALAI_KEYSTORE_KEYBYTES;
            count++;
        }
    }
    if (extra_name) {
        plen += 1 + extra_len + BALAI_KEYSTORE_KEYBYTES;
        count++;
    }
    plain = balai_malloc(plen);
    put_u32le(plain, (uint32_t)count);
    off = 4;
    for (size_t i = 0; i < ks->n; i++) {
        if (i != skip)
            off += put_entry(plain + off, ks->entries[i].name, ks->entries[i].namelen,
                             ks->entries[i].key);
    }
    if (extra_name)
        off += put_entry(plain + off, extra_name, extra_len, extra_key);
    assert(off == plen);

    *outlen = KS_MAGIC_LEN + plen + BALAI_SEAL_OVERHEAD;
    file = balai_malloc(*outlen);
    memcpy(file, KS_MAGIC, KS_MAGIC_LEN);
    balai_seal(ks->seal_key, KS_MAGIC, KS_MAGIC_LEN, plain, plen, file + KS_MAGIC_LEN);
    balai_wipe(plain, plen);
    free(plain);
    *out = file;
}

/* Writes data to the temp file and moves it to ks->path durably. With
 * exclusive, fails with BALAI_EEXIST instead of replacing an existing file. */
static int persist(struct balai_keystore *ks, const uint8_t *data, size_t len, int exclusive)
{
    int fd, rc = BALAI_OK;

    fd = open(ks->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        LOG_ERROR("cannot create %s: %s", ks->tmp_path, strerror(errno));
        return BALAI_EIO;
    }
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        LOG_ERROR("cannot write %s: %s", ks->tmp_path, strerror(errno));
        rc = BALAI_EIO;
    }
    if (close(fd) != 0 && rc == BALAI_OK) {
        LOG_ERROR("cannot write %s: %s", ks->tmp_path, strerror(errno));
        rc = BALAI_EIO;
    }
    if (rc != BALAI_OK)
        goto out;
    if (exclusive) {
        /* link(2) fails if the target exists: an atomic "create, never replace". */
        if (link(ks->tmp_path, ks->path) != 0) {
            rc = errno == EEXIST ? BALAI_EEXIST : BALAI_EIO;
            if (rc == BALAI_EIO)
                LOG_ERROR("cannot create %s: %s", ks->path, strerror(errno));
            goto out;
        }
    } else if (rename(ks->tmp_path, ks->path) != 0) {
        LOG_ERROR("cannot rename %s to %s: %s", ks->tmp_path, ks->path, strerror(errno));
        rc = BALAI_EIO;
        goto out;
    }
    rc = fsync_parent_dir(ks->path);
out:
    if (exclusive || rc != BALAI_OK)
        unlink(ks->tmp_path);
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ks_entry *)a)->name, ((const struct ks_entry *)b)->name);
}

/* Parses a file image into the (empty) table. */
static int load(struct balai_keystore *ks, const uint8_t *data, size_t len)
{
    uint8_t *plain = NULL;
    size_t plen = 0, off, count;
    int rc;

    if (len < KS_MAGIC_LEN + BALAI_SEAL_OVERHEAD + 4 || memcmp(data, KS_MAGIC, KS_MAGIC_LEN) != 0) {
        LOG_ERROR("%s is not a Balai keystore", ks->path);
        return BALAI_EINVAL;
    }
    plen = len - KS_MAGIC_LEN - BALAI_SEAL_OVERHEAD;
    plain = balai_malloc(plen);
    rc = balai_unseal(ks->seal_key, KS_MAGIC, KS_MAGIC_LEN, data + KS_MAGIC_LEN, len - KS_MAGIC_LEN,
                      plain);
    if (rc != BALAI_OK) {
        LOG_ERROR("cannot open keystore %s: wrong key encryption key, or the file was altered",
                  ks->path);
        rc = BALAI_ECRYPTO;
        goto out;
    }
    /* Authenticated from here on: a malformed body is a bug, not an attack. */
    rc = BALAI_ECRYPTO;
    count = get_u32le(plain);
    if (count > (plen - 4) / KS_ENTRY_MIN)
        goto corrupt;
    ks->alloc = count > 16 ? count : 16;
    ks->entries = balai_calloc(ks->alloc, sizeof(*ks->entries));
    off = 4;
    for (size_t i = 0; i < count; i++) {
        size_t nl;
        if (off >= plen)
            goto corrupt;
        nl = plain[off++];
        if (nl == 0 || plen - off < nl + BALAI_KEYSTORE_KEYBYTES)
            goto corrupt;
        struct ks_entry *e = &ks->entries[ks->n];
        e->name = balai_strndup((const char *)plain + off, nl);
        e->namelen = nl;
        ks->n++;
        if (name_len(e->name) != nl)
            goto corrupt;
        off += nl;
        memcpy(e->key, plain + off, BALAI_KEYSTORE_KEYBYTES);
        off += BALAI_KEYSTORE_KEYBYTES;
    }
    if (off != plen)
        goto corrupt;
    qsort(ks->entries, ks->n, sizeof(*ks->entries), entry_cmp);
    for (size_t i = 1; i < ks->n; i++) {
        if (strcmp(ks->entries[i - 1].name, ks->entries[i].name) == 0)
            goto corrupt;
    }
    rc = BALAI_OK;
    goto out;
corrupt:
    LOG_ERROR("keystore %s is malformed", ks->path);
out:
    balai_wipe(plain, plen);
    free(plain);
    return rc;
}

/* ---- Keystore: public API ---- */

int balai_keystore_open(const char *path, const uint8_t kek[32], int create,
                        struct balai_keystore **out)
{
    struct balai_keystore *ks = balai_calloc(1, sizeof(*ks));
    uint8_t *data = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    ks->path = balai_strdup(path);
    ks->tmp_path = balai_asprintf("%s.tmp", path);
    balai_kdf(kek, "keystore", ks->seal_key);
    pthread_mutex_init(&ks->write_mu, NULL);
    pthread_rwlock_init(&ks->lock, NULL);

    if (create) {
        serialize(ks, SIZE_MAX, NULL, 0, NULL, &data, &len);
        rc = persist(ks, data, len, 1);
        if (rc == BALAI_OK)
            LOG_INFO("created keystore %s", path);
    } else {
        rc = read_file(path, KS_FILE_MAX, 0, &data, &len);
        if (rc == BALAI_OK)
            rc = load(ks, data, len);
    }
    if (rc != BALAI_OK)
        goto out;
    *out = ks;
    ks = NULL;
out:
    free(data);
    balai_keystore_free(ks);
    return rc;
}

void balai_keystore_free(struct balai_keystore *ks)
{
    if (!ks)
        return;
    for (size_t i = 0; i < ks->n; i++)
        free(ks->entries[i].name);
    if (ks->entries)
        balai_wipe(ks->entries, ks->alloc * sizeof(*ks->entries));
    free(ks->entries);
    balai_wipe(ks->seal_key, sizeof(ks->seal_key));
    pthread_rwlock_destroy(&ks->lock);
    pthread_mutex_destroy(&ks->write_mu);
    free(ks->path);
    free(ks->tmp_path);
    free(ks);
}

int balai_keystore_get(struct balai_keystore *ks, const char *name, uint8_t key[32])
{
    size_t idx;
    int rc = BALAI_ENOTFOUND;

    if (name_len(name) == 0)
        return BALAI_EINVAL;
    pthread_rwlock_rdlock(&ks->lock);
    if (find(ks, name, &idx)) {
        memcpy(key, ks->entries[idx].key, BALAI_KEYSTORE_KEYBYTES);
        rc = BALAI_OK;
    }
    pthread_rwlock_unlock(&ks->lock);
    return rc;
}

/* Creates the key; the caller holds write_mu and has checked name. */
static int create_locked(struct balai_keystore *ks, const char *name, size_t nl, uint8_t key[32])
{
    uint8_t newkey[BALAI_KEYSTORE_KEYBYTES];
    uint8_t *data = NULL;
    size_t idx, len = 0;
    int rc;

    if (find(ks, name, &idx))
        return BALAI_EEXIST;
    balai_random_bytes(newkey, sizeof(newkey));
    serialize(ks, SIZE_MAX, name, nl, newkey, &data, &len);
    rc = persist(ks, data, len, 0);
    if (rc == BALAI_OK) {
        pthread_rwlock_wrlock(&ks->lock);
        insert_at(ks, idx, name, nl, newkey);
        pthread_rwlock_unlock(&ks->lock);
        memcpy(key, newkey, BALAI_KEYSTORE_KEYBYTES);
    }
    balai_wipe(newkey, sizeof(newkey));
    free(data);
    return rc;
}

int balai_keystore_create_key(struct balai_keystore *ks, const char *name, uint8_t key[32])
{
    size_t nl = name_len(name);
    int rc;

    if (nl == 0)
        return BALAI_EINVAL;
    pthread_mutex_lock(&ks->write_mu);
    rc = create_locked(ks, name, nl, key);
    pthread_mutex_unlock(&ks->write_mu);
    return rc;
}

int balai_keystore_get_or_create(struct balai_keystore *ks, const char *name, uint8_t key[32])
{
    size_t nl = name_len(name), idx;
    int rc;

    if (nl == 0)
        return BALAI_EINVAL;
    rc = balai_keystore_get(ks, name, key);
    if (rc != BALAI_ENOTFOUND)
        return rc;
    pthread_mutex_lock(&ks->write_mu);
    if (find(ks, name, &idx)) {
        /* Created by another thread meanwhile; holding write_mu, no read lock needed. */
        memcpy(key, ks->entries[idx].key, BALAI_KEYSTORE_KEYBYTES);
        rc = BALAI_OK;
    } else {
        rc = create_locked(ks, name, nl, key);
    }
    pthread_mutex_unlock(&ks->write_mu);
    return rc;
}

int balai_keystore_delete(struct balai_keystore *ks, const char *name)
{
    uint8_t *data = NULL;
    size_t idx, len = 0;
    int rc;

    if (name_len(name) == 0)
        return BALAI_EINVAL;
    pthread_mutex_lock(&ks->write_mu);
    if (!find(ks, name, &idx)) {
        rc = BALAI_ENOTFOUND;
        goto out;
    }
    serialize(ks, idx, NULL, 0, NULL, &data, &len);
    rc = persist(ks, data, len, 0);
    if (rc == BALAI_OK) {
        pthread_rwlock_wrlock(&ks->lock);
        remove_at(ks, idx);
        pthread_rwlock_unlock(&ks->lock);
    }
out:
    pthread_mutex_unlock(&ks->write_mu);
    free(data);
    return rc;
}

size_t balai_keystore_count(struct balai_keystore *ks)
{
    size_t n;

    pthread_rwlock_rdlock(&ks->lock);
    n = ks->n;
    pthread_rwlock_unlock(&ks->lock);
    return n;
}

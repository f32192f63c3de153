/* sqlite_int.h: what the SQLite backend's files share (store/sqlite/ only). */
#ifndef BALAI_STORE_SQLITE_SQLITE_INT_H
#define BALAI_STORE_SQLITE_SQLITE_INT_H

#include <stddef.h>

/* One schema migration. Versions start at 1 and increase by one; a
 * migration, once released, is never edited: changes go in a new one. */
struct balai_sqlite_migration {
    int version;
    const char *name; /* short description, recorded in schema_migrations */
    const char *sql;  /* one or more statements, run in one transaction */
};

extern const struct balai_sqlite_migration balai_sqlite_migrations[];
extern const size_t balai_sqlite_migrations_len;

#endif

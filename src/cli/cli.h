/* cli.h: the `balai` command's verbs and what they share.
 *
 * Each verb is a function taking its own argv (argv[0] is the verb) and
 * returning the process exit code. While a server runs on a data directory,
 * admin verbs talk to it over DATA/balai.sock (HTTP on a unix socket, mode
 * 0600: file permissions are the authentication), so its caches stay right;
 * when none runs, they work on the database directly while holding the data
 * directory's lock. */
#ifndef BALAI_CLI_CLI_H
#define BALAI_CLI_CLI_H

#include <stddef.h>

#include "config.h"

int balai_cli_init(int argc, char **argv);
int balai_cli_serve(int argc, char **argv);
int balai_cli_user(int argc, char **argv);
int balai_cli_directory(int argc, char **argv);
int balai_cli_audit(int argc, char **argv);
int balai_cli_scim(int argc, char **argv);
int balai_cli_offboarding(int argc, char **argv); /* cli/offboard.c */
/* `balai user offboard NAME [--reason TEXT]` (cli/offboard.c, called by cli/user.c). */
int balai_cli_user_offboard(const struct balai_config *cfg, const char *name, const char *reason);
int balai_cli_rooms(int argc, char **argv);
int balai_cli_dlp(int argc, char **argv);
int balai_cli_db(int argc, char **argv); /* cli/db.c */

/* Prints "balai: <message>" to stderr. */
void balai_cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Loads DATA/balai.conf (or config_file), the environment, and validates.
 * Fails with a one-line message (and the hint to run `balai init`) when the
 * data directory is missing or not initialised. */
int balai_cli_load_config(const char *data_dir, const char *config_file, struct balai_config *cfg,
                          char *err, size_t errlen);

/* Takes the data directory's exclusive lock (DATA/balai.lock) without
 * waiting. Returns the fd (keep it open to hold the lock) or -1 with errno
 * EWOULDBLOCK when another process holds it. */
int balai_cli_lock(const char *data_dir);

/* One HTTP request to the server on DATA/balai.sock. Returns BALAI_OK with the
 * status and the body (caller frees), or BALAI_ECLOSED when no server listens. */
int balai_cli_request(const char *data_dir, const char *method, const char *path, const char *body,
                      int *status, char **resp);

/* Reads all of stdin (at most max bytes), strips one trailing newline. Caller frees. */
char *balai_cli_read_stdin(size_t max);

#endif

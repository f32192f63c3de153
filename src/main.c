/* main.c: the `balai` command: dispatches to the verbs in cli/. */
#include "balai.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Balai %s: the organisation's own messenger (Matrix Client-Server API).\n\n"
            "usage: balai [--version] [--help] VERB [ARGS]\n\n"
            "verbs:\n"
            "  init    create a data directory:   balai init --data-dir DIR [--server-name NAME]\n"
            "  serve   run the server:            balai serve [--data-dir DIR] [--listen A:P]\n"
            "  user    manage accounts:           balai user add|list|deactivate|offboard ...\n"
            "  offboarding  check a record:       balai offboarding verify FILE|USER\n"
            "  directory  the org directory:      balai directory import FILE.csv [--dry-run]\n"
            "  audit   check the audit trail:     balai audit verify|list [--data-dir DIR]\n"
            "  rooms   the organisation's rooms:  balai rooms list|archive|unarchive ...\n"
            "  dlp     data-loss prevention:      balai dlp policy|detector|incidents ...\n"
            "  scim    provisioning tokens:       balai scim token create|list|revoke ...\n"
            "  db      the database:              balai db migrate-to postgres://... | migrate\n\n"
            "Run 'balai VERB --help' for a verb's options. Documentation: README.md and docs/.\n",
            BALAI_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "--version") == 0 || strcmp(verb, "version") == 0) {
        printf("balai %s\n", BALAI_VERSION);
        return 0;
    }
    if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 || strcmp(verb, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(verb, "init") == 0)
        return balai_cli_init(argc - 1, argv + 1);
    if (strcmp(verb, "serve") == 0)
        return balai_cli_serve(argc - 1, argv + 1);
    if (strcmp(verb, "user") == 0)
        return balai_cli_user(argc - 1, argv + 1);
    if (strcmp(verb, "directory") == 0)
        return balai_cli_directory(argc - 1, argv + 1);
    if (strcmp(verb, "audit") == 0)
        return balai_cli_audit(argc - 1, argv + 1);
    if (strcmp(verb, "offboarding") == 0)
        return balai_cli_offboarding(argc - 1, argv + 1);
    if (strcmp(verb, "rooms") == 0)
        return balai_cli_rooms(argc - 1, argv + 1);
    if (strcmp(verb, "dlp") == 0)
        return balai_cli_dlp(argc - 1, argv + 1);
    if (strcmp(verb, "scim") == 0)
        return balai_cli_scim(argc - 1, argv + 1);
    if (strcmp(verb, "db") == 0)
        return balai_cli_db(argc - 1, argv + 1);
    fprintf(stderr, "balai: unknown verb '%s'\n\n", verb);
    usage(stderr);
    return 2;
}

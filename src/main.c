/* main.c: the sluice binary: `serve` runs the server; append, read and subscribe are its clients. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "api/serve.h"
#include "cli/cli.h"
#include "util/config.h"
#include "util/log.h"
#include "util/version.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sluice <command> [options]\n\n"
            "commands:\n"
            "  %-11s %s\n",
            "serve", "run the event store server");
    sl_cli_commands_usage(out);
    fprintf(out, "  %-11s %s\n", "connectors", "manage connectors (create, list, start, stop, ...)");
    fprintf(out, "\n'sluice <command> --help' shows a command's options; 'sluice --version' the version.\n");
}

static int serve(int argc, char **argv)
{
    struct sl_config cfg;
    struct sl_error err = {0};
    if (sl_config_load(argc, argv, &cfg, &err) != SL_OK) {
        fprintf(stderr, "sluice: %s\n(see sluice serve --help)\n", err.message);
        return SL_EXIT_USAGE;
    }
    if (cfg.wants_help) {
        sl_config_usage(stdout);
        sl_config_free(&cfg);
        return SL_EXIT_OK;
    }
    sl_log_set_level(cfg.log_level);
    int code = sl_serve_main(&cfg);
    sl_config_free(&cfg);
    return code;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return SL_EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 || strcmp(command, "help") == 0) {
        usage(stdout);
        return SL_EXIT_OK;
    }
    if (strcmp(command, "--version") == 0) {
        puts("sluice " SL_VERSION);
        return SL_EXIT_OK;
    }
    bool is_connectors = strcmp(command, "connectors") == 0;
    if (strcmp(command, "serve") != 0 && !is_connectors && !sl_cli_is_command(command)) {
        fprintf(stderr, "sluice: unknown command '%s'\n\n", command);
        usage(stderr);
        return SL_EXIT_USAGE;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "sluice: cannot initialise libcurl\n");
        return 70; /* EX_SOFTWARE */
    }
    int code;
    if (strcmp(command, "serve") == 0)
        code = serve(argc - 2, argv + 2);
    else if (is_connectors)
        code = sl_cli_connectors_main(argc - 2, argv + 2);
    else
        code = sl_cli_main(command, argc - 2, argv + 2);
    curl_global_cleanup();
    return code;
}

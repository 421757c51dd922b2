/* cli.h: the client commands of the sluice binary: append, read and subscribe.
 *
 * Each command talks to a running server over HTTP: `--server URL`, else the
 * environment variable SLUICE_SERVER, else http://127.0.0.1:2113. Results go
 * to stdout (JSON; one event per line for read and subscribe), problems to
 * stderr as one line `sluice: <message>`. sl_cli_main() returns the process
 * exit code and never calls exit():
 *   0   done (for subscribe: the server ended the stream);
 *   1   the server refused (its message is printed), or answered what the
 *       client cannot understand, or stdout could not be written;
 *   2   the server could not be reached, or the connection broke;
 *   64  bad usage or a bad value given on the command line.
 *
 * curl_global_init() must have run before sl_cli_main(). Reads the environment. */
#ifndef SL_CLI_CLI_H
#define SL_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#define SL_EXIT_OK 0
#define SL_EXIT_REFUSED 1
#define SL_EXIT_UNREACHABLE 2
#define SL_EXIT_USAGE 64

/* Whether `command` is one of the client commands. */
bool sl_cli_is_command(const char *command);

/* Runs `command` with the `argc` arguments that follow it. */
int sl_cli_main(const char *command, int argc, char **argv);

/* `sluice connectors <command> ...`: the connectors management API. */
int sl_cli_connectors_main(int argc, char **argv);

/* Prints one line per client command (name and summary), for `sluice --help`. */
void sl_cli_commands_usage(FILE *out);

#endif

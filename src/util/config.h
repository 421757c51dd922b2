/* config.h: the settings of `sluice serve`, from flags, environment and a config file.
 *
 * Every option has one name used everywhere: the flag `--data-dir DIR` (or
 * `--data-dir=DIR`), the environment variable `SLUICE_DATA_DIR` and the
 * config-file line `data-dir: DIR`. Precedence: flag > environment > config
 * file > default. The config file is the one named by `--config` or
 * `SLUICE_CONFIG`; there is none by default.
 *
 * Config file syntax: one `key: value` per line; blank lines and lines whose
 * first non-blank character is `#` are ignored, as is a ` #...` comment after
 * a value. A value may be wrapped in "double" or 'single' quotes (no escapes),
 * which keeps a `#` in it. Relative paths are relative to the working
 * directory, not to the config file. An empty environment variable counts as
 * unset.
 *
 * Sizes (`--map-size`, `--max-*-bytes`) are decimal byte counts, optionally
 * followed by KiB, MiB, GiB or TiB. `--max-append-events` is a plain count.
 * 0 means "the component's default" for each of them.
 *
 * Every value given is checked, including one that a higher-precedence source
 * overrides, so that a mistake does not wait to surface until the override is
 * removed.
 *
 * sl_config_load() fills `out` and returns SL_OK, or returns SL_E_INVALID (or
 * SL_E_NOMEM) with `err` naming the culprit: the flag, the environment variable
 * or the file, line and key. On failure `out` holds nothing to free, and
 * sl_config_free() on it is harmless. `--help` (or `-h`) is not an error: it
 * sets `wants_help` and stops parsing.
 *
 * Reads the process environment (getenv), so call it before starting threads
 * that might change it. Otherwise pure: it never exits or prints. */
#ifndef SL_UTIL_CONFIG_H
#define SL_UTIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/error.h"
#include "util/log.h"

struct sl_config {
    char *data_dir;              /* default "./data" */
    char *listen_host;           /* without brackets: "127.0.0.1", "::1", "localhost" */
    int listen_port;             /* 0-65535; 0 = an ephemeral port */
    char *config_file;           /* the file read, or NULL when none */
    enum sl_log_level log_level; /* default SL_LOG_INFO */

    size_t map_size;          /* initial LMDB map size; 0 = store default */
    size_t max_body_bytes;    /* request body; 0 = server default (16 MiB) */
    size_t max_event_bytes;   /* one event's data + metadata; 0 = store default (8 MiB) */
    size_t max_append_events; /* events in one append; 0 = store default (10 000) */
    size_t max_header_bytes;  /* request header block; 0 = server default (64 KiB) */
    size_t header_timeout_ms; /* 0 = server default */
    size_t request_timeout_ms;
    size_t idle_timeout_ms;
    char *admin_token; /* may see connector secrets; NULL = nobody */

    bool wants_help; /* --help was given: print sl_config_usage() and stop */
};

/* `argv` holds the `argc` arguments after `serve`. */
enum sl_code sl_config_load(int argc, char **argv, struct sl_config *out, struct sl_error *err);

/* Frees the strings and zeroes `cfg`. NULL-safe, and safe to call twice. */
void sl_config_free(struct sl_config *cfg);

/* Prints the usage of `sluice serve`: every option, its variable and default. */
void sl_config_usage(FILE *out);

#endif

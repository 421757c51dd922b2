#include "util/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/codec.h"

/* ---- the table: one row per option drives flags, environment, file, checks and usage ---- */

enum opt_type {
    OPT_PATH,      /* a non-empty string */
    OPT_LISTEN,    /* HOST:PORT or [IPv6]:PORT */
    OPT_LOG_LEVEL, /* debug|info|warn|error */
    OPT_BYTES,     /* decimal, optional KiB/MiB/GiB/TiB */
    OPT_COUNT,     /* decimal */
};

#define OPT_NOT_IN_FILE 0x01u /* may not be set from the config file itself */

struct opt_def {
    const char *key; /* the flag without dashes, and the config-file key */
    const char *env;
    enum opt_type type;
    size_t offset; /* of the field in struct sl_config (unused for OPT_LISTEN) */
    unsigned flags;
    const char *metavar;
    const char *fallback; /* the default, as text; NULL = unset */
    const char *help;
};

#define FIELD(f) offsetof(struct sl_config, f)

static const struct opt_def opt_defs[] = {
    /* key               env                        type           field                      flags */
    {"data-dir", "SLUICE_DATA_DIR", OPT_PATH, FIELD(data_dir), 0, "DIR", "./data",
     "directory of the event store; created if missing"},
    {"listen", "SLUICE_LISTEN", OPT_LISTEN, 0, 0, "HOST:PORT", "127.0.0.1:2113",
     "address to serve HTTP on; [::1]:PORT for IPv6; port 0 picks a free port"},
    {"config", "SLUICE_CONFIG", OPT_PATH, FIELD(config_file), OPT_NOT_IN_FILE, "FILE", NULL,
     "config file of `key: value` lines (keys as the flags, without dashes)"},
    {"log-level", "SLUICE_LOG_LEVEL", OPT_LOG_LEVEL, FIELD(log_level), 0, "LEVEL", "info",
     "debug, info, warn or error"},
    {"map-size", "SLUICE_MAP_SIZE", OPT_BYTES, FIELD(map_size), 0, "BYTES", "0",
     "initial LMDB map size; grows on demand; 0 = store default"},
    {"max-body-bytes", "SLUICE_MAX_BODY_BYTES", OPT_BYTES, FIELD(max_body_bytes), 0, "BYTES", "0",
     "largest request body; 0 = 16 MiB"},
    {"max-event-bytes", "SLUICE_MAX_EVENT_BYTES", OPT_BYTES, FIELD(max_event_bytes), 0, "BYTES", "0",
     "largest event (data + metadata); 0 = 8 MiB"},
    {"max-append-events", "SLUICE_MAX_APPEND_EVENTS", OPT_COUNT, FIELD(max_append_events), 0, "N", "0",
     "most events in one append; 0 = 10000"},
    {"max-header-bytes", "SLUICE_MAX_HEADER_BYTES", OPT_BYTES, FIELD(max_header_bytes), 0, "BYTES", "0",
     "largest request header block; 0 = 64 KiB"},
    {"header-timeout-ms", "SLUICE_HEADER_TIMEOUT_MS", OPT_COUNT, FIELD(header_timeout_ms), 0, "MS", "0",
     "time a client has to send a request's headers; 0 = 10000"},
    {"request-timeout-ms", "SLUICE_REQUEST_TIMEOUT_MS", OPT_COUNT, FIELD(request_timeout_ms), 0, "MS", "0",
     "time a client has to send a whole request; 0 = 60000"},
    {"idle-timeout-ms", "SLUICE_IDLE_TIMEOUT_MS", OPT_COUNT, FIELD(idle_timeout_ms), 0, "MS", "0",
     "an idle HTTP/1.1 keep-alive connection is closed after this long; an idle HTTP/2 one is pinged, and "
     "closed when the PING is not answered within it; 0 = 60000"},
    {"admin-token", "SLUICE_ADMIN_TOKEN", OPT_PATH, FIELD(admin_token), 0, "TOKEN", NULL,
     "bearer token of the admin, who may see connector secrets with showSecrets=true; none by default"},
};

#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

static const char *const log_level_names[] = {
    [SL_LOG_DEBUG] = "debug",
    [SL_LOG_INFO] = "info",
    [SL_LOG_WARN] = "warn",
    [SL_LOG_ERROR] = "error",
};

/* A value as given by one source, before it is checked. */
struct raw_value {
    const char *text; /* NULL when this source does not set the option */
    char source[320]; /* "--listen", "SLUICE_LISTEN" or "FILE:LINE: listen" */
    int line;         /* config-file line, for duplicate keys */
};

/* The three sources, each indexed like opt_defs. */
struct layers {
    struct raw_value flag[N_OPTS];
    struct raw_value env[N_OPTS];
    struct raw_value file[N_OPTS];
    char *file_text[N_OPTS]; /* owned copies of the config file's values */
};

static const struct opt_def *find_opt(const char *key, size_t len, size_t *index)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        if (strlen(opt_defs[i].key) == len && memcmp(opt_defs[i].key, key, len) == 0) {
            *index = i;
            return &opt_defs[i];
        }
    }
    return NULL;
}

/* ---- value checks ---- */

static bool is_host_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

static bool is_ipv6_char(char c)
{
    return isxdigit((unsigned char)c) || c == ':' || c == '.';
}

/* Parses "HOST:PORT" or "[IPv6]:PORT" into an owned host (without brackets) and a port. */
static enum sl_code parse_listen(const char *text, const char *src, char **host, int *port,
                                 struct sl_error *err)
{
    const char *host_start;
    size_t host_len;
    const char *port_text;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL)
            return sl_field_errorf(err, SL_E_INVALID, "listen", "%s: '%s' has no closing ']'", src, text);
        if (close[1] != ':')
            return sl_field_errorf(err, SL_E_INVALID, "listen", "%s: '%s' has no port; expected [IPv6]:PORT",
                                   src, text);
        host_start = text + 1;
        host_len = (size_t)(close - host_start);
        port_text = close + 2;
        /* An optional zone ("fe80::1%eth0") follows a '%'. */
        size_t addr_len = strcspn(host_start, "%]");
        bool has_colon = memchr(host_start, ':', addr_len) != NULL;
        for (size_t i = 0; i < host_len; i++) {
            bool ok =
                i < addr_len ? is_ipv6_char(host_start[i]) : (i == addr_len || is_host_char(host_start[i]));
            if (!ok || !has_colon)
                return sl_field_errorf(err, SL_E_INVALID, "listen", "%s: '%.*s' is not an IPv6 address", src,
                                       (int)host_len, host_start);
        }
    } else {
        const char *colon = strrchr(text, ':');
        if (colon == NULL)
            return sl_field_errorf(err, SL_E_INVALID, "listen", "%s: '%s' has no port; expected HOST:PORT",
                                   src, text);
        host_start = text;
        host_len = (size_t)(colon - text);
        port_text = colon + 1;
        if (memchr(text, ':', host_len) != NULL)
            return sl_field_errorf(err, SL_E_INVALID, "listen",
                                   "%s: '%s': an IPv6 address goes in brackets, as in [::1]:2113", src, text);
        for (size_t i = 0; i < host_len; i++)
            if (!is_host_char(host_start[i]))
                return sl_field_errorf(err, SL_E_INVALID, "listen",
                                       "%s: '%.*s' is not a host name or address", src, (int)host_len,
                                       host_start);
    }

    if (host_len == 0)
        return sl_field_errorf(
            err, SL_E_INVALID, "listen",
            "%s: '%s' has no host; use 0.0.0.0:PORT or [::]:PORT to listen on every interface", src, text);
    if (host_len > 255)
        return sl_field_errorf(err, SL_E_INVALID, "listen", "%s: the host is %zu bytes long; at most 255",
                               src, host_len);
    int64_t p;
    if (!sl_parse_u63(port_text, strlen(port_text), &p) || p > 65535)
        return sl_field_errorf(err, SL_E_INVALID, "listen", "%s: port '%s' is not a number from 0 to 65535",
                               src, port_text);

    char *copy = strndup(host_start, host_len);
    if (copy == NULL)
        return sl_errorf(err, SL_E_NOMEM, "out of memory reading %s", src);
    free(*host);
    *host = copy;
    *port = (int)p;
    return SL_OK;
}

/* Parses digits with an optional binary unit (KiB, MiB, GiB, TiB; case and a space between don't matter). */
static enum sl_code parse_size(const struct opt_def *def, const char *text, const char *src, size_t *out,
                               struct sl_error *err)
{
    static const struct {
        const char *name;
        unsigned shift;
    } units[] = {{"kib", 10}, {"mib", 20}, {"gib", 30}, {"tib", 40}};

    size_t digits = 0;
    while (isdigit((unsigned char)text[digits]))
        digits++;
    const char *unit = text + digits;
    while (*unit == ' ')
        unit++;

    unsigned shift = 0;
    bool is_unit_ok = *unit == '\0';
    if (def->type == OPT_BYTES) {
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && !is_unit_ok; i++) {
            if (strcasecmp(unit, units[i].name) == 0) {
                shift = units[i].shift;
                is_unit_ok = true;
            }
        }
    }

    int64_t v;
    if (digits == 0 || !is_unit_ok) {
        if (def->type == OPT_BYTES)
            return sl_field_errorf(
                err, SL_E_INVALID, def->key,
                "%s: '%s' is not a size in bytes (digits, optionally followed by KiB, MiB, "
                "GiB or TiB)",
                src, text);
        return sl_field_errorf(err, SL_E_INVALID, def->key, "%s: '%s' is not a whole number", src, text);
    }
    if (!sl_parse_u63(text, digits, &v) || (uint64_t)v > (SIZE_MAX >> shift))
        return sl_field_errorf(err, SL_E_INVALID, def->key, "%s: '%s' is too large", src, text);
    *out = (size_t)v << shift;
    return SL_OK;
}

/* Checks `text` for option `def` and stores it in `cfg`, replacing what a lower layer set. */
static enum sl_code apply(struct sl_config *cfg, const struct opt_def *def, const char *text, const char *src,
                          struct sl_error *err)
{
    char *base = (char *)cfg;

    if (text[0] == '\0')
        return sl_field_errorf(err, SL_E_INVALID, def->key, "%s: needs a value (%s)", src, def->metavar);

    switch (def->type) {
    case OPT_PATH: {
        char **slot = (char **)(base + def->offset);
        char *copy = strdup(text);
        if (copy == NULL)
            return sl_errorf(err, SL_E_NOMEM, "out of memory reading %s", src);
        free(*slot);
        *slot = copy;
        return SL_OK;
    }
    case OPT_LISTEN:
        return parse_listen(text, src, &cfg->listen_host, &cfg->listen_port, err);
    case OPT_LOG_LEVEL: {
        enum sl_log_level *slot = (enum sl_log_level *)(base + def->offset);
        for (size_t i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++) {
            if (strcmp(text, log_level_names[i]) == 0) {
                *slot = (enum sl_log_level)i;
                return SL_OK;
            }
        }
        return sl_field_errorf(err, SL_E_INVALID, def->key,
                               "%s: '%s' is not a log level; expected debug, info, warn or error", src, text);
    }
    case OPT_BYTES:
    case OPT_COUNT:
        return parse_size(def, text, src, (size_t *)(base + def->offset), err);
    }
    return sl_errorf(err, SL_E_INTERNAL, "option %s has no type", def->key);
}

/* ---- sources ---- */

static enum sl_code read_flags(int argc, char **argv, struct layers *ls, bool *wants_help,
                               struct sl_error *err)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *wants_help = true;
            return SL_OK;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
            return sl_field_errorf(err, SL_E_INVALID, arg,
                                   "unexpected argument '%s'; serve takes only options", arg);

        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        size_t idx;
        const struct opt_def *def = find_opt(name, name_len, &idx);
        if (def == NULL)
            return sl_field_errorf(err, SL_E_INVALID, arg, "unknown option '--%.*s'", (int)name_len, name);

        const char *value;
        if (eq != NULL)
            value = eq + 1;
        else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
            value = argv[++i];
        else
            return sl_field_errorf(err, SL_E_INVALID, def->key, "--%s needs a value (%s)", def->key,
                                   def->metavar);

        ls->flag[idx].text = value;
        snprintf(ls->flag[idx].source, sizeof(ls->flag[idx].source), "--%s", def->key);
    }
    return SL_OK;
}

static void read_env(struct layers *ls)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        const char *v = getenv(opt_defs[i].env);
        if (v == NULL || v[0] == '\0')
            continue;
        ls->env[i].text = v;
        snprintf(ls->env[i].source, sizeof(ls->env[i].source), "%s", opt_defs[i].env);
    }
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Cuts a config-file value out of `s` in place: strips quotes or a trailing ` # comment`.
 * Returns NULL when a quote is not closed or something other than a comment follows it. */
static char *file_value(char *s)
{
    s = trim(s);
    if (s[0] == '"' || s[0] == '\'') {
        char *close = strchr(s + 1, s[0]);
        if (close == NULL)
            return NULL;
        *close = '\0';
        char *rest = close + 1;
        while (*rest == ' ' || *rest == '\t')
            rest++;
        if (*rest != '\0' && *rest != '#')
            return NULL;
        return s + 1;
    }
    for (char *p = s; *p; p++) {
        if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            break;
        }
    }
    return trim(s);
}

/* Reads `key: value` lines from `path` into ls->file. `via` says who named the file. */
static enum sl_code read_file(const char *path, const char *via, struct layers *ls, struct sl_error *err)
{
    enum sl_code rc = SL_OK;
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;

    FILE *f = fopen(path, "r");
    if (f == NULL)
        return sl_field_errorf(err, SL_E_INVALID, "config", "cannot read config file '%s' (from %s): %s",
                               path, via, strerror(errno));

    for (;;) {
        errno = 0;
        ssize_t n = getline(&line, &cap, f);
        if (n < 0) {
            if (ferror(f))
                rc =
                    sl_field_errorf(err, SL_E_INVALID, "config", "cannot read config file '%s' (from %s): %s",
                                    path, via, strerror(errno ? errno : EIO));
            break;
        }
        lineno++;
        if (strlen(line) != (size_t)n) {
            rc = sl_field_errorf(err, SL_E_INVALID, "config", "%s:%d: the line holds a NUL byte", path,
                                 lineno);
            break;
        }

        char *s = trim(line);
        if (s[0] == '\0' || s[0] == '#')
            continue;

        char *colon = strchr(s, ':');
        if (colon == NULL) {
            rc = sl_field_errorf(err, SL_E_INVALID, "config", "%s:%d: expected 'key: value', got '%.64s'",
                                 path, lineno, s);
            break;
        }
        *colon = '\0';
        char *key = trim(s);
        size_t idx;
        const struct opt_def *def = find_opt(key, strlen(key), &idx);
        if (def == NULL) {
            rc = sl_field_errorf(err, SL_E_INVALID, key, "%s:%d: unknown key '%.64s'%s", path, lineno, key,
                                 key[0] == '-' ? " (write keys without the dashes)" : "");
            break;
        }
        if (def->flags & OPT_NOT_IN_FILE) {
            rc = sl_field_errorf(err, SL_E_INVALID, def->key, "%s:%d: '%s' cannot be set in a config file",
                                 path, lineno, def->key);
            break;
        }
        if (ls->file_text[idx] != NULL) {
            rc = sl_field_errorf(err, SL_E_INVALID, def->key, "%s:%d: '%s' is already set on line %d", path,
                                 lineno, def->key, ls->file[idx].line);
            break;
        }
        char *value = file_value(colon + 1);
        if (value == NULL) {
            rc = sl_field_errorf(err, SL_E_INVALID, def->key, "%s:%d: %s: the quoted value is not closed",
                                 path, lineno, def->key);
            break;
        }
        ls->file_text[idx] = strdup(value);
        if (ls->file_text[idx] == NULL) {
            rc = sl_errorf(err, SL_E_NOMEM, "out of memory reading %s", path);
            break;
        }
        ls->file[idx].text = ls->file_text[idx];
        ls->file[idx].line = lineno;
        snprintf(ls->file[idx].source, sizeof(ls->file[idx].source), "%s:%d: %s", path, lineno, def->key);
    }

    free(line);
    fclose(f);
    return rc;
}

/* ---- the whole ---- */

enum sl_code sl_config_load(int argc, char **argv, struct sl_config *out, struct sl_error *err)
{
    enum sl_code rc = SL_OK;
    memset(out, 0, sizeof(*out));

    struct layers *ls = calloc(1, sizeof(*ls));
    if (ls == NULL)
        return sl_errorf(err, SL_E_NOMEM, "out of memory loading the configuration");

    rc = read_flags(argc, argv, ls, &out->wants_help, err);
    if (rc != SL_OK || out->wants_help)
        goto out;
    read_env(ls);

    size_t config_idx = 0;
    if (find_opt("config", strlen("config"), &config_idx) == NULL) {
        rc = sl_errorf(err, SL_E_INTERNAL, "the option table has no 'config' row");
        goto out;
    }
    const struct raw_value *cf = ls->flag[config_idx].text ? &ls->flag[config_idx] : &ls->env[config_idx];
    if (cf->text != NULL) {
        if (cf->text[0] == '\0') {
            rc = sl_field_errorf(err, SL_E_INVALID, "config", "%s: needs a value (FILE)", cf->source);
            goto out;
        }
        rc = read_file(cf->text, cf->source, ls, err);
        if (rc != SL_OK)
            goto out;
    }

    /* Lowest layer first, so each higher one overrides. */
    for (size_t i = 0; i < N_OPTS && rc == SL_OK; i++) {
        const struct opt_def *def = &opt_defs[i];
        if (def->fallback != NULL)
            rc = apply(out, def, def->fallback, "default", err);
        const struct raw_value *layer[] = {&ls->file[i], &ls->env[i], &ls->flag[i]};
        for (size_t l = 0; l < 3 && rc == SL_OK; l++)
            if (layer[l]->text != NULL)
                rc = apply(out, def, layer[l]->text, layer[l]->source, err);
    }

out:
    for (size_t i = 0; i < N_OPTS; i++)
        free(ls->file_text[i]);
    free(ls);
    if (rc != SL_OK)
        sl_config_free(out);
    return rc;
}

void sl_config_free(struct sl_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->data_dir);
    free(cfg->listen_host);
    free(cfg->config_file);
    free(cfg->admin_token);
    memset(cfg, 0, sizeof(*cfg));
}

void sl_config_usage(FILE *out)
{
    fprintf(out, "usage: sluice serve [options]\n\n"
                 "Runs the event store server until SIGINT or SIGTERM.\n\n"
                 "options (--name VALUE or --name=VALUE):\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const struct opt_def *def = &opt_defs[i];
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s %s", def->key, def->metavar);
        fprintf(out, "  %-30s %s\n", flag, def->help);
        fprintf(out, "  %-30s env %s", "", def->env);
        if (def->fallback != NULL)
            fprintf(out, "; default %s", def->fallback);
        fputc('\n', out);
    }
    fprintf(out, "  %-30s %s\n", "-h, --help", "print this help");
    fprintf(out, "\nEach option also comes from the environment and from the config file, as a line\n"
                 "'name: value' (e.g. 'listen: 127.0.0.1:2113'; '#' starts a comment).\n"
                 "Precedence: flag > environment > config file > default.\n"
                 "Sizes take an optional unit: KiB, MiB, GiB or TiB.\n");
}

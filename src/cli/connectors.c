/* connectors.c: `sluice connectors ...`: the connectors management API from
 * the command line (create, list, get, settings, start, stop, reset, rename,
 * reconfigure, delete). Prints the server's JSON answer on stdout. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "connectors/definition.h"
#include "sinks/sink.h"

static const char usage_text[] =
    "usage: sluice connectors <command> [ID] [options]\n\n"
    "commands:\n"
    "  list                         list connectors (--state S, --type T, --include-settings, "
    "--show-deleted)\n"
    "  create ID --type SINK        create a stopped connector; --name N, --set key=value (repeatable)\n"
    "  get ID                       show one connector with its settings\n"
    "  settings ID                  show its settings\n"
    "  reconfigure ID --set k=v...  replace its settings (applies on next start); --type SINK keeps or sets "
    "the sink\n"
    "  start ID [--position P]      start it (at position P: deliver from P on)\n"
    "  stop ID                      stop it\n"
    "  reset ID [--position P]      restart a stopped connector from P (default: the beginning)\n"
    "  rename ID --name N           rename it\n"
    "  delete ID                    delete a stopped connector\n"
    "  doc                          print the settings of every sink type as Markdown (no server needed)\n\n"
    "options: --server URL (default $SLUICE_SERVER, else " SL_CLIENT_DEFAULT_SERVER ")\n";

struct args {
    const char *command, *id, *server, *type, *name, *position, *state;
    bool include_settings, show_deleted;
    json_t *settings; /* from --set */
};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "sluice: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage_text);
    return SL_EXIT_USAGE;
}

static int parse(int argc, char **argv, struct args *a)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char **value = NULL;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(usage_text, stdout);
            return SL_EXIT_OK;
        } else if (strcmp(arg, "--include-settings") == 0) {
            a->include_settings = true;
            continue;
        } else if (strcmp(arg, "--show-deleted") == 0) {
            a->show_deleted = true;
            continue;
        } else if (strcmp(arg, "--server") == 0) {
            value = &a->server;
        } else if (strcmp(arg, "--type") == 0) {
            value = &a->type;
        } else if (strcmp(arg, "--name") == 0) {
            value = &a->name;
        } else if (strcmp(arg, "--position") == 0) {
            value = &a->position;
        } else if (strcmp(arg, "--state") == 0) {
            value = &a->state;
        } else if (strcmp(arg, "--set") == 0) {
            if (i + 1 >= argc)
                return usage_error("--set needs key=value", "");
            const char *kv = argv[++i];
            const char *eq = strchr(kv, '=');
            if (eq == NULL || eq == kv)
                return usage_error("--set takes key=value, not '%s'", kv);
            char *key = strndup(kv, (size_t)(eq - kv));
            json_object_set_new(a->settings, key, json_string(eq + 1));
            free(key);
            continue;
        } else if (arg[0] == '-') {
            return usage_error("unknown option '%s'", arg);
        } else if (a->command == NULL) {
            a->command = arg;
            continue;
        } else if (a->id == NULL) {
            a->id = arg;
            continue;
        } else {
            return usage_error("unexpected argument '%s'", arg);
        }
        if (i + 1 >= argc)
            return usage_error("%s needs a value", arg);
        *value = argv[++i];
    }
    if (a->command == NULL)
        return usage_error("%s", "a connectors command is required");
    return -1;
}

static int perform(struct sl_client *c, const char *method, const char *url, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    struct sl_request req = {.method = method,
                             .url = url,
                             .headers = headers,
                             .body = text ? text : "",
                             .body_len = text ? strlen(text) : 0};
    struct sl_response resp;
    struct sl_error err = {0};
    enum sl_code rc = sl_client_perform(c, &req, &resp, &err);
    free(text);
    int code = SL_EXIT_OK;
    if (rc != SL_OK) {
        fprintf(stderr, "sluice: %s\n", err.message);
        code = rc == SL_E_UNAVAILABLE ? SL_EXIT_UNREACHABLE : SL_EXIT_REFUSED;
    } else if (!sl_response_is_success(&resp)) {
        char msg[2048];
        sl_response_message(&resp, msg, sizeof(msg));
        fprintf(stderr, "sluice: %s\n", msg);
        /* The details name every broken rule: show them too. */
        json_t *doc = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(doc, "details"), i, d)
        {
            fprintf(stderr, "  %s: %s\n", json_string_value(json_object_get(d, "field")) ?: "",
                    json_string_value(json_object_get(d, "description")) ?: "");
        }
        json_decref(doc);
        code = SL_EXIT_REFUSED;
    } else {
        fwrite(resp.body.data ? resp.body.data : "", 1, resp.body.len, stdout);
        putchar('\n');
    }
    sl_response_free(&resp);
    return code;
}

static int run(struct sl_client *c, struct args *a)
{
    const char *cmd = a->command;
    bool needs_id = strcmp(cmd, "list") != 0;
    if (needs_id && a->id == NULL)
        return usage_error("'%s' needs a connector id", cmd);
    if (needs_id &&
        strspn(a->id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(a->id))
        return usage_error("'%s' is not a connector id: use A-Z, a-z, 0-9, _ and -", a->id);
    struct sl_buf url;
    sl_buf_init(&url);
    sl_buf_printf(&url, "%s/connectors", c->server);
    if (needs_id) {
        sl_buf_putc(&url, '/');
        sl_buf_puts(&url, a->id);
    }
    int code;
    json_t *body = NULL;
    if (strcmp(cmd, "list") == 0) {
        if (a->state)
            sl_client_query(c, &url, "state", a->state);
        if (a->type)
            sl_client_query(c, &url, "instanceTypeName", a->type);
        if (a->include_settings)
            sl_client_query(c, &url, "includeSettings", "true");
        if (a->show_deleted)
            sl_client_query(c, &url, "showDeleted", "true");
        code = perform(c, "GET", url.data, NULL);
    } else if (strcmp(cmd, "create") == 0 || strcmp(cmd, "reconfigure") == 0) {
        if (a->type)
            json_object_set_new(a->settings, "instanceTypeName", json_string(a->type));
        if (strcmp(cmd, "create") == 0) {
            body = json_pack("{s:O}", "settings", a->settings);
            if (a->name)
                json_object_set_new(body, "name", json_string(a->name));
            code = perform(c, "POST", url.data, body);
        } else {
            sl_buf_puts(&url, "/settings");
            code = perform(c, "PUT", url.data, a->settings);
        }
    } else if (strcmp(cmd, "get") == 0) {
        code = perform(c, "GET", url.data, NULL);
    } else if (strcmp(cmd, "settings") == 0) {
        sl_buf_puts(&url, "/settings");
        code = perform(c, "GET", url.data, NULL);
    } else if (strcmp(cmd, "start") == 0 || strcmp(cmd, "reset") == 0) {
        sl_buf_printf(&url, "/%s", cmd);
        if (a->position)
            sl_buf_printf(&url, "/%s", a->position);
        code = perform(c, "POST", url.data, NULL);
    } else if (strcmp(cmd, "stop") == 0) {
        sl_buf_puts(&url, "/stop");
        code = perform(c, "POST", url.data, NULL);
    } else if (strcmp(cmd, "rename") == 0) {
        if (a->name == NULL) {
            sl_buf_free(&url);
            return usage_error("%s", "rename needs --name");
        }
        sl_buf_puts(&url, "/rename");
        body = json_pack("{s:s}", "name", a->name);
        code = perform(c, "PUT", url.data, body);
    } else if (strcmp(cmd, "delete") == 0) {
        code = perform(c, "DELETE", url.data, NULL);
    } else {
        code = usage_error("unknown connectors command '%s'", cmd);
    }
    json_decref(body);
    sl_buf_free(&url);
    return code;
}

/* The settings reference, printed from the same tables that validate them. */
static int print_doc(void)
{
    struct sl_buf b;
    sl_buf_init(&b);
    sl_buf_puts(&b, "## Settings of every connector\n\n");
    sl_settings_write_markdown(&b, sl_connector_settings);
    for (const struct sl_sink_type *const *t = sl_sink_types(); *t; t++) {
        sl_buf_printf(&b, "\n## `%s`", (*t)->name);
        for (const char *const *alias = (*t)->aliases; alias && *alias; alias++)
            sl_buf_printf(&b, "%s`%s`", alias == (*t)->aliases ? " (also " : ", ", *alias);
        sl_buf_puts(&b, (*t)->aliases && (*t)->aliases[0] ? ")\n\n" : "\n\n");
        sl_settings_write_markdown(&b, (*t)->settings);
    }
    bool ok = !b.failed && fwrite(b.data, 1, b.len, stdout) == b.len;
    sl_buf_free(&b);
    return ok ? SL_EXIT_OK : SL_EXIT_REFUSED;
}

int sl_cli_connectors_main(int argc, char **argv)
{
    struct args a = {.settings = json_object()};
    int code = parse(argc, argv, &a);
    if (code < 0 && strcmp(a.command, "doc") == 0) {
        json_decref(a.settings);
        return print_doc();
    }
    if (code < 0) {
        const char *env = getenv("SLUICE_SERVER");
        const char *server = a.server ? a.server : env && env[0] ? env : SL_CLIENT_DEFAULT_SERVER;
        struct sl_client client;
        struct sl_error err = {0};
        if (sl_client_init(&client, server, &err) != SL_OK) {
            fprintf(stderr, "sluice: %s\n", err.message);
            code = SL_EXIT_REFUSED;
        } else {
            code = run(&client, &a);
            sl_client_free(&client);
        }
    }
    json_decref(a.settings);
    return code;
}

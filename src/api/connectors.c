/* connectors.c: the connectors management API (spec §3), on the manager.
 *
 * Commands go to the manager thread; its answer comes back to the loop with
 * sl_server_post. Errors have KurrentDB's shape, with sluice's kebab-case
 * `error` added: {"code": <gRPC code>, "error", "message", "details": [{"field", "description"}]}. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/request.h"
#include "api/respond.h"
#include "connectors/manager.h"
#include "util/codec.h"

enum {
    GRPC_INVALID_ARGUMENT = 3,
    GRPC_NOT_FOUND = 5,
    GRPC_ALREADY_EXISTS = 6,
    GRPC_RESOURCE_EXHAUSTED = 8,
    GRPC_INTERNAL = 13,
    GRPC_UNAVAILABLE = 14
};

static int grpc_code(enum sl_code code)
{
    switch (code) {
    case SL_E_INVALID:
    case SL_E_TOO_LARGE:
    case SL_E_WRONG_REVISION:
        return GRPC_INVALID_ARGUMENT;
    case SL_E_NOT_FOUND:
    case SL_E_DELETED:
        return GRPC_NOT_FOUND;
    case SL_E_EXISTS:
        return GRPC_ALREADY_EXISTS;
    case SL_E_FULL:
        return GRPC_RESOURCE_EXHAUSTED;
    case SL_E_IO:
    case SL_E_SHUTDOWN:
    case SL_E_UNAVAILABLE:
    case SL_E_TIMEOUT:
        return GRPC_UNAVAILABLE;
    default:
        return GRPC_INTERNAL;
    }
}

static void fail(struct sl_http_request *req, const struct sl_error *err, const struct sl_violations *v)
{
    json_t *details = json_array();
    if (v && v->count) {
        for (size_t i = 0; i < v->count; i++)
            json_array_append_new(details, json_pack("{s:s,s:s}", "field", v->items[i].field, "description",
                                                     v->items[i].description));
    } else if (err->field[0]) {
        json_array_append_new(details,
                              json_pack("{s:s,s:s}", "field", err->field, "description", err->message));
    }
    json_t *body = json_pack("{s:i,s:s,s:s,s:o}", "code", grpc_code(err->code), "error",
                             sl_code_name(err->code), "message", err->message, "details", details);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    int status = sl_api_status_of(err->code);
    if (err->code == SL_E_WRONG_REVISION)
        status = 400;
    if (text)
        sl_http_respond(req, status, "application/json", text, strlen(text), NULL);
    else
        sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
    free(text);
}

static void invalid(struct sl_http_request *req, const char *field, const char *message)
{
    struct sl_error err = {0};
    sl_field_errorf(&err, SL_E_INVALID, field, "%s", message);
    fail(req, &err, NULL);
}

static void respond_json(struct sl_http_request *req, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
        return;
    }
    sl_http_respond(req, 200, "application/json", text, strlen(text), NULL);
    free(text);
}

/* ---- commands ---- */

struct pending_command {
    struct sl_connector_command cmd;
    struct sl_api *api;
    struct sl_http_request *req;
    char *name;
};

static void free_pending(struct pending_command *p)
{
    sl_settings_free(&p->cmd.settings);
    sl_violations_free(&p->cmd.violations);
    free(p->name);
    free(p);
}

static void answer_on_loop(void *arg)
{
    struct pending_command *p = arg;
    if (p->cmd.code == SL_OK)
        sl_http_respond(p->req, 200, "application/json", "{}", 2, NULL);
    else
        fail(p->req, &p->cmd.err, &p->cmd.violations);
    free_pending(p);
}

static void command_done(struct sl_connector_command *cmd)
{
    struct pending_command *p = cmd->user;
    if (!sl_server_post(p->api->server, answer_on_loop, p))
        free_pending(p);
}

static struct pending_command *new_command(struct sl_api *api, struct sl_http_request *req,
                                           enum sl_connector_command_kind kind, const char *id)
{
    struct pending_command *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        sl_api_error(req, 500, "out-of-memory", NULL, "out of memory");
        return NULL;
    }
    p->api = api;
    p->req = req;
    p->cmd.kind = kind;
    p->cmd.user = p;
    p->cmd.done = command_done;
    snprintf(p->cmd.id, sizeof(p->cmd.id), "%s", id);
    sl_settings_init(&p->cmd.settings);
    return p;
}

static void submit(struct sl_api *api, struct pending_command *p)
{
    struct sl_error err = {0};
    if (sl_connectors_submit(api->connectors, &p->cmd, &err) != SL_OK) {
        fail(p->req, &err, NULL);
        free_pending(p);
    }
}

static json_t *parse_body(struct sl_http_request *req, bool allow_empty)
{
    if (allow_empty && req->body_len == 0)
        return json_object();
    json_error_t jerr;
    json_t *body = json_loadb(req->body, req->body_len, 0, &jerr);
    if (body == NULL) {
        char msg[256];
        snprintf(msg, sizeof(msg), "the body is not valid JSON: %s", jerr.text);
        invalid(req, "body", msg);
        return NULL;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        invalid(req, "body", "the body must be a JSON object");
        return NULL;
    }
    return body;
}

static void create(struct sl_api *api, struct sl_http_request *req, const char *id)
{
    json_t *body = parse_body(req, true);
    if (body == NULL)
        return;
    json_t *name = json_object_get(body, "name");
    if (name && !json_is_null(name) && !json_is_string(name)) {
        json_decref(body);
        invalid(req, "name", "name must be a string");
        return;
    }
    struct pending_command *p = new_command(api, req, SL_CMD_CREATE, id);
    if (p == NULL) {
        json_decref(body);
        return;
    }
    p->name = json_is_string(name) ? strdup(json_string_value(name)) : NULL;
    p->cmd.name = p->name;
    json_t *configuration = json_object_get(body, "configuration");
    json_t *settings = json_object_get(body, "settings");
    struct sl_error err = {0};
    enum sl_code code = SL_OK;
    /* When both are given, configuration wins (spec §2). */
    if (configuration && !json_is_null(configuration))
        code = sl_settings_from_nested_json(&p->cmd.settings, configuration, &err);
    else if (settings && !json_is_null(settings))
        code = sl_settings_from_flat_json(&p->cmd.settings, settings, &err);
    json_decref(body);
    if (code) {
        fail(req, &err, NULL);
        free_pending(p);
        return;
    }
    submit(api, p);
}

static void reconfigure(struct sl_api *api, struct sl_http_request *req, const char *id, bool nested)
{
    json_t *body = parse_body(req, false);
    if (body == NULL)
        return;
    struct pending_command *p = new_command(api, req, SL_CMD_RECONFIGURE, id);
    if (p == NULL) {
        json_decref(body);
        return;
    }
    /* The body is the map itself; a {"settings": {...}} wrapper is accepted too. */
    json_t *inner = json_object_get(body, nested ? "configuration" : "settings");
    json_t *map = json_is_object(inner) && json_object_size(body) == 1 ? inner : body;
    struct sl_error err = {0};
    enum sl_code code = nested ? sl_settings_from_nested_json(&p->cmd.settings, map, &err)
                               : sl_settings_from_flat_json(&p->cmd.settings, map, &err);
    json_decref(body);
    if (code) {
        fail(req, &err, NULL);
        free_pending(p);
        return;
    }
    submit(api, p);
}

static void rename_connector(struct sl_api *api, struct sl_http_request *req, const char *id)
{
    json_t *body = parse_body(req, false);
    if (body == NULL)
        return;
    json_t *name = json_object_get(body, "name");
    if (!json_is_string(name)) {
        json_decref(body);
        invalid(req, "name", "name is required: a string of 3 to 50 characters");
        return;
    }
    struct pending_command *p = new_command(api, req, SL_CMD_RENAME, id);
    if (p) {
        p->name = strdup(json_string_value(name));
        p->cmd.name = p->name;
    }
    json_decref(body);
    if (p)
        submit(api, p);
}

static void simple_command(struct sl_api *api, struct sl_http_request *req,
                           enum sl_connector_command_kind kind, const char *id, const char *position,
                           size_t position_len)
{
    int64_t pos = 0;
    if (position && !sl_parse_u63(position, position_len, &pos)) {
        invalid(req, "position", "the position must be a number >= 0");
        return;
    }
    struct pending_command *p = new_command(api, req, kind, id);
    if (p == NULL)
        return;
    p->cmd.has_position = position != NULL;
    p->cmd.position = (uint64_t)pos;
    submit(api, p);
}

/* ---- queries ---- */

static bool query_bool(struct sl_http_request *req, const char *name, bool *out)
{
    char *v = sl_http_query_param(req, name);
    *out = false;
    if (v == NULL)
        return true;
    bool ok = strcmp(v, "true") == 0 || strcmp(v, "false") == 0 || strcmp(v, "") == 0;
    *out = strcmp(v, "true") == 0;
    free(v);
    if (!ok) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%s must be true or false", name);
        invalid(req, name, msg);
    }
    return ok;
}

static bool query_size(struct sl_http_request *req, const char *name, size_t def, size_t max, size_t *out)
{
    char *v = sl_http_query_param(req, name);
    *out = def;
    if (v == NULL)
        return true;
    int64_t n;
    bool ok = sl_parse_u63(v, strlen(v), &n) && n >= 1 && (size_t)n <= max;
    free(v);
    if (!ok) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%s must be a number from 1 to %zu", name, max);
        invalid(req, name, msg);
        return false;
    }
    *out = (size_t)n;
    return true;
}

/* Secrets are shown only to an admin: a request bearing the server's admin
 * token. Without a configured token, never. */
static bool wants_secrets(struct sl_api *api, struct sl_http_request *req, bool *ok)
{
    bool show;
    *ok = query_bool(req, "showSecrets", &show);
    if (!*ok || !show)
        return false;
    const char *auth = sl_http_header(req, "authorization");
    return api->admin_token && api->admin_token[0] && auth && strncmp(auth, "Bearer ", 7) == 0 &&
           strcmp(auth + 7, api->admin_token) == 0;
}

static void list(struct sl_api *api, struct sl_http_request *req)
{
    struct sl_connector_query q = {0};
    bool ok;
    q.show_secrets = wants_secrets(api, req, &ok);
    if (!ok || !query_bool(req, "includeSettings", &q.include_settings) ||
        !query_bool(req, "showDeleted", &q.show_deleted) ||
        !query_size(req, "page", 1, SIZE_MAX / 100000, &q.page) ||
        !query_size(req, "pageSize", 100, 10000, &q.page_size))
        return;
    char *states = sl_http_query_param(req, "state");
    if (states && !sl_connector_states_are_valid(states)) {
        free(states);
        invalid(req, "state",
                "state must be CONNECTOR_STATE_ACTIVATING, _RUNNING, _DEACTIVATING or _STOPPED "
                "(comma-separated)");
        return;
    }
    char *types = sl_http_query_param(req, "instanceTypeName");
    char *ids = sl_http_query_param(req, "connectorId");
    q.states = states;
    q.instance_types = types;
    q.ids = ids;
    respond_json(req, sl_connectors_list(api->connectors, &q));
    free(states);
    free(types);
    free(ids);
}

static void get_one(struct sl_api *api, struct sl_http_request *req, const char *id, const char *what)
{
    bool ok;
    bool show = wants_secrets(api, req, &ok);
    if (!ok)
        return;
    json_t *out;
    struct sl_error err = {0};
    enum sl_code code = what == NULL
                            ? sl_connectors_get(api->connectors, id, show, &out, &err)
                            : sl_connectors_settings(api->connectors, id, strcmp(what, "configuration") == 0,
                                                     show, &out, &err);
    if (code)
        fail(req, &err, NULL);
    else
        respond_json(req, out);
}

/* ---- routing ---- */

static bool is(const char *s, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(s, word, len) == 0;
}

void sl_api_connectors(struct sl_api *api, struct sl_http_request *req, const char *const *seg,
                       const size_t *len, size_t n)
{
    const char *m = req->method;
    bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0, put = strcmp(m, "PUT") == 0,
         del = strcmp(m, "DELETE") == 0;
    if (api->connectors == NULL) {
        sl_api_error(req, 503, "unavailable", NULL, "connectors are not available");
        return;
    }
    if (n == 1) {
        if (get)
            list(api, req);
        else
            sl_api_error(req, 405, "method-not-allowed", NULL, "use GET to list connectors");
        return;
    }
    char id[64];
    if (len[1] >= sizeof(id)) {
        invalid(req, "connectorId", "the id must be 5 to 50 characters of A-Z, a-z, 0-9, _ and -");
        return;
    }
    memcpy(id, seg[1], len[1]);
    id[len[1]] = '\0';
    const char *action = n >= 3 ? seg[2] : NULL;
    size_t alen = n >= 3 ? len[2] : 0;

    if (n == 2 && post)
        create(api, req, id);
    else if (n == 2 && get)
        get_one(api, req, id, NULL);
    else if (n == 2 && del)
        simple_command(api, req, SL_CMD_DELETE, id, NULL, 0);
    else if (n == 3 && is(action, alen, "settings") && put)
        reconfigure(api, req, id, false);
    else if (n == 3 && is(action, alen, "configuration") && put)
        reconfigure(api, req, id, true);
    else if (n == 3 && is(action, alen, "settings") && get)
        get_one(api, req, id, "settings");
    else if (n == 3 && is(action, alen, "configuration") && get)
        get_one(api, req, id, "configuration");
    else if (n == 3 && is(action, alen, "rename") && put)
        rename_connector(api, req, id);
    else if (n == 3 && is(action, alen, "stop") && post)
        simple_command(api, req, SL_CMD_STOP, id, NULL, 0);
    else if ((n == 3 || n == 4) && is(action, alen, "start") && post)
        simple_command(api, req, SL_CMD_START, id, n == 4 ? seg[3] : NULL, n == 4 ? len[3] : 0);
    else if ((n == 3 || n == 4) && is(action, alen, "reset") && post)
        simple_command(api, req, SL_CMD_RESET, id, n == 4 ? seg[3] : NULL, n == 4 ? len[3] : 0);
    else
        sl_api_error(req, 404, "not-found", "path", "no connectors resource at this path and method");
}

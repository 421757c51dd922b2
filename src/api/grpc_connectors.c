/* grpc_connectors.c: the connectors management API over gRPC (grpc_connectors.h).
 *
 * Every method is unary. A command is decoded into a struct
 * sl_connector_command and submitted to the manager; its `done` (manager
 * thread) posts the answer back to the loop, which ends the call. A query is
 * answered at once from the manager's JSON snapshot, converted to the
 * protobuf messages of proto/connectors/queries.proto. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/grpc_connectors.h"
#include "api/grpc_handlers.h"
#include "connectors/commands.pb-c.h"
#include "connectors/queries.pb-c.h"
#include "util/utf8.h"

typedef Eventstore__Connectors__V1__CreateConnector CreateMsg;
typedef Eventstore__Connectors__V1__ReconfigureConnector ReconfigureMsg;
typedef Eventstore__Connectors__V1__DeleteConnector DeleteMsg;
typedef Eventstore__Connectors__V1__StartConnector StartMsg;
typedef Eventstore__Connectors__V1__ResetConnector ResetMsg;
typedef Eventstore__Connectors__V1__StopConnector StopMsg;
typedef Eventstore__Connectors__V1__RenameConnector RenameMsg;
typedef Eventstore__Connectors__V1__ListConnectors ListMsg;
typedef Eventstore__Connectors__V1__ListConnectorsResult ListResult;
typedef Eventstore__Connectors__V1__Connector ConnectorMsg;
typedef Eventstore__Connectors__V1__Connector__SettingsEntry ConnectorSetting;
typedef Eventstore__Connectors__V1__GetConnectorSettings GetMsg;
typedef Eventstore__Connectors__V1__GetConnectorSettingsResult SettingsResult;
typedef Eventstore__Connectors__V1__GetConnectorSettingsResult__SettingsEntry ResultSetting;
typedef Eventstore__Connectors__V1__GetConnectorConfigurationResult ConfigurationResult;
typedef Eventstore__Connectors__V1__Error ErrorMsg;
typedef Sluice__Wire__StringValue StringValue;
typedef Sluice__Wire__UInt64Value UInt64Value;
typedef Sluice__Wire__Timestamp TimestampMsg;
typedef Sluice__Wire__Struct StructMsg;
typedef Sluice__Wire__Struct__FieldsEntry StructField;
typedef Sluice__Wire__Value ValueMsg;
typedef Sluice__Wire__ListValue ListValueMsg;

/* Deeper configurations than this are not sent (keys of many `:`-separated parts). */
#define MAX_CONFIGURATION_DEPTH 64
/* grpc-message stays under this many bytes: clients limit the size of trailers. */
#define MAX_MESSAGE_BYTES 2048
#define DEFAULT_PAGE_SIZE 100
#define MAX_PAGE_SIZE 10000

static const char *const state_names[] = {
    "CONNECTOR_STATE_UNKNOWN",      "CONNECTOR_STATE_ACTIVATING", "CONNECTOR_STATE_RUNNING",
    "CONNECTOR_STATE_DEACTIVATING", "CONNECTOR_STATE_STOPPED",
};
#define N_STATES (sizeof(state_names) / sizeof(state_names[0]))

/* ---- plain values ---- */

int sl_grpc_connectors_state_number(const char *name)
{
    for (size_t i = 1; name && i < N_STATES; i++)
        if (strcmp(name, state_names[i]) == 0)
            return (int)i;
    return 0;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static int number(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

bool sl_grpc_connectors_timestamp(const char *text, int64_t *seconds, int32_t *nanos)
{
    /* 0123456789012345678 */
    /* YYYY-MM-DDTHH:MM:SS */
    if (text == NULL || strlen(text) < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
        text[13] != ':' || text[16] != ':' || !all_digits(text, 4) || !all_digits(text + 5, 2) ||
        !all_digits(text + 8, 2) || !all_digits(text + 11, 2) || !all_digits(text + 14, 2) ||
        !all_digits(text + 17, 2))
        return false;
    struct tm tm = {
        .tm_year = number(text, 4) - 1900,
        .tm_mon = number(text + 5, 2) - 1,
        .tm_mday = number(text + 8, 2),
        .tm_hour = number(text + 11, 2),
        .tm_min = number(text + 14, 2),
        .tm_sec = number(text + 17, 2),
    };
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    const char *p = text + 19;
    int32_t frac = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        for (; isdigit((unsigned char)*p); p++, digits++)
            if (digits < 9)
                frac = frac * 10 + (*p - '0');
        if (digits == 0 || digits > 9)
            return false;
        for (; digits < 9; digits++)
            frac *= 10;
    }
    if (p[0] != 'Z' || p[1] != '\0')
        return false;
    *seconds = (int64_t)timegm(&tm);
    *nanos = frac;
    return true;
}

enum sl_grpc_status sl_grpc_connectors_status(const struct sl_error *err, const struct sl_violations *v,
                                              struct sl_buf *message)
{
    sl_buf_reset(message);
    sl_buf_puts(message, err->message[0] ? err->message : sl_code_name(err->code));
    size_t n = v ? v->count : 0;
    for (size_t i = 0; i < n; i++) {
        size_t item = strlen(v->items[i].field) + strlen(v->items[i].description) + 4;
        if (message->len + item > MAX_MESSAGE_BYTES - 32) {
            sl_buf_printf(message, "; and %zu more", n - i);
            break;
        }
        sl_buf_printf(message, "%s%s: %s", i == 0 ? ": " : "; ", v->items[i].field, v->items[i].description);
    }
    switch (err->code) {
    case SL_E_INVALID:
        /* Input errors name their field; a rule on the connector's state
         * (e.g. "must be stopped to be deleted") names none. */
        return err->field[0] || n ? SL_GRPC_INVALID_ARGUMENT : SL_GRPC_FAILED_PRECONDITION;
    case SL_E_NOT_FOUND:
    case SL_E_DELETED:
        return SL_GRPC_NOT_FOUND;
    case SL_E_EXISTS:
        return SL_GRPC_ALREADY_EXISTS;
    default:
        return sl_api_grpc_status_of(err->code);
    }
}

/* ---- requests ---- */

static enum sl_code bad_message(struct sl_error *err, const char *what)
{
    return sl_errorf(err, SL_E_INVALID, "the request is not a valid %s message", what);
}

static enum sl_code copy_id(const char *id, char out[64], struct sl_error *err)
{
    if (id == NULL || strlen(id) >= 64 || !sl_connector_id_is_valid(id))
        return sl_field_errorf(err, SL_E_INVALID, "connectorId",
                               "the id must be 5 to 50 characters of A-Z, a-z, 0-9, _ and -");
    snprintf(out, 64, "%s", id);
    return SL_OK;
}

static enum sl_code copy_name(const char *name, char **out, struct sl_error *err)
{
    *out = strdup(name ? name : "");
    return *out ? SL_OK : sl_errorf(err, SL_E_NOMEM, "out of memory");
}

/* One entry of a request's map<string, StringValue> settings; a missing value is "". */
static enum sl_code add_setting(struct sl_settings *s, const char *key, const StringValue *value,
                                struct sl_error *err)
{
    const char *text = value && value->value ? value->value : "";
    if (key == NULL || !sl_utf8_is_valid(key, strlen(key)))
        return sl_field_errorf(err, SL_E_INVALID, "settings", "a setting's key is not valid UTF-8");
    if (!sl_utf8_is_valid(text, strlen(text)))
        return sl_field_errorf(err, SL_E_INVALID, key, "the value of %.200s is not valid UTF-8", key);
    return sl_settings_set(s, key, text) ? SL_OK : sl_errorf(err, SL_E_NOMEM, "out of memory");
}

/* Every entry of msg->settings (each map field has its own entry type, hence a macro). */
#define ADD_SETTINGS(s, msg, err, code)                                                                      \
    do {                                                                                                     \
        for (size_t i_ = 0; (code) == SL_OK && i_ < (msg)->n_settings; i_++)                                 \
            (code) = add_setting((s), (msg)->settings[i_]->key, (msg)->settings[i_]->value, (err));          \
    } while (0)

enum sl_code sl_grpc_connectors_decode_command(enum sl_connector_command_kind kind, const uint8_t *msg,
                                               size_t len, struct sl_connector_command *cmd, char **name,
                                               struct sl_error *err)
{
    enum sl_code code = SL_OK;
    *name = NULL;
    cmd->kind = kind;
    cmd->has_position = false;
    cmd->position = 0;
    cmd->name = NULL;
    switch (kind) {
    case SL_CMD_CREATE: {
        CreateMsg *m = eventstore__connectors__v1__create_connector__unpack(NULL, len, msg);
        if (m == NULL)
            return bad_message(err, "CreateConnector");
        code = copy_id(m->connector_id, cmd->id, err);
        if (code == SL_OK)
            code = copy_name(m->name, name, err);
        ADD_SETTINGS(&cmd->settings, m, err, code);
        eventstore__connectors__v1__create_connector__free_unpacked(m, NULL);
        break;
    }
    case SL_CMD_RECONFIGURE: {
        ReconfigureMsg *m = eventstore__connectors__v1__reconfigure_connector__unpack(NULL, len, msg);
        if (m == NULL)
            return bad_message(err, "ReconfigureConnector");
        code = copy_id(m->connector_id, cmd->id, err);
        ADD_SETTINGS(&cmd->settings, m, err, code);
        eventstore__connectors__v1__reconfigure_connector__free_unpacked(m, NULL);
        break;
    }
    case SL_CMD_START: {
        StartMsg *m = eventstore__connectors__v1__start_connector__unpack(NULL, len, msg);
        if (m == NULL)
            return bad_message(err, "StartConnector");
        code = copy_id(m->connector_id, cmd->id, err);
        cmd->has_position = m->start_position != NULL;
        cmd->position = m->start_position ? m->start_position->value : 0;
        eventstore__connectors__v1__start_connector__free_unpacked(m, NULL);
        break;
    }
    case SL_CMD_RESET: {
        ResetMsg *m = eventstore__connectors__v1__reset_connector__unpack(NULL, len, msg);
        if (m == NULL)
            return bad_message(err, "ResetConnector");
        code = copy_id(m->connector_id, cmd->id, err);
        cmd->has_position = m->start_position != NULL;
        cmd->position = m->start_position ? m->start_position->value : 0;
        eventstore__connectors__v1__reset_connector__free_unpacked(m, NULL);
        break;
    }
    case SL_CMD_STOP: {
        StopMsg *m = eventstore__connectors__v1__stop_connector__unpack(NULL, len, msg);
        if (m == NULL)
            return bad_message(err, "StopConnector");
        code = copy_id(m->connector_id, cmd->id, err);
        eventstore__connectors__v1__stop_connector__free_unpacked(m, NULL);
        break;
    }
    case SL_CMD_RENAME: {
        RenameMsg *m = eventstore__connectors__v1__rename_connector__unpack(NULL, len, msg);
        if (m == NULL)
            return bad_message(err, "RenameConnector");
        code = copy_id(m->connector_id, cmd->id, err);
        if (code == SL_OK)
            code = copy_name(m->name, name, err);
        eventstore__connectors__v1__rename_connector__free_unpacked(m, NULL);
        break;
    }
    case SL_CMD_DELETE: {
        DeleteMsg *m = eventstore__connectors__v1__delete_connector__unpack(NULL, len, msg);
        if (m == NULL)
            return bad_message(err, "DeleteConnector");
        code = copy_id(m->connector_id, cmd->id, err);
        eventstore__connectors__v1__delete_connector__free_unpacked(m, NULL);
        break;
    }
    }
    if (code == SL_OK && cmd->position > (uint64_t)INT64_MAX)
        code =
            sl_field_errorf(err, SL_E_INVALID, "startPosition", "the start position must be at most 2^63-1");
    cmd->name = *name;
    return code;
}

/* Joins the non-empty values with commas into *out (NULL when there are none). */
static bool join_values(StringValue *const *values, size_t n, char **out)
{
    struct sl_buf b;
    sl_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        const char *v = values[i] && values[i]->value ? values[i]->value : "";
        if (v[0] == '\0')
            continue;
        if (b.len)
            sl_buf_putc(&b, ',');
        sl_buf_puts(&b, v);
    }
    if (b.failed) {
        sl_buf_free(&b);
        return false;
    }
    *out = b.len ? sl_buf_steal(&b, NULL) : NULL;
    sl_buf_free(&b);
    return true;
}

enum sl_code sl_grpc_connectors_decode_list(const uint8_t *msg, size_t len,
                                            struct sl_grpc_connectors_list_req *out, struct sl_error *err)
{
    memset(out, 0, sizeof(*out));
    ListMsg *m = eventstore__connectors__v1__list_connectors__unpack(NULL, len, msg);
    if (m == NULL)
        return bad_message(err, "ListConnectors");
    enum sl_code code = SL_OK;
    int32_t page = m->paging ? m->paging->page : 0;
    int32_t page_size = m->paging ? m->paging->page_size : 0;
    if (page < 0)
        code = sl_field_errorf(err, SL_E_INVALID, "paging.page", "the page must be 1 or more (0 = 1)");
    else if (page_size < 0 || page_size > MAX_PAGE_SIZE)
        code = sl_field_errorf(err, SL_E_INVALID, "paging.pageSize", "the page size must be 1 to %d (0 = %d)",
                               MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE);
    struct sl_buf states;
    sl_buf_init(&states);
    for (size_t i = 0; code == SL_OK && i < m->n_state; i++) {
        /* A number this server does not know matches no connector. */
        int s = (int)m->state[i];
        sl_buf_printf(&states, "%s%s", i ? "," : "", s > 0 && (size_t)s < N_STATES ? state_names[s] : "-");
    }
    if (code == SL_OK &&
        (states.failed ||
         !join_values(m->instance_type_name, m->n_instance_type_name, &out->instance_types) ||
         !join_values(m->connector_id, m->n_connector_id, &out->ids)))
        code = sl_errorf(err, SL_E_NOMEM, "out of memory");
    if (code == SL_OK && states.len)
        out->states = sl_buf_steal(&states, NULL);
    sl_buf_free(&states);
    if (code == SL_OK) {
        out->include_settings = m->include_settings;
        out->include_configuration = m->include_configuration;
        out->query.include_settings = m->include_settings || m->include_configuration;
        out->query.show_deleted = m->show_deleted;
        out->query.page = page > 0 ? (size_t)page : 1;
        out->query.page_size = page_size > 0 ? (size_t)page_size : DEFAULT_PAGE_SIZE;
        out->query.states = out->states;
        out->query.instance_types = out->instance_types;
        out->query.ids = out->ids;
    }
    eventstore__connectors__v1__list_connectors__free_unpacked(m, NULL);
    if (code)
        sl_grpc_connectors_list_req_free(out);
    return code;
}

void sl_grpc_connectors_list_req_free(struct sl_grpc_connectors_list_req *r)
{
    if (r == NULL)
        return;
    free(r->states);
    free(r->instance_types);
    free(r->ids);
    memset(r, 0, sizeof(*r));
}

enum sl_code sl_grpc_connectors_decode_get(const uint8_t *msg, size_t len, char id[64], struct sl_error *err)
{
    GetMsg *m = eventstore__connectors__v1__get_connector_settings__unpack(NULL, len, msg);
    if (m == NULL)
        return bad_message(err, "GetConnectorSettings");
    enum sl_code code = copy_id(m->connector_id, id, err);
    eventstore__connectors__v1__get_connector_settings__free_unpacked(m, NULL);
    return code;
}

/* ---- responses ---- */

/* Every piece of a response message, freed together once it is packed. The
 * strings point into the manager's JSON, which outlives the packing. */
struct arena {
    void **blocks;
    size_t n, cap;
    bool failed;
};

static void *arena_alloc(struct arena *a, size_t size)
{
    if (a->failed)
        return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        void **blocks = realloc(a->blocks, cap * sizeof(*blocks));
        if (blocks == NULL) {
            a->failed = true;
            return NULL;
        }
        a->blocks = blocks;
        a->cap = cap;
    }
    void *p = calloc(1, size ? size : 1);
    if (p == NULL) {
        a->failed = true;
        return NULL;
    }
    a->blocks[a->n++] = p;
    return p;
}

static void arena_free(struct arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->blocks[i]);
    free(a->blocks);
    memset(a, 0, sizeof(*a));
}

/* A message of `desc`, initialized, or NULL. */
static void *arena_message(struct arena *a, const ProtobufCMessageDescriptor *desc)
{
    void *m = arena_alloc(a, desc->sizeof_message);
    if (m)
        protobuf_c_message_init(desc, m);
    return m;
}

static char *text_of(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return (char *)(s ? s : "");
}

/* A Timestamp for the RFC 3339 string at `key`; NULL when absent or null. */
static TimestampMsg *timestamp_of(struct arena *a, const json_t *o, const char *key)
{
    int64_t seconds;
    int32_t nanos;
    if (!sl_grpc_connectors_timestamp(json_string_value(json_object_get(o, key)), &seconds, &nanos))
        return NULL;
    TimestampMsg *t = arena_message(a, &sluice__wire__timestamp__descriptor);
    if (t) {
        t->seconds = seconds;
        t->nanos = nanos;
    }
    return t;
}

static uint64_t count_of(const json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t)v : 0;
}

static StringValue *string_value(struct arena *a, const json_t *v)
{
    StringValue *s = arena_message(a, &sluice__wire__string_value__descriptor);
    if (s) {
        const char *text = json_string_value(v);
        s->value = (char *)(text ? text : "");
    }
    return s;
}

/* The entries of a map<string, StringValue> from a JSON object of strings.
 * `desc` is the map's entry message (each map field has its own); its fields
 * are the key (1) and the value (2). NULL with *n_out 0 for an empty map. */
static void **settings_entries(struct arena *a, const json_t *obj, const ProtobufCMessageDescriptor *desc,
                               size_t *n_out)
{
    size_t n = json_object_size(obj);
    *n_out = 0;
    if (n == 0)
        return NULL;
    void **entries = arena_alloc(a, n * sizeof(*entries));
    if (entries == NULL)
        return NULL;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        char *e = arena_message(a, desc);
        StringValue *v = string_value(a, value);
        if (e == NULL || v == NULL)
            return NULL;
        memcpy(e + desc->fields[0].offset, &key, sizeof(key));
        memcpy(e + desc->fields[1].offset, &v, sizeof(v));
        entries[(*n_out)++] = e;
    }
    return entries;
}

static StructMsg *struct_of(struct arena *a, const json_t *obj, int depth);

static ValueMsg *value_of(struct arena *a, const json_t *j, int depth)
{
    ValueMsg *v = arena_message(a, &sluice__wire__value__descriptor);
    if (v == NULL)
        return NULL;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        v->kind_case = SLUICE__WIRE__VALUE__KIND_STRUCT_VALUE;
        v->struct_value = struct_of(a, j, depth + 1);
        return v->struct_value ? v : NULL;
    case JSON_ARRAY: {
        v->kind_case = SLUICE__WIRE__VALUE__KIND_LIST_VALUE;
        ListValueMsg *list = arena_message(a, &sluice__wire__list_value__descriptor);
        size_t n = json_array_size(j);
        if (list == NULL || depth >= MAX_CONFIGURATION_DEPTH)
            return NULL;
        list->values = n ? arena_alloc(a, n * sizeof(*list->values)) : NULL;
        if (n && list->values == NULL)
            return NULL;
        for (size_t i = 0; i < n; i++)
            if ((list->values[i] = value_of(a, json_array_get(j, i), depth + 1)) == NULL)
                return NULL;
        list->n_values = n;
        v->list_value = list;
        return v;
    }
    case JSON_STRING:
        v->kind_case = SLUICE__WIRE__VALUE__KIND_STRING_VALUE;
        v->string_value = (char *)json_string_value(j);
        return v;
    case JSON_INTEGER:
        v->kind_case = SLUICE__WIRE__VALUE__KIND_NUMBER_VALUE;
        v->number_value = (double)json_integer_value(j);
        return v;
    case JSON_REAL:
        v->kind_case = SLUICE__WIRE__VALUE__KIND_NUMBER_VALUE;
        v->number_value = json_real_value(j);
        return v;
    case JSON_TRUE:
    case JSON_FALSE:
        v->kind_case = SLUICE__WIRE__VALUE__KIND_BOOL_VALUE;
        v->bool_value = json_is_true(j);
        return v;
    case JSON_NULL:
        v->kind_case = SLUICE__WIRE__VALUE__KIND_NULL_VALUE;
        v->null_value = SLUICE__WIRE__NULL_VALUE__NULL_VALUE;
        return v;
    }
    return NULL;
}

/* A Struct for a JSON object; NULL on OOM or past MAX_CONFIGURATION_DEPTH. */
static StructMsg *struct_of(struct arena *a, const json_t *obj, int depth)
{
    if (depth > MAX_CONFIGURATION_DEPTH)
        return NULL;
    StructMsg *s = arena_message(a, &sluice__wire__struct__descriptor);
    if (s == NULL)
        return NULL;
    size_t n = json_object_size(obj);
    if (n == 0)
        return s;
    s->fields = arena_alloc(a, n * sizeof(*s->fields));
    if (s->fields == NULL)
        return NULL;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        StructField *f = arena_message(a, &sluice__wire__struct__fields_entry__descriptor);
        if (f == NULL)
            return NULL;
        f->key = (char *)key;
        if ((f->value = value_of(a, value, depth)) == NULL)
            return NULL;
        s->fields[s->n_fields++] = f;
    }
    return s;
}

/* The nested configuration of a flat settings object. New reference, or NULL. */
static json_t *nested_of(const json_t *flat)
{
    struct sl_settings s;
    sl_settings_init(&s);
    json_t *nested = NULL;
    if (sl_settings_from_flat_json(&s, (json_t *)flat, NULL) == SL_OK)
        nested = sl_settings_to_nested_json(&s, NULL, true); /* masked already, when it had to be */
    sl_settings_free(&s);
    return nested;
}

/* One Connector from one list item. `nested` receives the configuration JSON
 * (the caller drops it after packing), when asked for. */
static ConnectorMsg *connector_of(struct arena *a, const json_t *item, bool include_settings,
                                  bool include_configuration, json_t **nested)
{
    ConnectorMsg *c = arena_message(a, &eventstore__connectors__v1__connector__descriptor);
    if (c == NULL)
        return NULL;
    c->connector_id = text_of(item, "connectorId");
    c->instance_type_name = text_of(item, "instanceTypeName");
    c->name = text_of(item, "name");
    c->state = (Eventstore__Connectors__V1__ConnectorState)sl_grpc_connectors_state_number(
        json_string_value(json_object_get(item, "state")));
    c->state_update_time = timestamp_of(a, item, "stateUpdateTime");
    const json_t *settings = json_object_get(item, "settings");
    if (include_settings && json_is_object(settings))
        c->settings = (ConnectorSetting **)settings_entries(
            a, settings, &eventstore__connectors__v1__connector__settings_entry__descriptor, &c->n_settings);
    c->settings_update_time = timestamp_of(a, item, "settingsUpdateTime");
    const json_t *position = json_object_get(item, "position");
    if (json_is_integer(position) && json_integer_value(position) >= 0) {
        if ((c->position = arena_message(a, &sluice__wire__uint64_value__descriptor)) == NULL)
            return NULL;
        c->position->value = (uint64_t)json_integer_value(position);
    }
    c->position_update_time = timestamp_of(a, item, "positionUpdateTime");
    c->create_time = timestamp_of(a, item, "createTime");
    c->update_time = timestamp_of(a, item, "updateTime");
    c->delete_time = timestamp_of(a, item, "deleteTime");
    const json_t *error = json_object_get(item, "errorDetails");
    if (json_is_object(error)) {
        ErrorMsg *e = arena_message(a, &eventstore__connectors__v1__error__descriptor);
        if (e == NULL)
            return NULL;
        e->code = text_of(error, "code");
        e->message = text_of(error, "message");
        c->error_details = e;
    }
    if (include_configuration && json_is_object(settings)) {
        *nested = nested_of(settings);
        if (*nested == NULL || (c->configuration = struct_of(a, *nested, 0)) == NULL)
            return NULL;
        c->configuration_update_time = c->settings_update_time;
    }
    c->lag = count_of(item, "lag");
    c->delivered = count_of(item, "delivered");
    c->filtered = count_of(item, "filtered");
    c->failed = count_of(item, "failed");
    c->dead_lettered = count_of(item, "deadLettered");
    c->last_error_time = timestamp_of(a, item, "lastErrorTime");
    return a->failed ? NULL : c;
}

/* Packs `m` into `out` (reset first). */
static bool pack(struct sl_buf *out, const ProtobufCMessage *m)
{
    sl_buf_reset(out);
    size_t size = protobuf_c_message_get_packed_size(m);
    if (!sl_buf_reserve(out, size + 1))
        return false;
    out->len = protobuf_c_message_pack(m, (uint8_t *)out->data);
    out->data[out->len] = '\0';
    return out->len == size;
}

bool sl_grpc_connectors_encode_list(struct sl_buf *out, const json_t *list, bool include_settings,
                                    bool include_configuration)
{
    struct arena a = {0};
    ListResult r = EVENTSTORE__CONNECTORS__V1__LIST_CONNECTORS_RESULT__INIT;
    const json_t *items = json_object_get(list, "items");
    size_t n = json_array_size(items);
    json_t **nested = n ? calloc(n, sizeof(*nested)) : NULL;
    bool ok = n == 0 || nested != NULL;
    if (ok && n) {
        r.items = arena_alloc(&a, n * sizeof(*r.items));
        ok = r.items != NULL;
    }
    for (size_t i = 0; ok && i < n; i++) {
        r.items[i] =
            connector_of(&a, json_array_get(items, i), include_settings, include_configuration, &nested[i]);
        ok = r.items[i] != NULL;
        r.n_items = i + 1;
    }
    json_int_t total = json_integer_value(json_object_get(list, "totalSize"));
    r.total_size = total > INT32_MAX ? INT32_MAX : (int32_t)(total > 0 ? total : 0);
    if (ok)
        ok = pack(out, &r.base);
    for (size_t i = 0; nested && i < n; i++)
        json_decref(nested[i]);
    free(nested);
    arena_free(&a);
    return ok;
}

bool sl_grpc_connectors_encode_settings(struct sl_buf *out, const json_t *settings)
{
    struct arena a = {0};
    SettingsResult r = EVENTSTORE__CONNECTORS__V1__GET_CONNECTOR_SETTINGS_RESULT__INIT;
    const json_t *map = json_object_get(settings, "settings");
    r.settings = (ResultSetting **)settings_entries(
        &a, map, &eventstore__connectors__v1__get_connector_settings_result__settings_entry__descriptor,
        &r.n_settings);
    r.settings_update_time = timestamp_of(&a, settings, "settingsUpdateTime");
    bool ok = !a.failed && pack(out, &r.base);
    arena_free(&a);
    return ok;
}

bool sl_grpc_connectors_encode_configuration(struct sl_buf *out, const json_t *configuration)
{
    struct arena a = {0};
    ConfigurationResult r = EVENTSTORE__CONNECTORS__V1__GET_CONNECTOR_CONFIGURATION_RESULT__INIT;
    const json_t *map = json_object_get(configuration, "configuration");
    r.configuration = json_is_object(map) ? struct_of(&a, map, 0) : NULL;
    r.configuration_update_time = timestamp_of(&a, configuration, "settingsUpdateTime");
    bool ok = r.configuration != NULL && !a.failed && pack(out, &r.base);
    arena_free(&a);
    return ok;
}

/* ---- the calls ---- */

enum method_kind { COMMAND, LIST, GET_SETTINGS, GET_CONFIGURATION };

#define COMMANDS "/eventstore.connectors.v1.ConnectorsCommandService/"
#define QUERIES "/eventstore.connectors.v1.ConnectorsQueryService/"

static const struct method {
    const char *path;
    enum method_kind kind;
    enum sl_connector_command_kind command;
} methods[] = {
    {COMMANDS "Create", COMMAND, SL_CMD_CREATE}, {COMMANDS "Reconfigure", COMMAND, SL_CMD_RECONFIGURE},
    {COMMANDS "Delete", COMMAND, SL_CMD_DELETE}, {COMMANDS "Start", COMMAND, SL_CMD_START},
    {COMMANDS "Reset", COMMAND, SL_CMD_RESET},   {COMMANDS "Stop", COMMAND, SL_CMD_STOP},
    {COMMANDS "Rename", COMMAND, SL_CMD_RENAME}, {QUERIES "List", LIST, 0},
    {QUERIES "GetSettings", GET_SETTINGS, 0},    {QUERIES "GetConfiguration", GET_CONFIGURATION, 0},
};

struct connectors_call {
    struct sl_api *api;
    struct sl_grpc_call *call;
    const struct method *method;
    bool show_secrets;
    bool has_request;
    bool is_submitted; /* the manager holds the command; its answer ends the call */
    bool is_cancelled;
    struct sl_connector_command cmd;
    char *name;
};

static void call_free(struct connectors_call *c)
{
    sl_settings_free(&c->cmd.settings);
    sl_violations_free(&c->cmd.violations);
    free(c->name);
    free(c);
}

static void fail(struct sl_grpc_call *call, const struct sl_error *err, const struct sl_violations *v)
{
    struct sl_buf message;
    sl_buf_init(&message);
    enum sl_grpc_status status = sl_grpc_connectors_status(err, v, &message);
    sl_api_grpc_finish(call, status, message.failed ? "out of memory" : message.data, NULL, 0);
    sl_buf_free(&message);
}

/* Sends the packed message and ends the call with OK. */
static void answer(struct sl_grpc_call *call, struct sl_buf *out, bool packed)
{
    if (packed) {
        sl_api_grpc_send(call, out);
        sl_api_grpc_finish(call, SL_GRPC_OK, NULL, NULL, 0);
    } else {
        sl_api_grpc_finish(call, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
    }
}

/* Loop thread: the manager's answer to a command. */
static void command_answered(void *arg)
{
    struct connectors_call *c = arg;
    if (c->is_cancelled) {
        sl_api_grpc_finish(c->call, SL_GRPC_CANCELLED, "cancelled by the client", NULL, 0);
    } else if (c->cmd.code == SL_OK) {
        struct sl_buf empty;
        sl_buf_init(&empty);
        answer(c->call, &empty, true); /* google.protobuf.Empty: no bytes */
        sl_buf_free(&empty);
    } else {
        fail(c->call, &c->cmd.err, &c->cmd.violations);
    }
    call_free(c);
}

/* Manager thread. */
static void command_done(struct sl_connector_command *cmd)
{
    struct connectors_call *c = cmd->user;
    if (!sl_server_post(c->api->server, command_answered, c))
        call_free(c); /* the loop is gone, and the call with it */
}

static void run_command(struct connectors_call *c, const uint8_t *msg, size_t len)
{
    struct sl_error err = {0};
    c->cmd.done = command_done;
    c->cmd.user = c;
    if (sl_grpc_connectors_decode_command(c->method->command, msg, len, &c->cmd, &c->name, &err) != SL_OK ||
        sl_connectors_submit(c->api->connectors, &c->cmd, &err) != SL_OK) {
        fail(c->call, &err, NULL);
        call_free(c);
        return;
    }
    c->is_submitted = true;
    c->call->on_message = NULL;
    c->call->on_half_close = NULL;
}

static void run_list(struct connectors_call *c, const uint8_t *msg, size_t len)
{
    struct sl_error err = {0};
    struct sl_grpc_connectors_list_req req;
    if (sl_grpc_connectors_decode_list(msg, len, &req, &err) != SL_OK) {
        fail(c->call, &err, NULL);
        return;
    }
    req.query.show_secrets = c->show_secrets;
    json_t *list = sl_connectors_list(c->api->connectors, &req.query);
    struct sl_buf out;
    sl_buf_init(&out);
    bool packed =
        list && sl_grpc_connectors_encode_list(&out, list, req.include_settings, req.include_configuration);
    answer(c->call, &out, packed);
    sl_buf_free(&out);
    json_decref(list);
    sl_grpc_connectors_list_req_free(&req);
}

static void run_get(struct connectors_call *c, const uint8_t *msg, size_t len, bool nested)
{
    struct sl_error err = {0};
    char id[64];
    json_t *result = NULL;
    if (sl_grpc_connectors_decode_get(msg, len, id, &err) != SL_OK ||
        sl_connectors_settings(c->api->connectors, id, nested, c->show_secrets, &result, &err) != SL_OK) {
        fail(c->call, &err, NULL);
        return;
    }
    struct sl_buf out;
    sl_buf_init(&out);
    bool packed = nested ? sl_grpc_connectors_encode_configuration(&out, result)
                         : sl_grpc_connectors_encode_settings(&out, result);
    answer(c->call, &out, packed);
    sl_buf_free(&out);
    json_decref(result);
}

static void on_message(struct sl_grpc_call *call, const uint8_t *msg, size_t len)
{
    struct connectors_call *c = call->user;
    if (c->has_request)
        return; /* a unary call has one message; a second one is ignored */
    c->has_request = true;
    switch (c->method->kind) {
    case COMMAND:
        run_command(c, msg, len); /* takes `c` over */
        return;
    case LIST:
        run_list(c, msg, len);
        break;
    case GET_SETTINGS:
    case GET_CONFIGURATION:
        run_get(c, msg, len, c->method->kind == GET_CONFIGURATION);
        break;
    }
    call_free(c);
}

static void on_half_close(struct sl_grpc_call *call)
{
    struct connectors_call *c = call->user;
    sl_api_grpc_finish(call, SL_GRPC_INVALID_ARGUMENT, "the request has no message", NULL, 0);
    call_free(c);
}

static void on_cancel(struct sl_grpc_call *call)
{
    struct connectors_call *c = call->user;
    if (c->is_submitted) {
        c->is_cancelled = true; /* the command still runs; its answer ends the call */
        return;
    }
    sl_api_grpc_finish(call, SL_GRPC_CANCELLED, "cancelled by the client", NULL, 0);
    call_free(c);
}

/* The caller is the admin: `authorization: Bearer <admin token>` (compared in constant time). */
static bool is_admin(const struct sl_api *api, const struct sl_grpc_call *call)
{
    const char *auth = sl_grpc_metadata(call, "authorization");
    const char *token = api->admin_token;
    if (token == NULL || token[0] == '\0' || auth == NULL || strncmp(auth, "Bearer ", 7) != 0)
        return false;
    const char *given = auth + 7;
    size_t n = strlen(token), m = strlen(given);
    unsigned char diff = n != m;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(token[i] ^ given[i < m ? i : 0]);
    return diff == 0;
}

void sl_api_grpc_connectors(struct sl_api *api, struct sl_grpc_call *call)
{
    const struct method *method = NULL;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]) && method == NULL; i++)
        if (call->path && strcmp(call->path, methods[i].path) == 0)
            method = &methods[i];
    if (method == NULL) {
        sl_api_grpc_unknown_method(call);
        return;
    }
    if (api->connectors == NULL) {
        sl_api_grpc_finish(call, SL_GRPC_UNAVAILABLE, "connectors are not available", NULL, 0);
        return;
    }
    struct connectors_call *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        sl_api_grpc_finish(call, SL_GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
        return;
    }
    c->api = api;
    c->call = call;
    c->method = method;
    c->show_secrets = is_admin(api, call);
    sl_settings_init(&c->cmd.settings);
    call->user = c;
    call->on_message = on_message;
    call->on_half_close = on_half_close;
    call->on_cancel = on_cancel;
}

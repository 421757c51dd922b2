/* test_grpc_connectors.c: the connectors management messages over gRPC: requests
 * decode into the manager's commands and queries, and the manager's JSON turns
 * into complete ListConnectorsResult, GetConnectorSettingsResult and
 * GetConnectorConfigurationResult messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/grpc_connectors.h"
#include "connectors/commands.pb-c.h"
#include "connectors/queries.pb-c.h"
#include "util/clock.h"

typedef Eventstore__Connectors__V1__Connector ConnectorMsg;
typedef Sluice__Wire__StringValue StringValue;
typedef Sluice__Wire__Value ValueMsg;
typedef Sluice__Wire__Struct StructMsg;

/* ---- helpers ---- */

/* Packs any message into a malloc'd buffer. */
static uint8_t *packed(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *out = malloc(*len ? *len : 1);
    assert_non_null(out);
    assert_int_equal(protobuf_c_message_pack(m, out), *len);
    return out;
}

struct command_result {
    struct sl_connector_command cmd;
    char *name;
    enum sl_code code;
    struct sl_error err;
};

static void decode(enum sl_connector_command_kind kind, const ProtobufCMessage *m, struct command_result *r)
{
    size_t len;
    uint8_t *msg = packed(m, &len);
    memset(r, 0, sizeof(*r));
    sl_settings_init(&r->cmd.settings);
    r->code = sl_grpc_connectors_decode_command(kind, msg, len, &r->cmd, &r->name, &r->err);
    free(msg);
}

static void result_free(struct command_result *r)
{
    sl_settings_free(&r->cmd.settings);
    free(r->name);
}

static const ValueMsg *field_of(const StructMsg *s, const char *key)
{
    for (size_t i = 0; s && i < s->n_fields; i++)
        if (strcmp(s->fields[i]->key, key) == 0)
            return s->fields[i]->value;
    return NULL;
}

static const char *setting_of(const ConnectorMsg *c, const char *key)
{
    for (size_t i = 0; i < c->n_settings; i++)
        if (strcmp(c->settings[i]->key, key) == 0)
            return c->settings[i]->value ? c->settings[i]->value->value : NULL;
    return NULL;
}

/* One list item, as sl_connectors_list() makes it. */
static json_t *list_item(const char *id, const char *state, bool with_settings)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:n,s:{s:s,s:s},s:I,s:I,s:I,s:I,s:I,s:s}",
                          "connectorId", id, "instanceTypeName", "http-sink", "name", "to billing", "state",
                          state, "stateUpdateTime", "2026-11-25T15:45:32.123456Z", "position",
                          (json_int_t)4242, "positionUpdateTime", "2026-11-25T15:45:33.000001Z", "createTime",
                          "1999-12-31T23:59:59.000000Z", "updateTime", "2026-11-25T15:45:32.500000Z",
                          "deleteTime", "errorDetails", "code", "sink-failed", "message",
                          "connection refused", "lag", (json_int_t)7, "delivered", (json_int_t)100,
                          "filtered", (json_int_t)5, "failed", (json_int_t)2, "deadLettered", (json_int_t)1,
                          "lastErrorTime", "2026-11-25T15:45:34.250000Z");
    assert_non_null(o);
    json_object_set_new(o, "settingsUpdateTime", json_string("2026-11-25T15:45:30.000000Z"));
    if (with_settings)
        json_object_set_new(o, "settings",
                            json_pack("{s:s,s:s,s:s,s:s}", "instanceTypeName", "http-sink", "url",
                                      "http://billing.local/{stream}", "authentication:bearer:token", "***",
                                      "subscription:filter:scope", "stream"));
    return o;
}

/* ---- plain values ---- */

static void test_timestamp(void **state)
{
    (void)state;
    int64_t s;
    int32_t n;
    assert_true(sl_grpc_connectors_timestamp("2026-11-25T15:45:32.123456Z", &s, &n));
    assert_int_equal(s, 1795621532);
    assert_int_equal(n, 123456000);
    assert_true(sl_grpc_connectors_timestamp("1970-01-01T00:00:00Z", &s, &n));
    assert_int_equal(s, 0);
    assert_int_equal(n, 0);
    assert_true(sl_grpc_connectors_timestamp("1999-12-31T23:59:59.5Z", &s, &n));
    assert_int_equal(s, 946684799);
    assert_int_equal(n, 500000000);
    assert_true(sl_grpc_connectors_timestamp("2026-11-25T15:45:32.123456789Z", &s, &n));
    assert_int_equal(n, 123456789);

    /* What the manager writes comes back exactly. */
    char text[32];
    int64_t now = sl_now_us();
    sl_format_rfc3339_us(now, text);
    assert_true(sl_grpc_connectors_timestamp(text, &s, &n));
    assert_int_equal(s * 1000000 + n / 1000, now);

    const char *bad[] = {
        NULL,
        "",
        "2026-11-25",
        "2026-11-25T15:45:32",
        "2026-11-25T15:45:32+01:00",
        "2026-11-25 15:45:32Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-11-25T24:00:00Z",
        "2026-11-25T15:45:32.Z",
        "2026-11-25T15:45:32.1234567890Z",
        "2026-11-25T15:45:32.1Zx",
        "20x6-11-25T15:45:32Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(sl_grpc_connectors_timestamp(bad[i], &s, &n));
}

static void test_state_number(void **state)
{
    (void)state;
    assert_int_equal(sl_grpc_connectors_state_number("CONNECTOR_STATE_ACTIVATING"),
                     EVENTSTORE__CONNECTORS__V1__CONNECTOR_STATE__CONNECTOR_STATE_ACTIVATING);
    assert_int_equal(sl_grpc_connectors_state_number("CONNECTOR_STATE_RUNNING"),
                     EVENTSTORE__CONNECTORS__V1__CONNECTOR_STATE__CONNECTOR_STATE_RUNNING);
    assert_int_equal(sl_grpc_connectors_state_number("CONNECTOR_STATE_DEACTIVATING"),
                     EVENTSTORE__CONNECTORS__V1__CONNECTOR_STATE__CONNECTOR_STATE_DEACTIVATING);
    assert_int_equal(sl_grpc_connectors_state_number("CONNECTOR_STATE_STOPPED"),
                     EVENTSTORE__CONNECTORS__V1__CONNECTOR_STATE__CONNECTOR_STATE_STOPPED);
    assert_int_equal(sl_grpc_connectors_state_number("RUNNING"), 0);
    assert_int_equal(sl_grpc_connectors_state_number(NULL), 0);
}

/* ---- requests ---- */

static void test_decode_create(void **state)
{
    (void)state;
    StringValue type = SLUICE__WIRE__STRING_VALUE__INIT, url = SLUICE__WIRE__STRING_VALUE__INIT;
    type.value = "http-sink";
    url.value = "http://billing.local/{stream}";
    Eventstore__Connectors__V1__CreateConnector__SettingsEntry e1 =
        EVENTSTORE__CONNECTORS__V1__CREATE_CONNECTOR__SETTINGS_ENTRY__INIT;
    Eventstore__Connectors__V1__CreateConnector__SettingsEntry e2 = e1, e3 = e1;
    e1.key = "instanceTypeName";
    e1.value = &type;
    e2.key = "url";
    e2.value = &url;
    e3.key = "subscription:filter:expression"; /* no value: "" */
    Eventstore__Connectors__V1__CreateConnector__SettingsEntry *entries[] = {&e1, &e2, &e3};
    Eventstore__Connectors__V1__CreateConnector m = EVENTSTORE__CONNECTORS__V1__CREATE_CONNECTOR__INIT;
    m.connector_id = "orders-to-billing";
    m.name = "Orders to billing";
    m.n_settings = 3;
    m.settings = entries;

    struct command_result r;
    decode(SL_CMD_CREATE, &m.base, &r);
    assert_int_equal(r.code, SL_OK);
    assert_int_equal(r.cmd.kind, SL_CMD_CREATE);
    assert_string_equal(r.cmd.id, "orders-to-billing");
    assert_string_equal(r.cmd.name, "Orders to billing");
    assert_ptr_equal(r.cmd.name, r.name);
    assert_int_equal(r.cmd.settings.count, 3);
    assert_string_equal(sl_settings_get(&r.cmd.settings, "instanceTypeName"), "http-sink");
    assert_string_equal(sl_settings_get(&r.cmd.settings, "URL"), "http://billing.local/{stream}");
    assert_string_equal(sl_settings_get(&r.cmd.settings, "subscription:filter:expression"), "");
    assert_false(r.cmd.has_position);
    result_free(&r);

    /* No name: the manager uses the id. */
    m.name = "";
    decode(SL_CMD_CREATE, &m.base, &r);
    assert_int_equal(r.code, SL_OK);
    assert_string_equal(r.cmd.name, "");
    result_free(&r);

    /* Ids break the REST API's rule the same way. */
    const char *bad_ids[] = {"", "abcd", "has space", "slash/id",
                             "x2345678901234567890123456789012345678901234567890"
                             "1234567890123456789012345678901234567890"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        m.connector_id = (char *)bad_ids[i];
        decode(SL_CMD_CREATE, &m.base, &r);
        assert_int_equal(r.code, SL_E_INVALID);
        assert_string_equal(r.err.field, "connectorId");
        result_free(&r);
    }
}

static void test_decode_other_commands(void **state)
{
    (void)state;
    struct command_result r;

    Sluice__Wire__UInt64Value pos = SLUICE__WIRE__UINT64_VALUE__INIT;
    pos.value = 1234;
    Eventstore__Connectors__V1__StartConnector start = EVENTSTORE__CONNECTORS__V1__START_CONNECTOR__INIT;
    start.connector_id = "conn-1";
    decode(SL_CMD_START, &start.base, &r);
    assert_int_equal(r.code, SL_OK);
    assert_string_equal(r.cmd.id, "conn-1");
    assert_false(r.cmd.has_position);
    assert_null(r.cmd.name);
    result_free(&r);
    start.start_position = &pos;
    decode(SL_CMD_START, &start.base, &r);
    assert_int_equal(r.code, SL_OK);
    assert_true(r.cmd.has_position);
    assert_int_equal(r.cmd.position, 1234);
    result_free(&r);
    pos.value = 0; /* a present zero is a position: from the first event */
    decode(SL_CMD_START, &start.base, &r);
    assert_true(r.cmd.has_position);
    assert_int_equal(r.cmd.position, 0);
    result_free(&r);
    pos.value = (uint64_t)INT64_MAX + 1;
    decode(SL_CMD_START, &start.base, &r);
    assert_int_equal(r.code, SL_E_INVALID);
    result_free(&r);

    Eventstore__Connectors__V1__ResetConnector reset = EVENTSTORE__CONNECTORS__V1__RESET_CONNECTOR__INIT;
    reset.connector_id = "conn-1";
    decode(SL_CMD_RESET, &reset.base, &r);
    assert_int_equal(r.code, SL_OK);
    assert_int_equal(r.cmd.kind, SL_CMD_RESET);
    assert_false(r.cmd.has_position);
    result_free(&r);
    pos.value = 77;
    reset.start_position = &pos;
    decode(SL_CMD_RESET, &reset.base, &r);
    assert_true(r.cmd.has_position);
    assert_int_equal(r.cmd.position, 77);
    result_free(&r);

    Eventstore__Connectors__V1__RenameConnector rename = EVENTSTORE__CONNECTORS__V1__RENAME_CONNECTOR__INIT;
    rename.connector_id = "conn-1";
    rename.name = "a new name";
    decode(SL_CMD_RENAME, &rename.base, &r);
    assert_int_equal(r.code, SL_OK);
    assert_string_equal(r.cmd.name, "a new name");
    result_free(&r);

    StringValue v = SLUICE__WIRE__STRING_VALUE__INIT;
    v.value = "serilog-sink";
    Eventstore__Connectors__V1__ReconfigureConnector__SettingsEntry e =
        EVENTSTORE__CONNECTORS__V1__RECONFIGURE_CONNECTOR__SETTINGS_ENTRY__INIT;
    e.key = "instanceTypeName";
    e.value = &v;
    Eventstore__Connectors__V1__ReconfigureConnector__SettingsEntry *entries[] = {&e};
    Eventstore__Connectors__V1__ReconfigureConnector reconf =
        EVENTSTORE__CONNECTORS__V1__RECONFIGURE_CONNECTOR__INIT;
    reconf.connector_id = "conn-1";
    reconf.n_settings = 1;
    reconf.settings = entries;
    decode(SL_CMD_RECONFIGURE, &reconf.base, &r);
    assert_int_equal(r.code, SL_OK);
    assert_int_equal(r.cmd.settings.count, 1);
    assert_string_equal(sl_settings_get(&r.cmd.settings, "instanceTypeName"), "serilog-sink");
    result_free(&r);
    v.value = "\xff\xfe"; /* not UTF-8 */
    decode(SL_CMD_RECONFIGURE, &reconf.base, &r);
    assert_int_equal(r.code, SL_E_INVALID);
    result_free(&r);

    Eventstore__Connectors__V1__StopConnector stop = EVENTSTORE__CONNECTORS__V1__STOP_CONNECTOR__INIT;
    stop.connector_id = "conn-2";
    decode(SL_CMD_STOP, &stop.base, &r);
    assert_int_equal(r.code, SL_OK);
    assert_string_equal(r.cmd.id, "conn-2");
    result_free(&r);

    Eventstore__Connectors__V1__DeleteConnector del = EVENTSTORE__CONNECTORS__V1__DELETE_CONNECTOR__INIT;
    del.connector_id = "conn-3";
    decode(SL_CMD_DELETE, &del.base, &r);
    assert_int_equal(r.code, SL_OK);
    assert_int_equal(r.cmd.kind, SL_CMD_DELETE);
    assert_string_equal(r.cmd.id, "conn-3");
    result_free(&r);

    /* Bytes that are no message at all. */
    static const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0x0f, 'x'};
    memset(&r, 0, sizeof(r));
    sl_settings_init(&r.cmd.settings);
    assert_int_equal(
        sl_grpc_connectors_decode_command(SL_CMD_CREATE, garbage, sizeof(garbage), &r.cmd, &r.name, &r.err),
        SL_E_INVALID);
    assert_non_null(strstr(r.err.message, "CreateConnector"));
    result_free(&r);
}

static void test_decode_list(void **state)
{
    (void)state;
    struct sl_grpc_connectors_list_req req;
    struct sl_error err = {0};

    /* The empty message: every connector, page 1 of 100, no settings. */
    assert_int_equal(sl_grpc_connectors_decode_list(NULL, 0, &req, &err), SL_OK);
    assert_null(req.query.states);
    assert_null(req.query.instance_types);
    assert_null(req.query.ids);
    assert_false(req.query.include_settings);
    assert_false(req.query.show_deleted);
    assert_false(req.query.show_secrets);
    assert_int_equal(req.query.page, 1);
    assert_int_equal(req.query.page_size, 100);
    sl_grpc_connectors_list_req_free(&req);

    Eventstore__Connectors__V1__ConnectorState states[] = {
        EVENTSTORE__CONNECTORS__V1__CONNECTOR_STATE__CONNECTOR_STATE_RUNNING,
        EVENTSTORE__CONNECTORS__V1__CONNECTOR_STATE__CONNECTOR_STATE_STOPPED,
        (Eventstore__Connectors__V1__ConnectorState)42,
    };
    StringValue t1 = SLUICE__WIRE__STRING_VALUE__INIT, t2 = t1, t3 = t1, i1 = t1;
    t1.value = "http-sink";
    t2.value = ""; /* skipped */
    t3.value = "SerilogSink";
    i1.value = "conn-1";
    StringValue *types[] = {&t1, &t2, &t3};
    StringValue *ids[] = {&i1};
    Eventstore__Connectors__V1__Paging paging = EVENTSTORE__CONNECTORS__V1__PAGING__INIT;
    paging.page = 3;
    paging.page_size = 25;
    Eventstore__Connectors__V1__ListConnectors m = EVENTSTORE__CONNECTORS__V1__LIST_CONNECTORS__INIT;
    m.n_state = 3;
    m.state = states;
    m.n_instance_type_name = 3;
    m.instance_type_name = types;
    m.n_connector_id = 1;
    m.connector_id = ids;
    m.show_deleted = 1;
    m.include_configuration = 1;
    m.paging = &paging;
    size_t len;
    uint8_t *msg = packed(&m.base, &len);
    assert_int_equal(sl_grpc_connectors_decode_list(msg, len, &req, &err), SL_OK);
    free(msg);
    assert_string_equal(req.query.states, "CONNECTOR_STATE_RUNNING,CONNECTOR_STATE_STOPPED,-");
    assert_true(sl_connector_states_are_valid("CONNECTOR_STATE_RUNNING,CONNECTOR_STATE_STOPPED"));
    assert_string_equal(req.query.instance_types, "http-sink,SerilogSink");
    assert_string_equal(req.query.ids, "conn-1");
    assert_true(req.query.show_deleted);
    assert_true(req.query.include_settings); /* the configuration is built from them */
    assert_false(req.include_settings);
    assert_true(req.include_configuration);
    assert_int_equal(req.query.page, 3);
    assert_int_equal(req.query.page_size, 25);
    sl_grpc_connectors_list_req_free(&req);
    assert_null(req.states);

    paging.page_size = 10001;
    msg = packed(&m.base, &len);
    assert_int_equal(sl_grpc_connectors_decode_list(msg, len, &req, &err), SL_E_INVALID);
    assert_string_equal(err.field, "paging.pageSize");
    free(msg);
    paging.page_size = 10;
    paging.page = -1;
    msg = packed(&m.base, &len);
    assert_int_equal(sl_grpc_connectors_decode_list(msg, len, &req, &err), SL_E_INVALID);
    assert_string_equal(err.field, "paging.page");
    free(msg);
}

static void test_decode_get(void **state)
{
    (void)state;
    char id[64];
    struct sl_error err = {0};
    Eventstore__Connectors__V1__GetConnectorSettings m =
        EVENTSTORE__CONNECTORS__V1__GET_CONNECTOR_SETTINGS__INIT;
    m.connector_id = "orders_to-billing";
    size_t len;
    uint8_t *msg = packed(&m.base, &len);
    assert_int_equal(sl_grpc_connectors_decode_get(msg, len, id, &err), SL_OK);
    assert_string_equal(id, "orders_to-billing");
    free(msg);
    assert_int_equal(sl_grpc_connectors_decode_get(NULL, 0, id, &err), SL_E_INVALID); /* no id */
    assert_string_equal(err.field, "connectorId");
}

/* ---- responses ---- */

static void check_item(const ConnectorMsg *c, const char *id)
{
    assert_string_equal(c->connector_id, id);
    assert_string_equal(c->instance_type_name, "http-sink");
    assert_string_equal(c->name, "to billing");
    assert_non_null(c->state_update_time);
    assert_int_equal(c->state_update_time->seconds, 1795621532);
    assert_int_equal(c->state_update_time->nanos, 123456000);
    assert_non_null(c->settings_update_time);
    assert_int_equal(c->settings_update_time->seconds, 1795621530);
    assert_non_null(c->position);
    assert_int_equal(c->position->value, 4242);
    assert_non_null(c->position_update_time);
    assert_int_equal(c->position_update_time->nanos, 1000);
    assert_non_null(c->create_time);
    assert_int_equal(c->create_time->seconds, 946684799);
    assert_non_null(c->update_time);
    assert_int_equal(c->update_time->nanos, 500000000);
    assert_null(c->delete_time); /* null in the JSON: absent */
    assert_non_null(c->error_details);
    assert_string_equal(c->error_details->code, "sink-failed");
    assert_string_equal(c->error_details->message, "connection refused");
    assert_int_equal(c->lag, 7);
    assert_int_equal(c->delivered, 100);
    assert_int_equal(c->filtered, 5);
    assert_int_equal(c->failed, 2);
    assert_int_equal(c->dead_lettered, 1);
    assert_non_null(c->last_error_time);
    assert_int_equal(c->last_error_time->nanos, 250000000);
}

static void test_encode_list(void **state)
{
    (void)state;
    json_t *list =
        json_pack("{s:[o,o],s:I}", "items", list_item("conn-a", "CONNECTOR_STATE_RUNNING", true),
                  list_item("conn-b", "CONNECTOR_STATE_STOPPED", true), "totalSize", (json_int_t)12);
    struct sl_buf out;
    sl_buf_init(&out);

    assert_true(sl_grpc_connectors_encode_list(&out, list, true, false));
    Eventstore__Connectors__V1__ListConnectorsResult *r =
        eventstore__connectors__v1__list_connectors_result__unpack(NULL, out.len, (const uint8_t *)out.data);
    assert_non_null(r);
    assert_int_equal(r->total_size, 12);
    assert_int_equal(r->n_items, 2);
    check_item(r->items[0], "conn-a");
    check_item(r->items[1], "conn-b");
    assert_int_equal(r->items[0]->state,
                     EVENTSTORE__CONNECTORS__V1__CONNECTOR_STATE__CONNECTOR_STATE_RUNNING);
    assert_int_equal(r->items[1]->state,
                     EVENTSTORE__CONNECTORS__V1__CONNECTOR_STATE__CONNECTOR_STATE_STOPPED);
    assert_int_equal(r->items[0]->n_settings, 4);
    assert_string_equal(setting_of(r->items[0], "url"), "http://billing.local/{stream}");
    assert_string_equal(setting_of(r->items[0], "authentication:bearer:token"), "***");
    assert_null(r->items[0]->configuration);
    eventstore__connectors__v1__list_connectors_result__free_unpacked(r, NULL);

    /* Only the configuration: the settings nested, and no flat map. */
    assert_true(sl_grpc_connectors_encode_list(&out, list, false, true));
    r = eventstore__connectors__v1__list_connectors_result__unpack(NULL, out.len, (const uint8_t *)out.data);
    assert_non_null(r);
    const ConnectorMsg *c = r->items[0];
    assert_int_equal(c->n_settings, 0);
    assert_non_null(c->configuration);
    assert_non_null(c->configuration_update_time);
    assert_int_equal(c->configuration_update_time->seconds, 1795621530);
    const ValueMsg *url = field_of(c->configuration, "url");
    assert_non_null(url);
    assert_int_equal(url->kind_case, SLUICE__WIRE__VALUE__KIND_STRING_VALUE);
    assert_string_equal(url->string_value, "http://billing.local/{stream}");
    const ValueMsg *auth = field_of(c->configuration, "authentication");
    assert_non_null(auth);
    assert_int_equal(auth->kind_case, SLUICE__WIRE__VALUE__KIND_STRUCT_VALUE);
    const ValueMsg *bearer = field_of(auth->struct_value, "bearer");
    assert_non_null(bearer);
    assert_string_equal(field_of(bearer->struct_value, "token")->string_value, "***");
    eventstore__connectors__v1__list_connectors_result__free_unpacked(r, NULL);

    /* Without settings in the JSON (the list was made without them), nothing of them goes out. */
    json_t *bare = json_pack("{s:[o],s:I}", "items", list_item("conn-c", "CONNECTOR_STATE_ACTIVATING", false),
                             "totalSize", (json_int_t)1);
    json_object_set_new(json_array_get(json_object_get(bare, "items"), 0), "position", json_null());
    json_object_set_new(json_array_get(json_object_get(bare, "items"), 0), "errorDetails", json_null());
    json_object_set_new(json_array_get(json_object_get(bare, "items"), 0), "deleteTime",
                        json_string("2026-11-25T15:46:00.000000Z"));
    assert_true(sl_grpc_connectors_encode_list(&out, bare, true, true));
    r = eventstore__connectors__v1__list_connectors_result__unpack(NULL, out.len, (const uint8_t *)out.data);
    assert_non_null(r);
    c = r->items[0];
    assert_int_equal(c->state, EVENTSTORE__CONNECTORS__V1__CONNECTOR_STATE__CONNECTOR_STATE_ACTIVATING);
    assert_int_equal(c->n_settings, 0);
    assert_null(c->configuration);
    assert_null(c->position);
    assert_null(c->error_details);
    assert_non_null(c->delete_time);
    assert_int_equal(c->delete_time->seconds, 1795621560);
    eventstore__connectors__v1__list_connectors_result__free_unpacked(r, NULL);

    /* No connectors at all. */
    json_t *none = json_pack("{s:[],s:I}", "items", "totalSize", (json_int_t)0);
    assert_true(sl_grpc_connectors_encode_list(&out, none, true, true));
    r = eventstore__connectors__v1__list_connectors_result__unpack(NULL, out.len, (const uint8_t *)out.data);
    assert_non_null(r);
    assert_int_equal(r->n_items, 0);
    assert_int_equal(r->total_size, 0);
    eventstore__connectors__v1__list_connectors_result__free_unpacked(r, NULL);

    json_decref(none);
    json_decref(bare);
    json_decref(list);
    sl_buf_free(&out);
}

static void test_encode_settings(void **state)
{
    (void)state;
    json_t *j =
        json_pack("{s:{s:s,s:s,s:s},s:s}", "settings", "instanceTypeName", "serilog-sink", "path",
                  "/tmp/x.log", "logging:enabled", "", "settingsUpdateTime", "2026-11-25T15:45:32.123456Z");
    struct sl_buf out;
    sl_buf_init(&out);
    assert_true(sl_grpc_connectors_encode_settings(&out, j));
    Eventstore__Connectors__V1__GetConnectorSettingsResult *r =
        eventstore__connectors__v1__get_connector_settings_result__unpack(NULL, out.len,
                                                                          (const uint8_t *)out.data);
    assert_non_null(r);
    assert_int_equal(r->n_settings, 3);
    bool seen_empty = false;
    for (size_t i = 0; i < r->n_settings; i++) {
        assert_non_null(r->settings[i]->value); /* every value is sent, even "" */
        if (strcmp(r->settings[i]->key, "path") == 0)
            assert_string_equal(r->settings[i]->value->value, "/tmp/x.log");
        if (strcmp(r->settings[i]->key, "logging:enabled") == 0)
            seen_empty = r->settings[i]->value->value[0] == '\0';
    }
    assert_true(seen_empty);
    assert_non_null(r->settings_update_time);
    assert_int_equal(r->settings_update_time->seconds, 1795621532);
    assert_int_equal(r->settings_update_time->nanos, 123456000);
    eventstore__connectors__v1__get_connector_settings_result__free_unpacked(r, NULL);

    /* An empty map and no time. */
    json_t *empty = json_pack("{s:{},s:n}", "settings", "settingsUpdateTime");
    assert_true(sl_grpc_connectors_encode_settings(&out, empty));
    r = eventstore__connectors__v1__get_connector_settings_result__unpack(NULL, out.len,
                                                                          (const uint8_t *)out.data);
    assert_non_null(r);
    assert_int_equal(r->n_settings, 0);
    assert_null(r->settings_update_time);
    eventstore__connectors__v1__get_connector_settings_result__free_unpacked(r, NULL);
    json_decref(empty);
    json_decref(j);
    sl_buf_free(&out);
}

static void test_encode_configuration(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:{s:s,s:{s:{s:s}},s:[i,f,b,n,s]},s:s}", "configuration", "instanceTypeName",
                          "http-sink", "subscription", "filter", "scope", "stream", "odd", 3, 1.5, 1, "x",
                          "settingsUpdateTime", "2026-11-25T15:45:32.000000Z");
    assert_non_null(j);
    struct sl_buf out;
    sl_buf_init(&out);
    assert_true(sl_grpc_connectors_encode_configuration(&out, j));
    Eventstore__Connectors__V1__GetConnectorConfigurationResult *r =
        eventstore__connectors__v1__get_connector_configuration_result__unpack(NULL, out.len,
                                                                               (const uint8_t *)out.data);
    assert_non_null(r);
    assert_non_null(r->configuration_update_time);
    assert_int_equal(r->configuration_update_time->seconds, 1795621532);
    const StructMsg *s = r->configuration;
    assert_int_equal(s->n_fields, 3);
    assert_string_equal(field_of(s, "instanceTypeName")->string_value, "http-sink");
    const ValueMsg *sub = field_of(s, "subscription");
    const ValueMsg *filter = field_of(sub->struct_value, "filter");
    assert_string_equal(field_of(filter->struct_value, "scope")->string_value, "stream");
    const ValueMsg *odd = field_of(s, "odd");
    assert_int_equal(odd->kind_case, SLUICE__WIRE__VALUE__KIND_LIST_VALUE);
    assert_int_equal(odd->list_value->n_values, 5);
    assert_int_equal(odd->list_value->values[0]->kind_case, SLUICE__WIRE__VALUE__KIND_NUMBER_VALUE);
    assert_true(odd->list_value->values[0]->number_value == 3.0);
    assert_true(odd->list_value->values[1]->number_value == 1.5);
    assert_int_equal(odd->list_value->values[2]->kind_case, SLUICE__WIRE__VALUE__KIND_BOOL_VALUE);
    assert_true(odd->list_value->values[2]->bool_value);
    assert_int_equal(odd->list_value->values[3]->kind_case, SLUICE__WIRE__VALUE__KIND_NULL_VALUE);
    assert_string_equal(odd->list_value->values[4]->string_value, "x");
    eventstore__connectors__v1__get_connector_configuration_result__free_unpacked(r, NULL);

    /* Nesting past the limit is refused rather than sent. */
    json_t *deep = json_object();
    json_t *node = deep;
    for (int i = 0; i < 100; i++) {
        json_t *child = json_object();
        json_object_set_new(node, "a", child);
        node = child;
    }
    json_t *deep_result = json_pack("{s:o,s:n}", "configuration", deep, "settingsUpdateTime");
    assert_false(sl_grpc_connectors_encode_configuration(&out, deep_result));
    json_decref(deep_result);
    json_decref(j);
    sl_buf_free(&out);
}

/* ---- errors ---- */

static void test_status(void **state)
{
    (void)state;
    struct sl_buf msg;
    sl_buf_init(&msg);
    struct sl_error err = {0};

    sl_field_errorf(&err, SL_E_INVALID, "name", "the name must be 3 to 50 characters; it is 1");
    assert_int_equal(sl_grpc_connectors_status(&err, NULL, &msg), SL_GRPC_INVALID_ARGUMENT);
    assert_string_equal(msg.data, "the name must be 3 to 50 characters; it is 1");

    sl_errorf(&err, SL_E_INVALID, "connector c-1 must be stopped to be deleted");
    assert_int_equal(sl_grpc_connectors_status(&err, NULL, &msg), SL_GRPC_FAILED_PRECONDITION);
    assert_string_equal(msg.data, "connector c-1 must be stopped to be deleted");

    struct sl_violations v = {0};
    sl_violations_add(&v, "url", "is required");
    sl_violations_add(&v, "resilience:maxRetries", "must be a number");
    sl_field_errorf(&err, SL_E_INVALID, "url", "the settings break 2 rules");
    assert_int_equal(sl_grpc_connectors_status(&err, &v, &msg), SL_GRPC_INVALID_ARGUMENT);
    assert_string_equal(
        msg.data, "the settings break 2 rules: url: is required; resilience:maxRetries: must be a number");

    /* Many violations are cut to fit a trailer, saying how many were left out. */
    for (int i = 0; i < 200; i++)
        sl_violations_add(&v, "some:rather:long:setting:name",
                          "breaks a rule that takes a while to describe, %d", i);
    assert_int_equal(sl_grpc_connectors_status(&err, &v, &msg), SL_GRPC_INVALID_ARGUMENT);
    assert_true(msg.len < 2048);
    assert_non_null(strstr(msg.data, "more"));
    sl_violations_free(&v);

    sl_errorf(&err, SL_E_NOT_FOUND, "connector c-1 does not exist");
    assert_int_equal(sl_grpc_connectors_status(&err, NULL, &msg), SL_GRPC_NOT_FOUND);
    sl_errorf(&err, SL_E_EXISTS, "connector c-1 already exists");
    assert_int_equal(sl_grpc_connectors_status(&err, NULL, &msg), SL_GRPC_ALREADY_EXISTS);
    sl_errorf(&err, SL_E_SHUTDOWN, "the server is shutting down");
    assert_int_equal(sl_grpc_connectors_status(&err, NULL, &msg), SL_GRPC_UNAVAILABLE);
    sl_errorf(&err, SL_E_NOMEM, "out of memory");
    assert_int_equal(sl_grpc_connectors_status(&err, NULL, &msg), SL_GRPC_RESOURCE_EXHAUSTED);
    sl_buf_free(&msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_state_number),
        cmocka_unit_test(test_decode_create),
        cmocka_unit_test(test_decode_other_commands),
        cmocka_unit_test(test_decode_list),
        cmocka_unit_test(test_decode_get),
        cmocka_unit_test(test_encode_list),
        cmocka_unit_test(test_encode_settings),
        cmocka_unit_test(test_encode_configuration),
        cmocka_unit_test(test_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

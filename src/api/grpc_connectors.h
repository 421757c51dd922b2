/* grpc_connectors.h: the connectors management API over gRPC.
 *
 * KurrentDB's services `eventstore.connectors.v1.ConnectorsCommandService`
 * (Create, Reconfigure, Delete, Start, Reset, Stop, Rename) and
 * `ConnectorsQueryService` (List, GetSettings, GetConfiguration), with the
 * messages of proto/connectors/. They are the REST API's operations (spec §3)
 * on the same manager: commands go through sl_connectors_submit(), queries read
 * sl_connectors_list() and sl_connectors_settings(), so both APIs see the same
 * connectors and the same rules.
 *
 * Commands answer an empty message, or INVALID_ARGUMENT (a bad id, name or
 * settings; every broken settings rule is listed in grpc-message),
 * NOT_FOUND (unknown or deleted), ALREADY_EXISTS, or FAILED_PRECONDITION (a
 * rule on the connector's state, such as "must be stopped").
 *
 * Secret settings are masked unless the call carries
 * `authorization: Bearer <admin token>` matching the server's admin token.
 *
 * The conversion functions below are pure (any thread) so that they can be
 * tested without a server. */
#ifndef SL_API_GRPC_CONNECTORS_H
#define SL_API_GRPC_CONNECTORS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "connectors/manager.h"
#include "server/grpc.h"
#include "util/buf.h"
#include "util/error.h"

/* The handler of every method of both services: it tells them apart by the path. */
void sl_api_grpc_connectors(struct sl_api *api, struct sl_grpc_call *call);

/* ---- requests ---- */

/* A command message of `kind` (CreateConnector ... RenameConnector) into `cmd`:
 * the id (checked: 5-50 characters of [A-Za-z0-9_-]), the name (create,
 * rename), the settings (create, reconfigure; a missing value is "") and the
 * start position (start, reset). `cmd->settings` must have been initialized;
 * *name receives the malloc'd name that cmd->name points at (or NULL). The
 * caller frees both, whatever the result. */
enum sl_code sl_grpc_connectors_decode_command(enum sl_connector_command_kind kind, const uint8_t *msg,
                                               size_t len, struct sl_connector_command *cmd, char **name,
                                               struct sl_error *err);

/* ListConnectors. `query` points at the owned lists (comma-separated, NULL
 * when that filter is absent); query.include_settings is also set when only
 * the configuration is asked for, since it is built from the settings. */
struct sl_grpc_connectors_list_req {
    struct sl_connector_query query; /* show_secrets is left false */
    bool include_settings;
    bool include_configuration;
    char *states, *instance_types, *ids;
};

enum sl_code sl_grpc_connectors_decode_list(const uint8_t *msg, size_t len,
                                            struct sl_grpc_connectors_list_req *out, struct sl_error *err);
void sl_grpc_connectors_list_req_free(struct sl_grpc_connectors_list_req *r); /* NULL-safe; zeroes `r` */

/* GetConnectorSettings (GetSettings and GetConfiguration): the id into id[64]. */
enum sl_code sl_grpc_connectors_decode_get(const uint8_t *msg, size_t len, char id[64], struct sl_error *err);

/* ---- responses ---- *
 * Each packs one message into `out` (reset first) from the manager's JSON;
 * false when memory runs out or the JSON cannot be represented. */

/* ListConnectorsResult from {"items": [...], "totalSize": N}. Settings go out
 * only with `include_settings`, the nested configuration only with
 * `include_configuration` (built from the items' settings). */
bool sl_grpc_connectors_encode_list(struct sl_buf *out, const json_t *list, bool include_settings,
                                    bool include_configuration);

/* GetConnectorSettingsResult from {"settings": {...}, "settingsUpdateTime"}. */
bool sl_grpc_connectors_encode_settings(struct sl_buf *out, const json_t *settings);

/* GetConnectorConfigurationResult from {"configuration": {...}, "settingsUpdateTime"}. */
bool sl_grpc_connectors_encode_configuration(struct sl_buf *out, const json_t *configuration);

/* `2026-11-25T15:45:32.123456Z` (the fraction optional, up to 9 digits) as
 * google.protobuf.Timestamp's seconds and nanos. False when it is not that form. */
bool sl_grpc_connectors_timestamp(const char *text, int64_t *seconds, int32_t *nanos);

/* ConnectorState's number for a state name (CONNECTOR_STATE_RUNNING ...); 0 (unknown) otherwise. */
int sl_grpc_connectors_state_number(const char *name);

/* The status for a failed command or query, and its grpc-message in `message`
 * (reset first): the error, then the broken settings rules as
 * `field: description; ...` (cut to a size that fits a trailer). */
enum sl_grpc_status sl_grpc_connectors_status(const struct sl_error *err, const struct sl_violations *v,
                                              struct sl_buf *message);

#endif

/* definition.h: the settings every connector has, and the checks that span
 * them and its sink's (spec: docs/connectors.md).
 * Pure functions, any thread. */
#ifndef SL_CONNECTORS_DEFINITION_H
#define SL_CONNECTORS_DEFINITION_H

#include "connectors/settings.h"
#include "sinks/sink.h"
#include "store/filter.h"

extern const struct sl_setting sl_connector_settings[];

/* Validates `s` fully: the common table, the sink named by instanceTypeName
 * and its table, and the rules between settings. Every violation is added.
 * *sink is the sink type when instanceTypeName names one, else NULL. */
void sl_connector_validate(const struct sl_settings *s, struct sl_violations *out,
                           const struct sl_sink_type **sink);

/* The NULL-terminated table list for `sink` (common settings first). */
void sl_connector_tables(const struct sl_sink_type *sink, const struct sl_setting *tables[3]);

/* Builds the event filter the settings describe. NULL with `err` filled when
 * they do not describe one (validation catches that first). */
struct sl_filter *sl_connector_filter(const struct sl_settings *s, struct sl_error *err);

#endif

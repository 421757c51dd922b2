/* sink.h: the interface every sink implements, and what it receives.
 *
 * A sink type is one struct sl_sink_type, declared in one file of src/sinks/
 * and listed once in src/sinks/registry.c. Its settings table drives
 * validation, the masking of secrets and the docs.
 *
 * Threads: a sink instance belongs to one connector worker thread. create,
 * write and destroy are called from that thread only, in that order; write may
 * block (network I/O) but must return promptly once `*cancel` becomes true.
 * Sinks know nothing of the store or the HTTP server: only records and settings.
 *
 * Ownership: records and their memory belong to the caller and are valid only
 * during write(). The sink's context is the sink's, freed by destroy (NULL-safe). */
#ifndef SL_SINKS_SINK_H
#define SL_SINKS_SINK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connectors/settings.h"
#include "util/error.h"

struct sl_header {
    const char *name;
    const char *value;
};

/* One record handed to a sink: an event of the log, as the connector shows it. */
struct sl_sink_record {
    uint64_t position;
    int64_t revision;
    int64_t created_us;
    const char *record_id; /* the event id, as a UUID string */
    const char *stream;
    size_t stream_len;
    const char *type; /* the schema subject */
    size_t type_len;
    const char *content_type;
    bool is_json;
    const void *payload; /* event data, transformed if configured */
    size_t payload_len;
    const struct sl_header *headers; /* esdb-* headers and the event's metadata headers */
    size_t n_headers;
};

enum sl_sink_outcome {
    SL_SINK_DELIVERED, /* the external system has it */
    SL_SINK_RETRY,     /* try again later (transient: 5xx, 408, 429, timeouts, connection errors) */
    SL_SINK_FAILED,    /* will never succeed as is (e.g. 4xx): stop or dead-letter */
};

struct sl_sink_result {
    enum sl_sink_outcome outcome;
    int64_t retry_after_ms; /* the external system asked for this delay; -1 when it did not */
    char error[256];        /* why, when not delivered */
};

struct sl_sink_type {
    const char *name;                  /* e.g. "http-sink" */
    const char *const *aliases;        /* NULL-terminated, e.g. "HttpSink" */
    const struct sl_setting *settings; /* terminated by an entry with key NULL */
    /* Cross-field checks beyond the table (may be NULL). */
    void (*validate)(const struct sl_settings *settings, struct sl_violations *out);
    /* Settings (validated) -> context. Must not block on the network. */
    enum sl_code (*create)(const struct sl_settings *settings, const char *connector_id, void **ctx,
                           struct sl_error *err);
    /* Delivers records in order and fills one result per record. It stops at
     * the first record that is not delivered: that record and every later
     * one get its outcome (they were not attempted or must be re-sent). */
    void (*write)(void *ctx, const struct sl_sink_record *records, size_t n, struct sl_sink_result *results,
                  const _Atomic bool *cancel);
    void (*destroy)(void *ctx);
    /* How many records the sink wants per write (e.g. batching:maxRecords); NULL = 1. */
    size_t (*batch_size)(void *ctx);
    /* The connector has nothing to deliver for a while: free the buffers the
     * next write can build again, keeping connections (may be NULL). */
    void (*release)(void *ctx);
};

/* The sink type named `name` (or one of its aliases, ignoring case), or NULL. */
const struct sl_sink_type *sl_sink_find(const char *name);

/* Every sink type, NULL-terminated. */
const struct sl_sink_type *const *sl_sink_types(void);

#endif

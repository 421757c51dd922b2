/* grpc_codec.h: KurrentDB gRPC messages (the .proto files in proto/) to and from sluice's values.
 *
 * Pure functions, any thread; nothing here touches the store or the network.
 *
 * Decoding turns one request message into plain C values, checked the way the
 * real server checks them (which oneof member was present, which combinations
 * are allowed), so handlers never see protobuf-c types and a fuzz target can
 * feed raw bytes to sl_grpc_decode_read() and sl_grpc_decode_append(). Every
 * decode either returns SL_OK with `out` filled (free it with the matching
 * _free function) or an error with `err` filled and nothing to free.
 *
 * Encoding packs one response message into a struct sl_buf (reset first).
 * Every oneof member chosen is encoded, even when it is empty or zero: the
 * clients tell members apart only by their presence. The encoders return
 * false only when memory runs out.
 *
 * Wire conventions: a sluice position is sent as both the commit and the
 * prepare position; `created` is .NET ticks (100 ns) since the Unix epoch as a
 * decimal string; event ids go out in the form the read asked for (string,
 * or structured as two big-endian halves). */
#ifndef SL_API_GRPC_CODEC_H
#define SL_API_GRPC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/filter.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"

/* The window of filtered subscriptions when the client asks for `count`. */
#define SL_GRPC_DEFAULT_CHECKPOINT_WINDOW 32u

/* The server version GetSupportedMethods reports. */
#define SL_GRPC_SERVER_VERSION "24.10.0"

/* ---- plain values ---- */

/* .NET ticks (100 ns units) since the Unix epoch, from microseconds. */
int64_t sl_grpc_ticks_from_us(int64_t us);

/* The number KurrentDB uses for an expectation in trailers: -2 any,
 * -1 no stream, -4 stream exists, else the revision. */
int64_t sl_grpc_expected_number(const struct sl_expected *expected);

/* UUIDs: the structured form's halves are the first and last 8 bytes, big-endian. */
void sl_grpc_uuid_halves(const uint8_t id[16], int64_t *most, int64_t *least);
void sl_grpc_uuid_from_halves(int64_t most, int64_t least, uint8_t id[16]);

/* ---- requests ---- */

enum sl_grpc_from { SL_GRPC_FROM_START, SL_GRPC_FROM_END, SL_GRPC_FROM_POINT };

/* Streams.Read: a read (`count`) or a subscription, of one stream or of $all. */
struct sl_grpc_read_req {
    bool is_all;
    char *stream; /* one stream: its name, NUL-terminated; NULL for $all */
    size_t stream_len;
    enum sl_grpc_from from;
    uint64_t revision; /* a stream from a point */
    uint64_t position; /* $all from a point: the commit position */
    bool backwards;
    bool resolve_links;
    bool is_subscription; /* else a read of up to `count` events */
    uint64_t count;
    bool uuid_structured; /* ids go back in the structured form */

    /* $all only */
    bool has_filter;
    enum sl_filter_on filter_on; /* SL_FILTER_STREAM or SL_FILTER_TYPE */
    char *regex;                 /* non-NULL: a regular expression, else `prefixes` */
    char **prefixes;
    size_t n_prefixes;
    uint32_t checkpoint_window;     /* `max`, or SL_GRPC_DEFAULT_CHECKPOINT_WINDOW */
    uint32_t checkpoint_multiplier; /* >= 1 */
};

enum sl_code sl_grpc_decode_read(const uint8_t *msg, size_t len, struct sl_grpc_read_req *out,
                                 struct sl_error *err);
void sl_grpc_read_req_free(struct sl_grpc_read_req *r); /* NULL-safe; zeroes `r` */

/* Builds the store filter a read asks for into *out (NULL when it asks for none).
 * Returns false with `err` filled when it cannot be built (e.g. a bad regex). */
bool sl_grpc_read_filter(const struct sl_grpc_read_req *r, struct sl_filter **out, struct sl_error *err);

/* One message of Streams.Append: the options (first) or one proposed event. */
struct sl_grpc_append_part {
    bool is_options;
    /* options */
    const char *stream; /* points into the decoded message; not NUL-terminated */
    size_t stream_len;
    struct sl_expected expected;
    /* a proposed event; its pointers refer to the decoded message */
    struct sl_new_event event;
    size_t payload_bytes;     /* data + custom metadata */
    bool is_missing_metadata; /* with SL_E_INVALID: `type` or `content-type` absent */
    void *owner;              /* the decoded message; freed by sl_grpc_append_part_free */
};

enum sl_code sl_grpc_decode_append(const uint8_t *msg, size_t len, struct sl_grpc_append_part *out,
                                   struct sl_error *err);
void sl_grpc_append_part_free(struct sl_grpc_append_part *p); /* NULL-safe; zeroes `p` */

/* Streams.Delete or Streams.Tombstone (the same layout). */
struct sl_grpc_delete_req {
    char *stream; /* NUL-terminated */
    size_t stream_len;
    struct sl_expected expected;
};

enum sl_code sl_grpc_decode_delete(const uint8_t *msg, size_t len, bool is_tombstone,
                                   struct sl_grpc_delete_req *out, struct sl_error *err);
void sl_grpc_delete_req_free(struct sl_grpc_delete_req *r); /* NULL-safe */

/* One message of Streams.BatchAppend: part of the append `correlation_id`. */
struct sl_grpc_batch_part {
    uint8_t correlation_id[16]; /* kept on errors too; all zero when it could not be read */
    bool has_options;           /* the first message of an append carries them */
    const char *stream;         /* points into the decoded message */
    size_t stream_len;
    struct sl_expected expected;
    struct sl_new_event *events; /* malloc'd; pointers refer to the decoded message */
    size_t n_events;
    size_t payload_bytes;
    bool has_deadline; /* options: an absolute deadline, `deadline_us` since the epoch */
    int64_t deadline_us;
    bool has_timeout; /* options: a deadline relative to the arrival, `timeout_us` */
    int64_t timeout_us;
    bool is_final;
    bool is_missing_metadata; /* with SL_E_INVALID */
    void *owner;
};

enum sl_code sl_grpc_decode_batch_append(const uint8_t *msg, size_t len, struct sl_grpc_batch_part *out,
                                         struct sl_error *err);
void sl_grpc_batch_part_free(struct sl_grpc_batch_part *p); /* NULL-safe; zeroes `p` */

/* ---- responses ---- */

/* ReadResp{event}: every RecordedEvent field set, metadata `type`, `created`,
 * `content-type`, and the commit position of the event. */
bool sl_grpc_encode_event(struct sl_buf *out, const struct sl_event *ev, bool uuid_structured);
/* ReadResp{event} for a resolved link: `event` is the target, `link` the link
 * event (its position is the one sent). */
bool sl_grpc_encode_resolved(struct sl_buf *out, const struct sl_event *event, const struct sl_event *link,
                             bool uuid_structured);
/* Parses a link event's data, `<revision>@<stream>`. The stream points into `data`. */
bool sl_grpc_parse_link(const void *data, size_t len, int64_t *revision, const char **stream,
                        size_t *stream_len);
bool sl_grpc_encode_confirmation(struct sl_buf *out, const char *subscription_id);
bool sl_grpc_encode_checkpoint(struct sl_buf *out, uint64_t position, int64_t now_us);
/* ReadResp{caught_up}: `revision` < 0 and `position` 0 are left out. */
bool sl_grpc_encode_caught_up(struct sl_buf *out, int64_t now_us, int64_t revision, uint64_t position);
bool sl_grpc_encode_stream_not_found(struct sl_buf *out, const char *stream, size_t len);

/* AppendResp{success}: `last_revision` -1 is no_stream, `position` 0 is no_position. */
bool sl_grpc_encode_append_success(struct sl_buf *out, int64_t last_revision, uint64_t position);
/* AppendResp{wrong_expected_version}: `actual` -1 is current_no_stream. */
bool sl_grpc_encode_append_wrong_version(struct sl_buf *out, const struct sl_expected *expected,
                                         int64_t actual);

/* DeleteResp or TombstoneResp: `position` 0 is no_position. */
bool sl_grpc_encode_delete(struct sl_buf *out, bool is_tombstone, uint64_t position);

struct sl_grpc_method {
    const char *method; /* lower case */
    const char *service;
    const char *const *features; /* NULL-terminated, or NULL */
};
bool sl_grpc_encode_supported_methods(struct sl_buf *out, const struct sl_grpc_method *methods, size_t n,
                                      const char *version);

/* BatchAppendResp. Both carry the correlation id, the stream and the echo of the expectation. */
bool sl_grpc_encode_batch_success(struct sl_buf *out, const uint8_t correlation_id[16], const char *stream,
                                  size_t stream_len, const struct sl_expected *expected,
                                  int64_t last_revision, uint64_t position);

/* The detail of a BatchAppend error: `google.rpc.Status.details`. */
enum sl_grpc_batch_detail {
    SL_GRPC_DETAIL_WRONG_EXPECTED_VERSION,
    SL_GRPC_DETAIL_STREAM_DELETED,
    SL_GRPC_DETAIL_MAXIMUM_APPEND_SIZE_EXCEEDED,
    SL_GRPC_DETAIL_TIMEOUT,
    SL_GRPC_DETAIL_UNKNOWN,
};
struct sl_grpc_batch_error {
    int status; /* an enum sl_grpc_status value */
    const char *message;
    enum sl_grpc_batch_detail detail;
    int64_t actual_revision;  /* WRONG_EXPECTED_VERSION: -1 = no stream */
    uint32_t max_append_size; /* MAXIMUM_APPEND_SIZE_EXCEEDED */
};
bool sl_grpc_encode_batch_error(struct sl_buf *out, const uint8_t correlation_id[16], const char *stream,
                                size_t stream_len, const struct sl_expected *expected,
                                const struct sl_grpc_batch_error *e);

#endif

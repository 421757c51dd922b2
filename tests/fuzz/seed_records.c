/* seed_records.c: writes the seed corpus of fuzz_record_decode: records made by the store's own
 * encoder (sl_record_encode), one file each, into the directory given as the only argument.
 * Usage: build-fuzz/tests/fuzz/seed_records tests/fuzz/corpus/fuzz_record_decode */
#include <stdio.h>
#include <string.h>

#include "store/record.h"

struct seed {
    const char *file, *stream, *type, *meta, *data;
    size_t data_len; /* 0: strlen(data) */
    unsigned flags;
    int64_t revision, created_us;
};

static const struct seed seeds[] = {
    {"json_event", "orders-1", "OrderPlaced", "", "{\"orderId\":\"o-1\",\"total\":12.5}", 0,
     SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON, 0, 1700000000123456},
    {"json_with_meta", "orders-1", "OrderShipped", "{\"$correlationId\":\"c-1\",\"user\":\"u\",\"n\":[1,2]}",
     "{\"orderId\":\"o-1\"}", 0, SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON | SL_EVENT_META_IS_JSON, 1,
     1700000000223456},
    {"binary", "blobs", "Blob", "", "\x00\x01\x02\xff\xfe", 5, 0, 7, 1700000001000000},
    {"binary_meta", "blobs", "Blob", "\x10\x20", "abc", 0, 0, 8, 0},
    {"empty_data", "s", "Empty", "", "", 0, SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON, 0, 1},
    {"metadata_stream", "$$orders-1", "$metadata", "", "{\"$maxCount\":10,\"$maxAge\":3600}", 0,
     SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON, 0, 1700000002000000},
    {"tombstone", "gone", "$streamDeleted", "", "", 0, 0, INT64_MAX, 1700000003000000},
    {"connector_created", "$connectors/my-sink", "$conn-mngt-connector-created", "",
     "{\"name\":\"my-sink\",\"instanceTypeName\":\"http-sink\",\"settings\":{\"url\":\"http://h/\"}}", 0,
     SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON, 0, 1700000004000000},
    {"checkpoint", "$connectors/my-sink/checkpoints", "$conn-ctrl-checkpoint", "", "{\"position\":42}", 0,
     SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON, 3, 1700000005000000},
    {"unicode_names", "caf\xc3\xa9-\xf0\x9f\x98\x80", "T\xc3\xa9st", "", "\"\xe6\x97\xa5\xe6\x9c\xac\"", 0,
     SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON, 2, 1700000006000000},
    {"invalid_utf8_names", "bad\xff\xfe", "t\xc0\xaf", "", "1", 0, SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON, 5,
     -1},
    {"negative_time", "old", "Old", "", "null", 0, SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON, 9,
     -62135596800000000},
    {"far_future", "new", "New", "", "[]", 0, SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON, 10, 253402300799999999},
    {"json_flag_not_json", "s", "T", "not json", "{broken", 0,
     SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON | SL_EVENT_META_IS_JSON, 11, 5},
    {"all_flags", "s", "T", "{}", "{}", 0, 0xff, -1, INT64_MIN},
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        const struct seed *s = &seeds[i];
        struct sl_new_event ev = {
            .type = s->type,
            .type_len = strlen(s->type),
            .flags = s->flags,
            .data = s->data,
            .data_len = s->data_len ? s->data_len : strlen(s->data),
            .metadata = s->meta,
            .metadata_len = strlen(s->meta),
        };
        for (int k = 0; k < 16; k++)
            ev.id[k] = (uint8_t)(i * 16 + (size_t)k);
        size_t stream_len = strlen(s->stream);
        size_t n = sl_record_size(stream_len, &ev);
        uint8_t rec[1024];
        if (n > sizeof(rec))
            return 1;
        sl_record_encode(rec, s->stream, stream_len, &ev, s->revision, s->created_us);
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[1], s->file);
        FILE *f = fopen(path, "wb");
        if (f == NULL || fwrite(rec, 1, n, f) != n) {
            perror(path);
            return 1;
        }
        fclose(f);
    }
    return 0;
}

#include "connectors/checkpoint.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "util/codec.h"

#define STREAM_PREFIX "$connectors/"
#define STREAM_SUFFIX "/checkpoints"

int sl_checkpoint_stream_name(char *out, size_t size, const char *connector_id)
{
    return snprintf(out, size, STREAM_PREFIX "%s" STREAM_SUFFIX, connector_id);
}

bool sl_checkpoint_is_stream(const char *stream, size_t len)
{
    if (len > 2 && stream[0] == '$' && stream[1] == '$') {
        stream += 2; /* its metadata stream, written before its first checkpoint */
        len -= 2;
    }
    size_t p = sizeof(STREAM_PREFIX) - 1, s = sizeof(STREAM_SUFFIX) - 1;
    return len > p + s && memcmp(stream, STREAM_PREFIX, p) == 0 &&
           memcmp(stream + len - s, STREAM_SUFFIX, s) == 0;
}

enum sl_code sl_checkpoint_load(struct sl_store *store, const char *connector_id, uint64_t *position,
                                bool *found, struct sl_error *err)
{
    char name[128];
    int len = sl_checkpoint_stream_name(name, sizeof(name), connector_id);
    *position = 0;
    *found = false;
    struct sl_read_result r = {0};
    enum sl_code code = sl_store_read_stream(store, name, (size_t)len, SL_REVISION_END, true, 1, &r, err);
    if (code == SL_E_NOT_FOUND) {
        sl_read_result_free(&r);
        return SL_OK;
    }
    if (code == SL_OK && r.count == 1) {
        json_t *doc = json_loadb(r.events[0].data, r.events[0].data_len, 0, NULL);
        json_t *p = json_object_get(doc, "position");
        if (json_is_integer(p) && json_integer_value(p) >= 0) {
            *position = (uint64_t)json_integer_value(p);
            *found = true;
        } else {
            code = sl_errorf(err, SL_E_CORRUPT, "the last checkpoint of connector %s has no position",
                             connector_id);
        }
        json_decref(doc);
    }
    sl_read_result_free(&r);
    return code;
}

static void checkpoint_event(struct sl_new_event *ev, const char *type, const char *data)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    ev->type_len = strlen(type);
    ev->flags = SL_EVENT_JSON | SL_EVENT_DATA_IS_JSON;
    ev->data = data;
    ev->data_len = strlen(data);
    sl_uuid_generate(ev->id);
}

static enum sl_code write_one(struct sl_store *store, const char *stream, size_t len, const char *type,
                              const char *data, struct sl_error *err)
{
    struct sl_new_event ev;
    checkpoint_event(&ev, type, data);
    struct sl_write w = {
        .kind = SL_WRITE_APPEND, .stream = stream, .stream_len = len, .events = &ev, .n_events = 1};
    enum sl_code code = sl_store_write(store, &w);
    if (code && err)
        *err = w.err;
    return code;
}

enum sl_code sl_checkpoint_prepare(struct sl_store *store, const char *connector_id, struct sl_error *err)
{
    char name[128], meta_name[136];
    sl_checkpoint_stream_name(name, sizeof(name), connector_id);
    int mlen = snprintf(meta_name, sizeof(meta_name), "$$%s", name);
    struct sl_stream_info info;
    enum sl_code code = sl_store_stream_info(store, meta_name, (size_t)mlen, &info, err);
    if (code == SL_OK && !info.exists)
        code = write_one(store, meta_name, (size_t)mlen, "$metadata", "{\"$maxCount\":10}", err);
    return code;
}

static void checkpoint_data(char *out, size_t size, uint64_t position)
{
    snprintf(out, size, "{\"position\":%llu}", (unsigned long long)position);
}

enum sl_code sl_checkpoint_save(struct sl_store *store, const char *connector_id, uint64_t position,
                                struct sl_error *err)
{
    char name[128], data[48];
    int len = sl_checkpoint_stream_name(name, sizeof(name), connector_id);
    checkpoint_data(data, sizeof(data), position);
    enum sl_code code = sl_checkpoint_prepare(store, connector_id, err);
    if (code == SL_OK)
        code = write_one(store, name, (size_t)len, "$conn-ctrl-checkpoint", data, err);
    return code;
}

enum sl_code sl_checkpoint_submit(struct sl_store *store, const char *connector_id, uint64_t position,
                                  struct sl_checkpoint_write *cw, void (*done)(struct sl_write *), void *user,
                                  struct sl_error *err)
{
    int len = sl_checkpoint_stream_name(cw->stream, sizeof(cw->stream), connector_id);
    checkpoint_data(cw->data, sizeof(cw->data), position);
    checkpoint_event(&cw->event, "$conn-ctrl-checkpoint", cw->data);
    cw->position = position;
    memset(&cw->write, 0, sizeof(cw->write));
    cw->write.kind = SL_WRITE_APPEND;
    cw->write.stream = cw->stream;
    cw->write.stream_len = (size_t)len;
    cw->write.events = &cw->event;
    cw->write.n_events = 1;
    cw->write.done = done;
    cw->write.user = user;
    return sl_store_submit(store, &cw->write, err);
}

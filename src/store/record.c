#include "store/record.h"

#include <string.h>
#include <libdeflate.h>

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t record_crc(const uint8_t *rec, size_t len)
{
    uint32_t crc = libdeflate_crc32(0, rec, 48);
    return libdeflate_crc32(crc, rec + SL_RECORD_HEADER_SIZE, len - SL_RECORD_HEADER_SIZE);
}

size_t sl_record_size(size_t stream_len, const struct sl_new_event *ev)
{
    return SL_RECORD_HEADER_SIZE + stream_len + ev->type_len + ev->metadata_len + ev->data_len;
}

void sl_record_encode(void *out, const char *stream, size_t stream_len, const struct sl_new_event *ev,
                      int64_t revision, int64_t created_us)
{
    uint8_t *p = out;
    p[0] = SL_RECORD_VERSION;
    p[1] = (uint8_t)ev->flags;
    put_le16(p + 2, (uint16_t)stream_len);
    put_le32(p + 4, (uint32_t)ev->type_len);
    put_le32(p + 8, (uint32_t)ev->metadata_len);
    put_le32(p + 12, (uint32_t)ev->data_len);
    put_le64(p + 16, (uint64_t)revision);
    put_le64(p + 24, (uint64_t)created_us);
    memcpy(p + 32, ev->id, 16);
    uint8_t *header = p;
    p += SL_RECORD_HEADER_SIZE;
    memcpy(p, stream, stream_len);
    p += stream_len;
    if (ev->type_len)
        memcpy(p, ev->type, ev->type_len);
    p += ev->type_len;
    if (ev->metadata_len)
        memcpy(p, ev->metadata, ev->metadata_len);
    p += ev->metadata_len;
    if (ev->data_len)
        memcpy(p, ev->data, ev->data_len);
    put_le32(header + 48, record_crc(header, sl_record_size(stream_len, ev)));
}

enum sl_code sl_record_decode(const void *rec, size_t len, uint64_t position, struct sl_event *ev,
                              struct sl_error *err)
{
    const uint8_t *p = rec;
    if (len < SL_RECORD_HEADER_SIZE || p[0] != SL_RECORD_VERSION)
        return sl_errorf(err, SL_E_CORRUPT,
                         "record at position %llu has a bad header (%zu bytes, version %d)",
                         (unsigned long long)position, len, len ? p[0] : -1);
    size_t stream_len = get_le16(p + 2);
    size_t type_len = get_le32(p + 4);
    size_t meta_len = get_le32(p + 8);
    size_t data_len = get_le32(p + 12);
    if (SL_RECORD_HEADER_SIZE + stream_len + type_len + meta_len + data_len != len)
        return sl_errorf(err, SL_E_CORRUPT, "record at position %llu: lengths do not add up to %zu bytes",
                         (unsigned long long)position, len);
    if (get_le32(p + 48) != record_crc(p, len))
        return sl_errorf(err, SL_E_CORRUPT,
                         "record at position %llu failed its checksum: its bytes changed on disk",
                         (unsigned long long)position);
    ev->position = position;
    ev->flags = p[1];
    ev->revision = (int64_t)get_le64(p + 16);
    ev->created_us = (int64_t)get_le64(p + 24);
    memcpy(ev->id, p + 32, 16);
    const char *s = (const char *)p + SL_RECORD_HEADER_SIZE;
    ev->stream = s;
    ev->stream_len = stream_len;
    s += stream_len;
    ev->type = s;
    ev->type_len = type_len;
    s += type_len;
    ev->metadata = s;
    ev->metadata_len = meta_len;
    s += meta_len;
    ev->data = s;
    ev->data_len = data_len;
    return SL_OK;
}

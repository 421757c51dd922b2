/* record.h: how one event is laid out as an LMDB value in the `events` table.
 *
 * The key is the event's 64-bit position, big-endian so that keys sort in log
 * order and appends can use MDB_APPEND. The value is a 52-byte little-endian
 * header followed by the stream name, event type, metadata and data bytes:
 *
 *   0 u8 version   1 u8 flags   2 u16 stream_len   4 u32 type_len
 *   8 u32 meta_len 12 u32 data_len 16 i64 revision 24 i64 created_us
 *   32 u8[16] event id          48 u32 crc         52 stream | type | metadata | data
 *
 * `crc` is the CRC-32 (zlib's polynomial, computed with libdeflate, which is
 * several times faster than zlib on every read) of every other byte. LMDB checks no
 * data, so this is how sluice refuses to serve a record whose bytes changed
 * on disk.
 *
 * Pure functions, any thread. */
#ifndef SL_STORE_RECORD_H
#define SL_STORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define SL_RECORD_VERSION 2
#define SL_RECORD_HEADER_SIZE 52

/* Bytes needed to encode `ev` in stream `stream_len`. */
size_t sl_record_size(size_t stream_len, const struct sl_new_event *ev);

/* Encodes into `out` (sl_record_size bytes). */
void sl_record_encode(void *out, const char *stream, size_t stream_len, const struct sl_new_event *ev,
                      int64_t revision, int64_t created_us);

/* Decodes `len` bytes at `rec` into `ev` (pointers into `rec`). Returns
 * SL_E_CORRUPT with `err` filled when the lengths do not add up or the
 * checksum does not match. */
enum sl_code sl_record_decode(const void *rec, size_t len, uint64_t position, struct sl_event *ev,
                              struct sl_error *err);

static inline void sl_put_be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static inline uint64_t sl_get_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

#endif

/* json_text.h: cut a JSON text into the raw text of its parts, without re-encoding.
 *
 * sluice keeps JSON payloads byte for byte: the server stores each event's
 * `data` and `metadata` as the client wrote them, and the CLI prints events
 * exactly as the server sent them. Decoding and encoding again would change
 * numbers (0.1 would come back as 0.10000000000000001) and reject integers
 * beyond 64 bits, and jansson keeps no source offsets. These functions walk
 * the text instead. They expect text already checked as JSON; on anything else
 * they return false and never read past `len`. Pure functions, any thread. */
#ifndef SL_UTIL_JSON_TEXT_H
#define SL_UTIL_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

struct sl_json_slice {
    const char *text; /* points into the input */
    size_t len;
};

/* Finds member `key` of the top-level object in `json` and returns its value's text.
 * Keys are compared as written (no unescaping), which is enough for plain ASCII keys. */
bool sl_json_member(const char *json, size_t len, const char *key, struct sl_json_slice *value);

/* Iterates the elements of the array `array` (the text of a JSON array, as from
 * sl_json_member). Start with *pos = 0; returns false when there is no next element. */
bool sl_json_next_item(struct sl_json_slice array, size_t *pos, struct sl_json_slice *item);

/* Iterates the members of the object `object` (the text of a JSON object). Start
 * with *pos = 0; returns false when there is no next member. `name` is the raw
 * text between the name's quotes (escapes not decoded), `value` the value's text. */
bool sl_json_next_member(struct sl_json_slice object, size_t *pos, struct sl_json_slice *name,
                         struct sl_json_slice *value);

/* True when `raw` (the text between a string's quotes) has escapes to decode. */
bool sl_json_has_escapes(struct sl_json_slice raw);

/* Decodes the escapes of `raw` (the text between a string's quotes, checked by
 * sl_json_check) into `out`, which has room for raw.len + 1 bytes: a string never
 * grows when decoded. Returns the decoded length; out[length] = '\0'. */
size_t sl_json_unescape(struct sl_json_slice raw, char *out);

/* Replaces CR and LF (which valid JSON only has as white space between
 * tokens) with spaces, in place, so a stored payload is always one line. */
void sl_json_one_line(char *s, size_t len);

/* Appends `s` to `out` without the whitespace between tokens, so it fits on one line. */
void sl_json_compact(struct sl_buf *out, const char *s, size_t len);

#endif

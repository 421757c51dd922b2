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

/* Replaces CR and LF (which valid JSON only has as white space between
 * tokens) with spaces, in place, so a stored payload is always one line. */
void sl_json_one_line(char *s, size_t len);

/* Appends `s` to `out` without the whitespace between tokens, so it fits on one line. */
void sl_json_compact(struct sl_buf *out, const char *s, size_t len);

#endif

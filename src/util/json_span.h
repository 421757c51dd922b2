/* json_span.h: where a value sits in JSON text.
 *
 * sluice stores JSON payloads byte for byte as the client sent them (numbers
 * keep their exact digits), so it needs the source span of `data` and
 * `metadata` inside an append body. jansson validates the text but keeps no
 * source offsets, hence this small walker. It assumes text that jansson has
 * already accepted; on anything else it returns false rather than guessing.
 * Pure, any thread. */
#ifndef SL_UTIL_JSON_SPAN_H
#define SL_UTIL_JSON_SPAN_H

#include <stdbool.h>
#include <stddef.h>

struct sl_json_span {
    size_t start, len; /* len == 0: absent */
};

/* Skips white space and one value starting at *pos; *pos ends after it. */
bool sl_json_skip_value(const char *s, size_t len, size_t *pos);

/* For the `index`-th element of the top-level array in `s` (an object), finds
 * the spans of the members named `a` and `b`. */
bool sl_json_member_spans(const char *s, size_t len, size_t index, const char *a, struct sl_json_span *a_span,
                          const char *b, struct sl_json_span *b_span);

/* For a top-level object in `s`, nothing to find: the whole text is the value.
 * Replaces CR and LF (which valid JSON only has as white space) with spaces,
 * so a stored payload is always one line. */
void sl_json_one_line(char *s, size_t len);

#endif

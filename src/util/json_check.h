/* json_check.h: is this byte range one JSON text, and if not, where and why not?
 *
 * The append path stores each event's data and metadata byte for byte
 * (json_text.h cuts them out of the body), so it needs a verdict, not a tree.
 * Building jansson's tree of a 1 KB event only to free it again was the
 * largest cost of an append (a malloc per value, strings grown byte by byte);
 * this check is one pass without allocation.
 *
 * What passes: one JSON value (RFC 8259) with optional white space around it,
 * whose strings are valid UTF-8 and whose escapes stand for Unicode scalar
 * values other than U+0000 (a lone surrogate escape or \u0000 fails, as in
 * jansson), nested at most SL_JSON_MAX_DEPTH deep. Numbers are checked against
 * the grammar only: a payload keeps numbers of any size as written. Names that
 * repeat inside one object pass (RFC 8259 leaves them to the application).
 * Pure function, any thread. */
#ifndef SL_UTIL_JSON_CHECK_H
#define SL_UTIL_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#define SL_JSON_MAX_DEPTH 2048

struct sl_json_problem {
    size_t offset;    /* of the first byte that breaks the rule */
    size_t line;      /* 1-based, of that byte */
    size_t column;    /* 1-based, in bytes */
    const char *rule; /* a static phrase, e.g. "a string is not terminated" */
};

/* True when `s` holds exactly one JSON value; otherwise false with `problem` filled. */
bool sl_json_check(const char *s, size_t len, struct sl_json_problem *problem);

#endif

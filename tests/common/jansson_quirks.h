/* jansson_quirks.h: where jansson 2.14 and sl_json_check() may disagree, for the
 * tests that compare them (tests/unit/util/test_json_check.c, tests/fuzz/fuzz_event_json.c).
 *
 * jansson's lexer reads one byte past a number or literal and puts it back into a
 * NUL-terminated buffer, where a NUL byte reads as "nothing buffered" and is lost: so
 * jansson passes "1\0" or "[true\0]", which sl_json_check() refuses at the NUL. */
#ifndef SL_TESTS_JANSSON_QUIRKS_H
#define SL_TESTS_JANSSON_QUIRKS_H

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/json_check.h"

/* True when `s` passes sl_json_check() once each NUL byte right after a letter or digit is
 * removed (and there was one): the one way jansson passes a text sl_json_check() refuses.
 * Out of memory counts as false. */
static inline bool sl_test_passes_without_nul_after_token(const char *s, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return false;
    size_t n = 0;
    bool is_dropped = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0' && i > 0 && isalnum((unsigned char)s[i - 1])) {
            is_dropped = true;
            continue;
        }
        copy[n++] = s[i];
    }
    struct sl_json_problem problem;
    bool ok = is_dropped && sl_json_check(copy, n, &problem);
    free(copy);
    return ok;
}

#endif

/* fuzz_conn.h: what the fuzz targets that drive a real server connection share.
 * Included by one fuzz target's single source file each; not a library. */
#ifndef SL_FUZZ_CONN_H
#define SL_FUZZ_CONN_H

#include <stdbool.h>

#include "server/http_internal.h"

/* Whether `c` is still one of the server's connections: the server frees a
 * connection when it closes, so a target may only touch one still listed.
 * Sets *c to NULL when it is gone. */
static inline bool fuzz_conn_is_open(const struct sl_server *srv, struct sl_http_conn **c)
{
    for (const struct sl_http_conn *it = srv->conns; it != NULL; it = it->next)
        if (it == *c)
            return true;
    *c = NULL;
    return false;
}

#endif

/* serve.h: `sluice serve`: open the store, start the HTTP server, run until told to stop.
 *
 * sl_serve_main() runs on the main thread and blocks until SIGINT or SIGTERM,
 * then shuts down cleanly (stops accepting, ends subscriptions, lets in-flight
 * appends commit, closes the store) and returns the process exit code: 0 after
 * a clean shutdown, non-zero when the store or the listener could not start,
 * having logged why. The caller has loaded `cfg` (sl_config_load), applied its
 * log level and initialised libcurl; `cfg` stays valid until this returns. */
#ifndef SL_API_SERVE_H
#define SL_API_SERVE_H

#include "util/config.h"

int sl_serve_main(const struct sl_config *cfg);

#endif

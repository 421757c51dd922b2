/* log.h: one line per notable thing, on stderr.
 *
 * Lines look like `2026-11-25T15:45:32.123Z info  store: opened ./data (12 events)`.
 * Thread-safe: each line is written with a single write(2). */
#ifndef SL_UTIL_LOG_H
#define SL_UTIL_LOG_H

enum sl_log_level { SL_LOG_DEBUG, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR };

void sl_log_set_level(enum sl_log_level level);
void sl_log(enum sl_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define sl_debug(mod, ...) sl_log(SL_LOG_DEBUG, mod, __VA_ARGS__)
#define sl_info(mod, ...) sl_log(SL_LOG_INFO, mod, __VA_ARGS__)
#define sl_warn(mod, ...) sl_log(SL_LOG_WARN, mod, __VA_ARGS__)
#define sl_error(mod, ...) sl_log(SL_LOG_ERROR, mod, __VA_ARGS__)

#endif

/* version.h: the version of sluice, as printed by `sluice --version` and sent as User-Agent. */
#ifndef SL_UTIL_VERSION_H
#define SL_UTIL_VERSION_H

#define SL_VERSION "0.1.0"

#endif

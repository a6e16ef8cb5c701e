/* SPDX-License-Identifier: MIT */
/* log.h - dmabufd's log: "dmabufd[PID]: LEVEL: message" lines on stderr. */
#ifndef DMABUFD_LOG_H
#define DMABUFD_LOG_H

#include <stdbool.h>

enum dmabufd_log_level {
	DMABUFD_LOG_ERROR,
	DMABUFD_LOG_WARN,
	DMABUFD_LOG_INFO,
	DMABUFD_LOG_DEBUG,
};

/* The level named @name ("error", "warn", "info", "debug"), or -1. */
int dmabufd_log_parse(const char *name);
void dmabufd_log_set_level(enum dmabufd_log_level level);
/* Whether messages of @level are written (to skip formatting work). */
bool dmabufd_log_enabled(enum dmabufd_log_level level);
/* Take the process id for the prefix again (after a fork). */
void dmabufd_log_set_pid(void);

__attribute__((format(printf, 2, 3)))
void dmabufd_log(enum dmabufd_log_level level, const char *fmt, ...);

#define log_error(...)	dmabufd_log(DMABUFD_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	dmabufd_log(DMABUFD_LOG_WARN, __VA_ARGS__)
#define log_info(...)	dmabufd_log(DMABUFD_LOG_INFO, __VA_ARGS__)
#define log_debug(...)	dmabufd_log(DMABUFD_LOG_DEBUG, __VA_ARGS__)

#endif /* DMABUFD_LOG_H */

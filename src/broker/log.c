// SPDX-License-Identifier: MIT
/* log.c - dmabufd's log: one line per message on stderr, filtered by level. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *const level_names[] = {
	[DMABUFD_LOG_ERROR] = "error",
	[DMABUFD_LOG_WARN] = "warn",
	[DMABUFD_LOG_INFO] = "info",
	[DMABUFD_LOG_DEBUG] = "debug",
};

static enum dmabufd_log_level log_level = DMABUFD_LOG_WARN;
static pid_t log_pid;

int dmabufd_log_parse(const char *name)
{
	for (unsigned int i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcmp(name, level_names[i]))
			return (int)i;
	return -1;
}

void dmabufd_log_set_level(enum dmabufd_log_level level)
{
	log_level = level;
}

bool dmabufd_log_enabled(enum dmabufd_log_level level)
{
	return level <= log_level;
}

void dmabufd_log_set_pid(void)
{
	log_pid = getpid();
}

void dmabufd_log(enum dmabufd_log_level level, const char *fmt, ...)
{
	char line[512];
	int saved = errno;
	va_list ap;
	int n, m;

	if (level > log_level)
		return;
	if (!log_pid)
		log_pid = getpid();
	n = snprintf(line, sizeof(line), "dmabufd[%d]: %s: ", (int)log_pid, level_names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* one write per line, so lines of several processes do not interleave */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		(void)0;
	errno = saved;
}

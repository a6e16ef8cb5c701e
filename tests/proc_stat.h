/* SPDX-License-Identifier: MIT */
/* proc_stat.h - a process's state and parent from /proc/<pid>/stat (tests and benches). */
#ifndef DMABUF_TESTS_PROC_STAT_H
#define DMABUF_TESTS_PROC_STAT_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/*
 * The fields of /proc/@pid/stat after the command name, into @buf: a pointer to the state
 * letter, or NULL if the process is gone.
 */
static inline const char *proc_stat_fields(pid_t pid, char *buf, size_t len)
{
	char path[64], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	/* the name may hold anything, ')' included: the last ')' ends it */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p + 2 : NULL;
}

/* The state letter of @pid ('R', 'S', 'Z', ...), or 0 if it is gone. */
static inline char proc_state(pid_t pid)
{
	char buf[512];
	const char *f = proc_stat_fields(pid, buf, sizeof(buf));

	return f ? f[0] : 0;
}

/* The parent of @pid, or 0 if unknown. */
static inline pid_t proc_ppid(pid_t pid)
{
	char buf[512];
	const char *f = proc_stat_fields(pid, buf, sizeof(buf));
	int ppid = 0;

	return f && sscanf(f, "%*c %d", &ppid) == 1 ? (pid_t)ppid : 0;
}

#endif /* DMABUF_TESTS_PROC_STAT_H */

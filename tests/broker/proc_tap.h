/* SPDX-License-Identifier: MIT */
/*
 * proc_tap.h - checks made in other processes, reported to the test's TAP stream.
 *
 * A child (forked, or this program started again with a role argument) writes one line per
 * check to a report descriptor: "1 name" or "0 name", and "# text" for diagnostics.  The
 * parent reads the stream to its end and turns every line into an ok() of its own, prefixed
 * with the child's role, so the child's checks count in the plan like the parent's.
 *
 * Also: a guard that ends a hung program (alarm), descriptors over a Unix socket with a
 * small message, and starting this program again with a role.
 */
#ifndef DMABUF_TEST_PROC_TAP_H
#define DMABUF_TEST_PROC_TAP_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "raw_client.h"

extern char **environ;

static int rt_fd = -1;
static int rt_failed;

/* This process reports its checks to @fd. */
static inline void rt_init(int fd)
{
	rt_fd = fd;
}

static inline void rt_line(const char *line)
{
	size_t len = strlen(line);

	while (len) {
		ssize_t n = write(rt_fd, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

static inline bool __attribute__((format(printf, 2, 3)))
rt_ok(bool cond, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "%d ", cond ? 1 : 0);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	line[strcspn(line, "\n")] = '\0';
	strcat(line, "\n");
	rt_line(line);
	if (!cond)
		rt_failed++;
	return cond;
}

static inline void __attribute__((format(printf, 1, 2))) rt_diag(const char *fmt, ...)
{
	char line[512] = "# ";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + 2, sizeof(line) - 3, fmt, ap);
	va_end(ap);
	line[strcspn(line, "\n")] = '\0';
	strcat(line, "\n");
	rt_line(line);
}

#define rt_is_int(got, want, ...)						\
	({									\
		long long rt_g_ = (long long)(got), rt_w_ = (long long)(want);	\
		bool rt_r_ = rt_ok(rt_g_ == rt_w_, __VA_ARGS__);		\
		if (!rt_r_)							\
			rt_diag("  got %lld, want %lld", rt_g_, rt_w_);		\
		rt_r_;								\
	})

/* The exit status of a reporting child: 0 when every check passed. */
static inline int rt_exit_status(void)
{
	return rt_failed ? 1 : 0;
}

/*
 * Read the report stream @fd to its end (closing it) and emit each line as a check of this
 * program, named "@who: name".  Returns the number of checks read.
 */
static inline int rt_collect(int fd, const char *who)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap), *line, *nl;
	int count = 0;

	if (!buf)
		bail_out("out of memory");
	for (;;) {
		ssize_t n;

		if (len + 1024 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				bail_out("out of memory");
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	for (line = buf; line < buf + len; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			nl = buf + len;
		*nl = '\0';
		if (line[0] == '#') {
			printf("# %s:%s\n", who, line + 1);
		} else if ((line[0] == '0' || line[0] == '1') && line[1] == ' ') {
			ok(line[0] == '1', "%s: %s", who, line + 2);
			count++;
		}
	}
	free(buf);
	return count;
}

/* Wait for child @pid: true when it exited with status 0; what it did goes to *@status. */
static inline bool wait_child(pid_t pid, int *status)
{
	int st = 0;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			st = -1;
			break;
		}
	if (status)
		*status = st;
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Describe a wait status for a diagnostic. */
static inline const char *status_str(int st);

/* Wait for child @pid and check that it exited 0: "@who: exited 0 (what it did)". */
static inline bool ok_exit(pid_t pid, const char *who)
{
	int st;
	bool r = wait_child(pid, &st);

	return ok(r, "%s: exited 0 (%s)", who, status_str(st));
}

/* Describe a wait status for a diagnostic. */
static inline const char *status_str(int st)
{
	static char buf[64];

	if (st == -1)
		snprintf(buf, sizeof(buf), "not waited");
	else if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "signal %d", WTERMSIG(st));
	else
		snprintf(buf, sizeof(buf), "status %#x", st);
	return buf;
}

/* ---- the hang guard ---- */

static inline void guard_fired(int sig)
{
	static const char msg[] = "Bail out! time limit reached (a hang?)\n";

	(void)!write(1, msg, sizeof(msg) - 1);
	_exit(1);
}

/* End this process with a Bail out! line if it runs longer than @seconds. */
static inline void guard_start(unsigned int seconds)
{
	signal(SIGALRM, guard_fired);
	alarm(seconds);
}

/* ---- descriptors over a Unix socket ---- */

/* Send @len bytes of @buf with descriptors @fds (@nfds may be 0): 0 or -errno. */
static inline int send_fds(int s, const void *buf, size_t len, const int *fds, int nfds)
{
	ssize_t n = raw_send(s, buf, len, fds, nfds);

	return n < 0 ? (int)n : 0;
}

/*
 * Receive one message of at most @cap bytes and up to @maxfds descriptors (their number in
 * *@nfds, may be NULL when none are expected) within @timeout_ms: its length, 0 when the
 * peer closed, -ETIME or -errno.
 */
static inline ssize_t recv_fds(int s, void *buf, size_t cap, int *fds, int maxfds, int *nfds,
			       int timeout_ms)
{
	return raw_recv(s, buf, cap, fds, maxfds, nfds, timeout_ms);
}

/* Send the one-word message @word: 0 or -errno. */
static inline int send_word(int s, int word)
{
	return send_fds(s, &word, sizeof(word), NULL, 0);
}

/* Receive a one-word message within @timeout_ms: true with it in *@word. */
static inline bool recv_word(int s, int *word, int timeout_ms)
{
	int fds[4], n = 0;
	ssize_t len = recv_fds(s, word, sizeof(*word), fds, 4, &n, timeout_ms);

	raw_close_fds(fds, n);
	return len == (ssize_t)sizeof(*word);
}

/* ---- this program again, with a role ---- */

/* A close-on-exec pipe whose descriptors are 10 or above (clear of stdio). */
static inline void report_pipe(int p[2])
{
	int raw[2];

	if (pipe2(raw, O_CLOEXEC))
		bail_out("pipe: %s", strerror(errno));
	p[0] = fcntl(raw[0], F_DUPFD_CLOEXEC, 10);
	p[1] = fcntl(raw[1], F_DUPFD_CLOEXEC, 10);
	close(raw[0]);
	close(raw[1]);
	if (p[0] < 0 || p[1] < 0)
		bail_out("fcntl: %s", strerror(errno));
}

static inline void xsocketpair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		bail_out("socketpair: %s", strerror(errno));
}

/* A fork child that reports its checks to a pipe and talks with us over a socket. */
struct child {
	pid_t pid;
	int report;	/* read end of its report pipe */
	int sock;	/* our end of its socket */
};

/* Fork a child that runs @fn(@arg, its end of the socket) and exits with what it returns. */
static inline struct child fork_child(int (*fn)(void *arg, int sock), void *arg)
{
	struct child c;
	int rep[2], sv[2];

	report_pipe(rep);
	xsocketpair(sv);
	fflush(stdout);
	c.pid = fork();
	if (c.pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (c.pid == 0) {
		close(rep[0]);
		close(sv[0]);
		rt_init(rep[1]);
		_exit(fn(arg, sv[1]));
	}
	close(rep[1]);
	close(sv[1]);
	c.report = rep[0];
	c.sock = sv[0];
	return c;
}

/* The descriptor number of the report stream in a program started by spawn_self(). */
#define RT_SPAWN_FD 200

/*
 * Start /proc/self/exe with argv @args (NULL-terminated, args[0] is the program name) and
 * the parent's environment; @report becomes its descriptor RT_SPAWN_FD (the others are
 * close-on-exec unless the caller cleared the flag).  Returns the pid or -errno.
 */
static inline pid_t spawn_self(char *const args[], int report)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int err;

	posix_spawn_file_actions_init(&fa);
	if (report >= 0)
		posix_spawn_file_actions_adddup2(&fa, report, RT_SPAWN_FD);
	fflush(stdout);
	err = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	return err ? -err : pid;
}

#endif /* DMABUF_TEST_PROC_TAP_H */

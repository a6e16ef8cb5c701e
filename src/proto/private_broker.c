// SPDX-License-Identifier: MIT
/*
 * private_broker.c - a dmabufd of one's own: started with a ready pipe (the broker closes it
 * once it listens), stopped with SIGTERM, then SIGKILL.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "private_broker.h"
#include "rendezvous.h"

/* The ready pipe's number in the broker. */
#define READY_FD	3

extern char **environ;

/* Close every descriptor from @first on. */
static void close_from(int first)
{
	long max = sysconf(_SC_OPEN_MAX);

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned int)first, ~0U, 0) == 0)
		return;
#endif
	if (max <= 0 || max > 65536)
		max = 65536;
	for (int fd = first; fd < max; fd++)
		close(fd);
}

static void __attribute__((noreturn))
broker_child(const char *bin, const char *sock, pid_t parent, int ready, int devnull, char **env)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	size_t len = strlen(sock) + 16;
	char sock_arg[len], ready_arg[32];
	char *argv[] = { (char *)bin, "--foreground", sock_arg, ready_arg, NULL };
	sigset_t none;

	if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
		_exit(1);
	setsid();
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(devnull, STDIN_FILENO) < 0 || dup2(devnull, STDOUT_FILENO) < 0 ||
	    dup2(ready, READY_FD) < 0)
		_exit(1);
	close_from(READY_FD + 1);
	snprintf(sock_arg, len, "--socket=%s", sock);
	snprintf(ready_arg, sizeof(ready_arg), "--ready-fd=%d", READY_FD);
	execve(bin, argv, env);
	fprintf(stderr, "%s: %s\n", bin, strerror(errno));
	_exit(1);
}

pid_t dmabufd_private_start(const char *bin, const char *sock)
{
	int p[2] = { -1, -1 }, devnull = -1, s, ret;
	pid_t parent = getpid(), pid = -1;
	char **env = dmabufd_environ(environ);
	ssize_t n;
	char c;

	if (!env || pipe2(p, O_CLOEXEC))
		goto fail;
	p[1] = dmabufd_fd_above(READY_FD, p[1]);
	devnull = dmabufd_fd_above(READY_FD, open("/dev/null", O_RDWR | O_CLOEXEC));
	if (p[1] < 0 || devnull < 0)
		goto fail;
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0)
		broker_child(bin, sock, parent, p[1], devnull, env);
	close(p[1]);
	p[1] = -1;
	/* it closes the ready descriptor once it listens, or dies */
	do
		n = read(p[0], &c, 1);
	while (n > 0 || (n < 0 && errno == EINTR));
	s = dmabufd_connect(sock);
	if (s < 0) {
		dmabufd_private_stop(pid, 1000);
		ret = -ECONNREFUSED;
		goto out;
	}
	close(s);
	ret = pid;
	goto out;
fail:
	ret = -errno;
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (devnull >= 0)
		close(devnull);
	free(env);
	return ret;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait up to @ms for @pid to exit (a pidfd when the kernel has them); reaped: true. */
static bool reap_within(pid_t pid, int64_t ms)
{
	int64_t deadline = now_ms() + ms, left;
	struct timespec nap = { 0, 1000000 };
	struct pollfd pfd = { .fd = -1, .events = POLLIN };
	pid_t r;
	int st;

#ifdef SYS_pidfd_open
	pfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 || (r < 0 && errno == EINTR)) {
		left = deadline - now_ms();
		if (left <= 0)
			break;
		if (pfd.fd < 0 || poll(&pfd, 1, (int)left) < 0)
			nanosleep(&nap, NULL);	/* no pidfd: look again in a millisecond */
	}
	if (pfd.fd >= 0)
		close(pfd.fd);
	return r != 0;
}

bool dmabufd_private_stop(pid_t pid, int timeout_ms)
{
	int st;

	if (pid <= 0)
		return false;
	kill(pid, SIGTERM);
	if (reap_within(pid, timeout_ms))
		return false;
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return true;
}

/* SPDX-License-Identifier: MIT */
/*
 * raw_client.h - a bare dmabufd protocol client for tests, and a private broker per program.
 *
 * The raw client speaks src/proto/proto.h directly: connect to a socket path, HELLO (which
 * gives the broker's pid), STATS (its object counters), and any datagram with any descriptors,
 * well formed or not, so tests can forge and break requests.
 *
 * test_broker_setup() gives the calling program a broker of its own: a fresh directory
 * /tmp/dmabuf-t-XXXXXX, DMABUFD_SOCKET=<dir>/dmabufd.sock and LIBDMABUF_BACKEND=broker in the
 * environment (the library starts the broker from $DMABUFD on the first call), and at exit
 * (in the process that called setup, not in its fork children) the broker found at that
 * socket gets SIGTERM, the socket's disappearance is awaited and the directory removed.
 */
#ifndef DMABUF_TEST_RAW_CLIENT_H
#define DMABUF_TEST_RAW_CLIENT_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "proc_stat.h"

/* CLOCK_MONOTONIC now, in ns. */
static inline int64_t raw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Sleep @ms milliseconds: only between two looks at a condition, never to order events. */
static inline void raw_nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A SOCK_SEQPACKET connection to @path: the descriptor or -errno.  No HELLO. */
static inline int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(s);
		return err;
	}
	return s;
}

/* Send @len bytes of @buf as one datagram with @nfds descriptors: bytes sent or -errno. */
static inline ssize_t raw_send(int s, const void *buf, size_t len, const int *fds, int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * DMABUFD_MAX_FDS)];
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (nfds > DMABUFD_MAX_FDS)
		return -EINVAL;
	if (nfds > 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	n = sendmsg(s, &mh, MSG_NOSIGNAL);
	return n < 0 ? -errno : n;
}

/*
 * Receive one datagram into @buf (@cap bytes) and up to @maxfds descriptors (close-on-exec)
 * into @fds, their number into *@nfds; wait at most @timeout_ms (negative: forever).
 * Returns the datagram's length (0: the peer closed), -ETIME, or -errno.
 */
static inline ssize_t raw_recv(int s, void *buf, size_t cap, int *fds, int maxfds, int *nfds,
			       int timeout_ms)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 253)];
	struct iovec iov = { buf, cap };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct pollfd pfd = { s, POLLIN, 0 };
	struct cmsghdr *cm;
	ssize_t n;
	int r, got = 0;

	if (nfds)
		*nfds = 0;
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIME;
	do
		n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		int k, cnt;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (k = 0; k < cnt; k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			if (fds && got < maxfds)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	if (nfds)
		*nfds = got;
	return n;
}

/* Close @n descriptors of @fds. */
static inline void raw_close_fds(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/*
 * One well-formed request: @msg (fd_mask and len are filled in from @fds/@nfds and @len)
 * with its payload, then its reply into @msg, @reply (@cap bytes) and @rfds (up to
 * @maxrfds, their number in *@rnfds).  Every descriptor of @fds is attached, in slot order.
 * Returns 0 when a reply came (its result in msg->ret), -ETIME after 10 s, -EPIPE if the
 * broker closed the connection, or -errno.
 */
static inline int raw_request(int s, struct dmabufd_msg *msg, const void *payload, size_t len,
			      const int *fds, int nfds, void *reply, size_t cap, int *rfds,
			      int maxrfds, int *rnfds)
{
	static __thread char buf[DMABUFD_MSG_MAX];
	ssize_t n;

	if (len > (size_t)DMABUFD_PAYLOAD_MAX)
		return -EINVAL;
	msg->fd_mask = nfds > 0 ? (uint32_t)((1ULL << nfds) - 1) : 0;
	msg->len = (uint32_t)len;
	msg->name[sizeof(msg->name) - 1] = '\0';
	memcpy(buf, msg, sizeof(*msg));
	if (len)
		memcpy(buf + sizeof(*msg), payload, len);
	n = raw_send(s, buf, sizeof(*msg) + len, fds, nfds);
	if (n < 0)
		return (int)n;
	n = raw_recv(s, buf, sizeof(buf), rfds, maxrfds, rnfds, 10000);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -EPIPE;
	if ((size_t)n < sizeof(*msg))
		return -EPROTO;
	memcpy(msg, buf, sizeof(*msg));
	if (reply && cap)
		memcpy(reply, buf + sizeof(*msg),
		       (size_t)n - sizeof(*msg) < cap ? (size_t)n - sizeof(*msg) : cap);
	return 0;
}

/* HELLO on connection @s: the reply's ret (0), the broker's pid into *@pid; -errno. */
static inline int raw_hello(int s, pid_t *pid)
{
	struct dmabufd_msg msg = { .op = DMABUFD_OP_HELLO, .arg = { DMABUFD_PROTO_VERSION } };
	int fds[4], n = 0, ret;

	ret = raw_request(s, &msg, NULL, 0, NULL, 0, NULL, 0, fds, 4, &n);
	raw_close_fds(fds, n);
	if (ret)
		return ret;
	if (msg.ret == 0 && pid)
		*pid = (pid_t)msg.arg[1];
	return msg.ret;
}

/* Connect to @path and say HELLO: the connection, or -errno; the broker's pid in *@pid. */
static inline int raw_open(const char *path, pid_t *pid)
{
	int s = raw_connect(path), ret;

	if (s < 0)
		return s;
	ret = raw_hello(s, pid);
	if (ret) {
		close(s);
		return ret < 0 ? ret : -EPROTO;
	}
	return s;
}

/* STATS on a connection that said HELLO: 0 or -errno. */
static inline int raw_stats(int s, struct dmabufd_stats *st)
{
	struct dmabufd_msg msg = { .op = DMABUFD_OP_STATS };
	int ret;

	memset(st, 0, sizeof(*st));
	ret = raw_request(s, &msg, NULL, 0, NULL, 0, st, sizeof(*st), NULL, 0, NULL);
	return ret ? ret : msg.ret;
}

/* A counter of struct dmabufd_stats by its offset. */
#define RAW_STAT(field) offsetof(struct dmabufd_stats, field)

static inline uint64_t raw_stat_get(const struct dmabufd_stats *st, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)st + off, sizeof(v));
	return v;
}

/*
 * Ask STATS on @s until the counter at @off equals @want or @timeout_ms passed.  The last
 * value seen goes into *@got.  True when it got there.
 */
static inline bool raw_stat_until(int s, size_t off, uint64_t want, int timeout_ms,
				  uint64_t *got)
{
	int64_t deadline = raw_now_ns() + (int64_t)timeout_ms * 1000000;
	struct dmabufd_stats st;

	for (;;) {
		if (raw_stats(s, &st)) {
			*got = UINT64_MAX;
			return false;
		}
		*got = raw_stat_get(&st, off);
		if (*got == want)
			return true;
		if (raw_now_ns() > deadline)
			return false;
		raw_nap_ms(1);
	}
}

/* Lines of /proc/@pid/status: the value in kB of @key (e.g. "VmRSS:"), or -1. */
static inline long proc_status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

/* Open descriptors of process @pid, or -1. */
static inline int proc_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}


/* A process that exists and is not a zombie. */
static inline bool proc_alive(pid_t pid)
{
	char st = proc_state(pid);

	return st && st != 'Z' && st != 'X';
}

/* ---- the private broker of a test program ---- */

static char test_broker_dir[64];
static char test_broker_sock[128];
static pid_t test_broker_owner;

/* The socket path of the private broker ("" before test_broker_setup()). */
static inline const char *test_broker_socket(void)
{
	return test_broker_sock;
}

/* The private directory (the socket's). */
static inline const char *test_broker_dirname(void)
{
	return test_broker_dir;
}

/* The pid of the broker now answering at the private socket, or 0. */
static inline pid_t test_broker_pid(void)
{
	pid_t pid = 0;
	int s = raw_open(test_broker_sock, &pid);

	if (s < 0)
		return 0;
	close(s);
	return pid;
}

/* Wait until @path is gone (or @timeout_ms passed): true when it is. */
static inline bool wait_path_gone(const char *path, int timeout_ms)
{
	int64_t deadline = raw_now_ns() + (int64_t)timeout_ms * 1000000;
	struct stat st;

	while (!lstat(path, &st)) {
		if (raw_now_ns() > deadline)
			return false;
		raw_nap_ms(1);
	}
	return true;
}

/* Wait until process @pid is gone or a zombie (reaped if it is our child): true if so. */
static inline bool wait_pid_gone(pid_t pid, int timeout_ms)
{
	int64_t deadline = raw_now_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		waitpid(pid, NULL, WNOHANG);
		if (!proc_alive(pid))
			return true;
		if (raw_now_ns() > deadline)
			return false;
		raw_nap_ms(1);
	}
}

/*
 * SIGTERM the broker answering at @path and wait until its socket is gone and the process
 * ended.  Returns the pid stopped, 0 if none answered, or -ETIME if it did not go.
 */
static inline pid_t broker_stop_at(const char *path, int timeout_ms)
{
	pid_t pid = 0;
	int s = raw_open(path, &pid);

	if (s < 0)
		return 0;
	close(s);
	if (pid <= 0 || kill(pid, SIGTERM))
		return 0;
	if (!wait_path_gone(path, timeout_ms) || !wait_pid_gone(pid, timeout_ms))
		return -ETIME;
	return pid;
}

/* SIGTERM the private broker; see broker_stop_at(). */
static inline pid_t test_broker_stop(void)
{
	return broker_stop_at(test_broker_sock, 10000);
}

static inline int test_broker_rm(const char *path, const struct stat *st, int flag,
				 struct FTW *ftw)
{
	remove(path);
	return 0;
}

static inline void test_broker_cleanup(void)
{
	if (getpid() != test_broker_owner || !test_broker_dir[0])
		return;
	if (test_broker_stop() < 0)
		fprintf(stderr, "# the private broker did not stop on SIGTERM\n");
	nftw(test_broker_dir, test_broker_rm, 8, FTW_DEPTH | FTW_PHYS);
	test_broker_dir[0] = '\0';
}

/*
 * Give this program a private broker (see the top of this file).  Returns the socket path;
 * bails out when the directory cannot be made.  $DMABUFD must name the dmabufd to start
 * (meson sets it for tests).
 */
static inline const char *test_broker_setup(void)
{
	strcpy(test_broker_dir, "/tmp/dmabuf-t-XXXXXX");
	if (!mkdtemp(test_broker_dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		exit(1);
	}
	snprintf(test_broker_sock, sizeof(test_broker_sock), "%s/dmabufd.sock",
		 test_broker_dir);
	setenv("DMABUFD_SOCKET", test_broker_sock, 1);
	setenv("LIBDMABUF_BACKEND", "broker", 1);
	test_broker_owner = getpid();
	atexit(test_broker_cleanup);
	return test_broker_sock;
}

#endif /* DMABUF_TEST_RAW_CLIENT_H */

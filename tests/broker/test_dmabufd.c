// SPDX-License-Identifier: MIT
/*
 * test_dmabufd.c - the dmabufd daemon itself.
 *
 * Started on demand by the first API call (socket 0600 in a 0700 directory; several clients
 * at once start one broker), started by hand and used by clients, refused on a socket a
 * broker already serves or in a directory open to others, restarted over a stale socket,
 * stopped cleanly by SIGTERM (exit 0, socket unlinked) or by --idle-exit, and robust to
 * malformed datagrams: the offending connection is dropped with a log line on stderr and the
 * broker serves everyone else.  Some ops are checked over the bare protocol: UDMABUF_CREATE
 * refusing dma-bufs for memfds and holding its memfds' pages, and SYNC_POLLED.  $DMABUFD names
 * the dmabufd under test.
 *
 * This process never calls the fd API itself: each client is a fork child whose library
 * connects afresh, with the socket and binary it was given.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dmabuf/fd.h>

#include "fd_util.h"
#include "proc_tap.h"
#include "raw_client.h"
#include "tap.h"

#define WAIT_MS 10000

static const char *dmabufd;
static size_t page;

/* ---- a dmabufd started by hand ---- */

struct daemon {
	pid_t pid;
	int err;		/* read end of its stderr */
	int ready;		/* read end of its ready pipe, or -1 */
	char log[16384];	/* what it wrote to stderr so far */
	size_t log_len;
};

/*
 * Start "dmabufd --foreground --socket=@sock [--ready-fd=3] @idle" where @idle is an
 * --idle-exit option (NULL: 30 seconds, so that a daemon this program fails to stop ends).
 */
static void daemon_start(struct daemon *d, const char *sock, const char *idle, bool ready)
{
	char sock_arg[256];
	char *argv[6] = { "dmabufd", "--foreground", sock_arg };
	int ep[2], rp[2] = { -1, -1 }, n = 3;

	memset(d, 0, sizeof(*d));
	report_pipe(ep);
	if (ready) {
		report_pipe(rp);
		argv[n++] = "--ready-fd=3";
	}
	argv[n++] = (char *)(idle ? idle : "--idle-exit=30");
	snprintf(sock_arg, sizeof(sock_arg), "--socket=%s", sock);
	fflush(stdout);
	d->pid = fork();
	if (d->pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (d->pid == 0) {
		dup2(ep[1], 2);
		if (ready)
			dup2(rp[1], 3);
		execv(dmabufd, argv);
		_exit(127);
	}
	close(ep[1]);
	xclose(rp[1]);
	d->err = ep[0];
	d->ready = rp[0];
	fcntl(d->err, F_SETFL, O_NONBLOCK);
}

/* Read what is there on its stderr (waiting up to @timeout_ms for anything new). */
static size_t daemon_read_log(struct daemon *d, int timeout_ms)
{
	struct pollfd pfd = { d->err, POLLIN, 0 };
	size_t before = d->log_len;
	ssize_t n;

	if (d->err < 0)
		return 0;
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	while (d->log_len < sizeof(d->log) - 1) {
		n = read(d->err, d->log + d->log_len, sizeof(d->log) - 1 - d->log_len);
		if (n <= 0)
			break;
		d->log_len += (size_t)n;
	}
	d->log[d->log_len] = '\0';
	return d->log_len - before;
}

/*
 * Wait until a line of the daemon's own ("dmabufd[PID]: ...") ends after offset @from of the
 * log: true if one did.
 */
static bool daemon_wait_line(struct daemon *d, size_t from, int timeout_ms)
{
	int64_t deadline = raw_now_ns() + (int64_t)timeout_ms * NS_PER_MS;
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "dmabufd[%d]: ", (int)d->pid);
	for (;;) {
		char *line = strstr(d->log + from, prefix);

		if (line && strchr(line, '\n'))
			return true;
		if (raw_now_ns() > deadline)
			return false;
		daemon_read_log(d, 10);
	}
}

/* Print the log from @from on as diagnostics. */
static void daemon_show_log(struct daemon *d, size_t from, const char *prefix)
{
	char *line = d->log + from, *nl;

	while (line < d->log + d->log_len) {
		nl = strchr(line, '\n');
		if (!nl)
			nl = d->log + d->log_len;
		diag("%s%.*s", prefix, (int)(nl - line), line);
		line = nl + 1;
	}
}

/* True once its ready pipe closed or was written (it serves from then on). */
static bool daemon_wait_ready(struct daemon *d)
{
	struct pollfd pfd = { d->ready, POLLIN, 0 };

	return poll(&pfd, 1, WAIT_MS) == 1;
}

/* Wait up to @timeout_ms for it to end: true with its wait status in *@st. */
static bool daemon_wait_exit(struct daemon *d, int timeout_ms, int *st)
{
	int64_t deadline = raw_now_ns() + (int64_t)timeout_ms * NS_PER_MS;
	pid_t r;

	for (;;) {
		r = waitpid(d->pid, st, WNOHANG);
		if (r == d->pid)
			break;
		if (r < 0 || raw_now_ns() > deadline)
			return false;
		daemon_read_log(d, 1);
	}
	while (daemon_read_log(d, 0))
		;
	d->pid = 0;
	return true;
}

static void daemon_close(struct daemon *d)
{
	int st;

	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &st, 0);
		d->pid = 0;
	}
	xclose(d->err);
	xclose(d->ready);
	d->err = d->ready = -1;
}

/* Run "dmabufd @arg" to its end: its wait status, its stdout and stderr in @out. */
static int run_dmabufd(const char *arg, char *out, size_t cap)
{
	size_t len = 0;
	int p[2], st = -1;
	ssize_t n;
	pid_t pid;

	report_pipe(p);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execl(dmabufd, "dmabufd", arg, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (len < cap - 1 && (n = read(p[0], out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	waitpid(pid, &st, 0);
	return st;
}

/* ---- the command line ---- */

static void test_cli(void)
{
	char out[8192];
	int st;

	st = run_dmabufd("--help", out, sizeof(out));
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "cli: --help exits 0 (%s)", status_str(st));
	ok(strstr(out, "--socket") && strstr(out, "--foreground") && strstr(out, "--idle-exit") &&
	   strstr(out, "--ready-fd") && strstr(out, "--log-level"),
	   "cli: --help lists --foreground, --socket, --log-level, --idle-exit, --ready-fd");
	st = run_dmabufd("--no-such-option", out, sizeof(out));
	ok(WIFEXITED(st) && WEXITSTATUS(st) != 0 && out[0],
	   "cli: an unknown option exits non-zero with a message (%s)", status_str(st));
}

/* ---- started on demand ---- */

struct client_args {
	const char *sock;
	const char *binary;	/* $DMABUFD for the child */
};

/* A fresh client: point the library at @sock, allocate, signal a fence; report the pid. */
static int client_main(void *arg, int s)
{
	struct client_args *a = arg;
	int buf, tl, f;
	pid_t pid = 0;
	int conn;

	setenv("DMABUFD_SOCKET", a->sock, 1);
	setenv("DMABUFD", a->binary, 1);
	setenv("LIBDMABUF_BACKEND", "broker", 1);
	buf = dmabuf_fd_heap_alloc("system", page, O_RDWR | O_CLOEXEC, 0);
	rt_ok(buf >= 0, "heap alloc through %s (%d)", a->sock, buf);
	tl = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	f = dmabuf_fd_sw_fence_create(tl, 1, "client");
	rt_is_int(dmabuf_fd_sw_timeline_inc(tl, 1), 0, "timeline inc");
	rt_is_int(fence_status(f), 1, "its fence signaled");
	conn = raw_open(a->sock, &pid);
	xclose(conn);
	send_fds(s, &pid, sizeof(pid), NULL, 0);
	xclose(f);
	xclose(tl);
	xclose(buf);
	return rt_exit_status();
}

/* Finish a client: its checks, its exit, the broker pid it saw (0 if none). */
static pid_t finish_client(struct child *c, const char *who)
{
	pid_t pid = 0;
	int n = 0;

	if (recv_fds(c->sock, &pid, sizeof(pid), NULL, 0, &n, WAIT_MS) != sizeof(pid))
		pid = 0;
	close(c->sock);
	rt_collect(c->report, who);
	ok_exit(c->pid, who);
	return pid;
}

static void test_on_demand(void)
{
	struct client_args a = { NULL, dmabufd };
	char dir[160], sock[200], who[32];
	struct child c[4];
	pid_t pid, seen;
	struct stat st;
	int i, same = 0;

	snprintf(dir, sizeof(dir), "%s/ondemand", test_broker_dirname());
	snprintf(sock, sizeof(sock), "%s/dmabufd.sock", dir);
	a.sock = sock;
	ok(lstat(dir, &st) && errno == ENOENT, "on demand: no directory, no broker yet");
	c[0] = fork_child(client_main, &a);
	pid = finish_client(&c[0], "on demand client");
	ok(pid > 0, "on demand: the first call started a broker (pid %d)", (int)pid);
	ok(!lstat(sock, &st) && S_ISSOCK(st.st_mode), "on demand: the socket exists");
	is_int(st.st_mode & 07777, 0600, "on demand: socket mode 0600");
	ok(!lstat(dir, &st) && S_ISDIR(st.st_mode), "on demand: its directory was made");
	is_int(st.st_mode & 07777, 0700, "on demand: directory mode 0700");
	ok(proc_alive(pid), "on demand: the broker outlives the client that started it");
	ok(broker_stop_at(sock, WAIT_MS) == pid, "on demand: SIGTERM stops it, socket removed");

	/* four fresh clients at once: one broker for all */
	for (i = 0; i < 4; i++)
		c[i] = fork_child(client_main, &a);
	for (i = 0; i < 4; i++) {
		snprintf(who, sizeof(who), "concurrent client %d", i);
		seen = finish_client(&c[i], who);
		if (i == 0)
			pid = seen;
		same += seen > 0 && seen == pid;
	}
	is_int(same, 4, "on demand: four clients starting at once share one broker");
	ok(broker_stop_at(sock, WAIT_MS) == pid, "on demand: and it stops");
}

/* ---- started by hand ---- */

static bool conn_closed(int s)
{
	char buf[64];
	ssize_t n = raw_recv(s, buf, sizeof(buf), NULL, 0, NULL, WAIT_MS);

	return n == 0 || n == -ECONNRESET;
}

/* A datagram made of a header and @extra payload bytes, sent as is (len as given). */
static ssize_t send_raw_msg(int s, uint32_t op, uint32_t fd_mask, uint32_t len, size_t extra,
			    const int *fds, int nfds)
{
	static char buf[DMABUFD_MSG_MAX + 4096];
	struct dmabufd_msg msg = { .op = op, .fd_mask = fd_mask, .len = len };

	if (op == DMABUFD_OP_HELLO)
		msg.arg[0] = DMABUFD_PROTO_VERSION;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &msg, sizeof(msg));
	return raw_send(s, buf, sizeof(msg) + extra, fds, nfds);
}

enum bad_kind {
	BAD_SHORT_HEADER,
	BAD_LEN_TOO_BIG,
	BAD_LEN_TOO_SMALL,
	BAD_MASK_MORE_THAN_FDS,
	BAD_FDS_WITHOUT_MASK,
	BAD_UNKNOWN_OP,
	BAD_OP_ZERO,
	BAD_NO_HELLO,
	BAD_OVERSIZED,
};

static const char *const bad_names[] = {
	[BAD_SHORT_HEADER] = "a short header (8 bytes)",
	[BAD_LEN_TOO_BIG] = "len larger than the payload",
	[BAD_LEN_TOO_SMALL] = "len smaller than the payload",
	[BAD_MASK_MORE_THAN_FDS] = "fd_mask with two bits, one descriptor",
	[BAD_FDS_WITHOUT_MASK] = "a descriptor, fd_mask 0",
	[BAD_UNKNOWN_OP] = "unknown op 999",
	[BAD_OP_ZERO] = "op 0",
	[BAD_NO_HELLO] = "STATS before HELLO",
	[BAD_OVERSIZED] = "a datagram over DMABUFD_MSG_MAX",
};

static void send_bad(int s, enum bad_kind kind, int fd)
{
	const uint32_t hdr = sizeof(struct dmabufd_msg);
	struct dmabufd_msg msg = { .op = DMABUFD_OP_STATS };

	switch (kind) {
	case BAD_SHORT_HEADER:
		raw_send(s, &msg, 8, NULL, 0);
		break;
	case BAD_LEN_TOO_BIG:
		send_raw_msg(s, DMABUFD_OP_STATS, 0, 100, 10, NULL, 0);
		break;
	case BAD_LEN_TOO_SMALL:
		send_raw_msg(s, DMABUFD_OP_STATS, 0, 0, 16, NULL, 0);
		break;
	case BAD_MASK_MORE_THAN_FDS:
		send_raw_msg(s, DMABUFD_OP_SYNC_MERGE, 3, 0, 0, &fd, 1);
		break;
	case BAD_FDS_WITHOUT_MASK:
		send_raw_msg(s, DMABUFD_OP_SW_INC, 0, 0, 0, &fd, 1);
		break;
	case BAD_UNKNOWN_OP:
		send_raw_msg(s, 999, 0, 0, 0, NULL, 0);
		break;
	case BAD_OP_ZERO:
		send_raw_msg(s, 0, 0, 0, 0, NULL, 0);
		break;
	case BAD_NO_HELLO:
		send_raw_msg(s, DMABUFD_OP_STATS, 0, 0, 0, NULL, 0);
		break;
	case BAD_OVERSIZED:
		send_raw_msg(s, DMABUFD_OP_STATS, 0, DMABUFD_MSG_MAX + 1024 - hdr,
			     DMABUFD_MSG_MAX + 1024 - hdr, NULL, 0);
		break;
	}
}

static void test_malformed(struct daemon *d, const char *sock)
{
	int mon = raw_open(sock, NULL), pp[2];
	struct dmabufd_stats st;
	uint64_t dropped;
	size_t from;
	unsigned int k;

	if (mon < 0 || raw_stats(mon, &st) || pipe2(pp, O_CLOEXEC))
		bail_out("monitor connection: %s", strerror(-mon));
	dropped = st.dropped;
	for (k = 0; k < sizeof(bad_names) / sizeof(bad_names[0]); k++) {
		int s = raw_connect(sock);
		pid_t pid = 0;

		if (s < 0)
			bail_out("connect: %s", strerror(-s));
		if (k != BAD_NO_HELLO && raw_hello(s, &pid))
			bail_out("HELLO failed");
		daemon_read_log(d, 0);
		from = d->log_len;
		send_bad(s, (enum bad_kind)k, pp[0]);
		ok(conn_closed(s), "malformed: %s: the connection is dropped", bad_names[k]);
		ok(daemon_wait_line(d, from, WAIT_MS), "malformed: %s: a log line on stderr",
		   bad_names[k]);
		daemon_show_log(d, from, "  log: ");
		ok(!raw_stats(mon, &st) && st.dropped == dropped + 1,
		   "malformed: %s: counted as dropped, another connection is served", bad_names[k]);
		dropped = st.dropped;
		close(s);
	}
	/* a HELLO of another protocol version is refused with -EPROTO, not a crash */
	{
		struct dmabufd_msg msg = { .op = DMABUFD_OP_HELLO,
					   .arg = { DMABUFD_PROTO_VERSION + 100 } };
		int s = raw_connect(sock), fds[4], n = 0;

		raw_request(s, &msg, NULL, 0, NULL, 0, NULL, 0, fds, 4, &n);
		raw_close_fds(fds, n);
		is_int(msg.ret, -EPROTO, "malformed: HELLO of another version: -EPROTO");
		close(s);
	}
	ok(!raw_stats(mon, &st), "malformed: the broker still serves");
	ok(proc_alive(d->pid), "malformed: the broker process lives");
	close(pp[0]);
	close(pp[1]);
	close(mon);
}

static void test_by_hand(void)
{
	char dir[160], sock[200], sock_arg[220];
	struct client_args a = { NULL, "/nonexistent/dmabufd" };
	struct daemon d, d2;
	struct dmabufd_stats s0, s1;
	struct stat sb;
	struct child c;
	pid_t pid = 0;
	bool r;
	int mon, st = -1;
	size_t from;

	snprintf(dir, sizeof(dir), "%s/byhand", test_broker_dirname());
	snprintf(sock, sizeof(sock), "%s/dmabufd.sock", dir);
	snprintf(sock_arg, sizeof(sock_arg), "--socket=%s", sock);
	a.sock = sock;
	daemon_start(&d, sock, NULL, true);
	if (!ok(daemon_wait_ready(&d), "by hand: dmabufd --foreground --socket=... is ready")) {
		daemon_close(&d);
		return;
	}
	mon = raw_open(sock, &pid);
	ok(mon >= 0 && pid == d.pid, "by hand: HELLO gives its pid (%d, started %d)", (int)pid,
	   (int)d.pid);
	if (mon < 0)
		bail_out("cannot connect to the hand-started broker");
	raw_stats(mon, &s0);

	c = fork_child(client_main, &a);
	ok(finish_client(&c, "by hand client") == d.pid,
	   "by hand: a client (whose $DMABUFD does not exist) was served by it");
	raw_stats(mon, &s1);
	ok(s1.requests > s0.requests + 3, "by hand: its request counter grew by the client's");

	daemon_start(&d2, sock, NULL, false);
	r = daemon_wait_exit(&d2, WAIT_MS, &st) && WIFEXITED(st) && WEXITSTATUS(st) != 0;
	ok(r, "by hand: a second dmabufd on the same socket exits non-zero (%s)", status_str(st));
	ok(d2.log_len > 0, "by hand: ... with a message");
	daemon_show_log(&d2, 0, "  second: ");
	daemon_close(&d2);
	pid = 0;
	xclose(raw_open(sock, &pid));
	is_int(pid, d.pid, "by hand: the first one still serves the socket");

	test_malformed(&d, sock);

	daemon_read_log(&d, 0);
	from = d.log_len;
	kill(d.pid, SIGTERM);
	r = daemon_wait_exit(&d, WAIT_MS, &st) && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	ok(r, "by hand: SIGTERM with a client connected: exit status 0 (%s)", status_str(st));
	daemon_show_log(&d, from, "  at exit: ");
	ok(lstat(sock, &sb) && errno == ENOENT, "by hand: the socket is unlinked");
	ok(conn_closed(mon), "by hand: the connected client sees the connection end");
	close(mon);
	daemon_close(&d);
}

/*
 * SO_PEERCRED: even when the file system lets another user reach the socket (a socket made
 * 0666 by mistake, in a directory others may traverse), the broker refuses a peer whose uid is
 * neither its own nor root's.  Needs root to become another user; skipped otherwise.
 */
static void test_peer_uid(void)
{
	char dir[160], sock[200];
	const char *top = test_broker_dirname();
	struct daemon d;
	size_t from;
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		skip("peer uid: needs root to connect as another user");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/peer", top);
	snprintf(sock, sizeof(sock), "%s/dmabufd.sock", dir);
	if (mkdir(dir, 0711) || chmod(dir, 0711) || chmod(top, 0711))
		bail_out("mkdir: %s", strerror(errno));
	daemon_start(&d, sock, NULL, true);
	if (!ok(daemon_wait_ready(&d), "peer uid: a broker is ready")) {
		daemon_close(&d);
		return;
	}
	if (chmod(sock, 0666))
		bail_out("chmod: %s", strerror(errno));
	daemon_read_log(&d, 0);
	from = d.log_len;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		int s;

		if (setgid(65534) || setuid(65534))
			_exit(3);
		s = raw_connect(sock);
		if (s < 0)
			_exit(2);
		/* refused: the broker closes the connection instead of answering HELLO */
		_exit(raw_hello(s, NULL) == 0 ? 1 : 0);
	}
	if (!wait_child(pid, &st))
		st = -1;
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "peer uid: a client of uid 65534 reaches the socket and is refused (%s)",
	   status_str(st));
	ok(daemon_wait_line(&d, from, WAIT_MS) && strstr(d.log + from, "uid 65534"),
	   "peer uid: ... with a log line naming its uid");
	daemon_show_log(&d, from, "  ");
	pid = 0;
	xclose(raw_open(sock, &pid));
	is_int(pid, d.pid, "peer uid: our own clients are still served");
	chmod(top, 0700);
	kill(d.pid, SIGTERM);
	daemon_wait_exit(&d, WAIT_MS, &st);
	daemon_close(&d);
}

/* ---- ops over the bare protocol ---- */

/*
 * @msg on @s with @nfds descriptors of @fds and @len bytes of @payload: the reply's ret (or
 * the transport's -errno), its header back in @msg, its first descriptor in *@out (-1 if none;
 * @out NULL: closed).
 */
static int raw_op(int s, struct dmabufd_msg *msg, const int *fds, int nfds, const void *payload,
		  size_t len, int *out)
{
	int rfds[4], n = 0, ret;

	ret = raw_request(s, msg, payload, len, fds, nfds, NULL, 0, rfds, 4, &n);
	if (out) {
		*out = n ? rfds[0] : -1;
		raw_close_fds(rfds + 1, n - 1);
	} else {
		raw_close_fds(rfds, n);
	}
	return ret ? ret : msg->ret;
}

/* A new descriptor from @msg (name, arg[0]) on fd[0] = @fd (none if negative); bails out. */
static int raw_new(int s, uint32_t op, int fd, uint64_t arg, const char *name)
{
	struct dmabufd_msg msg = { .op = op, .arg = { arg } };
	int out, ret;

	snprintf(msg.name, sizeof(msg.name), "%s", name);
	ret = raw_op(s, &msg, &fd, fd >= 0, NULL, 0, &out);
	if (ret || out < 0)
		bail_out("op %u: %d", op, ret);
	return out;
}

/* UDMABUF_CREATE of @count one-page items, item i over memfd @fds[i] at @offs[i]. */
static int raw_udmabuf(int s, const int *fds, const uint64_t *offs, int count, int *out)
{
	struct dmabufd_udmabuf_item it[2];
	struct dmabufd_msg msg = { .op = DMABUFD_OP_UDMABUF_CREATE, .arg = { 0, count, count } };

	for (int i = 0; i < count; i++)
		it[i] = (struct dmabufd_udmabuf_item){ (uint32_t)i, 0, offs[i], page };
	*out = -1;
	return raw_op(s, &msg, fds, count, it, count * sizeof(it[0]), out);
}

/* The status of a count-only SYNC_INFO on sync_file @fd (INT32_MIN if the call failed). */
static int raw_count_status(int s, int fd)
{
	struct dmabufd_msg msg = { .op = DMABUFD_OP_SYNC_INFO };

	if (raw_op(s, &msg, &fd, 1, NULL, 0, NULL))
		return INT32_MIN;
	return (int32_t)msg.arg[0];
}

static int raw_polled(int s, int fd)
{
	struct dmabufd_msg msg = { .op = DMABUFD_OP_SYNC_POLLED };

	return raw_op(s, &msg, &fd, fd >= 0, NULL, 0, NULL);
}

/* A pipe the broker writes (a sync_file) became readable within WAIT_MS. */
static bool raw_readable(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, WAIT_MS) == 1 && (pfd.revents & POLLIN);
}

/* A memfd of @pages pages sealed against shrinking, as UDMABUF_CREATE wants. */
static int sealed_memfd(unsigned int pages)
{
	int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, (off_t)(pages * page)) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK))
		bail_out("memfd: %s", strerror(errno));
	return fd;
}

/* -errno of F_ADD_SEALS(F_SEAL_WRITE) on @fd, or 0. */
static int seal_write(int fd)
{
	return fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) ? -errno : 0;
}

/*
 * UDMABUF_CREATE: a dma-buf is no memfd (EBADFD), when the driver comes to its item; the
 * memfd of a live udmabuf refuses F_SEAL_WRITE (EBUSY), and takes it once the buffer is gone.
 */
static void test_udmabuf_memfds(int s)
{
	struct dmabufd_msg msg = { .op = DMABUFD_OP_HEAP_ALLOC, .arg = { page, O_RDWR } };
	int m = sealed_memfd(2), m2 = sealed_memfd(1), ro, h, u, u2 = -1, x = -1, fds[2];
	uint64_t offs[2] = { 0, 0 }, got = 0;
	char path[64];

	strcpy(msg.name, "system");
	if (raw_op(s, &msg, NULL, 0, NULL, 0, &h) || h < 0)
		bail_out("HEAP_ALLOC failed");
	is_int(raw_udmabuf(s, &m, offs, 1, &u), 0, "udmabuf: created over a memfd");
	if (u < 0)
		return;
	is_int(seal_write(m), -EBUSY, "udmabuf: its memfd refuses F_SEAL_WRITE while it lives");
	is_int(raw_udmabuf(s, &h, offs, 1, &x), -EBADFD, "udmabuf: a heap buffer is no memfd");
	xclose(x);
	is_int(raw_udmabuf(s, &u, offs, 1, &x), -EBADFD, "udmabuf: nor is a udmabuf");
	xclose(x);
	fds[0] = m;
	fds[1] = h;
	is_int(raw_udmabuf(s, fds, offs, 2, &x), -EBADFD, "udmabuf: a dma-buf as second item");
	xclose(x);
	fds[0] = h;
	fds[1] = m;
	offs[1] = 1;
	is_int(raw_udmabuf(s, fds, offs, 2, &x), -EINVAL,
	       "udmabuf: an unaligned item is refused before any descriptor is looked at");
	xclose(x);

	/* nothing can pin a memfd opened read-only: the buffer is made all the same */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m2);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	offs[0] = 0;
	ok(ro >= 0 && raw_udmabuf(s, &ro, offs, 1, &u2) == 0 && u2 >= 0,
	   "udmabuf: created over a read-only memfd");
	xclose(u2);
	xclose(ro);

	xclose(u);
	xclose(h);
	ok(raw_stat_until(s, RAW_STAT(buffers), 0, WAIT_MS, &got),
	   "udmabuf: the broker released them (%llu buffers left)", (unsigned long long)got);
	is_int(seal_write(m), 0, "udmabuf: once it is gone, its memfd takes F_SEAL_WRITE");
	close(m);
	close(m2);
}

/*
 * SYNC_POLLED: a merged sync_file whose member failed reports the error in a count-only
 * SYNC_INFO once it has been polled, and 1 if nobody polled it, as the kernel's does.
 */
static void test_sync_polled(int s)
{
	int tla, tlb, a, b, two[2], fds[2], mfd;
	struct dmabufd_msg msg;
	bool r;

	tla = raw_new(s, DMABUFD_OP_SW_TIMELINE_CREATE, -1, 0, "polled");
	tlb = raw_new(s, DMABUFD_OP_SW_TIMELINE_CREATE, -1, 0, "polled");
	a = raw_new(s, DMABUFD_OP_SW_FENCE_CREATE, tla, 1, "a");
	b = raw_new(s, DMABUFD_OP_SW_FENCE_CREATE, tlb, 1, "b");
	fds[0] = a;
	fds[1] = b;
	for (int i = 0; i < 2; i++) {
		msg = (struct dmabufd_msg){ .op = DMABUFD_OP_SYNC_MERGE, .name = "two" };
		if (raw_op(s, &msg, fds, 2, NULL, 0, &two[i]) || two[i] < 0)
			bail_out("SYNC_MERGE failed");
	}
	/* two[0] is polled while both fences are pending, two[1] never */
	is_int(raw_count_status(s, two[0]), 0, "sync polled: pending before the poll");
	is_int(raw_polled(s, two[0]), 0, "sync polled: SYNC_POLLED on a merged sync_file");
	is_int(raw_polled(s, two[0]), 0, "sync polled: ... and again (once is what counts)");
	is_int(raw_count_status(s, two[0]), 0, "sync polled: still pending after it");

	close(tla);	/* a fails with -ENOENT */
	ok(raw_readable(a), "sync polled: the first fence failed");
	is_int(raw_count_status(s, a), -ENOENT, "sync polled: ... with -ENOENT");
	is_int(raw_count_status(s, two[0]), 0, "sync polled: polled: pending while b is");
	is_int(raw_count_status(s, two[1]), 0, "sync polled: not polled: pending while b is");

	msg = (struct dmabufd_msg){ .op = DMABUFD_OP_SW_INC, .arg = { 1 } };
	is_int(raw_op(s, &msg, &tlb, 1, NULL, 0, NULL), 0, "sync polled: b signals");
	r = raw_readable(two[0]) && raw_readable(two[1]);
	ok(r, "sync polled: both merged sync_files signaled");
	is_int(raw_count_status(s, two[0]), -ENOENT,
	       "sync polled: polled: the count-only status is the member's error");
	is_int(raw_count_status(s, two[1]), 1,
	       "sync polled: not polled: the count-only status is 1");

	is_int(raw_polled(s, tlb), -ENOTTY, "sync polled: a timeline: -ENOTTY");
	mfd = memfd_create("not-a-sync_file", MFD_CLOEXEC);
	is_int(raw_polled(s, mfd), -ENOTTY, "sync polled: a memfd: -ENOTTY");
	xclose(mfd);
	is_int(raw_polled(s, -1), -EBADF, "sync polled: no descriptor: -EBADF");
	close(two[0]);
	close(two[1]);
	close(a);
	close(b);
	close(tlb);
}

static void test_ops(void)
{
	char sock[200];
	struct daemon d;
	int s, st = -1;
	bool r;

	snprintf(sock, sizeof(sock), "%s/ops/dmabufd.sock", test_broker_dirname());
	daemon_start(&d, sock, NULL, true);
	if (!ok(daemon_wait_ready(&d), "ops: a broker is ready")) {
		daemon_close(&d);
		return;
	}
	s = raw_open(sock, NULL);
	if (s < 0)
		bail_out("cannot connect to the broker: %s", strerror(-s));
	test_udmabuf_memfds(s);
	test_sync_polled(s);
	close(s);
	kill(d.pid, SIGTERM);
	r = daemon_wait_exit(&d, WAIT_MS, &st) && WIFEXITED(st) && !WEXITSTATUS(st);
	ok(r, "ops: SIGTERM: exit 0 (%s)", status_str(st));
	daemon_close(&d);
}

/* ---- refused and restarted ---- */

static void test_unsafe_dir(void)
{
	char dir[160], sock[200];
	struct daemon d;
	struct stat sb;
	bool r;
	int st = -1;

	snprintf(dir, sizeof(dir), "%s/open", test_broker_dirname());
	snprintf(sock, sizeof(sock), "%s/dmabufd.sock", dir);
	if (mkdir(dir, 0700) || chmod(dir, 0777))
		bail_out("mkdir: %s", strerror(errno));
	daemon_start(&d, sock, NULL, false);
	r = daemon_wait_exit(&d, WAIT_MS, &st) && WIFEXITED(st) && WEXITSTATUS(st) != 0;
	ok(r, "unsafe dir: a directory writable by others is refused (%s)", status_str(st));
	ok(d.log_len > 0, "unsafe dir: ... with a message");
	daemon_show_log(&d, 0, "  ");
	ok(lstat(sock, &sb) && errno == ENOENT, "unsafe dir: no socket was made");
	daemon_close(&d);
}

static void test_stale_socket(void)
{
	char sock[200];
	struct daemon d;
	struct stat sb;
	pid_t pid = 0;
	bool r;
	int st = -1;

	snprintf(sock, sizeof(sock), "%s/stale/dmabufd.sock", test_broker_dirname());
	daemon_start(&d, sock, NULL, true);
	if (!ok(daemon_wait_ready(&d), "stale socket: a first broker is ready")) {
		daemon_close(&d);
		return;
	}
	kill(d.pid, SIGKILL);
	daemon_wait_exit(&d, WAIT_MS, &st);
	daemon_close(&d);
	ok(!lstat(sock, &sb), "stale socket: SIGKILL left its socket behind");
	daemon_start(&d, sock, NULL, true);
	ok(daemon_wait_ready(&d), "stale socket: a new broker starts over it");
	xclose(raw_open(sock, &pid));
	is_int(pid, d.pid, "stale socket: and serves it");
	kill(d.pid, SIGTERM);
	r = daemon_wait_exit(&d, WAIT_MS, &st) && WIFEXITED(st) && !WEXITSTATUS(st);
	ok(r, "stale socket: SIGTERM: exit 0 (%s)", status_str(st));
	daemon_close(&d);
}

static void test_idle_exit(void)
{
	char sock[200];
	struct daemon d;
	struct stat sb;
	int64_t t0;
	bool r;
	int st = -1;

	snprintf(sock, sizeof(sock), "%s/idle/dmabufd.sock", test_broker_dirname());
	daemon_start(&d, sock, "--idle-exit=1", true);
	if (!ok(daemon_wait_ready(&d), "idle exit: --idle-exit=1 is ready")) {
		daemon_close(&d);
		return;
	}
	t0 = raw_now_ns();
	r = daemon_wait_exit(&d, WAIT_MS, &st) && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	ok(r, "idle exit: it exits 0 by itself with no client (%s)", status_str(st));
	ok(raw_now_ns() - t0 >= 900 * NS_PER_MS,
	   "idle exit: not before its second (%.0f ms)", (double)(raw_now_ns() - t0) / 1e6);
	ok(lstat(sock, &sb) && errno == ENOENT, "idle exit: the socket is unlinked");
	daemon_close(&d);
}

int main(void)
{
	guard_start(180);
	page = (size_t)sysconf(_SC_PAGESIZE);
	dmabufd = getenv("DMABUFD");
	if (!dmabufd || access(dmabufd, X_OK))
		bail_out("$DMABUFD must name the dmabufd to test");
	test_broker_setup();
	signal(SIGPIPE, SIG_IGN);
	test_cli();
	test_on_demand();
	test_by_hand();
	test_peer_uid();
	test_ops();
	test_unsafe_dir();
	test_stale_socket();
	test_idle_exit();
	return tap_done();
}

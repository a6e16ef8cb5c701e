// SPDX-License-Identifier: MIT
/*
 * test_multiproc.c - the broker backend across processes, through the public fd API.
 *
 * With a private dmabufd (raw_client.h) and LIBDMABUF_BACKEND=broker: descriptors inherited
 * by fork, passed with SCM_RIGHTS between unrelated processes and kept across execve work
 * there; objects live exactly as long as a descriptor (or, for buffers, a mapping) in any
 * process; a timeline's pending fences fail with -ENOENT everywhere when its last descriptor
 * goes, also by SIGKILL; a forged request reaches nothing; and a client whose broker went
 * away gets -ENOTCONN instead of hanging, then starts a new broker with its next call.
 *
 * Other processes report their checks through proc_tap.h.  The program runs itself again
 * with --role=NAME for the processes that must not be forks of the test.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dmabuf/fd.h>

#include "fd_util.h"
#include "proc_tap.h"
#include "raw_client.h"
#include "tap.h"

#define WAIT_MS 10000		/* how long any expected event may take before it failed */

static size_t page;
static int stats_sock = -1;

/* ---- helpers ---- */

/* The raw connection that asks the private broker for its counters (made on demand). */
static int stats_conn(void)
{
	if (stats_sock < 0)
		stats_sock = raw_open(test_broker_socket(), NULL);
	if (stats_sock < 0)
		bail_out("cannot reach the broker: %s", strerror(-stats_sock));
	return stats_sock;
}

static void stats_drop(void)
{
	if (stats_sock >= 0)
		close(stats_sock);
	stats_sock = -1;
}

static struct dmabufd_stats stats(void)
{
	struct dmabufd_stats st;
	int ret = raw_stats(stats_conn(), &st);

	if (ret)
		bail_out("STATS: %s", strerror(-ret));
	return st;
}

/* Wait until the counter at @off is @want: true if it got there; the last value in *@got. */
static bool stat_until(size_t off, uint64_t want, uint64_t *got)
{
	return raw_stat_until(stats_conn(), off, want, WAIT_MS, got);
}

/* Collect a child's checks and its exit status. */
static void finish_child(struct child *c, const char *who)
{
	close(c->sock);
	rt_collect(c->report, who);
	ok_exit(c->pid, who);
}

/* Wait until the private broker holds no object: the previous test's releases are done. */
static void settle(void)
{
	int64_t deadline = raw_now_ns() + WAIT_MS * NS_PER_MS;
	struct dmabufd_stats st;

	for (;;) {
		st = stats();
		if (!st.buffers && !st.sync_files && !st.timelines && !st.heaps)
			return;
		if (raw_now_ns() > deadline)
			break;
		raw_nap_ms(1);
	}
	diag("the broker still holds %llu buffers, %llu sync_files, %llu timelines, %llu heaps",
	     (unsigned long long)st.buffers, (unsigned long long)st.sync_files,
	     (unsigned long long)st.timelines, (unsigned long long)st.heaps);
}

static bool expect_word(int sock, int want)
{
	int w = -1;

	return recv_word(sock, &w, WAIT_MS) && w == want;
}

/* ---- fork: a child uses what it inherited, and its own requests ---- */

struct fork_args {
	int buf, f;
};

static int fork_main(void *arg, int s)
{
	struct fork_args *a = arg;
	unsigned char *p = map_rw(a->buf, 2 * page);
	int tl, cf;

	if (!rt_ok(p && !strcmp((char *)p, "parent wrote this"),
		   "mmap of the inherited buffer shows the parent's bytes"))
		return 1;
	strcpy((char *)p + page, "child wrote this");
	rt_is_int(fence_status(a->f), 0, "sync_info of the parent's sync_file: pending");
	rt_is_int(dmabuf_fd_sync_wait(a->f, 0), -ETIME, "sync_wait on it: -ETIME");
	rt_is_int(dmabuf_fd_buf_import_sync_file(a->buf, RD, a->f), 0,
		  "import the parent's fence into the inherited buffer (reader)");
	tl = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	rt_ok(tl >= 0, "a timeline of its own (a new request from the child)");
	cf = dmabuf_fd_sw_fence_create(tl, 1, "child");
	rt_ok(cf >= 0, "a fence on it");
	rt_is_int(dmabuf_fd_buf_import_sync_file(a->buf, WR, cf), 0,
		  "import its own fence into the inherited buffer (writer)");
	send_word(s, 1);
	if (!rt_ok(expect_word(s, 2), "told to signal"))
		return 1;
	rt_is_int(dmabuf_fd_sw_timeline_inc(tl, 1), 0, "signal its own fence");
	send_word(s, 3);
	rt_is_int(dmabuf_fd_sync_wait(a->f, WAIT_MS * NS_PER_MS), 0,
		  "sync_wait on the parent's fence wakes when the parent signals it");
	rt_is_int(fence_status(a->f), 1, "the parent's fence: status 1");
	munmap(p, 2 * page);
	return rt_exit_status();
}

static void test_fork(void)
{
	struct fork_args a = { xbuf(2 * page, O_CLOEXEC), -1 };
	int tl = xtimeline(O_CLOEXEC), e;
	unsigned char *p = map_rw(a.buf, 2 * page);
	uint64_t conns;
	struct child c;

	a.f = xfence(tl, 1);
	if (!p)
		bail_out("mmap: %s", strerror(errno));
	strcpy((char *)p, "parent wrote this");
	conns = stats().connections;
	c = fork_child(fork_main, &a);
	if (ok(expect_word(c.sock, 1), "fork: the child imported its fences")) {
		ok(!strcmp((char *)p + page, "child wrote this"),
		   "fork: the parent's mapping shows the child's bytes");
		is_int(stats().connections, conns + 1,
		       "fork: the child made a connection of its own");
		is_int(dmabuf_fd_buf_wait(a.buf, RD, 0), -ETIME,
		       "fork: the child's writer fence blocks readers in the parent");
		e = dmabuf_fd_buf_export_sync_file(a.buf, RW);
		is_int(fence_count(e), 2, "fork: an export holds the parent's and the child's");
		xclose(e);
		send_word(c.sock, 2);
		ok(expect_word(c.sock, 3), "fork: the child signaled");
		is_int(dmabuf_fd_buf_wait(a.buf, RD, WAIT_MS * NS_PER_MS), 0,
		       "fork: buf_wait(READ) in the parent wakes on the child's signal");
		is_int(dmabuf_fd_buf_wait(a.buf, WR, 0), -ETIME,
		       "fork: buf_wait(WRITE) still waits for the parent's reader fence");
		is_int(dmabuf_fd_sw_timeline_inc(tl, 1), 0, "fork: the parent signals its fence");
		is_int(dmabuf_fd_buf_wait(a.buf, WR, WAIT_MS * NS_PER_MS), 0,
		       "fork: then the buffer is idle");
	}
	finish_child(&c, "fork child");
	munmap(p, 2 * page);
	close(a.f);
	close(tl);
	close(a.buf);
}

/* ---- SCM_RIGHTS between two processes that share no descriptors ---- */

/* B connects to A at @path, retrying while A does not listen yet. */
static int connect_retry(const char *path)
{
	int64_t deadline = raw_now_ns() + WAIT_MS * NS_PER_MS;
	int s;

	for (;;) {
		s = raw_connect(path);
		if (s >= 0 || (s != -ENOENT && s != -ECONNREFUSED) || raw_now_ns() > deadline)
			return s;
		raw_nap_ms(1);
	}
}

static int role_scm_a(const char *meet)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd;
	int lsock, s, buf, tl, f, e = -1, fds[2], n = 0, w = 0;
	unsigned char *p;

	lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", meet);
	if (lsock < 0 || bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) || listen(lsock, 1))
		return rt_ok(0, "listen on %s: %s", meet, strerror(errno)), 1;
	buf = xbuf(2 * page, O_CLOEXEC);
	p = map_rw(buf, 2 * page);
	if (!rt_ok(p != NULL, "A maps its buffer"))
		return 1;
	strcpy((char *)p, "bytes of A");
	rt_is_int(dmabuf_fd_buf_set_name(buf, "scm-shared"), 0, "A names its buffer");
	tl = xtimeline(O_CLOEXEC);
	f = xfence(tl, 1);
	pfd = (struct pollfd){ lsock, POLLIN, 0 };
	if (!rt_ok(poll(&pfd, 1, WAIT_MS) == 1, "B connected"))
		return 1;
	s = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
	fds[0] = buf;
	fds[1] = f;
	rt_is_int(send_fds(s, "buf+sync_file", 14, fds, 2), 0,
		  "A sends the buffer and a pending sync_file");
	if (!rt_ok(expect_word(s, 1), "B says it waits on the sync_file"))
		return 1;
	rt_is_int(dmabuf_fd_sw_timeline_inc(tl, 1), 0, "A signals the fence B waits on");
	if (rt_ok(recv_fds(s, &w, sizeof(w), fds, 2, &n, WAIT_MS) == sizeof(w) && w == 2 &&
		  n == 1, "A receives B's export")) {
		e = fds[0];
		rt_is_int(fence_status(e), 0, "B's export is pending in A (B's writer fence)");
		rt_is_int(dmabuf_fd_buf_wait(buf, RD, 0), -ETIME,
			  "in A the buffer waits for B's writer");
		rt_ok(!strcmp((char *)p + page, "bytes of B"), "A sees B's bytes");
		send_word(s, 3);
		rt_is_int(dmabuf_fd_sync_wait(e, WAIT_MS * NS_PER_MS), 0,
			  "A's wait on B's export wakes when B signals");
		rt_is_int(fence_status(e), 1, "B's export signaled");
		rt_is_int(dmabuf_fd_buf_wait(buf, RD, WAIT_MS * NS_PER_MS), 0,
			  "the buffer is readable in A again");
	}
	send_word(s, 4);
	xclose(e);
	close(s);
	close(lsock);
	return rt_exit_status();
}

static int role_scm_b(const char *meet)
{
	int s = connect_retry(meet), fds[2], n = 0, buf, sf, tl, bf, m, e, two = 2;
	char msg[32] = "";
	unsigned char *p;

	if (!rt_ok(s >= 0, "B connects to A"))
		return 1;
	if (!rt_ok(recv_fds(s, msg, sizeof(msg), fds, 2, &n, WAIT_MS) > 0 && n == 2,
		   "B receives two descriptors"))
		return 1;
	buf = fds[0];
	sf = fds[1];
	rt_is_int(dmabuf_fd_sync_wait(sf, 0), -ETIME, "A's fence is pending when B gets it");
	send_word(s, 1);
	rt_is_int(dmabuf_fd_sync_wait(sf, WAIT_MS * NS_PER_MS), 0,
		  "B's wait wakes when A signals");
	rt_is_int(fence_status(sf), 1, "A's fence signaled, seen from B");
	p = map_rw(buf, 2 * page);
	if (!rt_ok(p && !strcmp((char *)p, "bytes of A"), "B maps the buffer and reads A's bytes"))
		return 1;
	strcpy((char *)p + page, "bytes of B");
	tl = xtimeline(O_CLOEXEC);
	bf = xfence(tl, 1);
	m = dmabuf_fd_sync_merge("a+b", sf, bf);
	rt_ok(m >= 0, "B merges A's sync_file with its own");
	rt_is_int(fence_count(m), 1, "the merge drops A's signaled fence");
	rt_is_int(fence_status(m), 0, "the merge is pending");
	rt_is_int(dmabuf_fd_buf_import_sync_file(buf, WR, m), 0,
		  "B imports the merge into A's buffer as a writer");
	e = dmabuf_fd_buf_export_sync_file(buf, RW);
	rt_ok(e >= 0, "B exports the buffer's fences");
	rt_is_int(send_fds(s, &two, sizeof(two), &e, 1), 0, "B sends the export to A");
	if (rt_ok(expect_word(s, 3), "A asks B to signal"))
		rt_is_int(dmabuf_fd_sw_timeline_inc(tl, 1), 0, "B signals its fence");
	rt_ok(expect_word(s, 4), "A is done");
	munmap(p, 2 * page);
	return rt_exit_status();
}

static void test_scm(void)
{
	char meet[200];
	int ra[2], rb[2];
	pid_t a, b;

	snprintf(meet, sizeof(meet), "%s/meet.sock", test_broker_dirname());
	report_pipe(ra);
	report_pipe(rb);
	a = spawn_self((char *[]){ "test_multiproc", "--role=scm-a", meet, NULL }, ra[1]);
	b = spawn_self((char *[]){ "test_multiproc", "--role=scm-b", meet, NULL }, rb[1]);
	close(ra[1]);
	close(rb[1]);
	if (a < 0 || b < 0)
		bail_out("posix_spawn: %s", strerror(-(a < 0 ? a : b)));
	rt_collect(ra[0], "scm A");
	ok_exit(a, "scm A");
	rt_collect(rb[0], "scm B");
	ok_exit(b, "scm B");
	unlink(meet);
}

/* ---- exec: descriptors without O_CLOEXEC keep working in the new program ---- */

static int role_exec(int buf, int f, int tl)
{
	struct pollfd pfd = { f, POLLIN, 0 };
	char *p = map_rw(buf, page);
	int g;

	if (!rt_ok(p != NULL, "the buffer fd mmaps after execve%s%s", p ? "" : ": ",
		   p ? "" : strerror(errno)))
		return 1;
	rt_ok(!strcmp(p, "before exec"), "the mapping shows the bytes written before");
	strcpy(p, "after exec");
	rt_is_int(dmabuf_fd_buf_sync(buf, RW), 0, "SYNC START on it");
	rt_is_int(dmabuf_fd_buf_sync(buf, RW | END), 0, "SYNC END on it");
	rt_is_int(poll(&pfd, 1, 0), 0, "the sync_file polls not ready while pending");
	rt_is_int(dmabuf_fd_sync_wait(f, 0), -ETIME, "sync_wait: -ETIME while pending");
	rt_is_int(dmabuf_fd_sw_timeline_inc(tl, 1), 0, "the timeline fd increments after execve");
	pfd.revents = 0;
	rt_ok(poll(&pfd, 1, WAIT_MS) == 1 && (pfd.revents & POLLIN),
	      "the sync_file polls POLLIN once signaled");
	rt_is_int(fence_status(f), 1, "sync_info: signaled");
	g = dmabuf_fd_sw_fence_create(tl, 2, "after-exec");
	rt_ok(g >= 0, "a new fence on the inherited timeline");
	rt_is_int(fence_status(g), 0, "it is pending");
	munmap(p, page);
	return rt_exit_status();
}

static void test_exec(void)
{
	int buf = xbuf(page, 0), tl = xtimeline(0), f = xfence(tl, 1), rep[2];
	char *p = map_rw(buf, page), a1[16], a2[16], a3[16];
	pid_t pid;

	if (!p)
		bail_out("mmap: %s", strerror(errno));
	strcpy(p, "before exec");
	ok(is_cloexec(f), "exec: a sync_file is born close-on-exec");
	fcntl(f, F_SETFD, 0);
	ok(!is_cloexec(buf) && !is_cloexec(tl) && !is_cloexec(f),
	   "exec: buffer, timeline and sync_file descriptors without O_CLOEXEC");
	snprintf(a1, sizeof(a1), "%d", buf);
	snprintf(a2, sizeof(a2), "%d", f);
	snprintf(a3, sizeof(a3), "%d", tl);
	report_pipe(rep);
	pid = spawn_self((char *[]){ "test_multiproc", "--role=exec", a1, a2, a3, NULL }, rep[1]);
	close(rep[1]);
	if (pid < 0)
		bail_out("posix_spawn: %s", strerror(-pid));
	rt_collect(rep[0], "exec");
	ok_exit(pid, "exec");
	ok(!strcmp(p, "after exec"), "exec: the parent sees what the new program wrote");
	is_int(fence_status(f), 1, "exec: the new program's increment signaled our fence");
	munmap(p, page);
	close(f);
	close(tl);
	close(buf);
}

/* ---- lifetimes ---- */

/*
 * A buffer whose last descriptor is in a child (@keep_map false) or whose only reference
 * left is a child's mapping (@keep_map true).
 */
struct keep_args {
	int buf;
	size_t len;
	bool keep_map;
};

static int keep_main(void *arg, int s)
{
	struct keep_args *a = arg;
	void *p = NULL;

	if (a->keep_map) {
		p = map_rw(a->buf, a->len);
		close(a->buf);
		if (!p)
			return 3;
	}
	send_word(s, 1);
	if (!expect_word(s, 2))
		return 4;
	if (a->keep_map)
		munmap(p, a->len);
	else
		close(a->buf);
	send_word(s, 3);
	return expect_word(s, 4) ? 0 : 5;
}

static void buffer_lifetime(bool keep_map)
{
	const char *what = keep_map ? "a mapping" : "a descriptor";
	struct keep_args a = { -1, 3 * page, keep_map };
	struct dmabufd_stats st0;
	uint64_t got;
	struct child c;
	bool alive;
	int ctl;

	settle();
	st0 = stats();
	a.buf = xbuf(a.len, O_CLOEXEC);
	ok(stat_until(RAW_STAT(buffer_bytes), st0.buffer_bytes + a.len, &got),
	   "lifetime (%s): the buffer counts in the broker", what);
	c = fork_child(keep_main, &a);
	if (!ok(expect_word(c.sock, 1), "lifetime (%s): the child holds it", what))
		goto out;
	close(a.buf);
	/*
	 * Had closing our descriptor released the buffer, the broker would have learned it
	 * before it learns of a buffer closed after it (its inotify events come in order):
	 * once the control buffer is gone, the bytes still counted say whether ours lives.
	 */
	ctl = xbuf(page, O_CLOEXEC);
	stat_until(RAW_STAT(buffer_bytes), st0.buffer_bytes + a.len + page, &got);
	close(ctl);
	alive = stat_until(RAW_STAT(buffer_bytes), st0.buffer_bytes + a.len, &got);
	ok(alive, "lifetime (%s): a later buffer is released, ours still counts (%llu bytes)",
	   what, (unsigned long long)(got - st0.buffer_bytes));
	is_int(stats().buffers, st0.buffers + 1,
	       "lifetime (%s): %s in another process keeps the buffer", what, what);
	send_word(c.sock, 2);
	ok(expect_word(c.sock, 3), "lifetime (%s): the child dropped it", what);
	ok(stat_until(RAW_STAT(buffers), st0.buffers, &got),
	   "lifetime (%s): dropping the last %s releases the buffer", what,
	   keep_map ? "mapping (munmap)" : "descriptor");
	is_int(stats().buffer_bytes, st0.buffer_bytes, "lifetime (%s): its bytes are gone", what);
	send_word(c.sock, 4);
out:
	close(c.sock);
	close(c.report);
	ok_exit(c.pid, keep_map ? "lifetime (a mapping) child" : "lifetime (a descriptor) child");
}

/*
 * Close a control timeline with one pending fence and wait for that fence's -ENOENT.  Its
 * sync_file is returned open (the caller closes it once done counting): -1 on failure.
 */
static int control_timeline_closed(void)
{
	int tl = xtimeline(O_CLOEXEC), f = xfence(tl, 1);

	close(tl);
	if (dmabuf_fd_sync_wait(f, WAIT_MS * NS_PER_MS) == 0 && fence_status(f) == -ENOENT)
		return f;
	close(f);
	return -1;
}

static int hold_main(void *arg, int s)
{
	int fd = *(int *)arg;

	send_word(s, 1);
	if (!expect_word(s, 2))
		return 4;
	close(fd);
	send_word(s, 3);
	return expect_word(s, 4) ? 0 : 5;
}

/*
 * @fd stands for an object counted at @off, and a fork child holds it too: closing ours must
 * leave the counter at @held (read while a control sync_file is open), the child's close must
 * bring it back to @after.  @what names the checks.
 */
static void lifetime_in_child(int fd, size_t off, uint64_t held, uint64_t after,
			      const char *what)
{
	struct dmabufd_stats st;
	uint64_t got = 0;
	struct child c;
	char who[64];
	bool gone;
	int cf;

	snprintf(who, sizeof(who), "lifetime (%s) child", what);
	c = fork_child(hold_main, &fd);
	if (!ok(expect_word(c.sock, 1), "lifetime (%s): the child holds it", what))
		goto out;
	close(fd);
	/*
	 * The broker learns of closed pipes in the order they closed: once it failed the
	 * fence of a timeline closed after our close, it would have released our object.
	 */
	cf = control_timeline_closed();
	ok(cf >= 0, "lifetime (%s): a control timeline closed", what);
	st = stats();
	is_int(raw_stat_get(&st, off), held,
	       "lifetime (%s): a descriptor in another process keeps it", what);
	xclose(cf);
	send_word(c.sock, 2);
	ok(expect_word(c.sock, 3), "lifetime (%s): the child closed it", what);
	gone = stat_until(off, after, &got);
	ok(gone, "lifetime (%s): closing its last descriptor releases it (%llu, want %llu)",
	   what, (unsigned long long)got, (unsigned long long)after);
	send_word(c.sock, 4);
out:
	close(c.sock);
	close(c.report);
	ok_exit(c.pid, who);
}

static void sync_file_lifetime(void)
{
	int tl, f, d;
	uint64_t s0;

	settle();
	tl = xtimeline(O_CLOEXEC);
	s0 = stats().sync_files;
	f = xfence(tl, 5);
	d = dup(f);
	is_int(stats().sync_files, s0 + 1, "lifetime (sync_file): a sync_file and its dup: one");
	close(d);
	/* the control timeline's sync_file counts too while open */
	lifetime_in_child(f, RAW_STAT(sync_files), s0 + 2, s0, "sync_file");
	close(tl);
}

/* A child holding the timeline and a fence on it: closes the timeline when told. */
struct tl_args {
	int tl, f;
};

static int tl_holder_main(void *arg, int s)
{
	struct tl_args *a = arg;

	rt_is_int(fence_status(a->f), 0, "the fence is pending while the child holds the timeline");
	send_word(s, 1);
	if (!expect_word(s, 2))
		return 4;
	close(a->tl);
	rt_is_int(dmabuf_fd_sync_wait(a->f, WAIT_MS * NS_PER_MS), 0,
		  "closing the last timeline descriptor wakes the child's wait");
	rt_is_int(fence_status(a->f), -ENOENT, "the child sees status -ENOENT");
	return rt_exit_status();
}

static void timeline_last_fd(void)
{
	struct tl_args a = { xtimeline(O_CLOEXEC), -1 };
	struct child c;
	int64_t t0;
	int cf;

	a.f = xfence(a.tl, 1);
	c = fork_child(tl_holder_main, &a);
	if (ok(expect_word(c.sock, 1), "timeline: a child holds it too")) {
		close(a.tl);
		cf = control_timeline_closed();
		ok(cf >= 0, "timeline: a control timeline closed after ours");
		xclose(cf);
		is_int(fence_status(a.f), 0,
		       "timeline: our close is not the last: its fence stays pending");
		send_word(c.sock, 2);
		t0 = raw_now_ns();
		is_int(dmabuf_fd_sync_wait(a.f, WAIT_MS * NS_PER_MS), 0,
		       "timeline: the child's close (the last) wakes our wait");
		diag("woke %.3f ms after telling the child", (double)(raw_now_ns() - t0) / 1e6);
		is_int(fence_status(a.f), -ENOENT, "timeline: status -ENOENT in the parent");
	}
	finish_child(&c, "timeline holder");
	close(a.f);
}

/* The owner of a timeline is killed: a waiter in a third process wakes with -ENOENT. */
static int owner_main(void *arg, int s)
{
	int tl = xtimeline(O_CLOEXEC), f = xfence(tl, 1);

	send_fds(s, "fence", 6, &f, 1);
	close(f);
	expect_word(s, 99);	/* never sent: SIGKILL comes first */
	return 0;
}

static int waiter_main(void *arg, int s)
{
	int f = *(int *)arg;

	rt_is_int(dmabuf_fd_sync_wait(f, 0), -ETIME, "the dead-to-be owner's fence is pending");
	send_word(s, 1);
	rt_is_int(dmabuf_fd_sync_wait(f, WAIT_MS * NS_PER_MS), 0,
		  "the waiter wakes when the owner is killed");
	rt_is_int(fence_status(f), -ENOENT, "the waiter sees status -ENOENT");
	return rt_exit_status();
}

static void timeline_owner_killed(void)
{
	struct child owner, waiter;
	int f = -1, n = 0, st;
	char msg[8];
	int64_t t0;

	owner = fork_child(owner_main, NULL);
	if (!ok(recv_fds(owner.sock, msg, sizeof(msg), &f, 1, &n, WAIT_MS) > 0 && n == 1,
		"owner killed: the owner sent a fence of its timeline"))
		goto out;
	waiter = fork_child(waiter_main, &f);
	ok(expect_word(waiter.sock, 1), "owner killed: the waiter waits");
	is_int(fence_status(f), 0, "owner killed: pending while the owner lives");
	t0 = raw_now_ns();
	kill(owner.pid, SIGKILL);
	is_int(dmabuf_fd_sync_wait(f, WAIT_MS * NS_PER_MS), 0,
	       "owner killed: our wait wakes too");
	diag("woke %.3f ms after SIGKILL", (double)(raw_now_ns() - t0) / 1e6);
	is_int(fence_status(f), -ENOENT, "owner killed: status -ENOENT here");
	finish_child(&waiter, "waiter");
out:
	close(owner.sock);
	close(owner.report);
	kill(owner.pid, SIGKILL);
	wait_child(owner.pid, &st);
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "owner killed: the owner died of SIGKILL");
	xclose(f);
}

/* ---- capability: a request reaches only objects whose descriptor it carries ---- */

/* One forged request on @s: the reply's ret (or the transport error). */
static int forge(int s, uint32_t op, uint64_t arg0, const int *fds, int nfds)
{
	struct dmabufd_msg msg = { .op = op, .arg = { arg0 } };
	int rfds[4], n = 0, ret;

	ret = raw_request(s, &msg, NULL, 0, fds, nfds, NULL, 0, rfds, 4, &n);
	raw_close_fds(rfds, n);
	return ret ? ret : msg.ret;
}

static int identify(int s, int fd, uint64_t *type)
{
	struct dmabufd_msg msg = { .op = DMABUFD_OP_IDENTIFY };
	int ret = raw_request(s, &msg, NULL, 0, &fd, 1, NULL, 0, NULL, 0, NULL);

	*type = msg.arg[0];
	return ret ? ret : msg.ret;
}

static void test_capability(void)
{
	int buf, tl, f, mfd = memfd_create("forged", MFD_CLOEXEC), pp[2], s, two[2];
	struct dmabufd_stats a, b;
	uint64_t type = 77;

	settle();
	buf = xbuf(page, O_CLOEXEC);
	tl = xtimeline(O_CLOEXEC);
	f = xfence(tl, 1);
	if (mfd < 0 || ftruncate(mfd, (off_t)page) || pipe2(pp, O_CLOEXEC))
		bail_out("memfd/pipe: %s", strerror(errno));
	dmabuf_fd_buf_import_sync_file(buf, WR, f);
	s = raw_open(test_broker_socket(), NULL);
	if (s < 0)
		bail_out("raw connection: %s", strerror(-s));
	a = stats();
	is_int(identify(s, mfd, &type), 0, "capability: IDENTIFY of a memfd of our own");
	is_int(type, DMABUFD_TYPE_NONE, "capability: it is no broker object");
	is_int(identify(s, pp[0], &type), 0, "capability: IDENTIFY of a pipe of our own");
	is_int(type, DMABUFD_TYPE_NONE, "capability: it is no broker object either");
	is_int(identify(s, buf, &type), 0, "capability: IDENTIFY of a real buffer");
	is_int(type, DMABUFD_TYPE_BUF, "capability: that one is a buffer");
	is_int(forge(s, DMABUFD_OP_BUF_SYNC, RW, &mfd, 1), -ENOTTY,
	       "capability: SYNC on a memfd: -ENOTTY");
	is_int(forge(s, DMABUFD_OP_BUF_EXPORT, RW, &mfd, 1), -ENOTTY,
	       "capability: EXPORT from a memfd: -ENOTTY");
	two[0] = mfd;
	two[1] = f;
	is_int(forge(s, DMABUFD_OP_BUF_IMPORT, RW, two, 2), -ENOTTY,
	       "capability: IMPORT into a memfd: -ENOTTY");
	is_int(forge(s, DMABUFD_OP_BUF_SET_NAME, 0, &mfd, 1), -ENOTTY,
	       "capability: SET_NAME on a memfd: -ENOTTY");
	is_int(forge(s, DMABUFD_OP_SYNC_INFO, 0, &pp[0], 1), -ENOTTY,
	       "capability: FILE_INFO on a pipe: -ENOTTY");
	two[0] = pp[0];
	two[1] = pp[0];
	is_int(forge(s, DMABUFD_OP_SYNC_MERGE, 0, two, 2), -ENOTTY,
	       "capability: MERGE of pipes: -ENOTTY");
	two[0] = f;
	two[1] = pp[0];
	is_int(forge(s, DMABUFD_OP_SYNC_MERGE, 0, two, 2), -ENOENT,
	       "capability: MERGE of a sync_file and a pipe: -ENOENT");
	is_int(forge(s, DMABUFD_OP_SW_INC, 1, &pp[0], 1), -ENOTTY,
	       "capability: INC on a pipe: -ENOTTY");
	is_int(forge(s, DMABUFD_OP_SW_INC, 1, &mfd, 1), -ENOTTY,
	       "capability: INC on a memfd: -ENOTTY");
	is_int(forge(s, DMABUFD_OP_SW_FENCE_CREATE, 1, &pp[0], 1), -ENOTTY,
	       "capability: CREATE_FENCE on a pipe: -ENOTTY");
	is_int(forge(s, DMABUFD_OP_HEAP_ALLOC_FD, page, &pp[0], 1), -ENOTTY,
	       "capability: HEAP_ALLOC_FD on a pipe: -ENOTTY");
	is_int(forge(s, DMABUFD_OP_HEAP_ALLOC_FD, page, &tl, 1), -ENOTTY,
	       "capability: HEAP_ALLOC_FD on a timeline: -ENOTTY");
	is_int(forge(s, DMABUFD_OP_HEAP_ALLOC_FD, page, NULL, 0), -EBADF,
	       "capability: HEAP_ALLOC_FD without a descriptor: -EBADF");
	is_int(forge(s, DMABUFD_OP_SW_INC, 1, NULL, 0), -EBADF,
	       "capability: INC without a descriptor: -EBADF");
	is_int(forge(s, DMABUFD_OP_BUF_EXPORT, RW, NULL, 0), -EBADF,
	       "capability: EXPORT without a descriptor: -EBADF");
	is_int(forge(s, DMABUFD_OP_SYNC_INFO, 0, NULL, 0), -EBADF,
	       "capability: FILE_INFO without a descriptor: -EBADF");
	is_int(forge(s, DMABUFD_OP_BUF_SYNC, RW, NULL, 0), -EBADF,
	       "capability: SYNC without a descriptor: -EBADF");
	is_int(raw_stats(s, &b), 0, "capability: the connection still answers");
	b = stats();
	ok(a.buffers == b.buffers && a.sync_files == b.sync_files &&
	   a.timelines == b.timelines && a.fences == b.fences && a.dropped == b.dropped &&
	   a.heaps == b.heaps,
	   "capability: no object was made, released or dropped");
	is_int(fence_status(f), 0, "capability: the real timeline's fence is still pending");
	is_int(dmabuf_fd_buf_wait(buf, RD, 0), -ETIME,
	       "capability: the real buffer still waits for its writer");
	close(s);
	close(mfd);
	close(pp[0]);
	close(pp[1]);
	close(f);
	close(tl);
	close(buf);
}

/* ---- heap descriptors: inherited, passed with SCM_RIGHTS, released with the last one ---- */

/*
 * Allocate from the heap descriptor *@arg (inherited), or from one received on @s when it is
 * -1; write into the buffer and send it back.
 */
static int heap_user_main(void *arg, int s)
{
	int h = *(int *)arg, n = 0, buf;
	char msg[8], *p;

	if (h < 0 && !rt_ok(recv_fds(s, msg, sizeof(msg), &h, 1, &n, WAIT_MS) > 0 && n == 1,
			    "the child receives a heap descriptor"))
		return 1;
	buf = dmabuf_fd_heap_alloc_fd(h, 2 * page, O_RDWR | O_CLOEXEC, 0);
	if (!rt_ok(buf >= 0, "the child allocates from the heap descriptor (%d)", buf))
		return 1;
	p = map_rw(buf, 2 * page);
	if (!rt_ok(p != NULL, "the child maps the buffer"))
		return 1;
	strcpy(p + page, "from the child's heap fd");
	munmap(p, 2 * page);
	rt_is_int(send_fds(s, "buf", 4, &buf, 1), 0, "the child sends the buffer back");
	close(buf);
	close(h);
	return rt_exit_status();
}

/* Run heap_user_main() in a child (@h: inherited; -1: sent it after the fork). */
static void heap_fd_user(int h, const char *how)
{
	int arg = h, buf = -1, n = 0, sent;
	char msg[8], *p;
	struct child c;

	c = fork_child(heap_user_main, &arg);
	if (h < 0) {
		/* opened after the fork: the child can only have it from the message */
		sent = dmabuf_fd_heap_open("system", O_RDONLY | O_CLOEXEC);
		ok(sent >= 0, "heap fd (%s): opened after the fork", how);
		is_int(send_fds(c.sock, "heap", 5, &sent, 1), 0, "heap fd (%s): sent", how);
		xclose(sent);
	}
	if (ok(recv_fds(c.sock, msg, sizeof(msg), &buf, 1, &n, WAIT_MS) > 0 && n == 1,
	       "heap fd (%s): the child allocated and sent the buffer", how)) {
		p = map_rw(buf, 2 * page);
		ok(p && !strcmp(p + page, "from the child's heap fd"),
		   "heap fd (%s): the buffer shows the child's bytes here", how);
		if (p)
			munmap(p, 2 * page);
		close(buf);
	}
	finish_child(&c, how);
}

static void test_heap_fd(void)
{
	int h, d, s;
	uint64_t h0, type = 77, got = 0;
	bool gone;

	settle();
	h0 = stats().heaps;
	h = dmabuf_fd_heap_open("system", O_RDONLY | O_CLOEXEC);
	if (!ok(h >= 0, "heap fd: open (%d)", h))
		return;
	is_int(stats().heaps, h0 + 1, "heap fd: the broker holds a heap object");
	s = raw_open(test_broker_socket(), NULL);
	if (s < 0)
		bail_out("raw connection: %s", strerror(-s));
	is_int(identify(s, h, &type), 0, "heap fd: IDENTIFY");
	is_int(type, DMABUFD_TYPE_HEAP, "heap fd: it is a heap");
	close(s);
	heap_fd_user(h, "inherited by fork");
	heap_fd_user(-1, "SCM_RIGHTS");
	gone = stat_until(RAW_STAT(heaps), h0 + 1, &got);
	ok(gone, "heap fd: the one sent is released once the child is done with it (%llu left)",
	   (unsigned long long)(got - h0));

	d = dup(h);
	close(h);
	lifetime_in_child(d, RAW_STAT(heaps), h0 + 1, h0, "heap fd");
}

/* ---- the broker goes away under a waiter ---- */

struct killer {
	pthread_t thread;
	pid_t victim, tid;
	int64_t t_kill;
};

/* Once the main thread sleeps (in its wait), SIGTERM the broker. */
static void *killer_main(void *arg)
{
	struct killer *k = arg;
	char path[64], st = 0, buf[512], *p;
	int64_t deadline = raw_now_ns() + WAIT_MS * NS_PER_MS;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)k->tid);
	while (st != 'S' && raw_now_ns() < deadline) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		xclose(fd);
		buf[n > 0 ? n : 0] = '\0';
		p = strrchr(buf, ')');
		st = p && p[1] ? p[2] : 0;
		if (st != 'S')
			raw_nap_ms(1);
	}
	k->t_kill = raw_now_ns();
	kill(k->victim, SIGTERM);
	return NULL;
}

static void test_broker_gone(void)
{
	int tl = xtimeline(O_CLOEXEC), f = xfence(tl, 1), buf, ret, g;
	struct killer k = { .tid = gettid() };
	int64_t t_ret;
	pid_t newer;

	stats_drop();
	k.victim = test_broker_pid();
	if (!ok(k.victim > 0, "broker gone: the broker's pid from HELLO"))
		return;
	if (pthread_create(&k.thread, NULL, killer_main, &k))
		bail_out("pthread_create");
	ret = dmabuf_fd_sync_wait(f, -1);
	t_ret = raw_now_ns();
	pthread_join(k.thread, NULL);
	is_int(ret, -ENOTCONN, "broker gone: a wait without timeout returns -ENOTCONN");
	ok(t_ret - k.t_kill < NS_PER_S, "broker gone: %.3f ms after SIGTERM (limit 1 s)",
	   (double)(t_ret - k.t_kill) / 1e6);
	ok(wait_path_gone(test_broker_socket(), WAIT_MS) && wait_pid_gone(k.victim, WAIT_MS),
	   "broker gone: it exited and removed its socket");
	is_int(dmabuf_fd_sync_wait(f, 0), -ENOTCONN, "broker gone: a second wait: -ENOTCONN");
	buf = dmabuf_fd_heap_alloc("system", page, O_RDWR | O_CLOEXEC, 0);
	ok(buf >= 0, "broker gone: the next call works (%d)", buf);
	newer = test_broker_pid();
	ok(newer > 0 && newer != k.victim, "broker gone: it started a new broker (%d, was %d)",
	   (int)newer, (int)k.victim);
	close(tl);
	close(f);
	tl = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	g = dmabuf_fd_sw_fence_create(tl, 1, "again");
	is_int(dmabuf_fd_sw_timeline_inc(tl, 1), 0, "broker gone: the new broker signals");
	is_int(dmabuf_fd_sync_wait(g, WAIT_MS * NS_PER_MS), 0,
	       "broker gone: and its fence wakes a wait");
	xclose(g);
	xclose(tl);
	xclose(buf);
}

/* ---- main ---- */

static int run_role(int argc, char **argv)
{
	const char *role = argv[1] + 7;

	guard_start(60);
	page = (size_t)sysconf(_SC_PAGESIZE);
	rt_init(RT_SPAWN_FD);
	if (!strcmp(role, "scm-a") && argc == 3)
		return role_scm_a(argv[2]);
	if (!strcmp(role, "scm-b") && argc == 3)
		return role_scm_b(argv[2]);
	if (!strcmp(role, "exec") && argc == 5)
		return role_exec(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	rt_ok(0, "unknown role %s", role);
	return 2;
}

int main(int argc, char **argv)
{
	int fd;

	if (argc > 1 && !strncmp(argv[1], "--role=", 7))
		return run_role(argc, argv);
	guard_start(240);
	page = (size_t)sysconf(_SC_PAGESIZE);
	test_broker_setup();
	if (!getenv("DMABUFD"))
		diag("DMABUFD is not set: the library starts its installed dmabufd");
	is_str(dmabuf_fd_backend_name(), "broker", "the broker backend");
	fd = dmabuf_fd_heap_alloc("system", page, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		bail_out("no broker: heap alloc gives %s", strerror(-fd));
	close(fd);
	diag("private broker %d at %s", (int)test_broker_pid(), test_broker_socket());
	test_fork();
	test_scm();
	test_exec();
	buffer_lifetime(true);
	buffer_lifetime(false);
	sync_file_lifetime();
	timeline_last_fd();
	timeline_owner_killed();
	test_capability();
	test_heap_fd();
	test_broker_gone();
	stats_drop();
	return tap_done();
}

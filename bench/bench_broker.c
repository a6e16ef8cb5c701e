// SPDX-License-Identifier: MIT
/*
 * bench_broker.c - the broker backend (dmabufd, issue B1) against what it stands in for.
 *
 * Every row is compared with a floor measured in the same run:
 *  - fence signal -> waiter wake-up across processes: from the fence's signal timestamp
 *    (taken by the broker as it signals) to the waiter's return from dmabuf_fd_sync_wait(),
 *    against a futex wake-up between two processes (the kernel's own wake path);
 *  - export / import / merge round trips against a bare SOCK_SEQPACKET round trip to another
 *    process carrying one descriptor each way;
 *  - DMA_BUF_SYNC START+END on an idle heap buffer and a signaled sync_file's status query
 *    against an ioctl that fails with ENOTTY (one system call);
 *  - sharing a 1 GiB buffer against sharing a 1 KiB one;
 *  - the broker's VmRSS per live fence and per live buffer (reported, no goal).
 * The broker is a private one (DMABUFD_SOCKET in a fresh directory), started from the dmabufd
 * built next to this program unless $DMABUFD names another, and stopped at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dmabuf/fd.h>

#include "bench.h"
#include "raw_client.h"

#ifndef BENCH_DMABUFD
#define BENCH_DMABUFD "dmabufd"
#endif

#define RD DMABUF_FD_SYNC_READ
#define WR DMABUF_FD_SYNC_WRITE
#define RW DMABUF_FD_SYNC_RW
#define END DMABUF_FD_SYNC_END

#define SEC_WAKE "broker: fence signal -> wake-up across processes (latency)"
#define SEC_RT "broker: round trips"
#define SEC_FAST "broker: calls without a round trip"
#define SEC_SHARE "broker: sharing a buffer"

/* Row names: all contain "broker", so --filter broker selects them. */
static const char *const row_names[] = {
	"broker wake: fence signal -> sync_wait",
	"broker wake: inc() call -> sync_wait",
	"broker wake: pipe write -> poll",
	"broker export_sync_file + close",
	"broker import_sync_file",
	"broker sync_merge + close",
	"broker SYNC START+END, idle buffer",
	"broker sync_wait(0), signaled",
	"broker share 1 KiB buffer",
	"broker share 1 GiB buffer",
	"broker share 1 KiB, peer maps it",
	"broker share 1 GiB, peer maps it",
	"broker-less memfd 1 GiB map+touch+unmap",
	"broker memory",
};

static char bench_dir[64], bench_sock[128];
static pid_t broker_pid;
static size_t page;

/* ---- the private broker ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static int broker_start(char *why, size_t len)
{
	int tl, s;

	strcpy(bench_dir, "/tmp/dmabuf-bench-XXXXXX");
	if (!mkdtemp(bench_dir)) {
		snprintf(why, len, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	snprintf(bench_sock, sizeof(bench_sock), "%s/dmabufd.sock", bench_dir);
	setenv("DMABUFD_SOCKET", bench_sock, 1);
	setenv("LIBDMABUF_BACKEND", "broker", 1);
	if (!getenv("DMABUFD"))
		setenv("DMABUFD", BENCH_DMABUFD, 1);
	if (strcmp(dmabuf_fd_backend_name(), "broker")) {
		snprintf(why, len, "this process already uses the %s backend",
			 dmabuf_fd_backend_name());
		return -1;
	}
	tl = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	if (tl < 0) {
		snprintf(why, len, "no broker (%s; DMABUFD=%s)", strerror(-tl), getenv("DMABUFD"));
		return -1;
	}
	close(tl);
	s = raw_open(bench_sock, &broker_pid);
	if (s < 0) {
		snprintf(why, len, "no HELLO from the broker: %s", strerror(-s));
		return -1;
	}
	close(s);
	return 0;
}

static void broker_stop(void)
{
	broker_stop_at(bench_sock, 10000);
	nftw(bench_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- small helpers ---- */




/* Wait until process @pid sleeps (in the wait it announced): false after ~1 s. */
static bool wait_sleeping(pid_t pid)
{
	for (int i = 0; i < 100000; i++) {
		if (proc_state(pid) == 'S')
			return true;
		sched_yield();
	}
	return false;
}



static int64_t fence_timestamp(int fd)
{
	struct dmabuf_fd_sync_info *info;
	int64_t ts = -1;

	if (dmabuf_fd_sync_info(fd, &info))
		return -1;
	if (info->num_fences && info->fences[0].status == 1)
		ts = (int64_t)info->fences[0].timestamp_ns;
	dmabuf_fd_sync_info_free(info);
	return ts;
}

static bool any_selected(void)
{
	for (size_t i = 0; i < sizeof(row_names) / sizeof(row_names[0]); i++)
		if (bench_selected(row_names[i]))
			return true;
	return false;
}

/* ---- signal -> wake-up latency ---- */

enum wake_kind { WAKE_EXIT, WAKE_FUTEX, WAKE_BROKER, WAKE_PIPE };

/* Shared by this process (the signaler) and the waiter process. */
struct wake_ctl {
	_Atomic uint32_t cmd;		/* bumped for every sample */
	_Atomic uint32_t state;		/* the waiter: 1 about to wait, 2 woke */
	_Atomic uint32_t go;		/* the futex sample's word */
	uint32_t kind;
	uint32_t value;			/* the broker sample's point */
	int64_t t_wake;			/* the waiter's CLOCK_MONOTONIC after its wait */
	int64_t t_signal;		/* the fence's signal timestamp (broker samples) */
	int ret;
};

static void __attribute__((noreturn)) waiter_main(struct wake_ctl *c, int tl, int pipe_rd)
{
	uint32_t seen = 0;
	char byte;

	for (;;) {
		struct pollfd pfd = { pipe_rd, POLLIN, 0 };
		int f = -1;

		bench_futex_wait_while(&c->cmd, seen);
		seen = atomic_load(&c->cmd);
		c->ret = 0;
		switch (c->kind) {
		case WAKE_FUTEX:
			bench_futex_set(&c->state, 1);
			bench_futex_wait_while(&c->go, 0);
			c->t_wake = bench_now_ns();
			atomic_store(&c->go, 0);
			break;
		case WAKE_BROKER:
			f = dmabuf_fd_sw_fence_create(tl, c->value, "bench");
			bench_futex_set(&c->state, 1);
			c->ret = f < 0 ? f : dmabuf_fd_sync_wait(f, 5LL * 1000000000);
			c->t_wake = bench_now_ns();
			c->t_signal = f < 0 ? -1 : fence_timestamp(f);
			if (f >= 0)
				close(f);
			break;
		case WAKE_PIPE:
			bench_futex_set(&c->state, 1);
			c->ret = poll(&pfd, 1, 5000) == 1 ? 0 : -ETIME;
			c->t_wake = bench_now_ns();
			c->ret = read(pipe_rd, &byte, 1) == 1 ? c->ret : -EIO;
			break;
		default:
			_exit(0);
		}
		bench_futex_set(&c->state, 2);
	}
}

/* One sample of @kind: the latency in ns (and the inc request's in *@t_req), or -1. */
static int64_t wake_sample(struct wake_ctl *c, pid_t w, enum wake_kind kind, int tl,
			   uint32_t *value, int pipe_wr, int64_t *t_req)
{
	int64_t t0;

	c->kind = kind;
	c->value = *value + 1;
	atomic_store(&c->state, 0);
	bench_futex_set(&c->cmd, atomic_load(&c->cmd) + 1);
	bench_futex_wait_while(&c->state, 0);
	if (!wait_sleeping(w))
		return -1;
	t0 = bench_now_ns();
	switch (kind) {
	case WAKE_FUTEX:
		bench_futex_set(&c->go, 1);
		break;
	case WAKE_BROKER:
		if (dmabuf_fd_sw_timeline_inc(tl, 1))
			return -1;
		++*value;
		break;
	case WAKE_PIPE:
		if (write(pipe_wr, "x", 1) != 1)
			return -1;
		break;
	default:
		return -1;
	}
	bench_futex_wait_while(&c->state, 1);
	if (c->ret)
		return -1;
	if (kind == WAKE_BROKER) {
		*t_req = c->t_wake - t0;
		return c->t_signal > 0 ? c->t_wake - c->t_signal : -1;
	}
	return c->t_wake - t0;
}

static void latency_row(const char *name, int64_t *v, unsigned int n, const char *floor_key,
			double floor_ns, enum bench_goal_kind goal, double goal_value,
			const char *note)
{
	struct bench_row r = {
		.section = SEC_WAKE, .floor = floor_key, .floor_ns = floor_ns,
		.goal = goal, .goal_value = goal_value,
	};
	double p10 = bench_quantile(v, n, 0.1), p90 = bench_quantile(v, n, 0.9);

	snprintf(r.name, sizeof(r.name), "%s", name);
	r.ns = bench_quantile(v, n, 0.5);
	r.spread_pct = r.ns > 0 ? 100.0 * (p90 - p10) / r.ns : 0;
	snprintf(r.note, sizeof(r.note), "%s; p90 %.1f us; %u samples", note, p90 / 1e3, n);
	bench_add_row(&r);
}

static void bench_wake(void)
{
	unsigned int n = bench_opts.quick ? 41 : 201, got = 0, i;
	int64_t *lat_futex = calloc(n, sizeof(int64_t)), *lat_broker = calloc(n, sizeof(int64_t));
	int64_t *lat_req = calloc(n, sizeof(int64_t)), *lat_pipe = calloc(n, sizeof(int64_t));
	struct wake_ctl *c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int tl = dmabuf_fd_sw_timeline_create(O_CLOEXEC), p[2] = { -1, -1 };
	uint32_t value = 0;
	double futex_ns;
	pid_t w = -1;

	if (!lat_futex || !lat_broker || !lat_req || !lat_pipe || c == MAP_FAILED || tl < 0 ||
	    pipe2(p, O_CLOEXEC)) {
		bench_add_skipped(SEC_WAKE, row_names[0], "setup failed");
		goto out;
	}
	memset(c, 0, sizeof(*c));
	fflush(stdout);
	w = fork();
	if (w == 0)
		waiter_main(c, tl, p[0]);
	for (i = 0; i < n; i++) {
		int64_t a = wake_sample(c, w, WAKE_FUTEX, tl, &value, p[1], NULL), req = -1;
		int64_t b = wake_sample(c, w, WAKE_BROKER, tl, &value, p[1], &req);
		int64_t d = wake_sample(c, w, WAKE_PIPE, tl, &value, p[1], NULL);

		if (a < 0 || b < 0 || d < 0)
			continue;
		lat_futex[got] = a;
		lat_broker[got] = b;
		lat_req[got] = req;
		lat_pipe[got++] = d;
	}
	if (got < n / 2) {
		bench_add_skipped(SEC_WAKE, row_names[0], "the waiter did not answer");
		goto out;
	}
	futex_ns = bench_quantile(lat_futex, got, 0.5);
	if (bench_selected(row_names[0]))
		latency_row(row_names[0], lat_broker, got, "futex wake", futex_ns,
			    BENCH_GOAL_RATIO_MAX, 1.3, "fence timestamp -> sync_wait returns");
	if (bench_selected(row_names[1]))
		latency_row(row_names[1], lat_req, got, "futex wake", futex_ns, BENCH_GOAL_NONE,
			    0, "inc() called -> sync_wait returns");
	if (bench_selected(row_names[2]))
		latency_row(row_names[2], lat_pipe, got, "futex wake", futex_ns, BENCH_GOAL_NONE,
			    0, "write() called -> poll returns: the broker's mechanism");
out:
	if (w > 0) {
		c->kind = WAKE_EXIT;
		bench_futex_set(&c->cmd, atomic_load(&c->cmd) + 1);
		waitpid(w, NULL, 0);
	}
	if (c != MAP_FAILED)
		munmap(c, sizeof(*c));
	if (tl >= 0)
		close(tl);
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	free(lat_futex);
	free(lat_broker);
	free(lat_req);
	free(lat_pipe);
}

/* ---- the peer process: echoes a descriptor, or maps a shared buffer ---- */

enum peer_op { PEER_ECHO = 1, PEER_TAKE = 2, PEER_MAP = 3, PEER_EXIT = 4 };

struct peer_msg {
	uint32_t op;
	uint32_t pad;
	uint64_t size;
};

static void __attribute__((noreturn)) peer_main(int s)
{
	struct peer_msg m;
	int fds[4], n;

	for (;;) {
		ssize_t len = raw_recv(s, &m, sizeof(m), fds, 4, &n, -1);

		if (len != sizeof(m) || m.op == PEER_EXIT)
			_exit(0);
		if (m.op == PEER_ECHO && n >= 1) {
			raw_send(s, &m, sizeof(m), fds, 1);
		} else if (m.op == PEER_TAKE) {
			m.pad = n != 1;
			raw_send(s, &m, sizeof(m), NULL, 0);
		} else if (m.op == PEER_MAP && n == 1) {
			char *p = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);

			m.pad = p == MAP_FAILED;
			if (p != MAP_FAILED) {
				p[0] = 1;
				munmap(p, m.size);
			}
			raw_send(s, &m, sizeof(m), NULL, 0);
		}
		raw_close_fds(fds, n);
	}
}

struct rt_arg {
	int sock;	/* to the peer */
	int buf;	/* an idle heap buffer */
	int buf2;	/* another, for imports */
	int sig;	/* a signaled sync_file */
	int a, b;	/* pending sync_files on two timelines */
	int notty;	/* a descriptor for the ENOTTY ioctl */
	int failed;
};

/* Floor: one datagram with one descriptor there, one back, and close what came back. */
static void run_seqpacket(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;
	struct peer_msg m = { PEER_ECHO, 0, 0 };
	int fd, n;

	for (uint64_t i = 0; i < iters; i++) {
		raw_send(r->sock, &m, sizeof(m), &r->buf, 1);
		if (raw_recv(r->sock, &m, sizeof(m), &fd, 1, &n, -1) != sizeof(m) || n != 1) {
			r->failed++;
			continue;
		}
		close(fd);
	}
}

static const struct bench_floor floor_seqpacket = {
	"seqpacket+fd", "SOCK_SEQPACKET round trip, one fd each way", run_seqpacket,
};

static void run_export(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++) {
		int e = dmabuf_fd_buf_export_sync_file(r->buf, RD);

		if (e < 0)
			r->failed++;
		else
			close(e);
	}
}

static void run_import(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++)
		if (dmabuf_fd_buf_import_sync_file(r->buf2, WR, r->sig))
			r->failed++;
}

static void run_merge(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++) {
		int m = dmabuf_fd_sync_merge("", r->a, r->b);

		if (m < 0)
			r->failed++;
		else
			close(m);
	}
}

/* Floor: one system call that fails at once (an ioctl no file implements). */
static void run_notty(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++)
		if (ioctl(r->notty, _IO('b', 0x7f)) != -1 || errno != ENOTTY)
			r->failed++;
}

static const struct bench_floor floor_notty = {
	"ioctl ENOTTY", "ioctl() failing with ENOTTY", run_notty,
};

static void run_sync(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++)
		if (dmabuf_fd_buf_sync(r->buf, RW) || dmabuf_fd_buf_sync(r->buf, RW | END))
			r->failed++;
}

static void run_status(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++)
		if (dmabuf_fd_sync_wait(r->sig, 0))
			r->failed++;
}

/*
 * Share a new buffer of @size: allocate, send it to the peer, close ours; the peer closes it
 * (@map false) or first maps it, writes its first byte and unmaps it (@map true).
 */
static void share_once(struct rt_arg *r, uint64_t size, bool map)
{
	struct peer_msg m = { map ? PEER_MAP : PEER_TAKE, 0, size };
	int fd = dmabuf_fd_heap_alloc("system", size, O_RDWR | O_CLOEXEC, 0), n;

	if (fd < 0) {
		r->failed++;
		return;
	}
	raw_send(r->sock, &m, sizeof(m), &fd, 1);
	close(fd);
	if (raw_recv(r->sock, &m, sizeof(m), NULL, 0, &n, -1) != sizeof(m) || m.pad)
		r->failed++;
}

static void run_share_small(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++)
		share_once(arg, 1024, false);
}

static void run_share(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++)
		share_once(arg, 1ULL << 30, false);
}

static void run_share_small_map(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++)
		share_once(arg, 1024, true);
}

static void run_share_map(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++)
		share_once(arg, 1ULL << 30, true);
}

static const struct bench_floor floor_share_small = {
	"share 1 KiB", "share a 1 KiB buffer", run_share_small,
};

static const struct bench_floor floor_share_small_map = {
	"share+map 1 KiB", "share a 1 KiB buffer, the peer maps it", run_share_small_map,
};

/* Without any broker: a memfd of @size, mapped, its first byte written, unmapped. */
static void memfd_map_once(struct rt_arg *r, uint64_t size)
{
	int fd = memfd_create("bench-map", MFD_CLOEXEC);
	char *p;

	if (fd < 0 || ftruncate(fd, (off_t)size)) {
		r->failed++;
		goto out;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		r->failed++;
		goto out;
	}
	p[0] = 1;
	munmap(p, size);
out:
	if (fd >= 0)
		close(fd);
}

static void run_memfd_small(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++)
		memfd_map_once(arg, 4096);
}

static void run_memfd_big(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++)
		memfd_map_once(arg, 1ULL << 30);
}

static const struct bench_floor floor_memfd_small = {
	"memfd 4 KiB map", "memfd of 4 KiB: map, touch, unmap", run_memfd_small,
};

static void timed(const char *section, const char *name, bench_run_fn run,
		  const struct bench_floor *floor, unsigned int ops, struct rt_arg *r,
		  enum bench_goal_kind goal, double goal_value, const char *note)
{
	struct bench_spec spec = {
		.name = name, .run = run, .arg = r, .floor = floor, .ops_per_iter = ops,
	};
	struct bench_stats st;
	char buf[112];

	if (!bench_selected(name))
		return;
	r->failed = 0;
	if (bench_measure(&spec, &st)) {
		bench_add_skipped(section, name, "setup failed");
		return;
	}
	if (r->failed) {
		snprintf(buf, sizeof(buf), "%d calls failed", r->failed);
		bench_add_skipped(section, name, buf);
		return;
	}
	bench_add_timed(section, &spec, &st, goal, goal_value, note);
}

static void bench_calls(void)
{
	struct rt_arg r = { .sock = -1 };
	int sv[2], t1 = -1, t2 = -1, t0 = -1;
	pid_t peer = -1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return;
	fflush(stdout);
	peer = fork();
	if (peer == 0) {
		close(sv[0]);
		peer_main(sv[1]);
	}
	close(sv[1]);
	r.sock = sv[0];
	r.buf = dmabuf_fd_heap_alloc("system", page, O_RDWR | O_CLOEXEC, 0);
	r.buf2 = dmabuf_fd_heap_alloc("system", page, O_RDWR | O_CLOEXEC, 0);
	t0 = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	t1 = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	t2 = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	r.sig = dmabuf_fd_sw_fence_create(t0, 0, "signaled");
	r.a = dmabuf_fd_sw_fence_create(t1, 1, "a");
	r.b = dmabuf_fd_sw_fence_create(t2, 1, "b");
	r.notty = memfd_create("bench-notty", MFD_CLOEXEC);
	if (r.buf < 0 || r.buf2 < 0 || r.sig < 0 || r.a < 0 || r.b < 0 || r.notty < 0) {
		bench_add_skipped(SEC_RT, "broker round trips", "setup failed");
		goto out;
	}
	timed(SEC_RT, row_names[3], run_export, &floor_seqpacket, 1, &r, BENCH_GOAL_RATIO_MAX,
	      2.0, "1 fd there, 1 back; close() releases it in the broker");
	timed(SEC_RT, row_names[4], run_import, &floor_seqpacket, 1, &r, BENCH_GOAL_RATIO_MAX,
	      2.0, "2 fds there, none back; a signaled fence");
	timed(SEC_RT, row_names[5], run_merge, &floor_seqpacket, 1, &r, BENCH_GOAL_RATIO_MAX,
	      2.0, "2 fds there, 1 back; two pending fences");
	timed(SEC_FAST, row_names[6], run_sync, &floor_notty, 2, &r, BENCH_GOAL_RATIO_MAX, 3.0,
	      "per call; coherent heap buffer, no fences");
	timed(SEC_FAST, row_names[7], run_status, &floor_notty, 1, &r, BENCH_GOAL_RATIO_MAX, 3.0,
	      "poll() of the pipe");
	timed(SEC_SHARE, row_names[8], run_share_small, &floor_seqpacket, 1, &r, BENCH_GOAL_NONE,
	      0, "alloc, SCM_RIGHTS to the peer, both close");
	timed(SEC_SHARE, row_names[9], run_share, &floor_share_small, 1, &r, BENCH_GOAL_RATIO_MAX,
	      1.1, "the same with 1 GiB: goal within 10 %");
	timed(SEC_SHARE, row_names[10], run_share_small_map, &floor_seqpacket, 1, &r,
	      BENCH_GOAL_NONE, 0, "alloc, SCM_RIGHTS, peer mmaps, writes a byte, unmaps");
	timed(SEC_SHARE, row_names[11], run_share_map, &floor_share_small_map, 1, &r,
	      BENCH_GOAL_NONE, 0, "the same with 1 GiB");
	timed(SEC_SHARE, row_names[12], run_memfd_big, &floor_memfd_small, 1, &r,
	      BENCH_GOAL_NONE, 0, "no broker: what mapping 1 GiB costs the kernel");
out:
	if (peer > 0) {
		struct peer_msg m = { PEER_EXIT, 0, 0 };

		raw_send(r.sock, &m, sizeof(m), NULL, 0);
		waitpid(peer, NULL, 0);
	}
	close(r.sock);
	for (int *fd = (int[]){ r.buf, r.buf2, r.sig, r.a, r.b, r.notty, t0, t1, t2, -2 };
	     *fd != -2; fd++)
		if (*fd >= 0)
			close(*fd);
}

/* ---- the broker's memory per object ---- */

/* Meminfo's Slab value, kB (machine-wide: other processes move it too). */
static long slab_kb(void)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Slab:", 5))
			v = strtol(line + 5, NULL, 10);
	fclose(f);
	return v;
}

static void mem_row(const char *name, unsigned int made, long rss0, long rss1, long slab0,
		    long slab1)
{
	struct bench_mem_row m = { .sizeof_bytes = -1 };
	double slab = made && slab0 >= 0 ? (double)(slab1 - slab0) * 1024 / made : -1;

	snprintf(m.name, sizeof(m.name), "%s", name);
	m.heap_bytes = made ? (double)(rss1 - rss0) * 1024 / made : -1;
	if (slab >= 0)
		snprintf(m.note, sizeof(m.note),
			 "broker VmRSS delta over %u; kernel slab ~%.0f B/obj (machine-wide)", made,
			 slab);
	else
		snprintf(m.note, sizeof(m.note),
			 "broker VmRSS delta over %u; kernel slab: lost in others' noise", made);
	bench_add_mem(&m);
}

static void bench_memory_per_object(void)
{
	unsigned int want = bench_opts.quick ? 2000 : 10000, i, made;
	int *fds = calloc(want, sizeof(int)), tl = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	struct rlimit rl;
	long rss0, rss1, slab0, slab1;

	if (!fds || tl < 0 || !bench_selected(row_names[13]))
		goto out;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < want + 64 &&
	    rl.rlim_max > rl.rlim_cur) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < want + 64)
		want = rl.rlim_cur > 128 ? (unsigned int)rl.rlim_cur - 64 : 0;

	rss0 = proc_status_kb(broker_pid, "VmRSS:");
	slab0 = slab_kb();
	for (made = 0; made < want; made++) {
		fds[made] = dmabuf_fd_sw_fence_create(tl, made + 1, "mem");
		if (fds[made] < 0)
			break;
	}
	rss1 = proc_status_kb(broker_pid, "VmRSS:");
	slab1 = slab_kb();
	mem_row("broker: live fence (pending sync_file)", made, rss0, rss1, slab0, slab1);
	for (i = 0; i < made; i++)
		close(fds[i]);

	rss0 = proc_status_kb(broker_pid, "VmRSS:");
	slab0 = slab_kb();
	for (made = 0; made < want; made++) {
		fds[made] = dmabuf_fd_heap_alloc("system", page, O_RDWR | O_CLOEXEC, 0);
		if (fds[made] < 0)
			break;
	}
	rss1 = proc_status_kb(broker_pid, "VmRSS:");
	slab1 = slab_kb();
	mem_row("broker: live buffer (1 page, unmapped)", made, rss0, rss1, slab0, slab1);
	for (i = 0; i < made; i++)
		close(fds[i]);
out:
	if (tl >= 0)
		close(tl);
	free(fds);
}

void bench_run_broker(void)
{
	char why[160];

	if (!any_selected())
		return;
	page = (size_t)sysconf(_SC_PAGESIZE);
	if (broker_start(why, sizeof(why))) {
		bench_add_skipped(SEC_WAKE, "broker benchmarks", why);
		return;
	}
	bench_wake();
	bench_calls();
	bench_memory_per_object();
	broker_stop();
}

// SPDX-License-Identifier: MIT
/*
 * bench_shim.c - dmabuf-bench-shim: the preload library (dmabuf-run, issue B2) timed from
 * an unmodified program.
 *
 * The program talks to the kernel's uAPI (<linux/dma-buf.h>, <linux/dma-heap.h>,
 * <linux/sync_file.h>, sw_sync's private ABI) through libc only, as an application does, and
 * is meant to run under dmabuf-run; the timing harness (harness.c) is libc only as well.
 * Every row is a ratio to a floor measured in the same run:
 *  - a process blocked in poll() on a sw_sync sync_file, woken by another process's
 *    SW_SYNC_IOC_INC, against a pipe ping-pong between the same two processes (one byte
 *    written, the other side's poll() returns), sampled alternately;
 *  - DMA_BUF_IOCTL_SYNC START+END on an idle heap buffer against an ioctl that the kernel
 *    fails with ENOTTY, issued with syscall() so that the library never sees it; what the
 *    library adds to ioctl() on descriptors that are not its own are rows of their own;
 *  - EXPORT_SYNC_FILE, IMPORT_SYNC_FILE and SYNC_IOC_MERGE against a SOCK_SEQPACKET round
 *    trip (system calls, no libc wrappers) carrying one descriptor to another process, which
 *    answers with one;
 *  - start-up: fork, exec and wait of `true`, `LD_PRELOAD=<library> true`,
 *    `dmabuf-run -- true` and `dmabuf-run --version` (the launcher's own exec), interleaved.
 * Run without dmabuf-run on a kernel that has the drivers, the same program times the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/futex.h>
#include <linux/sync_file.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "proc_stat.h"

#ifndef BENCH_DMABUF_RUN
#define BENCH_DMABUF_RUN "dmabuf-run"
#endif
#ifndef BENCH_PRELOAD
#define BENCH_PRELOAD "libdmabuf-preload.so"
#endif

/* sw_sync's private ABI: the test driver ships no uAPI header. */
struct sw_sync_create_fence_data {
	__u32 value;
	char name[32];
	__s32 fence;
};

#define SW_SYNC_IOC_CREATE_FENCE _IOWR('W', 0, struct sw_sync_create_fence_data)
#define SW_SYNC_IOC_INC _IOW('W', 1, __u32)

/* A request no file implements, of a type outside the dma-buf uAPI's. */
#define BOGUS_REQ _IO(0xfe, 0x7f)

#define SEC_WAKE "sync_file poll() wake-up across processes (latency)"
#define SEC_IOCTL "ioctls answered in the process"
#define SEC_RT "ioctls that make or take a descriptor, vs a Unix-socket round trip"
#define SEC_START "start-up: fork + exec + waitpid of true"

static const char *const row_names[] = {
	"wake: SW_SYNC_IOC_INC -> poll returns",
	"wake: SW_SYNC_IOC_INC -> fence signaled",
	"wake: fence signaled -> poll returns",
	"wake: pipe write -> poll returns",
	"DMA_BUF_IOCTL_SYNC START+END, idle buffer",
	"ioctl() ENOTTY, /dev/null (pass-through)",
	"ioctl() DMA_BUF_IOCTL_SYNC, /dev/null",
	"ioctl() DMA_BUF_IOCTL_SYNC, a pipe",
	"DMA_BUF_IOCTL_EXPORT_SYNC_FILE + close",
	"DMA_BUF_IOCTL_IMPORT_SYNC_FILE",
	"SYNC_IOC_MERGE + close",
	"seqpacket+fd via libc, /dev/null",
	"seqpacket+fd via libc, a memfd",
	"start-up: true",
	"start-up: LD_PRELOAD=<library> true",
	"start-up: dmabuf-run -- true",
	"start-up: dmabuf-run --version",
	"start-up: LD_PRELOAD overhead",
	"start-up: dmabuf-run overhead",
};

enum {
	ROW_WAKE_INC, ROW_WAKE_REQUEST, ROW_WAKE_SIGNALED, ROW_WAKE_PIPE, ROW_SYNC, ROW_PASS, ROW_UAPI_NULL,
	ROW_UAPI_PIPE, ROW_EXPORT, ROW_IMPORT, ROW_MERGE, ROW_LIBC_NULL, ROW_LIBC_MEMFD,
	ROW_START_TRUE, ROW_START_PRELOAD, ROW_START_RUN, ROW_START_VERSION,
	ROW_START_PRELOAD_OVER, ROW_START_RUN_OVER, NROWS,
};

_Static_assert(sizeof(row_names) / sizeof(row_names[0]) == NROWS, "a name for every row");

static const char *opt_run = BENCH_DMABUF_RUN;
static const char *opt_preload;
static size_t page;

/* ---- helpers ---- */

static bool any_selected(int first, int last)
{
	for (int i = first; i <= last; i++)
		if (bench_selected(row_names[i]))
			return true;
	return false;
}







/* A new sw_sync timeline, where the kernel (or the library) offers one: fd or -errno. */
static int timeline_open(void)
{
	int fd = open("/sys/kernel/debug/sync/sw_sync", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fd = open("/dev/sw_sync", O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* A sync_file of point @value on @tl: fd or -errno. */
static int fence_create(int tl, uint32_t value, const char *name)
{
	struct sw_sync_create_fence_data d = { .value = value };

	snprintf(d.name, sizeof(d.name), "%s", name);
	return ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, &d) ? -errno : d.fence;
}

/* A buffer of @len bytes from the system heap: fd or -errno. */
static int heap_alloc(size_t len)
{
	struct dma_heap_allocation_data d = {
		.len = len, .fd_flags = O_RDWR | O_CLOEXEC,
	};
	int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC), ret;

	if (heap < 0)
		return -errno;
	ret = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) ? -errno : (int)d.fd;
	close(heap);
	return ret;
}

/* The signal timestamp of the single fence of sync_file @fd (CLOCK_MONOTONIC), or -1. */
static int64_t fence_timestamp(int fd)
{
	struct sync_fence_info f = { 0 };
	struct sync_file_info info = {
		.num_fences = 1, .sync_fence_info = (__u64)(uintptr_t)&f,
	};

	if (ioctl(fd, SYNC_IOC_FILE_INFO, &info) || info.num_fences != 1 || f.status != 1)
		return -1;
	return (int64_t)f.timestamp_ns;
}

/* ---- wake-up latency ---- */

enum wake_kind { WAKE_EXIT, WAKE_FENCE, WAKE_PIPE };

/* Shared by this process (the signaler) and the waiter process. */
struct wake_ctl {
	_Atomic uint32_t cmd;		/* bumped for every sample */
	_Atomic uint32_t state;		/* the waiter: 1 about to poll, 2 done */
	uint32_t kind;
	uint32_t value;			/* the point the waiter's fence waits for */
	int64_t t_wake;			/* the waiter's clock as poll() returned */
	int64_t t_signal;		/* the fence's signal timestamp */
	int ret;
};

static int wait_fence(struct wake_ctl *c, int tl)
{
	struct pollfd p = { .events = POLLIN };
	int ret;

	p.fd = fence_create(tl, c->value, "bench");
	bench_futex_set(&c->state, 1);
	if (p.fd < 0)
		return p.fd;
	ret = poll(&p, 1, 5000);
	c->t_wake = bench_now_ns();
	ret = ret == 1 && p.revents == POLLIN ? 0 : -ETIME;
	c->t_signal = fence_timestamp(p.fd);
	close(p.fd);
	return ret;
}

static int wait_pipe(struct wake_ctl *c, int rd)
{
	struct pollfd p = { .fd = rd, .events = POLLIN };
	char byte;
	int ret;

	bench_futex_set(&c->state, 1);
	ret = poll(&p, 1, 5000);
	c->t_wake = bench_now_ns();
	ret = ret == 1 && p.revents == POLLIN ? 0 : -ETIME;
	if (read(rd, &byte, 1) != 1)
		ret = -EIO;
	return ret;
}

static void __attribute__((noreturn)) waiter_main(struct wake_ctl *c, int tl, int rd)
{
	uint32_t seen = 0;

	for (;;) {
		bench_futex_wait_while(&c->cmd, seen);
		seen = atomic_load(&c->cmd);
		switch (c->kind) {
		case WAKE_FENCE:
			c->ret = wait_fence(c, tl);
			break;
		case WAKE_PIPE:
			c->ret = wait_pipe(c, rd);
			break;
		default:
			_exit(0);
		}
		bench_futex_set(&c->state, 2);
	}
}

/* Wait until the waiter sleeps (in its poll()): false after ~1 s or if it gave up. */
static bool wait_sleeping(struct wake_ctl *c, pid_t pid)
{
	for (int i = 0; i < 100000 && atomic_load(&c->state) == 1; i++) {
		if (proc_state(pid) == 'S')
			return true;
		sched_yield();
	}
	return false;
}

/*
 * One sample of @kind: the ns from just before the signaler's INC (or write) to the waiter's
 * return from poll(), or -1; *@t_fence receives the fence's signal timestamp - that start.
 */
static int64_t wake_sample(struct wake_ctl *c, pid_t w, enum wake_kind kind, int tl, int wr,
			   uint32_t *value, int64_t *t_fence)
{
	uint32_t one = 1;
	bool asleep;
	int64_t t0;
	int ret;

	c->kind = kind;
	c->value = *value + 1;
	atomic_store(&c->state, 0);
	bench_futex_set(&c->cmd, atomic_load(&c->cmd) + 1);
	bench_futex_wait_while(&c->state, 0);
	asleep = wait_sleeping(c, w);
	t0 = bench_now_ns();
	if (kind == WAKE_FENCE) {
		ret = ioctl(tl, SW_SYNC_IOC_INC, &one);
		if (!ret)
			++*value;
	} else {
		ret = write(wr, "x", 1) == 1 ? 0 : -1;
	}
	bench_futex_wait_while(&c->state, 1);
	if (ret || c->ret || !asleep)
		return -1;
	if (t_fence)
		*t_fence = c->t_signal > 0 ? c->t_signal - t0 : -1;
	return c->t_wake - t0;
}

static void latency_row(int row, const char *section, int64_t *v, unsigned int n,
			const char *floor_key, double floor_ns, enum bench_goal_kind goal,
			double goal_value, const char *note)
{
	struct bench_row r = {
		.section = section, .floor = floor_key, .floor_ns = floor_ns,
		.goal = goal, .goal_value = goal_value,
	};
	double p10 = bench_quantile(v, n, 0.1), p90 = bench_quantile(v, n, 0.9);

	if (!bench_selected(row_names[row]))
		return;
	snprintf(r.name, sizeof(r.name), "%s", row_names[row]);
	r.ns = bench_quantile(v, n, 0.5);
	r.spread_pct = r.ns > 0 ? 100.0 * (p90 - p10) / r.ns : 0;
	snprintf(r.note, sizeof(r.note), "%s; p10 %.1f us, p90 %.1f us; %u samples", note,
		 p10 / 1e3, p90 / 1e3, n);
	bench_add_row(&r);
}

static void bench_wake(void)
{
	unsigned int n = bench_opts.quick ? 41 : 201, got = 0, got_sig = 0, bad = 0;
	int64_t *lat_inc = calloc(n, sizeof(int64_t)), *lat_sig = calloc(n, sizeof(int64_t));
	int64_t *lat_pipe = calloc(n, sizeof(int64_t)), *lat_req = calloc(n, sizeof(int64_t));
	struct wake_ctl *c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int tl = -1, p[2] = { -1, -1 };
	uint32_t value = 0;
	char why[96];
	double pipe_ns;
	pid_t w = -1;

	if (!any_selected(ROW_WAKE_INC, ROW_WAKE_PIPE))
		goto out;
	tl = timeline_open();
	if (tl < 0) {
		snprintf(why, sizeof(why), "open of the sw_sync timeline: %s", strerror(-tl));
		bench_add_skipped(SEC_WAKE, row_names[ROW_WAKE_INC], why);
		goto out;
	}
	if (!lat_inc || !lat_sig || !lat_pipe || !lat_req || c == MAP_FAILED || pipe2(p, O_CLOEXEC)) {
		bench_add_skipped(SEC_WAKE, row_names[ROW_WAKE_INC], "setup failed");
		goto out;
	}
	memset(c, 0, sizeof(*c));
	fflush(stdout);
	w = fork();
	if (w == 0)
		waiter_main(c, tl, p[0]);
	for (unsigned int i = 0; i < n; i++) {
		int64_t sig = -1, a, b;

		/* alternate which kind goes first, so that neither always follows the other */
		if (i & 1) {
			b = wake_sample(c, w, WAKE_PIPE, tl, p[1], &value, NULL);
			a = wake_sample(c, w, WAKE_FENCE, tl, p[1], &value, &sig);
		} else {
			a = wake_sample(c, w, WAKE_FENCE, tl, p[1], &value, &sig);
			b = wake_sample(c, w, WAKE_PIPE, tl, p[1], &value, NULL);
		}
		if (a < 0 || b < 0) {
			bad++;
			continue;
		}
		if (sig >= 0) {
			lat_req[got_sig] = sig;
			lat_sig[got_sig++] = a - sig;
		}
		lat_inc[got] = a;
		lat_pipe[got++] = b;
	}
	if (got < n / 2) {
		snprintf(why, sizeof(why), "%u of %u samples failed (last waiter result %d)", bad,
			 n, c->ret);
		bench_add_skipped(SEC_WAKE, row_names[ROW_WAKE_INC], why);
		goto out;
	}
	pipe_ns = bench_quantile(lat_pipe, got, 0.5);
	latency_row(ROW_WAKE_INC, SEC_WAKE, lat_inc, got, "pipe wake", pipe_ns,
		    BENCH_GOAL_RATIO_MAX, 2.5, "INC called -> poll() returns");
	if (got_sig >= got / 2) {
		latency_row(ROW_WAKE_REQUEST, SEC_WAKE, lat_req, got_sig, "pipe wake", pipe_ns,
			    BENCH_GOAL_NONE, 0, "INC called -> FILE_INFO timestamp");
		latency_row(ROW_WAKE_SIGNALED, SEC_WAKE, lat_sig, got_sig, "pipe wake", pipe_ns,
			    BENCH_GOAL_NONE, 0, "FILE_INFO timestamp -> poll() returns");
	} else {
		bench_add_skipped(SEC_WAKE, row_names[ROW_WAKE_SIGNALED],
				  "SYNC_IOC_FILE_INFO gave no signal timestamp");
	}
	latency_row(ROW_WAKE_PIPE, SEC_WAKE, lat_pipe, got, "pipe wake", pipe_ns,
		    BENCH_GOAL_FLOOR, 0, "write() called -> poll() returns");
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
	free(lat_inc);
	free(lat_sig);
	free(lat_pipe);
	free(lat_req);
}

/* ---- the peer: answers every datagram with the descriptor it carried ---- */

/* One datagram of @m with descriptor @fd (if >= 0): system call, or libc's sendmsg(). */
static ssize_t send_fd(int s, int *m, int fd, bool raw)
{
	char cbuf[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8))) = { 0 };
	struct iovec iov = { m, sizeof(*m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return raw ? syscall(SYS_sendmsg, s, &msg, 0) : sendmsg(s, &msg, 0);
}

/* Receive one datagram into @m; *@fd gets its descriptor or -1.  Bytes or -1. */
static ssize_t recv_fd(int s, int *m, int *fd, bool raw)
{
	char cbuf[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8)));
	struct iovec iov = { m, sizeof(*m) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	n = raw ? syscall(SYS_recvmsg, s, &msg, MSG_CMSG_CLOEXEC) :
		  recvmsg(s, &msg, MSG_CMSG_CLOEXEC);
	cm = n < 0 ? NULL : CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return n;
}

/* System calls only: the floor is the kernel's transport, not the library's wrappers. */
static void __attribute__((noreturn)) peer_main(int s)
{
	int m, fd;

	while (recv_fd(s, &m, &fd, true) == sizeof(m) && m) {
		send_fd(s, &m, fd, true);
		if (fd >= 0)
			syscall(SYS_close, fd);
	}
	_exit(0);
}

struct rt_arg {
	int sock;	/* to the peer */
	int null;	/* /dev/null */
	int memfd;	/* an ordinary memfd */
	int pipe;	/* the read end of an ordinary pipe */
	int buf;	/* an idle heap buffer */
	int buf2;	/* another, for imports */
	int sig;	/* a signaled sync_file */
	int a, b;	/* pending sync_files on two timelines */
	int failed;
	int err;	/* errno of the last failure */
};

static void fail(struct rt_arg *r)
{
	r->failed++;
	r->err = errno;
}

static void round_trip(struct rt_arg *r, int fd, bool raw)
{
	int m = 1, back;

	if (send_fd(r->sock, &m, fd, raw) != sizeof(m) ||
	    recv_fd(r->sock, &m, &back, raw) != sizeof(m) || back < 0) {
		fail(r);
		return;
	}
	if (raw)
		syscall(SYS_close, back);
	else
		close(back);
}

/* Floor: one datagram with one descriptor there, one back, close what came back. */
static void run_seqpacket(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++)
		round_trip(r, r->null, true);
}

static const struct bench_floor floor_seqpacket = {
	"seqpacket+fd", "SOCK_SEQPACKET round trip, one fd each way (system calls)",
	run_seqpacket,
};

static void run_libc_null(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++)
		round_trip(r, r->null, false);
}

static void run_libc_memfd(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++)
		round_trip(r, r->memfd, false);
}

static void run_export(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++) {
		struct dma_buf_export_sync_file x = { .flags = DMA_BUF_SYNC_READ, .fd = -1 };

		if (ioctl(r->buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &x))
			fail(r);
		else
			close(x.fd);
	}
}

static void run_import(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++) {
		struct dma_buf_import_sync_file x = { .flags = DMA_BUF_SYNC_WRITE, .fd = r->sig };

		if (ioctl(r->buf2, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &x))
			fail(r);
	}
}

static void run_merge(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++) {
		struct sync_merge_data m = { .name = "merged", .fd2 = r->b };

		if (ioctl(r->a, SYNC_IOC_MERGE, &m))
			fail(r);
		else
			close(m.fence);
	}
}

/* Floor: the kernel alone fails an ioctl (the library's ioctl() is not called). */
static void run_notty(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++)
		if (syscall(SYS_ioctl, r->null, BOGUS_REQ, 0) != -1 || errno != ENOTTY)
			fail(r);
}

static const struct bench_floor floor_notty = {
	"ioctl ENOTTY", "syscall(SYS_ioctl) failing with ENOTTY", run_notty,
};

static void run_pass(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++)
		if (ioctl(r->null, BOGUS_REQ, 0) != -1 || errno != ENOTTY)
			fail(r);
}

static void uapi_notty(struct rt_arg *r, int fd, uint64_t iters)
{
	struct dma_buf_sync s = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };

	for (uint64_t i = 0; i < iters; i++)
		if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) != -1 || errno != ENOTTY)
			fail(r);
}

static void run_uapi_null(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	uapi_notty(r, r->null, iters);
}

static void run_uapi_pipe(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	uapi_notty(r, r->pipe, iters);
}

static void run_sync(void *arg, uint64_t iters)
{
	struct rt_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++) {
		struct dma_buf_sync s = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };

		if (ioctl(r->buf, DMA_BUF_IOCTL_SYNC, &s))
			fail(r);
		s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
		if (ioctl(r->buf, DMA_BUF_IOCTL_SYNC, &s))
			fail(r);
	}
}

static void timed(const char *section, int row, bench_run_fn run,
		  const struct bench_floor *floor, unsigned int ops, struct rt_arg *r,
		  enum bench_goal_kind goal, double goal_value, const char *note)
{
	struct bench_spec spec = {
		.name = row_names[row], .run = run, .arg = r, .floor = floor,
		.ops_per_iter = ops,
	};
	struct bench_stats st;
	char buf[112];

	if (!bench_selected(spec.name))
		return;
	r->failed = 0;
	if (bench_measure(&spec, &st)) {
		bench_add_skipped(section, spec.name, "setup failed");
		return;
	}
	if (r->failed) {
		snprintf(buf, sizeof(buf), "%d calls failed, the last with %s", r->failed,
			 strerror(r->err));
		bench_add_skipped(section, spec.name, buf);
		return;
	}
	bench_add_timed(section, &spec, &st, goal, goal_value, note);
}

/* The descriptors the calls need: 0, or -1 with what failed in @why. */
static int calls_setup(struct rt_arg *r, int *tl, char *why, size_t len)
{
	int p[2];

	r->null = open("/dev/null", O_RDWR | O_CLOEXEC);
	r->memfd = memfd_create("bench-shim", MFD_CLOEXEC);
	if (!pipe2(p, O_CLOEXEC)) {
		r->pipe = p[0];
		close(p[1]);
	}
	r->buf = heap_alloc(page);
	r->buf2 = heap_alloc(page);
	for (int i = 0; i < 3; i++)
		tl[i] = timeline_open();
	if (r->null < 0 || r->memfd < 0 || r->pipe < 0) {
		snprintf(why, len, "no /dev/null, memfd or pipe: %s", strerror(errno));
		return -1;
	}
	if (r->buf < 0 || r->buf2 < 0) {
		snprintf(why, len, "DMA_HEAP_IOCTL_ALLOC on /dev/dma_heap/system: %s",
			 strerror(-(r->buf < 0 ? r->buf : r->buf2)));
		return -1;
	}
	if (tl[0] < 0 || tl[1] < 0 || tl[2] < 0) {
		snprintf(why, len, "open of the sw_sync timeline: %s", strerror(-tl[0]));
		return -1;
	}
	r->sig = fence_create(tl[0], 0, "signaled");
	r->a = fence_create(tl[1], 1, "a");
	r->b = fence_create(tl[2], 1, "b");
	if (r->sig < 0 || r->a < 0 || r->b < 0) {
		snprintf(why, len, "SW_SYNC_IOC_CREATE_FENCE: %s",
			 strerror(-(r->sig < 0 ? r->sig : r->a < 0 ? r->a : r->b)));
		return -1;
	}
	return 0;
}

static void bench_calls(void)
{
	struct rt_arg r = {
		.sock = -1, .null = -1, .memfd = -1, .pipe = -1, .buf = -1, .buf2 = -1,
		.sig = -1, .a = -1, .b = -1,
	};
	int sv[2] = { -1, -1 }, tl[3] = { -1, -1, -1 }, m = 0;
	char why[128];
	pid_t peer = -1;

	if (!any_selected(ROW_SYNC, ROW_LIBC_MEMFD))
		return;
	if (calls_setup(&r, tl, why, sizeof(why))) {
		bench_add_skipped(SEC_IOCTL, "dma-buf and sync_file ioctls", why);
		goto out;
	}
	timed(SEC_IOCTL, ROW_SYNC, run_sync, &floor_notty, 2, &r, BENCH_GOAL_RATIO_MAX, 3.0,
	      "per call; coherent system-heap buffer, no fences");
	timed(SEC_IOCTL, ROW_PASS, run_pass, &floor_notty, 1, &r, BENCH_GOAL_NONE, 0,
	      "what the library adds to an ioctl not its own");
	timed(SEC_IOCTL, ROW_UAPI_NULL, run_uapi_null, &floor_notty, 1, &r, BENCH_GOAL_NONE, 0,
	      "dma-buf request, char device: ENOTTY");
	timed(SEC_IOCTL, ROW_UAPI_PIPE, run_uapi_pipe, &floor_notty, 1, &r, BENCH_GOAL_NONE, 0,
	      "dma-buf request, a pipe not the broker's: ENOTTY");

	if (!any_selected(ROW_EXPORT, ROW_LIBC_MEMFD))
		goto out;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		bench_add_skipped(SEC_RT, "round trips", "socketpair failed");
		goto out;
	}
	fflush(stdout);
	peer = fork();
	if (peer == 0) {
		close(sv[0]);
		peer_main(sv[1]);
	}
	close(sv[1]);
	r.sock = sv[0];
	timed(SEC_RT, ROW_EXPORT, run_export, &floor_seqpacket, 1, &r, BENCH_GOAL_RATIO_MAX,
	      2.0, "READ of an idle buffer; close() of the sync_file");
	timed(SEC_RT, ROW_IMPORT, run_import, &floor_seqpacket, 1, &r, BENCH_GOAL_RATIO_MAX,
	      2.0, "WRITE, a signaled sync_file");
	timed(SEC_RT, ROW_MERGE, run_merge, &floor_seqpacket, 1, &r, BENCH_GOAL_RATIO_MAX,
	      2.0, "two pending fences of two timelines; close() of the result");
	timed(SEC_RT, ROW_LIBC_NULL, run_libc_null, &floor_seqpacket, 1, &r, BENCH_GOAL_NONE,
	      0, "the floor through the library's recvmsg() and close()");
	timed(SEC_RT, ROW_LIBC_MEMFD, run_libc_memfd, &floor_seqpacket, 1, &r,
	      BENCH_GOAL_NONE, 0, "the same carrying an ordinary memfd");
out:
	if (peer > 0) {
		send_fd(r.sock, &m, -1, true);
		waitpid(peer, NULL, 0);
	}
	for (int *fd = (int[]){ r.sock, r.null, r.memfd, r.pipe, r.buf, r.buf2, r.sig, r.a, r.b,
				tl[0], tl[1], tl[2], -2 };
	     *fd != -2; fd++)
		if (*fd >= 0)
			close(*fd);
}

/* ---- start-up ---- */

/* true, LD_PRELOAD=<library> true, dmabuf-run -- true, dmabuf-run --version */
#define NCMD 4

struct command {
	const char *path;
	char **argv;
	char **envp;
	int out;	/* its standard output (/dev/null) */
};

/* fork, exec @c, wait: the ns it took, or -1 if it did not exit with 0. */
static int64_t spawn_once(const struct command *c)
{
	int64_t t0 = bench_now_ns();
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		syscall(SYS_dup2, c->out, 1);
		/* the system call: the library's execve() wrapper is not part of the cost */
		syscall(SYS_execve, c->path, c->argv, c->envp);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	return bench_now_ns() - t0;
}

extern char **environ;

/* Our environment without the preload's variables, plus @add (may be NULL). */
static char **env_without_preload(const char *add)
{
	size_t n = 0, k = 0;
	char **out;

	while (environ[n])
		n++;
	out = calloc(n + 2, sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) &&
		    strncmp(environ[i], "DMABUF_PRELOAD_FDS=", 19))
			out[k++] = environ[i];
	if (add)
		out[k++] = (char *)add;
	return out;
}

/* The preload library this process runs with (an LD_PRELOAD entry), or NULL. */
static const char *preload_in_use(char *buf, size_t len)
{
	const char *env = getenv("LD_PRELOAD"), *p = env, *end;

	while (p && *p) {
		end = p + strcspn(p, ": ");
		if (end - p < (long)len && memmem(p, (size_t)(end - p), "libdmabuf-preload", 17)) {
			memcpy(buf, p, (size_t)(end - p));
			buf[end - p] = '\0';
			return buf;
		}
		p = *end ? end + 1 : end;
	}
	return NULL;
}

/* "true" from PATH, or NULL. */
static const char *find_true(char *buf, size_t len)
{
	const char *p = getenv("PATH"), *end;

	for (p = p ? p : "/usr/bin:/bin"; *p; p = *end ? end + 1 : end) {
		end = p + strcspn(p, ":");
		if (snprintf(buf, len, "%.*s/true", (int)(end - p), p) < (int)len &&
		    !access(buf, X_OK))
			return buf;
	}
	return NULL;
}

/*
 * A row of @n start-up times @v, left in their order (the runs pair up by index), against
 * @floor_ns (< 0: the row is the floor).  Returns the median.
 */
static double startup_row(int row, const int64_t *v, unsigned int n, double floor_ns,
			  enum bench_goal_kind goal)
{
	int64_t *s = malloc(n * sizeof(int64_t));
	char note[112];
	double med;

	if (!s)
		return 0;
	memcpy(s, v, n * sizeof(int64_t));
	med = bench_quantile(s, n, 0.5);
	snprintf(note, sizeof(note), "median %.3f ms, min %.3f ms", med / 1e6, s[0] / 1e6);
	latency_row(row, SEC_START, s, n, "true", floor_ns < 0 ? med : floor_ns, goal, 0, note);
	free(s);
	return med;
}

/* @v - @base, run by run (the runs were interleaved): the median, p10-p90 spread, minima. */
static void overhead_row(int row, const int64_t *v, const int64_t *base, unsigned int n,
			 double goal_ns)
{
	int64_t *d = calloc(n, sizeof(int64_t)), vmin = v[0], bmin = base[0];
	struct bench_row r = {
		.section = SEC_START,
		.goal = goal_ns > 0 ? BENCH_GOAL_NS_MAX : BENCH_GOAL_NONE, .goal_value = goal_ns,
	};
	double p10, p90;

	if (!d || !bench_selected(row_names[row])) {
		free(d);
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		d[i] = v[i] - base[i];
		vmin = v[i] < vmin ? v[i] : vmin;
		bmin = base[i] < bmin ? base[i] : bmin;
	}
	p10 = bench_quantile(d, n, 0.1);
	p90 = bench_quantile(d, n, 0.9);
	r.ns = bench_quantile(d, n, 0.5);
	r.spread_pct = r.ns > 0 ? 100.0 * (p90 - p10) / r.ns : 0;
	snprintf(r.name, sizeof(r.name), "%s", row_names[row]);
	snprintf(r.note, sizeof(r.note),
		 "%.3f ms: median of run-by-run differences; p10 %.3f, p90 %.3f; minima %.3f",
		 r.ns / 1e6, p10 / 1e6, p90 / 1e6, (double)(vmin - bmin) / 1e6);
	bench_add_row(&r);
	free(d);
}

static void bench_startup(void)
{
	unsigned int n = bench_opts.quick ? 21 : 201, got = 0, bad = 0;
	char true_buf[4096], lib_buf[4096], preload_var[4200], why[160];
	const char *truep = find_true(true_buf, sizeof(true_buf)), *lib = opt_preload;
	int64_t *t[NCMD] = { 0 };
	char *argv_true[] = { "true", NULL };
	char *argv_run[] = { (char *)opt_run, "--", "true", NULL };
	char *argv_version[] = { (char *)opt_run, "--version", NULL };
	struct command cmd[NCMD];
	double true_ns;
	int tl, null = -1;

	if (!any_selected(ROW_START_TRUE, ROW_START_RUN_OVER))
		goto out;
	if (!lib)
		lib = preload_in_use(lib_buf, sizeof(lib_buf));
	if (!lib)
		lib = BENCH_PRELOAD;
	snprintf(preload_var, sizeof(preload_var), "LD_PRELOAD=%s", lib);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	cmd[0] = (struct command){ truep, argv_true, env_without_preload(NULL), null };
	cmd[1] = (struct command){ truep, argv_true, env_without_preload(preload_var), null };
	cmd[2] = (struct command){ opt_run, argv_run, cmd[0].envp, null };
	cmd[3] = (struct command){ opt_run, argv_version, cmd[0].envp, null };
	for (unsigned int j = 0; j < NCMD; j++)
		t[j] = calloc(n, sizeof(int64_t));
	if (!truep) {
		bench_add_skipped(SEC_START, row_names[ROW_START_TRUE], "no true in PATH");
		goto out_env;
	}
	if (!t[0] || !t[1] || !t[2] || !t[3] || !cmd[0].envp || !cmd[1].envp || null < 0) {
		bench_add_skipped(SEC_START, row_names[ROW_START_TRUE], "setup failed");
		goto out_env;
	}
	/* dmabuf-run -- true meets a running broker, as it does in use */
	tl = timeline_open();
	if (tl >= 0)
		close(tl);
	for (unsigned int i = 0; i < n; i++) {
		int64_t v[NCMD];
		bool ok = true;

		/* rotate the order, so that none always runs right after another */
		for (unsigned int k = 0; k < NCMD; k++) {
			unsigned int j = (i + k) % NCMD;

			v[j] = spawn_once(&cmd[j]);
			ok = ok && v[j] >= 0;
		}
		if (!ok) {
			bad++;
			continue;
		}
		for (unsigned int j = 0; j < NCMD; j++)
			t[j][got] = v[j];
		got++;
	}
	if (got < n / 2) {
		snprintf(why, sizeof(why), "%u of %u runs failed (%s, %s)", bad, n, opt_run, lib);
		bench_add_skipped(SEC_START, row_names[ROW_START_TRUE], why);
		goto out_env;
	}
	true_ns = startup_row(ROW_START_TRUE, t[0], got, -1, BENCH_GOAL_FLOOR);
	startup_row(ROW_START_PRELOAD, t[1], got, true_ns, BENCH_GOAL_NONE);
	startup_row(ROW_START_RUN, t[2], got, true_ns, BENCH_GOAL_NONE);
	startup_row(ROW_START_VERSION, t[3], got, true_ns, BENCH_GOAL_NONE);
	overhead_row(ROW_START_PRELOAD_OVER, t[1], t[0], got, 0);
	overhead_row(ROW_START_RUN_OVER, t[2], t[0], got, 5e6);
out_env:
	free(cmd[0].envp);
	free(cmd[1].envp);
	if (null >= 0)
		close(null);
out:
	for (int j = 0; j < NCMD; j++)
		free(t[j]);
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dmabuf-run -- dmabuf-bench-shim [--quick] [--json] [--filter TEXT]\n"
		"                  [--reps N] [--dmabuf-run PATH] [--preload PATH]\n"
		"  --quick            short batches, fewer samples (a smoke run)\n"
		"  --json             print the results as JSON instead of a table\n"
		"  --filter TEXT      only rows whose name contains TEXT\n"
		"  --reps N           timed batches per benchmark (default 31, min 3)\n"
		"  --dmabuf-run PATH  the launcher the start-up rows run (default %s)\n"
		"  --preload PATH     the library of the LD_PRELOAD row (default: the one in\n"
		"                     LD_PRELOAD, else %s)\n",
		BENCH_DMABUF_RUN, BENCH_PRELOAD);
}

/* --dmabuf-run PATH, --preload PATH */
static bool shim_opt(int argc, char **argv, int *i)
{
	if (!strcmp(argv[*i], "--dmabuf-run") && *i + 1 < argc) {
		opt_run = argv[++*i];
		return true;
	}
	if (!strcmp(argv[*i], "--preload") && *i + 1 < argc) {
		opt_preload = argv[++*i];
		return true;
	}
	return false;
}

static int parse_args(int argc, char **argv)
{
	return bench_parse_args(argc, argv, shim_opt, usage);
}

/* One line: the CPU, the kernel, the compiler, the date, the load. */
static void describe_machine(char *buf, size_t len)
{
	char line[256], model[128] = "unknown", date[64];
	FILE *f = fopen("/proc/cpuinfo", "r");
	double load = -1;
	struct utsname u;
	time_t now = time(NULL);

	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) || !colon)
			continue;
		colon += 1 + (colon[1] == ' ');
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(model, sizeof(model), "%s", colon);
		break;
	}
	if (f)
		fclose(f);
	f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf", &load) != 1)
			load = -1;
		fclose(f);
	}
	if (uname(&u))
		memset(&u, 0, sizeof(u));
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M %Z", localtime(&now));
	snprintf(buf, len, "%s, %ld online CPUs, %s %s %s, cc %s, %s, load average %.2f", model,
		 sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, u.machine, __VERSION__,
		 date, load);
}

int main(int argc, char **argv)
{
	int64_t t0 = bench_now_ns();
	char machine[1024], lib[4096];
	const char *in_use;
	int missed;

	if (parse_args(argc, argv))
		return 2;
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	page = (size_t)sysconf(_SC_PAGESIZE);
	describe_machine(machine, sizeof(machine));
	bench_opts.machine = machine;
	in_use = preload_in_use(lib, sizeof(lib));
	if (!bench_opts.json) {
		printf("dmabuf-bench-shim: %s\n", machine);
		if (in_use)
			printf("uAPI served by the preload library %s\n", in_use);
		else
			printf("no preload library in LD_PRELOAD: the kernel serves the uAPI\n");
#ifndef __OPTIMIZE__
		printf("built WITHOUT optimization (numbers are not meaningful)\n");
#endif
		printf("batches: median of %u of ~%.1f ms; latencies: median of samples%s\n\n",
		       bench_opts.reps, (double)bench_opts.batch_ns / 1e6,
		       bench_opts.quick ? " (--quick)" : "");
		fflush(stdout);
	}
	bench_wake();
	bench_calls();
	bench_startup();
	missed = bench_print();
	if (!bench_opts.json)
		printf("\n%d goal(s) missed; total run time %.1f s\n", missed,
		       (double)(bench_now_ns() - t0) / 1e9);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * test_swdev.c - the software device (dmabuf/swdev.h), through its public header and the
 * fd-level API.
 *
 * A job's function records what it saw in a struct probe (atomics: it runs on the device's
 * worker thread).  Nothing sleeps: a job held back by a fence is seen to be held back by its
 * fence still pending (dmabuf_fd_sync_wait(fence, 0) == -ETIME) and its function not called,
 * since it cannot have run before what it waits for signals; then the test signals and waits
 * for the job's fence.  The device view of the `incoherent` heap is checked on the broker.
 *
 * The program uses a private broker: unless DMABUFD_SOCKET is set, its socket is in a fresh
 * directory under /tmp, removed at exit; $DMABUFD names the broker to start.  Run with
 * --check-child, it is the program run with the coherency checker on (test_checker()); with
 * --trace-child, the program traced (test_trace()).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dmabuf/fault.h>
#include <dmabuf/fd.h>
#include <dmabuf/swdev.h>

#define SW_FENCE_NAME "test"
#include "sw_fences.h"
#include "checked_run.h"
#include "private_dir.h"
#include "tap.h"

#define RD DMABUF_FD_SYNC_READ
#define WR DMABUF_FD_SYNC_WRITE
#define END DMABUF_FD_SYNC_END
#define SW_RD DMABUF_SWDEV_READ
#define SW_WR DMABUF_SWDEV_WRITE
#define SW_RW DMABUF_SWDEV_RW

/* How long a wait that must succeed may take before the test calls it failed. */
#define LONG_NS (20LL * 1000000000LL)

static size_t page;
static bool on_kernel;

/* ---- helpers ---- */

/* a descriptor number that is not open, and that nothing here will open meanwhile */
static int closed_fd(void)
{
	int fd = 4000;

	while (fcntl(fd, F_GETFD) >= 0)
		fd++;
	return fd;
}

static void xclose(int fd)
{
	if (fd >= 0)
		close(fd);
}

static int buf_alloc(const char *heap, size_t len, unsigned int flags)
{
	int fd = dmabuf_fd_heap_alloc(heap, len, flags | O_CLOEXEC, 0);

	if (fd < 0)
		bail_out("heap alloc %s: %s", heap, strerror(-fd));
	return fd;
}

static struct dmabuf_swdev *device(const char *name)
{
	struct dmabuf_swdev *dev = NULL;
	int ret = dmabuf_swdev_create(name, &dev);

	if (ret)
		bail_out("dmabuf_swdev_create: %s", strerror(-ret));
	return dev;
}

/* a sync_file is pending now (a job behind it cannot have run) */
static bool pending(int f)
{
	return dmabuf_fd_sync_wait(f, 0) == -ETIME;
}

/* wait for a sync_file that must signal */
static bool signals(int f)
{
	return dmabuf_fd_sync_wait(f, LONG_NS) == 0;
}

/* a fresh export of @buf's fences for access @flags is pending */
static bool export_pending(int buf, unsigned int flags)
{
	int e = dmabuf_fd_buf_export_sync_file(buf, flags);
	bool ret;

	if (e < 0)
		bail_out("export: %s", strerror(-e));
	ret = pending(e);
	close(e);
	return ret;
}

/* the timeline name of the one fence of sync_file @f ("" if it is not one fence) */
static const char *fence_timeline(int f, char *out, size_t len, char *driver, size_t dlen)
{
	struct dmabuf_fd_sync_info *info;

	out[0] = driver[0] = '\0';
	if (dmabuf_fd_sync_info(f, &info))
		return out;
	if (info->num_fences == 1) {
		snprintf(out, len, "%s", info->fences[0].obj_name);
		snprintf(driver, dlen, "%s", info->fences[0].driver_name);
	}
	dmabuf_fd_sync_info_free(info);
	return out;
}

/* the status of the full FILE_INFO call of sync_file @f, or the error */
static int status(int f)
{
	struct dmabuf_fd_sync_info *info;
	int ret = dmabuf_fd_sync_info(f, &info);

	if (ret)
		return ret;
	ret = info->status;
	dmabuf_fd_sync_info_free(info);
	return ret;
}

/*
 * struct probe - what one job's function saw.  @fill is written over the first buffer by a
 * writing job; @seen is the first buffer's byte at @at before that (-1: never ran).
 */
struct probe {
	unsigned char fill;
	size_t at;
	atomic_int runs;
	atomic_int stamp;
	atomic_int seen;
	atomic_int nbufs;
	atomic_ullong size;
	atomic_int access;
	atomic_int fd_open;
	atomic_int ro_refused;
};

static atomic_int stamps;

static void probe_init(struct probe *p, unsigned char fill)
{
	memset(p, 0, sizeof(*p));
	p->fill = fill;
	atomic_store(&p->seen, -1);
	atomic_store(&p->ro_refused, -1);
}

/*
 * Whether the kernel may write a byte at @addr: read() into it fails with EFAULT when the
 * mapping is read-only (1), succeeds otherwise (0).
 */
static int write_refused(void *addr)
{
	int pfd[2], ret;
	char c = 'x', old = *(volatile char *)addr;

	if (pipe(pfd))
		return -1;
	ret = (write(pfd[1], &c, 1) == 1 && read(pfd[0], addr, 1) < 0 && errno == EFAULT);
	close(pfd[0]);
	close(pfd[1]);
	if (!ret)
		*(volatile char *)addr = old;
	return ret;
}

static void probe_fn(void *arg, struct dmabuf_swdev_buf *bufs, unsigned int nbufs)
{
	struct probe *p = arg;
	unsigned char *m;

	atomic_store(&p->stamp, atomic_fetch_add(&stamps, 1) + 1);
	atomic_store(&p->nbufs, (int)nbufs);
	if (nbufs) {
		m = bufs[0].map;
		atomic_store(&p->size, bufs[0].size);
		atomic_store(&p->access, (int)bufs[0].access);
		atomic_store(&p->fd_open, fcntl(bufs[0].fd, F_GETFD) >= 0);
		if (m && p->at < bufs[0].size)
			atomic_store(&p->seen, m[p->at]);
		if (m && bufs[0].access == SW_RD)
			atomic_store(&p->ro_refused, write_refused(m));
		if (m && (bufs[0].access & SW_WR))
			memset(m, p->fill, bufs[0].size);
	}
	atomic_fetch_add(&p->runs, 1);
}

/* submit a probe job on one buffer (@buf < -1000: none) after the input fences @in */
static int submit(struct dmabuf_swdev *dev, int buf, unsigned int access, const int *in,
		  unsigned int nin, struct probe *p)
{
	struct dmabuf_swdev_buf b = { .fd = buf, .access = access };
	struct dmabuf_swdev_job job = {
		.bufs = &b,
		.nbufs = buf < -1000 ? 0 : 1,
		.in_fences = in,
		.nin = nin,
		.fn = probe_fn,
		.arg = p,
	};

	return dmabuf_swdev_submit(dev, &job);
}

#define NO_BUF (-2000)

/* the same, where the submission must succeed */
static int job(struct dmabuf_swdev *dev, int buf, unsigned int access, const int *in,
	       unsigned int nin, struct probe *p)
{
	int f = submit(dev, buf, access, in, nin, p);

	if (f < 0)
		bail_out("dmabuf_swdev_submit: %s", strerror(-f));
	return f;
}

/* ---- creation ---- */

static void test_create(void)
{
	const char *long_name = "a-device-name-of-31-characters.";
	char name32[33], tl_name[64], driver[64], want_driver[64], unused[64];
	struct dmabuf_swdev *dev = (struct dmabuf_swdev *)&dev;
	struct probe p;
	int f, tl, g;

	memset(name32, 'x', 32);
	name32[32] = '\0';
	is_int(dmabuf_swdev_create(NULL, &dev), -EINVAL, "create: NULL name");
	is_int(dmabuf_swdev_create("dev", NULL), -EINVAL, "create: NULL out");
	is_int(dmabuf_swdev_create(name32, &dev), -EINVAL, "create: a 32-character name");
	ok(dev == (struct dmabuf_swdev *)&dev, "create: *out untouched on error");
	dmabuf_swdev_destroy(NULL);
	dmabuf_swdev_wait_idle(NULL);
	ok(true, "destroy(NULL), wait_idle(NULL): no-ops");

	is_int(strlen(long_name), 31, "create: (the long name has 31 characters)");
	dev = device(long_name);
	probe_init(&p, 0);
	f = job(dev, NO_BUF, 0, NULL, 0, &p);
	ok(signals(f), "a job without buffers or fences runs and signals");
	is_int(atomic_load(&p.runs), 1, "its function ran once");
	is_int(atomic_load(&p.nbufs), 0, "with no buffers");
	fence_timeline(f, tl_name, sizeof(tl_name), driver, sizeof(driver));
	is_str(tl_name, "a-device-name-o", "the job fence's timeline is the device's name, cut to 15");
	tl = timeline();
	g = fence(tl, 1);
	fence_timeline(g, unused, sizeof(unused), want_driver, sizeof(want_driver));
	is_str(driver, want_driver, "the job fence's driver is sw_sync's (%s)", want_driver);
	is_int(status(f), 1, "the job fence signaled without error");
	close(g);
	close(tl);
	close(f);
	dmabuf_swdev_destroy(dev);
}

/* ---- fences ---- */

/* A job waits for its input fences. */
static void test_in_fences(void)
{
	struct dmabuf_swdev *dev = device("in-fences");
	int tl = timeline(), tl2 = timeline(), in[2] = { fence(tl, 1), fence(tl2, 3) };
	struct probe p;
	int f;

	probe_init(&p, 0);
	f = job(dev, NO_BUF, 0, in, 2, &p);
	ok(pending(f) && atomic_load(&p.runs) == 0,
	   "in-fences: the job waits while both input fences are pending");
	dmabuf_fd_sw_timeline_inc(tl, 1);
	ok(signals(in[0]), "in-fences: (the first input signaled)");
	ok(pending(f) && atomic_load(&p.runs) == 0, "in-fences: it waits for the second too");
	dmabuf_fd_sw_timeline_inc(tl2, 3);
	ok(signals(f), "in-fences: its fence signals once both did");
	is_int(atomic_load(&p.runs), 1, "in-fences: its function ran once");
	close(f);
	close(in[0]);
	close(in[1]);
	/* the job keeps its own descriptors: the caller may close its fences at once */
	in[0] = fence(tl, 2);
	probe_init(&p, 0);
	f = job(dev, NO_BUF, 0, in, 1, &p);
	close(in[0]);
	ok(pending(f) && atomic_load(&p.runs) == 0,
	   "in-fences: closing the caller's descriptor does not release the job");
	dmabuf_fd_sw_timeline_inc(tl, 1);
	ok(signals(f) && atomic_load(&p.runs) == 1, "in-fences: it runs when the fence signals");
	close(f);
	close(tl);
	close(tl2);
	dmabuf_swdev_destroy(dev);
}

/* Implicit sync: a writer waits for a reader's fence, a reader does not. */
static void test_writer_behind_reader(void)
{
	struct dmabuf_swdev *dev = device("implicit-w");
	int buf = buf_alloc("system", page, O_RDWR), tl = timeline(), rf = fence(tl, 1);
	struct probe r, w;
	int fr, fw;

	is_int(dmabuf_fd_buf_import_sync_file(buf, RD, rf), 0, "implicit: a read fence imported");
	probe_init(&r, 0);
	fr = job(dev, buf, SW_RD, NULL, 0, &r);
	ok(signals(fr) && atomic_load(&r.runs) == 1,
	   "implicit: a reading job does not wait for a pending read fence");
	probe_init(&w, 0x11);
	fw = job(dev, buf, SW_WR, NULL, 0, &w);
	ok(pending(fw) && atomic_load(&w.runs) == 0,
	   "implicit: a writing job waits for the pending read fence");
	dmabuf_fd_sw_timeline_inc(tl, 1);
	ok(signals(fw) && atomic_load(&w.runs) == 1,
	   "implicit: and runs once the reader's fence signaled");
	close(fr);
	close(fw);
	close(rf);
	close(tl);
	close(buf);
	dmabuf_swdev_destroy(dev);
}

/* Implicit sync: readers and writers wait for a pending write fence. */
static void test_reader_behind_writer(void)
{
	struct dmabuf_swdev *dev = device("implicit-r");
	int buf = buf_alloc("system", page, O_RDWR), tl = timeline(), wf = fence(tl, 1);
	struct probe r, rw;
	int fr, frw;

	is_int(dmabuf_fd_buf_import_sync_file(buf, WR, wf), 0, "implicit: a write fence imported");
	probe_init(&r, 0);
	fr = job(dev, buf, SW_RD, NULL, 0, &r);
	ok(pending(fr) && atomic_load(&r.runs) == 0,
	   "implicit: a reading job waits for the pending write fence");
	probe_init(&rw, 0x22);
	frw = job(dev, buf, SW_RW, NULL, 0, &rw);
	ok(pending(frw) && atomic_load(&rw.runs) == 0, "implicit: so does a read-write job");
	dmabuf_fd_sw_timeline_inc(tl, 1);
	ok(signals(fr) && atomic_load(&r.runs) == 1, "implicit: the reader runs when it signals");
	ok(signals(frw) && atomic_load(&rw.runs) == 1, "implicit: then the read-write job");
	close(fr);
	close(frw);
	close(wf);
	close(tl);
	close(buf);
	dmabuf_swdev_destroy(dev);
}

/* The job's fence is on its buffers with the usage of its access. */
static void test_fence_usage(void)
{
	struct dmabuf_swdev *dev = device("usage");
	int bw = buf_alloc("system", page, O_RDWR), br = buf_alloc("system", page, O_RDWR);
	int brw = buf_alloc("system", page, O_RDWR), tl = timeline(), gate = fence(tl, 1);
	char name[64], driver[64];
	struct probe pw, pr, prw;
	int fw, fr, frw, e;

	probe_init(&pw, 0x33);
	probe_init(&pr, 0);
	probe_init(&prw, 0x44);
	fw = job(dev, bw, SW_WR, &gate, 1, &pw);
	fr = job(dev, br, SW_RD, &gate, 1, &pr);
	frw = job(dev, brw, SW_RW, &gate, 1, &prw);
	ok(pending(fw) && pending(fr) && pending(frw), "usage: (three jobs held by a gate)");
	ok(export_pending(bw, RD), "usage: a writing job's fence is a write fence (READ export)");
	e = dmabuf_fd_buf_export_sync_file(bw, RD);
	fence_timeline(e, name, sizeof(name), driver, sizeof(driver));
	is_str(name, "usage", "usage: the exported fence is the job's (its timeline)");
	xclose(e);
	ok(!export_pending(br, RD), "usage: a reading job's fence is not a writer's");
	ok(export_pending(br, WR), "usage: it is a read fence (WRITE export sees it)");
	e = dmabuf_fd_buf_export_sync_file(br, WR);
	fence_timeline(e, name, sizeof(name), driver, sizeof(driver));
	is_str(name, "usage", "usage: the fence a writer would wait for is the job's");
	xclose(e);
	ok(export_pending(brw, RD), "usage: a read-write job's fence is a write fence");
	ok(dmabuf_fd_buf_wait(bw, RD, 0) == -ETIME && dmabuf_fd_buf_wait(br, RD, 0) == 0,
	   "usage: poll agrees (POLLIN: the writer's buffer busy, the reader's ready)");
	dmabuf_fd_sw_timeline_inc(tl, 1);
	ok(signals(fw) && signals(fr) && signals(frw), "usage: all three run when the gate opens");
	ok(!export_pending(bw, WR) && !export_pending(br, WR) && !export_pending(brw, WR),
	   "usage: the buffers are idle after their jobs");
	close(fw);
	close(fr);
	close(frw);
	close(gate);
	close(tl);
	close(bw);
	close(br);
	close(brw);
	dmabuf_swdev_destroy(dev);
}

/* Jobs run and signal in submission order, whatever they wait for. */
static void test_order(void)
{
	enum { N = 8 };
	static const unsigned int access[N] = { SW_WR, SW_RD, 0, SW_RW, SW_RD, 0, SW_WR, SW_RD };
	struct dmabuf_swdev *dev = device("order");
	int buf = buf_alloc("system", page, O_RDWR), other = buf_alloc("system", page, O_RDWR);
	int tl = timeline(), gate = fence(tl, 1), f[N], base, i;
	bool all_pending = true, in_order = true, all_signaled = true;
	struct probe p[N];

	for (i = 0; i < N; i++) {
		probe_init(&p[i], (unsigned char)(0x50 + i));
		/* the first waits for the gate; the others only for the queue, or on another buffer */
		if (i == 0)
			f[i] = job(dev, buf, access[i], &gate, 1, &p[i]);
		else if (!access[i])
			f[i] = job(dev, NO_BUF, 0, NULL, 0, &p[i]);
		else
			f[i] = job(dev, i % 2 ? other : buf, access[i], NULL, 0, &p[i]);
	}
	for (i = 0; i < N; i++)
		all_pending = all_pending && pending(f[i]) && atomic_load(&p[i].runs) == 0;
	ok(all_pending, "order: nothing runs while the first job waits, not even jobs without deps");
	dmabuf_fd_sw_timeline_inc(tl, 1);
	ok(signals(f[N - 1]), "order: the last job signals once the gate opened");
	for (i = 0; i < N; i++)
		all_signaled = all_signaled && dmabuf_fd_sync_wait(f[i], 0) == 0;
	ok(all_signaled, "order: when the last job's fence signaled, every earlier one had");
	base = atomic_load(&p[0].stamp);
	for (i = 0; i < N; i++)
		in_order = in_order && atomic_load(&p[i].stamp) == base + i &&
			   atomic_load(&p[i].runs) == 1;
	ok(in_order, "order: the functions ran once each, in submission order");
	for (i = 0; i < N; i++)
		close(f[i]);
	close(gate);
	close(tl);
	close(buf);
	close(other);
	dmabuf_swdev_destroy(dev);
}

/* Two devices: a job on one waits for the other's job through the buffer (GPU to GPU). */
static void test_two_devices(void)
{
	struct dmabuf_swdev *a = device("dev-a"), *b = device("dev-b");
	int buf = buf_alloc("system", page, O_RDWR), tl = timeline(), gate = fence(tl, 1);
	struct probe pa, pb;
	int fa, fb;

	probe_init(&pa, 0x77);
	probe_init(&pb, 0);
	pb.at = page - 1;
	fa = job(a, buf, SW_WR, &gate, 1, &pa);
	fb = job(b, buf, SW_RD, NULL, 0, &pb);
	ok(pending(fb) && atomic_load(&pb.runs) == 0,
	   "two devices: a reader on B waits for A's pending writer");
	dmabuf_fd_sw_timeline_inc(tl, 1);
	ok(signals(fb), "two devices: B's job signals after A's");
	is_int(dmabuf_fd_sync_wait(fa, 0), 0, "two devices: (A's had signaled)");
	is_int(atomic_load(&pb.seen), 0x77, "two devices: B read what A wrote");
	close(fa);
	close(fb);
	close(gate);
	close(tl);
	close(buf);
	dmabuf_swdev_destroy(a);
	dmabuf_swdev_destroy(b);
}

/* ---- what the function gets ---- */

static void test_bufs(void)
{
	struct dmabuf_swdev *dev = device("bufs");
	int buf = buf_alloc("system", 3 * page, O_RDWR), tl = timeline(), gate = fence(tl, 1);
	int keep = dup(buf), f, e;
	struct probe p, r;
	unsigned char *m;
	void *v;

	probe_init(&p, 0x5c);
	f = job(dev, buf, SW_WR, &gate, 1, &p);
	close(buf);
	dmabuf_fd_sw_timeline_inc(tl, 1);
	ok(signals(f), "bufs: the job runs after the caller closed its buffer descriptor");
	dmabuf_swdev_wait_idle(dev);
	is_int(atomic_load(&p.nbufs), 1, "bufs: the function gets one buffer");
	is_int(atomic_load(&p.size), 3 * page, "bufs: its size");
	is_int(atomic_load(&p.access), SW_WR, "bufs: its access");
	ok(atomic_load(&p.fd_open), "bufs: the descriptor it gets is open (the queue's)");
	if (dmabuf_fd_buf_mmap(keep, NULL, 3 * page, PROT_READ, MAP_SHARED, 0, &v) == 0) {
		m = v;
		e = dmabuf_fd_buf_sync(keep, RD);
		ok(!e && m[0] == 0x5c && m[3 * page - 1] == 0x5c,
		   "bufs: the job wrote the whole buffer");
		dmabuf_fd_buf_sync(keep, END | RD);
		dmabuf_fd_buf_munmap(v, 3 * page);
	} else {
		ok(false, "bufs: map the buffer");
	}
	probe_init(&r, 0);
	f = job(dev, keep, SW_RD, NULL, 0, &r);
	ok(signals(f), "bufs: a reading job");
	is_int(atomic_load(&r.ro_refused), 1, "bufs: a reading job's view is read-only");
	is_int(atomic_load(&r.seen), 0x5c, "bufs: and shows the data");
	close(f);
	close(gate);
	close(tl);
	close(keep);
	dmabuf_swdev_destroy(dev);
}

/* udmabufs: the job sees the memfds' pages, range by range. */
static void test_udmabuf(void)
{
	struct dmabuf_swdev *dev = device("udmabuf");
	int a = memfd_create("swdev-a", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	int b = memfd_create("swdev-b", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	struct dmabuf_fd_udmabuf_item items[2];
	unsigned char *ma, *mb;
	struct probe p;
	int u, f;

	if (a < 0 || b < 0 || ftruncate(a, (off_t)(2 * page)) || ftruncate(b, (off_t)(2 * page)) ||
	    fcntl(a, F_ADD_SEALS, F_SEAL_SHRINK) || fcntl(b, F_ADD_SEALS, F_SEAL_SHRINK))
		bail_out("memfd: %s", strerror(errno));
	items[0] = (struct dmabuf_fd_udmabuf_item){ .memfd = (uint32_t)a, .size = page };
	items[1] = (struct dmabuf_fd_udmabuf_item){
		.memfd = (uint32_t)b, .offset = page, .size = page,
	};
	u = dmabuf_fd_udmabuf_create_list(items, 2, DMABUF_FD_UDMABUF_CLOEXEC);
	if (u == -ENOENT) {
		skip("udmabuf: no udmabuf driver");
		close(a);
		close(b);
		dmabuf_swdev_destroy(dev);
		return;
	}
	ok(u >= 0, "udmabuf: a list of two memfd ranges (%d)", u);
	probe_init(&p, 0x6d);
	f = job(dev, u, SW_WR, NULL, 0, &p);
	ok(signals(f), "udmabuf: a writing job ran");
	ma = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, a, 0);
	mb = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, b, 0);
	if (ma == MAP_FAILED || mb == MAP_FAILED)
		bail_out("mmap memfd: %s", strerror(errno));
	ok(ma[0] == 0x6d && ma[page - 1] == 0x6d && ma[page] == 0,
	   "udmabuf: the first range is the first memfd's first page, and only that");
	ok(mb[0] == 0 && mb[page] == 0x6d && mb[2 * page - 1] == 0x6d,
	   "udmabuf: the second range is the second memfd's second page");
	munmap(ma, 2 * page);
	munmap(mb, 2 * page);
	close(f);
	close(u);
	close(a);
	close(b);
	dmabuf_swdev_destroy(dev);
}

/*
 * The device view of an incoherent buffer: what a job writes reaches a CPU mapping only
 * through START|READ; what the CPU writes reaches a job only after END|WRITE.
 */
static void test_device_view(void)
{
	struct dmabuf_swdev *dev = device("view");
	struct probe w, r1, r2;
	unsigned char *cpu;
	int buf, f;
	void *v;

	if (on_kernel) {
		skip("device view: the incoherent heap is the broker's");
		dmabuf_swdev_destroy(dev);
		return;
	}
	buf = buf_alloc("incoherent", page, O_RDWR);
	if (dmabuf_fd_buf_mmap(buf, NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &v))
		bail_out("mmap incoherent buffer");
	cpu = v;
	probe_init(&w, 0xab);
	f = job(dev, buf, SW_WR, NULL, 0, &w);
	ok(signals(f), "device view: a job wrote the incoherent buffer");
	close(f);
	ok(cpu[0] == 0 && cpu[page - 1] == 0, "device view: a CPU read without START is stale");
	is_int(dmabuf_fd_buf_sync(buf, RD), 0, "device view: START|READ");
	ok(cpu[0] == 0xab && cpu[page - 1] == 0xab, "device view: then the CPU sees the job's data");
	dmabuf_fd_buf_sync(buf, END | RD);

	is_int(dmabuf_fd_buf_sync(buf, WR), 0, "device view: START|WRITE");
	memset(cpu, 0xcd, page);
	probe_init(&r1, 0);
	r1.at = 17;
	f = job(dev, buf, SW_RD, NULL, 0, &r1);
	ok(signals(f), "device view: a reading job inside the CPU's bracket");
	close(f);
	is_int(atomic_load(&r1.seen), 0xab, "device view: it does not see the CPU's write yet");
	is_int(dmabuf_fd_buf_sync(buf, END | WR), 0, "device view: END|WRITE");
	probe_init(&r2, 0);
	r2.at = 17;
	f = job(dev, buf, SW_RD, NULL, 0, &r2);
	ok(signals(f), "device view: a reading job after END|WRITE");
	close(f);
	is_int(atomic_load(&r2.seen), 0xcd, "device view: it sees the CPU's write");
	dmabuf_fd_buf_munmap(v, page);
	close(buf);
	dmabuf_swdev_destroy(dev);
}

/* ---- wait_idle, destroy ---- */

/* A thread that runs wait_idle or destroy and then writes a byte to a pipe. */
struct waiter {
	pthread_t thread;
	struct dmabuf_swdev *dev;
	bool destroy;
	int pipe[2];
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	char c = 1;

	if (w->destroy)
		dmabuf_swdev_destroy(w->dev);
	else
		dmabuf_swdev_wait_idle(w->dev);
	if (write(w->pipe[1], &c, 1) != 1)
		return NULL;
	return NULL;
}

static void waiter_start(struct waiter *w, struct dmabuf_swdev *dev, bool destroy)
{
	w->dev = dev;
	w->destroy = destroy;
	if (pipe2(w->pipe, O_CLOEXEC) || pthread_create(&w->thread, NULL, waiter_main, w))
		bail_out("waiter thread");
}

/* has the waiter returned (within @timeout_ms)? */
static bool waiter_done(struct waiter *w, int timeout_ms)
{
	struct pollfd p = { .fd = w->pipe[0], .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1;
}

static void waiter_join(struct waiter *w)
{
	pthread_join(w->thread, NULL);
	close(w->pipe[0]);
	close(w->pipe[1]);
}

static void test_wait_idle(void)
{
	enum { N = 6 };
	struct dmabuf_swdev *dev = device("idle");
	int buf = buf_alloc("system", page, O_RDWR), tl = timeline(), gate, f[N], i, runs = 0;
	bool signaled = true;
	struct probe p[N];
	struct waiter w;

	for (i = 0; i < N; i++) {
		probe_init(&p[i], (unsigned char)i);
		f[i] = job(dev, i % 2 ? buf : NO_BUF, SW_RW, NULL, 0, &p[i]);
	}
	dmabuf_swdev_wait_idle(dev);
	for (i = 0; i < N; i++) {
		runs += atomic_load(&p[i].runs);
		signaled = signaled && dmabuf_fd_sync_wait(f[i], 0) == 0;
		close(f[i]);
	}
	is_int(runs, N, "wait_idle: every job ran when it returned");
	ok(signaled, "wait_idle: and every job fence had signaled");
	dmabuf_swdev_wait_idle(dev);
	ok(true, "wait_idle: an idle device returns at once");

	gate = fence(tl, 1);
	probe_init(&p[0], 0);
	f[0] = job(dev, buf, SW_WR, &gate, 1, &p[0]);
	waiter_start(&w, dev, false);
	ok(!waiter_done(&w, 0) && pending(f[0]), "wait_idle: waits while a job is held back");
	dmabuf_fd_sw_timeline_inc(tl, 1);
	ok(waiter_done(&w, (int)(LONG_NS / 1000000)), "wait_idle: returns once it ran");
	waiter_join(&w);
	ok(dmabuf_fd_sync_wait(f[0], 0) == 0 && atomic_load(&p[0].runs) == 1,
	   "wait_idle: (the job ran and signaled)");
	close(f[0]);
	close(gate);
	close(tl);
	close(buf);
	dmabuf_swdev_destroy(dev);
}

static void test_destroy(void)
{
	enum { N = 5 };
	struct dmabuf_swdev *dev = device("destroy");
	int buf = buf_alloc("system", page, O_RDWR), tl = timeline(), gate = fence(tl, 1);
	int f[N], i, runs = 0;
	bool signaled = true;
	struct probe p[N];
	struct waiter w;

	for (i = 0; i < N; i++) {
		probe_init(&p[i], (unsigned char)i);
		f[i] = job(dev, buf, i % 2 ? SW_RD : SW_WR, i ? NULL : &gate, i ? 0 : 1, &p[i]);
	}
	waiter_start(&w, dev, true);
	ok(!waiter_done(&w, 0) && pending(f[N - 1]),
	   "destroy: waits while queued jobs are held back");
	dmabuf_fd_sw_timeline_inc(tl, 1);
	ok(waiter_done(&w, (int)(LONG_NS / 1000000)), "destroy: returns once they ran");
	waiter_join(&w);
	for (i = 0; i < N; i++) {
		runs += atomic_load(&p[i].runs);
		signaled = signaled && status(f[i]) == 1;
		close(f[i]);
	}
	is_int(runs, N, "destroy: every queued job ran");
	ok(signaled, "destroy: every job fence signaled without error (not closed pending)");
	ok(!export_pending(buf, WR), "destroy: the buffer is idle");
	close(gate);
	close(tl);
	close(buf);

	/* destroy right after submitting: the queue is drained all the same */
	dev = device("destroy2");
	buf = buf_alloc("system", page, O_RDWR);
	for (i = 0; i < N; i++) {
		probe_init(&p[i], (unsigned char)i);
		f[i] = job(dev, buf, SW_WR, NULL, 0, &p[i]);
	}
	dmabuf_swdev_destroy(dev);
	runs = 0;
	signaled = true;
	for (i = 0; i < N; i++) {
		runs += atomic_load(&p[i].runs);
		signaled = signaled && status(f[i]) == 1;
		close(f[i]);
	}
	ok(runs == N && signaled, "destroy: right after submitting, the queue runs first");
	close(buf);
}

/* ---- several submitters ---- */

enum { SUBMITTERS = 4, PER_SUBMITTER = 25 };

struct submitter {
	pthread_t thread;
	struct dmabuf_swdev *dev;
	int buf;
	struct probe p[PER_SUBMITTER];
	int f[PER_SUBMITTER];
};

static void *submitter_main(void *arg)
{
	struct submitter *s = arg;
	int i;

	for (i = 0; i < PER_SUBMITTER; i++) {
		probe_init(&s->p[i], (unsigned char)i);
		s->f[i] = submit(s->dev, s->buf, i % 3 ? SW_RD : SW_WR, NULL, 0, &s->p[i]);
	}
	return NULL;
}

/* Threads submitting to one device at once: every job runs once, each thread's in order. */
static void test_threads(void)
{
	struct dmabuf_swdev *dev = device("threads");
	int buf = buf_alloc("system", page, O_RDWR), i, t;
	static struct submitter s[SUBMITTERS];
	bool submitted = true, once = true, ordered = true, signaled = true;

	for (t = 0; t < SUBMITTERS; t++) {
		s[t].dev = dev;
		s[t].buf = buf;
		if (pthread_create(&s[t].thread, NULL, submitter_main, &s[t]))
			bail_out("pthread_create");
	}
	for (t = 0; t < SUBMITTERS; t++)
		pthread_join(s[t].thread, NULL);
	dmabuf_swdev_wait_idle(dev);
	for (t = 0; t < SUBMITTERS; t++) {
		for (i = 0; i < PER_SUBMITTER; i++) {
			submitted = submitted && s[t].f[i] >= 0;
			once = once && atomic_load(&s[t].p[i].runs) == 1;
			ordered = ordered && (!i || atomic_load(&s[t].p[i].stamp) >
						    atomic_load(&s[t].p[i - 1].stamp));
			signaled = signaled && dmabuf_fd_sync_wait(s[t].f[i], 0) == 0;
			xclose(s[t].f[i]);
		}
	}
	ok(submitted, "threads: %d threads submitted %d jobs each", SUBMITTERS, PER_SUBMITTER);
	ok(once, "threads: every job ran once");
	ok(ordered, "threads: each thread's jobs in its order");
	ok(signaled, "threads: every fence signaled by wait_idle's return");
	ok(!export_pending(buf, WR), "threads: the buffer is idle");
	close(buf);
	dmabuf_swdev_destroy(dev);
}

/* A job's function submits the next job to its own device. */
struct chain {
	struct dmabuf_swdev *dev;
	int buf;
	struct probe next;
	atomic_int fence;
};

static void chain_fn(void *arg, struct dmabuf_swdev_buf *bufs, unsigned int nbufs)
{
	struct chain *c = arg;

	memset(bufs[0].map, 0x3c, bufs[0].size);
	atomic_store(&c->fence, submit(c->dev, c->buf, SW_RD, NULL, 0, &c->next));
}

static void test_chain(void)
{
	struct chain c = { .dev = device("chain"), .buf = buf_alloc("system", page, O_RDWR) };
	struct dmabuf_swdev_buf b = { .fd = c.buf, .access = SW_WR };
	struct dmabuf_swdev_job j = { .bufs = &b, .nbufs = 1, .fn = chain_fn, .arg = &c };
	int f, g;

	probe_init(&c.next, 0);
	atomic_store(&c.fence, -1);
	f = dmabuf_swdev_submit(c.dev, &j);
	ok(f >= 0, "chain: a job that submits a job");
	dmabuf_swdev_wait_idle(c.dev);
	g = atomic_load(&c.fence);
	ok(g >= 0 && dmabuf_fd_sync_wait(g, 0) == 0,
	   "chain: its follow-up was submitted, and wait_idle waited for it too (%d)", g);
	is_int(atomic_load(&c.next.seen), 0x3c, "chain: the follow-up read what the first wrote");
	xclose(f);
	xclose(g);
	close(c.buf);
	dmabuf_swdev_destroy(c.dev);
}

/* ---- errors ---- */

/* After a failed submission the buffer has no fence of it and the device still counts well. */
static void device_still_good(struct dmabuf_swdev *dev, int buf, const char *what)
{
	int tl = timeline(), gate = fence(tl, 1), f;
	struct probe p;

	ok(!export_pending(buf, WR), "%s: no fence was added to the buffer", what);
	probe_init(&p, 0);
	f = job(dev, buf, SW_WR, &gate, 1, &p);
	ok(pending(f), "%s: the next job's fence is pending while it waits", what);
	dmabuf_fd_sw_timeline_inc(tl, 1);
	ok(signals(f) && atomic_load(&p.runs) == 1, "%s: and signals when it ran", what);
	close(f);
	close(gate);
	close(tl);
}

static void test_errors(void)
{
	struct dmabuf_swdev *dev = device("errors");
	int buf = buf_alloc("system", page, O_RDWR), ro = buf_alloc("system", page, O_RDONLY);
	int tl = timeline(), sf = fence(tl, 0), memfd = memfd_create("x", MFD_CLOEXEC);
	int closed = closed_fd(), in[DMABUF_SWDEV_MAX_FENCES + 1], ret, f, i;
	struct dmabuf_swdev_buf bufs[DMABUF_SWDEV_MAX_BUFS + 1];
	struct dmabuf_swdev_job j = { .bufs = bufs, .nbufs = 1, .fn = probe_fn };
	unsigned int injected, k;
	struct probe p;

	probe_init(&p, 0);
	j.arg = &p;
	for (i = 0; i <= DMABUF_SWDEV_MAX_BUFS; i++)
		bufs[i] = (struct dmabuf_swdev_buf){ .fd = buf, .access = SW_RD };
	for (i = 0; i <= DMABUF_SWDEV_MAX_FENCES; i++)
		in[i] = sf;

	is_int(dmabuf_swdev_submit(NULL, &j), -EINVAL, "errors: NULL device");
	is_int(dmabuf_swdev_submit(dev, NULL), -EINVAL, "errors: NULL job");
	j.fn = NULL;
	is_int(dmabuf_swdev_submit(dev, &j), -EINVAL, "errors: no function");
	j.fn = probe_fn;
	j.nbufs = DMABUF_SWDEV_MAX_BUFS + 1;
	is_int(dmabuf_swdev_submit(dev, &j), -EINVAL, "errors: too many buffers");
	j.nbufs = DMABUF_SWDEV_MAX_BUFS;
	f = dmabuf_swdev_submit(dev, &j);
	ok(f >= 0 && signals(f), "errors: the most buffers (%d)", f);
	xclose(f);
	j.nbufs = 1;
	j.in_fences = in;
	j.nin = DMABUF_SWDEV_MAX_FENCES + 1;
	is_int(dmabuf_swdev_submit(dev, &j), -EINVAL, "errors: too many fences");
	j.nin = DMABUF_SWDEV_MAX_FENCES;
	f = dmabuf_swdev_submit(dev, &j);
	ok(f >= 0 && signals(f), "errors: the most fences (%d)", f);
	xclose(f);
	j.in_fences = NULL;
	j.nin = 1;
	is_int(dmabuf_swdev_submit(dev, &j), -EINVAL, "errors: fences NULL");
	j.nin = 0;
	j.bufs = NULL;
	is_int(dmabuf_swdev_submit(dev, &j), -EINVAL, "errors: buffers NULL");
	j.bufs = bufs;
	bufs[0].access = 0;
	is_int(dmabuf_swdev_submit(dev, &j), -EINVAL, "errors: access 0");
	bufs[0].access = 4;
	is_int(dmabuf_swdev_submit(dev, &j), -EINVAL, "errors: access 4");

	/* the second buffer is bad: the first must not keep a fence */
	j.nbufs = 2;
	bufs[0] = (struct dmabuf_swdev_buf){ .fd = buf, .access = SW_WR };
	bufs[1] = (struct dmabuf_swdev_buf){ .fd = -1, .access = SW_RD };
	is_int(dmabuf_swdev_submit(dev, &j), -EBADF, "errors: buffer -1");
	bufs[1].fd = closed;
	is_int(dmabuf_swdev_submit(dev, &j), -EBADF, "errors: a buffer descriptor not open");
	bufs[1].fd = memfd;
	is_int(dmabuf_swdev_submit(dev, &j), -ENOTTY, "errors: a memfd is no dma-buf");
	bufs[1].fd = sf;
	is_int(dmabuf_swdev_submit(dev, &j), -ENOTTY, "errors: a sync_file is no dma-buf");
	bufs[1] = (struct dmabuf_swdev_buf){ .fd = ro, .access = SW_WR };
	is_int(dmabuf_swdev_submit(dev, &j), -EACCES,
	       "errors: writing through a read-only descriptor");
	bufs[1].access = SW_RW;
	is_int(dmabuf_swdev_submit(dev, &j), -EACCES, "errors: read-write, the same");
	device_still_good(dev, buf, "errors: after bad buffers");
	bufs[1].access = SW_RD;
	f = dmabuf_swdev_submit(dev, &j);
	ok(f >= 0 && signals(f), "errors: reading through a read-only descriptor is fine (%d)", f);
	xclose(f);

	j.nbufs = 1;
	j.in_fences = in;
	j.nin = 2;
	in[1] = -1;
	is_int(dmabuf_swdev_submit(dev, &j), -EBADF, "errors: fence -1");
	in[1] = closed;
	is_int(dmabuf_swdev_submit(dev, &j), -EBADF, "errors: a fence descriptor not open");
	in[1] = memfd;
	is_int(dmabuf_swdev_submit(dev, &j), -ENOTTY, "errors: a memfd is no sync_file");
	in[1] = buf;
	is_int(dmabuf_swdev_submit(dev, &j), -ENOTTY, "errors: a dma-buf is no sync_file");
	in[1] = tl;
	is_int(dmabuf_swdev_submit(dev, &j), -ENOTTY, "errors: a timeline is no sync_file");
	device_still_good(dev, buf, "errors: after bad fences");

	/* out of memory at each allocation of a submission in turn */
	j.nin = 0;
	for (k = 0, ret = -ENOMEM; ret == -ENOMEM && k < 64; k++) {
		dmabuf_fault_inject_alloc(k, 1);
		ret = dmabuf_swdev_submit(dev, &j);
		injected = dmabuf_fault_injected();
		dmabuf_fault_inject_alloc(0, 0);
		if (ret < 0 && (ret != -ENOMEM || injected != 1 || export_pending(buf, WR)))
			break;
	}
	ok(ret >= 0 && k > 1, "errors: -ENOMEM at each of %u allocations, no fence added", k - 1);
	if (ret >= 0) {
		ok(signals(ret), "errors: then the submission succeeds");
		close(ret);
	} else {
		diag("allocation %u: %d, %u injected", k - 1, ret, injected);
	}
	device_still_good(dev, buf, "errors: after -ENOMEM");

	close(memfd);
	close(sf);
	close(tl);
	close(ro);
	close(buf);
	dmabuf_swdev_destroy(dev);
}

/* ---- the coherency checker does not see device views ---- */

/*
 * --check-child (run with the checker on): jobs write and read an incoherent buffer that the
 * process also maps on the CPU, with the CPU outside any bracket meanwhile; then one CPU read
 * outside a bracket, the only violation there must be.
 */
static int check_child(void)
{
	int buf = dmabuf_fd_heap_alloc("incoherent", page, O_RDWR | O_CLOEXEC, 0);
	volatile unsigned char *cpu;
	struct dmabuf_swdev *dev;
	struct probe w, r;
	int f1, f2;
	void *v;

	if (buf < 0 || dmabuf_fd_buf_mmap(buf, NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, 0,
					  &v) || dmabuf_swdev_create("checked", &dev))
		return 2;
	probe_init(&w, 0x42);
	probe_init(&r, 0);
	f1 = submit(dev, buf, SW_WR, NULL, 0, &w);
	f2 = submit(dev, buf, SW_RD, NULL, 0, &r);
	if (f1 < 0 || f2 < 0 || !signals(f2) || atomic_load(&r.seen) != 0x42)
		return 3;
	dmabuf_swdev_destroy(dev);
	cpu = v;
	(void)cpu[5];
	if (dmabuf_fd_buf_sync(buf, RD) || cpu[5] != 0x42 || dmabuf_fd_buf_sync(buf, END | RD))
		return 4;
	dmabuf_fd_buf_munmap(v, page);
	close(f1);
	close(f2);
	close(buf);
	return 0;
}

static void test_checker(void)
{
	char report[160], text[8192] = "", *line;
	int st;

	if (on_kernel) {
		skip("checker: the incoherent heap is the broker's");
		return;
	}
	private_dir_make();
	snprintf(report, sizeof(report), "%s/check.jsonl", private_dir);
	st = checked_run("test_swdev", report, text, sizeof(text));
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "checker: the checked program ran (%#x)", st);
	line = strstr(text, "\"type\":\"violation\"");
	ok(line && strstr(line, "\"kind\":\"access-outside-bracket\"") &&
	   strstr(line, "\"offset\":5,"),
	   "checker: it was on (the CPU's own read outside a bracket is reported)");
	ok(line && !strstr(line + 1, "\"type\":\"violation\""),
	   "checker: the jobs' accesses to their device view are not");
	ok(strstr(text, "\"violations\":1") != NULL, "checker: one violation in the summary");
	if (!line)
		diag("report: %s", text);
}

/* ---- trace events ---- */

/* --trace-child (run with DMABUF_TRACE_DIR): one writing job on one buffer. */
static int trace_child(void)
{
	int buf = dmabuf_fd_heap_alloc("system", page, O_RDWR | O_CLOEXEC, 0), f;
	struct dmabuf_swdev *dev;
	struct probe p;

	if (buf < 0 || dmabuf_swdev_create("traced", &dev))
		return 2;
	probe_init(&p, 1);
	f = submit(dev, buf, SW_WR, NULL, 0, &p);
	if (f < 0 || !signals(f))
		return 3;
	dmabuf_swdev_destroy(dev);
	close(f);
	close(buf);
	return 0;
}

/* the line of @text with "ev":"@ev" (and @also, if not NULL), or NULL */
static const char *event(const char *text, const char *ev, const char *also)
{
	char key[64];
	const char *l, *end;

	snprintf(key, sizeof(key), "\"ev\":\"%s\"", ev);
	for (l = text; (l = strstr(l, key)); l = end) {
		while (l > text && l[-1] != '\n')
			l--;
		end = strchr(l, '\n');
		if (!end)
			end = l + strlen(l);
		if (!also || (memmem(l, (size_t)(end - l), also, strlen(also))))
			return l;
	}
	return NULL;
}

/* the unsigned number after "@key": in line @l, or 0 */
static unsigned long long field(const char *l, const char *key)
{
	char k[32];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = l ? strstr(l, k) : NULL;
	return p && p < strchr(l, '\n') ? strtoull(p + strlen(k), NULL, 10) : 0;
}

static void test_trace(void)
{
	char dir[160], path[200], text[16384] = "";
	const char *att, *sub, *beg, *end, *det;
	int st = -1, fd;
	ssize_t n;
	pid_t pid;

	private_dir_make();
	snprintf(dir, sizeof(dir), "%s/trace", private_dir);
	if (mkdir(dir, 0700))
		bail_out("mkdir %s: %s", dir, strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork");
	if (pid == 0) {
		setenv("DMABUF_TRACE_DIR", dir, 1);
		execl("/proc/self/exe", "test_swdev", "--trace-child", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "trace: the traced program ran (%#x)", st);
	snprintf(path, sizeof(path), "%s/%d.jsonl", dir, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
	xclose(fd);
	unlink(path);
	rmdir(dir);
	text[n > 0 ? n : 0] = '\0';
	att = event(text, "attach", "\"dev\":\"traced\"");
	sub = event(text, "job_submit", "\"dev\":\"traced\"");
	beg = event(text, "job_begin", "\"dev\":\"traced\"");
	end = event(text, "job_end", "\"dev\":\"traced\"");
	det = event(text, "detach", "\"dev\":\"traced\"");
	if (!ok(att && sub && beg && end && det,
		"trace: attach, job_submit, job_begin, job_end, detach recorded")) {
		diag("trace: %s", text);
		return;
	}
	ok(field(att, "ts") <= field(sub, "ts") && field(sub, "ts") <= field(beg, "ts") &&
	   field(beg, "ts") <= field(end, "ts") && field(end, "ts") <= field(det, "ts"),
	   "trace: in that order");
	ok(field(sub, "job") == 1 && field(beg, "job") == 1 && field(end, "job") == 1,
	   "trace: job 1");
	ok(field(sub, "sf") && field(sub, "sf") == field(beg, "sf") &&
	   field(sub, "sf") == field(end, "sf"), "trace: the same job fence (sf) in the three");
	ok(field(att, "buf") && field(att, "buf") == field(det, "buf"),
	   "trace: attach and detach name the same buffer");
	ok(field(beg, "tid") && field(beg, "tid") != field(sub, "tid"),
	   "trace: the job runs on another thread than the submitter");
}

int main(int argc, char **argv)
{
	const char *backend;

	page = (size_t)sysconf(_SC_PAGESIZE);
	if (argc > 1 && !strcmp(argv[1], "--check-child"))
		return check_child();
	if (argc > 1 && !strcmp(argv[1], "--trace-child"))
		return trace_child();
	private_broker_setup();
	backend = dmabuf_fd_backend_name();
	diag("backend: %s", backend);
	on_kernel = !strcmp(backend, "kernel");
	test_create();
	test_in_fences();
	test_writer_behind_reader();
	test_reader_behind_writer();
	test_fence_usage();
	test_order();
	test_two_devices();
	test_bufs();
	test_udmabuf();
	test_device_view();
	test_wait_idle();
	test_destroy();
	test_threads();
	test_chain();
	test_errors();
	test_checker();
	test_trace();
	return tap_done();
}

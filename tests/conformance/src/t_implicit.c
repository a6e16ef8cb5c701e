// SPDX-License-Identifier: MIT
/* t_implicit.c - implicit sync: fences imported into dma-bufs, exports, poll readiness. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conform.h"

static const struct exporter *ex;

static void begin(const char *what)
{
	case_begin("implicit.%s.%s", ex->name, what);
}

static int newbuf(void)
{
	int fd = ex->make(BUF_SIZE);

	if (fd < 0)
		case_broken("%s buffer: %s", ex->name, errname(-fd));
	return fd;
}

/* what most cases work on: a buffer and pending fences, each on a timeline of its own */
struct fixture {
	int buf;
	int tl[2];
	int f[2];
};

/*
 * Begin case @name with a new buffer and @n (0 to 2) pending fences.  Returns 0, or -1 when the
 * setup failed: the case is then marked broken.
 */
static int fixture_begin(struct fixture *x, const char *name, int n)
{
	int i;

	begin(name);
	x->tl[0] = x->tl[1] = x->f[0] = x->f[1] = -1;
	x->buf = newbuf();
	if (x->buf < 0)
		return -1;
	for (i = 0; i < n; i++) {
		x->f[i] = pending_fence(&x->tl[i]);
		if (x->f[i] < 0) {
			case_broken("sw_sync: %s", errname(-x->f[i]));
			return -1;
		}
	}
	return 0;
}

/* close what is still open and end the case */
static void fixture_end(struct fixture *x)
{
	xclose(x->f[0]);
	xclose(x->f[1]);
	xclose(x->tl[0]);
	xclose(x->tl[1]);
	xclose(x->buf);
	case_end();
}

/* append the export of @buf with @flags as info */
static void out_export(const char *label, int buf, unsigned int flags)
{
	int f = export_fence(buf, flags);

	if (f < 0) {
		out("%s=%s", label, errname(-f));
		return;
	}
	out_info(label, f);
	close(f);
}

static void out_poll(int buf)
{
	out("poll=%s", poll_str(buf, POLLIN | POLLOUT));
}

static void out_count(int buf)
{
	const char *c = fdinfo_field(buf, "count");

	out("count=%s", c ? c : "none");
}

/* one pending fence imported with @flags, then signaled */
static void single(const char *name, unsigned int flags)
{
	struct fixture x;
	int buf;

	if (fixture_begin(&x, name, 1) == 0) {
		buf = x.buf;
		out("import=%s", errname(-import_fence(buf, x.f[0], flags)));
		out("in=%s out=%s", poll_str(buf, POLLIN), poll_str(buf, POLLOUT));
		out_poll(buf);
		out_count(buf);
		out_export("r", buf, DMA_BUF_SYNC_READ);
		out_export("w", buf, DMA_BUF_SYNC_WRITE);
		out_export("rw", buf, DMA_BUF_SYNC_RW);
		out("inc=%s", errname(-tl_inc(x.tl[0], 1)));
		out_poll(buf);
		out_count(buf);
		out_export("w-after", buf, DMA_BUF_SYNC_WRITE);
	}
	fixture_end(&x);
}

/* a read fence R and a write fence W; signal in the given order */
static void read_write(const char *name, int write_first)
{
	struct fixture x;
	int buf, tr, tw;

	if (fixture_begin(&x, name, 2) == 0) {
		buf = x.buf;
		tr = x.tl[0];
		tw = x.tl[1];
		out("imp-r=%s", errname(-import_fence(buf, x.f[0], DMA_BUF_SYNC_READ)));
		out("imp-w=%s", errname(-import_fence(buf, x.f[1], DMA_BUF_SYNC_WRITE)));
		out_poll(buf);
		out_export("r", buf, DMA_BUF_SYNC_READ);
		out_export("w", buf, DMA_BUF_SYNC_WRITE);
		out("inc1=%s", errname(-tl_inc(write_first ? tw : tr, 1)));
		out_poll(buf);
		out_export("w1", buf, DMA_BUF_SYNC_WRITE);
		out("inc2=%s", errname(-tl_inc(write_first ? tr : tw, 1)));
		out_poll(buf);
		out_count(buf);
	}
	fixture_end(&x);
}

static void snapshot(void)
{
	struct fixture x;
	int buf, e1 = -1, e2 = -1;

	if (fixture_begin(&x, "snapshot", 2) == 0) {
		buf = x.buf;
		import_fence(buf, x.f[0], DMA_BUF_SYNC_READ);
		e1 = export_fence(buf, DMA_BUF_SYNC_WRITE);
		out("imp-b=%s", errname(-import_fence(buf, x.f[1], DMA_BUF_SYNC_WRITE)));
		out_info("old", e1);
		e2 = export_fence(buf, DMA_BUF_SYNC_WRITE);
		out_info("new", e2);
		tl_inc(x.tl[1], 1);
		out_info_short("old-after-b", e1);
		out_info_short("new-after-b", e2);
		out_poll(buf);
		tl_inc(x.tl[0], 1);
		out_info_short("old-after-a", e1);
		out_info_short("new-after-a", e2);
		out_poll(buf);
	}
	xclose(e1);
	xclose(e2);
	fixture_end(&x);
}

#define N_TIMELINES 32

static void many_readers(void)
{
	int tl[N_TIMELINES], f[N_TIMELINES];
	int buf, i, n = 0, e;

	begin("32-read-timelines");
	buf = newbuf();
	for (i = 0; buf >= 0 && i < N_TIMELINES; i++, n++) {
		f[i] = pending_fence(&tl[i]);
		if (f[i] < 0) {
			case_broken("sw_sync: %s", errname(-f[i]));
			break;
		}
		e = import_fence(buf, f[i], DMA_BUF_SYNC_READ);
		if (e < 0) {
			case_broken("import %d: %s", i, errname(-e));
			close(f[i]);
			close(tl[i]);
			break;
		}
	}
	if (n == N_TIMELINES) {
		out_poll(buf);
		out_count(buf);
		e = export_fence(buf, DMA_BUF_SYNC_WRITE);
		out_info_short("w", e);
		xclose(e);
		e = export_fence(buf, DMA_BUF_SYNC_READ);
		out_info_short("r", e);
		xclose(e);
		/* signal all but the 17th */
		for (i = 0; i < N_TIMELINES; i++)
			if (i != 16)
				tl_inc(tl[i], 1);
		out_poll(buf);
		e = export_fence(buf, DMA_BUF_SYNC_WRITE);
		out_info_short("w-one-left", e);
		xclose(e);
		tl_inc(tl[16], 1);
		out_poll(buf);
		out_count(buf);
	}
	for (i = 0; i < n; i++) {
		close(f[i]);
		close(tl[i]);
	}
	xclose(buf);
	case_end();
}

/* two points of one timeline imported in the order @first, @second */
static void same_timeline(const char *name, unsigned int first, unsigned int second)
{
	struct fixture x;
	int buf, tl;

	if (fixture_begin(&x, name, 0) < 0)
		goto out;
	buf = x.buf;
	tl = x.tl[0] = tl_open();
	if (tl >= 0) {
		x.f[0] = tl_fence(tl, first);
		x.f[1] = tl_fence(tl, second);
	}
	if (x.f[0] < 0 || x.f[1] < 0) {
		case_broken("sw_sync");
		goto out;
	}
	import_fence(buf, x.f[0], DMA_BUF_SYNC_READ);
	import_fence(buf, x.f[1], DMA_BUF_SYNC_READ);
	out_export("w", buf, DMA_BUF_SYNC_WRITE);
	tl_inc(tl, 1);
	out_poll(buf);
	out_export("w-at-1", buf, DMA_BUF_SYNC_WRITE);
	tl_inc(tl, 1);
	out_poll(buf);
out:
	fixture_end(&x);
}

/* the same fence imported twice with different usages */
static void usage_change(const char *name, unsigned int first, unsigned int second)
{
	struct fixture x;
	int buf;

	if (fixture_begin(&x, name, 1) == 0) {
		buf = x.buf;
		import_fence(buf, x.f[0], first);
		import_fence(buf, x.f[0], second);
		out_poll(buf);
		out_export("r", buf, DMA_BUF_SYNC_READ);
		out_export("w", buf, DMA_BUF_SYNC_WRITE);
		tl_inc(x.tl[0], 1);
		out_poll(buf);
	}
	fixture_end(&x);
}

static void merged_import(void)
{
	struct sync_merge_data m;
	struct fixture x;
	int buf;

	if (fixture_begin(&x, "import-merged", 2) < 0)
		goto out;
	buf = x.buf;
	memset(&m, 0, sizeof(m));
	strcpy(m.name, "ab");
	m.fd2 = x.f[1];
	if (ioctl(x.f[0], SYNC_IOC_MERGE, &m) < 0) {
		case_broken("merge: %s", errname(errno));
		goto out;
	}
	out("imp=%s", errname(-import_fence(buf, m.fence, DMA_BUF_SYNC_WRITE)));
	out_export("r", buf, DMA_BUF_SYNC_READ);
	tl_inc(x.tl[0], 1);
	out_poll(buf);
	out_export("r-after-a", buf, DMA_BUF_SYNC_READ);
	tl_inc(x.tl[1], 1);
	out_poll(buf);
	close(m.fence);
out:
	fixture_end(&x);
}

static void error_fences(void)
{
	struct fixture x;
	int buf;

	if (fixture_begin(&x, "pending-then-timeline-closed", 1) == 0) {
		buf = x.buf;
		import_fence(buf, x.f[0], DMA_BUF_SYNC_WRITE);
		out_poll(buf);
		close(x.tl[0]);
		x.tl[0] = -1;
		out_poll(buf);
		out_count(buf);
		out_export("w", buf, DMA_BUF_SYNC_WRITE);
		out_info("imported", x.f[0]);
	}
	fixture_end(&x);

	if (fixture_begin(&x, "import-error-fence", 1) == 0) {
		buf = x.buf;
		close(x.tl[0]);
		x.tl[0] = -1;
		out("imp=%s", errname(-import_fence(buf, x.f[0], DMA_BUF_SYNC_WRITE)));
		out_poll(buf);
		out_export("w", buf, DMA_BUF_SYNC_WRITE);
	}
	fixture_end(&x);
}

/* every poll() that finds a pending fence pins the file until that fence signals */
static void poll_pins_file(void)
{
	struct fixture x;
	int buf;

	if (fixture_begin(&x, "poll-pins-file", 1) == 0) {
		buf = x.buf;
		import_fence(buf, x.f[0], DMA_BUF_SYNC_WRITE);
		out_count(buf);
		out("in=%s", poll_str(buf, POLLIN));
		out_count(buf);
		out("in=%s", poll_str(buf, POLLIN));
		out_count(buf);
		out("out=%s", poll_str(buf, POLLOUT));
		out_count(buf);
		out("both=%s", poll_str(buf, POLLIN | POLLOUT));
		out_count(buf);
		tl_inc(x.tl[0], 1);
		out_count(buf);
		out_poll(buf);
		out_count(buf);
	}
	fixture_end(&x);
}

/* a fence exported from one buffer and imported into another */
static void share_between_buffers(void)
{
	int a, b, tl = -1, f, e;

	begin("export-into-other-buffer");
	a = newbuf();
	b = newbuf();
	f = a >= 0 && b >= 0 ? pending_fence(&tl) : -1;
	if (f >= 0) {
		import_fence(a, f, DMA_BUF_SYNC_WRITE);
		e = export_fence(a, DMA_BUF_SYNC_READ);
		out("imp=%s", errname(-import_fence(b, e, DMA_BUF_SYNC_READ)));
		out("a=%s b=%s", poll_str(a, POLLIN | POLLOUT), poll_str(b, POLLIN | POLLOUT));
		out_export("b-w", b, DMA_BUF_SYNC_WRITE);
		tl_inc(tl, 1);
		out("a=%s b=%s", poll_str(a, POLLIN | POLLOUT), poll_str(b, POLLIN | POLLOUT));
		xclose(e);
	} else if (a >= 0 && b >= 0) {
		case_broken("sw_sync");
	}
	xclose(f);
	xclose(tl);
	xclose(a);
	xclose(b);
	case_end();
}

/* CPU access brackets that need not wait */
static void sync_no_wait(void)
{
	struct dma_buf_sync s;
	struct fixture x;
	int buf;

	if (fixture_begin(&x, "sync-start-read-with-read-fence", 1) == 0) {
		buf = x.buf;
		import_fence(buf, x.f[0], DMA_BUF_SYNC_READ);
		s.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ;
		out("start=%s", res(ioctl(buf, DMA_BUF_IOCTL_SYNC, &s)));
		s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
		out("end=%s", res(ioctl(buf, DMA_BUF_IOCTL_SYNC, &s)));
		s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE;
		out("end-write=%s", res(ioctl(buf, DMA_BUF_IOCTL_SYNC, &s)));
		out_info_short("fence", x.f[0]);
	}
	fixture_end(&x);
}

void t_implicit(void)
{
	unsigned int i;

	for (i = 0; i < n_exporters; i++) {
		ex = &exporters[i];
		single("read-pending", DMA_BUF_SYNC_READ);
		single("write-pending", DMA_BUF_SYNC_WRITE);
		single("rw-import-pending", DMA_BUF_SYNC_RW);
		read_write("read-write-signal-write-first", 1);
		read_write("read-write-signal-read-first", 0);
		snapshot();
		many_readers();
		same_timeline("same-timeline-1-then-2", 1, 2);
		same_timeline("same-timeline-2-then-1", 2, 1);
		usage_change("same-fence-read-then-write", DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE);
		usage_change("same-fence-write-then-read", DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_READ);
		merged_import();
		error_fences();
		poll_pins_file();
		share_between_buffers();
		sync_no_wait();
	}
}

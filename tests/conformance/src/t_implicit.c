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
	int buf, tl = -1, f;

	begin(name);
	buf = newbuf();
	f = buf < 0 ? -1 : pending_fence(&tl);
	if (buf >= 0 && f < 0)
		case_broken("sw_sync: %s", errname(-f));
	if (f >= 0) {
		out("import=%s", errname(-import_fence(buf, f, flags)));
		out("in=%s out=%s", poll_str(buf, POLLIN), poll_str(buf, POLLOUT));
		out_poll(buf);
		out_count(buf);
		out_export("r", buf, DMA_BUF_SYNC_READ);
		out_export("w", buf, DMA_BUF_SYNC_WRITE);
		out_export("rw", buf, DMA_BUF_SYNC_RW);
		out("inc=%s", errname(-tl_inc(tl, 1)));
		out_poll(buf);
		out_count(buf);
		out_export("w-after", buf, DMA_BUF_SYNC_WRITE);
	}
	xclose(f);
	xclose(tl);
	xclose(buf);
	case_end();
}

/* a read fence R and a write fence W; signal in the given order */
static void read_write(const char *name, int write_first)
{
	int buf, tr = -1, tw = -1, fr = -1, fw = -1;

	begin(name);
	buf = newbuf();
	if (buf >= 0) {
		fr = pending_fence(&tr);
		fw = pending_fence(&tw);
	}
	if (buf >= 0 && (fr < 0 || fw < 0))
		case_broken("sw_sync");
	if (fr >= 0 && fw >= 0) {
		out("imp-r=%s", errname(-import_fence(buf, fr, DMA_BUF_SYNC_READ)));
		out("imp-w=%s", errname(-import_fence(buf, fw, DMA_BUF_SYNC_WRITE)));
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
	xclose(fr);
	xclose(fw);
	xclose(tr);
	xclose(tw);
	xclose(buf);
	case_end();
}

static void snapshot(void)
{
	int buf, ta = -1, tb = -1, fa = -1, fb = -1, e1 = -1, e2 = -1;

	begin("snapshot");
	buf = newbuf();
	if (buf >= 0) {
		fa = pending_fence(&ta);
		fb = pending_fence(&tb);
	}
	if (buf >= 0 && (fa < 0 || fb < 0))
		case_broken("sw_sync");
	if (fa >= 0 && fb >= 0) {
		import_fence(buf, fa, DMA_BUF_SYNC_READ);
		e1 = export_fence(buf, DMA_BUF_SYNC_WRITE);
		out("imp-b=%s", errname(-import_fence(buf, fb, DMA_BUF_SYNC_WRITE)));
		out_info("old", e1);
		e2 = export_fence(buf, DMA_BUF_SYNC_WRITE);
		out_info("new", e2);
		tl_inc(tb, 1);
		out_info_short("old-after-b", e1);
		out_info_short("new-after-b", e2);
		out_poll(buf);
		tl_inc(ta, 1);
		out_info_short("old-after-a", e1);
		out_info_short("new-after-a", e2);
		out_poll(buf);
	}
	xclose(e1);
	xclose(e2);
	xclose(fa);
	xclose(fb);
	xclose(ta);
	xclose(tb);
	xclose(buf);
	case_end();
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
	int buf, tl, f1 = -1, f2 = -1;

	begin(name);
	buf = newbuf();
	tl = buf >= 0 ? tl_open() : -1;
	if (tl >= 0) {
		f1 = tl_fence(tl, first);
		f2 = tl_fence(tl, second);
	}
	if (buf >= 0 && (f1 < 0 || f2 < 0))
		case_broken("sw_sync");
	if (f1 >= 0 && f2 >= 0) {
		import_fence(buf, f1, DMA_BUF_SYNC_READ);
		import_fence(buf, f2, DMA_BUF_SYNC_READ);
		out_export("w", buf, DMA_BUF_SYNC_WRITE);
		tl_inc(tl, 1);
		out_poll(buf);
		out_export("w-at-1", buf, DMA_BUF_SYNC_WRITE);
		tl_inc(tl, 1);
		out_poll(buf);
	}
	xclose(f1);
	xclose(f2);
	xclose(tl);
	xclose(buf);
	case_end();
}

/* the same fence imported twice with different usages */
static void usage_change(const char *name, unsigned int first, unsigned int second)
{
	int buf, tl = -1, f;

	begin(name);
	buf = newbuf();
	f = buf >= 0 ? pending_fence(&tl) : -1;
	if (buf >= 0 && f < 0)
		case_broken("sw_sync");
	if (f >= 0) {
		import_fence(buf, f, first);
		import_fence(buf, f, second);
		out_poll(buf);
		out_export("r", buf, DMA_BUF_SYNC_READ);
		out_export("w", buf, DMA_BUF_SYNC_WRITE);
		tl_inc(tl, 1);
		out_poll(buf);
	}
	xclose(f);
	xclose(tl);
	xclose(buf);
	case_end();
}

static void merged_import(void)
{
	struct sync_merge_data m;
	int buf, ta = -1, tb = -1, fa = -1, fb = -1;

	begin("import-merged");
	buf = newbuf();
	if (buf >= 0) {
		fa = pending_fence(&ta);
		fb = pending_fence(&tb);
	}
	if (buf >= 0 && (fa < 0 || fb < 0))
		case_broken("sw_sync");
	if (fa >= 0 && fb >= 0) {
		memset(&m, 0, sizeof(m));
		strcpy(m.name, "ab");
		m.fd2 = fb;
		if (ioctl(fa, SYNC_IOC_MERGE, &m) < 0) {
			case_broken("merge: %s", errname(errno));
		} else {
			out("imp=%s", errname(-import_fence(buf, m.fence, DMA_BUF_SYNC_WRITE)));
			out_export("r", buf, DMA_BUF_SYNC_READ);
			tl_inc(ta, 1);
			out_poll(buf);
			out_export("r-after-a", buf, DMA_BUF_SYNC_READ);
			tl_inc(tb, 1);
			out_poll(buf);
			close(m.fence);
		}
	}
	xclose(fa);
	xclose(fb);
	xclose(ta);
	xclose(tb);
	xclose(buf);
	case_end();
}

static void error_fences(void)
{
	int buf, tl = -1, f;

	begin("pending-then-timeline-closed");
	buf = newbuf();
	f = buf >= 0 ? pending_fence(&tl) : -1;
	if (f >= 0) {
		import_fence(buf, f, DMA_BUF_SYNC_WRITE);
		out_poll(buf);
		close(tl);
		tl = -1;
		out_poll(buf);
		out_count(buf);
		out_export("w", buf, DMA_BUF_SYNC_WRITE);
		out_info("imported", f);
	} else if (buf >= 0) {
		case_broken("sw_sync");
	}
	xclose(f);
	xclose(buf);
	case_end();

	begin("import-error-fence");
	buf = newbuf();
	f = buf >= 0 ? pending_fence(&tl) : -1;
	if (f >= 0) {
		close(tl);
		tl = -1;
		out("imp=%s", errname(-import_fence(buf, f, DMA_BUF_SYNC_WRITE)));
		out_poll(buf);
		out_export("w", buf, DMA_BUF_SYNC_WRITE);
	} else if (buf >= 0) {
		case_broken("sw_sync");
	}
	xclose(f);
	xclose(buf);
	case_end();
}

/* every poll() that finds a pending fence pins the file until that fence signals */
static void poll_pins_file(void)
{
	int buf, tl = -1, f;

	begin("poll-pins-file");
	buf = newbuf();
	f = buf >= 0 ? pending_fence(&tl) : -1;
	if (f >= 0) {
		import_fence(buf, f, DMA_BUF_SYNC_WRITE);
		out_count(buf);
		out("in=%s", poll_str(buf, POLLIN));
		out_count(buf);
		out("in=%s", poll_str(buf, POLLIN));
		out_count(buf);
		out("out=%s", poll_str(buf, POLLOUT));
		out_count(buf);
		out("both=%s", poll_str(buf, POLLIN | POLLOUT));
		out_count(buf);
		tl_inc(tl, 1);
		out_count(buf);
		out_poll(buf);
		out_count(buf);
	} else if (buf >= 0) {
		case_broken("sw_sync");
	}
	xclose(f);
	xclose(tl);
	xclose(buf);
	case_end();
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
	int buf, tl = -1, f;

	begin("sync-start-read-with-read-fence");
	buf = newbuf();
	f = buf >= 0 ? pending_fence(&tl) : -1;
	if (f >= 0) {
		import_fence(buf, f, DMA_BUF_SYNC_READ);
		s.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ;
		out("start=%s", res(ioctl(buf, DMA_BUF_IOCTL_SYNC, &s)));
		s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
		out("end=%s", res(ioctl(buf, DMA_BUF_IOCTL_SYNC, &s)));
		s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE;
		out("end-write=%s", res(ioctl(buf, DMA_BUF_IOCTL_SYNC, &s)));
		out_info_short("fence", f);
	} else if (buf >= 0) {
		case_broken("sw_sync");
	}
	xclose(f);
	xclose(tl);
	xclose(buf);
	case_end();
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

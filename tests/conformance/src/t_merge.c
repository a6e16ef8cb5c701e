// SPDX-License-Identifier: MIT
/* t_merge.c - SYNC_IOC_MERGE: timelines, duplicates, signaled parts, names and errors. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conform.h"

/* merge @a and @b; the new fd or -errno */
static int merge(int a, int b, const char *name)
{
	struct sync_merge_data m;

	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.fd2 = b;
	m.fence = -1;
	if (ioctl(a, SYNC_IOC_MERGE, &m) < 0)
		return -errno;
	return m.fence;
}

/* merge and describe the result */
static int merge_out(int a, int b, const char *name)
{
	int m = merge(a, b, name);

	if (m < 0)
		out("merge=%s", errname(-m));
	else
		out_info("m", m);
	return m;
}

/* timestamps of a one-fence sync_file */
static __u64 fence_ts(int fd)
{
	struct sync_fence_info fi[8];
	struct sync_file_info info;

	memset(&info, 0, sizeof(info));
	memset(fi, 0, sizeof(fi));
	info.num_fences = 8;
	info.sync_fence_info = (uintptr_t)fi;
	if (ioctl(fd, SYNC_IOC_FILE_INFO, &info) < 0 || info.num_fences < 1)
		return 0;
	return fi[0].timestamp_ns;
}

static void timelines(void)
{
	int t1 = tl_open(), t2 = tl_open(), a, b, m;

	case_begin("merge.two-timelines");
	if (t1 < 0 || t2 < 0) {
		case_broken("sw_sync");
		case_end();
		goto out;
	}
	a = tl_fence(t1, 1);
	b = tl_fence(t2, 1);
	/* second timeline first: the result is ordered by context anyway */
	m = merge_out(b, a, "two");
	out("mode=%s", fd_mode(m));
	tl_inc(t1, 1);
	out_info("after-t1", m);
	out_info_short("agg", m);
	tl_inc(t2, 1);
	out_info("after-t2", m);
	case_end();
	xclose(m);

	case_begin("merge.same-timeline-1-2");
	m = merge_out(tl_fence(t1, 3), tl_fence(t1, 2), "same");
	tl_inc(t1, 1);
	out_info_short("at-2", m);
	tl_inc(t1, 1);
	out_info_short("at-3", m);
	case_end();
	xclose(m);

	case_begin("merge.same-timeline-2-1");
	a = tl_fence(t1, 5);
	b = tl_fence(t1, 4);
	m = merge_out(b, a, "same");
	tl_inc(t1, 1);
	out_info_short("at-4", m);
	tl_inc(t1, 1);
	out_info_short("at-5", m);
	case_end();
	xclose(m);
	xclose(a);
	xclose(b);

	case_begin("merge.self");
	a = tl_fence(t1, 10);
	m = merge_out(a, a, "self");
	case_end();
	xclose(m);
	case_begin("merge.same-value-twice");
	b = tl_fence(t1, 10);
	m = merge_out(a, b, "twice");
	tl_inc(t1, 4);
	out_info_short("a", a);
	out_info_short("b", b);
	out_info_short("m", m);
	case_end();
	xclose(a);
	xclose(b);
	xclose(m);
out:
	xclose(t1);
	xclose(t2);
}

static void signaled_parts(void)
{
	int t1 = tl_open(), t2 = tl_open(), a, b, m, tl = -1, e;
	__u64 ta, tb, tm;

	case_begin("merge.signaled-first");
	if (t1 < 0 || t2 < 0) {
		case_broken("sw_sync");
		case_end();
		goto out;
	}
	a = tl_fence(t1, 0);
	b = tl_fence(t2, 1);
	m = merge_out(a, b, "sig-pend");
	case_end();
	xclose(m);
	case_begin("merge.signaled-second");
	m = merge_out(b, a, "pend-sig");
	case_end();
	xclose(m);
	tl_inc(t2, 1);
	case_begin("merge.both-signaled");
	m = merge_out(a, b, "both");
	ta = fence_ts(a);
	tb = fence_ts(b);
	tm = m >= 0 ? fence_ts(m) : 0;
	out("ts=%s", tm == (ta > tb ? ta : tb) ? "latest-input" : tm ? "other" : "zero");
	out("mode=%s", fd_mode(m));
	expect("m{n=1 st=1 name='both' [stub/stub st=1 fl=0 ts=1]} ts=latest-input mode=ro/cloexec");
	case_end();
	xclose(m);
	case_begin("merge.both-signaled-reversed");
	m = merge_out(b, a, "both");
	tm = m >= 0 ? fence_ts(m) : 0;
	out("ts=%s", tm == (ta > tb ? ta : tb) ? "latest-input" : tm ? "other" : "zero");
	case_end();
	xclose(m);
	case_begin("merge.signaled-self");
	m = merge_out(a, a, "self");
	case_end();
	xclose(m);
	xclose(a);
	xclose(b);

	/* an error fence is signaled too */
	e = pending_fence(&tl);
	b = tl_fence(t2, 5);
	case_begin("merge.error-and-pending");
	if (e < 0 || b < 0) {
		case_broken("sw_sync");
	} else {
		close(tl);
		tl = -1;
		m = merge_out(e, b, "err");
		xclose(m);
	}
	case_end();
	case_begin("merge.error-and-error");
	m = e >= 0 ? merge_out(e, e, "err2") : -1;
	case_end();
	xclose(m);
	case_begin("merge.error-and-stub");
	{
		int buf = heap_buf(PAGE, O_RDWR | O_CLOEXEC);
		int stub = buf >= 0 ? export_fence(buf, DMA_BUF_SYNC_READ) : -1;

		m = e >= 0 && stub >= 0 ? merge_out(e, stub, "err-stub") : -1;
		xclose(m);
		xclose(stub);
		xclose(buf);
	}
	case_end();
	xclose(e);
	xclose(b);
	xclose(tl);
out:
	xclose(t1);
	xclose(t2);
}

#define N_NEST 6

static void nesting(void)
{
	int t[N_NEST], f[N_NEST], ab, bc, abc, all, i, n = 0;

	for (i = 0; i < N_NEST; i++, n++) {
		t[i] = tl_open();
		if (t[i] < 0)
			break;
		f[i] = tl_fence(t[i], 1);
	}
	case_begin("merge.nested");
	if (n < N_NEST) {
		case_broken("sw_sync");
		case_end();
		goto out;
	}
	ab = merge(f[0], f[1], "ab");
	bc = merge(f[1], f[2], "bc");
	abc = merge_out(ab, bc, "abc");
	case_end();
	case_begin("merge.nested-with-more");
	all = merge(abc, f[3], "abcd");
	xclose(abc);
	abc = merge(all, f[4], "abcde");
	xclose(all);
	all = merge_out(f[5], abc, "all");
	out_info_short("agg", all);
	for (i = 0; i < N_NEST - 1; i++)
		tl_inc(t[i], 1);
	out_info_short("five-signaled", all);
	tl_inc(t[N_NEST - 1], 1);
	out_info_short("all-signaled", all);
	case_end();
	xclose(ab);
	xclose(bc);
	xclose(abc);
	xclose(all);
	case_begin("merge.nested-later-points");
	{
		/* {t0@3, t1@2} merged with {t0@2, t1@3}: one point per timeline, the later one */
		int x = merge(tl_fence(t[0], 3), tl_fence(t[1], 2), "x");
		int y = merge(tl_fence(t[0], 2), tl_fence(t[1], 3), "y");
		int m = merge_out(x, y, "xy");

		tl_inc(t[0], 1);
		tl_inc(t[1], 1);
		out_info("at-2", m);
		xclose(x);
		xclose(y);
		xclose(m);
	}
	case_end();
out:
	for (i = 0; i < n; i++) {
		close(f[i]);
		close(t[i]);
	}
}

static void names(void)
{
	static const char n31[] = "abcdefghijklmnopqrstuvwxyz01234";
	struct sync_merge_data m;
	struct sync_file_info info;
	int tl = tl_open(), a, r;

	if (tl < 0)
		return;
	a = tl_fence(tl, 1);
	case_begin("merge.name.31");
	r = merge(a, a, n31);
	out_info("m", r);
	case_end();
	xclose(r);
	case_begin("merge.name.32-unterminated");
	memset(&m, 0, sizeof(m));
	memset(m.name, 'q', sizeof(m.name));
	m.fd2 = a;
	r = ioctl(a, SYNC_IOC_MERGE, &m);
	out("%s", res(r));
	if (r >= 0) {
		memset(&info, 0, sizeof(info));
		ioctl(m.fence, SYNC_IOC_FILE_INFO, &info);
		out("name='%.32s' len=%zu", info.name, strnlen(info.name, sizeof(info.name)));
		close(m.fence);
	}
	case_end();
	case_begin("merge.name.empty");
	r = merge(a, a, "");
	out_info("m", r);
	case_end();
	xclose(r);
	case_begin("merge.fence-field-ignored");
	memset(&m, 0, sizeof(m));
	m.fd2 = a;
	m.fence = 12345;
	r = ioctl(a, SYNC_IOC_MERGE, &m);
	out("%s fence=%s", res(r), r < 0 ? "-" : m.fence == 12345 ? "unchanged" : "new");
	if (r >= 0 && m.fence != 12345)
		close(m.fence);
	case_end();
	close(a);
	close(tl);
}

static void merge_raw(const char *name, int fd, int fd2, __u32 flags, __u32 pad, const char *spec)
{
	struct sync_merge_data m;
	int r;

	memset(&m, 0, sizeof(m));
	strcpy(m.name, "e");
	m.fd2 = fd2;
	m.flags = flags;
	m.pad = pad;
	case_begin("merge.error.%s", name);
	r = ioctl(fd, SYNC_IOC_MERGE, &m);
	out("%s", res(r));
	if (r >= 0)
		close(m.fence);
	if (spec)
		expect(spec);
	case_end();
}

static void errors(void)
{
	int tl = tl_open(), a, closed, p[2] = { -1, -1 }, buf;

	if (tl < 0)
		return;
	a = tl_fence(tl, 1);
	closed = closed_fd();
	buf = heap_buf(PAGE, O_RDWR | O_CLOEXEC);
	if (pipe(p) < 0)
		p[0] = p[1] = -1;
	merge_raw("flags1", a, a, 1, 0, "EINVAL");
	merge_raw("flags-bit31", a, a, 0x80000000u, 0, "EINVAL");
	merge_raw("pad1", a, a, 0, 1, "EINVAL");
	merge_raw("flags1-bad-fd2", a, -1, 1, 0, "EINVAL");
	merge_raw("fd2-minus-1", a, -1, 0, 0, "ENOENT");
	merge_raw("fd2-closed", a, closed, 0, 0, "ENOENT");
	merge_raw("fd2-dma-buf", a, buf, 0, 0, "ENOENT");
	merge_raw("fd2-pipe", a, p[0], 0, 0, "ENOENT");
	merge_raw("fd2-timeline", a, tl, 0, 0, "ENOENT");
	merge_raw("fd-closed", closed, a, 0, 0, "EBADF");
	merge_raw("fd-dma-buf", buf, a, 0, 0, "ENOTTY");
	merge_raw("fd-pipe", p[0], a, 0, 0, "ENOTTY");
	merge_raw("fd-timeline", tl, a, 0, 0, "ENOTTY");
	one_expect("merge.error.null-arg", res(ioctl(a, SYNC_IOC_MERGE, NULL)), "EFAULT");
	xclose(p[0]);
	xclose(p[1]);
	xclose(buf);
	close(a);
	close(tl);
}

void t_merge(void)
{
	timelines();
	signaled_parts();
	nesting();
	names();
	errors();
}

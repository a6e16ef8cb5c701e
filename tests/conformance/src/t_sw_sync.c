// SPDX-License-Identifier: MIT
/* t_sw_sync.c - sw_sync timelines: points, INC, 32-bit wrap, close, deadlines, bad calls. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conform.h"

static void create_cases(void)
{
	struct conform_sw_sync_create_fence d;
	int tl = tl_open(), f0, f5, f5b, r;

	case_begin("sw_sync.open");
	out("%s", tl < 0 ? errname(-tl) : "fd");
	if (tl < 0)
		case_broken("no sw_sync timeline");
	case_end();
	if (tl < 0)
		return;
	case_begin("sw_sync.create.value0-born-signaled");
	f0 = tl_fence(tl, 0);
	out_info("f", f0);
	out("poll=%s mode=%s", poll_str(f0, POLLIN), fd_mode(f0));
	expect("f{n=1 st=1 name='sw_sync-<comm>#1-0' [sw_sync/<comm> st=1 fl=0 ts=1]} poll=IN "
	       "mode=ro/cloexec");
	case_end();
	case_begin("sw_sync.create.value5-pending");
	f5 = tl_fence(tl, 5);
	out_info("f", f5);
	out("poll=%s", poll_str(f5, POLLIN));
	case_end();
	case_begin("sw_sync.create.name-ignored");
	memset(&d, 0, sizeof(d));
	d.value = 6;
	strcpy(d.name, "my-name");
	r = ioctl(tl, CONFORM_SW_SYNC_CREATE_FENCE, &d);
	out("%s", res(r));
	if (r >= 0) {
		out_info("f", d.fence);
		close(d.fence);
	}
	case_end();
	case_begin("sw_sync.create.same-value-again");
	f5b = tl_fence(tl, 5);
	out_info("f", f5b);
	case_end();
	case_begin("sw_sync.inc.partial");
	out("inc=%s", errname(-tl_inc(tl, 4)));
	out_info_short("f5", f5);
	out_info_short("f5b", f5b);
	case_end();
	case_begin("sw_sync.inc.reaches");
	out("inc=%s", errname(-tl_inc(tl, 1)));
	out_info_short("f5", f5);
	out_info_short("f5b", f5b);
	out("poll=%s", poll_str(f5, POLLIN));
	case_end();
	case_begin("sw_sync.create.below-current");
	r = tl_fence(tl, 3);
	out_info("f", r);
	case_end();
	xclose(r);
	case_begin("sw_sync.create.at-current");
	r = tl_fence(tl, 5);
	out_info_short("f", r);
	case_end();
	xclose(r);
	case_begin("sw_sync.inc.zero");
	r = tl_fence(tl, 6);
	out("inc=%s", errname(-tl_inc(tl, 0)));
	out_info_short("f6", r);
	case_end();
	case_begin("sw_sync.inc.past-several");
	{
		int a = tl_fence(tl, 7), b = tl_fence(tl, 9), c = tl_fence(tl, 20);

		out("inc=%s", errname(-tl_inc(tl, 5)));
		out_info_short("f6", r);
		out_info_short("f7", a);
		out_info_short("f9", b);
		out_info_short("f20", c);
		xclose(a);
		xclose(b);
		xclose(c);
	}
	case_end();
	xclose(r);
	one_expect("sw_sync.inc.null-arg", res(ioctl(tl, CONFORM_SW_SYNC_INC, NULL)), "EFAULT");
	one("sw_sync.create.null-arg", res(ioctl(tl, CONFORM_SW_SYNC_CREATE_FENCE, NULL)));
	close(f0);
	close(f5);
	close(f5b);
	close(tl);
}

/* points compare as 32-bit: a point 2^31 or more ahead counts as passed */
static void wrap_cases(void)
{
	static const struct {
		const char *name;
		__u32 value;
	} v[] = {
		{ "0x7fffffff", 0x7fffffffu },
		{ "0x80000000", 0x80000000u },
		{ "0x80000001", 0x80000001u },
		{ "0xffffffff", 0xffffffffu },
	};
	size_t i;
	int tl, f;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		case_begin("sw_sync.wrap.fresh-%s", v[i].name);
		tl = tl_open();
		f = tl >= 0 ? tl_fence(tl, v[i].value) : -1;
		out_info_short("f", f);
		xclose(f);
		xclose(tl);
		case_end();
	}
	case_begin("sw_sync.wrap.inc-huge");
	tl = tl_open();
	if (tl >= 0) {
		int a = tl_fence(tl, 1), b = tl_fence(tl, 0x7fffffff), c;

		out("inc=%s", errname(-tl_inc(tl, 0xffffffffu)));
		out_info_short("f1", a);
		out_info_short("f7fffffff", b);
		c = tl_fence(tl, 5);
		out_info_short("new-f5", c);
		out("inc=%s", errname(-tl_inc(tl, 6)));
		out_info_short("new-f5", c);
		xclose(a);
		xclose(b);
		xclose(c);
		close(tl);
	}
	case_end();
	case_begin("sw_sync.wrap.inc-int-max-plus-1");
	tl = tl_open();
	if (tl >= 0) {
		int a = tl_fence(tl, 0x80000000u), b;

		out_info_short("f80000000", a);
		b = tl_fence(tl, 0x7fffffffu);
		out("inc=%s", errname(-tl_inc(tl, 0x80000000u)));
		out_info_short("f7fffffff", b);
		xclose(a);
		xclose(b);
		close(tl);
	}
	case_end();
}

static void close_cases(void)
{
	int tl = tl_open(), a, b, s, d;

	if (tl < 0)
		return;
	s = tl_fence(tl, 0);
	a = tl_fence(tl, 1);
	b = tl_fence(tl, 2);
	tl_inc(tl, 1);
	close(tl);
	case_begin("sw_sync.close.pending-get-enoent");
	out_info("f2", b);
	out("poll=%s", poll_str(b, POLLIN));
	expect("f2{n=1 st=-2 name='sw_sync-<comm>#1-2' [sw_sync/<comm> st=-2 fl=0 ts=1]} poll=IN");
	case_end();
	case_begin("sw_sync.close.signaled-stay-ok");
	out_info_short("f0", s);
	out_info_short("f1", a);
	case_end();
	close(s);
	close(a);
	close(b);

	tl = tl_open();
	if (tl < 0)
		return;
	a = tl_fence(tl, 1);
	d = dup(tl);
	close(tl);
	case_begin("sw_sync.close.dup-keeps-timeline");
	out_info_short("f", a);
	out("inc-via-dup=%s", errname(-tl_inc(d, 1)));
	out_info_short("f", a);
	case_end();
	close(d);
	close(a);

	tl = tl_open();
	if (tl < 0)
		return;
	a = tl_fence(tl, 1);
	case_begin("sw_sync.close.fence-outlives-timeline");
	close(a);
	b = tl_fence(tl, 2);
	close(tl);
	out_info_short("f2", b);
	case_end();
	close(b);

	case_begin("sw_sync.two-timelines-two-contexts");
	a = tl_open();
	b = tl_open();
	if (a >= 0 && b >= 0) {
		int fa = tl_fence(a, 1), fb = tl_fence(b, 1);

		out_info("a", fa);
		out_info("b", fb);
		xclose(fa);
		xclose(fb);
	}
	xclose(a);
	xclose(b);
	case_end();
}

static int get_deadline(int tl, int fence, __u64 in, __u32 pad, __u64 *ns)
{
	struct conform_sw_sync_get_deadline g = { .deadline_ns = in, .pad = pad,
						  .fence_fd = fence };

	if (ioctl(tl, CONFORM_SW_SYNC_GET_DEADLINE, &g) < 0)
		return -errno;
	*ns = g.deadline_ns;
	return 0;
}

static int set_deadline(int fd, __u64 ns)
{
	struct conform_sync_set_deadline d = { .deadline_ns = ns };

	return ioctl(fd, CONFORM_SYNC_SET_DEADLINE, &d) < 0 ? -errno : 0;
}

static void out_deadline(const char *label, int tl, int f)
{
	__u64 ns = 0;
	int r = get_deadline(tl, f, 0, 0, &ns);

	if (r < 0)
		out("%s=%s", label, errname(-r));
	else
		out("%s=%llu", label, (unsigned long long)ns);
}

static void deadline_cases(void)
{
	/* deadlines set one after the other on the same fence */
	static const struct {
		const char *name;
		__u64 ns;
	} sets[] = {
		{ "set-get", 5000000 },
		{ "later-ignored", 9000000 },
		{ "earlier-wins", 3000000 },
		{ "zero", 0 },
	};
	struct sync_merge_data m;
	int tl = tl_open(), t2, f, g, other, buf, stub;
	size_t i;
	__u64 ns;

	if (tl < 0)
		return;
	f = tl_fence(tl, 1);
	case_begin("sw_sync.deadline.none");
	out_deadline("get", tl, f);
	case_end();
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		case_begin("sw_sync.deadline.%s", sets[i].name);
		out("set=%s", errname(-set_deadline(f, sets[i].ns)));
		out_deadline("get", tl, f);
		case_end();
	}
	one_expect("sw_sync.deadline.get-input-nonzero",
		   errname(-get_deadline(tl, f, 1, 0, &ns)), "EINVAL");
	one("sw_sync.deadline.get-pad", errname(-get_deadline(tl, f, 0, 1, &ns)));
	one("sw_sync.deadline.get-fd-minus-1", errname(-get_deadline(tl, -1, 0, 0, &ns)));
	one("sw_sync.deadline.get-fd-timeline", errname(-get_deadline(tl, tl, 0, 0, &ns)));
	one("sw_sync.deadline.get-null", res(ioctl(tl, CONFORM_SW_SYNC_GET_DEADLINE, NULL)));
	buf = heap_buf(PAGE, O_RDWR | O_CLOEXEC);
	stub = buf >= 0 ? export_fence(buf, DMA_BUF_SYNC_READ) : -1;
	one("sw_sync.deadline.get-stub", errname(-get_deadline(tl, stub, 0, 0, &ns)));
	xclose(stub);
	xclose(buf);

	t2 = tl_open();
	other = t2 >= 0 ? tl_fence(t2, 1) : -1;
	case_begin("sw_sync.deadline.get-other-timeline");
	set_deadline(other, 7000000);
	out_deadline("get", tl, other);
	case_end();

	case_begin("sw_sync.deadline.via-merged");
	g = tl_fence(tl, 2);
	memset(&m, 0, sizeof(m));
	m.fd2 = other;
	if (ioctl(g, SYNC_IOC_MERGE, &m) < 0) {
		out("merge=%s", errname(errno));
	} else {
		out("set=%s", errname(-set_deadline(m.fence, 4000000)));
		out_deadline("g", tl, g);
		out_deadline("other", t2, other);
		out_deadline("merged", tl, m.fence);
		close(m.fence);
	}
	case_end();
	case_begin("sw_sync.deadline.signaled");
	tl_inc(tl, 2);
	out_deadline("f-after-signal", tl, f);
	{
		int s = tl_fence(tl, 1);

		out("set=%s", errname(-set_deadline(s, 1000)));
		out_deadline("born-signaled", tl, s);
		xclose(s);
	}
	case_end();
	xclose(g);
	xclose(other);
	xclose(t2);
	close(f);
	close(tl);
}

static void timeline_fd_cases(void)
{
	static const struct ioctl_req bad[] = {
		{ "nr3", _IOWR('W', 3, __u64) },
		{ "nr9", _IO('W', 9) },
		{ "inc-size8", _IOW('W', 1, __u64) },
		{ "file-info", SYNC_IOC_FILE_INFO },
		{ "merge", SYNC_IOC_MERGE },
		{ "dma-buf-sync", DMA_BUF_IOCTL_SYNC },
		{ "legacy-1", CONFORM_LEGACY_SYNC_1 },
	};
	char b[8];
	int tl = tl_open();

	if (tl < 0)
		return;
	enotty_cases("sw_sync.ioctl", tl, bad, sizeof(bad) / sizeof(bad[0]));
	one("sw_sync.fd.read", val(read(tl, b, sizeof(b))));
	one("sw_sync.fd.poll", poll_str(tl, POLLIN | POLLOUT));
	close(tl);
}

void t_sw_sync(void)
{
	create_cases();
	wrap_cases();
	close_cases();
	deadline_cases();
	timeline_fd_cases();
}

// SPDX-License-Identifier: MIT
/* t_sync_file.c - sync_file fds: FILE_INFO, poll, file operations, unknown ioctls, deadlines. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conform.h"

/* a merged sync_file over two fresh timelines (A created first, so A sorts first) */
static int two_fence_file(int *ta, int *tb)
{
	struct sync_merge_data m;
	int fa, fb;

	fa = pending_fence(ta);
	if (fa < 0)
		return fa;
	fb = pending_fence(tb);
	if (fb < 0) {
		close(fa);
		close(*ta);
		return fb;
	}
	memset(&m, 0, sizeof(m));
	strcpy(m.name, "two");
	m.fd2 = fb;
	if (ioctl(fa, SYNC_IOC_MERGE, &m) < 0)
		m.fence = -errno;
	close(fa);
	close(fb);
	if (m.fence < 0) {
		close(*ta);
		close(*tb);
	}
	return m.fence;
}

static void info_call(const char *name, int fd, __u32 num, int array, __u32 flags, __u32 pad,
		      const char *spec)
{
	struct sync_fence_info fi[4];
	struct sync_file_info info;
	int r;

	case_begin("sync_file.info.%s", name);
	memset(&info, 0, sizeof(info));
	memset(fi, 0, sizeof(fi));
	info.num_fences = num;
	info.flags = flags;
	info.pad = pad;
	if (array == 1)
		info.sync_fence_info = (uintptr_t)fi;
	else if (array == 2)
		info.sync_fence_info = 16; /* unmapped */
	r = ioctl(fd, SYNC_IOC_FILE_INFO, &info);
	out("%s", res(r));
	if (r >= 0)
		out("n=%u st=%d", info.num_fences, info.status);
	if (spec)
		expect(spec);
	case_end();
}

/* "sync_file.info.<name>": the whole FILE_INFO of @fd */
static void info_case(const char *name, int fd)
{
	case_begin("sync_file.info.%s", name);
	out_info("i", fd);
	case_end();
}

/* info_case(), then "<name>-count": the count-only call */
static void info_state(const char *name, int fd)
{
	char count[64];

	info_case(name, fd);
	snprintf(count, sizeof(count), "%s-count", name);
	info_call(count, fd, 0, 0, 0, 0, NULL);
}

static void info_cases(void)
{
	struct sync_file_info info;
	int tl = -1, f, ta = -1, tb = -1, two;

	f = pending_fence(&tl);
	if (f < 0) {
		case_begin("sync_file.info.available");
		case_broken("sw_sync: %s", errname(-f));
		case_end();
		return;
	}
	info_call("count-pending", f, 0, 0, 0, 0, "ok n=1 st=0");
	info_call("exact-pending", f, 1, 1, 0, 0, "ok n=1 st=0");
	info_call("larger-pending", f, 4, 1, 0, 0, NULL);
	info_call("huge-num-small-array", f, 0x80000000u, 1, 0, 0, NULL);
	info_call("flags1", f, 0, 0, 1, 0, "EINVAL");
	info_call("flags-bit31", f, 0, 0, 0x80000000u, 0, "EINVAL");
	info_call("pad1", f, 0, 0, 0, 1, "EINVAL");
	info_call("flags1-full", f, 1, 1, 1, 0, "EINVAL");
	info_call("array-null", f, 1, 0, 0, 0, NULL);
	info_call("array-unmapped", f, 1, 2, 0, 0, NULL);
	one_expect("sync_file.info.null-arg", res(ioctl(f, SYNC_IOC_FILE_INFO, NULL)), "EFAULT");

	case_begin("sync_file.info.name-in-ignored");
	memset(&info, 0, sizeof(info));
	strcpy(info.name, "garbage");
	out("%s", res(ioctl(f, SYNC_IOC_FILE_INFO, &info)));
	out("name-changed=%d", strcmp(info.name, "garbage") != 0);
	case_end();

	info_case("pending", f);
	tl_inc(tl, 1);
	info_case("signaled", f);
	info_call("count-signaled", f, 0, 0, 0, 0, "ok n=1 st=1");
	close(f);
	close(tl);

	f = pending_fence(&tl);
	if (f >= 0) {
		close(tl);
		case_begin("sync_file.info.error");
		out_info("i", f);
		expect("i{n=1 st=-2 name='sw_sync-<comm>#1-1' [sw_sync/<comm> st=-2 fl=0 ts=1]}");
		case_end();
		close(f);
	}

	two = two_fence_file(&ta, &tb);
	if (two < 0)
		return;
	info_call("two-count", two, 0, 0, 0, 0, "ok n=2 st=0");
	info_call("two-num1", two, 1, 1, 0, 0, "EINVAL");
	info_call("two-num2", two, 2, 1, 0, 0, NULL);
	info_call("two-num3", two, 3, 1, 0, 0, NULL);
	info_case("two-pending", two);
	tl_inc(ta, 1);
	info_state("two-first-signaled", two);
	close(tb);
	info_state("two-signaled-then-error", two);
	close(two);
	close(ta);

	/* the status of the full call follows array order: error first, then pending */
	two = two_fence_file(&ta, &tb);
	if (two >= 0) {
		close(ta);
		info_state("two-error-then-pending", two);
		tl_inc(tb, 1);
		info_state("two-error-then-signaled", two);
		close(tb);
		close(two);
	}
	two = two_fence_file(&ta, &tb);
	if (two >= 0) {
		close(tb);
		info_state("two-pending-then-error", two);
		close(ta);
		info_state("two-both-error", two);
		close(two);
	}
	/* once something waits, the container takes its members' errors */
	two = two_fence_file(&ta, &tb);
	if (two >= 0) {
		case_begin("sync_file.info.two-error-after-poll");
		out("poll=%s", poll_str(two, POLLIN));
		close(ta);
		out("poll=%s", poll_str(two, POLLIN));
		tl_inc(tb, 1);
		out("poll=%s", poll_str(two, POLLIN));
		out_info("i", two);
		out_info_short("agg", two);
		case_end();
		close(tb);
		close(two);
	}
}

static void poll_cases(void)
{
	int tl = -1, f;

	f = pending_fence(&tl);
	if (f < 0)
		return;
	one_expect("sync_file.poll.pending-in", poll_str(f, POLLIN), "0");
	one("sync_file.poll.pending-all", poll_str(f, POLLIN | POLLOUT | POLLPRI));
	tl_inc(tl, 1);
	one_expect("sync_file.poll.signaled-in", poll_str(f, POLLIN), "IN");
	one("sync_file.poll.signaled-out", poll_str(f, POLLOUT));
	one("sync_file.poll.signaled-none", poll_str(f, 0));
	one("sync_file.poll.signaled-in-out", poll_str(f, POLLIN | POLLOUT));
	one("sync_file.poll.signaled-rdnorm", poll_str(f, POLLRDNORM));
	close(f);
	close(tl);
	f = pending_fence(&tl);
	if (f < 0)
		return;
	close(tl);
	one_expect("sync_file.poll.error-in", poll_str(f, POLLIN), "IN");
	one("sync_file.poll.error-all", poll_str(f, POLLIN | POLLOUT | POLLPRI));
	close(f);
}

static void file_ops(void)
{
	static const struct ioctl_req bad[] = {
		{ "legacy-1", CONFORM_LEGACY_SYNC_1 },
		{ "legacy-2", CONFORM_LEGACY_SYNC_2 },
		{ "legacy-wait", CONFORM_LEGACY_SYNC_WAIT },
		{ "nr0", _IOWR('>', 0, struct sync_file_info) },
		{ "nr6", _IOWR('>', 6, __u64) },
		{ "nr0xff", _IO('>', 0xff) },
		{ "file-info-size4", _IOWR('>', 4, __u32) },
		{ "merge-size8", _IOWR('>', 3, __u64) },
		{ "set-deadline-size8", _IOW('>', 5, __u64) },
		{ "dma-buf-sync", DMA_BUF_IOCTL_SYNC },
		{ "dma-buf-export", DMA_BUF_IOCTL_EXPORT_SYNC_FILE },
		{ "sw-sync-inc", CONFORM_SW_SYNC_INC },
		{ "sw-sync-create", CONFORM_SW_SYNC_CREATE_FENCE },
	};
	char b[8];
	void *m;
	int tl = -1, f, d;

	f = pending_fence(&tl);
	if (f < 0)
		return;
	enotty_cases("sync_file.ioctl", f, bad, sizeof(bad) / sizeof(bad[0]));
	one("sync_file.fd.mode", fd_mode(f));
	one("sync_file.fd.read", val(read(f, b, sizeof(b))));
	one("sync_file.fd.write", val(write(f, b, sizeof(b))));
	one("sync_file.fd.lseek", val(lseek(f, 0, SEEK_SET)));
	m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, f, 0);
	one("sync_file.fd.mmap", m == MAP_FAILED ? errname(errno) : "ok");
	if (m != MAP_FAILED)
		munmap(m, PAGE);
	case_begin("sync_file.fd.fstat");
	out_fstat(f);
	case_end();
	case_begin("sync_file.fd.fdinfo");
	out("size=%s", fdinfo_field(f, "size") ? "present" : "none");
	out("flags=%s", fdinfo_field(f, "flags") ? fdinfo_field(f, "flags") : "none");
	case_end();
	case_begin("sync_file.fd.dup-shares-fence");
	d = dup(f);
	tl_inc(tl, 1);
	out_info_short("dup", d);
	out("mode=%s", fd_mode(d));
	close(d);
	case_end();
	close(f);
	close(tl);
}

static int deadline(int fd, __u64 ns, __u64 pad)
{
	struct conform_sync_set_deadline d = { .deadline_ns = ns, .pad = pad };

	return ioctl(fd, CONFORM_SYNC_SET_DEADLINE, &d) < 0 ? -errno : 0;
}

static void deadline_cases(void)
{
	int tl = -1, f, e, buf;

	f = pending_fence(&tl);
	if (f < 0)
		return;
	one("sync_file.deadline.pending", errname(-deadline(f, 1000000, 0)));
	one("sync_file.deadline.zero", errname(-deadline(f, 0, 0)));
	one_expect("sync_file.deadline.pad", errname(-deadline(f, 1000000, 1)), "EINVAL");
	one("sync_file.deadline.null-arg", res(ioctl(f, CONFORM_SYNC_SET_DEADLINE, NULL)));
	tl_inc(tl, 1);
	one("sync_file.deadline.signaled", errname(-deadline(f, 1000000, 0)));
	close(f);
	close(tl);
	buf = heap_buf(PAGE, O_RDWR | O_CLOEXEC);
	e = buf >= 0 ? export_fence(buf, DMA_BUF_SYNC_READ) : -1;
	one("sync_file.deadline.stub", e >= 0 ? errname(-deadline(e, 5, 0)) : "no-stub");
	xclose(e);
	xclose(buf);
}

void t_sync_file(void)
{
	info_cases();
	poll_cases();
	file_ops();
	deadline_cases();
}

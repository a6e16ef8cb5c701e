// SPDX-License-Identifier: MIT
/* t_dmabuf.c - the dma-buf fd: ioctls, every flag combination, mmap, lseek, fstat, fdinfo. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conform.h"

static const struct exporter *ex;

static int newbuf(void)
{
	int fd = ex->make(BUF_SIZE);

	if (fd < 0)
		case_broken("%s buffer: %s", ex->name, errname(-fd));
	return fd;
}

/* "dmabuf.<exporter>.<what>" */
static void begin(const char *fmt, const char *what)
{
	char n[128];

	snprintf(n, sizeof(n), fmt, what);
	case_begin("dmabuf.%s.%s", ex->name, n);
}

static void file_ops(void)
{
	static const struct {
		const char *name;
		off_t off;
		int whence;
		const char *spec;
	} seeks[] = {
		{ "set-0", 0, SEEK_SET, "0" },
		{ "end-0", 0, SEEK_END, "16384" },
		{ "cur-0", 0, SEEK_CUR, "EINVAL" },
		{ "set-1", 1, SEEK_SET, "EINVAL" },
		{ "set-page", PAGE, SEEK_SET, "EINVAL" },
		{ "set-size", BUF_SIZE, SEEK_SET, "EINVAL" },
		{ "end-minus-1", -1, SEEK_END, "EINVAL" },
		{ "end-plus-1", 1, SEEK_END, "EINVAL" },
		{ "cur-1", 1, SEEK_CUR, "EINVAL" },
		{ "data-0", 0, SEEK_DATA, "EINVAL" },
		{ "hole-0", 0, SEEK_HOLE, "EINVAL" },
		{ "whence-7", 0, 7, "EINVAL" },
	};
	char b[64];
	struct iovec iov = { b, sizeof(b) };
	size_t i;
	int fd;

	begin("%s", "mode");
	fd = newbuf();
	if (fd >= 0)
		out("%s", fd_mode(fd));
	expect("rw/cloexec");
	case_end();
	if (fd < 0)
		return;

	begin("%s", "fstat");
	out_fstat(fd);
	case_end();

	for (i = 0; i < sizeof(seeks) / sizeof(seeks[0]); i++) {
		begin("lseek.%s", seeks[i].name);
		out("%s", val(lseek(fd, seeks[i].off, seeks[i].whence)));
		expect(seeks[i].spec);
		case_end();
	}
	begin("%s", "lseek.pos-after-end");
	lseek(fd, 0, SEEK_END);
	out("set0=%s", val(lseek(fd, 0, SEEK_SET)));
	out("cur0=%s", val(lseek(fd, 0, SEEK_CUR)));
	case_end();

	begin("%s", "read");
	out("%s", val(read(fd, b, sizeof(b))));
	expect("EINVAL");
	case_end();
	begin("%s", "write");
	out("%s", val(write(fd, b, sizeof(b))));
	expect("EINVAL");
	case_end();
	begin("%s", "read-0");
	out("%s", val(read(fd, b, 0)));
	case_end();
	begin("%s", "pread");
	out("%s", val(pread(fd, b, sizeof(b), 0)));
	case_end();
	begin("%s", "pwrite");
	out("%s", val(pwrite(fd, b, sizeof(b), 0)));
	case_end();
	begin("%s", "readv");
	out("%s", val(readv(fd, &iov, 1)));
	case_end();
	begin("%s", "ftruncate");
	out("%s", res(ftruncate(fd, 2 * BUF_SIZE)));
	case_end();
	begin("%s", "fallocate");
	out("%s", res(fallocate(fd, 0, 0, PAGE)));
	case_end();
	begin("%s", "fsync");
	out("%s", res(fsync(fd)));
	case_end();
	begin("%s", "fcntl-setfl-nonblock");
	out("%s", res(fcntl(fd, F_SETFL, O_NONBLOCK)));
	out("mode=%s", fd_mode(fd));
	fcntl(fd, F_SETFL, 0);
	case_end();
	begin("%s", "fcntl-add-seals");
	out("%s", res(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK)));
	case_end();
	begin("%s", "fcntl-get-seals");
	out("%s", val(fcntl(fd, F_GET_SEALS)));
	case_end();
	close(fd);
}

static void fdinfo_cases(void)
{
	const char *v;
	void *m;
	int fd, d;

	begin("%s", "fdinfo.fresh");
	fd = newbuf();
	if (fd < 0) {
		case_end();
		return;
	}
	out_fdinfo(fd);
	case_end();

	begin("%s", "fdinfo.has-pos-flags");
	out("pos=%s", (v = fdinfo_field(fd, "pos")) ? v : "none");
	out("flags=%s", (v = fdinfo_field(fd, "flags")) ? v : "none");
	out("ino=%s", fdinfo_field(fd, "ino") ? "present" : "none");
	out("mnt_id=%s", fdinfo_field(fd, "mnt_id") ? "present" : "none");
	case_end();

	begin("%s", "fdinfo.count-dup");
	d = dup(fd);
	out("dup=%s", fdinfo_field(fd, "count"));
	close(d);
	out("closed=%s", fdinfo_field(fd, "count"));
	expect("dup=2 closed=1");
	case_end();

	begin("%s", "fdinfo.count-mmap");
	m = mmap(NULL, BUF_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	out("mapped=%s", fdinfo_field(fd, "count"));
	if (m != MAP_FAILED)
		munmap(m, BUF_SIZE);
	out("unmapped=%s", fdinfo_field(fd, "count"));
	case_end();

	begin("%s", "fdinfo.count-two-mmaps");
	{
		void *a = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
		void *b = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, PAGE);

		out("count=%s", fdinfo_field(fd, "count"));
		if (a != MAP_FAILED)
			munmap(a, PAGE);
		if (b != MAP_FAILED)
			munmap(b, PAGE);
	}
	case_end();

	begin("%s", "fdinfo.count-split-mapping");
	{
		char *a = mmap(NULL, 3 * PAGE, PROT_READ, MAP_SHARED, fd, 0);

		if (a != MAP_FAILED) {
			munmap(a + PAGE, PAGE); /* one vma becomes two */
			out("count=%s", fdinfo_field(fd, "count"));
			munmap(a, 3 * PAGE);
		}
		out("after=%s", fdinfo_field(fd, "count"));
	}
	case_end();
	close(fd);
}

static void set_name_cases(void)
{
	static const char n31[] = "0123456789012345678901234567890";
	static const char n32[] = "01234567890123456789012345678901";
	char big[300];
	char *edge;
	int fd;

	fd = newbuf();
	if (fd < 0)
		return;
	begin("%s", "fdinfo.name-unset");
	out("name=%s", fdinfo_field(fd, "name") ? fdinfo_field(fd, "name") : "none");
	case_end();

#define NAMECASE(label, req, arg, spec)                                    \
	do {                                                               \
		const char *nm;                                            \
		begin("set_name.%s", label);                               \
		out("%s", res(ioctl(fd, req, arg)));                       \
		nm = fdinfo_field(fd, "name");                             \
		out("name='%s'", nm ? nm : "<none>");                      \
		if (spec)                                                  \
			expect(spec);                                      \
		case_end();                                                \
	} while (0)

	NAMECASE("b-simple", DMA_BUF_SET_NAME_B, "conform-buf", "ok name='conform-buf'");
	NAMECASE("a-simple", DMA_BUF_SET_NAME_A, "name-a", "ok name='name-a'");
	NAMECASE("31-chars", DMA_BUF_SET_NAME, n31, NULL);
	NAMECASE("32-chars", DMA_BUF_SET_NAME, n32, NULL);
	NAMECASE("empty", DMA_BUF_SET_NAME, "", NULL);
	NAMECASE("1-char", DMA_BUF_SET_NAME, "x", "ok name='x'");
	memset(big, 'n', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	NAMECASE("299-chars", DMA_BUF_SET_NAME, big, NULL);
	NAMECASE("null", DMA_BUF_SET_NAME, NULL, NULL);
	NAMECASE("bad-pointer", DMA_BUF_SET_NAME, (void *)16, NULL);
	NAMECASE("spaces", DMA_BUF_SET_NAME, "a b\tc", NULL);
	NAMECASE("utf8", DMA_BUF_SET_NAME, "caf\xc3\xa9", NULL);
	/* a name that runs into an unmapped page without a terminator */
	edge = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (edge != MAP_FAILED) {
		munmap(edge + PAGE, PAGE);
		memset(edge + PAGE - 4, 'z', 4);
		NAMECASE("unterminated-at-page-end", DMA_BUF_SET_NAME, edge + PAGE - 4, NULL);
		munmap(edge, PAGE);
	}
	NAMECASE("u32-request-size2", _IOW('b', 1, __u16), "size2", NULL);
	NAMECASE("final", DMA_BUF_SET_NAME, "final", "ok name='final'");
	begin("%s", "set_name.while-mapped");
	{
		void *m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);

		out("%s", res(ioctl(fd, DMA_BUF_SET_NAME, "mapped")));
		if (m != MAP_FAILED)
			munmap(m, PAGE);
	}
	case_end();
	begin("%s", "set_name.via-dup");
	{
		int d = dup(fd);

		out("%s", res(ioctl(d, DMA_BUF_SET_NAME, "via-dup")));
		out("seen='%s'", fdinfo_field(fd, "name"));
		close(d);
	}
	case_end();
	close(fd);
}

static void sync_cases(void)
{
	static const struct {
		const char *name;
		__u64 flags;
	} v[] = {
		{ "start-none", 0 },
		{ "start-read", DMA_BUF_SYNC_READ },
		{ "start-write", DMA_BUF_SYNC_WRITE },
		{ "start-rw", DMA_BUF_SYNC_RW },
		{ "end-none", DMA_BUF_SYNC_END },
		{ "end-read", DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ },
		{ "end-write", DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE },
		{ "end-rw", DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW },
		{ "rw-bit3", DMA_BUF_SYNC_RW | 8 },
		{ "rw-bit4", DMA_BUF_SYNC_RW | 0x10 },
		{ "rw-bit32", DMA_BUF_SYNC_RW | (1ULL << 32) },
		{ "rw-bit63", DMA_BUF_SYNC_RW | (1ULL << 63) },
		{ "all-ones", ~0ULL },
	};
	static const struct {
		const char *name;
		__u64 seq[4];
		int n;
	} seqs[] = {
		{ "start-end", { DMA_BUF_SYNC_RW, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW }, 2 },
		{ "start-start-end-end",
		  { DMA_BUF_SYNC_READ, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ,
		    DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ },
		  4 },
		{ "end-end", { DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW },
		  2 },
		{ "start-read-end-write",
		  { DMA_BUF_SYNC_READ, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE }, 2 },
		{ "start-end-end",
		  { DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE,
		    DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE },
		  3 },
	};
	struct dma_buf_sync s;
	size_t i;
	int fd, k;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		begin("sync.%s", v[i].name);
		fd = newbuf();
		if (fd >= 0) {
			s.flags = v[i].flags;
			out("%s", res(ioctl(fd, DMA_BUF_IOCTL_SYNC, &s)));
			close(fd);
		}
		if (!(v[i].flags & DMA_BUF_SYNC_RW) || (v[i].flags & ~DMA_BUF_SYNC_VALID_FLAGS_MASK))
			expect("EINVAL");
		case_end();
	}
	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		begin("sync.seq.%s", seqs[i].name);
		fd = newbuf();
		for (k = 0; fd >= 0 && k < seqs[i].n; k++) {
			s.flags = seqs[i].seq[k];
			out("%s", res(ioctl(fd, DMA_BUF_IOCTL_SYNC, &s)));
		}
		xclose(fd);
		case_end();
	}
	fd = newbuf();
	if (fd < 0)
		return;
	begin("%s", "sync.null-arg");
	out("%s", res(ioctl(fd, DMA_BUF_IOCTL_SYNC, NULL)));
	expect("EFAULT");
	case_end();
	begin("%s", "sync.bad-pointer");
	out("%s", res(ioctl(fd, DMA_BUF_IOCTL_SYNC, (void *)16)));
	case_end();
	s.flags = DMA_BUF_SYNC_RW;
	begin("%s", "sync.request-size4");
	out("%s", res(ioctl(fd, _IOW('b', 0, __u32), &s)));
	case_end();
	begin("%s", "sync.request-rw-dir");
	out("%s", res(ioctl(fd, _IOWR('b', 0, struct dma_buf_sync), &s)));
	case_end();
	begin("%s", "sync.request-no-dir");
	out("%s", res(ioctl(fd, _IO('b', 0), &s)));
	case_end();
	close(fd);
}

static void mmap_cases(void)
{
	static const struct {
		const char *name;
		size_t len;
		off_t off;
		int prot, flags;
	} v[] = {
		{ "shared-rw-all", BUF_SIZE, 0, PROT_READ | PROT_WRITE, MAP_SHARED },
		{ "shared-r-all", BUF_SIZE, 0, PROT_READ, MAP_SHARED },
		{ "shared-w-all", BUF_SIZE, 0, PROT_WRITE, MAP_SHARED },
		{ "shared-none", BUF_SIZE, 0, PROT_NONE, MAP_SHARED },
		{ "shared-exec", PAGE, 0, PROT_READ | PROT_EXEC, MAP_SHARED },
		{ "shared-1-byte", 1, 0, PROT_READ, MAP_SHARED },
		{ "shared-last-page", PAGE, BUF_SIZE - PAGE, PROT_READ, MAP_SHARED },
		{ "shared-middle", 2 * PAGE, PAGE, PROT_READ, MAP_SHARED },
		{ "shared-size+page", BUF_SIZE + PAGE, 0, PROT_READ, MAP_SHARED },
		{ "shared-size+1", BUF_SIZE + 1, 0, PROT_READ, MAP_SHARED },
		{ "shared-offset-size", PAGE, BUF_SIZE, PROT_READ, MAP_SHARED },
		{ "shared-cross-end", 2 * PAGE, BUF_SIZE - PAGE, PROT_READ, MAP_SHARED },
		{ "shared-offset-huge", PAGE, (off_t)1 << 40, PROT_READ, MAP_SHARED },
		{ "shared-offset-unaligned", PAGE, 1, PROT_READ, MAP_SHARED },
		{ "shared-len0", 0, 0, PROT_READ, MAP_SHARED },
		{ "shared-validate", PAGE, 0, PROT_READ, MAP_SHARED_VALIDATE },
		{ "private-1-page", PAGE, 0, PROT_READ | PROT_WRITE, MAP_PRIVATE },
		{ "private-1-page-ro", PAGE, 0, PROT_READ, MAP_PRIVATE },
		{ "private-last-page", PAGE, BUF_SIZE - PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE },
		{ "private-2-pages", 2 * PAGE, 0, PROT_READ | PROT_WRITE, MAP_PRIVATE },
		{ "private-all", BUF_SIZE, 0, PROT_READ, MAP_PRIVATE },
	};
	unsigned char *m, *p;
	size_t i;
	int fd;

	fd = newbuf();
	if (fd < 0)
		return;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		begin("mmap.%s", v[i].name);
		m = mmap(NULL, v[i].len, v[i].prot, v[i].flags, fd, v[i].off);
		out("%s", m == MAP_FAILED ? errname(errno) : "ok");
		if (m != MAP_FAILED)
			munmap(m, v[i].len);
		if (!strcmp(v[i].name, "shared-size+page") || !strcmp(v[i].name, "shared-cross-end"))
			expect("EINVAL");
		case_end();
	}

	begin("%s", "mmap.two-views");
	m = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 2 * PAGE);
	if (m == MAP_FAILED || p == MAP_FAILED) {
		case_broken("mmap: %s", errname(errno));
	} else {
		cpu_begin(fd, DMA_BUF_SYNC_RW);
		m[2 * PAGE + 3] = 0x42;
		p[5] = 0x24;
		out("%#x %#x", p[3], m[2 * PAGE + 5]);
		cpu_end(fd, DMA_BUF_SYNC_RW);
		expect("0x42 0x24");
	}
	case_end();
	if (p != MAP_FAILED)
		munmap(p, PAGE);

	begin("%s", "mmap.private-is-cow");
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED || p == MAP_FAILED) {
		out("%s", errname(errno));
	} else {
		cpu_begin(fd, DMA_BUF_SYNC_RW);
		m[0] = 0x01;
		out("sees-shared=%#x", p[0]);
		p[0] = 0x02;
		out("shared-after-private-write=%#x private=%#x", m[0], p[0]);
		cpu_end(fd, DMA_BUF_SYNC_RW);
		munmap(p, PAGE);
	}
	case_end();

	begin("%s", "mmap.persist-after-unmap");
	if (m != MAP_FAILED) {
		cpu_begin(fd, DMA_BUF_SYNC_WRITE);
		m[BUF_SIZE - 1] = 0x7e;
		cpu_end(fd, DMA_BUF_SYNC_WRITE);
		munmap(m, BUF_SIZE);
		m = mmap(NULL, BUF_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	}
	out("%s", m == MAP_FAILED ? errname(errno) : "ok");
	if (m != MAP_FAILED) {
		cpu_begin(fd, DMA_BUF_SYNC_READ);
		out("%#x", m[BUF_SIZE - 1]);
		cpu_end(fd, DMA_BUF_SYNC_READ);
	}
	expect("ok 0x7e");
	case_end();

	begin("%s", "mmap.outlives-fd");
	if (m != MAP_FAILED) {
		int d = dup(fd), e;

		close(fd);
		fd = -1;
		out("count-before=%s", fdinfo_field(d, "count"));
		munmap(m, BUF_SIZE);
		m = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, d, 0);
		/*
		 * the mapping outlives the descriptor it was made with; the brackets of the
		 * accesses need one, so a duplicate stays open for them
		 */
		e = dup(d);
		close(d);
		if (m != MAP_FAILED) {
			cpu_begin(e, DMA_BUF_SYNC_RW);
			m[10] = 0x10;
			out("still=%#x,%#x", m[BUF_SIZE - 1], m[10]);
			cpu_end(e, DMA_BUF_SYNC_RW);
			munmap(m, BUF_SIZE);
		}
		close(e);
	}
	case_end();
	xclose(fd);

	begin("%s", "mmap.mremap-grow");
	fd = newbuf();
	m = fd < 0 ? MAP_FAILED : mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	if (m != MAP_FAILED) {
		p = mremap(m, PAGE, BUF_SIZE + PAGE, MREMAP_MAYMOVE);
		out("beyond=%s", p == MAP_FAILED ? errname(errno) : "ok");
		if (p != MAP_FAILED)
			m = p;
		p = mremap(m, p == MAP_FAILED ? PAGE : BUF_SIZE + PAGE, 2 * PAGE, MREMAP_MAYMOVE);
		out("within=%s", p == MAP_FAILED ? errname(errno) : "ok");
		munmap(p == MAP_FAILED ? m : p, p == MAP_FAILED ? PAGE : 2 * PAGE);
	}
	xclose(fd);
	case_end();
}

static void export_import_cases(void)
{
	static const struct {
		const char *name;
		__u32 flags;
	} fl[] = {
		{ "0", 0 },
		{ "read", DMA_BUF_SYNC_READ },
		{ "write", DMA_BUF_SYNC_WRITE },
		{ "rw", DMA_BUF_SYNC_RW },
		{ "end", DMA_BUF_SYNC_END },
		{ "read-end", DMA_BUF_SYNC_READ | DMA_BUF_SYNC_END },
		{ "write-end", DMA_BUF_SYNC_WRITE | DMA_BUF_SYNC_END },
		{ "rw-end", DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END },
		{ "rw-bit3", DMA_BUF_SYNC_RW | 8 },
		{ "rw-bit31", DMA_BUF_SYNC_RW | 0x80000000u },
	};
	struct dma_buf_export_sync_file e;
	size_t i;
	int fd, tl = -1, sf, r, p[2];

	fd = newbuf();
	if (fd < 0)
		return;
	for (i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
		begin("export.idle.%s", fl[i].name);
		e.flags = fl[i].flags;
		e.fd = -1;
		r = ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e);
		out("%s", res(r));
		if (r >= 0) {
			out("mode=%s", fd_mode(e.fd));
			out_info("info", e.fd);
			close(e.fd);
		}
		if (!fl[i].flags || (fl[i].flags & ~DMA_BUF_SYNC_RW))
			expect("EINVAL");
		case_end();
	}
	begin("%s", "export.fd-field-ignored");
	e.flags = DMA_BUF_SYNC_READ;
	e.fd = 12345;
	r = ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e);
	out("%s fd=%s", res(r), r < 0 ? "-" : e.fd == 12345 ? "unchanged" : "new");
	if (r >= 0)
		close(e.fd);
	case_end();
	begin("%s", "export.null-arg");
	out("%s", res(ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, NULL)));
	expect("EFAULT");
	case_end();
	begin("%s", "export.request-write-only");
	e.flags = DMA_BUF_SYNC_READ;
	out("%s", res(ioctl(fd, _IOW('b', 2, struct dma_buf_export_sync_file), &e)));
	case_end();
	begin("%s", "info-proposal-request");
	{
		struct conform_dma_buf_info in = { .param = 1 };

		out("%s", res(ioctl(fd, CONFORM_DMA_BUF_IOCTL_INFO, &in)));
	}
	case_end();

	/* imports with a signaled sync_file, every flag combination */
	tl = tl_open();
	sf = tl >= 0 ? tl_fence(tl, 0) : -1;
	for (i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
		begin("import.signaled.%s", fl[i].name);
		if (sf < 0)
			case_broken("no sw_sync fence");
		else
			out("%s", errname(-import_fence(fd, sf, fl[i].flags)));
		if (!fl[i].flags || (fl[i].flags & ~DMA_BUF_SYNC_RW))
			expect("EINVAL");
		case_end();
	}
	begin("%s", "import.fd.-1");
	out("%s", errname(-import_fence(fd, -1, DMA_BUF_SYNC_WRITE)));
	expect("EINVAL");
	case_end();
	begin("%s", "import.fd.dma-buf");
	out("%s", errname(-import_fence(fd, fd, DMA_BUF_SYNC_WRITE)));
	expect("EINVAL");
	case_end();
	begin("%s", "import.fd.timeline");
	out("%s", errname(-import_fence(fd, tl, DMA_BUF_SYNC_WRITE)));
	expect("EINVAL");
	case_end();
	begin("%s", "import.fd.pipe");
	if (pipe(p) == 0) {
		out("%s", errname(-import_fence(fd, p[0], DMA_BUF_SYNC_READ)));
		close(p[0]);
		close(p[1]);
	}
	expect("EINVAL");
	case_end();
	begin("%s", "import.fd.closed");
	out("%s", errname(-import_fence(fd, closed_fd(), DMA_BUF_SYNC_READ)));
	expect("EINVAL");
	case_end();
	begin("%s", "import.bad-flags-and-bad-fd");
	out("%s", errname(-import_fence(fd, -1, 0)));
	case_end();
	begin("%s", "import.null-arg");
	out("%s", res(ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, NULL)));
	expect("EFAULT");
	case_end();
	begin("%s", "import.request-rw-dir");
	{
		struct dma_buf_import_sync_file im = { .flags = DMA_BUF_SYNC_READ, .fd = sf };

		out("%s", res(ioctl(fd, _IOWR('b', 3, struct dma_buf_import_sync_file), &im)));
	}
	case_end();
	begin("%s", "export.after-signaled-imports");
	r = export_fence(fd, DMA_BUF_SYNC_RW);
	if (r >= 0) {
		out_info("rw", r);
		close(r);
	} else {
		out("%s", errname(-r));
	}
	case_end();
	xclose(sf);
	xclose(tl);
	close(fd);
}

static void misc_ioctls(void)
{
	static const struct ioctl_req v[] = {
		{ "b-nr4", _IOW('b', 4, __u64) },
		{ "b-nr0x7f", _IO('b', 0x7f) },
		{ "sync-file-info", SYNC_IOC_FILE_INFO },
		{ "sync-merge", SYNC_IOC_MERGE },
		{ "sync-set-deadline", CONFORM_SYNC_SET_DEADLINE },
		{ "legacy-sync-1", CONFORM_LEGACY_SYNC_1 },
		{ "legacy-sync-2", CONFORM_LEGACY_SYNC_2 },
		{ "sw-sync-inc", CONFORM_SW_SYNC_INC },
		{ "heap-alloc", DMA_HEAP_IOCTL_ALLOC },
		{ "udmabuf-create", UDMABUF_CREATE },
	};
	unsigned char arg[256];
	char prefix[64];
	int fd = newbuf();

	if (fd < 0)
		return;
	snprintf(prefix, sizeof(prefix), "dmabuf.%s.ioctl", ex->name);
	enotty_cases(prefix, fd, v, sizeof(v) / sizeof(v[0]));
	/* FIONREAD is a generic VFS request: SEMANTICS.md predicts nothing for it */
	memset(arg, 0, sizeof(arg));
	begin("%s", "ioctl.fionread");
	out("%s", res(ioctl(fd, FIONREAD, arg)));
	case_end();
	close(fd);
}

static void poll_cases(void)
{
	static const struct {
		const char *name;
		short ev;
	} v[] = {
		{ "in-out", POLLIN | POLLOUT },
		{ "in", POLLIN },
		{ "out", POLLOUT },
		{ "none", 0 },
		{ "pri", POLLPRI },
		{ "rdnorm-wrnorm", POLLRDNORM | POLLWRNORM },
	};
	size_t i;
	int fd = newbuf();

	if (fd < 0)
		return;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		begin("poll.idle.%s", v[i].name);
		out("%s", poll_str(fd, v[i].ev));
		if (i == 0)
			expect("IN|OUT");
		case_end();
	}
	begin("%s", "poll.idle.count-after");
	out("count=%s", fdinfo_field(fd, "count"));
	expect("count=1");
	case_end();
	close(fd);
}

void t_dmabuf(void)
{
	unsigned int i;

	for (i = 0; i < n_exporters; i++) {
		ex = &exporters[i];
		file_ops();
		fdinfo_cases();
		set_name_cases();
		sync_cases();
		mmap_cases();
		export_import_cases();
		misc_ioctls();
		poll_cases();
	}
}

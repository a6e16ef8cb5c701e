// SPDX-License-Identifier: MIT
/* t_udmabuf.c - /dev/udmabuf: UDMABUF_CREATE, UDMABUF_CREATE_LIST and memfd aliasing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"

/* not a seal: create the memfd without MFD_ALLOW_SEALING */
#define NO_SEALING (1 << 30)

/* a memfd of @size bytes with @seals added */
static int memfd_with(size_t size, int seals)
{
	int fd = memfd_create("conform", (seals & NO_SEALING ? 0 : MFD_ALLOW_SEALING) |
					     MFD_CLOEXEC);

	seals &= ~NO_SEALING;
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 || (seals && fcntl(fd, F_ADD_SEALS, seals) < 0)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* end a create case: @fd (a new buffer or -errno), the buffer's size and fd mode */
static void end_create(int fd, const char *spec)
{
	out("%s", fd < 0 ? errname(-fd) : "fd");
	if (fd >= 0) {
		out("size=%s mode=%s", val(lseek(fd, 0, SEEK_END)), fd_mode(fd));
		close(fd);
	}
	if (spec)
		expect(spec);
	case_end();
}

/* one CREATE case */
static void create_case(const char *name, int memfd, __u32 flags, __u64 offset, __u64 size,
			const char *spec)
{
	struct udmabuf_create c = { .memfd = (__u32)memfd, .flags = flags, .offset = offset,
				    .size = size };
	int fd;

	case_begin("udmabuf.create.%s", name);
	fd = ioctl(udmabuf_dev(), UDMABUF_CREATE, &c);
	end_create(fd < 0 ? -errno : fd, spec);
}

static void create_args(void)
{
	static const struct {
		const char *name;
		int seals;
		const char *spec;
	} seals[] = {
		{ "seal.none", 0, "EINVAL" },
		{ "seal.unsealable", NO_SEALING, "EINVAL" },
		{ "seal.shrink", F_SEAL_SHRINK, NULL },
		{ "seal.shrink-grow", F_SEAL_SHRINK | F_SEAL_GROW, NULL },
		{ "seal.shrink-seal", F_SEAL_SHRINK | F_SEAL_SEAL, NULL },
		{ "seal.grow", F_SEAL_GROW, "EINVAL" },
		{ "seal.shrink-write", F_SEAL_SHRINK | F_SEAL_WRITE, "EINVAL" },
		{ "seal.shrink-future-write", F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE, NULL },
	};
	static const struct {
		const char *name;
		__u32 flags;
	} flags[] = {
		{ "flags.0", 0 },	  { "flags.cloexec", UDMABUF_FLAGS_CLOEXEC },
		{ "flags.2", 2 },	  { "flags.cloexec-bit31", 0x80000001u },
		{ "flags.all", ~0u },
	};
	static const struct {
		const char *name;
		__u64 offset, size;
		const char *spec;
	} ranges[] = {
		{ "range.whole", 0, BUF_SIZE, NULL },
		{ "range.first-page", 0, PAGE, NULL },
		{ "range.last-page", BUF_SIZE - PAGE, PAGE, NULL },
		{ "range.middle", PAGE, 2 * PAGE, NULL },
		{ "range.size0", 0, 0, "EINVAL" },
		{ "range.size-unaligned", 0, 100, "EINVAL" },
		{ "range.size-page+1", 0, PAGE + 1, "EINVAL" },
		{ "range.offset-unaligned", 1, PAGE, "EINVAL" },
		{ "range.offset-end", BUF_SIZE, PAGE, "EINVAL" },
		{ "range.past-end", PAGE, BUF_SIZE, "EINVAL" },
		{ "range.size-double", 0, 2 * BUF_SIZE, "EINVAL" },
		{ "range.offset-huge", 1ULL << 62, PAGE, "EINVAL" },
		{ "range.offset-wraps", ~0ULL - PAGE + 1, 2 * PAGE, "EINVAL" },
		{ "range.size-huge", 0, 1ULL << 62, "EINVAL" },
		{ "range.size-over-limit", 0, (64ULL << 20) + PAGE, NULL },
	};
	int mfd, p[2], other;
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(seals) / sizeof(seals[0]); i++) {
		mfd = memfd_with(BUF_SIZE, seals[i].seals);
		if (mfd < 0) {
			case_begin("udmabuf.create.%s", seals[i].name);
			case_broken("memfd: %s", errname(-mfd));
			case_end();
			continue;
		}
		create_case(seals[i].name, mfd, UDMABUF_FLAGS_CLOEXEC, 0, BUF_SIZE, seals[i].spec);
		close(mfd);
	}

	mfd = sealed_memfd(BUF_SIZE);
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		create_case(flags[i].name, mfd, flags[i].flags, 0, BUF_SIZE, NULL);
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		create_case(ranges[i].name, mfd, UDMABUF_FLAGS_CLOEXEC, ranges[i].offset,
			    ranges[i].size, ranges[i].spec);
	close(mfd);

	/* a memfd as large as the buffer over the limit, never touched (sparse) */
	mfd = memfd_with((64 << 20) + PAGE, F_SEAL_SHRINK);
	create_case("limit.64M+page", mfd, 0, 0, (64ULL << 20) + PAGE, NULL);
	xclose(mfd);

	/* descriptors that are not memfds */
	create_case("memfd.-1", -1, 0, 0, PAGE, "EBADFD");
	mfd = sealed_memfd(PAGE);
	create_case("memfd.closed", closed_fd(), 0, 0, PAGE, "EBADFD");
	if (pipe(p) == 0) {
		create_case("memfd.pipe", p[0], 0, 0, PAGE, "EBADFD");
		close(p[0]);
		close(p[1]);
	}
	other = eventfd(0, EFD_CLOEXEC);
	create_case("memfd.eventfd", other, 0, 0, PAGE, NULL);
	xclose(other);
	other = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	create_case("memfd.socket", other, 0, 0, PAGE, NULL);
	xclose(other);
	other = open("/dev/null", O_RDWR | O_CLOEXEC);
	create_case("memfd.dev-null", other, 0, 0, PAGE, NULL);
	xclose(other);
	other = heap_buf(PAGE, O_RDWR | O_CLOEXEC);
	create_case("memfd.dma-buf", other, 0, 0, PAGE, "EBADFD");
	xclose(other);
	other = udmabuf_buf(PAGE, NULL);
	create_case("memfd.udmabuf", other, 0, 0, PAGE, "EBADFD");
	xclose(other);
	other = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	create_case("memfd.udmabuf-dev", other, 0, 0, PAGE, NULL);
	xclose(other);
	xclose(mfd);

	one_expect("udmabuf.create.null-arg", res(ioctl(udmabuf_dev(), UDMABUF_CREATE, NULL)),
		   "EFAULT");
	one("udmabuf.dev.unknown-ioctl", res(ioctl(udmabuf_dev(), _IOW('u', 0x44, __u64), name)));
	one("udmabuf.dev.create-other-size",
	    res(ioctl(udmabuf_dev(), _IOW('u', 0x42, __u32), name)));
	one("udmabuf.dev.heap-alloc-request",
	    res(ioctl(udmabuf_dev(), DMA_HEAP_IOCTL_ALLOC, name)));
	{
		char b[8];
		void *m;

		one("udmabuf.dev.read", val(read(udmabuf_dev(), b, sizeof(b))));
		one("udmabuf.dev.lseek", val(lseek(udmabuf_dev(), 0, SEEK_SET)));
		m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, udmabuf_dev(), 0);
		one("udmabuf.dev.mmap", m == MAP_FAILED ? errname(errno) : "ok");
		if (m != MAP_FAILED)
			munmap(m, PAGE);
	}
}

/* CREATE_LIST with @n items over memfds given in @items */
static int create_list(__u32 flags, __u32 count, const struct udmabuf_create_item *items,
		       unsigned int n)
{
	struct udmabuf_create_list *l = calloc(1, sizeof(*l) + (n ? n : 1) * sizeof(*items));
	int r;

	l->flags = flags;
	l->count = count;
	if (n)
		memcpy(l->list, items, n * sizeof(*items));
	r = ioctl(udmabuf_dev(), UDMABUF_CREATE_LIST, l);
	if (r < 0)
		r = -errno;
	free(l);
	return r;
}

static void list_case(const char *name, __u32 flags, __u32 count,
		      const struct udmabuf_create_item *items, unsigned int n, const char *spec)
{
	case_begin("udmabuf.list.%s", name);
	end_create(create_list(flags, count, items, n), spec);
}

/* fill page i of a memfd with byte tag+i */
static void tag_pages(int mfd, unsigned int pages, unsigned char tag)
{
	unsigned char b[PAGE];
	unsigned int i;

	for (i = 0; i < pages; i++) {
		memset(b, tag + i, sizeof(b));
		(void)!pwrite(mfd, b, sizeof(b), (off_t)(i * PAGE));
	}
}

static void list_contents(void)
{
	struct udmabuf_create_item it[3];
	unsigned char *m;
	int a = sealed_memfd(4 * PAGE), b = sealed_memfd(4 * PAGE), fd;
	unsigned int i;
	size_t size;

	case_begin("udmabuf.list.concat-order");
	if (a < 0 || b < 0) {
		case_broken("memfd");
		case_end();
		goto out;
	}
	tag_pages(a, 4, 0x10);
	tag_pages(b, 4, 0x40);
	/* b[2..3], a[0], a[3]: expect 0x42 0x43 0x10 0x13 */
	it[0] = (struct udmabuf_create_item){ .memfd = (__u32)b, .offset = 2 * PAGE,
					      .size = 2 * PAGE };
	it[1] = (struct udmabuf_create_item){ .memfd = (__u32)a, .offset = 0, .size = PAGE };
	it[2] = (struct udmabuf_create_item){ .memfd = (__u32)a, .offset = 3 * PAGE,
					      .size = PAGE };
	fd = create_list(UDMABUF_FLAGS_CLOEXEC, 3, it, 3);
	size = 4 * PAGE;
	m = fd < 0 ? MAP_FAILED : mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		out("%s", errname(fd < 0 ? -fd : errno));
	} else {
		out("pages=");
		cpu_begin(fd, DMA_BUF_SYNC_READ);
		for (i = 0; i < 4; i++)
			out("%#x", m[i * PAGE]);
		cpu_end(fd, DMA_BUF_SYNC_READ);
		munmap(m, size);
	}
	expect("pages= 0x42 0x43 0x10 0x13");
	xclose(fd);
	case_end();

	case_begin("udmabuf.list.same-page-twice");
	it[0] = (struct udmabuf_create_item){ .memfd = (__u32)a, .offset = PAGE, .size = PAGE };
	it[1] = it[0];
	fd = create_list(0, 2, it, 2);
	m = fd < 0 ? MAP_FAILED : mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		out("%s", errname(fd < 0 ? -fd : errno));
	} else {
		cpu_begin(fd, DMA_BUF_SYNC_RW);
		m[0] = 0x99;
		out("alias=%#x", m[PAGE]);
		cpu_end(fd, DMA_BUF_SYNC_RW);
		munmap(m, 2 * PAGE);
	}
	xclose(fd);
	case_end();

	it[0] = (struct udmabuf_create_item){ .memfd = (__u32)a, .offset = 0, .size = PAGE };
	it[1] = (struct udmabuf_create_item){ .memfd = (__u32)b, .offset = 0, .size = PAGE };
	list_case("one", 0, 1, it, 1, NULL);
	list_case("two", UDMABUF_FLAGS_CLOEXEC, 2, it, 2, NULL);
	list_case("count0", 0, 0, it, 0, "EINVAL");
	list_case("count-less-than-items", 0, 1, it, 2, NULL);
	list_case("count1025", 0, 1025, it, 2, "EINVAL");
	list_case("count-huge", 0, 0x80000000u, it, 2, "EINVAL");
	list_case("flags.2", 2, 2, it, 2, NULL);
	it[1].offset = 1;
	list_case("second-offset-unaligned", 0, 2, it, 2, "EINVAL");
	it[1].offset = 0;
	it[1].size = 0;
	list_case("second-size0", 0, 2, it, 2, NULL);
	it[1].size = 5 * PAGE;
	list_case("second-past-end", 0, 2, it, 2, "EINVAL");
	it[1].size = PAGE;
	it[1].memfd = (__u32)-1;
	list_case("second-memfd-bad", 0, 2, it, 2, "EBADFD");
	it[1].offset = 1;
	list_case("second-bad-fd-and-unaligned", 0, 2, it, 2, NULL);
	it[1].offset = 0;
	it[1].memfd = (__u32)b;
	{
		int unsealed = memfd_with(PAGE, 0);

		it[1].memfd = (__u32)unsealed;
		list_case("second-unsealed", 0, 2, it, 2, "EINVAL");
		xclose(unsealed);
	}
	one_expect("udmabuf.list.null-arg", res(ioctl(udmabuf_dev(), UDMABUF_CREATE_LIST, NULL)),
		   "EFAULT");
	{
		struct udmabuf_create_list l = { .count = 2 };
		char *pg = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		/* the items follow the header: here they would lie past the mapped page */
		case_begin("udmabuf.list.items-unreadable");
		if (pg == MAP_FAILED) {
			case_broken("mmap");
		} else {
			munmap(pg + PAGE, PAGE);
			memcpy(pg + PAGE - sizeof(l), &l, sizeof(l));
			out("%s", res(ioctl(udmabuf_dev(), UDMABUF_CREATE_LIST,
					    pg + PAGE - sizeof(l))));
			munmap(pg, PAGE);
		}
		case_end();
	}
out:
	xclose(a);
	xclose(b);
}

static void aliasing(void)
{
	unsigned char *mb, *mm;
	int mfd = -1, fd, r;
	unsigned char c;

	fd = udmabuf_buf(BUF_SIZE, &mfd);
	mb = fd < 0 ? MAP_FAILED : mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	mm = mfd < 0 ? MAP_FAILED
		     : mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	case_begin("udmabuf.alias.memfd-to-buf");
	if (mb == MAP_FAILED || mm == MAP_FAILED) {
		case_broken("setup");
		case_end();
		goto out;
	}
	cpu_begin(fd, DMA_BUF_SYNC_READ);
	out("zero=%d", mb[0] == 0 && mb[BUF_SIZE - 1] == 0);
	cpu_end(fd, DMA_BUF_SYNC_READ);
	mm[5] = 0x5a;
	mm[BUF_SIZE - 1] = 0x77;
	cpu_begin(fd, DMA_BUF_SYNC_READ);
	out("seen=%#x,%#x", mb[5], mb[BUF_SIZE - 1]);
	cpu_end(fd, DMA_BUF_SYNC_READ);
	expect("zero=1 seen=0x5a,0x77");
	case_end();

	case_begin("udmabuf.alias.buf-to-memfd");
	cpu_begin(fd, DMA_BUF_SYNC_WRITE);
	mb[2 * PAGE] = 0xc3;
	cpu_end(fd, DMA_BUF_SYNC_WRITE);
	out("seen=%#x", mm[2 * PAGE]);
	r = (int)pread(mfd, &c, 1, 2 * PAGE);
	out("pread=%s:%#x", val(r), c);
	expect("seen=0xc3 pread=1:0xc3");
	case_end();

	case_begin("udmabuf.alias.pwrite-memfd");
	c = 0x3c;
	r = (int)pwrite(mfd, &c, 1, 3 * PAGE + 7);
	cpu_begin(fd, DMA_BUF_SYNC_READ);
	out("pwrite=%s seen=%#x", val(r), mb[3 * PAGE + 7]);
	cpu_end(fd, DMA_BUF_SYNC_READ);
	case_end();

	case_begin("udmabuf.alias.memfd-closed");
	close(mfd);
	mfd = -1;
	munmap(mm, BUF_SIZE);
	mm = MAP_FAILED;
	cpu_begin(fd, DMA_BUF_SYNC_WRITE);
	mb[1] = 0x11;
	cpu_end(fd, DMA_BUF_SYNC_WRITE);
	munmap(mb, BUF_SIZE);
	mb = mmap(NULL, BUF_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (mb == MAP_FAILED) {
		out("remap=%s", errname(errno));
	} else {
		cpu_begin(fd, DMA_BUF_SYNC_READ);
		out("kept=%#x,%#x,%#x", mb[1], mb[5], mb[2 * PAGE]);
		cpu_end(fd, DMA_BUF_SYNC_READ);
	}
	expect("kept=0x11,0x5a,0xc3");
	case_end();

	case_begin("udmabuf.alias.shrink-after-create");
	{
		int m2 = -1, b2 = udmabuf_buf(BUF_SIZE, &m2);

		out("ftruncate=%s", res(m2 >= 0 ? ftruncate(m2, PAGE) : -1));
		out("add-seal-write=%s", res(m2 >= 0 ? fcntl(m2, F_ADD_SEALS, F_SEAL_WRITE) : -1));
		xclose(b2);
		xclose(m2);
	}
	case_end();

	case_begin("udmabuf.alias.offset-view");
	{
		int m3 = sealed_memfd(BUF_SIZE), b3;
		struct udmabuf_create uc = { .offset = 2 * PAGE, .size = PAGE };
		unsigned char *v;

		tag_pages(m3, 4, 0x20);
		uc.memfd = (__u32)m3;
		b3 = ioctl(udmabuf_dev(), UDMABUF_CREATE, &uc);
		v = b3 < 0 ? MAP_FAILED : mmap(NULL, PAGE, PROT_READ, MAP_SHARED, b3, 0);
		if (v == MAP_FAILED) {
			out("%s", errname(errno));
		} else {
			cpu_begin(b3, DMA_BUF_SYNC_READ);
			out("first-byte=%#x", v[0]);
			cpu_end(b3, DMA_BUF_SYNC_READ);
			munmap(v, PAGE);
		}
		expect("first-byte=0x22");
		xclose(b3);
		xclose(m3);
	}
	case_end();
out:
	if (mb != MAP_FAILED)
		munmap(mb, BUF_SIZE);
	if (mm != MAP_FAILED)
		munmap(mm, BUF_SIZE);
	xclose(fd);
	xclose(mfd);
}

void t_udmabuf(void)
{
	int fd = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);

	one("udmabuf.dev.open-rw", fdres(fd));
	xclose(fd);
	fd = open("/dev/udmabuf", O_RDONLY | O_CLOEXEC);
	one("udmabuf.dev.open-ro", fdres(fd));
	if (fd >= 0) {
		int mfd = sealed_memfd(PAGE);
		struct udmabuf_create c = { .memfd = (__u32)mfd, .size = PAGE };
		int b = ioctl(fd, UDMABUF_CREATE, &c);

		one("udmabuf.dev.create-via-ro-open", fdres(b));
		xclose(b);
		xclose(mfd);
		close(fd);
	}
	if (udmabuf_dev() < 0) {
		case_begin("udmabuf.dev.available");
		case_broken("open /dev/udmabuf: %s", errname(errno));
		case_end();
		return;
	}
	create_args();
	list_contents();
	aliasing();
}

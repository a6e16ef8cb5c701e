// SPDX-License-Identifier: MIT
/* t_heap.c - the system dma-heap device and DMA_HEAP_IOCTL_ALLOC. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conform.h"

void t_abi(void)
{
	case_begin("abi.requests");
	out("SYNC=%#lx", (unsigned long)DMA_BUF_IOCTL_SYNC);
	out("SET_NAME_A=%#lx", (unsigned long)DMA_BUF_SET_NAME_A);
	out("SET_NAME_B=%#lx", (unsigned long)DMA_BUF_SET_NAME_B);
	out("EXPORT=%#lx", (unsigned long)DMA_BUF_IOCTL_EXPORT_SYNC_FILE);
	out("IMPORT=%#lx", (unsigned long)DMA_BUF_IOCTL_IMPORT_SYNC_FILE);
	out("MERGE=%#lx", (unsigned long)SYNC_IOC_MERGE);
	out("FILE_INFO=%#lx", (unsigned long)SYNC_IOC_FILE_INFO);
	out("SET_DEADLINE=%#lx", (unsigned long)CONFORM_SYNC_SET_DEADLINE);
	out("HEAP_ALLOC=%#lx", (unsigned long)DMA_HEAP_IOCTL_ALLOC);
	out("UDMABUF_CREATE=%#lx", (unsigned long)UDMABUF_CREATE);
	out("UDMABUF_CREATE_LIST=%#lx", (unsigned long)UDMABUF_CREATE_LIST);
	out("SW_CREATE_FENCE=%#lx", (unsigned long)CONFORM_SW_SYNC_CREATE_FENCE);
	out("SW_INC=%#lx", (unsigned long)CONFORM_SW_SYNC_INC);
	out("SW_GET_DEADLINE=%#lx", (unsigned long)CONFORM_SW_SYNC_GET_DEADLINE);
	expect("SYNC=0x40086200 SET_NAME_A=0x40046201 SET_NAME_B=0x40086201 EXPORT=0xc0086202 "
	       "IMPORT=0x40086203 MERGE=0xc0303e03 FILE_INFO=0xc0383e04 SET_DEADLINE=0x40103e05 "
	       "HEAP_ALLOC=0xc0184800 UDMABUF_CREATE=0x40187542 UDMABUF_CREATE_LIST=0x40087543 "
	       "SW_CREATE_FENCE=0xc0285700 SW_INC=0x40045701 SW_GET_DEADLINE=0xc0105702");
	case_end();
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void heap_device(void)
{
	char *names[32];
	struct stat st;
	struct dirent *de;
	char b[16];
	int n = 0, i, fd;
	DIR *d;
	void *m;

	case_begin("heap.dev.list");
	d = opendir("/dev/dma_heap");
	if (!d) {
		out("%s", errname(errno));
	} else {
		while ((de = readdir(d)) && n < 32)
			if (de->d_name[0] != '.')
				names[n++] = strdup(de->d_name);
		closedir(d);
		qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
		for (i = 0; i < n; i++) {
			/* other heaps may exist; only the system heap is part of the contract */
			if (!strcmp(names[i], "system"))
				out("system");
			free(names[i]);
		}
	}
	case_end();

	case_begin("heap.dev.stat");
	if (stat("/dev/dma_heap/system", &st) < 0)
		out("%s", errname(errno));
	else
		out("type=%s", file_type(st.st_mode));
	case_end();

	fd = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	one("heap.dev.open-ro", fdres(fd));
	xclose(fd);
	fd = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC);
	one("heap.dev.open-rw", fdres(fd));
	xclose(fd);

	fd = heap_dev();
	if (fd < 0) {
		case_begin("heap.dev.available");
		case_broken("open /dev/dma_heap/system: %s", errname(-fd));
		case_end();
		return;
	}
	one_expect("heap.dev.lseek", val(lseek(fd, 0, SEEK_SET)), "ESPIPE");
	one_expect("heap.dev.read", val(read(fd, b, sizeof(b))), "EINVAL");
	one("heap.dev.write", val(write(fd, b, sizeof(b))));
	m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	one_expect("heap.dev.mmap", m == MAP_FAILED ? errname(errno) : "ok", "ENODEV");
	if (m != MAP_FAILED)
		munmap(m, PAGE);
	one("heap.dev.poll", poll_str(fd, POLLIN | POLLOUT));
	one("heap.dev.mode", fd_mode(fd));
}

/* allocate with a raw request value: result, fd returned?, size, mode */
static void alloc_raw(const char *name, unsigned long req, struct dma_heap_allocation_data *a,
		      const char *spec)
{
	int r;

	case_begin("heap.alloc.%s", name);
	a->fd = 0;
	r = ioctl(heap_dev(), req, a);
	out("%s", res(r));
	if (r >= 0) {
		if (a->fd == 0) {
			out("fd-returned=no");
		} else {
			out("size=%s mode=%s", val(lseek((int)a->fd, 0, SEEK_END)),
			    fd_mode((int)a->fd));
			close((int)a->fd);
		}
	}
	if (spec)
		expect(spec);
	case_end();
}

static void alloc_one(const char *name, __u64 len, __u32 fd_flags, __u64 heap_flags,
		      const char *spec)
{
	struct dma_heap_allocation_data a = { .len = len, .fd_flags = fd_flags,
					      .heap_flags = heap_flags };

	alloc_raw(name, DMA_HEAP_IOCTL_ALLOC, &a, spec);
}

static void heap_alloc_args(void)
{
	static const struct {
		const char *name;
		__u64 len;
	} lens[] = {
		{ "1", 1 },	      { "100", 100 },	      { "4095", 4095 },
		{ "4096", 4096 },     { "4097", 4097 },	      { "12288", 12288 },
		{ "65536", 65536 },   { "1M", 1 << 20 },      { "1M+1", (1 << 20) + 1 },
	};
	static const struct {
		const char *name;
		__u32 flags;
	} fdf[] = {
		{ "rdonly", O_RDONLY },
		{ "wronly", O_WRONLY },
		{ "rdwr", O_RDWR },
		{ "accmode3", O_ACCMODE },
		{ "cloexec", O_CLOEXEC },
		{ "rdwr-cloexec", O_RDWR | O_CLOEXEC },
		{ "nonblock", O_RDWR | O_NONBLOCK },
		{ "append", O_RDWR | O_APPEND },
		{ "creat", O_RDWR | O_CREAT },
		{ "bit31", O_RDWR | 0x80000000u },
	};
	struct dma_heap_allocation_data a;
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		snprintf(name, sizeof(name), "len.%s", lens[i].name);
		alloc_one(name, lens[i].len, O_RDWR | O_CLOEXEC, 0, NULL);
	}
	alloc_one("len.0", 0, O_RDWR, 0, "EINVAL");
	alloc_one("len.wraps-to-0", ~0ULL, O_RDWR, 0, "EINVAL");
	alloc_one("len.wraps-to-0-b", ~0ULL - 100, O_RDWR, 0, "EINVAL");

	for (i = 0; i < sizeof(fdf) / sizeof(fdf[0]); i++) {
		snprintf(name, sizeof(name), "fd_flags.%s", fdf[i].name);
		alloc_one(name, PAGE, fdf[i].flags, 0,
			  fdf[i].flags & ~(unsigned int)(O_CLOEXEC | O_ACCMODE) ? "EINVAL" : NULL);
	}
	alloc_one("heap_flags.1", PAGE, O_RDWR, 1, "EINVAL");
	alloc_one("heap_flags.2", PAGE, O_RDWR, 2, "EINVAL");
	alloc_one("heap_flags.bit63", PAGE, O_RDWR, 1ULL << 63, "EINVAL");

	case_begin("heap.alloc.in-fd.1");
	memset(&a, 0, sizeof(a));
	a.len = PAGE;
	a.fd = 1;
	a.fd_flags = O_RDWR;
	out("%s", res(ioctl(heap_dev(), DMA_HEAP_IOCTL_ALLOC, &a)));
	expect("EINVAL");
	case_end();
	case_begin("heap.alloc.in-fd.-1");
	a.fd = (__u32)-1;
	out("%s", res(ioctl(heap_dev(), DMA_HEAP_IOCTL_ALLOC, &a)));
	expect("EINVAL");
	case_end();
	one_expect("heap.alloc.null-arg", res(ioctl(heap_dev(), DMA_HEAP_IOCTL_ALLOC, NULL)),
		   "EFAULT");
	one("heap.alloc.bad-pointer", res(ioctl(heap_dev(), DMA_HEAP_IOCTL_ALLOC, (void *)16)));
}

/* the ALLOC request with other sizes and directions: the struct is zero-extended or cut */
static void heap_alloc_sizes(void)
{
	static const struct {
		const char *name;
		unsigned int dir, size;
	} v[] = {
		{ "size0", _IOC_READ | _IOC_WRITE, 0 },
		{ "size8", _IOC_READ | _IOC_WRITE, 8 },
		{ "size12", _IOC_READ | _IOC_WRITE, 12 },
		{ "size16", _IOC_READ | _IOC_WRITE, 16 },
		{ "size20", _IOC_READ | _IOC_WRITE, 20 },
		{ "size24", _IOC_READ | _IOC_WRITE, 24 },
		{ "size32-garbage", _IOC_READ | _IOC_WRITE, 32 },
		{ "size128-garbage", _IOC_READ | _IOC_WRITE, 128 },
		{ "size256-garbage", _IOC_READ | _IOC_WRITE, 256 },
		{ "dir-write-only", _IOC_WRITE, 24 },
		{ "dir-read-only", _IOC_READ, 24 },
		{ "dir-none", _IOC_NONE, 0 },
	};
	union {
		struct dma_heap_allocation_data a;
		unsigned char raw[256];
	} u;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(&u, 0, sizeof(u));
		if (strstr(v[i].name, "garbage"))
			memset(u.raw + sizeof(u.a), 0xa5, sizeof(u.raw) - sizeof(u.a));
		u.a.len = 2 * PAGE;
		u.a.fd_flags = O_RDWR | O_CLOEXEC;
		alloc_raw(v[i].name, _IOC(v[i].dir, 'H', 0, v[i].size), &u.a, NULL);
	}
	memset(&u, 0, sizeof(u));
	u.a.len = PAGE;
	u.a.fd_flags = O_RDWR | O_CLOEXEC;
	alloc_raw("other-type", _IOWR('X', 0, struct dma_heap_allocation_data), &u.a, NULL);
	memset(&u, 0, sizeof(u));
	u.a.len = PAGE;
	u.a.fd_flags = O_RDWR | O_CLOEXEC;
	alloc_raw("nr1", _IOWR('H', 1, struct dma_heap_allocation_data), &u.a, "EINVAL");
	alloc_raw("nr0x7f", _IOWR('H', 0x7f, struct dma_heap_allocation_data), &u.a, "EINVAL");
	alloc_raw("nr0xff", _IOWR('H', 0xff, struct dma_heap_allocation_data), &u.a, "EINVAL");
	alloc_raw("sync-request", DMA_BUF_IOCTL_SYNC, &u.a, NULL);
}

static int all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static void heap_contents(void)
{
	size_t size = 1 << 20;
	unsigned char *m;
	int fd, round;

	for (round = 0; round < 2; round++) {
		case_begin("heap.zero-fill.%s", round ? "reuse" : "fresh");
		fd = heap_buf(size, O_RDWR | O_CLOEXEC);
		m = fd < 0 ? MAP_FAILED : mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			case_broken("alloc/mmap: %s", errname(fd < 0 ? -fd : errno));
		} else {
			cpu_begin(fd, DMA_BUF_SYNC_RW);
			out("%s", all_bytes(m, size, 0) ? "zeroed" : "dirty");
			/* dirty it so the next allocation could see stale data */
			memset(m, 0xee, size);
			cpu_end(fd, DMA_BUF_SYNC_RW);
			munmap(m, size);
		}
		xclose(fd);
		case_end();
	}
}

static void heap_access_modes(void)
{
	static const struct {
		const char *name;
		__u32 flags;
	} modes[] = {
		{ "rdonly", O_RDONLY }, { "wronly", O_WRONLY }, { "accmode3", O_ACCMODE },
	};
	static const struct {
		const char *name;
		int prot, flags;
	} maps[] = {
		{ "mmap-r-shared", PROT_READ, MAP_SHARED },
		{ "mmap-rw-shared", PROT_READ | PROT_WRITE, MAP_SHARED },
		{ "mmap-w-shared", PROT_WRITE, MAP_SHARED },
		{ "mmap-rw-private", PROT_READ | PROT_WRITE, MAP_PRIVATE },
	};
	struct dma_buf_sync s;
	size_t i, j;
	void *m;
	int fd, r;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		fd = heap_buf(PAGE, modes[i].flags | O_CLOEXEC);
		if (fd < 0) {
			case_begin("heap.%s.alloc", modes[i].name);
			case_broken("alloc: %s", errname(-fd));
			case_end();
			continue;
		}
		for (j = 0; j < sizeof(maps) / sizeof(maps[0]); j++) {
			case_begin("heap.%s.%s", modes[i].name, maps[j].name);
			m = mmap(NULL, PAGE, maps[j].prot, maps[j].flags, fd, 0);
			out("%s", m == MAP_FAILED ? errname(errno) : "ok");
			if (!strcmp(modes[i].name, "rdonly") && j == 1)
				expect("EACCES");
			if (m != MAP_FAILED)
				munmap(m, PAGE);
			case_end();
		}
		case_begin("heap.%s.mprotect-rw", modes[i].name);
		m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			out("mmap=%s", errname(errno));
		} else {
			out("%s", res(mprotect(m, PAGE, PROT_READ | PROT_WRITE)));
			munmap(m, PAGE);
		}
		case_end();
		case_begin("heap.%s.sync", modes[i].name);
		s.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW;
		r = ioctl(fd, DMA_BUF_IOCTL_SYNC, &s);
		out("start=%s", res(r));
		s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
		out("end=%s", res(ioctl(fd, DMA_BUF_IOCTL_SYNC, &s)));
		case_end();
		case_begin("heap.%s.export-import", modes[i].name);
		r = export_fence(fd, DMA_BUF_SYNC_RW);
		out("export=%s", r < 0 ? errname(-r) : "fd");
		if (r >= 0) {
			out("import=%s", errname(-import_fence(fd, r, DMA_BUF_SYNC_WRITE)));
			close(r);
		}
		case_end();
		close(fd);
	}
}

void t_heap(void)
{
	heap_device();
	if (heap_dev() < 0)
		return;
	case_begin("heap.alloc.basic");
	{
		struct dma_heap_allocation_data a = { .len = BUF_SIZE,
						      .fd_flags = O_RDWR | O_CLOEXEC };
		int r = ioctl(heap_dev(), DMA_HEAP_IOCTL_ALLOC, &a);

		out("%s", val(r));
		if (r >= 0) {
			out("fd=%s mode=%s size=%s", (int)a.fd > 2 ? "new" : "low",
			    fd_mode((int)a.fd), val(lseek((int)a.fd, 0, SEEK_END)));
			close((int)a.fd);
		}
		expect("0 fd=new mode=rw/cloexec size=16384");
	}
	case_end();
	heap_alloc_args();
	heap_alloc_sizes();
	heap_contents();
	heap_access_modes();
}

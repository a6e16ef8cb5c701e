// SPDX-License-Identifier: MIT
/*
 * test_heap_system.c - the heap API and the system heap: DMA_HEAP_IOCTL_ALLOC
 * rules, rounding, zero-fill, memfd backing, mmap rules, CPU access.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dmabuf/dma_buf.h>
#include <dmabuf/heap.h>

#include "tap.h"
#include "test_util.h"

static size_t psz;

static struct dmabuf_buf *alloc_ok(uint64_t len, uint32_t fd_flags)
{
	struct dmabuf_buf *buf = NULL;
	int ret = dmabuf_heap_alloc(dmabuf_heap_find("system"), len, fd_flags,
				    0, &buf);

	if (ret || !buf)
		bail_out("system heap alloc of %llu failed: %d",
			 (unsigned long long)len, ret);
	return buf;
}

static void test_find(void)
{
	struct dmabuf_heap *heap = dmabuf_heap_find("system");

	ok(heap != NULL, "find(\"system\") finds the built-in heap");
	is_str(dmabuf_heap_name(heap), "system", "its name is \"system\"");
	ok(dmabuf_heap_find("system") == heap, "find returns the same object");
	ok(dmabuf_heap_find("cma") == NULL, "unknown heap name: NULL");
	ok(dmabuf_heap_find(NULL) == NULL, "NULL name: NULL");
	ok(dmabuf_heap_name(NULL) == NULL, "name(NULL) is NULL");
}

static void test_alloc_rules(void)
{
	struct dmabuf_heap *heap = dmabuf_heap_find("system");
	struct dmabuf_buf *buf = NULL;
	long phys = sysconf(_SC_PHYS_PAGES);
	int fds = count_fds();

	is_int(dmabuf_heap_alloc(heap, 16384, O_RDWR, 1, &buf), -EINVAL,
	       "heap_flags=1: -EINVAL");
	is_int(dmabuf_heap_alloc(heap, 16384, O_RDWR, 1ULL << 63, &buf), -EINVAL,
	       "heap_flags high bit: -EINVAL");
	is_int(dmabuf_heap_alloc(heap, 16384, O_NONBLOCK, 0, &buf), -EINVAL,
	       "fd_flags=O_NONBLOCK: -EINVAL");
	is_int(dmabuf_heap_alloc(heap, 16384, O_RDWR | O_APPEND, 0, &buf),
	       -EINVAL, "fd_flags with O_APPEND: -EINVAL");
	is_int(dmabuf_heap_alloc(heap, 0, O_RDWR, 0, &buf), -EINVAL,
	       "len=0: -EINVAL");
	is_int(dmabuf_heap_alloc(heap, UINT64_MAX, O_RDWR, 0, &buf), -EINVAL,
	       "len that wraps to 0 when page-aligned: -EINVAL");
	is_int(dmabuf_heap_alloc(heap, UINT64_MAX - psz + 1, O_RDWR, 0, &buf),
	       -ENOMEM, "largest page-aligned len: -ENOMEM");
	if (phys > 0)
		is_int(dmabuf_heap_alloc(heap, ((uint64_t)phys + 1) * psz,
					 O_RDWR, 0, &buf),
		       -ENOMEM, "more than the machine's RAM: -ENOMEM");
	is_int(dmabuf_heap_alloc(heap, 0, O_NONBLOCK, 1, &buf), -EINVAL,
	       "several errors: -EINVAL (fd_flags first)");
	is_int(dmabuf_heap_alloc(NULL, 4096, O_RDWR, 0, &buf), -EINVAL,
	       "NULL heap: -EINVAL");
	is_int(dmabuf_heap_alloc(heap, 4096, O_RDWR, 0, NULL), -EINVAL,
	       "NULL out: -EINVAL");
	ok(buf == NULL, "failed allocations leave *out alone");
	is_int(count_fds(), fds, "failed allocations leave no fd open");
}

static void test_rounding_and_props(void)
{
	struct dmabuf_buf *buf;
	struct stat st;
	int memfd, seals;

	buf = alloc_ok(100, O_RDWR);
	is_int(dmabuf_buf_size(buf), psz, "len=100 rounds up to one page");
	dmabuf_buf_put(buf);
	buf = alloc_ok(psz + 1, O_RDWR);
	is_int(dmabuf_buf_size(buf), 2 * psz, "len=page+1 rounds up to two pages");
	dmabuf_buf_put(buf);

	buf = alloc_ok(16384, O_RDWR | O_CLOEXEC);
	is_int(dmabuf_buf_size(buf), 16384, "an aligned len is kept");
	is_str(dmabuf_buf_exp_name(buf), "system", "exp_name is \"system\"");
	is_int(dmabuf_buf_map_info(buf), DMABUF_MAP_COHERENT_CACHED,
	       "map_info is COHERENT_CACHED");
	is_int(dmabuf_buf_flags(buf), O_RDWR | O_CLOEXEC,
	       "fd flags are kept (O_RDWR|O_CLOEXEC)");
	ok(dmabuf_buf_resv(buf) != NULL, "the buffer has a reservation object");

	memfd = dmabuf_buf_memfd(buf);
	ok(memfd >= 0, "the buffer is backed by a memfd");
	seals = fcntl(memfd, F_GET_SEALS);
	ok(seals >= 0 && (seals & F_SEAL_SHRINK) && (seals & F_SEAL_GROW),
	   "the memfd is sealed against shrinking and growing (seals %#x)",
	   seals);
	ok(!fstat(memfd, &st) && st.st_size == 16384,
	   "the memfd has the buffer's size");
	ok(fcntl(memfd, F_GETFD) & FD_CLOEXEC, "the memfd is close-on-exec");
	is_int(ftruncate(memfd, 4096), -1, "shrinking the memfd fails");
	dmabuf_buf_put(buf);

	buf = alloc_ok(4096, O_RDONLY);
	is_int(dmabuf_buf_flags(buf), O_RDONLY, "O_RDONLY buffers are allowed");
	dmabuf_buf_put(buf);
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_zero_fill(void)
{
	struct dmabuf_buf *a, *b;
	void *map = NULL;

	a = alloc_ok(3 * psz, O_RDWR);
	ok(!dmabuf_buf_mmap(a, 3 * psz, PROT_READ | PROT_WRITE, MAP_SHARED, 0,
			    &map), "mmap a fresh buffer");
	ok(all_zero(map, 3 * psz), "a fresh buffer reads as zeros");
	memset(map, 0xa5, 3 * psz);
	ok(!dmabuf_buf_munmap(a, map, 3 * psz), "munmap it");
	dmabuf_buf_put(a);

	b = alloc_ok(3 * psz, O_RDWR);
	map = NULL;
	ok(!dmabuf_buf_mmap(b, 3 * psz, PROT_READ, MAP_SHARED, 0, &map),
	   "mmap the next buffer");
	ok(all_zero(map, 3 * psz),
	   "a buffer allocated after a dirtied one reads as zeros");
	dmabuf_buf_munmap(b, map, 3 * psz);
	dmabuf_buf_put(b);
}

static void test_mmap_rules(void)
{
	struct dmabuf_buf *buf, *ro, *wo;
	unsigned char *map = NULL, *p2 = NULL;
	void *p = NULL;
	int memfd;

	buf = alloc_ok(4 * psz, O_RDWR);
	memfd = dmabuf_buf_memfd(buf);

	is_int(dmabuf_buf_mmap(buf, 4 * psz, PROT_READ | PROT_WRITE, MAP_SHARED,
			       0, (void **)&map), 0, "mmap(RW, SHARED) works");
	is_int(dmabuf_buf_num_mmaps(buf), 1, "one live mapping is counted");
	map[0] = 0x11;
	map[4 * psz - 1] = 0x22;
	{
		unsigned char c = 0, d = 0;

		ok(pread(memfd, &c, 1, 0) == 1 && c == 0x11 &&
		   pread(memfd, &d, 1, 4 * psz - 1) == 1 && d == 0x22,
		   "writes through the mapping land in the backing memfd");
	}
	p = NULL;
	is_int(dmabuf_buf_mmap(buf, 5 * psz, PROT_READ, MAP_SHARED, 0, &p),
	       -EINVAL, "mmap(size + page): -EINVAL");
	p = NULL;
	is_int(dmabuf_buf_mmap(buf, psz, PROT_READ, MAP_SHARED, 4, &p), -EINVAL,
	       "mmap at pgoff == pages: -EINVAL");
	p = NULL;
	is_int(dmabuf_buf_mmap(buf, psz, PROT_READ, MAP_SHARED, 3, (void **)&p2),
	       0, "mmap(last page, pgoff 3) works");
	ok(p2 && p2[psz - 1] == 0x22, "and shows the last page");
	dmabuf_buf_munmap(buf, p2, psz);
	is_int(dmabuf_buf_mmap(buf, 0, PROT_READ, MAP_SHARED, 0, &p), -EINVAL,
	       "mmap(len 0): -EINVAL");
	is_int(dmabuf_buf_mmap(buf, psz, PROT_READ, MAP_SHARED, UINT64_MAX, &p),
	       -EOVERFLOW, "pgoff + pages wraps: -EOVERFLOW");
	is_int(dmabuf_buf_mmap(buf, psz, PROT_READ, MAP_SHARED | MAP_ANONYMOUS,
			       0, &p), -EINVAL, "MAP_ANONYMOUS: -EINVAL");
	is_int(dmabuf_buf_mmap(buf, psz, PROT_READ, 0, 0, &p), -EINVAL,
	       "no mapping type: -EINVAL");

	/* MAP_PRIVATE: a single page only, copy-on-write. */
	p2 = NULL;
	is_int(dmabuf_buf_mmap(buf, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0,
			       (void **)&p2), 0, "mmap(MAP_PRIVATE, one page) works");
	if (p2) {
		ok(p2[0] == 0x11, "the private mapping shows the buffer");
		p2[0] = 0x77;
		ok(map[0] == 0x11, "a write to it does not reach the buffer");
		dmabuf_buf_munmap(buf, p2, psz);
	}
	p = NULL;
	is_int(dmabuf_buf_mmap(buf, 2 * psz, PROT_READ, MAP_PRIVATE, 0, &p),
	       -EINVAL, "mmap(MAP_PRIVATE, two pages): -EINVAL");
	p = NULL;
	is_int(dmabuf_buf_mmap(buf, 100, PROT_READ, MAP_PRIVATE, 1, &p), 0,
	       "mmap(MAP_PRIVATE, 100 bytes = one page) works");
	dmabuf_buf_munmap(buf, p, 100);

	/* munmap bookkeeping */
	is_int(dmabuf_buf_munmap(buf, map, psz), -EINVAL,
	       "munmap with another length: -EINVAL (not tracked)");
	is_int(dmabuf_buf_munmap(buf, map + psz, 3 * psz), -EINVAL,
	       "munmap at another address: -EINVAL");
	is_int(dmabuf_buf_munmap(buf, map, 4 * psz), 0, "munmap the mapping");
	is_int(dmabuf_buf_num_mmaps(buf), 0, "no mapping left");
	is_int(dmabuf_buf_munmap(buf, map, 4 * psz), -EINVAL,
	       "a second munmap: -EINVAL");

	/* Access modes */
	ro = alloc_ok(2 * psz, O_RDONLY);
	p = NULL;
	is_int(dmabuf_buf_mmap(ro, 2 * psz, PROT_READ | PROT_WRITE, MAP_SHARED,
			       0, &p), -EACCES, "mmap(RW, SHARED) of O_RDONLY: -EACCES");
	p = NULL;
	is_int(dmabuf_buf_mmap(ro, 2 * psz, PROT_READ, MAP_SHARED, 0, &p), 0,
	       "mmap(R, SHARED) of O_RDONLY works");
	dmabuf_buf_munmap(ro, p, 2 * psz);
	p = NULL;
	is_int(dmabuf_buf_mmap(ro, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0,
			       &p), 0, "mmap(RW, PRIVATE) of O_RDONLY works (COW)");
	dmabuf_buf_munmap(ro, p, psz);
	dmabuf_buf_put(ro);

	wo = alloc_ok(psz, O_WRONLY);
	p = NULL;
	is_int(dmabuf_buf_mmap(wo, psz, PROT_WRITE, MAP_SHARED, 0, &p), -EACCES,
	       "mmap of an O_WRONLY buffer: -EACCES");
	is_int(dmabuf_buf_mmap(wo, psz, PROT_READ, MAP_PRIVATE, 0, &p), -EACCES,
	       "private mmap of an O_WRONLY buffer: -EACCES");
	dmabuf_buf_put(wo);
	dmabuf_buf_put(buf);
}

static void test_mapping_holds_ref(void)
{
	int fds = count_fds();
	struct dmabuf_buf *buf = alloc_ok(2 * psz, O_RDWR);
	unsigned char *map = NULL;

	ok(!dmabuf_buf_mmap(buf, 2 * psz, PROT_READ | PROT_WRITE, MAP_SHARED, 0,
			    (void **)&map), "mmap a buffer");
	map[5] = 0x42;
	dmabuf_buf_put(buf);	/* the creator's reference */
	ok(count_fds() == fds + 1,
	   "after the last put the mapping keeps the buffer (its memfd) alive");
	ok(dmabuf_buf_size(buf) == 2 * psz && map[5] == 0x42,
	   "buffer and mapping are still usable");
	is_int(dmabuf_buf_munmap(buf, map, 2 * psz), 0,
	       "munmap drops the last reference");
	is_int(count_fds(), fds, "the buffer is released: its memfd is closed");
}

static void test_vmap(void)
{
	struct dmabuf_buf *buf = alloc_ok(2 * psz, O_RDWR);
	unsigned char *v1 = NULL, *v2 = NULL, *map = NULL;

	is_int(dmabuf_buf_vmap(buf, (void **)&v1), 0, "vmap works");
	is_int(dmabuf_buf_vmap(buf, (void **)&v2), 0, "a second vmap works");
	ok(v1 && v1 == v2, "both vmaps return the same address");
	ok(!dmabuf_buf_mmap(buf, 2 * psz, PROT_READ, MAP_SHARED, 0,
			    (void **)&map), "mmap it too");
	v1[2 * psz - 1] = 0x5c;
	ok(map[2 * psz - 1] == 0x5c, "vmap and mmap see the same memory");
	dmabuf_buf_munmap(buf, map, 2 * psz);
	dmabuf_buf_vunmap(buf, v2);
	ok(v1[2 * psz - 1] == 0x5c, "after one vunmap the vmap is still there");
	dmabuf_buf_vunmap(buf, v1);
	is_int(dmabuf_buf_vmap(NULL, (void **)&v1), -EINVAL, "vmap(NULL): -EINVAL");
	dmabuf_buf_put(buf);
}

static void test_cpu_access(void)
{
	struct dmabuf_buf *buf = alloc_ok(psz, O_RDWR);

	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_END | DMABUF_SYNC_RW), 0,
	       "END|RW without START: 0 (the system heap does not count)");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_START | DMABUF_SYNC_RW), 0,
	       "START|RW: 0");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_END | DMABUF_SYNC_RW), 0,
	       "END|RW: 0");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_START | DMABUF_SYNC_READ), 0,
	       "START|READ: 0");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_END | DMABUF_SYNC_READ), 0,
	       "END|READ: 0");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_START | DMABUF_SYNC_WRITE), 0,
	       "START|WRITE: 0");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_END | DMABUF_SYNC_WRITE), 0,
	       "END|WRITE: 0");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_START), -EINVAL,
	       "START alone: -EINVAL");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_RW | 0x8), -EINVAL,
	       "RW|0x8: -EINVAL");
	is_int(dmabuf_buf_poll(buf, POLLIN | POLLOUT), POLLIN | POLLOUT,
	       "an idle heap buffer polls IN|OUT");
	dmabuf_buf_put(buf);
}

static void test_attach(void)
{
	struct dmabuf_buf *buf = alloc_ok(3 * psz, O_RDWR);
	struct dmabuf_attachment *a = NULL, *b = NULL;
	struct dmabuf_sg_table *ta = NULL, *tb = NULL;

	ok(!dmabuf_buf_attach(buf, "dev-a", NULL, &a), "attach device a");
	ok(!dmabuf_buf_attach(buf, "dev-b", NULL, &b), "attach device b");
	is_int(dmabuf_buf_num_attachments(buf), 2, "two attachments");
	is_int(dmabuf_attachment_map(a, DMABUF_TO_DEVICE, &ta), 0, "map a");
	is_int(dmabuf_attachment_map(b, DMABUF_FROM_DEVICE, &tb), 0, "map b");
	ok(ta && ta->nents == 1 && ta->ents[0].fd == dmabuf_buf_memfd(buf) &&
	   ta->ents[0].offset == 0 && ta->ents[0].length == 3 * psz,
	   "the table is one range: the whole memfd");
	ok(ta != tb, "each attachment gets its own table");
	dmabuf_attachment_unmap(a, ta, DMABUF_TO_DEVICE);
	dmabuf_attachment_unmap(b, tb, DMABUF_FROM_DEVICE);
	dmabuf_buf_detach(a);
	dmabuf_buf_detach(b);
	is_int(dmabuf_buf_num_attachments(buf), 0, "all detached");
	dmabuf_buf_put(buf);
}

int main(void)
{
	psz = (size_t)sysconf(_SC_PAGESIZE);
	test_find();
	test_alloc_rules();
	test_rounding_and_props();
	test_zero_fill();
	test_mmap_rules();
	test_mapping_holds_ref();
	test_vmap();
	test_cpu_access();
	test_attach();
	return tap_done();
}

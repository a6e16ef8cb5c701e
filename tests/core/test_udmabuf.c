// SPDX-License-Identifier: MIT
/*
 * test_udmabuf.c - udmabuf: UDMABUF_CREATE / CREATE_LIST rules and limits,
 * aliasing of the memfd pages, concatenation, CPU access and mmap rules,
 * and that nothing leaks on failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <dmabuf/dma_buf.h>
#include <dmabuf/fault.h>
#include <dmabuf/udmabuf.h>

#include "tap.h"
#include "test_util.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static size_t psz;

/* A memfd of @pages pages, byte i of page p filled with (p + 1) * 16 + i % 7. */
static int make_memfd(size_t pages, unsigned int seals)
{
	int fd = memfd_create("test-udmabuf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	unsigned char *page;

	if (fd < 0 || ftruncate(fd, (off_t)(pages * psz)))
		bail_out("memfd_create/ftruncate failed");
	page = malloc(psz);
	for (size_t p = 0; p < pages; p++) {
		for (size_t i = 0; i < psz; i++)
			page[i] = (unsigned char)((p + 1) * 16 + i % 7);
		if (pwrite(fd, page, psz, (off_t)(p * psz)) != (ssize_t)psz)
			bail_out("pwrite failed");
	}
	free(page);
	if (seals && fcntl(fd, F_ADD_SEALS, seals))
		bail_out("F_ADD_SEALS failed");
	return fd;
}

/* True if @map (len bytes) holds, page by page, the memfd pages @pages. */
static bool shows_pages(const unsigned char *map, const size_t *pages,
			size_t n)
{
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < psz; i++)
			if (map[k * psz + i] !=
			    (unsigned char)((pages[k] + 1) * 16 + i % 7))
				return false;
	return true;
}

static void test_create_rules(void)
{
	struct dmabuf_buf *buf = NULL;
	int fds, mfd, sealed_w, pipefd[2];

	mfd = make_memfd(4, 0);
	fds = count_fds();
	is_int(dmabuf_udmabuf_create(mfd, 0, 0, 4 * psz, &buf), -EINVAL,
	       "memfd without F_SEAL_SHRINK: -EINVAL");
	ok(!fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK), "add F_SEAL_SHRINK");
	is_int(dmabuf_udmabuf_create(mfd, 0, 0, 100, &buf), -EINVAL,
	       "size=100 (unaligned): -EINVAL");
	is_int(dmabuf_udmabuf_create(mfd, 0, 100, psz, &buf), -EINVAL,
	       "offset=100 (unaligned): -EINVAL");
	is_int(dmabuf_udmabuf_create(mfd, 0, psz, 4 * psz, &buf), -EINVAL,
	       "offset + size beyond the memfd: -EINVAL");
	is_int(dmabuf_udmabuf_create(mfd, 0, 8 * psz, psz, &buf), -EINVAL,
	       "offset beyond the memfd: -EINVAL");
	is_int(dmabuf_udmabuf_create(mfd, 0, 0, 0, &buf), -EINVAL,
	       "size=0: -EINVAL");
	is_int(dmabuf_udmabuf_create(mfd, 0, UINT64_MAX - psz + 1, psz, &buf),
	       -EINVAL, "offset + size wrapping: -EINVAL");
	is_int(dmabuf_udmabuf_create(-1, 0, 0, psz, &buf), -EBADFD,
	       "fd -1: -EBADFD");
	ok(!pipe(pipefd), "make a pipe");
	is_int(dmabuf_udmabuf_create(pipefd[0], 0, 0, psz, &buf), -EBADFD,
	       "a pipe: -EBADFD");
	close(pipefd[0]);
	close(pipefd[1]);
	is_int(dmabuf_udmabuf_create(pipefd[0], 0, 0, psz, &buf), -EBADFD,
	       "a closed fd: -EBADFD");
	ok(buf == NULL, "failed creates leave *out alone");

	sealed_w = make_memfd(1, F_SEAL_SHRINK | F_SEAL_WRITE);
	is_int(dmabuf_udmabuf_create(sealed_w, 0, 0, psz, &buf), -EINVAL,
	       "memfd with F_SEAL_WRITE: -EINVAL");
	close(sealed_w);
	sealed_w = make_memfd(1, F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE);
	is_int(dmabuf_udmabuf_create(sealed_w, 0, 0, psz, &buf), -EINVAL,
	       "memfd with F_SEAL_FUTURE_WRITE: -EINVAL");
	close(sealed_w);
	is_int(count_fds(), fds, "failed creates leave no fd open");

	is_int(dmabuf_udmabuf_create(mfd, 2, 0, 4 * psz, &buf), 0,
	       "unknown flag bits are ignored");
	is_int(dmabuf_buf_flags(buf), O_RDWR, "without FLAGS_CLOEXEC: O_RDWR");
	dmabuf_buf_put(buf);
	buf = NULL;
	is_int(dmabuf_udmabuf_create(mfd, DMABUF_UDMABUF_FLAGS_CLOEXEC, 0,
				     4 * psz, &buf), 0, "create 4 pages");
	is_int(dmabuf_buf_flags(buf), O_RDWR | O_CLOEXEC,
	       "FLAGS_CLOEXEC gives O_RDWR|O_CLOEXEC");
	is_int(dmabuf_buf_size(buf), 4 * psz, "size is the range's size");
	is_str(dmabuf_buf_exp_name(buf), "udmabuf", "exp_name is \"udmabuf\"");
	is_int(dmabuf_buf_map_info(buf), DMABUF_MAP_COHERENT_CACHED,
	       "map_info is COHERENT_CACHED");
	ok(dmabuf_buf_memfd(buf) >= 0 && dmabuf_buf_memfd(buf) != mfd,
	   "memfd(): the buffer's own duplicate of the memfd");
	dmabuf_buf_put(buf);
	is_int(count_fds(), fds, "the last put closes the duplicate");
	buf = NULL;
	is_int(dmabuf_udmabuf_create(mfd, 0, psz, psz, &buf), 0,
	       "create at an offset");
	is_int(dmabuf_buf_memfd(buf), -1, "memfd() of a range at an offset: -1");
	dmabuf_buf_put(buf);
	close(mfd);
}

static void test_not_memfd(void)
{
	struct dmabuf_buf *buf = NULL;
	struct statfs sfs;
	int fd;

	/* A tmpfs file that is not a memfd: its seals are F_SEAL_SEAL only. */
	fd = open("/dev/shm", O_TMPFILE | O_RDWR, 0600);
	if (fd >= 0 && !fstatfs(fd, &sfs) && sfs.f_type == TMPFS_MAGIC &&
	    !ftruncate(fd, (off_t)psz)) {
		is_int(dmabuf_udmabuf_create(fd, 0, 0, psz, &buf), -EINVAL,
		       "a tmpfs file that is not a memfd: -EINVAL (no SHRINK seal)");
	} else {
		ok(1, "# SKIP no tmpfs at /dev/shm");
	}
	if (fd >= 0)
		close(fd);

	fd = open("/proc/self/exe", O_RDONLY);
	if (fd >= 0 && !fstatfs(fd, &sfs) && sfs.f_type != TMPFS_MAGIC)
		is_int(dmabuf_udmabuf_create(fd, 0, 0, psz, &buf), -EBADFD,
		       "a regular file outside tmpfs: -EBADFD");
	else
		ok(1, "# SKIP the test binary lives on tmpfs");
	if (fd >= 0)
		close(fd);
}

static void test_list_rules(void)
{
	struct dmabuf_udmabuf_item *items;
	struct dmabuf_buf *buf = NULL;
	uint64_t limit_pages = ((uint64_t)DMABUF_UDMABUF_SIZE_LIMIT_MB << 20) / psz;
	int mfd, big, fds;

	mfd = make_memfd(2, F_SEAL_SHRINK);
	fds = count_fds();
	items = calloc(DMABUF_UDMABUF_LIST_LIMIT + 1, sizeof(*items));
	for (int i = 0; i <= DMABUF_UDMABUF_LIST_LIMIT; i++) {
		items[i].memfd = (uint32_t)mfd;
		items[i].offset = (i % 2) * psz;
		items[i].size = psz;
	}
	is_int(dmabuf_udmabuf_create_list(0, DMABUF_UDMABUF_LIST_LIMIT + 1,
					  items, &buf), -EINVAL,
	       "count above list_limit (1024): -EINVAL");
	is_int(dmabuf_udmabuf_create_list(0, 0, items, &buf), -EINVAL,
	       "count 0: -EINVAL");
	is_int(dmabuf_udmabuf_create_list(0, 2, NULL, &buf), -EFAULT,
	       "items NULL: -EFAULT");
	is_int(dmabuf_udmabuf_create_list(0, 2, items, NULL), -EINVAL,
	       "out NULL: -EINVAL");
	is_int(dmabuf_udmabuf_create_list(0, DMABUF_UDMABUF_LIST_LIMIT, items,
					  &buf), 0, "count == list_limit works");
	is_int(dmabuf_buf_size(buf), DMABUF_UDMABUF_LIST_LIMIT * psz,
	       "1024 one-page items make 1024 pages");
	is_int(count_fds(), fds + 1,
	       "items naming the same memfd share one duplicate");
	dmabuf_buf_put(buf);
	buf = NULL;

	/* One bad item poisons the list; alignment is checked before fds. */
	items[1].memfd = (uint32_t)-1;
	items[2].size = 100;
	is_int(dmabuf_udmabuf_create_list(0, 3, items, &buf), -EINVAL,
	       "unaligned size in item 2 wins over a bad fd in item 1");
	items[2].size = psz;
	is_int(dmabuf_udmabuf_create_list(0, 3, items, &buf), -EBADFD,
	       "a bad fd in item 1: -EBADFD");
	items[1].memfd = (uint32_t)mfd;
	items[1].size = 0;
	is_int(dmabuf_udmabuf_create_list(0, 3, items, &buf), -EINVAL,
	       "an item of size 0 in a nonempty list: -EINVAL");
	is_int(count_fds(), fds, "failed lists leave no fd open");
	free(items);

	/* The size limit (64 MiB by default). */
	big = make_memfd(0, 0);
	ok(!ftruncate(big, (off_t)((limit_pages + 1) * psz)) &&
	   !fcntl(big, F_ADD_SEALS, F_SEAL_SHRINK), "a sparse memfd above 64 MiB");
	is_int(dmabuf_udmabuf_create(big, 0, 0, (limit_pages + 1) * psz, &buf),
	       -EINVAL, "a buffer above size_limit_mb: -EINVAL");
	{
		struct dmabuf_udmabuf_item two[2] = {
			{ .memfd = (uint32_t)big, .size = limit_pages * psz },
			{ .memfd = (uint32_t)big, .size = psz },
		};

		is_int(dmabuf_udmabuf_create_list(0, 2, two, &buf), -EINVAL,
		       "items adding up to more than the limit: -EINVAL");
	}
	is_int(dmabuf_udmabuf_create(big, 0, 0, limit_pages * psz, &buf), 0,
	       "a buffer of exactly 64 MiB works");
	dmabuf_buf_put(buf);
	close(big);
	close(mfd);
}

static void test_aliasing(void)
{
	struct dmabuf_buf *buf = NULL;
	unsigned char *map = NULL, *mview;
	size_t want[] = { 1, 2 };
	unsigned char c = 0;
	int mfd;

	mfd = make_memfd(3, F_SEAL_SHRINK);
	ok(!dmabuf_udmabuf_create(mfd, 0, psz, 2 * psz, &buf),
	   "udmabuf of memfd pages 1..2");
	ok(!dmabuf_buf_mmap(buf, 2 * psz, PROT_READ | PROT_WRITE, MAP_SHARED, 0,
			    (void **)&map), "mmap the buffer");
	ok(shows_pages(map, want, 2),
	   "the mapping shows the memfd's pages 1 and 2");

	mview = mmap(NULL, 3 * psz, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	mview[psz + 3] = 0xee;
	ok(map[3] == 0xee, "a write through the memfd shows in the buffer");
	map[psz + 9] = 0xdd;
	ok(pread(mfd, &c, 1, (off_t)(2 * psz + 9)) == 1 && c == 0xdd,
	   "a write through the buffer shows in the memfd");
	munmap(mview, 3 * psz);

	close(mfd);
	map[0] = 0x5a;
	ok(!dmabuf_buf_munmap(buf, map, 2 * psz),
	   "write and munmap after the caller closed the memfd");
	map = NULL;
	ok(!dmabuf_buf_mmap(buf, psz, PROT_READ, MAP_SHARED, 0, (void **)&map) &&
	   map[0] == 0x5a && map[3] == 0xee,
	   "a new mapping after the close still aliases the same pages");
	dmabuf_buf_munmap(buf, map, psz);
	dmabuf_buf_put(buf);
}

static void test_list_concat(void)
{
	struct dmabuf_attachment *att = NULL;
	struct dmabuf_sg_table *t = NULL, *t2 = NULL;
	struct dmabuf_buf *buf = NULL;
	unsigned char *map = NULL, *v = NULL;
	int a, b;

	a = make_memfd(3, F_SEAL_SHRINK);	/* pages 0, 1, 2 */
	b = make_memfd(5, F_SEAL_SHRINK);	/* pages 0..4 */
	{
		struct dmabuf_udmabuf_item items[3] = {
			{ .memfd = (uint32_t)a, .offset = 2 * psz, .size = psz },
			{ .memfd = (uint32_t)b, .offset = 3 * psz, .size = 2 * psz },
			{ .memfd = (uint32_t)a, .offset = 0, .size = psz },
		};

		ok(!dmabuf_udmabuf_create_list(0, 3, items, &buf),
		   "CREATE_LIST of three ranges of two memfds");
	}
	is_int(dmabuf_buf_size(buf), 4 * psz, "the size is the sum");
	is_int(dmabuf_buf_memfd(buf), -1, "memfd() of a list: -1");

	ok(!dmabuf_buf_mmap(buf, 4 * psz, PROT_READ, MAP_SHARED, 0,
			    (void **)&map), "mmap the whole buffer");
	ok(map && shows_pages(map, (size_t[]){ 2, 3, 4, 0 }, 4),
	   "the pages are a[2], b[3], b[4], a[0] in order");
	dmabuf_buf_munmap(buf, map, 4 * psz);
	map = NULL;
	ok(!dmabuf_buf_mmap(buf, 2 * psz, PROT_READ, MAP_SHARED, 2,
			    (void **)&map), "mmap pages 2..3 (across two items)");
	ok(map && shows_pages(map, (size_t[]){ 4, 0 }, 2),
	   "the window shows b[4], a[0]");
	dmabuf_buf_munmap(buf, map, 2 * psz);

	ok(!dmabuf_buf_vmap(buf, (void **)&v), "vmap the list");
	ok(v && shows_pages(v, (size_t[]){ 2, 3, 4, 0 }, 4),
	   "the vmap shows the concatenation");
	dmabuf_buf_vunmap(buf, v);

	ok(!dmabuf_buf_attach(buf, "dev", NULL, &att), "attach");
	ok(!dmabuf_attachment_map(att, DMABUF_TO_DEVICE, &t), "map");
	ok(t && t->nents == 3 &&
	   t->ents[0].offset == 2 * psz && t->ents[0].length == psz &&
	   t->ents[1].offset == 3 * psz && t->ents[1].length == 2 * psz &&
	   t->ents[2].offset == 0 && t->ents[2].length == psz &&
	   t->ents[0].fd == t->ents[2].fd && t->ents[0].fd != t->ents[1].fd,
	   "the table lists the three backing ranges");
	ok(!dmabuf_attachment_map(att, DMABUF_TO_DEVICE, &t2) && t2 == t,
	   "udmabuf caches the mapping: a second map returns the same table");
	is_int(dmabuf_attachment_map(att, DMABUF_FROM_DEVICE, &t2), -EBUSY,
	       "mapping again in another direction: -EBUSY");
	dmabuf_attachment_unmap(att, t, DMABUF_TO_DEVICE);
	dmabuf_buf_detach(att);
	dmabuf_buf_put(buf);
	close(a);
	close(b);
}

static void test_cpu_access_and_mmap(void)
{
	struct dmabuf_buf *buf = NULL;
	void *p = NULL;
	int mfd = make_memfd(4, F_SEAL_SHRINK);

	ok(!dmabuf_udmabuf_create(mfd, 0, 0, 4 * psz, &buf), "create");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_END | DMABUF_SYNC_RW), -EINVAL,
	       "END before any START: -EINVAL");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_START | DMABUF_SYNC_READ), 0,
	       "START|READ: 0");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_END | DMABUF_SYNC_READ), 0,
	       "END|READ: 0");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_END | DMABUF_SYNC_WRITE), 0,
	       "a further END after a START once: 0");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_START), -EINVAL,
	       "START alone: -EINVAL");
	is_int(dmabuf_buf_sync(buf, DMABUF_SYNC_RW | 0x8), -EINVAL,
	       "RW|0x8: -EINVAL");

	is_int(dmabuf_buf_mmap(buf, psz, PROT_READ, MAP_PRIVATE, 0, &p), -EINVAL,
	       "mmap(MAP_PRIVATE, one page): -EINVAL");
	is_int(dmabuf_buf_mmap(buf, 4 * psz, PROT_READ, MAP_PRIVATE, 0, &p),
	       -EINVAL, "mmap(MAP_PRIVATE, whole): -EINVAL");
	is_int(dmabuf_buf_mmap(buf, 5 * psz, PROT_READ, MAP_SHARED, 0, &p),
	       -EINVAL, "mmap(size + page): -EINVAL");
	p = NULL;
	is_int(dmabuf_buf_mmap(buf, psz, PROT_READ, MAP_SHARED, 3, &p), 0,
	       "mmap(last page, offset) works");
	dmabuf_buf_munmap(buf, p, psz);
	dmabuf_buf_put(buf);
	close(mfd);
}

static void test_fault_injection(void)
{
	struct dmabuf_buf *buf = NULL;
	int a = make_memfd(2, F_SEAL_SHRINK), b = make_memfd(1, F_SEAL_SHRINK);
	struct dmabuf_udmabuf_item items[3] = {
		{ .memfd = (uint32_t)a, .size = psz },
		{ .memfd = (uint32_t)b, .size = psz },
		{ .memfd = (uint32_t)a, .offset = psz, .size = psz },
	};
	int fds = count_fds(), ret, i;
	bool clean = true;

	for (i = 0; i < 32; i++) {
		dmabuf_fault_inject_alloc(i, 1);
		ret = dmabuf_udmabuf_create_list(DMABUF_UDMABUF_FLAGS_CLOEXEC, 3,
						 items, &buf);
		dmabuf_fault_inject_alloc(0, 0);
		if (!ret)
			break;
		if (ret != -ENOMEM || buf || count_fds() != fds)
			clean = false;
	}
	ok(i > 0 && i < 32, "create_list succeeds once no allocation fails (%d)",
	   i);
	ok(clean, "every injected failure gives -ENOMEM and leaves no fd open");
	is_int(count_fds(), fds + 2, "the buffer holds one duplicate per memfd");
	dmabuf_buf_put(buf);
	is_int(count_fds(), fds, "the last put closes them");
	close(a);
	close(b);
}

int main(void)
{
	psz = (size_t)sysconf(_SC_PAGESIZE);
	test_create_rules();
	test_not_memfd();
	test_list_rules();
	test_aliasing();
	test_list_concat();
	test_cpu_access_and_mmap();
	test_fault_injection();
	return tap_done();
}

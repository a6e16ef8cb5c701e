// SPDX-License-Identifier: MIT
/*
 * test_heap_coherency.c - the heaps by map info: "system" (COHERENT_CACHED) and
 * "system-uncached" (COHERENT_WC) show writes at once both ways; "incoherent" keeps a CPU
 * view apart from the device view and moves data only in the SYNC brackets.
 *
 * The "device" here reads and writes the device view through the memfd of an attachment's
 * sg table (pread/pwrite) or through vmap; the CPU uses dmabuf_buf_mmap() mappings.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dmabuf/dma_buf.h>
#include <dmabuf/fault.h>
#include <dmabuf/heap.h>
#include <dmabuf/resv.h>

#include "mock_fence.h"
#include "tap.h"
#include "test_util.h"

#define START_READ	(DMABUF_SYNC_START | DMABUF_SYNC_READ)
#define START_WRITE	(DMABUF_SYNC_START | DMABUF_SYNC_WRITE)
#define START_RW	(DMABUF_SYNC_START | DMABUF_SYNC_RW)
#define END_READ	(DMABUF_SYNC_END | DMABUF_SYNC_READ)
#define END_WRITE	(DMABUF_SYNC_END | DMABUF_SYNC_WRITE)
#define END_RW		(DMABUF_SYNC_END | DMABUF_SYNC_RW)

static size_t psz;

/* A buffer with a device (an attachment's mapped table) and one CPU mapping. */
struct tbuf {
	struct dmabuf_buf *buf;
	struct dmabuf_attachment *att;
	struct dmabuf_sg_table *sgt;
	int dev_fd;
	volatile uint8_t *map;	/* NULL until tb_mmap() */
	size_t size;
};

static void tb_alloc(struct tbuf *tb, const char *heap, size_t size)
{
	memset(tb, 0, sizeof(*tb));
	tb->size = size;
	if (dmabuf_heap_alloc(dmabuf_heap_find(heap), size, O_RDWR, 0, &tb->buf))
		bail_out("cannot allocate from %s", heap);
	if (dmabuf_buf_attach(tb->buf, "device", NULL, &tb->att) ||
	    dmabuf_attachment_map(tb->att, DMABUF_BIDIRECTIONAL, &tb->sgt) ||
	    tb->sgt->nents != 1 || tb->sgt->ents[0].length != size)
		bail_out("cannot map an attachment of a %s buffer", heap);
	tb->dev_fd = tb->sgt->ents[0].fd;
}

static void tb_mmap(struct tbuf *tb)
{
	void *p = NULL;

	if (dmabuf_buf_mmap(tb->buf, tb->size, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &p))
		bail_out("cannot mmap the buffer");
	tb->map = p;
}

static void tb_free(struct tbuf *tb)
{
	if (tb->map)
		dmabuf_buf_munmap(tb->buf, (void *)tb->map, tb->size);
	dmabuf_attachment_unmap(tb->att, tb->sgt, DMABUF_BIDIRECTIONAL);
	dmabuf_buf_detach(tb->att);
	dmabuf_buf_put(tb->buf);
}

/* The device writes @v at @off of the device view. */
static void dev_put(struct tbuf *tb, size_t off, uint8_t v)
{
	if (pwrite(tb->dev_fd, &v, 1, (off_t)off) != 1)
		bail_out("device write failed");
}

/* What the device reads at @off. */
static uint8_t dev_get(struct tbuf *tb, size_t off)
{
	uint8_t v;

	if (pread(tb->dev_fd, &v, 1, (off_t)off) != 1)
		bail_out("device read failed");
	return v;
}

static int sync_buf(struct tbuf *tb, uint64_t flags)
{
	return dmabuf_buf_sync(tb->buf, flags);
}

static const char *const heap_names[] = { "system", "system-uncached", "incoherent" };

static void test_find(void)
{
	static const enum dmabuf_map_info kinds[] = {
		DMABUF_MAP_COHERENT_CACHED, DMABUF_MAP_COHERENT_WC, DMABUF_MAP_INCOHERENT,
	};
	struct dmabuf_heap *heaps[3];
	unsigned int i;

	for (i = 0; i < 3; i++) {
		struct dmabuf_buf *buf = NULL;
		char path[64], link[128] = "", want[64];
		ssize_t n;
		int fd;

		heaps[i] = dmabuf_heap_find(heap_names[i]);
		ok(heaps[i] != NULL, "find(\"%s\") finds a built-in heap", heap_names[i]);
		is_str(dmabuf_heap_name(heaps[i]), heap_names[i], "its name is \"%s\"",
		       heap_names[i]);
		ok(dmabuf_heap_find(heap_names[i]) == heaps[i],
		   "find(\"%s\") again returns the same object", heap_names[i]);
		is_int(dmabuf_heap_alloc(heaps[i], 100, O_RDWR, 0, &buf), 0,
		       "%s: allocate 100 bytes", heap_names[i]);
		if (!buf)
			continue;
		is_int(dmabuf_buf_size(buf), psz, "%s: the size is rounded to a page",
		       heap_names[i]);
		is_str(dmabuf_buf_exp_name(buf), heap_names[i], "%s: exp_name is \"%s\"",
		       heap_names[i], heap_names[i]);
		is_int(dmabuf_buf_map_info(buf), kinds[i], "%s: map_info is %d",
		       heap_names[i], kinds[i]);
		fd = dmabuf_buf_memfd(buf);
		snprintf(want, sizeof(want), "/memfd:dmabuf-%s ", heap_names[i]);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		ok(fd >= 0 && !strncmp(link, want, strlen(want)),
		   "%s: its memfd is named dmabuf-%s (%s)", heap_names[i], heap_names[i], link);
		ok((fcntl(fd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW)) ==
		   (F_SEAL_SHRINK | F_SEAL_GROW), "%s: the memfd is sealed against resizing",
		   heap_names[i]);
		dmabuf_buf_put(buf);
	}
	ok(heaps[0] != heaps[1] && heaps[1] != heaps[2] && heaps[0] != heaps[2],
	   "three different heaps");
	ok(dmabuf_heap_find("uncached") == NULL, "find(\"uncached\"): NULL");
	ok(dmabuf_heap_find("system-") == NULL, "find(\"system-\"): NULL");
	ok(dmabuf_heap_find("") == NULL, "find(\"\"): NULL");
}

/* Coherent heaps: no copy anywhere, the brackets change nothing. */
static void test_coherent(const char *heap)
{
	struct tbuf tb;
	uint8_t *v = NULL;
	void *p = NULL;

	tb_alloc(&tb, heap, 2 * psz);
	tb_mmap(&tb);
	dev_put(&tb, psz + 3, 0x3c);
	ok(tb.map[psz + 3] == 0x3c, "%s: a device write shows in the mapping at once", heap);
	tb.map[7] = 0x7e;
	ok(dev_get(&tb, 7) == 0x7e, "%s: a CPU write reaches the device at once", heap);
	ok(!dmabuf_buf_vmap(tb.buf, (void **)&v) && v[7] == 0x7e && v[psz + 3] == 0x3c,
	   "%s: vmap sees the same memory", heap);
	is_int(sync_buf(&tb, END_WRITE), 0, "%s: END|WRITE without START: 0", heap);
	is_int(sync_buf(&tb, START_READ), 0, "%s: START|READ: 0", heap);
	v[9] = 0x99;
	ok(tb.map[9] == 0x99, "%s: inside a bracket too", heap);
	is_int(sync_buf(&tb, END_READ), 0, "%s: END|READ: 0", heap);
	is_int(sync_buf(&tb, START_WRITE), 0, "%s: START|WRITE: 0", heap);
	tb.map[10] = 0xaa;
	is_int(sync_buf(&tb, END_READ), 0, "%s: END|READ after START|WRITE: 0", heap);
	ok(dev_get(&tb, 10) == 0xaa, "%s: mismatched brackets lose nothing", heap);
	dmabuf_buf_vunmap(tb.buf, v);
	is_int(dmabuf_buf_mmap(tb.buf, 2 * psz, PROT_READ, MAP_PRIVATE, 0, &p), -EINVAL,
	       "%s: MAP_PRIVATE of two pages: -EINVAL", heap);
	tb_free(&tb);
}

static void test_first_mmap(void)
{
	struct tbuf tb;
	uint8_t *v = NULL;
	bool zero = true;

	tb_alloc(&tb, "incoherent", 2 * psz);
	if (dmabuf_buf_vmap(tb.buf, (void **)&v))
		bail_out("cannot vmap");
	for (size_t i = 0; i < 2 * psz; i++)
		zero &= !v[i];
	ok(zero, "incoherent: a fresh buffer's device view is zero-filled");
	v[0] = 0x10;
	dev_put(&tb, 2 * psz - 1, 0x20);
	tb_mmap(&tb);
	ok(tb.map[0] == 0x10 && tb.map[2 * psz - 1] == 0x20 && tb.map[1] == 0,
	   "incoherent: the first mmap is a copy of the device view (no SYNC)");
	v[1] = 0x11;
	ok(tb.map[1] == 0, "incoherent: a later device write (vmap) does not show in it");
	tb.map[2] = 0x22;
	ok(v[2] == 0 && dev_get(&tb, 2) == 0,
	   "incoherent: a CPU write shows neither in vmap nor through the sg table's memfd");
	dmabuf_buf_vunmap(tb.buf, v);
	tb_free(&tb);
}

static void test_fetch(void)
{
	struct tbuf tb;

	tb_alloc(&tb, "incoherent", 2 * psz);
	tb_mmap(&tb);
	dev_put(&tb, 5, 0x55);
	dev_put(&tb, psz + 5, 0x56);
	ok(tb.map[5] == 0 && tb.map[psz + 5] == 0,
	   "incoherent: a device write is not seen by an existing mapping");
	is_int(sync_buf(&tb, START_READ), 0, "START|READ: 0");
	ok(tb.map[5] == 0x55 && tb.map[psz + 5] == 0x56, "after START|READ it is seen");
	is_int(sync_buf(&tb, END_READ), 0, "END|READ: 0");

	dev_put(&tb, 6, 0x66);
	ok(tb.map[6] == 0, "the next device write is not seen again");
	is_int(sync_buf(&tb, START_RW), 0, "START|RW: 0");
	ok(tb.map[6] == 0x66, "START|RW fetches too");
	is_int(sync_buf(&tb, END_RW), 0, "END|RW: 0");

	dev_put(&tb, 7, 0x77);
	is_int(sync_buf(&tb, START_WRITE), 0, "START|WRITE: 0");
	ok(tb.map[7] == 0, "START|WRITE does not fetch");
	is_int(sync_buf(&tb, END_WRITE), 0, "END|WRITE: 0");
	ok(dev_get(&tb, 7) == 0x77, "and its END writes back nothing the CPU did not change");
	tb_free(&tb);
}

static void test_write_back(void)
{
	struct tbuf tb;
	uint8_t *v = NULL;

	tb_alloc(&tb, "incoherent", 2 * psz);
	tb_mmap(&tb);
	if (dmabuf_buf_vmap(tb.buf, (void **)&v))
		bail_out("cannot vmap");
	is_int(sync_buf(&tb, START_WRITE), 0, "START|WRITE: 0");
	tb.map[0] = 0xa0;
	tb.map[psz] = 0xa1;
	ok(dev_get(&tb, 0) == 0 && v[psz] == 0, "a CPU write in the bracket is not on the device");
	is_int(sync_buf(&tb, END_WRITE), 0, "END|WRITE: 0");
	ok(dev_get(&tb, 0) == 0xa0 && v[psz] == 0xa1, "END|WRITE puts it on the device");

	is_int(sync_buf(&tb, START_RW), 0, "START|RW: 0");
	tb.map[1] = 0xb1;
	is_int(sync_buf(&tb, END_RW), 0, "END|RW: 0");
	ok(dev_get(&tb, 1) == 0xb1, "END|RW writes back too");

	/* END without START does nothing */
	tb.map[2] = 0xc2;
	is_int(sync_buf(&tb, END_WRITE), 0, "END|WRITE without START: 0");
	ok(dev_get(&tb, 2) == 0, "END|WRITE without START writes nothing back");
	is_int(sync_buf(&tb, END_RW), 0, "END|RW without START: 0");
	ok(dev_get(&tb, 2) == 0, "nor does END|RW");
	is_int(sync_buf(&tb, START_READ), 0, "START|READ");
	ok(tb.map[2] == 0, "the next fetch drops the unsynced CPU write");
	is_int(sync_buf(&tb, END_READ), 0, "END|READ");

	/* START|WRITE, END|READ: the writes are lost */
	is_int(sync_buf(&tb, START_WRITE), 0, "START|WRITE");
	tb.map[3] = 0xd3;
	is_int(sync_buf(&tb, END_READ), 0, "END|READ closing START|WRITE: 0");
	ok(dev_get(&tb, 3) == 0, "END|READ writes nothing back");
	is_int(sync_buf(&tb, START_READ), 0, "START|READ");
	ok(tb.map[3] == 0, "and the next fetch drops the write: it is lost");
	is_int(sync_buf(&tb, END_READ), 0, "END|READ");
	is_int(sync_buf(&tb, START_WRITE), 0, "START|WRITE");
	is_int(sync_buf(&tb, END_WRITE), 0, "END|WRITE");
	ok(dev_get(&tb, 3) == 0, "a later bracket does not bring it back");
	dmabuf_buf_vunmap(tb.buf, v);
	tb_free(&tb);
}

static void test_nested(void)
{
	struct tbuf tb;

	tb_alloc(&tb, "incoherent", psz);
	tb_mmap(&tb);
	is_int(sync_buf(&tb, START_RW), 0, "outer START|RW");
	dev_put(&tb, 0, 0x11);
	is_int(sync_buf(&tb, START_READ), 0, "nested START|READ: 0");
	ok(tb.map[0] == 0, "a nested START|READ does not fetch (an access is open)");
	tb.map[100] = 0x64;
	is_int(sync_buf(&tb, END_WRITE), 0, "inner END|WRITE: 0");
	ok(dev_get(&tb, 100) == 0, "the inner END does not write back (one access still open)");
	is_int(sync_buf(&tb, END_WRITE), 0, "outer END|WRITE: 0");
	ok(dev_get(&tb, 100) == 0x64, "the outer END writes back");
	ok(dev_get(&tb, 0) == 0x11, "without clobbering the device's write to another byte");
	tb.map[101] = 0x65;
	is_int(sync_buf(&tb, END_WRITE), 0, "a third END|WRITE: 0");
	ok(dev_get(&tb, 101) == 0, "does nothing (the count does not go below 0)");

	/* two STARTs and one END: the access stays open */
	is_int(sync_buf(&tb, START_WRITE), 0, "START|WRITE");
	is_int(sync_buf(&tb, START_WRITE), 0, "START|WRITE again");
	tb.map[102] = 0x66;
	is_int(sync_buf(&tb, END_WRITE), 0, "one END|WRITE");
	ok(dev_get(&tb, 102) == 0, "two STARTs and one END: nothing written back");
	is_int(sync_buf(&tb, END_WRITE), 0, "the second END|WRITE");
	ok(dev_get(&tb, 102) == 0x66 && dev_get(&tb, 101) == 0x65,
	   "the balancing END writes back every dirty byte");
	tb_free(&tb);
}

static void test_partial_write_back(void)
{
	struct tbuf tb;
	uint8_t *v = NULL;

	tb_alloc(&tb, "incoherent", 2 * psz);
	tb_mmap(&tb);
	if (dmabuf_buf_vmap(tb.buf, (void **)&v))
		bail_out("cannot vmap");
	is_int(sync_buf(&tb, START_WRITE), 0, "START|WRITE");
	dev_put(&tb, 1, 0xd1);		/* same 8 bytes as the CPU's byte 0 */
	v[2000] = 0xd2;
	v[2 * psz - 1] = 0xd3;
	tb.map[0] = 0xc0;
	tb.map[3000] = 0xc1;
	tb.map[2 * psz - 2] = 0xc2;
	is_int(sync_buf(&tb, END_WRITE), 0, "END|WRITE");
	ok(dev_get(&tb, 0) == 0xc0 && dev_get(&tb, 3000) == 0xc1 &&
	   dev_get(&tb, 2 * psz - 2) == 0xc2, "the CPU's bytes reach the device");
	ok(dev_get(&tb, 1) == 0xd1 && v[2000] == 0xd2 && v[2 * psz - 1] == 0xd3,
	   "the bytes the device changed meanwhile are kept, next to them too");
	ok(tb.map[1] == 0 && tb.map[2000] == 0, "the CPU view still has its old copy of them");
	dmabuf_buf_vunmap(tb.buf, v);
	tb_free(&tb);
}

/* Brackets opened before the view exists carry over to it. */
static void test_bracket_before_mmap(void)
{
	struct tbuf tb;

	tb_alloc(&tb, "incoherent", psz);
	is_int(sync_buf(&tb, END_WRITE), 0, "END|WRITE before any mmap: 0");
	is_int(sync_buf(&tb, START_WRITE), 0, "START|WRITE before any mmap: 0");
	dev_put(&tb, 4, 0x44);
	tb_mmap(&tb);
	ok(tb.map[4] == 0x44, "the mmap inside the bracket copies the device view");
	tb.map[8] = 0x88;
	is_int(sync_buf(&tb, END_WRITE), 0, "END|WRITE");
	ok(dev_get(&tb, 8) == 0x88, "the bracket opened before the mmap writes back at its END");
	tb_free(&tb);
}

static void test_mappings(void)
{
	struct tbuf tb;
	volatile uint8_t *m2 = NULL, *pv = NULL;
	void *p = NULL;

	tb_alloc(&tb, "incoherent", 4 * psz);
	tb_mmap(&tb);
	ok(!dmabuf_buf_mmap(tb.buf, psz, PROT_READ | PROT_WRITE, MAP_SHARED, 2, (void **)&m2),
	   "a second mapping, of page 2");
	tb.map[2 * psz + 9] = 0x29;
	ok(m2 && m2[9] == 0x29, "both mappings share the one CPU view");
	ok(dev_get(&tb, 2 * psz + 9) == 0, "which is not the device view");
	is_int(dmabuf_buf_mmap(tb.buf, 2 * psz, PROT_READ, MAP_PRIVATE, 0, &p), -EINVAL,
	       "MAP_PRIVATE of two pages: -EINVAL");
	ok(!dmabuf_buf_mmap(tb.buf, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE, 2, (void **)&pv),
	   "MAP_PRIVATE of one page works");
	ok(pv && pv[9] == 0x29, "it shows the CPU view");
	pv[10] = 0x2a;
	ok(m2[10] == 0, "a write to it stays private");
	is_int(dmabuf_buf_munmap(tb.buf, (void *)pv, psz), 0, "munmap the private mapping");
	is_int(dmabuf_buf_munmap(tb.buf, (void *)m2, psz), 0, "munmap the second mapping");
	is_int(dmabuf_buf_num_mmaps(tb.buf), 1, "one mapping left");
	tb_free(&tb);
}

/*
 * A device fence: when a waiter enables signaling, it tells the device thread, which then
 * writes the device view and signals.  The write happens after START began waiting.
 */
static int fence_pipe[2];

static bool dev_fence_enable(struct dmabuf_fence *f)
{
	char c = 1;

	if (write(fence_pipe[1], &c, 1) != 1)
		bail_out("pipe write failed");
	return true;
}

static const struct dmabuf_fence_ops dev_fence_ops = {
	.get_driver_name = tf_name,
	.get_timeline_name = tf_name,
	.enable_signaling = dev_fence_enable,
	.release = tf_release,
};

struct dev_job {
	struct tbuf *tb;
	struct dmabuf_fence *fence;
};

static void *device_thread(void *arg)
{
	struct dev_job *job = arg;
	char c;

	if (read(fence_pipe[0], &c, 1) != 1)
		bail_out("pipe read failed");
	dev_put(job->tb, 42, 0x42);
	dmabuf_fence_signal(job->fence);
	return NULL;
}

static void test_fence(void)
{
	struct dev_job job;
	struct dmabuf_resv *resv;
	struct tbuf tb;
	pthread_t th;

	if (pipe(fence_pipe))
		bail_out("pipe failed");
	tb_alloc(&tb, "incoherent", psz);
	tb_mmap(&tb);
	job.tb = &tb;
	job.fence = tf_on(&dev_fence_ops, NULL, dmabuf_fence_context_alloc(1), 1);
	resv = dmabuf_buf_resv(tb.buf);
	if (dmabuf_resv_lock(resv, NULL) || dmabuf_resv_reserve_fences(resv, 1) ||
	    dmabuf_resv_add_fence(resv, job.fence, DMABUF_RESV_USAGE_WRITE))
		bail_out("cannot add a fence");
	dmabuf_resv_unlock(resv);
	if (pthread_create(&th, NULL, device_thread, &job))
		bail_out("pthread_create failed");
	is_int(sync_buf(&tb, START_READ), 0, "START|READ with a device write pending: 0");
	ok(dmabuf_fence_is_signaled(job.fence), "it waited for the write fence");
	ok(tb.map[42] == 0x42, "and fetched after the wait: the device's write is seen");
	is_int(sync_buf(&tb, END_READ), 0, "END|READ");
	pthread_join(th, NULL);
	dmabuf_fence_put(job.fence);
	close(fence_pipe[0]);
	close(fence_pipe[1]);
	tb_free(&tb);
}

static void test_release(void)
{
	int fds = count_fds();
	struct dmabuf_buf *buf = NULL;
	uint8_t *map = NULL;

	if (dmabuf_heap_alloc(dmabuf_heap_find("incoherent"), psz, O_RDWR, 0, &buf))
		bail_out("cannot allocate");
	ok(!dmabuf_buf_mmap(buf, psz, PROT_READ | PROT_WRITE, MAP_SHARED, 0, (void **)&map),
	   "mmap an incoherent buffer");
	ok(count_fds() == fds + 2, "the buffer holds two fds: device memory and CPU view");
	map[0] = 1;
	dmabuf_buf_put(buf);
	ok(map[0] == 1, "the mapping keeps the buffer");
	is_int(dmabuf_buf_munmap(buf, map, psz), 0, "munmap drops the last reference");
	is_int(count_fds(), fds, "the release closes both");
}

/* Every heap: an allocation failing anywhere gives -ENOMEM and leaves no descriptor open. */
static void test_fault_injection(const char *name)
{
	struct dmabuf_heap *heap = dmabuf_heap_find(name);
	int fds = count_fds(), ret, i;
	struct dmabuf_buf *buf = NULL;
	bool clean = true;

	for (i = 0; i < 16; i++) {
		dmabuf_fault_inject_alloc(i, 1);
		ret = dmabuf_heap_alloc(heap, 8192, O_RDWR, 0, &buf);
		dmabuf_fault_inject_alloc(0, 0);
		if (!ret)
			break;
		if (ret != -ENOMEM || buf || count_fds() != fds)
			clean = false;
	}
	ok(i > 0 && i < 16, "%s: allocation succeeds once no allocation fails (%d)", name, i);
	ok(clean, "%s: every injected failure gives -ENOMEM and leaves no fd open", name);
	dmabuf_buf_put(buf);
	is_int(count_fds(), fds, "%s: releasing the buffer closes its memfd", name);
	is_int(dmabuf_heap_alloc(heap, UINT64_MAX - psz + 1, O_RDWR, 0, &buf), -ENOMEM,
	       "%s: the largest page-aligned len: -ENOMEM", name);
}

int main(void)
{
	psz = (size_t)sysconf(_SC_PAGESIZE);
	test_find();
	test_coherent("system");
	test_coherent("system-uncached");
	test_first_mmap();
	test_fetch();
	test_write_back();
	test_nested();
	test_partial_write_back();
	test_bracket_before_mmap();
	test_mappings();
	test_fence();
	test_release();
	test_fault_injection("system");
	test_fault_injection("system-uncached");
	test_fault_injection("incoherent");
	return tap_done();
}

// SPDX-License-Identifier: MIT
/*
 * heap_incoherent.c - the "incoherent" heap: buffers of a device with its own caches, which
 * the CPU does not see into (map info INCOHERENT).
 *
 * The buffer's memfd is the device view: what attachments, vmap and the memfd op give, all
 * of them device access.  CPU mappings map a CPU view instead (cpu_view.h), one per buffer
 * since the in-process library is one CPU, made at the first mmap as a copy of the device
 * view.  Data moves between the views only in the CPU access brackets: the first
 * begin_cpu_access with READ fetches the device's data, the last end_cpu_access with WRITE
 * writes the CPU's changes back, an end with no access open does nothing.  A program that
 * leaves out DMA_BUF_IOCTL_SYNC sees stale data every time.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dmabuf/heap.h>
#include <dmabuf/resv.h>

#include "cpu_view.h"
#include "internal.h"

/*
 * @mem: the device view; dmabuf_buf_priv() points at it.
 * @lock: serializes the calls on @view and its creation.
 * @has_view: @view exists (after the first mmap).
 * @count: CPU accesses open while there is no view yet (the view takes them over).
 */
struct incoherent_buffer {
	struct dmabuf_memfd_buf mem;
	pthread_mutex_t lock;
	bool has_view;
	unsigned int count;
	struct dmabuf_cpu_view view;
};

static struct incoherent_buffer *to_ib(struct dmabuf_buf *buf)
{
	return dmabuf_container_of(dmabuf_buf_priv(buf), struct incoherent_buffer, mem);
}

static bool dir_reads(enum dmabuf_data_direction dir)
{
	return dir == DMABUF_FROM_DEVICE || dir == DMABUF_BIDIRECTIONAL;
}

static bool dir_writes(enum dmabuf_data_direction dir)
{
	return dir == DMABUF_TO_DEVICE || dir == DMABUF_BIDIRECTIONAL;
}

static int incoherent_begin_cpu_access(struct dmabuf_buf *buf,
				       enum dmabuf_data_direction dir)
{
	struct incoherent_buffer *ib = to_ib(buf);
	int ret;

	/*
	 * Wait for the devices first: a fetch must see what they wrote.  The core's own wait
	 * after this op then has nothing left to wait for.
	 */
	ret = dmabuf_resv_wait_timeout(dmabuf_buf_resv(buf),
				       dmabuf_resv_usage_rw(dir_writes(dir)),
				       DMABUF_TIMEOUT_INFINITE);
	if (ret < 0)
		return ret;

	pthread_mutex_lock(&ib->lock);
	if (ib->has_view)
		dmabuf_cpu_view_begin(&ib->view, dir_reads(dir));
	else
		ib->count++;	/* no CPU copy yet: nothing to fetch */
	pthread_mutex_unlock(&ib->lock);
	return 0;
}

static int incoherent_end_cpu_access(struct dmabuf_buf *buf,
				     enum dmabuf_data_direction dir)
{
	struct incoherent_buffer *ib = to_ib(buf);

	pthread_mutex_lock(&ib->lock);
	if (ib->has_view)
		dmabuf_cpu_view_end(&ib->view, dir_writes(dir));
	else if (ib->count)
		ib->count--;	/* nothing mapped: nothing written */
	pthread_mutex_unlock(&ib->lock);
	return 0;
}

/* The CPU view, made on first use as a copy of the device view; called with the lock. */
static int get_view(struct incoherent_buffer *ib)
{
	int ret;

	if (ib->has_view)
		return 0;
	ret = dmabuf_cpu_view_init(&ib->view, ib->mem.memfd, ib->mem.len);
	if (ret)
		return ret;
	/* The copy is fresh, as after a fetch: the open accesses carry over. */
	ib->view.count = ib->count;
	ib->count = 0;
	ib->has_view = true;
	return 0;
}

static int incoherent_mmap(struct dmabuf_buf *buf, void *addr_hint, size_t len,
			   int prot, int flags, uint64_t pgoff, void **out)
{
	struct incoherent_buffer *ib = to_ib(buf);
	int ret;

	ret = dmabuf_memfd_buf_check_mmap(len, flags);
	if (ret)
		return ret;
	pthread_mutex_lock(&ib->lock);
	ret = get_view(ib);
	if (!ret)
		ret = dmabuf_cpu_view_mmap(&ib->view, addr_hint, len, prot, flags,
					   pgoff * dmabuf_page_size(), out);
	pthread_mutex_unlock(&ib->lock);
	return ret;
}

static void incoherent_release(struct dmabuf_buf *buf)
{
	struct incoherent_buffer *ib = to_ib(buf);

	if (ib->has_view)
		dmabuf_cpu_view_fini(&ib->view);
	pthread_mutex_destroy(&ib->lock);
	close(ib->mem.memfd);
	dmabuf_free(ib);
}

static const struct dmabuf_buf_ops incoherent_buf_ops = {
	.map_attachment = dmabuf_memfd_buf_map,
	.unmap_attachment = dmabuf_memfd_buf_unmap,
	.begin_cpu_access = incoherent_begin_cpu_access,
	.end_cpu_access = incoherent_end_cpu_access,
	.mmap = incoherent_mmap,
	.vmap = dmabuf_memfd_buf_vmap,
	.vunmap = dmabuf_memfd_buf_vunmap,
	.memfd = dmabuf_memfd_buf_memfd,
	.release = incoherent_release,
};

static int incoherent_allocate(struct dmabuf_heap *heap, uint64_t len,
			       uint32_t fd_flags, uint64_t heap_flags,
			       struct dmabuf_buf **out)
{
	struct dmabuf_export_info info = {
		.exp_name = "incoherent",
		.ops = &incoherent_buf_ops,
		.size = len,
		.flags = (int)fd_flags,
		.map_info = DMABUF_MAP_INCOHERENT,
	};
	struct incoherent_buffer *ib;
	int ret;

	ib = dmabuf_calloc(1, sizeof(*ib));
	if (!ib)
		return -ENOMEM;
	pthread_mutex_init(&ib->lock, NULL);
	info.priv = &ib->mem;
	ret = dmabuf_memfd_buf_export(&ib->mem, &info, out);
	if (ret) {
		pthread_mutex_destroy(&ib->lock);
		dmabuf_free(ib);
	}
	return ret;
}

static const struct dmabuf_heap_ops incoherent_heap_ops = {
	.allocate = incoherent_allocate,
};

const struct dmabuf_heap dmabuf_incoherent_heap = {
	.name = "incoherent",
	.ops = &incoherent_heap_ops,
};

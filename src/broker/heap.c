// SPDX-License-Identifier: MIT
/*
 * heap.c - dma-buf heaps in the broker (DMA_HEAP_IOCTL_ALLOC): a table of heaps by name, and
 * heap descriptors (open() of /dev/dma_heap/<name>).
 *
 * Each heap is a core struct dmabuf_heap, so dmabuf_heap_alloc() checks the arguments as the
 * kernel does.  Its allocate op exports a core buffer that holds no memory: the memory is a
 * sealed memfd, created here and given away to the client (zero-copy), never kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dmabuf/heap.h>

#include "dmabufd.h"
#include "log.h"
#include "internal.h"
#include "trace.h"

/* The exporter of broker heap buffers: the core object carries the sync state only. */
static int nomem_map(struct dmabuf_attachment *att, enum dmabuf_data_direction dir,
		     struct dmabuf_sg_table **out)
{
	return -EOPNOTSUPP;	/* the broker never attaches devices */
}

static void nomem_unmap(struct dmabuf_attachment *att, struct dmabuf_sg_table *table,
			enum dmabuf_data_direction dir)
{
}

static void nomem_release(struct dmabuf_buf *buf)
{
}

/*
 * No begin/end_cpu_access: the CPU side of the brackets happens in the clients (an
 * incoherent buffer's CPU views are per process, src/client/cpu_views.c), and an END
 * without START is fine.
 */
static const struct dmabuf_buf_ops heap_buf_ops = {
	.map_attachment = nomem_map,
	.unmap_attachment = nomem_unmap,
	.release = nomem_release,
};

/* What a heap's buffers say of themselves: the exporter's name and map_info. */
struct heap_kind {
	const char *exp_name;
	enum dmabuf_map_info map_info;
};

static const struct heap_kind system_kind = { "system", DMABUF_MAP_COHERENT_CACHED };
static const struct heap_kind uncached_kind = { "system-uncached", DMABUF_MAP_COHERENT_WC };
static const struct heap_kind incoherent_kind = { "incoherent", DMABUF_MAP_INCOHERENT };

static int heap_allocate(struct dmabuf_heap *heap, uint64_t len, uint32_t fd_flags,
			 uint64_t heap_flags, struct dmabuf_buf **out)
{
	const struct heap_kind *kind = dmabuf_heap_priv(heap);
	struct dmabuf_export_info info = {
		.exp_name = kind->exp_name,
		.ops = &heap_buf_ops,
		.size = len,
		.flags = (int)fd_flags,
		.map_info = kind->map_info,
	};

	if (dmabuf_len_too_large(len))
		return -ENOMEM;
	return dmabuf_buf_export(&info, out);
}

static const struct dmabuf_heap_ops heap_ops = {
	.allocate = heap_allocate,
};

/*
 * A heap of the broker: the core heap (name, allocate op, struct heap_kind as priv).
 * @sync_local: its SYNC brackets need no broker while the buffer is idle.
 */
struct broker_heap {
	struct dmabuf_heap core;
	bool sync_local;
};

/*
 * The heaps, by name: /dev/dma_heap/<name> of the kernel; keep the list of src/preload/dev.c
 * in step.  system-uncached is the write-combined system heap (Android's name); incoherent
 * models a device with caches of its own (docs/coherency.md).
 */
static struct broker_heap heaps[] = {
	{
		.core = { .name = "system", .ops = &heap_ops, .priv = (void *)&system_kind },
		.sync_local = true,
	},
	{
		.core = { .name = "system-uncached", .ops = &heap_ops,
			  .priv = (void *)&uncached_kind },
		.sync_local = true,
	},
	{
		.core = { .name = "incoherent", .ops = &heap_ops,
			  .priv = (void *)&incoherent_kind },
		.sync_local = true,
	},
};

static struct broker_heap *heap_find(const char *name)
{
	for (size_t i = 0; i < sizeof(heaps) / sizeof(heaps[0]); i++)
		if (!strcmp(heaps[i].core.name, name))
			return &heaps[i];
	return NULL;
}

/* DMA_HEAP_IOCTL_ALLOC on @heap: arg[0..2] of the request; the reply's fd is the buffer. */
static int heap_alloc(struct dmabufd_req *req, struct broker_heap *heap)
{
	const struct dmabufd_msg *msg = req->msg;
	const struct heap_kind *kind = heap->core.priv;
	struct dmabuf_buf *core;
	uint64_t size;
	int memfd, ret;

	/* the uAPI's fd_flags word is 32 bits wide */
	if (msg->arg[1] > UINT32_MAX)
		return -EINVAL;
	ret = dmabuf_heap_alloc(&heap->core, msg->arg[0], (uint32_t)msg->arg[1], msg->arg[2],
				&core);
	if (ret)
		return ret;
	size = dmabuf_buf_size(core);
	/* the memory: named DMABUFD_MEMFD_PREFIX "<exporter>", as the core names its own */
	memfd = dmabuf_sealed_memfd(kind->exp_name, size, F_SEAL_SEAL);
	if (memfd < 0) {
		dmabuf_buf_put(core);
		return memfd;
	}
	/* O_ACCMODE itself (3) is accepted too, as the kernel does */
	ret = dmabufd_buf_publish(req, core, memfd, (int)(msg->arg[1] & O_ACCMODE),
				  heap->sync_local, NULL);
	if (!ret && dmabuf_trace_on())
		dmabufd_trace_buf_create(req->rep->arg[3], size, kind->exp_name, heap->core.name,
					 req->conn->pid);
	return ret;
}

int dmabufd_op_heap_alloc(struct dmabufd_req *req)
{
	struct broker_heap *heap;

	/* opening /dev/dma_heap/<name> fails first */
	heap = heap_find(req->msg->name);
	if (!heap)
		return -ENOENT;
	return heap_alloc(req, heap);
}

/*
 * A heap descriptor: the device /dev/dma_heap/<name> of the kernel, as a pipe that is never
 * written (see struct dmabufd_pipe_obj).  The heaps themselves live as long as the broker.
 */
struct dmabufd_heap_obj {
	struct dmabufd_pipe_obj po;
	struct broker_heap *heap;
};

int dmabufd_op_heap_open(struct dmabufd_req *req)
{
	struct dmabufd_heap_obj *ho;
	struct broker_heap *heap;
	int ret;

	heap = heap_find(req->msg->name);
	if (!heap)
		return -ENOENT;
	ho = calloc(1, sizeof(*ho));
	if (!ho)
		return -ENOMEM;
	ho->heap = heap;
	ret = dmabufd_pipe_obj_give(req, &ho->po, DMABUFD_TYPE_HEAP, &dmabufd.stats.heaps);
	if (ret)
		free(ho);
	return ret;
}

void dmabufd_heap_release(struct dmabufd_obj *obj)
{
	struct dmabufd_heap_obj *ho = dmabufd_container_of(obj, struct dmabufd_heap_obj, po.obj);

	dmabufd_pipe_obj_del(&ho->po);
	free(ho);
}

int dmabufd_op_heap_alloc_fd(struct dmabufd_req *req)
{
	struct dmabufd_obj *obj;
	int ret;

	/* the descriptor is looked up first: not open EBADF, no heap ENOTTY */
	ret = dmabufd_req_obj(req, 0, DMABUFD_TYPE_HEAP, &obj);
	if (ret)
		return ret;
	return heap_alloc(req, dmabufd_container_of(obj, struct dmabufd_heap_obj, po.obj)->heap);
}

/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/heap.h - dma-buf heaps: named allocators of dma-bufs.
 *
 * A heap is a name and an allocate op (the kernel's /dev/dma_heap/<name>).
 * The library has three built-in heaps, all giving zero-filled, page-rounded
 * buffers backed by a sealed memfd (see dmabuf_heap_alloc()); they differ in
 * how CPU mappings behave, which their map info says (dmabuf_buf_map_info()):
 *
 * - "system": cached and coherent (DMABUF_MAP_COHERENT_CACHED), as the
 *   kernel's system heap.  CPU and devices see each other's writes at once;
 *   the CPU access brackets have no cache work to do.
 * - "system-uncached": write-combined and coherent (DMABUF_MAP_COHERENT_WC),
 *   Android's name for that heap.  Behaves as "system".
 * - "incoherent": a device with caches the CPU does not see into
 *   (DMABUF_MAP_INCOHERENT).  The memfd is the device's memory: what
 *   attachments' tables, vmap and dmabuf_buf_memfd() give.  CPU mappings map
 *   a CPU copy of it instead (one per buffer here; through the fd-level API
 *   one per process), made at the first mmap as a copy of the device's
 *   memory.  The first begin_cpu_access (DMA_BUF_SYNC
 *   START) with READ waits for the fences as START does, then replaces the
 *   copy with the device's data (dropping unsynced CPU writes); the last
 *   end_cpu_access (SYNC END) with WRITE writes the bytes the CPU changed
 *   back to the device, leaving the other bytes as the device has them.
 *   Accesses are counted: a nested START fetches nothing, only the END that
 *   closes the last open access writes back, an END with no access open
 *   does nothing, and an END with READ only writes nothing back.  A program
 *   that leaves out the brackets sees stale data every time.
 *
 * A private (MAP_PRIVATE) mapping of a built-in heap's buffer is allowed
 * for a single page only, as in the kernel.  The rules of the
 * DMA_HEAP_IOCTL_ALLOC uAPI live in dmabuf_heap_alloc(), so an fd layer
 * only has to check the struct's input fd word (nonzero: EINVAL) and copy
 * the argument in and out.
 */
#ifndef DMABUF_HEAP_H
#define DMABUF_HEAP_H

#include <dmabuf/api.h>

#include <stdint.h>

#include <dmabuf/dma_buf.h>

DMABUF_BEGIN_DECLS

struct dmabuf_heap;

/**
 * struct dmabuf_heap_ops - what a heap provides.
 * @allocate: required; create a buffer of @len bytes (nonzero, a multiple
 *	of the page size, already checked) with fd flags @fd_flags (an access
 *	mode, maybe O_CLOEXEC) and store it in *@out.  Return 0 or a negative
 *	error (-ENOMEM when the memory is not there).
 */
struct dmabuf_heap_ops {
	int (*allocate)(struct dmabuf_heap *heap, uint64_t len,
			uint32_t fd_flags, uint64_t heap_flags,
			struct dmabuf_buf **out);
};

/**
 * struct dmabuf_heap - a heap.  Define one statically to provide your own;
 * built-in heaps are found with dmabuf_heap_find().
 * @name: the heap's name (the device node's name in /dev/dma_heap).
 * @ops: its operations.
 * @priv: the heap's private data.
 */
struct dmabuf_heap {
	const char *name;
	const struct dmabuf_heap_ops *ops;
	void *priv;
};

/**
 * dmabuf_heap_find() - a built-in heap by name: "system",
 * "system-uncached" or "incoherent" (see the top of this header).
 * Returns the heap (a static object: never freed), or NULL if unknown or
 * @name is NULL.
 */
DMABUF_API struct dmabuf_heap *dmabuf_heap_find(const char *name);

/** dmabuf_heap_name() - the heap's name (NULL for NULL). */
DMABUF_API const char *dmabuf_heap_name(const struct dmabuf_heap *heap);

/** dmabuf_heap_priv() - the heap's private data (NULL for NULL). */
DMABUF_API void *dmabuf_heap_priv(const struct dmabuf_heap *heap);

/**
 * dmabuf_heap_alloc() - DMA_HEAP_IOCTL_ALLOC: allocate a buffer from @heap.
 * @len: bytes; rounded up to whole pages.
 * @fd_flags: flags of the buffer's fd: only O_CLOEXEC and the access mode
 *	(O_RDONLY, O_WRONLY, O_RDWR) are allowed; the mode decides what mmap
 *	allows (see dmabuf_buf_mmap()).
 * @heap_flags: must be 0 (no heap defines any).
 * @out: receives the buffer (one reference).
 * Checks in the kernel's order: bad @fd_flags: -EINVAL; nonzero
 * @heap_flags: -EINVAL; @len 0, or so large that rounding it up wraps to 0:
 * -EINVAL; then the heap's allocate op (the built-in heaps: -ENOMEM if
 * the rounded length exceeds the machine's RAM, or when memory or fds run
 * out).  Also -EINVAL for a NULL @heap or @out.  Nothing is left behind on
 * error.
 */
DMABUF_API int dmabuf_heap_alloc(struct dmabuf_heap *heap, uint64_t len,
				 uint32_t fd_flags, uint64_t heap_flags,
				 struct dmabuf_buf **out);

DMABUF_END_DECLS

#endif /* DMABUF_HEAP_H */

/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/heap.h - dma-buf heaps: named allocators of dma-bufs.
 *
 * A heap is a name and an allocate op (the kernel's /dev/dma_heap/<name>).
 * The library has one built-in heap, "system": zero-filled, page-rounded,
 * memfd-backed buffers (see dmabuf_heap_alloc()).  The rules of the
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
 * dmabuf_heap_find() - a built-in heap by name: "system".
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
 * -EINVAL; then the heap's allocate op (the system heap: -ENOMEM if the
 * rounded length exceeds the machine's RAM, or when memory or fds run
 * out).  Also -EINVAL for a NULL @heap or @out.  Nothing is left behind on
 * error.
 */
DMABUF_API int dmabuf_heap_alloc(struct dmabuf_heap *heap, uint64_t len,
				 uint32_t fd_flags, uint64_t heap_flags,
				 struct dmabuf_buf **out);

DMABUF_END_DECLS

#endif /* DMABUF_HEAP_H */

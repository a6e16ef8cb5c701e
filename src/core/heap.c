// SPDX-License-Identifier: MIT
/*
 * heap.c - dma-buf heaps: lookup of the built-in heaps and the allocation
 * rules of DMA_HEAP_IOCTL_ALLOC.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <dmabuf/heap.h>

#include "internal.h"

/* The built-in heaps, by name. */
static const struct dmabuf_heap *const builtin_heaps[] = {
	&dmabuf_system_heap,
	&dmabuf_uncached_heap,
	&dmabuf_incoherent_heap,
};

#define HEAP_VALID_FD_FLAGS ((uint32_t)(O_CLOEXEC | O_ACCMODE))
#define HEAP_VALID_HEAP_FLAGS ((uint64_t)0)

struct dmabuf_heap *dmabuf_heap_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < DMABUF_ARRAY_SIZE(builtin_heaps); i++)
		/* The API hands out non-const pointers; nothing writes through them. */
		if (!strcmp(name, builtin_heaps[i]->name))
			return (struct dmabuf_heap *)builtin_heaps[i];
	return NULL;
}

const char *dmabuf_heap_name(const struct dmabuf_heap *heap)
{
	return heap ? heap->name : NULL;
}

void *dmabuf_heap_priv(const struct dmabuf_heap *heap)
{
	return heap ? heap->priv : NULL;
}

int dmabuf_heap_alloc(struct dmabuf_heap *heap, uint64_t len,
		      uint32_t fd_flags, uint64_t heap_flags,
		      struct dmabuf_buf **out)
{
	uint64_t psz = (uint64_t)sysconf(_SC_PAGESIZE);

	if (!heap || !heap->ops || !heap->ops->allocate || !out)
		return -EINVAL;
	if (fd_flags & ~HEAP_VALID_FD_FLAGS)
		return -EINVAL;
	if (heap_flags & ~HEAP_VALID_HEAP_FLAGS)
		return -EINVAL;

	/* Page-align; a length that wraps to 0 is as invalid as 0. */
	len = (len + psz - 1) & ~(psz - 1);
	if (!len)
		return -EINVAL;

	return heap->ops->allocate(heap, len, fd_flags, heap_flags, out);
}

// SPDX-License-Identifier: MIT
/*
 * heap_uncached.c - the "system-uncached" heap (Android's name for the system heap whose CPU
 * mappings are write-combined): the system heap's buffers with map info COHERENT_WC.
 *
 * Write-combined memory is not cached, so the CPU sees what devices see at once and the
 * CPU access brackets have no maintenance to do, as for the system heap; what changes is
 * what a mapping costs, which the map info tells importers (a VMM picks the guest's
 * mapping kind from it).
 */
#include <dmabuf/heap.h>

#include "internal.h"

static int uncached_allocate(struct dmabuf_heap *heap, uint64_t len,
			     uint32_t fd_flags, uint64_t heap_flags,
			     struct dmabuf_buf **out)
{
	return dmabuf_memfd_heap_alloc("system-uncached", DMABUF_MAP_COHERENT_WC, len,
				       fd_flags, out);
}

static const struct dmabuf_heap_ops uncached_heap_ops = {
	.allocate = uncached_allocate,
};

const struct dmabuf_heap dmabuf_uncached_heap = {
	.name = "system-uncached",
	.ops = &uncached_heap_ops,
};

/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/fence_array.h - a fence that stands for a fixed set of fences.
 *
 * An array fence signals once all of its fences (or, with signal_on_any,
 * the first of them) have signaled.  The first error seen among the fences
 * becomes the array's error.  It lives on its own timeline, named like the
 * kernel's: driver "dma_fence_array", timeline "unbound".
 */
#ifndef DMABUF_FENCE_ARRAY_H
#define DMABUF_FENCE_ARRAY_H

#include <dmabuf/api.h>

#include <stdbool.h>
#include <stdint.h>

#include <dmabuf/fence.h>

DMABUF_BEGIN_DECLS

/**
 * dmabuf_fence_array_create() - create a fence array.
 * @num_fences: number of entries in @fences, at least 1.
 * @fences: the fences; the array takes its own reference to each (the
 *	caller keeps its references) and copies the pointer array.
 * @context: timeline of the new fence (from dmabuf_fence_context_alloc()).
 * @seqno: its sequence number on @context.
 * @signal_on_any: signal when the first fence signals instead of when all
 *	have.
 * @out: receives the new fence (one reference).
 *
 * The array's timestamp is the time it signaled.  The fences' callbacks are
 * only installed once somebody waits for the array (or enables signaling);
 * dmabuf_fence_is_signaled() polls the fences.
 *
 * Return: 0; -EINVAL if @fences or @out is NULL, @num_fences is 0 or an
 * entry is NULL; -ENOMEM (nothing is created, no reference taken).
 */
DMABUF_API int dmabuf_fence_array_create(unsigned int num_fences,
					 struct dmabuf_fence *const *fences,
					 uint64_t context, uint64_t seqno,
					 bool signal_on_any,
					 struct dmabuf_fence **out);

/**
 * dmabuf_fence_is_array() - true if @fence is a fence array (false for NULL).
 */
DMABUF_API bool dmabuf_fence_is_array(struct dmabuf_fence *fence);

/**
 * dmabuf_fence_is_container() - true if @fence is a fence array or a fence
 * chain link (see dmabuf/fence_chain.h); false for NULL.
 */
DMABUF_API bool dmabuf_fence_is_container(struct dmabuf_fence *fence);

/**
 * dmabuf_fence_array_num_fences() - number of fences in the array @array;
 * 0 if @array is not a fence array.
 */
DMABUF_API unsigned int dmabuf_fence_array_num_fences(struct dmabuf_fence *array);

/**
 * dmabuf_fence_array_fence() - the @i-th fence of @array.
 * Return: a borrowed pointer (valid while the caller holds @array), or NULL
 * if @array is not a fence array or @i is out of range.
 */
DMABUF_API struct dmabuf_fence *dmabuf_fence_array_fence(struct dmabuf_fence *array,
							 unsigned int i);

DMABUF_END_DECLS

#endif /* DMABUF_FENCE_ARRAY_H */

/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/fence_unwrap.h - iterate over the leaf fences of containers, and
 * merge sets of fences.
 *
 * Unwrapping a chain visits the payload of each of its unsignaled links
 * (signaled links are skipped, and may be garbage collected, like
 * dmabuf_fence_chain_walk() does), and every fence of an array payload;
 * a plain fence is its own single leaf.  As in the kernel, containers are
 * unwrapped two levels deep: arrays inside chains.
 */
#ifndef DMABUF_FENCE_UNWRAP_H
#define DMABUF_FENCE_UNWRAP_H

#include <dmabuf/api.h>

#include <dmabuf/fence.h>

DMABUF_BEGIN_DECLS

/**
 * struct dmabuf_fence_unwrap - cursor of an unwrap iteration.
 * @chain: the chain position (a reference held while iterating).
 * @array: the current payload (an array being iterated, or the leaf).
 * @index: position inside @array.
 *
 * The cursor holds a reference while the iteration is unfinished: finish it
 * (until dmabuf_fence_unwrap_next() returns NULL) or call
 * dmabuf_fence_unwrap_end() after breaking out of the loop.
 */
struct dmabuf_fence_unwrap {
	struct dmabuf_fence *chain;
	struct dmabuf_fence *array;
	unsigned int index;
};

/**
 * dmabuf_fence_unwrap_first() - start iterating over the leaves of @head.
 * @head: a fence, array or chain (the caller keeps its reference to it).
 * @cursor: cursor storage.
 * Return: the first leaf (borrowed: valid until the next step), or NULL.
 */
DMABUF_API struct dmabuf_fence *dmabuf_fence_unwrap_first(struct dmabuf_fence *head,
							  struct dmabuf_fence_unwrap *cursor);

/**
 * dmabuf_fence_unwrap_next() - the next leaf, or NULL at the end (the
 * cursor's reference is then dropped).  The returned leaf is borrowed.
 */
DMABUF_API struct dmabuf_fence *dmabuf_fence_unwrap_next(struct dmabuf_fence_unwrap *cursor);

/**
 * dmabuf_fence_unwrap_end() - drop the cursor's reference after leaving an
 * iteration early.  Harmless after a finished iteration.
 */
DMABUF_API void dmabuf_fence_unwrap_end(struct dmabuf_fence_unwrap *cursor);

/**
 * dmabuf_fence_unwrap_count() - the number of leaf fences of @head (what
 * dmabuf_fence_unwrap_for_each() visits; a plain fence is one leaf).
 * @head: a fence, array or chain; NULL has none.
 */
DMABUF_API unsigned int dmabuf_fence_unwrap_count(struct dmabuf_fence *head);

/**
 * dmabuf_fence_unwrap_for_each() - loop over every leaf fence of @head.
 * @fence: loop variable (struct dmabuf_fence *), borrowed in each pass.
 * @cursor: struct dmabuf_fence_unwrap * for the iteration state.
 * @head: the fence to unwrap.
 */
#define dmabuf_fence_unwrap_for_each(fence, cursor, head)			\
	for ((fence) = dmabuf_fence_unwrap_first((head), (cursor)); (fence);	\
	     (fence) = dmabuf_fence_unwrap_next(cursor))

/**
 * dmabuf_fence_merge() - one fence that signals when all given ones have.
 * @num_fences: number of entries of @fences.
 * @fences: fences (plain, arrays or chains), none NULL.
 * @out: receives the result (one reference).
 *
 * Unwraps every input, drops the leaves that have already signaled and
 * keeps the latest fence of each context (by the fence's seqno rule).
 * Nothing left: a new signaled stub fence carrying the latest timestamp of
 * the signaled leaves seen.  One left: a reference to that fence.  More: a
 * signal-on-all fence array on a new context (seqno 1), ordered by context.
 *
 * With @num_fences 0 the result is a signaled stub with timestamp 0.
 *
 * Return: 0; -EINVAL if @out is NULL, or @fences is NULL or has a NULL
 * entry while @num_fences is not 0; -ENOMEM (nothing changes, nothing
 * leaks).
 */
DMABUF_API int dmabuf_fence_merge(unsigned int num_fences,
				  struct dmabuf_fence *const *fences,
				  struct dmabuf_fence **out);

DMABUF_END_DECLS

#endif /* DMABUF_FENCE_UNWRAP_H */

/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/fence_chain.h - fence chains: timeline points built from fences.
 *
 * A chain link joins a fence (its payload) to the previous link of a
 * timeline.  A link signals only once its payload and every earlier link's
 * payload (and a non-chain fence at the very beginning) have signaled, so
 * waiting for the newest link waits for the whole timeline up to it.
 * Links are ordinary fences: reference counted, waited on and put as such.
 */
#ifndef DMABUF_FENCE_CHAIN_H
#define DMABUF_FENCE_CHAIN_H

#include <dmabuf/api.h>

#include <stdbool.h>
#include <stdint.h>

#include <dmabuf/fence.h>

DMABUF_BEGIN_DECLS

/**
 * dmabuf_fence_chain_create() - create a chain link.
 * @prev: the previous point of the timeline (a link, another fence, or
 *	NULL for the first point); the link takes its own reference.
 * @fence: the payload; the link takes its own reference.
 * @seqno: the point's sequence number.
 * @out: receives the new link (one reference).
 *
 * If @prev is a chain link and @seqno is after @prev's seqno (64-bit
 * comparison), the new link continues @prev's timeline (same context) with
 * @seqno.  Otherwise it starts a new context; its seqno is @seqno, raised
 * to @prev's seqno when @prev is a chain link.  Driver name
 * "dma_fence_chain", timeline name "unbound".
 *
 * Return: 0; -EINVAL if @fence or @out is NULL; -ENOMEM (nothing created,
 * no reference taken).
 */
DMABUF_API int dmabuf_fence_chain_create(struct dmabuf_fence *prev,
					 struct dmabuf_fence *fence,
					 uint64_t seqno,
					 struct dmabuf_fence **out);

/**
 * dmabuf_fence_is_chain() - true if @fence is a chain link (false for NULL).
 */
DMABUF_API bool dmabuf_fence_is_chain(struct dmabuf_fence *fence);

/**
 * dmabuf_fence_chain_contained() - the payload of a chain link.
 * Return: @fence's payload if it is a chain link, otherwise @fence itself;
 * borrowed (valid while the caller holds @fence).
 */
DMABUF_API struct dmabuf_fence *dmabuf_fence_chain_contained(struct dmabuf_fence *fence);

/**
 * dmabuf_fence_chain_walk() - step to the previous unsignaled point.
 * @fence: a reference the caller gives up (it is put).
 *
 * Previous links whose payload has signaled are unlinked from @fence on the
 * way (garbage collection), as the kernel does.
 *
 * Return: a reference to the previous link (or the non-chain fence at the
 * start) whose payload has not signaled yet, or NULL if there is none or
 * @fence is not a chain link.
 */
DMABUF_API struct dmabuf_fence *dmabuf_fence_chain_walk(struct dmabuf_fence *fence);

/**
 * dmabuf_fence_chain_find_seqno() - find the point of a timeline at @seqno.
 * @pfence: in: a reference to a chain link (the timeline's newest point);
 *	out: the replacement reference.
 * @seqno: the point to look for.
 *
 * @seqno 0 leaves *@pfence unchanged.  Otherwise *@pfence is replaced by a
 * reference to the oldest unsignaled link whose seqno is still >= @seqno
 * (a seqno that falls in a gap is served by the next link above it), or by
 * NULL if every point up to @seqno has signaled.  The reference given in is
 * dropped.
 *
 * Return: 0; -EINVAL if @pfence is NULL, *@pfence is not a chain link or
 * @seqno is after the link's seqno (a future point).  On error *@pfence is
 * unchanged.
 */
DMABUF_API int dmabuf_fence_chain_find_seqno(struct dmabuf_fence **pfence,
					     uint64_t seqno);

DMABUF_END_DECLS

#endif /* DMABUF_FENCE_CHAIN_H */

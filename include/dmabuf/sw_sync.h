/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/sw_sync.h - software timelines: fences signaled by a counter.
 *
 * A sw_sync timeline is what an open of the kernel's sw_sync debugfs file
 * gives: a 32-bit counter starting at 0 on its own fence context, and
 * points (fences) on it that signal once the counter reaches their value.
 * Values compare as 32-bit numbers with wrap-around (a point more than
 * 2^31 ahead counts as passed).  Fences report driver "sw_sync" and the
 * timeline's name.  These objects implement the sw_sync uAPI's rules
 * (SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC, SW_SYNC_GET_DEADLINE, close)
 * as Linux 6.12 does; copying structures and checking SW_SYNC_GET_DEADLINE's
 * input words (deadline_ns and pad must be 0, else EINVAL) is the ioctl
 * layer's job.
 *
 * Fences keep their timeline alive.  Callbacks of sw_sync fences run with
 * the timeline's lock held; the lock is recursive, so a callback may drop
 * references to (and even signal or create) other points of the same
 * timeline.
 */
#ifndef DMABUF_SW_SYNC_H
#define DMABUF_SW_SYNC_H

#include <dmabuf/api.h>

#include <stdbool.h>
#include <stdint.h>

#include <dmabuf/fence.h>

DMABUF_BEGIN_DECLS

struct dmabuf_sw_timeline;

/**
 * dmabuf_sw_timeline_create() - a new timeline at value 0 on a new context.
 * @name: timeline name reported by its fences; only the first 31
 *	characters are kept (the kernel uses the opening process's comm).
 * @out: receives the timeline (one reference).
 * Returns 0, -EINVAL if @name or @out is NULL, -ENOMEM.
 */
DMABUF_API int dmabuf_sw_timeline_create(const char *name,
					 struct dmabuf_sw_timeline **out);

/** dmabuf_sw_timeline_get() - take a reference; returns @tl (NULL passes through). */
DMABUF_API struct dmabuf_sw_timeline *dmabuf_sw_timeline_get(struct dmabuf_sw_timeline *tl);

/**
 * dmabuf_sw_timeline_put() - drop a reference.  The timeline is freed once
 * its last reference and its last fence are gone.  NULL is a no-op.
 */
DMABUF_API void dmabuf_sw_timeline_put(struct dmabuf_sw_timeline *tl);

/**
 * dmabuf_sw_timeline_close() - what closing the last timeline fd does:
 * every point still pending gets error -ENOENT and signals (in value
 * order); then the caller's reference is dropped.  Holders of other
 * references may go on using the timeline.  NULL is a no-op.
 */
DMABUF_API void dmabuf_sw_timeline_close(struct dmabuf_sw_timeline *tl);

/**
 * dmabuf_sw_timeline_create_fence() - SW_SYNC_IOC_CREATE_FENCE: the point
 * @value on @tl.
 * @out: receives a fence reference.
 * A value the timeline already reached gives a fence born signaled (with a
 * timestamp of now).  A value that has a pending point already gives that
 * same fence (a new reference).  Returns 0, -EINVAL if @tl or @out is
 * NULL, -ENOMEM.
 */
DMABUF_API int dmabuf_sw_timeline_create_fence(struct dmabuf_sw_timeline *tl,
					       uint32_t value,
					       struct dmabuf_fence **out);

/**
 * dmabuf_sw_timeline_inc() - SW_SYNC_IOC_INC: advance the timeline by @n
 * (wrapping at 2^32) and signal every point reached, in value order.  Like
 * the kernel, an @n above INT_MAX is applied in steps of at most INT_MAX,
 * so the 32-bit comparison stays meaningful.  Returns 0, -EINVAL if @tl is
 * NULL.
 */
DMABUF_API int dmabuf_sw_timeline_inc(struct dmabuf_sw_timeline *tl, uint32_t n);

/** dmabuf_sw_timeline_value() - the timeline's current value (0 for NULL). */
DMABUF_API uint32_t dmabuf_sw_timeline_value(struct dmabuf_sw_timeline *tl);

/** dmabuf_sw_timeline_context() - the fence context of the timeline's points (0 for NULL). */
DMABUF_API uint64_t dmabuf_sw_timeline_context(const struct dmabuf_sw_timeline *tl);

/**
 * dmabuf_sw_timeline_name() - the timeline's name, as its points' timeline name ("" for
 * NULL).  Valid while the caller holds a reference to @tl.
 */
DMABUF_API const char *dmabuf_sw_timeline_name(const struct dmabuf_sw_timeline *tl);

/**
 * dmabuf_sw_sync_get_deadline() - SW_SYNC_GET_DEADLINE for the fence of a
 * sync_file: the earliest deadline set on @fence while it was pending.
 * @deadline_ns: receives it.
 * Returns 0; -EINVAL if @fence is not a sw_sync fence (e.g. a merged
 * array) or an argument is NULL; -ENOENT if no deadline was ever set.
 */
DMABUF_API int dmabuf_sw_sync_get_deadline(struct dmabuf_fence *fence,
					   int64_t *deadline_ns);

/** dmabuf_fence_is_sw_sync() - true if @fence is a point of a sw_sync timeline. */
DMABUF_API bool dmabuf_fence_is_sw_sync(struct dmabuf_fence *fence);

DMABUF_END_DECLS

#endif /* DMABUF_SW_SYNC_H */

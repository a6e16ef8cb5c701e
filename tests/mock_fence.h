/* SPDX-License-Identifier: MIT */
/*
 * mock_fence.h - a counting test fence and fence-array helpers for the tests.
 *
 * A tfence is a plain fence named "test" whose release op counts releases
 * (tf_released) and frees it; tf_created counts the ones made here, so a
 * test can check in the end that every test fence was released exactly
 * once.  set_deadline records the deadline in the tfence.
 */
#ifndef DMABUF_TEST_MOCK_FENCE_H
#define DMABUF_TEST_MOCK_FENCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <dmabuf/fence.h>

#include "tap.h"

static atomic_long tf_created, tf_released;

struct tfence {
	struct dmabuf_fence base;	/* first: a tfence is its fence */
	int64_t deadline;		/* last set_deadline() */
};

static inline const char *tf_name(struct dmabuf_fence *f)
{
	return "test";
}

static inline void tf_release(struct dmabuf_fence *f)
{
	atomic_fetch_add(&tf_released, 1);
	free(dmabuf_container_of(f, struct tfence, base));
}

static inline void tf_set_deadline(struct dmabuf_fence *f, int64_t deadline)
{
	dmabuf_container_of(f, struct tfence, base)->deadline = deadline;
}

/* Seqnos compared as 64-bit numbers, the usual case. */
static const struct dmabuf_fence_ops tf_ops = {
	.get_driver_name = tf_name,
	.get_timeline_name = tf_name,
	.release = tf_release,
	.set_deadline = tf_set_deadline,
	.use_64bit_seqno = true,
};

/* Seqnos compared as 32-bit numbers (they wrap). */
static const struct dmabuf_fence_ops tf_ops32 = {
	.get_driver_name = tf_name,
	.get_timeline_name = tf_name,
	.release = tf_release,
	.set_deadline = tf_set_deadline,
};

/* A new tfence with @ops, @lock (NULL: its own) on @ctx at @seqno. */
static inline struct dmabuf_fence *tf_on(const struct dmabuf_fence_ops *ops,
					 pthread_mutex_t *lock, uint64_t ctx,
					 uint64_t seqno)
{
	struct tfence *f = calloc(1, sizeof(*f));

	if (!f)
		bail_out("out of memory");
	dmabuf_fence_init(&f->base, ops, lock, ctx, seqno);
	atomic_fetch_add(&tf_created, 1);
	return &f->base;
}

/* A new tfence on @ctx at @seqno. */
static inline struct dmabuf_fence *tf_at(uint64_t ctx, uint64_t seqno)
{
	return tf_on(&tf_ops, NULL, ctx, seqno);
}

/* A new tfence that uses @lock, alone on a new context, seqno 1. */
static inline struct dmabuf_fence *tf_new_locked(pthread_mutex_t *lock)
{
	return tf_on(&tf_ops, lock, dmabuf_fence_context_alloc(1), 1);
}

/* A new tfence alone on a new context, seqno 1. */
static inline struct dmabuf_fence *tf_new(void)
{
	return tf_new_locked(NULL);
}

/* The reference count of @f. */
static inline int refs(struct dmabuf_fence *f)
{
	return atomic_load(&f->refcount);
}

static inline void put_all(struct dmabuf_fence **f, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		dmabuf_fence_put(f[i]);
}

/* Signal those of @f that are not signaled yet. */
static inline void signal_all(struct dmabuf_fence **f, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (!dmabuf_fence_is_signaled(f[i]))
			dmabuf_fence_signal(f[i]);
}

#endif /* DMABUF_TEST_MOCK_FENCE_H */

// SPDX-License-Identifier: MIT
/*
 * fence.c - dmabuf_fence: one-shot completion events on timelines.
 *
 * Locking: fence->lock protects cb_list and the transition to signaled.
 * The SIGNALED bit is set under the lock and read without it.  Callbacks
 * run under the lock, so once remove_callback() returns the callback is
 * neither pending nor running.
 */
#include <stdlib.h>
#include <string.h>

#include <dmabuf/fence.h>

#include "internal.h"

#define FLAG(bit) (1UL << (bit))

static atomic_uint_least64_t context_counter = 1;

uint64_t dmabuf_fence_context_alloc(unsigned int num)
{
	if (!num)
		num = 1;
	return atomic_fetch_add(&context_counter, num);
}

static bool test_flag(struct dmabuf_fence *fence, int bit)
{
	return atomic_load_explicit(&fence->flags, memory_order_acquire) &
	       FLAG(bit);
}

/* Sets @bit; returns whether it was already set. */
static bool test_and_set_flag(struct dmabuf_fence *fence, int bit)
{
	return atomic_fetch_or_explicit(&fence->flags, FLAG(bit),
					memory_order_acq_rel) & FLAG(bit);
}

int dmabuf_fence_init(struct dmabuf_fence *fence,
		      const struct dmabuf_fence_ops *ops, pthread_mutex_t *lock,
		      uint64_t context, uint64_t seqno)
{
	if (!fence || !ops || !ops->get_driver_name || !ops->get_timeline_name)
		return -EINVAL;
	fence->ops = ops;
	if (!lock) {
		pthread_mutex_init(&fence->own_lock, NULL);
		lock = &fence->own_lock;
	}
	fence->lock = lock;
	fence->context = context;
	fence->seqno = seqno;
	atomic_init(&fence->flags, 0);
	atomic_init(&fence->refcount, 1);
	fence->error = 0;
	fence->timestamp_ns = 0;
	dmabuf_list_init(&fence->cb_list);
	return 0;
}

struct dmabuf_fence *dmabuf_fence_get(struct dmabuf_fence *fence)
{
	if (fence)
		atomic_fetch_add_explicit(&fence->refcount, 1,
					  memory_order_relaxed);
	return fence;
}

bool dmabuf_fence_get_unless_zero(struct dmabuf_fence *fence)
{
	int count;

	if (!fence)
		return false;
	count = atomic_load_explicit(&fence->refcount, memory_order_relaxed);
	while (count > 0) {
		if (atomic_compare_exchange_weak_explicit(&fence->refcount,
							  &count, count + 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return true;
	}
	return false;
}

void dmabuf_fence_put(struct dmabuf_fence *fence)
{
	if (!fence)
		return;
	if (atomic_fetch_sub_explicit(&fence->refcount, 1,
				      memory_order_acq_rel) != 1)
		return;
	if (fence->lock == &fence->own_lock)
		pthread_mutex_destroy(&fence->own_lock);
	if (fence->ops->release)
		fence->ops->release(fence);
	else
		free(fence);
}

static int signal_locked(struct dmabuf_fence *fence, int64_t timestamp_ns)
{
	struct dmabuf_list cbs;

	if (test_and_set_flag(fence, DMABUF_FENCE_FLAG_SIGNALED))
		return -EINVAL;
	fence->timestamp_ns = timestamp_ns;
	atomic_fetch_or_explicit(&fence->flags,
				 FLAG(DMABUF_FENCE_FLAG_TIMESTAMP),
				 memory_order_release);

	dmabuf_list_init(&cbs);
	dmabuf_list_splice_init(&fence->cb_list, &cbs);
	while (!dmabuf_list_empty(&cbs)) {
		struct dmabuf_fence_cb *cb =
			dmabuf_container_of(cbs.next, struct dmabuf_fence_cb, node);

		/* Unlinked before it runs: the callback may reuse @cb. */
		dmabuf_list_del_init(&cb->node);
		cb->func(fence, cb);
	}
	return 0;
}

int dmabuf_fence_signal_locked(struct dmabuf_fence *fence)
{
	if (!fence)
		return -EINVAL;
	return signal_locked(fence, dmabuf_now_ns());
}

int dmabuf_fence_signal_timestamp(struct dmabuf_fence *fence,
				  int64_t timestamp_ns)
{
	int ret;

	if (!fence)
		return -EINVAL;
	pthread_mutex_lock(fence->lock);
	ret = signal_locked(fence, timestamp_ns);
	pthread_mutex_unlock(fence->lock);
	return ret;
}

int dmabuf_fence_signal(struct dmabuf_fence *fence)
{
	if (!fence)
		return -EINVAL;
	if (test_flag(fence, DMABUF_FENCE_FLAG_SIGNALED))
		return -EINVAL;
	return dmabuf_fence_signal_timestamp(fence, dmabuf_now_ns());
}

int dmabuf_fence_set_error(struct dmabuf_fence *fence, int error)
{
	int ret = 0;

	if (!fence || error >= 0 || error < -4095)
		return -EINVAL;
	pthread_mutex_lock(fence->lock);
	if (test_flag(fence, DMABUF_FENCE_FLAG_SIGNALED))
		ret = -EINVAL;
	else
		fence->error = error;
	pthread_mutex_unlock(fence->lock);
	return ret;
}

bool dmabuf_fence_is_signaled(struct dmabuf_fence *fence)
{
	if (!fence)
		return false;
	if (test_flag(fence, DMABUF_FENCE_FLAG_SIGNALED))
		return true;
	if (fence->ops->signaled && fence->ops->signaled(fence)) {
		dmabuf_fence_signal(fence);
		return true;
	}
	return false;
}

int dmabuf_fence_get_status(struct dmabuf_fence *fence)
{
	int status = 0;

	if (!fence)
		return -EINVAL;
	if (dmabuf_fence_is_signaled(fence)) {
		pthread_mutex_lock(fence->lock);
		status = fence->error ? fence->error : 1;
		pthread_mutex_unlock(fence->lock);
	}
	return status;
}

int64_t dmabuf_fence_get_timestamp(struct dmabuf_fence *fence)
{
	if (!fence || !test_flag(fence, DMABUF_FENCE_FLAG_TIMESTAMP))
		return 0;
	return fence->timestamp_ns;
}

/* Called with the lock held.  Returns false if the fence got signaled. */
static bool enable_signaling_locked(struct dmabuf_fence *fence)
{
	if (test_and_set_flag(fence, DMABUF_FENCE_FLAG_ENABLE_SIGNAL))
		return true;
	if (test_flag(fence, DMABUF_FENCE_FLAG_SIGNALED))
		return false;
	if (fence->ops->enable_signaling &&
	    !fence->ops->enable_signaling(fence)) {
		signal_locked(fence, dmabuf_now_ns());
		return false;
	}
	return true;
}

void dmabuf_fence_enable_signaling(struct dmabuf_fence *fence)
{
	if (!fence)
		return;
	pthread_mutex_lock(fence->lock);
	enable_signaling_locked(fence);
	pthread_mutex_unlock(fence->lock);
}

int dmabuf_fence_add_callback(struct dmabuf_fence *fence,
			      struct dmabuf_fence_cb *cb,
			      dmabuf_fence_func_t func)
{
	int ret = 0;

	if (!fence || !cb || !func)
		return -EINVAL;
	dmabuf_list_init(&cb->node);
	cb->func = func;
	/* Let a driver with a signaled() op report completion first. */
	if (dmabuf_fence_is_signaled(fence))
		return -ENOENT;
	pthread_mutex_lock(fence->lock);
	if (enable_signaling_locked(fence) &&
	    !test_flag(fence, DMABUF_FENCE_FLAG_SIGNALED))
		dmabuf_list_add_tail(&cb->node, &fence->cb_list);
	else
		ret = -ENOENT;
	pthread_mutex_unlock(fence->lock);
	return ret;
}

bool dmabuf_fence_remove_callback(struct dmabuf_fence *fence,
				  struct dmabuf_fence_cb *cb)
{
	bool pending;

	if (!fence || !cb)
		return false;
	pthread_mutex_lock(fence->lock);
	pending = cb->node.next && !dmabuf_list_empty(&cb->node);
	if (pending)
		dmabuf_list_del_init(&cb->node);
	pthread_mutex_unlock(fence->lock);
	return pending;
}

struct wait_cb {
	struct dmabuf_fence_cb base;
	struct dmabuf_waiter *waiter;
	unsigned int index;
	atomic_uint *signaled_index;
};

static void wait_cb_func(struct dmabuf_fence *fence, struct dmabuf_fence_cb *cb)
{
	struct wait_cb *wcb = dmabuf_container_of(cb, struct wait_cb, base);
	unsigned int none = UINT_MAX;

	if (wcb->signaled_index)
		atomic_compare_exchange_strong(wcb->signaled_index, &none,
					       wcb->index);
	dmabuf_waiter_wake(wcb->waiter);
}

int dmabuf_fence_wait_timeout(struct dmabuf_fence *fence, int64_t timeout_ns)
{
	if (!fence)
		return -EINVAL;
	return dmabuf_fence_wait_any_timeout(&fence, 1, timeout_ns, NULL);
}

/* Index of an already signaled fence among @fences, or -1. */
static int find_signaled(struct dmabuf_fence **fences, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++)
		if (dmabuf_fence_is_signaled(fences[i]))
			return (int)i;
	return -1;
}

static int wait_any_slow(struct dmabuf_fence **fences, unsigned int count,
			 int64_t deadline, struct wait_cb *cbs,
			 unsigned int *idx)
{
	struct dmabuf_waiter waiter = { 0 };
	atomic_uint signaled_index = UINT_MAX;
	unsigned int added, i;
	int ret = -ETIME;

	for (added = 0; added < count; added++) {
		cbs[added].waiter = &waiter;
		cbs[added].index = added;
		cbs[added].signaled_index = &signaled_index;
		if (dmabuf_fence_add_callback(fences[added], &cbs[added].base,
					      wait_cb_func)) {
			unsigned int none = UINT_MAX;

			atomic_compare_exchange_strong(&signaled_index, &none,
						       added);
			ret = 0;
			break;
		}
	}
	if (ret)
		ret = dmabuf_waiter_sleep(&waiter, deadline);
	for (i = 0; i < added; i++)
		dmabuf_fence_remove_callback(fences[i], &cbs[i].base);
	if (!ret && idx)
		*idx = atomic_load(&signaled_index);
	return ret;
}

int dmabuf_fence_wait_any_timeout(struct dmabuf_fence **fences,
				  unsigned int count, int64_t timeout_ns,
				  unsigned int *idx)
{
	struct wait_cb stack_cbs[8], *cbs = stack_cbs;
	int64_t deadline;
	int ret, found;

	if (!fences || !count)
		return -EINVAL;
	for (unsigned int i = 0; i < count; i++)
		if (!fences[i])
			return -EINVAL;
	found = find_signaled(fences, count);
	if (found < 0 && timeout_ns == 0) {
		/* Like the kernel, a wait tells the drivers somebody waits. */
		for (unsigned int i = 0; i < count; i++)
			dmabuf_fence_enable_signaling(fences[i]);
		found = find_signaled(fences, count);
	}
	if (found >= 0 || timeout_ns == 0) {
		if (found >= 0 && idx)
			*idx = (unsigned int)found;
		return found >= 0 ? 0 : -ETIME;
	}
	deadline = dmabuf_deadline_from_timeout(timeout_ns);
	if (count > DMABUF_ARRAY_SIZE(stack_cbs)) {
		cbs = dmabuf_calloc(count, sizeof(*cbs));
		if (!cbs)
			return -ENOMEM;
	}
	ret = wait_any_slow(fences, count, deadline, cbs, idx);
	if (cbs != stack_cbs)
		dmabuf_free(cbs);
	return ret;
}

void dmabuf_fence_set_deadline(struct dmabuf_fence *fence, int64_t deadline_ns)
{
	if (!fence || !fence->ops->set_deadline ||
	    dmabuf_fence_is_signaled(fence))
		return;
	fence->ops->set_deadline(fence, deadline_ns);
}

static bool seqno_after(const struct dmabuf_fence_ops *ops, uint64_t a,
			uint64_t b)
{
	if (ops->use_64bit_seqno)
		return a > b;
	return (int32_t)((uint32_t)a - (uint32_t)b) > 0;
}

bool dmabuf_fence_is_later(const struct dmabuf_fence *a,
			   const struct dmabuf_fence *b)
{
	if (!a || !b)
		return false;
	return seqno_after(a->ops, a->seqno, b->seqno);
}

bool dmabuf_fence_seqno_passed(const struct dmabuf_fence *fence,
			       uint64_t seqno)
{
	if (!fence)
		return false;
	return !seqno_after(fence->ops, fence->seqno, seqno);
}

static const char *stub_name(struct dmabuf_fence *fence)
{
	return "stub";
}

static void stub_release_static(struct dmabuf_fence *fence)
{
	/* The process-wide stub is never freed. */
}

static const struct dmabuf_fence_ops stub_static_ops = {
	.get_driver_name = stub_name,
	.get_timeline_name = stub_name,
	.release = stub_release_static,
};

static const struct dmabuf_fence_ops stub_ops = {
	.get_driver_name = stub_name,
	.get_timeline_name = stub_name,
};

static struct dmabuf_fence stub_fence;
static pthread_once_t stub_once = PTHREAD_ONCE_INIT;

static void stub_init(void)
{
	dmabuf_fence_init(&stub_fence, &stub_static_ops, NULL, 0, 0);
	dmabuf_fence_signal(&stub_fence);
}

struct dmabuf_fence *dmabuf_fence_get_stub(void)
{
	pthread_once(&stub_once, stub_init);
	return dmabuf_fence_get(&stub_fence);
}

int dmabuf_fence_create_stub(int64_t timestamp_ns, struct dmabuf_fence **out)
{
	struct dmabuf_fence *fence;

	if (!out)
		return -EINVAL;
	fence = dmabuf_malloc(sizeof(*fence));
	if (!fence)
		return -ENOMEM;
	dmabuf_fence_init(fence, &stub_ops, NULL, 0, 0);
	dmabuf_fence_signal_timestamp(fence, timestamp_ns);
	*out = fence;
	return 0;
}

const char *dmabuf_fence_driver_name(struct dmabuf_fence *fence)
{
	return fence ? fence->ops->get_driver_name(fence) : NULL;
}

const char *dmabuf_fence_timeline_name(struct dmabuf_fence *fence)
{
	return fence ? fence->ops->get_timeline_name(fence) : NULL;
}

// SPDX-License-Identifier: MIT
/*
 * fence_array.c - a fence standing for a fixed set of fences.
 *
 * Locking: a child's callback runs with the child's lock held and signals
 * the array, so the order is child lock -> array lock.  The core calls
 * enable_signaling with the array's lock held; installing the child
 * callbacks needs the children's locks, so array_enable_signaling() drops
 * the array's lock around that loop and takes it back before returning.
 *
 * Every installed child callback holds a reference to the array, dropped
 * when it has run, so the array outlives its pending callbacks.
 */

#include <dmabuf/fence_array.h>
#include <dmabuf/fence_chain.h>

#include "internal.h"

struct array_cb {
	struct dmabuf_fence_cb cb;
	struct fence_array *array;
};

struct fence_array {
	struct dmabuf_fence base;
	unsigned int num_fences;
	/* Children still to signal before the array does (1 for "any"). */
	atomic_int num_pending;
	/* First error reported by a child; copied to base.error at signal. */
	atomic_int error;
	struct dmabuf_fence **fences;
	struct array_cb cbs[];
};

static const struct dmabuf_fence_ops array_ops;

static struct fence_array *to_array(struct dmabuf_fence *fence)
{
	if (!fence || fence->ops != &array_ops)
		return NULL;
	return dmabuf_container_of(fence, struct fence_array, base);
}

static bool flag_set(struct dmabuf_fence *fence, int bit)
{
	return atomic_load_explicit(&fence->flags, memory_order_acquire) &
	       (1UL << bit);
}

static const char *array_driver_name(struct dmabuf_fence *fence)
{
	return "dma_fence_array";
}

static const char *array_timeline_name(struct dmabuf_fence *fence)
{
	return "unbound";
}

/* Remember @error if it is the first one; later ones are ignored. */
static void array_note_error(struct fence_array *array, int error)
{
	int none = 0;

	if (error < 0)
		atomic_compare_exchange_strong(&array->error, &none, error);
}

/* The error of @child, which has signaled. */
static int child_error(struct dmabuf_fence *child)
{
	int status = dmabuf_fence_get_status(child);

	return status < 0 ? status : 0;
}

/* Signal @array (with the first child error) unless it already is. */
static void array_signal(struct fence_array *array)
{
	pthread_mutex_lock(array->base.lock);
	if (!flag_set(&array->base, DMABUF_FENCE_FLAG_SIGNALED)) {
		array->base.error = atomic_load(&array->error);
		dmabuf_fence_signal_locked(&array->base);
	}
	pthread_mutex_unlock(array->base.lock);
}

/* Runs with the child's lock held. */
static void array_child_signaled(struct dmabuf_fence *child,
				 struct dmabuf_fence_cb *cb)
{
	struct array_cb *acb = dmabuf_container_of(cb, struct array_cb, cb);
	struct fence_array *array = acb->array;

	array_note_error(array, child->error);
	if (atomic_fetch_sub(&array->num_pending, 1) == 1)
		array_signal(array);
	dmabuf_fence_put(&array->base);
}

/* Called by the core with the array's lock held (see the top comment). */
static bool array_enable_signaling(struct dmabuf_fence *fence)
{
	struct fence_array *array = to_array(fence);
	bool complete = false;
	unsigned int i;

	pthread_mutex_unlock(fence->lock);
	for (i = 0; i < array->num_fences && !complete; i++) {
		struct dmabuf_fence *child = array->fences[i];

		array->cbs[i].array = array;
		dmabuf_fence_get(&array->base);
		if (!dmabuf_fence_add_callback(child, &array->cbs[i].cb,
					       array_child_signaled))
			continue;
		/* Already signaled: account for it here. */
		array_note_error(array, child_error(child));
		dmabuf_fence_put(&array->base);
		complete = atomic_fetch_sub(&array->num_pending, 1) == 1;
	}
	pthread_mutex_lock(fence->lock);

	if (complete && !flag_set(fence, DMABUF_FENCE_FLAG_SIGNALED))
		fence->error = atomic_load(&array->error);
	return !complete;
}

/*
 * Polled without the lock.  Once signaling is enabled the callbacks keep
 * num_pending exact; before that, count the children that have signaled.
 * As in Linux 6.12, child errors reach the array only through the
 * callbacks: an array found signaled by polling alone reports no error.
 */
static bool array_signaled(struct dmabuf_fence *fence)
{
	struct fence_array *array = to_array(fence);
	int pending = atomic_load(&array->num_pending);
	unsigned int i;

	if (flag_set(fence, DMABUF_FENCE_FLAG_ENABLE_SIGNAL)) {
		if (pending > 0)
			return false;
		array_signal(array);
		return true;
	}
	for (i = 0; i < array->num_fences && pending > 0; i++) {
		struct dmabuf_fence *child = array->fences[i];

		if (!dmabuf_fence_is_signaled(child))
			continue;
		pending--;
	}
	if (pending > 0)
		return false;
	array_signal(array);
	return true;
}

static void array_set_deadline(struct dmabuf_fence *fence, int64_t deadline_ns)
{
	struct fence_array *array = to_array(fence);
	unsigned int i;

	for (i = 0; i < array->num_fences; i++)
		dmabuf_fence_set_deadline(array->fences[i], deadline_ns);
}

static void array_release(struct dmabuf_fence *fence)
{
	struct fence_array *array = to_array(fence);
	unsigned int i;

	for (i = 0; i < array->num_fences; i++)
		dmabuf_fence_put(array->fences[i]);
	dmabuf_free(array);
}

static const struct dmabuf_fence_ops array_ops = {
	.get_driver_name = array_driver_name,
	.get_timeline_name = array_timeline_name,
	.enable_signaling = array_enable_signaling,
	.signaled = array_signaled,
	.release = array_release,
	.set_deadline = array_set_deadline,
};

int dmabuf_fence_array_create(unsigned int num_fences,
			      struct dmabuf_fence *const *fences,
			      uint64_t context, uint64_t seqno,
			      bool signal_on_any, struct dmabuf_fence **out)
{
	struct fence_array *array;
	size_t size, per_fence;
	unsigned int i;

	if (!out || !fences || !num_fences)
		return -EINVAL;
	for (i = 0; i < num_fences; i++)
		if (!fences[i])
			return -EINVAL;

	/* One allocation: the array, its callbacks, then the fence pointers. */
	per_fence = sizeof(struct array_cb) + sizeof(struct dmabuf_fence *);
	if (num_fences > INT_MAX ||
	    num_fences > (SIZE_MAX - sizeof(*array)) / per_fence)
		return -ENOMEM;
	size = sizeof(*array) + (size_t)num_fences * per_fence;
	array = dmabuf_calloc(1, size);
	if (!array)
		return -ENOMEM;

	dmabuf_fence_init(&array->base, &array_ops, NULL, context, seqno);
	array->num_fences = num_fences;
	atomic_init(&array->num_pending, signal_on_any ? 1 : (int)num_fences);
	atomic_init(&array->error, 0);
	array->fences = (struct dmabuf_fence **)(void *)&array->cbs[num_fences];
	for (i = 0; i < num_fences; i++)
		array->fences[i] = dmabuf_fence_get(fences[i]);
	*out = &array->base;
	return 0;
}

bool dmabuf_fence_is_array(struct dmabuf_fence *fence)
{
	return to_array(fence) != NULL;
}

bool dmabuf_fence_is_container(struct dmabuf_fence *fence)
{
	return dmabuf_fence_is_array(fence) || dmabuf_fence_is_chain(fence);
}

unsigned int dmabuf_fence_array_num_fences(struct dmabuf_fence *fence)
{
	struct fence_array *array = to_array(fence);

	return array ? array->num_fences : 0;
}

struct dmabuf_fence *dmabuf_fence_array_fence(struct dmabuf_fence *fence,
					      unsigned int i)
{
	struct fence_array *array = to_array(fence);

	if (!array || i >= array->num_fences)
		return NULL;
	return array->fences[i];
}

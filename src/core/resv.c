// SPDX-License-Identifier: MIT
/*
 * resv.c - reservation objects: the usage-tagged fences of a buffer.
 *
 * The fence table is an array of (fence, usage) slots, each holding a
 * reference.  Writers hold the ww_mutex; they change a slot, the count or
 * the table pointer only while also holding fences_lock, and bump seq
 * whenever the table itself is replaced.  Unlocked readers take
 * fences_lock for one slot at a time, just long enough to take a reference
 * to its fence: a fence can therefore not be released while a reader is
 * between reading the slot and taking its reference.  Everything that may
 * run foreign code (fence puts, signaled() ops, callbacks) happens outside
 * fences_lock.
 */
#include <stdlib.h>

#include <dmabuf/fence_array.h>
#include <dmabuf/resv.h>

#include "internal.h"

struct dmabuf_ww_class dmabuf_reservation_ww_class =
	DMABUF_WW_CLASS_INIT("reservation_ww_class");

static bool usage_valid(enum dmabuf_resv_usage usage)
{
	return (unsigned int)usage <= DMABUF_RESV_USAGE_BOOKKEEP;
}

static bool resv_held(struct dmabuf_resv *obj)
{
	return dmabuf_ww_mutex_is_locked(&obj->lock);
}

int dmabuf_resv_init(struct dmabuf_resv *obj)
{
	if (!obj)
		return -EINVAL;
	dmabuf_ww_mutex_init(&obj->lock, &dmabuf_reservation_ww_class);
	pthread_mutex_init(&obj->fences_lock, NULL);
	obj->seq = 0;
	obj->fences = NULL;
	obj->num_fences = 0;
	obj->max_fences = 0;
	return 0;
}

static void put_slots(struct dmabuf_resv_slot *slots, unsigned int num)
{
	for (unsigned int i = 0; i < num; i++)
		dmabuf_fence_put(slots[i].fence);
}

void dmabuf_resv_fini(struct dmabuf_resv *obj)
{
	if (!obj)
		return;
	put_slots(obj->fences, obj->num_fences);
	dmabuf_free(obj->fences);
	obj->fences = NULL;
	obj->num_fences = 0;
	obj->max_fences = 0;
	obj->seq++;
	pthread_mutex_destroy(&obj->fences_lock);
	dmabuf_ww_mutex_destroy(&obj->lock);
}

int dmabuf_resv_lock(struct dmabuf_resv *obj, struct dmabuf_ww_acquire_ctx *ctx)
{
	if (!obj)
		return -EINVAL;
	return dmabuf_ww_mutex_lock(&obj->lock, ctx);
}

void dmabuf_resv_lock_slow(struct dmabuf_resv *obj,
			   struct dmabuf_ww_acquire_ctx *ctx)
{
	if (obj)
		dmabuf_ww_mutex_lock_slow(&obj->lock, ctx);
}

bool dmabuf_resv_trylock(struct dmabuf_resv *obj)
{
	return obj && dmabuf_ww_mutex_trylock(&obj->lock, NULL);
}

void dmabuf_resv_unlock(struct dmabuf_resv *obj)
{
	if (obj)
		dmabuf_ww_mutex_unlock(&obj->lock);
}

/* Size of a new table holding @need entries, growing from @old_max. */
static unsigned int table_size(unsigned int need, unsigned int old_max)
{
	unsigned int max = 4;

	if (old_max)
		return old_max > UINT_MAX / 2 || need > old_max * 2 ?
		       need : old_max * 2;
	while (max < need && max <= UINT_MAX / 2)
		max *= 2;
	return max < need ? need : max;
}

/* Publish @table as @obj's fence table (@num used of @max); returns the old one. */
static struct dmabuf_resv_slot *swap_table(struct dmabuf_resv *obj,
					   struct dmabuf_resv_slot *table,
					   unsigned int num, unsigned int max)
{
	struct dmabuf_resv_slot *old;

	pthread_mutex_lock(&obj->fences_lock);
	old = obj->fences;
	obj->fences = table;
	obj->num_fences = num;
	obj->max_fences = max;
	obj->seq++;
	pthread_mutex_unlock(&obj->fences_lock);
	return old;
}

/*
 * Make room for @num more entries; a new table keeps the pending fences in
 * order and drops the signaled ones.  Caller holds the ww_mutex.
 */
static int grow_table(struct dmabuf_resv *obj, unsigned int num)
{
	unsigned int old_num = obj->num_fences, max, i, j, k;
	struct dmabuf_resv_slot *table, *old = obj->fences;

	if (num <= obj->max_fences - old_num)
		return 0;
	if (num > UINT_MAX - old_num)
		return -ENOMEM;
	max = table_size(old_num + num, obj->max_fences);
	table = dmabuf_calloc(max, sizeof(*table));
	if (!table)
		return -ENOMEM;
	/* Pending fences first; signaled ones parked at the end, then put. */
	for (i = 0, j = 0, k = max; i < old_num; i++) {
		if (dmabuf_fence_is_signaled(old[i].fence))
			table[--k] = old[i];
		else
			table[j++] = old[i];
	}
	swap_table(obj, table, j, max);
	for (i = k; i < max; i++) {
		dmabuf_fence_put(table[i].fence);
		table[i].fence = NULL;
	}
	dmabuf_free(old);
	return 0;
}

int dmabuf_resv_reserve_fences(struct dmabuf_resv *obj, unsigned int num)
{
	if (!obj || !resv_held(obj))
		return -EINVAL;
	return grow_table(obj, num);
}

/* Whether the entry holding @old (with @old_usage) may take @fence/@usage. */
static bool slot_replaceable(struct dmabuf_fence *old,
			     enum dmabuf_resv_usage old_usage,
			     struct dmabuf_fence *fence,
			     enum dmabuf_resv_usage usage)
{
	if (old->context == fence->context && old_usage >= usage &&
	    (old == fence || dmabuf_fence_is_later(fence, old)))
		return true;
	return dmabuf_fence_is_signaled(old);
}

int dmabuf_resv_add_fence(struct dmabuf_resv *obj, struct dmabuf_fence *fence,
			  enum dmabuf_resv_usage usage)
{
	struct dmabuf_resv_slot *slot;
	struct dmabuf_fence *old;
	unsigned int i;
	int ret;

	if (!obj || !fence || !usage_valid(usage) || !resv_held(obj) ||
	    dmabuf_fence_is_container(fence))
		return -EINVAL;

	for (i = 0; i < obj->num_fences; i++) {
		slot = &obj->fences[i];
		old = slot->fence;
		if (!slot_replaceable(old, slot->usage, fence, usage))
			continue;
		dmabuf_fence_get(fence);
		pthread_mutex_lock(&obj->fences_lock);
		slot->fence = fence;
		slot->usage = usage;
		pthread_mutex_unlock(&obj->fences_lock);
		dmabuf_fence_put(old);
		return 0;
	}

	ret = grow_table(obj, 1);
	if (ret)
		return ret;
	dmabuf_fence_get(fence);
	pthread_mutex_lock(&obj->fences_lock);
	slot = &obj->fences[obj->num_fences];
	slot->fence = fence;
	slot->usage = usage;
	obj->num_fences++;
	pthread_mutex_unlock(&obj->fences_lock);
	return 0;
}

void dmabuf_resv_iter_begin(struct dmabuf_resv_iter *it, struct dmabuf_resv *obj,
			    enum dmabuf_resv_usage usage)
{
	if (!it)
		return;
	it->obj = obj;
	it->usage = usage;
	it->fence = NULL;
	it->fence_usage = DMABUF_RESV_USAGE_KERNEL;
	it->index = 0;
	it->num_fences = 0;
	it->seq = 0;
	it->is_restarted = false;
	it->holds_ref = false;
}

/* Drop the reference an unlocked walk holds to the current fence. */
static void iter_drop(struct dmabuf_resv_iter *it)
{
	if (it->holds_ref)
		dmabuf_fence_put(it->fence);
	it->holds_ref = false;
	it->fence = NULL;
}

struct dmabuf_fence *dmabuf_resv_iter_next(struct dmabuf_resv_iter *it)
{
	struct dmabuf_resv *obj;

	if (!it)
		return NULL;
	iter_drop(it);
	it->is_restarted = false;
	obj = it->obj;
	while (obj && it->index < obj->num_fences) {
		struct dmabuf_resv_slot *slot = &obj->fences[it->index++];

		if (slot->usage <= it->usage) {
			it->fence = slot->fence;
			it->fence_usage = slot->usage;
			break;
		}
	}
	return it->fence;
}

struct dmabuf_fence *dmabuf_resv_iter_first(struct dmabuf_resv_iter *it)
{
	struct dmabuf_fence *fence;

	if (!it)
		return NULL;
	it->index = 0;
	fence = dmabuf_resv_iter_next(it);
	it->is_restarted = true;
	return fence;
}

/* Start the unlocked walk over; fences_lock held. */
static void iter_restart_locked(struct dmabuf_resv_iter *it)
{
	it->index = 0;
	it->num_fences = it->obj->num_fences;
	it->seq = it->obj->seq;
	it->is_restarted = true;
}

/* Advance to the next unsignaled matching fence, taking a reference. */
static void iter_walk_unlocked(struct dmabuf_resv_iter *it)
{
	struct dmabuf_resv *obj = it->obj;
	struct dmabuf_resv_slot slot;

	iter_drop(it);
	if (!obj)
		return;
	for (;;) {
		pthread_mutex_lock(&obj->fences_lock);
		if (obj->seq != it->seq)
			iter_restart_locked(it);
		if (it->index >= it->num_fences) {
			pthread_mutex_unlock(&obj->fences_lock);
			return;
		}
		slot = obj->fences[it->index++];
		if (slot.usage > it->usage) {
			pthread_mutex_unlock(&obj->fences_lock);
			continue;
		}
		dmabuf_fence_get(slot.fence);
		pthread_mutex_unlock(&obj->fences_lock);

		if (!dmabuf_fence_is_signaled(slot.fence)) {
			it->fence = slot.fence;
			it->fence_usage = slot.usage;
			it->holds_ref = true;
			return;
		}
		dmabuf_fence_put(slot.fence);
	}
}

struct dmabuf_fence *dmabuf_resv_iter_first_unlocked(struct dmabuf_resv_iter *it)
{
	if (!it)
		return NULL;
	iter_drop(it);
	if (it->obj) {
		pthread_mutex_lock(&it->obj->fences_lock);
		iter_restart_locked(it);
		pthread_mutex_unlock(&it->obj->fences_lock);
	}
	iter_walk_unlocked(it);
	it->is_restarted = true;
	return it->fence;
}

struct dmabuf_fence *dmabuf_resv_iter_next_unlocked(struct dmabuf_resv_iter *it)
{
	if (!it)
		return NULL;
	it->is_restarted = false;
	iter_walk_unlocked(it);
	return it->fence;
}

bool dmabuf_resv_iter_is_restarted(struct dmabuf_resv_iter *it)
{
	return it && it->is_restarted;
}

void dmabuf_resv_iter_end(struct dmabuf_resv_iter *it)
{
	if (it)
		iter_drop(it);
}

static void put_fences(struct dmabuf_fence **fences, unsigned int num)
{
	for (unsigned int i = 0; i < num; i++)
		dmabuf_fence_put(fences[i]);
}

int dmabuf_resv_get_fences(struct dmabuf_resv *obj, enum dmabuf_resv_usage usage,
			   unsigned int *num_fences,
			   struct dmabuf_fence ***fences)
{
	struct dmabuf_fence **array = NULL, **tmp;
	struct dmabuf_resv_iter it;
	struct dmabuf_fence *fence;
	unsigned int num = 0;

	if (!obj || !num_fences || !fences || !usage_valid(usage))
		return -EINVAL;
	*num_fences = 0;
	*fences = NULL;

	dmabuf_resv_iter_begin(&it, obj, usage);
	dmabuf_resv_for_each_fence_unlocked(&it, fence) {
		if (dmabuf_resv_iter_is_restarted(&it)) {
			put_fences(array, num);
			num = 0;
			/* At most the fences of the table the walk started on. */
			tmp = dmabuf_realloc_array(array, it.num_fences,
						   sizeof(*array));
			if (!tmp) {
				dmabuf_free(array);
				dmabuf_resv_iter_end(&it);
				return -ENOMEM;
			}
			array = tmp;
		}
		array[num++] = dmabuf_fence_get(fence);
	}
	dmabuf_resv_iter_end(&it);

	*num_fences = num;
	*fences = array;
	return 0;
}

int dmabuf_resv_get_singleton(struct dmabuf_resv *obj,
			      enum dmabuf_resv_usage usage,
			      struct dmabuf_fence *extra,
			      struct dmabuf_fence **out)
{
	struct dmabuf_fence **fences, **tmp, *array;
	unsigned int count;
	int ret;

	if (!obj || !out || !usage_valid(usage))
		return -EINVAL;
	ret = dmabuf_resv_get_fences(obj, usage, &count, &fences);
	if (ret)
		return ret;

	if (extra && !dmabuf_fence_is_signaled(extra)) {
		tmp = dmabuf_realloc_array(fences, count + 1, sizeof(*fences));
		if (!tmp) {
			ret = -ENOMEM;
			goto out_put;
		}
		fences = tmp;
		fences[count++] = dmabuf_fence_get(extra);
	}

	if (count <= 1) {
		/* The caller inherits the reference of the only fence. */
		*out = count ? fences[0] : NULL;
		dmabuf_free(fences);
		return 0;
	}

	ret = dmabuf_fence_array_create(count, fences,
					dmabuf_fence_context_alloc(1), 1, false,
					&array);
	if (!ret)
		*out = array;
out_put:
	put_fences(fences, count);
	dmabuf_free(fences);
	return ret;
}

bool dmabuf_resv_test_signaled(struct dmabuf_resv *obj,
			       enum dmabuf_resv_usage usage)
{
	struct dmabuf_resv_iter it;
	struct dmabuf_fence *fence;

	if (!obj || !usage_valid(usage))
		return false;
	dmabuf_resv_iter_begin(&it, obj, usage);
	fence = dmabuf_resv_iter_first_unlocked(&it);
	dmabuf_resv_iter_end(&it);
	return !fence;
}

int dmabuf_resv_wait_timeout(struct dmabuf_resv *obj,
			     enum dmabuf_resv_usage usage, int64_t timeout_ns)
{
	struct dmabuf_resv_iter it;
	struct dmabuf_fence *fence;
	int64_t deadline, left;
	int ret = 0;

	if (!obj || !usage_valid(usage))
		return -EINVAL;
	deadline = dmabuf_deadline_from_timeout(timeout_ns);

	dmabuf_resv_iter_begin(&it, obj, usage);
	dmabuf_resv_for_each_fence_unlocked(&it, fence) {
		left = -1;
		if (deadline >= 0) {
			left = deadline - dmabuf_now_ns();
			if (left < 0)
				left = 0;
		}
		ret = dmabuf_fence_wait_timeout(fence, left);
		if (ret)
			break;
	}
	dmabuf_resv_iter_end(&it);
	return ret;
}

int dmabuf_resv_copy_fences(struct dmabuf_resv *dst, struct dmabuf_resv *src)
{
	struct dmabuf_resv_slot *table = NULL, *old;
	unsigned int num = 0, max = 0, old_num;
	struct dmabuf_resv_iter it;
	struct dmabuf_fence *fence;

	if (!dst || !src || !resv_held(dst))
		return -EINVAL;

	dmabuf_resv_iter_begin(&it, src, DMABUF_RESV_USAGE_BOOKKEEP);
	dmabuf_resv_for_each_fence_unlocked(&it, fence) {
		if (dmabuf_resv_iter_is_restarted(&it)) {
			put_slots(table, num);
			dmabuf_free(table);
			num = 0;
			max = it.num_fences;
			table = dmabuf_calloc(max, sizeof(*table));
			if (!table) {
				dmabuf_resv_iter_end(&it);
				return -ENOMEM;
			}
		}
		table[num].fence = dmabuf_fence_get(fence);
		table[num].usage = it.fence_usage;
		num++;
	}
	dmabuf_resv_iter_end(&it);

	old_num = dst->num_fences;
	old = swap_table(dst, table, num, max);
	put_slots(old, old_num);
	dmabuf_free(old);
	return 0;
}

unsigned int dmabuf_resv_num_fences(struct dmabuf_resv *obj)
{
	unsigned int num;

	if (!obj)
		return 0;
	pthread_mutex_lock(&obj->fences_lock);
	num = obj->num_fences;
	pthread_mutex_unlock(&obj->fences_lock);
	return num;
}

// SPDX-License-Identifier: MIT
/*
 * sw_sync.c - software timelines whose points signal when a counter passes.
 *
 * Locking: tl->lock (recursive) is the lock of every point on the timeline.
 * It protects tl->pending and each point's link and deadline; tl->value is
 * written under it and may be read without it.  tl->pending holds the
 * points not yet reached, sorted by how far ahead of the current value they
 * are (which, for 32-bit wrap-around values, is the order they will be
 * reached in).  Reached points leave the list before they are signaled, so
 * callbacks may create, drop or signal points of the same timeline.
 *
 * Lifetime: every point holds a reference to its timeline; a released point
 * unlinks itself.  A point still on tl->pending may be in the middle of its
 * release (refcount already 0); such a point is never revived.
 */
#include <limits.h>
#include <string.h>

#include <dmabuf/sw_sync.h>

#include "internal.h"

/* Fence flag bit: a deadline was recorded on this point. */
#define SW_SYNC_FLAG_HAS_DEADLINE DMABUF_FENCE_FLAG_USER

struct dmabuf_sw_timeline {
	atomic_int refcount;
	pthread_mutex_t lock;
	uint64_t context;
	_Atomic uint32_t value;
	struct dmabuf_list pending;
	char name[32];
};

struct sw_sync_pt {
	struct dmabuf_fence base;
	struct dmabuf_sw_timeline *tl;
	struct dmabuf_list link;
	int64_t deadline_ns;
};

static const struct dmabuf_fence_ops sw_sync_fence_ops;

static struct sw_sync_pt *to_pt(struct dmabuf_fence *fence)
{
	return dmabuf_container_of(fence, struct sw_sync_pt, base);
}

static struct sw_sync_pt *link_to_pt(struct dmabuf_list *link)
{
	return dmabuf_container_of(link, struct sw_sync_pt, link);
}

/* How far ahead of @now the point @seqno is (1..INT_MAX while pending). */
static uint32_t distance(uint32_t seqno, uint32_t now)
{
	return seqno - now;
}

/* The 32-bit rule: reached unless @seqno lies 1..2^31-1 ahead of @now. */
static bool value_reached(uint32_t seqno, uint32_t now)
{
	return (int32_t)distance(seqno, now) <= 0;
}

int dmabuf_sw_timeline_create(const char *name, struct dmabuf_sw_timeline **out)
{
	struct dmabuf_sw_timeline *tl;
	pthread_mutexattr_t attr;
	size_t len;

	if (!name || !out)
		return -EINVAL;
	tl = dmabuf_calloc(1, sizeof(*tl));
	if (!tl)
		return -ENOMEM;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&tl->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	atomic_init(&tl->refcount, 1);
	atomic_init(&tl->value, 0);
	tl->context = dmabuf_fence_context_alloc(1);
	dmabuf_list_init(&tl->pending);
	len = strnlen(name, sizeof(tl->name) - 1);
	memcpy(tl->name, name, len);
	tl->name[len] = '\0';
	*out = tl;
	return 0;
}

struct dmabuf_sw_timeline *dmabuf_sw_timeline_get(struct dmabuf_sw_timeline *tl)
{
	if (tl)
		atomic_fetch_add_explicit(&tl->refcount, 1, memory_order_relaxed);
	return tl;
}

void dmabuf_sw_timeline_put(struct dmabuf_sw_timeline *tl)
{
	if (!tl)
		return;
	if (atomic_fetch_sub_explicit(&tl->refcount, 1,
				      memory_order_acq_rel) != 1)
		return;
	pthread_mutex_destroy(&tl->lock);
	dmabuf_free(tl);
}

uint32_t dmabuf_sw_timeline_value(struct dmabuf_sw_timeline *tl)
{
	return tl ? atomic_load(&tl->value) : 0;
}

uint64_t dmabuf_sw_timeline_context(const struct dmabuf_sw_timeline *tl)
{
	return tl ? tl->context : 0;
}

const char *dmabuf_sw_timeline_name(const struct dmabuf_sw_timeline *tl)
{
	return tl ? tl->name : "";
}

/*
 * Move the points of @tl->pending to @out, each with a reference: all of
 * them if @all, else those the current value has reached.  A point whose
 * last reference is already gone is just unlinked (its release, waiting
 * for the lock, then finds it off every list).
 * Called with the lock held.
 */
static void take_points_locked(struct dmabuf_sw_timeline *tl, bool all,
			       struct dmabuf_list *out)
{
	uint32_t now = atomic_load_explicit(&tl->value, memory_order_relaxed);

	while (!dmabuf_list_empty(&tl->pending)) {
		struct sw_sync_pt *pt = link_to_pt(tl->pending.next);

		if (!all && !value_reached((uint32_t)pt->base.seqno, now))
			break;
		dmabuf_list_del_init(&pt->link);
		if (dmabuf_fence_get_unless_zero(&pt->base))
			dmabuf_list_add_tail(&pt->link, out);
	}
}

/* Drop the references take_points_locked() took; called without the lock. */
static void put_points(struct dmabuf_list *points)
{
	while (!dmabuf_list_empty(points)) {
		struct sw_sync_pt *pt = link_to_pt(points->next);

		dmabuf_list_del_init(&pt->link);
		dmabuf_fence_put(&pt->base);
	}
}

/* Advance by @inc (at most INT_MAX) and signal what got reached, in order. */
static void timeline_advance(struct dmabuf_sw_timeline *tl, uint32_t inc)
{
	struct dmabuf_list reached;
	struct dmabuf_list *node;

	dmabuf_list_init(&reached);
	pthread_mutex_lock(&tl->lock);
	atomic_store_explicit(&tl->value, atomic_load(&tl->value) + inc,
			      memory_order_release);
	take_points_locked(tl, false, &reached);
	for (node = reached.next; node != &reached; node = node->next)
		dmabuf_fence_signal_locked(&link_to_pt(node)->base);
	pthread_mutex_unlock(&tl->lock);
	put_points(&reached);
}

int dmabuf_sw_timeline_inc(struct dmabuf_sw_timeline *tl, uint32_t n)
{
	if (!tl)
		return -EINVAL;
	while (n > INT_MAX) {
		timeline_advance(tl, INT_MAX);
		n -= INT_MAX;
	}
	timeline_advance(tl, n);
	return 0;
}

void dmabuf_sw_timeline_close(struct dmabuf_sw_timeline *tl)
{
	struct dmabuf_list points;
	struct dmabuf_list *node;

	if (!tl)
		return;
	dmabuf_list_init(&points);
	pthread_mutex_lock(&tl->lock);
	take_points_locked(tl, true, &points);
	for (node = points.next; node != &points; node = node->next) {
		struct sw_sync_pt *pt = link_to_pt(node);

		dmabuf_fence_set_error(&pt->base, -ENOENT);
		dmabuf_fence_signal_locked(&pt->base);
	}
	pthread_mutex_unlock(&tl->lock);
	put_points(&points);
	dmabuf_sw_timeline_put(tl);
}

/*
 * Link the new point @pt into @tl->pending, or return the live pending
 * point with the same value (with a new reference) instead.  Scans from the
 * tail: points are usually created in increasing order.  Lock held.
 */
static struct sw_sync_pt *insert_point_locked(struct dmabuf_sw_timeline *tl,
					      struct sw_sync_pt *pt)
{
	uint32_t now = atomic_load_explicit(&tl->value, memory_order_relaxed);
	uint32_t d = distance((uint32_t)pt->base.seqno, now);
	struct dmabuf_list *pos;

	for (pos = tl->pending.prev; pos != &tl->pending; pos = pos->prev) {
		struct sw_sync_pt *other = link_to_pt(pos);
		uint32_t od = distance((uint32_t)other->base.seqno, now);

		if (od < d)
			break;
		if (od == d && dmabuf_fence_get_unless_zero(&other->base))
			return other;
	}
	/* Insert after @pos (list_add_tail before pos->next). */
	dmabuf_list_add_tail(&pt->link, pos->next);
	return pt;
}

int dmabuf_sw_timeline_create_fence(struct dmabuf_sw_timeline *tl,
				    uint32_t value, struct dmabuf_fence **out)
{
	struct sw_sync_pt *pt, *found;

	if (!tl || !out)
		return -EINVAL;
	pt = dmabuf_calloc(1, sizeof(*pt));
	if (!pt)
		return -ENOMEM;
	dmabuf_fence_init(&pt->base, &sw_sync_fence_ops, &tl->lock,
			  tl->context, value);
	pt->tl = tl;
	dmabuf_list_init(&pt->link);

	pthread_mutex_lock(&tl->lock);
	if (value_reached(value, atomic_load(&tl->value))) {
		dmabuf_fence_signal_locked(&pt->base);
		found = pt;
	} else {
		found = insert_point_locked(tl, pt);
	}
	if (found == pt)
		dmabuf_sw_timeline_get(tl);
	pthread_mutex_unlock(&tl->lock);

	if (found != pt)
		dmabuf_free(pt);	/* never published */
	*out = &found->base;
	return 0;
}

bool dmabuf_fence_is_sw_sync(struct dmabuf_fence *fence)
{
	return fence && fence->ops == &sw_sync_fence_ops;
}

int dmabuf_sw_sync_get_deadline(struct dmabuf_fence *fence, int64_t *deadline_ns)
{
	struct sw_sync_pt *pt;
	int ret = 0;

	if (!deadline_ns || !dmabuf_fence_is_sw_sync(fence))
		return -EINVAL;
	pt = to_pt(fence);
	pthread_mutex_lock(fence->lock);
	if (atomic_load(&fence->flags) & (1UL << SW_SYNC_FLAG_HAS_DEADLINE))
		*deadline_ns = pt->deadline_ns;
	else
		ret = -ENOENT;
	pthread_mutex_unlock(fence->lock);
	return ret;
}

static const char *pt_driver_name(struct dmabuf_fence *fence)
{
	return "sw_sync";
}

static const char *pt_timeline_name(struct dmabuf_fence *fence)
{
	return to_pt(fence)->tl->name;
}

static bool pt_signaled(struct dmabuf_fence *fence)
{
	struct dmabuf_sw_timeline *tl = to_pt(fence)->tl;

	return value_reached((uint32_t)fence->seqno,
			     atomic_load_explicit(&tl->value,
						  memory_order_acquire));
}

static void pt_set_deadline(struct dmabuf_fence *fence, int64_t deadline_ns)
{
	struct sw_sync_pt *pt = to_pt(fence);
	const unsigned long bit = 1UL << SW_SYNC_FLAG_HAS_DEADLINE;

	pthread_mutex_lock(fence->lock);
	if (!(atomic_load(&fence->flags) & bit)) {
		pt->deadline_ns = deadline_ns;
		atomic_fetch_or(&fence->flags, bit);
	} else if (deadline_ns < pt->deadline_ns) {
		pt->deadline_ns = deadline_ns;
	}
	pthread_mutex_unlock(fence->lock);
}

static void pt_release(struct dmabuf_fence *fence)
{
	struct sw_sync_pt *pt = to_pt(fence);
	struct dmabuf_sw_timeline *tl = pt->tl;

	pthread_mutex_lock(&tl->lock);
	if (!dmabuf_list_empty(&pt->link))
		dmabuf_list_del_init(&pt->link);
	pthread_mutex_unlock(&tl->lock);
	dmabuf_sw_timeline_put(tl);
	dmabuf_free(pt);
}

static const struct dmabuf_fence_ops sw_sync_fence_ops = {
	.get_driver_name = pt_driver_name,
	.get_timeline_name = pt_timeline_name,
	.signaled = pt_signaled,
	.release = pt_release,
	.set_deadline = pt_set_deadline,
	.use_64bit_seqno = false,
};

// SPDX-License-Identifier: MIT
/*
 * fence_chain.c - chain links: timeline points made of fences.
 *
 * A link completes once its payload has signaled and its previous point
 * has completed (a previous link, or a plain fence at the start).  Links
 * are "armed" lazily, when somebody first waits for one: arming a link
 * installs a callback on its payload and registers the link as a waiter of
 * its previous link, then arms that one too, iteratively, so a long chain
 * costs no deep recursion.  When a link completes it signals and then
 * completes its waiters whose last dependency that was, again with an
 * explicit work list instead of recursion.
 *
 * Locking: payload callbacks run with the payload's lock held and signal
 * links, so the order is payload lock -> link lock; link locks are never
 * nested in one another (a link's lock is dropped before the next link's
 * is taken).  The core calls enable_signaling with the link's lock held;
 * chain_enable_signaling() drops it while arming, which takes payload and
 * link locks.  @prev is protected by its own small lock because walking a
 * chain unlinks signaled points (garbage collection) concurrently.
 *
 * References: an armed link holds one reference to itself until it has
 * completed, and one to the link (or fence) it waits for until that one
 * has completed.
 */

#include <dmabuf/fence_chain.h>

#include "internal.h"

struct chain_link {
	struct dmabuf_fence base;
	struct dmabuf_fence *fence;	/* payload (reference) */
	uint64_t prev_seqno;		/* seqno of @prev if on its context */
	pthread_mutex_t prev_lock;	/* protects @prev */
	struct dmabuf_fence *prev;	/* previous point (reference) or NULL */

	atomic_bool armed;
	/* Dependencies left before completing: payload, previous point. */
	atomic_int pending;
	struct dmabuf_fence_cb fence_cb;	/* on the payload */
	struct dmabuf_fence_cb prev_cb;		/* on a non-chain previous fence */
	struct dmabuf_fence *waited;	/* what we wait on as previous (ref) */
	struct dmabuf_list waiters;	/* armed links waiting for us; base.lock */
	struct dmabuf_list wait_node;	/* in waited's @waiters */
	struct chain_link *work_next;	/* completion work stack */
};

static const struct dmabuf_fence_ops chain_ops;

static struct chain_link *to_link(struct dmabuf_fence *fence)
{
	if (!fence || fence->ops != &chain_ops)
		return NULL;
	return dmabuf_container_of(fence, struct chain_link, base);
}

static bool is_signaled_flag(struct dmabuf_fence *fence)
{
	return atomic_load_explicit(&fence->flags, memory_order_acquire) &
	       (1UL << DMABUF_FENCE_FLAG_SIGNALED);
}

/* A new reference to @link's previous point, or NULL. */
static struct dmabuf_fence *link_get_prev(struct chain_link *link)
{
	struct dmabuf_fence *prev;

	pthread_mutex_lock(&link->prev_lock);
	prev = dmabuf_fence_get(link->prev);
	pthread_mutex_unlock(&link->prev_lock);
	return prev;
}

static const char *chain_driver_name(struct dmabuf_fence *fence)
{
	return "dma_fence_chain";
}

static const char *chain_timeline_name(struct dmabuf_fence *fence)
{
	return "unbound";
}

/* Unlink every waiter of @link onto a stack; called with its lock held. */
static struct chain_link *take_waiters(struct chain_link *link)
{
	struct chain_link *stack = NULL;

	while (!dmabuf_list_empty(&link->waiters)) {
		struct chain_link *w = dmabuf_container_of(link->waiters.next,
					struct chain_link, wait_node);

		dmabuf_list_del_init(&w->wait_node);
		w->work_next = stack;
		stack = w;
	}
	return stack;
}

/*
 * @link has no dependency left: signal it, then complete the waiters for
 * which it was the last dependency, and so on up the timeline.  Drops the
 * arm reference of every link it completes.
 */
static void chain_complete(struct chain_link *link)
{
	struct chain_link *work = link;

	link->work_next = NULL;
	while (work) {
		struct chain_link *cur = work, *waiters;

		work = cur->work_next;
		pthread_mutex_lock(cur->base.lock);
		if (!is_signaled_flag(&cur->base))
			dmabuf_fence_signal_locked(&cur->base);
		waiters = take_waiters(cur);
		pthread_mutex_unlock(cur->base.lock);

		while (waiters) {
			struct chain_link *w = waiters;

			waiters = w->work_next;
			dmabuf_fence_put(w->waited);	/* cur: still armed */
			w->waited = NULL;
			if (atomic_fetch_sub(&w->pending, 1) == 1) {
				w->work_next = work;
				work = w;
			}
		}
		dmabuf_fence_put(&cur->base);	/* its arm reference */
	}
}

static void link_dep_done(struct chain_link *link)
{
	if (atomic_fetch_sub(&link->pending, 1) == 1)
		chain_complete(link);
}

static void chain_payload_signaled(struct dmabuf_fence *fence,
				   struct dmabuf_fence_cb *cb)
{
	link_dep_done(dmabuf_container_of(cb, struct chain_link, fence_cb));
}

static void chain_prev_signaled(struct dmabuf_fence *fence,
				struct dmabuf_fence_cb *cb)
{
	struct chain_link *link = dmabuf_container_of(cb, struct chain_link,
						      prev_cb);

	/* The signaler holds its own reference to @fence. */
	dmabuf_fence_put(link->waited);
	link->waited = NULL;
	link_dep_done(link);
}

/*
 * Make @link wait for its previous point.  Returns the previous link if
 * that one still has to be armed (the caller claimed it), else NULL.
 */
static struct chain_link *link_wait_prev(struct chain_link *link)
{
	struct dmabuf_fence *prev = link_get_prev(link);
	struct chain_link *prev_link = to_link(prev);

	if (!prev) {
		link_dep_done(link);
		return NULL;
	}
	if (!prev_link) {
		link->waited = prev;
		if (dmabuf_fence_add_callback(prev, &link->prev_cb,
					      chain_prev_signaled)) {
			link->waited = NULL;
			dmabuf_fence_put(prev);
			link_dep_done(link);
		}
		return NULL;
	}

	pthread_mutex_lock(prev->lock);
	if (is_signaled_flag(prev)) {
		pthread_mutex_unlock(prev->lock);
		dmabuf_fence_put(prev);
		link_dep_done(link);
		return NULL;
	}
	link->waited = prev;
	dmabuf_list_add_tail(&link->wait_node, &prev_link->waiters);
	pthread_mutex_unlock(prev->lock);
	if (atomic_exchange(&prev_link->armed, true))
		return NULL;
	return prev_link;
}

/* Arm @link (already claimed through @armed) and the links before it. */
static void chain_arm(struct chain_link *link)
{
	while (link) {
		struct chain_link *next;

		dmabuf_fence_get(&link->base);
		/* payload + previous point + a bias held while arming */
		atomic_store(&link->pending, 3);
		if (dmabuf_fence_add_callback(link->fence, &link->fence_cb,
					      chain_payload_signaled))
			link_dep_done(link);
		/*
		 * @link stays alive until the previous link completes, and
		 * holds a reference to it until then: @next is safe to arm.
		 */
		next = link_wait_prev(link);
		link_dep_done(link);
		link = next;
	}
}

/* Called by the core with the link's lock held (see the top comment). */
static bool chain_enable_signaling(struct dmabuf_fence *fence)
{
	struct chain_link *link = to_link(fence);

	if (atomic_exchange(&link->armed, true))
		return true;
	pthread_mutex_unlock(fence->lock);
	chain_arm(link);
	pthread_mutex_lock(fence->lock);
	return true;
}

/* Polled without the lock: has every payload up to here signaled? */
static bool chain_signaled(struct dmabuf_fence *fence)
{
	struct dmabuf_fence *iter = dmabuf_fence_get(fence);
	bool signaled = true;

	while (iter) {
		struct chain_link *link = to_link(iter);
		struct dmabuf_fence *prev;

		if (!link) {
			signaled = dmabuf_fence_is_signaled(iter);
			break;
		}
		if (iter != fence && is_signaled_flag(iter))
			break;
		if (!dmabuf_fence_is_signaled(link->fence)) {
			signaled = false;
			break;
		}
		prev = link_get_prev(link);
		dmabuf_fence_put(iter);
		iter = prev;
	}
	dmabuf_fence_put(iter);
	return signaled;
}

static void chain_set_deadline(struct dmabuf_fence *fence, int64_t deadline_ns)
{
	struct dmabuf_fence *iter;

	for (iter = dmabuf_fence_get(fence); iter;
	     iter = dmabuf_fence_chain_walk(iter))
		dmabuf_fence_set_deadline(dmabuf_fence_chain_contained(iter),
					  deadline_ns);
}

static void chain_release(struct dmabuf_fence *fence)
{
	struct chain_link *link = to_link(fence);
	struct dmabuf_fence *prev = link->prev;

	/*
	 * Free the links only we still hold one by one instead of letting
	 * each release the next: a long chain would recurse deeply.
	 */
	while (to_link(prev) && atomic_load(&prev->refcount) == 1) {
		struct chain_link *p = to_link(prev);

		prev = p->prev;
		p->prev = NULL;
		dmabuf_fence_put(&p->base);
	}
	dmabuf_fence_put(prev);
	dmabuf_fence_put(link->fence);
	pthread_mutex_destroy(&link->prev_lock);
	dmabuf_free(link);
}

static const struct dmabuf_fence_ops chain_ops = {
	.get_driver_name = chain_driver_name,
	.get_timeline_name = chain_timeline_name,
	.enable_signaling = chain_enable_signaling,
	.signaled = chain_signaled,
	.release = chain_release,
	.set_deadline = chain_set_deadline,
	.use_64bit_seqno = true,
};

int dmabuf_fence_chain_create(struct dmabuf_fence *prev,
			      struct dmabuf_fence *fence, uint64_t seqno,
			      struct dmabuf_fence **out)
{
	struct chain_link *link;
	uint64_t context;

	if (!fence || !out)
		return -EINVAL;
	link = dmabuf_calloc(1, sizeof(*link));
	if (!link)
		return -ENOMEM;

	if (to_link(prev) && seqno > prev->seqno) {
		context = prev->context;
		link->prev_seqno = prev->seqno;
	} else {
		context = dmabuf_fence_context_alloc(1);
		if (to_link(prev) && prev->seqno > seqno)
			seqno = prev->seqno;
	}
	dmabuf_fence_init(&link->base, &chain_ops, NULL, context, seqno);
	pthread_mutex_init(&link->prev_lock, NULL);
	link->prev = dmabuf_fence_get(prev);
	link->fence = dmabuf_fence_get(fence);
	atomic_init(&link->armed, false);
	atomic_init(&link->pending, 0);
	dmabuf_list_init(&link->waiters);
	dmabuf_list_init(&link->wait_node);
	*out = &link->base;
	return 0;
}

bool dmabuf_fence_is_chain(struct dmabuf_fence *fence)
{
	return to_link(fence) != NULL;
}

struct dmabuf_fence *dmabuf_fence_chain_contained(struct dmabuf_fence *fence)
{
	struct chain_link *link = to_link(fence);

	return link ? link->fence : fence;
}

struct dmabuf_fence *dmabuf_fence_chain_walk(struct dmabuf_fence *fence)
{
	struct chain_link *link = to_link(fence);
	struct dmabuf_fence *prev;

	if (!link) {
		dmabuf_fence_put(fence);
		return NULL;
	}
	while ((prev = link_get_prev(link))) {
		struct chain_link *prev_link = to_link(prev);
		struct dmabuf_fence *replacement, *unlinked = NULL;

		if (prev_link) {
			if (!dmabuf_fence_is_signaled(prev_link->fence))
				break;
			replacement = link_get_prev(prev_link);
		} else {
			if (!dmabuf_fence_is_signaled(prev))
				break;
			replacement = NULL;
		}
		/* Unlink @prev unless somebody else changed it meanwhile. */
		pthread_mutex_lock(&link->prev_lock);
		if (link->prev == prev) {
			unlinked = prev;
			link->prev = replacement;
			replacement = NULL;
		}
		pthread_mutex_unlock(&link->prev_lock);
		dmabuf_fence_put(unlinked);
		dmabuf_fence_put(replacement);
		dmabuf_fence_put(prev);
	}
	dmabuf_fence_put(fence);
	return prev;
}

int dmabuf_fence_chain_find_seqno(struct dmabuf_fence **pfence, uint64_t seqno)
{
	struct dmabuf_fence *head, *iter;

	if (!pfence)
		return -EINVAL;
	if (!seqno)
		return 0;
	head = *pfence;
	if (!to_link(head) || head->seqno < seqno)
		return -EINVAL;

	for (iter = dmabuf_fence_get(head); iter;
	     iter = dmabuf_fence_chain_walk(iter)) {
		struct chain_link *link = to_link(iter);

		if (!link || iter->context != head->context ||
		    link->prev_seqno < seqno)
			break;
	}
	*pfence = iter;
	dmabuf_fence_put(head);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/resv.h - the reservation object: the fences of a shared buffer.
 *
 * A reservation object (the kernel's dma_resv) holds the fences of all
 * operations that use a buffer, each tagged with a usage.  Users that want
 * to touch the buffer wait for the fences that matter to them.  Usages are
 * ordered: KERNEL < WRITE < READ < BOOKKEEP, and asking for usage U means
 * every fence whose usage is <= U (so asking for READ returns the kernel,
 * write and read fences).  At most one fence per fence context is kept for
 * a usage level: adding a later fence of the same context replaces an
 * earlier one of the same or a higher usage.  Signaled fences are dropped
 * lazily (their slots are reused).
 *
 * Locking:
 *  - @lock (a ww_mutex of dmabuf_reservation_ww_class) must be held to
 *    change the fences (reserve, add, copy into) and for the locked
 *    iterator.  Several objects are locked together with an acquire
 *    context and the -EDEADLK back-off of dmabuf/ww_mutex.h.
 *  - @fences_lock, internal, is held briefly by writers (who also hold
 *    @lock) while they change the fence table, and by unlocked readers
 *    while they read one entry and take a reference to its fence.  It
 *    protects @fences, @num_fences, @max_fences and @seq against the
 *    unlocked readers; holders of @lock may read them without it.  No
 *    fence callback, release or driver op runs under it.
 *  - @seq counts replacements of the table itself (growing it, copying
 *    into the object, finalizing it).  An unlocked walk restarts from the
 *    first fence when @seq changed since it started (like the kernel,
 *    which restarts when the fence list was reallocated); fences added to
 *    or replaced in the current table do not restart it.
 * Unlocked functions (get_fences, get_singleton, test_signaled,
 * wait_timeout, the *_unlocked iterator) may also be called with @lock
 * held.
 */
#ifndef DMABUF_RESV_H
#define DMABUF_RESV_H

#include <dmabuf/api.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <dmabuf/fence.h>
#include <dmabuf/ww_mutex.h>

DMABUF_BEGIN_DECLS

/**
 * enum dmabuf_resv_usage - how a fence uses the buffer, in increasing order.
 * @DMABUF_RESV_USAGE_KERNEL: kernel-internal work (moves, clears) that
 *	everybody must wait for.
 * @DMABUF_RESV_USAGE_WRITE: an implicitly synchronized write.
 * @DMABUF_RESV_USAGE_READ: an implicitly synchronized read.
 * @DMABUF_RESV_USAGE_BOOKKEEP: explicitly synchronized work; only for
 *	bookkeeping (e.g. memory management), never waited for implicitly.
 */
enum dmabuf_resv_usage {
	DMABUF_RESV_USAGE_KERNEL,
	DMABUF_RESV_USAGE_WRITE,
	DMABUF_RESV_USAGE_READ,
	DMABUF_RESV_USAGE_BOOKKEEP,
};

/**
 * dmabuf_resv_usage_rw() - the usage to wait for before an access.
 * @write: true for a write access.
 * A writer must wait for readers and writers (READ); a reader only for
 * writers (WRITE).  The result is deliberately "inverted" compared with the
 * access.
 */
static inline enum dmabuf_resv_usage dmabuf_resv_usage_rw(bool write)
{
	return write ? DMABUF_RESV_USAGE_READ : DMABUF_RESV_USAGE_WRITE;
}

/** The ww_mutex class of every reservation object's lock. */
extern DMABUF_API struct dmabuf_ww_class dmabuf_reservation_ww_class;

/* One entry of the fence table (private). */
struct dmabuf_resv_slot {
	struct dmabuf_fence *fence;
	enum dmabuf_resv_usage usage;
};

/**
 * struct dmabuf_resv - a reservation object.  Only @lock is public (use
 * the functions below); see the locking rules at the top of this file.
 * @lock: the ww_mutex serializing changes.
 * @fences_lock: internal lock for unlocked readers.
 * @seq: generation of the fence table.
 * @fences: the table; each entry holds a reference to its fence.
 * @num_fences: used entries.
 * @max_fences: allocated entries.
 */
struct dmabuf_resv {
	struct dmabuf_ww_mutex lock;
	pthread_mutex_t fences_lock;
	uint64_t seq;
	struct dmabuf_resv_slot *fences;
	unsigned int num_fences;
	unsigned int max_fences;
};

/**
 * struct dmabuf_resv_iter - a cursor over the fences of a reservation
 * object.  Set it up with dmabuf_resv_iter_begin().
 * @obj: the object walked (private).
 * @usage: the filter: fences with a usage <= @usage are visited (private).
 * @fence: the current fence (public, read-only).
 * @fence_usage: the usage of @fence (public, read-only).
 * @index, @num_fences, @seq, @is_restarted, @holds_ref: private.
 */
struct dmabuf_resv_iter {
	struct dmabuf_resv *obj;
	enum dmabuf_resv_usage usage;
	struct dmabuf_fence *fence;
	enum dmabuf_resv_usage fence_usage;
	unsigned int index;
	unsigned int num_fences;
	uint64_t seq;
	bool is_restarted;
	bool holds_ref;
};

/**
 * dmabuf_resv_init() - initialize @obj: unlocked, no fences.
 * Returns 0, or -EINVAL if @obj is NULL.
 */
DMABUF_API int dmabuf_resv_init(struct dmabuf_resv *obj);

/**
 * dmabuf_resv_fini() - drop every fence reference of @obj and free its
 * table.  @obj must be unlocked and unused.  NULL is a no-op.
 */
DMABUF_API void dmabuf_resv_fini(struct dmabuf_resv *obj);

/**
 * dmabuf_resv_lock() - lock @obj, with ww_mutex semantics.
 * @ctx: acquire context of dmabuf_reservation_ww_class, or NULL to lock
 *	just this object.
 * Returns 0; -EDEADLK (back off: unlock everything held with @ctx and use
 * dmabuf_resv_lock_slow()); -EALREADY if @ctx already holds @obj; -EINVAL
 * for a NULL @obj or an unusable @ctx.  See dmabuf_ww_mutex_lock().
 */
DMABUF_API int dmabuf_resv_lock(struct dmabuf_resv *obj,
				struct dmabuf_ww_acquire_ctx *ctx);

/**
 * dmabuf_resv_lock_slow() - after -EDEADLK, with @ctx holding nothing:
 * sleep until @obj is locked.  See dmabuf_ww_mutex_lock_slow().
 */
DMABUF_API void dmabuf_resv_lock_slow(struct dmabuf_resv *obj,
				      struct dmabuf_ww_acquire_ctx *ctx);

/**
 * dmabuf_resv_trylock() - lock @obj (without context) if it is free.
 * Returns true if locked, false if busy or @obj is NULL.
 */
DMABUF_API bool dmabuf_resv_trylock(struct dmabuf_resv *obj);

/** dmabuf_resv_unlock() - unlock @obj.  NULL is a no-op. */
DMABUF_API void dmabuf_resv_unlock(struct dmabuf_resv *obj);

/**
 * dmabuf_resv_reserve_fences() - make room for @num more fences.
 * @obj: locked reservation object.
 * @num: number of dmabuf_resv_add_fence() calls to come.
 *
 * Afterwards the next @num add calls cannot fail for lack of memory (as
 * long as @obj stays locked).  Growing the table also drops the fences
 * that already signaled, and restarts unlocked walks.
 * Returns 0; -ENOMEM (nothing changed); -EINVAL if @obj is NULL or not
 * locked.
 */
DMABUF_API int dmabuf_resv_reserve_fences(struct dmabuf_resv *obj,
					  unsigned int num);

/**
 * dmabuf_resv_add_fence() - add @fence to the locked @obj with @usage.
 *
 * Takes its own reference to @fence.  An entry is overwritten (its
 * reference dropped) if it holds a fence of the same context with a usage
 * >= @usage that @fence is later than or identical to, or a fence that
 * has signaled; otherwise @fence goes into a new entry, using a slot from
 * dmabuf_resv_reserve_fences() or, if there is none, growing the table.
 * Returns 0; -ENOMEM only when no slot was reserved and growing failed
 * (nothing changed); -EINVAL if an argument is NULL or invalid, @obj is not
 * locked, or @fence is a container (fence array or chain: add the fences
 * inside it, e.g. with the unwrap iterator, instead).
 */
DMABUF_API int dmabuf_resv_add_fence(struct dmabuf_resv *obj,
				     struct dmabuf_fence *fence,
				     enum dmabuf_resv_usage usage);

/**
 * dmabuf_resv_iter_begin() - set up @it to walk the fences of @obj with a
 * usage <= @usage.  Then use either the locked walk (iter_first/next, with
 * @obj locked) or the unlocked walk (iter_first_unlocked/next_unlocked,
 * finished with dmabuf_resv_iter_end()).
 */
DMABUF_API void dmabuf_resv_iter_begin(struct dmabuf_resv_iter *it,
				       struct dmabuf_resv *obj,
				       enum dmabuf_resv_usage usage);

/**
 * dmabuf_resv_iter_first() - first fence of a locked walk.  @obj must be
 * locked by the caller for the whole walk.  Visits every matching fence,
 * signaled or not, without taking references.  Returns NULL at the end.
 */
DMABUF_API struct dmabuf_fence *dmabuf_resv_iter_first(struct dmabuf_resv_iter *it);

/** dmabuf_resv_iter_next() - next fence of a locked walk, or NULL. */
DMABUF_API struct dmabuf_fence *dmabuf_resv_iter_next(struct dmabuf_resv_iter *it);

/**
 * dmabuf_resv_iter_first_unlocked() - first unsignaled matching fence,
 * without holding the lock.  The iterator holds a reference to the fence
 * it returns until the next call or dmabuf_resv_iter_end() (take your own
 * to keep it).  Returns NULL at the end.
 */
DMABUF_API struct dmabuf_fence *dmabuf_resv_iter_first_unlocked(struct dmabuf_resv_iter *it);

/**
 * dmabuf_resv_iter_next_unlocked() - next unsignaled matching fence, or
 * NULL.  If the fence table was replaced since the walk started, the walk
 * restarts from the first fence and dmabuf_resv_iter_is_restarted() says
 * so: discard whatever was collected so far.
 */
DMABUF_API struct dmabuf_fence *dmabuf_resv_iter_next_unlocked(struct dmabuf_resv_iter *it);

/**
 * dmabuf_resv_iter_is_restarted() - true if the fence just returned is the
 * first of a (re)started walk: always after iter_first*(), and after an
 * unlocked next that had to start over.
 */
DMABUF_API bool dmabuf_resv_iter_is_restarted(struct dmabuf_resv_iter *it);

/**
 * dmabuf_resv_iter_end() - finish a walk: drops the reference an unlocked
 * walk holds.  Harmless after a locked walk.
 */
DMABUF_API void dmabuf_resv_iter_end(struct dmabuf_resv_iter *it);

/** Walk the fences of @obj (locked by the caller) with usage <= @usage. */
#define dmabuf_resv_for_each_fence(it, obj, usage, fence)		\
	for (dmabuf_resv_iter_begin(it, obj, usage),			\
	     fence = dmabuf_resv_iter_first(it); fence;			\
	     fence = dmabuf_resv_iter_next(it))

/**
 * Walk the unsignaled fences of an iterator set up with
 * dmabuf_resv_iter_begin(), without the lock; end with
 * dmabuf_resv_iter_end().
 */
#define dmabuf_resv_for_each_fence_unlocked(it, fence)			\
	for (fence = dmabuf_resv_iter_first_unlocked(it); fence;	\
	     fence = dmabuf_resv_iter_next_unlocked(it))

/**
 * dmabuf_resv_get_fences() - snapshot of the unsignaled fences with usage
 * <= @usage, without the lock.
 * @num_fences: receives the count.
 * @fences: receives an array (free() it) of @num_fences fences, each with
 *	a reference for the caller; NULL when there is none.
 * Returns 0; -ENOMEM (*@num_fences = 0, *@fences = NULL, no reference
 * taken); -EINVAL for NULL arguments or an invalid @usage.
 */
DMABUF_API int dmabuf_resv_get_fences(struct dmabuf_resv *obj,
				      enum dmabuf_resv_usage usage,
				      unsigned int *num_fences,
				      struct dmabuf_fence ***fences);

/**
 * dmabuf_resv_get_singleton() - one fence standing for all unsignaled
 * fences of @obj with usage <= @usage, plus @extra, without the lock.
 * @extra: an additional fence to include, or NULL; ignored if signaled.
 * @out: receives NULL if there is no such fence, the fence itself (with a
 *	reference) if there is one, otherwise a new signal-on-all fence array
 *	on a new context (seqno 1) holding all of them.
 * Returns 0; -ENOMEM (*@out untouched, no reference taken); -EINVAL for a
 * NULL @obj or @out or an invalid @usage.
 * Do not add the result back to a reservation object: it may be a
 * container.
 */
DMABUF_API int dmabuf_resv_get_singleton(struct dmabuf_resv *obj,
					 enum dmabuf_resv_usage usage,
					 struct dmabuf_fence *extra,
					 struct dmabuf_fence **out);

/**
 * dmabuf_resv_test_signaled() - true if every fence of @obj with usage <=
 * @usage has signaled (true for an object without fences).  Lockless.
 * False for a NULL @obj or an invalid @usage.
 */
DMABUF_API bool dmabuf_resv_test_signaled(struct dmabuf_resv *obj,
					  enum dmabuf_resv_usage usage);

/**
 * dmabuf_resv_wait_timeout() - wait until every fence of @obj with usage
 * <= @usage has signaled, without the lock.
 * @timeout_ns: relative timeout for the whole wait; 0 only tests;
 *	negative waits forever.
 * Returns 0 when all signaled, -ETIME on timeout, -EINVAL for a NULL @obj
 * or an invalid @usage.
 */
DMABUF_API int dmabuf_resv_wait_timeout(struct dmabuf_resv *obj,
					enum dmabuf_resv_usage usage,
					int64_t timeout_ns);

/**
 * dmabuf_resv_copy_fences() - make @dst's fences a copy of @src's
 * unsignaled fences (all usages, usages kept), dropping @dst's previous
 * fences.
 * @dst: locked destination.
 * @src: source, read without its lock.
 * Returns 0; -ENOMEM (@dst unchanged); -EINVAL for NULL arguments or an
 * unlocked @dst.
 */
DMABUF_API int dmabuf_resv_copy_fences(struct dmabuf_resv *dst,
				       struct dmabuf_resv *src);

/**
 * dmabuf_resv_num_fences() - number of entries in @obj's table (signaled
 * fences included): a snapshot for debugging and tests.  0 for NULL.
 */
DMABUF_API unsigned int dmabuf_resv_num_fences(struct dmabuf_resv *obj);

DMABUF_END_DECLS

#endif /* DMABUF_RESV_H */

/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/ww_mutex.h - wait/die ("wound/wait" family) mutexes: locking many
 * objects in any order without deadlock.
 *
 * A task that must lock several objects (e.g. the reservation objects of
 * all buffers used by a job) cannot agree on a global lock order with other
 * tasks.  Instead it takes an acquire context, which draws a unique,
 * increasing stamp from the lock class: a smaller stamp means an older
 * context.  Every lock taken with a context records the context's stamp.
 *
 * The algorithm is wait-die:
 *  - an older context that finds a lock held by a younger context waits;
 *  - a younger context that finds a lock held by an older one and already
 *    holds at least one lock "dies": dmabuf_ww_mutex_lock() returns -EDEADLK.
 *    The caller must then unlock everything it holds, sleep on the
 *    contended lock with dmabuf_ww_mutex_lock_slow() and start over (keeping
 *    its context, hence its stamp, so it ages and eventually wins);
 *  - a context holding nothing never dies, so the slow path always ends
 *    with the lock held.
 * A waiter only ever waits for a younger holder (or for a holder without a
 * context, or while it holds nothing itself), so the wait-for graph cannot
 * contain a cycle.
 *
 * Why wait-die rather than wound-wait: in wound-wait the older requester
 * "wounds" the younger holder, which must notice this asynchronously and
 * back off.  A userspace lock cannot interrupt a running holder, so the
 * wound would only be noticed at the holder's next lock call.  With wait-die
 * the back-off decision is taken by the requester itself, at lock time, from
 * the holder's stamp alone: no notification to a possibly running holder is
 * needed.
 *
 * Typical use (error handling shortened):
 *
 *	dmabuf_ww_acquire_init(&ctx, &my_class);
 *   retry:
 *	for each object o not yet locked:
 *		ret = dmabuf_ww_mutex_lock(&o->lock, &ctx);
 *		if (ret == -EDEADLK) {
 *			unlock every object locked so far;
 *			dmabuf_ww_mutex_lock_slow(&o->lock, &ctx);
 *			remember that o is locked;
 *			goto retry;
 *		}
 *	dmabuf_ww_acquire_done(&ctx);
 *	... use the objects, unlock them ...
 *	dmabuf_ww_acquire_fini(&ctx);
 *
 * Rules (as in the kernel): an acquire context belongs to one thread, and a
 * lock taken with a context must be unlocked by that thread before
 * dmabuf_ww_acquire_fini().  Locks taken without a context behave like a
 * plain non-recursive mutex.  Once dmabuf_ww_mutex_unlock() has released
 * the lock it no longer reads or writes the lock's memory (it only passes
 * the address to a futex wake-up, which is harmless even if the memory is
 * gone), so the next holder may free it, as with a pthread mutex.
 *
 * Implementation: the whole state is one 64-bit word: the holder's stamp
 * (the low 32 bits of the context's stamp, or a reserved value for "held
 * without context", 0 when free) in the upper half; a wake-up sequence
 * number and a "has waiters" bit (bit 0) in the lower half, which is also
 * the futex word waiters sleep on.  Stamps are compared with 32-bit
 * wrap-around, like the kernel on 32-bit machines: contexts alive at the
 * same time must be less than 2^31 stamps apart.  Unlocking releases the
 * lock and, if there are waiters, bumps the sequence number in the same
 * atomic step, then wakes every waiter: each one re-evaluates wait or die
 * against the new holder.
 */
#ifndef DMABUF_WW_MUTEX_H
#define DMABUF_WW_MUTEX_H

#include <dmabuf/api.h>

#include <stdbool.h>
#include <stdint.h>

DMABUF_BEGIN_DECLS

/**
 * struct dmabuf_ww_class - a family of ww_mutexes that may be locked
 * together with one acquire context.
 * @stamp: the next stamp to hand out (atomic).
 * @name: name for diagnostics.
 */
struct dmabuf_ww_class {
	dmabuf_atomic_u64 stamp;
	const char *name;
};

/** Static initializer for a struct dmabuf_ww_class named @n. */
#define DMABUF_WW_CLASS_INIT(n) { .stamp = 1, .name = (n) }

/**
 * struct dmabuf_ww_acquire_ctx - one attempt to lock a set of ww_mutexes.
 * Fields are read-only for users.
 * @stamp: age of the context; smaller is older (unique per class).
 * @acquired: number of locks currently held with this context.
 * @done: set by dmabuf_ww_acquire_done(): no more locks may be taken.
 * @ww_class: the class the context belongs to (NULL after fini).
 */
struct dmabuf_ww_acquire_ctx {
	uint64_t stamp;
	unsigned int acquired;
	bool done;
	struct dmabuf_ww_class *ww_class;
};

/**
 * struct dmabuf_ww_mutex - a wait/die mutex.  All fields are private.
 * @state: holder stamp (upper 32 bits), wake-up sequence (bits 1..31) and
 *	the has-waiters bit (bit 0); the lower half is the futex word.
 * @ww_class: the class; acquire contexts must belong to it.
 * @ctx: the holder's acquire context (only accessed by the holder).
 */
struct dmabuf_ww_mutex {
	dmabuf_atomic_u64 state;
	struct dmabuf_ww_class *ww_class;
	struct dmabuf_ww_acquire_ctx *ctx;
};

/** Static initializer for an unlocked ww_mutex of class @cls (a pointer). */
#define DMABUF_WW_MUTEX_INIT(cls) { .state = 0, .ww_class = (cls), .ctx = 0 }

/**
 * dmabuf_ww_mutex_init() - initialize @lock, unlocked, in class @ww_class.
 * @ww_class may be NULL for a lock only ever taken without a context.
 * Does nothing if @lock is NULL.
 */
DMABUF_API void dmabuf_ww_mutex_init(struct dmabuf_ww_mutex *lock,
				     struct dmabuf_ww_class *ww_class);

/**
 * dmabuf_ww_mutex_destroy() - finish with an unlocked @lock.  Nothing to
 * free; the lock must not be used afterwards until initialized again.
 */
DMABUF_API void dmabuf_ww_mutex_destroy(struct dmabuf_ww_mutex *lock);

/**
 * dmabuf_ww_acquire_init() - start an acquire context in @ww_class.
 * Draws a new stamp: the context is younger than every context of the class
 * initialized before it.  Does nothing if @ctx is NULL; a NULL @ww_class
 * gives a context every lock call rejects with -EINVAL.
 */
DMABUF_API void dmabuf_ww_acquire_init(struct dmabuf_ww_acquire_ctx *ctx,
				       struct dmabuf_ww_class *ww_class);

/**
 * dmabuf_ww_acquire_done() - mark the end of the acquire phase: every lock
 * needed is held.  Later lock calls with @ctx fail with -EINVAL; unlocking
 * is still allowed.
 */
DMABUF_API void dmabuf_ww_acquire_done(struct dmabuf_ww_acquire_ctx *ctx);

/**
 * dmabuf_ww_acquire_fini() - release @ctx.  Every lock taken with it must
 * have been unlocked.  The context cannot be used any more (lock calls fail
 * with -EINVAL) until initialized again.
 */
DMABUF_API void dmabuf_ww_acquire_fini(struct dmabuf_ww_acquire_ctx *ctx);

/**
 * dmabuf_ww_mutex_lock() - lock @lock, sleeping while it is held, unless
 * the wait/die rule says @ctx must back off.
 * @lock: the lock.
 * @ctx: the acquire context, or NULL to lock it as a plain mutex (never
 *	backs off, may deadlock like any mutex if misused).
 *
 * Returns 0 with the lock held (counted in @ctx->acquired);
 * -EDEADLK if @ctx holds at least one lock and the holder of @lock is an
 * older context: unlock everything held with @ctx, then take @lock with
 * dmabuf_ww_mutex_lock_slow() and retry the others;
 * -EALREADY if @ctx already holds @lock;
 * -EINVAL if @lock is NULL, or @ctx belongs to another class than @lock, or
 * @ctx is past dmabuf_ww_acquire_done() or fini.
 */
DMABUF_API int dmabuf_ww_mutex_lock(struct dmabuf_ww_mutex *lock,
				    struct dmabuf_ww_acquire_ctx *ctx);

/**
 * dmabuf_ww_mutex_lock_slow() - after -EDEADLK: sleep until @lock is held.
 * @ctx must hold no lock (so it never has to back off, and this cannot
 * fail); if it still holds locks the call waits anyway and the caller risks
 * a real deadlock.  @ctx NULL locks a plain mutex.  Does nothing if @lock
 * is NULL or @ctx is unusable (see dmabuf_ww_mutex_lock()).
 */
DMABUF_API void dmabuf_ww_mutex_lock_slow(struct dmabuf_ww_mutex *lock,
					  struct dmabuf_ww_acquire_ctx *ctx);

/**
 * dmabuf_ww_mutex_trylock() - lock @lock only if it is free right now.
 * @ctx: NULL, or an acquire context to count the lock in.
 * Returns true with the lock held; false if it is held (also by @ctx
 * itself), @lock is NULL or @ctx is unusable.
 */
DMABUF_API bool dmabuf_ww_mutex_trylock(struct dmabuf_ww_mutex *lock,
					struct dmabuf_ww_acquire_ctx *ctx);

/**
 * dmabuf_ww_mutex_unlock() - release @lock (held by the calling thread)
 * and wake its waiters.  Does nothing if @lock is NULL or not locked.
 */
DMABUF_API void dmabuf_ww_mutex_unlock(struct dmabuf_ww_mutex *lock);

/**
 * dmabuf_ww_mutex_is_locked() - true if somebody holds @lock (a snapshot).
 * False for NULL.
 */
DMABUF_API bool dmabuf_ww_mutex_is_locked(struct dmabuf_ww_mutex *lock);

DMABUF_END_DECLS

#endif /* DMABUF_WW_MUTEX_H */

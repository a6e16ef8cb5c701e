// SPDX-License-Identifier: MIT
/*
 * ww_mutex.c - wait/die mutexes on a single 64-bit futex-backed word.
 *
 * State word (see ww_mutex.h):
 *	bits 63..32	holder stamp: 0 = free, STAMP_NOCTX = held without ctx
 *	bits 31..1	wake-up sequence, bumped by every unlock that had waiters
 *	bit 0		WAITERS: somebody sleeps (or is about to) on the word
 *
 * A waiter sets WAITERS on the very value it then futex-waits for (the
 * lower half).  Any unlock of that holder changes the lower half (WAITERS
 * cleared, sequence bumped) in the same atomic step that frees the lock and
 * only then calls futex wake, so a waiter either sees the changed value and
 * does not sleep, or is already queued and gets woken.  WAITERS is only ever
 * set on a held word, and unlock clears it, so a free word never has it.
 *
 * While the process has a single thread (glibc's __libc_single_threaded,
 * which never goes back to true once a thread was created) nobody else can
 * touch the word, so the uncontended paths use plain stores instead of
 * atomic read-modify-writes, as glibc's own mutexes do.
 *
 * The holder's context pointer (lock->ctx) and ctx->acquired are touched
 * only by the holder; the acquire/release ordering of the state word orders
 * them between successive holders.
 */
#include <limits.h>
#if defined(__has_include)
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define HAVE_LIBC_SINGLE_THREADED 1
#endif
#endif

#include <dmabuf/ww_mutex.h>

#include "internal.h"

#define WAITERS		((uint64_t)1)
#define LOW_MASK	((uint64_t)0xffffffffu)
#define STAMP_SHIFT	32
#define STAMP_NOCTX	0xffffffffu

_Static_assert(sizeof(atomic_uint_least64_t) == 8,
	       "the ww_mutex state must be a plain 64-bit word");

static inline uint32_t holder_of(uint64_t state)
{
	return (uint32_t)(state >> STAMP_SHIFT);
}

static inline bool single_threaded(void)
{
#ifdef HAVE_LIBC_SINGLE_THREADED
	return __libc_single_threaded;
#else
	return false;
#endif
}

/* The lower half of the state word, as a futex word. */
static atomic_uint *futex_word(struct dmabuf_ww_mutex *lock)
{
	char *p = (char *)&lock->state;

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	p += 4;
#endif
	return (atomic_uint *)(void *)p;
}

/* The stamp a context writes into the state word. */
static inline uint32_t ctx_stamp32(const struct dmabuf_ww_acquire_ctx *ctx)
{
	return ctx ? (uint32_t)ctx->stamp : STAMP_NOCTX;
}

/* True if stamp @a belongs to a younger context than stamp @b. */
static inline bool stamp_younger(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

void dmabuf_ww_mutex_init(struct dmabuf_ww_mutex *lock,
			  struct dmabuf_ww_class *ww_class)
{
	if (!lock)
		return;
	atomic_init(&lock->state, 0);
	lock->ww_class = ww_class;
	lock->ctx = NULL;
}

void dmabuf_ww_mutex_destroy(struct dmabuf_ww_mutex *lock)
{
	if (lock)
		lock->ctx = NULL;
}

void dmabuf_ww_acquire_init(struct dmabuf_ww_acquire_ctx *ctx,
			    struct dmabuf_ww_class *ww_class)
{
	uint64_t stamp = 0;

	if (!ctx)
		return;
	/* 0 means "free" and STAMP_NOCTX "no context" in the state word. */
	while (ww_class) {
		stamp = atomic_fetch_add(&ww_class->stamp, 1);
		if ((uint32_t)stamp != 0 && (uint32_t)stamp != STAMP_NOCTX)
			break;
	}
	ctx->stamp = stamp;
	ctx->acquired = 0;
	ctx->done = false;
	ctx->ww_class = ww_class;
}

void dmabuf_ww_acquire_done(struct dmabuf_ww_acquire_ctx *ctx)
{
	if (ctx)
		ctx->done = true;
}

void dmabuf_ww_acquire_fini(struct dmabuf_ww_acquire_ctx *ctx)
{
	if (!ctx)
		return;
	ctx->done = true;
	ctx->ww_class = NULL;
}

static bool ctx_usable(struct dmabuf_ww_mutex *lock,
		       struct dmabuf_ww_acquire_ctx *ctx)
{
	return !ctx || (ctx->ww_class && ctx->ww_class == lock->ww_class &&
			!ctx->done);
}

static void set_holder(struct dmabuf_ww_mutex *lock,
		       struct dmabuf_ww_acquire_ctx *ctx)
{
	lock->ctx = ctx;
	if (ctx)
		ctx->acquired++;
}

/* One attempt on a free-looking @state; false if the word changed. */
static bool try_acquire(struct dmabuf_ww_mutex *lock, uint64_t *state,
			uint32_t mine)
{
	return atomic_compare_exchange_weak_explicit(
		&lock->state, state,
		*state | ((uint64_t)mine << STAMP_SHIFT),
		memory_order_acquire, memory_order_relaxed);
}

/*
 * The contended path: wait, or die when @may_die and the wait/die rule says
 * so.  Returns 0 with the lock held, -EALREADY or -EDEADLK.
 */
static int lock_contended(struct dmabuf_ww_mutex *lock,
			  struct dmabuf_ww_acquire_ctx *ctx, bool may_die)
{
	uint32_t mine = ctx_stamp32(ctx);
	uint64_t state = atomic_load_explicit(&lock->state,
					      memory_order_relaxed);

	for (;;) {
		uint32_t holder = holder_of(state);

		if (!holder) {
			if (try_acquire(lock, &state, mine))
				return 0;
			continue;
		}
		if (ctx && holder == mine)
			return -EALREADY;
		if (ctx && may_die && ctx->acquired && holder != STAMP_NOCTX &&
		    stamp_younger(mine, holder))
			return -EDEADLK;
		if (!(state & WAITERS)) {
			if (!atomic_compare_exchange_weak_explicit(
				    &lock->state, &state, state | WAITERS,
				    memory_order_relaxed, memory_order_relaxed))
				continue;
			state |= WAITERS;
		}
		dmabuf_futex_wait(futex_word(lock), (unsigned int)(state & LOW_MASK),
				  -1);
		state = atomic_load_explicit(&lock->state, memory_order_relaxed);
	}
}

/* The uncontended case: take a free lock. */
static bool lock_fast(struct dmabuf_ww_mutex *lock, uint32_t mine)
{
	uint64_t state = atomic_load_explicit(&lock->state,
					      memory_order_relaxed);

	if (holder_of(state))
		return false;
	if (single_threaded()) {
		atomic_store_explicit(&lock->state,
				      state | ((uint64_t)mine << STAMP_SHIFT),
				      memory_order_relaxed);
		return true;
	}
	return try_acquire(lock, &state, mine);
}

static int lock_common(struct dmabuf_ww_mutex *lock,
		       struct dmabuf_ww_acquire_ctx *ctx, bool may_die)
{
	int ret = 0;

	if (!lock_fast(lock, ctx_stamp32(ctx)))
		ret = lock_contended(lock, ctx, may_die);
	if (!ret)
		set_holder(lock, ctx);
	return ret;
}

int dmabuf_ww_mutex_lock(struct dmabuf_ww_mutex *lock,
			 struct dmabuf_ww_acquire_ctx *ctx)
{
	if (!lock || !ctx_usable(lock, ctx))
		return -EINVAL;
	return lock_common(lock, ctx, true);
}

void dmabuf_ww_mutex_lock_slow(struct dmabuf_ww_mutex *lock,
			       struct dmabuf_ww_acquire_ctx *ctx)
{
	if (!lock || !ctx_usable(lock, ctx))
		return;
	lock_common(lock, ctx, false);
}

bool dmabuf_ww_mutex_trylock(struct dmabuf_ww_mutex *lock,
			     struct dmabuf_ww_acquire_ctx *ctx)
{
	uint64_t state;

	if (!lock || !ctx_usable(lock, ctx))
		return false;
	state = atomic_load_explicit(&lock->state, memory_order_relaxed);
	while (!holder_of(state)) {
		if (try_acquire(lock, &state, ctx_stamp32(ctx))) {
			set_holder(lock, ctx);
			return true;
		}
	}
	return false;
}

void dmabuf_ww_mutex_unlock(struct dmabuf_ww_mutex *lock)
{
	uint64_t state, next;

	if (!lock)
		return;
	state = atomic_load_explicit(&lock->state, memory_order_relaxed);
	if (!holder_of(state))
		return;
	if (lock->ctx) {
		lock->ctx->acquired--;
		lock->ctx = NULL;
	}
	if (single_threaded() && !(state & WAITERS)) {
		atomic_store_explicit(&lock->state, state & LOW_MASK,
				      memory_order_relaxed);
		return;
	}
	do {
		if (state & WAITERS)
			/* Free, waiters bit cleared, sequence bumped. */
			next = (state + 2 * WAITERS) & (LOW_MASK & ~WAITERS);
		else
			next = state & LOW_MASK;
	} while (!atomic_compare_exchange_weak_explicit(&lock->state, &state,
							next,
							memory_order_release,
							memory_order_relaxed));
	if (state & WAITERS)
		dmabuf_futex_wake(futex_word(lock), INT_MAX);
}

bool dmabuf_ww_mutex_is_locked(struct dmabuf_ww_mutex *lock)
{
	return lock && holder_of(atomic_load_explicit(&lock->state,
						      memory_order_relaxed));
}

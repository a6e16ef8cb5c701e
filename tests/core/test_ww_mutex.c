// SPDX-License-Identifier: MIT
/*
 * test_ww_mutex.c - wait/die mutexes: plain use, acquire contexts, back-off.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <dmabuf/ww_mutex.h>

#include "tap.h"

static struct dmabuf_ww_class test_class = DMABUF_WW_CLASS_INIT("test");
static struct dmabuf_ww_class other_class = DMABUF_WW_CLASS_INIT("other");

/* A step counter threads wait on (no sleeps). */
struct stage {
	pthread_mutex_t m;
	pthread_cond_t c;
	int v;
};

static void stage_init(struct stage *s)
{
	pthread_mutex_init(&s->m, NULL);
	pthread_cond_init(&s->c, NULL);
	s->v = 0;
}

static void stage_set(struct stage *s, int v)
{
	pthread_mutex_lock(&s->m);
	s->v = v;
	pthread_cond_broadcast(&s->c);
	pthread_mutex_unlock(&s->m);
}

static void stage_wait(struct stage *s, int v)
{
	pthread_mutex_lock(&s->m);
	while (s->v < v)
		pthread_cond_wait(&s->c, &s->m);
	pthread_mutex_unlock(&s->m);
}

static int stage_get(struct stage *s)
{
	int v;

	pthread_mutex_lock(&s->m);
	v = s->v;
	pthread_mutex_unlock(&s->m);
	return v;
}

/*
 * Wait until a thread sleeps (or is about to) on @lock: bit 0 of the state
 * is the documented "has waiters" bit, set by a requester that decided to
 * wait instead of backing off.  Polls with sched_yield(), gives up after
 * 10 s so a broken lock fails the test instead of hanging it.
 */
static bool wait_for_waiter(struct dmabuf_ww_mutex *lock)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!(atomic_load(&lock->state) & 1)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 10)
			return false;
		sched_yield();
	}
	return true;
}

static void test_plain(void)
{
	struct dmabuf_ww_mutex lock;

	dmabuf_ww_mutex_init(&lock, &test_class);
	ok(!dmabuf_ww_mutex_is_locked(&lock), "a new lock is unlocked");
	is_int(dmabuf_ww_mutex_lock(&lock, NULL), 0, "plain lock");
	ok(dmabuf_ww_mutex_is_locked(&lock), "locked after lock");
	ok(!dmabuf_ww_mutex_trylock(&lock, NULL), "trylock of a held lock fails");
	dmabuf_ww_mutex_unlock(&lock);
	ok(!dmabuf_ww_mutex_is_locked(&lock), "unlocked after unlock");
	ok(dmabuf_ww_mutex_trylock(&lock, NULL), "trylock of a free lock succeeds");
	ok(dmabuf_ww_mutex_is_locked(&lock), "locked after trylock");
	dmabuf_ww_mutex_unlock(&lock);
	dmabuf_ww_mutex_unlock(&lock);
	ok(!dmabuf_ww_mutex_is_locked(&lock), "unlocking a free lock is a no-op");
	is_int(dmabuf_ww_mutex_lock(&lock, NULL), 0, "lock works after it");
	dmabuf_ww_mutex_unlock(&lock);
	dmabuf_ww_mutex_destroy(&lock);

	struct dmabuf_ww_mutex st = DMABUF_WW_MUTEX_INIT(&test_class);
	ok(dmabuf_ww_mutex_trylock(&st, NULL), "static initializer gives a free lock");
	dmabuf_ww_mutex_unlock(&st);
}

static void test_ctx_counting(void)
{
	struct dmabuf_ww_mutex l[3];
	struct dmabuf_ww_acquire_ctx a, b;

	for (int i = 0; i < 3; i++)
		dmabuf_ww_mutex_init(&l[i], &test_class);
	dmabuf_ww_acquire_init(&a, &test_class);
	dmabuf_ww_acquire_init(&b, &test_class);
	ok(b.stamp > a.stamp, "a later context is younger (larger stamp)");
	is_int(a.acquired, 0, "a new context holds nothing");

	is_int(dmabuf_ww_mutex_lock(&l[0], &a), 0, "lock with ctx");
	is_int(dmabuf_ww_mutex_lock(&l[1], &a), 0, "second lock with ctx");
	ok(dmabuf_ww_mutex_trylock(&l[2], &a), "trylock with ctx");
	is_int(a.acquired, 3, "acquired counts every lock");
	is_int(dmabuf_ww_mutex_lock(&l[1], &a), -EALREADY,
	       "locking a lock the ctx holds: -EALREADY");
	ok(!dmabuf_ww_mutex_trylock(&l[1], &a), "trylock of a lock the ctx holds fails");
	is_int(a.acquired, 3, "failed attempts count nothing");
	dmabuf_ww_acquire_done(&a);
	dmabuf_ww_mutex_unlock(&l[1]);
	is_int(a.acquired, 2, "unlock after done uncounts");
	dmabuf_ww_mutex_unlock(&l[0]);
	dmabuf_ww_mutex_unlock(&l[2]);
	is_int(a.acquired, 0, "all unlocked");
	for (int i = 0; i < 3; i++)
		ok(!dmabuf_ww_mutex_is_locked(&l[i]), "lock %d free again", i);
	dmabuf_ww_acquire_fini(&a);
	dmabuf_ww_acquire_fini(&b);
}

static void test_die(void)
{
	struct dmabuf_ww_mutex l1, l2;
	struct dmabuf_ww_acquire_ctx old, young;

	dmabuf_ww_mutex_init(&l1, &test_class);
	dmabuf_ww_mutex_init(&l2, &test_class);
	dmabuf_ww_acquire_init(&old, &test_class);
	dmabuf_ww_acquire_init(&young, &test_class);

	is_int(dmabuf_ww_mutex_lock(&l1, &old), 0, "old ctx locks l1");
	is_int(dmabuf_ww_mutex_lock(&l2, &young), 0, "young ctx locks l2");
	is_int(dmabuf_ww_mutex_lock(&l1, &young), -EDEADLK,
	       "young ctx holding a lock must back off from old's lock");
	is_int(young.acquired, 1, "backing off counts nothing");
	ok(dmabuf_ww_mutex_is_locked(&l1), "l1 still held by the old ctx");
	is_int(old.acquired, 1, "old ctx unaffected");

	dmabuf_ww_mutex_unlock(&l2);
	dmabuf_ww_mutex_unlock(&l1);
	dmabuf_ww_mutex_lock_slow(&l1, &young);
	is_int(young.acquired, 1, "slow path on a free lock takes it");
	is_int(dmabuf_ww_mutex_lock(&l2, &young), 0, "then the rest");
	dmabuf_ww_mutex_unlock(&l1);
	dmabuf_ww_mutex_unlock(&l2);
	dmabuf_ww_acquire_fini(&old);
	dmabuf_ww_acquire_fini(&young);
}

/*
 * Stamps are compared as 32-bit numbers with wrap-around, and the values
 * the lock word reserves (0: free, 0xffffffff: no context) are never
 * handed out.
 */
static void test_stamp_wrap(void)
{
	struct dmabuf_ww_class cls = DMABUF_WW_CLASS_INIT("wrap");
	struct dmabuf_ww_mutex l1, l2;
	struct dmabuf_ww_acquire_ctx old, young;

	atomic_store(&cls.stamp, 0xfffffffeull);
	dmabuf_ww_mutex_init(&l1, &cls);
	dmabuf_ww_mutex_init(&l2, &cls);
	dmabuf_ww_acquire_init(&old, &cls);
	dmabuf_ww_acquire_init(&young, &cls);
	is_int(old.stamp, 0xfffffffeull, "wrap: first stamp");
	is_int(young.stamp, 0x100000001ull, "wrap: reserved stamps skipped");
	is_int(dmabuf_ww_mutex_lock(&l1, &old), 0, "wrap: old locks l1");
	is_int(dmabuf_ww_mutex_lock(&l2, &young), 0, "wrap: young locks l2");
	is_int(dmabuf_ww_mutex_lock(&l1, &young), -EDEADLK,
	       "wrap: young is still younger across the 32-bit wrap");
	dmabuf_ww_mutex_unlock(&l1);
	dmabuf_ww_mutex_unlock(&l2);
	dmabuf_ww_acquire_fini(&old);
	dmabuf_ww_acquire_fini(&young);
}

static void test_bad_args(void)
{
	struct dmabuf_ww_mutex lock, noclass;
	struct dmabuf_ww_acquire_ctx ctx, other, nullclass;

	dmabuf_ww_mutex_init(&lock, &test_class);
	dmabuf_ww_mutex_init(&noclass, NULL);
	dmabuf_ww_acquire_init(&ctx, &test_class);
	dmabuf_ww_acquire_init(&other, &other_class);
	dmabuf_ww_acquire_init(&nullclass, NULL);

	is_int(dmabuf_ww_mutex_lock(NULL, NULL), -EINVAL, "NULL lock");
	is_int(dmabuf_ww_mutex_lock(NULL, &ctx), -EINVAL, "NULL lock with ctx");
	is_int(dmabuf_ww_mutex_lock(&lock, &other), -EINVAL,
	       "ctx of another class");
	is_int(dmabuf_ww_mutex_lock(&lock, &nullclass), -EINVAL,
	       "ctx without class");
	is_int(dmabuf_ww_mutex_lock(&noclass, &ctx), -EINVAL,
	       "ctx on a lock without class");
	ok(!dmabuf_ww_mutex_trylock(&lock, &other), "trylock with a foreign ctx fails");
	ok(!dmabuf_ww_mutex_trylock(NULL, NULL), "trylock NULL fails");
	ok(!dmabuf_ww_mutex_is_locked(&lock), "rejected calls left the lock free");
	is_int(other.acquired, 0, "and counted nothing");

	is_int(dmabuf_ww_mutex_lock(&noclass, NULL), 0,
	       "a lock without class works as a plain mutex");
	dmabuf_ww_mutex_unlock(&noclass);

	dmabuf_ww_acquire_done(&ctx);
	is_int(dmabuf_ww_mutex_lock(&lock, &ctx), -EINVAL,
	       "lock after acquire_done");
	ok(!dmabuf_ww_mutex_trylock(&lock, &ctx), "trylock after acquire_done fails");
	dmabuf_ww_mutex_lock_slow(&lock, &ctx);
	ok(!dmabuf_ww_mutex_is_locked(&lock), "lock_slow after done does nothing");
	dmabuf_ww_acquire_fini(&ctx);
	is_int(dmabuf_ww_mutex_lock(&lock, &ctx), -EINVAL, "lock after fini");

	dmabuf_ww_mutex_lock_slow(NULL, NULL);
	dmabuf_ww_mutex_unlock(NULL);
	dmabuf_ww_mutex_init(NULL, &test_class);
	dmabuf_ww_mutex_destroy(NULL);
	dmabuf_ww_acquire_init(NULL, &test_class);
	dmabuf_ww_acquire_done(NULL);
	dmabuf_ww_acquire_fini(NULL);
	ok(!dmabuf_ww_mutex_is_locked(NULL), "NULL is not locked; NULL calls are no-ops");
	dmabuf_ww_acquire_fini(&other);
	dmabuf_ww_acquire_fini(&nullclass);
}

/*
 * A holder thread takes @l1 (with @holder_ctx or none), then a waiter
 * thread (with @waiter_ctx, first taking @l2 if @waiter_holds) locks @l1.
 * The waiter must wait, not back off: it decides to wait (sets the waiters
 * bit) while the holder still holds @l1, gets 0 and finds the holder gone.
 */
struct wait_case {
	struct dmabuf_ww_mutex l1, l2;
	struct dmabuf_ww_acquire_ctx *holder_ctx, *waiter_ctx;
	bool waiter_holds;
	struct stage stage;	/* 1 held, 2 release, 3 released */
	int waiter_ret;
	int waiter_acquired;
	bool waiter_saw_release;
	bool waiter_returned_early;
};

enum { HELD = 1, RELEASE = 2, RELEASED = 3, WAITER_DONE = 4 };

static void *holder_thread(void *arg)
{
	struct wait_case *wc = arg;

	if (dmabuf_ww_mutex_lock(&wc->l1, wc->holder_ctx))
		return NULL;
	stage_set(&wc->stage, HELD);
	stage_wait(&wc->stage, RELEASE);
	stage_set(&wc->stage, RELEASED);
	dmabuf_ww_mutex_unlock(&wc->l1);
	return NULL;
}

static void *waiter_thread(void *arg)
{
	struct wait_case *wc = arg;

	stage_wait(&wc->stage, HELD);
	if (wc->waiter_holds)
		dmabuf_ww_mutex_lock(&wc->l2, wc->waiter_ctx);
	wc->waiter_ret = dmabuf_ww_mutex_lock(&wc->l1, wc->waiter_ctx);
	wc->waiter_saw_release = stage_get(&wc->stage) >= RELEASED;
	wc->waiter_acquired = wc->waiter_ctx ? (int)wc->waiter_ctx->acquired : -1;
	if (!wc->waiter_ret)
		dmabuf_ww_mutex_unlock(&wc->l1);
	if (wc->waiter_holds)
		dmabuf_ww_mutex_unlock(&wc->l2);
	return NULL;
}

static void run_wait_case(const char *what, struct dmabuf_ww_acquire_ctx *holder,
			  struct dmabuf_ww_acquire_ctx *waiter, bool waiter_holds)
{
	struct wait_case wc = {
		.holder_ctx = holder,
		.waiter_ctx = waiter,
		.waiter_holds = waiter_holds,
	};
	pthread_t th, tw;
	bool waited;

	dmabuf_ww_mutex_init(&wc.l1, &test_class);
	dmabuf_ww_mutex_init(&wc.l2, &test_class);
	stage_init(&wc.stage);
	pthread_create(&th, NULL, holder_thread, &wc);
	pthread_create(&tw, NULL, waiter_thread, &wc);
	stage_wait(&wc.stage, HELD);
	waited = wait_for_waiter(&wc.l1);
	stage_set(&wc.stage, RELEASE);
	pthread_join(th, NULL);
	pthread_join(tw, NULL);

	ok(waited, "%s: the requester waits for the holder", what);
	is_int(wc.waiter_ret, 0, "%s: and then gets the lock", what);
	ok(wc.waiter_saw_release, "%s: only after the holder released it", what);
	if (waiter)
		is_int(wc.waiter_acquired, waiter_holds ? 2 : 1,
		       "%s: counted in the waiter's ctx", what);
	ok(!dmabuf_ww_mutex_is_locked(&wc.l1) && !dmabuf_ww_mutex_is_locked(&wc.l2),
	   "%s: everything released", what);
}

static void test_waits(void)
{
	struct dmabuf_ww_acquire_ctx a, b;

	dmabuf_ww_acquire_init(&a, &test_class);
	dmabuf_ww_acquire_init(&b, &test_class);
	run_wait_case("older ctx holding a lock vs younger holder", &b, &a, true);
	run_wait_case("younger ctx holding nothing vs older holder", &a, &b, false);
	run_wait_case("younger ctx holding a lock vs holder without ctx", NULL, &b, true);
	run_wait_case("no ctx vs ctx holder", &a, NULL, false);
	run_wait_case("no ctx vs no ctx", NULL, NULL, false);
	dmabuf_ww_acquire_fini(&a);
	dmabuf_ww_acquire_fini(&b);
}

/*
 * The back-off protocol across threads: the young ctx holds l2 and dies on
 * l1 (held by the old ctx), drops l2 and sleeps in lock_slow on l1; the old
 * ctx can now take l2, releases both, and the young ctx wakes owning l1.
 */
struct slow_case {
	struct dmabuf_ww_mutex l1, l2;
	struct dmabuf_ww_acquire_ctx old, young;
	struct stage stage;
	int die_ret, old_l2_ret, young_l2_ret;
	unsigned int young_acquired;
	bool young_saw_release;
};

static void *slow_old_thread(void *arg)
{
	struct slow_case *sc = arg;

	dmabuf_ww_mutex_lock(&sc->l1, &sc->old);
	stage_set(&sc->stage, HELD);
	stage_wait(&sc->stage, RELEASE);
	sc->old_l2_ret = dmabuf_ww_mutex_lock(&sc->l2, &sc->old);
	stage_set(&sc->stage, RELEASED);
	if (!sc->old_l2_ret)
		dmabuf_ww_mutex_unlock(&sc->l2);
	dmabuf_ww_mutex_unlock(&sc->l1);
	return NULL;
}

static void *slow_young_thread(void *arg)
{
	struct slow_case *sc = arg;

	stage_wait(&sc->stage, HELD);
	dmabuf_ww_mutex_lock(&sc->l2, &sc->young);
	sc->die_ret = dmabuf_ww_mutex_lock(&sc->l1, &sc->young);
	if (sc->die_ret != -EDEADLK)
		return NULL;
	dmabuf_ww_mutex_unlock(&sc->l2);
	dmabuf_ww_mutex_lock_slow(&sc->l1, &sc->young);
	sc->young_saw_release = stage_get(&sc->stage) >= RELEASED;
	sc->young_l2_ret = dmabuf_ww_mutex_lock(&sc->l2, &sc->young);
	sc->young_acquired = sc->young.acquired;
	dmabuf_ww_mutex_unlock(&sc->l2);
	dmabuf_ww_mutex_unlock(&sc->l1);
	return NULL;
}

static void test_slow_path(void)
{
	struct slow_case sc = { .die_ret = 1 };
	pthread_t to, ty;
	bool waited;

	dmabuf_ww_mutex_init(&sc.l1, &test_class);
	dmabuf_ww_mutex_init(&sc.l2, &test_class);
	dmabuf_ww_acquire_init(&sc.old, &test_class);
	dmabuf_ww_acquire_init(&sc.young, &test_class);
	stage_init(&sc.stage);
	pthread_create(&to, NULL, slow_old_thread, &sc);
	pthread_create(&ty, NULL, slow_young_thread, &sc);
	stage_wait(&sc.stage, HELD);
	waited = wait_for_waiter(&sc.l1);
	stage_set(&sc.stage, RELEASE);
	pthread_join(to, NULL);
	pthread_join(ty, NULL);

	is_int(sc.die_ret, -EDEADLK, "slow: the young ctx backs off");
	ok(waited, "slow: lock_slow waits for the holder");
	is_int(sc.old_l2_ret, 0, "slow: the old ctx gets the lock the young one dropped");
	ok(sc.young_saw_release, "slow: lock_slow returns after the release");
	is_int(sc.young_l2_ret, 0, "slow: the young ctx then takes the rest");
	is_int(sc.young_acquired, 2, "slow: and holds both");
	is_int(sc.old.acquired + sc.young.acquired, 0, "slow: all released");
	dmabuf_ww_acquire_fini(&sc.old);
	dmabuf_ww_acquire_fini(&sc.young);
}

int main(void)
{
	test_plain();
	test_ctx_counting();
	test_die();
	test_stamp_wrap();
	test_bad_args();
	test_waits();
	test_slow_path();
	return tap_done();
}

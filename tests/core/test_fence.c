// SPDX-License-Identifier: MIT
/*
 * test_fence.c - unit tests of the fence object (include/dmabuf/fence.h).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <dmabuf/fence.h>

#include "tap.h"

#define MS (1000000LL)

/* A handshake a driver op can use to tell a test thread it was called. */
struct handshake {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int enabled;
};

/* A fence with instrumented ops. */
struct mock_fence {
	struct dmabuf_fence base;
	atomic_int enable_calls;
	bool enable_result;
	atomic_bool hw_done;
	atomic_int signaled_calls;
	int deadline_calls;
	int64_t deadline_ns;
	int *release_calls;
	int *release_unless_zero;	/* get_unless_zero() result in release */
	struct handshake *hs;
};

static struct mock_fence *to_mock(struct dmabuf_fence *fence)
{
	return dmabuf_container_of(fence, struct mock_fence, base);
}

static const char *mock_driver_name(struct dmabuf_fence *fence)
{
	return "mock";
}

static const char *mock_timeline_name(struct dmabuf_fence *fence)
{
	return "mock-timeline";
}

static bool mock_enable_signaling(struct dmabuf_fence *fence)
{
	struct mock_fence *m = to_mock(fence);

	atomic_fetch_add(&m->enable_calls, 1);
	if (m->hs) {
		pthread_mutex_lock(&m->hs->lock);
		m->hs->enabled++;
		pthread_cond_broadcast(&m->hs->cond);
		pthread_mutex_unlock(&m->hs->lock);
	}
	return m->enable_result;
}

static bool mock_signaled(struct dmabuf_fence *fence)
{
	struct mock_fence *m = to_mock(fence);

	atomic_fetch_add(&m->signaled_calls, 1);
	return atomic_load(&m->hw_done);
}

static void mock_release(struct dmabuf_fence *fence)
{
	struct mock_fence *m = to_mock(fence);

	if (m->release_calls)
		(*m->release_calls)++;
	if (m->release_unless_zero)
		*m->release_unless_zero = dmabuf_fence_get_unless_zero(fence);
	free(m);
}

static void mock_set_deadline(struct dmabuf_fence *fence, int64_t deadline_ns)
{
	struct mock_fence *m = to_mock(fence);

	m->deadline_calls++;
	m->deadline_ns = deadline_ns;
}

static const struct dmabuf_fence_ops mock_ops = {
	.get_driver_name = mock_driver_name,
	.get_timeline_name = mock_timeline_name,
	.enable_signaling = mock_enable_signaling,
	.signaled = mock_signaled,
	.release = mock_release,
	.set_deadline = mock_set_deadline,
};

static const struct dmabuf_fence_ops mock_ops_64 = {
	.get_driver_name = mock_driver_name,
	.get_timeline_name = mock_timeline_name,
	.enable_signaling = mock_enable_signaling,
	.signaled = mock_signaled,
	.release = mock_release,
	.set_deadline = mock_set_deadline,
	.use_64bit_seqno = true,
};

/* Only the required ops: default release (free()), no optional hooks. */
static const struct dmabuf_fence_ops plain_ops = {
	.get_driver_name = mock_driver_name,
	.get_timeline_name = mock_timeline_name,
};

static struct mock_fence *mock_new_full(const struct dmabuf_fence_ops *ops,
					pthread_mutex_t *lock, uint64_t seqno,
					int *release_calls)
{
	struct mock_fence *m = calloc(1, sizeof(*m));

	if (!m)
		bail_out("out of memory");
	m->enable_result = true;
	m->release_calls = release_calls;
	if (dmabuf_fence_init(&m->base, ops, lock,
			      dmabuf_fence_context_alloc(1), seqno))
		bail_out("dmabuf_fence_init failed");
	return m;
}

/* A mutex that reports relocking instead of deadlocking. */
static void errorcheck_mutex_init(pthread_mutex_t *lock)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(lock, &attr);
	pthread_mutexattr_destroy(&attr);
}

static struct mock_fence *mock_new(void)
{
	return mock_new_full(&mock_ops, NULL, 1, NULL);
}

static void mock_put(struct mock_fence *m)
{
	dmabuf_fence_put(&m->base);
}

/* A callback that records the order in which callbacks ran. */
struct order_cb {
	struct dmabuf_fence_cb base;
	int id;
	int calls;
	struct dmabuf_fence *seen_fence;
	int lock_busy;		/* trylock result on the fence lock, inside */
	int *log;
	int *log_len;
};

static void order_cb_func(struct dmabuf_fence *fence, struct dmabuf_fence_cb *cb)
{
	struct order_cb *o = dmabuf_container_of(cb, struct order_cb, base);

	o->calls++;
	o->seen_fence = fence;
	if (o->log)
		o->log[(*o->log_len)++] = o->id;
}

/* Checks the fence lock is held while the callback runs. */
static void lock_check_cb_func(struct dmabuf_fence *fence,
			       struct dmabuf_fence_cb *cb)
{
	struct order_cb *o = dmabuf_container_of(cb, struct order_cb, base);

	o->calls++;
	o->lock_busy = pthread_mutex_trylock(fence->lock);
	if (!o->lock_busy)
		pthread_mutex_unlock(fence->lock);
}

static void test_context_alloc(void)
{
	enum { N = 1000 };
	static uint64_t ctx[N];
	uint64_t a, b, first;
	bool nonzero = true, unique = true;

	a = dmabuf_fence_context_alloc(1);
	b = dmabuf_fence_context_alloc(1);
	ok(a != 0 && b != 0, "context_alloc: contexts are nonzero");
	ok(a != b, "context_alloc: two calls give different contexts");

	first = dmabuf_fence_context_alloc(4);
	b = dmabuf_fence_context_alloc(1);
	ok(first != 0, "context_alloc(4): nonzero first context");
	ok(b < first || b > first + 3,
	   "context_alloc(4): the next context is outside the reserved range");

	for (int i = 0; i < N; i++) {
		ctx[i] = dmabuf_fence_context_alloc(1);
		if (!ctx[i] || (ctx[i] >= first && ctx[i] <= first + 3))
			nonzero = false;
	}
	for (int i = 0; i < N && unique; i++)
		for (int j = i + 1; j < N; j++)
			if (ctx[i] == ctx[j] || ctx[i] == a || ctx[i] == b) {
				unique = false;
				break;
			}
	ok(nonzero, "context_alloc: %d more contexts are nonzero and not in a reserved range", N);
	ok(unique, "context_alloc: %d contexts are all distinct", N);
}

static void test_init(void)
{
	static const struct dmabuf_fence_ops no_driver = {
		.get_timeline_name = mock_timeline_name,
	};
	static const struct dmabuf_fence_ops no_timeline = {
		.get_driver_name = mock_driver_name,
	};
	struct dmabuf_fence f, pattern;
	pthread_mutex_t shared = PTHREAD_MUTEX_INITIALIZER;
	struct mock_fence *m;
	uint64_t ctx = dmabuf_fence_context_alloc(1);

	is_int(dmabuf_fence_init(NULL, &plain_ops, NULL, ctx, 1), -EINVAL,
	       "init: NULL fence -> -EINVAL");
	memset(&f, 0xa5, sizeof(f));
	memcpy(&pattern, &f, sizeof(f));
	is_int(dmabuf_fence_init(&f, NULL, NULL, ctx, 1), -EINVAL,
	       "init: NULL ops -> -EINVAL");
	is_int(dmabuf_fence_init(&f, &no_driver, NULL, ctx, 1), -EINVAL,
	       "init: ops without get_driver_name -> -EINVAL");
	is_int(dmabuf_fence_init(&f, &no_timeline, NULL, ctx, 1), -EINVAL,
	       "init: ops without get_timeline_name -> -EINVAL");
	ok(!memcmp(&f, &pattern, sizeof(f)), "init: failed init leaves the storage alone");

	m = mock_new_full(&mock_ops, NULL, 42, NULL);
	ok(m->base.ops == &mock_ops, "init: ops stored");
	is_int(m->base.seqno, 42, "init: seqno stored");
	ok(m->base.context != 0, "init: context stored");
	ok(m->base.lock == &m->base.own_lock, "init: NULL lock -> own lock");
	is_int(atomic_load(&m->base.refcount), 1, "init: one reference");
	ok(!dmabuf_fence_is_signaled(&m->base), "init: fence starts pending");
	is_int(dmabuf_fence_get_status(&m->base), 0, "init: status 0 while pending");
	is_int(dmabuf_fence_get_timestamp(&m->base), 0, "init: timestamp 0 while pending");
	is_int(m->base.error, 0, "init: no error");
	is_str(dmabuf_fence_driver_name(&m->base), "mock", "driver_name from ops");
	is_str(dmabuf_fence_timeline_name(&m->base), "mock-timeline",
	       "timeline_name from ops");
	mock_put(m);

	m = mock_new_full(&mock_ops, &shared, 7, NULL);
	ok(m->base.lock == &shared, "init: shared lock used");
	ok(m->base.context != 0 && m->base.seqno == 7,
	   "init with shared lock: context/seqno stored");
	mock_put(m);
}

static void test_refcount(void)
{
	int released = 0;
	struct mock_fence *m = mock_new_full(&mock_ops, NULL, 1, &released);
	struct dmabuf_fence *f = &m->base;

	ok(dmabuf_fence_get(f) == f, "get returns the fence");
	ok(dmabuf_fence_get(f) == f, "get again");
	is_int(atomic_load(&f->refcount), 3, "two gets -> three references");
	ok(dmabuf_fence_get(NULL) == NULL, "get(NULL) -> NULL");
	dmabuf_fence_put(NULL);
	ok(1, "put(NULL) is a no-op");
	dmabuf_fence_put(f);
	dmabuf_fence_put(f);
	is_int(released, 0, "release not called while a reference is left");
	is_int(atomic_load(&f->refcount), 1, "one reference left");
	dmabuf_fence_put(f);
	is_int(released, 1, "last put calls ops->release exactly once");
}

static void test_get_unless_zero(void)
{
	int released = 0, in_release = -1;
	struct mock_fence *m = mock_new_full(&mock_ops, NULL, 1, &released);

	m->release_unless_zero = &in_release;
	ok(!dmabuf_fence_get_unless_zero(NULL), "get_unless_zero(NULL) -> false");
	ok(dmabuf_fence_get_unless_zero(&m->base), "get_unless_zero on a live fence -> true");
	is_int(atomic_load(&m->base.refcount), 2, "and it took a reference");
	mock_put(m);
	is_int(released, 0, "that reference keeps the fence alive");
	mock_put(m);
	is_int(released, 1, "released once");
	is_int(in_release, 0, "get_unless_zero during release (count 0) -> false");
}

/* Default release: free() on the fence pointer (leaks/double frees show under ASan). */
static void test_default_release(void)
{
	struct dmabuf_fence *f = malloc(sizeof(*f));

	if (!f)
		bail_out("out of memory");
	is_int(dmabuf_fence_init(f, &plain_ops, NULL,
				 dmabuf_fence_context_alloc(1), 1), 0,
	       "init with minimal ops");
	dmabuf_fence_get(f);
	dmabuf_fence_put(f);
	is_int(dmabuf_fence_signal(f), 0, "fence with minimal ops signals");
	ok(dmabuf_fence_is_signaled(f), "and is signaled (no signaled op needed)");
	dmabuf_fence_put(f);
	ok(1, "last put of a fence without release op frees it (checked by ASan)");
}

static void test_signal_once(void)
{
	pthread_mutex_t lock;
	struct mock_fence *m;
	struct dmabuf_fence *f;
	struct order_cb cb = { .id = 0 };
	int64_t ts;

	errorcheck_mutex_init(&lock);
	m = mock_new_full(&mock_ops, &lock, 1, NULL);
	f = &m->base;
	is_int(dmabuf_fence_add_callback(f, &cb.base, order_cb_func), 0,
	       "signal_once: add callback");
	is_int(dmabuf_fence_signal(f), 0, "first signal -> 0");
	ok(dmabuf_fence_is_signaled(f), "fence is signaled");
	ok(atomic_load(&f->flags) & (1UL << DMABUF_FENCE_FLAG_SIGNALED),
	   "SIGNALED flag set");
	ts = dmabuf_fence_get_timestamp(f);
	is_int(dmabuf_fence_signal(f), -EINVAL, "second signal -> -EINVAL");
	is_int(dmabuf_fence_signal_timestamp(f, ts + 1000), -EINVAL,
	       "signal_timestamp on signaled -> -EINVAL");
	pthread_mutex_lock(f->lock);
	is_int(dmabuf_fence_signal_locked(f), -EINVAL,
	       "signal_locked on signaled -> -EINVAL");
	is_int(pthread_mutex_unlock(f->lock), 0, "caller still holds the lock");
	is_int(dmabuf_fence_get_timestamp(f), ts, "failed signals keep the timestamp");
	is_int(cb.calls, 1, "callback ran once despite repeated signals");
	is_int(dmabuf_fence_get_status(f), 1, "status 1 after signal");
	mock_put(m);
	pthread_mutex_destroy(&lock);
}

static void test_timestamp(void)
{
	struct mock_fence *m = mock_new();
	struct dmabuf_fence *f = &m->base;
	int64_t before, after, ts;

	ok(!(atomic_load(&f->flags) & (1UL << DMABUF_FENCE_FLAG_TIMESTAMP)),
	   "TIMESTAMP flag clear while pending");
	before = dmabuf_now_ns();
	dmabuf_fence_signal(f);
	after = dmabuf_now_ns();
	ts = dmabuf_fence_get_timestamp(f);
	ok(before > 0 && before <= after, "dmabuf_now_ns is monotonic and positive");
	ok(ts >= before && ts <= after,
	   "signal timestamp lies between readings of dmabuf_now_ns (%lld in [%lld, %lld])",
	   (long long)ts, (long long)before, (long long)after);
	ok(atomic_load(&f->flags) & (1UL << DMABUF_FENCE_FLAG_TIMESTAMP),
	   "TIMESTAMP flag set after signal");
	is_int(f->timestamp_ns, ts, "timestamp_ns field matches");
	mock_put(m);

	m = mock_new();
	f = &m->base;
	ts = dmabuf_now_ns() - 12345;
	is_int(dmabuf_fence_signal_timestamp(f, ts), 0, "signal_timestamp -> 0");
	is_int(dmabuf_fence_get_timestamp(f), ts, "signal_timestamp records the given time");
	ok(dmabuf_fence_is_signaled(f), "signal_timestamp signals");
	mock_put(m);
}

/* Two fences on one timeline lock, signaled together under that lock. */
static void test_signal_locked(void)
{
	pthread_mutex_t tl_lock;
	struct mock_fence *a, *b;
	struct order_cb ca = { .id = 0 }, cbb = { .id = 1 };
	int log[2], log_len = 0;

	errorcheck_mutex_init(&tl_lock);
	a = mock_new_full(&mock_ops, &tl_lock, 1, NULL);
	b = mock_new_full(&mock_ops, &tl_lock, 2, NULL);
	ca.log = cbb.log = log;
	ca.log_len = cbb.log_len = &log_len;
	dmabuf_fence_add_callback(&a->base, &ca.base, order_cb_func);
	dmabuf_fence_add_callback(&b->base, &cbb.base, order_cb_func);

	pthread_mutex_lock(&tl_lock);
	is_int(dmabuf_fence_signal_locked(&a->base), 0, "signal_locked a -> 0");
	is_int(dmabuf_fence_signal_locked(&b->base), 0, "signal_locked b -> 0");
	is_int(log_len, 2, "both callbacks ran inside signal_locked");
	is_int(pthread_mutex_unlock(&tl_lock), 0,
	       "signal_locked neither took nor dropped the caller's lock");
	ok(dmabuf_fence_is_signaled(&a->base) && dmabuf_fence_is_signaled(&b->base),
	   "both fences on the timeline signaled");
	ok(dmabuf_fence_get_timestamp(&a->base) > 0, "signal_locked records a timestamp");
	ok(log[0] == 0 && log[1] == 1, "callbacks ran in signal order (a then b)");
	is_int(dmabuf_fence_signal_locked(NULL), -EINVAL, "signal_locked(NULL) -> -EINVAL");
	mock_put(a);
	mock_put(b);
	pthread_mutex_destroy(&tl_lock);
}

static void test_callbacks_under_lock(void)
{
	pthread_mutex_t lock;
	struct mock_fence *m;
	struct order_cb cb = { .lock_busy = -1 };

	errorcheck_mutex_init(&lock);
	m = mock_new_full(&mock_ops, &lock, 1, NULL);
	dmabuf_fence_add_callback(&m->base, &cb.base, lock_check_cb_func);
	dmabuf_fence_signal(&m->base);
	is_int(cb.calls, 1, "callback ran");
	is_int(cb.lock_busy, EBUSY, "callback runs with the fence lock held");
	is_int(pthread_mutex_trylock(&lock), 0, "lock released after signal");
	pthread_mutex_unlock(&lock);
	mock_put(m);
	pthread_mutex_destroy(&lock);
}

static void test_set_error(void)
{
	struct mock_fence *m = mock_new();
	struct dmabuf_fence *f = &m->base;
	static const int bad[] = { 0, 1, 4095, -4096, INT_MIN, INT_MAX };

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(dmabuf_fence_set_error(f, bad[i]), -EINVAL,
		       "set_error(%d) -> -EINVAL", bad[i]);
	is_int(f->error, 0, "bad errors are not recorded");
	is_int(dmabuf_fence_set_error(NULL, -EIO), -EINVAL, "set_error(NULL) -> -EINVAL");
	is_int(dmabuf_fence_set_error(f, -EIO), 0, "set_error(-EIO) before signal -> 0");
	is_int(dmabuf_fence_get_status(f), 0, "error does not show while pending");
	ok(!dmabuf_fence_is_signaled(f), "set_error does not signal");
	dmabuf_fence_signal(f);
	is_int(dmabuf_fence_get_status(f), -EIO, "status is the error after signal");
	is_int(dmabuf_fence_set_error(f, -ENOMEM), -EINVAL,
	       "set_error after signal -> -EINVAL");
	is_int(dmabuf_fence_get_status(f), -EIO, "late error not recorded");
	is_int(dmabuf_fence_wait_timeout(f, 0), 0, "wait on an error fence -> 0");
	mock_put(m);

	m = mock_new();
	is_int(dmabuf_fence_set_error(&m->base, -4095), 0, "set_error(-4095) accepted");
	dmabuf_fence_signal(&m->base);
	is_int(dmabuf_fence_get_status(&m->base), -4095, "status -4095");
	mock_put(m);

	m = mock_new();
	dmabuf_fence_set_error(&m->base, 7);
	dmabuf_fence_signal(&m->base);
	is_int(dmabuf_fence_get_status(&m->base), 1,
	       "a rejected error leaves status 1 after signal");
	mock_put(m);
}

static void test_callback_order(void)
{
	struct mock_fence *m = mock_new();
	struct dmabuf_fence *f = &m->base;
	struct order_cb cbs[3];
	int log[8], log_len = 0;
	bool once = true, right = true;

	for (int i = 0; i < 3; i++) {
		cbs[i] = (struct order_cb){ .id = i, .log = log, .log_len = &log_len };
		is_int(dmabuf_fence_add_callback(f, &cbs[i].base, order_cb_func), 0,
		       "add callback %d -> 0", i);
	}
	is_int(log_len, 0, "no callback runs before signal");
	dmabuf_fence_signal(f);
	is_int(log_len, 3, "three callbacks ran at signal");
	for (int i = 0; i < 3; i++) {
		once &= cbs[i].calls == 1;
		right &= cbs[i].seen_fence == f;
	}
	ok(once, "each callback ran exactly once");
	ok(right, "each callback got the signaled fence");
	ok(log[0] == 0 && log[1] == 1 && log[2] == 2, "callbacks ran in add order");
	ok(dmabuf_list_empty(&f->cb_list), "callback list empty after signal");
	dmabuf_fence_signal(f);
	is_int(log_len, 3, "callbacks do not run again");
	for (int i = 0; i < 3; i++)
		ok(!dmabuf_fence_remove_callback(f, &cbs[i].base),
		   "remove callback %d after it ran -> false", i);
	mock_put(m);
}

static void test_add_callback_signaled(void)
{
	struct mock_fence *m = mock_new();
	struct dmabuf_fence *f = &m->base;
	struct order_cb cb = { .id = 0 };

	dmabuf_fence_signal(f);
	memset(&cb.base, 0x5a, sizeof(cb.base));
	is_int(dmabuf_fence_add_callback(f, &cb.base, order_cb_func), -ENOENT,
	       "add_callback on signaled fence -> -ENOENT");
	ok(cb.base.node.next == &cb.base.node, "cb left unlinked after -ENOENT");
	ok(!dmabuf_fence_remove_callback(f, &cb.base),
	   "remove of the refused callback -> false");
	dmabuf_fence_signal(f);
	is_int(cb.calls, 0, "refused callback never runs");

	is_int(dmabuf_fence_add_callback(NULL, &cb.base, order_cb_func), -EINVAL,
	       "add_callback(NULL fence) -> -EINVAL");
	is_int(dmabuf_fence_add_callback(f, NULL, order_cb_func), -EINVAL,
	       "add_callback(NULL cb) -> -EINVAL");
	is_int(dmabuf_fence_add_callback(f, &cb.base, NULL), -EINVAL,
	       "add_callback(NULL func) -> -EINVAL");
	mock_put(m);

	m = mock_new();
	is_int(dmabuf_fence_add_callback(&m->base, &cb.base, NULL), -EINVAL,
	       "add_callback(NULL func) on a pending fence -> -EINVAL");
	ok(dmabuf_list_empty(&m->base.cb_list), "nothing was added");
	is_int(atomic_load(&m->enable_calls), 0, "and signaling was not enabled");
	mock_put(m);
}

static void test_remove_callback(void)
{
	struct mock_fence *m = mock_new();
	struct dmabuf_fence *f = &m->base;
	struct order_cb cbs[3];
	struct dmabuf_fence_cb never = { 0 };
	int log[8], log_len = 0;

	for (int i = 0; i < 3; i++) {
		cbs[i] = (struct order_cb){ .id = i, .log = log, .log_len = &log_len };
		dmabuf_fence_add_callback(f, &cbs[i].base, order_cb_func);
	}
	ok(dmabuf_fence_remove_callback(f, &cbs[1].base), "remove pending callback -> true");
	ok(!dmabuf_fence_remove_callback(f, &cbs[1].base), "remove it again -> false");
	ok(!dmabuf_fence_remove_callback(f, &never), "remove a never-added (zeroed) cb -> false");
	ok(!dmabuf_fence_remove_callback(NULL, &cbs[0].base), "remove_callback(NULL fence) -> false");
	ok(!dmabuf_fence_remove_callback(f, NULL), "remove_callback(NULL cb) -> false");
	dmabuf_fence_signal(f);
	is_int(cbs[1].calls, 0, "removed callback never runs");
	is_int(log_len, 2, "the other two ran");
	ok(log[0] == 0 && log[1] == 2, "the others ran in add order");
	ok(!dmabuf_fence_remove_callback(f, &cbs[0].base), "remove after run -> false");

	/* A removed callback can be added again. */
	mock_put(m);
	m = mock_new();
	log_len = 0;
	dmabuf_fence_add_callback(&m->base, &cbs[1].base, order_cb_func);
	dmabuf_fence_remove_callback(&m->base, &cbs[1].base);
	is_int(dmabuf_fence_add_callback(&m->base, &cbs[1].base, order_cb_func), 0,
	       "re-add a removed callback -> 0");
	dmabuf_fence_signal(&m->base);
	is_int(log_len, 1, "re-added callback ran once");
	mock_put(m);
}

static void test_enable_signaling(void)
{
	struct mock_fence *m = mock_new();
	struct dmabuf_fence *f = &m->base;
	struct order_cb c1 = { 0 }, c2 = { 0 };

	dmabuf_fence_is_signaled(f);
	dmabuf_fence_get_status(f);
	dmabuf_fence_get_timestamp(f);
	dmabuf_fence_set_deadline(f, dmabuf_now_ns());
	dmabuf_fence_set_error(f, -EIO);
	is_int(atomic_load(&m->enable_calls), 0,
	       "enable_signaling not called by queries, set_deadline or set_error");
	ok(!(atomic_load(&f->flags) & (1UL << DMABUF_FENCE_FLAG_ENABLE_SIGNAL)),
	   "ENABLE_SIGNAL flag clear");
	dmabuf_fence_add_callback(f, &c1.base, order_cb_func);
	is_int(atomic_load(&m->enable_calls), 1, "first add_callback enables signaling");
	ok(atomic_load(&f->flags) & (1UL << DMABUF_FENCE_FLAG_ENABLE_SIGNAL),
	   "ENABLE_SIGNAL flag set");
	dmabuf_fence_add_callback(f, &c2.base, order_cb_func);
	dmabuf_fence_enable_signaling(f);
	is_int(dmabuf_fence_wait_timeout(f, 1 * MS), -ETIME, "wait times out");
	is_int(atomic_load(&m->enable_calls), 1,
	       "second add, explicit enable and a waiter do not call it again");
	dmabuf_fence_signal(f);
	mock_put(m);

	m = mock_new();
	dmabuf_fence_enable_signaling(&m->base);
	is_int(atomic_load(&m->enable_calls), 1, "explicit enable_signaling calls the op");
	dmabuf_fence_enable_signaling(&m->base);
	is_int(atomic_load(&m->enable_calls), 1, "explicit enable_signaling twice: once");
	ok(!dmabuf_fence_is_signaled(&m->base), "op returned true: still pending");
	dmabuf_fence_enable_signaling(NULL);
	ok(1, "enable_signaling(NULL) is a no-op");
	mock_put(m);

	m = mock_new();
	is_int(dmabuf_fence_wait_timeout(&m->base, 1 * MS), -ETIME,
	       "a waiter with a timeout times out");
	is_int(atomic_load(&m->enable_calls), 1, "a waiter enables signaling");
	mock_put(m);

	m = mock_new();
	is_int(dmabuf_fence_wait_timeout(&m->base, 0), -ETIME,
	       "a zero-timeout wait on a pending fence times out");
	is_int(atomic_load(&m->enable_calls), 1,
	       "a zero-timeout wait enables signaling too (as the kernel's wait does)");
	mock_put(m);

	m = mock_new();
	dmabuf_fence_signal(&m->base);
	dmabuf_fence_add_callback(&m->base, &c1.base, order_cb_func);
	dmabuf_fence_enable_signaling(&m->base);
	dmabuf_fence_wait_timeout(&m->base, 1 * MS);
	is_int(atomic_load(&m->enable_calls), 0,
	       "enable_signaling never called on an already signaled fence");
	mock_put(m);
}

static void test_enable_signaling_false(void)
{
	struct mock_fence *m = mock_new();
	struct order_cb cb = { 0 };
	int64_t before = dmabuf_now_ns();

	m->enable_result = false;
	is_int(dmabuf_fence_add_callback(&m->base, &cb.base, order_cb_func), -ENOENT,
	       "enable_signaling false: add_callback -> -ENOENT");
	ok(dmabuf_fence_is_signaled(&m->base), "enable_signaling false signals the fence");
	is_int(cb.calls, 0, "the refused callback did not run");
	is_int(dmabuf_fence_get_status(&m->base), 1, "status 1");
	ok(dmabuf_fence_get_timestamp(&m->base) >= before, "timestamp recorded");
	mock_put(m);

	m = mock_new();
	m->enable_result = false;
	dmabuf_fence_enable_signaling(&m->base);
	ok(dmabuf_fence_is_signaled(&m->base),
	   "explicit enable_signaling + false -> signaled");
	mock_put(m);

	m = mock_new();
	m->enable_result = false;
	is_int(dmabuf_fence_wait_timeout(&m->base, 10000 * MS), 0,
	       "waiter on a fence whose enable_signaling says done -> 0");
	is_int(atomic_load(&m->enable_calls), 1, "enable_signaling called once");
	mock_put(m);
}

static void test_signaled_op(void)
{
	struct mock_fence *m = mock_new();
	struct dmabuf_fence *f = &m->base;
	struct order_cb cb = { 0 }, late = { 0 };
	int polls;

	is_int(dmabuf_fence_add_callback(f, &cb.base, order_cb_func), 0, "add callback");
	ok(!dmabuf_fence_is_signaled(f), "signaled op false -> not signaled");
	ok(atomic_load(&m->signaled_calls) > 0, "is_signaled polled the signaled op");
	is_int(dmabuf_fence_wait_timeout(f, 0), -ETIME, "wait(0) while op says pending");
	atomic_store(&m->hw_done, true);
	polls = atomic_load(&m->signaled_calls);
	ok(dmabuf_fence_is_signaled(f), "signaled op true -> is_signaled true");
	ok(atomic_load(&m->signaled_calls) > polls, "the op was asked again");
	ok(atomic_load(&f->flags) & (1UL << DMABUF_FENCE_FLAG_SIGNALED),
	   "the core signaled the fence");
	is_int(cb.calls, 1, "pending callback ran when the poll signaled it");
	ok(dmabuf_fence_get_timestamp(f) > 0, "timestamp recorded");
	is_int(dmabuf_fence_signal(f), -EINVAL, "signal afterwards -> -EINVAL");
	mock_put(m);

	m = mock_new();
	atomic_store(&m->hw_done, true);
	is_int(dmabuf_fence_get_status(&m->base), 1, "get_status polls the op too");
	mock_put(m);

	m = mock_new();
	atomic_store(&m->hw_done, true);
	is_int(dmabuf_fence_add_callback(&m->base, &late.base, order_cb_func), -ENOENT,
	       "add_callback when the op says done -> -ENOENT");
	is_int(late.calls, 0, "and the callback does not run");
	mock_put(m);

	m = mock_new();
	atomic_store(&m->hw_done, true);
	is_int(dmabuf_fence_wait_timeout(&m->base, 0), 0, "wait(0) when the op says done -> 0");
	mock_put(m);
}

static void test_wait_timeout(void)
{
	struct mock_fence *m = mock_new();
	int64_t t0, t1;

	is_int(dmabuf_fence_wait_timeout(&m->base, 0), -ETIME,
	       "wait(0) on unsignaled -> -ETIME");
	t0 = dmabuf_now_ns();
	is_int(dmabuf_fence_wait_timeout(&m->base, 20 * MS), -ETIME,
	       "wait(20ms) on unsignaled -> -ETIME");
	t1 = dmabuf_now_ns();
	ok(t1 - t0 >= 20 * MS, "wait(20ms) took at least 20 ms (%lld ns)",
	   (long long)(t1 - t0));
	ok(!dmabuf_fence_is_signaled(&m->base), "timeout does not signal");
	ok(dmabuf_list_empty(&m->base.cb_list), "timed out wait left no callback behind");
	dmabuf_fence_signal(&m->base);
	is_int(dmabuf_fence_wait_timeout(&m->base, 0), 0, "wait(0) on signaled -> 0");
	is_int(dmabuf_fence_wait_timeout(&m->base, DMABUF_TIMEOUT_INFINITE), 0,
	       "wait(infinite) on signaled -> 0");
	is_int(dmabuf_fence_wait_timeout(NULL, 0), -EINVAL, "wait(NULL) -> -EINVAL");
	mock_put(m);
}

/* Thread that signals @fence once its enable_signaling op has run @need times. */
struct signaler {
	pthread_t thread;
	struct handshake *hs;
	int need;
	struct dmabuf_fence *fence;
	int error;
	int ret;
};

static void handshake_init(struct handshake *hs)
{
	pthread_mutex_init(&hs->lock, NULL);
	pthread_cond_init(&hs->cond, NULL);
	hs->enabled = 0;
}

static void handshake_destroy(struct handshake *hs)
{
	pthread_cond_destroy(&hs->cond);
	pthread_mutex_destroy(&hs->lock);
}

static void *signaler_main(void *arg)
{
	struct signaler *s = arg;

	pthread_mutex_lock(&s->hs->lock);
	while (s->hs->enabled < s->need)
		pthread_cond_wait(&s->hs->cond, &s->hs->lock);
	pthread_mutex_unlock(&s->hs->lock);
	if (s->error)
		dmabuf_fence_set_error(s->fence, s->error);
	s->ret = dmabuf_fence_signal(s->fence);
	return NULL;
}

static void signaler_start(struct signaler *s)
{
	if (pthread_create(&s->thread, NULL, signaler_main, s))
		bail_out("pthread_create failed");
}

static void test_wait_other_thread(void)
{
	struct handshake hs;
	struct mock_fence *m;
	struct signaler s = { .hs = &hs, .need = 1 };

	handshake_init(&hs);
	m = mock_new();
	m->hs = &hs;
	s.fence = &m->base;
	signaler_start(&s);
	is_int(dmabuf_fence_wait_timeout(&m->base, DMABUF_TIMEOUT_INFINITE), 0,
	       "wait(infinite) on a fence signaled by another thread -> 0");
	pthread_join(s.thread, NULL);
	is_int(s.ret, 0, "the other thread's signal returned 0");
	ok(dmabuf_fence_is_signaled(&m->base), "fence signaled after the wait");
	ok(dmabuf_list_empty(&m->base.cb_list), "wait left no callback behind");
	mock_put(m);

	/* Any negative timeout waits forever; the error is not a wait failure. */
	hs.enabled = 0;
	m = mock_new();
	m->hs = &hs;
	s = (struct signaler){ .hs = &hs, .need = 1, .fence = &m->base, .error = -EIO };
	signaler_start(&s);
	is_int(dmabuf_fence_wait_timeout(&m->base, -5), 0,
	       "wait(-5) waits until the other thread signals -> 0");
	pthread_join(s.thread, NULL);
	is_int(dmabuf_fence_get_status(&m->base), -EIO, "error set by the other thread shows");
	mock_put(m);

	/* A finite timeout long enough: signaled before it expires. */
	hs.enabled = 0;
	m = mock_new();
	m->hs = &hs;
	s = (struct signaler){ .hs = &hs, .need = 1, .fence = &m->base };
	signaler_start(&s);
	is_int(dmabuf_fence_wait_timeout(&m->base, 60000 * MS), 0,
	       "wait(60s) on a fence signaled by another thread -> 0");
	pthread_join(s.thread, NULL);
	mock_put(m);
	handshake_destroy(&hs);
}

static void test_wait_any_thread(unsigned int count, unsigned int which)
{
	struct handshake hs;
	struct mock_fence **m = calloc(count, sizeof(*m));
	struct dmabuf_fence **f = calloc(count, sizeof(*f));
	struct signaler s = { .hs = &hs, .need = (int)count };
	unsigned int idx = UINT_MAX;
	bool clean = true;

	if (!m || !f)
		bail_out("out of memory");
	handshake_init(&hs);
	for (unsigned int i = 0; i < count; i++) {
		m[i] = mock_new();
		m[i]->hs = &hs;
		f[i] = &m[i]->base;
	}
	s.fence = f[which];
	signaler_start(&s);
	is_int(dmabuf_fence_wait_any_timeout(f, count, DMABUF_TIMEOUT_INFINITE, &idx), 0,
	       "wait_any(%u fences) with fence %u signaled by a thread -> 0", count, which);
	pthread_join(s.thread, NULL);
	is_int(idx, which, "wait_any reports the index of the signaled fence");
	for (unsigned int i = 0; i < count; i++) {
		clean &= dmabuf_list_empty(&f[i]->cb_list);
		clean &= atomic_load(&m[i]->enable_calls) == 1;
	}
	ok(clean, "wait_any enabled each fence once and removed its callbacks");
	/* Signal the rest: a callback left behind would touch a dead stack (ASan). */
	for (unsigned int i = 0; i < count; i++) {
		if (i != which)
			dmabuf_fence_signal(f[i]);
		mock_put(m[i]);
	}
	handshake_destroy(&hs);
	free(m);
	free(f);
}

static void test_wait_any(void)
{
	struct mock_fence *m[3];
	struct dmabuf_fence *f[3];
	unsigned int idx = UINT_MAX;
	int64_t t0;

	for (int i = 0; i < 3; i++) {
		m[i] = mock_new();
		f[i] = &m[i]->base;
	}
	is_int(dmabuf_fence_wait_any_timeout(f, 3, 0, &idx), -ETIME,
	       "wait_any(0) none signaled -> -ETIME");
	t0 = dmabuf_now_ns();
	is_int(dmabuf_fence_wait_any_timeout(f, 3, 5 * MS, &idx), -ETIME,
	       "wait_any(5ms) none signaled -> -ETIME");
	ok(dmabuf_now_ns() - t0 >= 5 * MS, "wait_any(5ms) took at least 5 ms");
	dmabuf_fence_signal(f[2]);
	is_int(dmabuf_fence_wait_any_timeout(f, 3, 0, &idx), 0,
	       "wait_any(0) with one signaled -> 0");
	is_int(idx, 2, "index of the signaled fence");
	idx = UINT_MAX;
	is_int(dmabuf_fence_wait_any_timeout(f, 3, DMABUF_TIMEOUT_INFINITE, &idx), 0,
	       "wait_any(infinite) with one signaled -> 0");
	is_int(idx, 2, "index of the signaled fence again");
	is_int(dmabuf_fence_wait_any_timeout(f, 3, 0, NULL), 0, "wait_any with NULL idx");

	is_int(dmabuf_fence_wait_any_timeout(NULL, 3, 0, &idx), -EINVAL,
	       "wait_any(NULL fences) -> -EINVAL");
	is_int(dmabuf_fence_wait_any_timeout(f, 0, 0, &idx), -EINVAL,
	       "wait_any(count 0) -> -EINVAL");
	f[1] = NULL;
	is_int(dmabuf_fence_wait_any_timeout(f, 3, 0, &idx), -EINVAL,
	       "wait_any with a NULL entry -> -EINVAL (even with a signaled one)");
	f[1] = &m[1]->base;
	for (int i = 0; i < 3; i++)
		mock_put(m[i]);

	test_wait_any_thread(3, 1);
	test_wait_any_thread(3, 0);
	test_wait_any_thread(12, 10);	/* more than fit on the stack */
}

static void test_stub(void)
{
	struct dmabuf_fence *s1 = dmabuf_fence_get_stub();
	struct dmabuf_fence *s2 = dmabuf_fence_get_stub();
	struct dmabuf_fence *c1 = NULL, *c2 = NULL;
	struct order_cb cb = { 0 };
	int64_t ts;

	ok(s1 && s1 == s2, "get_stub returns the same process-wide fence");
	ok(dmabuf_fence_is_signaled(s1), "stub is signaled");
	is_int(s1->context, 0, "stub context 0");
	is_int(s1->seqno, 0, "stub seqno 0");
	is_str(dmabuf_fence_driver_name(s1), "stub", "stub driver name");
	is_str(dmabuf_fence_timeline_name(s1), "stub", "stub timeline name");
	is_int(dmabuf_fence_get_status(s1), 1, "stub status 1");
	ok(dmabuf_fence_get_timestamp(s1) > 0, "stub has a timestamp");
	is_int(dmabuf_fence_wait_timeout(s1, 0), 0, "wait on stub -> 0");
	is_int(dmabuf_fence_add_callback(s1, &cb.base, order_cb_func), -ENOENT,
	       "add_callback on stub -> -ENOENT");
	is_int(dmabuf_fence_signal(s1), -EINVAL, "signal stub -> -EINVAL");
	is_int(dmabuf_fence_set_error(s1, -EIO), -EINVAL, "set_error on stub -> -EINVAL");
	dmabuf_fence_put(s1);
	dmabuf_fence_put(s2);
	for (int i = 0; i < 100; i++)
		dmabuf_fence_put(dmabuf_fence_get_stub());
	s1 = dmabuf_fence_get_stub();
	ok(s1 == s2 && dmabuf_fence_is_signaled(s1), "stub survives puts of all its users");
	dmabuf_fence_put(s1);

	ts = dmabuf_now_ns() - 777;
	is_int(dmabuf_fence_create_stub(ts, &c1), 0, "create_stub -> 0");
	is_int(dmabuf_fence_create_stub(ts + 1, &c2), 0, "create_stub again -> 0");
	ok(c1 && c2 && c1 != c2 && c1 != s1, "create_stub returns new fences");
	ok(c1->context == 0 && c1->seqno == 0 && c2->context == 0,
	   "created stubs have context 0 and seqno 0 (like the kernel's private stub)");
	ok(dmabuf_fence_is_signaled(c1), "created stub is signaled");
	is_int(dmabuf_fence_get_timestamp(c1), ts, "created stub has the given timestamp");
	is_int(dmabuf_fence_get_timestamp(c2), ts + 1, "second stub has its timestamp");
	is_str(dmabuf_fence_driver_name(c1), "stub", "created stub driver name");
	is_str(dmabuf_fence_timeline_name(c1), "stub", "created stub timeline name");
	is_int(dmabuf_fence_get_status(c1), 1, "created stub status 1");
	is_int(atomic_load(&c1->refcount), 1, "created stub has one reference");
	dmabuf_fence_put(c1);
	dmabuf_fence_put(c2);
	is_int(dmabuf_fence_create_stub(ts, NULL), -EINVAL, "create_stub(NULL out) -> -EINVAL");
}

static void test_set_deadline(void)
{
	struct mock_fence *m = mock_new();
	struct dmabuf_fence *plain = malloc(sizeof(*plain));
	int64_t dl = dmabuf_now_ns() + 1000 * MS;

	dmabuf_fence_set_deadline(&m->base, dl);
	is_int(m->deadline_calls, 1, "set_deadline on pending fence forwarded");
	is_int(m->deadline_ns, dl, "with the given deadline");
	dmabuf_fence_set_deadline(&m->base, dl - 5);
	is_int(m->deadline_calls, 2, "each call is forwarded");
	is_int(m->deadline_ns, dl - 5, "with its deadline");
	dmabuf_fence_signal(&m->base);
	dmabuf_fence_set_deadline(&m->base, dl);
	is_int(m->deadline_calls, 2, "set_deadline on signaled fence not forwarded");
	mock_put(m);

	m = mock_new();
	atomic_store(&m->hw_done, true);
	dmabuf_fence_set_deadline(&m->base, dl);
	is_int(m->deadline_calls, 0, "not forwarded when the signaled op says done");
	mock_put(m);

	if (!plain)
		bail_out("out of memory");
	dmabuf_fence_init(plain, &plain_ops, NULL, dmabuf_fence_context_alloc(1), 1);
	dmabuf_fence_set_deadline(plain, dl);
	dmabuf_fence_set_deadline(NULL, dl);
	ok(1, "set_deadline without the op, or on NULL, is a no-op");
	dmabuf_fence_put(plain);
}

static void test_seqno(void)
{
	struct mock_fence *a = mock_new_full(&mock_ops, NULL, 5, NULL);
	struct mock_fence *b = mock_new_full(&mock_ops, NULL, 3, NULL);
	struct mock_fence *w = mock_new_full(&mock_ops, NULL, 0xffffffffULL, NULL);
	struct mock_fence *x = mock_new_full(&mock_ops, NULL, 1, NULL);
	struct mock_fence *a64 = mock_new_full(&mock_ops_64, NULL, 1, NULL);
	struct mock_fence *w64 = mock_new_full(&mock_ops_64, NULL, 0xffffffffULL, NULL);
	struct mock_fence *hi64 = mock_new_full(&mock_ops_64, NULL, 0x100000005ULL, NULL);
	struct mock_fence *hi32 = mock_new_full(&mock_ops, NULL, 0x100000005ULL, NULL);
	const uint64_t half = 1ULL << 31;

	ok(dmabuf_fence_is_later(&a->base, &b->base), "is_later(5, 3)");
	ok(!dmabuf_fence_is_later(&b->base, &a->base), "!is_later(3, 5)");
	ok(!dmabuf_fence_is_later(&a->base, &a->base), "!is_later(5, 5)");
	ok(dmabuf_fence_is_later(&x->base, &w->base), "32-bit: 1 is later than 0xffffffff (wrap)");
	ok(!dmabuf_fence_is_later(&w->base, &x->base), "32-bit: 0xffffffff not later than 1");
	ok(!dmabuf_fence_is_later(&a64->base, &w64->base), "64-bit: 1 not later than 0xffffffff");
	ok(dmabuf_fence_is_later(&w64->base, &a64->base), "64-bit: 0xffffffff later than 1");
	ok(!dmabuf_fence_is_later(&hi32->base, &a->base),
	   "32-bit: 0x100000005 vs 5 compares equal (upper half ignored)");
	ok(dmabuf_fence_is_later(&hi64->base, &a->base),
	   "64-bit ops of a: 0x100000005 later than 5");
	ok(!dmabuf_fence_is_later(NULL, &a->base) && !dmabuf_fence_is_later(&a->base, NULL),
	   "is_later with NULL -> false");

	ok(dmabuf_fence_seqno_passed(&a->base, 5), "seqno_passed(5, 5)");
	ok(dmabuf_fence_seqno_passed(&a->base, 6), "seqno_passed(5, 6)");
	ok(!dmabuf_fence_seqno_passed(&a->base, 4), "!seqno_passed(5, 4)");
	ok(dmabuf_fence_seqno_passed(&w->base, 0), "32-bit: point 0xffffffff passed by 0 (wrap)");
	ok(!dmabuf_fence_seqno_passed(&w64->base, 0), "64-bit: point 0xffffffff not passed by 0");
	ok(!dmabuf_fence_seqno_passed(NULL, 0), "seqno_passed(NULL) -> false");
	mock_put(w);
	mock_put(w64);

	/* A point more than 2^31 ahead of the timeline counts as passed. */
	w = mock_new_full(&mock_ops, NULL, 9 + half + 1, NULL);
	w64 = mock_new_full(&mock_ops_64, NULL, 9 + half + 1, NULL);
	ok(dmabuf_fence_seqno_passed(&w->base, 9),
	   "32-bit: point 2^31+1 ahead of the timeline counts as passed");
	ok(!dmabuf_fence_seqno_passed(&w64->base, 9),
	   "64-bit: point 2^31+1 ahead is not passed");
	mock_put(w);
	mock_put(w64);
	w = mock_new_full(&mock_ops, NULL, 9 + half - 1, NULL);
	ok(!dmabuf_fence_seqno_passed(&w->base, 9),
	   "32-bit: point 2^31-1 ahead is not passed");
	ok(dmabuf_fence_seqno_passed(&w->base, 9 + half - 1), "32-bit: reached -> passed");
	mock_put(w);

	mock_put(a);
	mock_put(b);
	mock_put(x);
	mock_put(a64);
	mock_put(hi64);
	mock_put(hi32);
}

/* Callbacks may signal other fences and drop references to other objects. */
struct chain_cb {
	struct dmabuf_fence_cb base;
	struct dmabuf_fence *next;
};

static void chain_cb_func(struct dmabuf_fence *fence, struct dmabuf_fence_cb *cb)
{
	struct chain_cb *c = dmabuf_container_of(cb, struct chain_cb, base);

	dmabuf_fence_signal(c->next);
	dmabuf_fence_put(c->next);
}

static void test_callback_signals_other(void)
{
	int released = 0;
	struct mock_fence *a = mock_new();
	struct mock_fence *b = mock_new_full(&mock_ops, NULL, 1, &released);
	struct chain_cb c = { .next = dmabuf_fence_get(&b->base) };
	struct order_cb ob = { 0 };

	dmabuf_fence_add_callback(&b->base, &ob.base, order_cb_func);
	dmabuf_fence_add_callback(&a->base, &c.base, chain_cb_func);
	mock_put(b);
	is_int(released, 0, "callback holds the last reference of b");
	dmabuf_fence_signal(&a->base);
	is_int(ob.calls, 1, "a's callback signaled b and b's callback ran");
	is_int(released, 1, "a's callback dropped the last reference of b");
	mock_put(a);
}

static void test_null_args(void)
{
	ok(!dmabuf_fence_is_signaled(NULL), "is_signaled(NULL) -> false");
	is_int(dmabuf_fence_get_status(NULL), -EINVAL, "get_status(NULL) -> -EINVAL");
	is_int(dmabuf_fence_get_timestamp(NULL), 0, "get_timestamp(NULL) -> 0");
	is_int(dmabuf_fence_signal(NULL), -EINVAL, "signal(NULL) -> -EINVAL");
	is_int(dmabuf_fence_signal_timestamp(NULL, 1), -EINVAL,
	       "signal_timestamp(NULL) -> -EINVAL");
	ok(dmabuf_fence_driver_name(NULL) == NULL, "driver_name(NULL) -> NULL");
	ok(dmabuf_fence_timeline_name(NULL) == NULL, "timeline_name(NULL) -> NULL");
}

int main(void)
{
	test_context_alloc();
	test_init();
	test_refcount();
	test_get_unless_zero();
	test_default_release();
	test_signal_once();
	test_timestamp();
	test_signal_locked();
	test_callbacks_under_lock();
	test_set_error();
	test_callback_order();
	test_add_callback_signaled();
	test_remove_callback();
	test_enable_signaling();
	test_enable_signaling_false();
	test_signaled_op();
	test_wait_timeout();
	test_wait_other_thread();
	test_wait_any();
	test_stub();
	test_set_deadline();
	test_seqno();
	test_callback_signals_other();
	test_null_args();
	return tap_done();
}

// SPDX-License-Identifier: MIT
/*
 * test_fence_array.c - fence arrays: all/any, errors, ordering, nesting,
 * references, failure injection and a few threaded signalers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <dmabuf/fault.h>
#include <dmabuf/fence.h>
#include <dmabuf/fence_array.h>
#include <dmabuf/fence_chain.h>

#include "mock_fence.h"
#include "tap.h"

static int make_array(struct dmabuf_fence **f, unsigned int n, bool any,
		      struct dmabuf_fence **out)
{
	return dmabuf_fence_array_create(n, f, dmabuf_fence_context_alloc(1), 7,
					 any, out);
}

struct counting_cb {
	struct dmabuf_fence_cb cb;
	int runs;
};

static void count_cb(struct dmabuf_fence *f, struct dmabuf_fence_cb *cb)
{
	((struct counting_cb *)cb)->runs++;
}

static void test_create_args(void)
{
	struct dmabuf_fence *f[2] = { tf_new(), tf_new() }, *bad[2] = { f[0], NULL };
	struct dmabuf_fence *a = (void *)0x1;

	is_int(dmabuf_fence_array_create(0, f, 1, 1, false, &a), -EINVAL, "0 fences: EINVAL");
	is_int(dmabuf_fence_array_create(2, NULL, 1, 1, false, &a), -EINVAL, "NULL fences: EINVAL");
	is_int(dmabuf_fence_array_create(2, bad, 1, 1, false, &a), -EINVAL, "NULL entry: EINVAL");
	is_int(dmabuf_fence_array_create(2, f, 1, 1, false, NULL), -EINVAL, "NULL out: EINVAL");
	ok(a == (void *)0x1, "failed create leaves *out alone");
	is_int(refs(f[0]), 1, "failed create took no reference");
	ok(!dmabuf_fence_is_array(NULL) && !dmabuf_fence_is_container(NULL),
	   "NULL is no array or container");
	ok(!dmabuf_fence_is_array(f[0]) && !dmabuf_fence_is_container(f[0]),
	   "a plain fence is no array or container");
	is_int(dmabuf_fence_array_num_fences(f[0]), 0, "num_fences of a plain fence: 0");
	ok(!dmabuf_fence_array_fence(f[0], 0), "array_fence of a plain fence: NULL");
	put_all(f, 2);
}

static void test_create(void)
{
	struct dmabuf_fence *f[3] = { tf_new(), tf_new(), tf_new() }, *a;
	uint64_t ctx = dmabuf_fence_context_alloc(1);
	int before = atomic_load(&tf_released);

	is_int(dmabuf_fence_array_create(3, f, ctx, 42, false, &a), 0, "create");
	ok(dmabuf_fence_is_array(a) && dmabuf_fence_is_container(a), "is an array and a container");
	ok(!dmabuf_fence_is_chain(a), "is no chain");
	is_str(dmabuf_fence_driver_name(a), "dma_fence_array", "driver name");
	is_str(dmabuf_fence_timeline_name(a), "unbound", "timeline name");
	ok(a->context == ctx && a->seqno == 42, "context and seqno as given");
	is_int(dmabuf_fence_array_num_fences(a), 3, "num_fences");
	ok(dmabuf_fence_array_fence(a, 0) == f[0] && dmabuf_fence_array_fence(a, 2) == f[2],
	   "array_fence returns the fences in order");
	ok(!dmabuf_fence_array_fence(a, 3), "array_fence out of range: NULL");
	is_int(refs(f[1]), 2, "the array took its own reference");
	is_int(dmabuf_fence_get_status(a), 0, "pending");
	is_int(dmabuf_fence_get_timestamp(a), 0, "no timestamp while pending");

	put_all(f, 3);
	is_int(atomic_load(&tf_released) - before, 0, "children live on in the array");
	dmabuf_fence_put(a);
	is_int(atomic_load(&tf_released) - before, 3, "array release drops its references");
}

/* The caller's pointer array is copied, not kept. */
static void test_pointer_array_copied(void)
{
	struct dmabuf_fence **v = malloc(2 * sizeof(*v)), *f0, *a;

	v[0] = f0 = tf_new();
	v[1] = tf_new();
	is_int(make_array(v, 2, false, &a), 0, "create from a heap array");
	dmabuf_fence_put(v[1]);
	v[0] = v[1] = NULL;
	free(v);
	ok(dmabuf_fence_array_fence(a, 0) == f0, "entries survive freeing the caller's array");
	dmabuf_fence_signal(f0);
	dmabuf_fence_signal(dmabuf_fence_array_fence(a, 1));
	ok(dmabuf_fence_is_signaled(a), "signals from the copied entries");
	dmabuf_fence_put(f0);
	dmabuf_fence_put(a);
}

static void test_signal_all(void)
{
	struct dmabuf_fence *f[3] = { tf_new(), tf_new(), tf_new() }, *a;
	struct counting_cb cb = { .runs = 0 };
	unsigned int order[3] = { 2, 0, 1 };

	make_array(f, 3, false, &a);
	is_int(dmabuf_fence_add_callback(a, &cb.cb, count_cb), 0, "callback added to array");
	for (int i = 0; i < 3; i++) {
		ok(!dmabuf_fence_is_signaled(a) && cb.runs == 0,
		   "all: not signaled with %d of 3 children signaled", i);
		dmabuf_fence_signal(f[order[i]]);
	}
	ok(dmabuf_fence_is_signaled(a), "all: signaled after the last child");
	is_int(cb.runs, 1, "all: callback ran once");
	is_int(dmabuf_fence_get_status(a), 1, "all: status 1 without errors");
	ok(dmabuf_fence_get_timestamp(a) >= dmabuf_fence_get_timestamp(f[1]),
	   "all: timestamp not before the last child's");
	put_all(f, 3);
	dmabuf_fence_put(a);
}

static void test_signal_any(void)
{
	struct dmabuf_fence *f[3] = { tf_new(), tf_new(), tf_new() }, *a;
	struct counting_cb cb = { .runs = 0 };

	make_array(f, 3, true, &a);
	is_int(dmabuf_fence_add_callback(a, &cb.cb, count_cb), 0, "any: callback added");
	ok(!dmabuf_fence_is_signaled(a), "any: pending while no child signaled");
	dmabuf_fence_signal(f[1]);
	ok(dmabuf_fence_is_signaled(a), "any: signaled by the first child");
	is_int(cb.runs, 1, "any: callback ran once");
	dmabuf_fence_signal(f[0]);
	dmabuf_fence_signal(f[2]);
	is_int(cb.runs, 1, "any: later children change nothing");
	put_all(f, 3);
	dmabuf_fence_put(a);
}

/* Without any waiter the array is found signaled by polling its children. */
static void test_polling(void)
{
	struct dmabuf_fence *f[2] = { tf_new(), tf_new() }, *all, *any;

	make_array(f, 2, false, &all);
	make_array(f, 2, true, &any);
	ok(!dmabuf_fence_is_signaled(all) && !dmabuf_fence_is_signaled(any), "poll: both pending");
	dmabuf_fence_signal(f[0]);
	ok(!dmabuf_fence_is_signaled(all), "poll all: one of two is not enough");
	ok(dmabuf_fence_is_signaled(any), "poll any: one is enough");
	dmabuf_fence_signal(f[1]);
	ok(dmabuf_fence_is_signaled(all), "poll all: signaled once both are");
	ok(dmabuf_fence_get_timestamp(all) >= dmabuf_fence_get_timestamp(f[1]),
	   "poll all: timestamp taken when the array signaled");
	put_all(f, 2);
	dmabuf_fence_put(all);
	dmabuf_fence_put(any);
}

/* Enabling when children already signaled: the array signals at once. */
static void test_enable_after_children(void)
{
	struct dmabuf_fence *f[2] = { tf_new(), tf_new() }, *a;
	struct counting_cb cb = { .runs = 0 };

	make_array(f, 2, false, &a);
	dmabuf_fence_signal(f[0]);
	dmabuf_fence_signal(f[1]);
	dmabuf_fence_enable_signaling(a);
	ok(dmabuf_fence_is_signaled(a), "enable with all children signaled signals the array");
	is_int(dmabuf_fence_add_callback(a, &cb.cb, count_cb), -ENOENT,
	       "add_callback then reports -ENOENT");
	is_int(dmabuf_fence_wait_timeout(a, 0), 0, "wait(0) succeeds");
	put_all(f, 2);
	dmabuf_fence_put(a);
}

static void test_errors(void)
{
	struct dmabuf_fence *f[3] = { tf_new(), tf_new(), tf_new() }, *a, *b, *c, *d;
	struct counting_cb cb = { .runs = 0 };

	/* callback path: the first error in signal order wins */
	make_array(f, 3, false, &a);
	dmabuf_fence_add_callback(a, &cb.cb, count_cb);
	dmabuf_fence_signal(f[0]);
	dmabuf_fence_set_error(f[2], -EIO);
	dmabuf_fence_signal(f[2]);
	is_int(dmabuf_fence_get_status(a), 0, "error: still pending with one child left");
	dmabuf_fence_set_error(f[1], -ENOENT);
	dmabuf_fence_signal(f[1]);
	is_int(dmabuf_fence_get_status(a), -EIO, "error: first child error propagated");
	put_all(f, 3);
	dmabuf_fence_put(a);

	/* polling path */
	f[0] = tf_new();
	f[1] = tf_new();
	make_array(f, 2, false, &b);
	dmabuf_fence_set_error(f[1], -ETIME);
	dmabuf_fence_signal(f[1]);
	dmabuf_fence_signal(f[0]);
	/* Linux 6.12: a merely polled array records no child error (the
	 * conformance suite's FILE_INFO count call shows status 1). */
	is_int(dmabuf_fence_get_status(b), 1,
	       "error: not propagated when only polled, like the kernel");
	dmabuf_fence_put(b);

	/* enable with an already-failed child */
	make_array(f, 2, false, &c);
	dmabuf_fence_enable_signaling(c);
	is_int(dmabuf_fence_get_status(c), -ETIME, "error: seen by enable_signaling too");
	dmabuf_fence_put(c);
	put_all(f, 2);

	/* any: the error of the child that signaled it */
	f[0] = tf_new();
	f[1] = tf_new();
	make_array(f, 2, true, &d);
	dmabuf_fence_enable_signaling(d);
	dmabuf_fence_set_error(f[1], -EPIPE);
	dmabuf_fence_signal(f[1]);
	dmabuf_fence_set_error(f[0], -EIO);
	dmabuf_fence_signal(f[0]);
	is_int(dmabuf_fence_get_status(d), -EPIPE, "any: error of the signaling child");
	put_all(f, 2);
	dmabuf_fence_put(d);
}

static void test_nested(void)
{
	struct dmabuf_fence *f[4] = { tf_new(), tf_new(), tf_new(), tf_new() };
	struct dmabuf_fence *inner[2], *outer;
	struct counting_cb cb = { .runs = 0 };

	make_array(f, 2, false, &inner[0]);
	make_array(f + 2, 2, true, &inner[1]);
	make_array(inner, 2, false, &outer);
	dmabuf_fence_add_callback(outer, &cb.cb, count_cb);
	dmabuf_fence_signal(f[3]);
	ok(dmabuf_fence_is_signaled(inner[1]), "nested: any-inner signaled by one child");
	ok(!dmabuf_fence_is_signaled(outer), "nested: outer waits for the all-inner");
	dmabuf_fence_signal(f[0]);
	ok(!dmabuf_fence_is_signaled(outer) && !cb.runs, "nested: still pending");
	dmabuf_fence_signal(f[1]);
	ok(dmabuf_fence_is_signaled(outer) && cb.runs == 1, "nested: outer signaled once");
	dmabuf_fence_signal(f[2]);
	put_all(f, 4);
	put_all(inner, 2);
	dmabuf_fence_put(outer);
}

static void test_deadline(void)
{
	struct dmabuf_fence *f[2] = { tf_new(), tf_new() }, *a;

	make_array(f, 2, false, &a);
	dmabuf_fence_signal(f[1]);
	dmabuf_fence_set_deadline(a, 12345);
	is_int(((struct tfence *)f[0])->deadline, 12345, "deadline forwarded to a pending child");
	is_int(((struct tfence *)f[1])->deadline, 0, "not to a signaled one");
	dmabuf_fence_signal(f[0]);
	put_all(f, 2);
	dmabuf_fence_put(a);
}

static void test_fault_injection(void)
{
	struct dmabuf_fence *f[2] = { tf_new(), tf_new() }, *a = NULL;
	int ret;

	dmabuf_fault_inject_alloc(0, 1);
	ret = make_array(f, 2, false, &a);
	is_int(dmabuf_fault_injected(), 1, "enomem: an allocation failed");
	dmabuf_fault_inject_alloc(0, 0);
	is_int(ret, -ENOMEM, "enomem: create fails");
	ok(!a, "enomem: *out untouched");
	ok(refs(f[0]) == 1 && refs(f[1]) == 1, "enomem: no reference taken");

	/* the array's own allocations during enable/wait: none may fail it */
	is_int(make_array(f, 2, false, &a), 0, "create after injection");
	dmabuf_fault_inject_alloc(0, 100);
	dmabuf_fence_enable_signaling(a);
	dmabuf_fence_signal(f[0]);
	dmabuf_fence_signal(f[1]);
	dmabuf_fault_inject_alloc(0, 0);
	ok(dmabuf_fence_is_signaled(a), "signaling needs no allocation");
	put_all(f, 2);
	dmabuf_fence_put(a);
}

/* Reference counts while callbacks are installed and after they ran. */
static void test_refcounts(void)
{
	struct dmabuf_fence *f[2] = { tf_new(), tf_new() }, *a;
	int before;

	make_array(f, 2, true, &a);
	dmabuf_fence_enable_signaling(a);
	is_int(refs(a), 3, "each installed callback holds an array reference");
	dmabuf_fence_signal(f[0]);
	is_int(refs(a), 2, "the run callback dropped its reference");
	dmabuf_fence_put(a);
	before = atomic_load(&tf_released);
	dmabuf_fence_put(f[0]);
	is_int(atomic_load(&tf_released) - before, 0,
	       "the pending callback keeps the array, which keeps its children");
	dmabuf_fence_signal(f[1]);
	dmabuf_fence_put(f[1]);
	is_int(atomic_load(&tf_released) - before, 2, "last callback freed the array and children");
}

/* ---- threads ---- */

struct signaler {
	pthread_t thread;
	pthread_barrier_t *start;
	struct dmabuf_fence *fence;
};

static void *signal_thread(void *arg)
{
	struct signaler *s = arg;

	pthread_barrier_wait(s->start);
	dmabuf_fence_signal(s->fence);
	return NULL;
}

static void test_threads_signal_while_waiting(void)
{
	enum { N = 8, ROUNDS = 200 };
	bool all_ok = true;

	for (int r = 0; r < ROUNDS; r++) {
		struct dmabuf_fence *f[N], *a;
		struct signaler s[N];
		pthread_barrier_t start;

		for (int i = 0; i < N; i++)
			f[i] = tf_new();
		make_array(f, N, r & 1, &a);
		pthread_barrier_init(&start, NULL, N + 1);
		for (int i = 0; i < N; i++) {
			s[i] = (struct signaler){ .start = &start, .fence = f[i] };
			pthread_create(&s[i].thread, NULL, signal_thread, &s[i]);
		}
		pthread_barrier_wait(&start);
		if (dmabuf_fence_wait_timeout(a, DMABUF_TIMEOUT_INFINITE))
			all_ok = false;
		for (int i = 0; i < N; i++)
			pthread_join(s[i].thread, NULL);
		if (!dmabuf_fence_is_signaled(a))
			all_ok = false;
		pthread_barrier_destroy(&start);
		put_all(f, N);
		dmabuf_fence_put(a);
	}
	ok(all_ok, "threads: waiting on arrays while children signal concurrently");
}

/*
 * Children sharing one lock (a timeline) signaled under that lock while
 * another thread enables the array: must not deadlock.
 */
struct timeline_signaler {
	pthread_mutex_t *lock;
	struct dmabuf_fence **f;
	pthread_barrier_t *start;
};

static void *timeline_thread(void *arg)
{
	struct timeline_signaler *t = arg;

	pthread_barrier_wait(t->start);
	pthread_mutex_lock(t->lock);
	dmabuf_fence_signal_locked(t->f[0]);
	dmabuf_fence_signal_locked(t->f[1]);
	pthread_mutex_unlock(t->lock);
	return NULL;
}

static void test_threads_shared_lock(void)
{
	enum { ROUNDS = 500 };
	bool all_ok = true;

	for (int r = 0; r < ROUNDS; r++) {
		pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
		struct dmabuf_fence *f[2] = { tf_new_locked(&lock), tf_new_locked(&lock) }, *a;
		pthread_barrier_t start;
		struct timeline_signaler t = { &lock, f, &start };
		pthread_t thread;

		make_array(f, 2, false, &a);
		pthread_barrier_init(&start, NULL, 2);
		pthread_create(&thread, NULL, timeline_thread, &t);
		pthread_barrier_wait(&start);
		if (dmabuf_fence_wait_timeout(a, DMABUF_TIMEOUT_INFINITE))
			all_ok = false;
		pthread_join(thread, NULL);
		pthread_barrier_destroy(&start);
		put_all(f, 2);
		dmabuf_fence_put(a);
		pthread_mutex_destroy(&lock);
	}
	ok(all_ok, "threads: children on one shared timeline lock, no deadlock");
}

/*
 * Deterministic lock-order check: while the array is being enabled (and
 * polls a child), another thread signals a child under the children's
 * shared timeline lock, which signals the array.  Enabling must not hold
 * the array's lock at that point, or both threads would wait forever.
 */
static struct {
	pthread_mutex_t m;
	pthread_cond_t c;
	int stage;			/* 0 idle, 1 go, 2 done */
	struct dmabuf_fence *array;
	bool used;
	pthread_mutex_t *timeline;
	struct dmabuf_fence *first;
} hs = { .m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER };

static bool hs_signaled(struct dmabuf_fence *f)
{
	if (hs.used || !hs.array ||
	    !(atomic_load(&hs.array->flags) & (1UL << DMABUF_FENCE_FLAG_ENABLE_SIGNAL)))
		return false;
	hs.used = true;
	pthread_mutex_lock(&hs.m);
	hs.stage = 1;
	pthread_cond_broadcast(&hs.c);
	while (hs.stage != 2)
		pthread_cond_wait(&hs.c, &hs.m);
	pthread_mutex_unlock(&hs.m);
	return false;
}

static const struct dmabuf_fence_ops hs_ops = {
	.get_driver_name = tf_name,
	.get_timeline_name = tf_name,
	.signaled = hs_signaled,
	.release = tf_release,
};

static void *hs_thread(void *arg)
{
	pthread_mutex_lock(&hs.m);
	while (hs.stage != 1)
		pthread_cond_wait(&hs.c, &hs.m);
	pthread_mutex_unlock(&hs.m);
	pthread_mutex_lock(hs.timeline);
	dmabuf_fence_signal_locked(hs.first);
	pthread_mutex_unlock(hs.timeline);
	pthread_mutex_lock(&hs.m);
	hs.stage = 2;
	pthread_cond_broadcast(&hs.c);
	pthread_mutex_unlock(&hs.m);
	return NULL;
}

static void test_enable_lock_order(void)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct dmabuf_fence *f[2], *a;
	struct counting_cb cb = { .runs = 0 };
	pthread_t thread;

	f[0] = tf_new_locked(&lock);
	f[1] = tf_on(&hs_ops, &lock, dmabuf_fence_context_alloc(1), 1);
	make_array(f, 2, true, &a);
	hs.array = a;
	hs.timeline = &lock;
	hs.first = f[0];
	pthread_create(&thread, NULL, hs_thread, NULL);
	is_int(dmabuf_fence_add_callback(a, &cb.cb, count_cb), -ENOENT,
	       "lock order: the array signaled while it was being enabled");
	pthread_join(thread, NULL);
	ok(hs.used && dmabuf_fence_is_signaled(a), "lock order: no deadlock, array signaled");
	hs.array = NULL;
	dmabuf_fence_signal(f[1]);
	put_all(f, 2);
	dmabuf_fence_put(a);
	pthread_mutex_destroy(&lock);
}

int main(void)
{
	test_create_args();
	test_create();
	test_pointer_array_copied();
	test_signal_all();
	test_signal_any();
	test_polling();
	test_enable_after_children();
	test_errors();
	test_nested();
	test_deadline();
	test_fault_injection();
	test_refcounts();
	test_threads_signal_while_waiting();
	test_threads_shared_lock();
	test_enable_lock_order();
	is_int(atomic_load(&tf_released), atomic_load(&tf_created),
	       "every test fence was released exactly once");
	return tap_done();
}

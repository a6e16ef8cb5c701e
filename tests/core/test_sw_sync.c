// SPDX-License-Identifier: MIT
/*
 * test_sw_sync.c - sw_sync timelines: points, inc, wrap-around, close, deadlines.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <dmabuf/fault.h>
#include <dmabuf/fence.h>
#include <dmabuf/sw_sync.h>

#include "sw_timeline.h"
#include "tap.h"

static void test_create(void)
{
	struct dmabuf_sw_timeline *tl = (void *)1, *tl2;
	struct dmabuf_fence *f = (void *)1, *g;
	const char *long_name = "a-timeline-name-longer-than-31-characters";

	is_int(dmabuf_sw_timeline_create(NULL, &tl), -EINVAL, "create(NULL name) -> EINVAL");
	is_int(dmabuf_sw_timeline_create("x", NULL), -EINVAL, "create(NULL out) -> EINVAL");
	ok(tl == (void *)1, "failed create leaves *out alone");

	tl = new_timeline("test");
	is_int(dmabuf_sw_timeline_value(tl), 0, "new timeline is at 0");
	is_int(dmabuf_sw_timeline_create_fence(NULL, 1, &f), -EINVAL, "create_fence(NULL tl)");
	is_int(dmabuf_sw_timeline_create_fence(tl, 1, NULL), -EINVAL, "create_fence(NULL out)");
	is_int(dmabuf_sw_timeline_inc(NULL, 1), -EINVAL, "inc(NULL)");

	f = new_point(tl, 1);
	is_str(dmabuf_fence_driver_name(f), "sw_sync", "driver name is sw_sync");
	is_str(dmabuf_fence_timeline_name(f), "test", "timeline name is the timeline's");
	ok(dmabuf_fence_is_sw_sync(f), "is_sw_sync(point)");
	ok(f->context != 0, "points have a real context");
	ok(dmabuf_sw_timeline_context(tl) == f->context, "the timeline's context is its points'");
	is_str(dmabuf_sw_timeline_name(tl), "test", "the timeline's name");
	ok(dmabuf_sw_timeline_context(NULL) == 0, "context(NULL) is 0");
	is_str(dmabuf_sw_timeline_name(NULL), "", "name(NULL) is empty");
	is_int(f->seqno, 1, "seqno is the value");
	ok(!f->ops->use_64bit_seqno, "points compare seqnos as 32-bit numbers");

	tl2 = new_timeline(long_name);
	g = new_point(tl2, 1);
	is_int(strlen(dmabuf_fence_timeline_name(g)), 31, "long name kept to 31 characters");
	ok(!strncmp(dmabuf_fence_timeline_name(g), long_name, 31), "... its first 31");
	ok(g->context != f->context, "each timeline has its own context");

	dmabuf_fence_put(g);
	ok(!dmabuf_fence_is_sw_sync(NULL), "is_sw_sync(NULL) is false");
	g = dmabuf_fence_get_stub();
	ok(!dmabuf_fence_is_sw_sync(g), "is_sw_sync(stub) is false");
	dmabuf_fence_put(g);

	dmabuf_fence_put(f);
	dmabuf_sw_timeline_put(tl2);
	dmabuf_sw_timeline_put(tl);
	dmabuf_sw_timeline_put(NULL);
	dmabuf_sw_timeline_close(NULL);
	ok(dmabuf_sw_timeline_get(NULL) == NULL, "get(NULL) is NULL");
}

static void test_born_signaled(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("test");
	struct dmabuf_fence *f0, *f2, *f3;
	int64_t before = dmabuf_now_ns();

	f0 = new_point(tl, 0);
	is_int(dmabuf_fence_get_status(f0), 1, "value 0 on a fresh timeline is born signaled");
	ok(dmabuf_fence_get_timestamp(f0) >= before, "... with a timestamp of now");

	dmabuf_sw_timeline_inc(tl, 3);
	f2 = new_point(tl, 2);
	f3 = new_point(tl, 3);
	is_int(dmabuf_fence_get_status(f2), 1, "value below current is born signaled");
	is_int(dmabuf_fence_get_status(f3), 1, "value equal to current is born signaled");
	dmabuf_fence_put(f0);
	dmabuf_fence_put(f2);
	dmabuf_fence_put(f3);
	dmabuf_sw_timeline_put(tl);
}

static void test_same_value(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("test");
	struct dmabuf_fence *a, *b, *c, *d;

	a = new_point(tl, 5);
	b = new_point(tl, 5);
	ok(a == b, "same pending value gives the same fence");
	is_int(atomic_load(&a->refcount), 2, "... with a new reference");
	c = new_point(tl, 6);
	ok(c != a, "another value gives another fence");
	dmabuf_fence_put(b);

	/* A released pending point unlinks itself: the value is fresh again. */
	dmabuf_fence_put(c);
	d = new_point(tl, 6);
	is_int(atomic_load(&d->refcount), 1, "after the release, the value gives a new fence");
	dmabuf_sw_timeline_inc(tl, 6);
	is_int(dmabuf_fence_get_status(a), 1, "point 5 signaled");
	is_int(dmabuf_fence_get_status(d), 1, "new point 6 signaled");

	/* Once signaled, the value is reached: a new, born-signaled fence. */
	b = new_point(tl, 5);
	ok(b != a, "a signaled value is not reused");
	is_int(dmabuf_fence_get_status(b), 1, "... the new fence is born signaled");
	dmabuf_fence_put(a);
	dmabuf_fence_put(b);
	dmabuf_fence_put(d);
	dmabuf_sw_timeline_put(tl);
}

struct order_rec {
	struct dmabuf_fence_cb cb;
	int *log;
	int *n;
	int id;
};

static void order_cb(struct dmabuf_fence *f, struct dmabuf_fence_cb *cb)
{
	struct order_rec *r = (struct order_rec *)cb;

	r->log[(*r->n)++] = r->id;
}

static void test_inc_order(void)
{
	static const uint32_t values[] = { 5, 2, 4, 1, 3 };
	struct dmabuf_sw_timeline *tl = new_timeline("test");
	struct dmabuf_fence *f[5];
	struct order_rec rec[5];
	int log[5] = { 0 }, n = 0;
	bool in_order = true, ts_ok = true;

	for (int i = 0; i < 5; i++) {
		f[i] = new_point(tl, values[i]);
		rec[i] = (struct order_rec){ .log = log, .n = &n, .id = (int)values[i] };
		dmabuf_fence_add_callback(f[i], &rec[i].cb, order_cb);
	}
	is_int(dmabuf_sw_timeline_inc(tl, 5), 0, "inc(5) returns 0");
	is_int(n, 5, "inc past several points signals all of them");
	for (int i = 0; i < 5; i++)
		in_order &= log[i] == i + 1;
	ok(in_order, "they signal in value order (created out of order)");
	for (int v = 1; v < 5; v++) {
		int a = -1, b = -1;

		for (int i = 0; i < 5; i++) {
			if (values[i] == (uint32_t)v)
				a = i;
			if (values[i] == (uint32_t)v + 1)
				b = i;
		}
		ts_ok &= dmabuf_fence_get_timestamp(f[a]) <=
			 dmabuf_fence_get_timestamp(f[b]);
	}
	ok(ts_ok, "timestamps are non-decreasing in value order");
	is_int(dmabuf_sw_timeline_value(tl), 5, "value is 5");
	for (int i = 0; i < 5; i++)
		dmabuf_fence_put(f[i]);
	dmabuf_sw_timeline_put(tl);
}

static void test_inc_partial(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("test");
	struct dmabuf_fence *f1 = new_point(tl, 1), *f3 = new_point(tl, 3),
			    *f5 = new_point(tl, 5);

	dmabuf_sw_timeline_inc(tl, 2);
	is_int(dmabuf_fence_get_status(f1), 1, "inc(2): point 1 signaled");
	is_int(dmabuf_fence_get_status(f3), 0, "inc(2): point 3 pending");
	is_int(dmabuf_fence_get_timestamp(f3), 0, "pending point has no timestamp");
	dmabuf_sw_timeline_inc(tl, 0);
	is_int(dmabuf_fence_get_status(f3), 0, "inc(0) signals nothing");
	dmabuf_sw_timeline_inc(tl, 1);
	is_int(dmabuf_fence_get_status(f3), 1, "inc(1): point 3 signaled");
	is_int(dmabuf_fence_get_status(f5), 0, "inc(1): point 5 pending");
	is_int(dmabuf_fence_wait_timeout(f5, 0), -ETIME, "wait(0) on pending point times out");
	dmabuf_sw_timeline_inc(tl, 2);
	is_int(dmabuf_fence_wait_timeout(f5, 0), 0, "point 5 signaled at value 5");
	dmabuf_fence_put(f1);
	dmabuf_fence_put(f3);
	dmabuf_fence_put(f5);
	dmabuf_sw_timeline_put(tl);
}

static void test_wrap(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("test");
	struct dmabuf_fence *hi, *lo, *far, *later;

	dmabuf_sw_timeline_inc(tl, 0xfffffff0u);
	is_int(dmabuf_sw_timeline_value(tl), 0xfffffff0u, "inc above INT_MAX reaches the sum");
	hi = new_point(tl, 0xfffffff5u);
	lo = new_point(tl, 5);	/* 21 ahead, after the wrap */
	far = new_point(tl, 0x7ffffff0u);	/* exactly 2^31 ahead */
	is_int(dmabuf_fence_get_status(hi), 0, "point before the wrap pending");
	is_int(dmabuf_fence_get_status(lo), 0, "point after the wrap pending");
	is_int(dmabuf_fence_get_status(far), 1, "point 2^31 ahead counts as passed");
	ok(dmabuf_fence_is_later(lo, hi), "5 is later than 0xfffffff5 (32-bit rule)");
	ok(!dmabuf_fence_is_later(hi, lo), "0xfffffff5 is not later than 5");

	dmabuf_sw_timeline_inc(tl, 0x10);
	is_int(dmabuf_sw_timeline_value(tl), 0, "value wrapped to 0");
	is_int(dmabuf_fence_get_status(hi), 1, "wrap signals 0xfffffff5");
	is_int(dmabuf_fence_get_status(lo), 0, "5 still pending");
	later = new_point(tl, 3);
	dmabuf_sw_timeline_inc(tl, 5);
	is_int(dmabuf_fence_get_status(lo), 1, "5 signaled after the wrap");
	is_int(dmabuf_fence_get_status(later), 1, "3 signaled after the wrap");
	ok(dmabuf_fence_get_timestamp(later) <= dmabuf_fence_get_timestamp(lo),
	   "3 signaled no later than 5");
	dmabuf_fence_put(hi);
	dmabuf_fence_put(lo);
	dmabuf_fence_put(far);
	dmabuf_fence_put(later);
	dmabuf_sw_timeline_put(tl);
}

static void test_inc_steps(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("test");
	struct dmabuf_fence *f5 = new_point(tl, 5), *fmax = new_point(tl, INT_MAX);

	/* A single 32-bit add of 0xffffffff would leave 5 six ahead (pending);
	 * the kernel's INT_MAX steps pass it. */
	dmabuf_sw_timeline_inc(tl, UINT32_MAX);
	is_int(dmabuf_sw_timeline_value(tl), UINT32_MAX, "inc(UINT32_MAX) from 0");
	is_int(dmabuf_fence_get_status(f5), 1, "inc above INT_MAX goes in steps: 5 signaled");
	is_int(dmabuf_fence_get_status(fmax), 1, "INT_MAX signaled");
	dmabuf_fence_put(f5);
	dmabuf_fence_put(fmax);
	dmabuf_sw_timeline_put(tl);
}

static void test_close(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("closing");
	struct dmabuf_fence *f1 = new_point(tl, 1), *f3 = new_point(tl, 3),
			    *f7 = new_point(tl, 7);
	struct order_rec rec[2];
	int log[2] = { 0 }, n = 0;

	dmabuf_sw_timeline_inc(tl, 2);
	rec[0] = (struct order_rec){ .log = log, .n = &n, .id = 7 };
	rec[1] = (struct order_rec){ .log = log, .n = &n, .id = 3 };
	dmabuf_fence_add_callback(f7, &rec[0].cb, order_cb);
	dmabuf_fence_add_callback(f3, &rec[1].cb, order_cb);
	dmabuf_sw_timeline_close(tl);	/* drops the only timeline reference */
	is_int(dmabuf_fence_get_status(f3), -ENOENT, "close: pending point status -ENOENT");
	is_int(dmabuf_fence_get_status(f7), -2, "close: pending point status -2");
	ok(dmabuf_fence_is_signaled(f7), "close: pending point is signaled (poll-ready)");
	ok(dmabuf_fence_get_timestamp(f3) != 0, "close: timestamp set");
	ok(n == 2 && log[0] == 3 && log[1] == 7, "close signals in value order");
	is_int(dmabuf_fence_get_status(f1), 1, "close: already signaled point keeps status 1");
	is_str(dmabuf_fence_timeline_name(f3), "closing",
	       "fences keep the timeline alive after close");
	dmabuf_fence_put(f1);
	dmabuf_fence_put(f3);
	dmabuf_fence_put(f7);
}

static void test_outlive(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("orphan");
	struct dmabuf_fence *f = new_point(tl, 4), *g = new_point(tl, 9);

	dmabuf_sw_timeline_put(tl);	/* last user reference, no close */
	is_str(dmabuf_fence_timeline_name(f), "orphan",
	       "timeline outlives its last user reference");
	is_int(dmabuf_fence_get_status(f), 0, "its pending points stay pending");
	dmabuf_fence_put(f);	/* pending release unlinks from the live timeline */
	is_int(dmabuf_fence_get_status(g), 0, "the other point is intact");
	dmabuf_fence_put(g);	/* frees the timeline (checked by ASan/LSan) */
	ok(true, "last point released the timeline");
}

static void test_deadline(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("test");
	struct dmabuf_fence *f = new_point(tl, 1), *g = new_point(tl, 2), *stub;
	int64_t dl = 12345;

	is_int(dmabuf_sw_sync_get_deadline(f, &dl), -ENOENT, "no deadline yet -> ENOENT");
	is_int(dl, 12345, "... output untouched");
	dmabuf_fence_set_deadline(f, 5000000);
	dmabuf_fence_set_deadline(f, 3000000);
	dmabuf_fence_set_deadline(f, 4000000);
	is_int(dmabuf_sw_sync_get_deadline(f, &dl), 0, "deadline set -> 0");
	is_int(dl, 3000000, "the earliest deadline is kept");
	dmabuf_fence_set_deadline(g, 7000000);
	is_int(dmabuf_sw_sync_get_deadline(g, &dl), 0, "deadlines are per point");
	is_int(dl, 7000000, "... each its own");

	dmabuf_sw_timeline_inc(tl, 2);
	dmabuf_fence_set_deadline(f, 1000);
	dmabuf_sw_sync_get_deadline(f, &dl);
	is_int(dl, 3000000, "deadline set after signaling is ignored");
	is_int(dmabuf_sw_sync_get_deadline(f, &dl), 0, "deadline readable after signaling");

	stub = dmabuf_fence_get_stub();
	is_int(dmabuf_sw_sync_get_deadline(stub, &dl), -EINVAL, "not a sw_sync fence -> EINVAL");
	is_int(dmabuf_sw_sync_get_deadline(NULL, &dl), -EINVAL, "NULL fence -> EINVAL");
	is_int(dmabuf_sw_sync_get_deadline(f, NULL), -EINVAL, "NULL out -> EINVAL");
	dmabuf_fence_put(stub);

	dmabuf_fence_put(g);
	g = new_point(tl, 3);
	dmabuf_sw_timeline_inc(tl, 1);
	is_int(dmabuf_sw_sync_get_deadline(g, &dl), -ENOENT,
	       "point signaled without deadline -> ENOENT");
	dmabuf_fence_set_deadline(g, 10);
	is_int(dmabuf_sw_sync_get_deadline(g, &dl), -ENOENT,
	       "set_deadline on a signaled point records nothing");
	dmabuf_fence_put(f);
	dmabuf_fence_put(g);
	dmabuf_sw_timeline_put(tl);
}

/* Callbacks that re-enter the timeline while inc holds its lock. */
struct reenter {
	struct dmabuf_fence_cb cb;
	struct dmabuf_sw_timeline *tl;
	struct dmabuf_fence *drop;
	struct dmabuf_fence *created;
	bool created_signaled;
};

static void reenter_cb(struct dmabuf_fence *f, struct dmabuf_fence_cb *cb)
{
	struct reenter *r = (struct reenter *)cb;

	dmabuf_fence_put(r->drop);	/* last reference of a pending point */
	r->drop = NULL;
	if (!dmabuf_sw_timeline_create_fence(r->tl, 1, &r->created))
		r->created_signaled = dmabuf_fence_is_signaled(r->created);
}

static void test_reentry(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("test");
	struct dmabuf_fence *f1 = new_point(tl, 1), *f2 = new_point(tl, 2);
	struct reenter r = { .tl = tl, .drop = new_point(tl, 10) };

	dmabuf_fence_add_callback(f1, &r.cb, reenter_cb);
	dmabuf_sw_timeline_inc(tl, 1);
	ok(r.drop == NULL, "callback dropped the last reference of a pending point");
	ok(r.created && r.created_signaled,
	   "callback created a point on the same timeline (born signaled)");
	is_int(dmabuf_fence_get_status(f2), 0, "later point still pending");
	dmabuf_sw_timeline_inc(tl, 20);
	is_int(dmabuf_fence_get_status(f2), 1, "timeline still consistent after re-entry");
	dmabuf_fence_put(r.created);
	dmabuf_fence_put(f1);
	dmabuf_fence_put(f2);
	dmabuf_sw_timeline_put(tl);
}

/* A point's last reference dropped by its own callback run from inc. */
struct selfdrop {
	struct dmabuf_fence_cb cb;
	bool ran;
};

static void selfdrop_cb(struct dmabuf_fence *f, struct dmabuf_fence_cb *cb)
{
	struct selfdrop *s = (struct selfdrop *)cb;

	s->ran = true;
	dmabuf_fence_put(f);
}

static void test_drop_in_own_callback(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("test");
	struct dmabuf_fence *f = new_point(tl, 1);
	struct selfdrop s = { .ran = false };

	dmabuf_fence_add_callback(f, &s.cb, selfdrop_cb);
	dmabuf_sw_timeline_inc(tl, 1);	/* inc holds a reference while signaling */
	ok(s.ran, "point's callback dropped its last reference safely");
	dmabuf_sw_timeline_put(tl);
}

static void test_fault(void)
{
	struct dmabuf_sw_timeline *tl = (void *)1, *real;
	struct dmabuf_fence *f = (void *)1, *g, *h;

	dmabuf_fault_inject_alloc(0, 1);
	is_int(dmabuf_sw_timeline_create("x", &tl), -ENOMEM, "timeline create: ENOMEM");
	ok(tl == (void *)1 && dmabuf_fault_injected() == 1, "... *out untouched");
	dmabuf_fault_inject_alloc(0, 0);

	real = new_timeline("x");
	g = new_point(real, 3);
	dmabuf_fault_inject_alloc(0, 1);
	is_int(dmabuf_sw_timeline_create_fence(real, 5, &f), -ENOMEM, "create_fence: ENOMEM");
	ok(f == (void *)1 && dmabuf_fault_injected() == 1, "... *out untouched");
	dmabuf_fault_inject_alloc(0, 1);
	is_int(dmabuf_sw_timeline_create_fence(real, 0, &f), -ENOMEM,
	       "create_fence of a reached value: ENOMEM too");
	dmabuf_fault_inject_alloc(0, 0);
	is_int(dmabuf_sw_timeline_value(real), 0, "timeline value unchanged");
	h = new_point(real, 3);
	ok(h == g, "pending points unchanged (same fence for 3)");
	dmabuf_fence_put(h);
	h = new_point(real, 5);
	is_int(atomic_load(&h->refcount), 1, "no stray point left for 5");
	dmabuf_sw_timeline_inc(real, 5);
	ok(dmabuf_fence_is_signaled(g) && dmabuf_fence_is_signaled(h), "timeline still works");
	dmabuf_fence_put(g);
	dmabuf_fence_put(h);
	dmabuf_sw_timeline_put(real);
}

#define RACE_THREADS 4
#define RACE_ROUNDS 2000

struct race_arg {
	struct dmabuf_sw_timeline *tl;
	pthread_barrier_t *barrier;
	struct dmabuf_fence *kept[RACE_ROUNDS];
	unsigned int nkept;
	bool same_ok;
};

/* Create points just ahead of the timeline, keep some, drop the others. */
static void *race_creator(void *p)
{
	struct race_arg *a = p;

	pthread_barrier_wait(a->barrier);
	a->same_ok = true;
	for (unsigned int i = 0; i < RACE_ROUNDS; i++) {
		uint32_t v = dmabuf_sw_timeline_value(a->tl) + 1 + i % 7;
		struct dmabuf_fence *f, *g;

		if (dmabuf_sw_timeline_create_fence(a->tl, v, &f))
			continue;
		if (!dmabuf_sw_timeline_create_fence(a->tl, v, &g)) {
			/* Same value twice: same fence unless it signaled between. */
			a->same_ok &= g == f || dmabuf_fence_is_signaled(f);
			dmabuf_fence_put(g);
		}
		if (i % 3 == 0)
			a->kept[a->nkept++] = f;
		else
			dmabuf_fence_put(f);
	}
	return NULL;
}

static void test_race(void)
{
	struct dmabuf_sw_timeline *tl = new_timeline("race");
	static struct race_arg args[RACE_THREADS];
	pthread_t th[RACE_THREADS];
	pthread_barrier_t barrier;
	bool all_signaled = true, same_ok = true;

	pthread_barrier_init(&barrier, NULL, RACE_THREADS + 1);
	for (int i = 0; i < RACE_THREADS; i++) {
		args[i] = (struct race_arg){ .tl = tl, .barrier = &barrier };
		pthread_create(&th[i], NULL, race_creator, &args[i]);
	}
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < RACE_ROUNDS; i++)
		dmabuf_sw_timeline_inc(tl, 1);
	for (int i = 0; i < RACE_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	dmabuf_sw_timeline_inc(tl, 8);
	for (int i = 0; i < RACE_THREADS; i++) {
		same_ok &= args[i].same_ok;
		for (unsigned int k = 0; k < args[i].nkept; k++) {
			all_signaled &= dmabuf_fence_get_status(args[i].kept[k]) == 1;
			dmabuf_fence_put(args[i].kept[k]);
		}
	}
	ok(same_ok, "concurrent create: a pending value always gives the same fence");
	ok(all_signaled, "concurrent create/release/inc: every kept point signaled");
	dmabuf_sw_timeline_put(tl);
}

int main(void)
{
	test_create();
	test_born_signaled();
	test_same_value();
	test_inc_order();
	test_inc_partial();
	test_wrap();
	test_inc_steps();
	test_close();
	test_outlive();
	test_deadline();
	test_reentry();
	test_drop_in_own_callback();
	test_fault();
	test_race();
	return tap_done();
}

// SPDX-License-Identifier: MIT
/*
 * test_fault.c - allocation failure injection (include/dmabuf/fault.h),
 * driven through public calls that allocate.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <dmabuf/fault.h>
#include <dmabuf/fence.h>

#include "tap.h"

#define MS (1000000LL)
#define MANY 9	/* wait_any on more than 8 fences allocates */

/* create_stub with a sentinel out-pointer: returns its result. */
static int try_stub(bool *out_untouched)
{
	struct dmabuf_fence sentinel_storage;
	struct dmabuf_fence *out = &sentinel_storage;
	int ret = dmabuf_fence_create_stub(dmabuf_now_ns(), &out);

	if (out_untouched)
		*out_untouched = out == &sentinel_storage;
	if (!ret)
		dmabuf_fence_put(out);
	return ret;
}

static void test_off(void)
{
	dmabuf_fault_inject_alloc(0, 0);
	is_int(try_stub(NULL), 0, "no injection: create_stub -> 0");
	is_int(dmabuf_fault_injected(), 0, "no injection: nothing injected");
}

static void test_count(void)
{
	bool untouched = false;

	dmabuf_fault_inject_alloc(0, 1);
	is_int(dmabuf_fault_injected(), 0, "arming resets the injected count");
	is_int(try_stub(&untouched), -ENOMEM, "inject(0,1): create_stub -> -ENOMEM");
	ok(untouched, "failed create_stub leaves *out alone");
	is_int(dmabuf_fault_injected(), 1, "one failure injected");
	is_int(try_stub(NULL), 0, "after count failures allocations succeed again");
	is_int(dmabuf_fault_injected(), 1, "still one failure injected");

	dmabuf_fault_inject_alloc(0, 2);
	is_int(try_stub(NULL), -ENOMEM, "inject(0,2): first -> -ENOMEM");
	is_int(try_stub(NULL), -ENOMEM, "inject(0,2): second -> -ENOMEM");
	is_int(try_stub(NULL), 0, "inject(0,2): third -> 0");
	is_int(dmabuf_fault_injected(), 2, "two failures injected");

	dmabuf_fault_inject_alloc(0, 0);
	is_int(dmabuf_fault_injected(), 0, "inject(0,0) resets the count");
	is_int(try_stub(NULL), 0, "inject(0,0) turns injection off");
}

static void test_skip(void)
{
	dmabuf_fault_inject_alloc(2, 1);
	is_int(try_stub(NULL), 0, "inject(2,1): first allocation skipped");
	is_int(try_stub(NULL), 0, "inject(2,1): second allocation skipped");
	is_int(dmabuf_fault_injected(), 0, "skipped allocations are not counted");
	is_int(try_stub(NULL), -ENOMEM, "inject(2,1): third fails");
	is_int(try_stub(NULL), 0, "inject(2,1): fourth succeeds");
	is_int(dmabuf_fault_injected(), 1, "one failure injected");

	dmabuf_fault_inject_alloc(5, 0);
	for (int i = 0; i < 7; i++)
		if (try_stub(NULL))
			break;
	is_int(dmabuf_fault_injected(), 0, "inject(skip, 0) never fails");
	dmabuf_fault_inject_alloc(0, 0);
}

struct other {
	int ret;
	unsigned int injected;
	bool arm;
};

static void *other_main(void *arg)
{
	struct other *o = arg;

	if (o->arm)
		dmabuf_fault_inject_alloc(0, 100);
	o->ret = try_stub(NULL);
	o->injected = dmabuf_fault_injected();
	return NULL;
}

static void run_other(struct other *o)
{
	pthread_t t;

	if (pthread_create(&t, NULL, other_main, o))
		bail_out("pthread_create failed");
	pthread_join(t, NULL);
}

static void test_per_thread(void)
{
	struct other o = { .ret = 1 };

	dmabuf_fault_inject_alloc(0, 2);
	run_other(&o);
	is_int(o.ret, 0, "injection in this thread does not affect another thread");
	is_int(o.injected, 0, "the other thread sees nothing injected");
	is_int(try_stub(NULL), -ENOMEM, "this thread's first allocation still fails");
	is_int(try_stub(NULL), -ENOMEM,
	       "this thread's second still fails (other thread consumed nothing)");
	is_int(dmabuf_fault_injected(), 2, "two injected here");

	dmabuf_fault_inject_alloc(0, 0);
	o = (struct other){ .ret = 0, .arm = true };
	run_other(&o);
	is_int(o.ret, -ENOMEM, "the other thread's own injection works there");
	is_int(o.injected, 1, "the other thread counts its own failure");
	is_int(try_stub(NULL), 0, "another thread's injection does not affect this one");
	is_int(dmabuf_fault_injected(), 0, "nothing injected here");
}

/* A fence that counts enable_signaling calls. */
struct counted_fence {
	struct dmabuf_fence base;
	int enable_calls;
};

static const char *cf_name(struct dmabuf_fence *fence)
{
	return "fault";
}

static bool cf_enable_signaling(struct dmabuf_fence *fence)
{
	dmabuf_container_of(fence, struct counted_fence, base)->enable_calls++;
	return true;
}

static const struct dmabuf_fence_ops cf_ops = {
	.get_driver_name = cf_name,
	.get_timeline_name = cf_name,
	.enable_signaling = cf_enable_signaling,
};

static bool fences_untouched(struct counted_fence *cf, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (cf[i].enable_calls || !dmabuf_list_empty(&cf[i].base.cb_list) ||
		    dmabuf_fence_is_signaled(&cf[i].base) ||
		    atomic_load(&cf[i].base.refcount) != 1)
			return false;
	}
	return true;
}

static void test_wait_any(void)
{
	static struct counted_fence cf[MANY];
	struct dmabuf_fence *f[MANY];
	unsigned int idx = 12345;
	uint64_t ctx = dmabuf_fence_context_alloc(MANY);

	for (unsigned int i = 0; i < MANY; i++) {
		dmabuf_fence_init(&cf[i].base, &cf_ops, NULL, ctx + i, 1);
		dmabuf_fence_get(&cf[i].base);	/* never freed: static storage */
		dmabuf_fence_put(&cf[i].base);
		f[i] = &cf[i].base;
	}
	dmabuf_fault_inject_alloc(0, 1);
	is_int(dmabuf_fence_wait_any_timeout(f, MANY, 1 * MS, &idx), -ENOMEM,
	       "wait_any(%d fences) with the allocation failing -> -ENOMEM", MANY);
	is_int(dmabuf_fault_injected(), 1, "one failure injected");
	is_int(idx, 12345, "idx untouched on -ENOMEM");
	ok(fences_untouched(cf, MANY),
	   "failed wait_any left every fence unchanged (no enable, no callback)");

	dmabuf_fault_inject_alloc(1, 1);
	is_int(dmabuf_fence_wait_any_timeout(f, MANY, 1 * MS, &idx), -ETIME,
	       "inject(1,1): first wait_any allocates fine -> -ETIME");
	is_int(dmabuf_fence_wait_any_timeout(f, MANY, 1 * MS, &idx), -ENOMEM,
	       "inject(1,1): second wait_any -> -ENOMEM");
	is_int(dmabuf_fault_injected(), 1, "one failure injected");

	dmabuf_fault_inject_alloc(0, 0);
	for (unsigned int i = 0; i < MANY; i++)
		dmabuf_fence_signal(f[i]);
}

int main(void)
{
	test_off();
	test_count();
	test_skip();
	test_per_thread();
	test_wait_any();
	return tap_done();
}

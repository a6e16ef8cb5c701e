// SPDX-License-Identifier: MIT
/*
 * test_fence_merge.c - dmabuf_fence_merge(): one fence per context, the
 * later one, signaled ones dropped, ordered by context, stub when empty.
 */
#include <errno.h>
#include <stdlib.h>

#include <dmabuf/fault.h>
#include <dmabuf/fence.h>
#include <dmabuf/fence_array.h>
#include <dmabuf/fence_chain.h>
#include <dmabuf/fence_unwrap.h>

#include "mock_fence.h"
#include "tap.h"

/* @m is an array of exactly the fences @want, in that order. */
static bool is_array_of(struct dmabuf_fence *m, struct dmabuf_fence **want, unsigned int n)
{
	if (!dmabuf_fence_is_array(m) || dmabuf_fence_array_num_fences(m) != n)
		return false;
	for (unsigned int i = 0; i < n; i++)
		if (dmabuf_fence_array_fence(m, i) != want[i])
			return false;
	return true;
}

static void test_args(void)
{
	struct dmabuf_fence *f = tf_new(), *m = (void *)0x1;
	struct dmabuf_fence *with_null[2] = { f, NULL };

	is_int(dmabuf_fence_merge(1, &f, NULL), -EINVAL, "NULL out: EINVAL");
	is_int(dmabuf_fence_merge(1, NULL, &m), -EINVAL, "NULL fences: EINVAL");
	is_int(dmabuf_fence_merge(2, with_null, &m), -EINVAL, "NULL entry: EINVAL");
	ok(m == (void *)0x1 && refs(f) == 1, "failed merge changed nothing");

	is_int(dmabuf_fence_merge(0, NULL, &m), 0, "merge of nothing");
	ok(dmabuf_fence_is_signaled(m) && dmabuf_fence_get_timestamp(m) == 0,
	   "merge of nothing: a signaled stub with timestamp 0");
	dmabuf_fence_put(m);
	dmabuf_fence_signal(f);
	dmabuf_fence_put(f);
}

static void test_single(void)
{
	struct dmabuf_fence *f = tf_new(), *m;

	is_int(dmabuf_fence_merge(1, &f, &m), 0, "merge of one fence");
	ok(m == f && refs(f) == 2, "is that fence, with a new reference");
	dmabuf_fence_put(m);

	is_int(dmabuf_fence_merge(2, (struct dmabuf_fence *[]){ f, f }, &m), 0, "merge(f, f)");
	ok(m == f, "merge(f, f) is f itself: one fence");
	is_int(refs(f), 2, "merge(f, f) holds one reference");
	dmabuf_fence_put(m);
	is_int(refs(f), 1, "duplicate references were dropped");
	dmabuf_fence_signal(f);
	dmabuf_fence_put(f);
}

static void test_same_timeline(void)
{
	uint64_t ctx = dmabuf_fence_context_alloc(1);
	struct dmabuf_fence *a = tf_at(ctx, 5), *b = tf_at(ctx, 9), *m;

	dmabuf_fence_merge(2, (struct dmabuf_fence *[]){ a, b }, &m);
	ok(m == b, "same timeline: the later fence (given last)");
	dmabuf_fence_put(m);
	dmabuf_fence_merge(2, (struct dmabuf_fence *[]){ b, a }, &m);
	ok(m == b, "same timeline: the later fence (given first)");
	dmabuf_fence_put(m);
	ok(refs(a) == 1 && refs(b) == 1, "no reference left behind");
	signal_all((struct dmabuf_fence *[]){ a, b }, 2);
	dmabuf_fence_put(a);
	dmabuf_fence_put(b);
}

/* "Later" follows the fence's own rule: 32-bit timelines wrap. */
static void test_seqno_rule(void)
{
	uint64_t ctx = dmabuf_fence_context_alloc(1);
	struct dmabuf_fence *old = tf_on(&tf_ops32, NULL, ctx, 0xfffffff0u);
	struct dmabuf_fence *wrapped = tf_on(&tf_ops32, NULL, ctx, 5), *m;

	dmabuf_fence_merge(2, (struct dmabuf_fence *[]){ wrapped, old }, &m);
	ok(m == wrapped, "32-bit timeline: a wrapped seqno is the later one");
	dmabuf_fence_put(m);
	signal_all((struct dmabuf_fence *[]){ old, wrapped }, 2);
	dmabuf_fence_put(old);
	dmabuf_fence_put(wrapped);
}

static void test_two_timelines(void)
{
	uint64_t ctx = dmabuf_fence_context_alloc(2);
	struct dmabuf_fence *lo = tf_at(ctx, 3), *hi = tf_at(ctx + 1, 1), *m;
	struct dmabuf_fence *want[2] = { lo, hi };

	is_int(dmabuf_fence_merge(2, (struct dmabuf_fence *[]){ hi, lo }, &m), 0,
	       "merge of two timelines");
	ok(is_array_of(m, want, 2), "an array of both, ordered by context");
	ok(m->context > ctx + 1 && m->seqno == 1, "on a new context with seqno 1");
	is_str(dmabuf_fence_driver_name(m), "dma_fence_array", "driver name of the array");
	dmabuf_fence_signal(lo);
	ok(!dmabuf_fence_is_signaled(m), "signals on all, not on any");
	dmabuf_fence_signal(hi);
	ok(dmabuf_fence_is_signaled(m), "signaled once both are");
	dmabuf_fence_put(m);
	dmabuf_fence_put(lo);
	dmabuf_fence_put(hi);
}

static void test_order_and_dedup(void)
{
	enum { CTX = 6, PER = 3 };
	uint64_t ctx = dmabuf_fence_context_alloc(CTX);
	struct dmabuf_fence *f[CTX * PER], *in[CTX * PER], *want[CTX], *m;
	unsigned int k = 0, seed = 7;

	/* per context, seqnos 1..PER; the latest is seqno PER */
	for (int c = 0; c < CTX; c++)
		for (int s = 0; s < PER; s++) {
			f[c * PER + s] = tf_at(ctx + c, s + 1);
			if (s == PER - 1)
				want[c] = f[c * PER + s];
		}
	for (int i = 0; i < CTX * PER; i++)
		in[i] = f[i];
	for (int i = CTX * PER - 1; i > 0; i--) {
		int j = (seed = seed * 1103515245 + 12345) % (i + 1);
		struct dmabuf_fence *t = in[i];

		in[i] = in[j];
		in[j] = t;
	}
	is_int(dmabuf_fence_merge(CTX * PER, in, &m), 0, "merge of shuffled fences");
	ok(is_array_of(m, want, CTX), "one per context, the latest, ordered by context");
	for (int i = 0; i < CTX * PER; i++)
		k += refs(f[i]) == (f[i]->seqno == PER ? 2 : 1);
	is_int(k, CTX * PER, "only the kept fences are referenced by the result");
	dmabuf_fence_put(m);
	signal_all(f, CTX * PER);
	put_all(f, CTX * PER);
}

static void test_signaled_dropped(void)
{
	struct dmabuf_fence *a = tf_new(), *b = tf_new(), *c = tf_new(), *m;

	dmabuf_fence_signal(a);
	dmabuf_fence_merge(2, (struct dmabuf_fence *[]){ a, b }, &m);
	ok(m == b, "a signaled fence is dropped");
	dmabuf_fence_put(m);

	dmabuf_fence_merge(3, (struct dmabuf_fence *[]){ c, a, b }, &m);
	ok(is_array_of(m, (struct dmabuf_fence *[]){ b, c }, 2),
	   "signaled fences dropped from a larger merge");
	dmabuf_fence_put(m);
	signal_all((struct dmabuf_fence *[]){ b, c }, 2);
	put_all((struct dmabuf_fence *[]){ a, b, c }, 3);
}

static void test_all_signaled(void)
{
	struct dmabuf_fence *a = tf_new(), *b = tf_new(), *c = tf_new(), *m;
	struct dmabuf_fence *parts[2] = { b, c }, *arr;
	int64_t now = dmabuf_now_ns();

	dmabuf_fence_array_create(2, parts, dmabuf_fence_context_alloc(1), 1, false, &arr);
	dmabuf_fence_signal_timestamp(a, now - 3000);
	dmabuf_fence_signal_timestamp(b, now - 1000);	/* the latest, inside the array */
	dmabuf_fence_signal_timestamp(c, now - 2000);
	is_int(dmabuf_fence_merge(2, (struct dmabuf_fence *[]){ arr, a }, &m), 0,
	       "merge of signaled fences");
	ok(m != a && m != arr && m != b && m != c, "a new fence");
	is_str(dmabuf_fence_driver_name(m), "stub", "a stub");
	is_str(dmabuf_fence_timeline_name(m), "stub", "timeline 'stub'");
	is_int(dmabuf_fence_get_status(m), 1, "signaled without error");
	is_int(dmabuf_fence_get_timestamp(m), now - 1000, "with the latest timestamp of the leaves");
	dmabuf_fence_put(m);
	dmabuf_fence_put(arr);
	put_all((struct dmabuf_fence *[]){ a, b, c }, 3);
}

/* Errors: a signaled error fence is dropped like any signaled fence. */
static void test_error_fences(void)
{
	struct dmabuf_fence *a = tf_new(), *b = tf_new(), *c = tf_new(), *m;

	dmabuf_fence_set_error(a, -EIO);
	dmabuf_fence_signal(a);
	dmabuf_fence_merge(1, &a, &m);
	ok(m != a, "a signaled error fence alone merges into a stub");
	is_int(dmabuf_fence_get_status(m), 1, "the stub carries no error");
	dmabuf_fence_put(m);

	dmabuf_fence_merge(2, (struct dmabuf_fence *[]){ a, b }, &m);
	ok(m == b, "a signaled error fence is dropped from a merge");
	dmabuf_fence_put(m);

	/*
	 * An error set later on a pending member reaches the merged array
	 * only if somebody waited on it before (Linux 6.12: the conformance
	 * cases sync_file.info.two-*-count and two-error-after-poll).
	 */
	dmabuf_fence_merge(2, (struct dmabuf_fence *[]){ b, c }, &m);
	dmabuf_fence_set_error(c, -ENODEV);
	dmabuf_fence_signal(c);
	dmabuf_fence_signal(b);
	is_int(dmabuf_fence_get_status(m), 1,
	       "a later member error is not seen by a merge nobody waited on");
	dmabuf_fence_put(m);
	put_all((struct dmabuf_fence *[]){ a, b, c }, 3);

	b = tf_new();
	c = tf_new();
	dmabuf_fence_merge(2, (struct dmabuf_fence *[]){ b, c }, &m);
	dmabuf_fence_enable_signaling(m);
	dmabuf_fence_set_error(c, -ENODEV);
	dmabuf_fence_signal(c);
	dmabuf_fence_signal(b);
	is_int(dmabuf_fence_get_status(m), -ENODEV,
	       "a later member error propagates once somebody waited on the merge");
	dmabuf_fence_put(m);
	put_all((struct dmabuf_fence *[]){ b, c }, 2);
}

/* Containers as inputs: leaves are merged, results of merges re-merge flat. */
static void test_containers(void)
{
	uint64_t ctx = dmabuf_fence_context_alloc(3);
	struct dmabuf_fence *f1 = tf_at(ctx, 1), *f2 = tf_at(ctx, 2), *g = tf_at(ctx + 1, 4);
	struct dmabuf_fence *h = tf_at(ctx + 2, 1), *l1, *l2, *m1, *m2;

	dmabuf_fence_chain_create(NULL, f1, 1, &l1);
	dmabuf_fence_chain_create(l1, g, 2, &l2);
	dmabuf_fence_merge(2, (struct dmabuf_fence *[]){ h, f2 }, &m1);
	is_int(dmabuf_fence_merge(2, (struct dmabuf_fence *[]){ m1, l2 }, &m2), 0,
	       "merge of an array and a chain");
	ok(is_array_of(m2, (struct dmabuf_fence *[]){ f2, g, h }, 3),
	   "flattened to the leaves, one per context, ordered");
	dmabuf_fence_put(m2);
	dmabuf_fence_put(m1);
	dmabuf_fence_put(l2);
	dmabuf_fence_put(l1);
	signal_all((struct dmabuf_fence *[]){ f1, f2, g, h }, 4);
	put_all((struct dmabuf_fence *[]){ f1, f2, g, h }, 4);
}

/* More leaves than the merge keeps on its stack. */
static void test_many(void)
{
	enum { N = 40 };
	struct dmabuf_fence *f[N], *arr, *m;

	for (int i = 0; i < N; i++)
		f[i] = tf_new();
	dmabuf_fence_array_create(N, f, dmabuf_fence_context_alloc(1), 1, false, &arr);
	is_int(dmabuf_fence_merge(1, &arr, &m), 0, "merge of %d leaves", N);
	ok(is_array_of(m, f, N), "all %d kept, in context order", N);
	dmabuf_fence_put(m);
	dmabuf_fence_put(arr);
	signal_all(f, N);
	put_all(f, N);
}

/* Every allocation of a merge may fail: nothing changes, nothing leaks. */
static void test_fault_injection(void)
{
	enum { N = 20 };
	struct dmabuf_fence *f[N], *arr, *m;
	int ret, fails = 0, unchanged = 1;
	unsigned int skip;

	for (int i = 0; i < N; i++)
		f[i] = tf_new();
	dmabuf_fence_array_create(N, f, dmabuf_fence_context_alloc(1), 1, false, &arr);
	for (skip = 0; skip < 64; skip++) {
		m = NULL;
		dmabuf_fault_inject_alloc(skip, 1);
		ret = dmabuf_fence_merge(1, &arr, &m);
		if (!dmabuf_fault_injected()) {
			dmabuf_fault_inject_alloc(0, 0);
			break;
		}
		dmabuf_fault_inject_alloc(0, 0);
		if (ret != -ENOMEM || m)
			unchanged = 0;
		for (int i = 0; i < N; i++)
			if (refs(f[i]) != 2)
				unchanged = 0;
		fails++;
	}
	ok(fails >= 2, "merge has allocations to fail (%d)", fails);
	ok(unchanged, "each failure returns -ENOMEM and leaves all references as they were");
	is_int(ret, 0, "without failure the merge succeeds");
	ok(is_array_of(m, f, N), "and is complete");
	dmabuf_fence_put(m);

	/* the stub path */
	signal_all(f, N);
	dmabuf_fault_inject_alloc(0, 1);
	ret = dmabuf_fence_merge(1, &arr, &m);
	dmabuf_fault_inject_alloc(0, 0);
	is_int(ret, -ENOMEM, "stub allocation failure: -ENOMEM");
	dmabuf_fence_put(arr);
	put_all(f, N);
}

int main(void)
{
	test_args();
	test_single();
	test_same_timeline();
	test_seqno_rule();
	test_two_timelines();
	test_order_and_dedup();
	test_signaled_dropped();
	test_all_signaled();
	test_error_fences();
	test_containers();
	test_many();
	test_fault_injection();
	is_int(atomic_load(&tf_released), atomic_load(&tf_created),
	       "every test fence was released exactly once");
	return tap_done();
}

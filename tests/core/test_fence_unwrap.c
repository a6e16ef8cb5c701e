// SPDX-License-Identifier: MIT
/*
 * test_fence_unwrap.c - iterating over the leaves of arrays and chains.
 */
#include <errno.h>
#include <stdlib.h>

#include <dmabuf/fence.h>
#include <dmabuf/fence_array.h>
#include <dmabuf/fence_chain.h>
#include <dmabuf/fence_unwrap.h>

#include "mock_fence.h"
#include "tap.h"

static struct dmabuf_fence *mk_array(struct dmabuf_fence **f, unsigned int n)
{
	struct dmabuf_fence *a;

	if (dmabuf_fence_array_create(n, f, dmabuf_fence_context_alloc(1), 1, false, &a))
		bail_out("array_create failed");
	return a;
}

static struct dmabuf_fence *mk_link(struct dmabuf_fence *prev, struct dmabuf_fence *f,
				    uint64_t seqno)
{
	struct dmabuf_fence *l;

	if (dmabuf_fence_chain_create(prev, f, seqno, &l))
		bail_out("chain_create failed");
	return l;
}

/*
 * Unwrap @head; every leaf must be one of @want, and each of them must be
 * visited exactly once.  Returns true if so; @order receives the visit order.
 */
static bool visits_exactly(struct dmabuf_fence *head, struct dmabuf_fence **want,
			   unsigned int n, struct dmabuf_fence **order)
{
	struct dmabuf_fence_unwrap cursor;
	struct dmabuf_fence *leaf;
	int *seen = calloc(n ? n : 1, sizeof(*seen));
	unsigned int visits = 0;
	bool good = true;

	dmabuf_fence_unwrap_for_each(leaf, &cursor, head) {
		unsigned int i;

		for (i = 0; i < n && want[i] != leaf; i++)
			;
		if (i == n)
			good = false;
		else
			seen[i]++;
		if (order && visits < n)
			order[visits] = leaf;
		visits++;
	}
	for (unsigned int i = 0; i < n; i++)
		good = good && seen[i] == 1;
	free(seen);
	/* the count is what an iteration visits */
	good = good && dmabuf_fence_unwrap_count(head) == visits;
	return good && visits == n && cursor.chain == NULL;
}

static void test_plain(void)
{
	struct dmabuf_fence *f = tf_new();
	struct dmabuf_fence_unwrap cursor;

	ok(visits_exactly(f, &f, 1, NULL), "a plain fence is its own only leaf");
	is_int(refs(f), 1, "iteration left the reference count alone");
	ok(!dmabuf_fence_unwrap_first(NULL, &cursor), "NULL head: no leaf");
	is_int(dmabuf_fence_unwrap_count(NULL), 0, "NULL head: count 0");
	ok(!dmabuf_fence_unwrap_next(&cursor), "next after the end: NULL");
	ok(!dmabuf_fence_unwrap_first(f, NULL), "NULL cursor: NULL");
	dmabuf_fence_signal(f);
	ok(visits_exactly(f, &f, 1, NULL), "a signaled plain fence is still visited");
	dmabuf_fence_put(f);
}

static void test_array(void)
{
	struct dmabuf_fence *f[3] = { tf_new(), tf_new(), tf_new() }, *order[3], *a;

	a = mk_array(f, 3);
	ok(visits_exactly(a, f, 3, order), "array: each fence once");
	ok(order[0] == f[0] && order[1] == f[1] && order[2] == f[2], "array: in array order");
	dmabuf_fence_signal(f[1]);
	ok(visits_exactly(a, f, 3, NULL), "array: signaled fences are leaves too");
	is_int(refs(a), 1, "array: reference count restored");
	signal_all(f, 3);
	put_all(f, 3);
	dmabuf_fence_put(a);
}

static void test_chain(void)
{
	struct dmabuf_fence *f[3] = { tf_new(), tf_new(), tf_new() }, *l[3], *order[3];

	l[0] = mk_link(NULL, f[0], 1);
	l[1] = mk_link(l[0], f[1], 2);
	l[2] = mk_link(l[1], f[2], 3);
	ok(visits_exactly(l[2], f, 3, order), "chain: each payload once");
	ok(order[0] == f[2] && order[2] == f[0], "chain: newest first");
	dmabuf_fence_signal(f[1]);
	ok(visits_exactly(l[2], (struct dmabuf_fence *[]){ f[2], f[0] }, 2, NULL),
	   "chain: links whose payload signaled are skipped");
	dmabuf_fence_signal(f[2]);
	ok(visits_exactly(l[2], (struct dmabuf_fence *[]){ f[2], f[0] }, 2, NULL),
	   "chain: the head's payload is visited even when signaled");
	is_int(refs(l[2]), 1, "chain: reference count restored");
	signal_all(f, 3);
	put_all(l, 3);
	put_all(f, 3);
}

static void test_chain_of_arrays(void)
{
	enum { LINKS = 4, PER = 3 };
	struct dmabuf_fence *f[LINKS * PER], *arrays[LINKS], *links[LINKS], *prev = NULL;

	for (int i = 0; i < LINKS * PER; i++)
		f[i] = tf_new();
	for (int i = 0; i < LINKS; i++) {
		arrays[i] = mk_array(f + i * PER, PER);
		links[i] = mk_link(prev, arrays[i], i + 1);
		prev = links[i];
	}
	ok(visits_exactly(prev, f, LINKS * PER, NULL),
	   "chain of arrays: every leaf exactly once");
	signal_all(f, LINKS * PER);
	put_all(links, LINKS);
	put_all(arrays, LINKS);
	put_all(f, LINKS * PER);
}

/* Mixed payloads: a plain fence, an array, a plain fence as first point. */
static void test_mixed_chain(void)
{
	struct dmabuf_fence *start = tf_new(), *p = tf_new(), *q[2] = { tf_new(), tf_new() };
	struct dmabuf_fence *arr = mk_array(q, 2), *l1, *l2;
	struct dmabuf_fence *want[4] = { start, p, q[0], q[1] };

	l1 = mk_link(start, p, 1);
	l2 = mk_link(l1, arr, 2);
	ok(visits_exactly(l2, want, 4, NULL),
	   "mixed chain: array leaves, plain payload and the plain first point");
	signal_all(want, 4);
	dmabuf_fence_put(l2);
	dmabuf_fence_put(l1);
	dmabuf_fence_put(arr);
	put_all(want, 4);
}

/*
 * Like the kernel, only arrays inside chains are unwrapped: a container
 * inside an array (which the kernel forbids) comes out as one leaf.
 */
static void test_container_in_array(void)
{
	struct dmabuf_fence *f[2] = { tf_new(), tf_new() }, *l, *a;
	struct dmabuf_fence *items[2];

	l = mk_link(NULL, f[0], 1);
	items[0] = l;
	items[1] = f[1];
	a = mk_array(items, 2);
	ok(visits_exactly(a, items, 2, NULL), "a chain inside an array is one leaf");
	signal_all(f, 2);
	dmabuf_fence_put(a);
	dmabuf_fence_put(l);
	put_all(f, 2);
}

static void test_break_early(void)
{
	struct dmabuf_fence *f[2] = { tf_new(), tf_new() }, *l0, *l1, *leaf;
	struct dmabuf_fence_unwrap cursor;

	l0 = mk_link(NULL, f[0], 1);
	l1 = mk_link(l0, f[1], 2);
	leaf = dmabuf_fence_unwrap_first(l1, &cursor);
	ok(leaf == f[1], "first leaf");
	is_int(refs(l1), 2, "the cursor holds a reference while iterating");
	dmabuf_fence_unwrap_end(&cursor);
	is_int(refs(l1), 1, "unwrap_end dropped it");
	dmabuf_fence_unwrap_end(&cursor);
	is_int(refs(l1), 1, "unwrap_end twice is harmless");
	signal_all(f, 2);
	dmabuf_fence_put(l1);
	dmabuf_fence_put(l0);
	put_all(f, 2);
}

int main(void)
{
	test_plain();
	test_array();
	test_chain();
	test_chain_of_arrays();
	test_mixed_chain();
	test_container_in_array();
	test_break_early();
	is_int(atomic_load(&tf_released), atomic_load(&tf_created),
	       "every test fence was released exactly once");
	return tap_done();
}

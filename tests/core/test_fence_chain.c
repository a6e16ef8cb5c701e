// SPDX-License-Identifier: MIT
/*
 * test_fence_chain.c - chain links: contexts, find_seqno, walk, signaling
 * order, waits from other threads, references, long chains.
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

/* A timeline of @n links over fresh payloads, seqno(i) for link i. */
struct chain {
	unsigned int n;
	struct dmabuf_fence **fences;	/* payloads */
	struct dmabuf_fence **links;
	struct dmabuf_fence *tail;
};

static void chain_build(struct chain *c, unsigned int n, pthread_mutex_t *lock,
			uint64_t (*seqno)(unsigned int))
{
	struct dmabuf_fence *prev = NULL;

	c->n = n;
	c->fences = calloc(n, sizeof(*c->fences));
	c->links = calloc(n, sizeof(*c->links));
	if (!c->fences || !c->links)
		bail_out("out of memory");
	for (unsigned int i = 0; i < n; i++) {
		c->fences[i] = tf_new_locked(lock);
		if (dmabuf_fence_chain_create(prev, c->fences[i], seqno(i), &c->links[i]))
			bail_out("chain_create failed");
		prev = c->links[i];
	}
	c->tail = prev;
}

static void chain_destroy(struct chain *c)
{
	for (unsigned int i = 0; i < c->n; i++) {
		dmabuf_fence_put(c->links[i]);
		dmabuf_fence_put(c->fences[i]);
	}
	free(c->links);
	free(c->fences);
}

static void chain_signal_all(struct chain *c)
{
	signal_all(c->fences, c->n);
}

static uint64_t seqno_inc(unsigned int i)
{
	return i + 1;
}

static uint64_t seqno_inc2(unsigned int i)
{
	return 2 * i + 2;
}

static void test_create(void)
{
	struct dmabuf_fence *f = tf_new(), *g = tf_new(), *l1, *l2, *l3, *l4, *l5;
	struct dmabuf_fence *out = (void *)0x1;

	is_int(dmabuf_fence_chain_create(NULL, NULL, 1, &out), -EINVAL, "NULL payload: EINVAL");
	is_int(dmabuf_fence_chain_create(NULL, f, 1, NULL), -EINVAL, "NULL out: EINVAL");
	ok(out == (void *)0x1, "failed create leaves *out alone");

	is_int(dmabuf_fence_chain_create(NULL, f, 5, &l1), 0, "first link");
	ok(dmabuf_fence_is_chain(l1) && dmabuf_fence_is_container(l1), "is a chain and a container");
	ok(!dmabuf_fence_is_array(l1), "is no array");
	ok(!dmabuf_fence_is_chain(f) && !dmabuf_fence_is_chain(NULL), "plain fence, NULL: no chain");
	is_str(dmabuf_fence_driver_name(l1), "dma_fence_chain", "driver name");
	is_str(dmabuf_fence_timeline_name(l1), "unbound", "timeline name");
	is_int(l1->seqno, 5, "first link keeps its seqno");
	ok(l1->context != f->context, "first link: a new context");
	ok(dmabuf_fence_chain_contained(l1) == f, "contained: the payload");
	ok(dmabuf_fence_chain_contained(f) == f, "contained of a plain fence: itself");
	ok(!dmabuf_fence_chain_contained(NULL), "contained of NULL: NULL");
	is_int(refs(f), 2, "link took a payload reference");

	dmabuf_fence_chain_create(l1, g, 7, &l2);
	ok(l2->context == l1->context && l2->seqno == 7, "later seqno continues the context");
	is_int(refs(l1), 2, "link took a reference to prev");

	dmabuf_fence_chain_create(l2, g, 7, &l3);
	ok(l3->context != l2->context, "equal seqno: new context");
	is_int(l3->seqno, 7, "equal seqno: seqno kept");

	dmabuf_fence_chain_create(l2, g, 3, &l4);
	ok(l4->context != l2->context, "earlier seqno: new context");
	is_int(l4->seqno, 7, "earlier seqno: raised to prev's seqno");

	dmabuf_fence_chain_create(f, g, 1, &l5);
	ok(l5->context != f->context && l5->seqno == 1,
	   "plain prev: new context, seqno as given");

	dmabuf_fence_put(l5);
	dmabuf_fence_put(l4);
	dmabuf_fence_put(l3);
	dmabuf_fence_put(l2);
	dmabuf_fence_put(l1);
	is_int(refs(f), 1, "links released their references");
	dmabuf_fence_put(f);
	dmabuf_fence_put(g);
}

static void test_find_seqno(void)
{
	struct chain c;
	struct dmabuf_fence *fence, *plain = tf_new();
	bool all_ok = true;

	chain_build(&c, 16, NULL, seqno_inc);

	fence = plain;
	is_int(dmabuf_fence_chain_find_seqno(&fence, 0), 0, "find(0) on a plain fence: no-op");
	ok(fence == plain, "find(0): fence unchanged");
	is_int(dmabuf_fence_chain_find_seqno(&fence, 1), -EINVAL, "find on a plain fence: EINVAL");
	is_int(dmabuf_fence_chain_find_seqno(NULL, 1), -EINVAL, "find(NULL): EINVAL");

	fence = dmabuf_fence_get(c.tail);
	is_int(dmabuf_fence_chain_find_seqno(&fence, 0), 0, "find(0) on the chain");
	ok(fence == c.tail, "find(0) is a no-op");
	is_int(dmabuf_fence_chain_find_seqno(&fence, 17), -EINVAL, "future seqno: EINVAL");
	ok(fence == c.tail && refs(c.tail) == 2, "future seqno: fence and reference kept");
	dmabuf_fence_put(fence);

	for (unsigned int i = 0; i < c.n; i++) {
		fence = dmabuf_fence_get(c.tail);
		if (dmabuf_fence_chain_find_seqno(&fence, i + 1) || fence != c.links[i])
			all_ok = false;
		dmabuf_fence_put(fence);
		/* searching from the link itself finds itself */
		fence = dmabuf_fence_get(c.links[i]);
		if (dmabuf_fence_chain_find_seqno(&fence, i + 1) || fence != c.links[i])
			all_ok = false;
		dmabuf_fence_put(fence);
		/* and the next seqno is in the future for it */
		fence = c.links[i];
		if (dmabuf_fence_chain_find_seqno(&fence, i + 2) != -EINVAL)
			all_ok = false;
	}
	ok(all_ok, "find(n) returns link n, from the tail and from itself");
	is_int(refs(c.tail), 1, "find_seqno balanced its references");

	chain_signal_all(&c);
	chain_destroy(&c);
	dmabuf_fence_put(plain);
}

static void test_find_gap(void)
{
	struct chain c;
	struct dmabuf_fence *fence;
	bool all_ok = true;

	chain_build(&c, 16, NULL, seqno_inc2);
	for (unsigned int i = 0; i < c.n; i++) {
		fence = dmabuf_fence_get(c.tail);
		if (dmabuf_fence_chain_find_seqno(&fence, 2 * i + 1) || fence != c.links[i])
			all_ok = false;
		dmabuf_fence_put(fence);
	}
	ok(all_ok, "gap: a seqno between two links is served by the link above it");
	chain_signal_all(&c);
	chain_destroy(&c);
}

static void test_find_signaled(void)
{
	struct chain c;
	struct dmabuf_fence *fence;

	chain_build(&c, 2, NULL, seqno_inc);
	dmabuf_fence_signal(c.fences[0]);
	fence = dmabuf_fence_get(c.tail);
	is_int(dmabuf_fence_chain_find_seqno(&fence, 1), 0, "find signaled point");
	ok(fence == NULL, "a point whose timeline has signaled: NULL");
	chain_signal_all(&c);
	chain_destroy(&c);

	/* 1-2-3 with 2 signaled: point 2 needs link 1 (2 is collected) */
	chain_build(&c, 3, NULL, seqno_inc);
	dmabuf_fence_signal(c.fences[1]);
	fence = dmabuf_fence_get(c.tail);
	is_int(dmabuf_fence_chain_find_seqno(&fence, 2), 0, "find out of order");
	ok(fence == c.links[0], "out of order: the oldest unsignaled link is returned");
	dmabuf_fence_put(fence);
	chain_signal_all(&c);
	chain_destroy(&c);
}

static void test_walk(void)
{
	struct chain c;
	struct dmabuf_fence *iter, *plain = tf_new();
	int before;

	chain_build(&c, 4, NULL, seqno_inc);
	iter = dmabuf_fence_chain_walk(dmabuf_fence_get(c.tail));
	ok(iter == c.links[2], "walk: previous link");
	is_int(refs(c.tail), 1, "walk dropped the reference given in");
	dmabuf_fence_put(iter);

	dmabuf_fence_signal(c.fences[2]);
	dmabuf_fence_signal(c.fences[1]);
	iter = dmabuf_fence_chain_walk(dmabuf_fence_get(c.tail));
	ok(iter == c.links[0], "walk skips links whose payload signaled");
	dmabuf_fence_put(iter);
	dmabuf_fence_put(c.links[1]);
	dmabuf_fence_put(c.links[2]);
	c.links[1] = c.links[2] = NULL;
	ok(refs(c.fences[1]) == 1 && refs(c.fences[2]) == 1,
	   "walk unlinked the signaled links (garbage collection)");

	dmabuf_fence_signal(c.fences[0]);
	ok(!dmabuf_fence_chain_walk(dmabuf_fence_get(c.tail)), "walk past the start: NULL");
	ok(!dmabuf_fence_chain_walk(NULL), "walk(NULL): NULL");
	before = refs(plain);
	ok(!dmabuf_fence_chain_walk(dmabuf_fence_get(plain)), "walk of a plain fence: NULL");
	is_int(refs(plain), before, "walk of a plain fence dropped its reference");

	chain_signal_all(&c);
	chain_destroy(&c);
	dmabuf_fence_put(plain);
}

/* Record the order in which links signal. */
struct order_cb {
	struct dmabuf_fence_cb cb;
	unsigned int index;
	struct chain *chain;
	bool *ok;
	int *runs;
};

static void order_cb_func(struct dmabuf_fence *f, struct dmabuf_fence_cb *cb)
{
	struct order_cb *o = (struct order_cb *)cb;

	/* every payload up to this link must have signaled */
	for (unsigned int i = 0; i <= o->index; i++)
		if (!(atomic_load(&o->chain->fences[i]->flags) &
		      (1UL << DMABUF_FENCE_FLAG_SIGNALED)))
			*o->ok = false;
	o->runs[o->index]++;
}

static void check_order(const char *name, const unsigned int *perm, unsigned int n)
{
	struct chain c;
	struct order_cb *cbs = calloc(n, sizeof(*cbs));
	int *runs = calloc(n, sizeof(*runs));
	bool in_order = true, exact = true, status_ok = true;

	chain_build(&c, n, NULL, seqno_inc);
	for (unsigned int i = 0; i < n; i++) {
		cbs[i] = (struct order_cb){ .index = i, .chain = &c, .ok = &in_order, .runs = runs };
		dmabuf_fence_add_callback(c.links[i], &cbs[i].cb, order_cb_func);
	}
	for (unsigned int k = 0; k < n; k++) {
		dmabuf_fence_signal(c.fences[perm[k]]);
		/* link i is signaled iff payloads 0..i all are */
		for (unsigned int i = 0; i < n; i++) {
			bool want = true;

			for (unsigned int j = 0; j <= i; j++)
				want = want && dmabuf_fence_get_status(c.fences[j]) == 1;
			if ((dmabuf_fence_get_status(c.links[i]) == 1) != want)
				status_ok = false;
		}
	}
	for (unsigned int i = 0; i < n; i++)
		if (runs[i] != 1)
			exact = false;
	ok(in_order, "%s: a link signals only after its payload and all earlier ones", name);
	ok(status_ok, "%s: each link is signaled exactly when all payloads up to it are", name);
	ok(exact, "%s: every link callback ran exactly once", name);
	chain_destroy(&c);
	free(cbs);
	free(runs);
}

static void test_signal_order(void)
{
	enum { N = 8 };
	unsigned int fwd[N], bwd[N], mixed[N] = { 3, 7, 0, 5, 1, 6, 2, 4 };

	for (unsigned int i = 0; i < N; i++) {
		fwd[i] = i;
		bwd[i] = N - 1 - i;
	}
	check_order("forward", fwd, N);
	check_order("backward", bwd, N);
	check_order("mixed", mixed, N);
}

/* Polling alone (no callback, no waiter) sees a link complete. */
static void test_polling(void)
{
	struct chain c;

	chain_build(&c, 3, NULL, seqno_inc);
	dmabuf_fence_signal(c.fences[2]);
	dmabuf_fence_signal(c.fences[1]);
	ok(!dmabuf_fence_is_signaled(c.tail), "poll: pending while the first payload is");
	dmabuf_fence_signal(c.fences[0]);
	ok(dmabuf_fence_is_signaled(c.tail), "poll: tail signaled once all payloads are");
	ok(dmabuf_fence_is_signaled(c.links[0]), "poll: first link signaled");
	is_int(dmabuf_fence_get_status(c.tail), 1, "status 1");
	chain_destroy(&c);
}

/* The first point may be a plain fence: it must signal too. */
static void test_plain_prev(void)
{
	struct dmabuf_fence *start = tf_new(), *f = tf_new(), *link;

	dmabuf_fence_chain_create(start, f, 1, &link);
	dmabuf_fence_enable_signaling(link);
	dmabuf_fence_signal(f);
	ok(!dmabuf_fence_is_signaled(link), "plain prev: link waits for it");
	dmabuf_fence_signal(start);
	ok(dmabuf_fence_is_signaled(link), "plain prev: link signaled after it");
	dmabuf_fence_put(link);
	dmabuf_fence_put(start);
	dmabuf_fence_put(f);
}

/* An array as payload, and a chain with an already signaled middle. */
static void test_array_payload(void)
{
	struct dmabuf_fence *f[2] = { tf_new(), tf_new() }, *arr, *l1, *l2, *g = tf_new();

	dmabuf_fence_array_create(2, f, dmabuf_fence_context_alloc(1), 1, false, &arr);
	dmabuf_fence_chain_create(NULL, arr, 1, &l1);
	dmabuf_fence_chain_create(l1, g, 2, &l2);
	dmabuf_fence_signal(g);
	dmabuf_fence_enable_signaling(l2);
	dmabuf_fence_signal(f[1]);
	ok(!dmabuf_fence_is_signaled(l2), "array payload: pending");
	dmabuf_fence_signal(f[0]);
	ok(dmabuf_fence_is_signaled(l1) && dmabuf_fence_is_signaled(l2),
	   "array payload: signaled when the array is");
	dmabuf_fence_put(l2);
	dmabuf_fence_put(l1);
	dmabuf_fence_put(arr);
	dmabuf_fence_put(f[0]);
	dmabuf_fence_put(f[1]);
	dmabuf_fence_put(g);
}

static void test_deadline(void)
{
	struct chain c;

	chain_build(&c, 3, NULL, seqno_inc);
	dmabuf_fence_signal(c.fences[1]);
	dmabuf_fence_set_deadline(c.tail, 777);
	ok(((struct tfence *)c.fences[0])->deadline == 777 &&
	   ((struct tfence *)c.fences[2])->deadline == 777,
	   "deadline forwarded to the pending payloads");
	is_int(((struct tfence *)c.fences[1])->deadline, 0, "not to a signaled one");
	chain_signal_all(&c);
	chain_destroy(&c);
}

static void test_fault_injection(void)
{
	struct dmabuf_fence *f = tf_new(), *g = tf_new(), *l1, *l2 = NULL;
	uint64_t next_ctx;
	int ret;

	dmabuf_fence_chain_create(NULL, f, 1, &l1);
	dmabuf_fault_inject_alloc(0, 1);
	ret = dmabuf_fence_chain_create(l1, g, 2, &l2);
	dmabuf_fault_inject_alloc(0, 0);
	is_int(ret, -ENOMEM, "enomem: create fails");
	ok(!l2, "enomem: *out untouched");
	ok(refs(l1) == 1 && refs(g) == 1, "enomem: no reference taken");
	next_ctx = dmabuf_fence_context_alloc(1);
	dmabuf_fault_inject_alloc(0, 1);
	dmabuf_fence_chain_create(NULL, g, 2, &l2);
	dmabuf_fault_inject_alloc(0, 0);
	ok(dmabuf_fence_context_alloc(1) == next_ctx + 1, "enomem: no context consumed");

	/* arming and completing allocate nothing */
	dmabuf_fault_inject_alloc(0, 100);
	dmabuf_fence_enable_signaling(l1);
	dmabuf_fence_signal(f);
	dmabuf_fault_inject_alloc(0, 0);
	ok(dmabuf_fence_is_signaled(l1), "signaling a chain needs no allocation");
	dmabuf_fence_put(l1);
	dmabuf_fence_put(f);
	dmabuf_fence_put(g);
}

/* References: an armed link holds itself until it has completed. */
static void test_refcounts(void)
{
	struct chain c;
	bool alive = true, freed = true;

	chain_build(&c, 3, NULL, seqno_inc);
	dmabuf_fence_enable_signaling(c.tail);
	for (unsigned int i = 0; i < 3; i++) {
		dmabuf_fence_put(c.links[i]);
		c.links[i] = NULL;
	}
	for (unsigned int i = 0; i < 3; i++)
		alive = alive && refs(c.fences[i]) == 2;
	ok(alive, "armed links outlive their users' references");
	dmabuf_fence_signal(c.fences[2]);
	dmabuf_fence_signal(c.fences[0]);
	ok(refs(c.fences[2]) == 2, "a link waiting for an earlier one stays");
	dmabuf_fence_signal(c.fences[1]);
	for (unsigned int i = 0; i < 3; i++)
		freed = freed && refs(c.fences[i]) == 1;
	ok(freed, "completed links were released");
	chain_destroy(&c);
}

/* ---- long chains and threads ---- */

struct waiter {
	pthread_barrier_t *start;
	struct dmabuf_fence *fence;
	int ret;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	dmabuf_fence_enable_signaling(w->fence);
	pthread_barrier_wait(w->start);
	w->ret = dmabuf_fence_wait_timeout(w->fence, DMABUF_TIMEOUT_INFINITE);
	return NULL;
}

static void wait_tail(const char *name, unsigned int n, int order)
{
	struct chain c;
	pthread_barrier_t start;
	struct waiter w = { .start = &start, .ret = -1 };
	pthread_t thread;
	unsigned int *perm = malloc(n * sizeof(*perm));
	unsigned int seed = 12345;

	for (unsigned int i = 0; i < n; i++)
		perm[i] = order < 0 ? n - 1 - i : i;
	if (order == 0) {
		for (unsigned int i = n - 1; i > 0; i--) {
			unsigned int j = (seed = seed * 1103515245 + 12345) % (i + 1), t = perm[i];

			perm[i] = perm[j];
			perm[j] = t;
		}
	}
	chain_build(&c, n, NULL, seqno_inc);
	w.fence = c.tail;
	pthread_barrier_init(&start, NULL, 2);
	pthread_create(&thread, NULL, wait_thread, &w);
	pthread_barrier_wait(&start);
	for (unsigned int i = 0; i < n; i++)
		dmabuf_fence_signal(c.fences[perm[i]]);
	pthread_join(thread, NULL);
	is_int(w.ret, 0, "%s: waiting on the tail of %u links returns", name, n);
	ok(dmabuf_fence_is_signaled(c.links[0]) && dmabuf_fence_is_signaled(c.links[n / 2]),
	   "%s: earlier links signaled too", name);
	pthread_barrier_destroy(&start);
	chain_destroy(&c);
	free(perm);
}

/* Payloads sharing one timeline lock, signaled under it. */
static void test_shared_lock(void)
{
	enum { N = 64 };
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_barrier_t start;
	struct waiter w = { .start = &start };
	pthread_t thread;
	struct chain c;

	chain_build(&c, N, &lock, seqno_inc);
	w.fence = c.tail;
	pthread_barrier_init(&start, NULL, 2);
	pthread_create(&thread, NULL, wait_thread, &w);
	pthread_barrier_wait(&start);
	pthread_mutex_lock(&lock);
	for (int i = N - 1; i >= 0; i--)
		dmabuf_fence_signal_locked(c.fences[i]);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	is_int(w.ret, 0, "shared timeline lock: tail wait completes, no deadlock");
	pthread_barrier_destroy(&start);
	chain_destroy(&c);
	pthread_mutex_destroy(&lock);
}

/* Many threads wait on different links while payloads signal. */
static void test_many_waiters(void)
{
	enum { N = 32, W = 8 };
	pthread_barrier_t start;
	struct waiter w[W];
	pthread_t threads[W];
	struct chain c;
	bool all_ok = true;

	chain_build(&c, N, NULL, seqno_inc);
	pthread_barrier_init(&start, NULL, W + 1);
	for (int i = 0; i < W; i++) {
		w[i] = (struct waiter){ .start = &start, .fence = c.links[(i * N) / W + 1], .ret = -1 };
		pthread_create(&threads[i], NULL, wait_thread, &w[i]);
	}
	pthread_barrier_wait(&start);
	for (int i = N - 1; i >= 0; i--)
		dmabuf_fence_signal(c.fences[i]);
	for (int i = 0; i < W; i++) {
		pthread_join(threads[i], NULL);
		all_ok = all_ok && w[i].ret == 0;
	}
	ok(all_ok, "several threads waiting on different links all return");
	pthread_barrier_destroy(&start);
	chain_destroy(&c);
}

/* A long chain dropped from the tail is freed without deep recursion. */
static void test_long_release(void)
{
	enum { N = 200000 };
	struct dmabuf_fence *prev = NULL, *link, *f;
	int before = atomic_load(&tf_released);

	for (unsigned int i = 0; i < N; i++) {
		f = tf_new();
		dmabuf_fence_chain_create(prev, f, i + 1, &link);
		dmabuf_fence_put(prev);
		dmabuf_fence_signal(f);
		dmabuf_fence_put(f);
		prev = link;
	}
	dmabuf_fence_put(prev);
	is_int(atomic_load(&tf_released) - before, N, "a long chain is released completely");
}

int main(void)
{
	test_create();
	test_find_seqno();
	test_find_gap();
	test_find_signaled();
	test_walk();
	test_signal_order();
	test_polling();
	test_plain_prev();
	test_array_payload();
	test_deadline();
	test_fault_injection();
	test_refcounts();
	wait_tail("forward", 64, 1);
	wait_tail("backward", 4096, -1);
	wait_tail("random", 4096, 0);
	test_shared_lock();
	test_many_waiters();
	test_long_release();
	is_int(atomic_load(&tf_released), atomic_load(&tf_created),
	       "every test fence was released exactly once");
	return tap_done();
}

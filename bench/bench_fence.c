// SPDX-License-Identifier: MIT
/*
 * bench_fence.c - fence init/signal/put, get/put, and callbacks.
 *
 * Fences are initialized with dmabuf_fence_init() on storage the benchmark
 * owns (reused: release does nothing) or on malloc'd storage (no release
 * op: the core free()s the fence on the last put).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <dmabuf/fence.h>

#include "bench.h"

static const char *bench_name(struct dmabuf_fence *fence)
{
	return "bench";
}

static void release_nothing(struct dmabuf_fence *fence)
{
	/* storage is reused by the benchmark */
}

/* Reused storage: release must not free it. */
static const struct dmabuf_fence_ops reuse_ops = {
	.get_driver_name = bench_name,
	.get_timeline_name = bench_name,
	.release = release_nothing,
	.use_64bit_seqno = true,
};

/* malloc'd storage: no release op, so the core free()s the fence. */
static const struct dmabuf_fence_ops malloc_ops = {
	.get_driver_name = bench_name,
	.get_timeline_name = bench_name,
	.use_64bit_seqno = true,
};

static uint64_t bench_context;
static struct dmabuf_fence reused_fence;
static pthread_mutex_t timeline_lock = PTHREAD_MUTEX_INITIALIZER;

static void run_fence_reused(void *arg, uint64_t iters)
{
	struct dmabuf_fence *f = &reused_fence;

	for (uint64_t i = 0; i < iters; i++) {
		dmabuf_fence_init(f, &reuse_ops, NULL, bench_context, i + 1);
		dmabuf_fence_signal(f);
		dmabuf_fence_put(f);
	}
}

static void run_fence_shared_lock(void *arg, uint64_t iters)
{
	struct dmabuf_fence *f = &reused_fence;

	for (uint64_t i = 0; i < iters; i++) {
		dmabuf_fence_init(f, &reuse_ops, &timeline_lock, bench_context,
				  i + 1);
		dmabuf_fence_signal(f);
		dmabuf_fence_put(f);
	}
}

static void run_fence_malloc(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++) {
		struct dmabuf_fence *f = malloc(sizeof(*f));

		if (!f)
			abort();
		dmabuf_fence_init(f, &malloc_ops, NULL, bench_context, i + 1);
		dmabuf_fence_signal(f);
		dmabuf_fence_put(f);
	}
}

static void run_fence_get_put(void *arg, uint64_t iters)
{
	struct dmabuf_fence *f = &reused_fence;

	for (uint64_t i = 0; i < iters; i++) {
		dmabuf_fence_get(f);
		dmabuf_fence_put(f);
	}
}

/* Callbacks: each run increments a counter; checked after each batch. */
struct cb_bench {
	unsigned int ncb;
	uint64_t expected;
	uint64_t counted;
	bool mismatch;
};

static uint64_t cb_counter;

static void count_cb(struct dmabuf_fence *fence, struct dmabuf_fence_cb *cb)
{
	cb_counter++;
}

static int cb_setup(void *arg, uint64_t iters)
{
	struct cb_bench *b = arg;

	cb_counter = 0;
	b->expected = iters * b->ncb;
	return 0;
}

static void cb_teardown(void *arg)
{
	struct cb_bench *b = arg;

	b->counted += cb_counter;
	if (cb_counter != b->expected)
		b->mismatch = true;
}

static void run_callbacks(void *arg, uint64_t iters)
{
	struct cb_bench *b = arg;
	struct dmabuf_fence_cb cbs[8];
	struct dmabuf_fence *f = &reused_fence;

	for (uint64_t i = 0; i < iters; i++) {
		dmabuf_fence_init(f, &reuse_ops, NULL, bench_context, i + 1);
		for (unsigned int c = 0; c < b->ncb; c++)
			if (dmabuf_fence_add_callback(f, &cbs[c], count_cb))
				abort();
		dmabuf_fence_signal(f);
		dmabuf_fence_put(f);
	}
}

static void fence_row(const char *name, bench_run_fn fn,
		      const struct bench_floor *floor,
		      enum bench_goal_kind goal, double goal_value,
		      const char *note)
{
	struct bench_spec spec = { .name = name, .run = fn, .floor = floor };
	struct bench_stats st;

	if (!bench_selected(name))
		return;
	bench_measure(&spec, &st);
	bench_add_timed("fence", &spec, &st, goal, goal_value, note);
}

static void callback_row(const char *name, unsigned int ncb)
{
	struct cb_bench b = { .ncb = ncb };
	/* add_callback takes the lock once, signal once plus the clock. */
	struct bench_spec spec = {
		.name = name, .run = run_callbacks, .arg = &b,
		.setup = cb_setup, .teardown = cb_teardown,
		.floor = &bench_floor_mutex2_clock,
	};
	struct bench_stats st;
	char note[96];

	if (!bench_selected(name))
		return;
	bench_measure(&spec, &st);
	snprintf(note, sizeof(note), "%s; %llu callbacks counted",
		 b.mismatch ? "CALLBACK COUNT WRONG" : "count ok",
		 (unsigned long long)b.counted);
	bench_add_timed("fence callbacks", &spec, &st, BENCH_GOAL_NONE, 0,
			note);
}

void bench_run_fence(void)
{
	bench_context = dmabuf_fence_context_alloc(1);
	fence_row("fence init+signal+put (reused)", run_fence_reused,
		  &bench_floor_mutex_clock, BENCH_GOAL_NS_MAX, 100,
		  "own lock; storage reused");
	fence_row("fence init+signal+put (malloc)", run_fence_malloc,
		  &bench_floor_malloc_mutex_clock, BENCH_GOAL_NS_MAX, 100,
		  "own lock; malloc'd, core free()s");
	fence_row("fence init+signal+put (shared lock)",
		  run_fence_shared_lock, &bench_floor_mutex_clock,
		  BENCH_GOAL_NONE, 0, "timeline lock; storage reused");
	dmabuf_fence_init(&reused_fence, &reuse_ops, NULL, bench_context, 1);
	fence_row("fence get+put", run_fence_get_put, &bench_floor_atomic,
		  BENCH_GOAL_NONE, 0, NULL);
	dmabuf_fence_put(&reused_fence);
	callback_row("add_callback x1 + signal + put", 1);
	callback_row("add_callback x4 + signal + put", 4);
}

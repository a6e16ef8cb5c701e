// SPDX-License-Identifier: MIT
/*
 * bench_ww_mutex.c - uncontended ww_mutex lock/unlock against a
 * pthread_mutex lock/unlock pair.
 */
#include <stdio.h>
#include <stdlib.h>

#include <dmabuf/ww_mutex.h>

#include "bench.h"

#define WW_RATIO_GOAL 2.0

static struct dmabuf_ww_class bench_class = DMABUF_WW_CLASS_INIT("bench");
static struct dmabuf_ww_mutex bench_lock;

static void run_no_ctx(void *arg, uint64_t iters)
{
	bool *failed = arg;

	for (uint64_t i = 0; i < iters; i++) {
		if (dmabuf_ww_mutex_lock(&bench_lock, NULL)) {
			*failed = true;
			return;
		}
		bench_clobber();
		dmabuf_ww_mutex_unlock(&bench_lock);
	}
}

/* One acquire context for the whole batch: the per-lock cost. */
static void run_with_ctx(void *arg, uint64_t iters)
{
	struct dmabuf_ww_acquire_ctx ctx;
	bool *failed = arg;

	dmabuf_ww_acquire_init(&ctx, &bench_class);
	for (uint64_t i = 0; i < iters; i++) {
		if (dmabuf_ww_mutex_lock(&bench_lock, &ctx)) {
			*failed = true;
			break;
		}
		bench_clobber();
		dmabuf_ww_mutex_unlock(&bench_lock);
	}
	dmabuf_ww_acquire_fini(&ctx);
}

/* A whole (single-lock) transaction: init, lock, done, unlock, fini. */
static void run_ctx_lifecycle(void *arg, uint64_t iters)
{
	struct dmabuf_ww_acquire_ctx ctx;
	bool *failed = arg;

	for (uint64_t i = 0; i < iters; i++) {
		dmabuf_ww_acquire_init(&ctx, &bench_class);
		if (dmabuf_ww_mutex_lock(&bench_lock, &ctx)) {
			*failed = true;
			dmabuf_ww_acquire_fini(&ctx);
			return;
		}
		dmabuf_ww_acquire_done(&ctx);
		bench_clobber();
		dmabuf_ww_mutex_unlock(&bench_lock);
		dmabuf_ww_acquire_fini(&ctx);
	}
}

static void run_trylock(void *arg, uint64_t iters)
{
	bool *failed = arg;

	for (uint64_t i = 0; i < iters; i++) {
		if (!dmabuf_ww_mutex_trylock(&bench_lock, NULL)) {
			*failed = true;
			return;
		}
		bench_clobber();
		dmabuf_ww_mutex_unlock(&bench_lock);
	}
}

static void ww_row(const char *name, bench_run_fn fn,
		   enum bench_goal_kind goal, const char *note)
{
	bool failed = false;
	struct bench_spec spec = {
		.name = name, .run = fn, .arg = &failed,
		.floor = &bench_floor_mutex,
	};
	struct bench_stats st;

	if (!bench_selected(name))
		return;
	bench_measure(&spec, &st);
	if (failed) {
		bench_add_skipped("ww_mutex (uncontended)", name,
				  "a lock call failed");
		return;
	}
	bench_add_timed("ww_mutex (uncontended)", &spec, &st, goal,
			WW_RATIO_GOAL, note);
}

void bench_run_ww_mutex(void)
{
	dmabuf_ww_mutex_init(&bench_lock, &bench_class);
	ww_row("ww_mutex lock+unlock, no ctx", run_no_ctx,
	       BENCH_GOAL_RATIO_MAX, "lock(m, NULL)");
	ww_row("ww_mutex lock+unlock, ctx", run_with_ctx,
	       BENCH_GOAL_RATIO_MAX, "one acquire ctx for the batch");
	ww_row("ww acquire_init+lock+done+unlock+fini", run_ctx_lifecycle,
	       BENCH_GOAL_NONE, "a one-lock transaction");
	ww_row("ww_mutex trylock+unlock, no ctx", run_trylock,
	       BENCH_GOAL_NONE, NULL);
	dmabuf_ww_mutex_destroy(&bench_lock);
}

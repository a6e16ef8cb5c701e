// SPDX-License-Identifier: MIT
/*
 * floors.c - the primitive operations every ratio is measured against.
 *
 * Each floor is the libc/pthread work that an operation of the library
 * can not avoid (a signal must take a lock and read the clock; a get/put
 * pair must do two atomic read-modify-writes; ...).  Composite floors do
 * in one loop the primitives one particular operation needs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <dmabuf/fence.h>

#include "bench.h"

static pthread_mutex_t floor_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t floor_mutex2 = PTHREAD_MUTEX_INITIALIZER;
static atomic_int floor_counter = 1;

static inline void mutex_pair(pthread_mutex_t *m)
{
	pthread_mutex_lock(m);
	bench_clobber();
	pthread_mutex_unlock(m);
}

static inline void mutex_clock(void)
{
	struct timespec ts;

	pthread_mutex_lock(&floor_mutex);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	bench_escape(&ts);
	pthread_mutex_unlock(&floor_mutex);
}

static inline void atomic_pair(void)
{
	atomic_fetch_add_explicit(&floor_counter, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&floor_counter, 1, memory_order_acq_rel);
}

static void run_mutex(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++)
		mutex_pair(&floor_mutex);
}

static void run_clock(void *arg, uint64_t iters)
{
	struct timespec ts;

	for (uint64_t i = 0; i < iters; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		bench_escape(&ts);
	}
}

static void run_mutex_clock(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++)
		mutex_clock();
}

static void run_malloc(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++) {
		void *p = malloc(sizeof(struct dmabuf_fence));

		bench_escape(p);
		free(p);
	}
}

static void run_atomic(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++)
		atomic_pair();
}

static void run_malloc_mutex_clock(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++) {
		void *p = malloc(sizeof(struct dmabuf_fence));

		bench_escape(p);
		mutex_clock();
		free(p);
	}
}

static void run_mutex2_clock(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++) {
		mutex_pair(&floor_mutex2);
		mutex_clock();
	}
}

static void run_mutex_2atomic(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++) {
		pthread_mutex_lock(&floor_mutex);
		atomic_pair();
		atomic_pair();
		pthread_mutex_unlock(&floor_mutex);
	}
}

const struct bench_floor bench_floor_mutex = {
	"mutex", "pthread_mutex lock+unlock (uncontended)", run_mutex,
};
const struct bench_floor bench_floor_clock = {
	"clock", "clock_gettime(CLOCK_MONOTONIC)", run_clock,
};
const struct bench_floor bench_floor_mutex_clock = {
	"mutex+clock", "mutex lock + clock_gettime + unlock", run_mutex_clock,
};
const struct bench_floor bench_floor_malloc = {
	"malloc", "malloc+free of sizeof(struct dmabuf_fence)", run_malloc,
};
const struct bench_floor bench_floor_atomic = {
	"atomic", "atomic fetch_add + fetch_sub", run_atomic,
};
const struct bench_floor bench_floor_malloc_mutex_clock = {
	"malloc+mtx+clock", "malloc + (mutex+clock) + free",
	run_malloc_mutex_clock,
};
const struct bench_floor bench_floor_mutex2_clock = {
	"mutex+mtx+clock", "mutex pair + (mutex+clock)", run_mutex2_clock,
};
const struct bench_floor bench_floor_mutex_2atomic = {
	"mutex+2atomic", "mutex lock + 2 atomic pairs + unlock",
	run_mutex_2atomic,
};

/* The standalone floor rows at the top of the table, for reference. */
void bench_run_floors(void)
{
	static const struct bench_floor *const floors[] = {
		&bench_floor_mutex, &bench_floor_clock,
		&bench_floor_mutex_clock, &bench_floor_malloc,
		&bench_floor_atomic, &bench_floor_malloc_mutex_clock,
		&bench_floor_mutex2_clock, &bench_floor_mutex_2atomic,
	};

	for (size_t i = 0; i < sizeof(floors) / sizeof(floors[0]); i++) {
		struct bench_spec spec = {
			.name = floors[i]->desc, .run = floors[i]->run,
		};
		struct bench_stats st;
		struct bench_row r = {
			.section = "floors (measured alone; each row below "
				   "re-measures its floor interleaved)",
			.floor = floors[i]->key,
			.goal = BENCH_GOAL_FLOOR,
		};

		bench_measure(&spec, &st);
		snprintf(r.name, sizeof(r.name), "%s", floors[i]->desc);
		r.ns = st.median_ns;
		r.floor_ns = st.median_ns;
		r.spread_pct = 100.0 * (st.max_ns - st.min_ns) / st.median_ns;
		bench_add_row(&r);
	}
}

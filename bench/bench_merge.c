// SPDX-License-Identifier: MIT
/*
 * bench_merge.c - how dmabuf_fence_merge() and dmabuf_resv_get_singleton()
 * scale with the number of fences N = 1, 2, 4, ... 1024.
 *
 * Each size is measured against a floor measured at the same size: taking
 * and dropping a reference to each of the N fences plus allocating and
 * freeing an array of N pointers, the least any operation that returns a
 * fence standing for N fences must do.  The growth check fits t = a * N^b
 * by least squares on log t over log N for N >= 16: b = 1 is linear, pure
 * N log2 N over that range fits b ~ 1.22, quadratic b = 2.  As the floor
 * is linear in N, 1 + the fitted slope of the ratio to the floor is a
 * second estimate of b that machine load disturbs less; the note shows it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <dmabuf/fence.h>
#include <dmabuf/fence_unwrap.h>
#include <dmabuf/resv.h>

#include "bench.h"

#define MAX_N 1024
#define NUM_SIZES 11		/* 1 .. 1024 */
#define FIT_FROM 16		/* growth fit uses N >= this */
#define EXP_GOAL 1.30

static const char *merge_name(struct dmabuf_fence *fence)
{
	return "bench-merge";
}

static void merge_release(struct dmabuf_fence *fence)
{
	free(fence);
}

static const struct dmabuf_fence_ops merge_ops = {
	.get_driver_name = merge_name,
	.get_timeline_name = merge_name,
	.release = merge_release,
	.use_64bit_seqno = true,
};

/* MAX_N unsignaled fences, each on its own context, in shuffled order. */
static struct dmabuf_fence *fences[MAX_N];

struct size_bench {
	unsigned int n;
	struct dmabuf_resv *resv;
	bool failed;
};

static void run_floor(void *arg, uint64_t iters)
{
	struct size_bench *b = arg;

	for (uint64_t i = 0; i < iters; i++) {
		struct dmabuf_fence **p = malloc(b->n * sizeof(*p));

		if (!p)
			abort();
		for (unsigned int k = 0; k < b->n; k++)
			p[k] = dmabuf_fence_get(fences[k]);
		bench_escape(p);
		for (unsigned int k = 0; k < b->n; k++)
			dmabuf_fence_put(p[k]);
		free(p);
	}
}

static const struct bench_floor refs_floor = {
	"N refs+array", "malloc N pointers, get+put N fences, free",
	run_floor,
};

static void run_merge(void *arg, uint64_t iters)
{
	struct size_bench *b = arg;
	struct dmabuf_fence *out;

	for (uint64_t i = 0; i < iters; i++) {
		if (dmabuf_fence_merge(b->n, fences, &out)) {
			b->failed = true;
			return;
		}
		dmabuf_fence_put(out);
	}
}

static void run_singleton(void *arg, uint64_t iters)
{
	struct size_bench *b = arg;
	struct dmabuf_fence *out;

	for (uint64_t i = 0; i < iters; i++) {
		/* An unlocked reader, as the API allows. */
		if (dmabuf_resv_get_singleton(b->resv, DMABUF_RESV_USAGE_READ,
					      NULL, &out) || !out) {
			b->failed = true;
			return;
		}
		dmabuf_fence_put(out);
	}
}

static int make_fences(void)
{
	uint64_t ctx = dmabuf_fence_context_alloc(MAX_N);
	unsigned int seed = 12345;

	for (unsigned int i = 0; i < MAX_N; i++) {
		fences[i] = malloc(sizeof(*fences[i]));
		if (!fences[i])
			return -1;
		dmabuf_fence_init(fences[i], &merge_ops, NULL, ctx + i, 1);
	}
	/* Shuffle so the inputs are not already sorted by context. */
	for (unsigned int i = MAX_N - 1; i > 0; i--) {
		unsigned int j;
		struct dmabuf_fence *t;

		seed = seed * 1103515245u + 12345u;
		j = (seed >> 8) % (i + 1);
		t = fences[i];
		fences[i] = fences[j];
		fences[j] = t;
	}
	return 0;
}

static void drop_fences(void)
{
	for (unsigned int i = 0; i < MAX_N; i++) {
		if (!fences[i])
			continue;
		dmabuf_fence_signal(fences[i]);
		dmabuf_fence_put(fences[i]);
		fences[i] = NULL;
	}
}

/* @resv, initialized, holding the first @n fences with READ usage. */
static int fill_resv(struct dmabuf_resv *resv, unsigned int n)
{
	int ret;

	ret = dmabuf_resv_init(resv);
	if (ret)
		return ret;
	dmabuf_resv_lock(resv, NULL);
	ret = dmabuf_resv_reserve_fences(resv, n);
	for (unsigned int k = 0; !ret && k < n; k++)
		ret = dmabuf_resv_add_fence(resv, fences[k],
					    DMABUF_RESV_USAGE_READ);
	dmabuf_resv_unlock(resv);
	if (ret)
		dmabuf_resv_fini(resv);
	return ret;
}

/* Least-squares slope of log(t) over log(n) for sizes n >= FIT_FROM. */
static double growth_exponent(const double *t, const unsigned int *n,
			      unsigned int count)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	unsigned int m = 0;

	for (unsigned int i = 0; i < count; i++) {
		double x, y;

		if (n[i] < FIT_FROM || t[i] <= 0)
			continue;
		x = log((double)n[i]);
		y = log(t[i]);
		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
		m++;
	}
	if (m < 2)
		return NAN;
	return (m * sxy - sx * sy) / (m * sxx - sx * sx);
}

struct series {
	const char *label;	/* "merge" or "get_singleton" */
	bench_run_fn run;
	bool uses_resv;
	double t[NUM_SIZES];
	double ratio[NUM_SIZES];	/* t / interleaved floor */
	unsigned int n[NUM_SIZES];
	unsigned int count;
};

static void measure_size(struct series *s, unsigned int n)
{
	struct dmabuf_resv resv;
	struct size_bench b = { .n = n };
	struct bench_spec spec = {
		.run = s->run, .arg = &b, .floor = &refs_floor,
	};
	struct bench_stats st;
	char name[64], note[96];
	double prev = s->count ? s->t[s->count - 1] : 0;

	snprintf(name, sizeof(name), "%s N=%u", s->label, n);
	spec.name = name;
	if (s->uses_resv) {
		if (fill_resv(&resv, n)) {
			bench_add_skipped("merge / get_singleton scaling",
					  name, "could not build the resv");
			return;
		}
		b.resv = &resv;
	}
	bench_measure(&spec, &st);
	if (b.resv)
		dmabuf_resv_fini(b.resv);
	if (b.failed) {
		bench_add_skipped("merge / get_singleton scaling", name,
				  "the call failed");
		return;
	}
	if (prev > 0)
		snprintf(note, sizeof(note),
			 "%.1f ns/fence; x%.2f vs N/2; %.2f ns/(N log2 2N)",
			 st.median_ns / n, st.median_ns / prev,
			 st.median_ns / (n * log2(2.0 * n)));
	else
		snprintf(note, sizeof(note), "%.1f ns/fence", st.median_ns / n);
	bench_add_timed("merge / get_singleton scaling", &spec, &st,
			BENCH_GOAL_NONE, 0, note);
	s->t[s->count] = st.median_ns;
	s->ratio[s->count] = st.median_ns / st.floor_ns;
	s->n[s->count] = n;
	s->count++;
}

static void growth_row(const struct series *s)
{
	struct bench_row r = {
		.section = "merge / get_singleton scaling",
		.goal = BENCH_GOAL_EXP_MAX,
		.goal_value = EXP_GOAL,
	};
	double worst = 0, normalized;

	for (unsigned int i = 1; i < s->count; i++)
		if (s->n[i] >= 2 * FIT_FROM && s->t[i] / s->t[i - 1] > worst)
			worst = s->t[i] / s->t[i - 1];
	r.ns = growth_exponent(s->t, s->n, s->count);
	/* The floor is linear: 1 + the slope of the ratio, robust to load. */
	normalized = 1 + growth_exponent(s->ratio, s->n, s->count);
	snprintf(r.name, sizeof(r.name), "%s growth exponent, N=%u..%u",
		 s->label, FIT_FROM, MAX_N);
	snprintf(r.note, sizeof(r.note),
		 "t ~ N^b; N log N fits 1.22; 1 + slope of ratio %.2f; worst t(2N)/t(N) %.2f",
		 normalized, worst);
	if (isnan(r.ns))
		r.skipped = true;
	bench_add_row(&r);
}

void bench_run_merge(void)
{
	struct series merge = { .label = "merge", .run = run_merge };
	struct series single = {
		.label = "get_singleton", .run = run_singleton,
		.uses_resv = true,
	};
	bool do_merge = bench_selected("merge");
	bool do_single = bench_selected("get_singleton");

	if (!do_merge && !do_single)
		return;
	if (make_fences()) {
		bench_add_skipped("merge / get_singleton scaling", "merge",
				  "out of memory");
		drop_fences();
		return;
	}
	for (unsigned int n = 1; n <= MAX_N; n *= 2) {
		if (do_merge)
			measure_size(&merge, n);
		if (do_single)
			measure_size(&single, n);
	}
	if (do_merge)
		growth_row(&merge);
	if (do_single)
		growth_row(&single);
	drop_fences();
}

// SPDX-License-Identifier: MIT
/*
 * harness.c - batch timing, medians, and the result tables.
 */
#include <errno.h>
#include <linux/futex.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MAX_REPS 64
#define MAX_ROWS 256

struct bench_opts bench_opts;

static struct bench_row rows[MAX_ROWS];
static unsigned int nrows;
static struct bench_mem_row mem_rows[MAX_ROWS];
static unsigned int nmem_rows;

int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

bool bench_selected(const char *name)
{
	return !bench_opts.filter || strstr(name, bench_opts.filter);
}

/* One batch of @iters; *@ns receives the timed part only. */
static int run_batch(const struct bench_spec *spec, uint64_t iters,
		     int64_t *ns)
{
	int64_t t0, t1;
	int ret;

	if (spec->setup) {
		ret = spec->setup(spec->arg, iters);
		if (ret)
			return ret;
	}
	t0 = bench_now_ns();
	spec->run(spec->arg, iters);
	t1 = bench_now_ns();
	if (spec->teardown)
		spec->teardown(spec->arg);
	*ns = t1 - t0;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Grow @iters until a batch lasts about bench_opts.batch_ns. */
static int calibrate(const struct bench_spec *spec, uint64_t *iters_out)
{
	int64_t target = bench_opts.batch_ns, t;
	uint64_t iters = 1, next;
	int ret;

	for (;;) {
		ret = run_batch(spec, iters, &t);
		if (ret)
			return ret;
		if (t >= target * 7 / 10 ||
		    (spec->max_iters && iters >= spec->max_iters))
			break;
		if (t < 1000)
			next = iters * 16;
		else
			next = (uint64_t)((double)iters * target / t * 1.05) + 1;
		if (next > iters * 16)
			next = iters * 16;
		if (spec->max_iters && next > spec->max_iters)
			next = spec->max_iters;
		iters = next;
	}
	*iters_out = iters;
	return 0;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int bench_measure(const struct bench_spec *spec, struct bench_stats *st)
{
	unsigned int reps = bench_opts.reps, ops = spec->ops_per_iter;
	double samples[MAX_REPS], floor_samples[MAX_REPS];
	struct bench_spec floor = { 0 };
	uint64_t iters, floor_iters = 0;
	int64_t t;
	int ret;

	if (reps > MAX_REPS)
		reps = MAX_REPS;
	if (!ops)
		ops = 1;
	if (spec->floor) {
		floor.name = spec->floor->key;
		floor.run = spec->floor->run;
		floor.arg = spec->arg;
		ret = calibrate(&floor, &floor_iters);
		if (ret)
			return ret;
	}
	ret = calibrate(spec, &iters);
	if (ret)
		return ret;
	/* Warm-up: caches, branch predictors, the allocator's free lists. */
	if (spec->floor)
		run_batch(&floor, floor_iters, &t);
	ret = run_batch(spec, iters, &t);
	if (ret)
		return ret;
	for (unsigned int i = 0; i < reps; i++) {
		if (spec->floor) {
			run_batch(&floor, floor_iters, &t);
			floor_samples[i] = (double)t / (double)floor_iters;
		}
		ret = run_batch(spec, iters, &t);
		if (ret)
			return ret;
		samples[i] = (double)t / ((double)iters * ops);
	}
	st->floor_ns = spec->floor ? median(floor_samples, reps) : 0;
	st->median_ns = median(samples, reps);
	st->min_ns = samples[0];
	st->max_ns = samples[reps - 1];
	st->iters = iters * ops;
	st->reps = reps;
	return 0;
}

void bench_add_row(const struct bench_row *row)
{
	if (nrows < MAX_ROWS)
		rows[nrows++] = *row;
}

void bench_add_timed(const char *section, const struct bench_spec *spec,
		     const struct bench_stats *st, enum bench_goal_kind goal,
		     double goal_value, const char *note)
{
	struct bench_row r = {
		.section = section,
		.ns = st->median_ns,
		.spread_pct = st->median_ns > 0 ?
			100.0 * (st->max_ns - st->min_ns) / st->median_ns : 0,
		.floor = spec->floor ? spec->floor->key : NULL,
		.floor_ns = st->floor_ns,
		.goal = goal,
		.goal_value = goal_value,
	};

	snprintf(r.name, sizeof(r.name), "%s", spec->name);
	if (note)
		snprintf(r.note, sizeof(r.note), "%s", note);
	bench_add_row(&r);
}

void bench_add_skipped(const char *section, const char *name, const char *why)
{
	struct bench_row r = { .section = section, .skipped = true };

	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.note, sizeof(r.note), "%s", why);
	bench_add_row(&r);
}

void bench_add_mem(const struct bench_mem_row *row)
{
	if (nmem_rows < MAX_ROWS)
		mem_rows[nmem_rows++] = *row;
}

static double row_ratio(const struct bench_row *r)
{
	if (r->goal == BENCH_GOAL_EXP_MAX)
		return r->ns;
	if (!r->floor || r->floor_ns <= 0)
		return NAN;
	return r->ns / r->floor_ns;
}

static const char *row_verdict(const struct bench_row *r)
{
	if (r->skipped)
		return "skipped";
	switch (r->goal) {
	case BENCH_GOAL_FLOOR:
		return "floor";
	case BENCH_GOAL_NS_MAX:
		return r->ns <= r->goal_value ? "meets" : "misses";
	case BENCH_GOAL_RATIO_MAX:
	case BENCH_GOAL_EXP_MAX:
		return row_ratio(r) <= r->goal_value ? "meets" : "misses";
	default:
		return "info";
	}
}

static void format_goal(const struct bench_row *r, char *buf, size_t len)
{
	switch (r->goal) {
	case BENCH_GOAL_NS_MAX:
		snprintf(buf, len, "<= %.0f ns", r->goal_value);
		break;
	case BENCH_GOAL_RATIO_MAX:
		snprintf(buf, len, "ratio <= %.1f", r->goal_value);
		break;
	case BENCH_GOAL_EXP_MAX:
		snprintf(buf, len, "exp <= %.2f", r->goal_value);
		break;
	default:
		snprintf(buf, len, "-");
	}
}

static void print_table(void)
{
	const char *section = NULL;
	char goal[32], ns[16], spread[16], floor_ns[16], ratio[16];

	printf("%-42s %9s %5s  %-16s %8s %7s  %-13s %-7s  %s\n",
	       "benchmark", "ns/op", "+-%", "floor", "floor ns", "ratio",
	       "goal", "verdict", "note");
	for (unsigned int i = 0; i < nrows; i++) {
		const struct bench_row *r = &rows[i];
		double q = row_ratio(r);

		if (!section || strcmp(section, r->section)) {
			section = r->section;
			printf("-- %s\n", section);
		}
		format_goal(r, goal, sizeof(goal));
		if (r->skipped || r->goal == BENCH_GOAL_EXP_MAX) {
			snprintf(ns, sizeof(ns), "-");
			snprintf(spread, sizeof(spread), "-");
		} else {
			snprintf(ns, sizeof(ns), "%.1f", r->ns);
			snprintf(spread, sizeof(spread), "%.0f", r->spread_pct);
		}
		if (r->floor)
			snprintf(floor_ns, sizeof(floor_ns), "%.1f", r->floor_ns);
		else
			snprintf(floor_ns, sizeof(floor_ns), "-");
		if (isnan(q) || r->skipped)
			snprintf(ratio, sizeof(ratio), "-");
		else
			snprintf(ratio, sizeof(ratio), "%.2f", q);
		printf("%-42s %9s %5s  %-16s %8s %7s  %-13s %-7s  %s\n",
		       r->name, ns, spread, r->floor ? r->floor : "-",
		       floor_ns, ratio, goal, row_verdict(r), r->note);
	}
}

static void print_mem_table(void)
{
	if (!nmem_rows)
		return;
	printf("\n%-42s %8s %12s  %s\n", "memory", "sizeof", "heap B/obj",
	       "note");
	for (unsigned int i = 0; i < nmem_rows; i++) {
		const struct bench_mem_row *m = &mem_rows[i];
		char sz[24];

		if (m->sizeof_bytes >= 0)
			snprintf(sz, sizeof(sz), "%ld", m->sizeof_bytes);
		else
			snprintf(sz, sizeof(sz), "-");
		printf("%-42s %8s %12.1f  %s\n", m->name, sz, m->heap_bytes,
		       m->note);
	}
}

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_num(double v)
{
	if (isnan(v) || isinf(v))
		printf("null");
	else
		printf("%.3f", v);
}

static void print_json(void)
{
	printf("{\"machine\": ");
	json_str(bench_opts.machine);
	printf(", \"quick\": %s, \"reps\": %u, \"batch_ns\": %lld, \"rows\": [\n",
	       bench_opts.quick ? "true" : "false", bench_opts.reps,
	       (long long)bench_opts.batch_ns);
	for (unsigned int i = 0; i < nrows; i++) {
		const struct bench_row *r = &rows[i];
		char goal[32];

		format_goal(r, goal, sizeof(goal));
		printf("  {\"section\": ");
		json_str(r->section);
		printf(", \"name\": ");
		json_str(r->name);
		printf(", \"ns_per_op\": ");
		json_num(r->skipped || r->goal == BENCH_GOAL_EXP_MAX ? NAN : r->ns);
		printf(", \"spread_pct\": ");
		json_num(r->skipped ? NAN : r->spread_pct);
		printf(", \"floor\": ");
		if (r->floor)
			json_str(r->floor);
		else
			printf("null");
		printf(", \"floor_ns\": ");
		json_num(r->floor ? r->floor_ns : NAN);
		printf(", \"ratio\": ");
		json_num(r->skipped ? NAN : row_ratio(r));
		printf(", \"goal\": ");
		json_str(goal);
		printf(", \"verdict\": ");
		json_str(row_verdict(r));
		printf(", \"note\": ");
		json_str(r->note);
		printf("}%s\n", i + 1 < nrows ? "," : "");
	}
	printf("], \"memory\": [\n");
	for (unsigned int i = 0; i < nmem_rows; i++) {
		const struct bench_mem_row *m = &mem_rows[i];

		printf("  {\"name\": ");
		json_str(m->name);
		printf(", \"sizeof\": %ld, \"heap_bytes\": ", m->sizeof_bytes);
		json_num(m->heap_bytes);
		printf(", \"note\": ");
		json_str(m->note);
		printf("}%s\n", i + 1 < nmem_rows ? "," : "");
	}
	printf("]}\n");
}

int bench_print(void)
{
	int missed = 0;

	for (unsigned int i = 0; i < nrows; i++)
		if (!strcmp(row_verdict(&rows[i]), "misses"))
			missed++;
	if (bench_opts.json) {
		print_json();
		return missed;
	}
	print_table();
	print_mem_table();
	return missed;
}

/* ---- helpers for the cross-process rows ---- */

static long futex(_Atomic uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

void bench_futex_wait_while(_Atomic uint32_t *a, uint32_t val)
{
	while (atomic_load(a) == val)
		futex(a, FUTEX_WAIT, val);
}

void bench_futex_set(_Atomic uint32_t *a, uint32_t val)
{
	atomic_store(a, val);
	futex(a, FUTEX_WAKE, 1);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

double bench_quantile(int64_t *v, unsigned int n, double q)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	return (double)v[(unsigned int)(q * (n - 1) + 0.5)];
}

/* ---- command line ---- */

int bench_parse_args(int argc, char **argv, bench_opt_fn extra, void (*usage)(FILE *f))
{
	/*
	 * Short batches, many of them: on a loaded machine a batch that lasts less than a
	 * scheduler time slice is often not interrupted, and the median then ignores the ones
	 * that were.
	 */
	bench_opts.reps = 31;
	bench_opts.batch_ns = 1000 * 1000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			bench_opts.quick = true;
		} else if (!strcmp(argv[i], "--json")) {
			bench_opts.json = true;
		} else if (!strcmp(argv[i], "--filter") && i + 1 < argc) {
			bench_opts.filter = argv[++i];
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			bench_opts.reps = (unsigned int)strtoul(argv[++i], NULL, 0);
			if (bench_opts.reps < 3)
				bench_opts.reps = 3;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			exit(0);
		} else if (!extra || !extra(argc, argv, &i)) {
			usage(stderr);
			return -1;
		}
	}
	if (bench_opts.quick) {
		bench_opts.batch_ns = 200 * 1000;
		if (bench_opts.reps > 7)
			bench_opts.reps = 7;
	}
	return 0;
}

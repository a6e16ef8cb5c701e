/* SPDX-License-Identifier: MIT */
/*
 * bench.h - the benchmark harness: batch timing, floors and the result table.
 *
 * Every timed benchmark runs a function that performs @iters operations in
 * a loop.  The harness grows @iters until one batch takes a fixed time,
 * runs one more untimed batch as warm-up, then times several batches with
 * CLOCK_MONOTONIC and keeps the median ns/op.  A benchmark is compared
 * with a floor (the primitive work it can not avoid) whose batches are
 * interleaved with its own, so both see the same machine load.  Setup and
 * teardown that must not be timed (building objects the operations
 * consume) go into optional callbacks run around each batch.
 */
#ifndef DMABUF_BENCH_H
#define DMABUF_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Keep the compiler from dropping work whose result is unused. */
#define bench_escape(p) __asm__ volatile("" : : "g"(p) : "memory")
#define bench_clobber() __asm__ volatile("" : : : "memory")

struct bench_opts {
	bool quick;		/* short batches, for a smoke run */
	bool json;		/* print JSON instead of the tables */
	const char *filter;	/* only benchmarks whose name contains this */
	unsigned int reps;	/* timed batches per benchmark (median of) */
	int64_t batch_ns;	/* target duration of one batch */
	const char *machine;	/* description of the machine, for the output */
};

extern struct bench_opts bench_opts;

/* Run @iters operations. */
typedef void (*bench_run_fn)(void *arg, uint64_t iters);

/*
 * struct bench_floor - the primitive work an operation can not avoid,
 * timed the same way.  A ratio to it is much more stable across machines
 * and load than an absolute time.
 * @key: short name, shown in the table's floor column.
 * @desc: what it does.
 * @run: runs @iters floor operations; gets the benchmark's arg.
 */
struct bench_floor {
	const char *key;
	const char *desc;
	bench_run_fn run;
};

/* The floors, in floors.c. */
extern const struct bench_floor bench_floor_mutex;	 /* lock+unlock */
extern const struct bench_floor bench_floor_clock;	 /* clock_gettime */
extern const struct bench_floor bench_floor_mutex_clock; /* lock+clock+unlock */
extern const struct bench_floor bench_floor_malloc;	 /* malloc+free */
extern const struct bench_floor bench_floor_atomic;	 /* fetch_add+fetch_sub */
/* Composites: the primitives one particular operation needs, together. */
extern const struct bench_floor bench_floor_malloc_mutex_clock;
extern const struct bench_floor bench_floor_mutex2_clock;
extern const struct bench_floor bench_floor_mutex_2atomic;

struct bench_spec {
	const char *name;
	bench_run_fn run;
	/* Optional, untimed: prepare for a batch of @iters (0 or -errno). */
	int (*setup)(void *arg, uint64_t iters);
	/* Optional, untimed: undo setup() after the batch ran. */
	void (*teardown)(void *arg);
	void *arg;
	/* Upper bound on @iters (0: none), for setups that hold memory. */
	uint64_t max_iters;
	/* Operations per iteration, to report ns per operation (0 means 1). */
	unsigned int ops_per_iter;
	/*
	 * Optional floor, called with @arg.  Its batches alternate with the
	 * benchmark's (floor, benchmark, floor, ...); the ratio is of the
	 * two medians.
	 */
	const struct bench_floor *floor;
};

struct bench_stats {
	double median_ns;	/* ns per operation, median over batches */
	double min_ns;
	double max_ns;
	uint64_t iters;		/* operations per batch */
	unsigned int reps;
	double floor_ns;	/* median ns/op of the interleaved floor, or 0 */
};

/* Time @spec (and its floor).  Returns 0 or a negative errno from setup(). */
int bench_measure(const struct bench_spec *spec, struct bench_stats *st);

/* True if the benchmark called @name was selected (--filter). */
bool bench_selected(const char *name);

/* CLOCK_MONOTONIC now, in ns. */
int64_t bench_now_ns(void);

/* What a goal constrains; the verdict compares against it. */
enum bench_goal_kind {
	BENCH_GOAL_NONE,	/* informational row */
	BENCH_GOAL_FLOOR,	/* the row is a floor */
	BENCH_GOAL_NS_MAX,	/* median ns/op must be <= value */
	BENCH_GOAL_RATIO_MAX,	/* ratio to the floor must be <= value */
	BENCH_GOAL_EXP_MAX,	/* fitted growth exponent must be <= value */
};

struct bench_row {
	const char *section;
	char name[64];
	double ns;		/* median ns/op (or the exponent for EXP rows) */
	double spread_pct;	/* (max - min) / median over the batches, in % */
	const char *floor;	/* floor key, or NULL */
	double floor_ns;
	enum bench_goal_kind goal;
	double goal_value;
	char note[112];
	bool skipped;
};

/* Record a row for the final table; the ratio and verdict follow. */
void bench_add_row(const struct bench_row *row);

/* A row from @spec and @st; the ratio is to @spec's interleaved floor. */
void bench_add_timed(const char *section, const struct bench_spec *spec,
		     const struct bench_stats *st, enum bench_goal_kind goal,
		     double goal_value, const char *note);

/* A row saying the benchmark could not run, and why. */
void bench_add_skipped(const char *section, const char *name,
		       const char *why);

/* Memory table. */
struct bench_mem_row {
	char name[64];
	long sizeof_bytes;	/* sizeof() of the object, -1 if n/a */
	double heap_bytes;	/* measured heap bytes per object */
	char note[96];
};

void bench_add_mem(const struct bench_mem_row *row);

/* Print the tables (or JSON).  Returns the number of goals missed. */
int bench_print(void);

/* Benchmark groups: floors.c, bench_*.c. */
/*
 * A program's own option at argv[*@i]: true if it took it (and its argument, advancing *@i).
 */
typedef bool (*bench_opt_fn)(int argc, char **argv, int *i);

/*
 * The options every bench program has (--quick, --json, --filter TEXT, --reps N, --help)
 * into bench_opts; others go to @extra (may be NULL).  0, or -1 after @usage(stderr).
 */
int bench_parse_args(int argc, char **argv, bench_opt_fn extra, void (*usage)(FILE *f));

/*
 * Cross-process rows: sleep while the shared word *@a is @val (the other side is another
 * process: a shared futex), and set it and wake one sleeper.
 */
void bench_futex_wait_while(_Atomic uint32_t *a, uint32_t val);
void bench_futex_set(_Atomic uint32_t *a, uint32_t val);

/* Sort @v (@n values) and return its @q-quantile (0..1). */
double bench_quantile(int64_t *v, unsigned int n, double q);

void bench_run_floors(void);
void bench_run_fence(void);
void bench_run_ww_mutex(void);
void bench_run_resv(void);
void bench_run_merge(void);
void bench_run_memory(void);
void bench_run_broker(void);

#endif /* DMABUF_BENCH_H */

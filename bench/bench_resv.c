// SPDX-License-Identifier: MIT
/*
 * bench_resv.c - adding fences to a reservation object that already holds
 * 1, 16 or 256 fences.
 *
 * One operation is what a driver does when it submits a job touching a
 * buffer: lock the object, reserve two slots, add a fence of a context
 * already present (it replaces the older fence of that context) and a
 * fence of a context not present yet (it takes a new slot), unlock.
 *
 * The second add grows the object, so every operation needs an object in
 * the initial state: the untimed setup of each batch builds one object per
 * operation (all sharing the same N fences), and the timed loop visits
 * each once.  The batch size is capped so those objects stay about the
 * size of a core's L2 cache.  Normally the objects were built with room
 * for the two new fences (reserve is then only a check); the ", full" row
 * builds them with a full table, so reserve must reallocate it.
 */
#include <stdio.h>
#include <stdlib.h>

#include <dmabuf/fence.h>
#include <dmabuf/resv.h>

#include "bench.h"

#define MAX_PRESENT 256

static const char *resv_bench_name(struct dmabuf_fence *fence)
{
	return "bench-resv";
}

static const struct dmabuf_fence_ops resv_fence_ops = {
	.get_driver_name = resv_bench_name,
	.get_timeline_name = resv_bench_name,
	.use_64bit_seqno = true,
};

struct resv_bench {
	unsigned int n;			/* fences present before the op */
	unsigned int room;		/* free slots reserved beforehand */
	struct dmabuf_fence **present;	/* n fences, distinct contexts */
	struct dmabuf_fence *repl;	/* later fence of present[n / 2]'s context */
	struct dmabuf_fence *fresh;	/* fence of a context not present */
	struct dmabuf_resv *objs;	/* one per operation of the batch */
	uint64_t nobjs;
	bool failed;
};

static struct dmabuf_fence *new_fence(uint64_t context, uint64_t seqno)
{
	struct dmabuf_fence *f = malloc(sizeof(*f));

	if (f)
		dmabuf_fence_init(f, &resv_fence_ops, NULL, context, seqno);
	return f;
}

static void drop_fence(struct dmabuf_fence *f)
{
	if (!f)
		return;
	dmabuf_fence_signal(f);
	dmabuf_fence_put(f);
}

static void resv_teardown(void *arg)
{
	struct resv_bench *b = arg;

	for (uint64_t i = 0; i < b->nobjs; i++)
		dmabuf_resv_fini(&b->objs[i]);
	free(b->objs);
	b->objs = NULL;
	b->nobjs = 0;
}

static int fill_one(struct resv_bench *b, struct dmabuf_resv *obj)
{
	int ret = dmabuf_resv_init(obj);

	if (ret)
		return ret;
	dmabuf_resv_lock(obj, NULL);
	ret = dmabuf_resv_reserve_fences(obj, b->n + b->room);
	for (unsigned int k = 0; !ret && k < b->n; k++)
		ret = dmabuf_resv_add_fence(obj, b->present[k],
					    DMABUF_RESV_USAGE_READ);
	dmabuf_resv_unlock(obj);
	if (ret)
		dmabuf_resv_fini(obj);
	return ret;
}

static int resv_setup(void *arg, uint64_t iters)
{
	struct resv_bench *b = arg;
	int ret;

	b->objs = calloc(iters, sizeof(*b->objs));
	if (!b->objs)
		return -1;
	for (b->nobjs = 0; b->nobjs < iters; b->nobjs++) {
		ret = fill_one(b, &b->objs[b->nobjs]);
		if (ret) {
			resv_teardown(b);
			return ret;
		}
	}
	return 0;
}

static void run_add(void *arg, uint64_t iters)
{
	struct resv_bench *b = arg;

	for (uint64_t i = 0; i < iters; i++) {
		struct dmabuf_resv *obj = &b->objs[i];

		dmabuf_resv_lock(obj, NULL);
		if (dmabuf_resv_reserve_fences(obj, 2) ||
		    dmabuf_resv_add_fence(obj, b->repl, DMABUF_RESV_USAGE_READ) ||
		    dmabuf_resv_add_fence(obj, b->fresh, DMABUF_RESV_USAGE_READ))
			b->failed = true;
		dmabuf_resv_unlock(obj);
	}
}

/* Objects per batch: keep them to roughly 1 MiB in all. */
static uint64_t batch_cap(unsigned int n)
{
	uint64_t per_obj = sizeof(struct dmabuf_resv) + 64 +
			   (uint64_t)(n + 2) * sizeof(struct dmabuf_resv_slot) * 2;
	uint64_t cap = (1u << 20) / per_obj;

	return cap < 64 ? 64 : cap;
}

static int make_bench(struct resv_bench *b, unsigned int n)
{
	uint64_t ctx = dmabuf_fence_context_alloc(n + 1);

	b->n = n;
	b->present = calloc(n, sizeof(*b->present));
	if (!b->present)
		return -1;
	for (unsigned int k = 0; k < n; k++) {
		b->present[k] = new_fence(ctx + k, 1);
		if (!b->present[k])
			return -1;
	}
	b->repl = new_fence(ctx + n / 2, 2);
	b->fresh = new_fence(ctx + n, 1);
	return b->repl && b->fresh ? 0 : -1;
}

static void free_bench(struct resv_bench *b)
{
	for (unsigned int k = 0; b->present && k < b->n; k++)
		drop_fence(b->present[k]);
	free(b->present);
	drop_fence(b->repl);
	drop_fence(b->fresh);
}

/* Measured ns/op for N = 1, used for the per-present-fence slope. */
static double resv_t1;

static void resv_row(unsigned int n, unsigned int room)
{
	struct resv_bench b = { .room = room };
	struct bench_spec spec = {
		.run = run_add, .setup = resv_setup, .teardown = resv_teardown,
		.arg = &b, .max_iters = batch_cap(n),
		.floor = &bench_floor_mutex_2atomic,
	};
	struct bench_stats st;
	char name[64], note[96];
	int ret;

	snprintf(name, sizeof(name), "resv add_fence x2, %u present%s", n,
		 room ? "" : ", full");
	spec.name = name;
	if (!bench_selected(name))
		return;
	ret = make_bench(&b, n);
	if (!ret)
		ret = bench_measure(&spec, &st);
	free_bench(&b);
	if (ret || b.failed) {
		bench_add_skipped("resv", name, ret ? "setup failed" :
				  "reserve or add failed");
		return;
	}
	if (n == 1)
		resv_t1 = st.median_ns;
	if (!room)
		snprintf(note, sizeof(note),
			 "as above, but the table is full: reserve reallocates it");
	else if (n > 1 && resv_t1 > 0)
		snprintf(note, sizeof(note),
			 "lock,reserve 2,replace+new ctx,unlock; +%.2f ns per present fence",
			 (st.median_ns - resv_t1) / (n - 1));
	else
		snprintf(note, sizeof(note),
			 "lock,reserve 2,replace+new ctx,unlock");
	bench_add_timed("resv", &spec, &st, BENCH_GOAL_NONE, 0, note);
}

void bench_run_resv(void)
{
	resv_row(1, 2);
	resv_row(16, 2);
	resv_row(MAX_PRESENT, 2);
	resv_row(MAX_PRESENT, 0);
}

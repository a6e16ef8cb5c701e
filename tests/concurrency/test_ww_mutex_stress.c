// SPDX-License-Identifier: MIT
/*
 * test_ww_mutex_stress.c - many threads lock random sets of ww_mutexes in
 * random order with the back-off protocol: never a deadlock, always
 * exclusive ownership.
 *
 * DMABUF_STRESS_ROUNDS sets the total number of rounds (default 100000);
 * DMABUF_STRESS_TIMEOUT the watchdog limit in seconds (default 300).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <dmabuf/ww_mutex.h>

#include "tap.h"
#include "test_util.h"

#define NTHREADS	8
#define NOBJS		64
#define PER_ROUND	16

struct object {
	struct dmabuf_ww_mutex lock;
	int owner;			/* protected by lock */
	unsigned long uses;		/* protected by lock */
};

static struct dmabuf_ww_class stress_class = DMABUF_WW_CLASS_INIT("stress");
static struct object objects[NOBJS];

struct worker {
	pthread_t thread;
	int id;
	unsigned long rounds;
	uint64_t rng;
	unsigned long backoffs;
	unsigned long errors;
	unsigned long uses;
	atomic_ulong progress;
};

static struct worker workers[NTHREADS];

/* @n distinct object indices in random order. */
static void pick(struct worker *w, int *idx, int n)
{
	int perm[NOBJS];

	for (int i = 0; i < NOBJS; i++)
		perm[i] = i;
	for (int i = 0; i < n; i++) {
		int j = i + (int)(next_rand(&w->rng) % (NOBJS - i));
		int t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
		idx[i] = perm[i];
	}
}

static void use_objects(struct worker *w, const int *idx, int n)
{
	for (int i = 0; i < n; i++) {
		struct object *o = &objects[idx[i]];

		if (o->owner != 0)
			w->errors++;
		o->owner = w->id;
	}
	for (int i = 0; i < n; i++) {
		struct object *o = &objects[idx[i]];

		if (o->owner != w->id)
			w->errors++;
		o->owner = 0;
		o->uses++;
		w->uses++;
	}
}

/* One round with an acquire context and the standard back-off loop. */
static void ctx_round(struct worker *w)
{
	struct dmabuf_ww_acquire_ctx ctx;
	bool held[PER_ROUND] = { false };
	int idx[PER_ROUND];
	int i, ret;

	pick(w, idx, PER_ROUND);
	dmabuf_ww_acquire_init(&ctx, &stress_class);
retry:
	for (i = 0; i < PER_ROUND; i++) {
		if (held[i])
			continue;
		ret = dmabuf_ww_mutex_lock(&objects[idx[i]].lock, &ctx);
		if (ret == -EDEADLK) {
			for (int j = 0; j < PER_ROUND; j++) {
				if (held[j])
					dmabuf_ww_mutex_unlock(&objects[idx[j]].lock);
				held[j] = false;
			}
			if (ctx.acquired)
				w->errors++;
			dmabuf_ww_mutex_lock_slow(&objects[idx[i]].lock, &ctx);
			held[i] = true;
			w->backoffs++;
			goto retry;
		}
		if (ret) {
			w->errors++;
			continue;
		}
		held[i] = true;
	}
	dmabuf_ww_acquire_done(&ctx);
	if (ctx.acquired != PER_ROUND)
		w->errors++;
	use_objects(w, idx, PER_ROUND);
	for (i = 0; i < PER_ROUND; i++)
		if (held[i])
			dmabuf_ww_mutex_unlock(&objects[idx[i]].lock);
	if (ctx.acquired)
		w->errors++;
	dmabuf_ww_acquire_fini(&ctx);
}

/* A plain (context-less) user of a single object, or a trylock. */
static void plain_round(struct worker *w, bool try)
{
	int idx;

	pick(w, &idx, 1);
	if (try) {
		if (!dmabuf_ww_mutex_trylock(&objects[idx].lock, NULL))
			return;
	} else if (dmabuf_ww_mutex_lock(&objects[idx].lock, NULL)) {
		w->errors++;
		return;
	}
	use_objects(w, &idx, 1);
	dmabuf_ww_mutex_unlock(&objects[idx].lock);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (unsigned long r = 0; r < w->rounds; r++) {
		ctx_round(w);
		if (r % 8 == 7)
			plain_round(w, r % 16 == 15);
		atomic_store_explicit(&w->progress, r + 1, memory_order_relaxed);
	}
	return NULL;
}

/* What the watchdog says before it bails out. */
static void report_progress(void)
{
	for (int i = 0; i < NTHREADS; i++)
		diag("worker %d: %lu of %lu rounds", i,
		     atomic_load(&workers[i].progress), workers[i].rounds);
}

int main(void)
{
	unsigned long total = env_ulong("DMABUF_STRESS_ROUNDS", 100000);
	unsigned long backoffs = 0, errors = 0, uses = 0, obj_uses = 0;
	struct watchdog wd;

	for (int i = 0; i < NOBJS; i++)
		dmabuf_ww_mutex_init(&objects[i].lock, &stress_class);
	watchdog_start(&wd, (long)env_ulong("DMABUF_STRESS_TIMEOUT", 300),
		       report_progress);
	for (int i = 0; i < NTHREADS; i++) {
		workers[i].id = i + 1;
		workers[i].rounds = total / NTHREADS +
				    (i < (int)(total % NTHREADS) ? 1 : 0);
		workers[i].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
		pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(workers[i].thread, NULL);
		backoffs += workers[i].backoffs;
		errors += workers[i].errors;
		uses += workers[i].uses;
	}
	watchdog_stop(&wd);

	for (int i = 0; i < NOBJS; i++) {
		obj_uses += objects[i].uses;
		if (dmabuf_ww_mutex_is_locked(&objects[i].lock) || objects[i].owner)
			errors++;
		dmabuf_ww_mutex_destroy(&objects[i].lock);
	}
	diag("%lu rounds, %lu back-offs", total, backoffs);
	ok(true, "%lu rounds of %d threads finished without deadlock", total,
	   NTHREADS);
	is_int(errors, 0, "exclusive ownership and correct lock results throughout");
	ok(uses >= total * PER_ROUND, "every ctx round used all %d objects",
	   PER_ROUND);
	is_int(obj_uses, uses, "every use was recorded under the lock");
	ok(backoffs > 0, "the back-off path was exercised");
	return tap_done();
}

// SPDX-License-Identifier: MIT
/*
 * test_resv_race.c - writers, lockless readers and a signaler hammer the
 * same reservation objects; every reference must balance in the end.
 *
 * Adders lock two objects with an acquire context (backing off on
 * -EDEADLK), reserve and add fences of their own timelines, and hand the
 * fences to a signaler thread.  Readers walk, snapshot, merge, test, wait
 * and copy the objects without locking them.  Every fence is released
 * exactly once at the end (counted by the fence ops' release).
 *
 * DMABUF_STRESS_ROUNDS scales the adders' rounds (default 10000 each);
 * DMABUF_STRESS_TIMEOUT is the watchdog limit in seconds (default 300).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <dmabuf/fence.h>
#include <dmabuf/fence_array.h>
#include <dmabuf/resv.h>

#include "mock_fence.h"
#include "tap.h"
#include "test_util.h"

#define NOBJS		4
#define NADDERS		3
#define NREADERS	3
#define CTX_PER_ADDER	2
/* Passes each reader makes at least, however fast the adders finish. */
#define MIN_READER_PASSES	64

static struct dmabuf_resv objects[NOBJS];

static atomic_int adders_running = NADDERS;
static atomic_long reader_errors, adder_errors;
static atomic_long walks, restarts, singletons;
/* Adders and readers start together, whatever the scheduler does. */
static pthread_barrier_t start;

/* The signaler's queue: fences handed over with their creator's reference. */
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct dmabuf_fence **queue;
static size_t q_head, q_len, q_cap;
static bool q_closed;

static void queue_push(struct dmabuf_fence *f)
{
	pthread_mutex_lock(&q_lock);
	if (q_len == q_cap) {
		q_cap = q_cap ? q_cap * 2 : 64;
		queue = realloc(queue, q_cap * sizeof(*queue));
		if (!queue)
			bail_out("out of memory");
	}
	queue[q_len++] = f;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

static void *signaler_main(void *arg)
{
	pthread_mutex_lock(&q_lock);
	for (;;) {
		while (q_head == q_len && !q_closed)
			pthread_cond_wait(&q_cond, &q_lock);
		if (q_head == q_len)
			break;
		/* Signal in order of creation. */
		struct dmabuf_fence *f = queue[q_head++];

		if (q_head == q_len)
			q_head = q_len = 0;
		pthread_mutex_unlock(&q_lock);
		dmabuf_fence_signal(f);
		dmabuf_fence_put(f);
		pthread_mutex_lock(&q_lock);
	}
	pthread_mutex_unlock(&q_lock);
	return NULL;
}

struct adder {
	pthread_t thread;
	unsigned long rounds;
	uint64_t rng;
	uint64_t context;	/* CTX_PER_ADDER consecutive contexts */
	uint64_t seqno[CTX_PER_ADDER];
};

/* Lock objects @a and @b (distinct) with the back-off protocol. */
static void lock_pair(struct dmabuf_resv *a, struct dmabuf_resv *b,
		      struct dmabuf_ww_acquire_ctx *ctx)
{
	struct dmabuf_resv *objs[2] = { a, b };
	bool held[2] = { false, false };
	int ret;

retry:
	for (int i = 0; i < 2; i++) {
		if (held[i])
			continue;
		ret = dmabuf_resv_lock(objs[i], ctx);
		if (ret == -EDEADLK) {
			for (int j = 0; j < 2; j++) {
				if (held[j])
					dmabuf_resv_unlock(objs[j]);
				held[j] = false;
			}
			dmabuf_resv_lock_slow(objs[i], ctx);
			held[i] = true;
			goto retry;
		}
		if (ret)
			atomic_fetch_add(&adder_errors, 1);
		held[i] = true;
	}
}

static void *adder_main(void *arg)
{
	struct adder *ad = arg;

	pthread_barrier_wait(&start);
	for (unsigned long r = 0; r < ad->rounds; r++) {
		unsigned int i = next_rand(&ad->rng) % NOBJS;
		unsigned int j = (i + 1 + next_rand(&ad->rng) % (NOBJS - 1)) % NOBJS;
		unsigned int c = next_rand(&ad->rng) % CTX_PER_ADDER;
		enum dmabuf_resv_usage usage = next_rand(&ad->rng) % 4;
		struct dmabuf_ww_acquire_ctx ctx;
		struct dmabuf_fence *f = tf_at(ad->context + c, ++ad->seqno[c]);

		dmabuf_ww_acquire_init(&ctx, &dmabuf_reservation_ww_class);
		lock_pair(&objects[i], &objects[j], &ctx);
		dmabuf_ww_acquire_done(&ctx);
		if (dmabuf_resv_reserve_fences(&objects[i], 1) ||
		    dmabuf_resv_reserve_fences(&objects[j], 1) ||
		    dmabuf_resv_add_fence(&objects[i], f, usage) ||
		    dmabuf_resv_add_fence(&objects[j], f, usage))
			atomic_fetch_add(&adder_errors, 1);
		dmabuf_resv_unlock(&objects[j]);
		dmabuf_resv_unlock(&objects[i]);
		dmabuf_ww_acquire_fini(&ctx);
		queue_push(f);
	}
	atomic_fetch_sub(&adders_running, 1);
	return NULL;
}

static bool valid_fence(struct dmabuf_fence *f)
{
	return f->ops == &tf_ops && atomic_load(&f->refcount) > 0;
}

static void reader_walk(struct dmabuf_resv *obj, enum dmabuf_resv_usage usage)
{
	struct dmabuf_resv_iter it;
	struct dmabuf_fence *f;

	dmabuf_resv_iter_begin(&it, obj, usage);
	dmabuf_resv_for_each_fence_unlocked(&it, f) {
		if (dmabuf_resv_iter_is_restarted(&it))
			atomic_fetch_add(&restarts, 1);
		if (!valid_fence(f) || it.fence_usage > usage)
			atomic_fetch_add(&reader_errors, 1);
	}
	dmabuf_resv_iter_end(&it);
	atomic_fetch_add(&walks, 1);
}

static void reader_snapshot(struct dmabuf_resv *obj, enum dmabuf_resv_usage usage)
{
	struct dmabuf_fence **fences, *single;
	unsigned int num;

	if (dmabuf_resv_get_fences(obj, usage, &num, &fences)) {
		atomic_fetch_add(&reader_errors, 1);
		return;
	}
	for (unsigned int k = 0; k < num; k++) {
		if (!valid_fence(fences[k]))
			atomic_fetch_add(&reader_errors, 1);
		dmabuf_fence_put(fences[k]);
	}
	free(fences);

	if (dmabuf_resv_get_singleton(obj, usage, NULL, &single)) {
		atomic_fetch_add(&reader_errors, 1);
		return;
	}
	if (single && dmabuf_fence_is_array(single))
		atomic_fetch_add(&singletons, 1);
	else if (single && !valid_fence(single))
		atomic_fetch_add(&reader_errors, 1);
	dmabuf_fence_put(single);
}

static void *reader_main(void *arg)
{
	uint64_t rng = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
	struct dmabuf_resv copy;
	unsigned long n = 0;
	int ret;

	dmabuf_resv_init(&copy);
	pthread_barrier_wait(&start);
	while (atomic_load(&adders_running) > 0 || n < MIN_READER_PASSES) {
		struct dmabuf_resv *obj = &objects[next_rand(&rng) % NOBJS];
		enum dmabuf_resv_usage usage = next_rand(&rng) % 4;

		reader_walk(obj, usage);
		reader_snapshot(obj, usage);
		dmabuf_resv_test_signaled(obj, usage);
		ret = dmabuf_resv_wait_timeout(obj, usage, 0);
		if (ret && ret != -ETIME)
			atomic_fetch_add(&reader_errors, 1);
		if (++n % 8 == 0) {
			dmabuf_resv_lock(&copy, NULL);
			if (dmabuf_resv_copy_fences(&copy, obj))
				atomic_fetch_add(&reader_errors, 1);
			dmabuf_resv_unlock(&copy);
		}
	}
	dmabuf_resv_fini(&copy);
	return NULL;
}

int main(void)
{
	unsigned long rounds = env_ulong("DMABUF_STRESS_ROUNDS", 10000 * NADDERS) / NADDERS;
	struct adder adders[NADDERS];
	pthread_t readers[NREADERS], signaler;
	struct watchdog wd;
	bool all_signaled = true;

	if (!rounds)
		rounds = 1;
	for (int i = 0; i < NOBJS; i++)
		dmabuf_resv_init(&objects[i]);
	pthread_barrier_init(&start, NULL, NADDERS + NREADERS);
	watchdog_start(&wd, (long)env_ulong("DMABUF_STRESS_TIMEOUT", 300), NULL);
	pthread_create(&signaler, NULL, signaler_main, NULL);
	for (int i = 0; i < NADDERS; i++) {
		adders[i] = (struct adder){
			.rounds = rounds,
			.rng = 0x2545f4914f6cdd1dull * (uint64_t)(i + 1),
			.context = dmabuf_fence_context_alloc(CTX_PER_ADDER),
		};
		pthread_create(&adders[i].thread, NULL, adder_main, &adders[i]);
	}
	for (int i = 0; i < NREADERS; i++)
		pthread_create(&readers[i], NULL, reader_main, (void *)(uintptr_t)(i + 1));

	for (int i = 0; i < NADDERS; i++)
		pthread_join(adders[i].thread, NULL);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(readers[i], NULL);
	pthread_mutex_lock(&q_lock);
	q_closed = true;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
	pthread_join(signaler, NULL);

	for (int i = 0; i < NOBJS; i++)
		if (!dmabuf_resv_test_signaled(&objects[i], DMABUF_RESV_USAGE_BOOKKEEP))
			all_signaled = false;
	for (int i = 0; i < NOBJS; i++)
		dmabuf_resv_fini(&objects[i]);
	free(queue);
	pthread_barrier_destroy(&start);

	watchdog_stop(&wd);

	diag("%ld fences, %ld walks, %ld walk (re)starts, %ld arrays", atomic_load(&tf_created),
	     atomic_load(&walks), atomic_load(&restarts), atomic_load(&singletons));
	is_int(atomic_load(&adder_errors), 0, "every lock, reserve and add succeeded");
	is_int(atomic_load(&reader_errors), 0,
	       "readers only ever saw live fences of the requested usages");
	ok(all_signaled, "once the signaler is done every object is idle");
	is_int(atomic_load(&tf_created), (long)rounds * NADDERS, "all fences created");
	is_int(atomic_load(&tf_released), atomic_load(&tf_created),
	       "every fence was released exactly once");
	ok(atomic_load(&walks) >= NREADERS * MIN_READER_PASSES,
	   "every reader made its passes");
	return tap_done();
}

// SPDX-License-Identifier: MIT
/*
 * test_fence_race.c - races on one fence: signal against add/remove_callback,
 * set_error, waiters and reference counting.  Run under ThreadSanitizer by CI.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include <dmabuf/fence.h>

#include "tap.h"

#define MS (1000000LL)
#define ITERATIONS 10000
#define WAIT_LIMIT (30000 * MS)	/* a lost wake-up fails instead of hanging */

struct race_fence {
	struct dmabuf_fence base;
	atomic_int *released;
	atomic_bool hw_done;
};

static const char *race_name(struct dmabuf_fence *fence)
{
	return "race";
}

static bool race_enable_signaling(struct dmabuf_fence *fence)
{
	return true;
}

static bool race_signaled(struct dmabuf_fence *fence)
{
	return atomic_load(&dmabuf_container_of(fence, struct race_fence,
						base)->hw_done);
}

static void race_release(struct dmabuf_fence *fence)
{
	struct race_fence *rf = dmabuf_container_of(fence, struct race_fence, base);

	if (rf->released)
		atomic_fetch_add(rf->released, 1);
	free(rf);
}

static const struct dmabuf_fence_ops race_ops = {
	.get_driver_name = race_name,
	.get_timeline_name = race_name,
	.enable_signaling = race_enable_signaling,
	.signaled = race_signaled,
	.release = race_release,
};

static struct dmabuf_fence *race_fence_new(atomic_int *released)
{
	struct race_fence *rf = calloc(1, sizeof(*rf));

	if (!rf)
		bail_out("out of memory");
	rf->released = released;
	if (dmabuf_fence_init(&rf->base, &race_ops, NULL,
			      dmabuf_fence_context_alloc(1), 1))
		bail_out("dmabuf_fence_init failed");
	return &rf->base;
}

/* A callback that counts its runs and says when it is running. */
struct count_cb {
	struct dmabuf_fence_cb base;
	atomic_int calls;
	atomic_int running;
	atomic_int order;	/* value of *seq when it ran */
	atomic_int *seq;
};

static void count_cb_func(struct dmabuf_fence *fence, struct dmabuf_fence_cb *cb)
{
	struct count_cb *c = dmabuf_container_of(cb, struct count_cb, base);

	atomic_store(&c->running, 1);
	if (c->seq)
		atomic_store(&c->order, atomic_fetch_add(c->seq, 1));
	for (int i = 0; i < 20; i++)
		sched_yield();	/* give a racing remover time to look */
	atomic_fetch_add(&c->calls, 1);
	atomic_store(&c->running, 0);
}

static void count_cb_reset(struct count_cb *c, atomic_int *seq)
{
	atomic_store(&c->calls, 0);
	atomic_store(&c->running, 0);
	atomic_store(&c->order, -1);
	c->seq = seq;
}

/*
 * A little crew of threads running one role function per iteration between
 * two barriers; the main thread prepares before "start" and checks after
 * "done".
 */
struct crew;
typedef void (*role_fn)(struct crew *crew, int id);

struct crew {
	pthread_barrier_t start, done;
	role_fn role;
	int nthreads;
	int iterations;
	void *ctx;
	pthread_t threads[16];
};

struct crew_arg {
	struct crew *crew;
	int id;
};

static void *crew_main(void *arg)
{
	struct crew_arg *a = arg;
	struct crew *crew = a->crew;
	int id = a->id;

	free(a);
	for (int i = 0; i < crew->iterations; i++) {
		pthread_barrier_wait(&crew->start);
		crew->role(crew, id);
		pthread_barrier_wait(&crew->done);
	}
	return NULL;
}

static void crew_start(struct crew *crew, int nthreads, int iterations,
		       role_fn role, void *ctx)
{
	crew->role = role;
	crew->nthreads = nthreads;
	crew->iterations = iterations;
	crew->ctx = ctx;
	pthread_barrier_init(&crew->start, NULL, nthreads + 1);
	pthread_barrier_init(&crew->done, NULL, nthreads + 1);
	for (int i = 0; i < nthreads; i++) {
		struct crew_arg *a = malloc(sizeof(*a));

		if (!a)
			bail_out("out of memory");
		*a = (struct crew_arg){ crew, i };
		if (pthread_create(&crew->threads[i], NULL, crew_main, a))
			bail_out("pthread_create failed");
	}
}

static void crew_stop(struct crew *crew)
{
	for (int i = 0; i < crew->nthreads; i++)
		pthread_join(crew->threads[i], NULL);
	pthread_barrier_destroy(&crew->start);
	pthread_barrier_destroy(&crew->done);
}

/* --- signal vs add_callback ------------------------------------------- */

struct add_race {
	struct dmabuf_fence *fence;
	atomic_int seq;
	struct count_cb cb[2];
	int add_ret[2];
	bool signaled_at_refusal[2];
	int calls_at_refusal[2];
	int signal_ret;
};

static void add_race_role(struct crew *crew, int id)
{
	struct add_race *r = crew->ctx;

	if (id == 0) {
		r->signal_ret = dmabuf_fence_signal(r->fence);
		return;
	}
	for (int k = 0; k < 2; k++) {
		r->add_ret[k] = dmabuf_fence_add_callback(r->fence, &r->cb[k].base,
							  count_cb_func);
		if (r->add_ret[k] == -ENOENT) {
			r->signaled_at_refusal[k] = dmabuf_fence_is_signaled(r->fence);
			r->calls_at_refusal[k] = atomic_load(&r->cb[k].calls);
		}
	}
}

static void test_signal_vs_add(void)
{
	struct add_race r;
	struct crew crew;
	int added = 0, refused = 0, bad = 0, bad_order = 0;

	crew_start(&crew, 2, ITERATIONS, add_race_role, &r);
	for (int i = 0; i < ITERATIONS; i++) {
		r.fence = race_fence_new(NULL);
		atomic_store(&r.seq, 0);
		for (int k = 0; k < 2; k++) {
			count_cb_reset(&r.cb[k], &r.seq);
			r.signaled_at_refusal[k] = false;
			r.calls_at_refusal[k] = -1;
		}
		pthread_barrier_wait(&crew.start);
		pthread_barrier_wait(&crew.done);
		if (r.signal_ret)
			bad++;
		for (int k = 0; k < 2; k++) {
			int calls = atomic_load(&r.cb[k].calls);

			if (r.add_ret[k] == 0 && calls == 1) {
				added++;
			} else if (r.add_ret[k] == -ENOENT && calls == 0 &&
				   r.signaled_at_refusal[k] &&
				   r.calls_at_refusal[k] == 0) {
				refused++;
			} else {
				bad++;
				diag("iteration %d cb %d: add %d, calls %d", i, k,
				     r.add_ret[k], calls);
			}
		}
		if (!r.add_ret[0] && !r.add_ret[1] &&
		    !(atomic_load(&r.cb[0].order) == 0 &&
		      atomic_load(&r.cb[1].order) == 1))
			bad_order++;
		if (r.add_ret[0] == -ENOENT && r.add_ret[1] == 0)
			bad++;	/* signaled is forever: a later add cannot succeed */
		dmabuf_fence_put(r.fence);
	}
	crew_stop(&crew);
	diag("signal vs add_callback: %d added before, %d refused after", added, refused);
	is_int(bad, 0, "signal vs add_callback: a callback runs once iff added, "
	       "-ENOENT iff already signaled (%d iterations)", ITERATIONS);
	is_int(bad_order, 0, "callbacks added before the signal ran in add order");
}

/* --- signal vs remove_callback ---------------------------------------- */

struct remove_race {
	struct dmabuf_fence *fence;
	struct count_cb cb;
	bool removed;
	int calls_after;
	int running_after;
};

static void remove_race_role(struct crew *crew, int id)
{
	struct remove_race *r = crew->ctx;

	if (id == 0) {
		dmabuf_fence_signal(r->fence);
		return;
	}
	r->removed = dmabuf_fence_remove_callback(r->fence, &r->cb.base);
	r->running_after = atomic_load(&r->cb.running);
	r->calls_after = atomic_load(&r->cb.calls);
}

static void test_signal_vs_remove(void)
{
	struct remove_race r;
	struct crew crew;
	int removed = 0, ran = 0, bad = 0;

	crew_start(&crew, 2, ITERATIONS, remove_race_role, &r);
	for (int i = 0; i < ITERATIONS; i++) {
		r.fence = race_fence_new(NULL);
		count_cb_reset(&r.cb, NULL);
		if (dmabuf_fence_add_callback(r.fence, &r.cb.base, count_cb_func))
			bail_out("add_callback on a fresh fence failed");
		pthread_barrier_wait(&crew.start);
		pthread_barrier_wait(&crew.done);
		if (r.removed && r.calls_after == 0 && !r.running_after &&
		    atomic_load(&r.cb.calls) == 0)
			removed++;
		else if (!r.removed && r.calls_after == 1 && !r.running_after)
			ran++;
		else
			bad++;
		dmabuf_fence_put(r.fence);
	}
	crew_stop(&crew);
	diag("signal vs remove_callback: %d removed first, %d ran first", removed, ran);
	is_int(bad, 0, "signal vs remove_callback: removed -> never runs; not removed -> "
	       "already ran and finished when remove returned");
}

/* --- set_error vs signal ---------------------------------------------- */

struct error_race {
	struct dmabuf_fence *fence;
	int set_ret;
};

static void error_race_role(struct crew *crew, int id)
{
	struct error_race *r = crew->ctx;

	if (id == 0)
		dmabuf_fence_signal(r->fence);
	else
		r->set_ret = dmabuf_fence_set_error(r->fence, -EIO);
}

static void test_error_vs_signal(void)
{
	struct error_race r;
	struct crew crew;
	int bad = 0;

	crew_start(&crew, 2, ITERATIONS, error_race_role, &r);
	for (int i = 0; i < ITERATIONS; i++) {
		r.fence = race_fence_new(NULL);
		pthread_barrier_wait(&crew.start);
		pthread_barrier_wait(&crew.done);
		if (!(r.set_ret == 0 && dmabuf_fence_get_status(r.fence) == -EIO) &&
		    !(r.set_ret == -EINVAL && dmabuf_fence_get_status(r.fence) == 1))
			bad++;
		dmabuf_fence_put(r.fence);
	}
	crew_stop(&crew);
	is_int(bad, 0, "set_error vs signal: the error shows iff set_error returned 0");
}

/* --- signal vs signal vs the signaled() poll --------------------------- */

struct double_race {
	struct dmabuf_fence *fence;
	struct count_cb cb;
	int ret[3];
};

static void double_race_role(struct crew *crew, int id)
{
	struct double_race *r = crew->ctx;

	if (id < 2)
		r->ret[id] = dmabuf_fence_signal(r->fence);
	else
		r->ret[id] = dmabuf_fence_is_signaled(r->fence);
}

static void test_signal_vs_signal(void)
{
	struct double_race r;
	struct crew crew;
	int bad = 0;

	crew_start(&crew, 3, ITERATIONS / 2, double_race_role, &r);
	for (int i = 0; i < ITERATIONS / 2; i++) {
		struct race_fence *rf;

		r.fence = race_fence_new(NULL);
		rf = dmabuf_container_of(r.fence, struct race_fence, base);
		count_cb_reset(&r.cb, NULL);
		if (dmabuf_fence_add_callback(r.fence, &r.cb.base, count_cb_func))
			bail_out("add_callback on a fresh fence failed");
		atomic_store(&rf->hw_done, i & 1);	/* poll may signal too */
		pthread_barrier_wait(&crew.start);
		pthread_barrier_wait(&crew.done);
		if ((i & 1) ? r.ret[0] + r.ret[1] > -EINVAL :
			      r.ret[0] + r.ret[1] != -EINVAL)
			bad++;	/* polled: none or one may win; else exactly one */
		if ((i & 1) && !r.ret[2])
			bad++;
		if (atomic_load(&r.cb.calls) != 1 || !dmabuf_fence_is_signaled(r.fence))
			bad++;
		dmabuf_fence_put(r.fence);
	}
	crew_stop(&crew);
	is_int(bad, 0, "concurrent signals (and signaled() polls): one signal wins, "
	       "the callback runs once");
}

/* --- get/put ----------------------------------------------------------- */

#define REF_THREADS 4
#define REF_ROUNDS 200
#define REF_LOOPS 200

struct ref_race {
	struct dmabuf_fence *fence;
	atomic_int released;
	atomic_int early;
};

static void ref_race_role(struct crew *crew, int id)
{
	struct ref_race *r = crew->ctx;
	struct dmabuf_fence *f = r->fence;	/* one reference is ours */

	for (int i = 0; i < REF_LOOPS; i++) {
		dmabuf_fence_get(f);
		if (atomic_load(&r->released))
			atomic_fetch_add(&r->early, 1);
		dmabuf_fence_put(f);
	}
	dmabuf_fence_put(f);
}

static void test_get_put(void)
{
	struct ref_race r;
	struct crew crew;
	int bad = 0;

	atomic_store(&r.early, 0);
	crew_start(&crew, REF_THREADS, REF_ROUNDS, ref_race_role, &r);
	for (int i = 0; i < REF_ROUNDS; i++) {
		atomic_store(&r.released, 0);
		r.fence = race_fence_new(&r.released);
		for (int t = 1; t < REF_THREADS; t++)
			dmabuf_fence_get(r.fence);
		/* The threads now own every reference. */
		pthread_barrier_wait(&crew.start);
		pthread_barrier_wait(&crew.done);
		if (atomic_load(&r.released) != 1)
			bad++;
	}
	crew_stop(&crew);
	is_int(bad, 0, "concurrent get/put: release runs exactly once per fence");
	is_int(atomic_load(&r.early), 0, "never released while a reference was held");
}

/* --- get_unless_zero: lookup on a list that holds no reference --------- */

/*
 * The pattern of drivers like sw_sync: fences sit on a timeline list
 * without a reference; release unlinks them under the list lock, and a
 * lookup under that lock may only take a reference with get_unless_zero.
 */
struct lookup_race;

struct listed_fence {
	struct dmabuf_fence base;
	struct lookup_race *race;
};

struct lookup_race {
	pthread_mutex_t list_lock;
	struct listed_fence *listed;	/* the list: one entry or NULL */
	atomic_int released;
	atomic_int early;
	int got;
};

static void listed_release(struct dmabuf_fence *fence)
{
	struct listed_fence *lf = dmabuf_container_of(fence, struct listed_fence, base);
	struct lookup_race *r = lf->race;

	pthread_mutex_lock(&r->list_lock);
	if (r->listed == lf)
		r->listed = NULL;
	pthread_mutex_unlock(&r->list_lock);
	atomic_fetch_add(&r->released, 1);
	free(lf);
}

static const struct dmabuf_fence_ops listed_ops = {
	.get_driver_name = race_name,
	.get_timeline_name = race_name,
	.release = listed_release,
};

static void lookup_race_role(struct crew *crew, int id)
{
	struct lookup_race *r = crew->ctx;

	if (id == 0) {
		struct listed_fence *lf;

		pthread_mutex_lock(&r->list_lock);
		lf = r->listed;
		pthread_mutex_unlock(&r->list_lock);
		dmabuf_fence_put(&lf->base);	/* the only reference */
		return;
	}
	r->got = 0;
	for (int i = 0; i < 8; i++) {
		struct listed_fence *lf;
		bool got = false;

		pthread_mutex_lock(&r->list_lock);
		lf = r->listed;
		if (lf)
			got = dmabuf_fence_get_unless_zero(&lf->base);
		pthread_mutex_unlock(&r->list_lock);
		if (!got)
			continue;
		r->got++;
		/* Hold it a while: a resurrected fence gets released meanwhile. */
		for (int k = 0; k < 5; k++)
			sched_yield();
		if (atomic_load(&r->released))
			atomic_fetch_add(&r->early, 1);
		dmabuf_fence_put(&lf->base);
	}
}

static void test_get_unless_zero(void)
{
	struct lookup_race r = { .got = 0 };
	struct crew crew;
	int bad = 0, found = 0;

	pthread_mutex_init(&r.list_lock, NULL);
	atomic_store(&r.early, 0);
	crew_start(&crew, 2, ITERATIONS, lookup_race_role, &r);
	for (int i = 0; i < ITERATIONS; i++) {
		struct listed_fence *lf = calloc(1, sizeof(*lf));

		if (!lf)
			bail_out("out of memory");
		lf->race = &r;
		dmabuf_fence_init(&lf->base, &listed_ops, NULL,
				  dmabuf_fence_context_alloc(1), 1);
		atomic_store(&r.released, 0);
		r.listed = lf;
		pthread_barrier_wait(&crew.start);
		pthread_barrier_wait(&crew.done);
		if (atomic_load(&r.released) != 1 || r.listed)
			bad++;
		found += r.got > 0;
	}
	crew_stop(&crew);
	pthread_mutex_destroy(&r.list_lock);
	diag("get_unless_zero: lookups found a live fence in %d of %d rounds",
	     found, ITERATIONS);
	is_int(bad, 0, "lookup with get_unless_zero vs last put: released exactly once");
	is_int(atomic_load(&r.early), 0, "a reference taken by lookup was never to a released fence");
}

/* --- many waiters, one signal ----------------------------------------- */

#define WAITERS 6
#define WAITER_ROUNDS 100

struct waiter_race {
	struct dmabuf_fence *fence;
	int ret[WAITERS];
};

static void waiter_role(struct crew *crew, int id)
{
	struct waiter_race *r = crew->ctx;

	r->ret[id] = dmabuf_fence_wait_timeout(r->fence, WAIT_LIMIT);
}

static int pending_callbacks(struct dmabuf_fence *f)
{
	int n = 0;

	pthread_mutex_lock(f->lock);
	for (struct dmabuf_list *p = f->cb_list.next; p != &f->cb_list; p = p->next)
		n++;
	pthread_mutex_unlock(f->lock);
	return n;
}

static void test_many_waiters(void)
{
	struct waiter_race r;
	struct crew crew;
	int bad = 0;

	crew_start(&crew, WAITERS, WAITER_ROUNDS, waiter_role, &r);
	for (int i = 0; i < WAITER_ROUNDS; i++) {
		r.fence = race_fence_new(NULL);
		pthread_barrier_wait(&crew.start);
		/* Signal only once every waiter has registered. */
		while (pending_callbacks(r.fence) < WAITERS)
			sched_yield();
		dmabuf_fence_signal(r.fence);
		pthread_barrier_wait(&crew.done);
		for (int w = 0; w < WAITERS; w++)
			if (r.ret[w])
				bad++;
		if (!dmabuf_list_empty(&r.fence->cb_list))
			bad++;
		dmabuf_fence_put(r.fence);
	}
	crew_stop(&crew);
	is_int(bad, 0, "%d registered waiters are all woken by one signal", WAITERS);
}

/* --- a timed-out wait vs signal ---------------------------------------- */

struct timeout_race {
	struct dmabuf_fence *fence;
	int ret;
};

static void timeout_race_role(struct crew *crew, int id)
{
	struct timeout_race *r = crew->ctx;

	if (id == 0)
		dmabuf_fence_signal(r->fence);
	else
		r->ret = dmabuf_fence_wait_timeout(r->fence, 20000);
}

static void test_timeout_vs_signal(void)
{
	struct timeout_race r;
	struct crew crew;
	int bad = 0, timed_out = 0;

	crew_start(&crew, 2, ITERATIONS, timeout_race_role, &r);
	for (int i = 0; i < ITERATIONS; i++) {
		r.fence = race_fence_new(NULL);
		pthread_barrier_wait(&crew.start);
		pthread_barrier_wait(&crew.done);
		if (r.ret == -ETIME)
			timed_out++;
		else if (r.ret != 0)
			bad++;
		if (!dmabuf_list_empty(&r.fence->cb_list))
			bad++;
		dmabuf_fence_put(r.fence);
	}
	crew_stop(&crew);
	diag("wait(short) vs signal: %d timed out", timed_out);
	is_int(bad, 0, "a short wait racing a signal returns 0 or -ETIME, leaves no callback");
}

/* --- wait_any with fences signaled by several threads ------------------ */

#define ANY_SIGNALERS 3
#define ANY_WAITERS 2
#define ANY_MAX 12
#define ANY_ROUNDS 300

struct any_race {
	struct dmabuf_fence *fences[ANY_MAX];
	unsigned int count;
	unsigned int offset;		/* rotates which fences go first */
	int ret[ANY_WAITERS];
	unsigned int idx[ANY_WAITERS];
};

static void any_race_role(struct crew *crew, int id)
{
	struct any_race *r = crew->ctx;

	if (id < ANY_SIGNALERS) {
		for (unsigned int i = 0; i < r->count; i++) {
			unsigned int k = (i + r->offset) % r->count;

			if (k % ANY_SIGNALERS == (unsigned int)id)
				dmabuf_fence_signal(r->fences[k]);
		}
		return;
	}
	id -= ANY_SIGNALERS;
	r->ret[id] = dmabuf_fence_wait_any_timeout(r->fences, r->count, WAIT_LIMIT,
						   &r->idx[id]);
}

static void test_wait_any(void)
{
	struct any_race r;
	struct crew crew;
	int bad = 0;

	crew_start(&crew, ANY_SIGNALERS + ANY_WAITERS, ANY_ROUNDS, any_race_role, &r);
	for (int i = 0; i < ANY_ROUNDS; i++) {
		r.count = (i & 1) ? ANY_MAX : 4;
		r.offset = (unsigned int)i * 5;
		for (unsigned int k = 0; k < r.count; k++)
			r.fences[k] = race_fence_new(NULL);
		for (int w = 0; w < ANY_WAITERS; w++)
			r.idx[w] = UINT_MAX;
		pthread_barrier_wait(&crew.start);
		pthread_barrier_wait(&crew.done);
		for (int w = 0; w < ANY_WAITERS; w++) {
			if (r.ret[w] || r.idx[w] >= r.count ||
			    !dmabuf_fence_is_signaled(r.fences[r.idx[w]]))
				bad++;
		}
		for (unsigned int k = 0; k < r.count; k++) {
			if (!dmabuf_list_empty(&r.fences[k]->cb_list))
				bad++;
			dmabuf_fence_put(r.fences[k]);
		}
	}
	crew_stop(&crew);
	is_int(bad, 0, "wait_any with fences signaled by %d threads returns a signaled index",
	       ANY_SIGNALERS);
}

int main(void)
{
	test_signal_vs_add();
	test_signal_vs_remove();
	test_error_vs_signal();
	test_signal_vs_signal();
	test_get_put();
	test_get_unless_zero();
	test_many_waiters();
	test_timeout_vs_signal();
	test_wait_any();
	return tap_done();
}

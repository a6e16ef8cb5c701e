// SPDX-License-Identifier: MIT
/*
 * test_resv.c - reservation objects: usages, replacement, slots, walks,
 * snapshots, singleton, waiting and copying.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <dmabuf/fault.h>
#include <dmabuf/fence.h>
#include <dmabuf/fence_array.h>
#include <dmabuf/resv.h>

#include "mock_fence.h"
#include "tap.h"

static uint64_t new_ctx(void)
{
	return dmabuf_fence_context_alloc(1);
}

/* Lock, add, unlock; returns add's result. */
static int add(struct dmabuf_resv *obj, struct dmabuf_fence *f,
	       enum dmabuf_resv_usage usage)
{
	int ret;

	dmabuf_resv_lock(obj, NULL);
	ret = dmabuf_resv_add_fence(obj, f, usage);
	dmabuf_resv_unlock(obj);
	return ret;
}

/* Bit i set for each fence f[i] the locked walk with @usage visits. */
static unsigned int locked_walk(struct dmabuf_resv *obj,
				enum dmabuf_resv_usage usage,
				struct dmabuf_fence **f, int n, bool *usage_ok)
{
	struct dmabuf_resv_iter it;
	struct dmabuf_fence *fence;
	unsigned int seen = 0;

	*usage_ok = true;
	dmabuf_resv_lock(obj, NULL);
	dmabuf_resv_for_each_fence(&it, obj, usage, fence) {
		for (int i = 0; i < n; i++)
			if (f[i] == fence)
				seen |= 1u << i;
		if (it.fence_usage > usage || it.fence != fence)
			*usage_ok = false;
	}
	dmabuf_resv_iter_end(&it);
	dmabuf_resv_unlock(obj);
	return seen;
}

static unsigned int unlocked_walk(struct dmabuf_resv *obj,
				  enum dmabuf_resv_usage usage,
				  struct dmabuf_fence **f, int n)
{
	struct dmabuf_resv_iter it;
	struct dmabuf_fence *fence;
	unsigned int seen = 0;

	dmabuf_resv_iter_begin(&it, obj, usage);
	dmabuf_resv_for_each_fence_unlocked(&it, fence) {
		for (int i = 0; i < n; i++)
			if (f[i] == fence)
				seen |= 1u << i;
	}
	dmabuf_resv_iter_end(&it);
	return seen;
}

static void test_empty(void)
{
	struct dmabuf_resv obj;
	struct dmabuf_fence **fences = (void *)&obj, *out = (void *)&obj;
	unsigned int num = 7;

	is_int(dmabuf_resv_init(NULL), -EINVAL, "init NULL");
	is_int(dmabuf_resv_init(&obj), 0, "init");
	is_int(dmabuf_resv_num_fences(&obj), 0, "a new object has no fences");
	ok(dmabuf_resv_test_signaled(&obj, DMABUF_RESV_USAGE_BOOKKEEP),
	   "an empty object is signaled");
	is_int(dmabuf_resv_get_fences(&obj, DMABUF_RESV_USAGE_BOOKKEEP, &num,
				      &fences), 0, "get_fences on empty");
	ok(num == 0 && fences == NULL, "gives no fences and no array");
	is_int(dmabuf_resv_get_singleton(&obj, DMABUF_RESV_USAGE_BOOKKEEP, NULL,
					 &out), 0, "get_singleton on empty");
	ok(out == NULL, "gives NULL");
	is_int(dmabuf_resv_wait_timeout(&obj, DMABUF_RESV_USAGE_BOOKKEEP, 0), 0,
	       "waiting on an empty object succeeds at once");
	ok(!dmabuf_ww_mutex_is_locked(&obj.lock), "a new object is unlocked");
	ok(obj.lock.ww_class == &dmabuf_reservation_ww_class,
	   "its lock is of the reservation class");
	dmabuf_resv_fini(&obj);
	dmabuf_resv_fini(NULL);
	is_int(dmabuf_resv_usage_rw(true), DMABUF_RESV_USAGE_READ,
	       "a write waits for readers and writers (READ)");
	is_int(dmabuf_resv_usage_rw(false), DMABUF_RESV_USAGE_WRITE,
	       "a read waits for writers (WRITE)");
}

static void test_locking(void)
{
	struct dmabuf_ww_class other = DMABUF_WW_CLASS_INIT("other");
	struct dmabuf_resv a, b;
	struct dmabuf_ww_acquire_ctx ctx, old, foreign;

	dmabuf_resv_init(&a);
	dmabuf_resv_init(&b);
	is_int(dmabuf_resv_lock(&a, NULL), 0, "lock without ctx");
	ok(!dmabuf_resv_trylock(&a), "trylock of a locked object fails");
	dmabuf_resv_unlock(&a);
	ok(dmabuf_resv_trylock(&a), "trylock of a free object");
	dmabuf_resv_unlock(&a);
	ok(!dmabuf_ww_mutex_is_locked(&a.lock), "unlocked");

	dmabuf_ww_acquire_init(&old, &dmabuf_reservation_ww_class);
	dmabuf_ww_acquire_init(&ctx, &dmabuf_reservation_ww_class);
	dmabuf_ww_acquire_init(&foreign, &other);
	is_int(dmabuf_resv_lock(&a, &foreign), -EINVAL, "ctx of another class");
	is_int(dmabuf_resv_lock(&a, &ctx), 0, "lock with ctx");
	is_int(dmabuf_resv_lock(&a, &ctx), -EALREADY, "twice: -EALREADY");
	is_int(dmabuf_resv_lock(&b, &old), 0, "an older ctx holds b");
	is_int(dmabuf_resv_lock(&b, &ctx), -EDEADLK, "the younger ctx backs off");
	dmabuf_resv_unlock(&a);
	dmabuf_resv_unlock(&b);
	dmabuf_resv_lock_slow(&b, &ctx);
	is_int(ctx.acquired, 1, "lock_slow takes the contended object");
	is_int(dmabuf_resv_lock(&a, &ctx), 0, "then the others");
	dmabuf_resv_unlock(&a);
	dmabuf_resv_unlock(&b);
	dmabuf_ww_acquire_fini(&ctx);
	dmabuf_ww_acquire_fini(&old);
	dmabuf_ww_acquire_fini(&foreign);

	is_int(dmabuf_resv_lock(NULL, NULL), -EINVAL, "lock NULL");
	ok(!dmabuf_resv_trylock(NULL), "trylock NULL");
	dmabuf_resv_lock_slow(NULL, NULL);
	dmabuf_resv_unlock(NULL);
	dmabuf_resv_fini(&a);
	dmabuf_resv_fini(&b);
}

static void test_bad_args(void)
{
	struct dmabuf_resv obj;
	struct dmabuf_fence *f = tf_new(), **fences, *out;
	struct dmabuf_resv_iter it;
	unsigned int num;

	dmabuf_resv_init(&obj);
	is_int(dmabuf_resv_add_fence(&obj, f, DMABUF_RESV_USAGE_READ), -EINVAL,
	       "add to an unlocked object");
	is_int(dmabuf_resv_reserve_fences(&obj, 1), -EINVAL,
	       "reserve on an unlocked object");
	dmabuf_resv_lock(&obj, NULL);
	is_int(dmabuf_resv_add_fence(&obj, NULL, DMABUF_RESV_USAGE_READ), -EINVAL,
	       "add NULL fence");
	is_int(dmabuf_resv_add_fence(NULL, f, DMABUF_RESV_USAGE_READ), -EINVAL,
	       "add to NULL");
	is_int(dmabuf_resv_add_fence(&obj, f, (enum dmabuf_resv_usage)4), -EINVAL,
	       "add with an invalid usage");
	is_int(dmabuf_resv_reserve_fences(NULL, 1), -EINVAL, "reserve on NULL");
	is_int(dmabuf_resv_copy_fences(&obj, NULL), -EINVAL, "copy from NULL");
	is_int(dmabuf_resv_copy_fences(NULL, &obj), -EINVAL, "copy to NULL");
	dmabuf_resv_unlock(&obj);
	is_int(dmabuf_resv_num_fences(&obj), 0, "nothing was added");
	is_int(refs(f), 1, "no reference was taken");

	is_int(dmabuf_resv_get_fences(NULL, DMABUF_RESV_USAGE_READ, &num, &fences),
	       -EINVAL, "get_fences NULL");
	is_int(dmabuf_resv_get_fences(&obj, (enum dmabuf_resv_usage)9, &num,
				      &fences), -EINVAL, "get_fences bad usage");
	is_int(dmabuf_resv_get_fences(&obj, DMABUF_RESV_USAGE_READ, NULL, &fences),
	       -EINVAL, "get_fences without count pointer");
	is_int(dmabuf_resv_get_singleton(&obj, DMABUF_RESV_USAGE_READ, NULL, NULL),
	       -EINVAL, "get_singleton without out pointer");
	is_int(dmabuf_resv_get_singleton(NULL, DMABUF_RESV_USAGE_READ, NULL, &out),
	       -EINVAL, "get_singleton NULL");
	is_int(dmabuf_resv_wait_timeout(NULL, DMABUF_RESV_USAGE_READ, 0), -EINVAL,
	       "wait NULL");
	is_int(dmabuf_resv_wait_timeout(&obj, (enum dmabuf_resv_usage)-1, 0),
	       -EINVAL, "wait with a bad usage");
	ok(!dmabuf_resv_test_signaled(NULL, DMABUF_RESV_USAGE_READ),
	   "test_signaled NULL is false");
	is_int(dmabuf_resv_num_fences(NULL), 0, "num_fences NULL");

	dmabuf_resv_iter_begin(&it, NULL, DMABUF_RESV_USAGE_READ);
	ok(!dmabuf_resv_iter_first_unlocked(&it) && !dmabuf_resv_iter_first(&it),
	   "walking NULL finds nothing");
	dmabuf_resv_iter_end(&it);
	ok(!dmabuf_resv_iter_first(NULL) && !dmabuf_resv_iter_next(NULL) &&
	   !dmabuf_resv_iter_first_unlocked(NULL) &&
	   !dmabuf_resv_iter_next_unlocked(NULL) &&
	   !dmabuf_resv_iter_is_restarted(NULL), "NULL iterators are harmless");
	dmabuf_resv_iter_begin(NULL, &obj, DMABUF_RESV_USAGE_READ);
	dmabuf_resv_iter_end(NULL);
	dmabuf_resv_fini(&obj);
	dmabuf_fence_put(f);
}

static void test_usage_order(void)
{
	static const char *const names[] = { "KERNEL", "WRITE", "READ", "BOOKKEEP" };
	struct dmabuf_fence *f[4];
	struct dmabuf_resv obj;
	bool usage_ok;

	dmabuf_resv_init(&obj);
	/* Added in reverse order so that table order is not usage order. */
	for (int u = 3; u >= 0; u--) {
		f[u] = tf_new();
		is_int(add(&obj, f[u], (enum dmabuf_resv_usage)u), 0,
		       "add a %s fence", names[u]);
	}
	for (int u = 0; u < 4; u++) {
		unsigned int want = (2u << u) - 1;
		unsigned int num = 0;
		struct dmabuf_fence **fences = NULL;

		is_int(locked_walk(&obj, u, f, 4, &usage_ok), want,
		       "locked walk with %s sees usages <= %s", names[u], names[u]);
		ok(usage_ok, "locked walk with %s reports each fence's usage", names[u]);
		is_int(unlocked_walk(&obj, u, f, 4), want,
		       "unlocked walk with %s sees usages <= %s", names[u], names[u]);
		dmabuf_resv_get_fences(&obj, u, &num, &fences);
		is_int(num, u + 1, "get_fences with %s", names[u]);
		put_all(fences, (int)num);
		free(fences);
	}
	/* The reported usage is the one the fence was added with. */
	{
		struct dmabuf_resv_iter it;
		struct dmabuf_fence *fence;
		bool match = true;

		dmabuf_resv_lock(&obj, NULL);
		dmabuf_resv_for_each_fence(&it, &obj, DMABUF_RESV_USAGE_BOOKKEEP, fence)
			for (int u = 0; u < 4; u++)
				if (fence == f[u] && it.fence_usage != (enum dmabuf_resv_usage)u)
					match = false;
		dmabuf_resv_unlock(&obj);
		ok(match, "each fence keeps its usage");
	}
	dmabuf_resv_fini(&obj);
	for (int u = 0; u < 4; u++) {
		is_int(refs(f[u]), 1, "fini dropped the object's reference (%s)", names[u]);
		dmabuf_fence_put(f[u]);
	}
}

static void test_replace(void)
{
	uint64_t c = new_ctx();
	struct dmabuf_fence *f1 = tf_at(c, 1), *f2 = tf_at(c, 2);
	struct dmabuf_fence *f0 = tf_at(c, 0), *f3 = tf_at(c, 3);
	struct dmabuf_fence *f4 = tf_at(c, 4), *all[] = { f0, f1, f2, f3, f4 };
	struct dmabuf_resv obj;
	bool usage_ok;

	dmabuf_resv_init(&obj);
	add(&obj, f1, DMABUF_RESV_USAGE_READ);
	is_int(refs(f1), 2, "the object holds a reference");
	is_int(add(&obj, f2, DMABUF_RESV_USAGE_READ), 0, "add a later fence of the same context");
	is_int(dmabuf_resv_num_fences(&obj), 1, "it replaces the earlier one");
	is_int(refs(f1), 1, "whose reference is dropped");
	is_int(add(&obj, f0, DMABUF_RESV_USAGE_READ), 0, "add an earlier fence of that context");
	is_int(dmabuf_resv_num_fences(&obj), 2, "an earlier fence does not replace a later one");
	is_int(add(&obj, f2, DMABUF_RESV_USAGE_WRITE), 0, "add the same fence again as WRITE");
	is_int(dmabuf_resv_num_fences(&obj), 2, "it takes its own slot over");
	is_int(refs(f2), 2, "without a second reference");
	is_int(locked_walk(&obj, DMABUF_RESV_USAGE_WRITE, all, 5, &usage_ok), 1u << 2,
	       "and now counts as a writer");
	is_int(add(&obj, f3, DMABUF_RESV_USAGE_READ), 0, "add a later READ fence");
	is_int(locked_walk(&obj, DMABUF_RESV_USAGE_READ, all, 5, &usage_ok),
	       (1u << 2) | (1u << 3),
	       "a later reader replaces the earlier reader, not the writer");
	is_int(dmabuf_resv_num_fences(&obj), 2, "in place");
	is_int(add(&obj, f4, DMABUF_RESV_USAGE_KERNEL), 0, "add a later KERNEL fence");
	is_int(locked_walk(&obj, DMABUF_RESV_USAGE_BOOKKEEP, all, 5, &usage_ok),
	       (1u << 3) | (1u << 4),
	       "a later fence of a lower usage replaces the first entry of its context");
	is_int(dmabuf_resv_num_fences(&obj), 2, "in place, and only that one");
	dmabuf_resv_fini(&obj);
	for (int i = 0; i < 5; i++)
		is_int(refs(all[i]), 1, "all references back (fence %d)", i);
	put_all(all, 5);
}

static void test_slot_reuse(void)
{
	struct dmabuf_fence *a = tf_new(), *b = tf_new();
	struct dmabuf_fence *c = tf_new(), *all[] = { a, b, c };
	struct dmabuf_resv_iter it;
	struct dmabuf_resv obj;
	bool usage_ok;
	int before;

	dmabuf_resv_init(&obj);
	add(&obj, a, DMABUF_RESV_USAGE_WRITE);
	add(&obj, b, DMABUF_RESV_USAGE_READ);
	dmabuf_fence_signal(a);
	before = atomic_load(&tf_released);
	dmabuf_fence_put(a);
	is_int(atomic_load(&tf_released), before, "the object still holds the signaled fence");
	is_int(add(&obj, c, DMABUF_RESV_USAGE_BOOKKEEP), 0,
	       "add a fence of a third context");
	is_int(dmabuf_resv_num_fences(&obj), 2, "it reuses the signaled fence's slot");
	is_int(atomic_load(&tf_released), before + 1, "the signaled fence is released");
	is_int(locked_walk(&obj, DMABUF_RESV_USAGE_BOOKKEEP, all, 3, &usage_ok),
	       (1u << 1) | (1u << 2), "the object holds the other two");
	dmabuf_resv_lock(&obj, NULL);
	dmabuf_resv_iter_begin(&it, &obj, DMABUF_RESV_USAGE_BOOKKEEP);
	ok(dmabuf_resv_iter_first(&it) == c &&
	   it.fence_usage == DMABUF_RESV_USAGE_BOOKKEEP,
	   "in the first slot, with the new usage");
	dmabuf_resv_unlock(&obj);
	dmabuf_resv_fini(&obj);
	dmabuf_fence_put(b);
	dmabuf_fence_put(c);
}

static void test_reserve(void)
{
	enum { N = 5 };
	struct dmabuf_fence *f[N + 1], *extra, *sig;
	struct dmabuf_resv obj;
	unsigned int num;
	int ret = 0, i;

	dmabuf_resv_init(&obj);
	for (i = 0; i <= N; i++)
		f[i] = tf_new();

	dmabuf_resv_lock(&obj, NULL);
	is_int(dmabuf_resv_reserve_fences(&obj, N), 0, "reserve %d slots", N);
	dmabuf_fault_inject_alloc(0, 1000);
	for (i = 0; i < N; i++)
		ret |= dmabuf_resv_add_fence(&obj, f[i], DMABUF_RESV_USAGE_READ);
	is_int(ret, 0, "the reserved adds succeed with every allocation failing");
	is_int(dmabuf_fault_injected(), 0, "they did not even allocate");

	/* Fill the spare room, if any, until an add needs memory. */
	for (i = 0; i < 100; i++) {
		extra = tf_new();
		num = dmabuf_resv_num_fences(&obj);
		ret = dmabuf_resv_add_fence(&obj, extra, DMABUF_RESV_USAGE_READ);
		if (ret)
			break;
		dmabuf_fence_put(extra);
	}
	is_int(ret, -ENOMEM, "an add without a free slot fails when allocation fails");
	is_int(dmabuf_fault_injected(), 1, "after one failed allocation");
	is_int(dmabuf_resv_num_fences(&obj), num, "nothing was added");
	is_int(refs(extra), 1, "no reference was kept");
	for (i = 0; i < N; i++)
		if (refs(f[i]) != 2)
			break;
	is_int(i, N, "the other fences are untouched");
	is_int(dmabuf_resv_reserve_fences(&obj, 1), -ENOMEM,
	       "reserving fails the same way");
	is_int(dmabuf_resv_num_fences(&obj), num, "and changes nothing");
	dmabuf_fault_inject_alloc(0, 0);
	is_int(dmabuf_resv_add_fence(&obj, extra, DMABUF_RESV_USAGE_READ), 0,
	       "without injection the add grows the table itself");
	is_int(dmabuf_resv_num_fences(&obj), num + 1, "and the fence is in");
	dmabuf_fence_put(extra);

	/* Growing the table drops the signaled fences. */
	sig = f[0];
	dmabuf_fence_signal(sig);
	num = dmabuf_resv_num_fences(&obj);
	is_int(dmabuf_resv_reserve_fences(&obj, 64), 0, "reserve more");
	is_int(dmabuf_resv_num_fences(&obj), num - 1,
	       "a new table leaves the signaled fence out");
	is_int(refs(sig), 1, "and drops its reference");
	is_int(dmabuf_resv_reserve_fences(&obj, 0), 0, "reserving 0 is a no-op");
	is_int(dmabuf_resv_reserve_fences(&obj, UINT32_MAX), -ENOMEM,
	       "an impossible reservation fails");
	dmabuf_resv_unlock(&obj);
	dmabuf_resv_fini(&obj);
	put_all(f, N + 1);
}

static void test_walks(void)
{
	struct dmabuf_fence *f[3], *fence;
	struct dmabuf_resv_iter it;
	struct dmabuf_resv obj;
	int count = 0;
	bool usage_ok, refs_ok = true;

	dmabuf_resv_init(&obj);
	for (int i = 0; i < 3; i++) {
		f[i] = tf_new();
		add(&obj, f[i], DMABUF_RESV_USAGE_READ);
	}
	dmabuf_fence_signal(f[1]);
	is_int(locked_walk(&obj, DMABUF_RESV_USAGE_READ, f, 3, &usage_ok), 7,
	       "the locked walk visits signaled fences too");
	is_int(unlocked_walk(&obj, DMABUF_RESV_USAGE_READ, f, 3), 5,
	       "the unlocked walk skips them");

	dmabuf_resv_lock(&obj, NULL);
	dmabuf_resv_iter_begin(&it, &obj, DMABUF_RESV_USAGE_READ);
	fence = dmabuf_resv_iter_first(&it);
	ok(dmabuf_resv_iter_is_restarted(&it), "locked: the first fence starts a walk");
	is_int(refs(fence), 2, "locked: no reference taken");
	dmabuf_resv_iter_next(&it);
	ok(!dmabuf_resv_iter_is_restarted(&it), "locked: next is not a restart");
	dmabuf_resv_iter_end(&it);
	dmabuf_resv_unlock(&obj);

	dmabuf_resv_iter_begin(&it, &obj, DMABUF_RESV_USAGE_READ);
	dmabuf_resv_for_each_fence_unlocked(&it, fence) {
		if (refs(fence) != 3)
			refs_ok = false;
		if (count++ == 0)
			ok(dmabuf_resv_iter_is_restarted(&it),
			   "unlocked: the first fence starts a walk");
		else
			ok(!dmabuf_resv_iter_is_restarted(&it),
			   "unlocked: later fences do not");
	}
	dmabuf_resv_iter_end(&it);
	ok(refs_ok, "unlocked: the walk holds a reference to the current fence");
	ok(refs(f[0]) == 2 && refs(f[2]) == 2, "unlocked: and drops it again");

	/* Ending a walk half way drops the reference too. */
	dmabuf_resv_iter_begin(&it, &obj, DMABUF_RESV_USAGE_READ);
	fence = dmabuf_resv_iter_first_unlocked(&it);
	dmabuf_resv_iter_end(&it);
	is_int(refs(fence), 2, "unlocked: ending early drops the reference");
	dmabuf_resv_fini(&obj);
	put_all(f, 3);
}

static void test_restart(void)
{
	struct dmabuf_fence *f1 = tf_new(), *f2 = tf_new();
	struct dmabuf_fence *f3 = tf_new(), *fence;
	struct dmabuf_resv_iter it;
	struct dmabuf_resv obj;

	dmabuf_resv_init(&obj);
	add(&obj, f1, DMABUF_RESV_USAGE_READ);
	add(&obj, f2, DMABUF_RESV_USAGE_READ);

	dmabuf_resv_iter_begin(&it, &obj, DMABUF_RESV_USAGE_READ);
	ok(dmabuf_resv_iter_first_unlocked(&it) == f1, "walk: first fence");
	/* Replace the table under the walk (growing it). */
	dmabuf_resv_lock(&obj, NULL);
	dmabuf_resv_reserve_fences(&obj, 16);
	dmabuf_resv_unlock(&obj);
	fence = dmabuf_resv_iter_next_unlocked(&it);
	ok(fence == f1, "a new table makes the walk start over at the first fence");
	ok(dmabuf_resv_iter_is_restarted(&it), "and it says so");
	/* Adding to the current table does not restart it. */
	add(&obj, f3, DMABUF_RESV_USAGE_READ);
	fence = dmabuf_resv_iter_next_unlocked(&it);
	ok(fence == f2 && !dmabuf_resv_iter_is_restarted(&it),
	   "a fence added to the same table does not restart the walk");
	ok(dmabuf_resv_iter_next_unlocked(&it) == NULL,
	   "the walk covers the fences present when it (re)started");
	dmabuf_resv_iter_end(&it);
	is_int(unlocked_walk(&obj, DMABUF_RESV_USAGE_READ, (struct dmabuf_fence *[]){ f1, f2, f3 }, 3),
	       7, "a new walk sees all three");

	/* copy_fences into the object under a walk restarts it too. */
	{
		struct dmabuf_resv src;
		struct dmabuf_fence *g = tf_new();

		dmabuf_resv_init(&src);
		add(&src, g, DMABUF_RESV_USAGE_WRITE);
		dmabuf_resv_iter_begin(&it, &obj, DMABUF_RESV_USAGE_READ);
		ok(dmabuf_resv_iter_first_unlocked(&it) == f1, "walk again: first fence");
		dmabuf_resv_lock(&obj, NULL);
		dmabuf_resv_copy_fences(&obj, &src);
		dmabuf_resv_unlock(&obj);
		fence = dmabuf_resv_iter_next_unlocked(&it);
		ok(fence == g && dmabuf_resv_iter_is_restarted(&it),
		   "a copy into the object restarts the walk on the new fences");
		ok(dmabuf_resv_iter_next_unlocked(&it) == NULL, "which ends there");
		dmabuf_resv_iter_end(&it);
		dmabuf_resv_fini(&src);
		dmabuf_fence_put(g);
	}
	dmabuf_resv_fini(&obj);
	is_int(refs(f1) + refs(f2) + refs(f3), 3, "all references balanced");
	dmabuf_fence_put(f1);
	dmabuf_fence_put(f2);
	dmabuf_fence_put(f3);
}

static void test_get_fences(void)
{
	struct dmabuf_fence *f[3], **fences = (void *)1;
	struct dmabuf_resv obj;
	unsigned int num = 5;
	bool found[3] = { false };

	dmabuf_resv_init(&obj);
	for (int i = 0; i < 3; i++) {
		f[i] = tf_new();
		add(&obj, f[i], i == 2 ? DMABUF_RESV_USAGE_BOOKKEEP : DMABUF_RESV_USAGE_WRITE);
	}
	dmabuf_fence_signal(f[0]);
	is_int(dmabuf_resv_get_fences(&obj, DMABUF_RESV_USAGE_READ, &num, &fences), 0,
	       "get_fences");
	is_int(num, 1, "only the unsignaled fences of matching usage");
	ok(num == 1 && fences[0] == f[1], "the right one");
	is_int(refs(f[1]), 3, "with a reference for the caller");
	put_all(fences, (int)num);
	free(fences);

	is_int(dmabuf_resv_get_fences(&obj, DMABUF_RESV_USAGE_BOOKKEEP, &num, &fences),
	       0, "get_fences BOOKKEEP");
	for (unsigned int i = 0; i < num; i++)
		for (int j = 0; j < 3; j++)
			if (fences[i] == f[j])
				found[j] = true;
	ok(num == 2 && found[1] && found[2], "gets both unsignaled fences");
	put_all(fences, (int)num);
	free(fences);

	dmabuf_fault_inject_alloc(0, 1);
	num = 9;
	fences = (void *)1;
	is_int(dmabuf_resv_get_fences(&obj, DMABUF_RESV_USAGE_BOOKKEEP, &num, &fences),
	       -ENOMEM, "get_fences when allocation fails");
	dmabuf_fault_inject_alloc(0, 0);
	ok(num == 0 && fences == NULL, "gives nothing");
	ok(refs(f[1]) == 2 && refs(f[2]) == 2, "and keeps no reference");
	dmabuf_resv_fini(&obj);
	put_all(f, 3);
}

static void test_singleton(void)
{
	struct dmabuf_fence *f[3], *extra = tf_new();
	struct dmabuf_fence *sig = tf_new(), *out, *out2;
	struct dmabuf_resv obj;
	int ret;

	dmabuf_fence_signal(sig);
	dmabuf_resv_init(&obj);
	for (int i = 0; i < 3; i++)
		f[i] = tf_new();

	is_int(dmabuf_resv_get_singleton(&obj, DMABUF_RESV_USAGE_READ, sig, &out), 0,
	       "singleton: empty object, signaled extra");
	ok(out == NULL, "singleton: nothing to wait for gives NULL");
	dmabuf_resv_get_singleton(&obj, DMABUF_RESV_USAGE_READ, extra, &out);
	ok(out == extra && refs(extra) == 2,
	   "singleton: only the extra fence gives it, with a reference");
	dmabuf_fence_put(out);

	add(&obj, f[0], DMABUF_RESV_USAGE_WRITE);
	add(&obj, f[2], DMABUF_RESV_USAGE_BOOKKEEP);
	dmabuf_resv_get_singleton(&obj, DMABUF_RESV_USAGE_READ, NULL, &out);
	ok(out == f[0] && refs(f[0]) == 3, "singleton: one fence gives that fence");
	dmabuf_fence_put(out);

	add(&obj, f[1], DMABUF_RESV_USAGE_READ);
	is_int(dmabuf_resv_get_singleton(&obj, DMABUF_RESV_USAGE_READ, NULL, &out),
	       0, "singleton: two fences");
	ok(dmabuf_fence_is_array(out), "singleton: gives a fence array");
	is_int(dmabuf_fence_array_num_fences(out), 2, "singleton: of both");
	ok(out->context != f[0]->context && out->context != f[1]->context &&
	   out->seqno == 1, "singleton: on a new context, seqno 1");
	dmabuf_resv_get_singleton(&obj, DMABUF_RESV_USAGE_READ, NULL, &out2);
	ok(out2->context != out->context, "singleton: every array gets its own context");
	dmabuf_fence_put(out2);
	dmabuf_resv_get_singleton(&obj, DMABUF_RESV_USAGE_READ, extra, &out2);
	is_int(dmabuf_fence_array_num_fences(out2), 3, "singleton: the extra fence joins");
	ok(dmabuf_fence_array_fence(out2, 2) == extra, "singleton: at the end");
	dmabuf_fence_put(out);
	dmabuf_resv_get_singleton(&obj, DMABUF_RESV_USAGE_READ, sig, &out);
	is_int(dmabuf_fence_array_num_fences(out), 2,
	       "singleton: a signaled extra fence is left out");

	dmabuf_fence_signal(f[0]);
	ok(!dmabuf_fence_is_signaled(out), "singleton: pending while one fence is");
	dmabuf_fence_signal(f[1]);
	ok(dmabuf_fence_is_signaled(out), "singleton: signals once all did");
	ok(!dmabuf_fence_is_signaled(out2), "singleton: the one with extra still waits");
	dmabuf_fence_signal(extra);
	ok(dmabuf_fence_is_signaled(out2), "singleton: and signals after it");
	dmabuf_fence_put(out);
	dmabuf_fence_put(out2);

	/* Allocation failures: -ENOMEM, no reference leaked, out untouched. */
	{
		struct dmabuf_fence *g = tf_new(), *h = tf_new();
		bool clean = true;
		int fails = 0;

		add(&obj, g, DMABUF_RESV_USAGE_READ);
		add(&obj, h, DMABUF_RESV_USAGE_READ);
		for (unsigned int skip = 0; skip < 20; skip++) {
			out = (void *)&obj;
			dmabuf_fault_inject_alloc(skip, 1);
			ret = dmabuf_resv_get_singleton(&obj, DMABUF_RESV_USAGE_READ,
							f[2], &out);
			dmabuf_fault_inject_alloc(0, 0);
			if (!ret) {
				dmabuf_fence_put(out);
				break;
			}
			fails++;
			if (ret != -ENOMEM || out != (void *)&obj || refs(g) != 2 ||
			    refs(h) != 2 || refs(f[2]) != 2)
				clean = false;
		}
		ok(fails > 0 && ret == 0, "singleton: every allocation failure was tried");
		ok(clean, "singleton: each failed with -ENOMEM and changed nothing");
		is_int(refs(g) + refs(h), 4, "singleton: no reference leaked");
		dmabuf_resv_fini(&obj);
		dmabuf_fence_put(g);
		dmabuf_fence_put(h);
	}
	put_all(f, 3);
	dmabuf_fence_put(extra);
	dmabuf_fence_put(sig);
}

static void test_container(void)
{
	struct dmabuf_fence *f[2] = { tf_new(), tf_new() };
	struct dmabuf_fence *array;
	struct dmabuf_resv obj;

	dmabuf_resv_init(&obj);
	if (dmabuf_fence_array_create(2, f, new_ctx(), 1, false, &array))
		bail_out("cannot create a fence array");
	is_int(add(&obj, array, DMABUF_RESV_USAGE_READ), -EINVAL,
	       "a container fence is rejected");
	is_int(dmabuf_resv_num_fences(&obj), 0, "nothing added");
	is_int(refs(array), 1, "no reference kept");
	dmabuf_fence_put(array);
	dmabuf_resv_fini(&obj);
	put_all(f, 2);
}

static void test_signaled(void)
{
	struct dmabuf_fence *w = tf_new(), *b = tf_new();
	struct dmabuf_resv obj;

	dmabuf_resv_init(&obj);
	add(&obj, w, DMABUF_RESV_USAGE_WRITE);
	add(&obj, b, DMABUF_RESV_USAGE_BOOKKEEP);
	ok(dmabuf_resv_test_signaled(&obj, DMABUF_RESV_USAGE_KERNEL),
	   "no KERNEL fence: signaled for KERNEL");
	ok(!dmabuf_resv_test_signaled(&obj, DMABUF_RESV_USAGE_WRITE),
	   "pending writer: not signaled for WRITE");
	ok(!dmabuf_resv_test_signaled(&obj, DMABUF_RESV_USAGE_READ),
	   "nor for READ");
	is_int(dmabuf_resv_wait_timeout(&obj, DMABUF_RESV_USAGE_READ, 0), -ETIME,
	       "wait with timeout 0 on a pending fence: -ETIME");
	is_int(dmabuf_resv_wait_timeout(&obj, DMABUF_RESV_USAGE_READ, 1000000), -ETIME,
	       "a short timeout expires");
	dmabuf_fence_signal(w);
	ok(dmabuf_resv_test_signaled(&obj, DMABUF_RESV_USAGE_READ),
	   "writer signaled: signaled for READ");
	is_int(dmabuf_resv_wait_timeout(&obj, DMABUF_RESV_USAGE_READ, 0), 0,
	       "and waiting for READ succeeds at once");
	ok(!dmabuf_resv_test_signaled(&obj, DMABUF_RESV_USAGE_BOOKKEEP),
	   "but not for BOOKKEEP");
	dmabuf_fence_signal(b);
	ok(dmabuf_resv_test_signaled(&obj, DMABUF_RESV_USAGE_BOOKKEEP),
	   "all signaled: signaled for BOOKKEEP");
	dmabuf_resv_fini(&obj);
	dmabuf_fence_put(w);
	dmabuf_fence_put(b);
}

/* Signal @fences once somebody has a callback on each (a waiter sleeps). */
struct signaler {
	struct dmabuf_fence **fences;
	int n;
};

static bool has_callback(struct dmabuf_fence *f)
{
	bool ret;

	pthread_mutex_lock(f->lock);
	ret = !dmabuf_list_empty(&f->cb_list);
	pthread_mutex_unlock(f->lock);
	return ret;
}

static void *signaler_main(void *arg)
{
	struct signaler *s = arg;

	for (int i = 0; i < s->n; i++) {
		while (!has_callback(s->fences[i]))
			sched_yield();
		dmabuf_fence_signal(s->fences[i]);
	}
	return NULL;
}

static void test_wait_thread(void)
{
	struct dmabuf_fence *f[2] = { tf_new(), tf_new() };
	struct signaler s = { f, 2 };
	struct dmabuf_resv obj;
	pthread_t t;
	int ret;

	dmabuf_resv_init(&obj);
	add(&obj, f[0], DMABUF_RESV_USAGE_KERNEL);
	add(&obj, f[1], DMABUF_RESV_USAGE_READ);
	pthread_create(&t, NULL, signaler_main, &s);
	ret = dmabuf_resv_wait_timeout(&obj, DMABUF_RESV_USAGE_READ, 60000000000LL);
	pthread_join(t, NULL);
	is_int(ret, 0, "wait returns once another thread signaled both fences");
	ok(dmabuf_fence_is_signaled(f[0]) && dmabuf_fence_is_signaled(f[1]),
	   "and both have signaled");

	dmabuf_fence_put(f[0]);
	f[0] = tf_new();
	add(&obj, f[0], DMABUF_RESV_USAGE_WRITE);
	s.n = 1;
	pthread_create(&t, NULL, signaler_main, &s);
	ret = dmabuf_resv_wait_timeout(&obj, DMABUF_RESV_USAGE_WRITE,
				       DMABUF_TIMEOUT_INFINITE);
	pthread_join(t, NULL);
	is_int(ret, 0, "an infinite wait returns once signaled");
	dmabuf_resv_fini(&obj);
	put_all(f, 2);
}

static void test_copy(void)
{
	struct dmabuf_fence *s[3], *d = tf_new();
	struct dmabuf_resv src, dst;
	bool usage_ok, usages = true;
	struct dmabuf_resv_iter it;
	struct dmabuf_fence *fence;
	int ret;

	dmabuf_resv_init(&src);
	dmabuf_resv_init(&dst);
	for (int i = 0; i < 3; i++) {
		s[i] = tf_new();
		add(&src, s[i], (enum dmabuf_resv_usage)(i + 1));
	}
	dmabuf_fence_signal(s[0]);
	add(&dst, d, DMABUF_RESV_USAGE_KERNEL);

	is_int(dmabuf_resv_copy_fences(&dst, &src), -EINVAL,
	       "copy into an unlocked object");
	dmabuf_resv_lock(&dst, NULL);
	dmabuf_fault_inject_alloc(0, 1);
	ret = dmabuf_resv_copy_fences(&dst, &src);
	dmabuf_fault_inject_alloc(0, 0);
	is_int(ret, -ENOMEM, "copy when allocation fails");
	ok(dmabuf_resv_num_fences(&dst) == 1 && refs(d) == 2,
	   "leaves the destination unchanged");
	ok(refs(s[1]) == 2 && refs(s[2]) == 2, "and takes no reference");
	is_int(dmabuf_resv_copy_fences(&dst, &src), 0, "copy");
	dmabuf_resv_unlock(&dst);
	is_int(refs(d), 1, "the destination's old fences are dropped");
	is_int(locked_walk(&dst, DMABUF_RESV_USAGE_BOOKKEEP, s, 3, &usage_ok), 6,
	       "it gets the source's unsignaled fences");
	ok(refs(s[1]) == 3 && refs(s[2]) == 3, "with their own references");
	dmabuf_resv_lock(&dst, NULL);
	dmabuf_resv_for_each_fence(&it, &dst, DMABUF_RESV_USAGE_BOOKKEEP, fence)
		for (int i = 1; i < 3; i++)
			if (fence == s[i] && it.fence_usage != (enum dmabuf_resv_usage)(i + 1))
				usages = false;
	ok(usages, "and their usages");
	is_int(dmabuf_resv_num_fences(&src), 3, "the source is unchanged");

	dmabuf_resv_fini(&src);
	dmabuf_resv_init(&src);
	is_int(dmabuf_resv_copy_fences(&dst, &src), 0, "copy an empty object");
	is_int(dmabuf_resv_num_fences(&dst), 0, "empties the destination");
	is_int(refs(s[1]) + refs(s[2]), 2, "dropping its references");
	is_int(dmabuf_resv_add_fence(&dst, d, DMABUF_RESV_USAGE_READ), 0,
	       "the emptied object takes new fences");
	dmabuf_resv_unlock(&dst);
	dmabuf_resv_fini(&dst);
	dmabuf_resv_fini(&src);
	put_all(s, 3);
	dmabuf_fence_put(d);
}

int main(void)
{
	test_empty();
	test_locking();
	test_bad_args();
	test_usage_order();
	test_replace();
	test_slot_reuse();
	test_reserve();
	test_walks();
	test_restart();
	test_get_fences();
	test_singleton();
	test_container();
	test_signaled();
	test_wait_thread();
	test_copy();

	is_int(atomic_load(&tf_released), atomic_load(&tf_created),
	       "every test fence was released in the end");
	return tap_done();
}

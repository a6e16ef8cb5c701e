// SPDX-License-Identifier: MIT
/*
 * fence_unwrap.c - iterate over the leaves of fence containers, and merge
 * sets of fences into one.
 *
 * The cursor walks a chain with dmabuf_fence_chain_walk() (so signaled
 * links are skipped) and, for each payload that is an array, its fences.
 */

#include <dmabuf/fence_array.h>
#include <dmabuf/fence_chain.h>
#include <dmabuf/fence_unwrap.h>

#include "internal.h"

/* The first fence of @fence if it is an array, else @fence itself. */
static struct dmabuf_fence *array_first(struct dmabuf_fence *fence)
{
	if (dmabuf_fence_is_array(fence))
		return dmabuf_fence_array_fence(fence, 0);
	return fence;
}

/* Start on the payload at the cursor's chain position. */
static struct dmabuf_fence *unwrap_payload(struct dmabuf_fence_unwrap *cursor)
{
	cursor->array = dmabuf_fence_chain_contained(cursor->chain);
	cursor->index = 0;
	return array_first(cursor->array);
}

struct dmabuf_fence *dmabuf_fence_unwrap_first(struct dmabuf_fence *head,
					       struct dmabuf_fence_unwrap *cursor)
{
	if (!cursor)
		return NULL;
	cursor->chain = dmabuf_fence_get(head);
	return unwrap_payload(cursor);
}

struct dmabuf_fence *dmabuf_fence_unwrap_next(struct dmabuf_fence_unwrap *cursor)
{
	struct dmabuf_fence *next;

	if (!cursor || !cursor->chain)
		return NULL;
	cursor->index++;
	if (dmabuf_fence_is_array(cursor->array)) {
		next = dmabuf_fence_array_fence(cursor->array, cursor->index);
		if (next)
			return next;
	}
	cursor->chain = dmabuf_fence_chain_walk(cursor->chain);
	return unwrap_payload(cursor);
}

void dmabuf_fence_unwrap_end(struct dmabuf_fence_unwrap *cursor)
{
	if (!cursor)
		return;
	dmabuf_fence_put(cursor->chain);
	cursor->chain = NULL;
	cursor->array = NULL;
	cursor->index = 0;
}

unsigned int dmabuf_fence_unwrap_count(struct dmabuf_fence *head)
{
	struct dmabuf_fence_unwrap cursor;
	struct dmabuf_fence *leaf;
	unsigned int n = 0;

	dmabuf_fence_unwrap_for_each(leaf, &cursor, head)
		n++;
	return n;
}

/* Signal time of @fence, which has signaled (now if not yet recorded). */
static int64_t leaf_timestamp(struct dmabuf_fence *fence)
{
	unsigned long flags = atomic_load(&fence->flags);

	if (!(flags & (1UL << DMABUF_FENCE_FLAG_TIMESTAMP)))
		return dmabuf_now_ns();
	return fence->timestamp_ns;
}

/* Order by context, and the latest fence first within a context. */
static int merge_cmp(struct dmabuf_fence *a, struct dmabuf_fence *b)
{
	if (a->context != b->context)
		return a->context < b->context ? -1 : 1;
	if (dmabuf_fence_is_later(b, a))
		return 1;
	if (dmabuf_fence_is_later(a, b))
		return -1;
	return 0;
}

static void sift_down(struct dmabuf_fence **v, size_t root, size_t n)
{
	for (;;) {
		size_t child = 2 * root + 1;
		struct dmabuf_fence *tmp;

		if (child >= n)
			return;
		if (child + 1 < n && merge_cmp(v[child], v[child + 1]) < 0)
			child++;
		if (merge_cmp(v[root], v[child]) >= 0)
			return;
		tmp = v[root];
		v[root] = v[child];
		v[child] = tmp;
		root = child;
	}
}

/*
 * Heapsort, as the kernel's sort(): in place, O(n log n), and memory safe
 * even though 32-bit seqno comparison is not transitive across a whole
 * wrap-around.
 */
static void sort_fences(struct dmabuf_fence **v, size_t n)
{
	size_t i;

	for (i = n / 2; i-- > 0;)
		sift_down(v, i, n);
	for (i = n; i-- > 1;) {
		struct dmabuf_fence *tmp = v[0];

		v[0] = v[i];
		v[i] = tmp;
		sift_down(v, 0, i);
	}
}

static void put_all(struct dmabuf_fence **fences, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++)
		dmabuf_fence_put(fences[i]);
}

struct leaf_set {
	struct dmabuf_fence **fences;
	unsigned int count, cap;
	struct dmabuf_fence *local[8];
	int64_t timestamp;	/* latest among the signaled leaves */
};

/* Add a reference to @fence to @set.  Returns 0 or -ENOMEM. */
static int leaf_set_add(struct leaf_set *set, struct dmabuf_fence *fence)
{
	if (set->count == set->cap) {
		unsigned int cap = set->cap * 2;
		struct dmabuf_fence **grown;

		if (cap < set->cap)
			return -ENOMEM;
		if (set->fences == set->local) {
			grown = dmabuf_calloc(cap, sizeof(*grown));
			if (grown)
				for (unsigned int i = 0; i < set->count; i++)
					grown[i] = set->local[i];
		} else {
			grown = dmabuf_realloc_array(set->fences, cap,
						     sizeof(*grown));
		}
		if (!grown)
			return -ENOMEM;
		set->fences = grown;
		set->cap = cap;
	}
	set->fences[set->count++] = dmabuf_fence_get(fence);
	return 0;
}

/* Collect the unsignaled leaves of all inputs. */
static int collect_leaves(unsigned int num_fences,
			  struct dmabuf_fence *const *fences,
			  struct leaf_set *set)
{
	struct dmabuf_fence_unwrap cursor;
	struct dmabuf_fence *leaf;

	for (unsigned int i = 0; i < num_fences; i++) {
		dmabuf_fence_unwrap_for_each(leaf, &cursor, fences[i]) {
			int64_t t;

			if (!dmabuf_fence_is_signaled(leaf)) {
				if (leaf_set_add(set, leaf)) {
					dmabuf_fence_unwrap_end(&cursor);
					return -ENOMEM;
				}
				continue;
			}
			t = leaf_timestamp(leaf);
			if (t > set->timestamp)
				set->timestamp = t;
		}
	}
	return 0;
}

/* Keep the first (latest) fence of each context of the sorted @set. */
static void dedup_sorted(struct leaf_set *set)
{
	unsigned int i, j = 0;

	for (i = 1; i < set->count; i++) {
		if (set->fences[i]->context == set->fences[j]->context)
			dmabuf_fence_put(set->fences[i]);
		else
			set->fences[++j] = set->fences[i];
	}
	set->count = j + 1;
}

int dmabuf_fence_merge(unsigned int num_fences,
		       struct dmabuf_fence *const *fences,
		       struct dmabuf_fence **out)
{
	struct leaf_set set = { .cap = 8, .timestamp = 0 };
	int ret;

	if (!out || (num_fences && !fences))
		return -EINVAL;
	for (unsigned int i = 0; i < num_fences; i++)
		if (!fences[i])
			return -EINVAL;
	set.fences = set.local;

	ret = collect_leaves(num_fences, fences, &set);
	if (ret)
		goto out_put;

	if (set.count == 0) {
		ret = dmabuf_fence_create_stub(set.timestamp, out);
		goto out_free;
	}
	if (set.count > 1) {
		sort_fences(set.fences, set.count);
		dedup_sorted(&set);
	}
	if (set.count == 1) {
		*out = set.fences[0];	/* hand over our reference */
		goto out_free;
	}
	ret = dmabuf_fence_array_create(set.count, set.fences,
					dmabuf_fence_context_alloc(1), 1,
					false, out);
out_put:
	put_all(set.fences, set.count);
out_free:
	if (set.fences != set.local)
		dmabuf_free(set.fences);
	return ret;
}

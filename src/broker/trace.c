// SPDX-License-Identifier: MIT
/*
 * trace.c - the broker's events (trace.h): buffers, their names and fences, sync_files, and
 * when each fence signals.
 *
 * Every leaf fence of a sync_file the broker hands out (a sw_sync point, a merge's members,
 * what EXPORT_SYNC_FILE collects) gets a callback once, which records fence_signal with the
 * fence's own timestamp.  The callback runs with the fence's lock held: it writes the line and
 * moves its watch to a list of finished ones; the reference the watch holds is dropped at the
 * broker's next event (or at exit), outside any fence lock.  The broker is one thread.
 */
#include <stdio.h>
#include <stdlib.h>

#include <dmabuf/fence.h>
#include <dmabuf/fence_unwrap.h>

#include "dmabufd.h"
#include "trace.h"

/* One fence being watched (key: its address, while it holds a reference). */
struct watch {
	struct dmabufd_node node;
	struct dmabuf_fence_cb cb;
	struct dmabuf_fence *fence;
	struct watch *done_next;
};

static struct dmabufd_tab watches;
static struct watch *done;

/* "<context>:<seqno>" of @fence into @out. */
static void fence_id(const struct dmabuf_fence *fence, char *out, size_t len)
{
	snprintf(out, len, "%llu:%llu", (unsigned long long)fence->context,
		 (unsigned long long)fence->seqno);
}

/* Drop the watches whose fence signaled (never from a fence callback). */
static void reap(void)
{
	struct watch *w;

	while ((w = done)) {
		done = w->done_next;
		dmabuf_fence_put(w->fence);
		free(w);
	}
}

/* @fence signaled; its lock is held. */
static void signaled(struct dmabuf_fence *fence, struct dmabuf_fence_cb *cb)
{
	struct watch *w = dmabufd_container_of(cb, struct watch, cb);
	struct dmabuf_trace_ev e;
	char id[48];

	dmabufd_tab_remove(&watches, &w->node);
	w->done_next = done;
	done = w;
	if (!dmabuf_trace_begin(&e, "fence_signal", fence->timestamp_ns))
		return;
	fence_id(fence, id, sizeof(id));
	dmabuf_trace_str(&e, "fence", id);
	dmabuf_trace_str(&e, "timeline", fence->ops->get_timeline_name(fence));
	dmabuf_trace_int(&e, "status", fence->error ? fence->error : 1);
	dmabuf_trace_end(&e);
}

/* Watch @fence (a leaf) until it signals, once.  Whether it is still pending. */
static bool watch(struct dmabuf_fence *fence)
{
	struct watch *w;

	if (!watches.buckets && dmabufd_tab_init(&watches, 256))
		return !dmabuf_fence_is_signaled(fence);
	if (dmabufd_tab_find(&watches, (uintptr_t)fence, 0))
		return true;
	w = calloc(1, sizeof(*w));
	if (!w)
		return !dmabuf_fence_is_signaled(fence);
	w->node.k1 = (uintptr_t)fence;
	w->fence = dmabuf_fence_get(fence);
	dmabufd_tab_insert(&watches, &w->node);
	if (!dmabuf_fence_add_callback(fence, &w->cb, signaled))
		return true;
	/* signaled already */
	dmabufd_tab_remove(&watches, &w->node);
	dmabuf_fence_put(fence);
	free(w);
	return false;
}

/* Append "<ctx>:<seqno>" of @fence to the list at *@p (*@left bytes of room; 0: full). */
static void list_add(char **p, size_t *left, bool first, const struct dmabuf_fence *fence)
{
	int n;

	if (!*left)
		return;
	n = snprintf(*p, *left, "%s%llu:%llu", first ? "" : ",",
		     (unsigned long long)fence->context, (unsigned long long)fence->seqno);
	if (n > 0 && (size_t)n < *left) {
		*p += n;
		*left -= (size_t)n;
	} else {
		**p = '\0';	/* as many as fit */
		*left = 0;
	}
}

void dmabufd_trace_buf_create(uint64_t buf, uint64_t size, const char *exporter,
			      const char *heap, pid_t client)
{
	struct dmabuf_trace_ev e;

	reap();
	if (!dmabuf_trace_begin(&e, "buf_create", -1))
		return;
	dmabuf_trace_uint(&e, "buf", buf);
	dmabuf_trace_uint(&e, "size", size);
	dmabuf_trace_str(&e, "exporter", exporter);
	dmabuf_trace_str(&e, "heap", heap);
	dmabuf_trace_int(&e, "client", client);
	dmabuf_trace_end(&e);
}

void dmabufd_trace_buf_release(uint64_t buf)
{
	struct dmabuf_trace_ev e;

	reap();
	if (!dmabuf_trace_begin(&e, "buf_release", -1))
		return;
	dmabuf_trace_uint(&e, "buf", buf);
	dmabuf_trace_end(&e);
}

void dmabufd_trace_buf_name(uint64_t buf, const char *name)
{
	struct dmabuf_trace_ev e;

	reap();
	if (!dmabuf_trace_begin(&e, "buf_name", -1))
		return;
	dmabuf_trace_uint(&e, "buf", buf);
	dmabuf_trace_str(&e, "name", name);
	dmabuf_trace_end(&e);
}

void dmabufd_trace_fence_add(uint64_t buf, struct dmabuf_fence *fence, bool write)
{
	struct dmabuf_fence_unwrap cursor;
	struct dmabuf_trace_ev e;
	struct dmabuf_fence *leaf;
	char id[48];

	reap();
	dmabuf_fence_unwrap_for_each(leaf, &cursor, fence) {
		bool pending = watch(leaf);

		if (!dmabuf_trace_begin(&e, "fence_add", -1))
			continue;
		fence_id(leaf, id, sizeof(id));
		dmabuf_trace_uint(&e, "buf", buf);
		dmabuf_trace_str(&e, "fence", id);
		dmabuf_trace_str(&e, "usage", write ? "write" : "read");
		dmabuf_trace_int(&e, "pending", pending);
		dmabuf_trace_end(&e);
	}
}

void dmabufd_trace_sf_create(uint64_t sf, struct dmabuf_fence *fence)
{
	struct dmabuf_fence_unwrap cursor;
	struct dmabuf_trace_ev e;
	struct dmabuf_fence *leaf;
	char all[DMABUF_TRACE_LINE_MAX / 3], pending[DMABUF_TRACE_LINE_MAX / 3];
	char *pa = all, *pp = pending;
	size_t la = sizeof(all), lp = sizeof(pending);

	reap();
	all[0] = pending[0] = '\0';
	dmabuf_fence_unwrap_for_each(leaf, &cursor, fence) {
		list_add(&pa, &la, pa == all, leaf);
		if (watch(leaf))
			list_add(&pp, &lp, pp == pending, leaf);
	}
	if (!dmabuf_trace_begin(&e, "sf_create", -1))
		return;
	dmabuf_trace_uint(&e, "sf", sf);
	dmabuf_trace_str(&e, "fences", all);
	dmabuf_trace_str(&e, "pending", pending);
	dmabuf_trace_end(&e);
}

/* At exit: drop what is still watched (the fences outlive no broker). */
static void __attribute__((destructor)) trace_fini(void)
{
	struct dmabufd_node *node, *next;
	struct watch *w;

	reap();
	if (!watches.buckets)
		return;
	for (size_t i = 0; i <= watches.mask; i++) {
		for (node = watches.buckets[i]; node; node = next) {
			next = node->next;
			w = dmabufd_container_of(node, struct watch, node);
			dmabuf_fence_remove_callback(w->fence, &w->cb);
			dmabuf_fence_put(w->fence);
			free(w);
		}
	}
	dmabufd_tab_fini(&watches);
}

// SPDX-License-Identifier: MIT
/*
 * introspect.c - DMABUFD_OP_INTROSPECT: the live buffers, sync_files, timelines and fences,
 * listed in pages for dmabufctl.
 *
 * Looking changes nothing a client could observe: a fence's status is read from its signaled
 * bit (never through ops->signaled, never enabling signaling, which would change what a
 * count-only SYNC_IOC_FILE_INFO of a container reports); reservation objects are walked under
 * their lock, which only this thread takes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <dmabuf/dma_buf.h>
#include <dmabuf/fence_unwrap.h>
#include <dmabuf/resv.h>
#include <dmabuf/sw_sync.h>
#include <dmabuf/sync_file.h>

#include "dmabufd.h"

/* An object, in listing order: (type, ino). */
struct entry {
	uint32_t type;
	uint64_t ino;
	struct dmabufd_obj *obj;
};

struct collect {
	struct entry *v;
	size_t n, cap;
	uint32_t types;		/* bit (1 << enum dmabufd_type) per type wanted */
	int err;
};

/* Where a page starts or the next one would. */
struct cursor {
	uint32_t type;
	uint64_t ino;
	uint64_t index;
};

/* The reply being filled. */
struct page {
	unsigned char *out;
	size_t rec_size;
	size_t cap;		/* records that fit */
	size_t n;
	bool more;
	struct cursor next;
};

static void collect_one(struct dmabufd_obj *obj, void *arg)
{
	struct collect *c = arg;
	struct entry *bigger;

	if (c->err || !(c->types & (1U << obj->type)))
		return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;

		bigger = realloc(c->v, cap * sizeof(*bigger));
		if (!bigger) {
			c->err = -ENOMEM;
			return;
		}
		c->v = bigger;
		c->cap = cap;
	}
	c->v[c->n++] = (struct entry){ .type = obj->type, .ino = obj->node.k2, .obj = obj };
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

/* The record slot for the next record (zeroed), or NULL when the page is full. */
static void *page_slot(struct page *p)
{
	void *rec;

	if (p->n == p->cap)
		return NULL;
	rec = p->out + p->n++ * p->rec_size;
	memset(rec, 0, p->rec_size);
	return rec;
}

static void page_stop(struct page *p, uint32_t type, uint64_t ino, uint64_t index)
{
	p->more = true;
	p->next = (struct cursor){ .type = type, .ino = ino, .index = index };
}

static void copy_name(char dst[32], const char *src)
{
	size_t n = src ? strnlen(src, 31) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

/* 0 pending, 1 signaled, or its error: from the signaled bit only. */
static int32_t leaf_status(struct dmabuf_fence *f)
{
	int err;

	if (!(atomic_load(&f->flags) & (1UL << DMABUF_FENCE_FLAG_SIGNALED)))
		return 0;
	pthread_mutex_lock(f->lock);
	err = f->error;
	pthread_mutex_unlock(f->lock);
	return err ? err : 1;
}

/* A leaf of a holder, with the usage a buffer holds it for; false stops the walk. */
typedef bool (*leaf_fn)(struct dmabuf_fence *leaf, uint32_t usage, void *arg);

/* The unsignaled leaves of a buffer's reservation object, in the table's order. */
static void buf_leaves(struct dmabuf_buf *core, leaf_fn fn, void *arg)
{
	struct dmabuf_resv *resv = dmabuf_buf_resv(core);
	struct dmabuf_fence_unwrap cursor;
	struct dmabuf_fence *fence, *leaf;
	struct dmabuf_resv_iter it;

	if (dmabuf_resv_lock(resv, NULL))
		return;
	dmabuf_resv_for_each_fence(&it, resv, DMABUF_RESV_USAGE_BOOKKEEP, fence) {
		dmabuf_fence_unwrap_for_each(leaf, &cursor, fence) {
			if (leaf_status(leaf))
				continue;
			if (!fn(leaf, it.fence_usage, arg)) {
				dmabuf_fence_unwrap_end(&cursor);
				goto out;
			}
		}
	}
out:
	dmabuf_resv_iter_end(&it);
	dmabuf_resv_unlock(resv);
}

/* Every leaf of a sync_file's fence. */
static void sync_file_leaves(struct dmabuf_sync_file *core, leaf_fn fn, void *arg)
{
	struct dmabuf_fence *fence = dmabuf_sync_file_get_fence(core), *leaf;
	struct dmabuf_fence_unwrap cursor;

	dmabuf_fence_unwrap_for_each(leaf, &cursor, fence) {
		if (!fn(leaf, 0, arg)) {
			dmabuf_fence_unwrap_end(&cursor);
			break;
		}
	}
	dmabuf_fence_put(fence);
}

static void holder_leaves(const struct entry *e, leaf_fn fn, void *arg)
{
	struct dmabuf_buf *core;

	if (e->type == DMABUFD_TYPE_BUF) {
		dmabufd_buf_ranges(e->obj, &core);
		buf_leaves(core, fn, arg);
	} else {
		sync_file_leaves(dmabufd_sync_file_core(e->obj), fn, arg);
	}
}

/* ---- buffers ---- */

static bool count_usage(struct dmabuf_fence *leaf, uint32_t usage, void *arg)
{
	struct dmabufd_intro_buf *r = arg;

	if (usage < 4)
		r->fences[usage]++;
	return true;
}

static void fill_buf(const struct entry *e, struct dmabufd_intro_buf *r)
{
	struct dmabuf_buf *core;

	dmabufd_buf_ranges(e->obj, &core);
	r->dev = e->obj->node.k1;
	r->ino = e->ino;
	r->size = dmabuf_buf_size(core);
	r->map_info = (uint32_t)dmabuf_buf_map_info(core);
	r->attachments = dmabuf_buf_num_attachments(core);
	r->has_name = dmabuf_buf_get_name(core, r->name, sizeof(r->name)) >= 0;
	if (!r->has_name)
		r->name[0] = '\0';
	copy_name(r->exp_name, dmabuf_buf_exp_name(core));
	buf_leaves(core, count_usage, r);
}

/* ---- sync_files ---- */

static bool sync_file_status(struct dmabuf_fence *leaf, uint32_t usage, void *arg)
{
	struct dmabufd_intro_sync_file *r = arg;
	int32_t st = leaf_status(leaf);

	r->fences++;
	if (st < 0 && r->status >= 0)
		r->status = st;
	else if (st == 0 && r->status > 0)
		r->status = 0;
	return true;
}

static void fill_sync_file(const struct entry *e, struct dmabufd_intro_sync_file *r)
{
	struct dmabuf_sync_file *core = dmabufd_sync_file_core(e->obj);

	r->dev = e->obj->node.k1;
	r->ino = e->ino;
	r->status = 1;
	dmabuf_sync_file_get_name(core, r->name, sizeof(r->name));
	sync_file_leaves(core, sync_file_status, r);
}

/* ---- timelines ---- */

static void fill_timeline(const struct entry *e, struct dmabufd_intro_timeline *r)
{
	struct dmabuf_sw_timeline *tl = dmabufd_timeline_core(e->obj);

	r->dev = e->obj->node.k1;
	r->ino = e->ino;
	r->value = dmabuf_sw_timeline_value(tl);
	r->context = dmabuf_sw_timeline_context(tl);
	copy_name(r->name, dmabuf_sw_timeline_name(tl));
}

/* ---- fences ---- */

struct fence_walk {
	struct page *page;
	const struct entry *holder;
	uint64_t index;		/* of the next leaf */
	uint64_t start;		/* leaves before this one were listed already */
};

static bool emit_fence(struct dmabuf_fence *leaf, uint32_t usage, void *arg)
{
	struct fence_walk *w = arg;
	struct dmabufd_intro_fence *r;
	int64_t deadline;

	if (w->index < w->start) {
		w->index++;
		return true;
	}
	r = page_slot(w->page);
	if (!r) {
		page_stop(w->page, w->holder->type, w->holder->ino, w->index);
		return false;
	}
	w->index++;
	r->holder_ino = w->holder->ino;
	r->holder_type = w->holder->type;
	r->usage = usage;
	r->context = leaf->context;
	r->seqno = leaf->seqno;
	r->status = leaf_status(leaf);
	r->timestamp_ns = r->status ? dmabuf_fence_get_timestamp(leaf) : 0;
	if (dmabuf_fence_is_sw_sync(leaf) && !dmabuf_sw_sync_get_deadline(leaf, &deadline)) {
		r->flags |= DMABUFD_INTRO_FENCE_DEADLINE;
		r->deadline_ns = deadline;
	}
	copy_name(r->driver, dmabuf_fence_driver_name(leaf));
	copy_name(r->timeline, dmabuf_fence_timeline_name(leaf));
	return true;
}

/* ---- the op ---- */

/* One object of a listing other than FENCES; false when the page is full. */
static bool emit_object(struct page *p, uint32_t kind, const struct entry *e)
{
	void *r = page_slot(p);

	if (!r) {
		page_stop(p, e->type, e->ino, 0);
		return false;
	}
	if (kind == DMABUFD_INTRO_BUFFERS)
		fill_buf(e, r);
	else if (kind == DMABUFD_INTRO_SYNC_FILES)
		fill_sync_file(e, r);
	else
		fill_timeline(e, r);
	return true;
}

static bool before(const struct entry *e, const struct cursor *c)
{
	return e->type < c->type || (e->type == c->type && e->ino < c->ino);
}

int dmabufd_op_introspect(struct dmabufd_req *req)
{
	const struct dmabufd_msg *msg = req->msg;
	struct cursor from = {
		.type = (uint32_t)msg->arg[1], .ino = msg->arg[2], .index = msg->arg[3],
	};
	struct collect c = { 0 };
	struct page p = { .out = req->rep_payload };
	uint32_t kind = (uint32_t)msg->arg[0];

	switch (msg->arg[0]) {
	case DMABUFD_INTRO_BUFFERS:
		p.rec_size = sizeof(struct dmabufd_intro_buf);
		c.types = 1U << DMABUFD_TYPE_BUF;
		break;
	case DMABUFD_INTRO_SYNC_FILES:
		p.rec_size = sizeof(struct dmabufd_intro_sync_file);
		c.types = 1U << DMABUFD_TYPE_SYNC_FILE;
		break;
	case DMABUFD_INTRO_TIMELINES:
		p.rec_size = sizeof(struct dmabufd_intro_timeline);
		c.types = 1U << DMABUFD_TYPE_TIMELINE;
		break;
	case DMABUFD_INTRO_FENCES:
		p.rec_size = sizeof(struct dmabufd_intro_fence);
		c.types = (1U << DMABUFD_TYPE_BUF) | (1U << DMABUFD_TYPE_SYNC_FILE);
		break;
	default:
		return -EINVAL;
	}
	p.cap = (size_t)DMABUFD_PAYLOAD_MAX / p.rec_size;

	dmabufd_objects_for_each(collect_one, &c);
	if (c.err) {
		free(c.v);
		return c.err;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), entry_cmp);
	for (size_t i = 0; i < c.n; i++) {
		const struct entry *e = &c.v[i];
		bool at_cursor = e->type == from.type && e->ino == from.ino;

		if (before(e, &from))
			continue;
		if (kind == DMABUFD_INTRO_FENCES) {
			struct fence_walk w = {
				.page = &p, .holder = e, .start = at_cursor ? from.index : 0,
			};

			holder_leaves(e, emit_fence, &w);
			if (p.more)
				break;
		} else if (!emit_object(&p, kind, e)) {
			break;
		}
	}
	free(c.v);

	req->rep->arg[0] = p.more;
	req->rep->arg[1] = p.next.type;
	req->rep->arg[2] = p.next.ino;
	req->rep->arg[3] = p.next.index;
	req->rep_len = (uint32_t)(p.n * p.rec_size);
	return 0;
}

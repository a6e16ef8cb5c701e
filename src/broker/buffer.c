// SPDX-License-Identifier: MIT
/*
 * buffer.c - dma-bufs in the broker: lifetime through inotify, the slot state, and the ops
 * on a buffer descriptor (SYNC, SET_NAME, EXPORT/IMPORT_SYNC_FILE, MAP_INFO).
 *
 * A buffer's client descriptors are reopens of a memfd the broker does not keep: an inotify
 * watch (IN_DELETE_SELF) on it reports IN_IGNORED once the last descriptor and the last
 * mapping in every process are gone, and the buffer is released then.
 *
 * Slot state: WRITERS_PENDING / FENCES_PENDING mirror dmabuf_buf_poll().  As the kernel's
 * poll does, a callback waits on one unsignaled fence of the reservation object at a time
 * (no container fence is made, so nothing outlives its use); a fence that is pending keeps
 * the state truly pending, so fences imported meanwhile need no re-arming.  A callback runs
 * with a fence lock held: it only queues the buffer on the dirty list, and
 * dmabufd_buf_flush_dirty() recomputes the state and arms the next fence before the broker
 * answers or waits again.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <dmabuf/dma_buf.h>
#include <dmabuf/resv.h>
#include <dmabuf/sync_file.h>

#include "dmabufd.h"
#include "log.h"
#include "trace.h"

enum { PCB_IN, PCB_OUT, PCB_NUM };

/* One armed poll callback: the fence it is on, and whether it ran. */
struct poll_cb {
	struct dmabuf_fence_cb cb;
	struct dmabuf_fence *fence;
	struct dmabufd_buf *buf;
	bool fired;
};

struct dmabufd_buf {
	struct dmabufd_obj obj;
	struct dmabufd_node wd_node;	/* key: 0, inotify watch descriptor */
	struct dmabuf_buf *core;
	uint64_t slot;
	uint32_t gen;
	uint32_t state;
	bool dirty;
	struct dmabufd_buf *dirty_next;
	struct poll_cb pcb[PCB_NUM];
	struct dmabufd_ranges *ranges;	/* udmabufs only */
};

static struct dmabufd_tab watches;
static struct dmabufd_buf *dirty_head;
static const unsigned int pcb_events[PCB_NUM] = { POLLIN, POLLOUT };

static struct dmabufd_buf *to_buf(struct dmabufd_obj *obj)
{
	return dmabufd_container_of(obj, struct dmabufd_buf, obj);
}

static void dirty_add(struct dmabufd_buf *b)
{
	if (b->dirty)
		return;
	b->dirty = true;
	b->dirty_next = dirty_head;
	dirty_head = b;
}

static void dirty_del(struct dmabufd_buf *b)
{
	struct dmabufd_buf **link = &dirty_head;

	if (!b->dirty)
		return;
	while (*link && *link != b)
		link = &(*link)->dirty_next;
	if (*link)
		*link = b->dirty_next;
	b->dirty = false;
}

/* Runs with the signaling fence's lock held: only take note. */
static void poll_cb_func(struct dmabuf_fence *fence, struct dmabuf_fence_cb *cb)
{
	struct poll_cb *p = dmabufd_container_of(cb, struct poll_cb, cb);

	p->fired = true;
	dirty_add(p->buf);
}

/* Cancel the armed callbacks (all if @all, else those that ran). */
static void disarm(struct dmabufd_buf *b, bool all)
{
	for (int i = 0; i < PCB_NUM; i++) {
		struct poll_cb *p = &b->pcb[i];

		if (!p->fence || !(all || p->fired))
			continue;
		if (!p->fired)
			dmabuf_fence_remove_callback(p->fence, &p->cb);
		dmabuf_fence_put(p->fence);
		p->fence = NULL;
		p->fired = false;
	}
}

/* Put @p on the first unsignaled fence an access (@write or not) waits for, if any. */
static void arm(struct dmabufd_buf *b, struct poll_cb *p, bool write)
{
	struct dmabuf_resv_iter it;
	struct dmabuf_fence *fence;

	dmabuf_resv_iter_begin(&it, dmabuf_buf_resv(b->core), dmabuf_resv_usage_rw(write));
	dmabuf_resv_for_each_fence_unlocked(&it, fence) {
		if (!dmabuf_fence_add_callback(fence, &p->cb, poll_cb_func)) {
			p->fence = dmabuf_fence_get(fence);
			break;
		}
	}
	dmabuf_resv_iter_end(&it);
}

/* Arm what is not ready and not armed, then store the state the clients see. */
static void update_state(struct dmabufd_buf *b)
{
	uint32_t state = b->state & (DMABUFD_SLOT_SYNC_LOCAL | DMABUFD_SLOT_INCOHERENT);
	unsigned int ready;

	for (int i = 0; i < PCB_NUM; i++)
		if (!b->pcb[i].fence)
			arm(b, &b->pcb[i], pcb_events[i] == POLLOUT);
	ready = dmabuf_buf_poll(b->core, POLLIN | POLLOUT);
	if (!(ready & POLLIN))
		state |= DMABUFD_SLOT_WRITERS_PENDING;
	if (!(ready & POLLOUT))
		state |= DMABUFD_SLOT_FENCES_PENDING;
	if (state != b->state) {
		b->state = state;
		dmabufd_slot_set_state(b->slot, state);
	}
}

void dmabufd_buf_flush_dirty(void)
{
	struct dmabufd_buf *b;

	/* callbacks may queue buffers again meanwhile: pop until empty */
	while ((b = dirty_head)) {
		dirty_head = b->dirty_next;
		b->dirty = false;
		disarm(b, false);
		update_state(b);
	}
}

static void buf_free(struct dmabufd_buf *b)
{
	dirty_del(b);
	disarm(b, true);
	if (b->slot != DMABUFD_NO_SLOT)
		dmabufd_slot_free(b->slot);
	dmabufd.stats.buffers--;
	dmabufd.stats.buffer_bytes -= dmabuf_buf_size(b->core);
	dmabuf_buf_put(b->core);
	dmabufd_ranges_free(b->ranges);
	free(b);
}

int dmabufd_buf_publish(struct dmabufd_req *req, struct dmabuf_buf *core, int memfd,
			int acc_mode, bool sync_local, struct dmabufd_ranges *ranges)
{
	struct dmabufd_buf *b;
	char path[32];
	int fd, wd, ret;

	b = calloc(1, sizeof(*b));
	if (!b) {
		ret = -ENOMEM;
		goto err;
	}
	b->obj.type = DMABUFD_TYPE_BUF;
	b->core = core;
	b->ranges = ranges;
	b->slot = DMABUFD_NO_SLOT;
	for (int i = 0; i < PCB_NUM; i++)
		b->pcb[i].buf = b;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	wd = inotify_add_watch(dmabufd.inotify_fd, path, IN_DELETE_SELF);
	if (wd < 0) {
		/* out of watches (fs.inotify.max_user_watches) is out of memory to the caller */
		ret = errno == ENOSPC ? -ENOMEM : -errno;
		goto err;
	}
	fd = open(path, acc_mode | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto err_watch;
	}
	ret = dmabufd_obj_add(&b->obj, fd);
	if (ret) {
		close(fd);
		goto err_watch;
	}
	close(memfd);
	b->wd_node.k1 = 0;
	b->wd_node.k2 = (uint64_t)wd;
	dmabufd_tab_insert(&watches, &b->wd_node);

	b->state = sync_local ? DMABUFD_SLOT_SYNC_LOCAL : 0;
	if (dmabuf_buf_map_info(core) == DMABUF_MAP_INCOHERENT)
		b->state |= DMABUFD_SLOT_INCOHERENT;
	b->slot = dmabufd_slot_alloc(b->obj.node.k2, b->state, &b->gen);
	if (b->slot == DMABUFD_NO_SLOT)
		log_debug("no slot left for buffer %llu", (unsigned long long)b->obj.node.k2);
	dmabufd.stats.buffers++;
	dmabufd.stats.buffer_bytes += dmabuf_buf_size(core);

	req->rep->arg[1] = b->slot;
	req->rep->arg[2] = b->gen;
	req->rep->arg[3] = b->obj.node.k2;
	dmabufd_req_reply_fd(req, fd, true);
	return 0;

err_watch:
	/* its IN_IGNORED comes later and finds no buffer */
	inotify_rm_watch(dmabufd.inotify_fd, wd);
err:
	close(memfd);
	dmabuf_buf_put(core);
	dmabufd_ranges_free(ranges);
	free(b);
	return ret;
}

static void buf_release(struct dmabufd_buf *b)
{
	dmabufd_tab_remove(&watches, &b->wd_node);
	dmabufd_obj_del(&b->obj);
	log_debug("buffer %llu released", (unsigned long long)b->obj.node.k2);
	if (dmabuf_trace_on())
		dmabufd_trace_buf_release(b->obj.node.k2);
	buf_free(b);
}

void dmabufd_buf_inotify_event(void)
{
	/* room for thousands of events, so a burst of releases drains quickly */
	static char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	struct dmabufd_node *node;
	ssize_t n;

	/* one read per wake-up: if more is queued, epoll says so again */
	n = read(dmabufd.inotify_fd, buf, sizeof(buf));
	if (n <= 0)
		return;
	for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
		ev = (const struct inotify_event *)p;
		if (ev->mask & IN_Q_OVERFLOW)
			log_error("inotify queue overflow (fs.inotify.max_queued_events): "
				  "buffers released meanwhile stay in the broker");
		if (!(ev->mask & IN_IGNORED))
			continue;
		node = dmabufd_tab_find(&watches, 0, (uint64_t)ev->wd);
		if (node)
			buf_release(dmabufd_container_of(node, struct dmabufd_buf, wd_node));
	}
}

void dmabufd_buf_release_all(void)
{
	struct dmabufd_node *node, *next;

	if (!watches.buckets)
		return;
	for (size_t i = 0; i <= watches.mask; i++) {
		for (node = watches.buckets[i]; node; node = next) {
			next = node->next;
			buf_release(dmabufd_container_of(node, struct dmabufd_buf, wd_node));
		}
	}
}

int dmabufd_buffers_init(void)
{
	return dmabufd_tab_init(&watches, 1024);
}

void dmabufd_buffers_fini(void)
{
	dmabufd_tab_fini(&watches);
}

void dmabufd_buf_slot(struct dmabufd_obj *obj, uint64_t *slot, uint32_t *gen)
{
	struct dmabufd_buf *b = to_buf(obj);

	*slot = b->slot;
	*gen = b->gen;
}

const struct dmabufd_ranges *dmabufd_buf_ranges(struct dmabufd_obj *obj,
						struct dmabuf_buf **core)
{
	struct dmabufd_buf *b = to_buf(obj);

	*core = b->core;
	return b->ranges;
}

/* fd[0] as a buffer: the kernel answers EBADF (not open) or ENOTTY (not a dma-buf). */
static int req_buf(struct dmabufd_req *req, struct dmabufd_buf **out)
{
	struct dmabufd_obj *obj;
	int ret;

	ret = dmabufd_req_obj(req, 0, DMABUFD_TYPE_BUF, &obj);
	*out = obj ? to_buf(obj) : NULL;
	return ret;
}

int dmabufd_op_buf_sync(struct dmabufd_req *req)
{
	uint64_t flags = req->msg->arg[0];
	struct dmabufd_buf *b;
	bool start;
	int ret;

	ret = req_buf(req, &b);
	if (ret)
		return ret;
	/* bad flags are the core's to refuse (it does before anything else) */
	start = !(flags & ~(uint64_t)DMABUF_SYNC_VALID_FLAGS_MASK) && (flags & DMABUF_SYNC_RW) &&
		!(flags & DMABUF_SYNC_END);
	/* a START would block in the core: the client waits instead, then asks again */
	if (start && !dmabuf_buf_poll(b->core, (flags & DMABUF_SYNC_WRITE) ? POLLOUT : POLLIN))
		return DMABUFD_RET_WAIT;
	ret = dmabuf_buf_sync(b->core, flags);
	if (!ret && start && !(b->state & DMABUFD_SLOT_SYNC_LOCAL)) {
		/* udmabuf: after a first START, an END needs nobody either */
		b->state |= DMABUFD_SLOT_SYNC_LOCAL;
		dmabufd_slot_set_state(b->slot, b->state);
	}
	return ret;
}

int dmabufd_op_buf_set_name(struct dmabufd_req *req)
{
	static const char too_long[DMABUF_BUF_NAME_LEN + 1] = "0123456789abcdef0123456789abcdef";
	struct dmabufd_buf *b;
	const char *name;
	int ret;

	ret = req_buf(req, &b);
	if (ret)
		return ret;
	switch (req->msg->arg[0]) {
	case 0:
		name = req->msg->name;
		break;
	case 1:
		name = NULL;		/* the caller's pointer was NULL */
		break;
	case 2:
		name = too_long;	/* the caller's name did not fit */
		break;
	default:
		return dmabufd_req_drop(req, "bad SET_NAME argument");
	}
	ret = dmabuf_buf_set_name(b->core, name);
	if (!ret && dmabuf_trace_on())
		dmabufd_trace_buf_name(b->obj.node.k2, name);
	return ret;
}

/* fd[0] as a buffer, and arg[0] as the 32-bit flags of EXPORT or IMPORT. */
static int req_buf_flags(struct dmabufd_req *req, struct dmabufd_buf **b)
{
	int ret = req_buf(req, b);

	if (ret)
		return ret;
	return req->msg->arg[0] > UINT32_MAX ? -EINVAL : 0;
}

int dmabufd_op_buf_export(struct dmabufd_req *req)
{
	struct dmabuf_sync_file *sf;
	struct dmabufd_buf *b;
	int ret;

	ret = req_buf_flags(req, &b);
	if (ret)
		return ret;
	ret = dmabuf_buf_export_sync_file(b->core, (uint32_t)req->msg->arg[0], &sf);
	if (ret)
		return ret;
	return dmabufd_sync_file_give(req, sf);
}

int dmabufd_op_buf_import(struct dmabufd_req *req)
{
	struct dmabuf_sync_file *sf = NULL;
	struct dmabufd_obj *obj;
	struct dmabufd_buf *b;
	int ret;

	ret = req_buf_flags(req, &b);
	if (ret)
		return ret;
	/* not open or not a sync_file: NULL, which the core refuses after the flags */
	if (!dmabufd_req_obj(req, 1, DMABUFD_TYPE_SYNC_FILE, &obj))
		sf = dmabufd_sync_file_core(obj);
	ret = dmabuf_buf_import_sync_file(b->core, (uint32_t)req->msg->arg[0], sf);
	if (!ret && dmabuf_trace_on()) {
		struct dmabuf_fence *f = dmabuf_sync_file_get_fence(sf);

		dmabufd_trace_fence_add(b->obj.node.k2, f, req->msg->arg[0] & DMABUF_SYNC_WRITE);
		dmabuf_fence_put(f);
	}
	if (!ret)
		update_state(b);	/* new fences: maybe pending now */
	return ret;
}

int dmabufd_op_buf_map_info(struct dmabufd_req *req)
{
	struct dmabufd_buf *b;
	int ret;

	ret = req_buf(req, &b);
	if (ret)
		return ret;
	req->rep->arg[0] = (uint64_t)dmabuf_buf_map_info(b->core);
	return 0;
}

int dmabufd_op_buf_info(struct dmabufd_req *req)
{
	struct dmabufd_buf *b;
	const char *exp;
	int ret;

	ret = req_buf(req, &b);
	if (ret)
		return ret;
	ret = dmabuf_buf_get_name(b->core, req->rep->name, sizeof(req->rep->name));
	req->rep->arg[0] = ret >= 0;
	req->rep->arg[1] = dmabuf_buf_size(b->core);
	req->rep->arg[2] = (uint64_t)dmabuf_buf_map_info(b->core);
	exp = dmabuf_buf_exp_name(b->core);
	req->rep_len = (uint32_t)strnlen(exp, DMABUF_BUF_NAME_LEN - 1) + 1;
	memcpy(req->rep_payload, exp, req->rep_len - 1);
	((char *)req->rep_payload)[req->rep_len - 1] = '\0';
	return 0;
}

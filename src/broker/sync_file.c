// SPDX-License-Identifier: MIT
/*
 * sync_file.c - sync_files in the broker: a core sync_file behind a pipe, and the sync_file
 * ops (SYNC_IOC_MERGE, SYNC_IOC_FILE_INFO, SYNC_IOC_SET_DEADLINE, and the first poll).
 *
 * The client's descriptor is the pipe's read end.  The broker keeps the write end and writes
 * one byte when the fence signals, so the descriptor polls POLLIN exactly when the kernel's
 * would.  The write end is in epoll with no events: EPOLLERR says the last read end is gone,
 * and the sync_file is released then.
 *
 * The broker watches the fence's leaves, one unsignaled leaf at a time, and does not enable
 * signaling on a container by itself: the kernel does that only when somebody polls the file,
 * and it shows (an array whose member failed reports the error in a count-only FILE_INFO only
 * after a poll; the array's callbacks on its members keep it alive until they all signal).
 * Clients poll the pipe, which the broker does not see, so they say when they first poll a
 * sync_file (DMABUFD_OP_SYNC_POLLED), and the broker then does what that poll does: a
 * callback on the file's fence, once per sync_file, left there until it signals.  The
 * callback of a lone fence writes the byte itself; for a container, it runs with a fence lock
 * held, so it only queues the sync_file, and the next leaf is armed (or the byte written) by
 * dmabufd_sync_files_flush(), in signal order, before the broker answers or waits again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dmabuf/fence_unwrap.h>
#include <dmabuf/sync_file.h>

#include "dmabufd.h"
#include "log.h"
#include "trace.h"

struct dmabufd_sync_file {
	struct dmabufd_pipe_obj po;	/* its write end gets a byte when the fence signals */
	struct dmabuf_sync_file *core;
	struct dmabuf_fence *fence;	/* the sync_file's fence (a reference) */
	struct dmabuf_fence *armed;	/* the leaf the callback is on (a reference), or NULL */
	struct dmabuf_fence_cb cb;
	bool fired;			/* the callback ran: arm the next leaf */
	struct dmabufd_sync_file *dirty_next;
	unsigned int leaves;		/* fences FILE_INFO can report; never grows */
	bool polled;			/* a client polled it: @poll_cb was added */
	struct dmabuf_fence_cb poll_cb;	/* on @fence: what the kernel's first poll adds */
};

/* sync_files whose leaf signaled, oldest first */
static struct dmabufd_sync_file *dirty_head, **dirty_tail = &dirty_head;

/* FILE_INFO's array: grown to the largest sync_file asked about. */
static struct dmabuf_sync_fence_info *info_array;
static unsigned int info_capacity;

static struct dmabufd_sync_file *to_sf(struct dmabufd_obj *obj)
{
	return dmabufd_container_of(obj, struct dmabufd_sync_file, po.obj);
}

static void signal_byte(int wfd)
{
	static const char byte = 1;

	/* one byte into an empty pipe: never blocks; EPIPE if nobody reads any more */
	if (write(wfd, &byte, 1) < 0 && errno != EPIPE)
		log_warn("sync_file: cannot signal its pipe: %s", strerror(errno));
}

/* A leaf signaled: runs with its lock held, so write() at most, else only take note. */
static void leaf_cb(struct dmabuf_fence *fence, struct dmabuf_fence_cb *cb)
{
	struct dmabufd_sync_file *sf = dmabufd_container_of(cb, struct dmabufd_sync_file, cb);

	if (fence == sf->fence) {
		/* not a container: it is the sync_file's fence that signaled */
		signal_byte(sf->po.wfd);
		return;
	}
	sf->fired = true;
	sf->dirty_next = NULL;
	*dirty_tail = sf;
	dirty_tail = &sf->dirty_next;
}

/* Wait for the next unsignaled leaf; none left: the fence has signaled, say so. */
static void arm_next(struct dmabufd_sync_file *sf)
{
	struct dmabuf_fence_unwrap cursor;
	struct dmabuf_fence *leaf;

	dmabuf_fence_unwrap_for_each(leaf, &cursor, sf->fence) {
		if (dmabuf_fence_is_signaled(leaf))
			continue;
		if (!dmabuf_fence_add_callback(leaf, &sf->cb, leaf_cb)) {
			sf->armed = dmabuf_fence_get(leaf);
			dmabuf_fence_unwrap_end(&cursor);
			return;
		}
	}
	signal_byte(sf->po.wfd);
}

void dmabufd_sync_files_flush(void)
{
	struct dmabufd_sync_file *sf;

	while ((sf = dirty_head)) {
		dirty_head = sf->dirty_next;
		if (!dirty_head)
			dirty_tail = &dirty_head;
		sf->fired = false;
		dmabuf_fence_put(sf->armed);
		sf->armed = NULL;
		arm_next(sf);
	}
}

bool dmabufd_sync_files_dirty(void)
{
	return dirty_head != NULL;
}

/* Take @sf off the dirty list (it is being released). */
static void dirty_del(struct dmabufd_sync_file *sf)
{
	struct dmabufd_sync_file **link = &dirty_head;

	while (*link && *link != sf)
		link = &(*link)->dirty_next;
	if (!*link)
		return;
	*link = sf->dirty_next;
	if (dirty_tail == &sf->dirty_next)
		dirty_tail = link;
}

int dmabufd_sync_file_give(struct dmabufd_req *req, struct dmabuf_sync_file *core)
{
	struct dmabufd_sync_file *sf;
	int ret;

	sf = calloc(1, sizeof(*sf));
	if (!sf) {
		dmabuf_sync_file_put(core);
		return -ENOMEM;
	}
	sf->core = core;
	sf->fence = dmabuf_sync_file_get_fence(core);
	/* from here on, closing the read end anywhere (even unsent) releases it */
	ret = dmabufd_pipe_obj_give(req, &sf->po, DMABUFD_TYPE_SYNC_FILE,
				    &dmabufd.stats.sync_files);
	if (ret) {
		dmabuf_fence_put(sf->fence);
		dmabuf_sync_file_put(core);
		free(sf);
		return ret;
	}
	arm_next(sf);
	sf->leaves = dmabuf_fence_unwrap_count(sf->fence);
	dmabufd.stats.fences += sf->leaves;
	if (dmabuf_trace_on())
		dmabufd_trace_sf_create(sf->po.obj.node.k2, sf->fence);
	return 0;
}

struct dmabuf_sync_file *dmabufd_sync_file_core(struct dmabufd_obj *obj)
{
	return to_sf(obj)->core;
}

void dmabufd_sync_file_release(struct dmabufd_obj *obj)
{
	struct dmabufd_sync_file *sf = to_sf(obj);

	if (sf->fired)
		dirty_del(sf);
	else if (sf->armed)
		dmabuf_fence_remove_callback(sf->armed, &sf->cb);
	if (sf->polled)
		dmabuf_fence_remove_callback(sf->fence, &sf->poll_cb);
	dmabuf_fence_put(sf->armed);
	dmabuf_fence_put(sf->fence);
	dmabuf_sync_file_put(sf->core);
	dmabufd_pipe_obj_del(&sf->po);
	dmabufd.stats.fences -= sf->leaves;
	free(sf);
}

/* fd[0] as a sync_file: EBADF (not open) or ENOTTY (not a sync_file). */
static int req_sf(struct dmabufd_req *req, struct dmabufd_sync_file **out)
{
	struct dmabufd_obj *obj;
	int ret;

	ret = dmabufd_req_obj(req, 0, DMABUFD_TYPE_SYNC_FILE, &obj);
	*out = obj ? to_sf(obj) : NULL;
	return ret;
}

int dmabufd_op_sync_merge(struct dmabufd_req *req)
{
	struct dmabufd_sync_file *a;
	struct dmabuf_sync_file *out;
	struct dmabufd_obj *b;
	int ret;

	ret = req_sf(req, &a);
	if (ret)
		return ret;
	/* the second descriptor: not open or not a sync_file alike */
	if (dmabufd_req_obj(req, 1, DMABUFD_TYPE_SYNC_FILE, &b))
		return -ENOENT;
	ret = dmabuf_sync_file_merge(req->msg->name, a->core, to_sf(b)->core, &out);
	if (ret)
		return ret;
	return dmabufd_sync_file_give(req, out);
}

static int info_reserve(unsigned int n)
{
	struct dmabuf_sync_fence_info *bigger;

	if (n <= info_capacity)
		return 0;
	bigger = realloc(info_array, (size_t)n * sizeof(*bigger));
	if (!bigger)
		return -ENOMEM;
	info_array = bigger;
	info_capacity = n;
	return 0;
}

int dmabufd_op_sync_info(struct dmabufd_req *req)
{
	const struct dmabufd_msg *msg = req->msg;
	struct dmabufd_fence_info *out = req->rep_payload;
	struct dmabuf_sync_file_info info = { 0 };
	struct dmabufd_sync_file *sf;
	uint64_t first = msg->arg[3];
	unsigned int n = 0;
	int ret;

	_Static_assert(sizeof(struct dmabufd_fence_info) == sizeof(struct dmabuf_sync_fence_info),
		       "the protocol carries the uAPI's fence info");
	ret = req_sf(req, &sf);
	if (ret)
		return ret;
	/* the caller's words are 32 bits wide */
	if (msg->arg[0] > UINT32_MAX || msg->arg[1] > UINT32_MAX || msg->arg[2] > UINT32_MAX)
		return -EINVAL;
	info.flags = (uint32_t)msg->arg[0];
	info.pad = (uint32_t)msg->arg[1];
	info.num_fences = (uint32_t)msg->arg[2];
	/* a call with an array: the core fills at most sf->leaves entries */
	if (info.num_fences && info_reserve(sf->leaves ? sf->leaves : 1))
		return -ENOMEM;
	ret = dmabuf_sync_file_get_info(sf->core, &info, info.num_fences ? info_array : NULL);
	if (ret)
		return ret;

	memcpy(req->rep->name, info.name, sizeof(req->rep->name));
	req->rep->name[sizeof(req->rep->name) - 1] = '\0';
	req->rep->arg[0] = (uint64_t)(uint32_t)info.status;
	req->rep->arg[1] = info.num_fences;
	if (msg->arg[2] && first < info.num_fences) {
		n = info.num_fences - (unsigned int)first;
		if (n > DMABUFD_INFO_PER_MSG)
			n = DMABUFD_INFO_PER_MSG;
		memcpy(out, &info_array[first], n * sizeof(*out));
	}
	req->rep->arg[2] = n;
	req->rep_len = n * (uint32_t)sizeof(*out);
	return 0;
}

int dmabufd_op_sync_set_deadline(struct dmabufd_req *req)
{
	struct dmabufd_sync_file *sf;
	int ret;

	ret = req_sf(req, &sf);
	if (ret)
		return ret;
	return dmabuf_sync_file_set_deadline(sf->core, (int64_t)req->msg->arg[0]);
}

/*
 * The callback of a poll: the kernel's wakes the file's pollers; here the pipe's byte does
 * that (the leaves' callbacks write it), so being on the fence is all it has to do.
 */
static void polled_cb(struct dmabuf_fence *fence, struct dmabuf_fence_cb *cb)
{
}

int dmabufd_op_sync_polled(struct dmabufd_req *req)
{
	struct dmabufd_sync_file *sf;
	int ret;

	ret = req_sf(req, &sf);
	if (ret)
		return ret;
	if (sf->polled)
		return 0;
	sf->polled = true;
	/* -ENOENT: it has signaled already, which the pipe shows */
	dmabuf_fence_add_callback(sf->fence, &sf->poll_cb, polled_cb);
	return 0;
}

void dmabufd_sync_files_fini(void)
{
	free(info_array);
	info_array = NULL;
	info_capacity = 0;
}

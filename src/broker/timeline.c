// SPDX-License-Identifier: MIT
/*
 * timeline.c - sw_sync timelines in the broker: opening sw_sync, SW_SYNC_IOC_CREATE_FENCE,
 * SW_SYNC_IOC_INC, SW_SYNC_GET_DEADLINE.
 *
 * The client's descriptor is the read end of a pipe that is never written.  The broker
 * keeps the write end in epoll with no events: EPOLLERR says the last descriptor is gone
 * (closed, or its holders died), which is closing the timeline: pending points signal with
 * -ENOENT, waking their sync_files' holders through the sync_files' callbacks.
 */
#include <errno.h>
#include <stdlib.h>

#include <dmabuf/sw_sync.h>
#include <dmabuf/sync_file.h>

#include "dmabufd.h"
#include "log.h"

struct dmabufd_timeline {
	struct dmabufd_pipe_obj po;
	struct dmabuf_sw_timeline *core;
};

static struct dmabufd_timeline *to_tl(struct dmabufd_obj *obj)
{
	return dmabufd_container_of(obj, struct dmabufd_timeline, po.obj);
}

int dmabufd_op_sw_timeline_create(struct dmabufd_req *req)
{
	struct dmabufd_timeline *tl;
	int ret;

	tl = calloc(1, sizeof(*tl));
	if (!tl)
		return -ENOMEM;
	ret = dmabuf_sw_timeline_create(req->msg->name, &tl->core);
	if (ret)
		goto err_free;
	ret = dmabufd_pipe_obj_give(req, &tl->po, DMABUFD_TYPE_TIMELINE,
				    &dmabufd.stats.timelines);
	if (ret)
		goto err_put;
	return 0;

err_put:
	dmabuf_sw_timeline_put(tl->core);
err_free:
	free(tl);
	return ret;
}

void dmabufd_timeline_release(struct dmabufd_obj *obj)
{
	struct dmabufd_timeline *tl = to_tl(obj);

	dmabuf_sw_timeline_close(tl->core);
	dmabufd_pipe_obj_del(&tl->po);
	free(tl);
}

struct dmabuf_sw_timeline *dmabufd_timeline_core(struct dmabufd_obj *obj)
{
	return to_tl(obj)->core;
}

/* fd[0] as a timeline: EBADF (not open) or ENOTTY (not a timeline). */
static int req_tl(struct dmabufd_req *req, struct dmabufd_timeline **out)
{
	struct dmabufd_obj *obj;
	int ret;

	ret = dmabufd_req_obj(req, 0, DMABUFD_TYPE_TIMELINE, &obj);
	*out = obj ? to_tl(obj) : NULL;
	return ret;
}

int dmabufd_op_sw_fence_create(struct dmabufd_req *req)
{
	struct dmabufd_timeline *tl;
	struct dmabuf_sync_file *sf;
	struct dmabuf_fence *fence;
	int ret;

	ret = req_tl(req, &tl);
	if (ret)
		return ret;
	/* the value word is 32 bits wide; the name is ignored, as by the kernel */
	ret = dmabuf_sw_timeline_create_fence(tl->core, (uint32_t)req->msg->arg[0], &fence);
	if (ret)
		return ret;
	ret = dmabuf_sync_file_create(fence, &sf);
	dmabuf_fence_put(fence);
	if (ret)
		return ret;
	return dmabufd_sync_file_give(req, sf);
}

int dmabufd_op_sw_inc(struct dmabufd_req *req)
{
	struct dmabufd_timeline *tl;
	int ret;

	ret = req_tl(req, &tl);
	if (ret)
		return ret;
	return dmabuf_sw_timeline_inc(tl->core, (uint32_t)req->msg->arg[0]);
}

int dmabufd_op_sw_get_deadline(struct dmabufd_req *req)
{
	struct dmabufd_timeline *tl;
	struct dmabufd_obj *obj;
	struct dmabuf_fence *fence;
	int64_t deadline;
	int ret;

	ret = req_tl(req, &tl);
	if (ret)
		return ret;
	/* the fence's descriptor: not open or not a sync_file alike */
	if (dmabufd_req_obj(req, 1, DMABUFD_TYPE_SYNC_FILE, &obj))
		return -EINVAL;
	fence = dmabuf_sync_file_get_fence(dmabufd_sync_file_core(obj));
	ret = dmabuf_sw_sync_get_deadline(fence, &deadline);
	dmabuf_fence_put(fence);
	if (ret)
		return ret;
	req->rep->arg[0] = (uint64_t)deadline;
	return 0;
}

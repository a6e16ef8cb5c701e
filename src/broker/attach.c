// SPDX-License-Identifier: MIT
/*
 * attach.c - devices attached to buffers by clients (DMABUFD_OP_BUF_ATTACH, _DETACH).
 *
 * A client that plays a device (the software device, dmabuf/swdev.h) attaches the buffers of
 * a job while it runs, as a kernel driver attaches the dma-bufs it imports: the core buffer
 * then counts the attachment, which dmabufctl shows.  An attachment belongs to its
 * connection: DETACH or the connection's end removes it.  It holds a reference to the core
 * buffer, as the kernel's does.
 */
#include <errno.h>
#include <stdlib.h>

#include <dmabuf/dma_buf.h>

#include "dmabufd.h"

struct dmabufd_att {
	struct dmabufd_att *next;
	uint64_t id;
	struct dmabuf_attachment *core;
};

int dmabufd_op_buf_attach(struct dmabufd_req *req)
{
	struct dmabufd_conn *conn = req->conn;
	struct dmabufd_obj *obj;
	struct dmabufd_att *a;
	struct dmabuf_buf *core;
	int ret;

	ret = dmabufd_req_obj(req, 0, DMABUFD_TYPE_BUF, &obj);
	if (ret)
		return ret;
	dmabufd_buf_ranges(obj, &core);
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	ret = dmabuf_buf_attach(core, req->msg->name[0] ? req->msg->name : "device", NULL,
				&a->core);
	if (ret) {
		free(a);
		return ret;
	}
	a->id = ++conn->last_att;
	a->next = conn->atts;
	conn->atts = a;
	req->rep->arg[0] = a->id;
	return 0;
}

int dmabufd_op_buf_detach(struct dmabufd_req *req)
{
	struct dmabufd_att **pp, *a;

	for (pp = &req->conn->atts; (a = *pp); pp = &a->next) {
		if (a->id != req->msg->arg[0])
			continue;
		*pp = a->next;
		dmabuf_buf_detach(a->core);
		free(a);
		return 0;
	}
	return -ENOENT;
}

void dmabufd_attach_clear(struct dmabufd_conn *conn)
{
	struct dmabufd_att *a;

	while ((a = conn->atts)) {
		conn->atts = a->next;
		dmabuf_buf_detach(a->core);
		free(a);
	}
}

// SPDX-License-Identifier: MIT
/*
 * udmabuf.c - udmabufs in the broker (UDMABUF_CREATE / _CREATE_LIST) and where their pages
 * are (DMABUFD_OP_BUF_RANGES).
 *
 * The memfds a client hands over wait on its connection's pending list until the next
 * UDMABUF_CREATE, which gives them to the core (dmabuf_udmabuf_create_list() checks them in
 * the kernel's order and keeps its own duplicates).  The client's descriptor is a token: a
 * sealed, zero-filled memfd of the buffer's size whose lifetime (inotify) is the buffer's;
 * the pages are the memfds' own, which clients map after asking for the ranges.
 *
 * The driver takes only shmem and hugetlbfs files: a dma-buf given as a "memfd" (a heap
 * buffer or a token here, both memfds) is refused like any other file, -EBADFD.  It also pins
 * the pages, so the memfd cannot gain F_SEAL_WRITE while the buffer lives (EBUSY): the broker
 * holds a writable shared mapping of one page of each memfd meanwhile, which the kernel's
 * seal check refuses the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dmabuf/udmabuf.h>

#include "dmabufd.h"
#include "log.h"
#include "trace.h"

_Static_assert(DMABUFD_UDMABUF_LIST_LIMIT == DMABUF_UDMABUF_LIST_LIMIT,
	       "the protocol's list limit is the core's");

/*
 * Pins are mappings, and a process has at most vm.max_map_count of them (65530 by default):
 * past this many, memfds go unpinned rather than leave the broker without room to map.
 */
#define PINS_MAX	32768

static unsigned int pins_live;

void dmabufd_udmabuf_pending_clear(struct dmabufd_conn *conn)
{
	for (unsigned int i = 0; i < conn->npending; i++)
		if (conn->pending[i] >= 0)
			close(conn->pending[i]);
	conn->npending = 0;
}

/*
 * What fd[@slot] of the request stands for in the pending list: itself, or -1 ("not open")
 * when it is a broker object.  The driver refuses those (dma-bufs) for not being shmem files,
 * with the errno of a descriptor that is not open, when it comes to their item: so the core
 * checks them in its order, with everything else.
 */
static int pending_memfd(struct dmabufd_req *req, unsigned int slot)
{
	struct dmabufd_obj *obj;
	int fd = req->fds[slot];

	if (fd >= 0 && !dmabufd_req_obj(req, slot, DMABUFD_TYPE_NONE, &obj)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/*
 * Append fd[0..n) of the request to the pending list: n is the request's explicit slot count
 * (@declared, an extension of the protocol: 0 = not given) or else the highest attached
 * slot + 1.  The descriptors now belong to the list.
 */
static int pending_append(struct dmabufd_req *req, uint64_t declared)
{
	struct dmabufd_conn *conn = req->conn;
	unsigned int n = req->nslots;

	if (declared > DMABUFD_REQ_SLOTS || (declared && declared < req->nslots))
		return dmabufd_req_drop(req, "bad descriptor count");
	if (declared)
		n = (unsigned int)declared;
	if (!n)
		return 0;
	if (!conn->pending) {
		conn->pending = malloc(DMABUFD_UDMABUF_LIST_LIMIT * sizeof(*conn->pending));
		if (!conn->pending)
			return dmabufd_req_drop(req, "out of memory for its udmabuf list");
	}
	if (conn->npending + n > DMABUFD_UDMABUF_LIST_LIMIT)
		return dmabufd_req_drop(req, "udmabuf list longer than the limit");
	for (unsigned int i = 0; i < n; i++) {
		conn->pending[conn->npending++] = pending_memfd(req, i);
		req->fds[i] = -1;
	}
	return 0;
}

int dmabufd_op_udmabuf_add_fds(struct dmabufd_req *req)
{
	int ret = pending_append(req, req->msg->arg[0]);

	if (ret == DMABUFD_DROP)
		dmabufd_udmabuf_pending_clear(req->conn);
	return ret;
}

void dmabufd_ranges_free(struct dmabufd_ranges *ranges)
{
	if (!ranges)
		return;
	for (unsigned int i = 0; i < ranges->nfds; i++) {
		if (ranges->pins[i]) {
			munmap(ranges->pins[i], (size_t)sysconf(_SC_PAGESIZE));
			pins_live--;
		}
	}
	free(ranges->items);
	free(ranges->fds);
	free(ranges->pins);
	free(ranges);
}

/*
 * A writable shared mapping of the page at @offset of @fd, which keeps F_SEAL_WRITE off the
 * memfd (EBUSY) as the driver's pinned pages do; nothing is touched, so it costs no memory.
 * NULL if the memfd cannot be mapped so (opened read-only), or PINS_MAX are live: then nothing
 * pins it.
 */
static void *pin_page(int fd, uint64_t offset)
{
	void *p;

	if (pins_live >= PINS_MAX)
		return NULL;
	p = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)offset);
	if (p == MAP_FAILED)
		return NULL;
	pins_live++;
	return p;
}

/* The buffer's ranges, from the core's backing table (its descriptors, each once). */
static int ranges_build(struct dmabuf_buf *core, struct dmabufd_ranges **out)
{
	struct dmabuf_attachment *att;
	struct dmabuf_sg_table *table;
	struct dmabufd_ranges *r;
	int ret;

	ret = dmabuf_buf_attach(core, "dmabufd", NULL, &att);
	if (ret)
		return ret;
	ret = dmabuf_attachment_map(att, DMABUF_BIDIRECTIONAL, &table);
	if (ret)
		goto out_detach;
	ret = -ENOMEM;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out_unmap;
	r->items = calloc(table->nents, sizeof(*r->items));
	r->fds = calloc(table->nents, sizeof(*r->fds));
	r->pins = calloc(table->nents, sizeof(*r->pins));
	if (!r->items || !r->fds || !r->pins) {
		dmabufd_ranges_free(r);
		goto out_unmap;
	}
	for (unsigned int i = 0; i < table->nents; i++) {
		const struct dmabuf_sg_entry *e = &table->ents[i];
		unsigned int j = 0;

		while (j < r->nfds && r->fds[j] != e->fd)
			j++;
		if (j == r->nfds) {
			r->pins[j] = pin_page(e->fd, e->offset);
			r->fds[r->nfds++] = e->fd;
		}
		r->items[i].fd_index = j;
		r->items[i].offset = e->offset;
		r->items[i].size = e->length;
	}
	r->nitems = table->nents;
	*out = r;
	ret = 0;
out_unmap:
	dmabuf_attachment_unmap(att, table, DMABUF_BIDIRECTIONAL);
out_detach:
	dmabuf_buf_detach(att);
	return ret;
}

/* The client's descriptor: zero-filled, sealed against any change. */
static int token_memfd(uint64_t size)
{
	int fd, ret;

	fd = memfd_create(DMABUFD_MEMFD_PREFIX "udmabuf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static int udmabuf_create(struct dmabufd_req *req)
{
	static struct dmabuf_udmabuf_item items[DMABUFD_UDMABUF_LIST_LIMIT];
	const struct dmabufd_udmabuf_item *in = req->payload;
	const struct dmabufd_msg *msg = req->msg;
	struct dmabufd_conn *conn = req->conn;
	struct dmabufd_ranges *ranges;
	struct dmabuf_buf *core;
	uint64_t size;
	uint32_t count;
	int ret, token;

	/* too many items: refused before the list is read */
	if (msg->arg[1] > DMABUFD_UDMABUF_LIST_LIMIT)
		return -EINVAL;
	count = (uint32_t)msg->arg[1];
	if (msg->len != count * sizeof(*in))
		return dmabufd_req_drop(req, "udmabuf list size does not match its count");
	for (uint32_t i = 0; i < count; i++) {
		uint32_t idx = in[i].fd_index;

		/* beyond the list: a descriptor that was not open */
		items[i].memfd = (uint32_t)(idx < conn->npending ? conn->pending[idx] : -1);
		items[i].pad = in[i].pad;
		items[i].offset = in[i].offset;
		items[i].size = in[i].size;
	}
	/* the flags word is 32 bits wide in the uAPI; unknown bits are ignored */
	ret = dmabuf_udmabuf_create_list((uint32_t)msg->arg[0], count, items, &core);
	if (ret)
		return ret;
	ret = ranges_build(core, &ranges);
	if (ret)
		goto err_put;
	size = dmabuf_buf_size(core);
	token = token_memfd(size);
	if (token < 0) {
		ret = token;
		dmabufd_ranges_free(ranges);
		goto err_put;
	}
	ret = dmabufd_buf_publish(req, core, token, O_RDWR, false, ranges);
	if (!ret && dmabuf_trace_on())
		dmabufd_trace_buf_create(req->rep->arg[3], size, "udmabuf", "", req->conn->pid);
	return ret;

err_put:
	dmabuf_buf_put(core);
	return ret;
}

int dmabufd_op_udmabuf_create(struct dmabufd_req *req)
{
	int ret;

	ret = pending_append(req, req->msg->arg[2]);
	if (!ret)
		ret = udmabuf_create(req);
	/* emptied whatever the result */
	dmabufd_udmabuf_pending_clear(req->conn);
	return ret;
}

int dmabufd_op_buf_ranges(struct dmabufd_req *req)
{
	const struct dmabufd_ranges *r;
	struct dmabufd_obj *obj;
	struct dmabuf_buf *core;
	int ret;

	ret = dmabufd_req_obj(req, 0, DMABUFD_TYPE_BUF, &obj);
	if (ret)
		return ret;
	r = dmabufd_buf_ranges(obj, &core);
	req->rep->arg[0] = (uint64_t)dmabuf_buf_map_info(core);
	if (!r)
		return 0;	/* a heap buffer: map the descriptor itself */
	/* past 32 descriptors the reply's mask is full: slots 0..n-1 */
	if (r->nfds > DMABUFD_MAX_FDS)
		return -ENOMEM;
	for (unsigned int i = 0; i < r->nfds; i++)
		dmabufd_req_reply_fd(req, r->fds[i], false);
	memcpy(req->rep_payload, r->items, r->nitems * sizeof(*r->items));
	req->rep_len = r->nitems * (uint32_t)sizeof(*r->items);
	return 0;
}

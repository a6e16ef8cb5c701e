/* SPDX-License-Identifier: MIT */
/*
 * dmabufd.h - what the broker's files share: global state, objects, requests; not installed.
 *
 * The broker is one thread.  Objects (buffers, sync_files, timelines, heaps) are core objects
 * wrapped in a struct dmabufd_obj, found by the (st_dev, st_ino) of the descriptors clients
 * hold.  A request is parsed by conn.c into a struct dmabufd_req; each op's handler lives
 * with the object it works on and fills in the reply.
 */
#ifndef DMABUFD_DMABUFD_H
#define DMABUFD_DMABUFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

#define dmabufd_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* What an epoll event's data pointer points to. */
enum dmabufd_src_kind {
	DMABUFD_SRC_LISTEN,
	DMABUFD_SRC_SIGNAL,
	DMABUFD_SRC_INOTIFY,
	DMABUFD_SRC_CONN,
	DMABUFD_SRC_OBJ,	/* the write end of a sync_file, timeline or heap pipe */
};

struct dmabufd_src {
	enum dmabufd_src_kind kind;
};

/* objects.c: hash tables keyed by two 64-bit words, chained through embedded nodes. */
struct dmabufd_node {
	struct dmabufd_node *next;
	uint64_t k1, k2;
};

struct dmabufd_tab {
	struct dmabufd_node **buckets;
	size_t mask;
	size_t count;
};

int dmabufd_tab_init(struct dmabufd_tab *tab, size_t size);
void dmabufd_tab_fini(struct dmabufd_tab *tab);
int dmabufd_tab_insert(struct dmabufd_tab *tab, struct dmabufd_node *node);
struct dmabufd_node *dmabufd_tab_find(const struct dmabufd_tab *tab, uint64_t k1, uint64_t k2);
void dmabufd_tab_remove(struct dmabufd_tab *tab, struct dmabufd_node *node);

/* A broker object: what a client's descriptor stands for. */
struct dmabufd_obj {
	struct dmabufd_src src;		/* DMABUFD_SRC_OBJ, for pipe-backed objects */
	enum dmabufd_type type;
	struct dmabufd_node node;	/* key: st_dev, st_ino of the client's descriptor */
};

int dmabufd_objects_init(void);
void dmabufd_objects_fini(void);
/* Register @obj under the identity of @fd (fstat).  0 or a negative errno. */
int dmabufd_obj_add(struct dmabufd_obj *obj, int fd);
void dmabufd_obj_del(struct dmabufd_obj *obj);
/* Release @obj: its last descriptor is gone (EPOLLERR), or the broker shuts down. */
void dmabufd_obj_release(struct dmabufd_obj *obj);
/* Release every object of @type (shutdown). */
void dmabufd_objects_release_all(enum dmabufd_type type);
/* Call @fn on every live object, in no order; @fn must not add or remove objects. */
void dmabufd_objects_for_each(void (*fn)(struct dmabufd_obj *obj, void *arg), void *arg);

struct dmabufd_req;

/*
 * An object whose descriptor is the read end of a pipe (timelines and heaps: never written).
 * The broker keeps the write end in epoll with no events: EPOLLERR says the last read end is
 * gone (closed, or its holders died), and the object is released then.
 */
struct dmabufd_pipe_obj {
	struct dmabufd_obj obj;
	int wfd;
	uint64_t *count;	/* the dmabufd.stats counter of such objects */
};

/*
 * Make the pipe of @po (an object of @type, counted in *@count; the write end nonblocking),
 * register it and attach its read end to the reply.  0, or a negative errno with nothing
 * left behind.
 */
int dmabufd_pipe_obj_give(struct dmabufd_req *req, struct dmabufd_pipe_obj *po,
			  enum dmabufd_type type, uint64_t *count);
/* Undo dmabufd_pipe_obj_give() at release (@po itself is the caller's to free). */
void dmabufd_pipe_obj_del(struct dmabufd_pipe_obj *po);

/* The broker's global state. */
struct dmabufd {
	pid_t pid;
	uid_t uid;
	int epfd;
	int listen_fd;
	int signal_fd;
	int inotify_fd;
	unsigned int idle_exit;		/* seconds; 0: never */
	bool stopping;
	struct dmabufd_stats stats;
	struct dmabufd_src listen_src, signal_src, inotify_src;
};

extern struct dmabufd dmabufd;

/* A handler's return value that drops the connection (malformed request). */
#define DMABUFD_DROP	INT32_MIN

/* One request being served (conn.c). */
struct dmabufd_req {
	struct dmabufd_conn *conn;
	const struct dmabufd_msg *msg;
	const void *payload;
	unsigned int nslots;		/* highest attached slot + 1 */
	int fds[DMABUFD_REQ_SLOTS];		/* received descriptors by slot; -1: not attached */
	const char *why;		/* reason for DMABUFD_DROP */

	struct dmabufd_msg *rep;	/* the reply header: handlers set arg[] and name */
	void *rep_payload;		/* room for DMABUFD_PAYLOAD_MAX bytes */
	uint32_t rep_len;
	/* up to DMABUFD_REQ_SLOTS, or DMABUFD_MAX_FDS with a full mask (slots 0..n-1) */
	unsigned int rep_nfds;
	int rep_fds[DMABUFD_MAX_FDS];
	bool rep_close[DMABUFD_MAX_FDS];	/* close rep_fds[i] once sent */
};

/*
 * The object of @type that fd[@slot] stands for.  0; -EBADF if the slot is not attached (the
 * descriptor is not open); -ENOTTY if it is open but not such an object.
 */
int dmabufd_req_obj(struct dmabufd_req *req, unsigned int slot, enum dmabufd_type type,
		    struct dmabufd_obj **out);
/* Attach @fd as the reply's next descriptor; @close_after: it is closed once sent. */
void dmabufd_req_reply_fd(struct dmabufd_req *req, int fd, bool close_after);
/* Mark the request malformed: the handler then returns DMABUFD_DROP. */
int dmabufd_req_drop(struct dmabufd_req *req, const char *why);

/* conn.c: connections. */
struct dmabufd_conn {
	struct dmabufd_src src;
	struct dmabufd_conn *next, *prev;
	int fd;
	pid_t pid;
	bool hello;
	/* memfds handed over for the next UDMABUF_CREATE (udmabuf.c); -1: not open */
	int *pending;
	unsigned int npending;
	/* devices this client attached (attach.c), and the last attachment id given */
	struct dmabufd_att *atts;
	uint64_t last_att;
};

void dmabufd_conn_accept(void);
void dmabufd_conn_event(struct dmabufd_conn *conn, uint32_t events);
void dmabufd_conn_close_all(void);

/* slots.c: the shared slot table. */
int dmabufd_slots_init(unsigned int nslots);
void dmabufd_slots_fini(void);
unsigned int dmabufd_slots_count(void);
int dmabufd_slots_fd(void);	/* the read-only descriptor HELLO hands out */
uint64_t dmabufd_slot_alloc(uint64_t ino, uint32_t state, uint32_t *gen);
void dmabufd_slot_set_state(uint64_t slot, uint32_t state);
void dmabufd_slot_free(uint64_t slot);

/* buffer.c: dma-bufs. */
struct dmabuf_buf;

/*
 * Where a udmabuf's pages are (udmabuf.c): its ranges over distinct memfds, and what pins
 * those (the driver pins its pages: no F_SEAL_WRITE on the memfds while the buffer lives).
 */
struct dmabufd_ranges {
	unsigned int nitems;
	unsigned int nfds;
	struct dmabufd_udmabuf_item *items;	/* fd_index into @fds */
	int *fds;		/* the core's descriptors: not ours to close */
	void **pins;		/* per fd: a writable shared page of it, unmapped when freed;
				 * NULL: not pinned (a read-only memfd) */
};

/*
 * Publish a new buffer whose memory/token is @memfd (consumed: closed in every case) and
 * whose core object is @core (one reference, consumed).  @acc_mode opens the client's
 * descriptor; @sync_local: the SYNC_LOCAL state bit from the start; @ranges: a udmabuf's
 * ranges (freed with the buffer) or NULL.  Fills the reply (fd, arg[1..3]).  0 or -errno.
 */
int dmabufd_buf_publish(struct dmabufd_req *req, struct dmabuf_buf *core, int memfd,
			int acc_mode, bool sync_local, struct dmabufd_ranges *ranges);
int dmabufd_buffers_init(void);
void dmabufd_buffers_fini(void);
void dmabufd_buf_inotify_event(void);
void dmabufd_buf_flush_dirty(void);
void dmabufd_buf_release_all(void);
/* A buffer's slot and its generation (DMABUFD_NO_SLOT if it has none). */
void dmabufd_buf_slot(struct dmabufd_obj *obj, uint64_t *slot, uint32_t *gen);
const struct dmabufd_ranges *dmabufd_buf_ranges(struct dmabufd_obj *obj,
						struct dmabuf_buf **core);
void dmabufd_ranges_free(struct dmabufd_ranges *ranges);

/* udmabuf.c */
void dmabufd_udmabuf_pending_clear(struct dmabufd_conn *conn);

/* attach.c */
int dmabufd_op_buf_attach(struct dmabufd_req *req);
int dmabufd_op_buf_detach(struct dmabufd_req *req);
/* The connection ends: its attachments go. */
void dmabufd_attach_clear(struct dmabufd_conn *conn);

/* sync_file.c */
struct dmabuf_sync_file;
/* Hand @core (one reference, consumed) to the client as reply fd.  0 or -errno. */
int dmabufd_sync_file_give(struct dmabufd_req *req, struct dmabuf_sync_file *core);
struct dmabuf_sync_file *dmabufd_sync_file_core(struct dmabufd_obj *obj);
void dmabufd_sync_file_release(struct dmabufd_obj *obj);
void dmabufd_sync_files_fini(void);
/* Arm the next leaf of sync_files whose leaf signaled (or write their byte). */
void dmabufd_sync_files_flush(void);
bool dmabufd_sync_files_dirty(void);

/* timeline.c */
void dmabufd_timeline_release(struct dmabufd_obj *obj);
struct dmabuf_sw_timeline;
struct dmabuf_sw_timeline *dmabufd_timeline_core(struct dmabufd_obj *obj);

/* introspect.c: DMABUFD_OP_INTROSPECT (dmabufctl's listings). */
int dmabufd_op_introspect(struct dmabufd_req *req);

/* Handlers: one per op (return the reply's ret, or DMABUFD_DROP). */
int dmabufd_op_heap_alloc(struct dmabufd_req *req);
int dmabufd_op_udmabuf_add_fds(struct dmabufd_req *req);
int dmabufd_op_udmabuf_create(struct dmabufd_req *req);
int dmabufd_op_identify(struct dmabufd_req *req);
int dmabufd_op_buf_sync(struct dmabufd_req *req);
int dmabufd_op_buf_set_name(struct dmabufd_req *req);
int dmabufd_op_buf_export(struct dmabufd_req *req);
int dmabufd_op_buf_import(struct dmabufd_req *req);
int dmabufd_op_buf_map_info(struct dmabufd_req *req);
int dmabufd_op_buf_info(struct dmabufd_req *req);
int dmabufd_op_buf_ranges(struct dmabufd_req *req);
int dmabufd_op_sync_merge(struct dmabufd_req *req);
int dmabufd_op_sync_info(struct dmabufd_req *req);
int dmabufd_op_sync_set_deadline(struct dmabufd_req *req);
int dmabufd_op_sync_polled(struct dmabufd_req *req);
int dmabufd_op_sw_timeline_create(struct dmabufd_req *req);
int dmabufd_op_sw_fence_create(struct dmabufd_req *req);
int dmabufd_op_sw_inc(struct dmabufd_req *req);
int dmabufd_op_sw_get_deadline(struct dmabufd_req *req);

/* loop.c */
int dmabufd_loop_init(void);
int dmabufd_loop_run(void);
void dmabufd_loop_fini(void);
int dmabufd_epoll_add(int fd, uint32_t events, struct dmabufd_src *src);
/* Bring sync_files and slot states up to date with the fences that signaled. */
void dmabufd_flush(void);

/* heap.c */
void dmabufd_heap_release(struct dmabufd_obj *obj);
int dmabufd_op_heap_open(struct dmabufd_req *req);
int dmabufd_op_heap_alloc_fd(struct dmabufd_req *req);

#endif /* DMABUFD_DMABUFD_H */

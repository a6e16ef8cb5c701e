/* SPDX-License-Identifier: MIT */
/*
 * proto.h - the protocol between libdmabuf's broker backend and dmabufd; not installed.
 *
 * Transport: one AF_UNIX SOCK_SEQPACKET connection per client process (a forked child opens
 * its own).  Every request is one datagram: struct dmabufd_msg, then msg.len bytes of
 * payload, with the request's descriptors in one SCM_RIGHTS message.  Every request gets
 * exactly one reply datagram of the same shape, in order.  The broker never blocks on a
 * client: a request that would have to wait (SYNC START on a busy buffer) is answered
 * DMABUFD_RET_WAIT and the client waits itself, then asks again.
 *
 * Objects live in the broker; clients hold descriptors, and a request names an object only
 * by passing a descriptor of it.  The broker identifies the object from the descriptor
 * (fstat: st_dev and st_ino), closes its copy, and answers.  The fd types:
 *
 *   dma-buf    a memfd of the buffer's size (heap buffers: the memory itself, zero-copy;
 *              udmabufs: a sealed token, see DMABUFD_OP_BUF_RANGES), opened with the
 *              access mode the caller asked for.  The broker holds no descriptor of it: an
 *              inotify watch reports IN_IGNORED when the last descriptor and the last
 *              mapping in every process are gone, and the buffer is released then.
 *   sync_file  the read end of a pipe.  The broker holds the write end and writes one
 *              byte when the fence signals, so the descriptor polls POLLIN exactly when
 *              the kernel's would; holders cannot signal it.  EPOLLERR on the write end
 *              (no reader left) releases the sync_file.
 *   timeline   the read end of a pipe that is never written.  EPOLLERR on the write end
 *              (last descriptor closed, or its holders died) closes the timeline: pending
 *              points signal with -ENOENT.
 *   heap       the read end of a pipe that is never written, standing for a heap device
 *              (/dev/dma_heap/<name>): holding it is what allows DMABUFD_OP_HEAP_ALLOC_FD.
 *              Its access mode is always read-only (allocating does not depend on it).
 *              EPOLLERR on the write end (no descriptor left) releases it.
 *
 * A pipe whose write end closed without a byte (POLLHUP, no POLLIN) means the broker is
 * gone.  Buffer state that clients need on fast paths lives in a shared table of
 * struct dmabufd_slot, mapped read-only by clients (DMABUFD_OP_HELLO).
 */
#ifndef DMABUFD_PROTO_H
#define DMABUFD_PROTO_H

#include <stdint.h>

#define DMABUFD_PROTO_VERSION	1

/*
 * Descriptors in one datagram.  A request has at most DMABUFD_REQ_SLOTS descriptor slots
 * (one bit of fd_mask each).  A reply may carry up to DMABUFD_MAX_FDS (the kernel's
 * SCM_MAX_FD is 253): with more than DMABUFD_REQ_SLOTS, fd_mask is all ones and the
 * descriptors are slots 0..n-1.
 */
#define DMABUFD_REQ_SLOTS	32
#define DMABUFD_MAX_FDS		250
/* Largest datagram: header plus payload. */
#define DMABUFD_MSG_MAX		(64 * 1024)
#define DMABUFD_PAYLOAD_MAX	(DMABUFD_MSG_MAX - (int)sizeof(struct dmabufd_msg))
/* Fence infos per DMABUFD_OP_SYNC_INFO reply. */
#define DMABUFD_INFO_PER_MSG	(DMABUFD_PAYLOAD_MAX / (int)sizeof(struct dmabufd_fence_info))
/* udmabuf list limit (the kernel module's default list_limit). */
#define DMABUFD_UDMABUF_LIST_LIMIT 1024

/* A reply value that is not an error: the buffer is busy, wait for it and ask again. */
#define DMABUFD_RET_WAIT	1

/* The object a descriptor stands for (DMABUFD_OP_IDENTIFY). */
enum dmabufd_type {
	DMABUFD_TYPE_NONE = 0,		/* not a broker object (or not open: ret -EBADF) */
	DMABUFD_TYPE_BUF = 1,
	DMABUFD_TYPE_SYNC_FILE = 2,
	DMABUFD_TYPE_TIMELINE = 3,
	DMABUFD_TYPE_HEAP = 4,
};

/*
 * Requests.  "fd[i]" is the i-th descriptor slot of the request: slot i is attached when
 * bit i of msg.fd_mask is set (attached descriptors travel in slot order); a slot whose
 * descriptor the client could not send (negative, or not open) has its bit clear and the
 * broker answers as the kernel answers for a descriptor that is not open.  Replies attach
 * their descriptors the same way.  Unless noted, ret is 0 or a negative errno, the one the
 * kernel's call returns, and every errno below is the kernel's for the same condition.
 */
enum dmabufd_op {
	/*
	 * First request on a connection.  arg[0] = DMABUFD_PROTO_VERSION.
	 * Reply: arg[0] = version, arg[1] = broker pid, arg[2] = number of slots in the
	 * table; fd[0] = the slot table, a memfd to map read-only (MAP_SHARED) of
	 * arg[2] * sizeof(struct dmabufd_slot) bytes.  A version mismatch: -EPROTO.
	 */
	DMABUFD_OP_HELLO = 1,

	/*
	 * DMA_HEAP_IOCTL_ALLOC.  name = heap, arg[0] = len, arg[1] = fd_flags, arg[2] =
	 * heap_flags.  Reply fd[0] = the dma-buf with the access mode of fd_flags (the client
	 * applies O_CLOEXEC itself); arg[1] = slot index (DMABUFD_NO_SLOT if none), arg[2] =
	 * slot generation, arg[3] = st_ino.  -ENOENT unknown heap, -EINVAL, -ENOMEM.
	 */
	DMABUFD_OP_HEAP_ALLOC = 2,

	/*
	 * Hand over memfds for a udmabuf list that needs more than DMABUFD_REQ_SLOTS of them:
	 * fd[0..n) are appended to the connection's pending list (a clear bit appends "not
	 * open"); n = arg[0], or the highest attached slot + 1 when arg[0] is 0 (so trailing
	 * "not open" slots can be counted).  Reply ret 0.  The list is consumed by the next
	 * UDMABUF_CREATE.  A list longer than DMABUFD_UDMABUF_LIST_LIMIT is malformed.
	 */
	DMABUFD_OP_UDMABUF_ADD_FDS = 3,

	/*
	 * UDMABUF_CREATE / UDMABUF_CREATE_LIST.  arg[0] = flags, arg[1] = count, arg[2] = n
	 * as for ADD_FDS.  fd[0..n) are appended to the pending list; the payload is count
	 * struct dmabufd_udmabuf_item, whose fd_index indexes the pending list (an index past
	 * its end is "not open": -EBADFD).  count above the limit: -EINVAL without
	 * looking at the payload.  Reply as HEAP_ALLOC (the client applies CLOEXEC).  The
	 * pending list is emptied whatever the result.
	 */
	DMABUFD_OP_UDMABUF_CREATE = 4,

	/*
	 * What fd[0] is.  Reply arg[0] = enum dmabufd_type, arg[1] = slot index (buffers;
	 * else DMABUFD_NO_SLOT), arg[2] = slot generation, arg[3] = st_ino.  Not open: -EBADF.
	 */
	DMABUFD_OP_IDENTIFY = 5,

	/*
	 * DMA_BUF_IOCTL_SYNC on fd[0], arg[0] = flags.  -EINVAL bad flags, -ENOTTY not a
	 * dma-buf, DMABUFD_RET_WAIT for a START while fences the access must wait for are
	 * pending (the client waits, e.g. on an exported sync_file, and asks again).
	 */
	DMABUFD_OP_BUF_SYNC = 6,

	/*
	 * DMA_BUF_SET_NAME on fd[0].  name = the name (NUL-terminated within 32 bytes) and
	 * arg[0] = 0; the client sends arg[0] = 1 when its pointer was NULL (-EFAULT) and 2
	 * when the name has 32 characters or more (-EINVAL), so that a descriptor that is not
	 * a dma-buf still gets -ENOTTY first.  Other arg[0] values are malformed.
	 */
	DMABUFD_OP_BUF_SET_NAME = 7,

	/* DMA_BUF_IOCTL_EXPORT_SYNC_FILE on fd[0], arg[0] = flags.  Reply fd[0] = sync_file. */
	DMABUFD_OP_BUF_EXPORT = 8,

	/* DMA_BUF_IOCTL_IMPORT_SYNC_FILE: fd[0] = dma-buf, fd[1] = sync_file, arg[0] = flags. */
	DMABUFD_OP_BUF_IMPORT = 9,

	/* DMA_BUF_IOCTL_INFO(MAP_INFO) on fd[0].  Reply arg[0] = DMABUF_FD_MAP_*. */
	DMABUFD_OP_BUF_MAP_INFO = 10,

	/*
	 * Where a udmabuf's pages are, for mapping it: fd[0] = the dma-buf.  Reply: the
	 * distinct memfds as fd[0..n) and a payload of struct dmabufd_udmabuf_item (fd_index
	 * into the reply's descriptors), in buffer order.  A heap buffer: ret 0 with no items
	 * (map the descriptor itself).  Reply arg[0] = the buffer's map_info (an incoherent
	 * buffer is mapped through the client's CPU view).  -ENOTTY not a dma-buf.  More than
	 * DMABUFD_MAX_FDS distinct memfds: -ENOMEM (the kernel would map it).
	 */
	DMABUFD_OP_BUF_RANGES = 11,

	/*
	 * SYNC_IOC_MERGE: fd[0], fd[1], name (may be "").  Reply fd[0] = the new sync_file.
	 * fd[0] not open -EBADF, not a sync_file -ENOTTY; fd[1] either: -ENOENT.
	 */
	DMABUFD_OP_SYNC_MERGE = 12,

	/*
	 * SYNC_IOC_FILE_INFO on fd[0].  arg[0] = the caller's flags, arg[1] = its pad, arg[2]
	 * = its num_fences (0: count only), arg[3] = first fence to return (paging).  Reply:
	 * name; arg[0] = status (as int32_t), arg[1] = number of fences, arg[2] = fences in
	 * this payload (at most DMABUFD_INFO_PER_MSG, from arg[3] on), payload = struct
	 * dmabufd_fence_info each.  The status is computed as the kernel computes it for the
	 * call the caller made (count-only or with an array).
	 */
	DMABUFD_OP_SYNC_INFO = 13,

	/* SYNC_IOC_SET_DEADLINE on fd[0], arg[0] = deadline_ns. */
	DMABUFD_OP_SYNC_SET_DEADLINE = 14,

	/* open() of sw_sync: name = the caller's comm (the timeline's name).  Reply fd[0]. */
	DMABUFD_OP_SW_TIMELINE_CREATE = 15,

	/* SW_SYNC_IOC_CREATE_FENCE on fd[0], arg[0] = value, name.  Reply fd[0] = sync_file. */
	DMABUFD_OP_SW_FENCE_CREATE = 16,

	/* SW_SYNC_IOC_INC on fd[0], arg[0] = count. */
	DMABUFD_OP_SW_INC = 17,

	/* SW_SYNC_GET_DEADLINE on fd[0] (timeline), fd[1] = fence's sync_file.  Reply arg[0]. */
	DMABUFD_OP_SW_GET_DEADLINE = 18,

	/*
	 * The broker's counters, for tests and tools.  Reply: payload = struct dmabufd_stats.
	 */
	DMABUFD_OP_STATS = 19,

	/*
	 * open() of /dev/dma_heap/<name>: name = heap.  Reply fd[0] = the heap descriptor (the
	 * client applies O_CLOEXEC itself).  -ENOENT unknown heap.
	 */
	DMABUFD_OP_HEAP_OPEN = 20,

	/*
	 * DMA_HEAP_IOCTL_ALLOC on fd[0], a heap descriptor: arg[0..2] as for HEAP_ALLOC.
	 * Reply as HEAP_ALLOC.  fd[0] not open -EBADF, not a heap -ENOTTY, then HEAP_ALLOC's
	 * errors.
	 */
	DMABUFD_OP_HEAP_ALLOC_FD = 21,

	/*
	 * What fdinfo shows of the dma-buf fd[0]: reply name = its name, arg[0] = 1 when a
	 * name was ever set (else 0: fdinfo has no name: line), arg[1] = size, arg[2] =
	 * map_info (enum dmabuf_map_info), and the exporter's name in the payload (NUL-terminated, at most 32 bytes).  -ENOTTY not a
	 * dma-buf.
	 */
	DMABUFD_OP_BUF_INFO = 22,

	/*
	 * fd[0] = a sync_file that a client polls (or waits on through epoll) for the first
	 * time.  The broker does what the kernel's first poll of the file does: it enables
	 * signaling on the file's fence (a callback on it), once per sync_file; a container
	 * whose member failed then signals with that error, which the count-only SYNC_INFO
	 * shows.  Reply ret 0.  Not open -EBADF, not a sync_file -ENOTTY.
	 */
	DMABUFD_OP_SYNC_POLLED = 23,

	/*
	 * Introspection, for dmabufctl: the broker's live objects of one kind, in pages.
	 * arg[0] = the kind (enum dmabufd_intro_kind); arg[1..3] = the cursor: 0, 0, 0 for the
	 * first page, then the reply's.  Objects come in the order of (type, st_ino), a fence
	 * holder's fences in its own order; a cursor names the first record not yet returned
	 * (arg[1] = holder type, arg[2] = st_ino, arg[3] = index of the fence in the holder), so
	 * an object that lives across the pages is listed once.  The pages are no snapshot:
	 * objects made or released between them may be missing or present.  Reply: payload =
	 * the kind's records (len / their size), arg[0] = 1 when another page follows, arg[1..3]
	 * = its cursor.  Looking changes nothing: no fence is signaled or gets signaling
	 * enabled by it (status comes from the fence's signaled bit).  An unknown kind: -EINVAL.
	 */
	DMABUFD_OP_INTROSPECT = 24,

	/*
	 * A device attaches to the dma-buf fd[0] (dma_buf_attach): name = the device's name
	 * ("" reads as "device").  Reply arg[0] = the attachment's id, for DETACH on this
	 * connection; the connection's end detaches what is left.  -EBADF, -ENOTTY.
	 */
	DMABUFD_OP_BUF_ATTACH = 25,

	/* Detach attachment arg[0] of this connection.  -ENOENT: no such attachment. */
	DMABUFD_OP_BUF_DETACH = 26,
};

#define DMABUFD_NO_SLOT		UINT64_MAX

/*
 * The broker names every buffer's memfd DMABUFD_MEMFD_PREFIX and its exporter
 * ("dmabuf-system", "dmabuf-udmabuf"): a client can tell a memfd that cannot be a buffer
 * from its name (/proc/self/fd/N) without asking.
 */
#define DMABUFD_MEMFD_PREFIX	"dmabuf-"


/**
 * struct dmabufd_msg - every datagram starts with this.
 * @op: enum dmabufd_op; a reply repeats the request's.
 * @ret: request: 0; reply: 0, DMABUFD_RET_WAIT or a negative errno.
 * @fd_mask: which descriptor slots are attached (bit i: slot i).
 * @len: payload bytes following this header in the datagram.
 * @arg: per op.
 * @name: per op; always NUL-terminated.
 */
struct dmabufd_msg {
	uint32_t op;
	int32_t ret;
	uint32_t fd_mask;
	uint32_t len;
	uint64_t arg[4];
	char name[32];
};

/* One range of a udmabuf (DMABUFD_OP_UDMABUF_CREATE, DMABUFD_OP_BUF_RANGES). */
struct dmabufd_udmabuf_item {
	uint32_t fd_index;
	uint32_t pad;
	uint64_t offset;
	uint64_t size;
};

/* One fence of a sync_file (the uAPI struct sync_fence_info layout). */
struct dmabufd_fence_info {
	char obj_name[32];
	char driver_name[32];
	int32_t status;
	uint32_t flags;
	uint64_t timestamp_ns;
};

/* What DMABUFD_OP_INTROSPECT lists. */
enum dmabufd_intro_kind {
	DMABUFD_INTRO_BUFFERS = 1,	/* struct dmabufd_intro_buf per live dma-buf */
	DMABUFD_INTRO_SYNC_FILES = 2,	/* struct dmabufd_intro_sync_file per live sync_file */
	DMABUFD_INTRO_TIMELINES = 3,	/* struct dmabufd_intro_timeline per open timeline */
	/*
	 * struct dmabufd_intro_fence per leaf fence (containers unwrapped) of a holder: every
	 * leaf of each sync_file, signaled or not, and the unsignaled leaves of each buffer's
	 * reservation object; buffers first.
	 */
	DMABUFD_INTRO_FENCES = 4,
};

/* A dma-buf (DMABUFD_INTRO_BUFFERS). */
struct dmabufd_intro_buf {
	uint64_t dev;		/* st_dev and st_ino of its descriptors (a memfd) */
	uint64_t ino;
	uint64_t size;
	uint32_t map_info;	/* enum dmabuf_map_info */
	uint32_t attachments;	/* devices attached to the broker's buffer */
	uint32_t fences[4];	/* unsignaled fences by usage: kernel, write, read, bookkeep */
	uint32_t has_name;	/* 1 once a name was set (DMA_BUF_SET_NAME) */
	uint32_t pad;
	char exp_name[32];
	char name[32];
};

/* A sync_file (DMABUFD_INTRO_SYNC_FILES). */
struct dmabufd_intro_sync_file {
	uint64_t dev;		/* of its descriptors (a pipe) */
	uint64_t ino;
	int32_t status;		/* of its leaves: the first error, else 0 while one is
				 * pending, else 1 */
	uint32_t fences;	/* its leaves */
	char name[32];		/* what SYNC_IOC_FILE_INFO reports */
};

/* An open sw_sync timeline (DMABUFD_INTRO_TIMELINES). */
struct dmabufd_intro_timeline {
	uint64_t dev;		/* of its descriptors (a pipe) */
	uint64_t ino;
	uint64_t context;	/* its fences' context */
	uint32_t value;
	uint32_t pad;
	char name[32];
};

/* dmabufd_intro_fence.flags */
#define DMABUFD_INTRO_FENCE_DEADLINE	1U	/* deadline_ns is set (sw_sync points) */

/* A fence and one holder of it (DMABUFD_INTRO_FENCES). */
struct dmabufd_intro_fence {
	uint64_t holder_ino;
	uint32_t holder_type;	/* DMABUFD_TYPE_BUF or DMABUFD_TYPE_SYNC_FILE */
	uint32_t usage;		/* a buffer's: enum dmabuf_resv_usage; a sync_file's: 0 */
	uint64_t context;
	uint64_t seqno;
	int32_t status;		/* 0 pending, 1 signaled, or the error it signaled with */
	uint32_t flags;		/* DMABUFD_INTRO_FENCE_* */
	int64_t deadline_ns;	/* the earliest deadline set (CLOCK_MONOTONIC) */
	int64_t timestamp_ns;	/* when it signaled (0 while pending) */
	char driver[32];
	char timeline[32];
};

/* DMABUFD_OP_STATS. */
struct dmabufd_stats {
	uint64_t buffers;	/* live dma-bufs */
	uint64_t buffer_bytes;	/* their total size */
	uint64_t sync_files;	/* live sync_files */
	uint64_t timelines;	/* open timelines */
	uint64_t fences;	/* fences held by live sync_files (leaves; one fence held by two
				 * sync_files counts twice; fences only in buffers do not count) */
	uint64_t connections;	/* connected clients */
	uint64_t requests;	/* requests served since start */
	uint64_t dropped;	/* connections dropped for malformed messages */
	uint64_t heaps;		/* live heap descriptors (one per HEAP_OPEN, dups included) */
};

/*
 * The shared slot table: one slot per live buffer (while slots last).  The broker writes,
 * clients read.  A client that learned (slot, gen, ino) for a descriptor trusts the slot
 * only while gen and ino still match: read state, then re-read gen.
 */
enum dmabufd_slot_state {
	DMABUFD_SLOT_WRITERS_PENDING = 1U << 0,	/* POLLIN not ready: a write fence pending */
	DMABUFD_SLOT_FENCES_PENDING = 1U << 1,	/* POLLOUT not ready: any fence pending */
	DMABUFD_SLOT_SYNC_LOCAL = 1U << 2,	/* SYNC needs no broker while idle */
	DMABUFD_SLOT_INCOHERENT = 1U << 3,	/* map_info INCOHERENT: CPU views in clients */
};

struct dmabufd_slot {
	uint32_t gen;	/* atomic: bumped when the slot is freed */
	uint32_t state;	/* atomic: enum dmabufd_slot_state bits */
	uint64_t ino;	/* the buffer's st_ino; 0 when free */
};

#endif /* DMABUFD_PROTO_H */

// SPDX-License-Identifier: MIT
/*
 * broker.c - the dmabufd backend of the fd-level API.
 *
 * Each op is one request to the broker (src/proto/proto.h), which answers as the kernel
 * does.  A few calls avoid the round trip: waits on sync_files are polls on the descriptor
 * (a pipe the broker writes when the fence signals), and SYNC and waits on a buffer read the
 * buffer's slot in the shared table while it says nothing is pending.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "broker_conn.h"
#include "broker_ident.h"
#include "check.h"
#include "cpu_views.h"
#include "maps.h"
#include "../core/internal.h"

#define SYNC_RW		DMABUF_FD_SYNC_RW
#define SYNC_END	DMABUF_FD_SYNC_END

/* Memfds one request may carry (msg.fd_mask has 32 bits). */
#define REQ_FDS_MAX	32

/* ---- helpers ---- */

/* The result of a request without descriptors in its reply. */
static int call(struct broker_req *req, struct broker_rep *rep)
{
	int ret = broker_call(req, rep);

	return ret ? ret : rep->msg.ret;
}

/* A request whose reply carries one new descriptor: the descriptor or a negative errno. */
static int call_fd(struct broker_req *req, bool cloexec, struct broker_rep *rep)
{
	int fd = -1, ret;

	rep->fds = &fd;
	rep->nfds = 1;
	rep->cloexec = cloexec;
	ret = call(req, rep);
	if (ret == 0 && fd >= 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return ret < 0 ? ret : -EPROTO;
}

/* The common request: @op on one descriptor with one argument, nothing but arg[] back. */
static int call_on(uint32_t op, int fd, uint64_t arg, struct broker_rep *rep)
{
	struct broker_req req = {
		.msg.op = op,
		.msg.arg[0] = arg,
		.fds = &fd,
		.nfds = 1,
	};

	*rep = (struct broker_rep){ 0 };
	return call(&req, rep);
}

static void name_set(struct dmabufd_msg *msg, const char *name)
{
	strncpy(msg->name, name, sizeof(msg->name) - 1);
	msg->name[sizeof(msg->name) - 1] = '\0';
}

/* Remember a new buffer from the reply that made it (arg[1..3]: slot, generation, inode). */
static void learn_buf(int fd, const struct broker_rep *rep)
{
	struct broker_ident id = {
		.type = DMABUFD_TYPE_BUF,
		.slot = rep->msg.arg[1],
		.gen = (uint32_t)rep->msg.arg[2],
		.ino = rep->msg.arg[3],
		.epoch = rep->epoch,
	};

	broker_ident_learn(fd, &id);
}

static void learn(int fd, enum dmabufd_type type, const struct broker_rep *rep)
{
	struct broker_ident id = {
		.type = type,
		.slot = DMABUFD_NO_SLOT,
		.epoch = rep->epoch,
	};

	broker_ident_learn(fd, &id);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* What is left until @deadline (negative: none) as a timeout. */
static int64_t time_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - mono_ns();
	return left > 0 ? left : 0;
}

/*
 * Wait for a pipe the broker made (a sync_file): it becomes readable when the fence signals;
 * hung up without a byte means the broker is gone.
 */
static int pipe_wait(int fd, int64_t timeout_ns)
{
	int ret = dmabuf_fd_poll(fd, POLLIN, timeout_ns);

	return ret == -EINVAL ? -ENOTCONN : ret;
}

/* ---- buffers ---- */

/* Name the heap in @msg; a name no heap can have fails as opening its device would. */
static int heap_name_set(struct dmabufd_msg *msg, const char *heap)
{
	size_t n = strlen(heap);

	if (n >= sizeof(msg->name))
		return n > NAME_MAX ? -ENAMETOOLONG : -ENOENT;
	name_set(msg, heap);
	return 0;
}

/* HEAP_ALLOC or HEAP_ALLOC_FD, whose reply is a new buffer: its descriptor or -errno. */
static int heap_alloc_call(struct broker_req *req, uint64_t len, unsigned int fd_flags,
			   uint64_t heap_flags)
{
	struct broker_rep rep = { 0 };
	int fd;

	req->msg.arg[0] = len;
	req->msg.arg[1] = fd_flags;
	req->msg.arg[2] = heap_flags;
	fd = call_fd(req, fd_flags & O_CLOEXEC, &rep);
	if (fd >= 0)
		learn_buf(fd, &rep);
	return fd;
}

static int broker_heap_alloc(const char *heap, uint64_t len, unsigned int fd_flags,
			     uint64_t heap_flags)
{
	struct broker_req req = { .msg.op = DMABUFD_OP_HEAP_ALLOC };
	int ret = heap_name_set(&req.msg, heap);

	if (ret)
		return ret;
	return heap_alloc_call(&req, len, fd_flags, heap_flags);
}

static int broker_heap_open(const char *heap, unsigned int flags)
{
	struct broker_req req = { .msg.op = DMABUFD_OP_HEAP_OPEN };
	struct broker_rep rep = { 0 };
	int fd = heap_name_set(&req.msg, heap);

	if (fd)
		return fd;
	fd = call_fd(&req, flags & O_CLOEXEC, &rep);
	if (fd >= 0)
		learn(fd, DMABUFD_TYPE_HEAP, &rep);
	return fd;
}

static int broker_heap_alloc_fd(int heap_fd, uint64_t len, unsigned int fd_flags,
				uint64_t heap_flags)
{
	struct broker_req req = {
		.msg.op = DMABUFD_OP_HEAP_ALLOC_FD,
		.fds = &heap_fd,
		.nfds = 1,
	};

	return heap_alloc_call(&req, len, fd_flags, heap_flags);
}

/* Is @fd open?  (A negative one is not.) */
static bool fd_open(int fd)
{
	return fd >= 0 && (fcntl(fd, F_GETFD) >= 0 || errno != EBADF);
}

/*
 * The memfds of a udmabuf list, each once: open ones first, then those that are not open,
 * which travel as slots without a descriptor (the broker answers EBADFD for them).  Fills
 * @fds (count entries at most) and each wire item's fd_index; returns how many.
 */
static unsigned int list_memfds(const struct dmabuf_fd_udmabuf_item *items, unsigned int count,
				int *fds, struct dmabufd_udmabuf_item *wire)
{
	unsigned int i, j, n = 0, pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < count; i++) {
			int fd = (int)items[i].memfd;

			if (fd_open(fd) != (pass == 0))
				continue;
			for (j = 0; j < n && fds[j] != fd; j++)
				;
			if (j == n)
				fds[n++] = fd;
			wire[i].fd_index = j;
		}
	}
	for (i = 0; i < count; i++) {
		wire[i].pad = items[i].pad;
		wire[i].offset = items[i].offset;
		wire[i].size = items[i].size;
	}
	return n;
}

/*
 * UDMABUF_ADD_FDS for all but the last REQ_FDS_MAX memfds, then UDMABUF_CREATE.  Each
 * request says how many slots it carries (ADD_FDS arg[0], CREATE arg[2]): a mask cannot
 * show slots past the last attached one, and those not open come last.
 */
static int udmabuf_send(const int *fds, unsigned int nfds, const struct dmabufd_udmabuf_item *wire,
			unsigned int count, unsigned int flags, struct broker_rep *rep)
{
	struct broker_req req = { 0 };
	struct broker_rep add = { 0 };
	unsigned int done = 0, chunk;
	int ret = 0;

	broker_lock();
	while (nfds - done > REQ_FDS_MAX) {
		chunk = nfds - done - REQ_FDS_MAX < REQ_FDS_MAX ? nfds - done - REQ_FDS_MAX :
								      REQ_FDS_MAX;
		req = (struct broker_req){
			.msg.op = DMABUFD_OP_UDMABUF_ADD_FDS,
			.msg.arg[0] = chunk,	/* slots, including trailing ones not open */
			.fds = fds + done,
			.nfds = chunk,
		};
		ret = broker_call_locked(&req, &add);
		if (!ret)
			ret = add.msg.ret;
		if (ret)
			goto out;
		done += chunk;
	}
	req = (struct broker_req){
		.msg.op = DMABUFD_OP_UDMABUF_CREATE,
		.msg.arg = { flags, count, nfds - done },
		.fds = fds + done,
		.nfds = nfds - done,
		.payload = wire,
		.len = (size_t)count * sizeof(*wire),
	};
	ret = broker_call_locked(&req, rep);
	if (!ret)
		ret = rep->msg.ret;
out:
	broker_unlock();
	return ret;
}

static int broker_udmabuf_create_list(const struct dmabuf_fd_udmabuf_item *items,
				      unsigned int count, unsigned int flags)
{
	struct broker_rep rep = { 0 };
	struct dmabufd_udmabuf_item *wire;
	unsigned int nfds;
	int *fds, fd = -1, ret;

	/* the driver refuses a list over its limit before reading the items */
	if (count > DMABUFD_UDMABUF_LIST_LIMIT)
		return -EINVAL;
	if (!items && count)
		return -EFAULT;
	wire = dmabuf_calloc(count ? count : 1, sizeof(*wire) + sizeof(*fds));
	if (!wire)
		return -ENOMEM;
	fds = (int *)(wire + (count ? count : 1));
	nfds = list_memfds(items, count, fds, wire);
	rep.fds = &fd;
	rep.nfds = 1;
	rep.cloexec = flags & DMABUF_FD_UDMABUF_CLOEXEC;
	ret = udmabuf_send(fds, nfds, wire, count, flags, &rep);
	dmabuf_free(wire);
	if (ret == 0 && fd >= 0) {
		learn_buf(fd, &rep);
		return fd;
	}
	if (fd >= 0)
		close(fd);
	return ret < 0 ? ret : -EPROTO;
}

static int broker_udmabuf_create(int memfd, uint64_t offset, uint64_t size, unsigned int flags)
{
	struct dmabuf_fd_udmabuf_item item = {
		.memfd = (uint32_t)memfd,
		.offset = offset,
		.size = size,
	};

	/* UDMABUF_CREATE is a list of one in the driver too */
	return broker_udmabuf_create_list(&item, 1, flags);
}

/* The state bit that must be clear before a CPU access of @flags may start. */
static uint32_t pending_bit(uint64_t flags)
{
	return flags & DMABUF_FD_SYNC_WRITE ? DMABUFD_SLOT_FENCES_PENDING :
					      DMABUFD_SLOT_WRITERS_PENDING;
}

/*
 * Wait until buffer @fd can be accessed as @events says (POLLIN: read, POLLOUT: write).  The
 * slot answers while it says the buffer is ready; else a sync_file of the fences to wait for
 * is exported: signaled when made, the buffer was ready; else it is waited for and the buffer
 * looked at again (fences may have come meanwhile, as the kernel's poll would see them).
 */
static int buf_wait_known(int fd, const struct broker_ident *id, short events,
			  int64_t timeout_ns)
{
	uint32_t pending = events == POLLIN ? DMABUFD_SLOT_WRITERS_PENDING :
					      DMABUFD_SLOT_FENCES_PENDING;
	int64_t deadline = dmabuf_deadline_from_timeout(timeout_ns);
	struct broker_req req = {
		.msg.op = DMABUFD_OP_BUF_EXPORT,
		.msg.arg[0] = events == POLLIN ? DMABUF_FD_SYNC_READ : SYNC_RW,
		.fds = &fd,
		.nfds = 1,
	};
	struct broker_rep rep;
	uint32_t state;
	int e, ret;

	for (;;) {
		if (broker_ident_state(id, &state) && !(state & pending))
			return 0;
		rep = (struct broker_rep){ 0 };
		e = call_fd(&req, true, &rep);
		if (e < 0)
			return e;
		ret = pipe_wait(e, 0);
		if (ret == -ETIME && time_left(deadline) != 0) {
			ret = pipe_wait(e, time_left(deadline));
			if (ret == 0)
				ret = 1;	/* look again */
		}
		close(e);
		if (ret <= 0)
			return ret;
	}
}

static bool sync_flags_valid(uint64_t flags)
{
	return !(flags & ~(uint64_t)(SYNC_RW | SYNC_END)) && (flags & SYNC_RW);
}

/* SYNC needs no broker: the slot says so and nothing the access waits for is pending. */
static bool sync_local(const struct broker_ident *id, uint64_t flags)
{
	uint32_t state;

	if (id->type != DMABUFD_TYPE_BUF || !sync_flags_valid(flags) ||
	    !broker_ident_state(id, &state) || !(state & DMABUFD_SLOT_SYNC_LOCAL))
		return false;
	return (flags & SYNC_END) || !(state & pending_bit(flags));
}

int broker_buf_sync_stat(int fd, const struct stat *st, uint64_t flags)
{
	struct broker_ident id = { .type = DMABUFD_TYPE_BUF, .slot = DMABUFD_NO_SLOT };
	uint32_t state;
	struct broker_req req = {
		.msg.op = DMABUFD_OP_BUF_SYNC,
		.msg.arg[0] = flags,
		.fds = &fd,
		.nfds = 1,
	};
	struct broker_rep rep;
	int ret;

	/* buffers are memfds: only those may be known to the slot table */
	if (S_ISREG(st->st_mode)) {
		ret = broker_ident_get(fd, st, &id);
		if (ret)
			return ret;
		if (sync_local(&id, flags))
			goto done;
	}
	for (;;) {
		rep = (struct broker_rep){ 0 };
		ret = call(&req, &rep);
		if (ret != DMABUFD_RET_WAIT)
			break;
		/* the broker never blocks: START waits here, then asks again */
		ret = buf_wait_known(fd, &id, flags & DMABUF_FD_SYNC_WRITE ? POLLOUT : POLLIN, -1);
		if (ret)
			return ret;
	}
	if (ret)
		return ret;
done:
	/* the CPU side of an incoherent buffer's brackets is this process's */
	if (broker_ident_state(&id, &state) && (state & DMABUFD_SLOT_INCOHERENT))
		dmabuf_cpu_views_synced(fd, st, flags);
	return 0;
}

static int broker_buf_sync(int fd, uint64_t flags)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	return broker_buf_sync_stat(fd, &st, flags);
}

static int broker_buf_set_name(int fd, const char *name)
{
	struct broker_req req = {
		.msg.op = DMABUFD_OP_BUF_SET_NAME,
		.fds = &fd,
		.nfds = 1,
	};
	struct broker_rep rep = { 0 };

	/* the broker checks the descriptor first, as the kernel does, then these */
	if (!name)
		req.msg.arg[0] = 1;
	else if (strnlen(name, sizeof(req.msg.name)) >= sizeof(req.msg.name))
		req.msg.arg[0] = 2;
	else
		name_set(&req.msg, name);
	return call(&req, &rep);
}

static int broker_buf_export_sync_file(int fd, unsigned int flags)
{
	struct broker_req req = {
		.msg.op = DMABUFD_OP_BUF_EXPORT,
		.msg.arg[0] = flags,
		.fds = &fd,
		.nfds = 1,
	};
	struct broker_rep rep = { 0 };
	int e = call_fd(&req, true, &rep);

	if (e >= 0)
		learn(e, DMABUFD_TYPE_SYNC_FILE, &rep);
	return e;
}

static int broker_buf_import_sync_file(int fd, unsigned int flags, int sync_fd)
{
	int fds[2] = { fd, sync_fd };
	struct broker_req req = {
		.msg.op = DMABUFD_OP_BUF_IMPORT,
		.msg.arg[0] = flags,
		.fds = fds,
		.nfds = 2,
	};
	struct broker_rep rep = { 0 };

	return call(&req, &rep);
}

static int broker_buf_map_info(int fd, uint64_t *map_info)
{
	struct broker_rep rep;
	int ret = call_on(DMABUFD_OP_BUF_MAP_INFO, fd, 0, &rep);

	if (ret == 0)
		*map_info = rep.msg.arg[0];
	return ret;
}

static int broker_buf_desc(int fd, struct dmabuf_fd_buf_desc *d)
{
	struct broker_req req = {
		.msg.op = DMABUFD_OP_BUF_INFO,
		.fds = &fd,
		.nfds = 1,
	};
	char exp[sizeof(d->exp_name)] = "";
	struct broker_rep rep = { .payload = exp, .cap = sizeof(exp) };
	int ret = call(&req, &rep);

	if (ret)
		return ret;
	memset(d, 0, sizeof(*d));
	d->size = rep.msg.arg[1];
	d->has_name = rep.msg.arg[0] != 0;
	memcpy(d->name, rep.msg.name, sizeof(d->name));
	d->name[sizeof(d->name) - 1] = '\0';
	memcpy(d->exp_name, exp, sizeof(d->exp_name));
	d->exp_name[sizeof(d->exp_name) - 1] = '\0';
	d->map_info = (int)rep.msg.arg[2];
	return 0;
}

/* The probe is the buffer's identity: its slot in the shared table says what is pending. */
static int broker_probe_init(int fd, const struct stat *st, struct dmabuf_fd_probe *p)
{
	struct broker_ident id;
	int ret = broker_ident_get(fd, st, &id);

	if (ret)
		return ret;
	if (id.type != DMABUFD_TYPE_BUF)
		return -ENOTTY;
	_Static_assert(sizeof(id) <= sizeof(p->words), "a probe holds an identity");
	memcpy(p->words, &id, sizeof(id));
	return 0;
}

static int broker_probe(const struct dmabuf_fd_probe *p, bool write)
{
	struct broker_ident id;
	uint32_t state;

	memcpy(&id, p->words, sizeof(id));
	if (!broker_ident_state(&id, &state))
		return -ENOENT;
	return !!(state & (write ? DMABUFD_SLOT_FENCES_PENDING : DMABUFD_SLOT_WRITERS_PENDING));
}

static void broker_probe_fini(struct dmabuf_fd_probe *p)
{
}

static int broker_buf_wait(int fd, short events, int64_t timeout_ns)
{
	struct broker_ident id;
	struct stat st;
	int ret;

	if (fstat(fd, &st))
		return -errno;
	/* not a buffer (those are memfds): poll it, whatever it is, as the kernel would */
	if (!S_ISREG(st.st_mode))
		return dmabuf_fd_poll(fd, events, timeout_ns);
	ret = broker_ident_get(fd, &st, &id);
	if (ret)
		return ret;
	if (id.type != DMABUFD_TYPE_BUF)
		return dmabuf_fd_poll(fd, events, timeout_ns);
	return buf_wait_known(fd, &id, events, timeout_ns);
}

/* Round @len up to whole pages: 0 if that wraps. */
static uint64_t page_align(uint64_t len, uint64_t page)
{
	return len + page - 1 < len ? 0 : (len + page - 1) & ~(page - 1);
}

static int plain_mmap(int fd, void *addr, size_t len, int prot, int flags, uint64_t offset,
		      void **map)
{
	void *p = mmap(addr, len, prot, flags, fd, (off_t)offset);

	if (p == MAP_FAILED)
		return -errno;
	*map = p;
	return 0;
}

/* The checks mmap() and the dma-buf core make before the exporter sees the mapping. */
static int map_check(int fd, const struct stat *st, size_t len, int prot, int flags,
		     uint64_t offset, uint64_t page)
{
	int type = flags & MAP_TYPE, acc = fcntl(fd, F_GETFL);
	uint64_t plen = page_align(len, page);

	if (acc < 0)
		return -errno;
	acc &= O_ACCMODE;
	if (!len)
		return -EINVAL;
	if (!plen)
		return -ENOMEM;
	if (offset / page + plen / page < offset / page)
		return -EOVERFLOW;
	if ((type == MAP_SHARED || type == MAP_SHARED_VALIDATE) && (prot & PROT_WRITE) &&
	    acc != O_RDWR)
		return -EACCES;
	if (acc != O_RDONLY && acc != O_RDWR)
		return -EACCES;
	if (offset > (uint64_t)st->st_size || plen > (uint64_t)st->st_size - offset)
		return -EINVAL;
	return 0;
}

/*
 * Where a buffer's pages are (DMABUFD_OP_BUF_RANGES): a udmabuf's memfd ranges (@items,
 * @nitems; @fds by fd_index), none for a heap buffer (its descriptor is its memory), and its
 * map_info.
 */
struct ranges {
	struct dmabufd_udmabuf_item *items;
	unsigned int nitems;
	int fds[DMABUFD_MAX_FDS];
	uint64_t map_info;
};

static void ranges_put(struct ranges *r)
{
	for (unsigned int i = 0; i < DMABUFD_MAX_FDS; i++)
		if (r->fds[i] >= 0)
			close(r->fds[i]);
	dmabuf_free(r->items);
	r->items = NULL;
}

/* Ask the broker where @fd's pages are: 0, -ENOTTY (not a dma-buf), or -errno. */
static int ranges_get(int fd, struct ranges *r)
{
	struct broker_req req = {
		.msg.op = DMABUFD_OP_BUF_RANGES,
		.fds = &fd,
		.nfds = 1,
	};
	struct broker_rep rep = { 0 };
	int ret;

	for (unsigned int i = 0; i < DMABUFD_MAX_FDS; i++)
		r->fds[i] = -1;
	r->nitems = 0;
	r->items = dmabuf_malloc(DMABUFD_PAYLOAD_MAX);
	if (!r->items)
		return -ENOMEM;
	rep.fds = r->fds;
	rep.nfds = DMABUFD_MAX_FDS;
	rep.payload = r->items;
	rep.cap = DMABUFD_PAYLOAD_MAX;
	rep.cloexec = true;
	ret = call(&req, &rep);
	if (ret) {
		ranges_put(r);
		return ret;
	}
	r->nitems = rep.msg.len / sizeof(*r->items);
	r->map_info = rep.msg.arg[0];
	return 0;
}

/*
 * A udmabuf: its descriptor is only a token of the right size; the pages are the ranges of
 * @r, mapped one after another in one reserved area (with the system calls themselves: the
 * caller records what it keeps).
 */
static int map_ranges(const struct ranges *r, void *addr, size_t len, int prot, int flags,
		      uint64_t offset, uint64_t page, void **map)
{
	uint64_t plen = page_align(len, page), end = offset + plen, pos = 0, s, e;
	const struct dmabufd_udmabuf_item *it = r->items;
	int fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	int rflags = (flags & ~(MAP_FIXED | MAP_FIXED_NOREPLACE)) | MAP_FIXED;
	unsigned int i;
	char *base;
	void *p;
	int ret;

	base = dmabuf_sys_mmap(addr, plen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | fixed, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	for (i = 0; i < r->nitems && pos < end; pos += it[i].size, i++) {
		s = pos > offset ? pos : offset;
		e = pos + it[i].size < end ? pos + it[i].size : end;
		if (s >= e)
			continue;
		if (it[i].fd_index >= DMABUFD_MAX_FDS || r->fds[it[i].fd_index] < 0) {
			ret = -EPROTO;
			goto fail;
		}
		p = dmabuf_sys_mmap(base + (s - offset), e - s, prot, rflags,
				    r->fds[it[i].fd_index], it[i].offset + (s - pos));
		if (p == MAP_FAILED) {
			ret = -errno;
			goto fail;
		}
	}
	if (pos < end) {
		ret = -EPROTO;
		goto fail;
	}
	*map = base;
	return 0;
fail:
	dmabuf_sys_munmap(base, plen);
	return ret;
}

int broker_buf_attach(int fd, const char *dev, uint64_t *id)
{
	struct broker_req req = {
		.msg.op = DMABUFD_OP_BUF_ATTACH,
		.fds = &fd,
		.nfds = 1,
	};
	struct broker_rep rep = { 0 };
	int ret;

	name_set(&req.msg, dev);
	ret = call(&req, &rep);
	if (!ret)
		*id = rep.msg.arg[0];
	return ret;
}

int broker_buf_detach(uint64_t id)
{
	struct broker_req req = { .msg.op = DMABUFD_OP_BUF_DETACH, .msg.arg[0] = id };
	struct broker_rep rep = { 0 };

	return call(&req, &rep);
}

int broker_buf_map_memory(int fd, size_t len, int prot, void **map)
{
	struct ranges r;
	void *p;
	int ret;

	ret = ranges_get(fd, &r);
	if (ret)
		return ret;
	if (r.nitems) {
		ret = map_ranges(&r, NULL, len, prot, MAP_SHARED, 0, dmabuf_page_size(), map);
	} else {
		p = dmabuf_sys_mmap(NULL, len, prot, MAP_SHARED, fd, 0);
		ret = p == MAP_FAILED ? -errno : 0;
		if (!ret)
			*map = p;
	}
	ranges_put(&r);
	return ret;
}

static int broker_buf_mmap(int fd, void *addr, size_t len, int prot, int flags, uint64_t offset,
			   void **map)
{
	uint64_t page = dmabuf_page_size();
	struct ranges r;
	struct stat st;
	int ret;

	/* the order of mmap(2): offset alignment, then the descriptor */
	if (offset & (page - 1))
		return -EINVAL;
	if ((flags & MAP_ANONYMOUS) || fstat(fd, &st) || !S_ISREG(st.st_mode))
		return plain_mmap(fd, addr, len, prot, flags, offset, map);
	ret = ranges_get(fd, &r);
	if (ret == -ENOTTY)	/* not a dma-buf: whatever mmap() makes of it */
		return plain_mmap(fd, addr, len, prot, flags, offset, map);
	if (ret)
		return ret;
	ret = map_check(fd, &st, len, prot, flags, offset, page);
	/* heap buffers copy-on-write a single page; udmabuf maps only shared */
	if (!ret && (flags & MAP_TYPE) == MAP_PRIVATE && (r.nitems || page_align(len, page) > page))
		ret = -EINVAL;
	if (ret)
		goto out;
	if (dmabuf_check_on())
		dmabuf_check_prepare(fd, &st);
	/* mapped and recorded at once: a CPU view lives while the table has its mappings */
	dmabuf_maps_lock();
	if (r.nitems)
		ret = map_ranges(&r, addr, len, prot, flags, offset, page, map);
	else if (r.map_info == DMABUF_MAP_INCOHERENT)
		ret = dmabuf_cpu_views_mmap(fd, &st, addr, len, prot, flags, offset, map);
	else
		ret = plain_mmap(fd, addr, len, prot, flags, offset, map);
	if (!ret)
		dmabuf_fd_map_record(&st, *map, len, prot, flags, offset);
	dmabuf_maps_unlock();
out:
	ranges_put(&r);
	return ret;
}

/* ---- sync_files ---- */

static int broker_sync_merge(const char *name, int fd1, int fd2)
{
	int fds[2] = { fd1, fd2 };
	struct broker_req req = {
		.msg.op = DMABUFD_OP_SYNC_MERGE,
		.fds = fds,
		.nfds = 2,
	};
	struct broker_rep rep = { 0 };
	int m;

	name_set(&req.msg, name);
	m = call_fd(&req, true, &rep);
	if (m >= 0)
		learn(m, DMABUFD_TYPE_SYNC_FILE, &rep);
	return m;
}

/* One SYNC_INFO request: fences from @first on go to @out (room for @room of them). */
static int sync_info_call(int fd, const struct dmabuf_fd_sync_file_info *in, uint32_t first,
			  struct dmabuf_fd_fence_info *out, uint32_t room,
			  struct broker_rep *rep)
{
	struct broker_req req = {
		.msg.op = DMABUFD_OP_SYNC_INFO,
		.msg.arg = { in->flags, in->pad, in->num_fences, first },
		.fds = &fd,
		.nfds = 1,
	};

	if (room > DMABUFD_INFO_PER_MSG)
		room = DMABUFD_INFO_PER_MSG;
	*rep = (struct broker_rep){ .payload = out, .cap = (size_t)room * sizeof(*out) };
	return call(&req, rep);
}

static int broker_sync_file_info(int fd, struct dmabuf_fd_sync_file_info *info)
{
	_Static_assert(sizeof(struct dmabufd_fence_info) == sizeof(struct dmabuf_fd_fence_info),
		       "the protocol's fence info is the uAPI's");
	struct dmabuf_fd_sync_file_info count_only = { 0 };
	struct dmabuf_fd_fence_info *array;
	struct broker_rep rep;
	uint32_t total, got = 0, n, i;
	int32_t status = 1;
	int ret;

	/* the kernel reads the argument only once it knows the file is a sync_file */
	if (!info) {
		ret = sync_info_call(fd, &count_only, 0, NULL, 0, &rep);
		return ret ? ret : -EFAULT;
	}
	array = (struct dmabuf_fd_fence_info *)(uintptr_t)info->sync_fence_info;
	if (info->num_fences && !array) {
		/* it checks everything but the array first */
		count_only.flags = info->flags;
		count_only.pad = info->pad;
		ret = sync_info_call(fd, &count_only, 0, NULL, 0, &rep);
		if (ret)
			return ret;
		return info->num_fences < rep.msg.arg[1] ? -EINVAL : -EFAULT;
	}
	ret = sync_info_call(fd, info, 0, array, info->num_fences, &rep);
	if (ret)
		return ret;
	total = (uint32_t)rep.msg.arg[1];
	if (info->num_fences) {
		/* page through; the status of the full call comes from the fences read */
		for (;;) {
			n = (uint32_t)rep.msg.arg[2];
			if (n > total - got || rep.msg.len != n * sizeof(*array) ||
			    (!n && got < total))
				return -EPROTO;
			for (i = got; i < got + n; i++)
				if (status > 0)
					status = array[i].status;
			got += n;
			if (got == total)
				break;
			ret = sync_info_call(fd, info, got, array + got, info->num_fences - got,
					     &rep);
			if (ret)
				return ret;
		}
		if (total <= DMABUFD_INFO_PER_MSG)
			status = (int32_t)rep.msg.arg[0];
	} else {
		status = (int32_t)rep.msg.arg[0];
	}
	memcpy(info->name, rep.msg.name, sizeof(info->name));
	info->status = status;
	info->num_fences = total;
	return 0;
}

static int broker_sync_wait(int fd, int64_t timeout_ns)
{
	struct stat st;
	int ret = dmabuf_fd_poll(fd, POLLIN, timeout_ns);

	/*
	 * A sync_file whose broker is gone hangs up without ever becoming readable.  (So does
	 * any other FIFO whose writers closed: the kernel backend says -EINVAL for those.)
	 */
	if (ret == -EINVAL && !fstat(fd, &st) && S_ISFIFO(st.st_mode))
		return -ENOTCONN;
	return ret;
}

static int broker_sync_set_deadline(int fd, uint64_t deadline_ns)
{
	struct broker_rep rep;

	return call_on(DMABUFD_OP_SYNC_SET_DEADLINE, fd, deadline_ns, &rep);
}

/* For the preload library: called where the kernel's sync_file would see its first poll. */
int broker_sync_polled(int fd)
{
	struct broker_rep rep;

	return call_on(DMABUFD_OP_SYNC_POLLED, fd, 0, &rep);
}

/* ---- sw_sync ---- */

static int broker_sw_timeline_create(unsigned int fd_flags)
{
	struct broker_req req = { .msg.op = DMABUFD_OP_SW_TIMELINE_CREATE };
	struct broker_rep rep = { 0 };
	char comm[17] = "";
	int tl;

	/* the driver names a timeline after the process that opened it */
	prctl(PR_GET_NAME, comm, 0, 0, 0);
	name_set(&req.msg, comm);
	tl = call_fd(&req, fd_flags & O_CLOEXEC, &rep);
	if (tl >= 0)
		learn(tl, DMABUFD_TYPE_TIMELINE, &rep);
	return tl;
}

static int broker_sw_fence_create(int tl, uint32_t value, const char *name)
{
	struct broker_req req = {
		.msg.op = DMABUFD_OP_SW_FENCE_CREATE,
		.msg.arg[0] = value,
		.fds = &tl,
		.nfds = 1,
	};
	struct broker_rep rep = { 0 };
	int f;

	name_set(&req.msg, name);
	f = call_fd(&req, true, &rep);
	if (f >= 0)
		learn(f, DMABUFD_TYPE_SYNC_FILE, &rep);
	return f;
}

static int broker_sw_timeline_inc(int tl, uint32_t count)
{
	struct broker_rep rep;

	return call_on(DMABUFD_OP_SW_INC, tl, count, &rep);
}

static int broker_sw_get_deadline(int tl, int fence_fd, uint64_t *deadline_ns)
{
	int fds[2] = { tl, fence_fd };
	struct broker_req req = {
		.msg.op = DMABUFD_OP_SW_GET_DEADLINE,
		.fds = fds,
		.nfds = 2,
	};
	struct broker_rep rep = { 0 };
	int ret = call(&req, &rep);

	if (ret == 0)
		*deadline_ns = rep.msg.arg[0];
	return ret;
}

const struct dmabuf_fd_ops dmabuf_fd_broker_ops = {
	.name = "broker",
	.heap_alloc = broker_heap_alloc,
	.heap_open = broker_heap_open,
	.heap_alloc_fd = broker_heap_alloc_fd,
	.udmabuf_create = broker_udmabuf_create,
	.udmabuf_create_list = broker_udmabuf_create_list,
	.buf_sync = broker_buf_sync,
	.buf_set_name = broker_buf_set_name,
	.buf_export_sync_file = broker_buf_export_sync_file,
	.buf_import_sync_file = broker_buf_import_sync_file,
	.buf_map_info = broker_buf_map_info,
	.buf_wait = broker_buf_wait,
	.buf_mmap = broker_buf_mmap,
	.sync_merge = broker_sync_merge,
	.sync_file_info = broker_sync_file_info,
	.sync_wait = broker_sync_wait,
	.sync_set_deadline = broker_sync_set_deadline,
	.sw_timeline_create = broker_sw_timeline_create,
	.sw_fence_create = broker_sw_fence_create,
	.sw_timeline_inc = broker_sw_timeline_inc,
	.sw_get_deadline = broker_sw_get_deadline,
	.buf_desc = broker_buf_desc,
	.probe_init = broker_probe_init,
	.probe = broker_probe,
	.probe_fini = broker_probe_fini,
};

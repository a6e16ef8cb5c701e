/* SPDX-License-Identifier: MIT */
/*
 * backend.h - the seam between the fd-level API (fd.c) and its backends; not installed.
 *
 * fd.c checks what does not depend on the backend, then calls one op.  Every op returns what
 * the public function returns (a descriptor or 0, else a negative errno) and gets its
 * arguments as the public function got them, except where noted.
 */
#ifndef DMABUF_CLIENT_BACKEND_H
#define DMABUF_CLIENT_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <dmabuf/fd.h>

/**
 * struct dmabuf_fd_buf_desc - what reports say of a dma-buf (fdinfo's facts and map_info).
 * @size: bytes.
 * @exp_name: the exporter's name.
 * @name: the name set with SET_NAME, when @has_name.
 * @has_name: a name was set.
 * @map_info: enum dmabuf_map_info, or -1 when the backend cannot tell.
 */
struct dmabuf_fd_buf_desc {
	uint64_t size;
	char exp_name[32];
	char name[32];
	bool has_name;
	int map_info;
};

/*
 * struct dmabuf_fd_probe - how to ask later, without the descriptor and from a signal
 * handler, whether a buffer's fences are pending (see @probe_init).  Opaque.
 */
struct dmabuf_fd_probe {
	uint64_t words[6];
};

/**
 * struct dmabuf_fd_ops - one backend.
 * @name: "kernel" or "broker".
 * @buf_wait: wait for @events (POLLIN or POLLOUT) on a dma-buf.
 * @buf_mmap: @map is never NULL.
 * @sync_wait: wait for a sync_file to signal.
 * @sync_merge: @name is never NULL.
 * @sw_fence_create: @name is never NULL.
 * @buf_desc: describe dma-buf @fd (0 or a negative errno).
 * @probe_init: prepare *@p for buffer @fd (fstat @st): 0 or a negative errno.
 * @probe: whether a CPU access (@write or read) of the buffer of @p would have to wait for
 *	a fence now: 1 yes, 0 no, negative when it cannot tell.  Async-signal-safe.
 * @probe_fini: release what @probe_init took.
 * The others: as the public function of the same name.
 */
struct dmabuf_fd_ops {
	const char *name;
	int (*heap_alloc)(const char *heap, uint64_t len, unsigned int fd_flags,
			  uint64_t heap_flags);
	int (*heap_open)(const char *heap, unsigned int flags);
	int (*heap_alloc_fd)(int heap_fd, uint64_t len, unsigned int fd_flags,
			     uint64_t heap_flags);
	int (*udmabuf_create)(int memfd, uint64_t offset, uint64_t size, unsigned int flags);
	int (*udmabuf_create_list)(const struct dmabuf_fd_udmabuf_item *items,
				   unsigned int count, unsigned int flags);
	int (*buf_sync)(int fd, uint64_t flags);
	int (*buf_set_name)(int fd, const char *name);
	int (*buf_export_sync_file)(int fd, unsigned int flags);
	int (*buf_import_sync_file)(int fd, unsigned int flags, int sync_fd);
	int (*buf_map_info)(int fd, uint64_t *map_info);
	int (*buf_wait)(int fd, short events, int64_t timeout_ns);
	int (*buf_mmap)(int fd, void *addr, size_t len, int prot, int flags, uint64_t offset,
			void **map);
	int (*sync_merge)(const char *name, int fd1, int fd2);
	int (*sync_file_info)(int fd, struct dmabuf_fd_sync_file_info *info);
	int (*sync_wait)(int fd, int64_t timeout_ns);
	int (*sync_set_deadline)(int fd, uint64_t deadline_ns);
	int (*sw_timeline_create)(unsigned int fd_flags);
	int (*sw_fence_create)(int tl, uint32_t value, const char *name);
	int (*sw_timeline_inc)(int tl, uint32_t count);
	int (*sw_get_deadline)(int tl, int fence_fd, uint64_t *deadline_ns);
	int (*buf_desc)(int fd, struct dmabuf_fd_buf_desc *d);
	int (*probe_init)(int fd, const struct stat *st, struct dmabuf_fd_probe *p);
	int (*probe)(const struct dmabuf_fd_probe *p, bool write);
	void (*probe_fini)(struct dmabuf_fd_probe *p);
};

/* The kernel's drivers (kernel.c). */
extern const struct dmabuf_fd_ops dmabuf_fd_kernel_ops;
/* dmabufd (broker.c, broker_conn.c, broker_ident.c). */
extern const struct dmabuf_fd_ops dmabuf_fd_broker_ops;

/* The process's backend, chosen at the first call (backend.c). */
const struct dmabuf_fd_ops *dmabuf_fd_backend(void);

/*
 * Use @ops whatever the environment says; call before the first dmabuf_fd_*() call (the
 * preload library serves the uAPI from the broker even where the kernel has the drivers).
 */
void dmabuf_fd_backend_force(const struct dmabuf_fd_ops *ops);

/* For the preload library (broker.c). */

/*
 * Tell the broker that sync_file @fd is being polled (DMABUFD_OP_SYNC_POLLED), as the
 * kernel's first poll of the file would know: 0, -EBADF, -ENOTTY (not a sync_file), or the
 * errno of a broker that cannot be reached.
 */
int broker_sync_polled(int fd);

/* DMA_BUF_IOCTL_SYNC on @fd, whose fstat() the caller just made (@st): one fstat() less. */
int broker_buf_sync_stat(int fd, const struct stat *st, uint64_t flags);

/*
 * Map [0, @len) of broker dma-buf @fd's memory as it is, as a device sees it: a heap buffer's
 * descriptor (an incoherent buffer's device view), a udmabuf's memfd ranges; no CPU view,
 * nothing recorded, with the system calls themselves (the preload library's wrappers do not
 * see it).  Unmap with dmabuf_sys_munmap().  0, -ENOTTY (not a dma-buf), or -errno.
 */
int broker_buf_map_memory(int fd, size_t len, int prot, void **map);

/*
 * A device named @dev attaches to broker dma-buf @fd (DMABUFD_OP_BUF_ATTACH): the broker
 * counts the attachment (dmabufctl shows it) until broker_buf_detach(*@id) or the end of the
 * connection.  0, -EBADF, -ENOTTY, or the connection's error.
 */
int broker_buf_attach(int fd, const char *dev, uint64_t *id);
int broker_buf_detach(uint64_t id);

/* The same with what dmabuf_fd_buf_sync() adds (the coherency checker): for the preload. */
int dmabuf_fd_buf_sync_stat(int fd, const struct stat *st, uint64_t flags);

/*
 * A backend mapped [@p, +@len) of the dma-buf of @st with mmap's @prot, @flags and @offset:
 * record it in the mapping table (maps.h), through the checker when it is on (the backend
 * called dmabuf_check_prepare() before mapping).  Takes the table's lock, which a backend
 * may already hold across the mapping.
 */
void dmabuf_fd_map_record(const struct stat *st, void *p, size_t len, int prot, int flags,
			  uint64_t offset);

/*
 * Wait for @events on @fd with poll(), retrying on EINTR until @timeout_ns (negative: no
 * limit) has passed: 0 ready, -ETIME, -EBADF (POLLNVAL), -EINVAL (POLLERR or POLLHUP without
 * @events), or -errno of ppoll().  Shared by backends whose descriptors are pollable.
 */
int dmabuf_fd_poll(int fd, short events, int64_t timeout_ns);

#endif /* DMABUF_CLIENT_BACKEND_H */

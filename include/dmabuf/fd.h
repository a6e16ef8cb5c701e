/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/fd.h - the fd-level API: dma-bufs, sync_files and sw_sync timelines as file descriptors.
 *
 * Every call here does what one uAPI call does (an ioctl on a dma-buf, heap, udmabuf, sync_file
 * or sw_sync fd, or a poll) and returns what the kernel returns for it: a new descriptor or 0 on
 * success, else a negative errno value, the same one the kernel's call fails with.
 *
 * A backend carries the calls out:
 *  - "kernel": the running kernel's drivers (/dev/dma_heap/<heap>, /dev/udmabuf, the sw_sync
 *    debugfs file or /dev/sw_sync); the calls are the uAPI calls themselves.
 *  - "broker": dmabufd, the broker that plays the kernel where no driver exists.  The library
 *    connects to the user's dmabufd at the first call and starts one if none runs ($DMABUFD,
 *    else the installed dmabufd, else "dmabufd" from $PATH; its socket is $DMABUFD_SOCKET,
 *    else $XDG_RUNTIME_DIR/dmabuf/dmabufd.sock, else /tmp/dmabuf-$UID/dmabufd.sock).  Its
 *    dma-bufs are memfds, its sync_files, timelines and heap descriptors pipes.  When no
 *    broker can be reached every call that needs it fails with -ENOTCONN (and the library says
 *    why on stderr, once); a broker that went away is reconnected to (or restarted) at the
 *    next call.  A forked child makes its own connection.  On the broker, plain mmap() of a
 *    udmabuf descriptor does not show the memfd's pages (a memfd cannot alias another one's):
 *    map dma-bufs with dmabuf_fd_buf_mmap(), or run the program under dmabuf-run.
 * The backend is chosen once per process, at the first call: LIBDMABUF_BACKEND=kernel or
 * =broker forces one; otherwise (unset or any other value) "kernel" when /dev/dma_heap/system
 * can be opened, else "broker".  One backend serves the whole process because descriptors of
 * the two worlds cannot be mixed (a kernel dma-buf cannot import a broker's sync_file).
 *
 * Descriptors returned by the calls are owned by the caller (close() them).  The calls are
 * thread-safe.  Timeouts are nanoseconds: negative waits forever, 0 only tests.
 */
#ifndef DMABUF_FD_H
#define DMABUF_FD_H

#include <dmabuf/api.h>

#include <stddef.h>
#include <stdint.h>

DMABUF_BEGIN_DECLS

/* Access flags of dmabuf_fd_buf_sync(), export/import and dmabuf_fd_buf_wait() (uAPI values). */
#define DMABUF_FD_SYNC_READ	(1U << 0)
#define DMABUF_FD_SYNC_WRITE	(2U << 0)
#define DMABUF_FD_SYNC_RW	(DMABUF_FD_SYNC_READ | DMABUF_FD_SYNC_WRITE)
#define DMABUF_FD_SYNC_START	(0U << 2)
#define DMABUF_FD_SYNC_END	(1U << 2)

/* dmabuf_fd_udmabuf_create() flag: the new descriptor is close-on-exec (uAPI value). */
#define DMABUF_FD_UDMABUF_CLOEXEC 0x01U

/* Values of dmabuf_fd_buf_map_info(): how CPU mappings of the buffer behave. */
#define DMABUF_FD_MAP_INCOHERENT	0 /* CPU access needs SYNC brackets */
#define DMABUF_FD_MAP_COHERENT_WC	1 /* coherent, write-combined */
#define DMABUF_FD_MAP_COHERENT_CACHED	2 /* coherent, cached */

/**
 * struct dmabuf_fd_udmabuf_item - one range of a udmabuf list (uAPI layout).
 * @memfd: a memfd sealed with F_SEAL_SHRINK (and not F_SEAL_WRITE).
 * @pad: ignored.
 * @offset: page-aligned start of the range in the memfd.
 * @size: page-aligned, non-zero length of the range.
 */
struct dmabuf_fd_udmabuf_item {
	uint32_t memfd;
	uint32_t pad;
	uint64_t offset;
	uint64_t size;
};

/**
 * struct dmabuf_fd_fence_info - one fence of a sync_file (uAPI struct sync_fence_info layout).
 * @obj_name: the fence's timeline name.
 * @driver_name: the name of the driver that owns the fence.
 * @status: 1 signaled, 0 pending, a negative errno if it signaled with an error.
 * @flags: fence flags (always 0 today).
 * @timestamp_ns: CLOCK_MONOTONIC time of signaling; 0 while pending.
 */
struct dmabuf_fd_fence_info {
	char obj_name[32];
	char driver_name[32];
	int32_t status;
	uint32_t flags;
	uint64_t timestamp_ns;
};

/**
 * struct dmabuf_fd_sync_file_info - the raw SYNC_IOC_FILE_INFO argument (uAPI layout).
 * @name: out: the sync_file's name.
 * @status: out: see dmabuf_fd_sync_file_info().
 * @flags: in: must be 0.
 * @num_fences: in: size of the array (0: count only); out: the number of fences.
 * @pad: in: must be 0.
 * @sync_fence_info: in: address of an array of @num_fences struct dmabuf_fd_fence_info.
 */
struct dmabuf_fd_sync_file_info {
	char name[32];
	int32_t status;
	uint32_t flags;
	uint32_t num_fences;
	uint32_t pad;
	uint64_t sync_fence_info;
};

/**
 * struct dmabuf_fd_sync_info - a sync_file and its fences, as dmabuf_fd_sync_info() returns it.
 * @name: the sync_file's name.
 * @status: status of the full FILE_INFO call: 1 when every fence signaled without error,
 *	else the status (0 or a negative errno) of the first fence, in array order, that is
 *	pending or failed.
 * @num_fences: number of entries in @fences.
 * @fences: the fences (leaves of merged files), in the kernel's order.
 */
struct dmabuf_fd_sync_info {
	char name[32];
	int32_t status;
	uint32_t num_fences;
	struct dmabuf_fd_fence_info fences[];
};

/**
 * dmabuf_fd_backend_name() - which backend this process uses.
 *
 * Chooses the backend if no call did yet (see the top of this header).
 *
 * Return: "kernel" or "broker" (a static string).
 */
DMABUF_API const char *dmabuf_fd_backend_name(void);

/* ---- buffers ---- */

/**
 * dmabuf_fd_heap_alloc() - allocate a dma-buf from a heap (DMA_HEAP_IOCTL_ALLOC).
 * @heap: heap name, e.g. "system" (the device /dev/dma_heap/@heap in the kernel).
 * @len: size in bytes, rounded up to whole pages.
 * @fd_flags: flags of the new descriptor: an access mode (O_RDONLY, O_WRONLY, O_RDWR) plus
 *	optionally O_CLOEXEC.
 * @heap_flags: heap-specific flags; the system heap knows none (must be 0).
 *
 * Checked before the backend: @heap NULL → -EINVAL; @heap "", ".", ".." or containing '/'
 * names no heap → -ENOENT.
 *
 * Return: the new dma-buf descriptor, or -ENOENT (no such heap), -EINVAL (@len 0 or wrapping
 * when rounded up, unknown @fd_flags or @heap_flags), -ENOMEM, or the error of opening the heap.
 */
DMABUF_API int dmabuf_fd_heap_alloc(const char *heap, uint64_t len, unsigned int fd_flags,
				    uint64_t heap_flags);

/**
 * dmabuf_fd_heap_open() - open a heap's device, a heap descriptor (open of /dev/dma_heap/@heap).
 * @heap: heap name, e.g. "system".
 * @flags: an access mode (O_RDONLY, O_WRONLY, O_RDWR; allocating works with any) plus
 *	optionally O_CLOEXEC.
 *
 * Holding the descriptor is what allows dmabuf_fd_heap_alloc_fd(); it can be dup()ed,
 * inherited and passed to other processes like any descriptor, and buffers allocated from it
 * outlive it.  On the broker it is a pipe (read-only whatever the access mode asked).
 * Checked before the backend: @heap as for dmabuf_fd_heap_alloc(), then @flags with any other
 * bit → -EINVAL (an API rule: open() would ignore most of them or change what it opens).
 *
 * Return: the heap descriptor, or -ENOENT (no such heap), -EINVAL, or the error of open()
 * (-EACCES, -ENAMETOOLONG, -EMFILE, ...).
 */
DMABUF_API int dmabuf_fd_heap_open(const char *heap, unsigned int flags);

/**
 * dmabuf_fd_heap_alloc_fd() - allocate a dma-buf from a heap descriptor (DMA_HEAP_IOCTL_ALLOC).
 * @heap_fd: a heap descriptor from dmabuf_fd_heap_open() (or open() of the device, on the
 *	kernel backend).
 * @len: as for dmabuf_fd_heap_alloc().
 * @fd_flags: as for dmabuf_fd_heap_alloc().
 * @heap_flags: as for dmabuf_fd_heap_alloc().
 *
 * dmabuf_fd_heap_alloc() is dmabuf_fd_heap_open(), this call, and close().  Checked before the
 * backend: @heap_fd negative → -EBADF.
 *
 * Return: the new dma-buf descriptor, or -EBADF (@heap_fd not open), -ENOTTY (@heap_fd is not
 * a heap descriptor: a memfd, a pipe, a dma-buf, ...), -EINVAL, -ENOMEM as
 * dmabuf_fd_heap_alloc().
 */
DMABUF_API int dmabuf_fd_heap_alloc_fd(int heap_fd, uint64_t len, unsigned int fd_flags,
				       uint64_t heap_flags);

/**
 * dmabuf_fd_udmabuf_create() - make a dma-buf from a memfd range (UDMABUF_CREATE).
 * @memfd: a memfd with F_SEAL_SHRINK and without F_SEAL_WRITE.
 * @offset: page-aligned offset of the range.
 * @size: page-aligned, non-zero size of the range.
 * @flags: DMABUF_FD_UDMABUF_CLOEXEC; other bits are ignored.
 *
 * The buffer aliases the memfd's pages.
 *
 * Return: the new dma-buf descriptor, or -EBADFD (@memfd is not a memfd), -EINVAL (seals,
 * alignment, range outside the memfd, size over the driver's limit), -ENOMEM, or the error of
 * opening /dev/udmabuf.
 */
DMABUF_API int dmabuf_fd_udmabuf_create(int memfd, uint64_t offset, uint64_t size,
					unsigned int flags);

/**
 * dmabuf_fd_udmabuf_create_list() - make one dma-buf from several memfd ranges
 * (UDMABUF_CREATE_LIST).
 * @items: @count ranges, concatenated in order.
 * @count: number of ranges (1 to the driver's limit, 1024 by default).
 * @flags: as for dmabuf_fd_udmabuf_create().
 *
 * Return: the new dma-buf descriptor, or -EINVAL (@count 0 or over the limit, a bad range),
 * -EBADFD (an item's memfd is not a memfd), -EFAULT (@items NULL with a @count within the
 * limit), -ENOMEM.
 */
DMABUF_API int dmabuf_fd_udmabuf_create_list(const struct dmabuf_fd_udmabuf_item *items,
					     unsigned int count, unsigned int flags);

/**
 * dmabuf_fd_buf_sync() - bracket CPU access to a dma-buf (DMA_BUF_IOCTL_SYNC).
 * @fd: a dma-buf.
 * @flags: DMABUF_FD_SYNC_START or _END, plus _READ, _WRITE or _RW.
 *
 * START waits for the buffer's fences first (READ: the writers; WRITE or RW: all).
 * Checked before the backend: @fd negative → -EBADF.
 *
 * Return: 0, or -EINVAL (no READ/WRITE, unknown bits, or what the exporter refuses, e.g. a
 * udmabuf END without any START), -EBADF, -ENOTTY (@fd is not a dma-buf).
 */
DMABUF_API int dmabuf_fd_buf_sync(int fd, uint64_t flags);

/**
 * dmabuf_fd_buf_set_name() - name a dma-buf (DMA_BUF_SET_NAME); shows in fdinfo "name:".
 * @fd: a dma-buf.
 * @name: at most 31 characters; "" is allowed.
 *
 * Checked before the backend: @fd negative → -EBADF.
 *
 * Return: 0, or -EINVAL (32 characters or more), -EFAULT (@name NULL), -EBADF, -ENOTTY.
 */
DMABUF_API int dmabuf_fd_buf_set_name(int fd, const char *name);

/**
 * dmabuf_fd_buf_export_sync_file() - a sync_file of a dma-buf's current fences
 * (DMA_BUF_IOCTL_EXPORT_SYNC_FILE).
 * @fd: a dma-buf.
 * @flags: DMABUF_FD_SYNC_READ (the fences a reader waits for: writers), _WRITE or _RW (all).
 *
 * The result is a snapshot; with no fences it holds a signaled stub fence.  The new
 * descriptor is read-only and close-on-exec.  Checked before the backend: @fd negative →
 * -EBADF.
 *
 * Return: the sync_file descriptor, or -EINVAL (@flags 0 or with other bits), -EBADF,
 * -ENOTTY, -ENOMEM.
 */
DMABUF_API int dmabuf_fd_buf_export_sync_file(int fd, unsigned int flags);

/**
 * dmabuf_fd_buf_import_sync_file() - add a sync_file's fence to a dma-buf
 * (DMA_BUF_IOCTL_IMPORT_SYNC_FILE).
 * @fd: a dma-buf.
 * @flags: DMABUF_FD_SYNC_READ (add as a reader), _WRITE or _RW (add as a writer).
 * @sync_fd: the sync_file.
 *
 * Checked before the backend: @fd negative → -EBADF.
 *
 * Return: 0, or -EINVAL (bad @flags; @sync_fd not a sync_file, closed or negative), -EBADF,
 * -ENOTTY, -ENOMEM.
 */
DMABUF_API int dmabuf_fd_buf_import_sync_file(int fd, unsigned int flags, int sync_fd);

/**
 * dmabuf_fd_buf_map_info() - how CPU mappings of a dma-buf behave (DMA_BUF_IOCTL_INFO,
 * parameter DMA_BUF_INFO_MAP_INFO: a proposal, not in upstream Linux).
 * @fd: a dma-buf.
 * @map_info: out: one of DMABUF_FD_MAP_*; untouched on error.
 *
 * Checked before the backend: @map_info NULL → -EFAULT; @fd negative → -EBADF.
 *
 * The broker answers it (libdmabuf's addition): the system heap's and udmabuf's buffers are
 * DMABUF_FD_MAP_COHERENT_CACHED.
 *
 * Return: 0, or -ENOTTY (a kernel without the proposal: every upstream kernel; a descriptor
 * that is not a dma-buf), -EBADF.
 */
DMABUF_API int dmabuf_fd_buf_map_info(int fd, uint64_t *map_info);

/**
 * dmabuf_fd_buf_wait() - implicit sync: wait until a dma-buf may be accessed (poll).
 * @fd: a dma-buf.
 * @flags: DMABUF_FD_SYNC_READ: until its writers' fences signaled (POLLIN);
 *	DMABUF_FD_SYNC_WRITE or _RW: until all its fences signaled (POLLOUT).
 * @timeout_ns: nanoseconds; negative waits forever, 0 only tests.
 *
 * Checked before the backend: @flags 0 or with other bits → -EINVAL; @fd negative → -EBADF.
 * As with poll(), a descriptor that is not a dma-buf reports whatever its own poll says.
 *
 * Return: 0 ready, -ETIME timed out, -EBADF (@fd not open), -EINVAL (the descriptor reports
 * an error condition instead), -ENOMEM.
 */
DMABUF_API int dmabuf_fd_buf_wait(int fd, unsigned int flags, int64_t timeout_ns);

/**
 * dmabuf_fd_buf_mmap() - map a dma-buf into memory, as mmap(2) does.
 * @fd: a dma-buf.
 * @addr: as for mmap(): a hint, or the place with MAP_FIXED / MAP_FIXED_NOREPLACE.
 * @len: bytes to map (whole pages are mapped).
 * @prot: PROT_* as for mmap().
 * @flags: MAP_SHARED (or MAP_SHARED_VALIDATE) or MAP_PRIVATE, plus other MAP_* flags.
 * @offset: page-aligned offset in the buffer.
 * @map: out: the address of the mapping; untouched on error.  Release it with
 *	dmabuf_fd_buf_munmap(): after a plain munmap() the library still holds its record of
 *	the range (the CPU view of an incoherent buffer stays, and the coherency checker and a
 *	fork() would act on whatever is mapped there later).
 *
 * The kernel backend calls mmap() itself.  The broker backend maps a heap buffer's
 * descriptor, and a udmabuf's memfd ranges one after another in one area (so the mapping
 * aliases the memfds' pages as the kernel's does), with the kernel's checks: the range must
 * lie within the buffer, MAP_PRIVATE is refused for a udmabuf and allowed for a single page of
 * a heap buffer, a shared writable mapping needs a descriptor open for writing and every
 * mapping one open for reading.  A descriptor that is not a dma-buf is mapped by mmap().
 * Checked before the backend: @map NULL → -EFAULT.
 *
 * Return: 0, or -errno as mmap() fails: -EINVAL (@len 0, @offset unaligned, the range past
 * the buffer's end, a refused private mapping), -EBADF, -EACCES (access mode), -ENOMEM (also:
 * on the broker, a udmabuf over more than 250 distinct memfds, which one reply cannot carry).
 */
DMABUF_API int dmabuf_fd_buf_mmap(int fd, void *addr, size_t len, int prot, int flags,
				  uint64_t offset, void **map);

/**
 * dmabuf_fd_buf_munmap() - unmap [@addr, +@len), as munmap(2) does, and forget what the
 * library recorded of the dma-buf mappings in that range.
 * @addr: page-aligned start.
 * @len: bytes (whole pages are unmapped).
 *
 * Use it for mappings made with dmabuf_fd_buf_mmap(): an incoherent buffer's mapping is this
 * process's CPU view of it, which goes with the last mapping (and the last open access), and
 * the coherency checker (DMABUF_CHECK_COHERENCY) watches the ranges it knows of.
 *
 * Return: 0, or -EINVAL as munmap() fails.
 */
DMABUF_API int dmabuf_fd_buf_munmap(void *addr, size_t len);

/* ---- sync_files ---- */

/**
 * dmabuf_fd_sync_merge() - a new sync_file with the fences of two (SYNC_IOC_MERGE).
 * @name: name of the result (NULL means ""), truncated to 31 characters; "" gives the name
 *	derived from the resulting fence.
 * @fd1: a sync_file.
 * @fd2: a sync_file.
 *
 * Signaled fences are dropped and one fence per timeline (the later) kept; nothing left gives
 * a signaled stub.  The new descriptor is read-only and close-on-exec.  Checked before the
 * backend: @fd1 negative → -EBADF.
 *
 * Return: the sync_file descriptor, or -EBADF (@fd1 not open), -ENOTTY (@fd1 not a
 * sync_file), -ENOENT (@fd2 not a sync_file), -ENOMEM.
 */
DMABUF_API int dmabuf_fd_sync_merge(const char *name, int fd1, int fd2);

/**
 * dmabuf_fd_sync_file_info() - the raw SYNC_IOC_FILE_INFO call (the two-call pattern).
 * @fd: a sync_file.
 * @info: in/out: see struct dmabuf_fd_sync_file_info.
 *
 * First call with @num_fences 0: it reports the number of fences and an aggregate status.
 * Then call with an array of that many entries: it fills the array, and @status becomes 1 or
 * the status of the first fence that is pending or failed.  Checked before the backend: @fd
 * negative → -EBADF.
 *
 * Return: 0, or -EINVAL (@flags or @pad non-zero; @num_fences non-zero and smaller than the
 * number of fences), -EFAULT (@info NULL, the array unwritable), -EBADF, -ENOTTY.
 */
DMABUF_API int dmabuf_fd_sync_file_info(int fd, struct dmabuf_fd_sync_file_info *info);

/**
 * dmabuf_fd_sync_info() - a sync_file's name, status and fences in one allocated struct.
 * @fd: a sync_file.
 * @info: out: the result, to be released with dmabuf_fd_sync_info_free(); untouched on error.
 *
 * Makes both FILE_INFO calls.  Checked before the backend: @info NULL → -EFAULT; @fd
 * negative → -EBADF.
 *
 * Return: 0, or the errors of dmabuf_fd_sync_file_info(), -ENOMEM.
 */
DMABUF_API int dmabuf_fd_sync_info(int fd, struct dmabuf_fd_sync_info **info);

/**
 * dmabuf_fd_sync_info_free() - release what dmabuf_fd_sync_info() returned.
 * @info: the struct; NULL is a no-op.
 */
DMABUF_API void dmabuf_fd_sync_info_free(struct dmabuf_fd_sync_info *info);

/**
 * dmabuf_fd_sync_wait() - wait until a sync_file signaled (poll for POLLIN).
 * @fd: a sync_file.
 * @timeout_ns: nanoseconds; negative waits forever, 0 only tests.
 *
 * A fence that signaled with an error counts as signaled (its status tells the error).
 * Checked before the backend: @fd negative → -EBADF.
 *
 * Return: 0 signaled, -ETIME timed out, -EBADF (@fd not open), -EINVAL (the descriptor
 * reports an error condition), -ENOMEM.
 */
DMABUF_API int dmabuf_fd_sync_wait(int fd, int64_t timeout_ns);

/**
 * dmabuf_fd_sync_set_deadline() - hint when a sync_file's fences should signal
 * (SYNC_IOC_SET_DEADLINE).
 * @fd: a sync_file.
 * @deadline_ns: CLOCK_MONOTONIC time.
 *
 * Reaches every fence of a merged file; ignored by signaled fences.  Checked before the
 * backend: @fd negative → -EBADF.
 *
 * Return: 0, or -EBADF, -ENOTTY (@fd not a sync_file).
 */
DMABUF_API int dmabuf_fd_sync_set_deadline(int fd, uint64_t deadline_ns);

/* ---- sw_sync timelines (a test driver: fences that userspace signals) ---- */

/**
 * dmabuf_fd_sw_timeline_create() - a new sw_sync timeline at value 0 (open of sw_sync).
 * @fd_flags: 0 or O_CLOEXEC.
 *
 * Closing its last descriptor signals its pending fences with -ENOENT.  Checked before the
 * backend: other @fd_flags → -EINVAL.
 *
 * Return: the timeline descriptor, or the error of opening the driver (-ENOENT: no sw_sync).
 */
DMABUF_API int dmabuf_fd_sw_timeline_create(unsigned int fd_flags);

/**
 * dmabuf_fd_sw_fence_create() - a sync_file for point @value of a timeline
 * (SW_SYNC_IOC_CREATE_FENCE).
 * @tl: a timeline.
 * @value: the point; already passed (32-bit wrap-around) → born signaled.
 * @name: ignored by the driver; may be NULL.
 *
 * Checked before the backend: @tl negative → -EBADF.
 *
 * Return: the sync_file descriptor (close-on-exec), or -EBADF, -ENOTTY (@tl not a timeline),
 * -ENOMEM.
 */
DMABUF_API int dmabuf_fd_sw_fence_create(int tl, uint32_t value, const char *name);

/**
 * dmabuf_fd_sw_timeline_inc() - advance a timeline and signal the points it passes
 * (SW_SYNC_IOC_INC).
 * @tl: a timeline.
 * @count: how far.
 *
 * Checked before the backend: @tl negative → -EBADF.
 *
 * Return: 0, or -EBADF, -ENOTTY (@tl not a timeline).
 */
DMABUF_API int dmabuf_fd_sw_timeline_inc(int tl, uint32_t count);

/**
 * dmabuf_fd_sw_get_deadline() - the deadline set on a sw_sync fence (SW_SYNC_GET_DEADLINE).
 * @tl: any sw_sync timeline (the driver answers on a timeline descriptor; the fence may
 *	belong to another timeline).
 * @fence_fd: a sync_file holding one sw_sync fence.
 * @deadline_ns: out: the earliest deadline set; untouched on error.
 *
 * Checked before the backend: @deadline_ns NULL → -EFAULT; @tl negative → -EBADF.
 *
 * Return: 0, or -ENOENT (no deadline set), -EINVAL (@fence_fd is not a sync_file of one
 * sw_sync fence: a stub, a merged file, a timeline, -1), -EBADF, -ENOTTY (@tl not a timeline).
 */
DMABUF_API int dmabuf_fd_sw_get_deadline(int tl, int fence_fd, uint64_t *deadline_ns);

DMABUF_END_DECLS

#endif /* DMABUF_FD_H */

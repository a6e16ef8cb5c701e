/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/swdev.h - a software device: a queue that runs CPU jobs asynchronously on dma-bufs,
 * the way a GPU's queue runs its jobs.
 *
 * A job names dma-bufs with the access it needs (read, write or both) and explicit input
 * fences (sync_files).  At submission the queue does what a GPU driver does: it takes the
 * buffers' implicit fences for that access (DMA_BUF_IOCTL_EXPORT_SYNC_FILE: a reader waits for
 * the writers, a writer for everybody), makes the job's own fence (a point on the device's
 * sw_sync timeline) and adds it to every buffer (DMA_BUF_IOCTL_IMPORT_SYNC_FILE: a write fence
 * for a writing job, a read fence otherwise), and returns it as a sync_file.  A worker thread
 * runs the jobs in submission order: it waits for the input and implicit fences, runs the job's
 * function on the buffers as the device sees them (the buffer's memory itself, not a CPU view:
 * an incoherent buffer's device view; no SYNC brackets, a device does not make any), and
 * signals the job's fence when the function returns.
 *
 * Works on either fd-level backend (dmabuf/fd.h).  The device view is mapped with the mmap
 * system call itself, not mmap(): it is no CPU mapping of the library's (no CPU view, nothing
 * for the coherency checker or the preload library to watch).
 *  - "broker": a heap buffer's descriptor is its memory, for an `incoherent` buffer the device
 *    view; a udmabuf's pages are its memfds' ranges (what the broker says where they are).
 *  - "kernel": a userspace device is a CPU agent: its view is a mapping of the dma-buf made by
 *    the kernel's exporter, coherent with the process's own mappings.  The job makes no SYNC
 *    brackets: their START would wait for the job's own fence (and for later jobs' fences
 *    on the buffer).  On a machine whose devices do not snoop the CPU caches, a real device
 *    reading after a job may miss the cache maintenance an END would have made.
 *
 * A device belongs to the process that made it (a fork child has no worker: it must not use
 * it).  Reference: dmabuf_swdev(3).
 */
#ifndef DMABUF_SWDEV_H
#define DMABUF_SWDEV_H

#include <dmabuf/api.h>

#include <stdint.h>

DMABUF_BEGIN_DECLS

/* A device (opaque): made by dmabuf_swdev_create(), freed by dmabuf_swdev_destroy(). */
struct dmabuf_swdev;

/* Access of a job to a buffer. */
#define DMABUF_SWDEV_READ	1U
#define DMABUF_SWDEV_WRITE	2U
#define DMABUF_SWDEV_RW		3U

/**
 * struct dmabuf_swdev_buf - one buffer of a job.
 * @fd: a dma-buf; the queue keeps its own descriptor until the job is done (the function
 *	gets that one: valid while it runs).
 * @access: DMABUF_SWDEV_READ, _WRITE or _RW.
 * @map: set for the job's function: the whole buffer as the device sees it; read-only for
 *	a READ access (a write there faults, as a read-only device mapping would).
 * @size: set for the job's function: the buffer's size in bytes.
 */
struct dmabuf_swdev_buf {
	int fd;
	unsigned int access;
	void *map;
	uint64_t size;
};

/**
 * typedef dmabuf_swdev_fn - a job's work, run on the device's worker thread.
 * @arg: the job's @arg.
 * @bufs: the job's buffers, mapped (@map, @size filled in); a copy owned by the queue.
 * @nbufs: their number.
 *
 * Jobs run one at a time, in submission order, on the device's worker thread (named after
 * the device; every asynchronous signal blocked).  The function may submit jobs, but must
 * not call dmabuf_swdev_wait_idle() or dmabuf_swdev_destroy() on its own device (they would
 * wait for it).  The job's fence signals when it returns.
 */
typedef void (*dmabuf_swdev_fn)(void *arg, struct dmabuf_swdev_buf *bufs, unsigned int nbufs);

/**
 * struct dmabuf_swdev_job - what dmabuf_swdev_submit() needs; copied at submission.
 * @bufs: the buffers (at most DMABUF_SWDEV_MAX_BUFS).
 * @nbufs: their number.
 * @in_fences: sync_files to wait for besides the buffers' implicit fences (dup'ed).  A
 *	fence that signals with an error counts as signaled: the job runs (a sw_sync fence,
 *	the job's own, cannot carry the error on).
 * @nin: their number (at most DMABUF_SWDEV_MAX_FENCES).
 * @fn: the work.
 * @arg: its argument.
 */
struct dmabuf_swdev_job {
	const struct dmabuf_swdev_buf *bufs;
	unsigned int nbufs;
	const int *in_fences;
	unsigned int nin;
	dmabuf_swdev_fn fn;
	void *arg;
};

/* The most buffers and input fences one job may have. */
#define DMABUF_SWDEV_MAX_BUFS	8
#define DMABUF_SWDEV_MAX_FENCES	8

/**
 * dmabuf_swdev_create() - start a device: a sw_sync timeline and a worker thread.
 * @name: the device's name, up to 31 characters.  The worker thread takes it as its name and
 *	opens the timeline, which the driver names after the thread: so the timeline's name
 *	(fence info's obj_name of the job fences) is @name cut to 15 characters.
 * @out: receives the device.
 * Returns 0, -EINVAL (NULL argument, @name of 32 characters or more), -ENOMEM, -EAGAIN (no
 * thread), or the error of creating the timeline (-ENOENT: no sw_sync; -ENOTCONN).
 */
DMABUF_API int dmabuf_swdev_create(const char *name, struct dmabuf_swdev **out);

/**
 * dmabuf_swdev_submit() - queue @job.
 * @dev: the device.
 * @job: the job.
 *
 * In this order: the buffers' implicit fences are taken (export: READ for a reading job,
 * WRITE for a writing one) and their device views mapped; the input fences are checked
 * (SYNC_IOC_FILE_INFO) and duplicated; the job's fence is made, point N of the device's
 * timeline for its Nth job; it is added to each buffer (import: WRITE for a writing job,
 * READ for a reading one); the job is queued.  Submissions to one device are serialized, so
 * the buffers get the job fences in point order.  Thread-safe, also from a job's function.
 *
 * Returns the job's fence as a new sync_file descriptor (close-on-exec; close it when done
 * with it; the job runs whether or not it is kept), or a negative errno: -EINVAL (@dev or @job
 * NULL, bad counts, access, no @fn, NULL arrays), -EBADF / -ENOTTY (a buffer or fence
 * descriptor that is not open / not a dma-buf or sync_file), -EACCES (the buffer's descriptor
 * is not open for reading, or for reading and writing for a writing job: a userspace device
 * has only its rights), -EMFILE, -ENOMEM, -ENOTCONN (broker).  On error nothing was queued and
 * no buffer got a fence, except when adding the fence failed on a buffer after it was added
 * to others (-ENOMEM, -ENOTCONN): then the job is queued without running its function, so
 * that its fence still signals in turn, and the error is returned.
 */
DMABUF_API int dmabuf_swdev_submit(struct dmabuf_swdev *dev, const struct dmabuf_swdev_job *job);

/**
 * dmabuf_swdev_wait_idle() - wait until every job submitted so far has run and its fence
 * signaled.
 * @dev: the device; NULL is a no-op.
 */
DMABUF_API void dmabuf_swdev_wait_idle(struct dmabuf_swdev *dev);

/**
 * dmabuf_swdev_destroy() - run what is queued, stop the worker, free the device.
 * @dev: the device; NULL is a no-op.
 *
 * Every queued job runs (waiting for its fences) and signals before the timeline is closed.
 * No submission may run or follow.
 */
DMABUF_API void dmabuf_swdev_destroy(struct dmabuf_swdev *dev);

DMABUF_END_DECLS

#endif /* DMABUF_SWDEV_H */

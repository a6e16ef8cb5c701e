/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/libsync.h - Android libsync's functions, on top of libdmabuf's fd-level API.
 *
 * The signatures and results of AOSP's libsync (<android/sync.h> and its sw_sync.h), so code
 * written for it builds and links against libdmabuf.  The calls go through the process's
 * fd-level backend (see <dmabuf/fd.h>): the kernel's drivers or dmabufd.  Unlike the rest of
 * libdmabuf these functions report errors the libc way: -1 (or NULL) with errno set.
 *
 * The structures are the kernel's (<linux/sync_file.h>), as in libsync.
 */
#ifndef DMABUF_LIBSYNC_H
#define DMABUF_LIBSYNC_H

#include <dmabuf/api.h>

#include <stdint.h>
#include <linux/sync_file.h>

DMABUF_BEGIN_DECLS

/**
 * sync_wait() - wait until a sync_file signaled.
 * @fd: a sync_file.
 * @timeout: milliseconds; negative waits forever, 0 only tests.
 *
 * A fence that signaled with an error counts as signaled.
 *
 * Return: 0 signaled; -1 with errno ETIME (timed out), EINVAL (@fd negative or not open, or
 * it reports an error condition), or another poll() error.
 */
DMABUF_API int sync_wait(int fd, int timeout);

/**
 * sync_merge() - a new sync_file with the fences of @fd1 and @fd2 (SYNC_IOC_MERGE).
 * @name: name of the result, truncated to 31 characters.
 * @fd1: a sync_file.
 * @fd2: a sync_file.
 *
 * Return: the new descriptor (close-on-exec); -1 with errno EBADF (@fd1 not open), ENOTTY
 * (@fd1 not a sync_file), ENOENT (@fd2 not a sync_file), ENOMEM.
 */
DMABUF_API int32_t sync_merge(const char *name, int32_t fd1, int32_t fd2);

/**
 * sync_file_info() - a sync_file's name, status and fences, in one allocated struct.
 * @fd: a sync_file.
 *
 * The fences are at sync_get_fence_info(result), info->num_fences of them; info->status is
 * that of the full SYNC_IOC_FILE_INFO call (1 when all signaled, else the status of the first
 * fence that is pending or failed).
 *
 * Return: the struct, to be released with sync_file_info_free(); NULL with errno EBADF,
 * ENOTTY (@fd not a sync_file) or ENOMEM.
 */
DMABUF_API struct sync_file_info *sync_file_info(int32_t fd);

/**
 * sync_get_fence_info() - the fence array of a sync_file_info() result.
 * @info: a result of sync_file_info().
 *
 * Return: info->num_fences entries, owned by @info.
 */
static inline struct sync_fence_info *sync_get_fence_info(const struct sync_file_info *info)
{
	return (struct sync_fence_info *)(uintptr_t)info->sync_fence_info;
}

/**
 * sync_file_info_free() - release a sync_file_info() result.
 * @info: the struct; NULL is a no-op.
 */
DMABUF_API void sync_file_info_free(struct sync_file_info *info);

/**
 * sw_sync_timeline_create() - a new sw_sync timeline at value 0.
 *
 * Return: its descriptor (not close-on-exec, as libsync's); -1 with errno (ENOENT: no sw_sync).
 */
DMABUF_API int sw_sync_timeline_create(void);

/**
 * sw_sync_timeline_inc() - advance a timeline by @count and signal what it passes.
 * @fd: a timeline.
 * @count: how far.
 *
 * Return: 0; -1 with errno EBADF or ENOTTY (@fd not a timeline).
 */
DMABUF_API int sw_sync_timeline_inc(int fd, unsigned count);

/**
 * sw_sync_fence_create() - a sync_file for point @value of a timeline.
 * @fd: a timeline.
 * @name: ignored by the driver (may be NULL here).
 * @value: the point; already passed → born signaled.
 *
 * Return: the sync_file descriptor; -1 with errno EBADF, ENOTTY (@fd not a timeline), ENOMEM.
 */
DMABUF_API int sw_sync_fence_create(int fd, const char *name, unsigned value);

DMABUF_END_DECLS

#endif /* DMABUF_LIBSYNC_H */

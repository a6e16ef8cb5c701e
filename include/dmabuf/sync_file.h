/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/sync_file.h - the sync_file: a named, shareable handle on one fence.
 *
 * A sync_file is what a sync_file fd refers to: an optional user-chosen name
 * and exactly one fence (which may be a container such as a fence array or
 * chain).  It is reference counted; the fence it holds never changes.  The
 * functions below implement the rules of the sync_file uAPI (SYNC_IOC_MERGE,
 * SYNC_IOC_FILE_INFO, SYNC_IOC_SET_DEADLINE, poll) as Linux 6.12 does, so an
 * fd layer can map ioctls onto them without adding semantics.  What is left
 * to that layer: resolving fds (EBADF, ENOTTY, ENOENT on the second merge
 * fd), copying structures in and out (EFAULT), and checking the flags/pad
 * words of struct sync_merge_data and struct sync_set_deadline (EINVAL;
 * dmabuf_sync_file_merge_check() does the former).
 */
#ifndef DMABUF_SYNC_FILE_H
#define DMABUF_SYNC_FILE_H

#include <dmabuf/api.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dmabuf/fence.h>

DMABUF_BEGIN_DECLS

/** Size of every name buffer of the uAPI (31 characters and a NUL). */
#define DMABUF_SYNC_NAME_LEN 32

struct dmabuf_sync_file;

/**
 * struct dmabuf_sync_fence_info - one fence as SYNC_IOC_FILE_INFO reports it
 * (same layout and meaning as the uAPI's struct sync_fence_info).
 * @obj_name: the fence's timeline name.
 * @driver_name: the fence's driver name.
 * @status: 1 signaled, 0 pending, negative error if signaled with one.
 * @flags: always 0.
 * @timestamp_ns: CLOCK_MONOTONIC signal time; 0 while pending.
 */
struct dmabuf_sync_fence_info {
	char obj_name[DMABUF_SYNC_NAME_LEN];
	char driver_name[DMABUF_SYNC_NAME_LEN];
	int32_t status;
	uint32_t flags;
	uint64_t timestamp_ns;
};

/**
 * struct dmabuf_sync_file_info - the SYNC_IOC_FILE_INFO argument (same
 * layout and meaning as the uAPI's struct sync_file_info).
 * @name: out: the sync_file's name (see dmabuf_sync_file_get_name()).
 * @status: out: see dmabuf_sync_file_get_info().
 * @flags: in: must be 0.
 * @num_fences: in: capacity of the fence array (0: only count); out: count.
 * @pad: in: must be 0.
 * @sync_fence_info: the user pointer of the fence array; left untouched
 *	here (the fd layer copies to it).
 */
struct dmabuf_sync_file_info {
	char name[DMABUF_SYNC_NAME_LEN];
	int32_t status;
	uint32_t flags;
	uint32_t num_fences;
	uint32_t pad;
	uint64_t sync_fence_info;
};

/**
 * dmabuf_sync_file_create() - wrap @fence in a new, unnamed sync_file.
 * @fence: the fence; the sync_file takes its own reference.
 * @out: receives the sync_file (one reference).
 * Returns 0, -EINVAL if @fence or @out is NULL, -ENOMEM.
 */
DMABUF_API int dmabuf_sync_file_create(struct dmabuf_fence *fence,
				       struct dmabuf_sync_file **out);

/** dmabuf_sync_file_get() - take a reference; returns @sf (NULL passes through). */
DMABUF_API struct dmabuf_sync_file *dmabuf_sync_file_get(struct dmabuf_sync_file *sf);

/**
 * dmabuf_sync_file_put() - drop a reference; the last one drops the
 * sync_file's fence reference and frees it.  NULL is a no-op.
 */
DMABUF_API void dmabuf_sync_file_put(struct dmabuf_sync_file *sf);

/**
 * dmabuf_sync_file_get_fence() - the sync_file's fence, as a new reference
 * the caller must put.  NULL if @sf is NULL.
 */
DMABUF_API struct dmabuf_fence *dmabuf_sync_file_get_fence(struct dmabuf_sync_file *sf);

/**
 * dmabuf_sync_file_get_name() - the name SYNC_IOC_FILE_INFO reports.
 * @sf: the sync_file.
 * @buf: destination, always NUL-terminated when @len > 0 (truncated to fit).
 * @len: size of @buf; DMABUF_SYNC_NAME_LEN for the uAPI.
 * The user name given at merge time if it is not empty, otherwise
 * "<driver>-<timeline><context>-<seqno>" of the fence (e.g.
 * "sw_sync-test2-1", "stub-stub0-0").
 */
DMABUF_API void dmabuf_sync_file_get_name(struct dmabuf_sync_file *sf,
					  char *buf, size_t len);

/**
 * dmabuf_sync_file_merge_check() - SYNC_IOC_MERGE's argument check, for the
 * layer that parses struct sync_merge_data: its @flags and @pad words must
 * be 0.  Returns 0 or -EINVAL.  The kernel checks this before it looks at
 * the second fd.
 */
DMABUF_API int dmabuf_sync_file_merge_check(uint32_t flags, uint32_t pad);

/**
 * dmabuf_sync_file_merge() - SYNC_IOC_MERGE: a new sync_file waiting for
 * both @a and @b.
 * @name: the new sync_file's name; only its first 31 characters are kept.
 *	An empty name makes it unnamed (named after its fence).
 * @a, @b: the sync_files to merge (may be the same one).
 * @out: receives the new sync_file (one reference).
 * The fences are unwrapped and merged with dmabuf_fence_merge(): one fence
 * per timeline (the later), already signaled fences dropped, ordered by
 * context; a lone survivor is used directly, several go into a fence array,
 * none gives a signaled stub carrying the latest timestamp.
 * Returns 0, -EINVAL on NULL arguments, -ENOMEM (nothing changes then).
 */
DMABUF_API int dmabuf_sync_file_merge(const char *name,
				      struct dmabuf_sync_file *a,
				      struct dmabuf_sync_file *b,
				      struct dmabuf_sync_file **out);

/**
 * dmabuf_sync_file_get_info() - SYNC_IOC_FILE_INFO.
 * @sf: the sync_file.
 * @info: in/out, as the uAPI's struct sync_file_info.
 * @fences: the caller's array of @info->num_fences entries (may be NULL
 *	when @info->num_fences is 0).
 *
 * The fences reported are the sync_file's fence unwrapped (arrays and chains
 * expanded to their leaves).  If @info->flags or @info->pad is nonzero:
 * -EINVAL.  If @info->num_fences is 0: fills @info->name, sets
 * @info->num_fences to the count and @info->status to the status of the
 * sync_file's fence itself (1 / 0 / error).  Otherwise, if
 * @info->num_fences is below the count: -EINVAL; if @fences is NULL:
 * -EFAULT; else fills @fences[0..count-1] (timeline and driver name,
 * status, flags 0, timestamp or 0 while pending), the name and the count,
 * and sets @info->status to 1 unless a fence is pending or failed, in which
 * case it is the status (0 or the error) of the first such fence in array
 * order.  @info->sync_fence_info is never changed.  On error nothing is
 * written.  Returns 0, -EINVAL (also for a NULL @sf), -EFAULT (also for a
 * NULL @info).
 */
DMABUF_API int dmabuf_sync_file_get_info(struct dmabuf_sync_file *sf,
					 struct dmabuf_sync_file_info *info,
					 struct dmabuf_sync_fence_info *fences);

/**
 * dmabuf_sync_file_status() - status of the sync_file's fence: 1 signaled,
 * 0 pending, the negative error if it signaled with one; -EINVAL if @sf is
 * NULL.
 */
DMABUF_API int dmabuf_sync_file_status(struct dmabuf_sync_file *sf);

/**
 * dmabuf_sync_file_wait() - wait for the sync_file's fence.
 * @timeout_ns: relative; 0 only tests; negative waits forever.
 * Returns 0 once signaled (with or without error), -ETIME on timeout,
 * -EINVAL if @sf is NULL.
 */
DMABUF_API int dmabuf_sync_file_wait(struct dmabuf_sync_file *sf,
				     int64_t timeout_ns);

/**
 * dmabuf_sync_file_poll() - POLLIN readiness: true once the fence has
 * signaled (also with an error; there is no POLLERR).  Like the kernel's
 * first poll, this enables signaling on the fence.  False for NULL.
 */
DMABUF_API bool dmabuf_sync_file_poll(struct dmabuf_sync_file *sf);

/**
 * dmabuf_sync_file_set_deadline() - SYNC_IOC_SET_DEADLINE: hint that the
 * fence should signal by @deadline_ns (CLOCK_MONOTONIC); forwarded to every
 * pending leaf of the unwrapped fence.  (The struct's pad word is checked
 * by the ioctl layer.)  Returns 0, -EINVAL if @sf is NULL.
 */
DMABUF_API int dmabuf_sync_file_set_deadline(struct dmabuf_sync_file *sf,
					     int64_t deadline_ns);

DMABUF_END_DECLS

#endif /* DMABUF_SYNC_FILE_H */

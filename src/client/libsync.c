// SPDX-License-Identifier: MIT
/* libsync.c - Android libsync's functions (include/dmabuf/libsync.h) over the fd-level API. */
#include <errno.h>
#include <string.h>

#include <dmabuf/fd.h>
#include <dmabuf/libsync.h>

#include "../core/internal.h"

_Static_assert(sizeof(struct sync_fence_info) == sizeof(struct dmabuf_fd_fence_info),
	       "the fd API's fence info has the uAPI layout");
_Static_assert(sizeof(struct sync_file_info) == sizeof(struct dmabuf_fd_sync_file_info),
	       "the fd API's file info has the uAPI layout");

/* 0 or -errno → 0 or -1 with errno; a descriptor passes through */
static int libc_ret(int ret)
{
	if (ret >= 0)
		return ret;
	errno = -ret;
	return -1;
}

int sync_wait(int fd, int timeout)
{
	int ret;

	if (fd < 0) {
		errno = EINVAL;
		return -1;
	}
	ret = dmabuf_fd_sync_wait(fd, timeout < 0 ? -1 : (int64_t)timeout * 1000000);
	/* libsync reports a descriptor poll() calls invalid as EINVAL */
	if (ret == -EBADF)
		ret = -EINVAL;
	return libc_ret(ret);
}

int32_t sync_merge(const char *name, int32_t fd1, int32_t fd2)
{
	return libc_ret(dmabuf_fd_sync_merge(name, fd1, fd2));
}

struct sync_file_info *sync_file_info(int32_t fd)
{
	struct dmabuf_fd_sync_file_info raw = { 0 };
	struct sync_file_info *info;
	int ret;

	ret = dmabuf_fd_sync_file_info(fd, &raw);
	if (ret)
		goto fail;
	info = dmabuf_calloc(1, sizeof(*info) + raw.num_fences * sizeof(struct sync_fence_info));
	if (!info) {
		ret = -ENOMEM;
		goto fail;
	}
	raw.sync_fence_info = (uint64_t)(uintptr_t)(info + 1);
	ret = dmabuf_fd_sync_file_info(fd, &raw);
	if (ret) {
		dmabuf_free(info);
		goto fail;
	}
	memcpy(info->name, raw.name, sizeof(info->name));
	info->status = raw.status;
	info->flags = raw.flags;
	info->num_fences = raw.num_fences;
	info->sync_fence_info = raw.sync_fence_info;
	return info;
fail:
	errno = -ret;
	return NULL;
}

void sync_file_info_free(struct sync_file_info *info)
{
	dmabuf_free(info);
}

int sw_sync_timeline_create(void)
{
	return libc_ret(dmabuf_fd_sw_timeline_create(0));
}

int sw_sync_timeline_inc(int fd, unsigned count)
{
	return libc_ret(dmabuf_fd_sw_timeline_inc(fd, count));
}

int sw_sync_fence_create(int fd, const char *name, unsigned value)
{
	return libc_ret(dmabuf_fd_sw_fence_create(fd, value, name));
}

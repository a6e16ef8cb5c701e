// SPDX-License-Identifier: MIT
/*
 * broker.c - the dmabufd backend of the fd-level API.
 *
 * dmabufd does not exist yet (issue B1): every op fails with -ENOSYS.  The broker's client
 * replaces these stubs; nothing else changes when it does.
 */
#include <errno.h>

#include "backend.h"

static int broker_heap_alloc(const char *heap, uint64_t len, unsigned int fd_flags,
			     uint64_t heap_flags)
{
	return -ENOSYS;
}

static int broker_udmabuf_create(int memfd, uint64_t offset, uint64_t size, unsigned int flags)
{
	return -ENOSYS;
}

static int broker_udmabuf_create_list(const struct dmabuf_fd_udmabuf_item *items,
				      unsigned int count, unsigned int flags)
{
	return -ENOSYS;
}

static int broker_buf_sync(int fd, uint64_t flags)
{
	return -ENOSYS;
}

static int broker_buf_set_name(int fd, const char *name)
{
	return -ENOSYS;
}

static int broker_buf_export_sync_file(int fd, unsigned int flags)
{
	return -ENOSYS;
}

static int broker_buf_import_sync_file(int fd, unsigned int flags, int sync_fd)
{
	return -ENOSYS;
}

static int broker_buf_map_info(int fd, uint64_t *map_info)
{
	return -ENOSYS;
}

static int broker_buf_wait(int fd, short events, int64_t timeout_ns)
{
	return -ENOSYS;
}

static int broker_sync_merge(const char *name, int fd1, int fd2)
{
	return -ENOSYS;
}

static int broker_sync_file_info(int fd, struct dmabuf_fd_sync_file_info *info)
{
	return -ENOSYS;
}

static int broker_sync_wait(int fd, int64_t timeout_ns)
{
	return -ENOSYS;
}

static int broker_sync_set_deadline(int fd, uint64_t deadline_ns)
{
	return -ENOSYS;
}

static int broker_sw_timeline_create(unsigned int fd_flags)
{
	return -ENOSYS;
}

static int broker_sw_fence_create(int tl, uint32_t value, const char *name)
{
	return -ENOSYS;
}

static int broker_sw_timeline_inc(int tl, uint32_t count)
{
	return -ENOSYS;
}

static int broker_sw_get_deadline(int tl, int fence_fd, uint64_t *deadline_ns)
{
	return -ENOSYS;
}

const struct dmabuf_fd_ops dmabuf_fd_broker_ops = {
	.name = "broker",
	.heap_alloc = broker_heap_alloc,
	.udmabuf_create = broker_udmabuf_create,
	.udmabuf_create_list = broker_udmabuf_create_list,
	.buf_sync = broker_buf_sync,
	.buf_set_name = broker_buf_set_name,
	.buf_export_sync_file = broker_buf_export_sync_file,
	.buf_import_sync_file = broker_buf_import_sync_file,
	.buf_map_info = broker_buf_map_info,
	.buf_wait = broker_buf_wait,
	.sync_merge = broker_sync_merge,
	.sync_file_info = broker_sync_file_info,
	.sync_wait = broker_sync_wait,
	.sync_set_deadline = broker_sync_set_deadline,
	.sw_timeline_create = broker_sw_timeline_create,
	.sw_fence_create = broker_sw_fence_create,
	.sw_timeline_inc = broker_sw_timeline_inc,
	.sw_get_deadline = broker_sw_get_deadline,
};

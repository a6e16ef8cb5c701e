// SPDX-License-Identifier: MIT
/*
 * fd.c - the fd-level API (include/dmabuf/fd.h): checks that do not depend on the backend,
 * then one call into the process's backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <dmabuf/fd.h>

#include "backend.h"
#include "check.h"
#include "maps.h"
#include "trace.h"
#include "../core/internal.h"

/* the process's backend */
static inline const struct dmabuf_fd_ops *ops(void)
{
	return dmabuf_fd_backend();
}

/*
 * Whether to record the uAPI calls of this library (trace.h): not when they go to the kernel
 * backend under the preload library, whose own copy records them as they reach it.
 */
static bool trace_calls(void)
{
	return dmabuf_trace_on() && !(dmabuf_trace_preloaded && ops() == &dmabuf_fd_kernel_ops);
}

const char *dmabuf_fd_backend_name(void)
{
	return ops()->name;
}

/* A heap name is one path component of /dev/dma_heap: 0, or the error of opening it. */
static int heap_name_check(const char *heap)
{
	if (!heap)
		return -EINVAL;
	if (!heap[0] || !strcmp(heap, ".") || !strcmp(heap, "..") || strchr(heap, '/'))
		return -ENOENT;
	return 0;
}

int dmabuf_fd_heap_alloc(const char *heap, uint64_t len, unsigned int fd_flags,
				    uint64_t heap_flags)
{
	int ret = heap_name_check(heap);

	if (ret)
		return ret;
	return ops()->heap_alloc(heap, len, fd_flags, heap_flags);
}

int dmabuf_fd_heap_open(const char *heap, unsigned int flags)
{
	int ret = heap_name_check(heap);

	if (ret)
		return ret;
	if (flags & ~(unsigned int)(O_ACCMODE | O_CLOEXEC))
		return -EINVAL;
	return ops()->heap_open(heap, flags);
}

int dmabuf_fd_heap_alloc_fd(int heap_fd, uint64_t len, unsigned int fd_flags,
			    uint64_t heap_flags)
{
	if (heap_fd < 0)
		return -EBADF;
	return ops()->heap_alloc_fd(heap_fd, len, fd_flags, heap_flags);
}

int dmabuf_fd_udmabuf_create(int memfd, uint64_t offset, uint64_t size,
					unsigned int flags)
{
	return ops()->udmabuf_create(memfd, offset, size, flags);
}

int dmabuf_fd_udmabuf_create_list(const struct dmabuf_fd_udmabuf_item *items,
					     unsigned int count, unsigned int flags)
{
	return ops()->udmabuf_create_list(items, count, flags);
}

/* The checker hears of a successful SYNC on @fd (fstat @st, or NULL: made here). */
static void check_synced(int fd, const struct stat *st, uint64_t flags)
{
	struct stat own;

	if (!st) {
		if (fstat(fd, &own))
			return;
		st = &own;
	}
	dmabuf_check_synced(fd, st, flags);
}

int dmabuf_fd_buf_sync(int fd, uint64_t flags)
{
	int ret;

	if (fd < 0)
		return -EBADF;
	ret = ops()->buf_sync(fd, flags);
	if (!ret && dmabuf_check_on())
		check_synced(fd, NULL, flags);
	if (!ret && trace_calls())
		dmabuf_trace_sync(fd, NULL, flags);
	return ret;
}

int dmabuf_fd_buf_sync_stat(int fd, const struct stat *st, uint64_t flags)
{
	int ret = broker_buf_sync_stat(fd, st, flags);

	if (!ret && dmabuf_check_on())
		check_synced(fd, st, flags);
	if (!ret && dmabuf_trace_on())
		dmabuf_trace_sync(fd, st, flags);
	return ret;
}

int dmabuf_fd_buf_set_name(int fd, const char *name)
{
	struct stat st;
	int ret;

	if (fd < 0)
		return -EBADF;
	ret = ops()->buf_set_name(fd, name);
	if (!ret && dmabuf_check_on() && !fstat(fd, &st))
		dmabuf_check_named(&st, name);
	return ret;
}

int dmabuf_fd_buf_export_sync_file(int fd, unsigned int flags)
{
	int ret;

	if (fd < 0)
		return -EBADF;
	ret = ops()->buf_export_sync_file(fd, flags);
	if (ret >= 0 && trace_calls())
		dmabuf_trace_export(fd, flags, ret);
	return ret;
}

int dmabuf_fd_buf_import_sync_file(int fd, unsigned int flags, int sync_fd)
{
	int ret;

	if (fd < 0)
		return -EBADF;
	ret = ops()->buf_import_sync_file(fd, flags, sync_fd);
	if (!ret && trace_calls())
		dmabuf_trace_import(fd, flags, sync_fd);
	return ret;
}

int dmabuf_fd_buf_map_info(int fd, uint64_t *map_info)
{
	if (!map_info)
		return -EFAULT;
	if (fd < 0)
		return -EBADF;
	return ops()->buf_map_info(fd, map_info);
}

/* dmabuf_fd_buf_wait() traced (the preload library never calls it: always recorded). */
static int buf_wait_traced(int fd, unsigned int flags, short events, int64_t timeout_ns)
{
	uint64_t id = dmabuf_trace_ino(fd);
	const char *rw = dmabuf_trace_rw(flags);
	int ret;

	dmabuf_trace_wait("wait_begin", "buf", id, rw, 0);
	ret = ops()->buf_wait(fd, events, timeout_ns);
	dmabuf_trace_wait("wait_end", "buf", id, rw, ret);
	return ret;
}

int dmabuf_fd_buf_wait(int fd, unsigned int flags, int64_t timeout_ns)
{
	/* a reader waits for the writers (POLLIN), a writer for everybody (POLLOUT) */
	short events = flags & DMABUF_FD_SYNC_WRITE ? POLLOUT : POLLIN;

	if (!flags || (flags & ~DMABUF_FD_SYNC_RW))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	if (dmabuf_trace_on())
		return buf_wait_traced(fd, flags, events, timeout_ns);
	return ops()->buf_wait(fd, events, timeout_ns);
}

int dmabuf_fd_buf_mmap(int fd, void *addr, size_t len, int prot, int flags, uint64_t offset,
		       void **map)
{
	if (!map)
		return -EFAULT;
	return ops()->buf_mmap(fd, addr, len, prot, flags, offset, map);
}

void dmabuf_fd_map_record(const struct stat *st, void *p, size_t len, int prot,
			  int flags, uint64_t offset)
{
	struct dmabuf_map m = {
		.start = (uintptr_t)p,
		.end = (uintptr_t)p + dmabuf_maps_page_len(len),
		.dev = st->st_dev,
		.ino = st->st_ino,
		.offset = offset,
		.prot = prot,
		.cur_prot = prot,
		.shared = (flags & MAP_TYPE) != MAP_PRIVATE,
	};

	dmabuf_maps_lock();
	if (dmabuf_check_on())
		dmabuf_check_mapped(&m);
	dmabuf_maps_add(&m);
	dmabuf_maps_unlock();
}

int dmabuf_fd_buf_munmap(void *addr, size_t len)
{
	return dmabuf_maps_munmap(addr, len) ? -errno : 0;
}

int dmabuf_fd_sync_merge(const char *name, int fd1, int fd2)
{
	if (fd1 < 0)
		return -EBADF;
	return ops()->sync_merge(name ? name : "", fd1, fd2);
}

int dmabuf_fd_sync_file_info(int fd, struct dmabuf_fd_sync_file_info *info)
{
	if (fd < 0)
		return -EBADF;
	return ops()->sync_file_info(fd, info);
}

int dmabuf_fd_sync_info(int fd, struct dmabuf_fd_sync_info **info)
{
	struct dmabuf_fd_sync_file_info raw = { 0 };
	struct dmabuf_fd_sync_info *res;
	const struct dmabuf_fd_ops *b;
	int ret;

	if (!info)
		return -EFAULT;
	if (fd < 0)
		return -EBADF;
	b = ops();
	ret = b->sync_file_info(fd, &raw);
	if (ret)
		return ret;
	res = dmabuf_calloc(1, sizeof(*res) + raw.num_fences * sizeof(res->fences[0]));
	if (!res)
		return -ENOMEM;
	/* a sync_file's fence never changes, so the count stays right */
	raw.sync_fence_info = (uint64_t)(uintptr_t)res->fences;
	ret = b->sync_file_info(fd, &raw);
	if (ret) {
		dmabuf_free(res);
		return ret;
	}
	memcpy(res->name, raw.name, sizeof(res->name));
	res->name[sizeof(res->name) - 1] = '\0';
	res->status = raw.status;
	res->num_fences = raw.num_fences;
	*info = res;
	return 0;
}

void dmabuf_fd_sync_info_free(struct dmabuf_fd_sync_info *info)
{
	dmabuf_free(info);
}

/* dmabuf_fd_sync_wait() traced, as dmabuf_fd_buf_wait(). */
static int sync_wait_traced(int fd, int64_t timeout_ns)
{
	uint64_t id = dmabuf_trace_ino(fd);
	int ret;

	dmabuf_trace_wait("wait_begin", "sf", id, "", 0);
	ret = ops()->sync_wait(fd, timeout_ns);
	dmabuf_trace_wait("wait_end", "sf", id, "", ret);
	return ret;
}

int dmabuf_fd_sync_wait(int fd, int64_t timeout_ns)
{
	if (fd < 0)
		return -EBADF;
	if (dmabuf_trace_on())
		return sync_wait_traced(fd, timeout_ns);
	return ops()->sync_wait(fd, timeout_ns);
}

int dmabuf_fd_sync_set_deadline(int fd, uint64_t deadline_ns)
{
	if (fd < 0)
		return -EBADF;
	return ops()->sync_set_deadline(fd, deadline_ns);
}

int dmabuf_fd_sw_timeline_create(unsigned int fd_flags)
{
	if (fd_flags & ~(unsigned int)O_CLOEXEC)
		return -EINVAL;
	return ops()->sw_timeline_create(fd_flags);
}

int dmabuf_fd_sw_fence_create(int tl, uint32_t value, const char *name)
{
	if (tl < 0)
		return -EBADF;
	return ops()->sw_fence_create(tl, value, name ? name : "");
}

int dmabuf_fd_sw_timeline_inc(int tl, uint32_t count)
{
	if (tl < 0)
		return -EBADF;
	return ops()->sw_timeline_inc(tl, count);
}

int dmabuf_fd_sw_get_deadline(int tl, int fence_fd, uint64_t *deadline_ns)
{
	if (!deadline_ns)
		return -EFAULT;
	if (tl < 0)
		return -EBADF;
	return ops()->sw_get_deadline(tl, fence_fd, deadline_ns);
}

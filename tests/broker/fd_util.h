/* SPDX-License-Identifier: MIT */
/*
 * fd_util.h - short forms of the fd-level API calls the broker tests make over and over.
 *
 * The "x" forms bail out (or, in a child process, exit 2) when a call that sets a test up
 * fails: what the test checks is asserted with the plain API calls.
 */
#ifndef DMABUF_TEST_FD_UTIL_H
#define DMABUF_TEST_FD_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dmabuf/fd.h>

#define RD DMABUF_FD_SYNC_READ
#define WR DMABUF_FD_SYNC_WRITE
#define RW DMABUF_FD_SYNC_RW
#define END DMABUF_FD_SYNC_END

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

/* The setup of a test failed: say so and end this process. */
static inline void __attribute__((noreturn, format(printf, 1, 2))) setup_failed(const char *fmt,
										   ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	_exit(2);
}

static inline void xclose(int fd)
{
	if (fd >= 0)
		close(fd);
}

static inline bool is_cloexec(int fd)
{
	return fcntl(fd, F_GETFD) & FD_CLOEXEC;
}

/* A heap buffer of @len bytes, O_RDWR plus @flags (O_CLOEXEC or 0). */
static inline int xbuf(uint64_t len, unsigned int flags)
{
	int fd = dmabuf_fd_heap_alloc("system", len, O_RDWR | flags, 0);

	if (fd < 0)
		setup_failed("heap alloc: %s", strerror(-fd));
	return fd;
}

static inline int xtimeline(unsigned int flags)
{
	int tl = dmabuf_fd_sw_timeline_create(flags);

	if (tl < 0)
		setup_failed("sw_sync timeline: %s", strerror(-tl));
	return tl;
}

static inline int xfence(int tl, uint32_t value)
{
	int f = dmabuf_fd_sw_fence_create(tl, value, "broker-test");

	if (f < 0)
		setup_failed("sw_sync fence: %s", strerror(-f));
	return f;
}

/* A shared read-write mapping of @len bytes of @fd, or NULL. */
static inline void *map_rw(int fd, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* What sync_info_field() reads from a sync_file's full FILE_INFO call. */
enum sync_info_what {
	INFO_STATUS,		/* the file's status */
	INFO_COUNT,		/* its number of fences */
	INFO_TIMESTAMP,		/* its first fence's signal time (0 while pending) */
};

/* One field of a sync_file's FILE_INFO, or the error. */
static inline int64_t sync_info_field(int fd, enum sync_info_what what)
{
	struct dmabuf_fd_sync_info *info;
	int64_t ret = dmabuf_fd_sync_info(fd, &info);

	if (ret)
		return ret;
	if (what == INFO_STATUS)
		ret = info->status;
	else if (what == INFO_COUNT)
		ret = info->num_fences;
	else
		ret = info->num_fences ? (int64_t)info->fences[0].timestamp_ns : 0;
	dmabuf_fd_sync_info_free(info);
	return ret;
}

static inline int fence_status(int fd)
{
	return (int)sync_info_field(fd, INFO_STATUS);
}

static inline int64_t fence_timestamp(int fd)
{
	return sync_info_field(fd, INFO_TIMESTAMP);
}

static inline int fence_count(int fd)
{
	return (int)sync_info_field(fd, INFO_COUNT);
}

#endif /* DMABUF_TEST_FD_UTIL_H */

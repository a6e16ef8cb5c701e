// SPDX-License-Identifier: MIT
/* backend.c - choosing the fd-level API's backend once per process, and a shared poll wait. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "../core/internal.h"

#define KERNEL_PROBE "/dev/dma_heap/system"

static pthread_once_t backend_once = PTHREAD_ONCE_INIT;
static const struct dmabuf_fd_ops *backend_ops;

/* The kernel offers dma-buf when its system heap can be opened by this process. */
static bool kernel_offers_dma_buf(void)
{
	int fd = open(KERNEL_PROBE, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void backend_choose(void)
{
	const char *env = getenv("LIBDMABUF_BACKEND");

	if (backend_ops)
		return;	/* chosen by dmabuf_fd_backend_force() */
	if (env && !strcmp(env, "kernel"))
		backend_ops = &dmabuf_fd_kernel_ops;
	else if (env && !strcmp(env, "broker"))
		backend_ops = &dmabuf_fd_broker_ops;
	else if (kernel_offers_dma_buf())
		backend_ops = &dmabuf_fd_kernel_ops;
	else
		backend_ops = &dmabuf_fd_broker_ops;
}

void dmabuf_fd_backend_force(const struct dmabuf_fd_ops *ops)
{
	backend_ops = ops;
}

const struct dmabuf_fd_ops *dmabuf_fd_backend(void)
{
	pthread_once(&backend_once, backend_choose);
	return backend_ops;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int dmabuf_fd_poll(int fd, short events, int64_t timeout_ns)
{
	int64_t deadline = dmabuf_deadline_from_timeout(timeout_ns);
	struct pollfd pfd = { .fd = fd, .events = events };
	struct timespec ts, *tsp;
	int64_t left;
	int ret;

	for (;;) {
		tsp = NULL;
		if (deadline >= 0) {
			left = deadline - mono_ns();
			if (left < 0)
				left = 0;
			ts.tv_sec = left / 1000000000LL;
			ts.tv_nsec = left % 1000000000LL;
			tsp = &ts;
		}
		pfd.revents = 0;
		ret = ppoll(&pfd, 1, tsp, NULL);
		if (ret > 0)
			break;
		if (ret == 0)
			return -ETIME;
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
	if (pfd.revents & POLLNVAL)
		return -EBADF;
	if (pfd.revents & events)
		return 0;
	return -EINVAL;
}

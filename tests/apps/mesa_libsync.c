// SPDX-License-Identifier: MIT
/* mesa_libsync.c - a Vulkan-WSI-style driver with Mesa-libsync-style helpers, on the raw uAPI. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/sync_file.h>
#include <linux/types.h>

#include "app_tap.h"

/* ---- uAPI the installed headers may lack (Linux 6.4+, and sw_sync's private ABI) ---- */
struct sync_set_deadline {
	__u64 deadline_ns;
	__u64 pad;
};
#define SYNC_IOC_SET_DEADLINE _IOW('>', 5, struct sync_set_deadline)

struct sw_sync_create_fence_data {
	__u32 value;
	char name[32];
	__s32 fence;
};
struct sw_sync_get_deadline {
	__u64 deadline_ns;
	__u32 pad;
	__s32 fence_fd;
};
#define SW_SYNC_IOC_CREATE_FENCE _IOWR('W', 0, struct sw_sync_create_fence_data)
#define SW_SYNC_IOC_INC _IOW('W', 1, __u32)
#define SW_SYNC_GET_DEADLINE _IOWR('W', 2, struct sw_sync_get_deadline)

/* ---- libsync.h-like inline helpers ---- */
static inline int sync_wait(int fd, int timeout)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do {
		r = poll(&p, 1, timeout);
		if (r > 0 && (p.revents & (POLLERR | POLLNVAL))) {
			errno = EINVAL;
			return -1;
		}
		if (r == 0) {
			errno = ETIME;
			return -1;
		}
	} while (r < 0 && (errno == EINTR || errno == EAGAIN));
	return r < 0 ? -1 : 0;
}

static inline int sync_merge(const char *name, int fd1, int fd2)
{
	struct sync_merge_data m = { .fd2 = fd2 };

	strncpy(m.name, name, sizeof(m.name) - 1);
	return ioctl(fd1, SYNC_IOC_MERGE, &m) < 0 ? -1 : m.fence;
}

/* merge @fd2 into the accumulator *@acc (which may be -1), replacing it */
static inline int sync_accumulate(const char *name, int *acc, int fd2)
{
	int merged;

	if (*acc < 0) {
		*acc = dup(fd2);
		return *acc < 0 ? -1 : 0;
	}
	merged = sync_merge(name, *acc, fd2);
	if (merged < 0)
		return -1;
	close(*acc);
	*acc = merged;
	return 0;
}

static inline bool sync_valid_fd(int fd)
{
	struct sync_file_info info = { 0 };

	return ioctl(fd, SYNC_IOC_FILE_INFO, &info) == 0;
}

static inline int sync_set_deadline(int fd, const struct timespec *when)
{
	struct sync_set_deadline d = { .deadline_ns = when->tv_sec * 1000000000ull + when->tv_nsec };

	return ioctl(fd, SYNC_IOC_SET_DEADLINE, &d);
}

/* ---- WSI-side dma-buf helpers ---- */
static int dmabuf_export_sync_file(int buf, __u32 flags)
{
	struct dma_buf_export_sync_file e = { .flags = flags, .fd = -1 };

	return ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e) < 0 ? -1 : e.fd;
}

static int dmabuf_import_sync_file(int buf, __u32 flags, int sync_fd)
{
	struct dma_buf_import_sync_file i = { .flags = flags, .fd = sync_fd };

	return ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &i);
}

static int heap_alloc(int heap, size_t len)
{
	struct dma_heap_allocation_data a = { .len = len, .fd_flags = O_RDWR | O_CLOEXEC };

	return ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &a) < 0 ? -1 : (int)a.fd;
}

static int timeline(void)
{
	int fd = open("/sys/kernel/debug/sync/sw_sync", O_RDWR | O_CLOEXEC);

	return fd >= 0 ? fd : open("/dev/sw_sync", O_RDWR | O_CLOEXEC);
}

static int tl_fence(int tl, unsigned int value)
{
	struct sw_sync_create_fence_data d = { .value = value, .name = "render" };

	return ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, &d) < 0 ? -1 : d.fence;
}

static int tl_inc(int tl)
{
	__u32 one = 1;

	return ioctl(tl, SW_SYNC_IOC_INC, &one);
}

/* revents of @fd for @events, polled together with an idle pipe end */
static int poll_now(int fd, short events, int idle)
{
	struct pollfd p[2] = { { .fd = idle, .events = POLLIN }, { .fd = fd, .events = events } };

	if (poll(p, 2, 0) < 0 || p[0].revents)
		return -1;
	return p[1].revents;
}

static int fence_count(int fd)
{
	struct sync_file_info info = { 0 };

	return ioctl(fd, SYNC_IOC_FILE_INFO, &info) < 0 ? -1 : (int)info.num_fences;
}

/* ---- a compositor thread: blocks in poll() on an image until it is readable ---- */
static int img1, hello[2], report[2];

static void *compositor(void *arg)
{
	struct pollfd p[2] = { { .fd = hello[0], .events = POLLIN }, { .fd = img1, .events = POLLIN } };
	int r;

	(void)arg;
	if (write(report[1], "w", 1) != 1)
		return NULL;
	r = poll(p, 2, 20000);
	r = r == 1 && !p[0].revents ? p[1].revents : -1;
	if (write(report[1], &r, sizeof(r)) != sizeof(r))
		return NULL;
	return NULL;
}

int main(void)
{
	int heap, img[3], tla, tlb, tlc, a1, exp[3], acc = -1, rd, wr, i, r, e, ok;
	struct sw_sync_get_deadline gd = { 0 };
	struct timespec dl;
	pthread_t thr;
	char byte;

	heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	if (heap < 0 || pipe(hello) || pipe(report)) {
		printf("Bail out! no system heap\n");
		return 1;
	}
	for (i = 0, ok = 1; i < 3; i++)
		ok &= (img[i] = heap_alloc(heap, 256 * 256 * 4)) >= 0;
	check(ok, "3 swapchain images from the system heap");
	img1 = img[1];

	/* an idle image: readable and writable, its exports are ready fences */
	check(poll_now(img[0], POLLIN | POLLOUT, hello[0]) == (POLLIN | POLLOUT),
	      "idle image polls POLLIN|POLLOUT");
	rd = dmabuf_export_sync_file(img[0], DMA_BUF_SYNC_READ);
	check(rd >= 0 && sync_valid_fd(rd) && sync_wait(rd, 0) == 0,
	      "idle image exports a valid, signaled sync_file");
	close(rd);
	check(!sync_valid_fd(img[0]) && !sync_valid_fd(-1) && !sync_valid_fd(hello[0]),
	      "sync_valid_fd rejects a dma-buf, -1 and a pipe");

	/* the GPU renders: images 0 and 1 on timeline A, image 2 on timeline B */
	tla = timeline();
	tlb = timeline();
	tlc = timeline();
	check(tla >= 0 && tlb >= 0 && tlc >= 0, "three sw_sync timelines");
	a1 = tl_fence(tla, 1);
	r = tl_fence(tla, 2);
	e = tl_fence(tlb, 1);
	ok = !dmabuf_import_sync_file(img[0], DMA_BUF_SYNC_WRITE, a1) &&
	     !dmabuf_import_sync_file(img[1], DMA_BUF_SYNC_WRITE, r) &&
	     !dmabuf_import_sync_file(img[2], DMA_BUF_SYNC_RW, e);
	check(ok, "render fences imported as write fences");
	close(r);
	close(e);
	check(poll_now(img[0], POLLIN, hello[0]) == 0 && poll_now(img[0], POLLOUT, hello[0]) == 0,
	      "image being rendered: neither POLLIN nor POLLOUT");

	for (i = 0, ok = 1; i < 3; i++) {
		exp[i] = dmabuf_export_sync_file(img[i], DMA_BUF_SYNC_READ);
		r = sync_wait(exp[i], 0);
		ok &= exp[i] >= 0 && r == -1 && errno == ETIME;
		ok &= !sync_accumulate("present", &acc, exp[i]);
	}
	check(ok, "exported acquire fences are pending (ETIME) and accumulate");
	check(fence_count(acc) == 2, "accumulated fence holds one point per timeline (%d)",
	      fence_count(acc));

	/* the compositor wants image 0 by the next vblank */
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_nsec += 16000000;
	dl.tv_sec += dl.tv_nsec / 1000000000;
	dl.tv_nsec %= 1000000000;
	check(sync_set_deadline(exp[0], &dl) == 0, "SYNC_IOC_SET_DEADLINE on a pending fence");
	gd.fence_fd = a1;
	r = ioctl(tla, SW_SYNC_GET_DEADLINE, &gd);
	check(r == 0 && gd.deadline_ns == dl.tv_sec * 1000000000ull + dl.tv_nsec,
	      "the deadline reached the render fence");
	dl.tv_sec -= 1;
	gd.deadline_ns = 0;
	gd.fence_fd = exp[2];
	r = sync_set_deadline(acc, &dl) || ioctl(tlb, SW_SYNC_GET_DEADLINE, &gd);
	check(r == 0 && gd.deadline_ns == dl.tv_sec * 1000000000ull + dl.tv_nsec,
	      "a deadline on the accumulated fence reaches its members");

	/* the compositor blocks on image 1 while the GPU finishes image 0 */
	pthread_create(&thr, NULL, compositor, NULL);
	check(read(report[0], &byte, 1) == 1, "compositor is about to poll image 1");
	check(tl_inc(tla) == 0 && sync_wait(exp[0], 1000) == 0, "image 0 done");
	check(poll_now(img[0], POLLIN | POLLOUT, hello[0]) == (POLLIN | POLLOUT) &&
	      poll_now(img[1], POLLIN, hello[0]) == 0, "image 0 readable, image 1 not yet");
	r = sync_wait(acc, 0);
	check(r == -1 && errno == ETIME, "accumulated fence still pending");
	tl_inc(tla);
	if (read(report[0], &r, sizeof(r)) != sizeof(r))
		r = -1;
	check(r == POLLIN, "compositor woke with POLLIN on image 1 (revents %#x)", r);
	pthread_join(thr, NULL);
	check(poll_now(img[2], POLLIN, hello[0]) == 0 && tl_inc(tlb) == 0 &&
	      poll_now(img[2], POLLIN, hello[0]) == POLLIN, "image 2 readable once B advances");
	check(sync_wait(acc, 1000) == 0, "accumulated fence signals with its last member");

	/* the compositor samples image 0: a read fence blocks writers only */
	r = tl_fence(tlc, 1);
	check(!dmabuf_import_sync_file(img[0], DMA_BUF_SYNC_READ, r), "sampler fence imported");
	close(r);
	check(poll_now(img[0], POLLIN | POLLOUT, hello[0]) == POLLIN,
	      "image being sampled: POLLIN only");
	rd = dmabuf_export_sync_file(img[0], DMA_BUF_SYNC_READ);
	wr = dmabuf_export_sync_file(img[0], DMA_BUF_SYNC_WRITE);
	r = sync_wait(wr, 0);
	e = errno;
	check(sync_wait(rd, 0) == 0 && r == -1 && e == ETIME,
	      "readers need not wait, a writer waits for the sampler");
	check(tl_inc(tlc) == 0 && sync_wait(wr, 1000) == 0 &&
	      poll_now(img[0], POLLOUT, hello[0]) == POLLOUT, "writable once sampling is done");

	close(rd);
	close(wr);
	close(acc);
	close(a1);
	for (i = 0; i < 3; i++) {
		close(exp[i]);
		close(img[i]);
	}
	close(tla);
	close(tlb);
	close(tlc);
	close(heap);
	return tap_done();
}

// SPDX-License-Identifier: MIT
/* android_libsync.c - an app with its own Android-libsync-style helpers, on the raw uAPI. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/sync_file.h>
#include <linux/types.h>

#include "app_tap.h"

/* ---- the libsync-like layer ---- */

/* sw_sync's private ioctls: the test driver ships no uAPI header */
struct sw_sync_create_fence_data {
	__u32 value;
	char name[32];
	__s32 fence;
};
#define SW_SYNC_IOC_CREATE_FENCE _IOWR('W', 0, struct sw_sync_create_fence_data)
#define SW_SYNC_IOC_INC _IOW('W', 1, __u32)

/* the old Android fence-info request: probed once to pick the API generation */
struct old_fence_info_data {
	__u32 len;
	char name[32];
	__s32 status;
};
#define OLD_SYNC_IOC_FENCE_INFO _IOWR('>', 2, struct old_fence_info_data)

static int modern_api = -1; /* -1: not probed yet */

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* 0 once @fd signaled; -1 with errno ETIME on timeout, EINVAL on a bad fd */
static int sync_wait(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long long end = now_ns() + timeout_ms * 1000000LL;
	int left = timeout_ms, r;

	if (fd < 0) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		r = poll(&p, 1, left);
		if (r > 0) {
			if (p.revents & (POLLERR | POLLNVAL)) {
				errno = EINVAL;
				return -1;
			}
			return 0;
		}
		if (r == 0) {
			errno = ETIME;
			return -1;
		}
		if (errno != EINTR && errno != EAGAIN)
			return -1;
		if (timeout_ms > 0) {
			left = (int)((end - now_ns()) / 1000000);
			left = left < 0 ? 0 : left;
		}
	}
}

static int sync_merge(const char *name, int fd1, int fd2)
{
	struct sync_merge_data d = { .fd2 = fd2 };

	snprintf(d.name, sizeof(d.name), "%s", name);
	if (ioctl(fd1, SYNC_IOC_MERGE, &d) < 0)
		return -1;
	return d.fence;
}

static int probe_api(int fd)
{
	struct old_fence_info_data old[8];

	if (modern_api < 0) {
		memset(old, 0, sizeof(old));
		old[0].len = sizeof(old);
		modern_api = ioctl(fd, OLD_SYNC_IOC_FENCE_INFO, old) < 0 && errno == ENOTTY;
	}
	return modern_api;
}

/* FILE_INFO with the fence array; free() the result */
static struct sync_file_info *sync_file_info(int fd)
{
	struct sync_file_info head = { 0 }, *info;

	if (!probe_api(fd)) {
		errno = ENOSYS;
		return NULL;
	}
	if (ioctl(fd, SYNC_IOC_FILE_INFO, &head) < 0)
		return NULL;
	info = calloc(1, sizeof(*info) + head.num_fences * sizeof(struct sync_fence_info));
	if (!info)
		return NULL;
	info->num_fences = head.num_fences;
	info->sync_fence_info = (uintptr_t)(info + 1);
	if (ioctl(fd, SYNC_IOC_FILE_INFO, info) < 0) {
		free(info);
		return NULL;
	}
	return info;
}

static struct sync_fence_info *sync_fence_info(const struct sync_file_info *info)
{
	return (struct sync_fence_info *)(uintptr_t)info->sync_fence_info;
}

static int sw_sync_timeline_create(void)
{
	int fd = open("/sys/kernel/debug/sync/sw_sync", O_RDWR | O_CLOEXEC);

	return fd >= 0 ? fd : open("/dev/sw_sync", O_RDWR | O_CLOEXEC);
}

static int sw_sync_fence_create(int tl, const char *name, unsigned int value)
{
	struct sw_sync_create_fence_data d = { .value = value };

	snprintf(d.name, sizeof(d.name), "%s", name);
	return ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, &d) < 0 ? -1 : d.fence;
}

static int sw_sync_timeline_inc(int tl, unsigned int count)
{
	__u32 n = count;

	return ioctl(tl, SW_SYNC_IOC_INC, &n);
}

/* ---- the app: a producer thread renders frames, the main thread consumes them ---- */
#define FRAMES 3

static int to_cons[2], to_prod[2];

static void send_int(int fd, int v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		abort();
}

static int recv_int(int fd)
{
	int v;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		abort();
	return v;
}

/* per frame: a gpu and a display point merged; commands advance them, each acked */
static void *producer(void *arg)
{
	int gpu, dpu, f, cmd, a, b, m;

	(void)arg;
	prctl(PR_SET_NAME, "producer");
	gpu = sw_sync_timeline_create();
	dpu = sw_sync_timeline_create();
	for (f = 1; f <= FRAMES + 1; f++) {
		a = sw_sync_fence_create(gpu, "gpu", f);
		b = sw_sync_fence_create(dpu, "dpu", f);
		if (f <= FRAMES) {
			char name[32];

			snprintf(name, sizeof(name), "frame-%d", f);
			m = sync_merge(name, a, b);
			close(a);
			close(b);
		} else {
			m = a; /* the last one: a lone gpu fence, its timeline dies */
			close(b);
		}
		send_int(to_cons[1], m < 0 ? -errno : m);
		while ((cmd = recv_int(to_prod[0])) != 'n') {
			if (cmd == 'x') {
				close(gpu);
				close(dpu);
				send_int(to_cons[1], 0);
				return NULL;
			}
			send_int(to_cons[1], sw_sync_timeline_inc(cmd == 'g' ? gpu : dpu, 1));
		}
	}
	return NULL;
}

/* how many fences of @info signaled; -1 unless all are @drv fences on timeline @obj */
static int signaled(const struct sync_file_info *info, const char *drv, const char *obj)
{
	struct sync_fence_info *fi = sync_fence_info(info);
	unsigned int i;
	int n = 0;

	for (i = 0; i < info->num_fences; n += fi[i].status == 1, i++)
		if (strcmp(fi[i].obj_name, obj) || strcmp(fi[i].driver_name, drv))
			return -1;
	return n;
}

static int consume_frame(int f)
{
	struct sync_file_info *info;
	char name[32];
	long long t0, t1, ts;
	int m = recv_int(to_cons[0]), r, e, ack;

	if (!check(m >= 0, "frame %d: producer made a merged fence", f)) {
		printf("Bail out! no fences: %s\n", strerror(-m));
		exit(1);
	}
	snprintf(name, sizeof(name), "frame-%d", f);
	info = sync_file_info(m);
	check(info && info->num_fences == 2 && info->status == 0 && !strcmp(info->name, name),
	      "frame %d: '%s' has 2 pending fences", f, info ? info->name : "?");
	check(info && signaled(info, "sw_sync", "producer") == 0,
	      "frame %d: fences are sw_sync/producer, none signaled", f);
	free(info);
	r = sync_wait(m, 0);
	e = errno;
	check(r == -1 && e == ETIME, "frame %d: sync_wait(0) times out with ETIME", f);

	t0 = now_ns();
	send_int(to_prod[1], 'g');
	ack = recv_int(to_cons[0]);
	t1 = now_ns();
	info = sync_file_info(m);
	check(ack == 0 && info && info->status == 0 && signaled(info, "sw_sync", "producer") == 1,
	      "frame %d: gpu done, display pending: status 0, one fence signaled", f);
	free(info);

	send_int(to_prod[1], 'd');
	r = sync_wait(m, 10000);
	check(r == 0, "frame %d: sync_wait returns once the display point passes", f);
	ack = recv_int(to_cons[0]);
	info = sync_file_info(m);
	check(ack == 0 && info && info->status == 1 && signaled(info, "sw_sync", "producer") == 2,
	      "frame %d: status 1, both fences signaled", f);
	ts = info ? (long long)sync_fence_info(info)[0].timestamp_ns : 0;
	if (info && sync_fence_info(info)[1].timestamp_ns < (__u64)ts)
		ts = sync_fence_info(info)[1].timestamp_ns;
	check(ts >= t0 && ts <= t1, "frame %d: the gpu timestamp lies within its signal", f);
	free(info);
	return m;
}

static void merges(int done1, int done2, const char *comm)
{
	struct sync_file_info *info;
	int tl = sw_sync_timeline_create(), p = sw_sync_fence_create(tl, "client", 1), m;

	check(tl >= 0 && p >= 0, "main thread: own timeline and fence");
	m = sync_merge("sig+pend", done1, p);
	info = m >= 0 ? sync_file_info(m) : NULL;
	check(info && info->num_fences == 1 && info->status == 0 &&
	      signaled(info, "sw_sync", comm) == 0,
	      "merge(signaled, pending): only the pending fence is left");
	free(info);
	close(m);
	m = sync_merge("both-done", done1, done2);
	info = m >= 0 ? sync_file_info(m) : NULL;
	check(info && info->num_fences == 1 && info->status == 1 &&
	      !strcmp(info->name, "both-done") && signaled(info, "stub", "stub") == 1,
	      "merge(signaled, signaled): one signaled stub fence");
	check(sync_wait(m, 0) == 0, "the stub merge is ready at once");
	free(info);
	close(m);
	check(sw_sync_timeline_inc(tl, 1) == 0 && sync_wait(p, 0) == 0, "client fence signals");
	close(p);
	close(tl);
}

int main(void)
{
	struct sync_file_info *info;
	char comm[16] = "", expect[64];
	pthread_t thr;
	int done[FRAMES], f, lone, r, e, bad;
	long long t0;

	prctl(PR_GET_NAME, comm);
	if (pipe(to_cons) || pipe(to_prod) || pthread_create(&thr, NULL, producer, NULL)) {
		printf("Bail out! setup\n");
		return 1;
	}
	for (f = 1; f <= FRAMES; f++) {
		done[f - 1] = consume_frame(f);
		send_int(to_prod[1], 'n');
	}
	check(modern_api == 1, "the old fence-info request answers ENOTTY: modern API in use");
	merges(done[0], done[1], comm);

	lone = recv_int(to_cons[0]);
	info = lone >= 0 ? sync_file_info(lone) : NULL;
	snprintf(expect, sizeof(expect), "-%d", FRAMES + 1);
	check(info && !strncmp(info->name, "sw_sync-producer", 16) &&
	      !strcmp(info->name + strlen(info->name) - strlen(expect), expect),
	      "an unmerged fence is named after driver, timeline and point ('%s')",
	      info ? info->name : "?");
	free(info);
	t0 = now_ns();
	r = sync_wait(lone, 30);
	e = errno;
	check(r == -1 && e == ETIME && now_ns() - t0 >= 29000000,
	      "sync_wait(30 ms) on a pending fence: ETIME after the timeout");
	send_int(to_prod[1], 'x');
	check(recv_int(to_cons[0]) == 0, "producer closed its timelines");
	check(sync_wait(lone, 10000) == 0, "the orphaned fence is ready");
	info = sync_file_info(lone);
	check(info && info->status == -ENOENT && info->num_fences == 1 &&
	      sync_fence_info(info)[0].status == -ENOENT &&
	      sync_fence_info(info)[0].timestamp_ns != 0,
	      "closed timeline: status -ENOENT (%d) on the file and the fence",
	      info ? info->status : 0);
	free(info);

	pthread_join(thr, NULL);
	for (f = 0; f < FRAMES; f++)
		close(done[f]);
	close(lone);
	r = sync_wait(lone, 0);
	e = errno;
	check(r == -1 && e == EINVAL, "sync_wait on a closed descriptor: EINVAL");
	bad = sync_merge("bad", to_cons[0], lone) < 0 ? errno : 0;
	check(bad == ENOTTY, "merging a pipe: ENOTTY (%s)", strerror(bad));
	return tap_done();
}

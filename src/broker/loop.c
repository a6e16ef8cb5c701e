// SPDX-License-Identifier: MIT
/*
 * loop.c - the event loop: one thread, one epoll set (listen socket, connections, the
 * inotify descriptor, a signalfd for SIGTERM/SIGINT, the write ends of sync_file, timeline
 * and heap pipes), and the idle exit.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "dmabufd.h"
#include "log.h"

int dmabufd_epoll_add(int fd, uint32_t events, struct dmabufd_src *src)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(dmabufd.epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int dmabufd_loop_init(void)
{
	sigset_t set;
	int ret;

	dmabufd.signal_fd = dmabufd.inotify_fd = -1;
	dmabufd.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (dmabufd.epfd < 0)
		return -errno;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	dmabufd.signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (dmabufd.signal_fd < 0)
		return -errno;
	dmabufd.inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (dmabufd.inotify_fd < 0)
		return -errno;

	dmabufd.listen_src.kind = DMABUFD_SRC_LISTEN;
	dmabufd.signal_src.kind = DMABUFD_SRC_SIGNAL;
	dmabufd.inotify_src.kind = DMABUFD_SRC_INOTIFY;
	ret = dmabufd_epoll_add(dmabufd.listen_fd, EPOLLIN, &dmabufd.listen_src);
	if (!ret)
		ret = dmabufd_epoll_add(dmabufd.signal_fd, EPOLLIN, &dmabufd.signal_src);
	if (!ret)
		ret = dmabufd_epoll_add(dmabufd.inotify_fd, EPOLLIN, &dmabufd.inotify_src);
	return ret;
}

void dmabufd_loop_fini(void)
{
	if (dmabufd.inotify_fd >= 0)
		close(dmabufd.inotify_fd);
	if (dmabufd.signal_fd >= 0)
		close(dmabufd.signal_fd);
	if (dmabufd.epfd >= 0)
		close(dmabufd.epfd);
	dmabufd.inotify_fd = dmabufd.signal_fd = dmabufd.epfd = -1;
}

static void signal_event(void)
{
	struct signalfd_siginfo si;

	if (read(dmabufd.signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("shutting down (%s)", strsignal((int)si.ssi_signo));
	dmabufd.stopping = true;
}

static void obj_event(struct dmabufd_src *src)
{
	struct dmabufd_obj *obj = dmabufd_container_of(src, struct dmabufd_obj, src);

	/* EPOLLERR on a write end: the last read end is gone */
	dmabufd_obj_release(obj);
}

static void dispatch(const struct epoll_event *ev)
{
	struct dmabufd_src *src = ev->data.ptr;

	switch (src->kind) {
	case DMABUFD_SRC_LISTEN:
		dmabufd_conn_accept();
		break;
	case DMABUFD_SRC_SIGNAL:
		signal_event();
		break;
	case DMABUFD_SRC_INOTIFY:
		dmabufd_buf_inotify_event();
		break;
	case DMABUFD_SRC_CONN:
		dmabufd_conn_event(dmabufd_container_of(src, struct dmabufd_conn, src),
				   ev->events);
		break;
	case DMABUFD_SRC_OBJ:
		obj_event(src);
		break;
	}
	/* a released timeline or buffer may have signaled fences */
	dmabufd_flush();
}

void dmabufd_flush(void)
{
	/* arming may find more fences signaled, whose callbacks queue more */
	do {
		dmabufd_sync_files_flush();
		dmabufd_buf_flush_dirty();
	} while (dmabufd_sync_files_dirty());
}

static bool idle(void)
{
	const struct dmabufd_stats *s = &dmabufd.stats;

	return !s->connections && !s->buffers && !s->sync_files && !s->timelines && !s->heaps;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The epoll timeout: -1, or what is left of the idle time (0: time to go). */
static int idle_timeout(int64_t *idle_since)
{
	int64_t now, left;

	if (!dmabufd.idle_exit || !idle()) {
		*idle_since = -1;
		return -1;
	}
	now = now_ns();
	if (*idle_since < 0)
		*idle_since = now;
	left = *idle_since + (int64_t)dmabufd.idle_exit * 1000000000 - now;
	if (left <= 0)
		return 0;
	return (int)((left + 999999) / 1000000);
}

int dmabufd_loop_run(void)
{
	struct epoll_event evs[64];
	int64_t idle_since = -1;
	int n, timeout;

	while (!dmabufd.stopping) {
		timeout = idle_timeout(&idle_since);
		if (!timeout) {
			log_info("idle for %u s: shutting down", dmabufd.idle_exit);
			break;
		}
		n = epoll_wait(dmabufd.epfd, evs, sizeof(evs) / sizeof(evs[0]), timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		if (n)
			idle_since = -1;	/* activity: the idle time starts again */
		for (int i = 0; i < n && !dmabufd.stopping; i++)
			dispatch(&evs[i]);
	}
	return 0;
}

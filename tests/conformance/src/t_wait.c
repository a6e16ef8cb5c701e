// SPDX-License-Identifier: MIT
/* t_wait.c - blocking waits: poll/ppoll/select/pselect/epoll and SYNC woken by another thread. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

#include "conform.h"

enum wait_kind { W_POLL, W_PPOLL, W_SELECT, W_PSELECT, W_EPOLL, W_SYNC };

struct waiter {
	pthread_t th;
	enum wait_kind kind;
	int fd;
	short events;
	__u64 sync_flags;
	int ready[2];	    /* the thread writes one byte just before it blocks */
	atomic_int *signaled; /* set by the main thread right before it signals */
	char result[96];
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	struct pollfd p = { .fd = w->fd, .events = w->events };
	struct epoll_event ev = { .events = (unsigned int)w->events }, got;
	struct dma_buf_sync s = { .flags = w->sync_flags };
	fd_set rd, wr;
	int r, ep = -1, seen;

	if (w->kind == W_EPOLL) {
		ep = epoll_create1(EPOLL_CLOEXEC);
		epoll_ctl(ep, EPOLL_CTL_ADD, w->fd, &ev);
	}
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	if (w->events & POLLIN)
		FD_SET(w->fd, &rd);
	if (w->events & POLLOUT)
		FD_SET(w->fd, &wr);
	(void)!write(w->ready[1], "r", 1);
	switch (w->kind) {
	case W_POLL:
		r = poll(&p, 1, -1);
		break;
	case W_PPOLL:
		r = ppoll(&p, 1, NULL, NULL);
		break;
	case W_SELECT:
		r = select(w->fd + 1, &rd, &wr, NULL, NULL);
		break;
	case W_PSELECT:
		r = pselect(w->fd + 1, &rd, &wr, NULL, NULL, NULL);
		break;
	case W_EPOLL:
		memset(&got, 0, sizeof(got));
		r = epoll_wait(ep, &got, 1, -1);
		p.revents = (short)got.events;
		break;
	default:
		r = ioctl(w->fd, DMA_BUF_IOCTL_SYNC, &s);
		break;
	}
	seen = atomic_load(w->signaled);
	if (r < 0) {
		snprintf(w->result, sizeof(w->result), "%s", errname(errno));
	} else if (w->kind == W_SELECT || w->kind == W_PSELECT) {
		snprintf(w->result, sizeof(w->result), "ret=%d rd=%d wr=%d", r,
			 FD_ISSET(w->fd, &rd) != 0, FD_ISSET(w->fd, &wr) != 0);
	} else if (w->kind == W_SYNC) {
		snprintf(w->result, sizeof(w->result), "ret=%d after-signal=%d", r, seen);
	} else {
		snprintf(w->result, sizeof(w->result), "ret=%d revents=%s%s%s", r,
			 p.revents & POLLIN ? "IN" : "", p.revents & POLLOUT ? "OUT" : "",
			 p.revents & ~(POLLIN | POLLOUT) ? "+other" : "");
	}
	if (ep >= 0)
		close(ep);
	return NULL;
}

/* start a thread that blocks on @fd: @events for poll and the like, @sync_flags for W_SYNC */
static int start_waiter(struct waiter *w, enum wait_kind kind, int fd, short events,
			__u64 sync_flags, atomic_int *signaled)
{
	char c;

	memset(w, 0, sizeof(*w));
	w->kind = kind;
	w->fd = fd;
	w->events = events;
	w->sync_flags = sync_flags;
	w->signaled = signaled;
	if (pipe(w->ready) < 0)
		return -errno;
	if (pthread_create(&w->th, NULL, wait_thread, w)) {
		close(w->ready[0]);
		close(w->ready[1]);
		return -EAGAIN;
	}
	/* handshake: the thread is about to block (whether it already sleeps does not matter) */
	(void)!read(w->ready[0], &c, 1);
	return 0;
}

static void join_waiter(struct waiter *w)
{
	pthread_join(w->th, NULL);
	close(w->ready[0]);
	close(w->ready[1]);
}

static const char *kind_name(enum wait_kind k)
{
	static const char *const n[] = { "poll", "ppoll", "select", "pselect", "epoll", "sync" };

	return n[k];
}

/* a thread blocks on a pending sync_file; the main thread signals by INC or by closing */
static void sync_file_woken(enum wait_kind kind, int by_close)
{
	struct waiter w;
	atomic_int sig = 0;
	int tl = -1, f;

	case_begin("wait.sync_file.%s.%s", kind_name(kind), by_close ? "timeline-closed" : "inc");
	f = pending_fence(&tl);
	if (f < 0 || start_waiter(&w, kind, f, POLLIN, 0, &sig) < 0) {
		case_broken("setup");
	} else {
		atomic_store(&sig, 1);
		if (by_close) {
			close(tl);
			tl = -1;
		} else {
			tl_inc(tl, 1);
		}
		join_waiter(&w);
		out("%s", w.result);
	}
	xclose(f);
	xclose(tl);
	case_end();
}

/*
 * A thread blocks on a dma-buf with a pending fence of @usage: for @events, or for
 * DMA_BUF_IOCTL_SYNC with @sync_flags when @kind is W_SYNC.  A poll-like wait also shows the
 * file count afterwards.
 */
static void dmabuf_woken(const struct exporter *ex, enum wait_kind kind, unsigned int usage,
			 short events, __u64 sync_flags, const char *name)
{
	struct waiter w;
	atomic_int sig = 0;
	int tl = -1, f = -1, buf;

	case_begin("wait.dmabuf.%s.%s.%s", ex->name, kind_name(kind), name);
	buf = ex->make(BUF_SIZE);
	if (buf >= 0)
		f = pending_fence(&tl);
	if (f < 0 || import_fence(buf, f, usage) < 0) {
		case_broken("setup");
	} else if (start_waiter(&w, kind, buf, events, sync_flags, &sig) < 0) {
		case_broken("thread");
	} else {
		atomic_store(&sig, 1);
		tl_inc(tl, 1);
		join_waiter(&w);
		out("%s", w.result);
		if (kind != W_SYNC)
			out("count=%s", fdinfo_field(buf, "count"));
	}
	xclose(f);
	xclose(tl);
	xclose(buf);
	case_end();
}

static void dmabuf_sync_woken(const struct exporter *ex, unsigned int usage, __u64 flags,
			      const char *name)
{
	dmabuf_woken(ex, W_SYNC, usage, 0, flags, name);
}

#define N_WAITERS 4

static void many_waiters(void)
{
	struct waiter w[N_WAITERS];
	atomic_int sig = 0;
	int tl = -1, f, i, n = 0;

	case_begin("wait.sync_file.poll.4-threads");
	f = pending_fence(&tl);
	for (i = 0; f >= 0 && i < N_WAITERS; i++, n++)
		if (start_waiter(&w[i], i % 2 ? W_EPOLL : W_POLL, f, POLLIN, 0, &sig) < 0)
			break;
	if (n < N_WAITERS)
		case_broken("setup");
	atomic_store(&sig, 1);
	if (tl >= 0)
		tl_inc(tl, 1);
	for (i = 0; i < n; i++) {
		join_waiter(&w[i]);
		out("%s", w[i].result);
	}
	xclose(f);
	xclose(tl);
	case_end();
}

/* timeouts are the thing tested here, not a synchronization */
static void timeouts(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct timeval tv = { 0, 20 * 1000 };
	struct pollfd p;
	fd_set rd;
	int tl = -1, f, ep;

	f = pending_fence(&tl);
	if (f < 0)
		return;
	p = (struct pollfd){ .fd = f, .events = POLLIN };
	one_expect("wait.timeout.poll", val(poll(&p, 1, 20)), "0");
	one("wait.timeout.ppoll", val(ppoll(&p, 1, &ts, NULL)));
	FD_ZERO(&rd);
	FD_SET(f, &rd);
	one("wait.timeout.select", val(select(f + 1, &rd, NULL, NULL, &tv)));
	ep = epoll_create1(EPOLL_CLOEXEC);
	epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev);
	one("wait.timeout.epoll", val(epoll_wait(ep, &ev, 1, 20)));
	close(ep);
	close(f);
	close(tl);
}

/* one epoll_wait() on @ep with timeout 0: "<label>=<ready> ev=<events>" */
static void out_epoll_wait(int ep, const char *label)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	out("%s=%s", label, val(epoll_wait(ep, &ev, 1, 0)));
	out("ev=%#x", ev.events);
}

static void epoll_modes(void)
{
	static const struct {
		const char *name;
		unsigned int flags;
	} modes[] = {
		{ "level", 0 },
		{ "edge", EPOLLET },
		{ "oneshot", EPOLLONESHOT },
	};
	struct epoll_event ev;
	size_t i;
	int tl = -1, f, ep, buf, bt = -1, bf;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		case_begin("wait.epoll.sync_file.%s", modes[i].name);
		f = pending_fence(&tl);
		ep = epoll_create1(EPOLL_CLOEXEC);
		ev = (struct epoll_event){ .events = EPOLLIN | modes[i].flags };
		if (f < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev) < 0) {
			case_broken("setup");
		} else {
			out("pending=%s", val(epoll_wait(ep, &ev, 1, 0)));
			tl_inc(tl, 1);
			out("first=%s", val(epoll_wait(ep, &ev, 1, 0)));
			out("second=%s", val(epoll_wait(ep, &ev, 1, 0)));
		}
		xclose(ep);
		xclose(f);
		xclose(tl);
		case_end();
	}
	case_begin("wait.epoll.sync_file.added-after-signal");
	f = pending_fence(&tl);
	if (f >= 0) {
		tl_inc(tl, 1);
		ep = epoll_create1(EPOLL_CLOEXEC);
		ev = (struct epoll_event){ .events = EPOLLIN };
		out("add=%s", res(epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev)));
		memset(&ev, 0, sizeof(ev));
		out("ready=%s", val(epoll_wait(ep, &ev, 1, 0)));
		out("events=%#x", ev.events);
		close(ep);
		close(f);
		close(tl);
	}
	case_end();

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		case_begin("wait.epoll.dmabuf.%s", modes[i].name);
		buf = heap_buf(BUF_SIZE, O_RDWR | O_CLOEXEC);
		bf = buf >= 0 ? pending_fence(&bt) : -1;
		ep = epoll_create1(EPOLL_CLOEXEC);
		ev = (struct epoll_event){ .events = EPOLLIN | EPOLLOUT | modes[i].flags };
		if (bf < 0 || import_fence(buf, bf, DMA_BUF_SYNC_READ) < 0 ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, buf, &ev) < 0) {
			case_broken("setup");
		} else {
			out_epoll_wait(ep, "pending");
			tl_inc(bt, 1);
			out_epoll_wait(ep, "first");
			out_epoll_wait(ep, "second");
		}
		xclose(ep);
		xclose(bf);
		xclose(bt);
		xclose(buf);
		case_end();
	}
}

static void mixed_sets(void)
{
	struct pollfd p[3];
	int tl1 = -1, tl2 = -1, a, b, pp[2];

	case_begin("wait.poll.mixed-pipe-and-sync_files");
	a = pending_fence(&tl1);
	b = pending_fence(&tl2);
	if (a < 0 || b < 0 || pipe(pp) < 0) {
		case_broken("setup");
		case_end();
		goto out;
	}
	(void)!write(pp[1], "x", 1);
	p[0] = (struct pollfd){ .fd = a, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = pp[0], .events = POLLIN };
	p[2] = (struct pollfd){ .fd = b, .events = POLLIN };
	out("n=%s", val(poll(p, 3, 0)));
	out("rev=%x,%x,%x", p[0].revents, p[1].revents, p[2].revents);
	tl_inc(tl2, 1);
	out("n=%s", val(poll(p, 3, 0)));
	out("rev=%x,%x,%x", p[0].revents, p[1].revents, p[2].revents);
	close(pp[0]);
	close(pp[1]);
	case_end();

	case_begin("wait.poll.second-of-two-signals-first");
	{
		int t3 = -1, c = pending_fence(&t3);
		struct pollfd q[2] = { { .fd = a, .events = POLLIN }, { .fd = c, .events = POLLIN } };

		if (c >= 0) {
			tl_inc(t3, 1);
			out("n=%s", val(poll(q, 2, -1)));
			out("rev=%x,%x", q[0].revents, q[1].revents);
		}
		xclose(c);
		xclose(t3);
	}
	case_end();
out:
	xclose(a);
	xclose(b);
	xclose(tl1);
	xclose(tl2);
}

void t_wait(void)
{
	static const enum wait_kind kinds[] = { W_POLL, W_PPOLL, W_SELECT, W_PSELECT, W_EPOLL };
	unsigned int i, e;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		sync_file_woken(kinds[i], 0);
		sync_file_woken(kinds[i], 1);
	}
	many_waiters();
	for (e = 0; e < n_exporters; e++) {
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			dmabuf_woken(&exporters[e], kinds[i], DMA_BUF_SYNC_WRITE, POLLIN, 0,
				     "in-write-fence");
			dmabuf_woken(&exporters[e], kinds[i], DMA_BUF_SYNC_READ, POLLOUT, 0,
				     "out-read-fence");
		}
		dmabuf_sync_woken(&exporters[e], DMA_BUF_SYNC_WRITE,
				  DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ, "start-read-write-fence");
		dmabuf_sync_woken(&exporters[e], DMA_BUF_SYNC_READ,
				  DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE, "start-write-read-fence");
		dmabuf_sync_woken(&exporters[e], DMA_BUF_SYNC_WRITE,
				  DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW, "start-rw-write-fence");
	}
	timeouts();
	epoll_modes();
	mixed_sets();
}

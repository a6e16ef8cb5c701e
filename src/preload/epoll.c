// SPDX-License-Identifier: MIT
/*
 * epoll.c - epoll with dma-bufs in the set.
 *
 * The kernel would refuse a memfd (EPERM), so a dma-buf's registration is kept here: its
 * events and data, and, while it is not ready, the sync_file that stands in for it in the
 * real epoll set (registered with a pointer to the registration as its data).  epoll_wait
 * looks at the buffers of the set first, as the kernel's poll callback would: ready ones are
 * reported at once (every time: Linux reports an idle dma-buf at every wait, edge-triggered
 * or not), one-shot ones are then disabled until EPOLL_CTL_MOD.  Otherwise it waits on the
 * real set; a stand-in that fires makes it look again.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

struct reg {
	struct reg *next;
	int ep;
	int fd;
	uint32_t events;
	epoll_data_t data;
	bool disabled;
	int wait_fd;		/* the stand-in in the real set, or -1 */
};

static struct reg *regs;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static bool any_regs;

static struct reg *reg_find(int ep, int fd)
{
	struct reg *r;

	for (r = regs; r; r = r->next)
		if (r->ep == ep && r->fd == fd)
			return r;
	return NULL;
}

static void wait_drop(struct reg *r)
{
	if (r->wait_fd < 0)
		return;
	REAL(epoll_ctl)(r->ep, EPOLL_CTL_DEL, r->wait_fd, NULL);
	REAL(close)(r->wait_fd);
	r->wait_fd = -1;
}

static void reg_unlink(struct reg *r)
{
	struct reg **pp = &regs;

	while (*pp != r)
		pp = &(*pp)->next;
	*pp = r->next;
	wait_drop(r);
	free(r);
}

/* Unlink every registration for which @match says so; the lock is held. */
static void reg_remove_if(bool (*match)(const struct reg *r, int key), int key)
{
	struct reg **pp = &regs, *r;

	while ((r = *pp)) {
		if (match(r, key))
			reg_unlink(r);
		else
			pp = &r->next;
	}
}

static bool match_fd(const struct reg *r, int fd)
{
	return r->fd == fd || r->ep == fd;
}

/* @fd is being closed: it leaves every set, and a set it was goes away with its entries. */
void shim_epoll_forget_fd(int fd)
{
	if (!__atomic_load_n(&any_regs, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&reg_lock);
	reg_remove_if(match_fd, fd);
	pthread_mutex_unlock(&reg_lock);
}

static int ctl_buf(int ep, int op, int fd, struct epoll_event *ev)
{
	struct reg *r;
	int ret = 0;

	if (op != EPOLL_CTL_DEL && !ev)
		return -EFAULT;
	pthread_mutex_lock(&reg_lock);
	r = reg_find(ep, fd);
	switch (op) {
	case EPOLL_CTL_ADD:
		if (r) {
			ret = -EEXIST;
			break;
		}
		r = calloc(1, sizeof(*r));
		if (!r) {
			ret = -ENOMEM;
			break;
		}
		*r = (struct reg){ regs, ep, fd, ev->events, ev->data, false, -1 };
		regs = r;
		__atomic_store_n(&any_regs, true, __ATOMIC_RELAXED);
		break;
	case EPOLL_CTL_MOD:
		if (!r) {
			ret = -ENOENT;
			break;
		}
		wait_drop(r);
		r->events = ev->events;
		r->data = ev->data;
		r->disabled = false;
		break;
	case EPOLL_CTL_DEL:
		if (!r) {
			ret = -ENOENT;
			break;
		}
		reg_unlink(r);
		break;
	default:
		ret = -EINVAL;
	}
	pthread_mutex_unlock(&reg_lock);
	return ret;
}

SHIM_EXPORT int epoll_ctl(int ep, int op, int fd, struct epoll_event *ev)
{
	enum shim_type type;
	struct stat st;

	if (shim_bypass() || !shim_fd_any())
		return REAL(epoll_ctl)(ep, op, fd, ev);
	type = shim_fd_get(fd, NULL, NULL);
	switch (type) {
	case SHIM_BUF:
		/* the set must be an epoll descriptor, as the kernel checks first */
		if (REAL(fstat)(ep, &st))
			return -1;
		return shim_ret(ctl_buf(ep, op, fd, ev));
	case SHIM_TIMELINE:
	case SHIM_HEAP:
		/* files without a poll method cannot be watched */
		return shim_ret(op == EPOLL_CTL_ADD ? -EPERM : -ENOENT);
	case SHIM_SYNC_FILE:
		if (op != EPOLL_CTL_DEL)
			shim_sync_file_polled(fd);
		return REAL(epoll_ctl)(ep, op, fd, ev);
	default:
		return REAL(epoll_ctl)(ep, op, fd, ev);
	}
}

/* The buffers of @ep that are ready now into @out (at most @max); stand-ins for the others. */
static int collect(int ep, struct epoll_event *out, int max)
{
	struct reg *r;
	int n = 0, rev, w;

	pthread_mutex_lock(&reg_lock);
	for (r = regs; r && n < max; r = r->next) {
		if (r->ep != ep || r->disabled)
			continue;
		rev = shim_buf_revents(r->fd, (short)(r->events & (EPOLLIN | EPOLLOUT)), &w);
		if (rev < 0)
			continue;
		if (rev) {
			if (w >= 0)
				REAL(close)(w);
			out[n].events = (uint32_t)rev;
			out[n++].data = r->data;
			if (r->events & EPOLLONESHOT)
				r->disabled = true;
			continue;
		}
		wait_drop(r);
		if (w >= 0) {
			struct epoll_event ev = { .events = EPOLLIN, .data.ptr = r };

			r->wait_fd = w;
			if (REAL(epoll_ctl)(ep, EPOLL_CTL_ADD, w, &ev))
				wait_drop(r);
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return n;
}

static bool has_regs(int ep)
{
	struct reg *r;
	bool found = false;

	if (!__atomic_load_n(&any_regs, __ATOMIC_RELAXED))
		return false;
	pthread_mutex_lock(&reg_lock);
	for (r = regs; r && !found; r = r->next)
		found = r->ep == ep;
	pthread_mutex_unlock(&reg_lock);
	return found;
}

/* Remove the stand-ins' events from @ev (@n of them); true in *@again if one fired. */
static int filter(int ep, struct epoll_event *ev, int n, bool *again)
{
	struct reg *r;
	int i, k = 0;
	bool mine;

	pthread_mutex_lock(&reg_lock);
	for (i = 0; i < n; i++) {
		mine = false;
		for (r = regs; r && !mine; r = r->next)
			mine = r->ep == ep && ev[i].data.ptr == r;
		if (mine)
			*again = true;
		else
			ev[k++] = ev[i];
	}
	pthread_mutex_unlock(&reg_lock);
	return k;
}

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int shim_epoll_wait(int ep, struct epoll_event *ev, int max, int64_t timeout_ns,
			   const sigset_t *mask)
{
	int64_t deadline = timeout_ns < 0 ? -1 : now_ns() + timeout_ns, left;
	struct timespec ts;
	bool again;
	int n, k;

	if (max <= 0 || !ev)
		return REAL(epoll_pwait)(ep, ev, max, 0, mask);
	for (;;) {
		shim_enter();
		n = collect(ep, ev, max);
		shim_leave();
		left = n ? 0 : deadline < 0 ? -1 : deadline - now_ns();
		if (left < -1 || (deadline >= 0 && left < 0))
			left = 0;
		ts.tv_sec = left / 1000000000LL;
		ts.tv_nsec = left % 1000000000LL;
		k = REAL(epoll_pwait2)(ep, ev + n, max - n, left < 0 ? NULL : &ts, mask);
		if (k < 0)
			return n ? n : -1;
		again = false;
		k = filter(ep, ev + n, k, &again);
		if (n + k || !again || (deadline >= 0 && now_ns() >= deadline))
			return n + k;
	}
}

SHIM_EXPORT int epoll_wait(int ep, struct epoll_event *ev, int max, int timeout)
{
	if (shim_bypass() || !has_regs(ep))
		return REAL(epoll_wait)(ep, ev, max, timeout);
	return shim_epoll_wait(ep, ev, max, timeout < 0 ? -1 : timeout * 1000000LL, NULL);
}

SHIM_EXPORT int epoll_pwait(int ep, struct epoll_event *ev, int max, int timeout,
			    const sigset_t *mask)
{
	if (shim_bypass() || !has_regs(ep))
		return REAL(epoll_pwait)(ep, ev, max, timeout, mask);
	return shim_epoll_wait(ep, ev, max, timeout < 0 ? -1 : timeout * 1000000LL, mask);
}

SHIM_EXPORT int epoll_pwait2(int ep, struct epoll_event *ev, int max, const struct timespec *ts,
			     const sigset_t *mask)
{
	if (shim_bypass() || !has_regs(ep))
		return REAL(epoll_pwait2)(ep, ev, max, ts, mask);
	return shim_epoll_wait(ep, ev, max,
			       ts ? ts->tv_sec * 1000000000LL + ts->tv_nsec : -1, mask);
}

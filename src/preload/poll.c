// SPDX-License-Identifier: MIT
/*
 * poll.c - poll, ppoll, select and pselect with implicit sync on dma-bufs.
 *
 * A dma-buf is a memfd, always "ready" to the kernel; its poll bits are the reservation's:
 * POLLIN once no write fence is pending, POLLOUT once no fence is.  Each call looks at the
 * buffers in the set (the shared slot table answers for idle ones, else the broker exports the
 * fences to wait for), polls ready sets with a zero timeout, and otherwise puts the exported
 * sync_file in the buffer's place; when that fires the buffer is looked at again, since new
 * fences may have come meanwhile.  Ordinary descriptors and sync_files (pipes the broker
 * writes) are polled by the kernel as they are.
 *
 * Like Linux, a poll that finds a fence pending keeps a reference to the file until that
 * fence signals (fdinfo's count shows it): here a pin is the exported sync_file, kept until
 * it signals.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dmabuf/fd.h>

#include "shim.h"
#include "backend.h"
#include "broker_ident.h"

/* ---- pins ---- */

struct pin {
	dev_t dev;
	ino_t ino;
	int fd[2];		/* [0] POLLIN's (write fences), [1] POLLOUT's (all fences) */
};

static struct pin *pins;
static unsigned int npins;
static pthread_mutex_t pin_lock = PTHREAD_MUTEX_INITIALIZER;

static bool signaled(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return REAL(poll)(&p, 1, 0) != 0;
}

/* Drop pins whose fences signaled; the lock is held. */
static void pins_reap(void)
{
	unsigned int i, j;

	for (i = 0; i < npins; i++)
		for (j = 0; j < 2; j++)
			if (pins[i].fd[j] >= 0 && signaled(pins[i].fd[j])) {
				REAL(close)(pins[i].fd[j]);
				pins[i].fd[j] = -1;
			}
	for (i = 0; i < npins;)
		if (pins[i].fd[0] < 0 && pins[i].fd[1] < 0)
			pins[i] = pins[--npins];
		else
			i++;
}

static struct pin *pin_find(dev_t dev, ino_t ino, bool make)
{
	struct pin *p;
	unsigned int i;

	for (i = 0; i < npins; i++)
		if (pins[i].dev == dev && pins[i].ino == ino)
			return &pins[i];
	if (!make)
		return NULL;
	p = realloc(pins, (npins + 1) * sizeof(*pins));
	if (!p)
		return NULL;
	pins = p;
	pins[npins] = (struct pin){ dev, ino, { -1, -1 } };
	return &pins[npins++];
}

unsigned int shim_pin_count(dev_t dev, ino_t ino)
{
	unsigned int n = 0;
	struct pin *p;

	pthread_mutex_lock(&pin_lock);
	pins_reap();
	p = pin_find(dev, ino, false);
	if (p)
		n = (p->fd[0] >= 0) + (p->fd[1] >= 0);
	pthread_mutex_unlock(&pin_lock);
	return n;
}

/*
 * Direction @dir (0: POLLIN, 1: POLLOUT) of buffer @fd is not known to be ready: return 1 if
 * it is, else pin it, put a descriptor to wait on into *@wait_fd (if asked and not done yet)
 * and return 0; or a negative errno.
 */
static int pin_or_ready(int fd, const struct stat *st, int dir, int *wait_fd)
{
	unsigned int flags = dir ? DMABUF_FD_SYNC_RW : DMABUF_FD_SYNC_READ;
	struct pin *p;
	int e, ret = 0;

	/* the backend's op: a poll is no EXPORT of the program's (not traced) */
	e = dmabuf_fd_backend()->buf_export_sync_file(fd, flags);
	if (e < 0)
		return e;
	if (signaled(e)) {
		REAL(close)(e);
		return 1;
	}
	pthread_mutex_lock(&pin_lock);
	pins_reap();
	p = pin_find(st->st_dev, st->st_ino, true);
	if (p && p->fd[dir] < 0) {
		p->fd[dir] = e;
		e = -1;
	}
	if (wait_fd && *wait_fd < 0) {
		if (e >= 0) {
			*wait_fd = e;
			e = -1;
		} else {
			/* the pin took it: a copy, while the table cannot move under us */
			*wait_fd = REAL(fcntl)(p->fd[dir], F_DUPFD_CLOEXEC, 0);
			if (*wait_fd < 0)
				ret = -errno;
		}
	}
	pthread_mutex_unlock(&pin_lock);
	if (e >= 0)
		REAL(close)(e);
	return ret;
}

int shim_buf_revents(int fd, short events, int *wait_fd)
{
	static const uint32_t pending[2] = {
		DMABUFD_SLOT_WRITERS_PENDING, DMABUFD_SLOT_FENCES_PENDING,
	};
	static const short bit[2] = { POLLIN, POLLOUT };
	struct broker_ident id;
	bool known = false;
	uint32_t state = 0;
	struct stat st;
	short rev = 0;
	int dir, ret;

	if (wait_fd)
		*wait_fd = -1;
	if (!(events & (POLLIN | POLLOUT)))
		return 0;
	shim_enter();
	ret = fstat(fd, &st) ? -errno : broker_ident_get(fd, &st, &id);
	if (!ret)
		known = broker_ident_state(&id, &state);
	/* POLLIN first: its fences are a subset, so its sync_file is the one to wait on */
	for (dir = 0; !ret && dir < 2; dir++) {
		if (!(events & bit[dir]))
			continue;
		if (known && !(state & pending[dir])) {
			rev |= bit[dir];
			continue;
		}
		ret = pin_or_ready(fd, &st, dir, wait_fd);
		if (ret > 0)
			rev |= bit[dir];
		ret = ret > 0 ? 0 : ret;
	}
	shim_leave();
	if (ret && wait_fd && *wait_fd >= 0) {
		REAL(close)(*wait_fd);
		*wait_fd = -1;
	}
	return ret ? ret : rev;
}

/* ---- the poll family ---- */

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* A timeout the kernel takes: tv_sec >= 0, tv_nsec in [0, 10^9). */
static bool ts_valid(const struct timespec *ts)
{
	return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L;
}

/* The deadline @ts (valid) from now; -1 (forever) when it is beyond what 64 bits hold. */
static int64_t deadline_of(const struct timespec *ts)
{
	int64_t now = now_ns();

	if (ts->tv_sec >= (INT64_MAX - now) / 1000000000LL)
		return -1;
	return now + ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

/* What devices without a poll method report: the kernel's default mask. */
#define DEFAULT_MASK	(POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)

struct poll_state {
	struct pollfd *k;	/* what the kernel polls */
	short *rev;		/* our answer for descriptors of ours */
	int *wait;		/* a sync_file standing in for a buffer, or -1 */
	enum shim_type *type;
};

/* Set up one round; the number of descriptors of ours that are ready now, or -errno. */
static int round_prepare(struct pollfd *fds, nfds_t n, struct poll_state *s)
{
	int ready = 0, r;
	nfds_t i;

	for (i = 0; i < n; i++) {
		s->k[i] = fds[i];
		s->k[i].revents = 0;
		s->rev[i] = 0;
		s->wait[i] = -1;
		switch (s->type[i]) {
		case SHIM_BUF:
			r = shim_buf_revents(fds[i].fd, fds[i].events, &s->wait[i]);
			if (r < 0)
				return r;
			s->rev[i] = (short)r;
			s->k[i].fd = s->wait[i];
			s->k[i].events = POLLIN;
			break;
		case SHIM_TIMELINE:
		case SHIM_HEAP:
			s->rev[i] = fds[i].events & DEFAULT_MASK;
			s->k[i].fd = -1;
			break;
		case SHIM_SYNC_FILE:
			shim_sync_file_polled(fds[i].fd);
			continue;
		default:
			continue;
		}
		if (s->rev[i]) {
			ready++;
			if (s->wait[i] >= 0) {
				REAL(close)(s->wait[i]);
				s->wait[i] = s->k[i].fd = -1;
			}
		}
	}
	return ready;
}

static void round_end(nfds_t n, struct poll_state *s)
{
	nfds_t i;

	for (i = 0; i < n; i++)
		if (s->wait[i] >= 0)
			REAL(close)(s->wait[i]);
}

/*
 * A sync_file polls POLLIN once signaled, nothing else (the pipe would add POLLRDNORM).  A
 * pipe whose broker is gone hangs up: POLLERR then, rather than a poll that never ends.
 */
static short sync_file_revents(short events, short k)
{
	short rev = (k & POLLIN) ? (events & POLLIN) : 0;

	if (k & POLLNVAL)
		return POLLNVAL;
	if ((k & POLLHUP) && !(k & POLLIN))
		rev |= POLLERR;
	return rev;
}

void shim_sync_file_polled(int fd)
{
	if (!shim_fd_first_poll(fd))
		return;
	shim_enter();
	broker_sync_polled(fd);
	shim_leave();
}

/* One round: -errno, or the number of ready descriptors (0 and *@again: look again). */
static int poll_round(struct pollfd *fds, nfds_t n, struct poll_state *s, int64_t deadline,
		      const sigset_t *mask, bool *again)
{
	struct timespec ts, *tsp = NULL;
	int64_t left;
	int ready, r, count = 0;
	nfds_t i;

	*again = false;
	ready = round_prepare(fds, n, s);
	if (ready < 0)
		return ready;
	if (ready || deadline >= 0) {
		left = ready ? 0 : deadline - now_ns();
		if (left < 0)
			left = 0;
		ts.tv_sec = left / 1000000000LL;
		ts.tv_nsec = left % 1000000000LL;
		tsp = &ts;
	}
	r = REAL(ppoll)(s->k, n, tsp, mask);
	if (r < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		if (s->type[i] == SHIM_BUF && s->wait[i] >= 0 && s->k[i].revents)
			*again = true;	/* a buffer may be ready now: look again */
		if (s->type[i] == SHIM_SYNC_FILE)
			fds[i].revents = sync_file_revents(fds[i].events, s->k[i].revents);
		else if (s->type[i] == SHIM_BUF || s->type[i] == SHIM_TIMELINE ||
			 s->type[i] == SHIM_HEAP)
			fds[i].revents = s->rev[i];
		else
			fds[i].revents = s->k[i].revents;
		count += fds[i].revents != 0;
	}
	return count;
}

int shim_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	int64_t deadline = -1;
	struct poll_state s;
	bool ours = false, again;
	void *mem;
	nfds_t i;
	int ret;

	/* an invalid timeout is the kernel's first check (EINVAL): let it answer */
	if (shim_bypass() || !shim_fd_any() || (ts && !ts_valid(ts)))
		return REAL(ppoll)(fds, n, ts, mask);
	/* an event loop's polls pass with table lookups only: no system call, no allocation */
	for (i = 0; i < n && !shim_fd_maybe(fds[i].fd); i++)
		;
	if (i == n)
		return REAL(ppoll)(fds, n, ts, mask);
	mem = calloc(n ? n : 1, sizeof(*s.k) + sizeof(*s.rev) + sizeof(*s.wait) +
				sizeof(*s.type));
	if (!mem)
		return REAL(ppoll)(fds, n, ts, mask);
	s.k = mem;
	s.type = (enum shim_type *)(s.k + n);
	s.wait = (int *)(s.type + n);
	s.rev = (short *)(s.wait + n);
	for (i = 0; i < n; i++) {
		s.type[i] = fds[i].fd < 0 ? SHIM_NONE : shim_fd_get(fds[i].fd, NULL, NULL);
		ours |= s.type[i] != SHIM_NONE && s.type[i] != SHIM_UDMABUF_DEV;
	}
	if (!ours) {
		free(mem);
		return REAL(ppoll)(fds, n, ts, mask);
	}
	if (ts)
		deadline = deadline_of(ts);
	do {
		ret = poll_round(fds, n, &s, deadline, mask, &again);
		round_end(n, &s);
	} while (ret >= 0 && again);
	free(mem);
	return shim_ret(ret);
}

SHIM_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	struct timespec ts = { timeout / 1000, (timeout % 1000) * 1000000L };

	if (shim_bypass() || !shim_fd_any())
		return REAL(poll)(fds, n, timeout);
	return shim_ppoll(fds, n, timeout < 0 ? NULL : &ts, NULL);
}

SHIM_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	return poll(fds, n, timeout);
}

SHIM_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		      const sigset_t *mask)
{
	return shim_ppoll(fds, n, ts, mask);
}

SHIM_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
			    const sigset_t *mask, size_t fdslen)
{
	return shim_ppoll(fds, n, ts, mask);
}

/* ---- select ---- */

/* What select() counts as readable, writable, exceptional (as Linux defines them). */
#define SEL_IN	(POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR)
#define SEL_OUT	(POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR)
#define SEL_EX	(POLLPRI)

static bool select_has_ours(int n, fd_set *r, fd_set *w, fd_set *e)
{
	int fd;

	if (!shim_fd_any())
		return false;
	for (fd = 0; fd < n && fd < FD_SETSIZE; fd++)
		if (((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (e && FD_ISSET(fd, e))) &&
		    shim_fd_maybe(fd))
			return true;
	return false;
}

/* select() in terms of ppoll(); the sets are rewritten with the ready bits. */
static int select_poll(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
		       const sigset_t *mask)
{
	struct pollfd *p;
	int fd, k = 0, count = 0, ret;

	p = calloc(n > 0 ? n : 1, sizeof(*p));
	if (!p)
		return shim_ret(-ENOMEM);
	for (fd = 0; fd < n; fd++) {
		short ev = 0;

		if (r && FD_ISSET(fd, r))
			ev |= POLLIN | POLLRDNORM | POLLRDBAND;
		if (w && FD_ISSET(fd, w))
			ev |= POLLOUT | POLLWRNORM | POLLWRBAND;
		if (e && FD_ISSET(fd, e))
			ev |= POLLPRI;
		if (ev)
			p[k++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	ret = shim_ppoll(p, (nfds_t)k, ts, mask);
	if (ret < 0)
		goto out;
	for (fd = 0; fd < k; fd++)
		if (p[fd].revents & POLLNVAL) {
			errno = EBADF;
			ret = -1;
			goto out;
		}
	if (r)
		FD_ZERO(r);
	if (w)
		FD_ZERO(w);
	if (e)
		FD_ZERO(e);
	for (fd = 0; fd < k; fd++) {
		short rev = p[fd].revents;

		if ((p[fd].events & POLLIN) && (rev & SEL_IN)) {
			FD_SET(p[fd].fd, r);
			count++;
		}
		if ((p[fd].events & POLLOUT) && (rev & SEL_OUT)) {
			FD_SET(p[fd].fd, w);
			count++;
		}
		if ((p[fd].events & POLLPRI) && (rev & SEL_EX)) {
			FD_SET(p[fd].fd, e);
			count++;
		}
	}
	ret = count;
out:
	free(p);
	return ret;
}

/*
 * select()'s timeout as glibc hands it to the kernel: a negative tv_sec or tv_usec is EINVAL
 * (glibc's own check: the kernel would take some), whole seconds in tv_usec carry into tv_sec
 * (saturating).  False if invalid.
 */
static bool select_timeout(const struct timeval *tv, struct timespec *ts)
{
	if (tv->tv_sec < 0 || tv->tv_usec < 0)
		return false;
	if (tv->tv_usec / 1000000 > INT64_MAX - tv->tv_sec) {
		ts->tv_sec = INT64_MAX;
		ts->tv_nsec = 999999999L;
	} else {
		ts->tv_sec = tv->tv_sec + tv->tv_usec / 1000000;
		ts->tv_nsec = (tv->tv_usec % 1000000) * 1000L;
	}
	return true;
}

SHIM_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	struct timespec ts, *tsp = NULL;
	int64_t start, spent;
	int ret;

	if (shim_bypass() || !select_has_ours(n, r, w, e))
		return REAL(select)(n, r, w, e, tv);
	if (tv) {
		if (!select_timeout(tv, &ts))
			return shim_ret(-EINVAL);
		tsp = &ts;
	}
	start = now_ns();
	ret = select_poll(n, r, w, e, tsp, NULL);
	if (tv) {
		/* Linux writes back the time that was left */
		spent = now_ns() - start;
		ts.tv_sec -= spent / 1000000000LL;
		ts.tv_nsec -= spent % 1000000000LL;
		if (ts.tv_nsec < 0) {
			ts.tv_nsec += 1000000000L;
			ts.tv_sec--;
		}
		if (ts.tv_sec < 0)
			ts = (struct timespec){ 0, 0 };
		tv->tv_sec = ts.tv_sec;
		tv->tv_usec = ts.tv_nsec / 1000;
	}
	return ret;
}

SHIM_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
			const sigset_t *mask)
{
	/* an invalid timeout is the kernel's first check (EINVAL): let it answer */
	if (shim_bypass() || (ts && !ts_valid(ts)) || !select_has_ours(n, r, w, e))
		return REAL(pselect)(n, r, w, e, ts, mask);
	return select_poll(n, r, w, e, ts, mask);
}

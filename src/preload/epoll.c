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
 *
 * Lifetimes follow files, not numbers, as in the kernel.  A registration is found by the
 * buffer (st_dev, st_ino) and the number it was added with (the kernel's key is the file and
 * the number), and it lasts while a descriptor of ours for the buffer is open: it polls through
 * any of them and moves to another when the one it used is closed.  A set is one open epoll
 * file: it is known by one of the program's numbers for it, other numbers are recognised with
 * kcmp(KCMP_FILE) (every epoll file has the same anonymous inode, so fstat cannot tell them
 * apart), and when that number is closed the set moves to another number of the same file
 * (looked for in /proc/self/fd) or goes away with its registrations.  Without kcmp only the
 * number a set was first used with reaches its dma-bufs.  A set that survives exec loses its
 * dma-bufs (the registrations lived in the old image).
 */
#include <fcntl.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim.h"

struct epset;

/**
 * struct reg - a dma-buf in an epoll set.
 * @next: the next registration of the set.
 * @set: the set.
 * @fd: the number it was added with (with the file, the key of EPOLL_CTL_MOD and _DEL).
 * @use_fd: a descriptor of ours for the buffer, polled for it (@fd while that is open).
 * @dev: st_dev of the buffer.
 * @ino: st_ino of the buffer.
 * @events: the events asked for.
 * @data: what epoll_wait reports with them.
 * @disabled: a one-shot registration that reported; waits for EPOLL_CTL_MOD.
 * @wait_fd: the stand-in in the real set, or -1.
 */
struct reg {
	struct reg *next;
	struct epset *set;
	int fd;
	int use_fd;
	dev_t dev;
	ino_t ino;
	uint32_t events;
	epoll_data_t data;
	bool disabled;
	int wait_fd;
};

/**
 * struct epset - an epoll file with dma-bufs registered in it.
 * @next: the next set.
 * @ep: one of the program's descriptors for it.
 * @regs: its dma-buf registrations (never empty: a set goes with its last one).
 */
struct epset {
	struct epset *next;
	int ep;
	struct reg *regs;
};

static struct epset *sets;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static bool any_regs;		/* sets != NULL, for a look without the lock */
static int kcmp_state;		/* 0 unknown, 1 works, -1 unavailable */

/* What EPOLLEXCLUSIVE may come with in EPOLL_CTL_ADD. */
#define EXCLUSIVE_OK	(EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | \
			 EPOLLEXCLUSIVE)

static void any_update(void)
{
	__atomic_store_n(&any_regs, sets != NULL, __ATOMIC_RELAXED);
}

/* True if descriptors @a and @b are the same open file (numbers only, without kcmp). */
static bool same_file(int a, int b)
{
	pid_t pid;
	long r;

	if (a == b)
		return true;
	if (a < 0 || b < 0 || __atomic_load_n(&kcmp_state, __ATOMIC_RELAXED) < 0)
		return false;
	pid = getpid();
	r = syscall(SYS_kcmp, pid, pid, KCMP_FILE, a, b);
	if (r < 0 && (errno == ENOSYS || errno == EPERM || errno == EACCES)) {
		__atomic_store_n(&kcmp_state, -1, __ATOMIC_RELAXED);
		return false;
	}
	return r == 0;
}

/* The set @ep is a descriptor of, or NULL; the lock is held. */
static struct epset *set_find(int ep)
{
	struct epset *s;

	for (s = sets; s; s = s->next)
		if (s->ep == ep)
			return s;
	for (s = sets; s; s = s->next)
		if (same_file(s->ep, ep))
			return s;
	return NULL;
}

static void wait_drop(struct reg *r)
{
	if (r->wait_fd < 0)
		return;
	REAL(epoll_ctl)(r->set->ep, EPOLL_CTL_DEL, r->wait_fd, NULL);
	REAL(close)(r->wait_fd);
	r->wait_fd = -1;
}

static void set_unlink(struct epset *s)
{
	struct epset **pp = &sets;

	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	free(s);
	any_update();
}

/* Remove registration @r; its set goes with its last one.  The lock is held. */
static void reg_free(struct reg *r)
{
	struct epset *s = r->set;
	struct reg **pp = &s->regs;

	while (*pp != r)
		pp = &(*pp)->next;
	*pp = r->next;
	wait_drop(r);
	free(r);
	if (!s->regs)
		set_unlink(s);
}

static struct reg *reg_find(struct epset *s, int fd, const struct shim_obj *obj)
{
	struct reg *r;

	for (r = s ? s->regs : NULL; r; r = r->next)
		if (r->fd == fd && r->dev == obj->dev && r->ino == obj->ino)
			return r;
	return NULL;
}

/*
 * Make sure @r polls a descriptor that is still its buffer (numbers can be closed behind our
 * back): false when none of ours is left.
 */
static bool reg_alive(struct reg *r)
{
	struct shim_obj obj;

	if (shim_fd_get(r->use_fd, &obj, NULL) == SHIM_BUF && obj.dev == r->dev &&
	    obj.ino == r->ino)
		return true;
	r->use_fd = shim_fd_find(r->dev, r->ino, -1);
	return r->use_fd >= 0;
}

/* Another of the program's descriptors for the open file @fd, or -1 (needs /proc, kcmp). */
static int other_number(int fd)
{
	char buf[4096] __attribute__((aligned(8))), *end;
	struct dirent64 *d;
	int dir, found = -1;
	long n, pos, k;

	if (__atomic_load_n(&kcmp_state, __ATOMIC_RELAXED) < 0)
		return -1;
	dir = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd",
			   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -1;
	while (found < 0 && (n = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
		for (pos = 0; found < 0 && pos < n; pos += d->d_reclen) {
			d = (struct dirent64 *)(buf + pos);
			k = strtol(d->d_name, &end, 10);
			if (end == d->d_name || *end || k == fd || k == dir)
				continue;
			if (same_file(fd, (int)k))
				found = (int)k;
		}
	}
	REAL(close)(dir);
	return found;
}

/* True if @ep is an epoll file (its /proc link; without /proc, an anonymous inode). */
static bool is_epoll(int ep, const struct stat *st)
{
	static const char want[] = "anon_inode:[eventpoll]";
	char path[40], link[sizeof(want) + 1];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", ep);
	n = readlink(path, link, sizeof(link));
	if (n < 0)
		return (st->st_mode & S_IFMT) == 0;
	return n == (ssize_t)sizeof(want) - 1 && !memcmp(link, want, sizeof(want) - 1);
}

/* @fd, a number of the set @s, is being closed: the set moves to another number or goes. */
static void set_forget(struct epset *s, int fd)
{
	struct stat st;
	int other = -1;

	if (!REAL(fstat)(fd, &st) && is_epoll(fd, &st))
		other = other_number(fd);
	if (other >= 0) {
		s->ep = other;
		return;
	}
	while (s->regs->next)
		reg_free(s->regs);
	reg_free(s->regs);	/* the set goes with it */
}

/*
 * @fd is being closed (or replaced): registrations that polled it move to another descriptor
 * of their buffer and go when none is left; a set known by it moves to another of its numbers
 * and goes, with its registrations, when none is left.
 */
void shim_epoll_forget_fd(int fd)
{
	struct epset *s, *snext;
	struct reg *r, *rnext;
	int saved = errno;
	bool gone;

	if (!__atomic_load_n(&any_regs, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&reg_lock);
	shim_enter();
	for (s = sets; s; s = snext) {
		snext = s->next;
		gone = false;
		for (r = s->regs; r && !gone; r = rnext) {
			rnext = r->next;
			if (r->use_fd != fd)
				continue;
			r->use_fd = shim_fd_find(r->dev, r->ino, fd);
			if (r->use_fd < 0) {
				gone = !s->regs->next;
				reg_free(r);
			}
		}
		if (!gone && s->ep == fd)
			set_forget(s, fd);
	}
	shim_leave();
	pthread_mutex_unlock(&reg_lock);
	errno = saved;		/* close() answers alone */
}

void shim_epoll_forget_range(unsigned int first, unsigned int last)
{
	int fds[64], n, i;
	struct epset *s;
	struct reg *r;

	do {
		if (!__atomic_load_n(&any_regs, __ATOMIC_RELAXED))
			return;
		n = 0;
		pthread_mutex_lock(&reg_lock);
		for (s = sets; s && n < 64; s = s->next) {
			if ((unsigned int)s->ep >= first && (unsigned int)s->ep <= last)
				fds[n++] = s->ep;
			for (r = s->regs; r && n < 64; r = r->next)
				if ((unsigned int)r->use_fd >= first && (unsigned int)r->use_fd <= last)
					fds[n++] = r->use_fd;
		}
		pthread_mutex_unlock(&reg_lock);
		for (i = 0; i < n; i++)
			shim_epoll_forget_fd(fds[i]);
	} while (n == 64);
}

/* Copy the caller's event: 0, or -EFAULT where the kernel's copy would fault. */
static int event_in(struct epoll_event *dst, const struct epoll_event *src)
{
	struct iovec l = { dst, sizeof(*dst) }, r = { (void *)src, sizeof(*dst) };
	ssize_t n;

	if (!src)
		return -EFAULT;
	n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	if (n == (ssize_t)sizeof(*dst))
		return 0;
	if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
		/* no way to probe (seccomp): trust a non-NULL pointer */
		memcpy(dst, src, sizeof(*dst));
		return 0;
	}
	return -EFAULT;
}

/*
 * The checks the kernel makes before it looks the target up, in its order, for a target of
 * ours of @type (open: the table checked it): the event is copied into @ev.
 */
static int ctl_check(int ep, int op, int fd, enum shim_type type,
		     const struct epoll_event *uev, struct epoll_event *ev)
{
	struct stat st;

	if (op != EPOLL_CTL_DEL && event_in(ev, uev))
		return -EFAULT;
	if (REAL(fstat)(ep, &st))
		return -EBADF;
	if (type != SHIM_BUF)
		return -EPERM;		/* no poll method: whatever the operation */
	if (ep == fd || !is_epoll(ep, &st))
		return -EINVAL;
	if (op != EPOLL_CTL_DEL && (ev->events & EPOLLEXCLUSIVE)) {
		if (op == EPOLL_CTL_MOD)
			return -EINVAL;
		if (op == EPOLL_CTL_ADD && (ev->events & ~(uint32_t)EXCLUSIVE_OK))
			return -EINVAL;
	}
	return 0;
}

/* EPOLL_CTL_ADD of buffer @obj as @fd to set @s (NULL: a new set, known as @ep). */
static int ctl_add(struct epset *s, int ep, int fd, const struct shim_obj *obj,
		   const struct epoll_event *ev)
{
	struct reg *r;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			free(r);
			return -ENOMEM;
		}
		*s = (struct epset){ sets, ep, NULL };
		sets = s;
		any_update();
	}
	*r = (struct reg){ s->regs, s, fd, fd, obj->dev, obj->ino, ev->events, ev->data,
			   false, -1 };
	s->regs = r;
	return 0;
}

static int ctl_buf(int ep, int op, int fd, const struct shim_obj *obj,
		   const struct epoll_event *ev)
{
	struct epset *s;
	struct reg *r;
	int ret = 0;

	pthread_mutex_lock(&reg_lock);
	shim_enter();
	s = set_find(ep);
	r = reg_find(s, fd, obj);
	switch (op) {
	case EPOLL_CTL_ADD:
		ret = r ? -EEXIST : ctl_add(s, ep, fd, obj, ev);
		break;
	case EPOLL_CTL_MOD:
		if (!r) {
			ret = -ENOENT;
		} else if (r->events & EPOLLEXCLUSIVE) {
			ret = -EINVAL;
		} else {
			wait_drop(r);
			r->events = ev->events;
			r->data = ev->data;
			r->disabled = false;
		}
		break;
	case EPOLL_CTL_DEL:
		if (r)
			reg_free(r);
		else
			ret = -ENOENT;
		break;
	default:
		ret = -EINVAL;
	}
	shim_leave();
	pthread_mutex_unlock(&reg_lock);
	return ret;
}

SHIM_EXPORT int epoll_ctl(int ep, int op, int fd, struct epoll_event *ev)
{
	struct epoll_event copy = { 0 };
	struct shim_obj obj;
	int ret;

	if (shim_bypass() || !shim_fd_any())
		return REAL(epoll_ctl)(ep, op, fd, ev);
	switch (shim_fd_get(fd, &obj, NULL)) {
	case SHIM_BUF:
	case SHIM_TIMELINE:
	case SHIM_HEAP:
		ret = ctl_check(ep, op, fd, obj.type, ev, &copy);
		if (!ret)
			ret = ctl_buf(ep, op, fd, &obj, &copy);
		return shim_ret(ret);
	case SHIM_SYNC_FILE:
		if (op != EPOLL_CTL_DEL)
			shim_sync_file_polled(fd);
		return REAL(epoll_ctl)(ep, op, fd, ev);
	default:
		return REAL(epoll_ctl)(ep, op, fd, ev);
	}
}

/* Look at buffer @r: true if it is ready (its event in @out), else its stand-in goes in. */
static bool look(struct reg *r, struct epoll_event *out)
{
	int rev, w;

	rev = shim_buf_revents(r->use_fd, (short)(r->events & (EPOLLIN | EPOLLOUT)), &w);
	if (rev < 0)
		return false;
	if (rev) {
		if (w >= 0)
			REAL(close)(w);
		out->events = (uint32_t)rev;
		out->data = r->data;
		if (r->events & EPOLLONESHOT)
			r->disabled = true;
		return true;
	}
	wait_drop(r);
	if (w >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = r };

		r->wait_fd = w;
		if (REAL(epoll_ctl)(r->set->ep, EPOLL_CTL_ADD, w, &ev))
			wait_drop(r);
	}
	return false;
}

/* The buffers of @ep that are ready now into @out (at most @max); stand-ins for the others. */
static int collect(int ep, struct epoll_event *out, int max)
{
	struct reg *r, *next;
	struct epset *s;
	int n = 0;

	pthread_mutex_lock(&reg_lock);
	s = set_find(ep);
	for (r = s ? s->regs : NULL; r && n < max; r = next) {
		next = r->next;
		if (r->disabled)
			continue;
		if (!reg_alive(r)) {
			if (!s->regs->next) {
				reg_free(r);	/* the set went with it */
				break;
			}
			reg_free(r);
			continue;
		}
		if (look(r, &out[n]))
			n++;
	}
	pthread_mutex_unlock(&reg_lock);
	return n;
}

static bool has_regs(int ep)
{
	bool found;

	if (!__atomic_load_n(&any_regs, __ATOMIC_RELAXED))
		return false;
	pthread_mutex_lock(&reg_lock);
	found = set_find(ep) != NULL;
	pthread_mutex_unlock(&reg_lock);
	return found;
}

/* Remove the stand-ins' events from @ev (@n of them); true in *@again if one fired. */
static int filter(int ep, struct epoll_event *ev, int n, bool *again)
{
	struct epset *s;
	struct reg *r;
	int i, k = 0;
	bool mine;

	pthread_mutex_lock(&reg_lock);
	s = n ? set_find(ep) : NULL;
	for (i = 0; i < n; i++) {
		mine = false;
		for (r = s ? s->regs : NULL; r && !mine; r = r->next)
			mine = ev[i].data.ptr == r;
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
	int64_t deadline = -1, left, now = now_ns();
	struct timespec ts;
	bool again;
	int n, k;

	if (max <= 0 || !ev)
		return REAL(epoll_pwait)(ep, ev, max, 0, mask);
	if (timeout_ns >= 0 && timeout_ns <= INT64_MAX - now)
		deadline = now + timeout_ns;	/* else as good as forever */
	for (;;) {
		shim_enter();
		n = collect(ep, ev, max);
		shim_leave();
		if (n == max)
			return n;
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

/* A timeout the kernel takes: tv_sec >= 0, tv_nsec in [0, 10^9). */
static bool ts_valid(const struct timespec *ts)
{
	return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L;
}

SHIM_EXPORT int epoll_pwait2(int ep, struct epoll_event *ev, int max, const struct timespec *ts,
			     const sigset_t *mask)
{
	int64_t ns = -1;

	/* an invalid timeout is the kernel's first check (EINVAL): let it answer */
	if (shim_bypass() || (ts && !ts_valid(ts)) || !has_regs(ep))
		return REAL(epoll_pwait2)(ep, ev, max, ts, mask);
	if (ts && ts->tv_sec < INT64_MAX / 1000000000LL)
		ns = ts->tv_sec * 1000000000LL + ts->tv_nsec;
	return shim_epoll_wait(ep, ev, max, ns, mask);
}

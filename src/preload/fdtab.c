// SPDX-License-Identifier: MIT
/*
 * fdtab.c - which descriptors are ours.
 *
 * One entry per descriptor number, in a table reserved once (pages are touched only where
 * descriptors live).  An entry is made when the library hands out a descriptor (open of a
 * device, an ioctl that returns one, dup) or adopts one that arrived (SCM_RIGHTS, exec).
 * Descriptors can be closed or replaced behind our back (fclose, close_range, a library's
 * raw syscall), so an entry is trusted only while fstat() still shows the same file.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"
#include "broker_ident.h"

/* Descriptors above this are never ours (one entry costs 24 bytes of address space). */
#define FDTAB_MAX	(1U << 20)

struct entry {
	_Atomic int type;
	int oflags;
	dev_t dev;
	ino_t ino;
};

static struct entry *tab;
static unsigned int tab_len;
static _Atomic unsigned int tab_hi;	/* above every descriptor ever recorded */
static atomic_bool any;
static pthread_mutex_t tab_lock = PTHREAD_MUTEX_INITIALIZER;

/* Reserve the table at the first entry: as long as the hard descriptor limit, at most MAX. */
static bool tab_ready(void)
{
	struct rlimit rl;
	unsigned int len = FDTAB_MAX;
	void *p;

	if (__atomic_load_n(&tab, __ATOMIC_ACQUIRE))
		return true;
	pthread_mutex_lock(&tab_lock);
	if (!tab) {
		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_max < len)
			len = rl.rlim_max < 1024 ? 1024 : (unsigned int)rl.rlim_max;
		p = REAL(mmap)(NULL, (size_t)len * sizeof(struct entry), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED) {
			tab_len = len;
			__atomic_store_n(&tab, p, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&tab_lock);
	return tab != NULL;
}

static struct entry *slot(int fd)
{
	struct entry *t = __atomic_load_n(&tab, __ATOMIC_ACQUIRE);

	if (!t || fd < 0 || (unsigned int)fd >= tab_len)
		return NULL;
	return &t[fd];
}

bool shim_fd_any(void)
{
	return atomic_load_explicit(&any, memory_order_relaxed);
}

static void set(int fd, enum shim_type type, int oflags, const struct stat *st)
{
	struct entry *e;

	if (!tab_ready() || !(e = slot(fd)))
		return;
	if ((unsigned int)fd >= atomic_load(&tab_hi))
		atomic_store(&tab_hi, (unsigned int)fd + 1);
	e->oflags = oflags;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	atomic_store(&e->type, (int)type);
	atomic_store(&any, true);
}

bool shim_fd_maybe(int fd)
{
	struct entry *e;

	return shim_fd_any() && (e = slot(fd)) && atomic_load(&e->type) != SHIM_NONE;
}

enum shim_type shim_fd_get(int fd, struct shim_obj *obj, struct stat *st)
{
	struct entry *e;
	struct stat buf;
	int type;

	if (!shim_fd_any() || !(e = slot(fd)))
		return SHIM_NONE;
	type = atomic_load(&e->type);
	if (type == SHIM_NONE)
		return SHIM_NONE;
	if (!st)
		st = &buf;
	if (REAL(fstat)(fd, st) || st->st_dev != e->dev || st->st_ino != e->ino) {
		atomic_store(&e->type, SHIM_NONE);
		return SHIM_NONE;
	}
	if (obj)
		*obj = (struct shim_obj){ type, e->oflags, e->dev, e->ino };
	return (enum shim_type)type;
}

/* An entry's oflags bit for "polled": open() flags never use the sign bit. */
#define POLLED	INT_MIN

bool shim_fd_first_poll(int fd)
{
	struct entry *e = slot(fd);

	return e && !(__atomic_fetch_or(&e->oflags, POLLED, __ATOMIC_RELAXED) & POLLED);
}

void shim_fd_track(int fd, enum shim_type type, int oflags)
{
	struct stat st;

	if (fd >= 0 && !REAL(fstat)(fd, &st))
		set(fd, type, oflags, &st);
}

void shim_fd_untrack(int fd)
{
	struct entry *e = slot(fd);

	/* a load first: a store would commit the table's page for any descriptor closed */
	if (e && atomic_load(&e->type) != SHIM_NONE)
		atomic_store(&e->type, SHIM_NONE);
}

void shim_fd_dup(int oldfd, int newfd)
{
	struct shim_obj obj;
	struct stat st;

	shim_fd_untrack(newfd);
	if (shim_fd_get(oldfd, &obj, &st) != SHIM_NONE)
		set(newfd, obj.type, obj.oflags, &st);
}

static enum shim_type from_broker(uint32_t type)
{
	switch (type) {
	case DMABUFD_TYPE_BUF:
		return SHIM_BUF;
	case DMABUFD_TYPE_SYNC_FILE:
		return SHIM_SYNC_FILE;
	case DMABUFD_TYPE_TIMELINE:
		return SHIM_TIMELINE;
	case DMABUFD_TYPE_HEAP:
		return SHIM_HEAP;
	default:
		return SHIM_NONE;
	}
}

/*
 * Whether @fd (fstat @st) may be a broker buffer: a memfd named by the broker ("dmabuf-"
 * and the exporter, see src/proto/proto.h).  A program's own memfds (wl_shm pools, ...)
 * are told apart with one readlink(), without asking the broker.
 */
static bool broker_memfd(int fd, const struct stat *st)
{
	static const char prefix[] = "/memfd:" DMABUFD_MEMFD_PREFIX;
	char path[40], target[sizeof(prefix)];

	if (!S_ISREG(st->st_mode) || st->st_nlink)
		return false;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return readlink(path, target, sizeof(target)) == (ssize_t)sizeof(target) &&
	       !memcmp(target, prefix, sizeof(prefix) - 1);
}

void shim_fd_adopt(int fd)
{
	struct broker_ident id;
	struct stat st;

	shim_fd_untrack(fd);
	/* broker objects are memfds and pipes: nothing else needs a question */
	if (REAL(fstat)(fd, &st) || !(S_ISFIFO(st.st_mode) || broker_memfd(fd, &st)))
		return;
	shim_enter();
	if (broker_ident_get(fd, &st, &id) == 0 && from_broker(id.type) != SHIM_NONE)
		set(fd, from_broker(id.type), 0, &st);
	shim_leave();
}

unsigned int shim_fd_refs(dev_t dev, ino_t ino)
{
	unsigned int fd, n = 0;
	struct stat st;

	for (fd = 0; tab && fd < atomic_load(&tab_hi); fd++) {
		if (atomic_load(&tab[fd].type) == SHIM_NONE || tab[fd].dev != dev ||
		    tab[fd].ino != ino)
			continue;
		if (!REAL(fstat)((int)fd, &st) && st.st_dev == dev && st.st_ino == ino)
			n++;
	}
	return n;
}

int shim_fd_find(dev_t dev, ino_t ino, int except)
{
	unsigned int fd;
	struct stat st;

	for (fd = 0; tab && fd < atomic_load(&tab_hi); fd++) {
		if ((int)fd == except || atomic_load(&tab[fd].type) == SHIM_NONE ||
		    tab[fd].dev != dev || tab[fd].ino != ino)
			continue;
		if (!REAL(fstat)((int)fd, &st) && st.st_dev == dev && st.st_ino == ino)
			return (int)fd;
	}
	return -1;
}

void shim_fd_each(void (*fn)(int fd, const struct shim_obj *obj, void *arg), void *arg)
{
	struct shim_obj obj;
	unsigned int fd;

	for (fd = 0; tab && fd < atomic_load(&tab_hi); fd++)
		if (atomic_load(&tab[fd].type) != SHIM_NONE &&
		    shim_fd_get((int)fd, &obj, NULL) != SHIM_NONE)
			fn((int)fd, &obj, arg);
}

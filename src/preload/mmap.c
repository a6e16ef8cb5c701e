// SPDX-License-Identifier: MIT
/*
 * mmap.c - mmap of dma-bufs, and the table of their mappings.
 *
 * A dma-buf is mapped by dmabuf_fd_buf_mmap(): the kernel's checks, and for a udmabuf its
 * memfd ranges one after another.  In the kernel every mapping (VMA) of a dma-buf holds a
 * reference to its file, which fdinfo's count shows; here the table keeps the address ranges
 * of those mappings, sorted and disjoint, each with the buffer it maps.  munmap() of part of a
 * range leaves what the kernel leaves (unmapping the middle makes two VMAs: two entries);
 * a MAP_FIXED mapping or mremap() over a range replaces it.  The kernel refuses to grow a
 * dma-buf mapping with mremap() (EFAULT: the exporters' mappings cannot expand).
 *
 * Mappings of anything else pass straight through; munmap/mremap/MAP_FIXED take the table's
 * lock only while it holds a range.
 */
#undef _FILE_OFFSET_BITS
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dmabuf/fd.h>

#include "shim.h"

_Static_assert(sizeof(off_t) == sizeof(off64_t), "one file offset (LP64)");

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif

struct map {
	uintptr_t start;
	uintptr_t end;
	dev_t dev;
	ino_t ino;
};

static struct map *maps;
static size_t n_maps, cap_maps;
static unsigned int any_maps;	/* n_maps, readable without the lock */
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static uintptr_t page_size(void)
{
	static uintptr_t page;

	if (!page)
		page = (uintptr_t)sysconf(_SC_PAGESIZE);
	return page;
}

/* @len in whole pages; 0 when that wraps. */
static uintptr_t page_len(size_t len)
{
	uintptr_t p = page_size();

	return len + p - 1 < len ? 0 : (len + p - 1) & ~(p - 1);
}

static bool table_used(void)
{
	return __atomic_load_n(&any_maps, __ATOMIC_ACQUIRE) != 0;
}

static void table_changed(void)
{
	__atomic_store_n(&any_maps, n_maps ? 1U : 0U, __ATOMIC_RELEASE);
}

/*
 * The lock, taken once per thread: fork holds it from the prepare handler to the child and
 * parent handlers (so that the child gets a consistent table and no lock held by a thread
 * it does not have), and other libraries' fork handlers that run in between may map and
 * unmap (the broker connection's do).
 */
static __thread unsigned int map_held __attribute__((tls_model("initial-exec")));

static void lock(void)
{
	if (map_held++ == 0)
		pthread_mutex_lock(&map_lock);
}

static void unlock(void)
{
	if (--map_held == 0)
		pthread_mutex_unlock(&map_lock);
}

static void lock_prepare(void)
{
	lock();
}

static void lock_release(void)
{
	unlock();
}

static void atfork_register(void)
{
	pthread_atfork(lock_prepare, lock_release, lock_release);
}

/* The first range that ends above @addr (n_maps if none). */
static size_t first_above(uintptr_t addr)
{
	size_t lo = 0, hi = n_maps, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (maps[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool grow(void)
{
	size_t cap = cap_maps ? 2 * cap_maps : 16;
	struct map *m;

	if (n_maps < cap_maps)
		return true;
	m = realloc(maps, cap * sizeof(*m));
	if (!m)
		return false;
	maps = m;
	cap_maps = cap;
	return true;
}

static void insert_at(size_t i, const struct map *m)
{
	memmove(&maps[i + 1], &maps[i], (n_maps - i) * sizeof(*maps));
	maps[i] = *m;
	n_maps++;
}

/* Nothing is mapped in [lo, hi) any more: cut it out of every range. */
static void drop(uintptr_t lo, uintptr_t hi)
{
	size_t i = first_above(lo);
	struct map tail;

	while (i < n_maps && maps[i].start < hi) {
		struct map *m = &maps[i];

		if (m->start < lo && m->end > hi) {
			/* the middle goes: one VMA becomes two */
			tail = *m;
			tail.start = hi;
			m->end = lo;
			if (grow())
				insert_at(i + 1, &tail);
			break;
		}
		if (m->start < lo) {
			m->end = lo;
			i++;
		} else if (m->end > hi) {
			m->start = hi;
			break;
		} else {
			memmove(m, m + 1, (n_maps - i - 1) * sizeof(*maps));
			n_maps--;
		}
	}
	table_changed();
}

/* [lo, hi) now maps the buffer (@dev, @ino); the place was cleared by drop(). */
static void add(uintptr_t lo, uintptr_t hi, dev_t dev, ino_t ino)
{
	struct map m = { lo, hi, dev, ino };

	pthread_once(&atfork_once, atfork_register);
	if (grow())
		insert_at(first_above(lo), &m);
	table_changed();
}

/* The range holding @addr, or NULL. */
static struct map *lookup(uintptr_t addr)
{
	size_t i = first_above(addr);

	return i < n_maps && maps[i].start <= addr ? &maps[i] : NULL;
}

unsigned int shim_map_count(dev_t dev, ino_t ino)
{
	unsigned int n = 0;
	size_t i;

	if (!table_used())
		return 0;
	lock();
	for (i = 0; i < n_maps; i++)
		if (maps[i].dev == dev && maps[i].ino == ino)
			n++;
	unlock();
	return n;
}

/* ---- mmap ---- */

/* A mapping of anything but a dma-buf; a fixed one replaces what was there. */
static void *map_other(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p;

	if (!(flags & MAP_FIXED) || !table_used())
		return REAL(mmap)(addr, len, prot, flags, fd, off);
	lock();
	p = REAL(mmap)(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED)
		drop((uintptr_t)p, (uintptr_t)p + page_len(len));
	unlock();
	return p;
}

static void *map_buf(void *addr, size_t len, int prot, int flags, int fd, off_t off,
		     const struct shim_obj *obj)
{
	void *p = NULL;
	int ret;

	shim_enter();
	ret = dmabuf_fd_buf_mmap(fd, addr, len, prot, flags, (uint64_t)off, &p);
	shim_leave();
	if (ret < 0) {
		errno = -ret;
		return MAP_FAILED;
	}
	lock();
	drop((uintptr_t)p, (uintptr_t)p + page_len(len));
	add((uintptr_t)p, (uintptr_t)p + page_len(len), obj->dev, obj->ino);
	unlock();
	return p;
}

/* Access rights, then the missing mmap operation: what mmap(2) says to our other files. */
static int map_refused(size_t len, int prot, int flags, off_t off, enum shim_type type,
		       const struct shim_obj *obj)
{
	int acc = type == SHIM_SYNC_FILE ? O_RDONLY : obj->oflags & O_ACCMODE;
	int mtype = flags & MAP_TYPE;

	if ((uintptr_t)off & (page_size() - 1) || !len)
		return -EINVAL;
	if (!page_len(len))
		return -ENOMEM;
	if (mtype != MAP_SHARED && mtype != MAP_SHARED_VALIDATE && mtype != MAP_PRIVATE)
		return -EINVAL;
	if (mtype != MAP_PRIVATE && (prot & PROT_WRITE) && acc != O_WRONLY && acc != O_RDWR)
		return -EACCES;
	if (acc != O_RDONLY && acc != O_RDWR)
		return -EACCES;
	return -ENODEV;
}

static void *do_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct shim_obj obj;
	enum shim_type type;

	if (shim_bypass())
		return REAL(mmap)(addr, len, prot, flags, fd, off);
	if (flags & MAP_ANONYMOUS)
		return map_other(addr, len, prot, flags, fd, off);
	type = shim_fd_get(fd, &obj, NULL);
	if (type == SHIM_NONE)
		return map_other(addr, len, prot, flags, fd, off);
	if (type == SHIM_BUF)
		return map_buf(addr, len, prot, flags, fd, off, &obj);
	errno = -map_refused(len, prot, flags, off, type, &obj);
	return MAP_FAILED;
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	return do_mmap(addr, len, prot, flags, fd, off);
}

SHIM_EXPORT int munmap(void *addr, size_t len)
{
	int ret;

	if (shim_bypass() || !table_used())
		return REAL(munmap)(addr, len);
	lock();
	ret = REAL(munmap)(addr, len);
	if (!ret)
		drop((uintptr_t)addr, (uintptr_t)addr + page_len(len));
	unlock();
	return ret;
}

/* ---- mremap ---- */

/*
 * mremap(2)'s checks for a dma-buf mapping at @m, in its order.  The exporters' mappings
 * cannot expand (EFAULT, as for any growth, also into a new place) nor stay behind
 * (MREMAP_DONTUNMAP: EINVAL); shrinking and moving are allowed.
 */
static int remap_check(const struct map *m, uintptr_t old, size_t old_len, size_t new_len,
		       int flags)
{
	uintptr_t ol = page_len(old_len), nl = page_len(new_len);

	if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP))
		return -EINVAL;
	if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))
		return -EINVAL;
	if ((flags & MREMAP_DONTUNMAP) && (!(flags & MREMAP_MAYMOVE) || old_len != new_len))
		return -EINVAL;
	if (old & (page_size() - 1) || !nl)
		return -EINVAL;
	if (flags & MREMAP_DONTUNMAP)
		return -EINVAL;
	if (!(flags & MREMAP_FIXED) && ol >= nl)
		return 0;	/* shrinking (or nothing): the tail is unmapped */
	/* a move shrinks first; what moves must lie in the one mapping */
	if ((ol < nl ? ol : nl) > m->end - old)
		return -EFAULT;
	if (nl > ol)
		return -EFAULT;
	return 0;
}

/* The table after a successful mremap() of [old, +old_len) to [p, +new_len). */
static void remapped(const struct map *hit, uintptr_t old, size_t old_len, uintptr_t p,
		     size_t new_len)
{
	uintptr_t ol = page_len(old_len), nl = page_len(new_len);
	struct map m;

	if (p == old) {
		if (nl < ol)
			drop(old + nl, old + ol);
		return;
	}
	if (hit)
		m = *hit;
	drop(old, old + ol);
	drop(p, p + nl);
	if (hit)
		add(p, p + nl, m.dev, m.ino);
}

SHIM_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL, *p;
	struct map *hit;
	va_list ap;
	int ret;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (shim_bypass() || !table_used())
		return REAL(mremap)(old, old_len, new_len, flags, new_addr);
	lock();
	hit = lookup((uintptr_t)old);
	if (hit) {
		ret = remap_check(hit, (uintptr_t)old, old_len, new_len, flags);
		if (ret) {
			unlock();
			errno = -ret;
			return MAP_FAILED;
		}
	}
	p = REAL(mremap)(old, old_len, new_len, flags, new_addr);
	if (p != MAP_FAILED && !(flags & MREMAP_DONTUNMAP))
		remapped(hit, (uintptr_t)old, old_len, (uintptr_t)p, new_len);
	else if (p != MAP_FAILED)
		drop((uintptr_t)p, (uintptr_t)p + page_len(new_len));
	unlock();
	return p;
}

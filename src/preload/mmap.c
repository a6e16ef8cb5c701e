// SPDX-License-Identifier: MIT
/*
 * mmap.c - mmap, munmap and mremap of dma-bufs.
 *
 * A dma-buf is mapped by dmabuf_fd_buf_mmap(): the kernel's checks, for a udmabuf its memfd
 * ranges one after another, for an incoherent buffer the process's CPU view.  It records the
 * mapping in the client's table of dma-buf mappings (src/client/maps.h), which stands for
 * the kernel's VMAs: each holds a reference to its file, which fdinfo's count shows.
 * munmap() of part of a range leaves what the kernel leaves (unmapping the middle makes two
 * VMAs); a MAP_FIXED mapping or mremap() over a range replaces it.  The kernel refuses to
 * grow a dma-buf mapping with mremap() (EFAULT: the exporters' mappings cannot expand).
 *
 * Mappings of anything else pass straight through; munmap/mremap/MAP_FIXED take the table's
 * lock only while it holds a range.
 */
#undef _FILE_OFFSET_BITS
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dmabuf/fd.h>

#include "maps.h"
#include "shim.h"

_Static_assert(sizeof(off_t) == sizeof(off64_t), "one file offset (LP64)");

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif

static uintptr_t page_size(void)
{
	static uintptr_t page;

	if (!page)
		page = (uintptr_t)sysconf(_SC_PAGESIZE);
	return page;
}

unsigned int shim_map_count(dev_t dev, ino_t ino)
{
	return dmabuf_maps_count(dev, ino);
}

/* ---- mmap ---- */

/* A mapping of anything but a dma-buf; a fixed one replaces what was there. */
static void *map_other(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p;

	if (!(flags & MAP_FIXED) || !dmabuf_maps_used())
		return REAL(mmap)(addr, len, prot, flags, fd, off);
	dmabuf_maps_lock();
	p = REAL(mmap)(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED) {
		shim_enter();
		dmabuf_maps_drop((uintptr_t)p, (uintptr_t)p + dmabuf_maps_page_len(len));
		shim_leave();
	}
	dmabuf_maps_unlock();
	return p;
}

/* dmabuf_fd_buf_mmap() records the mapping. */
static void *map_buf(void *addr, size_t len, int prot, int flags, int fd, off_t off)
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
	if (!dmabuf_maps_page_len(len))
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
		return map_buf(addr, len, prot, flags, fd, off);
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

	if (shim_bypass() || !dmabuf_maps_used())
		return REAL(munmap)(addr, len);
	shim_enter();
	ret = dmabuf_maps_munmap(addr, len);
	shim_leave();
	return ret;
}

/* ---- mremap ---- */

/*
 * mremap(2)'s checks for a dma-buf mapping at @m, in its order.  The exporters' mappings
 * cannot expand (EFAULT, as for any growth, also into a new place) nor stay behind
 * (MREMAP_DONTUNMAP: EINVAL); shrinking and moving are allowed.
 */
static int remap_check(const struct dmabuf_map *m, uintptr_t old, size_t old_len, size_t new_len,
		       int flags)
{
	uintptr_t ol = dmabuf_maps_page_len(old_len), nl = dmabuf_maps_page_len(new_len);

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

SHIM_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	struct dmabuf_map *hit, copy;
	void *new_addr = NULL, *p;
	va_list ap;
	int ret;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (shim_bypass() || !dmabuf_maps_used())
		return REAL(mremap)(old, old_len, new_len, flags, new_addr);
	dmabuf_maps_lock();
	hit = dmabuf_maps_lookup((uintptr_t)old);
	if (hit) {
		ret = remap_check(hit, (uintptr_t)old, old_len, new_len, flags);
		if (ret) {
			dmabuf_maps_unlock();
			errno = -ret;
			return MAP_FAILED;
		}
		copy = *hit;
	}
	p = REAL(mremap)(old, old_len, new_len, flags, new_addr);
	shim_enter();
	if (p != MAP_FAILED && !(flags & MREMAP_DONTUNMAP))
		dmabuf_maps_remapped(hit ? &copy : NULL, (uintptr_t)old, old_len, (uintptr_t)p,
				     new_len);
	else if (p != MAP_FAILED)
		dmabuf_maps_drop((uintptr_t)p, (uintptr_t)p + dmabuf_maps_page_len(new_len));
	shim_leave();
	dmabuf_maps_unlock();
	return p;
}

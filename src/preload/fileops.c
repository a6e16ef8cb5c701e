// SPDX-License-Identifier: MIT
/*
 * fileops.c - read/write/lseek/fstat/... where our descriptors are not what they look like;
 * dup and close.
 *
 * A dma-buf here is a memfd, a sync_file, timeline or heap descriptor a pipe, /dev/udmabuf a
 * descriptor of /dev/null.  The kernel's files have none of read, write, fsync or fallocate
 * (a dma-buf has only its own lseek), so every such call fails the way the VFS fails it for
 * a file without the operation: EBADF when the access mode does not allow it, else EINVAL;
 * the p* calls fail ESPIPE first on files that cannot be positioned.  The broker's objects
 * are never touched by those calls: the byte in a sync_file's pipe is its signal.
 *
 * Descriptors that are not ours pass straight through after one table lookup.
 */
#undef _FILE_OFFSET_BITS
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "one stat layout (LP64)");
_Static_assert(sizeof(off_t) == sizeof(off64_t), "one file offset (LP64)");

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE	(1U << 1)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC	(1U << 2)
#endif

/* The kernel's largest whence (SEEK_HOLE): above it lseek fails EINVAL before the file. */
#define WHENCE_MAX	SEEK_HOLE

/* ---- what the kernel's file would allow ---- */

/* The access mode of our descriptor's kernel file (O_RDONLY, O_WRONLY, O_RDWR or 3). */
static int acc_mode(int fd, enum shim_type type, const struct shim_obj *obj)
{
	int fl;

	switch (type) {
	case SHIM_BUF:
		/* the broker hands a buffer out with the access mode asked for */
		fl = REAL(fcntl)(fd, F_GETFL);
		return fl < 0 ? O_RDWR : fl & O_ACCMODE;
	case SHIM_SYNC_FILE:
		return O_RDONLY;
	default:
		return obj->oflags & O_ACCMODE;
	}
}

static bool can_read(int acc)
{
	return acc == O_RDONLY || acc == O_RDWR;
}

static bool can_write(int acc)
{
	return acc == O_WRONLY || acc == O_RDWR;
}

/*
 * Whether pread/pwrite reach the file at all (FMODE_PREAD/PWRITE): not for files made
 * without an open (dma-bufs, sync_files) nor for the heap device (nonseekable_open).
 */
static bool can_pread(enum shim_type type)
{
	return type == SHIM_UDMABUF_DEV || type == SHIM_TIMELINE;
}

/* read(), readv(): the file has no read operation. */
static int rw_fail(int fd, enum shim_type type, const struct shim_obj *obj, bool write)
{
	int acc = acc_mode(fd, type, obj);

	if (!(write ? can_write(acc) : can_read(acc)))
		return -EBADF;
	return -EINVAL;
}

/* pread(), preadv(), pwrite(), pwritev(). */
static int prw_fail(int fd, enum shim_type type, const struct shim_obj *obj, off_t off,
		    bool write)
{
	if (off < 0)
		return -EINVAL;
	if (!can_pread(type))
		return -ESPIPE;
	return rw_fail(fd, type, obj, write);
}

/* ---- read and write ---- */

static ssize_t do_read(int fd, void *buf, size_t n)
{
	struct shim_obj obj;
	enum shim_type type;

	if (shim_bypass() || (type = shim_fd_get(fd, &obj, NULL)) == SHIM_NONE)
		return REAL(read)(fd, buf, n);
	return shim_ret(rw_fail(fd, type, &obj, false));
}

static ssize_t do_write(int fd, const void *buf, size_t n)
{
	struct shim_obj obj;
	enum shim_type type;

	if (shim_bypass() || (type = shim_fd_get(fd, &obj, NULL)) == SHIM_NONE)
		return REAL(write)(fd, buf, n);
	return shim_ret(rw_fail(fd, type, &obj, true));
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	return do_read(fd, buf, n);
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	return do_write(fd, buf, n);
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	struct shim_obj obj;
	enum shim_type type;

	if (shim_bypass() || (type = shim_fd_get(fd, &obj, NULL)) == SHIM_NONE)
		return REAL(readv)(fd, iov, n);
	return shim_ret(rw_fail(fd, type, &obj, false));
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
	struct shim_obj obj;
	enum shim_type type;

	if (shim_bypass() || (type = shim_fd_get(fd, &obj, NULL)) == SHIM_NONE)
		return REAL(writev)(fd, iov, n);
	return shim_ret(rw_fail(fd, type, &obj, true));
}

static ssize_t do_pread(int fd, void *buf, size_t n, off_t off)
{
	struct shim_obj obj;
	enum shim_type type;

	if (shim_bypass() || (type = shim_fd_get(fd, &obj, NULL)) == SHIM_NONE)
		return REAL(pread)(fd, buf, n, off);
	return shim_ret(prw_fail(fd, type, &obj, off, false));
}

static ssize_t do_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct shim_obj obj;
	enum shim_type type;

	if (shim_bypass() || (type = shim_fd_get(fd, &obj, NULL)) == SHIM_NONE)
		return REAL(pwrite)(fd, buf, n, off);
	return shim_ret(prw_fail(fd, type, &obj, off, true));
}

SHIM_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	return do_pread(fd, buf, n, off);
}

SHIM_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	return do_pread(fd, buf, n, off);
}

SHIM_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return do_pwrite(fd, buf, n, off);
}

SHIM_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	return do_pwrite(fd, buf, n, off);
}

static ssize_t do_preadv(int fd, const struct iovec *iov, int n, off_t off)
{
	struct shim_obj obj;
	enum shim_type type;

	if (shim_bypass() || (type = shim_fd_get(fd, &obj, NULL)) == SHIM_NONE)
		return REAL(preadv)(fd, iov, n, off);
	return shim_ret(prw_fail(fd, type, &obj, off, false));
}

static ssize_t do_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	struct shim_obj obj;
	enum shim_type type;

	if (shim_bypass() || (type = shim_fd_get(fd, &obj, NULL)) == SHIM_NONE)
		return REAL(pwritev)(fd, iov, n, off);
	return shim_ret(prw_fail(fd, type, &obj, off, true));
}

SHIM_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int n, off_t off)
{
	return do_preadv(fd, iov, n, off);
}

SHIM_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int n, off64_t off)
{
	return do_preadv(fd, iov, n, off);
}

SHIM_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	return do_pwritev(fd, iov, n, off);
}

SHIM_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int n, off64_t off)
{
	return do_pwritev(fd, iov, n, off);
}

/* ---- lseek ---- */

/*
 * A dma-buf only tells its size: offset 0 from the start (0) or the end (the size); the
 * file position never moves.  Our other files cannot be positioned at all.
 */
static off_t do_lseek(int fd, off_t off, int whence)
{
	enum shim_type type;
	struct stat st;

	if (shim_bypass() || (type = shim_fd_get(fd, NULL, &st)) == SHIM_NONE)
		return REAL(lseek)(fd, off, whence);
	if ((unsigned int)whence > WHENCE_MAX)
		return shim_ret(-EINVAL);
	if (type != SHIM_BUF)
		return shim_ret(-ESPIPE);
	if (off != 0)
		return shim_ret(-EINVAL);
	if (whence == SEEK_SET)
		return 0;
	if (whence == SEEK_END)
		return st.st_size;
	return shim_ret(-EINVAL);
}

SHIM_EXPORT off_t lseek(int fd, off_t off, int whence)
{
	return do_lseek(fd, off, whence);
}

SHIM_EXPORT off64_t lseek64(int fd, off64_t off, int whence)
{
	return do_lseek(fd, off, whence);
}

/* ---- fstat ---- */

/*
 * What the kernel's inode shows, over the real fstat of our descriptor in @st: dma-bufs
 * and sync_files are anonymous inodes (no file type, 0600; a dma-buf's size is its size,
 * which the memfd already has); the heap device, /dev/udmabuf and the sw_sync file look as
 * stat() of their paths says (dev.c).
 */
static void fake_fstat(enum shim_type type, struct stat *st)
{
	switch (type) {
	case SHIM_BUF:
		st->st_nlink = 1;
		st->st_blocks = 0;
		st->st_mode = S_IRUSR | S_IWUSR;
		return;
	case SHIM_SYNC_FILE:
		st->st_nlink = 1;
		st->st_blocks = 0;
		st->st_mode = S_IRUSR | S_IWUSR;
		st->st_size = 0;
		return;
	default:
		shim_dev_fake_stat(type, st);
		return;
	}
}

static int do_fstat(int fd, struct stat *st)
{
	enum shim_type type;

	if (shim_bypass() || (type = shim_fd_get(fd, NULL, st)) == SHIM_NONE)
		return REAL(fstat)(fd, st);
	fake_fstat(type, st);
	return 0;
}

SHIM_EXPORT int fstat(int fd, struct stat *st)
{
	return do_fstat(fd, st);
}

SHIM_EXPORT int fstat64(int fd, struct stat64 *st)
{
	return do_fstat(fd, (struct stat *)st);
}

/* The 64-bit kABIs' versions (_STAT_VER_KERNEL 0, _STAT_VER_LINUX 1) share one layout. */
SHIM_EXPORT int __fxstat(int ver, int fd, struct stat *st)
{
	if (ver != 0 && ver != 1)
		return shim_ret(-EINVAL);
	return do_fstat(fd, st);
}

SHIM_EXPORT int __fxstat64(int ver, int fd, struct stat *st)
{
	if (ver != 0 && ver != 1)
		return shim_ret(-EINVAL);
	return do_fstat(fd, st);
}

/* ---- ftruncate, fallocate, fsync ---- */

/* None of our files is a regular file open for writing: the VFS says EINVAL. */
static int do_ftruncate(int fd, off_t len)
{
	if (shim_bypass() || shim_fd_get(fd, NULL, NULL) == SHIM_NONE)
		return REAL(ftruncate)(fd, len);
	return shim_ret(-EINVAL);
}

SHIM_EXPORT int ftruncate(int fd, off_t len)
{
	return do_ftruncate(fd, len);
}

SHIM_EXPORT int ftruncate64(int fd, off64_t len)
{
	return do_ftruncate(fd, len);
}

/* The mode checks fallocate(2) makes before it looks at the file's type. */
static int falloc_mode_check(int mode)
{
	const int known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE |
			  FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE;

	if (mode & ~known)
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && (mode & FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_COLLAPSE_RANGE) && (mode & ~FALLOC_FL_COLLAPSE_RANGE))
		return -EINVAL;
	if ((mode & FALLOC_FL_INSERT_RANGE) && (mode & ~FALLOC_FL_INSERT_RANGE))
		return -EINVAL;
	if ((mode & FALLOC_FL_UNSHARE_RANGE) &&
	    (mode & ~(FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE)))
		return -EINVAL;
	return 0;
}

/*
 * Arguments, then the access mode, then the file type: ENODEV for everything that is neither
 * a regular file nor a block device; the sw_sync debugfs file is a regular file without the
 * operation (EOPNOTSUPP).
 */
static int do_fallocate(int fd, int mode, off_t off, off_t len)
{
	struct shim_obj obj;
	enum shim_type type;
	int ret;

	if (shim_bypass() || (type = shim_fd_get(fd, &obj, NULL)) == SHIM_NONE)
		return REAL(fallocate)(fd, mode, off, len);
	if (off < 0 || len <= 0)
		return shim_ret(-EINVAL);
	ret = falloc_mode_check(mode);
	if (ret)
		return shim_ret(ret);
	if (!can_write(acc_mode(fd, type, &obj)))
		return shim_ret(-EBADF);
	if (type == SHIM_TIMELINE)
		return shim_ret(off + len < 0 ? -EFBIG : -EOPNOTSUPP);
	return shim_ret(-ENODEV);
}

SHIM_EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
	return do_fallocate(fd, mode, off, len);
}

SHIM_EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	return do_fallocate(fd, mode, off, len);
}

SHIM_EXPORT int fsync(int fd)
{
	if (shim_bypass() || shim_fd_get(fd, NULL, NULL) == SHIM_NONE)
		return REAL(fsync)(fd);
	return shim_ret(-EINVAL);
}

SHIM_EXPORT int fdatasync(int fd)
{
	if (shim_bypass() || shim_fd_get(fd, NULL, NULL) == SHIM_NONE)
		return REAL(fdatasync)(fd);
	return shim_ret(-EINVAL);
}

/* ---- fcntl ---- */

/* The O_LARGEFILE bit the kernel sets on files it opens (0 where it does not); -1: not known. */
static int largefile_bit = -1;

int shim_largefile_flag(void)
{
	int fd, fl, bit = __atomic_load_n(&largefile_bit, __ATOMIC_RELAXED);

	if (bit >= 0)
		return bit;
	/* a memfd gets it always: whatever is left besides the access mode */
	fd = memfd_create("largefile", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	fl = REAL(fcntl)(fd, F_GETFL);
	REAL(close)(fd);
	bit = fl < 0 ? 0 : fl & ~O_ACCMODE;
	__atomic_store_n(&largefile_bit, bit, __ATOMIC_RELAXED);
	return bit;
}

/*
 * F_GETFL as the kernel's file would answer: a dma-buf was not opened, so the memfd's forced
 * O_LARGEFILE is not there; a device descriptor (a pipe, or /dev/null) has the access mode
 * it was opened with, and O_LARGEFILE as open() sets it.
 */
static int getfl_fix(enum shim_type type, const struct shim_obj *obj, int fl)
{
	switch (type) {
	case SHIM_BUF:
		return fl & ~shim_largefile_flag();
	case SHIM_HEAP:
	case SHIM_TIMELINE:
	case SHIM_UDMABUF_DEV:
		return (fl & ~O_ACCMODE) | (obj->oflags & O_ACCMODE) | shim_largefile_flag();
	default:
		return fl;
	}
}

static int do_fcntl(int fd, int cmd, void *arg)
{
	struct shim_obj obj;
	enum shim_type type;
	int ret;

	if (shim_bypass() || (type = shim_fd_get(fd, &obj, NULL)) == SHIM_NONE)
		return REAL(fcntl)(fd, cmd, arg);
	switch (cmd) {
	case F_ADD_SEALS:
	case F_GET_SEALS:
		/* a dma-buf is no memfd */
		if (type == SHIM_BUF)
			return shim_ret(-EINVAL);
		break;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		ret = REAL(fcntl)(fd, cmd, arg);
		if (ret >= 0)
			shim_fd_dup(fd, ret);
		return ret;
	case F_GETFL:
		ret = REAL(fcntl)(fd, cmd, arg);
		return ret < 0 ? ret : getfl_fix(type, &obj, ret);
	default:
		break;
	}
	return REAL(fcntl)(fd, cmd, arg);
}

/* As glibc does: the one optional argument is read as a pointer-sized value. */
SHIM_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(fd, cmd, arg);
}

SHIM_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(fd, cmd, arg);
}

/* ---- dup and close ---- */

SHIM_EXPORT int dup(int fd)
{
	int ret;

	if (shim_bypass() || shim_fd_get(fd, NULL, NULL) == SHIM_NONE)
		return REAL(dup)(fd);
	ret = REAL(dup)(fd);
	if (ret >= 0)
		shim_fd_dup(fd, ret);
	return ret;
}

/* dup2/dup3 over @fd2 closes what was there: epoll forgets it, the table takes the copy. */
/*
 * @fd2 is about to be replaced by a duplicate of @fd: epoll must hear it while @fd2 is still
 * what it was (an epoll set's other numbers are found by comparing files).
 */
static void replacing(int fd, int fd2)
{
	if (REAL(fcntl)(fd, F_GETFD) >= 0)
		shim_epoll_forget_fd(fd2);
}

SHIM_EXPORT int dup2(int fd, int fd2)
{
	int ret;

	if (shim_bypass() || fd == fd2)
		return REAL(dup2)(fd, fd2);
	replacing(fd, fd2);
	ret = REAL(dup2)(fd, fd2);
	if (ret >= 0)
		shim_fd_dup(fd, fd2);
	return ret;
}

SHIM_EXPORT int dup3(int fd, int fd2, int flags)
{
	int ret;

	if (shim_bypass() || fd == fd2)
		return REAL(dup3)(fd, fd2, flags);
	replacing(fd, fd2);
	ret = REAL(dup3)(fd, fd2, flags);
	if (ret >= 0)
		shim_fd_dup(fd, fd2);
	return ret;
}

/*
 * The entry goes before the descriptor does: once closed, another thread may get the same
 * number for something new.  epoll forgets every closed descriptor (an epoll set of ours
 * goes away with its registrations, too); that costs one load while epoll holds no buffer.
 */
SHIM_EXPORT int close(int fd)
{
	if (!shim_bypass()) {
		shim_epoll_forget_fd(fd);
		shim_fd_untrack(fd);
	}
	return REAL(close)(fd);
}

struct range {
	unsigned int first;
	unsigned int last;
};

static void forget_in_range(int fd, const struct shim_obj *obj, void *arg)
{
	const struct range *r = arg;

	if ((unsigned int)fd < r->first || (unsigned int)fd > r->last)
		return;
	shim_fd_untrack(fd);
}

static int real_close_range(unsigned int first, unsigned int last, int flags)
{
	if (REAL(close_range))
		return REAL(close_range)(first, last, flags);
	return (int)syscall(SYS_close_range, first, last, flags);
}

/* CLOSE_RANGE_CLOEXEC closes nothing now (exec does, and takes the table with it). */
SHIM_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	struct range r = { first, last };

	if (!shim_bypass() && shim_fd_any() && first <= last &&
	    !(flags & ~(int)(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) &&
	    !(flags & CLOSE_RANGE_CLOEXEC)) {
		shim_epoll_forget_range(first, last);
		shim_fd_each(forget_in_range, &r);
	}
	return real_close_range(first, last, flags);
}

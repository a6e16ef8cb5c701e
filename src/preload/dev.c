// SPDX-License-Identifier: MIT
/*
 * dev.c - the device paths: /dev/dma_heap/<heap> (and the directory, for listing),
 * /dev/udmabuf, the sw_sync timeline at /sys/kernel/debug/sync/sw_sync and /dev/sw_sync;
 * and /proc/<pid>/fdinfo/<fd> of dma-bufs (fdinfo.c).  Every libc way in: open, open64,
 * openat, the fortified __open_2 family, fopen, opendir; stat, lstat, fstatat, statx, access.
 *
 * A device path opens a broker object (heap, timeline) or a descriptor of /dev/null that the
 * table calls /dev/udmabuf.  The heap directory is a real directory the library makes next to
 * the broker's socket, with one empty file per heap, so that opendir/readdir/closedir and
 * dirfd work unchanged.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/stat.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "one stat layout (LP64)");
#include <unistd.h>

#include <dmabuf/fd.h>

#include "shim.h"
#include "rendezvous.h"

#define HEAP_DIR	"/dev/dma_heap"
#define UDMABUF_DEV	"/dev/udmabuf"

/* The heaps the broker serves (src/broker/heap.c). */
static const char *const heaps[] = { "system" };

static const char *const sw_sync_paths[] = {
	"/sys/kernel/debug/sync/sw_sync",
	"/dev/sw_sync",
};

enum path_kind {
	PATH_OTHER,
	PATH_HEAP_DIR,
	PATH_HEAP,
	PATH_UDMABUF,
	PATH_SW_SYNC,
};

/* @path without repeated slashes and a trailing slash, into @buf; false if too long. */
static bool squeeze(const char *path, char *buf, size_t len)
{
	size_t n = 0;

	for (; *path; path++) {
		if (*path == '/' && n && buf[n - 1] == '/')
			continue;
		if (n + 1 >= len)
			return false;
		buf[n++] = *path;
	}
	if (n > 1 && buf[n - 1] == '/')
		n--;
	buf[n] = '\0';
	return true;
}

static bool known_heap(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(heaps) / sizeof(heaps[0]); i++)
		if (!strcmp(name, heaps[i]))
			return true;
	return false;
}

/* What @path is; a heap's name in *@heap. Cheap for paths outside /dev and /sys. */
static enum path_kind classify(const char *path, const char **heap, char *buf, size_t len)
{
	size_t i;

	if (!path || (strncmp(path, "/dev", 4) && strncmp(path, "/sys", 4)) ||
	    !squeeze(path, buf, len))
		return PATH_OTHER;
	if (!strcmp(buf, HEAP_DIR))
		return PATH_HEAP_DIR;
	if (!strncmp(buf, HEAP_DIR "/", sizeof(HEAP_DIR))) {
		*heap = buf + sizeof(HEAP_DIR);
		return known_heap(*heap) ? PATH_HEAP : PATH_OTHER;
	}
	if (!strcmp(buf, UDMABUF_DEV))
		return PATH_UDMABUF;
	for (i = 0; i < sizeof(sw_sync_paths) / sizeof(sw_sync_paths[0]); i++)
		if (!strcmp(buf, sw_sync_paths[i]))
			return PATH_SW_SYNC;
	return PATH_OTHER;
}

/* The directory that stands for /dev/dma_heap, made (with its entries) at the first use. */
static const char *heap_dir(void)
{
	static char dir[PATH_MAX];
	static bool made;
	char sock[PATH_MAX], *slash, file[PATH_MAX + 64];
	size_t i;
	int fd;

	if (made)
		return dir;
	if (dmabufd_socket_path(sock, sizeof(sock)) || dmabufd_socket_dir_prepare(sock))
		return NULL;
	slash = strrchr(sock, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	snprintf(file, sizeof(file), "%s/dev", sock);
	mkdir(file, 0700);
	if (snprintf(dir, sizeof(dir), "%s/dev/dma_heap", sock) >= (int)sizeof(dir))
		return NULL;
	mkdir(dir, 0700);
	for (i = 0; i < sizeof(heaps) / sizeof(heaps[0]); i++) {
		snprintf(file, sizeof(file), "%s/%s", dir, heaps[i]);
		fd = REAL(open)(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			REAL(close)(fd);
	}
	made = true;
	return dir;
}

static int open_heap(const char *name, int flags)
{
	int fd = dmabuf_fd_heap_open(name, (unsigned int)flags & (O_ACCMODE | O_CLOEXEC));

	if (fd >= 0)
		shim_fd_track(fd, SHIM_HEAP, flags);
	return fd;
}

static int open_udmabuf(int flags)
{
	int fd = REAL(open)("/dev/null", (flags & (O_ACCMODE | O_CLOEXEC)) | O_NOCTTY);

	if (fd < 0)
		return -errno;
	shim_fd_track(fd, SHIM_UDMABUF_DEV, flags);
	return fd;
}

static int open_sw_sync(int flags)
{
	int fd = dmabuf_fd_sw_timeline_create((unsigned int)flags & O_CLOEXEC);

	if (fd >= 0)
		shim_fd_track(fd, SHIM_TIMELINE, flags);
	return fd;
}

static int open_kind(enum path_kind kind, const char *heap, int flags, mode_t mode)
{
	const char *dir;
	int fd;

	switch (kind) {
	case PATH_HEAP_DIR:
		dir = heap_dir();
		if (!dir)
			return -ENOENT;
		fd = REAL(open)(dir, flags, mode);
		return fd < 0 ? -errno : fd;
	case PATH_HEAP:
		return open_heap(heap, flags);
	case PATH_UDMABUF:
		return open_udmabuf(flags);
	case PATH_SW_SYNC:
		return open_sw_sync(flags);
	default:
		return -ENOENT;
	}
}

int shim_dev_open(const char *path, int flags, bool *served)
{
	char buf[PATH_MAX];
	const char *heap = NULL;
	enum path_kind kind;
	int ret;

	*served = false;
	kind = classify(path, &heap, buf, sizeof(buf));
	if (kind != PATH_OTHER) {
		*served = true;
		shim_enter();
		ret = open_kind(kind, heap, flags, 0);
		shim_leave();
		return ret;
	}
	if (path && !strncmp(path, "/proc/", 6))
		return shim_fdinfo_open(path, flags, served);
	return 0;
}

/* ---- open and friends ---- */

static int open_common(int dirfd, const char *path, int flags, mode_t mode)
{
	bool served = false;
	int ret;

	if (!shim_bypass() && (dirfd == AT_FDCWD || (path && path[0] == '/'))) {
		ret = shim_dev_open(path, flags, &served);
		if (served)
			return shim_ret(ret);
	}
	return REAL(openat)(dirfd, path, flags, mode);
}

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

SHIM_EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (shim_bypass())
		return REAL(open)(path, flags, mode);
	return open_common(AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return open_common(AT_FDCWD, path, flags | O_LARGEFILE, mode);
}

SHIM_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return open_common(dirfd, path, flags, mode);
}

SHIM_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return open_common(dirfd, path, flags | O_LARGEFILE, mode);
}

/* _FORTIFY_SOURCE turns open(p, f) without a mode into these */
SHIM_EXPORT int __open_2(const char *path, int flags)
{
	return open_common(AT_FDCWD, path, flags, 0);
}

SHIM_EXPORT int __open64_2(const char *path, int flags)
{
	return open_common(AT_FDCWD, path, flags | O_LARGEFILE, 0);
}

SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return open_common(dirfd, path, flags, 0);
}

SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return open_common(dirfd, path, flags | O_LARGEFILE, 0);
}

/* The open() flags of an fopen() mode ("r", "w+", "re", ...). */
static int mode_flags(const char *mode)
{
	int flags;

	switch (mode[0]) {
	case 'r':
		flags = strchr(mode, '+') ? O_RDWR : O_RDONLY;
		break;
	case 'w':
		flags = (strchr(mode, '+') ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
		break;
	case 'a':
		flags = (strchr(mode, '+') ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
		break;
	default:
		return -1;
	}
	if (strchr(mode, 'e'))
		flags |= O_CLOEXEC;
	return flags;
}

static FILE *fopen_common(const char *path, const char *mode)
{
	bool served = false;
	int flags, fd;
	FILE *f;

	if (shim_bypass() || !mode || (flags = mode_flags(mode)) < 0)
		return REAL(fopen)(path, mode);
	fd = shim_dev_open(path, flags, &served);
	if (!served)
		return REAL(fopen)(path, mode);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, mode);
	if (!f)
		close(fd);
	return f;
}

SHIM_EXPORT FILE *fopen(const char *path, const char *mode)
{
	return fopen_common(path, mode);
}

SHIM_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return fopen_common(path, mode);
}

SHIM_EXPORT DIR *opendir(const char *path)
{
	char buf[PATH_MAX];
	const char *heap = NULL, *dir;

	if (shim_bypass() || classify(path, &heap, buf, sizeof(buf)) != PATH_HEAP_DIR)
		return REAL(opendir)(path);
	shim_enter();
	dir = heap_dir();
	shim_leave();
	if (!dir) {
		errno = ENOENT;
		return NULL;
	}
	return REAL(opendir)(dir);
}

/* ---- stat and access ---- */

/* What stat() says about a device path: a character device or the heap directory. */
static void fake_stat(enum path_kind kind, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_nlink = 1;
	st->st_blksize = 4096;
	switch (kind) {
	case PATH_HEAP_DIR:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		break;
	case PATH_SW_SYNC:
		st->st_mode = S_IFREG | 0644;	/* as debugfs makes it */
		break;
	default:
		st->st_mode = S_IFCHR | 0600;	/* as devtmpfs makes them */
		st->st_rdev = makedev(10, kind == PATH_UDMABUF ? 125 : 126);
		break;
	}
	st->st_ino = (ino_t)kind;
	st->st_uid = getuid();
	st->st_gid = getgid();
}

static enum path_kind served_path(int dirfd, const char *path, char *buf, size_t len)
{
	const char *heap;

	if (shim_bypass() || !path || (dirfd != AT_FDCWD && path[0] != '/'))
		return PATH_OTHER;
	return classify(path, &heap, buf, len);
}

static int stat_common(int dirfd, const char *path, struct stat *st, int flags)
{
	char buf[PATH_MAX];
	enum path_kind kind = served_path(dirfd, path, buf, sizeof(buf));

	if (kind != PATH_OTHER) {
		fake_stat(kind, st);
		return 0;
	}
	if (path && !path[0] && (flags & AT_EMPTY_PATH))
		return fstat(dirfd, st);
	return REAL(fstatat)(dirfd, path, st, flags);
}

SHIM_EXPORT int stat(const char *path, struct stat *st)
{
	return stat_common(AT_FDCWD, path, st, 0);
}

SHIM_EXPORT int stat64(const char *path, struct stat64 *st)
{
	return stat_common(AT_FDCWD, path, (struct stat *)st, 0);
}

SHIM_EXPORT int lstat(const char *path, struct stat *st)
{
	return stat_common(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

SHIM_EXPORT int lstat64(const char *path, struct stat64 *st)
{
	return stat_common(AT_FDCWD, path, (struct stat *)st, AT_SYMLINK_NOFOLLOW);
}

SHIM_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return stat_common(dirfd, path, st, flags);
}

SHIM_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	return stat_common(dirfd, path, (struct stat *)st, flags);
}

/* glibc before 2.33 exported stat through these (the version argument is ignored) */
SHIM_EXPORT int __xstat(int ver, const char *path, struct stat *st)
{
	return stat_common(AT_FDCWD, path, st, 0);
}

SHIM_EXPORT int __xstat64(int ver, const char *path, struct stat *st)
{
	return stat_common(AT_FDCWD, path, st, 0);
}

SHIM_EXPORT int __lxstat(int ver, const char *path, struct stat *st)
{
	return stat_common(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

SHIM_EXPORT int __lxstat64(int ver, const char *path, struct stat *st)
{
	return stat_common(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

SHIM_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
	return stat_common(dirfd, path, st, flags);
}

SHIM_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
	return stat_common(dirfd, path, st, flags);
}

SHIM_EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask,
		      struct statx *stx)
{
	char buf[PATH_MAX];
	enum path_kind kind = served_path(dirfd, path, buf, sizeof(buf));
	struct stat st;

	if (kind == PATH_OTHER)
		return REAL(statx)(dirfd, path, flags, mask, stx);
	fake_stat(kind, &st);
	memset(stx, 0, sizeof(*stx));
	stx->stx_mask = STATX_BASIC_STATS;
	stx->stx_mode = (uint16_t)st.st_mode;
	stx->stx_nlink = (uint32_t)st.st_nlink;
	stx->stx_uid = st.st_uid;
	stx->stx_gid = st.st_gid;
	stx->stx_ino = st.st_ino;
	stx->stx_blksize = (uint32_t)st.st_blksize;
	stx->stx_rdev_major = major(st.st_rdev);
	stx->stx_rdev_minor = minor(st.st_rdev);
	return 0;
}

SHIM_EXPORT int access(const char *path, int mode)
{
	char buf[PATH_MAX];

	if (served_path(AT_FDCWD, path, buf, sizeof(buf)) != PATH_OTHER)
		return (mode & X_OK) && strcmp(buf, HEAP_DIR) ? shim_ret(-EACCES) : 0;
	return REAL(access)(path, mode);
}

SHIM_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
	char buf[PATH_MAX];

	if (served_path(dirfd, path, buf, sizeof(buf)) != PATH_OTHER)
		return (mode & X_OK) && strcmp(buf, HEAP_DIR) ? shim_ret(-EACCES) : 0;
	return REAL(faccessat)(dirfd, path, mode, flags);
}

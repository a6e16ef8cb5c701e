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
#include <pthread.h>
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
static const char *const heaps[] = { "system", "system-uncached", "incoherent" };

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
	PATH_NO_HEAP,		/* /dev/dma_heap/<not a heap>: ENOENT */
};

/**
 * struct dev_path - a path as the library sees it.
 * @kind: what it names.
 * @heap: the heap's name (PATH_HEAP), inside @buf.
 * @trailing: it ends in "/", "/." or "/..": only a directory may be named so (ENOTDIR).
 * @buf: the path with "//", "." and ".." resolved.
 */
struct dev_path {
	enum path_kind kind;
	const char *heap;
	bool trailing;
	char buf[PATH_MAX];
};

/* The stand-in for /dev/dma_heap, once made: its file, for paths relative to it. */
static dev_t heap_dir_dev;
static ino_t heap_dir_ino;
static bool heap_dir_made;

/*
 * @path (absolute) with "//", "." and ".." resolved as the kernel's walk would (none of the
 * served paths involves a symlink), appended to @dp->buf.  False if too long.
 */
static bool normalize(const char *path, struct dev_path *dp)
{
	size_t n = strlen(dp->buf), l;
	const char *p = path, *e;

	dp->trailing = false;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p) {
			dp->trailing = n > 0;
			break;
		}
		e = strchrnul(p, '/');
		l = (size_t)(e - p);
		dp->trailing = (l == 1 && p[0] == '.') || (l == 2 && !memcmp(p, "..", 2));
		if (l == 2 && !memcmp(p, "..", 2)) {
			while (n && dp->buf[n - 1] != '/')
				n--;
			n = n ? n - 1 : 0;
		} else if (!(l == 1 && p[0] == '.')) {
			if (n + l + 2 > sizeof(dp->buf))
				return false;
			dp->buf[n++] = '/';
			memcpy(dp->buf + n, p, l);
			n += l;
		}
		dp->buf[n] = '\0';
		p = e;
	}
	if (!n)
		strcpy(dp->buf, "/");
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

/* A relative @path under @dirfd, when @dirfd is the stand-in for /dev/dma_heap. */
static bool under_heap_dir(int dirfd, const char *path)
{
	struct stat st;

	return __atomic_load_n(&heap_dir_made, __ATOMIC_ACQUIRE) && dirfd != AT_FDCWD &&
	       path[0] != '/' && !REAL(fstat)(dirfd, &st) && st.st_dev == heap_dir_dev &&
	       st.st_ino == heap_dir_ino;
}

/*
 * What @path (relative to @dirfd) names.  Cheap for paths that cannot be ours: only absolute
 * paths mentioning a served name, or paths relative to the stand-in directory, are looked at.
 */
static void classify_at(int dirfd, const char *path, struct dev_path *dp)
{
	const char *name;
	size_t i;

	dp->kind = PATH_OTHER;
	dp->buf[0] = '\0';
	if (!path)
		return;
	if (under_heap_dir(dirfd, path))
		strcpy(dp->buf, HEAP_DIR);
	else if (path[0] != '/' || !(strstr(path, "dma_heap") || strstr(path, "udmabuf") ||
				     strstr(path, "sw_sync")))
		return;
	if (!normalize(path, dp))
		return;
	if (!strcmp(dp->buf, HEAP_DIR)) {
		dp->kind = PATH_HEAP_DIR;
	} else if (!strncmp(dp->buf, HEAP_DIR "/", sizeof(HEAP_DIR))) {
		name = dp->buf + sizeof(HEAP_DIR);
		dp->heap = name;
		dp->kind = strchr(name, '/') ? PATH_OTHER : known_heap(name) ? PATH_HEAP :
			   PATH_NO_HEAP;
	} else if (!strcmp(dp->buf, UDMABUF_DEV)) {
		dp->kind = PATH_UDMABUF;
	} else {
		for (i = 0; i < sizeof(sw_sync_paths) / sizeof(sw_sync_paths[0]); i++)
			if (!strcmp(dp->buf, sw_sync_paths[i]))
				dp->kind = PATH_SW_SYNC;
	}
}

static void classify(const char *path, struct dev_path *dp)
{
	classify_at(AT_FDCWD, path, dp);
}

/* The error a served path gives before anything is opened: 0, -ENOENT or -ENOTDIR. */
static int path_error(const struct dev_path *dp)
{
	if (dp->kind == PATH_NO_HEAP)
		return -ENOENT;
	if (dp->trailing && dp->kind != PATH_HEAP_DIR)
		return -ENOTDIR;
	return 0;
}

/* The directory that stands for /dev/dma_heap, made (with its entries) at the first use. */
static const char *heap_dir(void)
{
	static char dir[PATH_MAX];
	char sock[PATH_MAX], *slash, file[PATH_MAX + 64];
	struct stat st;
	size_t i;
	int fd;

	if (__atomic_load_n(&heap_dir_made, __ATOMIC_ACQUIRE))
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
	if (REAL(stat)(dir, &st))
		return NULL;
	heap_dir_dev = st.st_dev;
	heap_dir_ino = st.st_ino;
	__atomic_store_n(&heap_dir_made, true, __ATOMIC_RELEASE);
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

static int open_kind(const struct dev_path *dp, int flags, mode_t mode)
{
	const char *dir;
	int fd, ret = path_error(dp);

	if (ret)
		return ret;
	switch (dp->kind) {
	case PATH_HEAP_DIR:
		dir = heap_dir();
		if (!dir)
			return -ENOENT;
		fd = REAL(open)(dir, flags, mode);
		return fd < 0 ? -errno : fd;
	case PATH_HEAP:
		return open_heap(dp->heap, flags);
	case PATH_UDMABUF:
		return open_udmabuf(flags);
	case PATH_SW_SYNC:
		return open_sw_sync(flags);
	default:
		return -ENOENT;
	}
}

/* /proc/<self>/fd/<n> of a dma-buf or sync_file: an anon inode cannot be reopened (ENXIO). */
static bool proc_fd_of_ours(const char *path)
{
	const char *p;
	char *end;
	long fd;

	if (!strncmp(path, "/proc/self/fd/", 14))
		p = path + 14;
	else if (!strncmp(path, "/proc/thread-self/fd/", 21))
		p = path + 21;
	else
		return false;
	fd = strtol(p, &end, 10);
	if (end == p || *end || fd < 0 || fd > INT_MAX)
		return false;
	switch (shim_fd_get((int)fd, NULL, NULL)) {
	case SHIM_BUF:
	case SHIM_SYNC_FILE:
		return true;
	default:
		return false;
	}
}

static int dev_open_at(int dirfd, const char *path, int flags, bool *served)
{
	struct dev_path dp;
	int ret;

	*served = false;
	classify_at(dirfd, path, &dp);
	if (dp.kind != PATH_OTHER) {
		*served = true;
		shim_enter();
		ret = open_kind(&dp, flags, 0);
		shim_leave();
		return ret;
	}
	if (path && !strncmp(path, "/proc/", 6)) {
		if (shim_fd_any() && proc_fd_of_ours(path)) {
			*served = true;
			return -ENXIO;
		}
		return shim_fdinfo_open(path, flags, served);
	}
	return 0;
}

int shim_dev_open(const char *path, int flags, bool *served)
{
	return dev_open_at(AT_FDCWD, path, flags, served);
}

/* ---- open and friends ---- */

static int open_common(int dirfd, const char *path, int flags, mode_t mode)
{
	bool served = false;
	int ret;

	if (!shim_bypass()) {
		ret = dev_open_at(dirfd, path, flags, &served);
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

/* The DIR streams of the stand-in directory (readdir shows its entries as devices). */
#define HEAP_DIRS_MAX	16
static DIR *heap_dirs[HEAP_DIRS_MAX];
static int heap_dirs_open;

static pthread_mutex_t heap_dirs_lock = PTHREAD_MUTEX_INITIALIZER;

/* Replace @old by @new in the list (NULL: a free slot); more than the list holds: untracked. */
static void heap_dirs_set(DIR *old, DIR *new)
{
	int i;

	pthread_mutex_lock(&heap_dirs_lock);
	for (i = 0; i < HEAP_DIRS_MAX; i++) {
		if (heap_dirs[i] != old)
			continue;
		__atomic_store_n(&heap_dirs[i], new, __ATOMIC_RELEASE);
		__atomic_add_fetch(&heap_dirs_open, new ? 1 : -1, __ATOMIC_RELAXED);
		break;
	}
	pthread_mutex_unlock(&heap_dirs_lock);
}

static bool heap_dirs_has(DIR *d)
{
	int i;

	if (!__atomic_load_n(&heap_dirs_open, __ATOMIC_RELAXED))
		return false;
	for (i = 0; i < HEAP_DIRS_MAX; i++)
		if (__atomic_load_n(&heap_dirs[i], __ATOMIC_ACQUIRE) == d)
			return true;
	return false;
}

SHIM_EXPORT DIR *opendir(const char *path)
{
	struct dev_path dp;
	const char *dir;
	DIR *d;
	int ret;

	if (shim_bypass())
		return REAL(opendir)(path);
	classify(path, &dp);
	if (dp.kind == PATH_OTHER)
		return REAL(opendir)(path);
	ret = path_error(&dp);
	if (!ret && dp.kind != PATH_HEAP_DIR)
		ret = -ENOTDIR;
	if (ret) {
		errno = -ret;
		return NULL;
	}
	shim_enter();
	dir = heap_dir();
	shim_leave();
	if (!dir) {
		errno = ENOENT;
		return NULL;
	}
	d = REAL(opendir)(dir);
	if (d)
		heap_dirs_set(NULL, d);
	return d;
}

/* The heaps are character devices (devtmpfs' d_type), not the stand-in's empty files. */
static void heap_entry(DIR *d, unsigned char *type, const char *name)
{
	if (name[0] != '.' && heap_dirs_has(d))
		*type = DT_CHR;
}

SHIM_EXPORT struct dirent *readdir(DIR *d)
{
	struct dirent *e = REAL(readdir)(d);

	if (e)
		heap_entry(d, &e->d_type, e->d_name);
	return e;
}

SHIM_EXPORT struct dirent64 *readdir64(DIR *d)
{
	struct dirent64 *e = REAL(readdir64)(d);

	if (e)
		heap_entry(d, &e->d_type, e->d_name);
	return e;
}

SHIM_EXPORT int closedir(DIR *d)
{
	if (heap_dirs_has(d))
		heap_dirs_set(d, NULL);
	return REAL(closedir)(d);
}

/* ---- stat and access ---- */

/* The device a served file seems to be on, per kind: devtmpfs and debugfs numbers. */
#define FAKE_DEVTMPFS	makedev(0, 5)
#define FAKE_DEBUGFS	makedev(0, 7)

void shim_dev_fake_stat(enum shim_type type, struct stat *st)
{
	st->st_nlink = 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = 4096;
	st->st_size = 0;
	st->st_blocks = 0;
	switch (type) {
	case SHIM_HEAP:
		st->st_mode = S_IFCHR | 0600;	/* as devtmpfs makes them */
		st->st_dev = FAKE_DEVTMPFS;
		st->st_ino = 0x100;
		st->st_rdev = makedev(10, 126);
		break;
	case SHIM_UDMABUF_DEV:
		st->st_mode = S_IFCHR | 0600;
		st->st_dev = FAKE_DEVTMPFS;
		st->st_ino = 0x101;
		st->st_rdev = makedev(10, 125);
		break;
	case SHIM_TIMELINE:
		st->st_mode = S_IFREG | 0644;	/* as debugfs makes it */
		st->st_dev = FAKE_DEBUGFS;
		st->st_ino = 0x102;
		st->st_rdev = 0;
		break;
	default:
		break;
	}
}

/* What stat() says about a served path. */
static void fake_stat(enum path_kind kind, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	switch (kind) {
	case PATH_HEAP_DIR:
		shim_dev_fake_stat(SHIM_HEAP, st);
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		st->st_ino = 0xff;
		st->st_rdev = 0;
		break;
	case PATH_SW_SYNC:
		shim_dev_fake_stat(SHIM_TIMELINE, st);
		break;
	case PATH_UDMABUF:
		shim_dev_fake_stat(SHIM_UDMABUF_DEV, st);
		break;
	default:
		shim_dev_fake_stat(SHIM_HEAP, st);
		break;
	}
}

/* A served path's kind (PATH_OTHER: not served), its error in *@err. */
static enum path_kind served_path(int dirfd, const char *path, int *err)
{
	struct dev_path dp;

	*err = 0;
	if (shim_bypass())
		return PATH_OTHER;
	classify_at(dirfd, path, &dp);
	if (dp.kind != PATH_OTHER)
		*err = path_error(&dp);
	return dp.kind;
}

static int stat_common(int dirfd, const char *path, struct stat *st, int flags)
{
	int err;
	enum path_kind kind = served_path(dirfd, path, &err);

	if (kind != PATH_OTHER) {
		if (err)
			return shim_ret(err);
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
	int err;
	enum path_kind kind = served_path(dirfd, path, &err);
	struct stat st;

	if (kind == PATH_OTHER)
		return REAL(statx)(dirfd, path, flags, mask, stx);
	if (err)
		return shim_ret(err);
	fake_stat(kind, &st);
	memset(stx, 0, sizeof(*stx));
	stx->stx_mask = STATX_BASIC_STATS;
	stx->stx_mode = (uint16_t)st.st_mode;
	stx->stx_nlink = (uint32_t)st.st_nlink;
	stx->stx_uid = st.st_uid;
	stx->stx_gid = st.st_gid;
	stx->stx_ino = st.st_ino;
	stx->stx_blksize = (uint32_t)st.st_blksize;
	stx->stx_dev_major = major(st.st_dev);
	stx->stx_dev_minor = minor(st.st_dev);
	stx->stx_rdev_major = major(st.st_rdev);
	stx->stx_rdev_minor = minor(st.st_rdev);
	return 0;
}

/* access(): a served path exists and may be read and written; only the directory searched. */
static int access_served(enum path_kind kind, int err, int mode)
{
	if (err)
		return shim_ret(err);
	return (mode & X_OK) && kind != PATH_HEAP_DIR ? shim_ret(-EACCES) : 0;
}

SHIM_EXPORT int access(const char *path, int mode)
{
	int err;
	enum path_kind kind = served_path(AT_FDCWD, path, &err);

	if (kind != PATH_OTHER)
		return access_served(kind, err, mode);
	return REAL(access)(path, mode);
}

SHIM_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
	int err;
	enum path_kind kind = served_path(dirfd, path, &err);

	if (kind != PATH_OTHER)
		return access_served(kind, err, mode);
	return REAL(faccessat)(dirfd, path, mode, flags);
}

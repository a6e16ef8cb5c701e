/* SPDX-License-Identifier: MIT */
/*
 * shim.h - the preload library's internals (libdmabuf-preload.so, run by dmabuf-run).
 *
 * The library replaces the libc entry points a program uses on dma-buf descriptors and
 * device paths, and serves them from dmabufd through the fd-level API's broker backend.
 * Layout (one concern per file):
 *
 *   real.c    the next definitions of the wrapped functions (libc's), and the guard
 *   fdtab.c   which descriptors are ours, and what they are
 *   dev.c     opening /dev/dma_heap/<heap>, /dev/udmabuf, the sw_sync paths; stat/access
 *   ioctl.c   every request of the uAPI, dispatched on the full request value
 *   poll.c    poll, ppoll, select, pselect: implicit sync on dma-buf descriptors
 *   epoll.c   epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2
 *   fileops.c read/write/lseek/fstat/... where a dma-buf is not a memfd; dup and close
 *   mmap.c    mmap of dma-bufs and the table of their mappings (fdinfo's count)
 *   fdinfo.c  /proc/<pid>/fdinfo/<fd> in the kernel's format
 *   proc.c    exec (our descriptors follow), recvmsg (SCM_RIGHTS), start-up
 *
 * The guard: while the library itself runs (shim_enter() ... shim_leave()), every wrapper
 * calls the real function at once, so the library's own libc calls never come back here.
 * Every wrapper also passes straight through for descriptors that are not ours, after one
 * table lookup: a program that never touches dma-buf pays nothing else.
 */
#ifndef DMABUF_PRELOAD_SHIM_H
#define DMABUF_PRELOAD_SHIM_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "backend.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* Entry points glibc has but does not declare (fortify helpers, the old stat ABI). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
int __xstat(int ver, const char *path, struct stat *st);
int __xstat64(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __lxstat64(int ver, const char *path, struct stat *st);
int __fxstat(int ver, int fd, struct stat *st);
int __fxstat64(int ver, int fd, struct stat *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat *st, int flags);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask,
		size_t fdslen);

/* ---- real.c ---- */

/* libc's definitions of what we wrap (dlsym(RTLD_NEXT)); resolved at the first use. */
struct shim_real {
	int (*open)(const char *path, int flags, ...);
	int (*openat)(int dirfd, const char *path, int flags, ...);
	FILE *(*fopen)(const char *path, const char *mode);
	DIR *(*opendir)(const char *path);
	struct dirent *(*readdir)(DIR *d);
	struct dirent64 *(*readdir64)(DIR *d);
	int (*closedir)(DIR *d);
	int (*stat)(const char *path, struct stat *st);
	int (*lstat)(const char *path, struct stat *st);
	int (*fstatat)(int dirfd, const char *path, struct stat *st, int flags);
	int (*statx)(int dirfd, const char *path, int flags, unsigned int mask, void *stx);
	int (*access)(const char *path, int mode);
	int (*faccessat)(int dirfd, const char *path, int mode, int flags);
	int (*close)(int fd);
	int (*close_range)(unsigned int first, unsigned int last, int flags);
	int (*dup)(int fd);
	int (*dup2)(int fd, int fd2);
	int (*dup3)(int fd, int fd2, int flags);
	int (*fcntl)(int fd, int cmd, ...);
	int (*ioctl)(int fd, unsigned long req, ...);
	ssize_t (*read)(int fd, void *buf, size_t n);
	ssize_t (*write)(int fd, const void *buf, size_t n);
	ssize_t (*readv)(int fd, const struct iovec *iov, int n);
	ssize_t (*writev)(int fd, const struct iovec *iov, int n);
	ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
	ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
	ssize_t (*preadv)(int fd, const struct iovec *iov, int n, off_t off);
	ssize_t (*pwritev)(int fd, const struct iovec *iov, int n, off_t off);
	off_t (*lseek)(int fd, off_t off, int whence);
	int (*fstat)(int fd, struct stat *st);
	int (*ftruncate)(int fd, off_t len);
	int (*fallocate)(int fd, int mode, off_t off, off_t len);
	int (*fsync)(int fd);
	int (*fdatasync)(int fd);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
	int (*munmap)(void *addr, size_t len);
	void *(*mremap)(void *addr, size_t old, size_t len, int flags, ...);
	int (*poll)(struct pollfd *fds, nfds_t n, int timeout);
	int (*ppoll)(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		     const sigset_t *mask);
	int (*select)(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv);
	int (*pselect)(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
		       const sigset_t *mask);
	int (*epoll_ctl)(int ep, int op, int fd, struct epoll_event *ev);
	int (*epoll_wait)(int ep, struct epoll_event *ev, int n, int timeout);
	int (*epoll_pwait)(int ep, struct epoll_event *ev, int n, int timeout,
			   const sigset_t *mask);
	int (*epoll_pwait2)(int ep, struct epoll_event *ev, int n, const struct timespec *ts,
			    const sigset_t *mask);
	ssize_t (*recvmsg)(int fd, struct msghdr *msg, int flags);
	int (*recvmmsg)(int fd, struct mmsghdr *v, unsigned int n, int flags,
			struct timespec *ts);
	int (*execve)(const char *path, char *const argv[], char *const envp[]);
	int (*execvpe)(const char *file, char *const argv[], char *const envp[]);
	int (*fexecve)(int fd, char *const argv[], char *const envp[]);
};

extern struct shim_real shim_real;
extern bool shim_real_ready;
void shim_real_resolve(void);

/* The real function @fn (resolved on first use). */
#define REAL(fn) (__builtin_expect(shim_real_ready, 1) ? shim_real.fn : \
		  (shim_real_resolve(), shim_real.fn))

extern __thread int shim_depth __attribute__((tls_model("initial-exec")));
/* Set for good in a process the library must not serve (dmabufd itself). */
extern bool shim_off;

/* True while the library itself is running on this thread: wrappers pass through. */
static inline bool shim_bypass(void)
{
	return shim_depth > 0 || shim_off;
}

static inline void shim_enter(void)
{
	shim_depth++;
}

static inline void shim_leave(void)
{
	shim_depth--;
}

/* A wrapper's return: a negative errno becomes -1 with errno set. */
static inline int shim_ret(int r)
{
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

/* ---- fdtab.c ---- */

enum shim_type {
	SHIM_NONE = 0,		/* not ours: every call passes through */
	SHIM_BUF,		/* a dma-buf (a broker memfd) */
	SHIM_SYNC_FILE,		/* a sync_file (a broker pipe) */
	SHIM_TIMELINE,		/* a sw_sync timeline (a broker pipe) */
	SHIM_HEAP,		/* /dev/dma_heap/<heap> (a broker pipe) */
	SHIM_UDMABUF_DEV,	/* /dev/udmabuf (a descriptor of /dev/null) */
};

/**
 * struct shim_obj - what a descriptor of ours is.
 * @type: enum shim_type.
 * @oflags: the open() flags of a device descriptor (its access mode decides write()).
 * @dev: st_dev of the file behind it.
 * @ino: st_ino of the file behind it.
 */
struct shim_obj {
	enum shim_type type;
	int oflags;
	dev_t dev;
	ino_t ino;
};

/*
 * What @fd is.  For descriptors in the table, one fstat() checks that the same file is still
 * behind the number (else the entry is dropped); others cost a table lookup.  @obj and @st
 * (may be NULL) receive the entry and that fstat.  Returns SHIM_NONE for anything not ours.
 */
enum shim_type shim_fd_get(int fd, struct shim_obj *obj, struct stat *st);

/* Whether the table has an entry for @fd (not checked with fstat: shim_fd_get() does that). */
bool shim_fd_maybe(int fd);

/* Record @fd, just made by us, as @type (@oflags: open() flags of a device, else 0). */
void shim_fd_track(int fd, enum shim_type type, int oflags);

/* Find out whether @fd, which came from elsewhere (SCM_RIGHTS, exec), is ours; record it. */
void shim_fd_adopt(int fd);

/* @fd was closed (or is about to be replaced). */
void shim_fd_untrack(int fd);

/* @newfd is now a duplicate of @oldfd. */
void shim_fd_dup(int oldfd, int newfd);

/* True once any descriptor was ever ours: before that, wrappers need not look. */
bool shim_fd_any(void);

/*
 * True the first time it is asked for sync_file @fd: the kernel does something the first
 * time a sync_file is polled (it enables signaling on its fence), which the broker must hear.
 */
bool shim_fd_first_poll(int fd);

/* Descriptors of this process that refer to the file (@dev, @ino) (fdinfo's count). */
unsigned int shim_fd_refs(dev_t dev, ino_t ino);

/* A descriptor in the table, other than @except, for the file (@dev, @ino); -1 if none. */
int shim_fd_find(dev_t dev, ino_t ino, int except);

/* Call @fn for every descriptor in the table (exec hand-over). */
void shim_fd_each(void (*fn)(int fd, const struct shim_obj *obj, void *arg), void *arg);

/* ---- dev.c ---- */

/*
 * If @path names a device we serve, open it with @flags: a descriptor or a negative errno,
 * and true in *@served.  Otherwise *@served is false.
 */
int shim_dev_open(const char *path, int flags, bool *served);

/*
 * What the kernel's inode of a device of @type (SHIM_HEAP, SHIM_UDMABUF_DEV, SHIM_TIMELINE)
 * looks like: mode, device, inode, rdev, owner; stat() of its path and fstat() of its
 * descriptor agree.  Other fields of @st are left alone.
 */
void shim_dev_fake_stat(enum shim_type type, struct stat *st);

/* ---- poll.c ---- */

/*
 * The poll bits (POLLIN, POLLOUT) dma-buf @fd reports now for @events, as the kernel's poll
 * does: POLLIN when no write fence is pending, POLLOUT when no fence is.  When a requested bit
 * is not ready the buffer is pinned (fdinfo's count) and, if @wait_fd is not NULL, *@wait_fd
 * receives a new descriptor (a sync_file) that becomes readable when it may be (the caller
 * closes it; -1 when there is none).  Returns the bits, or a negative errno.
 */
int shim_buf_revents(int fd, short events, int *wait_fd);

/* sync_file @fd is being polled (or watched by epoll): tell the broker the first time. */
void shim_sync_file_polled(int fd);

/* ppoll() with dma-bufs among @fds (poll, ppoll, select, pselect all come here). */
int shim_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask);

/* Pins on the buffer (@dev, @ino) that the kernel's poll would hold now (fdinfo's count). */
unsigned int shim_pin_count(dev_t dev, ino_t ino);

/* ---- mmap.c ---- */

/* Mappings (VMAs) of the buffer (@dev, @ino) in this process (fdinfo's count). */
unsigned int shim_map_count(dev_t dev, ino_t ino);

/* ---- epoll.c ---- */

/* @fd is being closed or replaced: it leaves every epoll set, and a set it was goes. */
void shim_epoll_forget_fd(int fd);

/* The same for every descriptor in [@first, @last] (close_range()). */
void shim_epoll_forget_range(unsigned int first, unsigned int last);

/* ---- fileops.c ---- */

/* The O_LARGEFILE bit the kernel sets on the files it opens (F_GETFL, fdinfo's flags). */
int shim_largefile_flag(void);

/* ---- fdinfo.c ---- */

/*
 * If @path is /proc/<pid>/fdinfo/<fd> (or /proc/self/..., /proc/thread-self/...) of a
 * dma-buf, open a file with the kernel's text for it: a descriptor or a negative errno, and
 * true in *@served.  Otherwise *@served is false.
 */
int shim_fdinfo_open(const char *path, int flags, bool *served);

/* ---- buffer facts from the broker (ioctl.c) ---- */

/* What fdinfo shows of dma-buf @fd (and its map_info): 0 or a negative errno. */
int shim_buf_info(int fd, struct dmabuf_fd_buf_desc *info);

#endif /* DMABUF_PRELOAD_SHIM_H */

// SPDX-License-Identifier: MIT
/*
 * test_preload.c - an unmodified program under dmabuf-run: what the conformance suite and
 * tests/apps do not reach (libc entry points, paths, descriptors the library never saw, exec,
 * posix_spawn, threads, epoll, select, and programs that never touch dma-buf).
 *
 * Plain libc, pthreads and the uAPI headers; every expected result is the real Linux 6.12
 * kernel's.  Built static, the same source runs on the kernel (tests/conformance/kernel/
 * boot.sh); points that only exist under the library (/dev/sw_sync, the broker) are skipped
 * there.  Modes (argv[1]):
 *
 *   (none)                    every area, TAP on stdout
 *   --broker-spawn DMABUF_RUN runs itself under DMABUF_RUN without a listening broker and
 *                             checks the broker the library starts (not under the library)
 *   --exec-child ..., --spawn-child ..., --broker-client: the other ends of those tests
 *
 * Children report through a pipe, one line per check ("1 what" or "0 what"); the parent turns
 * the lines into TAP.
 */
#undef _FILE_OFFSET_BITS	/* open() is open(), the fortified one __open_2() */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/sync_file.h>
#include <linux/udmabuf.h>

#include "tap.h"

/* sw_sync (debugfs) has no uAPI header */
struct sw_sync_create_fence_data {
	__u32 value;
	char name[32];
	__s32 fence;
};

#define SW_SYNC_IOC_CREATE_FENCE _IOWR('W', 0, struct sw_sync_create_fence_data)
#define SW_SYNC_IOC_INC _IOW('W', 1, __u32)

/* glibc exports these fortify entry points without declaring them */
int __open64_2(const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

#define HEAP		"/dev/dma_heap/system"
#define SW_SYNC		"/sys/kernel/debug/sync/sw_sync"
#define PRELOAD_NAME	"libdmabuf-preload.so"
#define BUF_SIZE	16384

extern char **environ;

static char self_exe[PATH_MAX];
static bool under_shim;

/* ---- helpers ---- */

static int heap_alloc_on(int heap, size_t len, unsigned int fd_flags)
{
	struct dma_heap_allocation_data d = { .len = len, .fd_flags = fd_flags };

	return ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) < 0 ? -1 : (int)d.fd;
}

static int heap_alloc(size_t len, unsigned int fd_flags)
{
	int heap = open(HEAP, O_RDONLY | O_CLOEXEC), fd;

	if (heap < 0)
		return -1;
	fd = heap_alloc_on(heap, len, fd_flags);
	close(heap);
	return fd;
}

/* @heap (a heap descriptor, closed here) allocates a buffer. */
static bool heap_works(int heap)
{
	int fd;

	if (heap < 0)
		return false;
	fd = heap_alloc_on(heap, 4096, O_RDWR | O_CLOEXEC);
	close(heap);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* /dev/udmabuf descriptor @dev makes a buffer of a sealed memfd. */
static bool udmabuf_works(int dev)
{
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = 4096 };
	int m = memfd_create("u", MFD_ALLOW_SEALING | MFD_CLOEXEC), fd = -1;

	if (m >= 0 && !ftruncate(m, 4096) && !fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK)) {
		c.memfd = (__u32)m;
		fd = ioctl(dev, UDMABUF_CREATE, &c);
	}
	if (fd >= 0)
		close(fd);
	if (m >= 0)
		close(m);
	return fd >= 0;
}

static int timeline_open(int flags)
{
	return open(SW_SYNC, O_RDWR | flags);
}

static int fence_create(int tl, unsigned int value)
{
	struct sw_sync_create_fence_data d = { .value = value };

	return ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, &d) < 0 ? -1 : d.fence;
}

static int tl_inc(int tl, unsigned int n)
{
	return ioctl(tl, SW_SYNC_IOC_INC, &n);
}

static int import_write(int buf, int fence)
{
	struct dma_buf_import_sync_file x = { .flags = DMA_BUF_SYNC_WRITE, .fd = fence };

	return ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &x);
}

static int export_sync_file(int buf, unsigned int flags)
{
	struct dma_buf_export_sync_file x = { .flags = flags, .fd = -1 };

	return ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &x) < 0 ? -1 : x.fd;
}

/* A sync_file's status (1 signaled, 0 pending, <0 error), or -1000 when FILE_INFO fails. */
static int sync_status(int fd)
{
	struct sync_file_info info = { 0 };

	return ioctl(fd, SYNC_IOC_FILE_INFO, &info) < 0 ? -1000 : info.status;
}

static int buf_sync(int buf, __u64 flags)
{
	struct dma_buf_sync s = { .flags = flags };

	return ioctl(buf, DMA_BUF_IOCTL_SYNC, &s);
}

/* revents of @fd for @events after poll() with @timeout ms, or -1. */
static int poll_bits(int fd, short events, int timeout)
{
	struct pollfd p = { .fd = fd, .events = events };

	return fd < 0 || poll(&p, 1, timeout) < 0 ? -1 : p.revents;
}

/*
 * A buffer with a pending write fence (point 1 of a new timeline, *@tl; *@fence gets the
 * fence when not NULL).  @fd_flags for the buffer; the fence and timeline get @flags.
 */
static int pending_buf(int *tl, int *fence, unsigned int fd_flags, int flags)
{
	int buf = heap_alloc(BUF_SIZE, fd_flags), f;

	*tl = timeline_open(flags);
	f = *tl < 0 ? -1 : fence_create(*tl, 1);
	if (buf < 0 || f < 0 || import_write(buf, f) < 0 || (!flags && fcntl(f, F_SETFD, 0))) {
		if (buf >= 0)
			close(buf);
		if (f >= 0)
			close(f);
		return -1;
	}
	if (fence)
		*fence = f;
	else
		close(f);
	return buf;
}

/* The text of @path (an fdinfo file) into @out, through open/read. */
static bool read_text(const char *path, char *out, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, got = 0;

	if (fd < 0)
		return false;
	while ((n = read(fd, out + got, len - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	out[got] = '\0';
	return n == 0;
}

/* The fdinfo of our @fd contains @line. */
static bool fdinfo_has(const char *dir, int fd, const char *line)
{
	char path[96], text[4096];

	snprintf(path, sizeof(path), "%s/fdinfo/%d", dir, fd);
	return read_text(path, text, sizeof(text)) && strstr(text, line);
}

/* Wait (at most 2 s) until thread @tid sleeps: a state query, not synchronization. */
static void wait_sleeping(pid_t tid)
{
	struct timespec ms = { 0, 1000000 };
	char path[64], text[512], *p;
	int i;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	for (i = 0; i < 2000; i++) {
		if (read_text(path, text, sizeof(text)) && (p = strrchr(text, ')')) && p[2] == 'S')
			return;
		nanosleep(&ms, NULL);
	}
	diag("thread %d was not seen asleep", (int)tid);
}

/* ---- children's reports ---- */

static void __attribute__((format(printf, 3, 4))) report(int res, bool cond, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "%d ", cond);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(res, line, (size_t)n);
}

/* The child's lines on @rd as TAP points; their number. */
static int collect(int rd, const char *who)
{
	char text[4096], *line, *save = NULL;
	ssize_t n, got = 0;
	int count = 0;

	while ((n = read(rd, text + got, sizeof(text) - 1 - (size_t)got)) > 0)
		got += n;
	text[got] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ok(line[0] == '1', "%s: %s", who, line + 2);
		count++;
	}
	return count;
}

static bool exited_0(pid_t pid)
{
	int st;

	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ---- 1. entry points ---- */

static void test_entry_points(void)
{
	volatile int rd = O_RDONLY | O_CLOEXEC, rw = O_RDWR | O_CLOEXEC;
	int buf, p[2];
	char path[64], line[128];
	bool size = false, count = false, exp = false;
	FILE *f;

	ok(heap_works(open64(HEAP, O_RDONLY | O_CLOEXEC)), "open64 of " HEAP);
	ok(heap_works(openat(AT_FDCWD, HEAP, O_RDONLY | O_CLOEXEC)), "openat(AT_FDCWD) of " HEAP);
	/* an absolute path ignores dirfd, whatever it is */
	if (pipe2(p, O_CLOEXEC))
		bail_out("pipe2");
	ok(heap_works(openat(p[0], HEAP, O_RDONLY | O_CLOEXEC)), "openat(a pipe, absolute path)");
	ok(udmabuf_works(openat(12345, "/dev/udmabuf", O_RDWR | O_CLOEXEC)),
	   "openat(a closed number, /dev/udmabuf)");
	close(p[0]);
	close(p[1]);
	/* flags the compiler cannot see: _FORTIFY_SOURCE sends these to __open_2/__openat_2 */
	ok(heap_works(open(HEAP, rd)), "fortified open (__open_2) of " HEAP);
	ok(udmabuf_works(open("/dev/udmabuf", rw)), "fortified open (__open_2) of /dev/udmabuf");
	ok(heap_works(openat(AT_FDCWD, HEAP, rd)), "fortified openat (__openat_2)");
	ok(heap_works(__open64_2(HEAP, O_RDONLY | O_CLOEXEC)), "__open64_2");
	ok(heap_works(__openat64_2(AT_FDCWD, HEAP, O_RDONLY | O_CLOEXEC)), "__openat64_2");

	f = fopen("/dev/udmabuf", "re");
	ok(f && udmabuf_works(fileno(f)), "fopen(/dev/udmabuf, \"re\") + fileno: UDMABUF_CREATE");
	ok(f && (fcntl(fileno(f), F_GETFD) & FD_CLOEXEC), "fopen \"e\": close-on-exec");
	if (f)
		fclose(f);

	f = fopen(HEAP, "re");
	ok(f && heap_works(dup(fileno(f))), "fopen(" HEAP ", \"re\") + fileno: ALLOC");
	if (f)
		fclose(f);

	buf = heap_alloc(BUF_SIZE, O_RDWR | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", buf);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		size |= !strcmp(line, "size:\t16384\n");
		count |= !strcmp(line, "count:\t1\n");
		exp |= !strcmp(line, "exp_name:\tsystem\n");
	}
	if (f)
		fclose(f);
	ok(f && size && count && exp, "fopen+fgets of /proc/self/fdinfo/N: size, count, exp_name");
	snprintf(path, sizeof(path), "/proc/%d", (int)getpid());
	ok(fdinfo_has(path, buf, "\nexp_name:\tsystem\n"), "open of /proc/<getpid()>/fdinfo/N");
	ok(fdinfo_has("/proc/thread-self", buf, "\nsize:\t16384\n"),
	   "open of /proc/thread-self/fdinfo/N");
	close(buf);
}

/* /proc/<pid>/fdinfo/N of a dma-buf of another process (a child that inherited it). */
static void test_fdinfo_other(void)
{
	int buf = heap_alloc(BUF_SIZE, O_RDWR), go[2];
	char dir[32];
	pid_t pid;

	if (buf < 0 || pipe2(go, O_CLOEXEC)) {
		ok(false, "fdinfo of another process: setup");
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		(void)!read(go[0], dir, 1);	/* until the parent has looked */
		_exit(0);
	}
	snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
	ok(fdinfo_has(dir, buf, "\nsize:\t16384\ncount:\t2\nexp_name:\tsystem\n"),
	   "/proc/<child>/fdinfo/N: size, count 2 (two processes), exp_name");
	close(go[1]);
	close(go[0]);
	waitpid(pid, NULL, 0);
	close(buf);
}

/* ---- 2. /dev/sw_sync ---- */

static void test_dev_sw_sync(void)
{
	int tl, f;

	if (!under_shim) {
		skip("/dev/sw_sync is Android's node; Linux 6.12 has only " SW_SYNC);
		return;
	}
	tl = open("/dev/sw_sync", O_RDWR | O_CLOEXEC);
	ok(tl >= 0, "open of /dev/sw_sync");
	f = tl < 0 ? -1 : fence_create(tl, 1);
	ok(f >= 0, "/dev/sw_sync: SW_SYNC_IOC_CREATE_FENCE");
	is_int(poll_bits(f, POLLIN, 0), 0, "/dev/sw_sync: the fence polls 0 before INC");
	is_int(tl_inc(tl, 1), 0, "/dev/sw_sync: SW_SYNC_IOC_INC");
	is_int(poll_bits(f, POLLIN, 0), POLLIN, "/dev/sw_sync: the fence polls IN after INC");
	if (f >= 0)
		close(f);
	if (tl >= 0)
		close(tl);
}

/* ---- 3. stat, access, the heap directory ---- */

static bool stat_type(const char *path, mode_t type)
{
	struct stat64 st64;
	struct statx stx;
	struct stat st;
	int junk = 12345;

	return !stat(path, &st) && (st.st_mode & S_IFMT) == type &&
	       !lstat(path, &st) && (st.st_mode & S_IFMT) == type &&
	       !stat64(path, &st64) && (st64.st_mode & S_IFMT) == type &&
	       !fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) &&
	       (st.st_mode & S_IFMT) == type &&
	       !fstatat(junk, path, &st, 0) && (st.st_mode & S_IFMT) == type &&
	       !statx(AT_FDCWD, path, 0, STATX_TYPE | STATX_MODE, &stx) &&
	       (stx.stx_mask & STATX_TYPE) && (stx.stx_mode & S_IFMT) == type &&
	       !access(path, F_OK) && !faccessat(AT_FDCWD, path, F_OK, 0);
}

/* Every call fails with @err. */
static bool stat_fails(const char *path, int err)
{
	struct statx stx;
	struct stat st;

	return stat(path, &st) < 0 && errno == err && lstat(path, &st) < 0 && errno == err &&
	       fstatat(AT_FDCWD, path, &st, 0) < 0 && errno == err &&
	       statx(AT_FDCWD, path, 0, STATX_TYPE, &stx) < 0 && errno == err &&
	       access(path, F_OK) < 0 && errno == err &&
	       faccessat(AT_FDCWD, path, F_OK, 0) < 0 && errno == err;
}

static void test_heap_dir(void)
{
	bool dot = false, dotdot = false, system = false, chr = false;
	struct dirent *e;
	struct stat st;
	DIR *d = opendir("/dev/dma_heap");

	ok(d != NULL, "opendir of /dev/dma_heap");
	if (!d)
		return;
	while ((e = readdir(d))) {
		dot |= !strcmp(e->d_name, ".");
		dotdot |= !strcmp(e->d_name, "..");
		if (!strcmp(e->d_name, "system")) {
			system = true;
			chr = e->d_type == DT_CHR;
		}
	}
	ok(dot && dotdot && system, "readdir of /dev/dma_heap: ., .., system");
	ok(chr, "readdir: system is DT_CHR (devtmpfs)");
	ok(dirfd(d) >= 0 && !fstat(dirfd(d), &st) && S_ISDIR(st.st_mode),
	   "dirfd of /dev/dma_heap: a directory");
	ok(!fstatat(dirfd(d), "system", &st, 0) && S_ISCHR(st.st_mode),
	   "fstatat(dirfd, \"system\"): a character device");
	ok(heap_works(openat(dirfd(d), "system", O_RDONLY | O_CLOEXEC)),
	   "openat(dirfd, \"system\") allocates");
	closedir(d);
}

/* stat() of @path and fstat() of what open() gives are the same file, as they are in Linux. */
static bool stat_matches_fstat(const char *path)
{
	struct stat a, b;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool same;

	same = fd >= 0 && !stat(path, &a) && !fstat(fd, &b) && a.st_mode == b.st_mode &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_rdev == b.st_rdev;
	if (fd >= 0)
		close(fd);
	return same;
}

static void test_paths(void)
{
	ok(stat_type("/dev/dma_heap", S_IFDIR), "stat family: /dev/dma_heap is a directory");
	ok(stat_type(HEAP, S_IFCHR), "stat family: " HEAP " is a character device");
	ok(stat_type("/dev/udmabuf", S_IFCHR), "stat family: /dev/udmabuf is a character device");
	ok(stat_fails("/dev/dma_heap/nope", ENOENT), "stat family: /dev/dma_heap/nope: ENOENT");
	ok(stat_type("//dev//dma_heap/system", S_IFCHR), "stat family: //dev//dma_heap/system");
	ok(stat_type("/dev//udmabuf", S_IFCHR), "stat family: /dev//udmabuf");
	ok(stat_type("/dev/./dma_heap/../dma_heap/system", S_IFCHR),
	   "stat family: /dev/./dma_heap/../dma_heap/system");
	ok(stat_fails(HEAP "/", ENOTDIR), "stat family: " HEAP "/ (trailing slash): ENOTDIR");
	ok(heap_works(open("//dev//dma_heap/system", O_RDONLY | O_CLOEXEC)),
	   "open of //dev//dma_heap/system allocates");
	ok(open("/dev/dma_heap/nope", O_RDONLY | O_CLOEXEC) < 0 && errno == ENOENT,
	   "open of /dev/dma_heap/nope: ENOENT");
	ok(stat_matches_fstat(HEAP), "stat(" HEAP ") and fstat of its descriptor agree");
	ok(stat_matches_fstat("/dev/udmabuf"),
	   "stat(/dev/udmabuf) and fstat of its descriptor agree");
	ok(stat_matches_fstat(SW_SYNC), "stat(" SW_SYNC ") and fstat of its descriptor agree");
	ok(!access("/dev/dma_heap", X_OK), "access(/dev/dma_heap, X_OK): 0");
	ok(access("/dev/udmabuf", X_OK) < 0 && errno == EACCES,
	   "access(/dev/udmabuf, X_OK): EACCES (no x bit, even for root)");
	test_heap_dir();
}

/* ---- 4. descriptors the library did not see ---- */

static void test_unseen(void)
{
	int buf = heap_alloc(BUF_SIZE, O_RDWR | O_CLOEXEC), raw, tl, f, sf, hi;
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", buf);
	raw = open(path, O_RDWR | O_CLOEXEC);
	ok(raw < 0 && errno == ENXIO, "open of /proc/self/fd/N of a dma-buf: ENXIO (anon inode)");
	if (raw >= 0)
		close(raw);
	/* a raw syscall makes a descriptor libc never saw: the first uAPI ioctl adopts it */
	raw = (int)syscall(SYS_fcntl, buf, F_DUPFD_CLOEXEC, 600);
	ok(raw >= 600 && !buf_sync(raw, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW) &&
	   !buf_sync(raw, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW),
	   "DMA_BUF_IOCTL_SYNC on a dma-buf dup'ed by a raw syscall");
	sf = export_sync_file(raw, DMA_BUF_SYNC_RW);
	is_int(sync_status(sf), 1, "EXPORT_SYNC_FILE on it: a signaled sync_file");
	tl = timeline_open(O_CLOEXEC);
	f = tl < 0 ? -1 : fence_create(tl, 1);
	ok(!import_write(raw, f), "IMPORT_SYNC_FILE through it");
	ok(poll_bits(raw, POLLIN, 0) == 0 && poll_bits(buf, POLLIN, 0) == 0,
	   "both numbers poll 0: one buffer with a pending write fence");
	/* a sync_file moved by a raw dup3 to a high number, and by libc's dup2 */
	hi = (int)syscall(SYS_dup3, f, 700, O_CLOEXEC);
	is_int(sync_status(hi), 0, "SYNC_IOC_FILE_INFO on a sync_file raw-dup3'ed to 700: pending");
	is_int(dup2(f, 800), 800, "dup2 of a sync_file to 800");
	is_int(sync_status(800), 0, "SYNC_IOC_FILE_INFO on 800: pending");
	is_int(tl_inc(tl, 1), 0, "INC");
	ok(poll_bits(raw, POLLIN, 0) == POLLIN && poll_bits(hi, POLLIN, 0) == POLLIN &&
	   poll_bits(800, POLLIN, 0) == POLLIN, "after INC: the adopted numbers poll IN");
	close(800);
	close(hi);
	close(sf);
	close(f);
	close(tl);
	close(raw);
	close(buf);
}

/* ---- 5. exec ---- */

#define EXEC_CHECKS 8

/* In the new image: argv = [self, --exec-child, how, buf, sync_file, timeline, result pipe]. */
static int exec_child(char **argv)
{
	int buf = atoi(argv[3]), sf = atoi(argv[4]), tl = atoi(argv[5]), res = atoi(argv[6]);
	const char *mark = getenv("ONLY_IN_EXECLE_ENV");
	struct stat st;

	report(res, !fstat(buf, &st) && st.st_size == BUF_SIZE && !(st.st_mode & S_IFMT),
	       "fstat of the inherited dma-buf: no file type, size 16384");
	report(res, poll_bits(buf, POLLIN, 0) == 0,
	       "poll(POLLIN) is 0: the write fence is pending");
	report(res, sync_status(sf) == 0, "FILE_INFO of the inherited sync_file: pending");
	report(res, fdinfo_has("/proc/self", buf, "\nexp_name:\tsystem\n"),
	       "fdinfo of the inherited dma-buf is served");
	report(res, !getenv("DMABUF_PRELOAD_FDS"), "DMABUF_PRELOAD_FDS is not visible");
	report(res, !tl_inc(tl, 1), "SW_SYNC_IOC_INC on the inherited timeline");
	report(res, poll_bits(buf, POLLIN, 5000) == POLLIN, "poll(POLLIN) after INC: IN");
	report(res, poll_bits(sf, POLLIN, 0) == POLLIN, "the inherited sync_file polls IN");
	if (!strcmp(argv[2], "execle"))
		report(res, mark && !strcmp(mark, "1"), "the environment given to execle arrived");
	return 0;
}

/* The variables a re-exec under the library needs, and ours (for execle). */
static char **small_env(void)
{
	static const char *const keep[] = { "LD_PRELOAD=", "DMABUFD_SOCKET=", "DMABUFD=",
					     "XDG_RUNTIME_DIR=", "PATH=" };
	static char *env[8];
	size_t i, k, n = 0;

	for (i = 0; environ[i]; i++)
		for (k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
			if (!strncmp(environ[i], keep[k], strlen(keep[k])) && n < 6)
				env[n++] = environ[i];
	env[n++] = "ONLY_IN_EXECLE_ENV=1";
	env[n] = NULL;
	return env;
}

static void __attribute__((noreturn)) exec_as(const char *how, char **argv)
{
	char dir[PATH_MAX], *base = strrchr(self_exe, '/');
	int fd;

	snprintf(dir, sizeof(dir), "%.*s", base > self_exe ? (int)(base - self_exe) : 1, self_exe);
	if (!strcmp(how, "execv")) {
		execv(self_exe, argv);
	} else if (!strcmp(how, "execl")) {
		execl(self_exe, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6],
		      (char *)NULL);
	} else if (!strcmp(how, "execle")) {
		execle(self_exe, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6],
		       (char *)NULL, small_env());
	} else if (!strcmp(how, "execvp")) {
		setenv("PATH", dir, 1);
		execvp(base + 1, argv);
	} else if (!strcmp(how, "execvpe")) {
		setenv("PATH", dir, 1);
		execvpe(base + 1, argv, environ);
	} else if ((fd = open(self_exe, O_RDONLY | O_CLOEXEC)) >= 0) {
		fexecve(fd, argv, environ);
	}
	_exit(127);
}

static void exec_one(const char *how)
{
	char a[4][16], *argv[8] = { self_exe, "--exec-child", (char *)how, a[0], a[1], a[2], a[3] };
	int tl, sf, buf = pending_buf(&tl, &sf, O_RDWR, 0), res[2], n;
	pid_t pid;

	if (buf < 0 || pipe(res)) {
		ok(false, "%s: setup", how);
		return;
	}
	snprintf(a[0], sizeof(a[0]), "%d", buf);
	snprintf(a[1], sizeof(a[1]), "%d", sf);
	snprintf(a[2], sizeof(a[2]), "%d", tl);
	snprintf(a[3], sizeof(a[3]), "%d", res[1]);
	fcntl(res[0], F_SETFD, FD_CLOEXEC);
	pid = fork();
	if (pid == 0) {
		close(res[0]);
		exec_as(how, argv);
	}
	close(res[1]);
	n = collect(res[0], how);
	close(res[0]);
	ok(pid > 0 && exited_0(pid), "%s: the new image exited 0", how);
	is_int(n, EXEC_CHECKS + !strcmp(how, "execle"), "%s: every check ran", how);
	is_int(poll_bits(buf, POLLIN, 0), POLLIN, "%s: its INC signaled our buffer", how);
	close(buf);
	close(sf);
	close(tl);
}

static void test_exec(void)
{
	static const char *const hows[] = { "execv", "execl", "execle", "execvp", "execvpe",
					    "fexecve" };
	size_t i;

	for (i = 0; i < sizeof(hows) / sizeof(hows[0]); i++)
		exec_one(hows[i]);
}

/* ---- 6. posix_spawn ---- */

/* argv = [self, --spawn-child, idle buffer, pending buffer, result pipe] */
static int spawn_child(char **argv)
{
	int idle = atoi(argv[2]), pend = atoi(argv[3]), res = atoi(argv[4]), sf;

	report(res, !buf_sync(idle, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW) &&
	       !buf_sync(idle, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW),
	       "DMA_BUF_IOCTL_SYNC on an inherited idle dma-buf");
	sf = export_sync_file(pend, DMA_BUF_SYNC_READ);
	report(res, sf >= 0, "EXPORT_SYNC_FILE on an inherited dma-buf");
	report(res, sync_status(sf) == 0, "the exported sync_file is pending (the parent's fence)");
	report(res, poll_bits(pend, POLLIN, 0) == 0, "then poll(POLLIN) of that buffer: 0");
	report(res, fdinfo_has("/proc/self", pend, "\nexp_name:\tsystem\n"),
	       "then its fdinfo is served");
	return 0;
}

static void test_posix_spawn(void)
{
	char a[3][16], *argv[6] = { self_exe, "--spawn-child", a[0], a[1], a[2] };
	int tl, idle = heap_alloc(4096, O_RDWR), pend = pending_buf(&tl, NULL, O_RDWR, O_CLOEXEC);
	int res[2], n;
	pid_t pid;

	if (idle < 0 || pend < 0 || pipe(res)) {
		ok(false, "posix_spawn: setup");
		return;
	}
	fcntl(res[0], F_SETFD, FD_CLOEXEC);
	snprintf(a[0], sizeof(a[0]), "%d", idle);
	snprintf(a[1], sizeof(a[1]), "%d", pend);
	snprintf(a[2], sizeof(a[2]), "%d", res[1]);
	n = posix_spawn(&pid, self_exe, NULL, NULL, argv, environ);
	close(res[1]);
	ok(n == 0, "posix_spawn of a child that inherits two dma-bufs");
	n = n ? 0 : collect(res[0], "posix_spawn child");
	close(res[0]);
	is_int(n, 5, "posix_spawn: every check ran");
	ok(n && exited_0(pid), "posix_spawn: the child exited 0");
	is_int(tl_inc(tl, 1), 0, "posix_spawn: INC in the parent");
	is_int(poll_bits(pend, POLLIN, 0), POLLIN, "posix_spawn: the buffer polls IN");
	close(idle);
	close(pend);
	close(tl);
}

/* ---- 7. threads ---- */

struct poller {
	pthread_t th;
	int buf;
	int hs;		/* handshake: the thread's id, written before it blocks */
	bool use_ppoll;
	int ret;
	short revents;
};

static void *poller_main(void *arg)
{
	struct poller *w = arg;
	struct pollfd p = { .fd = w->buf, .events = POLLIN };
	struct timespec ts = { 10, 0 };
	pid_t tid = gettid();

	(void)!write(w->hs, &tid, sizeof(tid));
	w->ret = w->use_ppoll ? ppoll(&p, 1, &ts, NULL) : poll(&p, 1, 10000);
	w->revents = p.revents;
	return NULL;
}

static void test_threads(void)
{
	struct poller w[2];
	int tl, buf = pending_buf(&tl, NULL, O_RDWR | O_CLOEXEC, O_CLOEXEC), hs[2], i;
	pid_t tid;

	if (buf < 0 || pipe2(hs, O_CLOEXEC)) {
		ok(false, "threads: setup");
		return;
	}
	for (i = 0; i < 2; i++) {
		w[i] = (struct poller){ .buf = buf, .hs = hs[1], .use_ppoll = i == 1 };
		pthread_create(&w[i].th, NULL, poller_main, &w[i]);
	}
	for (i = 0; i < 2; i++)
		if (read(hs[0], &tid, sizeof(tid)) == sizeof(tid))
			wait_sleeping(tid);
	is_int(tl_inc(tl, 1), 0, "threads: a third thread signals the write fence");
	for (i = 0; i < 2; i++) {
		pthread_join(w[i].th, NULL);
		ok(w[i].ret == 1 && w[i].revents == POLLIN,
		   "threads: the %s waiter wakes with POLLIN", w[i].use_ppoll ? "ppoll" : "poll");
	}
	close(hs[0]);
	close(hs[1]);
	close(buf);
	close(tl);
}

/* ---- 8. epoll ---- */

static int ep_add(int ep, int op, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, op, fd, &ev);
}

/* The data of the events epoll_wait(@timeout) reports, as a bit set (1 << data). */
static unsigned int ep_ready(int ep, int timeout)
{
	struct epoll_event ev[8];
	unsigned int set = 0;
	int i, n = epoll_wait(ep, ev, 8, timeout);

	for (i = 0; i < n; i++)
		set |= 1U << ev[i].data.u64;
	return n < 0 ? ~0U : set;
}

struct incer {
	int tl;
	int hs;
	pid_t waiter;
};

static void *incer_main(void *arg)
{
	struct incer *c = arg;
	char x;

	if (read(c->hs, &x, 1) == 1)
		wait_sleeping(c->waiter);
	tl_inc(c->tl, 1);
	return NULL;
}

/* A dma-buf (1) and a pipe (2) in one set, waited on with epoll_pwait and epoll_pwait2. */
static void epoll_mixed(int ep, int buf, int tl, int p[2])
{
	struct timespec zero = { 0, 0 }, ten = { 10, 0 };
	struct incer c = { .tl = tl, .waiter = gettid() };
	struct epoll_event ev[8];
	pthread_t th;
	int hs[2], n;
	char x;

	ok(!ep_add(ep, EPOLL_CTL_ADD, buf, EPOLLIN, 1) &&
	   !ep_add(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 2), "epoll_ctl ADD of a dma-buf and a pipe");
	is_int(epoll_pwait(ep, ev, 8, 0, NULL), 0,
	       "epoll_pwait: nothing while the fence is pending");
	(void)!write(p[1], "x", 1);
	n = epoll_pwait(ep, ev, 8, 0, NULL);
	ok(n == 1 && ev[0].data.u64 == 2, "epoll_pwait: the pipe alone");
	(void)!read(p[0], &x, 1);
	if (pipe2(hs, O_CLOEXEC))
		bail_out("pipe2");
	c.hs = hs[0];
	pthread_create(&th, NULL, incer_main, &c);
	(void)!write(hs[1], "x", 1);	/* about to block */
	n = epoll_pwait2(ep, ev, 8, &ten, NULL);
	pthread_join(th, NULL);
	ok(n == 1 && ev[0].data.u64 == 1 && ev[0].events == EPOLLIN,
	   "epoll_pwait2 wakes when another thread signals: the dma-buf, EPOLLIN");
	close(hs[0]);
	close(hs[1]);
	(void)!write(p[1], "x", 1);
	n = epoll_pwait2(ep, ev, 8, &zero, NULL);
	ok(n == 2 && (ev[0].data.u64 | ev[1].data.u64) == 3,
	   "epoll_pwait2: the dma-buf and the pipe");
	(void)!read(p[0], &x, 1);
}

static void epoll_lifetimes(int ep, int buf)
{
	int b2 = heap_alloc(4096, O_RDWR | O_CLOEXEC), b3 = heap_alloc(4096, O_RDWR | O_CLOEXEC);
	int d, ep2;

	ok(!epoll_ctl(ep, EPOLL_CTL_DEL, buf, NULL) && ep_ready(ep, 0) == 0,
	   "after EPOLL_CTL_DEL epoll_wait reports nothing");
	ok(!ep_add(ep, EPOLL_CTL_ADD, buf, EPOLLIN | EPOLLONESHOT, 3) && ep_ready(ep, 0) == 1U << 3,
	   "ONESHOT: reported once");
	is_int(ep_ready(ep, 0), 0, "ONESHOT: then disabled");
	ok(!ep_add(ep, EPOLL_CTL_MOD, buf, EPOLLIN | EPOLLONESHOT, 4) && ep_ready(ep, 0) == 1U << 4,
	   "EPOLL_CTL_MOD re-arms it");
	ok(!ep_add(ep, EPOLL_CTL_ADD, b2, EPOLLIN, 5) && ep_ready(ep, 0) == 1U << 5,
	   "another idle dma-buf is reported");
	close(b2);
	is_int(ep_ready(ep, 0), 0, "close of it takes it out of the set");
	/* the set holds the file, not the number: a dup keeps it there */
	ok(!ep_add(ep, EPOLL_CTL_ADD, b3, EPOLLOUT, 6), "ADD of a third dma-buf");
	d = dup(b3);
	close(b3);
	is_int(ep_ready(ep, 0), 1U << 6, "close of one of its two numbers: still reported");
	ep2 = dup(ep);
	is_int(ep_ready(ep2, 0), 1U << 6, "a dup of the epoll descriptor is the same set");
	close(ep2);
	close(d);
	is_int(ep_ready(ep, 0), 0, "close of the last number: gone");
}

static void epoll_refusals(int ep, int buf, int tl, int pipe_rd)
{
	int heap = open(HEAP, O_RDONLY | O_CLOEXEC);

	ok(ep_add(ep, EPOLL_CTL_ADD, heap, EPOLLIN, 8) < 0 && errno == EPERM,
	   "epoll_ctl ADD of a heap descriptor: EPERM (no poll method)");
	ok(epoll_ctl(ep, EPOLL_CTL_DEL, heap, NULL) < 0 && errno == EPERM,
	   "epoll_ctl DEL of a heap descriptor: EPERM (checked before the operation)");
	ok(ep_add(ep, EPOLL_CTL_ADD, tl, EPOLLIN, 8) < 0 && errno == EPERM,
	   "epoll_ctl ADD of a sw_sync timeline: EPERM");
	ok(ep_add(pipe_rd, EPOLL_CTL_ADD, buf, EPOLLIN, 8) < 0 && errno == EINVAL,
	   "epoll_ctl on a descriptor that is no epoll set: EINVAL");
	ok(ep_add(ep, EPOLL_CTL_MOD, buf, EPOLLIN | EPOLLEXCLUSIVE, 8) < 0 && errno == EINVAL,
	   "EPOLL_CTL_MOD with EPOLLEXCLUSIVE: EINVAL");
	ok(ep_add(ep, EPOLL_CTL_ADD, buf, EPOLLIN, 8) < 0 && errno == EEXIST,
	   "a second EPOLL_CTL_ADD of the dma-buf: EEXIST");
	ok(epoll_pwait2(ep, &(struct epoll_event){ 0 }, 1, &(struct timespec){ 0, 1000000000 },
			NULL) < 0 && errno == EINVAL,
	   "epoll_pwait2 with tv_nsec = 10^9: EINVAL");
	close(heap);
}

static void test_epoll(void)
{
	int tl, buf = pending_buf(&tl, NULL, O_RDWR | O_CLOEXEC, O_CLOEXEC), p[2];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (buf < 0 || ep < 0 || pipe2(p, O_CLOEXEC | O_NONBLOCK)) {
		ok(false, "epoll: setup");
		return;
	}
	epoll_mixed(ep, buf, tl, p);
	epoll_lifetimes(ep, buf);
	epoll_refusals(ep, buf, tl, p[0]);
	close(ep);
	close(p[0]);
	close(p[1]);
	close(buf);
	close(tl);
}

/* ---- 9. select ---- */

static void test_select(void)
{
	int tl, buf = pending_buf(&tl, NULL, O_RDWR | O_CLOEXEC, O_CLOEXEC), p[2], n;
	struct timeval tv = { 0, 20000 };
	fd_set r;

	if (buf < 0 || pipe2(p, O_CLOEXEC)) {
		ok(false, "select: setup");
		return;
	}
	FD_ZERO(&r);
	FD_SET(buf, &r);
	n = select(buf + 1, &r, NULL, NULL, &tv);
	ok(n == 0 && !FD_ISSET(buf, &r) && tv.tv_sec == 0 && tv.tv_usec == 0,
	   "select times out on a pending dma-buf and writes back 0/0");
	(void)!write(p[1], "x", 1);
	FD_ZERO(&r);
	FD_SET(buf, &r);
	FD_SET(p[0], &r);
	tv = (struct timeval){ 5, 0 };
	n = select((buf > p[0] ? buf : p[0]) + 1, &r, NULL, NULL, &tv);
	ok(n == 1 && FD_ISSET(p[0], &r) && !FD_ISSET(buf, &r), "select: the pipe, not the dma-buf");
	ok(tv.tv_sec * 1000000L + tv.tv_usec > 0 && tv.tv_sec * 1000000L + tv.tv_usec <= 5000000L,
	   "select writes back the time that was left");
	FD_ZERO(&r);
	FD_SET(buf, &r);
	tv = (struct timeval){ 0, -1 };
	ok(select(buf + 1, &r, NULL, NULL, &tv) < 0 && errno == EINVAL,
	   "select with a negative tv_usec: EINVAL");
	ok(ppoll(&(struct pollfd){ .fd = buf, .events = POLLIN }, 1,
		 &(struct timespec){ 0, 1000000000 }, NULL) < 0 && errno == EINVAL,
	   "ppoll with tv_nsec = 10^9: EINVAL");
	tl_inc(tl, 1);
	FD_ZERO(&r);
	FD_SET(buf, &r);
	tv = (struct timeval){ 5, 0 };
	ok(select(buf + 1, &r, NULL, NULL, &tv) == 1 && FD_ISSET(buf, &r),
	   "select: the dma-buf after INC");
	close(p[0]);
	close(p[1]);
	close(buf);
	close(tl);
}

/* ---- 10. ordinary descriptors, as without the library ---- */

/* @a (libc) and @b (syscall) returned the same, with the same errno when they failed. */
#define SAME(a, b, ...)								\
	do {									\
		long a_, b_;							\
		int ea_, eb_;							\
		errno = 0;							\
		a_ = (long)(a);							\
		ea_ = errno;							\
		errno = 0;							\
		b_ = (long)(b);							\
		eb_ = errno;							\
		if (!ok(a_ == b_ && (a_ >= 0 || ea_ == eb_), __VA_ARGS__))	\
			diag("libc %ld (%d), syscall %ld (%d)", a_, ea_, b_, eb_); \
	} while (0)

static void plain_pipe(const char *when, int p[2])
{
	struct pollfd pa = { .fd = p[0], .events = POLLIN }, pb = pa;
	struct timeval ta = { 0, 1000 }, tb = ta;
	struct epoll_event ea, eb;
	int na = -1, nb = -2, ep = epoll_create1(EPOLL_CLOEXEC);
	char a[4] = "", b[4] = "";
	fd_set ra, rb;

	ok(write(p[1], "abcdef", 6) == 6, "%s: write to a pipe", when);
	SAME(ioctl(p[0], FIONREAD, &na), syscall(SYS_ioctl, p[0], FIONREAD, &nb),
	     "%s: ioctl FIONREAD", when);
	is_int(na, nb, "%s: FIONREAD counts", when);
	SAME(poll(&pa, 1, 0), syscall(SYS_poll, &pb, 1, 0), "%s: poll", when);
	is_int(pa.revents, pb.revents, "%s: poll revents", when);
	FD_ZERO(&ra);
	FD_SET(p[0], &ra);
	rb = ra;
	SAME(select(p[0] + 1, &ra, NULL, NULL, &ta), syscall(SYS_select, p[0] + 1, &rb, 0, 0, &tb),
	     "%s: select", when);
	ok(FD_ISSET(p[0], &ra) && FD_ISSET(p[0], &rb), "%s: select sets", when);
	ok(!ep_add(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 42), "%s: epoll_ctl ADD of a pipe", when);
	SAME(epoll_wait(ep, &ea, 1, 0), syscall(SYS_epoll_wait, ep, &eb, 1, 0), "%s: epoll_wait",
	     when);
	ok(ea.data.u64 == 42 && eb.data.u64 == 42 && ea.events == eb.events, "%s: epoll events",
	   when);
	SAME(read(p[0], a, 3), syscall(SYS_read, p[0], b, 3), "%s: read", when);
	ok(!strcmp(a, "abc") && !strcmp(b, "def"), "%s: read bytes", when);
	SAME(read(p[0], a, 3), syscall(SYS_read, p[0], b, 3), "%s: read of an empty pipe", when);
	SAME(poll(&pa, 1, 0), syscall(SYS_poll, &pb, 1, 0), "%s: poll of an empty pipe", when);
	ta = tb = (struct timeval){ 0, 1000 };
	SAME(select(p[0] + 1, &ra, NULL, NULL, &ta), syscall(SYS_select, p[0] + 1, &rb, 0, 0, &tb),
	     "%s: select times out", when);
	ok(!ta.tv_usec && !tb.tv_usec, "%s: select writes back 0", when);
	close(ep);
}

static void plain_memfd(const char *when)
{
	int m = memfd_create("plain", MFD_CLOEXEC), ep = epoll_create1(EPOLL_CLOEXEC);
	struct dma_buf_sync s = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
	struct sync_file_info info = { 0 };
	struct epoll_event ev = { .events = EPOLLIN };
	struct stat sa, sb;
	char *ma, *mb;

	ok(m >= 0 && !ftruncate(m, 4096), "%s: a memfd of our own", when);
	SAME(ioctl(m, DMA_BUF_IOCTL_SYNC, &s), syscall(SYS_ioctl, m, DMA_BUF_IOCTL_SYNC, &s),
	     "%s: DMA_BUF_IOCTL_SYNC on a memfd", when);
	SAME(ioctl(m, SYNC_IOC_FILE_INFO, &info), syscall(SYS_ioctl, m, SYNC_IOC_FILE_INFO, &info),
	     "%s: SYNC_IOC_FILE_INFO on a memfd", when);
	SAME(epoll_ctl(ep, EPOLL_CTL_ADD, m, &ev),
	     syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, m, &ev),
	     "%s: epoll_ctl ADD of a memfd (EPERM)", when);
	SAME(fstat(m, &sa), syscall(SYS_fstat, m, &sb), "%s: fstat of a memfd", when);
	ok(sa.st_mode == sb.st_mode && sa.st_ino == sb.st_ino && sa.st_size == sb.st_size,
	   "%s: fstat fields", when);
	SAME(lseek(m, 100, SEEK_SET), syscall(SYS_lseek, m, 100, SEEK_SET), "%s: lseek", when);
	ma = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	mb = (char *)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	ok(ma != MAP_FAILED && mb != MAP_FAILED, "%s: mmap of a memfd", when);
	if (ma != MAP_FAILED && mb != MAP_FAILED) {
		strcpy(ma, "shared");
		ok(!strcmp(mb, "shared"), "%s: one memory through both mappings", when);
		munmap(ma, 4096);
		syscall(SYS_munmap, mb, 4096);
	}
	SAME(mmap(NULL, 4096, PROT_READ, MAP_SHARED, 9999, 0),
	     syscall(SYS_mmap, NULL, 4096, PROT_READ, MAP_SHARED, 9999, 0),
	     "%s: mmap of a closed number", when);
	close(ep);
	close(m);
}

static void test_plain(const char *when)
{
	struct pollfd pa = { .fd = 9999, .events = POLLIN }, pb = pa;
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		bail_out("pipe2");
	plain_pipe(when, p);
	plain_memfd(when);
	SAME(poll(&pa, 1, 0), syscall(SYS_poll, &pb, 1, 0), "%s: poll of a closed number", when);
	ok(pa.revents == POLLNVAL && pb.revents == POLLNVAL, "%s: POLLNVAL", when);
	close(p[0]);
	close(p[1]);
}

/* ---- 11. the broker the library starts ---- */

/* Under dmabuf-run, no broker listening: allocate (SIGALRM from the parent ends a hang). */
static int broker_client(void)
{
	int buf;

	if (getenv("DMABUFD_SOCKET"))
		return 3;	/* dmabuf-run chose a private broker: nothing tested */
	buf = heap_alloc(4096, O_RDWR | O_CLOEXEC);
	return buf < 0 ? 1 : 0;
}

/* The process whose command line has @arg, or 0. */
static pid_t find_process(const char *arg)
{
	char path[64], cmd[4096];
	struct dirent *e;
	pid_t found = 0;
	ssize_t n, i;
	DIR *d = opendir("/proc");
	int fd;

	while (d && !found && (e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/%.32s/cmdline", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		cmd[n > 0 ? n : 0] = '\0';
		for (i = 0; i < n; i += (ssize_t)strlen(cmd + i) + 1)
			if (!strcmp(cmd + i, arg))
				found = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

/* /proc/@pid/@file holds @needle (with NULs read as newlines). */
static bool proc_has(pid_t pid, const char *file, const char *needle)
{
	static char text[1 << 16];
	char path[64];
	ssize_t n, got = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	while ((n = read(fd, text + got, sizeof(text) - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	for (n = 0; n < got; n++)
		text[n] = text[n] ? text[n] : '\n';
	text[got] = '\0';
	return strstr(text, needle) != NULL;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int broker_spawn(const char *dmabuf_run)
{
	char dir[] = "/tmp/dmabuf-preload-XXXXXX", arg[PATH_MAX + 16];
	struct pollfd p = { .events = POLLIN };
	pid_t pid, broker;

	if (!mkdtemp(dir))
		bail_out("mkdtemp");
	pid = fork();
	if (pid == 0) {
		setenv("XDG_RUNTIME_DIR", dir, 1);
		unsetenv("DMABUFD_SOCKET");
		alarm(20);	/* a hang detector: survives exec */
		execl(dmabuf_run, dmabuf_run, "--", self_exe, "--broker-client", (char *)NULL);
		_exit(127);
	}
	ok(pid > 0 && exited_0(pid),
	   "a program under dmabuf-run allocates through the broker the library starts");
	snprintf(arg, sizeof(arg), "--socket=%s/dmabuf/dmabufd.sock", dir);
	broker = find_process(arg);
	ok(broker > 0, "the broker runs (%s)", arg);
	if (broker > 0) {
		ok(!proc_has(broker, "environ", PRELOAD_NAME),
		   "its environment has no " PRELOAD_NAME " in LD_PRELOAD");
		ok(!proc_has(broker, "maps", PRELOAD_NAME), "it has not loaded " PRELOAD_NAME);
		p.fd = (int)syscall(SYS_pidfd_open, broker, 0);
		kill(broker, SIGTERM);
		ok(p.fd >= 0 && poll(&p, 1, 10000) == 1, "it exits on SIGTERM");
	}
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	const char *pre = getenv("LD_PRELOAD");
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);

	if (n <= 0)
		bail_out("readlink /proc/self/exe");
	self_exe[n] = '\0';
	under_shim = pre && strstr(pre, PRELOAD_NAME);
	if (argc >= 7 && !strcmp(argv[1], "--exec-child"))
		return exec_child(argv);
	if (argc >= 5 && !strcmp(argv[1], "--spawn-child"))
		return spawn_child(argv);
	if (argc >= 2 && !strcmp(argv[1], "--broker-client"))
		return broker_client();
	if (argc >= 3 && !strcmp(argv[1], "--broker-spawn"))
		return broker_spawn(argv[2]);

	test_plain("before any dma-buf");
	test_entry_points();
	test_fdinfo_other();
	test_dev_sw_sync();
	test_paths();
	test_unseen();
	test_exec();
	test_posix_spawn();
	test_threads();
	test_epoll();
	test_select();
	test_plain("with dma-bufs open");
	return tap_done();
}

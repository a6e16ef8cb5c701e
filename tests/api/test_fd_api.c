// SPDX-License-Identifier: MIT
/*
 * test_fd_api.c - the fd-level API (dmabuf/fd.h) and the libsync compatibility functions
 * (dmabuf/libsync.h), through their public headers only.
 *
 * The expected results are the real Linux 6.12 kernel's (tests/conformance/reference and
 * ../shared/SEMANTICS.md), on either backend: the kernel's drivers or dmabufd.  Every function
 * is checked with good and bad arguments.  Mappings go through dmabuf_fd_buf_mmap(), which is
 * mmap() on the kernel backend and what shows a udmabuf's pages on the broker.
 *
 * The program uses a private broker: unless DMABUFD_SOCKET is set, its socket is in a fresh
 * directory under /tmp, removed at exit; $DMABUFD names the broker to start.
 *
 * Run with --probe, the program prints the backend it got and the result of one system-heap
 * allocation (used to test the backend selection in a fresh process).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dmabuf/fault.h>
#include <dmabuf/fd.h>
#include <dmabuf/libsync.h>

#define SW_FENCE_NAME "api"
#include "sw_fences.h"
#include "checked_run.h"
#include "private_dir.h"
#include "tap.h"

#define RD DMABUF_FD_SYNC_READ
#define WR DMABUF_FD_SYNC_WRITE
#define RW DMABUF_FD_SYNC_RW
#define END DMABUF_FD_SYNC_END
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static size_t page;
static char comm[32];
static bool on_kernel;

/* ---- helpers ---- */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* the backend carries the calls out */
static bool backend_is_live(const char *name)
{
	return !strcmp(name, "kernel") || !strcmp(name, "broker");
}

/* a descriptor number that is not open, and that nothing here will open meanwhile */
static int closed_fd(void)
{
	int fd = 4000;

	while (fcntl(fd, F_GETFD) >= 0)
		fd++;
	return fd;
}

static void xclose(int fd)
{
	if (fd >= 0)
		close(fd);
}

static bool is_cloexec(int fd)
{
	return fcntl(fd, F_GETFD) & FD_CLOEXEC;
}

static int accmode(int fd)
{
	return fcntl(fd, F_GETFL) & O_ACCMODE;
}

static long long fd_size(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : (long long)st.st_size;
}

/* dmabuf_fd_buf_mmap(), MAP_FAILED on error (with errno) */
static void *map(int fd, size_t len, int prot, int flags, uint64_t offset)
{
	void *p;
	int ret = dmabuf_fd_buf_mmap(fd, NULL, len, prot, flags, offset, &p);

	if (ret) {
		errno = -ret;
		return MAP_FAILED;
	}
	return p;
}

/* the result of dmabuf_fd_buf_mmap(); a mapping made is unmapped again */
static int map_result(int fd, size_t len, int prot, int flags, uint64_t offset)
{
	void *p = (void *)&p;
	int ret = dmabuf_fd_buf_mmap(fd, NULL, len, prot, flags, offset, &p);

	if (ret == 0)
		dmabuf_fd_buf_munmap(p, len);
	return ret;
}

/* a memfd of @npages pages with @seals added */
static int memfd(size_t npages, int seals)
{
	int fd = memfd_create("api-test", MFD_ALLOW_SEALING | MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)(npages * page)) ||
	    (seals && fcntl(fd, F_ADD_SEALS, seals)))
		bail_out("memfd: %s", strerror(errno));
	return fd;
}

/*
 * The "name:" line of a dma-buf's fdinfo, or "(none)".  Only the kernel's dma-bufs have one:
 * the broker's are memfds, whose fdinfo the kernel writes.
 */
static const char *fdinfo_name(int fd)
{
	static char val[256];
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	strcpy(val, "(none)");
	f = fopen(path, "r");
	if (!f)
		return "(no fdinfo)";
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "name:\t", 6))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(val, sizeof(val), "%s", line + 6);
	}
	fclose(f);
	return val;
}

/* the buffer's name in fdinfo is @want (kernel backend; a TAP skip on the broker) */
static void fdinfo_name_is(int fd, const char *want, const char *what)
{
	if (on_kernel)
		is_str(fdinfo_name(fd), want, "%s", what);
	else
		skip("%s: the broker's buffers have no fdinfo name", what);
}

static void read_comm(void)
{
	FILE *f = fopen("/proc/self/comm", "r");

	if (!f || !fgets(comm, sizeof(comm), f))
		bail_out("cannot read /proc/self/comm");
	comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
}

static int heap_buf(size_t len)
{
	int fd = dmabuf_fd_heap_alloc("system", len, O_RDWR | O_CLOEXEC, 0);

	if (fd < 0)
		bail_out("heap alloc: %s", strerror(-fd));
	return fd;
}

/* the status of a sync_file (full FILE_INFO call), or the error */
static int status(int fd)
{
	struct dmabuf_fd_sync_info *info;
	int ret = dmabuf_fd_sync_info(fd, &info);

	if (ret)
		return ret;
	ret = info->status;
	dmabuf_fd_sync_info_free(info);
	return ret;
}

static int num_fences(int fd)
{
	struct dmabuf_fd_sync_info *info;
	int ret = dmabuf_fd_sync_info(fd, &info);

	if (ret)
		return ret;
	ret = (int)info->num_fences;
	dmabuf_fd_sync_info_free(info);
	return ret;
}

/* A thread that signals timeline @tl by one once the main thread reached the barrier. */
struct signaler {
	pthread_t thread;
	pthread_barrier_t barrier;
	int tl;
};

static void *signaler_main(void *arg)
{
	struct signaler *s = arg;

	pthread_barrier_wait(&s->barrier);
	dmabuf_fd_sw_timeline_inc(s->tl, 1);
	return NULL;
}

static void signaler_start(struct signaler *s, int tl)
{
	s->tl = tl;
	pthread_barrier_init(&s->barrier, NULL, 2);
	if (pthread_create(&s->thread, NULL, signaler_main, s))
		bail_out("pthread_create");
}

/* let the thread signal: the caller blocks right after this */
static void signaler_go(struct signaler *s)
{
	pthread_barrier_wait(&s->barrier);
}

static void signaler_join(struct signaler *s)
{
	pthread_join(s->thread, NULL);
	pthread_barrier_destroy(&s->barrier);
}

/* ---- backend selection ---- */

static int probe(void)
{
	int fd = dmabuf_fd_heap_alloc("system", 4096, O_RDWR | O_CLOEXEC, 0);

	printf("%s %d\n", dmabuf_fd_backend_name(), fd < 0 ? fd : 0);
	xclose(fd);
	return 0;
}

/* run this program with --probe and LIBDMABUF_BACKEND=@env (NULL: unset) */
static bool run_probe(const char *env, char *name, int *alloc)
{
	char out[128] = "";
	int pipefd[2], st;
	ssize_t n;
	pid_t pid;

	if (pipe(pipefd))
		return false;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		dup2(pipefd[1], 1);
		if (env)
			setenv("LIBDMABUF_BACKEND", env, 1);
		else
			unsetenv("LIBDMABUF_BACKEND");
		execl("/proc/self/exe", "test_fd_api", "--probe", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	n = read(pipefd[0], out, sizeof(out) - 1);
	close(pipefd[0]);
	waitpid(pid, &st, 0);
	if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return false;
	out[n] = '\0';
	return sscanf(out, "%31s %d", name, alloc) == 2;
}

static void test_selection(void)
{
	int dev = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	int dev_err = dev < 0 ? -errno : 0;
	const char *auto_name = dev >= 0 ? "kernel" : "broker";
	const char *broker = getenv("DMABUFD");
	char name[32];
	int alloc;

	xclose(dev);
	if (ok(run_probe("broker", name, &alloc), "selection: LIBDMABUF_BACKEND=broker runs")) {
		is_str(name, "broker", "selection: broker forced");
		if (broker && !access(broker, X_OK))
			is_int(alloc, 0, "selection: the forced broker allocates ($DMABUFD)");
		else
			ok(alloc == 0 || alloc == -ENOTCONN,
			   "selection: the forced broker allocates, or cannot be reached (%d)",
			   alloc);
	}
	if (ok(run_probe("kernel", name, &alloc), "selection: LIBDMABUF_BACKEND=kernel runs")) {
		is_str(name, "kernel", "selection: kernel forced");
		is_int(alloc, dev_err, "selection: forced kernel allocates iff the heap opens");
	}
	if (ok(run_probe(NULL, name, &alloc), "selection: unset runs"))
		is_str(name, auto_name, "selection: default is kernel iff the system heap opens");
	if (ok(run_probe("bogus", name, &alloc), "selection: unknown value runs"))
		is_str(name, auto_name, "selection: an unknown value selects like unset");
}

/* ---- checks made before the backend (every backend) ---- */

static void test_frontend(void)
{
	struct dmabuf_fd_sync_info *info = (void *)&info;
	struct dmabuf_fd_sync_file_info raw = { 0 };
	uint64_t v = 77;
	int m = memfd(1, 0);

	is_int(dmabuf_fd_heap_alloc(NULL, 4096, O_RDWR, 0), -EINVAL, "front: heap NULL");
	is_int(dmabuf_fd_heap_alloc("", 4096, O_RDWR, 0), -ENOENT, "front: heap ''");
	is_int(dmabuf_fd_heap_alloc(".", 4096, O_RDWR, 0), -ENOENT, "front: heap '.'");
	is_int(dmabuf_fd_heap_alloc("..", 4096, O_RDWR, 0), -ENOENT, "front: heap '..'");
	is_int(dmabuf_fd_heap_alloc("../udmabuf", 4096, O_RDWR, 0), -ENOENT,
	       "front: heap with '/'");
	is_int(dmabuf_fd_heap_open(NULL, O_RDONLY), -EINVAL, "front: heap_open NULL");
	is_int(dmabuf_fd_heap_open("", O_RDONLY), -ENOENT, "front: heap_open ''");
	is_int(dmabuf_fd_heap_open(".", O_RDONLY), -ENOENT, "front: heap_open '.'");
	is_int(dmabuf_fd_heap_open("..", O_RDONLY), -ENOENT, "front: heap_open '..'");
	is_int(dmabuf_fd_heap_open("../udmabuf", O_RDWR), -ENOENT, "front: heap_open with '/'");
	is_int(dmabuf_fd_heap_open(NULL, O_NONBLOCK), -EINVAL,
	       "front: heap_open NULL with a bad flag");
	is_int(dmabuf_fd_heap_open("", O_NONBLOCK), -ENOENT,
	       "front: heap_open name checked before flags");
	is_int(dmabuf_fd_heap_open("system", O_RDONLY | O_NONBLOCK), -EINVAL,
	       "front: heap_open O_NONBLOCK");
	is_int(dmabuf_fd_heap_open("system", O_RDWR | O_CREAT), -EINVAL,
	       "front: heap_open O_CREAT");
	is_int(dmabuf_fd_heap_alloc_fd(-1, 4096, O_RDWR, 0), -EBADF, "front: heap_alloc_fd -1");
	is_int(dmabuf_fd_heap_alloc_fd(-1, 0, O_NONBLOCK, 1), -EBADF,
	       "front: heap_alloc_fd -1 before the arguments");
	is_int(dmabuf_fd_buf_sync(-1, RD), -EBADF, "front: sync fd -1");
	is_int(dmabuf_fd_buf_set_name(-1, "x"), -EBADF, "front: set_name fd -1");
	is_int(dmabuf_fd_buf_set_name(-1, NULL), -EBADF, "front: set_name fd -1 before NULL");
	is_int(dmabuf_fd_buf_export_sync_file(-1, RD), -EBADF, "front: export fd -1");
	is_int(dmabuf_fd_buf_export_sync_file(-1, 0), -EBADF, "front: export fd -1 before flags");
	is_int(dmabuf_fd_buf_import_sync_file(-1, RD, m), -EBADF, "front: import fd -1");
	is_int(dmabuf_fd_buf_map_info(-1, &v), -EBADF, "front: map_info fd -1");
	is_int(dmabuf_fd_buf_map_info(m, NULL), -EFAULT, "front: map_info NULL");
	is_int(v, 77, "front: map_info leaves the value on error");
	is_int(dmabuf_fd_buf_mmap(m, NULL, page, PROT_READ, MAP_SHARED, 0, NULL), -EFAULT,
	       "front: buf_mmap NULL");
	is_int(dmabuf_fd_buf_wait(m, 0, 0), -EINVAL, "front: buf_wait flags 0");
	is_int(dmabuf_fd_buf_wait(m, END, 0), -EINVAL, "front: buf_wait END");
	is_int(dmabuf_fd_buf_wait(m, RW | 8, 0), -EINVAL, "front: buf_wait unknown bit");
	is_int(dmabuf_fd_buf_wait(-1, RD, 0), -EBADF, "front: buf_wait fd -1");
	is_int(dmabuf_fd_sync_merge("x", -1, m), -EBADF, "front: merge fd1 -1");
	is_int(dmabuf_fd_sync_file_info(-1, &raw), -EBADF, "front: file_info fd -1");
	is_int(dmabuf_fd_sync_info(-1, &info), -EBADF, "front: sync_info fd -1");
	ok(info == (void *)&info, "front: sync_info leaves *info on error");
	is_int(dmabuf_fd_sync_info(m, NULL), -EFAULT, "front: sync_info NULL");
	dmabuf_fd_sync_info_free(NULL);
	ok(1, "front: sync_info_free(NULL) is a no-op");
	is_int(dmabuf_fd_sync_wait(-1, 0), -EBADF, "front: sync_wait fd -1");
	is_int(dmabuf_fd_sync_wait(-1, -1), -EBADF, "front: sync_wait fd -1, no timeout");
	is_int(dmabuf_fd_sync_set_deadline(-1, 0), -EBADF, "front: set_deadline fd -1");
	is_int(dmabuf_fd_sw_timeline_create(O_NONBLOCK), -EINVAL, "front: timeline O_NONBLOCK");
	is_int(dmabuf_fd_sw_timeline_create(O_RDWR), -EINVAL, "front: timeline O_RDWR");
	is_int(dmabuf_fd_sw_fence_create(-1, 1, "x"), -EBADF, "front: fence_create tl -1");
	is_int(dmabuf_fd_sw_timeline_inc(-1, 1), -EBADF, "front: inc tl -1");
	is_int(dmabuf_fd_sw_get_deadline(-1, m, &v), -EBADF, "front: get_deadline tl -1");
	is_int(dmabuf_fd_sw_get_deadline(m, m, NULL), -EFAULT, "front: get_deadline NULL");

	errno = 0;
	is_int(sync_wait(-1, 0), -1, "libsync front: sync_wait(-1)");
	is_int(errno, EINVAL, "libsync front: sync_wait(-1) errno EINVAL");
	errno = 0;
	is_int(sync_merge("x", -1, m), -1, "libsync front: sync_merge fd1 -1");
	is_int(errno, EBADF, "libsync front: sync_merge fd1 -1 errno EBADF");
	errno = 0;
	ok(!sync_file_info(-1) && errno == EBADF, "libsync front: sync_file_info(-1) EBADF");
	sync_file_info_free(NULL);
	ok(1, "libsync front: sync_file_info_free(NULL) is a no-op");
	errno = 0;
	ok(sw_sync_timeline_inc(-1, 1) == -1 && errno == EBADF, "libsync front: inc(-1) EBADF");
	errno = 0;
	ok(sw_sync_fence_create(-1, "x", 1) == -1 && errno == EBADF,
	   "libsync front: fence_create(-1) EBADF");
	close(m);
}

/* ---- heap ---- */

static void test_heap(void)
{
	unsigned char *p;
	int fd, i, zero = 1;

	fd = dmabuf_fd_heap_alloc("system", 4 * page, O_RDWR | O_CLOEXEC, 0);
	if (ok(fd >= 0, "heap: alloc 4 pages rw/cloexec")) {
		is_int(fd_size(fd), 4 * page, "heap: size");
		ok(is_cloexec(fd), "heap: O_CLOEXEC honoured");
		is_int(accmode(fd), O_RDWR, "heap: O_RDWR honoured");
		p = map(fd, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
		if (ok(p != MAP_FAILED, "heap: mmap")) {
			for (i = 0; i < (int)(4 * page); i++)
				zero &= !p[i];
			ok(zero, "heap: fresh buffer zero-filled");
			munmap(p, 4 * page);
		}
		close(fd);
	}
	fd = dmabuf_fd_heap_alloc("system", 1, O_RDONLY, 0);
	if (ok(fd >= 0, "heap: alloc 1 byte read-only")) {
		is_int(fd_size(fd), page, "heap: length rounds up to a page");
		ok(!is_cloexec(fd), "heap: no O_CLOEXEC without asking");
		is_int(accmode(fd), O_RDONLY, "heap: O_RDONLY honoured");
		close(fd);
	}
	fd = dmabuf_fd_heap_alloc("system", page + 1, O_RDWR, 0);
	is_int(fd_size(fd), 2 * page, "heap: page+1 rounds up to two pages");
	xclose(fd);
	is_int(dmabuf_fd_heap_alloc("system", 0, O_RDWR, 0), -EINVAL, "heap: len 0");
	is_int(dmabuf_fd_heap_alloc("system", UINT64_MAX, O_RDWR, 0), -EINVAL,
	       "heap: len wrapping to 0");
	is_int(dmabuf_fd_heap_alloc("system", page, O_RDWR | O_NONBLOCK, 0), -EINVAL,
	       "heap: fd_flags O_NONBLOCK");
	is_int(dmabuf_fd_heap_alloc("system", page, O_RDWR | O_APPEND, 0), -EINVAL,
	       "heap: fd_flags O_APPEND");
	is_int(dmabuf_fd_heap_alloc("system", page, O_RDWR, 1), -EINVAL, "heap: heap_flags 1");
	is_int(dmabuf_fd_heap_alloc("system", page, O_RDWR, 1ULL << 63), -EINVAL,
	       "heap: heap_flags bit 63");
	is_int(dmabuf_fd_heap_alloc("no-such-heap", page, O_RDWR, 0), -ENOENT,
	       "heap: unknown heap");
}

/* ---- heap descriptors ---- */

/* In a fork child: allocate @len bytes from heap descriptor @h; its size or the error. */
static long long fork_alloc(int h, uint64_t len)
{
	long long res = -EPROTO;
	int pipefd[2], st, fd;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		fd = dmabuf_fd_heap_alloc_fd(h, len, O_RDWR | O_CLOEXEC, 0);
		res = fd < 0 ? fd : fd_size(fd);
		_exit(write(pipefd[1], &res, sizeof(res)) == sizeof(res) ? 0 : 1);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &res, sizeof(res)) != sizeof(res))
		res = -EPROTO;
	close(pipefd[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		res = -EPROTO;
	return res;
}

/* Descriptors that are not heaps: the heap ioctl is unknown to them. */
static void heap_fd_not_heap(void)
{
	int m = memfd(1, 0), buf = heap_buf(page), tl = timeline(), f = fence(tl, 1), p[2];

	if (pipe2(p, O_CLOEXEC))
		bail_out("pipe: %s", strerror(errno));
	is_int(dmabuf_fd_heap_alloc_fd(m, page, O_RDWR, 0), -ENOTTY, "heap fd: a memfd: ENOTTY");
	is_int(dmabuf_fd_heap_alloc_fd(p[0], page, O_RDWR, 0), -ENOTTY,
	       "heap fd: a pipe: ENOTTY");
	is_int(dmabuf_fd_heap_alloc_fd(buf, page, O_RDWR, 0), -ENOTTY,
	       "heap fd: a dma-buf: ENOTTY");
	is_int(dmabuf_fd_heap_alloc_fd(f, page, O_RDWR, 0), -ENOTTY,
	       "heap fd: a sync_file: ENOTTY");
	is_int(dmabuf_fd_heap_alloc_fd(tl, page, O_RDWR, 0), -ENOTTY,
	       "heap fd: a timeline: ENOTTY");
	is_int(dmabuf_fd_heap_alloc_fd(m, 0, O_NONBLOCK, 1), -ENOTTY,
	       "heap fd: ENOTTY before the arguments are looked at");
	is_int(dmabuf_fd_heap_alloc_fd(closed_fd(), page, O_RDWR, 0), -EBADF,
	       "heap fd: not open: EBADF");
	close(p[0]);
	close(p[1]);
	close(f);
	close(tl);
	close(buf);
	close(m);
}

static void test_heap_fd(void)
{
	int h, h2, d, fd;
	unsigned char *p;

	is_int(dmabuf_fd_heap_open("no-such-heap", O_RDONLY), -ENOENT, "heap fd: unknown heap");
	h = dmabuf_fd_heap_open("system", O_RDONLY | O_CLOEXEC);
	if (!ok(h >= 0, "heap fd: open system, O_RDONLY | O_CLOEXEC (%d)", h))
		return;
	ok(is_cloexec(h), "heap fd: O_CLOEXEC honoured");
	h2 = dmabuf_fd_heap_open("system", O_RDWR);
	ok(h2 >= 0 && !is_cloexec(h2), "heap fd: open O_RDWR, no O_CLOEXEC without asking");
	xclose(h2);

	fd = dmabuf_fd_heap_alloc_fd(h, 1, O_RDWR | O_CLOEXEC, 0);
	if (ok(fd >= 0, "heap fd: alloc 1 byte rw/cloexec from a read-only heap fd")) {
		is_int(fd_size(fd), page, "heap fd: length rounds up to a page");
		ok(is_cloexec(fd), "heap fd: the buffer's O_CLOEXEC honoured");
		is_int(accmode(fd), O_RDWR, "heap fd: the buffer's O_RDWR honoured");
		is_int(dmabuf_fd_buf_sync(fd, RW), 0, "heap fd: the buffer is a dma-buf (SYNC)");
		dmabuf_fd_buf_sync(fd, RW | END);
		close(fd);
	}
	fd = dmabuf_fd_heap_alloc_fd(h, page + 1, O_RDONLY, 0);
	if (ok(fd >= 0, "heap fd: alloc page+1 read-only")) {
		is_int(fd_size(fd), 2 * page, "heap fd: page+1 rounds up to two pages");
		ok(!is_cloexec(fd), "heap fd: no O_CLOEXEC without asking");
		is_int(accmode(fd), O_RDONLY, "heap fd: O_RDONLY honoured");
		close(fd);
	}
	is_int(dmabuf_fd_heap_alloc_fd(h, 0, O_RDWR, 0), -EINVAL, "heap fd: len 0");
	is_int(dmabuf_fd_heap_alloc_fd(h, UINT64_MAX, O_RDWR, 0), -EINVAL,
	       "heap fd: len wrapping to 0");
	is_int(dmabuf_fd_heap_alloc_fd(h, page, O_RDWR | O_NONBLOCK, 0), -EINVAL,
	       "heap fd: fd_flags O_NONBLOCK");
	is_int(dmabuf_fd_heap_alloc_fd(h, page, O_RDWR | O_APPEND, 0), -EINVAL,
	       "heap fd: fd_flags O_APPEND");
	is_int(dmabuf_fd_heap_alloc_fd(h, page, O_RDWR, 1), -EINVAL, "heap fd: heap_flags 1");
	is_int(dmabuf_fd_heap_alloc_fd(h, page, O_RDWR, 1ULL << 63), -EINVAL,
	       "heap fd: heap_flags bit 63");
	heap_fd_not_heap();

	is_int(fork_alloc(h, 3 * page), 3 * page, "heap fd: a fork child allocates from it");
	d = dup(h);
	close(h);
	fd = dmabuf_fd_heap_alloc_fd(d, 2 * page, O_RDWR | O_CLOEXEC, 0);
	is_int(fd_size(fd), 2 * page, "heap fd: a dup allocates once the original is closed");
	p = map(fd, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	if (ok(p != MAP_FAILED, "heap fd: mmap its buffer")) {
		strcpy((char *)p + page, "outlives the heap fd");
		munmap(p, 2 * page);
	}
	close(d);
	is_int(dmabuf_fd_heap_alloc_fd(d, page, O_RDWR, 0), -EBADF,
	       "heap fd: closed: EBADF");
	p = map(fd, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	if (ok(p != MAP_FAILED, "heap fd: its buffer maps after the last heap fd closed")) {
		is_str((char *)p + page, "outlives the heap fd", "heap fd: the bytes are still there");
		munmap(p, 2 * page);
	}
	is_int(dmabuf_fd_buf_sync(fd, WR), 0, "heap fd: the buffer still SYNCs");
	is_int(dmabuf_fd_buf_sync(fd, WR | END), 0, "heap fd: SYNC END");
	xclose(fd);
}

/* ---- udmabuf ---- */

static void test_udmabuf(void)
{
	struct dmabuf_fd_udmabuf_item items[2];
	int m = memfd(4, F_SEAL_SHRINK), m2 = memfd(2, F_SEAL_SHRINK);
	int pipefd[2], cl = closed_fd(), fd;
	unsigned char *p;

	if (pipe2(pipefd, O_CLOEXEC))
		bail_out("pipe");
	fd = dmabuf_fd_udmabuf_create(m, 0, 4 * page, DMABUF_FD_UDMABUF_CLOEXEC);
	if (ok(fd >= 0, "udmabuf: create over a sealed memfd")) {
		is_int(fd_size(fd), 4 * page, "udmabuf: size");
		ok(is_cloexec(fd), "udmabuf: CLOEXEC flag honoured");
		is_int(pwrite(m, "A", 1, page), 1, "udmabuf: write through the memfd");
		p = map(fd, 4 * page, PROT_READ, MAP_SHARED, 0);
		if (ok(p != MAP_FAILED, "udmabuf: mmap")) {
			is_int(p[page], 'A', "udmabuf: the buffer aliases the memfd");
			munmap(p, 4 * page);
		}
		close(fd);
	}
	fd = dmabuf_fd_udmabuf_create(m, page, 2 * page, 0);
	if (ok(fd >= 0, "udmabuf: create a middle range, no flags")) {
		is_int(fd_size(fd), 2 * page, "udmabuf: range size");
		ok(!is_cloexec(fd), "udmabuf: not cloexec without the flag");
		close(fd);
	}
	fd = memfd(1, 0);
	is_int(dmabuf_fd_udmabuf_create(fd, 0, page, 0), -EINVAL, "udmabuf: memfd without seals");
	close(fd);
	fd = memfd(1, F_SEAL_SHRINK | F_SEAL_WRITE);
	is_int(dmabuf_fd_udmabuf_create(fd, 0, page, 0), -EINVAL, "udmabuf: F_SEAL_WRITE");
	close(fd);
	is_int(dmabuf_fd_udmabuf_create(m, 1, page, 0), -EINVAL, "udmabuf: offset unaligned");
	is_int(dmabuf_fd_udmabuf_create(m, 0, 0, 0), -EINVAL, "udmabuf: size 0");
	is_int(dmabuf_fd_udmabuf_create(m, 0, page + 1, 0), -EINVAL, "udmabuf: size unaligned");
	is_int(dmabuf_fd_udmabuf_create(m, 0, 5 * page, 0), -EINVAL, "udmabuf: past the end");
	is_int(dmabuf_fd_udmabuf_create(-1, 0, page, 0), -EBADFD, "udmabuf: memfd -1");
	is_int(dmabuf_fd_udmabuf_create(cl, 0, page, 0), -EBADFD, "udmabuf: memfd closed");
	is_int(dmabuf_fd_udmabuf_create(pipefd[0], 0, page, 0), -EBADFD, "udmabuf: a pipe");

	/* lists: m2 page 1, then m page 0 */
	is_int(pwrite(m2, "B", 1, page), 1, "udmabuf list: mark the memfds");
	items[0] = (struct dmabuf_fd_udmabuf_item){ .memfd = (uint32_t)m2, .offset = page,
						    .size = page };
	items[1] = (struct dmabuf_fd_udmabuf_item){ .memfd = (uint32_t)m, .offset = 0,
						    .size = page };
	is_int(pwrite(m, "C", 1, 0), 1, "udmabuf list: mark the second range");
	fd = dmabuf_fd_udmabuf_create_list(items, 2, DMABUF_FD_UDMABUF_CLOEXEC);
	if (ok(fd >= 0, "udmabuf list: two items")) {
		is_int(fd_size(fd), 2 * page, "udmabuf list: sizes add up");
		ok(is_cloexec(fd), "udmabuf list: CLOEXEC flag honoured");
		p = map(fd, 2 * page, PROT_READ, MAP_SHARED, 0);
		if (ok(p != MAP_FAILED, "udmabuf list: mmap")) {
			ok(p[0] == 'B' && p[page] == 'C',
			   "udmabuf list: items concatenated in order");
			munmap(p, 2 * page);
		}
		close(fd);
	}
	is_int(dmabuf_fd_udmabuf_create_list(items, 0, 0), -EINVAL, "udmabuf list: count 0");
	is_int(dmabuf_fd_udmabuf_create_list(NULL, 1025, 0), -EINVAL,
	       "udmabuf list: count 1025 (over the limit, checked first)");
	is_int(dmabuf_fd_udmabuf_create_list(NULL, 1, 0), -EFAULT, "udmabuf list: items NULL");
	items[1].memfd = (uint32_t)pipefd[0];
	is_int(dmabuf_fd_udmabuf_create_list(items, 2, 0), -EBADFD,
	       "udmabuf list: second memfd is a pipe");
	items[1].memfd = (uint32_t)m;
	items[1].offset = 1;
	is_int(dmabuf_fd_udmabuf_create_list(items, 2, 0), -EINVAL,
	       "udmabuf list: second offset unaligned");
	close(pipefd[0]);
	close(pipefd[1]);
	close(m);
	close(m2);
}

/* ---- dmabuf_fd_buf_mmap ---- */

static void test_mmap_heap(void)
{
	int buf = heap_buf(4 * page), ro, wo;
	unsigned char *p, *q;

	p = map(buf, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	q = map(buf, page, PROT_READ, MAP_SHARED, 2 * page);
	if (ok(p != MAP_FAILED && q != MAP_FAILED, "mmap: heap, whole and at an offset")) {
		p[2 * page] = 0x42;
		is_int(q[0], 0x42, "mmap: the view at an offset shows the same page");
	}
	if (p != MAP_FAILED)
		munmap(p, 4 * page);
	if (q != MAP_FAILED)
		is_int(munmap(q, page), 0, "mmap: munmap of the view");
	is_int(map_result(buf, 5 * page, PROT_READ, MAP_SHARED, 0), -EINVAL,
	       "mmap: heap, a page past the end");
	is_int(map_result(buf, page, PROT_READ, MAP_SHARED, 4 * page), -EINVAL,
	       "mmap: heap, offset at the end");
	is_int(map_result(buf, 2 * page, PROT_READ, MAP_SHARED, 3 * page), -EINVAL,
	       "mmap: heap, a range across the end");
	is_int(map_result(buf, page, PROT_READ, MAP_SHARED, 1), -EINVAL, "mmap: offset unaligned");
	is_int(map_result(buf, 0, PROT_READ, MAP_SHARED, 0), -EINVAL, "mmap: length 0");
	is_int(map_result(buf, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0), 0,
	       "mmap: heap, private single page");
	is_int(map_result(buf, 2 * page, PROT_READ, MAP_PRIVATE, 0), -EINVAL,
	       "mmap: heap, private two pages");
	is_int(map_result(closed_fd(), page, PROT_READ, MAP_SHARED, 0), -EBADF, "mmap: closed fd");
	close(buf);

	ro = dmabuf_fd_heap_alloc("system", page, O_RDONLY | O_CLOEXEC, 0);
	is_int(map_result(ro, page, PROT_READ, MAP_SHARED, 0), 0,
	       "mmap: read-only buffer, read mapping");
	is_int(map_result(ro, page, PROT_READ | PROT_WRITE, MAP_SHARED, 0), -EACCES,
	       "mmap: read-only buffer, PROT_WRITE shared");
	is_int(map_result(ro, page, PROT_WRITE, MAP_SHARED, 0), -EACCES,
	       "mmap: read-only buffer, write-only shared");
	is_int(map_result(ro, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0), 0,
	       "mmap: read-only buffer, private writable copy");
	xclose(ro);
	wo = dmabuf_fd_heap_alloc("system", page, O_WRONLY | O_CLOEXEC, 0);
	is_int(map_result(wo, page, PROT_READ, MAP_SHARED, 0), -EACCES,
	       "mmap: write-only buffer, read mapping");
	is_int(map_result(wo, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0), -EACCES,
	       "mmap: write-only buffer, private mapping");
	xclose(wo);
}

static void test_mmap_udmabuf(void)
{
	struct dmabuf_fd_udmabuf_item items[2];
	int m = memfd(4, F_SEAL_SHRINK), m2 = memfd(2, F_SEAL_SHRINK), fd;
	unsigned char *p;
	char c = 0;

	/* pages 1..3 of m: buffer page 1 is memfd page 2 */
	is_int(pwrite(m, "D", 1, 2 * page), 1, "mmap udmabuf: mark the memfd");
	fd = dmabuf_fd_udmabuf_create(m, page, 3 * page, DMABUF_FD_UDMABUF_CLOEXEC);
	if (fd < 0)
		bail_out("udmabuf: %s", strerror(-fd));
	p = map(fd, page, PROT_READ | PROT_WRITE, MAP_SHARED, page);
	if (ok(p != MAP_FAILED, "mmap udmabuf: one page at an offset")) {
		is_int(p[0], 'D', "mmap udmabuf: shows the memfd's page");
		p[1] = 'E';
		ok(pread(m, &c, 1, 2 * page + 1) == 1 && c == 'E',
		   "mmap udmabuf: a write through the mapping reaches the memfd");
		is_int(munmap(p, page), 0, "mmap udmabuf: munmap");
	}
	is_int(map_result(fd, page, PROT_READ, MAP_PRIVATE, 0), -EINVAL,
	       "mmap udmabuf: MAP_PRIVATE refused");
	is_int(map_result(fd, page, PROT_READ, MAP_PRIVATE, 2 * page), -EINVAL,
	       "mmap udmabuf: MAP_PRIVATE of the last page refused");
	is_int(map_result(fd, 4 * page, PROT_READ, MAP_SHARED, 0), -EINVAL,
	       "mmap udmabuf: a page past the end");
	is_int(map_result(fd, page, PROT_READ, MAP_SHARED, 3 * page), -EINVAL,
	       "mmap udmabuf: offset at the end");
	close(fd);

	/* a list: m2 page 1, then m page 3; mappings across and after the boundary */
	is_int(pwrite(m2, "F", 1, 2 * page - 1), 1, "mmap udmabuf list: mark the first range");
	is_int(pwrite(m, "G", 1, 3 * page), 1, "mmap udmabuf list: mark the second range");
	items[0] = (struct dmabuf_fd_udmabuf_item){ .memfd = (uint32_t)m2, .offset = page,
						    .size = page };
	items[1] = (struct dmabuf_fd_udmabuf_item){ .memfd = (uint32_t)m, .offset = 3 * page,
						    .size = page };
	fd = dmabuf_fd_udmabuf_create_list(items, 2, DMABUF_FD_UDMABUF_CLOEXEC);
	if (fd < 0)
		bail_out("udmabuf list: %s", strerror(-fd));
	p = map(fd, 2 * page, PROT_READ, MAP_SHARED, 0);
	if (ok(p != MAP_FAILED, "mmap udmabuf list: both ranges")) {
		ok(p[page - 1] == 'F' && p[page] == 'G', "mmap udmabuf list: ranges side by side");
		munmap(p, 2 * page);
	}
	p = map(fd, page, PROT_READ, MAP_SHARED, page);
	if (ok(p != MAP_FAILED, "mmap udmabuf list: the second range alone")) {
		is_int(p[0], 'G', "mmap udmabuf list: offset into the second range");
		munmap(p, page);
	}
	close(fd);
	close(m);
	close(m2);
}

static void test_mmap(void)
{
	test_mmap_heap();
	test_mmap_udmabuf();
}

/*
 * A list of many one-page memfds: more descriptors than one request (32) or a mask can name
 * travel to the broker and back; the mapping shows every memfd's page in order.
 */
static void test_udmabuf_many(void)
{
	enum { N = 100 };
	struct dmabuf_fd_udmabuf_item items[N];
	unsigned char *p = NULL;
	int fd, i, good = 1;

	for (i = 0; i < N; i++) {
		items[i] = (struct dmabuf_fd_udmabuf_item){ .memfd = (uint32_t)memfd(1, F_SEAL_SHRINK),
							    .size = page };
		if (pwrite((int)items[i].memfd, &(char){ (char)i }, 1, 0) != 1)
			bail_out("pwrite: %s", strerror(errno));
	}
	fd = dmabuf_fd_udmabuf_create_list(items, N, 0);
	if (ok(fd >= 0, "udmabuf list: 100 distinct memfds")) {
		is_int(fd_size(fd), N * page, "udmabuf list of 100: size");
		is_int(dmabuf_fd_buf_mmap(fd, NULL, N * page, PROT_READ, MAP_SHARED, 0,
					  (void **)&p), 0, "udmabuf list of 100: mmap");
		for (i = 0; p && i < N; i++)
			good &= p[(size_t)i * page] == (unsigned char)i;
		ok(good, "udmabuf list of 100: every memfd's page, in order");
		if (p)
			munmap(p, N * page);
		close(fd);
	}
	for (i = 0; i < N; i++)
		close((int)items[i].memfd);
}

/* ---- DMA_BUF_IOCTL_SYNC and SET_NAME ---- */

static void test_buf_sync(void)
{
	static const uint64_t good[] = { RD, WR, RW, END | RD, END | WR, END | RW };
	int buf = heap_buf(page), pipefd[2], tl = timeline(), f = fence(tl, 1);
	int m = memfd(1, F_SEAL_SHRINK), ubuf;
	unsigned int i;

	if (pipe2(pipefd, O_CLOEXEC))
		bail_out("pipe");
	for (i = 0; i < ARRAY_SIZE(good); i++)
		is_int(dmabuf_fd_buf_sync(buf, good[i]), 0, "sync: flags %#llx",
		       (unsigned long long)good[i]);
	is_int(dmabuf_fd_buf_sync(buf, 0), -EINVAL, "sync: START without READ/WRITE");
	is_int(dmabuf_fd_buf_sync(buf, END), -EINVAL, "sync: END without READ/WRITE");
	is_int(dmabuf_fd_buf_sync(buf, RW | 8), -EINVAL, "sync: bit 3");
	is_int(dmabuf_fd_buf_sync(buf, RW | (1ULL << 32)), -EINVAL, "sync: bit 32");
	is_int(dmabuf_fd_buf_sync(closed_fd(), RD), -EBADF, "sync: closed fd");
	is_int(dmabuf_fd_buf_sync(pipefd[0], RD), -ENOTTY, "sync: a pipe");
	is_int(dmabuf_fd_buf_sync(f, RD), -ENOTTY, "sync: a sync_file");
	ubuf = dmabuf_fd_udmabuf_create(m, 0, page, 0);
	is_int(dmabuf_fd_buf_sync(ubuf, END | RD), -EINVAL, "sync: udmabuf END before any START");
	is_int(dmabuf_fd_buf_sync(ubuf, RD), 0, "sync: udmabuf START");
	is_int(dmabuf_fd_buf_sync(ubuf, END | RD), 0, "sync: udmabuf END after START");
	xclose(ubuf);

	is_int(dmabuf_fd_buf_set_name(buf, "api-buf"), 0, "set_name: simple");
	fdinfo_name_is(buf, "api-buf", "set_name: shows in fdinfo");
	is_int(dmabuf_fd_buf_set_name(buf, "0123456789012345678901234567890"), 0,
	       "set_name: 31 characters");
	is_int(dmabuf_fd_buf_set_name(buf, "01234567890123456789012345678901"), -EINVAL,
	       "set_name: 32 characters");
	fdinfo_name_is(buf, "0123456789012345678901234567890",
		       "set_name: a refused name leaves the old one");
	is_int(dmabuf_fd_buf_set_name(buf, ""), 0, "set_name: empty");
	fdinfo_name_is(buf, "", "set_name: empty name in fdinfo");
	is_int(dmabuf_fd_buf_set_name(buf, NULL), -EFAULT, "set_name: NULL");
	is_int(dmabuf_fd_buf_set_name(closed_fd(), "x"), -EBADF, "set_name: closed fd");
	is_int(dmabuf_fd_buf_set_name(f, "x"), -ENOTTY, "set_name: a sync_file");
	close(pipefd[0]);
	close(pipefd[1]);
	close(f);
	close(tl);
	close(buf);
	close(m);
}

/* ---- coherency: map_info of the heaps, the incoherent heap's CPU views ---- */

/* A byte of @buf read by another process through its own mapping, with a READ bracket. */
static int read_elsewhere(int buf, size_t off)
{
	unsigned char *p;
	int st = -1;
	pid_t pid = fork();

	if (pid < 0)
		bail_out("fork");
	if (pid == 0) {
		p = map(buf, page, PROT_READ, MAP_SHARED, 0);
		if (p == MAP_FAILED || dmabuf_fd_buf_sync(buf, RD))
			_exit(255);
		st = p[off];
		dmabuf_fd_buf_sync(buf, END | RD);
		_exit(st);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Another process writes @val at @off of @buf with a WRITE bracket. */
static void write_elsewhere(int buf, size_t off, unsigned char val)
{
	unsigned char *p;
	int st;
	pid_t pid = fork();

	if (pid < 0)
		bail_out("fork");
	if (pid == 0) {
		p = map(buf, page, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
		if (p == MAP_FAILED || dmabuf_fd_buf_sync(buf, WR))
			_exit(1);
		p[off] = val;
		_exit(dmabuf_fd_buf_sync(buf, END | WR) ? 1 : 0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		bail_out("writer child failed");
}

static void test_heap_map_info(void)
{
	static const struct {
		const char *heap;
		uint64_t map_info;
	} heaps[] = {
		{ "system", DMABUF_FD_MAP_COHERENT_CACHED },
		{ "system-uncached", DMABUF_FD_MAP_COHERENT_WC },
		{ "incoherent", DMABUF_FD_MAP_INCOHERENT },
	};
	uint64_t v;
	int buf;

	for (size_t i = 0; i < ARRAY_SIZE(heaps); i++) {
		buf = dmabuf_fd_heap_alloc(heaps[i].heap, page, O_RDWR | O_CLOEXEC, 0);
		if (on_kernel && i > 0) {
			/* libdmabuf's heaps; a kernel has only what its drivers make */
			is_int(buf, -ENOENT, "coherency: no %s heap in the kernel", heaps[i].heap);
			continue;
		}
		if (!ok(buf >= 0, "coherency: %s heap allocates", heaps[i].heap))
			continue;
		v = 77;
		if (!on_kernel) {
			is_int(dmabuf_fd_buf_map_info(buf, &v), 0, "coherency: %s map_info",
			       heaps[i].heap);
			is_int(v, heaps[i].map_info, "coherency: %s map_info value",
			       heaps[i].heap);
		}
		close(buf);
	}
}

static void test_incoherent(void)
{
	unsigned char *p, *q;
	int buf;

	buf = dmabuf_fd_heap_alloc("incoherent", page, O_RDWR | O_CLOEXEC, 0);
	if (buf < 0)
		bail_out("incoherent heap: %s", strerror(-buf));
	p = map(buf, page, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	q = map(buf, page, PROT_READ, MAP_SHARED, 0);
	if (p == MAP_FAILED || q == MAP_FAILED)
		bail_out("incoherent mmap: %s", strerror(errno));

	write_elsewhere(buf, 1, 0x11);
	is_int(p[1], 0, "incoherent: another process's write is not seen without a bracket");
	is_int(dmabuf_fd_buf_sync(buf, RD), 0, "incoherent: START|READ");
	is_int(p[1], 0x11, "incoherent: ...fetches the device's data");
	is_int(q[1], 0x11, "incoherent: two mappings of one process share its CPU view");
	is_int(dmabuf_fd_buf_sync(buf, END | RD), 0, "incoherent: END|READ");

	p[2] = 0x22;
	is_int(read_elsewhere(buf, 2), 0, "incoherent: a write without a bracket stays in the CPU");
	is_int(dmabuf_fd_buf_sync(buf, WR), 0, "incoherent: START|WRITE");
	p[3] = 0x33;
	is_int(dmabuf_fd_buf_sync(buf, END | WR), 0, "incoherent: END|WRITE");
	is_int(read_elsewhere(buf, 3), 0x33, "incoherent: ...writes the CPU's bytes back");
	is_int(read_elsewhere(buf, 2), 0x22, "incoherent: ...all the bytes the CPU changed");

	write_elsewhere(buf, 4, 0x44);
	is_int(dmabuf_fd_buf_sync(buf, WR), 0, "incoherent: START|WRITE (no fetch)");
	p[5] = 0x55;
	is_int(dmabuf_fd_buf_sync(buf, END | WR), 0, "incoherent: END|WRITE");
	is_int(read_elsewhere(buf, 4), 0x44,
	       "incoherent: a write-back leaves the device's other bytes alone");
	is_int(dmabuf_fd_buf_sync(buf, WR), 0, "incoherent: START|WRITE, opened twice");
	is_int(dmabuf_fd_buf_sync(buf, WR), 0, "incoherent: START|WRITE again");
	p[6] = 0x66;
	is_int(dmabuf_fd_buf_sync(buf, END | WR), 0, "incoherent: one END|WRITE");
	is_int(read_elsewhere(buf, 6), 0, "incoherent: ...the access is still open: no write-back");
	is_int(dmabuf_fd_buf_sync(buf, END | WR), 0, "incoherent: the second END|WRITE");
	is_int(read_elsewhere(buf, 6), 0x66, "incoherent: ...writes back");
	is_int(dmabuf_fd_buf_sync(buf, RW), 0, "incoherent: START|RW");
	p[7] = 0x77;
	is_int(dmabuf_fd_buf_sync(buf, END | RD), 0, "incoherent: closed by END|READ");
	is_int(read_elsewhere(buf, 7), 0, "incoherent: ...which writes nothing back");

	is_int(dmabuf_fd_buf_munmap(q, page), 0, "incoherent: munmap of one mapping");
	is_int(dmabuf_fd_buf_munmap(p, page), 0, "incoherent: munmap of the last");
	p = map(buf, page, PROT_READ, MAP_SHARED, 0);
	if (ok(p != MAP_FAILED, "incoherent: mapped again"))
		is_int(p[6], 0x66, "incoherent: a new CPU view starts as the device's data");
	if (p != MAP_FAILED)
		dmabuf_fd_buf_munmap(p, page);
	is_int(dmabuf_fd_buf_munmap((char *)p + 1, page), -EINVAL, "munmap: unaligned");
	close(buf);
}

/*
 * --check-child (run with the checker on): map a system heap buffer, read it once outside a
 * bracket (one report) and once inside one (none).
 */
static int check_child(void)
{
	int fd = dmabuf_fd_heap_alloc("system", page, O_RDWR | O_CLOEXEC, 0);
	volatile unsigned char *p;
	void *m;

	if (fd < 0 || dmabuf_fd_buf_set_name(fd, "checked") ||
	    dmabuf_fd_buf_mmap(fd, NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &m))
		return 1;
	p = m;
	(void)p[8];
	if (dmabuf_fd_buf_sync(fd, RD))
		return 1;
	(void)p[9];
	if (dmabuf_fd_buf_sync(fd, END | RD) || dmabuf_fd_buf_munmap(m, page))
		return 1;
	close(fd);
	return 0;
}

/* The coherency checker on this backend: one program run with DMABUF_CHECK_COHERENCY. */
static void test_checker(void)
{
	char report[96], text[4096] = "", *line, *second;
	int st;

	snprintf(report, sizeof(report), "/tmp/test_fd_api-check.%d", (int)getpid());
	st = checked_run("test_fd_api", report, text, sizeof(text));
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "checker: the checked program ran (%#x)", st);
	line = strstr(text, "\"type\":\"violation\"");
	if (!ok(line, "checker: a violation was recorded")) {
		diag("report: %s", text);
		return;
	}
	second = strstr(line + 1, "\"type\":\"violation\"");
	ok(!second, "checker: only one (the read inside a bracket is fine)");
	ok(strstr(line, "\"kind\":\"access-outside-bracket\"") != NULL,
	   "checker: kind access-outside-bracket");
	ok(strstr(line, "\"access\":\"read\"") && strstr(line, "\"offset\":8,"),
	   "checker: a read at offset 8");
	ok(strstr(line, "\"name\":\"checked\"") && strstr(line, "\"exporter\":\"system\""),
	   "checker: the buffer's name and exporter");
	ok(strstr(text, "\"type\":\"summary\"") != NULL, "checker: a summary at exit");
}

static void test_coherency(void)
{
	test_heap_map_info();
	if (!on_kernel)
		test_incoherent();
	test_checker();
}

/* ---- export, import, implicit sync, map_info ---- */

static void test_export_import(void)
{
	struct dmabuf_fd_sync_info *info;
	int buf = heap_buf(page), tl = timeline(), f0 = fence(tl, 0), tl2 = timeline();
	int e, pipefd[2], cl = closed_fd();
	uint64_t v = 77;

	if (pipe2(pipefd, O_CLOEXEC))
		bail_out("pipe");
	e = dmabuf_fd_buf_export_sync_file(buf, RD);
	if (ok(e >= 0, "export: idle buffer")) {
		ok(is_cloexec(e) && accmode(e) == O_RDONLY, "export: read-only, cloexec");
		if (ok(dmabuf_fd_sync_info(e, &info) == 0, "export: info")) {
			is_str(info->name, "stub-stub0-0", "export: idle gives the stub");
			is_int(info->num_fences, 1, "export: stub has one fence");
			is_str(info->fences[0].driver_name, "stub", "export: stub driver");
			is_int(info->fences[0].status, 1, "export: stub signaled");
			ok(info->fences[0].timestamp_ns != 0, "export: stub has a timestamp");
			dmabuf_fd_sync_info_free(info);
		}
		close(e);
	}
	e = dmabuf_fd_buf_export_sync_file(buf, RW);
	ok(e >= 0 && status(e) == 1, "export: RW of an idle buffer signaled");
	xclose(e);
	is_int(dmabuf_fd_buf_export_sync_file(buf, 0), -EINVAL, "export: flags 0");
	is_int(dmabuf_fd_buf_export_sync_file(buf, END | RD), -EINVAL, "export: END");
	is_int(dmabuf_fd_buf_export_sync_file(buf, RW | 8), -EINVAL, "export: bit 3");
	is_int(dmabuf_fd_buf_export_sync_file(cl, RD), -EBADF, "export: closed fd");
	is_int(dmabuf_fd_buf_export_sync_file(pipefd[0], RD), -ENOTTY, "export: a pipe");

	is_int(dmabuf_fd_buf_import_sync_file(buf, RD, f0), 0, "import: signaled, READ");
	is_int(dmabuf_fd_buf_import_sync_file(buf, RW, f0), 0, "import: signaled, RW");
	is_int(dmabuf_fd_buf_import_sync_file(buf, 0, f0), -EINVAL, "import: flags 0");
	is_int(dmabuf_fd_buf_import_sync_file(buf, END | RD, f0), -EINVAL, "import: END");
	is_int(dmabuf_fd_buf_import_sync_file(buf, RD, -1), -EINVAL, "import: sync fd -1");
	is_int(dmabuf_fd_buf_import_sync_file(buf, RD, cl), -EINVAL, "import: sync fd closed");
	is_int(dmabuf_fd_buf_import_sync_file(buf, RD, buf), -EINVAL, "import: a dma-buf");
	is_int(dmabuf_fd_buf_import_sync_file(buf, RD, tl), -EINVAL, "import: a timeline");
	is_int(dmabuf_fd_buf_import_sync_file(cl, RD, f0), -EBADF, "import: closed buffer fd");
	is_int(dmabuf_fd_buf_import_sync_file(pipefd[0], RD, f0), -ENOTTY, "import: into a pipe");

	if (on_kernel) {
		is_int(dmabuf_fd_buf_map_info(buf, &v), -ENOTTY,
		       "map_info: upstream kernel has none");
		is_int(v, 77, "map_info: value untouched on error");
	} else {
		/* the proposal is libdmabuf's addition (docs/deviations.md) */
		is_int(dmabuf_fd_buf_map_info(buf, &v), 0, "map_info: the broker answers");
		is_int(v, DMABUF_FD_MAP_COHERENT_CACHED,
		       "map_info: system heap is coherent, cached");
		v = 77;
	}
	is_int(dmabuf_fd_buf_map_info(cl, &v), -EBADF, "map_info: closed fd");
	is_int(dmabuf_fd_buf_map_info(pipefd[0], &v), -ENOTTY, "map_info: a pipe");
	close(pipefd[0]);
	close(pipefd[1]);
	close(f0);
	close(tl);
	close(tl2);
	close(buf);
}

static void test_implicit(void)
{
	int buf = heap_buf(page), tl = timeline(), fw = fence(tl, 1), fr = fence(tl, 2), e;
	struct signaler s;

	is_int(dmabuf_fd_buf_wait(buf, RD, 0), 0, "implicit: idle buffer readable");
	is_int(dmabuf_fd_buf_wait(buf, RW, 0), 0, "implicit: idle buffer writable");
	is_int(dmabuf_fd_buf_import_sync_file(buf, WR, fw), 0, "implicit: import a pending writer");
	is_int(dmabuf_fd_buf_wait(buf, RD, 0), -ETIME, "implicit: a reader waits for the writer");
	is_int(dmabuf_fd_buf_wait(buf, WR, 0), -ETIME, "implicit: a writer waits for the writer");
	is_int(dmabuf_fd_buf_wait(buf, RD, 1000000), -ETIME, "implicit: 1 ms wait times out");
	e = dmabuf_fd_buf_export_sync_file(buf, RD);
	is_int(status(e), 0, "implicit: export READ holds the pending writer");
	is_int(dmabuf_fd_sw_timeline_inc(tl, 1), 0, "implicit: signal the writer");
	is_int(dmabuf_fd_buf_wait(buf, RD, 0), 0, "implicit: readable once the writer signaled");
	is_int(dmabuf_fd_buf_wait(buf, RW, 0), 0, "implicit: writable too");
	is_int(status(e), 1, "implicit: the export saw the same fence signal");
	xclose(e);

	is_int(dmabuf_fd_buf_import_sync_file(buf, RD, fr), 0, "implicit: import a pending reader");
	is_int(dmabuf_fd_buf_wait(buf, RD, 0), 0, "implicit: readers do not wait for readers");
	is_int(dmabuf_fd_buf_wait(buf, WR, 0), -ETIME, "implicit: a writer waits for readers");
	e = dmabuf_fd_buf_export_sync_file(buf, RD);
	is_int(status(e), 1, "implicit: export READ skips readers");
	xclose(e);
	e = dmabuf_fd_buf_export_sync_file(buf, WR);
	is_int(status(e), 0, "implicit: export WRITE holds the reader");
	signaler_start(&s, tl);
	signaler_go(&s);
	is_int(dmabuf_fd_buf_wait(buf, WR, -1), 0, "implicit: blocking wait woken by a signal");
	signaler_join(&s);
	is_int(status(e), 1, "implicit: the reader signaled");
	xclose(e);

	/* START waits for the fences a CPU access must wait for */
	close(fw);
	fw = fence(tl, 3);
	is_int(dmabuf_fd_buf_import_sync_file(buf, WR, fw), 0, "sync START: import a writer");
	signaler_start(&s, tl);
	signaler_go(&s);
	is_int(dmabuf_fd_buf_sync(buf, RD), 0, "sync START|READ: waits for the writer");
	is_int(dmabuf_fd_sync_wait(fw, 0), 0, "sync START|READ: returned after the signal");
	signaler_join(&s);
	is_int(dmabuf_fd_buf_sync(buf, END | RD), 0, "sync END|READ");
	is_int(dmabuf_fd_buf_wait(closed_fd(), RD, 0), -EBADF, "implicit: closed fd");
	close(fw);
	close(fr);
	close(tl);
	close(buf);
}

/* ---- sync_file: merge, info, wait, deadlines ---- */

static void test_merge(void)
{
	char want[64];
	struct dmabuf_fd_sync_info *info;
	int t1 = timeline(), t2 = timeline(), a = fence(t1, 1), b = fence(t2, 1);
	int buf = heap_buf(page), cl = closed_fd(), m;

	m = dmabuf_fd_sync_merge("two", a, b);
	if (ok(m >= 0, "merge: two timelines")) {
		ok(is_cloexec(m) && accmode(m) == O_RDONLY, "merge: read-only, cloexec");
		if (ok(dmabuf_fd_sync_info(m, &info) == 0, "merge: info")) {
			is_str(info->name, "two", "merge: named as given");
			is_int(info->num_fences, 2, "merge: two fences");
			is_int(info->status, 0, "merge: pending");
			dmabuf_fd_sync_info_free(info);
		}
		dmabuf_fd_sw_timeline_inc(t1, 1);
		is_int(status(m), 0, "merge: one of two signaled: still pending");
		dmabuf_fd_sw_timeline_inc(t2, 1);
		is_int(status(m), 1, "merge: both signaled");
		is_int(dmabuf_fd_sync_wait(m, 0), 0, "merge: wait returns once both signaled");
		close(m);
	}
	close(a);
	close(b);
	a = fence(t1, 5);
	b = fence(t2, 5);
	m = dmabuf_fd_sync_merge("self", a, a);
	is_int(num_fences(m), 1, "merge: a file with itself has one fence");
	xclose(m);
	m = dmabuf_fd_sync_merge("0123456789012345678901234567890123456789", a, b);
	if (ok(dmabuf_fd_sync_info(m, &info) == 0, "merge: long name")) {
		is_str(info->name, "0123456789012345678901234567890",
		       "merge: name truncated to 31");
		dmabuf_fd_sync_info_free(info);
	}
	xclose(m);
	m = dmabuf_fd_sync_merge(NULL, a, a);
	snprintf(want, sizeof(want), "sw_sync-%s", comm);
	if (ok(dmabuf_fd_sync_info(m, &info) == 0, "merge: NULL name")) {
		ok(!strncmp(info->name, want, strlen(want)),
		   "merge: no name gives the fence's name (%s...): '%s'", want, info->name);
		dmabuf_fd_sync_info_free(info);
	}
	xclose(m);
	is_int(dmabuf_fd_sync_merge("x", a, -1), -ENOENT, "merge: fd2 -1");
	is_int(dmabuf_fd_sync_merge("x", a, cl), -ENOENT, "merge: fd2 closed");
	is_int(dmabuf_fd_sync_merge("x", a, buf), -ENOENT, "merge: fd2 a dma-buf");
	is_int(dmabuf_fd_sync_merge("x", a, t1), -ENOENT, "merge: fd2 a timeline");
	is_int(dmabuf_fd_sync_merge("x", cl, a), -EBADF, "merge: fd1 closed");
	is_int(dmabuf_fd_sync_merge("x", buf, a), -ENOTTY, "merge: fd1 a dma-buf");
	is_int(dmabuf_fd_sync_merge("x", t1, a), -ENOTTY, "merge: fd1 a timeline");
	close(a);
	close(b);
	close(t1);
	close(t2);
	close(buf);
}

static void test_info(void)
{
	struct dmabuf_fd_fence_info fi[2];
	struct dmabuf_fd_sync_file_info raw;
	struct dmabuf_fd_sync_info *info, *keep;
	int t1 = timeline(), t2 = timeline(), a = fence(t1, 1), b = fence(t2, 1);
	int buf = heap_buf(page), m = dmabuf_fd_sync_merge("two", a, b);
	char want[64];
	int64_t before;

	memset(&raw, 0, sizeof(raw));
	is_int(dmabuf_fd_sync_file_info(a, &raw), 0, "file_info: count call");
	is_int(raw.num_fences, 1, "file_info: count");
	is_int(raw.status, 0, "file_info: count call status pending");
	memset(&raw, 0, sizeof(raw));
	raw.flags = 1;
	is_int(dmabuf_fd_sync_file_info(a, &raw), -EINVAL, "file_info: flags 1");
	memset(&raw, 0, sizeof(raw));
	raw.pad = 1;
	is_int(dmabuf_fd_sync_file_info(a, &raw), -EINVAL, "file_info: pad 1");
	is_int(dmabuf_fd_sync_file_info(a, NULL), -EFAULT, "file_info: NULL");
	memset(&raw, 0, sizeof(raw));
	raw.num_fences = 1;
	is_int(dmabuf_fd_sync_file_info(a, &raw), -EFAULT, "file_info: no array");
	memset(&raw, 0, sizeof(raw));
	raw.num_fences = 1;
	raw.sync_fence_info = (uint64_t)(uintptr_t)fi;
	is_int(dmabuf_fd_sync_file_info(m, &raw), -EINVAL, "file_info: array too small");
	raw.num_fences = 2;
	is_int(dmabuf_fd_sync_file_info(m, &raw), 0, "file_info: full call");
	is_str(raw.name, "two", "file_info: name");
	is_str(fi[0].driver_name, "sw_sync", "file_info: driver of the first fence");
	is_str(fi[1].obj_name, comm, "file_info: timeline name is the process name");
	is_int(dmabuf_fd_sync_file_info(buf, &raw), -ENOTTY, "file_info: a dma-buf");
	is_int(dmabuf_fd_sync_file_info(closed_fd(), &raw), -EBADF, "file_info: closed fd");

	if (ok(dmabuf_fd_sync_info(a, &info) == 0, "sync_info: pending fence")) {
		snprintf(want, sizeof(want), "sw_sync-%s", comm);
		ok(!strncmp(info->name, want, strlen(want)), "sync_info: name '%s'", info->name);
		is_int(info->status, 0, "sync_info: pending");
		is_int(info->num_fences, 1, "sync_info: one fence");
		is_str(info->fences[0].driver_name, "sw_sync", "sync_info: driver");
		is_str(info->fences[0].obj_name, comm, "sync_info: timeline name");
		is_int(info->fences[0].status, 0, "sync_info: fence pending");
		is_int(info->fences[0].timestamp_ns, 0, "sync_info: no timestamp while pending");
		dmabuf_fd_sync_info_free(info);
	}
	before = now_ns();
	dmabuf_fd_sw_timeline_inc(t1, 1);
	if (ok(dmabuf_fd_sync_info(a, &info) == 0, "sync_info: signaled fence")) {
		is_int(info->status, 1, "sync_info: signaled");
		ok(info->fences[0].timestamp_ns >= (uint64_t)before &&
		   info->fences[0].timestamp_ns <= (uint64_t)now_ns(),
		   "sync_info: timestamp is the CLOCK_MONOTONIC time of the signal");
		dmabuf_fd_sync_info_free(info);
	}
	close(t2);
	if (ok(dmabuf_fd_sync_info(m, &info) == 0, "sync_info: timeline closed")) {
		is_int(info->num_fences, 2, "sync_info: merged file lists both");
		is_int(info->fences[1].status, -ENOENT, "sync_info: orphaned fence failed ENOENT");
		is_int(info->status, -ENOENT, "sync_info: status of the full call is the error");
		dmabuf_fd_sync_info_free(info);
	}
	is_int(dmabuf_fd_sync_info(buf, &info), -ENOTTY, "sync_info: a dma-buf");
	keep = info = (void *)&raw;
	dmabuf_fault_inject_alloc(0, 1);
	is_int(dmabuf_fd_sync_info(a, &info), -ENOMEM, "sync_info: allocation failure");
	dmabuf_fault_inject_alloc(0, 0);
	ok(info == keep, "sync_info: *info untouched on ENOMEM");
	close(a);
	close(b);
	close(m);
	close(t1);
	close(buf);
}

static void test_wait(void)
{
	int tl = timeline(), f = fence(tl, 1), tl2 = timeline(), g = fence(tl2, 1);
	struct signaler s;
	int64_t t0;

	is_int(dmabuf_fd_sync_wait(f, 0), -ETIME, "wait: pending, timeout 0");
	t0 = now_ns();
	is_int(dmabuf_fd_sync_wait(f, 2000000), -ETIME, "wait: pending, 2 ms");
	ok(now_ns() - t0 >= 2000000, "wait: waited the whole timeout");
	signaler_start(&s, tl);
	signaler_go(&s);
	is_int(dmabuf_fd_sync_wait(f, -1), 0, "wait: forever, woken by another thread");
	signaler_join(&s);
	is_int(dmabuf_fd_sync_wait(f, 0), 0, "wait: signaled, timeout 0");
	close(tl2);
	is_int(dmabuf_fd_sync_wait(g, -1), 0, "wait: a fence failed by its timeline's close");
	is_int(dmabuf_fd_sync_wait(closed_fd(), 0), -EBADF, "wait: closed fd");
	close(f);
	close(g);
	close(tl);
}

static void test_deadline(void)
{
	int t1 = timeline(), t2 = timeline(), a = fence(t1, 1), b = fence(t2, 1);
	int buf = heap_buf(page), m = dmabuf_fd_sync_merge("ab", a, b), stub, c;
	uint64_t v = 77;

	is_int(dmabuf_fd_sw_get_deadline(t1, a, &v), -ENOENT, "deadline: none set");
	is_int(v, 77, "deadline: value untouched on error");
	is_int(dmabuf_fd_sync_set_deadline(a, 5000000), 0, "deadline: set");
	is_int(dmabuf_fd_sw_get_deadline(t1, a, &v), 0, "deadline: get");
	is_int(v, 5000000, "deadline: the value set");
	dmabuf_fd_sync_set_deadline(a, 9000000);
	dmabuf_fd_sw_get_deadline(t1, a, &v);
	is_int(v, 5000000, "deadline: a later one is ignored");
	dmabuf_fd_sync_set_deadline(a, 3000000);
	dmabuf_fd_sw_get_deadline(t1, a, &v);
	is_int(v, 3000000, "deadline: an earlier one wins");
	is_int(dmabuf_fd_sw_get_deadline(t2, a, &v), 0, "deadline: asked on another timeline");
	is_int(v, 3000000, "deadline: same answer from another timeline");
	is_int(dmabuf_fd_sync_set_deadline(m, 2000000), 0, "deadline: set on a merged file");
	v = 0;
	dmabuf_fd_sw_get_deadline(t2, b, &v);
	is_int(v, 2000000, "deadline: reaches every member");
	is_int(dmabuf_fd_sw_get_deadline(t1, m, &v), -EINVAL, "deadline: get on a merged file");
	stub = dmabuf_fd_buf_export_sync_file(buf, RD);
	is_int(dmabuf_fd_sw_get_deadline(t1, stub, &v), -EINVAL, "deadline: get on the stub");
	is_int(dmabuf_fd_sync_set_deadline(stub, 1), 0, "deadline: set on the stub");
	is_int(dmabuf_fd_sw_get_deadline(t1, -1, &v), -EINVAL, "deadline: get fence -1");
	is_int(dmabuf_fd_sw_get_deadline(t1, t2, &v), -EINVAL, "deadline: get on a timeline");
	is_int(dmabuf_fd_sw_get_deadline(buf, a, &v), -ENOTTY, "deadline: asked on a dma-buf");
	is_int(dmabuf_fd_sw_get_deadline(closed_fd(), a, &v), -EBADF, "deadline: closed tl");
	c = fence(t1, 0);
	is_int(dmabuf_fd_sync_set_deadline(c, 1000), 0, "deadline: set on a signaled fence");
	is_int(dmabuf_fd_sw_get_deadline(t1, c, &v), -ENOENT,
	       "deadline: not recorded when signaled");
	is_int(dmabuf_fd_sync_set_deadline(buf, 1), -ENOTTY, "deadline: set on a dma-buf");
	is_int(dmabuf_fd_sync_set_deadline(closed_fd(), 1), -EBADF, "deadline: set closed fd");
	close(c);
	close(stub);
	close(m);
	close(a);
	close(b);
	close(t1);
	close(t2);
	close(buf);
}

/* ---- sw_sync ---- */

static void test_sw_sync(void)
{
	int tl, f, f2, g, buf = heap_buf(page);

	tl = dmabuf_fd_sw_timeline_create(0);
	ok(tl >= 0 && !is_cloexec(tl), "sw_sync: timeline without O_CLOEXEC");
	xclose(tl);
	tl = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	ok(tl >= 0 && is_cloexec(tl), "sw_sync: timeline with O_CLOEXEC");
	f = dmabuf_fd_sw_fence_create(tl, 0, "zero");
	ok(f >= 0 && is_cloexec(f), "sw_sync: fence fd cloexec");
	is_int(status(f), 1, "sw_sync: value 0 is born signaled");
	xclose(f);
	f = dmabuf_fd_sw_fence_create(tl, 5, NULL);
	is_int(status(f), 0, "sw_sync: value 5 pending (NULL name)");
	f2 = dmabuf_fd_sw_fence_create(tl, 5, "again");
	g = dmabuf_fd_sync_merge("same", f, f2);
	is_int(num_fences(g), 1, "sw_sync: the same value twice is the same fence");
	xclose(g);
	is_int(dmabuf_fd_sw_timeline_inc(tl, 4), 0, "sw_sync: inc 4");
	is_int(status(f), 0, "sw_sync: 4 < 5 still pending");
	is_int(dmabuf_fd_sw_timeline_inc(tl, 0), 0, "sw_sync: inc 0");
	is_int(dmabuf_fd_sw_timeline_inc(tl, 1), 0, "sw_sync: inc 1");
	is_int(status(f), 1, "sw_sync: reaching 5 signals");
	is_int(status(f2), 1, "sw_sync: both descriptors of the point");
	g = dmabuf_fd_sw_fence_create(tl, 3, "past");
	is_int(status(g), 1, "sw_sync: a passed value is born signaled");
	xclose(g);
	xclose(f);
	xclose(f2);
	close(tl);

	tl = timeline();
	f = fence(tl, 0x7fffffff);
	is_int(status(f), 0, "sw_sync: 2^31-1 ahead is pending");
	xclose(f);
	f = fence(tl, 0x80000000);
	is_int(status(f), 1, "sw_sync: 2^31 ahead counts as passed (32-bit wrap)");
	xclose(f);
	f = fence(tl, 1);
	is_int(dmabuf_fd_sw_fence_create(buf, 1, "x"), -ENOTTY, "sw_sync: create on a dma-buf");
	is_int(dmabuf_fd_sw_fence_create(f, 1, "x"), -ENOTTY, "sw_sync: create on a sync_file");
	is_int(dmabuf_fd_sw_fence_create(closed_fd(), 1, "x"), -EBADF, "sw_sync: create closed");
	is_int(dmabuf_fd_sw_timeline_inc(f, 1), -ENOTTY, "sw_sync: inc a sync_file");
	is_int(dmabuf_fd_sw_timeline_inc(closed_fd(), 1), -EBADF, "sw_sync: inc closed");
	close(tl);
	is_int(status(f), -ENOENT, "sw_sync: closing the timeline fails its fences with ENOENT");
	close(f);
	close(buf);
}

/* ---- libsync ---- */

static void test_libsync(void)
{
	struct sync_file_info *info;
	struct sync_fence_info *fi;
	int tl = sw_sync_timeline_create(), tl2 = timeline(), f, g, m, cl = closed_fd();

	ok(tl >= 0 && !is_cloexec(tl), "libsync: sw_sync_timeline_create (not cloexec)");
	f = sw_sync_fence_create(tl, "f", 1);
	ok(f >= 0, "libsync: sw_sync_fence_create");
	g = sw_sync_fence_create(tl2, NULL, 1);
	ok(g >= 0, "libsync: sw_sync_fence_create with a NULL name");
	errno = 0;
	ok(sync_wait(f, 0) == -1 && errno == ETIME, "libsync: sync_wait pending → ETIME");
	errno = 0;
	ok(sync_wait(f, 1) == -1 && errno == ETIME, "libsync: sync_wait 1 ms → ETIME");
	m = sync_merge("m", f, g);
	ok(m >= 0, "libsync: sync_merge");
	info = sync_file_info(m);
	if (ok(info != NULL, "libsync: sync_file_info")) {
		is_str(info->name, "m", "libsync: info name");
		is_int(info->num_fences, 2, "libsync: info num_fences");
		is_int(info->status, 0, "libsync: info status pending");
		fi = sync_get_fence_info(info);
		is_str(fi[0].driver_name, "sw_sync", "libsync: sync_get_fence_info driver");
		is_str(fi[1].obj_name, comm, "libsync: sync_get_fence_info timeline");
		sync_file_info_free(info);
	}
	is_int(sw_sync_timeline_inc(tl, 1), 0, "libsync: sw_sync_timeline_inc");
	is_int(sync_wait(f, 0), 0, "libsync: sync_wait signaled");
	is_int(sync_wait(f, -1), 0, "libsync: sync_wait forever on signaled");
	errno = 0;
	ok(sync_wait(cl, 0) == -1 && errno == EINVAL, "libsync: sync_wait closed fd → EINVAL");
	errno = 0;
	ok(sync_merge("x", f, -1) == -1 && errno == ENOENT, "libsync: sync_merge bad fd2 ENOENT");
	errno = 0;
	ok(sync_merge("x", cl, f) == -1 && errno == EBADF, "libsync: sync_merge closed fd1 EBADF");
	errno = 0;
	ok(!sync_file_info(tl) && errno == ENOTTY, "libsync: sync_file_info of a timeline");
	errno = 0;
	ok(!sync_file_info(cl) && errno == EBADF, "libsync: sync_file_info of a closed fd");
	dmabuf_fault_inject_alloc(0, 1);
	errno = 0;
	info = sync_file_info(f);
	dmabuf_fault_inject_alloc(0, 0);
	ok(!info && errno == ENOMEM, "libsync: sync_file_info ENOMEM");
	sync_file_info_free(info);
	errno = 0;
	ok(sw_sync_timeline_inc(f, 1) == -1 && errno == ENOTTY, "libsync: inc a sync_file");
	errno = 0;
	ok(sw_sync_fence_create(f, "x", 1) == -1 && errno == ENOTTY,
	   "libsync: fence_create on a sync_file");
	xclose(m);
	xclose(f);
	xclose(g);
	xclose(tl);
	close(tl2);
}

int main(int argc, char **argv)
{
	const char *backend;

	page = (size_t)sysconf(_SC_PAGESIZE);
	if (argc > 1 && !strcmp(argv[1], "--probe"))
		return probe();
	if (argc > 1 && !strcmp(argv[1], "--check-child"))
		return check_child();
	private_broker_setup();
	read_comm();
	backend = dmabuf_fd_backend_name();
	diag("backend: %s", backend);
	on_kernel = !strcmp(backend, "kernel");
	test_selection();
	test_frontend();
	if (!backend_is_live(backend))
		bail_out("unknown backend %s", backend);
	test_heap();
	test_heap_fd();
	test_udmabuf();
	test_udmabuf_many();
	test_mmap();
	test_buf_sync();
	test_export_import();
	test_coherency();
	test_implicit();
	test_merge();
	test_info();
	test_wait();
	test_deadline();
	test_sw_sync();
	test_libsync();
	return tap_done();
}

// SPDX-License-Identifier: MIT
/*
 * ioctl.c - every uAPI request, dispatched on the descriptor's type and the full request
 * value, as the kernel's drivers do: a request a driver does not know is ENOTTY, the
 * argument is read (EFAULT when it cannot be) before it is checked, results are written back
 * (EFAULT when they cannot be; a descriptor made meanwhile is closed again, except where
 * the kernel leaks it: the heap's ALLOC).
 *
 * The work itself is the fd-level API's (include/dmabuf/fd.h) on the broker.
 */
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/fs.h>
#include <linux/sync_file.h>
#include <linux/udmabuf.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <dmabuf/fd.h>

#include "shim.h"
#include "backend.h"
#include "broker_conn.h"

/* Requests that sw_sync and newer kernels define; the headers may lack them. */
struct sw_create_fence {
	uint32_t value;
	char name[32];
	int32_t fence;
};

struct sw_get_deadline {
	uint64_t deadline_ns;
	uint32_t pad;
	int32_t fence_fd;
};

struct set_deadline {
	uint64_t deadline_ns;
	uint64_t pad;
};

/* The proposed DMA_BUF_IOCTL_INFO (our addition): EXPORT's number with another size. */
struct buf_info {
	uint32_t param;
	uint32_t pad;
	uint64_t value;
};

#define SW_CREATE_FENCE		_IOWR('W', 0, struct sw_create_fence)
#define SW_INC			_IOW('W', 1, uint32_t)
#define SW_GET_DEADLINE		_IOWR('W', 2, struct sw_get_deadline)
#define SET_DEADLINE		_IOW(SYNC_IOC_MAGIC, 5, struct set_deadline)
#define BUF_IOCTL_INFO		_IOWR(DMA_BUF_BASE, 2, struct buf_info)
#define BUF_INFO_MAP_INFO	1

#define UDMABUF_LIST_LIMIT	1024
#define HEAP_ALLOC_SIZE		sizeof(struct dma_heap_allocation_data)

/* ---- the caller's memory ---- */

static pid_t self_pid;
static __thread uintptr_t stack_lo, stack_hi;

static void self_pid_reset(void)
{
	__atomic_store_n(&self_pid, 0, __ATOMIC_RELAXED);
}

static void self_pid_atfork(void)
{
	pthread_atfork(NULL, NULL, self_pid_reset);
}

/* This process's pid (getpid() is a system call; a fork child forgets the cached one). */
static pid_t self(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pid_t pid = __atomic_load_n(&self_pid, __ATOMIC_RELAXED);

	if (!pid) {
		pthread_once(&once, self_pid_atfork);
		pid = getpid();
		__atomic_store_n(&self_pid, pid, __ATOMIC_RELAXED);
	}
	return pid;
}

/*
 * Whether [@p, @p + @len) lies in the used part of this thread's stack (between the stack
 * pointer and the top), which is always mapped: most ioctl arguments live there, and then
 * they can be copied without asking the kernel.
 */
static bool on_my_stack(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, sp = (uintptr_t)__builtin_frame_address(0);
	pthread_attr_t attr;
	void *base;
	size_t size;

	if (!stack_hi) {
		stack_hi = 1;
		if (!pthread_getattr_np(pthread_self(), &attr)) {
			if (!pthread_attr_getstack(&attr, &base, &size)) {
				stack_lo = (uintptr_t)base;
				stack_hi = (uintptr_t)base + size;
			}
			pthread_attr_destroy(&attr);
		}
	}
	return sp >= stack_lo && sp < stack_hi && a >= sp && a + len >= a && a + len <= stack_hi;
}

/*
 * Copy @len bytes between the caller's memory @user and ours @mine (@out: towards the
 * caller): 0, or -EFAULT where the kernel's copy would fault.
 */
static int copy_user(void *mine, void *user, size_t len, bool out)
{
	struct iovec l = { mine, len }, r = { user, len };
	ssize_t n;

	if (!len)
		return 0;
	if (!user)
		return -EFAULT;
	if (!on_my_stack(user, len)) {
		n = out ? process_vm_writev(self(), &l, 1, &r, 1, 0) :
			  process_vm_readv(self(), &l, 1, &r, 1, 0);
		if (n == (ssize_t)len)
			return 0;
		/* without a way to probe (seccomp), a non-NULL pointer is trusted */
		if (n >= 0 || (errno != ENOSYS && errno != EPERM))
			return -EFAULT;
	}
	if (out)
		memcpy(user, mine, len);
	else
		memcpy(mine, user, len);
	return 0;
}

static int copy_in(void *dst, const void *src, size_t len)
{
	return copy_user(dst, (void *)src, len, false);
}

static int copy_out(void *dst, const void *src, size_t len)
{
	return copy_user((void *)src, dst, len, true);
}

/*
 * A NUL-terminated string of at most @len - 1 characters from the caller, read a byte at a
 * time up to a page boundary so that a short string at the end of a mapping works: -EFAULT
 * when unreadable before its end, -EINVAL when no NUL comes within @len bytes.
 */
static int string_in(char *dst, const char *src, size_t len)
{
	size_t i, chunk;
	uintptr_t p;

	for (i = 0; i < len; i += chunk) {
		p = (uintptr_t)(src + i);
		chunk = 4096 - (p & 4095);
		if (chunk > len - i)
			chunk = len - i;
		if (copy_in(dst + i, src + i, chunk))
			return -EFAULT;
		if (memchr(dst + i, '\0', chunk))
			return 0;
	}
	return -EINVAL;
}

/* A new descriptor went into the caller's struct at @dst: undo it if that faulted. */
static int fd_out(int fd, enum shim_type type, void *dst, const void *src, size_t len)
{
	if (copy_out(dst, src, len)) {
		close(fd);
		return -EFAULT;
	}
	shim_fd_track(fd, type, 0);
	return 0;
}

/* ---- dma-buf ---- */

static int buf_set_name(int fd, const char *uname)
{
	char name[DMA_BUF_NAME_LEN];
	int ret = string_in(name, uname, sizeof(name));

	return ret ? ret : dmabuf_fd_buf_set_name(fd, name);
}

static int buf_export(int fd, void *arg)
{
	struct dma_buf_export_sync_file x;
	int ret = copy_in(&x, arg, sizeof(x));

	if (ret)
		return ret;
	ret = dmabuf_fd_buf_export_sync_file(fd, x.flags);
	if (ret < 0)
		return ret;
	x.fd = ret;
	return fd_out(ret, SHIM_SYNC_FILE, arg, &x, sizeof(x));
}

static int buf_import(int fd, void *arg)
{
	struct dma_buf_import_sync_file x;
	int ret = copy_in(&x, arg, sizeof(x));

	return ret ? ret : dmabuf_fd_buf_import_sync_file(fd, x.flags, x.fd);
}

static int buf_info(int fd, void *arg)
{
	struct buf_info x;
	int ret = copy_in(&x, arg, sizeof(x));

	if (ret)
		return ret;
	if (x.param != BUF_INFO_MAP_INFO || x.pad)
		return -EINVAL;
	ret = dmabuf_fd_buf_map_info(fd, &x.value);
	return ret ? ret : copy_out(arg, &x, sizeof(x));
}

static int buf_ioctl(int fd, const struct stat *st, unsigned long req, void *arg)
{
	struct dma_buf_sync sync;
	int ret;

	switch (req) {
	case DMA_BUF_IOCTL_SYNC:
		ret = copy_in(&sync, arg, sizeof(sync));
		return ret ? ret : dmabuf_fd_buf_sync_stat(fd, st, sync.flags);
	case DMA_BUF_SET_NAME_A:
	case DMA_BUF_SET_NAME_B:
		return buf_set_name(fd, arg);
	case DMA_BUF_IOCTL_EXPORT_SYNC_FILE:
		return buf_export(fd, arg);
	case DMA_BUF_IOCTL_IMPORT_SYNC_FILE:
		return buf_import(fd, arg);
	case BUF_IOCTL_INFO:
		return buf_info(fd, arg);
	default:
		return -ENOTTY;
	}
}

/* ---- sync_file ---- */

static int sync_merge(int fd, void *arg)
{
	struct sync_merge_data x;
	int ret = copy_in(&x, arg, sizeof(x));

	if (ret)
		return ret;
	if (x.flags || x.pad)
		return -EINVAL;
	x.name[sizeof(x.name) - 1] = '\0';
	ret = dmabuf_fd_sync_merge(x.name, fd, x.fd2);
	if (ret < 0)
		return ret;
	x.fence = ret;
	return fd_out(ret, SHIM_SYNC_FILE, arg, &x, sizeof(x));
}

/*
 * FILE_INFO: the count first (it also checks flags and pad), then the fences into memory of
 * ours, copied out before the struct as the kernel does.
 */
static int sync_file_info(int fd, void *arg)
{
	struct dmabuf_fd_sync_file_info x, c;
	struct dmabuf_fd_fence_info *v;
	uint32_t want;
	int ret = copy_in(&x, arg, sizeof(x));

	if (ret)
		return ret;
	c = x;
	c.num_fences = 0;
	ret = dmabuf_fd_sync_file_info(fd, &c);
	if (ret)
		return ret;
	if (!x.num_fences)
		return copy_out(arg, &c, sizeof(c));
	if (x.num_fences < c.num_fences)
		return -EINVAL;
	want = x.num_fences;
	v = calloc(c.num_fences ? c.num_fences : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	c = x;
	c.num_fences = want < c.num_fences ? want : c.num_fences;
	c.sync_fence_info = (uint64_t)(uintptr_t)v;
	ret = dmabuf_fd_sync_file_info(fd, &c);
	if (!ret)
		ret = copy_out((void *)(uintptr_t)x.sync_fence_info, v,
			       c.num_fences * sizeof(*v));
	free(v);
	if (ret)
		return ret;
	c.sync_fence_info = x.sync_fence_info;
	return copy_out(arg, &c, sizeof(c));
}

static int sync_set_deadline(int fd, void *arg)
{
	struct set_deadline x;
	int ret = copy_in(&x, arg, sizeof(x));

	if (ret)
		return ret;
	return x.pad ? -EINVAL : dmabuf_fd_sync_set_deadline(fd, x.deadline_ns);
}

static int sync_ioctl(int fd, unsigned long req, void *arg)
{
	switch (req) {
	case SYNC_IOC_MERGE:
		return sync_merge(fd, arg);
	case SYNC_IOC_FILE_INFO:
		return sync_file_info(fd, arg);
	case SET_DEADLINE:
		return sync_set_deadline(fd, arg);
	default:
		return -ENOTTY;
	}
}

/* ---- sw_sync ---- */

static int sw_create_fence(int fd, void *arg)
{
	struct sw_create_fence x;
	int ret = copy_in(&x, arg, sizeof(x));

	if (ret)
		return ret;
	x.name[sizeof(x.name) - 1] = '\0';
	ret = dmabuf_fd_sw_fence_create(fd, x.value, x.name);
	if (ret < 0)
		return ret;
	x.fence = ret;
	return fd_out(ret, SHIM_SYNC_FILE, arg, &x, sizeof(x));
}

static int sw_get_deadline(int fd, void *arg)
{
	struct sw_get_deadline x;
	uint64_t d = 0;
	int ret = copy_in(&x, arg, sizeof(x));

	if (ret)
		return ret;
	if (x.deadline_ns || x.pad)
		return -EINVAL;
	ret = dmabuf_fd_sw_get_deadline(fd, x.fence_fd, &d);
	if (ret)
		return ret;
	x.deadline_ns = d;
	return copy_out(arg, &x, sizeof(x));
}

static int sw_ioctl(int fd, unsigned long req, void *arg)
{
	uint32_t v;
	int ret;

	switch (req) {
	case SW_CREATE_FENCE:
		return sw_create_fence(fd, arg);
	case SW_INC:
		ret = copy_in(&v, arg, sizeof(v));
		return ret ? ret : dmabuf_fd_sw_timeline_inc(fd, v);
	case SW_GET_DEADLINE:
		return sw_get_deadline(fd, arg);
	default:
		return -ENOTTY;
	}
}

/* ---- dma-heap ---- */

static int heap_alloc(int fd, struct dma_heap_allocation_data *d)
{
	int ret;

	if (d->fd)
		return -EINVAL;
	ret = dmabuf_fd_heap_alloc_fd(fd, d->len, d->fd_flags, d->heap_flags);
	if (ret < 0)
		return ret;
	shim_fd_track(ret, SHIM_BUF, 0);
	d->fd = (uint32_t)ret;
	return 0;
}

/*
 * The heap driver trusts the request's size and direction bits, not its type: it reads what
 * the caller says it passes, zero-fills the rest, and writes back what the caller says it
 * reads (a descriptor made before a fault or a short write-back stays open, as in Linux).
 */
static int heap_ioctl(int fd, unsigned long req, void *arg)
{
	unsigned char k[256] = { 0 };
	size_t in = _IOC_SIZE(req), out = _IOC_SIZE(req);
	struct dma_heap_allocation_data d;
	int ret;

	if (_IOC_NR(req) >= 1)
		return -EINVAL;
	if (!(_IOC_DIR(req) & _IOC_WRITE))
		in = 0;
	if (!(_IOC_DIR(req) & _IOC_READ))
		out = 0;
	if (in > sizeof(k) || out > sizeof(k))
		return -ENOMEM;
	if (copy_in(k, arg, in))
		return -EFAULT;
	memcpy(&d, k, sizeof(d));
	ret = heap_alloc(fd, &d);
	memcpy(k, &d, sizeof(d));
	if (copy_out(arg, k, out))
		ret = -EFAULT;
	return ret;
}

/* ---- udmabuf ---- */

static int udmabuf_create(void *arg, bool list)
{
	struct dmabuf_fd_udmabuf_item *items;
	struct udmabuf_create_list head;
	struct udmabuf_create c;
	int ret;

	if (!list) {
		ret = copy_in(&c, arg, sizeof(c));
		if (ret)
			return ret;
		ret = dmabuf_fd_udmabuf_create((int)c.memfd, c.offset, c.size, c.flags);
		goto out;
	}
	ret = copy_in(&head, arg, sizeof(head));
	if (ret)
		return ret;
	if (head.count > UDMABUF_LIST_LIMIT)
		return -EINVAL;
	items = calloc(head.count ? head.count : 1, sizeof(*items));
	if (!items)
		return -ENOMEM;
	ret = copy_in(items, (char *)arg + sizeof(head), head.count * sizeof(*items));
	if (!ret)
		ret = dmabuf_fd_udmabuf_create_list(items, head.count, head.flags);
	free(items);
out:
	if (ret >= 0)
		shim_fd_track(ret, SHIM_BUF, 0);
	return ret;
}

static int udmabuf_ioctl(unsigned long req, void *arg)
{
	switch (req) {
	case UDMABUF_CREATE:
		return udmabuf_create(arg, false);
	case UDMABUF_CREATE_LIST:
		return udmabuf_create(arg, true);
	default:
		return -ENOTTY;
	}
}

/* ---- dispatch ---- */

/* Requests the VFS answers for every file before its driver sees them. */
static bool vfs_request(unsigned long req)
{
	switch (req) {
	case FIOCLEX:
	case FIONCLEX:
	case FIONBIO:
	case FIOASYNC:
	case FIGETBSZ:
		return true;
	default:
		return false;
	}
}

/* The uAPI's request types: worth asking the broker about a descriptor we never met. */
static bool uapi_request(unsigned long req)
{
	switch (_IOC_TYPE(req)) {
	case DMA_BUF_BASE:
	case SYNC_IOC_MAGIC:
	case 'W':
	case DMA_HEAP_IOC_MAGIC:
	case 'u':
		return true;
	default:
		return false;
	}
}

static int dispatch(enum shim_type type, int fd, const struct stat *st, unsigned long req,
		    void *arg)
{
	switch (type) {
	case SHIM_BUF:
		return buf_ioctl(fd, st, req, arg);
	case SHIM_SYNC_FILE:
		return sync_ioctl(fd, req, arg);
	case SHIM_TIMELINE:
		return sw_ioctl(fd, req, arg);
	case SHIM_HEAP:
		return heap_ioctl(fd, req, arg);
	case SHIM_UDMABUF_DEV:
		return udmabuf_ioctl(req, arg);
	default:
		return -ENOTTY;
	}
}

SHIM_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	enum shim_type type;
	struct stat st;
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (shim_bypass())
		return REAL(ioctl)(fd, req, arg);
	type = shim_fd_get(fd, NULL, &st);
	if (type == SHIM_NONE && uapi_request(req)) {
		/* a descriptor that reached us some way we did not see */
		shim_fd_adopt(fd);
		type = shim_fd_get(fd, NULL, &st);
	}
	if (type == SHIM_NONE || vfs_request(req))
		return REAL(ioctl)(fd, req, arg);
	shim_enter();
	ret = dispatch(type, fd, &st, req, arg);
	shim_leave();
	return shim_ret(ret);
}

/* ---- what fdinfo shows ---- */

int shim_buf_info(int fd, struct dmabuf_fd_buf_desc *info)
{
	int ret;

	shim_enter();
	ret = dmabuf_fd_backend()->buf_desc(fd, info);
	shim_leave();
	return ret;
}

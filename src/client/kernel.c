// SPDX-License-Identifier: MIT
/*
 * kernel.c - the kernel backend of the fd-level API: each op is the uAPI call itself.
 *
 * The request structures are declared here from their documented layouts (the installed uAPI
 * headers may predate SET_DEADLINE, and sw_sync's ioctls are private to the driver); the
 * request values are checked against the ones the kernel uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/ioctl.h>

#include "backend.h"
#include "check.h"
#include "../core/internal.h"

struct k_heap_alloc {
	uint64_t len;
	uint32_t fd;
	uint32_t fd_flags;
	uint64_t heap_flags;
};

struct k_udmabuf_create {
	uint32_t memfd;
	uint32_t flags;
	uint64_t offset;
	uint64_t size;
};

struct k_udmabuf_create_list {
	uint32_t flags;
	uint32_t count;
	struct dmabuf_fd_udmabuf_item list[];
};

struct k_buf_sync {
	uint64_t flags;
};

struct k_export_sync_file {
	uint32_t flags;
	int32_t fd;
};

struct k_import_sync_file {
	uint32_t flags;
	int32_t fd;
};

struct k_buf_info {
	uint32_t param;
	uint32_t pad;
	uint64_t value;
};

struct k_merge {
	char name[32];
	int32_t fd2;
	int32_t fence;
	uint32_t flags;
	uint32_t pad;
};

struct k_set_deadline {
	uint64_t deadline_ns;
	uint64_t pad;
};

struct k_sw_create_fence {
	uint32_t value;
	char name[32];
	int32_t fence;
};

struct k_sw_get_deadline {
	uint64_t deadline_ns;
	uint32_t pad;
	int32_t fence_fd;
};

#define K_HEAP_ALLOC		_IOWR('H', 0, struct k_heap_alloc)
#define K_UDMABUF_CREATE	_IOW('u', 0x42, struct k_udmabuf_create)
#define K_UDMABUF_CREATE_LIST	_IOW('u', 0x43, struct k_udmabuf_create_list)
#define K_BUF_SYNC		_IOW('b', 0, struct k_buf_sync)
#define K_BUF_SET_NAME		_IOW('b', 1, uint64_t)
#define K_EXPORT_SYNC_FILE	_IOWR('b', 2, struct k_export_sync_file)
#define K_IMPORT_SYNC_FILE	_IOW('b', 3, struct k_import_sync_file)
#define K_BUF_INFO		_IOWR('b', 2, struct k_buf_info)
#define K_BUF_INFO_MAP_INFO	1
#define K_SYNC_MERGE		_IOWR('>', 3, struct k_merge)
#define K_SYNC_FILE_INFO	_IOWR('>', 4, struct dmabuf_fd_sync_file_info)
#define K_SYNC_SET_DEADLINE	_IOW('>', 5, struct k_set_deadline)
#define K_SW_CREATE_FENCE	_IOWR('W', 0, struct k_sw_create_fence)
#define K_SW_INC		_IOW('W', 1, uint32_t)
#define K_SW_GET_DEADLINE	_IOWR('W', 2, struct k_sw_get_deadline)

_Static_assert(K_HEAP_ALLOC == 0xc0184800, "DMA_HEAP_IOCTL_ALLOC");
_Static_assert(K_UDMABUF_CREATE == 0x40187542, "UDMABUF_CREATE");
_Static_assert(K_UDMABUF_CREATE_LIST == 0x40087543, "UDMABUF_CREATE_LIST");
_Static_assert(sizeof(struct dmabuf_fd_udmabuf_item) == 24, "struct udmabuf_create_item");
_Static_assert(K_BUF_SYNC == 0x40086200, "DMA_BUF_IOCTL_SYNC");
_Static_assert(K_BUF_SET_NAME == 0x40086201, "DMA_BUF_SET_NAME_B");
_Static_assert(K_EXPORT_SYNC_FILE == 0xc0086202, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE");
_Static_assert(K_IMPORT_SYNC_FILE == 0x40086203, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE");
_Static_assert(K_BUF_INFO == 0xc0106202, "DMA_BUF_IOCTL_INFO");
_Static_assert(K_SYNC_MERGE == 0xc0303e03, "SYNC_IOC_MERGE");
_Static_assert(K_SYNC_FILE_INFO == 0xc0383e04, "SYNC_IOC_FILE_INFO");
_Static_assert(sizeof(struct dmabuf_fd_fence_info) == 80, "struct sync_fence_info");
_Static_assert(K_SYNC_SET_DEADLINE == 0x40103e05, "SYNC_IOC_SET_DEADLINE");
_Static_assert(K_SW_CREATE_FENCE == 0xc0285700, "SW_SYNC_IOC_CREATE_FENCE");
_Static_assert(K_SW_INC == 0x40045701, "SW_SYNC_IOC_INC");
_Static_assert(K_SW_GET_DEADLINE == 0xc0105702, "SW_SYNC_GET_DEADLINE");

/* The udmabuf driver's default list_limit: longer lists fail before the items are read. */
#define K_UDMABUF_LIST_LIMIT 1024U

/* ioctl() as 0 or -errno */
static int kioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg) < 0 ? -errno : 0;
}

static int kopen(const char *path, int flags)
{
	int fd = open(path, flags);

	return fd < 0 ? -errno : fd;
}

static int kernel_heap_open(const char *heap, unsigned int flags)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "/dev/dma_heap/%s", heap) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return kopen(path, (int)flags);
}

static int kernel_heap_alloc_fd(int heap_fd, uint64_t len, unsigned int fd_flags,
				uint64_t heap_flags)
{
	struct k_heap_alloc data = {
		.len = len,
		.fd_flags = fd_flags,
		.heap_flags = heap_flags,
	};
	int ret = kioctl(heap_fd, K_HEAP_ALLOC, &data);

	return ret < 0 ? ret : (int)data.fd;
}

static int kernel_heap_alloc(const char *heap, uint64_t len, unsigned int fd_flags,
			     uint64_t heap_flags)
{
	int dev, ret;

	dev = kernel_heap_open(heap, O_RDONLY | O_CLOEXEC);
	if (dev < 0)
		return dev;
	ret = kernel_heap_alloc_fd(dev, len, fd_flags, heap_flags);
	close(dev);
	return ret;
}

static int kernel_udmabuf_create(int memfd, uint64_t offset, uint64_t size, unsigned int flags)
{
	struct k_udmabuf_create data = {
		.memfd = (uint32_t)memfd,
		.flags = flags,
		.offset = offset,
		.size = size,
	};
	int dev, ret;

	dev = kopen("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return dev;
	ret = ioctl(dev, K_UDMABUF_CREATE, &data);
	if (ret < 0)
		ret = -errno;
	close(dev);
	return ret;
}

static int kernel_udmabuf_create_list(const struct dmabuf_fd_udmabuf_item *items,
				      unsigned int count, unsigned int flags)
{
	/* Past the limit the driver rejects the header alone: send no items then. */
	unsigned int n = count <= K_UDMABUF_LIST_LIMIT ? count : 0;
	struct k_udmabuf_create_list *data;
	int dev, ret;

	if (!items && n)
		return -EFAULT;
	data = dmabuf_malloc(sizeof(*data) + (size_t)n * sizeof(*items));
	if (!data)
		return -ENOMEM;
	data->flags = flags;
	data->count = count;
	if (n)
		memcpy(data->list, items, (size_t)n * sizeof(*items));
	dev = kopen("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		ret = dev;
		goto out;
	}
	ret = ioctl(dev, K_UDMABUF_CREATE_LIST, data);
	if (ret < 0)
		ret = -errno;
	close(dev);
out:
	dmabuf_free(data);
	return ret;
}

static int kernel_buf_sync(int fd, uint64_t flags)
{
	struct k_buf_sync data = { .flags = flags };

	return kioctl(fd, K_BUF_SYNC, &data);
}

static int kernel_buf_set_name(int fd, const char *name)
{
	return kioctl(fd, K_BUF_SET_NAME, (void *)name);
}

static int kernel_buf_export_sync_file(int fd, unsigned int flags)
{
	struct k_export_sync_file data = { .flags = flags, .fd = -1 };
	int ret = kioctl(fd, K_EXPORT_SYNC_FILE, &data);

	return ret < 0 ? ret : data.fd;
}

static int kernel_buf_import_sync_file(int fd, unsigned int flags, int sync_fd)
{
	struct k_import_sync_file data = { .flags = flags, .fd = sync_fd };

	return kioctl(fd, K_IMPORT_SYNC_FILE, &data);
}

static int kernel_buf_map_info(int fd, uint64_t *map_info)
{
	struct k_buf_info data = { .param = K_BUF_INFO_MAP_INFO };
	int ret = kioctl(fd, K_BUF_INFO, &data);

	if (ret == 0)
		*map_info = data.value;
	return ret;
}

static int kernel_buf_wait(int fd, short events, int64_t timeout_ns)
{
	return dmabuf_fd_poll(fd, events, timeout_ns);
}

/* A dma-buf's file is named "/dmabuf:<name>" in the kernel's pseudo file system. */
static bool is_dma_buf(int fd)
{
	char path[32], link[16];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link));
	return n >= 8 && !memcmp(link, "/dmabuf:", 8);
}

static int kernel_buf_mmap(int fd, void *addr, size_t len, int prot, int flags, uint64_t offset,
			   void **map)
{
	bool check = dmabuf_check_on() && is_dma_buf(fd);
	struct stat st;
	void *p;

	/* only the checker needs to know where the kernel's dma-bufs are mapped */
	if (check && fstat(fd, &st))
		check = false;
	if (check)
		dmabuf_check_prepare(fd, &st);
	p = mmap(addr, len, prot, flags, fd, (off_t)offset);
	if (p == MAP_FAILED)
		return -errno;
	*map = p;
	if (check)
		dmabuf_fd_map_record(&st, p, len, prot, flags, offset);
	return 0;
}

static int kernel_sync_merge(const char *name, int fd1, int fd2)
{
	struct k_merge data = { .fd2 = fd2, .fence = -1 };
	int ret;

	strncpy(data.name, name, sizeof(data.name) - 1);
	ret = kioctl(fd1, K_SYNC_MERGE, &data);
	return ret < 0 ? ret : data.fence;
}

static int kernel_sync_file_info(int fd, struct dmabuf_fd_sync_file_info *info)
{
	return kioctl(fd, K_SYNC_FILE_INFO, info);
}

static int kernel_sync_wait(int fd, int64_t timeout_ns)
{
	return dmabuf_fd_poll(fd, POLLIN, timeout_ns);
}

static int kernel_sync_set_deadline(int fd, uint64_t deadline_ns)
{
	struct k_set_deadline data = { .deadline_ns = deadline_ns };

	return kioctl(fd, K_SYNC_SET_DEADLINE, &data);
}

/* The driver lives in debugfs; some kernels also offer /dev/sw_sync. */
static int kernel_sw_timeline_create(unsigned int fd_flags)
{
	int fd = kopen("/sys/kernel/debug/sync/sw_sync", O_RDWR | (int)fd_flags);
	int fd2;

	if (fd >= 0)
		return fd;
	fd2 = kopen("/dev/sw_sync", O_RDWR | (int)fd_flags);
	if (fd2 >= 0)
		return fd2;
	/* why the usual place failed, unless it simply is not there */
	return fd == -ENOENT ? fd2 : fd;
}

static int kernel_sw_fence_create(int tl, uint32_t value, const char *name)
{
	struct k_sw_create_fence data = { .value = value, .fence = -1 };
	int ret;

	strncpy(data.name, name, sizeof(data.name) - 1);
	ret = kioctl(tl, K_SW_CREATE_FENCE, &data);
	return ret < 0 ? ret : data.fence;
}

static int kernel_sw_timeline_inc(int tl, uint32_t count)
{
	return kioctl(tl, K_SW_INC, &count);
}

static int kernel_sw_get_deadline(int tl, int fence_fd, uint64_t *deadline_ns)
{
	struct k_sw_get_deadline data = { .fence_fd = fence_fd };
	int ret = kioctl(tl, K_SW_GET_DEADLINE, &data);

	if (ret == 0)
		*deadline_ns = data.deadline_ns;
	return ret;
}

/* The value of the fdinfo line @key ("size:", ...) of @text into @out (at most @cap - 1). */
static bool fdinfo_value(const char *text, const char *key, char *out, size_t cap)
{
	const char *p = text, *end;
	size_t klen = strlen(key), n;

	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, klen))
			continue;
		p += klen;
		p += strspn(p, " \t");
		end = strchrnul(p, '\n');
		n = (size_t)(end - p) < cap - 1 ? (size_t)(end - p) : cap - 1;
		memcpy(out, p, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

static int kernel_buf_desc(int fd, struct dmabuf_fd_buf_desc *d)
{
	char path[48], text[1024], size[24];
	uint64_t map_info;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -errno;
	n = read(f, text, sizeof(text) - 1);
	close(f);
	if (n < 0)
		return -EIO;
	text[n] = '\0';
	memset(d, 0, sizeof(*d));
	if (!fdinfo_value(text, "exp_name:", d->exp_name, sizeof(d->exp_name)))
		return -ENOTTY;
	if (fdinfo_value(text, "size:", size, sizeof(size)))
		d->size = strtoull(size, NULL, 10);
	d->has_name = fdinfo_value(text, "name:", d->name, sizeof(d->name));
	d->map_info = kernel_buf_map_info(fd, &map_info) ? -1 : (int)map_info;
	return 0;
}

/* The probe holds a descriptor of its own (above the ones programs use) to poll. */
static int kernel_probe_init(int fd, const struct stat *st, struct dmabuf_fd_probe *p)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 512);

	if (d < 0)
		return -errno;
	p->words[0] = (uint64_t)d;
	return 0;
}

static int kernel_probe(const struct dmabuf_fd_probe *p, bool write)
{
	struct pollfd pfd = { .fd = (int)p->words[0], .events = write ? POLLOUT : POLLIN };
	int n = poll(&pfd, 1, 0);

	if (n < 0 || (pfd.revents & (POLLERR | POLLNVAL)))
		return -EIO;
	return n == 0;
}

static void kernel_probe_fini(struct dmabuf_fd_probe *p)
{
	close((int)p->words[0]);
}

const struct dmabuf_fd_ops dmabuf_fd_kernel_ops = {
	.name = "kernel",
	.heap_alloc = kernel_heap_alloc,
	.heap_open = kernel_heap_open,
	.heap_alloc_fd = kernel_heap_alloc_fd,
	.udmabuf_create = kernel_udmabuf_create,
	.udmabuf_create_list = kernel_udmabuf_create_list,
	.buf_sync = kernel_buf_sync,
	.buf_set_name = kernel_buf_set_name,
	.buf_export_sync_file = kernel_buf_export_sync_file,
	.buf_import_sync_file = kernel_buf_import_sync_file,
	.buf_map_info = kernel_buf_map_info,
	.buf_wait = kernel_buf_wait,
	.buf_mmap = kernel_buf_mmap,
	.sync_merge = kernel_sync_merge,
	.sync_file_info = kernel_sync_file_info,
	.sync_wait = kernel_sync_wait,
	.sync_set_deadline = kernel_sync_set_deadline,
	.sw_timeline_create = kernel_sw_timeline_create,
	.sw_fence_create = kernel_sw_fence_create,
	.sw_timeline_inc = kernel_sw_timeline_inc,
	.sw_get_deadline = kernel_sw_get_deadline,
	.buf_desc = kernel_buf_desc,
	.probe_init = kernel_probe_init,
	.probe = kernel_probe,
	.probe_fini = kernel_probe_fini,
};

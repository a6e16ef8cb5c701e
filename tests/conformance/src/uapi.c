// SPDX-License-Identifier: MIT
/* uapi.c - small wrappers over the dma-buf uAPI used by many conformance cases. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conform.h"

void xclose(int fd)
{
	if (fd >= 0)
		close(fd);
}

int closed_fd(void)
{
	int fd;

	/* far above what the suite ever has open, so nothing reuses it meanwhile */
	for (fd = 900; fcntl(fd, F_GETFD) >= 0; fd++)
		;
	return fd;
}

int heap_dev(void)
{
	static int fd = -2;

	if (fd == -2)
		fd = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	return fd;
}

int udmabuf_dev(void)
{
	static int fd = -2;

	if (fd == -2)
		fd = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	return fd;
}

int heap_buf(size_t len, unsigned int fd_flags)
{
	struct dma_heap_allocation_data a = { .len = len, .fd_flags = fd_flags };

	if (heap_dev() < 0)
		return -ENODEV;
	if (ioctl(heap_dev(), DMA_HEAP_IOCTL_ALLOC, &a) < 0)
		return -errno;
	return (int)a.fd;
}

int sealed_memfd(size_t size)
{
	int fd = memfd_create("conform", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	int e;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int udmabuf_buf(size_t size, int *memfd)
{
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = size };
	int mfd = sealed_memfd(size);
	int fd, e;

	if (mfd < 0)
		return mfd;
	if (udmabuf_dev() < 0) {
		close(mfd);
		return -ENODEV;
	}
	c.memfd = (__u32)mfd;
	fd = ioctl(udmabuf_dev(), UDMABUF_CREATE, &c);
	e = errno;
	if (memfd && fd >= 0)
		*memfd = mfd;
	else
		close(mfd);
	return fd < 0 ? -e : fd;
}

static int make_heap(size_t size)
{
	return heap_buf(size, O_RDWR | O_CLOEXEC);
}

static int make_udmabuf(size_t size)
{
	return udmabuf_buf(size, NULL);
}

const struct exporter exporters[] = {
	{ "heap", make_heap },
	{ "udmabuf", make_udmabuf },
};

const unsigned int n_exporters = sizeof(exporters) / sizeof(exporters[0]);

/* ---- sw_sync ---- */

int tl_open(void)
{
	int fd = open("/sys/kernel/debug/sync/sw_sync", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fd = open("/dev/sw_sync", O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int tl_fence(int tl, unsigned int value)
{
	struct conform_sw_sync_create_fence d = { .value = value, .fence = -1 };

	snprintf(d.name, sizeof(d.name), "pt%u", value);
	if (ioctl(tl, CONFORM_SW_SYNC_CREATE_FENCE, &d) < 0)
		return -errno;
	return d.fence;
}

int tl_inc(int tl, unsigned int n)
{
	__u32 v = n;

	return ioctl(tl, CONFORM_SW_SYNC_INC, &v) < 0 ? -errno : 0;
}

int pending_fence(int *tl)
{
	int t = tl_open(), f;

	if (t < 0)
		return t;
	f = tl_fence(t, 1);
	if (f < 0) {
		close(t);
		return f;
	}
	*tl = t;
	return f;
}

static void cpu_sync(int buf, unsigned long long flags)
{
	struct dma_buf_sync s = { .flags = flags };

	ioctl(buf, DMA_BUF_IOCTL_SYNC, &s);
}

void cpu_begin(int buf, unsigned int dir)
{
	cpu_sync(buf, DMA_BUF_SYNC_START | dir);
}

void cpu_end(int buf, unsigned int dir)
{
	cpu_sync(buf, DMA_BUF_SYNC_END | dir);
}

int import_fence(int buf, int sync_fd, unsigned int flags)
{
	struct dma_buf_import_sync_file i = { .flags = flags, .fd = sync_fd };

	return ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &i) < 0 ? -errno : 0;
}

int export_fence(int buf, unsigned int flags)
{
	struct dma_buf_export_sync_file e = { .flags = flags, .fd = -1 };

	if (ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e) < 0)
		return -errno;
	return e.fd;
}

void enotty_cases(const char *prefix, int fd, const struct ioctl_req *v, size_t n)
{
	unsigned char arg[256];
	size_t i;

	for (i = 0; i < n; i++) {
		memset(arg, 0, sizeof(arg));
		case_begin("%s.%s", prefix, v[i].name);
		out("%s", res(ioctl(fd, v[i].req, arg)));
		expect("ENOTTY");
		case_end();
	}
}

/* ---- sync_file info, normalized ---- */

static const char *my_comm(void)
{
	static char comm[32];
	ssize_t n;
	int fd;

	if (comm[0])
		return comm;
	fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, comm, sizeof(comm) - 1) : -1;
	xclose(fd);
	if (n <= 0)
		n = 0;
	comm[n] = 0;
	if (n && comm[n - 1] == '\n')
		comm[n - 1] = 0;
	return comm;
}

/* timeline names are the process name: print "<comm>" so the binary's name does not matter */
static void put_obj(char *dst, size_t len, const char *obj)
{
	if (obj[0] && !strcmp(obj, my_comm()))
		snprintf(dst, len, "<comm>");
	else
		snprintf(dst, len, "%s", obj);
}

/*
 * An unnamed sync_file is called "<driver>-<timeline><context>-<seqno>" after its fence (a
 * dma_fence_array for several).  Context numbers are global allocation order: show them as #1,
 * #2 (order of first appearance in the case), except the reserved context 0 of the stub fence.
 * The timeline part may be the process name: shown as <comm>.
 */
static void put_name(char *dst, size_t len, const char *name)
{
	const char *dash = strrchr(name, '-'), *p, *comm = my_comm();
	unsigned long long ctx;
	char prefix[64];
	size_t plen, clen = strlen(comm);

	if (!dash || !dash[1] || strspn(dash + 1, "0123456789") != strlen(dash + 1))
		goto literal;
	for (p = dash; p > name && p[-1] >= '0' && p[-1] <= '9'; p--)
		;
	if (p == dash || p == name)
		goto literal;
	plen = (size_t)(p - name);
	if (plen >= sizeof(prefix))
		goto literal;
	memcpy(prefix, name, plen);
	prefix[plen] = 0;
	if (clen && plen >= clen && !strcmp(prefix + plen - clen, comm))
		snprintf(prefix + plen - clen, sizeof(prefix) - (plen - clen), "<comm>");
	ctx = strtoull(p, NULL, 10);
	if (ctx == 0)
		snprintf(dst, len, "'%s0%s'", prefix, dash);
	else
		snprintf(dst, len, "'%s#%u%s'", prefix, ctx_label(ctx), dash);
	return;
literal:
	snprintf(dst, len, "'%s'", name);
}

void out_info(const char *label, int fd)
{
	struct sync_file_info info;
	struct sync_fence_info *fi;
	char item[2048], name[96], obj[40];
	size_t used = 0;
	__u32 n, i;
	int r;

	memset(&info, 0, sizeof(info));
	if (ioctl(fd, SYNC_IOC_FILE_INFO, &info) < 0) {
		out("%s=%s", label, errname(errno));
		return;
	}
	n = info.num_fences;
	fi = calloc(n ? n : 1, sizeof(*fi));
	memset(&info, 0, sizeof(info));
	info.num_fences = n;
	info.sync_fence_info = (uintptr_t)fi;
	r = ioctl(fd, SYNC_IOC_FILE_INFO, &info);
	if (r < 0) {
		out("%s=full:%s", label, errname(errno));
		free(fi);
		return;
	}
	put_name(name, sizeof(name), info.name);
	used += (size_t)snprintf(item + used, sizeof(item) - used, "%s{n=%u st=%d name=%s", label,
				 info.num_fences, info.status, name);
	for (i = 0; i < info.num_fences && i < n && used < sizeof(item); i++) {
		put_obj(obj, sizeof(obj), fi[i].obj_name);
		used += (size_t)snprintf(item + used, sizeof(item) - used,
					 " [%s/%s st=%d fl=%u ts=%d]", fi[i].driver_name, obj,
					 fi[i].status, fi[i].flags, fi[i].timestamp_ns != 0);
	}
	if (used < sizeof(item))
		snprintf(item + used, sizeof(item) - used, "}");
	out("%s", item);
	free(fi);
}

void out_info_short(const char *label, int fd)
{
	struct sync_file_info info;

	memset(&info, 0, sizeof(info));
	if (ioctl(fd, SYNC_IOC_FILE_INFO, &info) < 0) {
		out("%s=%s", label, errname(errno));
		return;
	}
	out("%s{n=%u st=%d}", label, info.num_fences, info.status);
}

const char *poll_str(int fd, short events)
{
	static const struct {
		short bit;
		const char *name;
	} bits[] = {
		{ POLLIN, "|IN" },
		{ POLLPRI, "|PRI" },
		{ POLLOUT, "|OUT" },
		{ POLLERR, "|ERR" },
		{ POLLHUP, "|HUP" },
		{ POLLNVAL, "|NVAL" },
	};
	static char ring[8][64];
	static unsigned int pos;
	struct pollfd p = { .fd = fd, .events = events };
	char *s = ring[pos++ % 8];
	int r = poll(&p, 1, 0);
	short known = 0;
	size_t i;

	if (r < 0)
		return errname(errno);
	s[0] = 0;
	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		if (p.revents & bits[i].bit)
			strcat(s, bits[i].name);
		known |= bits[i].bit;
	}
	if (p.revents & ~known)
		sprintf(s + strlen(s), "|0x%x", p.revents);
	if (!s[0])
		return "0";
	return s + 1;
}

static char fdinfo_buf[4096];

static int read_fdinfo(int fd)
{
	char path[64];
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -errno;
	n = read(f, fdinfo_buf, sizeof(fdinfo_buf) - 1);
	close(f);
	if (n < 0)
		return -EIO;
	fdinfo_buf[n] = 0;
	return 0;
}

const char *fdinfo_field(int fd, const char *key)
{
	/* a ring, so that several fields can be arguments of one printf */
	static char ring[8][256];
	static unsigned int pos;
	char *value = ring[pos++ % 8];
	size_t klen = strlen(key);
	char *line;

	if (read_fdinfo(fd) < 0)
		return NULL;
	for (line = fdinfo_buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : 0) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			const char *v = line + klen + 1;
			size_t n = 0;

			while (*v == '\t' || *v == ' ')
				v++;
			while (v[n] && v[n] != '\n' && n < sizeof(ring[0]) - 1)
				n++;
			memcpy(value, v, n);
			value[n] = 0;
			return value;
		}
	}
	return NULL;
}

void out_fdinfo(int fd)
{
	static const char *const keys[] = { "size", "count", "exp_name", "name" };
	unsigned int i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = fdinfo_field(fd, keys[i]);

		if (v)
			out("%s='%s'", keys[i], v);
		else
			out("%s=none", keys[i]);
	}
}

const char *file_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFCHR: return "chr";
	case S_IFDIR: return "dir";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	case S_IFLNK: return "lnk";
	case S_IFBLK: return "blk";
	case 0: return "none";
	default: return "other";
	}
}

void out_fstat(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		out("%s", errname(errno));
	else
		out("type=%s perm=%03o size=%lld", file_type(st.st_mode), st.st_mode & 0777,
		    (long long)st.st_size);
}

const char *fd_mode(int fd)
{
	static char ring[4][32];
	static unsigned int pos;
	char *s = ring[pos++ % 4];
	int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);
	static const char *const acc[] = { "ro", "wo", "rw", "acc3" };

	if (fl < 0 || fdf < 0)
		return errname(errno);
	snprintf(s, 32, "%s%s%s", acc[fl & O_ACCMODE], fdf & FD_CLOEXEC ? "/cloexec" : "",
		 fl & O_NONBLOCK ? "/nonblock" : "");
	return s;
}

// SPDX-License-Identifier: MIT
/*
 * buffer_source.c - a client that allocates a dma-buf from each heap it is given and hands
 * them to vmm_map_info over a Unix socket (SCM_RIGHTS), frame after frame.
 *
 * It plays a producer on the host (a camera, a decoder, a compositor): it fills each buffer
 * through its own mapping, inside DMA_BUF_IOCTL_SYNC brackets as every CPU user of a dma-buf
 * must, and checks, again inside brackets, that what the guest wrote back reached it.
 *
 * Usage: buffer_source [--connect PATH] [--frames N] [HEAP...]
 * Default heaps: system system-uncached incoherent; a heap /dev/dma_heap lacks is skipped.
 * Without --connect the socket is the descriptor named by $VMM_SOCKET (vmm_map_info -- ...).
 *
 * Only libc and the kernel's uAPI headers: the program runs as it is on Linux, and under
 * dmabuf-run on libdmabuf.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#include "vmm_proto.h"

#define BUF_SIZE	(64 * 1024)
#define DEFAULT_FRAMES	3

static const char *const default_heaps[] = { "system", "system-uncached", "incoherent" };

static int cpu_access(int buf, __u64 flags)
{
	struct dma_buf_sync s = { .flags = flags };
	int r;

	while ((r = ioctl(buf, DMA_BUF_IOCTL_SYNC, &s)) < 0 && (errno == EINTR || errno == EAGAIN))
		;
	return r;
}

/* Write frame @frame into the buffer, as a producer does: inside a WRITE bracket. */
static int write_frame(int buf, uint32_t *map, size_t size, uint32_t seed, uint32_t frame)
{
	size_t i;

	if (cpu_access(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE))
		return -1;
	for (i = 0; i < size / 4; i++)
		map[i] = vmm_word(seed, frame, 0, i);
	return cpu_access(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
}

/* Does the buffer hold the guest's answer to frame @frame?  Read inside a READ bracket. */
static int answer_arrived(int buf, const uint32_t *map, size_t size, uint32_t seed,
			  uint32_t frame)
{
	size_t i, bad = 0;

	if (cpu_access(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ))
		return 0;
	for (i = 0; i < size / 4; i++)
		bad += map[i] != vmm_word(seed, frame, 1, i);
	if (cpu_access(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ))
		return 0;
	return bad == 0;
}

/* A dma-buf of @size bytes from /dev/dma_heap/@heap; -ENOENT when there is no such heap. */
static int heap_alloc(const char *heap, size_t size)
{
	struct dma_heap_allocation_data a = { .len = size, .fd_flags = O_RDWR | O_CLOEXEC };
	char path[64 + VMM_HEAP_NAME_MAX];
	int dev, ret;

	snprintf(path, sizeof(path), "/dev/dma_heap/%s", heap);
	dev = open(path, O_RDONLY | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	ret = ioctl(dev, DMA_HEAP_IOCTL_ALLOC, &a) < 0 ? -errno : (int)a.fd;
	close(dev);
	return ret;
}

/* Wait for message @type about frame @frame. */
static int expect(int sock, uint32_t type, uint32_t frame)
{
	struct vmm_msg m;
	int fd, ret = vmm_recv(sock, &m, &fd);

	if (fd >= 0)
		close(fd);
	if (ret <= 0)
		return ret ? ret : -EPIPE;
	return m.type == type && m.frame == frame ? 0 : -EPROTO;
}

/* One buffer through its frames.  0, or -1 after saying what went wrong. */
static int serve_heap(int sock, const char *heap, uint32_t frames)
{
	struct vmm_msg m = { .type = VMM_MSG_BUFFER, .frames = frames, .size = BUF_SIZE };
	uint32_t seed = vmm_seed(heap), f = 0, *map;
	char name[64];
	int buf, ret = -1;

	buf = heap_alloc(heap, BUF_SIZE);
	if (buf == -ENOENT) {
		fprintf(stderr, "buffer_source: no heap /dev/dma_heap/%s, skipped\n", heap);
		return 0;
	}
	if (buf < 0) {
		fprintf(stderr, "buffer_source: %s: DMA_HEAP_IOCTL_ALLOC: %s\n", heap,
			strerror(-buf));
		return -1;
	}
	/* the name shows in fdinfo and in coherency-checker reports */
	snprintf(name, sizeof(name), "frames-%s", heap);
	ioctl(buf, DMA_BUF_SET_NAME, name);
	map = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	if (map == MAP_FAILED) {
		fprintf(stderr, "buffer_source: %s: mmap: %s\n", heap, strerror(errno));
		close(buf);
		return -1;
	}
	snprintf(m.heap, sizeof(m.heap), "%s", heap);
	if (write_frame(buf, map, BUF_SIZE, seed, 0) || vmm_send(sock, &m, buf))
		goto out;
	for (f = 0; f < frames; f++) {
		struct vmm_msg v = { .type = VMM_MSG_VERDICT, .frame = f };

		if (expect(sock, VMM_MSG_DONE, f))
			goto out;
		v.ok = answer_arrived(buf, map, BUF_SIZE, seed, f);
		if (vmm_send(sock, &v, -1))
			goto out;
		if (f + 1 == frames)
			break;
		m = (struct vmm_msg){ .type = VMM_MSG_FRAME, .frame = f + 1 };
		if (write_frame(buf, map, BUF_SIZE, seed, f + 1) || vmm_send(sock, &m, -1))
			goto out;
	}
	ret = 0;
out:
	if (ret)
		fprintf(stderr, "buffer_source: %s: the exchange failed at frame %u\n", heap, f);
	munmap(map, BUF_SIZE);
	close(buf);
	return ret;
}

static int connect_to(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int sock;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "buffer_source: socket path too long\n");
		return -1;
	}
	strcpy(addr.sun_path, path);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock >= 0 && connect(sock, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		return sock;
	fprintf(stderr, "buffer_source: connect %s: %s\n", path, strerror(errno));
	if (sock >= 0)
		close(sock);
	return -1;
}

/* The descriptor $VMM_SOCKET names, when it is a socket. */
static int inherited_socket(void)
{
	const char *s = getenv(VMM_SOCKET_ENV);
	char *end;
	long fd;
	int type;
	socklen_t len = sizeof(type);

	if (!s || !*s) {
		fprintf(stderr, "buffer_source: no --connect PATH and no $%s\n", VMM_SOCKET_ENV);
		return -1;
	}
	fd = strtol(s, &end, 10);
	if (*end || fd < 0 || fd > INT32_MAX ||
	    getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
		fprintf(stderr, "buffer_source: $%s=%s is not a socket\n", VMM_SOCKET_ENV, s);
		return -1;
	}
	fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	return (int)fd;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: buffer_source [--connect PATH] [--frames N] [HEAP...]\n"
		"Allocate a buffer from each heap (default: system system-uncached incoherent)\n"
		"and hand it to vmm_map_info; without --connect, the socket is $%s.\n",
		VMM_SOCKET_ENV);
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	long frames = DEFAULT_FRAMES;
	int i = 1, sock, ret = 0;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--connect") && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "--frames") && i + 1 < argc) {
			frames = strtol(argv[++i], NULL, 10);
			if (frames < 1 || frames > 1000) {
				usage(stderr);
				return 2;
			}
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else {
			usage(stderr);
			return 2;
		}
	}
	sock = path ? connect_to(path) : inherited_socket();
	if (sock < 0)
		return 1;
	if (i == argc) {
		for (size_t h = 0; h < sizeof(default_heaps) / sizeof(*default_heaps); h++)
			ret |= serve_heap(sock, default_heaps[h], (uint32_t)frames);
	} else {
		for (; i < argc; i++) {
			if (strlen(argv[i]) >= VMM_HEAP_NAME_MAX || strchr(argv[i], '/')) {
				fprintf(stderr, "buffer_source: bad heap name '%s'\n", argv[i]);
				ret = -1;
				continue;
			}
			ret |= serve_heap(sock, argv[i], (uint32_t)frames);
		}
	}
	close(sock);
	return ret ? 1 : 0;
}

// SPDX-License-Identifier: MIT
/* heap_mmap_loop.c - a camera-style capture loop on dma-heap and udmabuf buffers, raw uAPI. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>

#include "app_tap.h"

#define WIDTH 320
#define HEIGHT 240
#define FRAME_SIZE (WIDTH * HEIGHT * 4) /* 75 pages */
#define NBUF 4
#define FRAMES 16

static int cpu_access(int buf, __u64 flags)
{
	struct dma_buf_sync s = { .flags = flags };
	int r;

	while ((r = ioctl(buf, DMA_BUF_IOCTL_SYNC, &s)) < 0 && (errno == EINTR || errno == EAGAIN))
		;
	return r;
}

static uint32_t pixel(int frame, size_t i)
{
	return (uint32_t)(frame * 0x9e3779b9u) ^ (uint32_t)(i * 2654435761u);
}

/* number of words of @map that do not hold frame @frame's pattern */
static size_t bad_pixels(const uint32_t *map, int frame)
{
	size_t i, bad = 0;

	for (i = 0; i < FRAME_SIZE / 4; i++)
		bad += map[i] != pixel(frame, i);
	return bad;
}

static int all_zero(const uint32_t *map)
{
	uint32_t acc = 0;
	size_t i;

	for (i = 0; i < FRAME_SIZE / 4; i++)
		acc |= map[i];
	return !acc;
}

static uint32_t checksum(const uint32_t *map)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < FRAME_SIZE / 4; i++)
		h = (h ^ map[i]) * 16777619u;
	return h;
}

/* the value of "@key:" in an fdinfo file, read with plain read(); "" when absent */
static const char *fdinfo(const char *path, const char *key)
{
	static char text[1024], val[64];
	size_t klen = strlen(key);
	ssize_t n;
	char *line;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	val[0] = 0;
	n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return val;
	text[n] = 0;
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			sscanf(line + klen + 1, " %63s", val);
	return val;
}

static const char *my_fdinfo(int fd, const char *key)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return fdinfo(path, key);
}

static int list_heaps(void)
{
	DIR *d = opendir("/dev/dma_heap");
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		found |= !strcmp(e->d_name, "system");
	closedir(d);
	return found;
}

/* the child: map the buffer it is handed, check the frame, answer with a checksum */
static void child(int sock)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	char path[64], name[32];
	uint32_t reply[3], *map;
	int frame, fd;
	struct iovec iov = { &frame, sizeof(frame) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };

	if (recvmsg(sock, &msg, 0) != sizeof(frame) || !CMSG_FIRSTHDR(&msg))
		_exit(2);
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(fd));
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)getpid(), fd);
	snprintf(name, sizeof(name), "cam%d", frame % NBUF);
	map = mmap(NULL, FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || cpu_access(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ))
		_exit(3);
	reply[0] = bad_pixels(map, frame);
	reply[1] = checksum(map);
	reply[2] = !strcmp(fdinfo(path, "name"), name) &&
		   !strcmp(fdinfo(path, "exp_name"), "system");
	cpu_access(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	/* stamp the checksum into the frame's last pixel */
	cpu_access(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	map[FRAME_SIZE / 4 - 1] = reply[1];
	cpu_access(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	munmap(map, FRAME_SIZE);
	close(fd);
	_exit(write(sock, reply, sizeof(reply)) == sizeof(reply) ? 0 : 4);
}

static void share_with_child(int buf, uint32_t *map, int frame)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm = { { 0 } };
	struct iovec iov = { &frame, sizeof(frame) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	uint32_t reply[3] = { 1, 0, 0 }, sum;
	int sv[2], status = -1;
	pid_t pid;

	cpu_access(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	sum = checksum(map);
	cpu_access(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &buf, sizeof(buf));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		child(sv[1]);
	}
	close(sv[1]);
	if (!check(sendmsg(sv[0], &msg, 0) == sizeof(frame), "buffer sent over SCM_RIGHTS"))
		shutdown(sv[0], SHUT_WR); /* the child sees EOF and leaves */
	check(read(sv[0], reply, sizeof(reply)) == sizeof(reply) && reply[0] == 0,
	      "child mapped it and sees frame %d intact", frame);
	check(reply[1] == sum, "child's checksum matches (%08x)", sum);
	check(reply[2] == 1, "child's /proc/<pid>/fdinfo shows name and exporter");
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	check(WIFEXITED(status) && !WEXITSTATUS(status), "child exited 0 (status %#x)", status);
	cpu_access(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	check(map[FRAME_SIZE / 4 - 1] == sum, "the child's write is visible here");
	cpu_access(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	close(sv[0]);
}

static void udmabuf_frames(void)
{
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = FRAME_SIZE };
	static const char msg[] = "written through the memfd", back[] = "and through the dma-buf";
	int memfd = memfd_create("video-frames", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC), buf;
	char got[sizeof(back)] = "";
	char *map;

	check(memfd >= 0 && dev >= 0 && !ftruncate(memfd, FRAME_SIZE) &&
	      !fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK), "sealed memfd and /dev/udmabuf");
	c.memfd = memfd;
	buf = ioctl(dev, UDMABUF_CREATE, &c);
	check(buf >= 0 && (fcntl(buf, F_GETFD) & FD_CLOEXEC), "UDMABUF_CREATE gives a dma-buf");
	map = mmap(NULL, FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	check(map != MAP_FAILED, "udmabuf mapped");
	if (map == MAP_FAILED)
		return;
	check(pwrite(memfd, msg, sizeof(msg), 8192) == sizeof(msg), "pwrite into the memfd");
	cpu_access(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	check(!memcmp(map + 8192, msg, sizeof(msg)), "memfd writes show in the dma-buf mapping");
	cpu_access(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	cpu_access(buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	memcpy(map + FRAME_SIZE - sizeof(back), back, sizeof(back));
	cpu_access(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	check(pread(memfd, got, sizeof(got), FRAME_SIZE - sizeof(back)) == sizeof(got) &&
	      !memcmp(got, back, sizeof(back)), "dma-buf writes show in the memfd");
	check(ioctl(buf, DMA_BUF_SET_NAME, "udmabuf-frames") == 0, "udmabuf named");
	check(atoi(my_fdinfo(buf, "size")) == FRAME_SIZE &&
	      !strcmp(my_fdinfo(buf, "exp_name"), "udmabuf") &&
	      !strcmp(my_fdinfo(buf, "name"), "udmabuf-frames"), "udmabuf fdinfo");
	check(!munmap(map, FRAME_SIZE) && !close(buf) && !close(memfd) && !close(dev),
	      "udmabuf unmapped and closed");
}

int main(void)
{
	int heap, buf[NBUF], i, f, ok, bad;
	uint32_t *map[NBUF];
	char name[32];

	check(list_heaps(), "/dev/dma_heap lists the system heap");
	heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	if (heap < 0) {
		printf("Bail out! cannot open the system heap\n");
		return 1;
	}
	for (i = 0, ok = 1; i < NBUF; i++) {
		struct dma_heap_allocation_data a = { .len = FRAME_SIZE,
						      .fd_flags = O_RDWR | O_CLOEXEC };

		buf[i] = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &a) < 0 ? -1 : (int)a.fd;
		ok &= buf[i] >= 0 && (fcntl(buf[i], F_GETFL) & O_ACCMODE) == O_RDWR &&
		      (fcntl(buf[i], F_GETFD) & FD_CLOEXEC);
		ok &= buf[i] >= 0 && lseek(buf[i], 0, SEEK_END) == FRAME_SIZE &&
		      lseek(buf[i], 0, SEEK_SET) == 0;
		map[i] = mmap(NULL, FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, buf[i], 0);
		ok &= map[i] != MAP_FAILED &&
		       !cpu_access(buf[i], DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ) &&
		       all_zero(map[i]) &&
		       !cpu_access(buf[i], DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	}
	check(ok, "%d buffers: O_RDWR|O_CLOEXEC, size by lseek, mapped, zero-filled", NBUF);
	if (!ok)
		return 1;
	check(atoi(my_fdinfo(buf[0], "size")) == FRAME_SIZE &&
	      !strcmp(my_fdinfo(buf[0], "exp_name"), "system") && !*my_fdinfo(buf[0], "name"),
	      "fdinfo: size, exp_name system, no name yet");
	for (i = 0, ok = 1; i < NBUF; i++) {
		snprintf(name, sizeof(name), "cam%d", i);
		ok &= ioctl(buf[i], DMA_BUF_SET_NAME, name) == 0 &&
		      !strcmp(my_fdinfo(buf[i], "name"), name);
	}
	check(ok, "DMA_BUF_SET_NAME shows in fdinfo");

	for (f = 0, ok = 1, bad = 0; f < FRAMES; f++) {
		uint32_t *m = map[f % NBUF];
		size_t p;

		ok &= !cpu_access(buf[f % NBUF], DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
		for (p = 0; p < FRAME_SIZE / 4; p++)
			m[p] = pixel(f, p);
		ok &= !cpu_access(buf[f % NBUF], DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
		ok &= !cpu_access(buf[f % NBUF], DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
		bad += bad_pixels(m, f);
		ok &= !cpu_access(buf[f % NBUF], DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	}
	check(ok && !bad, "%d frames through SYNC brackets (%d bad pixels)", FRAMES, bad);

	share_with_child(buf[(FRAMES - 1) % NBUF], map[(FRAMES - 1) % NBUF], FRAMES - 1);
	udmabuf_frames();

	for (i = 0, ok = 1; i < NBUF; i++)
		ok &= !munmap(map[i], FRAME_SIZE) && !close(buf[i]);
	check(ok && !close(heap), "heap buffers unmapped and closed");
	return tap_done();
}

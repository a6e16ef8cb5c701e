/* SPDX-License-Identifier: MIT */
/*
 * corpus.h - the helpers the coherency corpus's programs share, as a user's project would have
 * them: a buffer from a dma-heap, SYNC brackets, a frame pattern, and "device" and "reader"
 * processes that talk to the program through pipes.
 *
 * Libc and the kernel's uAPI headers only (no libdmabuf).  Each program allocates one buffer of
 * BUF_SIZE bytes from /dev/dma_heap/$CORPUS_HEAP ("incoherent" when unset), whose frame is
 * DATA_WORDS 32-bit words from byte DATA_OFF on, and prints on stdout what its last reader saw:
 * "data: fresh" (the frame written last), "data: stale" (the frame before it) or "data: mixed".
 * Exit status 0 when the program ran (whatever the data), 2 when a call failed, 1 when a
 * helper process failed; a helper killed by a signal kills the program with the same signal.
 */
#ifndef CORPUS_H
#define CORPUS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#define BUF_SIZE	(4 * 4096)
#define DATA_OFF	4160	/* the frame starts 64 bytes into the second page */
#define DATA_WORDS	2048

#define SYNC_START_READ		(DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ)
#define SYNC_START_WRITE	(DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE)
#define SYNC_START_RW		(DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW)
#define SYNC_END_READ		(DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ)
#define SYNC_END_WRITE		(DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE)
#define SYNC_END_RW		(DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW)

static inline void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "error: %s: %s\n", what, strerror(errno));
	exit(2);
}

/*
 * A fresh buffer of BUF_SIZE bytes from the heap named by $CORPUS_HEAP, named @name.  Prints
 * the program's pid first (reports name the process they come from).
 */
static inline int buf_alloc(const char *name)
{
	struct dma_heap_allocation_data a = { .len = BUF_SIZE, .fd_flags = O_RDWR | O_CLOEXEC };
	const char *heap = getenv("CORPUS_HEAP");
	char path[128];
	int fd;

	printf("pid: %d\n", (int)getpid());
	snprintf(path, sizeof(path), "/dev/dma_heap/%s", heap && heap[0] ? heap : "incoherent");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	if (ioctl(fd, DMA_HEAP_IOCTL_ALLOC, &a) < 0)
		die("DMA_HEAP_IOCTL_ALLOC");
	close(fd);
	if (ioctl((int)a.fd, DMA_BUF_SET_NAME, name) < 0)
		die("DMA_BUF_SET_NAME");
	return (int)a.fd;
}

static inline uint32_t *buf_map(int buf)
{
	void *p = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static inline void buf_unmap(uint32_t *map)
{
	if (munmap(map, BUF_SIZE))
		die("munmap");
}

/* DMA_BUF_IOCTL_SYNC, retried as the kernel asks on EINTR and EAGAIN. */
static inline void buf_sync(int buf, __u64 flags)
{
	struct dma_buf_sync s = { .flags = flags };
	int r;

	while ((r = ioctl(buf, DMA_BUF_IOCTL_SYNC, &s)) < 0 && (errno == EINTR || errno == EAGAIN))
		;
	if (r < 0)
		die("DMA_BUF_IOCTL_SYNC");
}

/* Word @i of frame number @gen (frame 0 is the zeroes of a fresh buffer). */
static inline uint32_t pixel(int gen, uint32_t i)
{
	return gen ? (uint32_t)gen << 24 | i : 0;
}

static inline uint32_t *frame_of(uint32_t *map)
{
	return map + DATA_OFF / 4;
}

/* Write frame @gen into the mapping, from its first word on. */
static inline void frame_fill(uint32_t *map, int gen)
{
	uint32_t *f = frame_of(map), i;

	for (i = 0; i < DATA_WORDS; i++)
		f[i] = pixel(gen, i);
}

/* What the mapping holds: 'F' frame @gen, 'S' frame @gen - 1, else 'M'. */
static inline char frame_check(uint32_t *map, int gen)
{
	const uint32_t *f = frame_of(map);
	uint32_t i, fresh = 0, stale = 0;

	for (i = 0; i < DATA_WORDS; i++) {
		fresh += f[i] == pixel(gen, i);
		stale += f[i] == pixel(gen - 1, i);
	}
	return fresh == DATA_WORDS ? 'F' : stale == DATA_WORDS ? 'S' : 'M';
}

static inline void print_verdict(char v)
{
	printf("data: %s\n", v == 'F' ? "fresh" : v == 'S' ? "stale" : "mixed");
	fflush(stdout);
}

/* ---- processes: a helper runs @fn and exits; the program talks to it through pipes ---- */

struct helper {
	pid_t pid;
	int to;		/* the program writes here, the helper reads */
	int from;	/* the helper writes here, the program reads */
};

static inline void send_byte(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		die("write to a pipe");
}

/* A byte from the pipe @fd; -1 at end of file. */
static inline int recv_byte(int fd)
{
	ssize_t n;
	char c;

	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n < 0)
		die("read from a pipe");
	return n ? c : -1;
}

/*
 * Fork a helper that runs @fn(@buf, @arg, input, output) and exits 0.  The helper inherits
 * every descriptor and mapping the program has at this point.
 */
static inline void helper_start(struct helper *h, void (*fn)(int, int, int, int), int buf,
				int arg)
{
	int down[2], up[2];

	if (pipe2(down, O_CLOEXEC) || pipe2(up, O_CLOEXEC))
		die("pipe2");
	fflush(stdout);
	h->pid = fork();
	if (h->pid < 0)
		die("fork");
	if (h->pid == 0) {
		close(down[1]);
		close(up[0]);
		fn(buf, arg, down[0], up[1]);
		exit(0);
	}
	close(down[0]);
	close(up[1]);
	h->to = down[1];
	h->from = up[0];
}

/*
 * Wait for the helper to exit.  One that failed makes the program fail (exit 1); one killed
 * by a signal kills the program with the same signal.
 */
static inline void helper_wait(struct helper *h)
{
	int st;

	while (waitpid(h->pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	close(h->to);
	close(h->from);
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "helper %d killed by signal %d\n", (int)h->pid, WTERMSIG(st));
		signal(WTERMSIG(st), SIG_DFL);
		raise(WTERMSIG(st));
		exit(128 + WTERMSIG(st));
	}
	if (WEXITSTATUS(st)) {
		fprintf(stderr, "helper %d exited %d\n", (int)h->pid, WEXITSTATUS(st));
		exit(1);
	}
}

/*
 * A device that writes frame @gen into the buffer when told to ('g'), then says so ('d').
 * It is another process with its own mapping and uses the brackets correctly: what it wrote
 * is in the buffer's memory when it answers.
 */
static inline void device_writer(int buf, int gen, int in, int out)
{
	uint32_t *map;

	if (recv_byte(in) < 0)
		exit(1);
	map = buf_map(buf);
	buf_sync(buf, SYNC_START_WRITE);
	frame_fill(map, gen);
	buf_sync(buf, SYNC_END_WRITE);
	buf_unmap(map);
	send_byte(out, 'd');
}

/*
 * A consumer that, when told to ('g'), maps the buffer, reads it inside START|READ ... END|READ
 * and answers what it saw of frame @gen ('F', 'S' or 'M').
 */
static inline void frame_reader(int buf, int gen, int in, int out)
{
	uint32_t *map;
	char v;

	if (recv_byte(in) < 0)
		exit(1);
	map = buf_map(buf);
	buf_sync(buf, SYNC_START_READ);
	v = frame_check(map, gen);
	buf_sync(buf, SYNC_END_READ);
	buf_unmap(map);
	send_byte(out, v);
}

/*
 * The helper's answer.  A helper that exits without one ends the program as helper_wait()
 * says (exit 1 when it exited 0).
 */
static inline char helper_recv(struct helper *h)
{
	int c = recv_byte(h->from);

	if (c >= 0)
		return (char)c;
	helper_wait(h);
	fprintf(stderr, "helper %d exited without answering\n", (int)h->pid);
	exit(1);
}

/* Tell helper @h to go and wait for its answer. */
static inline char helper_run(struct helper *h)
{
	send_byte(h->to, 'g');
	return helper_recv(h);
}

#endif /* CORPUS_H */

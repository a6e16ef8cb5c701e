// SPDX-License-Identifier: MIT
/*
 * vmm_map_info.c - the host side of a virtual GPU choosing how a guest maps the dma-bufs it
 * receives: from DMA_BUF_IOCTL_INFO's map_info when the kernel answers, from the exporter's
 * name, as VMMs do today, when it does not.
 *
 * It plays crosvm's or QEMU's virtio-gpu device.  A host producer (buffer_source) hands it
 * dma-bufs over a Unix socket; for each the VMM decides what the guest gets:
 *
 *   COHERENT_CACHED  the host mapping itself, mapped into the guest write-back cached
 *                    (virtio-gpu's VIRTIO_GPU_MAP_CACHE_CACHED for a host-visible blob);
 *   COHERENT_WC      the host mapping itself, mapped into the guest write-combined
 *                    (VIRTIO_GPU_MAP_CACHE_WC);
 *   INCOHERENT       not the host mapping: a guest access cannot be wrapped in
 *                    DMA_BUF_IOCTL_SYNC, so the guest gets a shadow copy in its own memory
 *                    and the VMM moves the data on each transfer (as virtio-gpu's
 *                    TRANSFER_TO_HOST / TRANSFER_FROM_HOST do for guest-backed resources),
 *                    inside SYNC brackets: copy in under START|READ .. END|READ, copy out
 *                    under START|WRITE .. END|WRITE.
 *
 * Here "the guest" is code in this process that reads and writes the guest's view of the
 * buffer (the host mapping, or the shadow) without brackets, as a guest does; a real VMM
 * would put that view into a KVM memory slot with the chosen memory type.  Every frame the
 * guest checks that it sees what the source wrote and writes an answer, and the source checks
 * that the answer reached it; one line per buffer says what was decided and how it went.
 *
 * Usage: vmm_map_info [--guess] -- COMMAND [ARG...]   start COMMAND with the socket in
 *                                                     $VMM_SOCKET
 *        vmm_map_info [--guess] --listen PATH         serve one client on PATH
 * --guess skips the query, as on a kernel without DMA_BUF_IOCTL_INFO (Linux answers ENOTTY).
 * Exit status: 0 when every frame reached the guest and every answer the source, 1 when some
 * data was stale, 2 on an error.
 *
 * Only libc and the kernel's uAPI headers: the program runs as it is on Linux (where the
 * query fails and it guesses), and under dmabuf-run on libdmabuf.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dma-buf.h>

#include "vmm_proto.h"

/*
 * DMA_BUF_IOCTL_INFO, proposed for Linux in 2022 and not merged: <linux/dma-buf.h> lacks it.
 * Same number as DMA_BUF_IOCTL_EXPORT_SYNC_FILE, another size: 0xc0106202.
 */
struct buf_info_arg {
	__u32 param;		/* BUF_INFO_MAP_INFO */
	__u32 pad;		/* 0 */
	__u64 value;		/* out: enum map_info */
};

#define BUF_IOCTL_INFO		_IOWR(DMA_BUF_BASE, 2, struct buf_info_arg)
#define BUF_INFO_MAP_INFO	1

_Static_assert(BUF_IOCTL_INFO == 0xc0106202, "DMA_BUF_IOCTL_INFO");

enum map_info {
	MAP_INCOHERENT = 0,	/* CPU access needs SYNC brackets */
	MAP_COHERENT_WC = 1,	/* coherent, write-combined */
	MAP_COHERENT_CACHED = 2,	/* coherent, cached */
};

enum guest_mapping {
	GUEST_CACHED,		/* the host mapping, write-back cached in the guest */
	GUEST_WC,		/* the host mapping, write-combined in the guest */
	GUEST_SHADOW,		/* guest memory of its own; bracketed copies on each transfer */
};

/*
 * What a VMM guesses from the exporter's name (/proc/self/fdinfo's exp_name) today, in the
 * style of crosvm's minigbm path (i915 cached, every other driver write-combined).  A name
 * says who exported the buffer, not how the memory behaves: see examples/README.md.
 */
static const struct {
	const char *exporter;
	enum map_info map_info;
} guesses[] = {
	{ "system", MAP_COHERENT_CACHED },	/* dma-heap system heap: cached pages */
	{ "system-uncached", MAP_COHERENT_WC },	/* Android's write-combined system heap */
	{ "udmabuf", MAP_COHERENT_CACHED },	/* memfd pages */
	{ "i915", MAP_COHERENT_CACHED },	/* integrated Intel GPUs snoop the CPU caches */
	{ "drm", MAP_COHERENT_WC },		/* any driver exporting with DRM's PRIME helpers */
};

/* Anything else: write-combined, the usual choice for GPU memory. */
#define GUESS_DEFAULT MAP_COHERENT_WC

struct buffer {
	char heap[VMM_HEAP_NAME_MAX];	/* the source's label */
	char exporter[64];		/* fdinfo's exp_name */
	int fd;
	size_t size;
	uint32_t seed, frames;
	uint64_t map_info;
	const char *how;		/* queried, guessed(table), guessed(default) */
	enum guest_mapping guest;
	uint32_t *host;			/* the VMM's mapping of the dma-buf */
	uint32_t *view;			/* what the guest reads and writes */
	uint32_t stale_in, stale_out;	/* frames that did not reach the guest / the source */
};

static int cpu_access(int buf, __u64 flags)
{
	struct dma_buf_sync s = { .flags = flags };
	int r;

	while ((r = ioctl(buf, DMA_BUF_IOCTL_SYNC, &s)) < 0 && (errno == EINTR || errno == EAGAIN))
		;
	return r;
}

/* The value of "@key:" in /proc/self/fdinfo/@fd into @out ("" when absent). */
static void fdinfo_value(int fd, const char *key, char *out, size_t len)
{
	char path[64], text[1024], *line, *save = NULL;
	size_t klen = strlen(key);
	ssize_t n;
	int f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return;
	n = read(f, text, sizeof(text) - 1);
	close(f);
	if (n <= 0)
		return;
	text[n] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		line += klen + 1;
		line += strspn(line, " \t");
		snprintf(out, len, "%s", line);
	}
}

/* The kernel's answer: 0, or a negative errno (-ENOTTY on a kernel without the ioctl). */
static int query_map_info(int fd, uint64_t *map_info)
{
	struct buf_info_arg arg = { .param = BUF_INFO_MAP_INFO };

	if (ioctl(fd, BUF_IOCTL_INFO, &arg) < 0)
		return -errno;
	*map_info = arg.value;
	return 0;
}

/* Today's way: look the exporter's name up.  Says where the guess came from. */
static const char *guess_map_info(const char *exporter, uint64_t *map_info)
{
	size_t i;

	for (i = 0; i < sizeof(guesses) / sizeof(*guesses); i++) {
		if (!strcmp(exporter, guesses[i].exporter)) {
			*map_info = guesses[i].map_info;
			return "guessed(table)";
		}
	}
	*map_info = GUESS_DEFAULT;
	return "guessed(default)";
}

/* Coherent memory can be handed to the guest; anything else (or unknown) cannot. */
static enum guest_mapping choose(uint64_t map_info)
{
	switch (map_info) {
	case MAP_COHERENT_CACHED:
		return GUEST_CACHED;
	case MAP_COHERENT_WC:
		return GUEST_WC;
	default:
		return GUEST_SHADOW;
	}
}

static const char *map_info_name(uint64_t map_info)
{
	switch (map_info) {
	case MAP_INCOHERENT:
		return "INCOHERENT";
	case MAP_COHERENT_WC:
		return "COHERENT_WC";
	case MAP_COHERENT_CACHED:
		return "COHERENT_CACHED";
	default:
		return "UNKNOWN";
	}
}

static const char *const guest_names[] = {
	[GUEST_CACHED] = "cached",
	[GUEST_WC] = "wc",
	[GUEST_SHADOW] = "shadow",
};

/* A buffer arrives: decide, map it, give the guest its view.  0 or a negative errno. */
static int buffer_open(struct buffer *b, const struct vmm_msg *m, int fd, bool guess)
{
	int ret;

	memset(b, 0, sizeof(*b));
	b->fd = fd;
	b->size = m->size;
	b->frames = m->frames;
	b->seed = vmm_seed(m->heap);
	snprintf(b->heap, sizeof(b->heap), "%s", m->heap);
	fdinfo_value(fd, "exp_name", b->exporter, sizeof(b->exporter));
	if (!b->exporter[0])
		snprintf(b->exporter, sizeof(b->exporter), "?");
	ret = guess ? -ENOTTY : query_map_info(fd, &b->map_info);
	if (ret == 0) {
		b->how = "queried";
	} else {
		if (ret != -ENOTTY)
			fprintf(stderr, "vmm_map_info: %s: DMA_BUF_IOCTL_INFO: %s, guessing\n",
				b->heap, strerror(-ret));
		b->how = guess_map_info(b->exporter, &b->map_info);
	}
	b->guest = choose(b->map_info);

	if (!b->size || b->size % 4 || lseek(fd, 0, SEEK_END) != (off_t)b->size)
		return -EINVAL;
	b->host = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (b->host == MAP_FAILED)
		return -errno;
	b->view = b->host;
	if (b->guest == GUEST_SHADOW) {
		/* guest RAM of its own: the guest never touches the dma-buf */
		b->view = mmap(NULL, b->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b->view == MAP_FAILED) {
			ret = -errno;
			munmap(b->host, b->size);
			b->host = NULL;
			return ret;
		}
	}
	return 0;
}

static void buffer_close(struct buffer *b)
{
	if (b->view && b->view != MAP_FAILED && b->view != b->host)
		munmap(b->view, b->size);
	if (b->host && b->host != MAP_FAILED)
		munmap(b->host, b->size);
	close(b->fd);
}

/* Device → guest.  Only the shadow needs work: a copy the CPU reads, so a READ bracket. */
static int to_guest(struct buffer *b)
{
	if (b->guest != GUEST_SHADOW)
		return 0;
	if (cpu_access(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ))
		return -errno;
	memcpy(b->view, b->host, b->size);
	return cpu_access(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ) ? -errno : 0;
}

/* Guest → device: the shadow's contents written inside a WRITE bracket. */
static int from_guest(struct buffer *b)
{
	if (b->guest != GUEST_SHADOW)
		return 0;
	if (cpu_access(b->fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE))
		return -errno;
	memcpy(b->host, b->view, b->size);
	return cpu_access(b->fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE) ? -errno : 0;
}

/* The guest: does its view hold frame @frame?  Then it writes its answer over it. */
static bool guest_frame(struct buffer *b, uint32_t frame)
{
	volatile uint32_t *v = b->view;	/* a guest's loads and stores, not the compiler's */
	size_t i, n = b->size / 4, bad = 0;

	for (i = 0; i < n; i++)
		bad += v[i] != vmm_word(b->seed, frame, 0, i);
	for (i = 0; i < n; i++)
		v[i] = vmm_word(b->seed, frame, 1, i);
	return bad == 0;
}

/* Wait for message @type about frame @frame; @m gets it. */
static int expect(int sock, struct vmm_msg *m, uint32_t type, uint32_t frame)
{
	int fd, ret = vmm_recv(sock, m, &fd);

	if (fd >= 0)
		close(fd);
	if (ret <= 0)
		return ret ? ret : -EPIPE;
	return m->type == type && m->frame == frame ? 0 : -EPROTO;
}

/* The buffer's frames, one after the other.  0 or a negative errno. */
static int buffer_frames(struct buffer *b, int sock)
{
	struct vmm_msg m;
	uint32_t f;
	int ret;

	for (f = 0; f < b->frames; f++) {
		struct vmm_msg done = { .type = VMM_MSG_DONE, .frame = f };

		if (f && (ret = expect(sock, &m, VMM_MSG_FRAME, f)))
			return ret;
		if ((ret = to_guest(b)))
			return ret;
		b->stale_in += !guest_frame(b, f);
		if ((ret = from_guest(b)) || (ret = vmm_send(sock, &done, -1)))
			return ret;
		if ((ret = expect(sock, &m, VMM_MSG_VERDICT, f)))
			return ret;
		b->stale_out += !m.ok;
	}
	return 0;
}

static void report(const struct buffer *b)
{
	char map_info[32];

	snprintf(map_info, sizeof(map_info), "%s", map_info_name(b->map_info));
	if (!strcmp(map_info, "UNKNOWN"))
		snprintf(map_info, sizeof(map_info), "UNKNOWN(%llu)",
			 (unsigned long long)b->map_info);
	printf("heap=%s exporter=%s map_info=%s source=%s guest=%s frames=%u "
	       "to_guest=%s to_host=%s\n", b->heap, b->exporter, map_info, b->how,
	       guest_names[b->guest], b->frames, b->stale_in ? "stale" : "ok",
	       b->stale_out ? "stale" : "ok");
	fflush(stdout);
}

/* Buffers until the source hangs up.  0, 1 when some data was stale, 2 on an error. */
static int serve(int sock, bool guess)
{
	struct vmm_msg m;
	struct buffer b;
	int fd, ret, stale = 0;

	while ((ret = vmm_recv(sock, &m, &fd)) > 0) {
		if (m.type != VMM_MSG_BUFFER || fd < 0 || !m.frames) {
			if (fd >= 0)
				close(fd);
			fprintf(stderr, "vmm_map_info: expected a buffer, got message %u\n", m.type);
			return 2;
		}
		ret = buffer_open(&b, &m, fd, guess);
		if (!ret)
			ret = buffer_frames(&b, sock);
		if (!ret)
			report(&b);
		stale |= b.stale_in || b.stale_out;
		buffer_close(&b);
		if (ret) {
			fprintf(stderr, "vmm_map_info: %s: %s\n", m.heap, strerror(-ret));
			return 2;
		}
	}
	if (ret < 0) {
		fprintf(stderr, "vmm_map_info: receiving: %s\n", strerror(-ret));
		return 2;
	}
	return stale ? 1 : 0;
}

/* Start @argv with the other end of the socket in $VMM_SOCKET.  Its pid, or -1. */
static pid_t spawn(char **argv, int *sock)
{
	char num[16];
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		snprintf(num, sizeof(num), "%d", sv[1]);
		if (fcntl(sv[1], F_SETFD, 0) == 0 && setenv(VMM_SOCKET_ENV, num, 1) == 0)
			execvp(argv[0], argv);
		fprintf(stderr, "vmm_map_info: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	if (pid < 0)
		close(sv[0]);
	else
		*sock = sv[0];
	return pid;
}

/* One client on @path. */
static int accept_one(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int lsock, sock = -1;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "vmm_map_info: socket path too long\n");
		return -1;
	}
	strcpy(addr.sun_path, path);
	lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lsock < 0 || bind(lsock, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(lsock, 1) < 0) {
		fprintf(stderr, "vmm_map_info: %s: %s\n", path, strerror(errno));
		goto out;
	}
	fprintf(stderr, "vmm_map_info: waiting on %s\n", path);
	while ((sock = accept4(lsock, NULL, NULL, SOCK_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (sock < 0)
		fprintf(stderr, "vmm_map_info: accept: %s\n", strerror(errno));
	unlink(path);
out:
	if (lsock >= 0)
		close(lsock);
	return sock;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vmm_map_info [--guess] -- COMMAND [ARG...]\n"
		"       vmm_map_info [--guess] --listen PATH\n"
		"Receive dma-bufs and choose each one's guest mapping from DMA_BUF_IOCTL_INFO\n"
		"(--guess: from the exporter's name, as without the ioctl).\n");
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool guess = false;
	int i, sock = -1, ret, status;
	pid_t pid = -1;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--guess")) {
			guess = true;
		} else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
			path = argv[++i];
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
	if ((path != NULL) == (i < argc)) {	/* one of --listen PATH and -- COMMAND */
		usage(stderr);
		return 2;
	}
	if (path)
		sock = accept_one(path);
	else if ((pid = spawn(argv + i, &sock)) < 0)
		fprintf(stderr, "vmm_map_info: cannot start %s: %s\n", argv[i], strerror(errno));
	if (sock < 0)
		return 2;
	ret = serve(sock, guess);
	close(sock);
	if (pid > 0) {
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				return 2;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "vmm_map_info: %s failed (status %#x)\n", argv[i], status);
			ret = 2;
		}
	}
	return ret;
}

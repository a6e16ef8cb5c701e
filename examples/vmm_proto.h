/* SPDX-License-Identifier: MIT */
/* vmm_proto.h - what buffer_source and vmm_map_info say to each other over their socket. */
#ifndef VMM_PROTO_H
#define VMM_PROTO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * The conversation, on a SOCK_SEQPACKET socket, for each buffer:
 *
 *   source -> vmm   BUFFER (heap, size, frames) + the dma-buf over SCM_RIGHTS; the buffer
 *                   holds frame 0
 *   vmm -> source   DONE f     the guest saw frame f and wrote its answer to frame f
 *   source -> vmm   VERDICT f  whether the answer reached the source (ok)
 *   source -> vmm   FRAME f+1  the source wrote frame f+1 into the buffer (while f+1 < frames)
 *
 * vmm_map_info starts the source with the socket's number in VMM_SOCKET (as a Wayland
 * compositor hands a client WAYLAND_SOCKET), or listens on a path the source connects to.
 */
#define VMM_SOCKET_ENV		"VMM_SOCKET"
#define VMM_HEAP_NAME_MAX	32

enum vmm_msg_type {
	VMM_MSG_BUFFER = 1,
	VMM_MSG_FRAME,
	VMM_MSG_DONE,
	VMM_MSG_VERDICT,
};

struct vmm_msg {
	uint32_t type;			/* enum vmm_msg_type */
	uint32_t frame;			/* the frame the message is about */
	uint32_t frames;		/* BUFFER: how many frames will pass through the buffer */
	uint32_t ok;			/* VERDICT: 1 when the guest's answer reached the source */
	uint64_t size;			/* BUFFER: bytes */
	char heap[VMM_HEAP_NAME_MAX];	/* BUFFER: the heap it came from (a label) */
};

/* A seed per heap, so that two buffers never hold the same bytes. */
static inline uint32_t vmm_seed(const char *heap)
{
	uint32_t h = 2166136261u;

	while (*heap)
		h = (h ^ (uint8_t)*heap++) * 16777619u;
	return h;
}

/*
 * Word @i of frame @frame: what the source writes (@answer 0) or what the guest writes back
 * (@answer 1).  Every frame and every answer differs from the others in every word.
 */
static inline uint32_t vmm_word(uint32_t seed, uint32_t frame, int answer, size_t i)
{
	return (seed ^ (frame * 0x9e3779b9u) ^ (answer ? 0xa5a5a5a5u : 0)) +
	       (uint32_t)i * 2654435761u;
}

/* Send @m, with @fd attached when it is not negative.  0 or a negative errno. */
static inline int vmm_send(int sock, const struct vmm_msg *m, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { (void *)m, sizeof(*m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	}
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/*
 * Receive one message into @m; @fd gets the descriptor that came with it, or -1.
 * 1 for a message, 0 at the end of the conversation, a negative errno on error (-EPROTO for
 * a message of the wrong size or with more than one descriptor).
 */
static inline int vmm_recv(int sock, struct vmm_msg *m, int *fd)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { m, sizeof(*m) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c;
	int got[2], n = 0, i;
	ssize_t len;

	*fd = -1;
	while ((len = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0)
		if (errno != EINTR)
			return -errno;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(got, CMSG_DATA(c), (size_t)n * sizeof(int));
	}
	if (len == 0 && n == 0)
		return 0;
	if (len != sizeof(*m) || n > 1 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		for (i = 0; i < n; i++)
			close(got[i]);
		return -EPROTO;
	}
	if (n)
		*fd = got[0];
	m->heap[VMM_HEAP_NAME_MAX - 1] = '\0';
	return 1;
}

#endif /* VMM_PROTO_H */

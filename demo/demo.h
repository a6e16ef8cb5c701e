/* SPDX-License-Identifier: MIT */
/*
 * demo.h - the cross-process demo: what its director and its three roles share (options,
 * frames, messages between processes, results).
 */
#ifndef DMABUF_DEMO_H
#define DMABUF_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEMO_CLIENTS		2
#define DEMO_BUFS		3	/* per client: triple buffering */
#define DEMO_WIDTH		320	/* a client's frame, XRGB8888 */
#define DEMO_HEIGHT		240
#define DEMO_HDR_SIZE		4096	/* the frame header's page, then the pixels */
#define DEMO_PIXELS_SIZE	(DEMO_WIDTH * DEMO_HEIGHT * 4)
#define DEMO_BUF_SIZE		(DEMO_HDR_SIZE + DEMO_PIXELS_SIZE)
/* The scanout: the clients side by side. */
#define DEMO_OUT_WIDTH		(DEMO_WIDTH * DEMO_CLIENTS)
#define DEMO_OUT_SIZE		(DEMO_OUT_WIDTH * DEMO_HEIGHT * 4)
#define DEMO_MAGIC		0x46424d44U	/* "DMBF" */

#define DEMO_DEFAULT_FRAMES	300
#define DEMO_MAX_FRAMES		100000
/* Longest wait for a buffer, a message, a process: a hang is an error, not a stall. */
#define DEMO_TIMEOUT_MS		20000
/*
 * Seconds a role may run: some waits have no timeout (DMA_BUF_IOCTL_SYNC START, a device's
 * wait for its input fences), so a deadlock would hang; SIGALRM ends the role instead.
 */
#define DEMO_WATCHDOG_S(frames)	(60 + (frames) / 10)

/* Faults the tests inject to see the checks fire (--fault). */
enum demo_fault {
	DEMO_FAULT_NONE,
	DEMO_FAULT_CHECKSUM,	/* client 1 writes frame 5 (or its last) with a bad checksum */
	DEMO_FAULT_NO_SYNC,	/* the compositor reads the clients' buffers without SYNC */
};

enum demo_role { DEMO_ROLE_DIRECTOR, DEMO_ROLE_COMPOSITOR, DEMO_ROLE_CLIENT };

struct demo_opts {
	unsigned int frames;	/* per client */
	const char *heap;
	const char *out;	/* output directory (absolute in the roles) */
	bool check_coherency;
	bool trace;
	enum demo_fault fault;
	/* a role's own */
	enum demo_role role;
	unsigned int id;	/* client number */
	int fds[DEMO_CLIENTS];	/* a client: fds[0], its socket; the compositor: one a client */
	int report_fd;		/* where the role writes its result */
};

/* The first page of every client buffer; the pixels follow at DEMO_HDR_SIZE. */
struct demo_frame_hdr {
	uint32_t magic;
	uint32_t client;
	uint32_t frame;
	uint32_t width;
	uint32_t height;
	uint32_t pad;
	uint64_t checksum;	/* FNV-1a of the pixels, one 32-bit pixel at a time */
};

/* Messages between a client and the compositor (one SOCK_SEQPACKET datagram each). */
enum demo_msg_type {
	DEMO_MSG_HELLO = 1,	/* client → compositor, with its DEMO_BUFS buffers (SCM_RIGHTS) */
	DEMO_MSG_WELCOME,	/* compositor → client: the buffers are mapped, go ahead */
	DEMO_MSG_FRAME,		/* client → compositor: @buf holds frame @frame */
	DEMO_MSG_RELEASE,	/* compositor → client: @buf may be reused (see its fences) */
	DEMO_MSG_BYE,		/* client → compositor: no more frames */
};

struct demo_msg {
	uint32_t type;
	uint32_t client;
	uint32_t buf;
	uint32_t frame;
	int64_t t_submit_ns;	/* FRAME: CLOCK_MONOTONIC just before the render job's submit */
};

/* Latency percentiles, ns. */
struct demo_lat {
	int64_t p50, p90, p99, max;
};

#define DEMO_WHY_LEN 160

struct demo_client_result {
	uint32_t submitted;		/* frames rendered and handed over */
	uint32_t errors;		/* failed calls */
	uint32_t release_pending;	/* release fence still pending when the buffer came back */
	char why[DEMO_WHY_LEN];		/* the first error */
};

struct demo_comp_result {
	uint32_t composed[DEMO_CLIENTS];	/* frames read and verified */
	uint32_t bad[DEMO_CLIENTS];		/* torn, stale, out-of-order or foreign frames */
	uint32_t not_ready[DEMO_CLIENTS];	/* buffer still being rendered when announced */
	uint32_t errors;			/* failed calls, lost clients */
	struct demo_lat lat[DEMO_CLIENTS];	/* client submit → compositor done reading */
	int64_t first_ns, last_ns;		/* first frame announced, last frame read */
	uint64_t map_info;			/* of the clients' buffers */
	bool map_info_known;
	bool ppm_written;
	char why[DEMO_WHY_LEN];			/* the first error */
};

/* ---- frame.c: the frames' content ---- */

/* Render frame @frame of client @client into a whole buffer @map (device view). */
void demo_render(uint32_t client, uint32_t frame, void *map, bool corrupt);

/*
 * Check that the buffer @map holds frame @frame of client @client, copying its pixels to
 * @dst (DEMO_OUT_WIDTH pixels a row) as it goes.  0, or -1 with what is wrong in @why.
 */
int demo_check_copy(const void *map, uint32_t client, uint32_t frame, uint32_t *dst,
		    char *why, size_t len);

/* Write @pixels (XRGB8888, @width × @height) as a binary PPM to @path.  0 or -errno. */
int demo_write_ppm(const char *path, const uint32_t *pixels, unsigned int width,
		   unsigned int height);

/* ---- msg.c: datagrams with descriptors ---- */

/* Send @m with @nfds descriptors.  0 or -errno. */
int demo_send(int sock, const struct demo_msg *m, const int *fds, int nfds);

/*
 * Receive one message into @m and up to @maxfds descriptors into @fds (their number in
 * *@nfds; extra ones are closed), waiting at most @timeout_ms.  1 got one, 0 the peer is
 * gone, -ETIME, -EPROTO (a datagram that is not a message), or -errno.
 */
int demo_recv(int sock, struct demo_msg *m, int *fds, int maxfds, int *nfds, int timeout_ms);

/* Write all @len bytes of @data to @fd (a role's result to the director).  0 or -errno. */
int demo_write_all(int fd, const void *data, size_t len);

/* CLOCK_MONOTONIC now, ns. */
int64_t demo_now_ns(void);

/* ---- the roles ---- */

int demo_compositor(const struct demo_opts *o);
int demo_client(const struct demo_opts *o);

#endif /* DMABUF_DEMO_H */

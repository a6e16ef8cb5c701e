// SPDX-License-Identifier: MIT
/*
 * compositor.c - the demo's compositor role: an implicit-sync display server.
 *
 * It receives each client's buffers once (SCM_RIGHTS), maps them read-only and says so.  Per
 * frame a client announces, it:
 *  - waits until the buffer may be read (poll for POLLIN: the writers' fences, here the
 *    client's render fence that the client IMPORTed) — implicit sync, it knows nothing of
 *    the client's fences;
 *  - adds its own read fence to the buffer (a point on its sw_sync timeline, IMPORTed as a
 *    reader) and opens its CPU access (DMA_BUF_IOCTL_SYNC START|READ);
 *  - releases the buffer to the client at once: the read fence, not the message, keeps the
 *    client's next rendering off the buffer until the read is done;
 *  - checks the frame (header, frame number, checksum) as it composes it into its scanout
 *    buffer (a dma-buf it writes inside START|WRITE .. END|WRITE), closes its access
 *    (END|READ) and signals the read fence.
 * At the end it writes the last composed frame (the scanout) as a PPM and its results.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dmabuf/fd.h>

#include "demo.h"

#define RD		DMABUF_FD_SYNC_READ
#define WR		DMABUF_FD_SYNC_WRITE
#define END		DMABUF_FD_SYNC_END
#define TIMEOUT_NS	((int64_t)DEMO_TIMEOUT_MS * 1000000)

struct peer {
	int sock;
	bool hello, bye, gone;
	int bufs[DEMO_BUFS];
	void *maps[DEMO_BUFS];
	uint32_t expect;	/* the next frame number */
	int64_t *lat;		/* per frame read: submit → done reading, ns */
	uint32_t nlat;
};

struct comp {
	const struct demo_opts *o;
	struct peer peers[DEMO_CLIENTS];
	int timeline;		/* our read fences' timeline */
	uint32_t seqno;		/* its last point */
	int scanout;
	uint32_t *out;		/* the scanout, mapped */
	struct demo_comp_result res;
};

static int fail(struct comp *c, const char *what, int err)
{
	c->res.errors++;
	if (!c->res.why[0])
		snprintf(c->res.why, sizeof(c->res.why), "compositor: %s: %s", what,
			 strerror(-err));
	return err;
}

static void bad_frame(struct comp *c, unsigned int id, const char *why)
{
	c->res.bad[id]++;
	if (!c->res.why[0])
		snprintf(c->res.why, sizeof(c->res.why), "compositor: %.140s", why);
}

static int setup(struct comp *c)
{
	void *map;
	int ret;

	c->timeline = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	if (c->timeline < 0)
		return fail(c, "creating the timeline", c->timeline);
	c->scanout = dmabuf_fd_heap_alloc(c->o->heap, DEMO_OUT_SIZE, O_RDWR | O_CLOEXEC, 0);
	if (c->scanout < 0)
		return fail(c, "allocating the scanout buffer", c->scanout);
	ret = dmabuf_fd_buf_set_name(c->scanout, "scanout");
	if (!ret)
		ret = dmabuf_fd_buf_mmap(c->scanout, NULL, DEMO_OUT_SIZE, PROT_READ | PROT_WRITE,
					 MAP_SHARED, 0, &map);
	if (ret)
		return fail(c, "mapping the scanout buffer", ret);
	c->out = map;
	return 0;
}

static int handle_hello(struct comp *c, unsigned int id, const int *fds, int nfds)
{
	struct demo_msg welcome = { .type = DEMO_MSG_WELCOME, .client = id };
	struct peer *p = &c->peers[id];
	int b, ret;

	if (p->hello || nfds != DEMO_BUFS) {
		while (nfds > 0)
			close(fds[--nfds]);
		return fail(c, "a client's HELLO", -EPROTO);
	}
	p->hello = true;
	for (b = 0; b < DEMO_BUFS; b++)
		p->bufs[b] = fds[b];
	for (b = 0; b < DEMO_BUFS; b++) {
		ret = dmabuf_fd_buf_mmap(p->bufs[b], NULL, DEMO_BUF_SIZE, PROT_READ, MAP_SHARED, 0,
					 &p->maps[b]);
		if (ret)
			return fail(c, "mapping a client's buffer", ret);
	}
	ret = dmabuf_fd_buf_map_info(p->bufs[0], &c->res.map_info);
	if (ret)
		return fail(c, "map_info", ret);
	c->res.map_info_known = true;
	ret = demo_send(p->sock, &welcome, NULL, 0);
	return ret ? fail(c, "welcoming a client", ret) : 0;
}

/* Copy frame @m of client @id, open for reading, into the scanout, checking it. */
static int compose(struct comp *c, unsigned int id, const struct demo_msg *m)
{
	struct peer *p = &c->peers[id];
	char why[DEMO_WHY_LEN];
	int ret;

	ret = dmabuf_fd_buf_sync(c->scanout, DMABUF_FD_SYNC_START | WR);
	if (ret)
		return fail(c, "SYNC START|WRITE of the scanout", ret);
	if (demo_check_copy(p->maps[m->buf], id, m->frame, c->out + id * DEMO_WIDTH, why,
			    sizeof(why)))
		bad_frame(c, id, why);
	ret = dmabuf_fd_buf_sync(c->scanout, END | WR);
	return ret ? fail(c, "SYNC END|WRITE of the scanout", ret) : 0;
}

/*
 * Our read fence on buffer @fd, then the CPU access opened: START|READ waits for the writers
 * there are now, so it must come before the release, after which the client's next rendering
 * adds a write fence of its own (that waits for our read fence).  Sets *@fenced once the read
 * fence is on the timeline (signal it whatever happens next), *@opened once the access is open
 * (close it whatever happens next).
 */
static int open_read(struct comp *c, int fd, bool *fenced, bool *opened)
{
	int rf, ret;

	rf = dmabuf_fd_sw_fence_create(c->timeline, c->seqno + 1, "compositor-read");
	if (rf < 0)
		return fail(c, "creating the read fence", rf);
	c->seqno++;
	*fenced = true;
	ret = dmabuf_fd_buf_import_sync_file(fd, RD, rf);
	close(rf);
	if (ret)
		return fail(c, "IMPORT_SYNC_FILE of the read fence", ret);
	if (c->o->fault == DEMO_FAULT_NO_SYNC)
		return 0;
	/* implicit sync again (no wait now), and the CPU view of the device's data */
	ret = dmabuf_fd_buf_sync(fd, DMABUF_FD_SYNC_START | RD);
	if (ret)
		return fail(c, "SYNC START|READ", ret);
	*opened = true;
	return 0;
}

static int handle_frame(struct comp *c, unsigned int id, const struct demo_msg *m)
{
	struct peer *p = &c->peers[id];
	int64_t now = demo_now_ns();
	char why[DEMO_WHY_LEN];
	bool fenced = false, opened = false;
	int fd, ret, ret2;
	struct demo_msg rel = {
		.type = DEMO_MSG_RELEASE, .client = id, .buf = m->buf, .frame = m->frame,
	};

	if (!p->hello || m->buf >= DEMO_BUFS || p->nlat >= c->o->frames)
		return fail(c, "a client's FRAME", -EPROTO);
	if (!c->res.first_ns)
		c->res.first_ns = now;
	if (m->frame != p->expect) {
		snprintf(why, sizeof(why), "client %u: frame %u announced after frame %u", id,
			 m->frame, p->expect - 1);
		bad_frame(c, id, why);
	}
	p->expect = m->frame + 1;
	fd = p->bufs[m->buf];
	/* implicit sync: the buffer is ready when its writers are done (POLLIN) */
	ret = dmabuf_fd_buf_wait(fd, RD, 0);
	if (ret == -ETIME) {
		c->res.not_ready[id]++;
		ret = dmabuf_fd_buf_wait(fd, RD, TIMEOUT_NS);
	}
	if (ret)
		return fail(c, "waiting for a client's buffer", ret);
	ret = open_read(c, fd, &fenced, &opened);
	/* the early release: the read fence, not this message, keeps the client off */
	if (!ret && (ret = demo_send(p->sock, &rel, NULL, 0)))
		fail(c, "releasing a buffer", ret);
	if (!ret)
		ret = compose(c, id, m);
	ret2 = opened ? dmabuf_fd_buf_sync(fd, END | RD) : 0;
	if (ret2 && !ret)
		ret = fail(c, "SYNC END|READ", ret2);
	if (!ret) {
		now = demo_now_ns();
		p->lat[p->nlat++] = now - m->t_submit_ns;
		c->res.composed[id]++;
		c->res.last_ns = now;
	}
	/* the read is done: the client's next job on this buffer may start */
	ret2 = fenced ? dmabuf_fd_sw_timeline_inc(c->timeline, 1) : 0;
	if (ret2 && !ret)
		ret = fail(c, "signaling the read fence", ret2);
	return ret;
}

/* One message from client @id: 0 to go on, else an error. */
static int handle(struct comp *c, unsigned int id)
{
	struct peer *p = &c->peers[id];
	int fds[DEMO_BUFS], nfds, ret;
	struct demo_msg m;

	ret = demo_recv(p->sock, &m, fds, DEMO_BUFS, &nfds, 0);
	if (ret == 0) {
		p->gone = true;
		return fail(c, "a client went away before its last frame", -EPIPE);
	}
	if (ret < 0)
		return fail(c, "receiving from a client", ret);
	if (m.client != id) {
		while (nfds > 0)
			close(fds[--nfds]);
		return fail(c, "a message with another client's number", -EPROTO);
	}
	switch (m.type) {
	case DEMO_MSG_HELLO:
		return handle_hello(c, id, fds, nfds);
	case DEMO_MSG_FRAME:
		if (!nfds)
			return handle_frame(c, id, &m);
		break;
	case DEMO_MSG_BYE:
		p->bye = true;
		if (!nfds)
			return 0;
		break;
	}
	while (nfds > 0)
		close(fds[--nfds]);
	return fail(c, "a malformed message", -EPROTO);
}

static int run(struct comp *c)
{
	struct pollfd pfd[DEMO_CLIENTS];
	unsigned int id, n, map[DEMO_CLIENTS];
	int r, ret;

	for (;;) {
		for (id = 0, n = 0; id < DEMO_CLIENTS; id++) {
			if (c->peers[id].bye)
				continue;
			pfd[n] = (struct pollfd){ .fd = c->peers[id].sock, .events = POLLIN };
			map[n++] = id;
		}
		if (!n)
			return 0;
		r = poll(pfd, n, DEMO_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fail(c, "poll", -errno);
		if (r == 0)
			return fail(c, "no message from the clients", -ETIME);
		for (unsigned int i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			ret = handle(c, map[i]);
			if (ret)
				return ret;
		}
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile @q (0..100] of the sorted @v. */
static int64_t percentile(const int64_t *v, uint32_t n, unsigned int q)
{
	uint64_t rank = ((uint64_t)n * q + 99) / 100;

	return v[rank ? rank - 1 : 0];
}

static void latencies(struct comp *c)
{
	for (unsigned int id = 0; id < DEMO_CLIENTS; id++) {
		struct peer *p = &c->peers[id];

		if (!p->nlat)
			continue;
		qsort(p->lat, p->nlat, sizeof(p->lat[0]), cmp_i64);
		c->res.lat[id] = (struct demo_lat){
			.p50 = percentile(p->lat, p->nlat, 50),
			.p90 = percentile(p->lat, p->nlat, 90),
			.p99 = percentile(p->lat, p->nlat, 99),
			.max = p->lat[p->nlat - 1],
		};
	}
}

/* "Scan out": the last composed frame, as a PPM. */
static void write_final(struct comp *c)
{
	char path[PATH_MAX];
	int ret;

	if (snprintf(path, sizeof(path), "%s/final.ppm", c->o->out) >= (int)sizeof(path)) {
		fail(c, "the output path", -ENAMETOOLONG);
		return;
	}
	ret = dmabuf_fd_buf_sync(c->scanout, DMABUF_FD_SYNC_START | RD);
	if (ret) {
		fail(c, "SYNC START|READ of the scanout", ret);
		return;
	}
	ret = demo_write_ppm(path, c->out, DEMO_OUT_WIDTH, DEMO_HEIGHT);
	if (ret)
		fail(c, "writing final.ppm", ret);
	c->res.ppm_written = !ret;
	ret = dmabuf_fd_buf_sync(c->scanout, END | RD);
	if (ret)
		fail(c, "SYNC END|READ of the scanout", ret);
}

static void teardown(struct comp *c)
{
	for (unsigned int id = 0; id < DEMO_CLIENTS; id++) {
		struct peer *p = &c->peers[id];

		for (int b = 0; b < DEMO_BUFS; b++) {
			if (p->maps[b])
				dmabuf_fd_buf_munmap(p->maps[b], DEMO_BUF_SIZE);
			if (p->bufs[b] >= 0)
				close(p->bufs[b]);
		}
		free(p->lat);
		close(p->sock);
	}
	if (c->out)
		dmabuf_fd_buf_munmap(c->out, DEMO_OUT_SIZE);
	if (c->scanout >= 0)
		close(c->scanout);
	if (c->timeline >= 0)
		close(c->timeline);
}

int demo_compositor(const struct demo_opts *o)
{
	struct comp c = { .o = o, .timeline = -1, .scanout = -1 };
	int ret = 0;

	for (unsigned int id = 0; id < DEMO_CLIENTS; id++) {
		struct peer *p = &c.peers[id];

		p->sock = o->fds[id];
		for (int b = 0; b < DEMO_BUFS; b++)
			p->bufs[b] = -1;
		p->lat = calloc(o->frames, sizeof(p->lat[0]));
		if (!p->lat)
			ret = fail(&c, "allocating", -ENOMEM);
	}
	if (!ret)
		ret = setup(&c);
	if (!ret)
		ret = run(&c);
	if (c.out)
		write_final(&c);
	latencies(&c);
	teardown(&c);
	if (demo_write_all(o->report_fd, &c.res, sizeof(c.res)))
		ret = -EIO;
	close(o->report_fd);
	return ret || c.res.errors ? 1 : 0;
}

// SPDX-License-Identifier: MIT
/*
 * client.c - the demo's client role: an explicit-sync application, the way a Vulkan program
 * and its window-system layer work.
 *
 * It owns a pool of DEMO_BUFS dma-bufs (triple buffering), hands them to the compositor once
 * (SCM_RIGHTS) and waits until it has them, and then, per frame:
 *  - takes a buffer the compositor released; if the buffer was used before, EXPORTs the
 *    fences a writer must wait for (DMA_BUF_IOCTL_EXPORT_SYNC_FILE, WRITE): the compositor's
 *    release fence, its read of the previous frame, which may still be running (it releases
 *    early);
 *  - renders on its software device (dmabuf/swdev.h), with that sync_file as the job's input
 *    fence (a Vulkan wait semaphore imported from a sync_file);
 *  - IMPORTs the job's fence into the buffer as a writer (DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
 *    WRITE), as a Vulkan WSI does at present time, so that the compositor's implicit sync
 *    waits for the rendering;
 *  - tells the compositor which buffer holds which frame, without waiting for the rendering.
 * The client never maps its buffers: only its device touches them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <dmabuf/fd.h>
#include <dmabuf/swdev.h>

#include "demo.h"

/* What a render job needs; one per buffer, reused only once the buffer came back. */
struct render_job {
	uint32_t client;
	uint32_t frame;
	bool corrupt;
};

struct client {
	const struct demo_opts *o;
	int sock;
	struct dmabuf_swdev *dev;
	int bufs[DEMO_BUFS];
	bool used[DEMO_BUFS];		/* rendered into at least once */
	bool busy[DEMO_BUFS];		/* with the compositor */
	unsigned int free_q[DEMO_BUFS];	/* released buffers, oldest first */
	unsigned int free_head, nfree;
	struct render_job jobs[DEMO_BUFS];
	struct demo_client_result res;
};

static int fail(struct client *c, const char *what, int err)
{
	c->res.errors++;
	if (!c->res.why[0])
		snprintf(c->res.why, sizeof(c->res.why), "client %u: %s: %s", c->o->id, what,
			 strerror(-err));
	return err;
}

/* The job's work, on the device's worker thread: the whole buffer as the device sees it. */
static void render(void *arg, struct dmabuf_swdev_buf *bufs, unsigned int nbufs)
{
	const struct render_job *j = arg;

	/* nothing written: the compositor finds no frame and says so */
	if (nbufs != 1 || !bufs[0].map || bufs[0].size < DEMO_BUF_SIZE)
		return;
	demo_render(j->client, j->frame, bufs[0].map, j->corrupt);
}

static void free_push(struct client *c, unsigned int b)
{
	c->free_q[(c->free_head + c->nfree++) % DEMO_BUFS] = b;
}

static unsigned int free_pop(struct client *c)
{
	unsigned int b = c->free_q[c->free_head];

	c->free_head = (c->free_head + 1) % DEMO_BUFS;
	c->nfree--;
	return b;
}

/* Wait for one RELEASE from the compositor. */
static int wait_release(struct client *c)
{
	struct demo_msg m;
	int ret;

	ret = demo_recv(c->sock, &m, NULL, 0, NULL, DEMO_TIMEOUT_MS);
	if (ret == 0)
		return fail(c, "the compositor went away", -EPIPE);
	if (ret < 0)
		return fail(c, "waiting for a buffer release", ret);
	if (m.type != DEMO_MSG_RELEASE || m.buf >= DEMO_BUFS || !c->busy[m.buf])
		return fail(c, "unexpected message from the compositor", -EPROTO);
	c->busy[m.buf] = false;
	free_push(c, m.buf);
	return 0;
}

static int setup(struct client *c)
{
	struct demo_msg hello = { .type = DEMO_MSG_HELLO, .client = c->o->id }, welcome;
	char name[32];
	int ret, b;

	snprintf(name, sizeof(name), "client%u", c->o->id);
	ret = dmabuf_swdev_create(name, &c->dev);
	if (ret)
		return fail(c, "dmabuf_swdev_create", ret);
	for (b = 0; b < DEMO_BUFS; b++) {
		c->bufs[b] = dmabuf_fd_heap_alloc(c->o->heap, DEMO_BUF_SIZE, O_RDWR | O_CLOEXEC,
						  0);
		if (c->bufs[b] < 0)
			return fail(c, "allocating a buffer", c->bufs[b]);
		snprintf(name, sizeof(name), "client%u-buf%d", c->o->id, b);
		ret = dmabuf_fd_buf_set_name(c->bufs[b], name);
		if (ret)
			return fail(c, "naming a buffer", ret);
		free_push(c, (unsigned int)b);
	}
	ret = demo_send(c->sock, &hello, c->bufs, DEMO_BUFS);
	if (ret)
		return fail(c, "handing the buffers over", ret);
	/* the compositor has them mapped before anything is drawn */
	ret = demo_recv(c->sock, &welcome, NULL, 0, NULL, DEMO_TIMEOUT_MS);
	if (ret == 0)
		return fail(c, "the compositor went away", -EPIPE);
	if (ret < 0)
		return fail(c, "waiting for the compositor", ret);
	if (welcome.type != DEMO_MSG_WELCOME)
		return fail(c, "unexpected message from the compositor", -EPROTO);
	return 0;
}

/* The compositor's release fence of buffer @b, from the buffer itself: a sync_file or -errno. */
static int export_release(struct client *c, unsigned int b)
{
	int rel = dmabuf_fd_buf_export_sync_file(c->bufs[b], DMABUF_FD_SYNC_WRITE);

	if (rel < 0)
		return fail(c, "EXPORT_SYNC_FILE", rel);
	if (dmabuf_fd_sync_wait(rel, 0) == -ETIME)
		c->res.release_pending++;
	return rel;
}

/* Render frame @f into buffer @b and announce it. */
static int submit_frame(struct client *c, unsigned int b, uint32_t f)
{
	struct dmabuf_swdev_buf sb = { .fd = c->bufs[b], .access = DMABUF_SWDEV_WRITE };
	struct dmabuf_swdev_job job = { .bufs = &sb, .nbufs = 1, .fn = render };
	struct demo_msg m = { .type = DEMO_MSG_FRAME, .client = c->o->id, .buf = b, .frame = f };
	unsigned int corrupt_frame = c->o->frames > 5 ? 5 : c->o->frames - 1;
	int rel = -1, sf, ret;

	if (c->used[b]) {
		rel = export_release(c, b);
		if (rel < 0)
			return rel;
		job.in_fences = &rel;
		job.nin = 1;
	}
	c->jobs[b] = (struct render_job){
		.client = c->o->id,
		.frame = f,
		.corrupt = c->o->fault == DEMO_FAULT_CHECKSUM && c->o->id == 1 &&
			   f == corrupt_frame,
	};
	job.arg = &c->jobs[b];
	m.t_submit_ns = demo_now_ns();
	sf = dmabuf_swdev_submit(c->dev, &job);
	if (rel >= 0)
		close(rel);
	if (sf < 0)
		return fail(c, "dmabuf_swdev_submit", sf);
	ret = dmabuf_fd_buf_import_sync_file(c->bufs[b], DMABUF_FD_SYNC_WRITE, sf);
	close(sf);
	if (ret)
		return fail(c, "IMPORT_SYNC_FILE", ret);
	c->used[b] = true;
	c->busy[b] = true;
	ret = demo_send(c->sock, &m, NULL, 0);
	if (ret)
		return fail(c, "announcing a frame", ret);
	c->res.submitted++;
	return 0;
}

static int run(struct client *c)
{
	struct demo_msg bye = { .type = DEMO_MSG_BYE, .client = c->o->id };
	unsigned int b, busy;
	uint32_t f;
	int ret;

	for (f = 0; f < c->o->frames; f++) {
		while (!c->nfree) {
			ret = wait_release(c);
			if (ret)
				return ret;
		}
		ret = submit_frame(c, free_pop(c), f);
		if (ret)
			return ret;
	}
	/* the pool back, every frame shown */
	for (;;) {
		for (b = 0, busy = 0; b < DEMO_BUFS; b++)
			busy += c->busy[b];
		if (!busy)
			break;
		ret = wait_release(c);
		if (ret)
			return ret;
	}
	ret = demo_send(c->sock, &bye, NULL, 0);
	return ret ? fail(c, "saying goodbye", ret) : 0;
}

int demo_client(const struct demo_opts *o)
{
	struct client c = { .o = o, .sock = o->fds[0] };
	int b, ret;

	for (b = 0; b < DEMO_BUFS; b++)
		c.bufs[b] = -1;
	ret = setup(&c);
	if (!ret)
		ret = run(&c);
	/* runs what is queued first */
	dmabuf_swdev_destroy(c.dev);
	for (b = 0; b < DEMO_BUFS; b++)
		if (c.bufs[b] >= 0)
			close(c.bufs[b]);
	close(c.sock);
	if (demo_write_all(o->report_fd, &c.res, sizeof(c.res)))
		ret = -EIO;
	close(o->report_fd);
	return ret || c.res.errors ? 1 : 0;
}

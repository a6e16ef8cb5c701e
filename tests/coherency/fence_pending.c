// SPDX-License-Identifier: MIT
/*
 * fence_pending.c - a GPU job will write the frame; its completion fence is attached to the
 * buffer as a write fence (DMA_BUF_IOCTL_IMPORT_SYNC_FILE), and the program reads the frame
 * at once instead of waiting for it (the bug; FIXED waits in DMA_BUF_SYNC_START|READ).
 *
 * The GPU is a helper process on a sw_sync timeline: it begins its CPU access first (its
 * START would otherwise wait for its own fence), writes the frame when the job is queued,
 * ends its access and signals the timeline.  The buggy program reads before it lets the job
 * run, so the fence is certainly pending when it reads.
 */
#include <linux/sync_file.h>

#include "corpus.h"

/* sw_sync's private ABI (not in the installed headers) */
struct sw_sync_create_fence_data {
	__u32 value;
	char name[32];
	__s32 fence;
};
#define SW_SYNC_IOC_CREATE_FENCE	_IOWR('W', 0, struct sw_sync_create_fence_data)
#define SW_SYNC_IOC_INC			_IOW('W', 1, __u32)

static int timeline_open(void)
{
	int fd = open("/sys/kernel/debug/sync/sw_sync", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fd = open("/dev/sw_sync", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("sw_sync");
	return fd;
}

static int timeline_fence(int tl, unsigned int value)
{
	struct sw_sync_create_fence_data d = { .value = value, .name = "render" };

	if (ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, &d) < 0)
		die("SW_SYNC_IOC_CREATE_FENCE");
	return d.fence;
}

/* the GPU: begins CPU access, says so, renders frame 1 when told, ends, signals */
static void gpu(int buf, int tl, int in, int out)
{
	uint32_t *map = buf_map(buf);
	__u32 one = 1;

	buf_sync(buf, SYNC_START_WRITE);
	send_byte(out, 's');
	if (recv_byte(in) < 0)
		exit(1);
	frame_fill(map, 1);
	buf_sync(buf, SYNC_END_WRITE);
	if (ioctl(tl, SW_SYNC_IOC_INC, &one) < 0)
		die("SW_SYNC_IOC_INC");
	buf_unmap(map);
}

int main(void)
{
	struct dma_buf_import_sync_file imp = { .flags = DMA_BUF_SYNC_WRITE };
	struct helper job;
	uint32_t *map;
	int buf, tl;
	char v;

	buf = buf_alloc("frame");
	tl = timeline_open();
	helper_start(&job, gpu, buf, tl);
	map = buf_map(buf);
	helper_recv(&job);	/* the GPU is set up */
	imp.fd = timeline_fence(tl, 1);
	close(tl);		/* the GPU's copy signals it (or, if the GPU dies, errors it) */
	if (ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &imp) < 0)
		die("DMA_BUF_IOCTL_IMPORT_SYNC_FILE");
	close(imp.fd);
#ifdef FIXED
	send_byte(job.to, 'g');			/* run the job */
	buf_sync(buf, SYNC_START_READ);		/* waits for the write fence */
	v = frame_check(map, 1);
	buf_sync(buf, SYNC_END_READ);
#else
	v = frame_check(map, 1);		/* the job has not even run */
	send_byte(job.to, 'g');
#endif
	helper_wait(&job);
	print_verdict(v);
	buf_unmap(map);
	close(buf);
	return 0;
}

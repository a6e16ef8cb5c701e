// SPDX-License-Identifier: MIT
/*
 * fork_reader.c - a worker forked at start-up reads frames through the mapping it inherited,
 * without DMA_BUF_SYNC_START|READ, after its parent wrote them with correct brackets (the bug;
 * FIXED brackets the worker's read).  The worker's CPU cache still holds what it held at
 * the fork.
 */
#include "corpus.h"

static uint32_t *map;	/* mapped before the fork: the worker inherits it */

static void worker(int buf, int unused, int in, int out)
{
	char v;

	if (recv_byte(in) < 0)
		exit(1);
#ifdef FIXED
	buf_sync(buf, SYNC_START_READ);
#endif
	v = frame_check(map, 2);
#ifdef FIXED
	buf_sync(buf, SYNC_END_READ);
#endif
	send_byte(out, v);
}

int main(void)
{
	struct helper w;
	char v;
	int buf;

	buf = buf_alloc("frame");
	map = buf_map(buf);
	buf_sync(buf, SYNC_START_WRITE);
	frame_fill(map, 1);
	buf_sync(buf, SYNC_END_WRITE);
	helper_start(&w, worker, buf, 0);
	printf("reader pid: %d\n", (int)w.pid);
	buf_sync(buf, SYNC_START_WRITE);
	frame_fill(map, 2);
	buf_sync(buf, SYNC_END_WRITE);
	v = helper_run(&w);	/* the worker reads frame 2 */
	helper_wait(&w);
	print_verdict(v);
	buf_unmap(map);
	close(buf);
	return 0;
}

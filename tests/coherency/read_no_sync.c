// SPDX-License-Identifier: MIT
/*
 * read_no_sync.c - a consumer reads the frame a device wrote without DMA_BUF_SYNC_START|READ
 * (the bug; FIXED brackets the read).
 */
#include "corpus.h"

int main(void)
{
	struct helper dev;
	uint32_t *map;
	char v;
	int buf;

	buf = buf_alloc("frame");
	helper_start(&dev, device_writer, buf, 1);
	map = buf_map(buf);	/* mapped once, at start-up */
	helper_run(&dev);	/* the device has written frame 1 */
#ifdef FIXED
	buf_sync(buf, SYNC_START_READ);
#endif
	v = frame_check(map, 1);
#ifdef FIXED
	buf_sync(buf, SYNC_END_READ);
#endif
	helper_wait(&dev);
	print_verdict(v);
	buf_unmap(map);
	close(buf);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * write_in_read_bracket.c - a filter post-processes, in place, the frame a device wrote, inside
 * a START|READ ... END|READ bracket: its writes are never written back (the bug; FIXED opens
 * the bracket for READ and WRITE).
 */
#include "corpus.h"

#ifdef FIXED
#define ACCESS	DMA_BUF_SYNC_RW
#else
#define ACCESS	DMA_BUF_SYNC_READ	/* "we only read the frame"... and then write it */
#endif

/* Turn frame 1 into frame 2, word by word. */
static void retag(uint32_t *map)
{
	uint32_t *f = frame_of(map), i;

	for (i = 0; i < DATA_WORDS; i++)
		f[i] = (f[i] & 0xffffff) | pixel(2, 0);
}

int main(void)
{
	struct helper dev, reader;
	uint32_t *map;
	char v;
	int buf;

	buf = buf_alloc("frame");
	helper_start(&dev, device_writer, buf, 1);
	helper_start(&reader, frame_reader, buf, 2);
	map = buf_map(buf);
	helper_run(&dev);	/* the device has written frame 1 */
	buf_sync(buf, DMA_BUF_SYNC_START | ACCESS);
	retag(map);
	buf_sync(buf, DMA_BUF_SYNC_END | ACCESS);
	v = helper_run(&reader);	/* the consumer reads frame 2 */
	helper_wait(&dev);
	helper_wait(&reader);
	print_verdict(v);
	buf_unmap(map);
	close(buf);
	return 0;
}

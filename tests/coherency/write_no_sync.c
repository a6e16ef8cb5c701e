// SPDX-License-Identifier: MIT
/*
 * write_no_sync.c - a producer fills a frame without DMA_BUF_SYNC_START|WRITE ... END|WRITE
 * and hands it to a consumer process (the bug; FIXED brackets the writes).
 */
#include "corpus.h"

int main(void)
{
	struct helper reader;
	uint32_t *map;
	char v;
	int buf;

	buf = buf_alloc("frame");
	helper_start(&reader, frame_reader, buf, 1);
	map = buf_map(buf);
#ifdef FIXED
	buf_sync(buf, SYNC_START_WRITE);
#endif
	frame_fill(map, 1);
#ifdef FIXED
	buf_sync(buf, SYNC_END_WRITE);
#endif
	v = helper_run(&reader);	/* the consumer reads frame 1 */
	helper_wait(&reader);
	print_verdict(v);
	buf_unmap(map);
	close(buf);
	return 0;
}

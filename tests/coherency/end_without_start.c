// SPDX-License-Identifier: MIT
/*
 * end_without_start.c - a correct START|WRITE ... END|WRITE, then a clean-up path that ends
 * CPU access once more (the bug; FIXED does not).  The extra END does no cache maintenance:
 * the data is right, the bracket sequence is not.
 */
#include "corpus.h"

static void finish(int buf)
{
#ifndef FIXED
	buf_sync(buf, SYNC_END_WRITE);	/* "make sure access is ended" */
#endif
	(void)buf;
}

int main(void)
{
	struct helper reader;
	uint32_t *map;
	char v;
	int buf;

	buf = buf_alloc("frame");
	helper_start(&reader, frame_reader, buf, 1);
	map = buf_map(buf);
	buf_sync(buf, SYNC_START_WRITE);
	frame_fill(map, 1);
	buf_sync(buf, SYNC_END_WRITE);
	finish(buf);
	v = helper_run(&reader);	/* the consumer reads frame 1 */
	helper_wait(&reader);
	print_verdict(v);
	buf_unmap(map);
	close(buf);
	return 0;
}

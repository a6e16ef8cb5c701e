// SPDX-License-Identifier: MIT
/*
 * unbalanced_at_exit.c - a producer writes a frame inside START|WRITE and never ends the
 * access: it hands the frame to a consumer and exits with the bracket open (the bug; FIXED
 * ends it).  Nothing is written back.
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
	buf_sync(buf, SYNC_START_WRITE);
	frame_fill(map, 1);
#ifdef FIXED
	buf_sync(buf, SYNC_END_WRITE);
#endif
	v = helper_run(&reader);	/* the consumer reads frame 1 */
	helper_wait(&reader);
	print_verdict(v);
	return 0;		/* the buffer and its mapping go with the process */
}

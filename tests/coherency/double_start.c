// SPDX-License-Identifier: MIT
/*
 * double_start.c - the drawing code begins CPU access although its caller already did: two
 * START|WRITE, one END|WRITE.  A refcounting exporter still counts one access open after the
 * END, so nothing is written back (the bug; FIXED leaves the bracket to the caller).
 */
#include "corpus.h"

/* Draw frame 1; the caller brackets the access. */
static void draw(int buf, uint32_t *map)
{
#ifndef FIXED
	buf_sync(buf, SYNC_START_WRITE);	/* "to be safe" */
#endif
	frame_fill(map, 1);
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
	draw(buf, map);
	buf_sync(buf, SYNC_END_WRITE);
	v = helper_run(&reader);	/* the consumer reads frame 1 */
	helper_wait(&reader);
	print_verdict(v);
	buf_unmap(map);
	close(buf);
	return 0;
}

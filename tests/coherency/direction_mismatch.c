// SPDX-License-Identifier: MIT
/*
 * direction_mismatch.c - CPU access begun with START|RW and ended with END|READ, the flags of
 * the read path the code was copied from: the exporter is told the CPU did not write, so
 * nothing is written back (the bug; FIXED ends with END|RW).
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
	buf_sync(buf, SYNC_START_RW);
	frame_fill(map, 1);
#ifdef FIXED
	buf_sync(buf, SYNC_END_RW);
#else
	buf_sync(buf, SYNC_END_READ);
#endif
	v = helper_run(&reader);	/* the consumer reads frame 1 */
	helper_wait(&reader);
	print_verdict(v);
	buf_unmap(map);
	close(buf);
	return 0;
}

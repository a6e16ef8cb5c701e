/* SPDX-License-Identifier: MIT */
/*
 * sw_fences.h - sw_sync timelines and points through the fd-level API, for tests that need
 * them to work (a failure bails out); header only.
 */
#ifndef DMABUF_TESTS_SW_FENCES_H
#define DMABUF_TESTS_SW_FENCES_H

#include <fcntl.h>
#include <stdint.h>
#include <string.h>

#include <dmabuf/fd.h>

#include "tap.h"

#ifndef SW_FENCE_NAME
#define SW_FENCE_NAME "test"
#endif

/* A new sw_sync timeline (close-on-exec). */
static int timeline(void)
{
	int tl = dmabuf_fd_sw_timeline_create(O_CLOEXEC);

	if (tl < 0)
		bail_out("sw_sync timeline: %s", strerror(-tl));
	return tl;
}

/* A sync_file of point @value on @tl, named SW_FENCE_NAME. */
static int fence(int tl, uint32_t value)
{
	int f = dmabuf_fd_sw_fence_create(tl, value, SW_FENCE_NAME);

	if (f < 0)
		bail_out("sw_sync fence: %s", strerror(-f));
	return f;
}

#endif /* DMABUF_TESTS_SW_FENCES_H */

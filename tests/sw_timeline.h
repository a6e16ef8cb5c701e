/* SPDX-License-Identifier: MIT */
/*
 * sw_timeline.h - sw_sync timelines and points for the tests, bailing out
 * when one cannot be made.
 */
#ifndef DMABUF_TEST_SW_TIMELINE_H
#define DMABUF_TEST_SW_TIMELINE_H

#include <stdint.h>

#include <dmabuf/fence.h>
#include <dmabuf/sw_sync.h>

#include "tap.h"

static inline struct dmabuf_sw_timeline *new_timeline(const char *name)
{
	struct dmabuf_sw_timeline *tl = NULL;

	if (dmabuf_sw_timeline_create(name, &tl) || !tl)
		bail_out("cannot create timeline");
	return tl;
}

/* A new point of @tl that signals when the timeline reaches @value. */
static inline struct dmabuf_fence *new_point(struct dmabuf_sw_timeline *tl,
					     uint32_t value)
{
	struct dmabuf_fence *f = NULL;

	if (dmabuf_sw_timeline_create_fence(tl, value, &f) || !f)
		bail_out("cannot create point %u", value);
	return f;
}

#endif /* DMABUF_TEST_SW_TIMELINE_H */

/* SPDX-License-Identifier: MIT */
/*
 * trace.h - the broker's events for `dmabufctl trace` (the recorder: src/client/trace.h).
 *
 * Call each hook only when dmabuf_trace_on(): with DMABUF_TRACE_DIR unset at the broker's
 * start that test is all tracing costs.  Buffers and sync_files are named by the inode of
 * the clients' descriptors (the object's key), fences by "<context>:<seqno>".
 */
#ifndef DMABUFD_TRACE_H
#define DMABUFD_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../client/trace.h"

struct dmabuf_fence;

/* buf_create: buffer @buf of @size bytes from @exporter (@heap: "" for a udmabuf) for @client. */
void dmabufd_trace_buf_create(uint64_t buf, uint64_t size, const char *exporter,
			      const char *heap, pid_t client);
/* buf_release: the buffer's last descriptor and mapping are gone. */
void dmabufd_trace_buf_release(uint64_t buf);
/* buf_name: SET_NAME succeeded (@name NULL: the name was cleared). */
void dmabufd_trace_buf_name(uint64_t buf, const char *name);
/* fence_add for each leaf of @fence, imported into buffer @buf as a write or read fence. */
void dmabufd_trace_fence_add(uint64_t buf, struct dmabuf_fence *fence, bool write);
/*
 * sf_create: sync_file @sf, whose fence is @fence, was handed to a client.  Its pending leaves
 * are watched from now on: each gives a fence_signal when it signals.
 */
void dmabufd_trace_sf_create(uint64_t sf, struct dmabuf_fence *fence);

#endif /* DMABUFD_TRACE_H */

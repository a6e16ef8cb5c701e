/* SPDX-License-Identifier: MIT */
/*
 * trace_render.h - a directory of recorded events (DMABUF_TRACE_DIR, src/client/trace.h) made
 * into a Chrome trace (JSON, for the Perfetto UI or chrome://tracing) and an SVG timeline.
 *
 * Built as the static library trace_render_lib (src/tools/meson.build) for dmabufctl and the
 * demo.  Not installed.
 */
#ifndef DMABUF_TRACE_RENDER_H
#define DMABUF_TRACE_RENDER_H

#include <stddef.h>
#include <stdint.h>

/**
 * struct dmabuf_trace_summary - what a rendered trace held.
 * @events: events read.
 * @skipped: lines that were not events (malformed, or cut short by a killed process).
 * @processes: distinct processes (SVG lanes).
 * @threads: distinct threads.
 * @slices: intervals drawn (SYNC brackets, waits, jobs, pending fences, live buffers).
 * @duration_ns: from the first event to the last.
 */
struct dmabuf_trace_summary {
	size_t events;
	size_t skipped;
	size_t processes;
	size_t threads;
	size_t slices;
	int64_t duration_ns;
};

/**
 * dmabuf_trace_render() - merge every <pid>.jsonl file of @dir, order the events by time and
 * write them to @json_path (Chrome trace event format: a traceEvents array) and @svg_path (a
 * timeline with one lane per process, a row per thread).
 * @dir: the directory the processes recorded into.
 * @json_path: the Chrome trace to write, or NULL.
 * @svg_path: the SVG to write, or NULL.
 *
 * Interval events become slices: sync_start/sync_end of a buffer in a process (nestable async
 * slices, category "sync"), wait_begin/wait_end (complete slices of the waiting thread),
 * job_begin/job_end (complete slices of the device's thread; a flow arrow from job_submit),
 * a fence from its first sf_create or fence_add to its fence_signal (async, category
 * "fence"), a buffer from buf_create to buf_release (async, category "buffer").  Every other
 * event is an instant; an end without its beginning too.  A slice still open at the end of
 * the trace ends there, with "unfinished": true in its args.
 *
 * Returns 0, or a negative errno: -ENOENT (no such directory), -ENODATA (no event in it), or
 * the error of reading or writing a file.
 */
int dmabuf_trace_render(const char *dir, const char *json_path, const char *svg_path);

/* dmabuf_trace_render() that also fills in *@sum (if not NULL) on success. */
int dmabuf_trace_render_summary(const char *dir, const char *json_path, const char *svg_path,
				struct dmabuf_trace_summary *sum);

#endif /* DMABUF_TRACE_RENDER_H */

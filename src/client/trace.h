/* SPDX-License-Identifier: MIT */
/*
 * trace.h - the event recorder behind `dmabufctl trace`; not installed.
 *
 * With DMABUF_TRACE_DIR set when the library is loaded (read once, by a constructor), each
 * process appends its events to DMABUF_TRACE_DIR/<pid>.jsonl, one JSON object per line and
 * one write(2) per line (O_APPEND, so threads and processes never interleave within a line):
 *
 *   {"ts":<CLOCK_MONOTONIC ns>,"pid":P,"tid":T,"proc":"<comm>","ev":"<name>", fields...}
 *
 * The file is opened at the first event (a child of fork() opens its own), so a process that
 * records nothing leaves no file.  With the variable unset every hook costs one test of
 * dmabuf_trace_enabled.  The same recorder runs in the library, in the preload library and in
 * dmabufd (src/broker/trace.c adds the broker's events).
 *
 * Events and their fields (buffers by the inode of their descriptors, "buf"; sync_files by
 * theirs, "sf"; fences as "<context>:<seqno>" in the broker, where they live):
 *   client (fd.c, after success):
 *     sync_start / sync_end {buf, flags: "READ"|"WRITE"|"RW"}
 *     export {buf, flags, sf}   import {buf, flags, sf}
 *     wait_begin {what: "buf"|"sf", id, events}   wait_end {what, id, events, result}
 *       (dmabuf_fd_buf_wait(): events "READ"|"WRITE"|"RW" as asked; dmabuf_fd_sync_wait()
 *       and libsync's sync_wait(): events ""; result 0 or a negative errno)
 *   the software device (swdev.c, client side; the helpers below):
 *     attach / detach {buf, dev}
 *     job_submit / job_begin / job_end {dev, job, sf}   (sf: the job's fence's sync_file;
 *       the renderer finds its fence through the broker's sf_create)
 *   broker (src/broker/trace.c):
 *     buf_create {buf, size, exporter, heap, client}   buf_release {buf}   buf_name {buf, name}
 *     fence_add {buf, fence, usage: "write"|"read", pending: 0|1}   (each leaf fence of an
 *       imported sync_file; pending: not signaled yet)
 *     fence_signal {fence, timeline, status}   (a fence of a sync_file the broker handed out
 *       signals: status 1, or the error it signaled with; ts is the fence's timestamp)
 *     sf_create {sf, fences: "<ctx>:<seqno>[,...]", pending: the same list, of those not
 *       signaled yet}   (a sync_file handed to a client: sw_sync, MERGE, EXPORT_SYNC_FILE)
 *
 * Under the preload library a program that also links libdmabuf has two recorders: the
 * preload's records the uAPI calls, the library's only what does not reach the preload.
 */
#ifndef DMABUF_CLIENT_TRACE_H
#define DMABUF_CLIENT_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Set by the constructor when DMABUF_TRACE_DIR is set (and not empty). */
extern bool dmabuf_trace_enabled;

/* LD_PRELOAD had libdmabuf-preload.so when the library was loaded. */
extern bool dmabuf_trace_preloaded;

static inline bool dmabuf_trace_on(void)
{
	return __builtin_expect(dmabuf_trace_enabled, 0);
}

/* ---- building one event ---- */

#define DMABUF_TRACE_LINE_MAX	1024

/* One event being built: a line of JSON.  Fields that do not fit are left out. */
struct dmabuf_trace_ev {
	size_t len;
	char buf[DMABUF_TRACE_LINE_MAX];
};

/*
 * Start event @name at @ts_ns (CLOCK_MONOTONIC; negative: now), with the ts, pid, tid, proc
 * and ev fields.  False when nothing can be recorded (tracing off, no file): then skip the
 * rest.
 */
bool dmabuf_trace_begin(struct dmabuf_trace_ev *e, const char *name, int64_t ts_ns);
/* Add a field: a string (escaped as JSON needs), a signed or an unsigned number. */
void dmabuf_trace_str(struct dmabuf_trace_ev *e, const char *key, const char *val);
void dmabuf_trace_int(struct dmabuf_trace_ev *e, const char *key, int64_t val);
void dmabuf_trace_uint(struct dmabuf_trace_ev *e, const char *key, uint64_t val);
/* Close the object and append the line to the process's file (one write). */
void dmabuf_trace_end(struct dmabuf_trace_ev *e);

/* CLOCK_MONOTONIC now, in ns. */
int64_t dmabuf_trace_now(void);

/* ---- helpers for the hooks (call only when dmabuf_trace_on()) ---- */

/* The inode number of @fd (what "buf" and "sf" hold), or 0 if fstat() fails. */
uint64_t dmabuf_trace_ino(int fd);

/* "READ", "WRITE", "RW" for the DMA_BUF_SYNC_READ/WRITE bits of @flags, else "". */
const char *dmabuf_trace_rw(uint64_t flags);

/* A successful DMA_BUF_IOCTL_SYNC with @flags on @fd (fstat @st, or NULL: made here). */
void dmabuf_trace_sync(int fd, const struct stat *st, uint64_t flags);

/* EXPORT_SYNC_FILE with @flags from buffer @fd gave sync_file @sf; IMPORT took @sf. */
void dmabuf_trace_export(int fd, unsigned int flags, int sf);
void dmabuf_trace_import(int fd, unsigned int flags, int sf);

/*
 * wait_begin (@result ignored) or wait_end: @what "buf" or "sf", @id the inode of the
 * descriptor waited on, @events the access for a buffer, "" for a sync_file.
 */
void dmabuf_trace_wait(const char *ev, const char *what, uint64_t id, const char *events,
		       int result);

/*
 * For the software device (swdev.c): @ev "attach" or "detach" of buffer inode @buf to
 * device @dev.
 */
void dmabuf_trace_attach(const char *ev, uint64_t buf, const char *dev);

/*
 * For the software device: @ev "job_submit", "job_begin" or "job_end" of job number @job
 * (the device's own count) on device @dev; @sf the inode of the job's fence's sync_file
 * (dmabuf_trace_ino() of the descriptor dmabuf_swdev_submit() returns), 0 if unknown.
 */
void dmabuf_trace_job(const char *ev, const char *dev, uint64_t job, uint64_t sf);

#endif /* DMABUF_CLIENT_TRACE_H */

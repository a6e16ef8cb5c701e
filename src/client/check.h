/* SPDX-License-Identifier: MIT */
/*
 * check.h - the coherency checker's hooks in the fd-level API; not installed.
 *
 * With DMABUF_CHECK_COHERENCY set (dmabuf-run --check-coherency), every CPU mapping of a
 * dma-buf made by dmabuf_fd_buf_mmap() is kept accessible only as the buffer's SYNC
 * brackets allow: no bracket open, no access; START|READ, read-only; START|WRITE or RW, the
 * protection asked for.  An access outside that faults, and the fault is reported (and then
 * allowed until the next bracket change); so are misused brackets.  docs/coherency.md has
 * the rules and the report format.  With the variable unset every hook is one test of
 * dmabuf_check_mode.
 *
 * The checker keeps its state under the mapping table's lock (maps.h).
 */
#ifndef DMABUF_CLIENT_CHECK_H
#define DMABUF_CLIENT_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "maps.h"

/* DMABUF_CHECK_COHERENCY: off, report and continue, abort at the first report. */
enum dmabuf_check_mode {
	DMABUF_CHECK_OFF = 0,
	DMABUF_CHECK_REPORT = 1,
	DMABUF_CHECK_ABORT = 2,
};

/* Set from the environment when the library is loaded. */
extern int dmabuf_check_mode;

static inline bool dmabuf_check_on(void)
{
	return __builtin_expect(dmabuf_check_mode != DMABUF_CHECK_OFF, 0);
}

/*
 * Buffer @fd (fstat @st) is about to be mapped: learn what reports say of it and how to ask
 * for its fences (may call the broker).  No lock held.
 */
void dmabuf_check_prepare(int fd, const struct stat *st);

/*
 * Locked: @m was just mapped with @m->prot and is about to be recorded.  Narrow it to what
 * the buffer's bracket state allows (sets @m->cur_prot and applies it with mprotect()).
 */
void dmabuf_check_mapped(struct dmabuf_map *m);

/* Locked: mappings went away; the state of buffers with no mapping and no bracket goes. */
void dmabuf_check_unmapped(void);

/* DMA_BUF_IOCTL_SYNC with @flags succeeded on @fd (fstat @st).  No lock held. */
void dmabuf_check_synced(int fd, const struct stat *st, uint64_t flags);

/* DMA_BUF_SET_NAME succeeded on the buffer of @st: reports use @name from now on. */
void dmabuf_check_named(const struct stat *st, const char *name);

#endif /* DMABUF_CLIENT_CHECK_H */

/* SPDX-License-Identifier: MIT */
/*
 * cpu_views.h - this process's CPU views of incoherent buffers from the broker; not installed.
 *
 * An incoherent buffer's memory (the memfd the broker hands out) is its device view: what
 * other processes and devices see.  Each process that maps it works on a CPU view of its
 * own (src/core/cpu_view.h), created at its first mmap or SYNC START of the buffer, moved
 * on by SYNC (fetch at the first START with READ, write-back at the last END with WRITE)
 * and dropped when the process has neither a mapping of it nor an access open.  A forked
 * child gets copies.  Everything here runs under the mapping table's lock (maps.h).
 */
#ifndef DMABUF_CLIENT_CPU_VIEWS_H
#define DMABUF_CLIENT_CPU_VIEWS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/*
 * Map @len bytes from byte @offset (checked) of incoherent buffer @fd (fstat @st) through
 * the process's CPU view.  Returns 0 with the address in *@out, or a negative errno.
 */
int dmabuf_cpu_views_mmap(int fd, const struct stat *st, void *addr, size_t len, int prot,
			  int flags, uint64_t offset, void **out);

/* SYNC with @flags succeeded on incoherent buffer @fd (fstat @st). */
void dmabuf_cpu_views_synced(int fd, const struct stat *st, uint64_t flags);

/* Locked: mappings went away; views with no mapping and no access open go too. */
void dmabuf_cpu_views_unmapped(void);

/*
 * Locked, around fork(): before it every view is copied; the parent drops the copies, the
 * child's views and their shared mappings move onto them (its cache starts as its parent's
 * was at the fork).
 */
void dmabuf_cpu_views_atfork_prepare(void);
void dmabuf_cpu_views_atfork_parent(void);
void dmabuf_cpu_views_atfork_child(void);

#endif /* DMABUF_CLIENT_CPU_VIEWS_H */

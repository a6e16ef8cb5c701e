/* SPDX-License-Identifier: MIT */
/*
 * maps.h - the process's CPU mappings of dma-bufs; not installed.
 *
 * Every mapping that dmabuf_fd_buf_mmap() makes is recorded here until munmap(), mremap() or
 * a MAP_FIXED mapping over it removes it: the address range, the buffer it maps (its file,
 * st_dev/st_ino), the byte offset of the range's start in the buffer, the protection the
 * caller asked for and the one it has now (the coherency checker narrows it).  Ranges are
 * sorted and disjoint; unmapping the middle of one leaves two, as the kernel's VMAs do.
 *
 * The table has one lock, recursive per thread, held across fork() (the child gets a
 * consistent table).  Functions marked "locked" need it held; the others take it.
 */
#ifndef DMABUF_CLIENT_MAPS_H
#define DMABUF_CLIENT_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/**
 * struct dmabuf_map - one mapping of a dma-buf.
 * @start: first address.
 * @end: address after the last page.
 * @dev: the buffer's st_dev.
 * @ino: the buffer's st_ino.
 * @offset: byte offset in the buffer of @start.
 * @prot: the protection asked for at mmap().
 * @cur_prot: the protection it has now.
 * @shared: MAP_SHARED (else MAP_PRIVATE).
 */
struct dmabuf_map {
	uintptr_t start;
	uintptr_t end;
	dev_t dev;
	ino_t ino;
	uint64_t offset;
	int prot;
	int cur_prot;
	bool shared;
};

void dmabuf_maps_lock(void);
void dmabuf_maps_unlock(void);

/* Whether any mapping is recorded (no lock: a hint for fast paths). */
bool dmabuf_maps_used(void);

/* Locked: record @m; whatever was recorded in its range is dropped first. */
void dmabuf_maps_add(const struct dmabuf_map *m);

/* Locked: nothing is mapped in [@lo, @hi) any more (CPU views left unmapped go too). */
void dmabuf_maps_drop(uintptr_t lo, uintptr_t hi);

/* Locked: the mapping holding @addr, or NULL.  Valid until the table changes. */
struct dmabuf_map *dmabuf_maps_lookup(uintptr_t addr);

/* Locked: call @fn for every mapping of the buffer (@dev, @ino), in address order. */
void dmabuf_maps_each(dev_t dev, ino_t ino, void (*fn)(struct dmabuf_map *m, void *arg),
		      void *arg);

/* The number of mappings of the buffer (@dev, @ino) (fdinfo's count has one per mapping). */
unsigned int dmabuf_maps_count(dev_t dev, ino_t ino);

/*
 * munmap(2) of [@addr, +@len) and the table after it; what goes away is told to the CPU
 * views and the checker.  Returns munmap's result (-1 with errno).
 */
int dmabuf_maps_munmap(void *addr, size_t len);

/*
 * The table after mremap(2) moved or shrank [@old, +@old_len) (recorded as @hit, a copy, or
 * NULL when it was not a dma-buf mapping) to [@p, +@new_len).  Locked.
 */
void dmabuf_maps_remapped(const struct dmabuf_map *hit, uintptr_t old, size_t old_len,
			  uintptr_t p, size_t new_len);

/* @len rounded up to whole pages; 0 when that wraps. */
uintptr_t dmabuf_maps_page_len(size_t len);

#endif /* DMABUF_CLIENT_MAPS_H */

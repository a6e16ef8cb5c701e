/* SPDX-License-Identifier: MIT */
/*
 * cpu_view.h - the CPU side of an incoherent buffer; not installed.
 *
 * An incoherent buffer's memory is what devices see (the device view).  A CPU that maps it
 * works on its own copy, the CPU view, as a CPU with a cache that the device does not snoop
 * would: data moves between the two only when CPU access begins (fetch: the device's data
 * replaces the copy) and ends (write-back: the bytes the CPU changed go to the device).
 * The model is deterministic: a program that skips the brackets sees stale data every time.
 *
 * The view is one memfd of 2 * size bytes: [0, size) is what CPU mappings map, [size,
 * 2 * size) the clean copy, what the CPU view held after its last fetch or write-back.  A
 * byte that differs from its clean copy is dirty.  Accesses are counted, as a refcounting
 * exporter does: the first begin with READ fetches, the last end with WRITE writes back, an
 * end with no access open does nothing.
 *
 * Not thread-safe: callers serialize the calls on one view.
 */
#ifndef DMABUF_CORE_CPU_VIEW_H
#define DMABUF_CORE_CPU_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * struct dmabuf_cpu_view - one CPU's copy of an incoherent buffer.
 * @fd: the view's memfd (2 * @size bytes).
 * @cpu: the library's own mapping of the CPU view.
 * @clean: the library's own mapping of the clean copy.
 * @dev: the library's mapping of the device view.
 * @size: the buffer size.
 * @count: CPU accesses open.
 */
struct dmabuf_cpu_view {
	int fd;
	uint8_t *cpu;
	uint8_t *clean;
	uint8_t *dev;
	uint64_t size;
	unsigned int count;
};

/*
 * Make a view of the @size bytes of device memory @dev_fd (a memfd, from offset 0),
 * starting as a copy of it.  @dev_fd is not kept.  Returns 0 or a negative errno.
 */
int dmabuf_cpu_view_init(struct dmabuf_cpu_view *v, int dev_fd, uint64_t size);

/* Undo dmabuf_cpu_view_init(); mappings made with dmabuf_cpu_view_mmap() stay valid. */
void dmabuf_cpu_view_fini(struct dmabuf_cpu_view *v);

/* CPU access begins: @read says whether it reads (READ or RW).  See the header comment. */
void dmabuf_cpu_view_begin(struct dmabuf_cpu_view *v, bool read);

/* CPU access ends: @write says whether the END has WRITE.  See the header comment. */
void dmabuf_cpu_view_end(struct dmabuf_cpu_view *v, bool write);

/*
 * mmap(2) of the CPU view: @len bytes from byte @offset (page-aligned, inside the buffer,
 * checked by the caller) with mmap's @prot and @flags at or near @addr.  Returns 0 with the
 * address in *@out, or a negative errno.
 */
int dmabuf_cpu_view_mmap(struct dmabuf_cpu_view *v, void *addr, size_t len, int prot,
			 int flags, uint64_t offset, void **out);

/**
 * struct dmabuf_cpu_view_copy - a copy of a view's memory, for a fork child.
 * @fd: its memfd.
 * @cpu: its mapping (2 * size bytes).
 */
struct dmabuf_cpu_view_copy {
	int fd;
	uint8_t *cpu;
};

/*
 * Copy @v's memory (the CPU view and its clean copy) into *@c: done before fork(), so that
 * the child's cache starts as its parent's was at the fork.  Returns 0 or a negative errno.
 */
int dmabuf_cpu_view_copy_make(const struct dmabuf_cpu_view *v, struct dmabuf_cpu_view_copy *c);

/* The parent after fork(): the copy is the child's, not ours. */
void dmabuf_cpu_view_copy_drop(const struct dmabuf_cpu_view *v, struct dmabuf_cpu_view_copy *c);

/*
 * The child after fork(): @v works on the copy from now on, with no access open (its
 * parent's are its parent's).  The caller moves the shared
 * mappings it made with dmabuf_cpu_view_mmap() (dmabuf_cpu_view_remap()).
 */
void dmabuf_cpu_view_copy_adopt(struct dmabuf_cpu_view *v, struct dmabuf_cpu_view_copy *c);

/*
 * Put the memfd of @v at [@addr, +@len), mapping byte @offset on, with @prot (a shared
 * mapping that dmabuf_cpu_view_copy_adopt() left on the parent's memfd).  Returns 0 or a
 * negative errno.
 */
int dmabuf_cpu_view_remap(struct dmabuf_cpu_view *v, void *addr, size_t len, int prot,
			  uint64_t offset);

#endif /* DMABUF_CORE_CPU_VIEW_H */

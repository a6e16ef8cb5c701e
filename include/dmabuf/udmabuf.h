/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/udmabuf.h - dma-bufs that alias the pages of memfds (the kernel's
 * /dev/udmabuf).
 *
 * A udmabuf is made of one or more page-aligned ranges of sealed memfds,
 * laid out one after the other.  Writes through the memfd and through the
 * buffer's mappings see each other.  The buffer keeps its own duplicate of
 * each memfd, so the caller may close theirs.  The rules of the
 * UDMABUF_CREATE / UDMABUF_CREATE_LIST uAPI, with the module's default
 * limits, live in the functions below; an fd layer only copies arguments
 * (EFAULT) and maps ENOTTY for unknown requests.
 *
 * Buffers are O_RDWR, exporter name "udmabuf", map info COHERENT_CACHED
 * (udmabuf pages are ordinary cached memory; on x86 the kernel's CPU-access
 * syncs are no-ops).  As in the kernel: a CPU-access END before any START
 * fails with -EINVAL, and private (MAP_PRIVATE) mappings are refused.
 */
#ifndef DMABUF_UDMABUF_H
#define DMABUF_UDMABUF_H

#include <dmabuf/api.h>

#include <stdint.h>

#include <dmabuf/dma_buf.h>

DMABUF_BEGIN_DECLS

/** The buffer's fd is close-on-exec (O_CLOEXEC in dmabuf_buf_flags()). */
#define DMABUF_UDMABUF_FLAGS_CLOEXEC 0x01

/** Most items a list may have (the module's list_limit default). */
#define DMABUF_UDMABUF_LIST_LIMIT 1024
/** Largest buffer, in MiB (the module's size_limit_mb default). */
#define DMABUF_UDMABUF_SIZE_LIMIT_MB 64

/**
 * struct dmabuf_udmabuf_item - one range (the uAPI's udmabuf_create_item).
 * @memfd: the memfd.
 * @pad: ignored.
 * @offset: byte offset in the memfd, page-aligned.
 * @size: bytes, page-aligned, nonzero.
 */
struct dmabuf_udmabuf_item {
	uint32_t memfd;
	uint32_t pad;
	uint64_t offset;
	uint64_t size;
};

/**
 * dmabuf_udmabuf_create() - UDMABUF_CREATE: a buffer aliasing
 * [@offset, @offset + @size) of @memfd.  Same as a one-item
 * dmabuf_udmabuf_create_list().
 */
DMABUF_API int dmabuf_udmabuf_create(int memfd, uint32_t flags,
				     uint64_t offset, uint64_t size,
				     struct dmabuf_buf **out);

/**
 * dmabuf_udmabuf_create_list() - UDMABUF_CREATE_LIST: a buffer made of the
 * @count ranges of @items, concatenated in order.
 * @flags: DMABUF_UDMABUF_FLAGS_CLOEXEC; other bits are ignored.
 * @out: receives the buffer (one reference).
 *
 * Checks in the kernel's order: @count above DMABUF_UDMABUF_LIST_LIMIT:
 * -EINVAL; @items NULL with @count nonzero: -EFAULT; any item's offset or
 * size not page-aligned, or the running total above
 * DMABUF_UDMABUF_SIZE_LIMIT_MB: -EINVAL; a total of 0 (no items): -EINVAL;
 * -ENOMEM; then item by item: an fd that is not open, or not a memfd nor
 * any tmpfs/hugetlbfs file: -EBADFD; a memfd without F_SEAL_SHRINK or
 * with F_SEAL_WRITE or F_SEAL_FUTURE_WRITE (a tmpfs file that is not a
 * memfd, whose seals are fixed to F_SEAL_SEAL, lands here too): -EINVAL; a
 * range of size 0 or not within the memfd's size: -EINVAL.  Returns 0 or
 * the error; nothing is left behind on error (no fd stays open).
 */
DMABUF_API int dmabuf_udmabuf_create_list(uint32_t flags, uint32_t count,
					  const struct dmabuf_udmabuf_item *items,
					  struct dmabuf_buf **out);

DMABUF_END_DECLS

#endif /* DMABUF_UDMABUF_H */

/* SPDX-License-Identifier: MIT */
/*
 * internal.h - helpers shared by the core object model; not installed.
 */
#ifndef DMABUF_CORE_INTERNAL_H
#define DMABUF_CORE_INTERNAL_H

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <dmabuf/dma_buf.h>

/* Allocation: every core allocation goes through these (failure injection). */
void *dmabuf_malloc(size_t size);
void *dmabuf_calloc(size_t nmemb, size_t size);
void *dmabuf_realloc_array(void *ptr, size_t nmemb, size_t size);
void dmabuf_free(void *ptr);

/*
 * A one-shot wake-up word for a sleeping thread (futex based).  The waker
 * sets it and wakes; the sleeper sleeps while it is 0.
 */
struct dmabuf_waiter {
	atomic_uint woken;
};

/* Wake every thread sleeping in dmabuf_waiter_sleep() on @w. */
void dmabuf_waiter_wake(struct dmabuf_waiter *w);

/*
 * Sleep until @w is woken or the absolute CLOCK_MONOTONIC time @deadline_ns
 * passes (negative: no deadline).  Returns 0 if woken, -ETIME otherwise.
 */
int dmabuf_waiter_sleep(struct dmabuf_waiter *w, int64_t deadline_ns);

/* Block while *@word == @val, until woken or @deadline_ns (<0: never). */
int dmabuf_futex_wait(atomic_uint *word, unsigned int val, int64_t deadline_ns);
/* Wake up to @n threads blocked on @word. */
void dmabuf_futex_wake(atomic_uint *word, int n);

/* Absolute deadline for a relative timeout (<0 stays infinite). */
int64_t dmabuf_deadline_from_timeout(int64_t timeout_ns);

#define DMABUF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * mmap(2) and munmap(2) as the system calls themselves: mappings the preload library's libc
 * wrappers must not see (a CPU view's own memory, a device's view of a buffer).
 */
static inline void *dmabuf_sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
				    uint64_t offset)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, (off_t)offset);
}

static inline int dmabuf_sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

/* The CPU page size: the unit of mmap offsets, heap sizes and udmabuf ranges. */
uint64_t dmabuf_page_size(void);

/*
 * A buffer of @len bytes the machine could never hold (more than its RAM, or more than an
 * off_t): heaps fail it up front with -ENOMEM, as the kernel's would once out of pages.
 */
bool dmabuf_len_too_large(uint64_t len);

/* The built-in heaps (heap_system.c, heap_uncached.c, heap_incoherent.c); constant. */
extern const struct dmabuf_heap dmabuf_system_heap;
extern const struct dmabuf_heap dmabuf_uncached_heap;
extern const struct dmabuf_heap dmabuf_incoherent_heap;

/*
 * Buffers backed by one sealed, zero-filled memfd (heap_system.c): the "system" and
 * "system-uncached" heaps, and the device memory of the "incoherent" heap.  The buffer's
 * private data (dmabuf_buf_priv()) is the struct dmabuf_memfd_buf, alone or embedded.
 */
struct dmabuf_memfd_buf {
	int memfd;
	uint64_t len;
};

/*
 * A zero-filled memfd of @len bytes named "dmabuf-<@exp_name>" that can never change size
 * (F_SEAL_SHRINK, F_SEAL_GROW, and @seals): the memory of a heap buffer.  The descriptor
 * (close-on-exec), or a negative errno (-ENOMEM for a size the machine does not hold).
 */
int dmabuf_sealed_memfd(const char *exp_name, uint64_t len, int seals);

/*
 * Give @mb a memfd of @info->size bytes named "dmabuf-<@info->exp_name>" and export a
 * buffer with @info, whose priv must lead to @mb.  Returns 0, or a negative errno (-ENOMEM
 * for a size no machine holds) with no memfd left open.
 */
int dmabuf_memfd_buf_export(struct dmabuf_memfd_buf *mb,
			    struct dmabuf_export_info *info,
			    struct dmabuf_buf **out);

/* A coherent heap's allocate: a struct dmabuf_memfd_buf exported with @exp_name, @map_info. */
int dmabuf_memfd_heap_alloc(const char *exp_name, enum dmabuf_map_info map_info,
			    uint64_t len, uint32_t fd_flags,
			    struct dmabuf_buf **out);

/* The ops every memfd-backed buffer shares: the memfd is what devices see. */
int dmabuf_memfd_buf_map(struct dmabuf_attachment *att,
			 enum dmabuf_data_direction dir,
			 struct dmabuf_sg_table **out);
void dmabuf_memfd_buf_unmap(struct dmabuf_attachment *att,
			    struct dmabuf_sg_table *table,
			    enum dmabuf_data_direction dir);
int dmabuf_memfd_buf_vmap(struct dmabuf_buf *buf, void **vaddr);
void dmabuf_memfd_buf_vunmap(struct dmabuf_buf *buf, void *vaddr);
int dmabuf_memfd_buf_memfd(struct dmabuf_buf *buf);

/* The heaps' mmap rule: a private (copy-on-write) mapping of more than a page is -EINVAL. */
int dmabuf_memfd_buf_check_mmap(size_t len, int flags);

#endif /* DMABUF_CORE_INTERNAL_H */

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

/* The CPU page size: the unit of mmap offsets, heap sizes and udmabuf ranges. */
uint64_t dmabuf_page_size(void);

/*
 * A buffer of @len bytes the machine could never hold (more than its RAM, or more than an
 * off_t): heaps fail it up front with -ENOMEM, as the kernel's would once out of pages.
 */
bool dmabuf_len_too_large(uint64_t len);

#endif /* DMABUF_CORE_INTERNAL_H */

// SPDX-License-Identifier: MIT
/*
 * waiter.c - sleeping and waking threads with futexes, and timeouts.
 */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <dmabuf/fence.h>

#include "internal.h"

int64_t dmabuf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t dmabuf_deadline_from_timeout(int64_t timeout_ns)
{
	int64_t now;

	if (timeout_ns < 0)
		return -1;
	now = dmabuf_now_ns();
	if (timeout_ns > INT64_MAX - now)
		return -1;
	return now + timeout_ns;
}

int dmabuf_futex_wait(atomic_uint *word, unsigned int val, int64_t deadline_ns)
{
	struct timespec ts, *tsp = NULL;
	long ret;

	if (deadline_ns >= 0) {
		if (dmabuf_now_ns() >= deadline_ns)
			return -ETIME;
		ts.tv_sec = deadline_ns / 1000000000LL;
		ts.tv_nsec = deadline_ns % 1000000000LL;
		tsp = &ts;
	}
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
	ret = syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
		      val, tsp, NULL, FUTEX_BITSET_MATCH_ANY);
	if (ret < 0 && errno == ETIMEDOUT)
		return -ETIME;
	return 0;
}

void dmabuf_futex_wake(atomic_uint *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL,
		NULL, 0);
}

void dmabuf_waiter_wake(struct dmabuf_waiter *w)
{
	atomic_store_explicit(&w->woken, 1, memory_order_release);
	dmabuf_futex_wake(&w->woken, INT_MAX);
}

int dmabuf_waiter_sleep(struct dmabuf_waiter *w, int64_t deadline_ns)
{
	while (!atomic_load_explicit(&w->woken, memory_order_acquire)) {
		if (dmabuf_futex_wait(&w->woken, 0, deadline_ns) == -ETIME)
			return atomic_load(&w->woken) ? 0 : -ETIME;
	}
	return 0;
}

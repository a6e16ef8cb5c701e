/* SPDX-License-Identifier: MIT */
/*
 * test_util.h - small helpers the tests share: open-fd counting, settings
 * from the environment, a fast PRNG and a watchdog thread.
 */
#ifndef DMABUF_TEST_UTIL_H
#define DMABUF_TEST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "tap.h"

/* How many file descriptors this process has open. */
static inline int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		bail_out("cannot open /proc/self/fd");
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

/* The positive number in environment variable @name, else @def. */
static inline unsigned long env_ulong(const char *name, unsigned long def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return def;
	v = strtoul(s, &end, 10);
	return *end || !v ? def : v;
}

/* xorshift64*: the next pseudo-random number from state @s (not 0). */
static inline uint32_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t)((*s * 0x2545f4914f6cdd1dull) >> 32);
}

/*
 * A thread that bails out if watchdog_stop() is not called within
 * timeout_s seconds of watchdog_start(), after calling report() (if set)
 * to describe how far the test got.
 */
struct watchdog {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;		/* under lock */
	long timeout_s;
	void (*report)(void);
};

static inline void *watchdog_main(void *arg)
{
	struct watchdog *wd = arg;
	struct timespec deadline;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += wd->timeout_s;
	pthread_mutex_lock(&wd->lock);
	while (!wd->done && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&wd->cond, &wd->lock, &deadline);
	if (!wd->done) {
		if (wd->report)
			wd->report();
		bail_out("watchdog: not finished after %ld s (deadlock?)",
			 wd->timeout_s);
	}
	pthread_mutex_unlock(&wd->lock);
	return NULL;
}

static inline void watchdog_start(struct watchdog *wd, long timeout_s,
				  void (*report)(void))
{
	pthread_mutex_init(&wd->lock, NULL);
	pthread_cond_init(&wd->cond, NULL);
	wd->done = false;
	wd->timeout_s = timeout_s;
	wd->report = report;
	if (pthread_create(&wd->thread, NULL, watchdog_main, wd))
		bail_out("cannot start the watchdog");
}

static inline void watchdog_stop(struct watchdog *wd)
{
	pthread_mutex_lock(&wd->lock);
	wd->done = true;
	pthread_cond_signal(&wd->cond);
	pthread_mutex_unlock(&wd->lock);
	pthread_join(wd->thread, NULL);
	pthread_cond_destroy(&wd->cond);
	pthread_mutex_destroy(&wd->lock);
}

#endif /* DMABUF_TEST_UTIL_H */

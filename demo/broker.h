/* SPDX-License-Identifier: MIT */
/*
 * broker.h - the demo's private dmabufd: start it, ask its counters, stop it.
 */
#ifndef DMABUF_DEMO_BROKER_H
#define DMABUF_DEMO_BROKER_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto.h"

struct demo_broker {
	char bin[PATH_MAX];
	char sock[108];		/* sizeof(sun_path) */
	pid_t pid;
};

/*
 * Start $DMABUFD, else @tree/broker/dmabufd (a build tree's src/), else the installed dmabufd,
 * else "dmabufd" from $PATH, listening at @dir/dmabufd.sock, and wait until it listens.  It
 * gets the current environment.  0, or -errno with what went wrong in @why.
 */
int demo_broker_start(struct demo_broker *b, const char *dir, const char *tree, char *why,
		      size_t len);

/* The broker's counters (DMABUFD_OP_STATS), on a connection of our own.  0 or -errno. */
int demo_broker_stats(const struct demo_broker *b, struct dmabufd_stats *st);

/* SIGTERM the broker and reap it (SIGKILL after 5 s); no-op if not started. */
void demo_broker_stop(struct demo_broker *b);

#endif /* DMABUF_DEMO_BROKER_H */

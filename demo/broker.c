// SPDX-License-Identifier: MIT
/*
 * broker.c - the demo's private dmabufd (src/proto/private_broker.c): started in the demo's
 * own directory before the roles (so it inherits the trace directory), asked for its counters
 * at the end (DMABUFD_OP_STATS), then stopped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "private_broker.h"
#include "proto.h"
#include "rendezvous.h"

/* Milliseconds the broker gets to exit after SIGTERM, before SIGKILL. */
#define STOP_TIMEOUT_MS	5000

int demo_broker_start(struct demo_broker *b, const char *dir, const char *tree, char *why,
		      size_t len)
{
	pid_t pid;

	b->pid = 0;
	if (!dmabufd_binary(DMABUFD_PATH, tree, b->bin, sizeof(b->bin), why, len))
		return -ENOENT;
	if (snprintf(b->sock, sizeof(b->sock), "%s/dmabufd.sock", dir) >= (int)sizeof(b->sock)) {
		snprintf(why, len, "%s: path too long for a socket", dir);
		return -ENAMETOOLONG;
	}
	pid = dmabufd_private_start(b->bin, b->sock);
	if (pid < 0) {
		if (pid == -ECONNREFUSED)
			snprintf(why, len, "the broker %s did not start", b->bin);
		else
			snprintf(why, len, "cannot start the broker: %s", strerror((int)-pid));
		return (int)pid;
	}
	b->pid = pid;
	return 0;
}

/* One request and its reply on @s; the reply's payload into @reply.  0 or -errno. */
static int request(int s, struct dmabufd_msg *msg, void *reply, size_t cap)
{
	int ret = dmabufd_transact(s, msg, reply, cap, NULL);

	return ret ? ret : msg->ret;
}

int demo_broker_stats(const struct demo_broker *b, struct dmabufd_stats *st)
{
	struct dmabufd_msg msg = { .op = DMABUFD_OP_HELLO, .arg = { DMABUFD_PROTO_VERSION } };
	int s = dmabufd_connect(b->sock), ret;

	if (s < 0)
		return s;
	memset(st, 0, sizeof(*st));
	ret = request(s, &msg, NULL, 0);
	if (!ret) {
		msg = (struct dmabufd_msg){ .op = DMABUFD_OP_STATS };
		ret = request(s, &msg, st, sizeof(*st));
	}
	close(s);
	return ret;
}

void demo_broker_stop(struct demo_broker *b)
{
	if (b->pid <= 0)
		return;
	if (dmabufd_private_stop(b->pid, STOP_TIMEOUT_MS))
		fprintf(stderr, "dmabuf-demo: the broker did not exit: killed it\n");
	b->pid = 0;
}

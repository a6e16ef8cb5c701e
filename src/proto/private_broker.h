/* SPDX-License-Identifier: MIT */
/*
 * private_broker.h - start and stop a dmabufd of one's own (dmabuf-run --private, the demo);
 * not installed.
 */
#ifndef DMABUFD_PRIVATE_BROKER_H
#define DMABUFD_PRIVATE_BROKER_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Run @bin in the foreground listening at @sock and wait until it listens: in its own
 * session (a terminal's ^C is the caller's to pass on), killed with the caller if the caller
 * dies first, default signal dispositions, stdin and stdout /dev/null, the caller's stderr,
 * the caller's environment without the preload library, no other descriptor.  Returns the
 * broker's pid, or -errno (-ECONNREFUSED: it did not come up; it was reaped).
 */
pid_t dmabufd_private_start(const char *bin, const char *sock);

/*
 * SIGTERM broker @pid and reap it; SIGKILL after @timeout_ms.  Returns true when it had to be
 * killed.
 */
bool dmabufd_private_stop(pid_t pid, int timeout_ms);

#endif /* DMABUFD_PRIVATE_BROKER_H */

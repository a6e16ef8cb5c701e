/* SPDX-License-Identifier: MIT */
/*
 * broker_conn.h - the process's connection to dmabufd (started on demand); not installed.
 *
 * One SOCK_SEQPACKET connection per process, made at the first request: HELLO, then the
 * shared slot table is mapped read-only.  Requests and replies are struct dmabufd_msg
 * datagrams (src/proto/proto.h), one request at a time.  When the broker goes away the
 * connection is dropped (with the slot table and the identity cache) and the request fails
 * with -ENOTCONN; the next request connects again.
 */
#ifndef DMABUF_CLIENT_BROKER_CONN_H
#define DMABUF_CLIENT_BROKER_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

/**
 * struct broker_req - one request.
 * @msg: op, arg and name; fd_mask and len are filled in by broker_call().
 * @fds: descriptor slots; a negative one is not attached (its bit stays clear).
 * @nfds: number of slots (at most DMABUFD_MAX_FDS).
 * @payload: @len bytes following the header.
 */
struct broker_req {
	struct dmabufd_msg msg;
	const int *fds;
	unsigned int nfds;
	const void *payload;
	size_t len;
};

/**
 * struct broker_rep - where a reply goes.
 * @msg: the reply's header (ret is the request's result).
 * @fds: in: room for @nfds slots; out: the reply's descriptors by slot, -1 where absent.
 * @nfds: number of slots the caller accepts; a reply with more is malformed.
 * @payload: room for @cap bytes of payload; a longer payload is malformed.
 * @cloexec: receive the descriptors close-on-exec (MSG_CMSG_CLOEXEC).
 * @epoch: out: the connection's epoch (see broker_epoch()).
 */
struct broker_rep {
	struct dmabufd_msg msg;
	int *fds;
	unsigned int nfds;
	void *payload;
	size_t cap;
	bool cloexec;
	uint64_t epoch;
};

/*
 * One request and its reply, connecting (and maybe starting dmabufd) first if needed.
 * Returns 0 when a reply arrived (its result is rep->msg.ret), else -ENOTCONN (no broker, or
 * it went away, or it answered nonsense: the connection is dropped), -EMFILE (the reply's
 * descriptors could not all be received: they are closed), or the error of sendmsg() for a
 * request that could not be sent on a working connection (-ENOMEM, -ETOOMANYREFS, ...).
 */
int broker_call(const struct broker_req *req, struct broker_rep *rep);

/*
 * Requests that must follow each other on the connection (udmabuf lists): broker_lock(),
 * then broker_call_locked() for each, then broker_unlock().
 */
void broker_lock(void);
void broker_unlock(void);
int broker_call_locked(const struct broker_req *req, struct broker_rep *rep);

/*
 * The connection's epoch: it changes whenever a connection is made or dropped, so
 * identities learned on an older connection can be recognised (0: none yet).
 */
uint64_t broker_epoch(void);

/* The connected broker's pid (from HELLO), 0 when not connected. */
pid_t broker_pid(void);

#endif /* DMABUF_CLIENT_BROKER_CONN_H */

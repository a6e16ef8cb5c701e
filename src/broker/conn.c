// SPDX-License-Identifier: MIT
/*
 * conn.c - client connections: accept and SO_PEERCRED, one datagram in, checks, the op's
 * handler, one datagram out; HELLO and STATS.
 *
 * A connection that sends something malformed is dropped (its descriptors closed); the
 * broker lives on.  Replies go out with MSG_DONTWAIT: a reply that cannot be sent drops the
 * connection, so a client can never block the broker.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dmabufd.h"
#include "log.h"

/* An op: its handler, the descriptor slots it uses, whether it has a payload. */
struct op_desc {
	int (*fn)(struct dmabufd_req *req);
	uint32_t slots;
	bool payload;
};

static int op_hello(struct dmabufd_req *req);
static int op_stats(struct dmabufd_req *req);

#define ALL_SLOTS UINT32_MAX

static const struct op_desc ops[] = {
	[DMABUFD_OP_HELLO] = { op_hello, 0, false },
	[DMABUFD_OP_HEAP_ALLOC] = { dmabufd_op_heap_alloc, 0, false },
	[DMABUFD_OP_UDMABUF_ADD_FDS] = { dmabufd_op_udmabuf_add_fds, ALL_SLOTS, false },
	[DMABUFD_OP_UDMABUF_CREATE] = { dmabufd_op_udmabuf_create, ALL_SLOTS, true },
	[DMABUFD_OP_IDENTIFY] = { dmabufd_op_identify, 1, false },
	[DMABUFD_OP_BUF_SYNC] = { dmabufd_op_buf_sync, 1, false },
	[DMABUFD_OP_BUF_SET_NAME] = { dmabufd_op_buf_set_name, 1, false },
	[DMABUFD_OP_BUF_EXPORT] = { dmabufd_op_buf_export, 1, false },
	[DMABUFD_OP_BUF_IMPORT] = { dmabufd_op_buf_import, 3, false },
	[DMABUFD_OP_BUF_MAP_INFO] = { dmabufd_op_buf_map_info, 1, false },
	[DMABUFD_OP_BUF_RANGES] = { dmabufd_op_buf_ranges, 1, false },
	[DMABUFD_OP_SYNC_MERGE] = { dmabufd_op_sync_merge, 3, false },
	[DMABUFD_OP_SYNC_INFO] = { dmabufd_op_sync_info, 1, false },
	[DMABUFD_OP_SYNC_SET_DEADLINE] = { dmabufd_op_sync_set_deadline, 1, false },
	[DMABUFD_OP_SW_TIMELINE_CREATE] = { dmabufd_op_sw_timeline_create, 0, false },
	[DMABUFD_OP_SW_FENCE_CREATE] = { dmabufd_op_sw_fence_create, 1, false },
	[DMABUFD_OP_SW_INC] = { dmabufd_op_sw_inc, 1, false },
	[DMABUFD_OP_SW_GET_DEADLINE] = { dmabufd_op_sw_get_deadline, 3, false },
	[DMABUFD_OP_STATS] = { op_stats, 0, false },
	[DMABUFD_OP_HEAP_OPEN] = { dmabufd_op_heap_open, 0, false },
	[DMABUFD_OP_HEAP_ALLOC_FD] = { dmabufd_op_heap_alloc_fd, 1, false },
	[DMABUFD_OP_BUF_INFO] = { dmabufd_op_buf_info, 1, false },
	[DMABUFD_OP_SYNC_POLLED] = { dmabufd_op_sync_polled, 1, false },
	[DMABUFD_OP_INTROSPECT] = { dmabufd_op_introspect, 0, false },
	[DMABUFD_OP_BUF_ATTACH] = { dmabufd_op_buf_attach, 1, false },
	[DMABUFD_OP_BUF_DETACH] = { dmabufd_op_buf_detach, 0, false },
};

/* The one request and the one reply in flight (the broker has one thread). */
static union {
	struct dmabufd_msg msg;
	unsigned char bytes[DMABUFD_MSG_MAX];
} rx, tx;
/* Room for more descriptors than a request may carry, so excess is seen, not truncated. */
static union {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * DMABUFD_MAX_FDS)];
} rx_control;
static union {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * DMABUFD_MAX_FDS)];
} tx_control;

#define RX_FDS_MAX ((int)(sizeof(rx_control) / sizeof(int)))

static struct dmabufd_conn conns = { .next = &conns, .prev = &conns };
/* A descriptor kept in reserve, to refuse a connection when none are left. */
static int spare_fd = -1;

int dmabufd_req_drop(struct dmabufd_req *req, const char *why)
{
	req->why = why;
	return DMABUFD_DROP;
}

void dmabufd_req_reply_fd(struct dmabufd_req *req, int fd, bool close_after)
{
	if (req->rep_nfds >= DMABUFD_MAX_FDS) {
		/* no handler attaches more: cannot happen */
		if (close_after)
			close(fd);
		return;
	}
	req->rep_close[req->rep_nfds] = close_after;
	req->rep_fds[req->rep_nfds++] = fd;
}

static void conn_close(struct dmabufd_conn *conn)
{
	log_debug("client pid %d gone", (int)conn->pid);
	close(conn->fd);	/* leaves the epoll set with it */
	dmabufd_udmabuf_pending_clear(conn);
	dmabufd_attach_clear(conn);
	free(conn->pending);
	conn->prev->next = conn->next;
	conn->next->prev = conn->prev;
	dmabufd.stats.connections--;
	free(conn);
}

static void conn_drop(struct dmabufd_conn *conn, const char *why)
{
	log_warn("dropping client pid %d: %s", (int)conn->pid, why);
	dmabufd.stats.dropped++;
	conn_close(conn);
}

void dmabufd_conn_close_all(void)
{
	while (conns.next != &conns)
		conn_close(conns.next);
	if (spare_fd >= 0)
		close(spare_fd);
	spare_fd = -1;
}

/* Out of descriptors: accept with the spare one and hang up, so the backlog drains. */
static void refuse_one(void)
{
	int fd;

	if (spare_fd < 0)
		return;
	close(spare_fd);
	fd = accept4(dmabufd.listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void conn_new(int fd)
{
	struct dmabufd_conn *conn;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		log_warn("refusing a client: SO_PEERCRED: %s", strerror(errno));
		goto err_close;
	}
	if (cred.uid != dmabufd.uid && cred.uid != 0) {
		log_warn("refusing client pid %d: uid %u is not ours", (int)cred.pid,
			 (unsigned int)cred.uid);
		goto err_close;
	}
	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		log_error("refusing client pid %d: out of memory", (int)cred.pid);
		goto err_close;
	}
	conn->src.kind = DMABUFD_SRC_CONN;
	conn->fd = fd;
	conn->pid = cred.pid;
	if (dmabufd_epoll_add(fd, EPOLLIN, &conn->src)) {
		log_error("refusing client pid %d: epoll: %s", (int)cred.pid, strerror(errno));
		free(conn);
		goto err_close;
	}
	conn->next = &conns;
	conn->prev = conns.prev;
	conns.prev->next = conn;
	conns.prev = conn;
	dmabufd.stats.connections++;
	log_debug("client pid %d connected", (int)conn->pid);
	return;

err_close:
	close(fd);
}

void dmabufd_conn_accept(void)
{
	int fd;

	if (spare_fd < 0)
		spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* a few at a time; epoll reports the rest */
	for (int i = 0; i < 16; i++) {
		fd = accept4(dmabufd.listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			conn_new(fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE) {
			log_error("out of descriptors: refusing a client");
			refuse_one();
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			log_error("accept: %s", strerror(errno));
		}
		return;
	}
}

static int op_hello(struct dmabufd_req *req)
{
	if (req->msg->arg[0] != DMABUFD_PROTO_VERSION) {
		req->why = "wrong protocol version";
		return -EPROTO;
	}
	req->conn->hello = true;
	req->rep->arg[0] = DMABUFD_PROTO_VERSION;
	req->rep->arg[1] = (uint64_t)dmabufd.pid;
	req->rep->arg[2] = dmabufd_slots_count();
	dmabufd_req_reply_fd(req, dmabufd_slots_fd(), false);
	return 0;
}

static int op_stats(struct dmabufd_req *req)
{
	memcpy(req->rep_payload, &dmabufd.stats, sizeof(dmabufd.stats));
	req->rep_len = sizeof(dmabufd.stats);
	return 0;
}

/* Collect the received descriptors (in order) into @fds; returns how many. */
static int take_fds(struct msghdr *mh, int *fds)
{
	struct cmsghdr *c;
	int n = 0;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		int k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (n < RX_FDS_MAX)
				fds[n++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

static void close_fds(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* What is wrong with a datagram of @n bytes carrying @nfds descriptors, or NULL. */
static const char *check_msg(struct dmabufd_conn *conn, const struct msghdr *mh, ssize_t n,
			     int nfds)
{
	const struct dmabufd_msg *msg = &rx.msg;

	if ((size_t)n < sizeof(*msg))
		return "message shorter than its header";
	if (mh->msg_flags & MSG_TRUNC)
		return "message too long";
	if (mh->msg_flags & MSG_CTRUNC)
		return "too many descriptors";
	if (msg->len != (size_t)n - sizeof(*msg))
		return "payload length does not match";
	if (nfds != __builtin_popcount(msg->fd_mask))
		return "descriptors do not match fd_mask";
	if (msg->op >= sizeof(ops) / sizeof(ops[0]) || !ops[msg->op].fn)
		return "unknown op";
	if (msg->fd_mask & ~ops[msg->op].slots)
		return "descriptor in a slot the op does not use";
	if (!memchr(msg->name, '\0', sizeof(msg->name)))
		return "name not terminated";
	if (!conn->hello && msg->op != DMABUFD_OP_HELLO)
		return "no HELLO first";
	if (msg->len && !ops[msg->op].payload)
		return "payload the op does not take";
	return NULL;
}

static int send_reply(struct dmabufd_conn *conn, struct dmabufd_req *req)
{
	struct iovec iov = {
		.iov_base = tx.bytes,
		.iov_len = sizeof(struct dmabufd_msg) + req->rep_len,
	};
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (req->rep_nfds) {
		struct cmsghdr *c;

		mh.msg_control = tx_control.buf;
		mh.msg_controllen = CMSG_SPACE(req->rep_nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(req->rep_nfds * sizeof(int));
		memcpy(CMSG_DATA(c), req->rep_fds, req->rep_nfds * sizeof(int));
	}
	do
		n = sendmsg(conn->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == iov.iov_len ? 0 : -EMSGSIZE;
}

static void close_reply_fds(struct dmabufd_req *req)
{
	for (unsigned int i = 0; i < req->rep_nfds; i++)
		if (req->rep_close[i])
			close(req->rep_fds[i]);
}

static void serve(struct dmabufd_conn *conn, int *rx_fds)
{
	struct dmabufd_req req;
	int ret, j = 0;
	uint32_t mask;

	req.conn = conn;
	req.msg = &rx.msg;
	req.payload = rx.bytes + sizeof(struct dmabufd_msg);
	req.why = NULL;
	mask = rx.msg.fd_mask;
	req.nslots = mask ? 32 - (unsigned int)__builtin_clz(mask) : 0;
	for (unsigned int i = 0; i < DMABUFD_REQ_SLOTS; i++)
		req.fds[i] = (mask & (1U << i)) ? rx_fds[j++] : -1;

	memset(&tx.msg, 0, sizeof(tx.msg));
	tx.msg.op = rx.msg.op;
	req.rep = &tx.msg;
	req.rep_payload = tx.bytes + sizeof(struct dmabufd_msg);
	req.rep_len = 0;
	req.rep_nfds = 0;

	dmabufd.stats.requests++;
	ret = ops[rx.msg.op].fn(&req);
	/* the client's descriptors: none is kept (the pending list took its own) */
	close_fds(req.fds, DMABUFD_REQ_SLOTS);
	if (ret == DMABUFD_DROP) {
		close_reply_fds(&req);
		conn_drop(conn, req.why ? req.why : "malformed request");
		return;
	}
	/* fences may have signaled: sync_files and slots say so before anybody hears back */
	dmabufd_flush();

	tx.msg.ret = ret;
	/* more descriptors than a mask can name: a full mask, slots 0..n-1 */
	tx.msg.fd_mask = req.rep_nfds >= DMABUFD_REQ_SLOTS ? UINT32_MAX :
			 (uint32_t)((1U << req.rep_nfds) - 1);
	tx.msg.len = req.rep_len;
	ret = send_reply(conn, &req);
	close_reply_fds(&req);
	if (ret) {
		/* a client that died meanwhile is no news; one that does not read is */
		dmabufd_log(ret == -EPIPE || ret == -ECONNRESET ? DMABUFD_LOG_DEBUG :
			    DMABUFD_LOG_WARN, "dropping client pid %d: cannot send a reply: %s",
			    (int)conn->pid, strerror(-ret));
		conn_close(conn);
	} else if (req.why) {
		conn_drop(conn, req.why);	/* answered, then dropped (HELLO version) */
	}
}

static void conn_recv(struct dmabufd_conn *conn)
{
	int fds[RX_FDS_MAX];
	struct iovec iov = { .iov_base = rx.bytes, .iov_len = sizeof(rx.bytes) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = rx_control.buf,
		.msg_controllen = sizeof(rx_control.buf),
	};
	const char *why;
	ssize_t n;
	int nfds;

	n = recvmsg(conn->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		conn_close(conn);
		return;
	}
	nfds = take_fds(&mh, fds);
	if (n == 0 && !nfds && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		conn_close(conn);	/* end of file */
		return;
	}
	why = check_msg(conn, &mh, n, nfds);
	if (why) {
		close_fds(fds, nfds);
		conn_drop(conn, why);
		return;
	}
	serve(conn, fds);
}

void dmabufd_conn_event(struct dmabufd_conn *conn, uint32_t events)
{
	/* a request still queued is served first; the hang-up is seen once it is read */
	if (events & EPOLLIN)
		conn_recv(conn);
	else if (events & (EPOLLHUP | EPOLLERR))
		conn_close(conn);
}

// SPDX-License-Identifier: MIT
/*
 * broker_conn.c - the process's connection to dmabufd: connecting, starting the broker when
 * none listens, and one request/reply at a time (broker_conn.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker_conn.h"
#include "broker_ident.h"
#include "rendezvous.h"

#ifndef DMABUFD_PATH
#define DMABUFD_PATH ""
#endif

_Static_assert(DMABUFD_REQ_SLOTS <= DMABUFD_MAX_FDS, "slots fit in one datagram");

/* The spawned broker's ready pipe, in the broker. */
#define READY_FD 3

/* Control buffer for the most descriptors a datagram can carry (SCM_MAX_FD). */
#define RECV_FDS_MAX 253

static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t conn_once = PTHREAD_ONCE_INIT;
static int conn_sock = -1;		/* under conn_lock */
static pid_t conn_broker_pid;		/* under conn_lock: HELLO's answer */
static uint64_t conn_epoch;		/* atomic; written under conn_lock */
static int conn_warned;			/* atomic */

extern char **environ;

pid_t broker_pid(void)
{
	pid_t pid;

	pthread_mutex_lock(&conn_lock);
	pid = conn_broker_pid;
	pthread_mutex_unlock(&conn_lock);
	return pid;
}

uint64_t broker_epoch(void)
{
	return __atomic_load_n(&conn_epoch, __ATOMIC_ACQUIRE);
}

static void epoch_bump(void)
{
	__atomic_add_fetch(&conn_epoch, 1, __ATOMIC_ACQ_REL);
}

/* fork() without the atfork handlers where libc has it: only async-signal-safe code runs. */
static pid_t raw_fork(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	return _Fork();
#else
	return fork();
#endif
}

/* ---- fork ---- */

/* Forget the connection (closing our socket) and everything learned through it. */
static void conn_drop(void)
{
	if (conn_sock >= 0)
		close(conn_sock);
	conn_sock = -1;
	conn_broker_pid = 0;
	broker_table_detach();
	epoch_bump();
}

/* The child must not share its parent's connection: it makes its own at its next call. */
static void conn_atfork_child(void)
{
	pthread_mutex_init(&conn_lock, NULL);
	conn_drop();
	broker_ident_atfork_child();
}

static void conn_init(void)
{
	pthread_atfork(NULL, NULL, conn_atfork_child);
}

/* ---- sending and receiving ---- */

/* Slots of @req whose descriptor is not open anymore go into *@dropped. */
static void find_closed(const struct broker_req *req, uint32_t *dropped)
{
	unsigned int i;

	for (i = 0; i < req->nfds; i++)
		if (req->fds[i] >= 0 && fcntl(req->fds[i], F_GETFD) < 0 && errno == EBADF)
			*dropped |= 1U << i;
}

static int send_req(int sock, const struct broker_req *req)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * DMABUFD_REQ_SLOTS)];
		struct cmsghdr align;
	} ctl;
	struct dmabufd_msg hdr = req->msg;
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)req->payload, .iov_len = req->len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = req->len ? 2 : 1 };
	uint32_t dropped = 0;
	int fds[DMABUFD_REQ_SLOTS];
	struct cmsghdr *c;
	unsigned int i, n;
	int retries = 0;

	if (req->nfds > DMABUFD_REQ_SLOTS || req->len > (size_t)DMABUFD_PAYLOAD_MAX)
		return -EINVAL;
	hdr.ret = 0;
	hdr.len = (uint32_t)req->len;
again:
	hdr.fd_mask = 0;
	for (i = n = 0; i < req->nfds; i++) {
		if (req->fds[i] < 0 || (dropped & (1U << i)))
			continue;
		fds[n++] = req->fds[i];
		hdr.fd_mask |= 1U << i;
	}
	mh.msg_control = n ? ctl.buf : NULL;
	mh.msg_controllen = n ? CMSG_SPACE(sizeof(int) * n) : 0;
	if (n) {
		memset(ctl.buf, 0, sizeof(ctl.buf));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		/* a descriptor is not open: the broker answers as the kernel does for it */
		if (errno == EBADF && n && retries++ < 3) {
			find_closed(req, &dropped);
			goto again;
		}
		return -errno;
	}
	return 0;
}

static void close_all(const int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * Spread the received descriptors over the reply's slots.  A mask names at most 32 slots;
 * a reply with more descriptors than that (a full mask) is read as slots 0..n-1.
 */
static bool place_fds(struct broker_rep *rep, const int *got, unsigned int ngot)
{
	uint32_t mask = rep->msg.fd_mask;
	unsigned int i, k = 0;

	for (i = 0; i < rep->nfds; i++)
		rep->fds[i] = -1;
	if (ngot > DMABUFD_REQ_SLOTS && mask == UINT32_MAX) {
		if (ngot > rep->nfds)
			return false;
		memcpy(rep->fds, got, sizeof(int) * ngot);
		return true;
	}
	if ((unsigned int)__builtin_popcount(mask) != ngot)
		return false;
	for (i = 0; i < DMABUFD_REQ_SLOTS && k < ngot; i++) {
		if (!(mask & (1U << i)))
			continue;
		if (i >= rep->nfds)
			return false;
		rep->fds[i] = got[k++];
	}
	return true;
}

/* 0, -EPIPE (broker gone or the reply is malformed) or -EMFILE (descriptors lost). */
static int recv_rep(int sock, uint32_t op, struct broker_rep *rep)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * RECV_FDS_MAX)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = {
		{ .iov_base = &rep->msg, .iov_len = sizeof(rep->msg) },
		{ .iov_base = rep->payload, .iov_len = rep->cap },
	};
	struct msghdr mh = {
		.msg_iov = iov,
		.msg_iovlen = rep->cap ? 2 : 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	int got[RECV_FDS_MAX];
	unsigned int ngot = 0, nc;
	struct cmsghdr *c;
	ssize_t n;

	do
		n = recvmsg(sock, &mh, rep->cloexec ? MSG_CMSG_CLOEXEC : 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -EPIPE;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nc = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		if (nc > RECV_FDS_MAX - ngot)
			nc = RECV_FDS_MAX - ngot;
		memcpy(got + ngot, CMSG_DATA(c), sizeof(int) * nc);
		ngot += nc;
	}
	if ((mh.msg_flags & MSG_TRUNC) || (size_t)n < sizeof(rep->msg) ||
	    rep->msg.len != (size_t)n - sizeof(rep->msg) || rep->msg.op != op)
		goto bad;
	rep->msg.name[sizeof(rep->msg.name) - 1] = '\0';
	if (mh.msg_flags & MSG_CTRUNC) {
		/* the reply is fine, but its descriptors could not all be installed */
		close_all(got, ngot);
		return -EMFILE;
	}
	if (!place_fds(rep, got, ngot))
		goto bad;
	return 0;
bad:
	close_all(got, ngot);
	return -EPIPE;
}

/* ---- connecting ---- */

static void warn_once(const char *path, const char *why)
{
	if (__atomic_exchange_n(&conn_warned, 1, __ATOMIC_ACQ_REL))
		return;
	fprintf(stderr, "libdmabuf: cannot reach dmabufd at %s: %s\n", path, why);
}



static int hello(int sock)
{
	struct broker_req req = { .msg.op = DMABUFD_OP_HELLO };
	struct broker_rep rep = { 0 };
	uint64_t epoch = broker_epoch() + 1;
	int table = -1, ret;

	req.msg.arg[0] = DMABUFD_PROTO_VERSION;
	rep.fds = &table;
	rep.nfds = 1;
	rep.cloexec = true;
	ret = send_req(sock, &req);
	if (!ret)
		ret = recv_rep(sock, req.msg.op, &rep);
	if (ret)
		return ret == -EMFILE ? ret : -EPIPE;
	if (rep.msg.ret) {
		ret = rep.msg.ret < 0 ? rep.msg.ret : -EPROTO;
		goto out;
	}
	if (rep.msg.arg[0] != DMABUFD_PROTO_VERSION || (rep.msg.arg[2] && table < 0)) {
		ret = -EPROTO;
		goto out;
	}
	ret = table >= 0 ? broker_table_attach(table, rep.msg.arg[2], epoch) : 0;
	if (!ret) {
		conn_broker_pid = (pid_t)rep.msg.arg[1];
		__atomic_store_n(&conn_epoch, epoch, __ATOMIC_RELEASE);
	}
out:
	if (table >= 0)
		close(table);
	return ret;
}

/* The broker to start: $DMABUFD, the installed one, else "dmabufd" from $PATH. */
static bool broker_binary(char *buf, size_t len, char *why, size_t whylen)
{
	return dmabufd_binary(DMABUFD_PATH, NULL, buf, len, why, whylen);
}

/* Everything the broker's process needs, prepared before forking. */
struct spawn {
	char bin[PATH_MAX];
	char sock_arg[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
	char ready_arg[32];
	char *argv[6];
	char **envp;	/* environ without the preload library (dmabufd_environ()) */
	int ready;	/* write end of the ready pipe */
	int devnull;
	int log;	/* <socket>.log, the broker's stderr */
	int max_fd;	/* for closing the rest without close_range() */
};

/* Close every descriptor from @first on. */
static void close_from(int first, int max_fd)
{
	int fd;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned int)first, ~0U, 0) == 0)
		return;
#endif
	for (fd = first; fd < max_fd; fd++)
		close(fd);
}

/*
 * The broker, a grandchild in its own session: only async-signal-safe calls from here on.
 * Its stdin and stdout are /dev/null, its stderr the log file beside the socket (keeping
 * ours would hold a pipeline reading our stderr open until the broker exits); the ready
 * pipe becomes READY_FD and
 * nothing else of ours stays open in it (an inherited buffer descriptor would keep its
 * buffer alive for as long as the broker runs).
 */
static void __attribute__((noreturn)) spawn_child(const struct spawn *sp)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	pid_t pid;
	int sig;

	setsid();
	pid = raw_fork();
	if (pid != 0)
		_exit(pid < 0 ? 1 : 0);
	sigemptyset(&none);
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(sp->devnull, 0) < 0 || dup2(sp->devnull, 1) < 0 ||
	    dup2(sp->log >= 0 ? sp->log : sp->devnull, 2) < 0 || dup2(sp->ready, READY_FD) < 0)
		_exit(127);
	close_from(READY_FD + 1, sp->max_fd);
	execve(sp->bin, sp->argv, sp->envp ? sp->envp : environ);
	_exit(127);
}


static int spawn_prepare(struct spawn *sp, const char *path, char *why, size_t whylen)
{
	char log_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
	long max_fd = sysconf(_SC_OPEN_MAX);

	if (!broker_binary(sp->bin, sizeof(sp->bin), why, whylen))
		return -ENOENT;
	snprintf(sp->ready_arg, sizeof(sp->ready_arg), "--ready-fd=%d", READY_FD);
	snprintf(sp->sock_arg, sizeof(sp->sock_arg), "--socket=%s", path);
	sp->argv[0] = sp->bin;
	sp->argv[1] = "--foreground";
	sp->argv[2] = "--idle-exit=5";
	sp->argv[3] = sp->ready_arg;
	sp->argv[4] = sp->sock_arg;
	sp->argv[5] = NULL;
	sp->envp = dmabufd_environ(environ);
	sp->max_fd = max_fd > 0 && max_fd < 65536 ? (int)max_fd : 65536;
	sp->ready = dmabufd_fd_above(READY_FD, sp->ready);
	sp->devnull = dmabufd_fd_above(READY_FD, open("/dev/null", O_RDWR | O_CLOEXEC));
	if (!dmabufd_sibling_path(path, ".log", log_path, sizeof(log_path)))
		sp->log = dmabufd_fd_above(READY_FD, open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
							O_NOFOLLOW, 0600));
	if (sp->ready < 0 || sp->devnull < 0) {
		snprintf(why, whylen, "cannot start %s: %s", sp->bin, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Start dmabufd for @path and wait until it listens (or died).  0 or -errno with @why. */
static int spawn_broker(const char *path, char *why, size_t whylen)
{
	struct spawn sp = { .devnull = -1, .log = -1 };
	int pfd[2], ret, st;
	ssize_t n;
	char c;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC)) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -errno;
	}
	sp.ready = pfd[1];
	ret = spawn_prepare(&sp, path, why, whylen);
	if (ret)
		goto out;
	pid = raw_fork();
	if (pid < 0) {
		ret = -errno;
		snprintf(why, whylen, "cannot start %s: fork: %s", sp.bin, strerror(errno));
		goto out;
	}
	if (pid == 0)
		spawn_child(&sp);
	close(sp.ready);
	sp.ready = -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	/* the broker closes its end once it listens, or dies */
	do
		n = read(pfd[0], &c, 1);
	while (n > 0 || (n < 0 && errno == EINTR));
	snprintf(why, whylen, "started %s, but it does not answer", sp.bin);
out:
	close(pfd[0]);
	if (sp.ready >= 0)
		close(sp.ready);
	if (sp.devnull >= 0)
		close(sp.devnull);
	if (sp.log >= 0)
		close(sp.log);
	free(sp.envp);
	return ret;
}

/* Connect under the spawn lock, starting a broker if none listens.  A socket or -errno. */
static int connect_or_spawn(const char *path, char *why, size_t whylen)
{
	char lock_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
	int lock, s, ret;

	ret = dmabufd_socket_dir_prepare(path);
	if (!ret)
		ret = dmabufd_sibling_path(path, ".spawn", lock_path, sizeof(lock_path));
	if (ret) {
		snprintf(why, whylen, "socket directory: %s", strerror(-ret));
		return ret;
	}
	lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock < 0) {
		ret = -errno;
		snprintf(why, whylen, "%s: %s", lock_path, strerror(errno));
		return ret;
	}
	while (flock(lock, LOCK_EX) < 0 && errno == EINTR)
		;
	/* another process may have started one meanwhile */
	s = dmabufd_connect(path);
	if (s == -ENOENT || s == -ECONNREFUSED) {
		ret = spawn_broker(path, why, whylen);
		s = ret ? ret : dmabufd_connect(path);
	}
	if (s < 0 && !why[0])
		snprintf(why, whylen, "%s", strerror(-s));
	flock(lock, LOCK_UN);
	close(lock);
	return s;
}

/* Make the connection (conn_lock held).  0 or -ENOTCONN. */
static int conn_open(void)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char why[PATH_MAX + 128] = "";
	int s, ret, attempt;

	ret = dmabufd_socket_path(path, sizeof(path));
	if (ret) {
		warn_once("(socket path)", strerror(-ret));
		return -ENOTCONN;
	}
	/* a broker that is just exiting may take the connection and close it: try twice */
	for (attempt = 0; attempt < 2; attempt++) {
		why[0] = '\0';
		s = dmabufd_connect(path);
		if (s == -ENOENT || s == -ECONNREFUSED)
			s = connect_or_spawn(path, why, sizeof(why));
		if (s < 0) {
			if (!why[0])
				snprintf(why, sizeof(why), "%s", strerror(-s));
			break;
		}
		ret = dmabufd_peer_check(s);
		if (!ret)
			ret = hello(s);
		if (!ret) {
			conn_sock = s;
			return 0;
		}
		close(s);
		broker_table_detach();
		snprintf(why, sizeof(why), "%s",
			 ret == -EPIPE ? "the broker closed the connection" : strerror(-ret));
		if (ret != -EPIPE)
			break;
	}
	warn_once(path, why);
	return -ENOTCONN;
}

/* ---- requests ---- */

void broker_lock(void)
{
	pthread_once(&conn_once, conn_init);
	pthread_mutex_lock(&conn_lock);
}

void broker_unlock(void)
{
	pthread_mutex_unlock(&conn_lock);
}

/* Errors of sending that mean the broker's end is closed. */
static bool is_disconnect(int err)
{
	return err == -EPIPE || err == -ECONNRESET || err == -ENOTCONN;
}

int broker_call_locked(const struct broker_req *req, struct broker_rep *rep)
{
	int ret;

	if (conn_sock < 0 && conn_open())
		return -ENOTCONN;
	ret = send_req(conn_sock, req);
	if (is_disconnect(ret)) {
		/*
		 * The broker went away while we were idle: the request never reached it, so it
		 * is safe to send it once to a new one (started if needed).
		 */
		conn_drop();
		if (conn_open())
			return -ENOTCONN;
		ret = send_req(conn_sock, req);
	}
	/* not sent, but the connection is fine (too many descriptors in flight, no memory) */
	if (ret && !is_disconnect(ret))
		return ret;
	if (!ret)
		ret = recv_rep(conn_sock, req->msg.op, rep);
	if (ret == -EMFILE)
		return ret;
	if (ret) {
		/* gone, or talking nonsense: drop it; the next call connects again */
		conn_drop();
		return -ENOTCONN;
	}
	rep->epoch = broker_epoch();
	return 0;
}

int broker_call(const struct broker_req *req, struct broker_rep *rep)
{
	int ret;

	broker_lock();
	ret = broker_call_locked(req, rep);
	broker_unlock();
	return ret;
}

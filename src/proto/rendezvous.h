/* SPDX-License-Identifier: MIT */
/*
 * rendezvous.h - where a user's dmabufd listens; shared by the broker and its clients.
 *
 * The socket is $DMABUFD_SOCKET when set (tests, private brokers), else
 * $XDG_RUNTIME_DIR/dmabuf/dmabufd.sock, else /tmp/dmabuf-$UID/dmabufd.sock.  Its directory
 * is the user's own, mode 0700; a directory owned by someone else or open to others is
 * refused, so nobody can put a socket where a client will look for its broker.
 */
#ifndef DMABUFD_RENDEZVOUS_H
#define DMABUFD_RENDEZVOUS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The socket path into @buf (@len bytes, at most sizeof(sun_path) is usable).
 * Returns 0 or -ENAMETOOLONG.
 */
int dmabufd_socket_path(char *buf, size_t len);

/*
 * Make sure the directory of @sock_path exists (created 0700 if missing) and is safe: owned
 * by the caller's uid, a directory, not writable by group or others.  Returns 0, -EPERM
 * (unsafe), or the error of mkdir()/lstat().
 */
int dmabufd_socket_dir_prepare(const char *sock_path);

/* The lock file next to @sock_path with suffix @suffix, into @buf.  0 or -ENAMETOOLONG. */
int dmabufd_sibling_path(const char *sock_path, const char *suffix, char *buf, size_t len);

/*
 * The dmabufd to start, into @buf (@len bytes): $DMABUFD when set (it must be an executable
 * file), else @tree/broker/dmabufd when @tree (a build tree's src/) is not NULL and that is
 * executable, else @installed, else "dmabufd" from $PATH.  Returns true, or false with the
 * reason in @why.
 */
bool dmabufd_binary(const char *installed, const char *tree, char *buf, size_t len, char *why,
		    size_t whylen);

/*
 * @envp for a dmabufd about to be started: the same strings, with libdmabuf-preload.so (in
 * any directory) taken out of LD_PRELOAD; the broker plays the kernel, and under the preload
 * library it would call itself.  One allocation (free() it), NULL without memory.
 */
char **dmabufd_environ(char *const envp[]);

/*
 * For starting a broker: @fd moved above descriptor @floor (close-on-exec), so that the
 * dup2()s onto the low numbers in the broker's process cannot clobber it; the old number is
 * closed.  Returns the new number (@fd itself if already above, or negative), -1 on failure.
 */
int dmabufd_fd_above(int floor, int fd);

/*
 * A SOCK_SEQPACKET connection (close-on-exec) to the broker listening at @path, retried on
 * EINTR: the descriptor, or -errno (-ENAMETOOLONG, or socket()'s or connect()'s error).
 */
int dmabufd_connect(const char *path);

/* 0 when the peer of socket @sock runs as this process's user, else -EPERM (or -errno). */
int dmabufd_peer_check(int sock);

struct dmabufd_msg;

/*
 * For tools that speak the protocol themselves (dmabufctl, the demo): send request @msg (no
 * descriptors, no payload) on @sock and receive its reply into @msg, its payload into
 * @payload (@cap bytes; *@len gets the payload's length when @len is not NULL).  Descriptors
 * in the reply are closed.  Returns 0 with the reply in @msg (its ret is the request's
 * result), -ECONNRESET when the broker closed the connection, -EPROTO for a malformed reply,
 * or -errno.
 */
int dmabufd_transact(int sock, struct dmabufd_msg *msg, void *payload, size_t cap,
		     size_t *len);

#endif /* DMABUFD_RENDEZVOUS_H */

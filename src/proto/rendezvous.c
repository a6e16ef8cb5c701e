// SPDX-License-Identifier: MIT
/* rendezvous.c - where a user's dmabufd listens (see rendezvous.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto.h"
#include "rendezvous.h"

#define SOCKET_NAME "dmabufd.sock"

static int fmt(char *buf, size_t len, const char *f, const char *a, unsigned long b)
{
	int n = a ? snprintf(buf, len, f, a) : snprintf(buf, len, f, b);

	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

int dmabufd_socket_path(char *buf, size_t len)
{
	const char *env = getenv("DMABUFD_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env && env[0])
		return fmt(buf, len, "%s", env, 0);
	if (xdg && xdg[0] == '/')
		return fmt(buf, len, "%s/dmabuf/" SOCKET_NAME, xdg, 0);
	return fmt(buf, len, "/tmp/dmabuf-%lu/" SOCKET_NAME, NULL, (unsigned long)getuid());
}

int dmabufd_socket_dir_prepare(const char *sock_path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	char *slash;

	if (strlen(sock_path) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, sock_path);
	slash = strrchr(dir, '/');
	if (!slash)
		return 0;	/* relative to the working directory: the caller's choice */
	if (slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022))
		return -EPERM;
	return 0;
}

int dmabufd_sibling_path(const char *sock_path, const char *suffix, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s", sock_path, suffix);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

/* Whether @path names an executable regular file. */
static bool executable(const char *path)
{
	struct stat st;

	return path[0] && !stat(path, &st) && S_ISREG(st.st_mode) && !access(path, X_OK);
}

bool dmabufd_binary(const char *installed, const char *tree, char *buf, size_t len, char *why,
		    size_t whylen)
{
	const char *env = getenv("DMABUFD"), *p, *end;
	size_t n;

	if (env && env[0]) {
		if (executable(env) && snprintf(buf, len, "%s", env) < (int)len)
			return true;
		snprintf(why, whylen, "DMABUFD=%s is not an executable file", env);
		return false;
	}
	if (tree && snprintf(buf, len, "%s/broker/dmabufd", tree) < (int)len && executable(buf))
		return true;
	if (installed && executable(installed))
		return snprintf(buf, len, "%s", installed) < (int)len;
	p = getenv("PATH");
	if (!p)
		p = "/usr/local/bin:/usr/bin:/bin";
	for (; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		n = (size_t)(end - p);
		if (n == 0 || n + sizeof("/dmabufd") > len)
			continue;
		memcpy(buf, p, n);
		strcpy(buf + n, "/dmabufd");
		if (executable(buf))
			return true;
	}
	snprintf(why, whylen, "no dmabufd to start (none built, installed or in PATH; set DMABUFD)");
	return false;
}

#define PRELOAD_NAME	"libdmabuf-preload.so"

/* @item (@len bytes) of LD_PRELOAD names the preload library. */
static bool is_preload(const char *item, size_t len)
{
	size_t n = sizeof(PRELOAD_NAME) - 1;

	return len >= n && !memcmp(item + len - n, PRELOAD_NAME, n) &&
	       (len == n || item[len - n - 1] == '/');
}

char **dmabufd_environ(char *const envp[])
{
	static const char key[] = "LD_PRELOAD=";
	size_t n, i, k = 0, len, used, extra = 0;
	const char *p;
	char **env, *val = NULL;

	for (n = 0; envp[n]; n++)
		if (!strncmp(envp[n], key, sizeof(key) - 1))
			extra += strlen(envp[n]) + 1;
	env = malloc((n + 1) * sizeof(*env) + extra);
	if (!env)
		return NULL;
	val = (char *)(env + n + 1);
	for (i = 0; i < n; i++) {
		if (strncmp(envp[i], key, sizeof(key) - 1)) {
			env[k++] = envp[i];
			continue;
		}
		memcpy(val, key, sizeof(key) - 1);
		used = sizeof(key) - 1;
		for (p = envp[i] + used; *p; p += len + (p[len] != '\0')) {
			len = strcspn(p, ": ");
			if (!len || is_preload(p, len))
				continue;
			if (used > sizeof(key) - 1)
				val[used++] = ':';
			memcpy(val + used, p, len);
			used += len;
		}
		val[used++] = '\0';
		if (used > sizeof(key))
			env[k++] = val;
		val += used;
	}
	env[k] = NULL;
	return env;
}

int dmabufd_fd_above(int floor, int fd)
{
	int hi;

	if (fd < 0 || fd > floor)
		return fd;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, floor + 1);
	close(fd);
	return hi;
}

int dmabufd_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	while (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		err = -errno;
		close(s);
		return err;
	}
	return s;
}

int dmabufd_peer_check(int sock)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return -errno;
	return cred.uid == getuid() ? 0 : -EPERM;
}

/* Close the descriptors that arrived with @mh. */
static void close_received(struct msghdr *mh)
{
	struct cmsghdr *c;
	int fd;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			close(fd);
		}
	}
}

int dmabufd_transact(int sock, struct dmabufd_msg *msg, void *payload, size_t cap,
		     size_t *len)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * DMABUFD_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct dmabufd_msg rep;
	struct iovec iov[2] = {
		{ .iov_base = &rep, .iov_len = sizeof(rep) },
		{ .iov_base = payload, .iov_len = cap },
	};
	struct msghdr mh = {
		.msg_iov = iov,
		.msg_iovlen = cap ? 2 : 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;

	msg->ret = 0;
	msg->fd_mask = 0;
	msg->len = 0;
	while (send(sock, msg, sizeof(*msg), MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	close_received(&mh);
	if (n == 0)
		return -ECONNRESET;
	if ((size_t)n < sizeof(rep) || (mh.msg_flags & MSG_TRUNC) || rep.op != msg->op ||
	    rep.len != (size_t)n - sizeof(rep))
		return -EPROTO;
	*msg = rep;
	msg->name[sizeof(msg->name) - 1] = '\0';
	if (len)
		*len = rep.len;
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * proc.c - our descriptors across exec and SCM_RIGHTS.
 *
 * exec: the table dies with the old image, so every exec wrapper hands the new one the list
 * of our descriptors that survive (no FD_CLOEXEC) in DMABUF_PRELOAD_FDS; the library's
 * constructor in the new image adopts them and removes the variable.  recvmsg: descriptors
 * that arrive by SCM_RIGHTS are adopted (files that can be broker objects are asked about).
 * fork needs nothing: the child has the parent's table and descriptors.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <alloca.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"
#include "backend.h"

#define FDS_VAR		"DMABUF_PRELOAD_FDS"
#define FDS_VAR_LEN	(sizeof(FDS_VAR) - 1)
#define FDS_MAX_LEN	4096

extern char **environ;

static void __attribute__((constructor)) shim_start(void)
{
	const char *v = getenv(FDS_VAR);
	char *end;
	long fd;

	/* the broker serves the uAPI; it never runs under this library (it would call itself) */
	if (!strcmp(program_invocation_short_name, "dmabufd")) {
		shim_off = true;
		return;
	}
	/* the uAPI is served by the broker, even on a kernel that has the drivers */
	dmabuf_fd_backend_force(&dmabuf_fd_broker_ops);
	if (!v)
		return;
	while (*v) {
		fd = strtol(v, &end, 10);
		if (end == v)
			break;
		if (fd >= 0 && fd <= INT_MAX)
			shim_fd_adopt((int)fd);
		v = *end == ',' ? end + 1 : end;
	}
	unsetenv(FDS_VAR);
}

struct fd_list {
	char buf[FDS_MAX_LEN];
	size_t len;
};

static void list_one(int fd, const struct shim_obj *obj, void *arg)
{
	struct fd_list *l = arg;
	int flags = fcntl(fd, F_GETFD);
	int n;

	if (flags < 0 || (flags & FD_CLOEXEC))
		return;
	n = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s%d", l->len ? "," : "", fd);
	if (n > 0 && (size_t)n < sizeof(l->buf) - l->len)
		l->len += (size_t)n;
}

/*
 * @envp without our variable, plus it set to the surviving descriptors, into @out (room for
 * env_room(@envp) bytes; its strings are @envp's and @l's).  Returns @out, or NULL to use
 * @envp as it is (nothing to hand over, or an image that will not load the library).
 */
static char **env_with_fds(char *const envp[], struct fd_list *l, char **out)
{
	static const char var[] = FDS_VAR "=";
	static char *const empty[] = { NULL };
	struct fd_list tmp = { .len = 0 };
	size_t n = 0, k = 0;
	bool preloaded = false;

	if (!envp)
		envp = empty;
	/* only an image that loads the library again reads (and removes) the variable */
	for (n = 0; envp[n]; n++)
		if (!strncmp(envp[n], "LD_PRELOAD=", 11) && strstr(envp[n], "libdmabuf-preload"))
			preloaded = true;
	if (!preloaded || !shim_fd_any())
		return NULL;
	shim_fd_each(list_one, &tmp);
	if (!tmp.len || tmp.len >= sizeof(l->buf) - sizeof(var))
		return NULL;
	memcpy(l->buf, var, sizeof(var) - 1);
	memcpy(l->buf + sizeof(var) - 1, tmp.buf, tmp.len + 1);
	for (n = 0; envp[n]; n++)
		if (strncmp(envp[n], var, sizeof(var) - 1))
			out[k++] = envp[n];
	out[k++] = l->buf;
	out[k] = NULL;
	return out;
}

/* Bytes env_with_fds() may need for @envp. */
static size_t env_room(char *const envp[])
{
	size_t n = 0;

	while (envp && envp[n])
		n++;
	return (n + 2) * sizeof(char *);
}

SHIM_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	struct fd_list l;
	char **env;

	if (shim_bypass())
		return REAL(execve)(path, argv, envp);
	/* on the stack: a vfork() child must not take malloc's lock */
	env = env_with_fds(envp, &l, alloca(env_room(envp)));
	return REAL(execve)(path, argv, env ? env : envp);
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	struct fd_list l;
	char **env;

	if (shim_bypass())
		return REAL(execvpe)(file, argv, envp);
	/* on the stack: a vfork() child must not take malloc's lock */
	env = env_with_fds(envp, &l, alloca(env_room(envp)));
	return REAL(execvpe)(file, argv, env ? env : envp);
}

SHIM_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	struct fd_list l;
	char **env;

	if (shim_bypass())
		return REAL(fexecve)(fd, argv, envp);
	/* on the stack: a vfork() child must not take malloc's lock */
	env = env_with_fds(envp, &l, alloca(env_room(envp)));
	return REAL(fexecve)(fd, argv, env ? env : envp);
}

SHIM_EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

SHIM_EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* The arguments of execl() and friends as an argv array (on the stack: they are few). */
#define EXECL_ARGV(first, ap, argv)						\
	do {									\
		size_t n_ = 1;							\
		va_list c_;							\
		va_copy(c_, ap);						\
		while (va_arg(c_, char *))					\
			n_++;							\
		va_end(c_);							\
		argv = alloca((n_ + 1) * sizeof(char *));			\
		argv[0] = (char *)(first);					\
		for (n_ = 1; (argv[n_] = va_arg(ap, char *)); n_++)		\
			;							\
	} while (0)

SHIM_EXPORT int execl(const char *path, const char *arg, ...)
{
	char **argv;
	va_list ap;

	va_start(ap, arg);
	EXECL_ARGV(arg, ap, argv);
	va_end(ap);
	return execve(path, argv, environ);
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...)
{
	char **argv;
	va_list ap;

	va_start(ap, arg);
	EXECL_ARGV(arg, ap, argv);
	va_end(ap);
	return execvpe(file, argv, environ);
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...)
{
	char **argv, **envp;
	va_list ap;

	va_start(ap, arg);
	EXECL_ARGV(arg, ap, argv);
	envp = va_arg(ap, char **);
	va_end(ap);
	return execve(path, argv, envp);
}

/* ---- SCM_RIGHTS ---- */

static void adopt_rights(struct msghdr *msg)
{
	struct cmsghdr *c;
	size_t i, n;
	int *fds;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(c);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, fds + i, sizeof(fd));
			shim_fd_adopt(fd);
		}
	}
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t ret = REAL(recvmsg)(fd, msg, flags);
	int saved = errno;

	if (ret >= 0 && !shim_bypass() && msg && msg->msg_controllen)
		adopt_rights(msg);
	errno = saved;
	return ret;
}

SHIM_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags,
			 struct timespec *ts)
{
	int ret = REAL(recvmmsg)(fd, v, n, flags, ts), i;
	int saved = errno;

	for (i = 0; !shim_bypass() && i < ret; i++)
		if (v[i].msg_hdr.msg_controllen)
			adopt_rights(&v[i].msg_hdr);
	errno = saved;
	return ret;
}

// SPDX-License-Identifier: MIT
/*
 * main.c - dmabufd: options, startup (socket, lock, slot table), readiness, shutdown.
 *
 * dmabufd plays the Linux kernel's dma-buf drivers for the processes of one user: objects
 * live here as core objects, processes hold descriptors (see proto.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dmabufd.h"
#include "log.h"
#include "rendezvous.h"

#ifndef DMABUFD_VERSION
#define DMABUFD_VERSION "unknown"
#endif

/* Slots in the shared table (16 bytes each). */
#define SLOT_COUNT	65536

struct dmabufd dmabufd = {
	.epfd = -1,
	.listen_fd = -1,
	.signal_fd = -1,
	.inotify_fd = -1,
};

struct options {
	bool foreground;
	const char *socket;
	int log_level;
	unsigned int idle_exit;
	int ready_fd;
};

static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int lock_fd = -1;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dmabufd [OPTION]...\n"
		"The dma-buf broker: dma-bufs, sync_files and sw_sync timelines shared between\n"
		"processes, with the semantics of the Linux kernel's drivers.\n"
		"\n"
		"  --foreground          do not daemonize\n"
		"  --socket=PATH         listen on PATH (default: $DMABUFD_SOCKET,\n"
		"                        $XDG_RUNTIME_DIR/dmabuf/dmabufd.sock or\n"
		"                        /tmp/dmabuf-$UID/dmabufd.sock)\n"
		"  --log-level=LEVEL     error, warn (default; also $DMABUFD_LOG), info, debug\n"
		"  --idle-exit=SECONDS   exit after SECONDS without clients or objects (0: never)\n"
		"  --ready-fd=N          close descriptor N once listening\n"
		"  --help                show this help and exit\n"
		"  --version             show the version and exit\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* 0 to go on, else the exit status + 1 (1 after --help or --version, 2 for bad usage). */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_FOREGROUND = 256, OPT_SOCKET, OPT_LOG, OPT_IDLE, OPT_READY, OPT_HELP,
	       OPT_VERSION };
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, OPT_FOREGROUND },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "log-level", required_argument, NULL, OPT_LOG },
		{ "idle-exit", required_argument, NULL, OPT_IDLE },
		{ "ready-fd", required_argument, NULL, OPT_READY },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FOREGROUND:
			o->foreground = true;
			break;
		case OPT_SOCKET:
			o->socket = optarg;
			break;
		case OPT_LOG:
			o->log_level = dmabufd_log_parse(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "dmabufd: unknown log level '%s'\n", optarg);
				return 3;
			}
			break;
		case OPT_IDLE:
			if (parse_uint(optarg, UINT_MAX / 2, &v)) {
				fprintf(stderr, "dmabufd: bad --idle-exit '%s'\n", optarg);
				return 3;
			}
			o->idle_exit = (unsigned int)v;
			break;
		case OPT_READY:
			if (parse_uint(optarg, INT_MAX, &v)) {
				fprintf(stderr, "dmabufd: bad --ready-fd '%s'\n", optarg);
				return 3;
			}
			o->ready_fd = (int)v;
			break;
		case OPT_HELP:
			usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("dmabufd %s (protocol %d)\n", DMABUFD_VERSION,
			       DMABUFD_PROTO_VERSION);
			return 1;
		default:
			usage(stderr);
			return 3;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dmabufd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 3;
	}
	return 0;
}

/* The socket path, made absolute (a daemon leaves the working directory). */
static int resolve_socket_path(const char *opt)
{
	char cwd[PATH_MAX];
	int ret, n;

	if (!opt) {
		ret = dmabufd_socket_path(sock_path, sizeof(sock_path));
		if (ret)
			return ret;
		opt = sock_path;
	}
	if (opt[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		n = snprintf(sock_path, sizeof(sock_path), "%s", opt);
	else
		n = snprintf(sock_path, sizeof(sock_path), "%s/%s", cwd, opt);
	return (n < 0 || (size_t)n >= sizeof(sock_path)) ? -ENAMETOOLONG : 0;
}

/* Fork into the background; the parent exits once the child says it listens. */
static int daemonize(int *notify_fd)
{
	int p[2], null;
	ssize_t n;
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	dmabufd_log_set_pid();
	if (chdir("/"))
		(void)0;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	*notify_fd = p[1];
	return 0;
}

static int take_lock(void)
{
	char path[sizeof(sock_path) + 8];
	int ret;

	ret = dmabufd_sibling_path(sock_path, ".lock", path, sizeof(path));
	if (ret)
		return ret;
	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0) {
		ret = -errno;
		log_error("cannot open %s: %s", path, strerror(errno));
		return ret;
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB)) {
		ret = -errno;
		if (errno == EWOULDBLOCK)
			log_error("another dmabufd is running on %s", sock_path);
		else
			log_error("cannot lock %s: %s", path, strerror(errno));
		return ret;
	}
	return 0;
}

static int listen_socket(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, ret;

	if (unlink(sock_path) && errno != ENOENT) {
		log_error("cannot remove the stale socket %s: %s", sock_path, strerror(errno));
		return -errno;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memcpy(addr.sun_path, sock_path, strlen(sock_path) + 1);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || chmod(sock_path, 0600) ||
	    listen(fd, SOMAXCONN)) {
		ret = -errno;
		log_error("cannot listen on %s: %s", sock_path, strerror(errno));
		close(fd);
		return ret;
	}
	dmabufd.listen_fd = fd;
	return 0;
}

/* Every object holds a descriptor or two here: take all the system allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		log_warn("cannot raise the descriptor limit: %s", strerror(errno));
}

static int startup(void)
{
	int ret;

	ret = dmabufd_socket_dir_prepare(sock_path);
	if (ret) {
		log_error("unsafe or unusable directory for %s: %s", sock_path, strerror(-ret));
		return ret;
	}
	ret = take_lock();
	if (ret)
		return ret;
	umask(077);
	ret = listen_socket();
	if (ret)
		return ret;
	raise_nofile();
	ret = dmabufd_slots_init(SLOT_COUNT);
	if (ret) {
		log_error("cannot create the slot table: %s", strerror(-ret));
		return ret;
	}
	if (dmabufd_objects_init() || dmabufd_buffers_init()) {
		log_error("out of memory");
		return -ENOMEM;
	}
	ret = dmabufd_loop_init();
	if (ret)
		log_error("cannot set up the event loop: %s", strerror(-ret));
	return ret;
}

static void shutdown_broker(bool listening)
{
	if (dmabufd.listen_fd >= 0) {
		close(dmabufd.listen_fd);
		dmabufd.listen_fd = -1;
	}
	if (listening)
		unlink(sock_path);
	/*
	 * sync_files first: their holders see POLLHUP without POLLIN (the broker is gone) and
	 * no byte from the timelines closed after them.
	 */
	dmabufd_objects_release_all(DMABUFD_TYPE_SYNC_FILE);
	dmabufd_buf_release_all();
	dmabufd_objects_release_all(DMABUFD_TYPE_TIMELINE);
	dmabufd_objects_release_all(DMABUFD_TYPE_HEAP);
	dmabufd_conn_close_all();
	dmabufd_loop_fini();
	dmabufd_slots_fini();
	dmabufd_buffers_fini();
	dmabufd_objects_fini();
	dmabufd_sync_files_fini();
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = -1;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int main(int argc, char **argv)
{
	struct options o = { .log_level = -1, .ready_fd = -1 };
	const char *env = getenv("DMABUFD_LOG");
	int ret, notify_fd = -1;

	ret = parse_options(argc, argv, &o);
	if (ret)
		return ret - 1;
	if (o.ready_fd >= 0 && fcntl(o.ready_fd, F_SETFD, FD_CLOEXEC)) {
		fprintf(stderr, "dmabufd: --ready-fd=%d: %s\n", o.ready_fd, strerror(errno));
		return 1;
	}
	if (env && *env) {
		int level = dmabufd_log_parse(env);

		if (level >= 0)
			dmabufd_log_set_level(level);
		else
			log_warn("DMABUFD_LOG: unknown level '%s'", env);
	}
	if (o.log_level >= 0)
		dmabufd_log_set_level(o.log_level);

	ret = resolve_socket_path(o.socket);
	if (ret) {
		log_error("socket path: %s", strerror(-ret));
		close_fd(&o.ready_fd);
		return 1;
	}
	if (!o.foreground) {
		ret = daemonize(&notify_fd);
		if (ret) {
			log_error("cannot daemonize: %s", strerror(-ret));
			close_fd(&o.ready_fd);
			return 1;
		}
	}
	dmabufd.pid = getpid();
	dmabufd.uid = getuid();
	dmabufd.idle_exit = o.idle_exit;

	ret = startup();
	if (ret) {
		/* a client waiting for readiness sees end of file, and no socket */
		close_fd(&o.ready_fd);
		shutdown_broker(dmabufd.listen_fd >= 0);
		return 1;
	}
	close_fd(&o.ready_fd);
	if (notify_fd >= 0) {
		if (write(notify_fd, "", 1) < 0)
			(void)0;
		close_fd(&notify_fd);
	}
	log_info("listening on %s", sock_path);

	ret = dmabufd_loop_run();
	shutdown_broker(true);
	return ret ? 1 : 0;
}

// SPDX-License-Identifier: MIT
/*
 * dmabuf-run.c - run a command with libdmabuf's preload library and a reachable dmabufd, so
 * that its dma-buf calls are served without kernel drivers.
 *
 * By default the command is exec'd in place (no fork): the broker the library would use
 * already listens, or the library starts one on its first call.  With --private, or when the
 * default socket's directory is unusable, dmabuf-run starts a broker of its own in a fresh
 * directory, runs the command as its child, then stops the broker, removes the directory and
 * exits as the command did.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "private_broker.h"
#include "rendezvous.h"

#ifndef DMABUF_VERSION
#define DMABUF_VERSION "unknown"
#endif
#ifndef DMABUF_PRELOAD_PATH
#define DMABUF_PRELOAD_PATH ""
#endif
#ifndef DMABUFD_PATH
#define DMABUFD_PATH ""
#endif

#define PRELOAD_NAME	"libdmabuf-preload.so"
#define SOCKET_NAME	"dmabufd.sock"

/* Exit statuses of dmabuf-run's own (the command's status passes through otherwise). */
#define EXIT_USAGE	2
#define EXIT_FAILED	125	/* dmabuf-run itself failed (no broker) */
#define EXIT_NOEXEC	126	/* the command cannot be run (static binary, permission) */
#define EXIT_NOTFOUND	127	/* the command or the preload library is missing */

/* Seconds a private broker gets to exit after SIGTERM before SIGKILL. */
#define STOP_TIMEOUT	5

#define SUN_PATH_MAX	sizeof(((struct sockaddr_un *)0)->sun_path)

extern char **environ;

struct options {
	bool private_broker;
	const char *socket;
	const char *check_mode;	/* DMABUF_CHECK_COHERENCY for the command, or NULL */
	const char *check_report;	/* the report file, or NULL */
	char **argv;		/* the command and its arguments */
};

/* Signals the caller may send to a command run beside a private broker, through us. */
static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 };
#define NFORWARDED ((int)(sizeof(forwarded) / sizeof(forwarded[0])))

/* The caller's signal mask and SIGCHLD disposition, restored for the command. */
static sigset_t caller_mask;
static struct sigaction caller_chld;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dmabuf-run [OPTION]... [--] COMMAND [ARG]...\n"
		"Run COMMAND with libdmabuf's preload library: its dma-buf calls (the dma-heap,\n"
		"udmabuf and sw_sync devices, the dma-buf and sync_file ioctls, poll) are served\n"
		"by dmabufd instead of kernel drivers.\n"
		"\n"
		"  --private        start a private dmabufd for COMMAND, stopped when it ends\n"
		"  --socket=PATH    use the dmabufd on socket PATH (sets DMABUFD_SOCKET)\n"
		"  --check-coherency[=MODE]\n"
		"                   check every CPU access to a dma-buf mapping against the\n"
		"                   buffer's DMA_BUF_IOCTL_SYNC brackets, and the brackets;\n"
		"                   MODE is report (the default: report each violation once\n"
		"                   on stderr and go on) or abort (abort at the first)\n"
		"  --check-report=FILE\n"
		"                   also write the violations and a summary to FILE as JSON\n"
		"                   Lines (FILE is truncated first; implies --check-coherency)\n"
		"  -h, --help       show this help and exit\n"
		"  --version        show the version and exit\n"
		"\n"
		"Violations: access-outside-bracket, write-in-read-bracket,\n"
		"access-while-fence-pending, end-without-start, direction-mismatch, nested-start,\n"
		"unbalanced-at-exit.\n"
		"\n"
		"Exit status: COMMAND's; 125 if dmabuf-run failed, 126 if COMMAND cannot be\n"
		"served (e.g. statically linked), 127 if COMMAND or the preload library is not\n"
		"found, 2 for a usage error.\n");
}

static int usage_error(void)
{
	fprintf(stderr, "Try 'dmabuf-run --help' for more information.\n");
	return EXIT_USAGE + 1;
}

/* 0 to go on, else the exit status + 1. */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_PRIVATE = 256, OPT_SOCKET, OPT_VERSION, OPT_CHECK, OPT_CHECK_REPORT };
	static const struct option longopts[] = {
		{ "private", no_argument, NULL, OPT_PRIVATE },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "check-coherency", optional_argument, NULL, OPT_CHECK },
		{ "check-report", required_argument, NULL, OPT_CHECK_REPORT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	/* '+': options end at the command, whose own options are its business */
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_PRIVATE:
			o->private_broker = true;
			break;
		case OPT_SOCKET:
			if (!optarg[0]) {
				fprintf(stderr, "dmabuf-run: --socket needs a path\n");
				return usage_error();
			}
			o->socket = optarg;
			break;
		case OPT_CHECK:
			if (optarg && strcmp(optarg, "report") && strcmp(optarg, "abort")) {
				fprintf(stderr, "dmabuf-run: --check-coherency=%s: the mode is "
					"report or abort\n", optarg);
				return usage_error();
			}
			o->check_mode = optarg ? optarg : "report";
			break;
		case OPT_CHECK_REPORT:
			if (!optarg[0]) {
				fprintf(stderr, "dmabuf-run: --check-report needs a file\n");
				return usage_error();
			}
			o->check_report = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("dmabuf-run %s\n", DMABUF_VERSION);
			return 1;
		case ':':
			fprintf(stderr, "dmabuf-run: option '%s' needs an argument\n",
				argv[optind - 1]);
			return usage_error();
		default:
			if (optopt)
				fprintf(stderr, "dmabuf-run: unknown option '-%c'\n", optopt);
			else
				fprintf(stderr, "dmabuf-run: unknown option '%s'\n",
					argv[optind - 1]);
			return usage_error();
		}
	}
	if (o->private_broker && o->socket) {
		fprintf(stderr, "dmabuf-run: --private and --socket exclude each other\n");
		return usage_error();
	}
	if (optind >= argc) {
		fprintf(stderr, "dmabuf-run: no command given\n");
		return usage_error();
	}
	if (o->check_report && !o->check_mode)
		o->check_mode = "report";
	o->argv = argv + optind;
	return 0;
}

/* ---- the command ---- */

static bool is_regular(const char *path)
{
	struct stat st;

	return path[0] && !stat(path, &st) && S_ISREG(st.st_mode);
}

static bool is_executable(const char *path)
{
	return is_regular(path) && !access(path, X_OK);
}

/* Why @path cannot be exec'd (0: it can), as execve() would say. */
static int exec_error(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (!S_ISREG(st.st_mode) || access(path, X_OK))
		return EACCES;
	return 0;
}

/*
 * The file execvp() would run for @name, into @out (@len bytes).  0, or the exit status after
 * a message.
 */
static int find_command(const char *name, char *out, size_t len)
{
	const char *p, *end;
	bool denied = false;
	size_t n;
	int err;

	if (strchr(name, '/')) {
		if (snprintf(out, len, "%s", name) >= (int)len)
			err = ENAMETOOLONG;
		else
			err = exec_error(out);
		if (!err)
			return 0;
		fprintf(stderr, "dmabuf-run: %s: %s\n", name, strerror(err));
		return err == ENOENT || err == ENOTDIR ? EXIT_NOTFOUND : EXIT_NOEXEC;
	}
	p = getenv("PATH");
	if (!p)
		p = "/bin:/usr/bin";	/* what execvp() searches then */
	for (; name[0]; p = end + 1) {
		end = strchrnul(p, ':');
		n = (size_t)(end - p);
		/* an empty element is the working directory */
		if (n + strlen(name) + 2 <= len) {
			memcpy(out, p, n);
			snprintf(out + n, len - n, "%s%s", n ? "/" : "", name);
			err = exec_error(out);
			if (!err)
				return 0;
			denied |= err == EACCES;
		}
		if (!*end)
			break;
	}
	if (denied) {
		fprintf(stderr, "dmabuf-run: %s: %s\n", name, strerror(EACCES));
		return EXIT_NOEXEC;
	}
	fprintf(stderr, "dmabuf-run: %s: command not found\n", name);
	return EXIT_NOTFOUND;
}

static uint16_t get16(const void *p, bool swap)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return swap ? __builtin_bswap16(v) : v;
}

static uint32_t get32(const void *p, bool swap)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return swap ? __builtin_bswap32(v) : v;
}

static uint64_t get64(const void *p, bool swap)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return swap ? __builtin_bswap64(v) : v;
}

/* Where an ELF file's program headers are. */
struct elf_phdrs {
	uint64_t off;
	uint32_t num;
	uint16_t entsize;
};

/* The real number of program headers when e_phnum is PN_XNUM: section 0's sh_info. */
static bool elf_xnum(int fd, bool is64, bool swap, uint64_t shoff, uint32_t *num)
{
	union {
		Elf32_Shdr s32;
		Elf64_Shdr s64;
	} sh;
	size_t size = is64 ? sizeof(sh.s64) : sizeof(sh.s32);

	if (!shoff || pread(fd, &sh, size, (off_t)shoff) != (ssize_t)size)
		return false;
	*num = is64 ? get32(&sh.s64.sh_info, swap) : get32(&sh.s32.sh_info, swap);
	return true;
}

/*
 * Read the ELF header of @fd: whether it is an ELF executable or shared object, and where its
 * program headers are.  *@swap says whether its byte order is not ours.
 */
static bool elf_header(int fd, struct elf_phdrs *ph, bool *swap)
{
	union {
		unsigned char ident[EI_NIDENT];
		Elf32_Ehdr e32;
		Elf64_Ehdr e64;
	} eh;
	ssize_t n = pread(fd, &eh, sizeof(eh), 0);
	bool is64;
	uint16_t type;
	uint64_t shoff;

	if (n < EI_NIDENT || memcmp(eh.ident, ELFMAG, SELFMAG))
		return false;
	is64 = eh.ident[EI_CLASS] == ELFCLASS64;
	if (!is64 && eh.ident[EI_CLASS] != ELFCLASS32)
		return false;
	if (n < (ssize_t)(is64 ? sizeof(eh.e64) : sizeof(eh.e32)))
		return false;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	*swap = eh.ident[EI_DATA] == ELFDATA2MSB;
#else
	*swap = eh.ident[EI_DATA] == ELFDATA2LSB;
#endif
	if (is64) {
		type = get16(&eh.e64.e_type, *swap);
		ph->off = get64(&eh.e64.e_phoff, *swap);
		ph->entsize = get16(&eh.e64.e_phentsize, *swap);
		ph->num = get16(&eh.e64.e_phnum, *swap);
		shoff = get64(&eh.e64.e_shoff, *swap);
	} else {
		type = get16(&eh.e32.e_type, *swap);
		ph->off = get32(&eh.e32.e_phoff, *swap);
		ph->entsize = get16(&eh.e32.e_phentsize, *swap);
		ph->num = get16(&eh.e32.e_phnum, *swap);
		shoff = get32(&eh.e32.e_shoff, *swap);
	}
	if (type != ET_EXEC && type != ET_DYN)
		return false;
	if (ph->num == PN_XNUM && !elf_xnum(fd, is64, *swap, shoff, &ph->num))
		return false;
	/* p_type is the first field of both program header layouts */
	return ph->entsize >= sizeof(uint32_t) && ph->num;
}

enum elf_kind { NOT_ELF, ELF_DYNAMIC, ELF_STATIC };

/*
 * What @fd is: an ELF program without a PT_INTERP program header is statically linked, with
 * no dynamic linker to load the preload library.  When in doubt (unreadable, truncated), not
 * static: execve() will say what is wrong with it.
 */
static enum elf_kind elf_kind(int fd)
{
	unsigned char buf[4096];
	struct elf_phdrs ph;
	uint32_t i, k, chunk;
	bool swap;
	size_t size;

	if (!elf_header(fd, &ph, &swap))
		return NOT_ELF;
	chunk = sizeof(buf) / ph.entsize;
	if (!chunk)
		return ELF_DYNAMIC;
	for (i = 0; i < ph.num; i += chunk) {
		if (chunk > ph.num - i)
			chunk = ph.num - i;
		size = (size_t)chunk * ph.entsize;
		if (pread(fd, buf, size, (off_t)(ph.off + (uint64_t)i * ph.entsize)) !=
		    (ssize_t)size)
			return ELF_DYNAMIC;
		for (k = 0; k < chunk; k++)
			if (get32(buf + (size_t)k * ph.entsize, swap) == PT_INTERP)
				return ELF_DYNAMIC;
	}
	return ELF_STATIC;
}

/*
 * Refuse a statically linked program (exit status), warn about a set-user-ID one; 0 for
 * everything else, scripts included (their interpreter is what runs, and the kernel ignores
 * their set-user-ID bit).
 */
static int check_program(const char *path, const char *name)
{
	enum elf_kind kind;
	struct stat st;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;	/* execute-only: we cannot tell */
	kind = elf_kind(fd);
	if (kind == ELF_STATIC) {
		fprintf(stderr,
			"dmabuf-run: %s: statically linked: the preload library cannot serve it "
			"(a static program has no dynamic linker to load it and would talk to the "
			"kernel directly); link it dynamically\n",
			name);
		ret = EXIT_NOEXEC;
	} else if (kind == ELF_DYNAMIC && !fstat(fd, &st) &&
		   ((st.st_mode & S_ISUID && st.st_uid != geteuid()) ||
		    (st.st_mode & S_ISGID && st.st_gid != getegid()))) {
		fprintf(stderr,
			"dmabuf-run: warning: %s is set-user-ID or set-group-ID: the dynamic "
			"linker ignores LD_PRELOAD for it, so its dma-buf calls go to the kernel\n",
			name);
	}
	close(fd);
	return ret;
}

/* Run the command found at @path, as execvp() would (a file without #! goes to /bin/sh). */
static void __attribute__((noreturn)) exec_command(const char *path, char **argv)
{
	char **sh_argv;
	size_t argc;
	int err;

	execv(path, argv);
	err = errno;
	if (err == ENOEXEC) {
		for (argc = 0; argv[argc]; argc++)
			;
		sh_argv = calloc(argc + 2, sizeof(*sh_argv));
		if (sh_argv) {
			sh_argv[0] = "/bin/sh";
			sh_argv[1] = (char *)path;
			memcpy(sh_argv + 2, argv + 1, argc * sizeof(*argv));
			execv("/bin/sh", sh_argv);
			err = errno;
		}
	}
	fprintf(stderr, "dmabuf-run: %s: %s\n", argv[0], strerror(err));
	_exit(err == ENOENT || err == ENOTDIR ? EXIT_NOTFOUND : EXIT_NOEXEC);
}

/* ---- the preload library ---- */

/*
 * The build tree's src directory into @out when we run from it (BUILD/src/tools/dmabuf-run):
 * where preload/ and broker/ are.  False when installed (or without /proc).
 */
static bool tree_dir(char *out, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", out, len - 1);
	char *slash;

	if (n <= 0 || (size_t)n >= len - 1)
		return false;
	out[n] = '\0';
	slash = strrchr(out, '/');
	if (!slash)
		return false;
	*slash = '\0';
	slash = strrchr(out, '/');
	if (!slash || strcmp(slash, "/tools"))
		return false;
	*slash = '\0';
	return true;
}

/* @path made absolute (against the working directory) into @out.  0 or -errno. */
static int absolute(const char *path, char *out, size_t len)
{
	char cwd[PATH_MAX];
	int n;

	if (path[0] == '/')
		n = snprintf(out, len, "%s", path);
	else if (getcwd(cwd, sizeof(cwd)))
		n = snprintf(out, len, "%s/%s", cwd, path);
	else
		return -errno;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * The preload library: $DMABUF_PRELOAD, else beside us in the build tree, else the installed
 * one.  0, or the exit status after a message.
 */
static int find_preload(const char *tree, char *out, size_t len)
{
	const char *env = getenv("DMABUF_PRELOAD");

	if (env && env[0]) {
		if (!is_regular(env)) {
			fprintf(stderr, "dmabuf-run: DMABUF_PRELOAD=%s: no such library\n", env);
			return EXIT_NOTFOUND;
		}
		if (absolute(env, out, len)) {
			fprintf(stderr, "dmabuf-run: DMABUF_PRELOAD=%s: cannot make it absolute\n",
				env);
			return EXIT_FAILED;
		}
	} else if (!(tree && snprintf(out, len, "%s/preload/" PRELOAD_NAME, tree) < (int)len &&
		     is_regular(out))) {
		if (!is_regular(DMABUF_PRELOAD_PATH)) {
			fprintf(stderr,
				"dmabuf-run: cannot find the preload library " PRELOAD_NAME
				" (not built or not installed as %s); set DMABUF_PRELOAD\n",
				DMABUF_PRELOAD_PATH[0] ? DMABUF_PRELOAD_PATH : "configured");
			return EXIT_NOTFOUND;
		}
		snprintf(out, len, "%s", DMABUF_PRELOAD_PATH);
	}
	/* the dynamic linker splits LD_PRELOAD at colons and spaces */
	if (strpbrk(out, ": ")) {
		fprintf(stderr, "dmabuf-run: %s: LD_PRELOAD cannot carry a path with ':' or a "
			"space\n", out);
		return EXIT_FAILED;
	}
	return 0;
}

/* Whether an LD_PRELOAD element @el (@n bytes) is the preload library @lib (or any copy). */
static bool is_preload(const char *el, size_t n, const char *lib)
{
	size_t k = sizeof(PRELOAD_NAME) - 1;

	if (lib && strlen(lib) == n && !memcmp(el, lib, n))
		return true;
	return n >= k && !memcmp(el + n - k, PRELOAD_NAME, k) && (n == k || el[n - k - 1] == '/');
}

/*
 * @old (an LD_PRELOAD value) without the preload library, each element after a colon, into
 * @out (at least strlen(@old) + 2 bytes).  Returns the length written.
 */
static size_t preload_others(const char *old, const char *lib, char *out)
{
	const char *p = old, *end;
	size_t n, len = 0;

	while (*p) {
		end = p + strcspn(p, ": ");
		n = (size_t)(end - p);
		if (n && !is_preload(p, n, lib)) {
			out[len++] = ':';
			memcpy(out + len, p, n);
			len += n;
		}
		p = *end ? end + 1 : end;
	}
	out[len] = '\0';
	return len;
}

/* LD_PRELOAD for the command: @lib first, then what was there already.  0 or -ENOMEM. */
static int set_ld_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	size_t n = strlen(lib);
	char *buf;
	int ret;

	buf = malloc(n + (old ? strlen(old) : 0) + 2);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, lib, n);
	if (old)
		preload_others(old, lib, buf + n);
	else
		buf[n] = '\0';
	ret = setenv("LD_PRELOAD", buf, 1) ? -errno : 0;
	free(buf);
	return ret;
}

/* ---- the broker ---- */

/* dmabufd to start: $DMABUFD, the build tree's, the installed one, else from PATH. */
static bool find_broker(const char *tree, char *out, size_t len, char *why, size_t whylen)
{
	return dmabufd_binary(DMABUFD_PATH, tree, out, len, why, whylen);
}

/*
 * Whether a broker the library can use listens on @path: 0, -ENOENT or -ECONNREFUSED
 * (nobody: the library will start one), or another -errno (unusable).
 */
static int probe(const char *path)
{
	int s = dmabufd_connect(path), ret;

	if (s < 0)
		return s;
	/* the library refuses a broker of another user */
	ret = dmabufd_peer_check(s);
	close(s);
	return ret;
}

/* A private broker: its directory, socket and process. */
struct broker {
	char dir[SUN_PATH_MAX];
	char sock[SUN_PATH_MAX];
	char bin[PATH_MAX];
	pid_t pid;
};

/* A fresh 0700 directory for the socket, under $XDG_RUNTIME_DIR or /tmp.  0 or -errno. */
static int broker_mkdir(struct broker *b)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	const char *bases[] = { xdg && xdg[0] == '/' ? xdg : NULL, "/tmp" };
	int i, n, err = -ENAMETOOLONG;

	for (i = 0; i < 2; i++) {
		if (!bases[i])
			continue;
		n = snprintf(b->dir, sizeof(b->dir), "%s/dmabuf-run.XXXXXX", bases[i]);
		if (n < 0 || (size_t)n + sizeof("/" SOCKET_NAME) > sizeof(b->dir))
			continue;
		if (!mkdtemp(b->dir)) {
			err = -errno;
			continue;
		}
		/* fits: checked above */
		memcpy(b->sock, b->dir, (size_t)n);
		memcpy(b->sock + n, "/" SOCKET_NAME, sizeof("/" SOCKET_NAME));
		return 0;
	}
	b->dir[0] = '\0';
	return err;
}

/* Remove the private directory and what the broker (or the library) left in it. */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) && errno != ENOENT ? -1 : 0;
}

/* The private broker's directory and what the broker and the library made in it. */
static void broker_rmdir(struct broker *b)
{
	if (!b->dir[0])
		return;
	if (nftw(b->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
		fprintf(stderr, "dmabuf-run: warning: cannot remove %s: %s\n", b->dir,
			strerror(errno));
	b->dir[0] = '\0';
}


/* Stop the private broker: SIGTERM, and SIGKILL if it has not exited after STOP_TIMEOUT s. */
static void broker_stop(struct broker *b)
{
	if (b->pid <= 0)
		return;
	if (dmabufd_private_stop(b->pid, STOP_TIMEOUT * 1000))
		fprintf(stderr, "dmabuf-run: the private broker did not exit: killed it\n");
	b->pid = 0;
}

/* Start a private broker and wait until it listens.  0, or the exit status after a message. */
static int broker_start(struct broker *b, const char *tree)
{
	char why[PATH_MAX + 96];
	pid_t pid;
	int err;

	if (!find_broker(tree, b->bin, sizeof(b->bin), why, sizeof(why))) {
		fprintf(stderr, "dmabuf-run: cannot start a private broker: %s\n", why);
		return EXIT_FAILED;
	}
	err = broker_mkdir(b);
	if (err) {
		fprintf(stderr, "dmabuf-run: cannot make a directory for the broker: %s\n",
			strerror(-err));
		return EXIT_FAILED;
	}
	pid = dmabufd_private_start(b->bin, b->sock);
	if (pid == -ECONNREFUSED) {
		fprintf(stderr, "dmabuf-run: the private broker %s did not start\n", b->bin);
		broker_rmdir(b);
		return EXIT_FAILED;
	}
	if (pid < 0) {
		fprintf(stderr, "dmabuf-run: cannot start a private broker: %s\n",
			strerror((int)-pid));
		broker_rmdir(b);
		return EXIT_FAILED;
	}
	b->pid = pid;
	return 0;
}

/*
 * Whether to start a private broker when not asked to: only when the socket the library would
 * use is unusable.  Otherwise, or when the socket is the caller's choice, 0 (or the exit status
 * after a message): the broker listening there serves the command, or the library starts one.
 */
static int need_private(const char *tree, bool *private_broker)
{
	const char *env = getenv("DMABUFD_SOCKET");
	bool chosen = env && env[0];
	char path[SUN_PATH_MAX], bin[PATH_MAX], why[PATH_MAX + 96];
	int ret;

	ret = dmabufd_socket_path(path, sizeof(path));
	if (!ret)
		ret = probe(path);
	if (!ret)
		return 0;
	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		ret = dmabufd_socket_dir_prepare(path);
		if (!ret) {
			/* the library starts one on demand: make sure it can */
			if (find_broker(tree, bin, sizeof(bin), why, sizeof(why)))
				return 0;
			fprintf(stderr, "dmabuf-run: no broker listens on %s and %s\n", path, why);
			return EXIT_FAILED;
		}
	}
	if (chosen) {
		fprintf(stderr, "dmabuf-run: cannot use the broker socket %s: %s\n", env,
			strerror(-ret));
		return EXIT_FAILED;
	}
	*private_broker = true;
	return 0;
}

/* ---- running the command beside a private broker ---- */

/*
 * Our children are reaped here, whatever the caller's SIGCHLD disposition: SIGCHLD is blocked
 * and waited for (no asynchronous handlers: nothing can interrupt the clean-up).
 */
static void signals_take(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &caller_mask);
	sigaction(SIGCHLD, &dfl, &caller_chld);
}

/* Die of @sig, as the command did (no core of ours); exit 128 + @sig if that fails. */
static void __attribute__((noreturn)) die_of(int sig)
{
	struct rlimit none = { 0, 0 };
	sigset_t set;

	setrlimit(RLIMIT_CORE, &none);
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	exit(128 + sig);
}

/*
 * Fork the command and wait for it, passing on the signals a process sends us (those from
 * the kernel, a terminal's ^C, ^\ or hang-up, reached the command's process group as well).
 * Signals the caller ignores stay ignored.  The forwarded signals stay blocked afterwards, so
 * that the clean-up completes.  The command's wait status, or -1 (with a message).
 */
static int run_child(const char *path, char **argv)
{
	struct sigaction cur;
	sigset_t set;
	siginfo_t si;
	int i, sig, st = -1;
	pid_t pid, got;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (i = 0; i < NFORWARDED; i++)
		if (!sigaction(forwarded[i], NULL, &cur) && cur.sa_handler != SIG_IGN)
			sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pid = fork();
	if (pid == 0) {
		sigaction(SIGCHLD, &caller_chld, NULL);
		sigprocmask(SIG_SETMASK, &caller_mask, NULL);
		exec_command(path, argv);
	}
	if (pid < 0) {
		fprintf(stderr, "dmabuf-run: fork: %s\n", strerror(errno));
		return -1;
	}
	for (;;) {
		got = waitpid(pid, &st, WNOHANG);
		if (got == pid)
			return st;
		if (got < 0 && errno != EINTR) {
			fprintf(stderr, "dmabuf-run: waitpid: %s\n", strerror(errno));
			return -1;
		}
		sig = sigwaitinfo(&set, &si);
		if (sig > 0 && sig != SIGCHLD && si.si_code <= 0)
			kill(pid, sig);
	}
}

static int run_private(const char *path, char **argv, const char *tree, const char *lib)
{
	struct broker b = { .pid = 0 };
	int ret, st;

	signals_take();
	ret = broker_start(&b, tree);
	if (ret)
		return ret;
	if (setenv("DMABUFD_SOCKET", b.sock, 1) || set_ld_preload(lib)) {
		fprintf(stderr, "dmabuf-run: %s\n", strerror(errno));
		st = -1;
	} else {
		st = run_child(path, argv);
	}
	broker_stop(&b);
	broker_rmdir(&b);
	if (st < 0)
		return EXIT_FAILED;
	if (WIFSIGNALED(st))
		die_of(WTERMSIG(st));
	return WEXITSTATUS(st);
}

/* ---- main ---- */

/*
 * The coherency checker's variables: DMABUF_CHECK_COHERENCY, and DMABUF_CHECK_REPORT (made
 * absolute: the command may change directories) naming a file made empty here.  0, or the
 * exit status after a message.
 */
static int set_check(const struct options *o)
{
	char path[PATH_MAX];
	int fd = -1, err;

	if (!o->check_mode)
		return 0;
	if (o->check_report) {
		err = absolute(o->check_report, path, sizeof(path));
		if (err)
			errno = -err;
		else
			fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0666);
		if (fd < 0 || setenv("DMABUF_CHECK_REPORT", path, 1)) {
			fprintf(stderr, "dmabuf-run: --check-report=%s: %s\n", o->check_report,
				strerror(errno));
			if (fd >= 0)
				close(fd);
			return EXIT_FAILED;
		}
		close(fd);
	}
	if (setenv("DMABUF_CHECK_COHERENCY", o->check_mode, 1)) {
		fprintf(stderr, "dmabuf-run: %s\n", strerror(errno));
		return EXIT_FAILED;
	}
	return 0;
}

/*
 * The environment all commands get from us besides LD_PRELOAD: DMABUFD_SOCKET for --socket,
 * DMABUFD when we run from the build tree, so the library starts the broker built with it,
 * and the coherency checker's variables.
 */
static int set_environment(const struct options *o, const char *tree)
{
	char path[PATH_MAX];
	const char *env = getenv("DMABUFD");
	int ret;

	ret = set_check(o);
	if (ret)
		return ret;
	if (o->socket) {
		if (absolute(o->socket, path, sizeof(path)) ||
		    setenv("DMABUFD_SOCKET", path, 1)) {
			fprintf(stderr, "dmabuf-run: --socket=%s: %s\n", o->socket,
				strerror(errno));
			return EXIT_FAILED;
		}
	}
	if ((!env || !env[0]) && tree &&
	    snprintf(path, sizeof(path), "%s/broker/dmabufd", tree) < (int)sizeof(path) &&
	    is_executable(path) && setenv("DMABUFD", path, 1))
		return EXIT_FAILED;
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .private_broker = false };
	char tree_buf[PATH_MAX], cmd[PATH_MAX], lib[PATH_MAX];
	const char *tree;
	int ret;

	ret = parse_options(argc, argv, &o);
	if (ret)
		return ret - 1;
	ret = find_command(o.argv[0], cmd, sizeof(cmd));
	if (!ret)
		ret = check_program(cmd, o.argv[0]);
	if (ret)
		return ret;
	tree = tree_dir(tree_buf, sizeof(tree_buf)) ? tree_buf : NULL;
	ret = find_preload(tree, lib, sizeof(lib));
	if (!ret)
		ret = set_environment(&o, tree);
	if (!ret && !o.private_broker)
		ret = need_private(tree, &o.private_broker);
	if (ret)
		return ret;
	if (o.private_broker)
		return run_private(cmd, o.argv, tree, lib);
	if (set_ld_preload(lib)) {
		fprintf(stderr, "dmabuf-run: %s\n", strerror(ENOMEM));
		return EXIT_FAILED;
	}
	/* nothing to clean up afterwards: the command takes our place */
	exec_command(cmd, o.argv);
}

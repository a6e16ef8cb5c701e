// SPDX-License-Identifier: MIT
/*
 * test_dmabuf_run.c - dmabuf-run, the launcher: options, command lookup, the refusal of
 * static binaries, LD_PRELOAD, the broker it picks or starts, exit status pass-through.
 *
 * usage: test_dmabuf_run DMABUF_RUN SANITIZE INSTALLED_PRELOAD
 *   DMABUF_RUN         the dmabuf-run under test (in the build tree)
 *   SANITIZE           meson's b_sanitize ('none' when not sanitized)
 *   INSTALLED_PRELOAD  where an installed preload library would be
 *
 * Nothing here touches the user's broker: DMABUFD_SOCKET and XDG_RUNTIME_DIR point into a
 * fresh directory, and $DMABUFD names the dmabufd to start.  The preload library stands in
 * as a link to this process's libc (harmless in any dynamically linked program), or as an
 * empty file where a sanitized dmabuf-run itself would load it (the dynamic linker skips it
 * with a message).  The real library is used only for the build-tree lookup.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc_stat.h"
#include "tap.h"

#define WAIT_MS		20000
#define OUT_MAX		8192

static const char *run_path;	/* dmabuf-run */
static bool sanitized;
static const char *installed_preload;
static char tmp[PATH_MAX];	/* this test's directory */
static char xdg[PATH_MAX];	/* $XDG_RUNTIME_DIR: where private brokers go */
static char libc_link[PATH_MAX];	/* the preload library's stand-in */
static char tree[PATH_MAX];	/* BUILD/src */
static bool ignore_sigchld;	/* dmabuf-run starts with SIGCHLD ignored */

/* ---- running dmabuf-run ---- */

struct proc {
	pid_t pid;
	int in;		/* its stdin, or -1 (then /dev/null) */
	int out, err;
	char obuf[OUT_MAX], ebuf[OUT_MAX];
	size_t olen, elen;
	int status;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Start dmabuf-run with @args (NULL-terminated), the environment changed by @env
 * ("NAME=VALUE" sets, "NAME" unsets; NULL-terminated or NULL), in @cwd (NULL: ours).
 * With @stdin_pipe its stdin is a pipe we hold (p->in).
 */
static void proc_start(struct proc *p, const char *const *env, const char *cwd,
		       bool stdin_pipe, const char *const *args)
{
	int o[2], e[2], i[2] = { -1, -1 }, n, k;
	char *argv[32] = { "dmabuf-run" };
	const char *eq;
	char name[256];

	memset(p, 0, sizeof(*p));
	for (n = 0; args[n] && n < 30; n++)
		argv[n + 1] = (char *)args[n];
	argv[n + 1] = NULL;
	if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC) || (stdin_pipe && pipe2(i, O_CLOEXEC)))
		bail_out("pipe: %s", strerror(errno));
	fflush(stdout);
	p->pid = fork();
	if (p->pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (p->pid == 0) {
		for (k = 0; env && env[k]; k++) {
			eq = strchr(env[k], '=');
			if (!eq) {
				unsetenv(env[k]);
				continue;
			}
			snprintf(name, sizeof(name), "%.*s", (int)(eq - env[k]), env[k]);
			setenv(name, eq + 1, 1);
		}
		if (cwd && chdir(cwd))
			_exit(99);
		if (ignore_sigchld)
			signal(SIGCHLD, SIG_IGN);
		if (!stdin_pipe)
			i[0] = open("/dev/null", O_RDONLY);
		dup2(i[0], 0);
		dup2(o[1], 1);
		dup2(e[1], 2);
		execv(run_path, argv);
		_exit(98);
	}
	close(o[1]);
	close(e[1]);
	if (stdin_pipe)
		close(i[0]);
	p->in = stdin_pipe ? i[1] : -1;
	p->out = o[0];
	p->err = e[0];
}

static void append(int *fd, char *buf, size_t *len)
{
	ssize_t n = read(*fd, buf + *len, OUT_MAX - 1 - *len);

	if (n > 0) {
		*len += (size_t)n;
		buf[*len] = '\0';
	} else if (n == 0 || errno != EINTR) {
		close(*fd);
		*fd = -1;
	}
}

/* Read its output until both streams end (or the deadline passes).  False on timeout. */
static bool proc_drain(struct proc *p, int64_t deadline)
{
	struct pollfd pfd[2];
	int64_t left;

	while (p->out >= 0 || p->err >= 0) {
		left = deadline - now_ms();
		if (left <= 0)
			return false;
		pfd[0] = (struct pollfd){ .fd = p->out, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = p->err, .events = POLLIN };
		if (poll(pfd, 2, (int)left) < 0 && errno != EINTR)
			return false;
		if (p->out >= 0 && pfd[0].revents)
			append(&p->out, p->obuf, &p->olen);
		if (p->err >= 0 && pfd[1].revents)
			append(&p->err, p->ebuf, &p->elen);
	}
	return true;
}

/* Read its stdout until a whole line came (or the deadline passed).  False then. */
static bool proc_line(struct proc *p)
{
	int64_t deadline = now_ms() + WAIT_MS;
	struct pollfd pfd;

	while (!memchr(p->obuf, '\n', p->olen)) {
		if (p->out < 0 || now_ms() >= deadline)
			return false;
		pfd = (struct pollfd){ .fd = p->out, .events = POLLIN };
		if (poll(&pfd, 1, (int)(deadline - now_ms())) > 0)
			append(&p->out, p->obuf, &p->olen);
	}
	return true;
}

/* Close its stdin, read everything, reap it.  Its wait status in p->status. */
static void proc_finish(struct proc *p)
{
	bool drained;

	if (p->in >= 0)
		close(p->in);
	p->in = -1;
	drained = proc_drain(p, now_ms() + WAIT_MS);
	if (!drained) {
		diag("dmabuf-run (pid %d) hangs: killing it", (int)p->pid);
		kill(p->pid, SIGKILL);
	}
	while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
		;
	if (p->out >= 0)
		close(p->out);
	if (p->err >= 0)
		close(p->err);
	/* the trailing newline of a one-line answer is in the way of comparisons */
	if (p->olen && p->obuf[p->olen - 1] == '\n')
		p->obuf[--p->olen] = '\0';
}

static void run_in(struct proc *p, const char *cwd, const char *const *env,
		   const char *const *args)
{
	proc_start(p, env, cwd, false, args);
	proc_finish(p);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define ENV(...)  ((const char *const[]){ __VA_ARGS__, NULL })
#define run(p, env, ...) run_in((p), NULL, (env), ARGS(__VA_ARGS__))

static bool exited(const struct proc *p, int code)
{
	if (WIFEXITED(p->status) && WEXITSTATUS(p->status) == code)
		return true;
	diag("wanted exit %d, got status 0x%x; stderr: %s", code, p->status, p->ebuf);
	return false;
}

static bool has(const char *buf, const char *what)
{
	if (strstr(buf, what))
		return true;
	diag("'%s' not in: %s", what, buf);
	return false;
}

/* ---- files ---- */

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fchmod(fd, mode))
		bail_out("%s: %s", path, strerror(errno));
	close(fd);
}

static void path_in(char *out, const char *dir, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		bail_out("path too long");
}

/* The number of entries in @dir (-1 if it cannot be read). */
static int dir_entries(const char *dir)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void rm_tree(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		path_in(path, dir, de->d_name);
		if (!lstat(path, &st) && S_ISDIR(st.st_mode)) {
			chmod(path, 0700);
			rm_tree(path);
		} else {
			unlink(path);
		}
	}
	closedir(d);
	rmdir(dir);
}

/* This process's libc, from its mappings. */
static bool find_libc(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[PATH_MAX + 128], *path, *base;
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		path = strchr(line, '/');
		if (!path)
			continue;
		path[strcspn(path, "\n")] = '\0';
		base = strrchr(path, '/') + 1;
		if (!strncmp(base, "libc.so", 7) || !strncmp(base, "libc-2.", 7))
			found = snprintf(out, len, "%s", path) < (int)len;
	}
	fclose(f);
	return found;
}

/* ---- ELF files made by hand ---- */

static void put(unsigned char *b, size_t off, unsigned int size, uint64_t v, bool big)
{
	unsigned int i;

	for (i = 0; i < size; i++)
		b[off + i] = (unsigned char)(v >> (8 * (big ? size - 1 - i : i)));
}

/*
 * An ELF executable header with one program header: PT_LOAD (static) or PT_INTERP naming an
 * interpreter that does not exist.  For our machine, in either class and byte order.
 */
static void make_elf(const char *path, bool is64, bool big, bool interp, uint16_t machine)
{
	static const char interp_path[] = "/nonexistent/ld-dmabuf-run-test.so";
	unsigned char b[256] = { 0 };
	size_t eh = is64 ? 64 : 52, ph = is64 ? 56 : 32, str = eh + ph;
	uint32_t type = interp ? PT_INTERP : PT_LOAD;

	memcpy(b, ELFMAG, SELFMAG);
	b[EI_CLASS] = is64 ? ELFCLASS64 : ELFCLASS32;
	b[EI_DATA] = big ? ELFDATA2MSB : ELFDATA2LSB;
	b[EI_VERSION] = EV_CURRENT;
	put(b, 16, 2, ET_EXEC, big);
	put(b, 18, 2, machine, big);
	put(b, 20, 4, EV_CURRENT, big);
	put(b, is64 ? 32 : 28, is64 ? 8 : 4, eh, big);		/* e_phoff */
	put(b, is64 ? 52 : 40, 2, eh, big);			/* e_ehsize */
	put(b, is64 ? 54 : 42, 2, ph, big);			/* e_phentsize */
	put(b, is64 ? 56 : 44, 2, 1, big);			/* e_phnum */
	put(b, eh, 4, type, big);				/* p_type */
	memcpy(b + str, interp_path, sizeof(interp_path));
	if (is64) {
		put(b, eh + 8, 8, str, big);			/* p_offset */
		put(b, eh + 32, 8, sizeof(interp_path), big);	/* p_filesz */
		put(b, eh + 40, 8, sizeof(interp_path), big);	/* p_memsz */
	} else {
		put(b, eh + 4, 4, str, big);
		put(b, eh + 16, 4, sizeof(interp_path), big);
		put(b, eh + 20, 4, sizeof(interp_path), big);
	}
	write_file(path, b, str + sizeof(interp_path), 0755);
}

/* Our own e_machine (so the kernel gets as far as looking for the interpreter). */
static uint16_t own_machine(void)
{
	Elf64_Ehdr eh;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, &eh, sizeof(eh)) : -1;

	if (fd >= 0)
		close(fd);
	return n >= 20 ? eh.e_machine : EM_X86_64;
}

/* ---- the tests ---- */

static void test_options(void)
{
	struct proc p;

	run(&p, NULL, "--help");
	ok(exited(&p, 0) && has(p.obuf, "Usage: dmabuf-run") && has(p.obuf, "--private") &&
		   has(p.obuf, "--socket") && p.elen == 0,
	   "--help: usage on stdout, exit 0");
	run(&p, NULL, "-h");
	ok(exited(&p, 0) && has(p.obuf, "Usage: dmabuf-run"), "-h: usage, exit 0");
	run(&p, NULL, "--version");
	ok(exited(&p, 0) && !strncmp(p.obuf, "dmabuf-run ", 11), "--version: '%s'", p.obuf);
	run(&p, NULL, "--bogus", "true");
	ok(exited(&p, 2) && has(p.ebuf, "unknown option '--bogus'") && has(p.ebuf, "--help") &&
		   p.olen == 0,
	   "an unknown option: a message and a hint on stderr, exit 2");
	run(&p, NULL, "-x", "true");
	ok(exited(&p, 2) && has(p.ebuf, "unknown option '-x'"), "an unknown short option: exit 2");
	run(&p, NULL, "--socket");
	ok(exited(&p, 2) && has(p.ebuf, "needs an argument"), "--socket without a path: exit 2");
	run(&p, NULL, "--socket=", "true");
	ok(exited(&p, 2), "--socket= (empty): exit 2");
	run(&p, NULL, "--private");
	ok(exited(&p, 2) && has(p.ebuf, "no command"), "no command: a usage error, exit 2");
	run(&p, NULL, "--private", "--socket=x.sock", "true");
	ok(exited(&p, 2), "--private with --socket: exit 2");
	run(&p, NULL, "--", "sh", "-c", "exit 3");
	ok(exited(&p, 3), "'--' ends the options");
	run(&p, NULL, "sh", "-c", "echo \"$1\"", "sh", "--private");
	ok(exited(&p, 0) && !strcmp(p.obuf, "--private"),
	   "the command's own options are the command's: '%s'", p.obuf);
}

/* The coherency checker's options: the variables the command gets, the report file. */
static void test_check(void)
{
	char dir[PATH_MAX], file[PATH_MAX], want[2 * PATH_MAX];
	const char *show = "echo \"${DMABUF_CHECK_COHERENCY-unset} ${DMABUF_CHECK_REPORT-unset}\"";
	struct stat st;
	struct proc p;

	run(&p, NULL, "--help");
	ok(exited(&p, 0) && has(p.obuf, "--check-coherency[=MODE]") &&
		   has(p.obuf, "--check-report=FILE") && has(p.obuf, "access-outside-bracket") &&
		   has(p.obuf, "unbalanced-at-exit"),
	   "--help: the checker's options and the kinds of violation");
	run(&p, ENV("DMABUF_CHECK_COHERENCY", "DMABUF_CHECK_REPORT"), "sh", "-c", show);
	ok(exited(&p, 0) && !strcmp(p.obuf, "unset unset"),
	   "without the options the command gets no checker variables: '%s'", p.obuf);
	run(&p, NULL, "--check-coherency", "sh", "-c", show);
	ok(exited(&p, 0) && !strcmp(p.obuf, "report unset"),
	   "--check-coherency: DMABUF_CHECK_COHERENCY=report: '%s'", p.obuf);
	run(&p, NULL, "--check-coherency=report", "sh", "-c", show);
	ok(exited(&p, 0) && !strcmp(p.obuf, "report unset"), "--check-coherency=report: '%s'",
	   p.obuf);
	run(&p, NULL, "--check-coherency=abort", "sh", "-c", show);
	ok(exited(&p, 0) && !strcmp(p.obuf, "abort unset"), "--check-coherency=abort: '%s'",
	   p.obuf);
	run(&p, NULL, "--check-coherency=bogus", "true");
	ok(exited(&p, 2) && has(p.ebuf, "report or abort") && has(p.ebuf, "--help") &&
		   p.olen == 0,
	   "--check-coherency=bogus: a usage error, exit 2");
	run(&p, NULL, "--check-coherency=", "true");
	ok(exited(&p, 2), "--check-coherency= (empty): exit 2");
	run(&p, NULL, "--check-report=", "true");
	ok(exited(&p, 2) && has(p.ebuf, "needs a file"), "--check-report= (empty): exit 2");
	run(&p, NULL, "--check-report");
	ok(exited(&p, 2) && has(p.ebuf, "needs an argument"),
	   "--check-report without a file: exit 2");

	/* the report file: made absolute, emptied, and it implies the checker */
	path_in(dir, tmp, "rep");
	mkdir(dir, 0700);
	path_in(file, dir, "out.jsonl");
	write_file(file, "old\n", 4, 0644);
	run_in(&p, tmp, NULL, ARGS("--check-report=rep/out.jsonl", "sh", "-c", show));
	snprintf(want, sizeof(want), "report %s", file);
	ok(exited(&p, 0) && !strcmp(p.obuf, want),
	   "--check-report=rel: implies report mode, the path made absolute: '%s'", p.obuf);
	ok(!stat(file, &st) && st.st_size == 0, "--check-report: the file is truncated first");
	unlink(file);
	run(&p, NULL, "--check-report", file, "--check-coherency=abort", "sh", "-c", show);
	snprintf(want, sizeof(want), "abort %s", file);
	ok(exited(&p, 0) && !strcmp(p.obuf, want),
	   "--check-report FILE with --check-coherency=abort: '%s'", p.obuf);
	ok(!stat(file, &st) && S_ISREG(st.st_mode) && st.st_size == 0,
	   "--check-report: a missing file is created");
	path_in(file, tmp, "no-such-dir/out.jsonl");
	run(&p, NULL, "--check-report", file, "true");
	ok(exited(&p, 125) && has(p.ebuf, "--check-report") && has(p.ebuf, "No such file"),
	   "--check-report in a missing directory: a message, exit 125");
	run(&p, NULL, "--private", "--check-coherency=abort", "sh", "-c", show);
	ok(exited(&p, 0) && !strcmp(p.obuf, "abort unset"),
	   "--private --check-coherency=abort: the command gets it: '%s'", p.obuf);
}

static void test_lookup(void)
{
	char path[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX], env[2 * PATH_MAX + 8];
	struct proc p;

	run(&p, NULL, "dmabuf-run-no-such-command", "x");
	ok(exited(&p, 127) &&
		   has(p.ebuf, "dmabuf-run: dmabuf-run-no-such-command: command not found"),
	   "a command not in PATH: 'command not found', exit 127");
	run(&p, NULL, "/nonexistent/dir/cmd");
	ok(exited(&p, 127) && has(p.ebuf, "No such file"), "a missing path: exit 127");
	path_in(path, tmp, "not-executable");
	write_file(path, "exit 0\n", 7, 0644);
	run(&p, NULL, path);
	ok(exited(&p, 126) && has(p.ebuf, "Permission denied"), "a file without x: exit 126");
	run(&p, NULL, tmp);
	ok(exited(&p, 126) && has(p.ebuf, "Is a directory"), "a directory: exit 126");

	/* PATH is searched as execvp() does: past a file that is not executable */
	path_in(p1, tmp, "p1");
	path_in(p2, tmp, "p2");
	mkdir(p1, 0700);
	mkdir(p2, 0700);
	path_in(path, p1, "dmabuf-run-cmd");
	write_file(path, "#!/bin/sh\nexit 5\n", 17, 0644);
	path_in(path, p2, "dmabuf-run-cmd");
	write_file(path, "#!/bin/sh\nexit 6\n", 17, 0755);
	snprintf(env, sizeof(env), "PATH=%s:%s", p1, p2);
	run(&p, ENV(env), "dmabuf-run-cmd");
	ok(exited(&p, 6), "PATH search skips a file that is not executable");
	snprintf(env, sizeof(env), "PATH=%s", p1);
	run(&p, ENV(env), "dmabuf-run-cmd");
	ok(exited(&p, 126) && has(p.ebuf, "Permission denied"),
	   "only a file that is not executable in PATH: exit 126");

	path_in(path, tmp, "script");
	write_file(path, "#!/bin/sh\nexit 5\n", 17, 0755);
	run(&p, NULL, path);
	ok(exited(&p, 5), "a #! script runs");
	path_in(path, tmp, "no-shebang");
	write_file(path, "exit 4\n", 7, 0755);
	run(&p, NULL, path);
	ok(exited(&p, 4), "a script without #! runs with /bin/sh, as execvp() does");
}

static void check_static(const char *path, const char *what)
{
	struct proc p;

	run(&p, NULL, path);
	ok(exited(&p, 126) && has(p.ebuf, "statically linked") && has(p.ebuf, "kernel directly"),
	   "%s: refused, exit 126", what);
}

static bool compile_static(const char *src, const char *bin)
{
	int st;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execlp("sh", "sh", "-c", "exec ${CC:-cc} -static -o \"$1\" \"$2\"", "sh", bin, src,
		       (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void test_static(void)
{
	char path[PATH_MAX], src[PATH_MAX];
	uint16_t machine = own_machine();
	struct proc p;

	path_in(path, tmp, "static64");
	make_elf(path, true, false, false, machine);
	check_static(path, "an ELF64 without PT_INTERP");
	path_in(path, tmp, "static32");
	make_elf(path, false, false, false, machine);
	check_static(path, "an ELF32 without PT_INTERP");
	path_in(path, tmp, "static64-msb");
	make_elf(path, true, true, false, machine);
	check_static(path, "a big-endian ELF64 without PT_INTERP");
	path_in(path, tmp, "static32-msb");
	make_elf(path, false, true, false, machine);
	check_static(path, "a big-endian ELF32 without PT_INTERP");

	/* with PT_INTERP it goes to execve(), which misses the interpreter */
	path_in(path, tmp, "dynamic64");
	make_elf(path, true, false, true, machine);
	run(&p, NULL, path);
	ok(exited(&p, 127) && !strstr(p.ebuf, "statically"),
	   "an ELF with PT_INTERP is not refused (execve() finds no interpreter: 127)");

	path_in(src, tmp, "static.c");
	write_file(src, "int main(void) { return 0; }\n", 29, 0644);
	path_in(path, tmp, "static-cc");
	if (compile_static(src, path))
		check_static(path, "a program linked with cc -static");
	else
		skip("cc -static does not link here (no libc.a)");
}

static void test_status(void)
{
	char env[PATH_MAX + 32];
	pid_t pid;
	struct proc p;

	run(&p, NULL, "sh", "-c", "exit 3");
	ok(exited(&p, 3), "exit status 3 passes through");
	run(&p, NULL, "sh", "-c", "exit 0");
	ok(exited(&p, 0), "exit status 0 passes through");
	proc_start(&p, NULL, NULL, false, ARGS("sh", "-c", "echo $$"));
	pid = p.pid;
	proc_finish(&p);
	ok(exited(&p, 0) && atoi(p.obuf) == pid,
	   "without --private the command takes dmabuf-run's place (pid %d, got %s)", (int)pid,
	   p.obuf);
	run(&p, NULL, "sh", "-c", "kill -TERM $$");
	ok(WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGTERM,
	   "without --private a command killed by SIGTERM is what the caller sees");

	run(&p, NULL, "--private", "sh", "-c", "exit 3");
	ok(exited(&p, 3), "--private: exit status 3 passes through");
	run(&p, NULL, "--private", "sh", "-c", "exit 0");
	ok(exited(&p, 0), "--private: exit status 0 passes through");
	run(&p, NULL, "--private", "sh", "-c", "kill -TERM $$");
	ok((WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGTERM) ||
		   (WIFEXITED(p.status) && WEXITSTATUS(p.status) == 128 + SIGTERM),
	   "--private: a command killed by SIGTERM: dmabuf-run dies of SIGTERM (status 0x%x)",
	   p.status);
	run(&p, NULL, "--private", "sh", "-c", "kill -USR1 $$");
	ok(WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGUSR1,
	   "--private: a command killed by SIGUSR1: dmabuf-run dies of it (status 0x%x)",
	   p.status);
	ignore_sigchld = true;
	run(&p, NULL, "--private", "sh", "-c", "exit 3");
	ignore_sigchld = false;
	ok(exited(&p, 3), "--private, started with SIGCHLD ignored: exit status 3 passes through");
	is_int(dir_entries(xdg), 0, "--private left nothing in $XDG_RUNTIME_DIR");

	run(&p, NULL, "--private", "dmabuf-run-no-such-command");
	ok(exited(&p, 127), "--private: a missing command, 127");
	is_int(dir_entries(xdg), 0, "... and no broker was started for it");

	snprintf(env, sizeof(env), "DMABUFD=%s/nonexistent-dmabufd", tmp);
	run(&p, ENV(env), "--private", "true");
	ok(exited(&p, 125) && has(p.ebuf, "not an executable"),
	   "--private with DMABUFD not executable: a message, exit 125");
	is_int(dir_entries(xdg), 0, "... and nothing left behind");
}

/* The pid of the process listening on @sock (0 if none). */
static pid_t listener(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred = { 0 };
	socklen_t len = sizeof(cred);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != getuid())
		cred.pid = 0;
	if (s >= 0)
		close(s);
	return cred.pid;
}


/* The value of /proc/@pid/environ's variable @prefix ("NAME="), or NULL. */
static const char *environ_get(pid_t pid, const char *prefix)
{
	static char buf[65536];
	char path[64];
	ssize_t n, off = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	while ((n = read(fd, buf + off, sizeof(buf) - 1 - (size_t)off)) > 0)
		off += n;
	close(fd);
	buf[off] = '\0';
	for (n = 0; n < off; n += (ssize_t)strlen(buf + n) + 1)
		if (!strncmp(buf + n, prefix, strlen(prefix)))
			return buf + n + strlen(prefix);
	return NULL;
}

/*
 * Two libraries for LD_PRELOAD: links to libc (loadable by anything), or empty files where a
 * sanitized dmabuf-run itself would load them (the dynamic linker skips those).
 */
static void stand_ins(const char *lib, const char *other)
{
	if (sanitized) {
		write_file(lib, "", 0, 0644);
		write_file(other, "", 0, 0644);
	} else if ((symlink(libc_link, lib) && errno != EEXIST) ||
		   (symlink(libc_link, other) && errno != EEXIST)) {
		bail_out("symlink: %s", strerror(errno));
	}
}

static void test_private(void)
{
	char lib[PATH_MAX], libenv[PATH_MAX + 32], preload[2 * PATH_MAX + 32], dir[PATH_MAX];
	char prefix[PATH_MAX], sock[PATH_MAX], seen[PATH_MAX], other[PATH_MAX];
	char both[2 * PATH_MAX + 2];
	const char *val;
	pid_t broker;
	struct proc p;
	char *nl;
	bool up;

	/*
	 * The caller's LD_PRELOAD already names a preload library, and another: the broker
	 * gets only the other.
	 */
	path_in(dir, tmp, "pre");
	mkdir(dir, 0700);
	path_in(lib, dir, "libdmabuf-preload.so");
	path_in(other, dir, "other.so");
	stand_ins(lib, other);
	snprintf(libenv, sizeof(libenv), "DMABUF_PRELOAD=%s", lib);
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s:%s", lib, other);

	proc_start(&p, ENV(libenv, preload), NULL, true,
		   ARGS("--private", "sh", "-c",
			"echo \"$DMABUFD_SOCKET $LD_PRELOAD\"; read x; exit 7"));
	up = proc_line(&p);
	ok(up, "--private: the command runs");
	if (!up || sscanf(p.obuf, "%4095s %4095s", sock, seen) != 2)
		sock[0] = seen[0] = '\0';
	path_in(prefix, xdg, "dmabuf-run.");
	ok(!strncmp(sock, prefix, strlen(prefix)) && strstr(sock, "/dmabufd.sock"),
	   "DMABUFD_SOCKET is in a fresh directory under $XDG_RUNTIME_DIR: %s", sock);
	snprintf(both, sizeof(both), "%s:%s", lib, other);
	ok(!strcmp(seen, both), "LD_PRELOAD is the library, once, then the other: %s", seen);
	snprintf(dir, sizeof(dir), "%s", sock);
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = '\0';
	broker = sock[0] ? listener(sock) : 0;
	ok(broker > 0 && broker != p.pid, "a broker of ours listens there (pid %d)", (int)broker);
	is_int(proc_ppid(broker), p.pid, "it is dmabuf-run's child");
	val = broker > 0 ? environ_get(broker, "LD_PRELOAD=") : NULL;
	ok(val && !strcmp(val, other),
	   "it runs without the preload library in its LD_PRELOAD: %s", val ? val : "(none)");
	if (p.in >= 0 && write(p.in, "\n", 1) != 1)
		diag("write: %s", strerror(errno));
	proc_finish(&p);
	ok(exited(&p, 7), "the command's status passes through");
	ok(broker > 0 && kill(broker, 0) < 0 && errno == ESRCH,
	   "the broker is gone when dmabuf-run returns");
	ok(access(dir, F_OK) < 0 && errno == ENOENT, "its directory is gone: %s", dir);
	is_int(dir_entries(xdg), 0, "nothing is left in $XDG_RUNTIME_DIR");

	/* a SIGTERM to dmabuf-run reaches the command; dmabuf-run cleans up and dies of it */
	proc_start(&p, NULL, NULL, true,
		   ARGS("--private", "sh", "-c", "echo \"$DMABUFD_SOCKET\"; exec cat"));
	up = proc_line(&p);
	nl = strchr(p.obuf, '\n');
	if (nl)
		*nl = '\0';
	broker = up ? listener(p.obuf) : 0;
	ok(broker > 0, "--private: a broker listens on %s", p.obuf);
	kill(p.pid, SIGTERM);
	proc_drain(&p, now_ms() + WAIT_MS);
	proc_finish(&p);
	ok(WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGTERM,
	   "a SIGTERM sent to dmabuf-run ends the command, and dmabuf-run dies of it (0x%x)",
	   p.status);
	ok(broker > 0 && kill(broker, 0) < 0 && errno == ESRCH, "the broker is gone");
	is_int(dir_entries(xdg), 0, "nothing is left in $XDG_RUNTIME_DIR");
}

/* The socket the command sees, by the default rules (no --private). */
static void test_socket(void)
{
	char dir[PATH_MAX], sock[PATH_MAX], env[PATH_MAX + 32], xenv[PATH_MAX + 32];
	char want[PATH_MAX + 16];
	struct proc p;

	run_in(&p, tmp, NULL, ARGS("--socket=rel/x.sock", "sh", "-c", "echo \"$DMABUFD_SOCKET\""));
	snprintf(want, sizeof(want), "%s/rel/x.sock", tmp);
	ok(exited(&p, 0) && !strcmp(p.obuf, want), "--socket=rel/x.sock is made absolute: %s",
	   p.obuf);

	path_in(dir, tmp, "open");
	mkdir(dir, 0700);
	chmod(dir, 0777);
	path_in(sock, dir, "dmabufd.sock");
	snprintf(env, sizeof(env), "--socket=%s", sock);
	run(&p, NULL, env, "true");
	ok(exited(&p, 125) && has(p.ebuf, "cannot use the broker socket"),
	   "--socket in a directory open to others: refused, exit 125");
	snprintf(env, sizeof(env), "DMABUFD_SOCKET=%s", sock);
	run(&p, ENV(env), "true");
	ok(exited(&p, 125), "DMABUFD_SOCKET in a directory open to others: refused, exit 125");

	/* the default socket's directory is unusable: a private broker it is */
	path_in(dir, tmp, "bad-xdg");
	mkdir(dir, 0700);
	snprintf(xenv, sizeof(xenv), "XDG_RUNTIME_DIR=%s", dir);
	path_in(sock, dir, "dmabuf");
	mkdir(sock, 0700);
	chmod(sock, 0777);
	run(&p, ENV("DMABUFD_SOCKET", xenv), "sh", "-c", "echo \"$DMABUFD_SOCKET\"");
	snprintf(want, sizeof(want), "%s/dmabuf-run.", dir);
	ok(exited(&p, 0) && !strncmp(p.obuf, want, strlen(want)),
	   "an unusable default socket directory: a private broker (%s)", p.obuf);
	is_int(dir_entries(dir), 1, "... removed afterwards");

	/* none listening on the default socket: the command runs with it */
	chmod(sock, 0700);
	run(&p, ENV("DMABUFD_SOCKET", xenv), "sh", "-c", "echo \"${DMABUFD_SOCKET-unset}\"");
	ok(exited(&p, 0) && !strcmp(p.obuf, "unset") && dir_entries(dir) == 1,
	   "a usable default socket and none listening: left to the library (%s)", p.obuf);
}

/* A broker started by hand on @sock: its pid (0 on failure). */
static pid_t start_broker(const char *sock)
{
	const char *bin = getenv("DMABUFD");
	char arg[PATH_MAX + 16];
	int rp[2], null;
	pid_t pid;
	char c;

	if (!bin || pipe2(rp, O_CLOEXEC))
		return 0;
	snprintf(arg, sizeof(arg), "--socket=%s", sock);
	pid = fork();
	if (pid == 0) {
		null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		if (rp[1] == 3)
			fcntl(3, F_SETFD, 0);
		else
			dup2(rp[1], 3);
		execl(bin, "dmabufd", "--foreground", "--ready-fd=3", arg, (char *)NULL);
		_exit(127);
	}
	close(rp[1]);
	for (;;) {
		ssize_t n = read(rp[0], &c, 1);

		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	close(rp[0]);
	return pid > 0 && listener(sock) == pid ? pid : 0;
}

static void test_listening(void)
{
	char dir[PATH_MAX], sock[PATH_MAX], env[PATH_MAX + 32];
	pid_t broker;
	struct proc p;
	int st;

	path_in(dir, tmp, "live");
	mkdir(dir, 0700);
	path_in(sock, dir, "dmabufd.sock");
	broker = start_broker(sock);
	if (!broker) {
		skip("no dmabufd to start by hand ($DMABUFD)");
		return;
	}
	snprintf(env, sizeof(env), "DMABUFD_SOCKET=%s", sock);
	run(&p, ENV(env), "sh", "-c", "echo \"$DMABUFD_SOCKET\"");
	ok(exited(&p, 0) && !strcmp(p.obuf, sock) && dir_entries(xdg) == 0,
	   "a broker listens: the command uses it (%s)", p.obuf);
	ok(kill(broker, 0) == 0, "... and it still runs");
	kill(broker, SIGTERM);
	waitpid(broker, &st, 0);
}

static void test_preload(void)
{
	char other[PATH_MAX], lib[PATH_MAX], want[3 * PATH_MAX], env1[PATH_MAX + 32];
	char env2[2 * PATH_MAX + 32], real[PATH_MAX];
	struct proc p;

	/* the stand-in the command gets: libc under a library's name */
	run(&p, NULL, "sh", "-c", "echo \"$LD_PRELOAD\"");
	ok(exited(&p, 0) && !strcmp(p.obuf, libc_link), "LD_PRELOAD is the library: %s",
	   p.obuf);

	/* in these, dmabuf-run itself gets LD_PRELOAD: empty stand-ins when sanitized */
	path_in(lib, tmp, "pl-lib.so");
	path_in(other, tmp, "pl-other.so");
	stand_ins(lib, other);
	snprintf(env1, sizeof(env1), "DMABUF_PRELOAD=%s", lib);
	snprintf(env2, sizeof(env2), "LD_PRELOAD=%s", other);
	run(&p, ENV(env1, env2), "sh", "-c", "echo \"$LD_PRELOAD\"");
	snprintf(want, sizeof(want), "%s:%s", lib, other);
	ok(exited(&p, 0) && !strcmp(p.obuf, want), "an existing LD_PRELOAD comes after: %s",
	   p.obuf);
	snprintf(env2, sizeof(env2), "LD_PRELOAD=%s", lib);
	run(&p, ENV(env1, env2), "sh", "-c", "echo \"$LD_PRELOAD\"");
	ok(exited(&p, 0) && !strcmp(p.obuf, lib), "the library is not added twice: %s", p.obuf);
	snprintf(env2, sizeof(env2), "LD_PRELOAD=%s %s", other, lib);
	run(&p, ENV(env1, env2), "sh", "-c", "echo \"$LD_PRELOAD\"");
	snprintf(want, sizeof(want), "%s:%s", lib, other);
	ok(exited(&p, 0) && !strcmp(p.obuf, want), "... and goes first: %s", p.obuf);

	run_in(&p, tmp, ENV("DMABUF_PRELOAD=pl-lib.so"), ARGS("sh", "-c", "echo \"$LD_PRELOAD\""));
	ok(exited(&p, 0) && !strcmp(p.obuf, lib), "a relative DMABUF_PRELOAD is made absolute");

	snprintf(env1, sizeof(env1), "DMABUF_PRELOAD=%s/nonexistent.so", tmp);
	run(&p, ENV(env1), "true");
	ok(exited(&p, 127) && has(p.ebuf, "nonexistent.so"),
	   "DMABUF_PRELOAD names no file: a message, exit 127");

	/* without DMABUF_PRELOAD: the build tree's library, else the installed one */
	path_in(real, tree, "preload/libdmabuf-preload.so");
	if (access(real, F_OK) == 0) {
		if (sanitized) {
			skip("the build tree's preload library is sanitized: not loaded into sh");
		} else {
			run(&p, ENV("DMABUF_PRELOAD", "LD_PRELOAD"), "sh", "-c",
			    "echo \"$LD_PRELOAD\"");
			ok(exited(&p, 0) && !strcmp(p.obuf, real),
			   "the build tree's library: %s", p.obuf);
		}
	} else if (access(installed_preload, F_OK)) {
		run(&p, ENV("DMABUF_PRELOAD"), "true");
		ok(exited(&p, 127) && has(p.ebuf, "cannot find the preload library"),
		   "no preload library built or installed: a message, exit 127");
	} else {
		skip("a preload library is installed, none built");
	}

	/* from the build tree, the library is told which dmabufd to start */
	path_in(real, tree, "broker/dmabufd");
	run(&p, ENV("DMABUFD"), "sh", "-c", "echo \"$DMABUFD\"");
	ok(exited(&p, 0) && !strcmp(p.obuf, real), "DMABUFD is the build tree's broker: %s",
	   p.obuf);
	run(&p, ENV("DMABUFD=/bin/true"), "sh", "-c", "echo \"$DMABUFD\"");
	ok(exited(&p, 0) && !strcmp(p.obuf, "/bin/true"), "a DMABUFD of the caller's is kept");
}

static void setup(void)
{
	char path[PATH_MAX + 32], run_real[PATH_MAX], *slash;
	int i;

	if (!realpath(run_path, run_real))
		bail_out("%s: %s", run_path, strerror(errno));
	snprintf(tree, sizeof(tree), "%s", run_real);
	for (i = 0; i < 2; i++) {
		slash = strrchr(tree, '/');
		if (slash)
			*slash = '\0';
	}
	snprintf(tmp, sizeof(tmp), "/tmp/test_dmabuf_run.XXXXXX");
	if (!mkdtemp(tmp))
		bail_out("mkdtemp: %s", strerror(errno));
	path_in(xdg, tmp, "xdg");
	path_in(path, tmp, "sock");
	if (mkdir(xdg, 0700) || mkdir(path, 0700))
		bail_out("mkdir: %s", strerror(errno));
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	path_in(path, tmp, "sock/dmabufd.sock");
	setenv("DMABUFD_SOCKET", path, 1);
	unsetenv("LD_PRELOAD");

	if (!find_libc(path, sizeof(path)))
		bail_out("cannot find libc in /proc/self/maps");
	path_in(libc_link, tmp, "libc-standin.so");
	if (symlink(path, libc_link))
		bail_out("symlink: %s", strerror(errno));
	setenv("DMABUF_PRELOAD", libc_link, 1);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s DMABUF_RUN SANITIZE INSTALLED_PRELOAD\n", argv[0]);
		return 2;
	}
	run_path = argv[1];
	sanitized = strcmp(argv[2], "none") != 0;
	installed_preload = argv[3];
	signal(SIGPIPE, SIG_IGN);
	setup();

	test_options();
	test_check();
	test_lookup();
	test_static();
	test_status();
	test_private();
	test_socket();
	test_listening();
	test_preload();

	rm_tree(tmp);
	return tap_done();
}

// SPDX-License-Identifier: MIT
/*
 * test_checker.c - the coherency checker (DMABUF_CHECK_COHERENCY, DMABUF_CHECK_REPORT) on the
 * fd-level API and the broker backend.
 *
 * The checker is set up when the library is loaded, from the environment, so every case runs
 * in a fresh process: this program again, as "test_checker child-CASE", with the variables
 * set.  Its standard error and the JSON Lines report it leaves are then checked: the kind of
 * each violation, read or write, the offset, the bracket, the SYNC flags, what the buffer is,
 * the backtrace, and that correct sequences report nothing.
 *
 * The program uses a private broker: unless DMABUFD_SOCKET is set, its socket is in a fresh
 * directory under /tmp, removed at exit; $DMABUFD names the broker to start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dmabuf/fd.h>

#include "private_dir.h"
#include "tap.h"

#define RD DMABUF_FD_SYNC_READ
#define WR DMABUF_FD_SYNC_WRITE
#define RW DMABUF_FD_SYNC_RW
#define END DMABUF_FD_SYNC_END
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define MAX_LINES	32
#define OUT_MAX		65536
/* Seconds a child gets before SIGALRM ends it (a fault loop, a hang). */
#define CHILD_TIMEOUT	60

static size_t page;
static char work_dir[64];
static char self_path[PATH_MAX];

/* ---- the children: one case each ---- */

static void die(const char *what, int err)
{
	fprintf(stderr, "child: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(90);
}

/* A 2-page buffer of the system heap. */
static int child_buf(void)
{
	int fd = dmabuf_fd_heap_alloc("system", 2 * page, O_RDWR | O_CLOEXEC, 0);

	if (fd < 0)
		die("heap_alloc", fd);
	return fd;
}

static volatile uint8_t *child_map(int fd, size_t len, int prot, uint64_t offset)
{
	void *p = NULL;
	int ret = dmabuf_fd_buf_mmap(fd, NULL, len, prot, MAP_SHARED, offset, &p);

	if (ret)
		die("mmap", ret);
	return p;
}

static void child_sync(int fd, uint64_t flags)
{
	int ret = dmabuf_fd_buf_sync(fd, flags);

	if (ret)
		die("sync", ret);
}

/* Accesses at instructions of their own (reports are told apart by instruction). */
static uint8_t __attribute__((noinline)) read_at(volatile uint8_t *p, size_t off)
{
	return p[off];
}

static uint8_t __attribute__((noinline)) read_at2(volatile uint8_t *p, size_t off)
{
	return p[off];
}

static void __attribute__((noinline)) write_at(volatile uint8_t *p, size_t off, uint8_t v)
{
	p[off] = v;
}

static int case_read_outside(void)
{
	int fd = child_buf();
	volatile uint8_t *p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);

	read_at(p, 128);
	return 0;
}

/* The write goes through after the report: a bracket shows it. */
static int case_write_outside(void)
{
	int fd = child_buf();
	volatile uint8_t *p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);
	uint8_t v;

	write_at(p, page + 8, 0x5a);
	child_sync(fd, RD);
	v = read_at(p, page + 8);
	child_sync(fd, END | RD);
	return v == 0x5a ? 0 : 3;
}

static int case_write_in_read(void)
{
	int fd = child_buf();
	volatile uint8_t *p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);

	child_sync(fd, RD);
	read_at(p, 0);
	write_at(p, 64, 1);
	child_sync(fd, END | RD);
	return 0;
}

/* Everything as it should be: brackets around every access, mappings made inside one. */
static int case_correct(void)
{
	int fd = child_buf();
	volatile uint8_t *p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0), *q;
	int ret = 0;

	child_sync(fd, RW);
	write_at(p, 0, 7);
	read_at(p, 1);
	child_sync(fd, END | RW);
	child_sync(fd, RD);
	if (read_at(p, 0) != 7)
		ret = 3;
	child_sync(fd, END | RD);
	child_sync(fd, WR);
	write_at(p, page, 9);
	read_at(p, page);
	child_sync(fd, END | WR);
	/* a second mapping, made inside a bracket, at an offset */
	child_sync(fd, RW);
	q = child_map(fd, page, PROT_READ | PROT_WRITE, page);
	write_at(q, 1, 4);
	if (read_at(q, 0) != 9)
		ret = 4;
	child_sync(fd, END | RW);
	/* nested brackets of other directions, closed in either order */
	child_sync(fd, RD);
	read_at(p, 2);
	child_sync(fd, END | RD);
	if (dmabuf_fd_buf_munmap((void *)q, page))
		ret = 5;
	close(fd);
	return ret;
}

/* Two STARTs, one END: nested-start, and nothing at exit for it. */
static int case_nested(void)
{
	int fd = child_buf();
	volatile uint8_t *p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);

	child_sync(fd, RW);
	child_sync(fd, RW);
	write_at(p, 0, 1);
	child_sync(fd, END | RW);
	return 0;
}

static int case_end_without_start(void)
{
	int fd = child_buf();

	child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);
	child_sync(fd, END | RD);
	child_sync(fd, END | RD);	/* the same error again: reported once */
	return 0;
}

static int case_mismatch(void)
{
	int fd = child_buf();
	volatile uint8_t *p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);

	child_sync(fd, RD);
	read_at(p, 0);
	child_sync(fd, END | WR);
	return 0;
}

static int case_unbalanced(void)
{
	int fd = child_buf();
	volatile uint8_t *p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);

	child_sync(fd, WR);
	write_at(p, 0, 1);
	return 0;
}

/* A pending fence of a new timeline imported into @fd with @flags; the timeline. */
static int import_pending(int fd, unsigned int flags, const char *name)
{
	int tl = dmabuf_fd_sw_timeline_create(O_CLOEXEC), f, ret;

	if (tl < 0)
		die("timeline", tl);
	f = dmabuf_fd_sw_fence_create(tl, 1, name);
	if (f < 0)
		die("fence", f);
	ret = dmabuf_fd_buf_import_sync_file(fd, flags, f);
	if (ret)
		die("import", ret);
	close(f);
	return tl;
}

/* A write fence pending: a read waits for it; then signaled, a read is only outside. */
static int case_fence_write(void)
{
	int fd = child_buf();
	volatile uint8_t *p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);
	int tl = import_pending(fd, WR, "gpu"), ret;

	read_at(p, 256);
	ret = dmabuf_fd_sw_timeline_inc(tl, 1);
	if (ret)
		die("inc", ret);
	child_sync(fd, RD);
	child_sync(fd, END | RD);
	read_at2(p, 256);
	return 0;
}

/* A read fence pending: a read need not wait (outside only), a write must. */
static int case_fence_read(void)
{
	int fd = child_buf();
	volatile uint8_t *p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);
	int tl = import_pending(fd, RD, "reader");

	read_at(p, 0);
	/* the fault opened the mapping: close it again (a bracket does not wait for readers) */
	child_sync(fd, RD);
	child_sync(fd, END | RD);
	write_at(p, 8, 1);
	dmabuf_fd_sw_timeline_inc(tl, 1);
	return 0;
}

/* The same instruction faulting again after each bracket: one report. */
static int case_dedupe(void)
{
	int fd = child_buf();
	volatile uint8_t *p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);
	int i;

	for (i = 0; i < 3; i++) {
		read_at(p, (size_t)i);
		child_sync(fd, RD);
		child_sync(fd, END | RD);
	}
	return 0;
}

static int case_abort(void)
{
	int fd = child_buf();
	volatile uint8_t *p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);

	write_at(p, 0, 1);
	write_at(p, 1, 1);
	return 0;	/* not reached */
}

/* Checker off: the same bugs, no report, no cost to the program. */
static int case_off(void)
{
	int fd = child_buf();
	volatile uint8_t *p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);

	write_at(p, 0, 1);
	child_sync(fd, END | RD);
	child_sync(fd, RW);
	child_sync(fd, RW);
	return read_at(p, 0) == 1 ? 0 : 3;
}

/* A buffer never mapped: its SYNCs are waits, whatever their order. */
static int case_unmapped(void)
{
	int fd = child_buf();

	child_sync(fd, END | RD);
	child_sync(fd, RW);
	child_sync(fd, RD);
	child_sync(fd, END | WR);
	child_sync(fd, WR);
	return 0;
}

/*
 * Fork: a child inherits the open bracket (and does not report it at exit), a child that
 * writes outside a bracket reports with its own pid.  The second child's pid on stdout.
 */
static int case_fork(void)
{
	int fd = child_buf(), st;
	volatile uint8_t *p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);
	pid_t pid;

	child_sync(fd, RW);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		write_at(p, 0, 1);
		exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return 3;
	child_sync(fd, END | RW);
	pid = fork();
	if (pid == 0) {
		write_at(p, 4, 1);
		exit(0);
	}
	printf("%d\n", (int)pid);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return 4;
	child_sync(fd, RW);
	write_at(p, 8, 1);
	child_sync(fd, END | RW);
	return 0;
}

/* A write to a mapping made read-only is the program's own fault: SIGSEGV. */
static int case_segv_readonly(void)
{
	int fd = child_buf();
	volatile uint8_t *p = child_map(fd, page, PROT_READ, 0);

	child_sync(fd, RW);
	write_at(p, 0, 1);
	return 0;	/* not reached */
}

static int case_segv_null(void)
{
	int fd = child_buf();

	child_map(fd, page, PROT_READ | PROT_WRITE, 0);
	write_at((volatile uint8_t *)(uintptr_t)16, 0, 1);
	return 0;	/* not reached */
}

static sigjmp_buf chain_jmp;
static volatile sig_atomic_t chain_calls;

static void chain_handler(int sig)
{
	chain_calls++;
	siglongjmp(chain_jmp, 1);
}

/* The program's own SIGSEGV handler still gets its faults; the checker's stay the checker's. */
static int case_chain(void)
{
	struct sigaction sa = { .sa_handler = chain_handler };
	volatile uint8_t *p;
	int fd;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	fd = child_buf();
	p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);
	if (!sigsetjmp(chain_jmp, 1))
		write_at((volatile uint8_t *)(uintptr_t)16, 0, 1);
	write_at(p, 32, 1);
	printf("%d\n", (int)chain_calls);
	return 0;
}

/* Reports name the buffer by its latest name, and count offsets from the buffer's start. */
static int case_named(void)
{
	int fd = child_buf(), ret;
	volatile uint8_t *p = child_map(fd, page, PROT_READ | PROT_WRITE, page);

	ret = dmabuf_fd_buf_set_name(fd, "chk-name");
	if (ret)
		die("set_name", ret);
	write_at(p, 16, 1);
	return 0;
}

#define THREADS		4
#define ITERATIONS	200

static pthread_barrier_t barrier;

/* Each thread brackets its own buffer, many times. */
static void *bracket_thread(void *arg)
{
	int fd = child_buf(), i, bad = 0;
	volatile uint8_t *p = child_map(fd, 2 * page, PROT_READ | PROT_WRITE, 0);

	pthread_barrier_wait(&barrier);
	for (i = 0; i < ITERATIONS; i++) {
		child_sync(fd, RW);
		write_at(p, (size_t)i, (uint8_t)i);
		child_sync(fd, END | RW);
		child_sync(fd, RD);
		bad += read_at(p, (size_t)i) != (uint8_t)i;
		child_sync(fd, END | RD);
	}
	dmabuf_fd_buf_munmap((void *)p, 2 * page);
	close(fd);
	return (void *)(intptr_t)bad;
}

static int run_threads(void *(*fn)(void *), void *arg)
{
	pthread_t t[THREADS];
	void *ret;
	int i, bad = 0;

	pthread_barrier_init(&barrier, NULL, THREADS);
	for (i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, fn, arg))
			die("pthread_create", EAGAIN);
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], &ret);
		bad += (int)(intptr_t)ret;
	}
	pthread_barrier_destroy(&barrier);
	return bad ? 3 : 0;
}

static int case_threads(void)
{
	return run_threads(bracket_thread, NULL);
}

/* Every thread faults at one instruction on one mapping at once: one report, all go on. */
static void *fault_thread(void *arg)
{
	volatile uint8_t *p = arg;

	pthread_barrier_wait(&barrier);
	read_at(p, 64);
	return NULL;
}

static int case_threads_fault(void)
{
	int fd = child_buf();

	return run_threads(fault_thread, (void *)child_map(fd, 2 * page, PROT_READ, 0));
}

struct child_case {
	const char *name;
	int (*fn)(void);
};

static const struct child_case cases[] = {
	{ "read-outside", case_read_outside },
	{ "write-outside", case_write_outside },
	{ "write-in-read", case_write_in_read },
	{ "correct", case_correct },
	{ "nested", case_nested },
	{ "end-without-start", case_end_without_start },
	{ "mismatch", case_mismatch },
	{ "unbalanced", case_unbalanced },
	{ "fence-write", case_fence_write },
	{ "fence-read", case_fence_read },
	{ "dedupe", case_dedupe },
	{ "abort", case_abort },
	{ "off", case_off },
	{ "unmapped", case_unmapped },
	{ "fork", case_fork },
	{ "segv-readonly", case_segv_readonly },
	{ "segv-null", case_segv_null },
	{ "chain", case_chain },
	{ "named", case_named },
	{ "threads", case_threads },
	{ "threads-fault", case_threads_fault },
};

static int child_main(const char *name)
{
	size_t i;

	alarm(CHILD_TIMEOUT);
	page = (size_t)sysconf(_SC_PAGESIZE);
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (!strcmp(cases[i].name, name))
			return cases[i].fn();
	fprintf(stderr, "child: no case %s\n", name);
	return 99;
}

/* ---- the parent: running a case ---- */

struct result {
	int status;
	char out[OUT_MAX];
	char err[OUT_MAX];
	char lines[MAX_LINES][4096];	/* the report's violation lines */
	int n_lines;
	char summaries[4][1024];
	int n_summaries;
	pid_t pid;
	bool report_exists;
};

static struct result res;

static void read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	size_t len = 0;

	buf[0] = '\0';
	if (fd < 0)
		return;
	while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static void split_report(const char *path)
{
	static char all[MAX_LINES * 4096];
	char *line, *save = NULL;

	res.n_lines = res.n_summaries = 0;
	res.report_exists = access(path, F_OK) == 0;
	read_file(path, all, sizeof(all));
	for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (starts_with(line, "{\"type\":\"violation\",") && res.n_lines < MAX_LINES)
			snprintf(res.lines[res.n_lines++], sizeof(res.lines[0]), "%s", line);
		else if (starts_with(line, "{\"type\":\"summary\",") && res.n_summaries < 4)
			snprintf(res.summaries[res.n_summaries++], sizeof(res.summaries[0]), "%s",
				 line);
		else
			diag("unexpected report line: %s", line);
	}
}

/*
 * Run case @name with DMABUF_CHECK_COHERENCY=@mode (NULL: unset) and a report file (unless
 * @no_report): the results in res.
 */
static void run_case_env(const char *name, const char *mode, bool no_report)
{
	char report[PATH_MAX], out[PATH_MAX], err[PATH_MAX], arg[64];
	int fd_out, fd_err;
	pid_t pid;

	snprintf(report, sizeof(report), "%s/%s.jsonl", work_dir, name);
	snprintf(out, sizeof(out), "%s/%s.out", work_dir, name);
	snprintf(err, sizeof(err), "%s/%s.err", work_dir, name);
	snprintf(arg, sizeof(arg), "child-%s", name);
	unlink(report);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		fd_out = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		fd_err = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd_out < 0 || fd_err < 0 || dup2(fd_out, 1) < 0 || dup2(fd_err, 2) < 0)
			_exit(98);
		setenv("LIBDMABUF_BACKEND", "broker", 1);
		if (mode)
			setenv("DMABUF_CHECK_COHERENCY", mode, 1);
		else
			unsetenv("DMABUF_CHECK_COHERENCY");
		if (no_report)
			unsetenv("DMABUF_CHECK_REPORT");
		else
			setenv("DMABUF_CHECK_REPORT", report, 1);
		execl(self_path, "test_checker", arg, (char *)NULL);
		_exit(97);
	}
	res.pid = pid;
	while (waitpid(pid, &res.status, 0) < 0)
		if (errno != EINTR)
			bail_out("waitpid: %s", strerror(errno));
	read_file(out, res.out, sizeof(res.out));
	read_file(err, res.err, sizeof(res.err));
	split_report(report);
}

static void run_case(const char *name)
{
	run_case_env(name, "report", false);
}

/* The child's stderr as diagnostics, one line each (TAP needs the "#" on every line). */
static void diag_err(void)
{
	const char *line = res.err, *end;

	while (*line) {
		end = strchrnul(line, '\n');
		diag("  %.*s", (int)(end - line), line);
		line = *end ? end + 1 : end;
	}
}

static bool exited_ok(const char *name)
{
	if (WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0)
		return true;
	diag("%s: status 0x%x; stderr:", name, res.status);
	diag_err();
	return false;
}

/*
 * The value of "@key": in JSON line @line (the first one), without quotes for a string,
 * into @out; false if absent.
 */
static bool json_get(const char *line, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *p, *e;
	int depth = 0;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	if (!p)
		return false;
	p += strlen(pat);
	if (*p == '"') {
		for (e = ++p; *e && *e != '"'; e++)
			if (*e == '\\' && e[1])
				e++;
	} else {
		for (e = p; *e; e++) {
			if (*e == '{' || *e == '[')
				depth++;
			else if ((*e == '}' || *e == ']') && depth)
				depth--;
			else if ((*e == ',' || *e == '}' || *e == ']') && !depth)
				break;
		}
		if (depth)
			return false;
	}
	snprintf(out, len, "%.*s", (int)(e - p), p);
	return true;
}

/* Whether "@key" of @line is @want. */
static bool json_is(const char *line, const char *key, const char *want)
{
	char got[4096];

	if (json_get(line, key, got, sizeof(got)) && !strcmp(got, want))
		return true;
	diag("%s: want %s in %s", key, want, line);
	return false;
}

static long long json_num(const char *line, const char *key)
{
	char got[64];

	return json_get(line, key, got, sizeof(got)) ? strtoll(got, NULL, 0) : -1;
}

/* The number of violation lines of @kind. */
static int count_kind(const char *kind)
{
	char got[64];
	int i, n = 0;

	for (i = 0; i < res.n_lines; i++)
		if (json_get(res.lines[i], "kind", got, sizeof(got)) && !strcmp(got, kind))
			n++;
	return n;
}

static int count_str(const char *hay, const char *needle)
{
	int n = 0;

	for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle))
		n++;
	return n;
}

/* The one violation of case @name is of @kind; its line, or NULL. */
static const char *only(const char *name, const char *kind)
{
	if (!is_int(res.n_lines, 1, "%s: one violation reported", name)) {
		diag_err();
		return NULL;
	}
	if (!is_int(count_kind(kind), 1, "%s: it is %s", name, kind))
		return NULL;
	return res.lines[0];
}

/* The summary says @n violations. */
static void summary_is(const char *name, int n)
{
	if (is_int(res.n_summaries, 1, "%s: one summary", name))
		is_int(json_num(res.summaries[0], "violations"), n, "%s: summary: %d violations",
		       name, n);
}

/* Frame 0 of @line's backtrace is in this program (where the access or call was). */
static void frame0_is_program(const char *name, const char *line)
{
	const char *bt = line ? strstr(line, "\"backtrace\":[{") : NULL;

	ok(bt && json_is(bt, "object", self_path),
	   "%s: the backtrace starts in the program (%s)", name, self_path);
}

static char size_str[32];

/* The buffer of @line: the system heap's 2-page buffer, unnamed. */
static void buffer_is_system(const char *name, const char *line, const char *buf_name,
			     size_t size)
{
	snprintf(size_str, sizeof(size_str), "%zu", size);
	ok(json_is(line, "exporter", "system") && json_is(line, "map_info", "COHERENT_CACHED") &&
		   json_is(line, "size", size_str) && json_is(line, "name", buf_name),
	   "%s: buffer: exporter system, map_info COHERENT_CACHED, %s bytes, name %s", name,
	   size_str, buf_name);
}

/* ---- the tests ---- */

static void test_read_outside(void)
{
	const char *l;
	char want[PATH_MAX + 64];

	run_case("read-outside");
	ok(exited_ok("read-outside"), "read-outside: the program goes on after the report");
	l = only("read-outside", "access-outside-bracket");
	if (!l)
		return;
	ok(json_is(l, "access", "read") && json_is(l, "offset", "128") &&
		   json_is(l, "bracket", "none") && json_is(l, "sync", "null"),
	   "read-outside: read at offset 128, no bracket, no SYNC");
	is_int(json_num(l, "pid"), res.pid, "read-outside: the pid is the process's");
	ok(json_is(l, "program", self_path), "read-outside: the program is /proc/self/exe");
	buffer_is_system("read-outside", l, "null", 2 * page);
	frame0_is_program("read-outside", l);
	summary_is("read-outside", 1);
	ok(json_is(res.summaries[0], "kinds", "{\"access-outside-bracket\":1}"),
	   "read-outside: summary kinds");

	/* the text on stderr */
	ok(strstr(res.err, "dmabuf-check: read outside a SYNC bracket [access-outside-bracket]\n"),
	   "read-outside: stderr: the title line");
	snprintf(want, sizeof(want), "\n  program: %s (pid %d)\n", self_path, (int)res.pid);
	ok(strstr(res.err, want), "read-outside: stderr: program and pid");
	snprintf(want, sizeof(want),
		 "\n  buffer: no name, exporter system, map_info COHERENT_CACHED, %zu bytes\n",
		 2 * page);
	ok(strstr(res.err, want), "read-outside: stderr: the buffer");
	ok(strstr(res.err, "\n  access: read at offset 128\n  bracket: none open\n"
			   "  backtrace:\n    #0 0x"),
	   "read-outside: stderr: access, bracket, backtrace");
	snprintf(want, sizeof(want), "dmabuf-check: 1 violation in %s (pid %d): "
		 "access-outside-bracket 1\n", self_path, (int)res.pid);
	ok(strstr(res.err, want), "read-outside: stderr: the summary");
	if (!ok(count_str(res.err, "dmabuf-check:") == 2, "read-outside: nothing else on stderr"))
		diag_err();
}

static void test_write_outside(void)
{
	const char *l;

	run_case("write-outside");
	ok(exited_ok("write-outside"),
	   "write-outside: the write went through after the report (a bracket reads it back)");
	l = only("write-outside", "access-outside-bracket");
	if (!l)
		return;
	snprintf(size_str, sizeof(size_str), "%zu", page + 8);
	ok(json_is(l, "access", "write") && json_is(l, "offset", size_str) &&
		   json_is(l, "bracket", "none"),
	   "write-outside: write at offset %s, no bracket", size_str);
	frame0_is_program("write-outside", l);
	ok(strstr(res.err, "dmabuf-check: write outside a SYNC bracket [access-outside-bracket]"),
	   "write-outside: stderr: the title line");
}

static void test_write_in_read(void)
{
	const char *l;

	run_case("write-in-read");
	ok(exited_ok("write-in-read"), "write-in-read: runs to its end");
	l = only("write-in-read", "write-in-read-bracket");
	if (!l)
		return;
	ok(json_is(l, "access", "write") && json_is(l, "offset", "64") &&
		   json_is(l, "bracket", "READ"),
	   "write-in-read: write at offset 64, READ bracket");
	ok(strstr(res.err, "  bracket: START|READ open\n"), "write-in-read: stderr: the bracket");
	frame0_is_program("write-in-read", l);
}

static void test_correct(void)
{
	run_case("correct");
	ok(exited_ok("correct"), "correct: runs, and reads what it wrote");
	is_int(res.n_lines, 0, "correct: no violation");
	summary_is("correct", 0);
	ok(!strstr(res.err, "dmabuf-check"), "correct: nothing on stderr");
}

static void test_brackets(void)
{
	const char *l;

	run_case("nested");
	ok(exited_ok("nested"), "nested: runs");
	l = only("nested", "nested-start");
	if (l) {
		ok(json_is(l, "sync", "START|RW") && json_is(l, "bracket", "RW") &&
			   json_is(l, "access", "null") && json_is(l, "offset", "null"),
		   "nested: START|RW inside RW");
		frame0_is_program("nested", l);
		buffer_is_system("nested", l, "null", 2 * page);
	}
	ok(strstr(res.err, "  sync: START|RW\n  bracket: START|RW open\n"),
	   "nested: stderr: sync and bracket");

	run_case("end-without-start");
	ok(exited_ok("end-without-start"), "end-without-start: runs");
	l = only("end-without-start", "end-without-start");
	if (l) {
		ok(json_is(l, "sync", "END|READ") && json_is(l, "bracket", "none"),
		   "end-without-start: END|READ, no bracket");
		frame0_is_program("end-without-start", l);
	}

	run_case("mismatch");
	ok(exited_ok("mismatch"), "mismatch: runs");
	l = only("mismatch", "direction-mismatch");
	if (l)
		ok(json_is(l, "sync", "END|WRITE") && json_is(l, "bracket", "READ"),
		   "mismatch: END|WRITE closes START|READ");

	run_case("unbalanced");
	ok(exited_ok("unbalanced"), "unbalanced: runs");
	l = only("unbalanced", "unbalanced-at-exit");
	if (l) {
		ok(json_is(l, "bracket", "WRITE") && json_is(l, "sync", "null"),
		   "unbalanced: a WRITE bracket open");
		frame0_is_program("unbalanced", l);
	}
	ok(strstr(res.err, "SYNC bracket still open at exit [unbalanced-at-exit]") &&
		   strstr(res.err, "  opened at:\n    #0 0x"),
	   "unbalanced: stderr: where the bracket was opened");

	run_case("unmapped");
	ok(exited_ok("unmapped"), "unmapped: runs");
	is_int(res.n_lines, 0, "unmapped: a buffer never mapped: no bracket errors");
	summary_is("unmapped", 0);
}

static void test_fences(void)
{
	const char *l;

	run_case("fence-write");
	ok(exited_ok("fence-write"), "fence-write: runs");
	if (is_int(res.n_lines, 2, "fence-write: two violations")) {
		l = res.lines[0];
		ok(json_is(l, "kind", "access-while-fence-pending") &&
			   json_is(l, "access", "read") && json_is(l, "offset", "256") &&
			   json_is(l, "bracket", "none"),
		   "fence-write: a read while the write fence is pending");
		l = res.lines[1];
		ok(json_is(l, "kind", "access-outside-bracket") && json_is(l, "access", "read"),
		   "fence-write: signaled, a read is only outside a bracket");
	}

	run_case("fence-read");
	ok(exited_ok("fence-read"), "fence-read: runs");
	if (is_int(res.n_lines, 2, "fence-read: two violations")) {
		ok(json_is(res.lines[0], "kind", "access-outside-bracket") &&
			   json_is(res.lines[0], "access", "read"),
		   "fence-read: a read need not wait for a read fence");
		ok(json_is(res.lines[1], "kind", "access-while-fence-pending") &&
			   json_is(res.lines[1], "access", "write") &&
			   json_is(res.lines[1], "offset", "8"),
		   "fence-read: a write must wait for it");
	}
}

static void test_modes(void)
{
	const char *l;

	run_case("dedupe");
	ok(exited_ok("dedupe"), "dedupe: runs");
	l = only("dedupe", "access-outside-bracket");
	if (l)
		ok(json_is(l, "offset", "0"),
		   "dedupe: the first of three faults at one instruction");

	run_case_env("abort", "abort", false);
	ok(WIFSIGNALED(res.status) && WTERMSIG(res.status) == SIGABRT,
	   "abort: the process aborts (status 0x%x)", res.status);
	l = only("abort", "access-outside-bracket");
	if (l)
		ok(json_is(l, "offset", "0") && json_is(l, "access", "write"),
		   "abort: the first access, and only that");
	summary_is("abort", 1);

	run_case_env("off", NULL, true);
	ok(exited_ok("off"), "off: the same bugs run as they are");
	ok(!strstr(res.err, "dmabuf-check"), "off: nothing on stderr");
	run_case_env("off", "0", false);
	ok(exited_ok("off") && !res.report_exists && !strstr(res.err, "dmabuf-check"),
	   "DMABUF_CHECK_COHERENCY=0: off, even with a report file named");
	run_case_env("read-outside", NULL, false);
	ok(exited_ok("read-outside") && res.n_lines == 1 && res.n_summaries == 1,
	   "DMABUF_CHECK_REPORT alone turns the checker on (report mode)");
	run_case_env("read-outside", "1", true);
	ok(exited_ok("read-outside") && strstr(res.err, "[access-outside-bracket]") &&
		   !res.report_exists,
	   "DMABUF_CHECK_COHERENCY=1: reports on stderr, no report file");
}

static void test_fork(void)
{
	pid_t grandchild;
	const char *l;
	int i, bad = 0;

	run_case("fork");
	ok(exited_ok("fork"), "fork: runs");
	grandchild = (pid_t)atoi(res.out);
	l = only("fork", "access-outside-bracket");
	if (l) {
		is_int(json_num(l, "pid"), grandchild,
		       "fork: the child that wrote outside reports with its own pid");
		ok(json_is(l, "offset", "4"), "fork: its access");
	}
	if (is_int(res.n_summaries, 3, "fork: a summary from each process")) {
		for (i = 0; i < 3; i++) {
			long long pid = json_num(res.summaries[i], "pid");
			long long n = json_num(res.summaries[i], "violations");

			if (n != (pid == grandchild ? 1 : 0))
				bad++;
		}
		is_int(bad, 0, "fork: the second child had 1 violation, the others none");
	}
}

/*
 * The fault reached what was there before the checker: the default action (death by
 * SIGSEGV), or a sanitizer's handler (which reports and exits).
 */
static bool died_of_segv(void)
{
	bool sanitizer = strstr(res.err, "Sanitizer") && strstr(res.err, "SEGV");

	if (WIFSIGNALED(res.status) && WTERMSIG(res.status) == SIGSEGV)
		return true;
	/* the sanitizer exits, or aborts with ASAN_OPTIONS=abort_on_error=1 (make check-asan) */
	if (sanitizer && WIFEXITED(res.status) && WEXITSTATUS(res.status))
		return true;
	if (sanitizer && WIFSIGNALED(res.status) && WTERMSIG(res.status) == SIGABRT)
		return true;
	diag("status 0x%x; stderr:", res.status);
	diag_err();
	return false;
}

static void test_signals(void)
{
	run_case("segv-readonly");
	ok(died_of_segv(), "segv-readonly: a write to a PROT_READ mapping is a SIGSEGV as before");
	is_int(res.n_lines, 0, "segv-readonly: not reported as a violation");

	run_case("segv-null");
	ok(died_of_segv(), "segv-null: a fault elsewhere is a SIGSEGV as before");
	is_int(res.n_lines, 0, "segv-null: not reported");

	run_case("chain");
	ok(exited_ok("chain"), "chain: runs");
	is_int(atoi(res.out), 1, "chain: the program's own handler got its fault");
	if (only("chain", "access-outside-bracket"))
		ok(json_is(res.lines[0], "offset", "32"), "chain: the checker kept its own");
}

static void test_named(void)
{
	const char *l;

	run_case("named");
	ok(exited_ok("named"), "named: runs");
	l = only("named", "access-outside-bracket");
	if (!l)
		return;
	snprintf(size_str, sizeof(size_str), "%zu", page + 16);
	ok(json_is(l, "offset", size_str),
	   "named: the offset counts from the buffer's start (mapping at offset 1 page)");
	buffer_is_system("named", l, "chk-name", 2 * page);
	ok(strstr(res.err, "  buffer: \"chk-name\", exporter system"),
	   "named: stderr: the name set after the mapping");
}

static void test_threads(void)
{
	const char *l;

	run_case("threads");
	ok(exited_ok("threads"), "threads: %d threads bracket their buffers %d times", THREADS,
	   ITERATIONS);
	is_int(res.n_lines, 0, "threads: no violation");

	run_case("threads-fault");
	ok(exited_ok("threads-fault"), "threads-fault: every thread goes on");
	l = only("threads-fault", "access-outside-bracket");
	if (l)
		ok(json_is(l, "offset", "64") && json_is(l, "access", "read"),
		   "threads-fault: the read at offset 64");
}

int main(int argc, char **argv)
{
	ssize_t n;

	if (argc > 1 && !strncmp(argv[1], "child-", 6))
		return child_main(argv[1] + 6);
	page = (size_t)sysconf(_SC_PAGESIZE);
	n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (n <= 0)
		bail_out("readlink /proc/self/exe: %s", strerror(errno));
	self_path[n] = '\0';
	private_dir_make();
	snprintf(work_dir, sizeof(work_dir), "%s", private_dir);
	private_broker_setup();

	test_read_outside();
	test_write_outside();
	test_write_in_read();
	test_correct();
	test_brackets();
	test_fences();
	test_modes();
	test_fork();
	test_signals();
	test_named();
	test_threads();
	return tap_done();
}

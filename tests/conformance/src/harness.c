// SPDX-License-Identifier: MIT
/* harness.c - case bookkeeping, deterministic output and TAP for the conformance suite. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conform.h"

#define RESULT_MAX 4096
#define NAME_MAX_LEN 160
/* a case that has not finished after this many seconds is reported as TIMEOUT */
#define CASE_WATCHDOG_S 60

static char case_name[NAME_MAX_LEN];
static char result[RESULT_MAX];
static size_t result_len;
static const char *spec;
static char broken[256];
static int case_open;
static unsigned int n_cases;
static unsigned int n_broken;
static unsigned int n_spec_diff;
/* fence contexts seen in the current case, in order of appearance */
static unsigned long long ctx_seen[64];
static unsigned int n_ctx_seen;

static void watchdog(int sig)
{
	char line[NAME_MAX_LEN * 2 + 64];
	int n;

	(void)sig;
	n = snprintf(line, sizeof(line), "CASE %s: TIMEOUT\nnot ok %u - %s # timed out\n",
		     case_name, n_cases + 1, case_name);
	if (n > 0)
		(void)!write(STDOUT_FILENO, line, (size_t)n);
	_exit(3);
}

void case_begin(const char *fmt, ...)
{
	va_list ap;

	if (case_open)
		case_end();
	va_start(ap, fmt);
	vsnprintf(case_name, sizeof(case_name), fmt, ap);
	va_end(ap);
	result[0] = 0;
	result_len = 0;
	spec = NULL;
	broken[0] = 0;
	n_ctx_seen = 0;
	case_open = 1;
	signal(SIGALRM, watchdog);
	alarm(CASE_WATCHDOG_S);
}

void out(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (result_len && result_len < sizeof(result) - 1)
		result[result_len++] = ' ';
	va_start(ap, fmt);
	n = vsnprintf(result + result_len, sizeof(result) - result_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		result_len += (size_t)n;
	if (result_len >= sizeof(result))
		result_len = sizeof(result) - 1;
	result[result_len] = 0;
}

void expect(const char *r)
{
	spec = r;
}

void case_broken(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(broken, sizeof(broken), fmt, ap);
	va_end(ap);
	out("BROKEN(%s)", broken);
}

void case_end(void)
{
	unsigned int n;

	if (!case_open)
		return;
	alarm(0);
	case_open = 0;
	n = ++n_cases;
	printf("CASE %s: %s\n", case_name, result_len ? result : "-");
	if (broken[0]) {
		n_broken++;
		printf("not ok %u - %s # %s\n", n, case_name, broken);
	} else if (spec && strcmp(spec, result)) {
		/* the kernel is the reference; a stale fact sheet is a finding, not a failure */
		n_spec_diff++;
		printf("not ok %u - %s # TODO SEMANTICS.md says: %s\n", n, case_name, spec);
	} else {
		printf("ok %u - %s\n", n, case_name);
	}
	fflush(stdout);
}

void one(const char *name, const char *r)
{
	case_begin("%s", name);
	out("%s", r);
	case_end();
}

void one_expect(const char *name, const char *r, const char *s)
{
	case_begin("%s", name);
	out("%s", r);
	expect(s);
	case_end();
}

/* ---- result formatting ---- */

#define RING 16
static char ring[RING][64];
static unsigned int ring_pos;

static char *ring_next(void)
{
	return ring[ring_pos++ % RING];
}

const char *errname(int e)
{
	static const struct {
		int e;
		const char *n;
	} names[] = {
		{ EPERM, "EPERM" },	{ ENOENT, "ENOENT" },	  { ESRCH, "ESRCH" },
		{ EINTR, "EINTR" },	{ EIO, "EIO" },		  { ENXIO, "ENXIO" },
		{ E2BIG, "E2BIG" },	{ EBADF, "EBADF" },	  { ECHILD, "ECHILD" },
		{ EAGAIN, "EAGAIN" },	{ ENOMEM, "ENOMEM" },	  { EACCES, "EACCES" },
		{ EFAULT, "EFAULT" },	{ EBUSY, "EBUSY" },	  { EEXIST, "EEXIST" },
		{ ENODEV, "ENODEV" },	{ ENOTDIR, "ENOTDIR" },	  { EISDIR, "EISDIR" },
		{ EINVAL, "EINVAL" },	{ ENFILE, "ENFILE" },	  { EMFILE, "EMFILE" },
		{ ENOTTY, "ENOTTY" },	{ EFBIG, "EFBIG" },	  { ENOSPC, "ENOSPC" },
		{ ESPIPE, "ESPIPE" },	{ EROFS, "EROFS" },	  { EPIPE, "EPIPE" },
		{ ERANGE, "ERANGE" },	{ ENOSYS, "ENOSYS" },	  { EBADFD, "EBADFD" },
		{ EOPNOTSUPP, "EOPNOTSUPP" }, { ETIMEDOUT, "ETIMEDOUT" }, { ETIME, "ETIME" },
		{ EOVERFLOW, "EOVERFLOW" }, { ENOTSOCK, "ENOTSOCK" }, { EDEADLK, "EDEADLK" },
		{ ENOMSG, "ENOMSG" },	{ ECANCELED, "ECANCELED" },
	};
	char *s;
	size_t i;

	if (e == 0)
		return "ok";
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].n;
	s = ring_next();
	snprintf(s, 64, "errno%d", e);
	return s;
}

const char *res(long r)
{
	return r >= 0 ? "ok" : errname(errno);
}

const char *val(long r)
{
	char *s;

	if (r < 0)
		return errname(errno);
	s = ring_next();
	snprintf(s, 64, "%ld", r);
	return s;
}

const char *fdres(long r)
{
	return r >= 0 ? "fd" : errname(errno);
}

unsigned int ctx_label(unsigned long long ctx)
{
	unsigned int i;

	for (i = 0; i < n_ctx_seen; i++)
		if (ctx_seen[i] == ctx)
			return i + 1;
	if (n_ctx_seen < sizeof(ctx_seen) / sizeof(ctx_seen[0]))
		ctx_seen[n_ctx_seen++] = ctx;
	return n_ctx_seen;
}

/* ---- processes ---- */

pid_t conform_fork(void)
{
	fflush(stdout);
	fflush(stderr);
	return fork();
}

const char *wait_child(pid_t pid)
{
	char *s = ring_next();
	int st;

	if (pid < 0)
		return "nochild";
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			snprintf(s, 64, "wait:%s", errname(errno));
			return s;
		}
	}
	if (WIFEXITED(st))
		snprintf(s, 64, "exit=%d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(s, 64, "signal=%d", WTERMSIG(st));
	else
		snprintf(s, 64, "status=%d", st);
	return s;
}

/* ---- main ---- */

static char **groups;
static int n_groups;

int group_enabled(const char *g)
{
	int i;

	if (!n_groups)
		return 1;
	for (i = 0; i < n_groups; i++)
		if (!strcmp(groups[i], g))
			return 1;
	return 0;
}

static const struct {
	const char *name;
	void (*run)(void);
} all_groups[] = {
	{ "abi", t_abi },	    { "heap", t_heap },	    { "udmabuf", t_udmabuf },
	{ "dmabuf", t_dmabuf },	    { "implicit", t_implicit }, { "sync_file", t_sync_file },
	{ "merge", t_merge },	    { "sw_sync", t_sw_sync }, { "wait", t_wait },
	{ "process", t_process },
};

static void usage(void)
{
	size_t i;

	fprintf(stderr, "usage: dmabuf-conform [GROUP...]\n"
			"Runs the dma-buf uAPI conformance cases; prints one 'CASE name: result'\n"
			"line per case and TAP.  Groups:");
	for (i = 0; i < sizeof(all_groups) / sizeof(all_groups[0]); i++)
		fprintf(stderr, " %s", all_groups[i].name);
	fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
	size_t i;
	int a;

	if (argc > 1 && !strcmp(argv[1], "--helper"))
		return process_helper(argc, argv);
	for (a = 1; a < argc; a++) {
		int known = 0;

		for (i = 0; i < sizeof(all_groups) / sizeof(all_groups[0]); i++)
			known |= !strcmp(argv[a], all_groups[i].name);
		if (!known) {
			usage();
			return 2;
		}
	}
	groups = argv + 1;
	n_groups = argc - 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	printf("TAP version 13\n");
	for (i = 0; i < sizeof(all_groups) / sizeof(all_groups[0]); i++)
		if (group_enabled(all_groups[i].name))
			all_groups[i].run();
	case_end();
	printf("1..%u\n", n_cases);
	printf("# %u cases, %u broken, %u differ from SEMANTICS.md\n", n_cases, n_broken,
	       n_spec_diff);
	return n_broken ? 1 : 0;
}

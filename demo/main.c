// SPDX-License-Identifier: MIT
/*
 * main.c - dmabuf-demo: the seeds' scenario across processes.  A compositor with implicit sync
 * and two clients with explicit sync share dma-bufs through a private dmabufd; every frame is
 * checked, latencies measured, the last frame written as a PPM and the run traced.
 *
 * The program is its own director: it makes a private directory (the broker's socket, the
 * trace files), sets the environment the library reads when it is loaded (DMABUFD_SOCKET,
 * DMABUF_TRACE_DIR, DMABUF_CHECK_*), starts the broker, then runs each role by executing
 * itself again with --role, so that every role's library starts with that environment.  At
 * the end it collects the roles' results, the broker's counters and the coherency report,
 * renders the trace, removes its directory and prints a summary.  See docs/demo.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "demo.h"
#include "trace_render.h"

/* What the director gathers. */
struct run {
	struct demo_opts o;
	const char *out_shown;		/* --out as given */
	char self[PATH_MAX];		/* this program */
	char tree[PATH_MAX];		/* a build tree's src/, beside this program */
	char dir[108];			/* the private directory (within a socket path) */
	char trace_dir[PATH_MAX];
	char report[PATH_MAX];		/* the coherency report */
	struct demo_broker broker;
	pid_t pids[1 + DEMO_CLIENTS];	/* compositor, clients */
	int rfd[1 + DEMO_CLIENTS];	/* their results' pipes */
	bool got[1 + DEMO_CLIENTS];	/* a whole result came */
	struct demo_comp_result comp;
	struct demo_client_result client[DEMO_CLIENTS];
	struct dmabufd_stats stats;
	bool stats_ok, leaked;
	unsigned long trace_events, trace_files;
	int render_ret;			/* 0, -errno, 1: no renderer in this build */
	unsigned long check_procs, check_violations;
	char check_kinds[160];
	int64_t t0, t1;
	unsigned int errors;
	char why[DEMO_WHY_LEN + 64];
};

/* The roles, for the signal handler; the signal that stopped the run. */
static pid_t role_pids[1 + DEMO_CLIENTS];
static volatile sig_atomic_t stop_signal;

static void error(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void error(struct run *r, const char *fmt, ...)
{
	va_list ap;

	r->errors++;
	if (r->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dmabuf-demo [OPTION]...\n"
		"A compositor process (implicit sync) and two client processes (explicit sync:\n"
		"a software device renders, sync_files are imported and exported) share\n"
		"triple-buffered dma-bufs through a private dmabufd.  Every frame is checked.\n"
		"\n"
		"  --frames=N          frames per client (default %d)\n"
		"  --heap=NAME         heap of every buffer: system (default), system-uncached,\n"
		"                      incoherent\n"
		"  --out=DIR           where final.ppm, trace.json, timeline.svg and\n"
		"                      coherency.jsonl go (default demo-out)\n"
		"  --check-coherency   run the roles under the coherency checker; any report is\n"
		"                      an error\n"
		"  --no-trace          do not trace (DMABUF_TRACE_DIR stays as it is)\n"
		"  --fault=KIND        break something on purpose, to see the checks fire:\n"
		"                      checksum (client 1 writes a frame with a wrong checksum),\n"
		"                      no-sync (the compositor reads without SYNC brackets)\n"
		"  --help              show this help and exit\n"
		"Exit status: 0 when every frame arrived whole and in order and nothing failed.\n",
		DEMO_DEFAULT_FRAMES);
}

enum { OPT_FRAMES = 256, OPT_HEAP, OPT_OUT, OPT_CHECK, OPT_NO_TRACE, OPT_FAULT, OPT_HELP,
       OPT_ROLE, OPT_ID, OPT_FD, OPT_REPORT };

static bool parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return !errno && !*end && *v <= max;
}

/* The role's descriptors: "A" or "A,B". */
static bool parse_fds(const char *s, int *fds, unsigned int n)
{
	char *end;
	long v;

	for (unsigned int i = 0; i < n; i++) {
		errno = 0;
		v = strtol(s, &end, 10);
		if (errno || end == s || v < 0 || v > INT_MAX)
			return false;
		fds[i] = (int)v;
		if (i + 1 < n && *end != ',')
			return false;
		s = end + 1;
	}
	return !*end;
}

/* 0 to go on, else the exit status + 1. */
static int parse(int argc, char **argv, struct demo_opts *o)
{
	static const struct option longopts[] = {
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "heap", required_argument, NULL, OPT_HEAP },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "check-coherency", no_argument, NULL, OPT_CHECK },
		{ "no-trace", no_argument, NULL, OPT_NO_TRACE },
		{ "fault", required_argument, NULL, OPT_FAULT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "role", required_argument, NULL, OPT_ROLE },
		{ "id", required_argument, NULL, OPT_ID },
		{ "fd", required_argument, NULL, OPT_FD },
		{ "report", required_argument, NULL, OPT_REPORT },
		{ NULL, 0, NULL, 0 },
	};
	const char *fds = NULL;
	unsigned long v;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FRAMES:
			if (!parse_uint(optarg, DEMO_MAX_FRAMES, &v) || !v) {
				fprintf(stderr, "dmabuf-demo: --frames: 1 to %d\n",
					DEMO_MAX_FRAMES);
				return 3;
			}
			o->frames = (unsigned int)v;
			break;
		case OPT_HEAP:
			o->heap = optarg;
			break;
		case OPT_OUT:
			o->out = optarg;
			break;
		case OPT_CHECK:
			o->check_coherency = true;
			break;
		case OPT_NO_TRACE:
			o->trace = false;
			break;
		case OPT_FAULT:
			if (!strcmp(optarg, "checksum")) {
				o->fault = DEMO_FAULT_CHECKSUM;
			} else if (!strcmp(optarg, "no-sync")) {
				o->fault = DEMO_FAULT_NO_SYNC;
			} else {
				fprintf(stderr, "dmabuf-demo: --fault: checksum or no-sync\n");
				return 3;
			}
			break;
		case OPT_HELP:
			usage(stdout);
			return 1;
		case OPT_ROLE:
			if (!strcmp(optarg, "compositor")) {
				o->role = DEMO_ROLE_COMPOSITOR;
			} else if (!strcmp(optarg, "client")) {
				o->role = DEMO_ROLE_CLIENT;
			} else {
				fprintf(stderr, "dmabuf-demo: --role: compositor or client\n");
				return 3;
			}
			break;
		case OPT_ID:
			if (!parse_uint(optarg, DEMO_CLIENTS - 1, &v))
				return 3;
			o->id = (unsigned int)v;
			break;
		case OPT_FD:
			fds = optarg;
			break;
		case OPT_REPORT:
			if (!parse_uint(optarg, INT_MAX, &v))
				return 3;
			o->report_fd = (int)v;
			break;
		default:
			usage(stderr);
			return 3;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dmabuf-demo: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 3;
	}
	if (o->role != DEMO_ROLE_DIRECTOR &&
	    (!fds || o->report_fd < 0 ||
	     !parse_fds(fds, o->fds, o->role == DEMO_ROLE_COMPOSITOR ? DEMO_CLIENTS : 1))) {
		fprintf(stderr, "dmabuf-demo: --role needs --fd and --report\n");
		return 3;
	}
	return 0;
}

/* ---- the director: setting up ---- */

/* The output directory, made if missing, as an absolute path; stale outputs removed. */
static int prepare_out(struct run *r, char *abs)
{
	static const char *const names[] = {
		"final.ppm", "trace.json", "timeline.svg", "coherency.jsonl",
	};
	char path[PATH_MAX];

	if (mkdir(r->o.out, 0777) && errno != EEXIST) {
		fprintf(stderr, "dmabuf-demo: %s: %s\n", r->o.out, strerror(errno));
		return -1;
	}
	if (!realpath(r->o.out, abs)) {
		fprintf(stderr, "dmabuf-demo: %s: %s\n", r->o.out, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", abs, names[i]) >= (int)sizeof(path)) {
			fprintf(stderr, "dmabuf-demo: %s: path too long\n", r->o.out);
			return -1;
		}
		unlink(path);
	}
	return 0;
}

/* This program, and the build tree it may sit in (<tree>/../demo/dmabuf-demo). */
static int find_self(struct run *r)
{
	ssize_t n = readlink("/proc/self/exe", r->self, sizeof(r->self) - 1);
	char *slash;

	if (n <= 0 || n >= (ssize_t)sizeof(r->self) - 1) {
		fprintf(stderr, "dmabuf-demo: /proc/self/exe: %s\n",
			n < 0 ? strerror(errno) : "path too long");
		return -1;
	}
	r->self[n] = '\0';
	strcpy(r->tree, r->self);
	slash = strrchr(r->tree, '/');
	if (!slash || (size_t)(slash - r->tree) + sizeof("/../src") > sizeof(r->tree))
		return -1;
	strcpy(slash, "/../src");
	return 0;
}

/* The private directory (0700, for the socket), under $XDG_RUNTIME_DIR or /tmp. */
static int make_dir(struct run *r)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	const char *bases[] = { xdg && xdg[0] == '/' ? xdg : NULL, "/tmp" };

	for (int i = 0; i < 2; i++) {
		/* room for "/trace" and "/dmabufd.sock" within a socket path */
		if (!bases[i] || strlen(bases[i]) + sizeof("/dmabuf-demo.XXXXXX/dmabufd.sock") >
				 sizeof(r->broker.sock))
			continue;
		snprintf(r->dir, sizeof(r->dir), "%s/dmabuf-demo.XXXXXX", bases[i]);
		if (mkdtemp(r->dir))
			return 0;
	}
	fprintf(stderr, "dmabuf-demo: cannot make a private directory: %s\n", strerror(errno));
	r->dir[0] = '\0';
	return -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) && errno != ENOENT ? -1 : 0;
}

static void remove_dir(struct run *r)
{
	if (r->dir[0] && nftw(r->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
		fprintf(stderr, "dmabuf-demo: warning: cannot remove %s: %s\n", r->dir,
			strerror(errno));
	r->dir[0] = '\0';
}

/* The environment every role's library reads when it is loaded, and the broker. */
static int set_env(struct run *r)
{
	char sock[PATH_MAX];

	snprintf(sock, sizeof(sock), "%s/dmabufd.sock", r->dir);
	if (setenv("DMABUFD_SOCKET", sock, 1) || setenv("LIBDMABUF_BACKEND", "broker", 1))
		return -1;
	if (r->o.trace) {
		snprintf(r->trace_dir, sizeof(r->trace_dir), "%s/trace", r->dir);
		if (mkdir(r->trace_dir, 0700) || setenv("DMABUF_TRACE_DIR", r->trace_dir, 1))
			return -1;
	}
	if (r->o.check_coherency) {
		snprintf(r->report, sizeof(r->report), "%s/coherency.jsonl", r->o.out);
		if (setenv("DMABUF_CHECK_COHERENCY", "report", 1) ||
		    setenv("DMABUF_CHECK_REPORT", r->report, 1))
			return -1;
	}
	return 0;
}

/* ---- the director: the roles ---- */

/* Run this program as a role, keeping @keep open in it. */
static pid_t spawn(struct run *r, char **argv, const int *keep, int nkeep)
{
	pid_t parent = getpid(), pid = fork();

	if (pid != 0)
		return pid;
	/* the roles go with the director */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(127);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	for (int i = 0; i < nkeep; i++)
		fcntl(keep[i], F_SETFD, 0);
	execv(r->self, argv);
	fprintf(stderr, "dmabuf-demo: %s: %s\n", r->self, strerror(errno));
	_exit(127);
}

static int start_roles(struct run *r)
{
	int socks[DEMO_CLIENTS][2], rp[1 + DEMO_CLIENTS][2], keep[DEMO_CLIENTS + 1];
	char frames[32], heap[64 + NAME_MAX], out[PATH_MAX + 8], fds[64], report[32], id[16];
	char *argv[12];
	const char *fault = r->o.fault == DEMO_FAULT_CHECKSUM ? "--fault=checksum" :
			    r->o.fault == DEMO_FAULT_NO_SYNC ? "--fault=no-sync" : NULL;
	int i, n, ret = -1;

	for (i = 0; i < DEMO_CLIENTS; i++)
		socks[i][0] = socks[i][1] = -1;
	for (i = 0; i <= DEMO_CLIENTS; i++)
		rp[i][0] = rp[i][1] = -1;
	for (i = 0; i < DEMO_CLIENTS; i++)
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, socks[i]))
			goto out;
	for (i = 0; i <= DEMO_CLIENTS; i++)
		if (pipe2(rp[i], O_CLOEXEC))
			goto out;
	snprintf(frames, sizeof(frames), "--frames=%u", r->o.frames);
	snprintf(heap, sizeof(heap), "--heap=%s", r->o.heap);
	snprintf(out, sizeof(out), "--out=%s", r->o.out);
	n = 0;
	argv[n++] = "dmabuf-demo";
	argv[n++] = "--role=compositor";
	argv[n++] = frames;
	argv[n++] = heap;
	argv[n++] = out;
	if (fault)
		argv[n++] = (char *)fault;
	argv[n++] = fds;
	argv[n++] = report;
	argv[n] = NULL;
	/* the compositor: one end of each client's socket */
	snprintf(fds, sizeof(fds), "--fd=%d,%d", socks[0][0], socks[1][0]);
	snprintf(report, sizeof(report), "--report=%d", rp[0][1]);
	keep[0] = socks[0][0];
	keep[1] = socks[1][0];
	keep[2] = rp[0][1];
	r->t0 = demo_now_ns();
	r->pids[0] = spawn(r, argv, keep, 3);
	role_pids[0] = r->pids[0];
	if (r->pids[0] < 0)
		goto out;
	argv[1] = "--role=client";
	argv[n++] = id;
	argv[n] = NULL;
	for (i = 0; i < DEMO_CLIENTS; i++) {
		snprintf(fds, sizeof(fds), "--fd=%d", socks[i][1]);
		snprintf(report, sizeof(report), "--report=%d", rp[i + 1][1]);
		snprintf(id, sizeof(id), "--id=%d", i);
		keep[0] = socks[i][1];
		keep[1] = rp[i + 1][1];
		r->pids[i + 1] = spawn(r, argv, keep, 2);
		role_pids[i + 1] = r->pids[i + 1];
		if (r->pids[i + 1] < 0)
			goto out;
	}
	ret = 0;
out:
	if (ret)
		fprintf(stderr, "dmabuf-demo: cannot start the roles: %s\n", strerror(errno));
	for (i = 0; i < DEMO_CLIENTS; i++) {
		if (socks[i][0] >= 0)
			close(socks[i][0]);
		if (socks[i][1] >= 0)
			close(socks[i][1]);
	}
	for (i = 0; i <= DEMO_CLIENTS; i++) {
		if (rp[i][1] >= 0)
			close(rp[i][1]);
		r->rfd[i] = rp[i][0];
	}
	return ret;
}

/* Read a role's whole result from @fd until the role closes it.  True when it all came. */
static bool read_result(int fd, void *res, size_t len)
{
	size_t got = 0;
	char extra;
	ssize_t n;

	if (fd < 0)
		return false;
	while (got < len) {
		n = read(fd, (char *)res + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	while ((n = read(fd, &extra, 1)) < 0 && errno == EINTR)
		;
	close(fd);
	return got == len && n == 0;
}

static const char *role_name(int i, char *buf, size_t len)
{
	if (!i)
		return "the compositor";
	snprintf(buf, len, "client %d", i - 1);
	return buf;
}

/* Role @i's result shows no error of its own. */
static bool role_clean(const struct run *r, int i)
{
	unsigned int bad = 0;

	if (i)
		return !r->client[i - 1].errors;
	for (int c = 0; c < DEMO_CLIENTS; c++)
		bad += r->comp.bad[c];
	return !r->comp.errors && !bad;
}

static void wait_roles(struct run *r)
{
	char name[32];
	int i, st;

	r->got[0] = read_result(r->rfd[0], &r->comp, sizeof(r->comp));
	for (i = 0; i < DEMO_CLIENTS; i++)
		r->got[i + 1] = read_result(r->rfd[i + 1], &r->client[i], sizeof(r->client[i]));
	for (i = 0; i <= DEMO_CLIENTS; i++) {
		r->rfd[i] = -1;
		if (r->pids[i] <= 0)
			continue;
		while (waitpid(r->pids[i], &st, 0) < 0 && errno == EINTR)
			;
		/* a role that reported says what went wrong itself (tally()) */
		if (WIFSIGNALED(st))
			error(r, "%s died of signal %d", role_name(i, name, sizeof(name)),
			      WTERMSIG(st));
		else if (!r->got[i])
			error(r, "%s exited with status %d and no result",
			      role_name(i, name, sizeof(name)), WEXITSTATUS(st));
		else if (WEXITSTATUS(st) && role_clean(r, i))
			/* after its result: a sanitizer's report at exit, say */
			error(r, "%s exited with status %d", role_name(i, name, sizeof(name)),
			      WEXITSTATUS(st));
	}
	r->t1 = demo_now_ns();
}

/* ---- the director: afterwards ---- */

/* The broker's counters once every object of the run is gone (or 5 s passed). */
static void broker_counts(struct run *r)
{
	struct timespec nap = { 0, 2000000 };
	int64_t deadline = demo_now_ns() + 5000000000LL;
	struct dmabufd_stats *s = &r->stats;

	for (;;) {
		r->stats_ok = !demo_broker_stats(&r->broker, s);
		if (!r->stats_ok)
			break;
		r->leaked = s->buffers || s->sync_files || s->timelines || s->heaps;
		/* a state query in a loop with a deadline: releases reach the broker async */
		if (!r->leaked || demo_now_ns() > deadline)
			break;
		nanosleep(&nap, NULL);
	}
	if (!r->stats_ok)
		error(r, "the broker does not answer");
	else if (r->leaked)
		error(r, "objects left in the broker after the run");
}

/* How many trace files (processes) and events (lines) were recorded. */
static void count_trace(struct run *r)
{
	struct dirent *de;
	char buf[65536];
	ssize_t n;
	DIR *d;
	int fd;

	d = opendir(r->trace_dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		r->trace_files++;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			for (ssize_t i = 0; i < n; i++)
				r->trace_events += buf[i] == '\n';
		close(fd);
	}
	closedir(d);
}

static void render_trace(struct run *r)
{
	char json[PATH_MAX], svg[PATH_MAX];

	r->render_ret = 1;
	if (!r->o.trace)
		return;
	count_trace(r);
	snprintf(json, sizeof(json), "%s/trace.json", r->o.out);
	snprintf(svg, sizeof(svg), "%s/timeline.svg", r->o.out);
	r->render_ret = dmabuf_trace_render(r->trace_dir, json, svg);
	if (r->render_ret)
		error(r, "rendering the trace: %s", strerror(-r->render_ret));
}

/* Add the kind of the violation record @line to the list of kinds seen. */
static void note_kind(struct run *r, const char *line)
{
	const char *k = strstr(line, "\"kind\":\""), *e;
	size_t len = strlen(r->check_kinds), n;

	if (!k)
		return;
	k += sizeof("\"kind\":\"") - 1;
	e = strchr(k, '"');
	if (!e)
		return;
	n = (size_t)(e - k);
	if (memmem(r->check_kinds, len, k, n) || len + n + 3 > sizeof(r->check_kinds))
		return;
	snprintf(r->check_kinds + len, sizeof(r->check_kinds) - len, "%s%.*s", len ? ", " : "",
		 (int)n, k);
}

/* The coherency report: one summary line per checked process, one line per violation. */
static void read_check_report(struct run *r)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	if (!r->o.check_coherency)
		return;
	f = fopen(r->report, "re");
	if (!f) {
		error(r, "no coherency report: %s", strerror(errno));
		return;
	}
	while (getline(&line, &cap, f) > 0) {
		if (strstr(line, "\"type\":\"summary\"")) {
			r->check_procs++;
		} else if (strstr(line, "\"type\":\"violation\"")) {
			r->check_violations++;
			note_kind(r, line);
		}
	}
	free(line);
	fclose(f);
	if (r->check_violations)
		error(r, "%lu coherency violation(s): %s", r->check_violations, r->check_kinds);
	else if (r->check_procs != 1 + DEMO_CLIENTS)
		error(r, "the coherency checker ran in %lu processes, not %d", r->check_procs,
		      1 + DEMO_CLIENTS);
}

/* The roles' own findings. */
static void tally(struct run *r)
{
	unsigned int bad = 0, i;

	if (r->got[0]) {
		for (i = 0; i < DEMO_CLIENTS; i++) {
			bad += r->comp.bad[i];
			if (r->comp.composed[i] != r->o.frames)
				r->errors++;
		}
		r->errors += r->comp.errors + bad;
		if (!r->comp.ppm_written)
			r->errors++;
		if ((r->comp.errors || bad) && !r->why[0])
			snprintf(r->why, sizeof(r->why), "%s", r->comp.why);
	}
	for (i = 0; i < DEMO_CLIENTS; i++) {
		if (!r->got[i + 1])
			continue;
		if (r->client[i].submitted != r->o.frames)
			r->errors++;
		r->errors += r->client[i].errors;
		if (r->client[i].errors && !r->why[0])
			snprintf(r->why, sizeof(r->why), "%s", r->client[i].why);
	}
	if (r->errors && !r->why[0])
		snprintf(r->why, sizeof(r->why), "a role did not get through all its frames");
}

/* ---- the summary ---- */

static const char *map_info_name(uint64_t v)
{
	switch (v) {
	case 0:
		return "incoherent";
	case 1:
		return "coherent, write-combined";
	case 2:
		return "coherent, cached";
	}
	return "unknown";
}

static void print_lat(const char *label, const struct demo_lat *l)
{
	printf("    %-9s p50 %6.2f ms   p90 %6.2f ms   p99 %6.2f ms   max %6.2f ms\n", label,
	       l->p50 / 1e6, l->p90 / 1e6, l->p99 / 1e6, l->max / 1e6);
}

static void print_written(const struct run *r)
{
	bool ppm = r->got[0] && r->comp.ppm_written, trace = r->o.trace && !r->render_ret;

	printf("  written     ");
	if (ppm)
		printf("%s/final.ppm (%dx%d)", r->out_shown, DEMO_OUT_WIDTH, DEMO_HEIGHT);
	if (trace)
		printf("%s%s/trace.json %s/timeline.svg", ppm ? " " : "", r->out_shown,
		       r->out_shown);
	if (r->o.check_coherency)
		printf("%s%s/coherency.jsonl", ppm || trace ? " " : "", r->out_shown);
	if (!ppm && !trace && !r->o.check_coherency)
		printf("nothing");
	printf("\n");
}

static void summary(const struct run *r)
{
	const struct demo_comp_result *c = &r->comp;
	double span = (double)(c->last_ns - c->first_ns) / 1e9;
	unsigned int i, total = 0;
	char label[16];

	printf("dmabuf-demo: a compositor (implicit sync) and %d clients (explicit sync), "
	       "%u frames each\n", DEMO_CLIENTS, r->o.frames);
	printf("  buffers     %d per client, %d KiB, heap '%s'", DEMO_BUFS, DEMO_BUF_SIZE / 1024,
	       r->o.heap);
	if (r->got[0] && c->map_info_known)
		printf(" (map_info: %s)", map_info_name(c->map_info));
	printf("; scanout %d KiB\n", DEMO_OUT_SIZE / 1024);
	for (i = 0; i < DEMO_CLIENTS; i++) {
		printf("  client %u    %u rendered, %u composed, %u bad; release fence pending at "
		       "reuse %u times\n", i, r->got[i + 1] ? r->client[i].submitted : 0,
		       r->got[0] ? c->composed[i] : 0, r->got[0] ? c->bad[i] : 0,
		       r->got[i + 1] ? r->client[i].release_pending : 0);
		total += r->got[0] ? c->composed[i] : 0;
	}
	if (r->got[0] && total) {
		printf("  latency     client submit -> compositor done reading:\n");
		for (i = 0; i < DEMO_CLIENTS; i++) {
			snprintf(label, sizeof(label), "client %u", i);
			print_lat(label, &c->lat[i]);
		}
		printf("  compositor  %u frames in %.3f s: %.0f frames/s (%.0f per client); "
		       "buffer not ready when announced %u times\n", total, span,
		       span > 0 ? total / span : 0.0, span > 0 ? total / span / DEMO_CLIENTS : 0.0,
		       c->not_ready[0] + c->not_ready[1]);
	}
	if (r->stats_ok)
		printf("  broker      %llu requests; left after the run: %llu buffers, "
		       "%llu sync_files, %llu timelines\n",
		       (unsigned long long)r->stats.requests,
		       (unsigned long long)r->stats.buffers,
		       (unsigned long long)r->stats.sync_files,
		       (unsigned long long)r->stats.timelines);
	if (r->o.check_coherency)
		printf("  coherency   checked in %lu processes: %lu violations%s%s\n",
		       r->check_procs, r->check_violations, r->check_violations ? ": " : "",
		       r->check_kinds);
	else
		printf("  coherency   not checked (--check-coherency)\n");
	if (!r->o.trace)
		printf("  trace       off\n");
	else if (r->render_ret == 1)
		printf("  trace       %lu events from %lu processes; not rendered (this build has "
		       "no trace renderer)\n", r->trace_events, r->trace_files);
	else
		printf("  trace       %lu events from %lu processes\n", r->trace_events,
		       r->trace_files);
	print_written(r);
	printf("  time        %.3f s\n", (double)(r->t1 - r->t0) / 1e9);
	if (r->errors)
		printf("FAILED: %u error(s); first: %s\n", r->errors, r->why);
	else
		printf("OK: every frame arrived whole, in order, with a valid checksum\n");
}

/* End the roles that run (async-signal-safe). */
static void kill_roles(void)
{
	for (int i = 0; i <= DEMO_CLIENTS; i++)
		if (role_pids[i] > 0)
			kill(role_pids[i], SIGKILL);
}

/* ^C, SIGTERM, SIGHUP: end the roles, then clean up, report and die of the signal. */
static void on_signal(int sig)
{
	int saved = errno;

	stop_signal = sig;
	kill_roles();
	errno = saved;
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int director(struct run *r)
{
	char out[PATH_MAX], why[PATH_MAX + 128];
	int ret;

	r->out_shown = r->o.out;
	if (find_self(r) || prepare_out(r, out))
		return 1;
	r->o.out = out;
	if (make_dir(r))
		return 1;
	ret = set_env(r);
	if (ret) {
		fprintf(stderr, "dmabuf-demo: setting the environment: %s\n", strerror(errno));
		goto fail;
	}
	ret = demo_broker_start(&r->broker, r->dir, r->tree, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "dmabuf-demo: %s\n", why);
		goto fail;
	}
	/* the roles' library starts the same broker again if it goes away */
	setenv("DMABUFD", r->broker.bin, 1);
	catch_signals();
	if (start_roles(r))
		error(r, "cannot start the roles");
	/* a role that could not start, or a signal before all were there: end the others */
	if (r->errors || stop_signal)
		kill_roles();
	wait_roles(r);
	tally(r);
	broker_counts(r);
	demo_broker_stop(&r->broker);
	render_trace(r);
	read_check_report(r);
	remove_dir(r);
	if (stop_signal) {
		/* what the roles' deaths are about */
		r->errors++;
		snprintf(r->why, sizeof(r->why), "stopped by %s", strsignal(stop_signal));
	}
	summary(r);
	if (stop_signal) {
		/* end as the signal would have ended us */
		signal(stop_signal, SIG_DFL);
		raise(stop_signal);
	}
	return r->errors ? 1 : 0;
fail:
	demo_broker_stop(&r->broker);
	remove_dir(r);
	return 1;
}

int main(int argc, char **argv)
{
	static struct run r = {
		.o = {
			.frames = DEMO_DEFAULT_FRAMES,
			.heap = "system",
			.out = "demo-out",
			.trace = true,
			.report_fd = -1,
		},
	};
	char name[16];
	int ret;

	ret = parse(argc, argv, &r.o);
	if (ret)
		return ret - 1;
	if (r.o.role != DEMO_ROLE_DIRECTOR)
		alarm(DEMO_WATCHDOG_S(r.o.frames));
	switch (r.o.role) {
	case DEMO_ROLE_COMPOSITOR:
		prctl(PR_SET_NAME, "compositor");
		return demo_compositor(&r.o);
	case DEMO_ROLE_CLIENT:
		snprintf(name, sizeof(name), "client%u", r.o.id);
		prctl(PR_SET_NAME, name);
		return demo_client(&r.o);
	default:
		break;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return director(&r);
}

// SPDX-License-Identifier: MIT
/*
 * test_trace.c - event recording (DMABUF_TRACE_DIR) and `dmabufctl trace`: a scripted
 * scenario across processes, recorded, then checked event by event, and rendered to a Chrome
 * trace and an SVG that must parse and hold the scenario.
 *
 * usage: test_trace DMABUF_RUN PYTHON SANITIZE [DMABUFCTL]
 *   DMABUF_RUN  the dmabuf-run `dmabufctl trace` runs commands with
 *   PYTHON      python3: parses the files (json, xml.etree) and prints them flat for the checks
 *   SANITIZE    meson's b_sanitize: the preload library runs only in plain builds
 *   DMABUFCTL   dmabufctl, if built: its trace command is run as a program too
 * or:    test_trace --scenario FACTS [--uapi]     (the scenario, run under tracing)
 *
 * The scenario: the main process allocates a buffer, names it (once with bytes JSON and XML
 * must escape), writes it inside a SYNC bracket, makes a sw_sync fence, imports it as the
 * buffer's write fence, exports the buffer's read fence and waits on it; a child process
 * waits until that wait shows in the trace, then signals the timeline; the main process waits
 * on the buffer; then a second child (named trace-child) reads the buffer in a SYNC bracket
 * and exports a sync_file, through the uAPI's ioctls with --uapi (under the preload library),
 * else through the library.  FACTS receives the pids and inodes the checks need.
 *
 * Three runs: the library recording beside a broker it starts (every build; rendered with
 * dmabuf_trace_render()), dmabufctl_trace() called here, and dmabufctl trace (both under the
 * preload library: plain builds only).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>

#include <dmabuf/fd.h>

#include "dmabufctl_trace.h"
#include "private_dir.h"
#include "tap.h"
#include "trace_render.h"

#define BUF_SIZE	8192
#define DEADLINE_MS	30000
#define NAME		"trace-frame"
/* a name JSON must escape (quote, backslash, a control character) and a byte not UTF-8 */
#define ODD_NAME	"we\"ird\\\x01\xe9"
#define CHILD_COMM	"trace-child"

static const char *run_path, *python, *ctl_path;
static bool sanitized;
static char self[PATH_MAX];

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the scenario ---- */

static void __attribute__((noreturn)) fail(const char *what, int err)
{
	fprintf(stderr, "scenario: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void check(int ret, const char *what)
{
	if (ret < 0)
		fail(what, ret);
}

static uint64_t ino(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		fail("fstat", errno);
	return (uint64_t)st.st_ino;
}

/* Whether @path holds @needle (a state query: the file grows). */
static bool file_has(const char *path, const char *needle)
{
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

/* The signaler: once the main process's wait shows in its trace, the fence signals. */
static void __attribute__((noreturn)) signaler(int tl, pid_t main_pid)
{
	const char *dir = getenv("DMABUF_TRACE_DIR");
	int64_t deadline = now_ms() + DEADLINE_MS;
	char path[PATH_MAX];

	prctl(PR_SET_NAME, "trace-signal");
	snprintf(path, sizeof(path), "%s/%d.jsonl", dir ? dir : ".", (int)main_pid);
	while (!file_has(path, "\"ev\":\"wait_begin\"")) {
		if (now_ms() > deadline)
			fail("no wait_begin in the trace", ETIMEDOUT);
		poll(NULL, 0, 2);
	}
	check(dmabuf_fd_sw_timeline_inc(tl, 1), "sw_timeline_inc");
	_exit(0);
}

/* The reader: a READ bracket and an EXPORT, by ioctl (@uapi) or through the library. */
static void __attribute__((noreturn)) reader(int buf, const volatile char *map, bool uapi,
					     int facts)
{
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ };
	struct dma_buf_export_sync_file exp = { .flags = DMA_BUF_SYNC_READ, .fd = -1 };
	char c;

	prctl(PR_SET_NAME, CHILD_COMM);
	if (uapi) {
		if (ioctl(buf, DMA_BUF_IOCTL_SYNC, &sync))
			fail("DMA_BUF_IOCTL_SYNC", errno);
		c = map[0];
		sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
		if (ioctl(buf, DMA_BUF_IOCTL_SYNC, &sync))
			fail("DMA_BUF_IOCTL_SYNC", errno);
		if (ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &exp))
			fail("DMA_BUF_IOCTL_EXPORT_SYNC_FILE", errno);
	} else {
		check(dmabuf_fd_buf_sync(buf, DMABUF_FD_SYNC_START | DMABUF_FD_SYNC_READ), "sync");
		c = map[0];
		check(dmabuf_fd_buf_sync(buf, DMABUF_FD_SYNC_END | DMABUF_FD_SYNC_READ), "sync");
		exp.fd = dmabuf_fd_buf_export_sync_file(buf, DMABUF_FD_SYNC_READ);
		check(exp.fd, "export");
	}
	if (c != 0x5a)
		fail("the buffer's contents", EIO);
	dprintf(facts, "sf3 %llu\n", (unsigned long long)ino(exp.fd));
	_exit(0);
}

static pid_t fork_or_die(void)
{
	pid_t pid = fork();

	if (pid < 0)
		fail("fork", errno);
	return pid;
}

static void reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("a child failed", EIO);
}

static int scenario(const char *facts_path, bool uapi)
{
	int facts, buf, tl, sf1, sf2;
	pid_t sig, rd;
	char *map;
	void *p;

	facts = open(facts_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (facts < 0)
		fail(facts_path, errno);
	buf = dmabuf_fd_heap_alloc("system", BUF_SIZE, O_RDWR | O_CLOEXEC, 0);
	check(buf, "heap_alloc");
	check(dmabuf_fd_buf_set_name(buf, ODD_NAME), "set_name");
	check(dmabuf_fd_buf_set_name(buf, NAME), "set_name");
	check(dmabuf_fd_buf_mmap(buf, NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &p),
	      "mmap");
	map = p;
	check(dmabuf_fd_buf_sync(buf, DMABUF_FD_SYNC_START | DMABUF_FD_SYNC_WRITE), "sync");
	memset(map, 0x5a, BUF_SIZE);
	check(dmabuf_fd_buf_sync(buf, DMABUF_FD_SYNC_END | DMABUF_FD_SYNC_WRITE), "sync");

	tl = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	check(tl, "sw_timeline_create");
	sf1 = dmabuf_fd_sw_fence_create(tl, 1, "render");
	check(sf1, "sw_fence_create");
	check(dmabuf_fd_buf_import_sync_file(buf, DMABUF_FD_SYNC_WRITE, sf1), "import");
	sf2 = dmabuf_fd_buf_export_sync_file(buf, DMABUF_FD_SYNC_READ);
	check(sf2, "export");

	sig = fork_or_die();
	if (!sig)
		signaler(tl, getppid());
	check(dmabuf_fd_sync_wait(sf2, (int64_t)DEADLINE_MS * 1000000), "sync_wait");
	check(dmabuf_fd_buf_wait(buf, DMABUF_FD_SYNC_READ, 0), "buf_wait");
	reap(sig);

	rd = fork_or_die();
	if (!rd)
		reader(buf, map, uapi, facts);
	reap(rd);

	dprintf(facts, "main %d\nsignaler %d\nreader %d\nbuf %llu\nsf1 %llu\nsf2 %llu\n",
		(int)getpid(), (int)sig, (int)rd, (unsigned long long)ino(buf),
		(unsigned long long)ino(sf1), (unsigned long long)ino(sf2));
	check(dmabuf_fd_buf_munmap(map, BUF_SIZE), "munmap");
	close(sf1);
	close(sf2);
	close(tl);
	close(buf);
	close(facts);
	return 0;
}

/* ---- what the scenario said ---- */

struct facts {
	int main, signaler, reader;
	unsigned long long buf, sf1, sf2, sf3;
};

static bool read_facts(const char *path, struct facts *f)
{
	char line[128], key[32];
	unsigned long long v;
	int got = 0;
	FILE *in = fopen(path, "r");

	memset(f, 0, sizeof(*f));
	if (!in)
		return false;
	while (fgets(line, sizeof(line), in)) {
		if (sscanf(line, "%31s %llu", key, &v) != 2)
			continue;
		got++;
		if (!strcmp(key, "main"))
			f->main = (int)v;
		else if (!strcmp(key, "signaler"))
			f->signaler = (int)v;
		else if (!strcmp(key, "reader"))
			f->reader = (int)v;
		else if (!strcmp(key, "buf"))
			f->buf = v;
		else if (!strcmp(key, "sf1"))
			f->sf1 = v;
		else if (!strcmp(key, "sf2"))
			f->sf2 = v;
		else if (!strcmp(key, "sf3"))
			f->sf3 = v;
		else
			got--;
	}
	fclose(in);
	return got == 7;
}

/* ---- python: parse the files, print them flat ---- */

/*
 * raw DIR: every line of every DIR/PID.jsonl is parsed (json.loads), sorted by ts, printed as
 *   "EV PID TID PROC key=value..." (strings as JSON, ASCII only).
 * chrome FILE: json.load, then per entry of traceEvents "PH PID TID TS DUR NAME|key=value...".
 * svg FILE: xml.etree; per lane "lane PID ROWS", then "slices N instants N".
 */
static const char py_script[] =
	"import json, os, sys\n"
	"import xml.etree.ElementTree as ET\n"
	"def val(v):\n"
	"    return json.dumps(v) if isinstance(v, str) else json.dumps(v).replace(' ', '')\n"
	"def kv(d, skip):\n"
	"    return ' '.join('%s=%s' % (k, val(v)) for k, v in d.items() if k not in skip)\n"
	"mode, path = sys.argv[1], sys.argv[2]\n"
	"if mode == 'raw':\n"
	"    evs = []\n"
	"    for n in sorted(os.listdir(path)):\n"
	"        if n.endswith('.jsonl'):\n"
	"            with open(os.path.join(path, n), 'rb') as f:\n"
	"                for line in f:\n"
	"                    e = json.loads(line.decode('utf-8'))\n"
	"                    assert isinstance(e['ts'], int) and isinstance(e['pid'], int)\n"
	"                    assert isinstance(e['tid'], int) and isinstance(e['proc'], str)\n"
	"                    assert isinstance(e['ev'], str) and str(e['pid']) + '.jsonl' == n\n"
	"                    evs.append(e)\n"
	"    evs.sort(key=lambda e: e['ts'])\n"
	"    for e in evs:\n"
	"        print(e['ev'], e['pid'], e['tid'], e['proc'],\n"
	"              kv(e, ('ts', 'pid', 'tid', 'proc', 'ev')))\n"
	"elif mode == 'chrome':\n"
	"    with open(path, 'rb') as f:\n"
	"        doc = json.loads(f.read().decode('utf-8'))\n"
	"    for e in doc['traceEvents']:\n"
	"        print(e['ph'], e['pid'], e['tid'], e.get('ts', 0), e.get('dur', 0),\n"
	"              e['name'].replace(' ', '_'), kv(e.get('args', {}), ()))\n"
	"else:\n"
	"    ns = '{http://www.w3.org/2000/svg}'\n"
	"    root = ET.parse(path).getroot()\n"
	"    assert root.tag == ns + 'svg'\n"
	"    n = {'slice': 0, 'instant': 0}\n"
	"    for g in root.iter(ns + 'g'):\n"
	"        if g.get('class') == 'lane':\n"
	"            rows = [r for r in g.iter(ns + 'g') if r.get('class') == 'row']\n"
	"            print('lane', g.get('data-pid'), len(rows))\n"
	"    for el in root.iter():\n"
	"        c = (el.get('class') or '').split(' ')[0]\n"
	"        if c in n:\n"
	"            n[c] += 1\n"
	"    print('marks', n['slice'], n['instant'])\n";

struct lines {
	char **l;
	size_t n;
};

static void lines_free(struct lines *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->l[i]);
	free(ls->l);
	ls->l = NULL;
	ls->n = 0;
}

/* Run the script in @mode on @path; its output lines.  False if python failed. */
static bool py(const char *mode, const char *path, struct lines *out)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int p[2], st;
	pid_t pid;
	FILE *f;

	memset(out, 0, sizeof(*out));
	if (pipe2(p, O_CLOEXEC))
		return false;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		execl(python, python, "-c", py_script, mode, path, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	while (f && (n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		out->l = realloc(out->l, (out->n + 1) * sizeof(*out->l));
		out->l[out->n++] = strdup(line);
	}
	free(line);
	if (f)
		fclose(f);
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st);
}

/*
 * The first line from @from on that starts with @head and holds every field of the
 * NULL-terminated @want (" key=value", a whole word): its index, or -1.
 */
static long find(const struct lines *ls, size_t from, const char *head, const char *const *want)
{
	char pat[256];

	for (size_t i = from; i < ls->n; i++) {
		const char *l = ls->l[i];
		bool all = !strncmp(l, head, strlen(head));

		for (size_t k = 0; all && want[k]; k++) {
			const char *hit;
			size_t n;

			snprintf(pat, sizeof(pat), " %s", want[k]);
			n = strlen(pat);
			all = false;
			for (hit = strstr(l, pat); hit; hit = strstr(hit + 1, pat)) {
				if (hit[n] == ' ' || hit[n] == '\0') {
					all = true;
					break;
				}
			}
		}
		if (all)
			return (long)i;
	}
	return -1;
}

/* ---- the checks ---- */

struct expect {
	const char *ev;
	int pid;		/* 0: the broker (proc dmabufd) */
	const char *fields[6];
};

static const char *who(int pid, const struct facts *f)
{
	if (!pid)
		return "the broker";
	return pid == f->main ? "the main process" : "the reader";
}

/* The fence of the main process's sw_sync point, as the broker names it. */
static char fence_id[64];

static void check_raw(const char *dir, const struct facts *f, bool uapi, const char *run)
{
	char b[64], s1[64], s2[64], s3[64], w[64];
	struct lines ls;
	long at = -1, i;
	bool ordered = true;
	int pids[16], npids = 0;

	snprintf(b, sizeof(b), "buf=%llu", f->buf);
	snprintf(s1, sizeof(s1), "sf=%llu", f->sf1);
	snprintf(s2, sizeof(s2), "sf=%llu", f->sf2);
	snprintf(s3, sizeof(s3), "sf=%llu", f->sf3);
	snprintf(w, sizeof(w), "id=%llu", f->sf2);
	ok(py("raw", dir, &ls), "%s: every recorded line is a JSON object with ts, pid, tid, "
	   "proc, ev, in the file of its pid", run);

	/* the fence the broker made for sf1 */
	fence_id[0] = '\0';
	i = find(&ls, 0, "fence_add ", (const char *const[]){ b, "usage=\"write\"", "pending=1",
							     NULL });
	if (i >= 0) {
		const char *p = strstr(ls.l[i], " fence=\"");

		if (p)
			sscanf(p + 8, "%63[^\"]", fence_id);
	}
	ok(fence_id[0], "%s: the imported fence is named: %s", run, fence_id);
	{
		char fe[96], fences[96], sig[96], bw[96];
		char mainp[32];
		const struct expect want[] = {
			{ "buf_create", 0, { b, "size=8192", "exporter=\"system\"",
					     "heap=\"system\"", mainp } },
			{ "buf_name", 0, { b, "name=\"we\\\"ird\\\\\\u0001\\u00e9\"" } },
			{ "buf_name", 0, { b, "name=\"" NAME "\"" } },
			{ "sync_start", f->main, { b, "flags=\"WRITE\"" } },
			{ "sync_end", f->main, { b, "flags=\"WRITE\"" } },
			{ "sf_create", 0, { s1, fences, fe } },
			{ "fence_add", 0, { b, sig, "usage=\"write\"" } },
			{ "import", f->main, { b, "flags=\"WRITE\"", s1 } },
			{ "sf_create", 0, { s2, fences } },
			{ "export", f->main, { b, "flags=\"READ\"", s2 } },
			{ "wait_begin", f->main, { "what=\"sf\"", w, "events=\"\"" } },
			{ "fence_signal", 0, { sig, "status=1" } },
			{ "wait_end", f->main, { "what=\"sf\"", w, "result=0" } },
			{ "wait_begin", f->main, { "what=\"buf\"", bw, "events=\"READ\"" } },
			{ "wait_end", f->main, { "what=\"buf\"", bw, "events=\"READ\"",
						 "result=0" } },
			{ "sync_start", f->reader, { b, "flags=\"READ\"" } },
			{ "sync_end", f->reader, { b, "flags=\"READ\"" } },
			{ "export", f->reader, { b, "flags=\"READ\"", s3 } },
			{ "buf_release", 0, { b } },
		};

		snprintf(fe, sizeof(fe), "pending=\"%s\"", fence_id);
		snprintf(fences, sizeof(fences), "fences=\"%s\"", fence_id);
		snprintf(sig, sizeof(sig), "fence=\"%s\"", fence_id);
		snprintf(bw, sizeof(bw), "id=%llu", f->buf);
		snprintf(mainp, sizeof(mainp), "client=%d", f->main);
		for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
			char head[96];
			long next;

			if (want[k].pid)
				snprintf(head, sizeof(head), "%s %d ", want[k].ev, want[k].pid);
			else
				snprintf(head, sizeof(head), "%s ", want[k].ev);
			next = find(&ls, (size_t)(at + 1), head, want[k].fields);
			if (next < 0 && find(&ls, 0, head, want[k].fields) >= 0)
				ordered = false;
			if (!ok(next >= 0, "%s: event %zu, %s of %s, comes next", run, k + 1,
				want[k].ev, who(want[k].pid, f)))
				continue;
			if (!want[k].pid)
				ok(strstr(ls.l[next], " dmabufd ") != NULL,
				   "%s: ... recorded by dmabufd", run);
			at = next;
		}
		ok(ordered, "%s: the events come in the scenario's order", run);
	}
	/* the reader's events carry its name; one file per process */
	i = find(&ls, 0, "sync_start ", (const char *const[]){ "flags=\"READ\"", NULL });
	ok(i >= 0 && strstr(ls.l[i], " " CHILD_COMM " "), "%s: the reader's events say proc %s",
	   run, CHILD_COMM);
	i = find(&ls, 0, "import ", (const char *const[]){ NULL });
	ok(i >= 0 && find(&ls, (size_t)i + 1, "import ", (const char *const[]){ NULL }) < 0,
	   "%s: one import recorded for one import (%s)", run,
	   uapi ? "the preload library's recorder, not the library's too" : "the library's");
	for (size_t k = 0; k < ls.n; k++) {
		int pid = atoi(strchr(ls.l[k], ' ') + 1), j;

		for (j = 0; j < npids && pids[j] != pid; j++)
			;
		if (j == npids && npids < 16)
			pids[npids++] = pid;
	}
	is_int(npids, 3, "%s: three processes recorded events (main, reader, broker)", run);
	lines_free(&ls);
}

/* The Chrome trace and the SVG of the same recording. */
static void check_rendered(const char *json, const char *svg, const struct facts *f,
			   const char *run)
{
	char b[64], pm[64], pr[64], fence[96], nm[64], wf[96];
	struct lines ls, sv;
	long sync_w, sync_r, wait_sf, fence_b, buf_b, imp, i;
	size_t slices = 0, lanes = 0;

	ok(py("chrome", json, &ls), "%s: the Chrome trace is JSON with a traceEvents array", run);
	snprintf(pm, sizeof(pm), "M %d ", f->main);
	snprintf(pr, sizeof(pr), "M %d ", f->reader);
	ok(find(&ls, 0, pm, (const char *const[]){ "name=\"test_trace\"", NULL }) >= 0,
	   "%s: the main process is named", run);
	ok(find(&ls, 0, pr, (const char *const[]){ "name=\"" CHILD_COMM "\"", NULL }) >= 0,
	   "%s: the reader is named", run);
	ok(find(&ls, 0, "M ", (const char *const[]){ "name=\"dmabufd\"", NULL }) >= 0,
	   "%s: the broker is named", run);

	snprintf(b, sizeof(b), "b %d ", f->main);
	snprintf(nm, sizeof(nm), "buf=%llu", f->buf);
	sync_w = find(&ls, 0, b, (const char *const[]){ nm, "flags=\"WRITE\"", NULL });
	ok(sync_w >= 0 && strstr(ls.l[sync_w], " sync_WRITE_buf_"),
	   "%s: the main process's WRITE bracket is a slice", run);
	snprintf(b, sizeof(b), "b %d ", f->reader);
	sync_r = find(&ls, 0, b, (const char *const[]){ nm, "flags=\"READ\"", NULL });
	ok(sync_r >= 0, "%s: the reader's READ bracket is a slice", run);
	snprintf(b, sizeof(b), "X %d ", f->main);
	snprintf(wf, sizeof(wf), "fence=\"%s\"", fence_id);
	wait_sf = find(&ls, 0, b, (const char *const[]){ "what=\"sf\"", "result=0", wf, NULL });
	ok(wait_sf >= 0, "%s: the wait on the sync_file is a slice with its result and fence",
	   run);
	ok(find(&ls, 0, b, (const char *const[]){ "what=\"buf\"", "result=0", NULL }) >= 0,
	   "%s: the wait on the buffer is a slice", run);
	snprintf(fence, sizeof(fence), "fence_%s", fence_id);
	fence_b = -1;
	for (i = 0; i < (long)ls.n; i++)
		if (!strncmp(ls.l[i], "b ", 2) && strstr(ls.l[i], fence) &&
		    strstr(ls.l[i], " status=1"))
			fence_b = i;
	ok(fence_b >= 0, "%s: the fence is a slice of the broker's, until it signaled", run);
	buf_b = find(&ls, 0, "b ", (const char *const[]){ nm, "name=\"" NAME "\"", NULL });
	ok(buf_b >= 0 && !strstr(ls.l[buf_b], "unfinished"),
	   "%s: the buffer is a slice from its creation to its release, with its name", run);
	imp = find(&ls, 0, "i ", (const char *const[]){ nm, "flags=\"WRITE\"", NULL });
	ok(imp >= 0 && strstr(ls.l[imp], " import "), "%s: the import is an instant", run);
	if (sync_w >= 0 && imp >= 0 && wait_sf >= 0 && sync_r >= 0) {
		double t[4];
		long idx[4] = { sync_w, imp, wait_sf, sync_r };

		for (int k = 0; k < 4; k++)
			sscanf(ls.l[idx[k]], "%*s %*d %*d %lf", &t[k]);
		ok(t[0] < t[1] && t[1] < t[2] && t[2] < t[3],
		   "%s: bracket, import, wait, the reader's bracket in time order", run);
	}
	for (i = 0; i < (long)ls.n; i++)
		slices += !strncmp(ls.l[i], "b ", 2) || !strncmp(ls.l[i], "X ", 2);

	ok(py("svg", svg, &sv), "%s: the SVG is well-formed XML with an svg root", run);
	for (i = 0; i < (long)sv.n; i++) {
		int pid = 0, rows = 0;

		if (sscanf(sv.l[i], "lane %d %d", &pid, &rows) != 2)
			continue;
		lanes++;
		if (pid == f->main)
			ok(rows == 1, "%s: the main process's lane has one row (one thread)", run);
	}
	is_int(lanes, 3, "%s: one lane per process", run);
	i = find(&sv, 0, "marks ", (const char *const[]){ NULL });
	if (ok(i >= 0, "%s: the SVG has marks", run)) {
		size_t n = 0, inst = 0;

		sscanf(sv.l[i], "marks %zu %zu", &n, &inst);
		is_int(n, slices, "%s: one rectangle per slice", run);
		ok(inst > 0, "%s: instants are drawn", run);
	}
	lines_free(&ls);
	lines_free(&sv);
}

/* ---- the runs ---- */

static char tmp_dir[64] = "/tmp/dmabuf-trace-test-XXXXXX";

static int rm_tree(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void cleanup(void)
{
	rm_tree(tmp_dir);
}

/* Whether a file of @dir holds @needle. */
static bool dir_has(const char *dir, const char *needle)
{
	char path[PATH_MAX + 256];
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(dir);

	while (d && !found && (de = readdir(d))) {
		if (!strstr(de->d_name, ".jsonl"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		found = file_has(path, needle);
	}
	if (d)
		closedir(d);
	return found;
}

/* Run this program's scenario recording into @trace_dir, wait for it: its wait status. */
static int run_scenario(const char *facts, const char *trace_dir)
{
	pid_t pid = fork();
	int st = -1;

	if (pid == 0) {
		setenv("DMABUF_TRACE_DIR", trace_dir, 1);
		execl(self, self, "--scenario", facts, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &st, 0);
	return st;
}

/* 1: the library and a broker it starts, recording; rendered here. */
static void test_library(void)
{
	char dir[PATH_MAX], facts[PATH_MAX], json[PATH_MAX], svg[PATH_MAX];
	struct dmabuf_trace_summary sum;
	int64_t deadline;
	struct facts f;
	int st;

	snprintf(dir, sizeof(dir), "%s/lib", tmp_dir);
	snprintf(facts, sizeof(facts), "%s/lib.facts", tmp_dir);
	snprintf(json, sizeof(json), "%s/lib.json", tmp_dir);
	snprintf(svg, sizeof(svg), "%s/lib.svg", tmp_dir);
	mkdir(dir, 0700);
	st = run_scenario(facts, dir);
	if (!ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "library: the scenario ran") ||
	    !ok(read_facts(facts, &f), "library: the scenario said what it did"))
		return;
	/* the broker releases the buffer once it hears the last descriptor went */
	deadline = now_ms() + DEADLINE_MS;
	while (!dir_has(dir, "\"ev\":\"buf_release\"") && now_ms() < deadline)
		poll(NULL, 0, 5);
	check_raw(dir, &f, false, "library");
	is_int(dmabuf_trace_render_summary(dir, json, svg, &sum), 0, "library: rendered");
	is_int(sum.processes, 3, "library: three processes in the summary");
	ok(sum.events > 15 && sum.skipped == 0, "library: %zu events, none skipped", sum.events);
	check_rendered(json, svg, &f, "library");
}

/* 2: dmabufctl_trace(), under the preload library (--uapi: the reader uses ioctls). */
static void test_trace_call(void)
{
	char dir[PATH_MAX], facts[PATH_MAX], json[PATH_MAX], svg[PATH_MAX], raw[PATH_MAX + 8];
	char *argv[] = { "trace", "-o", json, raw, "--", self, "--scenario", facts, "--uapi",
			 NULL };
	struct facts f;
	int ret;

	snprintf(dir, sizeof(dir), "%s/call", tmp_dir);
	snprintf(raw, sizeof(raw), "--raw=%s", dir);
	snprintf(facts, sizeof(facts), "%s/call.facts", tmp_dir);
	snprintf(json, sizeof(json), "%s/call.json", tmp_dir);
	snprintf(svg, sizeof(svg), "%s/call.svg", tmp_dir);
	setenv("DMABUF_RUN", run_path, 1);
	ret = dmabufctl_trace(9, argv);
	unsetenv("DMABUF_RUN");
	if (!is_int(ret, 0, "dmabufctl_trace(): the command's exit status") ||
	    !ok(read_facts(facts, &f), "dmabufctl_trace(): the scenario said what it did"))
		return;
	ok(access(svg, R_OK) == 0, "dmabufctl_trace(): the SVG is FILE with .json made .svg");
	check_raw(dir, &f, true, "dmabufctl_trace()");
	check_rendered(json, svg, &f, "dmabufctl_trace()");
}

/* Run @argv (NULL-terminated) with stdout and stderr into @out: the wait status. */
static int run_prog(char *const *argv, char *out, size_t len)
{
	int p[2], st = -1;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while (n + 1 < len && (r = read(p[0], out + n, len - n - 1)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(p[0]);
	if (pid > 0)
		waitpid(pid, &st, 0);
	return st;
}

/* The command's options and what it refuses (through dmabufctl_trace()). */
static void test_usage(void)
{
	char json[PATH_MAX], svg[PATH_MAX], dir[PATH_MAX], from[PATH_MAX + 8];
	char *no_out[] = { "trace", "--", "true", NULL };
	char *no_cmd[] = { "trace", "-o", json, NULL };
	char *both[] = { "trace", "-o", json, from, "--", "true", NULL };
	char *render[] = { "trace", "-o", json, from, NULL };

	snprintf(json, sizeof(json), "%s/usage.trace", tmp_dir);
	snprintf(svg, sizeof(svg), "%s/usage.trace.svg", tmp_dir);
	snprintf(dir, sizeof(dir), "%s/lib", tmp_dir);
	snprintf(from, sizeof(from), "--from=%s", dir);
	is_int(dmabufctl_trace(3, no_out), 2, "usage: no -o FILE is a usage error");
	is_int(dmabufctl_trace(3, no_cmd), 2, "usage: no command (no recording from a running "
	       "broker) is a usage error");
	is_int(dmabufctl_trace(6, both), 2, "usage: --from with a command is a usage error");
	if (access(dir, F_OK) == 0) {
		is_int(dmabufctl_trace(4, render), 0, "usage: --from renders a recorded directory");
		ok(access(json, R_OK) == 0 && access(svg, R_OK) == 0,
		   "usage: FILE without .json gets FILE.svg beside it");
	}
	snprintf(dir, sizeof(dir), "%s/empty", tmp_dir);
	mkdir(dir, 0700);
	snprintf(from, sizeof(from), "--from=%s", dir);
	is_int(dmabufctl_trace(4, render), 125, "usage: an empty directory has no trace");
}

/* 3: dmabufctl trace, the program. */
static void test_dmabufctl(void)
{
	char dir[PATH_MAX], facts[PATH_MAX], json[PATH_MAX], svg[PATH_MAX], raw[PATH_MAX + 8];
	char out[8192];
	char *argv[] = { (char *)ctl_path, "trace", "-o", json, raw, "--", self, "--scenario",
			 facts, "--uapi", NULL };
	struct facts f;
	int st;

	snprintf(dir, sizeof(dir), "%s/ctl", tmp_dir);
	snprintf(raw, sizeof(raw), "--raw=%s", dir);
	snprintf(facts, sizeof(facts), "%s/ctl.facts", tmp_dir);
	snprintf(json, sizeof(json), "%s/ctl.json", tmp_dir);
	snprintf(svg, sizeof(svg), "%s/ctl.svg", tmp_dir);
	/* dmabufctl in the build tree has dmabuf-run beside it: no DMABUF_RUN */
	unsetenv("DMABUF_RUN");
	st = run_prog(argv, out, sizeof(out));
	if (!ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "dmabufctl trace: exit status 0")) {
		diag("%s", out);
		return;
	}
	ok(strstr(out, "events from") && strstr(out, svg), "dmabufctl trace: says what it wrote");
	if (!ok(read_facts(facts, &f), "dmabufctl trace: the scenario said what it did"))
		return;
	check_raw(dir, &f, true, "dmabufctl trace");
	check_rendered(json, svg, &f, "dmabufctl trace");
}

int main(int argc, char **argv)
{
	ssize_t n;

	if (argc >= 3 && !strcmp(argv[1], "--scenario"))
		return scenario(argv[2], argc > 3 && !strcmp(argv[3], "--uapi"));
	if (argc < 4) {
		fprintf(stderr, "usage: test_trace DMABUF_RUN PYTHON SANITIZE [DMABUFCTL]\n");
		return 2;
	}
	run_path = argv[1];
	python = argv[2];
	sanitized = strcmp(argv[3], "none") != 0;
	ctl_path = argc > 4 ? argv[4] : NULL;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		bail_out("readlink /proc/self/exe: %s", strerror(errno));
	self[n] = '\0';
	if (!mkdtemp(tmp_dir))
		bail_out("mkdtemp: %s", strerror(errno));
	atexit(cleanup);
	/* a broker of our own, started by the library from $DMABUFD */
	private_broker_setup();
	unsetenv("DMABUF_TRACE_DIR");

	test_library();
	test_usage();
	if (sanitized) {
		skip("dmabufctl_trace(): the preload library runs in plain builds only");
	} else {
		test_trace_call();
		if (ctl_path)
			test_dmabufctl();
		else
			skip("dmabufctl trace: dmabufctl not built");
	}
	return tap_done();
}

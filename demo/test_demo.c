// SPDX-License-Identifier: MIT
/*
 * test_demo.c - runs dmabuf-demo with few frames and checks what it says and writes: clean
 * runs on the system and incoherent heaps (also under the coherency checker, which must report
 * nothing), runs with a fault injected (the demo's checks and the checker must catch it, and
 * the exit status must say so), the final frame against the frames it must hold, and the
 * in-process pipeline demo.
 *
 * Arguments: the dmabuf-demo and dmabuf-demo-pipeline programs.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo.h"
#include "tap.h"

#define FRAMES 30

static const char *demo, *pipeline;
static char tmp[64];

struct result {
	int status;	/* exit status, or 128 + signal */
	char *out;	/* stdout */
	char *err;	/* stderr */
	char dir[PATH_MAX];	/* --out */
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = (cap ? cap * 2 : 8192));

			if (!nb)
				bail_out("out of memory");
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Run @prog with @args (NULL-terminated, after argv[0]); its output into @res. */
static void run(struct result *res, const char *prog, const char *name, const char **args)
{
	char out_path[PATH_MAX], err_path[PATH_MAX], out_arg[PATH_MAX + 8];
	const char *argv[16];
	int n = 0, st, fd;
	pid_t pid;

	snprintf(res->dir, sizeof(res->dir), "%s/%s", tmp, name);
	snprintf(out_path, sizeof(out_path), "%s/%s.stdout", tmp, name);
	snprintf(err_path, sizeof(err_path), "%s/%s.stderr", tmp, name);
	snprintf(out_arg, sizeof(out_arg), "--out=%s", res->dir);
	argv[n++] = prog;
	if (prog == demo)
		argv[n++] = out_arg;
	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(126);
		fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execv(prog, (char **)argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			bail_out("waitpid: %s", strerror(errno));
	res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	res->out = slurp(out_path, NULL);
	res->err = slurp(err_path, NULL);
	if (!res->out || !res->err)
		bail_out("reading the output of %s", name);
}

static void show(const struct result *res)
{
	diag("stdout:\n%s", res->out);
	if (res->err[0])
		diag("stderr:\n%s", res->err);
}

static void done(struct result *res)
{
	free(res->out);
	free(res->err);
}

static bool has(const struct result *res, const char *s)
{
	return strstr(res->out, s) != NULL;
}

/* The summary line of client @id: "N rendered, N composed, N bad". */
static bool client_line(const struct result *res, unsigned int id, unsigned int rendered,
			unsigned int composed, unsigned int bad)
{
	char want[128];

	snprintf(want, sizeof(want), "  client %u    %u rendered, %u composed, %u bad;", id,
		 rendered, composed, bad);
	return has(res, want);
}

/* The final frame: the last frame of each client, side by side. */
static bool final_frame_ok(const struct result *res)
{
	static uint32_t frame[DEMO_BUF_SIZE / 4];
	char path[PATH_MAX + 16], hdr[32];
	const unsigned char *px;
	size_t len, hlen;
	char *ppm;
	bool ok = true;

	snprintf(path, sizeof(path), "%s/final.ppm", res->dir);
	ppm = slurp(path, &len);
	if (!ppm)
		return false;
	hlen = (size_t)snprintf(hdr, sizeof(hdr), "P6\n%d %d\n255\n", DEMO_OUT_WIDTH, DEMO_HEIGHT);
	if (len != hlen + (size_t)DEMO_OUT_WIDTH * DEMO_HEIGHT * 3 || memcmp(ppm, hdr, hlen)) {
		free(ppm);
		return false;
	}
	px = (const unsigned char *)ppm + hlen;
	for (uint32_t c = 0; c < DEMO_CLIENTS && ok; c++) {
		demo_render(c, FRAMES - 1, frame, false);
		for (uint32_t y = 0; y < DEMO_HEIGHT && ok; y++) {
			for (uint32_t x = 0; x < DEMO_WIDTH && ok; x++) {
				uint32_t p = frame[DEMO_HDR_SIZE / 4 + y * DEMO_WIDTH + x];
				const unsigned char *q =
					px + ((size_t)y * DEMO_OUT_WIDTH + c * DEMO_WIDTH + x) * 3;

				ok = q[0] == (unsigned char)(p >> 16) &&
				     q[1] == (unsigned char)(p >> 8) && q[2] == (unsigned char)p;
			}
		}
	}
	free(ppm);
	return ok;
}

static bool file_has(const struct result *res, const char *name, const char *s)
{
	char path[PATH_MAX + NAME_MAX];
	char *text;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", res->dir, name);
	text = slurp(path, NULL);
	ok = text && (!s || strstr(text, s));
	free(text);
	return ok;
}

/* What every run that must succeed shows. */
static void check_clean(struct result *res, const char *what)
{
	bool good = true;

	good &= is_int(res->status, 0, "%s: exit status 0", what);
	good &= ok(has(res, "OK: every frame arrived whole, in order, with a valid checksum"),
		   "%s: says every frame was good", what);
	for (unsigned int id = 0; id < DEMO_CLIENTS; id++)
		good &= ok(client_line(res, id, FRAMES, FRAMES, 0),
			   "%s: client %u: %d rendered, %d composed, 0 bad", what, id, FRAMES,
			   FRAMES);
	good &= ok(has(res, "    client 0  p50 ") && has(res, "    client 1  p50 "),
		   "%s: latency percentiles per client", what);
	good &= ok(has(res, "left after the run: 0 buffers, 0 sync_files, 0 timelines"),
		   "%s: the broker holds nothing after the run", what);
	good &= ok(final_frame_ok(res), "%s: final.ppm holds frame %d of each client", what,
		   FRAMES - 1);
	if (has(res, "no trace renderer")) {
		skip("%s: trace.json and timeline.svg: this build has no trace renderer", what);
	} else {
		good &= ok(file_has(res, "trace.json", "traceEvents"),
			   "%s: trace.json has traceEvents", what);
		good &= ok(file_has(res, "timeline.svg", "<svg"), "%s: timeline.svg is an SVG",
			   what);
	}
	if (!good)
		show(res);
}

static void test_default(void)
{
	const char *args[] = { "--frames=30", NULL };
	struct result res;

	run(&res, demo, "system", args);
	check_clean(&res, "system heap");
	ok(has(&res, "coherency   not checked"), "system heap: the checker was off");
	done(&res);
}

static void test_checked(const char *heap)
{
	char heap_arg[64], name[64], what[96];
	const char *args[] = { "--frames=30", heap_arg, "--check-coherency", NULL };
	struct result res;

	snprintf(heap_arg, sizeof(heap_arg), "--heap=%s", heap);
	snprintf(name, sizeof(name), "checked-%s", heap);
	snprintf(what, sizeof(what), "%s heap, checked", heap);
	run(&res, demo, name, args);
	check_clean(&res, what);
	if (!ok(has(&res, "coherency   checked in 3 processes: 0 violations"),
		"%s: the checker ran in the 3 roles and found nothing", what))
		show(&res);
	ok(file_has(&res, "coherency.jsonl", NULL) &&
	   !file_has(&res, "coherency.jsonl", "\"violation\""),
	   "%s: coherency.jsonl has no violation", what);
	ok(!strstr(res.err, "dmabuf-check"), "%s: the checker said nothing", what);
	done(&res);
}

static void test_fault_checksum(void)
{
	const char *args[] = { "--frames=30", "--fault=checksum", "--no-trace", NULL };
	struct result res;

	run(&res, demo, "fault-checksum", args);
	is_int(res.status, 1, "checksum fault: exit status 1");
	ok(client_line(&res, 0, FRAMES, FRAMES, 0) && client_line(&res, 1, FRAMES, FRAMES, 1),
	   "checksum fault: client 1 has the one bad frame");
	if (!ok(has(&res, "FAILED: 1 error(s); first: compositor: client 1 frame 5: torn"),
		"checksum fault: the frame is called torn"))
		show(&res);
	ok(has(&res, "trace       off"), "--no-trace: no trace");
	done(&res);
}

static void test_fault_no_sync(void)
{
	const char *args[] = {
		"--frames=10", "--heap=incoherent", "--fault=no-sync", "--check-coherency",
		"--no-trace", NULL,
	};
	struct result res;

	run(&res, demo, "fault-no-sync", args);
	is_int(res.status, 1, "reads without SYNC: exit status 1");
	/* the incoherent heap shows the compositor its stale CPU view, every time */
	if (!ok(client_line(&res, 0, 10, 10, 10) && client_line(&res, 1, 10, 10, 10),
		"reads without SYNC on the incoherent heap: every frame is bad"))
		show(&res);
	ok(has(&res, "no frame of this client in the buffer"), "...as the mapping is stale");
	ok(has(&res, "coherency   checked in 3 processes: ") && !has(&res, " 0 violations") &&
	   has(&res, "access-outside-bracket"),
	   "reads without SYNC: the checker reports access-outside-bracket");
	ok(file_has(&res, "coherency.jsonl", "\"kind\":\"access-outside-bracket\""),
	   "reads without SYNC: in coherency.jsonl");
	done(&res);
}

static void test_usage(void)
{
	const char *zero[] = { "--frames=0", NULL };
	const char *heap[] = { "--frames=2", "--heap=nosuchheap", "--no-trace", NULL };
	struct result res;

	run(&res, demo, "usage", zero);
	is_int(res.status, 2, "--frames=0: usage error, exit status 2");
	done(&res);
	run(&res, demo, "noheap", heap);
	is_int(res.status, 1, "an unknown heap: exit status 1");
	ok(has(&res, "FAILED:") && has(&res, "No such file or directory"),
	   "an unknown heap: says the allocation failed with ENOENT");
	done(&res);
}

static void test_pipeline(void)
{
	const char *args[] = { NULL };
	struct result res;

	run(&res, pipeline, "pipeline", args);
	is_int(res.status, 0, "dmabuf-demo-pipeline: exit status 0");
	ok(has(&res, "OK: every frame arrived complete and in order"),
	   "dmabuf-demo-pipeline: every frame good");
	done(&res);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		bail_out("usage: test_demo DMABUF-DEMO DMABUF-DEMO-PIPELINE");
	demo = argv[1];
	pipeline = argv[2];
	strcpy(tmp, "/tmp/dmabuf-demo-test-XXXXXX");
	if (!mkdtemp(tmp))
		bail_out("mkdtemp: %s", strerror(errno));
	test_default();
	test_checked("system");
	test_checked("incoherent");
	test_fault_checksum();
	test_fault_no_sync();
	test_usage();
	test_pipeline();
	nftw(tmp, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}

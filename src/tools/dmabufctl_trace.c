// SPDX-License-Identifier: MIT
/*
 * dmabufctl_trace.c - `dmabufctl trace`: run a command under `dmabuf-run --private` with
 * DMABUF_TRACE_DIR set, then render what it recorded (trace_render.h).
 *
 * dmabuf-run starts the private broker with our environment (less LD_PRELOAD), so the broker
 * records too; the command and every process it starts record through the preload library
 * or libdmabuf.  Nothing of dmabuf-run's is duplicated here: it is run as a program.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dmabufctl_trace.h"
#include "trace_render.h"

#define EXIT_USAGE	2
#define EXIT_FAILED	125
#define RUN_NAME	"dmabuf-run"

struct trace_opts {
	const char *out;
	const char *raw;	/* record into this directory, kept */
	const char *from;	/* render this directory, run nothing */
	char **cmd;		/* NULL-terminated, or NULL */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dmabufctl trace -o FILE [--raw=DIR] [--] COMMAND [ARG]...\n"
		"       dmabufctl trace -o FILE --from=DIR\n"
		"Run COMMAND with a private dmabufd (dmabuf-run --private), recording the\n"
		"dma-buf events of every process involved (the broker included), then write\n"
		"FILE, a Chrome trace to open in the Perfetto UI (https://ui.perfetto.dev) or\n"
		"chrome://tracing, and beside it an SVG timeline to open in a web browser: FILE\n"
		"with .json replaced by .svg, or FILE.svg.\n"
		"\n"
		"  -o, --output=FILE  the trace to write (JSON)\n"
		"  --raw=DIR          record into DIR (made if missing, kept afterwards) instead\n"
		"                     of a temporary directory: PID.jsonl per process, one JSON\n"
		"                     object per line\n"
		"  --from=DIR         run nothing: render DIR, recorded earlier by programs run\n"
		"                     with DMABUF_TRACE_DIR=DIR\n"
		"  -h, --help         show this help and exit\n"
		"\n"
		"Recorded: buffers (create, name, release), SYNC brackets, EXPORT and\n"
		"IMPORT_SYNC_FILE, fences added to buffers and when they signal, waits, software\n"
		"device jobs.\n"
		"Recording from a broker already running (no COMMAND) is not supported.\n"
		"\n"
		"Exit status: COMMAND's (128+N if a signal N killed it); 125 if no trace could\n"
		"be written; 2 for a usage error.\n");
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "dmabufctl trace: %s\nTry 'dmabufctl trace --help' for more information.\n",
		msg);
	return EXIT_USAGE;
}

/* 0 to go on, -1 when done (help), else the exit status. */
static int parse(int argc, char **argv, struct trace_opts *o)
{
	enum { OPT_RAW = 256, OPT_FROM };
	static const struct option longs[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "raw", required_argument, NULL, OPT_RAW },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;	/* a fresh scan: dmabufctl parsed its own options before */
	opterr = 1;
	while ((c = getopt_long(argc, argv, "+o:h", longs, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->out = optarg;
			break;
		case OPT_RAW:
			o->raw = optarg;
			break;
		case OPT_FROM:
			o->from = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			return usage_error("bad option");
		}
	}
	if (optind < argc)
		o->cmd = argv + optind;
	if (!o->out || !o->out[0])
		return usage_error("no output file given (-o FILE)");
	if (o->from && (o->cmd || o->raw))
		return usage_error("--from renders a recorded directory: no COMMAND, no --raw");
	if (!o->from && !o->cmd)
		return usage_error("no COMMAND given (recording from a broker already running is "
				   "not supported yet)");
	return 0;
}

/* FILE's .svg sibling, malloc'd. */
static char *svg_path(const char *out)
{
	size_t n = strlen(out);
	char *p = malloc(n + 5);

	if (!p)
		return NULL;
	memcpy(p, out, n + 1);
	if (n > 5 && !strcmp(out + n - 5, ".json"))
		strcpy(p + n - 5, ".svg");
	else
		strcpy(p + n, ".svg");
	return p;
}

/* dmabuf-run beside the running program into @out, if there is one there. */
static bool run_beside(char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return false;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = '\0';
	if (snprintf(out, len, "%s/" RUN_NAME, exe) >= (int)len)
		return false;
	return access(out, X_OK) == 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) && errno != ENOENT ? -1 : 0;
}

/* In the child: the environment, the caller's signals, then dmabuf-run. */
static void __attribute__((noreturn)) exec_run(const char *dir, char **cmd,
					       const sigset_t *mask)
{
	const char *env = getenv("DMABUF_RUN");
	char path[PATH_MAX];
	char **argv;
	size_t n;

	for (n = 0; cmd[n]; n++)
		;
	argv = calloc(n + 4, sizeof(*argv));
	if (!argv || setenv("DMABUF_TRACE_DIR", dir, 1)) {
		perror("dmabufctl trace");
		_exit(EXIT_FAILED);
	}
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	argv[0] = RUN_NAME;
	argv[1] = "--private";
	argv[2] = "--";
	memcpy(argv + 3, cmd, n * sizeof(*argv));
	if (env && env[0]) {
		execv(env, argv);
		fprintf(stderr, "dmabufctl trace: DMABUF_RUN=%s: %s\n", env, strerror(errno));
	} else if (run_beside(path, sizeof(path))) {
		execv(path, argv);
		fprintf(stderr, "dmabufctl trace: %s: %s\n", path, strerror(errno));
	} else {
		execvp(RUN_NAME, argv);
		fprintf(stderr, "dmabufctl trace: cannot run " RUN_NAME ": %s\n", strerror(errno));
	}
	_exit(errno == ENOENT ? 127 : 126);
}

/*
 * Run @cmd recording into @dir and wait for it: its exit status, or EXIT_FAILED.  ^C and ^\
 * of a terminal reach the command (and dmabuf-run, which passes them on); we outlive it to
 * write the trace, as system() does.
 */
static int run(const char *dir, char **cmd)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	sigset_t chld, mask;
	int st, ret;
	pid_t pid;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &mask);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	pid = fork();
	if (pid == 0)
		exec_run(dir, cmd, &mask);
	if (pid < 0) {
		fprintf(stderr, "dmabufctl trace: fork: %s\n", strerror(errno));
		ret = EXIT_FAILED;
		goto out;
	}
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "dmabufctl trace: waitpid: %s\n", strerror(errno));
			ret = EXIT_FAILED;
			goto out;
		}
	}
	ret = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
out:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	return ret;
}

/* The directory to record into: --raw's (made if needed), else a fresh one in *@tmp. */
static int record_dir(const struct trace_opts *o, char *dir, size_t len, bool *tmp)
{
	const char *base = getenv("TMPDIR");
	char cwd[PATH_MAX];

	*tmp = !o->raw;
	if (o->raw) {
		if (mkdir(o->raw, 0700) && errno != EEXIST) {
			fprintf(stderr, "dmabufctl trace: --raw=%s: %s\n", o->raw, strerror(errno));
			return -1;
		}
		/* absolute: the command may change directories */
		if (o->raw[0] == '/')
			snprintf(dir, len, "%s", o->raw);
		else if (!getcwd(cwd, sizeof(cwd)) ||
			 snprintf(dir, len, "%s/%s", cwd, o->raw) >= (int)len)
			return -1;
		return 0;
	}
	if (!base || base[0] != '/')
		base = "/tmp";
	if (snprintf(dir, len, "%s/dmabufctl-trace.XXXXXX", base) >= (int)len || !mkdtemp(dir)) {
		fprintf(stderr, "dmabufctl trace: cannot make a directory in %s: %s\n", base,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* Render @dir to @o->out and its .svg: 0, or EXIT_FAILED after a message. */
static int render(const struct trace_opts *o, const char *dir)
{
	struct dmabuf_trace_summary sum;
	char *svg = svg_path(o->out);
	int ret;

	if (!svg)
		return EXIT_FAILED;
	ret = dmabuf_trace_render_summary(dir, o->out, svg, &sum);
	if (ret == -ENODATA)
		fprintf(stderr, "dmabufctl trace: no event was recorded (did the command use "
			"dma-bufs?)\n");
	else if (ret)
		fprintf(stderr, "dmabufctl trace: cannot write the trace (%s, %s): %s\n", o->out,
			svg, strerror(-ret));
	else
		fprintf(stderr, "dmabufctl trace: %zu events from %zu processes (%zu threads) over "
			"%.3f ms: %s, %s\n", sum.events, sum.processes, sum.threads,
			(double)sum.duration_ns / 1e6, o->out, svg);
	if (!ret && sum.skipped)
		fprintf(stderr, "dmabufctl trace: %zu malformed lines skipped\n", sum.skipped);
	free(svg);
	return ret ? EXIT_FAILED : 0;
}

int dmabufctl_trace(int argc, char **argv)
{
	struct trace_opts o = { NULL };
	char dir[PATH_MAX];
	bool tmp;
	int ret, status;

	ret = parse(argc, argv, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (o.from)
		return render(&o, o.from);
	if (record_dir(&o, dir, sizeof(dir), &tmp))
		return EXIT_FAILED;
	fflush(NULL);
	status = run(dir, o.cmd);
	ret = render(&o, dir);
	if (tmp && nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
		fprintf(stderr, "dmabufctl trace: warning: cannot remove %s: %s\n", dir,
			strerror(errno));
	return ret ? ret : status;
}

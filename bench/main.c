// SPDX-License-Identifier: MIT
/*
 * main.c - dmabuf-bench: options, machine description, and the run order.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dmabuf-bench [--quick] [--json] [--filter TEXT] [--reps N]\n"
		"  --quick        short batches (a smoke run, numbers are rough)\n"
		"  --json         print the results as JSON instead of tables\n"
		"  --filter TEXT  only run benchmarks whose name contains TEXT\n"
		"                 (floors always run)\n"
		"  --reps N       timed batches per benchmark (default 31, min 3)\n");
}

static int parse_args(int argc, char **argv)
{
	return bench_parse_args(argc, argv, NULL, usage);
}

/* The "model name" line of /proc/cpuinfo, or "unknown". */
static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) || !colon)
			continue;
		colon += 1 + (colon[1] == ' ');
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(buf, len, "%s", colon);
		break;
	}
	fclose(f);
}

/* The 1-minute load average, or -1: a busy machine makes timings noisy. */
static double load_average(void)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double load = -1;

	if (f) {
		if (fscanf(f, "%lf", &load) != 1)
			load = -1;
		fclose(f);
	}
	return load;
}

/* One line describing the machine, the compiler and the date. */
static void describe_machine(char *buf, size_t len)
{
	char model[128], date[64];
	struct utsname u;
	time_t now = time(NULL);

	cpu_model(model, sizeof(model));
	if (uname(&u))
		memset(&u, 0, sizeof(u));
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M %Z", localtime(&now));
	snprintf(buf, len,
		 "%s, %ld online CPUs, %s %s %s, cc %s, %s, load average %.2f",
		 model, sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release,
		 u.machine, __VERSION__, date, load_average());
}

static void print_machine(const char *machine)
{
	printf("dmabuf-bench: %s\n", machine);
#ifdef __OPTIMIZE__
	printf("built optimized; ");
#else
	printf("built WITHOUT optimization (numbers are not meaningful); ");
#endif
	printf("median of %u batches of ~%.1f ms each, after calibration and "
	       "one warm-up batch%s\n\n",
	       bench_opts.reps, (double)bench_opts.batch_ns / 1e6,
	       bench_opts.quick ? " (--quick)" : "");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int64_t t0 = bench_now_ns();
	char machine[1024];
	int missed;

	if (parse_args(argc, argv))
		return 2;
	/*
	 * Keep freed heap memory in the process, as a long-running program's
	 * heap is: otherwise batches that build objects in their setup and
	 * free them after would also time the page faults of memory that
	 * glibc handed back to the kernel in between.
	 */
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_TOP_PAD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	describe_machine(machine, sizeof(machine));
	bench_opts.machine = machine;
	if (!bench_opts.json)
		print_machine(machine);
	bench_run_floors();
	bench_run_fence();
	bench_run_ww_mutex();
	bench_run_resv();
	bench_run_merge();
	bench_run_memory();
	bench_run_broker();
	missed = bench_print();
	if (!bench_opts.json)
		printf("\n%d goal(s) missed; total run time %.1f s\n", missed,
		       (double)(bench_now_ns() - t0) / 1e9);
	return 0;
}

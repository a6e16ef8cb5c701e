/* SPDX-License-Identifier: MIT */
/*
 * checked_run.h - run this test program again, as "--check-child", with the coherency checker
 * on (DMABUF_CHECK_COHERENCY=report, reports to a file), and read what it reported; header only.
 */
#ifndef DMABUF_TESTS_CHECKED_RUN_H
#define DMABUF_TESTS_CHECKED_RUN_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

/*
 * Run "/proc/self/exe --check-child" (named @argv0, stderr to /dev/null) with its JSON Lines
 * report in @report, wait for it, and read the report into @text (@cap bytes, NUL-terminated;
 * the file is removed).  Returns the child's wait status.
 */
static int checked_run(const char *argv0, const char *report, char *text, size_t cap)
{
	int st = -1, f;
	ssize_t n;
	pid_t pid;

	unlink(report);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork");
	if (pid == 0) {
		f = open("/dev/null", O_WRONLY);
		dup2(f, 2);
		setenv("DMABUF_CHECK_COHERENCY", "report", 1);
		setenv("DMABUF_CHECK_REPORT", report, 1);
		execl("/proc/self/exe", argv0, "--check-child", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	f = open(report, O_RDONLY | O_CLOEXEC);
	n = f < 0 ? -1 : read(f, text, cap - 1);
	if (f >= 0)
		close(f);
	unlink(report);
	text[n > 0 ? n : 0] = '\0';
	return st;
}

#endif /* DMABUF_TESTS_CHECKED_RUN_H */

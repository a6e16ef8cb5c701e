/* SPDX-License-Identifier: MIT */
/*
 * app_tap.h - the few lines of TAP the apps print (they use nothing of libdmabuf, not even
 * tests/tap.h: they are programs as a user writes them, plus a verdict per check).
 */
#ifndef APP_TAP_H
#define APP_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_bad;

/* One test point: "ok N - what" when @cond holds, else "not ok N - what".  Returns @cond. */
static inline int check(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	tap_bad += !cond;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

/* The plan, after the points; the exit status. */
static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_bad ? 1 : 0;
}

#endif /* APP_TAP_H */

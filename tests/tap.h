/* SPDX-License-Identifier: MIT */
/*
 * tap.h - a tiny Test Anything Protocol emitter for the test programs.
 *
 * ok(cond, name, ...) prints "ok N - name" or "not ok N - name" and
 * returns cond; is_int()/is_str() also print what differed.  Call
 * tap_done() at the end: it prints the plan and returns the exit status.
 */
#ifndef DMABUF_TAP_H
#define DMABUF_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count;
static int tap_failed;

static inline bool tap_vok(bool cond, const char *fmt, va_list ap)
{
	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

static inline bool __attribute__((format(printf, 2, 3)))
ok(bool cond, const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = tap_vok(cond, fmt, ap);
	va_end(ap);
	return r;
}

/* A point that cannot be checked here: counted as passed, marked "# SKIP <why>". */
static inline void __attribute__((format(printf, 1, 2))) skip(const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	printf("ok %d - # SKIP ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline bool __attribute__((format(printf, 3, 4)))
tap_is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = tap_vok(got == want, fmt, ap);
	va_end(ap);
	if (!r)
		printf("#   got %lld, want %lld\n", got, want);
	return r;
}

static inline bool __attribute__((format(printf, 3, 4)))
tap_is_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = tap_vok(got && want && !strcmp(got, want), fmt, ap);
	va_end(ap);
	if (!r)
		printf("#   got '%s', want '%s'\n", got ? got : "(null)",
		       want ? want : "(null)");
	return r;
}

#define is_int(got, want, ...) tap_is_int((long long)(got), (long long)(want), __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str((got), (want), __VA_ARGS__)

/* Print a diagnostic line. */
#define diag(...) (printf("# " __VA_ARGS__), printf("\n"))

/* Abort the whole test program with a Bail out! line. */
#define bail_out(...) \
	do { printf("Bail out! " __VA_ARGS__); printf("\n"); exit(1); } while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif /* DMABUF_TAP_H */

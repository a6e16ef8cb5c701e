/* SPDX-License-Identifier: MIT */
/*
 * check_internal.h - the coherency checker's parts: buffer state (check.c), the fault handler
 * (check_fault.c), the reports (check_report.c); not installed.
 *
 * Everything here runs under the mapping table's lock (maps.h), the fault handler included:
 * the lock is recursive per thread, and a fault on a dma-buf mapping is synchronous.  The
 * handler neither allocates nor calls stdio: it reads the tables, formats into fixed buffers
 * and writes with write(2).
 */
#ifndef DMABUF_CLIENT_CHECK_INTERNAL_H
#define DMABUF_CLIENT_CHECK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend.h"
#include "check.h"

/* The open STARTs of a buffer remembered one by one; deeper ones count as RW. */
#define CHECK_STACK_MAX	8
/* Frames of the START that opened a bracket, kept for unbalanced-at-exit. */
#define CHECK_OPEN_FRAMES	16
/* Frames in a report. */
#define CHECK_FRAMES	32

/* The SYNC direction bits (DMA_BUF_SYNC_READ, _WRITE) and END. */
#define CHECK_READ	1U
#define CHECK_WRITE	2U
#define CHECK_RW	3U
#define CHECK_END	4U

enum check_kind {
	CHECK_ACCESS_OUTSIDE,
	CHECK_WRITE_IN_READ,
	CHECK_FENCE_PENDING,
	CHECK_END_WITHOUT_START,
	CHECK_DIRECTION_MISMATCH,
	CHECK_NESTED_START,
	CHECK_UNBALANCED,
	CHECK_NKINDS
};

/* What a faulting access was. */
enum check_access {
	CHECK_ACC_NONE,		/* not an access (a bracket error) */
	CHECK_ACC_READ,
	CHECK_ACC_WRITE,
	CHECK_ACC_UNKNOWN,	/* the architecture does not say */
};

/**
 * struct check_buf - what the checker knows of one buffer of the process.
 * @next: the hash chain.
 * @dev: st_dev.
 * @ino: st_ino.
 * @desc: what reports say of it, when @have_desc.
 * @have_desc: @desc was learnt.
 * @probe: how to ask for its fences, when @have_probe.
 * @have_probe: @probe was prepared.
 * @depth: STARTs open.
 * @open: their directions (CHECK_READ, CHECK_WRITE bits), the first one first.
 * @inherited: how many of the open STARTs a forked child got from its parent.
 * @touched: the process had it mapped since the last time no bracket was open.
 * @reported: bracket kinds already reported on it (bit per enum check_kind).
 * @open_frames: where the first open START was made (@n_open_frames of them).
 * @n_open_frames: see @open_frames.
 */
struct check_buf {
	struct check_buf *next;
	dev_t dev;
	ino_t ino;
	struct dmabuf_fd_buf_desc desc;
	bool have_desc;
	struct dmabuf_fd_probe probe;
	bool have_probe;
	unsigned int depth;
	uint8_t open[CHECK_STACK_MAX];
	unsigned int inherited;
	bool touched;
	unsigned int reported;
	void *open_frames[CHECK_OPEN_FRAMES];
	int n_open_frames;
};

/**
 * struct check_violation - one report.
 * @kind: what.
 * @buf: the buffer (NULL if unknown).
 * @access: read or write, for the access kinds.
 * @offset: where in the buffer, when @has_offset.
 * @has_offset: see @offset.
 * @bracket: the bracket open (CHECK_READ, CHECK_WRITE bits; 0: none).
 * @sync: the SYNC flags (START or END with directions), or -1.
 * @frames: the backtrace, innermost first.
 * @n_frames: its length.
 */
struct check_violation {
	enum check_kind kind;
	const struct check_buf *buf;
	enum check_access access;
	uint64_t offset;
	bool has_offset;
	unsigned int bracket;
	int sync;
	void *const *frames;
	int n_frames;
};

/* ---- check.c ---- */

/* Locked: the state of buffer (@dev, @ino), or NULL. */
struct check_buf *check_buf_find(dev_t dev, ino_t ino);

/* The directions of the brackets open on @b (0: none). */
unsigned int check_bracket(const struct check_buf *b);

/* ---- check_fault.c ---- */

/* Install the SIGSEGV handler (once; the first mapping does it). */
void check_fault_install(void);

/* In a fork child: accesses are reported anew. */
void check_fault_forked(void);

/* ---- check_report.c ---- */

/* Once, at load with the checker on: the program's name, the report file. */
void check_report_init(const char *report_file);

/*
 * Locked: report @v (text on stderr, JSON to the report file) and count it.  In abort
 * mode, the summary follows and the process aborts.
 */
void check_report(const struct check_violation *v);

/* Call backtrace() once, outside of any signal handler: its first call loads the unwinder. */
void check_backtrace_prime(void);

/* The backtrace of the caller into @frames (@max), without the frames of this library. */
int check_backtrace_here(void **frames, int max);

/* The backtrace of a fault at @pc, from its handler, into @frames (@max). */
int check_backtrace_fault(uintptr_t pc, void **frames, int max);

/* Locked: the summary (stderr when there were violations, the report file when set). */
void check_report_summary(void);

/* In a fork child: the counts start again. */
void check_report_forked(void);

#endif /* DMABUF_CLIENT_CHECK_INTERNAL_H */

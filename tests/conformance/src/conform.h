/* SPDX-License-Identifier: MIT */
/* conform.h - harness and uAPI helpers of the dma-buf conformance suite. */
#ifndef CONFORM_H
#define CONFORM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/sync_file.h>
#include <linux/types.h>
#include <linux/udmabuf.h>

/*
 * ABI that the installed uAPI headers may lack: the sw_sync test driver's private ioctls and
 * SYNC_IOC_SET_DEADLINE (Linux 6.4+).  Written from the documented layouts.
 */
struct conform_sw_sync_create_fence {
	__u32 value;
	char name[32];
	__s32 fence;
};

struct conform_sw_sync_get_deadline {
	__u64 deadline_ns;
	__u32 pad;
	__s32 fence_fd;
};

struct conform_sync_set_deadline {
	__u64 deadline_ns;
	__u64 pad;
};

#define CONFORM_SW_SYNC_CREATE_FENCE _IOWR('W', 0, struct conform_sw_sync_create_fence)
#define CONFORM_SW_SYNC_INC _IOW('W', 1, __u32)
#define CONFORM_SW_SYNC_GET_DEADLINE _IOWR('W', 2, struct conform_sw_sync_get_deadline)
#define CONFORM_SYNC_SET_DEADLINE _IOW('>', 5, struct conform_sync_set_deadline)

/* legacy Android sync ioctls (removed from mainline): libsync probes them first */
#define CONFORM_LEGACY_SYNC_1 0xc0283e01UL
#define CONFORM_LEGACY_SYNC_2 0xc0283e02UL
#define CONFORM_LEGACY_SYNC_WAIT _IOW('>', 0, __s32)

/* the proposed DMA_BUF_IOCTL_INFO: same nr as EXPORT_SYNC_FILE, another size */
struct conform_dma_buf_info {
	__u32 param;
	__u32 pad;
	__u64 value;
};

#define CONFORM_DMA_BUF_IOCTL_INFO _IOWR('b', 2, struct conform_dma_buf_info)

#define PAGE 4096UL
#define BUF_SIZE (4 * PAGE)

/* ---- cases and output (harness.c) ---- */

/* Start a case; the name is printf-formatted and must be unique in the run. */
void case_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Append one space-separated item to the current case's result. */
void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The result SEMANTICS.md states for this case, if it states one. */
void expect(const char *result);
/* The case could not run as designed (a setup step failed): TAP "not ok". */
void case_broken(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the CASE line and the TAP line. */
void case_end(void);
/* case_begin + out(result) + case_end */
void one(const char *name, const char *result);
void one_expect(const char *name, const char *result, const char *spec);

/* "ok" when r >= 0, else the name of errno.  Call right after the syscall. */
const char *res(long r);
/* the value when r >= 0, else the name of errno */
const char *val(long r);
/* "fd" when r >= 0 (a new descriptor), else the name of errno */
const char *fdres(long r);
const char *errname(int e);
/* 1, 2, ...: the order in which fence context @ctx first appeared in this case */
unsigned int ctx_label(unsigned long long ctx);

/* the group filter: non-zero when group @g was asked for on the command line */
int group_enabled(const char *g);

/* fork with stdout flushed; the child must leave with _exit() */
pid_t conform_fork(void);
/* wait for a child; returns "exit=N" or "signal=N" (static) */
const char *wait_child(pid_t pid);

/* ---- uAPI helpers (uapi.c) ---- */

/* the system heap device (opened once, kept) */
int heap_dev(void);
/* the udmabuf device (opened once, kept) */
int udmabuf_dev(void);
/* a buffer from the system heap; -errno on failure */
int heap_buf(size_t len, unsigned int fd_flags);
/* a sealed memfd of @size bytes (F_SEAL_SHRINK), -errno on failure */
int sealed_memfd(size_t size);
/* a udmabuf over a fresh sealed memfd; the memfd is returned in *memfd if asked */
int udmabuf_buf(size_t size, int *memfd);

struct exporter {
	const char *name; /* heap, udmabuf */
	int (*make)(size_t size);
};

extern const struct exporter exporters[];
extern const unsigned int n_exporters;

/* a new sw_sync timeline (debugfs, then /dev/sw_sync); -errno on failure */
int tl_open(void);
/* a sync_file for point @value of timeline @tl; -errno on failure */
int tl_fence(int tl, unsigned int value);
/* advance timeline @tl by @n; 0 or -errno */
int tl_inc(int tl, unsigned int n);
/* a pending fence on a fresh timeline; the timeline fd in *tl */
int pending_fence(int *tl);

/*
 * CPU access brackets: DMA_BUF_IOCTL_SYNC START (cpu_begin) or END (cpu_end) with @dir
 * (DMA_BUF_SYNC_READ, _WRITE, _RW) around every read and write of a mapping, as the uAPI
 * asks of programs (the coherency checker holds the suite to it).  Results are not printed.
 */
void cpu_begin(int buf, unsigned int dir);
void cpu_end(int buf, unsigned int dir);

/* import @sync_fd into @buf with @flags; 0 or -errno */
int import_fence(int buf, int sync_fd, unsigned int flags);
/* export the fences of @buf with @flags; a sync_file fd or -errno */
int export_fence(int buf, unsigned int flags);

/* append "info{...}" describing sync_file @fd (FILE_INFO, both calls), normalized */
void out_info(const char *label, int fd);
/* append the fence count and aggregate status only */
void out_info_short(const char *label, int fd);
/* poll @fd once with timeout 0; "IN", "IN|OUT", "0", or an errno name */
const char *poll_str(int fd, short events);
/* the value of field @key in /proc/self/fdinfo/@fd, or NULL */
const char *fdinfo_field(int fd, const char *key);
/* the dma-buf fields of fdinfo: size count exp_name name */
void out_fdinfo(int fd);
/* the file type of @mode: "reg", "chr", ..., "none" for an anonymous inode's 0 */
const char *file_type(mode_t mode);
/* fstat of @fd as "type=... perm=... size=...", or the errno name */
void out_fstat(int fd);
/* O_ACCMODE and FD_CLOEXEC of @fd as "rw/cloexec" */
const char *fd_mode(int fd);

/* an ioctl request the fd under test does not know */
struct ioctl_req {
	const char *name;
	unsigned long req;
};

/* one case "<prefix>.<name>" per request: ioctl on @fd with a zeroed argument, expect ENOTTY */
void enotty_cases(const char *prefix, int fd, const struct ioctl_req *v, size_t n);

/* a descriptor number that is not open */
int closed_fd(void);
/* close if >= 0 */
void xclose(int fd);

/* ---- groups ---- */
void t_abi(void);
void t_heap(void);
void t_udmabuf(void);
void t_dmabuf(void);
void t_implicit(void);
void t_sync_file(void);
void t_merge(void);
void t_sw_sync(void);
void t_wait(void);
void t_process(void);

/* exec'ed helper mode (t_process.c) */
int process_helper(int argc, char **argv);

#endif

// SPDX-License-Identifier: MIT
/*
 * trace.c - the event recorder (trace.h): DMABUF_TRACE_DIR/<pid>.jsonl, one line per event.
 *
 * The file is opened at the first event of a process and kept open, as a descriptor above
 * the ones programs count on (so that "the lowest free descriptor" stays what it was).  A
 * fork() child closes the parent's and opens its own at its first event; exec opens anew (the
 * descriptor is close-on-exec).  open, write and fcntl are made as system calls, around the
 * preload library's wrappers: the recorder's file is nothing it has to know about.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "trace.h"

#define TRACE_ENV	"DMABUF_TRACE_DIR"
#define PRELOAD_NAME	"libdmabuf-preload.so"
/* where the descriptor goes, if the limit allows */
#define TRACE_FD_MIN	768
/* room kept for the closing "}\n" */
#define TAIL		2

/* DMA_BUF_SYNC_READ / WRITE, as in <linux/dma-buf.h> */
#define SYNC_READ	1U
#define SYNC_WRITE	2U

bool dmabuf_trace_enabled;
bool dmabuf_trace_preloaded;

static char trace_dir[PATH_MAX];
static _Atomic int trace_fd = -1;
static pid_t trace_pid;
/* ,"pid":P and ,"proc":"comm" of the open file's process */
static char pid_field[32];
static char proc_field[112];
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
/* the file could not be opened: nothing more is tried (under open_lock) */
static bool trace_broken;

static long sys_write(int fd, const void *buf, size_t len)
{
	return syscall(SYS_write, fd, buf, len);
}

static void warn(const char *what, int err)
{
	char msg[PATH_MAX + 160];
	int n;

	n = snprintf(msg, sizeof(msg), "libdmabuf: %s=%s: %s: %s; not tracing\n", TRACE_ENV,
		     trace_dir, what, strerror(err));
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	sys_write(STDERR_FILENO, msg, (size_t)n);
}

int64_t dmabuf_trace_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- JSON ---- */

/* Length of the valid UTF-8 sequence at @s (@n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, past U+10FFFF */
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return len;
}

/*
 * @s as the body of a JSON string into @out (@cap bytes, @cap > 0): quotes, backslashes and
 * control characters escaped, bytes that are not UTF-8 as \u00XX (read as Latin-1).  The
 * length written, or -1 if it does not fit.
 */
static long json_escape(char *out, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), o = 0, k;

	while (n) {
		k = utf8_len(p, n);
		if (k == 1 && (*p == '"' || *p == '\\')) {
			if (o + 2 > cap)
				return -1;
			out[o++] = '\\';
			out[o++] = (char)*p;
		} else if (k == 0 || *p < 0x20) {
			if (o + 6 > cap)
				return -1;
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[*p >> 4];
			out[o + 5] = hex[*p & 15];
			o += 6;
			k = 1;
		} else {
			if (o + k > cap)
				return -1;
			memcpy(out + o, p, k);
			o += k;
		}
		p += k;
		n -= k;
	}
	return (long)o;
}

/* ---- the file ---- */

/* Our descriptor, moved up out of the way if it can be. */
static int fd_high(int fd)
{
	long hi = syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, TRACE_FD_MIN);

	if (hi < 0)
		return fd;
	syscall(SYS_close, fd);
	return (int)hi;
}

/* The process's name (its main thread's; not the calling thread's) into @comm[17]. */
static void proc_name(char *comm)
{
	long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/comm", O_RDONLY | O_CLOEXEC), n = -1;

	if (fd >= 0) {
		n = syscall(SYS_read, fd, comm, 16);
		syscall(SYS_close, fd);
	}
	if (n <= 0) {
		prctl(PR_GET_NAME, comm);
		n = 16;
	}
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
}

/* Open this process's file if it is not open yet: its descriptor, or -1. */
static int trace_open(void)
{
	char path[PATH_MAX + 32], comm[17] = "", esc[96];
	int fd = atomic_load_explicit(&trace_fd, memory_order_acquire);
	long n;

	if (fd >= 0)
		return fd;
	pthread_mutex_lock(&open_lock);
	fd = atomic_load_explicit(&trace_fd, memory_order_relaxed);
	if (fd >= 0 || trace_broken)
		goto out;
	trace_pid = getpid();
	snprintf(path, sizeof(path), "%s/%d.jsonl", trace_dir, (int)trace_pid);
	n = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (n < 0) {
		warn(path, errno);
		trace_broken = true;
		goto out;
	}
	fd = fd_high((int)n);
	proc_name(comm);
	n = json_escape(esc, sizeof(esc) - 1, comm);
	esc[n < 0 ? 0 : n] = '\0';
	snprintf(pid_field, sizeof(pid_field), ",\"pid\":%d", (int)trace_pid);
	snprintf(proc_field, sizeof(proc_field), ",\"proc\":\"%s\"", esc);
	atomic_store_explicit(&trace_fd, fd, memory_order_release);
out:
	pthread_mutex_unlock(&open_lock);
	return fd;
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&open_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&open_lock);
}

/* The child records into a file of its own, opened at its first event. */
static void fork_child(void)
{
	int fd = atomic_exchange(&trace_fd, -1);

	if (fd >= 0)
		syscall(SYS_close, fd);
	pthread_mutex_init(&open_lock, NULL);
}

static void __attribute__((constructor)) trace_init(void)
{
	const char *dir = getenv(TRACE_ENV), *pre = getenv("LD_PRELOAD");
	int n;

	if (pre && strstr(pre, PRELOAD_NAME))
		dmabuf_trace_preloaded = true;
	if (!dir || !dir[0])
		return;
	if (dir[0] == '/') {
		n = snprintf(trace_dir, sizeof(trace_dir), "%s", dir);
	} else {
		/* the program may change directories: keep it absolute */
		if (!getcwd(trace_dir, sizeof(trace_dir) - 1))
			return;
		n = (int)strlen(trace_dir);
		n += snprintf(trace_dir + n, sizeof(trace_dir) - (size_t)n, "/%s", dir);
	}
	if (n < 0 || (size_t)n >= sizeof(trace_dir))
		return;
	if (pthread_atfork(fork_prepare, fork_parent, fork_child))
		return;
	dmabuf_trace_enabled = true;
}

/* ---- events ---- */

static void append(struct dmabuf_trace_ev *e, const char *s, size_t n)
{
	memcpy(e->buf + e->len, s, n);
	e->len += n;
}

/* Room for @n more bytes before the tail. */
static bool room(const struct dmabuf_trace_ev *e, size_t n)
{
	return e->len + n + TAIL <= sizeof(e->buf);
}

bool dmabuf_trace_begin(struct dmabuf_trace_ev *e, const char *name, int64_t ts_ns)
{
	int n;

	e->len = 0;
	if (!dmabuf_trace_enabled || trace_open() < 0)
		return false;
	n = snprintf(e->buf, sizeof(e->buf) - TAIL, "{\"ts\":%lld%s,\"tid\":%ld%s",
		     (long long)(ts_ns < 0 ? dmabuf_trace_now() : ts_ns), pid_field,
		     (long)syscall(SYS_gettid), proc_field);
	if (n < 0 || (size_t)n >= sizeof(e->buf) - TAIL)
		return false;
	e->len = (size_t)n;
	dmabuf_trace_str(e, "ev", name);
	return true;
}

/* ,"key": */
static bool key(struct dmabuf_trace_ev *e, const char *k, size_t more)
{
	size_t n = strlen(k);

	if (!room(e, n + 4 + more))
		return false;
	append(e, ",\"", 2);
	append(e, k, n);
	append(e, "\":", 2);
	return true;
}

void dmabuf_trace_str(struct dmabuf_trace_ev *e, const char *k, const char *val)
{
	size_t start = e->len;
	long n;

	if (!key(e, k, 2))
		return;
	append(e, "\"", 1);
	n = json_escape(e->buf + e->len, sizeof(e->buf) - TAIL - 1 - e->len, val ? val : "");
	if (n < 0) {
		e->len = start;		/* leave the field out */
		return;
	}
	e->len += (size_t)n;
	append(e, "\"", 1);
}

void dmabuf_trace_int(struct dmabuf_trace_ev *e, const char *k, int64_t val)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", (long long)val);

	if (key(e, k, (size_t)n))
		append(e, num, (size_t)n);
}

void dmabuf_trace_uint(struct dmabuf_trace_ev *e, const char *k, uint64_t val)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)val);

	if (key(e, k, (size_t)n))
		append(e, num, (size_t)n);
}

void dmabuf_trace_end(struct dmabuf_trace_ev *e)
{
	int fd = atomic_load_explicit(&trace_fd, memory_order_acquire);
	long n;

	if (!e->len || fd < 0)
		return;
	append(e, "}\n", 2);
	/* a regular file: one write takes the whole line, or fails */
	do
		n = sys_write(fd, e->buf, e->len);
	while (n < 0 && errno == EINTR);
}

/* ---- helpers ---- */

uint64_t dmabuf_trace_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (uint64_t)st.st_ino;
}

const char *dmabuf_trace_rw(uint64_t flags)
{
	switch (flags & (SYNC_READ | SYNC_WRITE)) {
	case SYNC_READ:
		return "READ";
	case SYNC_WRITE:
		return "WRITE";
	case SYNC_READ | SYNC_WRITE:
		return "RW";
	default:
		return "";
	}
}

void dmabuf_trace_sync(int fd, const struct stat *st, uint64_t flags)
{
	struct dmabuf_trace_ev e;
	/* DMA_BUF_SYNC_END */
	const char *ev = (flags & 4) ? "sync_end" : "sync_start";

	if (!dmabuf_trace_begin(&e, ev, -1))
		return;
	dmabuf_trace_uint(&e, "buf", st ? (uint64_t)st->st_ino : dmabuf_trace_ino(fd));
	dmabuf_trace_str(&e, "flags", dmabuf_trace_rw(flags));
	dmabuf_trace_end(&e);
}

static void sync_file_event(const char *ev, int fd, unsigned int flags, int sf)
{
	struct dmabuf_trace_ev e;

	if (!dmabuf_trace_begin(&e, ev, -1))
		return;
	dmabuf_trace_uint(&e, "buf", dmabuf_trace_ino(fd));
	dmabuf_trace_str(&e, "flags", dmabuf_trace_rw(flags));
	dmabuf_trace_uint(&e, "sf", dmabuf_trace_ino(sf));
	dmabuf_trace_end(&e);
}

void dmabuf_trace_export(int fd, unsigned int flags, int sf)
{
	sync_file_event("export", fd, flags, sf);
}

void dmabuf_trace_import(int fd, unsigned int flags, int sf)
{
	sync_file_event("import", fd, flags, sf);
}

void dmabuf_trace_wait(const char *ev, const char *what, uint64_t id, const char *events,
		       int result)
{
	struct dmabuf_trace_ev e;

	if (!dmabuf_trace_begin(&e, ev, -1))
		return;
	dmabuf_trace_str(&e, "what", what);
	dmabuf_trace_uint(&e, "id", id);
	dmabuf_trace_str(&e, "events", events);
	if (!strcmp(ev, "wait_end"))
		dmabuf_trace_int(&e, "result", result);
	dmabuf_trace_end(&e);
}

void dmabuf_trace_attach(const char *ev, uint64_t buf, const char *dev)
{
	struct dmabuf_trace_ev e;

	if (!dmabuf_trace_begin(&e, ev, -1))
		return;
	dmabuf_trace_uint(&e, "buf", buf);
	dmabuf_trace_str(&e, "dev", dev);
	dmabuf_trace_end(&e);
}

void dmabuf_trace_job(const char *ev, const char *dev, uint64_t job, uint64_t sf)
{
	struct dmabuf_trace_ev e;

	if (!dmabuf_trace_begin(&e, ev, -1))
		return;
	dmabuf_trace_str(&e, "dev", dev);
	dmabuf_trace_uint(&e, "job", job);
	dmabuf_trace_uint(&e, "sf", sf);
	dmabuf_trace_end(&e);
}

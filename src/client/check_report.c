// SPDX-License-Identifier: MIT
/*
 * check_report.c - the coherency checker's reports: a block of text on stderr per violation,
 * a JSON line per violation in the report file (DMABUF_CHECK_REPORT), a summary at exit.
 *
 * Reports are made from the SIGSEGV handler too, so this file does not allocate and does not
 * use stdio: it formats into fixed buffers (the mapping table's lock serializes the reports of
 * the process) and writes each record with one write(2) system call (not the libc name: in
 * the preload library that is our own wrapper).  The report file is opened for each record,
 * O_APPEND: processes that share it append whole lines, and a program that closes or reuses
 * descriptor numbers cannot make us write into its files.  backtrace() is called once before
 * the fault handler is installed, since its first call loads the unwinder.
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check_internal.h"

#define TEXT_MAX	(32 * 1024)
#define JSON_MAX	(48 * 1024)
/* What a frame prints of a path or a symbol at most. */
#define NAME_MAX_PRINT	512

/* A buffer being filled; what does not fit is dropped. */
struct out {
	char *buf;
	size_t len;
	size_t cap;
};

static const char *const kind_names[CHECK_NKINDS] = {
	[CHECK_ACCESS_OUTSIDE] = "access-outside-bracket",
	[CHECK_WRITE_IN_READ] = "write-in-read-bracket",
	[CHECK_FENCE_PENDING] = "access-while-fence-pending",
	[CHECK_END_WITHOUT_START] = "end-without-start",
	[CHECK_DIRECTION_MISMATCH] = "direction-mismatch",
	[CHECK_NESTED_START] = "nested-start",
	[CHECK_UNBALANCED] = "unbalanced-at-exit",
};

static const char *const dir_names[4] = { "none", "READ", "WRITE", "RW" };

static char program[PATH_MAX];
static char report_path[PATH_MAX];
static const void *main_base;	/* the program's ELF image, as dladdr() names it */
static const void *self_base;	/* ours */
static unsigned int counts[CHECK_NKINDS];
static unsigned int total;
static char text[TEXT_MAX];
static char json[JSON_MAX];

/* ---- output without stdio ---- */

static void put_mem(struct out *o, const char *s, size_t n)
{
	if (n > o->cap - o->len)
		n = o->cap - o->len;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put(struct out *o, const char *s)
{
	put_mem(o, s, strlen(s));
}

static void put_uint(struct out *o, uint64_t v)
{
	char d[24];
	int i = (int)sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put_mem(o, d + i, sizeof(d) - (size_t)i);
}

static void put_hex(struct out *o, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char d[24];
	int i = (int)sizeof(d);

	do {
		d[--i] = digits[v & 15];
		v >>= 4;
	} while (v);
	d[--i] = 'x';
	d[--i] = '0';
	put_mem(o, d + i, sizeof(d) - (size_t)i);
}

/* @s in double quotes, escaped as JSON strings are (at most @max bytes of it). */
static void put_quoted(struct out *o, const char *s, size_t max)
{
	static const char digits[] = "0123456789abcdef";
	char esc[7] = "\\u00";
	unsigned char c;
	size_t i;

	put(o, "\"");
	for (i = 0; s[i] && i < max; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			put_mem(o, "\\", 1);
			put_mem(o, (const char *)&c, 1);
		} else if (c < 0x20 || c == 0x7f) {
			esc[4] = digits[c >> 4];
			esc[5] = digits[c & 15];
			put_mem(o, esc, 6);
		} else {
			put_mem(o, (const char *)&c, 1);
		}
	}
	put(o, "\"");
}

static void put_json_str(struct out *o, const char *s)
{
	if (s)
		put_quoted(o, s, NAME_MAX_PRINT);
	else
		put(o, "null");
}

static void write_all(int fd, const char *s, size_t n)
{
	long r;

	while (n) {
		r = syscall(SYS_write, fd, s, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		s += r;
		n -= (size_t)r;
	}
}

/* One record to the report file, if there is one. */
static void write_report_file(const char *s, size_t n)
{
	long fd;

	if (!report_path[0])
		return;
	fd = syscall(SYS_openat, AT_FDCWD, report_path,
		     O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0666);
	if (fd < 0)
		return;
	write_all((int)fd, s, n);
	syscall(SYS_close, (int)fd);
}

/* ---- start-up ---- */

/* @path made absolute into @out; false when it cannot be. */
static bool absolute(const char *path, char *out, size_t len)
{
	size_t n;

	if (path[0] == '/') {
		n = strlen(path);
		if (n >= len)
			return false;
		memcpy(out, path, n + 1);
		return true;
	}
	if (!getcwd(out, len))
		return false;
	n = strlen(out);
	if (n + 1 + strlen(path) >= len)
		return false;
	out[n] = '/';
	strcpy(out + n + 1, path);
	return true;
}

static const void *image_of(const void *addr)
{
	Dl_info info;

	return addr && dladdr(addr, &info) ? info.dli_fbase : NULL;
}

void check_report_init(const char *report_file)
{
	static const char warn[] = "dmabuf-check: DMABUF_CHECK_REPORT: the path is too long\n";
	ssize_t n = readlink("/proc/self/exe", program, sizeof(program) - 1);

	if (n > 0)
		program[n] = '\0';
	else
		strncpy(program, program_invocation_name, sizeof(program) - 1);
	if (report_file && report_file[0] &&
	    !absolute(report_file, report_path, sizeof(report_path))) {
		report_path[0] = '\0';
		write_all(2, warn, sizeof(warn) - 1);
	}
	main_base = image_of((const void *)getauxval(AT_PHDR));
	self_base = image_of((const void *)check_report_init);
}

void check_backtrace_prime(void)
{
	void *prime[2];

	backtrace(prime, 2);
}

void check_report_forked(void)
{
	memset(counts, 0, sizeof(counts));
	total = 0;
}

/* ---- backtraces ---- */

static bool in_self(const void *pc)
{
	return self_base && image_of(pc) == self_base;
}

int check_backtrace_here(void **frames, int max)
{
	void *raw[CHECK_FRAMES + 16];
	int n = backtrace(raw, (int)(sizeof(raw) / sizeof(raw[0]))), i, k = 0;

	/* the first of our frames may be called by an interceptor (a sanitizer's) */
	for (i = 0; i < n && !in_self(raw[i]); i++)
		;
	if (i == n)
		i = 0;
	while (i < n && in_self(raw[i]))
		i++;
	while (i < n && k < max)
		frames[k++] = raw[i++];
	return k;
}

int check_backtrace_fault(uintptr_t pc, void **frames, int max)
{
	void *raw[CHECK_FRAMES + 16];
	int n = backtrace(raw, (int)(sizeof(raw) / sizeof(raw[0]))), i, k = 0;

	/* the handler's frames, the signal trampoline, then the interrupted code at @pc */
	for (i = 0; i < n; i++)
		if ((uintptr_t)raw[i] == pc)
			break;
	if (i == n) {
		/* not found: @pc, then what follows the handler and the trampoline */
		for (i = 0; i < n && in_self(raw[i]); i++)
			;
		i++;
		if (pc && max > 0)
			frames[k++] = (void *)pc;
	}
	while (i < n && k < max)
		frames[k++] = raw[i++];
	return k;
}

/* ---- formatting ---- */

struct frame {
	uintptr_t pc;
	const char *object;	/* NULL if unknown */
	uintptr_t offset;
	const char *symbol;	/* NULL if unknown */
};

static void frame_resolve(const void *pc, struct frame *f)
{
	Dl_info info;

	*f = (struct frame){ .pc = (uintptr_t)pc };
	if (!dladdr(pc, &info))
		return;
	f->object = info.dli_fbase == main_base || !info.dli_fname || !info.dli_fname[0] ?
			    program : info.dli_fname;
	f->offset = (uintptr_t)pc - (uintptr_t)info.dli_fbase;
	f->symbol = info.dli_sname;
}

static const char *map_info_name(int map_info)
{
	switch (map_info) {
	case 0:
		return "INCOHERENT";
	case 1:
		return "COHERENT_WC";
	case 2:
		return "COHERENT_CACHED";
	default:
		return NULL;
	}
}

/* "START|READ", "END|RW"... */
static void put_sync(struct out *o, int sync)
{
	put(o, sync & CHECK_END ? "END|" : "START|");
	put(o, dir_names[sync & CHECK_RW]);
}

static const char *access_name(enum check_access acc)
{
	return acc == CHECK_ACC_READ ? "read" : acc == CHECK_ACC_WRITE ? "write" : NULL;
}

static void put_title(struct out *o, const struct check_violation *v)
{
	const char *acc = access_name(v->access);

	switch (v->kind) {
	case CHECK_ACCESS_OUTSIDE:
		put(o, acc ? acc : "access");
		put(o, " outside a SYNC bracket");
		break;
	case CHECK_WRITE_IN_READ:
		put(o, "write inside a START|READ bracket");
		break;
	case CHECK_FENCE_PENDING:
		put(o, acc ? acc : "access");
		put(o, " while a fence on the buffer is pending, outside a SYNC bracket");
		break;
	case CHECK_END_WITHOUT_START:
		put(o, "SYNC END without a START");
		break;
	case CHECK_DIRECTION_MISMATCH:
		put(o, "SYNC END with another direction than its START");
		break;
	case CHECK_NESTED_START:
		put(o, "SYNC START while a bracket is open");
		break;
	default:
		put(o, "SYNC bracket still open at exit");
		break;
	}
}

static void put_text(struct out *o, const struct check_violation *v)
{
	const struct dmabuf_fd_buf_desc *d = v->buf && v->buf->have_desc ? &v->buf->desc : NULL;
	const char *mi = d ? map_info_name(d->map_info) : NULL;
	struct frame f;
	int i;

	put(o, "dmabuf-check: ");
	put_title(o, v);
	put(o, " [");
	put(o, kind_names[v->kind]);
	put(o, "]\n  program: ");
	put(o, program);
	put(o, " (pid ");
	put_uint(o, (uint64_t)getpid());
	put(o, ")\n  buffer: ");
	if (d) {
		if (d->has_name)
			put_quoted(o, d->name, sizeof(d->name));
		else
			put(o, "no name");
		put(o, ", exporter ");
		put(o, d->exp_name[0] ? d->exp_name : "unknown");
		put(o, ", map_info ");
		put(o, mi ? mi : "unknown");
		put(o, ", ");
		put_uint(o, d->size);
		put(o, " bytes\n");
	} else {
		put(o, "unknown\n");
	}
	if (v->access != CHECK_ACC_NONE) {
		put(o, "  access: ");
		put(o, access_name(v->access) ? access_name(v->access) : "read or write");
		if (v->has_offset) {
			put(o, " at offset ");
			put_uint(o, v->offset);
		}
		put(o, "\n");
	}
	if (v->sync >= 0) {
		put(o, "  sync: ");
		put_sync(o, v->sync);
		put(o, "\n");
	}
	put(o, "  bracket: ");
	if (v->bracket) {
		put(o, "START|");
		put(o, dir_names[v->bracket & CHECK_RW]);
	} else {
		put(o, "none");
	}
	put(o, " open\n");
	put(o, v->kind == CHECK_UNBALANCED ? "  opened at:\n" : "  backtrace:\n");
	if (!v->n_frames)
		put(o, "    (none)\n");
	for (i = 0; i < v->n_frames; i++) {
		frame_resolve(v->frames[i], &f);
		put(o, "    #");
		put_uint(o, (uint64_t)i);
		put(o, " ");
		put_hex(o, f.pc);
		put(o, " ");
		if (f.object) {
			put_mem(o, f.object, strnlen(f.object, NAME_MAX_PRINT));
			put(o, "+");
			put_hex(o, f.offset);
		} else {
			put(o, "??");
		}
		if (f.symbol) {
			put(o, " (");
			put_mem(o, f.symbol, strnlen(f.symbol, NAME_MAX_PRINT));
			put(o, ")");
		}
		put(o, "\n");
	}
}

static void put_json(struct out *o, const struct check_violation *v)
{
	const struct dmabuf_fd_buf_desc *d = v->buf && v->buf->have_desc ? &v->buf->desc : NULL;
	struct frame f;
	int i;

	put(o, "{\"type\":\"violation\",\"kind\":\"");
	put(o, kind_names[v->kind]);
	put(o, "\",\"pid\":");
	put_uint(o, (uint64_t)getpid());
	put(o, ",\"program\":");
	put_json_str(o, program);
	put(o, ",\"buffer\":{\"name\":");
	if (d && d->has_name)
		put_quoted(o, d->name, sizeof(d->name));
	else
		put(o, "null");
	put(o, ",\"exporter\":");
	put_json_str(o, d && d->exp_name[0] ? d->exp_name : NULL);
	put(o, ",\"map_info\":");
	put_json_str(o, d ? map_info_name(d->map_info) : NULL);
	put(o, ",\"size\":");
	if (d)
		put_uint(o, d->size);
	else
		put(o, "null");
	put(o, "},\"access\":");
	put_json_str(o, access_name(v->access));
	put(o, ",\"offset\":");
	if (v->has_offset)
		put_uint(o, v->offset);
	else
		put(o, "null");
	put(o, ",\"bracket\":\"");
	put(o, dir_names[v->bracket & CHECK_RW]);
	put(o, "\",\"sync\":");
	if (v->sync >= 0) {
		put(o, "\"");
		put_sync(o, v->sync);
		put(o, "\"");
	} else {
		put(o, "null");
	}
	put(o, ",\"backtrace\":[");
	for (i = 0; i < v->n_frames; i++) {
		frame_resolve(v->frames[i], &f);
		put(o, i ? ",{\"pc\":\"" : "{\"pc\":\"");
		put_hex(o, f.pc);
		put(o, "\",\"object\":");
		put_json_str(o, f.object);
		put(o, ",\"offset\":");
		if (f.object) {
			put(o, "\"");
			put_hex(o, f.offset);
			put(o, "\"");
		} else {
			put(o, "null");
		}
		put(o, ",\"symbol\":");
		put_json_str(o, f.symbol);
		put(o, "}");
	}
	put(o, "]}");
}

/* A JSON line is whole or not at all: one that did not fit loses its backtrace. */
static void emit_json(const struct check_violation *v)
{
	struct out o = { json, 0, sizeof(json) - 1 };
	struct check_violation bare;

	put_json(&o, v);
	if (o.len == o.cap) {
		bare = *v;
		bare.n_frames = 0;
		o.len = 0;
		put_json(&o, &bare);
	}
	json[o.len++] = '\n';
	write_report_file(json, o.len);
}

void check_report_summary(void)
{
	struct out o = { text, 0, sizeof(text) };
	bool first = true;
	int k;

	if (total) {
		put(&o, "dmabuf-check: ");
		put_uint(&o, total);
		put(&o, total == 1 ? " violation in " : " violations in ");
		put(&o, program);
		put(&o, " (pid ");
		put_uint(&o, (uint64_t)getpid());
		put(&o, "):");
		for (k = 0; k < CHECK_NKINDS; k++) {
			if (!counts[k])
				continue;
			put(&o, first ? " " : ", ");
			put(&o, kind_names[k]);
			put(&o, " ");
			put_uint(&o, counts[k]);
			first = false;
		}
		put(&o, "\n");
		write_all(2, text, o.len);
	}
	if (!report_path[0])
		return;
	o = (struct out){ json, 0, sizeof(json) };
	put(&o, "{\"type\":\"summary\",\"pid\":");
	put_uint(&o, (uint64_t)getpid());
	put(&o, ",\"program\":");
	put_json_str(&o, program);
	put(&o, ",\"violations\":");
	put_uint(&o, total);
	put(&o, ",\"kinds\":{");
	first = true;
	for (k = 0; k < CHECK_NKINDS; k++) {
		if (!counts[k])
			continue;
		put(&o, first ? "\"" : ",\"");
		put(&o, kind_names[k]);
		put(&o, "\":");
		put_uint(&o, counts[k]);
		first = false;
	}
	put(&o, "}}\n");
	write_report_file(json, o.len);
}

void check_report(const struct check_violation *v)
{
	struct out o = { text, 0, sizeof(text) };

	counts[v->kind]++;
	total++;
	put_text(&o, v);
	write_all(2, text, o.len);
	emit_json(v);
	if (dmabuf_check_mode == DMABUF_CHECK_ABORT) {
		check_report_summary();
		abort();
	}
}

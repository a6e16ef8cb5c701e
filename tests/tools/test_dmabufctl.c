// SPDX-License-Identifier: MIT
/*
 * test_dmabufctl.c - dmabufctl's listings against a scripted scenario on a private broker.
 *
 * usage: test_dmabufctl DMABUFCTL
 *
 * Three processes set the scene and report what they made (inodes, names) through a pipe,
 * then wait for the end on another one:
 *   dctl-a  a 16 KiB system buffer "frame-a", mapped once; a timeline with points 1 and 2,
 *           another with point 3; point 1 imported into frame-a for writing, point 2 into
 *           "shared" for reading, a deadline on point 2, and points 2 and 3 merged into a
 *           sync_file "merge-ab" (point 3's own sync_file closed);
 *   dctl-b  the 8 KiB system-uncached buffer "shared" (inherited, like dctl-a), mapped once;
 *           a 4 KiB incoherent buffer "cons-inc" mapped once (through its CPU view); a
 *           timeline at 2 with point 5 pending (imported into cons-inc for writing) and point
 *           1 born signaled;
 *   dctl-c  the leak: a 64 KiB system buffer "leak" held by its descriptor only, and an
 *           unnamed 4 KiB udmabuf.
 * dmabufctl's JSON is parsed and checked field by field against that; the text output's key
 * lines too.  Then paging (more objects than one reply holds), the live view, errors and exit
 * statuses.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dmabuf/fd.h>
#include <dmabuf/swdev.h>

#include "private_dir.h"
#include "tap.h"

#define WAIT_MS		60000
#define PAGE_OBJECTS	600	/* more than one reply holds: 545 buffers or fences */

static const char *ctl_path;
static pid_t parent_pid;
static int sanitizer_reports;	/* of dmabufctl's runs, in sanitizer builds */

/* ---- a small JSON reader (what dmabufctl writes: no fractions, ASCII escapes) ---- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype t;
	long long num;
	char *str;
	size_t n;
	char **keys;
	struct jv **items;
};

static void jskip(const char **p)
{
	while (**p == ' ' || **p == '\n' || **p == '\t' || **p == '\r')
		(*p)++;
}

static struct jv *jnew(enum jtype t)
{
	struct jv *v = calloc(1, sizeof(*v));

	if (!v)
		bail_out("out of memory");
	v->t = t;
	return v;
}

static void jfree(struct jv *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		jfree(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	free(v);
}

static char *jstring(const char **p)
{
	size_t cap = 16, n = 0;
	char *s = malloc(cap);

	if (!s || **p != '"')
		goto bad;
	for ((*p)++; **p != '"'; (*p)++) {
		char c = **p;

		if (!c || (unsigned char)c < 0x20)
			goto bad;
		if (c == '\\') {
			(*p)++;
			switch (**p) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case '"': case '\\': case '/': c = **p; break;
			case 'u': {
				unsigned int u;

				if (sscanf(*p + 1, "%4x", &u) != 1 || u > 0x7f)
					goto bad;
				c = (char)u;
				*p += 4;
				break;
			}
			default:
				goto bad;
			}
		}
		if (n + 2 > cap) {
			char *bigger = realloc(s, cap *= 2);

			if (!bigger)
				goto bad;
			s = bigger;
		}
		s[n++] = c;
	}
	(*p)++;
	s[n] = '\0';
	return s;
bad:
	free(s);
	return NULL;
}

static struct jv *jparse_value(const char **p);

static bool jpush(struct jv *v, char *key, struct jv *item)
{
	struct jv **items = realloc(v->items, (v->n + 1) * sizeof(*items));
	char **keys = v->t == J_OBJ ? realloc(v->keys, (v->n + 1) * sizeof(*keys)) : NULL;

	if (items)
		v->items = items;
	if (keys)
		v->keys = keys;
	if (!items || (v->t == J_OBJ && !keys))
		return false;
	if (keys)
		keys[v->n] = key;
	items[v->n++] = item;
	return true;
}

static struct jv *jparse_container(const char **p, enum jtype t)
{
	char close = t == J_OBJ ? '}' : ']';
	struct jv *v = jnew(t), *item;
	char *key = NULL;

	(*p)++;
	jskip(p);
	if (**p == close) {
		(*p)++;
		return v;
	}
	for (;;) {
		jskip(p);
		if (t == J_OBJ) {
			key = jstring(p);
			jskip(p);
			if (!key || **p != ':')
				goto bad;
			(*p)++;
		}
		item = jparse_value(p);
		if (!item || !jpush(v, key, item)) {
			jfree(item);
			goto bad;
		}
		key = NULL;
		jskip(p);
		if (**p == ',') {
			(*p)++;
			continue;
		}
		if (**p != close)
			goto bad;
		(*p)++;
		return v;
	}
bad:
	free(key);
	jfree(v);
	return NULL;
}

static struct jv *jparse_value(const char **p)
{
	struct jv *v;
	char *end;

	jskip(p);
	switch (**p) {
	case '{':
		return jparse_container(p, J_OBJ);
	case '[':
		return jparse_container(p, J_ARR);
	case '"':
		v = jnew(J_STR);
		v->str = jstring(p);
		if (!v->str) {
			jfree(v);
			return NULL;
		}
		return v;
	}
	if (!strncmp(*p, "null", 4)) {
		*p += 4;
		return jnew(J_NULL);
	}
	if (!strncmp(*p, "true", 4) || !strncmp(*p, "false", 5)) {
		v = jnew(J_BOOL);
		v->num = **p == 't';
		*p += v->num ? 4 : 5;
		return v;
	}
	v = jnew(J_NUM);
	errno = 0;
	v->num = strtoll(*p, &end, 10);
	if (end == *p || errno || *end == '.' || *end == 'e' || *end == 'E') {
		jfree(v);
		return NULL;
	}
	*p = end;
	return v;
}

/* A whole document, or NULL. */
static struct jv *jparse(const char *text)
{
	const char *p = text;
	struct jv *v = jparse_value(&p);

	jskip(&p);
	if (v && *p) {
		jfree(v);
		return NULL;
	}
	return v;
}

static struct jv *jget(const struct jv *o, const char *key)
{
	if (!o || o->t != J_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return o->items[i];
	return NULL;
}

/* The number at @key, or LLONG_MIN. */
static long long jint(const struct jv *o, const char *key)
{
	const struct jv *v = jget(o, key);

	return v && v->t == J_NUM ? v->num : LLONG_MIN;
}

/* The string at @key; "(null)" for null, "(missing)" else. */
static const char *jstr(const struct jv *o, const char *key)
{
	const struct jv *v = jget(o, key);

	if (v && v->t == J_STR)
		return v->str;
	return v && v->t == J_NULL ? "(null)" : "(missing)";
}

static size_t jlen(const struct jv *v)
{
	return v && (v->t == J_ARR || v->t == J_OBJ) ? v->n : 0;
}

/* The element of array @a whose @key is the number @val, or NULL. */
static const struct jv *jfind(const struct jv *a, const char *key, long long val)
{
	for (size_t i = 0; i < jlen(a); i++)
		if (jint(a->items[i], key) == val)
			return a->items[i];
	return NULL;
}

/* How many elements of @a have the number @val at @key. */
static size_t jcount(const struct jv *a, const char *key, long long val)
{
	size_t n = 0;

	for (size_t i = 0; i < jlen(a); i++)
		n += jint(a->items[i], key) == val;
	return n;
}

/* The array of numbers @a as "1,2,3". */
static const char *jnums(const struct jv *a)
{
	static char buf[256];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < jlen(a) && len < sizeof(buf) - 24; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%lld", i ? "," : "",
					a->items[i]->num);
	return buf;
}

/* ---- running dmabufctl ---- */

struct out {
	char *out, *err;
	size_t olen, elen;
	int status;		/* exit status, or -1 when it did not exit normally */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void drain(int *fd, char **buf, size_t *len, size_t *cap)
{
	ssize_t n;

	if (*len + 4096 + 1 > *cap) {
		*cap = (*cap + 4096) * 2;
		*buf = realloc(*buf, *cap);
		if (!*buf)
			bail_out("out of memory");
	}
	n = read(*fd, *buf + *len, *cap - *len - 1);
	if (n > 0)
		*len += (size_t)n;
	else if (n == 0 || errno != EINTR) {
		close(*fd);
		*fd = -1;
	}
	(*buf)[*len] = '\0';
}

/* Run dmabufctl with @args (NULL-terminated); its output and exit status in @o. */
static void ctl(struct out *o, const char *const *args)
{
	char *argv[16] = { "dmabufctl" };
	size_t ocap = 1, ecap = 1;
	int op[2], ep[2], st, n;
	int64_t deadline = now_ms() + WAIT_MS;
	pid_t pid;

	memset(o, 0, sizeof(*o));
	for (n = 0; args[n] && n < 14; n++)
		argv[n + 1] = (char *)args[n];
	if (pipe2(op, O_CLOEXEC) || pipe2(ep, O_CLOEXEC))
		bail_out("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(op[1], 1);
		dup2(ep[1], 2);
		execv(ctl_path, argv);
		_exit(127);
	}
	close(op[1]);
	close(ep[1]);
	o->out = calloc(1, 1);
	o->err = calloc(1, 1);
	if (!o->out || !o->err)
		bail_out("out of memory");
	while (op[0] >= 0 || ep[0] >= 0) {
		struct pollfd pfd[2] = {
			{ .fd = op[0], .events = POLLIN }, { .fd = ep[0], .events = POLLIN },
		};

		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(pfd, 2, 1000) < 0 && errno != EINTR)
			break;
		if (op[0] >= 0 && pfd[0].revents)
			drain(&op[0], &o->out, &o->olen, &ocap);
		if (ep[0] >= 0 && pfd[1].revents)
			drain(&ep[0], &o->err, &o->elen, &ecap);
	}
	if (op[0] >= 0)
		close(op[0]);
	if (ep[0] >= 0)
		close(ep[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	o->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (strstr(o->err, "runtime error") || strstr(o->err, "Sanitizer"))
		sanitizer_reports++;
	for (char *line = o->err, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		diag("dmabufctl: stderr: %.*s", nl ? (int)(nl - line) : (int)strlen(line), line);
	}
}

static void out_free(struct out *o)
{
	free(o->out);
	free(o->err);
}

/* Run dmabufctl --json @args and parse what it printed (exit status 0 expected). */
static struct jv *ctl_json(const char *what, const char *const *args)
{
	const char *argv[16] = { "--json" };
	struct jv *doc;
	struct out o;
	int n;

	for (n = 0; args[n] && n < 14; n++)
		argv[n + 1] = args[n];
	argv[n + 1] = NULL;
	ctl(&o, argv);
	is_int(o.status, 0, "%s --json: exit status 0", what);
	doc = jparse(o.out ? o.out : "");
	if (!ok(doc != NULL, "%s --json: one JSON document", what))
		diag("output: %s", o.out ? o.out : "");
	out_free(&o);
	return doc;
}

/* The line of @text containing every one of @needles (NULL-terminated), or NULL. */
static bool has_line(const char *text, const char *const *needles)
{
	const char *line = text, *end;

	for (; line && *line; line = end ? end + 1 : NULL) {
		char buf[1024];
		size_t len;
		bool all = true;

		end = strchr(line, '\n');
		len = end ? (size_t)(end - line) : strlen(line);
		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		memcpy(buf, line, len);
		buf[len] = '\0';
		for (size_t i = 0; needles[i]; i++)
			all &= strstr(buf, needles[i]) != NULL;
		if (all)
			return true;
	}
	return false;
}

/* ---- the scene ---- */

enum role { ROLE_A, ROLE_B, ROLE_C, NROLES };

/* What a process made, for the parent to check the listings against. */
struct report {
	int role;
	pid_t pid;
	char error[120];	/* empty: all went well */
	uint64_t buf[2];	/* A: frame-a; B: cons-inc; C: leak, the udmabuf */
	uint64_t tl, tl2;	/* A: two timelines; B: one */
	uint64_t sf[3];		/* A: point 1, point 2, merged; B: point 5, point 1 */
	char sf_name[3][32];
};

struct scene {
	int ready[2];		/* children write their report */
	int go[2];		/* closed by the parent: the children exit */
	int shared;		/* the "shared" buffer (8 KiB, system-uncached) */
	uint64_t shared_ino;
	int64_t deadline;	/* set on A's point 2 */
	pid_t pids[NROLES];
	struct report rep[NROLES];
};

static struct scene scene;

static uint64_t ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (uint64_t)st.st_ino;
}

#define CHECK(rep, call)							\
	({									\
		int __r = (call);						\
		if (__r < 0 && !(rep)->error[0])				\
			snprintf((rep)->error, sizeof((rep)->error), "%s: %s",	\
				 #call, strerror(-__r));			\
		__r;								\
	})

static int named_buffer(struct report *r, const char *heap, uint64_t size, const char *name)
{
	int fd = CHECK(r, dmabuf_fd_heap_alloc(heap, size, O_RDWR | O_CLOEXEC, 0));

	if (fd >= 0 && name)
		CHECK(r, dmabuf_fd_buf_set_name(fd, name));
	return fd;
}

static void map_whole(struct report *r, int fd, size_t size)
{
	void *p;

	if (fd >= 0 && !CHECK(r, dmabuf_fd_buf_mmap(fd, NULL, size, PROT_READ | PROT_WRITE,
						       MAP_SHARED, 0, &p)))
		memset(p, 0x5a, size);
}

static void sf_name(struct report *r, int i, int fd)
{
	struct dmabuf_fd_sync_info *info;

	if (fd >= 0 && !CHECK(r, dmabuf_fd_sync_info(fd, &info))) {
		snprintf(r->sf_name[i], sizeof(r->sf_name[i]), "%s", info->name);
		dmabuf_fd_sync_info_free(info);
	}
	r->sf[i] = ino_of(fd);
}

static void role_a(struct report *r)
{
	int a1 = named_buffer(r, "system", 16384, "frame-a");
	int tl = CHECK(r, dmabuf_fd_sw_timeline_create(O_CLOEXEC));
	int p1 = CHECK(r, dmabuf_fd_sw_fence_create(tl, 1, NULL));
	int p2 = CHECK(r, dmabuf_fd_sw_fence_create(tl, 2, NULL));
	int tl2 = CHECK(r, dmabuf_fd_sw_timeline_create(O_CLOEXEC));
	int p3 = CHECK(r, dmabuf_fd_sw_fence_create(tl2, 3, NULL));
	int m;

	map_whole(r, a1, 16384);
	CHECK(r, dmabuf_fd_buf_import_sync_file(a1, DMABUF_FD_SYNC_WRITE, p1));
	CHECK(r, dmabuf_fd_buf_import_sync_file(scene.shared, DMABUF_FD_SYNC_READ, p2));
	CHECK(r, dmabuf_fd_sync_set_deadline(p2, (uint64_t)scene.deadline));
	m = CHECK(r, dmabuf_fd_sync_merge("merge-ab", p2, p3));
	close(p3);
	r->buf[0] = ino_of(a1);
	r->tl = ino_of(tl);
	r->tl2 = ino_of(tl2);
	sf_name(r, 0, p1);
	sf_name(r, 1, p2);
	sf_name(r, 2, m);
}

static void role_b(struct report *r)
{
	int b1 = named_buffer(r, "incoherent", 4096, "cons-inc");
	int tl = CHECK(r, dmabuf_fd_sw_timeline_create(O_CLOEXEC));
	int p5, p1;

	map_whole(r, scene.shared, 8192);
	map_whole(r, b1, 4096);
	CHECK(r, dmabuf_fd_sw_timeline_inc(tl, 2));
	p5 = CHECK(r, dmabuf_fd_sw_fence_create(tl, 5, NULL));
	p1 = CHECK(r, dmabuf_fd_sw_fence_create(tl, 1, NULL));
	CHECK(r, dmabuf_fd_buf_import_sync_file(b1, DMABUF_FD_SYNC_WRITE, p5));
	r->buf[0] = ino_of(b1);
	r->tl = ino_of(tl);
	sf_name(r, 0, p5);
	sf_name(r, 1, p1);
}

static void role_c(struct report *r)
{
	int leak = named_buffer(r, "system", 65536, "leak");
	int mfd = memfd_create("dctl-udmabuf", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	int u = -1;

	if (mfd < 0 || ftruncate(mfd, 4096) || fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK))
		snprintf(r->error, sizeof(r->error), "memfd: %s", strerror(errno));
	else
		u = CHECK(r, dmabuf_fd_udmabuf_create(mfd, 0, 4096, DMABUF_FD_UDMABUF_CLOEXEC));
	close(mfd);
	r->buf[0] = ino_of(leak);
	r->buf[1] = ino_of(u);
}

static void (*const roles[NROLES])(struct report *r) = { role_a, role_b, role_c };
static const char *const comms[NROLES] = { "dctl-a", "dctl-b", "dctl-c" };

/* A process of the scene: make its objects, report, hold them until the parent says. */
static void __attribute__((noreturn)) child(int role)
{
	struct report r = { .role = role, .pid = getpid() };
	char c;

	close(scene.ready[0]);
	close(scene.go[1]);
	prctl(PR_SET_NAME, comms[role], 0, 0, 0);
	if (role == ROLE_C)
		close(scene.shared);	/* only A and B share it */
	roles[role](&r);
	if (write(scene.ready[1], &r, sizeof(r)) != sizeof(r))
		_exit(1);
	while (read(scene.go[0], &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

static void kill_children(void)
{
	if (getpid() != parent_pid)
		return;
	for (int i = 0; i < NROLES; i++)
		if (scene.pids[i] > 0)
			kill(scene.pids[i], SIGKILL);
}

static void scene_start(void)
{
	struct report r;

	if (pipe2(scene.ready, O_CLOEXEC) || pipe2(scene.go, O_CLOEXEC))
		bail_out("pipe: %s", strerror(errno));
	scene.shared = dmabuf_fd_heap_alloc("system-uncached", 8192, O_RDWR | O_CLOEXEC, 0);
	if (scene.shared < 0 || dmabuf_fd_buf_set_name(scene.shared, "shared"))
		bail_out("cannot allocate from the broker: %s", strerror(-scene.shared));
	scene.shared_ino = ino_of(scene.shared);
	scene.deadline = now_ns() + 3600LL * 1000000000LL;
	atexit(kill_children);
	for (int i = 0; i < NROLES; i++) {
		fflush(stdout);
		scene.pids[i] = fork();
		if (scene.pids[i] < 0)
			bail_out("fork: %s", strerror(errno));
		if (scene.pids[i] == 0)
			child(i);
	}
	close(scene.ready[1]);
	close(scene.go[0]);
	for (int i = 0; i < NROLES; i++) {
		ssize_t n;

		do
			n = read(scene.ready[0], &r, sizeof(r));
		while (n < 0 && errno == EINTR);
		if (n != sizeof(r) || r.role < 0 || r.role >= NROLES)
			bail_out("a process of the scene died before reporting");
		if (r.error[0])
			bail_out("%s: %s", comms[r.role], r.error);
		scene.rep[r.role] = r;
	}
	/* from now on only A and B hold it */
	close(scene.shared);
}

static void scene_end(void)
{
	int st;

	close(scene.go[1]);
	for (int i = 0; i < NROLES; i++) {
		while (waitpid(scene.pids[i], &st, 0) < 0 && errno == EINTR)
			;
		is_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0, "%s exited cleanly", comms[i]);
		scene.pids[i] = 0;
	}
	close(scene.ready[0]);
}

/* ---- the checks ---- */

struct want_buf {
	uint64_t ino;
	long long size;
	const char *exporter, *name, *map_info;
	long long fds, mmaps;
	long long fences[4];
	pid_t pids[2];
};

static void check_buf(const struct jv *bufs, const struct want_buf *w)
{
	static const char *const usages[] = { "kernel", "write", "read", "bookkeep" };
	const struct jv *b = jfind(bufs, "ino", (long long)w->ino);
	const char *label = w->name ? w->name : w->exporter;
	char pids[64];

	if (!ok(b != NULL, "buffers: %s is listed", label))
		return;
	is_int(jint(b, "size"), w->size, "buffers: %s size", label);
	is_str(jstr(b, "exporter"), w->exporter, "buffers: %s exporter", label);
	is_str(jstr(b, "name"), w->name ? w->name : "(null)", "buffers: %s name", label);
	is_str(jstr(b, "map_info"), w->map_info, "buffers: %s map_info", label);
	is_int(jint(b, "fds"), w->fds, "buffers: %s descriptors", label);
	is_int(jint(b, "mmaps"), w->mmaps, "buffers: %s mappings", label);
	is_int(jint(b, "attachments"), 0, "buffers: %s attachments", label);
	for (int u = 0; u < 4; u++)
		is_int(jint(jget(b, "fences"), usages[u]), w->fences[u],
		       "buffers: %s pending %s fences", label, usages[u]);
	snprintf(pids, sizeof(pids), w->pids[1] ? "%d,%d" : "%d", (int)w->pids[0],
		 (int)w->pids[1]);
	is_str(jnums(jget(b, "pids")), pids, "buffers: %s held by %s", label, pids);
}

static void check_buffers(void)
{
	const struct report *a = &scene.rep[ROLE_A], *b = &scene.rep[ROLE_B];
	const struct report *c = &scene.rep[ROLE_C];
	pid_t ab[2] = { a->pid < b->pid ? a->pid : b->pid, a->pid < b->pid ? b->pid : a->pid };
	const struct want_buf want[] = {
		{ a->buf[0], 16384, "system", "frame-a", "coherent-cached", 1, 1,
		  { 0, 1, 0, 0 }, { a->pid } },
		{ scene.shared_ino, 8192, "system-uncached", "shared", "coherent-wc", 2, 1,
		  { 0, 0, 1, 0 }, { ab[0], ab[1] } },
		{ b->buf[0], 4096, "incoherent", "cons-inc", "incoherent", 1, 1,
		  { 0, 1, 0, 0 }, { b->pid } },
		{ c->buf[0], 65536, "system", "leak", "coherent-cached", 1, 0,
		  { 0, 0, 0, 0 }, { c->pid } },
		{ c->buf[1], 4096, "udmabuf", NULL, "coherent-cached", 1, 0,
		  { 0, 0, 0, 0 }, { c->pid } },
	};
	struct jv *doc = ctl_json("buffers", (const char *[]){ "buffers", NULL });
	const struct jv *bufs = jget(doc, "buffers");
	char total[64], size[32], ino[32];
	struct out o;

	is_int(jlen(bufs), 5, "buffers: five buffers");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		check_buf(bufs, &want[i]);
	is_int(jint(jget(doc, "totals"), "buffers"), 5, "buffers: total count");
	is_int(jint(jget(doc, "totals"), "bytes"), 98304, "buffers: total bytes");
	jfree(doc);

	ctl(&o, (const char *[]){ "buffers", NULL });
	is_int(o.status, 0, "buffers: exit status 0");
	snprintf(ino, sizeof(ino), "%" PRIu64, c->buf[0]);
	snprintf(size, sizeof(size), " 65536 ");
	ok(has_line(o.out, (const char *[]){ ino, size, "system", "leak", "coherent-cached",
					     NULL }), "buffers: the text has the leak's row");
	snprintf(total, sizeof(total), "Total: 5 buffers, 98304 bytes");
	ok(has_line(o.out, (const char *[]){ total, NULL }), "buffers: the text has the totals");
	out_free(&o);
}

struct want_proc {
	int role;
	long long buffers, by_fd, by_map, bytes, pss;
};

static void check_procs(void)
{
	static const struct want_proc want[] = {
		{ ROLE_A, 2, 2, 1, 24576, 16384 + 4096 },
		{ ROLE_B, 2, 2, 2, 12288, 4096 + 4096 },
		{ ROLE_C, 2, 2, 0, 69632, 69632 },
	};
	const struct report *c = &scene.rep[ROLE_C];
	struct jv *doc = ctl_json("procs", (const char *[]){ "procs", NULL });
	const struct jv *procs = jget(doc, "processes"), *p, *l, *u;
	char pid[32], arg[32], line[128];
	struct out o;

	is_int(jlen(procs), 3, "procs: three processes hold buffers");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *comm = comms[want[i].role];

		p = jfind(procs, "pid", scene.rep[want[i].role].pid);
		if (!ok(p != NULL, "procs: %s is listed", comm))
			continue;
		is_str(jstr(p, "comm"), comm, "procs: %s comm", comm);
		is_int(jint(p, "buffers"), want[i].buffers, "procs: %s buffers", comm);
		is_int(jint(p, "by_fd"), want[i].by_fd, "procs: %s buffers by fd", comm);
		is_int(jint(p, "by_map"), want[i].by_map, "procs: %s buffers by mapping", comm);
		is_int(jint(p, "bytes"), want[i].bytes, "procs: %s bytes", comm);
		is_int(jint(p, "pss"), want[i].pss, "procs: %s proportional share", comm);
	}
	/* the leak stands out: the first row, by PSS */
	ok(jlen(procs) && jint(procs->items[0], "pid") == c->pid,
	   "procs: the leaking process comes first");
	is_int(jint(jget(doc, "unheld"), "buffers"), 0, "procs: every buffer is held");
	is_int(jint(jget(doc, "totals"), "bytes"), 98304, "procs: total bytes");
	jfree(doc);

	snprintf(arg, sizeof(arg), "%d", (int)c->pid);
	doc = ctl_json("procs PID", (const char *[]){ "procs", arg, NULL });
	is_int(jint(doc, "pid"), c->pid, "procs PID: the process");
	is_str(jstr(doc, "comm"), "dctl-c", "procs PID: its comm");
	is_int(jlen(jget(doc, "buffers")), 2, "procs PID: its two buffers");
	l = jfind(jget(doc, "buffers"), "ino", (long long)c->buf[0]);
	u = jfind(jget(doc, "buffers"), "ino", (long long)c->buf[1]);
	if (ok(l != NULL, "procs PID: the leaked buffer is listed")) {
		is_str(jstr(l, "name"), "leak", "procs PID: the leak's name");
		is_int(jint(l, "size"), 65536, "procs PID: the leak's size");
		is_int(jint(l, "fds"), 1, "procs PID: the leak is held by one descriptor");
		is_int(jint(l, "mmaps"), 0, "procs PID: the leak is not mapped");
		is_int(jint(l, "sharers"), 1, "procs PID: nobody shares the leak");
		is_int(jint(l, "pss"), 65536, "procs PID: the leak's share is all of it");
	}
	if (ok(u != NULL, "procs PID: the udmabuf is listed")) {
		is_str(jstr(u, "exporter"), "udmabuf", "procs PID: the udmabuf's exporter");
		is_str(jstr(u, "name"), "(null)", "procs PID: the udmabuf has no name");
	}
	is_int(jint(jget(doc, "totals"), "bytes"), 69632, "procs PID: its bytes");
	jfree(doc);

	ctl(&o, (const char *[]){ "procs", NULL });
	snprintf(pid, sizeof(pid), "%d ", (int)c->pid);
	ok(has_line(o.out, (const char *[]){ pid, "dctl-c", " 69632 ", NULL }),
	   "procs: the text shows the leaking process with its bytes");
	out_free(&o);
	ctl(&o, (const char *[]){ "procs", arg, NULL });
	snprintf(line, sizeof(line), "Process %d (dctl-c): 2 buffers (2 by fd, 0 by mapping), "
		 "69632 bytes, PSS 69632 bytes", (int)c->pid);
	ok(has_line(o.out, (const char *[]){ line, NULL }), "procs PID: the text's summary");
	out_free(&o);
}

/* The holders of @f as "buffer 1 (write), sync_file 2" in listing order. */
static const char *holders(const struct jv *f)
{
	static char buf[512];
	const struct jv *h = jget(f, "holders");
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < jlen(h) && len < sizeof(buf) - 64; i++) {
		const struct jv *x = h->items[i];

		if (jget(x, "buffer"))
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%sbuffer %lld (%s)",
						i ? ", " : "", jint(x, "buffer"), jstr(x, "usage"));
		else
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%ssync_file %lld",
						i ? ", " : "", jint(x, "sync_file"));
	}
	return buf;
}

/* The expected holders: a buffer, then sync_files by inode. */
static const char *want_holders(uint64_t buf, const char *usage, uint64_t sf1, uint64_t sf2)
{
	static char out[256];
	uint64_t lo = sf1 < sf2 ? sf1 : sf2, hi = sf1 < sf2 ? sf2 : sf1;
	int n;

	n = snprintf(out, sizeof(out), "buffer %" PRIu64 " (%s), sync_file %" PRIu64, buf, usage,
		     sf2 ? lo : sf1);
	if (sf2)
		snprintf(out + n, sizeof(out) - (size_t)n, ", sync_file %" PRIu64, hi);
	return out;
}

/* The fence at @seqno of the timeline whose context is @ctx. */
static const struct jv *find_fence(const struct jv *fences, long long ctx, long long seqno)
{
	for (size_t i = 0; i < jlen(fences); i++)
		if (jint(fences->items[i], "context") == ctx &&
		    jint(fences->items[i], "seqno") == seqno)
			return fences->items[i];
	return NULL;
}

static void check_sync_file(const struct jv *sfs, uint64_t ino, const char *name,
			    const char *status, long long nfences, pid_t pid)
{
	const struct jv *sf = jfind(sfs, "ino", (long long)ino);
	char pids[32];

	if (!ok(sf != NULL, "fences: sync_file \"%s\" is listed", name))
		return;
	is_str(jstr(sf, "name"), name, "fences: sync_file \"%s\": name", name);
	is_str(jstr(sf, "status"), status, "fences: sync_file \"%s\": status", name);
	is_int(jint(sf, "fences"), nfences, "fences: sync_file \"%s\": fences", name);
	snprintf(pids, sizeof(pids), "%d", (int)pid);
	is_str(jnums(jget(sf, "pids")), pids, "fences: sync_file \"%s\": held by its process",
	       name);
}

/* Contexts of A's and B's timelines, from the timelines listing. */
static long long ctx_a, ctx_a2, ctx_b;

static void check_timelines(void)
{
	const struct report *a = &scene.rep[ROLE_A], *b = &scene.rep[ROLE_B];
	struct jv *doc = ctl_json("timelines", (const char *[]){ "timelines", NULL });
	const struct jv *tls = jget(doc, "timelines");
	const struct jv *ta = jfind(tls, "ino", (long long)a->tl);
	const struct jv *tb = jfind(tls, "ino", (long long)b->tl);
	const struct jv *ta2 = jfind(tls, "ino", (long long)a->tl2);
	const struct jv *pa = jget(ta, "pending"), *pb = jget(tb, "pending");
	char pid[32], ino[32], point[64];
	struct out o;

	is_int(jlen(tls), 3, "timelines: three timelines");
	if (ok(ta != NULL, "timelines: dctl-a's is listed")) {
		is_str(jstr(ta, "name"), "dctl-a", "timelines: named after its process");
		is_int(jint(ta, "value"), 0, "timelines: dctl-a's value");
		is_int(jlen(pa), 2, "timelines: dctl-a's two pending points");
		if (jlen(pa) == 2) {
			is_int(jint(pa->items[0], "seqno"), 1, "timelines: point 1 first");
			ok(!jget(pa->items[0], "deadline_ns"), "timelines: point 1: no deadline");
			is_int(jint(pa->items[1], "seqno"), 2, "timelines: then point 2");
			is_int(jint(pa->items[1], "deadline_ns"), scene.deadline,
			       "timelines: point 2's deadline");
		}
		snprintf(pid, sizeof(pid), "%d", (int)a->pid);
		is_str(jnums(jget(ta, "pids")), pid, "timelines: dctl-a's holder");
		ctx_a = jint(ta, "context");
	}
	if (ok(tb != NULL, "timelines: dctl-b's is listed")) {
		is_str(jstr(tb, "name"), "dctl-b", "timelines: dctl-b's name");
		is_int(jint(tb, "value"), 2, "timelines: dctl-b's value");
		is_int(jlen(pb), 1, "timelines: dctl-b's one pending point");
		is_int(jint(jlen(pb) ? pb->items[0] : NULL, "seqno"), 5,
		       "timelines: point 5 pending");
		ctx_b = jint(tb, "context");
	}
	if (ok(ta2 != NULL, "timelines: dctl-a's second one is listed")) {
		is_str(jstr(ta2, "name"), "dctl-a", "timelines: named after its process too");
		is_int(jlen(jget(ta2, "pending")), 1, "timelines: its one pending point");
		is_int(jint(jlen(jget(ta2, "pending")) ? jget(ta2, "pending")->items[0] : NULL,
			    "seqno"), 3, "timelines: point 3 pending");
		ctx_a2 = jint(ta2, "context");
	}
	ok(ctx_a > 0 && ctx_b > 0 && ctx_a2 > 0 && ctx_a != ctx_b && ctx_a != ctx_a2 &&
	   ctx_a2 != ctx_b, "timelines: distinct contexts");
	jfree(doc);

	ctl(&o, (const char *[]){ "timelines", NULL });
	snprintf(ino, sizeof(ino), "timeline %" PRIu64 " \"dctl-a\"", a->tl);
	snprintf(pid, sizeof(pid), "pids %d", (int)a->pid);
	ok(has_line(o.out, (const char *[]){ ino, "value 0", "2 pending", pid, NULL }),
	   "timelines: the text's line of dctl-a's");
	snprintf(point, sizeof(point), "point 2 deadline %" PRId64, scene.deadline);
	ok(has_line(o.out, (const char *[]){ point, NULL }), "timelines: the text's deadline");
	out_free(&o);
}

static void check_fences(void)
{
	const struct report *a = &scene.rep[ROLE_A], *b = &scene.rep[ROLE_B];
	struct jv *doc = ctl_json("fences", (const char *[]){ "fences", NULL });
	const struct jv *fences = jget(doc, "fences"), *sfs = jget(doc, "sync_files");
	const struct jv *f1 = find_fence(fences, ctx_a, 1), *f2 = find_fence(fences, ctx_a, 2);
	const struct jv *f5 = find_fence(fences, ctx_b, 5), *f3 = find_fence(fences, ctx_a2, 3);
	const struct jv *fs;
	char id[64], dl[64], held[64];
	struct out o;

	is_int(jlen(fences), 4, "fences: four pending fences");
	if (ok(f1 != NULL, "fences: dctl-a's point 1")) {
		is_str(jstr(f1, "driver"), "sw_sync", "fences: point 1's driver");
		is_str(jstr(f1, "timeline"), "dctl-a", "fences: point 1's timeline");
		is_str(jstr(f1, "status"), "active", "fences: point 1 is active");
		ok(!jget(f1, "deadline_ns"), "fences: point 1 has no deadline");
		is_str(holders(f1), want_holders(a->buf[0], "write", a->sf[0], 0),
		       "fences: point 1 held by frame-a (write) and its sync_file");
	}
	if (ok(f2 != NULL, "fences: dctl-a's point 2")) {
		is_int(jint(f2, "deadline_ns"), scene.deadline, "fences: point 2's deadline");
		is_str(holders(f2), want_holders(scene.shared_ino, "read", a->sf[1], a->sf[2]),
		       "fences: point 2 held by shared (read), its sync_file and the merge");
	}
	if (ok(f3 != NULL, "fences: dctl-a's point 3")) {
		snprintf(held, sizeof(held), "sync_file %" PRIu64, a->sf[2]);
		is_str(holders(f3), held, "fences: point 3 held by the merge only");
	}
	if (ok(f5 != NULL, "fences: dctl-b's point 5")) {
		is_str(jstr(f5, "timeline"), "dctl-b", "fences: point 5's timeline");
		is_str(holders(f5), want_holders(b->buf[0], "write", b->sf[0], 0),
		       "fences: point 5 held by cons-inc (write) and its sync_file");
	}
	ok(!find_fence(fences, ctx_b, 1), "fences: the signaled point is not pending");
	is_int(jlen(sfs), 5, "fences: five sync_files");
	check_sync_file(sfs, a->sf[0], a->sf_name[0], "active", 1, a->pid);
	check_sync_file(sfs, a->sf[1], a->sf_name[1], "active", 1, a->pid);
	check_sync_file(sfs, a->sf[2], "merge-ab", "active", 2, a->pid);
	check_sync_file(sfs, b->sf[0], b->sf_name[0], "active", 1, b->pid);
	check_sync_file(sfs, b->sf[1], b->sf_name[1], "signaled", 1, b->pid);
	jfree(doc);

	doc = ctl_json("fences --all", (const char *[]){ "fences", "--all", NULL });
	fences = jget(doc, "fences");
	fs = find_fence(fences, ctx_b, 1);
	is_int(jlen(fences), 5, "fences --all: the signaled one too");
	if (ok(fs != NULL, "fences --all: dctl-b's point 1")) {
		is_str(jstr(fs, "status"), "signaled", "fences --all: point 1 signaled");
		ok(jint(fs, "timestamp_ns") > 0, "fences --all: with its timestamp");
		snprintf(held, sizeof(held), "sync_file %" PRIu64, b->sf[1]);
		is_str(holders(fs), held, "fences --all: held by its sync_file");
	}
	jfree(doc);

	ctl(&o, (const char *[]){ "fences", NULL });
	snprintf(id, sizeof(id), "%lld:2 ", ctx_a);
	snprintf(dl, sizeof(dl), "deadline %" PRId64, scene.deadline);
	snprintf(held, sizeof(held), "buffer %" PRIu64 " (read)", scene.shared_ino);
	ok(has_line(o.out, (const char *[]){ id, "sw_sync", "dctl-a", "active", dl, held, NULL }),
	   "fences: the text's line of point 2");
	ok(has_line(o.out, (const char *[]){ "\"merge-ab\": active, 2 fences", NULL }),
	   "fences: the text's line of the merge");
	out_free(&o);
}

static void check_watch(void)
{
	struct out o;
	const char *p;
	int clears = 0;
	struct jv *doc;

	ctl(&o, (const char *[]){ "watch", "--interval=1", "--count=2", NULL });
	is_int(o.status, 0, "watch: exit status 0");
	for (p = o.out; p && (p = strstr(p, "\033[H\033[2J")); p++)
		clears++;
	is_int(clears, 2, "watch: the screen is cleared at each of two refreshes");
	ok(has_line(o.out, (const char *[]){ "Buffers: 5, 98304 bytes", "sync_files: 5",
					     "timelines: 3", "pending fences: 4", NULL }),
	   "watch: the summary line");
	ok(has_line(o.out, (const char *[]){ " 65536 ", "leak", NULL }),
	   "watch: the largest buffer is shown");
	out_free(&o);

	ctl(&o, (const char *[]){ "--json", "watch", "--count", "1", NULL });
	doc = jparse(o.out ? o.out : "");
	ok(doc != NULL, "watch --json --count 1: one JSON document");
	is_int(jint(doc, "buffers"), 5, "watch --json: buffers");
	is_int(jint(doc, "pending_fences"), 4, "watch --json: pending fences");
	is_int(jint(jlen(jget(doc, "top")) ? jget(doc, "top")->items[0] : NULL, "size"), 65536,
	       "watch --json: the largest buffer first");
	jfree(doc);
	out_free(&o);
}

static void nop_job(void *arg, struct dmabuf_swdev_buf *bufs, unsigned int nbufs)
{
}

/* The attachments of buffer @ino in a fresh `dmabufctl buffers --json`, or -1. */
static long long attachments_of(uint64_t ino)
{
	struct jv *doc = ctl_json("buffers", (const char *[]){ "buffers", NULL });
	const struct jv *b = jfind(jget(doc, "buffers"), "ino", (long long)ino);
	long long n = b ? jint(b, "attachments") : -1;

	jfree(doc);
	return n;
}

/* A software device attaches the buffers of a job while it runs (dmabuf/swdev.h). */
static void check_attachments(void)
{
	struct dmabuf_swdev *dev = NULL;
	int buf = dmabuf_fd_heap_alloc("system", 4096, O_RDWR | O_CLOEXEC, 0);
	int tl = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
	int in = tl < 0 ? tl : dmabuf_fd_sw_fence_create(tl, 1, "gate");
	struct dmabuf_swdev_buf b = { .fd = buf, .access = DMABUF_SWDEV_WRITE };
	struct dmabuf_swdev_job job = {
		.bufs = &b, .nbufs = 1, .in_fences = &in, .nin = 1, .fn = nop_job,
	};
	int f;

	if (buf < 0 || in < 0 || dmabuf_swdev_create("dctl-gpu", &dev))
		bail_out("attachments: setup");
	is_int(attachments_of(ino_of(buf)), 0, "attachments: none before a job");
	f = dmabuf_swdev_submit(dev, &job);
	ok(f >= 0, "attachments: a job waiting for its input fence");
	is_int(attachments_of(ino_of(buf)), 1, "attachments: the device is attached while it runs");
	dmabuf_fd_sw_timeline_inc(tl, 1);
	dmabuf_swdev_wait_idle(dev);
	is_int(attachments_of(ino_of(buf)), 0, "attachments: and detached when it is done");
	dmabuf_swdev_destroy(dev);
	close(f);
	close(in);
	close(tl);
	close(buf);
}

/*
 * More buffers and fences than one reply of the broker holds: each listed once.  The fences
 * are the points of as many timelines (a merge keeps one point per timeline), all merged
 * into one sync_file, whose fences then span two replies.
 */
static void check_paging(void)
{
	static int fds[PAGE_OBJECTS], tls[PAGE_OBJECTS];
	static uint64_t inos[PAGE_OBJECTS];
	const struct jv *bufs, *fences, *tl_list, *sf;
	int acc = -1, p, m;
	size_t held = 0;
	bool once = true;
	struct rlimit rl;
	struct jv *doc;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < PAGE_OBJECTS + 64) {
		rl.rlim_cur = rl.rlim_max;
		if (rl.rlim_max < PAGE_OBJECTS + 64 || setrlimit(RLIMIT_NOFILE, &rl)) {
			skip("paging: not enough descriptors (RLIMIT_NOFILE)");
			return;
		}
	}
	for (int i = 0; i < PAGE_OBJECTS; i++) {
		fds[i] = dmabuf_fd_heap_alloc("system", 4096, O_RDWR | O_CLOEXEC, 0);
		if (fds[i] < 0)
			bail_out("paging: allocation %d: %s", i, strerror(-fds[i]));
		inos[i] = ino_of(fds[i]);
	}
	doc = ctl_json("paging: buffers", (const char *[]){ "buffers", NULL });
	bufs = jget(doc, "buffers");
	for (int i = 0; i < PAGE_OBJECTS; i++) {
		const struct jv *b = jfind(bufs, "ino", (long long)inos[i]);

		once &= jcount(bufs, "ino", (long long)inos[i]) == 1;
		held += jint(b, "fds") == 1 && jint(b, "size") == 4096;
	}
	ok(once, "paging: each of %d buffers listed exactly once", PAGE_OBJECTS);
	is_int(held, PAGE_OBJECTS, "paging: each with its descriptor");
	jfree(doc);
	for (int i = 0; i < PAGE_OBJECTS; i++)
		close(fds[i]);

	for (int i = 0; i < PAGE_OBJECTS; i++) {
		tls[i] = dmabuf_fd_sw_timeline_create(O_CLOEXEC);
		p = dmabuf_fd_sw_fence_create(tls[i], 1, NULL);
		if (tls[i] < 0 || p < 0)
			bail_out("paging: cannot make timeline %d", i);
		m = acc < 0 ? p : dmabuf_fd_sync_merge("many", acc, p);
		if (m < 0)
			bail_out("paging: merge %d: %s", i, strerror(-m));
		if (acc >= 0) {
			close(acc);
			close(p);
		}
		acc = m;
	}
	doc = ctl_json("paging: timelines", (const char *[]){ "timelines", NULL });
	tl_list = jget(doc, "timelines");
	for (int i = 0; i < PAGE_OBJECTS; i++)
		inos[i] = (uint64_t)jint(jfind(tl_list, "ino", (long long)ino_of(tls[i])),
					 "context");
	jfree(doc);
	doc = ctl_json("paging: fences", (const char *[]){ "fences", NULL });
	fences = jget(doc, "fences");
	once = true;
	for (int i = 0; i < PAGE_OBJECTS; i++) {
		const struct jv *f = find_fence(fences, (long long)inos[i], 1);

		once &= f && jlen(jget(f, "holders")) == 1 &&
			jint(jget(f, "holders")->items[0], "sync_file") == (long long)ino_of(acc);
	}
	ok(once, "paging: each of %d fences of one sync_file listed once", PAGE_OBJECTS);
	sf = jfind(jget(doc, "sync_files"), "ino", (long long)ino_of(acc));
	is_int(jint(sf, "fences"), PAGE_OBJECTS, "paging: the sync_file's fence count");
	jfree(doc);
	close(acc);
	for (int i = 0; i < PAGE_OBJECTS; i++)
		close(tls[i]);
}

static void check_errors(void)
{
	char sock[128], arg[160];
	struct stat st;
	struct out o;

	ctl(&o, (const char *[]){ "--help", NULL });
	ok(o.status == 0 && strstr(o.out, "Usage: dmabufctl"), "--help: usage, exit status 0");
	out_free(&o);
	ctl(&o, (const char *[]){ "--version", NULL });
	ok(o.status == 0 && !strncmp(o.out, "dmabufctl ", 10), "--version: exit status 0");
	out_free(&o);
	ctl(&o, (const char *[]){ NULL });
	ok(o.status == 2 && strstr(o.err, "no command"), "no command: exit status 2");
	out_free(&o);
	ctl(&o, (const char *[]){ "frobnicate", NULL });
	ok(o.status == 2 && strstr(o.err, "unknown command 'frobnicate'"),
	   "unknown command: exit status 2");
	out_free(&o);
	ctl(&o, (const char *[]){ "buffers", "--count=3", NULL });
	ok(o.status == 2 && strstr(o.err, "--count"), "an option of another command: 2");
	out_free(&o);
	ctl(&o, (const char *[]){ "procs", "12ab", NULL });
	ok(o.status == 2 && strstr(o.err, "not a process id"), "procs with a bad PID: 2");
	out_free(&o);
	ctl(&o, (const char *[]){ "watch", "--interval=0", NULL });
	ok(o.status == 2 && strstr(o.err, "--interval"), "watch --interval=0: 2");
	out_free(&o);
	ctl(&o, (const char *[]){ "--socket", NULL });
	ok(o.status == 2 && strstr(o.err, "needs an argument"), "--socket without a path: 2");
	out_free(&o);

	/* nothing listens there: said clearly, exit status 1, and no broker started */
	snprintf(sock, sizeof(sock), "%s/nobody.sock", private_dir);
	snprintf(arg, sizeof(arg), "--socket=%s", sock);
	ctl(&o, (const char *[]){ arg, "buffers", NULL });
	ok(o.status == 1 && strstr(o.err, "no dmabufd is running") && strstr(o.err, sock),
	   "no broker: a clear message, exit status 1");
	ok(stat(sock, &st) && errno == ENOENT, "no broker: dmabufctl did not start one");
	out_free(&o);
}

/* procs PID of a process that does not exist: exit status 1. */
static void check_no_process(void)
{
	char arg[32];
	struct out o;
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(0);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	snprintf(arg, sizeof(arg), "%d", (int)pid);
	ctl(&o, (const char *[]){ "procs", arg, NULL });
	ok(o.status == 1 && strstr(o.err, "no process"), "procs of a gone process: exit status 1");
	out_free(&o);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		bail_out("usage: test_dmabufctl DMABUFCTL");
	ctl_path = argv[1];
	parent_pid = getpid();
	private_broker_setup();
	scene_start();

	check_buffers();
	check_procs();
	check_timelines();
	check_fences();
	check_watch();
	scene_end();

	check_attachments();
	check_paging();
	check_errors();
	check_no_process();
	is_int(sanitizer_reports, 0, "no sanitizer report from dmabufctl");
	return tap_done();
}

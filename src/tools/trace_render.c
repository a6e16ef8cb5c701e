// SPDX-License-Identifier: MIT
/*
 * trace_render.c - recorded events (src/client/trace.h) to a Chrome trace and an SVG timeline.
 *
 * Three steps: read every <pid>.jsonl of the directory (a small JSON parser: one flat object
 * per line; a line that does not parse is skipped), sort the events by time, and pair them
 * into slices (struct slice) and instants.  Both writers then work from those: the Chrome
 * trace as metadata, async and complete slices, flows and instants; the SVG as one lane per
 * process, a row per thread, slices stacked in sub-rows so that none overlaps another.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace_render.h"

/* ---- memory: everything of one rendering lives in an arena ---- */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	char data[];
};

struct arena {
	struct chunk *head;
};

#define CHUNK_MIN	(256 * 1024)

static void *arena_alloc(struct arena *a, size_t n)
{
	struct chunk *c = a->head;
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = a->head;
		c->used = 0;
		c->cap = cap;
		a->head = c;
	}
	p = c->data + c->used;
	c->used += n;
	return p;
}

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static void arena_free(struct arena *a)
{
	struct chunk *c, *next;

	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}

/* ---- events ---- */

/* A field besides ts, pid, tid, proc and ev: a string, or the JSON text of another value. */
struct field {
	const char *key;
	const char *val;
	bool str;
};

struct event {
	int64_t ts;
	int pid, tid;
	const char *proc;
	const char *ev;
	const struct field *f;
	unsigned int nf;
	size_t seq;		/* reading order: ties in time keep it */
	bool used;		/* an edge of a slice */
	bool flow_src;		/* a job's submission: drawn with its job (Chrome trace) */
};

#define FIELDS_MAX	64

static const char *fget(const struct event *e, const char *key)
{
	for (unsigned int i = 0; i < e->nf; i++)
		if (!strcmp(e->f[i].key, key))
			return e->f[i].val;
	return NULL;
}

static const char *fget_or(const struct event *e, const char *key, const char *dflt)
{
	const char *v = fget(e, key);

	return v ? v : dflt;
}

/* ---- JSON parsing ---- */

struct parser {
	const char *p, *end;
	struct arena *a;
};

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' ||
				   *ps->p == '\n'))
		ps->p++;
}

static int hex4(const char *p, const char *end)
{
	int v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static size_t put_utf8(char *out, unsigned int cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The string at ps->p (a '"'), decoded, in the arena (NULL: not a string, or no memory). */
static char *parse_string(struct parser *ps)
{
	const char *p = ps->p + 1;
	char *out, *o;
	int cp, lo;

	if (ps->p >= ps->end || *ps->p != '"')
		return NULL;
	/* decoded, a string is never longer than its text */
	out = arena_alloc(ps->a, (size_t)(ps->end - p) + 1);
	if (!out)
		return NULL;
	for (o = out; p < ps->end && *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p != '\\') {
			*o++ = *p;
			continue;
		}
		if (++p >= ps->end)
			return NULL;
		switch (*p) {
		case '"': case '\\': case '/':
			*o++ = *p;
			break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			cp = hex4(p + 1, ps->end);
			if (cp < 0)
				return NULL;
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && ps->end - p > 6 && p[1] == '\\' &&
			    p[2] == 'u' && (lo = hex4(p + 3, ps->end)) >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;	/* a lone surrogate */
			}
			o += put_utf8(o, (unsigned int)cp);
			break;
		default:
			return NULL;
		}
	}
	if (p >= ps->end)
		return NULL;
	*o = '\0';
	ps->p = p + 1;
	return out;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool skip_digits(struct parser *ps)
{
	const char *start = ps->p;

	while (ps->p < ps->end && is_digit(*ps->p))
		ps->p++;
	return ps->p > start;
}

static bool skip_number(struct parser *ps)
{
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '0')
		ps->p++;
	else if (!skip_digits(ps))
		return false;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (!skip_digits(ps))
			return false;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!skip_digits(ps))
			return false;
	}
	return true;
}

static bool skip_word(struct parser *ps, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n))
		return false;
	ps->p += n;
	return true;
}

/* Check and pass one value. */
static bool skip_value(struct parser *ps, int depth)
{
	char close;

	skip_ws(ps);
	if (ps->p >= ps->end || depth > 32)
		return false;
	switch (*ps->p) {
	case '"':
		return parse_string(ps) != NULL;
	case 't':
		return skip_word(ps, "true");
	case 'f':
		return skip_word(ps, "false");
	case 'n':
		return skip_word(ps, "null");
	case '{':
	case '[':
		close = *ps->p == '{' ? '}' : ']';
		ps->p++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return true;
		}
		for (;;) {
			if (close == '}') {
				skip_ws(ps);
				if (!parse_string(ps))
					return false;
				skip_ws(ps);
				if (ps->p >= ps->end || *ps->p++ != ':')
					return false;
			}
			if (!skip_value(ps, depth + 1))
				return false;
			skip_ws(ps);
			if (ps->p >= ps->end)
				return false;
			if (*ps->p == close) {
				ps->p++;
				return true;
			}
			if (*ps->p++ != ',')
				return false;
		}
	default:
		return skip_number(ps);
	}
}

/* An integer field's value (JSON text): true if it is one and fits. */
static bool to_int(const char *s, bool str, int64_t *out)
{
	char *end;
	long long v;

	if (str || !s)
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || end == s)
		return false;
	*out = v;
	return true;
}

/* One line: an object with ts, pid, tid (integers), proc and ev (strings).  False: skip it. */
static bool parse_line(struct parser *ps, struct event *e)
{
	struct field f[FIELDS_MAX];
	unsigned int n = 0;
	bool have_ts = false, have_pid = false, have_tid = false;
	struct field *out;
	const char *start;
	int64_t v;

	memset(e, 0, sizeof(*e));
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p++ != '{')
		return false;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}')
		return false;
	for (;;) {
		struct field cur;

		skip_ws(ps);
		cur.key = parse_string(ps);
		if (!cur.key)
			return false;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p++ != ':')
			return false;
		skip_ws(ps);
		start = ps->p;
		cur.str = ps->p < ps->end && *ps->p == '"';
		if (cur.str) {
			cur.val = parse_string(ps);
			if (!cur.val)
				return false;
		} else {
			if (!skip_value(ps, 0))
				return false;
			cur.val = arena_strndup(ps->a, start, (size_t)(ps->p - start));
			if (!cur.val)
				return false;
		}
		if (!strcmp(cur.key, "ts") && to_int(cur.val, cur.str, &v)) {
			e->ts = v;
			have_ts = true;
		} else if (!strcmp(cur.key, "pid") && to_int(cur.val, cur.str, &v)) {
			e->pid = (int)v;
			have_pid = true;
		} else if (!strcmp(cur.key, "tid") && to_int(cur.val, cur.str, &v)) {
			e->tid = (int)v;
			have_tid = true;
		} else if (!strcmp(cur.key, "proc") && cur.str) {
			e->proc = cur.val;
		} else if (!strcmp(cur.key, "ev") && cur.str) {
			e->ev = cur.val;
		} else if (n < FIELDS_MAX) {
			f[n++] = cur;
		}
		skip_ws(ps);
		if (ps->p >= ps->end)
			return false;
		if (*ps->p == '}')
			break;
		if (*ps->p++ != ',')
			return false;
	}
	ps->p++;
	skip_ws(ps);
	if (ps->p != ps->end || !have_ts || !have_pid || !have_tid || !e->proc || !e->ev)
		return false;
	out = arena_alloc(ps->a, n * sizeof(*out) + 1);
	if (!out)
		return false;
	memcpy(out, f, n * sizeof(*out));
	e->f = out;
	e->nf = n;
	return true;
}

/* ---- reading the directory ---- */

struct trace {
	struct arena a;
	struct event *ev;
	size_t nev, cap;
	size_t skipped;
};

static int add_event(struct trace *t, const struct event *e)
{
	if (t->nev == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		struct event *bigger = realloc(t->ev, cap * sizeof(*bigger));

		if (!bigger)
			return -ENOMEM;
		t->ev = bigger;
		t->cap = cap;
	}
	t->ev[t->nev] = *e;
	t->ev[t->nev].seq = t->nev;
	t->nev++;
	return 0;
}

/* The whole of file @name in @dirfd, in *@buf (malloc'd; *@len bytes).  0 or -errno. */
static int slurp(int dirfd, const char *name, char **buf, size_t *len)
{
	size_t cap = 64 * 1024, n = 0;
	char *b = malloc(cap), *bigger;
	ssize_t r;
	int fd, err = 0;

	if (!b)
		return -ENOMEM;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(b);
		return -errno;
	}
	for (;;) {
		if (n == cap) {
			bigger = realloc(b, cap * 2);
			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			b = bigger;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = -errno;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (err) {
		free(b);
		return err;
	}
	*buf = b;
	*len = n;
	return 0;
}

static int read_file(struct trace *t, int dirfd, const char *name)
{
	struct parser ps = { .a = &t->a };
	struct event e;
	char *buf = NULL, *line, *nl, *end;
	size_t len = 0;
	int ret;

	ret = slurp(dirfd, name, &buf, &len);
	if (ret)
		return ret;
	end = buf + len;
	for (line = buf; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		ps.p = line;
		ps.end = nl;
		skip_ws(&ps);
		if (ps.p == ps.end)
			continue;
		if (!parse_line(&ps, &e)) {
			t->skipped++;
			continue;
		}
		ret = add_event(t, &e);
		if (ret)
			break;
	}
	free(buf);
	return ret;
}

static bool is_trace_file(const char *name)
{
	size_t n = strlen(name);

	return n > 6 && !strcmp(name + n - 6, ".jsonl");
}

static int cmp_names(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	long lx = strtol(x, NULL, 10), ly = strtol(y, NULL, 10);

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x, y);
}

/* Every *.jsonl of @dir, in the order of their names (pids). */
static int read_dir(struct trace *t, const char *dir)
{
	char **names = NULL, **bigger;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!is_trace_file(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			bigger = realloc(names, cap * sizeof(*names));
			if (!bigger) {
				ret = -ENOMEM;
				goto out;
			}
			names = bigger;
		}
		names[n] = arena_strndup(&t->a, de->d_name, strlen(de->d_name));
		if (!names[n]) {
			ret = -ENOMEM;
			goto out;
		}
		n++;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n && !ret; i++)
		ret = read_file(t, dirfd(d), names[i]);
out:
	free(names);
	closedir(d);
	return ret;
}

static int cmp_events(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ---- a string map: key -> long (-1: none) ---- */

struct map_ent {
	const char *key;
	long val;
};

struct map {
	struct map_ent *e;
	size_t cap, n;
	struct arena *a;
};

static size_t str_hash(const char *s)
{
	size_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static int map_grow(struct map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 256, i, j;
	struct map_ent *e = calloc(cap, sizeof(*e));

	if (!e)
		return -ENOMEM;
	for (i = 0; i < m->cap; i++) {
		if (!m->e[i].key)
			continue;
		for (j = str_hash(m->e[i].key) & (cap - 1); e[j].key; j = (j + 1) & (cap - 1))
			;
		e[j] = m->e[i];
	}
	free(m->e);
	m->e = e;
	m->cap = cap;
	return 0;
}

/* The value of @key (created as -1 if @create), or NULL. */
static long *map_get(struct map *m, const char *key, bool create)
{
	size_t j;

	if (m->cap) {
		for (j = str_hash(key) & (m->cap - 1); m->e[j].key; j = (j + 1) & (m->cap - 1))
			if (!strcmp(m->e[j].key, key))
				return &m->e[j].val;
	}
	if (!create)
		return NULL;
	if ((m->n + 1) * 2 > m->cap && map_grow(m))
		return NULL;
	for (j = str_hash(key) & (m->cap - 1); m->e[j].key; j = (j + 1) & (m->cap - 1))
		;
	m->e[j].key = arena_strndup(m->a, key, strlen(key));
	if (!m->e[j].key)
		return NULL;
	m->e[j].val = -1;
	m->n++;
	return &m->e[j].val;
}

static void map_free(struct map *m)
{
	free(m->e);
	m->e = NULL;
	m->cap = m->n = 0;
}

/* ---- slices ---- */

enum kind { K_SYNC, K_WAIT, K_JOB, K_FENCE, K_BUF, K_NKINDS };

static const char *const kind_cat[K_NKINDS] = { "sync", "wait", "job", "fence", "buffer" };

struct slice {
	enum kind kind;
	int pid, tid;
	int64_t t0, t1;
	const struct event *b, *e;	/* e NULL: unfinished */
	const char *name;
	const char *sub;		/* the flags of a SYNC bracket: its colour */
	const char *fence;		/* the fences of the sync_file a wait or job is on */
	const char *label;		/* a buffer's name */
	const struct event *flow;	/* a job's submission */
	long prev;			/* the next older open slice of the same key */
	int row;			/* SVG sub-row */
	int lane;			/* Chrome async track of its process and kind */
};

struct proc;

struct thread {
	int tid;
	int64_t first;
	struct proc *proc;
	int rows;		/* SVG sub-rows of slices */
	double y;		/* SVG: top of the row */
};

struct proc {
	int pid;
	const char *name;
	int64_t first;
	struct thread *th;
	size_t nth;
	double y, h;
};

struct model {
	struct trace t;
	struct slice *sl;
	size_t nsl, capsl;
	struct proc *pr;
	size_t npr;
	size_t nthreads;
	int64_t t0, t1;
	struct map open;	/* key -> the innermost open slice */
	struct map sf;		/* sync_file inode -> its sf_create event */
	struct map gone;	/* fence -> 1 once it signaled */
	struct map submit;	/* pid/dev/job -> the job_submit event */
};

static struct proc *proc_of(struct model *m, int pid)
{
	for (size_t i = 0; i < m->npr; i++)
		if (m->pr[i].pid == pid)
			return &m->pr[i];
	return NULL;
}

static struct thread *thread_of(struct model *m, int pid, int tid)
{
	struct proc *p = proc_of(m, pid);

	for (size_t i = 0; p && i < p->nth; i++)
		if (p->th[i].tid == tid)
			return &p->th[i];
	return NULL;
}

/* Processes and threads, in order of their first event (the events are sorted). */
static int collect_threads(struct model *m)
{
	struct proc *p, *bigger;
	struct thread *th;

	for (size_t i = 0; i < m->t.nev; i++) {
		const struct event *e = &m->t.ev[i];

		p = proc_of(m, e->pid);
		if (!p) {
			bigger = realloc(m->pr, (m->npr + 1) * sizeof(*bigger));
			if (!bigger)
				return -ENOMEM;
			m->pr = bigger;
			p = &m->pr[m->npr++];
			memset(p, 0, sizeof(*p));
			p->pid = e->pid;
			p->first = e->ts;
		}
		p->name = e->proc;	/* the latest: exec renames */
		if (thread_of(m, e->pid, e->tid))
			continue;
		th = realloc(p->th, (p->nth + 1) * sizeof(*th));
		if (!th)
			return -ENOMEM;
		p->th = th;
		th = &p->th[p->nth++];
		memset(th, 0, sizeof(*th));
		th->tid = e->tid;
		th->first = e->ts;
		m->nthreads++;
	}
	for (size_t i = 0; i < m->npr; i++)
		for (size_t j = 0; j < m->pr[i].nth; j++)
			m->pr[i].th[j].proc = &m->pr[i];
	return 0;
}

static char *fmt(struct model *m, const char *f, ...) __attribute__((format(printf, 2, 3)));

static char *fmt(struct model *m, const char *f, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	return arena_strndup(&m->t.a, buf, (size_t)n);
}

/* Open a slice of @kind at @e under @key.  Its index, or -1. */
static long slice_open(struct model *m, enum kind kind, const char *key, const struct event *e,
		       const char *name)
{
	struct slice *s, *bigger;
	long *top;

	if (m->nsl == m->capsl) {
		size_t cap = m->capsl ? m->capsl * 2 : 256;

		bigger = realloc(m->sl, cap * sizeof(*bigger));
		if (!bigger)
			return -1;
		m->sl = bigger;
		m->capsl = cap;
	}
	top = map_get(&m->open, key, true);
	if (!top || !name)
		return -1;
	s = &m->sl[m->nsl];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->pid = e->pid;
	s->tid = e->tid;
	s->t0 = e->ts;
	s->b = e;
	s->name = name;
	s->prev = *top;
	*top = (long)m->nsl;
	((struct event *)e)->used = true;
	return (long)m->nsl++;
}

/* Close the innermost open slice of @key at @e.  The slice, or NULL (none open). */
static struct slice *slice_close(struct model *m, const char *key, const struct event *e)
{
	long *top = map_get(&m->open, key, false);
	struct slice *s;

	if (!top || *top < 0)
		return NULL;
	s = &m->sl[*top];
	*top = s->prev;
	s->t1 = e->ts;
	s->e = e;
	((struct event *)e)->used = true;
	return s;
}

static bool is_open(struct model *m, const char *key)
{
	long *top = map_get(&m->open, key, false);

	return top && *top >= 0;
}

/* The fences of sync_file @sf as the broker said when it made it, or NULL. */
static const char *sf_fences(struct model *m, const char *sf)
{
	long *v = sf ? map_get(&m->sf, sf, false) : NULL;

	return v && *v >= 0 ? fget(&m->t.ev[*v], "fences") : NULL;
}

/* A fence becomes pending at @e: its slice opens, once. */
static void fence_pending(struct model *m, const char *id, const struct event *e)
{
	char key[96];
	long *gone = map_get(&m->gone, id, false);

	snprintf(key, sizeof(key), "fence/%s", id);
	if ((gone && *gone > 0) || is_open(m, key))
		return;
	slice_open(m, K_FENCE, key, e, fmt(m, "fence %s", id));
}

/* Each fence of the comma-separated @list becomes pending at @e. */
static void fences_pending(struct model *m, const char *list, const struct event *e)
{
	char id[64];
	size_t n;

	while (list && *list) {
		n = strcspn(list, ",");
		if (n && n < sizeof(id)) {
			memcpy(id, list, n);
			id[n] = '\0';
			fence_pending(m, id, e);
		}
		list += n + (list[n] == ',');
	}
}

static void pair_event(struct model *m, size_t idx)
{
	const struct event *e = &m->t.ev[idx];
	const char *ev = e->ev, *buf = fget_or(e, "buf", "?");
	char key[160];
	long i, *v;

	if (!strcmp(ev, "sync_start") || !strcmp(ev, "sync_end")) {
		snprintf(key, sizeof(key), "sync/%d/%s", e->pid, buf);
		if (ev[5] == 's') {
			i = slice_open(m, K_SYNC, key, e, fmt(m, "sync %s buf %s",
							      fget_or(e, "flags", ""), buf));
			if (i >= 0)
				m->sl[i].sub = fget_or(e, "flags", "");
		} else {
			slice_close(m, key, e);
		}
	} else if (!strcmp(ev, "wait_begin") || !strcmp(ev, "wait_end")) {
		snprintf(key, sizeof(key), "wait/%d/%d", e->pid, e->tid);
		if (ev[5] == 'b') {
			const char *what = fget_or(e, "what", "?");
			const char *events = fget_or(e, "events", "");

			i = slice_open(m, K_WAIT, key, e, fmt(m, "wait %s %s%s%s", what,
					fget_or(e, "id", "?"), *events ? " " : "", events));
			if (i >= 0 && !strcmp(what, "sf"))
				m->sl[i].fence = sf_fences(m, fget(e, "id"));
		} else {
			slice_close(m, key, e);
		}
	} else if (!strncmp(ev, "job_", 4)) {
		const char *dev = fget_or(e, "dev", "?"), *job = fget_or(e, "job", "?");

		snprintf(key, sizeof(key), "job/%d/%s/%s", e->pid, dev, job);
		if (!strcmp(ev, "job_submit")) {
			v = map_get(&m->submit, key, true);
			if (v)
				*v = (long)idx;
		} else if (!strcmp(ev, "job_begin")) {
			i = slice_open(m, K_JOB, key, e, fmt(m, "job %s %s", dev, job));
			v = map_get(&m->submit, key, false);
			if (i >= 0 && v && *v >= 0) {
				m->sl[i].flow = &m->t.ev[*v];
				m->t.ev[*v].flow_src = true;
			}
			if (i >= 0)
				m->sl[i].fence = sf_fences(m, fget(e, "sf"));
		} else if (!strcmp(ev, "job_end")) {
			slice_close(m, key, e);
		}
	} else if (!strcmp(ev, "sf_create")) {
		v = map_get(&m->sf, fget_or(e, "sf", "?"), true);
		if (v)
			*v = (long)idx;
		fences_pending(m, fget(e, "pending"), e);
	} else if (!strcmp(ev, "fence_add")) {
		if (strcmp(fget_or(e, "pending", "1"), "0"))
			fence_pending(m, fget_or(e, "fence", "?"), e);
	} else if (!strcmp(ev, "fence_signal")) {
		const char *id = fget_or(e, "fence", "?");

		snprintf(key, sizeof(key), "fence/%s", id);
		slice_close(m, key, e);
		v = map_get(&m->gone, id, true);
		if (v)
			*v = 1;
	} else if (!strcmp(ev, "buf_create")) {
		snprintf(key, sizeof(key), "buf/%s", buf);
		slice_open(m, K_BUF, key, e, fmt(m, "buf %s (%s B, %s)", buf,
						 fget_or(e, "size", "?"),
						 *fget_or(e, "heap", "") ? fget(e, "heap") :
						 fget_or(e, "exporter", "?")));
	} else if (!strcmp(ev, "buf_release")) {
		snprintf(key, sizeof(key), "buf/%s", buf);
		slice_close(m, key, e);
	} else if (!strcmp(ev, "buf_name")) {
		snprintf(key, sizeof(key), "buf/%s", buf);
		v = map_get(&m->open, key, false);
		if (v && *v >= 0)
			m->sl[*v].label = fget(e, "name");
	}
}

static int build(struct model *m, const char *dir)
{
	int ret;

	m->open.a = m->sf.a = m->gone.a = m->submit.a = &m->t.a;
	ret = read_dir(&m->t, dir);
	if (ret)
		return ret;
	if (!m->t.nev)
		return -ENODATA;
	qsort(m->t.ev, m->t.nev, sizeof(*m->t.ev), cmp_events);
	m->t0 = m->t.ev[0].ts;
	m->t1 = m->t.ev[m->t.nev - 1].ts;
	ret = collect_threads(m);
	if (ret)
		return ret;
	for (size_t i = 0; i < m->t.nev; i++)
		pair_event(m, i);
	/* what is still open ends with the trace */
	for (size_t i = 0; i < m->nsl; i++)
		if (!m->sl[i].e)
			m->sl[i].t1 = m->t1;
	return 0;
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->npr; i++)
		free(m->pr[i].th);
	free(m->pr);
	free(m->sl);
	free(m->t.ev);
	map_free(&m->open);
	map_free(&m->sf);
	map_free(&m->gone);
	map_free(&m->submit);
	arena_free(&m->t.a);
}

/* Slices by start, the longer first. */
static int compare_slices(const void *a, const void *b, void *ctx)
{
	const struct slice *sl = ctx;
	const struct slice *x = &sl[*(const size_t *)a], *y = &sl[*(const size_t *)b];

	if (x->t0 != y->t0)
		return x->t0 < y->t0 ? -1 : 1;
	return x->t1 > y->t1 ? -1 : x->t1 < y->t1;
}

/* ---- output helpers ---- */

/* Length of the valid UTF-8 sequence at @s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* @s as a JSON string, quotes included. */
static void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k;

	fputc('"', f);
	while (*p) {
		k = utf8_len(p);
		if (k == 1 && (*p == '"' || *p == '\\'))
			fprintf(f, "\\%c", *p);
		else if (k == 0 || *p < 0x20)
			fprintf(f, "\\u%04x", *p), k = 1;
		else
			fwrite(p, 1, k, f);
		p += k;
	}
	fputc('"', f);
}

/* @s as XML character data or an attribute value. */
static void xml_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k;

	while (*p) {
		k = utf8_len(p);
		if (k == 0 || (*p < 0x20 && *p != '\t')) {
			fputc('?', f);
			k = 1;
		} else if (*p == '<') {
			fputs("&lt;", f);
		} else if (*p == '>') {
			fputs("&gt;", f);
		} else if (*p == '&') {
			fputs("&amp;", f);
		} else if (*p == '"') {
			fputs("&quot;", f);
		} else if (*p == '\'') {
			fputs("&apos;", f);
		} else {
			fwrite(p, 1, k, f);
		}
		p += k;
	}
}

/* Microseconds since the start, for the Chrome trace. */
static void us(FILE *f, const struct model *m, int64_t ts)
{
	int64_t d = ts - m->t0;

	fprintf(f, "%lld.%03lld", (long long)(d / 1000), (long long)(d % 1000));
}

/* ---- the Chrome trace ---- */

/* The writer: entries are separated by commas. */
struct jw {
	FILE *f;
	struct model *m;
	bool first;
};

/* The fields of @e, those of @also not already there, and what the slice adds, as "args". */
static void json_args(FILE *f, const struct event *e, const struct event *also,
		      const struct slice *s)
{
	bool first = true;

	fputs("\"args\":{", f);
	for (int pass = 0; pass < 2; pass++) {
		const struct event *x = pass ? also : e;

		for (unsigned int i = 0; x && i < x->nf; i++) {
			if (pass && fget(e, x->f[i].key))
				continue;
			if (!first)
				fputc(',', f);
			first = false;
			json_str(f, x->f[i].key);
			fputc(':', f);
			if (x->f[i].str)
				json_str(f, x->f[i].val);
			else
				fputs(x->f[i].val, f);
		}
	}
	if (s && s->fence) {
		fprintf(f, "%s\"fence\":", first ? "" : ",");
		json_str(f, s->fence);
		first = false;
	}
	if (s && s->label) {
		fprintf(f, "%s\"name\":", first ? "" : ",");
		json_str(f, s->label);
		first = false;
	}
	if (s && !s->e)
		fprintf(f, "%s\"unfinished\":true", first ? "" : ",");
	fputc('}', f);
}

static void json_head(struct jw *w, const char *ph, const char *name, const char *cat, int pid,
		      int tid, int64_t ts)
{
	FILE *f = w->f;

	fprintf(f, "%s{\"ph\":\"%s\",\"name\":", w->first ? "" : ",\n", ph);
	w->first = false;
	json_str(f, name);
	fprintf(f, ",\"cat\":\"%s\",\"pid\":%d,\"tid\":%d,\"ts\":", cat, pid, tid);
	us(f, w->m, ts);
}

static void json_dur(FILE *f, int64_t ns)
{
	fprintf(f, ",\"dur\":%lld.%03lld", (long long)(ns / 1000), (long long)(ns % 1000));
}

/* A wait or a job: a complete slice of its thread; a job's submission flows into it. */
static void json_complete(struct jw *w, const struct slice *s, const char *name, size_t id)
{
	FILE *f = w->f;

	if (s->flow) {
		json_head(w, "X", "job_submit", "job", s->flow->pid, s->flow->tid, s->flow->ts);
		json_dur(f, 0);
		fprintf(f, ",\"bind_id\":%zu,\"flow_out\":true,", id);
		json_args(f, s->flow, NULL, NULL);
		fputc('}', f);
	}
	json_head(w, "X", name, kind_cat[s->kind], s->pid, s->tid, s->t0);
	json_dur(f, s->t1 - s->t0);
	if (s->flow)
		fprintf(f, ",\"bind_id\":%zu,\"flow_in\":true", id);
	fputc(',', f);
	json_args(f, s->b, s->e, s);
	fputc('}', f);
}

/*
 * SYNC brackets, fences, buffers: nestable async slices of their process, on tracks ("id")
 * that never hold two slices at once (struct slice.lane).
 */
static void json_async(struct jw *w, const struct slice *s, const char *name)
{
	const char *cat = kind_cat[s->kind];
	FILE *f = w->f;

	json_head(w, "b", name, cat, s->pid, s->tid, s->t0);
	fprintf(f, ",\"id\":\"%s-%d\",", cat, s->lane);
	json_args(f, s->b, s->e, s);
	fputc('}', f);
	json_head(w, "e", name, cat, s->pid, s->e ? s->e->tid : s->tid, s->t1);
	fprintf(f, ",\"id\":\"%s-%d\"}", cat, s->lane);
}

static void json_slice(struct jw *w, const struct slice *s, size_t id)
{
	const char *name = s->name;

	if (s->label)
		name = fmt(w->m, "%s \"%s\"", s->name, s->label);
	if (!name)
		name = s->name;
	if (s->kind == K_WAIT || s->kind == K_JOB)
		json_complete(w, s, name, id);
	else
		json_async(w, s, name);
}

static void json_meta(struct jw *w)
{
	FILE *f = w->f;

	for (size_t i = 0; i < w->m->npr; i++) {
		const struct proc *p = &w->m->pr[i];

		fprintf(f, "%s{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"tid\":0,"
			"\"args\":{\"name\":", w->first ? "" : ",\n", p->pid);
		w->first = false;
		json_str(f, p->name);
		fprintf(f, "}},\n{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":%d,"
			"\"tid\":0,\"args\":{\"sort_index\":%zu}}", p->pid, i);
		for (size_t j = 0; j < p->nth; j++) {
			fprintf(f, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,"
				"\"tid\":%d,\"args\":{\"name\":", p->pid, p->th[j].tid);
			if (p->th[j].tid == p->pid)
				json_str(f, p->name);
			else
				fprintf(f, "\"thread %d\"", p->th[j].tid);
			fputs("}}", f);
		}
	}
}

/* Async tracks: per process and kind, each slice on the first track free when it starts. */
static int async_lanes(struct model *m)
{
	size_t *order = malloc((m->nsl ? m->nsl : 1) * sizeof(*order));
	int64_t *ends = NULL, *bigger;
	int n, cap = 0;

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < m->nsl; i++)
		order[i] = i;
	qsort_r(order, m->nsl, sizeof(*order), compare_slices, m->sl);
	for (size_t pi = 0; pi < m->npr; pi++) {
		for (int k = 0; k < K_NKINDS; k++) {
			n = 0;
			for (size_t i = 0; i < m->nsl; i++) {
				struct slice *s = &m->sl[order[i]];
				int l;

				if (s->pid != m->pr[pi].pid || (int)s->kind != k)
					continue;
				for (l = 0; l < n && ends[l] > s->t0; l++)
					;
				if (l == n && n == cap) {
					cap = cap ? cap * 2 : 16;
					bigger = realloc(ends, (size_t)cap * sizeof(*ends));
					if (!bigger) {
						free(ends);
						free(order);
						return -ENOMEM;
					}
					ends = bigger;
				}
				if (l == n)
					n++;
				/* an empty slice still takes its track at that instant */
				ends[l] = s->t1 > s->t0 ? s->t1 : s->t0 + 1;
				s->lane = l;
			}
		}
	}
	free(ends);
	free(order);
	return 0;
}

static int write_json(struct model *m, const char *path)
{
	struct jw w = { .m = m, .first = true };
	int ret;

	ret = async_lanes(m);
	if (ret)
		return ret;
	w.f = fopen(path, "w");
	if (!w.f)
		return -errno;
	fprintf(w.f, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"generator\":"
		"\"libdmabuf trace_render\",\"t0_ns\":%lld},\n\"traceEvents\":[\n",
		(long long)m->t0);
	json_meta(&w);
	for (size_t i = 0; i < m->nsl; i++)
		json_slice(&w, &m->sl[i], i + 1);
	for (size_t i = 0; i < m->t.nev; i++) {
		const struct event *e = &m->t.ev[i];

		if (e->used || e->flow_src)
			continue;
		json_head(&w, "i", e->ev, "event", e->pid, e->tid, e->ts);
		fputs(",\"s\":\"t\",", w.f);
		json_args(w.f, e, NULL, NULL);
		fputc('}', w.f);
	}
	fputs("\n]}\n", w.f);
	ret = ferror(w.f) ? -EIO : 0;
	if (fclose(w.f) && !ret)
		ret = -errno;
	return ret;
}

/* ---- the SVG timeline ---- */

#define SVG_W		1600.0
#define LABEL_W		230.0
#define PLOT_W		(SVG_W - LABEL_W - 20.0)
#define AXIS_Y		70.0
#define PROC_HEAD	18.0
#define TICK_H		10.0	/* a row's strip of instants */
#define SUB_H		12.0	/* a sub-row of slices */
#define ROW_GAP		6.0

static double x_of(const struct model *m, int64_t ts)
{
	int64_t span = m->t1 - m->t0;

	if (span < 1000)
		span = 1000;
	return LABEL_W + (double)(ts - m->t0) * PLOT_W / (double)span;
}

static const char *slice_color(const struct slice *s)
{
	switch (s->kind) {
	case K_SYNC:
		if (!strcmp(s->sub, "READ"))
			return "#4e9a06";
		if (!strcmp(s->sub, "WRITE"))
			return "#cc0000";
		return "#f57900";
	case K_WAIT:
		return "#3465a4";
	case K_JOB:
		return "#75507b";
	case K_FENCE:
		return "#edd400";
	default:
		return "#babdb6";
	}
}

struct instant_kind {
	const char *prefix;
	const char *color;
	const char *label;
};

static const struct instant_kind instant_kinds[] = {
	{ "buf_", "#2e3436", "buffer create/name/release" },
	{ "fence_add", "#c4a000", "fence added to a buffer" },
	{ "fence_signal", "#8f5902", "fence signaled" },
	{ "export", "#06989a", "EXPORT_SYNC_FILE" },
	{ "import", "#204a87", "IMPORT_SYNC_FILE" },
	{ "sf_create", "#888a85", "sync_file made" },
	{ "attach", "#5c3566", "attach / detach" },
	{ "detach", "#5c3566", NULL },
	{ "job_", "#ad7fa8", "job submitted" },
	{ "", "#000000", "other" },
};

static const struct instant_kind *instant_kind(const char *ev)
{
	size_t i;

	for (i = 0; instant_kinds[i].prefix[0]; i++)
		if (!strncmp(ev, instant_kinds[i].prefix, strlen(instant_kinds[i].prefix)))
			return &instant_kinds[i];
	return &instant_kinds[i];
}

/* Sub-rows: the slices of a thread, each in the first sub-row free where it starts. */
static int svg_layout(struct model *m, double *height)
{
	size_t *order = malloc((m->nsl ? m->nsl : 1) * sizeof(*order));
	int64_t *ends = NULL, *bigger;
	double y = AXIS_Y + 14.0;
	int cap = 0;

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < m->nsl; i++)
		order[i] = i;
	qsort_r(order, m->nsl, sizeof(*order), compare_slices, m->sl);
	for (size_t pi = 0; pi < m->npr; pi++) {
		struct proc *p = &m->pr[pi];

		p->y = y;
		y += PROC_HEAD;
		for (size_t ti = 0; ti < p->nth; ti++) {
			struct thread *th = &p->th[ti];

			th->rows = 0;
			for (size_t k = 0; k < m->nsl; k++) {
				struct slice *s = &m->sl[order[k]];
				int r;

				if (s->pid != p->pid || s->tid != th->tid)
					continue;
				/* in time: what only touches at this zoom shares a row */
				for (r = 0; r < th->rows && ends[r] > s->t0; r++)
					;
				if (r == th->rows) {
					if (th->rows == cap) {
						cap = cap ? cap * 2 : 16;
						bigger = realloc(ends, (size_t)cap * sizeof(*ends));
						if (!bigger) {
							free(ends);
							free(order);
							return -ENOMEM;
						}
						ends = bigger;
					}
					th->rows++;
				}
				ends[r] = s->t1 > s->t0 ? s->t1 : s->t0 + 1;
				s->row = r;
			}
			th->y = y;
			y += TICK_H + th->rows * SUB_H + ROW_GAP;
		}
		p->h = y - p->y;
		y += 4.0;
	}
	free(ends);
	free(order);
	*height = y;
	return 0;
}

/* A nice step for about ten ticks over @span ns: 1, 2 or 5 times a power of ten. */
static int64_t tick_step(int64_t span)
{
	int64_t step = 1000;	/* 1 us */

	for (;;) {
		if (step * 10 >= span)
			return step;
		if (step * 2 * 10 >= span)
			return step * 2;
		if (step * 5 * 10 >= span)
			return step * 5;
		step *= 10;
	}
}

static void svg_axis(FILE *f, const struct model *m, double height)
{
	int64_t span = m->t1 - m->t0, step = tick_step(span > 1000 ? span : 1000), t;
	int decimals = 0;

	for (int64_t s = step; s < 1000000 && decimals < 6; s *= 10)
		decimals++;
	fprintf(f, "<g class=\"axis\" font-size=\"11\" fill=\"#555\">\n");
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n",
		LABEL_W, AXIS_Y, LABEL_W + PLOT_W, AXIS_Y);
	for (t = 0; t <= span; t += step) {
		double x = x_of(m, m->t0 + t);

		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
			"stroke=\"#000\" stroke-opacity=\"0.1\"/>\n", x, AXIS_Y, x, height);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f ms</text>\n",
			x, AXIS_Y - 6, decimals, (double)t / 1e6);
	}
	fprintf(f, "</g>\n");
}

/* What @e says, for a tooltip. */
static void svg_fields(FILE *f, const struct event *e)
{
	for (unsigned int i = 0; e && i < e->nf; i++) {
		fputs(i ? ", " : " ", f);
		xml_str(f, e->f[i].key);
		fputc('=', f);
		xml_str(f, e->f[i].val);
	}
}

static void svg_slice(FILE *f, const struct model *m, const struct slice *s,
		      const struct thread *th)
{
	double x0 = x_of(m, s->t0), x1 = x_of(m, s->t1), w = x1 - x0;
	double y = th->y + TICK_H + s->row * SUB_H;
	const char *text;

	if (w < 1.0)
		w = 1.0;
	fprintf(f, "<rect class=\"slice %s\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
		"fill=\"%s\" stroke=\"#000\" stroke-opacity=\"0.35\" stroke-width=\"0.5\"><title>",
		kind_cat[s->kind], x0, y + 1, w, SUB_H - 2, slice_color(s));
	xml_str(f, s->name);
	if (s->label) {
		fputs(" \"", f);
		xml_str(f, s->label);
		fputc('"', f);
	}
	fprintf(f, ": %.3f ms at %.3f ms", (double)(s->t1 - s->t0) / 1e6,
		(double)(s->t0 - m->t0) / 1e6);
	if (s->fence) {
		fputs(", fence ", f);
		xml_str(f, s->fence);
	}
	if (!s->e)
		fputs(", unfinished", f);
	svg_fields(f, s->e);
	fputs("</title></rect>\n", f);
	/* its name where there is room for it (about 5.5 pixels a character) */
	text = s->label ? s->label : s->name;
	if ((double)strlen(text) * 5.5 + 4.0 < w) {
		fprintf(f, "<text x=\"%.2f\" y=\"%.1f\" font-size=\"9\">", x0 + 2,
			y + SUB_H - 3);
		xml_str(f, text);
		fputs("</text>\n", f);
	}
}

static void svg_instant(FILE *f, const struct model *m, const struct event *e,
			const struct thread *th)
{
	double x = x_of(m, e->ts);

	fprintf(f, "<line class=\"instant\" x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" "
		"stroke=\"%s\" stroke-width=\"1.5\"><title>", x, th->y + 1, x, th->y + TICK_H - 1,
		instant_kind(e->ev)->color);
	xml_str(f, e->ev);
	fprintf(f, " at %.3f ms:", (double)(e->ts - m->t0) / 1e6);
	svg_fields(f, e);
	fputs("</title></line>\n", f);
}

static void svg_lane(FILE *f, const struct model *m, size_t pi)
{
	const struct proc *p = &m->pr[pi];

	fprintf(f, "<g class=\"lane\" data-pid=\"%d\" data-name=\"", p->pid);
	xml_str(f, p->name);
	fprintf(f, "\">\n<rect x=\"0\" y=\"%.1f\" width=\"%.0f\" height=\"%.1f\" fill=\"%s\"/>\n",
		p->y, SVG_W, p->h, pi % 2 ? "#ffffff" : "#f3f3f3");
	fprintf(f, "<text x=\"6\" y=\"%.1f\" font-size=\"12\" font-weight=\"bold\">", p->y + 13);
	xml_str(f, p->name);
	fprintf(f, " (pid %d)</text>\n", p->pid);
	for (size_t ti = 0; ti < p->nth; ti++) {
		const struct thread *th = &p->th[ti];

		fprintf(f, "<g class=\"row\" data-tid=\"%d\">\n", th->tid);
		fprintf(f, "<text x=\"16\" y=\"%.1f\" font-size=\"10\" fill=\"#444\">"
			"%s %d</text>\n", th->y + 9, th->tid == p->pid ? "main thread" : "thread",
			th->tid);
		for (size_t k = 0; k < m->nsl; k++)
			if (m->sl[k].pid == p->pid && m->sl[k].tid == th->tid)
				svg_slice(f, m, &m->sl[k], th);
		for (size_t k = 0; k < m->t.nev; k++) {
			const struct event *e = &m->t.ev[k];

			if (!e->used && e->pid == p->pid && e->tid == th->tid)
				svg_instant(f, m, e, th);
		}
		fputs("</g>\n", f);
	}
	fputs("</g>\n", f);
}

/* Room for a legend entry: its mark and its label (about 6.5 pixels a character). */
static double legend_width(const char *label)
{
	return 40.0 + (double)strlen(label) * 6.5;
}

static void svg_legend(FILE *f, double y)
{
	static const char *const slices[][2] = {
		{ "#4e9a06", "SYNC READ bracket" }, { "#cc0000", "SYNC WRITE bracket" },
		{ "#f57900", "SYNC RW bracket" }, { "#3465a4", "wait" },
		{ "#75507b", "device job" }, { "#edd400", "fence pending" },
		{ "#babdb6", "buffer alive" },
	};
	double x = LABEL_W;

	fprintf(f, "<g class=\"legend\" font-size=\"11\">\n");
	fprintf(f, "<text x=\"6\" y=\"%.1f\" font-weight=\"bold\">Legend</text>\n", y + 10);
	for (size_t i = 0; i < sizeof(slices) / sizeof(slices[0]); i++) {
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"%s\" "
			"stroke=\"#000\" stroke-opacity=\"0.35\"/>", x, y + 1, slices[i][0]);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 18, y + 10, slices[i][1]);
		x += legend_width(slices[i][1]);
	}
	x = LABEL_W;
	for (size_t i = 0; i < sizeof(instant_kinds) / sizeof(instant_kinds[0]); i++) {
		if (!instant_kinds[i].label)
			continue;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
			"stroke-width=\"2\"/>", x + 6, y + 18, x + 6, y + 28,
			instant_kinds[i].color);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 14, y + 27,
			instant_kinds[i].label);
		x += legend_width(instant_kinds[i].label);
		if (x > SVG_W - 200) {
			x = LABEL_W;
			y += 14;
		}
	}
	fputs("</g>\n", f);
}

static int write_svg(struct model *m, const char *path)
{
	double height;
	FILE *f;
	int ret;

	ret = svg_layout(m, &height);
	if (ret)
		return ret;
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n",
		SVG_W, height + 60, SVG_W, height + 60);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
	fprintf(f, "<text x=\"6\" y=\"22\" font-size=\"16\" font-weight=\"bold\">"
		"libdmabuf trace</text>\n");
	fprintf(f, "<text x=\"6\" y=\"40\" font-size=\"11\" fill=\"#444\">%zu events, %zu "
		"processes, %zu threads, %.3f ms; hover a mark for its details</text>\n",
		m->t.nev, m->npr, m->nthreads, (double)(m->t1 - m->t0) / 1e6);
	for (size_t i = 0; i < m->npr; i++)
		svg_lane(f, m, i);
	svg_axis(f, m, height);
	svg_legend(f, height + 6);
	fputs("</svg>\n", f);
	ret = ferror(f) ? -EIO : 0;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

int dmabuf_trace_render_summary(const char *dir, const char *json_path, const char *svg_path,
				struct dmabuf_trace_summary *sum)
{
	struct model m;
	int ret;

	memset(&m, 0, sizeof(m));
	ret = build(&m, dir);
	if (!ret && json_path)
		ret = write_json(&m, json_path);
	if (!ret && svg_path)
		ret = write_svg(&m, svg_path);
	if (!ret && sum) {
		sum->events = m.t.nev;
		sum->skipped = m.t.skipped;
		sum->processes = m.npr;
		sum->threads = m.nthreads;
		sum->slices = m.nsl;
		sum->duration_ns = m.t1 - m.t0;
	}
	model_free(&m);
	return ret;
}

int dmabuf_trace_render(const char *dir, const char *json_path, const char *svg_path)
{
	return dmabuf_trace_render_summary(dir, json_path, svg_path, NULL);
}

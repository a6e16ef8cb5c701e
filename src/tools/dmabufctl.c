// SPDX-License-Identifier: MIT
/*
 * dmabufctl.c - what a running dmabufd holds and who holds it: buffers, processes, fences,
 * timelines (text or JSON), a live view, and traces (dmabufctl_trace.c).
 *
 * The broker lists its objects (DMABUFD_OP_INTROSPECT).  Who holds them comes from /proc, the
 * way the kernel-less world shows it: a buffer's descriptors are memfds named
 * DMABUFD_MEMFD_PREFIX "<exporter>" (/proc/<pid>/fd), its mappings the lines of
 * /proc/<pid>/maps with its device and inode; sync_files and timelines are pipes
 * ("pipe:[<inode>]").  A process maps an incoherent buffer through its CPU view, a memfd
 * "libdmabuf-cpu-view" of twice the buffer's size that the library maps once whole, next to
 * one mapping of the buffer itself (the device view it copies from); a view is counted as the
 * buffer's when exactly one incoherent buffer of half its size is mapped in that process, and
 * the mappings shown are then the program's own (the view's others, and none of the two the
 * library makes).  Descriptors in flight (SCM_RIGHTS) and processes of other users are not
 * seen.  dmabufctl never starts a broker.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "rendezvous.h"

#include "dmabufctl_trace.h"

#ifndef DMABUF_VERSION
#define DMABUF_VERSION "unknown"
#endif

#define EXIT_USAGE	2
#define SUN_PATH_MAX	sizeof(((struct sockaddr_un *)0)->sun_path)
#define CPU_VIEW_LINK	"/memfd:libdmabuf-cpu-view"
#define BUF_LINK	"/memfd:" DMABUFD_MEMFD_PREFIX
#define WATCH_TOP	5

/* enum dmabuf_map_info and enum dmabuf_resv_usage, as the protocol carries them */
static const char *const map_info_names[] = { "incoherent", "coherent-wc", "coherent-cached" };
static const char *const usage_names[] = { "kernel", "write", "read", "bookkeep" };

struct options {
	const char *socket;
	bool json;
	bool all;		/* fences: signaled ones too */
	long interval_ms;	/* watch */
	long count;		/* watch: refreshes, 0 = until interrupted */
	pid_t pid;		/* procs PID */
};

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("dmabufctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xrealloc(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		die("out of memory");
	p = realloc(p, n && size ? n * size : 1);
	if (!p)
		die("out of memory");
	return p;
}

/* Room for one more element in *@v (of @n, capacity *@cap). */
#define VEC_PUSH(v, n, cap)							\
	do {									\
		if ((n) == (cap)) {						\
			(cap) = (cap) ? (cap) * 2 : 8;				\
			(v) = xrealloc((v), (cap), sizeof(*(v)));		\
		}								\
	} while (0)

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* qsort(), which must not be given NULL even for nothing to sort. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static const char *map_info_name(uint32_t v)
{
	return v < 3 ? map_info_names[v] : "unknown";
}

static const char *usage_name(uint32_t v)
{
	return v < 4 ? usage_names[v] : "unknown";
}

static const char *status_name(int32_t status)
{
	return status == 0 ? "active" : status > 0 ? "signaled" : "error";
}

/* ---- the broker ---- */

struct broker {
	int sock;
	char path[SUN_PATH_MAX];
	pid_t pid;
};

/* One request without descriptors or payload; the reply's payload into @payload. */
static void xfer(struct broker *b, struct dmabufd_msg *msg, void *payload, size_t cap,
		 size_t *len)
{
	int ret = dmabufd_transact(b->sock, msg, payload, cap, len);

	if (ret == -ECONNRESET)
		die("the broker at %s closed the connection (is it older than dmabufctl?)",
		    b->path);
	if (ret == -EPROTO)
		die("the broker at %s sent a malformed reply", b->path);
	if (ret)
		die("cannot talk to the broker at %s: %s", b->path, strerror(-ret));
}

static void broker_open(struct broker *b, const char *socket_path)
{
	struct dmabufd_msg msg = { .op = DMABUFD_OP_HELLO };
	int ret;

	if (socket_path) {
		if (strlen(socket_path) >= sizeof(b->path))
			die("%s: socket path too long", socket_path);
		strcpy(b->path, socket_path);
	} else if (dmabufd_socket_path(b->path, sizeof(b->path))) {
		die("the broker's socket path is too long (DMABUFD_SOCKET, XDG_RUNTIME_DIR)");
	}
	b->sock = dmabufd_connect(b->path);
	if (b->sock == -ENOENT || b->sock == -ECONNREFUSED)
		die("no dmabufd is running: nothing listens on %s", b->path);
	if (b->sock < 0)
		die("cannot connect to the broker at %s: %s", b->path, strerror(-b->sock));
	ret = dmabufd_peer_check(b->sock);
	if (ret)
		die("refusing the broker at %s: %s", b->path,
		    ret == -EPERM ? "it runs as another user" : strerror(-ret));
	msg.arg[0] = DMABUFD_PROTO_VERSION;
	xfer(b, &msg, NULL, 0, NULL);
	if (msg.ret)
		die("the broker at %s speaks another protocol (%s)", b->path, strerror(-msg.ret));
	b->pid = (pid_t)msg.arg[1];
}

/* Every record of @kind (each @size bytes) into *@out; returns how many. */
static size_t introspect(struct broker *b, uint32_t kind, size_t size, void **out)
{
	static unsigned char page[DMABUFD_PAYLOAD_MAX];
	unsigned char *all = NULL;
	size_t n = 0, len, k;
	uint64_t cursor[3] = { 0, 0, 0 };

	for (;;) {
		struct dmabufd_msg msg = { .op = DMABUFD_OP_INTROSPECT };

		msg.arg[0] = kind;
		memcpy(&msg.arg[1], cursor, sizeof(cursor));
		xfer(b, &msg, page, sizeof(page), &len);
		if (msg.ret)
			die("the broker at %s refuses to list its objects: %s", b->path,
			    strerror(-msg.ret));
		if (len % size)
			die("the broker at %s sent a malformed listing", b->path);
		k = len / size;
		all = xrealloc(all, n + k, size);
		memcpy(all + n * size, page, len);
		n += k;
		if (!msg.arg[0])
			break;
		if (!k)
			die("the broker at %s sent an empty page", b->path);
		memcpy(cursor, &msg.arg[1], sizeof(cursor));
	}
	*out = all;
	return n;
}

/* ---- the state: the broker's objects and their holders ---- */

struct buf {
	struct dmabufd_intro_buf r;
	unsigned int fds, mmaps;	/* over every process seen */
	unsigned int holders;		/* processes holding it (descriptor or mapping) */
};

/* One buffer in one process. */
struct hold {
	size_t buf;			/* index into state.bufs */
	unsigned int fds;
	unsigned int vmas;		/* lines of maps with the buffer's inode */
	unsigned int views;		/* CPU views counted as this buffer's (0 or 1) */
	unsigned int view_vmas;		/* the program's mappings of those views */
};

/* A CPU view memfd of a process. */
struct view {
	uint64_t dev, ino;
	uint64_t size;			/* from its descriptor, else 0 */
	uint64_t whole;			/* the longest mapping at offset 0 */
	unsigned int vmas;
};

struct proc {
	pid_t pid;
	char comm[32];
	struct hold *holds;
	size_t nholds, cap_holds;
	struct view *views;
	size_t nviews, cap_views;
	uint64_t *pipes;		/* inodes of its pipe descriptors */
	size_t npipes, cap_pipes;
	unsigned int views_unattributed;
	/* derived */
	unsigned int by_fd, by_map;
	uint64_t bytes, pss;
};

struct state {
	pid_t broker;			/* holds the other end of every pipe: not a holder */
	struct buf *bufs;
	size_t nbufs;
	struct dmabufd_intro_sync_file *sfs;
	size_t nsfs;
	struct dmabufd_intro_timeline *tls;
	size_t ntls;
	struct dmabufd_intro_fence *fences;
	size_t nfences;
	struct proc *procs;
	size_t nprocs;
	uint64_t bytes;
	uint64_t unheld, unheld_bytes;	/* buffers no process seen holds */
};

static void state_free(struct state *s)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		free(s->procs[i].holds);
		free(s->procs[i].views);
		free(s->procs[i].pipes);
	}
	free(s->procs);
	free(s->bufs);
	free(s->sfs);
	free(s->tls);
	free(s->fences);
	memset(s, 0, sizeof(*s));
}

static struct buf *find_buf(struct state *s, uint64_t dev, uint64_t ino)
{
	size_t lo = 0, hi = s->nbufs;

	/* the broker lists buffers by inode */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->bufs[mid].r.ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < s->nbufs && s->bufs[lo].r.ino == ino; lo++)
		if (s->bufs[lo].r.dev == dev)
			return &s->bufs[lo];
	return NULL;
}

static struct hold *hold_get(struct proc *p, size_t buf)
{
	for (size_t i = 0; i < p->nholds; i++)
		if (p->holds[i].buf == buf)
			return &p->holds[i];
	VEC_PUSH(p->holds, p->nholds, p->cap_holds);
	p->holds[p->nholds] = (struct hold){ .buf = buf };
	return &p->holds[p->nholds++];
}

static struct view *view_get(struct proc *p, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < p->nviews; i++)
		if (p->views[i].dev == dev && p->views[i].ino == ino)
			return &p->views[i];
	VEC_PUSH(p->views, p->nviews, p->cap_views);
	p->views[p->nviews] = (struct view){ .dev = dev, .ino = ino };
	return &p->views[p->nviews++];
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* The descriptors of @p: buffers, CPU views, pipes.  False if they cannot be read. */
static bool scan_fds(struct state *s, struct proc *p)
{
	char path[64], link[256];
	struct dirent *de;
	struct stat st;
	struct buf *b;
	ssize_t n;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)p->pid);
	d = opendir(path);
	if (!d)
		return false;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (starts_with(link, "pipe:[")) {
			VEC_PUSH(p->pipes, p->npipes, p->cap_pipes);
			p->pipes[p->npipes++] = strtoull(link + 6, NULL, 10);
			continue;
		}
		if (!starts_with(link, BUF_LINK) && !starts_with(link, CPU_VIEW_LINK))
			continue;
		/* follows the link: the memfd itself */
		if (fstatat(dirfd(d), de->d_name, &st, 0))
			continue;
		if (starts_with(link, CPU_VIEW_LINK)) {
			view_get(p, st.st_dev, st.st_ino)->size = (uint64_t)st.st_size;
			continue;
		}
		b = find_buf(s, st.st_dev, st.st_ino);
		if (b)
			hold_get(p, (size_t)(b - s->bufs))->fds++;
	}
	closedir(d);
	return true;
}

/* The mappings of @p: lines of buffers and of CPU views. */
static void scan_maps(struct state *s, struct proc *p)
{
	unsigned long long start, end, off, ino;
	unsigned int maj, min;
	char path[64], *line = NULL, *name;
	size_t cap = 0;
	struct view *v;
	struct buf *b;
	int pos;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)p->pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		pos = 0;
		if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu %n", &start, &end, &off, &maj,
			   &min, &ino, &pos) < 6 || !ino || !pos)
			continue;
		name = line + pos;
		if (starts_with(name, BUF_LINK)) {
			b = find_buf(s, makedev(maj, min), ino);
			if (b)
				hold_get(p, (size_t)(b - s->bufs))->vmas++;
		} else if (starts_with(name, CPU_VIEW_LINK)) {
			v = view_get(p, makedev(maj, min), ino);
			v->vmas++;
			if (!off && end - start > v->whole)
				v->whole = end - start;
		}
	}
	free(line);
	fclose(f);
}

/*
 * Count each CPU view of @p as the mappings of the incoherent buffer it shows, when exactly
 * one incoherent buffer of half its size is mapped in @p (the library maps the buffer itself
 * for as long as the view lives).
 */
static void attribute_views(struct state *s, struct proc *p)
{
	for (size_t i = 0; i < p->nviews; i++) {
		struct view *v = &p->views[i];
		uint64_t size = v->size ? v->size : v->whole;
		struct hold *found = NULL;
		unsigned int candidates = 0;

		for (size_t k = 0; k < p->nholds; k++) {
			struct hold *h = &p->holds[k];
			const struct dmabufd_intro_buf *r = &s->bufs[h->buf].r;

			if (r->map_info == 0 && h->vmas && !h->views && r->size * 2 == size) {
				found = h;
				candidates++;
			}
		}
		if (candidates != 1 || !v->vmas) {
			p->views_unattributed++;
			continue;
		}
		found->views++;
		found->view_vmas += v->vmas - 1;	/* not the library's whole mapping */
	}
}

/* The mappings @h stands for: the program's own. */
static unsigned int hold_mmaps(const struct hold *h)
{
	return h->vmas - h->views + h->view_vmas;
}

static void read_comm(pid_t pid, char *comm, size_t len)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, len - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(comm, len, "?");
		return;
	}
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
}

/* Whether @p holds a sync_file or timeline of the broker. */
static bool holds_pipe(const struct state *s, const struct proc *p)
{
	for (size_t i = 0; i < p->npipes; i++) {
		for (size_t k = 0; k < s->nsfs; k++)
			if (s->sfs[k].ino == p->pipes[i])
				return true;
		for (size_t k = 0; k < s->ntls; k++)
			if (s->tls[k].ino == p->pipes[i])
				return true;
	}
	return false;
}

static int proc_cmp(const void *a, const void *b)
{
	const struct proc *x = a, *y = b;

	if (x->pss != y->pss)
		return x->pss > y->pss ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Totals per buffer and per process, once every process was scanned. */
static void derive(struct state *s)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *p = &s->procs[i];

		for (size_t k = 0; k < p->nholds; k++) {
			struct buf *b = &s->bufs[p->holds[k].buf];

			b->fds += p->holds[k].fds;
			b->mmaps += hold_mmaps(&p->holds[k]);
			b->holders++;
		}
	}
	for (size_t i = 0; i < s->nbufs; i++) {
		s->bytes += s->bufs[i].r.size;
		if (!s->bufs[i].holders) {
			s->unheld++;
			s->unheld_bytes += s->bufs[i].r.size;
		}
	}
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *p = &s->procs[i];

		for (size_t k = 0; k < p->nholds; k++) {
			const struct buf *b = &s->bufs[p->holds[k].buf];

			p->by_fd += p->holds[k].fds > 0;
			p->by_map += p->holds[k].vmas > 0;
			p->bytes += b->r.size;
			p->pss += b->r.size / b->holders;
		}
	}
	sort(s->procs, s->nprocs, sizeof(*s->procs), proc_cmp);
}

/* Every process of /proc that holds a buffer, sync_file or timeline of the broker. */
static void scan_procs(struct state *s)
{
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		die("cannot read /proc: %s", strerror(errno));
	while ((de = readdir(d))) {
		struct proc p = { 0 };
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (pid <= 0 || *end || pid == s->broker || pid == getpid())
			continue;
		p.pid = (pid_t)pid;
		/* gone, or another user's: not seen */
		if (!scan_fds(s, &p))
			goto skip;
		scan_maps(s, &p);
		if (!p.nholds && !holds_pipe(s, &p))
			goto skip;
		attribute_views(s, &p);
		read_comm(p.pid, p.comm, sizeof(p.comm));
		VEC_PUSH(s->procs, s->nprocs, cap);
		s->procs[s->nprocs++] = p;
		continue;
skip:
		free(p.holds);
		free(p.views);
		free(p.pipes);
	}
	closedir(d);
	derive(s);
}

static int fence_cmp(const void *a, const void *b)
{
	const struct dmabufd_intro_fence *x = a, *y = b;

	if (x->context != y->context)
		return x->context < y->context ? -1 : 1;
	if (x->seqno != y->seqno)
		return x->seqno < y->seqno ? -1 : 1;
	if (x->holder_type != y->holder_type)
		return x->holder_type < y->holder_type ? -1 : 1;
	if (x->holder_ino != y->holder_ino)
		return x->holder_ino < y->holder_ino ? -1 : 1;
	return x->usage < y->usage ? -1 : x->usage > y->usage;
}

/* What the listings need from the broker (@fences: sync_files, timelines and fences too). */
static void state_load(struct state *s, struct broker *b, bool fences)
{
	struct dmabufd_intro_buf *r;
	void *v;

	memset(s, 0, sizeof(*s));
	s->broker = b->pid;
	s->nbufs = introspect(b, DMABUFD_INTRO_BUFFERS, sizeof(*r), &v);
	r = v;
	s->bufs = xrealloc(NULL, s->nbufs, sizeof(*s->bufs));
	for (size_t i = 0; i < s->nbufs; i++)
		s->bufs[i] = (struct buf){ .r = r[i] };
	free(r);
	/* sync_files and timelines: their holders are seen in the same scan */
	s->nsfs = introspect(b, DMABUFD_INTRO_SYNC_FILES, sizeof(*s->sfs), &v);
	s->sfs = v;
	s->ntls = introspect(b, DMABUFD_INTRO_TIMELINES, sizeof(*s->tls), &v);
	s->tls = v;
	if (fences) {
		s->nfences = introspect(b, DMABUFD_INTRO_FENCES, sizeof(*s->fences), &v);
		s->fences = v;
		/* the records of one fence together (a fence has one holder per record) */
		sort(s->fences, s->nfences, sizeof(*s->fences), fence_cmp);
	}
	scan_procs(s);
}

static int pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

/* The processes holding the pipe @ino (free() them), their number in *@n. */
static pid_t *pipe_holders(const struct state *s, uint64_t ino, size_t *n)
{
	pid_t *out = xrealloc(NULL, s->nprocs, sizeof(*out));

	*n = 0;
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct proc *p = &s->procs[i];

		for (size_t k = 0; k < p->npipes; k++) {
			if (p->pipes[k] == ino) {
				out[(*n)++] = p->pid;
				break;
			}
		}
	}
	sort(out, *n, sizeof(*out), pid_cmp);
	return out;
}

/* The processes holding buffer @idx (free() them), their number in *@n. */
static pid_t *buf_holders(const struct state *s, size_t idx, size_t *n)
{
	pid_t *out = xrealloc(NULL, s->nprocs, sizeof(*out));

	*n = 0;
	for (size_t i = 0; i < s->nprocs; i++)
		for (size_t k = 0; k < s->procs[i].nholds; k++)
			if (s->procs[i].holds[k].buf == idx)
				out[(*n)++] = s->procs[i].pid;
	sort(out, *n, sizeof(*out), pid_cmp);
	return out;
}

/* ---- JSON ---- */

struct json {
	FILE *f;
	bool pretty;
	int depth;
	bool first[16];
};

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void json_key(struct json *j, const char *key)
{
	if (j->depth) {
		if (!j->first[j->depth])
			fputc(',', j->f);
		j->first[j->depth] = false;
		if (j->pretty)
			fprintf(j->f, "\n%*s", 2 * j->depth, "");
	}
	if (key) {
		json_string(j->f, key);
		fputs(j->pretty ? ": " : ":", j->f);
	}
}

static void json_open(struct json *j, const char *key, char c)
{
	json_key(j, key);
	fputc(c, j->f);
	j->depth++;
	j->first[j->depth] = true;
}

static void json_close(struct json *j, char c)
{
	bool empty = j->first[j->depth];

	j->depth--;
	if (!empty && j->pretty)
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	fputc(c, j->f);
	if (!j->depth)
		fputc('\n', j->f);
}

static void json_u64(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

static void json_i64(struct json *j, const char *key, int64_t v)
{
	json_key(j, key);
	fprintf(j->f, "%" PRId64, v);
}

/* A string, or null for NULL. */
static void json_str(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	if (s)
		json_string(j->f, s);
	else
		fputs("null", j->f);
}

static void json_pids(struct json *j, const char *key, const pid_t *pids, size_t n)
{
	bool pretty = j->pretty;

	json_open(j, key, '[');
	j->pretty = false;	/* on one line */
	for (size_t i = 0; i < n; i++)
		json_i64(j, NULL, pids[i]);
	json_close(j, ']');
	j->pretty = pretty;
}

/* ---- buffers ---- */

static const char *buf_name(const struct dmabufd_intro_buf *r)
{
	return r->has_name ? r->name : NULL;
}

static void json_buf(struct json *j, const struct state *s, size_t i)
{
	const struct buf *b = &s->bufs[i];
	size_t n;
	pid_t *pids = buf_holders(s, i, &n);

	json_open(j, NULL, '{');
	json_u64(j, "ino", b->r.ino);
	json_u64(j, "size", b->r.size);
	json_str(j, "exporter", b->r.exp_name);
	json_str(j, "name", buf_name(&b->r));
	json_str(j, "map_info", map_info_name(b->r.map_info));
	json_u64(j, "fds", b->fds);
	json_u64(j, "mmaps", b->mmaps);
	json_u64(j, "attachments", b->r.attachments);
	json_open(j, "fences", '{');
	for (int u = 0; u < 4; u++)
		json_u64(j, usage_names[u], b->r.fences[u]);
	json_close(j, '}');
	json_pids(j, "pids", pids, n);
	json_close(j, '}');
	free(pids);
}

static void buffers_json(const struct state *s)
{
	struct json j = { .f = stdout, .pretty = true };

	json_open(&j, NULL, '{');
	json_open(&j, "buffers", '[');
	for (size_t i = 0; i < s->nbufs; i++)
		json_buf(&j, s, i);
	json_close(&j, ']');
	json_open(&j, "totals", '{');
	json_u64(&j, "buffers", s->nbufs);
	json_u64(&j, "bytes", s->bytes);
	json_close(&j, '}');
	json_close(&j, '}');
}

static void buffers_text(const struct state *s)
{
	printf("%10s %12s %-16s %-20s %-15s %4s %5s %3s %-11s %s\n", "INODE", "SIZE",
	       "EXPORTER", "NAME", "MAP_INFO", "FDS", "MMAPS", "ATT", "FENCES", "PIDS");
	for (size_t i = 0; i < s->nbufs; i++) {
		const struct buf *b = &s->bufs[i];
		const uint32_t *f = b->r.fences;
		char fences[48];
		size_t n;
		pid_t *pids = buf_holders(s, i, &n);

		snprintf(fences, sizeof(fences), "%u/%u/%u/%u", f[0], f[1], f[2], f[3]);
		printf("%10" PRIu64 " %12" PRIu64 " %-16s %-20s %-15s %4u %5u %3u %-11s",
		       b->r.ino, b->r.size, b->r.exp_name, b->r.has_name ? b->r.name : "-",
		       map_info_name(b->r.map_info), b->fds, b->mmaps, b->r.attachments, fences);
		for (size_t k = 0; k < n; k++)
			printf("%s%d", k ? "," : "", (int)pids[k]);
		printf("%s\n", n ? "" : "-");
		free(pids);
	}
	printf("FENCES: pending fences by usage, kernel/write/read/bookkeep\n");
	printf("Total: %zu buffers, %" PRIu64 " bytes\n", s->nbufs, s->bytes);
}

/* ---- procs ---- */

static const struct proc *find_proc(const struct state *s, pid_t pid)
{
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].pid == pid)
			return &s->procs[i];
	return NULL;
}

static void json_proc_totals(struct json *j, const struct proc *p)
{
	json_u64(j, "buffers", p->nholds);
	json_u64(j, "by_fd", p->by_fd);
	json_u64(j, "by_map", p->by_map);
	json_u64(j, "bytes", p->bytes);
	json_u64(j, "pss", p->pss);
	json_u64(j, "cpu_views_unattributed", p->views_unattributed);
}

static void procs_json(const struct state *s)
{
	struct json j = { .f = stdout, .pretty = true };
	uint64_t held = 0;

	json_open(&j, NULL, '{');
	json_open(&j, "processes", '[');
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct proc *p = &s->procs[i];

		if (!p->nholds)
			continue;
		json_open(&j, NULL, '{');
		json_i64(&j, "pid", p->pid);
		json_str(&j, "comm", p->comm);
		json_proc_totals(&j, p);
		json_close(&j, '}');
		held++;
	}
	json_close(&j, ']');
	json_open(&j, "unheld", '{');
	json_u64(&j, "buffers", s->unheld);
	json_u64(&j, "bytes", s->unheld_bytes);
	json_close(&j, '}');
	json_open(&j, "totals", '{');
	json_u64(&j, "processes", held);
	json_u64(&j, "buffers", s->nbufs);
	json_u64(&j, "bytes", s->bytes);
	json_close(&j, '}');
	json_close(&j, '}');
}

static void procs_text(const struct state *s)
{
	size_t held = 0;

	printf("%8s %-16s %7s %6s %6s %12s %12s\n", "PID", "COMM", "BUFFERS", "BY_FD",
	       "BY_MAP", "BYTES", "PSS");
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct proc *p = &s->procs[i];

		if (!p->nholds)
			continue;
		printf("%8d %-16s %7zu %6u %6u %12" PRIu64 " %12" PRIu64 "\n", (int)p->pid,
		       p->comm, p->nholds, p->by_fd, p->by_map, p->bytes, p->pss);
		held++;
	}
	printf("Total: %zu buffers, %" PRIu64 " bytes, held by %zu processes\n", s->nbufs,
	       s->bytes, held);
	if (s->unheld)
		printf("Held by no process seen: %" PRIu64 " buffers, %" PRIu64 " bytes\n",
		       s->unheld, s->unheld_bytes);
}

static int hold_cmp(const void *a, const void *b)
{
	const struct hold *x = a, *y = b;

	return x->buf < y->buf ? -1 : x->buf > y->buf;
}

static void proc_json(const struct state *s, const struct proc *p)
{
	struct json j = { .f = stdout, .pretty = true };

	json_open(&j, NULL, '{');
	json_i64(&j, "pid", p->pid);
	json_str(&j, "comm", p->comm);
	json_open(&j, "buffers", '[');
	for (size_t i = 0; i < p->nholds; i++) {
		const struct hold *h = &p->holds[i];
		const struct buf *b = &s->bufs[h->buf];

		json_open(&j, NULL, '{');
		json_u64(&j, "ino", b->r.ino);
		json_u64(&j, "size", b->r.size);
		json_str(&j, "exporter", b->r.exp_name);
		json_str(&j, "name", buf_name(&b->r));
		json_str(&j, "map_info", map_info_name(b->r.map_info));
		json_u64(&j, "fds", h->fds);
		json_u64(&j, "mmaps", hold_mmaps(h));
		json_u64(&j, "sharers", b->holders);
		json_u64(&j, "pss", b->r.size / b->holders);
		json_close(&j, '}');
	}
	json_close(&j, ']');
	json_open(&j, "totals", '{');
	json_proc_totals(&j, p);
	json_close(&j, '}');
	json_close(&j, '}');
}

static void proc_text(const struct state *s, const struct proc *p)
{
	printf("Process %d (%s): %zu buffers (%u by fd, %u by mapping), %" PRIu64
	       " bytes, PSS %" PRIu64 " bytes\n", (int)p->pid, p->comm, p->nholds, p->by_fd,
	       p->by_map, p->bytes, p->pss);
	if (p->views_unattributed)
		printf("CPU views not attributed to a buffer: %u\n", p->views_unattributed);
	if (!p->nholds)
		return;
	printf("%10s %12s %-16s %-20s %4s %5s %7s %12s\n", "INODE", "SIZE", "EXPORTER", "NAME",
	       "FDS", "MMAPS", "SHARERS", "PSS");
	for (size_t i = 0; i < p->nholds; i++) {
		const struct hold *h = &p->holds[i];
		const struct buf *b = &s->bufs[h->buf];

		printf("%10" PRIu64 " %12" PRIu64 " %-16s %-20s %4u %5u %7u %12" PRIu64 "\n",
		       b->r.ino, b->r.size, b->r.exp_name, b->r.has_name ? b->r.name : "-",
		       h->fds, hold_mmaps(h), b->holders, b->r.size / b->holders);
	}
}

/* procs PID: the process, even holding nothing; 1 if there is no such process. */
static int proc_one(struct state *s, pid_t pid, bool json)
{
	char path[64];
	struct proc empty = { .pid = pid };
	struct proc *p = (struct proc *)find_proc(s, pid);

	if (!p) {
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		if (access(path, F_OK)) {
			fprintf(stderr, "dmabufctl: no process %d\n", (int)pid);
			return 1;
		}
		read_comm(pid, empty.comm, sizeof(empty.comm));
		p = &empty;
	}
	sort(p->holds, p->nholds, sizeof(*p->holds), hold_cmp);
	if (json)
		proc_json(s, p);
	else
		proc_text(s, p);
	return 0;
}

/* ---- fences and timelines ---- */

/* The records of the same fence as @f[0]: how many follow in the sorted array. */
static size_t fence_group(const struct dmabufd_intro_fence *f, size_t left)
{
	size_t n = 1;

	while (n < left && f[n].context == f[0].context && f[n].seqno == f[0].seqno)
		n++;
	return n;
}

static const char *holder_kind(const struct dmabufd_intro_fence *f)
{
	return f->holder_type == DMABUFD_TYPE_BUF ? "buffer" : "sync_file";
}

static void json_fence(struct json *j, const struct dmabufd_intro_fence *f, size_t n)
{
	json_open(j, NULL, '{');
	json_u64(j, "context", f->context);
	json_u64(j, "seqno", f->seqno);
	json_str(j, "driver", f->driver);
	json_str(j, "timeline", f->timeline);
	json_str(j, "status", status_name(f->status));
	if (f->status < 0)
		json_i64(j, "error", f->status);
	if (f->status)
		json_i64(j, "timestamp_ns", f->timestamp_ns);
	if (f->flags & DMABUFD_INTRO_FENCE_DEADLINE)
		json_i64(j, "deadline_ns", f->deadline_ns);
	json_open(j, "holders", '[');
	for (size_t k = 0; k < n; k++) {
		bool pretty = j->pretty;

		json_open(j, NULL, '{');
		j->pretty = false;
		json_u64(j, holder_kind(&f[k]), f[k].holder_ino);
		if (f[k].holder_type == DMABUFD_TYPE_BUF)
			json_str(j, "usage", usage_name(f[k].usage));
		json_close(j, '}');
		j->pretty = pretty;
	}
	json_close(j, ']');
	json_close(j, '}');
}

static void fences_json(const struct state *s, bool all)
{
	struct json j = { .f = stdout, .pretty = true };
	size_t n;

	json_open(&j, NULL, '{');
	json_open(&j, "fences", '[');
	for (size_t i = 0; i < s->nfences; i += n) {
		n = fence_group(&s->fences[i], s->nfences - i);
		if (all || !s->fences[i].status)
			json_fence(&j, &s->fences[i], n);
	}
	json_close(&j, ']');
	json_open(&j, "sync_files", '[');
	for (size_t i = 0; i < s->nsfs; i++) {
		const struct dmabufd_intro_sync_file *sf = &s->sfs[i];
		size_t np;
		pid_t *pids = pipe_holders(s, sf->ino, &np);

		json_open(&j, NULL, '{');
		json_u64(&j, "ino", sf->ino);
		json_str(&j, "name", sf->name);
		json_str(&j, "status", status_name(sf->status));
		if (sf->status < 0)
			json_i64(&j, "error", sf->status);
		json_u64(&j, "fences", sf->fences);
		json_pids(&j, "pids", pids, np);
		json_close(&j, '}');
		free(pids);
	}
	json_close(&j, ']');
	json_close(&j, '}');
}

/* " (in 1.500 ms)" or " (2.000 ms ago)" for a CLOCK_MONOTONIC time. */
static const char *relative(int64_t t, char *buf, size_t len)
{
	int64_t d = t - now_ns();

	snprintf(buf, len, d >= 0 ? " (in %.3f ms)" : " (%.3f ms ago)",
		 (double)(d >= 0 ? d : -d) / 1e6);
	return buf;
}

static void fence_text(const struct dmabufd_intro_fence *f, size_t n)
{
	char rel[64], id[48];

	snprintf(id, sizeof(id), "%" PRIu64 ":%" PRIu64, f->context, f->seqno);
	printf("  %-14s %-10s %-20s %-8s", id, f->driver, f->timeline, status_name(f->status));
	if (f->status < 0)
		printf(" error %d", f->status);
	if (f->flags & DMABUFD_INTRO_FENCE_DEADLINE)
		printf(" deadline %" PRId64 "%s", f->deadline_ns,
		       relative(f->deadline_ns, rel, sizeof(rel)));
	printf(" held by");
	for (size_t k = 0; k < n; k++) {
		printf("%s %s %" PRIu64, k ? "," : "", holder_kind(&f[k]), f[k].holder_ino);
		if (f[k].holder_type == DMABUFD_TYPE_BUF)
			printf(" (%s)", usage_name(f[k].usage));
	}
	printf("\n");
}

static void fences_text(const struct state *s, bool all)
{
	size_t n, shown = 0;

	printf("sync_files:\n");
	for (size_t i = 0; i < s->nsfs; i++) {
		const struct dmabufd_intro_sync_file *sf = &s->sfs[i];
		size_t np;
		pid_t *pids = pipe_holders(s, sf->ino, &np);

		printf("  sync_file %" PRIu64 " \"%s\": %s, %u fence%s, pids", sf->ino, sf->name,
		       status_name(sf->status), sf->fences, sf->fences == 1 ? "" : "s");
		for (size_t k = 0; k < np; k++)
			printf("%s%d", k ? "," : " ", (int)pids[k]);
		printf("%s\n", np ? "" : " -");
		free(pids);
	}
	printf("%s fences (context:seqno, driver, timeline, status):\n", all ? "All" : "Pending");
	for (size_t i = 0; i < s->nfences; i += n) {
		n = fence_group(&s->fences[i], s->nfences - i);
		if (all || !s->fences[i].status) {
			fence_text(&s->fences[i], n);
			shown++;
		}
	}
	printf("Total: %zu sync_files, %zu %sfences\n", s->nsfs, shown, all ? "" : "pending ");
}

/* The pending points of timeline @tl, sorted in the order they will be reached. */
static size_t timeline_points(const struct state *s, const struct dmabufd_intro_timeline *tl,
			      const struct dmabufd_intro_fence **out)
{
	size_t n = 0, k;

	for (size_t i = 0; i < s->nfences; i += k) {
		k = fence_group(&s->fences[i], s->nfences - i);
		if (s->fences[i].context == tl->context && !s->fences[i].status)
			out[n++] = &s->fences[i];
	}
	/* sorted by seqno already; order by distance ahead of the value (32-bit wrap) */
	for (size_t i = 1; i < n; i++) {
		const struct dmabufd_intro_fence *f = out[i];
		size_t j = i;

		while (j && (uint32_t)(out[j - 1]->seqno - tl->value) >
			    (uint32_t)(f->seqno - tl->value)) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = f;
	}
	return n;
}

static void timelines_json(const struct state *s)
{
	struct json j = { .f = stdout, .pretty = true };
	const struct dmabufd_intro_fence **pts;

	pts = xrealloc(NULL, s->nfences, sizeof(*pts));
	json_open(&j, NULL, '{');
	json_open(&j, "timelines", '[');
	for (size_t i = 0; i < s->ntls; i++) {
		const struct dmabufd_intro_timeline *tl = &s->tls[i];
		size_t n = timeline_points(s, tl, pts), np;
		pid_t *pids = pipe_holders(s, tl->ino, &np);

		json_open(&j, NULL, '{');
		json_u64(&j, "ino", tl->ino);
		json_str(&j, "name", tl->name);
		json_u64(&j, "context", tl->context);
		json_u64(&j, "value", tl->value);
		json_pids(&j, "pids", pids, np);
		free(pids);
		json_open(&j, "pending", '[');
		for (size_t k = 0; k < n; k++) {
			bool pretty = j.pretty;

			json_open(&j, NULL, '{');
			j.pretty = false;
			json_u64(&j, "seqno", pts[k]->seqno);
			if (pts[k]->flags & DMABUFD_INTRO_FENCE_DEADLINE)
				json_i64(&j, "deadline_ns", pts[k]->deadline_ns);
			json_close(&j, '}');
			j.pretty = pretty;
		}
		json_close(&j, ']');
		json_close(&j, '}');
	}
	json_close(&j, ']');
	json_close(&j, '}');
	free(pts);
}

static void timelines_text(const struct state *s)
{
	const struct dmabufd_intro_fence **pts;
	char rel[64];

	pts = xrealloc(NULL, s->nfences, sizeof(*pts));
	for (size_t i = 0; i < s->ntls; i++) {
		const struct dmabufd_intro_timeline *tl = &s->tls[i];
		size_t n = timeline_points(s, tl, pts), np;
		pid_t *pids = pipe_holders(s, tl->ino, &np);

		printf("timeline %" PRIu64 " \"%s\": context %" PRIu64 ", value %u, %zu pending, "
		       "pids", tl->ino, tl->name, tl->context, tl->value, n);
		for (size_t k = 0; k < np; k++)
			printf("%s%d", k ? "," : " ", (int)pids[k]);
		printf("%s\n", np ? "" : " -");
		free(pids);
		for (size_t k = 0; k < n; k++) {
			printf("  point %" PRIu64, pts[k]->seqno);
			if (pts[k]->flags & DMABUFD_INTRO_FENCE_DEADLINE)
				printf(" deadline %" PRId64 "%s", pts[k]->deadline_ns,
				       relative(pts[k]->deadline_ns, rel, sizeof(rel)));
			printf("\n");
		}
	}
	printf("Total: %zu timeline%s\n", s->ntls, s->ntls == 1 ? "" : "s");
	free(pts);
}

/* ---- watch ---- */

static int size_cmp(const void *a, const void *b)
{
	const struct buf *x = *(const struct buf *const *)a, *y = *(const struct buf *const *)b;

	if (x->r.size != y->r.size)
		return x->r.size > y->r.size ? -1 : 1;
	return x->r.ino < y->r.ino ? -1 : x->r.ino > y->r.ino;
}

static size_t pending_fences(const struct state *s)
{
	size_t n = 0, k;

	for (size_t i = 0; i < s->nfences; i += k) {
		k = fence_group(&s->fences[i], s->nfences - i);
		n += !s->fences[i].status;
	}
	return n;
}

static void watch_json(const struct state *s, const struct buf **top, size_t ntop)
{
	struct json j = { .f = stdout, .pretty = false };

	json_open(&j, NULL, '{');
	json_i64(&j, "time_ns", now_ns());
	json_u64(&j, "buffers", s->nbufs);
	json_u64(&j, "bytes", s->bytes);
	json_u64(&j, "sync_files", s->nsfs);
	json_u64(&j, "timelines", s->ntls);
	json_u64(&j, "pending_fences", pending_fences(s));
	json_open(&j, "top", '[');
	for (size_t i = 0; i < ntop; i++)
		json_buf(&j, s, (size_t)(top[i] - s->bufs));
	json_close(&j, ']');
	json_close(&j, '}');
}

static void watch_text(const struct state *s, const struct broker *b, const struct options *o,
		       const struct buf **top, size_t ntop)
{
	size_t n, shown = 0, pending = pending_fences(s);

	printf("\033[H\033[2J");
	printf("dmabufctl watch: dmabufd pid %d on %s, every %ld ms\n", (int)b->pid, b->path,
	       o->interval_ms);
	printf("Buffers: %zu, %" PRIu64 " bytes; sync_files: %zu; timelines: %zu; "
	       "pending fences: %zu\n", s->nbufs, s->bytes, s->nsfs, s->ntls, pending);
	printf("\nLargest buffers:\n%10s %12s %-16s %-20s %4s %5s %s\n", "INODE", "SIZE",
	       "EXPORTER", "NAME", "FDS", "MMAPS", "FENCES");
	for (size_t i = 0; i < ntop; i++) {
		const uint32_t *f = top[i]->r.fences;

		printf("%10" PRIu64 " %12" PRIu64 " %-16s %-20s %4u %5u %u/%u/%u/%u\n",
		       top[i]->r.ino, top[i]->r.size, top[i]->r.exp_name,
		       top[i]->r.has_name ? top[i]->r.name : "-", top[i]->fds, top[i]->mmaps,
		       f[0], f[1], f[2], f[3]);
	}
	printf("\nPending fences:\n");
	for (size_t i = 0; i < s->nfences && shown < WATCH_TOP; i += n) {
		n = fence_group(&s->fences[i], s->nfences - i);
		if (!s->fences[i].status) {
			fence_text(&s->fences[i], n);
			shown++;
		}
	}
	if (pending > shown)
		printf("  ... %zu more\n", pending - shown);
}

static int cmd_watch(struct broker *b, const struct options *o)
{
	const struct buf *top[WATCH_TOP], **all = NULL;
	struct state s;

	for (long i = 0; !o->count || i < o->count; i++) {
		size_t ntop;

		if (i)
			poll(NULL, 0, (int)o->interval_ms);
		state_load(&s, b, true);
		all = xrealloc(all, s.nbufs, sizeof(*all));
		for (size_t k = 0; k < s.nbufs; k++)
			all[k] = &s.bufs[k];
		sort(all, s.nbufs, sizeof(*all), size_cmp);
		ntop = s.nbufs < WATCH_TOP ? s.nbufs : WATCH_TOP;
		memcpy(top, all, ntop * sizeof(*top));
		if (o->json)
			watch_json(&s, top, ntop);
		else
			watch_text(&s, b, o, top, ntop);
		fflush(stdout);
		state_free(&s);
	}
	free(all);
	return 0;
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dmabufctl [--socket=PATH] [--json] COMMAND [ARG]...\n"
		"Show the dma-bufs, sync_files, fences and timelines of the running dmabufd and\n"
		"the processes holding them.\n"
		"\n"
		"Commands:\n"
		"  buffers              every buffer: size, exporter, name, map_info,\n"
		"                       descriptors, mappings, attachments, pending fences by\n"
		"                       usage; totals\n"
		"  procs [PID]          per process: buffers held by descriptor and by mapping,\n"
		"                       bytes and proportional share (PSS); with PID, its buffers\n"
		"  fences [--all]       pending fences (--all: signaled ones of sync_files too)\n"
		"                       and who holds them, and the sync_files\n"
		"  timelines            sw_sync timelines: value, pending points, deadlines\n"
		"  watch [--interval=MS] [--count=N]\n"
		"                       refresh a summary every MS milliseconds (1000), N times\n"
		"                       (until interrupted)\n"
		"  trace -o FILE [--] COMMAND...\n"
		"                       run COMMAND with a private broker and write its trace\n"
		"\n"
		"Options:\n"
		"  --socket=PATH        the broker listening on PATH (default: where libdmabuf\n"
		"                       finds it: $DMABUFD_SOCKET, else\n"
		"                       $XDG_RUNTIME_DIR/dmabuf/dmabufd.sock, else\n"
		"                       /tmp/dmabuf-$UID/dmabufd.sock)\n"
		"  --json               one JSON document on stdout (watch: one line per refresh)\n"
		"  -h, --help           show this help and exit\n"
		"  --version            show the version and exit\n"
		"\n"
		"Exit status: 0; 1 if no broker runs or the listing failed; 2 for a usage\n"
		"error.\n");
}

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("dmabufctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'dmabufctl --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

enum { OPT_SOCKET = 256, OPT_JSON, OPT_VERSION, OPT_ALL, OPT_INTERVAL, OPT_COUNT };

/* A decimal number in [@min, @max], else -1. */
static long number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	return v;
}

/* One option of getopt_long()'s; 0 to go on, -1 to exit 0, else the exit status. */
static int option(int c, const char *cmd, struct options *o, char **argv)
{
	switch (c) {
	case 'h':
		usage(stdout);
		return -1;
	case OPT_VERSION:
		printf("dmabufctl %s\n", DMABUF_VERSION);
		return -1;
	case OPT_SOCKET:
		if (!optarg[0])
			return usage_error("--socket needs a path");
		o->socket = optarg;
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case OPT_ALL:
		if (strcmp(cmd, "fences"))
			return usage_error("--all is an option of fences");
		o->all = true;
		return 0;
	case OPT_INTERVAL:
	case OPT_COUNT:
		if (strcmp(cmd, "watch"))
			return usage_error("%s is an option of watch", argv[optind - 1]);
		if (c == OPT_INTERVAL)
			o->interval_ms = number(optarg, 1, INT_MAX);
		else
			o->count = number(optarg, 1, LONG_MAX);
		if (o->interval_ms < 0 || o->count < 0)
			return usage_error("%s: not a positive number: %s",
					   c == OPT_INTERVAL ? "--interval" : "--count", optarg);
		return 0;
	case ':':
		return usage_error("option '%s' needs an argument", argv[optind - 1]);
	default:
		if (optopt)
			return usage_error("unknown option '-%c'", optopt);
		return usage_error("unknown option '%s'", argv[optind - 1]);
	}
}

static const struct option longopts[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ NULL, 0, NULL, 0 },
};

/* Options before the command ('+': they end at it); -1 to exit 0, else as option(). */
static int global_options(int argc, char **argv, struct options *o)
{
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		if (c == OPT_ALL || c == OPT_INTERVAL || c == OPT_COUNT)
			return usage_error("%s is an option of a command", argv[optind - 1]);
		ret = option(c, "", o, argv);
		if (ret)
			return ret;
	}
	return 0;
}

/* The command's own options and arguments (argv[0] is the command). */
static int command_options(int argc, char **argv, struct options *o)
{
	const char *cmd = argv[0];
	int c, ret;

	optind = 0;	/* start over on the command's arguments */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		ret = option(c, cmd, o, argv);
		if (ret)
			return ret;
	}
	if (!strcmp(cmd, "procs") && optind < argc) {
		long pid = number(argv[optind], 1, INT_MAX);

		if (pid < 0)
			return usage_error("procs: not a process id: %s", argv[optind]);
		o->pid = (pid_t)pid;
		optind++;
	}
	if (optind < argc)
		return usage_error("%s: unexpected argument '%s'", cmd, argv[optind]);
	return 0;
}

/* The listing of @cmd, in text or JSON. */
static void listing(const char *cmd, const struct state *s, const struct options *o)
{
	if (!strcmp(cmd, "buffers")) {
		if (o->json)
			buffers_json(s);
		else
			buffers_text(s);
	} else if (!strcmp(cmd, "procs")) {
		if (o->json)
			procs_json(s);
		else
			procs_text(s);
	} else if (!strcmp(cmd, "fences")) {
		if (o->json)
			fences_json(s, o->all);
		else
			fences_text(s, o->all);
	} else if (o->json) {
		timelines_json(s);
	} else {
		timelines_text(s);
	}
}

static int run(const char *cmd, const struct options *o)
{
	struct broker b;
	struct state s;
	int ret = 0;

	broker_open(&b, o->socket);
	if (!strcmp(cmd, "watch")) {
		ret = cmd_watch(&b, o);
		close(b.sock);
		return ret;
	}
	state_load(&s, &b, strcmp(cmd, "buffers") && strcmp(cmd, "procs"));
	close(b.sock);
	if (!strcmp(cmd, "procs") && o->pid)
		ret = proc_one(&s, o->pid, o->json);
	else
		listing(cmd, &s, o);
	state_free(&s);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "dmabufctl: cannot write the listing: %s\n", strerror(errno));
		return 1;
	}
	return ret;
}

int main(int argc, char **argv)
{
	static const char *const commands[] = { "buffers", "procs", "fences", "timelines",
						"watch" };
	struct options o = { .interval_ms = 1000 };
	const char *cmd;
	bool known = false;
	int ret;

	ret = global_options(argc, argv, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (optind >= argc)
		return usage_error("no command given");
	cmd = argv[optind];
	if (!strcmp(cmd, "trace"))
		return dmabufctl_trace(argc - optind, argv + optind);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		known |= !strcmp(cmd, commands[i]);
	if (!known)
		return usage_error("unknown command '%s'", cmd);
	ret = command_options(argc - optind, argv + optind, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	return run(cmd, &o);
}

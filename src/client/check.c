// SPDX-License-Identifier: MIT
/*
 * check.c - the coherency checker (check.h): the SYNC brackets of each buffer the process
 * uses, and the protection of its mappings that follows from them.
 *
 * Per buffer (st_dev, st_ino) the checker keeps the STARTs still open, innermost last.  The
 * mappings of a buffer are PROT_NONE while none is open, read-only under START|READ, and as
 * asked under START|WRITE or RW; every successful SYNC re-applies that to all of them.  An
 * access the protection refuses faults, and check_fault.c reports it.  The bracket errors
 * (END without START, an END with another direction than its START, a START inside an open
 * bracket, a bracket still open at exit) are reported here, only for buffers the process
 * maps now or mapped while the bracket was open: a process that never maps a buffer makes
 * no CPU access to it, and its SYNCs are only waits.
 *
 * The state lives under the mapping table's lock.  A buffer's entry goes when it has neither
 * a mapping nor a bracket open (at its last END, or in a sweep when entries pile up); its
 * inode number may then name another buffer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "check_internal.h"

#define HASH_SIZE	256
#define SWEEP_MIN	64

int dmabuf_check_mode;

static struct check_buf *bufs[HASH_SIZE];
static size_t n_bufs;
static size_t sweep_at = SWEEP_MIN;

static const struct dmabuf_fd_ops *backend(void)
{
	return dmabuf_fd_backend();
}

static size_t hash(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;

	return (size_t)(h >> 56) % HASH_SIZE;
}

struct check_buf *check_buf_find(dev_t dev, ino_t ino)
{
	struct check_buf *b;

	for (b = bufs[hash(dev, ino)]; b; b = b->next)
		if (b->dev == dev && b->ino == ino)
			return b;
	return NULL;
}

unsigned int check_bracket(const struct check_buf *b)
{
	unsigned int i, dir = 0;

	if (b->depth > CHECK_STACK_MAX)
		return CHECK_RW;
	for (i = 0; i < b->depth; i++)
		dir |= b->open[i];
	return dir;
}

static bool is_mapped(const struct check_buf *b)
{
	return dmabuf_maps_count(b->dev, b->ino) != 0;
}

/* Nothing to remember: no bracket open, no mapping. */
static bool is_idle(const struct check_buf *b)
{
	return !b->depth && !is_mapped(b);
}

static void buf_free(struct check_buf *b)
{
	if (b->have_probe && backend()->probe_fini)
		backend()->probe_fini(&b->probe);
	free(b);
}

static void buf_unlink(struct check_buf *b)
{
	struct check_buf **pp = &bufs[hash(b->dev, b->ino)];

	while (*pp != b)
		pp = &(*pp)->next;
	*pp = b->next;
	n_bufs--;
	buf_free(b);
}

/* Drop the entries of buffers that are idle. */
static void sweep_all(void)
{
	struct check_buf **pp, *b;
	size_t i;

	for (i = 0; i < HASH_SIZE; i++) {
		pp = &bufs[i];
		while ((b = *pp)) {
			if (is_idle(b)) {
				*pp = b->next;
				n_bufs--;
				buf_free(b);
			} else {
				pp = &b->next;
			}
		}
	}
	sweep_at = 2 * n_bufs > SWEEP_MIN ? 2 * n_bufs : SWEEP_MIN;
}

/* ...when they pile up. */
static void sweep(void)
{
	if (n_bufs >= sweep_at)
		sweep_all();
}

void dmabuf_check_unmapped(void)
{
	/* a probe may hold a descriptor of the buffer: let it go with the last mapping */
	if (n_bufs)
		sweep_all();
}

static struct check_buf *buf_new(dev_t dev, ino_t ino)
{
	struct check_buf *b;
	size_t h = hash(dev, ino);

	sweep();
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->dev = dev;
	b->ino = ino;
	b->desc.map_info = -1;
	b->next = bufs[h];
	bufs[h] = b;
	n_bufs++;
	return b;
}

/* The protection a mapping asked with @prot has under @b's brackets. */
static int allowed_prot(const struct check_buf *b, int prot)
{
	unsigned int dir = check_bracket(b);

	if (!dir)
		return PROT_NONE;
	if (!(dir & CHECK_WRITE))
		return (prot & ~PROT_WRITE) | (prot & PROT_WRITE ? PROT_READ : 0);
	return prot;
}

static void protect(struct dmabuf_map *m, void *arg)
{
	int want = allowed_prot(arg, m->prot);

	if (want != m->cur_prot && !mprotect((void *)m->start, m->end - m->start, want))
		m->cur_prot = want;
}

/* ---- the hooks ---- */

void dmabuf_check_prepare(int fd, const struct stat *st)
{
	const struct dmabuf_fd_ops *ops = backend();
	struct dmabuf_fd_buf_desc desc = { .map_info = -1 };
	struct dmabuf_fd_probe probe;
	bool have_desc, have_probe;
	struct check_buf *b;

	check_fault_install();
	dmabuf_maps_lock();
	b = check_buf_find(st->st_dev, st->st_ino);
	if (b && b->have_desc && !is_idle(b)) {
		dmabuf_maps_unlock();
		return;
	}
	dmabuf_maps_unlock();

	/* what we learn of a buffer we do not know yet, or no more (its inode may be reused) */
	have_desc = ops->buf_desc && !ops->buf_desc(fd, &desc);
	have_probe = ops->probe_init && !ops->probe_init(fd, st, &probe);

	dmabuf_maps_lock();
	b = check_buf_find(st->st_dev, st->st_ino);
	if (!b)
		b = buf_new(st->st_dev, st->st_ino);
	if (b && is_idle(b)) {
		b->touched = false;
		b->reported = 0;
	}
	if (b && have_desc) {
		b->desc = desc;
		b->have_desc = true;
	}
	if (b && have_probe) {
		if (b->have_probe && ops->probe_fini)
			ops->probe_fini(&b->probe);
		b->probe = probe;
		b->have_probe = true;
		have_probe = false;
	}
	dmabuf_maps_unlock();
	if (have_probe && ops->probe_fini)
		ops->probe_fini(&probe);
}

void dmabuf_check_mapped(struct dmabuf_map *m)
{
	struct check_buf *b;

	m->cur_prot = m->prot;
	check_fault_install();
	b = check_buf_find(m->dev, m->ino);
	if (!b)
		b = buf_new(m->dev, m->ino);
	if (!b)
		return;	/* out of memory: this mapping goes unchecked */
	b->touched = true;
	protect(m, b);
}

/* Report a bracket error of @kind on @b, once per buffer. */
static void report_bracket(struct check_buf *b, enum check_kind kind, unsigned int bracket,
			   int sync)
{
	void *frames[CHECK_FRAMES];
	struct check_violation v = {
		.kind = kind,
		.buf = b,
		.access = CHECK_ACC_NONE,
		.bracket = bracket,
		.sync = sync,
		.frames = frames,
	};

	if (b->reported & (1U << kind))
		return;
	b->reported |= 1U << kind;
	v.n_frames = check_backtrace_here(frames, CHECK_FRAMES);
	check_report(&v);
}

static void sync_start(struct check_buf *b, unsigned int dir, int flags, bool visible)
{
	if (b->depth && visible)
		report_bracket(b, CHECK_NESTED_START, check_bracket(b), flags);
	if (!b->depth)
		b->n_open_frames = check_backtrace_here(b->open_frames, CHECK_OPEN_FRAMES);
	if (b->depth < CHECK_STACK_MAX)
		b->open[b->depth] = (uint8_t)dir;
	b->depth++;
}

static void sync_end(struct check_buf *b, unsigned int dir, int flags, bool visible)
{
	unsigned int i, top;

	if (!b->depth) {
		if (visible)
			report_bracket(b, CHECK_END_WITHOUT_START, 0, flags);
		return;
	}
	if (b->depth <= CHECK_STACK_MAX) {
		/* the innermost START of the same direction, else the innermost one */
		top = b->depth - 1;
		for (i = b->depth; i-- > 0;)
			if (b->open[i] == dir)
				break;
		if (i == (unsigned int)-1) {
			i = top;
			if (visible)
				report_bracket(b, CHECK_DIRECTION_MISMATCH, b->open[top], flags);
		}
		memmove(&b->open[i], &b->open[i + 1], top - i);
	}
	b->depth--;
	if (b->inherited > b->depth)
		b->inherited = b->depth;
	if (!b->depth)
		b->n_open_frames = 0;
}

void dmabuf_check_synced(int fd, const struct stat *st, uint64_t flags)
{
	unsigned int dir = (unsigned int)flags & CHECK_RW;
	bool end = flags & CHECK_END, mapped, visible;
	struct check_buf *b;

	dmabuf_maps_lock();
	b = check_buf_find(st->st_dev, st->st_ino);
	mapped = dmabuf_maps_count(st->st_dev, st->st_ino) != 0;
	if (!b && (!end || mapped))
		b = buf_new(st->st_dev, st->st_ino);
	if (!b)
		goto out;	/* an END on a buffer never mapped nor opened: nothing to say */
	if (!b->depth && !mapped)
		b->touched = false;	/* mapped before, but not since the last bracket */
	if (mapped)
		b->touched = true;
	visible = b->touched;
	if (end)
		sync_end(b, dir, (int)flags, visible);
	else
		sync_start(b, dir, (int)flags, visible);
	dmabuf_maps_each(b->dev, b->ino, protect, b);
	if (!b->depth && !mapped)
		buf_unlink(b);
out:
	dmabuf_maps_unlock();
}

void dmabuf_check_named(const struct stat *st, const char *name)
{
	struct check_buf *b;

	dmabuf_maps_lock();
	b = check_buf_find(st->st_dev, st->st_ino);
	if (b && name) {
		snprintf(b->desc.name, sizeof(b->desc.name), "%s", name);
		b->desc.has_name = true;
	}
	dmabuf_maps_unlock();
}

/* ---- the process ---- */

/*
 * DMABUF_CHECK_COHERENCY: "1" or "report", "abort"; unset, empty or "0": off.  Unset with
 * DMABUF_CHECK_REPORT set: report.
 */
static int mode_from_env(void)
{
	const char *s = getenv("DMABUF_CHECK_COHERENCY");
	const char *file = getenv("DMABUF_CHECK_REPORT");

	if (!s)
		return file && file[0] ? DMABUF_CHECK_REPORT : DMABUF_CHECK_OFF;
	if (!s[0] || !strcmp(s, "0"))
		return DMABUF_CHECK_OFF;
	if (!strcmp(s, "1") || !strcmp(s, "report"))
		return DMABUF_CHECK_REPORT;
	if (!strcmp(s, "abort"))
		return DMABUF_CHECK_ABORT;
	fprintf(stderr, "dmabuf-check: DMABUF_CHECK_COHERENCY=%s is not 1, report or abort: "
		"reporting\n", s);
	return DMABUF_CHECK_REPORT;
}

/* Fork: the child gets a consistent state, its own counts, and its parent's brackets. */
static void fork_prepare(void)
{
	dmabuf_maps_lock();
}

static void fork_parent(void)
{
	dmabuf_maps_unlock();
}

static void fork_child(void)
{
	struct check_buf *b;
	size_t i;

	for (i = 0; i < HASH_SIZE; i++)
		for (b = bufs[i]; b; b = b->next)
			b->inherited = b->depth;
	check_fault_forked();
	check_report_forked();
	dmabuf_maps_unlock();
}

static void __attribute__((constructor)) check_init(void)
{
	int mode = mode_from_env();

	if (mode == DMABUF_CHECK_OFF)
		return;
	check_report_init(secure_getenv("DMABUF_CHECK_REPORT"));
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	dmabuf_check_mode = mode;
}

/* At exit: the brackets left open (not after a nested START: that said it), the summary. */
static void __attribute__((destructor)) check_exit(void)
{
	struct check_violation v = { .kind = CHECK_UNBALANCED, .access = CHECK_ACC_NONE };
	unsigned int nested = 1U << CHECK_NESTED_START;
	struct check_buf *b;
	size_t i;

	if (!dmabuf_check_on())
		return;
	dmabuf_maps_lock();
	for (i = 0; i < HASH_SIZE; i++) {
		for (b = bufs[i]; b; b = b->next) {
			if (b->depth <= b->inherited || (b->reported & nested) ||
			    !(b->touched || is_mapped(b)))
				continue;
			v.buf = b;
			v.bracket = check_bracket(b);
			v.sync = -1;
			v.frames = b->open_frames;
			v.n_frames = b->n_open_frames;
			check_report(&v);
		}
	}
	check_report_summary();
	dmabuf_maps_unlock();
}

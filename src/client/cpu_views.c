// SPDX-License-Identifier: MIT
/*
 * cpu_views.c - this process's CPU views of incoherent buffers (see cpu_views.h): a small
 * list keyed by the buffer's file, under the mapping table's lock.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include <dmabuf/fd.h>

#include "cpu_views.h"
#include "maps.h"
#include "../core/cpu_view.h"
#include "../core/internal.h"

/* @copy: made before a fork for the child (when @has_copy). */
struct view {
	struct view *next;
	dev_t dev;
	ino_t ino;
	struct dmabuf_cpu_view v;
	struct dmabuf_cpu_view_copy copy;
	bool has_copy;
};

static struct view *views;

static struct view *find(dev_t dev, ino_t ino)
{
	for (struct view *w = views; w; w = w->next)
		if (w->dev == dev && w->ino == ino)
			return w;
	return NULL;
}

/* Locked: the view of buffer @fd, made from its device view if there is none yet. */
static int get(int fd, const struct stat *st, struct view **out)
{
	struct view *w = find(st->st_dev, st->st_ino);
	int ret;

	if (w) {
		*out = w;
		return 0;
	}
	w = dmabuf_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	ret = dmabuf_cpu_view_init(&w->v, fd, (uint64_t)st->st_size);
	if (ret) {
		dmabuf_free(w);
		return ret;
	}
	w->dev = st->st_dev;
	w->ino = st->st_ino;
	w->next = views;
	views = w;
	*out = w;
	return 0;
}

int dmabuf_cpu_views_mmap(int fd, const struct stat *st, void *addr, size_t len, int prot,
			  int flags, uint64_t offset, void **out)
{
	struct view *w;
	int ret;

	dmabuf_maps_lock();
	ret = get(fd, st, &w);
	if (!ret)
		ret = dmabuf_cpu_view_mmap(&w->v, addr, len, prot, flags, offset, out);
	/* a view made for a mapping that failed goes again (a new one is recorded next) */
	if (ret)
		dmabuf_cpu_views_unmapped();
	dmabuf_maps_unlock();
	return ret;
}

void dmabuf_cpu_views_synced(int fd, const struct stat *st, uint64_t flags)
{
	struct view *w;

	dmabuf_maps_lock();
	if (!(flags & DMABUF_FD_SYNC_END)) {
		/* an access may begin before the mapping that makes it: the view starts here */
		if (!get(fd, st, &w))
			dmabuf_cpu_view_begin(&w->v, flags & DMABUF_FD_SYNC_READ);
	} else {
		w = find(st->st_dev, st->st_ino);
		if (w)
			dmabuf_cpu_view_end(&w->v, flags & DMABUF_FD_SYNC_WRITE);
	}
	dmabuf_cpu_views_unmapped();
	dmabuf_maps_unlock();
}

static void count_one(struct dmabuf_map *m, void *arg)
{
	(*(unsigned int *)arg)++;
}

static bool in_use(struct view *w)
{
	unsigned int n = 0;

	if (w->v.count)
		return true;
	dmabuf_maps_each(w->dev, w->ino, count_one, &n);
	return n != 0;
}

void dmabuf_cpu_views_unmapped(void)
{
	struct view **pp = &views, *w;

	while ((w = *pp)) {
		if (in_use(w)) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		dmabuf_cpu_view_fini(&w->v);
		dmabuf_free(w);
	}
}

/* A shared mapping of @arg's view moves onto its new memory (same place, same protection). */
static void remap_one(struct dmabuf_map *m, void *arg)
{
	struct view *w = arg;

	if (m->shared)
		dmabuf_cpu_view_remap(&w->v, (void *)m->start, m->end - m->start, m->cur_prot,
				      m->offset);
}

void dmabuf_cpu_views_atfork_prepare(void)
{
	/* out of memory: that child shares its parent's cache, as a thread would */
	for (struct view *w = views; w; w = w->next)
		w->has_copy = !dmabuf_cpu_view_copy_make(&w->v, &w->copy);
}

void dmabuf_cpu_views_atfork_parent(void)
{
	for (struct view *w = views; w; w = w->next) {
		if (w->has_copy)
			dmabuf_cpu_view_copy_drop(&w->v, &w->copy);
		w->has_copy = false;
	}
}

void dmabuf_cpu_views_atfork_child(void)
{
	for (struct view *w = views; w; w = w->next) {
		if (!w->has_copy)
			continue;
		dmabuf_cpu_view_copy_adopt(&w->v, &w->copy);
		w->has_copy = false;
		dmabuf_maps_each(w->dev, w->ino, remap_one, w);
	}
}

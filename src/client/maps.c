// SPDX-License-Identifier: MIT
/*
 * maps.c - the process's CPU mappings of dma-bufs (see maps.h): a sorted array of disjoint
 * ranges under one lock.
 *
 * The lock is taken once per thread (a thread may hold it while a fork handler or a fault
 * handler of its own asks again), and fork holds it from the prepare handler to the child
 * and parent handlers, so that the child gets a consistent table and no lock held by a
 * thread it does not have.  munmap goes through the system call directly: inside the
 * preload library the libc name is our own wrapper.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "cpu_views.h"
#include "maps.h"
#include "../core/internal.h"

static struct dmabuf_map *maps;
static size_t n_maps, cap_maps;
static unsigned int any_maps;	/* n_maps != 0, readable without the lock */
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static __thread unsigned int map_held __attribute__((tls_model("initial-exec")));

uintptr_t dmabuf_maps_page_len(size_t len)
{
	uintptr_t p = (uintptr_t)dmabuf_page_size();

	return len + p - 1 < len ? 0 : (len + p - 1) & ~(p - 1);
}

bool dmabuf_maps_used(void)
{
	return __atomic_load_n(&any_maps, __ATOMIC_ACQUIRE) != 0;
}

static void table_changed(void)
{
	__atomic_store_n(&any_maps, n_maps ? 1U : 0U, __ATOMIC_RELEASE);
}

void dmabuf_maps_lock(void)
{
	if (map_held++ == 0)
		pthread_mutex_lock(&map_lock);
}

void dmabuf_maps_unlock(void)
{
	if (--map_held == 0)
		pthread_mutex_unlock(&map_lock);
}

static void fork_prepare(void)
{
	dmabuf_maps_lock();
	dmabuf_cpu_views_atfork_prepare();
}

static void fork_parent(void)
{
	dmabuf_cpu_views_atfork_parent();
	dmabuf_maps_unlock();
}

static void fork_child(void)
{
	dmabuf_cpu_views_atfork_child();
	dmabuf_maps_unlock();
}

static void atfork_register(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* The first range that ends above @addr (n_maps if none). */
static size_t first_above(uintptr_t addr)
{
	size_t lo = 0, hi = n_maps, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (maps[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool grow(void)
{
	size_t cap = cap_maps ? 2 * cap_maps : 16;
	struct dmabuf_map *m;

	if (n_maps < cap_maps)
		return true;
	m = realloc(maps, cap * sizeof(*m));
	if (!m)
		return false;
	maps = m;
	cap_maps = cap;
	return true;
}

static void insert_at(size_t i, const struct dmabuf_map *m)
{
	memmove(&maps[i + 1], &maps[i], (n_maps - i) * sizeof(*maps));
	maps[i] = *m;
	n_maps++;
}

/* @m now starts at @start: its offset moves with it. */
static void cut_front(struct dmabuf_map *m, uintptr_t start)
{
	m->offset += start - m->start;
	m->start = start;
}

/* Cut [@lo, @hi) out of every range. */
static void drop(uintptr_t lo, uintptr_t hi)
{
	size_t i = first_above(lo);
	struct dmabuf_map tail;

	while (i < n_maps && maps[i].start < hi) {
		struct dmabuf_map *m = &maps[i];

		if (m->start < lo && m->end > hi) {
			/* the middle goes: one VMA becomes two */
			tail = *m;
			cut_front(&tail, hi);
			m->end = lo;
			if (grow())
				insert_at(i + 1, &tail);
			break;
		}
		if (m->start < lo) {
			m->end = lo;
			i++;
		} else if (m->end > hi) {
			cut_front(m, hi);
			break;
		} else {
			memmove(m, m + 1, (n_maps - i - 1) * sizeof(*maps));
			n_maps--;
		}
	}
	table_changed();
}

void dmabuf_maps_drop(uintptr_t lo, uintptr_t hi)
{
	drop(lo, hi);
	dmabuf_cpu_views_unmapped();
	if (dmabuf_check_on())
		dmabuf_check_unmapped();
}

void dmabuf_maps_add(const struct dmabuf_map *m)
{
	pthread_once(&atfork_once, atfork_register);
	drop(m->start, m->end);
	if (grow())
		insert_at(first_above(m->start), m);
	table_changed();
}

struct dmabuf_map *dmabuf_maps_lookup(uintptr_t addr)
{
	size_t i = first_above(addr);

	return i < n_maps && maps[i].start <= addr ? &maps[i] : NULL;
}

void dmabuf_maps_each(dev_t dev, ino_t ino, void (*fn)(struct dmabuf_map *m, void *arg),
		      void *arg)
{
	for (size_t i = 0; i < n_maps; i++)
		if (maps[i].dev == dev && maps[i].ino == ino)
			fn(&maps[i], arg);
}

unsigned int dmabuf_maps_count(dev_t dev, ino_t ino)
{
	unsigned int n = 0;

	if (!dmabuf_maps_used())
		return 0;
	dmabuf_maps_lock();
	for (size_t i = 0; i < n_maps; i++)
		if (maps[i].dev == dev && maps[i].ino == ino)
			n++;
	dmabuf_maps_unlock();
	return n;
}

int dmabuf_maps_munmap(void *addr, size_t len)
{
	long ret;

	if (!dmabuf_maps_used())
		return (int)syscall(SYS_munmap, addr, len);
	dmabuf_maps_lock();
	ret = syscall(SYS_munmap, addr, len);
	if (!ret)
		dmabuf_maps_drop((uintptr_t)addr, (uintptr_t)addr + dmabuf_maps_page_len(len));
	dmabuf_maps_unlock();
	return (int)ret;
}

void dmabuf_maps_remapped(const struct dmabuf_map *hit, uintptr_t old, size_t old_len,
			  uintptr_t p, size_t new_len)
{
	uintptr_t ol = dmabuf_maps_page_len(old_len), nl = dmabuf_maps_page_len(new_len);
	struct dmabuf_map m;

	if (p == old) {
		if (nl < ol)
			dmabuf_maps_drop(old + nl, old + ol);
		return;
	}
	drop(old, old + ol);
	drop(p, p + nl);
	if (hit) {
		m = *hit;
		m.offset += old - hit->start;
		m.start = p;
		m.end = p + nl;
		dmabuf_maps_add(&m);
	}
	dmabuf_cpu_views_unmapped();
}

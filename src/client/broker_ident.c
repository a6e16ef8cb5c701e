// SPDX-License-Identifier: MIT
/* broker_ident.c - the descriptor identity cache and the shared slot table (broker_ident.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "broker_conn.h"
#include "broker_ident.h"
#include "../core/internal.h"

/* Direct-mapped: a newer file simply replaces an older one with the same hash. */
#define CACHE_SIZE 1024

struct cache_entry {
	bool used;
	dev_t dev;
	ino_t ino;
	struct broker_ident id;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_entry cache[CACHE_SIZE];

/*
 * The slot table of one connection.  Tables are never freed: a reader may still hold an
 * older one (its memory is then an all-zero mapping), and all stay reachable through @older.
 */
struct slot_table {
	const struct dmabufd_slot *slots;
	uint64_t nslots;
	size_t map_len;
	uint64_t epoch;
	struct slot_table *older;
};

static struct slot_table *current_table;	/* atomic; written under the connection lock */
static struct slot_table *all_tables;		/* under the connection lock */

static size_t cache_index(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev << 29)) * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 54) % CACHE_SIZE;
}

/* The slot of @id in the current table, or NULL when the table cannot say anything about it. */
static const struct dmabufd_slot *ident_slot(const struct broker_ident *id)
{
	const struct slot_table *t = __atomic_load_n(&current_table, __ATOMIC_ACQUIRE);

	if (!t || id->type != DMABUFD_TYPE_BUF || id->slot == DMABUFD_NO_SLOT ||
	    id->epoch != t->epoch || id->slot >= t->nslots)
		return NULL;
	return &t->slots[id->slot];
}

bool broker_ident_state(const struct broker_ident *id, uint32_t *state)
{
	const struct dmabufd_slot *s = ident_slot(id);
	uint32_t gen, st;
	uint64_t ino;

	if (!s)
		return false;
	gen = __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE);
	ino = __atomic_load_n(&s->ino, __ATOMIC_ACQUIRE);
	st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
	/* the state belongs to our buffer only if the slot was not freed meanwhile */
	if (gen != id->gen || ino != id->ino || __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE) != gen)
		return false;
	*state = st;
	return true;
}

/* A cached identity is still right: same connection, and a buffer still owns its slot. */
static bool ident_current(const struct broker_ident *id)
{
	uint32_t state;

	if (id->epoch != broker_epoch())
		return false;
	if (id->type == DMABUFD_TYPE_BUF && id->slot != DMABUFD_NO_SLOT)
		return broker_ident_state(id, &state);
	return true;
}

static bool cache_lookup(const struct stat *st, struct broker_ident *id)
{
	struct cache_entry *e = &cache[cache_index(st->st_dev, st->st_ino)];
	bool hit;

	pthread_mutex_lock(&cache_lock);
	hit = e->used && e->dev == st->st_dev && e->ino == st->st_ino;
	if (hit)
		*id = e->id;
	pthread_mutex_unlock(&cache_lock);
	return hit && ident_current(id);
}

static void cache_store(const struct stat *st, const struct broker_ident *id)
{
	struct cache_entry *e = &cache[cache_index(st->st_dev, st->st_ino)];

	pthread_mutex_lock(&cache_lock);
	e->used = true;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->id = *id;
	pthread_mutex_unlock(&cache_lock);
}

void broker_ident_forget(const struct stat *st)
{
	struct cache_entry *e = &cache[cache_index(st->st_dev, st->st_ino)];

	pthread_mutex_lock(&cache_lock);
	if (e->used && e->dev == st->st_dev && e->ino == st->st_ino)
		e->used = false;
	pthread_mutex_unlock(&cache_lock);
}

void broker_ident_learn(int fd, const struct broker_ident *id)
{
	struct stat st;

	if (fstat(fd, &st) == 0)
		cache_store(&st, id);
}

static int identify(int fd, struct broker_ident *id)
{
	struct broker_req req = {
		.msg.op = DMABUFD_OP_IDENTIFY,
		.fds = &fd,
		.nfds = 1,
	};
	struct broker_rep rep = { 0 };
	int ret = broker_call(&req, &rep);

	if (ret)
		return ret;
	if (rep.msg.ret)
		return rep.msg.ret < 0 ? rep.msg.ret : -EPROTO;
	id->type = (uint32_t)rep.msg.arg[0];
	id->slot = rep.msg.arg[1];
	id->gen = (uint32_t)rep.msg.arg[2];
	id->ino = rep.msg.arg[3];
	id->epoch = rep.epoch;
	return 0;
}

int broker_ident_get(int fd, const struct stat *st, struct broker_ident *id)
{
	int ret;

	if (cache_lookup(st, id))
		return 0;
	ret = identify(fd, id);
	if (ret)
		return ret;
	/* "not ours" is not kept: the same file may be a buffer sent by another process later */
	if (id->type != DMABUFD_TYPE_NONE)
		cache_store(st, id);
	return 0;
}

void broker_ident_atfork_child(void)
{
	pthread_mutex_init(&cache_lock, NULL);
	memset(cache, 0, sizeof(cache));
}

int broker_table_attach(int memfd, uint64_t nslots, uint64_t epoch)
{
	struct slot_table *t;
	struct stat st;
	size_t len;
	void *p;

	if (nslots == 0)
		return 0;
	if (nslots > SIZE_MAX / sizeof(struct dmabufd_slot))
		return -EPROTO;
	len = (size_t)nslots * sizeof(struct dmabufd_slot);
	if (fstat(memfd, &st))
		return -errno;
	if ((uint64_t)st.st_size < len)
		return -EPROTO;
	t = dmabuf_calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, memfd, 0);
	if (p == MAP_FAILED) {
		dmabuf_free(t);
		return -errno;
	}
	t->slots = p;
	t->nslots = nslots;
	t->map_len = len;
	t->epoch = epoch;
	t->older = all_tables;
	all_tables = t;
	__atomic_store_n(&current_table, t, __ATOMIC_RELEASE);
	return 0;
}

void broker_table_detach(void)
{
	struct slot_table *t = __atomic_load_n(&current_table, __ATOMIC_ACQUIRE);

	if (!t)
		return;
	__atomic_store_n(&current_table, NULL, __ATOMIC_RELEASE);
	/*
	 * Readers may still hold @t: put zero pages where the table was (no slot matches
	 * them) instead of unmapping, and let the broker's memory go.
	 */
	mmap((void *)t->slots, t->map_len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
	     -1, 0);
}

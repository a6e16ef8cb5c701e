// SPDX-License-Identifier: MIT
/*
 * objects.c - the object table: (st_dev, st_ino) of a client's descriptor -> broker object,
 * and the chained hash tables it (and the inotify watch table) are built on; objects backed by
 * a pipe that is never written (timelines, heaps).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmabufd.h"
#include "log.h"

static struct dmabufd_tab objects;

static size_t tab_hash(const struct dmabufd_tab *tab, uint64_t k1, uint64_t k2)
{
	uint64_t h = (k2 ^ (k1 * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL;

	return (size_t)(h ^ (h >> 29)) & tab->mask;
}

int dmabufd_tab_init(struct dmabufd_tab *tab, size_t size)
{
	size_t n = 16;

	while (n < size)
		n <<= 1;
	tab->buckets = calloc(n, sizeof(*tab->buckets));
	if (!tab->buckets)
		return -ENOMEM;
	tab->mask = n - 1;
	tab->count = 0;
	return 0;
}

void dmabufd_tab_fini(struct dmabufd_tab *tab)
{
	free(tab->buckets);
	tab->buckets = NULL;
	tab->mask = 0;
	tab->count = 0;
}

/* Double the bucket array; on failure the table stays as it is (only slower). */
static void tab_grow(struct dmabufd_tab *tab)
{
	struct dmabufd_tab bigger;
	struct dmabufd_node *node, *next;

	if (dmabufd_tab_init(&bigger, (tab->mask + 1) * 2))
		return;
	for (size_t i = 0; i <= tab->mask; i++) {
		for (node = tab->buckets[i]; node; node = next) {
			size_t b = tab_hash(&bigger, node->k1, node->k2);

			next = node->next;
			node->next = bigger.buckets[b];
			bigger.buckets[b] = node;
		}
	}
	bigger.count = tab->count;
	free(tab->buckets);
	*tab = bigger;
}

int dmabufd_tab_insert(struct dmabufd_tab *tab, struct dmabufd_node *node)
{
	size_t b;

	if (tab->count >= tab->mask + 1)
		tab_grow(tab);
	b = tab_hash(tab, node->k1, node->k2);
	node->next = tab->buckets[b];
	tab->buckets[b] = node;
	tab->count++;
	return 0;
}

struct dmabufd_node *dmabufd_tab_find(const struct dmabufd_tab *tab, uint64_t k1, uint64_t k2)
{
	struct dmabufd_node *node = tab->buckets[tab_hash(tab, k1, k2)];

	while (node && (node->k1 != k1 || node->k2 != k2))
		node = node->next;
	return node;
}

void dmabufd_tab_remove(struct dmabufd_tab *tab, struct dmabufd_node *node)
{
	struct dmabufd_node **link = &tab->buckets[tab_hash(tab, node->k1, node->k2)];

	while (*link && *link != node)
		link = &(*link)->next;
	if (*link) {
		*link = node->next;
		tab->count--;
	}
	node->next = NULL;
}

int dmabufd_objects_init(void)
{
	return dmabufd_tab_init(&objects, 1024);
}

void dmabufd_objects_fini(void)
{
	dmabufd_tab_fini(&objects);
}

int dmabufd_obj_add(struct dmabufd_obj *obj, int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	obj->node.k1 = (uint64_t)st.st_dev;
	obj->node.k2 = (uint64_t)st.st_ino;
	return dmabufd_tab_insert(&objects, &obj->node);
}

void dmabufd_obj_del(struct dmabufd_obj *obj)
{
	dmabufd_tab_remove(&objects, &obj->node);
}

/* Find by identity; NULL if the descriptor is no broker object. */
static struct dmabufd_obj *obj_find(const struct stat *st)
{
	struct dmabufd_node *node;

	node = dmabufd_tab_find(&objects, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
	return node ? dmabufd_container_of(node, struct dmabufd_obj, node) : NULL;
}

void dmabufd_obj_release(struct dmabufd_obj *obj)
{
	switch (obj->type) {
	case DMABUFD_TYPE_SYNC_FILE:
		dmabufd_sync_file_release(obj);
		break;
	case DMABUFD_TYPE_TIMELINE:
		dmabufd_timeline_release(obj);
		break;
	case DMABUFD_TYPE_HEAP:
		dmabufd_heap_release(obj);
		break;
	default:
		break;	/* buffers go through buffer.c */
	}
}

int dmabufd_pipe_obj_give(struct dmabufd_req *req, struct dmabufd_pipe_obj *po,
			  enum dmabufd_type type, uint64_t *count)
{
	int p[2], ret;

	po->obj.src.kind = DMABUFD_SRC_OBJ;
	po->obj.type = type;
	po->count = count;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	po->wfd = p[1];
	/* a byte written to signal (sync_files) must never block the broker */
	if (fcntl(po->wfd, F_SETFL, O_NONBLOCK)) {
		ret = -errno;
		goto err_close;
	}
	ret = dmabufd_obj_add(&po->obj, p[0]);
	if (ret)
		goto err_close;
	ret = dmabufd_epoll_add(po->wfd, 0, &po->obj.src);
	if (ret) {
		dmabufd_obj_del(&po->obj);
		goto err_close;
	}
	(*count)++;
	/* from here on, closing the read end anywhere (even unsent) releases it */
	dmabufd_req_reply_fd(req, p[0], true);
	return 0;

err_close:
	close(p[0]);
	close(p[1]);
	return ret;
}

void dmabufd_pipe_obj_del(struct dmabufd_pipe_obj *po)
{
	close(po->wfd);	/* leaves the epoll set with it */
	dmabufd_obj_del(&po->obj);
	(*po->count)--;
}

void dmabufd_objects_for_each(void (*fn)(struct dmabufd_obj *obj, void *arg), void *arg)
{
	struct dmabufd_node *node;

	if (!objects.buckets)
		return;
	for (size_t i = 0; i <= objects.mask; i++)
		for (node = objects.buckets[i]; node; node = node->next)
			fn(dmabufd_container_of(node, struct dmabufd_obj, node), arg);
}

void dmabufd_objects_release_all(enum dmabufd_type type)
{
	struct dmabufd_node *node, *next;

	if (!objects.buckets)
		return;
	for (size_t i = 0; i <= objects.mask; i++) {
		for (node = objects.buckets[i]; node; node = next) {
			struct dmabufd_obj *obj;

			next = node->next;
			obj = dmabufd_container_of(node, struct dmabufd_obj, node);
			if (obj->type == type)
				dmabufd_obj_release(obj);
		}
	}
}

int dmabufd_req_obj(struct dmabufd_req *req, unsigned int slot, enum dmabufd_type type,
		    struct dmabufd_obj **out)
{
	struct dmabufd_obj *obj;
	struct stat st;

	*out = NULL;
	if (slot >= DMABUFD_REQ_SLOTS || req->fds[slot] < 0)
		return -EBADF;
	if (fstat(req->fds[slot], &st))
		return -EBADF;
	obj = obj_find(&st);
	if (!obj || (type != DMABUFD_TYPE_NONE && obj->type != type))
		return -ENOTTY;
	*out = obj;
	return 0;
}

int dmabufd_op_identify(struct dmabufd_req *req)
{
	struct dmabufd_obj *obj;
	uint64_t slot = DMABUFD_NO_SLOT;
	uint32_t gen = 0;
	int ret;

	ret = dmabufd_req_obj(req, 0, DMABUFD_TYPE_NONE, &obj);
	if (ret == -EBADF)
		return ret;
	if (obj && obj->type == DMABUFD_TYPE_BUF)
		dmabufd_buf_slot(obj, &slot, &gen);
	req->rep->arg[0] = obj ? obj->type : DMABUFD_TYPE_NONE;
	req->rep->arg[1] = slot;
	req->rep->arg[2] = gen;
	req->rep->arg[3] = obj ? obj->node.k2 : 0;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * dmabuf/list.h - intrusive doubly linked list used by the public object
 * structures (fence callbacks, timelines).  Embed a struct dmabuf_list in
 * your object; the list head is a struct dmabuf_list too.
 */
#ifndef DMABUF_LIST_H
#define DMABUF_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct dmabuf_list {
	struct dmabuf_list *next;
	struct dmabuf_list *prev;
};

/** dmabuf_list_init() - make @head an empty list (or mark a node unlinked). */
static inline void dmabuf_list_init(struct dmabuf_list *head)
{
	head->next = head;
	head->prev = head;
}

/** dmabuf_list_empty() - true if @head has no entries (or a node is unlinked). */
static inline bool dmabuf_list_empty(const struct dmabuf_list *head)
{
	return head->next == head;
}

/** dmabuf_list_add_tail() - link @node just before @head (at the tail). */
static inline void dmabuf_list_add_tail(struct dmabuf_list *node,
					struct dmabuf_list *head)
{
	node->prev = head->prev;
	node->next = head;
	head->prev->next = node;
	head->prev = node;
}

/** dmabuf_list_del_init() - unlink @node and leave it as an empty list. */
static inline void dmabuf_list_del_init(struct dmabuf_list *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	dmabuf_list_init(node);
}

/** dmabuf_list_splice_init() - move every entry of @from to the tail of @to. */
static inline void dmabuf_list_splice_init(struct dmabuf_list *from,
					   struct dmabuf_list *to)
{
	if (dmabuf_list_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	dmabuf_list_init(from);
}

/** dmabuf_container_of() - the structure of @type that embeds @ptr as @member. */
#define dmabuf_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif /* DMABUF_LIST_H */

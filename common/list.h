/* SPDX-License-Identifier: MIT */
/* A circular doubly linked list with the links embedded in the element. */
#ifndef ACCEL_COMMON_LIST_H
#define ACCEL_COMMON_LIST_H

#include <stddef.h>

struct list {
	struct list *prev, *next;
};

static inline void list_init(struct list *l)
{
	l->prev = l->next = l;
}

static inline int list_empty(const struct list *l)
{
	return l->next == l;
}

static inline void list_insert_tail(struct list *head, struct list *elm)
{
	elm->next = head;
	elm->prev = head->prev;
	head->prev->next = elm;
	head->prev = elm;
}

static inline void list_remove(struct list *elm)
{
	elm->prev->next = elm->next;
	elm->next->prev = elm->prev;
	elm->prev = elm->next = elm;
}

#define list_entry(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define list_for_each(pos, head, member)				\
	for (pos = list_entry((head)->next, __typeof__(*pos), member);	\
	     &pos->member != (head);					\
	     pos = list_entry(pos->member.next, __typeof__(*pos), member))

#define list_for_each_safe(pos, tmp, head, member)				\
	for (pos = list_entry((head)->next, __typeof__(*pos), member),		\
	     tmp = list_entry(pos->member.next, __typeof__(*pos), member);	\
	     &pos->member != (head);						\
	     pos = tmp, tmp = list_entry(pos->member.next, __typeof__(*pos), member))

#endif

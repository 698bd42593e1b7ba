// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "fdtable.h"

bool fdtable_mine(const struct fdtable *t)
{
	return t->owner == 0 || t->owner == getpid();
}

static struct fdtable_entry *find(const struct fdtable *t, int fd)
{
	if (!fdtable_mine(t))
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (t->entries[i].fd == fd)
			return &t->entries[i];
	return NULL;
}

static bool queue_has_fds(const struct fdtable *t, uint64_t queue_id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->entries[i].queue_id == queue_id)
			return true;
	return false;
}

int fdtable_add(struct fdtable *t, int fd, uint64_t queue_id, uint64_t *stale)
{
	struct fdtable_entry *e;

	if (stale)
		*stale = 0;
	if (!fdtable_mine(t))
		return -EPERM;
	t->owner = getpid();
	e = find(t, fd);
	if (e) {	/* closed behind our back (a raw system call): it is this queue's now */
		uint64_t old = e->queue_id;
		e->queue_id = queue_id;
		if (stale && old != queue_id && !queue_has_fds(t, old))
			*stale = old;
		return 0;
	}
	if (t->n == t->size) {
		size_t size = t->size ? 2 * t->size : 16;
		e = realloc(t->entries, size * sizeof(*e));
		if (!e)
			return -ENOMEM;
		t->entries = e;
		t->size = size;
	}
	t->entries[t->n++] = (struct fdtable_entry){ fd, queue_id };
	return 0;
}

bool fdtable_lookup(const struct fdtable *t, int fd, uint64_t *queue_id)
{
	const struct fdtable_entry *e = find(t, fd);

	if (e && queue_id)
		*queue_id = e->queue_id;
	return e != NULL;
}

uint64_t fdtable_close(struct fdtable *t, int fd)
{
	struct fdtable_entry *e = find(t, fd);
	uint64_t id;

	if (!e)
		return 0;
	id = e->queue_id;
	*e = t->entries[--t->n];
	return queue_has_fds(t, id) ? 0 : id;
}

uint64_t fdtable_dup(struct fdtable *t, int oldfd, int newfd)
{
	uint64_t id, released;
	bool tracked = fdtable_lookup(t, oldfd, &id);

	if (oldfd == newfd)
		return 0;
	released = fdtable_close(t, newfd);
	if (tracked)
		(void)fdtable_add(t, newfd, id, NULL);
	return released;
}

size_t fdtable_close_range(struct fdtable *t, unsigned first, unsigned last, uint64_t *ids, size_t max)
{
	size_t n = 0, i = 0;

	if (!fdtable_mine(t))
		return 0;
	while (i < t->n) {
		unsigned fd = (unsigned)t->entries[i].fd;
		uint64_t id;
		if (fd < first || fd > last) {
			i++;
			continue;
		}
		id = fdtable_close(t, (int)fd);	/* moves the last entry to i */
		if (id && n < max)
			ids[n++] = id;
	}
	return n;
}

size_t fdtable_count(const struct fdtable *t)
{
	return fdtable_mine(t) ? t->n : 0;
}

void fdtable_clear(struct fdtable *t)
{
	free(t->entries);
	*t = (struct fdtable){ .owner = getpid() };
}

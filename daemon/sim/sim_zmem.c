// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sim_zmem.h"

/* Ahead of every block: its size, and the link while it is cached. */
struct block {
	size_t size;
	struct block *next;
	max_align_t align[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct block *cache;	/* a few dozen blocks at most: a list will do */
static struct sim_zmem_stats stats;

/* A cached block of exactly @size (zlib asks for the same few sizes), or NULL. */
static struct block *cache_take(size_t size)
{
	for (struct block **p = &cache; *p; p = &(*p)->next) {
		struct block *b = *p;
		if (b->size == size) {
			*p = b->next;
			stats.cached -= size;
			return b;
		}
	}
	return NULL;
}

voidpf sim_zmem_alloc(voidpf opaque, uInt items, uInt size)
{
	size_t n = (size_t)items * size;	/* both 32-bit: no overflow in 64 */
	struct block *b;

	pthread_mutex_lock(&lock);
	b = cache_take(n);
	if (b)
		stats.live += n;
	pthread_mutex_unlock(&lock);
	if (!b) {
		b = malloc(sizeof(*b) + n);
		if (!b)
			return Z_NULL;
		b->size = n;
		pthread_mutex_lock(&lock);
		stats.live += n;
		pthread_mutex_unlock(&lock);
	}
	return b->align;
}

void sim_zmem_free(voidpf opaque, voidpf ptr)
{
	struct block *b;
	bool keep;

	if (!ptr)
		return;
	b = (struct block *)((char *)ptr - offsetof(struct block, align));
	pthread_mutex_lock(&lock);
	stats.live -= b->size;
	keep = stats.cached + b->size <= SIM_ZMEM_CACHE_BYTES;
	if (keep) {
		b->next = cache;
		cache = b;
		stats.cached += b->size;
	}
	pthread_mutex_unlock(&lock);
	if (!keep)
		free(b);
}

void sim_zmem_get_stats(struct sim_zmem_stats *out)
{
	pthread_mutex_lock(&lock);
	*out = stats;
	pthread_mutex_unlock(&lock);
}

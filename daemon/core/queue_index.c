// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "queue_index.h"

void queue_index_init(struct queue_index *ix)
{
	*ix = (struct queue_index){ 0 };
}

void queue_index_finish(struct queue_index *ix)
{
	free(ix->buckets);
	queue_index_init(ix);
}

static unsigned bucket_of(unsigned n_buckets, uint64_t id)
{
	/* Ids are consecutive: the low bits spread them already. */
	return (unsigned)(id & (n_buckets - 1));
}

int queue_index_reserve(struct queue_index *ix)
{
	unsigned n = ix->n_buckets ? ix->n_buckets * 2 : 64;
	struct queue **buckets;

	if (ix->n_queues < ix->n_buckets)
		return 0;
	buckets = calloc(n, sizeof(*buckets));
	if (!buckets)	/* longer chains will do, if there are any */
		return ix->n_buckets ? 0 : -ENOMEM;
	for (unsigned i = 0; i < ix->n_buckets; i++)
		for (struct queue *q = ix->buckets[i], *next; q; q = next) {
			unsigned b = bucket_of(n, q->id);
			next = q->index_next;
			q->index_next = buckets[b];
			buckets[b] = q;
		}
	free(ix->buckets);
	ix->buckets = buckets;
	ix->n_buckets = n;
	return 0;
}

void queue_index_add(struct queue_index *ix, struct queue *q)
{
	unsigned b;

	assert(ix->n_buckets > 0 && !queue_index_find(ix, q->id));
	b = bucket_of(ix->n_buckets, q->id);
	q->index_next = ix->buckets[b];
	ix->buckets[b] = q;
	ix->n_queues++;
}

void queue_index_remove(struct queue_index *ix, struct queue *q)
{
	struct queue **p;

	assert(ix->n_buckets > 0);
	for (p = &ix->buckets[bucket_of(ix->n_buckets, q->id)]; *p; p = &(*p)->index_next)
		if (*p == q) {
			*p = q->index_next;
			q->index_next = NULL;
			ix->n_queues--;
			return;
		}
	assert(!"queue not in the index");
}

struct queue *queue_index_find(const struct queue_index *ix, uint64_t id)
{
	if (ix->n_buckets == 0)
		return NULL;
	for (struct queue *q = ix->buckets[bucket_of(ix->n_buckets, id)]; q; q = q->index_next)
		if (q->id == id)
			return q;
	return NULL;
}

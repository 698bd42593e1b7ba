/* SPDX-License-Identifier: MIT */
/*
 * The broker's queues by id, so that a release, attach or transfer finds
 * its queue without walking the list.  The list (broker.queues) holds the
 * queues; this only points at them.
 */
#ifndef ACCEL_DAEMON_QUEUE_INDEX_H
#define ACCEL_DAEMON_QUEUE_INDEX_H

#include <stdint.h>

#include "queue.h"

struct queue_index {
	struct queue **buckets;	/* chained through queue.index_next */
	unsigned n_buckets;	/* a power of two, or 0 */
	unsigned n_queues;
};

void queue_index_init(struct queue_index *ix);
void queue_index_finish(struct queue_index *ix);
/* Room for one more: fails (-ENOMEM) only while the index has no buckets at all. */
int queue_index_reserve(struct queue_index *ix);
/* After queue_index_reserve(); @q->id must not be in the index. */
void queue_index_add(struct queue_index *ix, struct queue *q);
void queue_index_remove(struct queue_index *ix, struct queue *q);
struct queue *queue_index_find(const struct queue_index *ix, uint64_t id);

#endif

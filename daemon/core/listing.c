// SPDX-License-Identifier: MIT
#include "device.h"
#include "listing.h"

int broker_for_each_device(struct broker *b, int (*fn)(struct device *d, void *data), void *data)
{
	struct device *d;
	int r;

	list_for_each(d, &b->devices, link) {
		r = fn(d, data);
		if (r < 0)
			return r;
	}
	return 0;
}

int broker_for_each_queue(struct broker *b, const struct peer *peer,
			  int (*fn)(const struct queue *q, void *data), void *data)
{
	struct queue *q;
	int r;

	list_for_each(q, &b->queues, link) {
		if (!broker_may_see(peer, q))
			continue;
		r = fn(q, data);
		if (r < 0)
			return r;
	}
	return 0;
}

bool broker_holds_queues(struct broker *b, const void *holder)
{
	const struct queue *q;

	list_for_each(q, &b->queues, link)
		if (q->holder == holder)
			return true;
	return false;
}

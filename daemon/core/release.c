// SPDX-License-Identifier: MIT
#include "broker.h"
#include "owner.h"
#include "queue.h"

int broker_release(struct broker *b, const struct peer *peer, void *holder,
		   uint64_t queue_id, struct accel_error *e)
{
	struct queue *q = NULL;
	int r = queue_find_own(b, peer, holder, queue_id, &q, e);

	if (r < 0)
		return r;
	queue_end(b, q, QUEUE_RELEASED);
	return 0;
}

int broker_get_queue(struct broker *b, const struct peer *peer, void *holder, uint64_t queue_id,
		     struct queue **out, struct accel_error *e)
{
	return queue_find_own(b, peer, holder, queue_id, out, e);
}

int broker_attach(struct broker *b, const struct peer *peer, void *holder, uint64_t queue_id,
		  broker_send_fn send, void *data, struct queue **out, struct accel_error *e)
{
	struct queue *q = NULL;
	void *was;
	int r = queue_find_own(b, peer, holder, queue_id, &q, e);

	if (r < 0)
		return r;
	was = q->holder;
	q->holder = holder;
	queue_settle(b, q);	/* a detached queue is held again */
	r = send ? send(q, data) : 0;
	if (r < 0) {
		/* Never told it has the queue, @holder must not keep (or release) it. */
		q->holder = was;
		queue_settle(b, q);
		return r;
	}
	if (out)
		*out = q;
	return 0;
}

void broker_release_holder(struct broker *b, void *holder)
{
	struct queue *q, *tmp;

	list_for_each_safe(q, tmp, &b->queues, link) {
		if (q->holder != holder)
			continue;
		/* A process-long queue waits for its owner to come back (or exit). */
		if (q->terms.lifetime == LIFETIME_PROCESS && q->process && !q->process->exited) {
			q->holder = NULL;
			queue_settle(b, q);
			continue;
		}
		queue_end(b, q, QUEUE_RELEASED);
	}
}

// SPDX-License-Identifier: MIT
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "device.h"
#include "groups.h"
#include "log.h"
#include "owner.h"
#include "queue.h"
#include "util.h"

const char *queue_state_to_string(enum queue_state state)
{
	switch (state) {
	case QUEUE_ACTIVE:
		return "active";
	case QUEUE_RELEASED:
		return "released";
	case QUEUE_REVOKED:
		return "revoked";
	case QUEUE_DETACHED:
		return "detached";
	case QUEUE_TRANSFERRING:
		return "transferring";
	}
	return "unknown";
}

int queue_groups_copy(const struct peer *peer, gid_t **out, unsigned *n_out)
{
	gid_t *groups = NULL;
	unsigned n = 0;

	if (peer->n_groups > 0) {
		groups = malloc(peer->n_groups * sizeof(gid_t));
		if (!groups)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < peer->n_groups; i++)
		if (!groups_contain(groups, n, peer->groups[i]))
			groups[n++] = peer->groups[i];
	*out = groups;
	*n_out = n;
	return 0;
}

void queue_set_owner(struct queue *q, const struct peer *peer, gid_t *groups, unsigned n_groups)
{
	q->uid = peer->uid;
	q->gid = peer->gid;
	q->pid = peer->pid;
	owner_unref(q->process);
	q->process = owner_ref(peer->process);
	free(q->groups);
	q->groups = groups;
	q->n_groups = n_groups;
	cgroup_identity_ref(peer->identity);
	cgroup_identity_unref(q->identity);
	q->identity = peer->identity;
}

struct queue *queue_new(void)
{
	struct queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	list_init(&q->link);
	q->fd = -1;
	q->event_fd = -1;
	q->event_signal_fd = -1;
	return q;
}

void queue_discardp(struct queue **q)
{
	if (!*q)
		return;
	owner_unref((*q)->process);
	free((*q)->groups);
	cgroup_identity_unref((*q)->identity);
	free(*q);
}

int queue_count(struct tally *t, const struct queue *q)
{
	return tally_add(t, q->uid, q->algorithm, q->groups, q->n_groups, q->identity);
}

void queue_uncount(struct tally *t, const struct queue *q)
{
	tally_remove(t, q->uid, q->algorithm, q->groups, q->n_groups, q->identity);
}

void queue_enter(struct broker *b, struct queue *q, enum queue_state state, enum queue_origin origin)
{
	q->state = state;
	q->device->queues_open++;
	list_insert_tail(&b->queues, &q->link);
	queue_index_add(&b->index, q);
	watchers_queue_added(b, q, origin);
}

void queue_set_state(struct broker *b, struct queue *q, enum queue_state state, const char *reason)
{
	enum queue_state from = q->state;

	if (from == state)
		return;
	q->state = state;
	log_debug("Queue %llu on %s %s (uid %u)", (unsigned long long)q->id, q->device->name,
		  queue_state_to_string(state), (unsigned)q->uid);
	watchers_queue_changed(b, q, from, reason);
}

void queue_settle(struct broker *b, struct queue *q)
{
	assert(q->state != QUEUE_RELEASED && q->state != QUEUE_REVOKED);
	if (q->token[0])
		queue_set_state(b, q, QUEUE_TRANSFERRING, NULL);
	else
		queue_set_state(b, q, q->holder ? QUEUE_ACTIVE : QUEUE_DETACHED, NULL);
}

/* Take @q out of the broker's list and counts, and free it. */
static void queue_free(struct broker *b, struct queue *q)
{
	queue_uncount(&b->tally, q);
	queue_index_remove(&b->index, q);
	q->device->queues_open--;
	if (q->fd >= 0)
		close(q->fd);
	closep(&q->event_fd);
	closep(&q->event_signal_fd);
	list_remove(&q->link);
	owner_unref(q->process);
	free(q->groups);
	cgroup_identity_unref(q->identity);
	free(q);
}

void queue_end(struct broker *b, struct queue *q, enum queue_state final)
{
	assert(final == QUEUE_RELEASED || final == QUEUE_REVOKED);
	if (q->state != QUEUE_REVOKED)	/* broker_revoke() stopped it already */
		q->device->ops->queue_stop(q->device, q);
	queue_set_state(b, q, final, NULL);
	watchers_queue_removed(b, q);
	queue_free(b, q);
}

void queue_forget(struct broker *b, struct queue *q)
{
	q->device->ops->queue_forget(q->device, q);
	queue_free(b, q);
}

int queue_find_own(struct broker *b, const struct peer *peer, void *holder, uint64_t id,
		   struct queue **out, struct accel_error *e)
{
	struct queue *q = queue_index_find(&b->index, id);

	/* What its own connection or bus name holds is the caller's, even where a confined one's view ends. */
	if (!q || !(q->holder == holder || broker_may_see(peer, q)))
		return accel_error_set(e, ERR_NO_SUCH_QUEUE, "no queue %llu", (unsigned long long)id);
	if (q->holder != holder && !(peer->process && q->process == peer->process))
		return accel_error_set(e, ERR_PERMISSION_DENIED, "queue %llu belongs to another process",
				       (unsigned long long)id);
	*out = q;
	return 0;
}

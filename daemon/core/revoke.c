// SPDX-License-Identifier: MIT
#include <string.h>

#include "broker.h"
#include "device.h"
#include "log.h"
#include "queue.h"

/* @asker: who asked for it (Revoke), or NULL when the broker decided. */
static void revoke_queue(struct broker *b, struct queue *q, const char *reason, const struct peer *asker)
{
	if (asker)
		log_notice("Revoking queue %llu on %s of uid %u pid %d: %s, asked by uid %u pid %d",
			   (unsigned long long)q->id, q->device->name, (unsigned)q->uid, (int)q->pid, reason,
			   (unsigned)asker->uid, (int)asker->pid);
	else
		log_info("Revoking queue %llu on %s of uid %u pid %d: %s", (unsigned long long)q->id,
			 q->device->name, (unsigned)q->uid, (int)q->pid, reason);
	/* Stop it first: a watcher that hears of it must find it dead. */
	q->device->ops->queue_stop(q->device, q);
	queue_set_state(b, q, QUEUE_REVOKED, reason);
	queue_end(b, q, QUEUE_REVOKED);
}

void broker_revoke(struct broker *b, struct queue *q, const char *reason)
{
	revoke_queue(b, q, reason, NULL);
}

void broker_owner_exited(struct broker *b, struct owner *o)
{
	struct queue *q, *tmp;

	list_for_each_safe(q, tmp, &b->queues, link)
		if (q->process == o)
			broker_revoke(b, q, REVOKE_OWNER_EXITED);
}

/* Whether @q was acquired in the systemd unit @unit (NULL: any). */
static bool in_unit(const struct queue *q, const char *unit)
{
	return !unit || (q->identity && q->identity->unit && strcmp(q->identity->unit, unit) == 0);
}

int broker_revoke_matching(struct broker *b, const struct peer *peer,
			   const struct revoke_request *req, struct accel_error *e)
{
	struct queue *q, *tmp;
	struct device *dev = NULL;
	int n = 0;

	if ((req->queue_id != 0) + req->by_user + (req->device != NULL) + (req->unit != NULL) != 1)
		return accel_error_set(e, ERR_INVALID_PARAMETER,
				       "name exactly one of queue_id, user, device and unit");
	if (req->queue_id) {
		q = queue_index_find(&b->index, req->queue_id);
		if (q && broker_may_see(peer, q)) {
			revoke_queue(b, q, REVOKE_ADMIN, peer);
			return 1;
		}
		return accel_error_set(e, ERR_NO_SUCH_QUEUE, "no queue %llu",
				       (unsigned long long)req->queue_id);
	}
	if (req->by_user) {
		int r = broker_may_name_user(peer, req->uid, NAME_REVOKE, e);

		if (r < 0)
			return r;
	}
	if (req->device) {
		dev = broker_find_device(b, req->device);
		if (!dev)
			return accel_error_set(e, ERR_NO_SUCH_DEVICE, "no device \"%.64s\"", req->device);
	}
	list_for_each_safe(q, tmp, &b->queues, link) {
		if (!broker_may_see(peer, q) || (req->by_user && q->uid != req->uid) || (dev && q->device != dev) ||
		    !in_unit(q, req->unit))
			continue;
		revoke_queue(b, q, REVOKE_ADMIN, peer);
		n++;
	}
	return n;
}

// SPDX-License-Identifier: MIT
#include <assert.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "device.h"
#include "enforce.h"
#include "log.h"
#include "util.h"

/*
 * Pick the device for @req the way applications do it themselves today:
 * among the devices that serve the algorithm (on the wanted NUMA node),
 * the one with the most free queues.  The error says which condition
 * failed first, from the most to the least specific.
 */
static int pick_device(struct broker *b, const struct peer *peer, const struct acquire_request *req,
		       struct device **out, struct accel_error *e)
{
	struct device *d, *best = NULL;
	unsigned best_free = 0, n;
	bool algorithm_seen = false, denied_seen = false;
	const struct device *refused = NULL;
	struct caller caller = peer_caller(peer);
	struct accel_error denied = { 0 }, unreadable = { 0 };

	if (req->device) {
		d = broker_find_device(b, req->device);
		if (!d)
			return accel_error_set(e, ERR_NO_SUCH_DEVICE, "no device \"%s\"", req->device);
		if (req->algorithm && !device_has_algorithm(d, req->algorithm))
			return accel_error_set(e, ERR_NO_SUCH_ALGORITHM,
					       "device %s does not offer \"%s\"", d->name, req->algorithm);
	}
	list_for_each(d, &b->devices, link) {
		if (req->device && strcmp(d->name, req->device) != 0)
			continue;
		if (req->algorithm && !device_has_algorithm(d, req->algorithm))
			continue;
		algorithm_seen = true;
		if (req->numa_node >= 0 && d->numa_node != req->numa_node)
			continue;
		if (d->refused[0]) {	/* the SVA rule: uacce_features.c decided */
			refused = d;
			continue;
		}
		if (b->policy && policy_check_device(b->policy, &caller, d->name, &denied) < 0) {
			denied_seen = true;
			continue;
		}
		if (device_queues_free(d, &n, &unreadable) < 0)
			continue;	/* its error stands if no other device fits */
		if (n > best_free) {
			best = d;
			best_free = n;
		}
	}
	if (best) {
		*out = best;
		return 0;
	}
	if (!algorithm_seen)
		return accel_error_set(e, ERR_NO_SUCH_ALGORITHM, "no device offers \"%s\"", req->algorithm);
	if (unreadable.name)	/* it might have had a queue: e.g. the broker is out of fds */
		return accel_error_set(e, unreadable.name, "%s", unreadable.message);
	if (denied_seen && !best)
		return accel_error_set(e, denied.name, "%s", denied.message);
	if (refused)
		return accel_error_set(e, ERR_SVA_NOT_SUPPORTED, "%s: %s", refused->name, refused->refused);
	if (!req->algorithm)
		return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE, "every queue of %s is in use%s", req->device,
				       req->numa_node >= 0 ? ", or it is on another NUMA node" : "");
	if (req->numa_node >= 0)
		return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE,
				       "no free queue for \"%s\" on NUMA node %d", req->algorithm, req->numa_node);
	return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE, "every queue for \"%s\" is in use", req->algorithm);
}

int broker_acquire(struct broker *b, const struct peer *peer, void *holder,
		   const struct acquire_request *req, struct queue **out,
		   struct accel_error *e)
{
	_cleanup_(queue_discardp) struct queue *q = NULL;
	struct device *dev = NULL;
	gid_t *groups = NULL;
	unsigned n_groups = 0;
	int r;

	assert(b && peer && req && out);

	if (req->algorithm && strlen(req->algorithm) >= QUEUE_ALGORITHM_MAX)
		return accel_error_set(e, ERR_NO_SUCH_ALGORITHM, "algorithm name too long");
	/* A raw queue (no algorithm: the client's driver sets it up) is of one named device. */
	if (!req->algorithm && !req->device)
		return accel_error_set(e, ERR_INVALID_PARAMETER, "a queue for no algorithm needs a device");
	r = pick_device(b, peer, req, &dev, e);
	if (r < 0)
		return r;
	r = enforce_acquire(b, &b->tally, peer, dev, req->algorithm ? req->algorithm : "", NULL, e);
	if (r < 0)
		return r;

	q = queue_new();
	if (!q || queue_groups_copy(peer, &groups, &n_groups) < 0)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "out of memory");
	q->device = dev;
	strcpy(q->algorithm, req->algorithm ? req->algorithm : "");
	q->holder = holder;
	q->acquired_usec = now_usec(CLOCK_REALTIME);
	enforce_terms(b, peer, &q->terms);
	queue_set_owner(q, peer, groups, n_groups);
	/* Counted and indexed before it is opened: nothing can fail once it is. */
	if (queue_index_reserve(&b->index) < 0 || queue_count(&b->tally, q) < 0)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "out of memory");

	r = dev->ops->queue_open(dev, q, e);
	if (r < 0) {
		queue_uncount(&b->tally, q);
		return r;
	}
	q->id = b->next_queue_id++;
	queue_enter(b, q, QUEUE_ACTIVE, QUEUE_ACQUIRED);
	log_debug("Queue %llu on %s for %s acquired by uid %u pid %d",
		  (unsigned long long)q->id, dev->name, q->algorithm[0] ? q->algorithm : "no algorithm (raw)",
		  (unsigned)peer->uid, (int)peer->pid);
	*out = TAKE_PTR(q);
	return 0;
}

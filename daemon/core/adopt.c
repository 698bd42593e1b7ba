// SPDX-License-Identifier: MIT
/* After a restart: the queues a previous broker handed out, taken back (the fd store passes them). */
#include "broker.h"
#include "device.h"
#include "log.h"
#include "owner.h"
#include "util.h"

/* The queue record of @q's stored state on @dev, owned by @owner: counted, opened from @fd. */
static int adopt_open(struct broker *b, struct queue *q, struct device *dev, struct peer *owner, int *fd,
		      struct accel_error *e)
{
	_cleanup_free_ gid_t *groups = NULL;
	unsigned n_groups = 0;
	int r;

	if (queue_index_reserve(&b->index) < 0 || queue_groups_copy(owner, &groups, &n_groups) < 0 ||
	    tally_add(&b->tally, q->uid, q->algorithm, groups, n_groups, q->identity) < 0)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "out of memory");
	list_init(&q->link);
	q->fd = -1;
	q->device = dev;
	r = dev->ops->queue_adopt(dev, q, *fd, e);
	if (r < 0) {
		tally_remove(&b->tally, q->uid, q->algorithm, groups, n_groups, q->identity);
		return r;
	}
	*fd = -1;	/* the queue's now */
	queue_set_owner(q, owner, TAKE_PTR(groups), n_groups);
	return 0;
}

/* @owner's groups: the user database's at start, as for a user not connected, or its primary one. */
static void adopt_groups(struct peer *owner, const gid_t *groups, unsigned n)
{
	owner->n_groups = 0;
	if (n == 0)
		owner->groups[owner->n_groups++] = owner->gid;
	for (unsigned i = 0; i < n && owner->n_groups < ELEMENTSOF(owner->groups); i++)
		owner->groups[owner->n_groups++] = groups[i];
}

int broker_adopt(struct broker *b, struct queue *q, const char *device, int fd_in, int pidfd_in,
		 const gid_t *groups, unsigned n_groups, struct accel_error *e)
{
	_cleanup_close_ int fd = fd_in, pidfd = pidfd_in;
	struct peer owner = { .uid = q->uid, .gid = q->gid, .pid = q->pid, .identity = q->identity };
	struct device *dev = broker_find_device(b, device);
	int r;

	if (!dev || (q->algorithm[0] && !device_has_algorithm(dev, q->algorithm)) ||
	    queue_index_find(&b->index, q->id))
		return accel_error_set(e, ERR_NO_SUCH_QUEUE, "%s is gone, or the queue is not one of its", device);
	/* Followed as before, through its pidfd; an owner that exited meanwhile is reclaimed now. */
	owner.process = pidfd >= 0 ? owner_get(&b->owners, q->pid, TAKE_FD(pidfd)) : NULL;
	adopt_groups(&owner, groups, n_groups);
	r = adopt_open(b, q, dev, &owner, &fd, e);
	owner_unref(owner.process);	/* the queue holds its own reference */
	if (r < 0)
		return r;
	if (!q->process)
		q->terms.lifetime = LIFETIME_CONNECTION;
	q->holder = NULL;
	if (q->id >= b->next_queue_id)
		b->next_queue_id = q->id + 1;
	queue_enter(b, q, QUEUE_DETACHED, QUEUE_ADOPTED);	/* until its owner attaches it */
	log_info("Took back queue %llu on %s for %s of uid %u pid %d (%s)", (unsigned long long)q->id,
		 dev->name, q->algorithm, (unsigned)q->uid, (int)q->pid,
		 policy_lifetime_to_string(q->terms.lifetime));
	return 0;
}

/* Whether @q is an adopted connection queue still waiting for its owner. */
static bool awaits_reattach(const struct queue *q)
{
	return !q->holder && q->terms.lifetime == LIFETIME_CONNECTION;
}

static int on_reattach_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct broker *b = userdata;
	struct queue *q, *tmp;

	(void)s;
	(void)usec;
	list_for_each_safe(q, tmp, &b->queues, link) {
		if (!awaits_reattach(q))
			continue;
		log_info("Queue %llu of pid %d was not attached again in time: released",
			 (unsigned long long)q->id, (int)q->pid);
		queue_end(b, q, QUEUE_RELEASED);
	}
	b->reattach_timer = sd_event_source_disable_unref(b->reattach_timer);
	return 0;
}

void broker_adopt_finish(struct broker *b)
{
	struct queue *q;
	bool waiting = false;
	int r;

	list_for_each(q, &b->queues, link)
		waiting |= awaits_reattach(q);
	if (!waiting || !b->event || b->reattach_timer)
		return;
	r = sd_event_add_time_relative(b->event, &b->reattach_timer, CLOCK_MONOTONIC,
				       b->limits.reattach_timeout_usec, 0, on_reattach_timeout, b);
	if (r < 0)
		log_warning_errno(r, "Could not time the reattach deadline: queues wait for their owners' exit");
}

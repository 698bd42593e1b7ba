/* SPDX-License-Identifier: MIT */
/*
 * How the parts above the core hear it: the core answers calls and
 * announces what changed, and never calls up.  A listener's monitors, the
 * D-Bus signals and the fd store are watchers; each sets the hooks it
 * wants (NULL: not interested).  Hooks run inside the core's operation,
 * so they queue or record and must not call back into the core.
 */
#ifndef ACCEL_DAEMON_WATCHER_H
#define ACCEL_DAEMON_WATCHER_H

#include "list.h"
#include "queue.h"

struct broker;
struct device;
struct peer;
struct policy;

/* Device events: the wire's "event". */
#define DEVICE_ADDED		"device-added"
#define DEVICE_REMOVED		"device-removed"

struct broker_watcher {
	struct list link;	/* broker.watchers */
	/* Queue events only of the queues @peer may see (broker_may_see()); NULL: of every queue. */
	const struct peer *peer;
	void (*queue_added)(struct broker_watcher *w, const struct queue *q, enum queue_origin origin);
	/* q->state changed from @from; @reason says why a queue was revoked (REVOKE_*), else NULL. */
	void (*queue_changed)(struct broker_watcher *w, const struct queue *q, enum queue_state from,
			      const char *reason);
	/*
	 * The record goes (released or revoked), or changes owner (ClaimQueue:
	 * announced with the giver as owner, then added again for the receiver).
	 */
	void (*queue_removed)(struct broker_watcher *w, const struct queue *q);
	/* Every watcher hears of every device: @event is DEVICE_ADDED or DEVICE_REMOVED. */
	void (*device_changed)(struct broker_watcher *w, const struct device *d, const char *event);
	/* Another policy is in force (a reload), before queues over its limits are revoked. */
	void (*policy_replaced)(struct broker_watcher *w, const struct policy *policy);
};

void broker_watch(struct broker *b, struct broker_watcher *w);
void broker_unwatch(struct broker_watcher *w);

/* The core's announcements (core/ only). */
void watchers_queue_added(struct broker *b, const struct queue *q, enum queue_origin origin);
void watchers_queue_changed(struct broker *b, const struct queue *q, enum queue_state from,
			    const char *reason);
void watchers_queue_removed(struct broker *b, const struct queue *q);
void watchers_device_changed(struct broker *b, const struct device *d, const char *event);
void watchers_policy_replaced(struct broker *b, const struct policy *policy);

#endif

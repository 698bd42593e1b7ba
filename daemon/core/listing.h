/* SPDX-License-Identifier: MIT */
/*
 * What listeners read of the core's lists, through the core: the devices,
 * the queues a peer may see, whether a holder holds any.  A callback that
 * fails stops the walk and its error is returned.
 */
#ifndef ACCEL_DAEMON_LISTING_H
#define ACCEL_DAEMON_LISTING_H

#include <stdbool.h>

#include "broker.h"

int broker_for_each_device(struct broker *b, int (*fn)(struct device *d, void *data), void *data);
/* The queues @peer may see (broker_may_see()), in the order they were acquired. */
int broker_for_each_queue(struct broker *b, const struct peer *peer,
			  int (*fn)(const struct queue *q, void *data), void *data);
/* Whether @holder (a connection, a bus name) holds a queue now. */
bool broker_holds_queues(struct broker *b, const void *holder);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The policy in force, applied to the broker's queues: whether one more
 * may be held (acquire, claim, and the replay of a reload), the terms a
 * new one gets, and putting another policy in force (broker_set_policy()).
 * policy.c is the rules; this is where the core counts against them.
 */
#ifndef ACCEL_DAEMON_ENFORCE_H
#define ACCEL_DAEMON_ENFORCE_H

#include "errors.h"

struct broker;
struct device;
struct peer;
struct queue;
struct tally;
struct terms;

/*
 * Whether @peer may hold one more queue of @algorithm on @dev, holding
 * what @t counts except @skip: the check of an acquire (@t: the broker's
 * counts), of a reload re-checking every queue in the order they were
 * acquired (@t: the queues kept so far), and of a claim (which must not
 * count the claimed queue @skip against its receiver).  A raw queue
 * (@algorithm "") can run any algorithm of its device, so every
 * max_queues.ALG of those must have room (accel-broker.conf(5)).
 */
int enforce_acquire(struct broker *b, const struct tally *t, const struct peer *peer,
		    const struct device *dev, const char *algorithm, const struct queue *skip,
		    struct accel_error *e);
/* The terms @peer's queues get; a process-long queue needs a process to follow. */
void enforce_terms(struct broker *b, const struct peer *peer, struct terms *out);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The core: devices, queues and the limits on them.  Every listener (the
 * Unix socket now, D-Bus later) calls these functions with the peer's
 * kernel-given credentials; no listener holds policy of its own.
 */
#ifndef ACCEL_DAEMON_BROKER_H
#define ACCEL_DAEMON_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "errors.h"
#include "list.h"
#include "queue.h"

struct device;

/* Who is asking, as the kernel told us (SO_PEERCRED). */
struct peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

struct broker_limits {
	unsigned max_queues_per_user;
	unsigned max_connections_per_user;
	unsigned max_connections;
};

struct broker {
	struct list devices;
	struct list queues;
	uint64_t next_queue_id;
	uint64_t started_usec;	/* CLOCK_MONOTONIC */
	unsigned n_connections;
	struct broker_limits limits;
};

struct acquire_request {
	const char *algorithm;
	const char *device;	/* NULL: any */
	int numa_node;		/* -1: any */
};

void broker_init(struct broker *b, const struct broker_limits *limits);
/* Release every queue and free every device. */
void broker_finish(struct broker *b);

void broker_add_device(struct broker *b, struct device *dev);
struct device *broker_find_device(struct broker *b, const char *name);

int broker_acquire(struct broker *b, const struct peer *peer, void *owner,
		   const struct acquire_request *req, struct queue **out,
		   struct accel_error *e);
int broker_release(struct broker *b, const struct peer *peer, void *owner,
		   uint64_t queue_id, struct accel_error *e);
/* The owner went away (connection closed): release all it held. */
void broker_release_owner(struct broker *b, void *owner);

/* Whether @peer may see @q in listings. */
bool broker_may_see(const struct peer *peer, const struct queue *q);

unsigned broker_user_queues(struct broker *b, uid_t uid);
unsigned broker_active_queues(struct broker *b);

#endif

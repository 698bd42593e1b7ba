/* SPDX-License-Identifier: MIT */
/* The broker's record of one handed-out queue. */
#ifndef ACCEL_DAEMON_QUEUE_H
#define ACCEL_DAEMON_QUEUE_H

#include <stdint.h>
#include <sys/types.h>

#include "list.h"
#include "policy.h"

struct device;
struct owner;

#define QUEUE_ALGORITHM_MAX 32
#define QUEUE_MAX_REGIONS 2
#define QUEUE_TOKEN_LEN 32	/* hex digits of a TransferQueue token (128 random bits) */

enum queue_state {
	QUEUE_ACTIVE,
	QUEUE_RELEASED,		/* given back by its owner (or its owner went away) */
	QUEUE_REVOKED,		/* taken back by the broker */
};

struct queue_region {
	const char *type;	/* "mmio", "dus" */
	uint64_t offset;	/* mmap offset */
	uint64_t size;
};

struct queue {
	struct list link;	/* broker.queues */
	struct queue *index_next;	/* broker.index (queue_index.h) */
	uint64_t id;		/* never reused while the broker runs */
	struct device *device;
	char algorithm[QUEUE_ALGORITHM_MAX];
	uid_t uid;
	gid_t gid;
	pid_t pid;
	void *holder;		/* the connection (or later, bus name) it was acquired on;
				 * NULL: detached (lifetime = process, connection closed) */
	struct owner *process;	/* the process it belongs to; NULL if not followed */
	gid_t *groups;		/* its owner's groups when acquired, each once: group pools count by them */
	unsigned n_groups;
	enum queue_state state;
	struct terms terms;	/* lifetime, fork, transfer: as the policy said when acquired */
	char token[QUEUE_TOKEN_LEN + 1];	/* an outstanding TransferQueue token, or "" */
	uint64_t token_expires_usec;		/* CLOCK_MONOTONIC */
	uint64_t acquired_usec;	/* CLOCK_REALTIME */
	int fd;			/* the broker's own reference */
	struct queue_region regions[QUEUE_MAX_REGIONS];
	unsigned n_regions;
	void *backend;		/* the backend's per-queue state */
};

const char *queue_state_to_string(enum queue_state state);

#endif

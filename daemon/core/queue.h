/* SPDX-License-Identifier: MIT */
/*
 * The broker's record of one handed-out queue, and its life: made at
 * acquire or adoption, held by a connection or waiting for its owner,
 * offered to another process, and ended (released or revoked).  Each
 * change of state is set when it happens and announced (watcher.h).
 */
#ifndef ACCEL_DAEMON_QUEUE_H
#define ACCEL_DAEMON_QUEUE_H

#include <stdint.h>
#include <sys/types.h>

#include "errors.h"

#include "list.h"
#include "policy.h"

struct broker;
struct device;
struct owner;
struct peer;
struct tally;

#define QUEUE_ALGORITHM_MAX 32
#define QUEUE_MAX_REGIONS 2
#define QUEUE_TOKEN_LEN 32	/* hex digits of a TransferQueue token (128 random bits) */

/* The wire's "state" (queue_state_to_string()). */
enum queue_state {
	QUEUE_ACTIVE,		/* held by a connection (its holder) */
	QUEUE_RELEASED,		/* given back, or its holder went: the record ends */
	QUEUE_REVOKED,		/* taken back by the broker, stopped: the record ends */
	QUEUE_DETACHED,		/* no holder: waits for its owner to attach it (lifetime
				 * process after its connection closed, or adopted after
				 * a restart) */
	QUEUE_TRANSFERRING,	/* offered with TransferQueue: its token may claim it */
};

/* How a queue record came to be. */
enum queue_origin {
	QUEUE_ACQUIRED,		/* AcquireQueue */
	QUEUE_ADOPTED,		/* from a previous broker (the fd store had it) */
	QUEUE_CLAIMED,		/* ClaimQueue: the giver's record was announced removed */
	QUEUE_UNCLAIMED,	/* a ClaimQueue whose reply failed: the receiver's record was
				 * announced removed, the giver's is back */
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
	struct cgroup_identity *identity;	/* its owner's unit, slices, machine when acquired
						 * (a reference; NULL: none): their pools count by it */
	enum queue_state state;
	struct terms terms;	/* lifetime, fork, transfer: as the policy said when acquired */
	char token[QUEUE_TOKEN_LEN + 1];	/* an outstanding TransferQueue token, or "" */
	uint64_t token_expires_usec;		/* CLOCK_MONOTONIC */
	uint64_t acquired_usec;	/* CLOCK_REALTIME */
	int fd;			/* the broker's own reference */
	/*
	 * The software engine's event pipe (backend_sim.c): the read end goes
	 * out with the queue fd, for the client's event loop; -1: none
	 * (kernel devices, whose queue fd polls by itself).  The engine holds
	 * the only write end; the fd store gets one opened again from the
	 * read end.  event_signal_fd is a write end only on its way from the
	 * fd store to the backend's adoption, which hands it to the engine
	 * and closes it; -1 otherwise.
	 */
	int event_fd;
	int event_signal_fd;
	struct queue_region regions[QUEUE_MAX_REGIONS];
	unsigned n_regions;
	void *backend;		/* the backend's per-queue state */
};

const char *queue_state_to_string(enum queue_state state);

/* The life of a record, for core/ only. */

/*
 * @peer's groups as a queue records them (group pools count by them): each
 * once, so that a pool counts a queue once.  NULL if it has none.
 */
int queue_groups_copy(const struct peer *peer, gid_t **out, unsigned *n_out);
/*
 * Make @peer the owner of @q: its ids, @groups (from queue_groups_copy(),
 * taken), cgroup identity (referenced) and process.
 */
void queue_set_owner(struct queue *q, const struct peer *peer, gid_t *groups, unsigned n_groups);
/* A new record (fd -1, no id yet); NULL: out of memory. */
struct queue *queue_new(void);
/* A record that never made it into the broker's list. */
void queue_discardp(struct queue **q);
/* Count @q in @t, or take it out. */
int queue_count(struct tally *t, const struct queue *q);
void queue_uncount(struct tally *t, const struct queue *q);

/* @q (counted, index reserved, opened) joins the broker's queues in @state, and is announced. */
void queue_enter(struct broker *b, struct queue *q, enum queue_state state, enum queue_origin origin);
/* Set and announce @q's state; @reason: why a queue is revoked (REVOKE_*), else NULL. */
void queue_set_state(struct broker *b, struct queue *q, enum queue_state state, const char *reason);
/* The state the facts give a live queue: an offer outstanding, a holder, or neither. */
void queue_settle(struct broker *b, struct queue *q);
/* End @q as @final (QUEUE_RELEASED, QUEUE_REVOKED): stopped unless revoked already, announced, freed. */
void queue_end(struct broker *b, struct queue *q, enum queue_state final);
/* Let go of @q unannounced and unstopped: it lives on in the fd store (shutdown). */
void queue_forget(struct broker *b, struct queue *q);

/*
 * The queue @id if @peer, on @holder, owns it: it holds it on this
 * connection, or its process is the queue's owner (another connection of
 * the same process, e.g. after reconnecting).
 */
int queue_find_own(struct broker *b, const struct peer *peer, void *holder, uint64_t id,
		   struct queue **out, struct accel_error *e);

#endif

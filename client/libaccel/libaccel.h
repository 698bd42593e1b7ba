/* SPDX-License-Identifier: MIT */
/* libaccel's internals: the client, the queue and the user-driver interface. */
#ifndef ACCEL_LIBACCEL_H
#define ACCEL_LIBACCEL_H

#include <accel/accel.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

struct accel_queue;

/* A user driver: the data path of one device api, e.g. "accel_sim_v1". */
struct accel_driver {
	const char *api;
	/*
	 * Queues of this api work in the client's address space (SVA): the
	 * client binds the queue to it (UACCE_CMD_BIND_MM) before mapping, and
	 * starts it; submit takes the caller's pointers, there is no buffer.
	 */
	bool bind_client;
	/* Check the mapped regions and set up queue->driver_state. */
	int (*init)(struct accel_queue *q);
	void (*finish)(struct accel_queue *q);
	int (*submit)(struct accel_queue *q, const struct accel_op *op);
	int (*poll)(struct accel_queue *q, struct accel_completion *out, unsigned max);
	int (*wait)(struct accel_queue *q, struct accel_completion *out, unsigned max,
		    int timeout_ms);
	void *(*buffer)(struct accel_queue *q, size_t *size);
	/* Wake this process's threads waiting on @q: it was lost (reconnect.c). */
	void (*interrupt)(struct accel_queue *q);
	unsigned (*in_flight)(struct accel_queue *q);
	enum accel_queue_state (*state)(const struct accel_queue *q);
	/* The event loop's side (accel_queue_event_fd()): what to poll, arm, and take a wake-up. */
	int (*event_fd)(const struct accel_queue *q);
	int (*event_arm)(struct accel_queue *q);
	void (*event_clear)(struct accel_queue *q);
};

extern const struct accel_driver accel_driver_sim;
extern const struct accel_driver accel_driver_sim_sva;

struct accel_client {
	/*
	 * The connection (the wire, the error, the queue list) is one
	 * thread's at a time, the application's or the watcher's; never held
	 * while waiting for a broker to come back.
	 */
	pthread_mutex_t lock;
	struct wire wire;
	char path[108];			/* the broker's socket, to come back to */
	unsigned generation;		/* connections made so far, less one */
	char error_name[128];		/* empty: none */
	char error_message[256];
	struct accel_queue *queues;	/* acquired through this client */
	/* reconnect.c: the thread that comes back to a restarted broker. */
	pthread_t watcher;
	bool watching;
	struct accel_client *next_client;	/* reconnect.c's list, for fork() */
	bool stopping;			/* atomic */
	int stop_fd;
};

struct accel_queue {
	struct accel_client *client;	/* NULL once the client disconnected */
	struct accel_queue *next;	/* client->queues */
	uint64_t id;
	char device[64];
	char api[32];
	char algorithm[32];
	int fd;
	int event_fd;		/* the event pipe's read end (software engine), or -1 */
	void *mmio;
	size_t mmio_size;
	void *dus;
	size_t dus_size;
	unsigned fork_generation;	/* the process generation that acquired it */
	bool fork_allowed;		/* the policy's fork = allow: children may use it too */
	bool lost;			/* atomic: a restarted broker did not know it (reconnect.c) */
	/*
	 * A raw queue (raw.c): only id, device and fd are set, and the fd is
	 * the caller's (never closed, mapped or duplicated here: its number
	 * is only compared); the record is on the client's list so that
	 * reconnect.c attaches it again.
	 */
	bool raw;
	const struct accel_driver *driver;
	void *driver_state;
};

/* Bumped in a forked child: the child's copies of queues are not its own. */
extern unsigned accel_fork_generation;

static inline int accel_queue_usable(const struct accel_queue *q)
{
	if (__atomic_load_n(&q->lost, __ATOMIC_RELAXED))
		return -ENOLINK;
	return q->fork_allowed ||
	       q->fork_generation == __atomic_load_n(&accel_fork_generation, __ATOMIC_RELAXED)
		       ? 0 : -ECHILD;
}

/*
 * Send a call and wait for its reply.  @params is consumed.  On an error
 * reply, records it on @c and returns its errno.  *@reply (if non-NULL)
 * receives the reply's parameters, to be released with json_object_put().
 */
int accel_call(struct accel_client *c, const char *method, struct json_object *params,
	       struct json_object **reply);
/*
 * The same, and the fds the reply passed: @fds_out[0] its "fd" (-1:
 * none), @fds_out[1] the second fd when its "event_fd" names one (else
 * -1).  Both reconnect to a broker that went away (reconnect.c); call
 * them without c->lock held, since that waits for a broker to come back.
 */
int accel_call_fd(struct accel_client *c, const char *method, struct json_object *params,
		  struct json_object **reply, int fds_out[2]);
/* One call on the connection there is, never reconnecting, with c->lock held. */
int accel_call_locked(struct accel_client *c, const char *method, struct json_object *params,
		      struct json_object **reply, int fds_out[2]);
/* Take @q off @c's list (with c->lock held). */
void accel_client_unlink_queue(struct accel_client *c, struct accel_queue *q);
/* Put @q on @c's list and start the watcher (without c->lock). */
void accel_client_link_queue(struct accel_client *c, struct accel_queue *q);
/* ReleaseQueue @id on @c. */
int accel_release_on_broker(struct accel_client *c, uint64_t id);

/* Whether @r says the connection to the broker is gone. */
bool accel_connection_lost(int r);

void accel_client_set_error(struct accel_client *c, const char *name, const char *message);

/* A connected socket to the broker at @path, or a negative errno. */
int accel_socket_connect(const char *path);
/*
 * Connect again and attach every queue of @c; queues the broker does not
 * hand back are lost.  Nothing happens if @c moved past @generation (the
 * other thread reconnected).  Retries for a while if no broker listens.
 */
int accel_client_reconnect(struct accel_client *c, unsigned generation);
/* Every client is on a list from connect to disconnect, for fork(). */
void accel_client_register(struct accel_client *c);
void accel_client_unregister(struct accel_client *c);
/* Start the watcher thread (once @c holds a queue); with c->lock held. */
int accel_client_watch(struct accel_client *c);
/* Stop it; without c->lock. */
void accel_client_unwatch(struct accel_client *c);

#endif

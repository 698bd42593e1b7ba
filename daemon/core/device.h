/* SPDX-License-Identifier: MIT */
/*
 * A device the broker can hand queues out of, and the small interface every
 * backend (sim: the broker's own software accelerator; uacce: kernel
 * devices) implements.  The core never looks behind it.
 */
#ifndef ACCEL_DAEMON_DEVICE_H
#define ACCEL_DAEMON_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"
#include "list.h"

struct device;
struct queue;

#define DEVICE_REFUSED_MAX 160

struct backend_ops {
	const char *name;	/* "sim", "uacce": the wire's Device.backend */
	/*
	 * Open and start a queue for q->algorithm: set q->fd (the broker's own
	 * reference, rule 3) and q->regions.  On failure set @e.
	 */
	int (*queue_open)(struct device *dev, struct queue *q, struct accel_error *e);
	/* Stop the queue for good: the client's copy of the fd goes dead. */
	void (*queue_stop)(struct device *dev, struct queue *q);
	/*
	 * Take over @fd, a queue of this device that a previous broker opened
	 * (restarts: fdstore.c): check that it is one, set q->fd (@fd is then
	 * the queue's), q->regions and the backend state.  On failure set @e.
	 */
	int (*queue_adopt)(struct device *dev, struct queue *q, int fd, struct accel_error *e);
	/*
	 * Optional.  Give the queue new memory for a new owner of another uid
	 * (ClaimQueue): what the old fd maps goes dead for whoever still holds
	 * it (revoked), q->fd becomes the new memory's.  Without it such a
	 * claim is refused: the giver could read what the receiver does.
	 */
	int (*queue_renew)(struct device *dev, struct queue *q, struct accel_error *e);
	/* Let go of the queue without stopping it: it lives on in the fd store. */
	void (*queue_forget)(struct device *dev, struct queue *q);
	/*
	 * Queues the device can still open right now, into @out; an error
	 * (named in @e, which may be NULL) when that cannot be told: the
	 * broker's shortage (out of fds or memory) is OutOfResources.
	 */
	int (*queues_free)(struct device *dev, unsigned *out, struct accel_error *e);
	void (*device_free)(struct device *dev);
};

struct device {
	struct list link;	/* broker.devices */
	const struct backend_ops *ops;
	char *name;
	char *api;
	char **algorithms;	/* NULL-terminated */
	bool sva;
	bool revocable;		/* queue_stop takes a queue back for good (uacce: REVOKE) */
	bool bind_client;	/* queues go out unstarted: the client binds, maps, starts (SVA) */
	char refused[DEVICE_REFUSED_MAX];	/* "": served; else why its queues are refused (SVANotSupported) */
	int numa_node;		/* -1: unknown */
	unsigned queues_total;
	unsigned queues_open;	/* handed out by the broker and not yet closed */
	void *backend;		/* the backend's own state */
};

/*
 * Devices a backend found: @gone are the broker's (to remove), @added new
 * ones (to add: broker_apply_device_changes() takes them).  A backend fills
 * it; the service hands it to the core.
 */
struct device_changes {
	struct device **gone;
	unsigned n_gone;
	struct device **added;
	unsigned n_added;
};

/* Add @dev to @c's added (or gone, with @gone); -ENOMEM. */
int device_changes_push(struct device_changes *c, struct device *dev, bool gone);
/* Free @c, destroying the added devices nobody took. */
void device_changes_finish(struct device_changes *c);

/* Allocate with the common fields; @algorithms is split at white space. */
struct device *device_create(const struct backend_ops *ops, const char *name,
			     const char *api, const char *algorithms);
void device_destroy(struct device *dev);

/* Who binds its queues to an address space, as the wire says it: "client" or "none". */
const char *device_bind_to_string(const struct device *dev);

bool device_has_algorithm(const struct device *dev, const char *algorithm);
/*
 * dev->ops->queues_free(); @out is 0 when it fails.  A listing may show
 * that 0 (NULL @e); an acquire reports the error (acquire.c).
 */
int device_queues_free(struct device *dev, unsigned *out, struct accel_error *e);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The wire types of org.accelbroker.Broker as JSON: one writer each, every
 * allocation checked (common/varlink.h: varlink_object_new()).  Each
 * returns a new object, or NULL when the broker ran out of memory.
 */
#ifndef ACCEL_DAEMON_VARLINK_JSON_H
#define ACCEL_DAEMON_VARLINK_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "broker.h"

struct json_object;

/*
 * What GetStatus says of the socket's listener, read from struct server by
 * the caller (varlink_api.c) and passed in: the writer knows the wire
 * type, not the server.
 */
struct varlink_json_listener {
	unsigned monitors;
	unsigned awaiting_reader;
	bool accepting;
	uint64_t accept_pauses;
};

/* Which of a queue's fields a message carries (docs/protocol.md). */
enum queue_view {
	QUEUE_VIEW_HANDED_OUT,	/* AcquireQueue, AttachQueue, ClaimQueue: what to map, on what terms */
	QUEUE_VIEW_LISTED,	/* ListQueues' QueueInfo */
	QUEUE_VIEW_REVOKED,	/* Monitor's "revoked" event; @reason says why */
	/*
	 * HANDED_OUT to a caller that asked for the event fd (with_event_fd):
	 * "event_fd" names it, 1 for the second fd of the reply, 0 when the
	 * queue fd polls by itself (kernel devices).
	 */
	QUEUE_VIEW_HANDED_OUT_EVENT,
};

struct json_object *varlink_json_queue(const struct queue *q, enum queue_view view, const char *reason);
struct json_object *varlink_json_device(struct device *d);
/* Monitor's "device-added" / "device-removed" event. */
struct json_object *varlink_json_device_event(const struct device *d, const char *event);
/* A Monitor event with no more than its name ("subscribed"). */
struct json_object *varlink_json_event(const char *event);
struct json_object *varlink_json_status(struct broker *b, const struct varlink_json_listener *l,
					const struct peer *peer);
struct json_object *varlink_json_quota(const struct quota *q);
struct json_object *varlink_json_transfer(const char *token, uint64_t expires_in_usec);
/* { @name: @value }: Revoke's and Reload's "revoked". */
struct json_object *varlink_json_count(const char *name, int64_t value);
/* GetInfo's reply. */
struct json_object *varlink_json_service_info(void);
/* GetInterfaceDescription's reply. */
struct json_object *varlink_json_description(const char *description);

#endif

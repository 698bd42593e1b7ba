/* SPDX-License-Identifier: MIT */
/*
 * One client connection on the Unix socket: its kernel-given credentials,
 * its buffered I/O, and the rules of rule 5 (bounded messages, unasked fds
 * closed at once, a slow reader stops being read, a protocol violation
 * drops this connection and nothing else).
 */
#ifndef ACCEL_DAEMON_CONNECTION_H
#define ACCEL_DAEMON_CONNECTION_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "broker.h"
#include "list.h"
#include "wire.h"

struct server;
struct json_object;
struct resolver_job;
struct varlink_call;

/* Stop reading a client whose replies pile up beyond this. */
#define CONNECTION_OUT_HIGH_WATER (256u * 1024u)
/*
 * Stop reading a client that has this many queue fds in flight: waiting in
 * our output buffer (each a descriptor of ours until its socket takes it)
 * or sent and not yet read (the kernel charges those to the broker's user,
 * and refuses further fd passing, for every client, with ETOOMANYREFS once
 * they exceed the broker's RLIMIT_NOFILE).  A uid can thus make the broker
 * hold at most max_connections_per_user * (1 + this) fds besides its queues
 * and one pidfd per process, and all clients together at most
 * max_connections * this fds in flight.
 */
#define CONNECTION_MAX_FDS_IN_FLIGHT 8u
/*
 * The most fds one reply carries: a queue's and its event pipe's
 * (with_event_fd).  A call is read only while its reply's fds still fit
 * under CONNECTION_MAX_FDS_IN_FLIGHT, so the bound holds in fds, not in
 * replies.
 */
#define CONNECTION_MAX_REPLY_FDS 2u
/*
 * A socket tells no one when its reader has taken everything: a connection
 * stopped for fds sent but unread looks again after this, doubling up to
 * the maximum while the client does not read.
 */
#define CONNECTION_RECHECK_MIN_USEC 1000u
#define CONNECTION_RECHECK_MAX_USEC (1000u * 1000u)
/* A monitor whose unread events reach this loses the next ones (see protocol.md). */
#define CONNECTION_EVENT_BACKLOG (4u * CONNECTION_OUT_HIGH_WATER)

enum connection_state {
	CONNECTION_ACTIVE,
	CONNECTION_DRAINING,	/* the peer sent its last byte: answer what is complete, then close */
	CONNECTION_CLOSING,	/* flush what is queued, then close */
};

struct connection {
	struct list link;	/* server.connections */
	struct server *server;
	struct wire wire;
	struct peer peer;
	sd_event_source *io;
	uint32_t io_events;	/* what io waits for now */
	enum connection_state state;
	bool monitoring;		/* a Monitor call streams revocations to it */
	uint64_t fds_taken;	/* wire.fds_sent when the client was last seen to have read all */
	sd_event_source *recheck;	/* while stopped for fds unread: look again */
	uint64_t recheck_usec;	/* 0: not waiting */
	uint64_t recheck_taken;	/* fds_taken when the wait began or last advanced */
	unsigned events_dropped;	/* not queued while the backlog was full */
	struct broker_watcher watcher;
	/*
	 * A call waiting for the user database (a deferred reply): no further
	 * call is dispatched until its reply is queued, so replies keep the
	 * order of the calls, oneway calls included.  Cancelled at close.
	 */
	struct resolver_job *lookup;
	bool lookup_oneway;	/* that call was oneway: no reply, but still in order */
};

/*
 * Take over the accepted socket @fd of @peer, a client the broker counted
 * already (broker_client_add()); connection_destroy() gives the count back.
 * On failure @fd, the count and peer->process stay the caller's.
 */
int connection_create(struct server *server, int fd, const struct peer *peer,
		      struct connection **out);
/* Release the connection's queues and close it now. */
void connection_destroy(struct connection *c);

/* Queue a reply to @call (none for oneway calls); @params is consumed. */
int connection_reply(struct connection *c, const struct varlink_call *call,
		     struct json_object *params, const int *fds, unsigned n_fds);
int connection_reply_error(struct connection *c, const struct varlink_call *call,
			   const struct accel_error *e);

/*
 * Queue one more reply of a streaming ("more") call, with "continues": true.
 * Safe from inside the core (nothing is freed here; a failed connection is
 * closed later from its own event).
 */
int connection_notify(struct connection *c, struct json_object *params);

/*
 * The deferred call's reply is queued (c->lookup is NULL again): dispatch
 * what waited behind it and send.  May destroy @c.
 */
void connection_resume(struct connection *c);

/* Send @e (best effort) and close once it is out. */
void connection_abort(struct connection *c, const struct accel_error *e);

#endif

// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "clients.h"
#include "connection.h"
#include "log.h"
#include "peer.h"
#include "owner.h"
#include "resolver.h"
#include "server.h"
#include "util.h"
#include "varlink.h"

/*
 * The fds sent that the client may not have read yet.  The socket counts
 * its unread memory, not bytes (SIOCOUTQ), so only "none" is exact: until
 * the client is seen to have read everything, every fd sent since counts.
 */
static unsigned connection_fds_unread(struct connection *c)
{
	int outq;

	if (c->wire.fds_sent == c->fds_taken)
		return 0;
	if (ioctl(c->wire.fd, SIOCOUTQ, &outq) == 0 && outq == 0)
		c->fds_taken = c->wire.fds_sent;
	return (unsigned)(c->wire.fds_sent - c->fds_taken);
}

/* Whether the replies the client has not taken allow another call, and its reply's fds. */
static bool connection_can_take_more(struct connection *c)
{
	const unsigned room = CONNECTION_MAX_FDS_IN_FLIGHT - CONNECTION_MAX_REPLY_FDS;

	return wire_out_pending(&c->wire) < CONNECTION_OUT_HIGH_WATER &&
	       wire_out_fds(&c->wire) <= room &&
	       wire_out_fds(&c->wire) + connection_fds_unread(c) <= room;
}

static int connection_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static int connection_recheck(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct connection *c = userdata;

	(void)s;
	(void)usec;
	return connection_io(NULL, c->wire.fd, 0, c);
}

/*
 * Stopped with nothing left to send, for fds the client has not read: no
 * socket event will come when it does, so look again later.
 */
static void connection_wait_for_reader(struct connection *c, bool waiting)
{
	struct server *s = c->server;

	if (!waiting) {
		if (c->recheck_usec) {
			c->recheck = sd_event_source_disable_unref(c->recheck);
			c->recheck_usec = 0;
			s->n_awaiting_reader--;
		}
		return;
	}
	if (!c->recheck_usec)
		s->n_awaiting_reader++;
	if (!c->recheck_usec || c->fds_taken != c->recheck_taken)
		c->recheck_usec = CONNECTION_RECHECK_MIN_USEC;	/* it reads: look again soon */
	else if (c->recheck_usec < CONNECTION_RECHECK_MAX_USEC)
		c->recheck_usec *= 2;
	c->recheck_taken = c->fds_taken;
	c->recheck = sd_event_source_disable_unref(c->recheck);
	/*
	 * Accuracy 1 µs: sd-event's default lets a timer run 250 ms late, a
	 * stall for a pipelining client at every few fds.  On failure (no
	 * memory), only the client's hang-up gets it going: EPOLLIN is off.
	 */
	(void)sd_event_add_time_relative(s->event, &c->recheck, CLOCK_MONOTONIC, c->recheck_usec, 1,
					 connection_recheck, c);
}

static void connection_update_events(struct connection *c)
{
	bool more = connection_can_take_more(c);
	bool live = c->state == CONNECTION_ACTIVE || c->state == CONNECTION_DRAINING;
	uint32_t events = 0;

	/* A deferred call holds the calls behind it: neither read nor dispatch until its answer. */
	if (c->state == CONNECTION_ACTIVE && more && !c->lookup)
		events |= EPOLLIN;
	connection_wait_for_reader(c, live && !more && wire_out_pending(&c->wire) == 0);
	/*
	 * EPOLLOUT also when whole messages wait in the buffer: a client that
	 * sent all its calls waits for replies, and its socket will not become
	 * readable again to get us back here.  A writable socket does, after
	 * every other connection had its turn.
	 */
	if (wire_out_pending(&c->wire) > 0 || (live && more && !c->lookup && wire_has_message(&c->wire)))
		events |= EPOLLOUT;
	if (events == c->io_events)
		return;
	c->io_events = events;
	sd_event_source_set_io_events(c->io, events);
}

/* Queue @msg (consumed; NULL: it could not be built). */
static int queue_message(struct connection *c, struct json_object *msg,
			 const int *fds, unsigned n_fds)
{
	_cleanup_(json_object_putp) struct json_object *m = msg;
	const char *s;
	size_t len;

	if (!m)
		return -ENOMEM;
	s = varlink_format(m, &len);
	if (!s)
		return -ENOMEM;
	return wire_queue(&c->wire, s, len, fds, n_fds);
}

int connection_reply(struct connection *c, const struct varlink_call *call,
		     struct json_object *params, const int *fds, unsigned n_fds)
{
	if (call && call->oneway) {
		json_object_put(params);
		return 0;
	}
	return queue_message(c, varlink_object_new((const struct varlink_value[]){
		{ "parameters", VARLINK_VALUE_JSON, .json = params },
		VARLINK_VALUE_END,
	}), fds, n_fds);
}

static int queue_event(struct connection *c, struct json_object *params)
{
	return queue_message(c, varlink_object_new((const struct varlink_value[]){
		{ "parameters", VARLINK_VALUE_JSON, .json = params },
		{ "continues", VARLINK_VALUE_BOOL, .b = true },
		VARLINK_VALUE_END,
	}), NULL, 0);
}

/*
 * Once a monitor's backlog is down again, one "overflow" event says how
 * many it missed, before any event that follows the gap.  Nothing already
 * queued is ever cut: whole messages and their fds stay as they are.
 */
static void connection_report_overflow(struct connection *c)
{
	struct json_object *ev;

	if (c->events_dropped == 0 || wire_out_pending(&c->wire) >= CONNECTION_OUT_HIGH_WATER)
		return;
	ev = varlink_object_new((const struct varlink_value[]){
		{ "event", VARLINK_VALUE_STRING, .s = "overflow" },
		{ "dropped", VARLINK_VALUE_INT, .i = c->events_dropped },
		VARLINK_VALUE_END,
	});
	if (queue_event(c, ev) == 0)
		c->events_dropped = 0;
}

int connection_notify(struct connection *c, struct json_object *params)
{
	int r;

	connection_report_overflow(c);
	if (c->events_dropped > 0 || wire_out_pending(&c->wire) >= CONNECTION_EVENT_BACKLOG) {
		/* A monitor that does not read loses events, not our memory. */
		c->events_dropped++;
		json_object_put(params);
		return 0;
	}
	r = queue_event(c, params);
	if (r < 0)
		c->events_dropped++;
	connection_update_events(c);	/* the io handler sends it */
	return r;
}

int connection_reply_error(struct connection *c, const struct varlink_call *call,
			   const struct accel_error *e)
{
	struct json_object *params;

	assert(e && e->name);
	if (call && call->oneway)
		return 0;
	params = varlink_object_new((const struct varlink_value[]){
		{ "message", VARLINK_VALUE_STRING, .s = e->message },
		{ e->field ? e->field : "", VARLINK_VALUE_STRING, .s = e->value, .omit = !e->field },
		VARLINK_VALUE_END,
	});
	return queue_message(c, varlink_object_new((const struct varlink_value[]){
		{ "error", VARLINK_VALUE_STRING, .s = e->name },
		{ "parameters", VARLINK_VALUE_JSON, .json = params },
		VARLINK_VALUE_END,
	}), NULL, 0);
}

void connection_abort(struct connection *c, const struct accel_error *e)
{
	log_client(c->peer.uid, LOG_WARNING, "Dropping client pid %d uid %u: %s", (int)c->peer.pid,
		   (unsigned)c->peer.uid, e->message);
	connection_reply_error(c, NULL, e);
	c->state = CONNECTION_CLOSING;
}

/* Clients may not send fds unasked (rule 4): close them at once. */
static void drop_unasked_fds(struct connection *c)
{
	unsigned n = wire_drop_fds(&c->wire) + c->wire.fds_dropped;

	c->wire.fds_dropped = 0;
	if (n > 0)
		log_client(c->peer.uid, LOG_NOTICE, "Closed %u fds sent unasked by pid %d uid %u", n,
			   (int)c->peer.pid, (unsigned)c->peer.uid);
}

/*
 * Closing a Unix socket with unread input makes the peer's next read fail
 * with ECONNRESET, before it sees the error reply we just sent it.  Read
 * away what has arrived (a bounded amount) so the reply is what it reads.
 */
static void discard_input(struct connection *c)
{
	char buf[16384];

	for (int i = 0; i < 64; i++)
		if (recv(c->wire.fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
	wire_drop_fds(&c->wire);
}

static void connection_read(struct connection *c)
{
	struct accel_error e;
	int r = wire_read(&c->wire);

	drop_unasked_fds(c);
	if (r == -EAGAIN || r == -EINTR)
		return;
	if (r == -EMSGSIZE) {
		accel_error_set(&e, ERR_INVALID_PARAMETER, "message exceeds %u bytes", WIRE_MAX_MESSAGE);
		connection_abort(c, &e);
		return;
	}
	if (r == 0) {
		/* The peer is done sending: every complete call still gets its answer. */
		c->state = CONNECTION_DRAINING;
	} else if (r < 0) {
		c->state = CONNECTION_CLOSING;
	}
}

/* Handle the buffered messages while the replies do not pile up. */
static void connection_dispatch(struct connection *c)
{
	const char *msg;
	size_t len;

	while ((c->state == CONNECTION_ACTIVE || c->state == CONNECTION_DRAINING) && !c->lookup &&
	       connection_can_take_more(c) && wire_next(&c->wire, &msg, &len) > 0)
		c->server->dispatch(c, msg, len);
	/* What is left of the input of a peer that stopped sending is a half-written message. */
	if (c->state == CONNECTION_DRAINING && !c->lookup && !wire_has_message(&c->wire))
		c->state = CONNECTION_CLOSING;
}

static int connection_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct connection *c = userdata;
	int r;

	(void)s;
	(void)fd;
	/*
	 * Hung up after its calls were read, with fds it has not read: it
	 * reads nothing more either (a peer that closed has none unread), so
	 * no reply can reach it, and the hang-up, reported on every loop turn
	 * whatever the mask, would spin the connection waiting for its reader.
	 * The same while a deferred call waits: its reply could reach no one.
	 */
	if (c->state == CONNECTION_DRAINING && (revents & (EPOLLHUP | EPOLLERR)) &&
	    (!connection_can_take_more(c) || c->lookup))
		c->state = CONNECTION_CLOSING;
	if (c->state == CONNECTION_ACTIVE && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		connection_read(c);
	connection_dispatch(c);
	r = wire_flush(&c->wire);
	if (r < 0 && r != -EAGAIN) {
		connection_destroy(c);
		return 0;
	}
	if (c->monitoring) {
		connection_report_overflow(c);
		r = wire_flush(&c->wire);
		if (r < 0 && r != -EAGAIN) {
			connection_destroy(c);
			return 0;
		}
	}
	if (c->state == CONNECTION_CLOSING && wire_out_pending(&c->wire) == 0) {
		discard_input(c);
		connection_destroy(c);
		return 0;
	}
	connection_update_events(c);
	return 0;
}

void connection_resume(struct connection *c)
{
	connection_io(NULL, c->wire.fd, 0, c);
}

int connection_create(struct server *server, int fd, const struct peer *peer,
		      struct connection **out)
{
	_cleanup_free_ struct connection *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	list_init(&c->link);
	c->server = server;
	c->peer = *peer;
	c->state = CONNECTION_ACTIVE;
	r = wire_init(&c->wire, fd);
	if (r < 0)
		return r;	/* nothing of the wire's to free */
	r = sd_event_add_io(server->event, &c->io, fd, EPOLLIN, connection_io, c);
	if (r < 0) {
		c->wire.fd = -1;	/* still the caller's: it closes it */
		wire_finish(&c->wire);
		return r;
	}
	c->io_events = EPOLLIN;
	list_insert_tail(&server->connections, &c->link);
	server->n_connections++;
	if (out)
		*out = c;
	TAKE_PTR(c);
	return 0;
}

void connection_destroy(struct connection *c)
{
	struct server *s = c->server;

	if (c->monitoring) {
		broker_unwatch(&c->watcher);
		s->n_monitors--;
	}
	resolver_cancel(c->lookup);	/* its answer would find no one */
	broker_release_holder(s->broker, c);
	peer_finish(&c->peer);
	owner_unref(c->peer.process);
	connection_wait_for_reader(c, false);
	sd_event_source_disable_unref(c->recheck);
	sd_event_source_disable_unref(c->io);
	wire_finish(&c->wire);
	list_remove(&c->link);
	s->n_connections--;
	broker_client_remove(s->broker, c->peer.uid);
	free(c);
	if (s->connection_closed)
		s->connection_closed(s);	/* fds were freed */
}

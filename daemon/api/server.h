/* SPDX-License-Identifier: MIT */
/* The listening Unix socket: created, or passed in by systemd. */
#ifndef ACCEL_DAEMON_SERVER_H
#define ACCEL_DAEMON_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "list.h"
#include "listener.h"

struct broker;
struct connection;
struct resolver;

/*
 * What a connection hands each complete message to: the protocol above
 * the transport (varlink_api_dispatch()), which answers through
 * connection_reply().  Given, not called by name, so that the transport
 * and the protocol do not call each other.
 */
typedef void (*server_dispatch_fn)(struct connection *c, const char *msg, size_t len);

struct server {
	sd_event *event;
	struct broker *broker;
	server_dispatch_fn dispatch;
	/*
	 * Told by connection_destroy() that fds were freed (the server listens
	 * again if it ran out of them): a callback server_init() sets, so that
	 * connection.c calls nothing of server.c.  NULL: nothing to do.
	 */
	void (*connection_closed)(struct server *s);
	struct listener_reload reload;	/* what the protocol's Reload calls */
	/* Users by name, off the loop (main.c sets it after server_init()); NULL: names are refused. */
	struct resolver *resolver;
	int listen_fd;
	sd_event_source *listen_source;
	struct list connections;
	unsigned n_connections;
	unsigned n_monitors;	/* connections streaming Monitor events */
	unsigned n_awaiting_reader;	/* connections stopped for fds sent but unread */
	/*
	 * Out of fds (EMFILE/ENFILE): the listener is off until a connection
	 * closes or the retry timer fires, instead of spinning on a readable
	 * socket it cannot accept from.
	 */
	bool accept_paused;
	sd_event_source *accept_retry;
	uint64_t accept_pauses;	/* times it was paused, for GetStatus */
	char *created_path;	/* unlinked on exit; NULL when systemd owns it */
};

/*
 * Listen on @passed_fd, the socket systemd passed (fdstore_take_passed()),
 * or if it is negative create @path (mode 0666: the broker, not the file
 * mode, decides who may do what).  Each connection's messages go to
 * @dispatch; its Reload calls @reload.
 */
int server_init(struct server *s, sd_event *event, struct broker *broker,
		const char *path, int passed_fd, server_dispatch_fn dispatch,
		const struct listener_reload *reload);
void server_finish(struct server *s);

#endif

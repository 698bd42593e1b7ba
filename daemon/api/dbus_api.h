/* SPDX-License-Identifier: MIT */
/*
 * The D-Bus listener: org.accelbroker.Broker1 on the system bus, through
 * sd-bus on the broker's event loop.  It calls the same core functions as
 * the Unix socket with credentials the bus driver vouches for; a queue
 * acquired here is held by the caller's unique name (released when the name
 * leaves the bus) and owned by its process (revoked when it exits).
 */
#ifndef ACCEL_DAEMON_DBUS_API_H
#define ACCEL_DAEMON_DBUS_API_H

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "broker.h"
#include "list.h"
#include "listener.h"

struct resolver;

#define DBUS_NAME		"org.accelbroker.Broker1"
#define DBUS_PATH		"/org/accelbroker/Broker1"
#define DBUS_INTERFACE		"org.accelbroker.Broker1"
#define DBUS_ERROR_PREFIX	DBUS_INTERFACE ".Error."

struct dbus_api {
	struct broker *broker;
	struct listener_reload reload;	/* what Reload calls */
	/* Users by name, off the loop (main.c sets it after dbus_api_init()); NULL: names are refused. */
	struct resolver *resolver;
	sd_bus *bus;		/* NULL: not on the bus */
	sd_bus_slot *vtable;
	struct list clients;	/* struct bus_client */
	struct broker_watcher devices;	/* DevicesChanged */
	sd_event_source *active_check;	/* after each loop turn: ActiveQueues changed? */
	unsigned active_announced;	/* the ActiveQueues last announced */
};

/*
 * Connect to the system bus ($DBUS_SYSTEM_BUS_ADDRESS or the standard
 * socket) and take the name.  Without a bus, or without the right to the
 * name, the broker serves the socket only: logged, and 0 is returned.
 * Reload calls @reload.
 */
int dbus_api_init(struct dbus_api *api, sd_event *event, struct broker *b,
		  const struct listener_reload *reload);
/* Release what bus clients hold and leave the bus. */
void dbus_api_finish(struct dbus_api *api);

#endif

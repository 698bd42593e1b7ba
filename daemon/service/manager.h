/* SPDX-License-Identifier: MIT */
/*
 * The one place above the core that changes it from outside a client's
 * call: a reload (SIGHUP, or a listener's Reload: main.c hands it over) re-reads the
 * settings and rescans the devices; a device event rescans.  The core is
 * only ever called from here, never calls back.
 */
#ifndef ACCEL_DAEMON_MANAGER_H
#define ACCEL_DAEMON_MANAGER_H

#include <systemd/sd-event.h>

#include "errors.h"
#include "hotplug.h"
#include "listener.h"

struct broker;
struct resolver;
struct settings;

struct manager {
	struct broker *broker;
	struct settings *settings;
	const char *sysfs_root;	/* the uacce devices (e.g. /sys/class/uacce) */
	const char *dev_root;	/* and their nodes (e.g. /dev) */
	struct hotplug hotplug;
	struct resolver *resolver;	/* where a reload's parse runs; set once it exists */
};

/* Follow device events; @b and @s outlive the manager. */
int manager_init(struct manager *m, sd_event *event, struct broker *b, struct settings *s,
		 const char *sysfs_root, const char *dev_root);
void manager_finish(struct manager *m);

/*
 * Re-read the settings on the resolver's worker, then on the loop put them
 * in force and rescan: @done(@userdata) gets the queues revoked, or an
 * error (the old settings stay; OutOfResources past the resolver's
 * deadline).  Reloads run one at a time, in the order asked.  0: started,
 * *@job (if @job) cancels the answer; else an error in @e.
 */
int manager_reload(struct manager *m, listener_reload_done_fn done, void *userdata, struct resolver_job **job,
		   struct accel_error *e);
/* manager_reload() as a listener calls it (struct listener_reload's start): @data is the manager. */
int manager_on_reload(void *data, listener_reload_done_fn done, void *userdata, struct resolver_job **job,
		      struct accel_error *e);
/* Add and remove uacce devices to match sysfs now; returns how many changed. */
int manager_rescan(struct manager *m);

#endif

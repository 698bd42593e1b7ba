/* SPDX-License-Identifier: MIT */
/*
 * uacce devices coming and going.  The kernel announces them on the
 * uevent netlink socket; on any uacce event the broker re-reads the sysfs
 * class directory (the event's text is only a hint, sysfs is the truth)
 * and adds or removes devices, revoking the queues of those that left.
 * Reload rescans as well, which also covers a broker that may not listen
 * to uevents (e.g. in a container).
 */
#ifndef ACCEL_DAEMON_HOTPLUG_H
#define ACCEL_DAEMON_HOTPLUG_H

#include <systemd/sd-event.h>

struct broker;

struct hotplug {
	struct broker *broker;
	const char *sysfs_root;		/* e.g. /sys/class/uacce */
	const char *dev_root;		/* e.g. /dev */
	int fd;				/* the uevent socket; -1: none */
	sd_event_source *source;
};

/* Listen for uevents (best effort: without them only Reload rescans). */
int hotplug_init(struct hotplug *h, sd_event *event, struct broker *b, const char *sysfs_root,
		 const char *dev_root);
/* Add and remove devices to match sysfs now; returns how many changed. */
int hotplug_rescan(struct hotplug *h);
void hotplug_finish(struct hotplug *h);

#endif

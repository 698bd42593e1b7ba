/* SPDX-License-Identifier: MIT */
/*
 * uacce devices coming and going.  The kernel announces them on the
 * uevent netlink socket; on any uacce event hotplug tells its owner (the
 * service's manager.c), which rescans the sysfs class directory (the
 * event's text is only a hint, sysfs is the truth) and adds or removes
 * devices.  Reload rescans as well, which also covers a broker that may
 * not listen to uevents (e.g. in a container).
 */
#ifndef ACCEL_DAEMON_HOTPLUG_H
#define ACCEL_DAEMON_HOTPLUG_H

#include <systemd/sd-event.h>

struct hotplug {
	void (*changed)(void *data);	/* a uacce device may have come or gone */
	void *data;
	int fd;				/* the uevent socket; -1: none */
	sd_event_source *source;
};

/* Listen for uevents (best effort: without them only Reload rescans); call @changed on uacce ones. */
int hotplug_init(struct hotplug *h, sd_event *event, void (*changed)(void *data), void *data);
void hotplug_finish(struct hotplug *h);

#endif

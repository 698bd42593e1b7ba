/* SPDX-License-Identifier: MIT */
/*
 * The backends: each finds its devices and returns them (struct
 * device_changes, device.h); the service hands them to the core
 * (broker_apply_device_changes()).  A backend never calls the core: the
 * core reaches it through backend_ops.
 */
#ifndef ACCEL_DAEMON_BACKEND_H
#define ACCEL_DAEMON_BACKEND_H

#include "device.h"
#include "list.h"

struct sim_engine;

/* Make @n_devices software devices "accel_sim-<i>" of @n_queues queues each, into @out->added. */
int backend_sim_create_devices(struct sim_engine *engine, unsigned n_devices, unsigned n_queues,
			       struct device_changes *out);

/*
 * Compare the uacce devices of @known (the broker's list, read only) with
 * @sysfs_root (e.g. /sys/class/uacce), nodes under @dev_root: @out->gone
 * those that went away (or came back with a new inode), @out->added the new
 * ones.  A missing sysfs root means none; malformed devices are logged and
 * skipped.  Nothing is changed in the broker.  On an error @out still
 * holds what was found before it: apply it either way.
 */
int backend_uacce_rescan(const struct list *known, const char *sysfs_root, const char *dev_root,
			 struct device_changes *out);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The backends: each finds its devices.  At start they register them with
 * the broker (as a driver registers with its framework); later changes
 * (the uacce rescan) are returned, for the service to apply.
 */
#ifndef ACCEL_DAEMON_BACKEND_H
#define ACCEL_DAEMON_BACKEND_H

#include "list.h"

struct broker;
struct device;
struct sim_engine;

/* Add @n_devices software devices "accel_sim-<i>" of @n_queues queues each. */
int backend_sim_add_devices(struct broker *b, struct sim_engine *engine,
			    unsigned n_devices, unsigned n_queues);

/*
 * Add every uacce device under @sysfs_root (e.g. /sys/class/uacce) whose
 * node is <@dev_root>/<name>.  Returns how many were added; a missing
 * sysfs root means none.  Malformed devices are logged and skipped.
 */
int backend_uacce_add_devices(struct broker *b, const char *sysfs_root,
			      const char *dev_root);

/*
 * What a rescan found: @gone are devices of @known (still the broker's,
 * to be removed by the caller), @added new ones (the caller's to add;
 * device_changes_finish() destroys those it left).
 */
struct device_changes {
	struct device **gone;
	unsigned n_gone;
	struct device **added;
	unsigned n_added;
};

/*
 * Compare the uacce devices of @known (the broker's list, read only) with
 * @sysfs_root: those that went away, those that came.  Nothing is changed
 * in the broker: the caller applies @out (service/manager.c).
 */
int backend_uacce_rescan(const struct list *known, const char *sysfs_root, const char *dev_root,
			 struct device_changes *out);
void device_changes_finish(struct device_changes *c);

#endif

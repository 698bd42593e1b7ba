/* SPDX-License-Identifier: MIT */
/* The backends: each finds its devices and adds them to the broker. */
#ifndef ACCEL_DAEMON_BACKEND_H
#define ACCEL_DAEMON_BACKEND_H

struct broker;
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
 * Bring the uacce devices in line with @sysfs_root: remove those that went
 * away (their queues are revoked), add those that came.  Returns how many
 * changed.
 */
int backend_uacce_rescan(struct broker *b, const char *sysfs_root, const char *dev_root);

#endif

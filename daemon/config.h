/* SPDX-License-Identifier: MIT */
/*
 * The broker's settings: built-in defaults, then the configuration file's
 * [broker] section, then the command line.  The policy sections ([defaults],
 * [user:NAME], [group:NAME]) come with the policy engine.
 */
#ifndef ACCEL_DAEMON_CONFIG_H
#define ACCEL_DAEMON_CONFIG_H

#include <stdbool.h>

#define CONFIG_DEFAULT_PATH	"/etc/accel-broker.conf"
#define CONFIG_UNSET		(-1)

struct config {
	int sim_devices;		/* CONFIG_UNSET: 2 when no uacce device exists */
	int sim_queues;
	int engine_threads;		/* CONFIG_UNSET: one per core */
	int max_queues_per_user;
	int max_connections_per_user;
	int max_connections;
	int admin_gid;			/* [broker] admin_group, resolved; CONFIG_UNSET: root only */
};

void config_init(struct config *cfg);

/*
 * Read @path into @cfg.  A missing file is fine when @must_exist is false.
 * Errors (unknown keys or sections, bad numbers) are logged with file:line
 * and returned as -EINVAL.
 */
int config_load(struct config *cfg, const char *path, bool must_exist);

/* Parse a whole decimal number in [min, max]. */
int config_parse_int(const char *s, int min, int max, int *out);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The broker's settings: built-in defaults, then the configuration file's
 * [broker] section, then the command line.  The policy sections ([defaults],
 * [user:NAME], [group:NAME]) come with the policy engine.
 */
#ifndef ACCEL_DAEMON_CONFIG_H
#define ACCEL_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

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
	int on_shrink;			/* what a reload does to queues over new limits */
	int transfer_timeout_sec;	/* how long a TransferQueue token lives */
	int reattach_timeout_sec;	/* after a restart: how long a connection's queues wait for it */
};

#define CONFIG_ON_SHRINK_KEEP	0
#define CONFIG_ON_SHRINK_REVOKE	1

struct policy;

void config_init(struct config *cfg);

/*
 * Read @path, then the drop-ins @path.d/ *.conf in lexical order, into @cfg
 * ([broker]) and @policy (the policy sections; NULL: refuse them).  A
 * missing @path is fine when @must_exist is false.  Every error (unknown
 * keys or sections, bad numbers, unknown users or groups) is logged with
 * file:line; the first is also put in @err.  Returns -EINVAL on any error.
 */
int config_load(struct config *cfg, struct policy *policy, const char *path, bool must_exist,
		char *err, size_t err_size);

/* Every field CONFIG_UNSET: the command line's settings before any option. */
void config_init_unset(struct config *cfg);

/* The command line wins over the file: copy every field of @cli that is set. */
void config_override(struct config *cfg, const struct config *cli);

#endif

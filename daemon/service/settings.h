/* SPDX-License-Identifier: MIT */
/*
 * The settings in force: the configuration file and its drop-ins, the
 * command line over them, and the policy they define.  A reload (SIGHUP,
 * or the Reload method) parses everything into new settings and swaps them
 * in one step; a broken file keeps the old ones, and the error names the
 * file and line.
 */
#ifndef ACCEL_DAEMON_SETTINGS_H
#define ACCEL_DAEMON_SETTINGS_H

#include <stdbool.h>

#include "config.h"
#include "errors.h"
#include "policy.h"

struct broker;

struct settings {
	const char *path;
	bool must_exist;	/* named on the command line */
	struct config cli;	/* CONFIG_UNSET where the command line says nothing */
	struct config cfg;	/* in force */
	struct policy policy;	/* in force; the broker points at it */
};

/* Load for the first time; errors are logged. */
int settings_load(struct settings *s);
/* Reload and put in force in @b; on error the old settings stay and @e says why. */
int settings_reload(struct settings *s, struct broker *b, struct accel_error *e);
void settings_finish(struct settings *s);

/* The broker limits that follow from @cfg. */
void settings_limits(const struct config *cfg, struct broker_limits *out);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The settings in force: the configuration file and its drop-ins, the
 * command line over them, and the policy they define.  A reload (SIGHUP,
 * or the Reload method) parses everything into new settings and swaps them
 * in one step; a broken file keeps the old ones, and the error names the
 * file and line.  The parse names users and groups (the user database may
 * take seconds): a reload's is made off the loop on a settings_parsed,
 * which holds all it reads; only settings_apply() touches what is in force.
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
/* A reload's parse: what it reads, copied from @s (on the loop), and what it makes. */
struct settings_parsed {
	const char *path;	/* lives as long as the settings */
	bool must_exist;
	struct config cli;
	struct config cfg;	/* made by settings_parse() */
	struct policy policy;
	char err[512];		/* why it failed */
};

void settings_parse_init(const struct settings *s, struct settings_parsed *p);
/* Parse into @p; any thread (it touches nothing else).  On error @p->err says why. */
int settings_parse(struct settings_parsed *p);
/* Put @p in force in @b (its policy moves into @s); returns the queues revoked. */
int settings_apply(struct settings *s, struct broker *b, struct settings_parsed *p);
void settings_parsed_finish(struct settings_parsed *p);
void settings_finish(struct settings *s);

/* The broker limits that follow from @cfg. */
void settings_limits(const struct config *cfg, struct broker_limits *out);

#endif

/* SPDX-License-Identifier: MIT */
/* accelctl: the commands and what they share. */
#ifndef ACCELCTL_H
#define ACCELCTL_H

#include <accel/accel.h>
#include <json-c/json.h>
#include <stdbool.h>

struct ctl {
	const char *socket_path;	/* NULL: libaccel's default */
	bool json;
	struct accel_client *client;	/* connected on first use */
};

/* Connect if not yet connected; prints the error. */
int ctl_client(struct ctl *ctl, struct accel_client **out);

/* Call @method, returning the parsed reply parameters; prints errors. */
int ctl_call(struct ctl *ctl, const char *method, struct json_object **reply);

/* Print a broker or system error for @what and return @r. */
int ctl_error(struct ctl *ctl, int r, const char *what);

int cmd_status(struct ctl *ctl, int argc, char **argv);
int cmd_devices(struct ctl *ctl, int argc, char **argv);
int cmd_queues(struct ctl *ctl, int argc, char **argv);
int cmd_selftest(struct ctl *ctl, int argc, char **argv);
int cmd_compress(struct ctl *ctl, int argc, char **argv);
int cmd_decompress(struct ctl *ctl, int argc, char **argv);
int cmd_revoke(struct ctl *ctl, int argc, char **argv);
int cmd_monitor(struct ctl *ctl, int argc, char **argv);
int cmd_reload(struct ctl *ctl, int argc, char **argv);
int cmd_quota(struct ctl *ctl, int argc, char **argv);

/* Parse a command's own options: --json and --help.  Returns 1 to go on. */
int ctl_parse_simple(struct ctl *ctl, int argc, char **argv, const char *usage);

#endif

/* SPDX-License-Identifier: MIT */
/* accelctl: the commands and what they share. */
#ifndef ACCELCTL_H
#define ACCELCTL_H

#include <accel/accel.h>
#include <json-c/json.h>
#include <stdbool.h>

#include <getopt.h>

struct ctl {
	const char *socket_path;	/* --socket, else $ACCEL_BROKER_SOCKET, else the default */
	bool json;
	struct accel_client *client;	/* connected on first use */
};

/* Connect if not yet connected; prints the error. */
int ctl_client(struct ctl *ctl, struct accel_client **out);

/* The socket to use: --socket, else $ACCEL_BROKER_SOCKET, else ACCEL_DEFAULT_SOCKET. */
const char *ctl_socket_path(const struct ctl *ctl);

/* Print why connecting to the broker failed, naming the socket and what to do; returns @r. */
int ctl_connect_error(struct ctl *ctl, int r);

/*
 * The options every command takes, after its own in its table:
 * options and operands mix in any order, as in GNU tools.
 */
#define CTL_OPT_JSON	0x100
#define CTL_OPT_SOCKET	0x101
#define CTL_COMMON_OPTIONS \
	{ "json", no_argument, NULL, CTL_OPT_JSON }, \
	{ "socket", required_argument, NULL, CTL_OPT_SOCKET }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ 0 }

/*
 * Commands start their getopt_long() loop with optind = 0, not 1: main()
 * parsed with "+" (stop at the command), and glibc keeps that mode until
 * optind is 0, which makes it read the option string afresh.
 */
/*
 * Handle a common option @c: 1 when taken, 0 when --help printed @usage,
 * -EINVAL for anything else (getopt printed why).
 */
int ctl_common_option(struct ctl *ctl, int c, const char *usage);

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

/* Parse a command that has only the common options.  Returns 1 to go on. */
int ctl_parse_simple(struct ctl *ctl, int argc, char **argv, const char *usage);

#endif

// SPDX-License-Identifier: MIT
/* accelctl: inspect accel-broker and run work through it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accelctl.h"

static const struct {
	const char *name;
	int (*run)(struct ctl *ctl, int argc, char **argv);
	const char *help;
} commands[] = {
	{ "status", cmd_status, "the broker's state: devices, queues, clients, users" },
	{ "devices", cmd_devices, "the devices and their free queues" },
	{ "queues", cmd_queues, "the queues you hold (root: all)" },
	{ "selftest", cmd_selftest, "acquire a queue per algorithm and check known answers" },
	{ "compress", cmd_compress, "gzip a file through the accelerator" },
	{ "decompress", cmd_decompress, "gunzip a file through the accelerator" },
	{ "revoke", cmd_revoke, "take queues back (by id, --user, --device or --unit)" },
	{ "monitor", cmd_monitor, "print revocations as they happen" },
	{ "reload", cmd_reload, "make the broker re-read its configuration" },
	{ "quota", cmd_quota, "your limits, their use, and the rule that sets each" },
};

static void help(void)
{
	printf("Usage: accelctl [--socket PATH] [--json] COMMAND [OPTIONS] [ARGUMENTS]\n\n"
	       "Inspect accel-broker and run work through its accelerators.\n\n"
	       "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-11s %s\n", commands[i].name, commands[i].help);
	printf("\nOptions (before or after the command):\n"
	       "  --socket PATH  the broker's socket (default $%s or %s)\n"
	       "  --json         print JSON instead of tables\n"
	       "  -h, --help     show this help; COMMAND --help for a command's\n"
	       "  --version      show the version\n", ACCEL_SOCKET_ENV, ACCEL_DEFAULT_SOCKET);
}

int ctl_error(struct ctl *ctl, int r, const char *what)
{
	const char *name = ctl->client ? accel_error_name(ctl->client) : NULL;

	if (name)
		fprintf(stderr, "accelctl: %s: %s (%s)\n", what, accel_error_message(ctl->client), name);
	else
		fprintf(stderr, "accelctl: %s: %s\n", what, strerror(-r));
	return r;
}

const char *ctl_socket_path(const struct ctl *ctl)
{
	const char *env = getenv(ACCEL_SOCKET_ENV);

	if (ctl->socket_path)
		return ctl->socket_path;
	return env && *env ? env : ACCEL_DEFAULT_SOCKET;
}

int ctl_connect_error(struct ctl *ctl, int r)
{
	const char *path = ctl_socket_path(ctl);

	fprintf(stderr, "accelctl: could not connect to the broker at %s: %s\n", path, strerror(-r));
	if (r == -EACCES || r == -EPERM)
		fprintf(stderr, "accelctl: you may not open %s (or a directory above it); "
			"ask its administrator, or name another socket with --socket PATH or $%s\n",
			path, ACCEL_SOCKET_ENV);
	else
		fprintf(stderr, "accelctl: is the broker running? Start it with "
			"\"systemctl start accel-broker.socket\" (as root), or name the socket it "
			"listens on with --socket PATH or $%s\n", ACCEL_SOCKET_ENV);
	return r;
}

int ctl_client(struct ctl *ctl, struct accel_client **out)
{
	int r;

	if (!ctl->client) {
		r = accel_connect(ctl_socket_path(ctl), &ctl->client);
		if (r < 0)
			return ctl_connect_error(ctl, r);
	}
	*out = ctl->client;
	return 0;
}

int ctl_call(struct ctl *ctl, const char *method, struct json_object **reply)
{
	struct accel_client *c = NULL;	/* set when ctl_client() succeeds; gcc cannot tell */
	char *text = NULL;
	int r;

	r = ctl_client(ctl, &c);
	if (r < 0)
		return r;
	r = accel_call_json(c, method, NULL, &text);
	if (r < 0)
		return ctl_error(ctl, r, method);
	*reply = json_tokener_parse(text);
	free(text);
	if (!*reply) {
		fprintf(stderr, "accelctl: %s: unreadable reply\n", method);
		return -EPROTO;
	}
	return 0;
}

int ctl_common_option(struct ctl *ctl, int c, const char *usage)
{
	switch (c) {
	case CTL_OPT_JSON:
		ctl->json = true;
		return 1;
	case CTL_OPT_SOCKET:
		ctl->socket_path = optarg;
		return 1;
	case 'h':
		printf("%s", usage);
		printf("Every command also takes --socket PATH and --help; options may follow arguments.\n");
		return 0;
	default:
		return -EINVAL;
	}
}

int ctl_parse_simple(struct ctl *ctl, int argc, char **argv, const char *usage)
{
	static const struct option options[] = { CTL_COMMON_OPTIONS };
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		r = ctl_common_option(ctl, c, usage);
		if (r <= 0)
			return r;
	}
	if (optind < argc) {
		fprintf(stderr, "accelctl: unexpected argument \"%s\"\n", argv[optind]);
		return -EINVAL;
	}
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct ctl ctl = { 0 };
	int c, r;

	/* "+": stop at the command; what follows is the command's. */
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
		switch (c) {
		case 's': ctl.socket_path = optarg; break;
		case 'j': ctl.json = true; break;
		case 'h': help(); return EXIT_SUCCESS;
		case 'V': printf("accelctl %s\n", ACCEL_VERSION); return EXIT_SUCCESS;
		default: return EXIT_FAILURE;
		}
	}
	if (optind >= argc) {
		help();
		return EXIT_FAILURE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, argv[optind]) != 0)
			continue;
		r = commands[i].run(&ctl, argc - optind, argv + optind);
		accel_disconnect(ctl.client);
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	fprintf(stderr, "accelctl: unknown command \"%s\"; see accelctl --help\n", argv[optind]);
	return EXIT_FAILURE;
}

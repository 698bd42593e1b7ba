// SPDX-License-Identifier: MIT
/*
 * accel-run: run an unchanged uacce program (UADK and what is built on
 * it) with its queues from the broker: libaccel-preload.so in LD_PRELOAD,
 * the broker's socket in $ACCEL_BROKER_SOCKET, then exec.  --check says
 * whether the broker answers and what this user may have.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <accel/accel.h>

#include "allowance.h"

#define PRELOAD_NAME "libaccel-preload.so"

static void help(void)
{
	printf("Usage: accel-run [--socket PATH] COMMAND [ARGUMENT...]\n"
	       "       accel-run [--socket PATH] --check\n\n"
	       "Run COMMAND, an unchanged uacce program, with its accelerator queues from\n"
	       "accel-broker (through %s).\n\n"
	       "  --socket PATH  the broker's socket (default $%s or %s)\n"
	       "  --check        say whether the broker answers and what you may have\n"
	       "  -h, --help     show this help\n"
	       "  --version      show the version\n", PRELOAD_NAME, ACCEL_SOCKET_ENV, ACCEL_DEFAULT_SOCKET);
}

/*
 * The preload next to this program (a build tree), in ../lib from it (an
 * install under any prefix), else where the build said it would go.
 */
static int find_preload(char *out, size_t size)
{
	static const char *const beside[] = { "", "/../lib" };
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		for (size_t i = 0; slash && i < sizeof(beside) / sizeof(beside[0]); i++)
			if (snprintf(out, size, "%.*s%s/%s", (int)(size - 32), self, beside[i], PRELOAD_NAME) <
				    (int)size && access(out, R_OK) == 0)
				return 0;
	}
	snprintf(out, size, "%s/%s", ACCEL_LIBDIR, PRELOAD_NAME);
	return access(out, R_OK) == 0 ? 0 : -ENOENT;
}

static int run(char **argv)
{
	char preload[PATH_MAX], *list;
	const char *old = getenv("LD_PRELOAD");

	if (find_preload(preload, sizeof(preload)) < 0) {
		fprintf(stderr, "accel-run: %s not found (next to accel-run, in ../lib from it, or in %s)\n",
			PRELOAD_NAME, ACCEL_LIBDIR);
		return 127;
	}
	/* Ahead of what is there: ours must see the program's opens first. */
	if (old && *old) {
		if (asprintf(&list, "%s:%s", preload, old) < 0)
			return 127;
	} else {
		list = preload;
	}
	if (setenv("LD_PRELOAD", list, 1) < 0)
		return 127;
	execvp(argv[0], argv);
	fprintf(stderr, "accel-run: %s: %s\n", argv[0], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

static void print_device(const struct allowance_device *d)
{
	if (d->usable)
		printf("%-20s %5u %5u\n", d->name, d->free, d->available);
	else
		printf("%-20s %5u %5s  %s\n", d->name, d->free, "-", d->why);
}

static int check(const char *socket_path)
{
	struct accel_client *c;
	struct allowance a;
	int r;

	r = accel_connect(NULL, &c);
	if (r < 0) {
		fprintf(stderr, "accel-run: the broker at %s does not answer: %s\n", socket_path, strerror(-r));
		fprintf(stderr, "accel-run: programs run with accel-run then open the device nodes themselves\n");
		return 1;
	}
	r = allowance_read(c, &a);
	if (r < 0) {
		fprintf(stderr, "accel-run: could not ask the broker at %s: %s\n", socket_path,
			accel_error_message(c) ?: strerror(-r));
		accel_disconnect(c);
		return 1;
	}
	printf("broker: %s\n", socket_path);
	if (a.n == 0)
		printf("no kernel (uacce) devices: accel-run has nothing to hand out\n");
	else
		printf("%-20s %5s %5s\n", "DEVICE", "FREE", "YOURS");
	for (size_t i = 0; i < a.n; i++)
		print_device(&a.devices[i]);
	if (a.quota_left >= 0)
		printf("your quota leaves %d more queue%s\n", a.quota_left, a.quota_left == 1 ? "" : "s");
	allowance_free(&a);
	accel_disconnect(c);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "check", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *env;
	bool do_check = false;
	int opt;

	/* "+": the first non-option is COMMAND; its own options are its own. */
	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (setenv(ACCEL_SOCKET_ENV, optarg, 1) < 0)
				return 127;
			break;
		case 'c':
			do_check = true;
			break;
		case 'h':
			help();
			return 0;
		case 'V':
			printf("accel-run %s\n", ACCEL_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try accel-run --help\n");
			return 127;
		}
	}
	env = getenv(ACCEL_SOCKET_ENV);
	if (do_check)
		return check(env && *env ? env : ACCEL_DEFAULT_SOCKET);
	if (optind >= argc) {
		fprintf(stderr, "accel-run: no command (accel-run --help)\n");
		return 127;
	}
	return run(argv + optind);
}

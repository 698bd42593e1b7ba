// SPDX-License-Identifier: MIT
/*
 * The client of make systemd-check: acquires two copy queues (lifetime
 * "connection", the default) and runs operations on them in a loop, every
 * result checked, until STATE_DIR/stop appears.  Meanwhile the test
 * restarts and kills the broker: the data path must not notice.
 *
 * Writes STATE_DIR/ready (the queue ids) once it holds its queues, and
 * STATE_DIR/progress ("ok N failures F": operations that succeeded, that
 * failed) as it goes.  Exits 0 only if
 * every operation succeeded and both queues could be released at the end.
 *
 * With --until-lost it runs until an operation fails with ENOLINK (its
 * queue was lost: the broker was stopped, not restarted) and exits 0 then;
 * any other failure exits 1.
 * Usage: systemd_client SOCKET STATE_DIR [--until-lost]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <accel/accel.h>

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512], tmp[520];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	rename(tmp, path);	/* whole or not at all, for the reader */
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct accel_client *c;
	struct accel_queue *q[2];
	unsigned long long ops = 0, failures = 0;
	char text[256], stop[512];
	double last = 0;
	int r;

	bool until_lost = argc == 4 && strcmp(argv[3], "--until-lost") == 0;

	if (argc != 3 && !until_lost) {
		fprintf(stderr, "usage: systemd_client SOCKET STATE_DIR [--until-lost]\n");
		return 2;
	}
	snprintf(stop, sizeof(stop), "%s/stop", argv[2]);
	r = accel_connect(argv[1], &c);
	if (r < 0) {
		fprintf(stderr, "systemd_client: connect: %s\n", strerror(-r));
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		r = accel_acquire(c, "copy", NULL, &q[i]);
		if (r < 0) {
			fprintf(stderr, "systemd_client: acquire: %s\n", strerror(-r));
			return 1;
		}
	}
	snprintf(text, sizeof(text), "%llu %llu\n", (unsigned long long)accel_queue_id(q[0]),
		 (unsigned long long)accel_queue_id(q[1]));
	write_file(argv[2], "ready", text);

	while (access(stop, F_OK) != 0) {
		char in[64], out[64] = "";
		int n = snprintf(in, sizeof(in), "operation %llu", ops) + 1;

		r = accel_run(q[ops % 2], in, (size_t)n, out, sizeof(out), 0, 0, NULL);
		if (until_lost && r == -ENOLINK) {
			snprintf(text, sizeof(text), "lost after %llu, failures %llu\n", ops, failures);
			write_file(argv[2], "progress", text);
			return failures ? 1 : 0;
		}
		if (r < 0 || strcmp(in, out) != 0) {
			failures++;
			fprintf(stderr, "systemd_client: operation %llu on queue %llu: %s\n", ops,
				(unsigned long long)accel_queue_id(q[ops % 2]), r < 0 ? strerror(-r) : "wrong result");
		}
		ops++;
		if (now() - last > 0.05) {
			last = now();
			snprintf(text, sizeof(text), "ok %llu failures %llu\n", ops - failures, failures);
			write_file(argv[2], "progress", text);
		}
	}
	snprintf(text, sizeof(text), "ok %llu failures %llu\n", ops - failures, failures);
	write_file(argv[2], "progress", text);
	for (int i = 0; i < 2; i++) {
		r = accel_release(q[i]);
		if (r < 0) {
			fprintf(stderr, "systemd_client: release: %s\n", strerror(-r));
			failures++;
		}
	}
	accel_disconnect(c);
	return failures ? 1 : 0;
}

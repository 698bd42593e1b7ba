// SPDX-License-Identifier: MIT
/*
 * A client of make systemd-check's unit quotas: acquires up to N copy
 * queues, writes "held K error NAME" to STATE_FILE (NAME: the broker's error
 * that stopped it, "-" if it got all N) and holds them until killed, so
 * that the test can see what its unit was allowed and that stopping the
 * unit gives them back.
 * Usage: hold_client SOCKET N STATE_FILE
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <accel/accel.h>

int main(int argc, char **argv)
{
	struct accel_client *c;
	struct accel_queue *q;
	char tmp[512];
	const char *error = "-";
	int n, held = 0;
	FILE *f;

	if (argc != 4 || (n = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: hold_client SOCKET N STATE_FILE\n");
		return 2;
	}
	if (accel_connect(argv[1], &c) < 0)
		return 1;
	for (; held < n; held++)
		if (accel_acquire(c, "copy", NULL, &q) < 0) {
			error = accel_error_name(c) ? accel_error_name(c) : "unnamed";
			fprintf(stderr, "hold_client: %s\n", accel_error_message(c));
			break;
		}
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[3]);
	f = fopen(tmp, "w");
	if (!f)
		return 1;
	fprintf(f, "held %d error %s\n", held, error);
	fclose(f);
	rename(tmp, argv[3]);	/* whole or not at all, for the reader */
	for (;;)
		pause();
}

// SPDX-License-Identifier: MIT
/*
 * make deb-check's program "built against libaccel-dev": compiled with the
 * flags `pkg-config --cflags --libs accel` gives from the package's accel.pc,
 * run against the packaged libaccel1 and broker.  Copies a string through a
 * queue of the broker's default socket; exit status 0 when it came back.
 */
#include <accel/accel.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	static const char text[] = "through the packaged broker";
	char out[sizeof(text)] = "";
	struct accel_client *c;
	struct accel_queue *q;
	int r;

	r = accel_connect(NULL, &c);
	if (r < 0) {
		fprintf(stderr, "accel_connect: %s\n", strerror(-r));
		return 1;
	}
	r = accel_acquire(c, "copy", NULL, &q);
	if (r < 0) {
		fprintf(stderr, "accel_acquire: %s\n", accel_error_message(c) ?: strerror(-r));
		accel_disconnect(c);
		return 1;
	}
	r = accel_run(q, text, sizeof(text), out, sizeof(out), 0, 0, NULL);
	accel_release(q);
	accel_disconnect(c);
	if (r < 0 || memcmp(out, text, sizeof(text)) != 0) {
		fprintf(stderr, "accel_run: %s\n", r < 0 ? strerror(-r) : "wrong result");
		return 1;
	}
	printf("libaccel: %zu bytes copied through a queue\n", sizeof(text));
	return 0;
}

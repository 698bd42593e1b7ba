// SPDX-License-Identifier: MIT
/*
 * libaccel coming back to a broker that went away (reconnect.c), without
 * systemd: a broker killed with SIGKILL takes its queues' engine with it
 * and a new one does not know them.  The client must find out by itself:
 * its queues report ENOLINK instead of waiting for an engine that is gone,
 * and its calls go to the new broker without the application reconnecting.
 * (With systemd's fd store the new broker knows the queues: make
 * systemd-check.)
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <accel/accel.h>
#include <cmocka.h>

#include "harness.h"

static struct broker_proc first, second;

/* A hang is a failure, not a stuck test run: say so, and leave no broker behind. */
static void on_alarm(int sig)
{
	static const char msg[] = "test_reconnect: timed out (a client waited for a broker that is gone)\n";

	(void)sig;
	if (first.pid > 0)
		kill(first.pid, SIGKILL);
	if (second.pid > 0)
		kill(second.pid, SIGKILL);
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	alarm(0);
	kill_child(first.pid);
	first.pid = 0;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", first.dir);
	(void)!system(cmd);
	int r = second.pid > 0 && broker_stop(&second) != 0 ? -1 : 0;
	children_kill();
	return r;
}

static void copy_ok(struct accel_queue *q)
{
	char out[16] = "";

	assert_int_equal(accel_run(q, "again", 6, out, sizeof(out), 0, 0, NULL), 0);
	assert_string_equal(out, "again");
}

static void a_killed_broker_loses_the_queues_and_the_client_moves_on(void **state)
{
	struct accel_client *c;
	struct accel_queue *q, *fresh;
	struct accel_device *devices;
	size_t n_devices;
	char out[16];

	(void)state;
	signal(SIGALRM, on_alarm);
	alarm(30);
	assert_int_equal(broker_start(&first, NULL), 0);
	assert_int_equal(accel_connect(first.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q), 0);
	copy_ok(q);

	/* No revocation, no goodbye: the engine serving q is gone. */
	kill_child(first.pid);
	first.pid = 0;
	/* A new broker where the client looks (its own directory, reached by the old path). */
	assert_int_equal(broker_start(&second, NULL), 0);
	assert_int_equal(unlink(first.sock), 0);
	assert_int_equal(symlink(second.sock, first.sock), 0);

	/* The operation does not wait for an engine that no longer exists. */
	assert_int_equal(accel_run(q, "lost", 5, out, sizeof(out), 0, 0, NULL), -ENOLINK);
	assert_int_equal(accel_queue_state(q), ACCEL_QUEUE_REVOKED);
	assert_int_equal(accel_submit(q, &(struct accel_op){ 0 }), -ENOLINK);

	/* The same client, not reconnected by the application, talks to the new broker. */
	assert_int_equal(accel_list_devices(c, &devices, &n_devices), 0);
	assert_true(n_devices > 0);
	accel_devices_free(devices, n_devices);
	assert_int_equal(accel_acquire(c, "copy", NULL, &fresh), 0);
	copy_ok(fresh);
	assert_int_equal(accel_release(fresh), 0);
	accel_release(q);	/* only unmaps: no broker knows it */
	accel_disconnect(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(a_killed_broker_loses_the_queues_and_the_client_moves_on, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

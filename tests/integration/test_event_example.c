// SPDX-License-Identifier: MIT
/*
 * The example of libaccel-event (examples/event_gzip.c) against a broker
 * with the software engine: 64 gzip operations in flight on 4 queues,
 * handled from a libevent loop, every result decompressed and compared
 * with its input by the example itself.  Its output says so, and it exits 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "harness.h"

static struct broker_proc broker;

static int setup(void **state)
{
	return broker_start(&broker, (const char *const[]){ "--sim", "1", NULL }) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	int r = broker_stop(&broker);

	children_kill();
	return r == 0 ? 0 : -1;
}

/* Run the example with @args; its first output line into @line.  Its exit status. */
static int run_example(const char *args, char *line, size_t size)
{
	char cmd[512];
	FILE *p;
	int status;

	snprintf(cmd, sizeof(cmd), "%s/examples/accel-event-gzip %s %s", build_dir(), args, broker.sock);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(line, (int)size, p))
		line[0] = '\0';
	status = pclose(p);
	fprintf(stderr, "%s", line);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void the_event_loop_example_compresses_and_checks(void **state)
{
	char line[512];

	assert_int_equal(run_example("--ops 1024", line, sizeof(line)), 0);
	assert_non_null(strstr(line, "1024 gzip operations, 64 in flight on 4 queues, one libevent loop"));
	assert_non_null(strstr(line, "every result decompressed and compared: ok"));
}

static void the_blocking_way_does_the_same(void **state)
{
	char line[512];

	assert_int_equal(run_example("--blocking --ops 256", line, sizeof(line)), 0);
	assert_non_null(strstr(line, "compared: ok"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(the_event_loop_example_compresses_and_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(the_blocking_way_does_the_same, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

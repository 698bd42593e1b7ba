// SPDX-License-Identifier: MIT
/* The names queues are kept under in systemd's fd store: out and back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "device.h"
#include "fdstore.h"
#include "queue.h"

static struct device dev = { .name = (char *)"accel_sim-0" };

static struct queue sample(void)
{
	struct queue q = {
		.id = 42, .device = &dev, .uid = 1000, .gid = 100, .pid = 4321,
		.acquired_usec = 1795000000123456ull,
		.terms = { LIFETIME_PROCESS, FORK_ALLOW, TRANSFER_ANY },
	};

	strcpy(q.algorithm, "gzip");
	return q;
}

static void a_queue_comes_back_whole(void **state)
{
	char name[FDSTORE_NAME_MAX + 1];
	struct queue q = sample(), back = { 0 };
	const char *device = NULL;

	(void)state;
	assert_int_equal(fdstore_queue_name(&q, name), 0);
	assert_string_equal(name, "q1.42.1000.100.4321.1795000000123456.process.allow.any.gzip.accel_sim-0");
	assert_int_equal(fdstore_parse_name(name, &back, &device), 0);
	assert_int_equal(back.id, 42);
	assert_int_equal(back.uid, 1000);
	assert_int_equal(back.gid, 100);
	assert_int_equal(back.pid, 4321);
	assert_true(back.acquired_usec == q.acquired_usec);
	assert_int_equal(back.terms.lifetime, LIFETIME_PROCESS);
	assert_int_equal(back.terms.fork, FORK_ALLOW);
	assert_int_equal(back.terms.transfer, TRANSFER_ANY);
	assert_string_equal(back.algorithm, "gzip");
	assert_string_equal(device, "accel_sim-0");
}

/* A raw queue (no algorithm) is named "*" in the store and comes back with none. */
static void a_raw_queue_comes_back_raw(void **state)
{
	char name[FDSTORE_NAME_MAX + 1];
	struct queue q = sample(), back = { 0 };
	const char *device = NULL;

	(void)state;
	q.algorithm[0] = '\0';
	assert_int_equal(fdstore_queue_name(&q, name), 0);
	assert_string_equal(name, "q1.42.1000.100.4321.1795000000123456.process.allow.any.*.accel_sim-0");
	assert_int_equal(fdstore_parse_name(name, &back, &device), 0);
	assert_string_equal(back.algorithm, "");
	assert_string_equal(device, "accel_sim-0");
}

static void every_term_value_comes_back(void **state)
{
	char name[FDSTORE_NAME_MAX + 1];
	const char *device;

	(void)state;
	for (int l = LIFETIME_CONNECTION; l <= LIFETIME_PROCESS; l++)
		for (int f = FORK_DENY; f <= FORK_ALLOW; f++)
			for (int t = TRANSFER_NO; t <= TRANSFER_ANY; t++) {
				struct queue q = sample(), back = { 0 };
				q.terms = (struct terms){ l, f, t };
				assert_int_equal(fdstore_queue_name(&q, name), 0);
				assert_int_equal(fdstore_parse_name(name, &back, &device), 0);
				assert_int_equal(back.terms.lifetime, l);
				assert_int_equal(back.terms.fork, f);
				assert_int_equal(back.terms.transfer, t);
			}
}

static void a_device_may_have_dots_an_algorithm_may_not(void **state)
{
	char name[FDSTORE_NAME_MAX + 1];
	struct device dotted = { .name = (char *)"hisi.zip-3" };
	struct queue q = sample(), back = { 0 };
	const char *device;

	(void)state;
	q.device = &dotted;
	assert_int_equal(fdstore_queue_name(&q, name), 0);
	assert_int_equal(fdstore_parse_name(name, &back, &device), 0);
	assert_string_equal(device, "hisi.zip-3");
	strcpy(q.algorithm, "de.flate");
	assert_int_equal(fdstore_queue_name(&q, name), -EINVAL);
}

static void names_systemd_would_refuse_are_not_made(void **state)
{
	char name[FDSTORE_NAME_MAX + 1], long_name[300];
	struct device colon = { .name = (char *)"bad:dev" }, spaced = { .name = (char *)"bad dev" };
	struct device longer = { .name = long_name };
	struct queue q = sample();

	(void)state;
	q.device = &colon;
	assert_int_equal(fdstore_queue_name(&q, name), -EINVAL);
	q.device = &spaced;
	assert_int_equal(fdstore_queue_name(&q, name), -EINVAL);
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	q.device = &longer;
	assert_int_equal(fdstore_queue_name(&q, name), -ENAMETOOLONG);
}

static void malformed_names_are_refused(void **state)
{
	static const char *const bad[] = {
		"broker",
		"q2.42.1000.100.4321.1.process.allow.any.gzip.accel_sim-0",	/* another version */
		"q1.0.1000.100.4321.1.process.allow.any.gzip.accel_sim-0",	/* id 0 */
		"q1.42.1000.100.0.1.process.allow.any.gzip.accel_sim-0",	/* pid 0 */
		"q1.42.1000.100.4321.1.forever.allow.any.gzip.accel_sim-0",	/* no such lifetime */
		"q1.42.1000.100.4321.1.process.maybe.any.gzip.accel_sim-0",
		"q1.42.1000.100.4321.1.process.allow.all.gzip.accel_sim-0",
		"q1.42.1000.100.4321.1.process.allow.any.gzip.",		/* no device */
		"q1.42.1000.100.4321.1.process.allow.any.gzip",
		"q1.42.1000.100.4321",
		"q1.x.1000.100.4321.1.process.allow.any.gzip.accel_sim-0",
	};
	const char *device;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct queue q = { 0 };
		if (fdstore_parse_name(bad[i], &q, &device) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_queue_comes_back_whole),
		cmocka_unit_test(a_raw_queue_comes_back_raw),
		cmocka_unit_test(every_term_value_comes_back),
		cmocka_unit_test(a_device_may_have_dots_an_algorithm_may_not),
		cmocka_unit_test(names_systemd_would_refuse_are_not_made),
		cmocka_unit_test(malformed_names_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * libaccel's one-shot helper on stream algorithms: accel_run() on gzip
 * makes a whole member or fails, on gunzip reads a whole member or fails;
 * never a silent truncation.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <accel/accel.h>
#include <cmocka.h>

#include "harness.h"

static struct broker_proc broker;
static struct accel_client *client;

static int setup(void **state)
{
	if (broker_start(&broker, (const char *const[]){ "--sim", "1", NULL }) < 0)
		return -1;
	return accel_connect(broker.sock, &client) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	int r;

	accel_disconnect(client);
	r = broker_stop(&broker);
	children_kill();
	return r == 0 ? 0 : -1;
}

/* zlib in this process reads @gz back as exactly @want. */
static void assert_member_of(const unsigned char *gz, size_t len, const unsigned char *want, size_t want_len)
{
	unsigned char *back = malloc(want_len + 1);
	z_stream z = { 0 };

	assert_non_null(back);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (unsigned char *)gz;
	z.avail_in = (uInt)len;
	z.next_out = back;
	z.avail_out = (uInt)want_len + 1;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, want_len);
	assert_memory_equal(back, want, want_len);
	inflateEnd(&z);
	free(back);
}

static void fill_random(unsigned char *p, size_t n)
{
	uint32_t x = 0x9e3779b9;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (unsigned char)(x >> 16);
	}
}

static void accel_run_on_gzip_makes_a_whole_member_or_fails(void **state)
{
	static const char text[] = "hello, accelerator; hello, accelerator; hello, accelerator\n";
	unsigned char gz[4096], noise[4096];
	struct accel_completion c;
	struct accel_queue *q;

	assert_int_equal(accel_acquire(client, "gzip", NULL, &q), 0);
	/* No ACCEL_OP_FINISH given: still one whole member. */
	assert_int_equal(accel_run(q, text, strlen(text), gz, sizeof(gz), 0, 0, &c), 0);
	assert_true(c.flags & ACCEL_COMPLETION_STREAM_END);
	assert_member_of(gz, c.produced, (const unsigned char *)text, strlen(text));
	/* Incompressible input into too small a destination: an error, not a cut member. */
	fill_random(noise, sizeof(noise));
	assert_int_equal(accel_run(q, noise, sizeof(noise), gz, 512, 0, 0, &c), -ENOSPC);
	/* The queue is fine afterwards. */
	assert_int_equal(accel_run(q, text, strlen(text), gz, sizeof(gz), 9, ACCEL_OP_FINISH, &c), 0);
	assert_member_of(gz, c.produced, (const unsigned char *)text, strlen(text));
	accel_release(q);
}

static void accel_run_on_gunzip_reads_a_whole_member_or_fails(void **state)
{
	unsigned char text[8192], gz[16384], out[16384];
	struct accel_completion c;
	struct accel_queue *zq, *q;
	size_t gz_len;

	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (unsigned char)('a' + i % 17);
	assert_int_equal(accel_acquire(client, "gzip", NULL, &zq), 0);
	assert_int_equal(accel_run(zq, text, sizeof(text), gz, sizeof(gz), 0, 0, &c), 0);
	gz_len = c.produced;
	accel_release(zq);
	assert_int_equal(accel_acquire(client, "gunzip", NULL, &q), 0);
	assert_int_equal(accel_run(q, gz, gz_len, out, sizeof(out), 0, 0, &c), 0);
	assert_int_equal(c.produced, sizeof(text));
	assert_memory_equal(out, text, sizeof(text));
	/* Too small a destination. */
	assert_int_equal(accel_run(q, gz, gz_len, out, 100, 0, 0, &c), -ENOSPC);
	/* The member cut short. */
	assert_int_equal(accel_run(q, gz, gz_len - 12, out, sizeof(out), 0, 0, &c), -EPIPE);
	accel_release(q);
}

/* A stream run step by step through accel_run(): ACCEL_OP_MORE, then ACCEL_OP_CONTINUE. */
static void accel_run_steps_through_a_stream_when_told(void **state)
{
	unsigned char text[3000], gz[8192];
	struct accel_completion c;
	struct accel_queue *q;
	size_t pos = 0, made = 0;
	uint32_t flags = ACCEL_OP_MORE;

	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (unsigned char)('a' + i % 13);
	assert_int_equal(accel_acquire(client, "gzip", NULL, &q), 0);
	for (int step = 0; step < 10000; step++) {
		size_t n = sizeof(text) - pos < 7 ? sizeof(text) - pos : 7;
		if (pos + n == sizeof(text))
			flags |= ACCEL_OP_FINISH;
		assert_true(made + 64 <= sizeof(gz));
		assert_int_equal(accel_run(q, text + pos, n, gz + made, 64, 0, flags, &c), 0);
		pos += c.consumed;
		made += c.produced;
		flags |= ACCEL_OP_CONTINUE;
		if (c.flags & ACCEL_COMPLETION_STREAM_END)
			break;
	}
	assert_int_equal(pos, sizeof(text));
	assert_member_of(gz, made, text, sizeof(text));
	accel_release(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(accel_run_on_gzip_makes_a_whole_member_or_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(accel_run_on_gunzip_reads_a_whole_member_or_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(accel_run_steps_through_a_stream_when_told, setup, teardown),
	};

	return cmocka_run_group_tests_name("libaccel", tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/* The accel_sim_v1 operations with known answers and hostile descriptors. */
#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "crc32c.h"
#include "sim_ops.h"
#include "sim_zmem.h"

#define DATA_OFF ACCEL_SIM_DATA_OFFSET
#define DATA_SIZE ACCEL_SIM_DATA_SIZE
#define SRC (DATA_OFF)
#define DST (DATA_OFF + DATA_SIZE / 2)

struct fixture {
	struct sim_region region;
	struct sim_stream stream;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->region.dus = calloc(1, ACCEL_SIM_DUS_SIZE);
	f->region.data_offset = DATA_OFF;
	f->region.data_size = DATA_SIZE;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sim_stream_finish(&f->stream);
	free(f->region.dus);
	free(f);
	return 0;
}

static struct accel_sim_cqe run(struct fixture *f, unsigned op, uint32_t flags, uint64_t arg,
				uint32_t src_off, uint32_t src_len, uint32_t dst_off, uint32_t dst_len)
{
	struct accel_sim_desc d = {
		.user_data = 0xabcdef, .arg = arg, .op = op, .flags = flags,
		.src_offset = src_off, .src_len = src_len, .dst_offset = dst_off, .dst_len = dst_len,
	};
	struct accel_sim_cqe cqe;

	f->region.algorithm = op;
	sim_op_execute(&f->region, &f->stream, &d, &cqe);
	assert_int_equal(cqe.user_data, 0xabcdef);
	return cqe;
}

static void copy_copies_and_reports_length(void **state)
{
	struct fixture *f = *state;
	struct accel_sim_cqe c;

	for (int i = 0; i < 64; i++)
		f->region.dus[SRC + i] = (unsigned char)i;
	c = run(f, ACCEL_SIM_OP_COPY, 0, 0, SRC, 64, DST, 64);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.produced, 64);
	assert_memory_equal(f->region.dus + SRC, f->region.dus + DST, 64);
	c = run(f, ACCEL_SIM_OP_COPY, 0, 0, SRC, 64, DST, 63);
	assert_int_equal(c.status, -ENOSPC);
}

static void crc32c_matches_rfc3720_vectors(void **state)
{
	struct fixture *f = *state;
	unsigned char *src = f->region.dus + SRC;
	struct accel_sim_cqe c;

	memset(src, 0, 32);
	c = run(f, ACCEL_SIM_OP_CRC32C, 0, 0, SRC, 32, DST, 0);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.value, 0x8a9136aa);
	memset(src, 0xff, 32);
	assert_int_equal(run(f, ACCEL_SIM_OP_CRC32C, 0, 0, SRC, 32, DST, 0).value, 0x62a8ab43);
	for (int i = 0; i < 32; i++)
		src[i] = (unsigned char)i;
	assert_int_equal(run(f, ACCEL_SIM_OP_CRC32C, 0, 0, SRC, 32, DST, 0).value, 0x46dd794e);
	memcpy(src, "123456789", 9);
	assert_int_equal(run(f, ACCEL_SIM_OP_CRC32C, 0, 0, SRC, 9, DST, 0).value, 0xe3069283);
	/* Software and SSE4.2 paths agree on odd lengths and alignments. */
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xe3069283);
}

static void gzip_output_inflates_to_the_input(void **state)
{
	struct fixture *f = *state;
	unsigned char *src = f->region.dus + SRC, back[100000];
	struct accel_sim_cqe c;
	uLongf back_len = sizeof(back);
	z_stream z = { 0 };

	for (int i = 0; i < 100000; i++)
		src[i] = (unsigned char)("abcabcabd"[i % 9]);
	c = run(f, ACCEL_SIM_OP_GZIP, ACCEL_SIM_F_FINISH, 9, SRC, 100000, DST, DATA_SIZE / 2);
	assert_int_equal(c.status, 0);
	assert_true(c.flags & ACCEL_SIM_CF_STREAM_END);
	assert_int_equal(c.consumed, 100000);
	assert_int_equal(f->region.dus[DST], 0x1f);
	assert_int_equal(f->region.dus[DST + 1], 0x8b);
	assert_int_equal(inflateInit2(&z, 31), Z_OK);
	z.next_in = f->region.dus + DST;
	z.avail_in = c.produced;
	z.next_out = back;
	z.avail_out = (uInt)back_len;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, 100000);
	inflateEnd(&z);
	assert_memory_equal(back, src, 100000);
}

static void gzip_stream_spans_operations_and_tiny_outputs(void **state)
{
	struct fixture *f = *state;
	unsigned char *src = f->region.dus + SRC, out[300000], back[300000];
	size_t out_len = 0;
	uint32_t flags = 0;
	struct accel_sim_cqe c;
	uLongf back_len = sizeof(back);
	uint32_t x = 1;

	/* Three inputs of 100 kB, output taken 4 kB at a time. */
	for (int part = 0; part < 3; part++) {
		uint32_t left = 100000, off = 0;
		for (int i = 0; i < 100000; i++) {
			x = x * 1664525u + 1013904223u;
			src[i] = (unsigned char)('a' + (x >> 28));
		}
		memcpy(back + part * 100000, src, 100000);
		do {
			c = run(f, ACCEL_SIM_OP_GZIP, flags | (part == 2 ? ACCEL_SIM_F_FINISH : 0), 0,
				SRC + off, left, DST, 4096);
			assert_int_equal(c.status, 0);
			memcpy(out + out_len, f->region.dus + DST, c.produced);
			out_len += c.produced;
			off += c.consumed;
			left -= c.consumed;
			flags = ACCEL_SIM_F_CONTINUE;
		} while (left > 0 || (part == 2 && !(c.flags & ACCEL_SIM_CF_STREAM_END)));
	}
	unsigned char check[300000];
	z_stream z = { 0 };
	assert_int_equal(inflateInit2(&z, 31), Z_OK);
	z.next_in = out;
	z.avail_in = (uInt)out_len;
	z.next_out = check;
	z.avail_out = (uInt)back_len;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, 300000);
	inflateEnd(&z);
	assert_memory_equal(check, back, 300000);
}

static void gunzip_reads_a_gzip_member_and_refuses_corruption(void **state)
{
	static const unsigned char hello_gz[] = {
		0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd,
		0xc9, 0xc9, 0xd7, 0x51, 0x48, 0x4c, 0x4e, 0x4e, 0xcd, 0x49, 0x2d, 0x4a, 0x2c,
		0xc9, 0x2f, 0xe2, 0x02, 0x00, 0xf4, 0x64, 0x4e, 0x31, 0x13, 0x00, 0x00, 0x00,
	};
	struct fixture *f = *state;
	struct accel_sim_cqe c;

	memcpy(f->region.dus + SRC, hello_gz, sizeof(hello_gz));
	c = run(f, ACCEL_SIM_OP_GUNZIP, 0, 0, SRC, sizeof(hello_gz), DST, 100);
	assert_int_equal(c.status, 0);
	assert_true(c.flags & ACCEL_SIM_CF_STREAM_END);
	assert_int_equal(c.produced, 19);
	assert_memory_equal(f->region.dus + DST, "hello, accelerator\n", 19);

	f->region.dus[SRC + sizeof(hello_gz) - 8] ^= 0x40;	/* the CRC */
	c = run(f, ACCEL_SIM_OP_GUNZIP, 0, 0, SRC, sizeof(hello_gz), DST, 100);
	assert_int_equal(c.status, -EBADMSG);
	memcpy(f->region.dus + SRC, "definitely not gzip", 19);
	c = run(f, ACCEL_SIM_OP_GUNZIP, 0, 0, SRC, 19, DST, 100);
	assert_int_equal(c.status, -EBADMSG);
}

/*
 * A member that ends, by its end or by an error, takes its zlib state with
 * it (some 256 KiB for deflate): a queue between members holds nothing,
 * an open member holds its stream until it ends (issue 12).
 */
static void a_member_that_ends_frees_its_stream(void **state)
{
	struct fixture *f = *state;
	struct accel_sim_cqe c;

	memcpy(f->region.dus + SRC, "hello, accelerator\n", 19);
	c = run(f, ACCEL_SIM_OP_GZIP, ACCEL_SIM_F_FINISH, 6, SRC, 19, DST, 4096);
	assert_int_equal(c.status, 0);
	assert_true(c.flags & ACCEL_SIM_CF_STREAM_END);
	assert_int_equal(f->stream.op, 0);
	assert_null(f->stream.in);

	c = run(f, ACCEL_SIM_OP_GZIP, 0, 6, SRC, 19, DST, 4096);
	assert_int_equal(c.status, 0);
	assert_int_equal(f->stream.op, ACCEL_SIM_OP_GZIP);	/* open: CONTINUE needs it */
	c = run(f, ACCEL_SIM_OP_GZIP, ACCEL_SIM_F_CONTINUE | ACCEL_SIM_F_FINISH, 0, SRC, 0, DST, 4096);
	assert_int_equal(c.status, 0);
	assert_true(c.flags & ACCEL_SIM_CF_STREAM_END);
	assert_int_equal(f->stream.op, 0);
	c = run(f, ACCEL_SIM_OP_GZIP, ACCEL_SIM_F_CONTINUE, 0, SRC, 19, DST, 4096);
	assert_int_equal(c.status, -EINVAL);	/* nothing left to continue */

	memcpy(f->region.dus + SRC, "definitely not gzip", 19);
	c = run(f, ACCEL_SIM_OP_GUNZIP, 0, 0, SRC, 19, DST, 100);
	assert_int_equal(c.status, -EBADMSG);
	assert_int_equal(f->stream.op, 0);
	assert_null(f->stream.in);
}

/*
 * What ended streams held is kept for the next ones, within a bound: a
 * thousand members one after another take no more than one's worth, and
 * nothing is live between them.
 */
static void ended_streams_memory_is_reused_within_a_bound(void **state)
{
	struct fixture *f = *state;
	struct sim_zmem_stats one, after;
	struct accel_sim_cqe c;

	memcpy(f->region.dus + SRC, "hello, accelerator\n", 19);
	c = run(f, ACCEL_SIM_OP_GZIP, ACCEL_SIM_F_FINISH, 6, SRC, 19, DST, 4096);
	assert_int_equal(c.status, 0);
	sim_zmem_get_stats(&one);
	assert_int_equal(one.live, 0);
	assert_true(one.cached > 0 && one.cached <= SIM_ZMEM_CACHE_BYTES);
	for (int i = 0; i < 1000; i++) {
		c = run(f, ACCEL_SIM_OP_GZIP, ACCEL_SIM_F_FINISH, 6, SRC, 19, DST, 4096);
		assert_int_equal(c.status, 0);
	}
	sim_zmem_get_stats(&after);
	assert_int_equal(after.live, 0);
	assert_int_equal(after.cached, one.cached);
}

static void ranges_outside_the_data_area_fault(void **state)
{
	static const struct {
		uint32_t src_off, src_len, dst_off, dst_len;
	} bad[] = {
		{ 0, 16, DST, 16 },				/* the rings */
		{ DATA_OFF - 1, 16, DST, 16 },
		{ DATA_OFF + DATA_SIZE - 8, 16, DST, 16 },	/* runs past the end */
		{ SRC, 16, DATA_OFF + DATA_SIZE, 1 },
		{ 0xfffffff0u, 0x20, DST, 16 },			/* wraps in 32 bits */
		{ SRC, 0xffffffffu, DST, 16 },
		{ SRC, 16, DST, 0xffffffffu },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct accel_sim_cqe c = run(f, ACCEL_SIM_OP_COPY, 0, 0, bad[i].src_off, bad[i].src_len,
					     bad[i].dst_off, bad[i].dst_len);
		if (c.status != -EFAULT)
			fail_msg("case %zu: status %d", i, c.status);
	}
	/* The whole data area, exactly, is fine. */
	assert_int_equal(run(f, ACCEL_SIM_OP_CRC32C, 0, 0, DATA_OFF, DATA_SIZE, DST, 0).status, 0);
}

static void descriptors_not_for_this_queue_are_refused(void **state)
{
	struct fixture *f = *state;
	struct accel_sim_desc d = { .op = ACCEL_SIM_OP_GZIP, .src_offset = SRC, .src_len = 1,
				    .dst_offset = DST, .dst_len = 100 };
	struct accel_sim_cqe c;

	f->region.algorithm = ACCEL_SIM_OP_COPY;
	sim_op_execute(&f->region, &f->stream, &d, &c);
	assert_int_equal(c.status, -EOPNOTSUPP);
	d.op = 99;
	sim_op_execute(&f->region, &f->stream, &d, &c);
	assert_int_equal(c.status, -EOPNOTSUPP);

	assert_int_equal(run(f, ACCEL_SIM_OP_COPY, 1u << 7, 0, SRC, 1, DST, 1).status, -EINVAL);
	assert_int_equal(run(f, ACCEL_SIM_OP_GZIP, 0, 10, SRC, 1, DST, 100).status, -EINVAL);
	assert_int_equal(run(f, ACCEL_SIM_OP_CRC32C, 0, 1ull << 40, SRC, 1, DST, 0).status, -EINVAL);
	/* Nothing to continue on a fresh queue. */
	assert_int_equal(run(f, ACCEL_SIM_OP_GUNZIP, ACCEL_SIM_F_CONTINUE, 0, SRC, 1, DST, 100).status,
			 -EINVAL);
}

static struct sim_op start(struct fixture *f, unsigned op, uint32_t flags, uint64_t arg,
			   uint32_t src_off, uint32_t src_len, uint32_t dst_off, uint32_t dst_len)
{
	struct accel_sim_desc d = {
		.arg = arg, .op = op, .flags = flags,
		.src_offset = src_off, .src_len = src_len, .dst_offset = dst_off, .dst_len = dst_len,
	};
	struct sim_op o;

	f->region.algorithm = op;
	sim_op_start(&f->region, &f->stream, &o, &d);
	return o;
}

/*
 * A turn's budget bounds a step: 2 MiB of crc32c takes 32 steps and
 * chains to the one-shot answer; a level-9 gzip step reads at most 32
 * bytes of source, the slice that costs about 0.25 ms on the worst input.
 */
static void steps_stay_within_their_budget_and_resume(void **state)
{
	struct fixture *f = *state;
	struct sim_op o;
	unsigned steps = 0;

	for (uint32_t i = 0; i < DATA_SIZE; i++)
		f->region.dus[DATA_OFF + i] = (unsigned char)(i * 7 + (i >> 9));
	o = start(f, ACCEL_SIM_OP_CRC32C, 0, 5, DATA_OFF, DATA_SIZE, DST, 0);
	for (bool done = false; !done && steps < 1000; steps++) {
		uint32_t budget = SIM_OP_SLICE_COST;
		done = sim_op_step(&f->region, &f->stream, &o, &budget);
		assert_int_equal(budget, 0);
	}
	assert_int_equal(steps, DATA_SIZE / SIM_OP_SLICE_COST);
	assert_int_equal(o.cqe.status, 0);
	assert_int_equal(o.cqe.value, crc32c(5, f->region.dus + DATA_OFF, DATA_SIZE));

	o = start(f, ACCEL_SIM_OP_GZIP, ACCEL_SIM_F_FINISH, 9, SRC, 100000, DST, DATA_SIZE / 2);
	for (steps = 0; steps < 10; steps++) {
		uint32_t budget = SIM_OP_SLICE_COST, before = o.src_done;
		assert_false(sim_op_step(&f->region, &f->stream, &o, &budget));
		assert_true(o.src_done - before <= 32);
		assert_true(budget < SIM_OP_SLICE_COST);
	}
}

/*
 * zlib reads only the engine's copy: input a step copied but inflate did
 * not take yet (its output was capped) is not read again from the
 * client's memory, so rewriting it there changes nothing (rule 8).
 */
static void gunzip_keeps_unconsumed_input_private_between_steps(void **state)
{
	struct fixture *f = *state;
	unsigned char *zeros = calloc(1, DATA_SIZE / 2);
	uLongf gz_len;
	struct sim_op o;
	uint32_t budget = SIM_OP_SLICE_COST;
	z_stream z = { 0 };
	unsigned steps = 0;

	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = zeros;
	z.avail_in = DATA_SIZE / 2;
	z.next_out = f->region.dus + SRC;
	z.avail_out = 65536;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	gz_len = z.total_out;
	deflateEnd(&z);
	assert_true(gz_len < 4096);	/* one step copies all of it */

	memset(f->region.dus + DST, 0xaa, DATA_SIZE / 2);
	o = start(f, ACCEL_SIM_OP_GUNZIP, 0, 0, SRC, (uint32_t)gz_len, DST, DATA_SIZE / 2);
	assert_false(sim_op_step(&f->region, &f->stream, &o, &budget));
	assert_int_equal(o.src_done, gz_len);
	assert_true(o.cqe.consumed < gz_len);
	memset(f->region.dus + SRC, 0xff, gz_len);	/* the client scribbles */
	while (!o.done && steps++ < 1000) {
		budget = SIM_OP_SLICE_COST;
		sim_op_step(&f->region, &f->stream, &o, &budget);
	}
	assert_int_equal(o.cqe.status, 0);
	assert_true(o.cqe.flags & ACCEL_SIM_CF_STREAM_END);
	assert_int_equal(o.cqe.consumed, gz_len);
	assert_int_equal(o.cqe.produced, DATA_SIZE / 2);
	assert_memory_equal(f->region.dus + DST, zeros, DATA_SIZE / 2);
	free(zeros);
}

/* A copy larger than a step, overlapping either way, ends as memmove would. */
static void copy_in_slices_moves_like_memmove(void **state)
{
	static const int32_t shift[] = { 1000, -1000, 0 };
	const uint32_t len = 3 * SIM_OP_SLICE_COST + 17, base = DATA_OFF + 4096;
	struct fixture *f = *state;
	unsigned char *want = malloc(DATA_SIZE);

	for (size_t k = 0; k < sizeof(shift) / sizeof(shift[0]); k++) {
		for (uint32_t i = 0; i < DATA_SIZE; i++)
			f->region.dus[DATA_OFF + i] = (unsigned char)(i ^ (i >> 8));
		memcpy(want, f->region.dus + DATA_OFF, DATA_SIZE);
		memmove(want + 4096 + shift[k], want + 4096, len);
		struct accel_sim_cqe c = run(f, ACCEL_SIM_OP_COPY, 0, 0, base, len,
					     (uint32_t)((int32_t)base + shift[k]), len);
		assert_int_equal(c.status, 0);
		assert_int_equal(c.produced, len);
		assert_memory_equal(f->region.dus + DATA_OFF, want, DATA_SIZE);
	}
	free(want);
}

static void op_names_round_trip(void **state)
{
	assert_int_equal(sim_op_from_name("gzip"), ACCEL_SIM_OP_GZIP);
	assert_string_equal(sim_op_name(ACCEL_SIM_OP_CRC32C), "crc32c");
	assert_int_equal(sim_op_from_name("zstd"), 0);
	assert_null(sim_op_name(0));
	assert_null(sim_op_name(77));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(copy_copies_and_reports_length, setup, teardown),
		cmocka_unit_test_setup_teardown(crc32c_matches_rfc3720_vectors, setup, teardown),
		cmocka_unit_test_setup_teardown(gzip_output_inflates_to_the_input, setup, teardown),
		cmocka_unit_test_setup_teardown(gzip_stream_spans_operations_and_tiny_outputs, setup, teardown),
		cmocka_unit_test_setup_teardown(gunzip_reads_a_gzip_member_and_refuses_corruption, setup, teardown),
		cmocka_unit_test_setup_teardown(a_member_that_ends_frees_its_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(ended_streams_memory_is_reused_within_a_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(ranges_outside_the_data_area_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(descriptors_not_for_this_queue_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(steps_stay_within_their_budget_and_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(gunzip_keeps_unconsumed_input_private_between_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(copy_in_slices_moves_like_memmove, setup, teardown),
		cmocka_unit_test(op_names_round_trip),
	};

	return cmocka_run_group_tests_name("sim_ops", tests, NULL, NULL);
}

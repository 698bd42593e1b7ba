// SPDX-License-Identifier: MIT
/*
 * The accel_sim_v1 layout is an ABI between the broker, libaccel and the
 * kernel module: pin every field's offset so that a change is deliberate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <accel/sim.h>
#include <cmocka.h>

static void regs_lines_are_split_by_writer(void **state)
{
	assert_int_equal(offsetof(struct accel_sim_regs, magic), 0);
	assert_int_equal(offsetof(struct accel_sim_regs, dus_size), 40);
	assert_int_equal(offsetof(struct accel_sim_regs, features), 44);
	/* One cache line per writer: geometry, device, client. */
	assert_int_equal(offsetof(struct accel_sim_regs, state), 64);
	assert_int_equal(offsetof(struct accel_sim_regs, sq_head), 68);
	assert_int_equal(offsetof(struct accel_sim_regs, cq_tail), 72);
	assert_int_equal(offsetof(struct accel_sim_regs, dev_flags), 76);
	assert_int_equal(offsetof(struct accel_sim_regs, sq_tail), 128);
	assert_int_equal(offsetof(struct accel_sim_regs, cq_head), 132);
	assert_int_equal(offsetof(struct accel_sim_regs, client_flags), 136);
	assert_int_equal(offsetof(struct accel_sim_regs, event_arm), 140);
	assert_true(sizeof(struct accel_sim_regs) <= ACCEL_SIM_MMIO_SIZE);
}

static void descriptor_and_completion_fields_are_pinned(void **state)
{
	assert_int_equal(offsetof(struct accel_sim_desc, user_data), 0);
	assert_int_equal(offsetof(struct accel_sim_desc, arg), 8);
	assert_int_equal(offsetof(struct accel_sim_desc, op), 16);
	assert_int_equal(offsetof(struct accel_sim_desc, flags), 20);
	assert_int_equal(offsetof(struct accel_sim_desc, src_offset), 24);
	assert_int_equal(offsetof(struct accel_sim_desc, src_len), 28);
	assert_int_equal(offsetof(struct accel_sim_desc, dst_offset), 32);
	assert_int_equal(offsetof(struct accel_sim_desc, dst_len), 36);
	assert_int_equal(offsetof(struct accel_sim_cqe, user_data), 0);
	assert_int_equal(offsetof(struct accel_sim_cqe, value), 8);
	assert_int_equal(offsetof(struct accel_sim_cqe, status), 16);
	assert_int_equal(offsetof(struct accel_sim_cqe, flags), 20);
	assert_int_equal(offsetof(struct accel_sim_cqe, consumed), 24);
	assert_int_equal(offsetof(struct accel_sim_cqe, produced), 28);
}

static void dus_layout_fits(void **state)
{
	assert_int_equal(ACCEL_SIM_SQ_OFFSET, 0);
	assert_int_equal(ACCEL_SIM_CQ_OFFSET, ACCEL_SIM_RING_ENTRIES * 48);
	assert_true(ACCEL_SIM_CQ_OFFSET + ACCEL_SIM_RING_ENTRIES * 32 <= ACCEL_SIM_DATA_OFFSET);
	assert_int_equal(ACCEL_SIM_DATA_OFFSET % 4096, 0);
	assert_int_equal(ACCEL_SIM_DUS_SIZE, ACCEL_SIM_DATA_OFFSET + ACCEL_SIM_DATA_SIZE);
	/* Offsets and lengths are 32-bit in the descriptor. */
	assert_true((unsigned long long)ACCEL_SIM_DUS_SIZE < (1ull << 32));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(regs_lines_are_split_by_writer),
		cmocka_unit_test(descriptor_and_completion_fields_are_pinned),
		cmocka_unit_test(dus_layout_fits),
	};

	return cmocka_run_group_tests_name("sim_abi", tests, NULL, NULL);
}

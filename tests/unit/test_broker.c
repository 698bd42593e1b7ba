// SPDX-License-Identifier: MIT
/* The core with the sim backend: device choice, quotas and ownership. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"
#include "broker.h"
#include "device.h"
#include "log.h"
#include "sim_engine.h"

struct fixture {
	struct broker b;
	struct policy policy;
	struct sim_engine *engine;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	log_set_level(LOG_ERR);
	broker_init(&f->b, &(struct broker_limits){ .max_connections_per_user = 4,
						    .max_connections = 8, .admin_gid = -1 }, NULL);
	policy_init(&f->policy, 5);
	broker_set_policy(&f->b, &f->policy, false);
	assert_int_equal(sim_engine_create(1, &f->engine), 0);
	assert_int_equal(backend_sim_add_devices(&f->b, f->engine, 2, 3), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	broker_finish(&f->b);
	sim_engine_destroy(f->engine);
	policy_finish(&f->policy);
	free(f);
	return 0;
}

static int acquire(struct fixture *f, uid_t uid, void *owner, const char *alg, const char *dev,
		   struct queue **q, struct accel_error *e)
{
	struct peer p = { .uid = uid, .gid = uid, .pid = 100 };

	return broker_acquire(&f->b, &p, owner, &(struct acquire_request){ alg, dev, -1 }, q, e);
}

static void queues_spread_over_the_freest_device(void **state)
{
	struct fixture *f = *state;
	struct accel_error e = { 0 };
	struct queue *q1, *q2, *q3;
	int owner;

	assert_int_equal(acquire(f, 1000, &owner, "gzip", NULL, &q1, &e), 0);
	assert_int_equal(acquire(f, 1000, &owner, "gzip", NULL, &q2, &e), 0);
	assert_string_not_equal(q1->device->name, q2->device->name);
	assert_int_equal(acquire(f, 1000, &owner, "copy", "accel_sim-1", &q3, &e), 0);
	assert_string_equal(q3->device->name, "accel_sim-1");
	assert_true(q1->id < q2->id && q2->id < q3->id);
	assert_true(q1->fd >= 0);
	assert_int_equal(q1->n_regions, 2);
	assert_string_equal(q1->regions[0].type, "mmio");
	assert_int_equal(q1->regions[0].offset, 0);
	assert_string_equal(q1->regions[1].type, "dus");
	assert_int_equal(q1->regions[1].offset, q1->regions[0].size);
}

static void per_user_quota_holds_and_frees(void **state)
{
	struct fixture *f = *state;
	struct accel_error e = { 0 };
	struct peer p = { .uid = 1000 };
	struct queue *q[6];
	int owner, other_owner;

	for (int i = 0; i < 5; i++)
		assert_int_equal(acquire(f, 1000, &owner, "copy", NULL, &q[i], &e), 0);
	assert_int_equal(acquire(f, 1000, &owner, "copy", NULL, &q[5], &e), -EDQUOT);
	assert_string_equal(e.name, ERR_QUOTA_EXCEEDED);
	/* Another user is not affected. */
	assert_int_equal(acquire(f, 1001, &other_owner, "copy", NULL, &q[5], &e), 0);
	assert_int_equal(broker_release(&f->b, &p, &owner, q[0]->id, &e), 0);
	assert_int_equal(acquire(f, 1000, &owner, "copy", NULL, &q[0], &e), 0);
	assert_int_equal(broker_user_queues(&f->b, 1000), 5);
}

static void devices_run_out_of_queues(void **state)
{
	struct fixture *f = *state;
	struct accel_error e = { 0 };
	struct queue *q;
	int owner;

	for (uid_t uid = 1; uid <= 6; uid++)
		assert_int_equal(acquire(f, uid, &owner, "crc32c", NULL, &q, &e), 0);
	assert_int_equal(acquire(f, 7, &owner, "crc32c", NULL, &q, &e), -EBUSY);
	assert_string_equal(e.name, ERR_NO_DEVICE_AVAILABLE);
}

static void only_the_owning_connection_releases(void **state)
{
	struct fixture *f = *state;
	struct accel_error e = { 0 };
	struct peer same = { .uid = 1000 }, other = { .uid = 1001 }, root = { .uid = 0, .admin = true };
	struct queue *q;
	int owner, another;
	uint64_t id;

	assert_int_equal(acquire(f, 1000, &owner, "gzip", NULL, &q, &e), 0);
	id = q->id;
	assert_int_equal(broker_release(&f->b, &other, &another, id, &e), -ENOENT);
	assert_string_equal(e.name, ERR_NO_SUCH_QUEUE);	/* others do not learn it exists */
	assert_int_equal(broker_release(&f->b, &same, &another, id, &e), -EACCES);
	assert_string_equal(e.name, ERR_PERMISSION_DENIED);
	assert_int_equal(broker_release(&f->b, &root, &another, id, &e), -EACCES);
	assert_int_equal(broker_release(&f->b, &same, &owner, id, &e), 0);
	assert_int_equal(broker_release(&f->b, &same, &owner, id, &e), -ENOENT);
	assert_int_equal(broker_release(&f->b, &same, &owner, 999999, &e), -ENOENT);
}

static void owner_going_away_releases_all_it_held(void **state)
{
	struct fixture *f = *state;
	struct accel_error e = { 0 };
	struct queue *q;
	int a, b;

	for (int i = 0; i < 3; i++)
		assert_int_equal(acquire(f, 1000, &a, "copy", NULL, &q, &e), 0);
	assert_int_equal(acquire(f, 1000, &b, "copy", NULL, &q, &e), 0);
	broker_release_holder(&f->b, &a);
	assert_int_equal(broker_active_queues(&f->b), 1);
	assert_int_equal(device_queues_free(broker_find_device(&f->b, "accel_sim-0")) +
			 device_queues_free(broker_find_device(&f->b, "accel_sim-1")), 5);
}

static void queue_ids_are_never_reused(void **state)
{
	struct fixture *f = *state;
	struct accel_error e = { 0 };
	struct peer p = { .uid = 1 };
	struct queue *q;
	uint64_t last = 0;
	int owner;

	for (int i = 0; i < 50; i++) {
		assert_int_equal(acquire(f, 1, &owner, "copy", NULL, &q, &e), 0);
		assert_true(q->id > last);
		last = q->id;
		assert_int_equal(broker_release(&f->b, &p, &owner, q->id, &e), 0);
	}
}

static void visibility_is_own_queues_or_root(void **state)
{
	struct queue q = { .uid = 1000 };

	assert_true(broker_may_see(&(struct peer){ .uid = 1000 }, &q));
	assert_true(broker_may_see(&(struct peer){ .uid = 0, .admin = true }, &q));
	assert_true(broker_may_see(&(struct peer){ .uid = 1002, .admin = true }, &q));
	assert_false(broker_may_see(&(struct peer){ .uid = 1001 }, &q));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(queues_spread_over_the_freest_device, setup, teardown),
		cmocka_unit_test_setup_teardown(per_user_quota_holds_and_frees, setup, teardown),
		cmocka_unit_test_setup_teardown(devices_run_out_of_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(only_the_owning_connection_releases, setup, teardown),
		cmocka_unit_test_setup_teardown(owner_going_away_releases_all_it_held, setup, teardown),
		cmocka_unit_test_setup_teardown(queue_ids_are_never_reused, setup, teardown),
		cmocka_unit_test(visibility_is_own_queues_or_root),
	};

	return cmocka_run_group_tests_name("broker", tests, NULL, NULL);
}

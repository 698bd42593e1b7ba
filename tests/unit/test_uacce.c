// SPDX-License-Identifier: MIT
/*
 * The uacce backend on fake sysfs trees: attribute parsing (good, missing,
 * malformed, oversized), discovery, and what acquiring from such devices
 * gives through the core (SVA refused, a node that is not a uacce device).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"
#include "broker.h"
#include "device.h"
#include "log.h"
#include "sysfs.h"

struct tree {
	char root[64];		/* sysfs root */
	char dev[64];		/* dev root */
};

static void put(const char *dir, const char *name, const char *content)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

/* A device directory with every attribute a 6.x kernel shows. */
static void add_device(struct tree *t, const char *name, const char *flags, const char *avail)
{
	char dir[256], sub[300];

	snprintf(dir, sizeof(dir), "%s/%s", t->root, name);
	assert_int_equal(mkdir(dir, 0755), 0);
	put(dir, "api", "hisi_qm_v2\n");
	put(dir, "algorithms", "zlib\ngzip\n");
	put(dir, "flags", flags);
	put(dir, "available_instances", avail);
	put(dir, "region_mmio_size", "16384\n");
	put(dir, "region_dus_size", "4096000\n");
	put(dir, "isolate", "0\n");
	snprintf(sub, sizeof(sub), "%s/device", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	put(sub, "numa_node", "1\n");
	put(t->dev, name, "");	/* a regular file, not a uacce node */
}

static int setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	strcpy(t->root, "/tmp/accel-uacce-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	strcpy(t->dev, "/tmp/accel-dev-XXXXXX");
	assert_non_null(mkdtemp(t->dev));
	log_set_level(LOG_CRIT);	/* the skipped devices are expected */
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tree *t = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", t->root, t->dev);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

static int rootfd(struct tree *t)
{
	int fd = open(t->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void complete_device_is_read(void **state)
{
	struct tree *t = *state;
	struct uacce_info info;
	char why[128] = "";
	int fd;

	add_device(t, "hisi_zip-0", "0\n", "6\n");
	fd = rootfd(t);
	assert_int_equal(uacce_info_read(fd, "hisi_zip-0", &info, why, sizeof(why)), 0);
	assert_string_equal(info.api, "hisi_qm_v2");
	assert_string_equal(info.algorithms, "zlib\ngzip");
	assert_int_equal(info.flags, 0);
	assert_int_equal(info.available_instances, 6);
	assert_int_equal(info.region_mmio_size, 16384);
	assert_int_equal(info.region_dus_size, 4096000);
	assert_int_equal(info.numa_node, 1);
	assert_false(info.isolated);
	close(fd);
}

static void optional_attributes_may_be_missing(void **state)
{
	struct tree *t = *state;
	struct uacce_info info;
	char why[128], path[512];
	int fd;

	add_device(t, "old-0", "1\n", "2\n");
	snprintf(path, sizeof(path), "%s/old-0/isolate", t->root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/old-0/device/numa_node", t->root);
	unlink(path);
	fd = rootfd(t);
	assert_int_equal(uacce_info_read(fd, "old-0", &info, why, sizeof(why)), 0);
	assert_int_equal(info.numa_node, -1);
	assert_int_equal(info.flags, 1);
	close(fd);
}

static void malformed_attributes_are_refused_with_a_reason(void **state)
{
	static const struct {
		const char *attr, *content, *why;
	} cases[] = {
		{ "available_instances", "12abc\n", "available_instances: not a number" },
		{ "available_instances", "\n", "available_instances: not a number" },
		{ "flags", "-1\n", "flags: not a number" },
		{ "flags", "0x100000000\n", "flags: out of range" },
		{ "region_dus_size", "99999999999999999999999\n", "region_dus_size: not a number" },
		{ "api", "", "api: No data available" },
		{ "algorithms", "\n", "algorithms: No data available" },
		{ "isolate", "maybe\n", "isolate: not a number" },
		{ "device/numa_node", "one\n", "device/numa_node: not a number" },
	};
	struct tree *t = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32], dir[300], why[128] = "";
		struct uacce_info info;
		int fd;

		snprintf(name, sizeof(name), "bad-%zu", i);
		add_device(t, name, "0\n", "1\n");
		snprintf(dir, sizeof(dir), "%s/%s", t->root, name);
		put(dir, cases[i].attr, cases[i].content);
		fd = rootfd(t);
		assert_true(uacce_info_read(fd, name, &info, why, sizeof(why)) < 0);
		if (strcmp(why, cases[i].why) != 0)
			fail_msg("%s=\"%s\": why \"%s\", want \"%s\"", cases[i].attr, cases[i].content, why,
				 cases[i].why);
		close(fd);
	}
}

static void missing_and_oversized_attributes_are_refused(void **state)
{
	struct tree *t = *state;
	char dir[300], why[128], *big;
	struct uacce_info info;
	int fd;

	add_device(t, "nomm-0", "0\n", "1\n");
	snprintf(dir, sizeof(dir), "%s/nomm-0/region_mmio_size", t->root);
	unlink(dir);
	add_device(t, "big-0", "0\n", "1\n");
	big = malloc(SYSFS_ATTR_MAX + 10);
	memset(big, 'a', SYSFS_ATTR_MAX + 9);
	big[SYSFS_ATTR_MAX + 9] = '\0';
	snprintf(dir, sizeof(dir), "%s/big-0", t->root);
	put(dir, "algorithms", big);
	free(big);
	fd = rootfd(t);
	assert_int_equal(uacce_info_read(fd, "nomm-0", &info, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, "region_mmio_size: No such file or directory");
	assert_int_equal(uacce_info_read(fd, "big-0", &info, why, sizeof(why)), -EFBIG);
	close(fd);
}

static const struct broker_limits limits = {
	.max_connections_per_user = 64, .max_connections = 64,
	.admin_gid = -1,
};

static void discovery_keeps_good_devices_and_skips_the_rest(void **state)
{
	struct tree *t = *state;
	struct broker b;
	struct device *d;
	char dir[300];

	add_device(t, "hisi_zip-0", "0\n", "6\n");
	add_device(t, "hisi_sec2-0", "1\n", "4\n");	/* SVA */
	add_device(t, "broken-0", "0\n", "x\n");
	add_device(t, "isolated-0", "0\n", "3\n");
	snprintf(dir, sizeof(dir), "%s/isolated-0", t->root);
	put(dir, "isolate", "1\n");
	broker_init(&b, &limits, NULL);
	assert_int_equal(backend_uacce_add_devices(&b, t->root, t->dev), 2);
	d = broker_find_device(&b, "hisi_zip-0");
	assert_non_null(d);
	assert_string_equal(d->ops->name, "uacce");
	assert_false(d->sva);
	assert_int_equal(d->queues_total, 6);
	assert_int_equal(device_queues_free(d), 6);
	assert_int_equal(d->numa_node, 1);
	assert_true(device_has_algorithm(d, "gzip"));
	assert_false(device_has_algorithm(d, "copy"));
	d = broker_find_device(&b, "hisi_sec2-0");
	assert_non_null(d);
	assert_true(d->sva);
	assert_null(broker_find_device(&b, "broken-0"));
	assert_null(broker_find_device(&b, "isolated-0"));
	/* available_instances is read live */
	snprintf(dir, sizeof(dir), "%s/hisi_zip-0", t->root);
	put(dir, "available_instances", "2\n");
	assert_int_equal(device_queues_free(broker_find_device(&b, "hisi_zip-0")), 2);
	broker_finish(&b);
}

static void missing_sysfs_root_means_no_devices(void **state)
{
	struct broker b;

	broker_init(&b, &limits, NULL);
	assert_int_equal(backend_uacce_add_devices(&b, "/nonexistent/uacce", "/dev"), 0);
	broker_finish(&b);
}

static void acquire_names_what_went_wrong(void **state)
{
	struct tree *t = *state;
	struct peer peer = { .uid = 1000, .gid = 1000, .pid = 1 };
	struct accel_error e = { 0 };
	struct broker b;
	struct queue *q;
	char dir[300];
	int owner;

	add_device(t, "sva-0", "1\n", "4\n");
	snprintf(dir, sizeof(dir), "%s/sva-0", t->root);
	put(dir, "algorithms", "sm4\n");
	add_device(t, "zip-0", "0\n", "4\n");
	broker_init(&b, &limits, NULL);
	assert_int_equal(backend_uacce_add_devices(&b, t->root, t->dev), 2);

	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ "sm4", NULL, -1 },
					&q, &e), -EXDEV);
	assert_string_equal(e.name, ERR_SVA_NOT_SUPPORTED);
	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ "zstd", NULL, -1 },
					&q, &e), -EOPNOTSUPP);
	assert_string_equal(e.name, ERR_NO_SUCH_ALGORITHM);
	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ "gzip", "nope-0", -1 },
					&q, &e), -ENODEV);
	assert_string_equal(e.name, ERR_NO_SUCH_DEVICE);
	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ "gzip", NULL, 3 },
					&q, &e), -EBUSY);
	assert_string_equal(e.name, ERR_NO_DEVICE_AVAILABLE);
	assert_non_null(strstr(e.message, "NUMA node 3"));
	/* The node is a regular file: START_Q fails, and nothing is held. */
	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ "gzip", NULL, 1 },
					&q, &e), -EBUSY);
	assert_non_null(strstr(e.message, "could not start a queue on zip-0"));
	assert_int_equal(broker_active_queues(&b), 0);
	broker_finish(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(complete_device_is_read, setup, teardown),
		cmocka_unit_test_setup_teardown(optional_attributes_may_be_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_attributes_are_refused_with_a_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_and_oversized_attributes_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(discovery_keeps_good_devices_and_skips_the_rest, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_sysfs_root_means_no_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(acquire_names_what_went_wrong, setup, teardown),
	};

	return cmocka_run_group_tests_name("uacce", tests, NULL, NULL);
}

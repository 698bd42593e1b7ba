// SPDX-License-Identifier: MIT
/*
 * The uacce backend on fake sysfs trees: attribute parsing (good, missing,
 * malformed, oversized), discovery, and what acquiring from such devices
 * gives through the core (SVA refused without the kernel's bind_mm and
 * revoke, served unstarted with them; a node that is not a uacce device).
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"
#include "broker.h"
#include "device.h"
#include "log.h"
#include "sysfs.h"
#include "uacce_features.h"

struct tree {
	char root[64];		/* sysfs root */
	char dev[64];		/* dev root */
};


/* What the service does at start: the devices the uacce backend finds, handed to the broker. */
static int add_uacce_devices(struct broker *b, const char *sysfs_root, const char *dev_root)
{
	struct device_changes found;
	int r = backend_uacce_rescan(&b->devices, sysfs_root, dev_root, &found);
	unsigned n = broker_apply_device_changes(b, &found);

	return r < 0 ? r : (int)n;
}
/* What a listing shows as @d's free queues. */
static unsigned queues_free(struct device *d)
{
	unsigned n;

	(void)device_queues_free(d, &n, NULL);
	return n;
}

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
	put(dir, "features", "bind_mm revoke\n");
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
	assert_int_equal(info.features, UACCE_FEAT_BIND_MM | UACCE_FEAT_REVOKE);
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
	snprintf(path, sizeof(path), "%s/old-0/features", t->root);
	unlink(path);
	fd = rootfd(t);
	assert_int_equal(uacce_info_read(fd, "old-0", &info, why, sizeof(why)), 0);
	assert_int_equal(info.numa_node, -1);
	assert_int_equal(info.features, 0);	/* mainline: no attribute, no features */
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
		{ "features", "bind_mm  revoke\n", "features: malformed" },
		{ "features", "Bind_MM\n", "features: malformed" },
		{ "features", "bind_mm,revoke\n", "features: malformed" },
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

static void features_attribute_is_parsed_strictly(void **state)
{
	static const struct {
		const char *s;
		int r;
		unsigned features;
	} cases[] = {
		{ "", 0, 0 },
		{ "bind_mm", 0, UACCE_FEAT_BIND_MM },
		{ "revoke", 0, UACCE_FEAT_REVOKE },
		{ "bind_mm revoke", 0, UACCE_FEAT_BIND_MM | UACCE_FEAT_REVOKE },
		{ "revoke bind_mm", 0, UACCE_FEAT_BIND_MM | UACCE_FEAT_REVOKE },
		{ "revoke future_thing2 bind_mm", 0, UACCE_FEAT_BIND_MM | UACCE_FEAT_REVOKE },
		{ "bind_mmx", 0, 0 },		/* another word, not ours */
		{ " bind_mm", -EINVAL, 0 },
		{ "bind_mm ", -EINVAL, 0 },
		{ "bind_mm  revoke", -EINVAL, 0 },
		{ "bind_mm\trevoke", -EINVAL, 0 },
		{ "bind_mm\nrevoke", -EINVAL, 0 },
		{ "BIND_MM", -EINVAL, 0 },
		{ "bind-mm", -EINVAL, 0 },
		{ " ", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned f = 0xff;
		int r = uacce_features_parse(cases[i].s, &f);
		if (r != cases[i].r || f != cases[i].features)
			fail_msg("\"%s\": %d %#x, want %d %#x", cases[i].s, r, f, cases[i].r, cases[i].features);
	}
}

static void serving_follows_the_kernel_features(void **state)
{
	struct uacce_serving s;

	(void)state;
	uacce_serving_decide(false, 0, &s);	/* mainline, non-SVA: served, PUT_Q only */
	assert_false(s.revocable);
	assert_false(s.bind_client);
	assert_string_equal(s.refused, "");
	uacce_serving_decide(false, UACCE_FEAT_REVOKE, &s);
	assert_true(s.revocable);
	assert_false(s.bind_client);
	uacce_serving_decide(true, UACCE_FEAT_BIND_MM | UACCE_FEAT_REVOKE, &s);
	assert_true(s.revocable);
	assert_true(s.bind_client);
	assert_string_equal(s.refused, "");
	uacce_serving_decide(true, 0, &s);
	assert_false(s.bind_client);
	assert_non_null(strstr(s.refused, "UACCE_CMD_BIND_MM (bind_mm) and UACCE_CMD_REVOKE (revoke)"));
	uacce_serving_decide(true, UACCE_FEAT_BIND_MM, &s);
	assert_false(s.bind_client);
	assert_null(strstr(s.refused, "bind_mm"));
	assert_non_null(strstr(s.refused, "UACCE_CMD_REVOKE (revoke)"));
	uacce_serving_decide(true, UACCE_FEAT_REVOKE, &s);
	assert_false(s.bind_client);
	assert_non_null(strstr(s.refused, "UACCE_CMD_BIND_MM (bind_mm)"));
	assert_null(strstr(s.refused, "revoke)"));
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
	assert_int_equal(add_uacce_devices(&b, t->root, t->dev), 2);
	d = broker_find_device(&b, "hisi_zip-0");
	assert_non_null(d);
	assert_string_equal(d->ops->name, "uacce");
	assert_false(d->sva);
	assert_int_equal(d->queues_total, 6);
	assert_int_equal(queues_free(d), 6);
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
	assert_int_equal(queues_free(broker_find_device(&b, "hisi_zip-0")), 2);
	broker_finish(&b);
}

static void missing_sysfs_root_means_no_devices(void **state)
{
	struct broker b;

	broker_init(&b, &limits, NULL);
	assert_int_equal(add_uacce_devices(&b, "/nonexistent/uacce", "/dev"), 0);
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
	strcat(dir, "/features");
	unlink(dir);	/* a mainline kernel */
	add_device(t, "zip-0", "0\n", "4\n");
	broker_init(&b, &limits, NULL);
	assert_int_equal(add_uacce_devices(&b, t->root, t->dev), 2);

	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ "sm4", NULL, -1 },
					&q, &e), -EXDEV);
	assert_string_equal(e.name, ERR_SVA_NOT_SUPPORTED);
	assert_non_null(strstr(e.message, "UACCE_CMD_BIND_MM (bind_mm) and UACCE_CMD_REVOKE (revoke)"));
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

/*
 * Out of descriptors, the broker cannot read how many queues a device has
 * free: that is its own shortage (OutOfResources), not a busy device.  A
 * count the device does not give is its failure, named as such.
 */
static void free_queues_unreadable_for_want_of_fds_is_out_of_resources(void **state)
{
	struct tree *t = *state;
	struct peer peer = { .uid = 1000, .gid = 1000, .pid = 1 };
	const struct acquire_request gzip = { "gzip", NULL, -1 };
	struct accel_error e = { 0 };
	struct rlimit saved, lim;
	struct broker b;
	struct queue *q;
	char path[300];
	int owner, fd, r;

	add_device(t, "zip-0", "0\n", "4\n");
	broker_init(&b, &limits, NULL);
	assert_int_equal(add_uacce_devices(&b, t->root, t->dev), 1);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	fd = dup(STDIN_FILENO);	/* the lowest free descriptor: none left at or above it */
	assert_true(fd >= 0);
	close(fd);
	lim = saved;
	lim.rlim_cur = (rlim_t)fd;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	r = broker_acquire(&b, &peer, &owner, &gzip, &q, &e);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	assert_int_equal(r, -ENOMEM);
	assert_string_equal(e.name, ERR_OUT_OF_RESOURCES);
	assert_non_null(strstr(e.message, "could not read the free queues of zip-0"));

	snprintf(path, sizeof(path), "%s/zip-0/available_instances", t->root);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(broker_acquire(&b, &peer, &owner, &gzip, &q, &e), -EBUSY);
	assert_string_equal(e.name, ERR_NO_DEVICE_AVAILABLE);
	assert_non_null(strstr(e.message, "could not read the free queues of zip-0"));
	assert_int_equal(broker_active_queues(&b), 0);
	broker_finish(&b);
}

/*
 * With bind_mm and revoke an SVA device is served, and its queue is handed
 * over unstarted: the node here is a regular file, on which START_Q would
 * fail (as it does for the non-SVA device next to it).  Without revoke it is
 * refused, naming what the kernel lacks.
 */
static void sva_device_is_served_unstarted_where_the_kernel_can_bind_and_revoke(void **state)
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
	add_device(t, "sva-1", "1\n", "4\n");
	snprintf(dir, sizeof(dir), "%s/sva-1", t->root);
	put(dir, "algorithms", "sm3\n");
	put(dir, "features", "bind_mm\n");
	add_device(t, "plain-0", "0\n", "4\n");
	broker_init(&b, &limits, NULL);
	assert_int_equal(add_uacce_devices(&b, t->root, t->dev), 3);
	assert_true(broker_find_device(&b, "sva-0")->bind_client);
	assert_true(broker_find_device(&b, "sva-0")->revocable);
	assert_false(broker_find_device(&b, "plain-0")->bind_client);

	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ "sm4", NULL, -1 },
					&q, &e), 0);
	assert_true(q->fd >= 0);
	assert_string_equal(device_bind_to_string(q->device), "client");
	assert_int_equal(broker_active_queues(&b), 1);	/* counted like any other */
	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ "gzip", "plain-0", -1 },
					&q, &e), -EBUSY);
	assert_non_null(strstr(e.message, "could not start a queue on plain-0"));
	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ "sm3", NULL, -1 },
					&q, &e), -EXDEV);
	assert_string_equal(e.name, ERR_SVA_NOT_SUPPORTED);
	assert_non_null(strstr(e.message, "sva-1: "));
	assert_non_null(strstr(e.message, "UACCE_CMD_REVOKE"));
	broker_finish(&b);
}

/*
 * A claimed SVA queue is bound to the giver's address space: the receiver
 * gets a fresh queue (a new open), even within one uid.
 */
static void claimed_sva_queue_is_a_fresh_one(void **state)
{
	struct tree *t = *state;
	struct peer giver = { .uid = 1000, .gid = 1000, .pid = 1 };
	struct peer receiver = { .uid = 1000, .gid = 1000, .pid = 2 };
	char token[QUEUE_TOKEN_LEN + 1];
	struct accel_error e = { 0 };
	struct broker b;
	struct queue *q, *claimed;
	int holder_a, holder_b, old_fd;
	char dir[300];

	struct broker_limits with_transfers = limits;

	with_transfers.transfer_timeout_usec = 60000000;
	add_device(t, "sva-0", "1\n", "4\n");
	snprintf(dir, sizeof(dir), "%s/sva-0", t->root);
	put(dir, "algorithms", "sm4\n");
	broker_init(&b, &with_transfers, NULL);
	assert_int_equal(add_uacce_devices(&b, t->root, t->dev), 1);
	assert_int_equal(broker_acquire(&b, &giver, &holder_a, &(struct acquire_request){ "sm4", NULL, -1 },
					&q, &e), 0);
	old_fd = q->fd;
	assert_int_equal(broker_transfer(&b, &giver, &holder_a, q->id, token, &e), 0);
	assert_int_equal(broker_claim(&b, &receiver, &holder_b, token, NULL, NULL, &claimed, &e), 0);
	assert_ptr_equal(claimed, q);
	assert_true(claimed->fd >= 0);
	assert_int_not_equal(claimed->fd, old_fd);	/* opened while the old one was still open */
	assert_true(broker_counts_match(&b));
	broker_finish(&b);
}

/*
 * After a restart the fd store hands back an SVA queue as any other: the
 * device's node (here a link to /dev/null, a character device) is checked,
 * the queue counted; something else is refused.
 */
static void sva_queue_is_adopted_after_a_restart(void **state)
{
	struct tree *t = *state;
	struct accel_error e = { 0 };
	struct broker b;
	struct queue *q;
	char dir[300], node[300], file[320];
	int fd;

	add_device(t, "sva-0", "1\n", "4\n");
	snprintf(dir, sizeof(dir), "%s/sva-0", t->root);
	put(dir, "algorithms", "sm4\n");
	snprintf(node, sizeof(node), "%s/sva-0", t->dev);
	assert_int_equal(unlink(node), 0);
	assert_int_equal(symlink("/dev/null", node), 0);
	broker_init(&b, &limits, NULL);
	assert_int_equal(add_uacce_devices(&b, t->root, t->dev), 1);

	q = calloc(1, sizeof(*q));
	*q = (struct queue){ .id = 7, .uid = 1000, .gid = 1000, .pid = 1,
			     .terms = { LIFETIME_CONNECTION, FORK_DENY, TRANSFER_SAME_USER } };
	strcpy(q->algorithm, "sm4");
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_int_equal(broker_adopt(&b, q, "sva-0", fd, -1, NULL, 0, &e), 0);
	assert_int_equal(broker_active_queues(&b), 1);
	assert_true(q->device->bind_client);
	assert_int_equal(q->n_regions, 2);
	assert_true(broker_counts_match(&b));

	q = calloc(1, sizeof(*q));
	*q = (struct queue){ .id = 8, .uid = 1000, .gid = 1000, .pid = 1 };
	strcpy(q->algorithm, "sm4");
	snprintf(file, sizeof(file), "%s/api", dir);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	assert_true(broker_adopt(&b, q, "sva-0", fd, -1, NULL, 0, &e) < 0);
	assert_string_equal(e.name, ERR_NO_SUCH_QUEUE);
	free(q);
	assert_int_equal(broker_active_queues(&b), 1);
	broker_finish(&b);
}

/*
 * A raw queue (no algorithm: accel-run's programs set it up with their own
 * driver) goes out as open() made it: nothing set up, not started.  The
 * node here is a regular file, on which START_Q would fail.  It needs a
 * device, and counts like any queue.
 */
static void raw_queue_is_handed_out_as_opened(void **state)
{
	struct tree *t = *state;
	struct peer peer = { .uid = 1000, .gid = 1000, .pid = 1 };
	struct accel_error e = { 0 };
	struct broker b;
	struct queue *q;
	int owner;

	add_device(t, "plain-0", "0\n", "4\n");
	broker_init(&b, &limits, NULL);
	assert_int_equal(add_uacce_devices(&b, t->root, t->dev), 1);
	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ NULL, "plain-0", -1 },
					&q, &e), 0);
	assert_true(q->fd >= 0);
	assert_string_equal(q->algorithm, "");
	assert_int_equal(q->n_regions, 2);
	assert_int_equal(broker_user_queues(&b, 1000), 1);
	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ NULL, NULL, -1 },
					&q, &e), -EINVAL);
	assert_string_equal(e.name, ERR_INVALID_PARAMETER);
	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ NULL, "plain-9", -1 },
					&q, &e), -ENODEV);
	assert_true(broker_counts_match(&b));
	broker_finish(&b);
}

static void parse(struct policy *p, const char *section, const char *key, const char *value)
{
	char err[256];

	assert_int_equal(policy_parse(p, section, key, value, "test", err, sizeof(err)), 1);
}

/*
 * A raw queue can run any algorithm of its device, so it counts against
 * each max_queues.ALG: it is refused when one of its device's algorithms
 * is at its limit, and it takes room from every algorithm limit.
 */
static void raw_queue_counts_against_every_algorithm_limit(void **state)
{
	struct tree *t = *state;
	struct peer peer = { .uid = 1000, .gid = 1000, .pid = 1 };
	struct accel_error e = { 0 };
	struct policy policy, shrunk;
	struct quota quota;
	struct broker b;
	struct queue *q, *raw;
	int owner;

	add_device(t, "zip-0", "0\n", "4\n");	/* zlib gzip */
	policy_init(&policy, 8);
	parse(&policy, "defaults", "max_queues.gzip", "1");
	broker_init(&b, &limits, NULL);
	broker_set_policy(&b, &policy, false);
	assert_int_equal(add_uacce_devices(&b, t->root, t->dev), 1);
	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ NULL, "zip-0", -1 },
					&raw, &e), 0);
	/* gzip's one queue is the raw one. */
	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ "gzip", NULL, -1 },
					&q, &e), -EDQUOT);
	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ NULL, "zip-0", -1 },
					&q, &e), -EDQUOT);
	assert_non_null(strstr(e.message, "gzip"));
	assert_int_equal(broker_get_quota(&b, &peer, NULL, NULL, &quota, &e), 0);
	for (unsigned i = 0; i < quota.n_lines; i++)
		if (strcmp(quota.lines[i].key, "max_queues.gzip") == 0)
			assert_int_equal(quota.lines[i].used, 1);
	free(quota.lines);
	free(quota.restrictions);
	assert_int_equal(broker_release(&b, &peer, &owner, raw->id, &e), 0);
	assert_int_equal(broker_acquire(&b, &peer, &owner, &(struct acquire_request){ NULL, "zip-0", -1 },
					&raw, &e), 0);
	assert_true(broker_counts_match(&b));
	/* A reload that leaves no room for zlib takes the raw queue back: it could run zlib. */
	policy_init(&shrunk, 8);
	parse(&shrunk, "defaults", "max_queues.zlib", "0");
	assert_int_equal(broker_set_policy(&b, &shrunk, true), 1);
	assert_int_equal(broker_active_queues(&b), 0);
	assert_true(broker_counts_match(&b));
	broker_finish(&b);
	policy_finish(&policy);
	policy_finish(&shrunk);
}

/*
 * A raw queue claimed by another process of its user: the claim does not
 * count the claimed queue against its receiver (transfer.c's check of
 * every max_queues.ALG, enforce.c), though the raw queue is the one queue
 * gzip's limit allows.
 */
static void raw_queue_may_be_claimed_at_an_algorithm_limit(void **state)
{
	struct tree *t = *state;
	struct broker_limits timed = limits;
	struct peer giver = { .uid = 1000, .gid = 1000, .pid = 1 };
	struct peer receiver = { .uid = 1000, .gid = 1000, .pid = 2 };
	char token[QUEUE_TOKEN_LEN + 1];
	struct accel_error e = { 0 };
	struct policy policy;
	struct broker b;
	struct queue *raw, *claimed;
	int giver_holder, receiver_holder;

	add_device(t, "zip-0", "0\n", "4\n");	/* zlib gzip */
	policy_init(&policy, 8);
	parse(&policy, "defaults", "max_queues.gzip", "1");
	timed.transfer_timeout_usec = 60 * 1000000ull;
	broker_init(&b, &timed, NULL);
	broker_set_policy(&b, &policy, false);
	assert_int_equal(add_uacce_devices(&b, t->root, t->dev), 1);
	assert_int_equal(broker_acquire(&b, &giver, &giver_holder,
					&(struct acquire_request){ NULL, "zip-0", -1 }, &raw, &e), 0);
	assert_int_equal(broker_transfer(&b, &giver, &giver_holder, raw->id, token, &e), 0);
	assert_int_equal(broker_claim(&b, &receiver, &receiver_holder, token, NULL, NULL, &claimed, &e), 0);
	assert_ptr_equal(claimed, raw);
	assert_string_equal(claimed->algorithm, "");
	assert_int_equal(broker_user_queues(&b, 1000), 1);
	assert_true(broker_counts_match(&b));
	broker_finish(&b);
	policy_finish(&policy);
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
		cmocka_unit_test_setup_teardown(free_queues_unreadable_for_want_of_fds_is_out_of_resources, setup,
						teardown),
		cmocka_unit_test(features_attribute_is_parsed_strictly),
		cmocka_unit_test(serving_follows_the_kernel_features),
		cmocka_unit_test_setup_teardown(sva_device_is_served_unstarted_where_the_kernel_can_bind_and_revoke,
						setup, teardown),
		cmocka_unit_test_setup_teardown(claimed_sva_queue_is_a_fresh_one, setup, teardown),
		cmocka_unit_test_setup_teardown(sva_queue_is_adopted_after_a_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(raw_queue_is_handed_out_as_opened, setup, teardown),
		cmocka_unit_test_setup_teardown(raw_queue_counts_against_every_algorithm_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(raw_queue_may_be_claimed_at_an_algorithm_limit, setup, teardown),
	};

	return cmocka_run_group_tests_name("uacce", tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/* The core with the sim backend: device choice, quotas and ownership. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"
#include "broker.h"
#include "cgroup.h"
#include "device.h"
#include "log.h"
#include "sim_engine.h"
#include "util.h"

struct fixture {
	struct broker b;
	struct policy policy;
	struct sim_engine *engine;
};

static int add_sim_devices(struct broker *b, struct sim_engine *engine, unsigned n, unsigned queues)
{
	struct device_changes found;
	int r = backend_sim_create_devices(engine, n, queues, &found);

	if (r == 0)
		broker_apply_device_changes(b, &found);
	return r;
}

/* What a listing shows as @d's free queues. */
static unsigned queues_free(struct device *d)
{
	unsigned n;

	(void)device_queues_free(d, &n, NULL);
	return n;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	log_set_level(LOG_ERR);
	broker_init(&f->b, &(struct broker_limits){ .max_connections_per_user = 4,
						    .max_connections = 8, .admin_gid = -1 }, NULL);
	policy_init(&f->policy, 5);
	broker_set_policy(&f->b, &f->policy, false);
	assert_int_equal(sim_engine_create(1, &f->engine), 0);
	assert_int_equal(add_sim_devices(&f->b, f->engine, 2, 3), 0);
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

/* The engine runs one algorithm per queue: a software device has no raw queues, and says why. */
static void software_devices_refuse_raw_queues(void **state)
{
	struct fixture *f = *state;
	struct accel_error e = { 0 };
	struct queue *q;
	int owner;

	assert_int_equal(acquire(f, 1000, &owner, NULL, "accel_sim-0", &q, &e), -EOPNOTSUPP);
	assert_string_equal(e.name, ERR_NO_SUCH_ALGORITHM);
	assert_non_null(strstr(e.message, "need an algorithm"));
	assert_int_equal(broker_active_queues(&f->b), 0);
	assert_true(broker_counts_match(&f->b));
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
	assert_int_equal(queues_free(broker_find_device(&f->b, "accel_sim-0")) +
			 queues_free(broker_find_device(&f->b, "accel_sim-1")), 5);
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

struct heard {
	struct broker_watcher w;
	char events[8][48];
	unsigned n;
};

static void heard_revoked(struct broker_watcher *w, const struct queue *q, enum queue_state from,
			  const char *reason)
{
	struct heard *h = (struct heard *)w;

	(void)from;
	if (h->n < 8 && q->state == QUEUE_REVOKED)
		snprintf(h->events[h->n++], sizeof(h->events[0]), "revoked %llu %s",
			 (unsigned long long)q->id, reason);
}

static void heard_device(struct broker_watcher *w, const struct device *d, const char *event)
{
	struct heard *h = (struct heard *)w;

	if (h->n < 8)
		snprintf(h->events[h->n++], sizeof(h->events[0]), "%s %s", event, d->name);
}

static void removed_device_takes_its_queues_with_it(void **state)
{
	struct fixture *f = *state;
	struct accel_error e = { 0 };
	struct peer root = { .uid = 0, .admin = true };
	struct heard h = { .w = { .peer = &root, .queue_changed = heard_revoked,
				  .device_changed = heard_device } };
	struct queue *q0, *q1;
	int owner;

	assert_int_equal(acquire(f, 1000, &owner, "copy", "accel_sim-0", &q0, &e), 0);
	assert_int_equal(acquire(f, 1000, &owner, "copy", "accel_sim-1", &q1, &e), 0);
	broker_watch(&f->b, &h.w);
	broker_remove_device(&f->b, broker_find_device(&f->b, "accel_sim-0"));
	assert_int_equal(h.n, 2);
	assert_string_equal(h.events[0], "revoked 1 device-removed");
	assert_string_equal(h.events[1], "device-removed accel_sim-0");
	assert_null(broker_find_device(&f->b, "accel_sim-0"));
	assert_int_equal(broker_active_queues(&f->b), 1);	/* the other device's stays */
	assert_int_equal(acquire(f, 1000, &owner, "copy", "accel_sim-0", &q0, &e), -ENODEV);
	broker_unwatch(&h.w);
}

static void claims_follow_the_owners_transfer_rule_and_the_receivers_quota(void **state)
{
	struct fixture *f = *state;
	struct accel_error e = { 0 };
	struct peer giver = { .uid = 1000, .gid = 1000 }, same = { .uid = 1000, .gid = 1000 },
		    other = { .uid = 1001, .gid = 1001 };
	char token[QUEUE_TOKEN_LEN + 1], again[QUEUE_TOKEN_LEN + 1];
	struct queue *q, *got, *mine[5];
	int g, r1, r2;

	f->b.limits.transfer_timeout_usec = 60u * 1000000u;
	assert_int_equal(acquire(f, 1000, &g, "gzip", NULL, &q, &e), 0);
	assert_int_equal(broker_transfer(&f->b, &giver, &g, q->id, token, &e), 0);
	assert_int_equal(strlen(token), QUEUE_TOKEN_LEN);
	/* A second offer replaces the first. */
	assert_int_equal(broker_transfer(&f->b, &giver, &g, q->id, again, &e), 0);
	assert_string_not_equal(token, again);
	assert_int_equal(broker_claim(&f->b, &same, &r1, token, NULL, NULL, &got, &e), -EKEYREJECTED);
	/* Same-user by default: another uid is refused and the token stays good. */
	assert_int_equal(broker_claim(&f->b, &other, &r2, again, NULL, NULL, &got, &e), -EACCES);
	/* The receiver's quota counts, without the queue it takes. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(acquire(f, 1000, &r1, "copy", NULL, &mine[i], &e), 0);
	assert_int_equal(broker_claim(&f->b, &same, &r1, again, NULL, NULL, &got, &e), 0);
	assert_ptr_equal(got, q);
	assert_ptr_equal(got->holder, &r1);
	assert_int_equal(broker_claim(&f->b, &same, &r1, again, NULL, NULL, &got, &e), -EKEYREJECTED);
	/* The giver's connection no longer holds it. */
	broker_release_holder(&f->b, &g);
	assert_int_equal(broker_active_queues(&f->b), 5);

	/* An expired token is refused. */
	f->b.limits.transfer_timeout_usec = 0;
	assert_int_equal(broker_transfer(&f->b, &same, &r1, q->id, token, &e), 0);
	assert_int_equal(broker_claim(&f->b, &same, &r2, token, NULL, NULL, &got, &e), -EKEYREJECTED);
	assert_non_null(strstr(e.message, "expired"));
}

static void add_user_count(uid_t uid, unsigned queues, void *data)
{
	unsigned *seen = data;

	seen[0]++;
	seen[1] += queues;
	(void)uid;
}

static void counts_match(struct fixture *f, unsigned queues, unsigned users)
{
	struct peer root = { .uid = 0, .admin = true };
	unsigned seen[2] = { 0, 0 };

	assert_true(broker_counts_match(&f->b));
	broker_for_each_user(&f->b, &root, add_user_count, seen);
	assert_int_equal(seen[0], users);
	assert_int_equal(seen[1], queues);
	assert_int_equal(broker_active_queues(&f->b), queues);
}

static void parse(struct policy *p, const char *section, const char *key, const char *value)
{
	char err[256];

	assert_int_equal(policy_parse(p, section, key, value, "test", err, sizeof(err)), 1);
}

struct record {
	struct broker_watcher w;
	char events[16][48];
	unsigned n;
};

static void record(struct broker_watcher *w, const char *fmt, unsigned long long id, const char *what)
{
	struct record *r = (struct record *)w;

	if (r->n < 16)
		snprintf(r->events[r->n++], sizeof(r->events[0]), fmt, id, what);
}

static void recorded_added(struct broker_watcher *w, const struct queue *q, enum queue_origin origin)
{
	record(w, "added %llu %s", q->id, origin == QUEUE_ACQUIRED ? "acquired" :
					  origin == QUEUE_CLAIMED ? "claimed" : "adopted");
}

static void recorded_changed(struct broker_watcher *w, const struct queue *q, enum queue_state from,
			     const char *reason)
{
	(void)from;
	(void)reason;
	record(w, "%llu %s", q->id, queue_state_to_string(q->state));
}

static void recorded_removed(struct broker_watcher *w, const struct queue *q)
{
	record(w, "removed %llu%s", q->id, "");
}

static void recorded_policy(struct broker_watcher *w, const struct policy *p)
{
	(void)p;
	record(w, "policy%llu%s", 0, "");
}

/*
 * What the fd store and the monitors hear: every record's coming, change of
 * state and going, a claim as the giver's record going and the receiver's
 * coming, a new policy; a watcher with a peer hears only the queues it may
 * see, and queues kept for the next broker go unannounced.
 */
static void watchers_hear_every_change_of_a_queue_record(void **state)
{
	struct fixture *f = *state;
	struct record all = { .w = { .queue_added = recorded_added, .queue_changed = recorded_changed,
				     .queue_removed = recorded_removed, .policy_replaced = recorded_policy } };
	struct peer other = { .uid = 1001 }, owner = { .uid = 1000, .gid = 1000, .pid = 100 };
	struct record others = { .w = all.w };
	const char *want[] = { "added 1 acquired", "1 transferring", "removed 1", "added 1 claimed",
			       "1 released", "removed 1", "policy0", "added 2 acquired" };
	char token[QUEUE_TOKEN_LEN + 1];
	struct accel_error e = { 0 };
	struct queue *q;
	int h1, h2;

	others.w.peer = &other;
	f->b.limits.transfer_timeout_usec = 60u * 1000000u;
	broker_watch(&f->b, &all.w);
	broker_watch(&f->b, &others.w);
	assert_int_equal(acquire(f, 1000, &h1, "copy", NULL, &q, &e), 0);
	assert_int_equal(broker_transfer(&f->b, &owner, &h1, q->id, token, &e), 0);
	assert_int_equal(q->state, QUEUE_TRANSFERRING);
	assert_int_equal(broker_claim(&f->b, &owner, &h2, token, NULL, NULL, &q, &e), 0);
	assert_int_equal(q->state, QUEUE_ACTIVE);
	broker_release_holder(&f->b, &h2);
	broker_set_policy(&f->b, &f->policy, false);
	assert_int_equal(acquire(f, 1000, &h1, "copy", NULL, &q, &e), 0);
	f->b.keep_queues = true;	/* kept for the next broker: nothing to tell */
	broker_shutdown(&f->b);
	assert_int_equal(all.n, ELEMENTSOF(want));
	for (unsigned i = 0; i < ELEMENTSOF(want); i++)
		assert_string_equal(all.events[i], want[i]);
	assert_int_equal(others.n, 1);	/* the policy only: none of uid 1000's queues */
	broker_unwatch(&all.w);
	broker_unwatch(&others.w);
}

/* A crc32c queue another broker on the same engine left in the fd store, and its device. */
static int queue_of_a_previous_broker(struct fixture *f, char *device, size_t size)
{
	struct broker previous;
	struct peer root = { .uid = 0 };
	struct accel_error e = { 0 };
	struct queue *q;
	int holder, fd;

	broker_init(&previous, &f->b.limits, NULL);
	assert_int_equal(add_sim_devices(&previous, f->engine, 2, 3), 0);
	assert_int_equal(broker_acquire(&previous, &root, &holder, &(struct acquire_request){ "crc32c", NULL, -1 },
					&q, &e), 0);
	fd = dup(q->fd);
	assert_true(fd >= 0);
	snprintf(device, size, "%s", q->device->name);
	previous.keep_queues = true;	/* its queues live on (in the fd store) */
	broker_finish(&previous);
	return fd;
}

/*
 * The broker's running counts (per uid, algorithm and group pool) stay
 * what a walk over its queues counts, through every way a queue comes,
 * goes or changes owner.
 */
static void running_counts_match_a_recount_through_every_change(void **state)
{
	struct fixture *f = *state;
	struct accel_error e = { 0 };
	struct peer a = { .uid = 1000, .gid = 1000, .groups = { 1000, 0, 100, 100 }, .n_groups = 4 },
		    b = { .uid = 1001, .gid = 1001, .groups = { 100 }, .n_groups = 1 },
		    c = { .uid = 1002, .gid = 1002, .groups = { 0 }, .n_groups = 1 };
	struct revoke_request by_user = { .by_user = true, .uid = 1002 };
	struct policy shrunk;
	char token[QUEUE_TOKEN_LEN + 1], device[32];
	struct queue *q[4], *got, *adopted;
	int ha, hb, hc, fd;

	parse(&f->policy, "defaults", "transfer", "any");
	parse(&f->policy, "group:users", "pool_max_queues", "3");
	f->b.limits.transfer_timeout_usec = 60u * 1000000u;
	assert_int_equal(broker_acquire(&f->b, &a, &ha, &(struct acquire_request){ "copy", NULL, -1 }, &q[0], &e), 0);
	assert_int_equal(broker_acquire(&f->b, &a, &ha, &(struct acquire_request){ "gzip", NULL, -1 }, &q[1], &e), 0);
	assert_int_equal(broker_acquire(&f->b, &b, &hb, &(struct acquire_request){ "gzip", NULL, -1 }, &q[2], &e), 0);
	counts_match(f, 3, 2);
	/* The pool of "users" counts a's two (once each, whatever its groups list) and b's. */
	assert_int_equal(broker_acquire(&f->b, &c, &hc, &(struct acquire_request){ "crc32c", NULL, -1 }, &q[3], &e), 0);
	assert_int_equal(broker_acquire(&f->b, &b, &hb, &(struct acquire_request){ "copy", NULL, -1 }, &got, &e),
			 -EDQUOT);
	counts_match(f, 4, 3);

	assert_int_equal(broker_release(&f->b, &a, &ha, q[0]->id, &e), 0);
	counts_match(f, 3, 3);

	/* b's gzip goes to c: out of b's counts and the "users" pool, into c's. */
	assert_int_equal(broker_transfer(&f->b, &b, &hb, q[2]->id, token, &e), 0);
	assert_int_equal(broker_claim(&f->b, &c, &hc, token, NULL, NULL, &got, &e), 0);
	counts_match(f, 3, 2);
	assert_int_equal(broker_user_queues(&f->b, 1001), 0);
	assert_int_equal(broker_user_queues(&f->b, 1002), 2);

	assert_int_equal(broker_revoke_matching(&f->b, &c, &by_user, &e), 2);
	counts_match(f, 1, 1);

	/* A queue taken back from a previous broker counts for its owner (root: pool of group 0). */
	fd = queue_of_a_previous_broker(f, device, sizeof(device));
	adopted = calloc(1, sizeof(*adopted));
	*adopted = (struct queue){ .id = 99, .uid = 0, .gid = 0, .pid = 1, .algorithm = "crc32c" };
	assert_int_equal(broker_adopt(&f->b, adopted, device, fd, -1, NULL, 0, &e), 0);
	counts_match(f, 2, 2);

	/* A reload that shrinks the limits revokes the newest over them, and recounts. */
	assert_int_equal(broker_acquire(&f->b, &a, &ha, &(struct acquire_request){ "copy", NULL, -1 }, &q[0], &e), 0);
	assert_int_equal(broker_acquire(&f->b, &a, &ha, &(struct acquire_request){ "copy", NULL, -1 }, &q[2], &e), 0);
	counts_match(f, 4, 2);
	policy_init(&shrunk, 5);
	parse(&shrunk, "defaults", "max_queues", "2");
	parse(&shrunk, "defaults", "max_queues.copy", "1");
	assert_int_equal(broker_set_policy(&f->b, &shrunk, true), 1);
	counts_match(f, 3, 2);
	assert_int_equal(broker_user_queues(&f->b, 1000), 2);
	assert_int_equal(broker_release(&f->b, &a, &ha, q[0]->id, &e), 0);	/* the older copy stayed */
	counts_match(f, 2, 2);
	broker_set_policy(&f->b, &f->policy, false);
	policy_finish(&shrunk);
}

static void visibility_is_own_queues_or_root(void **state)
{
	struct queue q = { .uid = 1000 };

	assert_true(broker_may_see(&(struct peer){ .uid = 1000 }, &q));
	assert_true(broker_may_see(&(struct peer){ .uid = 0, .admin = true }, &q));
	assert_true(broker_may_see(&(struct peer){ .uid = 1002, .admin = true }, &q));
	assert_false(broker_may_see(&(struct peer){ .uid = 1001 }, &q));
}

/*
 * Out of descriptors, a software device cannot make queue memory: that is
 * the broker's shortage (OutOfResources), not a busy device's.
 */
static void a_sim_queue_without_descriptors_is_out_of_resources(void **state)
{
	struct fixture *f = *state;
	struct accel_error e = { 0 };
	struct rlimit saved, lim;
	struct queue *q = NULL;
	int owner, fd, r;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	fd = dup(STDIN_FILENO);	/* the lowest free descriptor: none left at or above it */
	assert_true(fd >= 0);
	close(fd);
	lim = saved;
	lim.rlim_cur = (rlim_t)fd;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	r = acquire(f, 1000, &owner, "gzip", NULL, &q, &e);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	assert_int_equal(r, -ENOMEM);
	assert_string_equal(e.name, ERR_OUT_OF_RESOURCES);
	assert_int_equal(broker_active_queues(&f->b), 0);
	/* Descriptors back: the same call works. */
	assert_int_equal(acquire(f, 1000, &owner, "gzip", NULL, &q, &e), 0);
}

static struct cgroup_identity *in_cgroup(const char *path)
{
	struct cgroup_identity *id = NULL;
	char text[256];

	snprintf(text, sizeof(text), "0::%s\n", path);
	assert_int_equal(cgroup_identity_parse(text, strlen(text), CGROUP_LAYOUT_UNIFIED, &id), 0);
	return id;
}

/*
 * A container's root without a user namespace is uid 0 like the host's:
 * confined to its machine, it sees and revokes only the queues acquired
 * there, never the host's root's or another machine's; the host's root
 * sees them all, an unprivileged host user its uid's in any machine.
 */
static void a_confined_peer_sees_only_its_machines_queues(void **state)
{
	struct fixture *f = *state;
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *box = in_cgroup("/machine.slice/machine-box.scope");
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *other =
		in_cgroup("/machine.slice/machine-other.scope");
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *host = in_cgroup("/system.slice/db.service");
	struct peer in_box = { .uid = 0, .gid = 0, .pid = 100, .identity = box, .confined = true, .home = box };
	struct peer in_other = { .uid = 0, .gid = 0, .pid = 101, .identity = other, .confined = true, .home = other };
	struct peer root = { .uid = 0, .gid = 0, .pid = 102, .identity = host, .admin = true };
	struct peer unread = { .uid = 0, .gid = 0, .pid = 103, .confined = true };
	struct peer user = { .uid = 1000, .gid = 1000, .pid = 104 };
	struct accel_error e = { 0 };
	struct queue *q_box, *q_other, *q_host;
	int owner;

	assert_int_equal(broker_acquire(&f->b, &in_box, &owner, &(struct acquire_request){ "gzip", NULL, -1 },
					&q_box, &e), 0);
	assert_int_equal(broker_acquire(&f->b, &in_other, &owner, &(struct acquire_request){ "gzip", NULL, -1 },
					&q_other, &e), 0);
	assert_int_equal(broker_acquire(&f->b, &root, &owner, &(struct acquire_request){ "gzip", NULL, -1 },
					&q_host, &e), 0);
	assert_true(broker_may_see(&in_box, q_box));
	assert_false(broker_may_see(&in_box, q_other));
	assert_false(broker_may_see(&in_box, q_host));
	assert_false(broker_may_see(&unread, q_box));
	assert_false(broker_may_see(&unread, q_host));
	assert_true(broker_may_see(&root, q_box) && broker_may_see(&root, q_other));
	q_box->uid = 1000;	/* as if acquired by the container's uid 1000, the host's too */
	assert_true(broker_may_see(&user, q_box));
	assert_false(broker_may_see(&user, q_host));
	q_box->uid = 0;
	/* Revoke by id of the host's queue: no such queue for it; by its uid: only its machine's. */
	assert_true(broker_revoke_matching(&f->b, &in_box, &(struct revoke_request){ .queue_id = q_host->id }, &e) < 0);
	assert_string_equal(e.name, ERR_NO_SUCH_QUEUE);
	e = (struct accel_error){ 0 };
	assert_int_equal(broker_revoke_matching(&f->b, &in_box, &(struct revoke_request){ .by_user = true, .uid = 0 },
						&e), 1);
	assert_int_equal(broker_active_queues(&f->b), 2);
	assert_int_equal(q_other->state, QUEUE_ACTIVE);
	assert_int_equal(q_host->state, QUEUE_ACTIVE);
	/* What a confined peer's own connection holds stays its own to release, seen or not. */
	assert_int_equal(broker_acquire(&f->b, &unread, &unread, &(struct acquire_request){ "gzip", NULL, -1 },
					&q_box, &e), 0);
	assert_false(broker_may_see(&unread, q_box));
	assert_int_equal(broker_release(&f->b, &unread, &unread, q_box->id, &e), 0);
	assert_int_equal(broker_active_queues(&f->b), 2);
}

/*
 * A unit's pool counts its queues whoever holds them, a slice's those of
 * every unit below it; the records keep the identity (the peer's is
 * dropped), claims move the count, revoking by unit and a shrunk unit
 * limit take the unit's queues and no other.
 */
static void unit_and_slice_pools_count_across_users(void **state)
{
	struct fixture *f = *state;
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *web = in_cgroup("/batch.slice/web.service");
	struct cgroup_identity *db = in_cgroup("/batch.slice/db.service");
	struct peer a = { .uid = 1000, .gid = 1000, .pid = 100, .identity = web };
	struct peer b = { .uid = 1001, .gid = 1001, .pid = 101, .identity = web };
	struct peer c = { .uid = 1002, .gid = 1002, .pid = 102, .identity = db };
	struct peer admin = { .uid = 0, .admin = true };
	struct accel_error e = { 0 };
	struct queue *q[4];
	struct policy shrunk;
	int ha, hb, hc;

	parse(&f->policy, "unit:web.service", "max_queues", "2");
	parse(&f->policy, "slice:batch.slice", "max_queues", "3");
	assert_int_equal(broker_acquire(&f->b, &a, &ha, &(struct acquire_request){ "copy", NULL, -1 }, &q[0], &e), 0);
	assert_int_equal(broker_acquire(&f->b, &b, &hb, &(struct acquire_request){ "copy", NULL, -1 }, &q[1], &e), 0);
	/* web.service holds 2, across two users: a third is refused, though each user has room. */
	assert_int_equal(broker_acquire(&f->b, &b, &hb, &(struct acquire_request){ "copy", NULL, -1 }, &q[2], &e),
			 -EDQUOT);
	assert_non_null(strstr(e.message, "unit web.service holds 2 queues"));
	c.identity = db;
	assert_int_equal(broker_acquire(&f->b, &c, &hc, &(struct acquire_request){ "copy", NULL, -1 }, &q[2], &e), 0);
	cgroup_identity_unref(db);	/* the queue keeps its own reference */
	assert_string_equal(q[2]->identity->unit, "db.service");
	/* batch.slice's pool of 3 is full: db.service, with no limit of its own, is refused too. */
	assert_int_equal(broker_acquire(&f->b, &c, &hc, &(struct acquire_request){ "copy", NULL, -1 }, &q[3], &e),
			 -EDQUOT);
	assert_non_null(strstr(e.message, "slice batch.slice holds 3 queues"));
	counts_match(f, 3, 3);
	/* Revoking web.service takes its two queues, of both users, and leaves db's. */
	assert_int_equal(broker_revoke_matching(&f->b, &admin, &(struct revoke_request){ .unit = "web.service" }, &e),
			 2);
	counts_match(f, 1, 1);
	assert_int_equal(broker_acquire(&f->b, &a, &ha, &(struct acquire_request){ "copy", NULL, -1 }, &q[0], &e), 0);
	assert_int_equal(broker_acquire(&f->b, &a, &ha, &(struct acquire_request){ "copy", NULL, -1 }, &q[1], &e), 0);
	/* A shrunk unit limit revokes the unit's newest queue only. */
	policy_init(&shrunk, 5);
	parse(&shrunk, "unit:web.service", "max_queues", "1");
	assert_int_equal(broker_set_policy(&f->b, &shrunk, true), 1);
	assert_int_equal(q[2]->identity != NULL, 1);
	counts_match(f, 2, 2);
	broker_set_policy(&f->b, &f->policy, false);
	policy_finish(&shrunk);
}

static int reply_fails(const struct queue *q, void *data)
{
	(void)q;
	(void)data;
	return -ENOMEM;
}

/*
 * A claim moves the queue into the receiver's unit pool; one whose reply
 * cannot be sent puts it back in the giver's, the receiver's uncounted.
 * The peers' identities are dropped first: the records hold their own.
 */
static void unit_pools_follow_a_claim_and_its_undo(void **state)
{
	struct fixture *f = *state;
	struct cgroup_identity *web = in_cgroup("/web.service"), *db = in_cgroup("/db.service");
	struct peer a = { .uid = 1000, .gid = 1000, .pid = 100, .identity = web };
	struct peer c = { .uid = 1000, .gid = 1000, .pid = 102, .identity = db };
	struct accel_error e = { 0 };
	char token[QUEUE_TOKEN_LEN + 1];
	struct queue *q, *got = NULL;
	int ha, hc;

	parse(&f->policy, "unit:web.service", "max_queues", "1");
	parse(&f->policy, "unit:db.service", "max_queues", "1");
	f->b.limits.transfer_timeout_usec = 60u * 1000000u;
	assert_int_equal(broker_acquire(&f->b, &a, &ha, &(struct acquire_request){ "copy", NULL, -1 }, &q, &e), 0);
	assert_int_equal(broker_transfer(&f->b, &a, &ha, q->id, token, &e), 0);
	assert_int_equal(broker_claim(&f->b, &c, &hc, token, reply_fails, NULL, &got, &e), -ENOMEM);
	assert_null(got);
	assert_string_equal(q->identity->unit, "web.service");
	assert_int_equal(tally_scope(&f->b.tally, RULE_UNIT, "web.service", NULL), 1);
	assert_int_equal(tally_scope(&f->b.tally, RULE_UNIT, "db.service", NULL), 0);
	counts_match(f, 1, 1);
	assert_int_equal(broker_claim(&f->b, &c, &hc, token, NULL, NULL, &got, &e), 0);
	assert_ptr_equal(got, q);
	cgroup_identity_unref(db);
	assert_string_equal(q->identity->unit, "db.service");
	assert_int_equal(tally_scope(&f->b.tally, RULE_UNIT, "web.service", NULL), 0);
	assert_int_equal(tally_scope(&f->b.tally, RULE_UNIT, "db.service", NULL), 1);
	counts_match(f, 1, 1);
	/* web.service's one queue is free again, db.service's taken. */
	assert_int_equal(broker_acquire(&f->b, &a, &ha, &(struct acquire_request){ "copy", NULL, -1 }, &got, &e), 0);
	cgroup_identity_unref(web);	/* c's, db, lives on in q */
	assert_int_equal(broker_acquire(&f->b, &c, &hc, &(struct acquire_request){ "copy", NULL, -1 }, &got, &e),
			 -EDQUOT);
	counts_match(f, 2, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(queues_spread_over_the_freest_device, setup, teardown),
		cmocka_unit_test_setup_teardown(a_sim_queue_without_descriptors_is_out_of_resources, setup, teardown),
		cmocka_unit_test_setup_teardown(per_user_quota_holds_and_frees, setup, teardown),
		cmocka_unit_test_setup_teardown(devices_run_out_of_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(software_devices_refuse_raw_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(only_the_owning_connection_releases, setup, teardown),
		cmocka_unit_test_setup_teardown(owner_going_away_releases_all_it_held, setup, teardown),
		cmocka_unit_test_setup_teardown(queue_ids_are_never_reused, setup, teardown),
		cmocka_unit_test(visibility_is_own_queues_or_root),
		cmocka_unit_test_setup_teardown(a_confined_peer_sees_only_its_machines_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(removed_device_takes_its_queues_with_it, setup, teardown),
		cmocka_unit_test_setup_teardown(claims_follow_the_owners_transfer_rule_and_the_receivers_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(running_counts_match_a_recount_through_every_change, setup, teardown),
		cmocka_unit_test_setup_teardown(unit_and_slice_pools_count_across_users, setup, teardown),
		cmocka_unit_test_setup_teardown(unit_pools_follow_a_claim_and_its_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(watchers_hear_every_change_of_a_queue_record, setup, teardown),
	};

	return cmocka_run_group_tests_name("broker", tests, NULL, NULL);
}

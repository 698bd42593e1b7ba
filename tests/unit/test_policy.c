// SPDX-License-Identifier: MIT
/*
 * The policy sections: parsing with errors that name file and line, and how
 * user, group, default, unit, slice and machine rules combine (every
 * applicable rule holds).
 * Uses users and groups every Debian system has: daemon (1), bin (2),
 * nobody (65534); groups daemon (1), sys (3), adm (4), users (100).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"
#include "config.h"
#include "log.h"
#include "policy.h"
#include "util.h"

static char err[512];
static char dir[64];

static int load_files(struct policy *p, const char *main_text, const char *dropin_a, const char *dropin_b)
{
	char path[160], dpath[200];
	struct config cfg;
	FILE *f;
	int r;

	strcpy(dir, "/tmp/accel-policy-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/accel-broker.conf", dir);
	f = fopen(path, "w");
	fputs(main_text, f);
	fclose(f);
	if (dropin_a || dropin_b) {
		snprintf(dpath, sizeof(dpath), "%s.d", path);
		assert_int_equal(mkdir(dpath, 0755), 0);
		snprintf(dpath, sizeof(dpath), "%s.d/20-b.conf", path);
		if (dropin_b && (f = fopen(dpath, "w"))) {
			fputs(dropin_b, f);
			fclose(f);
		}
		snprintf(dpath, sizeof(dpath), "%s.d/10-a.conf", path);
		if (dropin_a && (f = fopen(dpath, "w"))) {
			fputs(dropin_a, f);
			fclose(f);
		}
	}
	config_init(&cfg);
	policy_init(p, 16);
	log_set_level(LOG_CRIT);
	r = config_load(&cfg, p, path, true, err, sizeof(err));
	log_set_level(LOG_INFO);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return r;
}

static int load(struct policy *p, const char *text)
{
	return load_files(p, text, NULL, NULL);
}

static const gid_t g_daemon[] = { 1 }, g_sys_adm[] = { 3, 4 }, g_users[] = { 100 };

/* -1 if @uid in @groups, holding @held queues (@held_alg of @alg), may not take one more. */
static int acquire(struct policy *p, uid_t uid, const gid_t *groups, unsigned n, const char *alg,
		   unsigned held, unsigned held_alg, struct accel_error *e)
{
	struct caller c = { uid, groups, n, NULL };
	struct usage u = { .queues = held, .queues_of_algorithm = held_alg };

	return policy_check_acquire(p, &c, alg, &u, e) < 0 ? -1 : 0;
}

static void defaults_then_user_then_builtin(void **state)
{
	struct policy p;
	struct accel_error e = { 0 };

	assert_int_equal(load(&p, "[defaults]\nmax_queues = 4\n\n[user:daemon]\nmax_queues = 8\n"), 0);
	assert_int_equal(acquire(&p, 2, NULL, 0, "gzip", 3, 0, &e), 0);
	assert_int_equal(acquire(&p, 2, NULL, 0, "gzip", 4, 0, &e), -1);	/* bin: defaults */
	assert_string_equal(e.name, ERR_QUOTA_EXCEEDED);
	assert_non_null(strstr(e.message, "accel-broker.conf:2"));	/* names the rule */
	assert_int_equal(acquire(&p, 1, NULL, 0, "gzip", 7, 0, &e), 0);	/* daemon: its own */
	assert_int_equal(acquire(&p, 1, NULL, 0, "gzip", 8, 0, &e), -1);
	assert_non_null(strstr(e.message, "accel-broker.conf:5"));
	policy_finish(&p);
	/* No rule at all: the broker's built-in limit. */
	assert_int_equal(load(&p, "[broker]\nsim_queues = 4\n"), 0);
	assert_int_equal(acquire(&p, 2, NULL, 0, "copy", 15, 0, &e), 0);
	assert_int_equal(acquire(&p, 2, NULL, 0, "copy", 16, 0, &e), -1);
	policy_finish(&p);
}

static void every_applicable_rule_holds(void **state)
{
	struct policy p;
	struct accel_error e = { 0 };

	assert_int_equal(load(&p, "[defaults]\nmax_queues = 10\nmax_queues.gzip = 3\n"
				  "[group:sys]\nmax_queues = 6\n"
				  "[group:adm]\nmax_queues.gzip = 1\n"), 0);
	/* In sys and adm: 6 in all, 1 gzip. */
	assert_int_equal(acquire(&p, 2, g_sys_adm, 2, "copy", 5, 0, &e), 0);
	assert_int_equal(acquire(&p, 2, g_sys_adm, 2, "copy", 6, 0, &e), -1);
	assert_int_equal(acquire(&p, 2, g_sys_adm, 2, "gzip", 2, 0, &e), 0);
	assert_int_equal(acquire(&p, 2, g_sys_adm, 2, "gzip", 2, 1, &e), -1);
	assert_non_null(strstr(e.message, "gzip"));
	/* In neither: the defaults, 10 in all, 3 gzip. */
	assert_int_equal(acquire(&p, 2, g_users, 1, "gzip", 9, 2, &e), 0);
	assert_int_equal(acquire(&p, 2, g_users, 1, "gzip", 9, 3, &e), -1);
	policy_finish(&p);
}

static void allow_no_refuses_by_user_or_group(void **state)
{
	struct policy p;
	struct accel_error e = { 0 };

	assert_int_equal(load(&p, "[user:bin]\nallow = no\n[group:daemon]\nallow = no\n"), 0);
	assert_int_equal(acquire(&p, 2, NULL, 0, "copy", 0, 0, &e), -1);
	assert_string_equal(e.name, ERR_PERMISSION_DENIED);
	assert_int_equal(acquire(&p, 65534, g_daemon, 1, "copy", 0, 0, &e), -1);
	assert_string_equal(e.name, ERR_PERMISSION_DENIED);
	assert_int_equal(acquire(&p, 65534, g_users, 1, "copy", 0, 0, &e), 0);
	policy_finish(&p);
}

/*
 * A refusal names the line of the key that refuses, not the last line of its
 * section nor the user's section when the limit comes from [defaults].
 */
static void refusal_names_the_refusing_keys_line(void **state)
{
	struct policy p;
	struct accel_error e = { 0 };

	assert_int_equal(load(&p, "[defaults]\n"		/* 1 */
				  "max_queues = 2\n"		/* 2 */
				  "lifetime = connection\n"	/* 3 */
				  "[user:bin]\n"			/* 4 */
				  "max_queues.gzip = 1\n"	/* 5 */
				  "fork = deny\n"			/* 6 */
				  "devices = accel_sim-0\n"	/* 7 */
				  "transfer = no\n"		/* 8 */
				  "[group:daemon]\n"		/* 9 */
				  "allow = no\n"			/* 10 */
				  "lifetime = process\n"),	/* 11 */
			 0);
	assert_int_equal(acquire(&p, 2, NULL, 0, "copy", 2, 0, &e), -1);
	assert_non_null(strstr(e.message, "accel-broker.conf:2)"));
	assert_int_equal(acquire(&p, 2, NULL, 0, "gzip", 1, 1, &e), -1);
	assert_non_null(strstr(e.message, "accel-broker.conf:5)"));
	assert_int_equal(acquire(&p, 2, g_daemon, 1, "copy", 0, 0, &e), -1);
	assert_non_null(strstr(e.message, "accel-broker.conf:10)"));
	assert_int_equal(policy_check_device(&p, &(struct caller){ 2, NULL, 0, NULL }, "accel_sim-1", &e), -EACCES);
	assert_non_null(strstr(e.message, "accel-broker.conf:7)"));
	policy_finish(&p);
}

static void group_pool_counts_the_members_together(void **state)
{
	struct policy p;
	struct accel_error e = { 0 };
	struct caller c = { 2, g_users, 1, NULL };
	struct usage u = { 0 };

	assert_int_equal(load(&p, "[group:users]\npool_max_queues = 4\n"), 0);
	u.pool[0] = 3;
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), 0);
	u.pool[0] = 4;
	assert_true(policy_check_acquire(&p, &c, "copy", &u, &e) < 0);
	assert_non_null(strstr(e.message, "pool of 4"));
	policy_finish(&p);
}

static void devices_patterns_restrict(void **state)
{
	struct policy p;
	struct accel_error e = { 0 };
	struct caller bin = { 2, NULL, 0, NULL }, daemon_user = { 1, NULL, 0, NULL }, sys = { 65534, g_sys_adm, 2, NULL };

	assert_int_equal(load(&p, "[defaults]\ndevices = accel_sim-* hisi_zip-0\n"
				  "[user:daemon]\ndevices = hisi_*\n"
				  "[group:sys]\ndevices = accel_sim-1\n"), 0);
	assert_int_equal(policy_check_device(&p, &bin, "accel_sim-3", &e), 0);
	assert_int_equal(policy_check_device(&p, &bin, "hisi_zip-0", &e), 0);
	assert_true(policy_check_device(&p, &bin, "hisi_zip-1", &e) < 0);
	assert_string_equal(e.name, ERR_PERMISSION_DENIED);
	/* A user rule's list replaces the defaults'. */
	assert_int_equal(policy_check_device(&p, &daemon_user, "hisi_zip-1", &e), 0);
	assert_true(policy_check_device(&p, &daemon_user, "accel_sim-0", &e) < 0);
	/* Group lists narrow further: both must match. */
	assert_int_equal(policy_check_device(&p, &sys, "accel_sim-1", &e), 0);
	assert_true(policy_check_device(&p, &sys, "accel_sim-0", &e) < 0);
	policy_finish(&p);
}

static void dropins_are_read_in_order_and_later_wins(void **state)
{
	struct policy p;
	struct accel_error e = { 0 };

	assert_int_equal(load_files(&p, "[defaults]\nmax_queues = 2\n", "[defaults]\nmax_queues = 5\n",
				    "[defaults]\nmax_queues = 7\n"), 0);
	assert_int_equal(acquire(&p, 2, NULL, 0, "copy", 6, 0, &e), 0);
	assert_int_equal(acquire(&p, 2, NULL, 0, "copy", 7, 0, &e), -1);
	assert_non_null(strstr(e.message, "20-b.conf:2"));
	policy_finish(&p);
}

static void terms(struct policy *p, uid_t uid, const gid_t *groups, unsigned n, struct terms *out)
{
	struct caller c = { uid, groups, n, NULL };

	policy_terms(p, &c, out);
}

static void terms_come_from_the_user_and_groups_only_tighten_them(void **state)
{
	struct policy p;
	struct terms t;

	/* Nothing said: connection, deny, same-user. */
	assert_int_equal(load(&p, ""), 0);
	terms(&p, 2, NULL, 0, &t);
	assert_int_equal(t.lifetime, LIFETIME_CONNECTION);
	assert_int_equal(t.fork, FORK_DENY);
	assert_int_equal(t.transfer, TRANSFER_SAME_USER);
	policy_finish(&p);

	assert_int_equal(load(&p, "[defaults]\nlifetime = process\nfork = allow\n"
				  "[user:daemon]\nlifetime = connection\ntransfer = any\n"
				  "[group:adm]\nfork = deny\ntransfer = no\n"
				  "[group:users]\nlifetime = process\n"), 0);
	/* bin: the defaults. */
	terms(&p, 2, NULL, 0, &t);
	assert_int_equal(t.lifetime, LIFETIME_PROCESS);
	assert_int_equal(t.fork, FORK_ALLOW);
	assert_int_equal(t.transfer, TRANSFER_SAME_USER);
	/* daemon: its own rule wins over the defaults, key by key... */
	terms(&p, 1, g_users, 1, &t);
	assert_int_equal(t.lifetime, LIFETIME_CONNECTION);	/* a group cannot loosen it */
	assert_int_equal(t.fork, FORK_ALLOW);
	assert_int_equal(t.transfer, TRANSFER_ANY);
	/* ...and a group tightens it. */
	terms(&p, 1, g_sys_adm, 2, &t);
	assert_int_equal(t.fork, FORK_DENY);
	assert_int_equal(t.transfer, TRANSFER_NO);
	assert_string_equal(policy_transfer_to_string(t.transfer), "no");
	assert_string_equal(policy_lifetime_to_string(LIFETIME_PROCESS), "process");
	policy_finish(&p);
}

static void bad_input_names_file_and_line(void **state)
{
	static const struct {
		const char *text, *needle;
	} cases[] = {
		{ "[user:no-such-user-x]\nmax_queues = 1\n", ":2: [user:no-such-user-x]: no such user" },
		{ "[group:no-such-group-x]\nmax_queues = 1\n", ":2: [group:no-such-group-x]: no such group" },
		{ "[defaults]\n\nmax_queues = -1\n", ":3: max_queues: \"-1\" is not a number" },
		{ "[defaults]\nmax_queues.gzip = lots\n", ":2: max_queues.gzip: \"lots\"" },
		{ "[defaults]\nmax_queues. = 1\n", ":2: max_queues.: not an algorithm name" },
		{ "[defaults]\nallow = maybe\n", ":2: allow: \"maybe\" is not yes or no" },
		{ "[defaults]\npool_max_queues = 3\n", ":2: unknown key \"pool_max_queues\" in [defaults]" },
		{ "[defaults]\nmax_queue = 3\n", ":2: unknown key \"max_queue\"" },
		{ "[defaults]\ndevices =\n", ":2: devices: no pattern given" },
		{ "[default]\nmax_queues = 1\n", ":2: unknown section [default]" },
		{ "[broker]\non_shrink = sometimes\n", ":2: on_shrink: \"sometimes\" is not keep or revoke" },
		{ "[defaults]\nlifetime = forever\n", ":2: lifetime: \"forever\" is not connection or process" },
		{ "[defaults]\nfork = yes\n", ":2: fork: \"yes\" is not deny or allow" },
		{ "[user:daemon]\ntransfer = all\n", ":2: transfer: \"all\" is not no, same-user or any" },
		{ "[broker]\ntransfer_timeout_sec = 0\n", ":2: transfer_timeout_sec: \"0\" is not a number" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy p;
		assert_int_equal(load(&p, cases[i].text), -EINVAL);
		if (!strstr(err, cases[i].needle) || !strstr(err, "accel-broker.conf"))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].needle);
		policy_finish(&p);
	}
}

/* The identity of a process in cgroup @path (unified layout), as the broker reads it. */
static struct cgroup_identity *in_cgroup(const char *path)
{
	struct cgroup_identity *id = NULL;
	char text[512];

	snprintf(text, sizeof(text), "0::%s\n", path);
	assert_int_equal(cgroup_identity_parse(text, strlen(text), CGROUP_LAYOUT_UNIFIED, &id), 0);
	return id;
}

static const char units_conf[] =
	"[unit:backup.service]\n"		/* 1 */
	"max_queues = 2\n"
	"[unit:web-*.service]\n"		/* 3 */
	"max_queues = 3\n"
	"max_queues.gzip = 1\n"			/* 5 */
	"[slice:batch.slice]\n"
	"max_queues = 4\n"			/* 7 */
	"[machine:db?]\n"
	"max_queues = 5\n";			/* 9 */

static void unit_rule_caps_each_matching_unit(void **state)
{
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *backup = in_cgroup("/system.slice/backup.service");
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *web = in_cgroup("/system.slice/web-a.service");
	struct caller c = { 2, NULL, 0, backup };
	struct usage u = { 0 };
	struct accel_error e = { 0 };
	struct policy p;

	assert_int_equal(load(&p, units_conf), 0);
	u.unit.queues = 1;
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), 0);
	u.unit.queues = 2;	/* the unit's queues, whoever holds them: not the caller's own (0) */
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), -EDQUOT);
	assert_non_null(strstr(e.message, "unit backup.service holds 2 queues"));
	assert_non_null(strstr(e.message, "accel-broker.conf:2)"));
	/* A glob: its limits per matching unit, max_queues.ALG too. */
	c.identity = web;
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), 0);
	u.unit.queues_of_algorithm = 1;
	assert_int_equal(policy_check_acquire(&p, &c, "gzip", &u, &e), -EDQUOT);
	assert_non_null(strstr(e.message, "accel-broker.conf:5)"));
	u.unit.queues = 3;
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), -EDQUOT);
	policy_finish(&p);
}

static void no_unit_matches_no_unit_rule(void **state)
{
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *root = in_cgroup("/");
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *slice = in_cgroup("/system.slice");
	struct usage u = { .unit = { 100, 100 } };
	struct accel_error e = { 0 };
	struct policy p;

	assert_int_equal(load(&p, "[unit:*]\nmax_queues = 0\n[slice:*]\nallow = no\n"), 0);
	assert_null(root->unit);
	/* Unknown identity (not read) and the root cgroup: no unit or slice rule applies... */
	assert_int_equal(policy_check_acquire(&p, &(struct caller){ 2, NULL, 0, NULL }, "copy", &u, &e), 0);
	/* ...but "-.slice" is every process's slice, so [slice:*] reaches the root cgroup's. */
	assert_int_equal(policy_check_acquire(&p, &(struct caller){ 2, NULL, 0, root }, "copy", &u, &e), -EACCES);
	assert_int_equal(policy_check_acquire(&p, &(struct caller){ 2, NULL, 0, slice }, "copy", &u, &e), -EACCES);
	policy_finish(&p);
	assert_int_equal(load(&p, "[unit:*]\nmax_queues = 0\n"), 0);
	assert_int_equal(policy_check_acquire(&p, &(struct caller){ 2, NULL, 0, root }, "copy", &u, &e), 0);
	assert_int_equal(policy_check_acquire(&p, &(struct caller){ 2, NULL, 0, slice }, "copy", &u, &e), 0);
	policy_finish(&p);
}

static void slice_pool_counts_every_unit_below_it(void **state)
{
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *id =
		in_cgroup("/batch.slice/batch-low.slice/job@1.service");
	struct caller c = { 2, NULL, 0, id };
	struct usage u = { 0 };
	struct accel_error e = { 0 };
	struct policy p;

	assert_int_equal(load(&p, units_conf), 0);
	assert_int_equal(id->n_slices, 3);	/* -.slice, batch.slice, batch-low.slice */
	u.slices[1].queues = 3;
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), 0);
	u.slices[1].queues = 4;
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), -EDQUOT);
	assert_non_null(strstr(e.message, "slice batch.slice holds 4 queues"));
	/* Another slice's count is not batch.slice's. */
	u.slices[1].queues = 0;
	u.slices[2].queues = 9;
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), 0);
	policy_finish(&p);
}

static void machine_rule_caps_the_container(void **state)
{
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *id =
		in_cgroup("/machine.slice/machine-db1.scope/payload/system.slice/x.service");
	struct caller c = { 2, NULL, 0, id };
	struct usage u = { .machine = { 5, 0 } };
	struct accel_error e = { 0 };
	struct policy p;

	assert_int_equal(load(&p, units_conf), 0);
	assert_string_equal(id->machine, "db1");
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), -EDQUOT);
	assert_non_null(strstr(e.message, "machine db1 holds 5 queues"));
	u.machine.queues = 4;
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), 0);
	policy_finish(&p);
}

static void stricter_of_user_and_unit_wins(void **state)
{
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *id = in_cgroup("/system.slice/backup.service");
	struct caller c = { 2, NULL, 0, id };
	struct usage u = { .queues = 1, .unit = { 1, 1 } };
	struct accel_error e = { 0 };
	struct terms t;
	struct policy p;

	/* The user's own limit is the stricter: it refuses although the unit has room. */
	assert_int_equal(load(&p, "[defaults]\nmax_queues = 1\nlifetime = process\nfork = allow\n"
				  "[unit:backup.service]\nmax_queues = 5\nfork = deny\ndevices = accel_sim-0\n"), 0);
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), -EDQUOT);
	assert_non_null(strstr(e.message, "accel-broker.conf:2)"));
	/* Terms: the unit only tightens; devices: both lists must match. */
	policy_terms(&p, &c, &t);
	assert_int_equal(t.lifetime, LIFETIME_PROCESS);
	assert_int_equal(t.fork, FORK_DENY);
	assert_int_equal(policy_check_device(&p, &c, "accel_sim-0", &e), 0);
	assert_int_equal(policy_check_device(&p, &c, "accel_sim-1", &e), -EACCES);
	assert_non_null(strstr(e.message, "accel-broker.conf:8)"));
	policy_finish(&p);
	/* The unit's limit is the stricter. */
	assert_int_equal(load(&p, "[defaults]\nmax_queues = 10\n[unit:backup.*]\nmax_queues = 1\n"), 0);
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), -EDQUOT);
	assert_non_null(strstr(e.message, "accel-broker.conf:4)"));
	policy_finish(&p);
}

static void escaped_unit_names_match_literally(void **state)
{
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *id =
		in_cgroup("/system.slice/system-db\\x2dmain.slice/db\\x2dmain@1.service");
	struct caller c = { 2, NULL, 0, id };
	struct usage u = { .unit = { 1, 0 } };
	struct accel_error e = { 0 };
	struct policy p;

	assert_string_equal(id->unit, "db\\x2dmain@1.service");
	/* The backslash is the name's own: a pattern with it matches only the escaped name. */
	assert_int_equal(load(&p, "[unit:db\\x2dmain@*.service]\nmax_queues = 1\n"), 0);
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), -EDQUOT);
	policy_finish(&p);
	assert_int_equal(load(&p, "[unit:dbx2dmain@*.service]\nmax_queues = 1\n"), 0);
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), 0);
	policy_finish(&p);
}

static void several_globs_each_hold(void **state)
{
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *id = in_cgroup("/system.slice/web-a.service");
	struct caller c = { 2, NULL, 0, id };
	struct usage u = { .unit = { 2, 0 } };
	struct accel_error e = { 0 };
	struct policy p;

	assert_int_equal(load(&p, "[unit:web-*.service]\nmax_queues = 8\n[unit:*-a.service]\nmax_queues = 2\n"), 0);
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), -EDQUOT);
	assert_non_null(strstr(e.message, "accel-broker.conf:4)"));
	policy_finish(&p);
}

struct described {
	char lines[8][160];
	unsigned n;
};

static void describe_one(const struct limit_info *l, void *data)
{
	struct described *d = data;

	if (d->n < 8)
		snprintf(d->lines[d->n++], sizeof(d->lines[0]), "%s%s=%d %s %s", l->key,
			 l->algorithm ? l->algorithm : "", l->limit, l->scope ? l->scope : "-",
			 strrchr(l->where, '/') ? strrchr(l->where, '/') + 1 : l->where);
}

static void describe_names_the_unit_rules(void **state)
{
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *id =
		in_cgroup("/batch.slice/web-a.service");
	struct caller c = { 2, NULL, 0, id };
	struct described d = { .n = 0 };
	struct policy p;

	assert_int_equal(load(&p, units_conf), 0);
	assert_true(policy_describe(&p, &c, describe_one, &d));
	assert_int_equal(d.n, 4);
	assert_string_equal(d.lines[1], "max_queues=3 web-a.service accel-broker.conf:4");
	assert_string_equal(d.lines[2], "max_queues.gzip=1 web-a.service accel-broker.conf:5");
	assert_string_equal(d.lines[3], "max_queues=4 batch.slice accel-broker.conf:7");
	policy_finish(&p);
}

static void unit_sections_refuse_hostile_names(void **state)
{
	static const struct {
		const char *text, *needle;
	} cases[] = {
		{ "[unit:web-[ab.service]\nmax_queues = 1\n", ":2: [unit:web-[ab.service]: a \"[\" is not closed" },
		{ "[unit:]\nmax_queues = 1\n", ":2: [unit:]: a name has 1 to 255 characters" },
		{ "[machine:]\nallow = no\n", ":2: [machine:]: a machine name has 1 to 64" },
		{ "[slice:batch]\nmax_queues = 1\n", ":2: [slice:batch]: a slice's name ends in .slice" },
		{ "[unit:backup]\nmax_queues = 1\n", ":2: [unit:backup]: a unit's name ends in .service" },
		{ "[unit:a/b.service]\nmax_queues = 1\n", "a character no unit or machine name has" },
		{ "[unit:a b.service]\nmax_queues = 1\n", "a character no unit or machine name has" },
		{ "[unit:x.service]\npool_max_queues = 1\n", ":2: unknown key \"pool_max_queues\" in [unit:x.service]" },
		{ "[slice:a.slice]\nmax_queues = many\n", ":2: max_queues: \"many\"" },
		/* inih would cut this name to 49 characters unseen: another unit's. */
		{ "[unit:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.service]\nmax_queues = 1\n",
		  ":1: a section name is longer than 49 characters" },
		{ "[machine:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n",
		  ":1: a section name is longer than 49" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy p;
		assert_int_equal(load(&p, cases[i].text), -EINVAL);
		if (!strstr(err, cases[i].needle) || !strstr(err, "accel-broker.conf"))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].needle);
		policy_finish(&p);
	}
}

static void unit_sections_of_one_name_merge(void **state)
{
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *id = in_cgroup("/system.slice/a.service");
	struct caller c = { 2, NULL, 0, id };
	struct usage u = { .unit = { 2, 0 } };
	struct accel_error e = { 0 };
	struct policy p;

	assert_int_equal(load_files(&p, "[unit:a.service]\nmax_queues = 1\n[unit:a.service]\nmax_queues = 3\n",
				    "[unit:a.service]\nallow = yes\n", NULL), 0);
	assert_int_equal(p.n_rules, 1);
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), 0);
	u.unit.queues = 3;
	assert_int_equal(policy_check_acquire(&p, &c, "copy", &u, &e), -EDQUOT);
	assert_non_null(strstr(e.message, "accel-broker.conf:4)"));
	policy_finish(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_then_user_then_builtin),
		cmocka_unit_test(every_applicable_rule_holds),
		cmocka_unit_test(allow_no_refuses_by_user_or_group),
		cmocka_unit_test(refusal_names_the_refusing_keys_line),
		cmocka_unit_test(group_pool_counts_the_members_together),
		cmocka_unit_test(devices_patterns_restrict),
		cmocka_unit_test(dropins_are_read_in_order_and_later_wins),
		cmocka_unit_test(terms_come_from_the_user_and_groups_only_tighten_them),
		cmocka_unit_test(bad_input_names_file_and_line),
		cmocka_unit_test(unit_rule_caps_each_matching_unit),
		cmocka_unit_test(no_unit_matches_no_unit_rule),
		cmocka_unit_test(slice_pool_counts_every_unit_below_it),
		cmocka_unit_test(machine_rule_caps_the_container),
		cmocka_unit_test(stricter_of_user_and_unit_wins),
		cmocka_unit_test(several_globs_each_hold),
		cmocka_unit_test(escaped_unit_names_match_literally),
		cmocka_unit_test(describe_names_the_unit_rules),
		cmocka_unit_test(unit_sections_refuse_hostile_names),
		cmocka_unit_test(unit_sections_of_one_name_merge),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * The policy through a real broker: limits from the configuration file for
 * root and for other uids and groups (fork + setresuid), reload by
 * `accelctl reload` and by SIGHUP, a broken file keeping the old policy,
 * and on_shrink = revoke taking the newest queues back.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <stdint.h>
#include <unistd.h>

#include <accel/accel.h>
#include <cmocka.h>

#include "harness.h"

static struct broker_proc broker;
static char conf[64];

static void write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int start(const char *text)
{
	strcpy(conf, "/tmp/accel-policy-conf-XXXXXX");
	int fd = mkstemp(conf);
	if (fd < 0)
		return -1;
	close(fd);
	chmod(conf, 0644);
	write_conf(text);
	return broker_start(&broker, (const char *const[]){ "--config", conf, "--sim", "2", NULL }) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	int r = broker_stop(&broker);

	unlink(conf);
	children_kill();
	return r == 0 ? 0 : -1;
}

static int reload(char *out, size_t size)
{
	char cmd[512];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s/accelctl --socket %s reload 2>&1", build_dir(), broker.sock);
	p = popen(cmd, "r");
	n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	return WEXITSTATUS(pclose(p));
}

static void limits_apply_and_reload_shrinks_newest_first(void **state)
{
	struct accel_client *c;
	struct accel_queue *q[4];
	char out[1024];

	assert_int_equal(start("[defaults]\nmax_queues = 3\n"), 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(accel_acquire(c, "copy", NULL, &q[i]), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q[3]), -EDQUOT);
	assert_non_null(strstr(accel_error_message(c), ":2)"));	/* file:line of the rule */

	/* Broken: refused with file and line, the old policy stays. */
	write_conf("[defaults]\nmax_queues = 1\nmax_queuez = 2\n");
	assert_int_equal(reload(out, sizeof(out)), 1);
	assert_non_null(strstr(out, ":3: unknown key \"max_queuez\""));
	assert_int_equal(accel_queue_state(q[2]), ACCEL_QUEUE_ACTIVE);

	/* Shrinking with on_shrink = keep: nothing revoked, no new queue. */
	write_conf("[defaults]\nmax_queues = 1\n");
	assert_int_equal(reload(out, sizeof(out)), 0);
	assert_non_null(strstr(out, "0 queue(s)"));
	assert_int_equal(accel_queue_state(q[2]), ACCEL_QUEUE_ACTIVE);
	assert_int_equal(accel_release(q[2]), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q[2]), -EDQUOT);

	/* With on_shrink = revoke: the newest go until within the limit. */
	write_conf("[broker]\non_shrink = revoke\n[defaults]\nmax_queues = 1\n");
	assert_int_equal(reload(out, sizeof(out)), 0);
	assert_non_null(strstr(out, "1 queue(s)"));
	assert_int_equal(accel_queue_state(q[0]), ACCEL_QUEUE_ACTIVE);
	assert_int_equal(accel_queue_state(q[1]), ACCEL_QUEUE_REVOKED);

	/* SIGHUP reloads too. */
	write_conf("[defaults]\nmax_queues = 3\n");
	kill(broker.pid, SIGHUP);
	for (int i = 0; i < 200 && accel_acquire(c, "copy", NULL, &q[2]) < 0; i++)
		usleep(10000);
	assert_string_equal(accel_queue_algorithm(q[2]), "copy");
	accel_release(q[0]);
	accel_release(q[1]);
	accel_release(q[2]);
	accel_disconnect(c);
}

/*
 * A comment longer than inih's 200-byte buffer: fed to it in pieces, its tail
 * ("max_queues = 5", at byte 199) used to be read as a line of its own and put
 * in force.  Now Reload refuses the file, names the line, keeps the policy.
 */
static void reload_refuses_a_long_line_and_keeps_the_policy(void **state)
{
	struct accel_client *c;
	struct accel_queue *q[2];
	char text[512], pad[197], out[1024];

	memset(pad, 'x', sizeof(pad));
	assert_int_equal(start("[defaults]\nmax_queues = 1\n"), 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q[0]), 0);

	snprintf(text, sizeof(text), "[defaults]\n# %.197smax_queues = 5\nmax_queues = 1\n", pad);
	write_conf(text);
	assert_int_equal(reload(out, sizeof(out)), 1);
	if (!strstr(out, conf) || !strstr(out, ":2: the line is longer than 197 characters"))
		fail_msg("reload said \"%s\"", out);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q[1]), -EDQUOT);
	assert_int_equal(accel_queue_state(q[0]), ACCEL_QUEUE_ACTIVE);
	accel_release(q[0]);
	accel_disconnect(c);
}

/* Run @fn as @uid with @gid and supplementary @groups; returns its exit status. */
static int as_user(uid_t uid, gid_t gid, const gid_t *groups, size_t n, int (*fn)(void))
{
	pid_t pid = fork_child();

	if (pid == 0) {
		if (setgroups(n, groups) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0 ||
		    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)	/* cleared by the change of uid */
			_exit(100);
		_exit(fn());
	}
	return wait_status(pid);
}

static int hold_fd[2];

/* Acquire one queue, report, and hold it until told. */
static int acquire_and_hold(void)
{
	struct accel_client *c;
	struct accel_queue *q;
	char byte;
	int r;

	if (accel_connect(broker.sock, &c) < 0)
		return 10;
	r = accel_acquire(c, "gzip", NULL, &q);
	byte = r == 0 ? 'y' : r == -EDQUOT ? 'q' : r == -EACCES ? 'd' : 'e';
	(void)!write(hold_fd[1], &byte, 1);
	pause();
	return 0;
}

static pid_t spawn_holder(uid_t uid, const gid_t *groups, size_t n, char *result)
{
	pid_t pid;

	assert_int_equal(pipe(hold_fd), 0);
	pid = fork_child();
	if (pid == 0) {
		if (setgroups(n, groups) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0 ||
		    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(100);
		_exit(acquire_and_hold());
	}
	close(hold_fd[1]);
	assert_int_equal(read(hold_fd[0], result, 1), 1);
	close(hold_fd[0]);
	return pid;
}

static void group_pool_is_shared_by_its_members(void **state)
{
	const gid_t users[] = { 100 };
	char r1, r2, r3, r4;
	pid_t a, b, c, d;
	int rest;

	if (geteuid() != 0)
		skip();
	assert_int_equal(start("[group:users]\npool_max_queues = 2\n"), 0);
	rest = broker_fd_count(&broker);
	a = spawn_holder(1, users, 1, &r1);	/* daemon */
	b = spawn_holder(2, users, 1, &r2);	/* bin */
	c = spawn_holder(65534, users, 1, &r3);	/* nobody: the pool is full */
	assert_int_equal(r1, 'y');
	assert_int_equal(r2, 'y');
	assert_int_equal(r3, 'q');
	/*
	 * Each holds a connection and a pidfd in the broker, a and b a queue
	 * too: its memory and its event pipe (the read end, and the engine's
	 * write end).
	 */
	assert_int_equal(broker_wait_fd_count(&broker, rest + 12), rest + 12);
	kill_child(a);
	/* Once the broker let go of all that was a's, there is room in the pool again. */
	assert_int_equal(broker_wait_fd_count(&broker, rest + 7), rest + 7);
	d = spawn_holder(65534, users, 1, &r4);
	assert_int_equal(r4, 'y');
	kill_child(b);
	kill_child(c);
	kill_child(d);
}

static int nobody_checks(void)
{
	struct accel_client *c;
	struct accel_queue *q;

	if (accel_connect(broker.sock, &c) < 0)
		return 1;
	/* devices = accel_sim-1: the broker picks it, and refuses accel_sim-0. */
	if (accel_acquire(c, "copy", NULL, &q) < 0 || strcmp(accel_queue_device(q), "accel_sim-1") != 0)
		return 2;
	if (accel_acquire(c, "copy", &(struct accel_acquire_options){ "accel_sim-0", -1 }, &q) != -EACCES)
		return 3;
	if (strcmp(accel_error_name(c), "org.accelbroker.Broker.PermissionDenied") != 0)
		return 4;
	/* max_queues.gzip = 0 */
	if (accel_acquire(c, "gzip", NULL, &q) != -EDQUOT)
		return 5;
	return 0;
}

static int bin_is_refused(void)
{
	struct accel_client *c;
	struct accel_queue *q;

	if (accel_connect(broker.sock, &c) < 0)
		return 1;
	return accel_acquire(c, "copy", NULL, &q) == -EACCES ? 0 : 2;
}

static void user_rules_devices_algorithms_and_allow(void **state)
{
	if (geteuid() != 0)
		skip();
	assert_int_equal(start("[user:nobody]\ndevices = accel_sim-1\nmax_queues.gzip = 0\n"
			       "[user:bin]\nallow = no\n"), 0);
	assert_int_equal(as_user(65534, 65534, NULL, 0, nobody_checks), 0);
	assert_int_equal(as_user(2, 2, NULL, 0, bin_is_refused), 0);
}

static void quota_shows_limits_use_and_rules(void **state)
{
	char cmd[512], out[4096];
	struct accel_client *c;
	struct accel_queue *q;
	const char *ctl;
	FILE *p;
	size_t n;

	if (geteuid() != 0)
		skip();
	assert_int_equal(start("[defaults]\nmax_queues = 3\nmax_queues.gzip = 1\n"
			       "[group:users]\npool_max_queues = 5\n"), 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "gzip", NULL, &q), 0);
	snprintf(cmd, sizeof(cmd), "%s/accelctl --socket %s quota 2>&1", build_dir(), broker.sock);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(WEXITSTATUS(pclose(p)), 0);
	assert_non_null(strstr(out, "max_queues                  3      1"));
	assert_non_null(strstr(out, "max_queues.gzip             1      1"));
	assert_non_null(strstr(out, ":3"));	/* the rule's file:line */
	/* Another user, as administrator: its groups from the user database. */
	snprintf(cmd, sizeof(cmd), "%s/accelctl --socket %s quota --user nobody --json 2>&1", build_dir(),
		 broker.sock);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(WEXITSTATUS(pclose(p)), 0);
	assert_non_null(strstr(out, "\"uid\":65534"));
	/* Not an administrator: not someone else's. */
	assert_non_null(ctl = broker_public_accelctl(&broker));
	snprintf(cmd, sizeof(cmd), "setpriv --reuid=65534 --regid=65534 --clear-groups %s --socket %s "
		 "quota --user root 2>&1 | grep -q PermissionDenied", ctl, broker.sock);
	assert_int_equal(system(cmd), 0);
	accel_release(q);
	accel_disconnect(c);
}

/* Each limit names the line of its own key, [defaults]' when it comes from there; devices= and allow= show. */
static void quota_names_each_keys_line_and_the_restrictions(void **state)
{
	char cmd[512], out[4096], want[256];
	FILE *p;
	size_t n;

	if (geteuid() != 0)
		skip();
	assert_int_equal(start("[defaults]\n"			/* 1 */
			       "max_queues = 3\n"		/* 2 */
			       "max_queues.gzip = 1\n"		/* 3 */
			       "lifetime = connection\n"	/* 4 */
			       "[user:root]\n"			/* 5 */
			       "devices = accel_sim-0\n"	/* 6 */
			       "max_queues.copy = 2\n"		/* 7 */
			       "fork = deny\n"), 0);		/* 8 */
	snprintf(cmd, sizeof(cmd), "%s/accelctl --socket %s quota 2>&1", build_dir(), broker.sock);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(WEXITSTATUS(pclose(p)), 0);
	snprintf(want, sizeof(want), "max_queues                  3      0  %s:2\n", conf);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "max_queues.gzip             1      0  %s:3\n", conf);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "max_queues.copy             2      0  %s:7\n", conf);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "devices                accel_sim-0          %s:6\n", conf);
	assert_non_null(strstr(out, want));
	/* And the refusal it explains. */
	struct accel_client *c;
	struct accel_queue *q;
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", &(struct accel_acquire_options){ "accel_sim-1", -1 }, &q), -EACCES);
	accel_disconnect(c);
}

static void reload_is_for_administrators(void **state)
{
	if (geteuid() != 0)
		skip();
	assert_int_equal(start("[defaults]\nmax_queues = 3\n"), 0);
	char cmd[512];
	const char *ctl = broker_public_accelctl(&broker);
	assert_non_null(ctl);
	snprintf(cmd, sizeof(cmd), "setpriv --reuid=65534 --regid=65534 --clear-groups %s --socket %s reload "
		 "2>&1 | grep -q PermissionDenied", ctl, broker.sock);
	assert_int_equal(system(cmd), 0);
}

/* One racing client: acquire, use, release, for ever (until killed). */
static int racer(void)
{
	static const char *const algs[] = { "copy", "crc32c", "gzip", "gunzip" };
	struct accel_client *c;
	unsigned x = (unsigned)getpid();

	if (accel_connect(broker.sock, &c) < 0)
		return 1;
	for (;;) {
		struct accel_queue *q;
		struct accel_completion comp;
		x = x * 1103515245u + 12345u;
		if (accel_acquire(c, algs[(x >> 16) % 4], NULL, &q) == 0) {
			if ((x >> 20) % 2 == 0)
				accel_run(q, "123456789", 9, NULL, 0, 0, 0, &comp);
			usleep((x >> 8) % 2000);
			if ((x >> 24) % 8 == 0) {
				/* Leave it to the connection's end now and then. */
				accel_disconnect(c);
				accel_release(q);
				if (accel_connect(broker.sock, &c) < 0)
					return 1;
				continue;
			}
			accel_release(q);
		} else {
			usleep(500);
		}
	}
}

static pid_t spawn_racer(uid_t uid)
{
	const gid_t users[] = { 100 };
	pid_t pid = fork_child();

	if (pid == 0) {
		if (setgroups(1, users) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0 ||
		    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(100);
		_exit(racer());
	}
	return pid;
}

/* Count the queues per uid in one ListQueues snapshot; returns the total. */
static int snapshot(struct accel_client *c, const uid_t *uids, int *per_uid)
{
	char *text = NULL;
	int total = 0;

	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.ListQueues", NULL, &text), 0);
	for (int u = 0; u < 4; u++)
		per_uid[u] = 0;
	for (char *p = text; (p = strstr(p, "\"uid\":")); p++) {
		long uid = strtol(p + 6, NULL, 10);
		for (int u = 0; u < 4; u++)
			per_uid[u] += uid == (long)uids[u];
		total++;
	}
	free(text);
	return total;
}

/*
 * 32 clients of 4 users race acquire/release/disconnect for 10 s while some
 * are killed and replaced; root samples the broker's queues all along.
 * No sample may show a user over max_queues or the group over its pool,
 * and at the end no queue or fd is left.
 */
static void racing_clients_never_exceed_a_limit(void **state)
{
	const uid_t uids[4] = { 1, 2, 3, 65534 };
	pid_t pids[32];
	int per_uid[4], fds_before, samples = 0, max_seen = 0, killed = 0;
	struct accel_client *c;
	uint64_t end;
	struct timespec ts;

	if (geteuid() != 0)
		skip();
	assert_int_equal(start("[defaults]\nmax_queues = 3\nmax_queues.gzip = 1\n"
			       "[group:users]\npool_max_queues = 9\n"), 0);
	fds_before = broker_fd_count(&broker);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	for (int i = 0; i < 32; i++)
		pids[i] = spawn_racer(uids[i % 4]);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = (uint64_t)ts.tv_sec + 10;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((uint64_t)ts.tv_sec >= end)
			break;
		int total = snapshot(c, uids, per_uid);
		for (int u = 0; u < 4; u++)
			if (per_uid[u] > 3)
				fail_msg("uid %u holds %d queues, over 3", uids[u], per_uid[u]);
		if (total > 9)
			fail_msg("the group holds %d queues, over its pool of 9", total);
		max_seen = total > max_seen ? total : max_seen;
		samples++;
		if (samples % 50 == 0) {
			int i = samples / 50 % 32;
			kill_child(pids[i]);
			pids[i] = spawn_racer(uids[i % 4]);
			killed++;
		}
		usleep(2000);
	}
	for (int i = 0; i < 32; i++) {
		kill_child(pids[i]);
	}
	accel_disconnect(c);
	print_message("%d samples, up to %d queues held at once, %d clients killed\n", samples, max_seen,
		      killed);
	assert_true(samples > 100);
	assert_true(max_seen >= 6);	/* the race was real: the limits were reached */
	assert_int_equal(broker_wait_fd_count(&broker, fds_before), fds_before);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(snapshot(c, uids, per_uid), 0);
	accel_disconnect(c);
}

/* Run accelctl @args against the broker into @out; its exit status. */
static int ctl_run(char *out, size_t size, const char *args)
{
	char cmd[512];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s/accelctl --socket %s %s 2>&1", build_dir(), broker.sock, args);
	p = popen(cmd, "r");
	n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	return WEXITSTATUS(pclose(p));
}

/*
 * The caller's cgroup is read at acquire: every process is below "-.slice",
 * so [slice:-.slice] is a pool the whole machine shares, whatever unit the
 * test runs in (none, in a CI container).  quota names the slice and a
 * unit asked for; revoke --unit reaches only that unit's queues.
 */
static void slice_pool_holds_through_the_socket(void **state)
{
	struct accel_client *c;
	struct accel_queue *q[3];
	char out[4096];

	if (geteuid() != 0)
		skip();
	assert_int_equal(start("[slice:-.slice]\nmax_queues = 2\n[unit:backup.service]\nmax_queues = 1\n"), 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q[0]), 0);
	assert_int_equal(accel_acquire(c, "gzip", NULL, &q[1]), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q[2]), -EDQUOT);
	assert_non_null(strstr(accel_error_message(c), "slice -.slice holds 2 queues"));
	assert_int_equal(ctl_run(out, sizeof(out), "quota"), 0);
	assert_non_null(strstr(out, "max_queues (slice -.slice)      2      2"));
	assert_int_equal(ctl_run(out, sizeof(out), "quota --unit backup.service"), 0);
	assert_non_null(strstr(out, "max_queues (unit backup.service)      1      0"));
	assert_non_null(strstr(out, ":4"));
	assert_int_equal(ctl_run(out, sizeof(out), "queues --unit backup.service --json"), 0);
	assert_null(strstr(out, "queue_id"));
	assert_int_equal(ctl_run(out, sizeof(out), "revoke --unit backup.service"), 0);
	assert_int_equal(accel_queue_state(q[0]), ACCEL_QUEUE_ACTIVE);
	assert_int_equal(ctl_run(out, sizeof(out), "quota --user root --unit backup.service"), 1);
	assert_non_null(strstr(out, "not both"));
	accel_release(q[0]);
	accel_release(q[1]);
	accel_disconnect(c);
}

/* Become root of a new user namespace whose root is host uid @uid (as `unshare --map-root-user` does). */
static int enter_user_namespace(uid_t uid)
{
	static const char *const files[] = { "/proc/self/setgroups", "/proc/self/uid_map", "/proc/self/gid_map" };
	char map[32];

	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
	    /* the change of uid made /proc/self root's; the maps are written through it */
	    prctl(PR_SET_DUMPABLE, 1) < 0 || unshare(CLONE_NEWUSER) < 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		FILE *f = fopen(files[i], "w");

		if (!f)
			return -1;
		fputs(i == 0 ? "deny" : map, f);
		if (fclose(f) != 0)
			return -1;
	}
	return getuid() == 0 && geteuid() == 0 ? 0 : -1;
}

static uint64_t host_queue_id;

/*
 * Root of a user namespace mapped to nobody: what it gets and may do.
 * Exit 0, or the number of the check that failed.
 */
static int namespaced_root(void)
{
	struct accel_client *c;
	struct accel_queue *q[3];
	char params[64], *text = NULL;
	int n = 0;

	if (enter_user_namespace(65534) < 0)
		return 20;
	if (accel_connect(broker.sock, &c) < 0)
		return 21;
	/* [user:nobody] max_queues = 2: exactly two, then the quota error */
	if (accel_acquire(c, "gzip", NULL, &q[0]) < 0 || accel_acquire(c, "gzip", NULL, &q[1]) < 0)
		return 22;
	if (accel_acquire(c, "gzip", NULL, &q[2]) != -EDQUOT ||
	    strcmp(accel_error_name(c), "org.accelbroker.Broker.QuotaExceeded") != 0)
		return 23;
	/* no administrator: its own queues only, root's queue is none of its business, no reload */
	if (accel_call_json(c, "org.accelbroker.Broker.ListQueues", NULL, &text) < 0)
		return 24;
	for (char *p = text; (p = strstr(p, "\"queue_id\"")); p++)
		n++;
	if (n != 2 || !strstr(text, "\"uid\":65534") || strstr(text, "\"uid\":0"))
		return 25;
	free(text);
	snprintf(params, sizeof(params), "{\"queue_id\":%llu}", (unsigned long long)host_queue_id);
	if (accel_call_json(c, "org.accelbroker.Broker.Revoke", params, &text) >= 0 ||
	    strcmp(accel_error_name(c), "org.accelbroker.Broker.NoSuchQueue") != 0)
		return 26;
	if (accel_call_json(c, "org.accelbroker.Broker.Reload", NULL, &text) >= 0 ||
	    strcmp(accel_error_name(c), "org.accelbroker.Broker.PermissionDenied") != 0)
		return 27;
	accel_disconnect(c);
	return 0;
}

/*
 * A process in a user namespace is seen by its host ids (SO_PEERCRED
 * translates them into the broker's namespace): uid 0 inside, mapped to
 * nobody, gets nobody's [user:] quota and none of root's rights.
 */
static void user_namespace_root_is_its_host_uid(void **state)
{
	struct accel_client *c;
	struct accel_queue *q;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	assert_int_equal(start("[user:nobody]\nmax_queues = 2\n"), 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q), 0);
	host_queue_id = accel_queue_id(q);
	pid = fork_child();
	if (pid == 0)
		_exit(namespaced_root());
	assert_int_equal(wait_status(pid), 0);
	assert_int_equal(accel_queue_state(q), ACCEL_QUEUE_ACTIVE);
	accel_release(q);
	accel_disconnect(c);
}

static int teardown_beside(void **state)
{
	int r = teardown(state);	/* the children go first: a cgroup with processes stays */

	test_cgroup_remove();
	return r;
}

/*
 * Root in a cgroup made beside systemd's tree (where docker's cgroupfs
 * driver or LXC put a container): what it may do.  Exit 0, or the number
 * of the check that failed.
 */
static int root_beside(const char *cgroup)
{
	struct accel_client *c;
	char params[64], *text = NULL;

	if (cgroup_enter(cgroup) < 0)
		return 30;
	if (accel_connect(broker.sock, &c) < 0)
		return 31;
	if (accel_call_json(c, "org.accelbroker.Broker.ListQueues", NULL, &text) < 0)
		return 32;
	if (strstr(text, "\"queue_id\""))
		return 33;	/* the host root's queue, seen from the container */
	free(text);
	snprintf(params, sizeof(params), "{\"queue_id\":%llu}", (unsigned long long)host_queue_id);
	if (accel_call_json(c, "org.accelbroker.Broker.Revoke", params, &text) >= 0 ||
	    strcmp(accel_error_name(c), "org.accelbroker.Broker.NoSuchQueue") != 0)
		return 34;
	if (accel_call_json(c, "org.accelbroker.Broker.Reload", NULL, &text) >= 0 ||
	    strcmp(accel_error_name(c), "org.accelbroker.Broker.PermissionDenied") != 0)
		return 35;
	accel_disconnect(c);
	return 0;
}

/*
 * A cgroup beside systemd's tree is a container's that no machined
 * registered (/docker/ID, /lxc.payload.NAME): only root makes one, for a
 * container.  Its root, uid 0 without a user namespace, is no
 * administrator, as a machine's is not: it cannot see, revoke or reload.
 */
static void root_beside_systemds_tree_is_no_administrator(void **state)
{
	const char *cg = test_cgroup_beside("accelbeside");
	struct accel_client *c;
	struct accel_queue *q;
	pid_t pid;

	if (!cg)
		skip();
	assert_int_equal(start(""), 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q), 0);
	host_queue_id = accel_queue_id(q);
	pid = fork_child();
	if (pid == 0)
		_exit(root_beside(cg));
	assert_int_equal(wait_status(pid), 0);
	assert_int_equal(accel_queue_state(q), ACCEL_QUEUE_ACTIVE);
	accel_release(q);
	accel_disconnect(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(limits_apply_and_reload_shrinks_newest_first, teardown),
		cmocka_unit_test_teardown(reload_refuses_a_long_line_and_keeps_the_policy, teardown),
		cmocka_unit_test_teardown(group_pool_is_shared_by_its_members, teardown),
		cmocka_unit_test_teardown(user_rules_devices_algorithms_and_allow, teardown),
		cmocka_unit_test_teardown(reload_is_for_administrators, teardown),
		cmocka_unit_test_teardown(quota_names_each_keys_line_and_the_restrictions, teardown),
		cmocka_unit_test_teardown(quota_shows_limits_use_and_rules, teardown),
		cmocka_unit_test_teardown(racing_clients_never_exceed_a_limit, teardown),
		cmocka_unit_test_teardown(slice_pool_holds_through_the_socket, teardown),
		cmocka_unit_test_teardown(user_namespace_root_is_its_host_uid, teardown),
		cmocka_unit_test_teardown(root_beside_systemds_tree_is_no_administrator, teardown_beside),
	};

	return cmocka_run_group_tests_name("policy_integration", tests, NULL, NULL);
}

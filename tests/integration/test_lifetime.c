// SPDX-License-Identifier: MIT
/*
 * Owners and revocation against a real broker: a queue dies with the
 * process that acquired it, whoever still holds the connection or the fd;
 * the broker takes queues back on request; Monitor tells the right people.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <accel/accel.h>
#include <accel/sim.h>
#include <cmocka.h>

#include "harness.h"

static struct broker_proc broker;

static int setup(void **state)
{
	return broker_start(&broker, (const char *const[]){ "--sim", "2", NULL }) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	int r = broker_stop(&broker);

	children_kill();
	return r == 0 ? 0 : -1;
}

/* Wait up to 5 s for an event of @type on @ev. */
static int next_event(struct accel_events *ev, const char *type, struct accel_event *out)
{
	for (int i = 0; i < 500; i++) {
		struct pollfd p = { .fd = accel_events_fd(ev), .events = POLLIN };
		int r = accel_events_read(ev, out);
		if (r < 0)
			return r;
		if (r > 0 && strcmp(out->type, type) == 0)
			return 1;
		if (r == 0)
			poll(&p, 1, 10);
	}
	return 0;
}

/*
 * The next event on @ev is the revocation of @q, which @c makes now: an
 * event the broker queued earlier on this stream (it is one connection,
 * written in order) would come first.  That is how a test shows that
 * nothing was said, without waiting for time to pass.
 */
static bool nothing_before_revoking(struct accel_events *ev, struct accel_client *c, struct accel_queue *q)
{
	struct accel_event e;
	char params[64], *reply = NULL;

	snprintf(params, sizeof(params), "{\"queue_id\":%llu}", (unsigned long long)accel_queue_id(q));
	if (accel_call_json(c, "org.accelbroker.Broker.Revoke", params, &reply) < 0)
		return false;
	free(reply);
	for (int i = 0; i < 500; i++) {
		struct pollfd p = { .fd = accel_events_fd(ev), .events = POLLIN };
		int r = accel_events_read(ev, &e);
		if (r < 0)
			return false;
		if (r > 0)
			return strcmp(e.type, "revoked") == 0 && e.queue_id == accel_queue_id(q);
		poll(&p, 1, 10);
	}
	return false;
}

static void queue_dies_with_its_owner_while_a_child_holds_everything(void **state)
{
	struct accel_events *ev;
	struct accel_event e;
	int info[2], go[2];
	uint64_t id;
	int qfd;
	pid_t parent, grandchild;

	assert_int_equal(accel_events_open(broker.sock, &ev), 0);
	assert_int_equal(pipe(info), 0);
	assert_int_equal(pipe(go), 0);
	/* The owner's child outlives it: make it ours to wait for. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	parent = fork_child();
	assert_true(parent >= 0);
	if (parent == 0) {
		struct accel_client *c;
		struct accel_queue *q;
		char byte;
		if (accel_connect(broker.sock, &c) < 0 || accel_acquire(c, "copy", NULL, &q) < 0)
			_exit(1);
		/* The queue fd: the lowest one above the connection's, found by mapping. */
		for (qfd = 3; qfd < 64; qfd++) {
			void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, qfd, 0);
			if (m != MAP_FAILED && ((struct accel_sim_regs *)m)->magic == ACCEL_SIM_MAGIC) {
				munmap(m, 4096);
				break;
			}
			if (m != MAP_FAILED)
				munmap(m, 4096);
		}
		id = accel_queue_id(q);
		grandchild = fork();
		if (grandchild == 0) {
			/* The child keeps the connection and the queue fd open. */
			struct accel_sim_regs *regs;
			close(go[1]);	/* the test's end going is its end too */
			if (read(go[0], &byte, 1) != 1)
				_exit(2);
			regs = mmap(NULL, 4096, PROT_READ, MAP_SHARED, qfd, 0);
			if (regs == MAP_FAILED)
				_exit(3);
			_exit(regs->state == ACCEL_SIM_STATE_REVOKED ? 0 : 4);
		}
		(void)!write(info[1], &id, sizeof(id));
		(void)!write(info[1], &grandchild, sizeof(grandchild));
		_exit(0);	/* the owner exits; its child lives on */
	}
	close(info[1]);
	assert_int_equal(read(info[0], &id, sizeof(id)), (ssize_t)sizeof(id));
	assert_int_equal(read(info[0], &grandchild, sizeof(grandchild)), (ssize_t)sizeof(grandchild));
	assert_true(grandchild > 0);
	assert_int_equal(wait_status(parent), 0);
	child_adopt(grandchild);	/* ours now (the subreaper), and killed at teardown */
	assert_int_equal(next_event(ev, "revoked", &e), 1);
	assert_int_equal(e.queue_id, id);
	assert_string_equal(e.reason, "owner-exited");
	assert_string_equal(e.algorithm, "copy");
	/*
	 * The grandchild, still holding the fd, finds the queue dead.  We are
	 * its subreaper (set above), so its verdict comes back to us.
	 */
	(void)!write(go[1], "g", 1);
	close(go[1]);
	assert_int_equal(wait_status(grandchild), 0);
	accel_events_close(ev);
	close(info[0]);
	close(go[0]);
}

static void revoked_queue_fails_with_enolink_and_the_owner_hears_it(void **state)
{
	struct accel_client *c, *admin;
	struct accel_events *ev;
	struct accel_event e;
	struct accel_queue *q;
	char *reply = NULL, params[64];
	void *buf;

	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_events_open(broker.sock, &ev), 0);
	assert_int_equal(accel_acquire(c, "gzip", NULL, &q), 0);
	assert_int_equal(accel_queue_state(q), ACCEL_QUEUE_ACTIVE);
	assert_int_equal(accel_connect(broker.sock, &admin), 0);
	snprintf(params, sizeof(params), "{\"queue_id\":%llu}", (unsigned long long)accel_queue_id(q));
	assert_int_equal(accel_call_json(admin, "org.accelbroker.Broker.Revoke", params, &reply), 0);
	assert_string_equal(reply, "{\"revoked\":1}");
	free(reply);
	assert_int_equal(next_event(ev, "revoked", &e), 1);
	assert_int_equal(e.queue_id, accel_queue_id(q));
	assert_string_equal(e.reason, "admin");
	/* The page says so too: no system call needed to notice. */
	assert_int_equal(accel_queue_state(q), ACCEL_QUEUE_REVOKED);
	buf = accel_queue_buffer(q, NULL);
	assert_int_equal(accel_submit(q, &(struct accel_op){ .src = buf, .src_len = 1, .dst = buf, .dst_len = 1 }),
			 -ENOLINK);
	/* Releasing a revoked queue is harmless. */
	accel_release(q);
	accel_disconnect(admin);
	accel_disconnect(c);
	accel_events_close(ev);
}

static void revoke_selectors_and_their_errors(void **state)
{
	struct accel_client *c;
	struct accel_queue *q[3];
	char *reply = NULL;

	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", &(struct accel_acquire_options){ "accel_sim-0", -1 }, &q[0]), 0);
	assert_int_equal(accel_acquire(c, "copy", &(struct accel_acquire_options){ "accel_sim-0", -1 }, &q[1]), 0);
	assert_int_equal(accel_acquire(c, "copy", &(struct accel_acquire_options){ "accel_sim-1", -1 }, &q[2]), 0);
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.Revoke", "{\"device\":\"accel_sim-0\"}",
					 &reply), 0);
	assert_string_equal(reply, "{\"revoked\":2}");
	free(reply);
	assert_int_equal(accel_queue_state(q[0]), ACCEL_QUEUE_REVOKED);
	assert_int_equal(accel_queue_state(q[2]), ACCEL_QUEUE_ACTIVE);
	/* An empty name is no user, not uid 0: root's q[2] stays. */
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.Revoke", "{\"user\":\"\"}", &reply), -EINVAL);
	assert_int_equal(accel_queue_state(q[2]), ACCEL_QUEUE_ACTIVE);
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.GetQuota", "{\"user\":\"\"}", &reply), -EINVAL);
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.Revoke", "{\"user\":\"root\"}", &reply), 0);
	assert_string_equal(reply, "{\"revoked\":1}");
	free(reply);
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.Revoke", "{}", &reply), -EINVAL);
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.Revoke",
					 "{\"queue_id\":1,\"device\":\"accel_sim-0\"}", &reply), -EINVAL);
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.Revoke", "{\"user\":\"no-such-user-x\"}",
					 &reply), -EINVAL);
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.Revoke", "{\"device\":\"nope-0\"}", &reply),
			 -ENODEV);
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.Revoke", "{\"queue_id\":424242}", &reply),
			 -ENOENT);
	for (int i = 0; i < 3; i++)
		accel_release(q[i]);
	accel_disconnect(c);
}

/* Run @fn as uid/gid 65534 with @groups; its exit status is the result. */
static pid_t as_nobody(int (*fn)(int), int arg, const gid_t *groups, size_t n_groups)
{
	pid_t pid = fork_child();

	if (pid == 0) {
		if (setgroups(n_groups, groups) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(100);
		_exit(fn(arg));
	}
	return pid;
}

/* As nobody: cannot see or revoke root's queue, can revoke its own, hears only its own. */
static int nobody_revokes(int root_queue)
{
	struct accel_client *c;
	struct accel_events *ev;
	struct accel_event e;
	struct accel_queue *q, *later;
	char *reply = NULL, params[64];

	if (accel_connect(broker.sock, &c) < 0 || accel_events_open(broker.sock, &ev) < 0)
		return 1;
	if (accel_acquire(c, "copy", &(struct accel_acquire_options){ "accel_sim-0", -1 }, &q) < 0)
		return 2;
	snprintf(params, sizeof(params), "{\"queue_id\":%d}", root_queue);
	if (accel_call_json(c, "org.accelbroker.Broker.Revoke", params, &reply) != -ENOENT)
		return 3;
	if (accel_call_json(c, "org.accelbroker.Broker.Revoke", "{\"user\":\"root\"}", &reply) != -EACCES)
		return 4;
	if (strcmp(accel_error_name(c), "org.accelbroker.Broker.PermissionDenied") != 0)
		return 5;
	if (accel_call_json(c, "org.accelbroker.Broker.Revoke", "{\"device\":\"accel_sim-0\"}", &reply) < 0)
		return 6;
	if (strcmp(reply, "{\"revoked\":1}") != 0)	/* its own only, though root has one there */
		return 9;
	free(reply);
	/* Only its own revocation reaches its monitor, not root's queue's. */
	if (next_event(ev, "revoked", &e) != 1 || e.queue_id != accel_queue_id(q) || e.uid != 65534)
		return 7;
	if (accel_acquire(c, "copy", NULL, &later) < 0 || !nothing_before_revoking(ev, c, later))
		return 8;
	return 0;
}

static void non_admin_reaches_only_its_own_queues(void **state)
{
	struct accel_client *c;
	struct accel_queue *q;
	gid_t none[1] = { 65534 };

	if (geteuid() != 0)
		skip();
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", &(struct accel_acquire_options){ "accel_sim-0", -1 }, &q), 0);
	assert_int_equal(wait_status(as_nobody(nobody_revokes, (int)accel_queue_id(q), none, 1)), 0);
	assert_int_equal(accel_queue_state(q), ACCEL_QUEUE_ACTIVE);	/* root's is untouched */
	accel_release(q);
	accel_disconnect(c);
}

static int admin_member_lists_all(int expected_root_queues)
{
	struct accel_client *c;
	char *text = NULL;
	int n = 0;

	if (accel_connect(broker.sock, &c) < 0 ||
	    accel_call_json(c, "org.accelbroker.Broker.ListQueues", NULL, &text) < 0)
		return 1;
	for (char *p = text; (p = strstr(p, "\"uid\":0")); p++)
		n++;
	free(text);
	if (n != expected_root_queues)
		return 2;
	return accel_call_json(c, "org.accelbroker.Broker.Revoke", "{\"user\":\"0\"}", &text) < 0 ? 3 : 0;
}

static void admin_group_members_see_and_revoke_everything(void **state)
{
	struct accel_client *c;
	struct accel_queue *q;
	struct group *g = getgrgid(65534);
	char conf[] = "/tmp/accel-admin-conf-XXXXXX";
	gid_t groups[2] = { 4242, 65534 };	/* admin by supplementary group */
	FILE *f;
	int fd;

	if (geteuid() != 0 || !g)
		skip();
	fd = mkstemp(conf);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "[broker]\nadmin_group = %s\n", g->gr_name);
	fclose(f);
	assert_int_equal(broker_stop(&broker), 0);
	assert_int_equal(broker_start(&broker, (const char *const[]){ "--config", conf, NULL }), 0);
	unlink(conf);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "crc32c", NULL, &q), 0);
	pid_t pid = fork_child();
	if (pid == 0) {
		if (setgroups(2, groups) < 0 || setresgid(4242, 4242, 4242) < 0 || setresuid(65534, 65534, 65534) < 0 ||
		    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(100);
		_exit(admin_member_lists_all(1));
	}
	assert_int_equal(wait_status(pid), 0);
	assert_int_equal(accel_queue_state(q), ACCEL_QUEUE_REVOKED);
	accel_release(q);
	accel_disconnect(c);
}

static void monitor_connection_takes_no_other_calls(void **state)
{
	char reply[1024];
	int fd = raw_connect(broker.sock);

	assert_true(fd >= 0);
	assert_true(raw_call(fd, "{\"method\":\"org.accelbroker.Broker.Monitor\"}", reply, sizeof(reply)) > 0);
	assert_non_null(strstr(reply, "call it with"));
	assert_true(raw_call(fd, "{\"method\":\"org.accelbroker.Broker.Monitor\",\"more\":true}", reply,
			     sizeof(reply)) > 0);
	assert_non_null(strstr(reply, "\"subscribed\""));
	assert_non_null(strstr(reply, "\"continues\":true"));
	assert_true(raw_call(fd, "{\"method\":\"org.accelbroker.Broker.GetStatus\"}", reply, sizeof(reply)) > 0);
	assert_non_null(strstr(reply, "no calls after Monitor"));
	assert_int_equal(raw_recv(fd, reply, sizeof(reply)), 0);
	close(fd);
}

/* A line from @f within 5 s (a bound: the line is the event waited for). */
static char *read_line(FILE *f, char *line, size_t size)
{
	struct pollfd p = { .fd = fileno(f), .events = POLLIN };

	if (poll(&p, 1, 5000) != 1)
		return NULL;
	return fgets(line, (int)size, f);
}

/*
 * accelctl monitor --json, its standard output and error read through
 * @out and @err; returns once it said on standard error that it is
 * subscribed (the broker's "subscribed": no event after it is missed).
 */
static pid_t start_monitor(FILE **out, FILE **err)
{
	char exe[512], line[256] = "";
	int o[2], e[2];
	pid_t pid;

	snprintf(exe, sizeof(exe), "%s/accelctl", build_dir());
	assert_int_equal(pipe2(o, O_CLOEXEC), 0);
	assert_int_equal(pipe2(e, O_CLOEXEC), 0);
	pid = fork_child();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(o[1], STDOUT_FILENO);
		dup2(e[1], STDERR_FILENO);
		execl(exe, "accelctl", "--socket", broker.sock, "monitor", "--json", (char *)NULL);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	*out = fdopen(o[0], "r");
	*err = fdopen(e[0], "r");
	assert_non_null(*out);
	assert_non_null(*err);
	assert_non_null(read_line(*err, line, sizeof(line)));
	assert_non_null(strstr(line, "Watching the broker's events"));
	return pid;
}

static void accelctl_monitor_and_revoke(void **state)
{
	struct accel_client *c;
	struct accel_queue *q;
	char cmd[512], line[512] = "";
	FILE *mon, *mon_err;
	pid_t pid;

	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "gunzip", NULL, &q), 0);
	pid = start_monitor(&mon, &mon_err);
	snprintf(cmd, sizeof(cmd), "%s/accelctl --socket %s revoke %llu >/dev/null", build_dir(), broker.sock,
		 (unsigned long long)accel_queue_id(q));
	assert_int_equal(system(cmd), 0);
	assert_non_null(read_line(mon, line, sizeof(line)));
	assert_non_null(strstr(line, "\"event\":\"revoked\""));
	assert_non_null(strstr(line, "\"reason\":\"admin\""));
	/* Stop the monitor with the broker: it reports the closed stream. */
	accel_release(q);
	accel_disconnect(c);
	assert_int_equal(broker_stop(&broker), 0);
	assert_non_null(read_line(mon_err, line, sizeof(line)));
	assert_non_null(strstr(line, "the broker closed the event stream"));
	assert_int_equal(wait_status(pid), 1);
	fclose(mon);
	fclose(mon_err);
	assert_int_equal(broker_start(&broker, (const char *const[]){ NULL }), 0);
	snprintf(cmd, sizeof(cmd), "%s/accelctl --socket %s revoke 1 --user root 2>/dev/null", build_dir(),
		 broker.sock);
	assert_int_equal(WEXITSTATUS(system(cmd)), 1);
}

static int teardown_cgroups(void **state)
{
	int r = teardown(state);	/* the children go first: a cgroup with processes stays */

	test_cgroup_remove();
	return r;
}

/* In the child: move into @scope, acquire a queue, tell its id on @ready, wait for @go. */
static int acquire_in_scope(const char *scope, int ready, int go)
{
	struct accel_client *c;
	struct accel_queue *q;
	char x;
	uint64_t id = 0;

	if (cgroup_enter(scope) < 0)
		return 1;
	if (accel_connect(broker.sock, &c) == 0 && accel_acquire(c, "copy", NULL, &q) == 0)
		id = accel_queue_id(q);
	(void)!write(ready, &id, sizeof(id));
	(void)!read(go, &x, 1);
	return id ? 0 : 2;
}

/*
 * A revocation names the systemd unit and the machine its queue was
 * acquired in, on the wire and in accelctl monitor: a child that moved
 * itself into machine.slice/machine-NAME.scope (what machined makes for a
 * container) acquires; an administrator revokes it.
 */
static void monitor_names_the_unit_and_machine_of_a_revoked_queue(void **state)
{
	const char *scope = test_cgroup_machine("accelmon");
	char cmd[512], want[128], line[512] = "", ev[1024] = "";
	int go[2], ready[2], mon;
	struct pollfd p;
	FILE *out, *err;
	uint64_t id = 0;
	pid_t owner, ctl;

	if (!scope)
		skip();
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	owner = fork_child();
	if (owner == 0)
		_exit(acquire_in_scope(scope, ready[1], go[0]));
	assert_int_equal(read(ready[0], &id, sizeof(id)), sizeof(id));
	assert_true(id > 0);

	mon = raw_connect(broker.sock);
	assert_true(mon >= 0);
	assert_true(raw_call(mon, "{\"method\":\"org.accelbroker.Broker.Monitor\",\"more\":true}", ev,
			     sizeof(ev)) > 0);
	assert_non_null(strstr(ev, "\"subscribed\""));
	ctl = start_monitor(&out, &err);
	snprintf(cmd, sizeof(cmd), "%s/accelctl --socket %s revoke %llu >/dev/null", build_dir(), broker.sock,
		 (unsigned long long)id);
	assert_int_equal(system(cmd), 0);

	p = (struct pollfd){ .fd = mon, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_true(raw_recv(mon, ev, sizeof(ev)) > 0);
	assert_non_null(read_line(out, line, sizeof(line)));
	snprintf(want, sizeof(want), "\"unit\":\"machine-accelmon%d.scope\"", (int)getpid());
	assert_non_null(strstr(ev, want));
	assert_non_null(strstr(line, want));
	snprintf(want, sizeof(want), "\"machine\":\"accelmon%d\"", (int)getpid());
	assert_non_null(strstr(ev, want));
	assert_non_null(strstr(line, want));
	assert_non_null(strstr(line, "\"reason\":\"admin\""));

	close(mon);
	kill_child(ctl);
	fclose(out);
	fclose(err);
	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(wait_status(owner), 0);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(queue_dies_with_its_owner_while_a_child_holds_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(revoked_queue_fails_with_enolink_and_the_owner_hears_it, setup, teardown),
		cmocka_unit_test_setup_teardown(revoke_selectors_and_their_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(non_admin_reaches_only_its_own_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(admin_group_members_see_and_revoke_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(monitor_connection_takes_no_other_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(accelctl_monitor_and_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(monitor_names_the_unit_and_machine_of_a_revoked_queue, setup,
						teardown_cgroups),
	};

	return cmocka_run_group_tests_name("lifetime", tests, NULL, NULL);
}

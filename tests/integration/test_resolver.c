// SPDX-License-Identifier: MIT
/*
 * The user database off the event loop: a broker whose getpwnam_r() waits
 * for us (nss_block.so) keeps answering other clients, answers the waiting
 * call in order once the database does, cuts it off at the deadline, forgets
 * it when its client leaves, and bounds the look-ups one uid may start;
 * on D-Bus too (the reply sent later on the stored call).  A Reload whose
 * configuration names the slow user waits for it off the loop as well.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define CTL_FD 100		/* the broker's end of the socket nss_block.so talks on */
#define WAIT_MS 5000		/* what a test waits for an event before failing */
#define REVOKE_BLOCKED "{\"method\":\"org.accelbroker.Broker.Revoke\",\"parameters\":{\"user\":\"blocked\"}}"
#define QUOTA_BLOCKED "{\"method\":\"org.accelbroker.Broker.GetQuota\",\"parameters\":{\"user\":\"blocked\"}}"
#define GET_STATUS "{\"method\":\"org.accelbroker.Broker.GetStatus\"}"
#define GET_INFO "{\"method\":\"org.varlink.service.GetInfo\"}"
#define RELOAD "{\"method\":\"org.accelbroker.Broker.Reload\"}"
#define QUOTA_4242 "{\"method\":\"org.accelbroker.Broker.GetQuota\",\"parameters\":{\"user\":\"4242\"}}"
#define QUOTA_OWN "{\"method\":\"org.accelbroker.Broker.GetQuota\"}"
#define CONF_BEFORE "[defaults]\nmax_queues = 3\n"
#define CONF_AFTER "[defaults]\nmax_queues = 5\n[user:blocked]\nmax_queues = 7\n"	/* nss_block's uid 4242 */

static struct broker_proc broker;
static int ctl = -1;		/* our end */
static char conf[64];		/* "": the broker runs without a configuration file */
static char bus_dir[64];
static pid_t bus_pid = -1;

struct child_env {
	int fd;
	const char *timeout_ms;	/* NULL: the built-in deadline */
};

static void in_broker(void *data)
{
	const struct child_env *env = data;
	char preload[512], fd[16];

	dup2(env->fd, CTL_FD);	/* without FD_CLOEXEC: the broker keeps it */
	snprintf(fd, sizeof(fd), "%d", CTL_FD);
	snprintf(preload, sizeof(preload), "%s/tests/nss_block.so", build_dir());
	setenv("NSS_BLOCK_FD", fd, 1);
	setenv("NSS_BLOCK_NAME", "blocked", 1);
	setenv("LD_PRELOAD", preload, 1);
	/* The sanitizer build: our library comes before its runtime, which is fine here. */
	setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
	if (env->timeout_ms)
		setenv("ACCEL_BROKER_TEST_RESOLVER_TIMEOUT_MS", env->timeout_ms, 1);
}

static int start(const char *timeout_ms)
{
	int sv[2];
	struct child_env env;
	int r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	env = (struct child_env){ sv[1], timeout_ms };
	if (conf[0])
		r = broker_start_with(&broker, (const char *const[]){ "--config", conf, "--sim", "1", NULL },
				      in_broker, &env);
	else
		r = broker_start_with(&broker, (const char *const[]){ "--sim", "1", NULL }, in_broker, &env);
	close(sv[1]);
	ctl = sv[0];
	return r;
}

static int teardown(void **state)
{
	int r;

	(void)state;
	/* Let lookups still waiting go (a failed test), so the broker can stop. */
	if (ctl >= 0)
		(void)!send(ctl, "gggggggg", 8, MSG_DONTWAIT | MSG_NOSIGNAL);
	r = broker_stop(&broker);
	if (ctl >= 0)
		close(ctl);
	ctl = -1;
	if (conf[0])
		unlink(conf);
	conf[0] = '\0';
	children_kill();
	if (bus_pid > 0) {
		char cmd[128];

		kill(bus_pid, SIGTERM);	/* not our child: --fork made it the bus's own */
		snprintf(cmd, sizeof(cmd), "rm -rf %s", bus_dir);
		(void)!system(cmd);
		bus_pid = -1;
	}
	return r == 0 ? 0 : -1;
}

/* Wait up to WAIT_MS for @fd to be readable. */
static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, WAIT_MS) == 1;
}

/* Whether @fd has something to read already (no waiting). */
static bool readable_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* The next message on @fd, waited for up to WAIT_MS; -ETIMEDOUT if none came. */
static int recv_within(int fd, char *buf, size_t size)
{
	if (!readable(fd))
		return -ETIMEDOUT;
	return raw_recv(fd, buf, size);
}

/* The broker's worker is inside getpwnam_r() for the magic name. */
static void wait_entered(void)
{
	char c = 0;

	assert_true(readable(ctl));
	assert_int_equal(read(ctl, &c, 1), 1);
	assert_int_equal(c, 'e');
}

/* The user database answers the waiting lookup: the user exists. */
static void release(void)
{
	assert_int_equal(write(ctl, "g", 1), 1);
}

static int connect_sending(const char *msg)
{
	int fd = raw_connect(broker.sock);

	assert_true(fd >= 0);
	assert_int_equal(raw_send(fd, msg), 0);
	return fd;
}

static void others_are_answered_while_a_name_is_looked_up(void **state)
{
	char buf[65536];
	int a, b;

	(void)state;
	assert_int_equal(start(NULL), 0);
	a = connect_sending(REVOKE_BLOCKED);
	assert_int_equal(raw_send(a, GET_INFO), 0);	/* behind the lookup on the same connection */
	wait_entered();

	/* The loop is free: another client's calls are answered meanwhile. */
	b = connect_sending(GET_STATUS);
	assert_true(recv_within(b, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"devices\""));
	assert_true(raw_call(b, GET_INFO, buf, sizeof(buf)) > 0);
	close(b);

	/* The database answers: the waiting call's reply, then the call behind it, in order. */
	release();
	assert_true(recv_within(a, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"revoked\""));
	assert_true(recv_within(a, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"vendor\""));
	close(a);
}

static void a_lookup_past_its_deadline_is_answered_and_its_late_answer_dropped(void **state)
{
	char buf[65536];
	int a, b;

	(void)state;
	assert_int_equal(start("300"), 0);
	a = connect_sending(QUOTA_BLOCKED);
	wait_entered();
	assert_true(recv_within(a, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "org.accelbroker.Broker.OutOfResources"));
	assert_non_null(strstr(buf, "did not answer in time"));

	/* The database comes back: the late answer goes nowhere, the next lookup works. */
	release();
	assert_true(raw_call(a, "{\"method\":\"org.accelbroker.Broker.GetQuota\",\"parameters\":{\"user\":\"root\"}}",
			     buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"uid\":0"));
	b = connect_sending(GET_STATUS);
	assert_true(recv_within(b, buf, sizeof(buf)) > 0);
	close(b);
	close(a);
}

static void a_client_that_leaves_during_its_lookup_is_forgotten(void **state)
{
	char buf[65536];
	int a, b, busy;

	(void)state;
	assert_int_equal(start(NULL), 0);
	a = connect_sending(REVOKE_BLOCKED);
	wait_entered();
	busy = broker_fd_count(&broker);
	close(a);
	/* Its connection and its owner's pidfd close while the lookup is still out. */
	assert_int_equal(broker_wait_fd_count(&broker, busy - 2), busy - 2);

	release();	/* the answer finds no one (an ASan build would catch a use after free) */
	b = connect_sending(REVOKE_BLOCKED);
	wait_entered();
	release();
	assert_true(recv_within(b, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"revoked\""));
	close(b);
	assert_true(broker_alive(&broker));
}

#define PER_UID 4	/* RESOLVER_MAX_JOBS_PER_UID */

static void one_uid_may_have_only_a_few_lookups_in_flight(void **state)
{
	char buf[65536];
	int fds[PER_UID + 1], refused = -1;

	(void)state;
	assert_int_equal(start(NULL), 0);
	fds[0] = connect_sending(REVOKE_BLOCKED);
	wait_entered();
	for (int i = 1; i <= PER_UID; i++)
		fds[i] = connect_sending(REVOKE_BLOCKED);
	/* One is refused at once (which one is the broker's order); the worker still waits. */
	struct pollfd p[PER_UID + 1];

	for (int k = 0; k <= PER_UID; k++)
		p[k] = (struct pollfd){ .fd = fds[k], .events = POLLIN };
	assert_int_equal(poll(p, PER_UID + 1, WAIT_MS), 1);
	for (int k = 0; k <= PER_UID; k++)
		if (p[k].revents & POLLIN)
			refused = k;
	assert_true(refused >= 0);
	assert_true(raw_recv(fds[refused], buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "org.accelbroker.Broker.OutOfResources"));
	assert_non_null(strstr(buf, "too many"));
	/* The others are answered as the database answers them, one after another. */
	for (int i = 0; i <= PER_UID; i++) {
		if (i == refused)
			continue;
		if (i > 0)
			wait_entered();
		release();
	}
	for (int i = 0; i <= PER_UID; i++) {
		if (i != refused) {
			assert_true(recv_within(fds[i], buf, sizeof(buf)) > 0);
			assert_non_null(strstr(buf, "\"revoked\""));
		}
		close(fds[i]);
	}
}

static void write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* The broker started on CONF_BEFORE, then the file changed to name the slow user. */
static void start_with_conf(const char *timeout_ms)
{
	int fd;

	strcpy(conf, "/tmp/accel-resolver-conf-XXXXXX");
	fd = mkstemp(conf);
	assert_true(fd >= 0);
	close(fd);
	write_conf(CONF_BEFORE);
	assert_int_equal(start(timeout_ms), 0);
	write_conf(CONF_AFTER);
}

/*
 * Whether @call's quota (ours: no look-up; uid 4242's: one, behind any
 * parse on the resolver's worker) says max_queues is @limit.
 */
static bool quota_limit_is(const char *call, int limit)
{
	char buf[65536], want[32];
	int fd = raw_connect(broker.sock);
	bool found;

	assert_true(fd >= 0);
	assert_true(raw_call(fd, call, buf, sizeof(buf)) > 0);
	close(fd);
	snprintf(want, sizeof(want), "\"limit\":%d,", limit);
	found = strstr(buf, want) != NULL;
	if (!found)
		print_message("%s: %s\n", call, buf);
	return found;
}

static void a_reload_waits_for_a_user_in_the_configuration_off_the_loop(void **state)
{
	char buf[65536];
	int a, b;

	(void)state;
	start_with_conf(NULL);
	a = connect_sending(RELOAD);
	wait_entered();	/* the reload's parse is in getpwnam("blocked") */

	/* The loop is free: another client's call is answered, the Reload not yet. */
	b = connect_sending(GET_STATUS);
	assert_true(recv_within(b, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"devices\""));
	close(b);
	assert_true(quota_limit_is(QUOTA_OWN, 3));	/* the old policy, in force meanwhile */
	assert_false(readable_now(a));

	release();
	assert_true(recv_within(a, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"revoked\":0"));
	assert_true(quota_limit_is(QUOTA_OWN, 5));
	assert_true(quota_limit_is(QUOTA_4242, 7));	/* [user:blocked] is uid 4242's rule now */
	close(a);
}

static void a_reload_past_the_deadline_keeps_the_policy_and_the_next_waits_its_turn(void **state)
{
	char buf[65536];
	int a, b;

	(void)state;
	start_with_conf("2000");	/* long enough for the second Reload below, even in a slow build */
	a = connect_sending(RELOAD);
	wait_entered();
	assert_true(recv_within(a, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "org.accelbroker.Broker.OutOfResources"));
	assert_non_null(strstr(buf, "did not answer in time"));
	assert_true(quota_limit_is(QUOTA_OWN, 3));

	/* The worker is still inside the first parse: a second Reload runs after it, not beside it. */
	b = connect_sending(RELOAD);
	release();
	wait_entered();	/* the second parse */
	assert_false(readable_now(b));
	release();
	assert_true(recv_within(b, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"revoked\":0"));
	assert_true(quota_limit_is(QUOTA_OWN, 5));
	assert_true(quota_limit_is(QUOTA_4242, 7));
	close(b);
	close(a);
}

static void reloads_that_never_reached_the_worker_time_out_and_leave_the_policy(void **state)
{
	char buf[65536];
	int a, b;

	(void)state;
	start_with_conf("300");
	a = connect_sending(RELOAD);
	wait_entered();
	b = connect_sending(RELOAD);	/* queued behind a's parse: cut off before the worker takes it */
	assert_true(recv_within(a, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "did not answer in time"));
	assert_true(recv_within(b, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "did not answer in time"));

	/* a's late parse is thrown away (an ASan build would catch b's work used after its free). */
	release();
	assert_true(quota_limit_is(QUOTA_OWN, 3));
	assert_true(quota_limit_is(QUOTA_4242, 3));
	assert_true(broker_alive(&broker));
	close(b);
	close(a);
}

#define NOBODY 65534

/* As nobody, on its own connection: GetQuota of root answered PermissionDenied within WAIT_MS. */
static int nobody_asks_about_root(void)
{
	char buf[4096];
	int fd;

	if (setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
		return 1;
	fd = raw_connect(broker.sock);
	if (fd < 0 || raw_send(fd, "{\"method\":\"org.accelbroker.Broker.GetQuota\","
				   "\"parameters\":{\"user\":\"0\"}}") < 0)
		return 2;
	if (recv_within(fd, buf, sizeof(buf)) <= 0)
		return 3;	/* waited behind the look-up */
	return strstr(buf, "org.accelbroker.Broker.PermissionDenied") ? 0 : 4;
}

/*
 * Another user's uid named by a non-admin is refused before the user
 * database is asked: the answer comes while the resolver's only worker is
 * held by a look-up, so a refused caller never keeps it busy.
 */
static void a_non_admin_naming_another_uid_is_refused_without_a_lookup(void **state)
{
	char buf[65536];
	pid_t pid;
	int a;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(start(NULL), 0);
	a = connect_sending(REVOKE_BLOCKED);
	wait_entered();
	pid = fork_child();
	if (pid == 0)
		_exit(nobody_asks_about_root());
	assert_int_equal(wait_status(pid), 0);
	release();
	assert_true(recv_within(a, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"revoked\""));
	close(a);
}

/* A private bus like the system one (scripts/private-system-bus), for the broker started next. */
static int start_bus(void)
{
	char cmd[256], path[128], address[128];
	FILE *f;

	strcpy(bus_dir, "/tmp/accel-dbus-XXXXXX");
	if (!mkdtemp(bus_dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "scripts/private-system-bus %s", bus_dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/bus.pid", bus_dir);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%d", &bus_pid) != 1)
		bus_pid = -1;
	if (f)
		fclose(f);
	snprintf(address, sizeof(address), "unix:path=%s/bus.sock", bus_dir);
	setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1);
	return bus_pid > 0 ? 0 : -1;
}

struct bus_answer {
	bool answered;
	int error;		/* 0, or the error's errno */
	uint32_t revoked;
};

static int on_revoke_reply(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus_answer *a = userdata;

	(void)error;
	a->answered = true;
	if (sd_bus_message_is_method_error(m, NULL))
		a->error = sd_bus_message_get_errno(m);
	else if (sd_bus_message_read(m, "u", &a->revoked) < 0)
		a->error = EBADMSG;
	return 0;
}

static void revoke_blocked_on_bus(sd_bus *bus, struct bus_answer *a)
{
	assert_true(sd_bus_call_method_async(bus, NULL, "org.accelbroker.Broker1", "/org/accelbroker/Broker1",
					     "org.accelbroker.Broker1", "Revoke", on_revoke_reply, a, "a{sv}", 1,
					     "user", "s", "blocked") >= 0);
	assert_true(sd_bus_flush(bus) >= 0);
}

static void bus_calls_wait_for_their_user_without_stalling_anyone(void **state)
{
	struct bus_answer first = { 0 }, second = { 0 };
	char buf[65536];
	sd_bus *bus = NULL, *leaving = NULL;
	int b;

	(void)state;
	assert_int_equal(start_bus(), 0);
	assert_int_equal(start(NULL), 0);
	assert_true(sd_bus_open_system(&bus) >= 0);
	revoke_blocked_on_bus(bus, &first);
	wait_entered();

	/* The loop is free: a socket client and the same bus connection are answered meanwhile. */
	b = connect_sending(GET_STATUS);
	assert_true(recv_within(b, buf, sizeof(buf)) > 0);
	close(b);
	assert_true(sd_bus_call_method(bus, "org.accelbroker.Broker1", "/org/accelbroker/Broker1",
				       "org.accelbroker.Broker1", "GetQuota", NULL, NULL, "s", "") >= 0);
	assert_false(first.answered);

	release();
	for (int i = 0; i < 100 && !first.answered; i++)
		if (sd_bus_process(bus, NULL) == 0)
			sd_bus_wait(bus, WAIT_MS * 1000ull);
	assert_true(first.answered);
	assert_int_equal(first.error, 0);
	assert_int_equal(first.revoked, 0);

	/* A name that leaves while its lookup is out: the answer finds no one, the broker goes on. */
	assert_true(sd_bus_open_system(&leaving) >= 0);
	revoke_blocked_on_bus(leaving, &second);
	wait_entered();
	leaving = sd_bus_flush_close_unref(leaving);
	release();
	b = connect_sending(REVOKE_BLOCKED);
	wait_entered();
	release();
	assert_true(recv_within(b, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"revoked\""));
	close(b);
	sd_bus_flush_close_unref(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(others_are_answered_while_a_name_is_looked_up, teardown),
		cmocka_unit_test_teardown(a_lookup_past_its_deadline_is_answered_and_its_late_answer_dropped,
					  teardown),
		cmocka_unit_test_teardown(a_client_that_leaves_during_its_lookup_is_forgotten, teardown),
		cmocka_unit_test_teardown(one_uid_may_have_only_a_few_lookups_in_flight, teardown),
		cmocka_unit_test_teardown(a_non_admin_naming_another_uid_is_refused_without_a_lookup, teardown),
		cmocka_unit_test_teardown(bus_calls_wait_for_their_user_without_stalling_anyone, teardown),
		cmocka_unit_test_teardown(a_reload_waits_for_a_user_in_the_configuration_off_the_loop, teardown),
		cmocka_unit_test_teardown(a_reload_past_the_deadline_keeps_the_policy_and_the_next_waits_its_turn,
					  teardown),
		cmocka_unit_test_teardown(reloads_that_never_reached_the_worker_time_out_and_leave_the_policy,
					  teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

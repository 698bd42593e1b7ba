// SPDX-License-Identifier: MIT
/*
 * accel-run and libaccel-preload.so on the host: a broker serving a fake
 * uacce tree (regular files for nodes: no queue work, that is the VM's
 * part), and preload_probe, a program that knows nothing of the broker,
 * reaching the devices as UADK does.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

struct fixture {
	struct broker_proc broker;
	char tree[64];
	char dev[128];
};

static int start(void **state, const char *max_queues)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int r;

	strcpy(f->tree, "/tmp/accel-preload-XXXXXX");
	if (!f || fake_uacce_tree(f->tree, f->dev, sizeof(f->dev)) < 0)
		return -1;
	r = broker_start(&f->broker, (const char *const[]){ "--sim", "0", "--sysfs-root", f->tree, "--dev-root",
							   f->dev, "--max-queues-per-user", max_queues, NULL });
	if (r < 0) {
		fprintf(stderr, "broker did not start: %s\n", strerror(-r));
		return -1;
	}
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return start(state, "3");
}

static int setup_roomy(void **state)
{
	return start(state, "200");
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];
	int status = broker_stop(&f->broker);

	children_kill();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->tree);
	if (system(cmd) != 0 || status != 0) {
		fprintf(stderr, "broker exit status %d\n", status);
		return -1;
	}
	free(f);
	return 0;
}

struct probe_run {
	pid_t pid;
	int out;	/* its stdout */
	int in;		/* its stdin: closing it lets a waiting probe go on */
};

/* Start preload_probe SCENARIO [ARG] under accel-run with @socket. */
static void probe_start(struct fixture *f, const char *socket, const char *scenario, const char *arg,
			struct probe_run *p)
{
	char run[256], prog[256];
	int out[2], in[2];

	snprintf(run, sizeof(run), "%s/accel-run", build_dir());
	snprintf(prog, sizeof(prog), "%s/tests/preload_probe", build_dir());
	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(in), 0);
	p->pid = fork_child();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(in[0], STDIN_FILENO);
		close(in[1]);
		setenv("ACCEL_UACCE_SYSFS", f->tree, 1);
		setenv("ACCEL_UACCE_DEV", f->dev, 1);
		/* SAN=1: the preload is instrumented too, and comes before the runtime. */
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
		execl(run, run, "--socket", socket, prog, scenario, arg, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(in[0]);
	p->out = out[0];
	p->in = in[1];
}

/* Read what the probe says until @until appears or it closes its stdout; into @buf. */
static void probe_read(struct probe_run *p, const char *until, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	buf[0] = '\0';
	while (got < size - 1 && !(until && strstr(buf, until)) &&
	       (n = read(p->out, buf + got, size - 1 - got)) > 0) {
		got += (size_t)n;
		buf[got] = '\0';
	}
}

/* Let it finish: its exit status. */
static int probe_finish(struct probe_run *p, char *buf, size_t size)
{
	int status;

	close(p->in);
	probe_read(p, NULL, buf, size);
	close(p->out);
	status = wait_status(p->pid);
	if (status != 0)
		fprintf(stderr, "preload_probe: status %d, said: %s\n", status, buf);
	return status;
}

/* Run preload_probe SCENARIO [ARG] to its end: its exit status; what it said in @out. */
static int probe(struct fixture *f, const char *socket, const char *scenario, const char *arg,
		 char *out, size_t size)
{
	struct probe_run p;

	probe_start(f, socket, scenario, arg, &p);
	return probe_finish(&p, out, size);
}

/* What the broker holds now: GetStatus's queues_active. */
static int queues_active(struct fixture *f);

/* The broker reclaims when it sees a connection close, on its own time: wait for @want, bounded (5 s). */
static int wait_queues_active(struct fixture *f, int want)
{
	int n = -1;

	for (int i = 0; i < 5000 && (n = queues_active(f)) != want; i++)
		usleep(1000);
	return n;
}

static int queues_active(struct fixture *f)
{
	char reply[4096];
	const char *p;
	int fd = raw_connect(f->broker.sock);

	assert_true(fd >= 0);
	assert_true(raw_call(fd, "{\"method\":\"org.accelbroker.Broker.GetStatus\"}", reply, sizeof(reply)) > 0);
	close(fd);
	p = strstr(reply, "\"queues_active\":");
	assert_non_null(p);
	return atoi(p + strlen("\"queues_active\":"));
}

static void the_listing_shows_the_devices_the_user_may_use(void **state)
{
	struct fixture *f = *state;
	char out[256];

	assert_int_equal(probe(f, f->broker.sock, "list", NULL, out, sizeof(out)), 0);
}

static void the_quota_shows_in_available_instances_and_ends_in_ebusy(void **state)
{
	struct fixture *f = *state;
	char out[256];

	assert_int_equal(probe(f, f->broker.sock, "quota", NULL, out, sizeof(out)), 0);
	assert_int_equal(wait_queues_active(f, 0), 0);	/* the probe exited: the broker has them back */
}

static void a_queue_lives_until_its_last_descriptor_closes(void **state)
{
	struct fixture *f = *state;
	char out[256];

	assert_int_equal(probe(f, f->broker.sock, "dup", NULL, out, sizeof(out)), 0);
}

static void a_forked_child_has_its_own_connection_and_queues(void **state)
{
	struct fixture *f = *state;
	char out[256];

	assert_int_equal(probe(f, f->broker.sock, "fork", NULL, out, sizeof(out)), 0);
}

static void a_vfork_child_s_close_leaves_the_parent_s_queue(void **state)
{
	struct fixture *f = *state;
	char out[256];

	assert_int_equal(probe(f, f->broker.sock, "vfork", NULL, out, sizeof(out)), 0);
}

static void closefrom_and_stale_descriptors_give_queues_back(void **state)
{
	struct fixture *f = *state;
	char out[256];

	assert_int_equal(probe(f, f->broker.sock, "closefrom", NULL, out, sizeof(out)), 0);
}

static void only_a_read_write_open_is_a_queue(void **state)
{
	struct fixture *f = *state;
	char out[256];

	assert_int_equal(probe(f, f->broker.sock, "flags", NULL, out, sizeof(out)), 0);
}

/* Whether @want appears in what the probe says within @ms (a bound for a hang, not a pace). */
static bool probe_says_within(struct probe_run *p, const char *want, int ms)
{
	char buf[256] = "";
	size_t got = 0;
	ssize_t n;

	while (!strstr(buf, want) && got < sizeof(buf) - 1 &&
	       poll(&(struct pollfd){ .fd = p->out, .events = POLLIN }, 1, ms) == 1 &&
	       (n = read(p->out, buf + got, sizeof(buf) - 1 - got)) > 0) {
		got += (size_t)n;
		buf[got] = '\0';
	}
	return strstr(buf, want) != NULL;
}

/* A broker that does not answer (stopped) holds up the thread that asked it, not another's close(). */
static void a_stalled_broker_does_not_hold_up_close(void **state)
{
	struct fixture *f = *state;
	struct probe_run p;
	char out[256];
	bool closed;

	probe_start(f, f->broker.sock, "stalled", NULL, &p);
	assert_true(probe_says_within(&p, "holding 1\n", 10000));
	assert_int_equal(kill(f->broker.pid, SIGSTOP), 0);
	assert_int_equal(write(p.in, "x", 1), 1);
	closed = probe_says_within(&p, "closed\n", 10000);
	assert_int_equal(kill(f->broker.pid, SIGCONT), 0);
	assert_true(closed);
	assert_int_equal(probe_finish(&p, out, sizeof(out)), 0);
}

static void exec_keeps_the_preload(void **state)
{
	struct fixture *f = *state;
	char out[256];

	assert_int_equal(probe(f, f->broker.sock, "exec", NULL, out, sizeof(out)), 0);
}

/* Without a broker every call is the kernel's: here, the fake tree's own files. */
static void without_a_broker_the_kernel_answers(void **state)
{
	struct fixture *f = *state;
	char out[256], nowhere[192];

	snprintf(nowhere, sizeof(nowhere), "%s/no-broker.sock", f->tree);
	assert_int_equal(probe(f, nowhere, "kernel", NULL, out, sizeof(out)), 0);
}

/* A program that opens 100 queues and exits without closing them: all reclaimed. */
static void a_hundred_queues_never_closed_are_reclaimed(void **state)
{
	struct fixture *f = *state;
	struct probe_run p;
	char out[256];

	probe_start(f, f->broker.sock, "many", "100", &p);
	probe_read(&p, "holding 100\n", out, sizeof(out));
	assert_non_null(strstr(out, "holding 100"));
	assert_int_equal(queues_active(f), 100);	/* the broker's, every one */
	assert_int_equal(probe_finish(&p, out, sizeof(out)), 0);
	assert_int_equal(wait_queues_active(f, 0), 0);
}

/* While a program holds raw queues, accelctl queues lists them as such. */
static void accelctl_lists_raw_queues(void **state)
{
	struct fixture *f = *state;
	struct probe_run p;
	char out[256], cmd[512], listing[4096] = "";
	FILE *in;

	probe_start(f, f->broker.sock, "many", "2", &p);
	probe_read(&p, "holding 2\n", out, sizeof(out));
	snprintf(cmd, sizeof(cmd), "%s/accelctl --socket %s queues", build_dir(), f->broker.sock);
	in = popen(cmd, "r");
	assert_non_null(in);
	assert_true(fread(listing, 1, sizeof(listing) - 1, in) > 0);
	assert_int_equal(pclose(in), 0);
	assert_int_equal(probe_finish(&p, out, sizeof(out)), 0);
	if (!strstr(listing, "hisi_zip-0       (raw)"))
		fail_msg("accelctl queues said: %s", listing);
}

/* accel-run --check: with --socket, its output and exit status; @out holds stdout and stderr. */
static int accel_run_check(const char *socket, char *out, size_t size)
{
	char run[256];
	int pipefd[2];
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	snprintf(run, sizeof(run), "%s/accel-run", build_dir());
	assert_int_equal(pipe(pipefd), 0);
	pid = fork_child();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		execl(run, run, "--socket", socket, "--check", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while (got < size - 1 && (n = read(pipefd[0], out + got, size - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(pipefd[0]);
	return wait_status(pid);
}

/* --check: each kernel device, its free queues and this user's share, or why not; no broker: status 1. */
static void check_says_what_the_user_may_have(void **state)
{
	struct fixture *f = *state;
	char out[2048], nowhere[192];
	const char *zip;
	unsigned free_ = 0, yours = 0;

	assert_int_equal(accel_run_check(f->broker.sock, out, sizeof(out)), 0);
	zip = strstr(out, "\nhisi_zip-0 ");
	if (!zip || sscanf(zip, "%*s %u %u", &free_, &yours) != 2 || free_ != 4 || yours != 3 ||
	    !strstr(out, "hisi_sec2-0") ||
	    !strstr(out, "UACCE_CMD_BIND_MM") || !strstr(out, "your quota leaves 3 more queues"))
		fail_msg("accel-run --check said: %s", out);
	snprintf(nowhere, sizeof(nowhere), "%s/no-broker.sock", f->tree);
	assert_int_equal(accel_run_check(nowhere, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "does not answer"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(the_listing_shows_the_devices_the_user_may_use, setup, teardown),
		cmocka_unit_test_setup_teardown(the_quota_shows_in_available_instances_and_ends_in_ebusy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_queue_lives_until_its_last_descriptor_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(a_forked_child_has_its_own_connection_and_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(a_vfork_child_s_close_leaves_the_parent_s_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(closefrom_and_stale_descriptors_give_queues_back, setup, teardown),
		cmocka_unit_test_setup_teardown(only_a_read_write_open_is_a_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(a_stalled_broker_does_not_hold_up_close, setup, teardown),
		cmocka_unit_test_setup_teardown(exec_keeps_the_preload, setup, teardown),
		cmocka_unit_test_setup_teardown(without_a_broker_the_kernel_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(check_says_what_the_user_may_have, setup, teardown),
		cmocka_unit_test_setup_teardown(accelctl_lists_raw_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(a_hundred_queues_never_closed_are_reclaimed, setup_roomy, teardown),
	};

	return cmocka_run_group_tests_name("preload", tests, NULL, NULL);
}

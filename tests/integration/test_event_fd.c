// SPDX-License-Identifier: MIT
/*
 * Completions in an event loop (accel_queue_event_fd()) on the broker's
 * software engine: the fd stays quiet while the program does not ask,
 * wakes a loop that armed, and loses no completion that lands between the
 * loop's last look and its arming.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <accel/accel.h>
#include <cmocka.h>

#include "harness.h"
#include "sim_engine.h"

static struct broker_proc broker;
static struct accel_client *client;
static struct accel_queue *queue;

static int setup(void **state)
{
	if (broker_start(&broker, (const char *const[]){ "--sim", "1", NULL }) < 0)
		return -1;
	if (accel_connect(broker.sock, &client) < 0)
		return -1;
	return accel_acquire(client, "copy", NULL, &queue) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	int r;

	accel_release(queue);
	accel_disconnect(client);
	r = broker_stop(&broker);
	children_kill();
	return r == 0 ? 0 : -1;
}

/* A copy of @len bytes (at most half the data area), from its first half to its second. */
static void submit_copy_of(struct accel_queue *q, uint64_t user_data, size_t len)
{
	size_t size;
	char *buf = accel_queue_buffer(q, &size);

	assert_true(len <= size / 2);
	assert_int_equal(accel_submit(q, &(struct accel_op){ .src = buf, .src_len = len, .dst = buf + size / 2,
							     .dst_len = len, .user_data = user_data }), 0);
}

static void submit_copy(struct accel_queue *q, uint64_t user_data)
{
	submit_copy_of(q, user_data, 8);
}

/* Whether @fd polls readable within @timeout_ms (POLLIN, or POLLHUP: the pipe's end). */
static bool readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & (POLLIN | POLLHUP));
}

/* A number from a file of /proc/<broker>/task/<tid>/: after @key in "status", or "syscall"'s first. */
static long task_number(const char *tid, const char *file, const char *key)
{
	char path[600], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/%s", (int)broker.pid, tid, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!key || strncmp(line, key, strlen(key)) == 0) {
			v = strtol(line + (key ? strlen(key) : 0), NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Whether broker thread @tid is one of the engine's (sim_engine.h names them). */
static bool engine_thread(const char *tid)
{
	char path[600], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)broker.pid, tid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return strcmp(comm, SIM_ENGINE_THREAD_NAME "\n") == 0;
}

/*
 * The engine threads: how many times they went to sleep (voluntary
 * switches), and whether all sleep in futex_waitv now.
 */
static long engine_sleeps(bool *all_asleep)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	long sleeps = 0;
	int engines = 0, asleep = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)broker.pid);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !engine_thread(de->d_name))
			continue;
		engines++;
		asleep += task_number(de->d_name, "syscall", NULL) == SYS_futex_waitv;
		sleeps += task_number(de->d_name, "status", "voluntary_ctxt_switches:");
	}
	closedir(d);
	*all_asleep = engines > 0 && asleep == engines;
	return sleeps;
}

/* Until the engine went to sleep again after @since (engine_sleeps()): all work done. */
static void engine_settles(long since)
{
	for (int tries = 0; tries < 100000; tries++) {
		bool asleep;
		long now = engine_sleeps(&asleep);
		if (asleep && now > since)
			return;
	}
	fail_msg("the engine never went to sleep");
}

/* A program that reaps without arming costs the engine no write: the fd stays quiet. */
static void a_busy_queue_never_signals(void **state)
{
	struct accel_completion c[16];
	int fd = accel_queue_event_fd(queue), done = 0;

	assert_true(fd >= 0);
	for (int i = 0; i < 1000; i++) {
		submit_copy(queue, (uint64_t)i);
		for (int n = 0; n == 0;) {
			n = accel_poll(queue, c, 16);
			assert_true(n >= 0);
			done += n;
		}
	}
	assert_int_equal(done, 1000);
	engine_settles(0);
	assert_false(readable(fd, 0));
}

/* An armed, idle loop: one completion makes the fd readable; clearing takes it back. */
static void an_armed_loop_is_woken(void **state)
{
	struct accel_completion c;
	int fd = accel_queue_event_fd(queue);

	assert_int_equal(accel_queue_arm(queue), 0);
	assert_false(readable(fd, 0));
	submit_copy(queue, 7);
	assert_true(readable(fd, 10000));
	accel_queue_event_clear(queue);
	assert_false(readable(fd, 0));
	assert_int_equal(accel_poll(queue, &c, 1), 1);
	assert_int_equal(c.user_data, 7);
	assert_int_equal(accel_queue_arm(queue), 0);
}

/*
 * The race: the loop looked (nothing), the completion lands, then the loop
 * arms.  accel_queue_arm() must then say "look now" (1), or the fd must
 * wake the loop: never neither, or the loop sleeps on a completion that
 * is there.  The window is made wide on purpose: the engine has finished
 * (asleep) before we arm.
 */
static void a_completion_between_the_look_and_the_arm_is_not_lost(void **state)
{
	struct accel_completion c;
	int fd = accel_queue_event_fd(queue), in_window = 0, quick = 0;

	for (int i = 0; i < 200; i++) {
		bool asleep;
		long before = engine_sleeps(&asleep);

		submit_copy_of(queue, (uint64_t)i, 256 * 1024);	/* slow enough to look before it is done */
		if (accel_poll(queue, &c, 1) == 1) {
			quick++;
			continue;
		}
		engine_settles(before);
		if (accel_queue_arm(queue) == 1) {
			in_window++;
		} else {
			assert_true(readable(fd, 10000));
			accel_queue_event_clear(queue);
		}
		assert_int_equal(accel_poll(queue, &c, 1), 1);
		assert_int_equal(c.user_data, (uint64_t)i);
	}
	fprintf(stderr, "of 200: %d done at the first look, %d found by the re-check after arming\n", quick,
		in_window);
	/* The engine had finished each time: the re-check, not the fd, must have found every one. */
	assert_true(in_window > 0);
	assert_int_equal(in_window, 200 - quick);
}

/* Bytes waiting in the event fd, not taken. */
static int pending_bytes(int fd)
{
	int n = -1;

	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

/*
 * A loop asleep through several completions, each in a turn of its own:
 * one byte in the pipe, not one per turn (the engine answers an arm
 * once), and the next arm gets its own.
 */
static void a_sleeping_loop_costs_one_write_per_arm(void **state)
{
	int fd = accel_queue_event_fd(queue);
	struct accel_completion c[8];

	assert_int_equal(accel_queue_arm(queue), 0);
	for (int i = 0; i < 5; i++) {
		bool asleep;
		long before = engine_sleeps(&asleep);

		submit_copy(queue, (uint64_t)i);
		engine_settles(before);
	}
	assert_int_equal(pending_bytes(fd), 1);
	accel_queue_event_clear(queue);
	assert_int_equal(accel_poll(queue, c, 8), 5);
	assert_int_equal(accel_queue_arm(queue), 0);
	submit_copy(queue, 5);
	assert_true(readable(fd, 10000));
	assert_int_equal(pending_bytes(fd), 1);
	accel_queue_event_clear(queue);
	assert_int_equal(accel_poll(queue, c, 8), 1);
}

static int setup_gzip(void **state)
{
	if (broker_start(&broker, (const char *const[]){ "--sim", "1", NULL }) < 0)
		return -1;
	if (accel_connect(broker.sock, &client) < 0)
		return -1;
	return accel_acquire(client, "gzip", NULL, &queue) < 0 ? -1 : 0;
}

struct waiter {
	struct accel_queue *queue;
	int r;
};

/* accel_wait() for at most 1 ms, on a thread of its own. */
static void *wait_briefly(void *arg)
{
	struct waiter *w = arg;
	struct accel_completion c;

	w->r = accel_wait(w->queue, &c, 1, 1);
	return NULL;
}

/*
 * One thread sleeps in accel_wait() while the event loop is armed on the
 * same queue.  The waiter gives up (its timeout) and lowers its flag; the
 * loop's arm must stay up: the completion that lands after must still
 * make the event fd readable, or the loop sleeps on it.  A slow operation
 * (1 MiB at gzip level 9) holds the completion back past the waiter's
 * 1 ms; should it finish sooner, the round is tried again.
 */
static void accel_wait_on_another_thread_does_not_disarm_the_loop(void **state)
{
	int fd = accel_queue_event_fd(queue), timed_out = 0;
	size_t size;
	unsigned char *buf = accel_queue_buffer(queue, &size);
	struct accel_completion c;
	uint32_t x = 12345;

	/* Words from a small alphabet: compressible, so level 9 searches hard. */
	for (size_t i = 0; i < size / 2; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (x >> 16) % 7 == 0 ? ' ' : (unsigned char)('a' + (x >> 20) % 8);
	}
	for (int round = 0; round < 20 && !timed_out; round++) {
		struct waiter w = { queue, 0 };
		pthread_t t;

		assert_int_equal(accel_submit(queue, &(struct accel_op){ .src = buf, .src_len = size / 2,
									 .dst = buf + size / 2, .dst_len = size / 2,
									 .arg = 9, .flags = ACCEL_OP_FINISH,
									 .user_data = (uint64_t)round }), 0);
		assert_int_equal(accel_queue_arm(queue), 0);
		assert_int_equal(pthread_create(&t, NULL, wait_briefly, &w), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
		if (w.r == -ETIME) {
			timed_out = 1;
			assert_true(readable(fd, 20000));
		}
		accel_queue_event_clear(queue);
		if (w.r != 1)
			assert_int_equal(accel_wait(queue, &c, 1, 20000), 1);
	}
	assert_true(timed_out);
}

/* After a_dead_broker_ends_the_queue_at_once(): the broker is gone already. */
static int teardown_killed(void **state)
{
	char cmd[128];

	accel_release(queue);
	accel_disconnect(client);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", broker.dir);
	(void)!system(cmd);
	children_kill();
	return 0;
}

/*
 * A broker killed with no fd store to keep the queue: the last write end
 * of the event pipe is gone, the loop wakes on the pipe's end, and the
 * queue reads lost at once (-ENOLINK), not a minute later when the
 * reconnecting thread gives up on a broker that is not coming back; a
 * loop would spin on the readable fd meanwhile.
 */
static void a_dead_broker_ends_the_queue_at_once(void **state)
{
	struct accel_completion c;
	int fd = accel_queue_event_fd(queue);

	assert_int_equal(accel_queue_arm(queue), 0);
	kill_child(broker.pid);
	broker.pid = 0;
	assert_true(readable(fd, 10000));
	accel_queue_event_clear(queue);
	assert_int_equal(accel_poll(queue, &c, 1), -ENOLINK);
	assert_int_equal(accel_queue_state(queue), ACCEL_QUEUE_REVOKED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_busy_queue_never_signals, setup, teardown),
		cmocka_unit_test_setup_teardown(an_armed_loop_is_woken, setup, teardown),
		cmocka_unit_test_setup_teardown(a_completion_between_the_look_and_the_arm_is_not_lost, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_sleeping_loop_costs_one_write_per_arm, setup, teardown),
		cmocka_unit_test_setup_teardown(accel_wait_on_another_thread_does_not_disarm_the_loop, setup_gzip,
						teardown),
		cmocka_unit_test_setup_teardown(a_dead_broker_ends_the_queue_at_once, setup, teardown_killed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

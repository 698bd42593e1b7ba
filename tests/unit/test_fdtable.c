// SPDX-License-Identifier: MIT
/* libaccel-preload.so's descriptor bookkeeping: a queue lives until its last descriptor closes. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdtable.h"

static void a_queue_goes_back_when_its_only_fd_closes(void **state)
{
	struct fdtable t = { 0 };

	(void)state;
	assert_int_equal(fdtable_add(&t, 5, 42, NULL), 0);
	assert_true(fdtable_lookup(&t, 5, NULL));
	assert_int_equal(fdtable_close(&t, 6), 0);	/* not a queue's */
	assert_int_equal(fdtable_close(&t, 5), 42);
	assert_false(fdtable_lookup(&t, 5, NULL));
	assert_int_equal(fdtable_close(&t, 5), 0);	/* closed already */
	fdtable_clear(&t);
}

static void a_duplicated_queue_lives_until_its_last_fd(void **state)
{
	struct fdtable t = { 0 };
	uint64_t id = 0;

	(void)state;
	assert_int_equal(fdtable_add(&t, 5, 42, NULL), 0);
	assert_int_equal(fdtable_dup(&t, 5, 9), 0);	/* dup(), F_DUPFD */
	assert_true(fdtable_lookup(&t, 9, &id));
	assert_int_equal(id, 42);
	assert_int_equal(fdtable_close(&t, 5), 0);
	assert_int_equal(fdtable_dup(&t, 9, 9), 0);	/* dup2(fd, fd) closes nothing */
	assert_int_equal(fdtable_close(&t, 9), 42);
	assert_int_equal(fdtable_count(&t), 0);
	fdtable_clear(&t);
}

/* dup2() onto a queue's last descriptor closes it: that queue goes back, the copied one lives on. */
static void dup2_onto_a_queue_fd_gives_that_queue_back(void **state)
{
	struct fdtable t = { 0 };
	uint64_t id = 0;

	(void)state;
	assert_int_equal(fdtable_add(&t, 5, 42, NULL), 0);
	assert_int_equal(fdtable_add(&t, 6, 43, NULL), 0);
	assert_int_equal(fdtable_dup(&t, 5, 6), 43);
	assert_true(fdtable_lookup(&t, 6, &id));
	assert_int_equal(id, 42);
	/* A plain file dup2()ed onto a queue's descriptor: the queue goes, the fd is no queue's. */
	assert_int_equal(fdtable_dup(&t, 3, 5), 0);	/* 6 still holds 42 */
	assert_false(fdtable_lookup(&t, 5, NULL));
	assert_int_equal(fdtable_dup(&t, 3, 6), 42);
	assert_int_equal(fdtable_count(&t), 0);
	fdtable_clear(&t);
}

static void close_range_gives_back_the_queues_it_emptied(void **state)
{
	struct fdtable t = { 0 };
	uint64_t ids[8];
	size_t n;

	(void)state;
	for (int fd = 10; fd < 20; fd++)
		assert_int_equal(fdtable_add(&t, fd, (uint64_t)fd, NULL), 0);
	assert_int_equal(fdtable_dup(&t, 12, 30), 0);	/* queue 12 keeps fd 30 */
	n = fdtable_close_range(&t, 11, 14, ids, 8);
	assert_int_equal(n, 3);	/* 11, 13, 14 */
	for (size_t i = 0; i < n; i++)
		assert_true(ids[i] == 11 || ids[i] == 13 || ids[i] == 14);
	assert_true(fdtable_lookup(&t, 10, NULL));
	assert_true(fdtable_lookup(&t, 30, NULL));
	assert_int_equal(fdtable_count(&t), 7);
	assert_int_equal(fdtable_close_range(&t, 0, ~0u, ids, 8), 7);
	assert_int_equal(fdtable_count(&t), 0);
	fdtable_clear(&t);
}

/* A forked child's copies are its parent's queues: forgotten, never given back by the child. */
static void a_forked_child_forgets_its_parents_queues(void **state)
{
	struct fdtable t = { 0 };

	(void)state;
	assert_int_equal(fdtable_add(&t, 5, 42, NULL), 0);
	fdtable_clear(&t);
	assert_int_equal(fdtable_close(&t, 5), 0);
	assert_int_equal(fdtable_add(&t, 5, 7, NULL), 0);
	assert_int_equal(fdtable_close(&t, 5), 7);
	fdtable_clear(&t);
}

/* A descriptor closed behind our back and reused by a new queue: the old queue goes back, unless it has another. */
static void a_stale_entry_gives_its_queue_back(void **state)
{
	struct fdtable t = { 0 };
	uint64_t stale = 1;

	(void)state;
	assert_int_equal(fdtable_add(&t, 5, 42, &stale), 0);
	assert_int_equal(stale, 0);
	assert_int_equal(fdtable_add(&t, 5, 43, &stale), 0);	/* 5 was closed by closefrom(), say */
	assert_int_equal(stale, 42);
	assert_int_equal(fdtable_dup(&t, 5, 6), 0);
	assert_int_equal(fdtable_add(&t, 5, 44, &stale), 0);
	assert_int_equal(stale, 0);	/* 6 still holds 43 */
	assert_int_equal(fdtable_close(&t, 6), 43);
	assert_int_equal(fdtable_close(&t, 5), 44);
	fdtable_clear(&t);
}

/*
 * Another process (a vfork()ed child shares the memory; a fork()ed one
 * whose fork handler did not run) sees an empty table and changes nothing.
 */
static void a_table_is_its_own_process_s(void **state)
{
	struct fdtable t = { 0 };
	uint64_t ids[4];
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(fdtable_add(&t, 5, 42, NULL), 0);
	assert_int_equal(fdtable_add(&t, 7, 43, NULL), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		bool ok = fdtable_close(&t, 5) == 0 && !fdtable_lookup(&t, 7, NULL) && fdtable_count(&t) == 0 &&
			  fdtable_dup(&t, 7, 8) == 0 && fdtable_close_range(&t, 0, ~0u, ids, 4) == 0 &&
			  fdtable_add(&t, 9, 44, NULL) == -EPERM && t.n == 2;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(fdtable_count(&t), 2);
	assert_int_equal(fdtable_close(&t, 5), 42);
	fdtable_clear(&t);	/* a forked child's handler: the table is this process's anew */
	assert_int_equal(fdtable_add(&t, 5, 7, NULL), 0);
	assert_int_equal(fdtable_close(&t, 5), 7);
	fdtable_clear(&t);
}

/* Many queues: the table grows and still counts right. */
static void hundreds_of_queues(void **state)
{
	struct fdtable t = { 0 };

	(void)state;
	for (int fd = 0; fd < 300; fd++)
		assert_int_equal(fdtable_add(&t, fd, (uint64_t)fd + 1, NULL), 0);
	for (int fd = 299; fd >= 0; fd--)
		assert_int_equal(fdtable_close(&t, fd), (uint64_t)fd + 1);
	fdtable_clear(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_queue_goes_back_when_its_only_fd_closes),
		cmocka_unit_test(a_duplicated_queue_lives_until_its_last_fd),
		cmocka_unit_test(dup2_onto_a_queue_fd_gives_that_queue_back),
		cmocka_unit_test(close_range_gives_back_the_queues_it_emptied),
		cmocka_unit_test(a_forked_child_forgets_its_parents_queues),
		cmocka_unit_test(a_stale_entry_gives_its_queue_back),
		cmocka_unit_test(a_table_is_its_own_process_s),
		cmocka_unit_test(hundreds_of_queues),
	};

	return cmocka_run_group_tests_name("fdtable", tests, NULL, NULL);
}

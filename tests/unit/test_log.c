// SPDX-License-Identifier: MIT
/* The rate limit on client-caused log messages: one per uid, in a bounded table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static char logged[65536];
static struct timespec started;

/* Whether the rate limit's window may have ended since started: counts are then looser. */
static int window_may_have_ended(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - started.tv_sec) * 1000000ULL + 1000000ULL >=
	       LOG_RATELIMIT_INTERVAL_USEC;
}

/* Run @fn with stderr captured into logged[]; returns how many lines it wrote. */
static unsigned capture(void (*fn)(void))
{
	int saved, pipefd[2];
	unsigned lines = 0;
	ssize_t n;

	assert_int_equal(pipe(pipefd), 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(pipefd[1], STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(pipefd[1]);
	n = read(pipefd[0], logged, sizeof(logged) - 1);
	logged[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	for (char *p = logged; (p = strchr(p, '\n')); p++)
		lines++;
	return lines;
}

static void flood_then_others(void)
{
	for (int i = 0; i < 3 * LOG_RATELIMIT_BURST; i++)
		log_client(1000, LOG_NOTICE, "flood %d from uid 1000", i);
	log_client(0, LOG_NOTICE, "one line about uid 0");
	log_client(LOG_UID_NONE, LOG_NOTICE, "one line about nobody known");
}

/* uid 1000's flood is cut at its burst; the others' lines still get out. */
static void one_uid_cannot_silence_another(void **state)
{
	clock_gettime(CLOCK_MONOTONIC, &started);
	assert_int_equal(capture(flood_then_others), LOG_RATELIMIT_BURST + 2);
	assert_non_null(strstr(logged, "flood 19 from uid 1000"));
	assert_null(strstr(logged, "flood 20 from uid 1000"));
	assert_non_null(strstr(logged, "one line about uid 0"));
	assert_non_null(strstr(logged, "one line about nobody known"));
}

static void many_uids(void)
{
	/* More uids than the table holds, each flooding: the rest share one budget. */
	for (unsigned uid = 2000; uid < 2000 + 2 * LOG_CLIENT_UIDS; uid++)
		for (int i = 0; i < 2 * LOG_RATELIMIT_BURST; i++)
			log_client(uid, LOG_NOTICE, "uid %u line %d", uid, i);
}

static void the_table_is_bounded(void **state)
{
	/* Three slots are still held by the first test's uids, within their window. */
	unsigned own = LOG_CLIENT_UIDS - 3, lines = capture(many_uids);

	if (window_may_have_ended())
		skip();	/* a machine this slow frees slots under the test */
	assert_int_equal(lines, (own + 1) * LOG_RATELIMIT_BURST);
}

static void one_notice(void)
{
	log_notice("a line for a person");
}

/* journald reads the "<N>" priority off a pipe; a person at a terminal gets the bare line. */
static void prefix_only_when_not_a_terminal(void **state)
{
	char buf[256];
	int master, slave, saved;
	ssize_t n;

	capture(one_notice);
	assert_string_equal(logged, "<5>a line for a person\n");

	master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	assert_true(slave >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(slave, STDERR_FILENO);
	one_notice();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(slave);
	n = read(master, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	close(master);
	/* The terminal turns "\n" into "\r\n". */
	assert_string_equal(buf, "a line for a person\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_uid_cannot_silence_another),
		cmocka_unit_test(the_table_is_bounded),
		cmocka_unit_test(prefix_only_when_not_a_terminal),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}

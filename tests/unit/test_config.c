// SPDX-License-Identifier: MIT
/* The configuration file: values, and errors that name file and line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "policy.h"

static char path[64];
static char logged[4096];

static int load_n(const char *text, size_t len, struct config *cfg)
{
	FILE *f;
	int saved, pipefd[2], r;
	ssize_t n;

	strcpy(path, "/tmp/accel-config-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fwrite(text, 1, len, f);
	fclose(f);
	/* Capture what the parser logs on stderr. */
	assert_int_equal(pipe(pipefd), 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(pipefd[1], STDERR_FILENO);
	config_init(cfg);
	r = config_load(cfg, NULL, path, true, NULL, 0);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(pipefd[1]);
	n = read(pipefd[0], logged, sizeof(logged) - 1);
	logged[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	unlink(path);
	return r;
}

static int load(const char *text, struct config *cfg)
{
	return load_n(text, strlen(text), cfg);
}

/* As load(), with the policy sections taken too. */
static int load_with_policy(const char *text, struct config *cfg)
{
	struct policy p;
	char file[] = "/tmp/accel-config-XXXXXX";
	int fd = mkstemp(file), r;
	FILE *f = fdopen(fd, "w");

	fputs(text, f);
	fclose(f);
	config_init(cfg);
	policy_init(&p, 16);
	r = config_load(cfg, &p, file, true, NULL, 0);
	policy_finish(&p);
	unlink(file);
	return r;
}

static void values_are_read(void **state)
{
	struct config cfg;

	assert_int_equal(load("# comment\n[broker]\nsim_devices = 3\nsim_queues=8\n"
			      "engine_threads = 2\nmax_queues_per_user = 4\n", &cfg), 0);
	assert_int_equal(cfg.sim_devices, 3);
	assert_int_equal(cfg.sim_queues, 8);
	assert_int_equal(cfg.engine_threads, 2);
	assert_int_equal(cfg.max_queues_per_user, 4);
	assert_int_equal(cfg.max_connections_per_user, 64);	/* default kept */
}

static void errors_name_file_and_line(void **state)
{
	static const struct {
		const char *text, *needle;
	} cases[] = {
		{ "[broker]\nsim_queuez = 3\n", ":2: unknown key \"sim_queuez\"" },
		{ "[broker]\n\nsim_queues = lots\n", ":3: sim_queues: \"lots\" is not a number" },
		{ "[broker]\nsim_queues = 0\n", ":2: sim_queues: \"0\" is not a number from 1" },
		{ "[broker]\nsim_devices = 9999999999999\n", ":2: sim_devices" },
		{ "[brokr]\nsim_queues = 3\n", ":2: unknown section [brokr]" },
		{ "sim_queues = 3\n", ":1: unknown section []" },
		{ "[broker]\nthis line has no equals sign\n", ":2: syntax error" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		assert_int_equal(load(cases[i].text, &cfg), -EINVAL);
		if (!strstr(logged, path) || !strstr(logged, cases[i].needle))
			fail_msg("case %zu: log \"%s\" lacks \"%s\"", i, logged, cases[i].needle);
	}
}

/*
 * A line longer than inih's buffer is one error naming its line: no piece of
 * it (here the tail of a comment) takes effect, and later lines keep their
 * numbers.  A line that just fits is read whole.
 */
static void long_lines_are_errors_and_never_split(void **state)
{
	char text[1024], pad[400];
	struct config cfg;

	memset(pad, 'x', sizeof(pad));
	/* 197 characters: the longest line inih's 200-byte buffer holds. */
	snprintf(text, sizeof(text), "[broker]\n# %.*s\nsim_queues = 5\n", 195, pad);
	assert_int_equal(load(text, &cfg), 0);
	assert_int_equal(cfg.sim_queues, 5);

	snprintf(text, sizeof(text), "[broker]\n# %.*s sim_queues = 7\r\nsim_queuez = 3\n", 200, pad);
	assert_int_equal(load(text, &cfg), -EINVAL);
	assert_int_equal(cfg.sim_queues, 16);	/* nothing of the comment took effect */
	if (!strstr(logged, ":2: the line is longer than 197 characters"))
		fail_msg("log \"%s\" lacks the long line 2", logged);
	if (!strstr(logged, ":3: unknown key \"sim_queuez\""))
		fail_msg("log \"%s\" lacks line 3", logged);

	/* A NUL byte would hide the rest of its line from inih. */
	static const char nul[] = "[broker]\nsim_queues = 6\0 junk\n";
	assert_int_equal(load_n(nul, sizeof(nul) - 1, &cfg), -EINVAL);
	assert_non_null(strstr(logged, ":2: the line holds a NUL byte"));
}

/* The shipped etc/accel-broker.conf parses, also with every key uncommented. */
static void shipped_file_parses_with_its_keys_enabled(void **state)
{
	char text[8192], line[512];
	size_t n = 0;
	struct config cfg;
	FILE *f = fopen("etc/accel-broker.conf", "r");

	assert_non_null(f);
	assert_int_equal(load("", &cfg), 0);
	while (fgets(line, sizeof(line), f)) {
		/* "#key = value" lines are the keys; admin_group names a group that may not exist here. */
		const char *l = line;
		if (line[0] == '#' && line[1] != ' ' && line[1] != '\n' && !strstr(line, "admin_group"))
			l = line + 1;
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", l);
	}
	fclose(f);
	assert_non_null(strstr(text, "\n[defaults]\nmax_queues = 16\n"));
	assert_int_equal(load_with_policy(text, &cfg), 0);
	assert_int_equal(cfg.sim_devices, 2);
	assert_int_equal(cfg.sim_queues, 16);
	assert_int_equal(cfg.max_connections, 4096);
}

static void missing_file_is_an_error_only_when_named(void **state)
{
	struct config cfg;

	config_init(&cfg);
	log_set_level(LOG_CRIT);
	assert_int_equal(config_load(&cfg, NULL, "/nonexistent/accel-broker.conf", false, NULL, 0), 0);
	assert_int_equal(config_load(&cfg, NULL, "/nonexistent/accel-broker.conf", true, NULL, 0), -EINVAL);
	log_set_level(LOG_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(values_are_read),
		cmocka_unit_test(errors_name_file_and_line),
		cmocka_unit_test(long_lines_are_errors_and_never_split),
		cmocka_unit_test(shipped_file_parses_with_its_keys_enabled),
		cmocka_unit_test(missing_file_is_an_error_only_when_named),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}

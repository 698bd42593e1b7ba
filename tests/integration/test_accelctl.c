// SPDX-License-Identifier: MIT
/*
 * accelctl and the broker as a user meets them: commands, --json, exit
 * statuses and messages, files through the accelerator checked by gzip(1),
 * and the broker under systemd-style socket activation.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <accel/accel.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "harness.h"

static struct broker_proc broker;
static char out[65536];

static int setup(void **state)
{
	static const char *const args[] = { "--sim", "2", NULL };
	return broker_start(&broker, args) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	int r = broker.pid > 0 ? broker_stop(&broker) : 0;

	children_kill();
	return r == 0 ? 0 : -1;
}

/* Run a shell command line; capture stdout+stderr in `out`; return the exit status. */
static int run(const char *fmt, ...)
{
	char cmd[2048], full[2300];
	va_list ap;
	FILE *p;
	size_t n;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd %s && (%s) 2>&1", broker.dir, cmd);
	p = popen(full, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define CTL "%s/accelctl --socket %s"
#define CTL_ARGS build_dir(), broker.sock

static void status_devices_and_queues_print_tables_and_json(void **state)
{
	struct json_object *o, *v;

	assert_int_equal(run(CTL " status", CTL_ARGS), 0);
	assert_non_null(strstr(out, "accel_sim-0"));
	assert_non_null(strstr(out, "copy crc32c gzip gunzip"));
	assert_int_equal(run(CTL " --json devices", CTL_ARGS), 0);
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "devices", &v));
	assert_int_equal(json_object_array_length(v), 2);
	json_object_put(o);
	assert_int_equal(run(CTL " status --json", CTL_ARGS), 0);
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "queues_active", &v));
	json_object_put(o);
	assert_int_equal(run(CTL " queues", CTL_ARGS), 0);
	assert_non_null(strstr(out, "QUEUE"));
}

static void queues_filters_by_user_and_device(void **state)
{
	struct accel_client *c;
	struct accel_queue *q[2];

	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", &(struct accel_acquire_options){ "accel_sim-0", -1 }, &q[0]), 0);
	assert_int_equal(accel_acquire(c, "copy", &(struct accel_acquire_options){ "accel_sim-1", -1 }, &q[1]), 0);
	assert_int_equal(run(CTL " queues --device accel_sim-1 --json", CTL_ARGS), 0);
	assert_null(strstr(out, "accel_sim-0"));
	assert_non_null(strstr(out, "accel_sim-1"));
	assert_int_equal(run(CTL " queues --user root", CTL_ARGS), 0);
	assert_non_null(strstr(out, "accel_sim-0"));
	assert_int_equal(run(CTL " queues --user 4242", CTL_ARGS), 0);
	assert_null(strstr(out, "accel_sim-"));
	assert_int_equal(run(CTL " queues --user no-such-user-x", CTL_ARGS), 1);
	assert_non_null(strstr(out, "no user"));
	accel_release(q[0]);
	accel_release(q[1]);
	accel_disconnect(c);
}

static void selftest_passes_every_check(void **state)
{
	assert_int_equal(run(CTL " selftest", CTL_ARGS), 0);
	assert_non_null(strstr(out, "5 passed, 0 failed"));
	assert_null(strstr(out, "FAIL "));
}

static void compress_output_is_read_by_gzip(void **state)
{
	assert_int_equal(run("seq 1 300000 > in.txt && " CTL " compress in.txt && gzip -t in.txt.gz && "
			     "gzip -dc in.txt.gz | cmp - in.txt", CTL_ARGS), 0);
	/* The output exists now: refused without -f, and nothing is lost. */
	assert_int_equal(run(CTL " compress in.txt", CTL_ARGS), 1);
	assert_non_null(strstr(out, "in.txt.gz: File exists"));
	assert_int_equal(run("gzip -t in.txt.gz"), 0);
	assert_int_equal(run(CTL " compress -f -o - in.txt | gzip -dc | cmp - in.txt", CTL_ARGS), 0);
}

static void decompress_reads_gzip_output_and_refuses_garbage(void **state)
{
	assert_int_equal(run("seq 1 200000 > a.txt && gzip -k a.txt && mv a.txt a.orig && "
			     CTL " decompress a.txt.gz && cmp a.txt a.orig", CTL_ARGS), 0);
	/* Concatenated members, as gzip(1) allows. */
	assert_int_equal(run("cat a.txt.gz a.txt.gz > two.gz && " CTL " decompress -o two two.gz && "
			     "cat a.orig a.orig | cmp - two", CTL_ARGS), 0);
	assert_int_equal(run("echo 'not gzip at all' > bad.gz && " CTL " decompress bad.gz", CTL_ARGS), 1);
	assert_non_null(strstr(out, "not gzip data, or corrupt"));
	assert_int_equal(run("test ! -e bad"), 0);	/* no half-written output left */
	assert_int_equal(run("head -c 5000 a.txt.gz > cut.gz && " CTL " decompress cut.gz", CTL_ARGS), 1);
	assert_non_null(strstr(out, "unexpected end"));
}

static void errors_are_clear_and_exit_non_zero(void **state)
{
	assert_int_equal(run("%s/accelctl --socket /nonexistent/sock status", build_dir()), 1);
	assert_non_null(strstr(out, "could not connect to the broker"));
	assert_int_equal(run(CTL " frobnicate", CTL_ARGS), 1);
	assert_non_null(strstr(out, "unknown command \"frobnicate\""));
	assert_int_equal(run(CTL " compress", CTL_ARGS), 1);
	assert_non_null(strstr(out, "takes one FILE"));
	assert_int_equal(run(CTL " compress /nonexistent/file", CTL_ARGS), 1);
	assert_non_null(strstr(out, "No such file or directory"));
	assert_int_equal(run(CTL " status extra", CTL_ARGS), 1);
	assert_int_equal(run("%s/accelctl --help", build_dir()), 0);
	assert_non_null(strstr(out, "selftest"));
	assert_int_equal(run(CTL " compress --help", CTL_ARGS), 0);
	assert_int_equal(run("%s/accel-broker --version", build_dir()), 0);
	assert_non_null(strstr(out, "accel-broker " ACCEL_VERSION));
	assert_int_equal(run("%s/accel-broker --sim lots", build_dir()), 1);
	assert_non_null(strstr(out, "--sim: \"lots\" is not a number"));
	assert_int_equal(run("printf '[broker]\\nsim_queuez=1\\n' > bad.conf && %s/accel-broker --config bad.conf "
			     "--socket x.sock", build_dir()), 1);
	assert_non_null(strstr(out, "bad.conf:2: unknown key \"sim_queuez\""));
}

static void quota_error_names_the_limit(void **state)
{
	assert_int_equal(broker_stop(&broker), 0);
	assert_int_equal(broker_start(&broker, (const char *const[]){ "--max-queues-per-user", "0", NULL }), 0);
	assert_int_equal(run(CTL " compress -o - /etc/hostname", CTL_ARGS), 1);
	assert_non_null(strstr(out, "org.accelbroker.Broker.QuotaExceeded"));
}

static void options_and_operands_mix_in_every_command(void **state)
{
	struct json_object *o, *v;

	assert_int_equal(run("seq 1 100000 > mix.txt && " CTL " compress mix.txt -o mix.gz -9 && gzip -t mix.gz",
			     CTL_ARGS), 0);
	assert_int_equal(run(CTL " decompress mix.gz --output mix.back --force && cmp mix.back mix.txt",
			     CTL_ARGS), 0);
	/* The global options after the command too. */
	assert_int_equal(run("%s/accelctl status --socket %s --json", CTL_ARGS), 0);
	assert_int_equal(run("%s/accelctl queues --user root --socket %s", CTL_ARGS), 0);
	assert_non_null(strstr(out, "QUEUE"));
	assert_int_equal(run(CTL " revoke 4242 --json", CTL_ARGS), 1);
	assert_null(strstr(out, "revoke takes one of"));
	assert_non_null(strstr(out, "NoSuchQueue"));
	assert_int_equal(run(CTL " revoke --device accel_sim-1 --json", CTL_ARGS), 0);
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "revoked", &v));
	json_object_put(o);
	assert_int_equal(run(CTL " quota --json", CTL_ARGS), 0);
	assert_non_null(strstr(out, "\"limits\""));
}

static void every_command_takes_json_or_says_it_does_not(void **state)
{
	struct json_object *o, *v;

	assert_int_equal(run(CTL " selftest --json", CTL_ARGS), 0);
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "passed", &v));
	assert_int_equal(json_object_get_int(v), 5);
	assert_true(json_object_object_get_ex(o, "checks", &v));
	assert_int_equal(json_object_array_length(v), 5);
	json_object_put(o);
	/* status --json lists the devices, as its table does. */
	assert_int_equal(run(CTL " status --json", CTL_ARGS), 0);
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "devices", &v));
	assert_true(json_object_is_type(v, json_type_array));
	assert_int_equal(json_object_array_length(v), 2);
	assert_true(json_object_object_get_ex(o, "device_count", &v));
	assert_int_equal(json_object_get_int(v), 2);
	json_object_put(o);
	assert_int_equal(run(CTL " --json compress /etc/hostname", CTL_ARGS), 1);
	assert_non_null(strstr(out, "compress has no --json output"));
	assert_int_equal(run(CTL " decompress x.gz --json", CTL_ARGS), 1);
	assert_non_null(strstr(out, "decompress has no --json output"));
	assert_int_equal(run(CTL " reload --json", CTL_ARGS), 0);
	assert_non_null(strstr(out, "\"revoked\""));
}

static void connection_errors_name_the_socket_and_what_to_do(void **state)
{
	assert_int_equal(run("%s/accelctl --socket /nonexistent/sock status", build_dir()), 1);
	assert_non_null(strstr(out, "/nonexistent/sock"));
	assert_non_null(strstr(out, "systemctl start accel-broker.socket"));
	assert_non_null(strstr(out, "--socket"));
	assert_int_equal(run("ACCEL_BROKER_SOCKET=/nonexistent/env.sock %s/accelctl monitor", build_dir()), 1);
	assert_non_null(strstr(out, "/nonexistent/env.sock"));
	assert_non_null(strstr(out, "$ACCEL_BROKER_SOCKET"));
}

static void compress_levels_and_progress_on_a_terminal_only(void **state)
{
	assert_int_equal(run("seq 1 1500000 > big.txt && " CTL " compress -1 -o fast.gz big.txt && "
			     CTL " compress -9 -o best.gz big.txt && gzip -t fast.gz best.gz && "
			     "test $(stat -c %%s best.gz) -lt $(stat -c %%s fast.gz)", CTL_ARGS, CTL_ARGS), 0);
	/* Not a terminal: the summary only. */
	assert_int_equal(run(CTL " compress -o quiet.gz big.txt", CTL_ARGS), 0);
	assert_null(strstr(out, "MB/s"));
	/* On a terminal (script(1) gives it one): bytes, rate, ratio. */
	assert_int_equal(run("script -qec '" CTL " compress -o tty.gz big.txt' /dev/null", CTL_ARGS), 0);
	assert_non_null(strstr(out, "MB/s"));
	assert_non_null(strstr(out, "MiB in"));
	assert_int_equal(run("gzip -dc tty.gz | cmp - big.txt"), 0);
	assert_int_equal(run(CTL " decompress -5 tty.gz", CTL_ARGS), 1);
}

static void decompress_onto_an_existing_file_suggests_force(void **state)
{
	assert_int_equal(run("seq 1 1000 > e.txt && gzip -k e.txt && " CTL " decompress -o e.txt e.txt.gz",
			     CTL_ARGS), 1);
	assert_non_null(strstr(out, "e.txt: File exists; -f overwrites it"));
	assert_int_equal(run(CTL " decompress -f -o e.txt e.txt.gz", CTL_ARGS), 0);
}

/*
 * accelctl compress from a pipe we feed: once it has read past what the
 * pipe buffers, its queue is acquired and in use.  Returns its pid; its
 * standard error goes to @err_path.
 */
static pid_t start_compress(int *feed, const char *err_path)
{
	char cmd[1024];
	int p[2];
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	snprintf(cmd, sizeof(cmd), "exec " CTL " compress -o %s/revoked.gz - 2>%s", CTL_ARGS, broker.dir, err_path);
	pid = fork_child();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[0], STDIN_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	*feed = p[1];
	return pid;
}

static void feed(int fd, size_t bytes)
{
	static char chunk[65536];

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)('a' + i % 23);
	for (size_t done = 0; done < bytes; done += sizeof(chunk))
		if (write(fd, chunk, sizeof(chunk)) < 0)
			return;	/* it is gone: what it said tells */
}

static char *slurp(const char *path)
{
	static char text[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static void a_revoked_queue_is_reported_with_the_reason(void **state)
{
	char err[200];
	int in;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	snprintf(err, sizeof(err), "%s/compress.err", broker.dir);
	pid = start_compress(&in, err);
	feed(in, 16 << 20);	/* far more than a pipe holds: it is compressing */
	assert_int_equal(run(CTL " revoke --user root", CTL_ARGS), 0);
	assert_non_null(strstr(out, "Revoked 1 queue(s)"));
	feed(in, 16 << 20);
	close(in);
	assert_int_equal(wait_status(pid), 1);
	assert_non_null(strstr(slurp(err), "revoked by the broker: admin"));
	assert_null(strstr(slurp(err), "Link has been severed"));
}

static void a_stopping_broker_is_reported_and_release_does_not_wait(void **state)
{
	struct timespec t0, t1;
	char err[200];
	int in;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	snprintf(err, sizeof(err), "/tmp/accel-compress-err-%d", (int)getpid());
	pid = start_compress(&in, err);
	feed(in, 16 << 20);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(broker.pid, SIGTERM);
	assert_int_equal(broker_stop(&broker), 0);	/* SIGTERM again, and reap it */
	feed(in, 16 << 20);
	close(in);
	assert_int_equal(wait_status(pid), 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Its release did not wait for a broker to come back (libaccel tries for 60 s). */
	assert_true(t1.tv_sec - t0.tv_sec < 30);
	assert_non_null(strstr(slurp(err), "revoked by the broker: shutdown"));
	unlink(err);
	/* teardown stops a broker: start one for it. */
	assert_int_equal(broker_start(&broker, (const char *const[]){ "--sim", "1", NULL }), 0);
}

static void socket_activation_is_used_when_present(void **state)
{
	char cmd[1024], sock[160];
	struct accel_client *c = NULL;
	pid_t pid;

	if (access("/usr/bin/systemd-socket-activate", X_OK) != 0)
		skip();
	snprintf(sock, sizeof(sock), "%s/activated.sock", broker.dir);
	snprintf(cmd, sizeof(cmd), "exec /usr/bin/systemd-socket-activate -l %s %s/accel-broker "
		 "--config /dev/null --sysfs-root /nonexistent --socket %s/unused.sock 2>/dev/null",
		 sock, build_dir(), broker.dir);
	pid = fork_child();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300 && accel_connect(sock, &c) < 0; i++)
		usleep(10000);
	assert_non_null(c);
	struct accel_queue *q;
	struct accel_completion comp;
	assert_int_equal(accel_acquire(c, "crc32c", NULL, &q), 0);
	assert_int_equal(accel_run(q, "123456789", 9, NULL, 0, 0, 0, &comp), 0);
	assert_int_equal(comp.value, 0xe3069283);
	accel_release(q);
	accel_disconnect(c);
	/* It listened on the passed socket, not on --socket. */
	assert_int_equal(run("test ! -e unused.sock"), 0);
	kill(pid, SIGTERM);
	assert_int_equal(wait_status(pid), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(status_devices_and_queues_print_tables_and_json, setup, teardown),
		cmocka_unit_test_setup_teardown(queues_filters_by_user_and_device, setup, teardown),
		cmocka_unit_test_setup_teardown(selftest_passes_every_check, setup, teardown),
		cmocka_unit_test_setup_teardown(compress_output_is_read_by_gzip, setup, teardown),
		cmocka_unit_test_setup_teardown(decompress_reads_gzip_output_and_refuses_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(errors_are_clear_and_exit_non_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(quota_error_names_the_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(socket_activation_is_used_when_present, setup, teardown),
		cmocka_unit_test_setup_teardown(options_and_operands_mix_in_every_command, setup, teardown),
		cmocka_unit_test_setup_teardown(every_command_takes_json_or_says_it_does_not, setup, teardown),
		cmocka_unit_test_setup_teardown(connection_errors_name_the_socket_and_what_to_do, setup, teardown),
		cmocka_unit_test_setup_teardown(compress_levels_and_progress_on_a_terminal_only, setup, teardown),
		cmocka_unit_test_setup_teardown(decompress_onto_an_existing_file_suggests_force, setup, teardown),
		cmocka_unit_test_setup_teardown(a_revoked_queue_is_reported_with_the_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(a_stopping_broker_is_reported_and_release_does_not_wait, setup, teardown),
	};

	return cmocka_run_group_tests_name("accelctl", tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * What a newcomer and clients nobody here wrote rely on: varlink's standard
 * errors with their fields, ExpectedMore, the service interface described;
 * a --socket path that is not a socket left alone; monitors told of the
 * queues a stopping broker revokes; refusals and admin actions in the log
 * at the default level, saying who asked.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <accel/accel.h>
#include <cmocka.h>

#include "harness.h"

#define NOBODY 65534

static struct broker_proc broker;

static int setup(void **state)
{
	/* The default log level: what an administrator sees without asking for more. */
	return broker_start(&broker, (const char *const[]){ "--sim", "1", "--log-level", "info", NULL }) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	int r = broker.pid > 0 ? broker_stop(&broker) : 0;

	children_kill();
	return r == 0 ? 0 : -1;
}

/* The reply's "error" and parameters[@key] (a string), of one raw call. */
static void call_error(const char *request, char *error, size_t esize, const char *key, char *value,
		       size_t vsize)
{
	struct json_object *o, *params, *v;
	char reply[65536];
	int fd = raw_connect(broker.sock);

	assert_true(fd >= 0);
	assert_true(raw_call(fd, request, reply, sizeof(reply)) > 0);
	close(fd);
	o = json_tokener_parse(reply);
	assert_non_null(o);
	error[0] = value[0] = '\0';
	if (json_object_object_get_ex(o, "error", &v))
		snprintf(error, esize, "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "parameters", &params) && json_object_object_get_ex(params, key, &v))
		snprintf(value, vsize, "%s", json_object_get_string(v));
	json_object_put(o);
}

static void standard_errors_carry_their_fields(void **state)
{
	char error[128], value[256];

	call_error("{\"method\":\"org.accelbroker.Broker.Nope\"}", error, sizeof(error), "method", value,
		   sizeof(value));
	assert_string_equal(error, "org.varlink.service.MethodNotFound");
	assert_string_equal(value, "org.accelbroker.Broker.Nope");
	call_error("{\"method\":\"org.accelbroker.Broker.AcquireQueue\",\"parameters\":{\"algorithm\":5}}", error,
		   sizeof(error), "parameter", value, sizeof(value));
	assert_string_equal(error, "org.varlink.service.InvalidParameter");
	assert_string_equal(value, "algorithm");
	call_error("{\"method\":\"org.accelbroker.Broker.AcquireQueue\",\"parameters\":{\"algorithm\":\"copy\",\"uid\":0}}",
		   error, sizeof(error), "parameter", value, sizeof(value));
	assert_string_equal(value, "uid");
	call_error("{\"method\":\"org.accelbroker.Broker.ReleaseQueue\",\"parameters\":{}}", error, sizeof(error),
		   "parameter", value, sizeof(value));
	assert_string_equal(value, "queue_id");
	call_error("{\"method\":\"org.varlink.service.GetInterfaceDescription\",\"parameters\":"
		   "{\"interface\":\"org.example.Other\"}}", error, sizeof(error), "interface", value, sizeof(value));
	assert_string_equal(error, "org.varlink.service.InterfaceNotFound");
	assert_string_equal(value, "org.example.Other");
	/* Every error still has its human message. */
	call_error("{\"method\":\"org.accelbroker.Broker.Nope\"}", error, sizeof(error), "message", value,
		   sizeof(value));
	assert_true(value[0] != '\0');
}

static void monitor_without_more_is_expected_more(void **state)
{
	char error[128], value[256];

	call_error("{\"method\":\"org.accelbroker.Broker.Monitor\"}", error, sizeof(error), "message", value,
		   sizeof(value));
	assert_string_equal(error, "org.varlink.service.ExpectedMore");
	assert_true(value[0] != '\0');
}

static void the_service_interface_is_described(void **state)
{
	struct accel_client *c;
	char *text = NULL;

	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_call_json(c, "org.varlink.service.GetInfo", NULL, &text), 0);
	assert_non_null(strstr(text, "\"org.varlink.service\""));
	free(text);
	assert_int_equal(accel_call_json(c, "org.varlink.service.GetInterfaceDescription",
					 "{\"interface\":\"org.varlink.service\"}", &text), 0);
	assert_non_null(strstr(text, "interface org.varlink.service\\n"));
	assert_non_null(strstr(text, "method GetInterfaceDescription(interface: string) -> (description: string)"));
	assert_non_null(strstr(text, "error ExpectedMore ()"));
	free(text);
	accel_disconnect(c);
}

/* Whether the broker's log has a line holding each of the NULL-terminated strings. */
static bool log_has(const char *first, ...)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(broker.log, "r");

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f)) {
		va_list ap;
		const char *s;
		found = true;
		va_start(ap, first);
		for (s = first; s && found; s = va_arg(ap, const char *))
			found = strstr(line, s) != NULL;
		va_end(ap);
	}
	fclose(f);
	return found;
}

static void socket_path_that_is_no_socket_is_left_alone(void **state)
{
	char dir[] = "/tmp/accel-contract-XXXXXX", path[128], text[32] = "";
	struct broker_proc other;
	int fd, started;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/important.txt", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep me", 7), 7);
	close(fd);
	/* As root, the broker could remove it: it must not, and must not start. */
	started = broker_start(&other, (const char *const[]){ "--socket", path, NULL });
	if (started == 0)
		broker_stop(&other);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, text, sizeof(text) - 1), 7);
	close(fd);
	assert_string_equal(text, "keep me");
	assert_true(started < 0);
	unlink(path);
	rmdir(dir);
	snprintf(path, sizeof(path), "rm -rf %s", other.dir);
	(void)!system(path);
}

/* Read monitor events from @fd until one holds @want and @also; false at EOF or after 50 events. */
static bool monitor_hears(int fd, const char *want, const char *also)
{
	char ev[4096];

	for (int i = 0; i < 50; i++) {
		if (raw_recv(fd, ev, sizeof(ev)) <= 0)
			return false;
		if (strstr(ev, want) && strstr(ev, also))
			return true;
	}
	return false;
}

static void monitors_hear_shutdown_revocations_before_the_end(void **state)
{
	struct accel_client *c;
	struct accel_queue *q;
	char ev[4096], want[128];
	int mon;

	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q), 0);
	mon = raw_connect(broker.sock);
	assert_true(mon >= 0);
	assert_int_equal(raw_call(mon, "{\"method\":\"org.accelbroker.Broker.Monitor\",\"more\":true}", ev,
				  sizeof(ev)) > 0, 1);
	assert_non_null(strstr(ev, "\"subscribed\""));
	/* Not under systemd (no fd store): stopping for good revokes, and says so first. */
	kill(broker.pid, SIGTERM);
	snprintf(want, sizeof(want), "\"queue_id\":%llu", (unsigned long long)accel_queue_id(q));
	assert_true(monitor_hears(mon, want, "\"reason\":\"shutdown\""));
	close(mon);
	assert_int_equal(broker_stop(&broker), 0);
	accel_release(q);
	accel_disconnect(c);
}

/* As nobody: Reload, refused. */
static int nobody_reloads(void)
{
	struct accel_client *c;
	char *text = NULL;

	if (setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0 ||
	    accel_connect(broker.sock, &c) < 0)
		return 1;
	if (accel_call_json(c, "org.accelbroker.Broker.Reload", NULL, &text) != -EACCES)
		return 2;
	accel_disconnect(c);
	return 0;
}

static void refusals_and_admin_actions_are_logged_with_who_asked(void **state)
{
	struct accel_client *c;
	struct accel_queue *q;
	char *text = NULL, params[64], who[64];
	pid_t pid;

	if (geteuid() != 0)
		skip();
	pid = fork_child();
	if (pid == 0)
		_exit(nobody_reloads());
	assert_int_equal(wait_status(pid), 0);
	assert_true(log_has("Reload", "uid 65534", "refused", "only an administrator", NULL));

	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q), 0);
	snprintf(params, sizeof(params), "{\"queue_id\":%llu}", (unsigned long long)accel_queue_id(q));
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.Revoke", params, &text), 0);
	free(text);
	snprintf(who, sizeof(who), "asked by uid 0 pid %d", (int)getpid());
	assert_true(log_has("Revoking queue", "admin", who, NULL));
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.Reload", NULL, &text), 0);
	free(text);
	snprintf(who, sizeof(who), "Reload asked by uid 0 pid %d", (int)getpid());
	assert_true(log_has(who, NULL));
	accel_release(q);
	accel_disconnect(c);
}

static void no_bus_names_the_address_tried(void **state)
{
	assert_int_equal(broker_stop(&broker), 0);
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/accel-test-bus", 1);
	assert_int_equal(broker_start(&broker, (const char *const[]){ "--sim", "1", NULL }), 0);
	unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
	assert_true(log_has("Not on the system bus unix:path=/nonexistent/accel-test-bus", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(standard_errors_carry_their_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(monitor_without_more_is_expected_more, setup, teardown),
		cmocka_unit_test_setup_teardown(the_service_interface_is_described, setup, teardown),
		cmocka_unit_test_setup_teardown(socket_path_that_is_no_socket_is_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(monitors_hear_shutdown_revocations_before_the_end, setup, teardown),
		cmocka_unit_test_setup_teardown(refusals_and_admin_actions_are_logged_with_who_asked, setup, teardown),
		cmocka_unit_test_setup_teardown(no_bus_names_the_address_tried, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

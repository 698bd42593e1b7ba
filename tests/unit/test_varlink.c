// SPDX-License-Identifier: MIT
/* Parsing varlink calls and replies, and dispatching parameters, on bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "varlink.h"

static int parse(const char *text, struct varlink_call *call, struct accel_error *e)
{
	return varlink_call_parse(text, strlen(text), call, e);
}

static void well_formed_call_is_parsed(void **state)
{
	struct varlink_call call;
	struct accel_error e = { 0 };

	assert_int_equal(parse("{\"method\":\"a.b.C\",\"parameters\":{\"x\":1},\"oneway\":true}", &call, &e), 0);
	assert_string_equal(call.method, "a.b.C");
	assert_true(call.oneway);
	assert_false(call.more);
	assert_non_null(call.parameters);
	varlink_call_finish(&call);
}

static void missing_parameters_read_as_empty_object(void **state)
{
	struct varlink_call call;
	struct accel_error e = { 0 };

	assert_int_equal(parse("{\"method\":\"a.b.C\"}", &call, &e), 0);
	assert_int_equal(json_object_object_length(call.parameters), 0);
	varlink_call_finish(&call);
}

static void malformed_calls_are_refused_with_invalid_parameter(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[1,2,3]",
		"\"string\"",
		"{\"method\":5}",
		"{\"parameters\":{}}",
		"{\"method\":\"a.b\",\"parameters\":[]}",
		"{\"method\":\"a.b\",\"oneway\":\"yes\"}",
		"{\"method\":\"a.b\",\"more\":1}",
		"{\"method\":\"a.b\"} trailing",
		"{\"method\":\"a.b\"}{\"method\":\"c.d\"}",
		"{\"method\":'single'}",
		"{\"method\":\"a.b\",}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct varlink_call call;
		struct accel_error e = { 0 };
		int r = parse(bad[i], &call, &e);
		if (r != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
		assert_string_equal(e.name, ERR_INVALID_PARAMETER);
		assert_true(strlen(e.message) > 0);
	}
}

/*
 * A NUL in any string would cut a C comparison short ("GetInfo\u0000x" ran
 * GetInfo) or, in a key, be cut by json-c itself: refused wherever it is.
 * An escaped backslash before "u0000" is no NUL.
 */
static void strings_with_nul_are_refused(void **state)
{
	static const char *const bad[] = {
		"{\"method\":\"org.varlink.service.GetInfo\\u0000x\"}",
		"{\"method\":\"a.b\",\"parameters\":{\"algorithm\":\"copy\\u0000gzip\"}}",
		"{\"method\":\"a.b\",\"parameters\":{\"algorithm\\u0000x\":\"copy\"}}",
		"{\"method\\u0000\":\"a.b\"}",
		"{\"method\":\"a.b\",\"parameters\":{\"user\":\"\\\\\\u0000\"}}",
	};
	static const char raw[] = "{\"method\":\"a\0.b\"}";
	struct varlink_call call;
	struct accel_error e = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		if (parse(bad[i], &call, &e) != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
		assert_string_equal(e.name, ERR_INVALID_PARAMETER);
		assert_non_null(strstr(e.message, "NUL"));
	}
	assert_int_equal(varlink_call_parse(raw, sizeof(raw) - 1, &call, &e), -EBADMSG);
	/* "\\u0000" in JSON is a backslash and the text u0000: allowed. */
	assert_int_equal(parse("{\"method\":\"a.b\",\"parameters\":{\"user\":\"\\\\u0000\"}}", &call, &e), 0);
	varlink_call_finish(&call);
}

static void deep_nesting_is_refused(void **state)
{
	char buf[4096];
	size_t n = 0;
	struct varlink_call call;
	struct accel_error e = { 0 };

	n += (size_t)sprintf(buf, "{\"method\":\"a.b\",\"parameters\":{\"x\":");
	for (int i = 0; i < 1000; i++)
		buf[n++] = '[';
	for (int i = 0; i < 1000; i++)
		buf[n++] = ']';
	buf[n++] = '}';
	buf[n++] = '}';
	assert_int_equal(varlink_call_parse(buf, n, &call, &e), -EBADMSG);
}

static void parameters_are_dispatched_by_type(void **state)
{
	struct varlink_call call;
	struct accel_error e = { 0 };
	const char *algorithm = NULL, *device = "unset";
	int64_t node = -7;
	const struct varlink_param table[] = {
		{ "algorithm", VARLINK_STRING, false, &algorithm },
		{ "device", VARLINK_STRING, true, &device },
		{ "numa_node", VARLINK_INT, true, &node },
		{ 0 },
	};

	assert_int_equal(parse("{\"method\":\"m\",\"parameters\":{\"algorithm\":\"gzip\",\"device\":null,\"numa_node\":3}}",
			       &call, &e), 0);
	assert_int_equal(varlink_params_dispatch(call.parameters, table, &e), 0);
	assert_string_equal(algorithm, "gzip");
	assert_string_equal(device, "unset");	/* null optional: untouched */
	assert_int_equal(node, 3);
	varlink_call_finish(&call);
}

static void bad_parameters_name_the_field(void **state)
{
	static const struct {
		const char *params;
		const char *needle;
	} cases[] = {
		{ "{}", "\"algorithm\" is missing" },
		{ "{\"algorithm\":5}", "\"algorithm\" has the wrong type" },
		{ "{\"algorithm\":\"gzip\",\"numa_node\":\"1\"}", "\"numa_node\" has the wrong type" },
		{ "{\"algorithm\":\"gzip\",\"numa_node\":1.5}", "\"numa_node\" has the wrong type" },
		{ "{\"algorithm\":\"gzip\",\"uid\":0}", "unknown parameter \"uid\"" },
		{ "{\"algorithm\":null}", "\"algorithm\" is missing" },
	};
	const char *algorithm;
	int64_t node;
	const struct varlink_param table[] = {
		{ "algorithm", VARLINK_STRING, false, &algorithm },
		{ "numa_node", VARLINK_INT, true, &node },
		{ 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		struct varlink_call call;
		struct accel_error e = { 0 };

		snprintf(text, sizeof(text), "{\"method\":\"m\",\"parameters\":%s}", cases[i].params);
		assert_int_equal(parse(text, &call, &e), 0);
		assert_int_equal(varlink_params_dispatch(call.parameters, table, &e), -EINVAL);
		assert_string_equal(e.name, ERR_VARLINK_INVALID_PARAMETER);
		if (!strstr(e.message, cases[i].needle))
			fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].params, e.message, cases[i].needle);
		varlink_call_finish(&call);
	}
}

static void replies_with_and_without_error_are_parsed(void **state)
{
	struct varlink_reply reply;
	const char *ok = "{\"parameters\":{\"queue_id\":3}}";
	const char *err = "{\"error\":\"org.accelbroker.Broker.QuotaExceeded\",\"parameters\":{\"message\":\"m\"}}";

	assert_int_equal(varlink_reply_parse(ok, strlen(ok), &reply), 0);
	assert_null(reply.error);
	varlink_reply_finish(&reply);
	assert_int_equal(varlink_reply_parse(err, strlen(err), &reply), 0);
	assert_string_equal(reply.error, ERR_QUOTA_EXCEEDED);
	varlink_reply_finish(&reply);
	assert_int_equal(varlink_reply_parse("{\"error\":3}", 11, &reply), -EBADMSG);
	assert_int_equal(varlink_reply_parse("nope", 4, &reply), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(well_formed_call_is_parsed),
		cmocka_unit_test(missing_parameters_read_as_empty_object),
		cmocka_unit_test(malformed_calls_are_refused_with_invalid_parameter),
		cmocka_unit_test(strings_with_nul_are_refused),
		cmocka_unit_test(deep_nesting_is_refused),
		cmocka_unit_test(parameters_are_dispatched_by_type),
		cmocka_unit_test(bad_parameters_name_the_field),
		cmocka_unit_test(replies_with_and_without_error_are_parsed),
	};

	return cmocka_run_group_tests_name("varlink", tests, NULL, NULL);
}

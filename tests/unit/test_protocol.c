// SPDX-License-Identifier: MIT
/*
 * One source of truth for the protocol: the IDL file is what the broker
 * embeds, what docs/protocol.md shows, and declares exactly the errors of
 * the error table.  Run from the top of the source tree.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "errors.h"
#include "varlink_api.h"

#define IDL_PATH "daemon/api/org.accelbroker.Broker.varlink"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		fail_msg("cannot open %s (run from the source tree)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void broker_embeds_the_idl_file(void **state)
{
	char *idl = slurp(IDL_PATH);

	assert_string_equal(varlink_api_description, idl);
	free(idl);
}

static void protocol_doc_shows_the_idl_verbatim(void **state)
{
	char *idl = slurp(IDL_PATH), *doc = slurp("docs/protocol.md");

	assert_non_null(strstr(doc, idl));
	free(idl);
	free(doc);
}

static void idl_declares_exactly_the_broker_errors(void **state)
{
	char *idl = slurp(IDL_PATH), *p;
	const char *name;
	size_t prefix = strlen(ACCEL_INTERFACE ".");
	unsigned in_table = 0, in_idl = 0;

	for (size_t i = 0; (name = accel_error_name_at(i)); i++) {
		char decl[128];
		if (strncmp(name, ACCEL_INTERFACE ".", prefix) != 0)
			continue;
		snprintf(decl, sizeof(decl), "\nerror %s (", name + prefix);
		if (!strstr(idl, decl))
			fail_msg("%s is not declared in " IDL_PATH, name);
		in_table++;
	}
	for (p = idl; (p = strstr(p, "\nerror ")); p++) {
		char decl[128], full[160];
		if (sscanf(p + 7, "%127s", decl) != 1)
			fail();
		snprintf(full, sizeof(full), ACCEL_INTERFACE ".%s", decl);
		if (!accel_error_lookup(full))
			fail_msg("%s is declared but not in the error table", full);
		in_idl++;
	}
	assert_int_equal(in_table, in_idl);
	assert_true(in_table >= 8);
	free(idl);
}

static void error_names_map_to_distinct_errnos(void **state)
{
	const char *a, *b;

	for (size_t i = 0; (a = accel_error_name_at(i)); i++) {
		assert_true(accel_error_errno(a) < 0);
		assert_ptr_equal(accel_error_lookup(a), a);
		for (size_t k = i + 1; (b = accel_error_name_at(k)); k++) {
			/* Only the varlink duplicates of our own errors may share one. */
			if (strstr(a, "org.varlink") || strstr(b, "org.varlink"))
				continue;
			if (accel_error_errno(a) == accel_error_errno(b))
				fail_msg("%s and %s share an errno", a, b);
		}
	}
	assert_int_equal(accel_error_errno("org.example.Unknown"), -EPROTO);
	assert_int_equal(accel_error_errno(NULL), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(broker_embeds_the_idl_file),
		cmocka_unit_test(protocol_doc_shows_the_idl_verbatim),
		cmocka_unit_test(idl_declares_exactly_the_broker_errors),
		cmocka_unit_test(error_names_map_to_distinct_errnos),
	};

	return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}

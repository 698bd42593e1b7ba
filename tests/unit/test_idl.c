// SPDX-License-Identifier: MIT
/*
 * A strict parser of varlink IDL, our own, for the descriptions the broker
 * returns from GetInterfaceDescription: every type, method, error, field
 * and comment must follow the grammar of varlink.org, names must resolve
 * and be unique.  The one leniency: upper case in the interface name
 * ("org.accelbroker.Broker"), which the grammar spells in lower case and
 * which we keep because renaming would break every client (Go's parser in
 * varlink-go 0.4.0 refuses it; docs/protocol.md says so).  Layout rules
 * on top of the grammar: no tabs, no trailing blanks, one newline at the
 * end, "# " comments that stand right before what they describe.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "errors.h"
#include "varlink_api.h"

#define MAX_NAMES 64

struct idl {
	const char *p;		/* where parsing is */
	const char *start;
	char error[160];	/* the first error, with its line */
	char names[MAX_NAMES][64];	/* declared members */
	char kinds[MAX_NAMES];		/* 't'ype, 'm'ethod, 'e'rror */
	unsigned n_names;
	char used[MAX_NAMES][64];	/* type names referred to */
	unsigned n_used;
};

static bool fail_at(struct idl *x, const char *what)
{
	unsigned line = 1;

	if (x->error[0])
		return false;
	for (const char *q = x->start; q < x->p; q++)
		line += *q == '\n';
	snprintf(x->error, sizeof(x->error), "line %u: %s", line, what);
	return false;
}

/* A comment: "#" alone or "# text" up to the end of its line. */
static bool comment(struct idl *x)
{
	x->p++;
	if (*x->p != '\n' && *x->p != ' ')
		return fail_at(x, "a comment starts with \"# \"");
	while (*x->p && *x->p != '\n')
		x->p++;
	return true;
}

/*
 * Whitespace, newlines and comments (the grammar's "_").  A comment must
 * be followed by another comment or by what it describes, never by a
 * blank line, a ")" or the end.
 */
static bool blanks(struct idl *x)
{
	bool comment_open = false;	/* a comment waits for what it describes */

	for (;;) {
		if (*x->p == ' ') {
			x->p++;
		} else if (*x->p == '\t') {
			return fail_at(x, "a tab");
		} else if (*x->p == '\n') {
			if (x->p > x->start && x->p[-1] == ' ')
				return fail_at(x, "trailing blank");
			if (comment_open && x->p[-1] == '\n')
				return fail_at(x, "a comment followed by a blank line describes nothing");
			x->p++;
		} else if (*x->p == '#') {
			if (!comment(x))
				return false;
			comment_open = true;
		} else {
			break;
		}
	}
	if (comment_open && (*x->p == ')' || *x->p == '\0'))
		return fail_at(x, "a comment describes nothing");
	return true;
}

static bool keyword(struct idl *x, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(x->p, word, n) != 0 || isalnum((unsigned char)x->p[n]) || x->p[n] == '_')
		return false;
	x->p += n;
	return true;
}

static bool literal(struct idl *x, const char *s)
{
	if (strncmp(x->p, s, strlen(s)) != 0) {
		char what[64];
		snprintf(what, sizeof(what), "\"%s\" expected", s);
		return fail_at(x, what);
	}
	x->p += strlen(s);
	return true;
}

/* A member or type name: [A-Z][A-Za-z0-9]*. */
static bool type_name(struct idl *x, char out[64])
{
	size_t n = 0;

	if (!isupper((unsigned char)*x->p))
		return fail_at(x, "a name starts with an upper-case letter");
	while (isalnum((unsigned char)x->p[n]) && n < 63)
		n++;
	memcpy(out, x->p, n);
	out[n] = '\0';
	x->p += n;
	return true;
}

/* A field name: [A-Za-z]([_]?[A-Za-z0-9])*. */
static bool field_name(struct idl *x, char out[64])
{
	size_t n = 0;

	if (!isalpha((unsigned char)*x->p))
		return fail_at(x, "a field name starts with a letter");
	while (n < 63 && (isalnum((unsigned char)x->p[n]) ||
			  (x->p[n] == '_' && isalnum((unsigned char)x->p[n + 1]))))
		n++;
	memcpy(out, x->p, n);
	out[n] = '\0';
	x->p += n;
	return true;
}

static bool struct_or_enum(struct idl *x, bool enum_ok);
static bool one_space(struct idl *x);

/* A type: "?" once at most, then "[]" / "[string]" prefixes, then an element type. */
static bool type(struct idl *x, bool maybe_ok)
{
	static const char *const simple[] = { "bool", "int", "float", "string", "object" };
	char name[64];

	if (*x->p == '?') {
		if (!maybe_ok)
			return fail_at(x, "\"?\" twice");
		x->p++;
		return type(x, false);
	}
	if (strncmp(x->p, "[]", 2) == 0) {
		x->p += 2;
		return type(x, true);
	}
	if (strncmp(x->p, "[string]", 8) == 0) {
		x->p += 8;
		return type(x, true);
	}
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (keyword(x, simple[i]))
			return true;
	if (*x->p == '(')
		return struct_or_enum(x, true);
	if (!type_name(x, name))
		return false;
	if (x->n_used == MAX_NAMES)
		return fail_at(x, "too many type references");
	strcpy(x->used[x->n_used++], name);
	return true;
}

/*
 * "(" fields ")", fields "name: type" separated by ","; with @enum_ok, an
 * enum "(a, b)" too.  Field names unique, no trailing comma, no blank
 * before ":" or ",", one after ":".
 */
static bool struct_or_enum(struct idl *x, bool enum_ok)
{
	char fields[MAX_NAMES][64];
	unsigned n = 0;
	int is_enum = -1;

	if (!literal(x, "(") || !blanks(x))
		return false;
	if (*x->p == ')') {
		x->p++;
		return true;
	}
	for (;;) {
		if (n == MAX_NAMES || !field_name(x, fields[n]))
			return fail_at(x, "a field name expected");
		for (unsigned i = 0; i < n; i++)
			if (strcmp(fields[i], fields[n]) == 0)
				return fail_at(x, "a field twice");
		n++;
		if (*x->p == ':') {
			if (is_enum == 1)
				return fail_at(x, "an enum and a struct mixed");
			is_enum = 0;
			x->p++;
			if (!one_space(x) || !type(x, true))
				return false;
		} else {
			if (is_enum == 0 || !enum_ok)
				return fail_at(x, "\":\" expected");
			is_enum = 1;
		}
		if (*x->p == ',') {
			x->p++;
			if (!blanks(x))
				return false;
			if (*x->p == ')')
				return fail_at(x, "a trailing comma");
			continue;
		}
		if (!blanks(x) || !literal(x, ")"))
			return false;
		return true;
	}
}

static bool declare(struct idl *x, const char *name, char kind)
{
	for (unsigned i = 0; i < x->n_names; i++)
		if (strcmp(x->names[i], name) == 0)
			return fail_at(x, "a name declared twice");
	if (x->n_names == MAX_NAMES)
		return fail_at(x, "too many members");
	strcpy(x->names[x->n_names], name);
	x->kinds[x->n_names++] = kind;
	return true;
}

static bool one_space(struct idl *x)
{
	if (*x->p != ' ' || x->p[1] == ' ')
		return fail_at(x, "one space expected");
	x->p++;
	return true;
}

/* type Name (...) | method Name(...) -> (...) | error Name (...) */
static bool member(struct idl *x)
{
	char name[64];

	if (keyword(x, "type")) {
		if (!one_space(x) || !type_name(x, name) || !declare(x, name, 't') || !one_space(x))
			return false;
		return struct_or_enum(x, true);
	}
	if (keyword(x, "method")) {
		if (!one_space(x) || !type_name(x, name) || !declare(x, name, 'm'))
			return false;
		if (!struct_or_enum(x, false) || !one_space(x) || !literal(x, "->") || !one_space(x))
			return false;
		return struct_or_enum(x, false);
	}
	if (keyword(x, "error")) {
		if (!one_space(x) || !type_name(x, name) || !declare(x, name, 'e') || !one_space(x))
			return false;
		return struct_or_enum(x, false);
	}
	return fail_at(x, "\"type\", \"method\" or \"error\" expected");
}

/* Interface name: dot-separated parts, [A-Za-z]([-]*[A-Za-z0-9])*, at least two. */
static bool interface_name(struct idl *x)
{
	unsigned parts = 0;

	for (;;) {
		if (!isalpha((unsigned char)*x->p))
			return fail_at(x, "an interface name part starts with a letter");
		x->p++;
		while (isalnum((unsigned char)*x->p) || (*x->p == '-' && x->p[1] != '.' && x->p[1] != '\n'))
			x->p++;
		parts++;
		if (*x->p != '.')
			break;
		x->p++;
	}
	return parts >= 2 ? true : fail_at(x, "an interface name has a dot");
}

/* Parse @text; false with x->error set if it is not a strict interface description. */
static bool idl_parse(struct idl *x, const char *text)
{
	size_t len = strlen(text);

	*x = (struct idl){ .p = text, .start = text };
	if (len == 0 || text[len - 1] != '\n' || (len > 1 && text[len - 2] == '\n'))
		return fail_at(x, "the text ends with exactly one newline");
	if (!blanks(x) || !keyword(x, "interface"))
		return fail_at(x, "\"interface\" expected first");
	if (!one_space(x) || !interface_name(x))
		return false;
	if (*x->p != '\n')
		return fail_at(x, "the interface line ends after the name");
	while (*x->p) {
		/* Each member on a line of its own. */
		if (x->p[-1] != '\n' && *x->p != '\n')
			return fail_at(x, "a member starts a line");
		if (!blanks(x))
			return false;
		if (!*x->p)
			break;
		if (x->p[-1] != '\n')
			return fail_at(x, "a member starts a line");
		if (!member(x))
			return false;
		if (*x->p != '\n')
			return fail_at(x, "a member ends its line");
	}
	for (unsigned i = 0; i < x->n_used; i++) {
		bool found = false;
		for (unsigned k = 0; k < x->n_names; k++)
			found |= x->kinds[k] == 't' && strcmp(x->names[k], x->used[i]) == 0;
		if (!found) {
			snprintf(x->error, sizeof(x->error), "type %s is not declared", x->used[i]);
			return false;
		}
	}
	return x->n_names > 0 ? true : fail_at(x, "an interface declares something");
}

static unsigned count_kind(const struct idl *x, char kind)
{
	unsigned n = 0;

	for (unsigned i = 0; i < x->n_names; i++)
		n += x->kinds[i] == kind;
	return n;
}

static void the_broker_interface_is_strict_idl(void **state)
{
	struct idl x;

	if (!idl_parse(&x, varlink_api_description))
		fail_msg("org.accelbroker.Broker: %s", x.error);
	assert_int_equal(count_kind(&x, 'm'), 12);
	assert_true(count_kind(&x, 't') >= 5);
	assert_true(count_kind(&x, 'e') >= 9);
}

static void the_service_interface_is_strict_idl(void **state)
{
	struct idl x;
	const char *name;

	if (!idl_parse(&x, varlink_service_description))
		fail_msg("org.varlink.service: %s", x.error);
	assert_int_equal(count_kind(&x, 'm'), 2);
	/* Every org.varlink.service error the broker sends is declared. */
	for (size_t i = 0; (name = accel_error_name_at(i)); i++) {
		bool found = false;
		if (strncmp(name, "org.varlink.service.", 20) != 0)
			continue;
		for (unsigned k = 0; k < x.n_names; k++)
			found |= x.kinds[k] == 'e' && strcmp(x.names[k], name + 20) == 0;
		if (!found)
			fail_msg("%s is sent but not declared", name);
	}
}

/* The parser is as strict as it claims: each of these is refused. */
static void the_parser_refuses_what_the_grammar_does(void **state)
{
	static const char *const bad[] = {
		"",
		"interface org.example.a\n",					/* nothing declared */
		"method F() -> ()\n",						/* no interface */
		"interface org\nmethod F() -> ()\n",				/* no dot */
		"interface org..x\nmethod F() -> ()\n",
		"interface org.x\nmethod f() -> ()\n",				/* lower-case name */
		"interface org.x\nmethod F() -> ()",				/* no final newline */
		"interface org.x\nmethod F() -> ()\n\n",
		"interface org.x\nmethod F() -> () \n",				/* trailing blank */
		"interface org.x\nmethod F()\n",				/* no -> */
		"interface org.x\nmethod F(a: int,) -> ()\n",			/* trailing comma */
		"interface org.x\nmethod F(a: int, a: int) -> ()\n",
		"interface org.x\nmethod F(a: Nope) -> ()\n",			/* undeclared type */
		"interface org.x\nmethod F(a: ??int) -> ()\n",
		"interface org.x\nmethod F(a: int32) -> ()\n",
		"interface org.x\nmethod F() -> ()\nmethod F() -> ()\n",	/* twice */
		"interface org.x\nmethod F() -> () method G() -> ()\n",
		"interface org.x\nmethod F(a) -> ()\n",				/* an enum as arguments */
		"interface org.x\ntype T (a, b: int)\nmethod F() -> ()\n",
		"interface org.x\n#no space\nmethod F() -> ()\n",
		"interface org.x\n# dangling\n\nmethod F() -> ()\n",
		"interface org.x\nmethod F() -> ()\n# at the end\n",
		"interface org.x\nmethod F(\n  a: int\n  # describes nothing\n) -> ()\n",
		"interface org.x\n\tmethod F() -> ()\n",
		"interface org.x\nerror E(message: string)\n",			/* no space before ( */
		"interface org.x\nmethod F()  -> ()\n",
		"interface org.x\nmethod F(a__b: int) -> ()\n",
	};
	static const char *const good[] = {
		"interface org.x\nmethod F() -> ()\n",
		"# A header.\n#\n# More.\ninterface Org.Example.Upper-Case\n\n# Says F.\nmethod F(\n  # a\n  a: ?[]string,\n  b: [string]T\n) -> (c: object)\n\ntype T (x, y)\nerror E ()\n",
	};
	struct idl x;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (idl_parse(&x, bad[i]))
			fail_msg("accepted: \"%s\"", bad[i]);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!idl_parse(&x, good[i]))
			fail_msg("refused (%s): \"%s\"", x.error, good[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_parser_refuses_what_the_grammar_does),
		cmocka_unit_test(the_broker_interface_is_strict_idl),
		cmocka_unit_test(the_service_interface_is_strict_idl),
	};

	return cmocka_run_group_tests_name("idl", tests, NULL, NULL);
}

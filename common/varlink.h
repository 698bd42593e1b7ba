/* SPDX-License-Identifier: MIT */
/*
 * Varlink messages as JSON objects (json-c): parsing calls and replies with
 * strict checks, and dispatching a call's parameters into C variables by a
 * table, so that no handler reads a field it has not type-checked.
 */
#ifndef ACCEL_COMMON_VARLINK_H
#define ACCEL_COMMON_VARLINK_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "errors.h"

#define VARLINK_MAX_DEPTH 16

struct varlink_call {
	struct json_object *root;	/* owned */
	const char *method;
	struct json_object *parameters;	/* borrowed from root; never NULL */
	bool oneway;
	bool more;
};

struct varlink_reply {
	struct json_object *root;	/* owned */
	const char *error;		/* NULL on success */
	struct json_object *parameters;	/* never NULL */
	bool continues;
};

/* -EBADMSG with @e set when @msg is not a well-formed call. */
int varlink_call_parse(const char *msg, size_t len, struct varlink_call *call,
		       struct accel_error *e);
void varlink_call_finish(struct varlink_call *call);

int varlink_reply_parse(const char *msg, size_t len, struct varlink_reply *reply);
void varlink_reply_finish(struct varlink_reply *reply);

enum varlink_param_type {
	VARLINK_STRING,		/* const char ** */
	VARLINK_INT,		/* int64_t * */
	VARLINK_BOOL,		/* bool * */
};

struct varlink_param {
	const char *name;
	enum varlink_param_type type;
	bool optional;		/* may be missing or null; *out is then left alone */
	void *out;
};

/*
 * Check @parameters against the table (terminated by a NULL name): every
 * field known, of the right type, every required one present.  On failure
 * returns -EINVAL with @e naming the field.
 */
int varlink_params_dispatch(struct json_object *parameters,
			    const struct varlink_param *table,
			    struct accel_error *e);

/*
 * Writing a reply: the mirror of varlink_params_dispatch().  A table of
 * fields, each a name, a type and a value, becomes one object; every
 * allocation is checked, and the first one that fails makes the whole
 * object NULL, never a reply with a field missing.
 */
enum varlink_value_type {
	VARLINK_VALUE_STRING,	/* .s */
	VARLINK_VALUE_INT,	/* .i */
	VARLINK_VALUE_BOOL,	/* .b */
	VARLINK_VALUE_JSON,	/* .json, consumed; NULL: its own allocation failed */
};

struct varlink_value {
	const char *name;
	enum varlink_value_type type;
	union {
		const char *s;
		int64_t i;
		bool b;
		struct json_object *json;
	};
	bool omit;		/* an optional field left out */
};

/* The end of a table of values. */
#define VARLINK_VALUE_END { NULL, VARLINK_VALUE_INT, .i = 0 }

/*
 * A new object of @fields (terminated by a NULL name), or NULL when an
 * allocation failed.  Every VARLINK_VALUE_JSON value is consumed, written
 * or not.
 */
struct json_object *varlink_object_new(const struct varlink_value *fields);
/* A new string, or NULL: an element of an array of strings. */
struct json_object *varlink_string_new(const char *s);
/* A new empty array, or NULL. */
struct json_object *varlink_array_new(void);
/* Append @v (consumed; NULL: its allocation failed) to @array: 0 or -ENOMEM. */
int varlink_array_append(struct json_object *array, struct json_object *v);
/*
 * For tests: the @n-th allocation of the writer from now fails as out of
 * memory would (0: none).  json-c takes no allocator, and a failure that
 * cannot be provoked cannot be tested.
 */
void varlink_writer_fail_at(unsigned n);

static inline void json_object_putp(struct json_object **o)
{
	json_object_put(*o);
}

/* Serialize @o (plain, no spaces); the string belongs to @o. */
const char *varlink_format(struct json_object *o, size_t *len);

#endif

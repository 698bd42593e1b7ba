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

static inline void json_object_putp(struct json_object **o)
{
	json_object_put(*o);
}

/* Serialize @o (plain, no spaces); the string belongs to @o. */
const char *varlink_format(struct json_object *o, size_t *len);

#endif

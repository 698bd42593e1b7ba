// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "varlink.h"

/*
 * Whether a string in @msg holds a NUL character ("\u0000", or a raw NUL
 * byte).  json-c keeps such a value whole but C compares stop at the NUL
 * ("GetInfo\u0000x" would run GetInfo), and it cuts such an object key
 * short ("algorithm\u0000x" reads as "algorithm"), where nothing after the
 * parse can see it.  No name, key or value of the protocol may hold one, so
 * every message is checked here, once, before json-c reads it.
 */
static bool has_nul(const char *msg, size_t len)
{
	bool in_string = false;

	if (memchr(msg, '\0', len))
		return true;
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '"') {
			in_string = !in_string;
		} else if (in_string && msg[i] == '\\' && i + 1 < len) {
			/* An escape: "\\" must not be taken for the start of "\u0000". */
			if (msg[i + 1] == 'u' && len - i >= 6 && memcmp(msg + i + 2, "0000", 4) == 0)
				return true;
			i++;
		}
	}
	return false;
}

/* Parse exactly @len bytes as one JSON object with no NUL in any string. */
static struct json_object *parse_object(const char *msg, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (len == 0 || len > INT32_MAX || has_nul(msg, len))
		return NULL;
	tok = json_tokener_new_ex(VARLINK_MAX_DEPTH);
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, msg, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static int get_bool(struct json_object *root, const char *key, bool *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(root, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return -EINVAL;
	*out = json_object_get_boolean(v);
	return 0;
}

/* "parameters" must be an object when present; a missing one reads as {}. */
static int get_parameters(struct json_object *root, struct json_object **out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(root, "parameters", &v) ||
	    json_object_is_type(v, json_type_null)) {
		v = json_object_new_object();
		if (!v)
			return -ENOMEM;
		json_object_object_add(root, "parameters", v);
	}
	if (!json_object_is_type(v, json_type_object))
		return -EINVAL;
	*out = v;
	return 0;
}

int varlink_call_parse(const char *msg, size_t len, struct varlink_call *call,
		       struct accel_error *e)
{
	struct json_object *method;

	*call = (struct varlink_call){ 0 };
	call->root = parse_object(msg, len);
	if (!call->root)
		return accel_error_set(e, ERR_INVALID_PARAMETER, "%s",
				       has_nul(msg, len) ? "a string holds a NUL character (\\u0000)" :
				       "message is not a JSON object"), -EBADMSG;
	if (!json_object_object_get_ex(call->root, "method", &method) ||
	    !json_object_is_type(method, json_type_string)) {
		varlink_call_finish(call);
		return accel_error_set(e, ERR_INVALID_PARAMETER,
				       "message has no \"method\" string"), -EBADMSG;
	}
	call->method = json_object_get_string(method);
	if (get_parameters(call->root, &call->parameters) < 0 ||
	    get_bool(call->root, "oneway", &call->oneway) < 0 ||
	    get_bool(call->root, "more", &call->more) < 0) {
		varlink_call_finish(call);
		return accel_error_set(e, ERR_INVALID_PARAMETER,
				       "\"parameters\", \"oneway\" or \"more\" has the wrong type"),
		       -EBADMSG;
	}
	return 0;
}

void varlink_call_finish(struct varlink_call *call)
{
	json_object_put(call->root);
	*call = (struct varlink_call){ 0 };
}

int varlink_reply_parse(const char *msg, size_t len, struct varlink_reply *reply)
{
	struct json_object *error;

	*reply = (struct varlink_reply){ 0 };
	reply->root = parse_object(msg, len);
	if (!reply->root)
		return -EBADMSG;
	if (json_object_object_get_ex(reply->root, "error", &error)) {
		if (!json_object_is_type(error, json_type_string))
			goto bad;
		reply->error = json_object_get_string(error);
	}
	if (get_parameters(reply->root, &reply->parameters) < 0 ||
	    get_bool(reply->root, "continues", &reply->continues) < 0)
		goto bad;
	return 0;
bad:
	varlink_reply_finish(reply);
	return -EBADMSG;
}

void varlink_reply_finish(struct varlink_reply *reply)
{
	json_object_put(reply->root);
	*reply = (struct varlink_reply){ 0 };
}

static const struct varlink_param *find_param(const struct varlink_param *table,
					      const char *name)
{
	for (; table->name; table++)
		if (strcmp(table->name, name) == 0)
			return table;
	return NULL;
}

static bool type_matches(struct json_object *v, enum varlink_param_type type)
{
	switch (type) {
	case VARLINK_STRING:
		return json_object_is_type(v, json_type_string);
	case VARLINK_INT:
		return json_object_is_type(v, json_type_int);
	case VARLINK_BOOL:
		return json_object_is_type(v, json_type_boolean);
	}
	return false;
}

static void store(struct json_object *v, const struct varlink_param *p)
{
	switch (p->type) {
	case VARLINK_STRING:
		*(const char **)p->out = json_object_get_string(v);
		break;
	case VARLINK_INT:
		*(int64_t *)p->out = json_object_get_int64(v);
		break;
	case VARLINK_BOOL:
		*(bool *)p->out = json_object_get_boolean(v);
		break;
	}
}

/*
 * org.varlink.service.InvalidParameter, with the field it carries: the
 * parameter's name.  @problem: "unknown", "has the wrong type", "is missing".
 */
static int invalid_parameter(struct accel_error *e, const char *name, const char *problem)
{
	if (strcmp(problem, "unknown") == 0)
		accel_error_set(e, ERR_VARLINK_INVALID_PARAMETER, "unknown parameter \"%.64s\"", name);
	else
		accel_error_set(e, ERR_VARLINK_INVALID_PARAMETER, "parameter \"%.64s\" %s", name, problem);
	return accel_error_field(e, "parameter", name);
}

int varlink_params_dispatch(struct json_object *parameters,
			    const struct varlink_param *table,
			    struct accel_error *e)
{
	assert(parameters);

	json_object_object_foreach(parameters, key, val) {
		const struct varlink_param *p = find_param(table, key);
		if (!p)
			return invalid_parameter(e, key, "unknown");
		if (json_object_is_type(val, json_type_null))
			continue;	/* reads as missing: checked below */
		if (!type_matches(val, p->type))
			return invalid_parameter(e, p->name, "has the wrong type");
	}
	for (const struct varlink_param *p = table; p->name; p++) {
		struct json_object *v;
		if (!json_object_object_get_ex(parameters, p->name, &v) ||
		    json_object_is_type(v, json_type_null)) {
			if (!p->optional)
				return invalid_parameter(e, p->name, "is missing");
			continue;
		}
		store(v, p);
	}
	return 0;
}

static unsigned writer_fail_countdown;

void varlink_writer_fail_at(unsigned n)
{
	writer_fail_countdown = n;
}

/* Whether the writer's next allocation is to fail (varlink_writer_fail_at()). */
static bool writer_fails(void)
{
	return writer_fail_countdown > 0 && --writer_fail_countdown == 0;
}

static struct json_object *value_new(const struct varlink_value *v)
{
	if (writer_fails()) {
		if (v->type == VARLINK_VALUE_JSON)
			json_object_put(v->json);
		return NULL;
	}
	switch (v->type) {
	case VARLINK_VALUE_STRING:
		return json_object_new_string(v->s);
	case VARLINK_VALUE_INT:
		return json_object_new_int64(v->i);
	case VARLINK_VALUE_BOOL:
		return json_object_new_boolean(v->b);
	case VARLINK_VALUE_JSON:
		return v->json;
	}
	return NULL;
}

/* Add @v (consumed) as @name: 0, or -ENOMEM when @v is NULL or does not fit. */
static int object_add(struct json_object *o, const char *name, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, name, v) < 0) {
		json_object_put(v);	/* json-c keeps no reference on failure */
		return -ENOMEM;
	}
	return 0;
}

struct json_object *varlink_object_new(const struct varlink_value *fields)
{
	struct json_object *o = writer_fails() ? NULL : json_object_new_object();
	int r = o ? 0 : -ENOMEM;

	/* On, after a failure, only to consume the JSON values that are left. */
	for (const struct varlink_value *f = fields; f->name; f++) {
		if (r < 0 || f->omit) {
			if (f->type == VARLINK_VALUE_JSON)
				json_object_put(f->json);
			continue;
		}
		r = object_add(o, f->name, value_new(f));
	}
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *varlink_string_new(const char *s)
{
	return writer_fails() ? NULL : json_object_new_string(s);
}

struct json_object *varlink_array_new(void)
{
	return writer_fails() ? NULL : json_object_new_array();
}

int varlink_array_append(struct json_object *array, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (writer_fails() || json_object_array_add(array, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

const char *varlink_format(struct json_object *o, size_t *len)
{
	return json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, len);
}

// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "errors.h"
#include "libaccel.h"
#include "util.h"
#include "varlink.h"

#define EXPORT __attribute__((visibility("default")))

static const char *socket_path(const char *path)
{
	const char *env;

	if (path)
		return path;
	env = secure_getenv(ACCEL_SOCKET_ENV);
	return env && *env ? env : ACCEL_DEFAULT_SOCKET;
}

EXPORT int accel_connect(const char *path, struct accel_client **out)
{
	_cleanup_close_ int fd = -1;
	struct accel_client *c;
	int r;

	if (!out)
		return -EINVAL;
	path = socket_path(path);
	fd = accel_socket_connect(path);
	if (fd < 0)
		return fd;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = wire_init(&c->wire, fd);
	if (r < 0) {
		free(c);
		return r;
	}
	wire_set_max_message(&c->wire, WIRE_MAX_REPLY);	/* listings outgrow a call */
	fd = -1;	/* the wire owns it */
	snprintf(c->path, sizeof(c->path), "%s", path);	/* it fit in sun_path */
	c->stop_fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	accel_client_register(c);
	*out = c;
	return 0;
}

EXPORT void accel_disconnect(struct accel_client *c)
{
	if (!c)
		return;
	accel_client_unwatch(c);
	accel_client_unregister(c);
	/*
	 * The broker releases the queues; their mappings stay until
	 * accel_release().  A raw queue's record is ours alone (its fd is
	 * the caller's, left open).
	 */
	for (struct accel_queue *q = c->queues, *next; q; q = next) {
		next = q->next;
		q->client = NULL;
		if (q->raw)
			free(q);
	}
	wire_finish(&c->wire);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

EXPORT const char *accel_error_name(const struct accel_client *c)
{
	return c && c->error_name[0] ? c->error_name : NULL;
}

EXPORT const char *accel_error_message(const struct accel_client *c)
{
	return c && c->error_name[0] ? c->error_message : NULL;
}

void accel_client_set_error(struct accel_client *c, const char *name, const char *message)
{
	snprintf(c->error_name, sizeof(c->error_name), "%s", name ? name : "");
	snprintf(c->error_message, sizeof(c->error_message), "%s", message ? message : "");
}

static int reply_error(struct accel_client *c, const struct varlink_reply *reply)
{
	struct json_object *m;
	const char *message = NULL;

	if (json_object_object_get_ex(reply->parameters, "message", &m) &&
	    json_object_is_type(m, json_type_string))
		message = json_object_get_string(m);
	accel_client_set_error(c, reply->error, message);
	return accel_error_errno(reply->error);
}

bool accel_connection_lost(int r)
{
	return r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN || r == -EBADF;
}

int accel_call_fd(struct accel_client *c, const char *method, struct json_object *params,
		  struct json_object **out, int fds_out[2])
{
	unsigned generation;
	int r;

	pthread_mutex_lock(&c->lock);
	generation = c->generation;
	r = accel_call_locked(c, method, json_object_get(params), out, fds_out);
	pthread_mutex_unlock(&c->lock);
	/*
	 * The broker went away (a restart): connect again, without the lock
	 * while waiting for it.  A call it never read (EPIPE) is made once
	 * more; one it read and could not answer is not repeated.
	 */
	if (accel_connection_lost(r) && __atomic_load_n(&c->watching, __ATOMIC_ACQUIRE) &&
	    accel_client_reconnect(c, generation) == 0 && r == -EPIPE) {
		pthread_mutex_lock(&c->lock);
		r = accel_call_locked(c, method, json_object_get(params), out, fds_out);
		pthread_mutex_unlock(&c->lock);
	}
	json_object_put(params);
	return r;
}

int accel_call(struct accel_client *c, const char *method, struct json_object *params,
	       struct json_object **out)
{
	return accel_call_fd(c, method, params, out, NULL);
}

/*
 * The fds a reply names, in the order they came: its "fd" (always the
 * first), then the second when "event_fd" is 1.  Taken here, under the
 * lock, so that the next reply's fds are the next in the queue.
 */
static void take_reply_fds(struct accel_client *c, struct json_object *params, int fds_out[2])
{
	struct json_object *v;
	int fd;

	fd = wire_take_fd(&c->wire);
	fds_out[0] = fd < 0 ? -1 : fd;
	fds_out[1] = -1;
	if (json_object_object_get_ex(params, "event_fd", &v) && json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) == 1) {
		fd = wire_take_fd(&c->wire);
		fds_out[1] = fd < 0 ? -1 : fd;
	}
}

int accel_call_locked(struct accel_client *c, const char *method, struct json_object *params,
		      struct json_object **out, int fds_out[2])
{
	_cleanup_(json_object_putp) struct json_object *msg = json_object_new_object();
	struct varlink_reply reply;
	const char *s;
	size_t len;
	int r;

	if (!msg || !params) {
		json_object_put(params);
		return -ENOMEM;
	}
	json_object_object_add(msg, "method", json_object_new_string(method));
	json_object_object_add(msg, "parameters", params);
	s = varlink_format(msg, &len);
	if (!s)
		return -ENOMEM;
	accel_client_set_error(c, NULL, NULL);
	r = wire_send_all(&c->wire, s, len);
	if (r < 0)
		return r;
	r = wire_receive(&c->wire, &s, &len);
	if (r < 0)
		return r;
	r = varlink_reply_parse(s, len, &reply);
	if (r < 0)
		return -EPROTO;
	if (reply.error) {
		r = reply_error(c, &reply);
		varlink_reply_finish(&reply);
		return r;
	}
	if (out)
		*out = json_object_get(reply.parameters);
	if (fds_out)
		take_reply_fds(c, reply.parameters, fds_out);
	varlink_reply_finish(&reply);
	return 0;
}

static char *dup_string_field(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return strdup(json_object_get_string(v));
}

static int64_t int_field(struct json_object *o, const char *key, int64_t fallback)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return fallback;
	return json_object_get_int64(v);
}

static int device_from_json(struct json_object *o, struct accel_device *d)
{
	struct json_object *algs, *sva;
	size_t n;

	d->name = dup_string_field(o, "name");
	d->backend = dup_string_field(o, "backend");
	d->api = dup_string_field(o, "api");
	if (!d->name || !d->backend || !d->api ||
	    !json_object_object_get_ex(o, "algorithms", &algs) ||
	    !json_object_is_type(algs, json_type_array))
		return -EPROTO;
	n = json_object_array_length(algs);
	d->algorithms = calloc(n + 1, sizeof(char *));
	if (!d->algorithms)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(algs, i);
		if (!json_object_is_type(a, json_type_string))
			return -EPROTO;
		d->algorithms[i] = strdup(json_object_get_string(a));
		if (!d->algorithms[i])
			return -ENOMEM;
	}
	d->sva = json_object_object_get_ex(o, "sva", &sva) && json_object_get_boolean(sva);
	d->numa_node = (int)int_field(o, "numa_node", -1);
	d->queues_total = (unsigned)int_field(o, "queues_total", 0);
	d->queues_free = (unsigned)int_field(o, "queues_free", 0);
	return 0;
}

EXPORT void accel_devices_free(struct accel_device *devices, size_t n)
{
	for (size_t i = 0; devices && i < n; i++) {
		for (char **a = devices[i].algorithms; a && *a; a++)
			free(*a);
		free(devices[i].algorithms);
		free(devices[i].name);
		free(devices[i].backend);
		free(devices[i].api);
	}
	free(devices);
}

EXPORT int accel_list_devices(struct accel_client *c, struct accel_device **out, size_t *n_out)
{
	_cleanup_(json_object_putp) struct json_object *reply = NULL;
	struct json_object *list;
	struct accel_device *devices;
	size_t n;
	int r;

	if (!c || !out || !n_out)
		return -EINVAL;
	r = accel_call(c, ACCEL_INTERFACE ".ListDevices", json_object_new_object(), &reply);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(reply, "devices", &list) ||
	    !json_object_is_type(list, json_type_array))
		return -EPROTO;
	n = json_object_array_length(list);
	devices = calloc(n ? n : 1, sizeof(*devices));
	if (!devices)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = device_from_json(json_object_array_get_idx(list, i), &devices[i]);
		if (r < 0) {
			accel_devices_free(devices, n);
			return r;
		}
	}
	*out = devices;
	*n_out = n;
	return 0;
}

EXPORT int accel_call_json(struct accel_client *c, const char *method, const char *params_json,
			   char **reply_json)
{
	_cleanup_(json_object_putp) struct json_object *reply = NULL;
	struct json_object *params;
	const char *s;
	int r;

	if (!c || !method || !reply_json)
		return -EINVAL;
	params = params_json ? json_tokener_parse(params_json) : json_object_new_object();
	if (!params || !json_object_is_type(params, json_type_object)) {
		json_object_put(params);
		return -EINVAL;
	}
	r = accel_call(c, method, params, &reply);
	if (r < 0)
		return r;
	s = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
	*reply_json = s ? strdup(s) : NULL;
	return *reply_json ? 0 : -ENOMEM;
}

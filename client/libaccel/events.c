// SPDX-License-Identifier: MIT
/* The broker's Monitor stream, on a connection of its own. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "libaccel.h"
#include "util.h"
#include "varlink.h"

#define EXPORT __attribute__((visibility("default")))

/* A systemd unit name is at most 255 bytes (UNIT_NAME_MAX), a machine name less. */
#define SCOPE_NAME_SIZE 256

struct accel_events {
	struct accel_client *client;
	/* Of the event read last: where its queue was acquired ("": none). */
	char unit[SCOPE_NAME_SIZE];
	char machine[SCOPE_NAME_SIZE];
};

static void copy_field(char *dst, size_t size, struct json_object *o, const char *key)
{
	struct json_object *v;

	dst[0] = '\0';
	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(dst, size, "%s", json_object_get_string(v));
}

static int64_t int_field(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	return 0;
}

/*
 * Parse one streamed reply into @out, and into @ev (NULL: not kept) what
 * struct accel_event has no room for; -EPROTO if it is not an event.
 */
static int parse_event(const char *msg, size_t len, struct accel_event *out, struct accel_events *ev)
{
	struct varlink_reply reply;
	int r = varlink_reply_parse(msg, len, &reply);

	if (r < 0)
		return -EPROTO;
	if (reply.error) {
		r = accel_error_errno(reply.error);
		varlink_reply_finish(&reply);
		return r;
	}
	memset(out, 0, sizeof(*out));
	copy_field(out->type, sizeof(out->type), reply.parameters, "event");
	copy_field(out->device, sizeof(out->device), reply.parameters, "device");
	copy_field(out->algorithm, sizeof(out->algorithm), reply.parameters, "algorithm");
	copy_field(out->reason, sizeof(out->reason), reply.parameters, "reason");
	out->queue_id = (uint64_t)int_field(reply.parameters, "queue_id");
	out->uid = (uint32_t)int_field(reply.parameters, "uid");
	if (ev) {
		copy_field(ev->unit, sizeof(ev->unit), reply.parameters, "unit");
		copy_field(ev->machine, sizeof(ev->machine), reply.parameters, "machine");
	}
	varlink_reply_finish(&reply);
	return out->type[0] ? 0 : -EPROTO;
}

EXPORT int accel_events_open(const char *socket_path, struct accel_events **out)
{
	_cleanup_(json_object_putp) struct json_object *msg = NULL;
	struct accel_events *ev;
	struct accel_event first;
	const char *s;
	size_t len;
	int r;

	if (!out)
		return -EINVAL;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	r = accel_connect(socket_path, &ev->client);
	if (r < 0) {
		free(ev);
		return r;
	}
	msg = json_object_new_object();
	json_object_object_add(msg, "method", json_object_new_string(ACCEL_INTERFACE ".Monitor"));
	json_object_object_add(msg, "more", json_object_new_boolean(1));
	s = varlink_format(msg, &len);
	r = s ? wire_send_all(&ev->client->wire, s, len) : -ENOMEM;
	/* Wait for "subscribed": from then on no event is missed. */
	if (r == 0)
		r = wire_receive(&ev->client->wire, &s, &len);
	if (r == 0)
		r = parse_event(s, len, &first, NULL);
	if (r == 0 && strcmp(first.type, "subscribed") != 0)
		r = -EPROTO;
	if (r == 0 && fcntl(ev->client->wire.fd, F_SETFL, O_NONBLOCK) < 0)
		r = -errno;
	if (r < 0) {
		accel_events_close(ev);
		return r;
	}
	*out = ev;
	return 0;
}

EXPORT int accel_events_fd(const struct accel_events *ev)
{
	return ev ? ev->client->wire.fd : -EINVAL;
}

EXPORT int accel_events_read(struct accel_events *ev, struct accel_event *out)
{
	const char *msg;
	size_t len;
	int r;

	if (!ev || !out)
		return -EINVAL;
	while (wire_next(&ev->client->wire, &msg, &len) == 0) {
		r = wire_read(&ev->client->wire);
		if (r == -EAGAIN)
			return 0;
		if (r == 0)
			return -ECONNRESET;
		if (r < 0 && r != -EINTR)
			return r;
	}
	r = parse_event(msg, len, out, ev);
	return r < 0 ? r : 1;
}

EXPORT const char *accel_events_unit(const struct accel_events *ev)
{
	return ev ? ev->unit : "";
}

EXPORT const char *accel_events_machine(const struct accel_events *ev)
{
	return ev ? ev->machine : "";
}

EXPORT void accel_events_close(struct accel_events *ev)
{
	if (!ev)
		return;
	accel_disconnect(ev->client);
	free(ev);
}

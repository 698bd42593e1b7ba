// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <accel/accel.h>
#include <json-c/json.h>

#include "allowance.h"
#include "errors.h"
#include "util.h"
#include "varlink.h"

static const char *get_string(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

static long long get_int(struct json_object *o, const char *key, long long fallback)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
		       ? json_object_get_int64(v) : fallback;
}

static struct json_object *get_array(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array) ? v : NULL;
}

static bool has_algorithm(struct json_object *device, const char *algorithm)
{
	struct json_object *algs = get_array(device, "algorithms");

	for (size_t i = 0; algs && i < json_object_array_length(algs); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(algs, i)), algorithm) == 0)
			return true;
	return false;
}

/* Whether a devices= value (patterns separated by spaces) admits @name. */
static bool patterns_match(const char *patterns, const char *name)
{
	char buf[1024], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", patterns);
	for (char *p = strtok_r(buf, " ", &save); p; p = strtok_r(NULL, " ", &save))
		if (fnmatch(p, name, 0) == 0)
			return true;
	return false;
}

/* A limit's room: limit - used, never below 0. */
static unsigned room(struct json_object *limit)
{
	long long left = get_int(limit, "limit", 0) - get_int(limit, "used", 0);

	return left > 0 ? (unsigned)left : 0;
}

/* The quota's room for a raw queue of @device, and why there is none. */
static unsigned quota_room(struct json_object *quota, struct json_object *device, const char *name,
			   char *why, size_t why_size)
{
	struct json_object *limits = get_array(quota, "limits"), *restrictions = get_array(quota, "restrictions");
	unsigned left = ~0u;

	for (size_t i = 0; restrictions && i < json_object_array_length(restrictions); i++) {
		struct json_object *r = json_object_array_get_idx(restrictions, i);
		const char *key = get_string(r, "key"), *value = get_string(r, "value");
		if (!key || !value)
			continue;
		if ((strcmp(key, "allow") == 0 && strcmp(value, "no") == 0) ||
		    (strcmp(key, "devices") == 0 && !patterns_match(value, name))) {
			snprintf(why, why_size, "%s = %s (%s)", key, value, get_string(r, "rule") ?: "?");
			return 0;
		}
	}
	for (size_t i = 0; limits && i < json_object_array_length(limits); i++) {
		struct json_object *l = json_object_array_get_idx(limits, i);
		const char *key = get_string(l, "key");
		if (!key)
			continue;
		if (strncmp(key, "max_queues.", 11) == 0 && !has_algorithm(device, key + 11))
			continue;
		if (room(l) < left)
			left = room(l);
	}
	return left;
}

static int quota_left_overall(struct json_object *quota)
{
	struct json_object *limits = get_array(quota, "limits");
	int left = -1;

	for (size_t i = 0; limits && i < json_object_array_length(limits); i++) {
		struct json_object *l = json_object_array_get_idx(limits, i);
		const char *key = get_string(l, "key");
		if (key && strncmp(key, "max_queues.", 11) != 0 && (left < 0 || room(l) < (unsigned)left))
			left = (int)room(l);
	}
	return left;
}

static void fill(struct allowance_device *d, struct json_object *device, struct json_object *quota)
{
	const char *refused = get_string(device, "refused");
	struct json_object *allowed;
	long long free_ = get_int(device, "queues_free", 0);
	unsigned left;

	snprintf(d->name, sizeof(d->name), "%s", get_string(device, "name"));
	d->free = free_ > 0 ? (unsigned)free_ : 0;
	if (refused) {
		snprintf(d->why, sizeof(d->why), "%s", refused);
		return;
	}
	if (json_object_object_get_ex(quota, "allowed", &allowed) && !json_object_get_boolean(allowed)) {
		snprintf(d->why, sizeof(d->why), "not allowed to use accelerators");
		return;
	}
	left = quota_room(quota, device, d->name, d->why, sizeof(d->why));
	if (d->why[0])
		return;
	d->usable = true;
	d->available = d->free < left ? d->free : left;
}

int allowance_parse(const char *devices_json, const char *quota_json, struct allowance *out)
{
	_cleanup_(json_object_putp) struct json_object *devices = json_tokener_parse(devices_json);
	_cleanup_(json_object_putp) struct json_object *quota = json_tokener_parse(quota_json);
	struct json_object *list = devices ? get_array(devices, "devices") : NULL;

	*out = (struct allowance){ .quota_left = -1 };
	if (!list || !quota)
		return -EPROTO;
	out->devices = calloc(json_object_array_length(list) + 1, sizeof(*out->devices));
	if (!out->devices)
		return -ENOMEM;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *device = json_object_array_get_idx(list, i);
		const char *backend = get_string(device, "backend"), *name = get_string(device, "name");
		if (!backend || strcmp(backend, "uacce") != 0 || !name)
			continue;
		fill(&out->devices[out->n++], device, quota);
	}
	out->quota_left = quota_left_overall(quota);
	return 0;
}

int allowance_read(struct accel_client *c, struct allowance *out)
{
	char *devices = NULL, *quota = NULL;
	int r;

	r = accel_call_json(c, ACCEL_INTERFACE ".ListDevices", NULL, &devices);
	if (r >= 0)
		r = accel_call_json(c, ACCEL_INTERFACE ".GetQuota", NULL, &quota);
	if (r >= 0)
		r = allowance_parse(devices, quota, out);
	free(devices);
	free(quota);
	return r;
}

const struct allowance_device *allowance_find(const struct allowance *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->devices[i].name, name) == 0)
			return &a->devices[i];
	return NULL;
}

void allowance_free(struct allowance *a)
{
	free(a->devices);
	*a = (struct allowance){ .quota_left = -1 };
}

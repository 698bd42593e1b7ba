// SPDX-License-Identifier: MIT
#include <json-c/json.h>
#include <time.h>

#include "clients.h"
#include "device.h"
#include "util.h"
#include "varlink.h"
#include "varlink_json.h"

#define VARLINK_SERVICE "org.varlink.service"

/* The fields of a table for varlink_object_new(). */
#define STRING(n, v)	{ n, VARLINK_VALUE_STRING, .s = (v) }
#define INT(n, v)	{ n, VARLINK_VALUE_INT, .i = (int64_t)(v) }
#define BOOL(n, v)	{ n, VARLINK_VALUE_BOOL, .b = (v) }
#define JSON(n, v)	{ n, VARLINK_VALUE_JSON, .json = (v) }
#define END		VARLINK_VALUE_END
/* An optional string, left out when NULL. */
#define OPT_STRING(n, v)	{ n, VARLINK_VALUE_STRING, .s = (v), .omit = !(v) }

static struct json_object *json_strings(char *const *strv)
{
	struct json_object *a = varlink_array_new();

	for (char *const *s = strv; a && *s; s++)
		if (varlink_array_append(a, varlink_string_new(*s)) < 0) {
			json_object_put(a);
			return NULL;
		}
	return a;
}

static struct json_object *json_regions(const struct queue *q)
{
	struct json_object *a = varlink_array_new();

	for (unsigned i = 0; a && i < q->n_regions; i++) {
		const struct queue_region *r = &q->regions[i];
		struct json_object *o = varlink_object_new((const struct varlink_value[]){
			STRING("type", r->type), INT("offset", r->offset), INT("size", r->size), END,
		});

		if (varlink_array_append(a, o) < 0) {
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

#define HANDED_OUT	(1u << QUEUE_VIEW_HANDED_OUT)
#define LISTED		(1u << QUEUE_VIEW_LISTED)
#define REVOKED		(1u << QUEUE_VIEW_REVOKED)
#define EVENT		(1u << QUEUE_VIEW_HANDED_OUT_EVENT)

/*
 * Every field a queue has on the wire, in the order every message writes
 * them, each with the views that carry it.
 */
struct json_object *varlink_json_queue(const struct queue *q, enum queue_view view, const char *reason)
{
	/* The event view is the handed-out one and one field more. */
	const unsigned want = view == QUEUE_VIEW_HANDED_OUT_EVENT ? HANDED_OUT | EVENT : 1u << view;
	const struct {
		unsigned views;
		struct varlink_value value;
	} all[] = {
		{ REVOKED, STRING("event", "revoked") },
		{ HANDED_OUT | LISTED | REVOKED, INT("queue_id", q->id) },
		{ HANDED_OUT | LISTED | REVOKED, STRING("device", q->device->name) },
		{ HANDED_OUT, STRING("api", q->device->api) },
		{ HANDED_OUT | LISTED | REVOKED, STRING("algorithm", q->algorithm) },
		{ HANDED_OUT, INT("fd", 0) },	/* the index of the fd the message carries */
		{ EVENT, INT("event_fd", q->event_fd >= 0 ? 1 : 0) },	/* varlink_api.c: reply_queue() */
		{ HANDED_OUT, JSON("regions", want & HANDED_OUT ? json_regions(q) : NULL) },
		{ LISTED | REVOKED, INT("uid", q->uid) },
		{ LISTED, INT("pid", q->pid) },
		{ LISTED, STRING("state", queue_state_to_string(q->state)) },
		{ HANDED_OUT | LISTED, STRING("lifetime", policy_lifetime_to_string(q->terms.lifetime)) },
		{ HANDED_OUT, STRING("fork", policy_fork_to_string(q->terms.fork)) },
		{ HANDED_OUT, STRING("bind", device_bind_to_string(q->device)) },
		{ LISTED, BOOL("attached", q->holder != NULL) },
		{ LISTED, INT("acquired_usec", q->acquired_usec) },
		{ LISTED | REVOKED, OPT_STRING("unit", q->identity ? q->identity->unit : NULL) },
		{ LISTED | REVOKED, OPT_STRING("machine", q->identity ? q->identity->machine : NULL) },
		{ REVOKED, STRING("reason", reason) },
	};
	struct varlink_value fields[ELEMENTSOF(all) + 1];
	unsigned n = 0;

	for (size_t i = 0; i < ELEMENTSOF(all); i++)
		if (all[i].views & want)
			fields[n++] = all[i].value;
	fields[n] = (struct varlink_value)END;
	return varlink_object_new(fields);
}

struct json_object *varlink_json_device(struct device *d)
{
	unsigned queues_free;

	(void)device_queues_free(d, &queues_free, NULL);	/* unreadable: listed as none free */
	return varlink_object_new((const struct varlink_value[]){
		STRING("name", d->name),
		STRING("backend", d->ops->name),
		STRING("api", d->api),
		JSON("algorithms", json_strings(d->algorithms)),
		BOOL("sva", d->sva),
		INT("numa_node", d->numa_node),
		INT("queues_total", d->queues_total),
		INT("queues_free", queues_free),
		BOOL("revocable", d->revocable),
		{ "refused", VARLINK_VALUE_STRING, .s = d->refused, .omit = !d->refused[0] },
		END,
	});
}

struct json_object *varlink_json_device_event(const struct device *d, const char *event)
{
	return varlink_object_new((const struct varlink_value[]){
		STRING("event", event), STRING("device", d->name), END,
	});
}

struct json_object *varlink_json_event(const char *event)
{
	return varlink_object_new((const struct varlink_value[]){ STRING("event", event), END });
}

struct users {
	struct json_object *array;	/* NULL once an allocation failed */
};

static void add_user(uid_t uid, unsigned queues, void *data)
{
	struct users *u = data;
	struct json_object *o;

	if (!u->array)
		return;
	o = varlink_object_new((const struct varlink_value[]){ INT("uid", uid), INT("queues", queues), END });
	if (varlink_array_append(u->array, o) < 0) {
		json_object_put(u->array);
		u->array = NULL;
	}
}

/* How often the event loop went round: a loop that spins shows here. */
static uint64_t loop_iterations(struct broker *b)
{
	uint64_t n = 0;

	if (b->event)
		(void)sd_event_get_iteration(b->event, &n);
	return n;
}

struct json_object *varlink_json_status(struct broker *b, const struct varlink_json_listener *l,
					const struct peer *peer)
{
	struct users users = { varlink_array_new() };

	broker_for_each_user(b, peer, add_user, &users);
	return varlink_object_new((const struct varlink_value[]){
		STRING("version", ACCEL_VERSION),
		INT("uptime_usec", now_usec(CLOCK_MONOTONIC) - b->started_usec),
		INT("devices", broker_device_count(b)),
		INT("queues_active", broker_active_queues(b)),
		INT("clients", broker_clients(b)),
		INT("monitors", l->monitors),
		INT("awaiting_reader", l->awaiting_reader),
		INT("loop_iterations", loop_iterations(b)),
		BOOL("accepting", l->accepting),
		INT("accept_pauses", l->accept_pauses),
		JSON("users", users.array),
		END,
	});
}

static struct json_object *json_limits(const struct quota *q)
{
	struct json_object *a = varlink_array_new();

	for (unsigned i = 0; a && i < q->n_lines; i++) {
		const struct quota_line *l = &q->lines[i];
		struct json_object *o = varlink_object_new((const struct varlink_value[]){
			STRING("key", l->key),
			INT("limit", l->limit),
			INT("used", l->used),
			STRING("rule", l->where),
			{ "gid", VARLINK_VALUE_INT, .i = l->gid, .omit = l->gid < 0 },
			OPT_STRING("unit", quota_scope(l->kind, l->scope, RULE_UNIT)),
			OPT_STRING("slice", quota_scope(l->kind, l->scope, RULE_SLICE)),
			OPT_STRING("machine", quota_scope(l->kind, l->scope, RULE_MACHINE)),
			END,
		});

		if (varlink_array_append(a, o) < 0) {
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

static struct json_object *json_restrictions(const struct quota *q)
{
	struct json_object *a = varlink_array_new();

	for (unsigned i = 0; a && i < q->n_restrictions; i++) {
		const struct quota_restriction *r = &q->restrictions[i];
		struct json_object *o = varlink_object_new((const struct varlink_value[]){
			STRING("key", r->key),
			STRING("value", r->value),
			STRING("rule", r->where),
			{ "gid", VARLINK_VALUE_INT, .i = r->gid, .omit = r->gid < 0 },
			OPT_STRING("unit", quota_scope(r->kind, r->scope, RULE_UNIT)),
			OPT_STRING("slice", quota_scope(r->kind, r->scope, RULE_SLICE)),
			OPT_STRING("machine", quota_scope(r->kind, r->scope, RULE_MACHINE)),
			END,
		});

		if (varlink_array_append(a, o) < 0) {
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

struct json_object *varlink_json_quota(const struct quota *q)
{
	return varlink_object_new((const struct varlink_value[]){
		INT("uid", q->uid),
		BOOL("allowed", q->allowed),
		JSON("limits", json_limits(q)),
		JSON("restrictions", json_restrictions(q)),
		STRING("lifetime", policy_lifetime_to_string(q->terms.lifetime)),
		STRING("fork", policy_fork_to_string(q->terms.fork)),
		STRING("transfer", policy_transfer_to_string(q->terms.transfer)),
		END,
	});
}

struct json_object *varlink_json_transfer(const char *token, uint64_t expires_in_usec)
{
	return varlink_object_new((const struct varlink_value[]){
		STRING("token", token), INT("expires_in_usec", expires_in_usec), END,
	});
}

struct json_object *varlink_json_count(const char *name, int64_t value)
{
	return varlink_object_new((const struct varlink_value[]){ INT(name, value), END });
}

struct json_object *varlink_json_service_info(void)
{
	static char *const interfaces[] = { VARLINK_SERVICE, ACCEL_INTERFACE, NULL };

	return varlink_object_new((const struct varlink_value[]){
		STRING("vendor", "accel-broker"),
		STRING("product", "accel-broker"),
		STRING("version", ACCEL_VERSION),
		STRING("url", "https://github.com/accel-broker/accel-broker"),
		JSON("interfaces", json_strings(interfaces)),
		END,
	});
}

struct json_object *varlink_json_description(const char *description)
{
	return varlink_object_new((const struct varlink_value[]){ STRING("description", description), END });
}

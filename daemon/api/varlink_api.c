// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "connection.h"
#include "device.h"
#include "log.h"
#include "server.h"
#include "util.h"
#include "varlink.h"
#include "varlink_api.h"

#define VARLINK_SERVICE "org.varlink.service"

typedef int (*handler_fn)(struct connection *c, const struct varlink_call *call,
			  struct accel_error *e);

static struct broker *broker_of(struct connection *c)
{
	return c->server->broker;
}

static const struct varlink_param no_params[] = { { 0 } };

static struct json_object *device_to_json(struct device *d)
{
	struct json_object *o = json_object_new_object(), *algs = json_object_new_array();

	for (char **a = d->algorithms; *a; a++)
		json_object_array_add(algs, json_object_new_string(*a));
	json_object_object_add(o, "name", json_object_new_string(d->name));
	json_object_object_add(o, "backend", json_object_new_string(d->ops->name));
	json_object_object_add(o, "api", json_object_new_string(d->api));
	json_object_object_add(o, "algorithms", algs);
	json_object_object_add(o, "sva", json_object_new_boolean(d->sva));
	json_object_object_add(o, "numa_node", json_object_new_int(d->numa_node));
	json_object_object_add(o, "queues_total", json_object_new_int64(d->queues_total));
	json_object_object_add(o, "queues_free", json_object_new_int64(device_queues_free(d)));
	json_object_object_add(o, "revocable", json_object_new_boolean(d->revocable));
	if (d->refused[0])
		json_object_object_add(o, "refused", json_object_new_string(d->refused));
	return o;
}

static int handle_list_devices(struct connection *c, const struct varlink_call *call,
			       struct accel_error *e)
{
	struct json_object *reply, *devices;
	struct device *d;
	int r;

	r = varlink_params_dispatch(call->parameters, no_params, e);
	if (r < 0)
		return r;
	reply = json_object_new_object();
	devices = json_object_new_array();
	list_for_each(d, &broker_of(c)->devices, link)
		json_object_array_add(devices, device_to_json(d));
	json_object_object_add(reply, "devices", devices);
	return connection_reply(c, call, reply, NULL, 0);
}

static struct json_object *regions_to_json(const struct queue *q)
{
	struct json_object *a = json_object_new_array();

	for (unsigned i = 0; i < q->n_regions; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "type", json_object_new_string(q->regions[i].type));
		json_object_object_add(o, "offset", json_object_new_int64((int64_t)q->regions[i].offset));
		json_object_object_add(o, "size", json_object_new_int64((int64_t)q->regions[i].size));
		json_object_array_add(a, o);
	}
	return a;
}

/* The reply that hands @q out: what to map, and on what terms; the fd rides along. */
static int reply_queue(struct connection *c, const struct varlink_call *call, struct queue *q)
{
	struct json_object *reply = json_object_new_object();

	json_object_object_add(reply, "queue_id", json_object_new_int64((int64_t)q->id));
	json_object_object_add(reply, "device", json_object_new_string(q->device->name));
	json_object_object_add(reply, "api", json_object_new_string(q->device->api));
	json_object_object_add(reply, "algorithm", json_object_new_string(q->algorithm));
	json_object_object_add(reply, "fd", json_object_new_int(0));
	json_object_object_add(reply, "regions", regions_to_json(q));
	json_object_object_add(reply, "lifetime",
			       json_object_new_string(policy_lifetime_to_string(q->terms.lifetime)));
	json_object_object_add(reply, "fork", json_object_new_string(policy_fork_to_string(q->terms.fork)));
	json_object_object_add(reply, "bind", json_object_new_string(device_bind_to_string(q->device)));
	return connection_reply(c, call, reply, &q->fd, 1);
}

static int handle_acquire_queue(struct connection *c, const struct varlink_call *call,
				struct accel_error *e)
{
	struct acquire_request req = { .numa_node = -1 };
	int64_t numa_node = -1;
	const struct varlink_param params[] = {
		{ "algorithm", VARLINK_STRING, false, &req.algorithm },
		{ "device", VARLINK_STRING, true, &req.device },
		{ "numa_node", VARLINK_INT, true, &numa_node },
		{ 0 },
	};
	struct queue *q;
	int r;

	r = varlink_params_dispatch(call->parameters, params, e);
	if (r < 0)
		return r;
	if (numa_node < -1 || numa_node > 4095)
		return accel_error_set(e, ERR_INVALID_PARAMETER, "numa_node %lld is out of range",
				       (long long)numa_node);
	req.numa_node = (int)numa_node;

	r = broker_acquire(broker_of(c), &c->peer, c, &req, &q, e);
	if (r < 0)
		return r;
	r = reply_queue(c, call, q);
	if (r < 0) {
		/* The client never learns of it: give it back now. */
		broker_release(broker_of(c), &c->peer, c, q->id, NULL);
		return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE, "could not send the queue: %s",
				       strerror(-r));
	}
	return 0;
}

/* A queue id parameter: ids start at 1. */
static int queue_id_param(int64_t id, struct accel_error *e)
{
	return id <= 0 ? accel_error_set(e, ERR_NO_SUCH_QUEUE, "no queue %lld", (long long)id) : 0;
}

static int handle_attach_queue(struct connection *c, const struct varlink_call *call,
			       struct accel_error *e)
{
	int64_t id;
	const struct varlink_param params[] = {
		{ "queue_id", VARLINK_INT, false, &id },
		{ 0 },
	};
	struct queue *q;
	int r;

	r = varlink_params_dispatch(call->parameters, params, e);
	if (r < 0 || (r = queue_id_param(id, e)) < 0)
		return r;
	r = broker_attach(broker_of(c), &c->peer, c, (uint64_t)id, &q, e);
	if (r < 0)
		return r;
	return reply_queue(c, call, q);
}

static int handle_transfer_queue(struct connection *c, const struct varlink_call *call,
				 struct accel_error *e)
{
	char token[QUEUE_TOKEN_LEN + 1];
	struct json_object *reply;
	int64_t id;
	const struct varlink_param params[] = {
		{ "queue_id", VARLINK_INT, false, &id },
		{ 0 },
	};
	int r;

	r = varlink_params_dispatch(call->parameters, params, e);
	if (r < 0 || (r = queue_id_param(id, e)) < 0)
		return r;
	r = broker_transfer(broker_of(c), &c->peer, c, (uint64_t)id, token, e);
	if (r < 0)
		return r;
	reply = json_object_new_object();
	json_object_object_add(reply, "token", json_object_new_string(token));
	json_object_object_add(reply, "expires_in_usec",
			       json_object_new_int64((int64_t)broker_of(c)->limits.transfer_timeout_usec));
	return connection_reply(c, call, reply, NULL, 0);
}

static int handle_claim_queue(struct connection *c, const struct varlink_call *call,
			      struct accel_error *e)
{
	const char *token;
	const struct varlink_param params[] = {
		{ "token", VARLINK_STRING, false, &token },
		{ 0 },
	};
	struct queue *q;
	int r;

	r = varlink_params_dispatch(call->parameters, params, e);
	if (r < 0)
		return r;
	r = broker_claim(broker_of(c), &c->peer, c, token, &q, e);
	if (r < 0)
		return r;
	return reply_queue(c, call, q);
}

static int handle_release_queue(struct connection *c, const struct varlink_call *call,
				struct accel_error *e)
{
	int64_t id;
	const struct varlink_param params[] = {
		{ "queue_id", VARLINK_INT, false, &id },
		{ 0 },
	};
	int r;

	r = varlink_params_dispatch(call->parameters, params, e);
	if (r < 0 || (r = queue_id_param(id, e)) < 0)
		return r;
	r = broker_release(broker_of(c), &c->peer, c, (uint64_t)id, e);
	if (r < 0)
		return r;
	return connection_reply(c, call, json_object_new_object(), NULL, 0);
}

static struct json_object *queue_to_json(const struct queue *q)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "queue_id", json_object_new_int64((int64_t)q->id));
	json_object_object_add(o, "device", json_object_new_string(q->device->name));
	json_object_object_add(o, "algorithm", json_object_new_string(q->algorithm));
	json_object_object_add(o, "uid", json_object_new_int64(q->uid));
	json_object_object_add(o, "pid", json_object_new_int64(q->pid));
	json_object_object_add(o, "state", json_object_new_string(queue_state_to_string(q->state)));
	json_object_object_add(o, "lifetime",
			       json_object_new_string(policy_lifetime_to_string(q->terms.lifetime)));
	json_object_object_add(o, "attached", json_object_new_boolean(q->holder != NULL));
	json_object_object_add(o, "acquired_usec", json_object_new_int64((int64_t)q->acquired_usec));
	return o;
}

static int handle_list_queues(struct connection *c, const struct varlink_call *call,
			      struct accel_error *e)
{
	struct json_object *reply, *queues;
	struct queue *q;
	int r;

	r = varlink_params_dispatch(call->parameters, no_params, e);
	if (r < 0)
		return r;
	reply = json_object_new_object();
	queues = json_object_new_array();
	list_for_each(q, &broker_of(c)->queues, link)
		if (broker_may_see(&c->peer, q))
			json_object_array_add(queues, queue_to_json(q));
	json_object_object_add(reply, "queues", queues);
	return connection_reply(c, call, reply, NULL, 0);
}

static void add_user(uid_t uid, unsigned queues, void *data)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "uid", json_object_new_int64(uid));
	json_object_object_add(o, "queues", json_object_new_int64(queues));
	json_object_array_add(data, o);
}

/* How often the event loop went round: a loop that spins shows here. */
static uint64_t loop_iterations(struct broker *b)
{
	uint64_t n = 0;

	if (b->event)
		(void)sd_event_get_iteration(b->event, &n);
	return n;
}

static int handle_get_status(struct connection *c, const struct varlink_call *call,
			     struct accel_error *e)
{
	struct broker *b = broker_of(c);
	struct json_object *reply, *users;
	int r;

	r = varlink_params_dispatch(call->parameters, no_params, e);
	if (r < 0)
		return r;
	reply = json_object_new_object();
	json_object_object_add(reply, "version", json_object_new_string(ACCEL_VERSION));
	json_object_object_add(reply, "uptime_usec",
			       json_object_new_int64((int64_t)(now_usec(CLOCK_MONOTONIC) - b->started_usec)));
	json_object_object_add(reply, "devices", json_object_new_int64(broker_device_count(b)));
	json_object_object_add(reply, "queues_active", json_object_new_int64(broker_active_queues(b)));
	json_object_object_add(reply, "clients", json_object_new_int64(b->n_connections));
	json_object_object_add(reply, "monitors", json_object_new_int64(c->server->n_monitors));
	json_object_object_add(reply, "awaiting_reader", json_object_new_int64(c->server->n_awaiting_reader));
	json_object_object_add(reply, "loop_iterations", json_object_new_int64((int64_t)loop_iterations(b)));
	json_object_object_add(reply, "accepting", json_object_new_boolean(!c->server->accept_paused));
	json_object_object_add(reply, "accept_pauses", json_object_new_int64((int64_t)c->server->accept_pauses));
	users = json_object_new_array();
	broker_for_each_user(b, &c->peer, add_user, users);
	json_object_object_add(reply, "users", users);
	return connection_reply(c, call, reply, NULL, 0);
}

static void monitor_queue_changed(struct broker_watcher *w, const struct queue *q, enum queue_state from,
				  const char *reason)
{
	struct connection *c = (struct connection *)((char *)w - offsetof(struct connection, watcher));
	struct json_object *ev;

	(void)from;
	if (q->state != QUEUE_REVOKED)	/* the stream tells revocations only */
		return;
	ev = json_object_new_object();

	json_object_object_add(ev, "event", json_object_new_string("revoked"));
	json_object_object_add(ev, "queue_id", json_object_new_int64((int64_t)q->id));
	json_object_object_add(ev, "device", json_object_new_string(q->device->name));
	json_object_object_add(ev, "algorithm", json_object_new_string(q->algorithm));
	json_object_object_add(ev, "uid", json_object_new_int64(q->uid));
	json_object_object_add(ev, "reason", json_object_new_string(reason));
	connection_notify(c, ev);
}

static void monitor_device_changed(struct broker_watcher *w, const struct device *d, const char *event)
{
	struct connection *c = (struct connection *)((char *)w - offsetof(struct connection, watcher));
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "event", json_object_new_string(event));
	json_object_object_add(ev, "device", json_object_new_string(d->name));
	connection_notify(c, ev);
}

static int handle_monitor(struct connection *c, const struct varlink_call *call,
			  struct accel_error *e)
{
	struct json_object *ev;
	int r;

	r = varlink_params_dispatch(call->parameters, no_params, e);
	if (r < 0)
		return r;
	if (!call->more)
		return accel_error_set(e, ERR_VARLINK_EXPECTED_MORE, "Monitor streams: call it with \"more\": true");
	c->monitoring = true;
	c->server->n_monitors++;
	c->watcher.peer = &c->peer;
	c->watcher.queue_changed = monitor_queue_changed;
	c->watcher.device_changed = monitor_device_changed;
	broker_watch(broker_of(c), &c->watcher);
	/* The first event says the stream is live: nothing after it is missed. */
	ev = json_object_new_object();
	json_object_object_add(ev, "event", json_object_new_string("subscribed"));
	return connection_notify(c, ev);
}

static int handle_revoke(struct connection *c, const struct varlink_call *call,
			 struct accel_error *e)
{
	struct revoke_request req = { 0 };
	int64_t id = 0;
	const struct varlink_param params[] = {
		{ "queue_id", VARLINK_INT, true, &id },
		{ "user", VARLINK_STRING, true, &req.user },
		{ "device", VARLINK_STRING, true, &req.device },
		{ 0 },
	};
	struct json_object *reply;
	int r;

	r = varlink_params_dispatch(call->parameters, params, e);
	if (r < 0)
		return r;
	if (id < 0)
		return accel_error_set(e, ERR_NO_SUCH_QUEUE, "no queue %lld", (long long)id);
	req.queue_id = (uint64_t)id;
	r = broker_revoke_matching(broker_of(c), &c->peer, &req, e);
	if (r < 0)
		return r;
	reply = json_object_new_object();
	json_object_object_add(reply, "revoked", json_object_new_int(r));
	return connection_reply(c, call, reply, NULL, 0);
}

static struct json_object *restrictions_to_json(const struct quota *q)
{
	struct json_object *list = json_object_new_array();

	for (unsigned i = 0; i < q->n_restrictions; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "key", json_object_new_string(q->restrictions[i].key));
		json_object_object_add(o, "value", json_object_new_string(q->restrictions[i].value));
		json_object_object_add(o, "rule", json_object_new_string(q->restrictions[i].where));
		if (q->restrictions[i].gid >= 0)
			json_object_object_add(o, "gid", json_object_new_int64(q->restrictions[i].gid));
		json_object_array_add(list, o);
	}
	return list;
}

static int handle_get_quota(struct connection *c, const struct varlink_call *call,
			    struct accel_error *e)
{
	const char *user = NULL;
	const struct varlink_param params[] = {
		{ "user", VARLINK_STRING, true, &user },
		{ 0 },
	};
	struct json_object *reply, *limits;
	struct quota q;
	int r;

	r = varlink_params_dispatch(call->parameters, params, e);
	if (r < 0)
		return r;
	r = broker_get_quota(broker_of(c), &c->peer, user, &q, e);
	if (r < 0)
		return r;
	reply = json_object_new_object();
	limits = json_object_new_array();
	for (unsigned i = 0; i < q.n_lines; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "key", json_object_new_string(q.lines[i].key));
		json_object_object_add(o, "limit", json_object_new_int(q.lines[i].limit));
		json_object_object_add(o, "used", json_object_new_int64(q.lines[i].used));
		json_object_object_add(o, "rule", json_object_new_string(q.lines[i].where));
		if (q.lines[i].gid >= 0)
			json_object_object_add(o, "gid", json_object_new_int64(q.lines[i].gid));
		json_object_array_add(limits, o);
	}
	free(q.lines);
	json_object_object_add(reply, "uid", json_object_new_int64(q.uid));
	json_object_object_add(reply, "allowed", json_object_new_boolean(q.allowed));
	json_object_object_add(reply, "limits", limits);
	json_object_object_add(reply, "restrictions", restrictions_to_json(&q));
	free(q.restrictions);
	json_object_object_add(reply, "lifetime", json_object_new_string(policy_lifetime_to_string(q.terms.lifetime)));
	json_object_object_add(reply, "fork", json_object_new_string(policy_fork_to_string(q.terms.fork)));
	json_object_object_add(reply, "transfer", json_object_new_string(policy_transfer_to_string(q.terms.transfer)));
	return connection_reply(c, call, reply, NULL, 0);
}

static int handle_reload(struct connection *c, const struct varlink_call *call,
			 struct accel_error *e)
{
	struct json_object *reply;
	int r;

	r = varlink_params_dispatch(call->parameters, no_params, e);
	if (r < 0)
		return r;
	if (!c->peer.admin)
		return accel_error_set(e, ERR_PERMISSION_DENIED, "only an administrator may reload");
	r = broker_reload(broker_of(c), &c->peer, e);
	if (r < 0)
		return r;
	reply = json_object_new_object();
	json_object_object_add(reply, "revoked", json_object_new_int(r));
	return connection_reply(c, call, reply, NULL, 0);
}

static int handle_get_info(struct connection *c, const struct varlink_call *call,
			   struct accel_error *e)
{
	struct json_object *reply, *interfaces;
	int r;

	r = varlink_params_dispatch(call->parameters, no_params, e);
	if (r < 0)
		return r;
	reply = json_object_new_object();
	interfaces = json_object_new_array();
	json_object_array_add(interfaces, json_object_new_string(VARLINK_SERVICE));
	json_object_array_add(interfaces, json_object_new_string(ACCEL_INTERFACE));
	json_object_object_add(reply, "vendor", json_object_new_string("accel-broker"));
	json_object_object_add(reply, "product", json_object_new_string("accel-broker"));
	json_object_object_add(reply, "version", json_object_new_string(ACCEL_VERSION));
	json_object_object_add(reply, "url", json_object_new_string("https://github.com/accel-broker/accel-broker"));
	json_object_object_add(reply, "interfaces", interfaces);
	return connection_reply(c, call, reply, NULL, 0);
}

static int handle_get_interface_description(struct connection *c, const struct varlink_call *call,
					    struct accel_error *e)
{
	const char *interface, *description;
	const struct varlink_param params[] = {
		{ "interface", VARLINK_STRING, false, &interface },
		{ 0 },
	};
	struct json_object *reply;
	int r;

	r = varlink_params_dispatch(call->parameters, params, e);
	if (r < 0)
		return r;
	if (strcmp(interface, ACCEL_INTERFACE) == 0)
		description = varlink_api_description;
	else if (strcmp(interface, VARLINK_SERVICE) == 0)
		description = varlink_service_description;
	else {
		accel_error_set(e, ERR_VARLINK_INTERFACE_NOT_FOUND, "no interface \"%.64s\"", interface);
		return accel_error_field(e, "interface", interface);
	}
	reply = json_object_new_object();
	json_object_object_add(reply, "description", json_object_new_string(description));
	return connection_reply(c, call, reply, NULL, 0);
}

/*
 * oneway: whether a call with "oneway": true is run.  Varlink sends no reply
 * to a oneway call, not even an error: one would be read as the reply to the
 * client's next call.  So a oneway call of a method whose reply is its point
 * (a queue fd, a token, a stream, a listing) is not run at all, only logged;
 * only methods whose effect is the point may be oneway.
 */
static const struct {
	const char *method;
	handler_fn handler;
	bool oneway;
} methods[] = {
	{ ACCEL_INTERFACE ".ListDevices", handle_list_devices, false },
	{ ACCEL_INTERFACE ".AcquireQueue", handle_acquire_queue, false },
	{ ACCEL_INTERFACE ".ReleaseQueue", handle_release_queue, true },
	{ ACCEL_INTERFACE ".AttachQueue", handle_attach_queue, false },
	{ ACCEL_INTERFACE ".TransferQueue", handle_transfer_queue, false },
	{ ACCEL_INTERFACE ".ClaimQueue", handle_claim_queue, false },
	{ ACCEL_INTERFACE ".ListQueues", handle_list_queues, false },
	{ ACCEL_INTERFACE ".GetStatus", handle_get_status, false },
	{ ACCEL_INTERFACE ".Monitor", handle_monitor, false },
	{ ACCEL_INTERFACE ".Revoke", handle_revoke, true },
	{ ACCEL_INTERFACE ".Reload", handle_reload, true },
	{ ACCEL_INTERFACE ".GetQuota", handle_get_quota, false },
	{ VARLINK_SERVICE ".GetInfo", handle_get_info, false },
	{ VARLINK_SERVICE ".GetInterfaceDescription", handle_get_interface_description, false },
};

void varlink_api_dispatch(struct connection *c, const char *msg, size_t len)
{
	struct varlink_call call;
	struct accel_error e = { 0 };
	handler_fn handler = NULL;
	bool oneway_ok = false;
	int r;

	if (c->monitoring) {
		/* Its Monitor call never ends, so no reply could follow in order. */
		accel_error_set(&e, ERR_INVALID_PARAMETER, "no calls after Monitor on the same connection");
		connection_abort(c, &e);
		return;
	}
	r = varlink_call_parse(msg, len, &call, &e);
	if (r < 0) {
		log_client(c->peer.uid, LOG_NOTICE, "Bad message from pid %d uid %u: %s", (int)c->peer.pid,
			   (unsigned)c->peer.uid, e.message);
		connection_reply_error(c, NULL, &e);
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(methods); i++)
		if (strcmp(methods[i].method, call.method) == 0) {
			handler = methods[i].handler;
			oneway_ok = methods[i].oneway;
		}
	if (!handler) {
		accel_error_set(&e, ERR_VARLINK_METHOD_NOT_FOUND, "no method \"%.128s\"", call.method);
		r = accel_error_field(&e, "method", call.method);
	} else if (call.oneway && !oneway_ok) {
		/* Not run, and (oneway) not answered: the log is all that says so. */
		accel_error_set(&e, ERR_INVALID_PARAMETER, "%s cannot be oneway: not run", call.method);
		r = -EINVAL;
	} else {
		r = handler(c, &call, &e);
	}
	if (r < 0 && e.name) {
		/* A oneway call's failure reaches its client by no other way. */
		if (call.oneway)
			log_client(c->peer.uid, LOG_NOTICE, "%s from pid %d uid %u: %s", call.method,
				   (int)c->peer.pid, (unsigned)c->peer.uid, e.message);
		else
			broker_log_failure(&c->peer, call.method, &e);
		connection_reply_error(c, &call, &e);
	} else if (r < 0) {
		accel_error_set(&e, ERR_INVALID_PARAMETER, "%s failed: %s", call.method, strerror(-r));
		connection_reply_error(c, &call, &e);
	}
	varlink_call_finish(&call);
}

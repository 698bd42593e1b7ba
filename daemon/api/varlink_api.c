// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "broker.h"
#include "clients.h"
#include "connection.h"
#include "device.h"
#include "listener.h"
#include "listing.h"
#include "log.h"
#include "resolver.h"
#include "server.h"
#include "util.h"
#include "varlink.h"
#include "varlink_api.h"
#include "varlink_json.h"

#define VARLINK_SERVICE "org.varlink.service"

typedef int (*handler_fn)(struct connection *c, const struct varlink_call *call,
			  struct accel_error *e);

/* A handler's "the reply comes later" (the call waits for the user database). */
#define DEFERRED 1

static void answer_call(struct connection *c, const struct varlink_call *call, int r, struct accel_error *e);

static struct broker *broker_of(struct connection *c)
{
	return c->server->broker;
}

static const struct varlink_param no_params[] = { { 0 } };

/* The reply @params (NULL: it could not be built) to @call. */
static int reply(struct connection *c, const struct varlink_call *call, struct json_object *params)
{
	return connection_reply(c, call, params, NULL, 0);
}

/* { @name: @array } (both consumed), or NULL. */
static struct json_object *wrap(const char *name, struct json_object *array)
{
	return varlink_object_new((const struct varlink_value[]){
		{ name, VARLINK_VALUE_JSON, .json = array }, VARLINK_VALUE_END,
	});
}

static int append_device(struct device *d, void *data)
{
	return varlink_array_append(data, varlink_json_device(d));
}

static int handle_list_devices(struct connection *c, const struct varlink_call *call,
			       struct accel_error *e)
{
	_cleanup_(json_object_putp) struct json_object *devices = NULL;
	int r;

	r = varlink_params_dispatch(call->parameters, no_params, e);
	if (r < 0)
		return r;
	devices = varlink_array_new();
	if (!devices)
		return -ENOMEM;
	r = broker_for_each_device(broker_of(c), append_device, devices);
	if (r < 0)
		return r;
	return reply(c, call, wrap("devices", TAKE_PTR(devices)));
}

/*
 * The reply that hands @q out: what to map, and on what terms; the fd
 * rides along ("fd": 0).  A caller that asked @with_event_fd also gets
 * the queue's event pipe, the second fd ("event_fd": 1), or is told the
 * queue fd polls by itself ("event_fd": 0); others get exactly what they
 * always got, one fd, so that clients which take one fd per reply from
 * their queue of received fds stay in step.
 */
static int reply_queue(struct connection *c, const struct varlink_call *call, const struct queue *q,
		       bool with_event_fd)
{
	const int fds[] = { q->fd, q->event_fd };
	bool second = with_event_fd && q->event_fd >= 0;

	return connection_reply(c, call,
				varlink_json_queue(q, with_event_fd ? QUEUE_VIEW_HANDED_OUT_EVENT
								    : QUEUE_VIEW_HANDED_OUT, NULL),
				fds, second ? 2 : 1);
}

struct reply_to {
	struct connection *c;
	const struct varlink_call *call;
	bool with_event_fd;
};

static int send_queue(const struct queue *q, void *data)
{
	struct reply_to *to = data;

	return reply_queue(to->c, to->call, q, to->with_event_fd);
}

static int handle_acquire_queue(struct connection *c, const struct varlink_call *call,
				struct accel_error *e)
{
	struct acquire_request req = { .numa_node = -1 };
	int64_t numa_node = -1;
	bool with_event_fd = false;
	const struct varlink_param params[] = {
		{ "algorithm", VARLINK_STRING, true, &req.algorithm },	/* absent: a raw queue */
		{ "device", VARLINK_STRING, true, &req.device },
		{ "numa_node", VARLINK_INT, true, &numa_node },
		{ "with_event_fd", VARLINK_BOOL, true, &with_event_fd },
		{ 0 },
	};
	int r;

	r = varlink_params_dispatch(call->parameters, params, e);
	if (r < 0)
		return r;
	/* No algorithm asks for a raw queue, which is of one device. */
	if (!req.algorithm && !req.device) {
		accel_error_set(e, ERR_VARLINK_INVALID_PARAMETER,
				"parameter \"algorithm\" is missing (or \"device\", for a raw queue)");
		return accel_error_field(e, "parameter", "algorithm");
	}
	r = listener_numa_node(numa_node, &req.numa_node, e);
	if (r < 0)
		return r;
	return listener_acquire(broker_of(c), &c->peer, c, &req, send_queue,
				&(struct reply_to){ c, call, with_event_fd }, e);
}

/* A queue id parameter: ids start at 1. */
static int queue_id_param(int64_t id, struct accel_error *e)
{
	return id <= 0 ? accel_error_set(e, ERR_NO_SUCH_QUEUE, "no queue %lld", (long long)id) : 0;
}

/* The parameters of a call that names one queue: { queue_id }. */
static int read_queue_id(const struct varlink_call *call, uint64_t *out, struct accel_error *e)
{
	int64_t id;
	const struct varlink_param params[] = {
		{ "queue_id", VARLINK_INT, false, &id },
		{ 0 },
	};
	int r;

	r = varlink_params_dispatch(call->parameters, params, e);
	if (r < 0)
		return r;
	r = queue_id_param(id, e);
	if (r < 0)
		return r;
	*out = (uint64_t)id;
	return 0;
}

static int handle_attach_queue(struct connection *c, const struct varlink_call *call,
			       struct accel_error *e)
{
	int64_t id;
	bool with_event_fd = false;
	const struct varlink_param params[] = {
		{ "queue_id", VARLINK_INT, false, &id },
		{ "with_event_fd", VARLINK_BOOL, true, &with_event_fd },
		{ 0 },
	};
	int r;

	r = varlink_params_dispatch(call->parameters, params, e);
	if (r < 0)
		return r;
	r = queue_id_param(id, e);
	if (r < 0)
		return r;
	return listener_attach(broker_of(c), &c->peer, c, (uint64_t)id, send_queue,
			       &(struct reply_to){ c, call, with_event_fd }, e);
}

static int handle_transfer_queue(struct connection *c, const struct varlink_call *call,
				 struct accel_error *e)
{
	char token[QUEUE_TOKEN_LEN + 1];
	uint64_t id;
	int r;

	r = read_queue_id(call, &id, e);
	if (r < 0)
		return r;
	r = broker_transfer(broker_of(c), &c->peer, c, id, token, e);
	if (r < 0)
		return r;
	return reply(c, call, varlink_json_transfer(token, broker_of(c)->limits.transfer_timeout_usec));
}

static int handle_claim_queue(struct connection *c, const struct varlink_call *call,
			      struct accel_error *e)
{
	const char *token;
	bool with_event_fd = false;
	const struct varlink_param params[] = {
		{ "token", VARLINK_STRING, false, &token },
		{ "with_event_fd", VARLINK_BOOL, true, &with_event_fd },
		{ 0 },
	};
	int r;

	r = varlink_params_dispatch(call->parameters, params, e);
	if (r < 0)
		return r;
	return listener_claim(broker_of(c), &c->peer, c, token, send_queue,
			      &(struct reply_to){ c, call, with_event_fd }, e);
}

static int handle_release_queue(struct connection *c, const struct varlink_call *call,
				struct accel_error *e)
{
	uint64_t id;
	int r;

	r = read_queue_id(call, &id, e);
	if (r < 0)
		return r;
	r = broker_release(broker_of(c), &c->peer, c, id, e);
	if (r < 0)
		return r;
	return reply(c, call, varlink_object_new((const struct varlink_value[]){ VARLINK_VALUE_END }));
}

static int append_queue(const struct queue *q, void *data)
{
	return varlink_array_append(data, varlink_json_queue(q, QUEUE_VIEW_LISTED, NULL));
}

static int handle_list_queues(struct connection *c, const struct varlink_call *call,
			      struct accel_error *e)
{
	_cleanup_(json_object_putp) struct json_object *queues = NULL;
	int r;

	r = varlink_params_dispatch(call->parameters, no_params, e);
	if (r < 0)
		return r;
	queues = varlink_array_new();
	if (!queues)
		return -ENOMEM;
	r = broker_for_each_queue(broker_of(c), &c->peer, append_queue, queues);
	if (r < 0)
		return r;
	return reply(c, call, wrap("queues", TAKE_PTR(queues)));
}

static int handle_get_status(struct connection *c, const struct varlink_call *call,
			     struct accel_error *e)
{
	const struct server *s = c->server;
	const struct varlink_json_listener l = {
		.monitors = s->n_monitors,
		.awaiting_reader = s->n_awaiting_reader,
		.accepting = !s->accept_paused,
		.accept_pauses = s->accept_pauses,
	};
	int r;

	r = varlink_params_dispatch(call->parameters, no_params, e);
	if (r < 0)
		return r;
	return reply(c, call, varlink_json_status(broker_of(c), &l, &c->peer));
}

static struct connection *watcher_connection(struct broker_watcher *w)
{
	return (struct connection *)((char *)w - offsetof(struct connection, watcher));
}

static void monitor_queue_changed(struct broker_watcher *w, const struct queue *q, enum queue_state from,
				  const char *reason)
{
	(void)from;
	if (q->state != QUEUE_REVOKED)	/* the stream tells revocations only */
		return;
	/* An event that cannot be built is lost and counted as one (connection_notify()). */
	connection_notify(watcher_connection(w), varlink_json_queue(q, QUEUE_VIEW_REVOKED, reason));
}

static void monitor_device_changed(struct broker_watcher *w, const struct device *d, const char *event)
{
	connection_notify(watcher_connection(w), varlink_json_device_event(d, event));
}

static int handle_monitor(struct connection *c, const struct varlink_call *call,
			  struct accel_error *e)
{
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
	r = connection_notify(c, varlink_json_event("subscribed"));
	if (r < 0) {
		/* Answered with an error, the call is over: no stream, nor a count of what it missed. */
		broker_unwatch(&c->watcher);
		c->server->n_monitors--;
		c->monitoring = false;
		c->events_dropped = 0;
	}
	return r;
}

static int revoke_selected(struct connection *c, const struct varlink_call *call, const struct revoke_request *req,
		  struct accel_error *e)
{
	int r = broker_revoke_matching(broker_of(c), &c->peer, req, e);

	if (r < 0)
		return r;
	return reply(c, call, varlink_json_count("revoked", r));
}

/* The call a deferred reply answers: its method and whether it was oneway. */
static struct varlink_call deferred_call(struct connection *c, const char *method)
{
	return (struct varlink_call){ .method = method, .oneway = c->lookup_oneway };
}

/* What a call deferred for the user database does with the user @a found: reply, or fail in @e. */
typedef int (*user_call_fn)(struct connection *c, const struct varlink_call *call, const struct resolver_answer *a,
			    struct accel_error *e);

/* The end of @c's deferred @call, whose work returned @r (its reply queued, or an error to answer); then read on. */
static void deferred_end(struct connection *c, const struct varlink_call *call, int r, struct accel_error *e)
{
	answer_call(c, call, r, e);
	connection_resume(c);
}

/* @c's deferred call of @method, once the user database answered @a: @fn with the user it found, or @a's error. */
static void user_answered(struct connection *c, const char *method, const struct resolver_answer *a, user_call_fn fn)
{
	struct varlink_call call = deferred_call(c, method);
	struct accel_error e = { 0 };
	int r;

	c->lookup = NULL;
	r = resolver_answer_error(a, &e);
	if (r == 0)
		r = fn(c, &call, a, &e);
	deferred_end(c, &call, r, &e);
}

static int revoke_user(struct connection *c, const struct varlink_call *call, const struct resolver_answer *a,
		       struct accel_error *e)
{
	return revoke_selected(c, call, &(struct revoke_request){ .by_user = true, .uid = a->uid }, e);
}

static void revoke_user_answered(const struct resolver_answer *a, void *userdata)
{
	user_answered(userdata, ACCEL_INTERFACE ".Revoke", a, revoke_user);
}

/*
 * Ask the user database about @req on behalf of @c's @call, whose reply
 * @done queues: DEFERRED, or an error (too many look-ups in flight).
 */
static int defer(struct connection *c, const struct varlink_call *call, const struct resolver_request *req,
		 resolver_done_fn done, struct accel_error *e)
{
	int r;

	if (!c->server->resolver)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "no user database here");
	r = resolver_submit(c->server->resolver, req, done, c, &c->lookup);
	if (r < 0)
		return resolver_submit_error(r, e);
	c->lookup_oneway = call->oneway;
	return DEFERRED;
}

static int handle_revoke(struct connection *c, const struct varlink_call *call,
			 struct accel_error *e)
{
	struct revoke_request req = { 0 };
	const char *user = NULL;
	int64_t id = 0;
	const struct varlink_param params[] = {
		{ "queue_id", VARLINK_INT, true, &id },
		{ "user", VARLINK_STRING, true, &user },
		{ "device", VARLINK_STRING, true, &req.device },
		{ "unit", VARLINK_STRING, true, &req.unit },
		{ 0 },
	};
	int r;

	r = varlink_params_dispatch(call->parameters, params, e);
	if (r < 0)
		return r;
	if (id < 0)
		return accel_error_set(e, ERR_NO_SUCH_QUEUE, "no queue %lld", (long long)id);
	req.queue_id = (uint64_t)id;
	req.by_user = user != NULL;
	/* A name alone is looked up; with another selector the core refuses it anyway. */
	if (user && resolver_parse_user(user, &req.uid) > 0 && !req.queue_id && !req.device && !req.unit)
		return defer(c, call, &(struct resolver_request){ .name = user, .asker = c->peer.uid },
			     revoke_user_answered, e);
	return revoke_selected(c, call, &req, e);
}

static int get_quota(struct connection *c, const struct varlink_call *call, const struct caller *user,
		     const char *unit, struct accel_error *e)
{
	struct json_object *o;
	struct quota q;
	int r;

	r = listener_get_quota(broker_of(c), &c->peer, user, unit, &q, e);
	if (r < 0)
		return r;
	o = varlink_json_quota(&q);
	free(q.lines);
	free(q.restrictions);
	return reply(c, call, o);
}

static int quota_user(struct connection *c, const struct varlink_call *call, const struct resolver_answer *a,
		      struct accel_error *e)
{
	return get_quota(c, call, &(struct caller){ a->uid, a->groups, a->n_groups, NULL }, NULL, e);
}

static void quota_user_answered(const struct resolver_answer *a, void *userdata)
{
	user_answered(userdata, ACCEL_INTERFACE ".GetQuota", a, quota_user);
}

static int handle_get_quota(struct connection *c, const struct varlink_call *call,
			    struct accel_error *e)
{
	const char *user = NULL, *unit = NULL;
	const struct varlink_param params[] = {
		{ "user", VARLINK_STRING, true, &user },
		{ "unit", VARLINK_STRING, true, &unit },
		{ 0 },
	};
	struct resolver_request req;
	int r;

	r = varlink_params_dispatch(call->parameters, params, e);
	if (r < 0)
		return r;
	r = listener_quota_user(&c->peer, user, unit, &req, e);
	if (r < 0)
		return r;
	if (r == 0)
		return get_quota(c, call, NULL, unit, e);
	/* Another user's groups, or who the name is: the user database's (a name authorized once known). */
	return defer(c, call, &req, quota_user_answered, e);
}

static void reload_done(int r, const struct accel_error *re, void *userdata)
{
	struct connection *c = userdata;
	struct varlink_call call = deferred_call(c, ACCEL_INTERFACE ".Reload");
	struct accel_error e = *re;

	c->lookup = NULL;
	if (r >= 0)
		r = reply(c, &call, varlink_json_count("revoked", r));
	deferred_end(c, &call, r, &e);
}

/* Answered once the configuration is parsed (off the loop) and in force: DEFERRED. */
static int handle_reload(struct connection *c, const struct varlink_call *call,
			 struct accel_error *e)
{
	int r;

	r = varlink_params_dispatch(call->parameters, no_params, e);
	if (r < 0)
		return r;
	r = listener_reload(&c->server->reload, &c->peer, reload_done, c, &c->lookup, e);
	if (r < 0)
		return r;
	c->lookup_oneway = call->oneway;
	return DEFERRED;
}

static int handle_get_info(struct connection *c, const struct varlink_call *call,
			   struct accel_error *e)
{
	int r;

	r = varlink_params_dispatch(call->parameters, no_params, e);
	if (r < 0)
		return r;
	return reply(c, call, varlink_json_service_info());
}

static int handle_get_interface_description(struct connection *c, const struct varlink_call *call,
					    struct accel_error *e)
{
	const char *interface, *description;
	const struct varlink_param params[] = {
		{ "interface", VARLINK_STRING, false, &interface },
		{ 0 },
	};
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
	return reply(c, call, varlink_json_description(description));
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

/* The end of @call, which returned @r (DEFERRED: its reply comes later): an error is logged and answered. */
static void answer_call(struct connection *c, const struct varlink_call *call, int r, struct accel_error *e)
{
	if (r < 0 && e->name) {
		/* A oneway call's failure reaches its client by no other way. */
		if (call->oneway)
			log_client(c->peer.uid, LOG_NOTICE, "%s from pid %d uid %u: %s", call->method,
				   (int)c->peer.pid, (unsigned)c->peer.uid, e->message);
		else
			broker_log_failure(&c->peer, call->method, e);
		connection_reply_error(c, call, e);
	} else if (r < 0) {
		listener_out_of_resources(e, r, call->method);
		connection_reply_error(c, call, e);
	}
}

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
	answer_call(c, &call, r, &e);
	varlink_call_finish(&call);
}

// SPDX-License-Identifier: MIT
#include <assert.h>
#include <string.h>

#include "listener.h"
#include "log.h"
#include "peer.h"
#include "resolver.h"
#include "util.h"

int listener_numa_node(int64_t node, int *out, struct accel_error *e)
{
	if (node < -1 || node > LISTENER_MAX_NUMA_NODE)
		return accel_error_set(e, ERR_INVALID_PARAMETER, "numa_node %lld is out of range",
				       (long long)node);
	*out = (int)node;
	return 0;
}

int listener_reload(const struct listener_reload *reload, const struct peer *peer, listener_reload_done_fn done,
		    void *userdata, struct resolver_job **job, struct accel_error *e)
{
	assert(reload && peer);
	if (!peer->admin)
		return accel_error_set(e, ERR_PERMISSION_DENIED, "only an administrator may reload");
	log_notice("Reload asked by uid %u pid %d", (unsigned)peer->uid, (int)peer->pid);
	if (!reload->start)
		return accel_error_set(e, ERR_NO_CONFIGURATION, "this broker has no configuration to reload");
	/* The service re-reads and comes back down through broker_set_policy(), then @done. */
	return reload->start(reload->data, done, userdata, job, e);
}

int listener_acquire(struct broker *b, const struct peer *peer, void *holder,
		     const struct acquire_request *req, broker_send_fn send, void *data,
		     struct accel_error *e)
{
	_cleanup_(peer_identity_dropp) struct peer in_unit = { 0 };
	struct queue *q;
	int r;

	r = peer_with_identity(peer, &in_unit, e);
	if (r < 0)
		return r;
	r = broker_acquire(b, &in_unit, holder, req, &q, e);
	if (r < 0)
		return r;
	r = send(q, data);
	if (r < 0) {
		broker_release(b, peer, holder, q->id, NULL);
		return listener_out_of_resources(e, r, "could not send the queue");
	}
	return 0;
}

/* A failure the core did not name is @send's: the reply could not be built or queued. */
static int send_failed(struct accel_error *e, int r)
{
	return r < 0 && !e->name ? listener_out_of_resources(e, r, "could not send the queue") : r;
}

int listener_attach(struct broker *b, const struct peer *peer, void *holder, uint64_t queue_id,
		    broker_send_fn send, void *data, struct accel_error *e)
{
	return send_failed(e, broker_attach(b, peer, holder, queue_id, send, data, NULL, e));
}

int listener_claim(struct broker *b, const struct peer *peer, void *holder, const char *token,
		   broker_send_fn send, void *data, struct accel_error *e)
{
	_cleanup_(peer_identity_dropp) struct peer in_unit = { 0 };
	int r;

	/* The receiver's unit, slices and machine: what the claimed queue counts in. */
	r = peer_with_identity(peer, &in_unit, e);
	if (r < 0)
		return r;
	return send_failed(e, broker_claim(b, &in_unit, holder, token, send, data, NULL, e));
}

int listener_quota_user(const struct peer *peer, const char *user, const char *unit, struct resolver_request *req,
			struct accel_error *e)
{
	int r;

	assert(peer && req);
	*req = (struct resolver_request){ .groups = true, .asker = peer->uid };
	if (user && unit)
		return accel_error_set(e, ERR_INVALID_PARAMETER, "name a user or a unit, not both");
	if (!user)
		return 0;
	if (resolver_parse_user(user, &req->uid) > 0) {
		req->name = user;
		return 1;
	}
	if (req->uid == peer->uid)
		return 0;
	r = broker_may_name_user(peer, req->uid, NAME_QUOTA, e);
	return r < 0 ? r : 1;
}

int listener_get_quota(struct broker *b, const struct peer *peer, const struct caller *user, const char *unit,
		       struct quota *q, struct accel_error *e)
{
	/* Owns only the identity read here: @peer lends nothing to drop. */
	_cleanup_(peer_identity_dropp) struct peer in_unit = *peer;
	int r;

	in_unit.identity = NULL;
	/* The caller's own quota counts its unit's rules; another user's has no unit. */
	r = user ? 0 : peer_with_identity(peer, &in_unit, e);
	if (r < 0)
		return r;
	return broker_get_quota(b, &in_unit, user, unit, q, e);
}

int listener_out_of_resources(struct accel_error *e, int r, const char *what)
{
	assert(r < 0);
	return accel_error_set(e, ERR_OUT_OF_RESOURCES, "%s: %s", what, strerror(-r));
}

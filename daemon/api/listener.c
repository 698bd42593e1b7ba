// SPDX-License-Identifier: MIT
#include <assert.h>
#include <string.h>

#include "listener.h"
#include "log.h"
#include "peer.h"
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

int listener_out_of_resources(struct accel_error *e, int r, const char *what)
{
	assert(r < 0);
	return accel_error_set(e, ERR_OUT_OF_RESOURCES, "%s: %s", what, strerror(-r));
}

/* SPDX-License-Identifier: MIT */
/*
 * What both listeners (the socket's varlink, D-Bus) do around a core call,
 * written once: the checks of a request the core does not see in its wire
 * form, who may reload, and undoing the hand-out of a queue whose reply
 * failed.
 */
#ifndef ACCEL_DAEMON_LISTENER_H
#define ACCEL_DAEMON_LISTENER_H

#include <stdint.h>

#include "broker.h"

struct resolver_job;
struct resolver_request;

/* Above any node Linux numbers (NODES_SHIFT is at most 10). */
#define LISTENER_MAX_NUMA_NODE 4095

/* @node as asked (-1: any) into @out, or InvalidParameter when out of range. */
int listener_numa_node(int64_t node, int *out, struct accel_error *e);

/*
 * What Reload does: the service's reload (manager_reload()), handed to
 * both listeners by main.c as the server is handed its dispatch function,
 * so that a client's Reload reaches the service without passing through
 * the core.  @start begins it (the configuration is parsed off the loop:
 * user and group names wait on the user database) and returns 0 with its
 * job in *@job, to cancel when the caller goes away, or an error in @e;
 * @done(@userdata) later gets the queues revoked, or an error.  A NULL
 * @start: nothing to reload (NoConfiguration).
 */
typedef void (*listener_reload_done_fn)(int r, const struct accel_error *e, void *userdata);
struct listener_reload {
	int (*start)(void *data, listener_reload_done_fn done, void *userdata, struct resolver_job **job,
		     struct accel_error *e);
	void *data;
};

/* @reload for @peer: administrators only (logged).  0: started, @done answers. */
int listener_reload(const struct listener_reload *reload, const struct peer *peer, listener_reload_done_fn done,
		    void *userdata, struct resolver_job **job, struct accel_error *e);

/*
 * broker_acquire(), then @send the queue to the caller.  If it cannot be
 * sent the caller never learns of it: it is given back at once, and the
 * failure is OutOfResources.
 */
int listener_acquire(struct broker *b, const struct peer *peer, void *holder,
		     const struct acquire_request *req, broker_send_fn send, void *data,
		     struct accel_error *e);
/*
 * broker_attach() and broker_claim(), @send being the reply (a claim with
 * the caller's cgroup identity read now, as listener_acquire(): UnitUnknown
 * if it cannot be read): one that
 * cannot be sent undoes the attach or the claim (the queue stays held, or
 * waits, as before; a claimed one is offered again with the same token),
 * and the failure is OutOfResources.
 */
int listener_attach(struct broker *b, const struct peer *peer, void *holder, uint64_t queue_id,
		    broker_send_fn send, void *data, struct accel_error *e);
int listener_claim(struct broker *b, const struct peer *peer, void *holder, const char *token,
		   broker_send_fn send, void *data, struct accel_error *e);

/*
 * GetQuota's @user as asked (NULL: none named), beside @unit (NULL: none),
 * for @peer: 0 when it is the caller itself (answer now, as the caller);
 * 1 when the user database must say who it is and its groups, asked with
 * *@req (a name; or another uid, which only a peer that may name it gets
 * to ask: a refusal after the look-up would keep a resolver worker); or
 * an error in @e.
 */
int listener_quota_user(const struct peer *peer, const char *user, const char *unit, struct resolver_request *req,
			struct accel_error *e);

/*
 * broker_get_quota() of @user (the user database's answer), or of @peer
 * itself with the unit, slices and machine its cgroup says now (UnitUnknown
 * if it cannot be read), or of @peer as in @unit: what GetQuota answers on
 * the socket and GetQuotaDetails on the bus.
 */
int listener_get_quota(struct broker *b, const struct peer *peer, const struct caller *user, const char *unit,
		       struct quota *q, struct accel_error *e);

/*
 * A failure @r the core did not name (a reply that could not be built or
 * queued: memory, descriptors): OutOfResources, naming @what.  Never
 * reported as something the caller did.
 */
int listener_out_of_resources(struct accel_error *e, int r, const char *what);

#endif

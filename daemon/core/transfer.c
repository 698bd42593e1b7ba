// SPDX-License-Identifier: MIT
/*
 * TransferQueue and ClaimQueue: a queue offered by a token, taken over by
 * another process on its own terms.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "broker.h"
#include "device.h"
#include "enforce.h"
#include "log.h"
#include "util.h"

static void arm_offer_timer(struct broker *b, uint64_t usec);

static bool token_equal(const char *a, const char *b)
{
	unsigned char diff = 0;

	/* Both are QUEUE_TOKEN_LEN long when it matters; no early exit on a mismatch. */
	for (size_t i = 0; i < QUEUE_TOKEN_LEN; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0 && a[QUEUE_TOKEN_LEN] == '\0' && b[QUEUE_TOKEN_LEN] == '\0';
}

/* Withdraw the offers whose token expired, then wait for the next to expire. */
static int on_offer_expired(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct broker *b = userdata;
	uint64_t now = now_usec(CLOCK_MONOTONIC), next = UINT64_MAX;
	struct queue *q;

	(void)s;
	(void)usec;
	list_for_each(q, &b->queues, link) {
		if (!q->token[0])
			continue;
		if (now < q->token_expires_usec) {
			next = q->token_expires_usec < next ? q->token_expires_usec : next;
			continue;
		}
		q->token[0] = '\0';
		queue_settle(b, q);
	}
	if (next != UINT64_MAX)
		arm_offer_timer(b, next);
	return 0;
}

/*
 * One timer for every offer, due at the soonest expiry: offers are rare
 * and all last transfer_timeout_usec, so a new one never comes due first
 * unless the timer is idle.
 */
static void arm_offer_timer(struct broker *b, uint64_t usec)
{
	int enabled = SD_EVENT_OFF;
	uint64_t due = 0;
	int r;

	if (!b->event)	/* unit tests: an expired token is found expired when presented */
		return;
	if (!b->offer_timer) {
		r = sd_event_add_time(b->event, &b->offer_timer, CLOCK_MONOTONIC, usec, 0, on_offer_expired, b);
		if (r < 0)
			log_warning_errno(r, "Could not time transfer offers: expired ones show until presented");
		return;
	}
	(void)sd_event_source_get_enabled(b->offer_timer, &enabled);
	(void)sd_event_source_get_time(b->offer_timer, &due);
	if (enabled != SD_EVENT_OFF && due <= usec)
		return;
	(void)sd_event_source_set_time(b->offer_timer, usec);
	(void)sd_event_source_set_enabled(b->offer_timer, SD_EVENT_ONESHOT);
}

int broker_transfer(struct broker *b, const struct peer *peer, void *holder, uint64_t queue_id,
		    char token[QUEUE_TOKEN_LEN + 1], struct accel_error *e)
{
	uint8_t random[QUEUE_TOKEN_LEN / 2];
	struct queue *q = NULL;
	int r = queue_find_own(b, peer, holder, queue_id, &q, e);

	if (r < 0)
		return r;
	if (q->terms.transfer == TRANSFER_NO)
		return accel_error_set(e, ERR_PERMISSION_DENIED,
				       "the policy does not let queue %llu be transferred",
				       (unsigned long long)queue_id);
	if (getrandom(random, sizeof(random), 0) != (ssize_t)sizeof(random))
		return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE, "no random bytes for a token");
	for (size_t i = 0; i < sizeof(random); i++)
		snprintf(q->token + 2 * i, 3, "%02x", random[i]);
	/* One outstanding token per queue: a new one replaces the old. */
	q->token_expires_usec = now_usec(CLOCK_MONOTONIC) + b->limits.transfer_timeout_usec;
	memcpy(token, q->token, sizeof(q->token));
	arm_offer_timer(b, q->token_expires_usec);
	queue_settle(b, q);
	log_debug("Queue %llu offered for transfer", (unsigned long long)q->id);
	return 0;
}
/* Whether @id is a container's cgroup: a machine, or beside systemd's tree (no machine to tell). */
static bool contained(const struct cgroup_identity *id)
{
	return id && (id->machine || cgroup_identity_beside(id));
}

/*
 * Whether @q was acquired where @peer claims it: both on the host, or both
 * in one machine.  Two cgroups beside systemd's tree cannot be told apart
 * (nothing below their top is read): never the same.
 */
static bool same_machine(const struct queue *q, const struct peer *peer)
{
	const struct cgroup_identity *a = q->identity, *b = peer->identity;

	if (!contained(a) || !contained(b))
		return !contained(a) && !contained(b);
	return a->machine && b->machine && strcmp(a->machine, b->machine) == 0;
}

/*
 * The giver may keep the queue's fd and mappings whatever it promised; within
 * one uid that gives it nothing it could not take anyway, across uids it
 * would read (and write) the receiver's data.  So a queue changing uid gets
 * new memory from its backend, the old going dead; a backend that cannot
 * do that cannot hand its queues to another user.  One uid in two machines
 * is two users (a container's root is uid 0 as the host's is; confined
 * peers, broker.h): a queue changing machine, or leaving or entering a
 * cgroup beside systemd's tree, is renewed too.  A queue the
 * client binds (SVA) is bound to the giver's address space, which the
 * receiver cannot undo: it gets a fresh one whoever it is.
 */
static int renew_for_receiver(struct queue *q, const struct peer *peer, struct accel_error *e)
{
	if (peer->uid == q->uid && same_machine(q, peer) && !q->device->bind_client)
		return 0;
	if (!q->device->ops->queue_renew)
		return accel_error_set(e, ERR_PERMISSION_DENIED,
				       "queues of %s cannot go to another user: the giver would keep access",
				       q->device->name);
	return q->device->ops->queue_renew(q->device, q, e);
}

/* The queue offered with @token, if the offer stands. */
static int find_offer(struct broker *b, const char *token, struct queue **out, struct accel_error *e)
{
	struct queue *q, *found = NULL;

	if (strlen(token) != QUEUE_TOKEN_LEN)
		return accel_error_set(e, ERR_INVALID_TOKEN, "not a transfer token");
	list_for_each(q, &b->queues, link)
		if (q->token[0] && token_equal(q->token, token))
			found = q;
	if (!found)
		return accel_error_set(e, ERR_INVALID_TOKEN, "no such token (claimed already, or never made)");
	if (now_usec(CLOCK_MONOTONIC) >= found->token_expires_usec) {
		found->token[0] = '\0';
		queue_settle(b, found);
		return accel_error_set(e, ERR_INVALID_TOKEN, "the token has expired");
	}
	*out = found;
	return 0;
}

/* Whether @peer may take @q on its own terms: the giver's transfer term, its policy, its quota. */
static int may_claim(struct broker *b, const struct peer *peer, const struct queue *q, struct accel_error *e)
{
	struct caller caller = peer_caller(peer);
	int r;

	if (q->terms.transfer == TRANSFER_SAME_USER && peer->uid != q->uid)
		return accel_error_set(e, ERR_PERMISSION_DENIED,
				       "queue %llu may only go to a process of uid %u",
				       (unsigned long long)q->id, (unsigned)q->uid);
	if (b->policy) {
		r = policy_check_device(b->policy, &caller, q->device->name, e);
		if (r < 0)
			return r;
	}
	return enforce_acquire(b, &b->tally, peer, q->device, q->algorithm, q, e);
}

/*
 * Who has a queue and on what terms: what a claim changes and, if the
 * claim's reply cannot be sent, puts back.
 */
struct holding {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	struct owner *process;	/* a reference */
	gid_t *groups;		/* from queue_groups_copy(), owned */
	unsigned n_groups;
	struct cgroup_identity *identity;	/* a reference; NULL: none */
	void *holder;
	struct terms terms;
	char token[QUEUE_TOKEN_LEN + 1];	/* the giver's offer; "" for the receiver */
};

/*
 * Give @q to @h and put what it had in @h: the record of the one is
 * announced removed and the other's added, as a queue changing owner is
 * (watcher.h; the fd store names a queue by its owner).
 */
static void swap_holding(struct broker *b, struct queue *q, struct holding *h, enum queue_origin origin)
{
	struct holding was = {
		.uid = q->uid, .gid = q->gid, .pid = q->pid, .process = q->process, .groups = q->groups,
		.n_groups = q->n_groups, .identity = q->identity, .holder = q->holder, .terms = q->terms,
	};

	memcpy(was.token, q->token, sizeof(was.token));
	watchers_queue_removed(b, q);
	q->uid = h->uid;
	q->gid = h->gid;
	q->pid = h->pid;
	q->process = h->process;
	q->groups = h->groups;
	q->n_groups = h->n_groups;
	q->identity = h->identity;
	q->holder = h->holder;
	q->terms = h->terms;
	memcpy(q->token, h->token, sizeof(q->token));
	q->state = q->token[0] ? QUEUE_TRANSFERRING : q->holder ? QUEUE_ACTIVE : QUEUE_DETACHED;
	*h = was;
	watchers_queue_added(b, q, origin);
}

int broker_claim(struct broker *b, const struct peer *peer, void *holder, const char *token,
		 broker_send_fn send, void *data, struct queue **out, struct accel_error *e)
{
	struct holding h = { .uid = peer->uid, .gid = peer->gid, .pid = peer->pid, .holder = holder };
	struct queue *q = NULL;
	int r;

	r = find_offer(b, token, &q, e);
	if (r < 0)
		return r;
	r = may_claim(b, peer, q, e);
	if (r < 0)
		return r;
	/* Counted for the receiver before the renewal, which cannot be undone. */
	if (queue_groups_copy(peer, &h.groups, &h.n_groups) < 0 ||
	    tally_add(&b->tally, peer->uid, q->algorithm, h.groups, h.n_groups, peer->identity) < 0) {
		free(h.groups);
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "out of memory");
	}
	r = renew_for_receiver(q, peer, e);
	if (r < 0) {
		tally_remove(&b->tally, peer->uid, q->algorithm, h.groups, h.n_groups, peer->identity);
		free(h.groups);
		return r;
	}
	log_debug("Queue %llu claimed by uid %u pid %d from uid %u pid %d", (unsigned long long)q->id,
		  (unsigned)peer->uid, (int)peer->pid, (unsigned)q->uid, (int)q->pid);
	h.process = owner_ref(peer->process);
	h.identity = cgroup_identity_ref(peer->identity);
	enforce_terms(b, peer, &h.terms);
	swap_holding(b, q, &h, QUEUE_CLAIMED);	/* @h is the giver's now */
	/* Both count until the reply is out: whoever is left without the queue goes uncounted. */
	r = send ? send(q, data) : 0;
	if (r < 0)
		swap_holding(b, q, &h, QUEUE_UNCLAIMED);	/* the offer stands again */
	tally_remove(&b->tally, h.uid, q->algorithm, h.groups, h.n_groups, h.identity);
	owner_unref(h.process);
	cgroup_identity_unref(h.identity);
	free(h.groups);
	if (r < 0)
		return r;
	if (out)
		*out = q;
	return 0;
}

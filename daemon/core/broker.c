// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "device.h"
#include "log.h"
#include "owner.h"
#include "util.h"

static int check_policy(struct broker *b, const struct tally *t, const struct peer *peer,
			const char *algorithm, const struct queue *skip, struct accel_error *e);

static void on_owner_exited(struct owner *o, void *data)
{
	broker_owner_exited(data, o);
}

void broker_init(struct broker *b, const struct broker_limits *limits, sd_event *event)
{
	assert(b && limits);
	*b = (struct broker){
		.event = event,
		.next_queue_id = 1,
		.started_usec = now_usec(CLOCK_MONOTONIC),
		.limits = *limits,
	};
	list_init(&b->devices);
	list_init(&b->queues);
	tally_init(&b->tally);
	queue_index_init(&b->index);
	owners_init(&b->owners, event, on_owner_exited, b);
	list_init(&b->watchers);
}

static int count_queue(struct tally *t, const struct queue *q)
{
	return tally_add(t, q->uid, q->algorithm, q->groups, q->n_groups);
}

static void uncount_queue(struct tally *t, const struct queue *q)
{
	tally_remove(t, q->uid, q->algorithm, q->groups, q->n_groups);
}

/* Take @q out of the broker's list and counts, and free it. */
static void queue_free(struct broker *b, struct queue *q)
{
	uncount_queue(&b->tally, q);
	queue_index_remove(&b->index, q);
	q->device->queues_open--;
	if (q->fd >= 0)
		close(q->fd);
	list_remove(&q->link);
	owner_unref(q->process);
	free(q->groups);
	free(q);
}

/* Stop @q unless broker_revoke() did already, and free its record. */
static void queue_close(struct broker *b, struct queue *q, enum queue_state final)
{
	if (q->state == QUEUE_ACTIVE)
		q->device->ops->queue_stop(q->device, q);
	q->state = final;
	watchers_queue_removed(b, q);
	log_debug("Queue %llu on %s %s (uid %u)", (unsigned long long)q->id,
		  q->device->name, queue_state_to_string(final), (unsigned)q->uid);
	queue_free(b, q);
}

void broker_shutdown(struct broker *b)
{
	struct queue *q, *tmp;
	unsigned kept = 0;

	list_for_each_safe(q, tmp, &b->queues, link) {
		if (!b->keep_queues) {
			broker_revoke(b, q, REVOKE_SHUTDOWN);
			continue;
		}
		q->device->ops->queue_forget(q->device, q);
		queue_free(b, q);
		kept++;
	}
	if (kept)
		log_info("Left %u queues in the fd store for the next broker", kept);
}

void broker_finish(struct broker *b)
{
	struct device *d, *dtmp;

	broker_shutdown(b);
	list_for_each_safe(d, dtmp, &b->devices, link)
		device_destroy(d);
	b->reattach_timer = sd_event_source_disable_unref(b->reattach_timer);
	tally_finish(&b->tally);
	queue_index_finish(&b->index);
}

void broker_add_device(struct broker *b, struct device *dev)
{
	list_insert_tail(&b->devices, &dev->link);
	log_info("Device %s: backend %s, api %s, %u queues%s", dev->name,
		 dev->ops->name, dev->api, dev->queues_total, dev->sva ? ", SVA" : "");
	watchers_device_changed(b, dev, DEVICE_ADDED);
}

void broker_remove_device(struct broker *b, struct device *dev)
{
	struct queue *q, *tmp;

	log_info("Device %s went away", dev->name);
	list_for_each_safe(q, tmp, &b->queues, link)
		if (q->device == dev)
			broker_revoke(b, q, REVOKE_DEVICE_REMOVED);
	list_remove(&dev->link);
	watchers_device_changed(b, dev, DEVICE_REMOVED);
	device_destroy(dev);
}

struct device *broker_find_device(struct broker *b, const char *name)
{
	struct device *d;

	list_for_each(d, &b->devices, link)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

unsigned broker_user_queues(struct broker *b, uid_t uid)
{
	return tally_user(&b->tally, uid, NULL);
}

void broker_for_each_user(struct broker *b, const struct peer *peer,
			  void (*fn)(uid_t uid, unsigned queues, void *data), void *data)
{
	struct tally_entry *u;
	unsigned n;

	if (!peer->admin) {	/* broker_may_see(): its own queues only */
		n = tally_user(&b->tally, peer->uid, NULL);
		if (n > 0)
			fn(peer->uid, n, data);
		return;
	}
	tally_for_each_user(u, &b->tally)
		fn((uid_t)u->id, u->queues, data);
}

bool broker_counts_match(struct broker *b)
{
	struct tally recount;
	struct queue *q;
	bool match = true;

	tally_init(&recount);
	list_for_each(q, &b->queues, link)
		match = match && count_queue(&recount, q) == 0 && queue_index_find(&b->index, q->id) == q;
	match = match && tally_equal(&recount, &b->tally) && b->index.n_queues == recount.queues;
	tally_finish(&recount);
	return match;
}

unsigned broker_device_count(struct broker *b)
{
	struct device *d;
	unsigned n = 0;

	list_for_each(d, &b->devices, link)
		n++;
	return n;
}

unsigned broker_active_queues(struct broker *b)
{
	return b->tally.queues;
}

/*
 * Pick the device for @req the way applications do it themselves today:
 * among the devices that serve the algorithm (on the wanted NUMA node),
 * the one with the most free queues.  The error says which condition
 * failed first, from the most to the least specific.
 */
static int pick_device(struct broker *b, const struct peer *peer, const struct acquire_request *req,
		       struct device **out, struct accel_error *e)
{
	struct device *d, *best = NULL;
	unsigned best_free = 0;
	bool algorithm_seen = false, denied_seen = false;
	const struct device *refused = NULL;
	struct caller caller = { peer->uid, peer->groups, peer->n_groups };
	struct accel_error denied = { 0 };

	if (req->device) {
		d = broker_find_device(b, req->device);
		if (!d)
			return accel_error_set(e, ERR_NO_SUCH_DEVICE, "no device \"%s\"", req->device);
		if (!device_has_algorithm(d, req->algorithm))
			return accel_error_set(e, ERR_NO_SUCH_ALGORITHM,
					       "device %s does not offer \"%s\"", d->name, req->algorithm);
	}
	list_for_each(d, &b->devices, link) {
		if (req->device && strcmp(d->name, req->device) != 0)
			continue;
		if (!device_has_algorithm(d, req->algorithm))
			continue;
		algorithm_seen = true;
		if (req->numa_node >= 0 && d->numa_node != req->numa_node)
			continue;
		if (d->refused[0]) {	/* the SVA rule: uacce_features.c decided */
			refused = d;
			continue;
		}
		if (b->policy && policy_check_device(b->policy, &caller, d->name, &denied) < 0) {
			denied_seen = true;
			continue;
		}
		unsigned n = device_queues_free(d);
		if (n > best_free) {
			best = d;
			best_free = n;
		}
	}
	if (best) {
		*out = best;
		return 0;
	}
	if (!algorithm_seen)
		return accel_error_set(e, ERR_NO_SUCH_ALGORITHM, "no device offers \"%s\"", req->algorithm);
	if (denied_seen && !best)
		return accel_error_set(e, denied.name, "%s", denied.message);
	if (refused)
		return accel_error_set(e, ERR_SVA_NOT_SUPPORTED, "%s: %s", refused->name, refused->refused);
	if (req->numa_node >= 0)
		return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE,
				       "no free queue for \"%s\" on NUMA node %d", req->algorithm, req->numa_node);
	return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE, "every queue for \"%s\" is in use", req->algorithm);
}

/* The groups of @uid as the user database says (for users not connected). */
static unsigned user_groups(uid_t uid, gid_t *groups, int max)
{
	struct passwd *pw = getpwuid(uid);
	int n = max;

	if (!pw || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return 0;
	return (unsigned)n;
}

/* The terms @peer's queues get; a process-long queue needs a process to follow. */
static void peer_terms(struct broker *b, const struct peer *peer, struct terms *out)
{
	struct caller caller = { peer->uid, peer->groups, peer->n_groups };

	*out = (struct terms){ LIFETIME_CONNECTION, FORK_DENY, TRANSFER_SAME_USER };
	if (b->policy)
		policy_terms(b->policy, &caller, out);
	if (!peer->process || peer->process->pidfd < 0)
		out->lifetime = LIFETIME_CONNECTION;
}

/*
 * @peer's groups as a queue records them (group pools count by them): each
 * once, so that a pool counts a queue once.  NULL if it has none.
 */
static int peer_groups_copy(const struct peer *peer, gid_t **out, unsigned *n_out)
{
	gid_t *groups = NULL;
	unsigned n = 0;

	if (peer->n_groups > 0) {
		groups = malloc(peer->n_groups * sizeof(gid_t));
		if (!groups)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < peer->n_groups; i++) {
		unsigned k = 0;
		while (k < n && groups[k] != peer->groups[i])
			k++;
		if (k == n)
			groups[n++] = peer->groups[i];
	}
	*out = groups;
	*n_out = n;
	return 0;
}

/* Make @peer the owner of @q: its identity, @groups (from peer_groups_copy(), taken) and process. */
static void queue_set_owner(struct queue *q, const struct peer *peer, gid_t *groups, unsigned n_groups)
{
	q->uid = peer->uid;
	q->gid = peer->gid;
	q->pid = peer->pid;
	owner_unref(q->process);
	q->process = owner_ref(peer->process);
	free(q->groups);
	q->groups = groups;
	q->n_groups = n_groups;
}

/* A queue record that never made it into the broker's list. */
static void queue_discardp(struct queue **q)
{
	if (!*q)
		return;
	owner_unref((*q)->process);
	free((*q)->groups);
	free(*q);
}

int broker_acquire(struct broker *b, const struct peer *peer, void *holder,
		   const struct acquire_request *req, struct queue **out,
		   struct accel_error *e)
{
	_cleanup_(queue_discardp) struct queue *q = NULL;
	struct device *dev = NULL;
	gid_t *groups = NULL;
	unsigned n_groups = 0;
	int r;

	assert(b && peer && req && req->algorithm && out);

	if (strlen(req->algorithm) >= QUEUE_ALGORITHM_MAX)
		return accel_error_set(e, ERR_NO_SUCH_ALGORITHM, "algorithm name too long");
	r = pick_device(b, peer, req, &dev, e);
	if (r < 0)
		return r;
	r = check_policy(b, &b->tally, peer, req->algorithm, NULL, e);
	if (r < 0)
		return r;

	q = calloc(1, sizeof(*q));
	if (!q || peer_groups_copy(peer, &groups, &n_groups) < 0)
		return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE, "out of memory");
	list_init(&q->link);
	q->fd = -1;
	q->device = dev;
	strcpy(q->algorithm, req->algorithm);
	q->holder = holder;
	q->acquired_usec = now_usec(CLOCK_REALTIME);
	peer_terms(b, peer, &q->terms);
	queue_set_owner(q, peer, groups, n_groups);
	/* Counted and indexed before it is opened: nothing can fail once it is. */
	if (queue_index_reserve(&b->index) < 0 || count_queue(&b->tally, q) < 0)
		return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE, "out of memory");

	r = dev->ops->queue_open(dev, q, e);
	if (r < 0) {
		uncount_queue(&b->tally, q);
		return r;
	}
	q->id = b->next_queue_id++;
	q->state = QUEUE_ACTIVE;
	dev->queues_open++;
	list_insert_tail(&b->queues, &q->link);
	queue_index_add(&b->index, q);
	watchers_queue_added(b, q, QUEUE_ACQUIRED);
	log_debug("Queue %llu on %s for %s acquired by uid %u pid %d",
		  (unsigned long long)q->id, dev->name, q->algorithm,
		  (unsigned)peer->uid, (int)peer->pid);
	*out = TAKE_PTR(q);
	return 0;
}

static bool queue_in_group(const struct queue *q, gid_t gid)
{
	for (unsigned i = 0; i < q->n_groups; i++)
		if (q->groups[i] == gid)
			return true;
	return false;
}

/* Take @q, counted in @u for @caller, out of it again. */
static void usage_without(struct usage *u, const struct caller *caller, const char *algorithm,
			  const struct queue *q)
{
	if (q->uid == caller->uid) {
		u->queues--;
		u->queues_of_algorithm -= strcmp(q->algorithm, algorithm) == 0;
	}
	for (unsigned i = 0; i < caller->n_groups; i++)
		u->pool[i] -= queue_in_group(q, caller->groups[i]);
}

/*
 * Whether @peer may hold one more queue of @algorithm, holding what @t
 * counts except @skip: the check of an acquire (@t: the broker's counts),
 * of a reload re-checking every queue in the order they were acquired (@t:
 * the queues kept so far), and of a claim (which must not count the
 * claimed queue @skip against its receiver).
 */
static int check_policy(struct broker *b, const struct tally *t, const struct peer *peer,
			const char *algorithm, const struct queue *skip, struct accel_error *e)
{
	struct caller caller = { peer->uid, peer->groups, peer->n_groups };
	struct usage u;

	if (!b->policy)
		return 0;
	tally_usage(t, &caller, algorithm, &u);
	if (skip)
		usage_without(&u, &caller, algorithm, skip);
	return policy_check_acquire(b->policy, &caller, algorithm, &u, e);
}

int broker_reload(struct broker *b, const struct peer *peer, struct accel_error *e)
{
	if (peer)
		log_notice("Reload asked by uid %u pid %d", (unsigned)peer->uid, (int)peer->pid);
	if (!b->reload)
		return accel_error_set(e, ERR_INVALID_PARAMETER, "this broker has no configuration to reload");
	/* The service re-reads and comes back down through broker_set_policy(). */
	return b->reload(b->reload_data, e);
}

int broker_set_policy(struct broker *b, struct policy *policy, bool revoke)
{
	struct queue *q, *tmp;
	struct tally kept;
	int n = 0;

	b->policy = policy;
	watchers_policy_replaced(b, policy);
	if (!revoke)
		return 0;
	/*
	 * Replay every queue in acquire order under the new policy, counting
	 * the ones kept so far; one that would be refused now goes, so the
	 * newest go first and only as many as it takes.
	 */
	tally_init(&kept);
	list_for_each_safe(q, tmp, &b->queues, link) {
		struct peer p = { .uid = q->uid, .gid = q->gid, .n_groups = 0 };
		struct caller caller;
		for (unsigned i = 0; i < q->n_groups && i < POLICY_MAX_GROUPS; i++)
			p.groups[p.n_groups++] = q->groups[i];
		caller = (struct caller){ p.uid, p.groups, p.n_groups };
		if (policy_check_device(policy, &caller, q->device->name, NULL) < 0 ||
		    check_policy(b, &kept, &p, q->algorithm, NULL, NULL) < 0) {
			broker_revoke(b, q, REVOKE_POLICY);
			n++;
		} else if (count_queue(&kept, q) < 0) {
			log_warning("Out of memory re-checking the queues under the new policy: the rest are kept");
			break;
		}
	}
	tally_finish(&kept);
	return n;
}

static struct queue *find_queue(struct broker *b, uint64_t id)
{
	return queue_index_find(&b->index, id);
}

/*
 * The queue @id if @peer, on @holder, owns it: it holds it on this
 * connection, or its process is the queue's owner (another connection of
 * the same process, e.g. after reconnecting).
 */
static int find_own_queue(struct broker *b, const struct peer *peer, void *holder, uint64_t id,
			  struct queue **out, struct accel_error *e)
{
	struct queue *q = find_queue(b, id);

	if (!q || !broker_may_see(peer, q))
		return accel_error_set(e, ERR_NO_SUCH_QUEUE, "no queue %llu", (unsigned long long)id);
	if (q->holder != holder && !(peer->process && q->process == peer->process))
		return accel_error_set(e, ERR_PERMISSION_DENIED, "queue %llu belongs to another process",
				       (unsigned long long)id);
	*out = q;
	return 0;
}

int broker_release(struct broker *b, const struct peer *peer, void *holder,
		   uint64_t queue_id, struct accel_error *e)
{
	struct queue *q = NULL;
	int r = find_own_queue(b, peer, holder, queue_id, &q, e);

	if (r < 0)
		return r;
	queue_close(b, q, QUEUE_RELEASED);
	return 0;
}

int broker_get_queue(struct broker *b, const struct peer *peer, void *holder, uint64_t queue_id,
		     struct queue **out, struct accel_error *e)
{
	return find_own_queue(b, peer, holder, queue_id, out, e);
}

int broker_attach(struct broker *b, const struct peer *peer, void *holder, uint64_t queue_id,
		  struct queue **out, struct accel_error *e)
{
	struct queue *q = NULL;
	int r = find_own_queue(b, peer, holder, queue_id, &q, e);

	if (r < 0)
		return r;
	q->holder = holder;
	*out = q;
	return 0;
}

int broker_adopt(struct broker *b, struct queue *q, const char *device, int fd, int pidfd,
		 struct accel_error *e)
{
	struct peer owner = { .uid = q->uid, .gid = q->gid, .pid = q->pid };
	struct device *dev = broker_find_device(b, device);
	_cleanup_free_ gid_t *groups = NULL;
	unsigned n_groups = 0;
	int r;

	if (!dev || !device_has_algorithm(dev, q->algorithm) || find_queue(b, q->id)) {
		r = accel_error_set(e, ERR_NO_SUCH_QUEUE, "%s is gone, or the queue is not one of its",
				    device);
		goto fail;
	}
	/* Its groups now (group pools count by them): the user database's, as for a user not connected. */
	owner.n_groups = user_groups(q->uid, owner.groups, ELEMENTSOF(owner.groups));
	if (queue_index_reserve(&b->index) < 0 || peer_groups_copy(&owner, &groups, &n_groups) < 0 ||
	    tally_add(&b->tally, q->uid, q->algorithm, groups, n_groups) < 0) {
		r = accel_error_set(e, ERR_NO_SUCH_QUEUE, "out of memory");
		goto fail;
	}
	list_init(&q->link);
	q->fd = -1;
	q->device = dev;
	r = dev->ops->queue_adopt(dev, q, fd, e);
	if (r < 0) {
		tally_remove(&b->tally, q->uid, q->algorithm, groups, n_groups);
		goto fail;
	}
	fd = -1;
	/* Followed as before, through its pidfd; an owner that exited meanwhile is reclaimed now. */
	owner.process = pidfd >= 0 ? owner_get(&b->owners, q->pid, TAKE_FD(pidfd)) : NULL;
	queue_set_owner(q, &owner, TAKE_PTR(groups), n_groups);
	owner_unref(owner.process);
	if (!q->process)
		q->terms.lifetime = LIFETIME_CONNECTION;
	q->holder = NULL;
	q->state = QUEUE_ACTIVE;
	dev->queues_open++;
	if (q->id >= b->next_queue_id)
		b->next_queue_id = q->id + 1;
	list_insert_tail(&b->queues, &q->link);
	queue_index_add(&b->index, q);
	watchers_queue_added(b, q, QUEUE_ADOPTED);
	log_info("Took back queue %llu on %s for %s of uid %u pid %d (%s)", (unsigned long long)q->id,
		 dev->name, q->algorithm, (unsigned)q->uid, (int)q->pid,
		 policy_lifetime_to_string(q->terms.lifetime));
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (pidfd >= 0)
		close(pidfd);
	return r;
}

/* Whether @q is an adopted connection queue still waiting for its owner. */
static bool awaits_reattach(const struct queue *q)
{
	return !q->holder && q->terms.lifetime == LIFETIME_CONNECTION;
}

static int on_reattach_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct broker *b = userdata;
	struct queue *q, *tmp;

	(void)s;
	(void)usec;
	list_for_each_safe(q, tmp, &b->queues, link) {
		if (!awaits_reattach(q))
			continue;
		log_info("Queue %llu of pid %d was not attached again in time: released",
			 (unsigned long long)q->id, (int)q->pid);
		queue_close(b, q, QUEUE_RELEASED);
	}
	b->reattach_timer = sd_event_source_disable_unref(b->reattach_timer);
	return 0;
}

void broker_adopt_finish(struct broker *b)
{
	struct queue *q;
	bool waiting = false;
	int r;

	list_for_each(q, &b->queues, link)
		waiting |= awaits_reattach(q);
	if (!waiting || !b->event || b->reattach_timer)
		return;
	r = sd_event_add_time_relative(b->event, &b->reattach_timer, CLOCK_MONOTONIC,
				       b->limits.reattach_timeout_usec, 0, on_reattach_timeout, b);
	if (r < 0)
		log_warning_errno(r, "Could not time the reattach deadline: queues wait for their owners' exit");
}

void broker_release_holder(struct broker *b, void *holder)
{
	struct queue *q, *tmp;

	list_for_each_safe(q, tmp, &b->queues, link) {
		if (q->holder != holder)
			continue;
		/* A process-long queue waits for its owner to come back (or exit). */
		if (q->terms.lifetime == LIFETIME_PROCESS && q->process && !q->process->exited) {
			q->holder = NULL;
			log_debug("Queue %llu detached from its connection", (unsigned long long)q->id);
			continue;
		}
		queue_close(b, q, QUEUE_RELEASED);
	}
}

static bool token_equal(const char *a, const char *b)
{
	unsigned char diff = 0;

	/* Both are QUEUE_TOKEN_LEN long when it matters; no early exit on a mismatch. */
	for (size_t i = 0; i < QUEUE_TOKEN_LEN; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0 && a[QUEUE_TOKEN_LEN] == '\0' && b[QUEUE_TOKEN_LEN] == '\0';
}

int broker_transfer(struct broker *b, const struct peer *peer, void *holder, uint64_t queue_id,
		    char token[QUEUE_TOKEN_LEN + 1], struct accel_error *e)
{
	uint8_t random[QUEUE_TOKEN_LEN / 2];
	struct queue *q = NULL;
	int r = find_own_queue(b, peer, holder, queue_id, &q, e);

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
	log_debug("Queue %llu offered for transfer", (unsigned long long)q->id);
	return 0;
}

/*
 * The giver may keep the queue's fd and mappings whatever it promised; within
 * one uid that gives it nothing it could not take anyway, across uids it
 * would read (and write) the receiver's data.  So a queue changing uid gets
 * new memory from its backend, the old going dead; a backend that cannot
 * do that cannot hand its queues to another user.  A queue the client binds
 * (SVA) is bound to the giver's address space, which the receiver cannot
 * undo: it gets a fresh one whoever it is.
 */
static int renew_for_receiver(struct queue *q, const struct peer *peer, struct accel_error *e)
{
	if (peer->uid == q->uid && !q->device->bind_client)
		return 0;
	if (!q->device->ops->queue_renew)
		return accel_error_set(e, ERR_PERMISSION_DENIED,
				       "queues of %s cannot go to another user: the giver would keep access",
				       q->device->name);
	return q->device->ops->queue_renew(q->device, q, e);
}

int broker_claim(struct broker *b, const struct peer *peer, void *holder, const char *token,
		 struct queue **out, struct accel_error *e)
{
	struct caller caller = { peer->uid, peer->groups, peer->n_groups };
	struct queue *q, *found = NULL;
	_cleanup_free_ gid_t *groups = NULL;
	unsigned n_groups = 0;
	int r;

	if (strlen(token) != QUEUE_TOKEN_LEN)
		return accel_error_set(e, ERR_INVALID_TOKEN, "not a transfer token");
	list_for_each(q, &b->queues, link)
		if (q->token[0] && token_equal(q->token, token))
			found = q;
	q = found;
	if (!q)
		return accel_error_set(e, ERR_INVALID_TOKEN, "no such token (claimed already, or never made)");
	if (now_usec(CLOCK_MONOTONIC) >= q->token_expires_usec) {
		q->token[0] = '\0';
		return accel_error_set(e, ERR_INVALID_TOKEN, "the token has expired");
	}
	if (q->terms.transfer == TRANSFER_SAME_USER && peer->uid != q->uid)
		return accel_error_set(e, ERR_PERMISSION_DENIED,
				       "queue %llu may only go to a process of uid %u",
				       (unsigned long long)q->id, (unsigned)q->uid);
	/* The receiver takes it on its own terms: its policy, its quota. */
	if (b->policy) {
		r = policy_check_device(b->policy, &caller, q->device->name, e);
		if (r < 0)
			return r;
	}
	r = check_policy(b, &b->tally, peer, q->algorithm, q, e);
	if (r < 0)
		return r;
	/* Counted for the receiver before the renewal, which cannot be undone. */
	if (peer_groups_copy(peer, &groups, &n_groups) < 0 ||
	    tally_add(&b->tally, peer->uid, q->algorithm, groups, n_groups) < 0)
		return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE, "out of memory");
	r = renew_for_receiver(q, peer, e);
	if (r < 0) {
		tally_remove(&b->tally, peer->uid, q->algorithm, groups, n_groups);
		return r;
	}
	uncount_queue(&b->tally, q);
	q->token[0] = '\0';
	log_debug("Queue %llu claimed by uid %u pid %d from uid %u pid %d", (unsigned long long)q->id,
		  (unsigned)peer->uid, (int)peer->pid, (unsigned)q->uid, (int)q->pid);
	watchers_queue_removed(b, q);	/* the giver's record ends (the fd store names it by owner) */
	queue_set_owner(q, peer, TAKE_PTR(groups), n_groups);
	peer_terms(b, peer, &q->terms);
	q->holder = holder;
	watchers_queue_added(b, q, QUEUE_CLAIMED);
	*out = q;
	return 0;
}

bool broker_may_see(const struct peer *peer, const struct queue *q)
{
	return peer->admin || peer->uid == q->uid;
}

/* @asker: who asked for it (Revoke), or NULL when the broker decided. */
static void revoke_queue(struct broker *b, struct queue *q, const char *reason, const struct peer *asker)
{
	enum queue_state from = q->state;

	if (asker)
		log_notice("Revoking queue %llu on %s of uid %u pid %d: %s, asked by uid %u pid %d",
			   (unsigned long long)q->id, q->device->name, (unsigned)q->uid, (int)q->pid, reason,
			   (unsigned)asker->uid, (int)asker->pid);
	else
		log_info("Revoking queue %llu on %s of uid %u pid %d: %s", (unsigned long long)q->id,
			 q->device->name, (unsigned)q->uid, (int)q->pid, reason);
	/* Stop it first: a watcher that hears of it must find it dead. */
	q->device->ops->queue_stop(q->device, q);
	q->state = QUEUE_REVOKED;
	watchers_queue_changed(b, q, from, reason);
	queue_close(b, q, QUEUE_REVOKED);
}

void broker_revoke(struct broker *b, struct queue *q, const char *reason)
{
	revoke_queue(b, q, reason, NULL);
}

void broker_owner_exited(struct broker *b, struct owner *o)
{
	struct queue *q, *tmp;

	list_for_each_safe(q, tmp, &b->queues, link)
		if (q->process == o)
			broker_revoke(b, q, REVOKE_OWNER_EXITED);
}

/* A user by name or number; -ENOENT if there is none. */
static int parse_user(const char *s, uid_t *out)
{
	struct passwd *pw;
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s && !errno && *end == '\0' && v < UINT32_MAX) {
		*out = (uid_t)v;
		return 0;
	}
	/* NSS may ask a remote directory; names are for admins at a prompt. */
	pw = getpwnam(s);
	if (!pw)
		return -ENOENT;
	*out = pw->pw_uid;
	return 0;
}

int broker_revoke_matching(struct broker *b, const struct peer *peer,
			   const struct revoke_request *req, struct accel_error *e)
{
	struct queue *q, *tmp;
	struct device *dev = NULL;
	uid_t uid = 0;
	int n = 0;

	if ((req->queue_id != 0) + (req->user != NULL) + (req->device != NULL) != 1)
		return accel_error_set(e, ERR_INVALID_PARAMETER,
				       "name exactly one of queue_id, user and device");
	if (req->queue_id) {
		q = find_queue(b, req->queue_id);
		if (q && broker_may_see(peer, q)) {
			revoke_queue(b, q, REVOKE_ADMIN, peer);
			return 1;
		}
		return accel_error_set(e, ERR_NO_SUCH_QUEUE, "no queue %llu",
				       (unsigned long long)req->queue_id);
	}
	if (req->user) {
		if (parse_user(req->user, &uid) < 0)
			return accel_error_set(e, ERR_INVALID_PARAMETER, "no user \"%.64s\"", req->user);
		if (!peer->admin && uid != peer->uid)
			return accel_error_set(e, ERR_PERMISSION_DENIED,
					       "only an administrator may revoke another user's queues");
	}
	if (req->device) {
		dev = broker_find_device(b, req->device);
		if (!dev)
			return accel_error_set(e, ERR_NO_SUCH_DEVICE, "no device \"%.64s\"", req->device);
	}
	list_for_each_safe(q, tmp, &b->queues, link) {
		if (!broker_may_see(peer, q) || (req->user && q->uid != uid) || (dev && q->device != dev))
			continue;
		revoke_queue(b, q, REVOKE_ADMIN, peer);
		n++;
	}
	return n;
}

struct quota_fill {
	struct broker *b;
	struct quota *q;
	int error;
};

static void quota_add_restriction(const struct limit_info *l, struct quota_fill *f)
{
	struct quota_restriction *all, *r;

	all = realloc(f->q->restrictions, (f->q->n_restrictions + 1) * sizeof(*all));
	if (!all) {
		f->error = -ENOMEM;
		return;
	}
	f->q->restrictions = all;
	r = &all[f->q->n_restrictions++];
	snprintf(r->key, sizeof(r->key), "%s", l->key);
	snprintf(r->value, sizeof(r->value), "%s", l->value);
	snprintf(r->where, sizeof(r->where), "%s", l->where);
	r->gid = l->group ? (long)l->gid : -1;
}

static void quota_add(const struct limit_info *l, void *data)
{
	struct quota_fill *f = data;
	struct quota_line *lines, *line;

	if (l->value) {
		quota_add_restriction(l, f);
		return;
	}
	lines = realloc(f->q->lines, (f->q->n_lines + 1) * sizeof(*lines));

	if (!lines) {
		f->error = -ENOMEM;
		return;
	}
	f->q->lines = lines;
	line = &lines[f->q->n_lines++];
	snprintf(line->key, sizeof(line->key), "%s%s", l->key, l->algorithm ? l->algorithm : "");
	snprintf(line->where, sizeof(line->where), "%s", l->where);
	line->limit = l->limit;
	line->gid = l->group ? (long)l->gid : -1;
	if (strcmp(l->key, "pool_max_queues") == 0)
		line->used = tally_pool(&f->b->tally, l->gid);
	else
		line->used = tally_user(&f->b->tally, f->q->uid, l->algorithm);
}

int broker_get_quota(struct broker *b, const struct peer *peer, const char *user,
		     struct quota *out, struct accel_error *e)
{
	gid_t groups[POLICY_MAX_GROUPS];
	struct caller caller = { peer->uid, peer->groups, peer->n_groups };
	struct quota_fill f = { b, out, 0 };
	uid_t uid = peer->uid;

	*out = (struct quota){ 0 };
	if (user) {
		if (parse_user(user, &uid) < 0)
			return accel_error_set(e, ERR_INVALID_PARAMETER, "no user \"%.64s\"", user);
		if (uid != peer->uid && !peer->admin)
			return accel_error_set(e, ERR_PERMISSION_DENIED,
					       "only an administrator may see another user's quota");
	}
	if (uid != peer->uid)	/* not connected: its groups as the user database says */
		caller = (struct caller){ uid, groups, user_groups(uid, groups, ELEMENTSOF(groups)) };
	out->uid = uid;
	if (!b->policy)
		return accel_error_set(e, ERR_INVALID_PARAMETER, "no policy in force");
	out->allowed = policy_describe(b->policy, &caller, quota_add, &f);
	policy_terms(b->policy, &caller, &out->terms);
	if (f.error < 0) {
		free(out->lines);
		free(out->restrictions);
		*out = (struct quota){ 0 };
		return accel_error_set(e, ERR_INVALID_PARAMETER, "out of memory");
	}
	return 0;
}

void broker_log_failure(const struct peer *peer, const char *what, const struct accel_error *e)
{
	/*
	 * A refusal is the policy at work, which an administrator wants to see
	 * at the default level; other failures (a wrong id, a bad parameter)
	 * are the client's business.
	 */
	bool refusal = e->name && (strcmp(e->name, ERR_PERMISSION_DENIED) == 0 ||
				   strcmp(e->name, ERR_QUOTA_EXCEEDED) == 0);

	log_client(peer->uid, refusal ? LOG_NOTICE : LOG_DEBUG, "%s from pid %d uid %u %s: %s", what,
		   (int)peer->pid, (unsigned)peer->uid, refusal ? "refused" : "failed", e->message);
}

// SPDX-License-Identifier: MIT
#include <string.h>

#include "broker.h"
#include "device.h"
#include "enforce.h"
#include "groups.h"
#include "log.h"
#include "owner.h"

static bool queue_in_group(const struct queue *q, gid_t gid)
{
	return groups_contain(q->groups, q->n_groups, gid);
}

static bool same_name(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Take @q out of the count @s of a scope @q is in. */
static void scope_without(struct scope_usage *s, const char *algorithm, const struct queue *q)
{
	s->queues--;
	/* A raw queue counts as one of every algorithm (tally_user_limit()). */
	s->queues_of_algorithm -= strcmp(q->algorithm, algorithm) == 0 || !q->algorithm[0];
}

/* Take @q, counted in @u for @caller, out of it again. */
static void usage_without(struct usage *u, const struct caller *caller, const char *algorithm,
			  const struct queue *q)
{
	const struct cgroup_identity *id = caller->identity, *qid = q->identity;

	if (q->uid == caller->uid) {
		u->queues--;
		u->queues_of_algorithm -= strcmp(q->algorithm, algorithm) == 0 || !q->algorithm[0];
	}
	for (unsigned i = 0; i < caller->n_groups; i++)
		u->pool[i] -= queue_in_group(q, caller->groups[i]);
	if (!id || !qid)
		return;
	if (same_name(id->unit, qid->unit))
		scope_without(&u->unit, algorithm, q);
	if (same_name(id->machine, qid->machine))
		scope_without(&u->machine, algorithm, q);
	for (unsigned i = 0; i < id->n_slices; i++)
		for (unsigned k = 0; k < qid->n_slices; k++)
			if (same_name(id->slices[i], qid->slices[k]))
				scope_without(&u->slices[i], algorithm, q);
}

static int enforce_algorithm(struct broker *b, const struct tally *t, const struct caller *caller,
			     const char *algorithm, const struct queue *skip, struct accel_error *e)
{
	struct usage u;

	tally_usage(t, caller, algorithm, &u);
	if (skip)
		usage_without(&u, caller, algorithm, skip);
	return policy_check_acquire(b->policy, caller, algorithm, &u, e);
}

int enforce_acquire(struct broker *b, const struct tally *t, const struct peer *peer,
		    const struct device *dev, const char *algorithm, const struct queue *skip,
		    struct accel_error *e)
{
	struct caller caller = peer_caller(peer);
	int r;

	if (!b->policy)
		return 0;
	if (algorithm[0] || !dev->algorithms[0])
		return enforce_algorithm(b, t, &caller, algorithm, skip, e);
	for (char **a = dev->algorithms; *a; a++) {
		r = enforce_algorithm(b, t, &caller, *a, skip, e);
		if (r < 0)
			return r;
	}
	return 0;
}

void enforce_terms(struct broker *b, const struct peer *peer, struct terms *out)
{
	struct caller caller = peer_caller(peer);

	*out = (struct terms){ LIFETIME_CONNECTION, FORK_DENY, TRANSFER_SAME_USER };
	if (b->policy)
		policy_terms(b->policy, &caller, out);
	if (!peer->process || peer->process->pidfd < 0)
		out->lifetime = LIFETIME_CONNECTION;
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
		struct peer p = { .uid = q->uid, .gid = q->gid, .n_groups = 0, .identity = q->identity };
		struct caller caller;
		for (unsigned i = 0; i < q->n_groups && i < POLICY_MAX_GROUPS; i++)
			p.groups[p.n_groups++] = q->groups[i];
		caller = peer_caller(&p);
		if (policy_check_device(policy, &caller, q->device->name, NULL) < 0 ||
		    enforce_acquire(b, &kept, &p, q->device, q->algorithm, NULL, NULL) < 0) {
			broker_revoke(b, q, REVOKE_POLICY);
			n++;
		} else if (queue_count(&kept, q) < 0) {
			log_warning("Out of memory re-checking the queues under the new policy: the rest are kept");
			break;
		}
	}
	tally_finish(&kept);
	return n;
}

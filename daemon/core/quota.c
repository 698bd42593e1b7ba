// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "util.h"

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
	r->kind = l->kind;
	snprintf(r->scope, sizeof(r->scope), "%s", l->scope ? l->scope : "");
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
	line->kind = l->kind;
	snprintf(line->scope, sizeof(line->scope), "%s", l->scope ? l->scope : "");
	if (l->scope)
		line->used = tally_scope(&f->b->tally, l->kind, l->scope, l->algorithm);
	else if (strcmp(l->key, "pool_max_queues") == 0)
		line->used = tally_pool(&f->b->tally, l->gid);
	else
		line->used = l->algorithm ? tally_user_limit(&f->b->tally, f->q->uid, l->algorithm) :
					    tally_user(&f->b->tally, f->q->uid, NULL);
}

static void quota_clearp(struct quota *q)
{
	free(q->lines);
	free(q->restrictions);
}

/* The identity @unit's newest queue recorded, else one of that unit alone; NULL: out of memory. */
static struct cgroup_identity *unit_identity(struct broker *b, const char *unit)
{
	struct cgroup_identity *id = NULL;
	struct queue *q;

	list_for_each(q, &b->queues, link)
		if (q->identity && q->identity->unit && strcmp(q->identity->unit, unit) == 0)
			id = q->identity;
	if (id)
		return cgroup_identity_ref(id);
	id = calloc(1, sizeof(*id) + strlen(unit) + 1);
	if (!id)
		return NULL;
	id->n_ref = 1;
	id->unit = strcpy(id->names, unit);
	return id;
}

/* @peer as it would be in @unit, in *@in (holding a reference to its identity). */
static int as_in_unit(struct broker *b, const struct peer *peer, const char *unit, struct peer *in,
		      struct accel_error *e)
{
	if (strlen(unit) > POLICY_PATTERN_MAX)
		return accel_error_set(e, ERR_INVALID_PARAMETER, "no unit is named that long");
	if (!peer->admin && !(peer->identity && peer->identity->unit && strcmp(peer->identity->unit, unit) == 0))
		return accel_error_set(e, ERR_PERMISSION_DENIED,
				       "only an administrator may see another unit's quota");
	*in = *peer;
	in->identity = unit_identity(b, unit);
	if (!in->identity)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "out of memory");
	return 0;
}

int broker_get_quota(struct broker *b, const struct peer *peer, const struct caller *user, const char *unit,
		     struct quota *out, struct accel_error *e)
{
	_cleanup_(quota_clearp) struct quota q = { 0 };
	_cleanup_(cgroup_identity_unrefp) struct cgroup_identity *unit_id = NULL;
	struct peer in_unit;
	struct caller caller = peer_caller(peer);
	struct quota_fill f = { b, &q, 0 };
	uid_t uid = user ? user->uid : peer->uid;
	int r;

	*out = (struct quota){ 0 };
	if (user && unit)
		return accel_error_set(e, ERR_INVALID_PARAMETER, "name a user or a unit, not both");
	if (unit) {
		r = as_in_unit(b, peer, unit, &in_unit, e);
		if (r < 0)
			return r;
		unit_id = in_unit.identity;
		caller = peer_caller(&in_unit);
	}
	r = broker_may_name_user(peer, uid, NAME_QUOTA, e);
	if (r < 0)
		return r;
	if (uid != peer->uid)	/* not connected: its groups as the user database says */
		caller = *user;
	q.uid = uid;
	out->uid = uid;
	if (!b->policy)
		return accel_error_set(e, ERR_INVALID_PARAMETER, "no policy in force");
	q.allowed = policy_describe(b->policy, &caller, quota_add, &f);
	policy_terms(b->policy, &caller, &q.terms);
	if (f.error < 0)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "out of memory");
	*out = q;
	q = (struct quota){ 0 };	/* the caller's now */
	return 0;
}

// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tally.h"

void tally_init(struct tally *t)
{
	*t = (struct tally){ 0 };
	list_init(&t->users);
}

static void entry_free(struct tally_entry *e)
{
	free(e->algorithms);
	free(e->name);
	free(e);
}

void tally_finish(struct tally *t)
{
	for (unsigned i = 0; i < t->n_buckets; i++)
		for (struct tally_entry *e = t->buckets[i], *next; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	free(t->buckets);
	tally_init(t);
}

/* What an entry counts: a uid or gid, or a unit's, slice's or machine's name. */
struct key {
	enum rule_kind kind;
	unsigned id;
	const char *name;	/* NULL for uids and gids */
};

static unsigned bucket_of(const struct tally *t, struct key k)
{
	/* Fibonacci hashing: uids and gids come in runs, which it spreads; names FNV-1a first. */
	uint32_t h = k.id;

	if (k.name) {
		h = 2166136261u;
		for (const char *p = k.name; *p; p++)
			h = (h ^ (unsigned char)*p) * 16777619u;
	}
	h = (h * 8 + k.kind) * 2654435769u;
	return h >> (32 - __builtin_ctz(t->n_buckets)) & (t->n_buckets - 1);
}

static bool entry_is(const struct tally_entry *e, struct key k)
{
	return e->kind == k.kind && (k.name ? strcmp(e->name, k.name) == 0 : e->id == k.id);
}

static struct key entry_key(const struct tally_entry *e)
{
	return (struct key){ e->kind, e->id, e->name };
}

static struct tally_entry *find(const struct tally *t, struct key k)
{
	if (t->n_buckets == 0)
		return NULL;
	for (struct tally_entry *e = t->buckets[bucket_of(t, k)]; e; e = e->next)
		if (entry_is(e, k))
			return e;
	return NULL;
}

/* Keep at most one entry per bucket on average. */
static int grow(struct tally *t)
{
	unsigned n = t->n_buckets ? t->n_buckets * 2 : 16;
	struct tally_entry **buckets = calloc(n, sizeof(*buckets)), **old = t->buckets;
	unsigned n_old = t->n_buckets;

	if (!buckets)
		return -ENOMEM;
	t->buckets = buckets;
	t->n_buckets = n;
	for (unsigned i = 0; i < n_old; i++)
		for (struct tally_entry *e = old[i], *next; e; e = next) {
			unsigned b = bucket_of(t, entry_key(e));
			next = e->next;
			e->next = buckets[b];
			buckets[b] = e;
		}
	free(old);
	return 0;
}

static struct tally_entry *get(struct tally *t, struct key k)
{
	struct tally_entry *e = find(t, k);
	unsigned b;

	if (e)
		return e;
	if (t->n_entries >= t->n_buckets && grow(t) < 0)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e || (k.name && !(e->name = strdup(k.name)))) {
		free(e);
		return NULL;
	}
	e->kind = k.kind;
	e->id = k.id;
	list_init(&e->link);
	if (k.kind == RULE_USER)
		list_insert_tail(&t->users, &e->link);
	b = bucket_of(t, k);
	e->next = t->buckets[b];
	t->buckets[b] = e;
	t->n_entries++;
	return e;
}

/* Drop @e if it counts nothing (any more, or yet: a half-done tally_add). */
static void put(struct tally *t, struct tally_entry *e)
{
	struct tally_entry **p;

	if (!e || e->queues > 0)
		return;
	for (p = &t->buckets[bucket_of(t, entry_key(e))]; *p != e; p = &(*p)->next)
		;
	*p = e->next;
	list_remove(&e->link);
	t->n_entries--;
	entry_free(e);
}

static struct tally_algorithm *find_algorithm(const struct tally_entry *e, const char *name)
{
	for (unsigned i = 0; i < e->n_algorithms; i++)
		if (strcmp(e->algorithms[i].name, name) == 0)
			return &e->algorithms[i];
	return NULL;
}

static struct tally_algorithm *get_algorithm(struct tally_entry *e, const char *name)
{
	struct tally_algorithm *a = find_algorithm(e, name);

	if (a)
		return a;
	a = realloc(e->algorithms, (e->n_algorithms + 1) * sizeof(*a));
	if (!a)
		return NULL;
	e->algorithms = a;
	a = &a[e->n_algorithms++];
	*a = (struct tally_algorithm){ .queues = 0 };
	strcpy(a->name, name);
	return a;
}

#define MAX_KEYS (1 + POLICY_MAX_GROUPS + 2 + CGROUP_MAX_SLICES)

/* Every entry a queue counts in: its uid, groups, unit, machine and slices. */
static unsigned queue_keys(uid_t uid, const gid_t *gids, unsigned n_groups,
			   const struct cgroup_identity *id, struct key *keys)
{
	unsigned n = 0;

	assert(n_groups <= POLICY_MAX_GROUPS);
	keys[n++] = (struct key){ RULE_USER, uid, NULL };
	for (unsigned i = 0; i < n_groups; i++)
		keys[n++] = (struct key){ RULE_GROUP, gids[i], NULL };
	if (id && id->unit)
		keys[n++] = (struct key){ RULE_UNIT, 0, id->unit };
	if (id && id->machine)
		keys[n++] = (struct key){ RULE_MACHINE, 0, id->machine };
	for (unsigned i = 0; id && i < id->n_slices; i++)
		keys[n++] = (struct key){ RULE_SLICE, 0, id->slices[i] };
	return n;
}

int tally_add(struct tally *t, uid_t uid, const char *algorithm, const gid_t *gids, unsigned n_groups,
	      const struct cgroup_identity *identity)
{
	struct key keys[MAX_KEYS];
	struct tally_entry *entries[MAX_KEYS] = { 0 };
	struct tally_algorithm *algorithms[MAX_KEYS] = { 0 };
	unsigned n_keys = queue_keys(uid, gids, n_groups, identity, keys), n = 0;

	/* Every entry first, so that running out of memory changes nothing. */
	for (; n < n_keys; n++) {
		entries[n] = get(t, keys[n]);
		if (entries[n] && keys[n].kind != RULE_GROUP)
			algorithms[n] = get_algorithm(entries[n], algorithm);
		if (!entries[n] || (keys[n].kind != RULE_GROUP && !algorithms[n]))
			break;
	}
	if (n < n_keys) {
		for (unsigned i = 0; i <= n; i++)
			put(t, entries[i]);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n_keys; i++) {
		entries[i]->queues++;
		if (algorithms[i])
			algorithms[i]->queues++;
	}
	t->queues++;
	return 0;
}

void tally_remove(struct tally *t, uid_t uid, const char *algorithm, const gid_t *gids,
		  unsigned n_groups, const struct cgroup_identity *identity)
{
	struct key keys[MAX_KEYS];
	unsigned n_keys = queue_keys(uid, gids, n_groups, identity, keys);

	assert(t->queues > 0);
	for (unsigned i = 0; i < n_keys; i++) {
		struct tally_entry *e = find(t, keys[i]);
		assert(e && e->queues > 0);
		if (keys[i].kind != RULE_GROUP) {
			struct tally_algorithm *a = find_algorithm(e, algorithm);
			assert(a && a->queues > 0);
			a->queues--;
		}
		e->queues--;
		put(t, e);
	}
	t->queues--;
}

/* @e's queues, of @algorithm only unless NULL. */
static unsigned entry_queues(const struct tally_entry *e, const char *algorithm)
{
	const struct tally_algorithm *a;

	if (!e)
		return 0;
	if (!algorithm)
		return e->queues;
	a = find_algorithm(e, algorithm);
	return a ? a->queues : 0;
}

unsigned tally_user(const struct tally *t, uid_t uid, const char *algorithm)
{
	return entry_queues(find(t, (struct key){ RULE_USER, uid, NULL }), algorithm);
}

unsigned tally_user_limit(const struct tally *t, uid_t uid, const char *algorithm)
{
	unsigned n = tally_user(t, uid, algorithm);

	return algorithm[0] ? n + tally_user(t, uid, "") : n;
}

unsigned tally_pool(const struct tally *t, gid_t gid)
{
	return entry_queues(find(t, (struct key){ RULE_GROUP, gid, NULL }), NULL);
}

unsigned tally_scope(const struct tally *t, enum rule_kind kind, const char *name, const char *algorithm)
{
	const struct tally_entry *e = find(t, (struct key){ kind, 0, name });

	if (!algorithm || !algorithm[0])
		return entry_queues(e, algorithm);
	return entry_queues(e, algorithm) + entry_queues(e, "");
}

static struct scope_usage scope_usage(const struct tally *t, enum rule_kind kind, const char *name,
				      const char *algorithm)
{
	if (!name)
		return (struct scope_usage){ 0, 0 };
	return (struct scope_usage){ tally_scope(t, kind, name, NULL), tally_scope(t, kind, name, algorithm) };
}

void tally_usage(const struct tally *t, const struct caller *caller, const char *algorithm,
		 struct usage *out)
{
	const struct cgroup_identity *id = caller->identity;

	assert(caller->n_groups <= POLICY_MAX_GROUPS);
	*out = (struct usage){
		.queues = tally_user(t, caller->uid, NULL),
		.queues_of_algorithm = tally_user_limit(t, caller->uid, algorithm),
	};
	for (unsigned i = 0; i < caller->n_groups; i++)
		out->pool[i] = tally_pool(t, caller->groups[i]);
	if (!id)
		return;
	out->unit = scope_usage(t, RULE_UNIT, id->unit, algorithm);
	out->machine = scope_usage(t, RULE_MACHINE, id->machine, algorithm);
	for (unsigned i = 0; i < id->n_slices; i++)
		out->slices[i] = scope_usage(t, RULE_SLICE, id->slices[i], algorithm);
}

/* Whether every count of @a is in @b (then, with as many entries each, they are equal). */
static bool tally_within(const struct tally *a, const struct tally *b)
{
	for (unsigned i = 0; i < a->n_buckets; i++)
		for (const struct tally_entry *e = a->buckets[i]; e; e = e->next) {
			const struct tally_entry *f = find(b, entry_key(e));
			if (!f || f->queues != e->queues)
				return false;
			for (unsigned k = 0; k < e->n_algorithms; k++)
				if (entry_queues(f, e->algorithms[k].name) != e->algorithms[k].queues)
					return false;
		}
	return true;
}

bool tally_equal(const struct tally *a, const struct tally *b)
{
	return a->queues == b->queues && a->n_entries == b->n_entries &&
	       tally_within(a, b) && tally_within(b, a);
}

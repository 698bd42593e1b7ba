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

static unsigned bucket_of(const struct tally *t, bool group, unsigned id)
{
	/* Fibonacci hashing: uids and gids come in runs, which it spreads. */
	uint32_t h = (id * 2 + group) * 2654435769u;

	return h >> (32 - __builtin_ctz(t->n_buckets)) & (t->n_buckets - 1);
}

static struct tally_entry *find(const struct tally *t, bool group, unsigned id)
{
	if (t->n_buckets == 0)
		return NULL;
	for (struct tally_entry *e = t->buckets[bucket_of(t, group, id)]; e; e = e->next)
		if (e->group == group && e->id == id)
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
			unsigned b = bucket_of(t, e->group, e->id);
			next = e->next;
			e->next = buckets[b];
			buckets[b] = e;
		}
	free(old);
	return 0;
}

static struct tally_entry *get(struct tally *t, bool group, unsigned id)
{
	struct tally_entry *e = find(t, group, id);
	unsigned b;

	if (e)
		return e;
	if (t->n_entries >= t->n_buckets && grow(t) < 0)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->group = group;
	e->id = id;
	list_init(&e->link);
	if (!group)
		list_insert_tail(&t->users, &e->link);
	b = bucket_of(t, group, id);
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
	for (p = &t->buckets[bucket_of(t, e->group, e->id)]; *p != e; p = &(*p)->next)
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

int tally_add(struct tally *t, uid_t uid, const char *algorithm, const gid_t *gids, unsigned n_groups)
{
	struct tally_entry *user, *groups[POLICY_MAX_GROUPS] = { 0 };
	struct tally_algorithm *a = NULL;
	unsigned n = 0;

	assert(n_groups <= POLICY_MAX_GROUPS);
	/* Every entry first, so that running out of memory changes nothing. */
	user = get(t, false, uid);
	if (user)
		a = get_algorithm(user, algorithm);
	for (; a && n < n_groups; n++) {
		groups[n] = get(t, true, gids[n]);
		if (!groups[n])
			break;
	}
	if (!a || n < n_groups) {
		for (unsigned i = 0; i < n; i++)
			put(t, groups[i]);
		put(t, user);
		return -ENOMEM;
	}
	user->queues++;
	a->queues++;
	for (unsigned i = 0; i < n; i++)
		groups[i]->queues++;
	t->queues++;
	return 0;
}

void tally_remove(struct tally *t, uid_t uid, const char *algorithm, const gid_t *groups,
		  unsigned n_groups)
{
	struct tally_entry *user = find(t, false, uid);
	struct tally_algorithm *a;

	assert(user && user->queues > 0 && t->queues > 0);
	a = find_algorithm(user, algorithm);
	assert(a && a->queues > 0);
	a->queues--;
	user->queues--;
	put(t, user);
	for (unsigned i = 0; i < n_groups; i++) {
		struct tally_entry *g = find(t, true, groups[i]);
		assert(g && g->queues > 0);
		g->queues--;
		put(t, g);
	}
	t->queues--;
}

unsigned tally_user(const struct tally *t, uid_t uid, const char *algorithm)
{
	const struct tally_entry *e = find(t, false, uid);
	const struct tally_algorithm *a;

	if (!e)
		return 0;
	if (!algorithm)
		return e->queues;
	a = find_algorithm(e, algorithm);
	return a ? a->queues : 0;
}

unsigned tally_user_limit(const struct tally *t, uid_t uid, const char *algorithm)
{
	unsigned n = tally_user(t, uid, algorithm);

	return algorithm[0] ? n + tally_user(t, uid, "") : n;
}

unsigned tally_pool(const struct tally *t, gid_t gid)
{
	const struct tally_entry *e = find(t, true, gid);

	return e ? e->queues : 0;
}

void tally_usage(const struct tally *t, const struct caller *caller, const char *algorithm,
		 struct usage *out)
{
	assert(caller->n_groups <= POLICY_MAX_GROUPS);
	*out = (struct usage){
		.queues = tally_user(t, caller->uid, NULL),
		.queues_of_algorithm = tally_user_limit(t, caller->uid, algorithm),
	};
	for (unsigned i = 0; i < caller->n_groups; i++)
		out->pool[i] = tally_pool(t, caller->groups[i]);
}

/* Whether every count of @a is in @b (then, with as many entries each, they are equal). */
static bool tally_within(const struct tally *a, const struct tally *b)
{
	for (unsigned i = 0; i < a->n_buckets; i++)
		for (const struct tally_entry *e = a->buckets[i]; e; e = e->next) {
			const struct tally_entry *f = find(b, e->group, e->id);
			if (!f || f->queues != e->queues)
				return false;
			for (unsigned k = 0; k < e->n_algorithms; k++)
				if (tally_user(b, e->id, e->algorithms[k].name) != e->algorithms[k].queues)
					return false;
		}
	return true;
}

bool tally_equal(const struct tally *a, const struct tally *b)
{
	return a->queues == b->queues && a->n_entries == b->n_entries &&
	       tally_within(a, b) && tally_within(b, a);
}

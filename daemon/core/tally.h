/* SPDX-License-Identifier: MIT */
/*
 * The core's running count of the queues it holds: per uid, per uid and
 * algorithm, per group pool (a queue counts in the pool of every group
 * it was recorded with), and per unit, slice and machine, each also per
 * algorithm (a queue counts in its owner's unit, every slice above it and
 * its machine, as recorded when acquired).  Derived state: the queue list is the truth, and
 * the core adds a queue here when it enters the list or changes owner and
 * removes it when it leaves or changes owner, so the policy check and
 * GetStatus never walk the list.  tally_equal() against a recount proves it.
 */
#ifndef ACCEL_DAEMON_TALLY_H
#define ACCEL_DAEMON_TALLY_H

#include <stdbool.h>
#include <sys/types.h>

#include "list.h"
#include "policy.h"
#include "queue.h"	/* QUEUE_ALGORITHM_MAX */

struct tally_algorithm {
	char name[QUEUE_ALGORITHM_MAX];
	unsigned queues;
};

/* One uid's, group's, unit's, slice's or machine's count; gone when it drops to 0. */
struct tally_entry {
	struct tally_entry *next;	/* in its hash bucket */
	struct list link;	/* uids only: tally.users */
	enum rule_kind kind;	/* RULE_USER, RULE_GROUP, RULE_UNIT, RULE_SLICE, RULE_MACHINE */
	unsigned id;		/* uid or gid */
	char *name;		/* a unit's, slice's or machine's */
	unsigned queues;
	struct tally_algorithm *algorithms;	/* all but groups; slots may hold 0 */
	unsigned n_algorithms;
};

struct tally {
	struct tally_entry **buckets;
	unsigned n_buckets;	/* a power of two, or 0 */
	unsigned n_entries;
	unsigned queues;	/* all of them */
	struct list users;	/* the uids holding queues, in the order they came to */
};

void tally_init(struct tally *t);
void tally_finish(struct tally *t);

/*
 * Count a queue of @uid and @algorithm recorded with @groups (distinct
 * gids) and @identity (NULL: none).  -ENOMEM leaves @t as it was.
 */
int tally_add(struct tally *t, uid_t uid, const char *algorithm, const gid_t *groups, unsigned n_groups,
	      const struct cgroup_identity *identity);
/* Stop counting a queue added with these same values. */
void tally_remove(struct tally *t, uid_t uid, const char *algorithm, const gid_t *groups,
		  unsigned n_groups, const struct cgroup_identity *identity);

/* @uid's queues, of @algorithm only unless NULL. */
unsigned tally_user(const struct tally *t, uid_t uid, const char *algorithm);
/*
 * What counts against @uid's max_queues.@algorithm: its queues of it and
 * its raw ones (algorithm ""), which can run any algorithm of their device.
 */
unsigned tally_user_limit(const struct tally *t, uid_t uid, const char *algorithm);
/* The queues in @gid's pool. */
unsigned tally_pool(const struct tally *t, gid_t gid);
/*
 * The queues of the unit, slice or machine (@kind) @name: all (@algorithm
 * NULL), or what counts against its max_queues.@algorithm (raw ones too).
 */
unsigned tally_scope(const struct tally *t, enum rule_kind kind, const char *name, const char *algorithm);
/* What @caller holds, for policy_check_acquire(): its own queues and those of its groups' pools. */
void tally_usage(const struct tally *t, const struct caller *caller, const char *algorithm,
		 struct usage *out);

/* Whether @a and @b count the same (for checking the counts against a recount). */
bool tally_equal(const struct tally *a, const struct tally *b);

#define tally_for_each_user(e, t) list_for_each(e, &(t)->users, link)

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Who may hold how many queues: the [defaults], [user:NAME],
 * [group:NAME], [unit:NAME], [slice:NAME] and [machine:NAME] sections of
 * the configuration.
 *
 * How the rules combine.  A user's own rule is its [user:NAME] section,
 * key by key falling back to [defaults], then to the broker's built-in
 * limit (max_queues_per_user).  Every [group:NAME] the caller belongs to
 * (primary or supplementary group, as the kernel reports them at connect
 * time) applies as well.  Every applicable rule holds at once:
 *   allow = no          in any of them refuses the caller;
 *   max_queues          caps the caller's own queues (all algorithms);
 *   max_queues.ALG      caps the caller's own queues of that algorithm;
 *   devices = PAT...    the device must match a pattern (fnmatch) of each
 *                       rule that names devices;
 *   pool_max_queues     (groups only) caps the queues of all the group's
 *                       members together, counted by the groups each queue
 *                       was acquired with.
 *
 * Units, slices and machines.  [unit:PATTERN], [slice:PATTERN] and
 * [machine:PATTERN] take the keys of [user:] (PATTERN: a name or an
 * fnmatch glob); each applies to a caller whose systemd unit, one of
 * whose slices, or whose machine (identity.h, read from its cgroup when it
 * acquires) it matches, on top of the rules above, and each of its limits
 * is a pool shared like a group's:
 *   max_queues(.ALG)    in [unit:] caps the queues of that unit, whoever
 *                       holds them; in [slice:] the queues of every unit
 *                       below that slice together; in [machine:] the
 *                       queues of that container or VM.  A glob's limit is
 *                       per matching unit, slice or machine, not shared
 *                       among them.
 *   allow, devices      as for groups: each rule that applies must allow.
 * Every rule that matches applies (several globs may match one unit, each
 * slice of the chain is matched on its own): the stricter limit wins.  A
 * caller in no unit (init.scope, the root cgroup, a host without systemd)
 * matches no [unit:] rule; its slices and machine still count.  A caller
 * whose cgroup cannot be read is refused (api/peer.c), never treated as
 * in no unit.
 *
 * The terms a queue is handed out on (lifetime, fork, transfer) are the
 * user's own value (its rule, else [defaults], else the built-in, the
 * first of each list below), made stricter by any group, unit, slice or
 * machine rule that sets a stricter one: each list runs from the strictest to the most lenient.
 *   lifetime = connection | process
 *   fork     = deny | allow
 *   transfer = no | same-user | any      (built-in: same-user)
 */
#ifndef ACCEL_DAEMON_POLICY_H
#define ACCEL_DAEMON_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "errors.h"
#include "identity.h"

#define POLICY_UNSET		(-1)
#define POLICY_MAX_ALGORITHMS	16
#define POLICY_MAX_DEVICES	16
#define POLICY_MAX_GROUPS	64	/* groups recorded per caller */

enum rule_kind {
	RULE_DEFAULTS,
	RULE_USER,
	RULE_GROUP,
	RULE_UNIT,		/* the kinds named by a pattern, matched against the identity */
	RULE_SLICE,
	RULE_MACHINE,
};

/* The longest unit or slice name systemd makes (UNIT_NAME_MAX - 1); machines are shorter. */
#define POLICY_PATTERN_MAX 255

/* The terms, each ordered from the strictest (0) up. */
enum policy_lifetime {
	LIFETIME_CONNECTION,	/* released with the connection or the owner */
	LIFETIME_PROCESS,	/* survives the connection while the owner lives */
};

enum policy_fork {
	FORK_DENY,		/* libaccel keeps the mappings from children */
	FORK_ALLOW,		/* children inherit the mappings (the queue still dies with its owner) */
};

enum policy_transfer {
	TRANSFER_NO,
	TRANSFER_SAME_USER,	/* TransferQueue tokens claimable by the same uid */
	TRANSFER_ANY,		/* by any user the policy lets hold the queue */
};

struct terms {
	enum policy_lifetime lifetime;
	enum policy_fork fork;
	enum policy_transfer transfer;
};

const char *policy_lifetime_to_string(enum policy_lifetime v);
const char *policy_fork_to_string(enum policy_fork v);
const char *policy_transfer_to_string(enum policy_transfer v);

#define POLICY_WHERE_SIZE 160

struct rule {
	enum rule_kind kind;
	unsigned id;		/* uid or gid */
	char *pattern;		/* RULE_UNIT, RULE_SLICE, RULE_MACHINE: the name or glob */
	/* "file:line" of the line that set each key: accelctl quota and refusals name it */
	char where_allow[POLICY_WHERE_SIZE], where_max_queues[POLICY_WHERE_SIZE];
	char where_pool[POLICY_WHERE_SIZE], where_devices[POLICY_WHERE_SIZE];
	int allow;		/* POLICY_UNSET, 0, 1 */
	int max_queues;
	int pool_max_queues;
	struct {
		char algorithm[32];
		int max;
		char where[POLICY_WHERE_SIZE];
	} per_algorithm[POLICY_MAX_ALGORITHMS];
	unsigned n_per_algorithm;
	char *devices[POLICY_MAX_DEVICES];
	unsigned n_devices;	/* 0: any device */
	int lifetime;		/* POLICY_UNSET or enum policy_lifetime */
	int fork;		/* POLICY_UNSET or enum policy_fork */
	int transfer;		/* POLICY_UNSET or enum policy_transfer */
};

struct policy {
	struct rule *rules;
	unsigned n_rules;
	int default_max_queues;	/* the built-in limit under every rule */
};

/* What a caller holds now, counted by the core. */
struct usage {
	unsigned queues;		/* the caller's own */
	unsigned queues_of_algorithm;	/* the caller's own of the asked algorithm */
	unsigned pool[POLICY_MAX_GROUPS];	/* the queues in the pool of caller.groups[i] */
	/* The pools of the caller's unit, machine and each of its slices (caller.identity). */
	struct scope_usage {
		unsigned queues;
		unsigned queues_of_algorithm;
	} unit, machine, slices[CGROUP_MAX_SLICES];
};

/* Who asks: the kernel's uid and groups, and its cgroup's unit, slices and machine. */
struct caller {
	uid_t uid;
	const gid_t *groups;
	unsigned n_groups;
	const struct cgroup_identity *identity;	/* NULL: not known, matches no unit, slice or machine rule */
};

void policy_init(struct policy *p, int default_max_queues);
void policy_finish(struct policy *p);

/*
 * Take one key of a policy section (@section: "defaults", "user:NAME",
 * "group:NAME", "unit:PATTERN", "slice:PATTERN", "machine:PATTERN").  Returns 1 if the section is a policy section and the key
 * was taken, 0 if the section is not a policy section, or -EINVAL with the
 * reason, starting with @where ("file:line"), in @err.
 */
int policy_parse(struct policy *p, const char *section, const char *key, const char *value,
		 const char *where, char *err, size_t err_size);

/* Whether @caller may use @device at all; sets @e (PermissionDenied) if not. */
int policy_check_device(const struct policy *p, const struct caller *caller,
			const char *device, struct accel_error *e);

/* One limit (or restriction) that applies to a caller, for `accelctl quota`. */
struct limit_info {
	const char *key;	/* "max_queues", "max_queues." (+ algorithm), "pool_max_queues";
				 * restrictions: "devices", "allow" */
	const char *algorithm;	/* for max_queues.ALG, else NULL */
	const char *value;	/* a restriction's value ("accel_sim-* dev2", "no"); NULL: a limit */
	int limit;
	const char *where;	/* "file:line", or "built-in" */
	bool group;		/* a group rule: gid says which */
	gid_t gid;
	enum rule_kind kind;	/* RULE_UNIT, RULE_SLICE, RULE_MACHINE: scope names which */
	const char *scope;	/* the unit, slice or machine whose pool the limit counts */
};

/* The terms @caller's queues are handed out on (see the rules above). */
void policy_terms(const struct policy *p, const struct caller *caller, struct terms *out);

/*
 * Call @fn for every limit that applies to @caller (see the combination
 * rules above); returns whether the caller is allowed at all.
 */
bool policy_describe(const struct policy *p, const struct caller *caller,
		     void (*fn)(const struct limit_info *l, void *data), void *data);

/*
 * Whether @caller may take one more queue of @algorithm, holding @usage
 * (its own queues, and its groups' pools).  Sets @e if not.
 */
int policy_check_acquire(const struct policy *p, const struct caller *caller,
			 const char *algorithm, const struct usage *usage, struct accel_error *e);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The policy's rules named by a pattern, [unit:], [slice:] and
 * [machine:] (policy.h says how they combine): which patterns the
 * configuration may write, and which of a caller's scopes (its unit, each
 * of its slices, its machine) a rule matches.  A scope is numbered: 0 for
 * the unit or the machine, the slice's index in the chain for a slice.
 */
#ifndef ACCEL_DAEMON_SCOPE_RULE_H
#define ACCEL_DAEMON_SCOPE_RULE_H

#include <stdbool.h>

#include "policy.h"

/* Whether @kind is one of the pattern-named kinds. */
bool scope_rule_kind(enum rule_kind kind);

/*
 * Whether @pattern may name a @kind: 1..POLICY_PATTERN_MAX characters
 * systemd allows in unit or machine names, glob characters, brackets
 * closed; without a glob, a slice must end in ".slice" and a unit in a
 * unit type the identity can hold.  -EINVAL with the reason in @why.
 */
int scope_pattern_check(enum rule_kind kind, const char *pattern, const char **why);

/* How many scopes of @kind @id has (0 without an identity or such a scope), and the @i-th's name. */
unsigned scope_count(enum rule_kind kind, const struct cgroup_identity *id);
const char *scope_name(enum rule_kind kind, const struct cgroup_identity *id, unsigned i);

/* Whether @r matches scope @i of @id; whether it matches any of them. */
bool scope_rule_matches(const struct rule *r, const struct cgroup_identity *id, unsigned i);
bool scope_rule_applies(const struct rule *r, const struct cgroup_identity *id);

/* The pool of @u that scope @i of @kind fills. */
const struct scope_usage *scope_usage_of(const struct usage *u, enum rule_kind kind, unsigned i);

/* Whether @c may take one more queue of @algorithm under @r (a pattern-named rule), holding @u. */
int scope_rule_check(const struct rule *r, const struct caller *c, const char *algorithm,
		     const struct usage *u, struct accel_error *e);

#endif

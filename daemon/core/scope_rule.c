// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "scope_rule.h"
#include "util.h"

bool scope_rule_kind(enum rule_kind kind)
{
	return kind == RULE_UNIT || kind == RULE_SLICE || kind == RULE_MACHINE;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Every "[" closed by a "]" after at least one member, as fnmatch reads a bracket. */
static bool brackets_closed(const char *p)
{
	for (; *p; p++) {
		if (*p != '[')
			continue;
		p++;
		if (*p == '!' || *p == '^')
			p++;
		if (*p == ']')	/* a "]" first is a member */
			p++;
		while (*p && *p != ']')
			p++;
		if (!*p)
			return false;
	}
	return true;
}

/* The characters of unit names (with their \xNN escapes) and machine names, and glob's. */
static bool pattern_chars_valid(const char *p)
{
	for (; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
		      strchr(":-_.\\@*?[]!^", *p)))
			return false;
	return true;
}

/* Why @pattern cannot name a @kind, or NULL if it can. */
static const char *pattern_problem(enum rule_kind kind, const char *pattern)
{
	static const char *const unit_types[] = { ".service", ".scope", ".socket", ".mount", ".swap" };
	size_t n = strlen(pattern);

	if (n == 0 || n > (kind == RULE_MACHINE ? 64 : POLICY_PATTERN_MAX))
		return kind == RULE_MACHINE ? "a machine name has 1 to 64 characters" : "a name has 1 to 255 characters";
	if (!pattern_chars_valid(pattern))
		return "a character no unit or machine name has";
	if (!brackets_closed(pattern))
		return "a \"[\" is not closed";
	if (strpbrk(pattern, "*?[") || kind == RULE_MACHINE)
		return NULL;
	if (kind == RULE_SLICE)
		return ends_with(pattern, ".slice") ? NULL : "a slice's name ends in .slice";
	for (size_t i = 0; i < ELEMENTSOF(unit_types); i++)
		if (ends_with(pattern, unit_types[i]))
			return NULL;
	return "a unit's name ends in .service, .scope, .socket, .mount or .swap";
}

int scope_pattern_check(enum rule_kind kind, const char *pattern, const char **why)
{
	*why = pattern_problem(kind, pattern);
	return *why ? -EINVAL : 0;
}

unsigned scope_count(enum rule_kind kind, const struct cgroup_identity *id)
{
	if (!id)
		return 0;
	switch (kind) {
	case RULE_UNIT:
		return id->unit != NULL;
	case RULE_MACHINE:
		return id->machine != NULL;
	case RULE_SLICE:
		return id->n_slices;
	default:
		return 0;
	}
}

const char *scope_name(enum rule_kind kind, const struct cgroup_identity *id, unsigned i)
{
	if (i >= scope_count(kind, id))
		return NULL;
	return kind == RULE_UNIT ? id->unit : kind == RULE_MACHINE ? id->machine : id->slices[i];
}

bool scope_rule_matches(const struct rule *r, const struct cgroup_identity *id, unsigned i)
{
	const char *name = scope_name(r->kind, id, i);

	/* Unit names hold literal backslashes (their \xNN escapes): never an escape to fnmatch. */
	return name && fnmatch(r->pattern, name, FNM_NOESCAPE) == 0;
}

bool scope_rule_applies(const struct rule *r, const struct cgroup_identity *id)
{
	for (unsigned i = 0; i < scope_count(r->kind, id); i++)
		if (scope_rule_matches(r, id, i))
			return true;
	return false;
}

const struct scope_usage *scope_usage_of(const struct usage *u, enum rule_kind kind, unsigned i)
{
	return kind == RULE_UNIT ? &u->unit : kind == RULE_MACHINE ? &u->machine : &u->slices[i];
}

static const char *kind_word(enum rule_kind kind)
{
	return kind == RULE_UNIT ? "unit" : kind == RULE_SLICE ? "slice" : "machine";
}

/* @r's max_queues.ALG for @algorithm, and in *@where the line that set it. */
static int scope_per_algorithm(const struct rule *r, const char *algorithm, const char **where)
{
	for (unsigned i = 0; i < r->n_per_algorithm; i++)
		if (strcmp(r->per_algorithm[i].algorithm, algorithm) == 0) {
			*where = r->per_algorithm[i].where;
			return r->per_algorithm[i].max;
		}
	return POLICY_UNSET;
}

int scope_rule_check(const struct rule *r, const struct caller *c, const char *algorithm,
		     const struct usage *u, struct accel_error *e)
{
	for (unsigned i = 0; i < scope_count(r->kind, c->identity); i++) {
		const struct scope_usage *s = scope_usage_of(u, r->kind, i);
		const char *name = scope_name(r->kind, c->identity, i), *where;
		int alg;

		if (!scope_rule_matches(r, c->identity, i))
			continue;
		if (r->allow == 0)
			return accel_error_set(e, ERR_PERMISSION_DENIED, "%s %s may not use accelerators (%s)",
					       kind_word(r->kind), name, r->where_allow);
		if (r->max_queues != POLICY_UNSET && s->queues >= (unsigned)r->max_queues)
			return accel_error_set(e, ERR_QUOTA_EXCEEDED, "%s %s holds %u queues, the limit (%s)",
					       kind_word(r->kind), name, s->queues, r->where_max_queues);
		alg = scope_per_algorithm(r, algorithm, &where);
		if (alg != POLICY_UNSET && s->queues_of_algorithm >= (unsigned)alg)
			return accel_error_set(e, ERR_QUOTA_EXCEEDED, "%s %s holds %u %s queues, the limit (%s)",
					       kind_word(r->kind), name, s->queues_of_algorithm, algorithm, where);
	}
	return 0;
}

// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "groups.h"
#include "policy.h"
#include "scope_rule.h"
#include "util.h"

/* Put the message in the caller's buffer and fail. */
#define FAIL(...) (snprintf(err, err_size, __VA_ARGS__), -EINVAL)

void policy_init(struct policy *p, int default_max_queues)
{
	*p = (struct policy){ .default_max_queues = default_max_queues };
}

static void rule_finish(struct rule *r)
{
	for (unsigned i = 0; i < r->n_devices; i++)
		free(r->devices[i]);
	free(r->pattern);
}

void policy_finish(struct policy *p)
{
	for (unsigned i = 0; i < p->n_rules; i++)
		rule_finish(&p->rules[i]);
	free(p->rules);
	p->rules = NULL;
	p->n_rules = 0;
}

/* [unit:PATTERN], [slice:PATTERN], [machine:PATTERN]: the kind, and the pattern in *@pattern. */
static bool scope_section(const char *section, enum rule_kind *kind, const char **pattern)
{
	static const struct {
		const char *prefix;
		enum rule_kind kind;
	} kinds[] = { { "unit:", RULE_UNIT }, { "slice:", RULE_SLICE }, { "machine:", RULE_MACHINE } };

	for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
		if (strncmp(section, kinds[i].prefix, strlen(kinds[i].prefix)) == 0) {
			*kind = kinds[i].kind;
			*pattern = section + strlen(kinds[i].prefix);
			return true;
		}
	return false;
}

static int resolve(const char *section, enum rule_kind *kind, unsigned *id)
{
	if (strcmp(section, "defaults") == 0) {
		*kind = RULE_DEFAULTS;
		*id = 0;
		return 1;
	}
	if (strncmp(section, "user:", 5) == 0) {
		struct passwd *pw = getpwnam(section + 5);
		*kind = RULE_USER;
		if (!pw)
			return -ENOENT;
		*id = pw->pw_uid;
		return 1;
	}
	if (strncmp(section, "group:", 6) == 0) {
		struct group *gr = getgrnam(section + 6);
		*kind = RULE_GROUP;
		if (!gr)
			return -ENOENT;
		*id = gr->gr_gid;
		return 1;
	}
	return 0;
}

static bool rule_is(const struct rule *r, enum rule_kind kind, unsigned id, const char *pattern)
{
	return r->kind == kind && (pattern ? strcmp(r->pattern, pattern) == 0 : r->id == id);
}

/*
 * The rule of a section (@pattern: of a unit, slice or machine section, else
 * NULL); sections of the same name (twice in a file, or in drop-ins) merge.
 */
static struct rule *rule_for(struct policy *p, enum rule_kind kind, unsigned id, const char *pattern)
{
	struct rule *rules;
	char *copy = NULL;

	for (unsigned i = 0; i < p->n_rules; i++)
		if (rule_is(&p->rules[i], kind, id, pattern))
			return &p->rules[i];
	if (pattern && !(copy = strdup(pattern)))
		return NULL;
	rules = realloc(p->rules, (p->n_rules + 1) * sizeof(*rules));
	if (!rules) {
		free(copy);
		return NULL;
	}
	p->rules = rules;
	rules[p->n_rules] = (struct rule){
		.kind = kind, .id = id, .pattern = copy, .allow = POLICY_UNSET, .max_queues = POLICY_UNSET,
		.pool_max_queues = POLICY_UNSET, .lifetime = POLICY_UNSET, .fork = POLICY_UNSET,
		.transfer = POLICY_UNSET,
	};
	return &rules[p->n_rules++];
}

/* The rule @section names, made if new; NULL with the reason in @err (-ENOMEM: none). */
static struct rule *section_rule(struct policy *p, const char *section, const char *where, int *r,
				 char *err, size_t err_size)
{
	enum rule_kind kind;
	const char *pattern = NULL, *why;
	unsigned id = 0;
	struct rule *rule;

	if (scope_section(section, &kind, &pattern)) {
		if (scope_pattern_check(kind, pattern, &why) < 0) {
			*r = FAIL("%s: [%.*s]: %s", where, POLICY_PATTERN_MAX + 8, section, why);
			return NULL;
		}
	} else {
		*r = resolve(section, &kind, &id);
		if (*r == 0)
			return NULL;
		if (*r < 0) {
			*r = FAIL("%s: [%s]: no such %s", where, section, kind == RULE_USER ? "user" : "group");
			return NULL;
		}
	}
	rule = rule_for(p, kind, id, pattern);
	*r = rule ? 1 : -ENOMEM;
	return rule;
}

static int parse_devices(struct rule *r, const char *value, const char *where, char *err, size_t err_size)
{
	char *copy = strdup(value), *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (unsigned i = 0; i < r->n_devices; i++)
		free(r->devices[i]);
	r->n_devices = 0;	/* a later definition replaces an earlier one */
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (r->n_devices == POLICY_MAX_DEVICES) {
			free(copy);
			return FAIL("%s: devices: more than %d patterns", where, POLICY_MAX_DEVICES);
		}
		r->devices[r->n_devices] = strdup(w);
		if (!r->devices[r->n_devices]) {
			free(copy);
			return -ENOMEM;
		}
		r->n_devices++;
	}
	free(copy);
	if (r->n_devices == 0)
		return FAIL("%s: devices: no pattern given", where);
	return 0;
}

static int parse_per_algorithm(struct rule *r, const char *algorithm, const char *value,
			       const char *where, char *err, size_t err_size)
{
	int n;

	if (!*algorithm || strlen(algorithm) >= sizeof(r->per_algorithm[0].algorithm))
		return FAIL("%s: max_queues.%s: not an algorithm name", where, algorithm);
	if (parse_int_range(value, 0, 65536, &n) < 0)
		return FAIL("%s: max_queues.%s: \"%s\" is not a number from 0 to 65536", where,
				 algorithm, value);
	for (unsigned i = 0; i < r->n_per_algorithm; i++)
		if (strcmp(r->per_algorithm[i].algorithm, algorithm) == 0) {
			r->per_algorithm[i].max = n;
			snprintf(r->per_algorithm[i].where, sizeof(r->per_algorithm[i].where), "%s", where);
			return 0;
		}
	if (r->n_per_algorithm == POLICY_MAX_ALGORITHMS)
		return FAIL("%s: more than %d max_queues.ALG keys", where, POLICY_MAX_ALGORITHMS);
	strcpy(r->per_algorithm[r->n_per_algorithm].algorithm, algorithm);
	snprintf(r->per_algorithm[r->n_per_algorithm].where, sizeof(r->per_algorithm[0].where), "%s", where);
	r->per_algorithm[r->n_per_algorithm++].max = n;
	return 0;
}

static const char *const lifetime_names[] = { "connection", "process", NULL };
static const char *const fork_names[] = { "deny", "allow", NULL };
static const char *const transfer_names[] = { "no", "same-user", "any", NULL };

const char *policy_lifetime_to_string(enum policy_lifetime v)
{
	return lifetime_names[v];
}

const char *policy_fork_to_string(enum policy_fork v)
{
	return fork_names[v];
}

const char *policy_transfer_to_string(enum policy_transfer v)
{
	return transfer_names[v];
}

/* A key whose value is one of @names; the value is its index. */
static int parse_choice(const char *const *names, const char *key, const char *value, int *out,
			const char *where, char *err, size_t err_size)
{
	char list[96] = "";

	for (int i = 0; names[i]; i++) {
		if (strcmp(names[i], value) == 0) {
			*out = i;
			return 1;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i == 0 ? "" : names[i + 1] ? ", " : " or ", names[i]);
	}
	return FAIL("%s: %s: \"%s\" is not %s", where, key, value, list);
}

int policy_parse(struct policy *p, const char *section, const char *key, const char *value,
		 const char *where, char *err, size_t err_size)
{
	int v;
	struct rule *r = section_rule(p, section, where, &v, err, err_size);
	enum rule_kind kind;

	if (!r)
		return v;
	kind = r->kind;
	if (strcmp(key, "max_queues") == 0) {
		if (parse_int_range(value, 0, 65536, &r->max_queues) < 0)
			return FAIL("%s: max_queues: \"%s\" is not a number from 0 to 65536", where, value);
		snprintf(r->where_max_queues, sizeof(r->where_max_queues), "%s", where);
	} else if (strncmp(key, "max_queues.", 11) == 0) {
		return parse_per_algorithm(r, key + 11, value, where, err, err_size) < 0 ? -EINVAL : 1;
	} else if (strcmp(key, "pool_max_queues") == 0 && kind == RULE_GROUP) {
		if (parse_int_range(value, 0, 1 << 20, &r->pool_max_queues) < 0)
			return FAIL("%s: pool_max_queues: \"%s\" is not a number", where, value);
		snprintf(r->where_pool, sizeof(r->where_pool), "%s", where);
	} else if (strcmp(key, "devices") == 0) {
		v = parse_devices(r, value, where, err, err_size);
		if (v == 0)
			snprintf(r->where_devices, sizeof(r->where_devices), "%s", where);
		return v < 0 ? v : 1;
	} else if (strcmp(key, "lifetime") == 0) {
		return parse_choice(lifetime_names, key, value, &r->lifetime, where, err, err_size);
	} else if (strcmp(key, "fork") == 0) {
		return parse_choice(fork_names, key, value, &r->fork, where, err, err_size);
	} else if (strcmp(key, "transfer") == 0) {
		return parse_choice(transfer_names, key, value, &r->transfer, where, err, err_size);
	} else if (strcmp(key, "allow") == 0) {
		if (strcasecmp(value, "yes") == 0 || strcmp(value, "1") == 0 || strcasecmp(value, "true") == 0)
			r->allow = 1;
		else if (strcasecmp(value, "no") == 0 || strcmp(value, "0") == 0 || strcasecmp(value, "false") == 0)
			r->allow = 0;
		else
			return FAIL("%s: allow: \"%s\" is not yes or no", where, value);
		snprintf(r->where_allow, sizeof(r->where_allow), "%s", where);
	} else {
		return FAIL("%s: unknown key \"%s\" in [%s]", where, key, section);
	}
	return 1;
}

static const struct rule *find_rule(const struct policy *p, enum rule_kind kind, unsigned id)
{
	for (unsigned i = 0; i < p->n_rules; i++)
		if (p->rules[i].kind == kind && p->rules[i].id == id)
			return &p->rules[i];
	return NULL;
}

/* Where @gid is among @c's groups, or -1. */
static int group_index(const struct caller *c, gid_t gid)
{
	return groups_find(c->groups, c->n_groups, gid);
}

static bool in_groups(const struct caller *c, gid_t gid)
{
	return groups_contain(c->groups, c->n_groups, gid);
}

/* Whether @r is a group, unit, slice or machine rule that applies to @c (on top of its own). */
static bool shared_applies(const struct rule *r, const struct caller *c)
{
	if (r->kind == RULE_GROUP)
		return in_groups(c, (gid_t)r->id);
	return scope_rule_kind(r->kind) && scope_rule_applies(r, c->identity);
}

static bool device_matches(const struct rule *r, const char *device)
{
	for (unsigned i = 0; i < r->n_devices; i++)
		if (fnmatch(r->devices[i], device, 0) == 0)
			return true;
	return r->n_devices == 0;
}

/* The user's own value of a key: the user rule's if set, else [defaults]'. */
#define OWN(user, defaults, field) \
	((user) && (user)->field != POLICY_UNSET ? (user)->field : \
	 (defaults) && (defaults)->field != POLICY_UNSET ? (defaults)->field : POLICY_UNSET)

int policy_check_device(const struct policy *p, const struct caller *c, const char *device,
			struct accel_error *e)
{
	const struct rule *user = find_rule(p, RULE_USER, c->uid), *defaults = find_rule(p, RULE_DEFAULTS, 0);
	/* A user rule that names devices replaces the defaults' list. */
	const struct rule *own = user && user->n_devices > 0 ? user : defaults;

	if (own && !device_matches(own, device))
		return accel_error_set(e, ERR_PERMISSION_DENIED, "device %s is not allowed (%s)",
				       device, own->where_devices);
	for (unsigned i = 0; i < p->n_rules; i++)
		if (shared_applies(&p->rules[i], c) && !device_matches(&p->rules[i], device))
			return accel_error_set(e, ERR_PERMISSION_DENIED, "device %s is not allowed (%s)",
					       device, p->rules[i].where_devices);
	return 0;
}

/* @r's max_queues.ALG for @algorithm, and in *@where the line that set it. */
static int per_algorithm(const struct rule *r, const char *algorithm, const char **where)
{
	for (unsigned i = 0; r && i < r->n_per_algorithm; i++)
		if (strcmp(r->per_algorithm[i].algorithm, algorithm) == 0) {
			if (where)
				*where = r->per_algorithm[i].where;
			return r->per_algorithm[i].max;
		}
	return POLICY_UNSET;
}

/* The rule whose own key sets @field: the user's, else [defaults], else none. */
#define OWN_RULE(user, defaults, field) \
	((user) && (user)->field != POLICY_UNSET ? (user) : \
	 (defaults) && (defaults)->field != POLICY_UNSET ? (defaults) : NULL)

/* A refusal names the file:line of the key that refuses, as accelctl quota shows it. */
static int check_own(const struct policy *p, const struct rule *user, const struct rule *defaults,
		     const char *algorithm, const struct usage *u, struct accel_error *e)
{
	const struct rule *allow = OWN_RULE(user, defaults, allow);
	const struct rule *max = OWN_RULE(user, defaults, max_queues);
	const char *where;
	int alg;

	if (allow && allow->allow == 0)
		return accel_error_set(e, ERR_PERMISSION_DENIED, "not allowed to use accelerators (%s)",
				       allow->where_allow);
	if (u->queues >= (unsigned)(max ? max->max_queues : p->default_max_queues))
		return accel_error_set(e, ERR_QUOTA_EXCEEDED, "holding %u queues, the limit (%s)", u->queues,
				       max ? max->where_max_queues : "built-in (max_queues_per_user)");
	alg = per_algorithm(user, algorithm, &where);
	if (alg == POLICY_UNSET)
		alg = per_algorithm(defaults, algorithm, &where);
	if (alg != POLICY_UNSET && u->queues_of_algorithm >= (unsigned)alg)
		return accel_error_set(e, ERR_QUOTA_EXCEEDED, "holding %u %s queues, the limit (%s)",
				       u->queues_of_algorithm, algorithm, where);
	return 0;
}

int policy_check_acquire(const struct policy *p, const struct caller *c, const char *algorithm,
			 const struct usage *u, struct accel_error *e)
{
	const struct rule *user = find_rule(p, RULE_USER, c->uid), *defaults = find_rule(p, RULE_DEFAULTS, 0);
	int r = check_own(p, user, defaults, algorithm, u, e);

	if (r < 0)
		return r;
	for (unsigned i = 0; i < p->n_rules; i++) {
		const struct rule *g = &p->rules[i];
		int alg, k = g->kind == RULE_GROUP ? group_index(c, (gid_t)g->id) : -1;
		const char *where;

		if (scope_rule_kind(g->kind)) {
			r = scope_rule_check(g, c, algorithm, u, e);
			if (r < 0)
				return r;
			continue;
		}
		if (k < 0)
			continue;
		if (g->allow == 0)
			return accel_error_set(e, ERR_PERMISSION_DENIED, "not allowed to use accelerators (%s)",
					       g->where_allow);
		if (g->max_queues != POLICY_UNSET && u->queues >= (unsigned)g->max_queues)
			return accel_error_set(e, ERR_QUOTA_EXCEEDED, "holding %u queues, the limit (%s)",
					       u->queues, g->where_max_queues);
		alg = per_algorithm(g, algorithm, &where);
		if (alg != POLICY_UNSET && u->queues_of_algorithm >= (unsigned)alg)
			return accel_error_set(e, ERR_QUOTA_EXCEEDED, "holding %u %s queues, the limit (%s)",
					       u->queues_of_algorithm, algorithm, where);
		if (g->pool_max_queues != POLICY_UNSET && u->pool[k] >= (unsigned)g->pool_max_queues)
			return accel_error_set(e, ERR_QUOTA_EXCEEDED, "the group's pool of %d queues is in use (%s)",
					       g->pool_max_queues, g->where_pool);
	}
	return 0;
}

/* The user's own value, else the built-in; then no group may be stricter. */
static int term(const struct policy *p, const struct caller *c, size_t field, int builtin)
{
	const struct rule *user = find_rule(p, RULE_USER, c->uid), *defaults = find_rule(p, RULE_DEFAULTS, 0);
#define FIELD(r) (*(const int *)((const char *)(r) + field))
	int v = user && FIELD(user) != POLICY_UNSET ? FIELD(user) :
		defaults && FIELD(defaults) != POLICY_UNSET ? FIELD(defaults) : builtin;

	for (unsigned i = 0; i < p->n_rules; i++) {
		const struct rule *g = &p->rules[i];
		if (shared_applies(g, c) && FIELD(g) != POLICY_UNSET && FIELD(g) < v)
			v = FIELD(g);
	}
#undef FIELD
	return v;
}

void policy_terms(const struct policy *p, const struct caller *c, struct terms *out)
{
	out->lifetime = term(p, c, offsetof(struct rule, lifetime), LIFETIME_CONNECTION);
	out->fork = term(p, c, offsetof(struct rule, fork), FORK_DENY);
	out->transfer = term(p, c, offsetof(struct rule, transfer), TRANSFER_SAME_USER);
}

/* The first of @c's scopes @r matches (for naming it), or NULL for a rule that is not a scope's. */
static const char *first_scope(const struct rule *r, const struct caller *c)
{
	for (unsigned i = 0; scope_rule_kind(r->kind) && i < scope_count(r->kind, c->identity); i++)
		if (scope_rule_matches(r, c->identity, i))
			return scope_name(r->kind, c->identity, i);
	return NULL;
}

/* What names @r's limits in a limit_info: the group, or the unit, slice or machine @scope. */
static struct limit_info shared_info(const struct rule *r, const char *scope)
{
	return (struct limit_info){ .limit = -1, .group = r->kind == RULE_GROUP, .gid = (gid_t)r->id,
				    .kind = r->kind, .scope = scope };
}

/* A rule's devices= and allow=, as restrictions (devices: @r's list, if it is the one in force). */
static void describe_restrictions(const struct rule *r, const char *scope, bool devices, bool allow,
				  void (*fn)(const struct limit_info *l, void *data), void *data)
{
	char list[POLICY_MAX_DEVICES * 34] = "";
	struct limit_info l = shared_info(r, scope);

	if (devices && r->n_devices > 0) {
		for (unsigned i = 0; i < r->n_devices; i++) {
			size_t used = strlen(list);
			snprintf(list + used, sizeof(list) - used, "%s%s", i ? " " : "", r->devices[i]);
		}
		l.key = "devices";
		l.value = list;
		l.where = r->where_devices;
		fn(&l, data);
	}
	if (allow && r->allow != POLICY_UNSET) {
		l.key = "allow";
		l.value = r->allow ? "yes" : "no";
		l.where = r->where_allow;
		fn(&l, data);
	}
}

/* The user's own limits: max_queues, then its rule's max_queues.ALG, else the defaults'. */
static void describe_own(const struct policy *p, const struct rule *user, const struct rule *defaults,
			 void (*fn)(const struct limit_info *l, void *data), void *data)
{
	const struct rule *own = OWN_RULE(user, defaults, max_queues);
	struct limit_info l = {
		.key = "max_queues",
		.limit = own ? own->max_queues : p->default_max_queues,
		.where = own ? own->where_max_queues : "built-in (max_queues_per_user)",
	};

	fn(&l, data);
	for (int pass = 0; pass < 2; pass++) {
		const struct rule *r = pass == 0 ? user : defaults;
		for (unsigned i = 0; r && i < r->n_per_algorithm; i++) {
			if (pass == 1 && per_algorithm(user, r->per_algorithm[i].algorithm, NULL) != POLICY_UNSET)
				continue;
			l = (struct limit_info){ .key = "max_queues.", .algorithm = r->per_algorithm[i].algorithm,
						 .limit = r->per_algorithm[i].max, .where = r->per_algorithm[i].where };
			fn(&l, data);
		}
	}
}

/* A group's limits, or a unit's, slice's or machine's for its @scope. */
static void describe_shared(const struct rule *g, const char *scope,
			    void (*fn)(const struct limit_info *l, void *data), void *data)
{
	struct limit_info l = shared_info(g, scope);

	if (g->max_queues != POLICY_UNSET) {
		l.key = "max_queues";
		l.limit = g->max_queues;
		l.where = g->where_max_queues;
		fn(&l, data);
	}
	for (unsigned k = 0; k < g->n_per_algorithm; k++) {
		l.key = "max_queues.";
		l.algorithm = g->per_algorithm[k].algorithm;
		l.limit = g->per_algorithm[k].max;
		l.where = g->per_algorithm[k].where;
		fn(&l, data);
	}
	l.algorithm = NULL;
	if (g->pool_max_queues != POLICY_UNSET) {
		l.key = "pool_max_queues";
		l.limit = g->pool_max_queues;
		l.where = g->where_pool;
		fn(&l, data);
	}
}

/* Each of @c's scopes @g matches gets its own pool, so its own lines. */
static void describe_scopes(const struct rule *g, const struct caller *c,
			    void (*fn)(const struct limit_info *l, void *data), void *data)
{
	if (!scope_rule_kind(g->kind)) {
		describe_shared(g, NULL, fn, data);
		return;
	}
	for (unsigned i = 0; i < scope_count(g->kind, c->identity); i++)
		if (scope_rule_matches(g, c->identity, i))
			describe_shared(g, scope_name(g->kind, c->identity, i), fn, data);
}

bool policy_describe(const struct policy *p, const struct caller *c,
		     void (*fn)(const struct limit_info *l, void *data), void *data)
{
	const struct rule *user = find_rule(p, RULE_USER, c->uid), *defaults = find_rule(p, RULE_DEFAULTS, 0);
	int allow = OWN(user, defaults, allow);

	describe_own(p, user, defaults, fn, data);
	for (unsigned i = 0; i < p->n_rules; i++) {
		const struct rule *g = &p->rules[i];
		if (!shared_applies(g, c))
			continue;
		if (g->allow == 0)
			allow = 0;
		describe_scopes(g, c, fn, data);
	}
	/* Then what refuses acquires outright, as policy_check_device() and check_own() apply it. */
	if (user)
		describe_restrictions(user, NULL, true, true, fn, data);
	if (defaults)
		describe_restrictions(defaults, NULL, !(user && user->n_devices > 0),
				      !(user && user->allow != POLICY_UNSET), fn, data);
	for (unsigned i = 0; i < p->n_rules; i++)
		if (shared_applies(&p->rules[i], c))
			describe_restrictions(&p->rules[i], first_scope(&p->rules[i], c), true, true, fn, data);
	return allow != 0;
}

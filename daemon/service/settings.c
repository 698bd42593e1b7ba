// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "broker.h"
#include "log.h"
#include "settings.h"

void settings_limits(const struct config *cfg, struct broker_limits *out)
{
	*out = (struct broker_limits){
		.max_connections_per_user = (unsigned)cfg->max_connections_per_user,
		.max_connections = (unsigned)cfg->max_connections,
		.admin_gid = cfg->admin_gid,
		.transfer_timeout_usec = (uint64_t)cfg->transfer_timeout_sec * 1000000u,
		.reattach_timeout_usec = (uint64_t)cfg->reattach_timeout_sec * 1000000u,
	};
}

/* Parse everything into @cfg and @policy; nothing in force changes. */
static int parse(const char *path, bool must_exist, const struct config *cli, struct config *cfg,
		 struct policy *policy, char *err, size_t err_size)
{
	int r;

	config_init(cfg);
	policy_init(policy, 0);
	r = config_load(cfg, policy, path, must_exist, err, err_size);
	if (r < 0) {
		policy_finish(policy);
		return r;
	}
	config_override(cfg, cli);
	policy->default_max_queues = cfg->max_queues_per_user;
	return 0;
}

int settings_load(struct settings *s)
{
	char err[512];

	return parse(s->path, s->must_exist, &s->cli, &s->cfg, &s->policy, err, sizeof(err));
}

void settings_parse_init(const struct settings *s, struct settings_parsed *p)
{
	*p = (struct settings_parsed){ .path = s->path, .must_exist = s->must_exist, .cli = s->cli };
	policy_init(&p->policy, 0);
}

int settings_parse(struct settings_parsed *p)
{
	return parse(p->path, p->must_exist, &p->cli, &p->cfg, &p->policy, p->err, sizeof(p->err));
}

int settings_apply(struct settings *s, struct broker *b, struct settings_parsed *p)
{
	struct policy old;
	int n;

	if (p->cfg.sim_devices != s->cfg.sim_devices || p->cfg.sim_queues != s->cfg.sim_queues ||
	    p->cfg.engine_threads != s->cfg.engine_threads)
		log_warning("Software devices, queues and engine threads change on restart only");
	old = s->policy;
	s->policy = p->policy;	/* the broker points at s->policy: in force from here */
	policy_init(&p->policy, 0);
	s->cfg = p->cfg;
	settings_limits(&s->cfg, &b->limits);
	n = broker_set_policy(b, &s->policy, s->cfg.on_shrink == CONFIG_ON_SHRINK_REVOKE);
	policy_finish(&old);
	log_info("Configuration reloaded%s", n > 0 ? "; queues over the new limits revoked" : "");
	return n;
}

void settings_parsed_finish(struct settings_parsed *p)
{
	policy_finish(&p->policy);
}

void settings_finish(struct settings *s)
{
	policy_finish(&s->policy);
}

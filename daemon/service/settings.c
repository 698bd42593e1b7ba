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
static int parse(struct settings *s, struct config *cfg, struct policy *policy,
		 char *err, size_t err_size)
{
	int r;

	config_init(cfg);
	policy_init(policy, 0);
	r = config_load(cfg, policy, s->path, s->must_exist, err, err_size);
	if (r < 0) {
		policy_finish(policy);
		return r;
	}
	config_override(cfg, &s->cli);
	policy->default_max_queues = cfg->max_queues_per_user;
	return 0;
}

int settings_load(struct settings *s)
{
	char err[512];

	return parse(s, &s->cfg, &s->policy, err, sizeof(err));
}

int settings_reload(struct settings *s, struct broker *b, struct accel_error *e)
{
	struct config cfg;
	struct policy policy, old;
	char err[512];
	int n;

	if (parse(s, &cfg, &policy, err, sizeof(err)) < 0) {
		log_error("Configuration not reloaded, keeping the one in force");
		return accel_error_set(e, ERR_INVALID_PARAMETER, "configuration not reloaded: %s", err);
	}
	if (cfg.sim_devices != s->cfg.sim_devices || cfg.sim_queues != s->cfg.sim_queues ||
	    cfg.engine_threads != s->cfg.engine_threads)
		log_warning("Software devices, queues and engine threads change on restart only");
	old = s->policy;
	s->policy = policy;	/* the broker points at s->policy: in force from here */
	s->cfg = cfg;
	settings_limits(&cfg, &b->limits);
	n = broker_set_policy(b, &s->policy, cfg.on_shrink == CONFIG_ON_SHRINK_REVOKE);
	policy_finish(&old);
	log_info("Configuration reloaded%s", n > 0 ? "; queues over the new limits revoked" : "");
	return n;
}

void settings_finish(struct settings *s)
{
	policy_finish(&s->policy);
}

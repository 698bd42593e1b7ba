// SPDX-License-Identifier: MIT
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

void config_init(struct config *cfg)
{
	*cfg = (struct config){
		.sim_devices = CONFIG_UNSET,
		.sim_queues = 16,
		.engine_threads = CONFIG_UNSET,
		.max_queues_per_user = 16,
		.max_connections_per_user = 64,
		.max_connections = 4096,
		.admin_gid = CONFIG_UNSET,
	};
}

int config_parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

struct config_parse {
	struct config *cfg;
	const char *path;
	FILE *file;
	int line;	/* Debian's inih passes no line numbers: count them here */
	int error;
};

static char *read_line(char *buf, int size, void *userdata)
{
	struct config_parse *p = userdata;
	char *s = fgets(buf, size, p->file);

	if (s)
		p->line++;
	return s;
}

static const struct {
	const char *key;
	size_t offset;
	int min, max;
} broker_keys[] = {
	{ "sim_devices", offsetof(struct config, sim_devices), 0, 64 },
	{ "sim_queues", offsetof(struct config, sim_queues), 1, 4096 },
	{ "engine_threads", offsetof(struct config, engine_threads), 1, 256 },
	{ "max_queues_per_user", offsetof(struct config, max_queues_per_user), 0, 65536 },
	{ "max_connections_per_user", offsetof(struct config, max_connections_per_user), 1, 65536 },
	{ "max_connections", offsetof(struct config, max_connections), 1, 1 << 20 },
};

static int handle_line(void *userdata, const char *section, const char *key,
		       const char *value)
{
	struct config_parse *p = userdata;
	int line = p->line;

	if (strcmp(section, "broker") != 0) {
		log_error("%s:%d: unknown section [%s]", p->path, line, section);
		p->error = -EINVAL;
		return 1;	/* keep going: report every error at once */
	}
	if (strcmp(key, "admin_group") == 0) {
		struct group *g = getgrnam(value);
		if (!g) {
			log_error("%s:%d: admin_group: no group \"%s\"", p->path, line, value);
			p->error = -EINVAL;
		} else {
			p->cfg->admin_gid = (int)g->gr_gid;
		}
		return 1;
	}
	for (size_t i = 0; i < sizeof(broker_keys) / sizeof(broker_keys[0]); i++) {
		if (strcmp(broker_keys[i].key, key) != 0)
			continue;
		int *field = (int *)((char *)p->cfg + broker_keys[i].offset);
		if (config_parse_int(value, broker_keys[i].min, broker_keys[i].max, field) < 0) {
			log_error("%s:%d: %s: \"%s\" is not a number from %d to %d", p->path, line,
				  key, value, broker_keys[i].min, broker_keys[i].max);
			p->error = -EINVAL;
		}
		return 1;
	}
	log_error("%s:%d: unknown key \"%s\" in [broker]", p->path, line, key);
	p->error = -EINVAL;
	return 1;
}

int config_load(struct config *cfg, const char *path, bool must_exist)
{
	struct config_parse p = { .cfg = cfg, .path = path };
	FILE *f = fopen(path, "re");
	int r;

	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return log_error_errno(-errno, "Could not open %s", path);
	}
	p.file = f;
	r = ini_parse_stream(read_line, &p, handle_line, &p);
	fclose(f);
	if (r > 0 && p.error == 0) {
		log_error("%s:%d: syntax error", path, r);
		return -EINVAL;
	}
	return p.error;
}

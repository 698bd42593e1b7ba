// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "policy.h"
#include "util.h"

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
		.on_shrink = CONFIG_ON_SHRINK_KEEP,
		.transfer_timeout_sec = 30,
		.reattach_timeout_sec = 30,
	};
}

struct config_parse {
	struct config *cfg;
	struct policy *policy;
	const char *path;
	FILE *file;
	int line;	/* Debian's inih passes no line numbers: count them here */
	char *text;	/* read_line's buffer: one whole line of the file */
	size_t text_size;
	int error;
	char *err;	/* the first error, for a caller that reports it */
	size_t err_size;
};

/* Log an error and keep the first one for the caller. */
static void fail(struct config_parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct config_parse *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	if (p->error == 0 && p->err)
		snprintf(p->err, p->err_size, "%s", msg);
	p->error = -EINVAL;
}

/*
 * inih hands its reader a fixed buffer (INI_MAX_LINE, 200 bytes in Debian's
 * build, where it is the variable ini_max_line) and takes whatever comes back as one line: fed by fgets(), the rest
 * of a longer line would come back as a line of its own, so the tail of a
 * long comment could set a key and every later line number would be off.
 * So read whole lines here, count each once, and hand inih only a line that
 * fits; one that does not (or hides a NUL byte, which would cut it short
 * unseen) is an error naming its line, and inih gets an empty line instead.
 */
/*
 * inih copies a section's name into a 50-byte buffer (MAX_SECTION) and cuts
 * a longer one short unseen: [unit:NAME] would then name another unit.  So
 * a longer name is an error here.
 */
#define CONFIG_SECTION_MAX 49

/* The length of the section name a "[NAME]" line holds, or 0. */
static size_t section_length(const char *line, size_t len)
{
	const char *start = line, *end;

	while (start < line + len && (*start == ' ' || *start == '\t'))
		start++;
	if (start == line + len || *start != '[')
		return 0;
	end = memchr(start, ']', len - (size_t)(start - line));
	return end ? (size_t)(end - start - 1) : 0;
}

static char *read_line(char *buf, int size, void *userdata)
{
	struct config_parse *p = userdata;
	/* The longest line inih's buffer takes: ini.h wants room for "\r\n\0". */
	size_t max = size > 3 ? (size_t)size - 3 : 0;
	ssize_t n = getline(&p->text, &p->text_size, p->file);
	size_t len;

	if (n < 0 || size < 2)
		return NULL;
	p->line++;
	len = (size_t)n;
	while (len > 0 && (p->text[len - 1] == '\n' || p->text[len - 1] == '\r'))
		len--;
	if (memchr(p->text, '\0', len)) {
		fail(p, "%s:%d: the line holds a NUL byte", p->path, p->line);
		len = 0;
	} else if (len > max) {
		fail(p, "%s:%d: the line is longer than %zu characters", p->path, p->line, max);
		len = 0;
	} else if (section_length(p->text, len) > CONFIG_SECTION_MAX) {
		fail(p, "%s:%d: a section name is longer than %d characters (a glob can name a longer unit)",
		     p->path, p->line, CONFIG_SECTION_MAX);
		len = 0;
	}
	memcpy(buf, p->text, len);
	buf[len] = '\n';
	buf[len + 1] = '\0';
	return buf;
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
	{ "transfer_timeout_sec", offsetof(struct config, transfer_timeout_sec), 1, 3600 },
	{ "reattach_timeout_sec", offsetof(struct config, reattach_timeout_sec), 1, 3600 },
};

static void broker_line(struct config_parse *p, const char *key, const char *value, int line)
{
	if (strcmp(key, "admin_group") == 0) {
		struct group *g = getgrnam(value);
		if (!g)
			fail(p, "%s:%d: admin_group: no group \"%s\"", p->path, line, value);
		else
			p->cfg->admin_gid = (int)g->gr_gid;
		return;
	}
	if (strcmp(key, "on_shrink") == 0) {
		if (strcmp(value, "keep") == 0)
			p->cfg->on_shrink = CONFIG_ON_SHRINK_KEEP;
		else if (strcmp(value, "revoke") == 0)
			p->cfg->on_shrink = CONFIG_ON_SHRINK_REVOKE;
		else
			fail(p, "%s:%d: on_shrink: \"%s\" is not keep or revoke", p->path, line, value);
		return;
	}
	for (size_t i = 0; i < sizeof(broker_keys) / sizeof(broker_keys[0]); i++) {
		if (strcmp(broker_keys[i].key, key) != 0)
			continue;
		int *field = (int *)((char *)p->cfg + broker_keys[i].offset);
		if (parse_int_range(value, broker_keys[i].min, broker_keys[i].max, field) < 0)
			fail(p, "%s:%d: %s: \"%s\" is not a number from %d to %d", p->path, line,
			     key, value, broker_keys[i].min, broker_keys[i].max);
		return;
	}
	fail(p, "%s:%d: unknown key \"%s\" in [broker]", p->path, line, key);
}

static int handle_line(void *userdata, const char *section, const char *key,
		       const char *value)
{
	struct config_parse *p = userdata;
	char where[160], msg[400];
	int r;

	if (strcmp(section, "broker") == 0) {
		broker_line(p, key, value, p->line);
		return 1;	/* keep going: report every error at once */
	}
	snprintf(where, sizeof(where), "%s:%d", p->path, p->line);
	r = p->policy ? policy_parse(p->policy, section, key, value, where, msg, sizeof(msg)) : 0;
	if (r == 0)
		fail(p, "%s: unknown section [%s]", where, section);
	else if (r < 0)
		fail(p, "%s", r == -ENOMEM ? "out of memory" : msg);
	return 1;
}

static int load_file(struct config_parse *p, const char *path, bool must_exist)
{
	FILE *f = fopen(path, "re");
	int r;

	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		r = -errno;
		fail(p, "Could not open %s: %s", path, strerror(-r));
		return r;
	}
	p->path = path;
	p->file = f;
	p->line = 0;
	r = ini_parse_stream(read_line, p, handle_line, p);
	fclose(f);
	free(p->text);
	p->text = NULL;
	p->text_size = 0;
	if (r > 0)
		fail(p, "%s:%d: syntax error", path, r);
	return p->error;
}

static int conf_filter(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return de->d_name[0] != '.' && n > 5 && strcmp(de->d_name + n - 5, ".conf") == 0;
}

int config_load(struct config *cfg, struct policy *policy, const char *path, bool must_exist,
		char *err, size_t err_size)
{
	struct config_parse p = { .cfg = cfg, .policy = policy, .err = err, .err_size = err_size };
	struct dirent **entries = NULL;
	char dir[PATH_MAX];
	int n;

	if (err && err_size)
		err[0] = '\0';
	load_file(&p, path, must_exist);
	/* Drop-ins, in lexical order: what comes later wins. */
	snprintf(dir, sizeof(dir), "%s.d", path);
	n = scandir(dir, &entries, conf_filter, alphasort);
	for (int i = 0; i < n; i++) {
		char file[PATH_MAX + 256];
		snprintf(file, sizeof(file), "%s/%s", dir, entries[i]->d_name);
		load_file(&p, file, true);
		free(entries[i]);
	}
	free(entries);
	return p.error;
}

void config_init_unset(struct config *cfg)
{
	int *field = (int *)cfg;

	for (size_t i = 0; i < sizeof(struct config) / sizeof(int); i++)
		field[i] = CONFIG_UNSET;
}

void config_override(struct config *cfg, const struct config *cli)
{
	const int *src = (const int *)cli;
	int *dst = (int *)cfg;

	_Static_assert(sizeof(struct config) % sizeof(int) == 0, "struct config holds ints only");
	for (size_t i = 0; i < sizeof(struct config) / sizeof(int); i++)
		if (src[i] != CONFIG_UNSET)
			dst[i] = src[i];
}

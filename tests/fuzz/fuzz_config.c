// SPDX-License-Identifier: MIT
/*
 * The configuration file and the policy: text through inih, config.c and
 * policy.c, then the policy asked what the daemon asks of it (may this
 * caller have a queue, which terms, which limits apply).
 *
 * Input: the main file, then drop-ins, separated by NUL bytes (a NUL has no
 * business in a configuration file, so no file loses anything by it).
 * User and group names resolve in fuzz_nss.h's table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "config.h"
#include "fuzz.h"
#include "fuzz_nss.h"
#include "log.h"
#include "policy.h"
#include "settings.h"

#define MAX_DROPINS 4

static char dir[64];
static char path[128];

static void remove_dir(void)
{
	char sub[160];

	snprintf(sub, sizeof(sub), "%s.d", path);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char sub[160];

	(void)argc;
	(void)argv;
	fuzz_hide_stderr();
	log_set_level(LOG_DEBUG);
	snprintf(dir, sizeof(dir), "/dev/shm/fuzz-config-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/accel-broker.conf", dir);
	snprintf(sub, sizeof(sub), "%s.d", path);
	if (mkdir(sub, 0700) < 0)
		abort();
	atexit(remove_dir);
	return 0;
}

static void write_file(const char *name, const uint8_t *data, size_t len)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len))
		abort();
	close(fd);
}

static void dropin_name(char *buf, size_t size, unsigned i)
{
	snprintf(buf, size, "%s.d/%u0-fuzz.conf", path, i);
}

static void no_limit(const struct limit_info *l, void *data)
{
	/* Every line names a key and where it comes from. */
	if (!l->key || !l->where || strlen(l->where) >= 160)
		abort();
	(void)data;
}

/* Ask the policy what the core asks at acquire, GetQuota and claim. */
static void query(const struct policy *p)
{
	static const gid_t groups[] = { 0, 27, 100, 1000, 65534 };
	static const char *const algorithms[] = { "gzip", "gunzip", "copy", "crc32c", "zzz" };
	static const char *const devices[] = { "accel_sim-0", "accel_sim-1", "hisi_zip-3" };
	static const uid_t uids[] = { 0, 1000, 65534 };

	for (size_t u = 0; u < sizeof(uids) / sizeof(uids[0]); u++) {
		struct caller c = { .uid = uids[u], .groups = groups + u, .n_groups = 3 };
		struct terms t;

		policy_terms(p, &c, &t);
		if (!policy_lifetime_to_string(t.lifetime) || !policy_fork_to_string(t.fork) ||
		    !policy_transfer_to_string(t.transfer))
			abort();
		policy_describe(p, &c, no_limit, NULL);
		for (size_t d = 0; d < sizeof(devices) / sizeof(devices[0]); d++) {
			struct accel_error e = { 0 };
			policy_check_device(p, &c, devices[d], &e);
		}
		for (size_t a = 0; a < sizeof(algorithms) / sizeof(algorithms[0]); a++) {
			struct accel_error e = { 0 };
			struct usage use = { .queues = (unsigned)a, .queues_of_algorithm = (unsigned)a / 2 };
			for (unsigned g = 0; g < c.n_groups; g++)
				use.pool[g] = c.groups[g] % 3;
			policy_check_acquire(p, &c, algorithms[a], &use, &e);
		}
	}
}

/* What config_load promises: every [broker] number within its bounds. */
static void check_config(const struct config *cfg)
{
	if ((cfg->sim_devices != CONFIG_UNSET && (cfg->sim_devices < 0 || cfg->sim_devices > 64)) ||
	    cfg->sim_queues < 1 || cfg->sim_queues > 4096 ||
	    (cfg->engine_threads != CONFIG_UNSET && (cfg->engine_threads < 1 || cfg->engine_threads > 256)) ||
	    cfg->max_queues_per_user < 0 || cfg->max_queues_per_user > 65536 ||
	    cfg->max_connections_per_user < 1 || cfg->max_connections < 1 ||
	    cfg->transfer_timeout_sec < 1 || cfg->transfer_timeout_sec > 3600 ||
	    cfg->reattach_timeout_sec < 1 || cfg->reattach_timeout_sec > 3600 ||
	    (cfg->on_shrink != CONFIG_ON_SHRINK_KEEP && cfg->on_shrink != CONFIG_ON_SHRINK_REVOKE))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct broker_limits limits;
	struct policy policy;
	struct config cfg;
	char err[256], name[192];
	const uint8_t *piece;
	size_t len;
	unsigned n = 0;
	int r;

	if (!fuzz_split(&in, '\0', &piece, &len))
		piece = data, len = 0;
	write_file(path, piece, len);
	while (n < MAX_DROPINS && fuzz_split(&in, '\0', &piece, &len)) {
		dropin_name(name, sizeof(name), n++);
		write_file(name, piece, len);
	}

	config_init(&cfg);
	policy_init(&policy, cfg.max_queues_per_user);
	r = config_load(&cfg, &policy, path, true, err, sizeof(err));
	if (r < 0 && (r != -EINVAL || err[0] == '\0' || !memchr(err, '\0', sizeof(err))))
		abort();	/* an error always says what and where */
	if (r == 0) {
		check_config(&cfg);
		settings_limits(&cfg, &limits);
		query(&policy);
	}
	policy_finish(&policy);

	for (unsigned i = 0; i < n; i++) {
		dropin_name(name, sizeof(name), i);
		unlink(name);
	}
	return 0;
}

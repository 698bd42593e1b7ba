// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "broker.h"
#include "log.h"
#include "manager.h"
#include "resolver.h"
#include "settings.h"

int manager_rescan(struct manager *m)
{
	struct device_changes c;
	int r = backend_uacce_rescan(&m->broker->devices, m->sysfs_root, m->dev_root, &c);
	unsigned n = broker_apply_device_changes(m->broker, &c);	/* what was found, even on an error */

	if (n > 0)
		log_info("Devices rescanned: %u changed", n);
	return r < 0 ? r : (int)n;
}

/* One reload: its parse (the worker's while it runs) and whom to answer (the loop's). */
struct reload_work {
	struct settings_parsed parsed;
	struct manager *m;
	listener_reload_done_fn done;
	void *userdata;
};

static int reload_parse(void *work)
{
	struct reload_work *w = work;

	return settings_parse(&w->parsed);
}

static void reload_work_free(void *work)
{
	struct reload_work *w = work;

	settings_parsed_finish(&w->parsed);
	free(w);
}

/* On the loop: put the parse in force, or keep the settings; then rescan and answer. */
static void reload_parsed(int r, void *work, void *userdata)
{
	struct reload_work *w = work;
	struct accel_error e = { 0 };

	(void)userdata;
	if (r == -ETIMEDOUT) {	/* the worker may still be parsing: w->parsed is not ours */
		log_error("Configuration not reloaded (the user database did not answer in time), "
			  "keeping the one in force");
		accel_error_set(&e, ERR_OUT_OF_RESOURCES,
				"configuration not reloaded: the user database did not answer in time");
	} else if (r < 0) {
		log_error("Configuration not reloaded, keeping the one in force");
		accel_error_set(&e, ERR_INVALID_PARAMETER, "configuration not reloaded: %s", w->parsed.err);
	} else {
		r = settings_apply(w->m->settings, w->m->broker, &w->parsed);
	}
	manager_rescan(w->m);	/* whatever the settings did: devices are not configured */
	w->done(r, &e, w->userdata);
}

int manager_reload(struct manager *m, listener_reload_done_fn done, void *userdata, struct resolver_job **job,
		   struct accel_error *e)
{
	struct reload_work *w;
	int r;

	assert(done);
	if (!m->resolver)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "no thread to parse the configuration on");
	w = calloc(1, sizeof(*w));
	if (!w)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "could not start a reload: out of memory");
	settings_parse_init(m->settings, &w->parsed);	/* a copy: the worker reads nothing of @m */
	w->m = m;
	w->done = done;
	w->userdata = userdata;
	/* The single worker takes jobs in turn: a reload starts only once the one before is parsed. */
	r = resolver_submit_work(m->resolver, &(struct resolver_work){ .run = reload_parse, .work = w,
					.free_work = reload_work_free, .done = reload_parsed }, job);
	if (r < 0)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "could not start a reload: %s", strerror(-r));
	return 0;
}

int manager_on_reload(void *data, listener_reload_done_fn done, void *userdata, struct resolver_job **job,
		      struct accel_error *e)
{
	return manager_reload(data, done, userdata, job, e);
}

static void on_devices_changed(void *data)
{
	manager_rescan(data);
}

int manager_init(struct manager *m, sd_event *event, struct broker *b, struct settings *s,
		 const char *sysfs_root, const char *dev_root)
{
	assert(m && b && s);
	*m = (struct manager){ .broker = b, .settings = s, .sysfs_root = sysfs_root, .dev_root = dev_root };
	return hotplug_init(&m->hotplug, event, on_devices_changed, m);
}

void manager_finish(struct manager *m)
{
	if (!m->broker)
		return;
	hotplug_finish(&m->hotplug);
}

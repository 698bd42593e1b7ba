// SPDX-License-Identifier: MIT
#include <assert.h>

#include "backend.h"
#include "broker.h"
#include "log.h"
#include "manager.h"
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

int manager_reload(struct manager *m, struct accel_error *e)
{
	int r = settings_reload(m->settings, m->broker, e);

	manager_rescan(m);	/* whatever the settings did: devices are not configured */
	return r;
}

int manager_on_reload(void *data, struct accel_error *e)
{
	return manager_reload(data, e);
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

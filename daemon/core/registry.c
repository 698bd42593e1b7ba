// SPDX-License-Identifier: MIT
#include <string.h>

#include "broker.h"
#include "device.h"
#include "log.h"

void broker_add_device(struct broker *b, struct device *dev)
{
	list_insert_tail(&b->devices, &dev->link);
	log_info("Device %s: backend %s, api %s, %u queues%s", dev->name,
		 dev->ops->name, dev->api, dev->queues_total, dev->sva ? ", SVA" : "");
	watchers_device_changed(b, dev, DEVICE_ADDED);
}

void broker_remove_device(struct broker *b, struct device *dev)
{
	struct queue *q, *tmp;

	log_info("Device %s went away", dev->name);
	list_for_each_safe(q, tmp, &b->queues, link)
		if (q->device == dev)
			broker_revoke(b, q, REVOKE_DEVICE_REMOVED);
	list_remove(&dev->link);
	watchers_device_changed(b, dev, DEVICE_REMOVED);
	device_destroy(dev);
}

struct device *broker_find_device(struct broker *b, const char *name)
{
	struct device *d;

	list_for_each(d, &b->devices, link)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

unsigned broker_device_count(struct broker *b)
{
	struct device *d;
	unsigned n = 0;

	list_for_each(d, &b->devices, link)
		n++;
	return n;
}

unsigned broker_apply_device_changes(struct broker *b, struct device_changes *c)
{
	unsigned n;

	/* Gone first (their queues revoked), so that a device back under its old name is new. */
	for (unsigned i = 0; i < c->n_gone; i++)
		broker_remove_device(b, c->gone[i]);
	for (n = 0; n < c->n_added; n++)
		broker_add_device(b, c->added[n]);
	c->n_added = 0;	/* the broker's now */
	n += c->n_gone;
	device_changes_finish(c);
	return n;
}

/* SPDX-License-Identifier: MIT */
/*
 * What the calling user may have of each kernel (uacce) device, from the
 * broker's ListDevices and GetQuota: whether it may use the device at all
 * (the broker serves it, and no devices= or allow= rule excludes it), and
 * how many queues it could open now, the smaller of the device's free
 * queues and what its quota leaves: max_queues, its groups' pools and the
 * max_queues.ALGORITHM of each of the device's algorithms (a raw queue
 * counts in every one, accel-broker.conf(5)).  accel-run --check prints
 * it; the preload shows it as available_instances and the class listing.
 */
#ifndef ACCEL_PRELOAD_ALLOWANCE_H
#define ACCEL_PRELOAD_ALLOWANCE_H

#include <stdbool.h>
#include <stddef.h>

struct accel_client;

struct allowance_device {
	char name[64];
	bool usable;		/* false: refused by the broker or by a rule */
	unsigned free;		/* the device's free queues */
	unsigned available;	/* what this user may open now: 0 when not usable */
	char why[160];		/* when not usable: the broker's or the rule's word */
};

struct allowance {
	struct allowance_device *devices;	/* free() */
	size_t n;
	int quota_left;		/* over all devices (max_queues, pools); -1: no limit */
};

/* Ask the broker on @c; uacce devices only. */
int allowance_read(struct accel_client *c, struct allowance *out);
/* Compute from the two replies' JSON text (for tests, and the code above). */
int allowance_parse(const char *devices_json, const char *quota_json, struct allowance *out);
const struct allowance_device *allowance_find(const struct allowance *a, const char *name);
void allowance_free(struct allowance *a);

#endif

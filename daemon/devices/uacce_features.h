/* SPDX-License-Identifier: MIT */
/*
 * What the kernel's uacce can do beyond mainline (include/accel/uacce.h:
 * the sysfs attribute "features"), and what the broker may then do with a
 * device: serve its SVA queues (the client binds them), take queues back
 * for good (REVOKE), or neither.  One place decides; the backend, the
 * listeners and the tests read the result.
 */
#ifndef ACCEL_DAEMON_UACCE_FEATURES_H
#define ACCEL_DAEMON_UACCE_FEATURES_H

#include <stdbool.h>
#include <stddef.h>

#include "device.h"

#define UACCE_FEAT_BIND_MM	(1u << 0)
#define UACCE_FEAT_REVOKE	(1u << 1)

/*
 * Parse the attribute (trailing newline already stripped): words of
 * [a-z0-9_] separated by single spaces, "" for none.  Words we do not know
 * are a newer kernel's and ignored; anything else is -EINVAL.
 */
int uacce_features_parse(const char *s, unsigned *out);

/* How the broker serves a device. */
struct uacce_serving {
	bool revocable;		/* REVOKE takes a queue back; else PUT_Q, which the holder can undo */
	bool bind_client;	/* SVA: handed out unstarted, the client binds, maps and starts */
	char refused[DEVICE_REFUSED_MAX];	/* "": served; else why not (SVANotSupported) */
};

/* Decide for a device of @sva with the kernel's @features. */
void uacce_serving_decide(bool sva, unsigned features, struct uacce_serving *out);

#endif

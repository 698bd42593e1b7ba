/* SPDX-License-Identifier: MIT */
/*
 * Reading a uacce device's attributes from sysfs (/sys/class/uacce/<name>/).
 * The files are parsed strictly: a missing required attribute, a number
 * with trailing junk or an oversized file makes the device unusable, with
 * a reason, rather than a guessed default.
 */
#ifndef ACCEL_DAEMON_SYSFS_H
#define ACCEL_DAEMON_SYSFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYSFS_ATTR_MAX 4096

struct uacce_info {
	char api[64];
	char algorithms[SYSFS_ATTR_MAX];	/* white-space separated */
	uint32_t flags;
	int available_instances;
	uint64_t region_mmio_size;
	uint64_t region_dus_size;
	int numa_node;				/* -1 when the parent does not say */
	bool isolated;
	unsigned features;			/* UACCE_FEAT_*; 0 without the attribute (mainline) */
};

/*
 * Read the attribute @name of the directory @dirfd into @buf, without the
 * trailing newline.  -ENOENT if missing, -EFBIG if it does not fit.
 */
int sysfs_read_attr(int dirfd, const char *name, char *buf, size_t size);

/* Parse a whole attribute as a number (decimal or 0x hex); -EINVAL otherwise. */
int sysfs_parse_u64(const char *s, uint64_t *out);
int sysfs_parse_int(const char *s, int *out);

/*
 * Read the device @name under the sysfs root @rootfd.  On failure returns a
 * negative errno and puts the attribute at fault in @why.
 */
int uacce_info_read(int rootfd, const char *name, struct uacce_info *info,
		    char *why, size_t why_size);

#endif

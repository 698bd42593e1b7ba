/* SPDX-License-Identifier: MIT */
/*
 * Which paths a uacce program reaches that are the preload's business: a
 * device node (<dev root>/<name>), a device's available_instances, the
 * class directory.  A device is one the class directory lists; nothing
 * here asks the broker.
 */
#ifndef ACCEL_PRELOAD_PATHS_H
#define ACCEL_PRELOAD_PATHS_H

#include <stdbool.h>

#define PATHS_NAME_MAX 64

/* $ACCEL_UACCE_SYSFS, else /sys/class/uacce (a broker run with --sysfs-root elsewhere: tests). */
const char *paths_sysfs_root(void);
/* $ACCEL_UACCE_DEV, else /dev (--dev-root). */
const char *paths_dev_root(void);
/* Read the two once, before any thread could race; called by the preload's constructor. */
void paths_init(void);

/* Whether @path may be the preload's at all: a cheap test for every open(). */
bool paths_maybe_ours(const char *path);
/* Whether @path is the node of a uacce device; its name goes to @name. */
bool paths_node(const char *path, char name[PATHS_NAME_MAX]);
/*
 * Whether @path is a uacce device's available_instances, as the class
 * directory or realpath() (/sys/devices/.../uacce/<name>/) spells it.
 */
bool paths_available_instances(const char *path, char name[PATHS_NAME_MAX]);
/* Whether @path is the class directory. */
bool paths_class_dir(const char *path);

#endif

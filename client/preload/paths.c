// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "paths.h"

static const char *sysfs_root = "/sys/class/uacce";
static const char *dev_root = "/dev";

void paths_init(void)
{
	/* secure_getenv: the preload may sit in /etc/ld.so.preload, under a setuid program too. */
	const char *s = secure_getenv("ACCEL_UACCE_SYSFS"), *d = secure_getenv("ACCEL_UACCE_DEV");

	if (s && s[0] == '/')
		sysfs_root = s;
	if (d && d[0] == '/')
		dev_root = d;
}

const char *paths_sysfs_root(void)
{
	return sysfs_root;
}

const char *paths_dev_root(void)
{
	return dev_root;
}

static bool has_prefix(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

bool paths_maybe_ours(const char *path)
{
	return path && path[0] == '/' &&
	       (has_prefix(path, dev_root) || has_prefix(path, "/sys") || has_prefix(path, sysfs_root));
}

/* Whether the class directory lists @name (one path component). */
static bool is_device(const char *name, size_t len)
{
	char dir[512];
	struct stat st;

	if (len == 0 || len >= PATHS_NAME_MAX || memchr(name, '/', len) ||
	    (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.'))))
		return false;
	if (snprintf(dir, sizeof(dir), "%s/%.*s", sysfs_root, (int)len, name) >= (int)sizeof(dir))
		return false;
	return stat(dir, &st) == 0;
}

static bool copy_name(char out[PATHS_NAME_MAX], const char *name, size_t len)
{
	if (!is_device(name, len))
		return false;
	memcpy(out, name, len);
	out[len] = '\0';
	return true;
}

bool paths_node(const char *path, char name[PATHS_NAME_MAX])
{
	const char *rest;

	if (!path || !has_prefix(path, dev_root))
		return false;
	rest = path + strlen(dev_root) + 1;
	return copy_name(name, rest, strlen(rest));
}

bool paths_available_instances(const char *path, char name[PATHS_NAME_MAX])
{
	static const char attr[] = "/available_instances";
	size_t n = path ? strlen(path) : 0;
	const char *end, *start;

	if (!path || !(has_prefix(path, "/sys") || has_prefix(path, sysfs_root)) || n <= strlen(attr) ||
	    strcmp(path + n - strlen(attr), attr) != 0)
		return false;
	end = path + n - strlen(attr);
	start = end;
	while (start > path && start[-1] != '/')
		start--;
	return copy_name(name, start, (size_t)(end - start));
}

bool paths_class_dir(const char *path)
{
	size_t n = strlen(sysfs_root);

	return path && strncmp(path, sysfs_root, n) == 0 && (path[n] == '\0' || strcmp(path + n, "/") == 0);
}

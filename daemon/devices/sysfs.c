// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sysfs.h"
#include "uacce_features.h"
#include "util.h"

int sysfs_read_attr(int dirfd, const char *name, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + len, size - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == size)
			return -EFBIG;	/* no room left for the terminator */
	}
	if (memchr(buf, '\0', len))
		return -EINVAL;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	buf[len] = '\0';
	return 0;
}

int sysfs_parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

int sysfs_parse_int(const char *s, int *out)
{
	long v;
	char *end;

	if (*s == '\0' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end != '\0' || v < INT_MIN || v > INT_MAX)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* @r, the reading or parsing of the number @attr; why it failed said in @why. */
static int number_read(int r, const char *attr, char *why, size_t why_size)
{
	if (r < 0)
		snprintf(why, why_size, "%s: %s", attr, r == -EINVAL ? "not a number" : strerror(-r));
	return r;
}

static int read_u64(int dirfd, const char *attr, uint64_t *out, char *why, size_t why_size)
{
	char buf[64];
	int r = sysfs_read_attr(dirfd, attr, buf, sizeof(buf));

	return number_read(r < 0 ? r : sysfs_parse_u64(buf, out), attr, why, why_size);
}

static int read_int(int dirfd, const char *attr, int *out, char *why, size_t why_size)
{
	char buf[64];
	int r = sysfs_read_attr(dirfd, attr, buf, sizeof(buf));

	return number_read(r < 0 ? r : sysfs_parse_int(buf, out), attr, why, why_size);
}

static int read_string(int dirfd, const char *attr, char *buf, size_t size,
		       char *why, size_t why_size)
{
	int r = sysfs_read_attr(dirfd, attr, buf, size);

	if (r == 0 && buf[0] == '\0')
		r = -ENODATA;
	if (r < 0)
		snprintf(why, why_size, "%s: %s", attr, strerror(-r));
	return r;
}

/* Optional: mainline has no such attribute, and then none of our commands. */
static int read_features(int dirfd, unsigned *out, char *why, size_t why_size)
{
	char buf[256];
	int r = sysfs_read_attr(dirfd, "features", buf, sizeof(buf));

	*out = 0;
	if (r == -ENOENT)
		return 0;
	if (r == 0)
		r = uacce_features_parse(buf, out);
	if (r < 0)
		snprintf(why, why_size, "features: %s", r == -EINVAL ? "malformed" : strerror(-r));
	return r;
}

int uacce_info_read(int rootfd, const char *name, struct uacce_info *info,
		    char *why, size_t why_size)
{
	_cleanup_close_ int dirfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t flags;
	int r, isolate = 0;

	if (dirfd < 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		return -errno;
	}
	memset(info, 0, sizeof(*info));
	if ((r = read_string(dirfd, "api", info->api, sizeof(info->api), why, why_size)) < 0 ||
	    (r = read_string(dirfd, "algorithms", info->algorithms, sizeof(info->algorithms),
			     why, why_size)) < 0 ||
	    (r = read_u64(dirfd, "flags", &flags, why, why_size)) < 0 ||
	    (r = read_int(dirfd, "available_instances", &info->available_instances, why,
			  why_size)) < 0 ||
	    (r = read_u64(dirfd, "region_mmio_size", &info->region_mmio_size, why, why_size)) < 0 ||
	    (r = read_u64(dirfd, "region_dus_size", &info->region_dus_size, why, why_size)) < 0)
		return r;
	if (flags > UINT32_MAX) {
		snprintf(why, why_size, "flags: out of range");
		return -ERANGE;
	}
	info->flags = (uint32_t)flags;
	/* Optional: older kernels have no isolate, virtual parents no NUMA node. */
	r = read_int(dirfd, "isolate", &isolate, why, why_size);
	if (r < 0 && r != -ENOENT)
		return r;
	info->isolated = isolate != 0;
	info->numa_node = -1;
	r = read_int(dirfd, "device/numa_node", &info->numa_node, why, why_size);
	if (r < 0 && r != -ENOENT)
		return r;
	if (info->numa_node < -1)
		info->numa_node = -1;
	return read_features(dirfd, &info->features, why, why_size);
}

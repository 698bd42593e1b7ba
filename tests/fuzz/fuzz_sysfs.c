// SPDX-License-Identifier: MIT
/*
 * sysfs attribute parsing: a fake /sys/class/uacce/<dev>/ whose files come
 * from the input, read by the uacce backend as at start-up and rescan
 * (sysfs.c, then the device built from what it read), and the number and
 * features parsers on the raw bytes.
 *
 * Input: the attribute files in the order of `attrs` below, separated by
 * 0x01 bytes; a missing piece is a missing file.  A piece of one byte
 * 0x02 is a directory instead of a file, 0x03 a dangling symlink.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "broker.h"
#include "device.h"
#include "fuzz.h"
#include "log.h"
#include "sysfs.h"
#include "uacce_features.h"

static const char *const attrs[] = {
	"api", "algorithms", "flags", "available_instances", "region_mmio_size",
	"region_dus_size", "isolate", "device/numa_node", "features",
};
#define N_ATTRS (sizeof(attrs) / sizeof(attrs[0]))

static char root[64];
static int devfd = -1;

static void clear_attrs(void);

static void remove_tree(void)
{
	char dev[128];

	clear_attrs();
	unlinkat(devfd, "device", AT_REMOVEDIR);
	close(devfd);
	snprintf(dev, sizeof(dev), "%s/uacce-0", root);
	rmdir(dev);
	rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dev[128];

	(void)argc;
	(void)argv;
	fuzz_hide_stderr();
	log_set_level(LOG_DEBUG);
	snprintf(root, sizeof(root), "/dev/shm/fuzz-sysfs-XXXXXX");
	if (!mkdtemp(root))
		abort();
	snprintf(dev, sizeof(dev), "%s/uacce-0", root);
	if (mkdir(dev, 0700) < 0 || (devfd = open(dev, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    mkdirat(devfd, "device", 0700) < 0)
		abort();
	atexit(remove_tree);
	return 0;
}

static void clear_attrs(void)
{
	for (size_t i = 0; i < N_ATTRS; i++)
		if (unlinkat(devfd, attrs[i], 0) < 0 && errno == EISDIR)
			unlinkat(devfd, attrs[i], AT_REMOVEDIR);
}

static void put_attr(const char *name, const uint8_t *data, size_t len)
{
	int fd;

	if (len == 1 && data[0] == 0x02) {
		mkdirat(devfd, name, 0700);
		return;
	}
	if (len == 1 && data[0] == 0x03) {
		symlinkat("/nonexistent", devfd, name);
		return;
	}
	fd = openat(devfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len))
		abort();
	close(fd);
}

/* Accepted features are words of [a-z0-9_] between single spaces, known bits only. */
static void parse_features(const char *s)
{
	unsigned f;

	if (uacce_features_parse(s, &f) < 0)
		return;
	if (f & ~(UACCE_FEAT_BIND_MM | UACCE_FEAT_REVOKE))
		abort();
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      (*p == ' ' && p != s && p[1] != '\0' && p[1] != ' ')))
			abort();
}

/* The parsers alone, on a string made of the raw bytes. */
static void parse_numbers(const uint8_t *data, size_t len)
{
	char *s = malloc(len + 1);
	uint64_t u;
	int i;

	if (!s)
		abort();
	memcpy(s, data, len);
	s[len] = '\0';
	if (sysfs_parse_u64(s, &u) == 0 && (s[0] == '-' || s[0] == '+'))
		abort();	/* a sign is never a number here */
	sysfs_parse_int(s, &i);
	parse_features(s);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct broker b;
	struct device *d;
	const uint8_t *piece;
	size_t len;

	clear_attrs();
	for (size_t i = 0; i < N_ATTRS && fuzz_split(&in, 0x01, &piece, &len); i++) {
		put_attr(attrs[i], piece, len);
		parse_numbers(piece, len);
	}

	broker_init(&b, &(struct broker_limits){ .admin_gid = -1 }, NULL);
	struct device_changes found;
	int r = backend_uacce_rescan(&b.devices, root, "/nonexistent", &found);

	broker_apply_device_changes(&b, &found);
	if (r < 0)
		abort();
	list_for_each(d, &b.devices, link) {
		/* What ListDevices shows of it. */
		if (!d->name || !d->api || !d->algorithms || d->numa_node < -1)
			abort();
		for (char **a = d->algorithms; *a; a++)
			if (**a == '\0')
				abort();	/* no empty algorithm names */
		/* The SVA rule: served only bound by the client, and then revocable for good. */
		if ((d->bind_client && (!d->sva || !d->revocable || d->refused[0])) ||
		    (d->sva && !d->bind_client && !d->refused[0]) || (!d->sva && d->refused[0]))
			abort();
		unsigned n;
		(void)device_queues_free(d, &n, NULL);
	}
	broker_finish(&b);
	return 0;
}

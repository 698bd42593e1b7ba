// SPDX-License-Identifier: MIT
/*
 * The "uacce" backend: kernel accelerator devices.  Every open() of the
 * node is a new hardware queue; the broker sets it up, keeps its own fd and
 * hands a duplicate to the client.  A queue of a non-SVA device is started
 * here; an SVA device's goes out unstarted, bound to the broker's address
 * space until the client rebinds it to its own (UACCE_CMD_BIND_MM), maps
 * and starts it.  Taking a queue back is UACCE_CMD_REVOKE where the kernel
 * has it (final for every holder), else PUT_Q (which only stops the queue
 * on current mainline and stable kernels, and its holder can start it
 * again: such devices are shown revocable false).
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <accel/sim.h>
#include <accel/uacce.h>
#include <misc/uacce/uacce.h>

#include "backend.h"
#include "device.h"
#include "log.h"
#include "queue.h"
#include "sim_ops.h"
#include "sysfs.h"
#include "uacce_features.h"
#include "util.h"

/* The kernel's numbers; pinned so a different header cannot change them. */
_Static_assert(UACCE_CMD_START_Q == _IO('W', 0), "UACCE_CMD_START_Q");
_Static_assert(UACCE_CMD_PUT_Q == _IO('W', 1), "UACCE_CMD_PUT_Q");
_Static_assert(UACCE_QFRT_MMIO == 0 && UACCE_QFRT_DUS == 1, "uacce region types");
_Static_assert(UACCE_CMD_BIND_MM == _IO('W', 0x10) && UACCE_CMD_REVOKE == _IO('W', 0x11),
	       "our uacce additions (include/accel/uacce.h)");
#define UACCE_DEV_SVA_FLAG 0x1u	/* BIT(0) in the UAPI, which has no BIT() for us */

struct uacce_device {
	int sysfs_rootfd;
	ino_t sysfs_ino;	/* a device removed and added again gets a new directory */
	char *node;	/* <dev_root>/<name> */
	uint64_t mmio_size, dus_size;
};

/*
 * What a queue of @dev's api needs before START_Q.  uacce opens a queue for
 * no algorithm in particular; drivers take it in a command of their own
 * (hisi_qm: UACCE_CMD_QM_SET_QP_CTX; accel_sim: ACCEL_SIM_CMD_SET_ALGORITHM).
 */
static int api_prepare_queue(struct device *dev, struct queue *q, int fd, struct accel_error *e)
{
	if (strcmp(dev->api, ACCEL_SIM_API) == 0 || strcmp(dev->api, ACCEL_SIM_SVA_API) == 0) {
		uint32_t op = sim_op_from_name(q->algorithm);
		if (ioctl(fd, ACCEL_SIM_CMD_SET_ALGORITHM, &op) < 0)
			return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE, "could not set up a %s queue on %s: %s",
					       q->algorithm, dev->name, strerror(errno));
	}
	return 0;
}

/*
 * Set @fd up for q->algorithm and start it, as the opener: the driver's
 * set-up is ours to do; an SVA queue is left unstarted, the client's mm is
 * not bound yet.
 */
static int queue_setup(struct device *dev, struct queue *q, int fd, struct accel_error *e)
{
	int r = api_prepare_queue(dev, q, fd, e);

	if (r < 0)
		return r;
	if (!dev->bind_client && ioctl(fd, UACCE_CMD_START_Q) < 0)
		return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE, "could not start a queue on %s: %s",
				       dev->name, strerror(errno));
	return 0;
}

static int uacce_queue_open(struct device *dev, struct queue *q, struct accel_error *e)
{
	struct uacce_device *ud = dev->backend;
	long page = sysconf(_SC_PAGESIZE);
	_cleanup_close_ int fd = open(ud->node, O_RDWR | O_CLOEXEC | O_NOCTTY);
	int r;

	if (fd < 0)
		return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE, "could not open %s: %s",
				       ud->node, strerror(errno));
	/* A raw queue goes out as open() made it: the client's driver sets it up and starts it. */
	if (q->algorithm[0]) {
		r = queue_setup(dev, q, fd, e);
		if (r < 0)
			return r;
	}
	q->regions[0] = (struct queue_region){ "mmio", UACCE_QFRT_MMIO * (uint64_t)page, ud->mmio_size };
	q->regions[1] = (struct queue_region){ "dus", UACCE_QFRT_DUS * (uint64_t)page, ud->dus_size };
	q->n_regions = 2;
	q->fd = TAKE_FD(fd);
	return 0;
}

/* A started queue of this device's node: the previous broker's, from the fd store. */
static int uacce_queue_adopt(struct device *dev, struct queue *q, int fd, struct accel_error *e)
{
	struct uacce_device *ud = dev->backend;
	long page = sysconf(_SC_PAGESIZE);
	struct stat st, node;

	if (fstat(fd, &st) < 0 || stat(ud->node, &node) < 0 || !S_ISCHR(st.st_mode) ||
	    st.st_rdev != node.st_rdev)
		return accel_error_set(e, ERR_NO_SUCH_QUEUE, "not a queue of %s", dev->name);
	q->regions[0] = (struct queue_region){ "mmio", UACCE_QFRT_MMIO * (uint64_t)page, ud->mmio_size };
	q->regions[1] = (struct queue_region){ "dus", UACCE_QFRT_DUS * (uint64_t)page, ud->dus_size };
	q->n_regions = 2;
	q->fd = fd;
	return 0;
}

/* Nothing to let go of: the kernel runs the queue, the fd store keeps it open. */
static void uacce_queue_forget(struct device *dev, struct queue *q)
{
	(void)dev;
	(void)q;
}

static void uacce_queue_stop(struct device *dev, struct queue *q)
{
	/*
	 * The hardware queue goes now, not when the last fd holder closes:
	 * REVOKE works from our own copy of the fd, whoever else holds one,
	 * and nobody can start the queue again.  ENXIO: the kernel put it
	 * already (the device was removed, or it was revoked).
	 */
	unsigned long cmd = dev->revocable ? UACCE_CMD_REVOKE : UACCE_CMD_PUT_Q;

	if (q->fd >= 0 && ioctl(q->fd, cmd) < 0 && errno != ENXIO)
		log_warning_errno(-errno, "Could not stop queue %llu on %s",
				  (unsigned long long)q->id, dev->name);
}

/*
 * A claimed queue changing hands (another uid, or an SVA queue bound to the
 * giver's address space): a fresh queue for the receiver, and the old one
 * taken back from the giver for good.  Only REVOKE makes that last part
 * true; with PUT_Q the giver could start its copy again.
 */
static int uacce_queue_renew(struct device *dev, struct queue *q, struct accel_error *e)
{
	int old = q->fd, r;

	if (!dev->revocable)
		return accel_error_set(e, ERR_PERMISSION_DENIED,
				       "queues of %s cannot change hands: the kernel has no UACCE_CMD_REVOKE, "
				       "the giver would keep access", dev->name);
	q->fd = -1;
	r = uacce_queue_open(dev, q, e);
	if (r < 0) {
		q->fd = old;
		return r;
	}
	if (ioctl(old, UACCE_CMD_REVOKE) < 0 && errno != ENXIO)
		log_warning_errno(-errno, "Could not revoke the giver's copy of queue %llu on %s",
				  (unsigned long long)q->id, dev->name);
	close(old);
	return 0;
}

/* Whether a failure of ours to read sysfs is the broker's shortage, not the device's state. */
static bool broker_short(int r)
{
	return r == -EMFILE || r == -ENFILE || r == -ENOMEM;
}

/* available_instances, read live: the kernel's count includes queues of other users of the node. */
static int uacce_queues_free(struct device *dev, unsigned *out, struct accel_error *e)
{
	struct uacce_device *ud = dev->backend;
	char buf[32];
	int n, r;

	r = sysfs_read_attr(ud->sysfs_rootfd, "available_instances", buf, sizeof(buf));
	if (r < 0)
		return accel_error_set(e, broker_short(r) ? ERR_OUT_OF_RESOURCES : ERR_NO_DEVICE_AVAILABLE,
				       "could not read the free queues of %s: %s", dev->name, strerror(-r));
	if (sysfs_parse_int(buf, &n) < 0 || n < 0)
		return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE, "%s says it has \"%s\" free queues",
				       dev->name, buf);
	*out = (unsigned)n;
	return 0;
}

static void uacce_device_free(struct device *dev)
{
	struct uacce_device *ud = dev->backend;

	if (!ud)
		return;
	if (ud->sysfs_rootfd >= 0)
		close(ud->sysfs_rootfd);
	free(ud->node);
	free(ud);
}

static const struct backend_ops uacce_ops = {
	.name = "uacce",
	.queue_open = uacce_queue_open,
	.queue_stop = uacce_queue_stop,
	.queue_adopt = uacce_queue_adopt,
	.queue_renew = uacce_queue_renew,
	.queue_forget = uacce_queue_forget,
	.queues_free = uacce_queues_free,
	.device_free = uacce_device_free,
};

static void device_destroyp(struct device **dev)
{
	device_destroy(*dev);
}

/* What sysfs says of the device: its node, regions, features and where it sits. */
static void uacce_device_describe(struct device *dev, const struct uacce_info *info)
{
	struct uacce_device *ud = dev->backend;
	struct uacce_serving serving;

	ud->mmio_size = info->region_mmio_size;
	ud->dus_size = info->region_dus_size;
	dev->sva = info->flags & UACCE_DEV_SVA_FLAG;
	uacce_serving_decide(dev->sva, info->features, &serving);
	dev->revocable = serving.revocable;
	dev->bind_client = serving.bind_client;
	snprintf(dev->refused, sizeof(dev->refused), "%s", serving.refused);
	if (!dev->revocable)
		log_warning("Device %s: the kernel has no UACCE_CMD_REVOKE; queues are stopped with PUT_Q, "
			    "which their holders can undo (revocable: false)", dev->name);
	dev->numa_node = info->numa_node;
	dev->queues_total = info->available_instances > 0 ? (unsigned)info->available_instances : 0;
}

static struct device *uacce_device_create(int rootfd, const char *name, const char *dev_root)
{
	_cleanup_(device_destroyp) struct device *dev = NULL;
	struct uacce_info info;
	struct uacce_device *ud;
	struct stat st;
	char why[128];

	if (uacce_info_read(rootfd, name, &info, why, sizeof(why)) < 0) {
		log_warning("Ignoring uacce device %s: %s", name, why);
		return NULL;
	}
	if (info.isolated) {
		log_warning("Ignoring uacce device %s: isolated after hardware errors", name);
		return NULL;
	}
	dev = device_create(&uacce_ops, name, info.api, info.algorithms);
	ud = dev ? calloc(1, sizeof(*ud)) : NULL;
	if (!ud) {
		log_error_errno(-ENOMEM, "Could not add %s", name);
		return NULL;
	}
	dev->backend = ud;	/* freed with @dev from here */
	ud->sysfs_rootfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ud->sysfs_rootfd < 0 || fstat(ud->sysfs_rootfd, &st) < 0 ||
	    asprintf(&ud->node, "%s/%s", dev_root, name) < 0) {
		ud->node = NULL;	/* asprintf() leaves it undefined */
		log_error_errno(-ENOMEM, "Could not add %s", name);
		return NULL;
	}
	ud->sysfs_ino = st.st_ino;
	uacce_device_describe(dev, &info);
	return TAKE_PTR(dev);
}

static void closedirp(DIR **dir)
{
	if (*dir)
		closedir(*dir);
}

/* Whether @name is one of @known and not about to go. */
static bool still_known(const struct list *known, const struct device_changes *c, const char *name)
{
	struct device *d;

	list_for_each(d, known, link) {
		if (strcmp(d->name, name) != 0)
			continue;
		for (unsigned i = 0; i < c->n_gone; i++)
			if (c->gone[i] == d)
				return false;
		return true;
	}
	return false;
}

/* The uacce devices under @rootfd that @known lacks, new, into c->added. */
static int scan_new(int rootfd, const char *sysfs_root, const char *dev_root, const struct list *known,
		    struct device_changes *c)
{
	_cleanup_close_ int dirfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	_cleanup_(closedirp) DIR *dir = NULL;
	struct dirent *de;

	if (dirfd >= 0)
		dir = fdopendir(dirfd);
	if (!dir)
		return log_error_errno(-errno, "Could not read %s", sysfs_root);
	(void)TAKE_FD(dirfd);	/* the DIR's now */
	while ((de = readdir(dir))) {
		struct device *dev;
		if (de->d_name[0] == '.' || still_known(known, c, de->d_name))
			continue;
		dev = uacce_device_create(rootfd, de->d_name, dev_root);
		if (!dev)
			continue;
		if (device_changes_push(c, dev, false) < 0) {
			device_destroy(dev);
			return log_error_errno(-ENOMEM, "Could not add %s", de->d_name);
		}
	}
	return 0;
}

/* Whether the sysfs directory of @dev is still the one it was added from. */
static bool uacce_device_present(int rootfd, struct device *dev)
{
	struct uacce_device *ud = dev->backend;
	struct stat st;

	return fstatat(rootfd, dev->name, &st, 0) == 0 && st.st_ino == ud->sysfs_ino;
}

int backend_uacce_rescan(const struct list *known, const char *sysfs_root, const char *dev_root,
			 struct device_changes *out)
{
	_cleanup_close_ int rootfd = open(sysfs_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int open_errno = errno;
	struct device *d;

	*out = (struct device_changes){ 0 };
	/* A sysfs root that cannot be opened has none of the devices any more. */
	list_for_each(d, known, link) {
		if (d->ops != &uacce_ops || (rootfd >= 0 && uacce_device_present(rootfd, d)))
			continue;
		if (device_changes_push(out, d, true) < 0)
			return log_error_errno(-ENOMEM, "Could not rescan %s", sysfs_root);
	}
	if (rootfd < 0)	/* no uacce class: no devices */
		return open_errno == ENOENT ? 0 : log_error_errno(-open_errno, "Could not open %s", sysfs_root);
	return scan_new(rootfd, sysfs_root, dev_root, known, out);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The uacce framework's in-kernel API, as mainline's include/linux/uacce.h
 * declares it, for kernels built without CONFIG_UACCE (Debian's).  Drivers
 * include this instead of <linux/uacce.h>, whose stubs would fail.  Where it
 * differs: a queue's own address_space, so that PUT_Q can zap exactly its
 * mappings; region pages handed out at fault time (region_page) instead of
 * a driver mmap hook, so that revocation reaches every mapping; the
 * isolation hooks of later mainline; and, only at the ends of structures
 * uacce allocates, a queue's owner (UACCE_CMD_BIND_MM, the owner check,
 * UACCE_CMD_REVOKE: include/accel/uacce.h) and the SVA binder seam.
 * docs/kernel.md lists the differences from Debian 6.1's header.
 */
#ifndef ACCEL_KMOD_UACCE_H
#define ACCEL_KMOD_UACCE_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/wait.h>
#include <uapi/misc/uacce/uacce.h>

#define UACCE_NAME		"uacce"
#define UACCE_MAX_REGION	2
#define UACCE_MAX_NAME_SIZE	64
#define UACCE_MAX_ERR_THRESHOLD	65535

struct uacce_queue;
struct uacce_device;

struct uacce_qfile_region {
	enum uacce_qfrt type;
	unsigned int nr_vmas;		/* vmas mapping it (vm_ops open/close), under q->map_lock */
};

enum uacce_dev_state {
	UACCE_DEV_NORMAL,
	UACCE_DEV_ISOLATE,
};

struct uacce_ops {
	int (*get_available_instances)(struct uacce_device *uacce);
	int (*get_queue)(struct uacce_device *uacce, unsigned long arg, struct uacce_queue *q);
	/*
	 * Called with q->state UACCE_Q_ZOMBIE when the queue is put for good,
	 * and with q->state still UACCE_Q_INIT when UACCE_CMD_BIND_MM rebinds
	 * it: then get_queue for the same @q, with the new PASID, follows at
	 * once (a driver may carry its set-up across in q->priv).
	 */
	void (*put_queue)(struct uacce_queue *q);
	int (*start_queue)(struct uacce_queue *q);
	void (*stop_queue)(struct uacce_queue *q);
	int (*is_q_updated)(struct uacce_queue *q);
	/*
	 * Ours, in place of mainline's mmap hook: the page at @pgoff (below
	 * qf_pg_num[@type]) of region @type.  uacce calls it from its fault
	 * handler with q->map_lock held for reading and the queue live, and maps
	 * the page with a reference of its own; the driver may free the page in
	 * put_queue.  It must not sleep on a lock held across user copies.
	 */
	struct page *(*region_page)(struct uacce_queue *q, enum uacce_qfrt type, unsigned long pgoff);
	long (*ioctl)(struct uacce_queue *q, unsigned int cmd, unsigned long arg);
	enum uacce_dev_state (*get_isolate_state)(struct uacce_device *uacce);
	int (*isolate_err_threshold_write)(struct uacce_device *uacce, u32 num);
	u32 (*isolate_err_threshold_read)(struct uacce_device *uacce);
};

struct uacce_interface {
	char name[UACCE_MAX_NAME_SIZE];
	unsigned int flags;
	const struct uacce_ops *ops;
};

enum uacce_q_state {
	UACCE_Q_ZOMBIE = 0,
	UACCE_Q_INIT,
	UACCE_Q_STARTED,
};

/*
 * The layout is mainline's up to @mapping (later mainline's: Debian's 6.1 ends
 * at @handle); what follows is ours, in a structure only uacce allocates.
 */
struct uacce_queue {
	struct uacce_device *uacce;
	void *priv;
	wait_queue_head_t wait;
	struct list_head list;		/* uacce->queues, under uacce->mutex */
	struct uacce_qfile_region *qfrs[UACCE_MAX_REGION];	/* under map_lock */
	struct mutex mutex;		/* state and driver calls; after uacce->mutex */
	enum uacce_q_state state;
	u32 pasid;			/* SVA: the bound address space's, given to get_queue */
	struct iommu_sva *handle;	/* SVA through the IOMMU: the bond */
	struct address_space *mapping;	/* this queue's mappings only */
	/* Ours from here on. */
	struct rw_semaphore map_lock;	/* qfrs, mm, and state becoming ZOMBIE; innermost */
	/*
	 * The owner: the address space bound to the queue (SVA) or recorded
	 * for it (opener, then UACCE_CMD_BIND_MM), held with mmgrab() so the
	 * pointer stays unique.  Written under q->mutex and map_lock; NULL
	 * while a rebind is under way.
	 */
	struct mm_struct *mm;
	bool bound;			/* SVA: @pasid (and @handle) to unbind */
	bool revoked;			/* UACCE_CMD_REVOKE done: for good */
};

/*
 * Ours: how a UACCE_DEV_SVA device binds an address space when no SVA-capable
 * IOMMU stands between it and memory (an emulated device: accel_sim).  Set
 * uacce_device.sva before uacce_register(); left NULL, uacce binds through
 * iommu_sva_bind_device() on the parent, as mainline does.  bind() returns 0
 * and the PASID by which the device reaches @mm (uacce passes it to
 * get_queue), unbind() undoes one bind.  uacce calls them with uacce->mutex
 * or q->mutex held, never after uacce_remove() has returned.  Not a
 * uacce_ops member: a driver's ops table keeps mainline's layout.
 */
struct uacce_sva_binder {
	int (*bind)(struct uacce_device *uacce, struct mm_struct *mm, u32 *pasid);
	void (*unbind)(struct uacce_device *uacce, u32 pasid);
};

/*
 * The layout is mainline's up to @inode; what follows is ours, in a
 * structure only uacce allocates (uacce_alloc()).
 */
struct uacce_device {
	const char *algs;
	const char *api_ver;
	const struct uacce_ops *ops;
	unsigned long qf_pg_num[UACCE_MAX_REGION];
	struct device *parent;		/* NULL once removed */
	bool is_vf;
	u32 flags;
	u32 dev_id;
	struct cdev *cdev;
	struct device dev;
	struct mutex mutex;		/* queues, removal */
	void *priv;
	struct list_head queues;
	struct inode *inode;		/* mainline's; unused here (each queue has its mapping) */
	/*
	 * Ours from here on: what a revoked queue's MMIO region reads as
	 * (set before uacce_register(); NULL: zeroes, like the other regions).
	 * uacce keeps a copy, so that user drivers read "revoked" from the page
	 * they poll, even after the driver's module is gone.
	 */
	const void *zombie_mmio;
	size_t zombie_mmio_len;
	struct page *zombie_page;
	/* Ours: see struct uacce_sva_binder; NULL: the IOMMU's. */
	const struct uacce_sva_binder *sva;
};

struct uacce_device *uacce_alloc(struct device *parent, struct uacce_interface *interface);
int uacce_register(struct uacce_device *uacce);
void uacce_remove(struct uacce_device *uacce);

#endif /* ACCEL_KMOD_UACCE_H */

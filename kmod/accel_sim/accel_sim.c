// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * accel_sim: a software accelerator behind a real uacce device, with the
 * queue ABI of include/accel/sim.h (api "accel_sim_v1").  Each device is a
 * platform device with @queues queues; a queue's MMIO region is one page of
 * struct accel_sim_regs and its DUS region holds the rings and the data
 * area, both allocated here and mapped into the opener.
 *
 * This is the registration, queue and mapping half of the driver; the
 * engine that executes descriptors comes next (docs/kernel.md).
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include <accel/sim.h>

#include "../uacce/uacce.h"

static unsigned int devices = 2;
module_param(devices, uint, 0444);
MODULE_PARM_DESC(devices, "number of accel_sim devices (default 2)");

static unsigned int queues = 16;
module_param(queues, uint, 0444);
MODULE_PARM_DESC(queues, "queues per device (default 16)");

static unsigned int sva_devices;
module_param(sva_devices, uint, 0444);
MODULE_PARM_DESC(sva_devices, "more devices, registered with UACCE_DEV_SVA (emulated; default 0)");

#define SIM_MAX_DEVICES	64
#define SIM_MAX_QUEUES	1024

struct sim_queue {
	struct sim_device *sdev;
	bool used;
	struct accel_sim_regs *regs;	/* vmalloc_user: the MMIO region */
	void *dus;			/* vmalloc_user: the DUS region */
};

struct sim_device {
	struct platform_device *pdev;
	struct uacce_device *uacce;
	struct mutex lock;		/* the queue slots */
	struct sim_queue *queues;
};

static struct sim_device *sim_devices[SIM_MAX_DEVICES];

static int sim_get_available_instances(struct uacce_device *uacce)
{
	struct sim_device *sdev = uacce->priv;
	int n = 0;

	mutex_lock(&sdev->lock);
	for (unsigned int i = 0; i < queues; i++)
		n += !sdev->queues[i].used;
	mutex_unlock(&sdev->lock);
	return n;
}

static void sim_queue_free(struct sim_queue *sq)
{
	vfree(sq->regs);
	vfree(sq->dus);
	sq->regs = NULL;
	sq->dus = NULL;
	sq->used = false;
}

static int sim_get_queue(struct uacce_device *uacce, unsigned long arg, struct uacce_queue *q)
{
	struct sim_device *sdev = uacce->priv;
	struct sim_queue *sq = NULL;
	struct accel_sim_regs *regs;

	mutex_lock(&sdev->lock);
	for (unsigned int i = 0; i < queues && !sq; i++)
		if (!sdev->queues[i].used)
			sq = &sdev->queues[i];
	if (!sq) {
		mutex_unlock(&sdev->lock);
		return -EBUSY;
	}
	sq->used = true;
	mutex_unlock(&sdev->lock);

	sq->regs = vmalloc_user(PAGE_SIZE);
	sq->dus = vmalloc_user(ACCEL_SIM_DUS_SIZE);
	if (!sq->regs || !sq->dus) {
		mutex_lock(&sdev->lock);
		sim_queue_free(sq);
		mutex_unlock(&sdev->lock);
		return -ENOMEM;
	}
	regs = sq->regs;
	regs->magic = ACCEL_SIM_MAGIC;
	regs->version = ACCEL_SIM_VERSION;
	regs->wake = ACCEL_SIM_WAKE_DOORBELL;
	regs->sq_entries = ACCEL_SIM_RING_ENTRIES;
	regs->cq_entries = ACCEL_SIM_RING_ENTRIES;
	regs->sq_offset = ACCEL_SIM_SQ_OFFSET;
	regs->cq_offset = ACCEL_SIM_CQ_OFFSET;
	regs->data_offset = ACCEL_SIM_DATA_OFFSET;
	regs->data_size = ACCEL_SIM_DATA_SIZE;
	regs->dus_size = ACCEL_SIM_DUS_SIZE;
	sq->sdev = sdev;
	q->priv = sq;
	return 0;
}

static void sim_put_queue(struct uacce_queue *q)
{
	struct sim_queue *sq = q->priv;

	/* uacce zapped every mapping of the queue before calling us. */
	mutex_lock(&sq->sdev->lock);
	sim_queue_free(sq);
	mutex_unlock(&sq->sdev->lock);
	q->priv = NULL;
}

static int sim_start_queue(struct uacce_queue *q)
{
	struct sim_queue *sq = q->priv;

	WRITE_ONCE(sq->regs->state, ACCEL_SIM_STATE_ACTIVE);
	return 0;
}

static void sim_stop_queue(struct uacce_queue *q)
{
	struct sim_queue *sq = q->priv;

	WRITE_ONCE(sq->regs->state, ACCEL_SIM_STATE_REVOKED);
}

static int sim_is_q_updated(struct uacce_queue *q)
{
	struct sim_queue *sq = q->priv;

	return READ_ONCE(sq->regs->cq_tail) != READ_ONCE(sq->regs->cq_head);
}

static int sim_mmap(struct uacce_queue *q, struct vm_area_struct *vma, struct uacce_qfile_region *qfr)
{
	struct sim_queue *sq = q->priv;

	/* remap_vmalloc_range inserts the pages with references: freeing them
	 * in put_queue after the zap cannot leave a mapping to freed memory. */
	switch (qfr->type) {
	case UACCE_QFRT_MMIO:
		return remap_vmalloc_range(vma, sq->regs, 0);
	case UACCE_QFRT_DUS:
		return remap_vmalloc_range(vma, sq->dus, 0);
	default:
		return -EINVAL;
	}
}

static const struct uacce_ops sim_uacce_ops = {
	.get_available_instances = sim_get_available_instances,
	.get_queue = sim_get_queue,
	.put_queue = sim_put_queue,
	.start_queue = sim_start_queue,
	.stop_queue = sim_stop_queue,
	.is_q_updated = sim_is_q_updated,
	.mmap = sim_mmap,
};

static void sim_device_destroy(struct sim_device *sdev)
{
	if (!sdev)
		return;
	if (!IS_ERR_OR_NULL(sdev->uacce))
		uacce_remove(sdev->uacce);	/* every queue put and unmapped */
	if (sdev->queues)
		for (unsigned int i = 0; i < queues; i++)
			sim_queue_free(&sdev->queues[i]);
	kfree(sdev->queues);
	platform_device_unregister(sdev->pdev);
	kfree(sdev);
}

static struct sim_device *sim_device_create(unsigned int index, bool sva)
{
	struct uacce_interface interface = {
		.name = "accel_sim",
		.flags = sva ? UACCE_DEV_SVA : 0,
		.ops = &sim_uacce_ops,
	};
	struct sim_device *sdev;
	int ret;

	sdev = kzalloc(sizeof(*sdev), GFP_KERNEL);
	if (!sdev)
		return ERR_PTR(-ENOMEM);
	mutex_init(&sdev->lock);
	sdev->queues = kcalloc(queues, sizeof(*sdev->queues), GFP_KERNEL);
	if (!sdev->queues) {
		kfree(sdev);
		return ERR_PTR(-ENOMEM);
	}
	sdev->pdev = platform_device_register_simple("accel_sim", index, NULL, 0);
	if (IS_ERR(sdev->pdev)) {
		ret = PTR_ERR(sdev->pdev);
		kfree(sdev->queues);
		kfree(sdev);
		return ERR_PTR(ret);
	}
	sdev->uacce = uacce_alloc(&sdev->pdev->dev, &interface);
	if (IS_ERR(sdev->uacce)) {
		ret = PTR_ERR(sdev->uacce);
		sdev->uacce = NULL;
		goto err;
	}
	sdev->uacce->priv = sdev;
	sdev->uacce->api_ver = ACCEL_SIM_API;
	sdev->uacce->algs = ACCEL_SIM_ALGORITHMS;
	sdev->uacce->qf_pg_num[UACCE_QFRT_MMIO] = 1;
	sdev->uacce->qf_pg_num[UACCE_QFRT_DUS] = ACCEL_SIM_DUS_SIZE >> PAGE_SHIFT;
	ret = uacce_register(sdev->uacce);
	if (ret < 0)
		goto err;
	return sdev;
err:
	sim_device_destroy(sdev);
	return ERR_PTR(ret);
}

static void sim_destroy_all(void)
{
	for (unsigned int i = 0; i < SIM_MAX_DEVICES; i++) {
		sim_device_destroy(sim_devices[i]);
		sim_devices[i] = NULL;
	}
}

static int __init accel_sim_init(void)
{
	BUILD_BUG_ON(ACCEL_SIM_MMIO_SIZE != PAGE_SIZE);
	BUILD_BUG_ON(ACCEL_SIM_DUS_SIZE % PAGE_SIZE);

	if (devices + sva_devices > SIM_MAX_DEVICES || queues == 0 || queues > SIM_MAX_QUEUES)
		return -EINVAL;
	for (unsigned int i = 0; i < devices + sva_devices; i++) {
		struct sim_device *sdev = sim_device_create(i, i >= devices);

		if (IS_ERR(sdev)) {
			sim_destroy_all();
			return PTR_ERR(sdev);
		}
		sim_devices[i] = sdev;
	}
	pr_info("accel_sim: %u devices and %u SVA devices of %u queues\n", devices, sva_devices, queues);
	return 0;
}

static void __exit accel_sim_exit(void)
{
	sim_destroy_all();
}

module_init(accel_sim_init);
module_exit(accel_sim_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("accel_sim: a software accelerator behind a uacce device");
MODULE_SOFTDEP("pre: uacce");

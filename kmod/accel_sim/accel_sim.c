// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * accel_sim: a software accelerator behind a real uacce device, with the
 * queue ABI of include/accel/sim.h (api "accel_sim_v1").  Each device is a
 * platform device with @queues queues; a queue's MMIO region is one page of
 * struct accel_sim_regs and its DUS region holds the rings and the data
 * area, both allocated here and mapped into the opener.
 *
 * The engine is a kernel thread per device.  Like the broker's software
 * engine it trusts nothing in the shared regions: it keeps its own ring
 * indices, copies each descriptor before looking at it and bounds-checks
 * every offset against the data area.  It runs copy, crc32c, and gzip and
 * gunzip streams (gzip.c).
 *
 * The devices are platform devices bound to the "accel_sim" platform
 * driver: unbinding one (sysfs) removes its uacce device like a hot unplug,
 * binding it again brings it back.
 *
 * Locks, outermost first (uacce.c's rules continue here):
 *  - mmap_lock (the mm's: mmap, page faults) -> q->mutex (uacce's);
 *    uacce->mutex -> q->mutex -> sdev->lock.  sdev->lock is innermost:
 *    neither of the others, nor mmap_lock, is taken under it.
 *  - Nothing touches user memory (get_user, copy_from_user, put_user, ...)
 *    with q->mutex or sdev->lock held: a fault takes mmap_lock, and the
 *    fault handler of a queue's own mapping takes q->mutex (a get_user
 *    pointed into the queue's MMIO page after MADV_DONTNEED deadlocks on
 *    itself; one on a not-present page deadlocks ABBA against an mmap() of
 *    the queue, which holds mmap_lock and waits for q->mutex).  uacce calls
 *    sim_ioctl() with q->mutex held: an ioctl that reads an argument drops
 *    it around the copy and checks the queue's state again after.
 *  - The engine touches only the queues' vmalloc memory, never a user
 *    address.  It holds sdev->lock for one bounded turn on one queue
 *    (SIM_BUDGET descriptors, about SIM_TURN_BYTES of work: a longer
 *    descriptor resumes on the next turn) and reschedules between turns,
 *    so start, stop and put wait for at most one turn and nothing soft
 *    locks up.  Sysfs readers take no lock at all (sdev->in_use).
 */
#include <linux/crc32.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include <accel/sim.h>

#include "../uacce/uacce.h"
#include "gzip.h"

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
#define SIM_BUDGET	16	/* descriptors per queue per turn: fairness */
#define SIM_TURN_BYTES	(64u << 10)	/* work per turn under sdev->lock: latency */

struct sim_queue {
	struct sim_device *sdev;
	struct uacce_queue *uq;
	bool used;
	bool started;			/* the engine serves it */
	u32 op;				/* enum accel_sim_op, set before START_Q */
	u32 sq_head;			/* the engine's own indices */
	u32 cq_tail;
	bool busy;			/* a turn ended inside @cur: resume it */
	struct accel_sim_desc cur;	/* the engine's copy of the descriptor it runs */
	struct accel_sim_cqe cur_c;	/* and its completion so far */
	u32 crc;			/* crc32c: the register so far */
	struct sim_gzip *gz;		/* gzip and gunzip queues: the stream */
	struct accel_sim_regs *regs;	/* vmalloc_user: the MMIO region */
	u8 *dus;			/* vmalloc_user: the DUS region */
};

struct sim_device {
	struct uacce_device *uacce;
	struct mutex lock;		/* the queue slots and what the engine reads of them */
	struct sim_queue *queues;
	atomic_t in_use;		/* queues handed out: sysfs reads it without the lock */
	struct task_struct *engine;
	wait_queue_head_t doorbell;
	atomic_t rung;
	u8 *bounce;			/* the engine's copy of gzip/gunzip input */
};

/* What the module registers; the driver's probe reads it. */
struct sim_platform_data {
	bool sva;
};

static struct platform_device *sim_pdevs[SIM_MAX_DEVICES];

/* What a revoked queue's regs page reads as (uacce keeps a copy). */
static const struct accel_sim_regs sim_revoked_regs = {
	.magic = ACCEL_SIM_MAGIC,
	.version = ACCEL_SIM_VERSION,
	.wake = ACCEL_SIM_WAKE_DOORBELL,
	.sq_entries = ACCEL_SIM_RING_ENTRIES,
	.cq_entries = ACCEL_SIM_RING_ENTRIES,
	.sq_offset = ACCEL_SIM_SQ_OFFSET,
	.cq_offset = ACCEL_SIM_CQ_OFFSET,
	.data_offset = ACCEL_SIM_DATA_OFFSET,
	.data_size = ACCEL_SIM_DATA_SIZE,
	.dus_size = ACCEL_SIM_DUS_SIZE,
	.state = ACCEL_SIM_STATE_REVOKED,
};

static int sim_get_available_instances(struct uacce_device *uacce)
{
	struct sim_device *sdev = uacce->priv;

	/* No lock: a reader never waits for the engine or a queue's setup. */
	return queues - atomic_read(&sdev->in_use);
}

static void sim_queue_free(struct sim_queue *sq)
{
	vfree(sq->regs);
	vfree(sq->dus);
	sim_gzip_free(sq->gz);
	*sq = (struct sim_queue){ .sdev = sq->sdev };
}

static bool in_data_area(u32 offset, u32 len)
{
	u64 end = (u64)offset + len;

	return offset >= ACCEL_SIM_DATA_OFFSET && end <= (u64)ACCEL_SIM_DATA_OFFSET + ACCEL_SIM_DATA_SIZE;
}

/* Check a descriptor (the engine's copy) before its first step: 0 or its status. */
static int sim_begin(struct sim_queue *sq, const struct accel_sim_desc *d)
{
	if (d->op != sq->op)
		return -EOPNOTSUPP;
	if (d->flags & ~(ACCEL_SIM_F_CONTINUE | ACCEL_SIM_F_FINISH))
		return -EINVAL;
	if (!in_data_area(d->src_offset, d->src_len) || !in_data_area(d->dst_offset, d->dst_len))
		return -EFAULT;
	switch (d->op) {
	case ACCEL_SIM_OP_COPY:
		return d->dst_len < d->src_len ? -ENOSPC : 0;
	case ACCEL_SIM_OP_CRC32C:
		if (d->arg > U32_MAX)
			return -EINVAL;
		/* The same convention as the broker's: seed and result not inverted. */
		sq->crc = ~(u32)d->arg;
		return 0;
	case ACCEL_SIM_OP_GZIP:
	case ACCEL_SIM_OP_GUNZIP:
		return sim_gzip_begin(sq->gz, d);
	default:
		return -EOPNOTSUPP;
	}
}

/* Copy @n bytes at @done of @d's source, from the end when dst overlaps src above it. */
static void sim_copy_part(struct sim_queue *sq, const struct accel_sim_desc *d, u32 done, u32 n)
{
	u8 *src = sq->dus + d->src_offset, *dst = sq->dus + d->dst_offset;
	u32 at = dst > src && dst < src + d->src_len ? d->src_len - done - n : done;

	memmove(dst + at, src + at, n);
}

/*
 * Run the current descriptor for at most about *@budget bytes of work and
 * charge it there.  Returns true when the descriptor is done (its status in
 * sq->cur_c), false when the turn ended inside it.
 */
static bool sim_step(struct sim_queue *sq, u32 *budget)
{
	const struct accel_sim_desc *d = &sq->cur;
	struct accel_sim_cqe *c = &sq->cur_c;
	u32 before = c->consumed + c->produced, n;
	int ret;

	switch (d->op) {
	case ACCEL_SIM_OP_COPY:
		n = min(d->src_len - c->consumed, *budget);
		sim_copy_part(sq, d, c->consumed, n);
		c->consumed += n;
		*budget -= n;
		if (c->consumed < d->src_len)
			return false;
		c->produced = d->src_len;
		return true;
	case ACCEL_SIM_OP_CRC32C:
		n = min(d->src_len - c->consumed, *budget);
		sq->crc = __crc32c_le(sq->crc, sq->dus + d->src_offset + c->consumed, n);
		c->consumed += n;
		*budget -= n;
		if (c->consumed < d->src_len)
			return false;
		c->value = ~sq->crc;
		return true;
	default:	/* gzip, gunzip: sim_begin let nothing else through */
		ret = sim_gzip_step(sq->gz, d, sq->dus + d->src_offset, sq->dus + d->dst_offset,
				    sq->sdev->bounce, c, *budget);
		*budget -= min(*budget, c->consumed + c->produced - before);
		if (ret == SIM_GZIP_MORE) {
			*budget = 0;
			return false;
		}
		c->status = ret;
		return true;
	}
}

/*
 * One turn on @sq, with sdev->lock held: up to SIM_BUDGET descriptors and
 * about SIM_TURN_BYTES of work, ending inside a descriptor if need be (the
 * next turn resumes it).  Returns whether it did anything.  Indices the
 * client wrote are only read, checked against our own, and never trusted
 * for an address.
 */
static bool sim_run_queue(struct sim_queue *sq)
{
	struct accel_sim_regs *regs = sq->regs;
	struct accel_sim_desc *sq_ring = (void *)(sq->dus + ACCEL_SIM_SQ_OFFSET);
	struct accel_sim_cqe *cq_ring = (void *)(sq->dus + ACCEL_SIM_CQ_OFFSET);
	u32 tail = smp_load_acquire(&regs->sq_tail);
	u32 cq_head = smp_load_acquire(&regs->cq_head);
	u32 budget = SIM_TURN_BYTES;
	unsigned int n = 0;
	bool worked = false;

	if (tail - sq->sq_head > ACCEL_SIM_RING_ENTRIES ||
	    sq->cq_tail - cq_head > ACCEL_SIM_RING_ENTRIES) {
		/* Indices no client could have written honestly: stop the queue. */
		WRITE_ONCE(regs->state, ACCEL_SIM_STATE_BROKEN);
		sq->started = false;
		wake_up_interruptible_all(&sq->uq->wait);
		return false;
	}
	while (n < SIM_BUDGET && budget) {
		if (!sq->busy) {
			if (sq->sq_head == tail || sq->cq_tail - cq_head >= ACCEL_SIM_RING_ENTRIES)
				break;
			memcpy(&sq->cur, &sq_ring[sq->sq_head & (ACCEL_SIM_RING_ENTRIES - 1)], sizeof(sq->cur));
			sq->cur_c = (struct accel_sim_cqe){ .user_data = sq->cur.user_data };
			sq->cur_c.status = sim_begin(sq, &sq->cur);
			sq->busy = true;
		}
		worked = true;
		if (!sq->cur_c.status && !sim_step(sq, &budget))
			break;
		memcpy(&cq_ring[sq->cq_tail & (ACCEL_SIM_RING_ENTRIES - 1)], &sq->cur_c, sizeof(sq->cur_c));
		sq->busy = false;
		sq->sq_head++;
		sq->cq_tail++;
		n++;
	}
	if (n) {
		WRITE_ONCE(regs->sq_head, sq->sq_head);
		smp_store_release(&regs->cq_tail, sq->cq_tail);
		wake_up_interruptible(&sq->uq->wait);
	}
	return worked;
}

/* Whether any started queue has descriptors we have not taken. */
static bool sim_pending(struct sim_device *sdev)
{
	for (unsigned int i = 0; i < queues; i++) {
		struct sim_queue *sq = &sdev->queues[i];

		if (sq->started && (sq->busy || READ_ONCE(sq->regs->sq_tail) != sq->sq_head))
			return true;
	}
	return false;
}

static void sim_set_need_wakeup(struct sim_device *sdev, bool on)
{
	for (unsigned int i = 0; i < queues; i++) {
		struct sim_queue *sq = &sdev->queues[i];

		if (sq->started)
			WRITE_ONCE(sq->regs->dev_flags, on ? ACCEL_SIM_DEV_NEED_WAKEUP : 0);
	}
}

static int sim_engine(void *data)
{
	struct sim_device *sdev = data;

	while (!kthread_should_stop()) {
		bool worked = false, pending;

		/* A turn per queue, the lock dropped and the CPU offered between turns. */
		for (unsigned int i = 0; i < queues && !kthread_should_stop(); i++) {
			mutex_lock(&sdev->lock);
			if (sdev->queues[i].started)
				worked |= sim_run_queue(&sdev->queues[i]);
			mutex_unlock(&sdev->lock);
			cond_resched();
		}
		if (worked)
			continue;
		/*
		 * Idle: tell the clients to ring, then look once more.  The full
		 * barrier pairs with the client's between publishing sq_tail and
		 * reading dev_flags: one of us sees the other.
		 */
		mutex_lock(&sdev->lock);
		sim_set_need_wakeup(sdev, true);
		smp_mb();
		pending = sim_pending(sdev);
		mutex_unlock(&sdev->lock);
		if (!pending)
			wait_event_interruptible_timeout(sdev->doorbell,
							 atomic_xchg(&sdev->rung, 0) || kthread_should_stop(),
							 HZ);
		mutex_lock(&sdev->lock);
		sim_set_need_wakeup(sdev, false);
		mutex_unlock(&sdev->lock);
	}
	return 0;
}

static void sim_ring(struct sim_device *sdev)
{
	atomic_set(&sdev->rung, 1);
	wake_up_interruptible(&sdev->doorbell);
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
	atomic_inc(&sdev->in_use);
	mutex_unlock(&sdev->lock);

	sq->regs = vmalloc_user(PAGE_SIZE);
	sq->dus = vmalloc_user(ACCEL_SIM_DUS_SIZE);
	if (!sq->regs || !sq->dus) {
		mutex_lock(&sdev->lock);
		sim_queue_free(sq);
		atomic_dec(&sdev->in_use);
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
	sq->uq = q;
	q->priv = sq;
	return 0;
}

static void sim_put_queue(struct uacce_queue *q)
{
	struct sim_queue *sq = q->priv;

	/* uacce zapped every mapping of the queue before calling us. */
	mutex_lock(&sq->sdev->lock);
	sim_queue_free(sq);
	atomic_dec(&sq->sdev->in_use);
	mutex_unlock(&sq->sdev->lock);
	q->priv = NULL;
}

static int sim_start_queue(struct uacce_queue *q)
{
	struct sim_queue *sq = q->priv;

	if (!sq->op)
		return -EINVAL;	/* ACCEL_SIM_CMD_SET_ALGORITHM first */
	mutex_lock(&sq->sdev->lock);
	WRITE_ONCE(sq->regs->state, ACCEL_SIM_STATE_ACTIVE);
	sq->started = true;
	mutex_unlock(&sq->sdev->lock);
	sim_ring(sq->sdev);
	return 0;
}

static void sim_stop_queue(struct uacce_queue *q)
{
	struct sim_queue *sq = q->priv;

	/* Under the lock: the engine is not in the middle of this queue. */
	mutex_lock(&sq->sdev->lock);
	sq->started = false;
	WRITE_ONCE(sq->regs->state, ACCEL_SIM_STATE_REVOKED);
	mutex_unlock(&sq->sdev->lock);
}

/*
 * ACCEL_SIM_CMD_SET_ALGORITHM, entered with q->mutex held.  The argument is
 * copied in with q->mutex dropped (the lock rules above); the queue may
 * have been put or started meanwhile, so its state is looked at after.
 */
static long sim_set_algorithm(struct uacce_queue *q, const u32 __user *arg)
{
	struct sim_queue *sq;
	int fault;
	u32 op;

	mutex_unlock(&q->mutex);
	fault = get_user(op, arg);
	mutex_lock(&q->mutex);
	if (q->state == UACCE_Q_ZOMBIE)
		return -ENXIO;	/* put meanwhile: q->priv is gone */
	if (q->state != UACCE_Q_INIT)
		return -EBUSY;
	if (fault)
		return -EFAULT;
	if (op < ACCEL_SIM_OP_COPY || op > ACCEL_SIM_OP_GUNZIP)
		return -EINVAL;
	sq = q->priv;
	/* A stream's state lives as long as the queue: allocate it now. */
	if ((op == ACCEL_SIM_OP_GZIP || op == ACCEL_SIM_OP_GUNZIP) && !(sq->gz && sq->gz->op == op)) {
		struct sim_gzip *gz = sim_gzip_alloc(op);

		if (!gz)
			return -ENOMEM;
		sim_gzip_free(sq->gz);
		sq->gz = gz;
	}
	sq->op = op;
	WRITE_ONCE(sq->regs->algorithm, op);
	return 0;
}

/*
 * Called by uacce with q->mutex held, for commands it does not know; a
 * zombie queue never gets here.  No user memory is touched under the lock.
 */
static long sim_ioctl(struct uacce_queue *q, unsigned int cmd, unsigned long arg)
{
	struct sim_queue *sq = q->priv;

	switch (cmd) {
	case ACCEL_SIM_CMD_SET_ALGORITHM:
		return sim_set_algorithm(q, (const u32 __user *)arg);
	case ACCEL_SIM_CMD_DOORBELL:
		sim_ring(sq->sdev);
		return 0;
	default:
		return -ENOTTY;
	}
}

static int sim_is_q_updated(struct uacce_queue *q)
{
	struct sim_queue *sq = q->priv;

	return READ_ONCE(sq->regs->cq_tail) != READ_ONCE(sq->regs->cq_head);
}

/*
 * uacce maps our pages one fault at a time, holding a reference to each
 * until it zaps the queue: freeing them in put_queue afterwards cannot
 * leave a mapping to freed memory.
 */
static struct page *sim_region_page(struct uacce_queue *q, enum uacce_qfrt type, unsigned long pgoff)
{
	struct sim_queue *sq = q->priv;

	switch (type) {
	case UACCE_QFRT_MMIO:
		return pgoff ? NULL : vmalloc_to_page(sq->regs);
	case UACCE_QFRT_DUS:
		return vmalloc_to_page(sq->dus + (pgoff << PAGE_SHIFT));
	default:
		return NULL;
	}
}

static const struct uacce_ops sim_uacce_ops = {
	.get_available_instances = sim_get_available_instances,
	.get_queue = sim_get_queue,
	.put_queue = sim_put_queue,
	.start_queue = sim_start_queue,
	.stop_queue = sim_stop_queue,
	.is_q_updated = sim_is_q_updated,
	.region_page = sim_region_page,
	.ioctl = sim_ioctl,
};

static void sim_device_destroy(struct sim_device *sdev)
{
	if (!IS_ERR_OR_NULL(sdev->uacce))
		uacce_remove(sdev->uacce);	/* every queue put and unmapped */
	if (!IS_ERR_OR_NULL(sdev->engine))
		kthread_stop(sdev->engine);
	if (sdev->queues)
		for (unsigned int i = 0; i < queues; i++)
			sim_queue_free(&sdev->queues[i]);
	kfree(sdev->queues);
	vfree(sdev->bounce);
	kfree(sdev);
}

static int sim_probe(struct platform_device *pdev)
{
	const struct sim_platform_data *pdata = dev_get_platdata(&pdev->dev);
	struct uacce_interface interface = {
		.name = "accel_sim",
		.flags = pdata && pdata->sva ? UACCE_DEV_SVA : 0,
		.ops = &sim_uacce_ops,
	};
	struct sim_device *sdev;
	int ret;

	sdev = kzalloc(sizeof(*sdev), GFP_KERNEL);
	if (!sdev)
		return -ENOMEM;
	mutex_init(&sdev->lock);
	init_waitqueue_head(&sdev->doorbell);
	sdev->queues = kcalloc(queues, sizeof(*sdev->queues), GFP_KERNEL);
	sdev->bounce = vmalloc(SIM_GZIP_BOUNCE);
	if (!sdev->queues || !sdev->bounce) {
		ret = -ENOMEM;
		goto err;
	}
	for (unsigned int i = 0; i < queues; i++)
		sdev->queues[i].sdev = sdev;
	sdev->uacce = uacce_alloc(&pdev->dev, &interface);
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
	sdev->uacce->zombie_mmio = &sim_revoked_regs;
	sdev->uacce->zombie_mmio_len = sizeof(sim_revoked_regs);
	sdev->engine = kthread_run(sim_engine, sdev, "accel_sim/%d", pdev->id);
	if (IS_ERR(sdev->engine)) {
		ret = PTR_ERR(sdev->engine);
		goto err;
	}
	ret = uacce_register(sdev->uacce);
	if (ret < 0)
		goto err;
	platform_set_drvdata(pdev, sdev);
	return 0;
err:
	sim_device_destroy(sdev);
	return ret;
}

static int sim_remove(struct platform_device *pdev)
{
	sim_device_destroy(platform_get_drvdata(pdev));
	return 0;
}

static struct platform_driver sim_driver = {
	.probe = sim_probe,
	.remove = sim_remove,
	.driver = {
		.name = "accel_sim",
	},
};

static void sim_unregister_devices(void)
{
	for (unsigned int i = 0; i < SIM_MAX_DEVICES; i++) {
		if (sim_pdevs[i])
			platform_device_unregister(sim_pdevs[i]);
		sim_pdevs[i] = NULL;
	}
}

static int __init accel_sim_init(void)
{
	int ret;

	BUILD_BUG_ON(ACCEL_SIM_MMIO_SIZE != PAGE_SIZE);
	BUILD_BUG_ON(ACCEL_SIM_DUS_SIZE % PAGE_SIZE);

	if (devices + sva_devices > SIM_MAX_DEVICES || queues == 0 || queues > SIM_MAX_QUEUES)
		return -EINVAL;
	ret = platform_driver_register(&sim_driver);
	if (ret < 0)
		return ret;
	for (unsigned int i = 0; i < devices + sva_devices; i++) {
		const struct sim_platform_data pdata = { .sva = i >= devices };
		struct platform_device *pdev;

		pdev = platform_device_register_data(NULL, "accel_sim", i, &pdata, sizeof(pdata));
		if (IS_ERR(pdev)) {
			sim_unregister_devices();
			platform_driver_unregister(&sim_driver);
			return PTR_ERR(pdev);
		}
		sim_pdevs[i] = pdev;
	}
	pr_info("accel_sim: %u devices and %u SVA devices of %u queues\n", devices, sva_devices, queues);
	return 0;
}

static void __exit accel_sim_exit(void)
{
	sim_unregister_devices();	/* each one's remove: its uacce device goes */
	platform_driver_unregister(&sim_driver);
}

module_init(accel_sim_init);
module_exit(accel_sim_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("accel_sim: a software accelerator behind a uacce device");
MODULE_SOFTDEP("pre: uacce");

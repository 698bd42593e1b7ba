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
 * SVA devices (sva_devices=N, api "accel_sim_sva_v1") have no data area:
 * descriptors carry virtual addresses in the address space bound to the
 * queue.  The device's "IOMMU" is a PASID table (sdev->pasids) that uacce
 * fills through our struct uacce_sva_binder; get_queue latches the PASID's
 * mm as hardware latches a PASID.  The engine works in that mm as idxd does
 * (mmget, kthread_use_mm, copy_from_user/copy_to_user) through its own
 * windows of SIM_SVA_WINDOW bytes: an unmapped address completes with
 * -EFAULT, an mm that has exited with -ESRCH.
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
 *  - On a non-SVA queue the engine touches only the queues' vmalloc memory,
 *    never a user address.  It holds sdev->lock for one bounded turn on one
 *    queue (SIM_BUDGET descriptors, about SIM_TURN_BYTES of work: a longer
 *    descriptor resumes on the next turn) and reschedules between turns,
 *    so start, stop and put wait for at most one turn and nothing soft
 *    locks up.  Sysfs readers take no lock at all (sdev->in_use).
 *  - On an SVA queue the turn is the same, but the engine drops sdev->lock
 *    around each user copy (one window in, one out: the engine's own
 *    buffers, never the queue's).  Stop and put do not wait for a copy in
 *    flight: they bump sq->gen, and the engine, back under the lock, finds
 *    the generation changed and leaves the queue alone (what it copied out
 *    meanwhile went to the owner's own memory).  The engine's mm reference
 *    (mmget) keeps the address space alive for the copy.
 */
#include <linux/crc32.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
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
MODULE_PARM_DESC(sva_devices, "more devices, with UACCE_DEV_SVA: api accel_sim_sva_v1, emulated SVA (default 0)");

#define SIM_MAX_DEVICES	64
#define SIM_MAX_QUEUES	1024
#define SIM_BUDGET	16	/* descriptors per queue per turn: fairness */
#define SIM_TURN_BYTES	(64u << 10)	/* work per turn under sdev->lock: latency */
#define SIM_SVA_WINDOW	(32u << 10)	/* SVA: bytes per user copy, in and out */

/* What the opener set up, carried across UACCE_CMD_BIND_MM's put and get. */
struct sim_setup {
	u32 op;
	struct sim_gzip *gz;
};

struct sim_queue {
	struct sim_device *sdev;
	struct uacce_queue *uq;
	bool used;
	bool started;			/* the engine serves it */
	u32 op;				/* enum accel_sim_op, set before START_Q */
	u32 gen;			/* bumped by stop and put: an engine copy in flight is stale */
	struct mm_struct *mm;		/* SVA: the bound address space (mmgrab) */
	u32 sq_head;			/* the engine's own indices */
	u32 cq_tail;
	bool busy;			/* a turn ended inside @cur: resume it */
	union {				/* the engine's copy of the descriptor it runs */
		struct accel_sim_desc cur;
		struct accel_sim_sva_desc cur_sva;	/* on an SVA device */
	};
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
	bool sva;
	u8 *sva_in, *sva_out;		/* SVA: the engine's windows on user memory */
	struct xarray pasids;		/* SVA: PASID -> mm (mmgrab), our "IOMMU" */
	struct accel_sim_regs revoked;	/* what a revoked queue's regs read as */
};

/* What the module registers; the driver's probe reads it. */
struct sim_platform_data {
	bool sva;
};

static struct platform_device *sim_pdevs[SIM_MAX_DEVICES];

/* A queue's geometry, as the device writes it (SVA: no data area). */
static void sim_regs_init(struct accel_sim_regs *regs, bool sva)
{
	regs->magic = ACCEL_SIM_MAGIC;
	regs->version = ACCEL_SIM_VERSION;
	regs->wake = ACCEL_SIM_WAKE_DOORBELL;
	regs->sq_entries = ACCEL_SIM_RING_ENTRIES;
	regs->cq_entries = ACCEL_SIM_RING_ENTRIES;
	regs->sq_offset = ACCEL_SIM_SQ_OFFSET;
	regs->cq_offset = ACCEL_SIM_CQ_OFFSET;
	regs->data_offset = ACCEL_SIM_DATA_OFFSET;
	regs->data_size = sva ? 0 : ACCEL_SIM_DATA_SIZE;
	regs->dus_size = sva ? ACCEL_SIM_DATA_OFFSET : ACCEL_SIM_DUS_SIZE;
}

static size_t sim_dus_size(const struct sim_device *sdev)
{
	return sdev->sva ? ACCEL_SIM_DATA_OFFSET : ACCEL_SIM_DUS_SIZE;
}

static int sim_get_available_instances(struct uacce_device *uacce)
{
	struct sim_device *sdev = uacce->priv;

	/* No lock: a reader never waits for the engine or a queue's setup. */
	return queues - atomic_read(&sdev->in_use);
}

/* With sdev->lock held (or the engine stopped). */
static void sim_queue_free(struct sim_queue *sq)
{
	vfree(sq->regs);
	vfree(sq->dus);
	sim_gzip_free(sq->gz);
	if (sq->mm)
		mmdrop(sq->mm);
	*sq = (struct sim_queue){ .sdev = sq->sdev, .gen = sq->gen + 1 };
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


/* SVA: check a descriptor before its first step, as sim_begin does. */
static int sim_begin_sva(struct sim_queue *sq, const struct accel_sim_sva_desc *d)
{
	struct accel_sim_desc g = { .arg = d->arg, .op = d->op, .flags = d->flags };

	if (d->op != sq->op)
		return -EOPNOTSUPP;
	if (d->flags & ~(ACCEL_SIM_F_CONTINUE | ACCEL_SIM_F_FINISH))
		return -EINVAL;
	switch (d->op) {
	case ACCEL_SIM_OP_COPY:
		return d->dst_len < d->src_len ? -ENOSPC : 0;
	case ACCEL_SIM_OP_CRC32C:
		if (d->arg > U32_MAX)
			return -EINVAL;
		sq->crc = ~(u32)d->arg;
		return 0;
	case ACCEL_SIM_OP_GZIP:
	case ACCEL_SIM_OP_GUNZIP:
		return sim_gzip_begin(sq->gz, &g);
	default:
		return -EOPNOTSUPP;
	}
}

/* A copy between the engine's window and the bound address space: 0 or -EFAULT. */
static int sim_user_in(void *to, u64 from, u32 n)
{
	return n && copy_from_user(to, u64_to_user_ptr(from), n) ? -EFAULT : 0;
}

static int sim_user_out(u64 to, const void *from, u32 n)
{
	return n && copy_to_user(u64_to_user_ptr(to), from, n) ? -EFAULT : 0;
}

/*
 * Whether a gzip/gunzip window that finished (sim_gzip_step returned 0)
 * also finished the descriptor: the stream ended, the destination is full,
 * the step stopped short of both windows, or the source is all read and
 * the output window was not the limit.
 */
static bool sim_window_done(const struct accel_sim_sva_desc *d, const struct accel_sim_cqe *c,
			    const struct accel_sim_cqe *w, u32 in, u32 room)
{
	if ((w->flags & ACCEL_SIM_CF_STREAM_END) || c->produced == d->dst_len)
		return true;
	if (w->consumed < in && w->produced < room)
		return true;
	return c->consumed == d->src_len && w->produced < room;
}

/*
 * Drop sdev->lock for a user copy and take it back: false if the queue was
 * stopped or put meanwhile (the engine must leave it alone).
 */
static bool sim_relock(struct sim_queue *sq, u32 gen)
{
	mutex_lock(&sq->sdev->lock);
	return sq->gen == gen && sq->started;
}

/*
 * One window of an SVA descriptor, entered and left with sdev->lock held;
 * the user copies run with it dropped, in the engine's own buffers.
 * Returns 1 when the descriptor is done (status in sq->cur_c), 0 when it
 * goes on (next window or next turn), -EAGAIN when the queue is no longer
 * the engine's (stopped or put meanwhile).
 */
static int sim_window_sva(struct sim_queue *sq, u32 *budget)
{
	struct sim_device *sdev = sq->sdev;
	const struct accel_sim_sva_desc d = sq->cur_sva;
	struct accel_sim_cqe *c = &sq->cur_c;
	struct accel_sim_cqe w = {};
	u32 gen = sq->gen, in, room, at;
	bool up;
	int err, ret;

	in = min3(d.src_len - c->consumed, SIM_SVA_WINDOW, *budget);
	switch (d.op) {
	case ACCEL_SIM_OP_COPY:
		/* Downwards when the destination overlaps the source above it: memmove. */
		up = d.dst > d.src && d.dst < d.src + d.src_len;
		at = up ? d.src_len - c->consumed - in : c->consumed;
		mutex_unlock(&sdev->lock);
		err = sim_user_in(sdev->sva_in, d.src + at, in);
		if (!err)
			err = sim_user_out(d.dst + at, sdev->sva_in, in);
		if (!sim_relock(sq, gen))
			return -EAGAIN;
		c->consumed += in;
		*budget -= in;
		if (err || c->consumed == d.src_len) {
			c->produced = err ? 0 : d.src_len;
			c->status = err;
			return 1;
		}
		return 0;
	case ACCEL_SIM_OP_CRC32C:
		mutex_unlock(&sdev->lock);
		err = sim_user_in(sdev->sva_in, d.src + c->consumed, in);
		if (!sim_relock(sq, gen))
			return -EAGAIN;
		c->status = err;
		if (err)
			return 1;
		sq->crc = __crc32c_le(sq->crc, sdev->sva_in, in);
		c->consumed += in;
		*budget -= in;
		if (c->consumed < d.src_len)
			return 0;
		c->value = ~sq->crc;
		return 1;
	default:	/* gzip, gunzip */
		in = min(d.src_len - c->consumed, SIM_SVA_WINDOW);
		room = min(d.dst_len - c->produced, SIM_SVA_WINDOW);
		mutex_unlock(&sdev->lock);
		err = sim_user_in(sdev->sva_in, d.src + c->consumed, in);
		if (!sim_relock(sq, gen))
			return -EAGAIN;
		if (err) {
			sq->gz->open = false;
			c->status = err;
			return 1;
		}
		{
			/* The window as a descriptor of its own; FINISH only on the last input. */
			struct accel_sim_desc wd = {
				.op = d.op, .arg = d.arg, .src_len = in, .dst_len = room,
				.flags = d.flags & ~ACCEL_SIM_F_FINISH,
			};

			if (c->consumed + in == d.src_len)
				wd.flags |= d.flags & ACCEL_SIM_F_FINISH;
			ret = sim_gzip_step(sq->gz, &wd, sdev->sva_in, sdev->sva_out, sdev->bounce, &w,
					    *budget);
		}
		*budget -= min(*budget, w.consumed + w.produced + 1);
		mutex_unlock(&sdev->lock);
		err = sim_user_out(d.dst + c->produced, sdev->sva_out, w.produced);
		if (!sim_relock(sq, gen))
			return -EAGAIN;
		c->consumed += w.consumed;
		c->produced += w.produced;
		c->flags |= w.flags;
		if (ret < 0 || err) {
			sq->gz->open = false;
			c->status = ret < 0 ? ret : err;
			return 1;
		}
		if (ret == SIM_GZIP_MORE) {
			*budget = 0;
			return 0;
		}
		return sim_window_done(&d, c, &w, in, room);
	}
}

/*
 * Run the current SVA descriptor for one turn's budget, with sdev->lock
 * held on entry and exit: 1 done, 0 the turn ended inside it, -EAGAIN the
 * queue is gone from the engine.  An address space that has exited aborts
 * the descriptor (-ESRCH).
 */
static int sim_step_sva(struct sim_queue *sq, u32 *budget)
{
	struct mm_struct *mm = sq->mm;
	int ret = 0;

	if (!mm || !mmget_not_zero(mm)) {
		sq->cur_c.status = -ESRCH;
		return 1;
	}
	kthread_use_mm(mm);
	while (!ret && *budget)
		ret = sim_window_sva(sq, budget);
	kthread_unuse_mm(mm);
	mmput_async(mm);
	return ret;
}

/*
 * One turn on an SVA queue, entered and left with sdev->lock held: as
 * sim_run_queue, but each descriptor's data moves by user copies in the
 * bound address space with the lock dropped (sim_window_sva).
 */
static bool sim_run_queue_sva(struct sim_queue *sq)
{
	struct accel_sim_regs *regs = sq->regs;
	struct accel_sim_sva_desc *sq_ring = (void *)(sq->dus + ACCEL_SIM_SQ_OFFSET);
	struct accel_sim_cqe *cq_ring = (void *)(sq->dus + ACCEL_SIM_CQ_OFFSET);
	/* Acquire: the client's descriptors before its sq_tail, its reads before cq_head. */
	u32 tail = smp_load_acquire(&regs->sq_tail);
	u32 cq_head = smp_load_acquire(&regs->cq_head);
	u32 budget = SIM_TURN_BYTES;
	unsigned int n = 0;
	bool worked = false;
	int ret;

	if (tail - sq->sq_head > ACCEL_SIM_RING_ENTRIES ||
	    sq->cq_tail - cq_head > ACCEL_SIM_RING_ENTRIES) {
		WRITE_ONCE(regs->state, ACCEL_SIM_STATE_BROKEN);
		sq->started = false;
		wake_up_interruptible_all(&sq->uq->wait);
		return false;
	}
	while (n < SIM_BUDGET && budget) {
		if (!sq->busy) {
			if (sq->sq_head == tail || sq->cq_tail - cq_head >= ACCEL_SIM_RING_ENTRIES)
				break;
			memcpy(&sq->cur_sva, &sq_ring[sq->sq_head & (ACCEL_SIM_RING_ENTRIES - 1)],
			       sizeof(sq->cur_sva));
			sq->cur_c = (struct accel_sim_cqe){ .user_data = sq->cur_sva.user_data };
			sq->cur_c.status = sim_begin_sva(sq, &sq->cur_sva);
			sq->busy = true;
		}
		worked = true;
		if (!sq->cur_c.status) {
			ret = sim_step_sva(sq, &budget);
			if (ret < 0)
				return true;	/* stopped or put meanwhile: not ours */
			if (!ret)
				break;
		}
		memcpy(&cq_ring[sq->cq_tail & (ACCEL_SIM_RING_ENTRIES - 1)], &sq->cur_c, sizeof(sq->cur_c));
		sq->busy = false;
		sq->sq_head++;
		sq->cq_tail++;
		n++;
	}
	if (n) {
		WRITE_ONCE(regs->sq_head, sq->sq_head);
		/* Release: the completions before the index the client polls. */
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
				worked |= sdev->sva ? sim_run_queue_sva(&sdev->queues[i]) :
						      sim_run_queue(&sdev->queues[i]);
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

/* SVA: the mm a PASID stands for, with a reference of the caller's; NULL if none. */
static struct mm_struct *sim_pasid_mm(struct sim_device *sdev, unsigned long pasid)
{
	struct mm_struct *mm;

	xa_lock(&sdev->pasids);
	mm = xa_load(&sdev->pasids, pasid);
	if (mm)
		mmgrab(mm);
	xa_unlock(&sdev->pasids);
	return mm;
}

/* Get a queue; @arg is the PASID on an SVA device.  Consumes a carried set-up in q->priv. */
static int sim_get_queue(struct uacce_device *uacce, unsigned long arg, struct uacce_queue *q)
{
	struct sim_device *sdev = uacce->priv;
	struct sim_setup *setup = q->priv;
	struct mm_struct *mm = NULL;
	struct sim_queue *sq = NULL;
	int ret = -EBUSY;

	q->priv = NULL;
	if (sdev->sva) {
		mm = sim_pasid_mm(sdev, arg);
		if (!mm) {
			ret = -EINVAL;
			goto err;
		}
	}
	mutex_lock(&sdev->lock);
	for (unsigned int i = 0; i < queues && !sq; i++)
		if (!sdev->queues[i].used)
			sq = &sdev->queues[i];
	if (!sq) {
		mutex_unlock(&sdev->lock);
		goto err;
	}
	sq->used = true;
	atomic_inc(&sdev->in_use);
	mutex_unlock(&sdev->lock);

	sq->regs = vmalloc_user(PAGE_SIZE);
	sq->dus = vmalloc_user(sim_dus_size(sdev));
	if (!sq->regs || !sq->dus) {
		mutex_lock(&sdev->lock);
		sim_queue_free(sq);
		atomic_dec(&sdev->in_use);
		mutex_unlock(&sdev->lock);
		ret = -ENOMEM;
		goto err;
	}
	sim_regs_init(sq->regs, sdev->sva);
	sq->sdev = sdev;
	sq->uq = q;
	sq->mm = mm;
	if (setup) {
		sq->op = setup->op;
		sq->gz = setup->gz;
		WRITE_ONCE(sq->regs->algorithm, sq->op);
		kfree(setup);
	}
	q->priv = sq;
	return 0;
err:
	if (mm)
		mmdrop(mm);
	if (setup) {
		sim_gzip_free(setup->gz);
		kfree(setup);
	}
	return ret;
}

/*
 * The hardware queue back.  With the queue still UACCE_Q_INIT uacce is
 * rebinding it (UACCE_CMD_BIND_MM) and get_queue follows: the opener's
 * set-up (algorithm, stream workspace) is carried across in q->priv.
 */
static void sim_put_queue(struct uacce_queue *q)
{
	struct sim_queue *sq = q->priv;
	struct sim_setup *setup = NULL;

	if (q->state == UACCE_Q_INIT && sq->op)
		setup = kmalloc(sizeof(*setup), GFP_KERNEL);
	/* uacce zapped every mapping of the queue before calling us. */
	mutex_lock(&sq->sdev->lock);
	if (setup) {
		setup->op = sq->op;
		setup->gz = sq->gz;
		sq->gz = NULL;
	}
	sim_queue_free(sq);
	atomic_dec(&sq->sdev->in_use);
	mutex_unlock(&sq->sdev->lock);
	q->priv = setup;
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
	sq->gen++;
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
		if (pgoff >= sim_dus_size(sq->sdev) >> PAGE_SHIFT)
			return NULL;
		return vmalloc_to_page(sq->dus + (pgoff << PAGE_SHIFT));
	default:
		return NULL;
	}
}

/*
 * Our "IOMMU" (uacce's SVA seam): a PASID names an mm the engine may work
 * in.  Each bind is its own PASID holding the mm (mmgrab) until unbound.
 */
static int sim_sva_bind(struct uacce_device *uacce, struct mm_struct *mm, u32 *pasid)
{
	struct sim_device *sdev = uacce->priv;
	int ret;

	mmgrab(mm);
	ret = xa_alloc(&sdev->pasids, pasid, mm, XA_LIMIT(1, (1u << 20) - 1), GFP_KERNEL);
	if (ret < 0)
		mmdrop(mm);
	return ret;
}

static void sim_sva_unbind(struct uacce_device *uacce, u32 pasid)
{
	struct sim_device *sdev = uacce->priv;
	struct mm_struct *mm = xa_erase(&sdev->pasids, pasid);

	if (!WARN_ON_ONCE(!mm))
		mmdrop(mm);
}

static const struct uacce_sva_binder sim_sva_binder = {
	.bind = sim_sva_bind,
	.unbind = sim_sva_unbind,
};

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
	vfree(sdev->sva_in);
	vfree(sdev->sva_out);
	WARN_ON_ONCE(!xa_empty(&sdev->pasids));	/* uacce_remove() unbound every queue */
	xa_destroy(&sdev->pasids);
	kfree(sdev);
}

static int sim_probe(struct platform_device *pdev)
{
	const struct sim_platform_data *pdata = dev_get_platdata(&pdev->dev);
	struct uacce_interface interface = {
		.name = "accel_sim",
		.flags = pdata && pdata->sva ? UACCE_DEV_SVA : 0,	/* emulated: sim_sva_binder */
		.ops = &sim_uacce_ops,
	};
	struct sim_device *sdev;
	int ret;

	sdev = kzalloc(sizeof(*sdev), GFP_KERNEL);
	if (!sdev)
		return -ENOMEM;
	mutex_init(&sdev->lock);
	init_waitqueue_head(&sdev->doorbell);
	xa_init_flags(&sdev->pasids, XA_FLAGS_ALLOC1);
	sdev->sva = pdata && pdata->sva;
	sdev->queues = kcalloc(queues, sizeof(*sdev->queues), GFP_KERNEL);
	sdev->bounce = vmalloc(SIM_GZIP_BOUNCE);
	if (sdev->sva) {
		sdev->sva_in = vmalloc(SIM_SVA_WINDOW);
		sdev->sva_out = vmalloc(SIM_SVA_WINDOW);
	}
	if (!sdev->queues || !sdev->bounce || (sdev->sva && (!sdev->sva_in || !sdev->sva_out))) {
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
	sdev->uacce->api_ver = sdev->sva ? ACCEL_SIM_SVA_API : ACCEL_SIM_API;
	sdev->uacce->algs = ACCEL_SIM_ALGORITHMS;
	sdev->uacce->qf_pg_num[UACCE_QFRT_MMIO] = 1;
	sdev->uacce->qf_pg_num[UACCE_QFRT_DUS] = sim_dus_size(sdev) >> PAGE_SHIFT;
	sim_regs_init(&sdev->revoked, sdev->sva);
	sdev->revoked.state = ACCEL_SIM_STATE_REVOKED;
	sdev->uacce->zombie_mmio = &sdev->revoked;
	sdev->uacce->zombie_mmio_len = sizeof(sdev->revoked);
	if (sdev->sva)
		sdev->uacce->sva = &sim_sva_binder;
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

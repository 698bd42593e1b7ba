/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * accel_sim_v1: the queue ABI of the accel_sim software accelerator.
 *
 * One definition, shared by the broker's engine (daemon/sim/), libaccel's
 * user driver (client/libaccel/driver_sim.c) and the kernel driver
 * (kmod/accel_sim).  It is laid out like any uacce queue:
 *
 *   mmap offset 0 * page size   MMIO region: one page, struct accel_sim_regs
 *   mmap offset 1 * page size   DUS region:  [ SQ ring | CQ ring | data area ]
 *
 * Every address the client gives the device is an offset into the DUS
 * region: a non-SVA device cannot see the client's pointers.
 *
 * Both regions are writable by the client while the device reads them.  The
 * device therefore trusts nothing in them: it keeps its own copy of every
 * geometry field and index, copies each descriptor once before looking at
 * it, and bounds-checks every offset and length against its own copy of the
 * data area.  Fields below are marked by who writes them.
 */
#ifndef ACCEL_SIM_H
#define ACCEL_SIM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define ACCEL_SIM_API		"accel_sim_v1"
/*
 * The same device with SVA (kmod/accel_sim sva_devices=N): the same regs,
 * rings and completions, but descriptors are struct accel_sim_sva_desc and
 * carry the client's own virtual addresses, in the address space bound to
 * the queue (UACCE_CMD_BIND_MM, include/accel/uacce.h).  There is no data
 * area (regs.data_size is 0): libaccel's accel_queue_buffer() returns NULL
 * with *size 0, and accel_submit()/accel_run() take the caller's pointers.
 * An address not mapped in the bound address space completes with -EFAULT.
 */
#define ACCEL_SIM_SVA_API	"accel_sim_sva_v1"
#define ACCEL_SIM_MAGIC		0x4d495341u	/* "ASIM" little endian */
#define ACCEL_SIM_VERSION	1u

/* Region sizes; the device writes the authoritative values in the regs. */
#define ACCEL_SIM_MMIO_SIZE	4096u
#define ACCEL_SIM_RING_ENTRIES	256u
#define ACCEL_SIM_DATA_SIZE	(2u << 20)

/* How the client wakes a sleeping device (regs.wake). */
enum accel_sim_wake {
	/* Software engine in the broker: FUTEX_WAKE on regs.sq_tail. */
	ACCEL_SIM_WAKE_FUTEX = 1,
	/*
	 * Kernel driver (kmod/accel_sim): ioctl(ACCEL_SIM_CMD_DOORBELL) on the
	 * queue fd wakes the engine; completions wake poll() on the fd.
	 */
	ACCEL_SIM_WAKE_DOORBELL = 2,
};

/* Operations; a queue serves the one it was started for (regs.algorithm). */
enum accel_sim_op {
	ACCEL_SIM_OP_COPY = 1,
	ACCEL_SIM_OP_CRC32C = 2,
	ACCEL_SIM_OP_GZIP = 3,
	ACCEL_SIM_OP_GUNZIP = 4,
};

/*
 * The operations' names, as AcquireQueue and the uacce "algorithms"
 * attribute spell them: an initializer for a table indexed by the op.
 */
#define ACCEL_SIM_OP_NAMES {			\
	[ACCEL_SIM_OP_COPY] = "copy",		\
	[ACCEL_SIM_OP_CRC32C] = "crc32c",	\
	[ACCEL_SIM_OP_GZIP] = "gzip",		\
	[ACCEL_SIM_OP_GUNZIP] = "gunzip",	\
}
#define ACCEL_SIM_ALGORITHMS	"copy crc32c gzip gunzip"

/* Queue state (regs.state), written by the device. */
enum accel_sim_state {
	ACCEL_SIM_STATE_ACTIVE = 1,
	/* Taken back by the broker: nothing more will be processed. */
	ACCEL_SIM_STATE_REVOKED = 2,
	/* The client corrupted the ring indices: the queue is stopped. */
	ACCEL_SIM_STATE_BROKEN = 3,
};

/*
 * Commands of the kernel driver on a queue fd (uacce hands them through).
 * A uacce queue is opened for no algorithm in particular: its opener (the
 * broker) sets it before UACCE_CMD_START_Q.
 */
#define ACCEL_SIM_CMD_SET_ALGORITHM	_IOW('W', 64, __u32)	/* enum accel_sim_op */
#define ACCEL_SIM_CMD_DOORBELL		_IO('W', 65)		/* the engine sleeps: wake it */

/* regs.dev_flags */
#define ACCEL_SIM_DEV_NEED_WAKEUP	(1u << 0)	/* device sleeps: ring it */
/*
 * regs.features, written by the device with the geometry.  0 from a device
 * (or broker) that knows none of them: a client then keeps to what it did
 * before the feature.
 */
/*
 * The device reads regs.event_arm and honours ACCEL_SIM_CLIENT_EVENT_ARM
 * (the broker's software engine since the event loop's own arm).
 */
#define ACCEL_SIM_FEAT_EVENT_ARM	(1u << 0)

/* regs.client_flags */
/*
 * The client sleeps on cq_tail: the device wakes it after posting
 * completions (futex on cq_tail).  The client sets it, fences, and looks at
 * cq_tail again before it sleeps.  For a client without
 * ACCEL_SIM_CLIENT_EVENT_ARM the broker's engine also writes a byte into
 * the queue's event pipe while it is set: such a client (libaccel before
 * event_arm) armed its event loop with this same bit.
 */
#define ACCEL_SIM_CLIENT_CQ_WAIT	(1u << 0)
/*
 * The client arms its event loop with regs.event_arm, not CQ_WAIT: the
 * engine writes the event pipe for event_arm only, and wakes the futex for
 * CQ_WAIT only, so a thread in accel_wait() and an event loop on the same
 * queue never take each other's wake-up.  Set once, before the first arm,
 * and only when the device has ACCEL_SIM_FEAT_EVENT_ARM.
 */
#define ACCEL_SIM_CLIENT_EVENT_ARM	(1u << 1)

/*
 * regs.event_arm: bit 0 set while the client's event loop waits for the
 * event pipe; bits 1-31 count its arms.  The device writes one byte per
 * arm, after posting completions while bit 0 is set, and remembers which
 * arm it answered: a loop that sleeps long costs the device one write,
 * however many completions land.  The client bumps the count at every
 * arm and clears bit 0 when it wakes or finds work at the re-check.
 */
#define ACCEL_SIM_EVENT_ARMED		(1u << 0)
#define ACCEL_SIM_EVENT_ARM_STEP	(1u << 1)

/* accel_sim_desc.flags */
#define ACCEL_SIM_F_CONTINUE	(1u << 0)	/* continue this queue's stream */
#define ACCEL_SIM_F_FINISH	(1u << 1)	/* gzip: last input of the stream */

/* accel_sim_cqe.flags */
#define ACCEL_SIM_CF_STREAM_END	(1u << 0)	/* gzip/gunzip: member complete */

/* The MMIO region.  Three cache lines, each written by one side only. */
struct accel_sim_regs {
	/* Line 0: geometry, written by the device before the queue is handed out. */
	__u32 magic;
	__u32 version;
	__u32 wake;		/* enum accel_sim_wake */
	__u32 algorithm;	/* enum accel_sim_op */
	__u32 sq_entries;	/* power of two */
	__u32 cq_entries;	/* power of two */
	__u32 sq_offset;	/* DUS offsets of the rings and the data area */
	__u32 cq_offset;
	__u32 data_offset;
	__u32 data_size;
	__u32 dus_size;
	__u32 features;		/* ACCEL_SIM_FEAT_*: 0 from older devices */
	__u32 reserved0[4];

	/* Line 1: written by the device. */
	__u32 state;		/* enum accel_sim_state */
	__u32 sq_head;		/* descriptors consumed */
	__u32 cq_tail;		/* completions posted; futex word for CQ_WAIT */
	__u32 dev_flags;
	__u32 reserved1[12];

	/* Line 2: written by the client. */
	__u32 sq_tail;		/* descriptors submitted; futex word for wake-up */
	__u32 cq_head;		/* completions consumed */
	__u32 client_flags;
	__u32 event_arm;	/* ACCEL_SIM_EVENT_*; read only with CLIENT_EVENT_ARM */
	__u32 reserved2[12];
};

/* A submission.  Offsets are into the DUS region. */
struct accel_sim_desc {
	__u64 user_data;	/* echoed in the completion */
	__u64 arg;		/* crc32c: seed; gzip: level 1-9, 0 = default */
	__u32 op;		/* enum accel_sim_op */
	__u32 flags;		/* ACCEL_SIM_F_* */
	__u32 src_offset;
	__u32 src_len;
	__u32 dst_offset;
	__u32 dst_len;		/* capacity of the destination */
	__u32 reserved[2];
};

/* A submission on an accel_sim_sva_v1 queue: the same 48 bytes, same ring. */
struct accel_sim_sva_desc {
	__u64 user_data;	/* echoed in the completion */
	__u64 arg;		/* as in accel_sim_desc */
	__u32 op;		/* enum accel_sim_op */
	__u32 flags;		/* ACCEL_SIM_F_* */
	__u64 src;		/* virtual addresses in the bound address space */
	__u64 dst;
	__u32 src_len;
	__u32 dst_len;		/* capacity of the destination */
};

/* A completion. */
struct accel_sim_cqe {
	__u64 user_data;
	__u64 value;		/* crc32c: the checksum */
	__s32 status;		/* 0 or a negative errno */
	__u32 flags;		/* ACCEL_SIM_CF_* */
	__u32 consumed;		/* source bytes consumed */
	__u32 produced;		/* destination bytes written */
};

#define ACCEL_SIM_SQ_OFFSET	0u
#define ACCEL_SIM_CQ_OFFSET	(ACCEL_SIM_SQ_OFFSET + \
				 ACCEL_SIM_RING_ENTRIES * sizeof(struct accel_sim_desc))
#define ACCEL_SIM_DATA_OFFSET	65536u
#define ACCEL_SIM_DUS_SIZE	(ACCEL_SIM_DATA_OFFSET + ACCEL_SIM_DATA_SIZE)

#ifdef __cplusplus
#define ACCEL_SIM_ASSERT static_assert
#else
#define ACCEL_SIM_ASSERT _Static_assert
#endif

ACCEL_SIM_ASSERT(sizeof(struct accel_sim_regs) == 192, "regs layout");
ACCEL_SIM_ASSERT(sizeof(struct accel_sim_desc) == 48, "desc layout");
ACCEL_SIM_ASSERT(sizeof(struct accel_sim_sva_desc) == sizeof(struct accel_sim_desc),
		 "SVA desc layout: same ring");
ACCEL_SIM_ASSERT(sizeof(struct accel_sim_cqe) == 32, "cqe layout");
ACCEL_SIM_ASSERT(ACCEL_SIM_CQ_OFFSET + ACCEL_SIM_RING_ENTRIES *
		 sizeof(struct accel_sim_cqe) <= ACCEL_SIM_DATA_OFFSET,
		 "rings fit below the data area");
ACCEL_SIM_ASSERT((ACCEL_SIM_RING_ENTRIES & (ACCEL_SIM_RING_ENTRIES - 1)) == 0,
		 "ring size is a power of two");

#endif /* ACCEL_SIM_H */

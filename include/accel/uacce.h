/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * What kmod/uacce adds to mainline's <misc/uacce/uacce.h>: one definition,
 * used by the framework module, the broker and libaccel.
 *
 * A uacce queue binds the address space of whoever opened it.  When a broker
 * opens the queue and hands the fd to a client, the client must bind its own
 * address space before it maps or starts the queue (BIND_MM), and the broker
 * needs a revocation the client cannot undo (REVOKE).  Both are absent from
 * mainline; user space learns whether the kernel has them from the device's
 * sysfs attribute "features" (absent on mainline).
 */
#ifndef ACCEL_UACCE_H
#define ACCEL_UACCE_H

#include <linux/ioctl.h>

/*
 * Bind the queue to the calling process's address space (SVA: the device's
 * DMA then works in the caller's memory; non-SVA: the caller becomes the
 * owner).  Only while the queue is not started and no region is mapped,
 * else EBUSY.  On an SVA queue, START_Q, mmap and driver ioctls from any
 * other address space fail with EPERM.
 */
#define UACCE_CMD_BIND_MM	_IO('W', 0x10)

/*
 * Take the queue back, for good, from whichever holder of the fd calls it:
 * the queue is stopped, its hardware queue given back to the device
 * (available_instances rises while the fds are still open), the address
 * space unbound and every mapping zapped.  Afterwards ioctl and mmap fail
 * (ENXIO), poll reports EPOLLERR | EPOLLHUP; close works.
 */
#define UACCE_CMD_REVOKE	_IO('W', 0x11)

/*
 * /sys/class/uacce/<dev>/features: the words below, space-separated, one
 * line.  A kernel without the attribute has neither command.
 */
#define UACCE_FEATURES_ATTR	"features"
#define UACCE_FEATURE_BIND_MM	"bind_mm"
#define UACCE_FEATURE_REVOKE	"revoke"

#endif /* ACCEL_UACCE_H */

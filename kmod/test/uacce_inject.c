// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * uacce_inject: test only, loaded by tests/vm/vm_test.c.  While it is
 * loaded, the first device_add() of a "uacce" class device fails with
 * -ENOMEM without doing anything, so that a driver's probe runs
 * uacce_register()'s failure path and then uacce_remove() (issue 13,
 * defect 7: the cdev deleted twice).  Debian's kernel has no fault
 * injection for device_add(); a kprobe at its entry redirects the call to
 * a function that fails, the way livepatch redirects one (x86 only).
 */
#include <linux/device.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/ptrace.h>
#include <linux/string.h>

static atomic_t uacce_inject_armed = ATOMIC_INIT(1);

static noinline int uacce_inject_device_add(struct device *dev)
{
	return -ENOMEM;
}

static int uacce_inject_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct device *dev = (struct device *)regs_get_kernel_argument(regs, 0);

	if (!dev->class || strcmp(dev->class->name, "uacce") || !atomic_xchg(&uacce_inject_armed, 0))
		return 0;
	/* Runs in device_add()'s place: the caller gets its -ENOMEM. */
	instruction_pointer_set(regs, (unsigned long)uacce_inject_device_add);
	return 1;
}

static struct kprobe uacce_inject_kp = {
	.symbol_name = "device_add",
	.pre_handler = uacce_inject_pre,
};

static int __init uacce_inject_init(void)
{
	return register_kprobe(&uacce_inject_kp);
}

static void __exit uacce_inject_exit(void)
{
	unregister_kprobe(&uacce_inject_kp);
}

module_init(uacce_inject_init);
module_exit(uacce_inject_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("uacce_inject: fail the next uacce device_add() (vm_test only)");

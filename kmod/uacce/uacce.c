// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * uacce: user-space accelerator queues.  A device registered here appears
 * as /dev/<name>-<id> (class "uacce"); every open() is a queue, started
 * with UACCE_CMD_START_Q and stopped for good with UACCE_CMD_PUT_Q, whose
 * regions are mapped by offset (region type * PAGE_SIZE).
 *
 * Address spaces (include/accel/uacce.h):
 *  - A queue has an owner, q->mm: the opener's address space, then whoever
 *    calls UACCE_CMD_BIND_MM (only while the queue is not started and
 *    nothing is mapped).  On a UACCE_DEV_SVA device the owner is also the
 *    address space the device works in (bound through the IOMMU, or the
 *    driver's uacce_sva_binder), and only the owner may START_Q, mmap or
 *    reach the driver's ioctls: an fd handed to another process (or
 *    inherited by a forked child) cannot drive DMA in the opener's memory.
 *  - UACCE_CMD_REVOKE, from any holder, puts the queue for good (as PUT_Q:
 *    stop, zap, the hardware queue back) and unbinds its address space.
 *
 * Lifetime rules:
 *  - open() takes its reference to the uacce device under the xarray's lock,
 *    where every device found still holds its registration reference
 *    (uacce_remove() erases it before dropping that).  An open file keeps
 *    the reference, so the structure outlives uacce_remove() until the last
 *    file is closed; after removal every queue is a zombie and no file
 *    operation reaches the driver.
 *
 * Lock rules, outermost first:
 *  - uacce->mutex: the device's queue list and removal (open, release,
 *    remove).
 *  - q->mutex: the queue's state and every call into the driver (ioctl,
 *    start, stop, put).  A driver's ioctl may copy from or to user space
 *    under it, so it may fault, and so may take the mm's mmap_lock: no
 *    path that runs under mmap_lock (mmap, vma open/close, fault) takes it.
 *  - mmap_lock (the mm's): held by the core around mmap, vma open/close and
 *    faults; uacce never takes it itself.
 *  - q->map_lock (rwsem): the queue's regions (qfrs) and the queue's
 *    passage to ZOMBIE.  Faults take it for reading, mmap, vma open/close
 *    and uacce_put_queue() for writing.  Nothing holding it touches user
 *    memory or takes another uacce lock; the zap runs after it is dropped.
 *
 * Mapping rules:
 *  - mmap inserts nothing.  The fault handler maps a live queue's page
 *    (ops->region_page) with q->map_lock held, so the state check and the
 *    PTE are one step against revocation; uacce_put_queue() marks the queue
 *    ZOMBIE under the same lock and then zaps q->mapping.  A fault runs only
 *    on a vma that is already in q->mapping (the core links it under
 *    mmap_lock held for writing before any fault can find it), so the zap
 *    reaches every page mapped before the mark, and no page is mapped
 *    after it: a PUT_Q racing mmap() cannot leave the queue's pages behind.
 *  - A zombie queue's mappings fault in scratch pages of the holder's own.
 *  - A region is mapped whole, once per queue: q->qfrs[type] is set while
 *    any vma maps it, counted per vma (vm_ops open/close), so the copy a
 *    refused mremap() makes and closes again leaves the original counted.
 *    mremap() and partial unmaps are refused (vm_ops mremap, may_split).
 *  - vm_flags: VM_DONTCOPY (a child never inherits a queue mapping), kept
 *    by VM_IO, which makes madvise(MADV_DOFORK) fail; MADV_KEEPONFORK
 *    clears only VM_WIPEONFORK, which DONTCOPY makes moot.  VM_DONTEXPAND
 *    (no mremap growth), VM_DONTDUMP (no core dump; VM_IO makes MADV_DODUMP
 *    fail), VM_MIXEDMAP (vm_insert_page from a fault must not set it under
 *    mmap_lock held for reading).
 *  - The queue's address_space has empty a_ops and the file refuses or
 *    ignores what would use a page cache (fadvise is a no-op; no read,
 *    write, splice or llseek): generic code never finds a NULL a_ops.
 */
#include <linux/compat.h>
#include <linux/fadvise.h>
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/version.h>
#include <linux/sched/mm.h>
#include <linux/xarray.h>

#include <accel/uacce.h>

#include "uacce.h"

static dev_t uacce_devt;
static struct class *uacce_class;
static DEFINE_XARRAY_ALLOC(uacce_xa);

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define uacce_vm_flags_set(vma, flags) vm_flags_set(vma, flags)
#else
#define uacce_vm_flags_set(vma, flags) ((vma)->vm_flags |= (flags))
#endif

#define UACCE_VM_FLAGS (VM_IO | VM_MIXEDMAP | VM_DONTCOPY | VM_DONTEXPAND | VM_WIPEONFORK | VM_DONTDUMP)

/* Nothing is ever cached in a queue's address_space: see uacce_fops_fadvise. */
static const struct address_space_operations uacce_aops = {};

/* Called with q->mutex held. */
static int uacce_start_queue(struct uacce_queue *q)
{
	int ret;

	if (q->state != UACCE_Q_INIT)
		return -EINVAL;
	if (q->uacce->ops->start_queue) {
		ret = q->uacce->ops->start_queue(q);
		if (ret < 0)
			return ret;
	}
	q->state = UACCE_Q_STARTED;
	return 0;
}

/*
 * Stop the queue for good, with q->mutex held: the driver stops it, no
 * fault maps its pages any more, every mapping of it is zapped (a later
 * access faults instead of reaching memory the driver is about to free),
 * and pollers wake to find it hung up.
 */
static void uacce_put_queue(struct uacce_queue *q)
{
	const struct uacce_ops *ops = q->uacce->ops;

	if (q->state == UACCE_Q_ZOMBIE)
		return;
	if (q->state == UACCE_Q_STARTED && ops->stop_queue)
		ops->stop_queue(q);
	/* Waits for faults mapping live pages; later ones find the zombie. */
	down_write(&q->map_lock);
	q->state = UACCE_Q_ZOMBIE;
	up_write(&q->map_lock);
	unmap_mapping_range(q->mapping, 0, 0, 1);
	if (ops->put_queue)
		ops->put_queue(q);
	wake_up_interruptible_all(&q->wait);
}

/* A binding of an address space for an SVA device: what unbinding needs. */
struct uacce_bond {
	struct iommu_sva *handle;	/* through the IOMMU; NULL through uacce->sva */
	u32 pasid;
};

static int uacce_sva_bind(struct uacce_device *uacce, struct mm_struct *mm, struct uacce_bond *b)
{
	if (!mm)
		return -EINVAL;	/* a kernel thread has no address space to give */
	b->handle = NULL;
	if (uacce->sva)
		return uacce->sva->bind(uacce, mm, &b->pasid);
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
	b->handle = iommu_sva_bind_device(uacce->parent, mm);
#else
	b->handle = iommu_sva_bind_device(uacce->parent, mm, NULL);
#endif
	if (IS_ERR(b->handle))
		return PTR_ERR(b->handle);
	b->pasid = iommu_sva_get_pasid(b->handle);
	if (b->pasid == IOMMU_PASID_INVALID) {
		iommu_sva_unbind_device(b->handle);
		return -ENODEV;
	}
	return 0;
}

static void uacce_sva_unbind(struct uacce_device *uacce, struct uacce_bond *b)
{
	if (b->handle)
		iommu_sva_unbind_device(b->handle);
	else
		uacce->sva->unbind(uacce, b->pasid);
}

/* Give up the queue's binding, if any, with q->mutex held. */
static void uacce_unbind_queue(struct uacce_queue *q)
{
	struct uacce_bond b = { .handle = q->handle, .pasid = q->pasid };

	if (!q->bound)
		return;
	q->bound = false;
	q->handle = NULL;
	uacce_sva_unbind(q->uacce, &b);
}

/*
 * UACCE_CMD_REVOKE, and what release and removal do: put the queue for good
 * and unbind it, with q->mutex held.  The driver's binder is still there:
 * uacce_remove() does this to every queue before it returns.
 */
static void uacce_revoke_queue(struct uacce_queue *q)
{
	uacce_put_queue(q);
	uacce_unbind_queue(q);
}

static bool uacce_mapped(struct uacce_queue *q)
{
	return q->qfrs[UACCE_QFRT_MMIO] || q->qfrs[UACCE_QFRT_DUS];
}

/*
 * On an SVA device only the owner drives the queue: its address space is
 * the one the device works in.  With q->mutex or q->map_lock held.
 */
static bool uacce_foreign(struct uacce_queue *q, struct mm_struct *mm)
{
	return (q->uacce->flags & UACCE_DEV_SVA) && q->mm != mm;
}

static void uacce_set_owner(struct uacce_queue *q, struct mm_struct *mm)
{
	struct mm_struct *old;

	if (mm)
		mmgrab(mm);
	down_write(&q->map_lock);
	old = q->mm;
	q->mm = mm;
	up_write(&q->map_lock);
	if (old)
		mmdrop(old);
}

/*
 * UACCE_CMD_BIND_MM with q->mutex held, the queue live: make the caller's
 * address space the queue's.  Built from the ops every driver has, so an
 * unmodified one works: the caller's address space is bound first (nothing
 * changes if that fails), then the hardware queue is put and got again
 * with the new PASID, then the old binding goes.  If the driver cannot get
 * a queue back, the queue is left put, a zombie, like after PUT_Q.
 */
static int uacce_bind_mm(struct uacce_queue *q)
{
	struct uacce_device *uacce = q->uacce;
	struct mm_struct *mm = current->mm, *old;
	struct uacce_bond b, was = { .handle = q->handle, .pasid = q->pasid };
	bool was_bound = q->bound;
	int ret;

	if (q->state != UACCE_Q_INIT)
		return -EBUSY;
	down_read(&q->map_lock);
	ret = uacce_mapped(q) ? -EBUSY : 0;
	up_read(&q->map_lock);
	if (ret || q->mm == mm)
		return ret;
	if (!(uacce->flags & UACCE_DEV_SVA)) {
		uacce_set_owner(q, mm);
		return 0;
	}
	ret = uacce_sva_bind(uacce, mm, &b);
	if (ret)
		return ret;
	/* No mmap gets in from here on: it finds no owner (q->mm NULL). */
	down_write(&q->map_lock);
	if (uacce_mapped(q)) {
		up_write(&q->map_lock);
		uacce_sva_unbind(uacce, &b);
		return -EBUSY;
	}
	old = q->mm;
	q->mm = NULL;
	up_write(&q->map_lock);

	if (uacce->ops->put_queue)
		uacce->ops->put_queue(q);
	ret = uacce->ops->get_queue(uacce, b.pasid, q);
	if (was_bound)
		uacce_sva_unbind(uacce, &was);
	q->bound = false;
	if (old)
		mmdrop(old);
	if (ret < 0) {
		/* The driver has no queue for us: nothing mapped, nothing to zap. */
		uacce_sva_unbind(uacce, &b);
		down_write(&q->map_lock);
		q->state = UACCE_Q_ZOMBIE;
		up_write(&q->map_lock);
		wake_up_interruptible_all(&q->wait);
		return ret;
	}
	q->pasid = b.pasid;
	q->handle = b.handle;
	q->bound = true;
	uacce_set_owner(q, mm);
	return 0;
}

static long uacce_fops_unl_ioctl(struct file *filep, unsigned int cmd, unsigned long arg)
{
	struct uacce_queue *q = filep->private_data;
	long ret;

	mutex_lock(&q->mutex);
	if (cmd == UACCE_CMD_REVOKE) {
		/* From any holder, also of a put or removed queue: unbind what is left. */
		uacce_revoke_queue(q);
		ret = q->revoked ? -ENXIO : 0;
		q->revoked = true;
		goto out;
	}
	if (q->state == UACCE_Q_ZOMBIE) {
		ret = -ENXIO;
		goto out;
	}
	switch (cmd) {
	case UACCE_CMD_BIND_MM:
		ret = uacce_bind_mm(q);
		break;
	case UACCE_CMD_PUT_Q:
		/* Stricter than mainline's: stop, zap, the queue back, final. */
		uacce_put_queue(q);
		ret = 0;
		break;
	case UACCE_CMD_START_Q:
		ret = uacce_foreign(q, current->mm) ? -EPERM : uacce_start_queue(q);
		break;
	default:
		if (uacce_foreign(q, current->mm))
			ret = -EPERM;
		else
			ret = q->uacce->ops->ioctl ? q->uacce->ops->ioctl(q, cmd, arg) : -EINVAL;
		break;
	}
out:
	mutex_unlock(&q->mutex);
	return ret;
}

#ifdef CONFIG_COMPAT
static long uacce_fops_compat_ioctl(struct file *filep, unsigned int cmd, unsigned long arg)
{
	return uacce_fops_unl_ioctl(filep, cmd, (unsigned long)compat_ptr(arg));
}
#endif

static int uacce_fops_open(struct inode *inode, struct file *filep)
{
	struct uacce_device *uacce;
	struct uacce_queue *q;
	int ret;

	/*
	 * The cdev chrdev_open holds may be an older device's than the one now
	 * at this minor: take our reference where the lookup is, under the
	 * xarray's lock, which uacce_remove() takes to erase the device before
	 * it drops the registration's reference.
	 */
	xa_lock(&uacce_xa);
	uacce = xa_load(&uacce_xa, iminor(inode));
	if (uacce)
		get_device(&uacce->dev);
	xa_unlock(&uacce_xa);
	if (!uacce)
		return -ENODEV;
	ret = -ENOMEM;
	q = kzalloc(sizeof(*q), GFP_KERNEL);
	if (!q)
		goto err_put;
	q->mapping = kzalloc(sizeof(*q->mapping), GFP_KERNEL);
	if (!q->mapping)
		goto err_free;
	address_space_init_once(q->mapping);
	q->mapping->host = inode;
	q->mapping->a_ops = &uacce_aops;
	q->uacce = uacce;
	init_waitqueue_head(&q->wait);
	mutex_init(&q->mutex);
	init_rwsem(&q->map_lock);

	mutex_lock(&uacce->mutex);
	if (!uacce->parent) {
		ret = -ENODEV;	/* removed meanwhile */
		goto err_unlock;
	}
	/* As mainline: an SVA queue starts bound to its opener's address space. */
	if (uacce->flags & UACCE_DEV_SVA) {
		struct uacce_bond b;

		ret = uacce_sva_bind(uacce, current->mm, &b);
		if (ret < 0)
			goto err_unlock;
		q->pasid = b.pasid;
		q->handle = b.handle;
		q->bound = true;
	}
	ret = uacce->ops->get_queue(uacce, q->pasid, q);
	if (ret < 0)
		goto err_unbind;
	q->state = UACCE_Q_INIT;
	q->mm = current->mm;
	if (q->mm)
		mmgrab(q->mm);
	list_add(&q->list, &uacce->queues);
	mutex_unlock(&uacce->mutex);

	filep->private_data = q;
	/* Each queue its own address space: PUT_Q zaps its mappings only. */
	filep->f_mapping = q->mapping;
	return 0;

err_unbind:
	uacce_unbind_queue(q);
err_unlock:
	mutex_unlock(&uacce->mutex);
err_free:
	kfree(q->mapping);
	kfree(q);
err_put:
	put_device(&uacce->dev);
	return ret;
}

static int uacce_fops_release(struct inode *inode, struct file *filep)
{
	struct uacce_queue *q = filep->private_data;
	struct uacce_device *uacce = q->uacce;

	mutex_lock(&uacce->mutex);
	mutex_lock(&q->mutex);
	uacce_revoke_queue(q);
	mutex_unlock(&q->mutex);
	list_del(&q->list);
	mutex_unlock(&uacce->mutex);
	if (q->mm)
		mmdrop(q->mm);

	/* Every mapping held the file: none is left now. */
	filep->f_mapping = inode->i_mapping;
	kfree(q->mapping);
	kfree(q);
	put_device(&uacce->dev);
	return 0;
}

/* A copy of a vma (mremap's, which it may close again at once) maps the region too. */
static void uacce_vma_open(struct vm_area_struct *vma)
{
	struct uacce_queue *q = vma->vm_private_data;

	down_write(&q->map_lock);
	if (!WARN_ON_ONCE(!q->qfrs[vma->vm_pgoff]))
		q->qfrs[vma->vm_pgoff]->nr_vmas++;
	up_write(&q->map_lock);
}

/* The region is free to map again once its last vma has gone. */
static void uacce_vma_close(struct vm_area_struct *vma)
{
	struct uacce_queue *q = vma->vm_private_data;
	struct uacce_qfile_region *qfr;

	down_write(&q->map_lock);
	qfr = q->qfrs[vma->vm_pgoff];
	if (WARN_ON_ONCE(!qfr) || --qfr->nr_vmas)
		qfr = NULL;
	else
		q->qfrs[vma->vm_pgoff] = NULL;
	up_write(&q->map_lock);
	kfree(qfr);
}

/*
 * A zombie queue's mappings fault in harmless memory of the holder's own,
 * charged to it: in the MMIO region a copy of the device's "revoked" page,
 * elsewhere zeroes.  A client caught between checking the queue's state and
 * touching its rings writes into this, reads "revoked" next and fails
 * cleanly; nothing reaches the device's memory, and nobody is killed.
 */
static vm_fault_t uacce_fault_scratch(struct vm_fault *vmf, struct uacce_queue *q)
{
	struct page *page;

	page = alloc_page(GFP_USER | __GFP_ZERO | __GFP_ACCOUNT);
	if (!page)
		return VM_FAULT_OOM;
	if (vmf->vma->vm_pgoff == UACCE_QFRT_MMIO && q->uacce->zombie_page)
		copy_highpage(page, q->uacce->zombie_page);
	vmf->page = page;	/* its reference now belongs to the mapping */
	return 0;
}

/*
 * A live queue's page, mapped here and not at mmap time, with q->map_lock
 * held: the file's rules at the top say why revocation then reaches it.
 */
static vm_fault_t uacce_fault_live(struct vm_fault *vmf, struct uacce_queue *q)
{
	struct vm_area_struct *vma = vmf->vma;
	enum uacce_qfrt type = vma->vm_pgoff;
	unsigned long pgoff = (vmf->address - vma->vm_start) >> PAGE_SHIFT;
	struct page *page = NULL;
	int ret;

	if (pgoff < q->uacce->qf_pg_num[type])
		page = q->uacce->ops->region_page(q, type, pgoff);
	if (!page)
		return VM_FAULT_SIGBUS;
	ret = vm_insert_page(vma, vmf->address, page);
	if (ret == -ENOMEM)
		return VM_FAULT_OOM;
	/* -EBUSY: another thread of the holder mapped it first. */
	return ret && ret != -EBUSY ? VM_FAULT_SIGBUS : VM_FAULT_NOPAGE;
}

static vm_fault_t uacce_vma_fault(struct vm_fault *vmf)
{
	struct uacce_queue *q = vmf->vma->vm_private_data;
	vm_fault_t ret;

	down_read(&q->map_lock);
	if (q->state == UACCE_Q_ZOMBIE) {
		up_read(&q->map_lock);
		return uacce_fault_scratch(vmf, q);
	}
	ret = uacce_fault_live(vmf, q);
	up_read(&q->map_lock);
	return ret;
}

/* A region moves or splits only whole and in place: refuse mremap and partial unmaps. */
static int uacce_vma_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

static int uacce_vma_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

static const struct vm_operations_struct uacce_vm_ops = {
	.open = uacce_vma_open,
	.close = uacce_vma_close,
	.fault = uacce_vma_fault,
	.mremap = uacce_vma_mremap,
	.may_split = uacce_vma_may_split,
};

/* Checks and counts the region; its pages come at fault time. */
static int uacce_fops_mmap(struct file *filep, struct vm_area_struct *vma)
{
	struct uacce_queue *q = filep->private_data;
	struct uacce_qfile_region *qfr;
	enum uacce_qfrt type;
	int ret = 0;

	if (vma->vm_pgoff >= UACCE_MAX_REGION)
		return -EINVAL;
	type = vma->vm_pgoff;
	qfr = kzalloc(sizeof(*qfr), GFP_KERNEL);
	if (!qfr)
		return -ENOMEM;
	down_write(&q->map_lock);
	/* Live under map_lock: removal has not reached us, ops is still set. */
	if (q->state == UACCE_Q_ZOMBIE)
		ret = -ENXIO;
	else if (uacce_foreign(q, vma->vm_mm))
		ret = -EPERM;
	else if (!q->uacce->ops->region_page || vma_pages(vma) != q->uacce->qf_pg_num[type])
		ret = -EINVAL;
	else if (q->qfrs[type])
		ret = -EEXIST;
	if (!ret) {
		qfr->type = type;
		qfr->nr_vmas = 1;
		q->qfrs[type] = qfr;
		qfr = NULL;
	}
	up_write(&q->map_lock);
	kfree(qfr);
	if (ret)
		return ret;
	uacce_vm_flags_set(vma, UACCE_VM_FLAGS);
	vma->vm_ops = &uacce_vm_ops;
	vma->vm_private_data = q;
	return 0;
}

/*
 * A queue has no page cache, whatever filesystem its node is on: every
 * advice has nothing to act on.  The generic one would read ahead into
 * q->mapping when the node's filesystem has a backing device.
 */
static int uacce_fops_fadvise(struct file *file, loff_t offset, loff_t len, int advice)
{
	switch (advice) {
	case POSIX_FADV_NORMAL:
	case POSIX_FADV_RANDOM:
	case POSIX_FADV_SEQUENTIAL:
	case POSIX_FADV_WILLNEED:
	case POSIX_FADV_NOREUSE:
	case POSIX_FADV_DONTNEED:
		return len < 0 ? -EINVAL : 0;
	default:
		return -EINVAL;
	}
}

static __poll_t uacce_fops_poll(struct file *file, poll_table *wait)
{
	struct uacce_queue *q = file->private_data;
	__poll_t ret = 0;

	poll_wait(file, &q->wait, wait);
	mutex_lock(&q->mutex);
	if (q->state == UACCE_Q_ZOMBIE)
		ret = EPOLLERR | EPOLLHUP;
	else if (uacce_foreign(q, current->mm))
		ret = EPOLLERR;	/* not the owner: nothing of this queue is its to wait for */
	else if (q->uacce->ops->is_q_updated && q->uacce->ops->is_q_updated(q))
		ret = EPOLLIN | EPOLLRDNORM;
	mutex_unlock(&q->mutex);
	return ret;
}

static const struct file_operations uacce_fops = {
	.owner = THIS_MODULE,
	.open = uacce_fops_open,
	.release = uacce_fops_release,
	.unlocked_ioctl = uacce_fops_unl_ioctl,
#ifdef CONFIG_COMPAT
	.compat_ioctl = uacce_fops_compat_ioctl,
#endif
	.mmap = uacce_fops_mmap,
	.poll = uacce_fops_poll,
	.fadvise = uacce_fops_fadvise,
	.llseek = no_llseek,
};

#define to_uacce_device(d) container_of(d, struct uacce_device, dev)

static ssize_t api_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", to_uacce_device(dev)->api_ver);
}

static ssize_t flags_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", to_uacce_device(dev)->flags);
}

static ssize_t available_instances_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct uacce_device *uacce = to_uacce_device(dev);

	if (!uacce->ops->get_available_instances)
		return -ENODEV;
	return sysfs_emit(buf, "%d\n", uacce->ops->get_available_instances(uacce));
}

static ssize_t algorithms_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", to_uacce_device(dev)->algs);
}

static ssize_t region_mmio_size_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", to_uacce_device(dev)->qf_pg_num[UACCE_QFRT_MMIO] << PAGE_SHIFT);
}

static ssize_t region_dus_size_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", to_uacce_device(dev)->qf_pg_num[UACCE_QFRT_DUS] << PAGE_SHIFT);
}

static ssize_t isolate_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct uacce_device *uacce = to_uacce_device(dev);

	return sysfs_emit(buf, "%d\n", uacce->ops->get_isolate_state ?
				       uacce->ops->get_isolate_state(uacce) : UACCE_DEV_NORMAL);
}

static ssize_t isolate_strategy_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct uacce_device *uacce = to_uacce_device(dev);

	return sysfs_emit(buf, "%u\n", uacce->ops->isolate_err_threshold_read ?
				       uacce->ops->isolate_err_threshold_read(uacce) : 0);
}

static ssize_t isolate_strategy_store(struct device *dev, struct device_attribute *attr,
				      const char *buf, size_t count)
{
	struct uacce_device *uacce = to_uacce_device(dev);
	unsigned long val;
	int ret;

	if (!uacce->ops->isolate_err_threshold_write)
		return -EOPNOTSUPP;
	if (kstrtoul(buf, 0, &val) < 0 || val > UACCE_MAX_ERR_THRESHOLD)
		return -EINVAL;
	ret = uacce->ops->isolate_err_threshold_write(uacce, val);
	return ret < 0 ? ret : count;
}

/* What this uacce adds to mainline's UAPI (include/accel/uacce.h). */
static ssize_t features_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s %s\n", UACCE_FEATURE_BIND_MM, UACCE_FEATURE_REVOKE);
}

static DEVICE_ATTR_RO(api);
static DEVICE_ATTR_RO(flags);
static DEVICE_ATTR_RO(available_instances);
static DEVICE_ATTR_RO(algorithms);
static DEVICE_ATTR_RO(region_mmio_size);
static DEVICE_ATTR_RO(region_dus_size);
static DEVICE_ATTR_RO(isolate);
static DEVICE_ATTR_RW(isolate_strategy);
static DEVICE_ATTR_RO(features);

static struct attribute *uacce_dev_attrs[] = {
	&dev_attr_api.attr,
	&dev_attr_flags.attr,
	&dev_attr_available_instances.attr,
	&dev_attr_algorithms.attr,
	&dev_attr_region_mmio_size.attr,
	&dev_attr_region_dus_size.attr,
	&dev_attr_isolate.attr,
	&dev_attr_isolate_strategy.attr,
	&dev_attr_features.attr,
	NULL,
};
ATTRIBUTE_GROUPS(uacce_dev);

static void uacce_release(struct device *dev)
{
	struct uacce_device *uacce = to_uacce_device(dev);

	if (uacce->zombie_page)
		put_page(uacce->zombie_page);
	kfree(uacce);
}

/**
 * uacce_alloc() - allocate a uacce device
 * @parent: the parent device
 * @interface: name, flags and operations
 *
 * Return: the device, to be filled (algs, api_ver, qf_pg_num) and passed to
 * uacce_register(), or an ERR_PTR.  Release it with uacce_remove().
 */
struct uacce_device *uacce_alloc(struct device *parent, struct uacce_interface *interface)
{
	struct uacce_device *uacce;
	int ret;

	uacce = kzalloc(sizeof(*uacce), GFP_KERNEL);
	if (!uacce)
		return ERR_PTR(-ENOMEM);
	uacce->parent = parent;
	uacce->flags = interface->flags;
	uacce->ops = interface->ops;
	INIT_LIST_HEAD(&uacce->queues);
	mutex_init(&uacce->mutex);
	ret = xa_alloc(&uacce_xa, &uacce->dev_id, uacce, XA_LIMIT(0, MINORMASK - 1), GFP_KERNEL);
	if (ret < 0) {
		kfree(uacce);
		return ERR_PTR(ret);
	}
	device_initialize(&uacce->dev);
	uacce->dev.devt = MKDEV(MAJOR(uacce_devt), uacce->dev_id);
	uacce->dev.class = uacce_class;
	uacce->dev.groups = uacce_dev_groups;
	uacce->dev.parent = parent;
	uacce->dev.release = uacce_release;
	ret = dev_set_name(&uacce->dev, "%s-%u", interface->name, uacce->dev_id);
	if (ret < 0) {
		xa_erase(&uacce_xa, uacce->dev_id);
		put_device(&uacce->dev);
		return ERR_PTR(ret);
	}
	return uacce;
}
EXPORT_SYMBOL_GPL(uacce_alloc);

/**
 * uacce_register() - make the device visible: its node and sysfs attributes
 * @uacce: from uacce_alloc()
 */
int uacce_register(struct uacce_device *uacce)
{
	int ret;

	if (!uacce)
		return -ENODEV;
	if (uacce->zombie_mmio) {
		if (uacce->zombie_mmio_len > PAGE_SIZE)
			return -EINVAL;
		uacce->zombie_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!uacce->zombie_page)
			return -ENOMEM;
		memcpy(page_address(uacce->zombie_page), uacce->zombie_mmio, uacce->zombie_mmio_len);
	}
	uacce->cdev = cdev_alloc();
	if (!uacce->cdev)
		return -ENOMEM;
	uacce->cdev->ops = &uacce_fops;
	uacce->cdev->owner = THIS_MODULE;
	/*
	 * cdev_device_add() in two steps: on its failure the caller cannot tell
	 * whether the cdev was freed (device_add failed) or not (cdev_add did).
	 * The cdev holds the device once cdev_add() succeeds: open files keep
	 * the structure through it.
	 */
	cdev_set_parent(uacce->cdev, &uacce->dev.kobj);
	ret = cdev_add(uacce->cdev, uacce->dev.devt, 1);
	if (ret < 0) {
		uacce->cdev->kobj.parent = NULL;	/* not taken: not to drop */
		kobject_put(&uacce->cdev->kobj);
		uacce->cdev = NULL;
		return ret;
	}
	ret = device_add(&uacce->dev);
	if (ret < 0) {
		cdev_del(uacce->cdev);	/* our reference: uacce_remove() must not drop it again */
		uacce->cdev = NULL;
	}
	return ret;
}
EXPORT_SYMBOL_GPL(uacce_register);

/**
 * uacce_remove() - remove the device; its open queues become zombies
 * @uacce: from uacce_alloc()
 *
 * Every queue is stopped and put, and its mappings zapped, before this
 * returns: the driver may free its queues' memory afterwards.  The files
 * stay open (every operation fails) until their holders close them.
 */
void uacce_remove(struct uacce_device *uacce)
{
	struct uacce_queue *q;

	if (!uacce)
		return;
	mutex_lock(&uacce->mutex);
	list_for_each_entry(q, &uacce->queues, list) {
		mutex_lock(&q->mutex);
		uacce_revoke_queue(q);	/* unbound while the driver's binder is there */
		mutex_unlock(&q->mutex);
	}
	xa_erase(&uacce_xa, uacce->dev_id);
	uacce->parent = NULL;	/* opens racing with us fail from here on */
	mutex_unlock(&uacce->mutex);

	if (uacce->cdev)
		cdev_device_del(uacce->cdev, &uacce->dev);
	/*
	 * Attributes are gone (device_del drains their readers): from here on
	 * nothing reaches the driver's ops, which may go with its module.
	 */
	mutex_lock(&uacce->mutex);
	uacce->ops = NULL;
	mutex_unlock(&uacce->mutex);
	put_device(&uacce->dev);
}
EXPORT_SYMBOL_GPL(uacce_remove);

static int __init uacce_init(void)
{
	int ret;

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	uacce_class = class_create(UACCE_NAME);
#else
	uacce_class = class_create(THIS_MODULE, UACCE_NAME);
#endif
	if (IS_ERR(uacce_class))
		return PTR_ERR(uacce_class);
	ret = alloc_chrdev_region(&uacce_devt, 0, MINORMASK, UACCE_NAME);
	if (ret)
		class_destroy(uacce_class);
	return ret;
}

static void __exit uacce_exit(void)
{
	unregister_chrdev_region(uacce_devt, MINORMASK);
	class_destroy(uacce_class);
}

subsys_initcall(uacce_init);
module_exit(uacce_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("uacce: user-space accelerator queues (for kernels without CONFIG_UACCE)");

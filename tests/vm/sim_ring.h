/* SPDX-License-Identifier: MIT */
/*
 * A holder's side of an accel_sim queue, without libaccel: the rings of
 * either descriptor form (accel_sim_v1 offsets, accel_sim_sva_v1 pointers)
 * driven directly, and fds passed over a socketpair as the broker passes
 * them.  Shared by the VM check (vm_sva.c) and the VM bench (vm_bench.c).
 */
#ifndef VM_SIM_RING_H
#define VM_SIM_RING_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <accel/sim.h>

#define SIM_RING_MASK	(ACCEL_SIM_RING_ENTRIES - 1)

/* A queue as its holder drives it: the rings of either descriptor form. */
struct ring {
	int fd;
	bool sva;
	struct accel_sim_regs *regs;
	unsigned char *dus;
	size_t dus_size;
	uint32_t tail, head;
};

/* One message on the socketpair, with up to four fds. */
static inline int send_msg(int sock, const void *data, size_t len, const int *fds, int n_fds)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))] = { 0 };
	struct iovec iov = { (void *)data, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (n_fds) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, n_fds * sizeof(int));
	}
	return sendmsg(sock, &mh, 0) == (ssize_t)len ? 0 : -1;
}

/* Returns the bytes received (0: peer gone); fds into @fds, their number in *@n_fds. */
static inline ssize_t recv_msg(int sock, void *data, size_t len, int *fds, int *n_fds)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))];
	struct iovec iov = { data, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

	if (n_fds)
		*n_fds = 0;
	for (cm = CMSG_FIRSTHDR(&mh); n >= 0 && cm && fds; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			*n_fds = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(cm), *n_fds * sizeof(int));
		}
	return n;
}

static inline int ring_map(struct ring *r, int fd, bool sva)
{
	r->fd = fd;
	r->sva = sva;
	r->tail = r->head = 0;
	r->dus_size = sva ? ACCEL_SIM_DATA_OFFSET : ACCEL_SIM_DUS_SIZE;
	r->regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r->regs == MAP_FAILED)
		return -errno;
	r->dus = mmap(NULL, r->dus_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
	if (r->dus == MAP_FAILED) {
		munmap(r->regs, 4096);
		return -errno;
	}
	return 0;
}

static inline void ring_ring(struct ring *r)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* sq_tail before dev_flags */
	if (__atomic_load_n(&r->regs->dev_flags, __ATOMIC_RELAXED) & ACCEL_SIM_DEV_NEED_WAKEUP)
		ioctl(r->fd, ACCEL_SIM_CMD_DOORBELL);
}

/* Put a descriptor (48 bytes, either form) on the ring and tell the device. */
static inline void ring_submit(struct ring *r, const void *desc)
{
	memcpy(r->dus + ACCEL_SIM_SQ_OFFSET + (r->tail & SIM_RING_MASK) * sizeof(struct accel_sim_desc), desc,
	       sizeof(struct accel_sim_desc));
	__atomic_store_n(&r->regs->sq_tail, ++r->tail, __ATOMIC_RELEASE);
	ring_ring(r);
}

/* The next completion, waiting up to about 60 s; -ENOLINK once the queue is not active. */
static inline int ring_wait(struct ring *r, struct accel_sim_cqe *c)
{
	const struct accel_sim_cqe *cq = (const void *)(r->dus + ACCEL_SIM_CQ_OFFSET);

	for (int i = 0; i < 6000; i++) {
		/* First: a revoked queue's regs are scratch, its indices meaningless. */
		if (__atomic_load_n(&r->regs->state, __ATOMIC_ACQUIRE) != ACCEL_SIM_STATE_ACTIVE)
			return -ENOLINK;
		if (__atomic_load_n(&r->regs->cq_tail, __ATOMIC_ACQUIRE) != r->head) {
			*c = cq[r->head & SIM_RING_MASK];
			__atomic_store_n(&r->regs->cq_head, ++r->head, __ATOMIC_RELEASE);
			return 0;
		}
		ring_ring(r);
		poll(&(struct pollfd){ .fd = r->fd, .events = POLLIN }, 1, 10);
	}
	return -ETIMEDOUT;
}

#endif

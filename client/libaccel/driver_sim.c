// SPDX-License-Identifier: MIT
/*
 * The user drivers of accel_sim_v1 and accel_sim_sva_v1 (include/accel/sim.h),
 * one code: they differ only in the descriptor (DUS offsets into the data
 * area, or the caller's own addresses on an SVA queue) and in having a data
 * area at all.  Fill descriptors,
 * move the ring indices, and make a system call only when the device says
 * it sleeps (NEED_WAKEUP) or when we sleep ourselves.  The broker's engine
 * is woken and waited for with futexes on the shared page; the kernel's
 * with an ioctl on the queue fd and poll().
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <accel/sim.h>

#include "libaccel.h"
#include "util.h"

_Static_assert(ACCEL_OP_CONTINUE == ACCEL_SIM_F_CONTINUE, "op flags");
_Static_assert(ACCEL_OP_FINISH == ACCEL_SIM_F_FINISH, "op flags");
_Static_assert(ACCEL_COMPLETION_STREAM_END == ACCEL_SIM_CF_STREAM_END, "completion flags");

#define SIM_CLIENT_SPIN_NSEC 20000

struct sim_state {
	struct accel_sim_regs *regs;
	struct accel_sim_desc *sq;
	struct accel_sim_cqe *cq;
	unsigned char *dus;
	uint32_t sq_entries, cq_entries;
	uint32_t data_offset, data_size;
	uint32_t wake;
	int fd;			/* the queue fd: the kernel device's doorbell and wait */
	uint32_t op;
	uint32_t sq_tail;	/* ours; published to regs->sq_tail */
	uint32_t cq_head;	/* ours; published to regs->cq_head */
	uint32_t kick_tail;	/* sq_tail when we last rang the broker's engine */
	const bool *lost;	/* the queue's: no broker knows it any more */
	bool sva;		/* accel_sim_sva_v1: addresses in our address space, no data area */
	/*
	 * The event loop arms with regs.event_arm, apart from accel_wait()'s
	 * CQ_WAIT; false on a broker before it (features), where the loop
	 * shares CQ_WAIT as it always did.
	 */
	bool own_arm;
	uint32_t arms;		/* our count in regs.event_arm (ACCEL_SIM_EVENT_ARM_STEP each) */
};

static const char *const op_names[] = ACCEL_SIM_OP_NAMES;

static bool fits(uint64_t offset, uint64_t len, uint64_t size)
{
	return offset <= size && len <= size - offset;
}

/* The data area, which only an accel_sim_v1 queue has, lies inside the DUS. */
static bool data_area_ok(const struct accel_sim_regs *regs, size_t dus_size, bool sva)
{
	if (sva)
		return regs->data_size == 0;
	return fits(regs->data_offset, regs->data_size, dus_size) && regs->data_size >= 2;
}

static int sim_init_common(struct accel_queue *q, bool sva)
{
	struct accel_sim_regs *regs = q->mmio;
	struct sim_state *s;
	uint32_t op;

	if (q->mmio_size < sizeof(*regs) || regs->magic != ACCEL_SIM_MAGIC ||
	    regs->version != ACCEL_SIM_VERSION)
		return -EPROTO;
	op = regs->algorithm;
	if (op == 0 || op >= sizeof(op_names) / sizeof(op_names[0]) ||
	    strcmp(op_names[op], q->algorithm) != 0)
		return -EPROTO;
	/* The geometry must lie inside what we mapped, or we would fault. */
	if (regs->sq_entries == 0 || (regs->sq_entries & (regs->sq_entries - 1)) ||
	    regs->cq_entries == 0 || (regs->cq_entries & (regs->cq_entries - 1)) ||
	    !fits(regs->sq_offset, (uint64_t)regs->sq_entries * sizeof(struct accel_sim_desc), q->dus_size) ||
	    !fits(regs->cq_offset, (uint64_t)regs->cq_entries * sizeof(struct accel_sim_cqe), q->dus_size) ||
	    !data_area_ok(regs, q->dus_size, sva))
		return -EPROTO;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->regs = regs;
	s->dus = q->dus;
	s->sq = (struct accel_sim_desc *)(s->dus + regs->sq_offset);
	s->cq = (struct accel_sim_cqe *)(s->dus + regs->cq_offset);
	s->sq_entries = regs->sq_entries;
	s->cq_entries = regs->cq_entries;
	s->data_offset = regs->data_offset;
	s->data_size = regs->data_size;
	s->wake = regs->wake;
	if (s->wake != ACCEL_SIM_WAKE_FUTEX && s->wake != ACCEL_SIM_WAKE_DOORBELL) {
		free(s);
		return -EPROTO;
	}
	s->fd = q->fd;
	s->lost = &q->lost;
	s->op = op;
	s->sva = sva;
	s->sq_tail = __atomic_load_n(&regs->sq_tail, __ATOMIC_ACQUIRE);
	s->cq_head = __atomic_load_n(&regs->cq_head, __ATOMIC_ACQUIRE);
	s->kick_tail = __atomic_load_n(&regs->sq_head, __ATOMIC_ACQUIRE);
	if (s->wake == ACCEL_SIM_WAKE_FUTEX && (regs->features & ACCEL_SIM_FEAT_EVENT_ARM)) {
		s->own_arm = true;
		s->arms = __atomic_load_n(&regs->event_arm, __ATOMIC_RELAXED) & ~ACCEL_SIM_EVENT_ARMED;
		__atomic_fetch_or(&regs->client_flags, ACCEL_SIM_CLIENT_EVENT_ARM, __ATOMIC_SEQ_CST);
	}
	q->driver_state = s;
	return 0;
}

static int sim_init(struct accel_queue *q)
{
	return sim_init_common(q, false);
}

static int sim_sva_init(struct accel_queue *q)
{
	return sim_init_common(q, true);
}

static void sim_finish(struct accel_queue *q)
{
	free(q->driver_state);
	q->driver_state = NULL;
}

static int queue_state_error(const struct sim_state *s)
{
	if (__atomic_load_n(s->lost, __ATOMIC_ACQUIRE))
		return -ENOLINK;
	switch (__atomic_load_n(&s->regs->state, __ATOMIC_ACQUIRE)) {
	case ACCEL_SIM_STATE_ACTIVE:
		return 0;
	case ACCEL_SIM_STATE_REVOKED:
		return -ENOLINK;
	default:
		return -EIO;
	}
}

static enum accel_queue_state sim_state(const struct accel_queue *q)
{
	const struct sim_state *s = q->driver_state;

	if (__atomic_load_n(s->lost, __ATOMIC_ACQUIRE))
		return ACCEL_QUEUE_REVOKED;
	switch (__atomic_load_n(&s->regs->state, __ATOMIC_ACQUIRE)) {
	case ACCEL_SIM_STATE_ACTIVE:
		return ACCEL_QUEUE_ACTIVE;
	case ACCEL_SIM_STATE_REVOKED:
		return ACCEL_QUEUE_REVOKED;
	default:
		return ACCEL_QUEUE_BROKEN;
	}
}

static unsigned sim_in_flight(struct accel_queue *q)
{
	struct sim_state *s = q->driver_state;

	return s->sq_tail - s->cq_head;
}

static void ring(struct sim_state *s)
{
	if (s->wake == ACCEL_SIM_WAKE_FUTEX)
		syscall(SYS_futex, &s->regs->sq_tail, FUTEX_WAKE, 1, NULL, NULL, 0);
	else
		ioctl(s->fd, ACCEL_SIM_CMD_DOORBELL);
}

/* Wake the device if it sleeps; the fence pairs with the engine's. */
static void kick_if_sleeping(struct sim_state *s)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&s->regs->dev_flags, __ATOMIC_RELAXED) & ACCEL_SIM_DEV_NEED_WAKEUP)
		ring(s);
}

/*
 * After publishing a descriptor: ring a sleeping engine, but once per
 * wake-up, not once per descriptor.  The broker's engine sleeps only with
 * nothing runnable (and in flight never exceeds the CQ, so pending work
 * always is): while it has not taken what we had published when we last
 * rang it, it is awake, or about to look, and will see this one too.  A
 * burst of submits while it wakes then costs one system call, not one
 * each (it clears NEED_WAKEUP only once it runs).  The kernel's engine is
 * rung as before.
 */
static void kick_after_submit(struct sim_state *s)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!(__atomic_load_n(&s->regs->dev_flags, __ATOMIC_RELAXED) & ACCEL_SIM_DEV_NEED_WAKEUP))
		return;
	if (s->wake == ACCEL_SIM_WAKE_FUTEX &&
	    (int32_t)(__atomic_load_n(&s->regs->sq_head, __ATOMIC_ACQUIRE) - s->kick_tail) < 0)
		return;
	s->kick_tail = s->sq_tail;
	ring(s);
}

/* The DUS offset of [p, p + len), or -EFAULT when it is not in the data area. */
static int64_t data_offset_of(const struct sim_state *s, const void *p, size_t len)
{
	const unsigned char *start = s->dus + s->data_offset;
	const unsigned char *c = p;

	if (c < start || c > start + s->data_size || len > (size_t)(start + s->data_size - c))
		return -EFAULT;
	return (int64_t)(c - s->dus);
}

/* An accel_sim_v1 descriptor: source and destination inside the data area. */
static int fill_desc(struct sim_state *s, const struct accel_op *op, void *slot)
{
	int64_t src = data_offset_of(s, op->src, op->src_len);
	int64_t dst = data_offset_of(s, op->dst, op->dst_len);

	if (src < 0 || dst < 0)
		return -EFAULT;
	*(struct accel_sim_desc *)slot = (struct accel_sim_desc){
		.user_data = op->user_data,
		.arg = op->arg,
		.op = s->op,
		.flags = op->flags,
		.src_offset = (uint32_t)src,
		.src_len = (uint32_t)op->src_len,
		.dst_offset = (uint32_t)dst,
		.dst_len = (uint32_t)op->dst_len,
	};
	return 0;
}

/*
 * An accel_sim_sva_v1 descriptor: the caller's pointers as they are, the
 * device reads and writes them in our address space (zero copies).  An
 * address we do not map completes with -EFAULT; the kernel checks it.
 */
static int fill_sva_desc(struct sim_state *s, const struct accel_op *op, void *slot)
{
	if (op->src_len > UINT32_MAX || op->dst_len > UINT32_MAX)
		return -E2BIG;
	*(struct accel_sim_sva_desc *)slot = (struct accel_sim_sva_desc){
		.user_data = op->user_data,
		.arg = op->arg,
		.op = s->op,
		.flags = op->flags,
		.src = (uint64_t)(uintptr_t)op->src,
		.dst = (uint64_t)(uintptr_t)op->dst,
		.src_len = (uint32_t)op->src_len,
		.dst_len = (uint32_t)op->dst_len,
	};
	return 0;
}

static int sim_submit(struct accel_queue *q, const struct accel_op *op)
{
	struct sim_state *s = q->driver_state;
	uint32_t limit = s->sq_entries < s->cq_entries ? s->sq_entries : s->cq_entries;
	int r = queue_state_error(s);

	if (r < 0)
		return r;
	if (!op || (op->flags & ~(ACCEL_OP_CONTINUE | ACCEL_OP_FINISH)))
		return -EINVAL;
	/* Never more in flight than the CQ holds: the device would stall. */
	if (s->sq_tail - s->cq_head >= limit)
		return -EAGAIN;
	r = (s->sva ? fill_sva_desc : fill_desc)(s, op, &s->sq[s->sq_tail & (s->sq_entries - 1)]);
	if (r < 0)
		return r;
	s->sq_tail++;
	__atomic_store_n(&s->regs->sq_tail, s->sq_tail, __ATOMIC_RELEASE);
	kick_after_submit(s);
	return 0;
}

static int sim_poll(struct accel_queue *q, struct accel_completion *out, unsigned max)
{
	struct sim_state *s = q->driver_state;
	uint32_t tail;
	unsigned n = 0;
	int r = queue_state_error(s);

	/*
	 * A revoked queue's rings may be gone (the kernel swaps scratch pages
	 * in, the regs saying "revoked"): look at nothing else.
	 */
	if (r < 0)
		return r;
	tail = __atomic_load_n(&s->regs->cq_tail, __ATOMIC_ACQUIRE);
	if (tail - s->cq_head > s->sq_tail - s->cq_head) {
		/* Revoked meanwhile (the kernel swapped the pages under us), or broken. */
		r = queue_state_error(s);
		return r < 0 ? r : -EIO;	/* more completions than we submitted */
	}
	while (n < max && s->cq_head != tail) {
		const struct accel_sim_cqe *c = &s->cq[s->cq_head & (s->cq_entries - 1)];
		out[n++] = (struct accel_completion){
			.user_data = c->user_data,
			.status = c->status,
			.flags = c->flags,
			.consumed = c->consumed,
			.produced = c->produced,
			.value = c->value,
		};
		s->cq_head++;
	}
	/*
	 * What we read is only good if the queue was not revoked while we read
	 * it (the fence: the completions' loads before the state's).
	 */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	r = queue_state_error(s);
	if (r < 0)
		return r;
	if (n > 0)
		__atomic_store_n(&s->regs->cq_head, s->cq_head, __ATOMIC_RELEASE);
	return (int)n;
}

static int64_t now_nsec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleep on cq_tail until it moves past @seen, the deadline passes, or a signal. */
static void sleep_on_cq(struct sim_state *s, uint32_t seen, int64_t deadline)
{
	struct timespec ts, *tp = NULL;

	if (deadline >= 0) {
		int64_t left = deadline - now_nsec();
		if (left <= 0)
			return;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		tp = &ts;
	}
	if (s->wake == ACCEL_SIM_WAKE_DOORBELL) {
		/* The kernel's poll() checks cq_tail under its wait queue: no lost wake-up. */
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		poll(&p, 1, tp ? (int)(tp->tv_sec * 1000 + tp->tv_nsec / 1000000 + 1) : -1);
		return;
	}
	__atomic_fetch_or(&s->regs->client_flags, ACCEL_SIM_CLIENT_CQ_WAIT, __ATOMIC_SEQ_CST);
	/* Pairs with the engine's fence between publishing cq_tail and reading our flag. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&s->regs->cq_tail, __ATOMIC_ACQUIRE) == seen && queue_state_error(s) == 0)
		syscall(SYS_futex, &s->regs->cq_tail, FUTEX_WAIT, seen, tp, NULL, 0);
	__atomic_fetch_and(&s->regs->client_flags, ~ACCEL_SIM_CLIENT_CQ_WAIT, __ATOMIC_RELAXED);
}

static int sim_wait(struct accel_queue *q, struct accel_completion *out, unsigned max,
		    int timeout_ms)
{
	struct sim_state *s = q->driver_state;
	int64_t start = now_nsec();
	int64_t deadline = timeout_ms < 0 ? -1 : start + (int64_t)timeout_ms * 1000000;
	int n;

	if (max == 0 || s->sq_tail == s->cq_head)
		return -EINVAL;	/* nothing to wait for */
	for (;;) {
		n = sim_poll(q, out, max);
		if (n != 0)
			return n;
		n = queue_state_error(s);
		if (n < 0)
			return n;
		int64_t now = now_nsec();
		if (deadline >= 0 && now >= deadline)
			return -ETIME;
		if (now - start < SIM_CLIENT_SPIN_NSEC) {
			cpu_relax();
			continue;
		}
		/* The device may have stopped on a full CQ, waiting for us to reap. */
		kick_if_sleeping(s);
		/* Sleep while cq_tail still equals what we have reaped up to. */
		sleep_on_cq(s, s->cq_head, deadline);
	}
}

/*
 * The event loop's side.  The kernel's queue fd polls readable while
 * completions wait (its poll() compares cq_tail with our cq_head): nothing
 * to arm.  The software engine writes a byte into the queue's event pipe
 * when it posts completions and finds the loop armed, which it only is
 * while the loop sleeps, and once per arm: a busy queue costs no system
 * call at either end, a sleeping loop one write.
 */
static int sim_event_fd(const struct accel_queue *q)
{
	const struct sim_state *s = q->driver_state;

	if (s->wake == ACCEL_SIM_WAKE_DOORBELL)
		return s->fd;
	return q->event_fd >= 0 ? q->event_fd : -EOPNOTSUPP;	/* a broker before event pipes */
}

/* Whether the loop must look now: completions to reap, or the queue is gone. */
static bool sim_must_look(const struct sim_state *s)
{
	return __atomic_load_n(&s->regs->cq_tail, __ATOMIC_ACQUIRE) != s->cq_head || queue_state_error(s) < 0;
}

/*
 * The loop's arm on the software engine, raised or lowered.  Our own word
 * (event_arm): accel_wait() on another thread sets and clears CQ_WAIT as
 * it sleeps and wakes, and would otherwise lower the loop's arm under it,
 * leaving the loop asleep on a completion that came.  Each raise is a new
 * count, so the engine answers it once.  On a broker before event_arm the
 * loop has only CQ_WAIT, and that hazard, as before.
 */
static void event_arm_set(struct sim_state *s, bool on)
{
	if (!s->own_arm) {
		if (on)
			__atomic_fetch_or(&s->regs->client_flags, ACCEL_SIM_CLIENT_CQ_WAIT, __ATOMIC_SEQ_CST);
		else
			__atomic_fetch_and(&s->regs->client_flags, ~ACCEL_SIM_CLIENT_CQ_WAIT, __ATOMIC_RELAXED);
		return;
	}
	if (on) {
		s->arms += ACCEL_SIM_EVENT_ARM_STEP;
		__atomic_store_n(&s->regs->event_arm, s->arms | ACCEL_SIM_EVENT_ARMED, __ATOMIC_SEQ_CST);
	} else {
		__atomic_store_n(&s->regs->event_arm, s->arms, __ATOMIC_RELAXED);
	}
}

/*
 * Arm, re-check: raise the arm, then look at cq_tail once more.  The fence
 * pairs with the engine's between publishing cq_tail and reading our
 * arm: either we see its completions here (1: reap them, then arm again)
 * or it sees the arm and writes the pipe (0: sleep in the loop).
 */
static int sim_event_arm(struct accel_queue *q)
{
	struct sim_state *s = q->driver_state;

	if (s->wake == ACCEL_SIM_WAKE_FUTEX) {
		event_arm_set(s, true);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	if (sim_must_look(s)) {
		if (s->wake == ACCEL_SIM_WAKE_FUTEX)
			event_arm_set(s, false);
		return 1;
	}
	/* Work in flight and a sleeping device: ring it (once, see kick_after_submit()). */
	if (s->sq_tail != s->cq_head)
		kick_after_submit(s);
	return 0;
}

/*
 * The loop woke for this queue: take the wake-up (one read) and stop
 * asking for more.  The end of the pipe means no broker holds its write
 * end any more, not even systemd's fd store: no engine will ever serve the
 * queue again.  It is lost now, rather than a loop spinning on a pipe
 * that stays readable until the reconnecting thread finds out.
 */
static void sim_event_clear(struct accel_queue *q)
{
	struct sim_state *s = q->driver_state;
	char drain[256];
	ssize_t n;

	if (s->wake != ACCEL_SIM_WAKE_FUTEX || q->event_fd < 0)
		return;
	event_arm_set(s, false);
	while ((n = read(q->event_fd, drain, sizeof(drain))) == (ssize_t)sizeof(drain))
		;
	if (n == 0)
		__atomic_store_n(&q->lost, true, __ATOMIC_RELEASE);
}

/* An SVA queue has no data area: NULL, size 0 (accel_run() then copies nothing). */
static void *sim_buffer(struct accel_queue *q, size_t *size)
{
	struct sim_state *s = q->driver_state;

	if (size)
		*size = s->data_size;
	return s->sva ? NULL : s->dus + s->data_offset;
}

/* The queue was lost: a thread asleep on the software engine's cq_tail looks again. */
static void sim_interrupt(struct accel_queue *q)
{
	struct sim_state *s = q->driver_state;

	if (s->wake == ACCEL_SIM_WAKE_FUTEX)
		syscall(SYS_futex, &s->regs->cq_tail, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/*
 * The two apis differ only in how a queue is set up (and whether the
 * client binds it to its address space first); the data path is one code,
 * written once here for both tables.
 */
#define SIM_DRIVER_DATA_PATH			\
	.finish = sim_finish,			\
	.submit = sim_submit,			\
	.poll = sim_poll,			\
	.wait = sim_wait,			\
	.buffer = sim_buffer,			\
	.in_flight = sim_in_flight,		\
	.state = sim_state,			\
	.interrupt = sim_interrupt,		\
	.event_fd = sim_event_fd,		\
	.event_arm = sim_event_arm,		\
	.event_clear = sim_event_clear

const struct accel_driver accel_driver_sim = {
	.api = ACCEL_SIM_API,
	.bind_client = false,
	.init = sim_init,
	SIM_DRIVER_DATA_PATH,
};

const struct accel_driver accel_driver_sim_sva = {
	.api = ACCEL_SIM_SVA_API,
	.bind_client = true,
	.init = sim_sva_init,
	SIM_DRIVER_DATA_PATH,
};

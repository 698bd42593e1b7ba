// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sim_engine.h"
#include "sim_ops.h"
#include "util.h"

struct sim_thread;

/* One futex_waitv: every queue's sq_tail, and wake_seq. */
_Static_assert(SIM_ENGINE_THREAD_QUEUES + 1 == FUTEX_WAITV_MAX, "one wait per thread");

struct sim_queue {
	int refs;			/* atomic: the thread's list and a running turn */
	bool dead;			/* atomic: removed, do not start anything new */
	struct sim_thread *thread;
	int event_fd;			/* the write end of the client's wake-up pipe, or -1 */
	uint32_t event_answered;	/* the regs.event_arm we wrote the pipe for (0: none) */
	void *map;
	size_t map_size;
	struct accel_sim_regs *regs;	/* shared with the client: hostile */
	struct accel_sim_desc *sq;
	struct accel_sim_cqe *cq;
	/* The device's own copies; never re-read from the regs. */
	struct sim_region region;
	uint32_t sq_entries, cq_entries;
	uint32_t sq_head, cq_tail;
	bool broken;
	struct sim_stream stream;
	/* The descriptor at sq_head, started and not yet done (one turn's budget ran out). */
	struct sim_op op;
	bool running;
};

struct sim_thread {
	pthread_t tid;
	pthread_mutex_t lock;		/* protects queues, n_queues, cursor, stop */
	struct sim_queue *queues[SIM_ENGINE_THREAD_QUEUES];
	unsigned n_queues;
	unsigned cursor;
	bool stop;
	uint32_t wake_seq;		/* futex: bumped whenever the list changes */
	uint64_t sleeps;		/* atomic: futex_waitv calls, for sim_engine_get_stats() */
};

/* Threads and their list are changed by the broker's main thread only. */
struct sim_engine {
	unsigned n_threads, cap_threads;
	struct sim_thread **threads;
};

#define barrier() __asm__ __volatile__("" ::: "memory")

static long futex_wake(uint32_t *addr, bool private_)
{
	return syscall(SYS_futex, addr, private_ ? FUTEX_WAKE_PRIVATE : FUTEX_WAKE,
		       INT_MAX, NULL, NULL, 0);
}

static void sim_queue_unref(struct sim_queue *q)
{
	if (__atomic_sub_fetch(&q->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	sim_stream_finish(&q->stream);
	munmap(q->map, q->map_size);
	if (q->event_fd >= 0)
		close(q->event_fd);
	free(q);
}

/*
 * Tell the client's event loop to look at the queue: one byte into its
 * pipe.  Our end is non-blocking and the client has only the read end,
 * so it cannot make this block; a full pipe (a client that never drains)
 * is already readable, which is all the byte would say.
 */
static void event_signal(struct sim_queue *q)
{
	static const char one = 1;

	/* Its one failure, EAGAIN (full), leaves the pipe readable: nothing to do. */
	if (q->event_fd >= 0)
		(void)!write(q->event_fd, &one, 1);
}

/*
 * Completions were posted: wake who asked.  accel_wait()'s CQ_WAIT gets
 * the futex; an event loop's arm (event_arm, include/accel/sim.h) gets
 * one byte, once per arm, so a loop that sleeps through many turns costs
 * one write.  A client from before event_arm armed its loop with CQ_WAIT:
 * it gets the byte for CQ_WAIT, as it did.  The regs are the client's
 * to scribble on: a lie costs it its own wake-ups, nothing more.
 */
static void wake_for_completions(struct sim_queue *q)
{
	uint32_t flags = __atomic_load_n(&q->regs->client_flags, __ATOMIC_RELAXED);
	uint32_t arm;

	if (flags & ACCEL_SIM_CLIENT_CQ_WAIT)
		futex_wake(&q->regs->cq_tail, false);
	if (!(flags & ACCEL_SIM_CLIENT_EVENT_ARM)) {
		if (flags & ACCEL_SIM_CLIENT_CQ_WAIT)
			event_signal(q);
		return;
	}
	arm = __atomic_load_n(&q->regs->event_arm, __ATOMIC_RELAXED);
	if ((arm & ACCEL_SIM_EVENT_ARMED) && arm != q->event_answered) {
		q->event_answered = arm;
		event_signal(q);
	}
}

/* The queue ended (revoked, broken): wake everyone, asked or not. */
static void wake_waiters(struct sim_queue *q)
{
	futex_wake(&q->regs->cq_tail, false);
	event_signal(q);
}

static void queue_break(struct sim_queue *q)
{
	q->broken = true;
	if (__atomic_load_n(&q->dead, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&q->regs->state, ACCEL_SIM_STATE_BROKEN, __ATOMIC_RELEASE);
	wake_waiters(q);
}

/* Room in the CQ, or -1 when the client's cq_head is garbage. */
static int cq_room(struct sim_queue *q)
{
	uint32_t head = __atomic_load_n(&q->regs->cq_head, __ATOMIC_ACQUIRE);
	uint32_t used = q->cq_tail - head;

	return used > q->cq_entries ? -1 : (int)(q->cq_entries - used);
}

/* Post @q's finished operation and hand its ring slot back. */
static void queue_complete(struct sim_queue *q)
{
	memcpy(&q->cq[q->cq_tail & (q->cq_entries - 1)], &q->op.cqe, sizeof(q->op.cqe));
	q->running = false;
	q->sq_head++;
	q->cq_tail++;
	__atomic_store_n(&q->regs->sq_head, q->sq_head, __ATOMIC_RELEASE);
	__atomic_store_n(&q->regs->cq_tail, q->cq_tail, __ATOMIC_RELEASE);
}

/*
 * Take the descriptor at sq_head, or say why not: 0 started, 1 the CQ is
 * full (the client reaps, then kicks us; see driver_sim.c), -1 the
 * client's cq_head is garbage.
 */
static int queue_start(struct sim_queue *q)
{
	struct accel_sim_desc d;
	int room = cq_room(q);

	if (room <= 0)
		return room < 0 ? -1 : 1;
	/* Copy once, then look only at the copy (no TOCTOU, rule 8). */
	memcpy(&d, &q->sq[q->sq_head & (q->sq_entries - 1)], sizeof(d));
	barrier();
	sim_op_start(&q->region, &q->stream, &q->op, &d);
	q->running = true;
	return 0;
}

/*
 * One turn on one queue: at most SIM_ENGINE_BUDGET descriptors and
 * SIM_OP_SLICE_COST units of work.  An operation the budget does not cover
 * stays in q->op and goes on at the queue's next turn, after every other
 * queue of the thread has had one (rule 9).  Whether anything was done.
 */
static bool queue_turn(struct sim_queue *q)
{
	struct accel_sim_regs *regs = q->regs;
	uint32_t tail, pending, budget = SIM_OP_SLICE_COST;
	unsigned done = 0;
	bool stepped = false;

	if (q->broken || __atomic_load_n(&q->dead, __ATOMIC_ACQUIRE))
		return false;
	tail = __atomic_load_n(&regs->sq_tail, __ATOMIC_ACQUIRE);
	pending = tail - q->sq_head;
	if (pending == 0 && !q->running)
		return false;
	if (pending > q->sq_entries) {
		queue_break(q);
		return true;
	}
	while (done < SIM_ENGINE_BUDGET && budget > 0 &&
	       !__atomic_load_n(&q->dead, __ATOMIC_RELAXED)) {
		if (!q->running) {
			int r;
			if (done >= pending)
				break;
			r = queue_start(q);
			if (r < 0) {
				queue_break(q);
				return true;
			}
			if (r > 0)
				break;
		}
		stepped = true;
		if (!sim_op_step(&q->region, &q->stream, &q->op, &budget))
			break;
		queue_complete(q);
		done++;
	}
	if (done == 0)
		return stepped;
	/*
	 * Pairs with the client's fence between setting CQ_WAIT or event_arm
	 * and re-reading cq_tail (accel_wait() and the event loop's arm
	 * alike): it sees our completions or we see its flag.  A client that
	 * did not ask costs no system call here.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wake_for_completions(q);
	return true;
}

/* Whether @q has descriptors the engine could run now. */
static bool queue_runnable(struct sim_queue *q, uint32_t *tail)
{
	*tail = __atomic_load_n(&q->regs->sq_tail, __ATOMIC_ACQUIRE);
	return !q->broken && (q->running || (*tail != q->sq_head && cq_room(q) != 0));
}

static void set_need_wakeup(struct sim_thread *t, bool on)
{
	for (unsigned i = 0; i < t->n_queues; i++) {
		uint32_t *flags = &t->queues[i]->regs->dev_flags;
		if (on)
			__atomic_fetch_or(flags, ACCEL_SIM_DEV_NEED_WAKEUP, __ATOMIC_SEQ_CST);
		else
			__atomic_fetch_and(flags, ~ACCEL_SIM_DEV_NEED_WAKEUP, __ATOMIC_SEQ_CST);
	}
}

/*
 * Sleep until a client rings one of our queues or the list changes: one
 * futex_waitv over every queue's sq_tail and wake_seq, never a timeout, so
 * an idle thread costs nothing however many queues it has (at most
 * SIM_ENGINE_THREAD_QUEUES: engine_add starts another thread beyond).  The
 * waiter list holds addresses of queues another thread may unmap once we
 * drop the lock; that is harmless: a stale waiter on a vanished mapping is
 * never woken, or wakes us once for nothing (engine_drop).
 */
static void thread_sleep(struct sim_thread *t)
{
	struct futex_waitv w[FUTEX_WAITV_MAX];
	unsigned n = 0;
	bool runnable = false;

	pthread_mutex_lock(&t->lock);
	if (t->stop) {
		/* Checked under the lock: the stop's kick may have come and gone. */
		pthread_mutex_unlock(&t->lock);
		return;
	}
	w[n++] = (struct futex_waitv){
		.val = __atomic_load_n(&t->wake_seq, __ATOMIC_ACQUIRE),
		.uaddr = (uintptr_t)&t->wake_seq,
		.flags = FUTEX_32 | FUTEX_PRIVATE_FLAG,
	};
	set_need_wakeup(t, true);
	/* Pairs with the client's fence between writing sq_tail and reading dev_flags. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < t->n_queues; i++) {
		struct sim_queue *q = t->queues[i];
		uint32_t tail;
		runnable |= queue_runnable(q, &tail);
		if (q->broken)
			continue;
		w[n++] = (struct futex_waitv){ .val = tail, .uaddr = (uintptr_t)&q->regs->sq_tail,
					       .flags = FUTEX_32 };
	}
	if (!runnable)
		__atomic_add_fetch(&t->sleeps, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&t->lock);

	if (!runnable)
		syscall(SYS_futex_waitv, w, n, 0, NULL, CLOCK_MONOTONIC);

	pthread_mutex_lock(&t->lock);
	set_need_wakeup(t, false);
	pthread_mutex_unlock(&t->lock);
}

/* Take a reference on the next queue in round-robin order, or NULL. */
static struct sim_queue *next_queue(struct sim_thread *t, bool *stop)
{
	struct sim_queue *q = NULL;

	pthread_mutex_lock(&t->lock);
	*stop = t->stop;
	if (!t->stop && t->n_queues > 0) {
		q = t->queues[t->cursor++ % t->n_queues];
		__atomic_add_fetch(&q->refs, 1, __ATOMIC_ACQ_REL);
	}
	pthread_mutex_unlock(&t->lock);
	return q;
}

static void *thread_main(void *arg)
{
	struct sim_thread *t = arg;
	uint64_t last_work = now_usec(CLOCK_MONOTONIC);
	bool stop = false;

	while (!stop) {
		bool worked = false;
		unsigned n;

		pthread_mutex_lock(&t->lock);
		n = t->n_queues;
		pthread_mutex_unlock(&t->lock);
		for (unsigned i = 0; i < (n ? n : 1) && !stop; i++) {
			struct sim_queue *q = next_queue(t, &stop);
			if (!q)
				break;
			worked |= queue_turn(q);
			sim_queue_unref(q);
		}
		if (stop)
			break;
		if (worked) {
			last_work = now_usec(CLOCK_MONOTONIC);
		} else if (now_usec(CLOCK_MONOTONIC) - last_work >= SIM_ENGINE_SPIN_USEC) {
			thread_sleep(t);
			/*
			 * Spin again only once there is work: a wake-up for a list
			 * change (every acquire and release) must not cost a core
			 * for SIM_ENGINE_SPIN_USEC.
			 */
			last_work = 0;
		} else {
			cpu_relax();
		}
	}
	return NULL;
}

static void thread_kick(struct sim_thread *t)
{
	__atomic_add_fetch(&t->wake_seq, 1, __ATOMIC_RELEASE);
	futex_wake(&t->wake_seq, true);
}

/* Start one more thread; it sleeps until it is given a queue. */
static int thread_start(struct sim_engine *e)
{
	struct sim_thread *t;
	int r;

	if (e->n_threads == e->cap_threads) {
		unsigned cap = e->cap_threads ? e->cap_threads * 2 : 4;
		struct sim_thread **ts = realloc(e->threads, cap * sizeof(*ts));
		if (!ts)
			return -ENOMEM;
		e->threads = ts;
		e->cap_threads = cap;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	r = -pthread_create(&t->tid, NULL, thread_main, t);
	if (r < 0) {
		pthread_mutex_destroy(&t->lock);
		free(t);
		return log_error_errno(r, "Could not start engine thread");
	}
	/* Named, so that ps, top and the tests tell the engine's threads from the broker's others. */
	(void)pthread_setname_np(t->tid, SIM_ENGINE_THREAD_NAME);
	e->threads[e->n_threads++] = t;
	return 0;
}

int sim_engine_create(unsigned n_threads, struct sim_engine **out)
{
	struct sim_engine *e;
	int r;

	assert(n_threads > 0);
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (unsigned i = 0; i < n_threads; i++) {
		r = thread_start(e);
		if (r < 0) {
			sim_engine_destroy(e);
			return r;
		}
	}
	*out = e;
	return 0;
}

void sim_engine_destroy(struct sim_engine *e)
{
	if (!e)
		return;
	for (unsigned i = 0; i < e->n_threads; i++) {
		struct sim_thread *t = e->threads[i];
		pthread_mutex_lock(&t->lock);
		t->stop = true;
		pthread_mutex_unlock(&t->lock);
		thread_kick(t);
		pthread_join(t->tid, NULL);
		assert(t->n_queues == 0);
		pthread_mutex_destroy(&t->lock);
		free(t);
	}
	free(e->threads);
	free(e);
}

void sim_engine_get_stats(struct sim_engine *e, struct sim_engine_stats *out)
{
	*out = (struct sim_engine_stats){ .threads = e->n_threads };
	for (unsigned i = 0; i < e->n_threads; i++)
		out->sleeps += __atomic_load_n(&e->threads[i]->sleeps, __ATOMIC_RELAXED);
}

/*
 * The thread with the fewest queues, or a new one when all are full: one
 * futex_waitv watches at most SIM_ENGINE_THREAD_QUEUES queues, and a
 * sleeping thread costs no CPU where a thread polling more would.  Threads
 * are never stopped before the engine: a later burst finds them there.
 */
static int thread_for_new_queue(struct sim_engine *e, struct sim_thread **out)
{
	struct sim_thread *best = e->threads[0];
	int r;

	for (unsigned i = 1; i < e->n_threads; i++)
		if (e->threads[i]->n_queues < best->n_queues)
			best = e->threads[i];
	if (best->n_queues == SIM_ENGINE_THREAD_QUEUES) {
		r = thread_start(e);
		if (r < 0)
			return r;
		best = e->threads[e->n_threads - 1];
	}
	*out = best;
	return 0;
}

static void regs_init(struct accel_sim_regs *regs, size_t dus_size, unsigned algorithm)
{
	memset(regs, 0, sizeof(*regs));
	regs->magic = ACCEL_SIM_MAGIC;
	regs->version = ACCEL_SIM_VERSION;
	regs->wake = ACCEL_SIM_WAKE_FUTEX;
	regs->algorithm = algorithm;
	regs->sq_entries = ACCEL_SIM_RING_ENTRIES;
	regs->cq_entries = ACCEL_SIM_RING_ENTRIES;
	regs->sq_offset = ACCEL_SIM_SQ_OFFSET;
	regs->cq_offset = ACCEL_SIM_CQ_OFFSET;
	regs->data_offset = ACCEL_SIM_DATA_OFFSET;
	regs->data_size = ACCEL_SIM_DATA_SIZE;
	regs->dus_size = (uint32_t)dus_size;
	regs->features = ACCEL_SIM_FEAT_EVENT_ARM;
	regs->state = ACCEL_SIM_STATE_ACTIVE;
}

/*
 * A queue a previous broker served (taken back from the fd store): keep
 * its rings where they are and go on from the indices it published.  They
 * are in shared memory, so the client could have changed them: only
 * @q's own operations depend on them, and impossible ones break it.
 */
static int regs_resume(struct sim_queue *q, unsigned algorithm)
{
	struct accel_sim_regs *regs = q->regs;

	if (regs->magic != ACCEL_SIM_MAGIC || regs->version != ACCEL_SIM_VERSION ||
	    regs->algorithm != algorithm ||
	    __atomic_load_n(&regs->state, __ATOMIC_ACQUIRE) != ACCEL_SIM_STATE_ACTIVE)
		return -ESTALE;
	q->sq_head = __atomic_load_n(&regs->sq_head, __ATOMIC_ACQUIRE);
	q->cq_tail = __atomic_load_n(&regs->cq_tail, __ATOMIC_ACQUIRE);
	/*
	 * Memory from a broker before event_arm: its client already chose
	 * CQ_WAIT for its loop (it looks at features once), which we still
	 * honour; a client that maps it afresh may use event_arm.  An arm
	 * pending across the restart is answered (event_answered 0 matches
	 * no armed value): one byte at most for nothing.
	 */
	regs->features |= ACCEL_SIM_FEAT_EVENT_ARM;
	if (cq_room(q) < 0 || __atomic_load_n(&regs->sq_tail, __ATOMIC_ACQUIRE) - q->sq_head > q->sq_entries)
		queue_break(q);
	return 0;
}

/* Map the queue memory behind @fd and point @q's rings into it (the device's own copies). */
static int queue_map(struct sim_queue *q, int fd, size_t mmio_size, size_t dus_size, unsigned algorithm)
{
	q->map_size = mmio_size + dus_size;
	q->map = mmap(NULL, q->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (q->map == MAP_FAILED)
		return -errno;
	q->regs = q->map;
	q->region = (struct sim_region){
		.dus = (unsigned char *)q->map + mmio_size,
		.data_offset = ACCEL_SIM_DATA_OFFSET,
		.data_size = ACCEL_SIM_DATA_SIZE,
		.algorithm = algorithm,
	};
	q->sq = (struct accel_sim_desc *)(q->region.dus + ACCEL_SIM_SQ_OFFSET);
	q->cq = (struct accel_sim_cqe *)(q->region.dus + ACCEL_SIM_CQ_OFFSET);
	q->sq_entries = q->cq_entries = ACCEL_SIM_RING_ENTRIES;
	return 0;
}

static int engine_add(struct sim_engine *e, int fd, int event_fd, size_t mmio_size, size_t dus_size,
		      unsigned algorithm, bool adopt, struct sim_queue **out)
{
	_cleanup_free_ struct sim_queue *q = NULL;
	_cleanup_close_ int event_copy = -1;
	struct sim_thread *t;
	int r;

	assert(mmio_size >= sizeof(struct accel_sim_regs));
	assert(dus_size >= ACCEL_SIM_DUS_SIZE);
	/* Our own copy: a turn may still signal after the broker closed its fd. */
	if (event_fd >= 0 && (event_copy = fcntl(event_fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return -errno;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->event_fd = event_copy;
	r = queue_map(q, fd, mmio_size, dus_size, algorithm);
	if (r < 0)
		return r;
	q->refs = 1;	/* the thread's list */
	r = adopt ? regs_resume(q, algorithm) : (regs_init(q->regs, dus_size, algorithm), 0);
	if (r == 0)
		r = thread_for_new_queue(e, &t);
	if (r < 0) {
		munmap(q->map, q->map_size);
		return r;
	}
	TAKE_FD(event_copy);	/* the queue's */
	pthread_mutex_lock(&t->lock);
	q->thread = t;
	t->queues[t->n_queues++] = q;
	pthread_mutex_unlock(&t->lock);
	/* An adopted queue may hold work submitted while no engine ran: the kick finds it. */
	thread_kick(t);
	*out = TAKE_PTR(q);
	return 0;
}

int sim_engine_add_queue(struct sim_engine *e, int fd, int event_fd, size_t mmio_size,
			 size_t dus_size, unsigned algorithm, struct sim_queue **out)
{
	return engine_add(e, fd, event_fd, mmio_size, dus_size, algorithm, false, out);
}

int sim_engine_adopt_queue(struct sim_engine *e, int fd, int event_fd, size_t mmio_size,
			   size_t dus_size, unsigned algorithm, struct sim_queue **out)
{
	return engine_add(e, fd, event_fd, mmio_size, dus_size, algorithm, true, out);
}

static void engine_drop(struct sim_queue *q, bool revoke)
{
	struct sim_thread *t = q->thread;

	__atomic_store_n(&q->dead, true, __ATOMIC_RELEASE);
	if (revoke) {
		__atomic_store_n(&q->regs->state, ACCEL_SIM_STATE_REVOKED, __ATOMIC_RELEASE);
		wake_waiters(q);
	}

	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->n_queues; i++) {
		if (t->queues[i] == q) {
			t->queues[i] = t->queues[--t->n_queues];
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	/*
	 * No kick: a sleeping thread may still wait on this queue's sq_tail,
	 * which is harmless (a stale futex waiter is never woken, or wakes the
	 * thread once for nothing), and a release stays one cheap step.
	 */
	sim_queue_unref(q);
}

void sim_engine_remove_queue(struct sim_engine *e, struct sim_queue *q)
{
	(void)e;
	engine_drop(q, true);
}

void sim_engine_forget_queue(struct sim_engine *e, struct sim_queue *q)
{
	(void)e;
	engine_drop(q, false);
}

/* SPDX-License-Identifier: MIT */
/*
 * The engine threads of the software accelerator.  Each queue is served by
 * one thread; a thread serves its queues round-robin, a bounded amount of
 * work per queue per turn (rule 9): at most SIM_ENGINE_BUDGET descriptors
 * and SIM_OP_SLICE_COST units (sim_ops.h), a bigger operation going on at
 * the queue's next turn.  A busy thread spins; after
 * SIM_ENGINE_SPIN_USEC without work it sets NEED_WAKEUP in its queues'
 * regs and sleeps on all their sq_tail words at once (futex_waitv), so a
 * client rings it only when it really sleeps.  One futex_waitv watches at
 * most SIM_ENGINE_THREAD_QUEUES queues: a queue beyond goes to a thread
 * started for it, so idle queues cost no CPU at any count.
 */
#ifndef ACCEL_DAEMON_SIM_ENGINE_H
#define ACCEL_DAEMON_SIM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#define SIM_ENGINE_SPIN_USEC	50
#define SIM_ENGINE_BUDGET	16	/* descriptors per queue per turn; work: SIM_OP_SLICE_COST */
#define SIM_ENGINE_THREAD_QUEUES 127	/* FUTEX_WAITV_MAX words, less the thread's own */
#define SIM_ENGINE_THREAD_NAME	"sim-engine"	/* each engine thread's comm */

struct sim_engine;
struct sim_queue;

struct sim_engine_stats {
	unsigned threads;	/* running now: those created, and those queues asked for */
	uint64_t sleeps;	/* times a thread went to sleep (futex_waitv), all threads */
};

/* Start @n_threads threads; more start when each holds SIM_ENGINE_THREAD_QUEUES. */
int sim_engine_create(unsigned n_threads, struct sim_engine **out);
/* Stop and join the threads; every queue must have been removed. */
void sim_engine_destroy(struct sim_engine *engine);
void sim_engine_get_stats(struct sim_engine *engine, struct sim_engine_stats *out);

/*
 * Map the queue memory behind @fd (@size bytes: one MMIO page then the
 * DUS), write the regs for @algorithm and start serving it.  @event_fd
 * (-1: none) is the write end, non-blocking, of a pipe whose read end the
 * client polls in its event loop: the engine keeps a copy and writes a
 * byte when it posts completions for an armed loop (once per arm:
 * regs.event_arm, or CQ_WAIT for a client from before it), and when the
 * queue is revoked or broken (include/accel/sim.h).
 */
int sim_engine_add_queue(struct sim_engine *engine, int fd, int event_fd, size_t mmio_size,
			 size_t dus_size, unsigned algorithm, struct sim_queue **out);

/*
 * Serve again a queue a previous broker started (the fd store): its regs
 * and rings stay as they are and work goes on from the indices there.
 * -ESTALE if @fd does not hold an active queue of @algorithm.
 */
int sim_engine_adopt_queue(struct sim_engine *engine, int fd, int event_fd, size_t mmio_size,
			   size_t dus_size, unsigned algorithm, struct sim_queue **out);

/*
 * Stop serving @q: mark it revoked in its regs, wake a waiting client, and
 * drop the engine's reference; the memory is unmapped once the thread that
 * may be working on it lets go.  Never blocks on a running operation.
 */
void sim_engine_remove_queue(struct sim_engine *engine, struct sim_queue *q);

/*
 * Stop serving @q without touching it: the broker is going away and the
 * queue lives on in the fd store for the next one.
 */
void sim_engine_forget_queue(struct sim_engine *engine, struct sim_queue *q);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The event-loop figures of accel-bench: accel-event-gzip (64 gzip
 * operations in flight on 4 queues) through one libevent loop and through
 * a thread per queue blocking in accel_wait(), and the system calls per
 * operation of each beyond its own wait (strace -c).
 */
#ifndef ACCEL_BENCH_EVENT_LOOP_H
#define ACCEL_BENCH_EVENT_LOOP_H

#include <stddef.h>

struct event_loop_figures {
	size_t ops;
	double event_ops_per_sec, blocking_ops_per_sec;
	double wakeups, batches;		/* the event loop's, in the timed run */
	/* Under strace -c: every call beyond epoll_wait; of them, the wake-ups' reads and the engine's kicks. */
	double event_syscalls_per_op, event_reads_per_op, event_futex_per_op;
	/* Every call of the blocking way (its waits are futex calls too). */
	double blocking_syscalls_per_op;
};

/* Run them against the broker at @sock, the example from @build. */
void bench_event_loop(const char *build, const char *sock, size_t ops, struct event_loop_figures *out);
/* One JSON member, "event_loop_gzip_64_in_flight": {...}, without a trailing comma. */
void bench_event_loop_print(const struct event_loop_figures *f);

#endif

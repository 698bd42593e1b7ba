/* SPDX-License-Identifier: MIT */
/*
 * libaccel-event: a libaccel queue's completions in a libevent loop.
 *
 * A library of its own (pkg-config accel-event) so that libaccel does not
 * depend on libevent.  One struct accel_event_queue per queue: it watches
 * accel_queue_event_fd(), follows libaccel's "arm, re-check, then wait"
 * order (accel.h), and calls back with each batch of completions the
 * loop finds.  Submit from anywhere in the loop's thread (callbacks
 * included): the queue stays armed until a wake-up is taken.
 *
 * Thread safety: the loop's thread only, as for the queue's data path.
 */
#ifndef ACCEL_ACCEL_EVENT_H
#define ACCEL_ACCEL_EVENT_H

#include <stdint.h>

#include <accel/accel.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct accel_event_queue;

/*
 * @n completions of @queue in @c (valid during the call), or @n < 0: the
 * queue failed (-ENOLINK revoked, -EIO broken) and is no longer watched.
 */
typedef void (*accel_event_fn)(struct accel_event_queue *eq, struct accel_queue *queue,
			       const struct accel_completion *c, int n, void *userdata);

/* Watch @queue on @base; @fn gets its completions.  The queue stays the caller's. */
int accel_event_queue_new(struct event_base *base, struct accel_queue *queue, accel_event_fn fn,
			  void *userdata, struct accel_event_queue **out);
/* Stop watching (not from its own callback); the queue is left as it is. */
void accel_event_queue_free(struct accel_event_queue *eq);

struct accel_event_stats {
	uint64_t wakeups;	/* times the loop found the fd readable (one read each) */
	uint64_t batches;	/* callbacks with completions */
	uint64_t completions;
};
void accel_event_queue_stats(const struct accel_event_queue *eq, struct accel_event_stats *out);

#ifdef __cplusplus
}
#endif

#endif

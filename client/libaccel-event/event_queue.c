// SPDX-License-Identifier: MIT
/*
 * A libaccel queue in a libevent loop: one persistent read event on
 * accel_queue_event_fd(), and libaccel's order on every wake-up: take the
 * wake-up, reap, arm, and reap again whatever the re-check found
 * (accel.h).  The software engine writes the fd only while the queue is
 * armed, so a loop that finds completions on every turn costs one wait
 * and one read per batch, never a system call per operation.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <event2/event.h>

#include <accel/accel-event.h>

#define EXPORT __attribute__((visibility("default")))

/* Completions handed to one callback. */
#define BATCH 64
/*
 * Rounds of reap-and-arm in one turn of the loop: a queue the callbacks
 * keep busy gives the loop's other events their turn after this, and
 * comes back on the next one.
 */
#define ROUNDS 16

struct accel_event_queue {
	struct accel_queue *queue;
	struct event *ev;
	accel_event_fn fn;
	void *userdata;
	bool again;	/* activated by us, not by the fd: no wake-up to take */
	struct accel_event_stats stats;
};

/* Hand @n completions, or the queue's failure, to the callback. */
static void deliver(struct accel_event_queue *eq, const struct accel_completion *c, int n)
{
	if (n > 0) {
		eq->stats.batches++;
		eq->stats.completions += (uint64_t)n;
	} else {
		event_del(eq->ev);	/* failed for good: nothing more will come */
	}
	eq->fn(eq, eq->queue, c, n, eq->userdata);
}

/* Reap until armed with nothing waiting (1), out of rounds (0), or failed (-errno, delivered). */
static int reap(struct accel_event_queue *eq)
{
	struct accel_completion c[BATCH];

	for (int round = 0; round < ROUNDS; round++) {
		int n = accel_poll(eq->queue, c, BATCH);
		if (n != 0) {
			deliver(eq, c, n);
			if (n < 0)
				return n;
			continue;
		}
		n = accel_queue_arm(eq->queue);
		if (n == 0)
			return 1;
		if (n < 0) {
			deliver(eq, NULL, n);
			return n;
		}
	}
	return 0;
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
	struct accel_event_queue *eq = arg;

	(void)fd;
	(void)what;
	if (eq->again) {
		eq->again = false;
	} else {
		eq->stats.wakeups++;
		accel_queue_event_clear(eq->queue);
	}
	if (reap(eq) == 0) {
		eq->again = true;
		event_active(eq->ev, EV_READ, 0);
	}
}

EXPORT int accel_event_queue_new(struct event_base *base, struct accel_queue *queue, accel_event_fn fn,
				 void *userdata, struct accel_event_queue **out)
{
	struct accel_event_queue *eq;
	int fd;

	if (!base || !queue || !fn || !out)
		return -EINVAL;
	fd = accel_queue_event_fd(queue);
	if (fd < 0)
		return fd;
	eq = calloc(1, sizeof(*eq));
	if (!eq)
		return -ENOMEM;
	*eq = (struct accel_event_queue){ .queue = queue, .fn = fn, .userdata = userdata, .again = true };
	eq->ev = event_new(base, fd, EV_READ | EV_PERSIST, on_event, eq);
	if (!eq->ev || event_add(eq->ev, NULL) < 0) {
		if (eq->ev)
			event_free(eq->ev);
		free(eq);
		return -ENOMEM;
	}
	/* The first turn arms the queue (and reaps what came before). */
	event_active(eq->ev, EV_READ, 0);
	*out = eq;
	return 0;
}

EXPORT void accel_event_queue_free(struct accel_event_queue *eq)
{
	if (!eq)
		return;
	event_free(eq->ev);
	free(eq);
}

EXPORT void accel_event_queue_stats(const struct accel_event_queue *eq, struct accel_event_stats *out)
{
	*out = eq->stats;
}

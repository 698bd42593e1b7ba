/* SPDX-License-Identifier: MIT */
/*
 * The process's connection to the broker, made when a uacce path is first
 * reached and made anew in a forked child (which must not speak on its
 * parent's connection).  Every function is called with the preload's
 * session lock held (never its table's: a close() must not wait on the
 * broker).  "No broker" is -ENOTCONN: the caller then lets the kernel answer.
 */
#ifndef ACCEL_PRELOAD_SESSION_H
#define ACCEL_PRELOAD_SESSION_H

#include <stdbool.h>
#include <stdint.h>

struct allowance;

/* How long a refusal (quota, no free queue) of a device is remembered: a retry loop then costs no call. */
#define SESSION_BACKOFF_USEC 100000

/*
 * A raw queue of @device: its fd, or -EBUSY (no free queue, or the quota:
 * remembered for SESSION_BACKOFF_USEC), -EACCES (a rule refuses), -ENODEV
 * (the broker does not serve that device), -ENOTCONN (no broker), or
 * another negative errno.
 */
int session_acquire(const char *device, uint64_t *queue_id);
/* Give queue @queue_id back (its last descriptor closed); every remembered refusal is forgotten. */
void session_release(uint64_t queue_id);
/* What this user may have now; -ENOTCONN without a broker. */
int session_allowance(struct allowance *out);
/* Whether a connection was made (the preload then follows forks). */
bool session_connected(void);
/* In a forked child: the connection and the refusals are the parent's. */
void session_forked(void);

#endif

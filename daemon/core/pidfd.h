/* SPDX-License-Identifier: MIT */
/*
 * What a pidfd says of its process: whether it exited.  The one test, for
 * the owners (owner.c) and for reads through a pidfd (api/cgroup.c);
 * header-only, like groups.h, so that a reader links nothing for it.
 */
#ifndef ACCEL_DAEMON_PIDFD_H
#define ACCEL_DAEMON_PIDFD_H

#include <poll.h>
#include <stdbool.h>

/*
 * A pidfd polls readable once its process has exited (a zombie counts).
 * A poll that fails says nothing of the process: it is not trusted to be
 * alive.
 */
static inline bool pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * A list of group ids (a peer's, a queue's owner's, a policy caller's):
 * whether a gid is in it.  The one membership test the daemon has.
 */
#ifndef ACCEL_DAEMON_GROUPS_H
#define ACCEL_DAEMON_GROUPS_H

#include <stdbool.h>
#include <sys/types.h>

/* Where @gid is among the @n @groups, or -1. */
static inline int groups_find(const gid_t *groups, unsigned n, gid_t gid)
{
	for (unsigned i = 0; i < n; i++)
		if (groups[i] == gid)
			return (int)i;
	return -1;
}

static inline bool groups_contain(const gid_t *groups, unsigned n, gid_t gid)
{
	return groups_find(groups, n, gid) >= 0;
}

#endif

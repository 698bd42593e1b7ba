/* SPDX-License-Identifier: MIT */
/*
 * The peer of a call, built the same way for both listeners: the ids the
 * kernel gave (SO_PEERCRED on the socket, the bus driver on D-Bus), the
 * group list, and whether it is an administrator.
 */
#ifndef ACCEL_DAEMON_PEER_H
#define ACCEL_DAEMON_PEER_H

#include <stddef.h>
#include <sys/types.h>

#include "broker.h"

/*
 * Complete @peer, whose uid, gid ((gid_t)-1: unknown) and pid are set:
 * its groups, the primary first, then @gids (the kernel's list, any
 * order), and the admin decision (root, or a member of @admin_gid; -1:
 * root only; decided on all of @gids).  A peer in more groups than we
 * keep is cut short with a warning naming @who: group rules may then miss
 * it, never wrongly apply.
 */
void peer_set_groups(struct peer *peer, const gid_t *gids, size_t n, int admin_gid, const char *who);

/*
 * The peer on the accepted socket @fd: SO_PEERCRED, SO_PEERGROUPS (all of
 * them, up to NGROUPS_MAX).  -ENOMEM when its groups cannot be held.
 */
int peer_from_socket(int fd, int admin_gid, struct peer *peer);

#endif

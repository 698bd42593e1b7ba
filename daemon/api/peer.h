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
 * order), and the admin decision by credentials (root, or a member of
 * @admin_gid; -1: root only; decided on all of @gids), which
 * peer_set_home() may take back.  A peer in more groups than we
 * keep is cut short with a warning naming @who: group rules may then miss
 * it, never wrongly apply.
 */
void peer_set_groups(struct peer *peer, const gid_t *gids, size_t n, int admin_gid, const char *who);

/*
 * The peer on the accepted socket @fd: SO_PEERCRED, SO_PEERGROUPS (all of
 * them, up to NGROUPS_MAX).  -ENOMEM when its groups cannot be held.
 */
int peer_from_socket(int fd, int admin_gid, struct peer *peer);

/*
 * Where @peer, whose process is set, calls from: its cgroup read now
 * (@peer->home, a reference its holder drops with peer_finish()).  The
 * one place that takes the administrator's rights back: a peer in a
 * machine or beside systemd's tree (a container's cgroup either way), or
 * whose cgroup cannot be read, is confined and no
 * administrator, whatever its uid and groups (a container's root without
 * a user namespace is uid 0 by SO_PEERCRED).  Logged when it is so.
 */
void peer_set_home(struct peer *peer);
/* Drop what peer_set_home() took. */
void peer_finish(struct peer *peer);

/*
 * Learn the host's cgroup layout (cgroup.h), once, at start (main.c): a
 * fact of the host, fixed at boot, that every peer's cgroup is read by.
 * Without a cgroup file system every peer is in no unit (logged).
 */
void peer_cgroup_init(void);

/*
 * @peer with its systemd unit, slices and machine (identity.h), read now
 * from its cgroup through its pidfd, in *@out: what acquires and claims
 * record and unit rules match.  *@out's identity is a reference the caller
 * drops (peer_identity_dropp()).  One that cannot be read (the process
 * exited, no pidfd, a path longer than the kernel prints, a cgroup
 * outside our namespace) is UnitUnknown, never "in no unit": the peer
 * could otherwise escape its unit's limits.
 */
int peer_with_identity(const struct peer *peer, struct peer *out, struct accel_error *e);
/* The identity of the process @pidfd (@pid) in *@ret, NULL without a cgroup file system; or an error. */
int peer_read_cgroup(int pidfd, pid_t pid, struct cgroup_identity **ret);
static inline void peer_identity_dropp(struct peer *p)
{
	cgroup_identity_unref(p->identity);
}

#endif

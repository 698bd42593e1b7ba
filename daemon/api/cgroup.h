/* SPDX-License-Identifier: MIT */
/*
 * The systemd unit, slices and machine a process belongs to, from its
 * cgroup: /proc/<pid>/cgroup read through the process's pidfd (no pid-reuse
 * window), parsed as hostile input.
 *
 * Which line.  systemd tracks units in one hierarchy and libsystemd reads
 * the same one: the unified hierarchy ("0::") on unified hosts and on
 * hybrid hosts (systemd >= 233 tracks there; "name=systemd" is a v1 mirror
 * kept for old tools, moved by PID 1 one hierarchy after the other), and
 * "name=systemd" only on legacy hosts.  The text cannot tell a hybrid host
 * from a legacy one where something mounted cgroup2, nor a unified host
 * where nspawn mounted a name=systemd hierarchy for a legacy container (every
 * process then shows "name=systemd:/"): the layout is the host's, read once
 * from /sys/fs/cgroup as systemd does (cgroup_layout_detect()).
 *
 * Who chose the path.  Slices and the first unit below them are made by
 * PID 1 as root: only root may create or enter those cgroups.  Everything
 * below the first unit is that unit's own, and delegated units
 * (user@UID.service, machine scopes, Delegate=yes services, container
 * runtimes) hand it to whoever runs inside them: a user can create
 * user@1000.service/system.slice/backup.service or .../machine-x.scope and
 * move itself there.  So the identity is the slices and that first unit,
 * never anything below it:
 *   - unit: the system unit (service, scope, socket, mount or swap);
 *     user@1000.service for every process of that user manager,
 *     session-3.scope for a login session's processes.
 *   - slices: "-.slice" (the root) and the slices down to the unit, each
 *     checked to be its parent's child by name (a-b.slice under a.slice).
 *   - machine: from the first unit, only inside machine.slice (see
 *     cgroup.c: machined's scope, systemd-nspawn@.service, a container
 *     manager's scope without machined); never from a delegated subtree.
 *   - user_unit: inside user@UID.service, the unit the user's own manager
 *     placed it in (app-firefox-1234.scope).  The user's claim, for display
 *     only: it says nothing the uid does not already.
 * Cgroups made beside systemd's tree: a top-level cgroup that is neither a
 * slice nor a unit (/docker/ID of docker's cgroupfs driver,
 * /lxc.payload.NAME, /kubepods/... without the systemd driver) was made by
 * root, the root cgroup being root's alone, so no user can move itself
 * there.  A process in one is in no unit, no slice (not even "-.slice")
 * and no machine: its user's and groups' rules still apply, nothing else
 * can be told, and nothing below is read.  It is a container's, so its
 * peer is confined (peer_set_home(), cgroup_identity_beside()).  Inside systemd's slices a path
 * systemd would not make stays an error.
 * Names are kept as systemd spells them (unit names keep their \xNN
 * escapes, which are part of the name); only the machine name is unescaped,
 * since machined escaped it into its unit's name.
 *
 * An identity that cannot be read (the process exited, a peer outside our
 * cgroup namespace, text cut where systemd would not cut it) is an error,
 * never "no unit": whoever applies rules by unit must not let an
 * unreadable one escape them.  A path longer than PATH_MAX, which a
 * delegated subtree can make, fails the read on some kernels and is
 * printed cut short on others; the cut falls below the first unit, which
 * only root's slices come before, so the identity is the same.
 */
#ifndef ACCEL_DAEMON_CGROUP_H
#define ACCEL_DAEMON_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

#include "identity.h"

/* The kernel prints each path into a PATH_MAX buffer; lines beyond it are not its. */
#define CGROUP_LINE_MAX 4200
/* A dozen v1 hierarchies and the unified one, each up to a line. */
#define CGROUP_FILE_MAX (64 * 1024)

enum cgroup_layout {
	CGROUP_LAYOUT_UNIFIED,	/* cgroup2 on /sys/fs/cgroup: the "0::" line */
	CGROUP_LAYOUT_HYBRID,	/* v1 controllers, cgroup2 on .../unified: the "0::" line */
	CGROUP_LAYOUT_LEGACY,	/* v1 only: the "name=systemd" line */
};

/* The host's layout, from the file systems on /sys/fs/cgroup; -ENOMEDIUM if none. */
int cgroup_layout_detect(enum cgroup_layout *ret);

/*
 * Parse @len bytes of /proc/<pid>/cgroup text.  -EBADMSG for text the kernel
 * would not write or a path systemd would not make in its slices above the
 * first unit (a cgroup beside its tree is no unit, slice or machine),
 * -ENODATA without the layout's line, -EXDEV for a process outside our
 * cgroup namespace; -ENOMEM.
 */
int cgroup_identity_parse(const char *text, size_t len, enum cgroup_layout layout,
			  struct cgroup_identity **ret);
/* Drop the reference cgroup_identity_parse() gave (identity.h: cgroup_identity_unref()). */
void cgroup_identity_free(struct cgroup_identity *id);
static inline void cgroup_identity_freep(struct cgroup_identity **id)
{
	cgroup_identity_free(*id);
}

/*
 * Read /proc/@pid/cgroup into @buf (NUL-terminated) and confirm that
 * @pidfd is @pid's and its process still lives after the read, so the
 * text is that process's and not a successor's under a reused pid.
 * -ESRCH if it exited (or @pidfd is another pid's), -EBADF without a
 * pidfd (or one that is none), -EFBIG past @size,
 * else the open's or read's errno (-ENOENT where /proc hides the process).
 */
int cgroup_read(int pidfd, pid_t pid, char *buf, size_t size, size_t *ret_len);

/* cgroup_read() and cgroup_identity_parse() in one. */
int cgroup_identity_of(int pidfd, pid_t pid, enum cgroup_layout layout,
		       struct cgroup_identity **ret);

#endif

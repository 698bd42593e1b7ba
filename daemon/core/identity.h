/* SPDX-License-Identifier: MIT */
/*
 * The systemd unit, slices and machine a process belongs to, as the core
 * keeps them: on a peer (read at acquire time, api/peer.c) and on each
 * queue it acquired (its [unit:], [slice:] and [machine:] pools count by
 * them).  api/cgroup.c reads and parses it (its header says which names
 * are trusted and why); the core only compares names.  Shared by
 * reference: a queue keeps the peer's record alive.
 */
#ifndef ACCEL_DAEMON_IDENTITY_H
#define ACCEL_DAEMON_IDENTITY_H

#include <stdbool.h>
#include <stdlib.h>

/* "-.slice" included; systemd's own nesting rarely passes 5. */
#define CGROUP_MAX_SLICES 16

struct cgroup_identity {
	unsigned n_ref;
	const char *unit;	/* NULL: in no unit (the root cgroup, a slice: init.scope is one) */
	const char *slices[CGROUP_MAX_SLICES];	/* outermost first, slices[0] = "-.slice" */
	unsigned n_slices;
	const char *machine;	/* NULL: not in a container or VM */
	const char *user_unit;	/* NULL: not in a user manager, or nothing it placed there parses */
	char names[];		/* the strings above */
};

/*
 * Whether @id is a cgroup made beside systemd's tree (api/cgroup.h): in no
 * slice at all, not even "-.slice".  Root makes those, for a container
 * no machined registered (/docker/ID, /lxc.payload.NAME).
 */
static inline bool cgroup_identity_beside(const struct cgroup_identity *id)
{
	return id->n_slices == 0;
}

static inline struct cgroup_identity *cgroup_identity_ref(struct cgroup_identity *id)
{
	if (id)
		id->n_ref++;
	return id;
}

static inline void cgroup_identity_unref(struct cgroup_identity *id)
{
	if (id && --id->n_ref == 0)
		free(id);
}

static inline void cgroup_identity_unrefp(struct cgroup_identity **id)
{
	cgroup_identity_unref(*id);
}

#endif

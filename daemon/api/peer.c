// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cgroup.h"
#include "groups.h"
#include "log.h"
#include "owner.h"
#include "peer.h"
#include "util.h"

/* The host's, from peer_cgroup_init(); -1: no cgroup file system, so no units. */
static int host_layout = -1;

static void peer_add_group(struct peer *peer, gid_t gid, bool *cut, const char *who)
{
	if (groups_contain(peer->groups, peer->n_groups, gid))
		return;
	if (peer->n_groups == POLICY_MAX_GROUPS) {
		if (!*cut)
			log_client(peer->uid, LOG_WARNING, "%s is in more than %d groups; only the first count",
				   who, POLICY_MAX_GROUPS);
		*cut = true;
		return;
	}
	peer->groups[peer->n_groups++] = gid;
}

void peer_set_groups(struct peer *peer, const gid_t *gids, size_t n, int admin_gid, const char *who)
{
	bool cut = false;

	peer->n_groups = 0;
	if (peer->gid != (gid_t)-1)
		peer_add_group(peer, peer->gid, &cut, who);
	for (size_t i = 0; i < n; i++)
		peer_add_group(peer, gids[i], &cut, who);
	/* From the whole list: the admin group counts even past the groups kept. */
	peer->admin = peer->uid == 0 ||
		      (admin_gid >= 0 && (groups_contain(peer->groups, peer->n_groups, (gid_t)admin_gid) ||
					  groups_contain(gids, (unsigned)n, (gid_t)admin_gid)));
}

/*
 * The peer's groups, as SO_PEERGROUPS gives them: into @buf (@len bytes)
 * when they fit, else into a buffer of the size the kernel asks (its
 * ERANGE sets @len to it), in *@big.  The list is fixed at connect time,
 * so one retry is enough.  Returns how many.
 */
static int read_peer_groups(int fd, gid_t *buf, socklen_t len, gid_t **big, const gid_t **out)
{
	*out = buf;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buf, &len) == 0)
		return (int)(len / sizeof(gid_t));
	if (errno != ERANGE || len > NGROUPS_MAX * sizeof(gid_t))
		return -errno;
	*big = malloc(len);
	if (!*big)
		return -ENOMEM;
	*out = *big;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, *big, &len) < 0)
		return -errno;
	return (int)(len / sizeof(gid_t));
}

void peer_cgroup_init(void)
{
	enum cgroup_layout layout;
	int r = cgroup_layout_detect(&layout);

	if (r < 0) {
		log_warning_errno(r, "No cgroup file system on /sys/fs/cgroup: every client is in no unit");
		return;
	}
	host_layout = (int)layout;
}

int peer_read_cgroup(int pidfd, pid_t pid, struct cgroup_identity **ret)
{
	*ret = NULL;
	if (host_layout < 0)
		return 0;
	return cgroup_identity_of(pidfd, pid, (enum cgroup_layout)host_layout, ret);
}

void peer_set_home(struct peer *peer)
{
	int r;

	assert(peer);
	assert(!peer->home);
	r = peer_read_cgroup(peer->process ? peer->process->pidfd : -1, peer->pid, &peer->home);
	if (r < 0)
		log_client(peer->uid, LOG_NOTICE, "Could not read the cgroup of pid %d: %s; %s", (int)peer->pid,
			   strerror(-r), peer->admin ? "no administrator's rights" : "only its machine's queues");
	else if (peer->home && peer->home->machine && peer->admin)
		log_client(peer->uid, LOG_INFO, "pid %d uid %u is in machine %s: no administrator's rights",
			   (int)peer->pid, (unsigned)peer->uid, peer->home->machine);
	else if (peer->home && cgroup_identity_beside(peer->home) && peer->admin)
		log_client(peer->uid, LOG_INFO, "pid %d uid %u is in a cgroup beside systemd's tree (a container's): "
			   "no administrator's rights", (int)peer->pid, (unsigned)peer->uid);
	/* Beside systemd's tree is a container's too, one that no machined named: no machine to see. */
	peer->confined = r < 0 || (peer->home && (peer->home->machine || cgroup_identity_beside(peer->home)));
	if (peer->confined)
		peer->admin = false;
}

void peer_finish(struct peer *peer)
{
	cgroup_identity_unref(peer->home);
	peer->home = NULL;
}

int peer_with_identity(const struct peer *peer, struct peer *out, struct accel_error *e)
{
	struct cgroup_identity *id = NULL;
	int r;

	*out = *peer;
	out->identity = NULL;
	r = peer_read_cgroup(peer->process ? peer->process->pidfd : -1, peer->pid, &id);
	if (r < 0) {
		log_client(peer->uid, LOG_NOTICE, "Could not read the cgroup of pid %d: %s", (int)peer->pid,
			   strerror(-r));
		return accel_error_set(e, ERR_UNIT_UNKNOWN, "could not tell the caller's unit from its cgroup: %s",
				       strerror(-r));
	}
	out->identity = id;
	return 0;
}

int peer_from_socket(int fd, int admin_gid, struct peer *peer)
{
	gid_t buf[POLICY_MAX_GROUPS * 4];
	_cleanup_free_ gid_t *big = NULL;
	const gid_t *groups;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	char who[32];
	int n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		return -errno;
	*peer = (struct peer){ .uid = cred.uid, .gid = cred.gid, .pid = cred.pid };
	snprintf(who, sizeof(who), "pid %d", (int)cred.pid);
	n = read_peer_groups(fd, buf, sizeof(buf), &big, &groups);
	if (n == -ENOMEM)
		return n;	/* the broker's shortage: refused, rather than its groups missed */
	if (n < 0) {
		/* The primary group still counts; supplementary ones are missed. */
		log_client(peer->uid, LOG_WARNING, "Could not read the groups of %s: %s", who, strerror(-n));
		n = 0;
	}
	peer_set_groups(peer, groups, (size_t)n, admin_gid, who);
	return 0;
}

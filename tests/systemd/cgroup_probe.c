// SPDX-License-Identifier: MIT
/*
 * make systemd-check's probe of daemon/api/cgroup.c: run inside the broker's
 * mount namespace with its uid (nsenter), it reads another process's
 * identity as the broker would, through /proc as the unit's sandbox mounts
 * it.  Prints one line:
 *   layout hybrid unit backup.service slices -.slice batch.slice machine - user_unit -
 * or the error, and exits 1 then.
 * Usage: cgroup_probe PID
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "cgroup.h"

static const char *const layouts[] = {
	[CGROUP_LAYOUT_UNIFIED] = "unified",
	[CGROUP_LAYOUT_HYBRID] = "hybrid",
	[CGROUP_LAYOUT_LEGACY] = "legacy",
};

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

int main(int argc, char **argv)
{
	struct cgroup_identity *id;
	enum cgroup_layout layout;
	pid_t pid;
	int pidfd, r;

	if (argc != 2 || (pid = (pid_t)atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: cgroup_probe PID\n");
		return 2;
	}
	r = cgroup_layout_detect(&layout);
	if (r < 0) {
		fprintf(stderr, "cgroup_probe: layout: %s\n", strerror(-r));
		return 1;
	}
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		fprintf(stderr, "cgroup_probe: pidfd_open %d: %s\n", (int)pid, strerror(errno));
		return 1;
	}
	r = cgroup_identity_of(pidfd, pid, layout, &id);
	if (r < 0) {
		fprintf(stderr, "cgroup_probe: the identity of pid %d (uid %u reading): %s\n", (int)pid,
			(unsigned)getuid(), strerror(-r));
		return 1;
	}
	printf("layout %s unit %s slices", layouts[layout], or_dash(id->unit));
	for (unsigned i = 0; i < id->n_slices; i++)
		printf(" %s", id->slices[i]);
	printf(" machine %s user_unit %s\n", or_dash(id->machine), or_dash(id->user_unit));
	cgroup_identity_free(id);
	close(pidfd);
	return 0;
}

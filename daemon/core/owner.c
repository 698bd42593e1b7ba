// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "log.h"
#include "owner.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77	/* Linux 6.5; bookworm's headers predate it */
#endif

int owner_peer_pidfd(int fd, pid_t pid)
{
	int pidfd;
	socklen_t len = sizeof(pidfd);

	/* The kernel's own reference to the peer: no pid-reuse window at all. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0)
		return pidfd;
	/*
	 * Older kernels: open it by pid.  The pid cannot have been reused while
	 * the peer's socket is still connected to us unless the peer passed
	 * its socket on and exited; that window remains on those kernels.
	 */
	pidfd = pidfd_open(pid, 0);
	return pidfd < 0 ? -errno : pidfd;
}

static bool pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

static int owner_on_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct owner *o = userdata;

	(void)s;
	(void)fd;
	(void)revents;
	o->exited = true;
	sd_event_source_set_enabled(o->exit_source, SD_EVENT_OFF);
	owner_ref(o);
	broker_owner_exited(o->broker, o);
	owner_unref(o);
	return 0;
}

struct owner *owner_get(struct broker *b, pid_t pid, int pidfd)
{
	struct owner *o;

	list_for_each(o, &b->owners, link) {
		if (o->pid == pid && !o->exited && (o->pidfd < 0 || !pidfd_exited(o->pidfd))) {
			if (pidfd >= 0)
				close(pidfd);
			return owner_ref(o);
		}
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		if (pidfd >= 0)
			close(pidfd);
		return NULL;
	}
	o->broker = b;
	o->pid = pid;
	o->refs = 1;
	o->pidfd = pidfd >= 0 ? pidfd : pidfd_open(pid, 0);
	/* No uid to charge: these fail for the broker's reasons (out of fds), not a user's. */
	if (o->pidfd < 0)
		log_client(LOG_UID_NONE, LOG_WARNING, "Could not follow pid %d (%m): its queues live by connection only",
			   (int)pid);
	else if (b->event &&
		 sd_event_add_io(b->event, &o->exit_source, o->pidfd, EPOLLIN, owner_on_exit, o) < 0)
		log_client(LOG_UID_NONE, LOG_WARNING, "Could not watch pid %d: its queues live by connection only",
			   (int)pid);
	list_insert_tail(&b->owners, &o->link);
	return o;
}

int owner_pidfd_copy(const struct owner *o)
{
	int pidfd;

	if (!o || o->pidfd < 0)
		return -EBADF;
	pidfd = pidfd_open(o->pid, 0);
	if (pidfd < 0)
		return -errno;
	/* Alive after the open: the pid was still @o's when we opened it. */
	if (pidfd_exited(o->pidfd)) {
		close(pidfd);
		return -ESRCH;
	}
	return pidfd;
}

struct owner *owner_ref(struct owner *o)
{
	if (o)
		o->refs++;
	return o;
}

void owner_unref(struct owner *o)
{
	if (!o || --o->refs > 0)
		return;
	sd_event_source_disable_unref(o->exit_source);
	if (o->pidfd >= 0)
		close(o->pidfd);
	list_remove(&o->link);
	free(o);
}

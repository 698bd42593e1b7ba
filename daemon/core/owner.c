// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "owner.h"
#include "pidfd.h"
#include "util.h"

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

static int owner_on_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct owner *o = userdata;

	(void)s;
	(void)fd;
	(void)revents;
	o->exited = true;
	sd_event_source_set_enabled(o->exit_source, SD_EVENT_OFF);
	owner_ref(o);	/* the callback may drop the last queue's reference */
	o->set->exited(o, o->set->data);
	owner_unref(o);
	return 0;
}

void owners_init(struct owners *set, sd_event *event, void (*exited)(struct owner *o, void *data),
		 void *data)
{
	*set = (struct owners){ .event = event, .exited = exited, .data = data };
	list_init(&set->list);
}

static struct owner *owner_find(struct owners *set, pid_t pid)
{
	struct owner *o;

	list_for_each(o, &set->list, link)
		if (o->pid == pid && !o->exited && (o->pidfd < 0 || !pidfd_exited(o->pidfd)))
			return o;
	return NULL;
}

/* Follow @o's exit; failing that, its queues live by connection only. */
static void owner_follow(struct owner *o)
{
	/* No uid to charge: these fail for the broker's reasons (out of fds), not a user's. */
	if (o->pidfd < 0)
		log_client(LOG_UID_NONE, LOG_WARNING, "Could not follow pid %d (%m): its queues live by connection only",
			   (int)o->pid);
	else if (o->set->event &&
		 sd_event_add_io(o->set->event, &o->exit_source, o->pidfd, EPOLLIN, owner_on_exit, o) < 0)
		log_client(LOG_UID_NONE, LOG_WARNING, "Could not watch pid %d: its queues live by connection only",
			   (int)o->pid);
}

struct owner *owner_get(struct owners *set, pid_t pid, int pidfd_in)
{
	_cleanup_close_ int pidfd = pidfd_in;
	struct owner *o = owner_find(set, pid);

	if (o)
		return owner_ref(o);
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->set = set;
	o->pid = pid;
	o->refs = 1;
	o->pidfd = pidfd >= 0 ? TAKE_FD(pidfd) : pidfd_open(pid, 0);
	owner_follow(o);
	list_insert_tail(&set->list, &o->link);
	return o;
}

int owner_pidfd_copy(const struct owner *o)
{
	_cleanup_close_ int pidfd = -1;

	if (!o || o->pidfd < 0)
		return -EBADF;
	pidfd = pidfd_open(o->pid, 0);
	if (pidfd < 0)
		return -errno;
	/* Alive after the open: the pid was still @o's when we opened it. */
	if (pidfd_exited(o->pidfd))
		return -ESRCH;
	return TAKE_FD(pidfd);
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

/* SPDX-License-Identifier: MIT */
/*
 * The process that owns queues, followed through a pidfd.  A queue never
 * outlives its owner: when the process exits, the event loop sees its pidfd
 * become readable and the broker revokes every queue it held, even while a
 * forked child or a process it passed fds to keeps its connection open.
 * No polling of /proc.
 */
#ifndef ACCEL_DAEMON_OWNER_H
#define ACCEL_DAEMON_OWNER_H

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "list.h"

struct owner;

/* The owners the broker follows, and whom to tell when one exits (the core: a callback, not a call up). */
struct owners {
	struct list list;
	sd_event *event;	/* NULL: exits are not followed (unit tests) */
	void (*exited)(struct owner *o, void *data);
	void *data;
};

struct owner {
	struct list link;	/* owners.list */
	struct owners *set;
	pid_t pid;
	int pidfd;		/* -1: none could be had; queues then live by connection only */
	sd_event_source *exit_source;
	unsigned refs;		/* connections and queues */
	bool exited;
};

void owners_init(struct owners *set, sd_event *event, void (*exited)(struct owner *o, void *data),
		 void *data);

/*
 * The owner record of process @pid, shared by all its connections: found,
 * or made from @pidfd (consumed; -1 to open one with pidfd_open()).
 */
struct owner *owner_get(struct owners *set, pid_t pid, int pidfd);
struct owner *owner_ref(struct owner *o);
void owner_unref(struct owner *o);

/*
 * A new pidfd of @o's process, a file of its own rather than a dup (the fd
 * store keeps one copy of a file however often it is sent); a negative
 * errno if the process exited or was never followed.
 */
int owner_pidfd_copy(const struct owner *o);

/* A pidfd for the peer of the connected socket @fd (SO_PEERPIDFD, else pidfd_open). */
int owner_peer_pidfd(int fd, pid_t pid);

#endif

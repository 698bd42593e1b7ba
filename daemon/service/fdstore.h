/* SPDX-License-Identifier: MIT */
/*
 * Restart survival (design rule 6).  Under systemd, every handed-out queue
 * is kept in the service's file descriptor store: the queue's fd and a
 * pidfd of its owner, under a name that carries what the broker needs to
 * take the queue back (id, owner, terms, algorithm, device).  When the
 * broker restarts, systemd passes them back with the listening socket and
 * the new broker adopts every queue whose device is still there; queues
 * whose owner died meanwhile are reclaimed as owner-exited.
 *
 * systemd 252 keeps the store across `systemctl restart` and automatic
 * restarts (Restart=), not across `stop` + `start`.
 */
#ifndef ACCEL_DAEMON_FDSTORE_H
#define ACCEL_DAEMON_FDSTORE_H

#include <stdbool.h>

struct broker;
struct broker_watcher;
struct queue;
struct resolver;

/* The name accel-broker.socket gives the listening socket (FileDescriptorName=). */
#define FDSTORE_LISTEN_NAME	"broker"
/* The longest fd name systemd takes. */
#define FDSTORE_NAME_MAX	255

/*
 * The name a queue is stored under, which carries its state:
 *   q1.<id>.<uid>.<gid>.<pid>.<acquired_usec>.<lifetime>.<fork>.<transfer>.<algorithm>.<device>
 * -EINVAL if the algorithm or device cannot be put in a name (a ':', a
 * control character, a '.' in the algorithm), -ENAMETOOLONG past 255.
 */
int fdstore_queue_name(const struct queue *q, char name[FDSTORE_NAME_MAX + 1]);
/* Back: fill @q's id, owner, terms, algorithm and acquired_usec; @device points into @name. */
int fdstore_parse_name(const char *name, struct queue *q, const char **device);

/* Whether a service manager may keep fds for us ($NOTIFY_SOCKET is set, not empty). */
bool fdstore_available(void);

/*
 * Keep @b's queues in the store from now on: @w hears every queue handed
 * out (put in the store), gone or changing owner (taken out), and @b
 * leaves them there at shutdown.  Unwatch @w when done.
 */
void fdstore_follow(struct broker *b, struct broker_watcher *w);

/*
 * Take what systemd passed at start: returns the listening socket (or
 * -ENOENT: none was passed) and adopts every stored queue into @b, whose
 * devices must be set up already.  Queues that cannot be adopted are taken
 * out of the store and closed.  Their owners' groups are asked of
 * @resolver first (5 s for all; an owner not answered by then counts in
 * its primary group only); call it before the loop runs.
 */
int fdstore_take_passed(struct broker *b, struct resolver *resolver);

#endif

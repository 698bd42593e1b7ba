/* SPDX-License-Identifier: MIT */
/*
 * Which of the process's file descriptors are brokered queues, and which
 * queue each one is.  dup() and its kin make several descriptors of one
 * queue; the queue goes back to the broker when the last one closes, as a
 * uacce queue is released when its file's last descriptor goes.  Pure
 * bookkeeping: the caller makes the system calls and the broker calls, and
 * holds the lock.
 */
#ifndef ACCEL_PRELOAD_FDTABLE_H
#define ACCEL_PRELOAD_FDTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fdtable_entry {
	int fd;
	uint64_t queue_id;	/* the broker's id of the queue */
};

/*
 * A table is its process's: a vfork()ed child shares the parent's memory,
 * and with it the table, but its descriptors are its own, and no fork
 * handler runs to tell.  In any other process (getpid() is not @owner)
 * every call but fdtable_clear() leaves the table alone and answers as
 * for an empty one; fdtable_add() fails with -EPERM.
 */
struct fdtable {
	struct fdtable_entry *entries;	/* unordered */
	size_t n, size;
	pid_t owner;	/* 0: the first process to add owns it */
};

/*
 * @fd is a new descriptor of queue @queue_id; -ENOMEM leaves @t as it was.
 * If the table had @fd already, that descriptor was closed behind our
 * back (a raw system call): its queue's id goes to @stale (if not NULL)
 * when @fd was its last descriptor, to give back; else 0.
 */
int fdtable_add(struct fdtable *t, int fd, uint64_t queue_id, uint64_t *stale);
/* Whether the table is this process's (see above). */
bool fdtable_mine(const struct fdtable *t);
/* Whether @fd is a queue's, and which. */
bool fdtable_lookup(const struct fdtable *t, int fd, uint64_t *queue_id);
/*
 * @fd was closed: returns the id of its queue if it was that queue's last
 * descriptor (to give back), else 0.
 */
uint64_t fdtable_close(struct fdtable *t, int fd);
/*
 * @newfd is now a copy of @oldfd (dup, dup2, dup3, F_DUPFD): whatever
 * @newfd was before is closed (its queue's id is returned if that was its
 * last descriptor, else 0).  Nothing else changes if @oldfd is no queue's.
 * On -ENOMEM @newfd is left untracked (its queue then lives until the
 * connection closes).
 */
uint64_t fdtable_dup(struct fdtable *t, int oldfd, int newfd);
/*
 * Every descriptor from @first to @last was closed (close_range): the ids
 * of the queues that lost their last one go to @ids (at most @max; the
 * table never holds more queues than descriptors).  Returns how many.
 */
size_t fdtable_close_range(struct fdtable *t, unsigned first, unsigned last, uint64_t *ids, size_t max);
/* Descriptors of queues: the table's size. */
size_t fdtable_count(const struct fdtable *t);
/* Forget everything and belong to this process (a forked child: the queues are its parent's). */
void fdtable_clear(struct fdtable *t);

#endif

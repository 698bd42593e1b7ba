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

struct fdtable_entry {
	int fd;
	uint64_t queue_id;	/* the broker's id of the queue */
};

struct fdtable {
	struct fdtable_entry *entries;	/* unordered */
	size_t n, size;
};

/* @fd is a new descriptor of queue @queue_id; -ENOMEM leaves @t as it was. */
int fdtable_add(struct fdtable *t, int fd, uint64_t queue_id);
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
/* Forget everything (a forked child: the queues are its parent's). */
void fdtable_clear(struct fdtable *t);

#endif

// SPDX-License-Identifier: MIT
/*
 * Raw queues: a device's queue as open(2) of its node gives it, for
 * programs that drive the device with their own user driver (UADK and what
 * runs on it, through libaccel-preload.so).  libaccel maps nothing: the fd
 * is the caller's, as the node's would be.  It keeps a record of each (id,
 * device, the fd's number) on the client's queue list, so that a restarted
 * broker, which took the queue back from its fd store, gets it attached
 * again (reconnect.c) like any other queue and does not release it when
 * its reattach deadline passes.  The fd number is only compared there
 * (kcmp) with the file the broker hands back, and if the program moved its
 * fd meanwhile, every other descriptor is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <accel/uacce.h>

#include "libaccel.h"
#include "util.h"
#include "varlink.h"

#define EXPORT __attribute__((visibility("default")))

static bool reply_says_client_binds(struct json_object *reply)
{
	struct json_object *bind;

	return json_object_object_get_ex(reply, "bind", &bind) && json_object_is_type(bind, json_type_string) &&
	       strcmp(json_object_get_string(bind), "client") == 0;
}

/*
 * An SVA queue the broker opened is bound to the broker's address space:
 * ours before the program maps it, which the kernel refuses otherwise.
 */
static int bind_to_us(int fd)
{
	if (ioctl(fd, UACCE_CMD_BIND_MM) == 0)
		return 0;
	return errno == ENXIO ? -ENOLINK : -errno;	/* ENXIO: revoked meanwhile */
}

/* A record of raw queue @id on @fd, on @c's list; -ENOMEM. */
static int remember(struct accel_client *c, const char *device, uint64_t id, int fd)
{
	struct accel_queue *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->raw = true;
	q->id = id;
	q->fd = fd;
	q->fork_generation = accel_fork_generation;
	snprintf(q->device, sizeof(q->device), "%s", device);
	accel_client_link_queue(c, q);
	return 0;
}

/* Take raw queue @id's record off @c's list and free it (the fd stays open). */
static void forget(struct accel_client *c, uint64_t id)
{
	struct accel_queue *q;

	pthread_mutex_lock(&c->lock);	/* the watcher walks the list */
	for (q = c->queues; q; q = q->next)
		if (q->raw && q->id == id)
			break;
	if (q)
		accel_client_unlink_queue(c, q);
	pthread_mutex_unlock(&c->lock);
	free(q);
}

EXPORT int accel_acquire_raw(struct accel_client *c, const char *device, uint64_t *queue_id)
{
	_cleanup_(json_object_putp) struct json_object *reply = NULL;
	struct json_object *params, *id;
	int fds[2] = { -1, -1 };	/* no with_event_fd: only the queue's */
	_cleanup_close_ int fd = -1;
	uint64_t got;
	int r;

	if (!c || !device || !queue_id)
		return -EINVAL;
	params = json_object_new_object();
	if (!params)
		return -ENOMEM;
	json_object_object_add(params, "device", json_object_new_string(device));
	r = accel_call_fd(c, ACCEL_INTERFACE ".AcquireQueue", params, &reply, fds);
	fd = fds[0];
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(reply, "queue_id", &id) || !json_object_is_type(id, json_type_int) ||
	    json_object_get_int64(id) <= 0)
		return -EPROTO;
	got = (uint64_t)json_object_get_int64(id);
	r = fd < 0 ? -EPROTO : reply_says_client_binds(reply) ? bind_to_us(fd) : 0;
	if (r == 0)
		r = remember(c, device, got, fd);
	if (r < 0) {
		accel_release_on_broker(c, got);
		return r;
	}
	*queue_id = got;
	return TAKE_FD(fd);
}

EXPORT int accel_release_raw(struct accel_client *c, uint64_t queue_id)
{
	if (!c || queue_id == 0 || queue_id > INT64_MAX)
		return -EINVAL;
	forget(c, queue_id);
	return accel_release_on_broker(c, queue_id);
}

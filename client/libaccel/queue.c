// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <accel/uacce.h>
#include <misc/uacce/uacce.h>

#include "errors.h"
#include "libaccel.h"
#include "util.h"
#include "varlink.h"

#define EXPORT __attribute__((visibility("default")))

/* Regions larger than this are a broker bug, not something to map. */
#define REGION_SIZE_MAX (1ull << 32)

unsigned accel_fork_generation;

static const struct accel_driver *const drivers[] = {
	&accel_driver_sim,
	&accel_driver_sim_sva,
};

/* How a queue comes: fresh from the broker, or again (AttachQueue) to the process that had it. */
enum queue_origin {
	QUEUE_FRESH,
	QUEUE_AGAIN,
};

static void on_fork_child(void)
{
	__atomic_add_fetch(&accel_fork_generation, 1, __ATOMIC_RELAXED);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, on_fork_child);
}

static const struct accel_driver *find_driver(const char *api)
{
	for (size_t i = 0; i < ELEMENTSOF(drivers); i++)
		if (strcmp(drivers[i]->api, api) == 0)
			return drivers[i];
	return NULL;
}

static void copy_string(char *dst, size_t size, struct json_object *o, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(dst, size, "%s", json_object_get_string(v));
}

/*
 * Map one region.  MADV_DONTFORK unless the policy allows forking: a forked
 * child must not see the queue's memory (the kernel's uacce mappings are
 * VM_DONTCOPY for the same reason).
 */
static int map_region(int fd, const struct accel_region *r, bool fork_allowed, void **addr,
		      size_t *size)
{
	if (r->size == 0 || r->size > REGION_SIZE_MAX || r->offset > INT64_MAX ||
	    r->offset % (uint64_t)sysconf(_SC_PAGESIZE) != 0)
		return -EPROTO;
	*addr = mmap(NULL, (size_t)r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)r->offset);
	if (*addr == MAP_FAILED) {
		*addr = NULL;
		return -errno;
	}
	if (!fork_allowed)
		madvise(*addr, (size_t)r->size, MADV_DONTFORK);
	*size = (size_t)r->size;
	return 0;
}

/* Map the "mmio" and "dus" regions; region types we do not know are not ours to map. */
static int map_regions(struct accel_queue *q, const struct accel_region *regions, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		if (!regions[i].type)
			return -EPROTO;
		if (strcmp(regions[i].type, "mmio") == 0 && !q->mmio)
			r = map_region(q->fd, &regions[i], q->fork_allowed, &q->mmio, &q->mmio_size);
		else if (strcmp(regions[i].type, "dus") == 0 && !q->dus)
			r = map_region(q->fd, &regions[i], q->fork_allowed, &q->dus, &q->dus_size);
	}
	if (r < 0)
		return r;
	return q->mmio && q->dus ? 0 : -EPROTO;
}

/* The reply's regions as a list (types point into @reply). */
static int regions_from_json(struct json_object *reply, struct accel_region *out, size_t max, size_t *n)
{
	struct json_object *regions;

	if (!json_object_object_get_ex(reply, "regions", &regions) ||
	    !json_object_is_type(regions, json_type_array) || json_object_array_length(regions) > max)
		return -EPROTO;
	*n = json_object_array_length(regions);
	for (size_t i = 0; i < *n; i++) {
		struct json_object *region = json_object_array_get_idx(regions, i), *type, *off, *sz;
		if (!json_object_object_get_ex(region, "type", &type) ||
		    !json_object_is_type(type, json_type_string) ||
		    !json_object_object_get_ex(region, "offset", &off) || !json_object_is_type(off, json_type_int) ||
		    !json_object_object_get_ex(region, "size", &sz) || !json_object_is_type(sz, json_type_int) ||
		    json_object_get_int64(off) < 0 || json_object_get_int64(sz) < 0)
			return -EPROTO;
		out[i] = (struct accel_region){ json_object_get_string(type), (uint64_t)json_object_get_int64(off),
						(uint64_t)json_object_get_int64(sz) };
	}
	return 0;
}

static void queue_free(struct accel_queue *q)
{
	if (q->driver && q->driver_state)
		q->driver->finish(q);
	if (q->mmio)
		munmap(q->mmio, q->mmio_size);
	if (q->dus)
		munmap(q->dus, q->dus_size);
	if (q->fd >= 0)
		close(q->fd);
	if (q->event_fd >= 0)
		close(q->event_fd);
	free(q);
}

void accel_client_unlink_queue(struct accel_client *c, struct accel_queue *q)
{
	for (struct accel_queue **p = &c->queues; *p; p = &(*p)->next) {
		if (*p == q) {
			*p = q->next;
			return;
		}
	}
}

void accel_client_link_queue(struct accel_client *c, struct accel_queue *q)
{
	q->client = c;
	pthread_mutex_lock(&c->lock);	/* the watcher walks the list */
	q->next = c->queues;
	c->queues = q;
	/* Without the watcher the queue still works; it only would not outlive a broker restart. */
	(void)accel_client_watch(c);
	pthread_mutex_unlock(&c->lock);
}

static struct json_object *id_params(uint64_t id)
{
	struct json_object *params = json_object_new_object();

	if (params)
		json_object_object_add(params, "queue_id", json_object_new_int64((int64_t)id));
	return params;
}

int accel_release_on_broker(struct accel_client *c, uint64_t id)
{
	return accel_call(c, ACCEL_INTERFACE ".ReleaseQueue", id_params(id), NULL);
}

static struct json_object *acquire_params(const char *algorithm,
					  const struct accel_acquire_options *o)
{
	struct json_object *params = json_object_new_object();

	if (!params)
		return NULL;
	json_object_object_add(params, "algorithm", json_object_new_string(algorithm));
	if (o && o->device)
		json_object_object_add(params, "device", json_object_new_string(o->device));
	if (o && o->numa_node >= 0)
		json_object_object_add(params, "numa_node", json_object_new_int(o->numa_node));
	return params;
}

/*
 * A queue the broker opened is bound to the broker's address space (SVA):
 * bind it to ours before anything is mapped, the kernel refuses the mapping
 * otherwise.  A queue we had before (@origin QUEUE_AGAIN: attached again in
 * the same process) may be bound, mapped and started already: EBUSY then
 * means it is ours, and the kernel still refuses any other address space.
 */
static int queue_bind(struct accel_queue *q, enum queue_origin origin)
{
	if (ioctl(q->fd, UACCE_CMD_BIND_MM) == 0 || (origin == QUEUE_AGAIN && errno == EBUSY))
		return 0;
	return errno == ENXIO ? -ENOLINK : -errno;	/* ENXIO: revoked meanwhile */
}

/* Start a queue we bound; one started already (QUEUE_AGAIN) reads EINVAL. */
static int queue_start(struct accel_queue *q, enum queue_origin origin)
{
	if (ioctl(q->fd, UACCE_CMD_START_Q) == 0 || (origin == QUEUE_AGAIN && errno == EINVAL))
		return 0;
	return errno == ENXIO ? -ENOLINK : -errno;
}

/*
 * Find the driver of q->api, map the regions and let the driver check them;
 * a queue the client binds (@bind, or its api's driver says so) is bound
 * first and started after mapping.
 */
static int queue_map(struct accel_queue *q, const struct accel_region *regions, size_t n,
		     bool bind, enum queue_origin origin)
{
	int r;

	q->driver = find_driver(q->api);
	if (!q->driver)
		return -EPROTONOSUPPORT;
	bind = bind || q->driver->bind_client;
	if (bind && (r = queue_bind(q, origin)) < 0)
		return r;
	r = map_regions(q, regions, n);
	if (r < 0)
		return r;
	if (bind && (r = queue_start(q, origin)) < 0)
		return r;
	return q->driver->init(q);
}

/* Turn the reply into a mapped queue; on failure the caller releases it. */
static int queue_setup(struct accel_queue *q, struct json_object *reply, enum queue_origin origin)
{
	struct accel_region regions[ACCEL_MAX_REGIONS];
	struct json_object *id, *fork, *bind;
	bool bind_client;
	size_t n;
	int r;

	if (!json_object_object_get_ex(reply, "queue_id", &id) || !json_object_is_type(id, json_type_int))
		return -EPROTO;
	q->id = (uint64_t)json_object_get_int64(id);
	copy_string(q->device, sizeof(q->device), reply, "device");
	copy_string(q->api, sizeof(q->api), reply, "api");
	copy_string(q->algorithm, sizeof(q->algorithm), reply, "algorithm");
	q->fork_allowed = json_object_object_get_ex(reply, "fork", &fork) &&
			  json_object_is_type(fork, json_type_string) &&
			  strcmp(json_object_get_string(fork), "allow") == 0;
	/* Absent (an older broker): "none". */
	bind_client = json_object_object_get_ex(reply, "bind", &bind) &&
		      json_object_is_type(bind, json_type_string) &&
		      strcmp(json_object_get_string(bind), "client") == 0;
	r = regions_from_json(reply, regions, ELEMENTSOF(regions), &n);
	if (r < 0)
		return r;
	return queue_map(q, regions, n, bind_client, origin);
}

/*
 * Whether the last error says the broker does not know with_event_fd (one
 * older than event pipes refuses parameters it does not know, before it
 * does anything): ask again without.
 */
static bool refused_with_event_fd(const struct accel_client *c)
{
	return strcmp(c->error_name, "org.varlink.service.InvalidParameter") == 0 &&
	       strstr(c->error_message, "with_event_fd") != NULL;
}

/* Call @method (@params consumed) asking for the event fd too, from any broker. */
static int call_for_queue(struct accel_client *c, const char *method, struct json_object *params,
			  struct json_object **reply, int fds[2])
{
	int r;

	if (!params)
		return -ENOMEM;
	json_object_object_add(params, "with_event_fd", json_object_new_boolean(1));
	r = accel_call_fd(c, method, json_object_get(params), reply, fds);
	if (r < 0 && refused_with_event_fd(c)) {
		json_object_object_del(params, "with_event_fd");
		r = accel_call_fd(c, method, json_object_get(params), reply, fds);
	}
	json_object_put(params);
	return r;
}

/* A new handle for the fds of a reply (taken, closed on failure); NULL: out of memory. */
static struct accel_queue *queue_new(const int fds[2])
{
	struct accel_queue *q = calloc(1, sizeof(*q));

	if (!q) {
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return NULL;
	}
	q->fd = fds[0];
	q->event_fd = fds[1];
	/* Reading a wake-up must never block, whatever was done to the pipe before. */
	if (q->event_fd >= 0)
		(void)fcntl(q->event_fd, F_SETFL, O_RDONLY | O_NONBLOCK);
	q->fork_generation = accel_fork_generation;
	return q;
}

/*
 * Call @method, whose reply hands out a queue with its fd (AcquireQueue,
 * AttachQueue, ClaimQueue), and map it.  A queue that cannot be set up goes
 * back to the broker when @give_back (a fresh acquire) and is only dropped
 * otherwise.
 */
static int receive_queue(struct accel_client *c, const char *method, struct json_object *params,
			 bool give_back, enum queue_origin origin, struct accel_queue **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	_cleanup_(json_object_putp) struct json_object *reply = NULL;
	struct accel_queue *q;
	int fds[2] = { -1, -1 }, r;

	pthread_once(&once, register_atfork);
	r = call_for_queue(c, method, params, &reply, fds);
	if (r < 0)
		return r;
	q = queue_new(fds);
	if (!q)
		return -ENOMEM;
	r = q->fd < 0 ? -EPROTO : queue_setup(q, reply, origin);
	if (r < 0) {
		if (q->id && give_back)
			accel_release_on_broker(c, q->id);
		queue_free(q);
		return r;
	}
	accel_client_link_queue(c, q);
	*out = q;
	return 0;
}

EXPORT int accel_acquire(struct accel_client *c, const char *algorithm,
			 const struct accel_acquire_options *options, struct accel_queue **out)
{
	if (!c || !algorithm || !out)
		return -EINVAL;
	return receive_queue(c, ACCEL_INTERFACE ".AcquireQueue", acquire_params(algorithm, options),
			     true, QUEUE_FRESH, out);
}

EXPORT int accel_attach(struct accel_client *c, uint64_t queue_id, struct accel_queue **out)
{
	if (!c || !out || queue_id == 0 || queue_id > INT64_MAX)
		return -EINVAL;
	return receive_queue(c, ACCEL_INTERFACE ".AttachQueue", id_params(queue_id), false, QUEUE_AGAIN,
			     out);
}

EXPORT int accel_claim(struct accel_client *c, const char *token, struct accel_queue **out)
{
	struct json_object *params;

	if (!c || !token || !out)
		return -EINVAL;
	params = json_object_new_object();
	if (params)
		json_object_object_add(params, "token", json_object_new_string(token));
	/* A claimed SVA queue is a fresh one (the broker renews it): ours to bind. */
	return receive_queue(c, ACCEL_INTERFACE ".ClaimQueue", params, false, QUEUE_FRESH, out);
}

EXPORT int accel_transfer(struct accel_queue *q, char token[ACCEL_TOKEN_SIZE])
{
	_cleanup_(json_object_putp) struct json_object *reply = NULL;
	struct json_object *t;
	int r;

	if (!q || !token)
		return -EINVAL;
	if (!q->client)
		return -ENOTCONN;
	r = accel_queue_usable(q);
	if (r < 0)
		return r;
	r = accel_call(q->client, ACCEL_INTERFACE ".TransferQueue", id_params(q->id), &reply);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(reply, "token", &t) || !json_object_is_type(t, json_type_string) ||
	    strlen(json_object_get_string(t)) >= ACCEL_TOKEN_SIZE)
		return -EPROTO;
	strcpy(token, json_object_get_string(t));
	/* The queue is the receiver's now: drop every trace of it here. */
	pthread_mutex_lock(&q->client->lock);
	accel_client_unlink_queue(q->client, q);
	pthread_mutex_unlock(&q->client->lock);
	queue_free(q);
	return 0;
}

EXPORT int accel_queue_import(int fd, const struct accel_import *im, struct accel_queue **out)
{
	struct accel_queue *q;
	int r;

	if (fd < 0 || !im || !im->api || !im->regions || !out)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->event_fd = -1;
	q->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (q->fd < 0) {
		r = -errno;
		free(q);
		return r;
	}
	q->id = im->queue_id;
	q->fork_generation = accel_fork_generation;
	snprintf(q->device, sizeof(q->device), "%s", im->device ? im->device : "");
	snprintf(q->api, sizeof(q->api), "%s", im->api);
	snprintf(q->algorithm, sizeof(q->algorithm), "%s", im->algorithm ? im->algorithm : "");
	r = queue_map(q, im->regions, im->n_regions, false, QUEUE_FRESH);
	if (r < 0) {
		queue_free(q);
		return r;
	}
	*out = q;
	return 0;
}

EXPORT int accel_release(struct accel_queue *q)
{
	struct accel_client *c;
	bool revoked;
	int r = 0;

	if (!q)
		return -EINVAL;
	c = q->client;
	/*
	 * A queue the broker revoked is gone from the broker already: nothing
	 * to give back, and no reason to wait for a broker that stopped.
	 */
	revoked = q->driver && q->driver_state && q->driver->state(q) == ACCEL_QUEUE_REVOKED;
	/* Unmap first: once the broker has it back, the memory is not ours. */
	if (q->driver && q->driver_state)
		q->driver->finish(q);
	q->driver_state = NULL;
	if (c) {
		pthread_mutex_lock(&c->lock);
		accel_client_unlink_queue(c, q);
		pthread_mutex_unlock(&c->lock);
		if (!revoked && accel_queue_usable(q) == 0)
			r = accel_release_on_broker(c, q->id);
	}
	queue_free(q);
	return r;
}

EXPORT uint64_t accel_queue_id(const struct accel_queue *q)
{
	return q->id;
}

EXPORT const char *accel_queue_device(const struct accel_queue *q)
{
	return q->device;
}

EXPORT const char *accel_queue_api(const struct accel_queue *q)
{
	return q->api;
}

EXPORT const char *accel_queue_algorithm(const struct accel_queue *q)
{
	return q->algorithm;
}

EXPORT enum accel_queue_state accel_queue_state(const struct accel_queue *q)
{
	return q->driver->state(q);
}

EXPORT void *accel_queue_buffer(struct accel_queue *q, size_t *size)
{
	return q->driver->buffer(q, size);
}

EXPORT int accel_queue_event_fd(const struct accel_queue *q)
{
	return q->driver->event_fd(q);
}

EXPORT int accel_queue_set_event_fd(struct accel_queue *q, int fd)
{
	int copy;

	if (fd < 0 || q->event_fd >= 0)
		return -EINVAL;
	copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (copy < 0)
		return -errno;
	(void)fcntl(copy, F_SETFL, O_RDONLY | O_NONBLOCK);
	q->event_fd = copy;
	return 0;
}

EXPORT int accel_queue_arm(struct accel_queue *q)
{
	int r = accel_queue_usable(q);

	return r < 0 ? r : q->driver->event_arm(q);
}

EXPORT void accel_queue_event_clear(struct accel_queue *q)
{
	if (accel_queue_usable(q) == 0)
		q->driver->event_clear(q);
}

EXPORT int accel_submit(struct accel_queue *q, const struct accel_op *op)
{
	struct accel_op own;
	int r = accel_queue_usable(q);

	if (r < 0)
		return r;
	if (op && (op->flags & ACCEL_OP_MORE)) {
		/* accel_run()'s flag: a step of a stream is what every submit is. */
		own = *op;
		own.flags &= ~ACCEL_OP_MORE;
		op = &own;
	}
	return q->driver->submit(q, op);
}

EXPORT int accel_poll(struct accel_queue *q, struct accel_completion *out, unsigned max)
{
	int r = accel_queue_usable(q);

	return r < 0 ? r : q->driver->poll(q, out, max);
}

EXPORT int accel_wait(struct accel_queue *q, struct accel_completion *out, unsigned max,
		      int timeout_ms)
{
	int r = accel_queue_usable(q);

	return r < 0 ? r : q->driver->wait(q, out, max, timeout_ms);
}

/*
 * gzip and gunzip are streams.  Unless the caller says it runs a stream
 * step by step (ACCEL_OP_MORE on its first step, ACCEL_OP_CONTINUE after),
 * accel_run() is the whole stream: gzip gets ACCEL_OP_FINISH, and a result that does not
 * end the stream is an error (the destination was too small, or gunzip's
 * input ended inside a member), never a silent truncation.
 */
static bool one_shot_stream(const struct accel_queue *q, uint32_t flags)
{
	return !(flags & (ACCEL_OP_CONTINUE | ACCEL_OP_MORE)) &&
	       (strcmp(q->algorithm, "gzip") == 0 || strcmp(q->algorithm, "gunzip") == 0);
}

/*
 * Whether the result accel_run() just copied out of the data area is the
 * device's.  A revoke (an administrator, the device unbound, its module
 * removed) may come after the completion was reaped and before or during
 * that copy: the kernel marks the queue revoked, then swaps every page of
 * its mapping for scratch memory, which reads zeroes.  Read after the copy,
 * the state tells: still active, every byte came from the queue's own
 * pages; revoked, the bytes may be zeroes, and the operation fails with
 * -ENOLINK like any other on a revoked queue.
 */
static int copied_before_revoke(const struct accel_queue *q)
{
	/* The copy's loads before the state's. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	switch (q->driver->state(q)) {
	case ACCEL_QUEUE_ACTIVE:
		return 0;
	case ACCEL_QUEUE_REVOKED:
		return -ENOLINK;
	default:
		return -EIO;
	}
}

EXPORT int accel_run(struct accel_queue *q, const void *src, size_t src_len, void *dst,
		     size_t dst_len, uint64_t arg, uint32_t flags, struct accel_completion *out)
{
	bool whole = one_shot_stream(q, flags);
	struct accel_completion c;
	struct accel_op op = {
		.src = src, .src_len = src_len, .dst = dst, .dst_len = dst_len,
		.arg = arg, .flags = flags & ~ACCEL_OP_MORE,	/* libaccel's, not the device's */
	};
	unsigned char *buf;
	size_t size, half = 0;
	int r;

	if (!out)
		out = &c;
	r = accel_queue_usable(q);
	if (r < 0)
		return r;
	if (q->driver->in_flight(q) > 0)
		return -EBUSY;
	if (whole && strcmp(q->algorithm, "gzip") == 0)
		op.flags |= ACCEL_OP_FINISH;
	/* With no data area the device works in our memory (SVA): no copies. */
	buf = q->driver->buffer(q, &size);
	if (buf) {
		half = size / 2;
		if (src_len > half)
			return -E2BIG;
		if (dst_len > half)
			dst_len = half;
		if (src_len > 0)
			memcpy(buf, src, src_len);
		op.src = buf;
		op.dst = buf + half;
		op.dst_len = dst_len;
	}
	r = q->driver->submit(q, &op);
	if (r < 0)
		return r;
	r = q->driver->wait(q, out, 1, -1);
	if (r < 0)
		return r;
	if (out->status < 0)
		return out->status;
	if (buf && out->produced > 0) {
		memcpy(dst, buf + half, out->produced <= dst_len ? out->produced : dst_len);
		r = copied_before_revoke(q);
		if (r < 0)
			return r;
	}
	if (whole && !(out->flags & ACCEL_COMPLETION_STREAM_END))
		return out->produced >= dst_len ? -ENOSPC : -EPIPE;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * libaccel: acquire accelerator queues from accel-broker and submit work to
 * them without a system call per request.
 *
 * All functions return 0 (or a count) on success and a negative errno on
 * failure.  When the broker refused a request, accel_error_name() and
 * accel_error_message() tell why, e.g. "org.accelbroker.Broker.QuotaExceeded".
 *
 * Thread safety: a struct accel_client is a single connection; calls on the
 * same client must not overlap (use one client per thread, or a lock).
 * Different clients are independent.  A struct accel_queue is used by one
 * thread at a time (submit, poll and wait touch its rings without locks);
 * different queues may be used from different threads concurrently, even
 * when they were acquired through the same client.
 */
#ifndef ACCEL_ACCEL_H
#define ACCEL_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACCEL_DEFAULT_SOCKET	"/run/accel-broker/broker.sock"
#define ACCEL_SOCKET_ENV	"ACCEL_BROKER_SOCKET"

struct accel_client;
struct accel_queue;

/*
 * Connect to the broker at @socket_path; NULL means $ACCEL_BROKER_SOCKET or
 * ACCEL_DEFAULT_SOCKET.  The socket is close-on-exec.  Thread-safe.
 */
int accel_connect(const char *socket_path, struct accel_client **out);

/*
 * Close the connection.  Queues still held are released by the broker,
 * except those of lifetime "process", which stay this process's (see
 * accel_attach()); their handles stay valid for accel_release() (which then
 * only unmaps).  Not concurrently with any other call on @client or its
 * queues.
 */
void accel_disconnect(struct accel_client *client);

/* Name and message of the broker's last error on @client, or NULL.  Same thread as the call. */
const char *accel_error_name(const struct accel_client *client);
const char *accel_error_message(const struct accel_client *client);

struct accel_device {
	char *name;
	char *backend;		/* "sim" or "uacce" */
	char *api;		/* e.g. "accel_sim_v1" */
	char **algorithms;	/* NULL-terminated */
	bool sva;
	int numa_node;		/* -1 when unknown */
	unsigned queues_total;
	unsigned queues_free;
};

/* Not concurrently with other calls on @client. */
int accel_list_devices(struct accel_client *client,
		       struct accel_device **devices, size_t *n_devices);
void accel_devices_free(struct accel_device *devices, size_t n_devices);

struct accel_acquire_options {
	const char *device;	/* NULL: any device serving the algorithm */
	int numa_node;		/* -1: any node */
};

/*
 * Acquire a queue for @algorithm ("copy", "crc32c", "gzip", "gunzip", ...)
 * and map its regions.  @options may be NULL.  Only queues whose api has a
 * driver in libaccel can be acquired (-EPROTONOSUPPORT otherwise).  Not
 * concurrently with other calls on @client; the new queue is independent.
 */
int accel_acquire(struct accel_client *client, const char *algorithm,
		  const struct accel_acquire_options *options,
		  struct accel_queue **out);

/*
 * Unmap the queue, tell the broker, and free @queue (even on error).  Not
 * concurrently with other calls on its client or with the queue's data path.
 * A queue whose client disconnected is only unmapped and freed here: a
 * queue of lifetime "process" then stays the process's until it exits, or
 * until a new client attaches and releases it.  A queue the broker revoked
 * is gone from the broker: it is only unmapped, never waiting for a broker
 * that stopped.
 */
int accel_release(struct accel_queue *queue);

/*
 * Map queue @queue_id of this process again through @client (after
 * reconnecting, say): only for queues the broker keeps beyond their
 * connection (the policy's lifetime = process), and only in the process
 * that acquired it.  The new handle is held by @client.
 */
int accel_attach(struct accel_client *client, uint64_t queue_id, struct accel_queue **out);

/*
 * Hand @queue to another process (a pre-forked worker, say): on success
 * @token holds a single-use secret that expires (30 s by default), and
 * @queue is unmapped and freed, as the giver must not touch it again.  The
 * receiver passes the token to accel_claim().  On failure @queue is kept.
 */
#define ACCEL_TOKEN_SIZE 33
int accel_transfer(struct accel_queue *queue, char token[ACCEL_TOKEN_SIZE]);

/*
 * Take over the queue offered with @token: the calling process becomes its
 * owner (the broker checks its policy and quota) and @client holds it.
 */
int accel_claim(struct accel_client *client, const char *token, struct accel_queue **out);

/*
 * A raw queue of @device: the queue as open(2) of the device's node gives
 * it, with no algorithm set up and not started, for a program that drives
 * the device with its own user driver (libaccel-preload.so does this for
 * unchanged uacce programs).  Kernel (uacce) devices only.  An SVA
 * device's queue is bound to the caller's address space before it is
 * returned.  Returns the queue fd (close-on-exec, the caller's; nothing is
 * mapped) and sets *@queue_id, or a negative errno.  Not concurrently with
 * other calls on @client.  libaccel never closes or duplicates the fd; it
 * keeps the id (and the fd's number, to compare) and attaches the queue
 * again to a restarted broker, as it does its other queues, until
 * accel_release_raw() or accel_disconnect().
 */
int accel_acquire_raw(struct accel_client *client, const char *device, uint64_t *queue_id);
/* Give raw queue @queue_id back to the broker and forget it; the caller closes its fd. */
int accel_release_raw(struct accel_client *client, uint64_t queue_id);

/* A region of a queue fd, as the broker describes it: type "mmio" or "dus". */
struct accel_region {
	const char *type;
	uint64_t offset;	/* mmap offset */
	uint64_t size;
};

#define ACCEL_MAX_REGIONS 8

/* A queue handed out by other means than accel_acquire(), e.g. over D-Bus. */
struct accel_import {
	uint64_t queue_id;
	const char *device;	/* may be NULL */
	const char *api;	/* e.g. "accel_sim_v1" */
	const char *algorithm;	/* may be NULL */
	const struct accel_region *regions;
	size_t n_regions;
};

/*
 * Map the queue @fd (duplicated; the caller keeps its own) described by @im
 * and return a handle for the data path.  It belongs to no client: give it
 * back to the broker the way it came (D-Bus ReleaseQueue), and call
 * accel_release(), which then only unmaps.  Mappings are kept from forked
 * children (fork = deny).
 */
int accel_queue_import(int fd, const struct accel_import *im, struct accel_queue **out);

uint64_t accel_queue_id(const struct accel_queue *queue);
const char *accel_queue_device(const struct accel_queue *queue);
const char *accel_queue_api(const struct accel_queue *queue);
const char *accel_queue_algorithm(const struct accel_queue *queue);

/*
 * The queue's data area: the memory the device reads sources from and
 * writes results to.  Sources and destinations of accel_submit() must lie
 * inside it.  A queue of an SVA device (api accel_sim_sva_v1) has none:
 * NULL with *size 0; its device works in the caller's own memory, and
 * accel_submit() and accel_run() take any of the caller's pointers.
 */
void *accel_queue_buffer(struct accel_queue *queue, size_t *size);

/* accel_op.flags */
#define ACCEL_OP_CONTINUE	(1u << 0)	/* continue the queue's stream */
#define ACCEL_OP_FINISH		(1u << 1)	/* gzip: last input of the stream */
/* accel_run() only: one step of a longer stream, not the whole of it (see there) */
#define ACCEL_OP_MORE		(1u << 31)

/* accel_completion.flags */
#define ACCEL_COMPLETION_STREAM_END	(1u << 0)

struct accel_op {
	const void *src;	/* inside accel_queue_buffer(); anywhere on an SVA queue */
	size_t src_len;
	void *dst;		/* inside accel_queue_buffer(); anywhere on an SVA queue */
	size_t dst_len;
	uint64_t arg;		/* crc32c: seed; gzip: level (0 = default) */
	uint32_t flags;		/* ACCEL_OP_* */
	uint64_t user_data;
};

struct accel_completion {
	uint64_t user_data;
	int status;		/* 0 or a negative errno */
	uint32_t flags;		/* ACCEL_COMPLETION_* */
	size_t consumed;	/* source bytes consumed */
	size_t produced;	/* destination bytes written */
	uint64_t value;		/* crc32c: the checksum */
};

/*
 * The data path (submit, poll, wait, run): one thread per queue at a time;
 * different queues in parallel.  No lock, no call to the broker.
 *
 * Queue an operation.  No system call unless the device sleeps.
 * -EAGAIN when the ring is full, -ENOLINK once the broker revoked the queue,
 * -EIO when the queue is broken.
 */
int accel_submit(struct accel_queue *queue, const struct accel_op *op);

/* Reap up to @max completions without blocking; returns how many. */
int accel_poll(struct accel_queue *queue, struct accel_completion *out,
	       unsigned max);

/*
 * Wait up to @timeout_ms (-1: forever) for at least one completion and reap
 * up to @max.  Spins briefly, then sleeps.  Returns how many, or -ETIME.
 */
int accel_wait(struct accel_queue *queue, struct accel_completion *out,
	       unsigned max, int timeout_ms);

/*
 * One operation, synchronously: copy @src into the queue's data area, run
 * it, copy the result to @dst.  @src_len and @dst_len are bounded by the
 * data area (see accel_queue_buffer(); each gets half of it).  Nothing else
 * may be in flight on the queue (-EBUSY), and the data area is overwritten.
 * On an SVA queue (no data area) the device reads @src and writes @dst
 * where they are: no copies, no bound but 4 GiB.
 * On gzip and gunzip queues it is the whole stream unless @flags say it
 * is a step (ACCEL_OP_MORE on the first, ACCEL_OP_CONTINUE on later ones):
 * gzip makes one complete member (ACCEL_OP_FINISH implied), and a result
 * that does not end the stream fails, -ENOSPC when @dst_len was too small,
 * -EPIPE when gunzip's input ended inside a member.
 * Returns 0, or the operation's negative status.
 */
int accel_run(struct accel_queue *queue, const void *src, size_t src_len,
	      void *dst, size_t dst_len, uint64_t arg, uint32_t flags,
	      struct accel_completion *out);

/*
 * Completions in an event loop (epoll, libevent, sd-event, ...; see
 * libaccel-event for libevent).  accel_queue_event_fd() is a descriptor
 * that polls readable (POLLIN) when the queue wants looking at: the queue
 * fd itself on kernel devices, on the broker's software engine the read
 * end of a pipe the engine writes only while the program asked to be
 * woken.  A busy queue thus costs no system call per operation; the loop
 * pays one wait and one read per wake-up, however many completions it
 * finds.  No completion is lost if the program follows this order:
 *
 *   when the fd is readable:
 *       accel_queue_event_clear(q);          take the wake-up (one read)
 *       for (;;) {
 *           while ((n = accel_poll(q, c, N)) > 0)
 *               handle n completions;         (and submit more)
 *           if (accel_queue_arm(q) == 0)     arm, then re-check
 *               break;                       nothing came: back to the loop
 *       }
 *
 * and calls accel_queue_arm() once (reaping while it returns 1) before it
 * first waits.  accel_queue_arm() sets the queue's "wake me" flag and then
 * looks at the completion ring once more: a completion posted before the
 * flag was seen is found there (it returns 1: reap, then arm again), one
 * posted after makes the fd readable.  A revoked or broken queue makes the
 * fd readable too, and so does a broker gone for good (POLLHUP: the queue
 * is lost once the wake-up is taken); accel_poll() then says why.  An accel_wait() on the
 * queue disarms it: arm again after one.  One thread per queue, as for
 * the rest of the data path.
 *
 * The fd belongs to the queue (closed by accel_release()); do not read or
 * close it yourself.  -EOPNOTSUPP from a broker older than event pipes.
 */
int accel_queue_event_fd(const struct accel_queue *queue);
/* Ask to be woken, then re-check: 0 armed (wait for the fd), 1 look now (reap, arm again), -errno. */
int accel_queue_arm(struct accel_queue *queue);
/* The fd was readable: consume the wake-up and disarm.  Never blocks. */
void accel_queue_event_clear(struct accel_queue *queue);
/*
 * For a queue of accel_queue_import(): the event fd the broker handed out
 * with it (D-Bus AcquireQueueWithEvent), duplicated.  -EINVAL if it has one.
 */
int accel_queue_set_event_fd(struct accel_queue *queue, int fd);

/* A queue's state as its device shows it (no system call). */
enum accel_queue_state {
	ACCEL_QUEUE_ACTIVE = 1,
	ACCEL_QUEUE_REVOKED = 2,	/* taken back by the broker: operations fail with -ENOLINK */
	ACCEL_QUEUE_BROKEN = 3,		/* the rings were corrupted: operations fail with -EIO */
};
enum accel_queue_state accel_queue_state(const struct accel_queue *queue);

/*
 * Events from the broker (its Monitor stream) on a connection of their own:
 * revocations of your queues (an administrator's: of all queues).  Poll
 * accel_events_fd() for POLLIN, then accel_events_read() until it returns 0.
 * Thread safety: one thread per struct accel_events.
 */
struct accel_events;

struct accel_event {
	char type[16];		/* "revoked", "device-added", "device-removed", or
				 * "overflow": events were lost while the reader fell behind */
	uint64_t queue_id;
	char device[64];
	char algorithm[32];
	uint32_t uid;
	char reason[32];	/* "owner-exited", "admin", "policy", "shutdown", "device-removed",
				   "unit-unknown" */
};

/* Connect (@socket_path as for accel_connect()) and subscribe; the stream is live on return. */
int accel_events_open(const char *socket_path, struct accel_events **out);
int accel_events_fd(const struct accel_events *events);
/* The next event: 1, or 0 when none is buffered (never blocks), or -errno (-ECONNRESET: broker gone). */
int accel_events_read(struct accel_events *events, struct accel_event *out);
/*
 * The systemd unit and the machine (a container or VM) the queue of the
 * event accel_events_read() returned last was acquired in: "" for none (a
 * queue acquired in no unit, an event of no queue).  Valid until the next
 * accel_events_read() or accel_events_close().
 */
const char *accel_events_unit(const struct accel_events *events);
const char *accel_events_machine(const struct accel_events *events);
void accel_events_close(struct accel_events *events);

/*
 * Call any broker method with JSON text parameters (NULL: none) and get the
 * reply's parameters as JSON text in *@reply_json (free() it).  For tools
 * and for methods newer than this header.
 */
int accel_call_json(struct accel_client *client, const char *method,
		    const char *params_json, char **reply_json);

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_ACCEL_H */

/* SPDX-License-Identifier: MIT */
/*
 * Varlink framing over a SOCK_STREAM Unix socket, with fd passing: every
 * message is one JSON text terminated by a NUL byte; fds ride with
 * SCM_RIGHTS on the first byte of the message they belong to.
 *
 * Used by the broker (non-blocking sockets, driven by its event loop) and by
 * libaccel (blocking sockets).  Partial reads and writes are normal: input is
 * buffered until a whole message is there, received fds wait in their own
 * queue, output waits in a buffer until the socket takes it.
 */
#ifndef ACCEL_COMMON_WIRE_H
#define ACCEL_COMMON_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MAX_MESSAGE	(64u * 1024u)	/* including the NUL: what the broker reads */
#define WIRE_MAX_REPLY		(16u << 20)	/* what a client reads (a listing of ~90 000 queues) */
#define WIRE_MAX_FDS		4u		/* fds attached to one message */
#define WIRE_MAX_QUEUED_FDS	16u		/* received fds not yet taken */

struct wire_fd_mark;

struct wire {
	int fd;

	char *in;
	size_t in_start;	/* first byte not yet returned by wire_next() */
	size_t in_len;
	size_t in_cap;		/* allocated; grows up to in_max */
	size_t in_max;		/* the longest message read, NUL included */
	int in_fds[WIRE_MAX_QUEUED_FDS];
	unsigned n_in_fds;
	unsigned fds_dropped;	/* fds closed because the queue was full */

	char *out;
	size_t out_len;
	size_t out_sent;
	size_t out_cap;		/* allocated */
	struct wire_fd_mark *marks;	/* fds to attach, by output offset */
	unsigned n_marks;
	unsigned marks_cap;
	unsigned out_fds;	/* fds held in marks: duplicates not yet sent */
	uint64_t fds_sent;	/* fds handed to the socket, ever */
};

/* Take ownership of the connected socket @fd; read messages of up to WIRE_MAX_MESSAGE. */
int wire_init(struct wire *w, int fd);
/* Read messages of up to @max bytes (clients: WIRE_MAX_REPLY); the buffer grows as needed. */
void wire_set_max_message(struct wire *w, size_t max);
/* Close the socket and every fd still queued in either direction. */
void wire_finish(struct wire *w);

/*
 * Read once from the socket.  Returns the number of bytes read, 0 at end of
 * file, -EAGAIN when nothing is there, -EMSGSIZE when the buffered message
 * is over the maximum without its terminator, -ENOMEM, or another -errno.
 */
int wire_read(struct wire *w);

/*
 * The next complete message, NUL-terminated, in *@msg (valid until the next
 * wire_read()).  Returns 1, or 0 when no complete message is buffered.
 */
int wire_next(struct wire *w, const char **msg, size_t *len);

/* Whether a complete message is buffered. */
bool wire_has_message(const struct wire *w);

/* Take the oldest received fd (the caller owns it), or -ENOENT. */
int wire_take_fd(struct wire *w);

/* Close every received fd not taken; returns how many were closed. */
unsigned wire_drop_fds(struct wire *w);

/*
 * Queue @len bytes of @msg plus a NUL, with @n_fds fds attached to its
 * first byte.  The fds are duplicated (close-on-exec): the caller keeps its
 * own.  Nothing is sent until wire_flush().
 */
int wire_queue(struct wire *w, const char *msg, size_t len, const int *fds,
	       unsigned n_fds);

/* Send what is queued: 0 when all is out, -EAGAIN when some is left. */
int wire_flush(struct wire *w);

size_t wire_out_pending(const struct wire *w);

/* The fds waiting in the output buffer: each a duplicate this process holds until it is sent. */
unsigned wire_out_fds(const struct wire *w);

/* Blocking helpers for clients. */
int wire_send_all(struct wire *w, const char *msg, size_t len);
int wire_receive(struct wire *w, const char **msg, size_t *len);

/* Send @n_fds fds with one byte, then return: used by tests and benches. */
int wire_send_fds_raw(int sock, const void *data, size_t len, const int *fds,
		      unsigned n_fds);

#endif

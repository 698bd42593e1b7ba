// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

/* An emptied output buffer larger than this is freed. */
#define WIRE_OUT_KEEP	(64u * 1024u)

struct wire_fd_mark {
	size_t offset;
	int fds[WIRE_MAX_FDS];
	unsigned n_fds;
};

int wire_init(struct wire *w, int fd)
{
	assert(w);
	*w = (struct wire){ .fd = fd, .in_cap = WIRE_MAX_MESSAGE, .in_max = WIRE_MAX_MESSAGE };
	w->in = malloc(w->in_cap);
	if (!w->in)
		return -ENOMEM;
	return 0;
}

void wire_set_max_message(struct wire *w, size_t max)
{
	assert(max >= WIRE_MAX_MESSAGE);
	w->in_max = max;
}

/* Make room to read into: the buffer doubles while a message is longer than it. */
static int wire_grow_input(struct wire *w)
{
	size_t cap;
	char *in;

	if (w->in_len < w->in_cap)
		return 0;
	if (w->in_cap >= w->in_max)
		return -EMSGSIZE;
	cap = w->in_cap * 2 < w->in_max ? w->in_cap * 2 : w->in_max;
	in = realloc(w->in, cap);
	if (!in)
		return -ENOMEM;
	w->in = in;
	w->in_cap = cap;
	return 0;
}

static void mark_close(struct wire_fd_mark *m)
{
	for (unsigned i = 0; i < m->n_fds; i++)
		close(m->fds[i]);
	m->n_fds = 0;
}

void wire_finish(struct wire *w)
{
	if (!w)
		return;
	wire_drop_fds(w);
	for (unsigned i = 0; i < w->n_marks; i++)
		mark_close(&w->marks[i]);
	free(w->marks);
	free(w->in);
	free(w->out);
	if (w->fd >= 0)
		close(w->fd);
	*w = (struct wire){ .fd = -1 };
}

static void queue_received_fds(struct wire *w, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			if (w->n_in_fds < WIRE_MAX_QUEUED_FDS) {
				w->in_fds[w->n_in_fds++] = fds[i];
			} else {
				close(fds[i]);
				w->fds_dropped++;
			}
		}
	}
}

int wire_read(struct wire *w)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_QUEUED_FDS)];
	} control;
	struct iovec iov;
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t n;
	int r;

	/* Compact: what wire_next() returned is no longer needed. */
	if (w->in_start > 0) {
		memmove(w->in, w->in + w->in_start, w->in_len - w->in_start);
		w->in_len -= w->in_start;
		w->in_start = 0;
	}
	r = wire_grow_input(w);
	if (r < 0)
		return r;

	iov.iov_base = w->in + w->in_len;
	iov.iov_len = w->in_cap - w->in_len;
	n = recvmsg(w->fd, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	queue_received_fds(w, &mh);
	if (mh.msg_flags & MSG_CTRUNC)
		w->fds_dropped++;	/* the kernel closed the ones that did not fit */
	w->in_len += (size_t)n;
	if (n > 0 && w->in_len >= w->in_max && !memchr(w->in, '\0', w->in_len))
		return -EMSGSIZE;
	return (int)n;
}

int wire_next(struct wire *w, const char **msg, size_t *len)
{
	char *start = w->in + w->in_start;
	char *end = memchr(start, '\0', w->in_len - w->in_start);

	if (!end)
		return 0;
	*msg = start;
	*len = (size_t)(end - start);
	w->in_start += *len + 1;
	return 1;
}

bool wire_has_message(const struct wire *w)
{
	return memchr(w->in + w->in_start, '\0', w->in_len - w->in_start) != NULL;
}

int wire_take_fd(struct wire *w)
{
	int fd;

	if (w->n_in_fds == 0)
		return -ENOENT;
	fd = w->in_fds[0];
	memmove(w->in_fds, w->in_fds + 1, (w->n_in_fds - 1) * sizeof(int));
	w->n_in_fds--;
	return fd;
}

unsigned wire_drop_fds(struct wire *w)
{
	unsigned n = w->n_in_fds;

	for (unsigned i = 0; i < w->n_in_fds; i++)
		close(w->in_fds[i]);
	w->n_in_fds = 0;
	return n;
}

/*
 * Room for @extra more output bytes.  The part already sent goes first when
 * it is at least half of the buffer: a peer that always leaves a little
 * unread must not make the buffer grow by everything it ever read.  Then
 * the buffer doubles, so that queueing is linear in what is queued.
 */
static int out_reserve(struct wire *w, size_t extra)
{
	size_t need, cap;
	char *out;

	if (w->out_sent > 0 && w->out_len + extra > w->out_cap && w->out_sent >= w->out_len / 2) {
		memmove(w->out, w->out + w->out_sent, w->out_len - w->out_sent);
		for (unsigned i = 0; i < w->n_marks; i++)
			w->marks[i].offset -= w->out_sent;
		w->out_len -= w->out_sent;
		w->out_sent = 0;
	}
	need = w->out_len + extra;
	if (need <= w->out_cap)
		return 0;
	for (cap = w->out_cap ? w->out_cap : 4096; cap < need; cap *= 2)
		;
	out = realloc(w->out, cap);
	if (!out)
		return -ENOMEM;
	w->out = out;
	w->out_cap = cap;
	return 0;
}

static int marks_reserve(struct wire *w)
{
	struct wire_fd_mark *marks;
	unsigned cap;

	if (w->n_marks < w->marks_cap)
		return 0;
	cap = w->marks_cap ? w->marks_cap * 2 : 4;
	marks = reallocarray(w->marks, cap, sizeof(*marks));
	if (!marks)
		return -ENOMEM;
	w->marks = marks;
	w->marks_cap = cap;
	return 0;
}

int wire_queue(struct wire *w, const char *msg, size_t len, const int *fds,
	       unsigned n_fds)
{
	struct wire_fd_mark mark = { 0 };
	int r;

	if (n_fds > WIRE_MAX_FDS)
		return -EINVAL;
	r = out_reserve(w, len + 1);
	if (r == 0 && n_fds > 0)
		r = marks_reserve(w);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < n_fds; i++) {
		int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (fd < 0) {
			r = -errno;
			mark_close(&mark);
			return r;
		}
		mark.fds[mark.n_fds++] = fd;
	}
	/* After out_reserve(), which may have moved the unsent bytes. */
	mark.offset = w->out_len;
	memcpy(w->out + w->out_len, msg, len);
	w->out[w->out_len + len] = '\0';
	w->out_len += len + 1;
	if (n_fds > 0) {
		w->marks[w->n_marks++] = mark;
		w->out_fds += n_fds;
	}
	return 0;
}

size_t wire_out_pending(const struct wire *w)
{
	return w->out_len - w->out_sent;
}

unsigned wire_out_fds(const struct wire *w)
{
	return w->out_fds;
}

/* Send up to the next fd mark; attach the mark's fds when we are at it. */
static ssize_t flush_once(struct wire *w)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)];
	} control;
	struct iovec iov = { .iov_base = w->out + w->out_sent };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t end = w->out_len;
	struct wire_fd_mark *mark = NULL;
	ssize_t n;

	if (w->n_marks > 0) {
		/* Marks point into the unsent part of the buffer, in order. */
		assert(w->marks[0].offset >= w->out_sent && w->marks[0].offset < w->out_len);
		if (w->marks[0].offset == w->out_sent)
			mark = &w->marks[0];
		else
			end = w->marks[0].offset;
		if (mark && w->n_marks > 1)
			end = w->marks[1].offset;
	}
	iov.iov_len = end - w->out_sent;
	if (mark) {
		size_t size = sizeof(int) * mark->n_fds;
		memset(control.buf, 0, sizeof(control.buf));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(size);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(size);
		memcpy(CMSG_DATA(c), mark->fds, size);
	}
	n = sendmsg(w->fd, &mh, MSG_NOSIGNAL);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (mark && n > 0) {
		/* The kernel holds its own references now. */
		w->out_fds -= mark->n_fds;
		w->fds_sent += mark->n_fds;
		mark_close(mark);
		memmove(w->marks, w->marks + 1, (w->n_marks - 1) * sizeof(*mark));
		w->n_marks--;
	}
	w->out_sent += (size_t)n;
	return n;
}

int wire_flush(struct wire *w)
{
	while (w->out_sent < w->out_len) {
		ssize_t n = flush_once(w);
		if (n < 0)
			return (int)n;
	}
	/* Every mark lay below out_len, so all went out with their bytes. */
	w->out_len = w->out_sent = 0;
	if (w->out_cap > WIRE_OUT_KEEP) {
		/* A burst (a long listing) does not stay allocated on an idle connection. */
		free(w->out);
		w->out = NULL;
		w->out_cap = 0;
	}
	return 0;
}

int wire_send_all(struct wire *w, const char *msg, size_t len)
{
	int r = wire_queue(w, msg, len, NULL, 0);
	if (r < 0)
		return r;
	return wire_flush(w);
}

int wire_receive(struct wire *w, const char **msg, size_t *len)
{
	for (;;) {
		if (wire_next(w, msg, len) > 0)
			return 0;
		int r = wire_read(w);
		if (r == 0)
			return -ECONNRESET;
		if (r < 0 && r != -EINTR)
			return r;
	}
}

int wire_send_fds_raw(int sock, const void *data, size_t len, const int *fds,
		      unsigned n_fds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_QUEUED_FDS)];
	} control;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n_fds > WIRE_MAX_QUEUED_FDS)
		return -EINVAL;
	if (n_fds > 0) {
		memset(control.buf, 0, sizeof(control.buf));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

// SPDX-License-Identifier: MIT
/*
 * The wire framing against a peer that reads when it pleases: the broker's
 * side (non-blocking, a small send buffer so back-pressure comes early)
 * queues messages with fds and flushes, the peer reads a few bytes or
 * nothing, sends calls and fds of its own.  A model of what was queued
 * checks every byte the peer receives and that each fd arrives with the
 * first byte of its own message; at the end no fd is left behind.
 *
 * Input: a list of operations, one byte each with its arguments after it.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "wire.h"

#define MODEL_MAX (1u << 20)

/* What the broker side queued: the byte stream and where fds ride. */
struct model {
	char *bytes;
	size_t len;		/* queued */
	size_t received;	/* read by the peer */
	struct { size_t offset; unsigned n; } marks[4096];
	unsigned n_marks, next_mark;
};

static int devnull = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return devnull < 0 ? -1 : 0;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void broker_queue(struct wire *w, struct model *m, struct fuzz_input *in)
{
	size_t len = fuzz_u8(in) * 4u + fuzz_u8(in) % 4u;	/* up to 1 KiB: the send buffer is 4 KiB */
	unsigned n_fds = fuzz_u8(in) % (WIRE_MAX_FDS + 2);	/* one too many, sometimes */
	int fds[WIRE_MAX_FDS + 1];
	char *msg;
	int r;

	if (m->len + len + 1 > MODEL_MAX || m->n_marks == 4096)
		return;
	msg = malloc(len + 1);
	assert(msg);
	for (size_t i = 0; i < len; i++)
		msg[i] = (char)('a' + (m->len + i) % 26);	/* no NUL inside */
	for (unsigned i = 0; i < n_fds; i++)
		fds[i] = devnull;
	r = wire_queue(w, msg, len, fds, n_fds);
	if (n_fds > WIRE_MAX_FDS) {
		assert(r == -EINVAL);
	} else if (r == 0) {
		memcpy(m->bytes + m->len, msg, len);
		m->bytes[m->len + len] = '\0';
		if (n_fds > 0) {
			m->marks[m->n_marks].offset = m->len;
			m->marks[m->n_marks++].n = n_fds;
		}
		m->len += len + 1;
	}
	free(msg);
}

/* The peer reads up to @want bytes and checks them against the model. */
static void peer_read(int peer, struct model *m, size_t want)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 64)];
	} control;
	char buf[8192];
	struct iovec iov = { buf, want < sizeof(buf) ? want : sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	unsigned got_fds = 0;
	ssize_t n;

	if (iov.iov_len == 0)
		return;
	n = recvmsg(peer, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return;
	assert(m->received + (size_t)n <= m->len);
	assert(memcmp(buf, m->bytes + m->received, (size_t)n) == 0);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		assert(c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS);
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			close(((int *)CMSG_DATA(c))[i]);
			got_fds++;
		}
	}
	assert(!(mh.msg_flags & MSG_CTRUNC));
	/* Fds come with the bytes that hold their message's first byte, and only then. */
	if (m->next_mark < m->n_marks && m->marks[m->next_mark].offset < m->received + (size_t)n) {
		assert(m->marks[m->next_mark].offset >= m->received);
		assert(got_fds == m->marks[m->next_mark].n);
		m->next_mark++;
	} else {
		assert(got_fds == 0);
	}
	m->received += (size_t)n;
}

/* The peer sends bytes (maybe with fds) that the broker side reads and parses. */
static void peer_send(int peer, struct wire *w, struct fuzz_input *in)
{
	uint8_t len = fuzz_u8(in);
	unsigned n_fds = fuzz_u8(in) % 3;
	int fds[2] = { devnull, devnull };
	const char *msg;
	size_t msg_len;
	uint8_t data[256];

	fuzz_take(in, data, len);
	if (len > 0)
		(void)wire_send_fds_raw(peer, data, len, fds, n_fds);
	for (int i = 0; i < 4; i++) {
		int r = wire_read(w);
		if (r <= 0)
			break;
	}
	while (wire_next(w, &msg, &msg_len) > 0)
		assert(strlen(msg) == msg_len);
	if (fuzz_u8(in) & 1) {
		int fd = wire_take_fd(w);
		if (fd >= 0)
			close(fd);
	} else {
		wire_drop_fds(w);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	static struct model m;
	struct wire w;
	int sv[2], sndbuf = 4096, fds_before = open_fds();

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (!m.bytes)
		m.bytes = malloc(MODEL_MAX);
	m.len = m.received = 0;
	m.n_marks = m.next_mark = 0;
	assert(m.bytes && wire_init(&w, sv[0]) == 0);

	while (in.size > 0) {
		switch (fuzz_u8(&in) % 5) {
		case 0:
			broker_queue(&w, &m, &in);
			break;
		case 1: {
			int r = wire_flush(&w);
			assert(r == 0 || r == -EAGAIN);
			assert(r != 0 || wire_out_pending(&w) == 0);
			break;
		}
		case 2:
			peer_read(sv[1], &m, fuzz_u8(&in) * 32u);
			break;
		case 3:
			peer_send(sv[1], &w, &in);
			break;
		case 4: {
			/* What waits in the buffer: the fds of the marks not yet received, at most. */
			unsigned queued = 0;
			for (unsigned i = m.next_mark; i < m.n_marks; i++)
				queued += m.marks[i].n;
			assert(wire_out_fds(&w) <= queued);
			assert(wire_out_pending(&w) > 0 || wire_out_fds(&w) == 0);
			break;
		}
		}
		assert(m.received + wire_out_pending(&w) <= m.len);
	}
	wire_finish(&w);
	close(sv[1]);
	assert(open_fds() == fds_before);
	return 0;
}

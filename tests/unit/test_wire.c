// SPDX-License-Identifier: MIT
/* Framing and fd passing (common/wire.c) over real socketpairs. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "wire.h"

struct pair {
	struct wire a, b;
};

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(wire_init(&p->a, sv[0]), 0);
	assert_int_equal(wire_init(&p->b, sv[1]), 0);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	wire_finish(&p->a);
	wire_finish(&p->b);
	free(p);
	return 0;
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void message_split_across_reads_is_reassembled(void **state)
{
	struct pair *p = *state;
	const char *msg;
	size_t len;

	assert_int_equal(write(p->a.fd, "{\"meth", 6), 6);
	assert_true(wire_read(&p->b) > 0);
	assert_int_equal(wire_next(&p->b, &msg, &len), 0);
	assert_int_equal(write(p->a.fd, "od\":1}\0", 7), 7);
	assert_true(wire_read(&p->b) > 0);
	assert_int_equal(wire_next(&p->b, &msg, &len), 1);
	assert_string_equal(msg, "{\"method\":1}");
	assert_int_equal(len, 12);
	assert_int_equal(wire_next(&p->b, &msg, &len), 0);
}

static void several_messages_in_one_read_come_out_in_order(void **state)
{
	struct pair *p = *state;
	const char *msg;
	size_t len;

	assert_int_equal(write(p->a.fd, "a\0bb\0ccc\0d", 10), 10);
	assert_true(wire_read(&p->b) > 0);
	assert_int_equal(wire_next(&p->b, &msg, &len), 1);
	assert_string_equal(msg, "a");
	assert_int_equal(wire_next(&p->b, &msg, &len), 1);
	assert_string_equal(msg, "bb");
	assert_int_equal(wire_next(&p->b, &msg, &len), 1);
	assert_string_equal(msg, "ccc");
	assert_int_equal(wire_next(&p->b, &msg, &len), 0);	/* "d" is incomplete */
	assert_int_equal(wire_read(&p->b), -EAGAIN);
}

static void oversized_message_is_refused(void **state)
{
	struct pair *p = *state;
	char *big = malloc(WIRE_MAX_MESSAGE + 100);
	size_t sent = 0;
	int r = 0;

	memset(big, 'x', WIRE_MAX_MESSAGE + 100);
	while (sent < WIRE_MAX_MESSAGE + 100) {
		ssize_t n = write(p->a.fd, big + sent, WIRE_MAX_MESSAGE + 100 - sent);
		if (n < 0)
			break;
		sent += (size_t)n;
	}
	for (int i = 0; i < 1000 && r != -EMSGSIZE; i++)
		r = wire_read(&p->b);
	assert_int_equal(r, -EMSGSIZE);
	free(big);
}

/* Write a message of @size bytes (NUL included) of @fill while @p->b reads it: its length. */
static size_t write_and_read_big(struct pair *p, size_t size, char fill)
{
	char *big = malloc(size);
	const char *msg;
	size_t len = 0, sent = 0;
	int got = 0;

	assert_non_null(big);
	memset(big, fill, size - 1);
	big[size - 1] = '\0';
	while (!got) {
		if (sent < size) {
			ssize_t n = write(p->a.fd, big + sent, size - sent);
			if (n > 0)
				sent += (size_t)n;
		}
		int r = wire_read(&p->b);
		assert_true(r > 0 || r == -EAGAIN);
		got = wire_next(&p->b, &msg, &len);
	}
	assert_int_equal(msg[len - 1], fill);
	free(big);
	return len;
}

/* A client reads replies longer than a call may be (a listing of thousands of queues). */
static void client_reads_a_reply_past_the_call_limit(void **state)
{
	struct pair *p = *state;

	wire_set_max_message(&p->b, WIRE_MAX_REPLY);
	assert_int_equal(write_and_read_big(p, 3u << 20, 'z'), (3u << 20) - 1);
}

static void message_of_exactly_the_limit_is_accepted(void **state)
{
	assert_int_equal(write_and_read_big(*state, WIRE_MAX_MESSAGE, 'y'), WIRE_MAX_MESSAGE - 1);
}

static void fd_arrives_no_later_than_its_message(void **state)
{
	struct pair *p = *state;
	int pipefd[2], fd;
	const char *msg;
	size_t len;
	struct stat st1, st2;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	assert_int_equal(wire_queue(&p->a, "first", 5, NULL, 0), 0);
	assert_int_equal(wire_queue(&p->a, "second", 6, &pipefd[0], 1), 0);
	assert_int_equal(wire_flush(&p->a), 0);
	/* The sender keeps its own fd: wire_queue() duplicated it. */
	assert_true(fd_is_open(pipefd[0]));

	assert_true(wire_read(&p->b) > 0);
	assert_int_equal(wire_next(&p->b, &msg, &len), 1);
	assert_string_equal(msg, "first");
	/* The kernel may hand the fd over with earlier bytes, never after its message. */
	while (wire_next(&p->b, &msg, &len) == 0)
		assert_true(wire_read(&p->b) > 0);
	assert_string_equal(msg, "second");
	fd = wire_take_fd(&p->b);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);	/* MSG_CMSG_CLOEXEC */
	assert_int_equal(fstat(fd, &st1), 0);
	assert_int_equal(fstat(pipefd[0], &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	close(fd);
	close(pipefd[0]);
	close(pipefd[1]);
}

static void fds_beyond_the_queue_are_closed(void **state)
{
	struct pair *p = *state;
	int fds[WIRE_MAX_QUEUED_FDS], extra[4];
	int pipefd[2];

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	for (unsigned i = 0; i < WIRE_MAX_QUEUED_FDS; i++)
		fds[i] = pipefd[0];
	for (unsigned i = 0; i < 4; i++)
		extra[i] = pipefd[1];
	assert_int_equal(wire_send_fds_raw(p->a.fd, "x", 1, fds, WIRE_MAX_QUEUED_FDS), 0);
	assert_int_equal(wire_send_fds_raw(p->a.fd, "y", 1, extra, 4), 0);
	while (p->b.n_in_fds + p->b.fds_dropped < WIRE_MAX_QUEUED_FDS + 4)
		assert_true(wire_read(&p->b) > 0);
	assert_int_equal(p->b.n_in_fds, WIRE_MAX_QUEUED_FDS);
	assert_int_equal(p->b.fds_dropped, 4);
	assert_int_equal(wire_drop_fds(&p->b), WIRE_MAX_QUEUED_FDS);
	assert_int_equal(p->b.n_in_fds, 0);
	close(pipefd[0]);
	close(pipefd[1]);
}

static void partial_writes_resume_and_keep_the_fd_position(void **state)
{
	struct pair *p = *state;
	size_t big = 1 << 20, got = 0;
	char *payload = malloc(big);
	int sndbuf = 4096, pipefd[2], r, fds_seen = 0;
	const char *msg;
	size_t len;

	assert_int_equal(setsockopt(p->a.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	memset(payload, 'z', big);
	assert_int_equal(wire_queue(&p->a, payload, 1000, NULL, 0), 0);
	assert_int_equal(wire_queue(&p->a, "fd", 2, &pipefd[1], 1), 0);
	assert_int_equal(wire_queue(&p->a, payload, WIRE_MAX_MESSAGE - 1, NULL, 0), 0);
	r = wire_flush(&p->a);
	assert_int_equal(r, -EAGAIN);
	assert_true(wire_out_pending(&p->a) > 0);
	while (got < 3) {
		r = wire_flush(&p->a);
		assert_true(r == 0 || r == -EAGAIN);
		r = wire_read(&p->b);
		assert_true(r > 0 || r == -EAGAIN);
		while (wire_next(&p->b, &msg, &len) > 0) {
			if (got == 1) {
				assert_int_equal(len, 2);
				fds_seen = p->b.n_in_fds;
			}
			got++;
		}
	}
	assert_int_equal(wire_out_pending(&p->a), 0);
	assert_int_equal(fds_seen, 1);
	close(pipefd[0]);
	close(pipefd[1]);
	free(payload);
}

/*
 * A peer that reads as much as is queued but never lets the output run dry:
 * the bytes it has read must not stay in the sender's buffer.  (Before, the
 * buffer was only reset when empty, so it grew by everything ever sent:
 * 10 MB here, without bound for a monitor that keeps up just barely.)
 */
static void a_peer_that_never_drains_does_not_grow_the_buffer(void **state)
{
	enum { MSG = 1000, ROUNDS = 10000, BACKLOG = 256 };
	struct pair *p = *state;
	size_t max_len = 0, got = 0, received_fds = 0, sent_fds = 0;
	int pipefd[2];
	char msg[MSG], stream[MSG + 1];
	size_t in_stream = 0;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	memset(msg, 'm', sizeof(msg));
	for (unsigned i = 0; i < BACKLOG + ROUNDS; i++) {
		int with_fd = i % 10 == 0;

		snprintf(msg, sizeof(msg), "%08u", i);
		msg[8] = 'm';
		assert_int_equal(wire_queue(&p->a, msg, MSG, with_fd ? &pipefd[1] : NULL, with_fd), 0);
		sent_fds += with_fd;
		if (i < BACKLOG)
			continue;
		assert_true(wire_flush(&p->a) == -EAGAIN);
		if (p->a.out_len > max_len)
			max_len = p->a.out_len;
		/* Read one message's worth: what was just queued. */
		for (size_t want = MSG + 1; want > 0;) {
			union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)]; } control;
			struct iovec iov = { stream + in_stream, want };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
					     .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
			ssize_t n = recvmsg(p->b.fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

			assert_true(n > 0);
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
				for (size_t k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
					close(((int *)CMSG_DATA(c))[k]);
					received_fds++;
				}
			want -= (size_t)n;
			in_stream += (size_t)n;
			if (in_stream == MSG + 1) {
				char seq[9];
				snprintf(seq, sizeof(seq), "%08zu", got++);
				assert_memory_equal(stream, seq, 8);
				assert_int_equal(stream[MSG], '\0');
				in_stream = 0;
			}
		}
	}
	/* The backlog is still there; the buffer held a few times it, not the 10 MB sent. */
	assert_true(wire_out_pending(&p->a) > 0);
	assert_true(max_len <= 4 * BACKLOG * (MSG + 1));
	/* Drain the rest, a read at a time: every fd came through. */
	for (int flushed = -EAGAIN, read = 1; flushed != 0 || read != -EAGAIN;) {
		const char *m;
		size_t len;
		int fd;

		flushed = wire_flush(&p->a);
		assert_true(flushed == 0 || flushed == -EAGAIN);
		read = wire_read(&p->b);
		assert_true(read > 0 || read == -EAGAIN);
		while (wire_next(&p->b, &m, &len) > 0)
			;
		while ((fd = wire_take_fd(&p->b)) >= 0) {
			close(fd);
			received_fds++;
		}
	}
	assert_int_equal(p->b.fds_dropped, 0);
	assert_int_equal(received_fds, sent_fds);
	close(pipefd[0]);
	close(pipefd[1]);
}

static void peer_close_reads_as_end_of_file(void **state)
{
	struct pair *p = *state;

	close(p->a.fd);
	p->a.fd = -1;
	assert_int_equal(wire_read(&p->b), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(message_split_across_reads_is_reassembled, setup, teardown),
		cmocka_unit_test_setup_teardown(several_messages_in_one_read_come_out_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(oversized_message_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(client_reads_a_reply_past_the_call_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(message_of_exactly_the_limit_is_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(fd_arrives_no_later_than_its_message, setup, teardown),
		cmocka_unit_test_setup_teardown(fds_beyond_the_queue_are_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(partial_writes_resume_and_keep_the_fd_position, setup, teardown),
		cmocka_unit_test_setup_teardown(a_peer_that_never_drains_does_not_grow_the_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(peer_close_reads_as_end_of_file, setup, teardown),
	};

	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * Clients that attack the broker's buffers and descriptors: a monitor that
 * does not read while others make events, a client that pipelines fd
 * replies it never takes, a broker out of file descriptors, a client that
 * sends its calls and half-closes.  Each case ends with the broker serving
 * someone else.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <accel/accel.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "harness.h"

#define GET_INFO "{\"method\":\"org.varlink.service.GetInfo\"}"
#define GET_STATUS "{\"method\":\"org.accelbroker.Broker.GetStatus\"}"
#define ACQUIRE_COPY "{\"method\":\"org.accelbroker.Broker.AcquireQueue\",\"parameters\":{\"algorithm\":\"copy\"}}"

static struct broker_proc broker;

static int setup(void **state)
{
	static const char *const args[] = { "--sim", "2", "--sim-queues", "256",
					    "--max-queues-per-user", "512", NULL };
	int r = broker_start(&broker, args);

	if (r < 0)
		fprintf(stderr, "broker did not start: %s\n", strerror(-r));
	return r < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	int status = broker_stop(&broker);

	children_kill();
	if (status != 0)
		fprintf(stderr, "broker exit status %d\n", status);
	return status != 0 ? -1 : 0;
}

/* A buffered reader of whole messages that counts (and closes) the fds riding with them. */
struct reader {
	int fd;
	char buf[1 << 17];
	size_t have;
	unsigned fds;
	int flags;	/* for recvmsg(): MSG_DONTWAIT to take only what is there */
};

/* The next message into @out (NUL-terminated); 1, 0 at EOF, -errno. */
static int reader_next(struct reader *rd, char *out, size_t size)
{
	for (;;) {
		char *z = memchr(rd->buf, '\0', rd->have);
		if (z) {
			size_t len = (size_t)(z - rd->buf) + 1;
			assert_true(len <= size);
			memcpy(out, rd->buf, len);
			rd->have -= len;
			memmove(rd->buf, rd->buf + len, rd->have);
			return 1;
		}
		assert_true(rd->have < sizeof(rd->buf));

		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * 16)];
		} control;
		struct iovec iov = { rd->buf + rd->have, sizeof(rd->buf) - rd->have };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
		ssize_t n = recvmsg(rd->fd, &mh, MSG_CMSG_CLOEXEC | rd->flags);
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				close(((int *)CMSG_DATA(c))[i]);
				rd->fds++;
			}
		}
		rd->have += (size_t)n;
	}
}

/*
 * Send @msg (plus NUL) @n times in one write, without reading; returns how
 * many whole calls the socket took (with @flags MSG_DONTWAIT, a part of the
 * last one may have gone too).
 */
static int pipeline(int fd, const char *msg, int n, int flags)
{
	size_t len = strlen(msg) + 1, off = 0;
	char *buf = malloc(len * (size_t)n);

	assert_non_null(buf);
	for (int i = 0; i < n; i++)
		memcpy(buf + len * (size_t)i, msg, len);
	while (off < len * (size_t)n) {
		ssize_t w = send(fd, buf + off, len * (size_t)n - off, MSG_NOSIGNAL | flags);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(buf);
	return (int)(off / len);
}

static struct json_object *call_json(int fd, const char *msg)
{
	static char buf[1 << 16];
	struct json_object *o;

	assert_true(raw_call(fd, msg, buf, sizeof(buf)) > 0);
	o = json_tokener_parse(buf);
	assert_non_null(o);
	return o;
}

static int64_t status_field(int fd, const char *name)
{
	struct json_object *o = call_json(fd, GET_STATUS), *p, *v;
	int64_t value;

	assert_true(json_object_object_get_ex(o, "parameters", &p));
	assert_true(json_object_object_get_ex(p, name, &v));
	value = json_object_get_int64(v);
	json_object_put(o);
	return value;
}

static void assert_broker_serves(void)
{
	int fd = raw_connect(broker.sock);
	struct json_object *o;

	assert_true(fd >= 0);
	o = call_json(fd, ACQUIRE_COPY);
	assert_false(json_object_object_get_ex(o, "error", NULL));
	json_object_put(o);
	close(fd);
}

/* Acquire @n queues on @fd in one go, then revoke them all by user: @n events. */
static void make_revocations(int fd, int n)
{
	char buf[4096];
	struct json_object *o;

	for (int i = 0; i < n; i++)
		assert_int_equal(raw_send(fd, ACQUIRE_COPY), 0);
	for (int i = 0; i < n; i++)
		assert_true(raw_recv(fd, buf, sizeof(buf)) > 0);
	o = call_json(fd, "{\"method\":\"org.accelbroker.Broker.Revoke\",\"parameters\":{\"user\":\"0\"}}");
	assert_false(json_object_object_get_ex(o, "error", NULL));
	json_object_put(o);
}

/*
 * A connection with replies (one carrying a queue fd) still in the
 * broker's buffer calls Monitor and stops reading while another connection
 * makes more than the backlog's worth of events.  When it reads at last,
 * every message is whole JSON, the fd arrives once with its reply, and an
 * "overflow" event says events were dropped.
 */
static void slow_monitor_gets_whole_messages_and_an_overflow(void **state)
{
	int mon = raw_connect(broker.sock), maker = raw_connect(broker.sock);
	int n_fill = 0, revoked = 0, overflows = 0, replies = 0;
	int64_t dropped = 0;
	static struct reader rd;
	static char msg[1 << 16];

	assert_true(mon >= 0 && maker >= 0);
	/*
	 * Fill the socket with replies, batch by batch, until what the monitor
	 * could read stops growing: the broker's buffer holds the rest (a batch
	 * or two, far below where it stops reading us), and so it will hold the
	 * AcquireQueue reply, fd mark and all.  How much the socket takes
	 * depends on how the kernel cut the replies, so it is measured, not assumed.
	 */
	for (int prev = -1, same = 0; same < 2;) {
		int inq;
		assert_int_equal(pipeline(mon, GET_INFO, 64, 0), 64);
		n_fill += 64;
		json_object_put(call_json(maker, GET_STATUS));	/* the broker caught up */
		assert_int_equal(ioctl(mon, FIONREAD, &inq), 0);
		same = inq == prev ? same + 1 : 0;
		prev = inq;
		assert_true(n_fill < 20000);
	}
	assert_int_equal(raw_send(mon, ACQUIRE_COPY), 0);
	assert_int_equal(raw_send(mon, "{\"method\":\"org.accelbroker.Broker.Monitor\",\"more\":true}"), 0);
	/* The broker ran all of it (the Monitor call last) before anyone makes events. */
	for (int i = 0; i < 10000 && status_field(maker, "monitors") == 0; i++)
		;
	assert_int_equal(status_field(maker, "monitors"), 1);

	/* 10 001 revocations (~125 bytes each) while the monitor reads nothing. */
	for (int round = 0; round < 100; round++)
		make_revocations(maker, 100);
	assert_broker_serves();

	rd.fd = mon;
	shutdown(mon, SHUT_WR);
	for (int r; (r = reader_next(&rd, msg, sizeof(msg))) == 1;) {
		struct json_object *o = json_tokener_parse(msg), *p, *ev, *n;
		assert_non_null(o);
		assert_true(json_object_object_get_ex(o, "parameters", &p));
		if (!json_object_object_get_ex(p, "event", &ev)) {
			replies++;
		} else if (strcmp(json_object_get_string(ev), "overflow") == 0) {
			overflows++;
			assert_true(json_object_object_get_ex(p, "dropped", &n));
			dropped += json_object_get_int64(n);
		} else {
			revoked += strcmp(json_object_get_string(ev), "revoked") == 0;
		}
		json_object_put(o);
	}
	fprintf(stderr, "replies %d revoked %d overflows %d dropped %lld fds %u\n", replies, revoked,
		overflows, (long long)dropped, rd.fds);
	assert_int_equal(replies, n_fill + 1);
	assert_int_equal(rd.fds, 1);
	assert_int_equal(overflows, 1);
	/* Every revocation is either heard or counted as dropped. */
	assert_int_equal(revoked + dropped, 100 * 100 + 1);
	assert_true(revoked > 1000);
	close(mon);
	close(maker);
	assert_broker_serves();
}

/* Acquire a queue on @fd and write into @buf an AttachQueue call for it, with @extra parameters. */
static void attach_call_with(int fd, char *buf, size_t size, const char *extra)
{
	struct json_object *o = call_json(fd, ACQUIRE_COPY), *p, *id;

	assert_true(json_object_object_get_ex(o, "parameters", &p));
	assert_true(json_object_object_get_ex(p, "queue_id", &id));
	snprintf(buf, size,
		 "{\"method\":\"org.accelbroker.Broker.AttachQueue\",\"parameters\":{\"queue_id\":%lld%s}}",
		 (long long)json_object_get_int64(id), extra);
	json_object_put(o);
}

static void attach_call(int fd, char *buf, size_t size)
{
	attach_call_with(fd, buf, size, "");
}

/*
 * Thousands of AttachQueue calls pipelined on one's own queue, never read,
 * each reply with @fds_per_reply fds (@extra asks for them), after @lead
 * plain calls (one fd each): the broker holds at most 8 duplicates for
 * that connection, sends at most 8 unread, and every call is still
 * answered, fds and all, once the client reads.
 */
static void pipelined_replies_bounded(const char *extra, unsigned fds_per_reply, int lead)
{
	const int total = 3000;
	int fd = raw_connect(broker.sock), other = raw_connect(broker.sock);
	int base, sent = 0, answered = 0;
	int64_t iterations;
	static struct reader rd;
	static char msg[4096];
	char attach[256], plain[256];

	assert_true(fd >= 0 && other >= 0);
	attach_call_with(fd, plain, sizeof(plain), "");
	attach_call_with(fd, attach, sizeof(attach), extra);
	base = broker_fd_count(&broker);
	for (int i = 0; i < lead; i++)
		assert_int_equal(raw_send(fd, plain), 0);

	rd = (struct reader){ .fd = fd };
	sent = pipeline(fd, attach, total, MSG_DONTWAIT);
	assert_true(sent > 100);
	/* The broker works through what it read; it never holds more than 8 of our fds. */
	for (int i = 0; i < 50; i++) {
		json_object_put(call_json(other, GET_STATUS));
		assert_true(broker_fd_count(&broker) <= base + 8);
	}
	/*
	 * Nor sends more than 8 that we have not read: the kernel charges
	 * those to the broker's user.  It stops, and says so.
	 */
	for (int i = 0; i < 10000 && status_field(other, "awaiting_reader") == 0; i++)
		;
	assert_int_equal(status_field(other, "awaiting_reader"), 1);
	/*
	 * Count what is in flight by reading it all: the broker cannot send
	 * more before it sees the socket empty, and then waits its timer.
	 */
	rd.flags = MSG_DONTWAIT;
	while (reader_next(&rd, msg, sizeof(msg)) == 1)
		answered++;
	rd.flags = 0;
	assert_true(rd.fds <= 8);
	/* And waits for us to read without spinning: a few loop turns per call of another client. */
	iterations = status_field(other, "loop_iterations");
	for (int i = 0; i < 50; i++)
		json_object_put(call_json(other, GET_STATUS));
	assert_true(status_field(other, "loop_iterations") - iterations < 50 * 10);
	/* Now read: every call sent gets its reply and its fds. */
	shutdown(fd, SHUT_WR);
	while (reader_next(&rd, msg, sizeof(msg)) == 1) {
		assert_null(strstr(msg, "\"error\""));
		answered++;
	}
	assert_int_equal(answered, sent + lead);
	assert_int_equal(rd.fds, (unsigned)(sent * (int)fds_per_reply + lead));
	assert_int_equal(status_field(other, "awaiting_reader"), 0);
	close(fd);
	close(other);
	assert_broker_serves();
}

static void pipelined_fd_replies_are_bounded(void **state)
{
	pipelined_replies_bounded("", 1, 0);
}

/*
 * The same with two fds a reply (the event pipe too), after one reply of
 * one fd (an odd count in flight): the bound is in fds, not in replies.
 */
static void pipelined_event_fd_replies_are_bounded_in_fds(void **state)
{
	pipelined_replies_bounded(",\"with_event_fd\":true", 2, 1);
}

/*
 * A caller that does not say with_event_fd (every client before it) gets
 * what it always got: one fd per reply and no "event_fd", so a client
 * that takes one received fd per reply stays in step.  One that asks gets
 * the second fd, named "event_fd": 1.
 */
static void event_fd_goes_only_to_callers_who_ask(void **state)
{
	static const char with[] = "{\"method\":\"org.accelbroker.Broker.AcquireQueue\","
				   "\"parameters\":{\"algorithm\":\"copy\",\"with_event_fd\":true}}";
	int fd = raw_connect(broker.sock);
	static struct reader rd;
	static char msg[4096];

	assert_true(fd >= 0);
	rd = (struct reader){ .fd = fd };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(raw_send(fd, ACQUIRE_COPY), 0);
		assert_int_equal(reader_next(&rd, msg, sizeof(msg)), 1);
		assert_null(strstr(msg, "\"error\""));
		assert_null(strstr(msg, "event_fd"));
		assert_int_equal(rd.fds, (unsigned)i + 1);
	}
	assert_int_equal(raw_send(fd, with), 0);
	assert_int_equal(reader_next(&rd, msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "\"event_fd\":1"));
	assert_int_equal(rd.fds, 5u);
	close(fd);
	assert_broker_serves();
}

/*
 * A client stopped for the fds it has not read shuts its socket both ways
 * and keeps it open: nothing sent can reach it any more.  The broker closes
 * the connection rather than wait for a reader that cannot come (the
 * hang-up, reported on every loop turn, made it spin).
 */
static void hung_up_reader_is_closed_without_spinning(void **state)
{
	int fd = raw_connect(broker.sock), other = raw_connect(broker.sock);
	int64_t iterations, clients;
	char attach[256];

	assert_true(fd >= 0 && other >= 0);
	attach_call(fd, attach, sizeof(attach));
	assert_true(pipeline(fd, attach, 100, MSG_DONTWAIT) > 8);
	for (int i = 0; i < 10000 && status_field(other, "awaiting_reader") == 0; i++)
		;
	assert_int_equal(status_field(other, "awaiting_reader"), 1);
	clients = status_field(other, "clients");
	iterations = status_field(other, "loop_iterations");
	assert_int_equal(shutdown(fd, SHUT_RDWR), 0);
	for (int i = 0; i < 50; i++)
		json_object_put(call_json(other, GET_STATUS));
	iterations = status_field(other, "loop_iterations") - iterations;
	fprintf(stderr, "loop turns over 50 calls after the hang-up: %lld\n", (long long)iterations);
	assert_true(iterations < 50 * 10);
	for (int i = 0; i < 10000 && status_field(other, "clients") == clients; i++)
		;
	assert_int_equal(status_field(other, "clients"), clients - 1);
	assert_int_equal(status_field(other, "awaiting_reader"), 0);
	close(fd);
	close(other);
	assert_broker_serves();
}

/*
 * A broker out of fds stops accepting (GetStatus says so) instead of
 * spinning on its listening socket, and accepts again once an fd is freed.
 */
static void out_of_fds_pauses_the_listener(void **state)
{
	int ctl = raw_connect(broker.sock), conns[32], n_conns = 0;
	struct rlimit lim;
	int64_t pauses;

	assert_true(ctl >= 0);
	assert_true(status_field(ctl, "accepting"));
	/* Room for three more descriptors. */
	assert_int_equal(prlimit(broker.pid, RLIMIT_NOFILE, NULL, &lim), 0);
	lim.rlim_cur = (rlim_t)broker_fd_count(&broker) + 3;
	assert_int_equal(prlimit(broker.pid, RLIMIT_NOFILE, &lim, NULL), 0);

	/* Connections queue in the backlog even when the broker cannot take them. */
	for (; n_conns < 8; n_conns++)
		assert_true((conns[n_conns] = raw_connect(broker.sock)) >= 0);
	for (int i = 0; i < 1000 && status_field(ctl, "accepting"); i++)
		;
	assert_false(status_field(ctl, "accepting"));
	pauses = status_field(ctl, "accept_pauses");
	assert_true(pauses >= 1);
	/* Paused, not spinning: many calls later it has not retried in a loop. */
	for (int i = 0; i < 50; i++)
		status_field(ctl, "clients");
	assert_true(status_field(ctl, "accept_pauses") <= pauses + 2);

	/* Free descriptors: the waiting connections are taken and served. */
	lim.rlim_cur = lim.rlim_max;
	assert_int_equal(prlimit(broker.pid, RLIMIT_NOFILE, &lim, NULL), 0);
	for (int i = 0; i < n_conns; i++) {
		struct json_object *o = call_json(conns[i], GET_INFO);
		json_object_put(o);
	}
	assert_true(status_field(ctl, "accepting"));
	for (int i = 0; i < n_conns; i++)
		close(conns[i]);
	close(ctl);
	assert_broker_serves();
}

/*
 * Complete calls followed by shutdown(SHUT_WR), as socat sends its input:
 * all answered, also those the broker had not yet run when it read the end
 * of input (100 interface descriptions are ~800 KiB, past its output limit).
 */
static void half_close_answers_every_complete_call(void **state)
{
	const char *describe = "{\"method\":\"org.varlink.service.GetInterfaceDescription\","
			       "\"parameters\":{\"interface\":\"org.accelbroker.Broker\"}}";
	const int total = 100;
	int fd = raw_connect(broker.sock), answered = 0, r;
	static struct reader rd;
	static char msg[1 << 16];

	assert_true(fd >= 0);
	assert_int_equal(pipeline(fd, describe, total, 0), total);
	/* And half a call, which is dropped. */
	assert_int_equal(send(fd, "{\"method\":", 10, MSG_NOSIGNAL), 10);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	rd.fd = fd;
	while ((r = reader_next(&rd, msg, sizeof(msg))) == 1) {
		assert_non_null(strstr(msg, "\"description\""));
		answered++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(answered, total);
	close(fd);
	assert_broker_serves();
}

/* A listing longer than a call may be (~175 bytes a queue) reaches libaccel whole. */
static void long_listing_reaches_the_client(void **state)
{
	const int n = 450;
	int fd = raw_connect(broker.sock);
	struct accel_client *c;
	struct json_object *o, *qs;
	static struct reader rd;
	static char msg[4096];
	char *text = NULL;

	assert_true(fd >= 0);
	assert_int_equal(pipeline(fd, ACQUIRE_COPY, n, 0), n);
	rd.fd = fd;
	for (int i = 0; i < n; i++) {
		assert_int_equal(reader_next(&rd, msg, sizeof(msg)), 1);
		assert_null(strstr(msg, "\"error\""));
	}
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.ListQueues", NULL, &text), 0);
	assert_true(strlen(text) > 65536);
	o = json_tokener_parse(text);
	assert_true(json_object_object_get_ex(o, "queues", &qs));
	assert_int_equal(json_object_array_length(qs), n);
	json_object_put(o);
	free(text);
	accel_disconnect(c);
	close(fd);
	assert_broker_serves();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(slow_monitor_gets_whole_messages_and_an_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(pipelined_fd_replies_are_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(pipelined_event_fd_replies_are_bounded_in_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(event_fd_goes_only_to_callers_who_ask, setup, teardown),
		cmocka_unit_test_setup_teardown(hung_up_reader_is_closed_without_spinning, setup, teardown),
		cmocka_unit_test_setup_teardown(out_of_fds_pauses_the_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(half_close_answers_every_complete_call, setup, teardown),
		cmocka_unit_test_setup_teardown(long_listing_reaches_the_client, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

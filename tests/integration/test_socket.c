// SPDX-License-Identifier: MIT
/*
 * A real broker process on a temporary socket, real clients: libaccel for
 * the normal paths, raw sockets for hostile input.  Every hostile case ends
 * by checking that the broker still serves another client; every test ends
 * by stopping the broker and requiring a clean exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <accel/accel.h>
#include <accel/sim.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "harness.h"
#include "wire.h"

static struct broker_proc broker;

static int start_with(const char *const *args)
{
	int r = broker_start(&broker, args);

	if (r < 0) {
		fprintf(stderr, "broker did not start: %s\n", strerror(-r));
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	static const char *const args[] = { "--sim", "2", "--sim-queues", "8",
					    "--max-queues-per-user", "8", NULL };
	return start_with(args);
}

static int teardown(void **state)
{
	int status = broker_stop(&broker);

	children_kill();
	if (status != 0) {
		fprintf(stderr, "broker exit status %d\n", status);
		return -1;
	}
	return 0;
}

static struct accel_client *connect_client(void)
{
	struct accel_client *c = NULL;

	assert_int_equal(accel_connect(broker.sock, &c), 0);
	return c;
}

/* The broker still serves: a fresh client runs one real operation. */
static void assert_broker_serves(void)
{
	struct accel_client *c = connect_client();
	struct accel_queue *q;
	struct accel_completion comp;

	assert_int_equal(accel_acquire(c, "crc32c", NULL, &q), 0);
	assert_int_equal(accel_run(q, "123456789", 9, NULL, 0, 0, 0, &comp), 0);
	assert_int_equal(comp.value, 0xe3069283);
	assert_int_equal(accel_release(q), 0);
	accel_disconnect(c);
}

static int count_queues(struct accel_client *c)
{
	char *text = NULL;
	struct json_object *o, *qs;
	int n;

	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.ListQueues", NULL, &text), 0);
	o = json_tokener_parse(text);
	free(text);
	assert_true(json_object_object_get_ex(o, "queues", &qs));
	n = (int)json_object_array_length(qs);
	json_object_put(o);
	return n;
}

static void acquire_use_release(void **state)
{
	int fds_before = broker_fd_count(&broker);
	struct accel_client *c = connect_client();
	struct accel_queue *q;
	struct accel_completion comp;
	unsigned char out[64];

	assert_int_equal(accel_acquire(c, "copy", NULL, &q), 0);
	assert_true(accel_queue_id(q) > 0);
	assert_string_equal(accel_queue_api(q), "accel_sim_v1");
	assert_string_equal(accel_queue_algorithm(q), "copy");
	assert_non_null(strstr(accel_queue_device(q), "accel_sim-"));
	assert_int_equal(accel_run(q, "hello queue", 11, out, sizeof(out), 0, 0, &comp), 0);
	assert_int_equal(comp.produced, 11);
	assert_memory_equal(out, "hello queue", 11);
	assert_int_equal(count_queues(c), 1);
	assert_int_equal(accel_release(q), 0);
	assert_int_equal(count_queues(c), 0);
	/* The connection and the pidfd that follows this process. */
	assert_int_equal(broker_fd_count(&broker), fds_before + 2);
	accel_disconnect(c);
	assert_int_equal(broker_wait_fd_count(&broker, fds_before), fds_before);
}

static void *client_thread(void *arg)
{
	struct accel_client *c = NULL;
	intptr_t failures = 0;

	(void)arg;
	if (accel_connect(broker.sock, &c) < 0)
		return (void *)1;
	for (int i = 0; i < 25; i++) {
		struct accel_queue *q;
		struct accel_completion comp;
		char in[32], out[32];
		int len = snprintf(in, sizeof(in), "thread %p round %d", (void *)&c, i);

		if (accel_acquire(c, i % 2 ? "copy" : "crc32c", NULL, &q) < 0) {
			failures++;
			continue;
		}
		if (accel_run(q, in, (size_t)len, out, sizeof(out), 0, 0, &comp) < 0 ||
		    (i % 2 && memcmp(in, out, (size_t)len) != 0))
			failures++;
		if (accel_release(q) < 0)
			failures++;
	}
	accel_disconnect(c);
	return (void *)failures;
}

static void many_clients_at_once(void **state)
{
	pthread_t threads[8];
	struct accel_client *c;

	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, client_thread, NULL), 0);
	for (int i = 0; i < 8; i++) {
		void *failures;
		assert_int_equal(pthread_join(threads[i], &failures), 0);
		assert_int_equal((intptr_t)failures, 0);
	}
	c = connect_client();
	assert_int_equal(count_queues(c), 0);
	accel_disconnect(c);
}

static void disconnect_releases_the_queues(void **state)
{
	int fds_before = broker_fd_count(&broker);
	struct accel_client *c = connect_client(), *other;
	struct accel_queue *q[3];

	for (int i = 0; i < 3; i++)
		assert_int_equal(accel_acquire(c, "gzip", NULL, &q[i]), 0);
	accel_disconnect(c);
	assert_int_equal(broker_wait_fd_count(&broker, fds_before), fds_before);
	other = connect_client();
	assert_int_equal(count_queues(other), 0);
	/* The orphaned handles still release cleanly (unmap only). */
	for (int i = 0; i < 3; i++)
		assert_int_equal(accel_release(q[i]), 0);
	accel_disconnect(other);
}

static void quota_is_enforced_and_named(void **state)
{
	struct accel_client *c = connect_client();
	struct accel_queue *q[9];

	for (int i = 0; i < 8; i++)
		assert_int_equal(accel_acquire(c, "copy", NULL, &q[i]), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q[8]), -EDQUOT);
	assert_string_equal(accel_error_name(c), "org.accelbroker.Broker.QuotaExceeded");
	assert_non_null(strstr(accel_error_message(c), "limit"));
	assert_int_equal(accel_release(q[0]), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q[0]), 0);
	for (int i = 0; i < 8; i++)
		accel_release(q[i]);
	accel_disconnect(c);
}

static void acquire_errors_are_named(void **state)
{
	struct accel_client *c = connect_client();
	struct accel_queue *q;

	assert_int_equal(accel_acquire(c, "zstd", NULL, &q), -EOPNOTSUPP);
	assert_string_equal(accel_error_name(c), "org.accelbroker.Broker.NoSuchAlgorithm");
	assert_int_equal(accel_acquire(c, "gzip", &(struct accel_acquire_options){ "hisi_zip-9", -1 }, &q),
			 -ENODEV);
	assert_string_equal(accel_error_name(c), "org.accelbroker.Broker.NoSuchDevice");
	assert_int_equal(accel_acquire(c, "gzip", &(struct accel_acquire_options){ NULL, 7 }, &q), -EBUSY);
	assert_string_equal(accel_error_name(c), "org.accelbroker.Broker.NoDeviceAvailable");
	accel_disconnect(c);
}

static void hostile_expect(const char *request, const char *error_name)
{
	char reply[4096];
	int fd = raw_connect(broker.sock);

	assert_true(fd >= 0);
	assert_true(raw_call(fd, request, reply, sizeof(reply)) > 0);
	if (!strstr(reply, error_name))
		fail_msg("%s -> %s, want %s", request, reply, error_name);
	assert_non_null(strstr(reply, "\"message\""));
	/* The same connection still answers. */
	assert_true(raw_call(fd, "{\"method\":\"org.accelbroker.Broker.GetStatus\"}", reply, sizeof(reply)) > 0);
	assert_non_null(strstr(reply, "\"version\""));
	close(fd);
}

static void malformed_requests_get_named_errors(void **state)
{
	hostile_expect("this is not json", "org.accelbroker.Broker.InvalidParameter");
	hostile_expect("[1,2]", "org.accelbroker.Broker.InvalidParameter");
	hostile_expect("{\"method\":7}", "org.accelbroker.Broker.InvalidParameter");
	hostile_expect("{\"method\":\"org.accelbroker.Broker.Nope\"}", "org.varlink.service.MethodNotFound");
	/* A NUL would end a C comparison early: this must not run GetInfo. */
	hostile_expect("{\"method\":\"org.varlink.service.GetInfo\\u0000x\"}",
		       "org.accelbroker.Broker.InvalidParameter");
	hostile_expect("{\"method\":\"org.accelbroker.Broker.AcquireQueue\",\"parameters\":{\"algorithm\":5}}",
		       "org.varlink.service.InvalidParameter");
	hostile_expect("{\"method\":\"org.accelbroker.Broker.AcquireQueue\",\"parameters\":{}}",
		       "org.varlink.service.InvalidParameter");
	/* A raw queue (no algorithm) is of a kernel device; the broker's software ones have none. */
	hostile_expect("{\"method\":\"org.accelbroker.Broker.AcquireQueue\",\"parameters\":"
		       "{\"device\":\"accel_sim-0\"}}", "org.accelbroker.Broker.NoSuchAlgorithm");
	hostile_expect("{\"method\":\"org.accelbroker.Broker.AcquireQueue\",\"parameters\":"
		       "{\"algorithm\":\"copy\",\"uid\":0}}", "org.varlink.service.InvalidParameter");
	hostile_expect("{\"method\":\"org.accelbroker.Broker.AcquireQueue\",\"parameters\":"
		       "{\"algorithm\":\"copy\",\"numa_node\":-5}}", "org.accelbroker.Broker.InvalidParameter");
	hostile_expect("{\"method\":\"org.accelbroker.Broker.ReleaseQueue\",\"parameters\":{\"queue_id\":-1}}",
		       "org.accelbroker.Broker.NoSuchQueue");
	hostile_expect("{\"method\":\"org.accelbroker.Broker.ReleaseQueue\",\"parameters\":"
		       "{\"queue_id\":99999999999999999999}}", "org.accelbroker.Broker.NoSuchQueue");
	assert_broker_serves();
}

/* The value of "@key":"..." in @json, copied into @out. */
static void json_string_field(const char *json, const char *key, char *out, size_t size)
{
	struct json_object *o = json_tokener_parse(json), *params, *v;

	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "parameters", &params));
	assert_true(json_object_object_get_ex(params, key, &v));
	snprintf(out, size, "%s", json_object_get_string(v));
	json_object_put(o);
}

/*
 * A oneway call gets no reply, so one whose reply is its point is not run:
 * a oneway TransferQueue used to replace the queue's token with one nobody
 * was sent, a oneway Monitor still streamed (and refused every later call).
 * ReleaseQueue may be oneway.  The next reply is always the next call's.
 */
static void oneway_calls_run_only_where_no_reply_is_needed(void **state)
{
	char reply[4096], req[256], token[64], id[32];
	int fd = raw_connect(broker.sock);

	assert_true(fd >= 0);
	assert_true(raw_call(fd, "{\"method\":\"org.accelbroker.Broker.AcquireQueue\","
			     "\"parameters\":{\"algorithm\":\"copy\"}}", reply, sizeof(reply)) > 0);
	assert_non_null(strstr(reply, "\"queue_id\""));
	snprintf(id, sizeof(id), "%lld", strtoll(strstr(reply, "\"queue_id\":") + 11, NULL, 10));
	snprintf(req, sizeof(req), "{\"method\":\"org.accelbroker.Broker.TransferQueue\","
		 "\"parameters\":{\"queue_id\":%s}}", id);
	assert_true(raw_call(fd, req, reply, sizeof(reply)) > 0);
	json_string_field(reply, "token", token, sizeof(token));
	snprintf(req, sizeof(req), "{\"method\":\"org.accelbroker.Broker.TransferQueue\","
		 "\"parameters\":{\"queue_id\":%s},\"oneway\":true}", id);
	assert_int_equal(raw_send(fd, req), 0);
	/* The first token still stands. */
	snprintf(req, sizeof(req), "{\"method\":\"org.accelbroker.Broker.ClaimQueue\","
		 "\"parameters\":{\"token\":\"%s\"}}", token);
	assert_true(raw_call(fd, req, reply, sizeof(reply)) > 0);
	if (!strstr(reply, "\"queue_id\""))
		fail_msg("claim -> %s", reply);
	/* No stream starts: this connection still takes calls, next. */
	assert_int_equal(raw_send(fd, "{\"method\":\"org.accelbroker.Broker.Monitor\",\"more\":true,"
				  "\"oneway\":true}"), 0);
	/* A oneway release is run, and answered by nothing. */
	snprintf(req, sizeof(req), "{\"method\":\"org.accelbroker.Broker.ReleaseQueue\","
		 "\"parameters\":{\"queue_id\":%s},\"oneway\":true}", id);
	assert_int_equal(raw_send(fd, req), 0);
	assert_true(raw_call(fd, "{\"method\":\"org.accelbroker.Broker.ListQueues\"}", reply, sizeof(reply)) > 0);
	assert_non_null(strstr(reply, "{\"parameters\":{\"queues\":[]}}"));
	close(fd);
	assert_broker_serves();
}

static void oversized_message_is_answered_and_dropped(void **state)
{
	size_t n = 70 * 1024;
	char *big = malloc(n + 1), reply[4096];
	int fd = raw_connect(broker.sock), r;

	memset(big, ' ', n);
	memcpy(big, "{\"method\":\"", 11);
	big[n] = '\0';
	assert_true(fd >= 0);
	(void)!send(fd, big, n, MSG_NOSIGNAL);	/* no terminator: never a whole message */
	r = raw_recv(fd, reply, sizeof(reply));
	assert_true(r > 0);
	assert_non_null(strstr(reply, "exceeds 65536 bytes"));
	assert_int_equal(raw_recv(fd, reply, sizeof(reply)), 0);	/* then EOF */
	close(fd);
	free(big);
	assert_broker_serves();
}

static void client_fds_are_closed_at_once(void **state)
{
	int fds_before = broker_fd_count(&broker);
	int pipefd[2], fds[8], fd = raw_connect(broker.sock);
	char reply[4096];
	struct msghdr mh = { 0 };
	struct iovec iov = { .iov_base = (void *)"{\"method\":\"org.accelbroker.Broker.GetStatus\"}",
			     .iov_len = 46 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(fds))];
	} control;
	struct cmsghdr *cm;

	assert_true(fd >= 0);
	assert_int_equal(pipe(pipefd), 0);
	for (int i = 0; i < 8; i++)
		fds[i] = pipefd[i % 2];
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof(control.buf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	assert_true(sendmsg(fd, &mh, MSG_NOSIGNAL) > 0);
	assert_true(raw_recv(fd, reply, sizeof(reply)) > 0);
	assert_non_null(strstr(reply, "\"version\""));
	/* The connection and this process's pidfd; none of the 8 passed. */
	assert_int_equal(broker_fd_count(&broker), fds_before + 2);
	close(fd);
	close(pipefd[0]);
	close(pipefd[1]);
	assert_broker_serves();
}

static void half_written_message_then_hangup(void **state)
{
	int fds_before = broker_fd_count(&broker);
	int fd = raw_connect(broker.sock);

	assert_true(fd >= 0);
	assert_int_equal(send(fd, "{\"method\":\"org.accel", 20, MSG_NOSIGNAL), 20);
	/* Hang up only once the broker has read the half (nothing left unread in the socket). */
	assert_int_equal(wait_unread(fd, 0), 0);
	close(fd);
	assert_int_equal(broker_wait_fd_count(&broker, fds_before), fds_before);
	assert_broker_serves();
}

static void slow_reader_does_not_stall_others(void **state)
{
	const char *req = "{\"method\":\"org.accelbroker.Broker.ListDevices\"}";
	int fds_before = broker_fd_count(&broker);
	int fd = raw_connect(broker.sock), sent = 0;

	assert_true(fd >= 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	/* Ask and never read, until the socket buffers are full both ways. */
	for (int i = 0; i < 100000; i++) {
		if (send(fd, req, strlen(req) + 1, MSG_NOSIGNAL) < 0)
			break;
		sent++;
	}
	assert_true(sent > 100);
	assert_broker_serves();
	close(fd);
	assert_int_equal(broker_wait_fd_count(&broker, fds_before), fds_before);
	assert_broker_serves();
}

/*
 * Pipelined calls whose replies exceed what the broker queues per
 * connection: every call is answered once the client reads, including the
 * ones that waited in the broker's buffer after the client stopped sending.
 */
static void pipelined_calls_are_all_answered(void **state)
{
	const char *req = "{\"method\":\"org.accelbroker.Broker.ListDevices\"}";
	const int total = 20000;
	int fd = raw_connect(broker.sock), sent = 0, answered = 0;
	char buf[65536];
	size_t have = 0, req_len = strlen(req) + 1;

	assert_true(fd >= 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	/*
	 * First send without reading, until both directions are full: the
	 * broker stops reading once its replies to us are piling up, so the
	 * socket stays unwritable (10 ms is only how long a try waits for
	 * room; no assertion rests on it).
	 */
	for (int tries = 0; sent < total && tries < 100; tries++) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		while (sent < total && send(fd, req, req_len, MSG_NOSIGNAL) == (ssize_t)req_len)
			sent++;
		if (poll(&p, 1, 10) == 0)
			break;
	}
	/* Then read and send as the socket lets us; 5 s without either is a failure. */
	for (int idle = 0; answered < total && idle < 1;) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < total ? POLLOUT : 0) };
		bool progress = false;
		while (sent < total && send(fd, req, req_len, MSG_NOSIGNAL) == (ssize_t)req_len) {
			sent++;
			progress = true;
		}
		ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (n > 0) {
			have += (size_t)n;
			for (char *z; (z = memchr(buf, '\0', have));) {
				answered++;
				have -= (size_t)(z + 1 - buf);
				memmove(buf, z + 1, have);
			}
			progress = true;
		}
		if (!progress && poll(&p, 1, 5000) == 0)
			idle++;
	}
	assert_int_equal(sent, total);
	assert_int_equal(answered, total);
	close(fd);
	assert_broker_serves();
}

static void connection_limit_per_user(void **state)
{
	int fds[64], n = 0, extra, fds_before = broker_fd_count(&broker);
	char reply[512];

	/* max-connections-per-user is 64 by default. */
	for (n = 0; n < 64; n++) {
		fds[n] = raw_connect(broker.sock);
		assert_true(fds[n] >= 0);
	}
	/* Make sure all 64 were accepted before the 65th knocks. */
	assert_true(raw_call(fds[63], "{\"method\":\"org.accelbroker.Broker.GetStatus\"}", reply,
			     sizeof(reply)) > 0);
	extra = raw_connect(broker.sock);
	assert_true(extra >= 0);
	assert_true(raw_recv(extra, reply, sizeof(reply)) > 0);
	assert_non_null(strstr(reply, "org.accelbroker.Broker.QuotaExceeded"));
	assert_int_equal(raw_recv(extra, reply, sizeof(reply)), 0);
	close(extra);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	/* Closed on the broker's side too (they count against the limit until then). */
	assert_int_equal(broker_wait_fd_count(&broker, fds_before), fds_before);
	assert_broker_serves();
}

static void killed_client_leaves_no_queue_and_no_fd(void **state)
{
	int fds_before = broker_fd_count(&broker), ready[2];
	struct accel_client *c;
	char byte;
	pid_t child;

	assert_int_equal(pipe(ready), 0);
	child = fork_child();
	assert_true(child >= 0);
	if (child == 0) {
		struct accel_client *cc;
		struct accel_queue *q;
		if (accel_connect(broker.sock, &cc) < 0)
			_exit(1);
		for (int i = 0; i < 3; i++)
			if (accel_acquire(cc, "gzip", NULL, &q) < 0)
				_exit(1);
		(void)!write(ready[1], "r", 1);
		for (;;)
			pause();
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &byte, 1), 1);
	close(ready[0]);
	/*
	 * The connection, the child's pidfd and 3 queues of 3 fds each: the
	 * memory, the event pipe's read end and the engine's write end (an
	 * fd the broker is just closing may linger).
	 */
	assert_int_equal(broker_wait_fd_count(&broker, fds_before + 11), fds_before + 11);
	kill_child(child);
	assert_int_equal(broker_wait_fd_count(&broker, fds_before), fds_before);
	c = connect_client();
	assert_int_equal(count_queues(c), 0);
	accel_disconnect(c);
}

static void forked_child_cannot_use_the_parents_queue(void **state)
{
	struct accel_client *c = connect_client();
	struct accel_queue *q;
	struct accel_completion comp;
	pid_t child;

	assert_int_equal(accel_acquire(c, "crc32c", NULL, &q), 0);
	child = fork_child();
	assert_true(child >= 0);
	if (child == 0) {
		int r = accel_run(q, "x", 1, NULL, 0, 0, 0, &comp);
		_exit(r == -ECHILD ? 0 : 1);
	}
	assert_int_equal(wait_status(child), 0);
	/* The parent's queue is untouched. */
	assert_int_equal(accel_run(q, "123456789", 9, NULL, 0, 0, 0, &comp), 0);
	assert_int_equal(comp.value, 0xe3069283);
	accel_release(q);
	accel_disconnect(c);
}

static void other_users_see_only_their_own_queues(void **state)
{
	struct accel_client *c;
	struct accel_queue *q;
	int sync_pipe[2], done_pipe[2];
	char byte;
	pid_t child;

	if (geteuid() != 0)
		skip();
	c = connect_client();
	assert_int_equal(accel_acquire(c, "copy", NULL, &q), 0);
	assert_int_equal(pipe(sync_pipe), 0);
	assert_int_equal(pipe(done_pipe), 0);
	child = fork_child();
	assert_true(child >= 0);
	if (child == 0) {
		struct accel_client *cc;
		struct accel_queue *cq;
		char params[64];
		char *reply = NULL;
		if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0 ||
		    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(10);
		if (accel_connect(broker.sock, &cc) < 0)
			_exit(11);
		if (accel_acquire(cc, "copy", NULL, &cq) < 0)
			_exit(12);
		if (count_queues(cc) != 1)	/* its own, not root's */
			_exit(13);
		snprintf(params, sizeof(params), "{\"queue_id\":%llu}", (unsigned long long)accel_queue_id(q));
		if (accel_call_json(cc, "org.accelbroker.Broker.ReleaseQueue", params, &reply) != -ENOENT)
			_exit(14);
		(void)!write(sync_pipe[1], "r", 1);
		(void)!read(done_pipe[0], &byte, 1);
		_exit(0);
	}
	close(sync_pipe[1]);
	close(done_pipe[0]);
	assert_int_equal(read(sync_pipe[0], &byte, 1), 1);
	/* Root sees both, with the uid the kernel reported. */
	char *text = NULL;
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.ListQueues", NULL, &text), 0);
	assert_non_null(strstr(text, "\"uid\":65534"));
	assert_non_null(strstr(text, "\"uid\":0"));
	free(text);
	(void)!write(done_pipe[1], "d", 1);
	close(done_pipe[1]);
	assert_int_equal(wait_status(child), 0);
	close(sync_pipe[0]);
	accel_release(q);
	accel_disconnect(c);
}

static void varlink_service_describes_the_interface(void **state)
{
	struct accel_client *c = connect_client();
	char *text = NULL;

	assert_int_equal(accel_call_json(c, "org.varlink.service.GetInfo", NULL, &text), 0);
	assert_non_null(strstr(text, "\"org.accelbroker.Broker\""));
	free(text);
	assert_int_equal(accel_call_json(c, "org.varlink.service.GetInterfaceDescription",
					 "{\"interface\":\"org.accelbroker.Broker\"}", &text), 0);
	assert_non_null(strstr(text, "method AcquireQueue"));
	free(text);
	assert_int_equal(accel_call_json(c, "org.varlink.service.GetInterfaceDescription",
					 "{\"interface\":\"org.example.Other\"}", &text), -ENOSYS);
	assert_string_equal(accel_error_name(c), "org.varlink.service.InterfaceNotFound");
	accel_disconnect(c);
}

static void queue_is_revoked_when_the_broker_stops(void **state)
{
	struct accel_client *c = connect_client();
	struct accel_queue *q;
	struct accel_completion comp;
	unsigned char out[8];
	void *buf;

	assert_int_equal(accel_acquire(c, "copy", NULL, &q), 0);
	assert_int_equal(accel_run(q, "before", 6, out, sizeof(out), 0, 0, &comp), 0);
	assert_int_equal(broker_stop(&broker), 0);
	buf = accel_queue_buffer(q, NULL);
	assert_int_equal(accel_submit(q, &(struct accel_op){ .src = buf, .src_len = 1, .dst = buf, .dst_len = 1 }),
			 -ENOLINK);
	accel_release(q);
	accel_disconnect(c);
	assert_int_equal(start_with((const char *const[]){ NULL }), 0);	/* for teardown */
}

static void default_is_two_software_devices(void **state)
{
	struct accel_client *c = connect_client();
	struct accel_device *devs;
	size_t n;

	/* The fixture passes --sim 2; restart without it: the default applies. */
	accel_disconnect(c);
	assert_int_equal(broker_stop(&broker), 0);
	assert_int_equal(start_with((const char *const[]){ NULL }), 0);
	c = connect_client();
	assert_int_equal(accel_list_devices(c, &devs, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(devs[0].name, "accel_sim-0");
	assert_string_equal(devs[0].backend, "sim");
	assert_string_equal(devs[0].api, "accel_sim_v1");
	assert_int_equal(devs[0].queues_total, 16);
	assert_string_equal(devs[0].algorithms[0], "copy");
	assert_string_equal(devs[0].algorithms[3], "gunzip");
	assert_null(devs[0].algorithms[4]);
	assert_false(devs[0].sva);
	accel_devices_free(devs, n);
	accel_disconnect(c);
}

static void client_caused_logs_are_rate_limited(void **state)
{
	char reply[1024], line[512];
	unsigned logged = 0;
	int fd = raw_connect(broker.sock);
	FILE *log;

	assert_true(fd >= 0);
	for (int i = 0; i < 200; i++) {
		assert_true(raw_call(fd, "garbage", reply, sizeof(reply)) > 0);
		assert_non_null(strstr(reply, "InvalidParameter"));
	}
	close(fd);
	log = fopen(broker.log, "r");
	assert_non_null(log);
	while (fgets(line, sizeof(line), log))
		logged += strstr(line, "Bad message from pid") != NULL;
	fclose(log);
	assert_true(logged >= 1);
	assert_true(logged <= 20);	/* LOG_RATELIMIT_BURST */
	assert_broker_serves();
}

/* The raw protocol: the fd comes with the reply, close-on-exec, sealed. */
static void queue_fd_is_cloexec_and_sealed(void **state)
{
	const char *req = "{\"method\":\"org.accelbroker.Broker.AcquireQueue\","
			  "\"parameters\":{\"algorithm\":\"copy\"}}";
	struct wire w;
	const char *reply;
	size_t len;
	struct accel_sim_regs *regs;
	int fd;

	assert_int_equal(wire_init(&w, raw_connect(broker.sock)), 0);
	assert_int_equal(wire_send_all(&w, req, strlen(req)), 0);
	assert_int_equal(wire_receive(&w, &reply, &len), 0);
	assert_non_null(strstr(reply, "\"fd\":0"));
	assert_non_null(strstr(reply, "\"type\":\"mmio\",\"offset\":0,\"size\":4096"));
	assert_non_null(strstr(reply, "\"type\":\"dus\",\"offset\":4096"));
	fd = wire_take_fd(&w);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* Shrinking it under the engine's mapping would crash the broker. */
	assert_int_equal(ftruncate(fd, 0), -1);
	assert_int_equal(errno, EPERM);
	regs = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(regs != MAP_FAILED);
	assert_int_equal(regs->magic, ACCEL_SIM_MAGIC);
	assert_int_equal(regs->state, ACCEL_SIM_STATE_ACTIVE);
	munmap(regs, 4096);
	close(fd);
	wire_finish(&w);
	assert_broker_serves();
}

/* A fake sysfs tree: one SVA device, one whose node is not a uacce device. */
static void uacce_devices_are_listed_and_refused_by_name(void **state)
{
	char tree[] = "/tmp/accel-fake-uacce-XXXXXX", dev[128], cmd[160], *json = NULL;
	struct accel_client *c;
	struct accel_device *devs;
	struct accel_queue *q;
	size_t n;

	assert_int_equal(fake_uacce_tree(tree, dev, sizeof(dev)), 0);
	assert_int_equal(broker_stop(&broker), 0);
	assert_int_equal(start_with((const char *const[]){ "--sim", "0", "--sysfs-root", tree,
							 "--dev-root", dev, NULL }), 0);
	c = connect_client();
	assert_int_equal(accel_list_devices(c, &devs, &n), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(devs[i].backend, "uacce");
		assert_int_equal(devs[i].sva, strcmp(devs[i].name, "hisi_sec2-0") == 0);
	}
	accel_devices_free(devs, n);
	/* A kernel without "features": nothing is revocable, the SVA device says why it is refused. */
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.ListDevices", NULL, &json), 0);
	assert_null(strstr(json, "\"revocable\":true"));
	assert_non_null(strstr(json, "\"revocable\":false"));
	assert_non_null(strstr(json, "\"refused\":\"SVA device, and the kernel's uacce lacks UACCE_CMD_BIND_MM"));
	free(json);
	assert_int_equal(accel_acquire(c, "sm4", NULL, &q), -EXDEV);
	assert_string_equal(accel_error_name(c), "org.accelbroker.Broker.SVANotSupported");
	assert_non_null(strstr(accel_error_message(c), "hisi_sec2-0: "));
	assert_int_equal(accel_acquire(c, "gzip", NULL, &q), -EBUSY);
	assert_string_equal(accel_error_name(c), "org.accelbroker.Broker.NoDeviceAvailable");
	assert_non_null(strstr(accel_error_message(c), "could not start a queue on hisi_zip-0"));
	accel_disconnect(c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tree);
	assert_int_equal(system(cmd), 0);
}

/*
 * A raw queue (libaccel-preload.so's) goes out as open() made it: no
 * START_Q, which would fail on these regular-file nodes.  The broker lists
 * it with no algorithm; it goes back on release.
 */
static void raw_queue_of_a_uacce_device_goes_out_unstarted(void **state)
{
	char tree[] = "/tmp/accel-fake-uacce-XXXXXX", dev[128], cmd[160], *json = NULL;
	struct accel_client *c;
	uint64_t id = 0;
	int fd;

	assert_int_equal(fake_uacce_tree(tree, dev, sizeof(dev)), 0);
	assert_int_equal(broker_stop(&broker), 0);
	assert_int_equal(start_with((const char *const[]){ "--sim", "0", "--sysfs-root", tree,
							 "--dev-root", dev, NULL }), 0);
	c = connect_client();
	fd = accel_acquire_raw(c, "hisi_zip-0", &id);
	assert_true(fd >= 0);
	assert_true(id > 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.ListQueues", NULL, &json), 0);
	assert_non_null(strstr(json, "\"device\":\"hisi_zip-0\",\"algorithm\":\"\""));
	free(json);
	assert_int_equal(accel_release_raw(c, id), 0);
	close(fd);
	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.ListQueues", NULL, &json), 0);
	assert_null(strstr(json, "hisi_zip-0"));
	free(json);
	/* A raw queue names its device. */
	assert_int_equal(accel_acquire_raw(c, "hisi_zip-9", &id), -ENODEV);
	assert_string_equal(accel_error_name(c), "org.accelbroker.Broker.NoSuchDevice");
	accel_disconnect(c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tree);
	assert_int_equal(system(cmd), 0);
}

/*
 * In a devices cgroup that refuses every device, open a node by path is
 * refused (-1, EPERM expected); the queue fd the broker passes maps all
 * the same.  Exit 0, or the number of the step that failed.
 */
static int map_in_a_closed_device_cgroup(const char *cgroup, const char *node)
{
	struct accel_client *c;
	uint64_t id;
	char pid[16], *p;
	int fd, procs;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	procs = open(cgroup, O_WRONLY | O_CLOEXEC);
	if (procs < 0 || write(procs, pid, strlen(pid)) < 0)
		return 10;
	close(procs);
	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd >= 0 || errno != EPERM)
		return 11;	/* the policy does not bite: the test would prove nothing */
	if (accel_connect(broker.sock, &c) < 0)
		return 12;
	fd = accel_acquire_raw(c, "hisi_zip-0", &id);
	if (fd < 0)
		return 13;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 14;
	p[0] = 'x';
	if (p[0] != 'x')
		return 15;
	munmap(p, 4096);
	accel_disconnect(c);
	return 0;
}

/*
 * A device cgroup is checked when a node is opened or made, never when a
 * descriptor is mapped: a client whose cgroup allows no device at all
 * (DevicePolicy=strict, a container's device list) maps the queue fd the
 * broker opened.  The node is a character device that maps like a queue
 * (1:5, /dev/zero's numbers); cgroup v1's devices controller, where the
 * host has it (v2's device programs are the same hooks, not tried here).
 */
static void a_passed_device_fd_maps_where_the_device_cgroup_refuses_the_device(void **state)
{
	char tree[] = "/tmp/accel-fake-uacce-XXXXXX", dev[128], node[192], cg[96], file[128], cmd[160];
	pid_t pid;
	int status;
	FILE *f;

	snprintf(cg, sizeof(cg), "/sys/fs/cgroup/devices/accel-test-%d", (int)getpid());
	if (geteuid() != 0 || mkdir(cg, 0755) < 0)
		skip();	/* not root, or no v1 devices controller to make one in */
	snprintf(file, sizeof(file), "%s/devices.deny", cg);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("a", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(fake_uacce_tree(tree, dev, sizeof(dev)), 0);
	snprintf(node, sizeof(node), "%s/hisi_zip-0", dev);
	assert_int_equal(unlink(node), 0);
	assert_int_equal(mknod(node, S_IFCHR | 0600, makedev(1, 5)), 0);
	assert_int_equal(broker_stop(&broker), 0);
	assert_int_equal(start_with((const char *const[]){ "--sim", "0", "--sysfs-root", tree,
							 "--dev-root", dev, NULL }), 0);
	snprintf(file, sizeof(file), "%s/cgroup.procs", cg);
	pid = fork_child();
	if (pid == 0)
		_exit(map_in_a_closed_device_cgroup(file, node));
	status = wait_status(pid);
	rmdir(cg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tree);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(acquire_use_release, setup, teardown),
		cmocka_unit_test_setup_teardown(many_clients_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(disconnect_releases_the_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(quota_is_enforced_and_named, setup, teardown),
		cmocka_unit_test_setup_teardown(acquire_errors_are_named, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_requests_get_named_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(oneway_calls_run_only_where_no_reply_is_needed, setup, teardown),
		cmocka_unit_test_setup_teardown(oversized_message_is_answered_and_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(client_fds_are_closed_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(half_written_message_then_hangup, setup, teardown),
		cmocka_unit_test_setup_teardown(slow_reader_does_not_stall_others, setup, teardown),
		cmocka_unit_test_setup_teardown(pipelined_calls_are_all_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(connection_limit_per_user, setup, teardown),
		cmocka_unit_test_setup_teardown(killed_client_leaves_no_queue_and_no_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(forked_child_cannot_use_the_parents_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(other_users_see_only_their_own_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(varlink_service_describes_the_interface, setup, teardown),
		cmocka_unit_test_setup_teardown(queue_is_revoked_when_the_broker_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(default_is_two_software_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(client_caused_logs_are_rate_limited, setup, teardown),
		cmocka_unit_test_setup_teardown(queue_fd_is_cloexec_and_sealed, setup, teardown),
		cmocka_unit_test_setup_teardown(uacce_devices_are_listed_and_refused_by_name, setup, teardown),
		cmocka_unit_test_setup_teardown(raw_queue_of_a_uacce_device_goes_out_unstarted, setup, teardown),
		cmocka_unit_test_setup_teardown(a_passed_device_fd_maps_where_the_device_cgroup_refuses_the_device,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("socket", tests, NULL, NULL);
}

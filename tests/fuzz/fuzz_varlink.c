// SPDX-License-Identifier: MIT
/*
 * Varlink dispatch: calls from hostile clients into a real broker with two
 * software devices, as connection.c hands them over (one NUL-terminated
 * message at a time, while the connection is active and its replies do not
 * pile up).
 *
 * Input: messages separated by NUL bytes.  The first byte of each picks the
 * connection (bits 0-1: root, uid 1000, uid 65534 or uid 1000 again from
 * another process) and whether to flush its replies to the peer first
 * (bit 7), as a reading client would; the rest is the message.  "$TOKEN"
 * in a message stands for the last TransferQueue token the broker handed
 * out (128 random bits no fuzzer would guess), so claims can succeed.
 * User and group names resolve in fuzz_nss.h's table.  Calls that name a
 * user for the user database (Revoke, GetQuota) get OutOfResources here:
 * the harness has no resolver thread (server.resolver is NULL), whose
 * answers would come on a loop it does not run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "broker.h"
#include "clients.h"
#include "connection.h"
#include "fuzz.h"
#include "fuzz_nss.h"
#include "log.h"
#include "policy.h"
#include "server.h"
#include "sim_engine.h"
#include "varlink_api.h"

#define N_CONNECTIONS 4
#define TOKEN_MARK "$TOKEN"

static char last_token[QUEUE_TOKEN_LEN + 1];
static bool trace;	/* FUZZ_TRACE=1: calls and replies on stderr, to read an input */

static struct broker broker;
static struct policy policy;
static struct server server;

static const struct peer peers[N_CONNECTIONS] = {
	{ .uid = 0, .gid = 0, .pid = 1, .admin = true, .groups = { 0 }, .n_groups = 1 },
	{ .uid = 1000, .gid = 1000, .pid = 1000, .groups = { 1000, 27 }, .n_groups = 2 },
	{ .uid = 65534, .gid = 65534, .pid = 65534, .groups = { 65534 }, .n_groups = 1 },
	{ .uid = 1000, .gid = 1000, .pid = 1001, .groups = { 1000 }, .n_groups = 1 },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct device_changes found;
	struct broker_limits limits = {
		.max_connections_per_user = 64,
		.max_connections = 4096,
		.admin_gid = -1,
		.transfer_timeout_usec = 30 * 1000000ull,
		.reattach_timeout_usec = 30 * 1000000ull,
	};
	struct sim_engine *engine;
	sd_event *event;

	(void)argc;
	(void)argv;
	trace = getenv("FUZZ_TRACE") != NULL;
	fuzz_hide_stderr();
	log_set_level(LOG_DEBUG);
	if (sd_event_new(&event) < 0)
		abort();
	broker_init(&broker, &limits, event);
	policy_init(&policy, 4);
	broker_set_policy(&broker, &policy, false);
	if (sim_engine_create(1, &engine) < 0 || backend_sim_create_devices(engine, 2, 4, &found) < 0)
		abort();
	broker_apply_device_changes(&broker, &found);
	server = (struct server){ .event = event, .broker = &broker, .dispatch = varlink_api_dispatch,
			      .listen_fd = -1 };
	list_init(&server.connections);
	return 0;
}

/* What a client that reads its replies does: take them, close the fds. */
static void drain(int fd)
{
	char buf[65536], cbuf[CMSG_SPACE(sizeof(int) * 16)];

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n <= 0)
			return;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			int *fds = (int *)CMSG_DATA(cm);
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0; i < k; i++)
					close(fds[i]);
		}
	}
}

/* @msg with every TOKEN_MARK replaced, NUL-terminated as wire_next() gives it. */
static char *expand(const uint8_t *msg, size_t len, size_t *out_len)
{
	size_t mark = strlen(TOKEN_MARK), n = 0;
	char *copy = malloc(len / mark * QUEUE_TOKEN_LEN + len + 1);

	if (!copy)
		abort();
	for (size_t i = 0; i < len;) {
		if (len - i >= mark && memcmp(msg + i, TOKEN_MARK, mark) == 0) {
			memcpy(copy + n, last_token, QUEUE_TOKEN_LEN);
			n += QUEUE_TOKEN_LEN;
			i += mark;
		} else {
			copy[n++] = (char)msg[i++];
		}
	}
	copy[n] = '\0';
	*out_len = n;
	return copy;
}

/* Remember the token of a TransferQueue reply queued on @c. */
static void note_token(struct connection *c)
{
	static const char key[] = "\"token\":\"";
	const char *out;
	size_t len;

	if (!c->wire.out)
		return;	/* nothing was ever queued */
	out = c->wire.out + c->wire.out_sent;
	len = c->wire.out_len - c->wire.out_sent;
	for (const char *p = out; (p = memmem(p, len - (size_t)(p - out), key, sizeof(key) - 1));) {
		p += sizeof(key) - 1;
		if ((size_t)(out + len - p) > QUEUE_TOKEN_LEN)
			memcpy(last_token, p, QUEUE_TOKEN_LEN);
	}
}

static void dispatch(struct connection *c, const uint8_t *msg, size_t len)
{
	char *copy;

	/* connection_dispatch()'s conditions: a closing or backed-up connection is not read. */
	if (c->state != CONNECTION_ACTIVE || wire_out_pending(&c->wire) >= CONNECTION_OUT_HIGH_WATER)
		return;
	copy = expand(msg, len, &len);
	if (trace)
		dprintf(STDERR_FILENO, "-> %s\n", copy);
	varlink_api_dispatch(c, copy, len);
	free(copy);
	note_token(c);
	if (trace)
		dprintf(STDERR_FILENO, "<- %.*s\n", (int)(c->wire.out_len - c->wire.out_sent),
			c->wire.out ? c->wire.out + c->wire.out_sent : "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct connection *conns[N_CONNECTIONS];
	int remote[N_CONNECTIONS];
	const uint8_t *msg;
	size_t len;

	memset(last_token, '0', QUEUE_TOKEN_LEN);
	for (unsigned i = 0; i < N_CONNECTIONS; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0 ||
		    broker_client_add(&broker, peers[i].uid, NULL) < 0 || connection_create(&server, sv[0], &peers[i], &conns[i]) < 0)
			abort();
		remote[i] = sv[1];
	}
	while (fuzz_split(&in, '\0', &msg, &len)) {
		struct connection *c;
		uint8_t sel;

		if (len == 0)
			continue;
		sel = msg[0];
		c = conns[sel & (N_CONNECTIONS - 1)];
		if (sel & 0x80) {
			wire_flush(&c->wire);
			drain(remote[sel & (N_CONNECTIONS - 1)]);
		}
		dispatch(c, msg + 1, len - 1);
	}
	for (unsigned i = 0; i < N_CONNECTIONS; i++) {
		connection_destroy(conns[i]);
		close(remote[i]);
	}
	/* Every queue went with its connection. */
	if (broker_active_queues(&broker) != 0)
		abort();
	return 0;
}

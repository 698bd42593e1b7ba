// SPDX-License-Identifier: MIT
/*
 * The socket's varlink replies when the broker runs out of memory: each
 * allocation of a reply is made to fail in turn (varlink_writer_fail_at()),
 * and every call must then answer OutOfResources and leave nothing behind
 * (an acquired queue is given back), never another error, never a reply
 * with a field missing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"
#include "broker.h"
#include "clients.h"
#include "connection.h"
#include "owner.h"
#include "server.h"
#include "sim_engine.h"
#include "varlink.h"
#include "varlink_api.h"

struct fixture {
	sd_event *event;
	struct broker broker;
	struct policy policy;
	struct sim_engine *engine;
	struct server server;
	struct connection *c;
	int remote;
};

static int setup(void **state)
{
	const struct broker_limits limits = {
		.max_connections_per_user = 64,
		.max_connections = 64,
		.admin_gid = -1,
		.transfer_timeout_usec = 30 * 1000000ull,
	};
	const struct peer peer = { .uid = 1000, .gid = 1000, .pid = 1, .groups = { 1000 }, .n_groups = 1 };
	struct fixture *f = calloc(1, sizeof(*f));
	struct device_changes found;
	int sv[2];

	assert_non_null(f);
	assert_int_equal(sd_event_new(&f->event), 0);
	broker_init(&f->broker, &limits, f->event);
	policy_init(&f->policy, 4);
	broker_set_policy(&f->broker, &f->policy, false);
	assert_int_equal(sim_engine_create(1, &f->engine), 0);
	assert_int_equal(backend_sim_create_devices(f->engine, 2, 4, &found), 0);
	broker_apply_device_changes(&f->broker, &found);
	f->server = (struct server){ .event = f->event, .broker = &f->broker,
				     .dispatch = varlink_api_dispatch, .listen_fd = -1 };
	list_init(&f->server.connections);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(broker_client_add(&f->broker, peer.uid, NULL), 0);
	assert_int_equal(connection_create(&f->server, sv[0], &peer, &f->c), 0);
	f->remote = sv[1];
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	varlink_writer_fail_at(0);
	connection_destroy(f->c);
	close(f->remote);
	broker_shutdown(&f->broker);
	broker_finish(&f->broker);
	policy_finish(&f->policy);
	sim_engine_destroy(f->engine);
	sd_event_unref(f->event);
	free(f);
	return 0;
}

/* Send @call on @c and read its reply at @remote (its fds closed): the error name, or "" for a success. */
static void call_on(struct connection *c, int remote, const char *call, char *error, size_t size)
{
	char buf[65536], cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct varlink_reply reply;
	ssize_t n;

	varlink_api_dispatch(c, call, strlen(call));
	assert_int_equal(wire_flush(&c->wire), 0);
	n = recvmsg(remote, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	assert_true(n > 0);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
			close(((int *)CMSG_DATA(cm))[i]);
	assert_int_equal(buf[n - 1], '\0');	/* one whole message */
	assert_int_equal(varlink_reply_parse(buf, (size_t)n - 1, &reply), 0);
	snprintf(error, size, "%s", reply.error ? reply.error : "");
	varlink_reply_finish(&reply);
}

static void call(struct fixture *f, const char *call, char *error, size_t size)
{
	call_on(f->c, f->remote, call, error, size);
}

/* Another connection of the fixture's uid, from the process @process (a reference taken). */
static struct connection *connect_as(struct fixture *f, struct owner *process, int *remote)
{
	struct peer peer = f->c->peer;
	struct connection *c;
	int sv[2];

	peer.process = owner_ref(process);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(broker_client_add(&f->broker, peer.uid, NULL), 0);
	assert_int_equal(connection_create(&f->server, sv[0], &peer, &c), 0);
	*remote = sv[1];
	return c;
}

static void disconnect(struct connection *c, int remote)
{
	connection_destroy(c);
	close(remote);
}

/*
 * Make the 1st, 2nd, ... allocation of @method's reply fail until one
 * call gets through: each failed call must say OutOfResources and leave
 * the queues as they were.  Returns how many allocations failed.
 */
static unsigned fail_each_allocation(struct fixture *f, const char *method)
{
	unsigned queues = broker_active_queues(&f->broker);
	char error[128];
	unsigned n;

	for (n = 1; n < 200; n++) {
		varlink_writer_fail_at(n);
		call(f, method, error, sizeof(error));
		if (!error[0])
			break;
		assert_string_equal(error, ERR_OUT_OF_RESOURCES);
		assert_int_equal(broker_active_queues(&f->broker), queues);
	}
	varlink_writer_fail_at(0);
	assert_true(n < 200);
	return n - 1;
}

static void out_of_memory_is_out_of_resources_and_gives_the_queue_back(void **state)
{
	struct fixture *f = *state;

	/* The reply has 11 fields, two of them nested: many ways to fail. */
	assert_true(fail_each_allocation(f, "{\"method\":\"org.accelbroker.Broker.AcquireQueue\","
					    "\"parameters\":{\"algorithm\":\"copy\"}}") > 10);
	assert_int_equal(broker_active_queues(&f->broker), 1);	/* the call that got through */
	assert_true(fail_each_allocation(f, "{\"method\":\"org.accelbroker.Broker.ListQueues\"}") > 5);
	assert_true(fail_each_allocation(f, "{\"method\":\"org.accelbroker.Broker.ListDevices\"}") > 10);
	assert_true(fail_each_allocation(f, "{\"method\":\"org.accelbroker.Broker.GetStatus\"}") > 10);
	assert_true(fail_each_allocation(f, "{\"method\":\"org.accelbroker.Broker.GetQuota\"}") > 5);
	assert_true(fail_each_allocation(f, "{\"method\":\"org.varlink.service.GetInfo\"}") > 5);
}

#define ACQUIRE "{\"method\":\"org.accelbroker.Broker.AcquireQueue\",\"parameters\":{\"algorithm\":\"copy\"}}"

/* Each allocation of the reply fails in turn: the queue stays with the connection that held it. */
static void an_attach_whose_reply_fails_leaves_the_queue_held_as_before(void **state)
{
	struct fixture *f = *state;
	struct owner *process = owner_get(&f->broker.owners, getpid(), -1);
	int ra, rb;
	struct connection *a = connect_as(f, process, &ra), *b = connect_as(f, process, &rb);
	struct accel_error e = { 0 };
	char error[128];
	struct queue *q;
	unsigned n;

	call_on(a, ra, ACQUIRE, error, sizeof(error));
	assert_string_equal(error, "");
	assert_int_equal(broker_get_queue(&f->broker, &a->peer, a, 1, &q, &e), 0);
	for (n = 1; n < 200; n++) {
		varlink_writer_fail_at(n);
		call_on(b, rb, "{\"method\":\"org.accelbroker.Broker.AttachQueue\",\"parameters\":{\"queue_id\":1}}",
			error, sizeof(error));
		if (!error[0])
			break;
		assert_string_equal(error, ERR_OUT_OF_RESOURCES);
		assert_ptr_equal(q->holder, a);
	}
	varlink_writer_fail_at(0);
	assert_true(n > 5 && n < 200);
	assert_ptr_equal(q->holder, b);
	disconnect(a, ra);
	disconnect(b, rb);
	owner_unref(process);
}

/* Each allocation of the reply fails in turn: the offer stands, with the same token, until a claim gets through. */
static void a_claim_whose_reply_fails_leaves_the_offer_standing(void **state)
{
	struct fixture *f = *state;
	int ra, rb;
	struct connection *a = connect_as(f, NULL, &ra), *b = connect_as(f, NULL, &rb);
	char error[128], claim[256], token[QUEUE_TOKEN_LEN + 1];
	struct accel_error e = { 0 };
	struct queue *q;
	unsigned n;

	call_on(a, ra, ACQUIRE, error, sizeof(error));
	assert_string_equal(error, "");
	call_on(a, ra, "{\"method\":\"org.accelbroker.Broker.TransferQueue\",\"parameters\":{\"queue_id\":1}}",
		error, sizeof(error));
	assert_string_equal(error, "");
	assert_int_equal(broker_get_queue(&f->broker, &a->peer, a, 1, &q, &e), 0);
	memcpy(token, q->token, sizeof(token));
	snprintf(claim, sizeof(claim),
		 "{\"method\":\"org.accelbroker.Broker.ClaimQueue\",\"parameters\":{\"token\":\"%s\"}}", token);
	for (n = 1; n < 200; n++) {
		varlink_writer_fail_at(n);
		call_on(b, rb, claim, error, sizeof(error));
		if (!error[0])
			break;
		assert_string_equal(error, ERR_OUT_OF_RESOURCES);
		assert_int_equal(q->state, QUEUE_TRANSFERRING);
		assert_ptr_equal(q->holder, a);
		assert_string_equal(q->token, token);
		assert_int_equal(broker_user_queues(&f->broker, a->peer.uid), 1);
	}
	varlink_writer_fail_at(0);
	assert_true(n > 5 && n < 200);
	assert_int_equal(q->state, QUEUE_ACTIVE);
	assert_ptr_equal(q->holder, b);
	assert_int_equal(broker_user_queues(&f->broker, a->peer.uid), 1);
	disconnect(a, ra);
	disconnect(b, rb);
}

/* Each allocation of the "subscribed" event fails in turn: no stream, and the call can be made again. */
static void a_monitor_whose_first_event_fails_is_not_watching(void **state)
{
	struct fixture *f = *state;

	assert_true(fail_each_allocation(f, "{\"method\":\"org.accelbroker.Broker.Monitor\",\"more\":true}") > 1);
	assert_true(f->c->monitoring);
	assert_int_equal(f->server.n_monitors, 1);
	assert_int_equal(f->c->events_dropped, 0);
	assert_ptr_equal(f->broker.watchers.next, &f->c->watcher.link);	/* watched once */
	assert_ptr_equal(f->c->watcher.link.next, &f->broker.watchers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(out_of_memory_is_out_of_resources_and_gives_the_queue_back,
						setup, teardown),
		cmocka_unit_test_setup_teardown(an_attach_whose_reply_fails_leaves_the_queue_held_as_before,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_claim_whose_reply_fails_leaves_the_offer_standing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_monitor_whose_first_event_fails_is_not_watching,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

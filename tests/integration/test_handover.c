// SPDX-License-Identifier: MIT
/*
 * A queue's terms against a real broker: lifetime = process (the queue
 * outlives its connection, not its owner), TransferQueue/ClaimQueue between
 * processes, fork = allow, and devices that come and go under it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <accel/accel.h>
#include <accel/sim.h>
#include <cmocka.h>

#include "harness.h"
#include "wire.h"

#define METHOD(m) "org.accelbroker.Broker." m

static struct broker_proc broker;
static char conf[64];

static int start_with(const char *text, const char *const *extra)
{
	const char *args[16] = { "--config", conf, "--sim", "2" };
	size_t n = 4;
	FILE *f;
	int fd;

	strcpy(conf, "/tmp/accel-handover-conf-XXXXXX");
	fd = mkstemp(conf);
	if (fd < 0)
		return -1;
	close(fd);
	chmod(conf, 0644);
	f = fopen(conf, "w");
	fputs(text, f);
	fclose(f);
	for (size_t i = 0; extra && extra[i] && n < 15; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	return broker_start(&broker, args);
}

static int stop(void **state)
{
	int r = broker_stop(&broker);

	unlink(conf);
	children_kill();
	return r == 0 ? 0 : -1;
}

/* One crc32c through @q: the RFC 3720 check value of "123456789". */
static int crc_works(struct accel_queue *q)
{
	struct accel_completion c;
	int r = accel_run(q, "123456789", 9, NULL, 0, 0, 0, &c);

	if (r < 0)
		return r;
	return c.value == 0xe3069283 ? 0 : -EIO;
}

/* The text of ListQueues as @c sees it (free it). */
static char *list_queues(struct accel_client *c)
{
	char *text = NULL;

	assert_int_equal(accel_call_json(c, METHOD("ListQueues"), NULL, &text), 0);
	return text;
}

/* The next event on @ev, waiting up to 5 s for it: 1, 0 if none came, or -errno. */
static int next_event(struct accel_events *ev, struct accel_event *e)
{
	for (int i = 0; i < 500; i++) {
		struct pollfd p = { .fd = accel_events_fd(ev), .events = POLLIN };
		int r = accel_events_read(ev, e);
		if (r != 0)
			return r < 0 ? r : 1;
		poll(&p, 1, 10);
	}
	return 0;
}

/* Wait up to 5 s (for each of up to 100 events) for the event @type with @reason. */
static int queue_event(struct accel_events *ev, const char *type, const char *reason)
{
	struct accel_event e;
	int r;

	for (int n = 0; n < 100 && (r = next_event(ev, &e)) > 0; n++)
		if (strcmp(e.type, type) == 0 && strcmp(e.reason, reason) == 0)
			return 1;
	return r > 0 ? 0 : r;
}

static void process_lifetime_outlives_the_connection_not_the_owner(void **state)
{
	struct accel_client *c, *c2;
	struct accel_queue *q, *again;
	char *text, params[64];
	uint64_t id;
	pid_t pid;

	assert_int_equal(start_with("[defaults]\nlifetime = process\n", NULL), 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "crc32c", NULL, &q), 0);
	id = accel_queue_id(q);
	accel_disconnect(c);
	/* Detached, still ours; the old mapping still works (no broker on the data path). */
	assert_int_equal(crc_works(q), 0);
	assert_int_equal(accel_connect(broker.sock, &c2), 0);
	text = list_queues(c2);
	assert_non_null(strstr(text, "\"lifetime\":\"process\""));
	assert_non_null(strstr(text, "\"attached\":false"));
	free(text);

	/* Another process of the same user may not take it. */
	pid = fork_child();
	if (pid == 0) {
		struct accel_client *o;
		struct accel_queue *oq;
		if (accel_connect(broker.sock, &o) < 0)
			_exit(1);
		if (accel_attach(o, id, &oq) != -EACCES)
			_exit(2);
		snprintf(params, sizeof(params), "{\"queue_id\":%llu}", (unsigned long long)id);
		_exit(accel_call_json(o, METHOD("ReleaseQueue"), params, &text) == -EACCES ? 0 : 3);
	}
	assert_int_equal(wait_status(pid), 0);

	/* Its owner attaches it again and uses it through the new mapping. */
	assert_int_equal(accel_attach(c2, id, &again), 0);
	assert_string_equal(accel_queue_algorithm(again), "crc32c");
	assert_int_equal(crc_works(again), 0);
	text = list_queues(c2);
	assert_non_null(strstr(text, "\"attached\":true"));
	free(text);
	accel_release(q);	/* the old handle: unmap only, it has no client */
	assert_int_equal(accel_queue_state(again), ACCEL_QUEUE_ACTIVE);
	assert_int_equal(accel_release(again), 0);
	text = list_queues(c2);
	assert_string_equal(text, "{\"queues\":[]}");
	free(text);
	assert_int_equal(accel_attach(c2, id, &again), -ENOENT);
	accel_disconnect(c2);
}

/* The states ListQueues shows for @c, in list order, comma-separated, into @out. */
static void list_states(struct accel_client *c, char *out, size_t size)
{
	char *text = list_queues(c), *at = text;
	size_t n = 0;

	out[0] = '\0';
	while ((at = strstr(at, "\"state\":\"")) && n + 1 < size) {
		at += strlen("\"state\":\"");
		n += (size_t)snprintf(out + n, size - n, "%s%.*s", n ? "," : "", (int)strcspn(at, "\""), at);
	}
	free(text);
}

/* Ask ListQueues until it shows @want: the broker hears a closed connection on its own time. */
static void wait_states(struct accel_client *c, const char *want)
{
	char states[256];

	for (int i = 0; i < 1000; i++) {
		list_states(c, states, sizeof(states));
		if (strcmp(states, want) == 0)
			return;
	}
	assert_string_equal(states, want);
}

/* A queue's state is set when its life changes, and ListQueues shows it. */
static void list_queues_shows_each_queue_state(void **state)
{
	struct accel_client *c, *c2;
	struct accel_queue *offered, *kept, *again, *claimed;
	char token[ACCEL_TOKEN_SIZE];
	uint64_t kept_id;

	assert_int_equal(start_with("[defaults]\nlifetime = process\n", NULL), 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "crc32c", NULL, &offered), 0);
	assert_int_equal(accel_acquire(c, "crc32c", NULL, &kept), 0);
	kept_id = accel_queue_id(kept);
	wait_states(c, "active,active");
	assert_int_equal(accel_transfer(offered, token), 0);
	wait_states(c, "transferring,active");
	/* Its connection closes: the offer stands, the other waits for its owner. */
	accel_disconnect(c);
	assert_int_equal(accel_connect(broker.sock, &c2), 0);
	wait_states(c2, "transferring,detached");
	assert_int_equal(accel_attach(c2, kept_id, &again), 0);
	wait_states(c2, "transferring,active");
	assert_int_equal(accel_claim(c2, token, &claimed), 0);
	wait_states(c2, "active,active");
	accel_release(kept);	/* the old handle: unmap only, it has no client (accel_transfer() let go of offered) */
	assert_int_equal(accel_release(claimed), 0);
	assert_int_equal(accel_release(again), 0);
	wait_states(c2, "");
	accel_disconnect(c2);
}

static void detached_queue_dies_with_its_owner(void **state)
{
	struct accel_client *c;
	struct accel_events *ev;
	int info[2];
	char *text;
	pid_t pid;

	assert_int_equal(start_with("[defaults]\nlifetime = process\n", NULL), 0);
	assert_int_equal(accel_events_open(broker.sock, &ev), 0);
	assert_int_equal(pipe(info), 0);
	pid = fork_child();
	if (pid == 0) {
		struct accel_client *oc;
		struct accel_queue *oq;
		if (accel_connect(broker.sock, &oc) < 0 || accel_acquire(oc, "copy", NULL, &oq) < 0)
			_exit(1);
		accel_disconnect(oc);
		(void)!write(info[1], "d", 1);
		pause();	/* until killed */
		_exit(0);
	}
	close(info[1]);
	assert_int_equal(read(info[0], &(char){ 0 }, 1), 1);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	text = list_queues(c);
	assert_non_null(strstr(text, "\"attached\":false"));
	free(text);
	kill_child(pid);
	assert_int_equal(queue_event(ev, "revoked", "owner-exited"), 1);	/* reclaimed through the pidfd */
	text = list_queues(c);
	assert_string_equal(text, "{\"queues\":[]}");
	free(text);
	accel_events_close(ev);
	accel_disconnect(c);
	close(info[0]);
}

static void connection_lifetime_is_the_default(void **state)
{
	struct accel_client *c;
	struct accel_queue *q;
	char *text;
	uint64_t id;

	assert_int_equal(start_with("", NULL), 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q), 0);
	id = accel_queue_id(q);
	accel_disconnect(c);
	accel_release(q);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	text = list_queues(c);
	assert_string_equal(text, "{\"queues\":[]}");
	free(text);
	assert_int_equal(accel_attach(c, id, &q), -ENOENT);
	accel_disconnect(c);
}

/* Claim @token in a new process as @uid; exit status 0 when the queue works. */
static pid_t claim_in_child(const char *token, uid_t uid, int expect, int pipe_fd)
{
	pid_t pid = fork_child();

	if (pid == 0) {
		struct accel_client *c;
		struct accel_queue *q;
		int r;
		if (uid != 0 && (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
			_exit(100);
		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* cleared by the change of uid */
		if (accel_connect(broker.sock, &c) < 0)
			_exit(101);
		r = accel_claim(c, token, &q);
		if (r != expect)
			_exit(102);
		if (r < 0)
			_exit(0);
		if (crc_works(q) < 0)
			_exit(103);
		if (pipe_fd >= 0) {
			/* Hold it until the parent says so. */
			(void)!write(pipe_fd, "c", 1);
			(void)!read(pipe_fd, &(char){ 0 }, 1);
			_exit(crc_works(q) == 0 ? 0 : 104);
		}
		_exit(0);
	}
	return pid;
}

static void transfer_hands_the_queue_to_another_process(void **state)
{
	struct accel_client *c;
	struct accel_queue *q;
	char token[ACCEL_TOKEN_SIZE], *text;
	int sv[2], rest;
	pid_t giver, taker;

	assert_int_equal(start_with("", NULL), 0);
	rest = broker_fd_count(&broker);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* The giver offers its queue, passes the token on, and exits. */
	giver = fork_child();
	if (giver == 0) {
		struct accel_client *gc;
		struct accel_queue *gq;
		if (accel_connect(broker.sock, &gc) < 0 || accel_acquire(gc, "crc32c", NULL, &gq) < 0)
			_exit(1);
		if (accel_transfer(gq, token) < 0)
			_exit(2);
		(void)!write(sv[1], token, sizeof(token));
		(void)!read(sv[1], &(char){ 0 }, 1);	/* until claimed */
		_exit(0);
	}
	assert_int_equal(read(sv[0], token, sizeof(token)), (ssize_t)sizeof(token));
	assert_int_equal(strlen(token), 32);
	int hold[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, hold), 0);
	taker = claim_in_child(token, 0, 0, hold[1]);
	assert_int_equal(read(hold[0], &(char){ 0 }, 1), 1);
	/* The giver exits: the queue is not its any more and lives on. */
	(void)!write(sv[0], "x", 1);
	assert_int_equal(wait_status(giver), 0);
	/*
	 * The broker is done with the giver once it holds only the taker's
	 * connection, pidfd and the queue (its memory, its event pipe's read
	 * end and the engine's write end): nothing of the giver's is left to
	 * act on.  Then the taker's queue must still work.
	 */
	assert_int_equal(broker_wait_fd_count(&broker, rest + 5), rest + 5);
	(void)!write(hold[0], "x", 1);
	assert_int_equal(wait_status(taker), 0);

	/* Single use: the same token again is refused. */
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_claim(c, token, &q), -EKEYREJECTED);
	assert_string_equal(accel_error_name(c), "org.accelbroker.Broker.InvalidToken");
	assert_int_equal(accel_claim(c, "not-a-token", &q), -EKEYREJECTED);
	text = list_queues(c);
	assert_string_equal(text, "{\"queues\":[]}");	/* the taker's exit took it */
	free(text);
	accel_disconnect(c);
	close(sv[0]);
	close(sv[1]);
	close(hold[0]);
	close(hold[1]);
}

static void tokens_expire_and_stay_with_their_user(void **state)
{
	struct accel_client *c;
	struct accel_queue *q, *q2;
	char token[ACCEL_TOKEN_SIZE];
	uint64_t id;

	if (geteuid() != 0)
		skip();
	assert_int_equal(start_with("[broker]\ntransfer_timeout_sec = 1\n[user:nobody]\nmax_queues = 0\n", NULL),
			 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);

	/* Expired: the queue stays with the giver... */
	assert_int_equal(accel_acquire(c, "crc32c", NULL, &q), 0);
	id = accel_queue_id(q);
	assert_int_equal(accel_transfer(q, token), 0);
	usleep(1200000);
	assert_int_equal(wait_status(claim_in_child(token, 0, -EKEYREJECTED, -1)), 0);
	/* ...which may attach it again, or offer it anew. */
	assert_int_equal(accel_attach(c, id, &q), 0);
	assert_int_equal(crc_works(q), 0);

	/* Another user may not claim a same-user transfer. */
	assert_int_equal(accel_transfer(q, token), 0);
	assert_int_equal(wait_status(claim_in_child(token, 65534, -EACCES, -1)), 0);
	/* A token that was refused is still good for the right process. */
	assert_int_equal(accel_claim(c, token, &q2), 0);
	assert_int_equal(crc_works(q2), 0);
	assert_int_equal(accel_release(q2), 0);
	accel_disconnect(c);
}

static void transfer_policy_any_and_no(void **state)
{
	struct accel_client *c;
	struct accel_queue *q, *q2;
	char token[ACCEL_TOKEN_SIZE];

	if (geteuid() != 0)
		skip();
	assert_int_equal(start_with("[user:root]\ntransfer = any\n[user:nobody]\nmax_queues = 0\ntransfer = no\n",
				    NULL), 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "crc32c", NULL, &q), 0);
	assert_int_equal(accel_transfer(q, token), 0);
	/* Any user may claim it, but only within its own quota. */
	assert_int_equal(wait_status(claim_in_child(token, 65534, -EDQUOT, -1)), 0);
	assert_int_equal(accel_claim(c, token, &q2), 0);
	accel_release(q2);
	accel_disconnect(c);
	assert_int_equal(broker_stop(&broker), 0);
	unlink(conf);

	assert_int_equal(start_with("[defaults]\ntransfer = no\n", NULL), 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "crc32c", NULL, &q), 0);
	assert_int_equal(accel_transfer(q, token), -EACCES);
	assert_int_equal(crc_works(q), 0);	/* a refused transfer keeps the queue */
	accel_release(q);
	accel_disconnect(c);
}

/*
 * A giver that keeps its mapping (the raw protocol: no libaccel to unmap it)
 * must not see what a receiver of another uid does with the queue: with
 * transfer = any the receiver gets new memory, and the giver's shows REVOKED.
 */
static void claim_by_another_user_gets_fresh_memory(void **state)
{
	const char *acquire = "{\"method\":\"" METHOD("AcquireQueue") "\",\"parameters\":{\"algorithm\":\"crc32c\"}}";
	char req[160], token[ACCEL_TOKEN_SIZE];
	const char *reply, *p;
	struct wire w;
	size_t len, size = 4096 + ACCEL_SIM_DUS_SIZE;
	struct accel_sim_regs *regs;
	unsigned char *mem;
	int fd, hold[2];
	pid_t taker;

	if (geteuid() != 0)
		skip();
	assert_int_equal(start_with("[user:root]\ntransfer = any\n", NULL), 0);
	assert_int_equal(wire_init(&w, raw_connect(broker.sock)), 0);
	assert_int_equal(wire_send_all(&w, acquire, strlen(acquire)), 0);
	assert_int_equal(wire_receive(&w, &reply, &len), 0);
	assert_non_null(p = strstr(reply, "\"queue_id\":"));
	snprintf(req, sizeof(req), "{\"method\":\"" METHOD("TransferQueue") "\",\"parameters\":{\"queue_id\":%lld}}",
		 strtoll(p + 11, NULL, 10));
	fd = wire_take_fd(&w);
	assert_true(fd >= 0);
	mem = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(mem != MAP_FAILED);
	regs = (struct accel_sim_regs *)mem;
	assert_int_equal(wire_send_all(&w, req, strlen(req)), 0);
	assert_int_equal(wire_receive(&w, &reply, &len), 0);
	assert_non_null(p = strstr(reply, "\"token\":\""));
	snprintf(token, sizeof(token), "%.32s", p + 9);

	/* nobody claims it and runs a crc32c over "123456789", then holds it. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, hold), 0);
	taker = claim_in_child(token, 65534, 0, hold[1]);
	assert_int_equal(read(hold[0], &(char){ 0 }, 1), 1);
	assert_null(memmem(mem, size, "123456789", 9));
	assert_int_equal(regs->state, ACCEL_SIM_STATE_REVOKED);
	(void)!write(hold[0], "x", 1);
	assert_int_equal(wait_status(taker), 0);
	munmap(mem, size);
	close(fd);
	wire_finish(&w);
}

static int stop_and_rmdir(void **state)
{
	int r = stop(state);	/* the children go first: a cgroup with processes stays */

	test_cgroup_remove();
	return r;
}

/*
 * In the child: move into @scope (a machine), acquire a queue by the raw
 * protocol, keep its mapping, offer it and send the token on @sock; when
 * the parent says the queue was claimed, exit 0 if the mapping shows
 * nothing of the receiver's data.
 */
static int give_from_machine(const char *scope, int sock)
{
	const char *acquire = "{\"method\":\"" METHOD("AcquireQueue") "\",\"parameters\":{\"algorithm\":\"crc32c\"}}";
	size_t len, size = 4096 + ACCEL_SIM_DUS_SIZE;
	char req[160], token[ACCEL_TOKEN_SIZE];
	const char *reply, *p;
	struct accel_sim_regs *regs;
	unsigned char *mem;
	struct wire w;
	int fd;

	if (cgroup_enter(scope) < 0)
		return 1;
	if (wire_init(&w, raw_connect(broker.sock)) < 0 || wire_send_all(&w, acquire, strlen(acquire)) < 0 ||
	    wire_receive(&w, &reply, &len) < 0 || !(p = strstr(reply, "\"queue_id\":")))
		return 2;
	snprintf(req, sizeof(req), "{\"method\":\"" METHOD("TransferQueue") "\",\"parameters\":{\"queue_id\":%lld}}",
		 strtoll(p + 11, NULL, 10));
	fd = wire_take_fd(&w);
	if (fd < 0 || (mem = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
		return 3;
	regs = (struct accel_sim_regs *)mem;
	if (wire_send_all(&w, req, strlen(req)) < 0 || wire_receive(&w, &reply, &len) < 0 ||
	    !(p = strstr(reply, "\"token\":\"")))
		return 4;
	snprintf(token, sizeof(token), "%.32s", p + 9);
	if (write(sock, token, sizeof(token)) != (ssize_t)sizeof(token) || read(sock, &(char){ 0 }, 1) != 1)
		return 5;
	if (memmem(mem, size, "123456789", 9))
		return 6;	/* the receiver's data, seen from the machine */
	return regs->state == ACCEL_SIM_STATE_REVOKED ? 0 : 7;
}

/*
 * A container's root is uid 0 to the broker, as the host's is, but they are
 * not one user: a queue offered from a machine and claimed on the host
 * (same uid, same-user transfer) gets new memory, as one changing uid does,
 * else the machine would read the host's data through the mapping it kept.
 */
/* A queue offered by root in @cgroup, claimed by root on the host: the giver must see none of it. */
static void claim_from(const char *cgroup)
{
	char token[ACCEL_TOKEN_SIZE];
	int sv[2], hold[2];
	pid_t giver, taker;

	assert_int_equal(start_with("", NULL), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	giver = fork_child();
	if (giver == 0)
		_exit(give_from_machine(cgroup, sv[1]));
	assert_int_equal(read(sv[0], token, sizeof(token)), (ssize_t)sizeof(token));
	assert_int_equal(strlen(token), 32);

	/* The host's root claims it and runs a crc32c over "123456789", then holds it. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, hold), 0);
	taker = claim_in_child(token, 0, 0, hold[1]);
	assert_int_equal(read(hold[0], &(char){ 0 }, 1), 1);
	assert_int_equal(write(sv[0], "x", 1), 1);
	assert_int_equal(wait_status(giver), 0);
	(void)!write(hold[0], "x", 1);
	assert_int_equal(wait_status(taker), 0);
	close(sv[0]);
	close(sv[1]);
	close(hold[0]);
	close(hold[1]);
}

static void claim_from_another_machine_gets_fresh_memory(void **state)
{
	const char *scope = test_cgroup_machine("accelgive");

	if (!scope)
		skip();
	claim_from(scope);
}

/* The same from a cgroup beside systemd's tree (docker's /docker/ID): a container's, no machine to tell. */
static void claim_from_beside_systemds_tree_gets_fresh_memory(void **state)
{
	const char *cg = test_cgroup_beside("accelgive");

	if (!cg)
		skip();
	claim_from(cg);
}

static void fork_allow_lets_children_use_the_queue_until_the_owner_dies(void **state)
{
	struct accel_client *c;
	struct accel_queue *q;
	pid_t pid;

	assert_int_equal(start_with("[defaults]\nfork = allow\n", NULL), 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "crc32c", NULL, &q), 0);
	pid = fork_child();
	if (pid == 0)
		_exit(crc_works(q) == 0 ? 0 : 1);
	assert_int_equal(wait_status(pid), 0);
	accel_release(q);
	accel_disconnect(c);

	/* The owner exits; its child, still using the mapping, finds the queue revoked. */
	int verdict[2];
	char v = 0;
	assert_int_equal(pipe(verdict), 0);
	pid = fork_child();
	if (pid == 0) {
		struct accel_client *oc;
		struct accel_queue *oq;
		if (accel_connect(broker.sock, &oc) < 0 || accel_acquire(oc, "crc32c", NULL, &oq) < 0)
			_exit(1);
		if (fork() == 0) {
			int r = -1;
			for (int i = 0; i < 500 && accel_queue_state(oq) == ACCEL_QUEUE_ACTIVE; i++)
				usleep(10000);
			r = crc_works(oq);
			(void)!write(verdict[1], r == -ENOLINK ? "y" : "n", 1);
			_exit(0);
		}
		_exit(0);
	}
	close(verdict[1]);
	assert_int_equal(wait_status(pid), 0);
	assert_int_equal(read(verdict[0], &v, 1), 1);
	assert_int_equal(v, 'y');
	close(verdict[0]);
	assert_int_equal(broker_stop(&broker), 0);
	unlink(conf);

	/* The default: the child is refused. */
	assert_int_equal(start_with("", NULL), 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "crc32c", NULL, &q), 0);
	pid = fork_child();
	if (pid == 0)
		_exit(crc_works(q) == -ECHILD ? 0 : 1);
	assert_int_equal(wait_status(pid), 0);
	accel_release(q);
	accel_disconnect(c);
}

static void put(const char *dir, const char *name, const char *content)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void fake_device(const char *root, const char *name)
{
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	assert_int_equal(mkdir(dir, 0755), 0);
	put(dir, "api", "hisi_qm_v2\n");
	put(dir, "algorithms", "zlib\n");
	put(dir, "flags", "0\n");
	put(dir, "available_instances", "4\n");
	put(dir, "region_mmio_size", "16384\n");
	put(dir, "region_dus_size", "65536\n");
}

static void remove_fake_device(const char *root, const char *name)
{
	const char *attrs[] = { "api", "algorithms", "flags", "available_instances", "region_mmio_size",
				"region_dus_size" };
	char path[512];

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", root, name, attrs[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/%s", root, name);
	assert_int_equal(rmdir(path), 0);
}

/* Wait up to 5 s (for each of up to 100 events) for the event @type about @device. */
static int device_event(struct accel_events *ev, const char *type, const char *device)
{
	struct accel_event e;
	int r;

	for (int n = 0; n < 100 && (r = next_event(ev, &e)) > 0; n++)
		if (strcmp(e.type, type) == 0 && strcmp(e.device, device) == 0)
			return 1;
	return r > 0 ? 0 : r;
}

static void devices_come_and_go_on_rescan(void **state)
{
	char root[] = "/tmp/accel-hotplug-XXXXXX", *text = NULL;
	struct accel_client *c;
	struct accel_events *ev;

	assert_non_null(mkdtemp(root));
	fake_device(root, "hisi_zip-0");
	assert_int_equal(start_with("", (const char *const[]){ "--sysfs-root", root, "--dev-root", root, NULL }), 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_events_open(broker.sock, &ev), 0);
	assert_int_equal(accel_call_json(c, METHOD("ListDevices"), NULL, &text), 0);
	assert_non_null(strstr(text, "\"hisi_zip-0\""));
	free(text);

	/* Gone from sysfs: a rescan (Reload does one) removes it and says so. */
	remove_fake_device(root, "hisi_zip-0");
	fake_device(root, "hisi_zip-1");
	assert_int_equal(accel_call_json(c, METHOD("Reload"), NULL, &text), 0);
	free(text);
	assert_int_equal(device_event(ev, "device-removed", "hisi_zip-0"), 1);
	assert_int_equal(device_event(ev, "device-added", "hisi_zip-1"), 1);
	assert_int_equal(accel_call_json(c, METHOD("ListDevices"), NULL, &text), 0);
	assert_null(strstr(text, "\"hisi_zip-0\""));
	assert_non_null(strstr(text, "\"hisi_zip-1\""));
	assert_non_null(strstr(text, "\"accel_sim-0\""));	/* the software devices stay */
	free(text);

	/* Removed and added again under the same name: a new device. */
	remove_fake_device(root, "hisi_zip-1");
	fake_device(root, "hisi_zip-1");
	assert_int_equal(accel_call_json(c, METHOD("Reload"), NULL, &text), 0);
	free(text);
	assert_int_equal(device_event(ev, "device-removed", "hisi_zip-1"), 1);
	assert_int_equal(device_event(ev, "device-added", "hisi_zip-1"), 1);
	accel_events_close(ev);
	accel_disconnect(c);
	remove_fake_device(root, "hisi_zip-1");
	rmdir(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(process_lifetime_outlives_the_connection_not_the_owner, stop),
		cmocka_unit_test_teardown(list_queues_shows_each_queue_state, stop),
		cmocka_unit_test_teardown(detached_queue_dies_with_its_owner, stop),
		cmocka_unit_test_teardown(connection_lifetime_is_the_default, stop),
		cmocka_unit_test_teardown(transfer_hands_the_queue_to_another_process, stop),
		cmocka_unit_test_teardown(tokens_expire_and_stay_with_their_user, stop),
		cmocka_unit_test_teardown(transfer_policy_any_and_no, stop),
		cmocka_unit_test_teardown(claim_by_another_user_gets_fresh_memory, stop),
		cmocka_unit_test_teardown(claim_from_another_machine_gets_fresh_memory, stop_and_rmdir),
		cmocka_unit_test_teardown(claim_from_beside_systemds_tree_gets_fresh_memory, stop_and_rmdir),
		cmocka_unit_test_teardown(fork_allow_lets_children_use_the_queue_until_the_owner_dies, stop),
		cmocka_unit_test_teardown(devices_come_and_go_on_rescan, stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

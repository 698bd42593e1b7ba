// SPDX-License-Identifier: MIT
/*
 * The D-Bus API against a real dbus-daemon (a private one, configured like
 * the system bus and including the project's policy file) and a real
 * broker: clients of other uids acquire, use and release queues; quotas
 * are shared with the socket; names and processes that go away take their
 * queues with them; QueueRevoked reaches the owner only; the name and the
 * admin methods are guarded; malformed calls are refused and the broker
 * stays up.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdbool.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <accel/accel.h>
#include <cmocka.h>

#include "harness.h"
#include "util.h"

#define NAME	"org.accelbroker.Broker1"
#define PATH	"/org/accelbroker/Broker1"
#define IFACE	"org.accelbroker.Broker1"
#define NOBODY	65534

static struct broker_proc broker;
static char dir[64], bus_address[128], conf[128];
static pid_t bus_pid = -1;

/* A dbus-daemon configured like the system bus, with the project's policy file. */
static int start_bus(void)
{
	char cmd[256], path[128];
	FILE *f;

	strcpy(dir, "/tmp/accel-dbus-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "scripts/private-system-bus %s", dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/bus.pid", dir);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%d", &bus_pid) != 1)
		bus_pid = -1;
	if (f)
		fclose(f);
	snprintf(bus_address, sizeof(bus_address), "unix:path=%s/bus.sock", dir);
	setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_address, 1);
	return bus_pid > 0 ? 0 : -1;
}

/* A bus and a broker configured with @text. */
static int start_with(const char *text)
{
	FILE *f;

	if (start_bus() < 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/accel-broker.conf", dir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	chmod(conf, 0644);
	return broker_start(&broker, (const char *const[]){ "--config", conf, "--sim", "2", NULL }) < 0 ? -1 : 0;
}

static int setup(void **state)
{
	return start_with("[user:nobody]\nmax_queues = 2\n");
}

/* Rules of every kind: nobody's, a slice everyone is below, a unit. */
static int setup_scoped_rules(void **state)
{
	return start_with("[user:nobody]\nmax_queues = 2\n[slice:-.slice]\nmax_queues = 5\n"
			  "devices = accel_sim-*\n[unit:backup.service]\nmax_queues = 1\n");
}

static int setup_three_connections(void **state)
{
	return start_with("[broker]\nmax_connections = 3\n");
}

static int setup_two_per_user(void **state)
{
	return start_with("[broker]\nmax_connections_per_user = 2\n");
}

static int teardown(void **state)
{
	char cmd[128];
	int r = broker_stop(&broker);

	children_kill();
	if (bus_pid > 0)
		kill(bus_pid, SIGTERM);	/* not our child: --fork made it the bus's own */
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	return r == 0 ? 0 : -1;
}

/* Drop to @uid; a change of credentials clears the death signal, so set it again. */
static int become(uid_t uid)
{
	if (uid != 0 && (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
		return -1;
	return prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Read a reply that hands out a queue (AcquireQueue's signature); map it if @q. */
static int take_queue(sd_bus_message *reply, const char *algorithm, uint64_t *id, struct accel_queue **q)
{
	struct accel_region regions[ACCEL_MAX_REGIONS];
	const char *device, *api;
	size_t n = 0;
	int fd, r;

	r = sd_bus_message_read(reply, "tssh", id, &device, &api, &fd);
	if (r >= 0)
		r = sd_bus_message_enter_container(reply, 'a', "(stt)");
	while (r >= 0 && n < ACCEL_MAX_REGIONS &&
	       (r = sd_bus_message_read(reply, "(stt)", &regions[n].type, &regions[n].offset,
					&regions[n].size)) > 0)
		n++;
	if (r < 0 || !q)
		return r;
	return accel_queue_import(fd, &(struct accel_import){ *id, device, api, algorithm, regions, n }, q);
}

/* AcquireQueue over the bus; the reply's error name in @err_name (if any). */
static int bus_acquire(sd_bus *bus, const char *algorithm, uint64_t *id, struct accel_queue **q,
		       char *err_name, size_t err_size)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_call_method(bus, NAME, PATH, IFACE, "AcquireQueue", &error, &reply, "sa{sv}", algorithm, 0);
	if (r < 0) {
		if (err_name)
			snprintf(err_name, err_size, "%s", error.name ? error.name : "");
		return r;
	}
	return take_queue(reply, algorithm, id, q);
}

static int bus_release(sd_bus *bus, uint64_t id)
{
	return sd_bus_call_method(bus, NAME, PATH, IFACE, "ReleaseQueue", NULL, NULL, "t", id);
}

static int crc_works(struct accel_queue *q)
{
	struct accel_completion c;
	int r = accel_run(q, "123456789", 9, NULL, 0, 0, 0, &c);

	return r < 0 ? r : c.value == 0xe3069283 ? 0 : -EIO;
}

/* What AcquireQueue's and ListDevices' fixed signatures have no room for (docs/dbus.md). */
static int terms_and_features(sd_bus *bus, uint64_t id)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL, *features = NULL;
	const char *bind, *lifetime, *fork, *name, *refused;
	int sva, revocable, n = 0, r;

	if (sd_bus_call_method(bus, NAME, PATH, IFACE, "GetQueueTerms", NULL, &reply, "t", id) < 0 ||
	    sd_bus_message_read(reply, "sss", &bind, &lifetime, &fork) < 0 ||
	    strcmp(bind, "none") != 0 || strcmp(lifetime, "connection") != 0 || strcmp(fork, "deny") != 0)
		return -1;
	if (sd_bus_call_method(bus, NAME, PATH, IFACE, "GetQueueTerms", NULL, NULL, "t", id + 1000) >= 0)
		return -2;	/* not ours: NoSuchQueue */
	if (sd_bus_call_method(bus, NAME, PATH, IFACE, "ListDeviceFeatures", NULL, &features, "") < 0 ||
	    sd_bus_message_enter_container(features, 'a', "(sbbss)") < 0)
		return -3;
	while ((r = sd_bus_message_read(features, "(sbbss)", &name, &sva, &revocable, &bind, &refused)) > 0) {
		/* The software devices: not SVA, always revocable, served. */
		if (sva || !revocable || strcmp(bind, "none") != 0 || refused[0])
			return -4;
		n++;
	}
	return r < 0 || n == 0 ? -5 : 0;
}

/* GetQueue: the queue as an a{sv}, its terms among its fields, as the socket names them. */
static int get_queue(sd_bus *bus, uint64_t id)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	const char *key, *s, *lifetime = NULL, *fork = NULL, *state = NULL;
	uint64_t queue_id = 0;
	int attached = 0, r;

	if (sd_bus_call_method(bus, NAME, PATH, IFACE, "GetQueue", NULL, &reply, "t", id) < 0 ||
	    sd_bus_message_enter_container(reply, 'a', "{sv}") < 0)
		return -1;
	while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
		if (sd_bus_message_read(reply, "s", &key) < 0)
			return -2;
		if (strcmp(key, "queue_id") == 0)
			r = sd_bus_message_read(reply, "v", "t", &queue_id);
		else if (strcmp(key, "attached") == 0)
			r = sd_bus_message_read(reply, "v", "b", &attached);
		else if (strcmp(key, "lifetime") == 0 || strcmp(key, "fork") == 0 || strcmp(key, "state") == 0) {
			r = sd_bus_message_read(reply, "v", "s", &s);
			*(key[0] == 'l' ? &lifetime : key[0] == 'f' ? &fork : &state) = s;
		} else
			r = sd_bus_message_skip(reply, "v");
		if (r < 0 || sd_bus_message_exit_container(reply) < 0)
			return -3;
	}
	if (r < 0 || queue_id != id || !attached || !lifetime || strcmp(lifetime, "connection") != 0 ||
	    !fork || strcmp(fork, "deny") != 0 || !state || strcmp(state, "active") != 0)
		return -4;
	if (sd_bus_call_method(bus, NAME, PATH, IFACE, "GetQueue", NULL, NULL, "t", id + 1000) >= 0)
		return -5;	/* not ours: NoSuchQueue */
	return 0;
}

/*
 * GetQueueEventFd: the queue's event fd, given to the imported queue; an
 * armed queue's completion makes it readable (accel_queue_event_fd()).
 */
static int event_fd_works(sd_bus *bus, uint64_t id, struct accel_queue *q)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct accel_completion c;
	struct pollfd p = { .events = POLLIN };
	size_t size;
	char *buf = accel_queue_buffer(q, &size);
	int fd;

	if (sd_bus_call_method(bus, NAME, PATH, IFACE, "GetQueueEventFd", NULL, &reply, "t", id) < 0 ||
	    sd_bus_message_read(reply, "h", &fd) < 0 || accel_queue_set_event_fd(q, fd) < 0)
		return -1;
	if (sd_bus_call_method(bus, NAME, PATH, IFACE, "GetQueueEventFd", NULL, NULL, "t", id + 1000) >= 0)
		return -2;	/* not ours: NoSuchQueue */
	p.fd = accel_queue_event_fd(q);
	memcpy(buf, "123456789", 9);
	if (p.fd < 0 || accel_submit(q, &(struct accel_op){ .src = buf, .src_len = 9, .dst = buf + 64 }) < 0)
		return -3;
	/* The loop's order (accel.h); a wake-up may be a stale one (accel_run() left it): look again. */
	for (int i = 0, n = 0; i < 100; i++) {
		if (accel_queue_arm(q) == 0 && poll(&p, 1, 10000) != 1)
			return -4;	/* the completion did not wake us */
		accel_queue_event_clear(q);
		n = accel_poll(q, &c, 1);
		if (n != 0)
			return n == 1 && c.value == 0xe3069283 ? 0 : -5;
	}
	return -6;
}

/* As nobody over the bus: acquire two queues, run real work, hit the quota, release. */
static int nobody_uses_the_bus(int arg)
{
	sd_bus *bus;
	struct accel_queue *q[2];
	uint64_t id[3];
	char err[128] = "";
	int r;

	if (become(NOBODY) < 0 || sd_bus_open_system(&bus) < 0)
		return 1;
	if (bus_acquire(bus, "crc32c", &id[0], &q[0], NULL, 0) < 0)
		return 2;
	if (crc_works(q[0]) < 0)
		return 3;
	if (terms_and_features(bus, id[0]) < 0)
		return 9;
	if (get_queue(bus, id[0]) < 0)
		return 10;
	r = event_fd_works(bus, id[0], q[0]);
	if (r < 0)
		return 20 - r;
	/* Nobody's limit is 2, across the socket and the bus: @arg held on the socket. */
	if (arg == 0 && bus_acquire(bus, "copy", &id[1], &q[1], NULL, 0) < 0)
		return 4;
	if (bus_acquire(bus, "copy", &id[2], NULL, err, sizeof(err)) >= 0)
		return 5;
	if (strcmp(err, "org.accelbroker.Broker1.Error.QuotaExceeded") != 0)
		return 6;
	if (bus_release(bus, id[0]) < 0 || accel_release(q[0]) < 0)
		return 7;
	if (bus_release(bus, id[0]) >= 0)	/* twice: NoSuchQueue */
		return 8;
	sd_bus_flush_close_unref(bus);
	return 0;
}

static void acquire_use_release_with_the_quota_shared(void **state)
{
	struct accel_client *c;
	struct accel_queue *q;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	/* All from the bus. */
	pid = fork_child();
	if (pid == 0)
		_exit(nobody_uses_the_bus(0));
	assert_int_equal(wait_status(pid), 0);

	/* One on the socket, one on the bus: the second on the bus is over the limit. */
	int hold[2];
	assert_int_equal(pipe(hold), 0);
	pid = fork_child();
	if (pid == 0) {
		if (become(NOBODY) < 0 || accel_connect(broker.sock, &c) < 0 || accel_acquire(c, "gzip", NULL, &q) < 0)
			_exit(1);
		(void)!write(hold[1], "h", 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(hold[0], &(char){ 0 }, 1), 1);
	pid_t bus_user = fork_child();
	if (bus_user == 0)
		_exit(nobody_uses_the_bus(1));
	assert_int_equal(wait_status(bus_user), 0);
	kill_child(pid);
	close(hold[0]);
	close(hold[1]);
}

/* How many queues there are (as root sees them, over the socket), or -1. */
static int count_queues(void)
{
	struct accel_client *c;
	char *text = NULL;
	int n = 0;

	if (accel_connect(broker.sock, &c) < 0)
		return -1;
	if (accel_call_json(c, "org.accelbroker.Broker.ListQueues", NULL, &text) < 0)
		n = -1;
	for (char *p = text; n >= 0 && p && (p = strstr(p, "\"queue_id\"")); p++)
		n++;
	free(text);
	accel_disconnect(c);
	return n;
}

/* Wait up to 5 s until no queue is left (as root sees them, over the socket). */
static bool all_queues_gone(void)
{
	struct accel_client *c;
	char *text = NULL;
	bool gone = false;

	if (accel_connect(broker.sock, &c) < 0)
		return false;
	for (int i = 0; i < 500 && !gone; i++) {
		if (accel_call_json(c, "org.accelbroker.Broker.ListQueues", NULL, &text) < 0)
			break;
		gone = strcmp(text, "{\"queues\":[]}") == 0;
		free(text);
		if (!gone)
			usleep(10000);
	}
	accel_disconnect(c);
	return gone;
}

/*
 * Until the broker has heard whatever the bus told it of @unique's leaving:
 * once the bus says the name has no owner, it has queued its
 * NameOwnerChanged for the broker, and a call to the broker made after that
 * is answered after the broker read it (one connection, read in order).
 */
static void broker_heard_name_leave(const char *unique)
{
	sd_bus *probe;
	bool gone = false;

	assert_int_equal(sd_bus_open_system(&probe), 0);
	for (int i = 0; i < 10000 && !gone; i++) {
		sd_bus_error err = SD_BUS_ERROR_NULL;
		int r = sd_bus_call_method(probe, "org.freedesktop.DBus", "/org/freedesktop/DBus",
					   "org.freedesktop.DBus", "GetNameOwner", &err, NULL, "s", unique);
		gone = r < 0 && sd_bus_error_has_name(&err, "org.freedesktop.DBus.Error.NameHasNoOwner");
		sd_bus_error_free(&err);
	}
	assert_true(gone);
	assert_true(sd_bus_call_method(probe, NAME, PATH, IFACE, "GetStatus", NULL, NULL, "") >= 0);
	sd_bus_flush_close_unref(probe);
}

static void leaving_the_bus_or_dying_reclaims(void **state)
{
	int sync[2];
	pid_t pid;

	if (geteuid() != 0)
		skip();
	/* The name leaves while the process lives on. */
	int go[2];
	assert_int_equal(pipe(sync), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork_child();
	if (pid == 0) {
		sd_bus *bus;
		uint64_t id;
		if (become(NOBODY) < 0 || sd_bus_open_system(&bus) < 0 ||
		    bus_acquire(bus, "copy", &id, NULL, NULL, 0) < 0)
			_exit(1);
		(void)!write(sync[1], "a", 1);
		(void)!read(go[0], &(char){ 0 }, 1);
		sd_bus_flush_close_unref(bus);
		(void)!write(sync[1], "c", 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(sync[0], &(char){ 0 }, 1), 1);
	/* Other traffic on the bus meanwhile changes nothing. */
	sd_bus *mine;
	const char *unique;
	char mine_name[64];
	assert_int_equal(sd_bus_open_system(&mine), 0);
	assert_true(sd_bus_call_method(mine, NAME, PATH, IFACE, "GetStatus", NULL, NULL, "") >= 0);
	assert_int_equal(sd_bus_get_unique_name(mine, &unique), 0);
	snprintf(mine_name, sizeof(mine_name), "%s", unique);
	sd_bus_flush_close_unref(mine);
	broker_heard_name_leave(mine_name);
	assert_int_equal(count_queues(), 1);	/* held while the name is there */
	(void)!write(go[1], "g", 1);
	assert_int_equal(read(sync[0], &(char){ 0 }, 1), 1);
	assert_true(all_queues_gone());
	close(go[0]);
	close(go[1]);
	kill_child(pid);

	/* The process dies holding its name. */
	pid = fork_child();
	if (pid == 0) {
		sd_bus *bus;
		uint64_t id;
		if (become(NOBODY) < 0 || sd_bus_open_system(&bus) < 0 ||
		    bus_acquire(bus, "copy", &id, NULL, NULL, 0) < 0)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(wait_status(pid), 0);
	assert_true(all_queues_gone());
	close(sync[0]);
	close(sync[1]);
}

/* As nobody: claim @token over the bus, use the queue, and exit (which reclaims it). */
static int nobody_claims(const char *token)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct accel_queue *q;
	uint64_t id;
	sd_bus *bus;

	if (become(NOBODY) < 0 || sd_bus_open_system(&bus) < 0)
		return 1;
	if (sd_bus_call_method(bus, NAME, PATH, IFACE, "ClaimQueue", NULL, &reply, "s", token) < 0)
		return 2;
	if (take_queue(reply, "crc32c", &id, &q) < 0 || crc_works(q) < 0)
		return 3;
	/* Used up. */
	if (sd_bus_call_method(bus, NAME, PATH, IFACE, "ClaimQueue", NULL, NULL, "s", token) >= 0)
		return 4;
	return 0;
}

static void transfer_and_claim_over_the_bus(void **state)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int pipefd[2];
	char token[64] = "";
	pid_t giver, taker;

	if (geteuid() != 0)
		skip();
	assert_int_equal(pipe(pipefd), 0);
	giver = fork_child();
	if (giver == 0) {
		sd_bus *bus;
		uint64_t id, timeout;
		const char *t;
		if (become(NOBODY) < 0 || sd_bus_open_system(&bus) < 0 ||
		    bus_acquire(bus, "crc32c", &id, NULL, NULL, 0) < 0 ||
		    sd_bus_call_method(bus, NAME, PATH, IFACE, "TransferQueue", NULL, &reply, "t", id) < 0 ||
		    sd_bus_message_read(reply, "st", &t, &timeout) < 0 || timeout != 30000000)
			_exit(1);
		(void)!write(pipefd[1], t, strlen(t) + 1);
		pause();	/* the giver stays; the queue is not its own any more */
		_exit(0);
	}
	assert_true(read(pipefd[0], token, sizeof(token)) > 0);
	assert_int_equal(strlen(token), 32);
	taker = fork_child();
	if (taker == 0)
		_exit(nobody_claims(token));
	assert_int_equal(wait_status(taker), 0);
	/* The taker exited: its queue went with it, though the giver lives. */
	assert_true(all_queues_gone());
	kill_child(giver);
	close(pipefd[0]);
	close(pipefd[1]);
}

static int on_revoked(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	char *out = userdata;
	const char *reason;
	uint64_t id;

	(void)error;
	if (sd_bus_message_read(m, "ts", &id, &reason) >= 0)
		snprintf(out, 64, "%llu %s", (unsigned long long)id, reason);
	return 0;
}

/* Process the bus for @ms, or until @got is set. */
static void pump(sd_bus *bus, int ms, const char *got)
{
	for (int i = 0; i < ms / 10 && !got[0]; i++) {
		while (sd_bus_process(bus, NULL) > 0)
			;
		sd_bus_wait(bus, 10000);
	}
}

/* Listen for QueueRevoked as @uid; with @acquire, hold a queue too. Reports what it heard. */
static int listener(uid_t uid, bool acquire, int report)
{
	char heard[64] = "";
	sd_bus *bus;
	uint64_t id = 0;

	if (become(uid) < 0 || sd_bus_open_system(&bus) < 0 ||
	    sd_bus_match_signal(bus, NULL, NULL, PATH, IFACE, "QueueRevoked", on_revoked, heard) < 0)
		return 1;
	if (acquire && bus_acquire(bus, "crc32c", &id, NULL, NULL, 0) < 0)
		return 2;
	(void)!write(report, &id, sizeof(id));
	pump(bus, 5000, heard);
	if (!acquire)	/* the bystander: listen a little longer */
		pump(bus, 300, heard);
	(void)!write(report, heard, sizeof(heard));
	return 0;
}

static void queue_revoked_reaches_the_owner_only(void **state)
{
	int owner_pipe[2], other_pipe[2];
	char heard[64], cmd[256];
	uint64_t id, none;
	pid_t owner, other;

	if (geteuid() != 0)
		skip();
	assert_int_equal(pipe(owner_pipe), 0);
	assert_int_equal(pipe(other_pipe), 0);
	other = fork_child();
	if (other == 0)
		_exit(listener(1, false, other_pipe[1]));	/* daemon (uid 1): a bystander */
	owner = fork_child();
	if (owner == 0)
		_exit(listener(NOBODY, true, owner_pipe[1]));
	assert_int_equal(read(owner_pipe[0], &id, sizeof(id)), (ssize_t)sizeof(id));
	assert_int_equal(read(other_pipe[0], &none, sizeof(none)), (ssize_t)sizeof(none));
	snprintf(cmd, sizeof(cmd), "%s/accelctl --socket %s revoke %llu >/dev/null", build_dir(), broker.sock,
		 (unsigned long long)id);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(read(owner_pipe[0], heard, sizeof(heard)), (ssize_t)sizeof(heard));
	snprintf(cmd, sizeof(cmd), "%llu admin", (unsigned long long)id);
	assert_string_equal(heard, cmd);
	assert_int_equal(read(other_pipe[0], heard, sizeof(heard)), (ssize_t)sizeof(heard));
	assert_string_equal(heard, "");
	assert_int_equal(wait_status(owner), 0);
	assert_int_equal(wait_status(other), 0);
	for (int i = 0; i < 2; i++) {
		close(owner_pipe[i]);
		close(other_pipe[i]);
	}
}

/* As nobody: the name and the admin methods are not ours. */
static int nobody_is_refused(int arg)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	uint32_t revoked = 1;
	sd_bus *bus;
	int r;

	(void)arg;
	if (become(NOBODY) < 0 || sd_bus_open_system(&bus) < 0)
		return 1;
	r = sd_bus_request_name(bus, NAME, 0);
	if (r >= 0)
		return 2;
	r = sd_bus_call_method(bus, NAME, PATH, IFACE, "Revoke", &error, NULL, "a{sv}", 1, "user", "s", "root");
	if (r >= 0 || !sd_bus_error_has_name(&error, "org.accelbroker.Broker1.Error.PermissionDenied"))
		return 3;
	sd_bus_error_free(&error);
	/* An empty name is no user (not root, whose queues it is refused). */
	r = sd_bus_call_method(bus, NAME, PATH, IFACE, "Revoke", &error, NULL, "a{sv}", 1, "user", "s", "");
	if (r >= 0 || !sd_bus_error_has_name(&error, "org.accelbroker.Broker1.Error.InvalidParameter"))
		return 7;
	sd_bus_error_free(&error);
	/* By unit: the selector is known; a non-administrator reaches only its own queues (none). */
	r = sd_bus_call_method(bus, NAME, PATH, IFACE, "Revoke", &error, &reply, "a{sv}", 1, "unit", "s",
			       "backup.service");
	if (r < 0 || sd_bus_message_read(reply, "u", &revoked) < 0 || revoked != 0)
		return 6;
	r = sd_bus_call_method(bus, NAME, PATH, IFACE, "Reload", &error, NULL, "");
	if (r >= 0 || !sd_bus_error_has_name(&error, "org.accelbroker.Broker1.Error.PermissionDenied"))
		return 4;
	/* busctl as nobody: the unprivileged methods work. */
	if (system("busctl --system call " NAME " " PATH " " IFACE " ListDevices | grep -q accel_sim-1") != 0)
		return 5;
	return 0;
}

/* Whether the broker's log has a line holding all three strings. */
static bool log_has(const char *a, const char *b, const char *c)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(broker.log, "r");

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, a) && strstr(line, b) && strstr(line, c);
	fclose(f);
	return found;
}

static void the_name_and_admin_methods_are_guarded(void **state)
{
	pid_t pid;

	if (geteuid() != 0)
		skip();
	pid = fork_child();
	if (pid == 0)
		_exit(nobody_is_refused(0));
	assert_int_equal(wait_status(pid), 0);
	/* Refusals on the bus are in the log, with who was refused. */
	assert_true(log_has("Reload from pid", "uid 65534 refused", "only an administrator"));
	assert_true(log_has("Revoke from pid", "uid 65534 refused", "another user"));
}

static void malformed_calls_get_errors_and_the_broker_stays(void **state)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	sd_bus *bus;
	char cmd[512];
	const char *version;
	int r;

	assert_int_equal(sd_bus_open_system(&bus), 0);
	/* Wrong signature. */
	r = sd_bus_call_method(bus, NAME, PATH, IFACE, "AcquireQueue", &error, NULL, "s", "copy");
	assert_true(r < 0);
	assert_true(sd_bus_error_has_name(&error, SD_BUS_ERROR_INVALID_ARGS));
	sd_bus_error_free(&error);
	/* Unknown and mistyped options. */
	r = sd_bus_call_method(bus, NAME, PATH, IFACE, "AcquireQueue", &error, NULL, "sa{sv}", "copy", 1,
			       "uid", "u", 0);
	assert_true(sd_bus_error_has_name(&error, "org.accelbroker.Broker1.Error.InvalidParameter"));
	sd_bus_error_free(&error);
	r = sd_bus_call_method(bus, NAME, PATH, IFACE, "AcquireQueue", &error, NULL, "sa{sv}", "copy", 1,
			       "numa_node", "s", "0");
	assert_true(sd_bus_error_has_name(&error, "org.accelbroker.Broker1.Error.InvalidParameter"));
	sd_bus_error_free(&error);
	r = sd_bus_call_method(bus, NAME, PATH, IFACE, "AcquireQueue", &error, NULL, "sa{sv}", "nope", 0);
	assert_true(sd_bus_error_has_name(&error, "org.accelbroker.Broker1.Error.NoSuchAlgorithm"));
	sd_bus_error_free(&error);
	/* A huge options array: refused without reading it all. */
	assert_true(sd_bus_message_new_method_call(bus, &m, NAME, PATH, IFACE, "AcquireQueue") >= 0);
	assert_true(sd_bus_message_append(m, "s", "copy") >= 0);
	assert_true(sd_bus_message_open_container(m, 'a', "{sv}") >= 0);
	for (int i = 0; i < 20000; i++)
		assert_true(sd_bus_message_append(m, "{sv}", "device", "s", "accel_sim-0") >= 0);
	assert_true(sd_bus_message_close_container(m) >= 0);
	r = sd_bus_call(bus, m, 0, &error, NULL);
	if (!sd_bus_error_has_name(&error, "org.accelbroker.Broker1.Error.InvalidParameter") ||
	    !strstr(error.message, "more than 16 options"))
		fail_msg("%d %s: %s", r, error.name, error.message);
	sd_bus_error_free(&error);
	/* Still up, and introspectable with busctl. */
	assert_true(sd_bus_get_property(bus, NAME, PATH, IFACE, "Version", &error, &reply, "s") >= 0);
	assert_int_equal(sd_bus_message_read(reply, "s", &version), 1);
	assert_string_equal(version, "0.1.0");
	snprintf(cmd, sizeof(cmd), "busctl --system introspect %s %s | grep -q '^.QueueRevoked *signal *ts'",
		 NAME, PATH);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "busctl --system call %s %s %s GetStatus | grep -q '^stuuua(uu) \"0.1.0\"'",
		 NAME, PATH, IFACE);
	assert_int_equal(system(cmd), 0);
	assert_true(broker_alive(&broker));
	sd_bus_flush_close_unref(bus);
}

static void idle_names_are_forgotten_beyond_a_bound(void **state)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	sd_bus *many[100];
	const char *version;
	uint64_t uptime;
	uint32_t devices, queues, clients;

	/* 100 names that called once and stay on the bus, holding nothing. */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(sd_bus_open_system(&many[i]), 0);
		assert_true(sd_bus_call_method(many[i], NAME, PATH, IFACE, "GetStatus", NULL, NULL, "") >= 0);
	}
	assert_true(sd_bus_call_method(many[0], NAME, PATH, IFACE, "GetStatus", NULL, &reply, "") >= 0);
	assert_true(sd_bus_message_read(reply, "stuuu", &version, &uptime, &devices, &queues, &clients) >= 0);
	/* Socket connections count too, but none is open now. */
	assert_true(clients <= 65);
	assert_true(clients >= 60);
	for (int i = 0; i < 100; i++)
		sd_bus_flush_close_unref(many[i]);
}


/* As nobody: GetQuota on the bus tells what the socket's does; another user's is not ours. */
static int nobody_asks_quota(void)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	const char *key, *rule, *lifetime, *fork_terms, *transfer;
	uint32_t uid, used;
	int32_t limit;
	int64_t gid;
	int allowed, found = 0, r;
	sd_bus *bus;

	if (become(NOBODY) < 0 || sd_bus_open_system(&bus) < 0)
		return 1;
	if (sd_bus_call_method(bus, NAME, PATH, IFACE, "GetQuota", NULL, &reply, "s", "") < 0 ||
	    sd_bus_message_read(reply, "ub", &uid, &allowed) < 0 || uid != NOBODY || !allowed ||
	    sd_bus_message_enter_container(reply, 'a', "(siusx)") < 0)
		return 2;
	while ((r = sd_bus_message_read(reply, "(siusx)", &key, &limit, &used, &rule, &gid)) > 0)
		found += strcmp(key, "max_queues") == 0 && limit == 2 && used == 0 &&
			 strstr(rule, "accel-broker.conf:2") && gid == -1;
	if (r < 0 || found != 1 || sd_bus_message_exit_container(reply) < 0 ||
	    sd_bus_message_read(reply, "sss", &lifetime, &fork_terms, &transfer) < 0 ||
	    strcmp(lifetime, "connection") != 0)
		return 3;
	r = sd_bus_call_method(bus, NAME, PATH, IFACE, "GetQuota", &error, NULL, "s", "root");
	if (r >= 0 || !sd_bus_error_has_name(&error, "org.accelbroker.Broker1.Error.PermissionDenied"))
		return 4;
	sd_bus_flush_close_unref(bus);
	return 0;
}

static void get_quota_on_the_bus(void **state)
{
	pid_t pid;

	if (geteuid() != 0)
		skip();
	pid = fork_child();
	if (pid == 0)
		_exit(nobody_asks_quota());
	assert_int_equal(wait_status(pid), 0);
}

/* Append one a{sv} of @m to @out as "key=value ...;" (strings, i, u, x). */
static int read_dict_text(sd_bus_message *m, char *out, size_t size)
{
	const char *key, *contents, *s;
	int32_t i;
	uint32_t u;
	int64_t x;
	char type;
	int r;

	r = sd_bus_message_enter_container(m, 'a', "{sv}");
	while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		size_t len = strlen(out);

		if (sd_bus_message_read(m, "s", &key) < 0 || sd_bus_message_peek_type(m, &type, &contents) < 0)
			return -EBADMSG;
		if (contents[0] == 's' && sd_bus_message_read(m, "v", "s", &s) >= 0)
			snprintf(out + len, size - len, "%s=%s ", key, s);
		else if (contents[0] == 'i' && sd_bus_message_read(m, "v", "i", &i) >= 0)
			snprintf(out + len, size - len, "%s=%d ", key, i);
		else if (contents[0] == 'u' && sd_bus_message_read(m, "v", "u", &u) >= 0)
			snprintf(out + len, size - len, "%s=%u ", key, u);
		else if (contents[0] == 'x' && sd_bus_message_read(m, "v", "x", &x) >= 0)
			snprintf(out + len, size - len, "%s=%lld ", key, (long long)x);
		else
			return -EBADMSG;
		r = sd_bus_message_exit_container(m);
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(m);
	if (r >= 0 && strlen(out) + 1 < size)
		strcat(out, ";");
	return r;
}

/* Append the aa{sv} of @m to @out, one read_dict_text() each. */
static int read_dicts_text(sd_bus_message *m, char *out, size_t size)
{
	int r;

	r = sd_bus_message_enter_container(m, 'a', "a{sv}");
	while (r >= 0 && (r = sd_bus_message_at_end(m, false)) == 0)
		r = read_dict_text(m, out, size);
	return r < 0 ? r : sd_bus_message_exit_container(m);
}

/*
 * GetQuotaDetails with the selector {@key: @value} (@key NULL: {}) as text
 * in @out: "uid allowed | limits | lifetime fork transfer | restrictions";
 * a refusal's error name instead.
 */
static int quota_details(sd_bus *bus, const char *key, const char *value, char *out, size_t size)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	const char *lifetime, *fork_terms, *transfer;
	uint32_t uid;
	int allowed, r;
	size_t len;

	out[0] = '\0';
	r = key ? sd_bus_call_method(bus, NAME, PATH, IFACE, "GetQuotaDetails", &error, &reply, "a{sv}", 1, key,
				     "s", value)
		: sd_bus_call_method(bus, NAME, PATH, IFACE, "GetQuotaDetails", &error, &reply, "a{sv}", 0);
	if (r < 0) {
		snprintf(out, size, "%s", error.name ? error.name : strerror(-r));
		return r;
	}
	r = sd_bus_message_read(reply, "ub", &uid, &allowed);
	if (r >= 0)
		snprintf(out, size, "%u %d | ", uid, allowed);
	if (r >= 0)
		r = read_dicts_text(reply, out, size);
	if (r >= 0)
		r = sd_bus_message_read(reply, "sss", &lifetime, &fork_terms, &transfer);
	len = strlen(out);
	if (r >= 0)
		snprintf(out + len, size - len, " | %s %s %s | ", lifetime, fork_terms, transfer);
	if (r >= 0)
		r = read_dicts_text(reply, out, size);
	return r < 0 ? r : 0;
}

/*
 * As nobody: GetQuotaDetails says what the socket's GetQuota does, the
 * rules of its slices among them, named; a unit not its own, another
 * user, and a user with a unit are refused.
 */
static int nobody_asks_quota_details(void)
{
	char out[2048];
	sd_bus *bus;

	if (become(NOBODY) < 0 || sd_bus_open_system(&bus) < 0)
		return 1;
	if (quota_details(bus, NULL, NULL, out, sizeof(out)) < 0 || !strstr(out, "65534 1 | ") ||
	    !strstr(out, "key=max_queues limit=2 used=0 rule=") ||
	    !strstr(out, "key=max_queues limit=5 used=0 rule=") || !strstr(out, "slice=-.slice ;") ||
	    !strstr(out, " | connection deny same-user | key=devices value=accel_sim-* rule="))
		return 2;
	/* By name: answered once the user database has said who it is. */
	if (quota_details(bus, "user", "nobody", out, sizeof(out)) < 0 || !strstr(out, "65534 1 | ") ||
	    strstr(out, "slice="))
		return 3;
	if (quota_details(bus, "unit", "backup.service", out, sizeof(out)) >= 0 ||
	    strcmp(out, "org.accelbroker.Broker1.Error.PermissionDenied") != 0)
		return 4;
	if (quota_details(bus, "user", "0", out, sizeof(out)) >= 0 ||
	    strcmp(out, "org.accelbroker.Broker1.Error.PermissionDenied") != 0)
		return 5;
	sd_bus_flush_close_unref(bus);
	return 0;
}

static void get_quota_details_names_unit_slice_and_machine_rules(void **state)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	char out[2048];
	sd_bus *bus;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	assert_int_equal(sd_bus_open_system(&bus), 0);
	assert_int_equal(quota_details(bus, "unit", "backup.service", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "key=max_queues limit=1 used=0 rule="));
	assert_non_null(strstr(out, "unit=backup.service ;"));
	assert_non_null(strstr(out, "accel-broker.conf:7"));
	/* The old GetQuota keeps its signature and leaves the scoped rules out. */
	assert_true(sd_bus_call_method(bus, NAME, PATH, IFACE, "GetQuota", NULL, NULL, "s", "") >= 0);
	assert_true(sd_bus_call_method(bus, NAME, PATH, IFACE, "GetQuotaDetails", &error, NULL, "a{sv}", 2,
				       "user", "s", "root", "unit", "s", "backup.service") < 0);
	assert_true(sd_bus_error_has_name(&error, "org.accelbroker.Broker1.Error.InvalidParameter"));
	sd_bus_flush_close_unref(bus);
	pid = fork_child();
	if (pid == 0)
		_exit(nobody_asks_quota_details());
	assert_int_equal(wait_status(pid), 0);
}

/* Revoked(t, s, s, u, s), appended to the string @userdata as "id device algorithm uid reason;". */
static int on_revoked_event(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	char *heard = userdata;
	const char *device, *algorithm, *reason;
	uint64_t id;
	uint32_t uid;
	size_t len = strlen(heard);

	(void)error;
	if (sd_bus_message_read(m, "tssus", &id, &device, &algorithm, &uid, &reason) >= 0)
		snprintf(heard + len, 256 - len, "%llu %s %s %u %s;", (unsigned long long)id, device, algorithm,
			 uid, reason);
	return 0;
}

/* Process the bus until @heard holds @want (5 s at most). */
static bool pump_until(sd_bus *bus, const char *heard, const char *want)
{
	for (int i = 0; i < 500 && !strstr(heard, want); i++) {
		while (sd_bus_process(bus, NULL) > 0)
			;
		if (!strstr(heard, want))
			sd_bus_wait(bus, 10000);
	}
	return strstr(heard, want) != NULL;
}

/*
 * As uid 1: subscribe, hold a queue of its own, and report what it heard
 * once its own queue's revocation came: the broker sends a name its events
 * in order, so anything about the earlier revocation would have come first.
 */
static int subscriber(int report)
{
	char heard[256] = "", want[64];
	struct accel_client *c;
	struct accel_queue *q;
	sd_bus *bus;
	uint64_t id;

	if (become(1) < 0 || sd_bus_open_system(&bus) < 0 ||
	    sd_bus_match_signal(bus, NULL, NULL, PATH, IFACE, "Revoked", on_revoked_event, heard) < 0 ||
	    sd_bus_call_method(bus, NAME, PATH, IFACE, "Subscribe", NULL, NULL, "") < 0)
		return 1;
	if (accel_connect(broker.sock, &c) < 0 || accel_acquire(c, "copy", NULL, &q) < 0)
		return 2;
	id = accel_queue_id(q);
	(void)!write(report, &id, sizeof(id));
	snprintf(want, sizeof(want), "%llu ", (unsigned long long)id);
	if (!pump_until(bus, heard, want))
		return 3;
	(void)!write(report, heard, sizeof(heard));
	return 0;
}

static void subscribers_hear_the_revocations_they_may_see(void **state)
{
	char heard[256] = "", theirs[256], want[128], cmd[512];
	struct accel_client *c;
	struct accel_queue *q;
	uint64_t mine, other;
	int report[2];
	sd_bus *bus;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	assert_int_equal(pipe(report), 0);
	assert_int_equal(sd_bus_open_system(&bus), 0);
	assert_true(sd_bus_match_signal(bus, NULL, NULL, PATH, IFACE, "Revoked", on_revoked_event, heard) >= 0);
	assert_true(sd_bus_call_method(bus, NAME, PATH, IFACE, "Subscribe", NULL, NULL, "") >= 0);
	pid = fork_child();
	if (pid == 0)
		_exit(subscriber(report[1]));
	assert_int_equal(read(report[0], &other, sizeof(other)), (ssize_t)sizeof(other));
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q), 0);
	mine = accel_queue_id(q);

	/* dbus-send can revoke: a plain t, no a{sv}. */
	snprintf(cmd, sizeof(cmd), "dbus-send --system --print-reply --dest=%s %s %s.RevokeQueue uint64:%llu"
		 " | grep -q 'uint32 1'", NAME, PATH, IFACE, (unsigned long long)mine);
	assert_int_equal(system(cmd), 0);
	assert_true(sd_bus_call_method(bus, NAME, PATH, IFACE, "RevokeQueue", NULL, NULL, "t", other) >= 0);

	/* The administrator hears both, in order, with owner and reason. */
	snprintf(want, sizeof(want), "%llu ", (unsigned long long)other);
	assert_true(pump_until(bus, heard, want));
	snprintf(want, sizeof(want), "%llu %s copy 0 admin;%llu ", (unsigned long long)mine,
		 accel_queue_device(q), (unsigned long long)other);
	if (strncmp(heard, want, strlen(want)) != 0)
		fail_msg("heard \"%s\", want \"%s...\"", heard, want);
	assert_non_null(strstr(heard, " copy 1 admin;"));
	/* uid 1 hears its own queue's only. */
	assert_int_equal(read(report[0], theirs, sizeof(theirs)), (ssize_t)sizeof(theirs));
	snprintf(want, sizeof(want), "%llu ", (unsigned long long)mine);
	if (strstr(theirs, want) || !strstr(theirs, " copy 1 admin;"))
		fail_msg("uid 1 heard \"%s\"", theirs);
	assert_int_equal(wait_status(pid), 0);
	/* After Unsubscribe, nothing more. */
	assert_true(sd_bus_call_method(bus, NAME, PATH, IFACE, "Unsubscribe", NULL, NULL, "") >= 0);
	accel_release(q);
	accel_disconnect(c);
	sd_bus_flush_close_unref(bus);
	close(report[0]);
	close(report[1]);
}

/* PropertiesChanged of our interface: the ActiveQueues it carries, as "N;" appended to @userdata. */
static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	char *seen = userdata;
	const char *iface, *prop;
	size_t len = strlen(seen);
	uint32_t n;
	int r;

	(void)error;
	if (sd_bus_message_read(m, "s", &iface) < 0 || strcmp(iface, IFACE) != 0 ||
	    sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
		return 0;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		if (sd_bus_message_read(m, "s", &prop) < 0)
			return 0;
		if (strcmp(prop, "ActiveQueues") == 0 && sd_bus_message_read(m, "v", "u", &n) >= 0)
			snprintf(seen + len, 256 - len, "%u;", n);
		else if (sd_bus_message_skip(m, "v") < 0)
			return 0;
		if (sd_bus_message_exit_container(m) < 0)
			return 0;
		len = strlen(seen);
	}
	return 0;
}

static void active_queues_announces_its_changes(void **state)
{
	char seen[256] = "";
	struct accel_client *c;
	struct accel_queue *q;
	sd_bus *bus;

	assert_int_equal(sd_bus_open_system(&bus), 0);
	assert_true(sd_bus_match_signal(bus, NULL, NAME, PATH, "org.freedesktop.DBus.Properties",
					"PropertiesChanged", on_properties_changed, seen) >= 0);
	/* A round trip: the match is in place before anything changes. */
	assert_true(sd_bus_call_method(bus, NAME, PATH, IFACE, "GetStatus", NULL, NULL, "") >= 0);
	assert_int_equal(accel_connect(broker.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q), 0);
	assert_true(pump_until(bus, seen, "1;"));
	assert_int_equal(accel_release(q), 0);
	assert_true(pump_until(bus, seen, "1;0;"));
	assert_string_equal(seen, "1;0;");
	accel_disconnect(c);
	sd_bus_flush_close_unref(bus);
}

static void plain_calls_and_clear_errors_for_generic_tools(void **state)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	const char *xml, *attach, *end;
	char cmd[512];
	sd_bus *bus;
	int n = 0;

	/* dbus-send cannot build an a{sv}: AcquireQueueSimple takes plain strings. */
	snprintf(cmd, sizeof(cmd), "dbus-send --system --print-reply --dest=%s %s %s.AcquireQueueSimple"
		 " string:copy string:accel_sim-1 | grep -q 'string \"accel_sim-1\"'", NAME, PATH, IFACE);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(sd_bus_open_system(&bus), 0);
	/* Option errors say which type the option wants. */
	assert_true(sd_bus_call_method(bus, NAME, PATH, IFACE, "AcquireQueue", &error, NULL, "sa{sv}", "copy", 1,
				       "numa_node", "s", "0") < 0);
	if (!strstr(error.message, "option numa_node wants i, got s"))
		fail_msg("%s", error.message);
	sd_bus_error_free(&error);
	assert_true(sd_bus_call_method(bus, NAME, PATH, IFACE, "Revoke", &error, NULL, "a{sv}", 1,
				       "queue_id", "i", 5) < 0);
	if (!strstr(error.message, "selector queue_id wants t, got i"))
		fail_msg("%s", error.message);
	sd_bus_error_free(&error);
	/* AttachQueue's in and out arguments have distinct names. */
	assert_true(sd_bus_call_method(bus, NAME, PATH, "org.freedesktop.DBus.Introspectable", "Introspect",
				       NULL, &reply, "") >= 0);
	assert_true(sd_bus_message_read(reply, "s", &xml) >= 0);
	attach = strstr(xml, "<method name=\"AttachQueue\">");
	assert_non_null(attach);
	end = strstr(attach, "</method>");
	assert_non_null(end);
	for (const char *p = attach; (p = strstr(p, "name=\"queue_id\"")) && p < end; p++)
		n++;
	assert_int_equal(n, 1);
	sd_bus_flush_close_unref(bus);
}

/* Bus names take places of [broker] max_connections as socket connections do. */
static void bus_names_count_against_max_connections(void **state)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	const char *version;
	uint64_t uptime;
	uint32_t devices, queues, clients;
	char buf[512];
	int fds[3], extra, before;
	sd_bus *bus;

	for (int i = 0; i < 3; i++) {
		fds[i] = raw_connect(broker.sock);
		assert_true(fds[i] >= 0);
		/* A round trip: accepted and counted before the next knocks. */
		assert_true(raw_call(fds[i], "{\"method\":\"org.accelbroker.Broker.GetStatus\"}", buf,
				     sizeof(buf)) > 0);
	}
	assert_int_equal(sd_bus_open_system(&bus), 0);
	assert_true(sd_bus_call_method(bus, NAME, PATH, IFACE, "GetStatus", &error, NULL, "") < 0);
	assert_string_equal(error.name, IFACE ".Error.QuotaExceeded");
	/* A socket connection goes: the name gets its place... */
	before = broker_fd_count(&broker);
	close(fds[2]);
	assert_int_equal(broker_wait_fd_count(&broker, before - 1), before - 1);
	assert_true(sd_bus_call_method(bus, NAME, PATH, IFACE, "GetStatus", NULL, &reply, "") >= 0);
	assert_true(sd_bus_message_read(reply, "stuuu", &version, &uptime, &devices, &queues, &clients) >= 0);
	assert_int_equal(clients, 3);
	/* ...and holds it against the next socket client. */
	extra = raw_connect(broker.sock);
	assert_true(extra >= 0);
	assert_true(raw_recv(extra, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "org.accelbroker.Broker.QuotaExceeded"));
	close(extra);
	close(fds[0]);
	close(fds[1]);
	sd_bus_flush_close_unref(bus);
}

/* A bus name takes a place of its user's max_connections_per_user as a socket connection does. */
static void bus_names_count_against_max_connections_per_user(void **state)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	char buf[512];
	int fds[2], extra, before;
	sd_bus *bus;

	for (int i = 0; i < 2; i++) {
		fds[i] = raw_connect(broker.sock);
		assert_true(fds[i] >= 0);
		/* A round trip: accepted and counted before the next knocks. */
		assert_true(raw_call(fds[i], "{\"method\":\"org.accelbroker.Broker.GetStatus\"}", buf,
				     sizeof(buf)) > 0);
	}
	assert_int_equal(sd_bus_open_system(&bus), 0);
	assert_true(sd_bus_call_method(bus, NAME, PATH, IFACE, "GetStatus", &error, NULL, "") < 0);
	assert_string_equal(error.name, IFACE ".Error.QuotaExceeded");
	/* A socket connection of the same user goes: the name gets its place... */
	before = broker_fd_count(&broker);
	close(fds[1]);
	assert_int_equal(broker_wait_fd_count(&broker, before - 1), before - 1);
	assert_true(sd_bus_call_method(bus, NAME, PATH, IFACE, "GetStatus", NULL, NULL, "") >= 0);
	/* ...and holds it against the user's next socket connection. */
	extra = raw_connect(broker.sock);
	assert_true(extra >= 0);
	assert_true(raw_recv(extra, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "org.accelbroker.Broker.QuotaExceeded"));
	close(extra);
	close(fds[0]);
	sd_bus_flush_close_unref(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(acquire_use_release_with_the_quota_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(leaving_the_bus_or_dying_reclaims, setup, teardown),
		cmocka_unit_test_setup_teardown(transfer_and_claim_over_the_bus, setup, teardown),
		cmocka_unit_test_setup_teardown(queue_revoked_reaches_the_owner_only, setup, teardown),
		cmocka_unit_test_setup_teardown(the_name_and_admin_methods_are_guarded, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_calls_get_errors_and_the_broker_stays, setup, teardown),
		cmocka_unit_test_setup_teardown(idle_names_are_forgotten_beyond_a_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(get_quota_on_the_bus, setup, teardown),
		cmocka_unit_test_setup_teardown(get_quota_details_names_unit_slice_and_machine_rules,
						setup_scoped_rules, teardown),
		cmocka_unit_test_setup_teardown(subscribers_hear_the_revocations_they_may_see, setup, teardown),
		cmocka_unit_test_setup_teardown(active_queues_announces_its_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(plain_calls_and_clear_errors_for_generic_tools, setup, teardown),
		cmocka_unit_test_setup_teardown(bus_names_count_against_max_connections, setup_three_connections,
						teardown),
		cmocka_unit_test_setup_teardown(bus_names_count_against_max_connections_per_user,
						setup_two_per_user, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

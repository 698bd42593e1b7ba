// SPDX-License-Identifier: MIT
/*
 * libaccel coming back to a broker that went away (reconnect.c), without
 * systemd: a broker killed with SIGKILL takes its queues' engine with it
 * and a new one does not know them.  The client must find out by itself:
 * its queues report ENOLINK instead of waiting for an engine that is gone,
 * and its calls go to the new broker without the application reconnecting.
 * (With systemd's fd store the new broker knows the queues: make
 * systemd-check; here the test plays the fd store for raw queues.)
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <accel/accel.h>
#include <cmocka.h>
#include <systemd/sd-daemon.h>

#include "harness.h"

static struct broker_proc first, second, third;
static char deep_top[128];	/* the cgroup tree a test made, removed at teardown */
static void deep_cgroup_remove(const char *top);
static char tree[] = "/tmp/accel-fake-uacce-XXXXXX";
static bool tree_made;

/* A hang is a failure, not a stuck test run: say so, and leave no broker behind. */
static void on_alarm(int sig)
{
	static const char msg[] = "test_reconnect: timed out (a client waited for a broker that is gone)\n";

	(void)sig;
	if (first.pid > 0)
		kill(first.pid, SIGKILL);
	if (second.pid > 0)
		kill(second.pid, SIGKILL);
	if (third.pid > 0)
		kill(third.pid, SIGKILL);
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

/* Stop @b if it runs; remove its directory if a restart (SIGTERM, no broker_stop()) left it. */
static int finish(struct broker_proc *b)
{
	char cmd[128];

	if (b->pid > 0)
		return broker_stop(b) != 0 ? -1 : 0;
	if (b->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", b->dir);
		(void)!system(cmd);
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	alarm(0);
	kill_child(first.pid);
	first.pid = 0;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", first.dir);
	(void)!system(cmd);
	int r = finish(&second) | finish(&third);

	children_kill();
	if (tree_made) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tree);
		(void)!system(cmd);
		tree_made = false;
	}
	if (deep_top[0])
		deep_cgroup_remove(deep_top);	/* its processes are gone */
	deep_top[0] = '\0';
	test_cgroup_remove();
	strcpy(tree, "/tmp/accel-fake-uacce-XXXXXX");	/* mkdtemp() filled it in */
	return r;
}

static void copy_ok(struct accel_queue *q)
{
	char out[16] = "";

	assert_int_equal(accel_run(q, "again", 6, out, sizeof(out), 0, 0, NULL), 0);
	assert_string_equal(out, "again");
}

static void a_killed_broker_loses_the_queues_and_the_client_moves_on(void **state)
{
	struct accel_client *c;
	struct accel_queue *q, *fresh;
	struct accel_device *devices;
	size_t n_devices;
	char out[16];

	(void)state;
	signal(SIGALRM, on_alarm);
	alarm(30);
	assert_int_equal(broker_start(&first, NULL), 0);
	assert_int_equal(accel_connect(first.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q), 0);
	copy_ok(q);

	/* No revocation, no goodbye: the engine serving q is gone. */
	kill_child(first.pid);
	first.pid = 0;
	/* A new broker where the client looks (its own directory, reached by the old path). */
	assert_int_equal(broker_start(&second, NULL), 0);
	assert_int_equal(unlink(first.sock), 0);
	assert_int_equal(symlink(second.sock, first.sock), 0);

	/* The operation does not wait for an engine that no longer exists. */
	assert_int_equal(accel_run(q, "lost", 5, out, sizeof(out), 0, 0, NULL), -ENOLINK);
	assert_int_equal(accel_queue_state(q), ACCEL_QUEUE_REVOKED);
	assert_int_equal(accel_submit(q, &(struct accel_op){ 0 }), -ENOLINK);

	/* The same client, not reconnected by the application, talks to the new broker. */
	assert_int_equal(accel_list_devices(c, &devices, &n_devices), 0);
	assert_true(n_devices > 0);
	accel_devices_free(devices, n_devices);
	assert_int_equal(accel_acquire(c, "copy", NULL, &fresh), 0);
	copy_ok(fresh);
	assert_int_equal(accel_release(fresh), 0);
	accel_release(q);	/* only unmaps: no broker knows it */
	accel_disconnect(c);
}

/*
 * systemd's fd store, played by the test: what a broker told to keep
 * ($NOTIFY_SOCKET, FDSTORE=1) is handed to the next one as systemd does
 * ($LISTEN_FDS, $LISTEN_FDNAMES).
 */
#define STORE_MAX	8
/*
 * A queue's fd, its owner's pidfd, its event pipe's write end; room for
 * the read end too, as a broker before 3 fds a queue stored it.
 */
#define STORE_FDS	4

struct fd_store {
	int sock;
	char path[128];
	struct {
		char name[256];
		int fds[STORE_FDS];
		unsigned n_fds;
	} entries[STORE_MAX];
	unsigned n;
};

static void store_open(struct fd_store *s, const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s/notify", dir);
	strcpy(sa.sun_path, s->path);
	s->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s->sock >= 0);
	assert_int_equal(bind(s->sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void store_close(struct fd_store *s)
{
	for (unsigned i = 0; i < s->n; i++)
		for (unsigned k = 0; k < s->entries[i].n_fds; k++)
			close(s->entries[i].fds[k]);
	close(s->sock);
}

/* FDSTOREREMOVE=1: the fds kept under @name (@len bytes) are closed. */
static void store_remove(struct fd_store *s, const char *name, size_t len)
{
	for (unsigned i = 0; i < s->n; i++) {
		if (strlen(s->entries[i].name) != len || strncmp(s->entries[i].name, name, len) != 0)
			continue;
		for (unsigned k = 0; k < s->entries[i].n_fds; k++)
			close(s->entries[i].fds[k]);
		s->entries[i--] = s->entries[--s->n];
	}
}

/* One notification within 5 s: FDSTORE=1 keeps its fds under its FDNAME, anything else is read and dropped. */
static void store_receive(struct fd_store *s)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * STORE_FDS) + CMSG_SPACE(sizeof(struct ucred))];
	} control;
	char buf[1024];
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
			     .msg_controllen = sizeof(control) };
	struct pollfd p = { .fd = s->sock, .events = POLLIN };
	int fds[STORE_FDS];
	unsigned n_fds = 0;
	const char *name;
	ssize_t n;

	assert_int_equal(poll(&p, 1, 5000), 1);
	n = recvmsg(s->sock, &mh, MSG_CMSG_CLOEXEC);
	assert_true(n >= 0 && !(mh.msg_flags & MSG_CTRUNC));
	buf[n] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n_fds = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(fds, CMSG_DATA(c), n_fds * sizeof(int));
	}
	name = strstr(buf, "FDNAME=");
	if (strstr(buf, "FDSTORE=1") && name && n_fds > 0) {
		assert_true(s->n < STORE_MAX);
		snprintf(s->entries[s->n].name, sizeof(s->entries[s->n].name), "%.*s",
			 (int)strcspn(name + 7, "\n"), name + 7);
		memcpy(s->entries[s->n].fds, fds, n_fds * sizeof(int));
		s->entries[s->n++].n_fds = n_fds;
		return;
	}
	for (unsigned k = 0; k < n_fds; k++)
		close(fds[k]);
	if (strstr(buf, "FDSTOREREMOVE=1") && name)
		store_remove(s, name + 7, strcspn(name + 7, "\n"));
}

/* Read what the broker sent so far. */
static void store_drain(struct fd_store *s)
{
	struct pollfd p = { .fd = s->sock, .events = POLLIN };

	for (int i = 0; i < 64 && poll(&p, 1, 0) == 1; i++)
		store_receive(s);
}

/* Wait for the broker to store queue @id: its fds there. */
static int *store_wait_fds(struct fd_store *s, uint64_t id, unsigned **n_fds)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "q1.%llu.", (unsigned long long)id);
	for (int tries = 0; tries < 64; tries++) {
		for (unsigned i = 0; i < s->n; i++)
			if (strncmp(s->entries[i].name, prefix, strlen(prefix)) == 0) {
				*n_fds = &s->entries[i].n_fds;
				return s->entries[i].fds;
			}
		store_receive(s);
	}
	fail_msg("queue %llu never reached the fd store", (unsigned long long)id);
	return NULL;
}

static void store_wait(struct fd_store *s, uint64_t id)
{
	unsigned *n_fds;

	(void)store_wait_fds(s, id, &n_fds);
}

/* A broker under our store: where it starts, and where its clients look for it. */
struct service {
	struct fd_store *store;
	struct broker_proc *b;
	const char *client_path;
};

/* In the first broker's process: keep the queues in our store. */
static void keep_in_store(void *data)
{
	setenv("NOTIFY_SOCKET", ((struct service *)data)->store->path, 1);
}

/*
 * In the next broker's process: what the store kept, passed as systemd
 * passes it (from fd 3 on), and kept there again.
 */
static void pass_store(void *data)
{
	struct service *svc = data;
	struct fd_store *s = svc->store;
	char names[STORE_MAX * STORE_FDS * 257] = "", num[16];
	int high[STORE_MAX * STORE_FDS], n = 0;

	for (unsigned i = 0; i < s->n; i++) {
		for (unsigned k = 0; k < s->entries[i].n_fds; k++) {
			high[n++] = fcntl(s->entries[i].fds[k], F_DUPFD_CLOEXEC, 100);
			if (names[0])
				strcat(names, ":");
			strcat(names, s->entries[i].name);
		}
	}
	for (int i = 0; i < n; i++)
		dup2(high[i], SD_LISTEN_FDS_START + i);	/* and not close-on-exec */
	/* The client comes back where it left (systemd keeps the socket's path): as soon as we listen. */
	(void)unlink(svc->client_path);
	(void)!symlink(svc->b->sock, svc->client_path);
	keep_in_store(data);
	snprintf(num, sizeof(num), "%d", n);
	setenv("LISTEN_FDS", num, 1);
	snprintf(num, sizeof(num), "%d", (int)getpid());
	setenv("LISTEN_PID", num, 1);
	setenv("LISTEN_FDNAMES", names, 1);
}

/* Whether @c's broker lists queue @id. */
static bool listed(struct accel_client *c, uint64_t id)
{
	char *json = NULL, key[48];
	bool found;

	assert_int_equal(accel_call_json(c, "org.accelbroker.Broker.ListQueues", NULL, &json), 0);
	snprintf(key, sizeof(key), "\"queue_id\":%llu,", (unsigned long long)id);
	found = strstr(json, key) != NULL;
	free(json);
	return found;
}

/* A raw queue on a bare connection (no libaccel): nobody attaches it again after a restart. */
static uint64_t acquire_bare(int fd)
{
	char reply[4096];
	const char *at;

	assert_true(raw_call(fd, "{\"method\":\"org.accelbroker.Broker.AcquireQueue\","
				 "\"parameters\":{\"device\":\"hisi_zip-0\"}}", reply, sizeof(reply)) > 0);
	at = strstr(reply, "\"queue_id\":");
	assert_non_null(at);
	return strtoull(at + strlen("\"queue_id\":"), NULL, 10);
}

/* Stop @b as systemd restarts it (SIGTERM: the queues stay in the store) and start @next on the store. */
static void restart(struct broker_proc *b, struct service *next, const char *const *args)
{
	kill(b->pid, SIGTERM);
	assert_int_equal(wait_status(b->pid), 0);
	b->pid = 0;
	store_drain(next->store);
	assert_int_equal(broker_start_with(next->b, args, pass_store, next), 0);
}

/* The new broker's reattach deadline passed (@bare went); @id and @moved_id are still there. */
static void deadline_kept(struct accel_client *look, uint64_t bare, uint64_t id, uint64_t moved_id)
{
	for (int i = 0; i < 1000 && listed(look, bare); i++)
		usleep(10000);
	assert_false(listed(look, bare));
	assert_true(listed(look, id));
	assert_true(listed(look, moved_id));
}

/*
 * A raw queue (libaccel-preload.so's: an fd, no handle) survives broker
 * restarts like any other: the new broker takes it back from the fd store
 * and releases, at its reattach deadline, the connection queues nobody
 * attached again; libaccel attaches the raw queues, so they stay, even
 * one whose fd the program moved to another descriptor (twice: a queue
 * libaccel took for lost the first time would not be attached the
 * second).  A raw queue acquired on a bare connection that nobody brings
 * back shows when each deadline has passed.
 */
static void a_raw_queue_is_attached_again_by_a_restarted_broker(void **state)
{
	char dev[128], conf[160], node[192];
	const char *args[] = { "--sim", "0", "--sysfs-root", tree, "--dev-root", dev, "--config", conf, NULL };
	struct fd_store store;
	struct service one = { &store, &first, NULL }, two = { &store, &second, first.sock },
		       three = { &store, &third, first.sock };
	struct accel_client *c, *look;
	uint64_t id = 0, moved_id = 0, bare_id;
	FILE *f;
	int fd, moved, bare;

	(void)state;
	signal(SIGALRM, on_alarm);
	alarm(60);
	assert_int_equal(fake_uacce_tree(tree, dev, sizeof(dev)), 0);
	tree_made = true;
	/*
	 * The broker takes back from the store only a character device of the
	 * node's (a regular file is no queue): make hisi_zip-0's node one,
	 * with /dev/null's number, which opens and takes no ioctl.
	 */
	snprintf(node, sizeof(node), "%s/hisi_zip-0", dev);
	assert_int_equal(unlink(node), 0);
	if (mknod(node, S_IFCHR | 0600, makedev(1, 3)) < 0)
		skip();	/* no CAP_MKNOD */
	snprintf(conf, sizeof(conf), "%s/broker.conf", tree);
	f = fopen(conf, "w");
	assert_non_null(f);
	fputs("[broker]\nreattach_timeout_sec = 3\n", f);
	assert_int_equal(fclose(f), 0);
	store_open(&store, tree);
	assert_int_equal(broker_start_with(&first, args, keep_in_store, &one), 0);

	assert_int_equal(accel_connect(first.sock, &c), 0);
	/* One the program moved to another descriptor (dup2(), then close() of the first). */
	fd = accel_acquire_raw(c, "hisi_zip-0", &moved_id);
	assert_true(fd >= 0);
	moved = fcntl(fd, F_DUPFD_CLOEXEC, 40);
	assert_true(moved >= 0);
	close(fd);
	fd = accel_acquire_raw(c, "hisi_zip-0", &id);	/* the number the first had */
	assert_true(fd >= 0);
	bare = raw_connect(first.sock);
	assert_true(bare >= 0);
	bare_id = acquire_bare(bare);
	store_wait(&store, id);
	store_wait(&store, moved_id);
	store_wait(&store, bare_id);

	restart(&first, &two, args);
	close(bare);
	assert_int_equal(accel_connect(first.sock, &look), 0);
	deadline_kept(look, bare_id, id, moved_id);
	accel_disconnect(look);

	bare = raw_connect(first.sock);
	assert_true(bare >= 0);
	bare_id = acquire_bare(bare);
	store_wait(&store, bare_id);
	restart(&second, &three, args);
	close(bare);
	assert_int_equal(accel_connect(first.sock, &look), 0);
	deadline_kept(look, bare_id, id, moved_id);

	/* On the connection libaccel came back on. */
	assert_int_equal(accel_release_raw(c, id), 0);
	assert_int_equal(accel_release_raw(c, moved_id), 0);
	assert_false(listed(look, id));
	assert_false(listed(look, moved_id));
	close(fd);
	close(moved);
	accel_disconnect(look);
	accel_disconnect(c);
	store_close(&store);
}

/* Submit a copy on @q and wait for it in an event loop of one fd: the completion wakes it. */
static void event_loop_copy(struct accel_queue *q)
{
	struct pollfd p = { .fd = accel_queue_event_fd(q), .events = POLLIN };
	struct accel_completion done;
	size_t size;
	char *buf = accel_queue_buffer(q, &size);
	int n = 0;

	assert_true(p.fd >= 0);
	memcpy(buf, "event", 6);
	assert_int_equal(accel_queue_arm(q), 0);	/* nothing in flight */
	assert_int_equal(accel_submit(q, &(struct accel_op){ .src = buf, .src_len = 6, .dst = buf + 64,
							     .dst_len = 6 }), 0);
	for (int i = 0; i < 100 && n == 0; i++) {
		if (accel_queue_arm(q) == 0)
			assert_int_equal(poll(&p, 1, 10000), 1);	/* the engine's byte, not a timeout */
		accel_queue_event_clear(q);
		n = accel_poll(q, &done, 1);
	}
	assert_int_equal(n, 1);
	assert_int_equal(done.status, 0);
	assert_string_equal(buf + 64, "event");
}

/*
 * The stored queue's event pipe: its write end alone (the next broker
 * opens the read end from it), the third fd beside the queue's and its
 * owner's pidfd.  With @old_store, the read end is added as a broker
 * before 3 fds a queue stored it, and must be taken back all the same.
 */
static void check_stored_pipe(int *fds, unsigned *n_fds, bool old_store)
{
	int write_end = -1, ends = 0;
	char path[32];

	assert_int_equal(*n_fds, 3);
	for (unsigned k = 0; k < *n_fds; k++) {
		struct stat st;
		assert_int_equal(fstat(fds[k], &st), 0);
		if (S_ISFIFO(st.st_mode)) {
			ends++;
			write_end = fds[k];
			assert_int_equal(fcntl(fds[k], F_GETFL) & O_ACCMODE, O_WRONLY);
		}
	}
	assert_int_equal(ends, 1);
	if (!old_store)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", write_end);
	fds[(*n_fds)++] = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(fds[*n_fds - 1] >= 0);
}

/*
 * A queue's event pipe goes to the fd store with it and comes back to the
 * next broker, whose engine then wakes the descriptor the program has
 * held all along (its event loop registered it once), and answers an arm
 * the loop left up across the restart.
 */
static void event_fd_survives_a_restart(bool old_store)
{
	char dir[] = "/tmp/accel-event-store-XXXXXX", cmd[64];
	const char *args[] = { "--sim", "1", NULL };
	struct fd_store store;
	struct service one = { &store, &first, NULL }, two = { &store, &second, first.sock };
	struct accel_client *c;
	struct accel_queue *q;
	struct accel_completion done;
	unsigned *n_fds;
	int efd, *fds;
	size_t size;
	char *buf;

	signal(SIGALRM, on_alarm);
	alarm(60);
	assert_non_null(mkdtemp(dir));
	store_open(&store, dir);
	assert_int_equal(broker_start_with(&first, args, keep_in_store, &one), 0);
	assert_int_equal(accel_connect(first.sock, &c), 0);
	assert_int_equal(accel_acquire(c, "copy", NULL, &q), 0);
	efd = accel_queue_event_fd(q);
	assert_true(efd >= 0);
	event_loop_copy(q);
	fds = store_wait_fds(&store, accel_queue_id(q), &n_fds);
	check_stored_pipe(fds, n_fds, old_store);

	assert_int_equal(accel_queue_arm(q), 0);
	restart(&first, &two, args);
	buf = accel_queue_buffer(q, &size);
	assert_int_equal(accel_submit(q, &(struct accel_op){ .src = buf, .src_len = 6, .dst = buf + 64,
							     .dst_len = 6 }), 0);
	assert_int_equal(poll(&(struct pollfd){ .fd = efd, .events = POLLIN }, 1, 10000), 1);
	accel_queue_event_clear(q);
	assert_int_equal(accel_wait(q, &done, 1, 10000), 1);
	event_loop_copy(q);
	assert_int_equal(accel_queue_event_fd(q), efd);
	assert_int_equal(accel_release(q), 0);
	accel_disconnect(c);
	store_close(&store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

static void the_event_fd_survives_a_restart(void **state)
{
	event_fd_survives_a_restart(false);
}

/* Upgrading across a restart: a store kept by a broker that stored both ends. */
static void an_event_pipe_stored_with_both_ends_is_taken_back(void **state)
{
	event_fd_survives_a_restart(true);
}

/*
 * In the child: move into @cgroup, acquire a queue, run a copy, tell
 * @ready and wait on @go while the broker restarts; then the queue must
 * come back to it and run again.  Exit 0, or the number of the step that
 * failed.
 */
static int container_client(const char *cgroup, const char *sock, int ready, int go)
{
	struct accel_client *c;
	struct accel_queue *q;
	char out[16] = "", *json = NULL;

	if (cgroup_enter(cgroup) < 0)
		return 40;
	if (accel_connect(sock, &c) < 0 || accel_acquire(c, "copy", NULL, &q) < 0)
		return 41;
	if (accel_run(q, "again", 6, out, sizeof(out), 0, 0, NULL) < 0)
		return 42;
	if (write(ready, "r", 1) != 1 || read(go, &(char){ 0 }, 1) != 1)
		return 43;
	/* The connection went with the first broker: this call comes back to the next and attaches the queue. */
	if (accel_call_json(c, "org.accelbroker.Broker.ListQueues", NULL, &json) < 0)
		return 44;
	free(json);
	memset(out, 0, sizeof(out));
	if (accel_run(q, "again", 6, out, sizeof(out), 0, 0, NULL) < 0 || strcmp(out, "again") != 0)
		return 45;
	if (accel_release(q) < 0)
		return 46;
	accel_disconnect(c);
	return 0;
}

/* A client in @cgroup (a container's) gets its queue back from a restarted broker. */
static void container_queue_survives_a_restart(const char *cgroup)
{
	char dir[] = "/tmp/accel-container-store-XXXXXX", cmd[64];
	const char *args[] = { "--sim", "1", NULL };
	struct fd_store store;
	struct service one = { &store, &first, NULL }, two = { &store, &second, first.sock };
	int ready[2], go[2];
	pid_t pid;

	signal(SIGALRM, on_alarm);
	alarm(60);
	assert_non_null(mkdtemp(dir));
	store_open(&store, dir);
	assert_int_equal(broker_start_with(&first, args, keep_in_store, &one), 0);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	pid = fork_child();
	if (pid == 0)
		_exit(container_client(cgroup, first.sock, ready[1], go[0]));
	assert_int_equal(read(ready[0], &(char){ 0 }, 1), 1);
	restart(&first, &two, args);
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(wait_status(pid), 0);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	store_close(&store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

/* A machine's client (machined's scope): its queue is its machine's, the restarted broker reads again. */
static void a_machines_queue_survives_a_restart(void **state)
{
	const char *scope = test_cgroup_machine("accelrestart");

	if (!scope)
		skip();
	container_queue_survives_a_restart(scope);
}

/* The same beside systemd's tree (docker's /docker/ID): no machine to tell, its own process's queue all the same. */
static void a_queue_beside_systemds_tree_survives_a_restart(void **state)
{
	const char *cg = test_cgroup_beside("accelrestart");

	if (!cg)
		skip();
	container_queue_survives_a_restart(cg);
}

#define DEEP_DEPTH	18
#define DEEP_NAME_LEN	240	/* 18 levels of 241 bytes: past PATH_MAX */

/* Each level's name. */
static const char *deep_name(void)
{
	static char comp[DEEP_NAME_LEN + 1];

	memset(comp, 'a', DEEP_NAME_LEN);
	return comp;
}

/*
 * A cgroup DEEP_DEPTH levels under @top: its path is longer than the
 * kernel prints in /proc/PID/cgroup (PATH_MAX), as a user can make one in
 * its delegated subtree.  The innermost directory's fd, or -1.
 */
static int deep_cgroup(const char *top)
{
	int dfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	for (int i = 0; i < DEEP_DEPTH && dfd >= 0; i++) {
		int next = -1;

		if (mkdirat(dfd, deep_name(), 0755) == 0 || errno == EEXIST)
			next = openat(dfd, deep_name(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(dfd);
		dfd = next;
	}
	return dfd;
}

/* Remove what deep_cgroup() made, innermost first (by fd: the paths are too long to name). */
static void deep_cgroup_remove(const char *top)
{
	const char *comp = deep_name();

	for (int d = DEEP_DEPTH; d > 0; d--) {
		int dfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		for (int i = 0; i < d - 1 && dfd >= 0; i++) {
			int next = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			close(dfd);
			dfd = next;
		}
		if (dfd >= 0) {
			(void)unlinkat(dfd, comp, AT_REMOVEDIR);
			close(dfd);
		}
	}
	(void)rmdir(top);
}

/* Whether the broker logged @what. */
static bool logged(const struct broker_proc *b, const char *what)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(b->log, "r");

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

/*
 * A queue whose owner's cgroup cannot be read when a restarted broker takes
 * it back is revoked (unit-unknown), as an acquire from there is refused:
 * counted in no unit, it would leave its [slice:] pool (-.slice, at most
 * one queue here) and its owner could take one more.  The owner makes its
 * cgroup path too long to print after acquiring (root plays it here), in a
 * slice where systemd would not make it.
 */
static void an_owner_whose_cgroup_cannot_be_read_loses_its_queue_at_a_restart(void **state)
{
	char dev[128], conf[160], node[192], reply[4096], pid[16], key[48];
	const char *args[] = { "--sim", "0", "--sysfs-root", tree, "--dev-root", dev, "--config", conf, NULL };
	const char *cgroup2 = cgroup2_mount();
	struct fd_store store;
	struct service one = { &store, &first, NULL }, two = { &store, &second, first.sock };
	int go[2], ready[2], deep, procs, fd;
	uint64_t id = 0;
	pid_t owner;
	char c = 0;
	FILE *f;

	(void)state;
	if (!cgroup2)
		skip();
	signal(SIGALRM, on_alarm);
	alarm(60);
	assert_int_equal(fake_uacce_tree(tree, dev, sizeof(dev)), 0);
	tree_made = true;
	snprintf(node, sizeof(node), "%s/hisi_zip-0", dev);	/* a character device, as above */
	assert_int_equal(unlink(node), 0);
	if (mknod(node, S_IFCHR | 0600, makedev(1, 3)) < 0)
		skip();
	snprintf(conf, sizeof(conf), "%s/broker.conf", tree);
	f = fopen(conf, "w");
	assert_non_null(f);
	fputs("[defaults]\nlifetime = process\n[slice:-.slice]\nmax_queues = 1\n", f);
	assert_int_equal(fclose(f), 0);
	/*
	 * In a slice: a top-level cgroup that is no slice is one made beside
	 * systemd's tree, which reads as no unit; inside a slice, a cgroup
	 * systemd would not make does not read (a kernel that prints the
	 * too-long path cut at PATH_MAX, rather than failing the read, leaves
	 * such a name).
	 */
	snprintf(deep_top, sizeof(deep_top), "%s/accel_test_%d.slice", cgroup2, (int)getpid());
	if (mkdir(deep_top, 0755) < 0) {
		deep_top[0] = '\0';
		skip();	/* no writable cgroup2 */
	}
	store_open(&store, tree);
	assert_int_equal(broker_start_with(&first, args, keep_in_store, &one), 0);

	/* The owner: one queue, its id told, then it waits (connection and all). */
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	owner = fork_child();
	if (owner == 0) {
		int conn = raw_connect(first.sock);

		id = conn >= 0 ? acquire_bare(conn) : 0;
		(void)!write(ready[1], &id, sizeof(id));
		(void)!read(go[0], &c, 1);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &id, sizeof(id)), sizeof(id));
	assert_true(id > 0);
	store_wait(&store, id);
	fd = raw_connect(first.sock);	/* the pool counts it: -.slice is full */
	assert_true(fd >= 0);
	assert_true(raw_call(fd, "{\"method\":\"org.accelbroker.Broker.AcquireQueue\","
				 "\"parameters\":{\"device\":\"hisi_zip-0\"}}", reply, sizeof(reply)) > 0);
	assert_non_null(strstr(reply, "QuotaExceeded"));
	close(fd);

	deep = deep_cgroup(deep_top);
	assert_true(deep >= 0);
	procs = openat(deep, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	assert_true(procs >= 0);
	snprintf(pid, sizeof(pid), "%d", (int)owner);
	assert_true(write(procs, pid, strlen(pid)) > 0);
	close(procs);
	close(deep);

	restart(&first, &two, args);
	fd = raw_connect(second.sock);
	assert_true(fd >= 0);
	assert_true(raw_call(fd, "{\"method\":\"org.accelbroker.Broker.ListQueues\"}", reply, sizeof(reply)) > 0);
	close(fd);
	snprintf(key, sizeof(key), "\"queue_id\":%llu,", (unsigned long long)id);
	assert_null(strstr(reply, key));
	assert_true(logged(&second, "unit-unknown"));

	(void)!write(go[1], "x", 1);
	assert_int_equal(wait_status(owner), 0);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
	store_close(&store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(a_killed_broker_loses_the_queues_and_the_client_moves_on, teardown),
		cmocka_unit_test_teardown(a_raw_queue_is_attached_again_by_a_restarted_broker, teardown),
		cmocka_unit_test_teardown(the_event_fd_survives_a_restart, teardown),
		cmocka_unit_test_teardown(an_event_pipe_stored_with_both_ends_is_taken_back, teardown),
		cmocka_unit_test_teardown(a_machines_queue_survives_a_restart, teardown),
		cmocka_unit_test_teardown(a_queue_beside_systemds_tree_survives_a_restart, teardown),
		cmocka_unit_test_teardown(an_owner_whose_cgroup_cannot_be_read_loses_its_queue_at_a_restart,
					  teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

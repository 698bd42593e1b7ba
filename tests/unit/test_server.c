// SPDX-License-Identifier: MIT
/*
 * The socket server in the test's own process, its event loop turned by
 * hand: what it does when it runs out of descriptors or cannot set a
 * connection up, what a Reload gets when nothing was handed to reload; and
 * the peer it builds.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker.h"
#include "clients.h"
#include "connection.h"
#include "peer.h"
#include "server.h"
#include "util.h"
#include "varlink_api.h"

/* The n-th strdup() from when it is set fails (0: none); the daemon's calls are to this one. */
static unsigned strdup_fail_countdown;

char *strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	if (strdup_fail_countdown > 0 && --strdup_fail_countdown == 0) {
		errno = ENOMEM;
		return NULL;
	}
	p = malloc(n);
	return p ? memcpy(p, s, n) : NULL;
}

struct fixture {
	char dir[64];
	char path[96];
	sd_event *event;
	struct broker broker;
	struct policy policy;
	struct server server;
};

static int setup(void **state)
{
	const struct broker_limits limits = {
		.max_connections_per_user = 64,
		.max_connections = 64,
		.admin_gid = (int)getegid(),	/* the test is the administrator */
		.transfer_timeout_usec = 30 * 1000000ull,
	};
	const struct listener_reload none = { 0 };
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_server.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
	assert_int_equal(sd_event_new(&f->event), 0);
	broker_init(&f->broker, &limits, f->event);
	policy_init(&f->policy, 4);
	broker_set_policy(&f->broker, &f->policy, false);
	assert_int_equal(server_init(&f->server, f->event, &f->broker, f->path, -1, varlink_api_dispatch,
				     &none), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	server_finish(&f->server);
	broker_shutdown(&f->broker);
	broker_finish(&f->broker);
	policy_finish(&f->policy);
	sd_event_unref(f->event);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int client_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	return fd;
}

static void client_connect(struct fixture *f, int fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

/* Turn the loop until the server holds @n connections (each turn waits for an event). */
static void wait_connections(struct fixture *f, unsigned n)
{
	for (int i = 0; i < 100 && f->server.n_connections != n; i++)
		assert_true(sd_event_run(f->event, 100 * 1000) >= 0);
	assert_int_equal(f->server.n_connections, n);
}

/* The lowest free descriptor number: at or above it the process has none left under that limit. */
static int lowest_free_fd(void)
{
	int fd = dup(STDIN_FILENO);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

/*
 * Out of descriptors, the server stops listening; a connection that closes
 * frees one, and the server listens again at once, through the
 * connection_closed callback: not only when its retry timer fires (the loop
 * is not turned in between, so the timer cannot be what did it).
 */
static void a_closed_connection_resumes_a_listener_out_of_fds(void **state)
{
	struct fixture *f = *state;
	struct rlimit saved, lim;
	int first = client_socket(), waiting = client_socket();

	client_connect(f, first);
	wait_connections(f, 1);
	assert_false(f->server.accept_paused);

	/* No descriptor left for accept4(): @waiting stays in the backlog. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	lim = saved;
	lim.rlim_cur = (rlim_t)lowest_free_fd();
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	client_connect(f, waiting);
	for (int i = 0; i < 100 && !f->server.accept_paused; i++)
		assert_true(sd_event_run(f->event, 100 * 1000) >= 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	assert_true(f->server.accept_paused);
	assert_int_equal(f->server.accept_pauses, 1);
	assert_int_equal(f->server.n_connections, 1);

	/* The first connection goes: listening again before the loop turns. */
	connection_destroy(list_entry(f->server.connections.next, struct connection, link));
	assert_false(f->server.accept_paused);
	wait_connections(f, 1);
	assert_int_equal(f->server.accept_pauses, 1);
	close(first);
	close(waiting);
}

/* Read one NUL-terminated reply on @fd, turning the loop while it is not there. */
static void read_reply(struct fixture *f, int fd, char *buf, size_t size)
{
	size_t len = 0;

	for (int i = 0; i < 100 && (len == 0 || buf[len - 1] != '\0'); i++) {
		ssize_t n;

		assert_true(sd_event_run(f->event, 100 * 1000) >= 0);
		n = recv(fd, buf + len, size - len, MSG_DONTWAIT);
		if (n > 0)
			len += (size_t)n;
		assert_true(len < size);
	}
	assert_true(len > 0 && buf[len - 1] == '\0');
}

/* An administrator's Reload of a broker handed nothing to reload: a named error, not a parameter's. */
static void reload_without_a_configuration_says_so(void **state)
{
	static const char reload[] = "{\"method\":\"org.accelbroker.Broker.Reload\"}";
	struct fixture *f = *state;
	int fd = client_socket();
	char buf[1024];

	client_connect(f, fd);
	assert_int_equal(send(fd, reload, sizeof(reload), 0), (ssize_t)sizeof(reload));
	read_reply(f, fd, buf, sizeof(buf));
	if (!strstr(buf, "\"error\":\"org.accelbroker.Broker.NoConfiguration\""))
		fail_msg("%s", buf);
	close(fd);
}

static int on_nothing(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	return 0;
}

/*
 * A connection that cannot be set up leaves the socket to its caller, who
 * closes it (server_accept()): closed here too, the caller's close would hit
 * whatever fd took the number meanwhile (another thread's).
 */
static void a_connection_not_set_up_leaves_the_fd_to_its_caller(void **state)
{
	struct fixture *f = *state;
	const struct peer peer = { .uid = 1000, .gid = 1000, .pid = 1 };
	_cleanup_(sd_event_source_unrefp) sd_event_source *taken = NULL;
	struct connection *c = NULL;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	/* The fd is in the loop already: epoll refuses it a second time. */
	assert_int_equal(sd_event_add_io(f->event, &taken, sv[0], EPOLLIN, on_nothing, NULL), 0);
	assert_int_equal(broker_client_add(&f->broker, peer.uid, NULL), 0);
	assert_true(connection_create(&f->server, sv[0], &peer, &c) < 0);
	broker_client_remove(&f->broker, peer.uid);
	assert_null(c);
	assert_int_equal(f->server.n_connections, 0);
	assert_true(fcntl(sv[0], F_GETFD) >= 0);
	close(sv[0]);
	close(sv[1]);
}

/* A member of the admin group in more groups than a peer keeps is still an administrator. */
static void the_admin_group_counts_past_the_groups_kept(void **state)
{
	gid_t gids[POLICY_MAX_GROUPS + 8];
	const size_t n = sizeof(gids) / sizeof(gids[0]);
	struct peer peer = { .uid = 1000, .gid = 1000, .pid = 1 };

	for (size_t i = 0; i < n; i++)
		gids[i] = (gid_t)(2000 + i);
	peer_set_groups(&peer, gids, n, (int)gids[n - 1], "the test");
	assert_int_equal(peer.n_groups, POLICY_MAX_GROUPS);
	assert_true(peer.admin);
	peer_set_groups(&peer, gids, n, 99, "the test");
	assert_false(peer.admin);
}

/* Each strdup() of server_init() fails in turn: none leaves the socket file it made. */
static void a_server_not_set_up_leaves_no_socket_file(void **state)
{
	struct fixture *f = *state;
	const struct listener_reload none = { 0 };
	struct server s;
	char path[128];
	unsigned n;
	int r = -1;

	snprintf(path, sizeof(path), "%s/other", f->dir);
	for (n = 1; n < 10 && r < 0; n++) {
		strdup_fail_countdown = n;
		r = server_init(&s, f->event, &f->broker, path, -1, varlink_api_dispatch, &none);
		strdup_fail_countdown = 0;
		if (r < 0) {
			assert_int_equal(r, -ENOMEM);
			assert_int_equal(access(path, F_OK), -1);
		}
	}
	assert_int_equal(r, 0);
	assert_true(n > 2);	/* both copies failed once */
	server_finish(&s);
	assert_int_equal(access(path, F_OK), -1);
}

#define MANY_GROUPS 300	/* more than the 256 peer.c reads at first */

/* Connect to @sa as uid 1000 in MANY_GROUPS groups, the last @admin_gid; then exit. */
static void connect_in_many_groups(const struct sockaddr_un *sa, socklen_t len, gid_t admin_gid)
{
	gid_t gids[MANY_GROUPS];
	int fd;

	for (int i = 0; i < MANY_GROUPS; i++)
		gids[i] = admin_gid - MANY_GROUPS + 1 + (gid_t)i;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setgroups(MANY_GROUPS, gids) < 0 || setresgid(1000, 1000, 1000) < 0 ||
	    setresuid(1000, 1000, 1000) < 0 || connect(fd, (const struct sockaddr *)sa, len) < 0)
		_exit(1);
	_exit(0);	/* the kernel took its credentials at connect() */
}

/* A peer in more groups than the first read holds: its last one still makes it an administrator. */
static void the_admin_group_counts_in_a_peer_of_many_groups(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1;
	const gid_t admin_gid = 7000;
	struct peer peer;
	int lfd, cfd, status;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip();	/* setgroups() */
	len += (socklen_t)snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "test_server.%d", (int)getpid());
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(listen(lfd, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		connect_in_many_groups(&sa, len, admin_gid);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(cfd >= 0);
	assert_int_equal(peer_from_socket(cfd, (int)admin_gid, &peer), 0);
	assert_int_equal(peer.uid, 1000);
	assert_int_equal(peer.n_groups, POLICY_MAX_GROUPS);	/* kept: the first only */
	assert_true(peer.admin);
	close(cfd);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_admin_group_counts_past_the_groups_kept),
		cmocka_unit_test(the_admin_group_counts_in_a_peer_of_many_groups),
		cmocka_unit_test_setup_teardown(a_closed_connection_resumes_a_listener_out_of_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(reload_without_a_configuration_says_so, setup, teardown),
		cmocka_unit_test_setup_teardown(a_server_not_set_up_leaves_no_socket_file, setup, teardown),
		cmocka_unit_test_setup_teardown(a_connection_not_set_up_leaves_the_fd_to_its_caller, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

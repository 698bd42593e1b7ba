// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "broker.h"
#include "clients.h"
#include "connection.h"
#include "log.h"
#include "owner.h"
#include "peer.h"
#include "server.h"
#include "util.h"

/* Refuse a connection over a limit with a named error, best effort. */
static void refuse(int fd, const char *why)
{
	char msg[256];
	int len = snprintf(msg, sizeof(msg),
			   "{\"error\":\"" ERR_QUOTA_EXCEEDED "\",\"parameters\":{\"message\":\"%s\"}}", why);

	if (len > 0 && (size_t)len < sizeof(msg))
		(void)!send(fd, msg, (size_t)len + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/* How long a listener paused for lack of fds waits when no connection closes meanwhile. */
#define ACCEPT_RETRY_USEC (250 * 1000)

/* Listen again after running out of fds (no-op when listening). */
static void resume_accepting(struct server *s)
{
	if (!s->accept_paused)
		return;
	s->accept_paused = false;
	sd_event_source_set_enabled(s->accept_retry, SD_EVENT_OFF);
	sd_event_source_set_enabled(s->listen_source, SD_EVENT_ON);
}

static int accept_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	resume_accepting(userdata);
	return 0;
}

/*
 * accept4() failed for lack of fds (or kernel memory): the pending
 * connection stays in the backlog and the socket stays readable, so keep
 * the listener off until a connection closes or the retry timer fires.
 * The timer exists from the start: arming it needs no new fd.
 */
static void pause_accepting(struct server *s, int error)
{
	log_full(LOG_ERR, "Could not accept a connection: %s; not accepting until an fd is freed",
		 strerror(error));
	s->accept_paused = true;
	s->accept_pauses++;
	sd_event_source_set_enabled(s->listen_source, SD_EVENT_OFF);
	sd_event_source_set_time_relative(s->accept_retry, ACCEPT_RETRY_USEC);
	sd_event_source_set_enabled(s->accept_retry, SD_EVENT_ONESHOT);
}

static int server_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct server *s = userdata;
	struct broker *b = s->broker;
	struct accel_error e;
	struct peer peer;
	int cfd, r;

	(void)src;
	(void)revents;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			pause_accepting(s, errno);
		else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_client(LOG_UID_NONE, LOG_WARNING, "Could not accept a connection: %s", strerror(errno));
		return 0;
	}
	r = peer_from_socket(cfd, b->limits.admin_gid, &peer);
	if (r < 0) {
		log_client(LOG_UID_NONE, LOG_WARNING, "Could not read peer credentials: %s", strerror(-r));
		close(cfd);
		return 0;
	}
	/* Bus names count as well: the limits are the broker's, whatever the listener. */
	if (broker_client_add(b, peer.uid, &e) < 0) {
		log_client(peer.uid, LOG_WARNING, "Refusing pid %d uid %u: %s (%u connections in all)",
			   (int)peer.pid, (unsigned)peer.uid, e.message, broker_clients(b));
		refuse(cfd, e.message);
		return 0;
	}
	r = owner_peer_pidfd(cfd, peer.pid);
	peer.process = owner_get(&b->owners, peer.pid, r);	/* NULL: out of memory, queues live by connection */
	peer_set_home(&peer);
	r = connection_create(s, cfd, &peer, NULL);
	if (r < 0) {
		log_client(peer.uid, LOG_ERR, "Could not set up a connection: %s", strerror(-r));
		peer_finish(&peer);
		owner_unref(peer.process);
		broker_client_remove(b, peer.uid);
		close(cfd);
	}
	return 0;
}

/* A socket file bound but not set up: removed unless taken (TAKE_PTR). */
static void unlink_boundp(const char **path)
{
	if (*path)
		unlink(*path);
}

static int create_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_free_ char *dir = strdup(path);
	_cleanup_close_ int fd = -1;
	_cleanup_(unlink_boundp) const char *bound = NULL;
	struct stat st;
	char *slash;

	if (!dir)
		return -ENOMEM;
	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error_errno(-ENAMETOOLONG, "Socket path %s", path);
	strcpy(sa.sun_path, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return log_error_errno(-errno, "Could not create %s", dir);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(-errno, "Could not create socket");
	/* A socket file left by a broker that died: nobody answers on it. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return log_error_errno(-EADDRINUSE, "Another broker listens on %s", path);
	if (errno == ECONNREFUSED) {
		/* Only ever a socket: connect() refuses a regular file the same way. */
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
			return log_error_errno(-EEXIST, "%s exists and is not a socket: not removing it", path);
		unlink(path);
	}
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(-errno, "Could not create socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return log_error_errno(-errno, "Could not bind %s", path);
	bound = path;
	if (chmod(path, 0666) < 0)
		return log_error_errno(-errno, "Could not chmod %s", path);
	if (listen(fd, SOMAXCONN) < 0)
		return log_error_errno(-errno, "Could not listen on %s", path);
	TAKE_PTR(bound);	/* server_finish() removes it */
	return TAKE_FD(fd);
}

int server_init(struct server *s, sd_event *event, struct broker *broker, const char *path,
		int passed_fd, server_dispatch_fn dispatch, const struct listener_reload *reload)
{
	int fd = passed_fd, r;

	*s = (struct server){ .event = event, .broker = broker, .dispatch = dispatch,
			      .connection_closed = resume_accepting, .reload = *reload, .listen_fd = -1 };
	list_init(&s->connections);
	if (fd < 0) {
		/* Copied first: a file made but not in s->created_path is one server_finish() leaves. */
		_cleanup_free_ char *created = strdup(path);

		if (!created)
			return -ENOMEM;
		fd = create_socket(path);
		if (fd < 0)
			return fd;
		s->created_path = TAKE_PTR(created);
		log_info("Listening on %s", path);
	} else {
		r = fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
		if (r < 0)
			return log_error_errno(r, "Could not set up the passed socket");
		log_info("Listening on the socket passed by systemd");
	}
	s->listen_fd = fd;
	r = sd_event_add_io(event, &s->listen_source, fd, EPOLLIN, server_accept, s);
	if (r < 0)
		return log_error_errno(r, "Could not watch the listening socket");
	r = sd_event_add_time_relative(event, &s->accept_retry, CLOCK_MONOTONIC, ACCEPT_RETRY_USEC, 0,
				       accept_retry, s);
	if (r < 0)
		return log_error_errno(r, "Could not create the accept retry timer");
	return sd_event_source_set_enabled(s->accept_retry, SD_EVENT_OFF);
}

void server_finish(struct server *s)
{
	struct connection *c, *tmp;

	if (!s->event)
		return;	/* never set up */
	s->accept_paused = false;	/* no resuming from the destroys below */
	s->accept_retry = sd_event_source_disable_unref(s->accept_retry);
	list_for_each_safe(c, tmp, &s->connections, link) {
		/*
		 * Last words first: the "shutdown" revocations broker_shutdown()
		 * queued for monitors.  Best effort and without waiting: what the
		 * peer's socket does not take now is lost with the connection.
		 */
		(void)wire_flush(&c->wire);
		connection_destroy(c);
	}
	sd_event_source_disable_unref(s->listen_source);
	s->listen_source = NULL;
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->listen_fd = -1;
	if (s->created_path)
		unlink(s->created_path);
	free(s->created_path);
	s->created_path = NULL;
}

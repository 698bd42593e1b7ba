// SPDX-License-Identifier: MIT
/*
 * Coming back to a restarted broker.  A client that holds queues has a
 * thread that waits for the broker to hang up.  It then connects again
 * (under systemd the socket stays open while the broker restarts), attaches
 * every queue the client holds (the new broker took them back from the fd
 * store) and checks that each reply hands back the very file it maps.  A
 * queue the broker no longer knows is lost: its operations fail with
 * -ENOLINK.  The data path never waits for any of this: queues keep
 * working on their mappings the whole time.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "libaccel.h"
#include "util.h"

#ifndef KCMP_FILE
#define KCMP_FILE 0
#endif

/* How long to keep trying to reach a broker that went away, and how often. */
#define RECONNECT_TIMEOUT_MS	60000
#define RECONNECT_STEP_MS	20
/* How many descriptors to look through for a raw queue's file (UADK takes none above 65535). */
#define RAW_FD_SCAN_MAX		65536

int accel_socket_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Whether @a and @b are the same open file: the broker's queue and ours. */
static bool same_file(int a, int b)
{
	struct stat sa, sb;
	long r = syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, a, b);

	if (r >= 0)
		return r == 0;
	/* No kcmp: at least the same file, or the same device. */
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino && sa.st_rdev == sb.st_rdev;
}

/*
 * Whether another descriptor of this process (below RAW_FD_SCAN_MAX and
 * the fd limit) is @fd's file.  A raw queue's fd is the program's, which
 * may have moved it (dup2(), then close() of the first): the number kept
 * then proves nothing, any descriptor of the queue does.  kcmp() only:
 * nothing a preload could interpose (see close_direct()).
 */
static bool held_elsewhere(int fd)
{
	pid_t self = getpid();
	struct rlimit lim;
	long max = RAW_FD_SCAN_MAX;

	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < (rlim_t)max)
		max = (long)lim.rlim_cur;
	for (long i = 0; i < max; i++) {
		long r = i == fd ? 1 : syscall(SYS_kcmp, self, self, KCMP_FILE, fd, i);

		if (r == 0)
			return true;
		if (r < 0 && errno != EBADF)
			return false;	/* no kcmp: no proof */
	}
	return false;
}

/*
 * Close @fd without going through an interposed close(): the watcher calls
 * this with c->lock held, and libaccel-preload.so's close() takes the
 * preload's lock, which a fork() in another thread holds while it waits
 * for ours (fork handlers).  The fd is one only libaccel ever saw.
 */
static void close_direct(int fd)
{
	(void)syscall(SYS_close, fd);
}

static void queue_lost(struct accel_queue *q)
{
	__atomic_store_n(&q->lost, true, __ATOMIC_RELEASE);
	if (q->driver && q->driver_state && q->driver->interrupt)
		q->driver->interrupt(q);	/* a waiter sees it now */
}

/*
 * On the new connection: attach @q again and check it is the same queue;
 * if the broker does not hand it back, it is lost.  Returns a negative
 * errno only when the new connection itself failed (try again).
 */
static int reattach(struct accel_client *c, struct accel_queue *q)
{
	struct json_object *params = json_object_new_object();
	/*
	 * Without with_event_fd: the queue's event pipe came back from the fd
	 * store as it was, and the descriptor we hold still reads it.
	 */
	int fds[2] = { -1, -1 }, fd, r;

	if (params)
		json_object_object_add(params, "queue_id", json_object_new_int64((int64_t)q->id));
	r = accel_call_locked(c, ACCEL_INTERFACE ".AttachQueue", params, NULL, fds);
	fd = fds[0];
	if (accel_connection_lost(r))
		return r;
	if (r < 0 || fd < 0 || !(same_file(fd, q->fd) || (q->raw && held_elsewhere(fd))))
		queue_lost(q);
	if (fd >= 0)
		close_direct(fd);
	return 0;
}

/*
 * With c->lock: make @fd the client's connection and attach its queues
 * there.  The old connection goes to @old, to be finished without the
 * lock (its close() may be the preload's, see close_direct()).
 */
static int take_connection(struct accel_client *c, int fd, struct wire *old)
{
	int r;

	*old = c->wire;
	c->wire.fd = -1;
	c->generation++;
	r = wire_init(&c->wire, fd);
	if (r < 0) {
		close_direct(fd);
		c->wire.fd = -1;
		return r;
	}
	wire_set_max_message(&c->wire, WIRE_MAX_REPLY);	/* listings outgrow a call */
	for (struct accel_queue *q = c->queues; q; q = q->next) {
		if (__atomic_load_n(&q->lost, __ATOMIC_ACQUIRE))
			continue;
		r = reattach(c, q);
		if (r < 0)
			return r;
	}
	return 0;
}

int accel_client_reconnect(struct accel_client *c, unsigned generation)
{
	struct timespec step = { 0, RECONNECT_STEP_MS * 1000000L };

	/* No lock while waiting: the application's other calls and fork() go on. */
	for (int waited = 0; waited < RECONNECT_TIMEOUT_MS; waited += RECONNECT_STEP_MS) {
		struct wire old;
		int fd = -1, r;

		if (__atomic_load_n(&c->stopping, __ATOMIC_ACQUIRE))
			return -ECANCELED;
		pthread_mutex_lock(&c->lock);
		if (c->generation != generation) {
			/* The other thread got there first. */
			pthread_mutex_unlock(&c->lock);
			return 0;
		}
		pthread_mutex_unlock(&c->lock);
		fd = accel_socket_connect(c->path);
		if (fd >= 0) {
			pthread_mutex_lock(&c->lock);
			if (c->generation != generation) {
				pthread_mutex_unlock(&c->lock);
				close(fd);
				return 0;
			}
			r = take_connection(c, fd, &old);
			/* A broker going away again while we attached: start over from its connection. */
			generation = c->generation;
			pthread_mutex_unlock(&c->lock);
			wire_finish(&old);
			if (r == 0)
				return 0;
		}
		nanosleep(&step, NULL);
	}
	pthread_mutex_lock(&c->lock);
	for (struct accel_queue *q = c->queues; q; q = q->next)
		queue_lost(q);
	pthread_mutex_unlock(&c->lock);
	return -ECONNREFUSED;
}

static void *watch(void *arg)
{
	struct accel_client *c = arg;

	for (;;) {
		struct pollfd p[2] = { { .events = POLLRDHUP }, { .fd = c->stop_fd, .events = POLLIN } };
		unsigned generation;

		pthread_mutex_lock(&c->lock);
		p[0].fd = c->wire.fd;
		generation = c->generation;
		pthread_mutex_unlock(&c->lock);
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		/* Only a hang-up: replies are the calling thread's to read. */
		if ((p[0].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) &&
		    accel_client_reconnect(c, generation) < 0)
			break;	/* no broker came back: every queue is lost */
	}
	return NULL;
}

/*
 * fork() copies a client, not its watcher, and must not copy a lock the
 * watcher holds: every client's lock is taken around the fork, and the
 * child's copies are watched by nobody.  Lock order: clients_lock, then a
 * client's lock.
 */
static pthread_mutex_t clients_lock = PTHREAD_MUTEX_INITIALIZER;
static struct accel_client *clients;

static void fork_prepare(void)
{
	pthread_mutex_lock(&clients_lock);
	for (struct accel_client *c = clients; c; c = c->next_client)
		pthread_mutex_lock(&c->lock);
}

static void fork_parent(void)
{
	for (struct accel_client *c = clients; c; c = c->next_client)
		pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&clients_lock);
}

/*
 * The child's only thread holds every lock, taken by the parent's thread:
 * nothing else can hold them here, so make them anew.
 */
static void fork_child(void)
{
	for (struct accel_client *c = clients; c; c = c->next_client) {
		if (c->watching) {
			c->watching = false;
			close(c->stop_fd);
			c->stop_fd = -1;
		}
		pthread_mutex_init(&c->lock, NULL);
	}
	pthread_mutex_init(&clients_lock, NULL);
}

static void register_fork_handlers(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void accel_client_register(struct accel_client *c)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, register_fork_handlers);
	pthread_mutex_lock(&clients_lock);
	c->next_client = clients;
	clients = c;
	pthread_mutex_unlock(&clients_lock);
}

void accel_client_unregister(struct accel_client *c)
{
	pthread_mutex_lock(&clients_lock);
	for (struct accel_client **p = &clients; *p; p = &(*p)->next_client) {
		if (*p == c) {
			*p = c->next_client;
			break;
		}
	}
	pthread_mutex_unlock(&clients_lock);
}

int accel_client_watch(struct accel_client *c)
{
	sigset_t all, old;
	int r;

	if (c->watching)
		return 0;
	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (c->stop_fd < 0)
		return -errno;
	/* The thread takes no signals of the application's. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&c->watcher, NULL, watch, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		close(c->stop_fd);
		c->stop_fd = -1;
		return r;
	}
	c->watching = true;
	return 0;
}

void accel_client_unwatch(struct accel_client *c)
{
	uint64_t one = 1;

	if (!c->watching)
		return;
	__atomic_store_n(&c->stopping, true, __ATOMIC_RELEASE);
	(void)!write(c->stop_fd, &one, sizeof(one));
	pthread_join(c->watcher, NULL);
	close(c->stop_fd);
	c->stop_fd = -1;
	c->watching = false;
}

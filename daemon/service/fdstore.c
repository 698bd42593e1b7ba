// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "broker.h"
#include "device.h"
#include "fdstore.h"
#include "log.h"
#include "owner.h"
#include "peer.h"
#include "queue.h"
#include "resolver.h"
#include "util.h"

/*
 * Names of version 1 (fdstore.h).  The device comes last: it is the only
 * field that may hold a dot.  systemd takes printable names without ':'.
 */
#define NAME_PREFIX	"q1."
#define NAME_MAX_LEN	FDSTORE_NAME_MAX
_Static_assert(QUEUE_ALGORITHM_MAX == 32, "fdstore_parse_name() reads the algorithm with %31[^.]");
/* A raw queue's algorithm (""): no algorithm name is "*", and a name part may not be empty. */
#define NAME_RAW	"*"

bool fdstore_available(void)
{
	const char *socket = getenv("NOTIFY_SOCKET");

	return socket && *socket;
}

static bool name_part_valid(const char *s, bool dots)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 127 || *s == ':' || (*s == '.' && !dots))
			return false;
	return true;
}

int fdstore_queue_name(const struct queue *q, char name[NAME_MAX_LEN + 1])
{
	const char *algorithm = q->algorithm[0] ? q->algorithm : NAME_RAW;
	int n;

	if (!name_part_valid(algorithm, false) || !name_part_valid(q->device->name, true))
		return -EINVAL;
	n = snprintf(name, NAME_MAX_LEN + 1, NAME_PREFIX "%llu.%u.%u.%d.%llu.%s.%s.%s.%s.%s",
		     (unsigned long long)q->id, (unsigned)q->uid, (unsigned)q->gid, (int)q->pid,
		     (unsigned long long)q->acquired_usec, policy_lifetime_to_string(q->terms.lifetime),
		     policy_fork_to_string(q->terms.fork), policy_transfer_to_string(q->terms.transfer),
		     algorithm, q->device->name);
	return n > 0 && n <= NAME_MAX_LEN ? 0 : -ENAMETOOLONG;
}

/*
 * Keep @q in the store (logged if it cannot be: it will not survive a
 * restart): its fd, its owner's pidfd and its event pipe's write end, all
 * under one name, in any order (sort_group() tells them apart).
 */
static void fdstore_put(const struct queue *q)
{
	char name[NAME_MAX_LEN + 1], msg[NAME_MAX_LEN + 32];
	_cleanup_close_ int pidfd = -1, event_write = -1;
	int fds[3] = { q->fd }, r;
	unsigned n = 1;

	r = fdstore_queue_name(q, name);
	if (r < 0) {
		log_warning_errno(r, "Queue %llu cannot be named in the fd store: it will not survive a restart",
				  (unsigned long long)q->id);
		return;
	}
	pidfd = owner_pidfd_copy(q->process);
	if (pidfd >= 0)
		fds[n++] = pidfd;
	if (q->event_fd >= 0) {
		/*
		 * The write end, and only it: while no broker runs it keeps the
		 * client's pipe from ending (the end means a lost queue to
		 * libaccel), and the next broker opens the read end from it.
		 * Opened from our read end: the broker keeps no write end of
		 * its own besides the engine's.
		 */
		event_write = fd_reopen(q->event_fd, O_WRONLY | O_NONBLOCK);
		if (event_write >= 0)
			fds[n++] = event_write;
		else
			log_warning_errno(event_write, "Queue %llu's event pipe cannot be stored: "
					  "its event loop will find the queue lost at a restart",
					  (unsigned long long)q->id);
	}
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	r = sd_pid_notify_with_fds(0, false, msg, fds, n);
	if (r <= 0)
		log_warning_errno(r ? r : -ENOTCONN, "Could not keep queue %llu in the fd store",
				  (unsigned long long)q->id);
}

static void remove_name(const char *name)
{
	int r = sd_notifyf(false, "FDSTOREREMOVE=1\nFDNAME=%s", name);

	if (r < 0)
		log_warning_errno(r, "Could not take %s out of the fd store", name);
}

static void fdstore_remove(const struct queue *q)
{
	char name[NAME_MAX_LEN + 1];

	if (fdstore_queue_name(q, name) == 0)
		remove_name(name);
}

static void on_queue_added(struct broker_watcher *w, const struct queue *q, enum queue_origin origin)
{
	(void)w;
	if (origin != QUEUE_ADOPTED)	/* an adopted queue is in the store already */
		fdstore_put(q);
}

static void on_queue_removed(struct broker_watcher *w, const struct queue *q)
{
	(void)w;
	fdstore_remove(q);
}

void fdstore_follow(struct broker *b, struct broker_watcher *w)
{
	*w = (struct broker_watcher){ .queue_added = on_queue_added, .queue_removed = on_queue_removed };
	broker_watch(b, w);
	b->keep_queues = true;
}

/* The enum value whose name is @s, for the *_to_string() of policy.h; -1 if none. */
static int term_from_string(const char *s, const char *(*to_string)(int), int n_values)
{
	for (int v = 0; v < n_values; v++)
		if (strcmp(to_string(v), s) == 0)
			return v;
	return -1;
}

static const char *lifetime_name(int v) { return policy_lifetime_to_string(v); }
static const char *fork_name(int v) { return policy_fork_to_string(v); }
static const char *transfer_name(int v) { return policy_transfer_to_string(v); }

int fdstore_parse_name(const char *name, struct queue *q, const char **device)
{
	unsigned long long id, acquired;
	unsigned uid, gid;
	int pid, used = 0, lifetime, fork_, transfer;
	char l[16], f[16], t[16];

	if (strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) != 0)
		return -EINVAL;
	if (sscanf(name + strlen(NAME_PREFIX), "%llu.%u.%u.%d.%llu.%15[^.].%15[^.].%15[^.].%31[^.].%n",
		   &id, &uid, &gid, &pid, &acquired, l, f, t, q->algorithm, &used) != 9 || used == 0)
		return -EINVAL;
	*device = name + strlen(NAME_PREFIX) + used;
	lifetime = term_from_string(l, lifetime_name, LIFETIME_PROCESS + 1);
	fork_ = term_from_string(f, fork_name, FORK_ALLOW + 1);
	transfer = term_from_string(t, transfer_name, TRANSFER_ANY + 1);
	if (id == 0 || pid <= 0 || lifetime < 0 || fork_ < 0 || transfer < 0 || !name_part_valid(*device, true))
		return -EINVAL;
	q->id = id;
	q->uid = uid;
	q->gid = gid;
	q->pid = pid;
	q->acquired_usec = acquired;
	q->terms = (struct terms){ lifetime, fork_, transfer };
	if (strcmp(q->algorithm, NAME_RAW) == 0)
		q->algorithm[0] = '\0';
	return 0;
}

static bool is_pidfd(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[pidfd]") == 0;
}

struct passed {
	int fd;
	const char *name;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct passed *)a)->name, ((const struct passed *)b)->name);
}

/* What one of a stored queue's fds is. */
enum stored_kind { STORED_QUEUE, STORED_PIDFD, STORED_EVENT_READ, STORED_EVENT_WRITE };

static enum stored_kind stored_kind(int fd)
{
	struct stat st;
	int flags;

	if (is_pidfd(fd))
		return STORED_PIDFD;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) || (flags = fcntl(fd, F_GETFL)) < 0)
		return STORED_QUEUE;	/* the backend checks it is one */
	return (flags & O_ACCMODE) == O_WRONLY ? STORED_EVENT_WRITE : STORED_EVENT_READ;
}

/* One stored queue's fds, by kind; -1: not there. */
struct stored_fds {
	int fd[STORED_EVENT_WRITE + 1];
};

static void stored_fds_close(struct stored_fds *s)
{
	for (size_t i = 0; i < ELEMENTSOF(s->fd); i++)
		closep(&s->fd[i]);
}

/*
 * Sort one stored queue's @fds (all taken) into @s; -EINVAL if not what
 * fdstore_put() sends: the write end of the event pipe, or none, or both
 * ends (a broker before 3 fds a queue stored the read end too).
 */
static int sort_group(const struct passed *fds, unsigned n, struct stored_fds *s)
{
	int r = 0;

	for (unsigned i = 0; i < n; i++) {
		int *slot = &s->fd[stored_kind(fds[i].fd)];
		if (*slot >= 0)
			r = -EINVAL;	/* two of a kind */
		closep(slot);
		*slot = fds[i].fd;
	}
	if (s->fd[STORED_QUEUE] < 0 || (s->fd[STORED_EVENT_READ] >= 0 && s->fd[STORED_EVENT_WRITE] < 0))
		r = -EINVAL;
	return r;
}

/* A stored queue's record that the broker did not take: its event pipe, then itself. */
static void queue_discard_storedp(struct queue **q)
{
	if (!*q)
		return;
	closep(&(*q)->event_fd);
	closep(&(*q)->event_signal_fd);
	free(*q);
}

/* A record for a stored queue, holding its event pipe (taken from @s); NULL: out of memory. */
static struct queue *stored_queue_new(struct stored_fds *s)
{
	struct queue *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->event_fd = TAKE_FD(s->fd[STORED_EVENT_READ]);
	q->event_signal_fd = TAKE_FD(s->fd[STORED_EVENT_WRITE]);
	return q;
}

/*
 * The groups of the stored queues' owners, as the user database says (group
 * pools count by them), asked before the listeners start: no client waits
 * yet, so the resolver is waited for here, ADOPT_GROUPS_USEC for all.
 */
#define ADOPT_GROUPS_USEC (5u * 1000000u)

struct owner_groups {
	uid_t *uids;
	struct resolver_answer *answers;	/* answers[i]: of uids[i] */
	unsigned n;
};

static void owner_groups_clear(struct owner_groups *og)
{
	free(og->uids);
	free(og->answers);
}

/* Note the owner uid of the stored queue @name in @og, once. */
static void owner_groups_add(struct owner_groups *og, const char *name, struct queue *scratch)
{
	const char *device;

	if (fdstore_parse_name(name, scratch, &device) < 0)
		return;
	for (unsigned i = 0; i < og->n; i++)
		if (og->uids[i] == scratch->uid)
			return;
	og->uids[og->n++] = scratch->uid;
}

/* Look up the groups of every owner among the @n @fds (sorted by name). */
static void owner_groups_resolve(struct resolver *r, const struct passed *fds, int n, struct owner_groups *og)
{
	_cleanup_free_ struct queue *scratch = calloc(1, sizeof(*scratch));

	*og = (struct owner_groups){ calloc((size_t)n, sizeof(uid_t)), NULL, 0 };
	if (!r || !scratch || !og->uids)
		return;
	for (int i = 0; i < n; i++)
		if (strncmp(fds[i].name, NAME_PREFIX, strlen(NAME_PREFIX)) == 0 &&
		    (i == 0 || strcmp(fds[i].name, fds[i - 1].name) != 0))
			owner_groups_add(og, fds[i].name, scratch);
	og->answers = og->n ? calloc(og->n, sizeof(*og->answers)) : NULL;
	if (!og->answers) {
		og->n = 0;
		return;
	}
	resolver_groups_wait(r, og->uids, og->n, ADOPT_GROUPS_USEC, og->answers);
	for (unsigned i = 0; i < og->n; i++)
		if (og->answers[i].error < 0)
			log_warning("The groups of uid %u are not known (%s): its stored queues count in its "
				    "primary group's pool only", (unsigned)og->uids[i], strerror(-og->answers[i].error));
}

/* @uid's answer in @og, or NULL. */
static const struct resolver_answer *owner_groups_find(const struct owner_groups *og, uid_t uid)
{
	for (unsigned i = 0; i < og->n; i++)
		if (og->uids[i] == uid)
			return og->answers[i].error == 0 ? &og->answers[i] : NULL;
	return NULL;
}

/* One stored queue: its fds, all under @name.  Adopted, or closed and removed. */
static void adopt_group(struct broker *b, const char *name, const struct passed *fds, unsigned n,
			const struct owner_groups *og)
{
	const struct resolver_answer *groups;
	_cleanup_(stored_fds_close) struct stored_fds s = { { -1, -1, -1, -1 } };
	_cleanup_(queue_discard_storedp) struct queue *q = NULL;
	struct accel_error e = { 0 };
	const char *device = NULL;
	struct queue *adopted;
	int unreadable, r = sort_group(fds, n, &s);

	if (r == 0)
		r = (q = stored_queue_new(&s)) ? fdstore_parse_name(name, q, &device) : -ENOMEM;
	if (r < 0) {
		log_warning_errno(r, "Dropping \"%s\" from the fd store: not a queue this broker stored", name);
		remove_name(name);
		return;
	}
	/*
	 * Its owner's unit, slices and machine again: the queue counts in
	 * their pools as before.  As at acquire, a cgroup that cannot be read
	 * is an unknown unit, never "no unit": an owner could make its path
	 * unreadable (too deep to print) to leave its pools at the next
	 * restart.  The queue is adopted (its stored state is the broker's to
	 * stop), then revoked.  An owner that exited (-ESRCH) is reclaimed as
	 * owner-exited like any other.
	 */
	unreadable = s.fd[STORED_PIDFD] >= 0 ? peer_read_cgroup(s.fd[STORED_PIDFD], q->pid, &q->identity) : 0;
	if (unreadable == -ESRCH)
		unreadable = 0;
	groups = owner_groups_find(og, q->uid);
	r = broker_adopt(b, q, device, TAKE_FD(s.fd[STORED_QUEUE]), TAKE_FD(s.fd[STORED_PIDFD]),
			 groups ? groups->groups : NULL, groups ? groups->n_groups : 0, &e);
	if (r < 0) {
		cgroup_identity_unref(q->identity);
		log_warning("Dropping queue %llu from the fd store: %s", (unsigned long long)q->id,
			    e.message[0] ? e.message : strerror(-r));
		remove_name(name);
		return;
	}
	adopted = TAKE_PTR(q);	/* the broker's */
	if (unreadable < 0) {
		log_warning_errno(unreadable, "Queue %llu: could not read the cgroup of its owner pid %d",
				  (unsigned long long)adopted->id, (int)adopted->pid);
		broker_revoke(b, adopted, REVOKE_UNIT_UNKNOWN);
	}
}

static void strv_freep(char ***strv)
{
	for (char **s = *strv; s && *s; s++)
		free(*s);
	free(*strv);
}

/* The listening socket among @fds (one name's): ours by name, or the only one another activator passed. */
static void take_listener(const struct passed *fds, unsigned n, bool only, int *listen_fd)
{
	for (unsigned k = 0; k < n; k++) {
		if (*listen_fd < 0 && sd_is_socket_unix(fds[k].fd, SOCK_STREAM, 1, NULL, 0) > 0 &&
		    (strcmp(fds[k].name, FDSTORE_LISTEN_NAME) == 0 || only)) {
			*listen_fd = fds[k].fd;
			continue;
		}
		log_warning("Closing fd \"%s\" systemd passed: not ours", fds[k].name);
		close(fds[k].fd);
	}
}

/* Adopt the stored queues among @fds (sorted by name), keep the listening socket; returns it or -ENOENT. */
static int take_groups(struct broker *b, struct resolver *resolver, const struct passed *fds, int n)
{
	_cleanup_(owner_groups_clear) struct owner_groups og = { 0 };
	unsigned adopted_before = broker_active_queues(b), stored = 0;
	int listen_fd = -ENOENT;

	owner_groups_resolve(resolver, fds, n, &og);
	for (int i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(fds[i].name, fds[j].name) == 0; j++)
			;
		if (strncmp(fds[i].name, NAME_PREFIX, strlen(NAME_PREFIX)) == 0) {
			adopt_group(b, fds[i].name, &fds[i], (unsigned)(j - i), &og);
			stored++;
		} else {
			take_listener(&fds[i], (unsigned)(j - i), n == 1, &listen_fd);
		}
	}
	if (stored > 0) {
		log_info("Took back %u of %u queues from the fd store", broker_active_queues(b) - adopted_before,
			 stored);
		broker_adopt_finish(b);
	}
	return listen_fd;
}

int fdstore_take_passed(struct broker *b, struct resolver *resolver)
{
	_cleanup_(strv_freep) char **names = NULL;
	_cleanup_free_ struct passed *fds = NULL;
	int n = sd_listen_fds_with_names(true, &names);

	if (n <= 0) {
		if (n < 0)
			log_error_errno(n, "Could not read the fds systemd passed");
		return n < 0 ? n : -ENOENT;
	}
	fds = calloc((size_t)n, sizeof(*fds));
	if (!fds) {
		for (int i = 0; i < n; i++)
			close(SD_LISTEN_FDS_START + i);
		return log_error_errno(-ENOMEM, "Could not take the fds systemd passed");
	}
	for (int i = 0; i < n; i++)
		fds[i] = (struct passed){ SD_LISTEN_FDS_START + i, names && names[i] ? names[i] : "unknown" };
	qsort(fds, (size_t)n, sizeof(*fds), by_name);
	return take_groups(b, resolver, fds, n);
}

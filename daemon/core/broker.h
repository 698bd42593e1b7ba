/* SPDX-License-Identifier: MIT */
/*
 * The core: devices, queues and the limits on them.  Every listener (the
 * Unix socket, D-Bus) calls these functions with the peer's kernel-given
 * credentials; no listener holds policy of its own.  The core answers and
 * announces (watcher.h); it never calls the parts above it.
 */
#ifndef ACCEL_DAEMON_BROKER_H
#define ACCEL_DAEMON_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "clients.h"
#include "errors.h"
#include "list.h"
#include "owner.h"
#include "policy.h"
#include "queue.h"
#include "queue_index.h"
#include "tally.h"
#include "watcher.h"

struct device;
struct device_changes;
struct owner;

/* Who is asking, as the kernel told us (SO_PEERCRED, SO_PEERGROUPS, pidfd). */
struct peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool admin;		/* root, or a member of the admin group, and not @confined */
	struct owner *process;	/* the calling process; may be NULL */
	gid_t groups[POLICY_MAX_GROUPS];	/* primary and supplementary, at connect time */
	unsigned n_groups;
	/*
	 * Its systemd unit, slices and machine (identity.h), read from its
	 * cgroup by the listener when it acquires or claims (api/peer.c);
	 * NULL: not read, or in no unit, slice or machine.  Borrowed: a
	 * queue takes its own reference.
	 */
	struct cgroup_identity *identity;
	/*
	 * Called from inside a machine (a container or VM: its cgroup said so
	 * when its connection or bus name was first seen, api/peer.c), from a
	 * cgroup beside systemd's tree (a container no machined registered;
	 * no machine to tell, so only its own process's queues in view), or from a
	 * process whose cgroup could not be read then.  A container's root
	 * without a user namespace is uid 0 to SO_PEERCRED: a confined peer is
	 * never an administrator, and of its uid's queues it sees only those
	 * acquired in its machine (broker_may_see()).  @home is that cgroup's
	 * identity, NULL if unread; the connection or bus record owns it.
	 */
	bool confined;
	struct cgroup_identity *home;
};

/* The policy's view of @peer. */
static inline struct caller peer_caller(const struct peer *peer)
{
	return (struct caller){ peer->uid, peer->groups, peer->n_groups, peer->identity };
}

/* Why a queue was taken back: the wire's "reason". */
#define REVOKE_OWNER_EXITED	"owner-exited"
#define REVOKE_ADMIN		"admin"
#define REVOKE_POLICY		"policy"
#define REVOKE_SHUTDOWN		"shutdown"
#define REVOKE_DEVICE_REMOVED	"device-removed"
#define REVOKE_UNIT_UNKNOWN	"unit-unknown"	/* after a restart: its owner's cgroup could not be read */

/* Limits on connections; limits on queues are the policy's (policy.h). */
struct broker_limits {
	unsigned max_connections_per_user;
	unsigned max_connections;
	int admin_gid;		/* members may see and revoke every queue; -1: root only */
	uint64_t transfer_timeout_usec;	/* how long a TransferQueue token may be claimed */
	uint64_t reattach_timeout_usec;	/* after a restart: how long adopted connection queues wait */
};

struct broker {
	sd_event *event;	/* for following owners; NULL in unit tests */
	struct list devices;
	struct list queues;	/* in the order they were acquired (reload replays it) */
	struct tally tally;	/* @queues counted per uid and group pool: derived, see tally.h */
	struct queue_index index;	/* @queues by id */
	struct owners owners;	/* the processes owning queues; their exit revokes */
	struct list watchers;
	uint64_t next_queue_id;
	uint64_t started_usec;	/* CLOCK_MONOTONIC */
	struct clients clients;	/* socket connections and bus clients (clients.c) */
	struct broker_limits limits;
	struct policy *policy;	/* owned by the caller; replaced whole on reload */
	bool keep_queues;	/* at shutdown, let queues live on (a watcher keeps them: the fd store) */
	sd_event_source *reattach_timer;	/* after adopting: connection queues' deadline */
	sd_event_source *offer_timer;	/* the soonest TransferQueue token to expire (transfer.c) */
};

struct acquire_request {
	/*
	 * NULL: a raw queue of @device (which must be set), as open(2) of its
	 * node gives it: no algorithm set up, not started; the client's own
	 * driver does that (accel-run's programs).  q->algorithm is "" then.
	 */
	const char *algorithm;
	const char *device;	/* NULL: any */
	int numa_node;		/* -1: any */
};

void broker_init(struct broker *b, const struct broker_limits *limits, sd_event *event);
/*
 * The broker is stopping.  With keep_queues, let go of every queue as it
 * is, unannounced: it lives on in the fd store for the next broker.
 * Without, revoke them all (reason "shutdown").  Before the listeners close
 * their connections.
 */
void broker_shutdown(struct broker *b);
/* Revoke what is left and free every device. */
void broker_finish(struct broker *b);

/*
 * Take back a queue a previous broker handed out (the fd store): @q holds its
 * id, owner (uid, gid, pid), terms, algorithm and acquired_usec; @fd is
 * the queue and @pidfd its owner (-1: not followed).  Both fds are
 * consumed.  @groups: the owner's @n_groups groups as the user database
 * said at start (group pools count by them); none: its primary group
 * only.  On success the broker owns @q; the queue is detached until
 * its owner attaches it, like a process-lifetime queue after its
 * connection closed.
 */
int broker_adopt(struct broker *b, struct queue *q, const char *device, int fd, int pidfd,
		 const gid_t *groups, unsigned n_groups, struct accel_error *e);
/*
 * Done adopting: adopted queues of lifetime "connection" get
 * limits.reattach_timeout_usec for their owner to attach them, then are
 * released.
 */
void broker_adopt_finish(struct broker *b);

/* Add @dev (the broker owns it now) and tell the watchers. */
void broker_add_device(struct broker *b, struct device *dev);
/* @dev went away: revoke its queues, tell the watchers, free it. */
void broker_remove_device(struct broker *b, struct device *dev);
struct device *broker_find_device(struct broker *b, const char *name);
/* Remove c->gone, add c->added (taken); @c is finished.  Returns how many changed. */
unsigned broker_apply_device_changes(struct broker *b, struct device_changes *c);

/*
 * How a listener hands a queue to its caller: the reply that carries its
 * fd.  An attach or a claim sends it before the change is final, and
 * undoes the change if it cannot be sent (the caller never had the queue).
 */
typedef int (*broker_send_fn)(const struct queue *q, void *data);

/* @holder is what the queue is acquired on (the connection); its owner is peer->process. */
int broker_acquire(struct broker *b, const struct peer *peer, void *holder,
		   const struct acquire_request *req, struct queue **out,
		   struct accel_error *e);
int broker_release(struct broker *b, const struct peer *peer, void *holder,
		   uint64_t queue_id, struct accel_error *e);
/*
 * Hand @peer, on @holder, its queue @queue_id again (after reconnecting):
 * only the queue's owner process may.  The queue is held by @holder now,
 * once @send (NULL: none) sent it; if it cannot, the queue is held (or
 * waits) as before and @send's error is returned.  @out may be NULL.
 */
int broker_attach(struct broker *b, const struct peer *peer, void *holder, uint64_t queue_id,
		  broker_send_fn send, void *data, struct queue **out, struct accel_error *e);
/* @peer's queue @queue_id, as for ReleaseQueue (its holder or owner process), untouched. */
int broker_get_queue(struct broker *b, const struct peer *peer, void *holder, uint64_t queue_id,
		     struct queue **out, struct accel_error *e);
/*
 * The holder went away (connection closed): release all it held, except
 * queues of lifetime = process whose owner lives: those wait, detached.
 */
void broker_release_holder(struct broker *b, void *holder);

/*
 * Offer the caller's queue @queue_id to another process: @token (a fresh,
 * single-use secret, valid for limits.transfer_timeout_usec) lets one
 * process claim it.  A new offer replaces the queue's previous token.
 */
int broker_transfer(struct broker *b, const struct peer *peer, void *holder, uint64_t queue_id,
		    char token[QUEUE_TOKEN_LEN + 1], struct accel_error *e);
/*
 * Take over the queue offered with @token: the transfer policy of its
 * owner and the receiver's own policy and quota must allow it.  @peer
 * becomes its owner on its own terms, and @holder holds it, once @send
 * (NULL: none) sent it.  If it cannot, the queue goes back to its giver,
 * offered with the same token (a renewal stays: it cannot be undone), and
 * @send's error is returned.  @out may be NULL.
 */
int broker_claim(struct broker *b, const struct peer *peer, void *holder, const char *token,
		 broker_send_fn send, void *data, struct queue **out, struct accel_error *e);

/* Take @q back for @reason: stop it, tell the watchers, free its quota. */
void broker_revoke(struct broker *b, struct queue *q, const char *reason);
/* The process @o exited: revoke every queue it owned. */
void broker_owner_exited(struct broker *b, struct owner *o);

struct revoke_request {
	uint64_t queue_id;	/* 0: any */
	bool by_user;		/* only the queues of @uid (a name resolved by the listener) */
	uid_t uid;
	const char *device;	/* NULL: any */
	const char *unit;	/* NULL: any; the systemd unit the queue was acquired in */
};
/*
 * Revoke what @req selects (exactly one selector).  Non-admins reach only
 * their own queues.  Returns how many were revoked, or an error.
 */
int broker_revoke_matching(struct broker *b, const struct peer *peer,
			   const struct revoke_request *req, struct accel_error *e);

/*
 * Put @policy in force (it stays the caller's).  With @revoke, queues now
 * over a limit are revoked, newest first, until everyone is within limits.
 * Returns how many were revoked.
 */
int broker_set_policy(struct broker *b, struct policy *policy, bool revoke);

struct quota_line {
	char key[48];		/* "max_queues", "max_queues.gzip", "pool_max_queues" */
	int limit;
	unsigned used;
	char where[160];	/* the rule: "file:line" or "built-in ..." */
	long gid;		/* the group of a group rule, else -1 */
	enum rule_kind kind;	/* RULE_UNIT, RULE_SLICE, RULE_MACHINE: the pool of @scope */
	char scope[POLICY_PATTERN_MAX + 1];	/* "": not a unit's, slice's or machine's */
};

/* A devices= or allow= key that applies: it refuses acquires outright. */
struct quota_restriction {
	char key[16];		/* "devices", "allow" */
	char value[POLICY_MAX_DEVICES * 34];	/* the patterns, or "yes"/"no" */
	char where[160];	/* "file:line" */
	long gid;		/* the group of a group rule, else -1 */
	enum rule_kind kind;	/* as in quota_line */
	char scope[POLICY_PATTERN_MAX + 1];
};

/* The unit, slice or machine whose pool a quota line or restriction of @kind counts: @scope when @kind is @want. */
static inline const char *quota_scope(enum rule_kind kind, const char *scope, enum rule_kind want)
{
	return kind == want && scope[0] ? scope : NULL;
}

struct quota {
	uid_t uid;
	bool allowed;
	struct quota_line *lines;	/* free() */
	unsigned n_lines;
	struct quota_restriction *restrictions;	/* free() */
	unsigned n_restrictions;
	struct terms terms;	/* what its next queue would be handed out on */
};

/*
 * The limits that apply to @user (NULL: the caller; else its uid and its
 * groups as the user database says, resolved by the listener) and their
 * use now.  Only administrators may ask about another user.  The caller's
 * own uid counts with the groups the kernel gave it, whatever @user's say.
 * With @unit (then @user is NULL): the limits the caller would have in
 * that systemd unit, its slices and machine as the newest of its queues
 * recorded them (none if it holds none); only administrators may ask
 * about a unit not their own (peer->identity).
 */
int broker_get_quota(struct broker *b, const struct peer *peer, const struct caller *user, const char *unit,
		     struct quota *out, struct accel_error *e);

/*
 * Log that @what (a method) of @peer failed with @e: refusals by the policy
 * (PermissionDenied, QuotaExceeded) at notice, the rest at debug; rate-limited
 * per uid.  Both listeners call it where they answer with an error.
 */
void broker_log_failure(const struct peer *peer, const char *what, const struct accel_error *e);

/*
 * Whether @peer may name the user @uid to @what (GetQuota: "see another
 * user's quota", Revoke: "revoke another user's queues"): administrators any, others only themselves; PermissionDenied
 * otherwise.  The listeners ask it before a numeric uid goes to the user
 * database (a look-up keeps the single resolver worker), the core again
 * with the uid a name resolved to.
 */
#define NAME_QUOTA	"see another user's quota"
#define NAME_REVOKE	"revoke another user's queues"
int broker_may_name_user(const struct peer *peer, uid_t uid, const char *what, struct accel_error *e);

/*
 * Whether @peer may see @q in listings, revoke it, hear of it: an
 * administrator any; others their uid's, and a confined peer (struct peer)
 * only those of its uid acquired in its own machine or owned by its own
 * process.
 */
bool broker_may_see(const struct peer *peer, const struct queue *q);

unsigned broker_user_queues(struct broker *b, uid_t uid);
unsigned broker_active_queues(struct broker *b);
unsigned broker_device_count(struct broker *b);
/* Each uid holding queues @peer may see, once, with its count (in the order they came to hold them). */
void broker_for_each_user(struct broker *b, const struct peer *peer,
			  void (*fn)(uid_t uid, unsigned queues, void *data), void *data);
/* Whether the counts (b->tally) and the index match a walk over the queues; for tests. */
bool broker_counts_match(struct broker *b);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The user database (NSS: getpwnam_r, getpwuid_r, getgrouplist) off the
 * event loop.  These calls may wait on a remote directory (LDAP, sssd) for
 * seconds; one worker thread makes them, one job at a time, and answers
 * through an eventfd the loop watches.  A job's answer reaches its caller
 * on the loop thread, or never once the caller cancelled it.
 *
 * Bounds: RESOLVER_MAX_JOBS jobs at once, RESOLVER_MAX_JOBS_PER_UID of them
 * asked by one uid (more: -EBUSY), each answered -ETIMEDOUT after its
 * deadline.  A job cut off at its deadline while the worker is inside NSS
 * still counts until the worker comes back: the worker is never abandoned,
 * so what a hung directory costs stays bounded.
 */
#ifndef ACCEL_DAEMON_RESOLVER_H
#define ACCEL_DAEMON_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "errors.h"
#include "policy.h"

#define RESOLVER_MAX_JOBS		64u
#define RESOLVER_MAX_JOBS_PER_UID	4u
#define RESOLVER_TIMEOUT_USEC		(10u * 1000000u)
/* Test only: the deadline in milliseconds instead (tests/integration/test_resolver.c). */
#define RESOLVER_TIMEOUT_ENV		"ACCEL_BROKER_TEST_RESOLVER_TIMEOUT_MS"
/* The longest user name looked up (useradd allows 32). */
#define RESOLVER_NAME_MAX		256
/* The asker of the broker's own jobs (adoption at start): not limited. */
#define RESOLVER_ASKER_BROKER		((uid_t)-1)

struct resolver;
struct resolver_job;

/* By uid, a uid the user database does not know is answered with no groups, not -ENOENT. */
struct resolver_request {
	const char *name;	/* a user by name (copied); NULL: by uid */
	uid_t uid;
	bool groups;		/* also its groups (getgrouplist) */
	uid_t asker;		/* whose job it is, for the per-uid bound */
};

struct resolver_answer {
	/* 0; -ENOENT: no such user; -ETIMEDOUT: no answer by the deadline; else NSS failed */
	int error;
	char name[RESOLVER_NAME_MAX];	/* as asked; "": by uid */
	uid_t uid;		/* as found (by uid: as asked) */
	gid_t gid;		/* its primary group */
	gid_t groups[POLICY_MAX_GROUPS];	/* when asked: as getgrouplist says, cut at the maximum */
	unsigned n_groups;
};

/* Called on the loop thread, once, unless the job was cancelled first. */
typedef void (*resolver_done_fn)(const struct resolver_answer *a, void *userdata);

/* Start the worker; its answers are read on @event. */
int resolver_create(sd_event *event, struct resolver **out);
/* Stop the worker (every job is dropped unanswered) and free everything. */
void resolver_free(struct resolver *r);

/*
 * Queue @req; @done(@userdata) gets the answer.  -EBUSY over the bounds,
 * -ENAMETOOLONG or -ENOENT (empty) for a name no user has.  @out: the job, to cancel it
 * (e.g. when the caller goes away).
 */
int resolver_submit(struct resolver *r, const struct resolver_request *req, resolver_done_fn done,
		    void *userdata, struct resolver_job **out);
/*
 * Work of the broker's own that may wait on the user database (a reload's
 * parse): @run(@work) on the worker, in turn with the look-ups, then
 * @done(its return, @work, @userdata) on the loop thread.  Past the deadline
 * @done gets -ETIMEDOUT at once and must leave alone what @run writes: the
 * worker may still be at it.  @work is freed by @free_work when the worker
 * lets go of it (after @done, or on resolver_cancel()), also on failure to
 * submit.  Not counted against the per-uid bound.
 */
typedef int (*resolver_run_fn)(void *work);
typedef void (*resolver_work_done_fn)(int r, void *work, void *userdata);
struct resolver_work {
	resolver_run_fn run;
	void *work;
	void (*free_work)(void *work);
	resolver_work_done_fn done;
	void *userdata;
};
int resolver_submit_work(struct resolver *r, const struct resolver_work *w, struct resolver_job **out);

/* @done will not be called; the job's memory goes when the worker lets go of it. */
void resolver_cancel(struct resolver_job *j);

/*
 * Before the loop runs (adoption at start): the groups of the @n @uids,
 * waited for in all up to @timeout_usec.  out[i].error is -ETIMEDOUT for
 * each uid not answered by then.
 */
void resolver_groups_wait(struct resolver *r, const uid_t *uids, unsigned n, uint64_t timeout_usec,
			  struct resolver_answer *out);

/* A user given as a number needs no lookup: 0 and @uid set; 1 if @user is a name. */
int resolver_parse_user(const char *user, uid_t *uid);

/* A failed answer as the caller's error (named: InvalidParameter, OutOfResources); 0 if it did not fail. */
int resolver_answer_error(const struct resolver_answer *a, struct accel_error *e);
/* A failed resolver_submit() (@r) as the caller's error, where it is one (bounds, a bad name); else @r. */
int resolver_submit_error(int r, struct accel_error *e);

#endif

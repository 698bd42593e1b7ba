// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "list.h"
#include "log.h"
#include "resolver.h"
#include "util.h"

/* getpwnam_r's buffer grows (ERANGE) up to this. */
#define RESOLVER_BUFFER_MAX (1024u * 1024u)
/* How long stopping waits for a worker still inside NSS before leaving it be. */
#define RESOLVER_JOIN_USEC (2u * 1000000u)

enum job_state {
	JOB_PENDING,	/* on resolver.pending: the worker has not taken it */
	JOB_RUNNING,	/* the worker's, until it puts it on resolver.done */
	JOB_DONE,	/* on resolver.done: answered, read on the loop next */
};

/*
 * Thread rule: state and link belong to the lock; while RUNNING the worker
 * alone reads the request and writes answer; everything else (all, timer,
 * done, userdata) is the loop thread's.
 */
struct resolver_job {
	struct list link;	/* resolver.pending or resolver.done */
	struct list all;	/* resolver.jobs: counted against the bounds until freed */
	struct resolver *resolver;
	enum job_state state;
	char name[RESOLVER_NAME_MAX];	/* "" : by uid */
	uid_t uid;
	bool groups;
	uid_t asker;
	struct resolver_answer answer;
	sd_event_source *timer;	/* the deadline */
	resolver_done_fn done;	/* NULL: cancelled (both); freed when the worker lets go */
	resolver_work_done_fn work_done;	/* a work job's instead */
	void *userdata;
	resolver_run_fn run;	/* a work job: @run(@work) instead of a lookup */
	void *work;
	void (*free_work)(void *work);
};

struct resolver {
	sd_event *event;
	int efd;		/* the worker's "answers on resolver.done" */
	sd_event_source *efd_source;
	uint64_t timeout_usec;
	struct list jobs;	/* every job not freed (loop thread) */
	unsigned n_jobs;
	pthread_t worker;
	bool worker_started;
	pthread_mutex_t lock;
	pthread_cond_t wake;	/* pending work, or stopping */
	struct list pending;
	struct list done;
	bool stopping;
};

/* The passwd entry of @j's user into @pw (its strings in *@buf); 0, -ENOENT or -errno. */
static int lookup_passwd(const struct resolver_job *j, struct passwd *pw, char **buf)
{
	struct passwd *found = NULL;
	size_t size = 4096;
	int r;

	for (;;) {
		char *bigger = realloc(*buf, size);

		if (!bigger)
			return -ENOMEM;
		*buf = bigger;
		r = j->name[0] ? getpwnam_r(j->name, pw, *buf, size, &found) :
				 getpwuid_r(j->uid, pw, *buf, size, &found);
		if (r != ERANGE || size >= RESOLVER_BUFFER_MAX)
			break;
		size *= 2;
	}
	if (r != 0)
		return -r;
	return found ? 0 : -ENOENT;
}

/* The worker's part: the NSS calls.  Nothing of the loop's is touched here. */
static void job_run(struct resolver_job *j)
{
	struct resolver_answer *a = &j->answer;
	_cleanup_free_ char *buf = NULL;
	struct passwd pw;
	int n = (int)ELEMENTSOF(a->groups);

	if (j->run) {
		a->error = j->run(j->work);
		return;
	}
	a->error = lookup_passwd(j, &pw, &buf);
	if (a->error == -ENOENT && !j->name[0]) {
		a->error = 0;	/* a uid no database knows: no groups (its queues still count by uid) */
		return;
	}
	if (a->error < 0)
		return;
	a->uid = pw.pw_uid;
	a->gid = pw.pw_gid;
	if (!j->groups)
		return;
	/* Too many: glibc fills what fits; group rules may then miss the user, never wrongly apply. */
	if (getgrouplist(pw.pw_name, pw.pw_gid, a->groups, &n) < 0 || n > (int)ELEMENTSOF(a->groups))
		n = (int)ELEMENTSOF(a->groups);
	a->n_groups = (unsigned)n;
}

static void *worker_main(void *data)
{
	struct resolver *r = data;
	struct resolver_job *j;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->stopping && list_empty(&r->pending))
			pthread_cond_wait(&r->wake, &r->lock);
		if (r->stopping)
			break;
		j = list_entry(r->pending.next, struct resolver_job, link);
		list_remove(&j->link);
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&r->lock);
		job_run(j);
		pthread_mutex_lock(&r->lock);
		j->state = JOB_DONE;
		list_insert_tail(&r->done, &j->link);
		(void)eventfd_write(r->efd, 1);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void job_free(struct resolver_job *j)
{
	list_remove(&j->all);
	j->resolver->n_jobs--;
	sd_event_source_disable_unref(j->timer);
	if (j->free_work)
		j->free_work(j->work);
	free(j);
}

/* resolver_cancel(); true if @j is freed already (the worker never took it). */
static bool job_cancel(struct resolver_job *j)
{
	struct resolver *r = j->resolver;
	bool pending;

	pthread_mutex_lock(&r->lock);
	pending = j->state == JOB_PENDING;
	if (pending)
		list_remove(&j->link);
	pthread_mutex_unlock(&r->lock);
	if (pending) {
		job_free(j);
		return true;
	}
	/* The worker has it, or it waits on resolver.done: freed when read there. */
	j->done = NULL;
	j->work_done = NULL;
	j->timer = sd_event_source_disable_unref(j->timer);
	return false;
}

void resolver_cancel(struct resolver_job *j)
{
	if (j)
		(void)job_cancel(j);
}

/*
 * Answer @j's caller now (@a) and let the job go.  A work job's work stays
 * for the worker if it has it, else it goes after @done has seen it.
 */
static void job_answer(struct resolver_job *j, const struct resolver_answer *a)
{
	resolver_done_fn done = j->done;
	resolver_work_done_fn work_done = j->work_done;
	void *userdata = j->userdata, *work = j->work;
	void (*free_work)(void *work) = TAKE_PTR(j->free_work);

	if (!job_cancel(j))
		j->free_work = TAKE_PTR(free_work);	/* the worker's still: freed when it lets go */
	if (done)
		done(a, userdata);
	if (work_done)
		work_done(a->error, work, userdata);
	if (free_work)
		free_work(work);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct resolver_job *j = userdata;
	struct resolver_answer a = { .error = -ETIMEDOUT };

	(void)s;
	(void)usec;
	memcpy(a.name, j->name, sizeof(a.name));
	a.uid = j->uid;
	job_answer(j, &a);
	return 0;
}

/* Hand every answered job to its caller (loop thread). */
static void resolver_read_done(struct resolver *r)
{
	struct list done;
	struct resolver_job *j, *tmp;
	eventfd_t n;

	(void)eventfd_read(r->efd, &n);
	list_init(&done);
	pthread_mutex_lock(&r->lock);
	list_for_each_safe(j, tmp, &r->done, link) {
		list_remove(&j->link);
		list_insert_tail(&done, &j->link);
	}
	pthread_mutex_unlock(&r->lock);
	/* A caller may cancel another answered job meanwhile: cancel only clears its done. */
	list_for_each_safe(j, tmp, &done, link) {
		resolver_done_fn fn = j->done;
		resolver_work_done_fn work_fn = j->work_done;
		void (*free_work)(void *work) = TAKE_PTR(j->free_work);
		void *userdata = j->userdata, *work = j->work;
		struct resolver_answer a = j->answer;

		list_remove(&j->link);
		job_free(j);
		if (fn)
			fn(&a, userdata);
		if (work_fn)
			work_fn(a.error, work, userdata);
		if (free_work)
			free_work(work);
	}
}

static int on_answers(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)s;
	(void)fd;
	(void)revents;
	resolver_read_done(userdata);
	return 0;
}

static unsigned jobs_of(const struct resolver *r, uid_t asker)
{
	const struct resolver_job *j;
	unsigned n = 0;

	list_for_each(j, &r->jobs, all)
		n += j->asker == asker;
	return n;
}

static int job_new(struct resolver *r, const struct resolver_request *req, struct resolver_job **out)
{
	_cleanup_free_ struct resolver_job *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	if (req->name && strlen(req->name) >= sizeof(j->name))
		return -ENAMETOOLONG;
	/* "" in j->name means "by uid": an empty name would look up uid 0. */
	if (req->name && !req->name[0])
		return -ENOENT;
	snprintf(j->name, sizeof(j->name), "%s", req->name ? req->name : "");
	memcpy(j->answer.name, j->name, sizeof(j->name));
	j->answer.uid = req->uid;
	j->resolver = r;
	j->uid = req->uid;
	j->groups = req->groups;
	j->asker = req->asker;
	*out = TAKE_PTR(j);
	return 0;
}

/* Arm @j's deadline and hand it to the worker; on failure @j is freed. */
static int job_queue(struct resolver *r, struct resolver_job *j, struct resolver_job **out)
{
	int ret = sd_event_add_time_relative(r->event, &j->timer, CLOCK_MONOTONIC, r->timeout_usec, 0,
					     on_deadline, j);

	if (ret < 0) {
		if (j->free_work)
			j->free_work(j->work);
		free(j);
		return ret;
	}
	list_insert_tail(&r->jobs, &j->all);
	r->n_jobs++;
	pthread_mutex_lock(&r->lock);
	list_insert_tail(&r->pending, &j->link);
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	if (out)
		*out = j;
	return 0;
}

int resolver_submit(struct resolver *r, const struct resolver_request *req, resolver_done_fn done,
		    void *userdata, struct resolver_job **out)
{
	struct resolver_job *j;
	int ret;

	assert(r && req && done);
	if (req->asker != RESOLVER_ASKER_BROKER &&
	    (r->n_jobs >= RESOLVER_MAX_JOBS || jobs_of(r, req->asker) >= RESOLVER_MAX_JOBS_PER_UID))
		return -EBUSY;
	ret = job_new(r, req, &j);
	if (ret < 0)
		return ret;
	j->done = done;
	j->userdata = userdata;
	return job_queue(r, j, out);
}

int resolver_submit_work(struct resolver *r, const struct resolver_work *w, struct resolver_job **out)
{
	struct resolver_job *j;

	assert(r && w && w->run && w->done);
	j = calloc(1, sizeof(*j));
	if (!j) {
		if (w->free_work)
			w->free_work(w->work);
		return -ENOMEM;
	}
	*j = (struct resolver_job){ .resolver = r, .asker = RESOLVER_ASKER_BROKER, .run = w->run, .work = w->work,
				    .free_work = w->free_work, .work_done = w->done, .userdata = w->userdata };
	return job_queue(r, j, out);
}

static void resolver_freep(struct resolver **r)
{
	resolver_free(*r);
}

/* The deadline: RESOLVER_TIMEOUT_USEC, or the test's. */
static uint64_t resolver_timeout(void)
{
	const char *s = getenv(RESOLVER_TIMEOUT_ENV);
	int ms;

	if (s && parse_int_range(s, 1, 3600 * 1000, &ms) == 0)
		return (uint64_t)ms * 1000u;
	return RESOLVER_TIMEOUT_USEC;
}

int resolver_create(sd_event *event, struct resolver **out)
{
	_cleanup_(resolver_freep) struct resolver *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	r->efd = -1;
	r->event = sd_event_ref(event);
	r->timeout_usec = resolver_timeout();
	list_init(&r->jobs);
	list_init(&r->pending);
	list_init(&r->done);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0)
		return -errno;
	ret = sd_event_add_io(event, &r->efd_source, r->efd, EPOLLIN, on_answers, r);
	if (ret < 0)
		return ret;
	ret = -pthread_create(&r->worker, NULL, worker_main, r);
	if (ret < 0)
		return ret;
	r->worker_started = true;
	*out = TAKE_PTR(r);
	return 0;
}

/* Whether the worker stopped within RESOLVER_JOIN_USEC. */
static bool worker_join(struct resolver *r)
{
	struct timespec until;

	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += RESOLVER_JOIN_USEC / 1000000u;
	return pthread_timedjoin_np(r->worker, NULL, &until) == 0;
}

void resolver_free(struct resolver *r)
{
	struct resolver_job *j, *tmp;

	if (!r)
		return;
	if (r->worker_started && !worker_join(r)) {
		/* Its memory stays for the worker to finish with; the process is exiting. */
		log_warning("The user database has not answered for a while: leaving its lookup behind");
		return;
	}
	list_for_each_safe(j, tmp, &r->jobs, all)
		job_free(j);
	sd_event_source_disable_unref(r->efd_source);
	if (r->efd >= 0)
		close(r->efd);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	sd_event_unref(r->event);
	free(r);
}

struct wait_slot {
	struct resolver_answer *out;
	struct resolver_job *job;	/* NULL once answered */
	unsigned *left;
};

static void on_waited(const struct resolver_answer *a, void *userdata)
{
	struct wait_slot *slot = userdata;

	*slot->out = *a;
	slot->job = NULL;
	(*slot->left)--;
}

void resolver_groups_wait(struct resolver *r, const uid_t *uids, unsigned n, uint64_t timeout_usec,
			  struct resolver_answer *out)
{
	_cleanup_free_ struct wait_slot *slots = calloc(n ? n : 1, sizeof(*slots));
	uint64_t until = now_usec(CLOCK_MONOTONIC) + timeout_usec, now;
	unsigned left = 0;

	for (unsigned i = 0; i < n; i++) {
		out[i] = (struct resolver_answer){ .error = -ETIMEDOUT, .uid = uids[i] };
		if (!slots)
			continue;
		slots[i] = (struct wait_slot){ &out[i], NULL, &left };
		if (resolver_submit(r, &(struct resolver_request){ .uid = uids[i], .groups = true,
								  .asker = RESOLVER_ASKER_BROKER },
				    on_waited, &slots[i], &slots[i].job) == 0)
			left++;
	}
	/* The loop does not run yet: wait on the worker's eventfd here. */
	while (left > 0 && (now = now_usec(CLOCK_MONOTONIC)) < until) {
		struct pollfd p = { .fd = r->efd, .events = POLLIN };

		if (poll(&p, 1, (int)((until - now + 999) / 1000)) > 0)
			resolver_read_done(r);
	}
	for (unsigned i = 0; slots && i < n; i++)
		resolver_cancel(slots[i].job);
}

int resolver_parse_user(const char *user, uid_t *uid)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(user, &end, 10);
	if (*user && *user != '-' && !errno && *end == '\0' && v < UINT32_MAX) {
		*uid = (uid_t)v;
		return 0;
	}
	return 1;
}

int resolver_answer_error(const struct resolver_answer *a, struct accel_error *e)
{
	switch (a->error) {
	case 0:
		return 0;
	case -ENOENT:
		if (a->name[0])
			return accel_error_set(e, ERR_INVALID_PARAMETER, "no user \"%.64s\"", a->name);
		return accel_error_set(e, ERR_INVALID_PARAMETER, "no user %u", (unsigned)a->uid);
	case -ETIMEDOUT:
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "the user database did not answer in time");
	default:
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "could not look the user up: %s",
				       strerror(-a->error));
	}
}

int resolver_submit_error(int r, struct accel_error *e)
{
	if (r == -EBUSY)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "too many user look-ups in flight; try again");
	if (r == -ENAMETOOLONG)
		return accel_error_set(e, ERR_INVALID_PARAMETER, "no user by a name that long");
	if (r == -ENOENT)
		return accel_error_set(e, ERR_INVALID_PARAMETER, "no user by an empty name");
	return r;
}

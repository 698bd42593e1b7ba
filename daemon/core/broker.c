// SPDX-License-Identifier: MIT
/* The broker itself: its start and end, its counts, and what every entry point shares. */
#include <assert.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "device.h"
#include "log.h"
#include "owner.h"
#include "util.h"

static void on_owner_exited(struct owner *o, void *data)
{
	broker_owner_exited(data, o);
}

void broker_init(struct broker *b, const struct broker_limits *limits, sd_event *event)
{
	assert(b && limits);
	*b = (struct broker){
		.event = event,
		.next_queue_id = 1,
		.started_usec = now_usec(CLOCK_MONOTONIC),
		.limits = *limits,
	};
	list_init(&b->devices);
	list_init(&b->queues);
	tally_init(&b->tally);
	queue_index_init(&b->index);
	owners_init(&b->owners, event, on_owner_exited, b);
	list_init(&b->watchers);
}

void broker_shutdown(struct broker *b)
{
	struct queue *q, *tmp;
	unsigned kept = 0;

	list_for_each_safe(q, tmp, &b->queues, link) {
		if (!b->keep_queues) {
			broker_revoke(b, q, REVOKE_SHUTDOWN);
			continue;
		}
		queue_forget(b, q);
		kept++;
	}
	if (kept)
		log_info("Left %u queues in the fd store for the next broker", kept);
}

void broker_finish(struct broker *b)
{
	struct device *d, *dtmp;

	broker_shutdown(b);
	list_for_each_safe(d, dtmp, &b->devices, link)
		device_destroy(d);
	b->reattach_timer = sd_event_source_disable_unref(b->reattach_timer);
	b->offer_timer = sd_event_source_disable_unref(b->offer_timer);
	tally_finish(&b->tally);
	queue_index_finish(&b->index);
	clients_finish(&b->clients);
}

unsigned broker_user_queues(struct broker *b, uid_t uid)
{
	return tally_user(&b->tally, uid, NULL);
}

void broker_for_each_user(struct broker *b, const struct peer *peer,
			  void (*fn)(uid_t uid, unsigned queues, void *data), void *data)
{
	struct tally_entry *u;
	unsigned n;

	if (!peer->admin) {	/* broker_may_see(): its own queues only */
		n = tally_user(&b->tally, peer->uid, NULL);
		if (n > 0)
			fn(peer->uid, n, data);
		return;
	}
	tally_for_each_user(u, &b->tally)
		fn((uid_t)u->id, u->queues, data);
}

bool broker_counts_match(struct broker *b)
{
	struct tally recount;
	struct queue *q;
	bool match = true;

	tally_init(&recount);
	list_for_each(q, &b->queues, link)
		match = match && queue_count(&recount, q) == 0 && queue_index_find(&b->index, q->id) == q;
	match = match && tally_equal(&recount, &b->tally) && b->index.n_queues == recount.queues;
	tally_finish(&recount);
	return match;
}

unsigned broker_active_queues(struct broker *b)
{
	return b->tally.queues;
}

/* Whether @q was acquired in @peer's machine: by name, as its [machine:] pool counts. */
static bool in_home_machine(const struct peer *peer, const struct queue *q)
{
	const char *home = peer->home ? peer->home->machine : NULL;

	return home && q->identity && q->identity->machine && strcmp(q->identity->machine, home) == 0;
}

bool broker_may_see(const struct peer *peer, const struct queue *q)
{
	if (peer->admin)
		return true;
	/*
	 * The host's view of a uid includes its containers'; a container's
	 * stops at its own, and at its own process's where there is no machine
	 * to tell (beside systemd's tree): a restarted broker's queue that
	 * process attaches again.
	 */
	return peer->uid == q->uid &&
	       (!peer->confined || in_home_machine(peer, q) || (peer->process && q->process == peer->process));
}

int broker_may_name_user(const struct peer *peer, uid_t uid, const char *what, struct accel_error *e)
{
	if (peer->admin || uid == peer->uid)
		return 0;
	return accel_error_set(e, ERR_PERMISSION_DENIED, "only an administrator may %s", what);
}

void broker_log_failure(const struct peer *peer, const char *what, const struct accel_error *e)
{
	/*
	 * A refusal is the policy at work, which an administrator wants to see
	 * at the default level; other failures (a wrong id, a bad parameter)
	 * are the client's business.
	 */
	bool refusal = e->name && (strcmp(e->name, ERR_PERMISSION_DENIED) == 0 ||
				   strcmp(e->name, ERR_QUOTA_EXCEEDED) == 0);

	log_client(peer->uid, refusal ? LOG_NOTICE : LOG_DEBUG, "%s from pid %d uid %u %s: %s", what,
		   (int)peer->pid, (unsigned)peer->uid, refusal ? "refused" : "failed", e->message);
}

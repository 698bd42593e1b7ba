// SPDX-License-Identifier: MIT
#include <assert.h>

#include "broker.h"
#include "watcher.h"

void broker_watch(struct broker *b, struct broker_watcher *w)
{
	assert(b && w);
	list_insert_tail(&b->watchers, &w->link);
}

void broker_unwatch(struct broker_watcher *w)
{
	assert(w);
	list_remove(&w->link);
}

static bool hears_of(const struct broker_watcher *w, const struct queue *q)
{
	return !w->peer || broker_may_see(w->peer, q);
}

/*
 * Every walk is _safe: a hook may unwatch its own watcher (a connection
 * that failed while being told is closed later, but a unit test's may go).
 */
void watchers_queue_added(struct broker *b, const struct queue *q, enum queue_origin origin)
{
	struct broker_watcher *w, *tmp;

	list_for_each_safe(w, tmp, &b->watchers, link)
		if (w->queue_added && hears_of(w, q))
			w->queue_added(w, q, origin);
}

void watchers_queue_changed(struct broker *b, const struct queue *q, enum queue_state from,
			    const char *reason)
{
	struct broker_watcher *w, *tmp;

	list_for_each_safe(w, tmp, &b->watchers, link)
		if (w->queue_changed && hears_of(w, q))
			w->queue_changed(w, q, from, reason);
}

void watchers_queue_removed(struct broker *b, const struct queue *q)
{
	struct broker_watcher *w, *tmp;

	list_for_each_safe(w, tmp, &b->watchers, link)
		if (w->queue_removed && hears_of(w, q))
			w->queue_removed(w, q);
}

void watchers_device_changed(struct broker *b, const struct device *d, const char *event)
{
	struct broker_watcher *w, *tmp;

	list_for_each_safe(w, tmp, &b->watchers, link)
		if (w->device_changed)
			w->device_changed(w, d, event);
}

void watchers_policy_replaced(struct broker *b, const struct policy *policy)
{
	struct broker_watcher *w, *tmp;

	list_for_each_safe(w, tmp, &b->watchers, link)
		if (w->policy_replaced)
			w->policy_replaced(w, policy);
}

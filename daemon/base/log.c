// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int max_level = LOG_INFO;

void log_set_level(int level)
{
	max_level = level;
}

int log_get_level(void)
{
	return max_level;
}

int log_level_from_string(const char *s)
{
	static const char *const names[] = {
		"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
	};
	char *end;
	long v;

	for (int i = 0; i < 8; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i;
	if (strcasecmp(s, "error") == 0)
		return LOG_ERR;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < 0 || v > 7)
		return -EINVAL;
	return (int)v;
}

static void log_va(int level, const char *fmt, va_list ap)
{
	char buf[1024];

	if (level > max_level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/*
	 * The prefix is for journald, which reads it off a service's stderr;
	 * a person at a terminal gets the bare line.  Asked each time: stderr
	 * may be redirected after start.
	 */
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "%s\n", buf);
	else
		fprintf(stderr, "<%d>%s\n", level, buf);
}

void log_full(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_va(level, fmt, ap);
	va_end(ap);
}

int log_full_errno(int level, int r, const char *fmt, ...)
{
	char buf[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_full(level, "%s: %s", buf, strerror(r < 0 ? -r : r));
	return r;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * One budget per uid, so that one user's flood silences only that user.  The
 * table is bounded: a uid that finds no slot of its own (its uid absent, and
 * every slot busy within its window) shares the last one with the others.
 */
struct client_budget {
	uid_t uid;
	bool used;
	uint64_t window_start;
	unsigned in_window, suppressed;
};

static struct client_budget budgets[LOG_CLIENT_UIDS + 1];

/* Start a new window, first saying what the last one held back. */
static void budget_reset(struct client_budget *b, uid_t uid, uint64_t now)
{
	if (b->used && b->suppressed > 0) {
		if (b == &budgets[LOG_CLIENT_UIDS])
			log_full(LOG_WARNING, "Suppressed %u client messages about other uids",
				 b->suppressed);
		else
			log_full(LOG_WARNING, "Suppressed %u client messages about uid %u",
				 b->suppressed, (unsigned)b->uid);
	}
	*b = (struct client_budget){ .uid = uid, .used = true, .window_start = now };
}

static struct client_budget *budget_of(uid_t uid, uint64_t now)
{
	struct client_budget *spare = NULL, *b;

	for (size_t i = 0; i < LOG_CLIENT_UIDS; i++) {
		b = &budgets[i];
		if (b->used && b->uid == uid) {
			if (now - b->window_start >= LOG_RATELIMIT_INTERVAL_USEC)
				budget_reset(b, uid, now);
			return b;
		}
		if (!spare && (!b->used || now - b->window_start >= LOG_RATELIMIT_INTERVAL_USEC))
			spare = b;
	}
	if (spare) {
		budget_reset(spare, uid, now);
		return spare;
	}
	b = &budgets[LOG_CLIENT_UIDS];
	if (!b->used || now - b->window_start >= LOG_RATELIMIT_INTERVAL_USEC)
		budget_reset(b, uid, now);
	return b;
}

void log_client(uid_t uid, int level, const char *fmt, ...)
{
	/* The event loop is the only caller: no lock needed. */
	struct client_budget *b;
	va_list ap;

	if (level > max_level)
		return;
	b = budget_of(uid, now_usec());
	if (++b->in_window > LOG_RATELIMIT_BURST) {
		b->suppressed++;
		return;
	}
	va_start(ap, fmt);
	log_va(level, fmt, ap);
	va_end(ap);
}

// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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

void log_client(int level, const char *fmt, ...)
{
	/* The event loop is the only caller: no lock needed. */
	static uint64_t window_start;
	static unsigned in_window, suppressed;
	uint64_t now = now_usec();
	va_list ap;

	if (level > max_level)
		return;
	if (now - window_start >= LOG_RATELIMIT_INTERVAL_USEC) {
		if (suppressed > 0)
			log_full(LOG_WARNING, "Suppressed %u client messages", suppressed);
		window_start = now;
		in_window = 0;
		suppressed = 0;
	}
	if (++in_window > LOG_RATELIMIT_BURST) {
		suppressed++;
		return;
	}
	va_start(ap, fmt);
	log_va(level, fmt, ap);
	va_end(ap);
}

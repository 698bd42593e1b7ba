/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr with syslog level prefixes ("<3>..."), which journald
 * turns into priorities when it reads a service's stderr; without them
 * when stderr is a terminal.
 */
#ifndef ACCEL_DAEMON_LOG_H
#define ACCEL_DAEMON_LOG_H

#include <stdbool.h>
#include <sys/types.h>
#include <syslog.h>

void log_set_level(int level);
int log_get_level(void);
/* Parse "err", "warning", "info", "debug" or 0-7; -EINVAL otherwise. */
int log_level_from_string(const char *s);

/* Log and return @r (a negative errno), so that callers can return it. */
int log_full_errno(int level, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_full(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)		log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)		log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)		log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...)	log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)		log_full(LOG_ERR, __VA_ARGS__)
#define log_error_errno(r, ...)	log_full_errno(LOG_ERR, r, __VA_ARGS__)
#define log_warning_errno(r, ...) log_full_errno(LOG_WARNING, r, __VA_ARGS__)

/*
 * Messages caused by clients go through a rate limit per uid (a burst per
 * interval), so that a flood of bad requests cannot flood the journal, nor
 * one user's flood hide what others caused.  Suppressed messages are counted
 * and reported when that uid logs again.  LOG_CLIENT_UIDS uids have a budget
 * of their own at a time; the rest share one.  @uid is the client's, or
 * LOG_UID_NONE where none is known yet (a failed accept).
 */
#define LOG_RATELIMIT_BURST	20
#define LOG_RATELIMIT_INTERVAL_USEC	(5 * 1000000ULL)
#define LOG_CLIENT_UIDS		64
#define LOG_UID_NONE		((uid_t)-1)
void log_client(uid_t uid, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif

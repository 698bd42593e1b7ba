/* SPDX-License-Identifier: MIT */
/*
 * The user database (NSS: getpwnam, getgrouplist), for users named by an
 * administrator or not connected.  These calls may block on a remote
 * directory; they run only for Revoke and GetQuota by user name, GetQuota
 * of another user, and adoption after a restart (see docs/design.md).
 */
#ifndef ACCEL_DAEMON_NSS_H
#define ACCEL_DAEMON_NSS_H

#include <sys/types.h>

/* The groups of @uid as the user database says, at most @max; 0 if unknown. */
unsigned nss_user_groups(uid_t uid, gid_t *groups, int max);
/* A user by name or number; -ENOENT if there is none. */
int nss_parse_user(const char *s, uid_t *out);

#endif

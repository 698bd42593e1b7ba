/* SPDX-License-Identifier: MIT */
/*
 * The user database of the harnesses that resolve names: a small table of
 * our own in place of libc's NSS look-ups, which the code under test calls
 * by these names.  glibc reopens /etc/passwd and its modules on every call:
 * that was nine tenths of the time of a config run, and NSS is not ours to
 * fuzz.  The table also makes a run the same on every machine.
 *
 * Include it in one harness file only: it defines the functions.
 */
#ifndef ACCEL_TESTS_FUZZ_NSS_H
#define ACCEL_TESTS_FUZZ_NSS_H

#include <grp.h>
#include <pwd.h>
#include <string.h>

static struct passwd fuzz_users[] = {
	{ .pw_name = "root", .pw_uid = 0, .pw_gid = 0 },
	{ .pw_name = "user", .pw_uid = 1000, .pw_gid = 1000 },
	{ .pw_name = "nobody", .pw_uid = 65534, .pw_gid = 65534 },
};

static struct group fuzz_groups[] = {
	{ .gr_name = "root", .gr_gid = 0 },
	{ .gr_name = "sudo", .gr_gid = 27 },	/* "user" is a member */
	{ .gr_name = "users", .gr_gid = 100 },
	{ .gr_name = "user", .gr_gid = 1000 },
	{ .gr_name = "nogroup", .gr_gid = 65534 },
};

#define FUZZ_N(a) (sizeof(a) / sizeof((a)[0]))

struct passwd *getpwnam(const char *name)
{
	for (size_t i = 0; i < FUZZ_N(fuzz_users); i++)
		if (strcmp(fuzz_users[i].pw_name, name) == 0)
			return &fuzz_users[i];
	return NULL;
}

struct passwd *getpwuid(uid_t uid)
{
	for (size_t i = 0; i < FUZZ_N(fuzz_users); i++)
		if (fuzz_users[i].pw_uid == uid)
			return &fuzz_users[i];
	return NULL;
}

struct group *getgrnam(const char *name)
{
	for (size_t i = 0; i < FUZZ_N(fuzz_groups); i++)
		if (strcmp(fuzz_groups[i].gr_name, name) == 0)
			return &fuzz_groups[i];
	return NULL;
}

/* @group, then "sudo" for "user"; -1 with the count needed when it does not fit. */
int getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups)
{
	int n = strcmp(user, "user") == 0 ? 2 : 1;

	if (*ngroups < n) {
		*ngroups = n;
		return -1;
	}
	groups[0] = group;
	if (n == 2)
		groups[1] = 27;
	*ngroups = n;
	return n;
}

#endif

// SPDX-License-Identifier: MIT
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>

#include "nss.h"

unsigned nss_user_groups(uid_t uid, gid_t *groups, int max)
{
	struct passwd *pw = getpwuid(uid);
	int n = max;

	if (!pw || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return 0;
	return (unsigned)n;
}

int nss_parse_user(const char *s, uid_t *out)
{
	struct passwd *pw;
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s && !errno && *end == '\0' && v < UINT32_MAX) {
		*out = (uid_t)v;
		return 0;
	}
	/* NSS may ask a remote directory; names are for admins at a prompt. */
	pw = getpwnam(s);
	if (!pw)
		return -ENOENT;
	*out = pw->pw_uid;
	return 0;
}

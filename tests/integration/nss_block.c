// SPDX-License-Identifier: MIT
/*
 * A slow user database for test_resolver, LD_PRELOADed into the broker:
 * getpwnam_r() and getpwnam() of a name starting with $NSS_BLOCK_NAME say
 * "e" (entered) on the socket $NSS_BLOCK_FD, then wait there for one byte:
 * "n" answers "no such user", anything else a user of uid and gid 4242.
 * Every other name goes to the real functions.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCKED_UID 4242

typedef int (*getpwnam_r_fn)(const char *, struct passwd *, char *, size_t, struct passwd **);
typedef struct passwd *(*getpwnam_fn)(const char *);

int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t size, struct passwd **result);
struct passwd *getpwnam(const char *name);

/* Whether @name is the magic one; if so, wait for the test's word, put in *@word. */
static int blocked(const char *name, char *word)
{
	const char *magic = getenv("NSS_BLOCK_NAME");
	const char *fd_s = getenv("NSS_BLOCK_FD");
	int fd;

	if (!magic || !fd_s || strncmp(name, magic, strlen(magic)) != 0)
		return 0;
	fd = atoi(fd_s);
	*word = 'n';
	if (write(fd, "e", 1) != 1 || read(fd, word, 1) != 1)
		*word = 'n';
	return 1;
}

static void fill(struct passwd *pw, char *name)
{
	static char empty[] = "";

	*pw = (struct passwd){ .pw_name = name, .pw_passwd = empty, .pw_uid = BLOCKED_UID,
			       .pw_gid = BLOCKED_UID, .pw_gecos = empty, .pw_dir = empty, .pw_shell = empty };
}

int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t size, struct passwd **result)
{
	char word;

	if (!blocked(name, &word))
		return ((getpwnam_r_fn)dlsym(RTLD_NEXT, "getpwnam_r"))(name, pw, buf, size, result);
	*result = NULL;
	if (word == 'n')
		return 0;
	if (strlen(name) + 1 > size)
		return ERANGE;
	strcpy(buf, name);
	fill(pw, buf);
	*result = pw;
	return 0;
}

struct passwd *getpwnam(const char *name)
{
	static struct passwd pw;
	static char saved[256];
	char word;

	if (!blocked(name, &word))
		return ((getpwnam_fn)dlsym(RTLD_NEXT, "getpwnam"))(name);
	if (word == 'n' || strlen(name) >= sizeof(saved))
		return NULL;
	strcpy(saved, name);
	fill(&pw, saved);
	return &pw;
}

// SPDX-License-Identifier: MIT
/*
 * libaccel-preload.so: an unchanged uacce program gets its queues from the
 * broker.  Intercepted, and nothing else (the data path, mmap, ioctl,
 * poll, munmap, goes to the kernel on the brokered fd untouched):
 *
 *  - open, open64, openat, openat64, __open_2, __open64_2, __openat_2,
 *    __openat64_2: an open of <dev>/<uacce device> is a raw AcquireQueue of
 *    that device; an open of a device's available_instances reads what this
 *    user may open now (allowance.h);
 *  - realpath, access, faccessat: a device node the broker serves exists
 *    and is usable for the program, whatever its mode (or if it is missing);
 *  - opendir, readdir, readdir64, closedir on the uacce class directory:
 *    only the devices this user may use are listed;
 *  - close, dup, dup2, dup3, fcntl (F_DUPFD, F_DUPFD_CLOEXEC), close_range,
 *    closefrom: a queue goes back to the broker when its last descriptor
 *    closes (in the process whose table it is: not in a vfork()ed child).
 *
 * Absolute paths only (UADK's are).  Without a broker, or for a device the
 * broker does not serve, every call is the kernel's.  The program's calls
 * made from inside the preload (libaccel's, json-c's) go straight to libc.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "allowance.h"
#include "fdtable.h"
#include "paths.h"
#include "session.h"

#define EXPORT __attribute__((visibility("default")))

/* The fortified entry points glibc's headers declare only under _FORTIFY_SOURCE. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
int fcntl64(int fd, int cmd, ...);

/* libc's own functions, found on first use (another library's constructor may open before ours runs). */
static struct {
	int (*open)(const char *, int, ...);
	int (*open64)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*openat64)(int, const char *, int, ...);
	int (*open_2)(const char *, int);
	int (*open64_2)(const char *, int);
	int (*openat_2)(int, const char *, int);
	int (*openat64_2)(int, const char *, int);
	char *(*realpath)(const char *, char *);
	int (*access)(const char *, int);
	int (*faccessat)(int, const char *, int, int);
	DIR *(*opendir)(const char *);
	struct dirent *(*readdir)(DIR *);
	struct dirent64 *(*readdir64)(DIR *);
	int (*closedir)(DIR *);
	int (*close)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*close_range)(unsigned, unsigned, int);
	void (*closefrom)(int);
} real;

static void *resolve(void **slot, const char *name)
{
	void *f = __atomic_load_n(slot, __ATOMIC_RELAXED);

	if (!f) {
		f = dlsym(RTLD_NEXT, name);
		__atomic_store_n(slot, f, __ATOMIC_RELAXED);
	}
	return f;
}

#define REAL_AS(field, name) ((__typeof__(real.field))resolve((void **)&real.field, name))
#define REAL(field) REAL_AS(field, #field)

/*
 * Two locks, never held together but by the fork handlers (the session's
 * first).  @state_lock: the table and the directory filters, for
 * bookkeeping only, never across a call to the broker, so that no close()
 * waits on the broker.  @session_lock: the connection (session.c), held
 * across the exchange with the broker.  @busy: this thread is talking to
 * the broker, so the calls libaccel and json-c make (close, open of
 * nothing of ours) go straight to libc, lock-free.
 */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread bool busy;
static struct fdtable table;
static size_t n_tracked;	/* fdtable_count(&table), read without the lock by the fast paths */

/* A listing of the class directory, filtered by what this user may use. */
struct dir_filter {
	DIR *dir;
	struct allowance allowance;
	struct dir_filter *next;
};
static struct dir_filter *filters;

static void fork_prepare(void)
{
	pthread_mutex_lock(&session_lock);
	pthread_mutex_lock(&state_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&state_lock);
	pthread_mutex_unlock(&session_lock);
}

/* The child's copies of queue fds are its parent's queues, and so is the connection. */
static void fork_child(void)
{
	pthread_mutex_init(&state_lock, NULL);
	pthread_mutex_init(&session_lock, NULL);
	fdtable_clear(&table);
	n_tracked = 0;
	session_forked();
}

/*
 * After libaccel's handlers, so that ours run first before a fork (handlers
 * run in reverse order): our locks are taken before libaccel's client
 * locks, the order every call through the preload takes them in.
 */
static void watch_forks(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void lock_state(void)
{
	pthread_mutex_lock(&state_lock);
}

static void unlock_state(void)
{
	__atomic_store_n(&n_tracked, fdtable_count(&table), __ATOMIC_RELAXED);
	pthread_mutex_unlock(&state_lock);
}

static void enter_session(void)
{
	busy = true;
	pthread_mutex_lock(&session_lock);
}

static void leave_session(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	bool connected = session_connected();

	pthread_mutex_unlock(&session_lock);
	if (connected)
		pthread_once(&once, watch_forks);
	busy = false;
}

/* Give back queues whose last descriptor went; errno is kept. */
static void release_queues(const uint64_t *ids, size_t n)
{
	int saved = errno;

	if (n == 0)
		return;
	enter_session();
	for (size_t i = 0; i < n; i++)
		session_release(ids[i]);
	leave_session();
	errno = saved;
}

/* The table is this process's, not a vfork()ed child's (which shares it, and our lock, with its parent). */
static bool tracking(void)
{
	return !busy && __atomic_load_n(&n_tracked, __ATOMIC_RELAXED) > 0 && fdtable_mine(&table);
}

__attribute__((constructor)) static void preload_init(void)
{
	paths_init();
	/* Ours from now, before any vfork() could make a child that would claim it on its first open. */
	lock_state();
	if (!table.owner)
		table.owner = getpid();
	unlock_state();
}

/* Set -@r as errno and return -1, or return @r. */
static int ret(int r)
{
	if (r >= 0)
		return r;
	errno = -r;
	return -1;
}

/* The open(2) flags a brokered fd (O_RDWR, close-on-exec) must take on. */
static int apply_flags(int fd, int flags)
{
	if (!(flags & O_CLOEXEC) && REAL(fcntl)(fd, F_SETFD, 0) < 0)
		return -errno;
	if ((flags & O_NONBLOCK) && REAL(fcntl)(fd, F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	return fd;
}

/* The node of @device: a queue from the broker.  false: the kernel answers. */
static bool open_node(const char *device, int flags, int *out)
{
	uint64_t id = 0, stale = 0;
	int fd, r;

	enter_session();
	fd = session_acquire(device, &id);
	leave_session();
	if (fd >= 0) {
		lock_state();
		r = fdtable_add(&table, fd, id, &stale);
		unlock_state();
		/* Its last fd was closed behind our back (a raw system call). */
		release_queues(&stale, stale ? 1 : 0);
		if (r >= 0)
			r = apply_flags(fd, flags);
		if (r < 0) {
			lock_state();
			(void)fdtable_close(&table, fd);
			unlock_state();
			REAL(close)(fd);
			release_queues(&id, 1);
			fd = r;
		}
	}
	if (fd == -ENOTCONN || fd == -ENODEV)
		return false;
	*out = ret(fd);
	return true;
}

/* A memfd holding @text, as if it were the attribute. */
static int text_fd(const char *text, int flags)
{
	int fd = memfd_create("available_instances", flags & O_CLOEXEC ? MFD_CLOEXEC : 0);
	size_t n = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0) {
		int r = -errno;
		REAL(close)(fd);
		return r ? r : -EIO;
	}
	return fd;
}

/* A device's available_instances: what this user may open now.  false: the kernel's. */
static bool open_available(const char *device, int flags, int *out)
{
	struct allowance a;
	const struct allowance_device *d;
	char text[16];
	bool ours = false;

	enter_session();
	if (session_allowance(&a) >= 0) {
		d = allowance_find(&a, device);
		if (d) {
			snprintf(text, sizeof(text), "%u\n", d->available);
			*out = ret(text_fd(text, flags));
			ours = true;
		}
		allowance_free(&a);
	}
	leave_session();
	return ours;
}

/*
 * Whether an open of a node is a queue: read-write, as UADK opens it.
 * O_PATH, O_DIRECTORY, O_TMPFILE, O_CREAT|O_EXCL, read-only or write-only
 * opens are the kernel's, which answers them as it would without us (a
 * path fd, ENOTDIR, EEXIST, or EACCES on a node the user may not open).
 */
static bool queue_open(int flags)
{
	return (flags & O_ACCMODE) == O_RDWR && !(flags & (O_PATH | O_DIRECTORY | O_TMPFILE)) &&
	       (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL);
}

/* A vfork()ed child's opens are the kernel's: the table it shares is its parent's. */
static bool open_ours(const char *path, int flags, int *out)
{
	char name[PATHS_NAME_MAX];

	if (busy || !paths_maybe_ours(path) || !fdtable_mine(&table))
		return false;
	if (paths_node(path, name))
		return queue_open(flags) && open_node(name, flags, out);
	if ((flags & O_ACCMODE) == O_RDONLY && paths_available_instances(path, name))
		return open_available(name, flags, out);
	return false;
}

/* The mode argument, present when the flags create a file. */
#define MODE_ARG(flags, mode) do { \
	if ((flags) & (O_CREAT | __O_TMPFILE)) { \
		va_list ap; \
		va_start(ap, flags); \
		mode = va_arg(ap, mode_t); \
		va_end(ap); \
	} \
} while (0)

EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	MODE_ARG(flags, mode);
	if (open_ours(path, flags, &fd))
		return fd;
	return REAL(open)(path, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	MODE_ARG(flags, mode);
	if (open_ours(path, flags, &fd))
		return fd;
	return REAL(open64)(path, flags, mode);
}

/* Relative paths are never ours: @dirfd only matters to the kernel. */
EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	MODE_ARG(flags, mode);
	if (open_ours(path, flags, &fd))
		return fd;
	return REAL(openat)(dirfd, path, flags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	MODE_ARG(flags, mode);
	if (open_ours(path, flags, &fd))
		return fd;
	return REAL(openat64)(dirfd, path, flags, mode);
}

EXPORT int __open_2(const char *path, int flags)
{
	int fd;

	return open_ours(path, flags, &fd) ? fd : REAL_AS(open_2, "__open_2")(path, flags);
}

EXPORT int __open64_2(const char *path, int flags)
{
	int fd;

	return open_ours(path, flags, &fd) ? fd : REAL_AS(open64_2, "__open64_2")(path, flags);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	int fd;

	return open_ours(path, flags, &fd) ? fd : REAL_AS(openat_2, "__openat_2")(dirfd, path, flags);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	int fd;

	return open_ours(path, flags, &fd) ? fd : REAL_AS(openat64_2, "__openat64_2")(dirfd, path, flags);
}

/*
 * Whether @path is the node of a device this user may use (the broker
 * says).  errno is left as it was: when the answer is no, the caller
 * returns the kernel's failure, and its errno with it.
 */
static bool node_usable(const char *path)
{
	char name[PATHS_NAME_MAX];
	struct allowance a;
	const struct allowance_device *d;
	bool usable = false;
	int saved = errno;

	if (!busy && paths_node(path, name)) {	/* paths_node() stat()s too */
		enter_session();
		if (session_allowance(&a) >= 0) {
			d = allowance_find(&a, name);
			usable = d && d->usable;
			allowance_free(&a);
		}
		leave_session();
	}
	errno = saved;
	return usable;
}

/* A node the program may not open itself, or that is missing here, exists for it all the same. */
EXPORT char *realpath(const char *path, char *resolved)
{
	char *r = REAL(realpath)(path, resolved);

	if (r || errno != ENOENT || !node_usable(path))
		return r;
	if (!resolved)
		return strdup(path);
	snprintf(resolved, PATH_MAX, "%s", path);
	return resolved;
}

EXPORT int access(const char *path, int mode)
{
	int r = REAL(access)(path, mode);

	if (r == 0 || !node_usable(path))
		return r;
	return 0;
}

EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
	int r = REAL(faccessat)(dirfd, path, mode, flags);

	if (r == 0 || !node_usable(path))
		return r;
	return 0;
}

EXPORT DIR *opendir(const char *path)
{
	DIR *dir = REAL(opendir)(path);
	struct dir_filter *f;
	int r;

	if (!dir || busy || !paths_class_dir(path))
		return dir;
	f = calloc(1, sizeof(*f));
	if (!f)
		return dir;
	enter_session();
	r = session_allowance(&f->allowance);
	leave_session();
	if (r < 0) {
		free(f);	/* no broker: the kernel's listing */
		return dir;
	}
	f->dir = dir;
	lock_state();
	f->next = filters;
	filters = f;
	unlock_state();
	return dir;
}

static struct dir_filter *filter_of(DIR *dir)
{
	struct dir_filter *f;

	if (busy || !filters)	/* a racy peek: a filter is added before its DIR is returned */
		return NULL;
	lock_state();
	for (f = filters; f && f->dir != dir; f = f->next)
		;
	unlock_state();
	return f;
}

static bool listed(const struct dir_filter *f, const char *name)
{
	const struct allowance_device *d;

	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return true;
	d = allowance_find(&f->allowance, name);
	return d && d->usable;
}

EXPORT struct dirent *readdir(DIR *dir)
{
	struct dir_filter *f = filter_of(dir);
	struct dirent *e;

	while ((e = REAL(readdir)(dir)) && f && !listed(f, e->d_name))
		;
	return e;
}

EXPORT struct dirent64 *readdir64(DIR *dir)
{
	struct dir_filter *f = filter_of(dir);
	struct dirent64 *e;

	while ((e = REAL(readdir64)(dir)) && f && !listed(f, e->d_name))
		;
	return e;
}

EXPORT int closedir(DIR *dir)
{
	struct dir_filter *found = NULL;

	if (filter_of(dir)) {
		lock_state();
		for (struct dir_filter **p = &filters; *p; p = &(*p)->next)
			if ((*p)->dir == dir) {
				found = *p;
				*p = found->next;
				break;
			}
		unlock_state();
	}
	if (found) {
		allowance_free(&found->allowance);
		free(found);
	}
	return REAL(closedir)(dir);
}

/* Out of the table before the kernel closes it: another thread's open may get its number at once. */
EXPORT int close(int fd)
{
	uint64_t id;
	int r;

	if (!tracking())
		return REAL(close)(fd);
	lock_state();
	id = fdtable_close(&table, fd);
	unlock_state();
	r = REAL(close)(fd);
	release_queues(&id, id ? 1 : 0);
	return r;
}

/* @newfd is a copy of @oldfd now. */
static int duplicated(int oldfd, int newfd)
{
	uint64_t id;

	if (newfd < 0 || !tracking())
		return newfd;
	lock_state();
	id = fdtable_dup(&table, oldfd, newfd);
	unlock_state();
	release_queues(&id, id ? 1 : 0);
	return newfd;
}

EXPORT int dup(int fd)
{
	return duplicated(fd, REAL(dup)(fd));
}

EXPORT int dup2(int oldfd, int newfd)
{
	return duplicated(oldfd, REAL(dup2)(oldfd, newfd));
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return duplicated(oldfd, REAL(dup3)(oldfd, newfd, flags));
}

/* fcntl's third argument is an int or a pointer: passed on as the word it came in. */
EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	int r;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	r = REAL(fcntl)(fd, cmd, arg);
	return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC ? duplicated(fd, r) : r;
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	int r;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	r = REAL(fcntl64)(fd, cmd, arg);
	return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC ? duplicated(fd, r) : r;
}

/*
 * Every descriptor from @first to @last is closed: the ids of the queues
 * that had their last there, to give back (in @ids, freed by the caller).
 * Locked, with the closing: another thread's open could take a number in
 * the range as soon as it is free.
 */
static size_t closed_range(unsigned first, unsigned last, uint64_t **ids)
{
	*ids = calloc(fdtable_count(&table) + 1, sizeof(**ids));
	return fdtable_close_range(&table, first, last, *ids, *ids ? fdtable_count(&table) : 0);
}

EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	uint64_t *ids = NULL;
	size_t n = 0;
	int r;

	if (!REAL(close_range))
		return ret(-ENOSYS);
	if (!tracking())
		return real.close_range(first, last, flags);
	lock_state();
	r = real.close_range(first, last, flags);
	/* CLOSE_RANGE_CLOEXEC closes nothing now; at exec the connection goes too, and the broker releases. */
	if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC))
		n = closed_range(first, last, &ids);
	unlock_state();
	release_queues(ids, n);
	free(ids);
	return r;
}

/* glibc 2.34's closefrom() closes with close_range() inside libc, past our close(). */
EXPORT void closefrom(int lowfd)
{
	uint64_t *ids;
	size_t n;

	if (!REAL(closefrom) || lowfd < 0 || !tracking()) {
		if (real.closefrom)
			real.closefrom(lowfd);
		return;
	}
	lock_state();
	real.closefrom(lowfd);
	n = closed_range((unsigned)lowfd, ~0u, &ids);
	unlock_state();
	release_queues(ids, n);
	free(ids);
}

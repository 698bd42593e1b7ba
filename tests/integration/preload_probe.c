// SPDX-License-Identifier: MIT
/*
 * A program that knows nothing of the broker, run by test_preload under
 * libaccel-preload.so against a fake uacce tree ($ACCEL_UACCE_SYSFS,
 * $ACCEL_UACCE_DEV; the nodes are regular files, so no queue work): it
 * reaches the device the way UADK does (realpath, open O_RDWR|O_CLOEXEC,
 * available_instances read through realpath) and checks what it sees.
 * Each scenario prints "ok" and exits 0, or names what failed and exits 1.
 * It must link nothing of ours: what it sees is what any program would.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "preload_probe: %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #cond, errno); \
		exit(1); \
	} \
} while (0)

static const char *sysfs, *dev;

/* Open the node as UADK does: realpath first (it gives up if that fails), then O_RDWR|O_CLOEXEC. */
static int open_node(const char *name)
{
	char path[PATH_MAX], real[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dev, name);
	if (!realpath(path, real))
		return -1;
	return open(real, O_RDWR | O_CLOEXEC);
}

/* available_instances, read as UADK reads every attribute: realpath, open, read, close. */
static int available(const char *name)
{
	char path[PATH_MAX], real[PATH_MAX], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/available_instances", sysfs, name);
	CHECK(realpath(path, real));
	fd = open(real, O_RDONLY);
	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	CHECK(n > 0);
	buf[n] = '\0';
	close(fd);
	return atoi(buf);
}

/* Wait (bounded, 10 s) until the broker counts what it should: it reclaims after an exit on its own time. */
static void wait_available(const char *name, int want)
{
	for (int i = 0; i < 10000; i++) {
		if (available(name) == want)
			return;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	CHECK(available(name) == want);
}

/* The class listing shows the devices this user may use, and only those. */
static void scenario_list(void)
{
	DIR *d = opendir(sysfs);
	struct dirent *e;
	int zip = 0, sec = 0;

	CHECK(d);
	while ((e = readdir(d))) {
		zip += strcmp(e->d_name, "hisi_zip-0") == 0;
		sec += strcmp(e->d_name, "hisi_sec2-0") == 0;
	}
	closedir(d);
	CHECK(zip == 1 && sec == 0);	/* hisi_sec2-0: an SVA device the broker refuses */
}

/*
 * Room made by another process (a child's exit) does not end a remembered
 * refusal: it ends on its own (100 ms).
 */
static void scenario_backoff_ends(void)
{
	int held[2], go[2], stop[2], fd = -1;
	char c;
	pid_t pid;

	held[0] = open_node("hisi_zip-0");
	held[1] = open_node("hisi_zip-0");
	CHECK(held[0] >= 0 && held[1] >= 0 && pipe(go) == 0 && pipe(stop) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(go[0]);
		close(stop[1]);
		CHECK(open_node("hisi_zip-0") >= 0);
		CHECK(write(go[1], "x", 1) == 1);
		while (read(stop[0], &c, 1) > 0)
			;
		_exit(0);	/* the broker reclaims its queue */
	}
	close(go[1]);
	close(stop[0]);
	CHECK(read(go[0], &c, 1) == 1);
	errno = 0;
	CHECK(open_node("hisi_zip-0") < 0 && errno == EBUSY);
	close(stop[1]);
	CHECK(waitpid(pid, NULL, 0) == pid);
	/* Bounded, ~10 s at most. */
	for (int i = 0; i < 1000 && fd < 0; i++) {
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
		fd = open_node("hisi_zip-0");
	}
	CHECK(fd >= 0);
	close(go[0]);
}

/*
 * The quota (max_queues = 3 here) shows in available_instances and ends
 * in EBUSY, which is remembered for a moment (a retry loop costs no call)
 * unless the program itself gives a queue back.
 */
static void scenario_quota(void)
{
	int fds[3], fd;

	CHECK(available("hisi_zip-0") == 3);
	for (int i = 0; i < 3; i++) {
		fds[i] = open_node("hisi_zip-0");
		CHECK(fds[i] >= 0);
		CHECK(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
		CHECK(available("hisi_zip-0") == 2 - i);
	}
	errno = 0;
	CHECK(open_node("hisi_zip-0") < 0 && errno == EBUSY);
	/* Within the backoff the refusal stands... */
	errno = 0;
	CHECK(open_node("hisi_zip-0") < 0 && errno == EBUSY);
	/* ...until the program's own close makes room: then the next open gets it at once. */
	close(fds[0]);
	CHECK(available("hisi_zip-0") == 1);
	fd = open_node("hisi_zip-0");
	CHECK(fd >= 0);
	close(fd);
	close(fds[1]);
	close(fds[2]);
	scenario_backoff_ends();
}

/* dup, dup2, dup3, F_DUPFD_CLOEXEC: the queue lives until its last descriptor closes. */
static void scenario_dup(void)
{
	int fd = open_node("hisi_zip-0"), a, b, c, d, other;

	CHECK(fd >= 0);
	CHECK(available("hisi_zip-0") == 2);
	a = dup(fd);
	b = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	c = dup2(fd, 200);
	d = dup3(fd, 201, O_CLOEXEC);
	CHECK(a >= 0 && b >= 100 && c == 200 && d == 201);
	close(fd);
	close(a);
	close(b);
	close(d);
	CHECK(available("hisi_zip-0") == 2);
	/* A second queue dup2()ed over the last copy of the first: the first goes back. */
	other = open_node("hisi_zip-0");
	CHECK(other >= 0);
	CHECK(available("hisi_zip-0") == 1);
	CHECK(dup2(other, c) == c);
	CHECK(available("hisi_zip-0") == 2);
	close(other);
	CHECK(available("hisi_zip-0") == 2);
	/* close_range() takes the last one. */
	CHECK(close_range((unsigned)c, (unsigned)c, 0) == 0);
	CHECK(available("hisi_zip-0") == 3);
}

/*
 * A forked child gets a connection of its own and its own queues; its copy
 * of the parent's fd is the parent's queue, which its close does not give
 * back.  What it holds at exit is reclaimed.
 */
static void scenario_fork(void)
{
	int fd = open_node("hisi_zip-0"), status;
	pid_t pid;

	CHECK(fd >= 0);
	CHECK(available("hisi_zip-0") == 2);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int own = open_node("hisi_zip-0");
		CHECK(own >= 0);
		CHECK(available("hisi_zip-0") == 1);
		close(fd);	/* the parent's */
		CHECK(available("hisi_zip-0") == 1);
		_exit(0);	/* without closing its own */
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	wait_available("hisi_zip-0", 2);
	close(fd);
	CHECK(available("hisi_zip-0") == 3);
}

/*
 * A vfork()ed child's close() of its copy closes the child's descriptor
 * only: the queue stays the parent's (the child shares the preload's
 * memory, and no fork handler runs).
 */
static void scenario_vfork(void)
{
	int fd = open_node("hisi_zip-0"), status;
	pid_t pid;

	CHECK(fd >= 0);
	CHECK(available("hisi_zip-0") == 2);
	pid = vfork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(fd);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(available("hisi_zip-0") == 2);
	close(fd);
	CHECK(available("hisi_zip-0") == 3);
}

/*
 * closefrom() gives back what it closed; a descriptor closed behind the
 * preload's back gives its queue back when a new queue takes its number.
 */
static void scenario_closefrom(void)
{
	int a = open_node("hisi_zip-0"), b = open_node("hisi_zip-0"), c;

	CHECK(a >= 0 && b > a);
	CHECK(available("hisi_zip-0") == 1);
	closefrom(a);
	CHECK(available("hisi_zip-0") == 3);
	a = open_node("hisi_zip-0");
	CHECK(a >= 0);
	CHECK(syscall(SYS_close, a) == 0);
	c = open_node("hisi_zip-0");
	CHECK(c == a);
	CHECK(available("hisi_zip-0") == 2);
	close(c);
	CHECK(available("hisi_zip-0") == 3);
}

/*
 * Only a read-write open of a node is a queue: the kernel answers the rest
 * (here the fake tree's regular files, which root may open).
 */
static void scenario_flags(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/hisi_zip-0", dev);
	errno = 0;
	CHECK(open(path, O_RDWR | O_DIRECTORY) < 0 && errno == ENOTDIR);
	errno = 0;
	CHECK(open(path, O_RDWR | O_CREAT | O_EXCL, 0600) < 0 && errno == EEXIST);
	fd = open(path, O_PATH);
	CHECK(fd >= 0);
	CHECK(available("hisi_zip-0") == 3);
	close(fd);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(available("hisi_zip-0") == 3);
	close(fd);
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	CHECK(available("hisi_zip-0") == 2);
	close(fd);
}

/* Whether thread @tid is in a system call that waits for the broker's answer (not on a lock: futex). */
static bool waiting_on_broker(pid_t tid)
{
	char path[64], text[64] = "";
	FILE *f;
	long nr;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	f = fopen(path, "r");
	CHECK(f);
	CHECK(fgets(text, sizeof(text), f) || feof(f));
	fclose(f);
	nr = strtol(text, NULL, 10);
	return nr == SYS_recvmsg || nr == SYS_recvfrom || nr == SYS_read || nr == SYS_poll || nr == SYS_ppoll;
}

static pid_t tid_of_reader;

static void *reader(void *arg)
{
	__atomic_store_n(&tid_of_reader, gettid(), __ATOMIC_RELEASE);
	(void)arg;
	(void)available("hisi_zip-0");
	return NULL;
}

/*
 * While a thread waits on a broker that does not answer (the test stops
 * it), a close() of a pipe in another thread does not wait with it.
 */
static void scenario_stalled(void)
{
	int fd = open_node("hisi_zip-0"), p[2], i;
	pthread_t t;
	pid_t tid = 0;
	char c;

	CHECK(fd >= 0);
	printf("holding 1\n");
	fflush(stdout);
	CHECK(read(STDIN_FILENO, &c, 1) == 1);	/* the broker is stopped now */
	CHECK(pthread_create(&t, NULL, reader, NULL) == 0);
	for (i = 0; i < 10000 && !(tid = __atomic_load_n(&tid_of_reader, __ATOMIC_ACQUIRE)); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	for (i = 0; i < 10000 && tid && !waiting_on_broker(tid); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	CHECK(tid && waiting_on_broker(tid));
	CHECK(pipe(p) == 0);
	close(p[0]);
	close(p[1]);
	printf("closed\n");
	fflush(stdout);
	CHECK(pthread_join(t, NULL) == 0);	/* the test lets the broker go on */
	close(fd);
}

/* exec keeps the preload (LD_PRELOAD): the new image sees the broker's view too. */
static void scenario_exec(const char *self)
{
	execl(self, self, "quota", (char *)NULL);
	CHECK(!"exec");
}

/* No broker: the kernel's attribute and node (the fake tree's own files, the test's user's). */
static void scenario_kernel(void)
{
	char path[PATH_MAX];
	int fd;

	CHECK(available("hisi_zip-0") == 4);
	/* The kernel's errno, untouched by the attempt to reach the broker: no x bit, even root's is refused. */
	snprintf(path, sizeof(path), "%s/hisi_zip-0", dev);
	errno = 0;
	CHECK(access(path, X_OK) < 0 && errno == EACCES);
	errno = 0;
	CHECK(faccessat(AT_FDCWD, path, X_OK, 0) < 0 && errno == EACCES);
	fd = open_node("hisi_zip-0");
	CHECK(fd >= 0);
	close(fd);
}

/* Many queues, never closed: the test checks that the broker has them back after the exit. */
static void scenario_many(int n)
{
	char c;

	for (int i = 0; i < n; i++)
		CHECK(open_node("hisi_zip-0") >= 0);
	printf("holding %d\n", n);
	fflush(stdout);
	/* The test counts the broker's queues now; it closes our stdin when done. */
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
}

int main(int argc, char **argv)
{
	sysfs = getenv("ACCEL_UACCE_SYSFS");
	dev = getenv("ACCEL_UACCE_DEV");
	if (argc < 2 || !sysfs || !dev) {
		fprintf(stderr, "usage: ACCEL_UACCE_SYSFS=DIR ACCEL_UACCE_DEV=DIR preload_probe SCENARIO\n");
		return 2;
	}
	if (strcmp(argv[1], "list") == 0)
		scenario_list();
	else if (strcmp(argv[1], "quota") == 0)
		scenario_quota();
	else if (strcmp(argv[1], "dup") == 0)
		scenario_dup();
	else if (strcmp(argv[1], "fork") == 0)
		scenario_fork();
	else if (strcmp(argv[1], "vfork") == 0)
		scenario_vfork();
	else if (strcmp(argv[1], "closefrom") == 0)
		scenario_closefrom();
	else if (strcmp(argv[1], "flags") == 0)
		scenario_flags();
	else if (strcmp(argv[1], "stalled") == 0)
		scenario_stalled();
	else if (strcmp(argv[1], "exec") == 0)
		scenario_exec(argv[0]);
	else if (strcmp(argv[1], "kernel") == 0)
		scenario_kernel();
	else if (strcmp(argv[1], "many") == 0 && argc == 3)
		scenario_many(atoi(argv[2]));
	else
		return 2;
	printf("ok\n");
	return 0;
}

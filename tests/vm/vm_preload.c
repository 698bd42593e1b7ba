// SPDX-License-Identifier: MIT
/*
 * Unchanged uacce programs through the broker (issue 16): uadk_like, a
 * program making UADK's calls, run as uid 65534 against the accel_sim
 * nodes at mode 0600 root, without accel-run (the kernel refuses it) and
 * with it (the broker hands it queues within its quota).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vm_test.h"
#include "wire.h"

#define QUOTA_SOCKET "/run/preload-quota.sock"
#define QUOTA_CONFIG "/tmp/preload-quota.conf"

struct run {
	pid_t pid;
	int out;	/* its stdout */
	int in;		/* its stdin: closing it lets a holding program exit */
};

/*
 * Start @argv (NULL-terminated, argv[0] a path) as uid 65534, through
 * accel-run --socket @socket when @socket is set.
 */
static int run_start(const char *socket, const char *const *argv, struct run *r)
{
	const char *args[16];
	int out[2], in[2], n = 0;
	char asan[256];

	if (pipe(out) < 0 || pipe(in) < 0)
		return -1;
	if (socket) {
		args[n++] = "/bin/accel-run";
		args[n++] = "--socket";
		args[n++] = socket;
	}
	for (; *argv && n < 15; argv++)
		args[n++] = *argv;
	args[n] = NULL;
	r->pid = fork();
	if (r->pid < 0)
		return -1;
	if (r->pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(in[0], STDIN_FILENO);
		close(in[1]);
		close(out[0]);
		/* SAN=1: the preload is instrumented, and comes before the sanitizer's runtime. */
		snprintf(asan, sizeof(asan), "%s:verify_asan_link_order=0",
			 getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "");
		setenv("ASAN_OPTIONS", asan, 1);
		if (drop_to_nobody() < 0)
			_exit(125);
		execv(args[0], (char **)args);
		_exit(127);
	}
	close(out[1]);
	close(in[0]);
	r->out = out[0];
	r->in = in[1];
	return 0;
}

/* What it says, until @until appears (NULL: until it closes its stdout). */
static void run_read(struct run *r, const char *until, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	buf[0] = '\0';
	while (got < size - 1 && !(until && strstr(buf, until)) &&
	       (n = read(r->out, buf + got, size - 1 - got)) > 0) {
		got += (size_t)n;
		buf[got] = '\0';
	}
}

/* Let it end: its exit status; the rest of what it said goes after what @buf holds. */
static int run_finish(struct run *r, char *buf, size_t size)
{
	size_t have = strlen(buf);

	close(r->in);
	run_read(r, NULL, buf + have, size - have);
	close(r->out);
	return wait_child(r->pid);
}

/* Run to the end: exit status, output in @buf. */
static int run(const char *socket, const char *const *argv, char *buf, size_t size)
{
	struct run r;

	buf[0] = '\0';
	if (run_start(socket, argv, &r) < 0)
		return -1;
	return run_finish(&r, buf, size);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One call on a fresh root connection to @socket; the reply in @buf. */
static bool call(const char *socket, const char *msg, char *buf, size_t size)
{
	int fd = connect_to(socket);
	const char *reply;
	size_t len;
	struct wire w;
	bool ok;

	if (fd < 0 || wire_init(&w, fd) < 0)
		return false;
	ok = wire_send_all(&w, msg, strlen(msg)) == 0 && wire_receive(&w, &reply, &len) == 0;
	if (ok)
		snprintf(buf, size, "%s", reply);
	wire_finish(&w);
	return ok;
}

/* @buf on one line, for a check's message (after the check has looked at it). */
static const char *flat(char *buf)
{
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = p[1] ? ';' : '\0';
	return buf;
}

/* A new file holding @text. */
static bool create_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	bool ok = f && fputs(text, f) >= 0;

	return f && fclose(f) == 0 && ok;
}

/* How often @needle occurs in @hay. */
static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static int queues_active(const char *socket)
{
	char reply[8192];
	const char *p;

	if (!call(socket, "{\"method\":\"org.accelbroker.Broker.GetStatus\"}", reply, sizeof(reply)))
		return -1;
	p = strstr(reply, "\"queues_active\":");
	return p ? atoi(p + 16) : -1;
}

/* The broker reclaims after an exit on its own time: wait for @want, bounded (20 s under TCG). */
static int wait_queues_active(const char *socket, int want)
{
	int n = -1;

	for (int i = 0; i < 2000 && (n = queues_active(socket)) != want; i++)
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	return n;
}

/* The kernel's own count, read as root without the preload. */
static int kernel_available(const char *dev)
{
	char path[128];
	FILE *f;
	int n = -1;

	snprintf(path, sizeof(path), "/sys/class/uacce/%s/available_instances", dev);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static bool nodes_0600_root(void)
{
	const char *nodes[] = { "/dev/accel_sim-0", "/dev/accel_sim-1", "/dev/accel_sim-2" };
	bool ok = true;

	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		struct stat st;
		if (stat(nodes[i], &st) < 0)
			continue;
		ok = ok && chown(nodes[i], 0, 0) == 0 && chmod(nodes[i], 0600) == 0;
	}
	return ok;
}

static pid_t start_quota_broker(void)
{
	pid_t pid;

	if (!create_file(QUOTA_CONFIG, "[user:nobody]\nmax_queues = 3\n"))
		return -1;
	unlink(QUOTA_SOCKET);
	pid = fork();
	if (pid == 0) {
		int fd = open("/tmp/preload-broker.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		execl("/bin/accel-broker", "accel-broker", "--socket", QUOTA_SOCKET, "--config", QUOTA_CONFIG,
		      "--sim", "0", "--log-level", "info", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && pid > 0 && access(QUOTA_SOCKET, F_OK) < 0; i++)
		nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
	chmod(QUOTA_SOCKET, 0666);
	return pid;
}

/* Without accel-run the node's mode decides: EACCES.  With it, the work is right, in the parent and a forked child. */
static void unchanged_program_works_through_accel_run(const char *socket)
{
	char out[1024];
	int status;
	bool ok;

	status = run(NULL, (const char *const[]){ "/bin/uadk_like", "try", NULL }, out, sizeof(out));
	check(status == EACCES, "preload: uadk_like as uid 65534 without accel-run: EACCES on the 0600 node (exit %d: %s)",
	      status, flat(out));
	status = run(socket, (const char *const[]){ "/bin/uadk_like", "work", NULL }, out, sizeof(out));
	ok = status == 0 && strstr(out, "parent: work: ok") && strstr(out, "child: work: ok");
	check(ok, "preload: uadk_like under accel-run: a copy through the broker's queue, and a forked child's (exit %d: %s)",
	      status, flat(out));
	status = run(socket, (const char *const[]){ "/bin/uadk_like", "work", "sva", NULL }, out, sizeof(out));
	ok = status == 0 && strstr(out, "parent: work: ok") && strstr(out, "child: work: ok");
	check(ok, "preload: the same on the SVA device (bound to the program's mm by the preload) (exit %d: %s)",
	      status, flat(out));
}

/* While it holds queues the broker lists them under uid 65534, as raw queues; at exit they come back. */
static void broker_lists_the_queues_under_the_user(const char *socket)
{
	char out[256], reply[65536];
	int before = queues_active(socket);
	struct run r;
	bool listed = false;

	if (run_start(socket, (const char *const[]){ "/bin/uadk_like", "hold", "2", NULL }, &r) < 0) {
		check(false, "preload: start uadk_like hold");
		return;
	}
	run_read(&r, "holding 2\n", out, sizeof(out));
	if (strstr(out, "holding 2") &&
	    call(socket, "{\"method\":\"org.accelbroker.Broker.ListQueues\"}", reply, sizeof(reply)))
		listed = count(reply, "\"algorithm\":\"\",\"uid\":65534") == 2;
	check(listed, "preload: the broker lists uadk_like's 2 queues under uid 65534 (%s)", flat(out));
	run_finish(&r, out, sizeof(out));
	check(wait_queues_active(socket, before) == before, "preload: back to %d queues after it exits", before);
}

/* A quota of 3: available_instances shows it (to a dynamically linked cat too), the 4th open is EBUSY. */
static void quota_shows_and_refuses(void)
{
	char out[1024], want[64];
	pid_t broker = start_quota_broker();
	int status;
	bool ok;

	if (broker <= 0) {
		check(false, "preload: a broker with [user:nobody] max_queues = 3");
		return;
	}
	status = run(QUOTA_SOCKET, (const char *const[]){ "/bin/gnu-cat", "/sys/class/uacce/accel_sim-0/available_instances",
							  NULL }, out, sizeof(out));
	ok = status == 0 && strcmp(out, "3\n") == 0;
	check(ok, "preload: cat of available_instances under accel-run shows the quota's 3 (kernel: %d) (exit %d: \"%s\")",
	      kernel_available("accel_sim-0"), status, flat(out));
	status = run(QUOTA_SOCKET, (const char *const[]){ "/bin/uadk_like", "fill", NULL }, out, sizeof(out));
	snprintf(want, sizeof(want), "filled 3 errno %d", EBUSY);
	ok = status == 0 && strstr(out, want);
	check(ok, "preload: uadk_like opens 3 queues, then EBUSY (%s)", flat(out));
	check(wait_queues_active(QUOTA_SOCKET, 0) == 0, "preload: its 3 queues back at its exit");
	status = run(QUOTA_SOCKET, (const char *const[]){ "/bin/uadk_like", "avail", NULL }, out, sizeof(out));
	ok = status == 0 && strstr(out, "accel_sim-0 3\n") && strstr(out, "accel_sim-1 3\n");
	check(ok, "preload: then available_instances reads 3 on each device again (%s)", flat(out));
	kill(broker, SIGTERM);
	wait_child(broker);
}

/* A program that opens many queues and exits without closing them: every one comes back. */
static void queues_never_closed_are_reclaimed(const char *socket)
{
	int before = queues_active(socket);
	int n = kernel_available("accel_sim-0") + kernel_available("accel_sim-1") - 4;
	char arg[16], out[256];
	int status;

	if (n > 100)
		n = 100;
	snprintf(arg, sizeof(arg), "%d", n);
	status = run(socket, (const char *const[]){ "/bin/uadk_like", "leak", arg, NULL }, out, sizeof(out));
	check(status == 0 && strstr(out, "leaving"), "preload: uadk_like opens %d queues and exits (%s)", n, flat(out));
	check(wait_queues_active(socket, before) == before, "preload: all %d reclaimed (broker back to %d)", n, before);
}

void preload_suite(const char *socket)
{
	check(nodes_0600_root(), "preload: the accel_sim nodes are 0600 root");
	unchanged_program_works_through_accel_run(socket);
	broker_lists_the_queues_under_the_user(socket);
	quota_shows_and_refuses();
	queues_never_closed_are_reclaimed(socket);
}

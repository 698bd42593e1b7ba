// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/magic.h>
#include <linux/sockios.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

const char *build_dir(void)
{
	static char dir[PATH_MAX];

	if (!dir[0]) {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			return ".";
		exe[n] = '\0';
		/* <build>/tests/<binary> */
		snprintf(dir, sizeof(dir), "%s", dirname(dirname(exe)));
	}
	return dir;
}

int raw_connect(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int raw_send(int fd, const char *msg)
{
	size_t len = strlen(msg) + 1, off = 0;

	while (off < len) {
		ssize_t n = send(fd, msg + off, len - off, MSG_NOSIGNAL);
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

int raw_recv(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len < size) {
		ssize_t n = recv(fd, buf + len, 1, 0);
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (buf[len] == '\0')
			return (int)len + 1;
		len++;
	}
	return -EMSGSIZE;
}

int wait_unread(int fd, int want)
{
	int n = -1;

	/*
	 * SIOCOUTQ on a Unix stream socket: the bytes we sent that the peer
	 * has not read yet (they stay charged to our side until it does).
	 */
	for (int i = 0; i < 500; i++) {
		if (ioctl(fd, SIOCOUTQ, &n) < 0)
			return -errno;
		if (n == want)
			break;
		usleep(10000);
	}
	return n;
}

int raw_call(int fd, const char *msg, char *buf, size_t size)
{
	int r = raw_send(fd, msg);

	return r < 0 ? r : raw_recv(fd, buf, size);
}

/*
 * Every child a test made through fork_child() (brokers too), until it is
 * reaped: children_kill() takes back what a failed test left running.
 */
static pid_t children[256];

static bool child_track(pid_t pid, pid_t as)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] == pid) {
			children[i] = as;
			return true;
		}
	return false;
}

/* waitpid() that forgets @pid once it is reaped. */
static pid_t reap(pid_t pid, int *status, int flags)
{
	pid_t r = waitpid(pid, status, flags);

	if (r == pid)
		child_track(pid, 0);
	return r;
}

int children_kill(void)
{
	int n = 0;

	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
		if (children[i] <= 0)
			continue;
		kill(children[i], SIGKILL);
		reap(children[i], NULL, 0);
		children[i] = 0;	/* even if someone else reaped it */
		n++;
	}
	return n;
}

static void children_kill_at_exit(void)
{
	children_kill();
}

pid_t fork_child(void)
{
	static bool hooked;
	pid_t parent = getpid(), pid;

	if (!hooked && atexit(children_kill_at_exit) == 0)
		hooked = true;
	/* Room first: a child nobody tracks is what this is for. */
	if (!child_track(0, 0)) {
		errno = EAGAIN;
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		/* The child's own children are its business, not these. */
		memset(children, 0, sizeof(children));
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)	/* the parent died before prctl() */
			_exit(126);
	} else if (pid > 0) {
		child_track(0, pid);
	}
	return pid;
}

int wait_status(pid_t pid)
{
	int status;

	if (reap(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

void child_adopt(pid_t pid)
{
	if (!child_track(pid, pid))
		child_track(0, pid);
}

void kill_child(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	reap(pid, NULL, 0);
}

bool broker_alive(struct broker_proc *b)
{
	return b->pid > 0 && kill(b->pid, 0) == 0 && reap(b->pid, NULL, WNOHANG) == 0;
}

int broker_start(struct broker_proc *b, const char *const *args)
{
	return broker_start_with(b, args, NULL, NULL);
}

int broker_start_with(struct broker_proc *b, const char *const *args, void (*in_child)(void *data),
		      void *data)
{
	const char *argv[32];
	char exe[PATH_MAX + 32];
	int n = 0;

	memset(b, 0, sizeof(*b));
	strcpy(b->dir, "/tmp/accel-test-XXXXXX");
	if (!mkdtemp(b->dir))
		return -errno;
	chmod(b->dir, 0755);	/* other uids connect in some tests */
	snprintf(b->sock, sizeof(b->sock), "%s/broker.sock", b->dir);
	snprintf(b->log, sizeof(b->log), "%s/broker.log", b->dir);
	snprintf(exe, sizeof(exe), "%s/accel-broker", build_dir());
	argv[n++] = exe;
	argv[n++] = "--socket";
	argv[n++] = b->sock;
	argv[n++] = "--config";
	argv[n++] = "/dev/null";
	argv[n++] = "--sysfs-root";
	argv[n++] = "/nonexistent";
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	for (; args && *args && n < 30; args++)
		argv[n++] = *args;
	argv[n] = NULL;

	b->pid = fork_child();
	if (b->pid < 0)
		return -errno;
	if (b->pid == 0) {
		int fd = open(b->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		/* A test's broker is not a service, even when the tests run under one. */
		unsetenv("NOTIFY_SOCKET");
		if (in_child)
			in_child(data);
		execv(exe, (char **)argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		int fd = raw_connect(b->sock);
		if (fd >= 0) {
			/*
			 * A full round trip, then wait for the broker to close its end:
			 * the connection and the pidfd of its owner, both (two close()
			 * calls: a count taken between them is not rest), so that tests
			 * counting the broker's fds start from rest.
			 */
			char reply[4096];
			int r = raw_call(fd, "{\"method\":\"org.accelbroker.Broker.GetStatus\"}",
					 reply, sizeof(reply));
			int busy = broker_fd_count(b);
			close(fd);
			if (r <= 0)
				return -EPROTO;
			broker_wait_fd_count(b, busy - 2);
			return 0;
		}
		if (!broker_alive(b))
			return -ECHILD;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

int broker_stop(struct broker_proc *b)
{
	int status = 0;
	char cmd[128];

	if (b->pid <= 0)
		return -1;
	kill(b->pid, SIGTERM);
	if (reap(b->pid, &status, 0) < 0)
		status = -1;
	b->pid = 0;
	/* ACCEL_TEST_KEEP=1 keeps the broker's directory (and log) for a post-mortem. */
	if (getenv("ACCEL_TEST_KEEP")) {
		fprintf(stderr, "kept %s\n", b->dir);
		return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", b->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", b->dir);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char *broker_public_accelctl(struct broker_proc *b)
{
	static char path[sizeof(b->dir) + 16];
	char cmd[2 * PATH_MAX + 200];

	snprintf(cmd, sizeof(cmd), "cp %s/accelctl %s/libaccel.so.1 %s/ && chmod 0755 %s/accelctl %s/libaccel.so.1",
		 build_dir(), build_dir(), b->dir, b->dir, b->dir);
	if (system(cmd) != 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/accelctl", b->dir);
	return path;
}

int broker_fd_count(struct broker_proc *b)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)b->pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

int broker_wait_fd_count(struct broker_proc *b, int want)
{
	int n = -1;

	for (int i = 0; i < 500; i++) {
		n = broker_fd_count(b);
		if (n == want)
			break;
		usleep(10000);
	}
	return n;
}

static int put_attr(const char *dir, const char *name, const char *value, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(value, f);
	fclose(f);
	return chmod(path, mode) < 0 ? -errno : 0;
}

int fake_uacce_tree(char *tree, char *dev, size_t dev_size)
{
	static const char *const attrs[][2] = {
		{ "api", "hisi_qm_v2\n" },
		{ "available_instances", "4\n" },
		{ "region_mmio_size", "16384\n" },
		{ "region_dus_size", "65536\n" },
	};
	char dir[256];
	int r = 0;

	if (!mkdtemp(tree) || chmod(tree, 0755) < 0)
		return -errno;
	snprintf(dev, dev_size, "%s/dev", tree);
	if (mkdir(dev, 0755) < 0)
		return -errno;
	for (int i = 0; i < 2 && r == 0; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", tree, i ? "hisi_sec2-0" : "hisi_zip-0");
		if (mkdir(dir, 0755) < 0)
			return -errno;
		for (size_t k = 0; k < sizeof(attrs) / sizeof(attrs[0]) && r == 0; k++)
			r = put_attr(dir, attrs[k][0], attrs[k][1], 0644);
		if (r == 0)
			r = put_attr(dir, "algorithms", i ? "sm4\n" : "gzip\nzlib\n", 0644);
		if (r == 0)
			r = put_attr(dir, "flags", i ? "1\n" : "0\n", 0644);
		if (r == 0)
			r = put_attr(dev, i ? "hisi_sec2-0" : "hisi_zip-0", "", 0600);
	}
	return r;
}

const char *cgroup2_mount(void)
{
	static const char *const places[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	struct statfs st;

	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++)
		if (statfs(places[i], &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
			return places[i];
	return NULL;
}

static char test_cg[256], test_cg_slice[192];	/* made for the running test */

static const char *test_cgroup_make(void)
{
	if (mkdir(test_cg, 0755) < 0) {
		test_cg[0] = '\0';
		return NULL;
	}
	return test_cg;
}

const char *test_cgroup_machine(const char *name)
{
	const char *cg2 = cgroup2_mount();

	if (geteuid() != 0 || !cg2)
		return NULL;
	snprintf(test_cg_slice, sizeof(test_cg_slice), "%s/machine.slice", cg2);
	if (mkdir(test_cg_slice, 0755) < 0) {
		test_cg_slice[0] = '\0';	/* there already (a host's machines): not ours to remove */
		if (errno != EEXIST)
			return NULL;
	}
	snprintf(test_cg, sizeof(test_cg), "%s/machine.slice/machine-%s%d.scope", cg2, name, (int)getpid());
	return test_cgroup_make();
}

const char *test_cgroup_beside(const char *name)
{
	const char *cg2 = cgroup2_mount();

	if (geteuid() != 0 || !cg2)
		return NULL;
	snprintf(test_cg, sizeof(test_cg), "%s/%s%d", cg2, name, (int)getpid());
	return test_cgroup_make();
}

int cgroup_enter(const char *cgroup)
{
	char path[300];
	int fd, r;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = write(fd, "0", 1) == 1 ? 0 : -1;	/* "0": the writer */
	close(fd);
	return r;
}

void test_cgroup_remove(void)
{
	if (test_cg[0])
		rmdir(test_cg);
	if (test_cg_slice[0])
		rmdir(test_cg_slice);
	test_cg[0] = test_cg_slice[0] = '\0';
}

// SPDX-License-Identifier: MIT
/*
 * accel-churn's view of the broker under test: starting it, counting what
 * it holds through /proc, and blocking calls for the measurements (replies
 * of any size: ListQueues at 10,000 queues is megabytes, past what
 * common/wire.c accepts as one message).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "churn.h"
#include "util.h"

/* Per-user limits out of the way: the bench measures the broker, not its quotas. */
static const char config_text[] =
	"[broker]\n"
	"max_queues_per_user = 65536\n"
	"max_connections_per_user = 65536\n"
	"max_connections = 1048576\n";

static int write_config(const char *path)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	return write(fd, config_text, sizeof(config_text) - 1) == (ssize_t)sizeof(config_text) - 1 ? 0 : -EIO;
}

static void broker_exec(struct churn_broker *b, const char *build, const char *config, unsigned n_devices,
			unsigned n_queues)
{
	char exe[PATH_MAX], devices[16], queues[16];
	/* 10,000 queues are 10,000 broker fds, plus a socket and a pidfd per client. */
	struct rlimit nofile = { 1 << 20, 1 << 20 };
	int fd = open(b->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd >= 0)
		dup2(fd, STDERR_FILENO);
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0) {
		nofile.rlim_cur = nofile.rlim_max = 65536;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	unsetenv("NOTIFY_SOCKET");	/* not a service: no fd store */
	snprintf(exe, sizeof(exe), "%s/accel-broker", build);
	snprintf(devices, sizeof(devices), "%u", n_devices);
	snprintf(queues, sizeof(queues), "%u", n_queues);
	execl(exe, exe, "--socket", b->sock, "--config", config, "--sysfs-root", "/nonexistent", "--sim", devices,
	      "--sim-queues", queues, "--log-level", "warning", (char *)NULL);
	_exit(127);
}

int churn_broker_start(struct churn_broker *b, const char *build, unsigned n_devices, unsigned n_queues)
{
	char config[128];
	int r;

	memset(b, 0, sizeof(*b));
	strcpy(b->dir, "/tmp/accel-churn-XXXXXX");
	if (!mkdtemp(b->dir))
		return -errno;
	chmod(b->dir, 0755);	/* clients run as other uids */
	snprintf(b->sock, sizeof(b->sock), "%s/broker.sock", b->dir);
	snprintf(b->log, sizeof(b->log), "%s/broker.log", b->dir);
	snprintf(config, sizeof(config), "%s/churn.conf", b->dir);
	if ((r = write_config(config)) < 0)
		return r;
	b->pid = fork();
	if (b->pid < 0)
		return -errno;
	if (b->pid == 0)
		broker_exec(b, build, config, n_devices, n_queues);
	b->pidfd = pidfd_open(b->pid, 0);
	if (b->pidfd < 0)
		return -errno;
	/* Bounded: 10 s of connection attempts, each an answer from the kernel. */
	for (int i = 0; i < 1000; i++) {
		int fd = churn_probe_connect(b->sock);
		if (fd >= 0) {
			long queues, clients;
			struct churn_census busy;
			r = churn_probe_status(fd, &queues, &clients);
			churn_census(b->pid, &busy);
			close(fd);
			/*
			 * Wait until the broker closed its end too, the connection and
			 * our pidfd (two close() calls: a count between them is not
			 * rest): the baseline starts at rest.
			 */
			for (int j = 0; j < 2500; j++) {
				struct churn_census now;
				if (churn_census(b->pid, &now) < 0 || now.fds <= busy.fds - 2)
					break;
				usleep(2000);
			}
			return r;
		}
		if (waitpid(b->pid, NULL, WNOHANG) != 0)
			return -ECHILD;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

int churn_broker_stop(struct churn_broker *b, bool keep)
{
	int status = -1;
	char cmd[128];

	if (b->pid <= 0)
		return -1;
	kill(b->pid, SIGTERM);
	waitpid(b->pid, &status, 0);
	close(b->pidfd);
	b->pid = 0;
	if (keep) {
		fprintf(stderr, "accel-churn: kept %s (broker.log)\n", b->dir);
	} else {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", b->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "accel-churn: could not remove %s\n", b->dir);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- /proc ---- */

static void count_fd(struct churn_census *c, const char *target)
{
	c->fds++;
	if (strcmp(target, "anon_inode:[pidfd]") == 0)
		c->pidfds++;
	else if (strncmp(target, "/memfd:", 7) == 0)
		c->memfds++;
	else if (strncmp(target, "socket:", 7) == 0)
		c->sockets++;
}

static int census_fds(pid_t pid, struct churn_census *c)
{
	char path[64], link[PATH_MAX], target[256];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		ssize_t n;
		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		count_fd(c, target);
	}
	closedir(d);
	return 0;
}

static long status_kib(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

int churn_census_memory(pid_t pid, struct churn_census *c)
{
	char path[64], text[4096], *p;
	ssize_t n;
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = read(fd, text, sizeof(text) - 1)) < 0)
		return -errno;
	text[n] = '\0';
	c->rss_anon_kib = status_kib(text, "RssAnon:");
	c->rss_shmem_kib = status_kib(text, "RssShmem:");
	close(fd);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = read(fd, text, sizeof(text) - 1)) < 0)
		return -errno;
	text[n] = '\0';
	/* After the command name's closing parenthesis: state is field 3, utime 14, stime 15. */
	p = strrchr(text, ')');
	if (p) {
		long long ut = 0, st = 0;
		if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st) == 2)
			c->cpu_ticks = ut + st;
	}
	return 0;
}

int churn_census(pid_t pid, struct churn_census *c)
{
	int r;

	memset(c, 0, sizeof(*c));
	r = census_fds(pid, c);
	return r < 0 ? r : churn_census_memory(pid, c);
}

/* ---- blocking calls ---- */

int churn_probe_connect(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return TAKE_FD(fd);
}

static void take_fds(struct msghdr *mh, int *fd)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int *fds = (int *)CMSG_DATA(cm);
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			if (fd && *fd < 0)
				*fd = fds[i];
			else
				close(fds[i]);
		}
	}
}

static int receive_reply(int sock, char **reply, int *fd)
{
	size_t size = 64 * 1024, len = 0;
	_cleanup_free_ char *buf = malloc(size);

	if (fd)
		*fd = -1;
	while (buf) {
		union { struct cmsghdr align; char b[CMSG_SPACE(sizeof(int) * 8)]; } control;
		struct iovec iov = { buf + len, size - len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b,
				     .msg_controllen = sizeof(control.b) };
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		take_fds(&mh, fd);
		len += (size_t)n;
		/* One call, one reply: the NUL is its last byte. */
		if (buf[len - 1] == '\0') {
			*reply = TAKE_PTR(buf);
			return 0;
		}
		if (len == size) {
			char *bigger = realloc(buf, size * 2);
			if (!bigger)
				return -ENOMEM;
			buf = bigger;
			size *= 2;
		}
	}
	return -ENOMEM;
}

int churn_probe_call(int sock, const char *msg, char **reply, int *fd)
{
	size_t len = strlen(msg) + 1, off = 0;

	while (off < len) {
		ssize_t n = send(sock, msg + off, len - off, MSG_NOSIGNAL);
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return receive_reply(sock, reply, fd);
}

int churn_probe_status(int sock, long *queues, long *clients)
{
	_cleanup_free_ char *reply = NULL;
	struct json_object *root, *p, *v;
	int r = churn_probe_call(sock, "{\"method\":\"org.accelbroker.Broker.GetStatus\"}", &reply, NULL);

	if (r < 0)
		return r;
	root = json_tokener_parse(reply);
	r = -EBADMSG;
	if (root && json_object_object_get_ex(root, "parameters", &p)) {
		if (json_object_object_get_ex(p, "queues_active", &v))
			*queues = json_object_get_int64(v), r = 0;
		if (json_object_object_get_ex(p, "clients", &v))
			*clients = json_object_get_int64(v);
	}
	json_object_put(root);
	return r;
}

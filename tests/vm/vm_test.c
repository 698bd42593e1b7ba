// SPDX-License-Identifier: MIT
/*
 * Runs inside the VM (tests/vm/run-vm-check), as root, next to a broker
 * that owns the accel_sim uacce devices of the kernel module.  Clients run
 * as uid 65534.  Prints one line per check and "N passed, M failed".
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <linux/userfaultfd.h>

#include <accel/accel.h>
#include <accel/sim.h>
#include <accel/uacce.h>
#include <misc/uacce/uacce.h>

#include "vm_test.h"
#include "wire.h"


static const char *sock_path;
/* Connections that hold queues: open until the process exits. */
static struct wire held[16];
static unsigned n_held;
static int passed, failed;

void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

bool attr_is(const char *dev, const char *name, const char *want)
{
	char path[256], buf[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/uacce/%s/%s", dev, name);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, want) != 0)
		printf("# %s/%s: \"%s\", want \"%s\"\n", dev, name, buf, want);
	return strcmp(buf, want) == 0;
}

int drop_to_nobody(void)
{
	return setgroups(0, NULL) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 &&
	       setresuid(NOBODY, NOBODY, NOBODY) == 0 ? 0 : -1;
}

/*
 * AcquireQueue on the raw protocol (libaccel has no driver for a queue
 * whose algorithm the kernel driver cannot be told yet): returns the fd and
 * the queue id, or -1 with the error name in @err.
 */
static int raw_acquire_algorithm(const char *device, const char *algorithm, long long *id, char *err,
				 size_t err_size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char msg[256];
	const char *reply, *p;
	size_t len;
	struct wire w;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), qfd;

	strcpy(sa.sun_path, sock_path);
	if (fd < 0 || n_held == sizeof(held) / sizeof(held[0]) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || wire_init(&w, fd) < 0)
		return -1;
	snprintf(msg, sizeof(msg), "{\"method\":\"org.accelbroker.Broker.AcquireQueue\","
		 "\"parameters\":{\"algorithm\":\"%s\",\"device\":\"%s\"}}", algorithm, device);
	if (wire_send_all(&w, msg, strlen(msg)) < 0 || wire_receive(&w, &reply, &len) < 0) {
		wire_finish(&w);
		return -1;
	}
	if ((p = strstr(reply, "\"error\":\""))) {
		snprintf(err, err_size, "%.*s", (int)strcspn(p + 9, "\""), p + 9);
		wire_finish(&w);
		return -1;
	}
	p = strstr(reply, "\"queue_id\":");
	*id = p ? atoll(p + 11) : 0;
	qfd = wire_take_fd(&w);
	held[n_held++] = w;	/* the queue lives by its connection */
	return qfd;
}

static int raw_acquire(const char *device, long long *id, char *err, size_t err_size)
{
	return raw_acquire_algorithm(device, "copy", id, err, err_size);
}

/* Wait for @pid; its exit status, or 128 + the signal that killed it. */
int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int count_devices(void)
{
	struct accel_client *c;
	struct accel_device *d;
	size_t n = 0;

	if (accel_connect(sock_path, &c) < 0)
		return -1;
	if (accel_list_devices(c, &d, &n) < 0)
		n = (size_t)-1;
	else
		accel_devices_free(d, n);
	accel_disconnect(c);
	return (int)n;
}

/* A boolean member of @o, or -1 when it is missing. */
static int json_bool(const char *o, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(o, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	p += strspn(p, " ");
	return strncmp(p, "true", 4) == 0;
}

/*
 * Whether ListDevices on the broker at @socket shows @dev with @sva and
 * @revocable, and refused (with a reason naming bind_mm) or not.
 */
static bool devices_say(const char *socket, const char *dev, bool sva, bool revocable, bool refused)
{
	struct accel_client *c;
	char *reply = NULL, name[64], *o, *end;
	bool ok = false;

	if (accel_connect(socket, &c) < 0)
		return false;
	snprintf(name, sizeof(name), "\"%s\"", dev);
	if (accel_call_json(c, "org.accelbroker.Broker.ListDevices", NULL, &reply) == 0 &&
	    (o = strstr(reply, name))) {
		end = strchr(o, '}');
		if (end)
			*end = '\0';
		ok = json_bool(o, "sva") == sva && json_bool(o, "revocable") == revocable &&
		     (strstr(o, "\"refused\"") != NULL) == refused &&
		     (!refused || strstr(o, "bind_mm"));
		if (!ok)
			printf("# %s: %s\n", dev, o);
	} else {
		printf("# ListDevices: %s\n", reply ? reply : "failed");
	}
	free(reply);
	accel_disconnect(c);
	return ok;
}

static void sysfs_and_discovery(void)
{
	struct accel_client *c;
	struct accel_device *d;
	size_t n = 0;
	char dus[32];
	bool found_sva = false, all_uacce = true;

	snprintf(dus, sizeof(dus), "%u", ACCEL_SIM_DUS_SIZE);
	check(attr_is("accel_sim-0", "api", ACCEL_SIM_API) && attr_is("accel_sim-0", "algorithms", ACCEL_SIM_ALGORITHMS) &&
	      attr_is("accel_sim-0", "flags", "0") && attr_is("accel_sim-0", "available_instances", "32") &&
	      attr_is("accel_sim-0", "region_mmio_size", "4096") && attr_is("accel_sim-0", "region_dus_size", dus) &&
	      attr_is("accel_sim-0", "isolate", "0"),
	      "sysfs attributes of accel_sim-0");
	check(attr_is("accel_sim-2", "flags", "1"), "accel_sim-2 is an SVA device");
	if (accel_connect(sock_path, &c) == 0 && accel_list_devices(c, &d, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			bool sva_dev = strcmp(d[i].name, "accel_sim-2") == 0;

			all_uacce &= strcmp(d[i].backend, "uacce") == 0 &&
				     strcmp(d[i].api, sva_dev ? ACCEL_SIM_SVA_API : ACCEL_SIM_API) == 0;
			found_sva |= strcmp(d[i].name, "accel_sim-2") == 0 && d[i].sva;
		}
		accel_devices_free(d, n);
		accel_disconnect(c);
	}
	check(n == 3 && all_uacce && found_sva, "the broker discovers 3 uacce devices, one SVA (%zu)", n);
	check(attr_is("accel_sim-0", "features", "bind_mm revoke") && attr_is("accel_sim-2", "features", "bind_mm revoke"),
	      "the kernel's uacce says features: bind_mm revoke");
	check(devices_say(sock_path, "accel_sim-2", true, true, false) &&
	      devices_say(sock_path, "accel_sim-0", false, true, false),
	      "ListDevices: accel_sim-2 sva, revocable, served; accel_sim-0 revocable");
}

/* As nobody: the node is closed to us, the broker's queue is ours, fork children get no mapping. */
static int client_flow(int report)
{
	struct accel_sim_regs *regs;
	char err[128] = "", byte;
	long long id = 0;
	void *dus;
	pid_t pid;
	int fd;

	if (drop_to_nobody() < 0)
		return 10;
	if (open("/dev/accel_sim-0", O_RDWR) >= 0 || errno != EACCES)
		return 11;
	fd = raw_acquire("accel_sim-0", &id, err, sizeof(err));
	if (fd < 0)
		return 12;
	regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	dus = mmap(NULL, ACCEL_SIM_DUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
	if (regs == MAP_FAILED || dus == MAP_FAILED)
		return 13;
	if (regs->magic != ACCEL_SIM_MAGIC || regs->state != ACCEL_SIM_STATE_ACTIVE)
		return 14;
	memset(dus, 0xa5, 4096);
	/* A partial unmap or a move of the region is refused. */
	if (munmap((char *)dus + 4096, 4096) == 0 ||
	    mremap(dus, ACCEL_SIM_DUS_SIZE, ACCEL_SIM_DUS_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED,
		   (char *)dus + (64u << 20)) != MAP_FAILED)
		return 15;
	/* A forked child has no mapping: touching it is a segfault. */
	pid = fork();
	if (pid == 0)
		_exit(regs->magic == ACCEL_SIM_MAGIC ? 1 : 2);
	if (wait_child(pid) != 128 + SIGSEGV)
		return 16;
	/* Tell the test our queue id, wait until it has been revoked. */
	(void)!write(report, &id, sizeof(id));
	if (read(report, &byte, 1) != 1)
		return 17;
	/* PUT_Q reached our fd too: ioctls fail, poll hangs up. */
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (ioctl(fd, UACCE_CMD_START_Q) == 0 || errno != ENXIO)
		return 18;
	if (poll(&p, 1, 1000) != 1 || !(p.revents & POLLHUP))
		return 19;
	/*
	 * The mapping no longer reaches the queue's memory: regs read
	 * "revoked", the data written before is gone, and writes land in
	 * scratch memory of our own instead of killing us.
	 */
	if (regs->state != ACCEL_SIM_STATE_REVOKED || regs->magic != ACCEL_SIM_MAGIC)
		return 20;
	if (((volatile unsigned char *)dus)[0] != 0)
		return 21;
	memset(dus, 0x5a, 8192);
	regs->sq_tail = 1;
	if (ioctl(fd, ACCEL_SIM_CMD_DOORBELL) == 0 || errno != ENXIO)
		return 22;
	return 0;
}

/* As nobody, through libaccel: a revoked queue's operations fail with ENOLINK, nothing faults. */
static int libaccel_revoked(int report)
{
	const struct accel_acquire_options on1 = { "accel_sim-1", -1 };
	struct accel_completion done;
	struct accel_client *c;
	struct accel_queue *q;
	long long id;
	char byte;
	void *buf;

	if (drop_to_nobody() < 0 || accel_connect(sock_path, &c) < 0 || accel_acquire(c, "copy", &on1, &q) < 0)
		return 10;
	id = (long long)accel_queue_id(q);
	(void)!write(report, &id, sizeof(id));
	if (read(report, &byte, 1) != 1)
		return 17;
	if (accel_queue_state(q) != ACCEL_QUEUE_REVOKED)
		return 20;
	buf = accel_queue_buffer(q, NULL);
	if (accel_submit(q, &(struct accel_op){ .src = buf, .src_len = 1, .dst = buf, .dst_len = 1 }) != -ENOLINK)
		return 21;
	if (accel_poll(q, &done, 1) != -ENOLINK)
		return 22;
	accel_release(q);
	accel_disconnect(c);
	return 0;
}

/*
 * The revoke that comes while accel_run() copies a completed result out of
 * the data area (rmmod_with_queues_open failed on it once, under load): the
 * caller's destination faults on its second page, and the handler has the
 * queue revoked before the copy goes on.  What the copy reads from there
 * on is scratch (zeroes), so accel_run() must fail with ENOLINK, not hand
 * the zeroes over as the result.
 */
#define COPY_OUT_LEN (2 * 4096)
static struct {
	int report;
	long long id;
	unsigned char *fence;	/* the destination's second page, PROT_NONE until the revoke */
	volatile sig_atomic_t faults;
} copy_out;

static void copy_out_fault(int sig, siginfo_t *si, void *ctx)
{
	char byte;

	(void)sig;
	(void)ctx;
	if (copy_out.faults++ || (unsigned char *)si->si_addr < copy_out.fence ||
	    (unsigned char *)si->si_addr >= copy_out.fence + 4096)
		_exit(30);	/* not the fault we set up */
	/* The parent revokes (the kernel zaps the queue's pages) and answers. */
	if (write(copy_out.report, &copy_out.id, sizeof(copy_out.id)) != sizeof(copy_out.id) ||
	    read(copy_out.report, &byte, 1) != 1 ||
	    mprotect(copy_out.fence, 4096, PROT_READ | PROT_WRITE) < 0)
		_exit(31);
}

static int libaccel_revoked_during_copy_out(int report)
{
	const struct accel_acquire_options on1 = { "accel_sim-1", -1 };
	struct sigaction sa = { .sa_sigaction = copy_out_fault, .sa_flags = SA_SIGINFO };
	static unsigned char src[COPY_OUT_LEN];
	struct accel_client *c;
	struct accel_queue *q;
	unsigned char *dst;
	int r;

	if (drop_to_nobody() < 0 || accel_connect(sock_path, &c) < 0 || accel_acquire(c, "copy", &on1, &q) < 0)
		return 10;
	memset(src, 0xa5, sizeof(src));
	dst = mmap(NULL, COPY_OUT_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED)
		return 11;
	/* A first run: the queue works, every page of it mapped. */
	if (accel_run(q, src, sizeof(src), dst, COPY_OUT_LEN, 0, 0, NULL) < 0 || memcmp(dst, src, sizeof(src)))
		return 12;
	memset(dst, 0, COPY_OUT_LEN);
	copy_out.report = report;
	copy_out.id = (long long)accel_queue_id(q);
	copy_out.fence = dst + 4096;
	if (sigaction(SIGSEGV, &sa, NULL) < 0 || mprotect(copy_out.fence, 4096, PROT_NONE) < 0)
		return 13;
	r = accel_run(q, src, sizeof(src), dst, COPY_OUT_LEN, 0, 0, NULL);
	signal(SIGSEGV, SIG_DFL);
	if (copy_out.faults != 1)
		return 14;	/* the copy never reached the fence */
	if (r != -ENOLINK) {
		size_t zeroes = 0;

		for (size_t i = 0; i < COPY_OUT_LEN; i++)
			zeroes += dst[i] == 0;
		printf("# accel_run across the revoke: %s, %zu of %d bytes zero\n", r < 0 ? strerror(-r) : "ok",
		       zeroes, COPY_OUT_LEN);
		return 15;
	}
	accel_release(q);
	accel_disconnect(c);
	return 0;
}

/* Run @client as a child, revoke the queue it reports with accelctl, and return its status. */
static int revoke_under(int (*client)(int), long long *id_out)
{
	int sv[2], status;
	long long id = 0;
	char cmd[256];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid == 0)
		_exit(client(sv[1]));
	close(sv[1]);	/* a client that fails early hangs up: no read waits forever */
	if (read(sv[0], &id, sizeof(id)) != sizeof(id)) {
		status = wait_child(pid);
		printf("# the client stopped before revocation: %d\n", status);
		close(sv[0]);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "/bin/accelctl --socket %s revoke %lld >/dev/null", sock_path, id);
	if (system(cmd) != 0)
		printf("# accelctl revoke %lld failed\n", id);
	(void)!write(sv[0], "r", 1);
	status = wait_child(pid);
	close(sv[0]);
	*id_out = id;
	return status;
}

static void queue_through_the_broker_and_revoke(void)
{
	long long id = 0;
	int status;

	status = revoke_under(client_flow, &id);
	check(status == 0,
	      "nobody: node closed; queue %lld through the broker, mapped, fork child without mapping; "
	      "after accelctl revoke (REVOKE): ioctl ENXIO, poll POLLHUP, regs read REVOKED, the old data is "
	      "gone and writes land in scratch (status %d)", id, status);
	status = revoke_under(libaccel_revoked, &id);
	check(status == 0, "through libaccel a revoked kernel queue reads REVOKED and fails with ENOLINK (status %d)",
	      status);
}

static void revoke_during_copy_out(void)
{
	long long id = 0;
	int status = revoke_under(libaccel_revoked_during_copy_out, &id);

	check(status == 0, "a revoke while accel_run() copies its result out of the data area: ENOLINK, "
	      "not the scratch zeroes as the result (status %d)", status);
}

/*
 * The hostile-holder checks of the uacce framework (issue 13): each runs as
 * nobody twice, on a queue opened through a node of mode 0666 and on one
 * the broker opened, and each failed before its fix.
 */

enum { VIA_NODE, VIA_BROKER };
static const char *const via_name[] = { "0666 node", "broker fd" };
#define NODE_DIR "/tmp/nodes"
#define EXT2_DIR "/tmp/ext2"

/* One broker connection for many acquire/release rounds (raw_acquire keeps its connections). */
static int broker_connect(struct wire *w)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || wire_init(w, fd) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return 0;
}

static int broker_call(struct wire *w, const char *msg, const char **reply)
{
	size_t len;

	if (wire_send_all(w, msg, strlen(msg)) < 0 || wire_receive(w, reply, &len) < 0)
		return -1;
	return strstr(*reply, "\"error\":\"") ? -1 : 0;
}

static int broker_acquire(struct wire *w, const char *device, long long *id)
{
	char msg[256];
	const char *reply, *p;

	snprintf(msg, sizeof(msg), "{\"method\":\"org.accelbroker.Broker.AcquireQueue\","
		 "\"parameters\":{\"algorithm\":\"copy\",\"device\":\"%s\"}}", device);
	if (broker_call(w, msg, &reply) < 0 || !(p = strstr(reply, "\"queue_id\":")))
		return -1;
	*id = atoll(p + 11);
	return wire_take_fd(w);
}

static int broker_release(struct wire *w, long long id)
{
	char msg[256];
	const char *reply;

	snprintf(msg, sizeof(msg), "{\"method\":\"org.accelbroker.Broker.ReleaseQueue\","
		 "\"parameters\":{\"queue_id\":%lld}}", id);
	return broker_call(w, msg, &reply);
}

/* A queue of accel_sim-1 the way @via gets it; the broker's needs @w and gives @id. */
static int queue_open(int via, const char *node, struct wire *w, long long *id)
{
	if (via == VIA_NODE)
		return open(node, O_RDWR | O_CLOEXEC);
	return broker_acquire(w, "accel_sim-1", id);
}

static void queue_close(int via, int fd, struct wire *w, long long id)
{
	close(fd);
	if (via == VIA_BROKER)
		broker_release(w, id);
}

/* As root: a node of accel_sim-1 in @dir, mode 0666, for nobody. */
static bool make_node(const char *dir, char *path, size_t size)
{
	struct stat st;

	snprintf(path, size, "%s/accel_sim-1", dir);
	if (stat("/dev/accel_sim-1", &st) < 0)
		return false;
	unlink(path);
	return mknod(path, S_IFCHR | 0666, st.st_rdev) == 0 && chmod(path, 0666) == 0;
}

/*
 * The PUT_Q side of the race: a helper thread at the default priority, on
 * the same CPU as the mmap() side, which runs at nice 19.  Told to go, it
 * sleeps @delay_ns and issues PUT_Q; its wakeup preempts the mmap() side
 * at the next preemption point inside mmap(), which is how the window
 * between the driver's f_op->mmap and the vma joining the queue's
 * address_space is hit.
 */
struct race {
	int go[2], done[2];
	int fd;
	long delay_ns;
};

static void *race_put_q(void *arg)
{
	struct race *r = arg;
	char byte;

	while (read(r->go[0], &byte, 1) == 1 && byte == 'g') {
		struct timespec ts = { .tv_nsec = r->delay_ns };

		nanosleep(&ts, NULL);
		ioctl(r->fd, UACCE_CMD_PUT_Q);
		(void)!write(r->done[1], "d", 1);
	}
	return NULL;
}

static int race_setup(struct race *r, pthread_t *t)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	r->delay_ns = 20000;
	if (sched_setaffinity(0, sizeof(one), &one) < 0 || pipe(r->go) < 0 || pipe(r->done) < 0 ||
	    pthread_create(t, NULL, race_put_q, r) != 0)
		return -1;
	/* The helper keeps the default nice; we, the mmap() side, yield to it. */
	return setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
}

/*
 * As nobody: PUT_Q on one thread, mmap() of the DUS region on another,
 * @rounds times; the queue's data was written before.  Returns how many
 * mappings still held it afterwards (the defect: any), or -1.
 */
static int revocation_races(int via, const char *node, int rounds, int *mapped)
{
	struct race r;
	struct wire w;
	pthread_t t;
	int survivors = 0;
	char byte;

	if (race_setup(&r, &t) < 0 || (via == VIA_BROKER && broker_connect(&w) < 0))
		return -1;
	*mapped = 0;
	for (int n = 0; n < rounds; n++) {
		long long id = 0;
		unsigned char *dus;

		r.fd = queue_open(via, node, &w, &id);
		if (r.fd < 0)
			return -1;
		dus = mmap(NULL, ACCEL_SIM_DUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 4096);
		if (dus == MAP_FAILED)
			return -1;
		memset(dus, 0xa5, 4096);
		munmap(dus, ACCEL_SIM_DUS_SIZE);
		if (write(r.go[1], "g", 1) != 1)
			return -1;
		dus = mmap(NULL, ACCEL_SIM_DUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 4096);
		if (read(r.done[0], &byte, 1) != 1)
			return -1;
		/*
		 * Aim PUT_Q at the end of mmap(): wait longer when it came first
		 * (mmap failed), less when mmap had finished (mapped).
		 */
		r.delay_ns += (dus == MAP_FAILED ? 1 : -1) * (r.delay_ns / 8 + 500);
		if (r.delay_ns < 0)
			r.delay_ns = 0;
		if (r.delay_ns > 999999999)
			r.delay_ns = 999999999;
		if (dus != MAP_FAILED) {
			(*mapped)++;
			survivors += ((volatile unsigned char *)dus)[0] == 0xa5;
			munmap(dus, ACCEL_SIM_DUS_SIZE);
		}
		queue_close(via, r.fd, &w, id);
	}
	(void)!write(r.go[1], "q", 1);
	pthread_join(t, NULL);
	if (via == VIA_BROKER)
		wire_finish(&w);
	return survivors;
}

static void revocation_race_with_mmap(void)
{
	char node[64];

	mkdir(NODE_DIR, 0755);
	check(make_node(NODE_DIR, node, sizeof(node)), "a 0666 node of accel_sim-1 in " NODE_DIR);
	for (int via = VIA_NODE; via <= VIA_BROKER; via++) {
		int rounds = via == VIA_NODE ? 400 : 120, mapped = 0, survivors = -1;
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			if (drop_to_nobody() < 0)
				_exit(255);
			survivors = revocation_races(via, node, rounds, &mapped);
			printf("# %s: %d races, %d mappings, %d kept the revoked queue's pages\n",
			       via_name[via], rounds, mapped, survivors);
			fflush(stdout);
			_exit(survivors < 0 ? 255 : survivors > 100 ? 100 : survivors);
		}
		status = wait_child(pid);
		check(status == 0, "nobody, %s: PUT_Q racing mmap() of the DUS region leaves no mapping holding "
		      "the revoked queue's pages (status %d)", via_name[via], status);
	}
}

/*
 * As nobody: the region's "mapped" mark lives as long as a vma maps it,
 * whatever mremap does.
 */
static int mapping_bookkeeping(int via, const char *node)
{
	struct accel_sim_regs *regs;
	unsigned char *dus;
	void *spare;
	struct wire w;
	long long id = 0;
	int fd;

	if (drop_to_nobody() < 0 || (via == VIA_BROKER && broker_connect(&w) < 0))
		return 1;
	fd = queue_open(via, node, &w, &id);
	if (fd < 0)
		return 2;
	regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	dus = mmap(NULL, ACCEL_SIM_DUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
	if (regs == MAP_FAILED || dus == MAP_FAILED || regs->magic != ACCEL_SIM_MAGIC)
		return 3;
	dus[0] = 0x3c;
	/* A refused move (same size) leaves the region mapped once: no second mmap. */
	spare = mmap(NULL, ACCEL_SIM_DUS_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (spare == MAP_FAILED ||
	    mremap(dus, ACCEL_SIM_DUS_SIZE, ACCEL_SIM_DUS_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, spare) != MAP_FAILED ||
	    mremap(regs, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, spare) != MAP_FAILED)
		return 4;
	if (mmap(NULL, ACCEL_SIM_DUS_SIZE, PROT_READ, MAP_SHARED, fd, 4096) != MAP_FAILED || errno != EEXIST ||
	    mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) != MAP_FAILED || errno != EEXIST)
		return 5;
	if (dus[0] != 0x3c || regs->magic != ACCEL_SIM_MAGIC)
		return 6;
	/* Unmapped for good, the regions map again: the count is per vma, not leaked. */
	if (munmap(regs, 4096) < 0 || munmap(dus, ACCEL_SIM_DUS_SIZE) < 0)
		return 9;
	dus = mmap(NULL, ACCEL_SIM_DUS_SIZE, PROT_READ, MAP_SHARED, fd, 4096);
	if (dus == MAP_FAILED || dus[0] != 0x3c)
		return 10;
	queue_close(via, fd, &w, id);
	return 0;
}

/* As nobody: no madvise() lets a forked child inherit a queue mapping. */
static int fork_protection(int via, const char *node)
{
	struct accel_sim_regs *regs;
	unsigned char *dus;
	struct wire w;
	long long id = 0;
	pid_t pid;
	int fd;

	if (drop_to_nobody() < 0 || (via == VIA_BROKER && broker_connect(&w) < 0))
		return 1;
	fd = queue_open(via, node, &w, &id);
	if (fd < 0)
		return 2;
	regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	dus = mmap(NULL, ACCEL_SIM_DUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
	if (regs == MAP_FAILED || dus == MAP_FAILED || regs->magic != ACCEL_SIM_MAGIC)
		return 3;
	dus[0] = 0x3c;
	/* MADV_DOFORK is refused; KEEPONFORK may pass but leaves DONTCOPY. */
	if (madvise(regs, 4096, MADV_DOFORK) == 0 || madvise(dus, ACCEL_SIM_DUS_SIZE, MADV_DOFORK) == 0)
		return 7;
	(void)madvise(regs, 4096, MADV_KEEPONFORK);
	(void)madvise(dus, ACCEL_SIM_DUS_SIZE, MADV_KEEPONFORK);
	pid = fork();
	if (pid == 0)
		_exit(regs->magic == ACCEL_SIM_MAGIC || dus[0] == 0x3c ? 1 : 2);
	if (wait_child(pid) != 128 + SIGSEGV)
		return 8;
	queue_close(via, fd, &w, id);
	return 0;
}

static void mapping_bookkeeping_checks(void)
{
	char node[64];

	snprintf(node, sizeof(node), NODE_DIR "/accel_sim-1");
	for (int via = VIA_NODE; via <= VIA_BROKER; via++) {
		pid_t pid = fork();
		int status;

		if (pid == 0)
			_exit(mapping_bookkeeping(via, node));
		status = wait_child(pid);
		check(status == 0, "nobody, %s: a refused mremap keeps the region mapped once (EEXIST), "
		      "unmapped it maps again (exit %d)", via_name[via], status);
		pid = fork();
		if (pid == 0)
			_exit(fork_protection(via, node));
		status = wait_child(pid);
		check(status == 0, "nobody, %s: MADV_DOFORK refused, after MADV_KEEPONFORK a forked child "
		      "still has no mapping (exit %d)", via_name[via], status);
	}
}

/* As root: ext2 on a ramdisk at EXT2_DIR, modules from @modules unless built in (the lockdep kernel). */
static bool ext2_mount(const char *modules)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "set -e; cd %s; [ -b /dev/ram0 ] || insmod brd.ko rd_nr=1 rd_size=4096; "
		 "grep -qw ext2 /proc/filesystems || for m in crc32c_generic crc16 mbcache jbd2 ext4; do "
		 "insmod $m.ko; done; mke2fs /dev/ram0 >/dev/null; mkdir -p " EXT2_DIR "; "
		 "mount -t ext2 /dev/ram0 " EXT2_DIR, modules);
	return system(cmd) == 0;
}

/*
 * As nobody: what generic file code would do with the queue's page cache
 * (readahead, read, splice, seek) finds none and says so, on a node whose
 * filesystem has a backing device (ext2) and on the broker's fd.
 */
static int no_page_cache(int via, const char *node)
{
	struct wire w;
	long long id = 0;
	int fd, pipefd[2];
	char buf[16];
	void *regs;

	if (drop_to_nobody() < 0 || (via == VIA_BROKER && broker_connect(&w) < 0) || pipe(pipefd) < 0)
		return 1;
	fd = queue_open(via, node, &w, &id);
	if (fd < 0)
		return 2;
	if (posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED) != 0 || posix_fadvise(fd, 0, 8192, POSIX_FADV_DONTNEED) != 0 ||
	    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) != 0)
		return 3;
	regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (regs == MAP_FAILED || madvise(regs, 4096, MADV_WILLNEED) != 0)
		return 4;
	if (read(fd, buf, sizeof(buf)) >= 0 || errno != EINVAL)
		return 5;
	if (lseek(fd, 4096, SEEK_SET) >= 0 || errno != ESPIPE)
		return 6;
	if (splice(fd, NULL, pipefd[1], NULL, 4096, 0) >= 0 || errno != EINVAL)
		return 7;
	/* A write on ext2 takes the write-notify path (the node's bdi writes back). */
	if (((struct accel_sim_regs *)regs)->magic != ACCEL_SIM_MAGIC)
		return 8;
	((struct accel_sim_regs *)regs)->cq_head = 0;
	queue_close(via, fd, &w, id);
	return 0;
}

static void no_page_cache_checks(const char *modules)
{
	char node[64];
	bool mounted = ext2_mount(modules);

	check(mounted && make_node(EXT2_DIR, node, sizeof(node)), "a 0666 node of accel_sim-1 on ext2 (a ramdisk)");
	for (int via = VIA_NODE; via <= VIA_BROKER; via++) {
		pid_t pid;
		int status;

		if (via == VIA_NODE && !mounted)
			continue;
		pid = fork();
		if (pid == 0)
			_exit(no_page_cache(via, node));
		status = wait_child(pid);
		check(status == 0, "nobody, %s: posix_fadvise and MADV_WILLNEED are no-ops; read EINVAL, lseek "
		      "ESPIPE, splice EINVAL (exit %d)", via == VIA_NODE ? "node on ext2" : via_name[via], status);
	}
}

/* As nobody, through libaccel: the kernel engine runs copy and crc32c, one by one and in bulk. */
static int libaccel_work(void)
{
	const struct accel_acquire_options on0 = { "accel_sim-0", -1 };
	struct accel_client *c;
	struct accel_queue *copy, *crc;
	struct accel_completion done[64];
	char out[16] = "";
	unsigned char *buf;
	size_t size;
	int n = 0, r;

	if (drop_to_nobody() < 0 || accel_connect(sock_path, &c) < 0)
		return 1;
	if (accel_acquire(c, "copy", &on0, &copy) < 0 || accel_acquire(c, "crc32c", &on0, &crc) < 0)
		return 2;
	if (accel_run(copy, "kernel!", 8, out, sizeof(out), 0, 0, NULL) < 0 || strcmp(out, "kernel!") != 0)
		return 3;
	if (accel_run(crc, "123456789", 9, NULL, 0, 0, 0, &done[0]) < 0 || done[0].value != 0xe3069283)
		return 4;
	/* 1000 copies of 1 KiB, 64 in flight at most, every result checked. */
	buf = accel_queue_buffer(copy, &size);
	for (int i = 0; i < 1024; i++)
		buf[i] = (unsigned char)(i * 7);
	for (int sent = 0, got = 0; got < 1000;) {
		while (sent < 1000 && sent - got < 64) {
			r = accel_submit(copy, &(struct accel_op){ .src = buf, .src_len = 1024,
				.dst = buf + 4096 + (size_t)(sent % 64) * 1024, .dst_len = 1024, .user_data = (uint64_t)sent });
			if (r < 0)
				return 5;
			sent++;
		}
		n = accel_wait(copy, done, 64, 5000);
		if (n <= 0)
			return 6;
		for (int i = 0; i < n; i++)
			if (done[i].status != 0 || done[i].produced != 1024 ||
			    memcmp(buf, buf + 4096 + (done[i].user_data % 64) * 1024, 1024) != 0)
				return 7;
		got += n;
	}
	/* Out of the data area: refused by the device, not by luck. */
	if (accel_run(crc, NULL, 0, NULL, 0, (uint64_t)1 << 40, 0, &done[0]) != -EINVAL)
		return 8;
	accel_release(copy);
	accel_release(crc);
	accel_disconnect(c);
	return 0;
}

/* As nobody: pages a holder drops from a live queue come back, the queue's own (not scratch). */
static int dropped_pages_return(void)
{
	char err[128];
	long long id;
	unsigned char *dus;
	int fd;

	if (drop_to_nobody() < 0)
		return 1;
	fd = raw_acquire("accel_sim-1", &id, err, sizeof(err));
	if (fd < 0)
		return 2;
	dus = mmap(NULL, ACCEL_SIM_DUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
	if (dus == MAP_FAILED)
		return 3;
	dus[0] = 0x77;
	if (madvise(dus, 4096, MADV_DONTNEED) < 0)
		return 4;
	return ((volatile unsigned char *)dus)[0] == 0x77 ? 0 : 5;
}

/* As nobody: ring indices no honest client writes stop the queue, and only it. */
static int hostile_indices(void)
{
	struct accel_sim_regs *regs;
	char err[128];
	long long id;
	int fd;

	if (drop_to_nobody() < 0)
		return 1;
	fd = raw_acquire("accel_sim-1", &id, err, sizeof(err));
	if (fd < 0)
		return 2;
	regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (regs == MAP_FAILED)
		return 3;
	__atomic_store_n(&regs->sq_tail, 100000, __ATOMIC_RELEASE);
	ioctl(fd, ACCEL_SIM_CMD_DOORBELL);
	for (int i = 0; i < 200 && __atomic_load_n(&regs->state, __ATOMIC_ACQUIRE) != ACCEL_SIM_STATE_BROKEN; i++)
		usleep(5000);
	return regs->state == ACCEL_SIM_STATE_BROKEN ? 0 : 4;
}

static void kernel_engine_through_libaccel(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(libaccel_work());
	status = wait_child(pid);
	check(status == 0, "nobody, through libaccel: copy and crc32c (RFC 3720 value) on the kernel engine, "
	      "1000 copies with 64 in flight (exit %d)", status);
	pid = fork();
	if (pid == 0)
		_exit(hostile_indices());
	status = wait_child(pid);
	check(status == 0, "a client's impossible sq_tail stops its queue as BROKEN (exit %d)", status);
	pid = fork();
	if (pid == 0)
		_exit(dropped_pages_return());
	status = wait_child(pid);
	check(status == 0, "pages dropped from a live queue (MADV_DONTNEED) fault back in with the queue's data "
	      "(status %d)", status);
}

/*
 * Stream @in through @q (gzip or gunzip) with at most @in_step input and
 * @out_step output bytes an operation, so that every part of the member,
 * its header and trailer too, straddles operations.  Returns the bytes
 * written to @out, or a negative errno.
 */
static long stream_steps(struct accel_queue *q, bool compress, const unsigned char *in, size_t in_len,
			 size_t in_step, size_t out_step, unsigned char *out, size_t out_cap, uint64_t level)
{
	struct accel_completion c;
	size_t pos = 0, made = 0;
	uint32_t flags = ACCEL_OP_MORE;	/* a step, not the whole stream */

	for (unsigned long round = 0; round < 1000000; round++) {
		size_t n = in_len - pos < in_step ? in_len - pos : in_step;
		int r;

		if (compress && pos + n == in_len)
			flags |= ACCEL_OP_FINISH;
		if (made + out_step > out_cap)
			return -ENOSPC;
		r = accel_run(q, in + pos, n, out + made, out_step, level, flags, &c);
		if (r < 0)
			return r;
		pos += c.consumed;
		made += c.produced;
		flags |= ACCEL_OP_CONTINUE;
		if (c.flags & ACCEL_COMPLETION_STREAM_END)
			return (long)made;
		if (c.consumed == 0 && c.produced == 0 && pos == in_len && !compress)
			return -EPIPE;
	}
	return -ELOOP;
}

/* A gzip member of @in by the user-space zlib, with every optional header field. */
static long zlib_member(const unsigned char *in, size_t len, unsigned char *out, size_t cap, bool fields)
{
	static char extra[] = "AB\4\0xyzw", name[] = "name.txt", comment[] = "a comment";
	gz_header h = { .os = 3, .extra = (Bytef *)extra, .extra_len = 8, .name = (Bytef *)name,
			.comment = (Bytef *)comment, .hcrc = 1 };
	z_stream z = { 0 };
	long made;

	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK ||
	    (fields && deflateSetHeader(&z, &h) != Z_OK))
		return -1;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	made = deflate(&z, Z_FINISH) == Z_STREAM_END ? (long)z.total_out : -1;
	deflateEnd(&z);
	return made;
}

/* Whether @member is one gzip member of exactly @want, by the user-space zlib. */
static bool zlib_reads(const unsigned char *member, size_t len, const unsigned char *want, size_t want_len)
{
	unsigned char *out = malloc(want_len + 1);
	z_stream z = { 0 };
	bool ok;

	if (!out || inflateInit2(&z, 15 + 16) != Z_OK) {
		free(out);
		return false;
	}
	z.next_in = (Bytef *)member;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)want_len + 1;
	ok = inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == want_len && z.avail_in == 0 &&
	     memcmp(out, want, want_len) == 0;
	inflateEnd(&z);
	free(out);
	return ok;
}

/*
 * As nobody, through libaccel: gzip and gunzip streams on the kernel engine,
 * cut into small operations, checked against the user-space zlib both ways.
 */
static int gzip_streams(void)
{
	enum { TEXT = 48 << 10, CAP = 128 << 10 };
	const struct accel_acquire_options on0 = { "accel_sim-0", -1 };
	static unsigned char text[TEXT], member[CAP], back[CAP];
	struct accel_queue *gz, *gunz;
	struct accel_client *c;
	long n, m;

	for (size_t i = 0, k = 0; i < TEXT; k++)
		i += (size_t)snprintf((char *)text + i, TEXT - i, "line %zu of the accel_sim gzip test\n", k * k % 9973);
	if (drop_to_nobody() < 0 || accel_connect(sock_path, &c) < 0)
		return 1;
	if (accel_acquire(c, "gzip", &on0, &gz) < 0 || accel_acquire(c, "gunzip", &on0, &gunz) < 0)
		return 2;
	/* Kernel gzip, 7 output bytes an operation: zlib reads the member. */
	n = stream_steps(gz, true, text, TEXT, 4000, 7, member, CAP, 0);
	if (n <= 0 || !zlib_reads(member, (size_t)n, text, TEXT))
		return 3;
	/* The same at level 9 in one operation: a smaller member, still read. */
	m = stream_steps(gz, true, text, TEXT, TEXT, CAP / 2, member, CAP, 9);
	if (m <= 0 || m > n || !zlib_reads(member, (size_t)m, text, TEXT))
		return 4;
	/* Kernel gunzip of its own member, 3 input bytes an operation. */
	if (stream_steps(gunz, false, member, (size_t)m, 3, 4096, back, CAP, 0) != TEXT || memcmp(back, text, TEXT))
		return 5;
	/* A zlib member with FEXTRA, FNAME, FCOMMENT and FHCRC, a byte at a time then 5 bytes out. */
	n = zlib_member(text, 2000, member, CAP, true);
	if (n <= 0 || stream_steps(gunz, false, member, (size_t)n, 1, 4096, back, CAP, 0) != 2000 ||
	    memcmp(back, text, 2000) || stream_steps(gunz, false, member, (size_t)n, 4096, 5, back, CAP, 0) != 2000 ||
	    memcmp(back, text, 2000))
		return 6;
	/* Refused: a wrong header CRC, a wrong data CRC, not gzip at all, level 10. */
	member[39] ^= 1;	/* the header CRC: after 10 + 2 + 8 + 9 + 10 bytes */
	if (stream_steps(gunz, false, member, (size_t)n, 4096, 4096, back, CAP, 0) != -EBADMSG)
		return 7;
	member[39] ^= 1;
	member[n - 8] ^= 1;
	if (stream_steps(gunz, false, member, (size_t)n, 4096, 4096, back, CAP, 0) != -EBADMSG)
		return 8;
	if (stream_steps(gunz, false, text, 100, 100, 4096, back, CAP, 0) != -EBADMSG)
		return 9;
	if (stream_steps(gz, true, text, 100, 100, 4096, back, CAP, 10) != -EINVAL)
		return 10;
	accel_release(gz);
	accel_release(gunz);
	accel_disconnect(c);
	return 0;
}

/* As nobody, a shell: accelctl on the kernel engine, checked by busybox gzip. */
static int gzip_files(void)
{
	char script[1024];

	if (drop_to_nobody() < 0)
		return 1;
	snprintf(script, sizeof(script),
		 "set -e; cd /tmp/gzip; seq 1 100000 > in.txt; "
		 "accelctl --socket %1$s compress -d accel_sim-1 -o k.gz in.txt; gzip -t k.gz; gzip -dc k.gz | cmp - in.txt; "
		 "gzip -c in.txt > b.gz; accelctl --socket %1$s decompress -d accel_sim-1 -o b.txt b.gz; cmp b.txt in.txt",
		 sock_path);
	execl("/bin/sh", "sh", "-c", script, (char *)NULL);
	return 2;
}

static void kernel_gzip(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(gzip_streams());
	status = wait_child(pid);
	check(status == 0, "nobody, through libaccel: kernel gzip and gunzip streams cut into operations of "
	      "1-7 bytes read and write the same members as zlib, all header fields, bad CRCs and "
	      "bad levels refused (exit %d)", status);
	if (mkdir("/tmp/gzip", 0700) == 0)
		(void)!chown("/tmp/gzip", NOBODY, NOBODY);
	pid = fork();
	if (pid == 0)
		_exit(gzip_files());
	status = wait_child(pid);
	check(status == 0, "nobody: accelctl compress/decompress on the kernel engine, checked by busybox gzip "
	      "(exit %d)", status);
}

/*
 * As nobody: acquire @n copy queues through libaccel on @device (NULL:
 * accel_sim-0 and -1 in turn), say so, and run operations on all of them
 * until every one has failed with ENOLINK.
 */
static int busy_client(const char *device, int n, int ready)
{
	struct accel_client *c;
	struct accel_queue *q[16];
	bool revoked[16] = { false };
	int left = n;

	if (n > 16 || drop_to_nobody() < 0 || accel_connect(sock_path, &c) < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		const struct accel_acquire_options o = { device ? device : i % 2 ? "accel_sim-1" : "accel_sim-0", -1 };
		if (accel_acquire(c, "copy", &o, &q[i]) < 0)
			return 2;
	}
	for (unsigned long round = 0; left > 0; round++) {
		/* Every queue ran once: busy now, which is what the test waits for. */
		if (round == 1)
			(void)!write(ready, "h", 1);
		for (int i = 0; i < n; i++) {
			char out[8];
			int r;
			if (revoked[i])
				continue;
			r = accel_run(q[i], "busy!", 6, out, sizeof(out), 0, 0, NULL);
			if (r == -ENOLINK) {
				revoked[i] = true;
				left--;
			} else if (r < 0 || strcmp(out, "busy!") != 0) {
				/* Say what came instead: the test's one line would not tell. */
				fprintf(stderr, "# busy client %d: queue %d round %lu: %s, out \"%.6s\"\n",
					(int)getpid(), i, round, r < 0 ? strerror(-r) : "ok", r < 0 ? "" : out);
				return 3;
			}
		}
		if (round > 10000000)
			return 4;
	}
	for (int i = 0; i < n; i++)
		accel_release(q[i]);
	accel_disconnect(c);
	return 0;
}

bool wait_for_devices(int want)
{
	for (int i = 0; i < 500; i++) {
		if (count_devices() == want)
			return true;
		usleep(10000);
	}
	return false;
}

bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok;
}

/* Unbind accel_sim-0's platform device from its driver under busy clients, then bind it again. */
static void unbind_with_queues_open(void)
{
	enum { CLIENTS = 2, PER_CLIENT = 8 };
	char link[256] = "", byte;
	const char *pdev;
	pid_t busy[CLIENTS];
	int ready[2], n_ready = 0, clean = 0;

	if (readlink("/sys/class/uacce/accel_sim-0/device", link, sizeof(link) - 1) < 0 || pipe(ready) < 0) {
		check(false, "accel_sim-0 has a parent device (%s)", strerror(errno));
		return;
	}
	pdev = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	for (int i = 0; i < CLIENTS; i++) {
		busy[i] = fork();
		if (busy[i] == 0)
			_exit(busy_client("accel_sim-0", PER_CLIENT, ready[1]));
	}
	close(ready[1]);
	while (n_ready < CLIENTS && read(ready[0], &byte, 1) == 1)
		n_ready++;
	close(ready[0]);
	check(write_file("/sys/bus/platform/drivers/accel_sim/unbind", pdev),
	      "unbind %s (accel_sim-0) with %d busy queues", pdev, n_ready * PER_CLIENT);
	for (int i = 0; i < CLIENTS; i++)
		clean += wait_child(busy[i]) == 0;
	check(clean == CLIENTS, "every client of the unbound device saw each queue fail with ENOLINK (%d of %d)",
	      clean, CLIENTS);
	check(wait_for_devices(2), "the broker lists the unbound device gone");
	check(write_file("/sys/bus/platform/drivers/accel_sim/bind", pdev) && wait_for_devices(3),
	      "bind %s: the device is back in the broker", pdev);
}

/*
 * A driver whose uacce_register() fails (device_add, injected by the test
 * module uacce_inject) and which then calls uacce_remove(), as accel_sim's
 * probe does: the cdev is deleted once, nothing complains, and the next
 * bind works.
 */
static void failed_register(const char *modules)
{
	const char *pdev = "accel_sim.1";
	char cmd[256];
	bool refused;

	snprintf(cmd, sizeof(cmd), "insmod %s/uacce_inject.ko", modules);
	check(system(cmd) == 0, "insmod uacce_inject (the next uacce device_add fails)");
	check(write_file("/sys/bus/platform/drivers/accel_sim/unbind", pdev) && wait_for_devices(2),
	      "unbind %s: the broker lists it gone", pdev);
	refused = !write_file("/sys/bus/platform/drivers/accel_sim/bind", pdev);
	check(system("rmmod uacce_inject") == 0 && refused,
	      "bind %s fails in uacce_register (device_add) and its probe's uacce_remove returns", pdev);
	check(write_file("/sys/bus/platform/drivers/accel_sim/bind", pdev) && wait_for_devices(3),
	      "bind %s again: the device is back in the broker", pdev);
}

/* Returns whether every busy client saw only ENOLINK. */
static bool rmmod_with_queues_open(const char *modules)
{
	enum { CLIENTS = 8, PER_CLIENT = 8 };
	pid_t busy[CLIENTS];
	int ready[2], clean = 0;
	char cmd[256], byte;

	if (pipe(ready) < 0)
		return false;
	for (int i = 0; i < CLIENTS; i++) {
		busy[i] = fork();
		if (busy[i] == 0)
			_exit(busy_client(NULL, PER_CLIENT, ready[1]));
	}
	close(ready[1]);	/* a client that fails closes its end: no wait forever */
	int n_ready = 0;
	while (n_ready < CLIENTS && read(ready[0], &byte, 1) == 1)
		n_ready++;
	check(n_ready == CLIENTS, "%d busy clients hold %d queues on accel_sim-0 and -1, each run once", n_ready,
	      n_ready * PER_CLIENT);
	check(system("rmmod accel_sim") == 0, "rmmod accel_sim with every queue busy");
	for (int i = 0; i < CLIENTS; i++) {
		int status = wait_child(busy[i]);
		if (status != 0)
			printf("# busy client %d: status %d\n", i, status);
		clean += status == 0;
	}
	check(clean == CLIENTS, "every busy client saw each of its queues fail with ENOLINK, none crashed (%d of %d)",
	      clean, CLIENTS);
	check(wait_for_devices(0), "the broker saw the devices go (uevent) and lists none");
	check(count_devices() == 0, "the broker keeps serving");
	snprintf(cmd, sizeof(cmd), "insmod %s/accel_sim.ko devices=2 sva_devices=1 queues=32", modules);
	check(system(cmd) == 0, "insmod accel_sim again");
	check(wait_for_devices(3), "the devices are back in the broker");
	close(ready[0]);
	return clean == CLIENTS;
}

/*
 * By hand ("run-vm-check ... check rmmod-busy-repeat"): the rmmod of
 * rmmod_with_queues_open, round after round, for a race that one round
 * rarely meets; the rounds with a client that saw anything but ENOLINK
 * are counted.
 */
static void rmmod_busy_repeat(const char *modules)
{
	enum { ROUNDS = 10 };	/* about 45 s under TCG: within the 90 s watchdog */
	int bad = 0;

	for (int i = 0; i < ROUNDS; i++)
		bad += !rmmod_with_queues_open(modules);
	check(bad == 0, "%d rounds of rmmod with busy clients, %d with a client that saw more than ENOLINK",
	      ROUNDS, bad);
}

/*
 * Hostile holders of a queue (issue 13).  Each runs as nobody through a
 * node of mode 0666 (an administrator's grant, or what a broker-handed fd
 * amounts to) and, where the queue's state allows, through a broker fd.
 */

/* A node of mode 0666 for @dev in /tmp; its path in @path. */
static int node_0666(const char *dev, char *path, size_t size)
{
	unsigned int major_nr, minor_nr;
	char attr[128];
	FILE *f;
	int n;

	snprintf(attr, sizeof(attr), "/sys/class/uacce/%s/dev", dev);
	f = fopen(attr, "r");
	if (!f)
		return -1;
	n = fscanf(f, "%u:%u", &major_nr, &minor_nr);
	fclose(f);
	if (n != 2)
		return -1;
	snprintf(path, size, "/tmp/%s-0666", dev);
	unlink(path);
	if (mknod(path, S_IFCHR | 0666, makedev(major_nr, minor_nr)) < 0 || chmod(path, 0666) < 0)
		return -1;
	return 0;
}

/*
 * Run @fn(@arg) in a child; its status, 128 + a signal, or -2 if it did not
 * finish within @seconds (a task stuck in the kernel: it is left behind,
 * the hung-task detector names it in the guest log).
 */
static int run_bounded(int (*fn)(const char *), const char *arg, int seconds)
{
	struct pollfd p = { .events = POLLIN };
	int done[2];
	pid_t pid;

	if (pipe(done) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(done[0]);
		_exit(fn(arg));	/* done[1] closes as it exits */
	}
	close(done[1]);
	p.fd = done[0];
	if (poll(&p, 1, seconds * 1000) != 1) {
		close(done[0]);
		return -2;
	}
	close(done[0]);
	return wait_child(pid);
}

/* Open @node as nobody. */
static int open_as_nobody(const char *node)
{
	return drop_to_nobody() < 0 ? -1 : open(node, O_RDWR | O_CLOEXEC);
}

/*
 * Defect 1: SET_ALGORITHM's argument in the queue's own MMIO page, dropped
 * with MADV_DONTNEED: reading it faults into uacce's handler.  The ioctl
 * returns (the page comes back with the regs, whose first word is no
 * algorithm: EINVAL; a fault would be EFAULT) instead of waiting on itself
 * forever.
 */
static int set_algorithm_from_own_mmio(const char *node)
{
	const uint32_t copy = ACCEL_SIM_OP_COPY;
	void *regs;
	int fd = open_as_nobody(node);

	if (fd < 0)
		return 10;
	regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (regs == MAP_FAILED || madvise(regs, 4096, MADV_DONTNEED) < 0)
		return 11;
	if (ioctl(fd, ACCEL_SIM_CMD_SET_ALGORITHM, regs) == 0 || (errno != EINVAL && errno != EFAULT))
		return 12;
	/* The queue is none the worse. */
	if (ioctl(fd, ACCEL_SIM_CMD_SET_ALGORITHM, &copy) < 0 || ioctl(fd, UACCE_CMD_START_Q) < 0)
		return 13;
	return 0;
}

static void set_algorithm_self_deadlock(void)
{
	char node[64];
	int status = node_0666("accel_sim-1", node, sizeof(node)) < 0 ? -1 :
		     run_bounded(set_algorithm_from_own_mmio, node, 30);

	check(status == 0, "nobody, 0666 node: SET_ALGORITHM reading the queue's own dropped MMIO page returns "
	      "(EINVAL), no self-deadlock on the queue mutex (status %d; -2: hung)", status);
}

struct abba {
	int fd;
	void *arg;
	int ret, err;
	int mapped;	/* pipe: thread B says its mmap() returned */
};

static void *abba_set_algorithm(void *p)
{
	struct abba *a = p;

	a->ret = ioctl(a->fd, ACCEL_SIM_CMD_SET_ALGORITHM, a->arg);
	a->err = errno;
	return NULL;
}

static void *abba_mmap(void *p)
{
	struct abba *a = p;
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, 0);

	(void)!write(a->mapped, m == MAP_FAILED ? "f" : "m", 1);
	return NULL;
}

/*
 * Defect 2: thread A's SET_ALGORITHM faults on a missing anonymous page,
 * held by userfaultfd until we resolve it; thread B then mmap()s the queue,
 * which takes mmap_lock and the queue's mutex.  With the fault under the
 * mutex B waits for A, A for the fault, and resolving it needs mmap_lock
 * B holds.  Fixed, B's mmap() returns first, then A's ioctl succeeds.
 */
static int set_algorithm_abba_child(const char *node)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffd_msg msg;
	struct abba a = { .ret = -1 };
	pthread_t ta, tb;
	int mapped[2], uffd;
	char byte = 0;
	uint32_t *src;

	a.fd = open_as_nobody(node);
	if (a.fd < 0 || pipe(mapped) < 0)
		return 10;
	a.mapped = mapped[1];
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0)
		return 11;
	a.arg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	src = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a.arg == MAP_FAILED || src == MAP_FAILED)
		return 12;
	reg.range.start = (uintptr_t)a.arg;
	reg.range.len = 4096;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		return 13;
	if (pthread_create(&ta, NULL, abba_set_algorithm, &a) != 0)
		return 14;
	struct pollfd p = { .fd = uffd, .events = POLLIN };
	if (poll(&p, 1, 10000) != 1 || read(uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return 15;
	/* A is inside the fault now.  B maps the queue. */
	if (pthread_create(&tb, NULL, abba_mmap, &a) != 0)
		return 16;
	p = (struct pollfd){ .fd = mapped[0], .events = POLLIN };
	if (poll(&p, 1, 20000) != 1 || read(mapped[0], &byte, 1) != 1)
		return 17;	/* B waits for the queue mutex A holds: deadlock (exit frees it) */
	*src = ACCEL_SIM_OP_COPY;
	struct uffdio_copy copy = { .dst = (uintptr_t)a.arg, .src = (uintptr_t)src, .len = 4096 };
	if (ioctl(uffd, UFFDIO_COPY, &copy) < 0)
		return 18;
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	if (byte != 'm')
		return 19;
	return a.ret == 0 ? 0 : 20;
}

static void set_algorithm_abba(void)
{
	char node[64];
	int status = -1;

	/* Kernel-mode faults on a userfaultfd range, for nobody too. */
	if (write_file("/proc/sys/vm/unprivileged_userfaultfd", "1") && node_0666("accel_sim-1", node, sizeof(node)) == 0)
		status = run_bounded(set_algorithm_abba_child, node, 40);
	check(status == 0, "nobody, 0666 node: SET_ALGORITHM faulting (userfaultfd) while another thread "
	      "mmap()s the queue: the mmap returns, then the ioctl, no ABBA with mmap_lock (status %d; -2: hung)",
	      status);
}

/*
 * Defect 5: fill a started gunzip queue's ring with 16 descriptors of a
 * gzip header whose FNAME runs to the end of the 2 MiB data area (the
 * engine reads it a byte at a time), and ring.  Maps the queue.
 */
static int flood_fname(int fd, struct accel_sim_regs **regs_out, unsigned char **dus_out)
{
	static const unsigned char header[10] = { 0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3 };
	struct accel_sim_regs *regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	unsigned char *dus = mmap(NULL, ACCEL_SIM_DUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
	struct accel_sim_desc *ring;

	if (regs == MAP_FAILED || dus == MAP_FAILED)
		return -1;
	memset(dus + ACCEL_SIM_DATA_OFFSET, 'a', ACCEL_SIM_DATA_SIZE);
	memcpy(dus + ACCEL_SIM_DATA_OFFSET, header, sizeof(header));
	ring = (void *)(dus + regs->sq_offset);
	for (unsigned i = 0; i < 16; i++)
		ring[i] = (struct accel_sim_desc){ .user_data = i, .op = ACCEL_SIM_OP_GUNZIP,
			.src_offset = ACCEL_SIM_DATA_OFFSET, .src_len = ACCEL_SIM_DATA_SIZE,
			.dst_offset = ACCEL_SIM_DATA_OFFSET, .dst_len = 0 };
	*regs_out = regs;
	*dus_out = dus;
	return 0;
}

/* Every one of the 16 completes, consuming the whole header field. */
static bool flood_done(int fd, struct accel_sim_regs *regs, unsigned char *dus)
{
	struct accel_sim_cqe *cq = (void *)(dus + regs->cq_offset);
	struct pollfd p = { .fd = fd, .events = POLLIN };

	/* Consuming what came, so that poll() waits for the next completion. */
	for (int i = 0; i < 120 && __atomic_load_n(&regs->cq_tail, __ATOMIC_ACQUIRE) < 16; i++) {
		__atomic_store_n(&regs->cq_head, regs->cq_tail, __ATOMIC_RELEASE);
		poll(&p, 1, 1000);
	}
	if (regs->cq_tail != 16) {
		printf("# flood: %u of 16 completions\n", regs->cq_tail);
		return false;
	}
	for (unsigned i = 0; i < 16; i++)
		if (cq[i].status != 0 || cq[i].consumed != ACCEL_SIM_DATA_SIZE) {
			printf("# flood: completion %u: status %d, consumed %u\n", i, cq[i].status, cq[i].consumed);
			return false;
		}
	return true;
}

enum { FLOOD_QUEUES = 4 };	/* through each path */

static int flood_client(const char *node)
{
	const uint32_t gunzip = ACCEL_SIM_OP_GUNZIP;
	struct accel_sim_regs *regs[2 * FLOOD_QUEUES];
	unsigned char *dus[2 * FLOOD_QUEUES];
	int fd[2 * FLOOD_QUEUES], ready = 3;	/* the parent's pipe, placed there by flood_engine */
	char err[128];
	long long id;

	if (drop_to_nobody() < 0)
		return 10;
	for (int i = 0; i < 2 * FLOOD_QUEUES; i++) {
		if (i < FLOOD_QUEUES) {
			fd[i] = raw_acquire_algorithm("accel_sim-1", "gunzip", &id, err, sizeof(err));
		} else {
			fd[i] = open(node, O_RDWR | O_CLOEXEC);
			if (fd[i] >= 0 && ioctl(fd[i], ACCEL_SIM_CMD_SET_ALGORITHM, &gunzip) < 0)
				return 11;
		}
		if (fd[i] < 0 || flood_fname(fd[i], &regs[i], &dus[i]) < 0)
			return 12;
	}
	/* Every ring full before the first doorbell: one engine pass meets them all. */
	for (int i = 0; i < 2 * FLOOD_QUEUES; i++) {
		__atomic_store_n(&regs[i]->sq_tail, 16, __ATOMIC_RELEASE);
		if (i >= FLOOD_QUEUES && ioctl(fd[i], UACCE_CMD_START_Q) < 0)
			return 13;
		ioctl(fd[i], ACCEL_SIM_CMD_DOORBELL);
	}
	(void)!write(ready, "r", 1);
	for (int i = 0; i < 2 * FLOOD_QUEUES; i++)
		if (!flood_done(fd[i], regs[i], dus[i]))
			return 20 + i;
	return 0;
}

/* Read a sysfs attribute of @dev whole; whether it could. */
static bool attr_read(const char *dev, const char *name)
{
	char path[256], buf[64];
	int fd;
	bool ok;

	snprintf(path, sizeof(path), "/sys/class/uacce/%s/%s", dev, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ok = fd >= 0 && read(fd, buf, sizeof(buf)) > 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void engine_turns_bounded(void)
{
	char node[64], byte;
	int ready[2], status;
	double t0, took;
	pid_t pid;
	bool read_ok;

	if (node_0666("accel_sim-1", node, sizeof(node)) < 0 || pipe(ready) < 0) {
		check(false, "a 0666 node and a pipe for the flood test");
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		if (dup2(ready[1], 3) < 0)
			_exit(9);
		_exit(flood_client(node));
	}
	close(ready[1]);
	if (read(ready[0], &byte, 1) != 1) {
		close(ready[0]);
		check(false, "the flooding client started (status %d)", wait_child(pid));
		return;
	}
	close(ready[0]);
	/* The engine is busy with 8 x 16 x 2 MiB of header: a sysfs reader must not wait for it. */
	t0 = now_seconds();
	read_ok = attr_read("accel_sim-1", "available_instances");
	took = now_seconds() - t0;
	status = wait_child(pid);
	check(read_ok && took < 1.0, "root reads available_instances in %.3f s (< 1 s) while the engine works "
	      "through 128 descriptors of 2 MiB gzip header", took);
	check(status == 0, "nobody, %d broker fds and %d through a 0666 node: every 2 MiB FNAME descriptor "
	      "completes (status %d)", FLOOD_QUEUES, FLOOD_QUEUES, status);
}

/* Bitwise CRC-32C (Castagnoli, reflected), the reference for the engine's. */
uint32_t crc32c_ref(const unsigned char *p, size_t len)
{
	uint32_t crc = ~0u;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = crc >> 1 ^ (0x82f63b78u & -(crc & 1));
	}
	return ~crc;
}

/* Submit one operation on @q and wait for it (bounded); its status. */
static int run_one(struct accel_queue *q, const struct accel_op *op, struct accel_completion *done)
{
	int r = accel_submit(q, op);

	if (r < 0)
		return r;
	return accel_wait(q, done, 1, 60000) == 1 ? done->status : -ETIME;
}

/*
 * As nobody, through libaccel: descriptors of up to 1 MiB, many engine
 * turns each (a turn is about 64 KiB), resume where the last turn ended:
 * overlapping copies both ways, crc32c, and a gzip and a gunzip member in
 * one operation each.
 */
static int long_descriptors(void)
{
	enum { LEN = 1 << 20, SHIFT = 4096 + 3 };
	const struct accel_acquire_options on0 = { "accel_sim-0", -1 };
	struct accel_queue *copy, *crc, *gz, *gunz;
	struct accel_completion done;
	struct accel_client *c;
	unsigned char *buf, *want = malloc(LEN + SHIFT), *text = malloc(LEN);
	size_t size;
	long n;

	if (!want || !text || drop_to_nobody() < 0 || accel_connect(sock_path, &c) < 0)
		return 1;
	if (accel_acquire(c, "copy", &on0, &copy) < 0 || accel_acquire(c, "crc32c", &on0, &crc) < 0 ||
	    accel_acquire(c, "gzip", &on0, &gz) < 0 || accel_acquire(c, "gunzip", &on0, &gunz) < 0)
		return 2;
	buf = accel_queue_buffer(copy, &size);
	if (size < LEN + SHIFT)
		return 3;
	for (size_t i = 0; i < LEN + SHIFT; i++)
		buf[i] = (unsigned char)(i * 131 + i / 4096);
	/* Overlapping, destination above: the turns must go from the end. */
	memcpy(want, buf, LEN + SHIFT);
	memmove(want + SHIFT, want, LEN);
	if (run_one(copy, &(struct accel_op){ .src = buf, .src_len = LEN, .dst = buf + SHIFT, .dst_len = LEN },
		    &done) != 0 || done.produced != LEN || memcmp(buf, want, LEN + SHIFT) != 0)
		return 4;
	/* Destination below. */
	memmove(want, want + SHIFT, LEN);
	if (run_one(copy, &(struct accel_op){ .src = buf + SHIFT, .src_len = LEN, .dst = buf, .dst_len = LEN },
		    &done) != 0 || memcmp(buf, want, LEN + SHIFT) != 0)
		return 5;
	buf = accel_queue_buffer(crc, &size);
	memcpy(buf, want, LEN);
	if (run_one(crc, &(struct accel_op){ .src = buf, .src_len = LEN, .dst = buf }, &done) != 0 ||
	    done.value != crc32c_ref(want, LEN) || done.consumed != LEN) {
		printf("# crc32c of 1 MiB: status %d, value %#llx, want %#x\n", done.status,
		       (unsigned long long)done.value, crc32c_ref(want, LEN));
		return 6;
	}
	/* 1 MiB of text gzipped in one operation, read by zlib, and gunzipped back in one. */
	for (size_t i = 0, k = 0; i < LEN; k++)
		i += (size_t)snprintf((char *)text + i, LEN - i, "%zu bytes, line %zu\n", i, k * 7919 % 100003);
	buf = accel_queue_buffer(gz, &size);
	memcpy(buf, text, LEN);
	if (run_one(gz, &(struct accel_op){ .src = buf, .src_len = LEN, .dst = buf + LEN, .dst_len = size - LEN,
					     .flags = ACCEL_OP_FINISH }, &done) != 0 ||
	    !(done.flags & ACCEL_COMPLETION_STREAM_END) || done.consumed != LEN ||
	    !zlib_reads(buf + LEN, done.produced, text, LEN))
		return 7;
	n = (long)done.produced;
	memcpy(want, buf + LEN, (size_t)n);
	buf = accel_queue_buffer(gunz, &size);
	memcpy(buf, want, (size_t)n);
	memset(buf + n, 0, LEN);
	if (run_one(gunz, &(struct accel_op){ .src = buf, .src_len = (size_t)n, .dst = buf + n, .dst_len = LEN },
		    &done) != 0 || !(done.flags & ACCEL_COMPLETION_STREAM_END) || done.produced != LEN ||
	    memcmp(buf + n, text, LEN) != 0)
		return 8;
	return 0;
}

static void long_descriptors_resume(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(long_descriptors());
	status = wait_child(pid);
	check(status == 0, "nobody, through libaccel: 1 MiB copies overlapping both ways, crc32c, gzip and gunzip "
	      "in one operation each, resumed across engine turns (exit %d)", status);
}

/*
 * The SVA device through the broker (issue 14), as nobody through libaccel:
 * the broker opened the queues, libaccel bound them to this process and
 * started them; the operations read and write heap buffers where they are.
 */
static int sva_work(void)
{
	enum { LEN = 256 << 10 };
	const struct accel_acquire_options on2 = { "accel_sim-2", -1 };
	struct accel_queue *copy, *crc, *gz, *gunz;
	struct accel_completion done;
	struct accel_client *c;
	unsigned char *text = malloc(LEN), *out = malloc(2 * LEN), *back = malloc(LEN);
	size_t size = 1;
	long n;

	if (!text || !out || !back || drop_to_nobody() < 0 || accel_connect(sock_path, &c) < 0)
		return 1;
	if (accel_acquire(c, "copy", &on2, &copy) < 0 || accel_acquire(c, "crc32c", &on2, &crc) < 0 ||
	    accel_acquire(c, "gzip", &on2, &gz) < 0 || accel_acquire(c, "gunzip", &on2, &gunz) < 0) {
		printf("# acquire on accel_sim-2: %s\n", accel_error_message(c) ? accel_error_message(c) : "-");
		return 2;
	}
	if (strcmp(accel_queue_api(copy), ACCEL_SIM_SVA_API) != 0 || accel_queue_buffer(copy, &size) != NULL ||
	    size != 0)
		return 3;
	for (size_t i = 0, k = 0; i < LEN; k++)
		i += (size_t)snprintf((char *)text + i, LEN - i, "%zu sva, line %zu\n", i, k * 7919 % 100003);
	memset(out, 0, 2 * LEN);
	if (accel_run(copy, text, LEN, out, LEN, 0, 0, &done) != 0 || done.produced != LEN ||
	    memcmp(out, text, LEN) != 0)
		return 4;
	if (accel_run(crc, text, LEN, NULL, 0, 0, 0, &done) != 0 || done.value != crc32c_ref(text, LEN))
		return 5;
	if (accel_run(gz, text, LEN, out, 2 * LEN, 0, ACCEL_OP_FINISH, &done) != 0 ||
	    !(done.flags & ACCEL_COMPLETION_STREAM_END) || !zlib_reads(out, done.produced, text, LEN))
		return 6;
	n = (long)done.produced;
	memset(back, 0, LEN);
	if (accel_run(gunz, out, (size_t)n, back, LEN, 0, 0, &done) != 0 || done.produced != LEN ||
	    memcmp(back, text, LEN) != 0)
		return 7;
	/* An address this process does not map is the device's fault to report, not ours to take. */
	if (accel_run(copy, (const void *)0x1000, 64, out, 64, 0, 0, &done) != -EFAULT)
		return 8;
	accel_release(copy);
	accel_release(crc);
	accel_release(gz);
	accel_release(gunz);
	accel_disconnect(c);
	return 0;
}

static void sva_through_the_broker(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(sva_work());
	status = wait_child(pid);
	check(status == 0, "nobody, through the broker and libaccel on the SVA device: no data area; copy, crc32c, "
	      "gzip (read by zlib) and gunzip of 256 KiB from heap buffers give the right bytes; an unmapped "
	      "address completes with EFAULT (exit %d)", status);
}

/* What busy_revoked() works on (the socket is sock_path), and whether the broker revokes with REVOKE or PUT_Q. */
static const char *busy_device;
static bool busy_by_revoke;

static int available_instances(const char *dev)
{
	char path[128];
	int n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/uacce/%s/available_instances", dev);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

/* The fd of /dev/@dev this process holds (libaccel's queue): -1 if none. */
static int queue_fd_of(const char *dev)
{
	char path[64], link[128], want[96];

	snprintf(want, sizeof(want), "/dev/%s", dev);
	for (int fd = 3; fd < 256; fd++) {
		ssize_t n;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, want) == 0)
			return fd;
	}
	return -1;
}

/*
 * As nobody: a copy queue on busy_device through libaccel, kept busy from
 * heap buffers until revoked; then, before closing anything: ENOLINK from
 * libaccel, a raw START_Q on its fd fails, the instance is back.
 */
static int busy_revoked(int report)
{
	const struct accel_acquire_options on = { busy_device, -1 };
	char in[4096], out[4096], byte;
	struct accel_client *c;
	struct accel_queue *q;
	long long id;
	int held_avail, fd, r = 0;

	if (drop_to_nobody() < 0 || accel_connect(sock_path, &c) < 0 || accel_acquire(c, "copy", &on, &q) < 0)
		return 10;
	held_avail = available_instances(busy_device);
	id = (long long)accel_queue_id(q);
	memset(in, 0x3c, sizeof(in));
	if (accel_run(q, in, sizeof(in), out, sizeof(out), 0, 0, NULL) != 0 || memcmp(in, out, sizeof(in)) != 0)
		return 11;
	(void)!write(report, &id, sizeof(id));
	for (long round = 0; round < 100000000 && r == 0; round++)
		r = accel_run(q, in, sizeof(in), out, sizeof(out), 0, 0, NULL);
	if (r != -ENOLINK) {
		printf("# busy client on %s: %d\n", busy_device, r);
		return 12;
	}
	if (accel_queue_state(q) != ACCEL_QUEUE_REVOKED)
		return 13;
	fd = queue_fd_of(busy_device);
	if (fd < 0 || ioctl(fd, UACCE_CMD_START_Q) == 0)
		return 14;
	if (busy_by_revoke && available_instances(busy_device) != held_avail + 1) {
		printf("# %s: available_instances %d, %d while held\n", busy_device,
		       available_instances(busy_device), held_avail);
		return 15;
	}
	/*
	 * Which command the broker used: a queue it revoked reads ENXIO to a
	 * second REVOKE; one it only put (PUT_Q) is revoked for the first time
	 * now.  (Our PUT_Q is final and gives the instance back, mainline's
	 * is not: only this tells them apart here.)
	 */
	errno = 0;
	if ((ioctl(fd, UACCE_CMD_REVOKE) == 0) != !busy_by_revoke || (busy_by_revoke && errno != ENXIO)) {
		printf("# %s: REVOKE after the broker's: %s\n", busy_device, strerror(errno));
		return 17;
	}
	if (read(report, &byte, 1) != 1)
		return 16;
	accel_release(q);
	accel_disconnect(c);
	return 0;
}

static void revoke_busy_queues(void)
{
	long long id = 0;
	int status;

	busy_by_revoke = true;
	busy_device = "accel_sim-2";
	status = revoke_under(busy_revoked, &id);
	check(status == 0, "accelctl revoke of a busy SVA queue (%lld): libaccel ENOLINK, START_Q on the fd fails, "
	      "available_instances back before the client closes anything, the broker used REVOKE (status %d)",
	      id, status);
	busy_device = "accel_sim-1";
	status = revoke_under(busy_revoked, &id);
	check(status == 0, "accelctl revoke of a busy non-SVA queue (%lld): the same with REVOKE (status %d)",
	      id, status);
}

/* A copy of /sys/class/uacce/@dev under @root without "features": a mainline kernel's view. */
static bool copy_without_features(const char *root, const char *dev)
{
	static const char *const attrs[] = {
		"api", "algorithms", "flags", "available_instances", "region_mmio_size", "region_dus_size",
		"isolate",
	};
	char dir[128], cmd[512];

	snprintf(dir, sizeof(dir), "%s/%s", root, dev);
	if (mkdir(dir, 0755) < 0)
		return false;
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		snprintf(cmd, sizeof(cmd), "cat /sys/class/uacce/%s/%s > %s/%s", dev, attrs[i], dir, attrs[i]);
		if (system(cmd) != 0)
			return false;
	}
	return true;
}

/* What `accelctl devices` says on @socket contains @text. */
static bool accelctl_devices_shows(const char *socket, const char *text)
{
	char cmd[256], line[512];
	bool found = false;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "/bin/accelctl --socket %s devices", socket);
	p = popen(cmd, "r");
	if (!p)
		return false;
	while (fgets(line, sizeof(line), p))
		found |= strstr(line, text) != NULL;
	pclose(p);
	return found;
}

static int old_kernel_refuses_sva(void)
{
	const struct accel_acquire_options on2 = { "accel_sim-2", -1 };
	struct accel_client *c;
	struct accel_queue *q;
	int r;

	if (drop_to_nobody() < 0 || accel_connect(sock_path, &c) < 0)
		return 1;
	r = accel_acquire(c, "copy", &on2, &q);
	if (r != -EXDEV || !accel_error_name(c) ||
	    strcmp(accel_error_name(c), "org.accelbroker.Broker.SVANotSupported") != 0 ||
	    !strstr(accel_error_message(c), "UACCE_CMD_BIND_MM")) {
		printf("# acquire on accel_sim-2 without features: %d %s\n", r,
		       accel_error_message(c) ? accel_error_message(c) : "");
		return 2;
	}
	accel_disconnect(c);
	return 0;
}

/*
 * A kernel without the features (mainline's uacce): a second broker reads a
 * copy of the sysfs tree without the "features" attribute and opens the
 * real nodes.  SVA is refused naming what is missing, the rest is served
 * revocable false and revoked with PUT_Q (final in our module).
 */
static void old_kernel_fallback(void)
{
	const char *main_sock = sock_path, *old_sock = "/run/old.sock";
	long long id = 0;
	int status = -1;
	pid_t broker, pid;

	check(mkdir("/tmp/oldsys", 0755) == 0 && copy_without_features("/tmp/oldsys", "accel_sim-1") &&
	      copy_without_features("/tmp/oldsys", "accel_sim-2"), "a sysfs tree without features");
	broker = fork();
	if (broker == 0) {
		execl("/bin/accel-broker", "accel-broker", "--socket", old_sock, "--config", "/dev/null", "--sim", "0",
		      "--sysfs-root", "/tmp/oldsys", "--dev-root", "/dev", "--log-level", "warning", (char *)NULL);
		_exit(127);
	}
	/* Until it answers: the socket file exists from bind(), before listen(). */
	for (int i = 0; i < 500; i++) {
		struct accel_client *c;
		if (accel_connect(old_sock, &c) == 0) {
			accel_disconnect(c);
			break;
		}
		usleep(10000);
	}
	sock_path = old_sock;
	check(devices_say(old_sock, "accel_sim-2", true, false, true) &&
	      devices_say(old_sock, "accel_sim-1", false, false, false),
	      "old kernel: ListDevices says accel_sim-2 sva, not revocable, refused naming bind_mm; accel_sim-1 "
	      "revocable false");
	check(accelctl_devices_shows(old_sock, "accel_sim-2 refused: SVA device, and the kernel's uacce lacks"),
	      "old kernel: accelctl devices shows accel_sim-2 refused with the reason");
	pid = fork();
	if (pid == 0)
		_exit(old_kernel_refuses_sva());
	status = wait_child(pid);
	check(status == 0, "old kernel: acquiring on the SVA device gets SVANotSupported naming UACCE_CMD_BIND_MM "
	      "(exit %d)", status);
	busy_by_revoke = false;	/* PUT_Q: on mainline the instance comes back only at close */
	busy_device = "accel_sim-1";
	status = revoke_under(busy_revoked, &id);
	check(status == 0, "old kernel: accelctl revoke of a busy non-SVA queue uses PUT_Q: libaccel ENOLINK, "
	      "START_Q on the fd fails (status %d)", status);
	sock_path = main_sock;
	kill(broker, SIGTERM);
	wait_child(broker);
}

/*
 * The tests one may name to vm_test; "isolated" ones hang the guest when
 * their defect is back, so run-vm-check boots each of them on its own with
 * a short watchdog.
 */
struct vm_test {
	const char *name;
	void (*run)(const char *modules);
	bool isolated;
};

static void main_suite(const char *modules);
static void run_set_algorithm_self_deadlock(const char *modules) { set_algorithm_self_deadlock(); }
static void run_set_algorithm_abba(const char *modules) { set_algorithm_abba(); }
static void run_revoke_during_copy_out(const char *modules) { revoke_during_copy_out(); }

/* make deb-check: the modules dkms built load, and the broker serves their devices. */
static void packaged(const char *modules)
{
	sysfs_and_discovery();
	kernel_engine_through_libaccel();
	kernel_gzip();
}

static const struct vm_test vm_tests[] = {
	{ "main", main_suite, false },
	{ "packaged", packaged, false },
	{ "set-algorithm-self-deadlock", run_set_algorithm_self_deadlock, true },
	{ "set-algorithm-abba", run_set_algorithm_abba, true },
	{ "revoke-during-copy-out", run_revoke_during_copy_out, false },
	{ "rmmod-busy-repeat", rmmod_busy_repeat, false },
};

static void main_suite(const char *modules)
{
	sysfs_and_discovery();
	preload_suite(sock_path);
	queue_through_the_broker_and_revoke();
	revoke_during_copy_out();
	revocation_race_with_mmap();
	mapping_bookkeeping_checks();
	no_page_cache_checks(modules);
	kernel_engine_through_libaccel();
	kernel_gzip();
	long_descriptors_resume();
	engine_turns_bounded();
	sva_suite(modules);
	sva_through_the_broker();
	revoke_busy_queues();
	old_kernel_fallback();
	unbind_with_queues_open();
	failed_register(modules);
	rmmod_with_queues_open(modules);
}

int main(int argc, char **argv)
{
	const struct vm_test *t = &vm_tests[0];
	size_t n = sizeof(vm_tests) / sizeof(vm_tests[0]);

	if (argc == 2 && strcmp(argv[1], "--isolated") == 0) {
		for (size_t i = 0; i < n; i++)
			if (vm_tests[i].isolated)
				printf("%s\n", vm_tests[i].name);
		return 0;
	}
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: vm_test SOCKET MODULE_DIR [TEST] | vm_test --isolated\n");
		return 2;
	}
	if (argc == 4) {
		for (t = NULL; n-- > 0;)
			if (strcmp(vm_tests[n].name, argv[3]) == 0)
				t = &vm_tests[n];
		if (!t) {
			fprintf(stderr, "vm_test: no test %s\n", argv[3]);
			return 2;
		}
	}
	sock_path = argv[1];
	signal(SIGPIPE, SIG_IGN);
	t->run(argv[2]);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

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
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <accel/accel.h>
#include <accel/sim.h>
#include <misc/uacce/uacce.h>

#include "wire.h"

#define NOBODY 65534

static const char *sock_path;
/* Connections that hold queues: open until the process exits. */
static struct wire held[16];
static unsigned n_held;
static int passed, failed;

static void check(bool ok, const char *fmt, ...)
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

static bool attr_is(const char *dev, const char *name, const char *want)
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

static int drop_to_nobody(void)
{
	return setgroups(0, NULL) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 &&
	       setresuid(NOBODY, NOBODY, NOBODY) == 0 ? 0 : -1;
}

/*
 * AcquireQueue on the raw protocol (libaccel has no driver for a queue
 * whose algorithm the kernel driver cannot be told yet): returns the fd and
 * the queue id, or -1 with the error name in @err.
 */
static int raw_acquire(const char *device, long long *id, char *err, size_t err_size)
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
		 "\"parameters\":{\"algorithm\":\"copy\",\"device\":\"%s\"}}", device);
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

/* Wait for @pid; its exit status, or 128 + the signal that killed it. */
static int wait_child(pid_t pid)
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

static void sysfs_and_discovery(void)
{
	struct accel_client *c;
	struct accel_device *d;
	size_t n = 0;
	char dus[32];
	bool found_sva = false, all_uacce = true;

	snprintf(dus, sizeof(dus), "%u", ACCEL_SIM_DUS_SIZE);
	check(attr_is("accel_sim-0", "api", ACCEL_SIM_API) && attr_is("accel_sim-0", "algorithms", ACCEL_SIM_ALGORITHMS) &&
	      attr_is("accel_sim-0", "flags", "0") && attr_is("accel_sim-0", "available_instances", "4") &&
	      attr_is("accel_sim-0", "region_mmio_size", "4096") && attr_is("accel_sim-0", "region_dus_size", dus) &&
	      attr_is("accel_sim-0", "isolate", "0"),
	      "sysfs attributes of accel_sim-0");
	check(attr_is("accel_sim-2", "flags", "1"), "accel_sim-2 is an SVA device");
	if (accel_connect(sock_path, &c) == 0 && accel_list_devices(c, &d, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			all_uacce &= strcmp(d[i].backend, "uacce") == 0 && strcmp(d[i].api, ACCEL_SIM_API) == 0;
			found_sva |= strcmp(d[i].name, "accel_sim-2") == 0 && d[i].sva;
		}
		accel_devices_free(d, n);
		accel_disconnect(c);
	}
	check(n == 3 && all_uacce && found_sva, "the broker discovers 3 uacce devices, one SVA (%zu)", n);
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
	/* The mapping was zapped: the next touch faults (SIGBUS, by the test's count). */
	return regs->magic == ACCEL_SIM_MAGIC ? 20 : 21;
}

static void queue_through_the_broker_and_revoke(void)
{
	int sv[2], status;
	long long id = 0;
	char cmd[256];
	pid_t pid;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid = fork();
	if (pid == 0)
		_exit(client_flow(sv[1]));
	if (read(sv[0], &id, sizeof(id)) != sizeof(id)) {
		check(false, "client acquired and mapped a queue as nobody (exit %d)", wait_child(pid));
		return;
	}
	check(true, "nobody: node closed, queue %lld acquired through the broker and mapped, fork child has no mapping", id);
	snprintf(cmd, sizeof(cmd), "/bin/accelctl --socket %s revoke %lld >/dev/null", sock_path, id);
	check(system(cmd) == 0, "accelctl revoke %lld", id);
	(void)!write(sv[0], "r", 1);
	status = wait_child(pid);
	check(status == 128 + SIGBUS, "after PUT_Q: ioctl ENXIO, poll POLLHUP, the old mapping faults (status %d)", status);
	close(sv[0]);
	close(sv[1]);
}

static void sva_device_refused(void)
{
	char err[128] = "";
	long long id;
	int fd = raw_acquire("accel_sim-2", &id, err, sizeof(err));

	check(fd < 0 && strcmp(err, "org.accelbroker.Broker.SVANotSupported") == 0,
	      "the SVA device is refused with SVANotSupported (%s)", err);
}

/* Hold @n queues as nobody until killed. */
static pid_t hold_queues(int n, int ready)
{
	pid_t pid = fork();

	if (pid == 0) {
		char err[128];
		long long id;
		if (drop_to_nobody() < 0)
			_exit(1);
		for (int i = 0; i < n; i++)
			if (raw_acquire(i % 2 ? "accel_sim-1" : "accel_sim-0", &id, err, sizeof(err)) < 0)
				_exit(2);
		(void)!write(ready, "h", 1);
		pause();
		_exit(0);
	}
	return pid;
}

static bool wait_for_devices(int want)
{
	for (int i = 0; i < 500; i++) {
		if (count_devices() == want)
			return true;
		usleep(10000);
	}
	return false;
}

static void rmmod_with_queues_open(const char *modules)
{
	char cmd[256], byte;
	int ready[2];
	pid_t holder;

	pipe(ready);
	holder = hold_queues(6, ready[1]);
	check(read(ready[0], &byte, 1) == 1, "nobody holds 6 queues on accel_sim-0 and -1");
	check(system("rmmod accel_sim") == 0, "rmmod accel_sim with queues open");
	check(wait_for_devices(0), "the broker saw the devices go (uevent) and lists none");
	check(count_devices() == 0 && attr_is("accel_sim-0", "api", "") == false,
	      "the broker keeps serving");
	snprintf(cmd, sizeof(cmd), "insmod %s/accel_sim.ko devices=2 sva_devices=1 queues=4", modules);
	check(system(cmd) == 0, "insmod accel_sim again");
	check(wait_for_devices(3), "the devices are back in the broker");
	kill(holder, SIGKILL);
	wait_child(holder);
	close(ready[0]);
	close(ready[1]);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: vm_test SOCKET MODULE_DIR\n");
		return 2;
	}
	sock_path = argv[1];
	signal(SIGPIPE, SIG_IGN);
	sysfs_and_discovery();
	queue_through_the_broker_and_revoke();
	sva_device_refused();
	rmmod_with_queues_open(argv[2]);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

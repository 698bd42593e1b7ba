// SPDX-License-Identifier: MIT
/*
 * accel-bench: the figures of `make bench`, each next to a floor measured
 * in the same run on the same machine.  Prints one JSON object.
 *
 *   accel-bench BUILD_DIR            everything (starts its own brokers)
 *   accel-bench --ops N SOCKET       N pipelined 64-byte copies (for strace)
 *   accel-bench --event-loop BUILD_DIR SOCKET   only the event-loop figures, on that broker
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/pidfd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <accel/accel.h>
#include <accel/sim.h>
#include <systemd/sd-bus.h>

#include "event_loop.h"
#include "stats.h"
#include "util.h"
#include "wire.h"

static void die(const char *what, int r)
{
	fprintf(stderr, "accel-bench: %s: %s\n", what, strerror(r < 0 ? -r : r));
	exit(1);
}

/* ---- the broker under test ---- */

struct broker {
	pid_t pid;
	char dir[64];
	char sock[128];
};

static void broker_start(struct broker *b, const char *build, const char *prefix)
{
	char cmd[1024];

	strcpy(b->dir, "/tmp/accel-bench-XXXXXX");
	if (!mkdtemp(b->dir))
		die("mkdtemp", -errno);
	snprintf(b->sock, sizeof(b->sock), "%s/broker.sock", b->dir);
	b->pid = fork();
	if (b->pid == 0) {
		snprintf(cmd, sizeof(cmd),
			 "exec %s %s/accel-broker --socket %s --config /dev/null --sysfs-root /nonexistent "
			 "--sim 2 --sim-queues 64 --max-queues-per-user 128 --log-level warning",
			 prefix, build, b->sock);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		struct accel_client *c;
		if (accel_connect(b->sock, &c) == 0) {
			accel_disconnect(c);
			return;
		}
		usleep(10000);
	}
	die("broker did not start", ETIMEDOUT);
}

/* The broker's own pid, from the kernel (strace may sit in between). */
static pid_t broker_pid(struct broker *b)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, b->sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		die("broker pid", -errno);
	close(fd);
	return cred.pid;
}

static void broker_stop(struct broker *b)
{
	char cmd[128];

	kill(broker_pid(b), SIGTERM);
	waitpid(b->pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", b->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "accel-bench: could not remove %s\n", b->dir);
}

/* ---- floor: a minimal request/reply passing one fd ---- */

static void fd_server(int sock)
{
	int memfd = memfd_create("floor", MFD_CLOEXEC);
	char byte;

	if (ftruncate(memfd, 8192) < 0)
		_exit(1);
	while (read(sock, &byte, 1) == 1)
		if (wire_send_fds_raw(sock, "r", 1, &memfd, 1) < 0)
			_exit(1);
	_exit(0);
}

static void bench_floor_fd(size_t n, double *p50, double *p99)
{
	uint64_t *t = calloc(n, sizeof(*t));
	int sv[2];
	pid_t pid;
	struct wire w;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair", -errno);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		fd_server(sv[1]);
	}
	close(sv[1]);
	wire_init(&w, sv[0]);
	for (size_t i = 0; i < n; i++) {
		uint64_t start = now_ns();
		if (write(sv[0], "q", 1) != 1)
			die("floor write", -errno);
		do {
			int r = wire_read(&w);
			if (r <= 0)
				die("floor read", r ? r : -EPIPE);
		} while (w.n_in_fds == 0);
		close(wire_take_fd(&w));
		w.in_len = w.in_start = 0;
		t[i] = now_ns() - start;
	}
	wire_finish(&w);
	waitpid(pid, NULL, 0);
	*p50 = percentile(t, n, 0.5) / 1000.0;
	*p99 = percentile(t, n, 0.99) / 1000.0;
	free(t);
}

/* ---- acquire + release ---- */

static void bench_acquire(const char *sock, size_t n, double *p50, double *p99)
{
	uint64_t *t = calloc(n, sizeof(*t));
	struct accel_client *c;
	int r = accel_connect(sock, &c);

	if (r < 0)
		die("connect", r);
	for (size_t i = 0; i < n; i++) {
		struct accel_queue *q;
		uint64_t start = now_ns();
		r = accel_acquire(c, "copy", NULL, &q);
		if (r < 0)
			die("acquire", r);
		r = accel_release(q);
		if (r < 0)
			die("release", r);
		t[i] = now_ns() - start;
	}
	accel_disconnect(c);
	*p50 = percentile(t, n, 0.5) / 1000.0;
	*p99 = percentile(t, n, 0.99) / 1000.0;
	free(t);
}

/* ---- the same over D-Bus, through a private system-like bus ---- */

static void bus_start(char *dir)
{
	char cmd[256], address[128];

	strcpy(dir, "/tmp/accel-bench-bus-XXXXXX");
	if (!mkdtemp(dir))
		die("mkdtemp", -errno);
	snprintf(cmd, sizeof(cmd), "scripts/private-system-bus %s", dir);
	if (system(cmd) != 0)
		die("private-system-bus", -EIO);
	snprintf(address, sizeof(address), "unix:path=%s/bus.sock", dir);
	setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1);
}

static void bus_stop(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "kill $(cat %s/bus.pid); rm -rf %s", dir, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "accel-bench: could not stop the bus in %s\n", dir);
}

/* The floor: a round trip through the bus to the broker that does nothing (Peer.Ping). */
static double bench_dbus_ping(size_t n)
{
	uint64_t *t = calloc(n, sizeof(*t));
	double p50;
	sd_bus *bus;
	int r = sd_bus_open_system(&bus);

	if (r < 0)
		die("sd_bus_open_system", r);
	for (size_t i = 0; i < n; i++) {
		uint64_t start = now_ns();
		r = sd_bus_call_method(bus, "org.accelbroker.Broker1", "/org/accelbroker/Broker1",
				       "org.freedesktop.DBus.Peer", "Ping", NULL, NULL, "");
		if (r < 0)
			die("D-Bus ping", r);
		t[i] = now_ns() - start;
	}
	sd_bus_flush_close_unref(bus);
	p50 = percentile(t, n, 0.5) / 1000.0;
	free(t);
	return p50;
}

/* AcquireQueue + map (accel_queue_import) + ReleaseQueue + unmap, like bench_acquire. */
static void bench_dbus_acquire(size_t n, double *p50, double *p99)
{
	uint64_t *t = calloc(n, sizeof(*t));
	sd_bus *bus;
	int r = sd_bus_open_system(&bus);

	if (r < 0)
		die("sd_bus_open_system", r);
	for (size_t i = 0; i < n; i++) {
		sd_bus_message *reply = NULL;
		struct accel_region regions[ACCEL_MAX_REGIONS];
		struct accel_queue *q;
		const char *device, *api;
		uint64_t id, start = now_ns();
		size_t k = 0;
		int fd;

		r = sd_bus_call_method(bus, "org.accelbroker.Broker1", "/org/accelbroker/Broker1",
				       "org.accelbroker.Broker1", "AcquireQueue", NULL, &reply, "sa{sv}", "copy", 0);
		if (r >= 0)
			r = sd_bus_message_read(reply, "tssh", &id, &device, &api, &fd);
		if (r >= 0)
			r = sd_bus_message_enter_container(reply, 'a', "(stt)");
		while (r >= 0 && k < ACCEL_MAX_REGIONS &&
		       (r = sd_bus_message_read(reply, "(stt)", &regions[k].type, &regions[k].offset,
						&regions[k].size)) > 0)
			k++;
		if (r >= 0)
			r = accel_queue_import(fd, &(struct accel_import){ id, device, api, "copy", regions, k }, &q);
		sd_bus_message_unref(reply);
		if (r < 0)
			die("D-Bus acquire", r);
		r = sd_bus_call_method(bus, "org.accelbroker.Broker1", "/org/accelbroker/Broker1",
				       "org.accelbroker.Broker1", "ReleaseQueue", NULL, NULL, "t", id);
		if (r < 0)
			die("D-Bus release", r);
		accel_release(q);
		t[i] = now_ns() - start;
	}
	sd_bus_flush_close_unref(bus);
	*p50 = percentile(t, n, 0.5) / 1000.0;
	*p99 = percentile(t, n, 0.99) / 1000.0;
	free(t);
}

struct rate_arg {
	const char *sock;
	uint64_t deadline;
	uint64_t done;
	int error;
};

static void *rate_thread(void *p)
{
	struct rate_arg *a = p;
	struct accel_client *c;

	a->error = accel_connect(a->sock, &c);
	if (a->error < 0)
		return NULL;
	while (now_ns() < a->deadline) {
		struct accel_queue *q;
		a->error = accel_acquire(c, "copy", NULL, &q);
		if (a->error < 0)
			break;
		accel_release(q);
		a->done++;
	}
	accel_disconnect(c);
	return NULL;
}

static double bench_acquire_rate(const char *sock, unsigned threads, double seconds)
{
	pthread_t tid[64];
	struct rate_arg args[64];
	uint64_t start = now_ns(), total = 0;

	for (unsigned i = 0; i < threads; i++) {
		args[i] = (struct rate_arg){ .sock = sock, .deadline = start + (uint64_t)(seconds * 1e9) };
		pthread_create(&tid[i], NULL, rate_thread, &args[i]);
	}
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		if (args[i].error < 0)
			die("acquire (threads)", args[i].error);
		total += args[i].done;
	}
	return (double)total / ((double)(now_ns() - start) / 1e9);
}

/* ---- floor: cache-line ping-pong between two threads ---- */

static struct {
	uint32_t v __attribute__((aligned(64)));
} pingpong;

static void *pong(void *p)
{
	size_t n = *(size_t *)p;

	for (uint32_t i = 1; i <= n; i++) {
		while (__atomic_load_n(&pingpong.v, __ATOMIC_ACQUIRE) != 2 * i - 1)
			cpu_relax();
		__atomic_store_n(&pingpong.v, 2 * i, __ATOMIC_RELEASE);
	}
	return NULL;
}

static double bench_pingpong(size_t n)
{
	uint64_t *t = calloc(n, sizeof(*t));
	pthread_t tid;
	double p50;

	pingpong.v = 0;
	pthread_create(&tid, NULL, pong, &n);
	for (uint32_t i = 1; i <= n; i++) {
		uint64_t start = now_ns();
		__atomic_store_n(&pingpong.v, 2 * i - 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&pingpong.v, __ATOMIC_ACQUIRE) != 2 * i)
			cpu_relax();
		t[i - 1] = now_ns() - start;
	}
	pthread_join(tid, NULL);
	p50 = percentile(t, n, 0.5);
	free(t);
	return p50;
}

/* ---- submit -> complete of one 64-byte copy ---- */

static double bench_op_rtt(const char *sock, size_t n)
{
	uint64_t *t = calloc(n, sizeof(*t));
	struct accel_client *c;
	struct accel_queue *q;
	struct accel_completion comp;
	unsigned char *buf;
	double p50;
	int r;

	if ((r = accel_connect(sock, &c)) < 0 || (r = accel_acquire(c, "copy", NULL, &q)) < 0)
		die("op rtt setup", r);
	buf = accel_queue_buffer(q, NULL);
	for (size_t i = 0; i < n; i++) {
		uint64_t start = now_ns();
		r = accel_submit(q, &(struct accel_op){ .src = buf, .src_len = 64, .dst = buf + 4096,
							.dst_len = 64, .user_data = i });
		if (r < 0)
			die("submit", r);
		while ((r = accel_poll(q, &comp, 1)) == 0)
			cpu_relax();
		if (r < 0 || comp.status < 0)
			die("poll", r < 0 ? r : comp.status);
		t[i] = now_ns() - start;
	}
	accel_release(q);
	accel_disconnect(c);
	p50 = percentile(t, n, 0.5);
	free(t);
	return p50;
}

/* N copies with up to 32 in flight: the queue never goes idle. */
static int run_ops(const char *sock, size_t n)
{
	struct accel_client *c;
	struct accel_queue *q;
	struct accel_completion comp[32];
	unsigned char *buf;
	size_t submitted = 0, completed = 0;
	int r;

	if ((r = accel_connect(sock, &c)) < 0 || (r = accel_acquire(c, "copy", NULL, &q)) < 0)
		die("ops setup", r);
	buf = accel_queue_buffer(q, NULL);
	while (completed < n) {
		while (submitted < n && submitted - completed < 32) {
			r = accel_submit(q, &(struct accel_op){ .src = buf, .src_len = 64,
								.dst = buf + 4096, .dst_len = 64 });
			if (r < 0)
				die("submit", r);
			submitted++;
		}
		r = accel_poll(q, comp, 32);
		if (r < 0)
			die("poll", r);
		completed += (size_t)r;
	}
	accel_release(q);
	accel_disconnect(c);
	return 0;
}

/* ---- syscalls per operation, counted by strace ---- */

static long strace_total(const char *path)
{
	char line[512];
	long calls = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		double pct, secs;
		long usecs, n;
		if (strstr(line, " total") && sscanf(line, "%lf %lf %ld %ld", &pct, &secs, &usecs, &n) == 4)
			calls = n;
	}
	fclose(f);
	return calls;
}

/* Client and broker syscalls for @n ops: both run under strace -c. */
static void count_syscalls(const char *build, const char *self, size_t n, long *client, long *broker)
{
	struct broker b;
	char prefix[256], cmd[1024], bfile[64], cfile[64];

	snprintf(bfile, sizeof(bfile), "/tmp/accel-bench-broker.%d", (int)getpid());
	snprintf(cfile, sizeof(cfile), "/tmp/accel-bench-client.%d", (int)getpid());
	snprintf(prefix, sizeof(prefix), "strace -f -c -o %s", bfile);
	broker_start(&b, build, prefix);
	snprintf(cmd, sizeof(cmd), "strace -f -c -o %s %s --ops %zu %s", cfile, self, n, b.sock);
	if (system(cmd) != 0)
		die("strace client", EIO);
	broker_stop(&b);
	*client = strace_total(cfile);
	*broker = strace_total(bfile);
	unlink(bfile);
	unlink(cfile);
}

/* ---- owner exit -> quota freed ---- */

static long active_queues(struct accel_client *c)
{
	char *text = NULL;
	long n = -1;
	int r = accel_call_json(c, "org.accelbroker.Broker.GetStatus", NULL, &text);

	if (r < 0)
		die("GetStatus", r);
	const char *p = strstr(text, "\"queues_active\":");
	if (p)
		n = strtol(p + 16, NULL, 10);
	free(text);
	return n;
}

/*
 * A child acquires a queue and exits, noting the time just before _exit();
 * we ask GetStatus until the broker counts the queue no more.  Whichever
 * the broker sees first, the child's pidfd or its connection's end, frees
 * it.  The resolution is one GetStatus round trip.
 */
static void bench_reclaim(const char *sock, size_t n, double *p50, double *p99,
			  double *kernel50, double *broker50)
{
	uint64_t *t = calloc(n, sizeof(*t)), *tk = calloc(n, sizeof(*tk)), *tb = calloc(n, sizeof(*tb));
	struct accel_client *c;
	int r = accel_connect(sock, &c);
	long base;

	if (r < 0)
		die("connect", r);
	base = active_queues(c);
	for (size_t i = 0; i < n; i++) {
		uint64_t exit_ns;
		int pfd[2];
		pid_t pid;

		if (pipe(pfd) < 0)
			die("pipe", -errno);
		pid = fork();
		if (pid == 0) {
			struct accel_client *cc;
			struct accel_queue *q;
			if (accel_connect(sock, &cc) < 0 || accel_acquire(cc, "copy", NULL, &q) < 0)
				_exit(1);
			exit_ns = now_ns();
			(void)!write(pfd[1], &exit_ns, sizeof(exit_ns));
			_exit(0);
		}
		int pidfd = pidfd_open(pid, 0);
		struct pollfd pp = { .fd = pidfd, .events = POLLIN };
		uint64_t exited_ns;

		close(pfd[1]);
		if (pidfd < 0 || read(pfd[0], &exit_ns, sizeof(exit_ns)) != (ssize_t)sizeof(exit_ns))
			die("reclaim child", EIO);
		close(pfd[0]);
		/* The kernel's part: until the process has exited (what the broker waits for). */
		while (poll(&pp, 1, -1) != 1)
			;
		exited_ns = now_ns();
		while (active_queues(c) != base)
			;
		t[i] = now_ns() - exit_ns;
		tk[i] = exited_ns - exit_ns;
		tb[i] = exit_ns + t[i] - exited_ns;
		close(pidfd);
		waitpid(pid, NULL, 0);
	}
	accel_disconnect(c);
	*kernel50 = percentile(tk, n, 0.5) / 1000.0;
	*broker50 = percentile(tb, n, 0.5) / 1000.0;
	*p50 = percentile(t, n, 0.5) / 1000.0;
	*p99 = percentile(t, n, 0.99) / 1000.0;
	free(t);
	free(tk);
	free(tb);
}

/* ---- gzip through one queue vs zlib in this process ---- */

static unsigned char *make_text(size_t n)
{
	static const char *const words[] = { "queue", "broker", "accelerator", "deflate", "ring",
					     "descriptor", "completion", "revoke", "quota", "device" };
	unsigned char *t = malloc(n);
	uint32_t x = 2024;
	size_t len = 0;

	while (len < n) {
		char line[128];
		x = x * 1103515245u + 12345u;
		int k = snprintf(line, sizeof(line), "%08u %s %s %s %u\n", (unsigned)len,
				 words[(x >> 8) % 10], words[(x >> 12) % 10], words[(x >> 16) % 10],
				 (x >> 20) % 1000);
		for (int i = 0; i < k && len < n; i++)
			t[len++] = (unsigned char)line[i];
	}
	return t;
}

static double bench_zlib(const unsigned char *text, size_t n, size_t chunk, size_t *out_len)
{
	unsigned char *out = malloc(chunk);
	z_stream z = { 0 };
	uint64_t start = now_ns();
	int r;

	deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (unsigned char *)text;
	*out_len = 0;
	for (size_t off = 0; off < n;) {
		size_t len = n - off < chunk ? n - off : chunk;
		z.next_in = (unsigned char *)text + off;
		z.avail_in = (uInt)len;
		off += len;
		do {
			z.next_out = out;
			z.avail_out = (uInt)chunk;
			r = deflate(&z, off == n ? Z_FINISH : Z_NO_FLUSH);
			*out_len += chunk - z.avail_out;
		} while (z.avail_in > 0 || (off == n && r != Z_STREAM_END));
	}
	deflateEnd(&z);
	free(out);
	return (double)n / ((double)(now_ns() - start) / 1e9) / 1e6;
}

static double bench_gzip_queue(const char *sock, const unsigned char *text, size_t n, size_t *out_len)
{
	struct accel_client *c;
	struct accel_queue *q;
	struct accel_completion comp;
	unsigned char *in, *out;
	size_t size, half, off = 0, pending = 0;
	uint32_t flags = 0;
	uint64_t start;
	int r;

	if ((r = accel_connect(sock, &c)) < 0 || (r = accel_acquire(c, "gzip", NULL, &q)) < 0)
		die("gzip setup", r);
	in = accel_queue_buffer(q, &size);
	half = size / 2;
	out = in + half;
	*out_len = 0;
	start = now_ns();
	for (;;) {
		size_t take = n - off < half - pending ? n - off : half - pending;
		memcpy(in + pending, text + off, take);
		off += take;
		pending += take;
		r = accel_submit(q, &(struct accel_op){ .src = in, .src_len = pending, .dst = out,
							.dst_len = half,
							.flags = flags | (off == n ? ACCEL_OP_FINISH : 0) });
		if (r < 0 || (r = accel_wait(q, &comp, 1, -1)) < 0 || (r = comp.status) < 0)
			die("gzip", r);
		memmove(in, in + comp.consumed, pending - comp.consumed);
		pending -= comp.consumed;
		*out_len += comp.produced;
		flags = ACCEL_OP_CONTINUE;
		if (comp.flags & ACCEL_COMPLETION_STREAM_END)
			break;
	}
	double mbs = (double)n / ((double)(now_ns() - start) / 1e9) / 1e6;
	accel_release(q);
	accel_disconnect(c);
	return mbs;
}

/* ---- a victim's 4 KiB crc32c while hogs run level-9 gzip (issue 12) ---- */

#define HOG_LEVEL 9

struct hog {
	const char *sock;
	int *stop;	/* atomic */
	int *ready;	/* atomic: hogs with an operation in flight */
	int error;
};

/*
 * A hostile client: level-9 gzip over its whole 2 MiB data area of
 * two-letter noise, the input deflate is slowest on, again and again.
 * The output lands at the start of the same area, behind the input the
 * engine has read; the overwritten prefix is put back after each one.
 */
static void *hog_thread(void *p)
{
	struct hog *h = p;
	struct accel_client *c;
	struct accel_queue *q;
	unsigned char *buf, *noise;
	size_t size;
	uint32_t x = 1;
	bool counted = false;

	if ((h->error = accel_connect(h->sock, &c)) < 0)
		return NULL;
	if ((h->error = accel_acquire(c, "gzip", NULL, &q)) < 0) {
		accel_disconnect(c);
		return NULL;
	}
	buf = accel_queue_buffer(q, &size);
	noise = malloc(size);
	for (size_t i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		noise[i] = (unsigned char)('a' + ((x >> 16) & 1));
	}
	memcpy(buf, noise, size);
	while (!__atomic_load_n(h->stop, __ATOMIC_ACQUIRE)) {
		struct accel_completion comp;
		int r = accel_submit(q, &(struct accel_op){ .src = buf, .src_len = size, .dst = buf,
							.dst_len = size, .arg = HOG_LEVEL,
							.flags = ACCEL_OP_FINISH });
		if (r < 0) {
			h->error = r;
			break;
		}
		if (!counted) {
			__atomic_add_fetch(h->ready, 1, __ATOMIC_RELEASE);
			counted = true;
		}
		while ((r = accel_wait(q, &comp, 1, 100)) == -ETIME &&
		       !__atomic_load_n(h->stop, __ATOMIC_ACQUIRE))
			;
		if (r < 0 && r != -ETIME) {
			h->error = r;
			break;
		}
		if (r == 1)
			memcpy(buf, noise, comp.produced);
	}
	if (!counted)
		__atomic_add_fetch(h->ready, 1, __ATOMIC_RELEASE);
	accel_release(q);
	accel_disconnect(c);
	free(noise);
	return NULL;
}

/*
 * Submit -> completion of a 4 KiB crc32c, one at a time, while @n_hogs
 * other clients keep the engine busy: at most @n samples, or what fits in
 * @seconds (an unfair engine gets few).
 */
static size_t bench_victim(const char *sock, unsigned n_hogs, size_t n, double seconds,
			   double *p50, double *p99, double *max)
{
	uint64_t *t = calloc(n, sizeof(*t)), deadline;
	pthread_t tid[16];
	struct hog hogs[16];
	int stop = 0, ready = 0, r;
	struct accel_client *c;
	struct accel_queue *q;
	unsigned char *buf;
	size_t i;

	for (unsigned k = 0; k < n_hogs; k++) {
		hogs[k] = (struct hog){ .sock = sock, .stop = &stop, .ready = &ready };
		pthread_create(&tid[k], NULL, hog_thread, &hogs[k]);
	}
	if ((r = accel_connect(sock, &c)) < 0 || (r = accel_acquire(c, "crc32c", NULL, &q)) < 0)
		die("victim setup", r);
	buf = accel_queue_buffer(q, NULL);
	memset(buf, 0x5a, 4096);
	while (__atomic_load_n(&ready, __ATOMIC_ACQUIRE) < (int)n_hogs)
		usleep(1000);
	deadline = now_ns() + (uint64_t)(seconds * 1e9);
	for (i = 0; i < n && now_ns() < deadline; i++) {
		struct accel_completion comp;
		uint64_t start = now_ns();
		r = accel_submit(q, &(struct accel_op){ .src = buf, .src_len = 4096, .dst = buf,
							.user_data = i });
		if (r < 0 || (r = accel_wait(q, &comp, 1, -1)) < 0 || (r = comp.status) < 0)
			die("victim crc32c", r);
		t[i] = now_ns() - start;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (unsigned k = 0; k < n_hogs; k++) {
		pthread_join(tid[k], NULL);
		if (hogs[k].error < 0)
			die("hog", hogs[k].error);
	}
	accel_release(q);
	accel_disconnect(c);
	*p50 = percentile(t, i, 0.5) / 1000.0;
	*p99 = percentile(t, i, 0.99) / 1000.0;
	*max = percentile(t, i, 1.0) / 1000.0;
	free(t);
	return i;
}

int main(int argc, char **argv)
{
	const char *build;
	char self[4096];
	struct broker b;
	char bus_dir[64];
	double floor50, floor99, acq50, acq99, bus50, bus99, bus_ping, rate, pp, rtt, zlib_mbs, queue_mbs, rec50, rec99, reck50, recb50;
	double vic50, vic99, vicmax;
	const unsigned hogs = 8;
	size_t vic_n;
	long c0, b0, c1, b1;
	size_t gz_len, zlib_len, text_len = 64u << 20;
	const size_t ops = 200000;
	unsigned char *text;
	struct event_loop_figures ev;
	ssize_t len;

	if (argc == 4 && strcmp(argv[1], "--ops") == 0)
		return run_ops(argv[3], strtoul(argv[2], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "--event-loop") == 0) {
		bench_event_loop(argv[2], argv[3], 20000, &ev);
		printf("{\n");
		bench_event_loop_print(&ev);
		printf("\n}\n");
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "Usage: accel-bench BUILD_DIR\n");
		return 2;
	}
	build = argv[1];
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0)
		die("readlink", -errno);
	self[len] = '\0';

	fprintf(stderr, "accel-bench: fd-passing floor...\n");
	bench_floor_fd(20000, &floor50, &floor99);
	bus_start(bus_dir);
	broker_start(&b, build, "");
	fprintf(stderr, "accel-bench: acquire+release...\n");
	bench_acquire(b.sock, 5000, &acq50, &acq99);
	fprintf(stderr, "accel-bench: acquire+release over D-Bus...\n");
	bench_dbus_acquire(5000, &bus50, &bus99);
	bus_ping = bench_dbus_ping(5000);
	fprintf(stderr, "accel-bench: acquire+release with 8 threads, 3 s...\n");
	rate = bench_acquire_rate(b.sock, 8, 3.0);
	fprintf(stderr, "accel-bench: owner exit -> quota freed, 300 children...\n");
	bench_reclaim(b.sock, 300, &rec50, &rec99, &reck50, &recb50);
	fprintf(stderr, "accel-bench: op round trip and ping-pong floor...\n");
	pp = bench_pingpong(200000);
	rtt = bench_op_rtt(b.sock, 200000);
	fprintf(stderr, "accel-bench: gzip, 64 MiB through one queue and in-process zlib...\n");
	text = make_text(text_len);
	zlib_mbs = bench_zlib(text, text_len, ACCEL_SIM_DATA_SIZE / 2, &zlib_len);
	queue_mbs = bench_gzip_queue(b.sock, text, text_len, &gz_len);
	fprintf(stderr, "accel-bench: 4 KiB crc32c while %u clients run level-%d gzip, 20 s at most...\n",
		hogs, HOG_LEVEL);
	vic_n = bench_victim(b.sock, hogs, 5000, 20.0, &vic50, &vic99, &vicmax);
	fprintf(stderr, "accel-bench: 64 gzip operations in flight on 4 queues, event loop and accel_wait()...\n");
	bench_event_loop(build, b.sock, 20000, &ev);
	broker_stop(&b);
	bus_stop(bus_dir);
	unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
	free(text);
	fprintf(stderr, "accel-bench: system calls per op under strace (0 and %zu ops)...\n", ops);
	count_syscalls(build, self, 0, &c0, &b0);
	count_syscalls(build, self, ops, &c1, &b1);

	printf("{\n");
	printf("  \"acquire_release\": {\"p50_us\": %.1f, \"p99_us\": %.1f, "
	       "\"floor_fd_rtt_p50_us\": %.1f, \"floor_fd_rtt_p99_us\": %.1f, \"p50_ratio\": %.2f, "
	       "\"target_ratio\": 3.0},\n", acq50, acq99, floor50, floor99, acq50 / floor50);
	printf("  \"dbus_acquire_release\": {\"p50_us\": %.1f, \"p99_us\": %.1f, \"socket_p50_us\": %.1f, "
	       "\"floor_bus_ping_rtt_p50_us\": %.1f, \"target_p50_us\": 300},\n", bus50, bus99, acq50, bus_ping);
	printf("  \"acquire_release_per_sec_8_threads\": {\"value\": %.0f, \"target\": 10000},\n", rate);
	printf("  \"owner_exit_to_quota_freed\": {\"p50_us\": %.1f, \"p99_us\": %.1f, "
	       "\"kernel_exit_p50_us\": %.1f, \"pidfd_readable_to_freed_p50_us\": %.1f, "
	       "\"target_p50_us\": 1000},\n", rec50, rec99, reck50, recb50);
	printf("  \"copy64_round_trip\": {\"p50_ns\": %.0f, \"floor_pingpong_p50_ns\": %.0f, "
	       "\"ratio\": %.2f, \"target_ratio\": 3.0},\n", rtt, pp, rtt / pp);
	printf("  \"syscalls_per_op\": {\"ops\": %zu, \"client\": %.4f, \"broker\": %.4f, "
	       "\"client_total\": %ld, \"client_baseline\": %ld, \"broker_total\": %ld, "
	       "\"broker_baseline\": %ld, \"target\": 0.0},\n", ops,
	       (double)(c1 - c0) / (double)ops, (double)(b1 - b0) / (double)ops, c1, c0, b1, b0);
	printf("  \"gzip_level6\": {\"queue_mb_s\": %.1f, \"zlib_in_process_mb_s\": %.1f, "
	       "\"ratio\": %.3f, \"target_ratio\": 0.9, \"input_bytes\": %zu, \"queue_output_bytes\": %zu, "
	       "\"zlib_output_bytes\": %zu},\n", queue_mbs, zlib_mbs, queue_mbs / zlib_mbs, text_len,
	       gz_len, zlib_len);
	printf("  \"victim_crc32c_4k_under_gzip_hogs\": {\"hogs\": %u, \"hog_level\": %d, "
	       "\"hog_desc_bytes\": %u, \"samples\": %zu, \"p50_us\": %.1f, \"p99_us\": %.1f, "
	       "\"max_us\": %.1f, \"target_p99_us\": 20000}", hogs, HOG_LEVEL, ACCEL_SIM_DATA_SIZE,
	       vic_n, vic50, vic99, vicmax);
	printf(",\n");
	bench_event_loop_print(&ev);
	printf("\n}\n");
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * make vm-bench, inside the VM: what applications do today (open the node,
 * set the algorithm, START_Q, map) against acquire+map through the broker,
 * and a 64-byte copy round trip on the kernel engine against the broker's
 * software engine.  For SVA queues (accel_sim-2, issue 14): direct open +
 * map + start against a queue opened by another process (standing in for
 * the broker) and bound by the holder (UACCE_CMD_BIND_MM) before it maps and
 * starts, and a 64-byte copy round trip on a raw ring, SVA and not; and
 * through the broker and libaccel, acquire+bind+map+start of an SVA queue
 * and a 64-byte copy between heap buffers on it.
 * Prints one JSON object.  TCG emulates every
 * instruction: compare the figures of one run with each other, not with
 * the host's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <accel/accel.h>
#include <accel/sim.h>
#include <accel/uacce.h>
#include <misc/uacce/uacce.h>

#include "sim_ring.h"
#include "stats.h"

#define SVA_NODE "/dev/accel_sim-2"

static void die(const char *what, int r)
{
	fprintf(stderr, "vm_bench: %s: %s\n", what, strerror(r < 0 ? -r : r));
	exit(1);
}

/* Time @n runs of @step(@ctx); the median, in microseconds. */
static double median_us(size_t n, void (*step)(void *ctx), void *ctx)
{
	uint64_t *t = calloc(n, sizeof(*t));
	double p;

	if (!t)
		die("calloc", -ENOMEM);
	for (size_t i = 0; i < n; i++) {
		uint64_t start = now_ns();
		step(ctx);
		t[i] = now_ns() - start;
	}
	p = percentile(t, n, 0.5) / 1000.0;
	free(t);
	return p;
}

/* open + SET_ALGORITHM + START_Q + map both regions, then unmap and close. */
static void direct_open(void *ctx)
{
	uint32_t op = ACCEL_SIM_OP_COPY;
	int fd = open("/dev/accel_sim-0", O_RDWR | O_CLOEXEC);
	void *regs, *dus;

	(void)ctx;
	if (fd < 0 || ioctl(fd, ACCEL_SIM_CMD_SET_ALGORITHM, &op) < 0 || ioctl(fd, UACCE_CMD_START_Q) < 0)
		die("direct open", errno);
	regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	dus = mmap(NULL, ACCEL_SIM_DUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
	if (regs == MAP_FAILED || dus == MAP_FAILED)
		die("direct mmap", errno);
	munmap(regs, 4096);
	munmap(dus, ACCEL_SIM_DUS_SIZE);
	close(fd);
}

struct acquire_ctx {
	struct accel_client *c;
	const char *device;
};

/* accel_acquire + accel_release on ctx->device (SVA: libaccel binds, maps and starts). */
static void broker_acquire(void *ctx)
{
	struct acquire_ctx *a = ctx;
	const struct accel_acquire_options o = { a->device, -1 };
	struct accel_queue *q;
	int r = accel_acquire(a->c, "copy", &o, &q);

	if (r < 0)
		die("acquire", r);
	accel_release(q);
}

/* The floor of any brokered path: one call and its reply (varlink GetInfo). */
static void broker_ping(void *ctx)
{
	char *reply = NULL;
	int r = accel_call_json(ctx, "org.varlink.service.GetInfo", "{}", &reply);

	if (r < 0)
		die("GetInfo", r);
	free(reply);
}

static unsigned char heap[8192];	/* an SVA queue's source and destination */

/* 64 bytes copied, submit to completion: in the data area, or on the heap (SVA). */
static void copy64(void *ctx)
{
	struct accel_queue *q = ctx;
	unsigned char *buf = accel_queue_buffer(q, NULL);
	struct accel_completion done;
	int r;

	if (!buf)
		buf = heap;
	r = accel_submit(q, &(struct accel_op){ .src = buf, .src_len = 64, .dst = buf + 4096, .dst_len = 64 });

	if (r < 0 || (r = accel_wait(q, &done, 1, 5000)) != 1)
		die("copy", r);
}

/* Open @node and set its algorithm: what the opener (the broker) does. */
static int open_set(const char *node)
{
	uint32_t op = ACCEL_SIM_OP_COPY;
	int fd = open(node, O_RDWR | O_CLOEXEC);

	if (fd < 0 || ioctl(fd, ACCEL_SIM_CMD_SET_ALGORITHM, &op) < 0)
		die("open", errno);
	return fd;
}

/* Map and start @fd as a holder does, then give it all back. */
static void map_start_close(int fd, bool sva)
{
	struct ring r;

	if (ring_map(&r, fd, sva) < 0 || ioctl(fd, UACCE_CMD_START_Q) < 0)
		die("map and start", errno);
	munmap(r.regs, 4096);
	munmap(r.dus, r.dus_size);
	close(fd);
}

/* An SVA queue opened, set, mapped and started by its user alone. */
static void sva_direct(void *ctx)
{
	(void)ctx;
	map_start_close(open_set(SVA_NODE), true);
}

/*
 * An SVA queue asked of an opener process over a socketpair (@ctx), then
 * bound to this process, mapped and started: the broker's path without the
 * broker's protocol.
 */
#define SVA_RUNS 300
static uint64_t bind_ns[SVA_RUNS];	/* the BIND_MM ioctl alone, per sva_opened_bound() */
static size_t n_bind;

static void sva_opened_bound(void *ctx)
{
	int sock = *(int *)ctx, fd = -1, n = 0;
	uint64_t t;

	if (send_msg(sock, "o", 1, NULL, 0) < 0 || recv_msg(sock, &(char){ 0 }, 1, &fd, &n) != 1 || n != 1)
		die("opener", errno);
	t = now_ns();
	if (ioctl(fd, UACCE_CMD_BIND_MM) < 0)
		die("BIND_MM", errno);
	if (n_bind < SVA_RUNS)
		bind_ns[n_bind++] = now_ns() - t;
	map_start_close(fd, true);
}

/* The opener: a queue for each request, until the socket closes. */
static void sva_opener(int sock)
{
	char c;

	while (recv_msg(sock, &c, 1, NULL, NULL) == 1) {
		int fd = open_set(SVA_NODE);

		if (send_msg(sock, "q", 1, &fd, 1) < 0)
			die("send fd", errno);
		close(fd);
	}
}

struct raw_copy {
	struct ring r;
	unsigned char *buf;
};

/* 64 bytes from a heap buffer (SVA) or the data area, on a raw ring. */
static void raw_copy64(void *ctx)
{
	struct raw_copy *rc = ctx;
	struct accel_sim_cqe c = { .status = -EIO };
	struct accel_sim_sva_desc s = { .op = ACCEL_SIM_OP_COPY, .src = (uintptr_t)rc->buf,
					.dst = (uintptr_t)rc->buf + 4096, .src_len = 64, .dst_len = 64 };
	struct accel_sim_desc d = { .op = ACCEL_SIM_OP_COPY, .src_offset = ACCEL_SIM_DATA_OFFSET,
				    .dst_offset = ACCEL_SIM_DATA_OFFSET + 4096, .src_len = 64, .dst_len = 64 };

	ring_submit(&rc->r, rc->r.sva ? (void *)&s : (void *)&d);
	int r = ring_wait(&rc->r, &c);

	if (r < 0 || c.status)
		die("raw copy", r < 0 ? r : c.status);
}

static double raw_copy64_rtt(const char *node, bool sva, size_t n)
{
	struct raw_copy rc = { .buf = calloc(1, 8192) };
	int fd = open_set(node);
	double p;

	if (!rc.buf || ring_map(&rc.r, fd, sva) < 0 || ioctl(fd, UACCE_CMD_START_Q) < 0)
		die("raw queue", errno);
	p = median_us(n, raw_copy64, &rc);
	close(fd);
	free(rc.buf);
	return p;
}

static struct accel_client *connect_to(const char *sock)
{
	struct accel_client *c;
	int r = accel_connect(sock, &c);

	if (r < 0)
		die("connect", r);
	return c;
}

static double copy64_rtt(const char *sock, const char *device, size_t n)
{
	const struct accel_acquire_options o = { device, -1 };
	struct accel_client *c = connect_to(sock);
	struct accel_queue *q;
	double p;
	int r = accel_acquire(c, "copy", &o, &q);

	if (r < 0)
		die("copy queue", r);
	p = median_us(n, copy64, q);
	accel_release(q);
	accel_disconnect(c);
	return p;
}

int main(int argc, char **argv)
{
	double direct, brokered, ping, kernel_rtt, sim_rtt, sva_direct_us, sva_bound_us, raw_rtt, sva_rtt, bind_us;
	double sva_brokered_us, sva_libaccel_rtt;
	struct acquire_ctx a = { NULL, "accel_sim-0" };
	int sp[2];
	pid_t opener;

	if (argc != 3) {
		fprintf(stderr, "usage: vm_bench UACCE_BROKER_SOCKET SIM_BROKER_SOCKET\n");
		return 2;
	}
	direct = median_us(300, direct_open, NULL);
	a.c = connect_to(argv[1]);
	brokered = median_us(300, broker_acquire, &a);
	a.device = "accel_sim-2";
	sva_brokered_us = median_us(300, broker_acquire, &a);
	ping = median_us(300, broker_ping, a.c);
	accel_disconnect(a.c);
	kernel_rtt = copy64_rtt(argv[1], "accel_sim-0", 2000);
	sva_libaccel_rtt = copy64_rtt(argv[1], "accel_sim-2", 2000);
	sim_rtt = copy64_rtt(argv[2], NULL, 2000);

	sva_direct_us = median_us(SVA_RUNS, sva_direct, NULL);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		die("socketpair", errno);
	opener = fork();
	if (opener == 0) {
		close(sp[0]);
		sva_opener(sp[1]);
		_exit(0);
	}
	close(sp[1]);
	sva_bound_us = median_us(SVA_RUNS, sva_opened_bound, &sp[0]);
	bind_us = percentile(bind_ns, n_bind, 0.5) / 1000.0;
	close(sp[0]);
	waitpid(opener, NULL, 0);
	raw_rtt = raw_copy64_rtt("/dev/accel_sim-0", false, 2000);
	sva_rtt = raw_copy64_rtt(SVA_NODE, true, 2000);
	printf("VM-BENCH {\"acquire_and_map\": {\"direct_open_mmap_start_p50_us\": %.1f, "
	       "\"through_broker_p50_us\": %.1f, \"ratio\": %.2f, \"target_ratio\": 1.5, "
	       "\"broker_round_trip_p50_us\": %.1f}, "
	       "\"copy64_round_trip\": {\"kernel_engine_p50_us\": %.1f, \"broker_engine_p50_us\": %.1f}, "
	       "\"sva\": {\"direct_open_map_start_p50_us\": %.1f, "
	       "\"opener_open_then_bind_map_start_p50_us\": %.1f, \"bind_mm_ioctl_p50_us\": %.1f, "
	       "\"raw_ring_copy64_p50_us\": %.1f, \"raw_ring_copy64_non_sva_p50_us\": %.1f, "
	       "\"through_broker_acquire_bind_map_start_p50_us\": %.1f, \"through_broker_ratio\": %.2f, "
	       "\"libaccel_heap_copy64_p50_us\": %.1f}, "
	       "\"note\": \"qemu TCG: compare within this run only\"}\n",
	       direct, brokered, brokered / direct, ping, kernel_rtt, sim_rtt, sva_direct_us, sva_bound_us,
	       bind_us, sva_rtt, raw_rtt, sva_brokered_us, sva_brokered_us / sva_direct_us, sva_libaccel_rtt);
	return 0;
}

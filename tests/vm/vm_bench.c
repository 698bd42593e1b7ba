// SPDX-License-Identifier: MIT
/*
 * make vm-bench, inside the VM: what applications do today (open the node,
 * set the algorithm, START_Q, map) against acquire+map through the broker,
 * and a 64-byte copy round trip on the kernel engine against the broker's
 * software engine; the same for the SVA device (accel_sim-2): open, map and
 * start as its opener against acquire+bind+map+start through the broker,
 * and a 64-byte copy between heap buffers.  Prints one JSON object.  TCG emulates every
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
#include <time.h>
#include <unistd.h>

#include <accel/accel.h>
#include <accel/sim.h>
#include <accel/uacce.h>
#include <misc/uacce/uacce.h>

#include "stats.h"

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

/* The DUS size of @dev, from sysfs (the SVA device's is smaller: no data area). */
static size_t dus_size(const char *dev)
{
	char path[128];
	unsigned long n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/uacce/%s/region_dus_size", dev);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%lu", &n) != 1)
		die("region_dus_size", errno ? errno : EINVAL);
	fclose(f);
	return n;
}

/*
 * As an application opening /dev/@ctx itself: open + SET_ALGORITHM +
 * START_Q + map both regions (an SVA queue is bound to its opener already),
 * then unmap and close.
 */
static void direct_open(void *ctx)
{
	const char *dev = ctx;
	char node[64];
	uint32_t op = ACCEL_SIM_OP_COPY;
	size_t dus_len = dus_size(dev);
	void *regs, *dus;
	int fd;

	snprintf(node, sizeof(node), "/dev/%s", dev);
	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, ACCEL_SIM_CMD_SET_ALGORITHM, &op) < 0 || ioctl(fd, UACCE_CMD_START_Q) < 0)
		die("direct open", errno);
	regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	dus = mmap(NULL, dus_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
	if (regs == MAP_FAILED || dus == MAP_FAILED)
		die("direct mmap", errno);
	munmap(regs, 4096);
	munmap(dus, dus_len);
	close(fd);
}

struct acquire_ctx {
	struct accel_client *c;
	const char *device;
};

/* accel_acquire + accel_release on ctx->device (SVA: the acquire binds, maps and starts). */
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
	double direct, brokered, ping, kernel_rtt, sim_rtt, sva_direct, sva_brokered, sva_rtt;
	struct acquire_ctx a = { NULL, "accel_sim-0" };

	if (argc != 3) {
		fprintf(stderr, "usage: vm_bench UACCE_BROKER_SOCKET SIM_BROKER_SOCKET\n");
		return 2;
	}
	direct = median_us(300, direct_open, "accel_sim-0");
	sva_direct = median_us(300, direct_open, "accel_sim-2");
	a.c = connect_to(argv[1]);
	brokered = median_us(300, broker_acquire, &a);
	a.device = "accel_sim-2";
	sva_brokered = median_us(300, broker_acquire, &a);
	ping = median_us(300, broker_ping, a.c);
	accel_disconnect(a.c);
	kernel_rtt = copy64_rtt(argv[1], "accel_sim-0", 2000);
	sva_rtt = copy64_rtt(argv[1], "accel_sim-2", 2000);
	sim_rtt = copy64_rtt(argv[2], NULL, 2000);
	printf("VM-BENCH {\"acquire_and_map\": {\"direct_open_mmap_start_p50_us\": %.1f, "
	       "\"through_broker_p50_us\": %.1f, \"ratio\": %.2f, \"target_ratio\": 1.5, "
	       "\"broker_round_trip_p50_us\": %.1f}, "
	       "\"sva_acquire_bind_map\": {\"direct_open_mmap_start_p50_us\": %.1f, "
	       "\"through_broker_p50_us\": %.1f, \"ratio\": %.2f}, "
	       "\"copy64_round_trip\": {\"kernel_engine_p50_us\": %.1f, \"kernel_sva_heap_p50_us\": %.1f, "
	       "\"broker_engine_p50_us\": %.1f}, "
	       "\"note\": \"qemu TCG: compare within this run only\"}\n",
	       direct, brokered, brokered / direct, ping, sva_direct, sva_brokered, sva_brokered / sva_direct,
	       kernel_rtt, sva_rtt, sim_rtt);
	return 0;
}

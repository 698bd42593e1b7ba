// SPDX-License-Identifier: MIT
/*
 * make vm-bench, inside the VM: what applications do today (open the node,
 * set the algorithm, START_Q, map) against acquire+map through the broker,
 * and a 64-byte copy round trip on the kernel engine against the broker's
 * software engine.  Prints one JSON object.  TCG emulates every
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
#include <misc/uacce/uacce.h>

#include "stats.h"

/* The median, in microseconds. */
static double p50_us(uint64_t *t, size_t n)
{
	return percentile(t, n, 0.5) / 1000.0;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "vm_bench: %s: %s\n", what, strerror(r < 0 ? -r : r));
	exit(1);
}

/* open + SET_ALGORITHM + START_Q + map both regions, then unmap and close. */
static double direct_open(size_t n)
{
	uint64_t *t = calloc(n, sizeof(*t));
	double p;

	for (size_t i = 0; i < n; i++) {
		uint64_t start = now_ns();
		uint32_t op = ACCEL_SIM_OP_COPY;
		int fd = open("/dev/accel_sim-0", O_RDWR | O_CLOEXEC);
		void *regs, *dus;

		if (fd < 0 || ioctl(fd, ACCEL_SIM_CMD_SET_ALGORITHM, &op) < 0 || ioctl(fd, UACCE_CMD_START_Q) < 0)
			die("direct open", errno);
		regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		dus = mmap(NULL, ACCEL_SIM_DUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
		if (regs == MAP_FAILED || dus == MAP_FAILED)
			die("direct mmap", errno);
		munmap(regs, 4096);
		munmap(dus, ACCEL_SIM_DUS_SIZE);
		close(fd);
		t[i] = now_ns() - start;
	}
	p = p50_us(t, n);
	free(t);
	return p;
}

static double broker_acquire(const char *sock, size_t n)
{
	const struct accel_acquire_options o = { "accel_sim-0", -1 };
	uint64_t *t = calloc(n, sizeof(*t));
	struct accel_client *c;
	double p;
	int r = accel_connect(sock, &c);

	if (r < 0)
		die("connect", r);
	for (size_t i = 0; i < n; i++) {
		struct accel_queue *q;
		uint64_t start = now_ns();
		r = accel_acquire(c, "copy", &o, &q);
		if (r < 0)
			die("acquire", r);
		accel_release(q);
		t[i] = now_ns() - start;
	}
	accel_disconnect(c);
	p = p50_us(t, n);
	free(t);
	return p;
}

static double copy64_rtt(const char *sock, size_t n)
{
	uint64_t *t = calloc(n, sizeof(*t));
	struct accel_client *c;
	struct accel_queue *q;
	struct accel_completion done;
	unsigned char *buf;
	double p;
	int r = accel_connect(sock, &c);

	if (r < 0 || (r = accel_acquire(c, "copy", NULL, &q)) < 0)
		die("copy queue", r);
	buf = accel_queue_buffer(q, NULL);
	for (size_t i = 0; i < n; i++) {
		uint64_t start = now_ns();
		r = accel_submit(q, &(struct accel_op){ .src = buf, .src_len = 64, .dst = buf + 4096, .dst_len = 64 });
		if (r < 0 || (r = accel_wait(q, &done, 1, 5000)) != 1)
			die("copy", r);
		t[i] = now_ns() - start;
	}
	accel_release(q);
	accel_disconnect(c);
	p = p50_us(t, n);
	free(t);
	return p;
}

/* The floor of any brokered path: one call and its reply (varlink GetInfo). */
static double broker_ping(const char *sock, size_t n)
{
	uint64_t *t = calloc(n, sizeof(*t));
	struct accel_client *c;
	double p;
	int r = accel_connect(sock, &c);

	if (r < 0)
		die("connect", r);
	for (size_t i = 0; i < n; i++) {
		char *reply = NULL;
		uint64_t start = now_ns();
		r = accel_call_json(c, "org.varlink.service.GetInfo", "{}", &reply);
		t[i] = now_ns() - start;
		if (r < 0)
			die("GetInfo", r);
		free(reply);
	}
	accel_disconnect(c);
	p = p50_us(t, n);
	free(t);
	return p;
}

int main(int argc, char **argv)
{
	double direct, brokered, ping, kernel_rtt, sim_rtt;

	if (argc != 3) {
		fprintf(stderr, "usage: vm_bench UACCE_BROKER_SOCKET SIM_BROKER_SOCKET\n");
		return 2;
	}
	direct = direct_open(300);
	brokered = broker_acquire(argv[1], 300);
	ping = broker_ping(argv[1], 300);
	kernel_rtt = copy64_rtt(argv[1], 2000);
	sim_rtt = copy64_rtt(argv[2], 2000);
	printf("VM-BENCH {\"acquire_and_map\": {\"direct_open_mmap_start_p50_us\": %.1f, "
	       "\"through_broker_p50_us\": %.1f, \"ratio\": %.2f, \"target_ratio\": 1.5, "
	       "\"broker_round_trip_p50_us\": %.1f}, "
	       "\"copy64_round_trip\": {\"kernel_engine_p50_us\": %.1f, \"broker_engine_p50_us\": %.1f}, "
	       "\"note\": \"qemu TCG: compare within this run only\"}\n",
	       direct, brokered, brokered / direct, ping, kernel_rtt, sim_rtt);
	return 0;
}

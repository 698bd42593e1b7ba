// SPDX-License-Identifier: MIT
/*
 * A uacce program as UADK v2 writes them (Linaro/uadk 97d643e), call for
 * call, knowing nothing of the broker: discovery through sysfs (opendir,
 * readdir, access, every attribute as realpath -> open -> read -> close),
 * the device with the most available_instances, realpath of its node, open
 * O_RDWR | O_CLOEXEC (on EBUSY: pick again, up to 10,000 times), mmap of
 * the DUS (offset one page) and the MMIO (offset 0), the driver's ioctl
 * (ACCEL_SIM_CMD_SET_ALGORITHM), START_Q, work, PUT_Q, munmap, close.
 * vm_preload.c runs it with and without accel-run.  Links nothing of ours.
 *
 * uadk_like work [sva]   a copy through one queue, then a forked child's
 * uadk_like try [sva]    open one queue: exit 0, or the errno
 * uadk_like fill         open until refused: "filled N errno E"
 * uadk_like hold N       open N, say "holding N", wait for stdin to close
 * uadk_like leak N       open N, say "leaving N", exit without closing
 * uadk_like avail        "NAME N" for each device listed
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <misc/uacce/uacce.h>

#include "sim_ring.h"

#define CLASS "/sys/class/uacce"
#define MAX_DEVICES 16
#define RETRIES 10000

struct device {
	char name[64];
	char api[32];
	int available;
};

/* One attribute, the way UADK reads them all: realpath, open, read, close. */
static int read_attr(const char *dev, const char *attr, char *buf, size_t size)
{
	char path[PATH_MAX], real[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", CLASS, dev, attr);
	if (!realpath(path, real))
		return -errno;
	fd = open(real, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return 0;
}

static bool has_algorithm(const char *dev, const char *alg)
{
	char buf[256], *save = NULL;

	if (read_attr(dev, "algorithms", buf, sizeof(buf)) < 0)
		return false;
	/* One per line (the kernel's uacce), or space-separated. */
	for (char *a = strtok_r(buf, " \n", &save); a; a = strtok_r(NULL, " \n", &save))
		if (strcmp(a, alg) == 0)
			return true;
	return false;
}

/* Discovery: every device of @api offering copy, with what it reads now. */
static int discover(const char *api, struct device *out)
{
	DIR *d = opendir(CLASS);
	struct dirent *e;
	char path[PATH_MAX], buf[64];
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < MAX_DEVICES) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", CLASS, e->d_name);
		if (access(path, F_OK) < 0)
			continue;
		if (read_attr(e->d_name, "api", out[n].api, sizeof(out[n].api)) < 0 ||
		    strcmp(out[n].api, api) != 0 || !has_algorithm(e->d_name, "copy"))
			continue;
		/* Read and not needed here, as UADK reads them. */
		(void)read_attr(e->d_name, "isolate", buf, sizeof(buf));
		(void)read_attr(e->d_name, "flags", buf, sizeof(buf));
		(void)read_attr(e->d_name, "region_mmio_size", buf, sizeof(buf));
		(void)read_attr(e->d_name, "region_dus_size", buf, sizeof(buf));
		(void)read_attr(e->d_name, "device/numa_node", buf, sizeof(buf));
		snprintf(out[n].name, sizeof(out[n].name), "%.63s", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* The device with the most available_instances, re-read now; NULL if none has any. */
static const struct device *pick(struct device *devs, int n)
{
	const struct device *best = NULL;
	char buf[32];

	for (int i = 0; i < n; i++) {
		devs[i].available = read_attr(devs[i].name, "available_instances", buf, sizeof(buf)) < 0 ? 0 : atoi(buf);
		if (devs[i].available > 0 && (!best || devs[i].available > best->available))
			best = &devs[i];
	}
	return best;
}

/* Open a queue as UADK does; -errno when it gives up. */
static int open_queue(const char *api)
{
	struct device devs[MAX_DEVICES];
	char path[PATH_MAX], real[PATH_MAX];
	int n = discover(api, devs), err = -ENODEV;

	for (int i = 0; i < RETRIES; i++) {
		const struct device *d = pick(devs, n);
		int fd;
		if (!d)
			return err == -ENODEV ? -EBUSY : err;
		snprintf(path, sizeof(path), "/dev/%s", d->name);
		if (!realpath(path, real))
			return -errno;	/* no node: UADK gives up before open */
		fd = open(real, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		err = -errno;
		if (errno != EBUSY)
			return err;
	}
	return err;
}

/* Set up, start, copy 64 bytes, check, put, unmap: the queue's life in a UADK program. */
static int work(int fd, bool sva)
{
	static unsigned char src[64], dst[64];
	uint32_t op = ACCEL_SIM_OP_COPY;
	struct accel_sim_cqe c = { .status = -EIO };
	struct ring r = { .fd = fd, .sva = sva };
	int status = 0;

	r.dus_size = sva ? ACCEL_SIM_DATA_OFFSET : ACCEL_SIM_DUS_SIZE;
	r.dus = mmap(NULL, r.dus_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);	/* DUS first */
	r.regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r.dus == MAP_FAILED || r.regs == MAP_FAILED)
		return -errno;
	if (ioctl(fd, ACCEL_SIM_CMD_SET_ALGORITHM, &op) < 0 || ioctl(fd, UACCE_CMD_START_Q) < 0)
		return -errno;
	for (int i = 0; i < 64; i++)
		src[i] = (unsigned char)(i * 7 + getpid());
	if (sva) {
		ring_submit(&r, &(struct accel_sim_sva_desc){ .op = ACCEL_SIM_OP_COPY, .src = (uintptr_t)src,
							       .dst = (uintptr_t)dst, .src_len = 64, .dst_len = 64 });
	} else {
		memcpy(r.dus + ACCEL_SIM_DATA_OFFSET, src, 64);
		ring_submit(&r, &(struct accel_sim_desc){ .op = ACCEL_SIM_OP_COPY, .src_offset = ACCEL_SIM_DATA_OFFSET,
							   .dst_offset = ACCEL_SIM_DATA_OFFSET + 4096,
							   .src_len = 64, .dst_len = 64 });
	}
	if (ring_wait(&r, &c) < 0 || c.status != 0 || c.produced != 64)
		status = -EIO;
	else if (memcmp(sva ? dst : r.dus + ACCEL_SIM_DATA_OFFSET + 4096, src, 64) != 0)
		status = -EILSEQ;
	if (ioctl(fd, UACCE_CMD_PUT_Q) < 0 && status == 0)
		status = -errno;
	munmap(r.regs, 4096);
	munmap(r.dus, r.dus_size);
	return status;
}

static int one_program(const char *api, bool sva, const char *who)
{
	int fd = open_queue(api), r;

	if (fd < 0) {
		printf("%s: open: %s\n", who, strerror(-fd));
		return 1;
	}
	r = work(fd, sva);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	printf("%s: work: %s\n", who, r ? strerror(-r) : "ok");
	return r ? 1 : 0;
}

static int do_work(bool sva)
{
	const char *api = sva ? ACCEL_SIM_SVA_API : ACCEL_SIM_API;
	int status;
	pid_t pid;

	if (one_program(api, sva, "parent") != 0)
		return 1;
	fflush(stdout);
	/* After fork() a child re-initialises and opens its own queues. */
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		_exit(one_program(api, sva, "child"));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1;
	return 0;
}

static int do_try(bool sva)
{
	int fd = open_queue(sva ? ACCEL_SIM_SVA_API : ACCEL_SIM_API);

	printf("try: %s\n", fd < 0 ? strerror(-fd) : "opened");
	return fd < 0 ? -fd : 0;
}

static int do_fill(void)
{
	int n = 0, fd;

	while (n < 1000 && (fd = open_queue(ACCEL_SIM_API)) >= 0)
		n++;
	printf("filled %d errno %d\n", n, fd < 0 ? -fd : 0);
	return 0;
}

static int do_hold(int n, bool wait_stdin)
{
	char c;

	for (int i = 0; i < n; i++) {
		int fd = open_queue(ACCEL_SIM_API);
		if (fd < 0) {
			printf("open %d: %s\n", i, strerror(-fd));
			return 1;
		}
	}
	printf("%s %d\n", wait_stdin ? "holding" : "leaving", n);
	fflush(stdout);
	while (wait_stdin && read(STDIN_FILENO, &c, 1) > 0)
		;
	return 0;	/* nothing closed: exit takes it all */
}

static int do_avail(void)
{
	DIR *d = opendir(CLASS);
	struct dirent *e;
	char buf[32];

	if (!d)
		return 1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && read_attr(e->d_name, "available_instances", buf, sizeof(buf)) == 0)
			printf("%s %s\n", e->d_name, buf);
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	bool sva = argc > 2 && strcmp(argv[2], "sva") == 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "work") == 0)
		return do_work(sva);
	if (argc >= 2 && strcmp(argv[1], "try") == 0)
		return do_try(sva);
	if (argc == 2 && strcmp(argv[1], "fill") == 0)
		return do_fill();
	if (argc == 3 && strcmp(argv[1], "hold") == 0)
		return do_hold(atoi(argv[2]), true);
	if (argc == 3 && strcmp(argv[1], "leak") == 0)
		return do_hold(atoi(argv[2]), false);
	if (argc == 2 && strcmp(argv[1], "avail") == 0)
		return do_avail();
	fprintf(stderr, "usage: uadk_like work|try [sva] | fill | hold N | leak N | avail\n");
	return 2;
}

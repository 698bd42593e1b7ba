// SPDX-License-Identifier: MIT
/*
 * SVA queues, UACCE_CMD_BIND_MM and UACCE_CMD_REVOKE in the guest (issue 14,
 * the kernel half).  The test stands in for the broker as the opener: a
 * root process opens the queues, sets their algorithm and passes the fds
 * over a socketpair to a client running as uid 65534, which binds, maps and
 * starts them and drives the rings itself (struct accel_sim_sva_desc: its
 * own heap pointers).  The opener maps canaries at the client's buffer
 * addresses in its own address space: nothing the device does for the
 * client may land there.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <accel/sim.h>
#include <accel/uacce.h>
#include <misc/uacce/uacce.h>

#include "sim_ring.h"
#include "vm_test.h"

#define SVA_DEV		"accel_sim-2"
#define SVA_NODE	"/dev/accel_sim-2"
#define PLAIN_DEV	"accel_sim-1"
#define PLAIN_NODE	"/dev/accel_sim-1"
#define BUF_LEN		(200u << 10)	/* > glibc's mmap threshold: its own mapping */
#define CANARY_SRC	0xa5	/* different bytes: a copy between them shows */
#define CANARY_DST	0x5a

static bool say(int sock, char c)
{
	return send_msg(sock, &c, 1, NULL, 0) == 0;
}

static bool hear(int sock, char want)
{
	char c = 0;

	return recv_msg(sock, &c, 1, NULL, NULL) == 1 && c == want;
}

/* Open @node as the opener (root) and set its algorithm, as the broker does. */
static int opener_open(const char *node, uint32_t op)
{
	int fd = open(node, O_RDWR | O_CLOEXEC);

	if (fd >= 0 && ioctl(fd, ACCEL_SIM_CMD_SET_ALGORITHM, &op) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int sva_run(struct ring *r, struct accel_sim_sva_desc d, struct accel_sim_cqe *c)
{
	ring_submit(r, &d);
	return ring_wait(r, c);
}

static void fill_text(unsigned char *p, size_t len)
{
	for (size_t i = 0, k = 0; i < len; k++)
		i += (size_t)snprintf((char *)p + i, len - i, "%zu bytes, line %zu\n", i, k * 7919 % 100003);
}

/* Whether @member (gzip) inflates to exactly @want. */
static bool gz_reads(const unsigned char *member, size_t len, const unsigned char *want, size_t want_len)
{
	unsigned char *out = malloc(want_len + 1);
	z_stream z = { .next_in = (unsigned char *)member, .avail_in = (uInt)len };
	bool ok = out && inflateInit2(&z, 16 + MAX_WBITS) == Z_OK;

	if (ok) {
		z.next_out = out;
		z.avail_out = (uInt)want_len + 1;
		ok = inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == want_len &&
		     memcmp(out, want, want_len) == 0;
		inflateEnd(&z);
	}
	free(out);
	return ok;
}

enum { Q_COPY, Q_CRC, Q_GZIP, Q_GUNZIP, N_Q };
static const uint32_t q_ops[N_Q] = { ACCEL_SIM_OP_COPY, ACCEL_SIM_OP_CRC32C, ACCEL_SIM_OP_GZIP,
				     ACCEL_SIM_OP_GUNZIP };

/*
 * The client's checks before its queues work: nothing of the opener's
 * binding is usable (EPERM), BIND_MM works, and is refused once mapped
 * (copy queue) or started (crc queue).
 */
static int client_bind(struct ring *r, const int *fds)
{
	for (int i = 0; i < N_Q; i++) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);

		if (p != MAP_FAILED || errno != EPERM)
			return 10;
		if (ioctl(fds[i], UACCE_CMD_START_Q) == 0 || errno != EPERM)
			return 11;
		if (ioctl(fds[i], UACCE_CMD_BIND_MM) < 0)
			return 12;
	}
	if (ring_map(&r[Q_COPY], fds[Q_COPY], true) < 0)
		return 13;
	if (ioctl(fds[Q_COPY], UACCE_CMD_BIND_MM) == 0 || errno != EBUSY)
		return 14;	/* mapped */
	if (ioctl(fds[Q_CRC], UACCE_CMD_START_Q) < 0)
		return 15;
	if (ioctl(fds[Q_CRC], UACCE_CMD_BIND_MM) == 0 || errno != EBUSY)
		return 16;	/* started */
	for (int i = 0; i < N_Q; i++) {
		if (i != Q_COPY && ring_map(&r[i], fds[i], true) < 0)
			return 17;
		if (i != Q_CRC && ioctl(fds[i], UACCE_CMD_START_Q) < 0)
			return 18;
	}
	return 0;
}

/* The four operations from the client's heap, each result checked in its own memory. */
static int client_ops(struct ring *r, unsigned char *src, unsigned char *dst)
{
	unsigned char *text = malloc(BUF_LEN);
	struct accel_sim_cqe c;
	uint64_t member;

	if (!text)
		return 20;
	fill_text(text, BUF_LEN);
	memcpy(src, text, BUF_LEN);
	memset(dst, 0, BUF_LEN);
	if (sva_run(&r[Q_COPY], (struct accel_sim_sva_desc){ .user_data = 1, .op = ACCEL_SIM_OP_COPY,
			.src = (uintptr_t)src, .dst = (uintptr_t)dst, .src_len = BUF_LEN, .dst_len = BUF_LEN },
		    &c) < 0 || c.status || c.user_data != 1 || c.produced != BUF_LEN || memcmp(dst, text, BUF_LEN))
		return 21;
	if (sva_run(&r[Q_CRC], (struct accel_sim_sva_desc){ .op = ACCEL_SIM_OP_CRC32C, .src = (uintptr_t)src,
			.src_len = BUF_LEN }, &c) < 0 || c.status || c.value != crc32c_ref(text, BUF_LEN))
		return 22;
	memset(dst, 0, BUF_LEN);
	if (sva_run(&r[Q_GZIP], (struct accel_sim_sva_desc){ .op = ACCEL_SIM_OP_GZIP, .flags = ACCEL_SIM_F_FINISH,
			.arg = 6, .src = (uintptr_t)src, .dst = (uintptr_t)dst, .src_len = BUF_LEN,
			.dst_len = BUF_LEN }, &c) < 0 || c.status || !(c.flags & ACCEL_SIM_CF_STREAM_END) ||
	    c.consumed != BUF_LEN || !gz_reads(dst, c.produced, text, BUF_LEN))
		return 23;
	/* gunzip the member back over the source buffer. */
	member = c.produced;
	memset(src, 0, BUF_LEN);
	if (sva_run(&r[Q_GUNZIP], (struct accel_sim_sva_desc){ .op = ACCEL_SIM_OP_GUNZIP, .src = (uintptr_t)dst,
			.dst = (uintptr_t)src, .src_len = (uint32_t)member, .dst_len = BUF_LEN }, &c) < 0 ||
	    c.status || !(c.flags & ACCEL_SIM_CF_STREAM_END) || c.produced != BUF_LEN || memcmp(src, text, BUF_LEN))
		return 24;
	/* Addresses not mapped in the client: -EFAULT, either way. */
	if (sva_run(&r[Q_COPY], (struct accel_sim_sva_desc){ .op = ACCEL_SIM_OP_COPY, .src = 0x10000,
			.dst = (uintptr_t)dst, .src_len = 64, .dst_len = 64 }, &c) < 0 || c.status != -EFAULT)
		return 25;
	if (sva_run(&r[Q_COPY], (struct accel_sim_sva_desc){ .op = ACCEL_SIM_OP_COPY, .src = (uintptr_t)src,
			.dst = 0x10000, .src_len = 64, .dst_len = 64 }, &c) < 0 || c.status != -EFAULT)
		return 26;
	free(text);
	return 0;
}

/*
 * A forked child is another address space: it cannot drive its parent's
 * queue (EPERM, poll EPOLLERR), and nothing it writes is what the device
 * reads for the parent.
 */
static int client_fork(struct ring *r, unsigned char *src, unsigned char *dst)
{
	struct accel_sim_cqe c;
	int ready[2], status;
	char b;
	pid_t pid;

	if (pipe(ready) < 0)
		return 30;
	memset(src, 'p', 4096);
	pid = fork();
	if (pid == 0) {
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);

		if (p != MAP_FAILED || errno != EPERM)
			_exit(1);
		if (ioctl(r->fd, ACCEL_SIM_CMD_DOORBELL) == 0 || errno != EPERM)
			_exit(2);
		if (ioctl(r->fd, UACCE_CMD_START_Q) == 0 || errno != EPERM)
			_exit(3);
		if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLERR))
			_exit(4);
		memset(src, 'c', 4096);	/* the child's copy only */
		_exit(write(ready[1], "x", 1) == 1 ? 0 : 5);
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], &b, 1) != 1)
		return 31;
	close(ready[0]);
	status = wait_child(pid);
	if (status)
		return 32 + status;
	memset(dst, 0, 4096);
	if (sva_run(r, (struct accel_sim_sva_desc){ .op = ACCEL_SIM_OP_COPY, .src = (uintptr_t)src,
			.dst = (uintptr_t)dst, .src_len = 4096, .dst_len = 4096 }, &c) < 0 || c.status)
		return 38;
	for (int i = 0; i < 4096; i++)
		if (dst[i] != 'p')
			return 39;
	return 0;
}

/* The client: as nobody, given four unbound queues by the opener. */
static int sva_client(int sock)
{
	struct ring r[N_Q];
	unsigned char *src, *dst;
	uint64_t where[2];
	int fds[4], n = 0, ret;

	if (drop_to_nobody() < 0 || recv_msg(sock, &(char){ 0 }, 1, fds, &n) != 1 || n != N_Q)
		return 1;
	ret = client_bind(r, fds);
	if (ret)
		return ret;
	src = malloc(BUF_LEN);
	dst = malloc(BUF_LEN);
	if (!src || !dst)
		return 2;
	where[0] = (uintptr_t)src;
	where[1] = (uintptr_t)dst;
	if (send_msg(sock, where, sizeof(where), NULL, 0) < 0 || !hear(sock, 'c'))
		return 3;	/* the opener's canaries are in place */
	ret = client_ops(r, src, dst);
	if (!ret)
		ret = client_fork(&r[Q_COPY], src, dst);
	if (!ret && !say(sock, 'd'))
		ret = 4;
	return ret;
}

/* Canaries @c at [@addr, @addr + @len) in the opener: 0 or why not. */
static int canary_map(uint64_t addr, size_t len, unsigned char c)
{
	uintptr_t start = addr & ~4095ull, end = (addr + len + 4095) & ~4095ull;
	void *p = mmap((void *)start, end - start, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED || p != (void *)start)
		return -1;
	memset(p, c, end - start);
	return 0;
}

static bool canary_intact(uint64_t addr, size_t len, unsigned char c)
{
	const unsigned char *p = (const void *)(uintptr_t)(addr & ~4095ull);
	size_t n = ((addr + len + 4095) & ~4095ull) - (addr & ~4095ull);

	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return false;
	return true;
}

/* The opener, in a process of its own (its address space gets the canaries). */
static int sva_opener(int *client_status)
{
	int sp[2], fds[N_Q], ok;
	uint64_t where[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		close(sp[0]);
		_exit(sva_client(sp[1]));
	}
	close(sp[1]);
	for (int i = 0; i < N_Q; i++)
		if ((fds[i] = opener_open(SVA_NODE, q_ops[i])) < 0)
			return 2;
	if (send_msg(sp[0], "q", 1, fds, N_Q) < 0)
		return 3;
	if (recv_msg(sp[0], where, sizeof(where), NULL, NULL) != sizeof(where))
		return (*client_status = wait_child(pid)), 4;
	if (canary_map(where[0], BUF_LEN, CANARY_SRC) < 0 || canary_map(where[1], BUF_LEN, CANARY_DST) < 0)
		return 5;
	ok = say(sp[0], 'c') && hear(sp[0], 'd');
	*client_status = wait_child(pid);
	/* Whatever the client saw, nothing may have reached us. */
	if (!canary_intact(where[0], BUF_LEN, CANARY_SRC) || !canary_intact(where[1], BUF_LEN, CANARY_DST))
		return 7;
	return ok ? 0 : 6;
}

static void sva_work(void)
{
	int client = -1, opener, status;
	int pipefd[2];
	pid_t pid;

	if (pipe(pipefd) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		opener = sva_opener(&client);
		(void)!write(pipefd[1], &client, sizeof(client));
		_exit(opener);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &client, sizeof(client)) != sizeof(client))
		client = -1;
	close(pipefd[0]);
	status = wait_child(pid);
	check(status == 0 && client == 0,
	      "SVA, opener root, client nobody: before BIND_MM mmap and START_Q fail with EPERM; BIND_MM "
	      "after mmap or START_Q fails with EBUSY; copy, crc32c, gzip, gunzip from the client's heap "
	      "give the right bytes; unmapped addresses -EFAULT; a forked child gets EPERM/POLLERR and "
	      "reaches nothing; the opener's canaries at the same addresses untouched "
	      "(opener exit %d, client exit %d)", status, client);
}

/*
 * A client kept busy on @n queues of either device, until every one of
 * them is taken away (revoked, device unbound or removed).  Then, on each:
 * START_Q and BIND_MM fail, poll hangs up, and the completion ring, which
 * only the device wrote, reads zeroes (scratch, not the queue's memory).
 */
static int busy_client(int sock, bool sva)
{
	struct ring r[4];
	unsigned char *buf = malloc(8192);
	int fds[4], n = 0, left;
	bool gone[4] = { false };

	if (!buf || drop_to_nobody() < 0 || recv_msg(sock, &(char){ 0 }, 1, fds, &n) != 1 || n < 1)
		return 1;
	for (int i = 0; i < n; i++)
		if (ioctl(fds[i], UACCE_CMD_BIND_MM) < 0 || ring_map(&r[i], fds[i], sva) < 0 ||
		    ioctl(fds[i], UACCE_CMD_START_Q) < 0)
			return 2;
	memset(buf, 'b', 8192);
	left = n;
	for (unsigned round = 0; left; round++) {
		for (int i = 0; i < n; i++) {
			struct accel_sim_desc d = { .user_data = 77, .op = ACCEL_SIM_OP_COPY, .src_offset = ACCEL_SIM_DATA_OFFSET,
						    .dst_offset = ACCEL_SIM_DATA_OFFSET + 4096, .src_len = 4096,
						    .dst_len = 4096 };
			struct accel_sim_sva_desc s = { .user_data = 77, .op = ACCEL_SIM_OP_COPY, .src = (uintptr_t)buf,
							.dst = (uintptr_t)buf + 4096, .src_len = 4096,
							.dst_len = 4096 };
			struct accel_sim_cqe c;
			int ret;

			if (gone[i])
				continue;
			for (int k = 0; k < 8; k++)
				ring_submit(&r[i], sva ? (void *)&s : (void *)&d);
			for (int k = 0; k < 8 && !gone[i]; k++) {
				ret = ring_wait(&r[i], &c);
				if (ret == -ENOLINK)
					gone[i] = true;
				else if (ret < 0 || c.status)
					return 3;
			}
			left -= gone[i];
		}
		if (round == 0 && !say(sock, 'b'))
			return 4;
		if (round > 100000)
			return 5;
	}
	for (int i = 0; i < n; i++) {
		struct pollfd pfd = { .fd = fds[i] };
		const struct accel_sim_cqe *cq = (const void *)(r[i].dus + ACCEL_SIM_CQ_OFFSET);

		if (ioctl(fds[i], UACCE_CMD_START_Q) == 0 || errno != ENXIO)
			return 6;
		if (ioctl(fds[i], UACCE_CMD_BIND_MM) == 0 || errno != ENXIO)
			return 7;
		if (poll(&pfd, 1, 0) != 1 || (pfd.revents & (POLLERR | POLLHUP)) != (POLLERR | POLLHUP))
			return 8;
		if (r[i].regs->state != ACCEL_SIM_STATE_REVOKED)
			return 9;
		if (cq[0].user_data)
			return 10;	/* the device's first completion: the queue's own ring, still mapped */
	}
	return say(sock, 'g') ? 0 : 11;
}

static int instances(const char *dev)
{
	char path[128], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/uacce/%s/available_instances", dev);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return atoi(buf);
}

/* Start a busy client on @n queues of @node; the opener keeps its own fds in @fds. */
static pid_t busy_start(const char *node, bool sva, int n, int *fds, int *sock)
{
	int sp[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(sp[0]);
		_exit(busy_client(sp[1], sva));
	}
	close(sp[1]);
	*sock = sp[0];
	for (int i = 0; i < n; i++)
		fds[i] = opener_open(node, ACCEL_SIM_OP_COPY);
	for (int i = 0; i < n; i++)
		if (fds[i] < 0)
			return pid;	/* the client hears nothing and fails */
	if (send_msg(*sock, "q", 1, fds, n) < 0 || !hear(*sock, 'b'))
		return pid;
	return pid;
}

/* REVOKE by the opener on a busy queue the client holds: final, and the instance is back at once. */
static void revoke_busy(const char *dev, const char *node, bool sva)
{
	int fd = -1, sock = -1, before, after, status;
	bool client_saw;
	pid_t pid;

	pid = busy_start(node, sva, 1, &fd, &sock);
	before = instances(dev);
	check(fd >= 0 && ioctl(fd, UACCE_CMD_REVOKE) == 0, "%s: REVOKE from the opener's fd", dev);
	after = instances(dev);
	client_saw = hear(sock, 'g');
	status = wait_child(pid);
	check(client_saw && status == 0 && after == before + 1,
	      "%s: after REVOKE, with the fds still open, available_instances is back (%d -> %d); the "
	      "client sees START_Q and BIND_MM fail with ENXIO, poll EPOLLERR|EPOLLHUP, its regs REVOKED "
	      "and its old ring mapping no longer the queue's (client exit %d)", dev, before, after, status);
	check(ioctl(fd, UACCE_CMD_REVOKE) < 0 && errno == ENXIO && ioctl(fd, UACCE_CMD_START_Q) < 0 &&
	      errno == ENXIO && close(fd) == 0, "%s: a second REVOKE and START_Q fail with ENXIO, close works", dev);
	close(sock);
}

/* A client SIGKILLed with 1 MiB gzip descriptors in flight on an SVA queue. */
static int gzip_victim(int sock)
{
	enum { LEN = 1u << 20 };
	unsigned char *src = malloc(LEN), *dst = malloc(LEN + 4096);
	struct ring r;
	int fd, n = 0;

	if (!src || !dst || drop_to_nobody() < 0 || recv_msg(sock, &(char){ 0 }, 1, &fd, &n) != 1 || n != 1 ||
	    ioctl(fd, UACCE_CMD_BIND_MM) < 0 || ring_map(&r, fd, true) < 0 || ioctl(fd, UACCE_CMD_START_Q) < 0)
		return 1;
	fill_text(src, LEN);
	for (int i = 0; i < 8; i++)
		ring_submit(&r, &(struct accel_sim_sva_desc){ .op = ACCEL_SIM_OP_GZIP, .arg = 9,
				.flags = ACCEL_SIM_F_FINISH, .src = (uintptr_t)src, .dst = (uintptr_t)dst,
				.src_len = LEN, .dst_len = LEN + 4096 });
	say(sock, 'b');
	pause();	/* until the SIGKILL */
	return 2;
}

static void sigkill_mid_gzip(void)
{
	int sp[2], fd, before, during, after, status;
	pid_t pid;

	before = instances(SVA_DEV);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		close(sp[0]);
		_exit(gzip_victim(sp[1]));
	}
	close(sp[1]);
	fd = opener_open(SVA_NODE, ACCEL_SIM_OP_GZIP);
	if (fd < 0 || send_msg(sp[0], "q", 1, &fd, 1) < 0 || !hear(sp[0], 'b'))
		check(false, "the gzip client started (%s)", strerror(errno));
	kill(pid, SIGKILL);
	status = wait_child(pid);
	during = instances(SVA_DEV);	/* the opener still holds the queue */
	close(fd);
	/*
	 * The queue goes with the last reference to its file: the killed
	 * client's mappings hold one until its address space is torn down,
	 * which the engine's mmget (a copy in flight) may leave to a worker.
	 */
	for (int i = 0; i < 500 && (after = instances(SVA_DEV)) != before; i++)
		usleep(10000);
	check(status == 128 + SIGKILL && during == before - 1 && after == before,
	      "SVA: a client SIGKILLed with 8 MiB of gzip in flight; its address space gone, the opener's "
	      "close gives the instance back (%d, %d, %d)", before, during, after);
	close(sp[0]);
}

/* Busy SVA queues while the device goes (@how: unbind or rmmod); every instance comes back. */
static void busy_sva_removed(const char *how, const char *modules)
{
	int fds[4] = { -1, -1, -1, -1 }, sock = -1, status, ok;
	char cmd[256];
	bool client_saw;
	pid_t pid;

	pid = busy_start(SVA_NODE, true, 4, fds, &sock);
	if (strcmp(how, "unbind") == 0)
		ok = write_file("/sys/bus/platform/drivers/accel_sim/unbind", "accel_sim.2");
	else
		ok = system("rmmod accel_sim") == 0;
	client_saw = hear(sock, 'g');
	status = wait_child(pid);
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	close(sock);
	check(ok && client_saw && status == 0,
	      "%s with 4 busy SVA queues: the client sees each taken away, none crashed (exit %d)", how, status);
	if (strcmp(how, "unbind") == 0) {
		ok = write_file("/sys/bus/platform/drivers/accel_sim/bind", "accel_sim.2");
	} else {
		snprintf(cmd, sizeof(cmd), "insmod %s/accel_sim.ko devices=2 sva_devices=1 queues=32", modules);
		ok = system(cmd) == 0;
	}
	check(ok && wait_for_devices(3) && instances(SVA_DEV) == 32,
	      "after %s: the SVA device is back with every instance (%d)", how, instances(SVA_DEV));
}

void sva_suite(const char *modules)
{
	check(attr_is(SVA_DEV, "api", ACCEL_SIM_SVA_API) && attr_is(SVA_DEV, UACCE_FEATURES_ATTR,
	      UACCE_FEATURE_BIND_MM " " UACCE_FEATURE_REVOKE) && attr_is(SVA_DEV, "region_dus_size", "65536") &&
	      attr_is(PLAIN_DEV, UACCE_FEATURES_ATTR, UACCE_FEATURE_BIND_MM " " UACCE_FEATURE_REVOKE),
	      "SVA device: api %s, features \"bind_mm revoke\", a DUS region of rings only", ACCEL_SIM_SVA_API);
	sva_work();
	revoke_busy(SVA_DEV, SVA_NODE, true);
	revoke_busy(PLAIN_DEV, PLAIN_NODE, false);
	sigkill_mid_gzip();
	busy_sva_removed("unbind", modules);
	busy_sva_removed("rmmod", modules);
}

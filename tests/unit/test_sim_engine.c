// SPDX-License-Identifier: MIT
/*
 * The engine threads, driven through the shared rings exactly as a client
 * does (raw memory and futexes, no libaccel): ordering, sleeping and
 * waking, hostile ring indices, revocation and round-robin fairness, in
 * descriptors and in bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <limits.h>
#include <linux/futex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim_engine.h"
#include "sim_ops.h"
#include "util.h"

#define MMIO 4096u
#define TIMEOUT_USEC (10 * 1000000ull)

struct client_queue {
	struct sim_queue *sq;
	int fd;
	void *map;
	struct accel_sim_regs *regs;
	unsigned char *dus;
	uint32_t tail, head;
};

/* A queue whose event pipe's write end is @event_fd (-1: none). */
static void open_queue_event(struct sim_engine *e, unsigned op, struct client_queue *c, int event_fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = memfd_create("test", MFD_CLOEXEC);
	assert_true(c->fd >= 0);
	assert_int_equal(ftruncate(c->fd, MMIO + ACCEL_SIM_DUS_SIZE), 0);
	assert_int_equal(sim_engine_add_queue(e, c->fd, event_fd, MMIO, ACCEL_SIM_DUS_SIZE, op, &c->sq), 0);
	c->map = mmap(NULL, MMIO + ACCEL_SIM_DUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	assert_true(c->map != MAP_FAILED);
	c->regs = c->map;
	c->dus = (unsigned char *)c->map + MMIO;
	assert_int_equal(c->regs->magic, ACCEL_SIM_MAGIC);
	assert_int_equal(c->regs->state, ACCEL_SIM_STATE_ACTIVE);
	assert_int_equal(c->regs->algorithm, op);
}

static void open_queue(struct sim_engine *e, unsigned op, struct client_queue *c)
{
	open_queue_event(e, op, c, -1);
}

static void close_queue(struct sim_engine *e, struct client_queue *c)
{
	if (c->sq)
		sim_engine_remove_queue(e, c->sq);
	munmap(c->map, MMIO + ACCEL_SIM_DUS_SIZE);
	close(c->fd);
}

static void submit_desc(struct client_queue *c, const struct accel_sim_desc *d)
{
	struct accel_sim_desc *sq = (struct accel_sim_desc *)(c->dus + ACCEL_SIM_SQ_OFFSET);

	sq[c->tail & (ACCEL_SIM_RING_ENTRIES - 1)] = *d;
	c->tail++;
	__atomic_store_n(&c->regs->sq_tail, c->tail, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&c->regs->dev_flags, __ATOMIC_RELAXED) & ACCEL_SIM_DEV_NEED_WAKEUP)
		syscall(SYS_futex, &c->regs->sq_tail, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void submit(struct client_queue *c, unsigned op, uint64_t user_data, uint32_t src_off,
		   uint32_t len, uint32_t dst_off, uint32_t dst_len)
{
	submit_desc(c, &(struct accel_sim_desc){
		.user_data = user_data, .op = op, .src_offset = src_off, .src_len = len,
		.dst_offset = dst_off, .dst_len = dst_len,
	});
}

static bool wait_for(uint32_t *word, uint32_t want)
{
	uint64_t start = now_usec(CLOCK_MONOTONIC);

	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != want) {
		if (now_usec(CLOCK_MONOTONIC) - start > TIMEOUT_USEC)
			return false;
		usleep(100);
	}
	return true;
}

/* The system call thread @tid is in, or -1 (running, or gone). */
static long thread_syscall(const char *tid)
{
	char path[300], text[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%s/syscall", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(text, sizeof(text), f) || text[0] < '0' || text[0] > '9')
		text[0] = '\0';
	fclose(f);
	return text[0] ? strtol(text, NULL, 10) : -1;
}

/*
 * Until every engine thread (every thread but this one) is blocked in
 * futex_waitv: asleep, having found nothing it could run.  A thread that
 * blocks there after it served a later submission looked at every queue
 * of its own after that submission: what it left is left for good.
 */
static bool engine_asleep(void)
{
	uint64_t start = now_usec(CLOCK_MONOTONIC);
	char self[16];

	snprintf(self, sizeof(self), "%d", (int)gettid());
	while (now_usec(CLOCK_MONOTONIC) - start < TIMEOUT_USEC) {
		DIR *d = opendir("/proc/self/task");
		struct dirent *de;
		int others = 0, asleep = 0;

		if (!d)
			return false;
		while ((de = readdir(d)))
			if (de->d_name[0] != '.' && strcmp(de->d_name, self) != 0) {
				others++;
				asleep += thread_syscall(de->d_name) == SYS_futex_waitv;
			}
		closedir(d);
		if (others > 0 && asleep == others)
			return true;
		usleep(100);
	}
	return false;
}

static struct accel_sim_cqe *cqe(struct client_queue *c, uint32_t i)
{
	return (struct accel_sim_cqe *)(c->dus + ACCEL_SIM_CQ_OFFSET) + (i & (ACCEL_SIM_RING_ENTRIES - 1));
}

static void reap(struct client_queue *c, uint32_t upto)
{
	c->head = upto;
	__atomic_store_n(&c->regs->cq_head, c->head, __ATOMIC_RELEASE);
}

static void completions_come_back_in_order(void **state)
{
	struct sim_engine *e;
	struct client_queue c;

	assert_int_equal(sim_engine_create(2, &e), 0);
	open_queue(e, ACCEL_SIM_OP_COPY, &c);
	for (uint32_t round = 0; round < 4; round++) {
		for (uint32_t i = 0; i < 200; i++)
			submit(&c, ACCEL_SIM_OP_COPY, round * 1000 + i, ACCEL_SIM_DATA_OFFSET + i, 8,
			       ACCEL_SIM_DATA_OFFSET + 4096 + i * 8, 8);
		assert_true(wait_for(&c.regs->cq_tail, c.tail));
		for (uint32_t i = 0; i < 200; i++) {
			assert_int_equal(cqe(&c, c.head + i)->user_data, round * 1000 + i);
			assert_int_equal(cqe(&c, c.head + i)->status, 0);
		}
		reap(&c, c.tail);
	}
	assert_int_equal(c.regs->sq_head, 800);
	close_queue(e, &c);
	sim_engine_destroy(e);
}

static void idle_engine_sleeps_and_a_ring_wakes_it(void **state)
{
	struct sim_engine *e;
	struct client_queue c;

	assert_int_equal(sim_engine_create(1, &e), 0);
	open_queue(e, ACCEL_SIM_OP_CRC32C, &c);
	assert_true(wait_for(&c.regs->dev_flags, ACCEL_SIM_DEV_NEED_WAKEUP));
	assert_true(engine_asleep());
	submit(&c, ACCEL_SIM_OP_CRC32C, 7, ACCEL_SIM_DATA_OFFSET, 0, ACCEL_SIM_DATA_OFFSET, 0);
	assert_true(wait_for(&c.regs->cq_tail, 1));
	assert_int_equal(cqe(&c, 0)->user_data, 7);
	close_queue(e, &c);
	sim_engine_destroy(e);
}

static void garbage_sq_tail_breaks_only_that_queue(void **state)
{
	struct sim_engine *e;
	struct client_queue bad, good;

	assert_int_equal(sim_engine_create(1, &e), 0);
	open_queue(e, ACCEL_SIM_OP_COPY, &bad);
	open_queue(e, ACCEL_SIM_OP_COPY, &good);
	bad.tail = 100000;	/* far more than the ring holds */
	submit(&bad, ACCEL_SIM_OP_COPY, 1, ACCEL_SIM_DATA_OFFSET, 1, ACCEL_SIM_DATA_OFFSET + 1, 1);
	assert_true(wait_for(&bad.regs->state, ACCEL_SIM_STATE_BROKEN));
	submit(&good, ACCEL_SIM_OP_COPY, 2, ACCEL_SIM_DATA_OFFSET, 1, ACCEL_SIM_DATA_OFFSET + 1, 1);
	assert_true(wait_for(&good.regs->cq_tail, 1));
	assert_int_equal(good.regs->state, ACCEL_SIM_STATE_ACTIVE);
	close_queue(e, &bad);
	close_queue(e, &good);
	sim_engine_destroy(e);
}

static void garbage_cq_head_breaks_the_queue(void **state)
{
	struct sim_engine *e;
	struct client_queue c;

	assert_int_equal(sim_engine_create(1, &e), 0);
	open_queue(e, ACCEL_SIM_OP_COPY, &c);
	reap(&c, 12345);	/* claims completions that were never posted */
	submit(&c, ACCEL_SIM_OP_COPY, 1, ACCEL_SIM_DATA_OFFSET, 1, ACCEL_SIM_DATA_OFFSET + 1, 1);
	assert_true(wait_for(&c.regs->state, ACCEL_SIM_STATE_BROKEN));
	close_queue(e, &c);
	sim_engine_destroy(e);
}

static void bad_descriptor_fails_with_a_status_and_the_queue_goes_on(void **state)
{
	struct sim_engine *e;
	struct client_queue c;

	assert_int_equal(sim_engine_create(1, &e), 0);
	open_queue(e, ACCEL_SIM_OP_COPY, &c);
	submit(&c, ACCEL_SIM_OP_COPY, 1, 0, 4096, ACCEL_SIM_DATA_OFFSET, 4096);	/* reads the rings */
	submit(&c, ACCEL_SIM_OP_GZIP, 2, ACCEL_SIM_DATA_OFFSET, 1, ACCEL_SIM_DATA_OFFSET + 1, 1);
	submit(&c, ACCEL_SIM_OP_COPY, 3, ACCEL_SIM_DATA_OFFSET, 1, ACCEL_SIM_DATA_OFFSET + 1, 1);
	assert_true(wait_for(&c.regs->cq_tail, 3));
	assert_int_equal(cqe(&c, 0)->status, -EFAULT);
	assert_int_equal(cqe(&c, 1)->status, -EOPNOTSUPP);
	assert_int_equal(cqe(&c, 2)->status, 0);
	assert_int_equal(c.regs->state, ACCEL_SIM_STATE_ACTIVE);
	close_queue(e, &c);
	sim_engine_destroy(e);
}

static void full_cq_stalls_until_the_client_reaps(void **state)
{
	struct sim_engine *e;
	struct client_queue c, other;
	uint32_t n = ACCEL_SIM_RING_ENTRIES;

	assert_int_equal(sim_engine_create(1, &e), 0);
	open_queue(e, ACCEL_SIM_OP_COPY, &c);
	open_queue(e, ACCEL_SIM_OP_COPY, &other);
	for (uint32_t i = 0; i < n; i++)
		submit(&c, ACCEL_SIM_OP_COPY, i, ACCEL_SIM_DATA_OFFSET, 1, ACCEL_SIM_DATA_OFFSET + 1, 1);
	assert_true(wait_for(&c.regs->cq_tail, n));
	/* The ring is full of completions: one more waits for room. */
	submit(&c, ACCEL_SIM_OP_COPY, n, ACCEL_SIM_DATA_OFFSET, 1, ACCEL_SIM_DATA_OFFSET + 1, 1);
	/* The thread served a later submission elsewhere, then found nothing to run. */
	submit(&other, ACCEL_SIM_OP_COPY, 1, ACCEL_SIM_DATA_OFFSET, 1, ACCEL_SIM_DATA_OFFSET + 1, 1);
	assert_true(wait_for(&other.regs->cq_tail, 1));
	assert_true(engine_asleep());
	assert_int_equal(c.regs->cq_tail, n);
	reap(&c, n);
	/* A client kicks a sleeping engine after reaping (driver_sim.c does). */
	syscall(SYS_futex, &c.regs->sq_tail, FUTEX_WAKE, 1, NULL, NULL, 0);
	assert_true(wait_for(&c.regs->cq_tail, n + 1));
	assert_int_equal(cqe(&c, n)->user_data, n);
	close_queue(e, &c);
	close_queue(e, &other);
	sim_engine_destroy(e);
}

static void removed_queue_reads_revoked(void **state)
{
	struct sim_engine *e;
	struct client_queue c, other;

	assert_int_equal(sim_engine_create(1, &e), 0);
	open_queue(e, ACCEL_SIM_OP_COPY, &c);
	open_queue(e, ACCEL_SIM_OP_COPY, &other);
	sim_engine_remove_queue(e, c.sq);
	c.sq = NULL;
	assert_int_equal(c.regs->state, ACCEL_SIM_STATE_REVOKED);
	submit(&c, ACCEL_SIM_OP_COPY, 1, ACCEL_SIM_DATA_OFFSET, 1, ACCEL_SIM_DATA_OFFSET + 1, 1);
	/* The thread served a later submission, then found nothing to run. */
	submit(&other, ACCEL_SIM_OP_COPY, 2, ACCEL_SIM_DATA_OFFSET, 1, ACCEL_SIM_DATA_OFFSET + 1, 1);
	assert_true(wait_for(&other.regs->cq_tail, 1));
	assert_true(engine_asleep());
	assert_int_equal(c.regs->cq_tail, 0);	/* nobody serves it any more */
	close_queue(e, &c);
	close_queue(e, &other);
	sim_engine_destroy(e);
}

/*
 * One thread, two queues: a queue with a long line of slow operations does
 * not starve a queue with one quick operation (rule 9).
 */
static void a_busy_queue_does_not_starve_another(void **state)
{
	const uint32_t slow_ops = 64, len = 64 * 1024;
	struct sim_engine *e;
	struct client_queue slow, quick;
	uint32_t x = 99, done_when_quick_finished;

	assert_int_equal(sim_engine_create(1, &e), 0);
	open_queue(e, ACCEL_SIM_OP_GZIP, &slow);
	open_queue(e, ACCEL_SIM_OP_COPY, &quick);
	for (uint32_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		slow.dus[ACCEL_SIM_DATA_OFFSET + i] = (unsigned char)(x >> 16);
	}
	for (uint32_t i = 0; i < slow_ops; i++)
		submit(&slow, ACCEL_SIM_OP_GZIP, i, ACCEL_SIM_DATA_OFFSET, len,
		       ACCEL_SIM_DATA_OFFSET + ACCEL_SIM_DATA_SIZE / 2, ACCEL_SIM_DATA_SIZE / 2);
	submit(&quick, ACCEL_SIM_OP_COPY, 1, ACCEL_SIM_DATA_OFFSET, 1, ACCEL_SIM_DATA_OFFSET + 1, 1);
	assert_true(wait_for(&quick.regs->cq_tail, 1));
	done_when_quick_finished = __atomic_load_n(&slow.regs->cq_tail, __ATOMIC_ACQUIRE);
	assert_true(done_when_quick_finished <= 2 * SIM_ENGINE_BUDGET);
	assert_true(wait_for(&slow.regs->cq_tail, slow_ops));
	close_queue(e, &slow);
	close_queue(e, &quick);
	sim_engine_destroy(e);
}

/*
 * One thread, two queues: one descriptor of level-9 gzip over 1 MiB of
 * two-letter noise is seconds of deflate; a queue doing 4 KiB crc32c one
 * after another sees each complete while that gzip is still running,
 * because a turn's work is bounded in bytes, not descriptors (issue 12).
 */
static void one_huge_operation_does_not_starve_another_queue(void **state)
{
	const uint32_t quick_ops = 32, len = ACCEL_SIM_DATA_SIZE / 2;
	struct sim_engine *e;
	struct client_queue hog, quick;
	uint32_t x = 7;

	assert_int_equal(sim_engine_create(1, &e), 0);
	open_queue(e, ACCEL_SIM_OP_GZIP, &hog);
	open_queue(e, ACCEL_SIM_OP_CRC32C, &quick);
	for (uint32_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		hog.dus[ACCEL_SIM_DATA_OFFSET + i] = (unsigned char)('a' + ((x >> 16) & 1));
	}
	submit_desc(&hog, &(struct accel_sim_desc){
		.user_data = 1, .arg = 9, .op = ACCEL_SIM_OP_GZIP, .flags = ACCEL_SIM_F_FINISH,
		.src_offset = ACCEL_SIM_DATA_OFFSET, .src_len = len,
		.dst_offset = ACCEL_SIM_DATA_OFFSET + len, .dst_len = len });
	for (uint32_t i = 1; i <= quick_ops; i++) {
		submit(&quick, ACCEL_SIM_OP_CRC32C, i, ACCEL_SIM_DATA_OFFSET, 4096, ACCEL_SIM_DATA_OFFSET, 0);
		assert_true(wait_for(&quick.regs->cq_tail, i));
		assert_int_equal(cqe(&quick, i - 1)->status, 0);
		/* Checked by events: the hog's one operation has not completed yet. */
		assert_int_equal(__atomic_load_n(&hog.regs->cq_tail, __ATOMIC_ACQUIRE), 0);
	}
	assert_int_equal(hog.regs->sq_head, 0);
	close_queue(e, &hog);	/* mid-operation: removal does not wait for it */
	close_queue(e, &quick);
	sim_engine_destroy(e);
}

/*
 * futex_waitv takes 128 words: a queue beyond the 127th of a thread is
 * served all the same.
 */
static void queues_beyond_one_futex_waitv_are_served(void **state)
{
	enum { N = 150 };
	struct sim_engine *e;
	struct client_queue *c = calloc(N, sizeof(*c));

	assert_int_equal(sim_engine_create(1, &e), 0);
	for (int i = 0; i < N; i++)
		open_queue(e, ACCEL_SIM_OP_COPY, &c[i]);
	/* The thread going to sleep says so in every queue, the last one too. */
	assert_true(wait_for(&c[N - 1].regs->dev_flags, ACCEL_SIM_DEV_NEED_WAKEUP));
	submit(&c[N - 1], ACCEL_SIM_OP_COPY, 9, ACCEL_SIM_DATA_OFFSET, 1, ACCEL_SIM_DATA_OFFSET + 1, 1);
	assert_true(wait_for(&c[N - 1].regs->cq_tail, 1));
	submit(&c[0], ACCEL_SIM_OP_COPY, 8, ACCEL_SIM_DATA_OFFSET, 1, ACCEL_SIM_DATA_OFFSET + 1, 1);
	assert_true(wait_for(&c[0].regs->cq_tail, 1));
	for (int i = 0; i < N; i++)
		close_queue(e, &c[i]);
	sim_engine_destroy(e);
	free(c);
}

/*
 * Idle queues cost nothing at any count (issue 12): four times what one
 * futex_waitv watches, on one configured thread.  Once all are asleep, no
 * thread wakes while nothing is rung (checked over a quiet spell, as
 * full_cq_stalls_until_the_client_reaps checks a stall; the engine that
 * polled beyond 127 queues woke every 1 ms), and over a fixed number of
 * rings, each waited for until its thread sleeps again, a thread goes to
 * sleep once per ring.
 */
static void idle_queues_beyond_one_futex_waitv_sleep_until_rung(void **state)
{
	enum { N = 4 * SIM_ENGINE_THREAD_QUEUES + 2, ROUNDS = 64 };
	struct sim_engine *e;
	struct client_queue *c = calloc(N, sizeof(*c));
	struct sim_engine_stats before, after;

	assert_int_equal(sim_engine_create(1, &e), 0);
	for (int i = 0; i < N; i++)
		open_queue(e, ACCEL_SIM_OP_COPY, &c[i]);
	for (int i = 0; i < N; i++)
		assert_true(wait_for(&c[i].regs->dev_flags, ACCEL_SIM_DEV_NEED_WAKEUP));
	/* A thread still settling from the last add may sleep once more. */
	sim_engine_get_stats(e, &before);
	usleep(20000);
	sim_engine_get_stats(e, &after);
	assert_true(after.sleeps - before.sleeps <= after.threads);
	assert_int_equal(after.threads, (N + SIM_ENGINE_THREAD_QUEUES - 1) / SIM_ENGINE_THREAD_QUEUES);

	before = after;
	for (uint32_t r = 0; r < ROUNDS; r++) {
		struct client_queue *q = &c[(r * 97) % N];
		submit(q, ACCEL_SIM_OP_COPY, r, ACCEL_SIM_DATA_OFFSET, 1, ACCEL_SIM_DATA_OFFSET + 1, 1);
		assert_true(wait_for(&q->regs->cq_tail, q->tail));
		reap(q, q->tail);
		/* Cleared when its thread woke, set again when it sleeps. */
		assert_true(wait_for(&q->regs->dev_flags, ACCEL_SIM_DEV_NEED_WAKEUP));
	}
	sim_engine_get_stats(e, &after);
	assert_true(after.sleeps - before.sleeps <= ROUNDS + after.threads);
	for (int i = 0; i < N; i++)
		close_queue(e, &c[i]);
	sim_engine_destroy(e);
	free(c);
}

/* Bytes waiting in the event pipe's read end @fd (drained), or -1 when it hung up. */
static int event_bytes(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[64];
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	return n == 0 ? -1 : n < 0 ? 0 : (int)n;
}

/*
 * The event pipe is written only for a client that set CQ_WAIT (a busy
 * queue costs the engine no system call), and on revocation; the engine
 * writes through its own copy of the write end and closes it when it lets
 * the queue go (the reader then sees the end of the pipe).
 */
static void event_pipe_is_signalled_only_when_asked(void **state)
{
	struct sim_engine *e;
	struct client_queue c;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(sim_engine_create(1, &e), 0);
	open_queue_event(e, ACCEL_SIM_OP_COPY, &c, p[1]);
	close(p[1]);	/* the engine keeps its own */
	submit(&c, ACCEL_SIM_OP_COPY, 1, ACCEL_SIM_DATA_OFFSET, 8, ACCEL_SIM_DATA_OFFSET + 64, 8);
	assert_true(wait_for(&c.regs->cq_tail, 1));
	assert_true(engine_asleep());
	assert_int_equal(event_bytes(p[0], 0), 0);	/* nobody asked */
	reap(&c, 1);
	__atomic_fetch_or(&c.regs->client_flags, ACCEL_SIM_CLIENT_CQ_WAIT, __ATOMIC_SEQ_CST);
	submit(&c, ACCEL_SIM_OP_COPY, 2, ACCEL_SIM_DATA_OFFSET, 8, ACCEL_SIM_DATA_OFFSET + 64, 8);
	assert_true(event_bytes(p[0], 10000) > 0);
	assert_int_equal(c.regs->cq_tail, 2);	/* signalled after it was posted */
	__atomic_fetch_and(&c.regs->client_flags, ~ACCEL_SIM_CLIENT_CQ_WAIT, __ATOMIC_SEQ_CST);
	assert_true(engine_asleep());
	(void)event_bytes(p[0], 0);
	sim_engine_remove_queue(e, c.sq);
	c.sq = NULL;
	assert_true(event_bytes(p[0], 10000) > 0);	/* revoked: look */
	assert_int_equal(event_bytes(p[0], 10000), -1);	/* and the engine's end is closed */
	close_queue(e, &c);
	close(p[0]);
	sim_engine_destroy(e);
}

/*
 * A client with its own event arm (ACCEL_SIM_CLIENT_EVENT_ARM): accel_wait()'s
 * CQ_WAIT alone no longer writes the pipe, the arm does, and once per arm
 * however many turns post completions while it stays raised.
 */
static void an_event_arm_is_answered_once_and_apart_from_cq_wait(void **state)
{
	struct sim_engine *e;
	struct client_queue c;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(sim_engine_create(1, &e), 0);
	open_queue_event(e, ACCEL_SIM_OP_COPY, &c, p[1]);
	close(p[1]);
	assert_true(c.regs->features & ACCEL_SIM_FEAT_EVENT_ARM);
	__atomic_fetch_or(&c.regs->client_flags, ACCEL_SIM_CLIENT_EVENT_ARM | ACCEL_SIM_CLIENT_CQ_WAIT,
			  __ATOMIC_SEQ_CST);
	submit(&c, ACCEL_SIM_OP_COPY, 1, ACCEL_SIM_DATA_OFFSET, 8, ACCEL_SIM_DATA_OFFSET + 64, 8);
	assert_true(wait_for(&c.regs->cq_tail, 1));
	assert_true(engine_asleep());
	assert_int_equal(event_bytes(p[0], 0), 0);	/* CQ_WAIT is accel_wait()'s: the futex only */
	__atomic_fetch_and(&c.regs->client_flags, ~ACCEL_SIM_CLIENT_CQ_WAIT, __ATOMIC_SEQ_CST);
	reap(&c, 1);

	__atomic_store_n(&c.regs->event_arm, ACCEL_SIM_EVENT_ARM_STEP | ACCEL_SIM_EVENT_ARMED, __ATOMIC_SEQ_CST);
	for (uint32_t i = 2; i <= 5; i++) {	/* four turns that post, one at a time */
		submit(&c, ACCEL_SIM_OP_COPY, i, ACCEL_SIM_DATA_OFFSET, 8, ACCEL_SIM_DATA_OFFSET + 64, 8);
		assert_true(wait_for(&c.regs->cq_tail, i));
		assert_true(engine_asleep());
	}
	reap(&c, 5);
	assert_int_equal(event_bytes(p[0], 0), 1);	/* one arm, one byte */
	__atomic_store_n(&c.regs->event_arm, 2 * ACCEL_SIM_EVENT_ARM_STEP | ACCEL_SIM_EVENT_ARMED,
			 __ATOMIC_SEQ_CST);
	submit(&c, ACCEL_SIM_OP_COPY, 6, ACCEL_SIM_DATA_OFFSET, 8, ACCEL_SIM_DATA_OFFSET + 64, 8);
	assert_int_equal(event_bytes(p[0], 10000), 1);	/* the next arm, its byte */
	assert_true(wait_for(&c.regs->cq_tail, 6));
	reap(&c, 6);
	__atomic_store_n(&c.regs->event_arm, 2 * ACCEL_SIM_EVENT_ARM_STEP, __ATOMIC_SEQ_CST);
	submit(&c, ACCEL_SIM_OP_COPY, 7, ACCEL_SIM_DATA_OFFSET, 8, ACCEL_SIM_DATA_OFFSET + 64, 8);
	assert_true(wait_for(&c.regs->cq_tail, 7));
	assert_true(engine_asleep());
	assert_int_equal(event_bytes(p[0], 0), 0);	/* lowered: nothing */
	close_queue(e, &c);
	close(p[0]);
	sim_engine_destroy(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(completions_come_back_in_order),
		cmocka_unit_test(idle_engine_sleeps_and_a_ring_wakes_it),
		cmocka_unit_test(garbage_sq_tail_breaks_only_that_queue),
		cmocka_unit_test(garbage_cq_head_breaks_the_queue),
		cmocka_unit_test(bad_descriptor_fails_with_a_status_and_the_queue_goes_on),
		cmocka_unit_test(full_cq_stalls_until_the_client_reaps),
		cmocka_unit_test(removed_queue_reads_revoked),
		cmocka_unit_test(a_busy_queue_does_not_starve_another),
		cmocka_unit_test(one_huge_operation_does_not_starve_another_queue),
		cmocka_unit_test(queues_beyond_one_futex_waitv_are_served),
		cmocka_unit_test(idle_queues_beyond_one_futex_waitv_sleep_until_rung),
		cmocka_unit_test(event_pipe_is_signalled_only_when_asked),
		cmocka_unit_test(an_event_arm_is_answered_once_and_apart_from_cq_wait),
	};

	return cmocka_run_group_tests_name("sim_engine", tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * The software engine's ring and descriptor handling (rule 8): a queue
 * whose regs, ring indices, descriptors and data all come from the input
 * is handed to a real engine thread, which serves it until it has nothing
 * left to do; then what the engine did is checked against the ABI
 * (include/accel/sim.h): it wrote only its own regs lines, the completion
 * ring and the data area; one completion per consumed descriptor, in
 * order, echoing user_data; never more produced than the destination
 * holds.  Out-of-bounds accesses beyond the mapping are caught as SIGSEGV,
 * inside it by the checks.
 *
 * The queue is taken over the way a restarted broker adopts one from the
 * fd store (sim_engine_adopt_queue): the engine then trusts nothing it did
 * not write itself, which is the point.
 *
 * Input: header (algorithm, flags, descriptor count, base index, four raw
 * indices), then the descriptors (48 bytes each), then the start of the
 * data area.  Flags: FLAG_RAW_INDICES takes sq_head, cq_tail, cq_head and
 * sq_tail as given instead of a consistent ring at the base index;
 * FLAG_BIG keeps in-range lengths over 64 KiB (else they are cut, to keep
 * runs short); FLAG_REVOKE ends with a revocation instead of a hand-over;
 * FLAG_EVENT_ARM declares an event loop that arms with regs.event_arm
 * (armed with FLAG_ARMED) while the harness sleeps on CQ_WAIT as well:
 * the engine then writes the event pipe at most once for that arm, and
 * never for CQ_WAIT.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <linux/futex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <accel/sim.h>

#include "fuzz.h"
#include "log.h"
#include "sim_engine.h"
#include "util.h"

#define FLAG_RAW_INDICES	(1u << 0)
#define FLAG_BIG		(1u << 1)
#define FLAG_REVOKE		(1u << 2)
#define FLAG_EVENT_ARM		(1u << 3)
#define FLAG_ARMED		(1u << 4)

#define SMALL_LEN		65536u
#define PATTERN			0xa5
#define STALL_SEC		20	/* a queue not done by then is a hang */
#define CQ_END			(ACCEL_SIM_CQ_OFFSET + ACCEL_SIM_RING_ENTRIES * sizeof(struct accel_sim_cqe))

static struct sim_engine *engine;
static int memfd = -1;
static size_t mmio, map_size;
static unsigned char *map;	/* the client's view */
static struct accel_sim_regs *regs;
static unsigned char *dus;
static struct accel_sim_desc sq_copy[ACCEL_SIM_RING_ENTRIES];
static size_t data_written;	/* bytes of input at the start of the data area */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	(void)argc;
	(void)argv;
	fuzz_hide_stderr();
	/* As in the broker: a write into a pipe whose reader left is EPIPE, not death. */
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_DEBUG);
	mmio = page > ACCEL_SIM_MMIO_SIZE ? page : ACCEL_SIM_MMIO_SIZE;
	map_size = mmio + ACCEL_SIM_DUS_SIZE;
	memfd = memfd_create("fuzz-sim", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)map_size) < 0 ||
	    sim_engine_create(1, &engine) < 0)
		abort();
	map = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (map == MAP_FAILED)
		abort();
	regs = (struct accel_sim_regs *)map;
	dus = map + mmio;
	return 0;
}

static uint32_t cut(uint32_t len, bool big)
{
	return !big && len > SMALL_LEN && len <= ACCEL_SIM_DATA_SIZE ? len % SMALL_LEN : len;
}

/* Lay out the queue as the input says; returns the descriptor count. */
static unsigned setup_queue(struct fuzz_input *in, unsigned alg, unsigned flags)
{
	unsigned n = fuzz_u8(in);
	uint32_t base = fuzz_u32(in), raw[4];
	uint32_t sq_head = base, cq_tail = base, cq_head = base, sq_tail = base + n;

	for (int i = 0; i < 4; i++)
		raw[i] = fuzz_u32(in);
	if (flags & FLAG_RAW_INDICES) {
		sq_head = raw[0];
		cq_tail = raw[1];
		cq_head = raw[2];
		sq_tail = raw[3];
	}
	memset(map, PATTERN, mmio + ACCEL_SIM_DATA_OFFSET);
	*regs = (struct accel_sim_regs){
		.magic = ACCEL_SIM_MAGIC, .version = ACCEL_SIM_VERSION,
		.wake = ACCEL_SIM_WAKE_FUTEX, .algorithm = alg,
		/* Geometry a client might fake: the engine must go by its own. */
		.sq_entries = raw[0] | 1, .cq_entries = raw[1], .sq_offset = raw[2],
		.cq_offset = raw[3], .data_offset = base, .data_size = ~base, .dus_size = 1,
		.state = ACCEL_SIM_STATE_ACTIVE,
		.sq_head = sq_head, .cq_tail = cq_tail, .sq_tail = sq_tail, .cq_head = cq_head,
		.event_arm = flags & FLAG_ARMED ? base | ACCEL_SIM_EVENT_ARMED : base & ~ACCEL_SIM_EVENT_ARMED,
	};
	memset(sq_copy, PATTERN, sizeof(sq_copy));
	for (unsigned i = 0; i < n; i++) {
		struct accel_sim_desc d;
		fuzz_take(in, &d, sizeof(d));
		d.src_len = cut(d.src_len, flags & FLAG_BIG);
		d.dst_len = cut(d.dst_len, flags & FLAG_BIG);
		sq_copy[(sq_head + i) % ACCEL_SIM_RING_ENTRIES] = d;
	}
	memcpy(dus + ACCEL_SIM_SQ_OFFSET, sq_copy, sizeof(sq_copy));
	data_written = fuzz_take(in, dus + ACCEL_SIM_DATA_OFFSET,
				 in->size < ACCEL_SIM_DATA_SIZE ? in->size : ACCEL_SIM_DATA_SIZE);
	return n;
}

/*
 * Zero what the last run wrote in the data area (the input, and every
 * destination in range), rather than all 2 MiB each time.
 */
static void clear_data(void)
{
	memset(dus + ACCEL_SIM_DATA_OFFSET, 0, data_written);
	for (unsigned i = 0; i < ACCEL_SIM_RING_ENTRIES; i++) {
		uint64_t start = sq_copy[i].dst_offset, end = start + sq_copy[i].dst_len;
		if (start >= ACCEL_SIM_DATA_OFFSET && end <= ACCEL_SIM_DUS_SIZE)
			memset(dus + start, 0, end - start);
	}
}

/* Nothing left the engine could do: what a client waits for. */
static bool engine_done(void)
{
	uint32_t state = __atomic_load_n(&regs->state, __ATOMIC_ACQUIRE);
	uint32_t sq_head = __atomic_load_n(&regs->sq_head, __ATOMIC_ACQUIRE);
	uint32_t cq_tail = __atomic_load_n(&regs->cq_tail, __ATOMIC_ACQUIRE);

	return state != ACCEL_SIM_STATE_ACTIVE || sq_head == regs->sq_tail ||
	       cq_tail - regs->cq_head >= ACCEL_SIM_RING_ENTRIES;
}

/* Sleep on cq_tail as libaccel's driver does; a bounded wait, then a hang. */
static void wait_engine(unsigned flags)
{
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + STALL_SEC * 1000000ull;
	uint32_t client = ACCEL_SIM_CLIENT_CQ_WAIT | (flags & FLAG_EVENT_ARM ? ACCEL_SIM_CLIENT_EVENT_ARM : 0);

	__atomic_store_n(&regs->client_flags, client, __ATOMIC_RELAXED);
	while (!engine_done()) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		uint32_t seen = __atomic_load_n(&regs->cq_tail, __ATOMIC_ACQUIRE);

		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (engine_done())
			break;
		syscall(SYS_futex, &regs->cq_tail, FUTEX_WAIT, seen, &ts, NULL, 0);
		if (now_usec(CLOCK_MONOTONIC) > deadline) {
			fprintf(stderr, "engine stalled\n");
			abort();
		}
	}
}

static bool all_pattern(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != PATTERN)
			return false;
	return true;
}

/* What the engine may have done, given where the indices started. */
static void check(const struct accel_sim_regs *before)
{
	uint32_t consumed = regs->sq_head - before->sq_head;
	uint32_t completed = regs->cq_tail - before->cq_tail;
	const struct accel_sim_cqe *cq = (const void *)(dus + ACCEL_SIM_CQ_OFFSET);

	/*
	 * The client's regs line, the rest of the MMIO page, the SQ and the
	 * padding are not the engine's to write.  (The geometry line is the
	 * device's: it may rewrite it with the values it goes by.)
	 */
	if (memcmp(&regs->sq_tail, &before->sq_tail, sizeof(*regs) - offsetof(struct accel_sim_regs, sq_tail)) != 0 ||
	    !all_pattern(map + sizeof(*regs), mmio - sizeof(*regs)) ||
	    memcmp(dus + ACCEL_SIM_SQ_OFFSET, sq_copy, sizeof(sq_copy)) != 0 ||
	    !all_pattern(dus + CQ_END, ACCEL_SIM_DATA_OFFSET - CQ_END))
		abort();
	if (consumed != completed || consumed > ACCEL_SIM_RING_ENTRIES ||
	    consumed > before->sq_tail - before->sq_head)
		abort();
	for (uint32_t i = 0; i < completed; i++) {
		const struct accel_sim_desc *d = &sq_copy[(before->sq_head + i) % ACCEL_SIM_RING_ENTRIES];
		const struct accel_sim_cqe *c = &cq[(before->cq_tail + i) % ACCEL_SIM_RING_ENTRIES];
		if (c->user_data != d->user_data || c->status > 0 || c->produced > d->dst_len ||
		    c->consumed > d->src_len || (c->status < 0 && c->produced && d->op != ACCEL_SIM_OP_GZIP &&
						  d->op != ACCEL_SIM_OP_GUNZIP))
			abort();
	}
}

/* The bytes in the event pipe behind @fd, which it closes. */
static size_t drain_events(int fd)
{
	char buf[256];
	size_t total = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	close(fd);
	return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	/* Op numbers as in the ABI: 1 to 4 (0 reads as 4). */
	unsigned alg = (fuzz_u8(&in) + 3u) % 4 + 1, flags = fuzz_u8(&in);
	struct accel_sim_regs before;
	struct sim_queue *q;
	int events[2];
	size_t woken;

	clear_data();
	setup_queue(&in, alg, flags);
	before = *regs;
	/*
	 * A pipe per input: a queue of an earlier input may still be ending
	 * its last turn on the engine thread (a forget does not wait), and
	 * writes into its own copy of its own pipe.
	 */
	if (pipe2(events, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    sim_engine_adopt_queue(engine, memfd, events[1], mmio, ACCEL_SIM_DUS_SIZE, alg, &q) < 0)
		abort();
	close(events[1]);
	wait_engine(flags);
	if (flags & FLAG_REVOKE)
		sim_engine_remove_queue(engine, q);
	else
		sim_engine_forget_queue(engine, q);
	woken = drain_events(events[0]);
	/* The engine is done with it: what it left must hold (see above). */
	before.client_flags = regs->client_flags;
	before.state = regs->state;
	check(&before);
	/*
	 * A live queue answers the arm only, once; an ended one also wakes
	 * everyone, with its state set first, so read after the bytes.
	 */
	if ((flags & FLAG_EVENT_ARM) && !(flags & FLAG_REVOKE) &&
	    __atomic_load_n(&regs->state, __ATOMIC_ACQUIRE) == ACCEL_SIM_STATE_ACTIVE &&
	    woken > (flags & FLAG_ARMED ? 1u : 0u))
		abort();
	return 0;
}

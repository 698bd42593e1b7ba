/* SPDX-License-Identifier: MIT */
/*
 * The accel_sim_v1 operations, on a copy of one descriptor: validation
 * against the queue's own geometry, then copy, crc32c, gzip or gunzip.
 * An operation runs in steps of bounded cost, so the engine can stop one
 * between turns and serve other queues (rule 9).  No threads, no shared
 * state beyond the queue's stream and operation: unit-testable.
 */
#ifndef ACCEL_DAEMON_SIM_OPS_H
#define ACCEL_DAEMON_SIM_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include <accel/sim.h>

/*
 * The cost unit of a step: one byte of copy or crc32c.  A byte of zlib
 * input costs more (sim_ops.c: zlib_in_cost), so that a budget of
 * SIM_OP_SLICE_COST units is at most about 0.25 ms of work on the worst
 * input we found for any operation (level 9 over two-letter noise, ~4-8 µs
 * a byte: 32 bytes); 64 KiB of copy or crc32c take some 10 µs.
 */
#define SIM_OP_SLICE_COST	(64u << 10)
/* The most zlib input one step copies: the largest slice of any level. */
#define SIM_OP_ZLIB_IN_MAX	(8u << 10)

/*
 * A queue's compression stream, kept between CONTINUE operations while a
 * member is open and freed as soon as it ends (stream end or an error):
 * a queue between members holds no zlib state.
 */
struct sim_stream {
	z_stream z;
	unsigned op;		/* ACCEL_SIM_OP_GZIP/GUNZIP: a member is open, z initialized; or 0 */
	int level;		/* gzip: the level in force (1-9) */
	/* Private copy of the input zlib reads (rule 8); may hold unconsumed bytes. */
	unsigned char *in;
};

/* The device's own view of a queue's DUS region. */
struct sim_region {
	unsigned char *dus;	/* the mapping */
	uint32_t data_offset;	/* the device's copies, never re-read from the regs */
	uint32_t data_size;
	unsigned algorithm;
};

/* One descriptor in progress: the copy taken from the ring and how far it got. */
struct sim_op {
	struct accel_sim_desc d;
	struct accel_sim_cqe cqe;
	uint32_t src_done;	/* source bytes read from the shared region */
	uint32_t dst_done;	/* copy: destination bytes written */
	bool done;
};

/*
 * Take @d (already copied out of the ring) as @op and validate it; a bad
 * descriptor is done at once with an error status.  Cheap: no data moves.
 */
void sim_op_start(const struct sim_region *r, struct sim_stream *st, struct sim_op *op,
		  const struct accel_sim_desc *d);

/*
 * Run @op on for at most *@budget units (at least one byte's worth is
 * needed: a step never overdraws) and take what it cost from *@budget.
 * Returns true once @op is done and op->cqe holds its completion.  The
 * source is read from the shared region once, slice by slice; zlib reads
 * only st->in, so a client rewriting its source cannot change what zlib
 * sees mid-call.
 */
bool sim_op_step(const struct sim_region *r, struct sim_stream *st, struct sim_op *op,
		 uint32_t *budget);

/* Start and step @d to its end, into @cqe: tests and fuzzing. */
void sim_op_execute(const struct sim_region *r, struct sim_stream *st,
		    const struct accel_sim_desc *d, struct accel_sim_cqe *cqe);

void sim_stream_finish(struct sim_stream *st);

/* "copy" -> ACCEL_SIM_OP_COPY, ...; 0 if unknown. */
unsigned sim_op_from_name(const char *name);
const char *sim_op_name(unsigned op);

#endif

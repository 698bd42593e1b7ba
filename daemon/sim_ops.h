/* SPDX-License-Identifier: MIT */
/*
 * The accel_sim_v1 operations, on a copy of one descriptor: validation
 * against the queue's own geometry, then copy, crc32c, gzip or gunzip.
 * No threads, no shared state beyond the queue's stream: unit-testable.
 */
#ifndef ACCEL_DAEMON_SIM_OPS_H
#define ACCEL_DAEMON_SIM_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include <accel/sim.h>

/* A queue's compression stream, kept between CONTINUE operations. */
struct sim_stream {
	z_stream z;
	unsigned op;		/* ACCEL_SIM_OP_GZIP/GUNZIP with z initialized, or 0 */
	int open;		/* a member is in progress: CONTINUE is allowed */
};

/* The device's own view of a queue's DUS region. */
struct sim_region {
	unsigned char *dus;	/* the mapping */
	uint32_t data_offset;	/* the device's copies, never re-read from the regs */
	uint32_t data_size;
	unsigned algorithm;
};

/*
 * Run @d (already copied out of the ring) and fill @cqe.  @scratch of
 * @r->data_size bytes, private to the caller, receives a copy of the
 * source before zlib reads it: the client may rewrite the source while we
 * work, and zlib must not see it change.
 */
void sim_op_execute(const struct sim_region *r, struct sim_stream *st,
		    const struct accel_sim_desc *d, unsigned char *scratch,
		    struct accel_sim_cqe *cqe);

void sim_stream_finish(struct sim_stream *st);

/* "copy" -> ACCEL_SIM_OP_COPY, ...; 0 if unknown. */
unsigned sim_op_from_name(const char *name);
const char *sim_op_name(unsigned op);

#endif

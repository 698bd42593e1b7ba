/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef ACCEL_SIM_GZIP_H
#define ACCEL_SIM_GZIP_H

#include <linux/types.h>
#include <linux/zlib.h>

#include <accel/sim.h>

/* Where a queue's gzip or gunzip stream stands. */
enum sim_gzip_phase {
	SIM_GZ_FIXED,		/* gunzip: the ten fixed header bytes; gzip: the header to emit */
	SIM_GZ_XLEN,		/* gunzip: the optional header fields, in their order */
	SIM_GZ_EXTRA,
	SIM_GZ_NAME,
	SIM_GZ_COMMENT,
	SIM_GZ_HCRC,
	SIM_GZ_BODY,		/* raw deflate data */
	SIM_GZ_TRAILER,		/* CRC-32 and ISIZE */
};

/*
 * A queue's gzip or gunzip stream.  The kernel's zlib has no gzip wrapper,
 * so the wrapper is done here, a byte at a time where it straddles
 * descriptors, around a raw deflate stream.
 */
struct sim_gzip {
	struct z_stream_s z;	/* z.workspace: allocated with the queue's algorithm */
	u32 op;			/* ACCEL_SIM_OP_GZIP or ACCEL_SIM_OP_GUNZIP */
	bool open;		/* a stream is under way: ACCEL_SIM_F_CONTINUE may go on */
	enum sim_gzip_phase phase;
	u32 crc;		/* CRC-32 register of the uncompressed data (not inverted) */
	u32 isize;		/* uncompressed length mod 2^32 */
	u32 hcrc;		/* gunzip: CRC-32 register of the header */
	u8 flags;		/* gunzip: the header's FLG */
	u32 skip;		/* gunzip: FEXTRA bytes still to skip */
	u8 buf[10];		/* gzip: header or trailer to emit; gunzip: bytes gathered */
	u32 buf_len, buf_pos;
};

struct sim_gzip *sim_gzip_alloc(u32 op);
void sim_gzip_free(struct sim_gzip *gz);

/*
 * Start one descriptor of the queue's stream (a new member, or the open one
 * with ACCEL_SIM_F_CONTINUE); 0 or a negative errno for its completion.
 */
int sim_gzip_begin(struct sim_gzip *gz, const struct accel_sim_desc *d);

/*
 * Run the current descriptor (begun, and checked against the data area) for
 * about @limit bytes of work, input and output together: the engine holds
 * its device lock meanwhile, so a step is bounded whatever the descriptor
 * holds (a 2 MiB header field, a 2 MiB member).  @src and @dst point into
 * the queue's DUS region, which the client may write at any time, so input
 * goes through @bounce (SIM_GZIP_BOUNCE bytes, the caller's) before zlib
 * sees it.  Advances consumed, produced and flags of @c; returns 0 when the
 * descriptor is done, SIM_GZIP_MORE when the step ended inside it (call
 * again with the same @d and @c), or a negative errno.
 */
#define SIM_GZIP_BOUNCE	(64u << 10)
#define SIM_GZIP_MORE	1
int sim_gzip_step(struct sim_gzip *gz, const struct accel_sim_desc *d, const u8 *src, u8 *dst,
		  u8 *bounce, struct accel_sim_cqe *c, u32 limit);

#endif /* ACCEL_SIM_GZIP_H */

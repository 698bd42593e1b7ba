// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "sim_ops.h"
#include "sim_zmem.h"

static const char *const op_names[] = ACCEL_SIM_OP_NAMES;

unsigned sim_op_from_name(const char *name)
{
	for (unsigned i = 1; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (strcmp(op_names[i], name) == 0)
			return i;
	return 0;
}

const char *sim_op_name(unsigned op)
{
	if (op == 0 || op >= sizeof(op_names) / sizeof(op_names[0]))
		return NULL;
	return op_names[op];
}

/* [offset, offset + len) inside the data area; 64-bit sums cannot wrap. */
static bool in_data_area(const struct sim_region *r, uint32_t offset, uint32_t len)
{
	uint64_t start = offset, end = (uint64_t)offset + len;

	return start >= r->data_offset &&
	       end <= (uint64_t)r->data_offset + r->data_size;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

void sim_stream_finish(struct sim_stream *st)
{
	if (st->op == ACCEL_SIM_OP_GZIP)
		deflateEnd(&st->z);
	else if (st->op == ACCEL_SIM_OP_GUNZIP)
		inflateEnd(&st->z);
	sim_zmem_free(NULL, st->in);
	memset(st, 0, sizeof(*st));
}

/*
 * Units per byte of zlib input (see SIM_OP_SLICE_COST).  deflate's cost
 * per byte follows the length of the hash chains its level searches
 * (zlib's configuration table: 4096 links at 9, 1024 at 8, 128-256 at 6-7,
 * 4-32 below); measured on two-letter noise, the worst input we know: up
 * to ~8 µs a byte at 9, ~2 at 8, ~0.5 at 6-7, under 0.2 at 1-5.  Small
 * slices cost little: zlib's output is the same bytes; its CPU time is the
 * same at level 6, 10-20 % more at level 9 on incompressible input.
 * inflate decodes its input quickly; its output is charged besides.
 */
static uint32_t zlib_in_cost(const struct sim_stream *st)
{
	static const uint16_t gzip_cost[10] = { 0, 8, 8, 8, 8, 16, 32, 32, 512, 2048 };

	return st->op == ACCEL_SIM_OP_GZIP ? gzip_cost[st->level] : 16;
}

/*
 * A member always starts from a fresh stream: the last one was freed when
 * it ended (stream_end), so an idle queue holds no zlib state.  Only a
 * member still open when a new one starts is thrown away here.
 */
static int stream_start(struct sim_stream *st, unsigned op, uint64_t arg)
{
	/* Level 0 asks for zlib's default, 6; named so the cost table sees it. */
	int level = arg == 0 ? 6 : (int)arg;
	int r;

	if (op == ACCEL_SIM_OP_GZIP && arg > 9)
		return -EINVAL;
	sim_stream_finish(st);
	st->in = sim_zmem_alloc(NULL, 1, SIM_OP_ZLIB_IN_MAX);
	if (!st->in)
		return -ENOMEM;
	st->z.zalloc = sim_zmem_alloc;
	st->z.zfree = sim_zmem_free;
	/* windowBits 15 + 16: a gzip wrapper, as gzip(1) writes and reads. */
	if (op == ACCEL_SIM_OP_GZIP)
		r = deflateInit2(&st->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	else
		r = inflateInit2(&st->z, 15 + 16);
	if (r != Z_OK) {
		sim_stream_finish(st);
		return -ENOMEM;
	}
	st->op = op;
	st->level = level;
	return 0;
}

static int zlib_begin(struct sim_stream *st, const struct accel_sim_desc *d)
{
	int r;

	if (!(d->flags & ACCEL_SIM_F_CONTINUE)) {
		r = stream_start(st, d->op, d->arg);
		if (r < 0)
			return r;
	} else if (st->op != d->op) {
		return -EINVAL;	/* nothing to continue: no member open, or another op's */
	}
	/* What the last operation left unconsumed, its client submits again. */
	st->z.next_in = st->in;
	st->z.avail_in = 0;
	return 0;
}

static int check(const struct sim_region *r, struct sim_stream *st, const struct accel_sim_desc *d)
{
	if (d->op != r->algorithm)
		return -EOPNOTSUPP;
	if (d->flags & ~(ACCEL_SIM_F_CONTINUE | ACCEL_SIM_F_FINISH))
		return -EINVAL;
	if (!in_data_area(r, d->src_offset, d->src_len) ||
	    !in_data_area(r, d->dst_offset, d->dst_len))
		return -EFAULT;
	switch (d->op) {
	case ACCEL_SIM_OP_COPY:
		return d->dst_len < d->src_len ? -ENOSPC : 0;
	case ACCEL_SIM_OP_CRC32C:
		return d->arg > UINT32_MAX ? -EINVAL : 0;
	case ACCEL_SIM_OP_GZIP:
	case ACCEL_SIM_OP_GUNZIP:
		return zlib_begin(st, d);
	}
	return -EOPNOTSUPP;
}

void sim_op_start(const struct sim_region *r, struct sim_stream *st, struct sim_op *op,
		  const struct accel_sim_desc *d)
{
	memset(op, 0, sizeof(*op));
	op->d = *d;
	op->cqe.user_data = d->user_data;
	if (d->op == ACCEL_SIM_OP_CRC32C)
		op->cqe.value = (uint32_t)d->arg;
	op->cqe.status = check(r, st, &op->d);
	op->done = op->cqe.status < 0;
}

/*
 * Like memmove over the whole range, a slice at a time: when the
 * destination overlaps the source from above, the slices go from the end.
 */
static bool step_copy(const struct sim_region *r, struct sim_op *op, uint32_t *budget)
{
	const struct accel_sim_desc *d = &op->d;
	unsigned char *src = r->dus + d->src_offset, *dst = r->dus + d->dst_offset;
	uint32_t left = d->src_len - op->src_done, n = min_u32(left, *budget);
	uint32_t at = dst > src && dst < src + d->src_len ? left - n : op->src_done;

	memmove(dst + at, src + at, n);
	op->src_done += n;
	*budget -= n;
	if (op->src_done < d->src_len)
		return false;
	op->cqe.consumed = op->cqe.produced = d->src_len;
	return true;
}

static bool step_crc32c(const struct sim_region *r, struct sim_op *op, uint32_t *budget)
{
	const struct accel_sim_desc *d = &op->d;
	uint32_t n = min_u32(d->src_len - op->src_done, *budget);

	op->cqe.value = crc32c((uint32_t)op->cqe.value, r->dus + d->src_offset + op->src_done, n);
	op->src_done += n;
	*budget -= n;
	if (op->src_done < d->src_len)
		return false;
	op->cqe.consumed = d->src_len;
	return true;
}

/*
 * The member ended, well or not: nothing can continue it, so its zlib
 * state (some 256 KiB for deflate) goes now rather than with the queue;
 * ten thousand queues that each ran one gzip would otherwise hold it all.
 */
static bool stream_end(struct sim_stream *st, struct sim_op *op, int status)
{
	op->cqe.status = status;
	sim_stream_finish(st);
	return true;
}

/* After one zlib call that returned @ret: is @op done, and how? */
static bool zlib_done(struct sim_stream *st, struct sim_op *op, int ret, bool progress)
{
	const struct accel_sim_desc *d = &op->d;

	switch (ret) {
	case Z_STREAM_END:
		op->cqe.flags |= ACCEL_SIM_CF_STREAM_END;
		return stream_end(st, op, 0);
	case Z_OK:
	case Z_BUF_ERROR:	/* no progress possible: more input or output needed */
		break;
	case Z_DATA_ERROR:
		return stream_end(st, op, -EBADMSG);
	case Z_MEM_ERROR:
		return stream_end(st, op, -ENOMEM);
	default:
		return stream_end(st, op, -EINVAL);
	}
	/* Done as one call over it all would be: destination full, or source all in. */
	if (op->dst_done == d->dst_len || !progress)
		return true;
	return st->z.avail_out > 0 && st->z.avail_in == 0 && op->src_done == d->src_len;
}

/*
 * One zlib call over at most a slice: new input is copied into st->in
 * only once zlib has taken all of the last copy (rule 8), output is capped
 * so that inflate's expansion is bounded too.  The call is charged the
 * larger of its input's and its output's cost.
 */
static bool step_zlib(const struct sim_region *r, struct sim_stream *st, struct sim_op *op,
		      uint32_t *budget)
{
	const struct accel_sim_desc *d = &op->d;
	uint32_t cost = zlib_in_cost(st), n = 0, out, produced, spent;
	uInt in_before;
	int flush = Z_NO_FLUSH, ret;

	if (*budget < cost)
		return false;
	if (st->z.avail_in == 0) {
		n = min_u32(min_u32(d->src_len - op->src_done, *budget / cost), SIM_OP_ZLIB_IN_MAX);
		memcpy(st->in, r->dus + d->src_offset + op->src_done, n);
		st->z.next_in = st->in;
		st->z.avail_in = n;
		op->src_done += n;
	}
	if (d->op == ACCEL_SIM_OP_GZIP && (d->flags & ACCEL_SIM_F_FINISH) && op->src_done == d->src_len)
		flush = Z_FINISH;
	out = min_u32(d->dst_len - op->dst_done, *budget);
	st->z.next_out = r->dus + d->dst_offset + op->dst_done;
	st->z.avail_out = out;
	in_before = st->z.avail_in;
	ret = d->op == ACCEL_SIM_OP_GZIP ? deflate(&st->z, flush) : inflate(&st->z, Z_NO_FLUSH);
	produced = out - st->z.avail_out;
	op->dst_done += produced;
	spent = n * cost > produced ? n * cost : produced;
	*budget -= min_u32(spent > cost ? spent : cost, *budget);
	op->cqe.consumed = op->src_done - st->z.avail_in;
	op->cqe.produced = op->dst_done;
	return zlib_done(st, op, ret, n > 0 || produced > 0 || st->z.avail_in != in_before);
}

bool sim_op_step(const struct sim_region *r, struct sim_stream *st, struct sim_op *op,
		 uint32_t *budget)
{
	if (op->done)
		return true;
	switch (op->d.op) {
	case ACCEL_SIM_OP_COPY:
		op->done = step_copy(r, op, budget);
		break;
	case ACCEL_SIM_OP_CRC32C:
		op->done = step_crc32c(r, op, budget);
		break;
	default:	/* sim_op_start let only gzip and gunzip through */
		op->done = step_zlib(r, st, op, budget);
		break;
	}
	return op->done;
}

void sim_op_execute(const struct sim_region *r, struct sim_stream *st,
		    const struct accel_sim_desc *d, struct accel_sim_cqe *cqe)
{
	struct sim_op op;

	sim_op_start(r, st, &op, d);
	for (;;) {
		uint32_t budget = SIM_OP_SLICE_COST;
		if (sim_op_step(r, st, &op, &budget))
			break;
	}
	*cqe = op.cqe;
}

// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "crc32c.h"
#include "sim_ops.h"

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

void sim_stream_finish(struct sim_stream *st)
{
	if (st->op == ACCEL_SIM_OP_GZIP)
		deflateEnd(&st->z);
	else if (st->op == ACCEL_SIM_OP_GUNZIP)
		inflateEnd(&st->z);
	memset(st, 0, sizeof(*st));
}

static int stream_start(struct sim_stream *st, unsigned op, uint64_t arg)
{
	int level = arg == 0 ? Z_DEFAULT_COMPRESSION : (int)arg;
	int r;

	if (op == ACCEL_SIM_OP_GZIP && arg > 9)
		return -EINVAL;
	if (st->op != op) {
		sim_stream_finish(st);
		/* windowBits 15 + 16: a gzip wrapper, as gzip(1) writes and reads. */
		if (op == ACCEL_SIM_OP_GZIP)
			r = deflateInit2(&st->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
		else
			r = inflateInit2(&st->z, 15 + 16);
		if (r != Z_OK)
			return -ENOMEM;
		st->op = op;
	} else if (op == ACCEL_SIM_OP_GZIP) {
		if (deflateReset(&st->z) != Z_OK || deflateParams(&st->z, level, Z_DEFAULT_STRATEGY) != Z_OK)
			return -EINVAL;
	} else if (inflateReset(&st->z) != Z_OK) {
		return -EINVAL;
	}
	st->open = 1;
	return 0;
}

static int run_zlib(struct sim_stream *st, const struct accel_sim_desc *d,
		    const unsigned char *src, unsigned char *dst,
		    struct accel_sim_cqe *cqe)
{
	int r;

	if (!(d->flags & ACCEL_SIM_F_CONTINUE)) {
		r = stream_start(st, d->op, d->arg);
		if (r < 0)
			return r;
	} else if (!st->open || st->op != d->op) {
		return -EINVAL;	/* nothing to continue */
	}
	st->z.next_in = (unsigned char *)src;
	st->z.avail_in = d->src_len;
	st->z.next_out = dst;
	st->z.avail_out = d->dst_len;
	if (d->op == ACCEL_SIM_OP_GZIP)
		r = deflate(&st->z, (d->flags & ACCEL_SIM_F_FINISH) ? Z_FINISH : Z_NO_FLUSH);
	else
		r = inflate(&st->z, Z_NO_FLUSH);
	cqe->consumed = d->src_len - st->z.avail_in;
	cqe->produced = d->dst_len - st->z.avail_out;
	switch (r) {
	case Z_STREAM_END:
		cqe->flags |= ACCEL_SIM_CF_STREAM_END;
		st->open = 0;
		return 0;
	case Z_OK:
	case Z_BUF_ERROR:	/* no progress possible: more input or output needed */
		return 0;
	case Z_DATA_ERROR:
		st->open = 0;
		return -EBADMSG;
	case Z_MEM_ERROR:
		st->open = 0;
		return -ENOMEM;
	default:
		st->open = 0;
		return -EINVAL;
	}
}

static int execute(const struct sim_region *r, struct sim_stream *st,
		   const struct accel_sim_desc *d, unsigned char *scratch,
		   struct accel_sim_cqe *cqe)
{
	unsigned char *src, *dst;

	if (d->op != r->algorithm)
		return -EOPNOTSUPP;
	if (d->flags & ~(ACCEL_SIM_F_CONTINUE | ACCEL_SIM_F_FINISH))
		return -EINVAL;
	if (!in_data_area(r, d->src_offset, d->src_len) ||
	    !in_data_area(r, d->dst_offset, d->dst_len))
		return -EFAULT;
	src = r->dus + d->src_offset;
	dst = r->dus + d->dst_offset;

	switch (d->op) {
	case ACCEL_SIM_OP_COPY:
		if (d->dst_len < d->src_len)
			return -ENOSPC;
		memmove(dst, src, d->src_len);
		cqe->consumed = cqe->produced = d->src_len;
		return 0;
	case ACCEL_SIM_OP_CRC32C:
		if (d->arg > UINT32_MAX)
			return -EINVAL;
		cqe->value = crc32c((uint32_t)d->arg, src, d->src_len);
		cqe->consumed = d->src_len;
		return 0;
	case ACCEL_SIM_OP_GZIP:
	case ACCEL_SIM_OP_GUNZIP:
		memcpy(scratch, src, d->src_len);
		return run_zlib(st, d, scratch, dst, cqe);
	}
	return -EOPNOTSUPP;
}

void sim_op_execute(const struct sim_region *r, struct sim_stream *st,
		    const struct accel_sim_desc *d, unsigned char *scratch,
		    struct accel_sim_cqe *cqe)
{
	memset(cqe, 0, sizeof(*cqe));
	cqe->user_data = d->user_data;
	cqe->status = execute(r, st, d, scratch, cqe);
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * gzip and gunzip for the accel_sim engine: RFC 1952 members around the
 * kernel's raw deflate.  A stream spans descriptors (ACCEL_SIM_F_CONTINUE),
 * and any part of it may straddle two of them, the header and trailer
 * included, so every phase can stop and resume at any byte.  The results
 * are the broker's software engine's (zlib with a gzip wrapper): the same
 * members, readable by gzip(1), and the same answers to bad input.
 */
#include <linux/crc32.h>
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <asm/unaligned.h>

#include "gzip.h"

#define GZ_ID1		0x1f
#define GZ_ID2		0x8b
#define GZ_CM_DEFLATE	8
#define GZ_OS_UNIX	3
#define GZ_FHCRC	0x02
#define GZ_FEXTRA	0x04
#define GZ_FNAME	0x08
#define GZ_FCOMMENT	0x10
#define GZ_FRESERVED	0xe0
#define GZ_HEADER_LEN	10
#define GZ_TRAILER_LEN	8

struct sim_gzip *sim_gzip_alloc(u32 op)
{
	struct sim_gzip *gz = kzalloc(sizeof(*gz), GFP_KERNEL);

	if (!gz)
		return NULL;
	gz->op = op;
	gz->z.workspace = vmalloc(op == ACCEL_SIM_OP_GZIP ?
				  zlib_deflate_workspacesize(MAX_WBITS, MAX_MEM_LEVEL) :
				  zlib_inflate_workspacesize());
	if (!gz->z.workspace) {
		kfree(gz);
		return NULL;
	}
	return gz;
}

void sim_gzip_free(struct sim_gzip *gz)
{
	if (gz)
		vfree(gz->z.workspace);
	kfree(gz);
}

static int gzip_start(struct sim_gzip *gz, u64 level)
{
	u8 *h = gz->buf;

	if (level > 9)
		return -EINVAL;
	/* Negative window bits: raw deflate, the wrapper is ours. */
	if (zlib_deflateInit2(&gz->z, level ? (int)level : Z_DEFAULT_COMPRESSION, Z_DEFLATED,
			      -MAX_WBITS, MAX_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
		return -EINVAL;
	memset(h, 0, GZ_HEADER_LEN);	/* no flags, no mtime */
	h[0] = GZ_ID1;
	h[1] = GZ_ID2;
	h[2] = GZ_CM_DEFLATE;
	h[8] = level == 9 ? 2 : level == 1 ? 4 : 0;	/* XFL, as zlib writes it */
	h[9] = GZ_OS_UNIX;
	gz->buf_len = GZ_HEADER_LEN;
	return 0;
}

static int gunzip_start(struct sim_gzip *gz)
{
	if (zlib_inflateInit2(&gz->z, -MAX_WBITS) != Z_OK)
		return -EINVAL;
	gz->buf_len = 0;
	gz->hcrc = ~0u;
	return 0;
}

static int stream_start(struct sim_gzip *gz, const struct accel_sim_desc *d)
{
	int ret = gz->op == ACCEL_SIM_OP_GZIP ? gzip_start(gz, d->arg) : gunzip_start(gz);

	if (ret < 0)
		return ret;
	gz->phase = SIM_GZ_FIXED;
	gz->buf_pos = 0;
	gz->crc = ~0u;
	gz->isize = 0;
	gz->open = true;
	return 0;
}

/* Copy what is left of gz->buf to @dst; returns the bytes written. */
static u32 emit(struct sim_gzip *gz, u8 *dst, u32 room)
{
	u32 n = min(gz->buf_len - gz->buf_pos, room);

	memcpy(dst, gz->buf + gz->buf_pos, n);
	gz->buf_pos += n;
	return n;
}

/* Put @b in gz->buf; true once it holds @len bytes. */
static bool gather(struct sim_gzip *gz, u8 b, u32 len)
{
	gz->buf[gz->buf_len++] = b;
	return gz->buf_len == len;
}

static void trailer_set(struct sim_gzip *gz)
{
	put_unaligned_le32(~gz->crc, gz->buf);
	put_unaligned_le32(gz->isize, gz->buf + 4);
	gz->buf_len = GZ_TRAILER_LEN;
	gz->buf_pos = 0;
}

static int gzip_run(struct sim_gzip *gz, const struct accel_sim_desc *d, const u8 *src, u8 *dst,
		    u8 *bounce, struct accel_sim_cqe *c, u32 limit)
{
	bool finish = d->flags & ACCEL_SIM_F_FINISH;
	u32 used = 0;

	for (;;) {
		u32 chunk, took, room, made;
		bool last;
		int r;

		switch (gz->phase) {
		case SIM_GZ_FIXED:
			c->produced += emit(gz, dst + c->produced, d->dst_len - c->produced);
			if (gz->buf_pos < gz->buf_len)
				return 0;
			gz->phase = SIM_GZ_BODY;
			break;
		case SIM_GZ_BODY:
			if (used >= limit)
				return SIM_GZIP_MORE;
			chunk = min(d->src_len - c->consumed, SIM_GZIP_BOUNCE);
			room = min(d->dst_len - c->produced, SIM_GZIP_BOUNCE);
			last = c->consumed + chunk == d->src_len;
			memcpy(bounce, src + c->consumed, chunk);
			gz->z.next_in = bounce;
			gz->z.avail_in = chunk;
			gz->z.next_out = dst + c->produced;
			gz->z.avail_out = room;
			r = zlib_deflate(&gz->z, last && finish ? Z_FINISH : Z_NO_FLUSH);
			took = chunk - gz->z.avail_in;
			made = room - gz->z.avail_out;
			gz->crc = crc32_le(gz->crc, bounce, took);
			gz->isize += took;
			c->consumed += took;
			c->produced += made;
			used += took + made + 1;
			if (r == Z_STREAM_END) {
				trailer_set(gz);
				gz->phase = SIM_GZ_TRAILER;
				break;
			}
			if (r != Z_OK && r != Z_BUF_ERROR)
				return -EINVAL;
			if (c->produced == d->dst_len)
				return 0;
			if (!gz->z.avail_out)
				break;	/* this step's room is full, not the destination */
			if (last || gz->z.avail_in)
				return 0;
			break;
		case SIM_GZ_TRAILER:
			c->produced += emit(gz, dst + c->produced, d->dst_len - c->produced);
			if (gz->buf_pos < gz->buf_len)
				return 0;
			c->flags |= ACCEL_SIM_CF_STREAM_END;
			gz->open = false;
			return 0;
		default:
			return -EINVAL;
		}
	}
}

/* The optional header field after @after that FLG announces, or the body. */
static void next_field(struct sim_gzip *gz, enum sim_gzip_phase after)
{
	static const struct {
		enum sim_gzip_phase phase;
		u8 flag;
	} fields[] = {
		{ SIM_GZ_XLEN, GZ_FEXTRA },
		{ SIM_GZ_NAME, GZ_FNAME },
		{ SIM_GZ_COMMENT, GZ_FCOMMENT },
		{ SIM_GZ_HCRC, GZ_FHCRC },
	};

	gz->buf_len = 0;
	for (unsigned int i = 0; i < ARRAY_SIZE(fields); i++) {
		if (fields[i].phase > after && (gz->flags & fields[i].flag)) {
			gz->phase = fields[i].phase;
			return;
		}
	}
	gz->phase = SIM_GZ_BODY;
}

/* One byte of a gzip header; -EBADMSG when it cannot be one. */
static int header_byte(struct sim_gzip *gz, u8 b)
{
	u8 *h = gz->buf;

	if (gz->phase != SIM_GZ_HCRC)
		gz->hcrc = crc32_le(gz->hcrc, &b, 1);
	switch (gz->phase) {
	case SIM_GZ_FIXED:
		if (!gather(gz, b, GZ_HEADER_LEN))
			return 0;
		if (h[0] != GZ_ID1 || h[1] != GZ_ID2 || h[2] != GZ_CM_DEFLATE || (h[3] & GZ_FRESERVED))
			return -EBADMSG;
		gz->flags = h[3];
		next_field(gz, SIM_GZ_FIXED);
		return 0;
	case SIM_GZ_XLEN:
		if (!gather(gz, b, 2))
			return 0;
		gz->skip = get_unaligned_le16(h);
		if (gz->skip) {
			gz->phase = SIM_GZ_EXTRA;
			return 0;
		}
		next_field(gz, SIM_GZ_EXTRA);
		return 0;
	case SIM_GZ_EXTRA:
		if (--gz->skip == 0)
			next_field(gz, SIM_GZ_EXTRA);
		return 0;
	case SIM_GZ_NAME:
	case SIM_GZ_COMMENT:
		if (b == 0)
			next_field(gz, gz->phase);
		return 0;
	case SIM_GZ_HCRC:
		if (!gather(gz, b, 2))
			return 0;
		if (get_unaligned_le16(h) != (u16)~gz->hcrc)
			return -EBADMSG;
		next_field(gz, SIM_GZ_HCRC);
		return 0;
	default:
		return -EINVAL;
	}
}

static int inflate_error(int r)
{
	switch (r) {
	case Z_DATA_ERROR:
		return -EBADMSG;
	case Z_MEM_ERROR:
		return -ENOMEM;
	default:
		return -EINVAL;
	}
}

static int gunzip_run(struct sim_gzip *gz, const struct accel_sim_desc *d, const u8 *src, u8 *dst,
		      u8 *bounce, struct accel_sim_cqe *c, u32 limit)
{
	u32 used = 0;

	for (;;) {
		u32 chunk, took, room, made, end;
		int r;

		if (used >= limit)
			return SIM_GZIP_MORE;
		if (gz->phase < SIM_GZ_BODY) {
			/* A header field may be megabytes long: it counts like data. */
			end = c->consumed + min(d->src_len - c->consumed, limit - used);
			while (c->consumed < end && gz->phase < SIM_GZ_BODY) {
				r = header_byte(gz, READ_ONCE(src[c->consumed]));
				if (r < 0)
					return r;
				c->consumed++;
				used++;
			}
			if (gz->phase < SIM_GZ_BODY) {
				if (c->consumed == d->src_len)
					return 0;
				continue;
			}
		}
		switch (gz->phase) {
		case SIM_GZ_BODY:
			chunk = min(d->src_len - c->consumed, SIM_GZIP_BOUNCE);
			room = min(d->dst_len - c->produced, SIM_GZIP_BOUNCE);
			memcpy(bounce, src + c->consumed, chunk);
			gz->z.next_in = bounce;
			gz->z.avail_in = chunk;
			gz->z.next_out = dst + c->produced;
			gz->z.avail_out = room;
			r = zlib_inflate(&gz->z, Z_SYNC_FLUSH);
			took = chunk - gz->z.avail_in;
			made = room - gz->z.avail_out;
			/* The CRC is of what was written: a client changing it meanwhile fails its own check. */
			gz->crc = crc32_le(gz->crc, dst + c->produced, made);
			gz->isize += made;
			c->consumed += took;
			c->produced += made;
			used += took + made + 1;
			if (r == Z_STREAM_END) {
				gz->buf_len = 0;
				gz->phase = SIM_GZ_TRAILER;
				break;
			}
			if (r != Z_OK && r != Z_BUF_ERROR)
				return inflate_error(r);
			if (c->produced == d->dst_len)
				return 0;
			if (!gz->z.avail_out)
				break;	/* this step's room is full, not the destination */
			if (c->consumed == d->src_len || gz->z.avail_in)
				return 0;
			break;
		case SIM_GZ_TRAILER:
			while (c->consumed < d->src_len && gz->buf_len < GZ_TRAILER_LEN)
				gather(gz, READ_ONCE(src[c->consumed++]), GZ_TRAILER_LEN);
			if (gz->buf_len < GZ_TRAILER_LEN)
				return 0;
			if (get_unaligned_le32(gz->buf) != ~gz->crc || get_unaligned_le32(gz->buf + 4) != gz->isize)
				return -EBADMSG;
			c->flags |= ACCEL_SIM_CF_STREAM_END;
			gz->open = false;
			return 0;
		default:
			return -EINVAL;
		}
	}
}

int sim_gzip_begin(struct sim_gzip *gz, const struct accel_sim_desc *d)
{
	if (d->flags & ACCEL_SIM_F_CONTINUE)
		return gz->open ? 0 : -EINVAL;	/* nothing to continue */
	return stream_start(gz, d);
}

int sim_gzip_step(struct sim_gzip *gz, const struct accel_sim_desc *d, const u8 *src, u8 *dst,
		  u8 *bounce, struct accel_sim_cqe *c, u32 limit)
{
	int ret = gz->op == ACCEL_SIM_OP_GZIP ? gzip_run(gz, d, src, dst, bounce, c, limit) :
					    gunzip_run(gz, d, src, dst, bounce, c, limit);

	if (ret < 0)
		gz->open = false;
	return ret;
}

/* SPDX-License-Identifier: MIT */
/*
 * The memory of the engine's zlib streams.  A stream lives only while its
 * member is open (sim_ops.c), so streams come and go with every member;
 * giving their blocks back to the C library made it return them to the
 * kernel and fault them in again at the next member: 1.7 ms instead of
 * 25-67 us per small gzip member on our guest.  Freed blocks are kept here
 * for the next stream instead, up to SIM_ZMEM_CACHE_BYTES, so what idle
 * queues cost is bounded by that and not by their number.  Thread-safe.
 */
#ifndef ACCEL_DAEMON_SIM_ZMEM_H
#define ACCEL_DAEMON_SIM_ZMEM_H

#include <stddef.h>
#include <zlib.h>

/* About a dozen deflate states at level 6 (256 KiB each). */
#define SIM_ZMEM_CACHE_BYTES	(4u << 20)

/* zlib's zalloc and zfree (opaque unused). */
voidpf sim_zmem_alloc(voidpf opaque, uInt items, uInt size);
void sim_zmem_free(voidpf opaque, voidpf ptr);

struct sim_zmem_stats {
	size_t live;	/* bytes held by open streams */
	size_t cached;	/* bytes kept for the next ones */
};

void sim_zmem_get_stats(struct sim_zmem_stats *out);

#endif

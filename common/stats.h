/* SPDX-License-Identifier: MIT */
/* Timing and percentiles for the benchmarks (bench/, tests/vm/vm_bench.c). */
#ifndef ACCEL_COMMON_STATS_H
#define ACCEL_COMMON_STATS_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The @p quantile (0 to 1) of @v, which gets sorted. */
static inline double percentile(uint64_t *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return (double)v[(size_t)((double)(n - 1) * p)];
}

#endif

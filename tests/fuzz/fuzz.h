/* SPDX-License-Identifier: MIT */
/*
 * What every libFuzzer harness in tests/fuzz/ shares: the entry points
 * libFuzzer calls, and a cursor that takes typed values off the input
 * (running dry reads as zeros, so every input is a valid run).
 *
 * A harness is one file, tests/fuzz/fuzz_NAME.c, with its seed corpus in
 * tests/fuzz/corpus/NAME/ and optionally a dictionary tests/fuzz/NAME.dict;
 * the Makefile, make fuzz and tests/fuzz/fuzz-check find it by that name.
 */
#ifndef ACCEL_TESTS_FUZZ_H
#define ACCEL_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * For LLVMFuzzerInitialize: the code under test keeps logging (its
 * formatting runs on hostile strings) but out of sight.  libFuzzer and the
 * sanitizers keep the real stderr, which they took before we get here.
 */
static inline void fuzz_hide_stderr(void)
{
	stderr = fopen("/dev/null", "w");
	if (!stderr)
		abort();
}

struct fuzz_input {
	const uint8_t *data;
	size_t size;
};

static inline size_t fuzz_take(struct fuzz_input *in, void *out, size_t n)
{
	size_t k = n < in->size ? n : in->size;

	memset(out, 0, n);
	if (k)
		memcpy(out, in->data, k);
	in->data += k;
	in->size -= k;
	return k;
}

static inline uint8_t fuzz_u8(struct fuzz_input *in)
{
	uint8_t v;

	fuzz_take(in, &v, sizeof(v));
	return v;
}

static inline uint32_t fuzz_u32(struct fuzz_input *in)
{
	uint32_t v;

	fuzz_take(in, &v, sizeof(v));
	return v;
}

static inline uint64_t fuzz_u64(struct fuzz_input *in)
{
	uint64_t v;

	fuzz_take(in, &v, sizeof(v));
	return v;
}

/*
 * The next piece of the input up to @sep (not included; the separator is
 * consumed) or to its end.  Returns 0 when the input is used up.
 */
static inline int fuzz_split(struct fuzz_input *in, uint8_t sep, const uint8_t **piece,
			     size_t *len)
{
	const uint8_t *end;

	if (in->size == 0)
		return 0;
	end = memchr(in->data, sep, in->size);
	*piece = in->data;
	*len = end ? (size_t)(end - in->data) : in->size;
	in->data += *len + (end ? 1 : 0);
	in->size -= *len + (end ? 1 : 0);
	return 1;
}

#endif

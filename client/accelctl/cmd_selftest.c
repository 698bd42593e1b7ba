// SPDX-License-Identifier: MIT
/*
 * selftest: one queue per algorithm, each checked against answers known
 * independently of the accelerator (published CRC-32C vectors, a gzip
 * member made by gzip itself, zlib in this process for gzip's output).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "accelctl.h"

#define DETAIL_MAX 160

struct kat {
	const char *algorithm;
	const char *name;
	int (*run)(struct accel_queue *q, char *detail);
};

static int fail(char *detail, const char *fmt, const char *what, long long a, long long b)
{
	snprintf(detail, DETAIL_MAX, fmt, what, a, b);
	return -EIO;
}

static int kat_copy_small(struct accel_queue *q, char *detail)
{
	unsigned char src[64], dst[64] = { 0 };
	struct accel_completion c;
	int r;

	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)(i * 7 + 3);
	r = accel_run(q, src, sizeof(src), dst, sizeof(dst), 0, 0, &c);
	if (r < 0)
		return r;
	if (c.produced != sizeof(src) || memcmp(src, dst, sizeof(src)) != 0)
		return fail(detail, "%s: %lld bytes back of %lld, or different", "copy", (long long)c.produced,
			    (long long)sizeof(src));
	return 0;
}

static int kat_copy_large(struct accel_queue *q, char *detail)
{
	size_t size, n;
	struct accel_completion c;
	unsigned char *src, *dst;
	uint32_t x = 0x12345678;
	int r;

	/* Half the data area; an SVA queue has none and takes ours: 1 MiB then. */
	if (!accel_queue_buffer(q, &size))
		size = 2u << 20;
	n = size / 2;
	src = malloc(n);
	dst = malloc(n);
	if (!src || !dst) {
		free(src);
		free(dst);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		src[i] = (unsigned char)(x >> 16);
	}
	r = accel_run(q, src, n, dst, n, 0, 0, &c);
	if (r == 0 && (c.produced != n || memcmp(src, dst, n) != 0))
		r = fail(detail, "%s: %lld bytes back of %lld, or different", "copy", (long long)c.produced,
			 (long long)n);
	free(src);
	free(dst);
	return r;
}

/* RFC 3720, B.4, and the common check value of "123456789". */
static int kat_crc32c(struct accel_queue *q, char *detail)
{
	static const struct {
		const char *name;
		unsigned char fill;	/* 0x00, 0xff, 1: ascending, 2: descending */
		uint32_t crc;
	} vectors[] = {
		{ "32 bytes of zeros", 0x00, 0x8a9136aa },
		{ "32 bytes of ones", 0xff, 0x62a8ab43 },
		{ "32 incrementing bytes", 1, 0x46dd794e },
		{ "32 decrementing bytes", 2, 0x113fdb5c },
	};
	unsigned char buf[32];
	struct accel_completion c;
	int r;

	for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
		for (unsigned i = 0; i < 32; i++)
			buf[i] = vectors[v].fill == 1 ? (unsigned char)i :
				 vectors[v].fill == 2 ? (unsigned char)(31 - i) : vectors[v].fill;
		r = accel_run(q, buf, sizeof(buf), NULL, 0, 0, 0, &c);
		if (r < 0)
			return r;
		if (c.value != vectors[v].crc)
			return fail(detail, "%s: got 0x%08llx, want 0x%08llx", vectors[v].name,
				    (long long)c.value, vectors[v].crc);
	}
	r = accel_run(q, "123456789", 9, NULL, 0, 0, 0, &c);
	if (r < 0)
		return r;
	if (c.value != 0xe3069283)
		return fail(detail, "%s: got 0x%08llx, want 0x%08llx", "\"123456789\"", (long long)c.value,
			    0xe3069283);
	/* Chained: the first half's result seeds the second. */
	r = accel_run(q, "12345", 5, NULL, 0, 0, 0, &c);
	if (r == 0)
		r = accel_run(q, "6789", 4, NULL, 0, c.value, 0, &c);
	if (r < 0)
		return r;
	if (c.value != 0xe3069283)
		return fail(detail, "%s: got 0x%08llx, want 0x%08llx", "chained", (long long)c.value,
			    0xe3069283);
	return 0;
}

static int kat_gzip(struct accel_queue *q, char *detail)
{
	static const char line[] = "The quick brown fox jumps over the lazy accelerator queue. ";
	size_t n = 200 * 1024, out_cap = 256 * 1024, back_len = n;
	unsigned char *text = malloc(n), *gz = malloc(out_cap), *back = malloc(n);
	struct accel_completion c;
	int r;

	if (!text || !gz || !back) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		text[i] = (unsigned char)line[i % (sizeof(line) - 1)];
	r = accel_run(q, text, n, gz, out_cap, 6, ACCEL_OP_FINISH, &c);
	if (r < 0)
		goto out;
	if (!(c.flags & ACCEL_COMPLETION_STREAM_END) || c.produced < 18 || gz[0] != 0x1f || gz[1] != 0x8b) {
		r = fail(detail, "%s: no complete gzip member (%lld bytes, flags %lld)", "gzip",
			 (long long)c.produced, (long long)c.flags);
		goto out;
	}
	/* zlib in this process, not the accelerator, checks the result. */
	z_stream z = { 0 };
	if (inflateInit2(&z, 15 + 16) != Z_OK) {
		r = -ENOMEM;
		goto out;
	}
	z.next_in = gz;
	z.avail_in = (uInt)c.produced;
	z.next_out = back;
	z.avail_out = (uInt)back_len;
	r = inflate(&z, Z_FINISH);
	back_len -= z.avail_out;
	inflateEnd(&z);
	if (r != Z_STREAM_END || back_len != n || memcmp(back, text, n) != 0)
		r = fail(detail, "%s: zlib read back %lld bytes of %lld", "gzip", (long long)back_len,
			 (long long)n);
	else
		r = 0;
out:
	free(text);
	free(gz);
	free(back);
	return r;
}

/* gzip -n of "hello, accelerator\n". */
static const unsigned char hello_gz[] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd,
	0xc9, 0xc9, 0xd7, 0x51, 0x48, 0x4c, 0x4e, 0x4e, 0xcd, 0x49, 0x2d, 0x4a, 0x2c,
	0xc9, 0x2f, 0xe2, 0x02, 0x00, 0xf4, 0x64, 0x4e, 0x31, 0x13, 0x00, 0x00, 0x00,
};

static int kat_gunzip(struct accel_queue *q, char *detail)
{
	static const char want[] = "hello, accelerator\n";
	unsigned char out[64], bad[sizeof(hello_gz)];
	struct accel_completion c;
	int r;

	r = accel_run(q, hello_gz, sizeof(hello_gz), out, sizeof(out), 0, 0, &c);
	if (r < 0)
		return r;
	if (!(c.flags & ACCEL_COMPLETION_STREAM_END) || c.produced != strlen(want) ||
	    memcmp(out, want, strlen(want)) != 0)
		return fail(detail, "%s: %lld bytes, want %lld", "gunzip", (long long)c.produced,
			    (long long)strlen(want));
	/* A flipped bit in the CRC must be caught, not passed on. */
	memcpy(bad, hello_gz, sizeof(bad));
	bad[sizeof(bad) - 6] ^= 0x01;
	r = accel_run(q, bad, sizeof(bad), out, sizeof(out), 0, 0, &c);
	if (r != -EBADMSG)
		return fail(detail, "%s: corrupt input gave %lld, want %lld", "gunzip", r, -EBADMSG);
	return 0;
}

#define ELEMENTSOF_KATS (sizeof(kats) / sizeof(kats[0]))

static const struct kat kats[] = {
	{ "copy", "64 bytes", kat_copy_small },
	{ "copy", "half the data area, pseudo-random", kat_copy_large },
	{ "crc32c", "RFC 3720 vectors, \"123456789\", chained", kat_crc32c },
	{ "gzip", "200 KiB of text, read back by zlib", kat_gzip },
	{ "gunzip", "a gzip(1) member; a corrupt CRC is refused", kat_gunzip },
};

static void report(struct json_object *checks, const struct kat *k, int r, struct accel_queue *q,
		   const char *detail)
{
	struct json_object *o;

	if (!checks) {
		printf("%s  %-7s %s\n", r < 0 ? "FAIL" : "PASS", k->algorithm, detail);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "algorithm", json_object_new_string(k->algorithm));
	json_object_object_add(o, "check", json_object_new_string(k->name));
	json_object_object_add(o, "passed", json_object_new_boolean(r == 0));
	json_object_object_add(o, "detail", json_object_new_string(detail));
	if (q) {
		json_object_object_add(o, "queue_id", json_object_new_int64((int64_t)accel_queue_id(q)));
		json_object_object_add(o, "device", json_object_new_string(accel_queue_device(q)));
	}
	json_object_array_add(checks, o);
}

int cmd_selftest(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *checks = NULL;
	struct accel_client *client;
	unsigned failed = 0;
	int r = ctl_parse_simple(ctl, argc, argv,
				 "Usage: accelctl selftest [--json]\n"
				 "Acquire a queue per algorithm and check known answers.\n"
				 "--json: {\"passed\": N, \"failed\": N, \"checks\": [...]}.\n");

	if (r <= 0)
		return r;
	r = ctl_client(ctl, &client);
	if (r < 0)
		return r;
	if (ctl->json)
		checks = json_object_new_array();
	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		struct accel_queue *q = NULL;
		char detail[DETAIL_MAX] = "";

		r = accel_acquire(client, kats[i].algorithm, NULL, &q);
		if (r < 0) {
			const char *m = accel_error_message(client);
			snprintf(detail, sizeof(detail), "acquire: %s", m ? m : strerror(-r));
			q = NULL;
		} else {
			r = kats[i].run(q, detail);
			if (r < 0 && !detail[0])
				snprintf(detail, sizeof(detail), "%s", strerror(-r));
			if (r == 0)
				snprintf(detail, sizeof(detail), "%s (queue %llu on %s)", kats[i].name,
					 (unsigned long long)accel_queue_id(q), accel_queue_device(q));
		}
		report(checks, &kats[i], r, q, detail);
		if (q)
			accel_release(q);
		failed += r < 0;
	}
	if (checks) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "passed", json_object_new_int((int)(ELEMENTSOF_KATS - failed)));
		json_object_object_add(o, "failed", json_object_new_int((int)failed));
		json_object_object_add(o, "checks", checks);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		printf("%zu passed, %u failed\n", ELEMENTSOF_KATS - failed, failed);
	}
	return failed ? -EIO : 0;
}

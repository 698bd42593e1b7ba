// SPDX-License-Identifier: MIT
/*
 * accel-event-gzip: 64 gzip operations in flight on 4 queues, their
 * completions handled from a libevent loop (libaccel-event), every result
 * decompressed with zlib and compared with its input.
 *
 *   accel-event-gzip [--ops N] [--blocking] [--no-check] [--json] [SOCKET]
 *
 * --blocking runs the same work the other way, for comparison: a thread
 * per queue reaping with accel_wait().  Prints what it did; exits 1 if a
 * result differs from its input or an operation failed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include <event2/event.h>

#include <accel/accel.h>
#include <accel/accel-event.h>

#define QUEUES		4
#define DEPTH		16		/* in flight per queue: 64 in all */
#define CHUNK		(16 * 1024)	/* input of one operation */
#define OUT_MAX		(CHUNK + CHUNK / 8 + 64)	/* a gzip member of CHUNK bytes at most */

struct run {
	size_t ops, submitted, done;
	bool check;
	int failed;			/* the first failure's errno, or -1 for a wrong result */
	unsigned char *input;		/* ops * CHUNK bytes */
	pthread_mutex_t lock;		/* --blocking: submitted, done, failed */
	struct event_base *base;	/* the event loop's */
};

struct lane {
	struct run *run;
	struct accel_queue *q;
	unsigned char *buf;		/* the queue's data area: DEPTH slots of CHUNK + OUT_MAX */
	size_t op_of[DEPTH];		/* the operation each slot runs */
	struct accel_event_queue *eq;
};

/* Text that compresses like text, the same for every run. */
static void make_input(unsigned char *p, size_t n)
{
	static const char *const words[] = { "queue ", "broker ", "event ", "loop ", "deflate ", "ring ",
					     "completion ", "accelerator ", "member ", "wake " };
	uint32_t x = 12345;

	for (size_t i = 0; i < n;) {
		const char *w;
		x = x * 1103515245u + 12345u;
		w = words[(x >> 16) % 10];
		for (size_t k = 0; w[k] && i < n; k++)
			p[i++] = (unsigned char)w[k];
	}
}

/* Whether @gz (@len bytes) is one gzip member holding exactly @want. */
static bool inflates_to(const unsigned char *gz, size_t len, const unsigned char *want)
{
	static __thread unsigned char out[CHUNK + 1];
	z_stream z = { .next_in = (unsigned char *)gz, .avail_in = (uInt)len, .next_out = out,
		       .avail_out = sizeof(out) };
	int r;

	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return false;
	r = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	return r == Z_STREAM_END && z.total_out == CHUNK && memcmp(out, want, CHUNK) == 0;
}

/* Start the next operation in @slot of @l, if any is left: 1 started, 0 none left, -errno. */
static int start(struct lane *l, unsigned slot, size_t op)
{
	unsigned char *src = l->buf + slot * (CHUNK + OUT_MAX);

	if (op >= l->run->ops)
		return 0;
	memcpy(src, l->run->input + op * CHUNK, CHUNK);
	l->op_of[slot] = op;
	return accel_submit(l->q, &(struct accel_op){ .src = src, .src_len = CHUNK, .dst = src + CHUNK,
						       .dst_len = OUT_MAX, .arg = 1, .flags = ACCEL_OP_FINISH,
						       .user_data = slot }) < 0 ? -EIO : 1;
}

/* One completion: 0 its result decompresses to its input (or is not checked), -1 it does not, -errno. */
static int finish(struct lane *l, const struct accel_completion *c)
{
	unsigned slot = (unsigned)c->user_data;
	const unsigned char *dst = l->buf + slot * (CHUNK + OUT_MAX) + CHUNK;

	if (slot >= DEPTH || c->status < 0)
		return c->status < 0 ? c->status : -EPROTO;
	if (l->run->check && !inflates_to(dst, c->produced, l->run->input + l->op_of[slot] * CHUNK))
		return -1;
	return 0;
}

/* ---- the event loop ---- */

static void on_completions(struct accel_event_queue *eq, struct accel_queue *q, const struct accel_completion *c,
			   int n, void *userdata)
{
	struct lane *l = userdata;
	struct run *run = l->run;

	(void)eq;
	(void)q;
	if (n < 0 && !run->failed)
		run->failed = n;
	for (int i = 0; i < n; i++) {
		int r = finish(l, &c[i]);
		if (r != 0 && !run->failed)
			run->failed = r;
		run->done++;
		if (start(l, (unsigned)c[i].user_data, run->submitted) > 0)
			run->submitted++;
	}
	if (run->done == run->ops || run->failed)
		event_base_loopbreak(run->base);
}

static int run_event_loop(struct run *run, struct lane *lanes, struct accel_event_stats *total)
{
	int r = 0;

	run->base = event_base_new();
	if (!run->base)
		return -ENOMEM;
	for (unsigned i = 0; i < QUEUES && r == 0; i++)
		r = accel_event_queue_new(run->base, lanes[i].q, on_completions, &lanes[i], &lanes[i].eq);
	for (unsigned i = 0; i < QUEUES && r == 0; i++)
		for (unsigned slot = 0; slot < DEPTH && r == 0; slot++)
			if ((r = start(&lanes[i], slot, run->submitted)) > 0) {
				run->submitted++;
				r = 0;
			}
	if (r == 0 && event_base_dispatch(run->base) < 0)
		r = -EIO;
	*total = (struct accel_event_stats){ 0 };
	for (unsigned i = 0; i < QUEUES; i++) {
		struct accel_event_stats s;
		if (!lanes[i].eq)
			continue;
		accel_event_queue_stats(lanes[i].eq, &s);
		total->wakeups += s.wakeups;
		total->batches += s.batches;
		total->completions += s.completions;
		accel_event_queue_free(lanes[i].eq);
	}
	event_base_free(run->base);
	return r;
}

/* ---- the blocking way: a thread per queue, accel_wait() ---- */

/* The next operation for a slot, or run->ops when there is none. */
static size_t take_op(struct run *run)
{
	size_t op;

	pthread_mutex_lock(&run->lock);
	op = run->failed ? run->ops : run->submitted < run->ops ? run->submitted++ : run->ops;
	pthread_mutex_unlock(&run->lock);
	return op;
}

static void note(struct run *run, int r)
{
	pthread_mutex_lock(&run->lock);
	run->done++;
	if (r != 0 && !run->failed)
		run->failed = r;
	pthread_mutex_unlock(&run->lock);
}

static void *blocking_lane(void *arg)
{
	struct lane *l = arg;
	struct accel_completion c[DEPTH];
	unsigned in_flight = 0;

	for (unsigned slot = 0; slot < DEPTH; slot++)
		if (start(l, slot, take_op(l->run)) > 0)
			in_flight++;
	while (in_flight > 0) {
		int n = accel_wait(l->q, c, DEPTH, -1);
		if (n < 0) {
			note(l->run, n);
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			note(l->run, finish(l, &c[i]));
			in_flight--;
			if (start(l, (unsigned)c[i].user_data, take_op(l->run)) > 0)
				in_flight++;
		}
	}
	return NULL;
}

static int run_blocking(struct run *run, struct lane *lanes)
{
	pthread_t t[QUEUES];

	for (unsigned i = 0; i < QUEUES; i++)
		if (pthread_create(&t[i], NULL, blocking_lane, &lanes[i]) != 0)
			return -EAGAIN;
	for (unsigned i = 0; i < QUEUES; i++)
		pthread_join(t[i], NULL);
	return 0;
}

/* ---- main ---- */

struct options {
	size_t ops;
	bool blocking, check, json;
	const char *socket;
};

static int parse(int argc, char **argv, struct options *o)
{
	*o = (struct options){ .ops = 4096, .check = true };
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
			o->ops = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--blocking") == 0)
			o->blocking = true;
		else if (strcmp(argv[i], "--no-check") == 0)
			o->check = false;
		else if (strcmp(argv[i], "--json") == 0)
			o->json = true;
		else if (argv[i][0] != '-' && !o->socket)
			o->socket = argv[i];
		else
			return -EINVAL;
	}
	return o->ops > 0 ? 0 : -EINVAL;
}

static int open_lanes(struct accel_client *c, struct run *run, struct lane *lanes)
{
	for (unsigned i = 0; i < QUEUES; i++) {
		size_t size;
		int r = accel_acquire(c, "gzip", NULL, &lanes[i].q);
		if (r < 0)
			return r;
		lanes[i].run = run;
		lanes[i].buf = accel_queue_buffer(lanes[i].q, &size);
		if (!lanes[i].buf || size < DEPTH * (CHUNK + OUT_MAX))
			return -ENOSPC;
	}
	return 0;
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const struct options *o, const struct run *run, double seconds,
		   const struct accel_event_stats *s)
{
	double rate = (double)run->done / seconds;

	if (o->json) {
		printf("{\"mode\": \"%s\", \"ops\": %zu, \"in_flight\": %u, \"queues\": %u, "
		       "\"ops_per_sec\": %.0f, \"wakeups\": %llu, \"batches\": %llu}\n",
		       o->blocking ? "blocking" : "event", run->done, QUEUES * DEPTH, QUEUES, rate,
		       (unsigned long long)s->wakeups, (unsigned long long)s->batches);
		return;
	}
	printf("%zu gzip operations, %u in flight on %u queues, %s: %.0f ops/s", run->done, QUEUES * DEPTH,
	       QUEUES, o->blocking ? "accel_wait() in a thread per queue" : "one libevent loop", rate);
	if (!o->blocking)
		printf(", %llu wake-ups for %llu batches", (unsigned long long)s->wakeups,
		       (unsigned long long)s->batches);
	printf("%s\n", o->check ? ", every result decompressed and compared: ok" : "");
}

int main(int argc, char **argv)
{
	struct options o;
	struct run run = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct lane lanes[QUEUES] = { 0 };
	struct accel_event_stats stats = { 0 };
	struct accel_client *c = NULL;
	double t0;
	int r;

	if (parse(argc, argv, &o) < 0) {
		fprintf(stderr, "Usage: accel-event-gzip [--ops N] [--blocking] [--no-check] [--json] [SOCKET]\n");
		return 2;
	}
	run.ops = o.ops;
	run.check = o.check;
	run.input = malloc(o.ops * CHUNK);
	if (!run.input)
		return 1;
	make_input(run.input, o.ops * CHUNK);
	r = accel_connect(o.socket, &c);
	if (r == 0)
		r = open_lanes(c, &run, lanes);
	if (r < 0) {
		fprintf(stderr, "accel-event-gzip: %s%s%s\n", strerror(-r), r < 0 && c ? ": " : "",
			c && accel_error_message(c) ? accel_error_message(c) : "");
		return 1;
	}
	t0 = now_sec();
	r = o.blocking ? run_blocking(&run, lanes) : run_event_loop(&run, lanes, &stats);
	if (r == 0 && (run.failed || run.done != run.ops))
		r = run.failed ? run.failed : -EPROTO;
	if (r == 0)
		report(&o, &run, now_sec() - t0, &stats);
	else
		fprintf(stderr, "accel-event-gzip: %s after %zu of %zu operations\n",
			r == -1 ? "a result did not decompress to its input" : strerror(-r), run.done, run.ops);
	for (unsigned i = 0; i < QUEUES; i++)
		if (lanes[i].q)
			accel_release(lanes[i].q);
	if (c)
		accel_disconnect(c);
	free(run.input);
	return r == 0 ? 0 : 1;
}

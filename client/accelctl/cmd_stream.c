// SPDX-License-Identifier: MIT
/*
 * compress / decompress: stream a file through one gzip or gunzip queue.
 * The data area is split in two: input is read into the first half, the
 * device writes into the second; a stream spans many operations
 * (ACCEL_OP_CONTINUE), so files of any size make one gzip member.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accelctl.h"

/* An SVA queue has no data area: the device reads and writes ours. */
#define SVA_BUFFER_SIZE (2u << 20)

struct stream {
	struct accel_queue *q;
	int in_fd, out_fd;
	unsigned char *in, *out;
	size_t half;
	size_t in_len;		/* bytes in the input half not yet consumed */
	bool eof;
	bool compress;
	unsigned level;		/* gzip: 1..9, 0: the device's default */
	unsigned long long bytes_in, bytes_out;
	bool progress;		/* standard error is a terminal */
	bool progress_shown;
	double started, last_shown;	/* seconds, CLOCK_MONOTONIC */
};

/* Progress appears past this much input, at most every PROGRESS_STEP s. */
#define PROGRESS_MIN	(4ull << 20)
#define PROGRESS_STEP	0.25

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One line on the terminal, rewritten in place: bytes, rate, ratio. */
static void show_progress(struct stream *s, bool last)
{
	double t = now(), elapsed = t - s->started;

	if (!s->progress || s->bytes_in < PROGRESS_MIN || (!last && t - s->last_shown < PROGRESS_STEP))
		return;
	if (last && !s->progress_shown)
		return;
	s->last_shown = t;
	s->progress_shown = true;
	fprintf(stderr, "\r%.1f MiB in, %.1f MiB out (%.1f%%), %.1f MB/s%s",
		(double)s->bytes_in / 1048576, (double)s->bytes_out / 1048576,
		s->bytes_in ? 100.0 * (double)s->bytes_out / (double)s->bytes_in : 0.0,
		elapsed > 0 ? (double)s->bytes_in / elapsed / 1e6 : 0.0, last ? "\n" : "   ");
}

static int read_more(struct stream *s)
{
	while (!s->eof && s->in_len < s->half) {
		ssize_t n = read(s->in_fd, s->in + s->in_len, s->half - s->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			s->eof = true;
		s->in_len += (size_t)n;
		s->bytes_in += (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One operation on the buffered input; consumed input is dropped. */
static int step(struct stream *s, uint32_t flags, struct accel_completion *c)
{
	int r = accel_submit(s->q, &(struct accel_op){
		.src = s->in, .src_len = s->in_len, .dst = s->out, .dst_len = s->half, .flags = flags,
		.arg = s->level,
	});

	if (r < 0)
		return r;
	r = accel_wait(s->q, c, 1, -1);
	if (r < 0)
		return r;
	if (c->status < 0)
		return c->status;
	if (c->consumed > s->in_len || c->produced > s->half)
		return -EPROTO;
	memmove(s->in, s->in + c->consumed, s->in_len - c->consumed);
	s->in_len -= c->consumed;
	s->bytes_out += c->produced;
	show_progress(s, false);
	return write_all(s->out_fd, s->out, c->produced);
}

static int run_compress(struct stream *s)
{
	uint32_t flags = 0;
	struct accel_completion c;
	int r;

	for (;;) {
		r = read_more(s);
		if (r < 0)
			return r;
		r = step(s, flags | (s->eof ? ACCEL_OP_FINISH : 0), &c);
		if (r < 0)
			return r;
		flags = ACCEL_OP_CONTINUE;
		if (c.flags & ACCEL_COMPLETION_STREAM_END)
			return 0;
	}
}

static int run_decompress(struct stream *s)
{
	bool in_member = false;
	struct accel_completion c;
	int r;

	for (;;) {
		r = read_more(s);
		if (r < 0)
			return r;
		if (!in_member && s->in_len == 0 && s->eof)
			return s->bytes_in ? 0 : -ENODATA;
		r = step(s, in_member ? ACCEL_OP_CONTINUE : 0, &c);
		if (r < 0)
			return r;
		in_member = !(c.flags & ACCEL_COMPLETION_STREAM_END);
		/* No progress with all input given: the member is cut short. */
		if (in_member && c.consumed == 0 && c.produced == 0 && s->eof)
			return -EPIPE;
	}
}

static int open_output(const char *path, bool force)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);

	if (strcmp(path, "-") == 0)
		return STDOUT_FILENO;
	return open(path, flags, 0644);
}

static char *default_output(const char *in, bool compress)
{
	size_t n = strlen(in);
	char *out;

	if (compress) {
		out = malloc(n + 4);
		if (out)
			sprintf(out, "%s.gz", in);
		return out;
	}
	if (n > 3 && strcmp(in + n - 3, ".gz") == 0)
		return strndup(in, n - 3);
	return NULL;
}

/*
 * The queue was revoked: say why.  The events subscription opened before
 * the acquire carries the broker's reason; a broker that closed the
 * stream without one stopped (a shutdown).
 */
static void explain_revoked(struct accel_events *events, uint64_t id)
{
	const char *reason = "reason unknown";
	struct accel_event ev;
	int r;

	for (int turns = 0; events && turns < 64; turns++) {
		struct pollfd p = { .fd = accel_events_fd(events), .events = POLLIN };
		while ((r = accel_events_read(events, &ev)) > 0)
			if (strcmp(ev.type, "revoked") == 0 && ev.queue_id == id) {
				fprintf(stderr, "accelctl: queue %llu revoked by the broker: %s\n",
					(unsigned long long)id, ev.reason);
				return;
			}
		if (r == -ECONNRESET)
			reason = "shutdown (the broker stopped)";
		/* The broker stops a queue before it tells watchers: the event follows shortly. */
		if (r < 0 || poll(&p, 1, 2000) <= 0)
			break;
	}
	fprintf(stderr, "accelctl: queue %llu revoked by the broker: %s\n", (unsigned long long)id, reason);
}

static void usage(const char *what, bool compress)
{
	printf("Usage: accelctl %s [-f] [-d DEVICE] [-o OUT]%s FILE\n"
	       "%s FILE through the accelerator (\"-\": standard input).\n"
	       "-o, --output OUT  write OUT instead of %s; \"-\" is standard output\n"
	       "-f, --force       overwrite OUT if it exists\n"
	       "-d, --device DEV  run it on DEV (as accelctl devices names it) instead of any\n"
	       "%s"
	       "Progress (bytes, rate, ratio) shows on a terminal for inputs over 4 MiB.\n"
	       "No --json: the output is the data; the summary goes to standard error.\n"
	       "Every command also takes --socket PATH and --help; options may follow arguments.\n",
	       what, compress ? " [-1..-9]" : "", compress ? "gzip" : "gunzip",
	       compress ? "FILE.gz" : "FILE without .gz",
	       compress ? "-1 .. -9          gzip level: -1 fastest, -9 smallest (default 6)\n" : "");
}

struct stream_args {
	const char *output, *input;
	bool force;
	struct accel_acquire_options where;
};

static int parse_stream_args(struct ctl *ctl, int argc, char **argv, struct stream *s,
			     struct stream_args *a)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "device", required_argument, NULL, 'd' },
		CTL_COMMON_OPTIONS,
	};
	const char *what = s->compress ? "compress" : "decompress";
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, s->compress ? "o:fd:h123456789" : "o:fd:h", options, NULL)) >= 0) {
		switch (c) {
		case 'o': a->output = optarg; break;
		case 'f': a->force = true; break;
		case 'd': a->where.device = optarg; break;
		case '1' ... '9': s->level = (unsigned)(c - '0'); break;
		case 'h': usage(what, s->compress); return 0;
		case CTL_OPT_SOCKET: ctl->socket_path = optarg; break;
		case CTL_OPT_JSON: ctl->json = true; break;
		default: return -EINVAL;
		}
	}
	if (ctl->json) {
		fprintf(stderr, "accelctl: %s has no --json output: it writes the data; "
			"its summary goes to standard error\n", what);
		return -EINVAL;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "accelctl: %s takes one FILE; see accelctl %s --help\n", what, what);
		return -EINVAL;
	}
	a->input = argv[optind];
	return 1;
}

static int open_input(struct stream *s, const char *input)
{
	struct stat st;

	s->in_fd = strcmp(input, "-") == 0 ? STDIN_FILENO : open(input, O_RDONLY | O_CLOEXEC);
	if (s->in_fd < 0) {
		fprintf(stderr, "accelctl: %s: %s\n", input, strerror(errno));
		return -errno;
	}
	if (fstat(s->in_fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "accelctl: %s: %s\n", input, strerror(EISDIR));
		return -EISDIR;
	}
	return 0;
}

static int stream_command(struct ctl *ctl, int argc, char **argv, bool compress)
{
	struct stream s = { .compress = compress, .in_fd = -1, .out_fd = -1 };
	struct stream_args a = { .where = { .device = NULL, .numa_node = -1 } };
	const char *output, *what = compress ? "compress" : "decompress";
	struct accel_events *events = NULL;
	char *default_out = NULL;
	unsigned char *own_buffer = NULL;
	struct accel_client *client;
	size_t size;
	int r;

	r = parse_stream_args(ctl, argc, argv, &s, &a);
	if (r <= 0)
		return r;
	output = a.output;
	if (!output) {
		if (strcmp(a.input, "-") == 0) {
			output = "-";
		} else {
			output = default_out = default_output(a.input, compress);
			if (!output) {
				fprintf(stderr, "accelctl: %s does not end in .gz; name the output with -o\n", a.input);
				return -EINVAL;
			}
		}
	}
	r = open_input(&s, a.input);
	if (r < 0)
		goto out;
	r = ctl_client(ctl, &client);
	if (r < 0)
		goto out;
	/* Only to say why, should the broker take the queue back (no events: no reason). */
	(void)accel_events_open(ctl_socket_path(ctl), &events);
	r = accel_acquire(client, compress ? "gzip" : "gunzip", &a.where, &s.q);
	if (r < 0) {
		ctl_error(ctl, r, "could not acquire a queue");
		goto out;
	}
	s.out_fd = open_output(output, a.force);
	if (s.out_fd < 0) {
		r = -errno;
		if (r == -EEXIST)
			fprintf(stderr, "accelctl: %s: File exists; -f overwrites it\n", output);
		else
			fprintf(stderr, "accelctl: %s: %s\n", output, strerror(errno));
		goto out;
	}
	s.in = accel_queue_buffer(s.q, &size);
	if (!s.in) {
		size = SVA_BUFFER_SIZE;
		s.in = own_buffer = malloc(size);
		if (!s.in) {
			r = -ENOMEM;
			goto out;
		}
	}
	s.half = size / 2;
	s.out = s.in + s.half;
	s.progress = isatty(STDERR_FILENO);
	s.started = s.last_shown = now();
	r = compress ? run_compress(&s) : run_decompress(&s);
	show_progress(&s, true);
	if (r == -ENOLINK && accel_queue_state(s.q) == ACCEL_QUEUE_REVOKED)
		explain_revoked(events, accel_queue_id(s.q));
	else if (r < 0)
		fprintf(stderr, "accelctl: %s %s: %s\n", what, a.input,
			r == -EBADMSG ? "not gzip data, or corrupt" :
			r == -EPIPE ? "unexpected end of the gzip data" : strerror(-r));
	if (r < 0 && s.out_fd != STDOUT_FILENO)
		unlink(output);
	else if (r == 0 && s.out_fd != STDOUT_FILENO)
		fprintf(stderr, "%s: %llu -> %llu bytes (queue %llu on %s)\n", output, s.bytes_in,
			s.bytes_out, (unsigned long long)accel_queue_id(s.q), accel_queue_device(s.q));
out:
	if (s.q)
		accel_release(s.q);
	if (events)
		accel_events_close(events);
	if (s.in_fd > STDIN_FILENO)
		close(s.in_fd);
	if (s.out_fd > STDOUT_FILENO && close(s.out_fd) < 0 && r == 0)
		r = -errno;
	free(default_out);
	free(own_buffer);
	return r;
}

int cmd_compress(struct ctl *ctl, int argc, char **argv)
{
	return stream_command(ctl, argc, argv, true);
}

int cmd_decompress(struct ctl *ctl, int argc, char **argv)
{
	return stream_command(ctl, argc, argv, false);
}

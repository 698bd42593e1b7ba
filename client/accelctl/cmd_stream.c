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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	unsigned long long bytes_in, bytes_out;
};

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

static int stream_command(struct ctl *ctl, int argc, char **argv, bool compress)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct stream s = { .compress = compress, .in_fd = -1, .out_fd = -1 };
	struct accel_acquire_options where = { .device = NULL, .numa_node = -1 };
	const char *output = NULL, *input, *what = compress ? "compress" : "decompress";
	char *default_out = NULL;
	unsigned char *own_buffer = NULL;
	struct accel_client *client;
	bool force = false;
	size_t size;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:fd:h", options, NULL)) >= 0) {
		switch (c) {
		case 'o': output = optarg; break;
		case 'f': force = true; break;
		case 'd': where.device = optarg; break;
		case 'h':
			printf("Usage: accelctl %s [-f] [-d DEVICE] [-o OUT] FILE\n"
			       "%s FILE through the accelerator (\"-\": standard input).\n"
			       "OUT defaults to %s; \"-\" is standard output.  -f overwrites OUT.\n"
			       "-d runs it on DEVICE (as accelctl devices names it) instead of any.\n",
			       what, compress ? "gzip" : "gunzip", compress ? "FILE.gz" : "FILE without .gz");
			return 0;
		default: return -EINVAL;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "accelctl: %s takes one FILE; see accelctl %s --help\n", what, what);
		return -EINVAL;
	}
	input = argv[optind];
	if (!output) {
		if (strcmp(input, "-") == 0) {
			output = "-";
		} else {
			output = default_out = default_output(input, compress);
			if (!output) {
				fprintf(stderr, "accelctl: %s does not end in .gz; name the output with -o\n", input);
				return -EINVAL;
			}
		}
	}

	s.in_fd = strcmp(input, "-") == 0 ? STDIN_FILENO : open(input, O_RDONLY | O_CLOEXEC);
	if (s.in_fd < 0) {
		r = -errno;
		fprintf(stderr, "accelctl: %s: %s\n", input, strerror(errno));
		goto out;
	}
	r = ctl_client(ctl, &client);
	if (r < 0)
		goto out;
	r = accel_acquire(client, compress ? "gzip" : "gunzip", &where, &s.q);
	if (r < 0) {
		ctl_error(ctl, r, "could not acquire a queue");
		goto out;
	}
	s.out_fd = open_output(output, force);
	if (s.out_fd < 0) {
		r = -errno;
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
	r = compress ? run_compress(&s) : run_decompress(&s);
	if (r < 0) {
		fprintf(stderr, "accelctl: %s %s: %s\n", what, input,
			r == -EBADMSG ? "not gzip data, or corrupt" :
			r == -EPIPE ? "unexpected end of the gzip data" : strerror(-r));
		if (s.out_fd != STDOUT_FILENO)
			unlink(output);
	} else if (s.out_fd != STDOUT_FILENO) {
		fprintf(stderr, "%s: %llu -> %llu bytes (queue %llu on %s)\n", output, s.bytes_in,
			s.bytes_out, (unsigned long long)accel_queue_id(s.q), accel_queue_device(s.q));
	}
out:
	if (s.q)
		accel_release(s.q);
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

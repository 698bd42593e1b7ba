// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event_loop.h"

/* A small run, to take the program's own setup out of the counts. */
#define BASELINE_OPS 64

/* @key's number in the one-line JSON @text, or -1. */
static double json_number(const char *text, const char *key)
{
	char pattern[64];
	const char *at;

	snprintf(pattern, sizeof(pattern), "\"%s\": ", key);
	at = strstr(text, pattern);
	return at ? strtod(at + strlen(pattern), NULL) : -1;
}

/* Run the example (@args, then @sock) under @prefix; its JSON line in @out. */
static int run_example(const char *build, const char *prefix, const char *args, const char *sock,
		       char *out, size_t size)
{
	char cmd[1024];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s %s/examples/accel-event-gzip --json --no-check %s %s", prefix, build,
		 args, sock);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (!fgets(out, (int)size, p))
		out[0] = '\0';
	return pclose(p) == 0 && out[0] ? 0 : -1;
}

/* From strace -c's table in @path: all calls, and those of the syscalls named in @skip (space-separated). */
static void strace_calls(const char *path, const char *skip, long *total, long *skipped)
{
	char line[512];
	FILE *f = fopen(path, "r");

	*total = *skipped = 0;
	while (f && fgets(line, sizeof(line), f)) {
		double pct, secs;
		long usecs, n;
		char name[64], padded[80];
		if (sscanf(line, "%lf %lf %ld %ld", &pct, &secs, &usecs, &n) != 4 ||
		    sscanf(strrchr(line, ' ') ? strrchr(line, ' ') + 1 : line, "%63s", name) != 1)
			continue;
		if (strcmp(name, "total") == 0)
			*total = n;
		snprintf(padded, sizeof(padded), " %s ", name);
		if (strstr(skip, padded))
			*skipped += n;
	}
	if (f)
		fclose(f);
}

struct counts {
	double per_op;			/* every call beyond the skipped ones */
	double reads_per_op, futex_per_op;
};

/* System calls per operation beyond @skip: two runs under strace, the small one taken off. */
static int syscalls_per_op(const char *build, const char *sock, const char *mode, size_t ops,
			   const char *skip, struct counts *out)
{
	long total[2], skipped[2], reads[2], futex[2];
	size_t n[2] = { BASELINE_OPS, ops };
	char file[64], prefix[128], args[64], line[512];
	double d = (double)(ops - BASELINE_OPS);

	snprintf(file, sizeof(file), "/tmp/accel-bench-event.%d", (int)getpid());
	snprintf(prefix, sizeof(prefix), "strace -f -c -o %s", file);
	for (int i = 0; i < 2; i++) {
		snprintf(args, sizeof(args), "%s --ops %zu", mode, n[i]);
		if (run_example(build, prefix, args, sock, line, sizeof(line)) < 0)
			return -1;
		long ignored;
		strace_calls(file, skip, &total[i], &skipped[i]);
		strace_calls(file, " read ", &ignored, &reads[i]);
		strace_calls(file, " futex ", &ignored, &futex[i]);
	}
	unlink(file);
	*out = (struct counts){
		.per_op = (double)((total[1] - skipped[1]) - (total[0] - skipped[0])) / d,
		.reads_per_op = (double)(reads[1] - reads[0]) / d,
		.futex_per_op = (double)(futex[1] - futex[0]) / d,
	};
	return 0;
}

void bench_event_loop(const char *build, const char *sock, size_t ops, struct event_loop_figures *f)
{
	char args[64], out[512];
	struct counts c;

	*f = (struct event_loop_figures){ .ops = ops };
	snprintf(args, sizeof(args), "--ops %zu", ops);
	if (run_example(build, "", args, sock, out, sizeof(out)) == 0) {
		f->event_ops_per_sec = json_number(out, "ops_per_sec");
		f->wakeups = json_number(out, "wakeups");
		f->batches = json_number(out, "batches");
	}
	snprintf(args, sizeof(args), "--blocking --ops %zu", ops);
	if (run_example(build, "", args, sock, out, sizeof(out)) == 0)
		f->blocking_ops_per_sec = json_number(out, "ops_per_sec");
	if (syscalls_per_op(build, sock, "", ops, " epoll_wait ", &c) == 0) {
		f->event_syscalls_per_op = c.per_op;
		f->event_reads_per_op = c.reads_per_op;
		f->event_futex_per_op = c.futex_per_op;
	}
	if (syscalls_per_op(build, sock, "--blocking", ops, "", &c) == 0)
		f->blocking_syscalls_per_op = c.per_op;
}

void bench_event_loop_print(const struct event_loop_figures *f)
{
	printf("  \"event_loop_gzip_64_in_flight\": {\"queues\": 4, \"in_flight\": 64, \"ops\": %zu, "
	       "\"event_ops_per_sec\": %.0f, \"blocking_ops_per_sec\": %.0f, \"ratio\": %.3f, "
	       "\"target_ratio\": 0.9, \"wakeups\": %.0f, \"batches\": %.0f, \"wakeups_per_batch\": %.3f, "
	       "\"target_wakeups_per_batch\": 1.0, \"event_syscalls_per_op_beyond_epoll_wait\": %.3f, "
	       "\"event_reads_per_op\": %.3f, \"event_futex_kicks_per_op\": %.3f, "
	       "\"blocking_syscalls_per_op\": %.3f}",
	       f->ops, f->event_ops_per_sec, f->blocking_ops_per_sec,
	       f->blocking_ops_per_sec > 0 ? f->event_ops_per_sec / f->blocking_ops_per_sec : 0, f->wakeups,
	       f->batches, f->batches > 0 ? f->wakeups / f->batches : 0, f->event_syscalls_per_op,
	       f->event_reads_per_op, f->event_futex_per_op, f->blocking_syscalls_per_op);
}

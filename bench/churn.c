// SPDX-License-Identifier: MIT
/*
 * accel-churn: the churn and load bench.  It starts its own broker on the
 * software engine, keeps --clients client processes (churn_client.c) each
 * holding --queues queues and running checked operations, and SIGKILLs
 * them at random points (mid-acquire, mid-gzip, mid-transfer, ...) until
 * --cycles clients have been killed.  Then every client settles at its
 * target (clients x queues live queues) and the broker is measured; then
 * every client is killed and what the broker still holds is compared with
 * what it held before the first one came.  Prints one JSON object.
 *
 *   accel-churn [options] BUILD_DIR
 *   accel-churn --client SOCKET QUEUES INTERVAL_MS SEED SETTLE   (internal)
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "churn.h"
#include "stats.h"
#include "util.h"

#define UID_BASE 61000
#define MAX_ERRORS_SHOWN 10
#define CLIENT_NICE 5
#define SLOW_SAMPLES 10		/* ListQueues and GetStatus at load take up to seconds each */

struct options {
	const char *build;
	unsigned clients, queues, cycles, uids, interval_ms, timeout_ms, max_seconds, samples;
	unsigned devices, device_queues, seed;
	bool check;
};

/* Where a client is killed: the phase it reports, how often, how many times at most. */
static const struct {
	char phase;
	unsigned weight;
	unsigned max_n;		/* 0: the client's queue count */
} plans[] = {
	{ CHURN_PHASE_ACQUIRE, 30, 0 },
	{ CHURN_PHASE_GZIP, 25, 4 },
	{ CHURN_PHASE_OP, 15, 8 },
	{ CHURN_PHASE_TRANSFER, 15, 2 },
	{ CHURN_PHASE_CLAIM, 10, 1 },
	{ CHURN_PHASE_RELEASE, 5, 1 },
};

struct churn;

struct slot {
	struct churn *ch;
	pid_t pid;
	int pidfd, ctl;
	uid_t uid;
	struct event *ev_ctl, *ev_exit, *ev_timeout;
	char plan;
	unsigned plan_n;
	unsigned seen[128];
	char killed_for;	/* the phase it was killed in; 'x': its time ran out */
	char last;		/* the last phase it reported: where a timeout found it */
	bool settled;
};

struct churn {
	const struct options *o;
	const char *self;
	struct churn_broker *b;
	struct event_base *base;
	struct slot *slots;
	uint32_t rng;
	uint64_t start_ns;
	unsigned alive, dying, settled;
	bool settling, broker_died, settle_timed_out;
	long rss_anon_peak_kib;	/* sampled every 10 s during the churn */
	uint64_t kills, kills_by[128], timeouts_in[128], phases[128], failures, errors, tokens,
		tokens_unplaced, claims_failed;
};

static void die(const char *what, int r)
{
	fprintf(stderr, "accel-churn: %s: %s\n", what, strerror(r < 0 ? -r : r));
	exit(1);
}

static uint32_t next_rand(struct churn *ch)
{
	ch->rng ^= ch->rng << 13;
	ch->rng ^= ch->rng >> 17;
	ch->rng ^= ch->rng << 5;
	return ch->rng;
}

static void ctl_send(struct slot *s, char kind, const char *text)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%c%s", kind, text ? text : "");

	/* A client that just died cannot take it: its exit is handled elsewhere. */
	(void)!send(s->ctl, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* ---- the clients ---- */

static void spawn(struct churn *ch, struct slot *s);
static void start_settle(struct churn *ch);

static void kill_slot(struct slot *s, char why)
{
	if (s->killed_for || s->pid <= 0)
		return;
	s->killed_for = why;
	s->ch->dying++;
	kill(s->pid, SIGKILL);
}

static void choose_plan(struct churn *ch, struct slot *s)
{
	unsigned total = 0, pick;

	for (size_t i = 0; i < ELEMENTSOF(plans); i++)
		total += plans[i].weight;
	pick = next_rand(ch) % total;
	for (size_t i = 0; i < ELEMENTSOF(plans); i++) {
		if (pick < plans[i].weight) {
			unsigned max_n = plans[i].max_n ? plans[i].max_n : ch->o->queues;
			s->plan = plans[i].phase;
			s->plan_n = 1 + next_rand(ch) % max_n;
			return;
		}
		pick -= plans[i].weight;
	}
}

/* An offer goes to another live client of the giver's uid, one waiting to be killed mid-claim first. */
static void place_token(struct churn *ch, struct slot *giver, const char *token)
{
	unsigned n = ch->o->clients, start = next_rand(ch) % n;
	struct slot *any = NULL;

	ch->tokens++;
	for (unsigned i = 0; i < n; i++) {
		struct slot *s = &ch->slots[(start + i) % n];
		if (s == giver || s->pid <= 0 || s->killed_for || s->uid != giver->uid)
			continue;
		if (s->plan == CHURN_PHASE_CLAIM || s->plan == CHURN_PHASE_RELEASE) {
			any = s;
			break;
		}
		if (!any)
			any = s;
	}
	if (any && !ch->settling)
		ctl_send(any, CHURN_CMD_CLAIM, token);
	else
		ch->tokens_unplaced++;
}

static void client_message(struct churn *ch, struct slot *s, const char *buf)
{
	unsigned char kind = (unsigned char)buf[0];

	switch (kind) {
	case CHURN_MSG_TOKEN:
		place_token(ch, s, buf + 1);
		break;
	case CHURN_MSG_CLAIM_FAILED:
		ch->claims_failed++;
		break;
	case CHURN_MSG_SETTLED:
		s->settled = true;
		ch->settled++;
		break;
	case CHURN_MSG_ERROR:
		if (ch->errors++ < MAX_ERRORS_SHOWN)
			fprintf(stderr, "accel-churn: client %d (uid %u): %s\n", (int)s->pid, (unsigned)s->uid, buf + 1);
		break;
	default:
		if (kind >= ELEMENTSOF(s->seen))
			break;
		ch->phases[kind]++;
		s->last = (char)kind;
		if (++s->seen[kind] == s->plan_n && kind == (unsigned char)s->plan && !ch->settling)
			kill_slot(s, (char)kind);
	}
}

static void settle_check(struct churn *ch)
{
	if (ch->settling && ch->dying == 0 && ch->settled == ch->alive)
		event_base_loopbreak(ch->base);
}

/*
 * Everything the client said, now: read one packet per wake-up and a
 * client's later phases wait behind its earlier ones, so under load its
 * time bound ran out before its kill point was ever seen.
 */
static void on_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;
	char buf[256];

	for (unsigned i = 0; i < 256 && s->pid > 0; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n <= 0) {
			/* Gone (or going): its pidfd says when. */
			if (n == 0 || errno != EAGAIN)
				event_del(s->ev_ctl);
			break;
		}
		buf[n] = '\0';
		client_message(s->ch, s, buf);
	}
	settle_check(s->ch);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;

	if (!s->ch->settling)
		kill_slot(s, 'x');
}

static void slot_clear(struct slot *s)
{
	event_free(s->ev_ctl);
	event_free(s->ev_exit);
	event_free(s->ev_timeout);
	close(s->ctl);
	close(s->pidfd);
	s->pid = 0;
	s->ch->alive--;
	if (s->settled)
		s->ch->settled--;
}

static void on_exit_event(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;
	struct churn *ch = s->ch;
	char why = s->killed_for;
	int status;

	/* What it said before it died counts (an error, a token). */
	if (event_pending(s->ev_ctl, EV_READ, NULL))
		on_ctl(s->ctl, EV_READ, s);
	waitpid(s->pid, &status, 0);
	if (why) {
		ch->dying--;
		ch->kills++;
		ch->kills_by[(unsigned char)why]++;
		if (why == 'x')
			ch->timeouts_in[(unsigned char)s->last]++;
	} else {
		ch->failures++;
		fprintf(stderr, "accel-churn: client %d ended by itself (status 0x%x)\n", (int)s->pid, status);
	}
	slot_clear(s);
	if (!ch->settling && ch->kills >= ch->o->cycles)
		start_settle(ch);
	if (why)
		spawn(ch, s);
	settle_check(ch);
}

static void client_exec(struct churn *ch, struct slot *s, int ctl)
{
	char queues[16], interval[16], seed[16];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/*
	 * The load yields to the broker and to this loop, as a system daemon's
	 * users would: otherwise 1,000 clients at the same priority starve the
	 * orchestrator and its kills fall behind (zombies piling up).
	 */
	errno = 0;
	if (nice(CLIENT_NICE) == -1 && errno)
		_exit(124);
	if (dup2(ctl, CHURN_CTL_FD) < 0)
		_exit(126);
	if (s->uid != getuid() && (setgroups(0, NULL) < 0 || setgid(s->uid) < 0 || setuid(s->uid) < 0))
		_exit(125);
	snprintf(queues, sizeof(queues), "%u", ch->o->queues);
	snprintf(interval, sizeof(interval), "%u", ch->o->interval_ms);
	snprintf(seed, sizeof(seed), "%u", next_rand(ch));
	execl(ch->self, ch->self, "--client", ch->b->sock, queues, interval, seed, ch->settling ? "1" : "0",
	      (char *)NULL);
	_exit(127);
}

static void spawn(struct churn *ch, struct slot *s)
{
	unsigned ms = ch->o->timeout_ms;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair", -errno);
	memset(s->seen, 0, sizeof(s->seen));
	s->killed_for = 0;
	s->last = 0;
	s->settled = false;
	choose_plan(ch, s);
	s->pid = fork();
	if (s->pid < 0)
		die("fork", -errno);
	if (s->pid == 0)
		client_exec(ch, s, sv[1]);
	close(sv[1]);
	s->ctl = sv[0];
	s->pidfd = pidfd_open(s->pid, 0);
	if (s->pidfd < 0)
		die("pidfd_open", -errno);
	s->ev_ctl = event_new(ch->base, s->ctl, EV_READ | EV_PERSIST, on_ctl, s);
	s->ev_exit = event_new(ch->base, s->pidfd, EV_READ, on_exit_event, s);
	s->ev_timeout = evtimer_new(ch->base, on_timeout, s);
	if (!s->ev_ctl || !s->ev_exit || !s->ev_timeout)
		die("event_new", -ENOMEM);
	event_add(s->ev_ctl, NULL);
	event_add(s->ev_exit, NULL);
	/* Every cycle is bounded: a client that never reaches its point is killed anyway. */
	event_add(s->ev_timeout, &(struct timeval){ ms / 1000, (ms % 1000) * 1000 });
	ch->alive++;
}

static void start_settle(struct churn *ch)
{
	if (ch->settling)
		return;
	ch->settling = true;
	fprintf(stderr, "accel-churn: %" PRIu64 " kills; every client settles at %u queues\n", ch->kills,
		ch->o->queues);
	for (unsigned i = 0; i < ch->o->clients; i++) {
		struct slot *s = &ch->slots[i];
		if (s->pid > 0 && !s->killed_for) {
			evtimer_del(s->ev_timeout);
			ctl_send(s, CHURN_CMD_SETTLE, NULL);
		}
	}
}

/* ---- the run's own events ---- */

static void on_broker_exit(evutil_socket_t fd, short what, void *arg)
{
	struct churn *ch = arg;

	ch->broker_died = true;
	fprintf(stderr, "accel-churn: the broker died (log: %s)\n", ch->b->log);
	event_base_loopbreak(ch->base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct churn *ch = arg;

	if (!ch->settling) {
		fprintf(stderr, "accel-churn: --max-seconds reached\n");
		start_settle(ch);
		return;
	}
	ch->settle_timed_out = true;
	fprintf(stderr, "accel-churn: clients did not settle in time (%u of %u)\n", ch->settled, ch->alive);
	event_base_loopbreak(ch->base);
}

static void on_progress(evutil_socket_t fd, short what, void *arg)
{
	struct churn *ch = arg;
	double secs = (double)(now_ns() - ch->start_ns) / 1e9;
	struct churn_census m;

	if (churn_census_memory(ch->b->pid, &m) == 0 && m.rss_anon_kib > ch->rss_anon_peak_kib)
		ch->rss_anon_peak_kib = m.rss_anon_kib;

	fprintf(stderr, "accel-churn: %.0f s: %" PRIu64 " kills (%.0f/s), %u clients, %" PRIu64 " errors\n", secs,
		ch->kills, (double)ch->kills / secs, ch->alive, ch->errors);
}

static double run_churn(struct churn *ch)
{
	const struct options *o = ch->o;
	unsigned max = o->max_seconds, settle = 120 + o->clients * o->queues / 100;
	struct event *ev_broker, *ev_deadline, *ev_settle, *ev_progress;
	uint64_t start;

	ch->base = event_base_new();
	ch->slots = calloc(o->clients, sizeof(*ch->slots));
	if (!ch->base || !ch->slots)
		die("event_base_new", -ENOMEM);
	ev_broker = event_new(ch->base, ch->b->pidfd, EV_READ, on_broker_exit, ch);
	ev_deadline = evtimer_new(ch->base, on_deadline, ch);
	ev_settle = evtimer_new(ch->base, on_deadline, ch);
	ev_progress = event_new(ch->base, -1, EV_PERSIST, on_progress, ch);
	event_add(ev_broker, NULL);
	event_add(ev_deadline, &(struct timeval){ max, 0 });
	event_add(ev_settle, &(struct timeval){ max + settle, 0 });
	event_add(ev_progress, &(struct timeval){ 10, 0 });
	start = ch->start_ns = now_ns();
	for (unsigned i = 0; i < o->clients; i++) {
		ch->slots[i].ch = ch;
		ch->slots[i].uid = getuid() == 0 && o->uids > 1 ? UID_BASE + i % o->uids : getuid();
		spawn(ch, &ch->slots[i]);
	}
	if (o->cycles == 0)
		start_settle(ch);
	event_base_dispatch(ch->base);
	event_free(ev_broker);
	event_free(ev_deadline);
	event_free(ev_settle);
	event_free(ev_progress);
	return (double)(now_ns() - start) / 1e9;
}

/* Every client gone, and waited for: what the broker holds then is its own. */
static void kill_all(struct churn *ch)
{
	for (unsigned i = 0; i < ch->o->clients; i++) {
		struct slot *s = &ch->slots[i];
		if (s->pid <= 0)
			continue;
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		slot_clear(s);
	}
}

/* ---- measurements ---- */

struct figures {
	struct churn_census base, at_load, end;
	long base_queues, base_clients, load_queues, load_clients, end_queues, end_clients;
	double acquire_low_us, acquire_high_us, list_low_ms, list_high_ms, status_low_us, status_high_us;
	double idle_cpu_pct;
	bool quiesced;
};

static void call_ok(int sock, const char *msg, int *fd)
{
	_cleanup_free_ char *reply = NULL;
	int r = churn_probe_call(sock, msg, &reply, fd);

	if (r < 0)
		die(msg, r);
	if (strstr(reply, "\"error\""))
		die(reply, EPROTO);
}

static uint64_t acquire_once(int sock, bool keep)
{
	_cleanup_free_ char *reply = NULL;
	char release[160];
	uint64_t start = now_ns(), t;
	int fd, r = churn_probe_call(sock, "{\"method\":\"org.accelbroker.Broker.AcquireQueue\","
				     "\"parameters\":{\"algorithm\":\"copy\"}}", &reply, &fd);
	const char *id;

	t = now_ns() - start;
	if (r < 0 || fd < 0 || !(id = strstr(reply, "\"queue_id\":")))
		die("AcquireQueue", r < 0 ? r : EPROTO);
	close(fd);
	if (!keep) {
		snprintf(release, sizeof(release), "{\"method\":\"org.accelbroker.Broker.ReleaseQueue\","
			 "\"parameters\":{\"queue_id\":%lld}}", strtoll(id + 11, NULL, 10));
		call_ok(sock, release, NULL);
	}
	return t;
}

/* AcquireQueue's round trip, p50 in µs: the call only, the release after it untimed. */
static double acquire_p50(int sock, unsigned n)
{
	uint64_t *t = calloc(n, sizeof(*t));
	double p50;

	for (unsigned i = 0; i < n; i++)
		t[i] = acquire_once(sock, false);
	p50 = percentile(t, n, 0.5) / 1e3;
	free(t);
	return p50;
}

static double call_p50_us(int sock, const char *method, unsigned n)
{
	uint64_t *t = calloc(n, sizeof(*t));
	char msg[128];
	double p50;

	snprintf(msg, sizeof(msg), "{\"method\":\"org.accelbroker.Broker.%s\"}", method);
	for (unsigned i = 0; i < n; i++) {
		uint64_t start = now_ns();
		call_ok(sock, msg, NULL);
		t[i] = now_ns() - start;
	}
	p50 = percentile(t, n, 0.5) / 1e3;
	free(t);
	return p50;
}

static void measure_calls(int probe, unsigned samples, double *acquire, double *list_ms, double *status)
{
	*acquire = acquire_p50(probe, samples);
	*list_ms = call_p50_us(probe, "ListQueues", SLOW_SAMPLES) / 1e3;
	*status = call_p50_us(probe, "GetStatus", SLOW_SAMPLES);
}

/* The broker's CPU over one second with every client idle (engine threads polling). */
static double idle_cpu_pct(pid_t pid)
{
	struct churn_census a, b;
	uint64_t start = now_ns();

	churn_census(pid, &a);
	usleep(1000000);
	churn_census(pid, &b);
	return 100.0 * (double)(b.cpu_ticks - a.cpu_ticks) / (double)sysconf(_SC_CLK_TCK) /
	       ((double)(now_ns() - start) / 1e9);
}

/* Bounded: until queues and fds are back where they started, or 60 s. */
static void wait_quiesced(struct churn_broker *b, int watch, struct figures *f)
{
	uint64_t deadline = now_ns() + 60ull * 1000000000ull;

	while (now_ns() < deadline) {
		if (churn_probe_status(watch, &f->end_queues, &f->end_clients) < 0 ||
		    churn_census(b->pid, &f->end) < 0)
			return;
		if (f->end_queues == f->base_queues && f->end.fds == f->base.fds &&
		    f->end_clients == f->base_clients) {
			f->quiesced = true;
			return;
		}
		usleep(10000);
	}
}

/* ---- output ---- */

static bool print_json(const struct options *o, const struct churn *ch, const struct figures *f, double secs)
{
	long leak_queues = f->end_queues - f->base_queues, leak_fds = f->end.fds - f->base.fds,
	     leak_pidfds = f->end.pidfds - f->base.pidfds, leak_memfds = f->end.memfds - f->base.memfds,
	     leak_clients = f->end_clients - f->base_clients;
	double ratio = f->acquire_high_us / f->acquire_low_us;
	bool ok = !ch->broker_died && !ch->settle_timed_out && ch->errors == 0 && ch->failures == 0 &&
		  leak_queues == 0 && leak_fds == 0 && leak_pidfds == 0 && leak_memfds == 0 && leak_clients == 0;

	printf("{\n");
	printf("  \"config\": {\"clients\": %u, \"queues_per_client\": %u, \"uids\": %u, \"cycles\": %u, "
	       "\"op_interval_ms\": %u, \"sim_devices\": %u, \"sim_queues\": %u},\n", o->clients, o->queues,
	       o->uids, o->cycles, o->interval_ms, o->devices, o->device_queues);
	printf("  \"churn\": {\"seconds\": %.1f, \"kills\": %" PRIu64 ", \"kills_per_sec\": %.1f, "
	       "\"killed_mid\": {\"acquire\": %" PRIu64 ", \"gzip\": %" PRIu64 ", \"copy_or_crc32c\": %" PRIu64
	       ", \"transfer\": %" PRIu64 ", \"claim\": %" PRIu64 ", \"release\": %" PRIu64 ", \"timeout\": %" PRIu64
	       "}, \"timeouts_after\": {\"acquire\": %" PRIu64 ", \"gzip\": %" PRIu64 ", \"copy_or_crc32c\": %" PRIu64
	       ", \"transfer\": %" PRIu64 ", \"claim\": %" PRIu64 ", \"release\": %" PRIu64 ", \"nothing\": %" PRIu64
	       "}, \"acquires\": %" PRIu64 ", \"gzip_ops\": %" PRIu64 ", \"other_ops\": %" PRIu64
	       ", \"transfers\": %" PRIu64 ", \"claims\": %" PRIu64 ", \"claims_refused\": %" PRIu64
	       ", \"client_errors\": %" PRIu64 ", \"client_failures\": %" PRIu64 ", \"broker_died\": %s, "
	       "\"settled\": %s},\n", secs, ch->kills, (double)ch->kills / secs, ch->kills_by['a'],
	       ch->kills_by['g'], ch->kills_by['o'], ch->kills_by['t'], ch->kills_by['c'], ch->kills_by['r'],
	       ch->kills_by['x'], ch->timeouts_in['a'], ch->timeouts_in['g'], ch->timeouts_in['o'], ch->timeouts_in['t'],
	       ch->timeouts_in['c'], ch->timeouts_in['r'], ch->timeouts_in[0], ch->phases['a'], ch->phases['g'], ch->phases['o'], ch->phases['t'], ch->phases['c'],
	       ch->claims_failed, ch->errors, ch->failures, ch->broker_died ? "true" : "false",
	       ch->settle_timed_out ? "false" : "true");
	printf("  \"leaked\": {\"queues\": %ld, \"fds\": %ld, \"owner_pidfds\": %ld, \"queue_memfds\": %ld, "
	       "\"clients\": %ld, \"target\": 0, \"quiesced\": %s},\n", leak_queues, leak_fds, leak_pidfds, leak_memfds,
	       leak_clients, f->quiesced ? "true" : "false");
	printf("  \"broker_memory_kib\": {\"live_queues\": %ld, \"rss_anon\": %ld, \"rss_shmem\": %ld, "
	       "\"rss_anon_at_start\": %ld, \"rss_anon_peak_during_churn\": %ld, \"rss_anon_at_end\": %ld, "
	       "\"target_rss_anon\": 65536},\n", f->load_queues, f->at_load.rss_anon_kib, f->at_load.rss_shmem_kib,
	       f->base.rss_anon_kib, ch->rss_anon_peak_kib, f->end.rss_anon_kib);
	printf("  \"broker_fds\": {\"at_start\": %d, \"at_load\": %d, \"at_end\": %d},\n", f->base.fds,
	       f->at_load.fds, f->end.fds);
	printf("  \"acquire_p50_us\": {\"at_10_queues\": %.1f, \"at_load\": %.1f, \"ratio\": %.2f, "
	       "\"target_ratio\": 1.5},\n", f->acquire_low_us, f->acquire_high_us, ratio);
	printf("  \"list_queues_p50_ms\": {\"at_10_queues\": %.2f, \"at_load\": %.2f},\n", f->list_low_ms,
	       f->list_high_ms);
	printf("  \"get_status_p50_us\": {\"at_10_queues\": %.1f, \"at_load\": %.1f},\n", f->status_low_us,
	       f->status_high_us);
	printf("  \"broker_idle_cpu_pct_at_load\": %.1f,\n", f->idle_cpu_pct);
	printf("  \"ok\": %s\n}\n", ok ? "true" : "false");
	return ok;
}

/* ---- options ---- */

static void usage(FILE *out, int status)
{
	fprintf(out,
		"Usage: accel-churn [options] BUILD_DIR\n"
		"Start BUILD_DIR/accel-broker on a private socket and churn it with client\n"
		"processes SIGKILLed at random points; print the figures as JSON.\n"
		"  --clients N        concurrent client processes (1000)\n"
		"  --queues N         queues each holds (10)\n"
		"  --cycles N         clients to SIGKILL (100000)\n"
		"  --uids N           spread the clients over N uids when root (8)\n"
		"  --interval-ms N    mean pause between a client's operations (250)\n"
		"  --timeout-ms N     a client's longest life (10000)\n"
		"  --max-seconds N    stop killing after N s (1800)\n"
		"  --samples N        calls per latency figure (300)\n"
		"  --seed N\n"
		"  --quick            50 clients, 10 queues, 2000 cycles\n"
		"  --smoke            8 clients, 4 queues, 300 cycles, 2 uids; implies --check\n"
		"  --check            exit 1 unless nothing leaked and nothing failed\n"
		"  --help             this text\n");
	exit(status);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { CLIENTS = 256, QUEUES, CYCLES, UIDS, INTERVAL, TIMEOUT, MAXSEC, SAMPLES, SEED, QUICK, SMOKE, CHECK,
	       HELP };
	static const struct option longopts[] = {
		{ "clients", 1, NULL, CLIENTS }, { "queues", 1, NULL, QUEUES }, { "cycles", 1, NULL, CYCLES },
		{ "uids", 1, NULL, UIDS }, { "interval-ms", 1, NULL, INTERVAL }, { "timeout-ms", 1, NULL, TIMEOUT },
		{ "max-seconds", 1, NULL, MAXSEC }, { "samples", 1, NULL, SAMPLES }, { "seed", 1, NULL, SEED },
		{ "quick", 0, NULL, QUICK }, { "smoke", 0, NULL, SMOKE }, { "check", 0, NULL, CHECK },
		{ "help", 0, NULL, HELP }, {}
	};
	unsigned *target[] = { [CLIENTS - CLIENTS] = &o->clients, &o->queues, &o->cycles, &o->uids,
			       &o->interval_ms, &o->timeout_ms, &o->max_seconds, &o->samples, &o->seed };
	int c;

	*o = (struct options){ .clients = 1000, .queues = 10, .cycles = 100000, .uids = 8, .interval_ms = 250,
			       .timeout_ms = 10000, .max_seconds = 1800, .samples = 300, .seed = 1 };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c >= CLIENTS && c <= SEED) {
			char *end;
			unsigned long v;
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v > UINT_MAX || optarg[0] == '-') {
				fprintf(stderr, "accel-churn: --%s: not a number: %s\n",
					longopts[c - CLIENTS].name, optarg);
				exit(2);
			}
			*target[c - CLIENTS] = (unsigned)v;
		}
		else if (c == QUICK)
			o->clients = 50, o->queues = 10, o->cycles = 2000;
		else if (c == SMOKE)
			o->clients = 8, o->queues = 4, o->cycles = 300, o->uids = 2, o->samples = 50,
			o->interval_ms = 20, o->check = true;
		else if (c == CHECK)
			o->check = true;
		else if (c == HELP)
			usage(stdout, 0);
		else
			usage(stderr, 2);
	}
	if (optind != argc - 1 || o->clients == 0 || o->queues == 0 || o->queues > CHURN_MAX_HELD / 2 ||
	    o->interval_ms == 0 || o->samples == 0)
		usage(stderr, 2);
	o->build = argv[optind];
	/* Room for every target, claims over it, and the probe's: a quarter more. */
	o->devices = 4;
	o->device_queues = (o->clients * o->queues * 5 / 4 + 64) / o->devices + 1;
	if (o->device_queues > 4096)
		die("--clients x --queues: more than the software devices hold", EINVAL);
}

static void raise_nofile(void)
{
	struct rlimit r;

	/* Two fds per client (its control socket and pidfd). */
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static int client_mode(int argc, char **argv)
{
	struct churn_client_opts co;

	if (argc != 7)
		return 2;
	co = (struct churn_client_opts){ .socket = argv[2], .queues = (unsigned)atoi(argv[3]),
					 .interval_ms = (unsigned)atoi(argv[4]),
					 .seed = (unsigned)strtoul(argv[5], NULL, 10),
					 .settle = strcmp(argv[6], "1") == 0 };
	return churn_client_main(&co);
}

int main(int argc, char **argv)
{
	static struct options o;
	static struct churn ch;
	struct churn_broker b;
	struct figures f = { 0 };
	char self[PATH_MAX];
	ssize_t len;
	double secs;
	int watch, probe, r;
	bool ok;

	if (argc > 1 && strcmp(argv[1], "--client") == 0)
		return client_mode(argc, argv);
	parse_options(argc, argv, &o);
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0)
		die("readlink", -errno);
	self[len] = '\0';
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);

	fprintf(stderr, "accel-churn: broker with %u x %u software queues\n", o.devices, o.device_queues);
	if ((r = churn_broker_start(&b, o.build, o.devices, o.device_queues)) < 0)
		die("broker start", r);
	if ((watch = churn_probe_connect(b.sock)) < 0)
		die("connect", watch);
	churn_probe_status(watch, &f.base_queues, &f.base_clients);
	churn_census(b.pid, &f.base);
	if ((probe = churn_probe_connect(b.sock)) < 0)
		die("connect", probe);
	for (int i = 0; i < 10; i++)
		acquire_once(probe, true);
	measure_calls(probe, o.samples, &f.acquire_low_us, &f.list_low_ms, &f.status_low_us);

	fprintf(stderr, "accel-churn: %u clients x %u queues, %u kills\n", o.clients, o.queues, o.cycles);
	ch = (struct churn){ .o = &o, .self = self, .b = &b, .rng = o.seed * 2654435761u | 1 };
	secs = run_churn(&ch);
	if (!ch.broker_died) {
		churn_probe_status(watch, &f.load_queues, &f.load_clients);
		churn_census(b.pid, &f.at_load);
		fprintf(stderr, "accel-churn: measuring at %ld live queues\n", f.load_queues);
		measure_calls(probe, o.samples, &f.acquire_high_us, &f.list_high_ms, &f.status_high_us);
		f.idle_cpu_pct = idle_cpu_pct(b.pid);
	}
	kill_all(&ch);
	close(probe);
	if (!ch.broker_died)
		wait_quiesced(&b, watch, &f);
	close(watch);
	ok = print_json(&o, &ch, &f, secs);
	fflush(stdout);
	r = churn_broker_stop(&b, !ok);
	if (r != 0 && !ch.broker_died)
		fprintf(stderr, "accel-churn: the broker exited with %d\n", r);
	return o.check && (!ok || r != 0) ? 1 : 0;
}

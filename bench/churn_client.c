// SPDX-License-Identifier: MIT
/*
 * One client process of accel-churn: a libevent loop over one broker
 * connection (common/wire.c, non-blocking), holding a number of queues
 * and running checked operations on them through libaccel's data path,
 * until the orchestrator kills it.  Every call is one at a time; the
 * phase byte goes to the orchestrator once the request is out, so that a
 * SIGKILL on receipt finds the call in the broker's hands.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zlib.h>

#include <accel/accel.h>

#include "churn.h"
#include "crc32c.h"
#include "util.h"
#include "varlink.h"
#include "wire.h"

#define METHOD(m) "{\"method\":\"org.accelbroker.Broker." m "\""
#define MAX_TOKENS 8
#define TOKEN_MAX 64
#define DST_OFFSET (2 * CHURN_MAX_OP)	/* destination, inside the data area */
#define TRANSFER_PERCENT 5

static const char *const algorithms[] = { "copy", "crc32c", "gzip" };

enum call {
	CALL_NONE,
	CALL_ACQUIRE,
	CALL_RELEASE,
	CALL_TRANSFER,
	CALL_CLAIM,
};

struct held {
	struct accel_queue *q;
	uint64_t id;
	const char *algorithm;	/* one of algorithms[] */
};

struct client {
	const struct churn_client_opts *o;
	struct event_base *base;
	struct wire w;
	struct event *ev_read, *ev_write, *ev_ctl, *ev_tick;
	enum call pending;
	const char *pending_algorithm;
	struct held held[CHURN_MAX_HELD];
	unsigned n_held;
	char tokens[MAX_TOKENS][TOKEN_MAX];
	unsigned n_tokens;
	bool settle, settled;
	uint32_t rng;
	unsigned char text[CHURN_MAX_OP];
	unsigned char check[CHURN_MAX_OP];
};

static void step(struct client *c);

static uint32_t next_rand(struct client *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 17;
	c->rng ^= c->rng << 5;
	return c->rng;
}

static void ctl_send(char kind, const char *text)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%c%s", kind, text ? text : "");

	/* The orchestrator reads at once; a lost orchestrator ends us below. */
	if (send(CHURN_CTL_FD, buf, (size_t)n, MSG_NOSIGNAL) < 0)
		_exit(3);
}

static void fail(const char *fmt, ...)
{
	char text[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ctl_send(CHURN_MSG_ERROR, text);
}

/* ---- calls ---- */

static void call(struct client *c, enum call kind, char phase, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r = wire_queue(&c->w, msg, (size_t)n, NULL, 0);
	if (r < 0) {
		fail("wire_queue: %s", strerror(-r));
		_exit(1);
	}
	r = wire_flush(&c->w);
	if (r == -EAGAIN)
		event_add(c->ev_write, NULL);
	else if (r < 0) {
		fail("send: %s", strerror(-r));
		_exit(1);
	}
	c->pending = kind;
	ctl_send(phase, NULL);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	int r = wire_flush(&c->w);

	if (r == -EAGAIN)
		event_add(c->ev_write, NULL);
	else if (r < 0) {
		fail("send: %s", strerror(-r));
		_exit(1);
	}
}

static void acquire(struct client *c)
{
	c->pending_algorithm = algorithms[next_rand(c) % ELEMENTSOF(algorithms)];
	call(c, CALL_ACQUIRE, CHURN_PHASE_ACQUIRE, METHOD("AcquireQueue") ",\"parameters\":{\"algorithm\":\"%s\"}}",
	     c->pending_algorithm);
}

static struct held take_held(struct client *c, unsigned i)
{
	struct held h = c->held[i];

	c->held[i] = c->held[--c->n_held];
	return h;
}

static void release_one(struct client *c)
{
	struct held h = take_held(c, next_rand(c) % c->n_held);

	accel_release(h.q);	/* an imported queue: only unmapped */
	call(c, CALL_RELEASE, CHURN_PHASE_RELEASE, METHOD("ReleaseQueue") ",\"parameters\":{\"queue_id\":%" PRIu64 "}}",
	     h.id);
}

/* The giver stops using the queue before it offers it (the protocol's rule). */
static void transfer_one(struct client *c)
{
	struct held h = take_held(c, next_rand(c) % c->n_held);

	accel_release(h.q);
	call(c, CALL_TRANSFER, CHURN_PHASE_TRANSFER,
	     METHOD("TransferQueue") ",\"parameters\":{\"queue_id\":%" PRIu64 "}}", h.id);
}

static void claim(struct client *c)
{
	char token[TOKEN_MAX];

	memcpy(token, c->tokens[--c->n_tokens], sizeof(token));
	c->pending_algorithm = NULL;
	call(c, CALL_CLAIM, CHURN_PHASE_CLAIM, METHOD("ClaimQueue") ",\"parameters\":{\"token\":\"%s\"}}", token);
}

/* ---- replies ---- */

static const char *json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
		json_object_get_string(v) : NULL;
}

static int64_t json_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int) ?
		json_object_get_int64(v) : -1;
}

static const char *known_algorithm(const char *name)
{
	for (size_t i = 0; name && i < ELEMENTSOF(algorithms); i++)
		if (strcmp(name, algorithms[i]) == 0)
			return algorithms[i];
	return NULL;
}

/* AcquireQueue's and ClaimQueue's reply: map the queue and hold it. */
static int import_queue(struct client *c, struct json_object *p)
{
	struct accel_region regions[ACCEL_MAX_REGIONS];
	struct json_object *list;
	struct accel_queue *q;
	size_t n = 0;
	_cleanup_close_ int fd = wire_take_fd(&c->w);
	const char *algorithm = known_algorithm(json_str(p, "algorithm"));
	int r;

	if (fd < 0 || !algorithm || !json_object_object_get_ex(p, "regions", &list))
		return -EBADMSG;
	for (; n < json_object_array_length(list) && n < ACCEL_MAX_REGIONS; n++) {
		struct json_object *e = json_object_array_get_idx(list, n);
		regions[n] = (struct accel_region){ json_str(e, "type"), (uint64_t)json_int(e, "offset"),
						    (uint64_t)json_int(e, "size") };
	}
	r = accel_queue_import(fd, &(struct accel_import){ (uint64_t)json_int(p, "queue_id"), json_str(p, "device"),
							   json_str(p, "api"), algorithm, regions, n }, &q);
	if (r < 0)
		return r;
	if (c->n_held == CHURN_MAX_HELD) {
		accel_release(q);
		return -ENOBUFS;
	}
	c->held[c->n_held++] = (struct held){ q, accel_queue_id(q), algorithm };
	return 0;
}

static void handle_reply(struct client *c, const char *msg, size_t len)
{
	struct varlink_reply reply;
	enum call kind = c->pending;
	int r;

	c->pending = CALL_NONE;
	if (varlink_reply_parse(msg, len, &reply) < 0) {
		fail("unparsable reply: %.100s", msg);
		return;
	}
	if (kind == CALL_NONE)
		fail("unasked message: %.100s", msg);
	else if (reply.error && kind == CALL_CLAIM)
		ctl_send(CHURN_MSG_CLAIM_FAILED, reply.error);
	else if (reply.error)
		fail("call %d: %s", (int)kind, reply.error);
	else if (kind == CALL_ACQUIRE || kind == CALL_CLAIM) {
		if ((r = import_queue(c, reply.parameters)) < 0)
			fail("import: %s", strerror(-r));
	} else if (kind == CALL_TRANSFER) {
		const char *token = json_str(reply.parameters, "token");
		if (token && strlen(token) < TOKEN_MAX)
			ctl_send(CHURN_MSG_TOKEN, token);
		else
			fail("TransferQueue without a token");
	}
	varlink_reply_finish(&reply);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	const char *msg;
	size_t len;
	int r = wire_read(&c->w);

	if (r == -EAGAIN || r == -EINTR)
		return;
	if (r <= 0) {
		fail("broker connection: %s", r == 0 ? "closed" : strerror(-r));
		_exit(1);
	}
	while (wire_next(&c->w, &msg, &len) == 1)
		handle_reply(c, msg, len);
	step(c);
}

/* ---- the data path ---- */

static size_t op_size(struct client *c)
{
	/* Log-uniform from 64 bytes to CHURN_MAX_OP: mostly small, some large. */
	unsigned shift = 6 + next_rand(c) % 11;
	size_t size = ((size_t)1 << shift) + next_rand(c) % ((size_t)1 << shift);

	return size > CHURN_MAX_OP ? CHURN_MAX_OP : size;
}

static bool gunzip_matches(struct client *c, const unsigned char *gz, size_t gz_len, const void *src, size_t len)
{
	z_stream z = { .next_in = (unsigned char *)gz, .avail_in = (uInt)gz_len,
		       .next_out = c->check, .avail_out = sizeof(c->check) };
	bool ok = inflateInit2(&z, 31) == Z_OK && inflate(&z, Z_FINISH) == Z_STREAM_END &&
		  z.total_out == len && memcmp(c->check, src, len) == 0;

	inflateEnd(&z);
	return ok;
}

static bool result_ok(struct client *c, const struct held *h, const unsigned char *src, size_t len,
		      const unsigned char *dst, const struct accel_completion *comp)
{
	if (comp->status < 0)
		return false;
	if (h->algorithm == algorithms[0])
		return comp->produced == len && memcmp(dst, src, len) == 0;
	if (h->algorithm == algorithms[1])
		return comp->value == crc32c(0, src, len);
	return (comp->flags & ACCEL_COMPLETION_STREAM_END) && gunzip_matches(c, dst, comp->produced, src, len);
}

static void run_op(struct client *c, struct held *h)
{
	size_t size = op_size(c), area;
	unsigned char *buf = accel_queue_buffer(h->q, &area);
	struct accel_completion comp;
	bool gzip = h->algorithm == algorithms[2];
	int r;

	if (!buf || area < DST_OFFSET + 2 * CHURN_MAX_OP) {
		fail("data area too small");
		return;
	}
	memcpy(buf, c->text + next_rand(c) % (CHURN_MAX_OP - size + 1), size);
	r = accel_submit(h->q, &(struct accel_op){ .src = buf, .src_len = size, .dst = buf + DST_OFFSET,
						   .dst_len = 2 * CHURN_MAX_OP,
						   .flags = gzip ? ACCEL_OP_FINISH : 0 });
	if (r < 0) {
		fail("submit %s: %s", h->algorithm, strerror(-r));
		return;
	}
	ctl_send(gzip ? CHURN_PHASE_GZIP : CHURN_PHASE_OP, NULL);
	r = accel_wait(h->q, &comp, 1, 30000);
	if (r != 1)
		fail("wait %s: %s", h->algorithm, r < 0 ? strerror(-r) : "nothing");
	else if (!result_ok(c, h, buf, size, buf + DST_OFFSET, &comp))
		fail("%s of %zu bytes: wrong result (status %d)", h->algorithm, size, comp.status);
}

/* ---- what to do next ---- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	if (c->pending != CALL_NONE || c->n_held == 0 || c->settle)
		return;
	if (next_rand(c) % 100 < TRANSFER_PERCENT) {
		transfer_one(c);
		return;
	}
	run_op(c, &c->held[next_rand(c) % c->n_held]);
	step(c);
}

static void step(struct client *c)
{
	if (c->pending != CALL_NONE)
		return;
	if (c->n_tokens > 0 && !c->settle && c->n_held < CHURN_MAX_HELD)
		claim(c);
	else if (c->n_held < c->o->queues)
		acquire(c);
	else if (c->n_held > c->o->queues)
		release_one(c);
	else if (c->settle) {
		/* Every queue measured at load has been used: its engine state exists. */
		for (unsigned i = 0; i < c->n_held && !c->settled; i++)
			run_op(c, &c->held[i]);
		if (!c->settled)
			ctl_send(CHURN_MSG_SETTLED, NULL);
		c->settled = true;
	} else {
		unsigned ms = c->o->interval_ms / 2 + next_rand(c) % (c->o->interval_ms + 1);
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
		evtimer_add(c->ev_tick, &tv);
	}
}

static void on_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	char buf[128];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		_exit(0);	/* the orchestrator is gone */
	buf[n] = '\0';
	if (buf[0] == CHURN_CMD_SETTLE) {
		c->settle = true;
		c->n_tokens = 0;
		evtimer_del(c->ev_tick);
	} else if (buf[0] == CHURN_CMD_CLAIM && c->n_tokens < MAX_TOKENS && n < TOKEN_MAX) {
		memcpy(c->tokens[c->n_tokens++], buf + 1, (size_t)n);
	}
	step(c);
}

static void fill_text(struct client *c)
{
	static const char *const words[] = { "queue ", "broker ", "deflate ", "ring ", "revoke ", "quota ",
					     "owner ", "token " };
	size_t len = 0;

	while (len < sizeof(c->text)) {
		const char *w = words[next_rand(c) % ELEMENTSOF(words)];
		for (; *w && len < sizeof(c->text); w++)
			c->text[len++] = (unsigned char)*w;
	}
}

static int connect_broker(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* A local stream socket connects at once or fails (EAGAIN: backlog full). */
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int churn_client_main(const struct churn_client_opts *o)
{
	static struct client c;
	int fd = connect_broker(o->socket);

	if (fd < 0) {
		fail("connect: %s", strerror(-fd));
		return 1;
	}
	c.o = o;
	c.rng = o->seed | 1;
	c.settle = o->settle;
	fill_text(&c);
	wire_init(&c.w, fd);
	c.base = event_base_new();
	if (!c.base)
		return 1;
	c.ev_read = event_new(c.base, fd, EV_READ | EV_PERSIST, on_read, &c);
	c.ev_write = event_new(c.base, fd, EV_WRITE, on_write, &c);
	c.ev_ctl = event_new(c.base, CHURN_CTL_FD, EV_READ | EV_PERSIST, on_ctl, &c);
	c.ev_tick = evtimer_new(c.base, on_tick, &c);
	if (!c.ev_read || !c.ev_write || !c.ev_ctl || !c.ev_tick)
		return 1;
	event_add(c.ev_read, NULL);
	event_add(c.ev_ctl, NULL);
	step(&c);
	event_base_dispatch(c.base);
	return 0;
}

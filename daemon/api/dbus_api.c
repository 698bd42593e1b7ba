// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "clients.h"
#include "dbus_api.h"
#include "device.h"
#include "listing.h"
#include "listener.h"
#include "log.h"
#include "owner.h"
#include "peer.h"
#include "resolver.h"
#include "util.h"

#define MAX_OPTIONS 16	/* entries in an a{sv} of options or selectors */
/*
 * Records of names that hold no queue, kept to spare their next call the
 * credential lookups.  Each costs a match rule on the bus (sd_bus_track),
 * of which dbus-daemon allows a connection 512 by default.
 */
#define MAX_IDLE_CLIENTS 64

/* One sender on the bus: its unique name, credentials and queues. */
struct bus_client {
	struct list link;	/* dbus_api.clients */
	struct dbus_api *api;
	char *name;		/* unique name, e.g. ":1.42"; never reused by the bus */
	sd_bus_track *track;	/* tells us when the name leaves */
	struct peer peer;
	struct broker_watcher watcher;	/* QueueRevoked to this name; Revoked if subscribed */
	bool subscribed;	/* Subscribe(): the bus's Monitor */
	struct list lookups;	/* struct bus_lookup: calls waiting for the user database */
};

/* A call waiting for the user database: answered from the resolver's answer, on the stored message. */
struct bus_lookup {
	struct list link;	/* bus_client.lookups */
	struct bus_client *client;
	sd_bus_message *m;	/* the call, referenced until answered */
	struct resolver_job *job;	/* NULL once answered */
};

static void bus_lookup_free(struct bus_lookup *l)
{
	list_remove(&l->link);
	resolver_cancel(l->job);
	sd_bus_message_unref(l->m);
	free(l);
}

/* A core error as a D-Bus error: org.accelbroker.Broker.X -> org.accelbroker.Broker1.Error.X. */
static int bus_error(sd_bus_error *error, const struct accel_error *e)
{
	const char *name = e->name ? e->name : ERR_INVALID_PARAMETER;
	const char *dot = strrchr(name, '.');
	char full[128];

	snprintf(full, sizeof(full), DBUS_ERROR_PREFIX "%s", dot ? dot + 1 : name);
	sd_bus_error_set(error, full, e->message);
	return accel_error_errno(name);
}

/* A core error in answer to @c's call @m, logged as the socket's are. */
static int client_error(const struct bus_client *c, sd_bus_message *m, const struct accel_error *e,
			sd_bus_error *error)
{
	broker_log_failure(&c->peer, sd_bus_message_get_member(m), e);
	return bus_error(error, e);
}

static int invalid(sd_bus_error *error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int invalid(sd_bus_error *error, const char *fmt, ...)
{
	struct accel_error e = { .name = ERR_INVALID_PARAMETER };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	return bus_error(error, &e);
}

static struct bus_client *client_new(struct dbus_api *api, const char *sender)
{
	struct bus_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->api = api;
	list_init(&c->lookups);
	c->name = strdup(sender);
	if (!c->name) {
		free(c);
		return NULL;
	}
	return c;
}

/* A record not yet in the list: nothing but its name, track and process to let go. */
static void client_discard(struct bus_client *c)
{
	sd_bus_track_unref(c->track);
	peer_finish(&c->peer);
	owner_unref(c->peer.process);
	free(c->name);
	free(c);
}

static void client_discardp(struct bus_client **c)
{
	if (*c)
		client_discard(*c);
}

static void client_free(struct bus_client *c)
{
	struct broker *b = c->api->broker;
	struct bus_lookup *l, *tmp;

	list_for_each_safe(l, tmp, &c->lookups, link)
		bus_lookup_free(l);	/* no one left to answer */
	broker_unwatch(&c->watcher);
	broker_release_holder(b, c);
	broker_client_remove(b, c->peer.uid);
	list_remove(&c->link);
	log_debug("Bus client %s gone", c->name);
	client_discard(c);
}

static int on_name_gone(sd_bus_track *track, void *userdata)
{
	(void)track;
	client_free(userdata);
	return 0;
}

/* The signal @member of @types, unicast to @c's name: nobody else receives it, whatever their match rules. */
static int send_unicast(struct bus_client *c, const char *member, const char *types, ...)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	va_list ap;
	int r;

	r = sd_bus_message_new_signal(c->api->bus, &m, DBUS_PATH, DBUS_INTERFACE, member);
	if (r < 0)
		return r;
	r = sd_bus_message_set_destination(m, c->name);
	if (r < 0)
		return r;
	va_start(ap, types);
	r = sd_bus_message_appendv(m, types, ap);
	va_end(ap);
	if (r < 0)
		return r;
	return sd_bus_send(c->api->bus, m, NULL);
}

/*
 * Revoked(t queue_id, s device, s algorithm, u uid, s reason) to a
 * subscribed name, as the socket's Monitor streams it (the broker watcher
 * checked that the name may see @q); QueueRevoked(t queue_id, s reason)
 * to the owner only: the name holding it, or the process owning it.
 */
static void client_queue_changed(struct broker_watcher *w, const struct queue *q, enum queue_state from,
				 const char *reason)
{
	struct bus_client *c = (struct bus_client *)((char *)w - offsetof(struct bus_client, watcher));
	int r;

	(void)from;
	if (q->state != QUEUE_REVOKED)	/* the signals tell revocations only */
		return;
	if (c->subscribed) {
		r = send_unicast(c, "Revoked", "tssus", (uint64_t)q->id, q->device->name, q->algorithm,
				 (uint32_t)q->uid, reason);
		if (r < 0)
			log_warning_errno(r, "Could not tell %s that queue %llu was revoked", c->name,
					  (unsigned long long)q->id);
	}
	if (q->holder != c && !(q->process && q->process == c->peer.process))
		return;
	r = send_unicast(c, "QueueRevoked", "ts", (uint64_t)q->id, reason);
	if (r < 0)
		log_warning_errno(r, "Could not tell %s that queue %llu was revoked", c->name,
				  (unsigned long long)q->id);
}

/* One entry of GetConnectionCredentials' a{sv}, the key read; *@gids points into @reply. */
static int read_driver_entry(sd_bus_message *reply, const char *key, const char *contents, uid_t uid,
			     const uint32_t **gids, size_t *n_gids, bool *uid_seen, int *pidfd)
{
	int r;

	if (strcmp(key, "UnixGroupIDs") == 0 && strcmp(contents, "au") == 0) {
		size_t size;

		r = sd_bus_message_enter_container(reply, 'v', "au");
		if (r < 0)
			return r;
		r = sd_bus_message_read_array(reply, 'u', (const void **)gids, &size);
		if (r < 0)
			return r;
		*n_gids = size / sizeof(uint32_t);
		return sd_bus_message_exit_container(reply);
	}
	if (strcmp(key, "UnixUserID") == 0 && strcmp(contents, "u") == 0) {
		uint32_t driver_uid;

		r = sd_bus_message_read(reply, "v", "u", &driver_uid);
		if (r < 0)
			return r;
		/* The same kernel fact twice: anything else is not to be trusted. */
		if (driver_uid != uid)
			return -EPERM;
		*uid_seen = true;
		return 0;
	}
	if (strcmp(key, "ProcessFD") == 0 && strcmp(contents, "h") == 0) {
		int fd;

		r = sd_bus_message_read(reply, "v", "h", &fd);
		if (r < 0)
			return r;
		if (*pidfd < 0)
			*pidfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		return 0;
	}
	return sd_bus_message_skip(reply, "v");
}

/*
 * Groups and, where the bus offers one, a pidfd: GetConnectionCredentials,
 * which the bus fills from the kernel (SO_PEERCRED, SO_PEERGROUPS) when the
 * client connected.  sd-bus 252 does not read UnixGroupIDs itself.  With
 * the groups comes the admin decision (peer.c).
 */
static int read_driver_credentials(struct bus_client *c, int *pidfd)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	const uint32_t *gids = NULL;
	size_t n_gids = 0;
	bool uid_seen = false;
	int r;

	r = sd_bus_call_method(c->api->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			       "org.freedesktop.DBus", "GetConnectionCredentials", NULL, &reply, "s",
			       c->name);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(reply, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
		const char *key, *contents;
		char type;

		r = sd_bus_message_read(reply, "s", &key);
		if (r < 0)
			return r;
		r = sd_bus_message_peek_type(reply, &type, &contents);
		if (r < 0)
			return r;
		r = read_driver_entry(reply, key, contents, c->peer.uid, &gids, &n_gids, &uid_seen, pidfd);
		if (r < 0)
			return r;
		r = sd_bus_message_exit_container(reply);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	if (!uid_seen)
		return -EPERM;
	_Static_assert(sizeof(gid_t) == sizeof(uint32_t), "D-Bus carries gids as u");
	peer_set_groups(&c->peer, gids, n_gids, c->api->broker->limits.admin_gid, c->name);
	return 0;
}

/*
 * @what of a caller could not be had (@r).  Only the bus not vouching for
 * them refuses the caller (AccessDenied); the broker's own shortage is
 * OutOfResources and a bus that did not answer in time its Timeout, as
 * for any call the broker could not serve: the caller may try again.
 */
static int credentials_error(sd_bus_error *error, int r, const char *what)
{
	struct accel_error e = { 0 };

	if (r == -ENOMEM || r == -EMFILE || r == -ENFILE || r == -ENOBUFS) {
		listener_out_of_resources(&e, r, what);
		return bus_error(error, &e);
	}
	if (r == -ETIMEDOUT)
		return sd_bus_error_set_errnof(error, r, "%s: the bus did not answer in time", what);
	return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "the bus could not vouch for %s", what);
}

/*
 * The caller's credentials, as the bus driver vouches for them: the
 * effective uid and pid from sd_bus_query_sender_creds() (refused if sd-bus
 * could only fill them from /proc, which races), groups and a pidfd from
 * the driver.  Anything missing refuses the call.
 */
static int client_credentials(struct bus_client *c, sd_bus_message *m, sd_bus_error *error)
{
	_cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
	const uint64_t need = SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID;
	_cleanup_close_ int pidfd = -1;
	uid_t uid;
	pid_t pid;
	int r;

	r = sd_bus_query_sender_creds(m, need, &creds);
	if (r < 0)
		return credentials_error(error, r, "the caller's credentials");
	if ((sd_bus_creds_get_augmented_mask(creds) & need) || sd_bus_creds_get_euid(creds, &uid) < 0 ||
	    sd_bus_creds_get_pid(creds, &pid) < 0 || pid <= 0)
		return credentials_error(error, -EPERM, "the caller's credentials");
	c->peer = (struct peer){ .uid = uid, .gid = (gid_t)-1, .pid = pid };
	r = read_driver_credentials(c, &pidfd);
	if (r < 0)
		return credentials_error(error, r, "the caller's groups");
	/*
	 * Without a ProcessFD from the bus, pidfd_open() the pid: the name is
	 * tracked already, so a process that is gone shows up as a name that
	 * left, and its queues go with it.
	 */
	c->peer.process = owner_get(&c->api->broker->owners, pid, TAKE_FD(pidfd));
	peer_set_home(&c->peer);
	return 0;
}

/* Whether forgetting @c would lose something: its queues, its subscription, a call to answer. */
static bool client_holds_queues(const struct bus_client *c)
{
	return c->subscribed || !list_empty(&c->lookups) || broker_holds_queues(c->api->broker, c);
}

/* Forget the least recently seen names that hold nothing, beyond @keep. */
static void trim_idle_clients(struct dbus_api *api, unsigned keep)
{
	struct bus_client *c, *tmp;
	unsigned idle = 0;

	list_for_each(c, &api->clients, link)
		idle += !client_holds_queues(c);
	list_for_each_safe(c, tmp, &api->clients, link) {
		if (idle <= keep)
			break;
		if (!client_holds_queues(c)) {
			client_free(c);
			idle--;
		}
	}
}

/* The least recently seen name that holds nothing, of @uid unless NULL. */
static struct bus_client *oldest_idle_client(struct dbus_api *api, const uid_t *uid)
{
	struct bus_client *c;

	list_for_each(c, &api->clients, link)
		if ((!uid || c->peer.uid == *uid) && !client_holds_queues(c))
			return c;
	return NULL;
}

/*
 * Count a new name of @uid against the broker's connections and the
 * uid's.  A name that holds nothing is only remembered to spare it the
 * credential lookups: when the broker or the uid is full, those records go,
 * least recently seen first (the uid's own first), before anyone is refused.
 */
static int client_count(struct dbus_api *api, uid_t uid, sd_bus_error *error)
{
	struct broker *b = api->broker;
	struct accel_error e = { 0 };
	struct bus_client *idle;
	int r;

	trim_idle_clients(api, MAX_IDLE_CLIENTS);
	while ((r = broker_client_add(b, uid, &e)) == -EDQUOT) {
		idle = oldest_idle_client(api, &uid);
		if (!idle && broker_clients(b) >= b->limits.max_connections)
			idle = oldest_idle_client(api, NULL);
		if (!idle)
			break;
		client_free(idle);
	}
	return r < 0 ? bus_error(error, &e) : 0;
}

/* The record of the sender of @m, made on its first call; most recently seen last. */
static int client_get(struct dbus_api *api, sd_bus_message *m, struct bus_client **out,
		      sd_bus_error *error)
{
	const char *sender = sd_bus_message_get_sender(m);
	_cleanup_(client_discardp) struct bus_client *new = NULL;
	struct bus_client *c;
	int r;

	if (!sender)
		return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "no sender");
	list_for_each(c, &api->clients, link)
		if (strcmp(c->name, sender) == 0) {
			list_remove(&c->link);
			list_insert_tail(&api->clients, &c->link);
			*out = c;
			return 0;
		}
	new = client_new(api, sender);
	if (!new)
		return -ENOMEM;
	/* Track the name before asking about it: leaving after this is seen. */
	r = sd_bus_track_new(api->bus, &new->track, on_name_gone, new);
	if (r < 0)
		return r;
	r = sd_bus_track_add_name(new->track, sender);
	if (r < 0)
		return r;
	r = client_credentials(new, m, error);
	if (r < 0)
		return r;
	r = client_count(api, new->peer.uid, error);
	if (r < 0)
		return r;
	c = TAKE_PTR(new);
	c->watcher = (struct broker_watcher){ .peer = &c->peer, .queue_changed = client_queue_changed };
	broker_watch(api->broker, &c->watcher);
	list_insert_tail(&api->clients, &c->link);
	log_debug("Bus client %s: uid %u pid %d", c->name, (unsigned)c->peer.uid, (int)c->peer.pid);
	*out = c;
	return 0;
}

/* Reply (t queue_id, s device, s api, h fd, a(stt) regions). */
static int reply_queue(sd_bus_message *m, const struct queue *q)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_message_new_method_return(m, &reply);
	if (r < 0)
		return r;
	r = sd_bus_message_append(reply, "tssh", (uint64_t)q->id, q->device->name, q->device->api, q->fd);
	if (r < 0)
		return r;
	r = sd_bus_message_open_container(reply, 'a', "(stt)");
	if (r < 0)
		return r;
	for (unsigned i = 0; i < q->n_regions; i++) {
		r = sd_bus_message_append(reply, "(stt)", q->regions[i].type, q->regions[i].offset,
					  q->regions[i].size);
		if (r < 0)
			return r;
	}
	r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

/* listener_acquire()'s sender: @data is the call. */
static int send_queue(const struct queue *q, void *data)
{
	return reply_queue(data, q);
}

/*
 * One key of an a{sv} argument: its name, its variant's type and where in
 * the request it goes.  The tables below are the one list of the keys a
 * method takes (tests/fuzz/fuzz_dbus.c checks against them too).
 */
struct dict_field {
	const char *key;
	char type;		/* 's' (const char *), 'i' (int32_t) or 't' (uint64_t) */
	size_t offset;		/* in the request */
};

_Static_assert(sizeof(((struct acquire_request *)0)->numa_node) == sizeof(int32_t), "read as i");

/* AcquireQueue's options. */
static const struct dict_field acquire_options[] = {
	{ "device", 's', offsetof(struct acquire_request, device) },
	{ "numa_node", 'i', offsetof(struct acquire_request, numa_node) },
	{ 0 },
};

/* Revoke's selector, as the bus gives it: the user a name or a number. */
struct revoke_selector {
	uint64_t queue_id;
	const char *user;
	const char *device;
	const char *unit;
};

static const struct dict_field revoke_selector[] = {
	{ "queue_id", 't', offsetof(struct revoke_selector, queue_id) },
	{ "user", 's', offsetof(struct revoke_selector, user) },
	{ "device", 's', offsetof(struct revoke_selector, device) },
	{ "unit", 's', offsetof(struct revoke_selector, unit) },
	{ 0 },
};

/* One entry of an a{sv}, its key read: the value into @request by @fields. */
static int read_dict_entry(sd_bus_message *m, const struct dict_field *fields, void *request,
			   const char *what, sd_bus_error *error)
{
	const struct dict_field *f;
	const char *key, *contents;
	char type;
	int r;

	r = sd_bus_message_read(m, "s", &key);
	if (r < 0)
		return r;
	r = sd_bus_message_peek_type(m, &type, &contents);
	if (r < 0)
		return r;
	for (f = fields; f->key; f++)
		if (strcmp(f->key, key) == 0)
			break;
	if (!f->key)
		return invalid(error, "unknown %s \"%.64s\"", what, key);
	/* Named the way busctl and gdbus spell types, so the fix is plain. */
	if (contents[0] != f->type || contents[1] != '\0')
		return invalid(error, "%s %s wants %c, got %.16s", what, f->key, f->type, contents);
	return sd_bus_message_read(m, "v", (char[]){ f->type, '\0' }, (char *)request + f->offset);
}

/*
 * Read an a{sv} of at most MAX_OPTIONS entries into @request by @fields;
 * an unknown key or a value of another type is InvalidParameter, naming
 * @what.
 */
static int read_dict(sd_bus_message *m, const struct dict_field *fields, void *request,
		     const char *what, sd_bus_error *error)
{
	unsigned n = 0;
	int r;

	r = sd_bus_message_enter_container(m, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		if (++n > MAX_OPTIONS)
			return invalid(error, "more than %d %ss", MAX_OPTIONS, what);
		r = read_dict_entry(m, fields, request, what, error);
		if (r < 0)
			return r;
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

static int read_acquire_options(sd_bus_message *m, struct acquire_request *req, sd_bus_error *error)
{
	struct accel_error e = { 0 };
	int r;

	r = read_dict(m, acquire_options, req, "option", error);
	if (r < 0)
		return r;
	r = listener_numa_node(req->numa_node, &req->numa_node, &e);
	if (r < 0)
		return bus_error(error, &e);
	return 0;
}

static int read_revoke_selector(sd_bus_message *m, struct revoke_selector *req, sd_bus_error *error)
{
	return read_dict(m, revoke_selector, req, "selector", error);
}

/* Acquire what @req asks for, for the sender of @m, and reply with the queue. */
static int acquire(struct dbus_api *api, sd_bus_message *m, const struct acquire_request *req,
		   sd_bus_error *error)
{
	struct accel_error e = { 0 };
	struct bus_client *c;
	int r;

	r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	r = listener_acquire(api->broker, &c->peer, c, req, send_queue, m, &e);
	if (r < 0)
		return client_error(c, m, &e, error);
	return 0;
}

static int method_acquire_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct acquire_request req = { .numa_node = -1 };
	int r;

	r = sd_bus_message_read(m, "s", &req.algorithm);
	if (r < 0)
		return r;
	r = read_acquire_options(m, &req, error);
	if (r < 0)
		return r;
	return acquire(userdata, m, &req, error);
}

/* AcquireQueue with plain arguments, for callers that cannot build an a{sv} (dbus-send). */
static int method_acquire_queue_simple(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct acquire_request req = { .numa_node = -1 };
	const char *device;
	int r;

	r = sd_bus_message_read(m, "ss", &req.algorithm, &device);
	if (r < 0)
		return r;
	req.device = *device ? device : NULL;	/* "": any device */
	return acquire(userdata, m, &req, error);
}

/* What a method on one of the caller's queues does, the id read and the caller known. */
typedef int (*queue_method_fn)(struct dbus_api *api, struct bus_client *c, sd_bus_message *m,
			       uint64_t id, struct accel_error *e);

/* A queue method's caller @c and its queue id, read from @m. */
static int read_queue_call(sd_bus_message *m, struct dbus_api *api, struct bus_client **c, uint64_t *id,
			   sd_bus_error *error)
{
	int r;

	r = sd_bus_message_read(m, "t", id);
	if (r < 0)
		return r;
	return client_get(api, m, c, error);
}

/* A failure the core named in @e goes back as its D-Bus error, logged. */
static int queue_call_end(struct bus_client *c, sd_bus_message *m, int r, const struct accel_error *e,
			  sd_bus_error *error)
{
	return r < 0 && e->name ? client_error(c, m, e, error) : r;
}

/* The methods that take a queue id: read it, know the caller, run @fn. */
static int on_queue_id(sd_bus_message *m, struct dbus_api *api, queue_method_fn fn, sd_bus_error *error)
{
	struct accel_error e = { 0 };
	struct bus_client *c;
	uint64_t id;
	int r;

	r = read_queue_call(m, api, &c, &id, error);
	if (r < 0)
		return r;
	return queue_call_end(c, m, fn(api, c, m, id, &e), &e, error);
}

/* What a method that only tells of one of the caller's queues replies. */
typedef int (*queue_reply_fn)(sd_bus_message *m, const struct queue *q);

/* The methods that tell of one of the caller's queues (holder or owner process): @fn replies. */
static int on_own_queue(sd_bus_message *m, struct dbus_api *api, queue_reply_fn fn, sd_bus_error *error)
{
	struct accel_error e = { 0 };
	struct bus_client *c;
	struct queue *q;
	uint64_t id;
	int r;

	r = read_queue_call(m, api, &c, &id, error);
	if (r < 0)
		return r;
	r = broker_get_queue(api->broker, &c->peer, c, id, &q, &e);
	if (r >= 0)
		r = fn(m, q);
	return queue_call_end(c, m, r, &e, error);
}

static int release_queue(struct dbus_api *api, struct bus_client *c, sd_bus_message *m, uint64_t id,
			 struct accel_error *e)
{
	int r;

	r = broker_release(api->broker, &c->peer, c, id, e);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, "");
}

static int method_release_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return on_queue_id(m, userdata, release_queue, error);
}

static int attach_queue(struct dbus_api *api, struct bus_client *c, sd_bus_message *m, uint64_t id,
			struct accel_error *e)
{
	return listener_attach(api->broker, &c->peer, c, id, send_queue, m, e);
}

static int method_attach_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return on_queue_id(m, userdata, attach_queue, error);
}

static int transfer_queue(struct dbus_api *api, struct bus_client *c, sd_bus_message *m, uint64_t id,
			  struct accel_error *e)
{
	char token[QUEUE_TOKEN_LEN + 1];
	int r;

	r = broker_transfer(api->broker, &c->peer, c, id, token, e);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, "st", token, api->broker->limits.transfer_timeout_usec);
}

static int method_transfer_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return on_queue_id(m, userdata, transfer_queue, error);
}

/* The terms of the caller's queue: what AcquireQueue's fixed signature has no room for. */
static int reply_queue_terms(sd_bus_message *m, const struct queue *q)
{
	return sd_bus_reply_method_return(m, "sss", device_bind_to_string(q->device),
					  policy_lifetime_to_string(q->terms.lifetime),
					  policy_fork_to_string(q->terms.fork));
}

static int method_get_queue_terms(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return on_own_queue(m, userdata, reply_queue_terms, error);
}

/*
 * What to poll for the caller's queue's completions (accel_queue_event_fd()):
 * its event pipe's read end on the software engine, the queue fd itself on
 * a kernel device.  A method of its own, since the replies that hand out
 * a queue keep their signatures; ask again after ClaimQueue, which may
 * renew the pipe with the memory.
 */
static int reply_queue_event_fd(sd_bus_message *m, const struct queue *q)
{
	return sd_bus_reply_method_return(m, "h", q->event_fd >= 0 ? q->event_fd : q->fd);
}

static int method_get_queue_event_fd(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return on_own_queue(m, userdata, reply_queue_event_fd, error);
}

/* One entry of an a{sv} reply, by its type. */
struct dict_value {
	const char *key;
	char type;		/* 's', 'i', 'u', 'x', 't' or 'b' */
	union {
		const char *s;
		int32_t i;
		uint32_t u;
		int64_t x;
		uint64_t t;
		int b;
	};
	bool omit;		/* an optional key, absent (as is an 's' of NULL) */
};

static int append_dict_value(sd_bus_message *reply, const struct dict_value *v)
{
	switch (v->type) {
	case 's':
		return sd_bus_message_append(reply, "{sv}", v->key, "s", v->s);
	case 'i':
		return sd_bus_message_append(reply, "{sv}", v->key, "i", v->i);
	case 'u':
		return sd_bus_message_append(reply, "{sv}", v->key, "u", v->u);
	case 'x':
		return sd_bus_message_append(reply, "{sv}", v->key, "x", v->x);
	case 't':
		return sd_bus_message_append(reply, "{sv}", v->key, "t", v->t);
	case 'b':
		return sd_bus_message_append(reply, "{sv}", v->key, "b", v->b);
	}
	return -EINVAL;
}

/* Append @values (terminated by a NULL key) to an open a{sv}. */
static int append_entries(sd_bus_message *reply, const struct dict_value *values)
{
	int r;

	for (const struct dict_value *v = values; v->key; v++) {
		if (v->omit || (v->type == 's' && !v->s))	/* an optional key, absent */
			continue;
		r = append_dict_value(reply, v);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Append @values (terminated by a NULL key) as an a{sv}. */
static int append_dict(sd_bus_message *reply, const struct dict_value *values)
{
	int r;

	r = sd_bus_message_open_container(reply, 'a', "{sv}");
	if (r < 0)
		return r;
	r = append_entries(reply, values);
	if (r < 0)
		return r;
	return sd_bus_message_close_container(reply);
}

/*
 * The caller's queue as an a{sv}, keyed as the socket names the fields
 * (docs/dbus.md): the record ListQueues lists and the terms GetQueueTerms
 * says, in one dictionary that can grow without a new signature.
 */
static int reply_queue_record(sd_bus_message *m, const struct queue *q)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_message_new_method_return(m, &reply);
	if (r < 0)
		return r;
	r = append_dict(reply, (const struct dict_value[]){
		{ "queue_id", 't', .t = q->id },
		{ "device", 's', .s = q->device->name },
		{ "api", 's', .s = q->device->api },
		{ "algorithm", 's', .s = q->algorithm },
		{ "uid", 'u', .u = (uint32_t)q->uid },
		{ "pid", 'u', .u = (uint32_t)q->pid },
		{ "state", 's', .s = queue_state_to_string(q->state) },
		{ "lifetime", 's', .s = policy_lifetime_to_string(q->terms.lifetime) },
		{ "fork", 's', .s = policy_fork_to_string(q->terms.fork) },
		{ "transfer", 's', .s = policy_transfer_to_string(q->terms.transfer) },
		{ "bind", 's', .s = device_bind_to_string(q->device) },
		{ "attached", 'b', .b = q->holder != NULL },
		{ "acquired_usec", 't', .t = q->acquired_usec },
		{ "unit", 's', .s = q->identity ? q->identity->unit : NULL },
		{ "machine", 's', .s = q->identity ? q->identity->machine : NULL },
		{ NULL, 0, .t = 0 },
	});
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

static int method_get_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return on_own_queue(m, userdata, reply_queue_record, error);
}

/* Revoke with one plain argument, for callers that cannot build an a{sv} (dbus-send). */
static int revoke_queue(struct dbus_api *api, struct bus_client *c, sd_bus_message *m, uint64_t id,
			struct accel_error *e)
{
	int r;

	if (id == 0)	/* 0 means "any" to the core: no queue has it */
		return accel_error_set(e, ERR_NO_SUCH_QUEUE, "no queue 0");
	r = broker_revoke_matching(api->broker, &c->peer, &(struct revoke_request){ .queue_id = id }, e);
	if (r < 0)
		return r;
	return sd_bus_reply_method_return(m, "u", (uint32_t)r);
}

static int method_revoke_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return on_queue_id(m, userdata, revoke_queue, error);
}

static int method_claim_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	struct accel_error e = { 0 };
	struct bus_client *c;
	const char *token;
	int r;

	r = sd_bus_message_read(m, "s", &token);
	if (r < 0)
		return r;
	r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	r = listener_claim(api->broker, &c->peer, c, token, send_queue, m, &e);
	if (r < 0)
		return client_error(c, m, &e, error);
	return 0;
}

static int append_device(struct device *d, void *data)
{
	sd_bus_message *reply = data;
	unsigned queues_free;
	int r;

	(void)device_queues_free(d, &queues_free, NULL);	/* unreadable: listed as none free */
	r = sd_bus_message_open_container(reply, 'r', "sssasbiuu");
	if (r < 0)
		return r;
	r = sd_bus_message_append(reply, "sss", d->name, d->ops->name, d->api);
	if (r < 0)
		return r;
	r = sd_bus_message_append_strv(reply, d->algorithms);
	if (r < 0)
		return r;
	r = sd_bus_message_append(reply, "biuu", (int)d->sva, (int32_t)d->numa_node,
				  (uint32_t)d->queues_total, (uint32_t)queues_free);
	if (r < 0)
		return r;
	return sd_bus_message_close_container(reply);
}

static int append_device_features(struct device *d, void *data)
{
	return sd_bus_message_append(data, "(sbbss)", d->name, (int)d->sva, (int)d->revocable,
				     device_bind_to_string(d), d->refused);
}

/* Reply with an array of @contents, an element per device by @fn. */
static int reply_devices(struct dbus_api *api, sd_bus_message *m, const char *contents,
			 int (*fn)(struct device *d, void *data))
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_message_new_method_return(m, &reply);
	if (r < 0)
		return r;
	r = sd_bus_message_open_container(reply, 'a', contents);
	if (r < 0)
		return r;
	r = broker_for_each_device(api->broker, fn, reply);
	if (r < 0)
		return r;
	r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

static int method_list_devices(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return reply_devices(userdata, m, "(sssasbiuu)", append_device);
}

/* (name, sva, revocable, bind, refused): what ListDevices' fixed signature has no room for. */
static int method_list_device_features(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return reply_devices(userdata, m, "(sbbss)", append_device_features);
}

static int append_queue(const struct queue *q, void *data)
{
	return sd_bus_message_append(data, "(tssuussbt)", (uint64_t)q->id, q->device->name, q->algorithm,
				     (uint32_t)q->uid, (uint32_t)q->pid, queue_state_to_string(q->state),
				     policy_lifetime_to_string(q->terms.lifetime), (int)(q->holder != NULL),
				     q->acquired_usec);
}

static int method_list_queues(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct bus_client *c;
	int r;

	r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r < 0)
		return r;
	r = sd_bus_message_open_container(reply, 'a', "(tssuussbt)");
	if (r < 0)
		return r;
	r = broker_for_each_queue(api->broker, &c->peer, append_queue, reply);
	if (r < 0)
		return r;
	r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

struct users_reply {
	sd_bus_message *reply;
	int r;
};

static void append_user(uid_t uid, unsigned queues, void *data)
{
	struct users_reply *u = data;

	if (u->r >= 0)
		u->r = sd_bus_message_append(u->reply, "(uu)", (uint32_t)uid, (uint32_t)queues);
}

static int method_get_status(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	struct broker *b = api->broker;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct users_reply users;
	struct bus_client *c;
	int r;

	r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r < 0)
		return r;
	r = sd_bus_message_append(reply, "stuuu", ACCEL_VERSION, now_usec(CLOCK_MONOTONIC) - b->started_usec,
				  broker_device_count(b), broker_active_queues(b), broker_clients(b));
	if (r < 0)
		return r;
	r = sd_bus_message_open_container(reply, 'a', "(uu)");
	if (r < 0)
		return r;
	users = (struct users_reply){ reply, 0 };
	broker_for_each_user(b, &c->peer, append_user, &users);
	if (users.r < 0)
		return users.r;
	r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

/* After the deferred call of @l returned @r: a failure is answered (@e, when named), and @l goes. */
static void bus_lookup_end(struct bus_lookup *l, int r, const struct accel_error *e)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

	if (r < 0) {
		if (e->name)
			client_error(l->client, l->m, e, &error);
		else
			sd_bus_error_set_errno(&error, r);
		r = sd_bus_reply_method_error(l->m, &error);
		if (r < 0)
			log_debug("Could not answer %s: %s", l->client->name, strerror(-r));
	}
	bus_lookup_free(l);
}

/*
 * Ask the user database about @req for @c's call @m, answered by @done:
 * 1 (the reply comes later), or an error (too many look-ups in flight).
 */
static int bus_defer(struct bus_client *c, sd_bus_message *m, const struct resolver_request *req,
		     resolver_done_fn done, sd_bus_error *error)
{
	_cleanup_free_ struct bus_lookup *l = calloc(1, sizeof(*l));
	struct accel_error e = { 0 };
	int r;

	if (!l)
		return -ENOMEM;
	if (!c->api->resolver) {
		accel_error_set(&e, ERR_OUT_OF_RESOURCES, "no user database here");
		return client_error(c, m, &e, error);
	}
	r = resolver_submit(c->api->resolver, req, done, l, &l->job);
	if (r < 0 && resolver_submit_error(r, &e) < 0 && e.name)
		return client_error(c, m, &e, error);
	if (r < 0)
		return r;
	l->client = c;
	l->m = sd_bus_message_ref(m);
	list_insert_tail(&c->lookups, &TAKE_PTR(l)->link);
	return 1;
}

static void bus_revoke_answered(const struct resolver_answer *a, void *userdata)
{
	struct bus_lookup *l = userdata;
	struct bus_client *c = l->client;
	struct accel_error e = { 0 };
	int r;

	l->job = NULL;
	r = resolver_answer_error(a, &e);
	if (r == 0)
		r = broker_revoke_matching(c->api->broker, &c->peer,
					   &(struct revoke_request){ .by_user = true, .uid = a->uid }, &e);
	if (r >= 0)
		r = sd_bus_reply_method_return(l->m, "u", (uint32_t)r);
	bus_lookup_end(l, r, &e);
}

static int method_revoke(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	struct revoke_selector sel = { 0 };
	struct revoke_request req;
	struct accel_error e = { 0 };
	struct bus_client *c;
	int r;

	r = read_revoke_selector(m, &sel, error);
	if (r < 0)
		return r;
	r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	req = (struct revoke_request){ .queue_id = sel.queue_id, .by_user = sel.user != NULL, .device = sel.device,
				       .unit = sel.unit };
	/* A name alone is looked up; with another selector the core refuses it anyway. */
	if (sel.user && resolver_parse_user(sel.user, &req.uid) > 0 && !sel.queue_id && !sel.device && !sel.unit)
		return bus_defer(c, m, &(struct resolver_request){ .name = sel.user, .asker = c->peer.uid },
				 bus_revoke_answered, error);
	r = broker_revoke_matching(api->broker, &c->peer, &req, &e);
	if (r < 0)
		return client_error(c, m, &e, error);
	return sd_bus_reply_method_return(m, "u", (uint32_t)r);
}

/*
 * A limit's or a restriction's a{sv}: @own's entries, then whom its rule
 * reaches, as the socket names it: gid (a group's rule), or the unit,
 * slice or machine whose pool it counts.
 */
static int append_rule(sd_bus_message *reply, const struct dict_value *own, long gid, enum rule_kind kind,
		       const char *scope)
{
	int r;

	r = sd_bus_message_open_container(reply, 'a', "{sv}");
	if (r >= 0)
		r = append_entries(reply, own);
	if (r >= 0)
		r = append_entries(reply, (const struct dict_value[]){
			{ "gid", 'x', .x = gid, .omit = gid < 0 },
			{ "unit", 's', .s = quota_scope(kind, scope, RULE_UNIT) },
			{ "slice", 's', .s = quota_scope(kind, scope, RULE_SLICE) },
			{ "machine", 's', .s = quota_scope(kind, scope, RULE_MACHINE) },
			{ NULL, 0, .t = 0 },
		});
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int append_limit(sd_bus_message *reply, const struct quota_line *l)
{
	return append_rule(reply, (const struct dict_value[]){
		{ "key", 's', .s = l->key }, { "limit", 'i', .i = l->limit },
		{ "used", 'u', .u = l->used }, { "rule", 's', .s = l->where }, { NULL, 0, .t = 0 },
	}, l->gid, l->kind, l->scope);
}

static int append_restriction(sd_bus_message *reply, const struct quota_restriction *x)
{
	return append_rule(reply, (const struct dict_value[]){
		{ "key", 's', .s = x->key }, { "value", 's', .s = x->value },
		{ "rule", 's', .s = x->where }, { NULL, 0, .t = 0 },
	}, x->gid, x->kind, x->scope);
}

/* @q's limits, or its restrictions (devices=, allow=), as an aa{sv}: as the socket's GetQuota names them. */
static int append_rules(sd_bus_message *reply, const struct quota *q, bool restrictions)
{
	unsigned n = restrictions ? q->n_restrictions : q->n_lines;
	int r;

	r = sd_bus_message_open_container(reply, 'a', "a{sv}");
	for (unsigned i = 0; r >= 0 && i < n; i++)
		r = restrictions ? append_restriction(reply, &q->restrictions[i]) : append_limit(reply, &q->lines[i]);
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* GetQuota's limits, a(siusx): (key, limit, used, rule, gid), gid -1 unless a group's rule. */
static int append_plain_limits(sd_bus_message *reply, const struct quota *q)
{
	int r;

	r = sd_bus_message_open_container(reply, 'a', "(siusx)");
	for (unsigned i = 0; r >= 0 && i < q->n_lines; i++)
		r = sd_bus_message_append(reply, "(siusx)", q->lines[i].key, (int32_t)q->lines[i].limit,
					  (uint32_t)q->lines[i].used, q->lines[i].where, (int64_t)q->lines[i].gid);
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

/*
 * @q on @m: GetQuota's (u uid, b allowed, a(siusx) limits, s lifetime,
 * s fork, s transfer), or with @details GetQuotaDetails' (its limits an
 * aa{sv}, then aa{sv} restrictions).
 */
static int reply_quota(sd_bus_message *m, const struct quota *q, bool details)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_message_new_method_return(m, &reply);
	if (r < 0)
		return r;
	r = sd_bus_message_append(reply, "ub", (uint32_t)q->uid, (int)q->allowed);
	if (r >= 0)
		r = details ? append_rules(reply, q, false) : append_plain_limits(reply, q);
	if (r >= 0)
		r = sd_bus_message_append(reply, "sss", policy_lifetime_to_string(q->terms.lifetime),
					  policy_fork_to_string(q->terms.fork),
					  policy_transfer_to_string(q->terms.transfer));
	if (r >= 0 && details)
		r = append_rules(reply, q, true);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

/*
 * @user's quota (NULL: the caller's) or the caller's as in @unit, on @m.
 * GetQuota's signature has no room for the rules of the caller's unit,
 * slices and machine: its own quota is read without them there, and with
 * them for GetQuotaDetails (@details), as on the socket.
 */
static int get_quota(struct bus_client *c, sd_bus_message *m, const struct caller *user, const char *unit,
		     bool details, struct accel_error *e)
{
	struct quota q;
	int r;

	if (details)
		r = listener_get_quota(c->api->broker, &c->peer, user, unit, &q, e);
	else
		r = broker_get_quota(c->api->broker, &c->peer, user, NULL, &q, e);
	if (r < 0)
		return r;
	r = reply_quota(m, &q, details);
	free(q.lines);
	free(q.restrictions);
	return r;
}

/* Another user's quota, once the user database answered @a about it. */
static void quota_answered(const struct resolver_answer *a, struct bus_lookup *l, bool details)
{
	struct accel_error e = { 0 };
	int r;

	l->job = NULL;
	r = resolver_answer_error(a, &e);
	if (r == 0)
		r = get_quota(l->client, l->m, &(struct caller){ a->uid, a->groups, a->n_groups, NULL }, NULL,
			      details, &e);
	bus_lookup_end(l, r, &e);
}

static void bus_quota_answered(const struct resolver_answer *a, void *userdata)
{
	quota_answered(a, userdata, false);
}

static void bus_quota_details_answered(const struct resolver_answer *a, void *userdata)
{
	quota_answered(a, userdata, true);
}

/* GetQuota and GetQuotaDetails: now for the caller itself, else once the user database says who @user is. */
static int quota_call(sd_bus_message *m, struct dbus_api *api, const char *user, const char *unit, bool details,
		      sd_bus_error *error)
{
	struct accel_error e = { 0 };
	struct resolver_request req;
	struct bus_client *c;
	int r;

	r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	r = listener_quota_user(&c->peer, user, unit, &req, &e);
	if (r == 0)
		r = get_quota(c, m, NULL, unit, details, &e);
	else if (r > 0)	/* another user's groups, or who the name is (authorized once known) */
		return bus_defer(c, m, &req, details ? bus_quota_details_answered : bus_quota_answered, error);
	if (r < 0 && e.name)
		return client_error(c, m, &e, error);
	return r;
}

static int method_get_quota(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	const char *user;
	int r;

	r = sd_bus_message_read(m, "s", &user);
	if (r < 0)
		return r;
	return quota_call(m, userdata, *user ? user : NULL, NULL, false, error);	/* "": the caller */
}

/* GetQuotaDetails' selector: a user (a name or a number) or a unit, or neither (the caller). */
struct quota_selector {
	const char *user;
	const char *unit;
};

static const struct dict_field quota_selector[] = {
	{ "user", 's', offsetof(struct quota_selector, user) },
	{ "unit", 's', offsetof(struct quota_selector, unit) },
	{ 0 },
};

static int method_get_quota_details(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct quota_selector sel = { 0 };
	int r;

	r = read_dict(m, quota_selector, &sel, "selector", error);
	if (r < 0)
		return r;
	return quota_call(m, userdata, sel.user, sel.unit, true, error);
}

/* Subscribe() and Unsubscribe(): whether this name gets Revoked for every queue it may see. */
static int set_subscribed(sd_bus_message *m, struct dbus_api *api, bool subscribed, sd_bus_error *error)
{
	struct bus_client *c;
	int r;

	r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	c->subscribed = subscribed;
	return sd_bus_reply_method_return(m, "");
}

static int method_subscribe(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return set_subscribed(m, userdata, true, error);
}

static int method_unsubscribe(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return set_subscribed(m, userdata, false, error);
}

static void bus_reload_done(int r, const struct accel_error *e, void *userdata)
{
	struct bus_lookup *l = userdata;

	l->job = NULL;
	if (r >= 0)
		r = sd_bus_reply_method_return(l->m, "u", (uint32_t)r);
	bus_lookup_end(l, r, e);
}

/* Answered once the configuration is parsed (off the loop) and in force; kept as a waiting call. */
static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	_cleanup_free_ struct bus_lookup *l = calloc(1, sizeof(*l));
	struct dbus_api *api = userdata;
	struct accel_error e = { 0 };
	struct bus_client *c;
	int r;

	if (!l)
		return -ENOMEM;
	r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	r = listener_reload(&api->reload, &c->peer, bus_reload_done, l, &l->job, &e);
	if (r < 0)
		return client_error(c, m, &e, error);
	l->client = c;
	l->m = sd_bus_message_ref(m);
	list_insert_tail(&c->lookups, &TAKE_PTR(l)->link);
	return 1;
}

static int append_device_name(struct device *d, void *data)
{
	return sd_bus_message_append(data, "s", d->name);
}

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
			sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	int r;

	if (strcmp(property, "Version") == 0)
		return sd_bus_message_append(reply, "s", ACCEL_VERSION);
	if (strcmp(property, "ActiveQueues") == 0)
		return sd_bus_message_append(reply, "u", broker_active_queues(api->broker));
	r = sd_bus_message_open_container(reply, 'a', "s");
	if (r < 0)
		return r;
	r = broker_for_each_device(api->broker, append_device_name, reply);
	if (r < 0)
		return r;
	return sd_bus_message_close_container(reply);
}

/* AcquireQueue's, AttachQueue's and ClaimQueue's reply: the queue and what to map. */
#define QUEUE_RESULT(id) SD_BUS_RESULT("t", id, "s", device, "s", api, "h", fd, "a(stt)", regions)

static const sd_bus_vtable broker_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Version", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("ActiveQueues", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Devices", "as", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_METHOD_WITH_ARGS("AcquireQueue", SD_BUS_ARGS("s", algorithm, "a{sv}", options),
				QUEUE_RESULT(queue_id), method_acquire_queue, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("ReleaseQueue", SD_BUS_ARGS("t", queue_id), SD_BUS_NO_RESULT,
				method_release_queue, SD_BUS_VTABLE_UNPRIVILEGED),
	/* Out: not "queue_id" again, which code generators would give two variables of one name. */
	SD_BUS_METHOD_WITH_ARGS("AttachQueue", SD_BUS_ARGS("t", queue_id), QUEUE_RESULT(attached_queue_id),
				method_attach_queue, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("TransferQueue", SD_BUS_ARGS("t", queue_id),
				SD_BUS_RESULT("s", token, "t", expires_in_usec),
				method_transfer_queue, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("ClaimQueue", SD_BUS_ARGS("s", token), QUEUE_RESULT(queue_id),
				method_claim_queue, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("ListDevices", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sssasbiuu)", devices),
				method_list_devices, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("ListDeviceFeatures", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sbbss)", devices),
				method_list_device_features, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetQueueTerms", SD_BUS_ARGS("t", queue_id),
				SD_BUS_RESULT("s", bind, "s", lifetime, "s", fork),
				method_get_queue_terms, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("ListQueues", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(tssuussbt)", queues),
				method_list_queues, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetStatus", SD_BUS_NO_ARGS,
				SD_BUS_RESULT("s", version, "t", uptime_usec, "u", devices, "u", queues_active,
					      "u", clients, "a(uu)", users),
				method_get_status, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("Revoke", SD_BUS_ARGS("a{sv}", selector), SD_BUS_RESULT("u", revoked),
				method_revoke, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_RESULT("u", revoked),
				method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("AcquireQueueSimple", SD_BUS_ARGS("s", algorithm, "s", device),
				QUEUE_RESULT(queue_id), method_acquire_queue_simple, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("RevokeQueue", SD_BUS_ARGS("t", queue_id), SD_BUS_RESULT("u", revoked),
				method_revoke_queue, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetQuota", SD_BUS_ARGS("s", user),
				SD_BUS_RESULT("u", uid, "b", allowed, "a(siusx)", limits, "s", lifetime,
					      "s", fork, "s", transfer),
				method_get_quota, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetQuotaDetails", SD_BUS_ARGS("a{sv}", selector),
				SD_BUS_RESULT("u", uid, "b", allowed, "aa{sv}", limits, "s", lifetime,
					      "s", fork, "s", transfer, "aa{sv}", restrictions),
				method_get_quota_details, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("Subscribe", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
				method_subscribe, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("Unsubscribe", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
				method_unsubscribe, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetQueue", SD_BUS_ARGS("t", queue_id), SD_BUS_RESULT("a{sv}", queue),
				method_get_queue, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetQueueEventFd", SD_BUS_ARGS("t", queue_id), SD_BUS_RESULT("h", event_fd),
				method_get_queue_event_fd, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL_WITH_ARGS("QueueRevoked", SD_BUS_ARGS("t", queue_id, "s", reason), 0),
	SD_BUS_SIGNAL_WITH_ARGS("Revoked", SD_BUS_ARGS("t", queue_id, "s", device, "s", algorithm, "u", uid,
						       "s", reason), 0),
	SD_BUS_SIGNAL("DevicesChanged", "", 0),
	SD_BUS_VTABLE_END
};

static void on_device_changed(struct broker_watcher *w, const struct device *d, const char *event)
{
	struct dbus_api *api = (struct dbus_api *)((char *)w - offsetof(struct dbus_api, devices));

	(void)d;
	(void)event;
	if (sd_bus_emit_signal(api->bus, DBUS_PATH, DBUS_INTERFACE, "DevicesChanged", "") < 0 ||
	    sd_bus_emit_properties_changed(api->bus, DBUS_PATH, DBUS_INTERFACE, "Devices", NULL) < 0)
		log_warning("Could not announce a device change on the bus");
}

/* Where sd-bus looks for the system bus, for the logs. */
static const char *system_bus_address(void)
{
	const char *a = getenv("DBUS_SYSTEM_BUS_ADDRESS");

	return a && *a ? a : "unix:path=/run/dbus/system_bus_socket";
}

/*
 * ActiveQueues changes wherever the core counts a queue in or out; rather
 * than a hook at each place, look once after every turn of the loop and
 * announce a change (several in one turn make one signal).
 */
static int check_active_queues(sd_event_source *s, void *userdata)
{
	struct dbus_api *api = userdata;
	unsigned now = broker_active_queues(api->broker);

	(void)s;
	if (now == api->active_announced)
		return 0;
	api->active_announced = now;
	if (sd_bus_emit_properties_changed(api->bus, DBUS_PATH, DBUS_INTERFACE, "ActiveQueues", NULL) < 0)
		log_warning("Could not announce ActiveQueues on the bus");
	return 0;
}

/* The object on the bus, on the loop, under our name. */
static int dbus_api_serve(struct dbus_api *api, sd_event *event)
{
	int r;

	r = sd_bus_add_object_vtable(api->bus, &api->vtable, DBUS_PATH, DBUS_INTERFACE, broker_vtable, api);
	if (r < 0)
		return log_error_errno(r, "Could not set up the D-Bus object");
	r = sd_bus_attach_event(api->bus, event, SD_EVENT_PRIORITY_NORMAL);
	if (r < 0)
		return log_error_errno(r, "Could not set up the D-Bus object");
	r = sd_bus_request_name(api->bus, DBUS_NAME, 0);
	if (r < 0) {
		log_warning("Could not own %s on the system bus %s (%s): serving the socket only",
			    DBUS_NAME, system_bus_address(), strerror(-r));
		return r;
	}
	return 0;
}

int dbus_api_init(struct dbus_api *api, sd_event *event, struct broker *b,
		  const struct listener_reload *reload)
{
	int r;

	*api = (struct dbus_api){ .broker = b, .reload = *reload };
	list_init(&api->clients);
	r = sd_bus_open_system_with_description(&api->bus, "accel-broker");
	if (r < 0) {
		log_info("Not on the system bus %s (%s): serving the socket only", system_bus_address(),
			 strerror(-r));
		api->bus = NULL;
		return 0;
	}
	r = dbus_api_serve(api, event);
	if (r < 0) {
		/* Logged where it failed; the socket is served either way. */
		api->vtable = sd_bus_slot_unref(api->vtable);
		api->bus = sd_bus_flush_close_unref(api->bus);
		return 0;
	}
	api->devices = (struct broker_watcher){ .device_changed = on_device_changed };
	broker_watch(b, &api->devices);
	api->active_announced = broker_active_queues(b);
	r = sd_event_add_post(event, &api->active_check, check_active_queues, api);
	if (r < 0)
		log_warning_errno(r, "Could not follow ActiveQueues: no PropertiesChanged for it");
	else
		sd_event_source_set_enabled(api->active_check, SD_EVENT_ON);
	log_info("On the system bus as %s", DBUS_NAME);
	return 0;
}

void dbus_api_finish(struct dbus_api *api)
{
	struct bus_client *c, *tmp;

	if (!api->bus)
		return;
	list_for_each_safe(c, tmp, &api->clients, link)
		client_free(c);
	broker_unwatch(&api->devices);
	api->active_check = sd_event_source_disable_unref(api->active_check);
	api->vtable = sd_bus_slot_unref(api->vtable);
	api->bus = sd_bus_flush_close_unref(api->bus);
}

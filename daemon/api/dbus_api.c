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

#include "dbus_api.h"
#include "device.h"
#include "log.h"
#include "owner.h"
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
};

/* A core error as a D-Bus error: org.accelbroker.Broker.X -> org.accelbroker.Broker1.Error.X. */
static int bus_error(sd_bus_error *error, const struct accel_error *e)
{
	const char *name = e->name ? e->name : ERR_INVALID_PARAMETER;
	const char *dot = strrchr(name, '.');
	char full[128];

	snprintf(full, sizeof(full), DBUS_ERROR_PREFIX "%s", dot ? dot + 1 : name);
	sd_bus_error_set(error, full, e->message);
	return -EIO;	/* the error set above is what the caller sees */
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

static void client_free(struct bus_client *c)
{
	struct broker *b = c->api->broker;

	broker_unwatch(&c->watcher);
	broker_release_holder(b, c);
	b->n_connections--;
	sd_bus_track_unref(c->track);
	owner_unref(c->peer.process);
	list_remove(&c->link);
	log_debug("Bus client %s gone", c->name);
	free(c->name);
	free(c);
}

static int on_name_gone(sd_bus_track *track, void *userdata)
{
	(void)track;
	client_free(userdata);
	return 0;
}

/*
 * Revoked(t queue_id, s device, s algorithm, u uid, s reason) to a subscribed
 * name, as the socket's Monitor streams it: unicast, so that a name hears
 * of no queue it may not see (the broker watcher checked that).
 */
static void send_revoked(struct bus_client *c, const struct queue *q, const char *reason)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

	if (sd_bus_message_new_signal(c->api->bus, &m, DBUS_PATH, DBUS_INTERFACE, "Revoked") < 0 ||
	    sd_bus_message_set_destination(m, c->name) < 0 ||
	    sd_bus_message_append(m, "tssus", (uint64_t)q->id, q->device->name, q->algorithm,
				  (uint32_t)q->uid, reason) < 0 ||
	    sd_bus_send(c->api->bus, m, NULL) < 0)
		log_warning("Could not tell %s that queue %llu was revoked", c->name,
			    (unsigned long long)q->id);
}

static void client_queue_changed(struct broker_watcher *w, const struct queue *q, enum queue_state from,
				 const char *reason)
{
	struct bus_client *c = (struct bus_client *)((char *)w - offsetof(struct bus_client, watcher));
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

	(void)from;
	if (q->state != QUEUE_REVOKED)	/* the signals tell revocations only */
		return;
	if (c->subscribed)
		send_revoked(c, q, reason);
	/* To the owner only: the name holding it, or the process owning it. */
	if (q->holder != c && !(q->process && q->process == c->peer.process))
		return;
	if (sd_bus_message_new_signal(c->api->bus, &m, DBUS_PATH, DBUS_INTERFACE, "QueueRevoked") < 0 ||
	    sd_bus_message_set_destination(m, c->name) < 0 ||
	    sd_bus_message_append(m, "ts", (uint64_t)q->id, reason) < 0 ||
	    sd_bus_send(c->api->bus, m, NULL) < 0)
		log_warning("Could not tell %s that queue %llu was revoked", c->name,
			    (unsigned long long)q->id);
}

/*
 * Groups and, where the bus offers one, a pidfd: GetConnectionCredentials,
 * which the bus fills from the kernel (SO_PEERCRED, SO_PEERGROUPS) when the
 * client connected.  sd-bus 252 does not read UnixGroupIDs itself.
 */
static int read_driver_credentials(struct bus_client *c, int *pidfd, sd_bus_error *error)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	bool uid_seen = false;
	int r;

	r = sd_bus_call_method(c->api->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			       "org.freedesktop.DBus", "GetConnectionCredentials", error, &reply, "s",
			       c->name);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(reply, 'a', "{sv}");
	while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
		const char *key, *contents;
		char type;
		r = sd_bus_message_read(reply, "s", &key);
		if (r >= 0)
			r = sd_bus_message_peek_type(reply, &type, &contents);
		if (r < 0)
			break;
		if (strcmp(key, "UnixGroupIDs") == 0 && strcmp(contents, "au") == 0) {
			const uint32_t *gids;
			size_t size;
			r = sd_bus_message_enter_container(reply, 'v', "au");
			if (r >= 0)
				r = sd_bus_message_read_array(reply, 'u', (const void **)&gids, &size);
			for (size_t i = 0; r >= 0 && i < size / sizeof(uint32_t); i++) {
				if (c->peer.n_groups == POLICY_MAX_GROUPS) {
					log_client(c->peer.uid, LOG_WARNING, "%s is in more than %d groups; only the first count",
						   c->name, POLICY_MAX_GROUPS);
					break;
				}
				c->peer.groups[c->peer.n_groups++] = gids[i];
			}
			if (r >= 0)
				r = sd_bus_message_exit_container(reply);
		} else if (strcmp(key, "UnixUserID") == 0 && strcmp(contents, "u") == 0) {
			uint32_t uid;
			r = sd_bus_message_read(reply, "v", "u", &uid);
			/* The same kernel fact twice: anything else is not to be trusted. */
			if (r >= 0 && uid != c->peer.uid)
				r = -EPERM;
			uid_seen = true;
		} else if (strcmp(key, "ProcessFD") == 0 && strcmp(contents, "h") == 0) {
			int fd;
			r = sd_bus_message_read(reply, "v", "h", &fd);
			if (r >= 0 && *pidfd < 0)
				*pidfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		} else {
			r = sd_bus_message_skip(reply, "v");
		}
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
	}
	if (r < 0 || !uid_seen)
		return r < 0 ? r : -EPERM;
	return 0;
}

static bool peer_in_group(const struct peer *p, gid_t gid)
{
	for (unsigned i = 0; i < p->n_groups; i++)
		if (p->groups[i] == gid)
			return true;
	return false;
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
	const struct broker_limits *limits = &c->api->broker->limits;
	uid_t uid;
	pid_t pid;
	int pidfd = -1, r;

	r = sd_bus_query_sender_creds(m, need, &creds);
	if (r < 0 || (sd_bus_creds_get_augmented_mask(creds) & need) ||
	    sd_bus_creds_get_euid(creds, &uid) < 0 || sd_bus_creds_get_pid(creds, &pid) < 0 || pid <= 0)
		return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
					"the bus could not vouch for the caller's credentials");
	c->peer = (struct peer){ .uid = uid, .gid = (gid_t)-1, .pid = pid };
	r = read_driver_credentials(c, &pidfd, NULL);
	if (r < 0) {
		if (pidfd >= 0)
			close(pidfd);
		return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
					"the bus could not vouch for the caller's groups");
	}
	c->peer.admin = uid == 0 || (limits->admin_gid >= 0 && peer_in_group(&c->peer, (gid_t)limits->admin_gid));
	/*
	 * Without a ProcessFD from the bus, pidfd_open() the pid: the name is
	 * tracked already, so a process that is gone shows up as a name that
	 * left, and its queues go with it.
	 */
	c->peer.process = owner_get(&c->api->broker->owners, pid, pidfd);
	return 0;
}

/* Whether forgetting @c would lose something: its queues, or its subscription. */
static bool client_holds_queues(const struct bus_client *c)
{
	const struct queue *q;

	if (c->subscribed)
		return true;
	list_for_each(q, &c->api->broker->queues, link)
		if (q->holder == c)
			return true;
	return false;
}

/* Forget the least recently seen names that hold nothing, beyond MAX_IDLE_CLIENTS. */
static void trim_idle_clients(struct dbus_api *api)
{
	struct bus_client *c, *tmp;
	unsigned idle = 0;

	list_for_each(c, &api->clients, link)
		idle += !client_holds_queues(c);
	list_for_each_safe(c, tmp, &api->clients, link) {
		if (idle <= MAX_IDLE_CLIENTS)
			break;
		if (!client_holds_queues(c)) {
			client_free(c);
			idle--;
		}
	}
}

/* The record of the sender of @m, made on its first call; most recently seen last. */
static int client_get(struct dbus_api *api, sd_bus_message *m, struct bus_client **out,
		      sd_bus_error *error)
{
	const char *sender = sd_bus_message_get_sender(m);
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
	trim_idle_clients(api);
	c = calloc(1, sizeof(*c));
	if (!c || !(c->name = strdup(sender))) {
		free(c);
		return -ENOMEM;
	}
	c->api = api;
	/* Track the name before asking about it: leaving after this is seen. */
	r = sd_bus_track_new(api->bus, &c->track, on_name_gone, c);
	if (r >= 0)
		r = sd_bus_track_add_name(c->track, sender);
	if (r >= 0)
		r = client_credentials(c, m, error);
	if (r < 0) {
		sd_bus_track_unref(c->track);
		free(c->name);
		free(c);
		return r;
	}
	c->watcher = (struct broker_watcher){ .peer = &c->peer, .queue_changed = client_queue_changed };
	broker_watch(api->broker, &c->watcher);
	list_insert_tail(&api->clients, &c->link);
	api->broker->n_connections++;
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
	if (r >= 0)
		r = sd_bus_message_append(reply, "tssh", (uint64_t)q->id, q->device->name, q->device->api, q->fd);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "(stt)");
	for (unsigned i = 0; r >= 0 && i < q->n_regions; i++)
		r = sd_bus_message_append(reply, "(stt)", q->regions[i].type, q->regions[i].offset,
					  q->regions[i].size);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	return r;
}

/* One key of an a{sv} argument: its name, its variant's type and where it goes. */
struct dict_field {
	const char *key;
	char type;		/* 's' (const char *), 'i' (int32_t) or 't' (uint64_t) */
	void *out;
};

/*
 * Read an a{sv} of at most MAX_OPTIONS entries into @fields; an unknown key
 * or a value of another type is InvalidParameter, naming @what.
 */
static int read_dict(sd_bus_message *m, const struct dict_field *fields, const char *what,
		     sd_bus_error *error)
{
	unsigned n = 0;
	int r = sd_bus_message_enter_container(m, 'a', "{sv}");

	while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		const struct dict_field *f;
		const char *key, *contents;
		char type;

		if (++n > MAX_OPTIONS)
			return invalid(error, "more than %d %ss", MAX_OPTIONS, what);
		r = sd_bus_message_read(m, "s", &key);
		if (r >= 0)
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
		r = sd_bus_message_read(m, "v", (char[]){ f->type, '\0' }, f->out);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

static int read_acquire_options(sd_bus_message *m, struct acquire_request *req, sd_bus_error *error)
{
	int32_t node = -1;
	const struct dict_field fields[] = {
		{ "device", 's', &req->device },
		{ "numa_node", 'i', &node },
		{ 0 },
	};
	int r = read_dict(m, fields, "option", error);

	if (r < 0)
		return r;
	if (node < -1 || node > 4095)
		return invalid(error, "numa_node %d is out of range", node);
	req->numa_node = node;
	return 0;
}

/* Acquire what @req asks for, for the sender of @m, and reply with the queue. */
static int acquire(struct dbus_api *api, sd_bus_message *m, const struct acquire_request *req,
		   sd_bus_error *error)
{
	struct accel_error e = { 0 };
	struct bus_client *c;
	struct queue *q;
	int r;

	r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	if (broker_acquire(api->broker, &c->peer, c, req, &q, &e) < 0)
		return client_error(c, m, &e, error);
	r = reply_queue(m, q);
	if (r < 0)	/* the caller never learns of it: give it back now */
		broker_release(api->broker, &c->peer, c, q->id, NULL);
	return r;
}

static int method_acquire_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct acquire_request req = { .numa_node = -1 };
	int r;

	r = sd_bus_message_read(m, "s", &req.algorithm);
	if (r >= 0)
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

static int method_release_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	struct accel_error e = { 0 };
	struct bus_client *c;
	uint64_t id;
	int r;

	r = sd_bus_message_read(m, "t", &id);
	if (r >= 0)
		r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	if (broker_release(api->broker, &c->peer, c, id, &e) < 0)
		return client_error(c, m, &e, error);
	return sd_bus_reply_method_return(m, "");
}

static int method_attach_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	struct accel_error e = { 0 };
	struct bus_client *c;
	struct queue *q;
	uint64_t id;
	int r;

	r = sd_bus_message_read(m, "t", &id);
	if (r >= 0)
		r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	if (broker_attach(api->broker, &c->peer, c, id, &q, &e) < 0)
		return client_error(c, m, &e, error);
	return reply_queue(m, q);
}

static int method_transfer_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	struct accel_error e = { 0 };
	char token[QUEUE_TOKEN_LEN + 1];
	struct bus_client *c;
	uint64_t id;
	int r;

	r = sd_bus_message_read(m, "t", &id);
	if (r >= 0)
		r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	if (broker_transfer(api->broker, &c->peer, c, id, token, &e) < 0)
		return client_error(c, m, &e, error);
	return sd_bus_reply_method_return(m, "st", token, api->broker->limits.transfer_timeout_usec);
}

static int method_claim_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	struct accel_error e = { 0 };
	struct bus_client *c;
	struct queue *q;
	const char *token;
	int r;

	r = sd_bus_message_read(m, "s", &token);
	if (r >= 0)
		r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	if (broker_claim(api->broker, &c->peer, c, token, &q, &e) < 0)
		return client_error(c, m, &e, error);
	return reply_queue(m, q);
}

static int append_device(sd_bus_message *reply, struct device *d)
{
	int r = sd_bus_message_open_container(reply, 'r', "sssasbiuu");

	if (r >= 0)
		r = sd_bus_message_append(reply, "sss", d->name, d->ops->name, d->api);
	if (r >= 0)
		r = sd_bus_message_append_strv(reply, d->algorithms);
	if (r >= 0)
		r = sd_bus_message_append(reply, "biuu", (int)d->sva, (int32_t)d->numa_node,
					  (uint32_t)d->queues_total, (uint32_t)device_queues_free(d));
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	return r;
}

static int method_list_devices(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct device *d;
	int r;

	(void)error;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "(sssasbiuu)");
	list_for_each(d, &api->broker->devices, link)
		if (r >= 0)
			r = append_device(reply, d);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	return r;
}

/* (name, sva, revocable, bind, refused): what ListDevices' fixed signature has no room for. */
static int method_list_device_features(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct device *d;
	int r;

	(void)error;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "(sbbss)");
	list_for_each(d, &api->broker->devices, link)
		if (r >= 0)
			r = sd_bus_message_append(reply, "(sbbss)", d->name, (int)d->sva, (int)d->revocable,
						  device_bind_to_string(d), d->refused);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	return r;
}

/* The terms of the caller's queue: what AcquireQueue's fixed signature has no room for. */
static int method_get_queue_terms(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	struct accel_error e = { 0 };
	struct bus_client *c;
	struct queue *q;
	uint64_t id;
	int r;

	r = sd_bus_message_read(m, "t", &id);
	if (r >= 0)
		r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	if (broker_get_queue(api->broker, &c->peer, c, id, &q, &e) < 0)
		return bus_error(error, &e);
	return sd_bus_reply_method_return(m, "sss", device_bind_to_string(q->device),
					  policy_lifetime_to_string(q->terms.lifetime),
					  policy_fork_to_string(q->terms.fork));
}

static int method_list_queues(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	struct bus_client *c;
	struct queue *q;
	int r;

	r = client_get(api, m, &c, error);
	if (r >= 0)
		r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "(tssuussbt)");
	list_for_each(q, &api->broker->queues, link)
		if (r >= 0 && broker_may_see(&c->peer, q))
			r = sd_bus_message_append(reply, "(tssuussbt)", (uint64_t)q->id, q->device->name,
						  q->algorithm, (uint32_t)q->uid, (uint32_t)q->pid,
						  queue_state_to_string(q->state),
						  policy_lifetime_to_string(q->terms.lifetime), (int)(q->holder != NULL),
						  q->acquired_usec);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	return r;
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
	if (r >= 0)
		r = sd_bus_message_append(reply, "stuuu", ACCEL_VERSION, now_usec(CLOCK_MONOTONIC) - b->started_usec,
					  broker_device_count(b), broker_active_queues(b), b->n_connections);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "(uu)");
	users = (struct users_reply){ reply, r };
	broker_for_each_user(b, &c->peer, append_user, &users);
	r = users.r;
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	return r;
}

static int method_revoke(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	struct revoke_request req = { 0 };
	const struct dict_field fields[] = {
		{ "queue_id", 't', &req.queue_id },
		{ "user", 's', &req.user },
		{ "device", 's', &req.device },
		{ 0 },
	};
	struct accel_error e = { 0 };
	struct bus_client *c;
	int r;

	r = read_dict(m, fields, "selector", error);
	if (r >= 0)
		r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	r = broker_revoke_matching(api->broker, &c->peer, &req, &e);
	if (r < 0)
		return client_error(c, m, &e, error);
	return sd_bus_reply_method_return(m, "u", (uint32_t)r);
}

/* Revoke with one plain argument, for callers that cannot build an a{sv} (dbus-send). */
static int method_revoke_queue(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	struct revoke_request req = { 0 };
	struct accel_error e = { 0 };
	struct bus_client *c;
	int r;

	r = sd_bus_message_read(m, "t", &req.queue_id);
	if (r >= 0)
		r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	if (req.queue_id == 0) {	/* 0 means "any" to the core: no queue has it */
		accel_error_set(&e, ERR_NO_SUCH_QUEUE, "no queue 0");
		return client_error(c, m, &e, error);
	}
	r = broker_revoke_matching(api->broker, &c->peer, &req, &e);
	if (r < 0)
		return client_error(c, m, &e, error);
	return sd_bus_reply_method_return(m, "u", (uint32_t)r);
}

/* Reply (u uid, b allowed, a(siusx) limits, s lifetime, s fork, s transfer); gid -1: not a group's. */
static int reply_quota(sd_bus_message *m, const struct quota *q)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_append(reply, "ub", (uint32_t)q->uid, (int)q->allowed);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "(siusx)");
	for (unsigned i = 0; r >= 0 && i < q->n_lines; i++)
		r = sd_bus_message_append(reply, "(siusx)", q->lines[i].key, (int32_t)q->lines[i].limit,
					  (uint32_t)q->lines[i].used, q->lines[i].where, (int64_t)q->lines[i].gid);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_message_append(reply, "sss", policy_lifetime_to_string(q->terms.lifetime),
					  policy_fork_to_string(q->terms.fork),
					  policy_transfer_to_string(q->terms.transfer));
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	return r;
}

static int method_get_quota(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	struct accel_error e = { 0 };
	struct bus_client *c;
	struct quota q;
	const char *user;
	int r;

	r = sd_bus_message_read(m, "s", &user);
	if (r >= 0)
		r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	if (broker_get_quota(api->broker, &c->peer, *user ? user : NULL, &q, &e) < 0)	/* "": the caller */
		return client_error(c, m, &e, error);
	r = reply_quota(m, &q);
	free(q.lines);
	return r;
}

/* Subscribe(): from now on this name gets Revoked for every queue it may see. */
static int method_subscribe(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus_client *c;
	int r = client_get(userdata, m, &c, error);

	if (r < 0)
		return r;
	c->subscribed = true;
	return sd_bus_reply_method_return(m, "");
}

static int method_unsubscribe(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct bus_client *c;
	int r = client_get(userdata, m, &c, error);

	if (r < 0)
		return r;
	c->subscribed = false;
	return sd_bus_reply_method_return(m, "");
}

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	struct accel_error e = { 0 };
	struct bus_client *c;
	int r;

	r = client_get(api, m, &c, error);
	if (r < 0)
		return r;
	if (!c->peer.admin) {
		accel_error_set(&e, ERR_PERMISSION_DENIED, "only an administrator may reload");
		return client_error(c, m, &e, error);
	}
	r = broker_reload(api->broker, &c->peer, &e);
	if (r < 0)
		return client_error(c, m, &e, error);
	return sd_bus_reply_method_return(m, "u", (uint32_t)r);
}

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
			sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	struct dbus_api *api = userdata;
	struct device *d;
	int r;

	(void)bus;
	(void)path;
	(void)interface;
	(void)error;
	if (strcmp(property, "Version") == 0)
		return sd_bus_message_append(reply, "s", ACCEL_VERSION);
	if (strcmp(property, "ActiveQueues") == 0)
		return sd_bus_message_append(reply, "u", broker_active_queues(api->broker));
	r = sd_bus_message_open_container(reply, 'a', "s");
	list_for_each(d, &api->broker->devices, link)
		if (r >= 0)
			r = sd_bus_message_append(reply, "s", d->name);
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

static const sd_bus_vtable broker_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Version", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("ActiveQueues", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Devices", "as", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_METHOD_WITH_NAMES("AcquireQueue", "sa{sv}", SD_BUS_PARAM(algorithm) SD_BUS_PARAM(options),
				 "tssha(stt)", SD_BUS_PARAM(queue_id) SD_BUS_PARAM(device) SD_BUS_PARAM(api)
				 SD_BUS_PARAM(fd) SD_BUS_PARAM(regions),
				 method_acquire_queue, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("ReleaseQueue", "t", SD_BUS_PARAM(queue_id), "", ,
				 method_release_queue, SD_BUS_VTABLE_UNPRIVILEGED),
	/* Out: not "queue_id" again, which code generators would give two variables of one name. */
	SD_BUS_METHOD_WITH_NAMES("AttachQueue", "t", SD_BUS_PARAM(queue_id),
				 "tssha(stt)", SD_BUS_PARAM(attached_queue_id) SD_BUS_PARAM(device) SD_BUS_PARAM(api)
				 SD_BUS_PARAM(fd) SD_BUS_PARAM(regions),
				 method_attach_queue, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("TransferQueue", "t", SD_BUS_PARAM(queue_id),
				 "st", SD_BUS_PARAM(token) SD_BUS_PARAM(expires_in_usec),
				 method_transfer_queue, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("ClaimQueue", "s", SD_BUS_PARAM(token),
				 "tssha(stt)", SD_BUS_PARAM(queue_id) SD_BUS_PARAM(device) SD_BUS_PARAM(api)
				 SD_BUS_PARAM(fd) SD_BUS_PARAM(regions),
				 method_claim_queue, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("ListDevices", "", , "a(sssasbiuu)", SD_BUS_PARAM(devices),
				 method_list_devices, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("ListDeviceFeatures", "", , "a(sbbss)", SD_BUS_PARAM(devices),
				 method_list_device_features, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("GetQueueTerms", "t", SD_BUS_PARAM(queue_id),
				 "sss", SD_BUS_PARAM(bind) SD_BUS_PARAM(lifetime) SD_BUS_PARAM(fork),
				 method_get_queue_terms, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("ListQueues", "", , "a(tssuussbt)", SD_BUS_PARAM(queues),
				 method_list_queues, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("GetStatus", "", ,
				 "stuuua(uu)", SD_BUS_PARAM(version) SD_BUS_PARAM(uptime_usec) SD_BUS_PARAM(devices)
				 SD_BUS_PARAM(queues_active) SD_BUS_PARAM(clients) SD_BUS_PARAM(users),
				 method_get_status, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("Revoke", "a{sv}", SD_BUS_PARAM(selector), "u", SD_BUS_PARAM(revoked),
				 method_revoke, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("Reload", "", , "u", SD_BUS_PARAM(revoked),
				 method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("AcquireQueueSimple", "ss", SD_BUS_PARAM(algorithm) SD_BUS_PARAM(device),
				 "tssha(stt)", SD_BUS_PARAM(queue_id) SD_BUS_PARAM(device) SD_BUS_PARAM(api)
				 SD_BUS_PARAM(fd) SD_BUS_PARAM(regions),
				 method_acquire_queue_simple, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("RevokeQueue", "t", SD_BUS_PARAM(queue_id), "u", SD_BUS_PARAM(revoked),
				 method_revoke_queue, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("GetQuota", "s", SD_BUS_PARAM(user),
				 "uba(siusx)sss", SD_BUS_PARAM(uid) SD_BUS_PARAM(allowed) SD_BUS_PARAM(limits)
				 SD_BUS_PARAM(lifetime) SD_BUS_PARAM(fork) SD_BUS_PARAM(transfer),
				 method_get_quota, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("Subscribe", "", "", method_subscribe, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("Unsubscribe", "", "", method_unsubscribe, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL_WITH_NAMES("QueueRevoked", "ts", SD_BUS_PARAM(queue_id) SD_BUS_PARAM(reason), 0),
	SD_BUS_SIGNAL_WITH_NAMES("Revoked", "tssus", SD_BUS_PARAM(queue_id) SD_BUS_PARAM(device)
				 SD_BUS_PARAM(algorithm) SD_BUS_PARAM(uid) SD_BUS_PARAM(reason), 0),
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

int dbus_api_init(struct dbus_api *api, sd_event *event, struct broker *b)
{
	int r;

	*api = (struct dbus_api){ .broker = b };
	list_init(&api->clients);
	r = sd_bus_open_system_with_description(&api->bus, "accel-broker");
	if (r < 0) {
		log_info("Not on the system bus %s (%s): serving the socket only", system_bus_address(),
			 strerror(-r));
		api->bus = NULL;
		return 0;
	}
	r = sd_bus_add_object_vtable(api->bus, &api->vtable, DBUS_PATH, DBUS_INTERFACE, broker_vtable, api);
	if (r >= 0)
		r = sd_bus_attach_event(api->bus, event, SD_EVENT_PRIORITY_NORMAL);
	if (r < 0) {
		log_error_errno(r, "Could not set up the D-Bus object");
		goto fail;
	}
	r = sd_bus_request_name(api->bus, DBUS_NAME, 0);
	if (r < 0) {
		log_warning("Could not own %s on the system bus %s (%s): serving the socket only",
			    DBUS_NAME, system_bus_address(), strerror(-r));
		goto fail;
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
fail:
	api->vtable = sd_bus_slot_unref(api->vtable);
	api->bus = sd_bus_flush_close_unref(api->bus);
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

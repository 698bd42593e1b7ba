// SPDX-License-Identifier: MIT
/* status, devices, queues: tables by default, the broker's JSON with --json. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "accelctl.h"

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "-";
}

static long long num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (long long)json_object_get_int64(v) : -1;
}

static struct json_object *array(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array))
		return v;
	return NULL;
}

static void print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* A boolean field as yes/no; "-" when an older broker does not send it. */
static const char *yes_no(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
		return "-";
	return json_object_get_boolean(v) ? "yes" : "no";
}

static void print_devices(struct json_object *reply)
{
	struct json_object *devices = array(reply, "devices");
	size_t n = devices ? json_object_array_length(devices) : 0;

	printf("%-16s %-7s %-16s %6s %5s %4s %-4s %-6s  %s\n", "DEVICE", "BACKEND", "API", "QUEUES", "FREE",
	       "NUMA", "SVA", "REVOKE", "ALGORITHMS");
	for (size_t i = 0; i < n; i++) {
		struct json_object *d = json_object_array_get_idx(devices, i);
		struct json_object *algs = array(d, "algorithms"), *refused;
		char numa[16], list[256] = "";
		long long node = num(d, "numa_node");

		for (size_t k = 0; algs && k < json_object_array_length(algs); k++) {
			size_t used = strlen(list);
			snprintf(list + used, sizeof(list) - used, "%s%s", k ? " " : "",
				 json_object_get_string(json_object_array_get_idx(algs, k)));
		}
		snprintf(numa, sizeof(numa), node < 0 ? "-" : "%lld", node);
		printf("%-16s %-7s %-16s %6lld %5lld %4s %-4s %-6s  %s\n", str(d, "name"), str(d, "backend"),
		       str(d, "api"), num(d, "queues_total"), num(d, "queues_free"), numa,
		       yes_no(d, "sva"), yes_no(d, "revocable"), list);
		/* The broker's reason, e.g. an SVA device on a kernel without bind_mm. */
		if (json_object_object_get_ex(d, "refused", &refused))
			printf("  %s refused: %s\n", str(d, "name"), json_object_get_string(refused));
	}
}

int cmd_devices(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *reply;
	int r = ctl_parse_simple(ctl, argc, argv,
				 "Usage: accelctl devices [--json]\n"
				 "The devices: backend, api, queues, free queues, NUMA node, algorithms.\n");

	if (r <= 0)
		return r;
	r = ctl_call(ctl, "org.accelbroker.Broker.ListDevices", &reply);
	if (r < 0)
		return r;
	if (ctl->json)
		print_json(reply);
	else
		print_devices(reply);
	json_object_put(reply);
	return 0;
}

int cmd_status(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *status, *devices, *users;
	int r = ctl_parse_simple(ctl, argc, argv,
				 "Usage: accelctl status [--json]\n"
				 "The broker's version and uptime, its devices, queues, clients and users.\n"
				 "--json: the broker's GetStatus reply with \"devices\" the list that\n"
				 "accelctl devices --json prints (the count is \"device_count\").\n");

	if (r <= 0)
		return r;
	r = ctl_call(ctl, "org.accelbroker.Broker.GetStatus", &status);
	if (r < 0)
		return r;
	r = ctl_call(ctl, "org.accelbroker.Broker.ListDevices", &devices);
	if (r < 0) {
		json_object_put(status);
		return r;
	}
	if (ctl->json) {
		/* What the table shows: the devices themselves, not only their number. */
		json_object_object_add(status, "device_count", json_object_new_int64(num(status, "devices")));
		json_object_object_add(status, "devices", json_object_get(array(devices, "devices")));
		print_json(status);
		json_object_put(devices);
		json_object_put(status);
		return 0;
	}
	printf("accel-broker %s, up %.1f s\n", str(status, "version"),
	       (double)num(status, "uptime_usec") / 1e6);
	printf("Devices: %lld   Active queues: %lld   Clients: %lld\n\n", num(status, "devices"),
	       num(status, "queues_active"), num(status, "clients"));
	print_devices(devices);
	users = array(status, "users");
	if (users && json_object_array_length(users) > 0) {
		printf("\n%-8s %s\n", "UID", "QUEUES");
		for (size_t i = 0; i < json_object_array_length(users); i++) {
			struct json_object *u = json_object_array_get_idx(users, i);
			printf("%-8lld %lld\n", num(u, "uid"), num(u, "queues"));
		}
	}
	json_object_put(devices);
	json_object_put(status);
	return 0;
}

/* An optional string field of @o, or NULL. */
static const char *opt_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

/* What `accelctl queues` keeps: all unless set. */
struct queue_filter {
	long long uid;		/* -1: any */
	const char *device;
	const char *unit;
};

/* Keep the queues @f selects; the broker already hid others' from non-admins. */
static struct json_object *filter_queues(struct json_object *queues, const struct queue_filter *f)
{
	struct json_object *kept = json_object_new_array();

	for (size_t i = 0; queues && i < json_object_array_length(queues); i++) {
		struct json_object *q = json_object_array_get_idx(queues, i);
		const char *unit = opt_str(q, "unit");
		if ((f->uid >= 0 && num(q, "uid") != f->uid) || (f->device && strcmp(str(q, "device"), f->device) != 0) ||
		    (f->unit && (!unit || strcmp(unit, f->unit) != 0)))
			continue;
		json_object_array_add(kept, json_object_get(q));
	}
	return kept;
}

static int parse_user(const char *s, long long *uid)
{
	struct passwd *pw;
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*s && *end == '\0' && v >= 0) {
		*uid = v;
		return 0;
	}
	pw = getpwnam(s);
	if (!pw) {
		fprintf(stderr, "accelctl: no user \"%s\"\n", s);
		return -ENOENT;
	}
	*uid = pw->pw_uid;
	return 0;
}

#define QUEUES_USAGE \
	"Usage: accelctl queues [--user NAME] [--device NAME] [--unit NAME] [--json]\n" \
	"Your queues (an administrator: everyone's), optionally filtered;\n" \
	"UNIT is the systemd unit the owner acquired each in.\n"

int cmd_queues(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "device", required_argument, NULL, 'd' },
		{ "unit", required_argument, NULL, 'U' },
		CTL_COMMON_OPTIONS,
	};
	struct json_object *reply, *queues;
	struct queue_filter filter = { .uid = -1 };
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "u:d:h", options, NULL)) >= 0) {
		switch (opt) {
		case 'u':
			r = parse_user(optarg, &filter.uid);
			if (r < 0)
				return r;
			break;
		case 'd': filter.device = optarg; break;
		case 'U': filter.unit = optarg; break;
		default:
			r = ctl_common_option(ctl, opt, QUEUES_USAGE);
			if (r <= 0)
				return r;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "accelctl: unexpected argument \"%s\"\n", argv[optind]);
		return -EINVAL;
	}
	r = ctl_call(ctl, "org.accelbroker.Broker.ListQueues", &reply);
	if (r < 0)
		return r;
	queues = filter_queues(array(reply, "queues"), &filter);
	json_object_object_add(reply, "queues", queues);
	if (ctl->json) {
		print_json(reply);
		json_object_put(reply);
		return 0;
	}
	printf("%-8s %-16s %-10s %-7s %-8s %-12s %-19s %-19s %s\n", "QUEUE", "DEVICE", "ALGORITHM", "UID", "PID",
	       "STATE", "LIFETIME", "ACQUIRED", "UNIT");
	for (size_t i = 0; i < json_object_array_length(queues); i++) {
		struct json_object *q = json_object_array_get_idx(queues, i);
		time_t t = (time_t)(num(q, "acquired_usec") / 1000000);
		struct json_object *attached;
		char when[32], lifetime[32];
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
		snprintf(lifetime, sizeof(lifetime), "%s%s", str(q, "lifetime"),
			 json_object_object_get_ex(q, "attached", &attached) &&
					 !json_object_get_boolean(attached) ? " (detached)" : "");
		printf("%-8lld %-16s %-10s %-7lld %-8lld %-12s %-19s %-19s %s\n", num(q, "queue_id"),
		       str(q, "device"), *str(q, "algorithm") ? str(q, "algorithm") : "(raw)", num(q, "uid"),
		       num(q, "pid"), str(q, "state"), lifetime, when, opt_str(q, "unit") ? opt_str(q, "unit") : "-");
	}
	json_object_put(reply);
	return 0;
}

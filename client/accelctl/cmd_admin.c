// SPDX-License-Identifier: MIT
/* revoke and monitor: taking queues back, and watching it happen. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accelctl.h"

#define REVOKE_USAGE \
	"Usage: accelctl revoke [--json] QUEUE_ID | --user NAME | --device NAME | --unit NAME\n" \
	"Take queues back now; their owners see them revoked.\n" \
	"--unit: the queues acquired in that systemd unit.\n" \
	"Administrators reach every queue, others only their own.\n"

int cmd_revoke(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "device", required_argument, NULL, 'd' },
		{ "unit", required_argument, NULL, 'U' },
		CTL_COMMON_OPTIONS,
	};
	struct json_object *params = json_object_new_object(), *reply = NULL;
	struct accel_client *c;
	char *text = NULL, *end;
	int opt, r, selectors = 0;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "u:d:h", options, NULL)) >= 0) {
		switch (opt) {
		case 'u':
			json_object_object_add(params, "user", json_object_new_string(optarg));
			selectors++;
			break;
		case 'd':
		case 'U':
			json_object_object_add(params, opt == 'd' ? "device" : "unit", json_object_new_string(optarg));
			selectors++;
			break;
		default:
			r = ctl_common_option(ctl, opt, REVOKE_USAGE);
			if (r <= 0) {
				json_object_put(params);
				return r;
			}
		}
	}
	if (optind < argc) {
		unsigned long long id = strtoull(argv[optind], &end, 10);
		if (!*argv[optind] || *end || id == 0) {
			fprintf(stderr, "accelctl: \"%s\" is not a queue id\n", argv[optind]);
			json_object_put(params);
			return -EINVAL;
		}
		json_object_object_add(params, "queue_id", json_object_new_int64((int64_t)id));
		selectors++;
		optind++;
	}
	if (selectors != 1 || optind < argc) {
		fprintf(stderr, "accelctl: revoke takes one of QUEUE_ID, --user NAME, --device NAME, --unit NAME\n");
		json_object_put(params);
		return -EINVAL;
	}
	r = ctl_client(ctl, &c);
	if (r == 0)
		r = accel_call_json(c, "org.accelbroker.Broker.Revoke",
				    json_object_to_json_string(params), &text);
	json_object_put(params);
	if (r < 0)
		return ctl->client ? ctl_error(ctl, r, "revoke") : r;
	reply = json_tokener_parse(text);
	free(text);
	if (ctl->json)
		printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
	else
		printf("Revoked %d queue(s)\n", json_object_get_int(json_object_object_get(reply, "revoked")));
	json_object_put(reply);
	return 0;
}

/* A revocation as one JSON line; unit and machine only where the queue had them. */
static void print_revoked_json(const struct accel_event *ev, const char *unit, const char *machine)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "event", json_object_new_string(ev->type));
	json_object_object_add(o, "queue_id", json_object_new_uint64(ev->queue_id));
	json_object_object_add(o, "device", json_object_new_string(ev->device));
	json_object_object_add(o, "algorithm", json_object_new_string(ev->algorithm));
	json_object_object_add(o, "uid", json_object_new_int64(ev->uid));
	if (*unit)
		json_object_object_add(o, "unit", json_object_new_string(unit));
	if (*machine)
		json_object_object_add(o, "machine", json_object_new_string(machine));
	json_object_object_add(o, "reason", json_object_new_string(ev->reason));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static void print_event(const struct accel_events *events, const struct accel_event *ev, bool json)
{
	const char *unit = accel_events_unit(events), *machine = accel_events_machine(events);

	if (strcmp(ev->type, "overflow") == 0) {
		if (json)
			printf("{\"event\":\"overflow\"}\n");
		else
			printf("overflow: events were dropped while this monitor fell behind; "
			       "'accelctl queues' shows what is current\n");
	} else if (strncmp(ev->type, "device-", 7) == 0) {
		if (json)
			printf("{\"event\":\"%s\",\"device\":\"%s\"}\n", ev->type, ev->device);
		else
			printf("%s %s\n", ev->type, ev->device);
	} else if (json)
		print_revoked_json(ev, unit, machine);
	else
		printf("%s queue %llu on %s (%s, uid %u%s%s%s%s): %s\n", ev->type,
		       (unsigned long long)ev->queue_id, ev->device, ev->algorithm, ev->uid,
		       *unit ? ", unit " : "", unit, *machine ? ", machine " : "", machine, ev->reason);
	fflush(stdout);
}

int cmd_monitor(struct ctl *ctl, int argc, char **argv)
{
	struct accel_events *events;
	struct accel_event ev;
	int r = ctl_parse_simple(ctl, argc, argv,
				 "Usage: accelctl monitor [--json]\n"
				 "Print the broker's events as they happen (your queues; an\n"
				 "administrator's: all), one per line, until interrupted.\n");

	if (r <= 0)
		return r;
	r = accel_events_open(ctl_socket_path(ctl), &events);
	if (r == -ENOENT || r == -ECONNREFUSED || r == -EACCES || r == -EPERM || r == -ENOTDIR)
		return ctl_connect_error(ctl, r);
	if (r < 0) {
		fprintf(stderr, "accelctl: could not subscribe to events: %s\n", strerror(-r));
		return r;
	}
	/* Subscribed: said on stderr with --json too, so a script knows no event is missed from here. */
	fprintf(stderr, "Watching the broker's events; Ctrl-C stops.\n");
	for (;;) {
		struct pollfd p = { .fd = accel_events_fd(events), .events = POLLIN };
		while ((r = accel_events_read(events, &ev)) > 0)
			print_event(events, &ev, ctl->json);
		if (r < 0)
			break;
		if (poll(&p, 1, -1) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
	}
	accel_events_close(events);
	if (r == -ECONNRESET) {
		fprintf(stderr, "accelctl: the broker closed the event stream\n");
		return -ECONNRESET;
	}
	fprintf(stderr, "accelctl: events: %s\n", strerror(-r));
	return r;
}

int cmd_reload(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *reply;
	int r = ctl_parse_simple(ctl, argc, argv,
				 "Usage: accelctl reload\n"
				 "Make the broker re-read its configuration (administrators only).\n"
				 "A broken file keeps the settings in force; the error names file and line.\n");

	if (r <= 0)
		return r;
	r = ctl_call(ctl, "org.accelbroker.Broker.Reload", &reply);
	if (r < 0)
		return r;
	if (ctl->json)
		printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
	else
		printf("Reloaded; %d queue(s) over the new limits revoked\n",
		       json_object_get_int(json_object_object_get(reply, "revoked")));
	json_object_put(reply);
	return 0;
}

/* "KEY", "KEY (gid N)" or "KEY (unit NAME)" (slice, machine) of a limit or restriction. */
static void rule_key(struct json_object *l, char *key, size_t size)
{
	static const char *const scopes[] = { "unit", "slice", "machine" };
	struct json_object *v;
	const char *k = json_object_get_string(json_object_object_get(l, "key"));

	if (json_object_object_get_ex(l, "gid", &v)) {
		snprintf(key, size, "%s (gid %d)", k, json_object_get_int(v));
		return;
	}
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
		if (json_object_object_get_ex(l, scopes[i], &v)) {
			snprintf(key, size, "%s (%s %s)", k, scopes[i], json_object_get_string(v));
			return;
		}
	snprintf(key, size, "%s", k);
}

/* devices= and allow=: they refuse acquires whatever the limits say. */
static void print_restrictions(struct json_object *list)
{
	size_t n = list ? json_object_array_length(list) : 0;

	if (n == 0)
		return;
	printf("%-22s %-20s %s\n", "RESTRICTION", "VALUE", "RULE");
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(list, i);
		char key[320];
		rule_key(r, key, sizeof(key));
		printf("%-22s %-20s %s\n", key, json_object_get_string(json_object_object_get(r, "value")),
		       json_object_get_string(json_object_object_get(r, "rule")));
	}
}

#define QUOTA_USAGE \
	"Usage: accelctl quota [--user NAME | --unit NAME] [--json]\n" \
	"The limits that apply to you (an administrator: to NAME), their use,\n" \
	"and the rule that sets each; then the devices= and allow= restrictions.\n" \
	"Yours include your systemd unit's, slices' and machine's; --unit: those\n" \
	"you would have in that unit (an administrator: any unit).\n"

int cmd_quota(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "unit", required_argument, NULL, 'U' },
		CTL_COMMON_OPTIONS,
	};
	struct json_object *params = json_object_new_object(), *reply, *limits;
	struct accel_client *c;
	char *text = NULL;
	bool called;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "u:h", options, NULL)) >= 0) {
		if (opt == 'u' || opt == 'U') {
			json_object_object_add(params, opt == 'u' ? "user" : "unit", json_object_new_string(optarg));
			continue;
		}
		r = ctl_common_option(ctl, opt, QUOTA_USAGE);
		if (r <= 0) {
			json_object_put(params);
			return r;
		}
	}
	if (optind < argc)
		fprintf(stderr, "accelctl: unexpected argument \"%s\"\n", argv[optind]);
	r = optind < argc ? -EINVAL : ctl_client(ctl, &c);
	called = r == 0;
	if (called)
		r = accel_call_json(c, "org.accelbroker.Broker.GetQuota", json_object_to_json_string(params), &text);
	json_object_put(params);
	if (r < 0)	/* the broker's refusal, InvalidParameter included, is said; the rest was */
		return called ? ctl_error(ctl, r, "quota") : r;
	reply = json_tokener_parse(text);
	free(text);
	if (ctl->json) {
		printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(reply);
		return 0;
	}
	printf("uid %d%s\n", json_object_get_int(json_object_object_get(reply, "uid")),
	       json_object_get_boolean(json_object_object_get(reply, "allowed")) ? "" : " (not allowed)");
	printf("%-22s %6s %6s  %s\n", "LIMIT", "MAX", "USED", "RULE");
	limits = json_object_object_get(reply, "limits");
	for (size_t i = 0; limits && i < json_object_array_length(limits); i++) {
		struct json_object *l = json_object_array_get_idx(limits, i);
		char key[320];
		rule_key(l, key, sizeof(key));
		printf("%-22s %6d %6d  %s\n", key, json_object_get_int(json_object_object_get(l, "limit")),
		       json_object_get_int(json_object_object_get(l, "used")),
		       json_object_get_string(json_object_object_get(l, "rule")));
	}
	print_restrictions(json_object_object_get(reply, "restrictions"));
	printf("Queues are handed out with lifetime %s, fork %s, transfer %s\n",
	       json_object_get_string(json_object_object_get(reply, "lifetime")),
	       json_object_get_string(json_object_object_get(reply, "fork")),
	       json_object_get_string(json_object_object_get(reply, "transfer")));
	json_object_put(reply);
	return 0;
}

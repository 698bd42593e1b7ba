// SPDX-License-Identifier: MIT
/*
 * The D-Bus listener's a{sv} readers (AcquireQueue's options, Revoke's
 * selector).  sd-bus parses no raw bytes for us to fuzz: the bus daemon
 * and sd-bus validate the wire format before a handler runs.  What reaches
 * a handler is a well-formed message of any signature a sender chose, so
 * the input describes such a message: it is built with sd-bus, sealed as
 * a received message is, and read by the broker's own code.  The readers
 * are static in dbus_api.c, so this file includes it.
 *
 * Input: byte 0 picks the reader, byte 1 the argument layout (see
 * `layouts`), then for AcquireQueue the algorithm string, then entries:
 * key string, type byte (see append_value), value.  Strings are a length
 * byte and that many bytes.
 */
#include "../../daemon/api/dbus_api.c"

#include <sys/socket.h>

#include "fuzz.h"

static sd_bus *bus;

/* What the top-level a{sv} of this input holds, for the checks after reading. */
static struct {
	bool acquire;
	unsigned n;
	bool all_known;		/* every key known to the reader, with its type */
} dict;

/* Whether the reader's own table (dbus_api.c) has @key with @type. */
static bool known_key(const char *key, char type)
{
	for (const struct dict_field *k = dict.acquire ? acquire_options : revoke_selector; k->key; k++)
		if (strcmp(k->key, key) == 0 && k->type == type)
			return true;
	return false;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int sv[2];

	(void)argc;
	(void)argv;
	fuzz_hide_stderr();
	log_set_level(LOG_DEBUG);
	/*
	 * Messages are made on a bus object; it need not reach a bus daemon,
	 * only be started (sd-bus refuses to make messages on an unset bus).
	 */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0 ||
	    sd_bus_new(&bus) < 0 || sd_bus_set_fd(bus, sv[0], sv[0]) < 0 || sd_bus_start(bus) < 0)
		abort();
	return 0;
}

/* A string of the input: length byte, bytes; NUL-terminated copy in @buf (256 bytes). */
static const char *take_string(struct fuzz_input *in, char *buf)
{
	size_t n = fuzz_u8(in);

	fuzz_take(in, buf, n);
	buf[n] = '\0';
	return buf;
}

static int fuzz_append_entries(struct fuzz_input *in, sd_bus_message *m, unsigned max, int depth);

/* One variant value; its type from the input ('s', 'i', 't' in *@type, else 0). */
static int append_value(struct fuzz_input *in, sd_bus_message *m, int depth, char *type)
{
	char buf[256];
	uint8_t t = fuzz_u8(in);
	int r;

	*type = t % 13 < 3 ? "sit"[t % 13] : 0;
	switch (t % 13) {
	case 0:
		return sd_bus_message_append(m, "v", "s", take_string(in, buf));
	case 1:
		return sd_bus_message_append(m, "v", "i", (int32_t)fuzz_u32(in));
	case 2:
		return sd_bus_message_append(m, "v", "t", fuzz_u64(in));
	case 3:
		return sd_bus_message_append(m, "v", "u", fuzz_u32(in));
	case 4:
		return sd_bus_message_append(m, "v", "b", fuzz_u8(in) & 1);
	case 5: {
		char a[256], b[256];
		take_string(in, a);
		return sd_bus_message_append(m, "v", "as", 2, a, take_string(in, b));
	}
	case 6:
		return sd_bus_message_append(m, "v", "v", "s", take_string(in, buf));
	case 7:
		return sd_bus_message_append(m, "v", "x", (int64_t)fuzz_u64(in));
	case 8:
		return sd_bus_message_append(m, "v", "y", fuzz_u8(in));
	case 9: {
		uint64_t bits = fuzz_u64(in);
		double d;
		memcpy(&d, &bits, sizeof(d));
		return sd_bus_message_append(m, "v", "d", d);
	}
	case 10:
		return sd_bus_message_append(m, "v", "o", take_string(in, buf));
	case 11:
		return sd_bus_message_append(m, "v", "g", take_string(in, buf));
	default:
		if (depth > 2)
			return sd_bus_message_append(m, "v", "n", (int16_t)fuzz_u32(in));
		r = sd_bus_message_open_container(m, 'v', "a{sv}");
		if (r >= 0)
			r = fuzz_append_entries(in, m, fuzz_u8(in) % 4, depth + 1);
		if (r >= 0)
			r = sd_bus_message_close_container(m);
		return r;
	}
}

/* An a{sv}: @max entries or until the input runs out. */
static int fuzz_append_entries(struct fuzz_input *in, sd_bus_message *m, unsigned max, int depth)
{
	int r = sd_bus_message_open_container(m, 'a', "{sv}");

	for (unsigned i = 0; r >= 0 && i < max && in->size > 0; i++) {
		char key[256], type;
		r = sd_bus_message_open_container(m, 'e', "sv");
		if (r >= 0)
			r = sd_bus_message_append(m, "s", take_string(in, key));
		if (r >= 0)
			r = append_value(in, m, depth, &type);
		if (r >= 0 && depth == 0 && dict.n++ < 64)
			dict.all_known &= known_key(key, type);
		if (r >= 0)
			r = sd_bus_message_close_container(m);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	return r;
}

/* The arguments a sender may put where an a{sv} is expected. */
enum layout {
	LAYOUT_DICT,		/* what the method declares */
	LAYOUT_TWO_DICTS,	/* an a{sv} too many */
	LAYOUT_SS_DICT,		/* a{ss}: right container, wrong value type */
	LAYOUT_NOTHING,		/* the argument missing */
	LAYOUT_STRING,		/* a basic type instead */
	LAYOUT_ARRAY_OF_VARIANTS,
	N_LAYOUTS,
};

static int append_args(struct fuzz_input *in, sd_bus_message *m, enum layout layout)
{
	char a[256], b[256];
	int r;

	switch (layout) {
	case LAYOUT_DICT:
		return fuzz_append_entries(in, m, UINT32_MAX, 0);
	case LAYOUT_TWO_DICTS:
		r = fuzz_append_entries(in, m, fuzz_u8(in) % 20, 0);
		return r < 0 ? r : fuzz_append_entries(in, m, UINT32_MAX, 1);
	case LAYOUT_SS_DICT:
		take_string(in, a);
		return sd_bus_message_append(m, "a{ss}", 1, a, take_string(in, b));
	case LAYOUT_NOTHING:
		return 0;
	case LAYOUT_STRING:
		return sd_bus_message_append(m, "s", take_string(in, a));
	default:
		return sd_bus_message_append(m, "av", 1, "s", take_string(in, a));
	}
}

/* A dictionary read without error had only known keys of their types, and few. */
static void check_dict(void)
{
	if (dict.n > MAX_OPTIONS || !dict.all_known)
		abort();
}

static void read_acquire(sd_bus_message *m)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	struct acquire_request req = { .numa_node = -1 };
	int r = sd_bus_message_read(m, "s", &req.algorithm);

	if (r >= 0)
		r = read_acquire_options(m, &req, &error);
	if (r < 0)
		return;
	/* What the core is handed: a string it may read, a node in range. */
	check_dict();
	if ((req.device && strlen(req.device) > 255) || req.numa_node < -1 ||
	    req.numa_node > LISTENER_MAX_NUMA_NODE)
		abort();
}

static void read_selector(sd_bus_message *m)
{
	_cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
	struct revoke_selector req = { 0 };

	if (read_revoke_selector(m, &req, &error) < 0)
		return;
	check_dict();
	if ((req.user && strlen(req.user) > 255) || (req.device && strlen(req.device) > 255))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	struct fuzz_input in = { data, size };
	bool acquire = fuzz_u8(&in) & 1;
	enum layout layout = fuzz_u8(&in) % N_LAYOUTS;
	static uint64_t cookie;
	char alg[256];

	dict.acquire = acquire;
	dict.n = 0;
	dict.all_known = true;
	if (sd_bus_message_new_method_call(bus, &m, DBUS_NAME, DBUS_PATH, DBUS_INTERFACE,
					   acquire ? "AcquireQueue" : "Revoke") < 0)
		abort();
	if (acquire && sd_bus_message_append(m, "s", take_string(&in, alg)) < 0)
		return 0;	/* not valid UTF-8: no sender gets it past sd-bus */
	if (append_args(&in, m, layout) < 0)
		return 0;
	if (sd_bus_message_seal(m, ++cookie, 0) < 0 || sd_bus_message_rewind(m, true) < 0)
		abort();
	if (acquire)
		read_acquire(m);
	else
		read_selector(m);
	return 0;
}

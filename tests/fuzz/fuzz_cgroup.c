// SPDX-License-Identifier: MIT
/*
 * /proc/<pid>/cgroup text as the broker parses it (api/cgroup.c), the
 * client's cgroup being the one piece of it a client writes itself: a
 * delegated subtree may name its cgroups anything up to the kernel's
 * limits.  What parses must hold what the parser promises (identity.h),
 * and the policy's unit, slice and machine rules are matched against it.
 *
 * Input: one byte choosing the layout (its value modulo 3), then the text.
 */
#include <errno.h>
#include <stdbool.h>

#include "cgroup.h"
#include "fuzz.h"
#include "log.h"
#include "policy.h"

static struct policy policy;

static void add(const char *section, const char *key, const char *value)
{
	char err[256];

	if (policy_parse(&policy, section, key, value, "fuzz", err, sizeof(err)) != 1)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_hide_stderr();
	policy_init(&policy, 8);
	add("unit:*.service", "max_queues", "1");
	add("unit:user@*.service", "allow", "no");
	add("slice:*-*.slice", "max_queues.gzip", "2");
	add("slice:-.slice", "devices", "accel_sim-*");
	add("machine:[a-m]*", "max_queues", "3");
	return 0;
}

/* A name the parser hands out: inside the identity's own storage, not empty, no '/'. */
static void check_name(const struct cgroup_identity *id, const char *name, size_t text_len)
{
	size_t n = strlen(name);

	if (n == 0 || n > text_len + 8 || strchr(name, '/') || name < id->names)
		abort();
}

static void check(const struct cgroup_identity *id, size_t text_len)
{
	if (id->n_ref != 1 || id->n_slices > CGROUP_MAX_SLICES)
		abort();
	/* No slice at all only beside systemd's tree: then nothing else either. */
	if (id->n_slices == 0 ? id->unit || id->machine || id->user_unit : strcmp(id->slices[0], "-.slice") != 0)
		abort();
	for (unsigned i = 0; i < id->n_slices; i++) {
		size_t n = strlen(id->slices[i]);
		check_name(id, id->slices[i], text_len);
		if (n < 6 || strcmp(id->slices[i] + n - 6, ".slice") != 0)
			abort();
	}
	if (id->unit)
		check_name(id, id->unit, text_len);
	if (id->machine)
		check_name(id, id->machine, text_len);
	if (id->user_unit)
		check_name(id, id->user_unit, text_len);
	/* A machine only inside machine.slice: never from a delegated subtree elsewhere. */
	if (id->machine && (id->n_slices < 2 || strcmp(id->slices[1], "machine.slice") != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	enum cgroup_layout layout = (enum cgroup_layout)(fuzz_u8(&in) % 3);
	struct cgroup_identity *id = NULL;
	struct caller caller = { 1000, NULL, 0, NULL };
	struct usage usage = { 0 };
	struct accel_error e = { 0 };
	struct terms terms;
	int r = cgroup_identity_parse((const char *)in.data, in.size, layout, &id);

	if (r < 0) {
		if (id || (r != -EBADMSG && r != -ENODATA && r != -EXDEV && r != -ENOMEM))
			abort();
		return 0;
	}
	check(id, in.size);
	caller.identity = id;
	(void)policy_check_acquire(&policy, &caller, "gzip", &usage, &e);
	(void)policy_check_device(&policy, &caller, "accel_sim-0", &e);
	policy_terms(&policy, &caller, &terms);
	cgroup_identity_free(id);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * The unit, slices and machine of a process from its cgroup (cgroup.h says
 * what is trusted and why).  Machines are accepted in three forms, all in
 * machine.slice (or a slice below it) and all the first unit, so made by
 * root through PID 1:
 *   machine-NAME.scope          machined's scope (nspawn, libvirt,
 *                               RegisterMachine): NAME unescaped; a name
 *                               machined would not have escaped so is no
 *                               machine (one machine, one spelling)
 *   systemd-nspawn@NAME.service machinectl start: machined registers the
 *                               service itself; NAME unescaped
 *   NAME.scope                  any other scope there: a container manager
 *                               without machined (nspawn --register=no,
 *                               podman's libpod-ID), the name verbatim
 * Not accepted: containers of a user (their scopes are in the user's
 * delegated subtree), runtimes' scopes outside machine.slice (docker-ID.scope
 * in system.slice, kubepods: they are units and slices, matched as such), and
 * cgroups made beside systemd's tree (cgroup.h: no unit, slice or machine).
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "cgroup.h"
#include "pidfd.h"
#include "util.h"

#define UNIT_NAME_MAX 255	/* systemd's limit, without the NUL */
#define MACHINE_NAME_MAX 64	/* machined's: a host name */

/* A component of a cgroup path: not NUL-terminated, it points into the text. */
struct span {
	const char *p;
	size_t n;
};

static bool span_is(struct span s, const char *str)
{
	return s.n == strlen(str) && memcmp(s.p, str, s.n) == 0;
}

static bool span_ends_with(struct span s, const char *suffix)
{
	size_t n = strlen(suffix);

	return s.n >= n && memcmp(s.p + s.n - n, suffix, n) == 0;
}

static bool span_starts_with(struct span s, const char *prefix)
{
	size_t n = strlen(prefix);

	return s.n >= n && memcmp(s.p, prefix, n) == 0;
}

int cgroup_layout_detect(enum cgroup_layout *ret)
{
	struct statfs fs;

	assert(ret);
	if (statfs("/sys/fs/cgroup", &fs) < 0)
		return -errno;
	if (fs.f_type == CGROUP2_SUPER_MAGIC) {
		*ret = CGROUP_LAYOUT_UNIFIED;
		return 0;
	}
	if (fs.f_type != TMPFS_MAGIC)
		return -ENOMEDIUM;
	/* systemd 232 mounted its cgroup2 on .../systemd; later ones on .../unified. */
	if ((statfs("/sys/fs/cgroup/unified", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) ||
	    (statfs("/sys/fs/cgroup/systemd", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC))
		*ret = CGROUP_LAYOUT_HYBRID;
	else
		*ret = CGROUP_LAYOUT_LEGACY;
	return 0;
}

/* "name=systemd" as one item of a v1 line's comma-separated controller list. */
static bool controllers_have_systemd(struct span list)
{
	const char *p = list.p, *end = list.p + list.n;

	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		struct span item = { p, (size_t)((comma ? comma : end) - p) };

		if (span_is(item, "name=systemd"))
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}

static bool controllers_valid(struct span list)
{
	for (size_t i = 0; i < list.n; i++)
		if (!isalnum((unsigned char)list.p[i]) && !strchr("_=,.-", list.p[i]))
			return false;
	return true;
}

/*
 * One line "ID:CONTROLLERS:PATH" (no newline): the path, if the line is
 * the one @layout says systemd tracks; -EBADMSG if it is no such line.
 * The path may hold ':' and anything but '/' in a delegated component.
 */
static int parse_line(struct span line, enum cgroup_layout layout, struct span *path, bool *ours)
{
	const char *c1 = memchr(line.p, ':', line.n), *c2;
	struct span id, list;

	if (!c1 || c1 == line.p || line.n > CGROUP_LINE_MAX)
		return -EBADMSG;
	c2 = memchr(c1 + 1, ':', (size_t)(line.p + line.n - c1 - 1));
	if (!c2)
		return -EBADMSG;
	id = (struct span){ line.p, (size_t)(c1 - line.p) };
	list = (struct span){ c1 + 1, (size_t)(c2 - c1 - 1) };
	*path = (struct span){ c2 + 1, (size_t)(line.p + line.n - c2 - 1) };
	for (size_t i = 0; i < id.n; i++)
		if (!isdigit((unsigned char)id.p[i]))
			return -EBADMSG;
	if (id.n > 10 || (id.n > 1 && id.p[0] == '0') || !controllers_valid(list) ||
	    path->n == 0 || path->p[0] != '/')
		return -EBADMSG;
	if (layout == CGROUP_LAYOUT_LEGACY)
		*ours = controllers_have_systemd(list);
	else
		*ours = span_is(id, "0") && list.n == 0;
	return 0;
}

/*
 * The path of the one line systemd tracks.  Every line must be well formed
 * and that line must appear once: on a kernel that still allowed a newline
 * in a cgroup's name, a delegated subtree could otherwise append a line of
 * its choosing.
 */
static int find_path(const char *text, size_t len, enum cgroup_layout layout, struct span *ret)
{
	const char *p = text, *end = text + len;
	unsigned found = 0;

	if (len == 0 || memchr(text, '\0', len) || text[len - 1] != '\n')
		return -EBADMSG;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct span path;
		bool ours;
		int r;

		r = parse_line((struct span){ p, (size_t)(nl - p) }, layout, &path, &ours);
		if (r < 0)
			return r;
		if (ours && found++ == 0)
			*ret = path;
		p = nl + 1;
	}
	if (found > 1)
		return -EBADMSG;
	return found ? 0 : -ENODATA;
}

/*
 * Split @path ("/a/b/c") into its components.  ".." first is how the kernel
 * shows a cgroup outside our namespace's root; empty, "." and ".."
 * components anywhere else it never prints.
 */
static int split_path(struct span path, struct span *comps, size_t max, size_t *ret_n)
{
	const char *p = path.p + 1, *end = path.p + path.n;
	size_t n = 0;

	if (path.n == 1) {
		*ret_n = 0;
		return 0;
	}
	while (p <= end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		struct span c = { p, (size_t)((slash ? slash : end) - p) };

		if (n == 0 && span_is(c, ".."))
			return -EXDEV;
		if (c.n == 0 || span_is(c, ".") || span_is(c, "..") || n == max)
			return -EBADMSG;
		comps[n++] = c;
		if (!slash)
			break;
		p = slash + 1;
	}
	*ret_n = n;
	return 0;
}

/*
 * systemd prefixes '_' to a unit's cgroup name that could be mistaken for
 * a kernel file or controller ("cpu.service" -> "_cpu.service"), and to
 * names that begin with '_' or '.' themselves: one '_' is always its.
 */
static struct span cg_unescape(struct span c)
{
	if (c.n > 0 && c.p[0] == '_')
		return (struct span){ c.p + 1, c.n - 1 };
	return c;
}

static bool is_hex(char c)
{
	return isdigit((unsigned char)c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static const char *const cgroup_unit_types[] = { ".service", ".scope", ".socket", ".mount", ".swap" };

/*
 * A unit name as systemd makes them: PREFIX[@INSTANCE].TYPE of [A-Za-z0-9:_.-]
 * and \xNN escapes, at most 255 bytes.  Stricter than systemd about a
 * backslash (only in a well-formed escape), which is all it writes.
 */
static bool unit_name_valid(struct span name, const char *type)
{
	size_t stem = name.n - strlen(type);
	const char *at = NULL;

	if (name.n > UNIT_NAME_MAX || !span_ends_with(name, type) || stem == 0)
		return false;
	for (size_t i = 0; i < stem; i++) {
		char c = name.p[i];

		if (c == '\\') {
			if (i + 3 >= stem || name.p[i + 1] != 'x' || !is_hex(name.p[i + 2]) ||
			    !is_hex(name.p[i + 3]))
				return false;
			i += 3;
		} else if (c == '@') {
			if (at || i == 0 || i + 1 == stem)
				return false;
			at = name.p + i;
		} else if (!isalnum((unsigned char)c) && !strchr(":_.-", c)) {
			return false;
		}
	}
	return true;
}

static bool cgroup_unit_valid(struct span name)
{
	for (size_t i = 0; i < ELEMENTSOF(cgroup_unit_types); i++)
		if (span_ends_with(name, cgroup_unit_types[i]))
			return unit_name_valid(name, cgroup_unit_types[i]);
	return false;
}

/*
 * @slice is a child of @parent ("-.slice" for the root): systemd names a
 * slice after its parent, "a-b.slice" in "a.slice", and refuses a leading,
 * trailing or doubled dash.
 */
static bool slice_child_of(struct span slice, struct span parent)
{
	size_t stem = slice.n - strlen(".slice"), pstem = parent.n - strlen(".slice");
	const char *dash;

	if (!unit_name_valid(slice, ".slice") || memchr(slice.p, '@', stem) ||
	    slice.p[0] == '-' || slice.p[stem - 1] == '-' || memmem(slice.p, stem, "--", 2))
		return false;
	dash = memrchr(slice.p, '-', stem);
	if (!dash)
		return span_is(parent, "-.slice");
	return (size_t)(dash - slice.p) == pstem && memcmp(slice.p, parent.p, pstem) == 0;
}

/* The slices and first unit of a tree systemd made, from @comps. */
struct tree {
	struct span slices[CGROUP_MAX_SLICES];
	size_t n_slices;
	struct span unit;	/* .p NULL: none */
	size_t below;		/* the index of the first component after the unit */
};

/*
 * Whether @c, a top-level cgroup, is one systemd made or claims to: a
 * slice or a unit of a type that has a cgroup.  Anything else there
 * (/docker/ID, /lxc.payload.NAME) root made beside systemd's tree.
 */
static bool systemd_shaped(struct span c)
{
	c = cg_unescape(c);
	if (span_ends_with(c, ".slice"))
		return true;
	for (size_t i = 0; i < ELEMENTSOF(cgroup_unit_types); i++)
		if (span_ends_with(c, cgroup_unit_types[i]))
			return true;
	return false;
}

static int parse_tree(const struct span *comps, size_t n, struct tree *t)
{
	size_t i = 0;

	t->unit = (struct span){ NULL, 0 };
	if (n > 0 && !systemd_shaped(comps[0])) {
		/* Beside systemd's tree: no slice, unit or machine to tell; nothing below is read. */
		t->n_slices = 0;
		t->below = n + 1;
		return 0;
	}
	t->slices[0] = (struct span){ "-.slice", strlen("-.slice") };
	t->n_slices = 1;
	for (; i < n && span_ends_with(cg_unescape(comps[i]), ".slice"); i++) {
		struct span s = cg_unescape(comps[i]);

		if (t->n_slices == CGROUP_MAX_SLICES || !slice_child_of(s, t->slices[t->n_slices - 1]))
			return -EBADMSG;
		t->slices[t->n_slices++] = s;
	}
	t->below = i + 1;
	if (i == n)
		return 0;
	if (!cgroup_unit_valid(cg_unescape(comps[i])))
		return -EBADMSG;
	t->unit = cg_unescape(comps[i]);
	return 0;
}

static int unhex(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10);
}

/*
 * A machine name machined escaped into a unit name: the \xNN escapes
 * undone into @out (at least @esc.n + 1 bytes).  Accepted only if it is a
 * name machined takes (a host name: [A-Za-z0-9_.-], no leading dot, at
 * most 64) and escaping it again gives @esc exactly, so that one machine
 * has one spelling.
 */
static bool machine_unescape(struct span esc, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < esc.n; i++) {
		if (esc.p[i] == '\\') {
			if (i + 3 >= esc.n || esc.p[i + 1] != 'x' || !is_hex(esc.p[i + 2]) ||
			    !is_hex(esc.p[i + 3]))
				return false;
			/* machined writes lowercase hex, and escapes only the dash here */
			if (esc.p[i + 2] != '2' || esc.p[i + 3] != 'd')
				return false;
			out[n++] = (char)(unhex(esc.p[i + 2]) * 16 + unhex(esc.p[i + 3]));
			i += 3;
		} else if (isalnum((unsigned char)esc.p[i]) || esc.p[i] == '_' || esc.p[i] == '.') {
			out[n++] = esc.p[i];
		} else {
			return false;
		}
	}
	out[n] = '\0';
	return n > 0 && n <= MACHINE_NAME_MAX && out[0] != '.' && !strstr(out, "..");
}

/* The machine the first unit @t is, into @out (room for the unit's name); false if none. */
static bool tree_machine(const struct tree *t, char *out)
{
	struct span u = t->unit, inner;

	if (!u.p || t->n_slices < 2 || !span_is(t->slices[1], "machine.slice"))
		return false;
	if (span_starts_with(u, "machine-") && span_ends_with(u, ".scope")) {
		inner = (struct span){ u.p + strlen("machine-"), u.n - strlen("machine-") - strlen(".scope") };
		return machine_unescape(inner, out);
	}
	if (span_starts_with(u, "systemd-nspawn@") && span_ends_with(u, ".service")) {
		inner = (struct span){ u.p + strlen("systemd-nspawn@"),
				       u.n - strlen("systemd-nspawn@") - strlen(".service") };
		return machine_unescape(inner, out);
	}
	if (!span_ends_with(u, ".scope"))
		return false;
	memcpy(out, u.p, u.n - strlen(".scope"));
	out[u.n - strlen(".scope")] = '\0';
	return true;
}

/* user@UID.service: a user's manager, whose subtree the user owns. */
static bool is_user_manager(struct span unit)
{
	size_t digits = unit.n - strlen("user@") - strlen(".service");

	if (!span_starts_with(unit, "user@") || !span_ends_with(unit, ".service") ||
	    unit.n <= strlen("user@.service"))
		return false;
	for (size_t i = 0; i < digits; i++)
		if (!isdigit((unsigned char)unit.p[strlen("user@") + i]))
			return false;
	return true;
}

/* Copy @s into the identity's names at *@pos. */
static const char *store(struct cgroup_identity *id, size_t *pos, struct span s)
{
	char *p = id->names + *pos;

	memcpy(p, s.p, s.n);
	p[s.n] = '\0';
	*pos += s.n + 1;
	return p;
}

/*
 * The user manager's own tree below @t's unit, parsed like the system's;
 * the user chose it, so what does not parse is simply not shown.
 */
static struct span user_unit(const struct tree *t, const struct span *comps, size_t n)
{
	struct tree user;

	if (t->below > n || !is_user_manager(t->unit) ||
	    parse_tree(comps + t->below, n - t->below, &user) < 0)
		return (struct span){ NULL, 0 };
	return user.unit;
}

static struct cgroup_identity *identity_new(const struct tree *t, const struct span *comps, size_t n,
					    size_t path_len)
{
	/* Every name is a component or less, each stored once, plus "-.slice" and the machine. */
	struct cgroup_identity *id = calloc(1, sizeof(*id) + 2 * path_len + 32);
	struct span uu = user_unit(t, comps, n);
	size_t pos = 0;

	if (!id)
		return NULL;
	id->n_ref = 1;
	for (size_t i = 0; i < t->n_slices; i++)
		id->slices[i] = store(id, &pos, t->slices[i]);
	id->n_slices = (unsigned)t->n_slices;
	if (t->unit.p)
		id->unit = store(id, &pos, t->unit);
	if (uu.p)
		id->user_unit = store(id, &pos, uu);
	if (tree_machine(t, id->names + pos))
		id->machine = id->names + pos;
	return id;
}

int cgroup_identity_parse(const char *text, size_t len, enum cgroup_layout layout,
			  struct cgroup_identity **ret)
{
	/* Set by find_path() when it succeeds; gcc 12 -O2 cannot see that through the inlining. */
	struct span path = { NULL, 0 }, comps[CGROUP_LINE_MAX / 2];
	struct tree t;
	size_t n;
	int r;

	assert(text);
	assert(ret);
	if (len > CGROUP_FILE_MAX)
		return -EBADMSG;
	r = find_path(text, len, layout, &path);
	if (r < 0)
		return r;
	r = split_path(path, comps, ELEMENTSOF(comps), &n);
	if (r < 0)
		return r;
	r = parse_tree(comps, n, &t);
	if (r < 0)
		return r;
	*ret = identity_new(&t, comps, n, path.n);
	return *ret ? 0 : -ENOMEM;
}

void cgroup_identity_free(struct cgroup_identity *id)
{
	cgroup_identity_unref(id);
}

/* The pid @pidfd refers to, from its fdinfo ("Pid:\t-1" once it is reaped). */
static int pidfd_pid(int pidfd)
{
	char path[64], buf[1024];
	const char *p;
	_cleanup_close_ int fd = -1;
	ssize_t n;
	long pid;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	p = strstr(buf, "\nPid:\t");
	if (!p)
		return -EBADF;	/* not a pidfd */
	pid = strtol(p + strlen("\nPid:\t"), NULL, 10);
	return pid > 0 ? (int)pid : -ESRCH;
}

static int read_all(int fd, char *buf, size_t size, size_t *ret_len)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = read(fd, buf + len, size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == size)
			return -EFBIG;
	}
	*ret_len = len;
	return 0;
}

int cgroup_read(int pidfd, pid_t pid, char *buf, size_t size, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	char path[64];
	int r;

	assert(buf && size > 1);
	assert(ret_len);
	/* An owner may have no pidfd (owner.h): then nothing can be read race-free. */
	if (pidfd < 0 || pid <= 0)
		return -EBADF;
	r = pidfd_pid(pidfd);
	if (r < 0)
		return r;
	if (r != pid)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return pidfd_exited(pidfd) ? -ESRCH : -errno;
	r = read_all(fd, buf, size - 1, ret_len);
	if (r < 0)
		return r;
	buf[*ret_len] = '\0';
	/*
	 * The pid was the pidfd's process's when we looked it up; if that
	 * process still lives now, it held the pid for the whole read (a pid
	 * is reused only after its process is reaped), so the text is its.
	 * A poll, not pidfd_send_signal(0): signalling another user's process
	 * needs a permission the broker does not have, and a zombie (exited,
	 * not reaped) would count as alive.
	 */
	if (pidfd_exited(pidfd))
		return -ESRCH;
	return 0;
}

int cgroup_identity_of(int pidfd, pid_t pid, enum cgroup_layout layout,
		       struct cgroup_identity **ret)
{
	_cleanup_free_ char *buf = malloc(CGROUP_FILE_MAX + 1);
	size_t len;
	int r;

	if (!buf)
		return -ENOMEM;
	r = cgroup_read(pidfd, pid, buf, CGROUP_FILE_MAX + 1, &len);
	if (r < 0)
		return r;
	return cgroup_identity_parse(buf, len, layout, ret);
}

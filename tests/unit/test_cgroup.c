// SPDX-License-Identifier: MIT
/*
 * A process's unit, slices and machine from its cgroup (daemon/api/cgroup.c):
 * the paths systemd makes, the two layouts, what a delegated subtree can
 * and cannot claim, hostile text, and the pidfd read against real children.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"
#include "owner.h"
#include "peer.h"
#include "util.h"

#define USER_MANAGER "/user.slice/user-1000.slice/user@1000.service"
#define USER_SLICES "-.slice user.slice user-1000.slice"

/* The unified hierarchy's line alone, as on a unified host. */
static char *unified(const char *path)
{
	char *text;

	assert_true(asprintf(&text, "0::%s\n", path) > 0);
	return text;
}

/* A hybrid host's file, shaped like this machine's: v1 controllers, name=systemd, then 0::. */
static char *hybrid(const char *v1_path, const char *v2_path)
{
	char *text;

	assert_true(asprintf(&text,
			     "12:name=systemd:%s\n11:cpu,cpuacct:/\n10:memory:%s\n9:pids:/\n"
			     "8:net_cls,net_prio:/\n0::%s\n",
			     v1_path, v1_path, v2_path) > 0);
	return text;
}

static int parse(const char *text, enum cgroup_layout layout, struct cgroup_identity **id)
{
	*id = NULL;
	return cgroup_identity_parse(text, strlen(text), layout, id);
}

static void assert_slices(const struct cgroup_identity *id, const char *want)
{
	char got[1024] = "";

	for (unsigned i = 0; i < id->n_slices; i++) {
		if (i)
			strcat(got, " ");
		strcat(got, id->slices[i]);
	}
	assert_string_equal(got, want);
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (!want)
		assert_null(got);
	else
		assert_non_null(got), assert_string_equal(got, want);
}

/* @text (consumed) parses under @layout to these; NULL for "none". */
static void expect(char *text, enum cgroup_layout layout, const char *unit, const char *slices,
		   const char *machine, const char *user_unit)
{
	_cleanup_(cgroup_identity_freep) struct cgroup_identity *id = NULL;

	assert_int_equal(parse(text, layout, &id), 0);
	assert_str_or_null(id->unit, unit);
	assert_slices(id, slices);
	assert_str_or_null(id->machine, machine);
	assert_str_or_null(id->user_unit, user_unit);
	free(text);
}

static void expect_error(char *text, enum cgroup_layout layout, int error)
{
	struct cgroup_identity *id;

	assert_int_equal(parse(text, layout, &id), error);
	assert_null(id);
	free(text);
}

static void service_in_system_slice(void **state)
{
	expect(unified("/system.slice/nginx.service"), CGROUP_LAYOUT_UNIFIED, "nginx.service",
	       "-.slice system.slice", NULL, NULL);
	expect(unified("/init.scope"), CGROUP_LAYOUT_UNIFIED, "init.scope", "-.slice", NULL, NULL);
	expect(unified("/system.slice/accel-broker.socket"), CGROUP_LAYOUT_UNIFIED, "accel-broker.socket",
	       "-.slice system.slice", NULL, NULL);
}

static void root_and_bare_slices_have_no_unit(void **state)
{
	expect(unified("/"), CGROUP_LAYOUT_UNIFIED, NULL, "-.slice", NULL, NULL);
	/* v1 lets a process sit in a slice's own cgroup */
	expect(unified("/system.slice"), CGROUP_LAYOUT_UNIFIED, NULL, "-.slice system.slice", NULL, NULL);
}

static void nested_slices_follow_their_names(void **state)
{
	expect(unified("/batch.slice/batch-low.slice/batch-low-gzip.slice/backup.service"),
	       CGROUP_LAYOUT_UNIFIED, "backup.service",
	       "-.slice batch.slice batch-low.slice batch-low-gzip.slice", NULL, NULL);
	expect(unified("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b.slice/"
		       "cri-containerd-99ff.scope"),
	       CGROUP_LAYOUT_UNIFIED, "cri-containerd-99ff.scope",
	       "-.slice kubepods.slice kubepods-burstable.slice kubepods-burstable-pod1a2b.slice", NULL, NULL);
}

static void slices_systemd_would_not_nest_are_refused(void **state)
{
	expect_error(unified("/a.slice/b-c.slice/x.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/a-b.slice/x.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/a.slice/a-b-c.slice/x.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/a.slice/a-.slice/x.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/a.slice/a--b.slice/x.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/-a.slice/x.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/-.slice/x.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/a@b.slice/x.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
}

static void escaped_unit_names_keep_their_escapes(void **state)
{
	/* "\x2d" is part of the unit's name: the dash it stands for is no slice separator */
	expect(unified("/system.slice/system-systemd\\x2dfsck.slice/systemd-fsck@dev-disk-by\\x2duuid-AB12.service"),
	       CGROUP_LAYOUT_UNIFIED, "systemd-fsck@dev-disk-by\\x2duuid-AB12.service",
	       "-.slice system.slice system-systemd\\x2dfsck.slice", NULL, NULL);
	/* systemd's cgroup escape: one leading '_' */
	expect(unified("/system.slice/_cpu.service"), CGROUP_LAYOUT_UNIFIED, "cpu.service",
	       "-.slice system.slice", NULL, NULL);
	expect(unified("/system.slice/__x.service"), CGROUP_LAYOUT_UNIFIED, "_x.service",
	       "-.slice system.slice", NULL, NULL);
	expect_error(unified("/system.slice/foo\\x2.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/system.slice/foo\\y20.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/system.slice/foo\\x.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/system.slice/foo bar.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/system.slice/@x.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/system.slice/a@b@c.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/system.slice/.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
}

static void scopes_and_sessions(void **state)
{
	expect(unified("/user.slice/user-1000.slice/session-3.scope"), CGROUP_LAYOUT_UNIFIED,
	       "session-3.scope", USER_SLICES, NULL, NULL);
	expect(unified("/system.slice/run-r0123abcd.scope"), CGROUP_LAYOUT_UNIFIED, "run-r0123abcd.scope",
	       "-.slice system.slice", NULL, NULL);
}

static void user_manager_is_the_unit_its_units_are_shown(void **state)
{
	expect(unified(USER_MANAGER "/app.slice/app-firefox-1234.scope"), CGROUP_LAYOUT_UNIFIED,
	       "user@1000.service", USER_SLICES, NULL, "app-firefox-1234.scope");
	expect(unified(USER_MANAGER "/app.slice/app-org.gnome.Terminal.slice/vte-spawn-0a1b.scope"),
	       CGROUP_LAYOUT_UNIFIED, "user@1000.service", USER_SLICES, NULL, "vte-spawn-0a1b.scope");
	expect(unified(USER_MANAGER "/init.scope"), CGROUP_LAYOUT_UNIFIED, "user@1000.service", USER_SLICES,
	       NULL, "init.scope");
	/* not a user manager: no user unit, whatever is below */
	expect(unified("/system.slice/user@x.service/app.slice/a.service"), CGROUP_LAYOUT_UNIFIED,
	       "user@x.service", "-.slice system.slice", NULL, NULL);
}

static void machines_registered_with_machined(void **state)
{
	expect(unified("/machine.slice/machine-web.scope/payload/system.slice/nginx.service"),
	       CGROUP_LAYOUT_UNIFIED, "machine-web.scope", "-.slice machine.slice", "web", NULL);
	expect(unified("/machine.slice/machine-foo\\x2dbar.scope"), CGROUP_LAYOUT_UNIFIED,
	       "machine-foo\\x2dbar.scope", "-.slice machine.slice", "foo-bar", NULL);
	expect(unified("/machine.slice/machine-qemu\\x2d1\\x2dvm.scope/libvirt/emulator"),
	       CGROUP_LAYOUT_UNIFIED, "machine-qemu\\x2d1\\x2dvm.scope", "-.slice machine.slice",
	       "qemu-1-vm", NULL);
	/* machinectl start: machined registers the nspawn service itself */
	expect(unified("/machine.slice/systemd-nspawn@db\\x2d1.service/payload/init.scope"),
	       CGROUP_LAYOUT_UNIFIED, "systemd-nspawn@db\\x2d1.service", "-.slice machine.slice", "db-1", NULL);
	expect(unified("/machine.slice/machine-tenants.slice/machine-x.scope"), CGROUP_LAYOUT_UNIFIED,
	       "machine-x.scope", "-.slice machine.slice machine-tenants.slice", "x", NULL);
	/* spellings machined never writes are no machine */
	expect(unified("/machine.slice/machine-foo-bar.scope"), CGROUP_LAYOUT_UNIFIED,
	       "machine-foo-bar.scope", "-.slice machine.slice", NULL, NULL);
	expect(unified("/machine.slice/machine-foo\\x2Dbar.scope"), CGROUP_LAYOUT_UNIFIED,
	       "machine-foo\\x2Dbar.scope", "-.slice machine.slice", NULL, NULL);
	expect(unified("/machine.slice/machine-a\\x20b.scope"), CGROUP_LAYOUT_UNIFIED,
	       "machine-a\\x20b.scope", "-.slice machine.slice", NULL, NULL);
	expect(unified("/machine.slice/machine-.x.scope"), CGROUP_LAYOUT_UNIFIED, "machine-.x.scope",
	       "-.slice machine.slice", NULL, NULL);
	expect(unified("/machine.slice/machine-" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		       ".scope"), CGROUP_LAYOUT_UNIFIED,
	       "machine-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.scope",
	       "-.slice machine.slice", NULL, NULL);
}

static void machines_without_machined(void **state)
{
	/* nspawn --register=no: NAME.scope in machine.slice; podman (rootful): libpod-ID.scope */
	expect(unified("/machine.slice/build7.scope/payload"), CGROUP_LAYOUT_UNIFIED, "build7.scope",
	       "-.slice machine.slice", "build7", NULL);
	expect(unified("/machine.slice/libpod-4f2a9c.scope/container"), CGROUP_LAYOUT_UNIFIED,
	       "libpod-4f2a9c.scope", "-.slice machine.slice", "libpod-4f2a9c", NULL);
	/* other scopes and services outside machine.slice, or services in it, are units only */
	expect(unified("/system.slice/docker-4f2a9c.scope"), CGROUP_LAYOUT_UNIFIED, "docker-4f2a9c.scope",
	       "-.slice system.slice", NULL, NULL);
	expect(unified("/machine.slice/libvirtd.service"), CGROUP_LAYOUT_UNIFIED, "libvirtd.service",
	       "-.slice machine.slice", NULL, NULL);
	expect(unified("/machines.slice/machine-x.scope"), CGROUP_LAYOUT_UNIFIED, "machine-x.scope",
	       "-.slice machines.slice", NULL, NULL);
}

static void cgroups_beside_systemd_are_no_unit_slice_or_machine(void **state)
{
	/* docker's cgroupfs driver, LXC 4, kubelet's cgroupfs driver: root made them */
	expect(unified("/docker/4f2a9c"), CGROUP_LAYOUT_UNIFIED, NULL, "", NULL, NULL);
	expect(unified("/lxc.payload.c1/init.scope"), CGROUP_LAYOUT_UNIFIED, NULL, "", NULL, NULL);
	expect(unified("/lxc.payload.c1/system.slice/nginx.service"), CGROUP_LAYOUT_UNIFIED, NULL, "", NULL,
	       NULL);
	expect(unified("/kubepods/burstable/pod1a2b/99ff"), CGROUP_LAYOUT_UNIFIED, NULL, "", NULL, NULL);
	/* nothing below is read: what the container made there cannot pose as a machine or unit */
	expect(unified("/lxc/c1/machine.slice/machine-x.scope"), CGROUP_LAYOUT_UNIFIED, NULL, "", NULL, NULL);
	expect(unified("/docker/a:b/ \t/\\xZZ/.hidden/0::"), CGROUP_LAYOUT_UNIFIED, NULL, "", NULL, NULL);
	expect(hybrid("/docker/4f2a9c", "/docker/4f2a9c"), CGROUP_LAYOUT_HYBRID, NULL, "", NULL, NULL);
	expect(strdup("1:name=systemd:/lxc.payload.c1\n"), CGROUP_LAYOUT_LEGACY, NULL, "", NULL, NULL);
	/* still refused: what claims to be systemd's but is not, and text the kernel would not write */
	expect_error(unified("/foo bar.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/-a.slice/docker/4f2a9c"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/system.slice/docker/4f2a9c"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/docker//4f2a9c"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(unified("/docker/../x.service"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
	expect_error(strdup("0::/docker/4f2a9c\n0::/docker/4f2a9c\n"), CGROUP_LAYOUT_UNIFIED, -EBADMSG);
}

static void hybrid_trusts_the_unified_line(void **state)
{
	/* This machine's shape: systemd tracks in 0::, name=systemd mirrors it. */
	expect(hybrid("/system.slice/nginx.service", "/system.slice/nginx.service"), CGROUP_LAYOUT_HYBRID,
	       "nginx.service", "-.slice system.slice", NULL, NULL);
	/* The two disagree: only the hierarchy systemd tracks in counts. */
	expect(hybrid("/system.slice/backup.service", USER_MANAGER "/x.service"), CGROUP_LAYOUT_HYBRID,
	       "user@1000.service", USER_SLICES, NULL, "x.service");
	expect(hybrid("/system.slice/backup.service", USER_MANAGER "/x.service"), CGROUP_LAYOUT_LEGACY,
	       "backup.service", "-.slice system.slice", NULL, NULL);
	/* A unified host running a legacy container: nspawn's private name=systemd shows "/" */
	expect(strdup("1:name=systemd:/\n0::/system.slice/nginx.service\n"), CGROUP_LAYOUT_UNIFIED,
	       "nginx.service", "-.slice system.slice", NULL, NULL);
	/* Legacy without cgroup2 ever mounted: no 0:: line at all */
	expect(strdup("3:cpu:/\n1:name=systemd:/system.slice/nginx.service\n"), CGROUP_LAYOUT_LEGACY,
	       "nginx.service", "-.slice system.slice", NULL, NULL);
	expect_error(strdup("3:cpu:/\n1:name=systemd:/system.slice/nginx.service\n"),
		     CGROUP_LAYOUT_HYBRID, -ENODATA);
	expect_error(strdup("0::/system.slice/nginx.service\n"), CGROUP_LAYOUT_LEGACY, -ENODATA);
}

static void delegated_subtree_cannot_pose(void **state)
{
	/* A user's manager is delegated: whatever it names below is the user's own. */
	expect(unified(USER_MANAGER "/system.slice/backup.service"), CGROUP_LAYOUT_UNIFIED,
	       "user@1000.service", USER_SLICES, NULL, "backup.service");
	expect(unified(USER_MANAGER "/machine.slice/machine-evil.scope"), CGROUP_LAYOUT_UNIFIED,
	       "user@1000.service", USER_SLICES, NULL, "machine-evil.scope");
	expect(unified(USER_MANAGER "/user.slice/libpod-4f2a9c.scope/container"), CGROUP_LAYOUT_UNIFIED,
	       "user@1000.service", USER_SLICES, NULL, "libpod-4f2a9c.scope");
	/* A Delegate=yes service and a container alike. */
	expect(unified("/system.slice/build.service/machine.slice/machine-x.scope"), CGROUP_LAYOUT_UNIFIED,
	       "build.service", "-.slice system.slice", NULL, NULL);
	expect(unified("/machine.slice/machine-c1.scope/payload/system.slice/backup.service"),
	       CGROUP_LAYOUT_UNIFIED, "machine-c1.scope", "-.slice machine.slice", "c1", NULL);
	/* Names only a delegated subtree can make neither fail nor shift the identity. */
	expect(unified(USER_MANAGER "/a:b/ \t/\\xZZ/x.slice/.hidden/0::"), CGROUP_LAYOUT_UNIFIED,
	       "user@1000.service", USER_SLICES, NULL, NULL);
	expect(unified(USER_MANAGER "/a.slice/b-c.slice/x.service"), CGROUP_LAYOUT_UNIFIED,
	       "user@1000.service", USER_SLICES, NULL, NULL);
	/*
	 * A kernel that allowed a newline in a cgroup name would let the user
	 * append a line: the tracked line must be there once.
	 */
	expect_error(unified(USER_MANAGER "/x\n0::/system.slice/backup.service"), CGROUP_LAYOUT_UNIFIED,
		     -EBADMSG);
	expect_error(hybrid(USER_MANAGER "/x\n0::/system.slice/backup.service", USER_MANAGER "/x"),
		     CGROUP_LAYOUT_HYBRID, -EBADMSG);
	expect_error(strdup("2:name=systemd:" USER_MANAGER "/x\n1:name=systemd:/system.slice/backup.service\n"),
		     CGROUP_LAYOUT_LEGACY, -EBADMSG);
}

static void garbage_is_refused(void **state)
{
	struct cgroup_identity *id;
	static const char *const bad[] = {
		"", "\n", "0::/\n\n", "0::/", "0:/\n", "::/\n", "x::/\n", "00::/\n", "-1::/\n",
		"12345678901::/\n", "0::system.slice\n", "0::\n", "0::/a//b.service\n", "0::/./x.service\n",
		"0::/system.slice/../x.service\n", "0::/system.slice/\n", "1:cpu;rm:/\n0::/\n",
		"0::/system.slice/foo.timer\n", "0::/system.slice/foo\n",
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		id = NULL;
		assert_int_equal(cgroup_identity_parse(bad[i], strlen(bad[i]), CGROUP_LAYOUT_UNIFIED, &id),
				 -EBADMSG);
		assert_null(id);
	}
	/* A NUL inside */
	assert_int_equal(cgroup_identity_parse("0::/\0\n", 5, CGROUP_LAYOUT_UNIFIED, &id), -EBADMSG);
	/* Outside our cgroup namespace: the kernel shows the way up */
	expect_error(unified("/../../system.slice/x.service"), CGROUP_LAYOUT_UNIFIED, -EXDEV);
}

static void over_long_text_is_refused(void **state)
{
	char name[300], *text, *p;
	size_t len;

	/* A unit name over systemd's 255 */
	memset(name, 'a', 256);
	strcpy(name + 256, ".service");
	assert_true(asprintf(&text, "0::/system.slice/%s\n", name) > 0);
	expect_error(text, CGROUP_LAYOUT_UNIFIED, -EBADMSG);

	/* A line longer than the kernel prints, below a user's manager (where anything goes) */
	text = malloc(CGROUP_LINE_MAX + 100);
	p = text + sprintf(text, "0::" USER_MANAGER);
	while (p - text <= CGROUP_LINE_MAX)
		p += sprintf(p, "/d");
	strcpy(p, "\n");
	expect_error(text, CGROUP_LAYOUT_UNIFIED, -EBADMSG);

	/* More text than any file of the kernel's: refused before it is looked at */
	len = CGROUP_FILE_MAX + 1;
	text = malloc(len + 1);
	memset(text, '\n', len);
	text[len] = '\0';
	assert_int_equal(cgroup_identity_parse(text, len, CGROUP_LAYOUT_UNIFIED, &(struct cgroup_identity *){ NULL }),
			 -EBADMSG);
	free(text);

	/* Slices nested deeper than kept: a.slice/a-a.slice/... */
	text = malloc(8192);
	p = text + sprintf(text, "0::");
	name[0] = 'a';
	len = 1;
	for (int depth = 0; depth < CGROUP_MAX_SLICES; depth++) {
		p += sprintf(p, "/%.*s.slice", (int)len, name);
		name[len] = '-';
		name[len + 1] = 'a';
		len += 2;
	}
	strcpy(p, "/x.service\n");
	expect_error(text, CGROUP_LAYOUT_UNIFIED, -EBADMSG);
}

static void deepest_slices_kept_parse(void **state)
{
	char name[64], *text = malloc(4096), *p;
	size_t len = 1;

	p = text + sprintf(text, "0::");
	name[0] = 'a';
	for (int depth = 1; depth < CGROUP_MAX_SLICES; depth++) {
		p += sprintf(p, "/%.*s.slice", (int)len, name);
		name[len] = '-';
		name[len + 1] = 'a';
		len += 2;
	}
	strcpy(p, "/x.service\n");
	{
		_cleanup_(cgroup_identity_freep) struct cgroup_identity *id = NULL;

		assert_int_equal(parse(text, CGROUP_LAYOUT_UNIFIED, &id), 0);
		assert_int_equal(id->n_slices, CGROUP_MAX_SLICES);
		assert_string_equal(id->unit, "x.service");
	}
	free(text);
}

/* --- The read through a pidfd, against real children. */

struct child {
	pid_t pid;
	int pidfd;
};

/* A child that waits until it is killed. */
static void child_start(struct child *c)
{
	pid_t parent = getpid();

	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		/* A failed assertion leaves it behind: it must not outlive the test. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		for (;;)
			pause();
	}
	c->pidfd = pidfd_open(c->pid, 0);
	assert_true(c->pidfd >= 0);
}

/* Kill the child and wait until its pidfd says it exited; it stays a zombie, its pid taken. */
static void child_exit(struct child *c)
{
	struct pollfd p = { .fd = c->pidfd, .events = POLLIN };

	assert_int_equal(pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0), 0);
	assert_int_equal(poll(&p, 1, 10000), 1);
}

static void child_reap(struct child *c)
{
	(void)pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0);
	assert_int_equal(waitpid(c->pid, NULL, 0), c->pid);
	close(c->pidfd);
}

static void read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	close(fd);
}

static void pidfd_read_gives_the_childs_cgroup(void **state)
{
	char got[CGROUP_FILE_MAX + 1], want[CGROUP_FILE_MAX + 1], path[64];
	_cleanup_(cgroup_identity_freep) struct cgroup_identity *id = NULL, *direct = NULL;
	enum cgroup_layout layout;
	struct child c;
	size_t len;
	int r;

	child_start(&c);
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)c.pid);
	read_text(path, want, sizeof(want));
	assert_int_equal(cgroup_read(c.pidfd, c.pid, got, sizeof(got), &len), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(got, want);
	if (cgroup_layout_detect(&layout) < 0)
		layout = CGROUP_LAYOUT_UNIFIED;
	/* The same identity as the text read directly (which may be none systemd made, in a CI container). */
	r = cgroup_identity_of(c.pidfd, c.pid, layout, &id);
	assert_int_equal(r, cgroup_identity_parse(want, strlen(want), layout, &direct));
	if (r == 0) {
		assert_str_or_null(id->unit, direct->unit);
		assert_int_equal(id->n_slices, direct->n_slices);
		assert_string_equal(id->slices[0], "-.slice");
	}
	child_reap(&c);
}

static void exited_process_is_not_read(void **state)
{
	char buf[CGROUP_FILE_MAX + 1], path[64];
	struct cgroup_identity *id = NULL;
	struct child c;
	size_t len;

	child_start(&c);
	child_exit(&c);
	/* A zombie still has its /proc entry: only the pidfd tells it is gone. */
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)c.pid);
	assert_int_equal(access(path, R_OK), 0);
	assert_int_equal(cgroup_read(c.pidfd, c.pid, buf, sizeof(buf), &len), -ESRCH);
	assert_int_equal(cgroup_identity_of(c.pidfd, c.pid, CGROUP_LAYOUT_UNIFIED, &id), -ESRCH);
	assert_null(id);
	assert_int_equal(waitpid(c.pid, NULL, 0), c.pid);
	/* Reaped: its pid is free for anyone. */
	assert_int_equal(cgroup_read(c.pidfd, c.pid, buf, sizeof(buf), &len), -ESRCH);
	close(c.pidfd);
}

static void pidfd_of_another_pid_is_refused(void **state)
{
	char buf[CGROUP_FILE_MAX + 1];
	struct child a, b;
	size_t len;
	int pipefd[2];

	child_start(&a);
	child_start(&b);
	assert_int_equal(cgroup_read(a.pidfd, b.pid, buf, sizeof(buf), &len), -ESRCH);
	assert_int_equal(cgroup_read(a.pidfd, a.pid, buf, sizeof(buf), &len), 0);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	assert_int_equal(cgroup_read(pipefd[0], a.pid, buf, sizeof(buf), &len), -EBADF);
	assert_int_equal(cgroup_read(-1, a.pid, buf, sizeof(buf), &len), -EBADF);
	close(pipefd[0]);
	close(pipefd[1]);
	child_reap(&a);
	child_reap(&b);
}

/*
 * What the listeners do with it (api/peer.c): an identity that cannot be
 * read refuses with UnitUnknown, never passes as "in no unit".
 */
static void unreadable_identity_refuses_the_peer(void **state)
{
	struct owners owners;
	struct peer peer = { .uid = getuid(), .gid = getgid() }, got;
	struct accel_error e = { 0 };
	struct child c;

	peer_cgroup_init();
	owners_init(&owners, NULL, NULL, NULL);
	child_start(&c);
	peer.pid = c.pid;
	peer.process = owner_get(&owners, c.pid, dup(c.pidfd));
	assert_non_null(peer.process);
	assert_int_equal(peer_with_identity(&peer, &got, &e), 0);
	peer_identity_dropp(&got);
	child_exit(&c);
	assert_true(peer_with_identity(&peer, &got, &e) < 0);
	assert_string_equal(e.name, ERR_UNIT_UNKNOWN);
	assert_null(got.identity);
	/* No pidfd to read it through: refused as well. */
	owner_unref(peer.process);
	peer.process = NULL;
	e = (struct accel_error){ 0 };
	assert_true(peer_with_identity(&peer, &got, &e) < 0);
	assert_string_equal(e.name, ERR_UNIT_UNKNOWN);
	child_reap(&c);
}

/*
 * The admin decision (api/peer.c: peer_set_home()): a peer whose cgroup
 * cannot be read when it is first seen is confined and no administrator,
 * whatever its uid; one that can, outside any machine, keeps its rights.
 */
static void unreadable_home_takes_the_administrators_rights(void **state)
{
	struct owners owners;
	struct peer peer = { .uid = 0, .gid = 0, .admin = true };
	struct child c;

	peer_cgroup_init();
	owners_init(&owners, NULL, NULL, NULL);
	child_start(&c);
	peer.pid = c.pid;
	peer.process = owner_get(&owners, c.pid, dup(c.pidfd));
	assert_non_null(peer.process);
	peer_set_home(&peer);
	/* This test runs on a host or in a CI container's cgroup, not in a machine.slice scope. */
	assert_non_null(peer.home);
	assert_null(peer.home->machine);
	assert_false(peer.confined);
	assert_true(peer.admin);
	peer_finish(&peer);
	assert_null(peer.home);
	child_exit(&c);
	peer_set_home(&peer);
	assert_null(peer.home);
	assert_true(peer.confined);
	assert_false(peer.admin);
	owner_unref(peer.process);
	child_reap(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(service_in_system_slice),
		cmocka_unit_test(root_and_bare_slices_have_no_unit),
		cmocka_unit_test(nested_slices_follow_their_names),
		cmocka_unit_test(slices_systemd_would_not_nest_are_refused),
		cmocka_unit_test(escaped_unit_names_keep_their_escapes),
		cmocka_unit_test(scopes_and_sessions),
		cmocka_unit_test(user_manager_is_the_unit_its_units_are_shown),
		cmocka_unit_test(machines_registered_with_machined),
		cmocka_unit_test(machines_without_machined),
		cmocka_unit_test(cgroups_beside_systemd_are_no_unit_slice_or_machine),
		cmocka_unit_test(hybrid_trusts_the_unified_line),
		cmocka_unit_test(delegated_subtree_cannot_pose),
		cmocka_unit_test(garbage_is_refused),
		cmocka_unit_test(over_long_text_is_refused),
		cmocka_unit_test(deepest_slices_kept_parse),
		cmocka_unit_test(pidfd_read_gives_the_childs_cgroup),
		cmocka_unit_test(exited_process_is_not_read),
		cmocka_unit_test(pidfd_of_another_pid_is_refused),
		cmocka_unit_test(unreadable_identity_refuses_the_peer),
		cmocka_unit_test(unreadable_home_takes_the_administrators_rights),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

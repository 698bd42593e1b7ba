/* SPDX-License-Identifier: MIT */
/* Running a real accel-broker for integration tests, and talking raw to it. */
#ifndef ACCEL_TEST_HARNESS_H
#define ACCEL_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct broker_proc {
	pid_t pid;
	char dir[64];
	char sock[128];
	char log[128];
};

/*
 * Start $(B)/accel-broker on a socket in a fresh directory, with @args
 * (NULL-terminated) after the defaults, and wait until it accepts.
 */
int broker_start(struct broker_proc *b, const char *const *args);
/* The same, calling @in_child(@data) in the broker's process just before exec (its environment, its fds). */
int broker_start_with(struct broker_proc *b, const char *const *args, void (*in_child)(void *data),
		      void *data);
/* SIGTERM it and return its exit status (-1 if it did not exit normally). */
int broker_stop(struct broker_proc *b);
bool broker_alive(struct broker_proc *b);
/* How many fds the broker holds open. */
int broker_fd_count(struct broker_proc *b);
/* Wait up to 5 s for the broker's fd count to be @want; returns the last count. */
int broker_wait_fd_count(struct broker_proc *b, int want);

int raw_connect(const char *sock);
/* Send @msg plus NUL. */
int raw_send(int fd, const char *msg);
/* Read one NUL-terminated message into @buf; 0 at EOF, -errno on error. */
int raw_recv(int fd, char *buf, size_t size);
/*
 * Wait up to 5 s until the peer of @fd has left only @want bytes of what
 * we sent unread (0: it read everything); returns the last count or -errno.
 */
int wait_unread(int fd, int want);
/* raw_send + raw_recv. */
int raw_call(int fd, const char *msg, char *buf, size_t size);

/* The directory of the test binary's build (where accel-broker lives). */
const char *build_dir(void);

/*
 * accelctl for other uids: the checkout may sit where they cannot reach it
 * (a clone in root's 0700 home), so accelctl and the libaccel.so.1 its
 * $ORIGIN rpath finds are copied into @b's directory (0755, in /tmp).
 * Returns the copy's path, or NULL.
 */
const char *broker_public_accelctl(struct broker_proc *b);

/*
 * A fake sysfs tree in @tree (a mkdtemp() template, made here) and its
 * nodes in @dev = @tree/dev: hisi_zip-0 (gzip, zlib) and hisi_sec2-0 (an
 * SVA device, sm4), 4 instances each; the nodes are regular files of mode
 * 0600, not uacce devices (START_Q fails on them).  Everything else 0755.
 */
int fake_uacce_tree(char *tree, char *dev, size_t dev_size);

/*
 * Every child a test makes comes from fork_child(): fork(), the child
 * killed if the test process dies (PR_SET_PDEATHSIG) and registered until
 * it is reaped.  A failed assertion leaves the test half-way (cmocka
 * jumps out of it), so each teardown calls children_kill(), which kills
 * and reaps whatever is registered; so does exit.  Reap them only through
 * wait_status(), kill_child() or broker_stop() (which keep the register).
 */
pid_t fork_child(void);
/* Wait for @pid: its exit status, or -1 if it did not exit normally. */
int wait_status(pid_t pid);
/* Register @pid, a grandchild that became ours (PR_SET_CHILD_SUBREAPER). */
void child_adopt(pid_t pid);
/* SIGKILL @pid and reap it. */
void kill_child(pid_t pid);
/* Kill and reap every child still registered (brokers too); how many there were. */
int children_kill(void);

/* The cgroup2 hierarchy (unified, or hybrid's), or NULL: where systemd tracks units. */
const char *cgroup2_mount(void);

/*
 * A cgroup for the running test under cgroup2_mount(), NAME and our pid in
 * its name: a machine's scope as machined makes it
 * (machine.slice/machine-NAME<pid>.scope, the machine NAME<pid>), or one
 * made beside systemd's tree as docker's /docker/ID is (/NAME<pid>).  Its
 * path, or NULL where none can be made (not root, no writable cgroup2):
 * the caller skips.  test_cgroup_remove() takes it away once the
 * processes in it are gone (a teardown's).
 */
const char *test_cgroup_machine(const char *name);
const char *test_cgroup_beside(const char *name);
void test_cgroup_remove(void);
/* Move the calling process into @cgroup (a path under the cgroup2 mount): 0, or -1. */
int cgroup_enter(const char *cgroup);

#endif

/* SPDX-License-Identifier: MIT */
/* What vm_test.c shares with the other parts of the VM check (vm_sva.c). */
#ifndef VM_TEST_H
#define VM_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NOBODY 65534

/* One "ok"/"not ok" line, counted. */
void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether /sys/class/uacce/@dev/@name reads @want (one line). */
bool attr_is(const char *dev, const char *name, const char *want);
/* setresuid/setresgid to 65534 with no groups: 0 or -1. */
int drop_to_nobody(void);
/* @pid's exit status, or 128 + the signal that killed it. */
int wait_child(pid_t pid);
/* Whether the broker lists @want devices within about 5 s. */
bool wait_for_devices(int want);
bool write_file(const char *path, const char *text);
/* CRC-32C, bitwise: the reference for the engine's. */
uint32_t crc32c_ref(const unsigned char *p, size_t len);

/* vm_sva.c: SVA queues and UACCE_CMD_BIND_MM / UACCE_CMD_REVOKE (issue 14). */
void sva_suite(const char *modules);

/* vm_preload.c: unchanged uacce programs through accel-run (issue 16). */
void preload_suite(const char *socket);

#endif

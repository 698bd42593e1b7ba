/* SPDX-License-Identifier: MIT */
#ifndef ACCEL_DAEMON_CRC32C_H
#define ACCEL_DAEMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * CRC-32C (Castagnoli), as iSCSI and ext4 use it: @crc is the previous
 * result (0 to start), pre- and post-inverted inside, so calls chain.
 */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif

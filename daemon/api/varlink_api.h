/* SPDX-License-Identifier: MIT */
/*
 * The Unix socket's varlink interface: one dispatch table from method name
 * to handler; each handler checks its parameters, calls the core with the
 * connection's kernel-given credentials and queues the reply.
 */
#ifndef ACCEL_DAEMON_VARLINK_API_H
#define ACCEL_DAEMON_VARLINK_API_H

#include <stddef.h>

struct connection;

/* Handle one complete message from @c. */
void varlink_api_dispatch(struct connection *c, const char *msg, size_t len);

/* The interface description in varlink IDL (generated from the .varlink file). */
extern const char varlink_api_description[];
/* org.varlink.service's description (generated from daemon/api/org.varlink.service.varlink). */
extern const char varlink_service_description[];

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The broker's clients, counted whatever listener they came by: socket
 * connections and bus names alike take one of limits.max_connections.
 */
#ifndef ACCEL_DAEMON_CLIENTS_H
#define ACCEL_DAEMON_CLIENTS_H

#include "broker.h"

/* Count one more client; QuotaExceeded (-EDQUOT) when the broker is full. */
int broker_client_add(struct broker *b, struct accel_error *e);
/* A client counted by broker_client_add() is gone. */
void broker_client_remove(struct broker *b);
/* Clients counted now (GetStatus). */
unsigned broker_clients(const struct broker *b);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The broker's clients, counted whatever listener they came by: socket
 * connections and bus names alike take one of limits.max_connections and
 * one of their uid's limits.max_connections_per_user.
 */
#ifndef ACCEL_DAEMON_CLIENTS_H
#define ACCEL_DAEMON_CLIENTS_H

#include <sys/types.h>

struct accel_error;
struct broker;

/* One uid's clients; an entry goes when its count drops to 0. */
struct clients_user {
	uid_t uid;
	unsigned n;
};

struct clients {
	unsigned n;			/* socket connections and bus clients */
	struct clients_user *users;	/* the uids with clients, in no order */
	unsigned n_users, size;
};

/*
 * Count one more client of @uid: QuotaExceeded (-EDQUOT) when the broker,
 * or @uid, is full; OutOfResources (-ENOMEM) when it cannot be counted.
 */
int broker_client_add(struct broker *b, uid_t uid, struct accel_error *e);
/* A client of @uid counted by broker_client_add() is gone. */
void broker_client_remove(struct broker *b, uid_t uid);
/* Clients counted now (GetStatus). */
unsigned broker_clients(const struct broker *b);
/* Let go of the counts (broker_finish()). */
void clients_finish(struct clients *c);

#endif

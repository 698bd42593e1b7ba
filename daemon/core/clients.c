// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "broker.h"
#include "clients.h"

/*
 * A linear search: a broker has few distinct uids connected, and the
 * search is once per connect and close, not per call.
 */
static struct clients_user *find_user(struct clients *c, uid_t uid)
{
	for (unsigned i = 0; i < c->n_users; i++)
		if (c->users[i].uid == uid)
			return &c->users[i];
	return NULL;
}

/* @uid's entry, made with a count of 0 if it has none; NULL: out of memory. */
static struct clients_user *get_user(struct clients *c, uid_t uid)
{
	struct clients_user *u = find_user(c, uid);

	if (u)
		return u;
	if (c->n_users == c->size) {
		unsigned size = c->size ? c->size * 2 : 8;
		struct clients_user *users = reallocarray(c->users, size, sizeof(*users));

		if (!users)
			return NULL;
		c->users = users;
		c->size = size;
	}
	u = &c->users[c->n_users++];
	*u = (struct clients_user){ .uid = uid };
	return u;
}

int broker_client_add(struct broker *b, uid_t uid, struct accel_error *e)
{
	struct clients_user *u;

	if (b->clients.n >= b->limits.max_connections)
		return accel_error_set(e, ERR_QUOTA_EXCEEDED, "the broker has too many connections");
	u = get_user(&b->clients, uid);
	if (!u)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "out of memory counting the connection");
	if (u->n >= b->limits.max_connections_per_user) {
		if (u->n == 0)
			*u = b->clients.users[--b->clients.n_users];
		return accel_error_set(e, ERR_QUOTA_EXCEEDED, "too many connections for this user");
	}
	u->n++;
	b->clients.n++;
	return 0;
}

void broker_client_remove(struct broker *b, uid_t uid)
{
	struct clients_user *u = find_user(&b->clients, uid);

	assert(u && u->n > 0 && b->clients.n > 0);
	b->clients.n--;
	if (--u->n == 0)
		*u = b->clients.users[--b->clients.n_users];
}

unsigned broker_clients(const struct broker *b)
{
	return b->clients.n;
}

void clients_finish(struct clients *c)
{
	free(c->users);
	*c = (struct clients){ 0 };
}

// SPDX-License-Identifier: MIT
#include <assert.h>

#include "clients.h"

int broker_client_add(struct broker *b, struct accel_error *e)
{
	if (b->n_connections >= b->limits.max_connections)
		return accel_error_set(e, ERR_QUOTA_EXCEEDED, "the broker has too many connections");
	b->n_connections++;
	return 0;
}

void broker_client_remove(struct broker *b)
{
	assert(b->n_connections > 0);
	b->n_connections--;
}

unsigned broker_clients(const struct broker *b)
{
	return b->n_connections;
}

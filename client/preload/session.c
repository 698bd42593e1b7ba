// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <accel/accel.h>

#include "allowance.h"
#include "paths.h"
#include "session.h"
#include "util.h"

#define BACKOFF_SLOTS 16

static struct accel_client *client;
static bool inherited;	/* @client is a forked parent's: drop it, never use it */
static struct {
	char device[PATHS_NAME_MAX];
	uint64_t until;	/* CLOCK_MONOTONIC */
} backoff[BACKOFF_SLOTS];

bool session_connected(void)
{
	return client != NULL;
}

void session_forked(void)
{
	inherited = client != NULL;
	memset(backoff, 0, sizeof(backoff));
}

static struct accel_client *get_client(void)
{
	if (inherited) {
		/* Closes the child's copy of the socket only; the parent's connection lives on. */
		accel_disconnect(client);
		client = NULL;
		inherited = false;
	}
	if (!client && accel_connect(NULL, &client) < 0)
		client = NULL;
	return client;
}

static bool backing_off(const char *device)
{
	uint64_t now = now_usec(CLOCK_MONOTONIC);

	for (unsigned i = 0; i < BACKOFF_SLOTS; i++)
		if (strcmp(backoff[i].device, device) == 0 && backoff[i].until > now)
			return true;
	return false;
}

static void back_off(const char *device)
{
	unsigned slot = 0;

	for (unsigned i = 0; i < BACKOFF_SLOTS; i++) {
		if (strcmp(backoff[i].device, device) == 0) {
			slot = i;
			break;
		}
		if (backoff[i].until < backoff[slot].until)
			slot = i;	/* the oldest, if the device has none */
	}
	snprintf(backoff[slot].device, sizeof(backoff[slot].device), "%s", device);
	backoff[slot].until = now_usec(CLOCK_MONOTONIC) + SESSION_BACKOFF_USEC;
}

/*
 * The broker went away (libaccel tried to come back to it already): drop
 * the connection, the next call makes a new one; meanwhile the kernel
 * answers.  libaccel's own test is internal: these are the errnos its
 * calls return for a lost connection.
 */
static int lost(int r)
{
	if (r != -EPIPE && r != -ECONNRESET && r != -ENOTCONN && r != -EBADF && r != -ECONNREFUSED)
		return r;
	accel_disconnect(client);
	client = NULL;
	return -ENOTCONN;
}

/* The broker's refusal as open(2) of the node would say it; UADK retries on EBUSY only. */
static int open_errno(int r)
{
	switch (r) {
	case -EDQUOT:		/* QuotaExceeded: try another device */
	case -EBUSY:		/* NoDeviceAvailable */
		return -EBUSY;
	case -EOPNOTSUPP:	/* NoSuchAlgorithm: not a device the broker has raw queues of */
		return -ENODEV;
	case -EXDEV:		/* SVANotSupported */
		return -EOPNOTSUPP;
	default:
		return lost(r);
	}
}

int session_acquire(const char *device, uint64_t *queue_id)
{
	struct accel_client *c;
	int r;

	if (backing_off(device))
		return -EBUSY;
	c = get_client();
	if (!c)
		return -ENOTCONN;
	r = accel_acquire_raw(c, device, queue_id);
	if (r >= 0)
		return r;
	r = open_errno(r);
	if (r == -EBUSY)
		back_off(device);
	return r;
}

/*
 * Our own release makes room, under the user's quota (every device's) and
 * on the queue's device: a refusal remembered before it no longer holds.
 */
void session_release(uint64_t queue_id)
{
	struct accel_client *c = get_client();

	memset(backoff, 0, sizeof(backoff));
	/* Without a connection the broker released it already: ours closed. */
	if (c)
		(void)accel_release_raw(c, queue_id);
}

int session_allowance(struct allowance *out)
{
	struct accel_client *c = get_client();
	int r;

	if (!c)
		return -ENOTCONN;
	r = allowance_read(c, out);
	return r < 0 ? lost(r) : r;
}

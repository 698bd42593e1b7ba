/* SPDX-License-Identifier: MIT */
/*
 * accel-churn: what the orchestrator (churn.c) and its client processes
 * (churn_client.c) share.  They talk over a SOCK_SEQPACKET pair, one
 * packet per message, the first byte saying what it is.
 */
#ifndef ACCEL_BENCH_CHURN_H
#define ACCEL_BENCH_CHURN_H

#include <stdbool.h>
#include <sys/types.h>

/* The client's end of its control socket. */
#define CHURN_CTL_FD 3

/* Queues a client may hold at once (its target plus claimed ones). */
#define CHURN_MAX_HELD 64

/* Largest operation: the bound. */
#define CHURN_MAX_OP (64u * 1024u)

/*
 * Client -> orchestrator.  The phase bytes are sent once the request is
 * out and before its answer is read: a kill on receipt lands "mid-" it.
 */
enum churn_msg {
	CHURN_PHASE_ACQUIRE = 'a',	/* AcquireQueue sent */
	CHURN_PHASE_GZIP = 'g',		/* a gzip descriptor submitted */
	CHURN_PHASE_OP = 'o',		/* a copy or crc32c descriptor submitted */
	CHURN_PHASE_TRANSFER = 't',	/* TransferQueue sent */
	CHURN_PHASE_CLAIM = 'c',	/* ClaimQueue sent */
	CHURN_PHASE_RELEASE = 'r',	/* ReleaseQueue sent */
	CHURN_MSG_TOKEN = 'T',		/* + token: an offer for another client */
	CHURN_MSG_CLAIM_FAILED = 'f',	/* the giver died or the offer expired: expected */
	CHURN_MSG_SETTLED = 'S',	/* holds its target and does nothing more */
	CHURN_MSG_ERROR = 'E',		/* + text: something that must not happen */
};

/* Orchestrator -> client. */
enum churn_cmd {
	CHURN_CMD_CLAIM = 'C',		/* + token */
	CHURN_CMD_SETTLE = 'Z',
};

struct churn_client_opts {
	const char *socket;
	unsigned queues;	/* queues to hold */
	unsigned interval_ms;	/* mean pause between operations */
	unsigned seed;
	bool settle;		/* settle at once */
};

/* The client process's life; returns only on an error or orchestrator exit. */
int churn_client_main(const struct churn_client_opts *o);

/* ---- churn_probe.c: the broker under test, seen from outside ---- */

struct churn_broker {
	pid_t pid;
	int pidfd;
	char dir[64];
	char sock[128];
	char log[128];
};

/* Start build/accel-broker on @n_devices software devices of @n_queues each. */
int churn_broker_start(struct churn_broker *b, const char *build, unsigned n_devices, unsigned n_queues);
/* SIGTERM and wait; the directory (with the log) is kept when @keep. */
int churn_broker_stop(struct churn_broker *b, bool keep);

/* What /proc says about a process. */
struct churn_census {
	int fds, pidfds, memfds, sockets;
	long rss_anon_kib, rss_shmem_kib;
	long long cpu_ticks;	/* utime + stime */
};
int churn_census(pid_t pid, struct churn_census *c);
/* Only the memory and CPU figures (cheap enough to sample during the churn). */
int churn_census_memory(pid_t pid, struct churn_census *c);

/* A blocking connection for measuring (any reply size). */
int churn_probe_connect(const char *sock);
/*
 * Send @msg, read its one reply into *@reply (malloc'd, NUL-terminated);
 * a passed fd goes to *@fd (or is closed when @fd is NULL).
 */
int churn_probe_call(int sock, const char *msg, char **reply, int *fd);
/* GetStatus's queues_active and clients, or -errno. */
int churn_probe_status(int sock, long *queues, long *clients);

#endif

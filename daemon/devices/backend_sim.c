// SPDX-License-Identifier: MIT
/*
 * The "sim" backend: the broker's own software accelerator.  A queue is a
 * sealed memfd laid out like a uacce queue and served by the engine
 * threads (sim_engine.c).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <accel/sim.h>

#include "backend.h"
#include "device.h"
#include "log.h"
#include "queue.h"
#include "sim_engine.h"
#include "sim_ops.h"
#include "util.h"

struct sim_device {
	struct sim_engine *engine;
};

static size_t mmio_size(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return page > ACCEL_SIM_MMIO_SIZE ? page : ACCEL_SIM_MMIO_SIZE;
}

/*
 * The client gets this fd, so it could shrink the file under the engine's
 * mapping (SIGBUS in the broker).  Seal the size before anyone else sees it.
 */
static int queue_memfd(const char *name, size_t size)
{
	_cleanup_close_ int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0)
		return -errno;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	return TAKE_FD(fd);
}

/*
 * The pipe that wakes the client's event loop (accel_queue_event_fd()):
 * the read end goes to the client (the record keeps it for AttachQueue),
 * the write end to the engine alone; the broker keeps no other copy of
 * it: the fd store's is opened again from the read end (fdstore.c).  A
 * pipe and not an eventfd: an eventfd is one open file for both sides, so
 * a client could clear O_NONBLOCK on it and fill its counter, and the
 * engine's next write would block a thread serving other clients' queues.
 * One page is plenty for bytes that only say "look".
 */
static int event_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	(void)fcntl(fds[1], F_SETPIPE_SZ, (int)sysconf(_SC_PAGESIZE));
	return 0;
}

static void event_pipe_close(struct queue *q)
{
	closep(&q->event_fd);
	closep(&q->event_signal_fd);
	q->event_fd = q->event_signal_fd = -1;
}

/*
 * New queue memory for q->algorithm, served by the engine: its fd, the
 * engine's queue, and the read end of its event pipe in @event_fd (the
 * engine took its own copy of the write end: ours is closed).
 */
static int sim_queue_start(struct device *dev, const struct queue *q, struct sim_queue **out,
			   int *event_fd, struct accel_error *e)
{
	struct sim_device *sd = dev->backend;
	unsigned op = sim_op_from_name(q->algorithm);
	_cleanup_close_ int fd = -1, rfd = -1, wfd = -1;
	int pipe_fds[2], r;

	assert(op != 0);	/* device_has_algorithm() checked it */
	/* The device had a free slot: what fails here is the broker's memory, fds or threads. */
	fd = queue_memfd(dev->name, mmio_size() + ACCEL_SIM_DUS_SIZE);
	if (fd < 0)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "could not create queue memory: %s",
				       strerror(-fd));
	r = event_pipe(pipe_fds);
	if (r < 0)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "could not create the event pipe: %s",
				       strerror(-r));
	rfd = pipe_fds[0];
	wfd = pipe_fds[1];
	r = sim_engine_add_queue(sd->engine, fd, wfd, mmio_size(), ACCEL_SIM_DUS_SIZE, op, out);
	if (r < 0)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "could not start queue: %s",
				       strerror(-r));
	*event_fd = TAKE_FD(rfd);
	return TAKE_FD(fd);
}

/* @q is served by @sq, its memory at @fd; opened, adopted or renewed, the layout is the same. */
static void sim_queue_set(struct queue *q, struct sim_queue *sq, int fd)
{
	size_t mmio = mmio_size();

	q->backend = sq;
	q->fd = fd;
	/* uacce's convention: region type N is at mmap offset N pages. */
	q->regions[0] = (struct queue_region){ "mmio", 0, mmio };
	q->regions[1] = (struct queue_region){ "dus", mmio, ACCEL_SIM_DUS_SIZE };
	q->n_regions = 2;
}

static int sim_queue_open(struct device *dev, struct queue *q, struct accel_error *e)
{
	struct sim_queue *sq;
	int fd, event_fd;

	/* The engine runs one algorithm per queue, set here; no client driver could set it. */
	if (!q->algorithm[0])
		return accel_error_set(e, ERR_NO_SUCH_ALGORITHM,
				       "%s is a software device of the broker: its queues need an algorithm",
				       dev->name);
	if (dev->queues_open >= dev->queues_total)
		return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE, "%s has no free queue", dev->name);
	fd = sim_queue_start(dev, q, &sq, &event_fd, e);
	if (fd < 0)
		return fd;
	sim_queue_set(q, sq, fd);
	q->event_fd = event_fd;
	return 0;
}

/*
 * The memfd is the queue: whoever keeps it mapped reads and writes what the
 * engine does with it.  A new owner of another uid gets new memory; the old
 * memory is revoked, so the giver's mapping shows REVOKED and nothing else.
 * Same layout, same slot of the device: only the fds change (the event
 * pipe too: the giver must not read, or drain, the new owner's wake-ups).
 */
static int sim_queue_renew(struct device *dev, struct queue *q, struct accel_error *e)
{
	struct sim_device *sd = dev->backend;
	struct sim_queue *sq;
	int event_fd;
	int fd = sim_queue_start(dev, q, &sq, &event_fd, e);

	if (fd < 0)
		return fd;
	if (q->backend)
		sim_engine_remove_queue(sd->engine, q->backend);
	close(q->fd);
	event_pipe_close(q);
	sim_queue_set(q, sq, fd);
	q->event_fd = event_fd;
	return 0;
}

/*
 * The stored queue's event pipe, as the fd store gave it back (fdstore.c
 * sorts it into the record): its write end, from which the read end is
 * opened again (a broker before 3 fds a queue stored the read end too:
 * it is used as it is); or a new pipe for a queue stored without (by a
 * broker before event pipes).  The write end must not block.
 */
static int adopt_event_pipe(struct queue *q)
{
	int fds[2], r;

	if (q->event_signal_fd >= 0) {
		if (q->event_fd < 0) {
			r = fd_reopen(q->event_signal_fd, O_RDONLY | O_NONBLOCK);
			if (r < 0)
				return r;
			q->event_fd = r;
		}
		return fcntl(q->event_signal_fd, F_SETFL, O_WRONLY | O_NONBLOCK) < 0 ? -errno : 0;
	}
	event_pipe_close(q);
	r = event_pipe(fds);
	if (r < 0)
		return r;
	q->event_fd = fds[0];
	q->event_signal_fd = fds[1];
	return 0;
}

static int sim_queue_adopt(struct device *dev, struct queue *q, int fd, struct accel_error *e)
{
	struct sim_device *sd = dev->backend;
	size_t mmio = mmio_size();
	unsigned op = sim_op_from_name(q->algorithm);
	struct sim_queue *sq;
	struct stat st;
	int seals, r;

	if (dev->queues_open >= dev->queues_total)
		return accel_error_set(e, ERR_NO_DEVICE_AVAILABLE, "%s has no free queue", dev->name);
	/* Only memory this backend made: the size it set, sealed as it sealed it. */
	seals = fcntl(fd, F_GET_SEALS);
	if (op == 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != mmio + ACCEL_SIM_DUS_SIZE || seals < 0 ||
	    (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return accel_error_set(e, ERR_NO_SUCH_QUEUE, "not a queue of %s", dev->name);
	r = adopt_event_pipe(q);
	if (r < 0)
		return accel_error_set(e, ERR_OUT_OF_RESOURCES, "could not set up the event pipe: %s",
				       strerror(-r));
	r = sim_engine_adopt_queue(sd->engine, fd, q->event_signal_fd, mmio, ACCEL_SIM_DUS_SIZE, op, &sq);
	/* The engine has its own copy; the record keeps the read end only, as for a new queue. */
	closep(&q->event_signal_fd);
	q->event_signal_fd = -1;
	if (r < 0)
		return accel_error_set(e, ERR_NO_SUCH_QUEUE, "could not resume the queue: %s", strerror(-r));
	sim_queue_set(q, sq, fd);
	return 0;
}

static void sim_queue_forget(struct device *dev, struct queue *q)
{
	struct sim_device *sd = dev->backend;

	if (q->backend)
		sim_engine_forget_queue(sd->engine, q->backend);
	q->backend = NULL;
}

static void sim_queue_stop(struct device *dev, struct queue *q)
{
	struct sim_device *sd = dev->backend;

	if (q->backend)
		sim_engine_remove_queue(sd->engine, q->backend);
	q->backend = NULL;
}

static int sim_queues_free(struct device *dev, unsigned *out, struct accel_error *e)
{
	*out = dev->queues_total - dev->queues_open;
	return 0;
}

static void sim_device_free(struct device *dev)
{
	free(dev->backend);
}

static const struct backend_ops sim_ops = {
	.name = "sim",
	.queue_open = sim_queue_open,
	.queue_stop = sim_queue_stop,
	.queue_adopt = sim_queue_adopt,
	.queue_renew = sim_queue_renew,
	.queue_forget = sim_queue_forget,
	.queues_free = sim_queues_free,
	.device_free = sim_device_free,
};

int backend_sim_create_devices(struct sim_engine *engine, unsigned n_devices, unsigned n_queues,
			       struct device_changes *out)
{
	*out = (struct device_changes){ 0 };
	for (unsigned i = 0; i < n_devices; i++) {
		char name[32];
		struct device *dev;

		snprintf(name, sizeof(name), "accel_sim-%u", i);
		dev = device_create(&sim_ops, name, ACCEL_SIM_API, ACCEL_SIM_ALGORITHMS);
		if (dev)
			dev->backend = calloc(1, sizeof(struct sim_device));
		if (!dev || !dev->backend || device_changes_push(out, dev, false) < 0) {
			device_destroy(dev);
			device_changes_finish(out);
			return log_error_errno(-ENOMEM, "Could not create %s", name);
		}
		((struct sim_device *)dev->backend)->engine = engine;
		dev->queues_total = n_queues;
		dev->revocable = true;	/* a revoked memfd queue stays dead (sim_engine.c) */
	}
	return 0;
}

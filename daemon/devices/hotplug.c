// SPDX-License-Identifier: MIT
#include <errno.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hotplug.h"
#include "log.h"
#include "util.h"

#define UEVENT_KERNEL_GROUP 1	/* the kernel's own uevents, before udev */

/* Whether a uevent datagram ("ACTION@DEVPATH\0KEY=VALUE\0...") concerns uacce. */
static bool uevent_is_uacce(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
		if (strcmp(buf + i, "SUBSYSTEM=uacce") == 0)
			return true;
	return false;
}

static int on_uevent(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct hotplug *h = userdata;
	bool changed = false;
	char buf[8192];

	(void)s;
	(void)revents;
	for (;;) {
		struct sockaddr_nl sa;
		struct iovec iov = { buf, sizeof(buf) - 1 };
		struct msghdr msg = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == ENOBUFS) {
				changed = true;	/* events were lost: look anyway */
				continue;
			}
			break;
		}
		/* Only the kernel speaks for devices; anything else is ignored. */
		if (sa.nl_pid != 0 || (msg.msg_flags & MSG_TRUNC))
			continue;
		buf[n] = '\0';
		changed |= uevent_is_uacce(buf, (size_t)n);
	}
	if (changed)
		h->changed(h->data);
	return 0;
}

int hotplug_init(struct hotplug *h, sd_event *event, void (*changed)(void *data), void *data)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = UEVENT_KERNEL_GROUP };
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
					NETLINK_KOBJECT_UEVENT);
	int r;

	*h = (struct hotplug){ .changed = changed, .data = data, .fd = -1 };
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_warning("Not listening for device events (%s): devices are rescanned on reload only",
			    strerror(errno));
		return 0;
	}
	r = sd_event_add_io(event, &h->source, fd, EPOLLIN, on_uevent, h);
	if (r < 0)
		return log_error_errno(r, "Could not watch device events");
	h->fd = TAKE_FD(fd);
	return 0;
}

void hotplug_finish(struct hotplug *h)
{
	sd_event_source_disable_unref(h->source);
	h->source = NULL;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

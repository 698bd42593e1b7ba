// SPDX-License-Identifier: MIT
#include "queue.h"

const char *queue_state_to_string(enum queue_state state)
{
	switch (state) {
	case QUEUE_ACTIVE:
		return "active";
	case QUEUE_RELEASED:
		return "released";
	case QUEUE_REVOKED:
		return "revoked";
	}
	return "unknown";
}

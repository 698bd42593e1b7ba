// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"

static const struct {
	const char *name;
	int errnum;
} error_table[] = {
	{ ERR_NO_SUCH_ALGORITHM, EOPNOTSUPP },
	{ ERR_NO_SUCH_DEVICE, ENODEV },
	{ ERR_NO_DEVICE_AVAILABLE, EBUSY },
	{ ERR_QUOTA_EXCEEDED, EDQUOT },
	{ ERR_NO_SUCH_QUEUE, ENOENT },
	{ ERR_PERMISSION_DENIED, EACCES },
	{ ERR_INVALID_PARAMETER, EINVAL },
	{ ERR_SVA_NOT_SUPPORTED, EXDEV },
	{ ERR_INVALID_TOKEN, EKEYREJECTED },
	{ ERR_UNIT_UNKNOWN, EPERM },
	{ ERR_OUT_OF_RESOURCES, ENOMEM },
	{ ERR_NO_CONFIGURATION, ENODATA },
	{ ERR_VARLINK_METHOD_NOT_FOUND, ENOSYS },
	{ ERR_VARLINK_INTERFACE_NOT_FOUND, ENOSYS },
	{ ERR_VARLINK_INVALID_PARAMETER, EINVAL },
	{ ERR_VARLINK_EXPECTED_MORE, EINVAL },
};

const char *accel_error_name_at(size_t i)
{
	return i < sizeof(error_table) / sizeof(error_table[0]) ? error_table[i].name : NULL;
}

const char *accel_error_lookup(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
		if (strcmp(error_table[i].name, name) == 0)
			return error_table[i].name;
	return NULL;
}

int accel_error_errno(const char *name)
{
	for (size_t i = 0; name && i < sizeof(error_table) / sizeof(error_table[0]); i++)
		if (strcmp(error_table[i].name, name) == 0)
			return -error_table[i].errnum;
	return -EPROTO;
}

int accel_error_set(struct accel_error *e, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		e->name = name;
		e->field = NULL;
		e->value[0] = '\0';
		va_start(ap, fmt);
		vsnprintf(e->message, sizeof(e->message), fmt, ap);
		va_end(ap);
	}
	return accel_error_errno(name);
}

int accel_error_field(struct accel_error *e, const char *key, const char *value)
{
	if (e) {
		e->field = key;
		snprintf(e->value, sizeof(e->value), "%s", value);
	}
	return accel_error_errno(e ? e->name : NULL);
}

void accel_error_clear(struct accel_error *e)
{
	e->name = NULL;
	e->message[0] = '\0';
	e->field = NULL;
	e->value[0] = '\0';
}

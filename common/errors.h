/* SPDX-License-Identifier: MIT */
/*
 * Named errors of the wire protocol and their errno values: the one table
 * both the broker (which sends names) and libaccel (which returns errnos)
 * use.
 */
#ifndef ACCEL_COMMON_ERRORS_H
#define ACCEL_COMMON_ERRORS_H

#include <stddef.h>

#define ACCEL_INTERFACE		"org.accelbroker.Broker"

#define ERR_NO_SUCH_ALGORITHM	ACCEL_INTERFACE ".NoSuchAlgorithm"
#define ERR_NO_SUCH_DEVICE	ACCEL_INTERFACE ".NoSuchDevice"
#define ERR_NO_DEVICE_AVAILABLE	ACCEL_INTERFACE ".NoDeviceAvailable"
#define ERR_QUOTA_EXCEEDED	ACCEL_INTERFACE ".QuotaExceeded"
#define ERR_NO_SUCH_QUEUE	ACCEL_INTERFACE ".NoSuchQueue"
#define ERR_PERMISSION_DENIED	ACCEL_INTERFACE ".PermissionDenied"
#define ERR_INVALID_PARAMETER	ACCEL_INTERFACE ".InvalidParameter"
#define ERR_SVA_NOT_SUPPORTED	ACCEL_INTERFACE ".SVANotSupported"
#define ERR_INVALID_TOKEN	ACCEL_INTERFACE ".InvalidToken"
#define ERR_UNIT_UNKNOWN	ACCEL_INTERFACE ".UnitUnknown"
#define ERR_OUT_OF_RESOURCES	ACCEL_INTERFACE ".OutOfResources"
#define ERR_NO_CONFIGURATION	ACCEL_INTERFACE ".NoConfiguration"
#define ERR_VARLINK_METHOD_NOT_FOUND	"org.varlink.service.MethodNotFound"
#define ERR_VARLINK_INTERFACE_NOT_FOUND	"org.varlink.service.InterfaceNotFound"
#define ERR_VARLINK_INVALID_PARAMETER	"org.varlink.service.InvalidParameter"
#define ERR_VARLINK_EXPECTED_MORE	"org.varlink.service.ExpectedMore"

#define ACCEL_ERROR_MESSAGE_MAX 256

/*
 * An error meant for the peer: a name from the table and a human message,
 * and for varlink's standard errors the field the specification gives them
 * (InvalidParameter: "parameter", MethodNotFound: "method",
 * InterfaceNotFound: "interface").
 */
struct accel_error {
	const char *name;	/* NULL: no error */
	char message[ACCEL_ERROR_MESSAGE_MAX];
	const char *field;	/* NULL: only the message */
	char value[ACCEL_ERROR_MESSAGE_MAX];
};

/* Set @e (with no field) and return the negative errno that goes with @name. */
int accel_error_set(struct accel_error *e, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Set @e's field @key (a static string) to @value; returns the errno of @e's name. */
int accel_error_field(struct accel_error *e, const char *key, const char *value);

void accel_error_clear(struct accel_error *e);

/* The negative errno for an error name; -EPROTO for names not in the table. */
int accel_error_errno(const char *name);

/* The @i-th name of the table, or NULL past its end (for tests and docs). */
const char *accel_error_name_at(size_t i);

/* The table's copy of @name (a static string), or NULL if unknown. */
const char *accel_error_lookup(const char *name);

#endif

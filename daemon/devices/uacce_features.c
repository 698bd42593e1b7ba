// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <accel/uacce.h>

#include "uacce_features.h"

static const struct {
	const char *word;
	unsigned bit;
} known[] = {
	{ UACCE_FEATURE_BIND_MM, UACCE_FEAT_BIND_MM },
	{ UACCE_FEATURE_REVOKE, UACCE_FEAT_REVOKE },
};

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static unsigned word_bit(const char *w, size_t len)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].word) == len && memcmp(known[i].word, w, len) == 0)
			return known[i].bit;
	return 0;
}

int uacce_features_parse(const char *s, unsigned *out)
{
	unsigned features = 0;

	*out = 0;
	while (*s) {
		size_t len = 0;

		while (word_char(s[len]))
			len++;
		/* An empty word is a leading, doubled or trailing space. */
		if (len == 0 || (s[len] != ' ' && s[len] != '\0'))
			return -EINVAL;
		features |= word_bit(s, len);
		s += len;
		if (*s == ' ' && *++s == '\0')
			return -EINVAL;
	}
	*out = features;
	return 0;
}

void uacce_serving_decide(bool sva, unsigned features, struct uacce_serving *out)
{
	bool bind = features & UACCE_FEAT_BIND_MM, revoke = features & UACCE_FEAT_REVOKE;

	*out = (struct uacce_serving){ .revocable = revoke };
	if (!sva)
		return;
	/*
	 * The SVA rule: a queue binds its opener's address space, so the
	 * client must rebind it (BIND_MM) and the broker must be able to take
	 * it back (REVOKE: PUT_Q leaves it restartable).  Without both, no
	 * SVA queue leaves the broker.
	 */
	if (bind && revoke) {
		out->bind_client = true;
		return;
	}
	snprintf(out->refused, sizeof(out->refused),
		 "SVA device, and the kernel's uacce lacks %s%s%s (features attribute)",
		 bind ? "" : "UACCE_CMD_BIND_MM (bind_mm)", !bind && !revoke ? " and " : "",
		 revoke ? "" : "UACCE_CMD_REVOKE (revoke)");
}

// SPDX-License-Identifier: MIT
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "util.h"

static char **split_words(const char *s)
{
	_cleanup_free_ char *copy = strdup(s);
	char **words = NULL, *save = NULL;
	size_t n = 0;

	if (!copy)
		return NULL;
	words = calloc(1, sizeof(*words));
	if (!words)
		return NULL;
	for (char *w = strtok_r(copy, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
		char **more = realloc(words, (n + 2) * sizeof(*words));
		if (!more)
			goto fail;
		words = more;
		words[n] = strdup(w);
		if (!words[n])
			goto fail;
		words[++n] = NULL;
	}
	return words;
fail:
	for (size_t i = 0; i < n; i++)
		free(words[i]);
	free(words);
	return NULL;
}

struct device *device_create(const struct backend_ops *ops, const char *name,
			     const char *api, const char *algorithms)
{
	struct device *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	list_init(&dev->link);
	dev->ops = ops;
	dev->numa_node = -1;
	dev->name = strdup(name);
	dev->api = strdup(api);
	dev->algorithms = split_words(algorithms);
	if (!dev->name || !dev->api || !dev->algorithms) {
		device_destroy(dev);
		return NULL;
	}
	return dev;
}

void device_destroy(struct device *dev)
{
	if (!dev)
		return;
	if (dev->ops && dev->ops->device_free)
		dev->ops->device_free(dev);
	for (char **a = dev->algorithms; a && *a; a++)
		free(*a);
	free(dev->algorithms);
	free(dev->api);
	free(dev->name);
	list_remove(&dev->link);
	free(dev);
}

bool device_has_algorithm(const struct device *dev, const char *algorithm)
{
	assert(dev);
	for (char **a = dev->algorithms; *a; a++)
		if (strcmp(*a, algorithm) == 0)
			return true;
	return false;
}

int device_queues_free(struct device *dev, unsigned *out, struct accel_error *e)
{
	*out = 0;
	return dev->ops->queues_free(dev, out, e);
}

const char *device_bind_to_string(const struct device *dev)
{
	return dev->bind_client ? "client" : "none";
}

int device_changes_push(struct device_changes *c, struct device *dev, bool gone)
{
	struct device ***array = gone ? &c->gone : &c->added;
	unsigned *n = gone ? &c->n_gone : &c->n_added;
	struct device **grown = realloc(*array, (*n + 1) * sizeof(**array));

	if (!grown)
		return -ENOMEM;
	grown[(*n)++] = dev;
	*array = grown;
	return 0;
}

void device_changes_finish(struct device_changes *c)
{
	for (unsigned i = 0; i < c->n_added; i++)
		device_destroy(c->added[i]);
	free(c->added);
	free(c->gone);
	*c = (struct device_changes){ 0 };
}

/*
 * Volume references of a section: which volumes rootfs and the mpN keys
 * mount, and which unusedN entries pct's writer leaves out because they
 * name a volume that is still mounted. The writer applies the rule and
 * the reader warns about it, so both use this one copy.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/conf_internal.h"

bool conf__volume_of(const char *value, char *buf, size_t size)
{
	const char *part = value;

	while (part != NULL && *part != '\0') {
		const char *end = strchr(part, ',');
		size_t len = end != NULL ? (size_t)(end - part) : strlen(part);
		const char *eq = memchr(part, '=', len);

		if (eq == NULL && part == value) {
			snprintf(buf, size, "%.*s", (int)len, part);
			return true;
		}
		if (eq != NULL && (size_t)(eq - part) == 6 && strncmp(part, "volume", 6) == 0) {
			snprintf(buf, size, "%.*s", (int)(len - 7), eq + 1);
			return true;
		}
		part = end != NULL ? end + 1 : NULL;
	}
	return false;
}

static bool is_mount_key(const char *key)
{
	if (strcmp(key, "rootfs") == 0)
		return true;
	return strncmp(key, "mp", 2) == 0 && key[2] >= '0' && key[2] <= '9';
}

/* True when S keeps a shadowed line, an earlier duplicate, of KEY. */
static bool has_shadowed(const struct conf_section *s, const char *key)
{
	size_t len = strlen(key);

	for (size_t i = 0; i < s->n_verbatim; i++) {
		const char *text = s->verbatim[i].text;

		if (s->verbatim[i].shadowed && strncmp(text, key, len) == 0 && text[len] == ':')
			return true;
	}
	return false;
}

static int cmp_string_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void conf__mounted_clear(struct conf__mounted *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->volumes[i]);
	free(m->volumes);
	m->volumes = NULL;
	m->n = 0;
}

int conf__mounted_collect(const struct conf_section *s, struct conf__mounted *m)
{
	char volume[512];

	m->n = 0;
	m->volumes = malloc((s->n_keys + 1) * sizeof(*m->volumes));
	if (m->volumes == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_keys; i++) {
		if (!is_mount_key(s->keys[i].key) ||
		    !conf__volume_of(s->keys[i].value, volume, sizeof(volume)))
			continue;
		m->volumes[m->n] = strdup(volume);
		if (m->volumes[m->n] == NULL) {
			conf__mounted_clear(m);
			return -ENOMEM;
		}
		m->n++;
	}
	if (m->n > 0)
		qsort(m->volumes, m->n, sizeof(*m->volumes), cmp_string_ptr);
	return 0;
}

bool conf__unused_is_dropped(const struct conf_section *s, const struct conf__mounted *m,
                             const struct conf_entry *e)
{
	char unused[512], *key = unused;

	if (m->n == 0 || strncmp(e->key, "unused", 6) != 0 ||
	    !conf__volume_of(e->value, unused, sizeof(unused)))
		return false;
	if (bsearch(&key, m->volumes, m->n, sizeof(*m->volumes), cmp_string_ptr) == NULL)
		return false;

	/* Dropping it would bring back a shadowed earlier value on re-read. */
	return !has_shadowed(s, e->key);
}

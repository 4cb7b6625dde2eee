#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tests/conf_oracle.h"

bool conf_oracle_volume_of(const char *value, char *buf, size_t size)
{
	for (const char *part = value; part != NULL && *part != '\0';) {
		const char *comma = strchr(part, ',');
		size_t len = comma != NULL ? (size_t)(comma - part) : strlen(part);
		const char *eq = memchr(part, '=', len);

		if (eq == NULL && part == value) {
			snprintf(buf, size, "%.*s", (int)len, part);
			return true;
		}
		if (eq != NULL && eq - part == 6 && strncmp(part, "volume", 6) == 0) {
			snprintf(buf, size, "%.*s", (int)(len - 7), eq + 1);
			return true;
		}
		part = comma != NULL ? comma + 1 : NULL;
	}
	return false;
}

static bool has_shadowed_line(const struct conf_section *s, const char *key)
{
	size_t key_len = strlen(key);

	for (size_t i = 0; i < s->n_verbatim; i++) {
		const char *text = s->verbatim[i].text;

		if (s->verbatim[i].shadowed && strncmp(text, key, key_len) == 0 &&
		    text[key_len] == ':')
			return true;
	}
	return false;
}

bool conf_oracle_writer_drops(const struct conf_section *s, const struct conf_entry *e)
{
	char unused[512], mounted[512];

	if (s->kind != CONF_SECTION_MAIN || strncmp(e->key, "unused", 6) != 0 ||
	    !conf_oracle_volume_of(e->value, unused, sizeof(unused)) ||
	    has_shadowed_line(s, e->key))
		return false;
	for (size_t i = 0; i < s->n_keys; i++) {
		const char *k = s->keys[i].key;
		bool mount = strcmp(k, "rootfs") == 0 ||
		             (strncmp(k, "mp", 2) == 0 && k[2] >= '0' && k[2] <= '9');

		if (mount && conf_oracle_volume_of(s->keys[i].value, mounted, sizeof(mounted)) &&
		    strcmp(unused, mounted) == 0)
			return true;
	}
	return false;
}

/*
 * The config writer: pct's canonical text.
 *
 * Per section: the description as `#` lines, the keys in byte order
 * (mp10 before mp2), the `lxc.environment.runtime` entries, the other raw
 * `lxc.*` entries in their order and always in colon form, then the
 * unparsable lines the reader kept. Shadowed lines (the earlier of
 * duplicate keys) go before the keys, so the later value stays in effect. The main section comes first, then
 * `[pve:pending]`, then the snapshots sorted by name, each after a blank
 * line. As pct does, an `unusedN` of the main section whose volume is
 * still used by rootfs or an mpN there is left out (unless earlier
 * duplicates of it were kept as shadowed lines).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/conf_internal.h"

#define ENV_KEY "lxc.environment.runtime"

static int cmp_entry_ptr(const void *a, const void *b)
{
	const struct conf_entry *x = *(const struct conf_entry *const *)a;
	const struct conf_entry *y = *(const struct conf_entry *const *)b;

	return conf_key_cmp(x->key, y->key);
}

static int write_description(FILE *f, const char *description)
{
	const char *line = description;

	while (line != NULL && *line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		char *encoded = conf_desc_encode(line, len);

		if (encoded == NULL)
			return -ENOMEM;
		fprintf(f, "#%s\n", encoded);
		free(encoded);
		line = nl != NULL ? nl + 1 : NULL;
	}
	return 0;
}

static int write_keys(FILE *f, const struct conf_section *s, char *errmsg)
{
	const struct conf_entry **sorted;
	struct conf__mounted mounted = { 0 };
	int rv = 0;

	if (s->n_keys == 0)
		return 0;
	if (s->kind == CONF_SECTION_MAIN && conf__mounted_collect(s, &mounted) != 0)
		return -ENOMEM;
	sorted = malloc(s->n_keys * sizeof(*sorted));
	if (sorted == NULL) {
		conf__mounted_clear(&mounted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_keys; i++)
		sorted[i] = &s->keys[i];
	qsort(sorted, s->n_keys, sizeof(*sorted), cmp_entry_ptr);

	for (size_t i = 0; i < s->n_keys; i++) {
		const struct conf_entry *e = sorted[i];

		if (strchr(e->value, '\n') != NULL) {
			conf__errmsg(errmsg, "the value of '%s' contains a newline, which a config line cannot hold",
			             e->key);
			rv = -EINVAL;
			break;
		}
		if (conf__unused_is_dropped(s, &mounted, e))
			continue;
		fprintf(f, "%s: %s\n", e->key, e->value);
	}
	free(sorted);
	conf__mounted_clear(&mounted);
	return rv;
}

static int write_raw(FILE *f, const struct conf_section *s, char *errmsg)
{
	/* Environment entries first, as pct writes them from its env list. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < s->n_raw; i++) {
			const struct conf_entry *e = &s->raw[i];

			if ((strcmp(e->key, ENV_KEY) == 0) != (pass == 0))
				continue;
			if (strchr(e->value, '\n') != NULL) {
				conf__errmsg(errmsg, "the value of '%s' contains a newline, which a config line cannot hold",
				             e->key);
				return -EINVAL;
			}
			fprintf(f, "%s: %s\n", e->key, e->value);
		}
	}
	return 0;
}

/* Write the verbatim lines of S that are (or are not) SHADOWED. */
static void write_verbatim(FILE *f, const struct conf_section *s, bool shadowed)
{
	for (size_t i = 0; i < s->n_verbatim; i++) {
		if (s->verbatim[i].shadowed == shadowed)
			fprintf(f, "%s\n", s->verbatim[i].text);
	}
}

static int write_section(FILE *f, const struct conf_section *s, char *errmsg)
{
	int rv;

	if (s->kind != CONF_SECTION_MAIN)
		fprintf(f, "\n[%s]\n", s->name);
	rv = write_description(f, s->description);
	write_verbatim(f, s, true);
	if (rv == 0)
		rv = write_keys(f, s, errmsg);
	if (rv == 0)
		rv = write_raw(f, s, errmsg);
	write_verbatim(f, s, false);
	return rv;
}

static int cmp_section_ptr(const void *a, const void *b)
{
	const struct conf_section *x = *(const struct conf_section *const *)a;
	const struct conf_section *y = *(const struct conf_section *const *)b;

	return strcmp(x->name, y->name);
}

/* Write the snapshot sections of CF sorted by name. */
static int write_snapshots(FILE *f, const struct conf_file *cf, char *errmsg)
{
	const struct conf_section **snaps;
	size_t n = 0;
	int rv = 0;

	snaps = malloc(cf->n_sections * sizeof(*snaps));
	if (snaps == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < cf->n_sections; i++) {
		if (cf->sections[i].kind == CONF_SECTION_SNAPSHOT)
			snaps[n++] = &cf->sections[i];
	}
	qsort(snaps, n, sizeof(*snaps), cmp_section_ptr);
	for (size_t i = 0; i < n && rv == 0; i++)
		rv = write_section(f, snaps[i], errmsg);
	free(snaps);
	return rv;
}

int conf_write(const struct conf_file *cf, char **out, size_t *out_len, char *errmsg)
{
	const struct conf_section *pending = conf_pending(cf);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rv;

	f = open_memstream(&buf, &len);
	if (f == NULL)
		return -ENOMEM;

	rv = write_section(f, conf_main(cf), errmsg);
	if (rv == 0 && pending != NULL)
		rv = write_section(f, pending, errmsg);
	if (rv == 0)
		rv = write_snapshots(f, cf, errmsg);
	if (ferror(f) && rv == 0)
		rv = -ENOMEM;
	if (fclose(f) != 0 && rv == 0)
		rv = -ENOMEM;
	if (rv != 0) {
		free(buf);
		return rv;
	}

	*out = buf;
	if (out_len != NULL)
		*out_len = len;
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync the folder that contains PATH, so a rename in it is durable. */
static int sync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd, rv = 0;

	if (copy == NULL)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rv = -errno;
	close(fd);
	return rv;
}

int conf_write_file(const struct conf_file *cf, const char *path, char *errmsg)
{
	char *text = NULL, *tmp = NULL;
	size_t len = 0;
	int fd = -1, rv;

	rv = conf_write(cf, &text, &len, errmsg);
	if (rv != 0)
		return rv;
	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		tmp = NULL;
		rv = -ENOMEM;
		goto out_free;
	}

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0) {
		rv = -errno;
		conf__errmsg(errmsg, "cannot create %s: %s", tmp, strerror(errno));
		goto out_free;
	}
	rv = write_all(fd, text, len);
	if (rv == 0 && fsync(fd) != 0)
		rv = -errno;
	if (close(fd) != 0 && rv == 0)
		rv = -errno;
	if (rv == 0 && rename(tmp, path) != 0)
		rv = -errno;
	if (rv != 0) {
		conf__errmsg(errmsg, "cannot write %s: %s", path, strerror(-rv));
		unlink(tmp);
		goto out_free;
	}
	rv = sync_parent(path);
	if (rv != 0)
		conf__errmsg(errmsg, "cannot sync the folder of %s: %s", path, strerror(-rv));

out_free:
	free(tmp);
	free(text);
	return rv;
}

/*
 * The config model: allocation, sections, keys and diagnostics.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/conf_internal.h"

/*
 * Make room for element N of *ARRAY. Arrays of the model grow by doubling:
 * whenever N is 0 or a power of two the array is reallocated to 2N
 * elements (1 for N = 0), so every array built by appending one element at
 * a time has room for at least N + 1. Errors: -ENOMEM (*ARRAY unchanged).
 */
int conf__grow(void *array, size_t n, size_t elem_size)
{
	void **p = array;
	size_t cap = n == 0 ? 1 : 2 * n;
	void *grown;

	if (n != 0 && (n & (n - 1)) != 0)
		return 0;
	grown = realloc(*p, cap * elem_size);
	if (grown == NULL)
		return -ENOMEM;
	*p = grown;
	return 0;
}

struct conf_file *conf_file_new(void)
{
	struct conf_file *cf = calloc(1, sizeof(*cf));

	if (cf == NULL)
		return NULL;

	cf->sections = calloc(1, sizeof(*cf->sections));
	if (cf->sections == NULL) {
		free(cf);
		return NULL;
	}
	cf->n_sections = 1;
	cf->sections[0].kind = CONF_SECTION_MAIN;
	return cf;
}

static void entries_free(struct conf_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].key);
		free(e[i].value);
	}
	free(e);
}

void conf_section_clear(struct conf_section *s)
{
	free(s->description);
	s->description = NULL;
	entries_free(s->keys, s->n_keys);
	s->keys = NULL;
	s->n_keys = 0;
	entries_free(s->raw, s->n_raw);
	s->raw = NULL;
	s->n_raw = 0;
	for (size_t i = 0; i < s->n_verbatim; i++)
		free(s->verbatim[i].text);
	free(s->verbatim);
	s->verbatim = NULL;
	s->n_verbatim = 0;
}

void conf_file_free(struct conf_file *cf)
{
	if (cf == NULL)
		return;

	for (size_t i = 0; i < cf->n_sections; i++) {
		conf_section_clear(&cf->sections[i]);
		free(cf->sections[i].name);
	}
	free(cf->sections);
	for (size_t i = 0; i < cf->n_diags; i++)
		free(cf->diags[i].text);
	free(cf->diags);
	free(cf->path);
	free(cf);
}

struct conf_section *conf_main(const struct conf_file *cf)
{
	return cf->n_sections > 0 ? &cf->sections[0] : NULL;
}

struct conf_section *conf_pending(const struct conf_file *cf)
{
	/* conf__section_insert() keeps the pending section at index 1. */
	if (cf->n_sections > 1 && cf->sections[1].kind == CONF_SECTION_PENDING)
		return &cf->sections[1];
	return NULL;
}

struct conf_section *conf_snapshot(const struct conf_file *cf, const char *name)
{
	for (size_t i = 1; i < cf->n_sections; i++) {
		struct conf_section *s = &cf->sections[i];

		if (s->kind == CONF_SECTION_SNAPSHOT && strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

struct conf_section *conf_section_add(struct conf_file *cf, enum conf_section_kind kind,
                                      const char *name)
{
	struct conf_section *existing;

	if (kind == CONF_SECTION_MAIN)
		return conf_main(cf);
	existing = kind == CONF_SECTION_PENDING ? conf_pending(cf) : conf_snapshot(cf, name);
	if (existing != NULL)
		return existing;
	return conf__section_insert(cf, kind, name);
}

struct conf_section *conf__section_insert(struct conf_file *cf, enum conf_section_kind kind,
                                          const char *name)
{
	struct conf_section *grown, *s;
	size_t index;
	char *copy;

	copy = strdup(kind == CONF_SECTION_PENDING ? CONF_PENDING_NAME : name);
	if (copy == NULL)
		return NULL;
	if (conf__grow(&cf->sections, cf->n_sections, sizeof(*cf->sections)) != 0) {
		free(copy);
		return NULL;
	}
	grown = cf->sections;

	/* The pending section is always sections[1], before the snapshots. */
	index = kind == CONF_SECTION_PENDING ? 1 : cf->n_sections;
	memmove(&grown[index + 1], &grown[index], (cf->n_sections - index) * sizeof(*grown));
	cf->n_sections++;
	s = &grown[index];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->name = copy;
	return s;
}

void conf_section_remove(struct conf_file *cf, struct conf_section *s)
{
	size_t index = (size_t)(s - cf->sections);

	if (index == 0 || index >= cf->n_sections)
		return;
	conf_section_clear(s);
	free(s->name);
	memmove(s, s + 1, (cf->n_sections - index - 1) * sizeof(*s));
	cf->n_sections--;
}

static int entry_append(struct conf_entry **list, size_t *n, const char *key,
                        const char *value, unsigned line)
{
	char *k = strdup(key), *v = strdup(value);

	if (k == NULL || v == NULL)
		goto err_free;
	if (conf__grow(list, *n, sizeof(**list)) != 0)
		goto err_free;
	(*list)[*n] = (struct conf_entry){ .key = k, .value = v, .line = line };
	(*n)++;
	return 0;

err_free:
	free(k);
	free(v);
	return -ENOMEM;
}

int conf_section_copy_contents(struct conf_section *dst, const struct conf_section *src)
{
	int rv = 0;

	if (src->description != NULL) {
		dst->description = strdup(src->description);
		if (dst->description == NULL)
			goto err_clear;
	}
	for (size_t i = 0; i < src->n_keys && rv == 0; i++)
		rv = entry_append(&dst->keys, &dst->n_keys, src->keys[i].key, src->keys[i].value,
		                  src->keys[i].line);
	for (size_t i = 0; i < src->n_raw && rv == 0; i++)
		rv = entry_append(&dst->raw, &dst->n_raw, src->raw[i].key, src->raw[i].value,
		                  src->raw[i].line);
	for (size_t i = 0; i < src->n_verbatim && rv == 0; i++)
		rv = conf__verbatim_add(dst, src->verbatim[i].text, src->verbatim[i].line,
		                        src->verbatim[i].shadowed);
	if (rv != 0)
		goto err_clear;
	return 0;

err_clear:
	conf_section_clear(dst);
	return -ENOMEM;
}

/* Append TEXT as a verbatim line of S. Used by the parser and by copies. */
int conf__verbatim_add(struct conf_section *s, const char *text, unsigned line, bool shadowed)
{
	char *copy = strdup(text);

	if (copy == NULL)
		return -ENOMEM;
	if (conf__grow(&s->verbatim, s->n_verbatim, sizeof(*s->verbatim)) != 0) {
		free(copy);
		return -ENOMEM;
	}
	s->verbatim[s->n_verbatim++] =
		(struct conf_verbatim){ .text = copy, .line = line, .shadowed = shadowed };
	return 0;
}

static struct conf_entry *entry_find(const struct conf_section *s, const char *key)
{
	for (size_t i = 0; i < s->n_keys; i++) {
		if (strcmp(s->keys[i].key, key) == 0)
			return &s->keys[i];
	}
	return NULL;
}

const char *conf_get(const struct conf_section *s, const char *key)
{
	const struct conf_entry *e = entry_find(s, key);

	return e != NULL ? e->value : NULL;
}

int conf_set(struct conf_section *s, const char *key, const char *value)
{
	struct conf_entry *e = entry_find(s, key);
	char *copy;

	if (e == NULL)
		return entry_append(&s->keys, &s->n_keys, key, value, 0);

	copy = strdup(value);
	if (copy == NULL)
		return -ENOMEM;
	free(e->value);
	e->value = copy;
	return 0;
}

/* Append KEY: VALUE from line LINE without looking for an earlier one. */
int conf__key_append(struct conf_section *s, const char *key, const char *value, unsigned line)
{
	return entry_append(&s->keys, &s->n_keys, key, value, line);
}

int conf_delete(struct conf_section *s, const char *key)
{
	struct conf_entry *e = entry_find(s, key);
	size_t index;

	if (e == NULL)
		return -ENOENT;
	index = (size_t)(e - s->keys);
	free(e->key);
	free(e->value);
	memmove(e, e + 1, (s->n_keys - index - 1) * sizeof(*e));
	s->n_keys--;
	return 0;
}

int conf_raw_add(struct conf_section *s, const char *key, const char *value)
{
	return entry_append(&s->raw, &s->n_raw, key, value, 0);
}

/* Append a raw entry read from line LINE. */
int conf__raw_append(struct conf_section *s, const char *key, const char *value, unsigned line)
{
	return entry_append(&s->raw, &s->n_raw, key, value, line);
}

int conf_set_description(struct conf_section *s, const char *text)
{
	char *copy = NULL;

	if (text != NULL) {
		copy = strdup(text);
		if (copy == NULL)
			return -ENOMEM;
	}
	free(s->description);
	s->description = copy;
	return 0;
}

int conf_key_cmp(const char *a, const char *b)
{
	/* strcmp compares as unsigned char, which is Perl's default sort. */
	return strcmp(a, b);
}

int conf_diag_add(struct conf_file *cf, unsigned line, enum conf_severity severity,
                  const char *fmt, ...)
{
	char *text;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;

	if (conf__grow(&cf->diags, cf->n_diags, sizeof(*cf->diags)) != 0) {
		free(text);
		return -ENOMEM;
	}
	cf->diags[cf->n_diags++] = (struct conf_diag){ .line = line, .severity = severity, .text = text };
	if (severity == CONF_ERROR)
		cf->n_errors++;
	else
		cf->n_warnings++;
	return 0;
}

void conf__errmsg(char *dst, const char *fmt, ...)
{
	va_list ap;

	if (dst == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(dst, CONF_ERRMSG_SIZE, fmt, ap);
	va_end(ap);
}

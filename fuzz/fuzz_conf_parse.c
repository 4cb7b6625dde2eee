/*
 * libFuzzer target for the config reader and writer.
 *
 * Parse the input, write it, parse the written text and write that again.
 * Abort when the second parse has a different structure (sections, keys,
 * raw entries, verbatim lines, descriptions) or the second write gives
 * different bytes: the writer must lose nothing the reader kept.
 *
 * Two differences are expected and not reported: the writer sorts
 * snapshots by name and keys by byte order, and leaves out an unusedN of
 * the main section whose volume rootfs or an mpN still uses.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "tests/conf_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENV_KEY "lxc.environment.runtime"

static const char *key_value(const struct conf_section *s, const char *key)
{
	for (size_t i = 0; i < s->n_keys; i++) {
		if (strcmp(s->keys[i].key, key) == 0)
			return s->keys[i].value;
	}
	return NULL;
}

static const char *section_name(const struct conf_section *s)
{
	return s->name != NULL ? s->name : "main";
}

static void fail(const char *what, const struct conf_section *s, const char *detail)
{
	fprintf(stderr, "round trip changed [%s]: %s: %s\n", section_name(s), what, detail);
	abort();
}

/* Compare the keys of A and B as sets, without the ones the writer drops. */
static void compare_keys(const struct conf_section *a, const struct conf_section *b)
{
	size_t na = 0, nb = 0;

	for (size_t i = 0; i < a->n_keys; i++) {
		const char *other;

		if (conf_oracle_writer_drops(a, &a->keys[i]))
			continue;
		na++;
		other = key_value(b, a->keys[i].key);
		if (other == NULL || strcmp(other, a->keys[i].value) != 0)
			fail("key", a, a->keys[i].key);
	}
	for (size_t i = 0; i < b->n_keys; i++)
		nb += !conf_oracle_writer_drops(b, &b->keys[i]);
	if (na != nb)
		fail("key count", a, "differs");
}

/* Compare raw entries in the writer's order: env entries, then the others. */
static void compare_raw(const struct conf_section *a, const struct conf_section *b)
{
	for (int env = 0; env < 2; env++) {
		size_t i = 0, j = 0;

		for (;;) {
			while (i < a->n_raw && (strcmp(a->raw[i].key, ENV_KEY) == 0) != env)
				i++;
			while (j < b->n_raw && (strcmp(b->raw[j].key, ENV_KEY) == 0) != env)
				j++;
			if (i == a->n_raw || j == b->n_raw)
				break;
			if (strcmp(a->raw[i].key, b->raw[j].key) != 0 ||
			    strcmp(a->raw[i].value, b->raw[j].value) != 0)
				fail("raw entry", a, a->raw[i].key);
			i++;
			j++;
		}
		if (i != a->n_raw || j != b->n_raw)
			fail("raw entry count", a, "differs");
	}
}

/* Compare shadowed and other verbatim lines, each group in order. */
static void compare_verbatim(const struct conf_section *a, const struct conf_section *b)
{
	for (int shadowed = 0; shadowed < 2; shadowed++) {
		size_t i = 0, j = 0;

		for (;;) {
			while (i < a->n_verbatim && a->verbatim[i].shadowed != shadowed)
				i++;
			while (j < b->n_verbatim && b->verbatim[j].shadowed != shadowed)
				j++;
			if (i == a->n_verbatim || j == b->n_verbatim)
				break;
			if (strcmp(a->verbatim[i].text, b->verbatim[j].text) != 0)
				fail("verbatim line", a, a->verbatim[i].text);
			i++;
			j++;
		}
		if (i != a->n_verbatim || j != b->n_verbatim)
			fail("verbatim line count", a, "differs");
	}
}

static void compare_sections(const struct conf_section *a, const struct conf_section *b)
{
	if ((a->description == NULL) != (b->description == NULL) ||
	    (a->description != NULL && strcmp(a->description, b->description) != 0))
		fail("description", a, a->description != NULL ? a->description : "(none)");
	compare_keys(a, b);
	compare_raw(a, b);
	compare_verbatim(a, b);
}

static void compare_files(const struct conf_file *a, const struct conf_file *b)
{
	const struct conf_section *pa = conf_pending(a), *pb = conf_pending(b);

	if (a->n_sections != b->n_sections)
		fail("section count", conf_main(a), "differs");
	compare_sections(conf_main(a), conf_main(b));
	if ((pa == NULL) != (pb == NULL))
		fail("pending section", conf_main(a), "appeared or was lost");
	if (pa != NULL)
		compare_sections(pa, pb);
	for (size_t i = 1; i < a->n_sections; i++) {
		const struct conf_section *s = &a->sections[i], *t;

		if (s->kind != CONF_SECTION_SNAPSHOT)
			continue;
		t = conf_snapshot(b, s->name);
		if (t == NULL)
			fail("snapshot", s, "lost");
		compare_sections(s, t);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_file *first = NULL, *second = NULL;
	char errmsg[CONF_ERRMSG_SIZE] = "";
	char *out1 = NULL, *out2 = NULL;
	size_t len1 = 0, len2 = 0;
	int rv;

	rv = conf_parse((const char *)data, size, "fuzz.conf", &first);
	if (rv != 0) {
		/* Only an input over the size limit may be turned down. */
		if (rv != -EFBIG || size <= CONF_MAX_FILE_SIZE)
			abort();
		return 0;
	}

	/* A parsed value never contains a newline, so writing cannot fail. */
	if (conf_write(first, &out1, &len1, errmsg) != 0) {
		fprintf(stderr, "first write failed: %s\n", errmsg);
		abort();
	}
	if (conf_parse(out1, len1, "fuzz.conf", &second) != 0)
		abort();
	compare_files(first, second);

	if (conf_write(second, &out2, &len2, errmsg) != 0) {
		fprintf(stderr, "second write failed: %s\n", errmsg);
		abort();
	}
	if (len1 != len2 || memcmp(out1, out2, len1) != 0) {
		fprintf(stderr, "writing twice gave different bytes:\n--- first\n%s--- second\n%s",
		        out1, out2);
		abort();
	}

	free(out1);
	free(out2);
	conf_file_free(first);
	conf_file_free(second);
	return 0;
}

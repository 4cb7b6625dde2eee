/*
 * Unit tests for the config reader, writer, description codec and model
 * (conf/conf.h), plus round-trip and content checks over the sample
 * configs in tests/data/configs/.
 *
 * The sample configs are found through TEST_DATA_DIR (set by `make check`),
 * else next to this source file.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "tests/conf_oracle.h"

/* ---- helpers ---- */

/* Parse TEXT and fail the test unless conf_parse() succeeds. */
static struct conf_file *parse_text(const char *text)
{
	struct conf_file *cf = NULL;

	ck_assert_int_eq(conf_parse(text, strlen(text), "test.conf", &cf), 0);
	ck_assert_ptr_nonnull(cf);
	return cf;
}

/* Write CF and fail the test unless conf_write() succeeds. Caller frees. */
static char *write_text(const struct conf_file *cf)
{
	char errmsg[CONF_ERRMSG_SIZE] = "";
	char *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(conf_write(cf, &out, &len, errmsg), 0);
	ck_assert_str_eq(errmsg, "");
	ck_assert_uint_eq(len, strlen(out));
	return out;
}

/* Parse TEXT, write it and free the parse: the canonical text. */
static char *canonical(const char *text)
{
	struct conf_file *cf = parse_text(text);
	char *out = write_text(cf);

	conf_file_free(cf);
	return out;
}

/* True when TEXT contains LINE as a whole line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

		if (len == n && memcmp(p, line, n) == 0)
			return true;
		p = nl != NULL ? nl + 1 : NULL;
	}
	return false;
}

/* The number of diagnostics of CF with SEVERITY. */
static unsigned count_diags(const struct conf_file *cf, enum conf_severity severity)
{
	unsigned n = 0;

	for (size_t i = 0; i < cf->n_diags; i++)
		n += cf->diags[i].severity == severity;
	return n;
}

/* The first diagnostic of CF on LINE, or NULL. */
static const struct conf_diag *diag_on_line(const struct conf_file *cf, unsigned line)
{
	for (size_t i = 0; i < cf->n_diags; i++) {
		if (cf->diags[i].line == line)
			return &cf->diags[i];
	}
	return NULL;
}

/* The severity of the first diagnostic on LINE, or 0 when there is none. */
static int diag_severity(const struct conf_file *cf, unsigned line)
{
	const struct conf_diag *d = diag_on_line(cf, line);

	return d != NULL ? (int)d->severity : 0;
}

/* The text of the first diagnostic on LINE, or "" when there is none. */
static const char *diag_text(const struct conf_file *cf, unsigned line)
{
	const struct conf_diag *d = diag_on_line(cf, line);

	return d != NULL ? d->text : "";
}

static const char *entry_value(const struct conf_entry *list, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].key, key) == 0)
			return list[i].value;
	}
	return NULL;
}

/* Compare the keys of A and B as sets, leaving out what the writer drops. */
static void diff_keys(const struct conf_section *a, const struct conf_section *b, char *diff,
                      size_t size)
{
	size_t na = 0, nb = 0;

	for (size_t i = 0; i < a->n_keys; i++) {
		const struct conf_entry *e = &a->keys[i];
		const char *other;

		if (conf_oracle_writer_drops(a, e))
			continue;
		na++;
		other = entry_value(b->keys, b->n_keys, e->key);
		if (other == NULL || strcmp(other, e->value) != 0) {
			snprintf(diff, size, "[%s] key '%s': '%s' became '%s'",
			         a->name != NULL ? a->name : "main", e->key, e->value,
			         other != NULL ? other : "(missing)");
			return;
		}
	}
	for (size_t i = 0; i < b->n_keys; i++)
		nb += !conf_oracle_writer_drops(b, &b->keys[i]);
	if (na != nb)
		snprintf(diff, size, "[%s] %zu keys became %zu", a->name != NULL ? a->name : "main",
		         na, nb);
}

/*
 * Compare the raw entries of A and B in the order the writer keeps:
 * lxc.environment.runtime entries in order, and the others in order.
 */
static void diff_raw(const struct conf_section *a, const struct conf_section *b, char *diff,
                     size_t size)
{
	for (int env = 0; env < 2; env++) {
		size_t i = 0, j = 0;

		for (;;) {
			while (i < a->n_raw &&
			       (strcmp(a->raw[i].key, "lxc.environment.runtime") == 0) != env)
				i++;
			while (j < b->n_raw &&
			       (strcmp(b->raw[j].key, "lxc.environment.runtime") == 0) != env)
				j++;
			if (i == a->n_raw || j == b->n_raw)
				break;
			if (strcmp(a->raw[i].key, b->raw[j].key) != 0 ||
			    strcmp(a->raw[i].value, b->raw[j].value) != 0) {
				snprintf(diff, size, "raw '%s: %s' became '%s: %s'", a->raw[i].key,
				         a->raw[i].value, b->raw[j].key, b->raw[j].value);
				return;
			}
			i++;
			j++;
		}
		if (i != a->n_raw || j != b->n_raw) {
			snprintf(diff, size, "raw entries differ in number (%zu, %zu)", a->n_raw, b->n_raw);
			return;
		}
	}
}

/* Compare the shadowed and the other verbatim lines of A and B, each in order. */
static void diff_verbatim(const struct conf_section *a, const struct conf_section *b,
                          char *diff, size_t size)
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
			if (strcmp(a->verbatim[i].text, b->verbatim[j].text) != 0) {
				snprintf(diff, size, "verbatim line '%s' became '%s'", a->verbatim[i].text,
				         b->verbatim[j].text);
				return;
			}
			i++;
			j++;
		}
		if (i != a->n_verbatim || j != b->n_verbatim) {
			snprintf(diff, size, "verbatim lines differ in number (%zu, %zu)",
			         a->n_verbatim, b->n_verbatim);
			return;
		}
	}
}

static void diff_section(const struct conf_section *a, const struct conf_section *b,
                         char *diff, size_t size)
{
	const char *da = a->description != NULL ? a->description : "";
	const char *db = b->description != NULL ? b->description : "";

	if ((a->description == NULL) != (b->description == NULL) || strcmp(da, db) != 0) {
		snprintf(diff, size, "[%s] description '%s' became '%s'",
		         a->name != NULL ? a->name : "main", da, db);
		return;
	}
	diff_keys(a, b, diff, size);
	if (diff[0] == '\0')
		diff_raw(a, b, diff, size);
	if (diff[0] == '\0')
		diff_verbatim(a, b, diff, size);
}

/*
 * Describe the first difference between the structures A and B in DIFF,
 * or leave it empty when they are the same. Snapshots are matched by name
 * because the writer sorts them.
 */
static void diff_files(const struct conf_file *a, const struct conf_file *b, char *diff,
                       size_t size)
{
	const struct conf_section *pa = conf_pending(a), *pb = conf_pending(b);

	diff[0] = '\0';
	if (a->n_sections != b->n_sections) {
		snprintf(diff, size, "%zu sections became %zu", a->n_sections, b->n_sections);
		return;
	}
	diff_section(conf_main(a), conf_main(b), diff, size);
	if (diff[0] == '\0' && (pa == NULL) != (pb == NULL))
		snprintf(diff, size, "the pending section %s", pa != NULL ? "is lost" : "appeared");
	if (diff[0] == '\0' && pa != NULL)
		diff_section(pa, pb, diff, size);
	for (size_t i = 1; i < a->n_sections && diff[0] == '\0'; i++) {
		const struct conf_section *s = &a->sections[i], *t;

		if (s->kind != CONF_SECTION_SNAPSHOT)
			continue;
		t = conf_snapshot(b, s->name);
		if (t == NULL)
			snprintf(diff, size, "snapshot [%s] is lost", s->name);
		else
			diff_section(s, t, diff, size);
	}
}

/*
 * Check the round trip of TEXT: parsing the written text gives the same
 * structure, and writing that again gives the same bytes.
 */
static void check_round_trip(const char *text, size_t len, const char *name)
{
	struct conf_file *first = NULL, *second = NULL;
	char errmsg[CONF_ERRMSG_SIZE] = "";
	char diff[1024];
	char *out1 = NULL, *out2 = NULL;
	size_t len1 = 0, len2 = 0;

	ck_assert_int_eq(conf_parse(text, len, name, &first), 0);
	ck_assert_int_eq(conf_write(first, &out1, &len1, errmsg), 0);
	ck_assert_int_eq(conf_parse(out1, len1, name, &second), 0);
	diff_files(first, second, diff, sizeof(diff));
	ck_assert_msg(diff[0] == '\0', "%s: round trip changed the structure: %s", name, diff);
	ck_assert_int_eq(conf_write(second, &out2, &len2, errmsg), 0);
	ck_assert_str_eq(out2, out1);
	ck_assert_uint_eq(len2, len1);

	free(out1);
	free(out2);
	conf_file_free(first);
	conf_file_free(second);
}

static void check_round_trip_str(const char *text)
{
	check_round_trip(text, strlen(text), "test.conf");
}

/* Write LEN bytes of DATA to PATH, failing the test on error. */
static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Read the whole file at PATH into a new NUL-terminated buffer. */
static char *read_whole_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long size;

	ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert_int_ge(size, 0);
	rewind(f);
	buf = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	buf[size] = '\0';
	fclose(f);
	*len = (size_t)size;
	return buf;
}

/* ---- per-test temporary folder ---- */

static char tmpdir[64];

static void tmpdir_setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_conf.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Remove the files in tmpdir, then tmpdir itself. */
static void tmpdir_teardown(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	char path[PATH_MAX];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		if (remove(path) != 0)
			fprintf(stderr, "cannot remove %s: %s\n", path, strerror(errno));
	}
	closedir(d);
	rmdir(tmpdir);
}

/* The number of entries in tmpdir other than . and .. */
static unsigned tmpdir_count(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	unsigned n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* ---- conf_parse ---- */

START_TEST(test_conf_parse_empty)
{
	struct conf_file *cf = parse_text("");

	ck_assert_uint_eq(cf->n_sections, 1);
	ck_assert_int_eq(conf_main(cf)->kind, CONF_SECTION_MAIN);
	ck_assert_ptr_null(conf_main(cf)->name);
	ck_assert_uint_eq(conf_main(cf)->n_keys, 0);
	ck_assert_uint_eq(cf->n_diags, 0);
	ck_assert_str_eq(cf->path, "test.conf");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_no_verbatim_lines)
{
	/*
	 * Found by fuzzing: with no diagnostics or no verbatim lines the reader
	 * passed NULL to qsort(), which UBSan reports.
	 */
	struct conf_file *cf = parse_text("memory: 512\nswap: 0\n");

	ck_assert_uint_eq(conf_main(cf)->n_verbatim, 0);
	ck_assert_uint_eq(cf->n_diags, 0);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_keys_in_file_order)
{
	struct conf_file *cf = parse_text("memory: 512\n\n  \nhostname:   web01  \ncores:2\n");
	struct conf_section *s = conf_main(cf);

	ck_assert_uint_eq(s->n_keys, 3);
	ck_assert_str_eq(s->keys[0].key, "memory");
	ck_assert_str_eq(s->keys[1].key, "hostname");
	ck_assert_str_eq(s->keys[1].value, "web01");
	ck_assert_uint_eq(s->keys[1].line, 4);
	ck_assert_str_eq(s->keys[2].value, "2");
	ck_assert_uint_eq(s->keys[2].line, 5);
	ck_assert_uint_eq(cf->n_diags, 0);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_path_null)
{
	struct conf_file *cf = NULL;

	ck_assert_int_eq(conf_parse("memory: 512\n", 12, NULL, &cf), 0);
	ck_assert_ptr_null(cf->path);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_length_not_terminated)
{
	/* Only the first LEN bytes count, with no NUL at the end. */
	const char text[] = "memory: 512\nswap: 256";
	struct conf_file *cf = NULL;

	ck_assert_int_eq(conf_parse(text, 15, NULL, &cf), 0);
	ck_assert_str_eq(conf_get(conf_main(cf), "memory"), "512");
	ck_assert_ptr_null(conf_get(conf_main(cf), "swap"));
	ck_assert_uint_eq(conf_main(cf)->n_verbatim, 1);
	ck_assert_str_eq(conf_main(cf)->verbatim[0].text, "swa");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_crlf)
{
	const char *lf = "#note: a\nmemory: 512\nlxc.idmap = u 0 100000 65536\n\n[snap1]\nswap: 0\n";
	const char *crlf =
		"#note: a\r\nmemory: 512\r\nlxc.idmap = u 0 100000 65536\r\n\r\n[snap1]\r\nswap: 0\r\n";
	struct conf_file *a = parse_text(lf), *b = parse_text(crlf);
	char diff[1024];
	char *out_lf = write_text(a), *out_crlf = write_text(b);

	diff_files(a, b, diff, sizeof(diff));
	ck_assert_str_eq(diff, "");
	ck_assert_uint_eq(b->n_diags, 0);
	ck_assert_str_eq(conf_main(b)->raw[0].value, "u 0 100000 65536");
	ck_assert_ptr_nonnull(conf_snapshot(b, "snap1"));
	ck_assert_str_eq(out_crlf, out_lf);
	ck_assert_ptr_null(strchr(out_crlf, '\r'));
	free(out_lf);
	free(out_crlf);
	conf_file_free(a);
	conf_file_free(b);
}
END_TEST

START_TEST(test_conf_parse_crlf_verbatim_line)
{
	/* A kept line loses every '\r' before its '\n', so it reads back the same. */
	struct conf_file *cf = parse_text("garbage\r\r\nmemory: 512\r\n");

	ck_assert_uint_eq(conf_main(cf)->n_verbatim, 1);
	ck_assert_str_eq(conf_main(cf)->verbatim[0].text, "garbage");
	conf_file_free(cf);
	check_round_trip_str("garbage\r\r\nmemory: 512\r\n");
	check_round_trip_str("#text\r\r\nhostname: a\r\r\n");
}
END_TEST

START_TEST(test_conf_parse_missing_final_newline)
{
	struct conf_file *cf = parse_text("memory: 512\nswap: 256");
	char *out = write_text(cf);

	ck_assert_str_eq(conf_get(conf_main(cf), "swap"), "256");
	ck_assert_uint_eq(conf_main(cf)->keys[1].line, 2);
	ck_assert_str_eq(out, "memory: 512\nswap: 256\n");
	free(out);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_key_without_value)
{
	struct conf_file *cf = parse_text("memory: 512\nswap:\nhostname:   \n");
	struct conf_section *s = conf_main(cf);

	ck_assert_uint_eq(s->n_keys, 1);
	ck_assert_ptr_null(conf_get(s, "swap"));
	ck_assert_uint_eq(s->n_verbatim, 2);
	ck_assert_str_eq(s->verbatim[0].text, "swap:");
	ck_assert_uint_eq(s->verbatim[0].line, 2);
	ck_assert(!s->verbatim[0].shadowed);
	ck_assert_str_eq(s->verbatim[1].text, "hostname:   ");
	ck_assert_uint_eq(cf->n_errors, 2);
	ck_assert_int_eq(diag_severity(cf, 2), CONF_ERROR);
	ck_assert_ptr_nonnull(strstr(diag_text(cf, 2), "swap"));
	ck_assert_int_eq(diag_severity(cf, 3), CONF_ERROR);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_indented_comment)
{
	struct conf_file *cf = parse_text("  #not a description\n\t#nor this\nmemory: 512\n");
	struct conf_section *s = conf_main(cf);

	ck_assert_ptr_null(s->description);
	ck_assert_uint_eq(s->n_verbatim, 2);
	ck_assert_str_eq(s->verbatim[0].text, "  #not a description");
	ck_assert_str_eq(s->verbatim[1].text, "\t#nor this");
	ck_assert_uint_eq(cf->n_errors, 2);
	ck_assert_int_eq(diag_severity(cf, 1), CONF_ERROR);
	ck_assert_int_eq(diag_severity(cf, 2), CONF_ERROR);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_uppercase_key)
{
	struct conf_file *cf = parse_text("Hostname: web\nMEMORY: 512\nnet0 : name=eth0\n");
	struct conf_section *s = conf_main(cf);

	ck_assert_uint_eq(s->n_keys, 0);
	ck_assert_uint_eq(s->n_verbatim, 3);
	ck_assert_str_eq(s->verbatim[0].text, "Hostname: web");
	ck_assert_str_eq(s->verbatim[2].text, "net0 : name=eth0");
	ck_assert_uint_eq(cf->n_errors, 3);
	ck_assert_uint_eq(cf->n_warnings, 0);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_unknown_key_kept)
{
	struct conf_file *cf = parse_text("memory: 512\nvmstate: local:vm-100-state-s1\n");
	ck_assert_str_eq(conf_get(conf_main(cf), "vmstate"), "local:vm-100-state-s1");
	ck_assert_uint_eq(cf->n_errors, 1);
	ck_assert_int_eq(diag_severity(cf, 2), CONF_ERROR);
	ck_assert_ptr_nonnull(strstr(diag_text(cf, 2), "vmstate"));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_bad_type_kept)
{
	struct conf_file *cf = parse_text("memory: 1024M\ncores: -2\nonboot: maybe\n");
	struct conf_section *s = conf_main(cf);

	ck_assert_str_eq(conf_get(s, "memory"), "1024M");
	ck_assert_str_eq(conf_get(s, "cores"), "-2");
	ck_assert_str_eq(conf_get(s, "onboot"), "maybe");
	ck_assert_uint_eq(cf->n_errors, 3);
	ck_assert_uint_eq(cf->n_diags, 3);
	for (unsigned line = 1; line <= 3; line++)
		ck_assert_int_eq(diag_severity(cf, line), CONF_ERROR);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_enum_range_warning)
{
	/* pct loads values that break only an enum or a range. */
	struct conf_file *cf = parse_text("tty: 9\nostype: redhat\nmemory: 512\n");

	ck_assert_str_eq(conf_get(conf_main(cf), "tty"), "9");
	ck_assert_str_eq(conf_get(conf_main(cf), "ostype"), "redhat");
	ck_assert_uint_eq(cf->n_errors, 0);
	ck_assert_uint_eq(cf->n_warnings, 2);
	ck_assert_int_eq(diag_severity(cf, 1), CONF_WARNING);
	ck_assert_int_eq(diag_severity(cf, 2), CONF_WARNING);
	ck_assert_ptr_null(diag_on_line(cf, 3));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_duplicate_key_checks_each_value)
{
	/* Each line's own value is checked, not the first of the duplicates. */
	struct conf_file *cf = parse_text("tty: 2\ntty: 9\nostype: redhat\nostype: debian\n");

	ck_assert_str_eq(conf_get(conf_main(cf), "tty"), "9");
	ck_assert_uint_eq(cf->n_errors, 0);
	/* Two duplicate warnings, tty 9 on line 2, ostype redhat on line 3. */
	ck_assert_uint_eq(cf->n_warnings, 4);
	ck_assert_uint_eq(cf->n_diags, 4);
	ck_assert_uint_eq(cf->diags[0].line, 1);
	ck_assert_uint_eq(cf->diags[1].line, 2);
	ck_assert_uint_eq(cf->diags[2].line, 3);
	ck_assert_uint_eq(cf->diags[3].line, 3);
	ck_assert_ptr_null(diag_on_line(cf, 4));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_bool_normalized)
{
	struct conf_file *cf = parse_text("onboot: yes\nprotection: off\ntemplate: 1\n");

	ck_assert_str_eq(conf_get(conf_main(cf), "onboot"), "1");
	ck_assert_str_eq(conf_get(conf_main(cf), "protection"), "0");
	ck_assert_str_eq(conf_get(conf_main(cf), "template"), "1");
	ck_assert_uint_eq(cf->n_diags, 0);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_duplicate_key)
{
	struct conf_file *cf = parse_text("memory: 512\nswap: 0\nmemory: 1024\n");
	struct conf_section *s = conf_main(cf);

	ck_assert_str_eq(conf_get(s, "memory"), "1024");
	ck_assert_uint_eq(s->n_keys, 2);
	ck_assert_uint_eq(s->n_verbatim, 1);
	ck_assert_str_eq(s->verbatim[0].text, "memory: 512");
	ck_assert_uint_eq(s->verbatim[0].line, 1);
	ck_assert(s->verbatim[0].shadowed);
	ck_assert_uint_eq(cf->n_errors, 0);
	ck_assert_uint_eq(cf->n_warnings, 1);
	ck_assert_int_eq(diag_severity(cf, 1), CONF_WARNING);
	ck_assert_ptr_nonnull(strstr(diag_text(cf, 1), "line 3"));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_duplicate_key_three_times)
{
	/* Both earlier lines name the line whose value is used: the last. */
	struct conf_file *cf = parse_text("memory: 512\nmemory: 1024\nmemory: 2048\n");
	struct conf_section *s = conf_main(cf);

	ck_assert_str_eq(conf_get(s, "memory"), "2048");
	ck_assert_uint_eq(s->n_verbatim, 2);
	ck_assert_str_eq(s->verbatim[0].text, "memory: 512");
	ck_assert_str_eq(s->verbatim[1].text, "memory: 1024");
	ck_assert_uint_eq(cf->n_warnings, 2);
	ck_assert_ptr_nonnull(strstr(diag_text(cf, 1), "line 3"));
	ck_assert_ptr_nonnull(strstr(diag_text(cf, 2), "line 3"));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_raw_both_forms)
{
	struct conf_file *cf = parse_text("lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir\n"
	                                  "lxc.apparmor.profile = unconfined\n"
	                                  "lxc.cgroup2.devices.allow:c 226:0 rwm  \n"
	                                  "lxc.cap.drop:\n"
	                                  "lxc.mount.entry=/dev/net dev/net none bind,create=dir\n");
	struct conf_section *s = conf_main(cf);

	ck_assert_uint_eq(s->n_raw, 5);
	ck_assert_uint_eq(s->n_keys, 0);
	ck_assert_str_eq(s->raw[0].key, "lxc.mount.entry");
	ck_assert_str_eq(s->raw[0].value, "/dev/dri dev/dri none bind,optional,create=dir");
	ck_assert_str_eq(s->raw[1].key, "lxc.apparmor.profile");
	ck_assert_str_eq(s->raw[1].value, "unconfined");
	ck_assert_str_eq(s->raw[2].value, "c 226:0 rwm");
	ck_assert_str_eq(s->raw[3].key, "lxc.cap.drop");
	ck_assert_str_eq(s->raw[3].value, "");
	ck_assert_str_eq(s->raw[4].key, "lxc.mount.entry");
	ck_assert_str_eq(s->raw[4].value, "/dev/net dev/net none bind,create=dir");
	ck_assert_uint_eq(s->raw[4].line, 5);
	ck_assert_uint_eq(cf->n_diags, 0);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_raw_env)
{
	struct conf_file *cf = parse_text("lxc.environment.runtime: A=1\n"
	                                  "lxc.idmap: u 0 100000 65536\n"
	                                  "lxc.environment.runtime = B=two words\n");
	struct conf_section *s = conf_main(cf);

	ck_assert_uint_eq(s->n_raw, 3);
	ck_assert_str_eq(s->raw[0].key, "lxc.environment.runtime");
	ck_assert_str_eq(s->raw[0].value, "A=1");
	ck_assert_str_eq(s->raw[2].value, "B=two words");
	ck_assert_uint_eq(cf->n_diags, 0);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_raw_rejected)
{
	struct conf_file *cf = parse_text("lxc.rootfs.path: /var/lib/lxc/100/rootfs\n"
	                                  "lxc.no.such.key = 1\n"
	                                  "lxc.idmap: u 0 100000 65536\n");
	struct conf_section *s = conf_main(cf);

	ck_assert_uint_eq(s->n_raw, 1);
	ck_assert_uint_eq(s->n_verbatim, 2);
	ck_assert_str_eq(s->verbatim[0].text, "lxc.rootfs.path: /var/lib/lxc/100/rootfs");
	ck_assert_str_eq(s->verbatim[1].text, "lxc.no.such.key = 1");
	ck_assert_uint_eq(cf->n_errors, 2);
	ck_assert_int_eq(diag_severity(cf, 1), CONF_ERROR);
	ck_assert_int_eq(diag_severity(cf, 2), CONF_ERROR);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_raw_deprecated)
{
	struct conf_file *cf = parse_text("lxc.cgroup.devices.allow: c 10:200 rwm\n"
	                                  "lxc.aa_profile = unconfined\n");
	struct conf_section *s = conf_main(cf);

	ck_assert_uint_eq(s->n_raw, 2);
	ck_assert_str_eq(s->raw[0].key, "lxc.cgroup.devices.allow");
	ck_assert_str_eq(s->raw[1].key, "lxc.aa_profile");
	ck_assert_uint_eq(cf->n_errors, 0);
	ck_assert_uint_eq(cf->n_warnings, 2);
	ck_assert_int_eq(diag_severity(cf, 2), CONF_WARNING);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_sections)
{
	struct conf_file *cf = parse_text("memory: 512\n"
	                                  "parent: zz\n"
	                                  "\n"
	                                  "[pve:pending]\n"
	                                  "memory: 1024\n"
	                                  "delete: swap\n"
	                                  "\n"
	                                  "[zz]\n"
	                                  "memory: 256\n"
	                                  "snaptime: 1700000000\n"
	                                  "\n"
	                                  "[aa]\n"
	                                  "memory: 128\n");

	ck_assert_uint_eq(cf->n_sections, 4);
	ck_assert_int_eq(cf->sections[1].kind, CONF_SECTION_PENDING);
	ck_assert_str_eq(cf->sections[1].name, CONF_PENDING_NAME);
	ck_assert_uint_eq(cf->sections[1].line, 4);
	ck_assert_str_eq(conf_get(conf_pending(cf), "delete"), "swap");
	ck_assert_int_eq(cf->sections[2].kind, CONF_SECTION_SNAPSHOT);
	ck_assert_str_eq(cf->sections[2].name, "zz");
	ck_assert_uint_eq(cf->sections[2].line, 8);
	ck_assert_str_eq(cf->sections[3].name, "aa");
	ck_assert_str_eq(conf_get(conf_snapshot(cf, "zz"), "snaptime"), "1700000000");
	ck_assert_str_eq(conf_get(conf_snapshot(cf, "aa"), "memory"), "128");
	ck_assert_str_eq(conf_get(conf_main(cf), "memory"), "512");
	ck_assert_uint_eq(cf->n_diags, 0);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_pending_after_snapshot)
{
	/* The pending section is sections[1] wherever it is in the file. */
	struct conf_file *cf = parse_text("memory: 512\n[snap1]\nmemory: 256\n[pve:pending]\nswap: 0\n");

	ck_assert_uint_eq(cf->n_sections, 3);
	ck_assert_int_eq(cf->sections[1].kind, CONF_SECTION_PENDING);
	ck_assert_str_eq(conf_get(&cf->sections[1], "swap"), "0");
	ck_assert_int_eq(cf->sections[2].kind, CONF_SECTION_SNAPSHOT);
	ck_assert_str_eq(cf->sections[2].name, "snap1");
	ck_assert_str_eq(conf_get(&cf->sections[2], "memory"), "256");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_header_forms)
{
	struct conf_file *cf = parse_text("[PVE:Pending]  \n"
	                                  "memory: 1\n"
	                                  "[Before_Upgrade-2]\t\n"
	                                  "memory: 2\n"
	                                  "[a]\n"
	                                  "[1snap]\n"
	                                  "[snap] x\n"
	                                  " [snap]\n");

	ck_assert_uint_eq(cf->n_sections, 3);
	ck_assert_str_eq(conf_get(conf_pending(cf), "memory"), "1");
	ck_assert_str_eq(conf_pending(cf)->name, CONF_PENDING_NAME);
	ck_assert_ptr_nonnull(conf_snapshot(cf, "Before_Upgrade-2"));
	/* Headers that do not match stay in the section before them. */
	ck_assert_uint_eq(conf_snapshot(cf, "Before_Upgrade-2")->n_verbatim, 4);
	ck_assert_uint_eq(cf->n_errors, 4);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_duplicate_header)
{
	struct conf_file *cf = parse_text("[s1]\nmemory: 1\n[s2]\nmemory: 2\n[s1]\nswap: 0\n");
	struct conf_section *s1 = conf_snapshot(cf, "s1");

	ck_assert_uint_eq(cf->n_sections, 3);
	ck_assert_str_eq(conf_get(s1, "swap"), "0");
	ck_assert_ptr_null(conf_get(conf_snapshot(cf, "s2"), "swap"));
	ck_assert_uint_eq(s1->n_verbatim, 1);
	ck_assert_str_eq(s1->verbatim[0].text, "[s1]");
	ck_assert_uint_eq(s1->verbatim[0].line, 5);
	ck_assert_uint_eq(cf->n_errors, 1);
	ck_assert_int_eq(diag_severity(cf, 5), CONF_ERROR);
	conf_file_free(cf);
	check_round_trip_str("[s1]\nmemory: 1\n[s2]\nmemory: 2\n[s1]\nswap: 0\n");
	check_round_trip_str("[pve:pending]\nmemory: 1\n[pve:pending]\nswap: 0\n");
}
END_TEST

START_TEST(test_conf_parse_description)
{
	struct conf_file *cf = parse_text("#first line\n#\n#100%25 done%3A yes\nmemory: 512\n#late\n");

	ck_assert_str_eq(conf_main(cf)->description, "first line\n\n100% done: yes\nlate\n");
	ck_assert_uint_eq(cf->n_diags, 0);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_description_utf8)
{
	struct conf_file *cf = parse_text("#J%C3%BCrgen %E2%9C%93\n#raw \xc3\xa9 byte\n");

	ck_assert_str_eq(conf_main(cf)->description, "J\xc3\xbcrgen \xe2\x9c\x93\nraw \xc3\xa9 byte\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_comment_before_header)
{
	struct conf_file *cf = parse_text("#main text\n"
	                                  "memory: 512\n"
	                                  "#belongs to main\n"
	                                  "[s1]\n"
	                                  "#snapshot text\n"
	                                  "memory: 256\n"
	                                  "#belongs to s1\n"
	                                  "[pve:pending]\n"
	                                  "#pending text\n");

	ck_assert_str_eq(conf_main(cf)->description, "main text\nbelongs to main\n");
	ck_assert_str_eq(conf_snapshot(cf, "s1")->description, "snapshot text\nbelongs to s1\n");
	ck_assert_str_eq(conf_pending(cf)->description, "pending text\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_legacy_description)
{
	/* A `description:` line reads as one description line. */
	struct conf_file *cf = parse_text("description: Web server%3A nginx\nmemory: 512\n"
	                                  "[s1]\ndescription: two%0Alines%0A\n");

	ck_assert_str_eq(conf_main(cf)->description, "Web server: nginx\n");
	ck_assert_str_eq(conf_snapshot(cf, "s1")->description, "two\nlines\n");
	ck_assert_ptr_null(conf_get(conf_main(cf), "description"));
	ck_assert_uint_eq(cf->n_diags, 0);
	conf_file_free(cf);
	check_round_trip_str("description: Web server%3A nginx\nmemory: 512\n");
	check_round_trip_str("#first\ndescription: second\n#third\n");
}
END_TEST

START_TEST(test_conf_parse_delete_outside_pending)
{
	struct conf_file *cf = parse_text("memory: 512\ndelete: swap\n[s1]\ndelete: memory\n");

	ck_assert_ptr_null(conf_get(conf_main(cf), "delete"));
	ck_assert_uint_eq(conf_main(cf)->n_verbatim, 1);
	ck_assert_str_eq(conf_main(cf)->verbatim[0].text, "delete: swap");
	ck_assert_uint_eq(conf_snapshot(cf, "s1")->n_verbatim, 1);
	ck_assert_uint_eq(cf->n_errors, 2);
	ck_assert_int_eq(diag_severity(cf, 2), CONF_ERROR);
	ck_assert_int_eq(diag_severity(cf, 4), CONF_ERROR);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_snapstate)
{
	struct conf_file *cf = parse_text("snapstate: prepare\nmemory: 512\n[s1]\nsnapstate: delete\n");

	ck_assert_ptr_null(conf_get(conf_main(cf), "snapstate"));
	ck_assert_uint_eq(conf_main(cf)->n_verbatim, 1);
	ck_assert_str_eq(conf_main(cf)->verbatim[0].text, "snapstate: prepare");
	ck_assert_str_eq(conf_get(conf_snapshot(cf, "s1"), "snapstate"), "delete");
	ck_assert_uint_eq(cf->n_errors, 0);
	ck_assert_uint_eq(cf->n_warnings, 1);
	ck_assert_int_eq(diag_severity(cf, 1), CONF_WARNING);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_snapshot_missing_parent)
{
	/* The reader keeps a parent that names no snapshot; it is no error. */
	struct conf_file *cf = parse_text("memory: 512\nparent: s1\n\n[s1]\nmemory: 512\n"
	                                  "parent: gone\nsnaptime: 1600000000\n");

	ck_assert_str_eq(conf_get(conf_snapshot(cf, "s1"), "parent"), "gone");
	ck_assert_ptr_null(conf_snapshot(cf, "gone"));
	ck_assert_uint_eq(cf->n_errors, 0);
	conf_file_free(cf);
	check_round_trip_str("memory: 512\nparent: s1\n\n[s1]\nmemory: 512\nparent: gone\n");
}
END_TEST

START_TEST(test_conf_parse_nul_bytes)
{
	const char text[] = "memory: 512\nhost\0name: web\0\nswap: 0\n";
	struct conf_file *cf = NULL;

	ck_assert_int_eq(conf_parse(text, sizeof(text) - 1, NULL, &cf), 0);
	ck_assert_str_eq(conf_get(conf_main(cf), "hostname"), "web");
	ck_assert_str_eq(conf_get(conf_main(cf), "swap"), "0");
	ck_assert_uint_eq(cf->n_errors, count_diags(cf, CONF_ERROR));
	ck_assert_uint_ge(cf->n_errors, 1);
	ck_assert_uint_eq(cf->diags[0].line, 2);
	ck_assert_int_eq(cf->diags[0].severity, CONF_ERROR);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_diagnostics_sorted)
{
	struct conf_file *cf = parse_text("memory: 512\n"     /* 1: shadowed, warning */
	                                  "bad line\n"        /* 2: error */
	                                  "tty: 9\n"          /* 3: warning */
	                                  "memory: 1024\n"    /* 4 */
	                                  "cores: x\n"        /* 5: error */
	                                  "lxc.cgroup.x: 1\n" /* 6: warning */
	                                  "Swap: 1\n");       /* 7: error */

	ck_assert_uint_eq(cf->n_diags, 6);
	ck_assert_uint_eq(cf->n_errors, 3);
	ck_assert_uint_eq(cf->n_warnings, 3);
	ck_assert_uint_eq(count_diags(cf, CONF_ERROR), 3);
	ck_assert_uint_eq(count_diags(cf, CONF_WARNING), 3);
	for (size_t i = 1; i < cf->n_diags; i++)
		ck_assert_uint_le(cf->diags[i - 1].line, cf->diags[i].line);
	ck_assert_uint_eq(cf->diags[0].line, 1);
	ck_assert_int_eq(cf->diags[0].severity, CONF_WARNING);
	ck_assert_uint_eq(cf->diags[1].line, 2);
	ck_assert_int_eq(cf->diags[1].severity, CONF_ERROR);
	ck_assert_uint_eq(cf->diags[5].line, 7);
	ck_assert_int_eq(cf->diags[5].severity, CONF_ERROR);
	for (size_t i = 0; i < cf->n_diags; i++)
		ck_assert_str_ne(cf->diags[i].text, "");
	conf_file_free(cf);
}
END_TEST

/*
 * Fill LEN bytes of BUF with numbered `#` lines ending in a newline.
 * BUF must hold LEN + 1 bytes: snprintf writes a NUL after the last line.
 */
static void fill_description_lines(char *buf, size_t len)
{
	size_t at = 0;

	while (at < len) {
		size_t left = len - at;
		int n = snprintf(buf + at, left + 1, "#line %zu of a long note\n", at);

		if ((size_t)n > left) {
			memset(buf + at, 'x', left);
			buf[len - 1] = '\n';
			buf[at] = '#';
			break;
		}
		at += (size_t)n;
	}
}

START_TEST(test_conf_parse_max_size)
{
	char *buf = malloc(CONF_MAX_FILE_SIZE + 2);
	struct conf_file *cf = NULL;

	ck_assert_ptr_nonnull(buf);
	fill_description_lines(buf, CONF_MAX_FILE_SIZE);
	buf[CONF_MAX_FILE_SIZE] = '\0';
	ck_assert_int_eq(conf_parse(buf, CONF_MAX_FILE_SIZE, NULL, &cf), 0);
	ck_assert_uint_eq(cf->n_diags, 0);
	/* Each line loses its '#' and keeps its newline. */
	size_t n_lines = 0;
	for (size_t i = 0; i < CONF_MAX_FILE_SIZE; i++)
		n_lines += buf[i] == '\n';
	ck_assert_uint_eq(strlen(conf_main(cf)->description), CONF_MAX_FILE_SIZE - n_lines);
	conf_file_free(cf);
	cf = NULL;

	buf[CONF_MAX_FILE_SIZE] = '\n';
	ck_assert_int_eq(conf_parse(buf, CONF_MAX_FILE_SIZE + 1, NULL, &cf), -EFBIG);
	ck_assert_ptr_null(cf);
	free(buf);
}
END_TEST

START_TEST(test_conf_parse_parent_missing)
{
	struct conf_file *cf = parse_text("arch: amd64\nparent: ghost\n\n[s1]\nparent: gone\n");

	ck_assert_uint_eq(cf->n_warnings, 2);
	ck_assert_uint_eq(cf->diags[0].line, 2);
	ck_assert_ptr_nonnull(strstr(cf->diags[0].text, "'ghost'"));
	ck_assert_uint_eq(cf->diags[1].line, 5);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_parent_cycle)
{
	struct conf_file *cf = parse_text("arch: amd64\nparent: a1\n\n[a1]\nparent: b1\n\n"
	                                  "[b1]\nparent: a1\n\n[c1]\nparent: b1\n");

	ck_assert_uint_eq(cf->n_errors, 0);
	ck_assert_uint_eq(cf->n_warnings, 1);
	ck_assert_ptr_nonnull(strstr(cf->diags[0].text, "cycle"));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_parent_chain_ok)
{
	struct conf_file *cf = parse_text("arch: amd64\nparent: b1\n\n[a1]\nsnaptime: 1\n\n"
	                                  "[b1]\nparent: a1\n");

	ck_assert_uint_eq(cf->n_diags, 0);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_unused_mounted_warning)
{
	struct conf_file *cf = parse_text("rootfs: local:100/vm-100-disk-0.raw,size=1G\n"
	                                  "unused0: local:100/vm-100-disk-0.raw\n"
	                                  "unused1: local:100/vm-100-disk-1.raw\n");

	ck_assert_uint_eq(cf->n_warnings, 1);
	ck_assert_uint_eq(cf->diags[0].line, 2);
	ck_assert_ptr_nonnull(strstr(cf->diags[0].text, "'unused0'"));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_snapstate_in_pending)
{
	struct conf_file *cf = parse_text("arch: amd64\n[pve:pending]\nsnapstate: prepare\n");

	ck_assert_uint_eq(cf->n_warnings, 1);
	ck_assert_uint_eq(conf_pending(cf)->n_verbatim, 1);
	ck_assert_ptr_null(conf_get(conf_pending(cf), "snapstate"));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_nul_bytes_one_per_line)
{
	static const char text[] = "arch: amd64\0\0\0\nmemory: 5\0\0\n";
	struct conf_file *cf = NULL;

	ck_assert_int_eq(conf_parse(text, sizeof(text) - 1, NULL, &cf), 0);
	ck_assert_uint_eq(cf->n_errors, 2);
	ck_assert_uint_eq(cf->diags[0].line, 1);
	ck_assert_uint_eq(cf->diags[1].line, 2);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_parse_max_size_headers)
{
	/* 1 MiB of snapshot headers: a name set keeps this linear. */
	char *buf = malloc(CONF_MAX_FILE_SIZE + 1);
	struct conf_file *cf = NULL;
	size_t at = 0;
	unsigned i = 0;

	ck_assert_ptr_nonnull(buf);
	while (CONF_MAX_FILE_SIZE - at > 16)
		at += (size_t)sprintf(buf + at, "[s%u]\n", i++);
	at += (size_t)sprintf(buf + at, "[s0]\n");
	ck_assert_int_eq(conf_parse(buf, at, NULL, &cf), 0);
	ck_assert_uint_eq(cf->n_sections, i + 1);
	ck_assert_uint_eq(cf->n_errors, 1);
	ck_assert_ptr_nonnull(conf_snapshot(cf, "s0"));
	ck_assert_uint_eq(conf_snapshot(cf, "s0")->n_verbatim, 1);
	conf_file_free(cf);
	free(buf);
}
END_TEST

START_TEST(test_conf_desc_decode_nul_kept)
{
	char *out = conf_desc_decode("a%00b%0", 7);

	ck_assert_str_eq(out, "a%00b%0");
	free(out);
}
END_TEST

START_TEST(test_conf_parse_max_size_keys)
{
	/* 1 MiB of lines that become keys, verbatim lines and diagnostics. */
	char *buf = malloc(CONF_MAX_FILE_SIZE + 1);
	struct conf_file *cf = NULL;
	size_t at = 0;
	unsigned i = 0;

	ck_assert_ptr_nonnull(buf);
	while (CONF_MAX_FILE_SIZE - at > 64) {
		at += (size_t)sprintf(buf + at, i % 2 == 0 ? "mp%u: /srv/%u,mp=/mnt/%u\n" : "bad %u %u %u\n",
		                      i, i, i);
		i++;
	}
	memset(buf + at, '#', CONF_MAX_FILE_SIZE - at);
	ck_assert_int_eq(conf_parse(buf, CONF_MAX_FILE_SIZE, NULL, &cf), 0);
	ck_assert_uint_eq(conf_main(cf)->n_verbatim, i / 2);
	ck_assert_uint_ge(cf->n_errors, i / 2);
	conf_file_free(cf);
	free(buf);
}
END_TEST

/* ---- conf_read_file ---- */

START_TEST(test_conf_read_file_ok)
{
	char path[PATH_MAX], errmsg[CONF_ERRMSG_SIZE] = "";
	struct conf_file *cf = NULL;

	snprintf(path, sizeof(path), "%s/100.conf", tmpdir);
	write_file(path, "memory: 512\nswap: 0", 19);
	ck_assert_int_eq(conf_read_file(path, &cf, errmsg), 0);
	ck_assert_str_eq(cf->path, path);
	ck_assert_str_eq(conf_get(conf_main(cf), "swap"), "0");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_read_file_missing)
{
	char path[PATH_MAX], errmsg[CONF_ERRMSG_SIZE] = "";
	struct conf_file *cf = NULL;

	snprintf(path, sizeof(path), "%s/404.conf", tmpdir);
	ck_assert_int_eq(conf_read_file(path, &cf, errmsg), -ENOENT);
	ck_assert_ptr_null(cf);
	ck_assert_ptr_nonnull(strstr(errmsg, path));
}
END_TEST

START_TEST(test_conf_read_file_directory)
{
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct conf_file *cf = NULL;

	ck_assert_int_eq(conf_read_file(tmpdir, &cf, errmsg), -EISDIR);
	ck_assert_ptr_null(cf);
	ck_assert_ptr_nonnull(strstr(errmsg, tmpdir));
}
END_TEST

START_TEST(test_conf_read_file_fifo)
{
	char path[PATH_MAX], errmsg[CONF_ERRMSG_SIZE] = "";
	struct conf_file *cf = NULL;

	snprintf(path, sizeof(path), "%s/fifo.conf", tmpdir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	/* No writer: the reader must not wait for one. */
	ck_assert_int_eq(conf_read_file(path, &cf, errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, path));
}
END_TEST

START_TEST(test_conf_read_file_too_big)
{
	char path[PATH_MAX], errmsg[CONF_ERRMSG_SIZE] = "";
	struct conf_file *cf = NULL;
	char *buf = malloc(CONF_MAX_FILE_SIZE + 2);

	ck_assert_ptr_nonnull(buf);
	fill_description_lines(buf, CONF_MAX_FILE_SIZE + 1);
	snprintf(path, sizeof(path), "%s/big.conf", tmpdir);
	write_file(path, buf, CONF_MAX_FILE_SIZE + 1);
	ck_assert_int_eq(conf_read_file(path, &cf, errmsg), -EFBIG);
	ck_assert_ptr_null(cf);
	ck_assert_ptr_nonnull(strstr(errmsg, path));

	write_file(path, buf, CONF_MAX_FILE_SIZE);
	errmsg[0] = '\0';
	ck_assert_int_eq(conf_read_file(path, &cf, errmsg), 0);
	ck_assert_ptr_nonnull(cf);
	conf_file_free(cf);
	free(buf);
}
END_TEST

/* ---- conf_write ---- */

START_TEST(test_conf_write_key_order)
{
	char *out = canonical("net2: name=eth2\nmp2: /b,mp=/b\nmp10: /a,mp=/a\nnet10: name=eth10\n"
	                      "arch: amd64\nmp0: /c,mp=/c\n");

	ck_assert_str_eq(out, "arch: amd64\nmp0: /c,mp=/c\nmp10: /a,mp=/a\nmp2: /b,mp=/b\n"
	                      "net10: name=eth10\nnet2: name=eth2\n");
	free(out);
}
END_TEST

START_TEST(test_conf_write_raw_order)
{
	char *out = canonical("lxc.mount.entry = /a a none bind 0 0\n"
	                      "lxc.environment.runtime: B=2\n"
	                      "memory: 512\n"
	                      "lxc.idmap = u 0 100000 65536\n"
	                      "lxc.environment.runtime = A=1\n"
	                      "lxc.mount.entry: /b b none bind 0 0\n");

	ck_assert_str_eq(out, "memory: 512\n"
	                      "lxc.environment.runtime: B=2\n"
	                      "lxc.environment.runtime: A=1\n"
	                      "lxc.mount.entry: /a a none bind 0 0\n"
	                      "lxc.idmap: u 0 100000 65536\n"
	                      "lxc.mount.entry: /b b none bind 0 0\n");
	free(out);
}
END_TEST

START_TEST(test_conf_write_verbatim_places)
{
	char *out = canonical("junk one\n"
	                      "#note\n"
	                      "swap: 0\n"
	                      "memory: 512\n"
	                      "lxc.rootfs.path: /x\n"
	                      "lxc.idmap: u 0 1 2\n"
	                      "memory: 1024\n"
	                      "  #indented\n");

	ck_assert_str_eq(out, "#note\n"
	                      "memory: 512\n"
	                      "memory: 1024\n"
	                      "swap: 0\n"
	                      "lxc.idmap: u 0 1 2\n"
	                      "junk one\n"
	                      "lxc.rootfs.path: /x\n"
	                      "  #indented\n");
	free(out);
}
END_TEST

START_TEST(test_conf_write_section_order)
{
	char *out = canonical("[zeta]\nmemory: 3\n[alpha]\nmemory: 2\n[pve:pending]\nmemory: 4\n"
	                      "[main_is_first]\n#text\n");

	ck_assert_str_eq(out, "\n[pve:pending]\nmemory: 4\n"
	                      "\n[alpha]\nmemory: 2\n"
	                      "\n[main_is_first]\n#text\n"
	                      "\n[zeta]\nmemory: 3\n");
	free(out);
}
END_TEST

START_TEST(test_conf_write_description_escaped)
{
	struct conf_file *cf = conf_file_new();
	char *out;

	ck_assert_ptr_nonnull(cf);
	ck_assert_int_eq(conf_set_description(conf_main(cf), "50% off: now\n\ttab \xc3\xa9\x7f\n\nend"), 0);
	ck_assert_int_eq(conf_set(conf_main(cf), "memory", "512"), 0);
	out = write_text(cf);
	ck_assert_str_eq(out, "#50%25 off%3A now\n#%09tab %C3%A9%7F\n#\n#end\nmemory: 512\n");
	free(out);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_write_unused_mounted)
{
	char *out = canonical("rootfs: local-lvm:vm-100-disk-0,size=8G\n"
	                      "mp0: local-lvm:vm-100-disk-1,mp=/data\n"
	                      "unused0: local-lvm:vm-100-disk-0\n"
	                      "unused1: volume=local-lvm:vm-100-disk-1\n"
	                      "unused2: local-lvm:vm-100-disk-2\n"
	                      "[s1]\n"
	                      "rootfs: local-lvm:vm-100-disk-0,size=8G\n"
	                      "unused0: local-lvm:vm-100-disk-0\n");

	ck_assert(!has_line(out, "unused0: local-lvm:vm-100-disk-0") ||
	          strstr(out, "unused0") > strstr(out, "[s1]"));
	ck_assert_ptr_null(strstr(out, "unused1"));
	ck_assert(has_line(out, "unused2: local-lvm:vm-100-disk-2"));
	/* Only the main section drops them. */
	ck_assert_ptr_nonnull(strstr(strstr(out, "[s1]"), "unused0: local-lvm:vm-100-disk-0\n"));
	free(out);
}
END_TEST

START_TEST(test_conf_write_newline_in_value)
{
	struct conf_file *cf = conf_file_new();
	char errmsg[CONF_ERRMSG_SIZE] = "";
	char *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(conf_set(conf_main(cf), "hostname", "a\nb"), 0);
	ck_assert_int_eq(conf_write(cf, &out, &len, errmsg), -EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(errmsg, "hostname"));

	ck_assert_int_eq(conf_delete(conf_main(cf), "hostname"), 0);
	ck_assert_int_eq(conf_raw_add(conf_main(cf), "lxc.mount.entry", "x\ny"), 0);
	errmsg[0] = '\0';
	ck_assert_int_eq(conf_write(cf, &out, &len, errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "lxc.mount.entry"));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_write_empty)
{
	struct conf_file *cf = conf_file_new();
	char errmsg[CONF_ERRMSG_SIZE] = "";
	char *out = NULL;
	size_t len = 99;

	ck_assert_int_eq(conf_write(cf, &out, &len, errmsg), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(len, 0);
	free(out);
	ck_assert_int_eq(conf_write(cf, &out, NULL, errmsg), 0);
	free(out);
	conf_file_free(cf);
}
END_TEST

/* Texts whose round trip must be stable: the hard cases of the format. */
static const char *const round_trip_cases[] = {
	"",
	"\n\n\n",
	"memory: 512",
	"memory: 512\r\nswap: 0\r\n",
	"swap:\nmemory: 512\n",
	"  #indented\n\t\n#real\n",
	"Hostname: x\nMEMORY: 1\n",
	"mp2: /b,mp=/b\nmp10: /a,mp=/a\nmp1: /c,mp=/c\n",
	"#50%25 off%3A now\n#100% legacy percent\n#%zz and %4\n#%\n",
	"#lower %c3%a9 hex\n",
	"description: legacy%3A text\n",
	"[s1]\nparent: missing\n",
	"memory: 1\nmemory: 2\nswap: 0\nmemory: 3\njunk\n",
	"[pve:pending]\ndelete: swap,memory\n[s2]\n[s1]\n#c\n",
	"delete: swap\nsnapstate: prepare\n",
	"lxc.cap.drop:\nlxc.cap.drop =   \nlxc.environment.runtime=X=1\n",
	"lxc.rootfs.path = /x\nlxc.cgroup.devices.allow = a\n",
	"#a\n[s1]\n#b\n[s1]\n#c\n",
	"vmstate: x\ncores: two\n",
	"rootfs: local:1,size=1G\nunused0: local:1\nunused0: local:2\n",
	"rootfs: local:1\nunused0: local:2\nunused0: local:1\n",
	"[PVE:PENDING]\nmemory: 1\n",
	"\xff\xfe junk\n#\xff\n",
	"#%0A%0D\n",
};

START_TEST(test_conf_write_round_trip)
{
	check_round_trip_str(round_trip_cases[_i]);
}
END_TEST

/* ---- conf_write_file ---- */

START_TEST(test_conf_write_file_atomic)
{
	char path[PATH_MAX], errmsg[CONF_ERRMSG_SIZE] = "";
	struct conf_file *cf = parse_text("memory: 512\n[s1]\nmemory: 256\n");
	char *expected = write_text(cf), *got;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/100.conf", tmpdir);
	write_file(path, "old contents\n", 13);
	ck_assert_int_eq(conf_write_file(cf, path, errmsg), 0);
	got = read_whole_file(path, &len);
	ck_assert_str_eq(got, expected);
	/* No temporary file is left next to it. */
	ck_assert_uint_eq(tmpdir_count(), 1);
	free(got);

	/* A second write replaces the file again. */
	ck_assert_int_eq(conf_set(conf_main(cf), "memory", "1024"), 0);
	ck_assert_int_eq(conf_write_file(cf, path, errmsg), 0);
	got = read_whole_file(path, &len);
	ck_assert_ptr_nonnull(strstr(got, "memory: 1024\n"));
	ck_assert_uint_eq(tmpdir_count(), 1);
	free(got);
	free(expected);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_write_file_error_keeps_file)
{
	char path[PATH_MAX], errmsg[CONF_ERRMSG_SIZE] = "";
	struct conf_file *cf = conf_file_new();
	size_t len = 0;
	char *got;

	snprintf(path, sizeof(path), "%s/100.conf", tmpdir);
	write_file(path, "memory: 512\n", 12);
	ck_assert_int_eq(conf_set(conf_main(cf), "hostname", "two\nlines"), 0);
	ck_assert_int_eq(conf_write_file(cf, path, errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "hostname"));
	got = read_whole_file(path, &len);
	ck_assert_str_eq(got, "memory: 512\n");
	ck_assert_uint_eq(tmpdir_count(), 1);
	free(got);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_write_file_missing_folder)
{
	char path[PATH_MAX], errmsg[CONF_ERRMSG_SIZE] = "";
	struct conf_file *cf = conf_file_new();

	snprintf(path, sizeof(path), "%s/no/such/100.conf", tmpdir);
	ck_assert_int_eq(conf_write_file(cf, path, errmsg), -ENOENT);
	ck_assert_str_ne(errmsg, "");
	conf_file_free(cf);
}
END_TEST

/* ---- description codec ---- */

START_TEST(test_conf_desc_encode_byte_classes)
{
	char all[256];
	char *out;

	for (int c = 0; c < 256; c++)
		all[c] = (char)c;
	out = conf_desc_encode(all, sizeof(all));
	ck_assert_ptr_nonnull(out);

	/* Each byte, in order, is either itself or %XX with uppercase hex. */
	const char *p = out;
	for (int c = 0; c < 256; c++) {
		bool escaped = c < 0x20 || c > 0x7e || c == '%' || c == ':';
		char expected[4];

		if (escaped) {
			snprintf(expected, sizeof(expected), "%%%02X", c);
			ck_assert_msg(strncmp(p, expected, 3) == 0, "byte 0x%02x: got '%.3s', expected '%s'",
			              c, p, expected);
			p += 3;
		} else {
			ck_assert_int_eq((unsigned char)*p, c);
			p++;
		}
	}
	ck_assert_int_eq(*p, '\0');
	free(out);
}
END_TEST

START_TEST(test_conf_desc_encode_examples)
{
	char *out = conf_desc_encode("a:b 100% \xc3\xa9\t~", 13);

	ck_assert_str_eq(out, "a%3Ab 100%25 %C3%A9%09~");
	free(out);
	out = conf_desc_encode("", 0);
	ck_assert_str_eq(out, "");
	free(out);
	/* LEN bytes only, even without a NUL. */
	out = conf_desc_encode("abc:def", 4);
	ck_assert_str_eq(out, "abc%3A");
	free(out);
}
END_TEST

START_TEST(test_conf_desc_decode_hex)
{
	char *out = conf_desc_decode("%3a%3A%c3%A9%25%7e", 18);

	ck_assert_str_eq(out, "::\xc3\xa9%~");
	free(out);
}
END_TEST

START_TEST(test_conf_desc_decode_literal_percent)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "100%", "100%" },
		{ "100% done", "100% done" },
		{ "%zz", "%zz" },
		{ "%4", "%4" },
		{ "%4g", "%4g" },
		{ "%g4", "%g4" },
		{ "%%41", "%A" },
		{ "50%25%", "50%%" },
		{ "%", "%" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = conf_desc_decode(cases[i].in, strlen(cases[i].in));

		ck_assert_str_eq(out, cases[i].out);
		free(out);
	}
}
END_TEST

START_TEST(test_conf_desc_decode_length)
{
	/* Only LEN bytes are read: a %XX cut by LEN stays as it is. */
	char *out = conf_desc_decode("ab%41", 4);

	ck_assert_str_eq(out, "ab%4");
	free(out);
}
END_TEST

START_TEST(test_conf_desc_round_trip_every_byte)
{
	for (int c = 1; c < 256; c++) {
		char in[4] = { 'x', (char)c, 'y', '\0' };
		char *enc = conf_desc_encode(in, 3), *dec;

		ck_assert_ptr_nonnull(enc);
		ck_assert_ptr_null(strchr(enc, ':'));
		dec = conf_desc_decode(enc, strlen(enc));
		ck_assert_mem_eq(dec, in, 4);
		free(enc);
		free(dec);
	}
}
END_TEST

/* ---- conf_key_cmp ---- */

START_TEST(test_conf_key_cmp_bytewise)
{
	ck_assert_int_lt(conf_key_cmp("mp10", "mp2"), 0);
	ck_assert_int_lt(conf_key_cmp("net10", "net2"), 0);
	ck_assert_int_gt(conf_key_cmp("unused2", "unused10"), 0);
	ck_assert_int_lt(conf_key_cmp("arch", "cores"), 0);
	ck_assert_int_lt(conf_key_cmp("mp", "mp0"), 0);
	ck_assert_int_eq(conf_key_cmp("memory", "memory"), 0);
	ck_assert_int_lt(conf_key_cmp("Z", "a"), 0);
	ck_assert_int_gt(conf_key_cmp("\xc3", "z"), 0);
}
END_TEST

/* ---- model: files and sections ---- */

START_TEST(test_conf_file_new_main_only)
{
	struct conf_file *cf = conf_file_new();

	ck_assert_ptr_nonnull(cf);
	ck_assert_uint_eq(cf->n_sections, 1);
	ck_assert_ptr_eq(conf_main(cf), &cf->sections[0]);
	ck_assert_ptr_null(conf_pending(cf));
	ck_assert_ptr_null(conf_snapshot(cf, "any"));
	ck_assert_uint_eq(cf->n_diags, 0);
	ck_assert_ptr_null(cf->path);
	conf_file_free(cf);
	conf_file_free(NULL);
}
END_TEST

START_TEST(test_conf_section_add_kinds)
{
	struct conf_file *cf = conf_file_new();
	struct conf_section *s;

	ck_assert_ptr_eq(conf_section_add(cf, CONF_SECTION_MAIN, NULL), conf_main(cf));
	s = conf_section_add(cf, CONF_SECTION_SNAPSHOT, "s1");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->name, "s1");
	ck_assert_int_eq(s->kind, CONF_SECTION_SNAPSHOT);
	ck_assert_uint_eq(s->line, 0);
	ck_assert_ptr_eq(conf_section_add(cf, CONF_SECTION_SNAPSHOT, "s1"), conf_snapshot(cf, "s1"));
	ck_assert_ptr_nonnull(conf_section_add(cf, CONF_SECTION_SNAPSHOT, "s2"));
	ck_assert_uint_eq(cf->n_sections, 3);

	/* The pending section goes right after main, and its name is fixed. */
	s = conf_section_add(cf, CONF_SECTION_PENDING, "ignored");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->name, CONF_PENDING_NAME);
	ck_assert_uint_eq(cf->n_sections, 4);
	ck_assert_int_eq(cf->sections[1].kind, CONF_SECTION_PENDING);
	ck_assert_str_eq(cf->sections[2].name, "s1");
	ck_assert_str_eq(cf->sections[3].name, "s2");
	ck_assert_ptr_eq(conf_section_add(cf, CONF_SECTION_PENDING, NULL), conf_pending(cf));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_section_remove_snapshot)
{
	struct conf_file *cf = parse_text("memory: 1\n[s1]\nmemory: 2\n[s2]\nmemory: 3\n[pve:pending]\n");

	conf_section_remove(cf, conf_snapshot(cf, "s1"));
	ck_assert_uint_eq(cf->n_sections, 3);
	ck_assert_ptr_null(conf_snapshot(cf, "s1"));
	ck_assert_str_eq(conf_get(conf_snapshot(cf, "s2"), "memory"), "3");
	conf_section_remove(cf, conf_pending(cf));
	ck_assert_ptr_null(conf_pending(cf));
	ck_assert_uint_eq(cf->n_sections, 2);
	/* The main section cannot be removed. */
	conf_section_remove(cf, conf_main(cf));
	ck_assert_uint_eq(cf->n_sections, 2);
	ck_assert_str_eq(conf_get(conf_main(cf), "memory"), "1");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_section_copy_contents_deep)
{
	struct conf_file *cf = parse_text("#text\nmemory: 1\nmemory: 2\nlxc.idmap: u 0 1 2\njunk\n[s1]\n");
	struct conf_section *dst = conf_snapshot(cf, "s1");
	char *a, *b;

	ck_assert_int_eq(conf_section_copy_contents(dst, conf_main(cf)), 0);
	dst = conf_snapshot(cf, "s1");
	ck_assert_str_eq(dst->description, "text\n");
	ck_assert_ptr_ne(dst->description, conf_main(cf)->description);
	ck_assert_str_eq(conf_get(dst, "memory"), "2");
	ck_assert_uint_eq(dst->n_raw, 1);
	ck_assert_uint_eq(dst->n_verbatim, 2);
	ck_assert(dst->verbatim[0].shadowed);
	ck_assert_uint_eq(dst->keys[0].line, conf_main(cf)->keys[0].line);
	ck_assert_str_eq(dst->name, "s1");

	/* The copy writes like the original. */
	a = write_text(cf);
	b = strstr(a, "[s1]\n");
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(strlen(b + 5), (size_t)(strstr(a, "\n[s1]") - a));
	ck_assert_int_eq(strncmp(a, b + 5, strlen(b + 5)), 0);
	free(a);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_section_clear_keeps_name)
{
	struct conf_file *cf = parse_text("[s1]\n#t\nmemory: 1\nlxc.idmap: u 0 1 2\njunk\n");
	struct conf_section *s = conf_snapshot(cf, "s1");

	conf_section_clear(s);
	ck_assert_str_eq(s->name, "s1");
	ck_assert_int_eq(s->kind, CONF_SECTION_SNAPSHOT);
	ck_assert_ptr_null(s->description);
	ck_assert_uint_eq(s->n_keys, 0);
	ck_assert_uint_eq(s->n_raw, 0);
	ck_assert_uint_eq(s->n_verbatim, 0);
	conf_section_clear(s);
	conf_file_free(cf);
}
END_TEST

/* ---- keys ---- */

START_TEST(test_conf_get_parsed_keys_only)
{
	struct conf_file *cf = parse_text("memory: 512\nlxc.idmap: u 0 1 2\nswap:\n");

	ck_assert_str_eq(conf_get(conf_main(cf), "memory"), "512");
	ck_assert_ptr_null(conf_get(conf_main(cf), "lxc.idmap"));
	ck_assert_ptr_null(conf_get(conf_main(cf), "swap"));
	ck_assert_ptr_null(conf_get(conf_main(cf), "mem"));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_set_replace_and_append)
{
	struct conf_file *cf = parse_text("memory: 512\nswap: 0\n");
	struct conf_section *s = conf_main(cf);
	char *out;

	ck_assert_int_eq(conf_set(s, "memory", "2048"), 0);
	ck_assert_uint_eq(s->n_keys, 2);
	ck_assert_str_eq(s->keys[0].value, "2048");
	ck_assert_uint_eq(s->keys[0].line, 1);
	ck_assert_int_eq(conf_set(s, "cores", "4"), 0);
	ck_assert_uint_eq(s->n_keys, 3);
	ck_assert_str_eq(s->keys[2].key, "cores");
	ck_assert_uint_eq(s->keys[2].line, 0);
	out = write_text(cf);
	ck_assert_str_eq(out, "cores: 4\nmemory: 2048\nswap: 0\n");
	free(out);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_delete_key)
{
	struct conf_file *cf = parse_text("memory: 512\nswap: 0\ncores: 1\n");
	struct conf_section *s = conf_main(cf);

	ck_assert_int_eq(conf_delete(s, "swap"), 0);
	ck_assert_uint_eq(s->n_keys, 2);
	ck_assert_ptr_null(conf_get(s, "swap"));
	ck_assert_str_eq(s->keys[1].key, "cores");
	ck_assert_int_eq(conf_delete(s, "swap"), -ENOENT);
	ck_assert_int_eq(conf_delete(s, "cores"), 0);
	ck_assert_int_eq(conf_delete(s, "memory"), 0);
	ck_assert_uint_eq(s->n_keys, 0);
	ck_assert_int_eq(conf_delete(s, "memory"), -ENOENT);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_raw_add_appends)
{
	struct conf_file *cf = parse_text("lxc.idmap: u 0 1 2\n");
	struct conf_section *s = conf_main(cf);
	char *out;

	ck_assert_int_eq(conf_raw_add(s, "lxc.idmap", "g 0 1 2"), 0);
	ck_assert_int_eq(conf_raw_add(s, "lxc.environment.runtime", "A=1"), 0);
	ck_assert_uint_eq(s->n_raw, 3);
	ck_assert_uint_eq(s->raw[1].line, 0);
	out = write_text(cf);
	ck_assert_str_eq(out, "lxc.environment.runtime: A=1\nlxc.idmap: u 0 1 2\nlxc.idmap: g 0 1 2\n");
	free(out);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_set_description_replace_clear)
{
	struct conf_file *cf = parse_text("#old\nmemory: 1\n");
	struct conf_section *s = conf_main(cf);
	char *out;

	ck_assert_int_eq(conf_set_description(s, "new\n"), 0);
	ck_assert_str_eq(s->description, "new\n");
	out = write_text(cf);
	ck_assert_str_eq(out, "#new\nmemory: 1\n");
	free(out);
	ck_assert_int_eq(conf_set_description(s, NULL), 0);
	ck_assert_ptr_null(s->description);
	out = write_text(cf);
	ck_assert_str_eq(out, "memory: 1\n");
	free(out);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_conf_diag_add_counts)
{
	struct conf_file *cf = conf_file_new();

	ck_assert_int_eq(conf_diag_add(cf, 7, CONF_ERROR, "value '%s' is invalid", "x"), 0);
	ck_assert_int_eq(conf_diag_add(cf, 3, CONF_WARNING, "%d is out of range", 9), 0);
	ck_assert_uint_eq(cf->n_diags, 2);
	ck_assert_uint_eq(cf->n_errors, 1);
	ck_assert_uint_eq(cf->n_warnings, 1);
	ck_assert_uint_eq(cf->diags[0].line, 7);
	ck_assert_str_eq(cf->diags[0].text, "value 'x' is invalid");
	ck_assert_str_eq(cf->diags[1].text, "9 is out of range");
	ck_assert_int_eq(cf->diags[1].severity, CONF_WARNING);
	conf_file_free(cf);
}
END_TEST

/* ---- sample configs ---- */

/* Sample configs with problems on purpose; every other one has none. */
static const struct {
	const char *name;
	unsigned errors;
	unsigned warnings;
} corpus_expected[] = {
	{ "114-old-cgroup-v1.conf", 0, 1 },
	/* duplicate memory, ostype redhat, tty 9, lxc.cgroup.*, lxc.aa_profile */
	{ "132-warnings-only.conf", 0, 5 },
	/* Hostname, indented #, swap:, a line with no colon, lxc.rootfs.path */
	{ "133-broken-hand-edits.conf", 5, 0 },
	/* cores two, memory 1024M, onboot maybe, unknown vmstate */
	{ "134-broken-values.conf", 4, 0 },
	/* delete outside [pve:pending] (error), snapstate in main (warning) */
	{ "135-delete-outside-pending.conf", 1, 1 },
	/* the main section's parent names a snapshot that was removed */
	{ "125-snapshot-missing-parent.conf", 0, 1 },
};

#define CORPUS_MAX 256
static char *corpus_files[CORPUS_MAX];
static int corpus_count;

static const char *data_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("TEST_DATA_DIR");
	const char *slash;

	if (env != NULL && *env != '\0')
		return env;
	/* This file is tests/check_conf.c: the data are in tests/data. */
	slash = strrchr(__FILE__, '/');
	snprintf(dir, sizeof(dir), "%.*sdata", slash != NULL ? (int)(slash - __FILE__ + 1) : 0,
	         __FILE__);
	return dir;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List the *.conf files of the corpus, sorted. */
static void corpus_load(void)
{
	char path[PATH_MAX + 16];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/configs", data_dir());
	d = opendir(path);
	if (d == NULL) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL && corpus_count < CORPUS_MAX) {
		size_t n = strlen(de->d_name);

		if (n > 5 && strcmp(de->d_name + n - 5, ".conf") == 0)
			corpus_files[corpus_count++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(corpus_files, (size_t)corpus_count, sizeof(corpus_files[0]), cmp_names);
}

static void corpus_free(void)
{
	for (int i = 0; i < corpus_count; i++)
		free(corpus_files[i]);
	corpus_count = 0;
}

static char *corpus_read(int i, size_t *len)
{
	char path[2 * PATH_MAX];

	snprintf(path, sizeof(path), "%s/configs/%s", data_dir(), corpus_files[i]);
	return read_whole_file(path, len);
}

/* Mark in COVERED the input lines whose content is a whole line of OUT. */
static void mark_section_lines(const struct conf_section *s, const char *out, bool *covered,
                               size_t n_lines)
{
	char line[4096];

	if (s->line > 0 && s->line <= n_lines) {
		snprintf(line, sizeof(line), "[%s]", s->name);
		covered[s->line - 1] = has_line(out, line);
	}
	for (size_t i = 0; i < s->n_keys; i++) {
		const struct conf_entry *e = &s->keys[i];

		snprintf(line, sizeof(line), "%s: %s", e->key, e->value);
		if (e->line > 0 && e->line <= n_lines)
			covered[e->line - 1] = has_line(out, line) || conf_oracle_writer_drops(s, e);
	}
	for (size_t i = 0; i < s->n_raw; i++) {
		snprintf(line, sizeof(line), "%s: %s", s->raw[i].key, s->raw[i].value);
		if (s->raw[i].line > 0 && s->raw[i].line <= n_lines)
			covered[s->raw[i].line - 1] = has_line(out, line);
	}
	for (size_t i = 0; i < s->n_verbatim; i++) {
		if (s->verbatim[i].line > 0 && s->verbatim[i].line <= n_lines)
			covered[s->verbatim[i].line - 1] = has_line(out, s->verbatim[i].text);
	}
}

/*
 * Check that every non-blank line of TEXT survives in OUT: each header,
 * key, raw entry and kept line as a line of OUT, each description line
 * in its canonical encoding.
 */
static void check_lines_survive(const char *name, const char *text, const struct conf_file *cf,
                                const char *out)
{
	char *copy = strdup(text), *save = NULL;
	size_t n_lines = 1;
	bool *covered;
	size_t i = 0;

	for (const char *p = text; *p != '\0'; p++)
		n_lines += *p == '\n';
	covered = calloc(n_lines, sizeof(*covered));
	ck_assert_ptr_nonnull(covered);
	for (size_t k = 0; k < cf->n_sections; k++)
		mark_section_lines(&cf->sections[k], out, covered, n_lines);

	/* Split by hand: strtok would skip empty lines and shift the numbers. */
	for (char *line = copy; line != NULL; line = save, i++) {
		char *nl = strchr(line, '\n');
		size_t len;

		save = nl != NULL ? nl + 1 : NULL;
		if (nl != NULL)
			*nl = '\0';
		len = strlen(line);
		while (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (strspn(line, " \t") == len)
			continue;
		if (line[0] == '#') {
			char *decoded = conf_desc_decode(line + 1, len - 1);
			char *encoded = conf_desc_encode(decoded, strlen(decoded));
			char *want = malloc(strlen(encoded) + 2);

			sprintf(want, "#%s", encoded);
			covered[i] = has_line(out, want);
			free(want);
			free(encoded);
			free(decoded);
		}
		ck_assert_msg(covered[i], "%s:%zu: '%s' is not in the written text", name, i + 1, line);
	}
	free(covered);
	free(copy);
}

START_TEST(test_corpus_count)
{
	ck_assert_int_ge(corpus_count, 30);
}
END_TEST

START_TEST(test_corpus_file)
{
	unsigned want_errors = 0, want_warnings = 0;
	struct conf_file *cf = NULL;
	char errmsg[CONF_ERRMSG_SIZE] = "";
	const char *name;
	char *text, *out = NULL;
	size_t len = 0, out_len = 0;

	if (_i >= corpus_count)
		return;
	name = corpus_files[_i];
	for (size_t k = 0; k < sizeof(corpus_expected) / sizeof(corpus_expected[0]); k++) {
		if (strcmp(corpus_expected[k].name, name) == 0) {
			want_errors = corpus_expected[k].errors;
			want_warnings = corpus_expected[k].warnings;
		}
	}

	text = corpus_read(_i, &len);
	ck_assert_int_eq(conf_parse(text, len, name, &cf), 0);
	for (size_t k = 0; k < cf->n_diags; k++) {
		if (cf->n_errors != want_errors || cf->n_warnings != want_warnings)
			fprintf(stderr, "%s:%u: %s: %s\n", name, cf->diags[k].line,
			        cf->diags[k].severity == CONF_ERROR ? "error" : "warning",
			        cf->diags[k].text);
	}
	ck_assert_msg(cf->n_errors == want_errors, "%s: %u errors, expected %u", name,
	              cf->n_errors, want_errors);
	ck_assert_msg(cf->n_warnings == want_warnings, "%s: %u warnings, expected %u", name,
	              cf->n_warnings, want_warnings);

	check_round_trip(text, len, name);
	ck_assert_int_eq(conf_write(cf, &out, &out_len, errmsg), 0);
	check_lines_survive(name, text, cf, out);

	free(out);
	free(text);
	conf_file_free(cf);
}
END_TEST

/* ---- suite ---- */

static TCase *tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc;

	tc = tcase(s, "conf_parse");
	tcase_add_test(tc, test_conf_parse_empty);
	tcase_add_test(tc, test_conf_parse_no_verbatim_lines);
	tcase_add_test(tc, test_conf_parse_keys_in_file_order);
	tcase_add_test(tc, test_conf_parse_path_null);
	tcase_add_test(tc, test_conf_parse_length_not_terminated);
	tcase_add_test(tc, test_conf_parse_crlf);
	tcase_add_test(tc, test_conf_parse_crlf_verbatim_line);
	tcase_add_test(tc, test_conf_parse_missing_final_newline);
	tcase_add_test(tc, test_conf_parse_key_without_value);
	tcase_add_test(tc, test_conf_parse_indented_comment);
	tcase_add_test(tc, test_conf_parse_uppercase_key);
	tcase_add_test(tc, test_conf_parse_unknown_key_kept);
	tcase_add_test(tc, test_conf_parse_bad_type_kept);
	tcase_add_test(tc, test_conf_parse_enum_range_warning);
	tcase_add_test(tc, test_conf_parse_bool_normalized);
	tcase_add_test(tc, test_conf_parse_duplicate_key);
	tcase_add_test(tc, test_conf_parse_duplicate_key_three_times);
	tcase_add_test(tc, test_conf_parse_duplicate_key_checks_each_value);
	tcase_add_test(tc, test_conf_parse_raw_both_forms);
	tcase_add_test(tc, test_conf_parse_raw_env);
	tcase_add_test(tc, test_conf_parse_raw_rejected);
	tcase_add_test(tc, test_conf_parse_raw_deprecated);
	tcase_add_test(tc, test_conf_parse_sections);
	tcase_add_test(tc, test_conf_parse_pending_after_snapshot);
	tcase_add_test(tc, test_conf_parse_header_forms);
	tcase_add_test(tc, test_conf_parse_duplicate_header);
	tcase_add_test(tc, test_conf_parse_description);
	tcase_add_test(tc, test_conf_parse_description_utf8);
	tcase_add_test(tc, test_conf_parse_comment_before_header);
	tcase_add_test(tc, test_conf_parse_legacy_description);
	tcase_add_test(tc, test_conf_parse_delete_outside_pending);
	tcase_add_test(tc, test_conf_parse_snapstate);
	tcase_add_test(tc, test_conf_parse_snapshot_missing_parent);
	tcase_add_test(tc, test_conf_parse_nul_bytes);
	tcase_add_test(tc, test_conf_parse_diagnostics_sorted);
	tcase_add_test(tc, test_conf_parse_max_size);
	tcase_add_test(tc, test_conf_parse_max_size_keys);
	tcase_add_test(tc, test_conf_parse_max_size_headers);
	tcase_add_test(tc, test_conf_parse_parent_missing);
	tcase_add_test(tc, test_conf_parse_parent_cycle);
	tcase_add_test(tc, test_conf_parse_parent_chain_ok);
	tcase_add_test(tc, test_conf_parse_unused_mounted_warning);
	tcase_add_test(tc, test_conf_parse_snapstate_in_pending);
	tcase_add_test(tc, test_conf_parse_nul_bytes_one_per_line);

	tc = tcase(s, "conf_read_file");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_conf_read_file_ok);
	tcase_add_test(tc, test_conf_read_file_missing);
	tcase_add_test(tc, test_conf_read_file_directory);
	tcase_add_test(tc, test_conf_read_file_fifo);
	tcase_add_test(tc, test_conf_read_file_too_big);

	tc = tcase(s, "conf_write");
	tcase_add_test(tc, test_conf_write_key_order);
	tcase_add_test(tc, test_conf_write_raw_order);
	tcase_add_test(tc, test_conf_write_verbatim_places);
	tcase_add_test(tc, test_conf_write_section_order);
	tcase_add_test(tc, test_conf_write_description_escaped);
	tcase_add_test(tc, test_conf_write_unused_mounted);
	tcase_add_test(tc, test_conf_write_newline_in_value);
	tcase_add_test(tc, test_conf_write_empty);
	tcase_add_loop_test(tc, test_conf_write_round_trip, 0,
	                    (int)(sizeof(round_trip_cases) / sizeof(round_trip_cases[0])));

	tc = tcase(s, "conf_write_file");
	tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_conf_write_file_atomic);
	tcase_add_test(tc, test_conf_write_file_error_keeps_file);
	tcase_add_test(tc, test_conf_write_file_missing_folder);

	tc = tcase(s, "conf_desc_encode");
	tcase_add_test(tc, test_conf_desc_encode_byte_classes);
	tcase_add_test(tc, test_conf_desc_encode_examples);

	tc = tcase(s, "conf_desc_decode");
	tcase_add_test(tc, test_conf_desc_decode_hex);
	tcase_add_test(tc, test_conf_desc_decode_literal_percent);
	tcase_add_test(tc, test_conf_desc_decode_length);
	tcase_add_test(tc, test_conf_desc_decode_nul_kept);
	tcase_add_test(tc, test_conf_desc_round_trip_every_byte);

	tc = tcase(s, "conf_key_cmp");
	tcase_add_test(tc, test_conf_key_cmp_bytewise);

	tc = tcase(s, "conf_file_new");
	tcase_add_test(tc, test_conf_file_new_main_only);

	tc = tcase(s, "conf_section_add");
	tcase_add_test(tc, test_conf_section_add_kinds);

	tc = tcase(s, "conf_section_remove");
	tcase_add_test(tc, test_conf_section_remove_snapshot);

	tc = tcase(s, "conf_section_copy_contents");
	tcase_add_test(tc, test_conf_section_copy_contents_deep);

	tc = tcase(s, "conf_section_clear");
	tcase_add_test(tc, test_conf_section_clear_keeps_name);

	tc = tcase(s, "conf_get");
	tcase_add_test(tc, test_conf_get_parsed_keys_only);

	tc = tcase(s, "conf_set");
	tcase_add_test(tc, test_conf_set_replace_and_append);

	tc = tcase(s, "conf_delete");
	tcase_add_test(tc, test_conf_delete_key);

	tc = tcase(s, "conf_raw_add");
	tcase_add_test(tc, test_conf_raw_add_appends);

	tc = tcase(s, "conf_set_description");
	tcase_add_test(tc, test_conf_set_description_replace_clear);

	tc = tcase(s, "conf_diag_add");
	tcase_add_test(tc, test_conf_diag_add_counts);

	tc = tcase(s, "corpus");
	tcase_add_test(tc, test_corpus_count);
	tcase_add_loop_test(tc, test_corpus_file, 0, corpus_count > 0 ? corpus_count : 1);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	corpus_load();
	sr = srunner_create(conf_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	corpus_free();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

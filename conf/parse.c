/*
 * The config reader.
 *
 * It accepts what pct accepts and keeps what pct drops. Each line is one of:
 * blank (skipped), a section header, a `#` description line, a raw
 * `lxc.*` entry, a legacy `description:` line, `delete:` (pending only),
 * a `key: value` line, or a line that matches nothing. Lines pct would
 * drop (lines that match nothing, rejected lxc.* keys, `delete:` outside
 * the pending section) and the earlier of duplicate keys are kept as
 * verbatim lines of their section, so writing the file back loses nothing.
 *
 * Line ends: "\n", with every '\r' just before it removed, so CRLF files
 * read like LF files and are written back with LF. Removing all of them,
 * not one, keeps a verbatim line from ending in '\r', which the next read
 * would strip.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <search.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/conf_internal.h"
#include "conf/schema.h"

struct parser {
	struct conf_file *cf;
	struct conf_section *section; /* the section lines go to now */
	char **lines;                 /* line texts, index = line number - 1 */
	size_t n_lines;
	struct hsearch_data snapshot_names; /* names of the snapshot sections */
	/*
	 * Length and allocated size of section->description, so that adding a
	 * `#` line costs no strlen() of all lines before it. They are valid
	 * only while desc_known is true, which a section header resets.
	 */
	size_t desc_len;
	size_t desc_size;
	bool desc_known;
};

static bool is_blank(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!isspace((unsigned char)*s))
			return false;
	}
	return true;
}

/* Trim trailing white space in place. */
static void rtrim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

static const char *skip_space(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

/* Keep LINE as it was and report why with an error. */
static int keep_verbatim(struct parser *p, unsigned line, const char *why)
{
	int rv = conf__verbatim_add(p->section, p->lines[line - 1], line, false);

	if (rv == 0)
		rv = conf_diag_add(p->cf, line, CONF_ERROR, "%s; the line is kept as it is", why);
	return rv;
}

/*
 * Match `[name]` with optional trailing white space. Returns the length of
 * the name, or 0 when TEXT is no header. The name is case-insensitive
 * `[a-z][a-z0-9_-]+`, or `pve:pending`.
 */
static size_t match_header(const char *text)
{
	size_t n = 1;

	if (text[0] != '[')
		return 0;
	if (strncasecmp(text + 1, CONF_PENDING_NAME, strlen(CONF_PENDING_NAME)) == 0) {
		n += strlen(CONF_PENDING_NAME);
	} else {
		if (!isalpha((unsigned char)text[n]))
			return 0;
		for (n++; isalnum((unsigned char)text[n]) || text[n] == '_' || text[n] == '-'; n++)
			;
		if (n < 3)
			return 0;
	}
	if (text[n] != ']' || !is_blank(text + n + 1))
		return 0;
	return n - 1;
}

/*
 * The snapshot named NAME, or NULL. The set of names read so far settles
 * the common case (a new name) without a scan of every section, which a
 * file of many thousand headers would make quadratic.
 */
static struct conf_section *find_snapshot(struct parser *p, const char *name)
{
	ENTRY query = { .key = (char *)name }, *found = NULL;

	if (hsearch_r(query, FIND, &found, &p->snapshot_names) == 0 || found == NULL)
		return NULL;
	return conf_snapshot(p->cf, name);
}

/* Add NAME (owned by its section, which outlives the set) to the set. */
static int remember_snapshot(struct parser *p, char *name)
{
	ENTRY item = { .key = name }, *added = NULL;

	return hsearch_r(item, ENTER, &added, &p->snapshot_names) != 0 ? 0 : -ENOMEM;
}

static int parse_header(struct parser *p, unsigned line, const char *text, size_t name_len)
{
	bool pending = name_len == strlen(CONF_PENDING_NAME) && text[4] == ':';
	enum conf_section_kind kind = pending ? CONF_SECTION_PENDING : CONF_SECTION_SNAPSHOT;
	struct conf_section *s;
	char *name = strndup(text + 1, name_len);

	p->desc_known = false;
	if (name == NULL)
		return -ENOMEM;
	s = pending ? conf_pending(p->cf) : find_snapshot(p, name);
	if (s != NULL) {
		free(name);
		p->section = s;
		return keep_verbatim(p, line, "duplicate section header: the lines that follow are added to the first section of that name");
	}

	s = conf__section_insert(p->cf, kind, name);
	free(name);
	if (s == NULL || (!pending && remember_snapshot(p, s->name) != 0))
		return -ENOMEM;
	s->line = line;
	p->section = s;
	return 0;
}

/* Append DECODED, and a newline when NEWLINE, to the description of the current section. */
static int append_description(struct parser *p, const char *decoded, bool newline)
{
	struct conf_section *s = p->section;
	size_t add = strlen(decoded);
	size_t need;

	if (!p->desc_known) {
		p->desc_len = s->description != NULL ? strlen(s->description) : 0;
		p->desc_size = s->description != NULL ? p->desc_len + 1 : 0;
		p->desc_known = true;
	}

	/* Grow by doubling: a 1 MiB file of `#` lines stays linear. */
	need = p->desc_len + add + 2;
	if (need > p->desc_size) {
		size_t size = p->desc_size * 2 > need ? p->desc_size * 2 : need;
		char *grown = realloc(s->description, size);

		if (grown == NULL)
			return -ENOMEM;
		s->description = grown;
		p->desc_size = size;
	}
	memcpy(s->description + p->desc_len, decoded, add);
	p->desc_len += add;
	if (newline)
		s->description[p->desc_len++] = '\n';
	s->description[p->desc_len] = '\0';
	return 0;
}

/* Append the decoded TEXT of a `#` line and a newline to the description. */
static int parse_comment(struct parser *p, const char *text)
{
	char *decoded = conf_desc_decode(text, strlen(text));
	int rv;

	if (decoded == NULL)
		return -ENOMEM;
	rv = append_description(p, decoded, true);
	free(decoded);
	return rv;
}

/* Append the decoded TEXT of a legacy line, with a newline unless it ends in one. */
static int parse_legacy_description(struct parser *p, const char *text)
{
	char *decoded = conf_desc_decode(text, strlen(text));
	size_t len;
	int rv;

	if (decoded == NULL)
		return -ENOMEM;
	len = strlen(decoded);
	rv = append_description(p, decoded, len == 0 || decoded[len - 1] != '\n');
	free(decoded);
	return rv;
}

/*
 * Match `lxc.KEY: value` or `lxc.KEY = value`, KEY of [a-z0-9_.-].
 * On a match, terminate the key inside TEXT and set *VALUE; return true.
 */
static bool match_raw(char *text, char **value)
{
	char *end = text + 4, *v;

	if (strncmp(text, "lxc.", 4) != 0)
		return false;
	while (islower((unsigned char)*end) || isdigit((unsigned char)*end) || *end == '_' ||
	       *end == '.' || *end == '-')
		end++;
	if (end == text + 4)
		return false;

	v = end;
	if (*v != ':') {
		v = (char *)skip_space(v);
		if (*v != '=')
			return false;
	}
	*end = '\0';
	*value = (char *)skip_space(v + 1);
	rtrim(*value);
	return true;
}

static int parse_raw(struct parser *p, unsigned line, const char *key, const char *value)
{
	char errmsg[CONF_ERRMSG_SIZE] = "";
	enum conf_raw_class class = conf_schema_raw_key(key, errmsg);
	int rv;

	if (class == CONF_RAW_INVALID)
		return keep_verbatim(p, line, errmsg);

	rv = conf__raw_append(p->section, key, value, line);
	if (rv == 0 && class == CONF_RAW_DEPRECATED)
		rv = conf_diag_add(p->cf, line, CONF_WARNING, "%s", errmsg);
	return rv;
}

/*
 * Match `key: value` with key `[a-z][a-z_]*[0-9]*`. On a match, terminate
 * the key inside TEXT, set *VALUE to the trimmed value (possibly empty)
 * and return true.
 */
static bool match_key(char *text, char **value)
{
	char *end = text;

	if (!islower((unsigned char)*end))
		return false;
	while (islower((unsigned char)*end) || *end == '_')
		end++;
	while (isdigit((unsigned char)*end))
		end++;
	if (*end != ':')
		return false;
	*end = '\0';
	*value = (char *)skip_space(end + 1);
	rtrim(*value);
	return true;
}

/* Store KEY: VALUE after pct's read-time checks; problems become diagnostics. */
static int parse_value(struct parser *p, unsigned line, const char *key, const char *value)
{
	char errmsg[CONF_ERRMSG_SIZE] = "";
	char *normalized = NULL;
	int rv, check;

	check = conf_schema_parse_check(key, value, &normalized, errmsg);
	if (check == -ENOMEM)
		return -ENOMEM;

	rv = conf__key_append(p->section, key, normalized != NULL ? normalized : value, line);
	free(normalized);
	if (rv != 0)
		return rv;

	if (check != 0)
		return conf_diag_add(p->cf, line, CONF_ERROR, "%s", errmsg);

	/*
	 * Limits pct checks only when a value is set are warnings here. Check
	 * the entry just appended: conf_get() would return the first of
	 * duplicate keys, not this line's value.
	 */
	errmsg[0] = '\0';
	check = conf_schema_validate(key, p->section->keys[p->section->n_keys - 1].value, errmsg);
	if (check == -ENOMEM)
		return -ENOMEM;
	if (check != 0)
		return conf_diag_add(p->cf, line, CONF_WARNING, "%s", errmsg);
	return 0;
}

static int parse_key_line(struct parser *p, unsigned line, const char *key, const char *value)
{
	char why[CONF_ERRMSG_SIZE];

	if (*value == '\0') {
		snprintf(why, sizeof(why), "missing value for '%s'", key);
		return keep_verbatim(p, line, why);
	}

	/*
	 * A legacy `description:` line reads as one description line. pct
	 * appends it with no newline, but the writer can only write whole `#`
	 * lines, so that text would read back with a newline added.
	 */
	if (strcmp(key, "description") == 0)
		return parse_legacy_description(p, value);

	if (strcmp(key, "delete") == 0 && p->section->kind != CONF_SECTION_PENDING)
		return keep_verbatim(p, line, "'delete' is allowed only in the [pve:pending] section");

	if (strcmp(key, "snapstate") == 0 && p->section->kind != CONF_SECTION_SNAPSHOT) {
		int rv = conf__verbatim_add(p->section, p->lines[line - 1], line, false);

		if (rv != 0)
			return rv;
		return conf_diag_add(p->cf, line, CONF_WARNING,
		                     "'snapstate' belongs in a snapshot section and has no effect here; the line is kept as it is");
	}

	return parse_value(p, line, key, value);
}

/* Parse line LINE, whose text is SCRATCH, a copy that matching may change. */
static int parse_line(struct parser *p, unsigned line, char *scratch)
{
	char *value;
	size_t name_len;

	if (is_blank(scratch))
		return 0;

	name_len = match_header(scratch);
	if (name_len > 0)
		return parse_header(p, line, scratch, name_len);

	if (scratch[0] == '#')
		return parse_comment(p, scratch + 1);

	if (match_raw(scratch, &value))
		return parse_raw(p, line, scratch, value);

	if (match_key(scratch, &value))
		return parse_key_line(p, line, scratch, value);

	return keep_verbatim(p, line, "unable to parse the line: expected 'key: value', 'lxc.key = value', '#comment' or '[section]'");
}

static int cmp_entry_key_line(const void *a, const void *b)
{
	const struct conf_entry *x = *(const struct conf_entry *const *)a;
	const struct conf_entry *y = *(const struct conf_entry *const *)b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int cmp_verbatim_line(const void *a, const void *b)
{
	const struct conf_verbatim *x = a, *y = b;

	return x->line < y->line ? -1 : x->line > y->line;
}

/* Move the earlier of duplicate keys of S to its verbatim lines. */
static int resolve_duplicates(struct parser *p, struct conf_section *s)
{
	struct conf_entry **sorted;
	size_t kept = 0;
	int rv = 0;

	if (s->n_keys < 2)
		return 0;
	sorted = malloc(s->n_keys * sizeof(*sorted));
	if (sorted == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_keys; i++)
		sorted[i] = &s->keys[i];
	qsort(sorted, s->n_keys, sizeof(*sorted), cmp_entry_key_line);

	/* Mark each earlier duplicate by clearing its line's key pointer. */
	for (size_t start = 0, end; start < s->n_keys && rv == 0; start = end) {
		/* sorted[start..end) is a run of one key; its last line is in effect. */
		const struct conf_entry *used;

		for (end = start + 1; end < s->n_keys; end++) {
			if (strcmp(sorted[start]->key, sorted[end]->key) != 0)
				break;
		}
		used = sorted[end - 1];
		for (size_t i = start; i + 1 < end && rv == 0; i++) {
			struct conf_entry *e = sorted[i];

			rv = conf__verbatim_add(s, p->lines[e->line - 1], e->line, true);
			if (rv == 0)
				rv = conf_diag_add(p->cf, e->line, CONF_WARNING,
				                   "duplicate key '%s': line %u is used", e->key,
				                   used->line);
			free(e->key);
			e->key = NULL;
		}
	}
	free(sorted);

	/* Compact the key list, keeping file order. */
	for (size_t i = 0; i < s->n_keys; i++) {
		if (s->keys[i].key == NULL)
			free(s->keys[i].value);
		else
			s->keys[kept++] = s->keys[i];
	}
	s->n_keys = kept;
	/* qsort() must not be given NULL, even for no elements. */
	if (s->n_verbatim > 1)
		qsort(s->verbatim, s->n_verbatim, sizeof(*s->verbatim), cmp_verbatim_line);
	return rv;
}

/* Split BUF (LEN bytes, NUL at BUF[LEN]) into lines in place. */
static int split_lines(struct parser *p, char *buf, size_t len)
{
	size_t cap = 1;

	for (size_t i = 0; i < len; i++)
		cap += buf[i] == '\n';
	p->lines = malloc(cap * sizeof(*p->lines));
	if (p->lines == NULL)
		return -ENOMEM;

	for (char *start = buf; start <= buf + len;) {
		char *nl = memchr(start, '\n', (size_t)(buf + len - start));
		char *end = nl != NULL ? nl : buf + len;

		if (nl == NULL && start == buf + len)
			break;
		*end = '\0';
		for (char *cr = end; cr > start && cr[-1] == '\r'; cr--)
			cr[-1] = '\0';
		p->lines[p->n_lines++] = start;
		start = end + 1;
	}
	return 0;
}

/* Report NUL bytes, which a text config cannot hold, and drop them. */
static int drop_nul_bytes(struct conf_file *cf, char *buf, size_t *len)
{
	unsigned line = 1, reported = 0;
	size_t out = 0;
	int rv = 0;

	for (size_t i = 0; i < *len; i++) {
		if (buf[i] == '\0') {
			/* One diagnostic per line, however many NUL bytes it has. */
			if (rv == 0 && reported != line)
				rv = conf_diag_add(cf, line, CONF_ERROR,
				                   "NUL bytes in the line: they are removed");
			reported = line;
			continue;
		}
		line += buf[i] == '\n';
		buf[out++] = buf[i];
	}
	*len = out;
	buf[out] = '\0';
	return rv;
}

/* Warn about each unusedN of the main section that the writer leaves out. */
static int check_unused(struct conf_file *cf)
{
	struct conf_section *s = conf_main(cf);
	struct conf__mounted mounted = { 0 };
	int rv = conf__mounted_collect(s, &mounted);

	for (size_t i = 0; i < s->n_keys && rv == 0; i++) {
		const struct conf_entry *e = &s->keys[i];

		if (conf__unused_is_dropped(s, &mounted, e))
			rv = conf_diag_add(cf, e->line, CONF_WARNING,
			                   "'%s' names a volume that rootfs or an mpN still uses: it is left out when the file is written, as pct does",
			                   e->key);
	}
	conf__mounted_clear(&mounted);
	return rv;
}

/* Index of the snapshot named NAME in CF->sections, or -1; TABLE maps names. */
static long snapshot_index(struct hsearch_data *table, const char *name)
{
	ENTRY query = { .key = (char *)name }, *found = NULL;

	if (hsearch_r(query, FIND, &found, table) == 0 || found == NULL)
		return -1;
	return (long)(intptr_t)found->data;
}

/*
 * Follow the parent chain from snapshot START. STATE per section: 0 not
 * seen, 1 on the current chain, 2 done. Warns once about a cycle.
 */
static int walk_parents(struct conf_file *cf, struct hsearch_data *table, unsigned char *state,
                        long start)
{
	long i = start, next;
	int rv = 0;

	while (i >= 0 && state[i] == 0) {
		const char *parent = conf_get(&cf->sections[i], "parent");

		state[i] = 1;
		next = parent != NULL ? snapshot_index(table, parent) : -1;
		if (next >= 0 && state[next] == 1) {
			rv = conf_diag_add(cf, cf->sections[next].line, CONF_WARNING,
			                   "the parents of snapshot '%s' form a cycle: check its 'parent' line",
			                   cf->sections[next].name);
			break;
		}
		i = next;
	}
	for (i = start; i >= 0 && state[i] == 1;) {
		const char *parent = conf_get(&cf->sections[i], "parent");

		state[i] = 2;
		i = parent != NULL ? snapshot_index(table, parent) : -1;
	}
	return rv;
}

/* A `parent` line of the main section or of a snapshot, without its snapshot. */
static int check_parent_exists(struct conf_file *cf, struct hsearch_data *table,
                               const struct conf_section *s)
{
	for (size_t k = 0; k < s->n_keys; k++) {
		const struct conf_entry *e = &s->keys[k];

		if (strcmp(e->key, "parent") == 0 && snapshot_index(table, e->value) < 0)
			return conf_diag_add(cf, e->line, CONF_WARNING,
			                     "parent '%s' names no snapshot of this file", e->value);
	}
	return 0;
}

/* Warn about parents that do not exist and about cycles of parents. */
static int check_parents(struct conf_file *cf)
{
	struct hsearch_data table = { 0 };
	unsigned char *state = calloc(cf->n_sections, 1);
	int rv = -ENOMEM;

	if (state == NULL || hcreate_r(cf->n_sections * 2 + 8, &table) == 0)
		goto out_free;
	rv = 0;
	for (size_t i = 1; i < cf->n_sections && rv == 0; i++) {
		ENTRY item = { .key = cf->sections[i].name, .data = (void *)(intptr_t)i }, *added;

		if (cf->sections[i].kind == CONF_SECTION_SNAPSHOT &&
		    hsearch_r(item, ENTER, &added, &table) == 0)
			rv = -ENOMEM;
	}
	for (size_t i = 0; i < cf->n_sections && rv == 0; i++) {
		if (cf->sections[i].kind != CONF_SECTION_PENDING)
			rv = check_parent_exists(cf, &table, &cf->sections[i]);
		if (rv == 0 && cf->sections[i].kind == CONF_SECTION_SNAPSHOT)
			rv = walk_parents(cf, &table, state, (long)i);
	}
	hdestroy_r(&table);
out_free:
	free(state);
	return rv;
}

static int cmp_diag_line(const void *a, const void *b)
{
	const struct conf_diag *x = a, *y = b;

	return x->line < y->line ? -1 : x->line > y->line;
}

static int parse_all(struct parser *p)
{
	char *scratch;
	int rv = 0;

	for (size_t i = 0; i < p->n_lines && rv == 0; i++) {
		scratch = strdup(p->lines[i]);
		if (scratch == NULL)
			return -ENOMEM;
		rv = parse_line(p, (unsigned)(i + 1), scratch);
		free(scratch);
	}
	for (size_t i = 0; i < p->cf->n_sections && rv == 0; i++)
		rv = resolve_duplicates(p, &p->cf->sections[i]);
	if (rv == 0)
		rv = check_unused(p->cf);
	if (rv == 0)
		rv = check_parents(p->cf);

	/*
	 * Put the diagnostics in line order. qsort() is not stable, so those of
	 * one line may come in any order, and it must not be given NULL.
	 */
	if (rv == 0 && p->cf->n_diags > 1)
		qsort(p->cf->diags, p->cf->n_diags, sizeof(*p->cf->diags), cmp_diag_line);
	return rv;
}

/* An upper bound of the section headers: lines that start with '['. */
static size_t count_headers(const struct parser *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_lines; i++)
		n += p->lines[i][0] == '[';
	return n;
}

int conf_parse(const char *text, size_t len, const char *path, struct conf_file **out)
{
	struct parser p = { 0 };
	char *buf = NULL;
	int rv = -ENOMEM;

	if (len > CONF_MAX_FILE_SIZE)
		return -EFBIG;

	p.cf = conf_file_new();
	if (p.cf == NULL)
		return -ENOMEM;
	if (path != NULL && (p.cf->path = strdup(path)) == NULL)
		goto err_free_file;
	buf = malloc(len + 1);
	if (buf == NULL)
		goto err_free_file;
	memcpy(buf, text, len);
	buf[len] = '\0';

	rv = drop_nul_bytes(p.cf, buf, &len);
	if (rv == 0)
		rv = split_lines(&p, buf, len);
	if (rv == 0 && hcreate_r(count_headers(&p) * 2 + 8, &p.snapshot_names) == 0)
		rv = -ENOMEM;
	p.section = conf_main(p.cf);
	if (rv == 0)
		rv = parse_all(&p);
	if (rv != 0)
		goto err_free_lines;

	hdestroy_r(&p.snapshot_names);
	free(p.lines);
	free(buf);
	*out = p.cf;
	return 0;

err_free_lines:
	hdestroy_r(&p.snapshot_names);
	free(p.lines);
	free(buf);
err_free_file:
	conf_file_free(p.cf);
	return rv;
}

int conf_read_file(const char *path, struct conf_file **out, char *errmsg)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rv;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		rv = -errno;
		conf__errmsg(errmsg, "cannot open %s: %s", path, strerror(errno));
		return rv;
	}
	if (fstat(fd, &st) != 0) {
		rv = -errno;
		conf__errmsg(errmsg, "cannot read %s: %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rv = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		conf__errmsg(errmsg, "cannot read %s: not a regular file", path);
		goto out_close;
	}

	/* Read one byte more than the limit to see whether the file is over it. */
	buf = malloc(CONF_MAX_FILE_SIZE + 1);
	rv = -ENOMEM;
	if (buf == NULL)
		goto out_close;
	while ((n = read(fd, buf + len, CONF_MAX_FILE_SIZE + 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0) {
		rv = -errno;
		conf__errmsg(errmsg, "cannot read %s: %s", path, strerror(errno));
		goto out_free;
	}
	if (len > CONF_MAX_FILE_SIZE) {
		rv = -EFBIG;
		conf__errmsg(errmsg, "%s is larger than %d bytes, the limit for a config file", path,
		             CONF_MAX_FILE_SIZE);
		goto out_free;
	}

	rv = conf_parse(buf, len, path, out);
	if (rv != 0)
		conf__errmsg(errmsg, "cannot parse %s: %s", path, strerror(-rv));

out_free:
	free(buf);
out_close:
	close(fd);
	return rv;
}

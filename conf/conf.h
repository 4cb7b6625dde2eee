/*
 * conf: read, check and write Proxmox-style container configs
 * (/etc/pve/lxc/<CTID>.conf).
 *
 * Reading is lenient and lossless: every line of the input ends up either
 * in the parsed structure or in a section's list of verbatim lines, and
 * every problem is reported as a diagnostic with its line number. Writing
 * produces pct's canonical text. Setting values is strict: see
 * conf_schema_validate() in conf/schema.h.
 *
 * Return convention: 0 on success, a negative errno value on failure.
 * Functions that can fail for a reason worth telling take a caller-owned
 * `char *errmsg` of CONF_ERRMSG_SIZE bytes and fill it with one sentence.
 * The library never logs and never exits.
 */
#ifndef CONF_CONF_H
#define CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONF_ERRMSG_SIZE 256

/* The largest config file the reader accepts, as the store's file limit. */
#define CONF_MAX_FILE_SIZE (1024 * 1024)

/* The name of the pending section, as pct writes it. */
#define CONF_PENDING_NAME "pve:pending"

enum conf_severity {
	CONF_WARNING = 1,
	CONF_ERROR = 2,
};

/* One problem found while reading; line numbers start at 1. */
struct conf_diag {
	unsigned line;
	enum conf_severity severity;
	char *text;
};

/* A `key: value` line, or a raw `lxc.*` entry, with the line it came from
 * (0 for entries added by code rather than read). */
struct conf_entry {
	char *key;
	char *value;
	unsigned line;
};

/*
 * A line the reader kept as it was. The writer puts an unparsable line
 * back at the end of its section. It puts the earlier of duplicate keys
 * (a shadowed line) just before the section's keys, so the later value
 * stays in effect when the file is read again.
 */
struct conf_verbatim {
	char *text;
	unsigned line;
	bool shadowed;
};

enum conf_section_kind {
	CONF_SECTION_MAIN = 0,
	CONF_SECTION_PENDING = 1,
	CONF_SECTION_SNAPSHOT = 2,
};

/*
 * A section: the main part of the file, `[pve:pending]`, or one snapshot.
 * Keys keep the order they were read in; the writer sorts them. Raw
 * `lxc.*` entries (both `lxc.key: value` and `lxc.key = value` forms,
 * including `lxc.environment.runtime`) keep their file order.
 */
struct conf_section {
	enum conf_section_kind kind;
	char *name;        /* NULL for main, CONF_PENDING_NAME, or snapshot name */
	unsigned line;     /* line of the `[name]` header, 0 for main */
	char *description; /* decoded `#` lines, each ending in '\n'; or NULL */

	struct conf_entry *keys;
	size_t n_keys;
	struct conf_entry *raw;
	size_t n_raw;
	struct conf_verbatim *verbatim;
	size_t n_verbatim;
};

/*
 * A whole config file. sections[0] is always the main section; then the
 * pending section if present; then snapshots in file order.
 */
struct conf_file {
	char *path; /* as given to the reader, for messages; may be NULL */
	struct conf_section *sections;
	size_t n_sections;
	struct conf_diag *diags;
	size_t n_diags;
	unsigned n_errors;
	unsigned n_warnings;
};

/*
 * Parse TEXT (LEN bytes, need not be NUL-terminated) into a new conf_file.
 * PATH is copied and used in nothing but messages; it may be NULL.
 * Never fails on content: problems become diagnostics. On success *OUT
 * belongs to the caller, who frees it with conf_file_free().
 *
 * Errors: -EFBIG when LEN exceeds CONF_MAX_FILE_SIZE, -ENOMEM.
 */
int conf_parse(const char *text, size_t len, const char *path, struct conf_file **out);

/*
 * Read the file at PATH and parse it as conf_parse() does.
 * Errors: -errno of open/read, -EFBIG, -ENOMEM; ERRMSG names the file.
 */
int conf_read_file(const char *path, struct conf_file **out, char *errmsg);

/* Free a conf_file and everything it owns; NULL is allowed. */
void conf_file_free(struct conf_file *cf);

/* Allocate an empty config with only a main section. NULL on ENOMEM. */
struct conf_file *conf_file_new(void);

/*
 * Write CF as pct's canonical text into a new NUL-terminated buffer
 * (*OUT, caller frees with free(); *OUT_LEN without the NUL).
 * Errors: -EINVAL when a value contains a newline (ERRMSG names the key),
 * -ENOMEM.
 */
int conf_write(const struct conf_file *cf, char **out, size_t *out_len, char *errmsg);

/*
 * Write CF to PATH atomically: temporary file in the same folder, fsync,
 * rename, fsync of the folder. On failure PATH is unchanged.
 */
int conf_write_file(const struct conf_file *cf, const char *path, char *errmsg);

/* Section access. conf_main() never returns NULL for a parsed file. */
struct conf_section *conf_main(const struct conf_file *cf);
struct conf_section *conf_pending(const struct conf_file *cf);
struct conf_section *conf_snapshot(const struct conf_file *cf, const char *name);

/*
 * Add a section of KIND named NAME (copied) after the existing ones, or
 * return the existing one. Returns NULL on ENOMEM.
 */
struct conf_section *conf_section_add(struct conf_file *cf, enum conf_section_kind kind,
                                      const char *name);

/* Remove the snapshot or pending section S from CF and free it. */
void conf_section_remove(struct conf_file *cf, struct conf_section *s);

/* Deep-copy the contents (description, keys, raw, verbatim) of SRC into
 * the empty section DST. Errors: -ENOMEM (DST left empty). */
int conf_section_copy_contents(struct conf_section *dst, const struct conf_section *src);

/* Free what a section owns and leave it empty (kind and name kept). */
void conf_section_clear(struct conf_section *s);

/* The value of KEY in S, or NULL. Only parsed keys, not raw lxc.* entries. */
const char *conf_get(const struct conf_section *s, const char *key);

/*
 * Set KEY to VALUE in S (both copied), replacing an existing value in
 * place, else appending. No validation: callers that take outside input
 * check it with conf_schema_validate() first. Errors: -ENOMEM.
 */
int conf_set(struct conf_section *s, const char *key, const char *value);

/* Remove KEY from S. Returns 0, or -ENOENT when it was not set. */
int conf_delete(struct conf_section *s, const char *key);

/* Append a raw lxc.* entry (copied). Errors: -ENOMEM. */
int conf_raw_add(struct conf_section *s, const char *key, const char *value);

/* Replace the description of S with TEXT (copied; NULL clears it). */
int conf_set_description(struct conf_section *s, const char *text);

/*
 * Description codec. conf_desc_encode() escapes every byte outside
 * 0x20..0x7e, and '%' and ':', as uppercase %XX. conf_desc_decode()
 * replaces every %XX (either case) but %00 with its byte and leaves any
 * other '%' as it is. Both return a new string (caller frees) or NULL on ENOMEM.
 */
char *conf_desc_encode(const char *text, size_t len);
char *conf_desc_decode(const char *text, size_t len);

/* pct's order for the keys of a section: byte-wise, so mp10 < mp2. */
int conf_key_cmp(const char *a, const char *b);

/*
 * Record a diagnostic (TEXT formatted like printf) in CF. Used by the
 * parser and by checks that run on a parsed file. Errors: -ENOMEM.
 */
int conf_diag_add(struct conf_file *cf, unsigned line, enum conf_severity severity,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif /* CONF_CONF_H */

/*
 * Functions shared between the files of conf/ and not part of its API.
 */
#ifndef CONF_CONF_INTERNAL_H
#define CONF_CONF_INTERNAL_H

#include "conf/conf.h"

/* Make room for element N of the array *ARRAY (pass &array), doubling. */
int conf__grow(void *array, size_t n, size_t elem_size);

/* Append without looking for an existing key. Errors: -ENOMEM. */
int conf__key_append(struct conf_section *s, const char *key, const char *value, unsigned line);
int conf__raw_append(struct conf_section *s, const char *key, const char *value, unsigned line);
int conf__verbatim_add(struct conf_section *s, const char *text, unsigned line, bool shadowed);

/*
 * Add a section of KIND named NAME (copied) without looking for an
 * existing one: the caller knows there is none. NULL on ENOMEM.
 */
struct conf_section *conf__section_insert(struct conf_file *cf, enum conf_section_kind kind,
                                          const char *name);

/*
 * Copy the volume of a mount point or unusedN property string (its first
 * part when that has no '=', else its `volume=` part) into BUF.
 * Returns false when there is none.
 */
bool conf__volume_of(const char *value, char *buf, size_t size);

/* The volumes a section mounts (rootfs, mpN), sorted for bsearch. */
struct conf__mounted {
	char **volumes;
	size_t n;
};

/* Collect the volumes S mounts. Errors: -ENOMEM (M left empty). */
int conf__mounted_collect(const struct conf_section *s, struct conf__mounted *m);
void conf__mounted_clear(struct conf__mounted *m);

/*
 * True when pct's writer leaves the unusedN entry E of S out: its volume
 * is in M, the volumes S mounts. It stays when S has shadowed
 * lines of its key, because leaving it out would bring the earlier value
 * back into effect on the next read.
 */
bool conf__unused_is_dropped(const struct conf_section *s, const struct conf__mounted *m,
                             const struct conf_entry *e);

/* Copy src into dst (CONF_ERRMSG_SIZE bytes) with printf formatting. */
void conf__errmsg(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* CONF_CONF_INTERNAL_H */

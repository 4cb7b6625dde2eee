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

/* Copy src into dst (CONF_ERRMSG_SIZE bytes) with printf formatting. */
void conf__errmsg(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* CONF_CONF_INTERNAL_H */

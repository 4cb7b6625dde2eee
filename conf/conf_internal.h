/*
 * Functions shared between the files of conf/ and not part of its API.
 */
#ifndef CONF_CONF_INTERNAL_H
#define CONF_CONF_INTERNAL_H

#include "conf/conf.h"

/* Append without looking for an existing key. Errors: -ENOMEM. */
int conf__key_append(struct conf_section *s, const char *key, const char *value, unsigned line);
int conf__raw_append(struct conf_section *s, const char *key, const char *value, unsigned line);
int conf__verbatim_add(struct conf_section *s, const char *text, unsigned line, bool shadowed);

/* Copy src into dst (CONF_ERRMSG_SIZE bytes) with printf formatting. */
void conf__errmsg(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* CONF_CONF_INTERNAL_H */

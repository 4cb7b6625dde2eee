/*
 * An independent model of the config writer's one lossy rule, written
 * apart from conf/write.c so that tests and the fuzz target can tell an
 * entry the writer drops on purpose from one it lost.
 */
#ifndef TESTS_CONF_ORACLE_H
#define TESTS_CONF_ORACLE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

/*
 * Copy the volume of a mount point or unusedN value into BUF: its first
 * part when that has no '=', else its `volume=` part. False when none.
 */
bool conf_oracle_volume_of(const char *value, char *buf, size_t size);

/*
 * True when the writer leaves entry E of S out: an unusedN of the main
 * section whose volume rootfs or an mpN of that section still uses, as
 * pct drops it, unless earlier duplicates of it were kept as shadowed lines.
 */
bool conf_oracle_writer_drops(const struct conf_section *s, const struct conf_entry *e);

#endif /* TESTS_CONF_ORACLE_H */

/*
 * pfs_log(LEVEL, fmt, ...): the daemon's one logging macro, over libqb
 * logging (syslog, or stderr with -f). LEVEL is ERR (our own failures),
 * WARN (recoverable trouble), NOTICE (membership and quorum), INFO
 * (starts, stops, sync rounds) or DEBUG (per-message detail). libqb adds
 * the file and line. Messages are one sentence without a final newline.
 */
#ifndef PMXFS_LOG_H
#define PMXFS_LOG_H

#include <qb/qblog.h>

#define PFS_LOG_ERR LOG_ERR
#define PFS_LOG_WARN LOG_WARNING
#define PFS_LOG_NOTICE LOG_NOTICE
#define PFS_LOG_INFO LOG_INFO
#define PFS_LOG_DEBUG LOG_DEBUG

#define pfs_log(level, ...) qb_log(PFS_LOG_##level, __VA_ARGS__)

#endif

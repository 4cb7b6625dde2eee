/*
 * The exit codes every command of the project shares (ctconf, pmxfsctl,
 * ctlockctl), and how a negative errno value maps to them.
 */
#ifndef COMMON_EXIT_CODE_H
#define COMMON_EXIT_CODE_H

#include <errno.h>

enum exit_code {
	EXIT_OK = 0,
	EXIT_ERROR = 1,
	EXIT_USAGE = 2,
	EXIT_NOT_FOUND = 3,
	EXIT_CONFLICT = 4,    /* exists, version or token mismatch, CTID taken, locked */
	EXIT_NOT_QUORATE = 5,
	EXIT_DENIED = 6,
	EXIT_TIMEOUT = 7,
	EXIT_UNKNOWN = 8,     /* a change was sent, but its outcome is unknown */
};

/* The exit code for RV, 0 or a negative errno value. */
static inline int pmx_exit_code(int rv)
{
	switch (-rv) {
	case 0:
		return EXIT_OK;
	case ENOENT:
	case ENXIO: /* no such node */
		return EXIT_NOT_FOUND;
	case EEXIST:
	case ESTALE:
	case ENOLCK:
	case EBUSY:
		return EXIT_CONFLICT;
	case EROFS: /* changes are disabled without quorum */
		return EXIT_NOT_QUORATE;
	case EACCES:
	case EPERM:
		return EXIT_DENIED;
	case ETIMEDOUT:
		return EXIT_TIMEOUT;
	case EINPROGRESS: /* the change may or may not have been applied */
		return EXIT_UNKNOWN;
	default:
		return EXIT_ERROR;
	}
}

#endif /* COMMON_EXIT_CODE_H */

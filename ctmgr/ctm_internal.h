/*
 * Helpers shared between the files of ctmgr/ and not part of its API.
 */
#ifndef CTMGR_CTM_INTERNAL_H
#define CTMGR_CTM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* The advice that ends the quorum errors of create, start and config writes. */
#define CTM_QUORUM_HINT                                                                            \
	"run the command on a node of the quorate part, or wait until this node rejoins it"

/*
 * Make room for element N of *ARRAY (pass &array), doubling its capacity
 * whenever N is 0 or a power of two. Errors: -ENOMEM (*ARRAY unchanged).
 */
int ctm__grow(void *array, size_t n, size_t elem_size);

/*
 * Run ARGV[0] (looked up in PATH) with ARGV, stdin from /dev/null, and
 * wait for it. On failure OUTPUT (SIZE bytes) contains the last non-empty
 * line the command wrote to stdout or stderr, or how it ended.
 * Errors: -EIO the command failed or was killed, -errno of the spawn.
 */
int ctm__run(const char *const argv[], char *output, size_t size);

/*
 * Remove PATH: a file, or a folder with everything below it, without
 * following symbolic links and without crossing into other mounted file
 * systems (a mount point below PATH makes the removal fail with -EBUSY).
 * A missing PATH is not an error.
 */
int ctm__remove_tree(const char *path);

/*
 * Fill ERRMSG (CONF_ERRMSG_SIZE bytes, may be NULL) with a message,
 * shortened to fit. Returns RV, so that `return ctm__error(rv, ...)`
 * reports and fails in one step.
 */
int ctm__error(int rv, char *errmsg, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Format into a new string (caller frees), NULL on ENOMEM. */
char *ctm__printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* CTMGR_CTM_INTERNAL_H */

/*
 * Guest setup: the changes made to a container's root file system before
 * every start and once at create time, so that the guest comes up with
 * the hostname, addresses, DNS servers, time zone and consoles of its
 * config. The
 * behaviour follows pct's guest setup (pve-container, the LXC::Setup modules);
 * docs/guest-setup.md lists what is written where for each distribution.
 *
 * Safety: ROOTFS is opened once and every path inside it is resolved with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), or by an equivalent
 * walk with O_NOFOLLOW where the kernel lacks openat2. So a symlink in the
 * guest, absolute or relative, is followed as if ROOTFS were `/` and can
 * never reach a host file. Files are replaced by writing a temporary file
 * in the same directory and renaming it over the name. The last path
 * component is therefore never written through: a symlink there is
 * replaced by a regular file, as pct does.
 *
 * Idempotence: a file, symlink or directory whose content is already right
 * is left alone (same inode, same mtime), so a second run changes nothing.
 *
 * `.pve-ignore.NAME`: when a regular file of that name sits next to a file
 * setup would write, create, replace or remove, that file is left alone.
 *
 * The library never logs. It returns what it did in a report; the caller
 * logs that. A password never appears in the report or in a message.
 */
#ifndef CTMGR_SETUP_H
#define CTMGR_SETUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf/conf.h"

/* Options of one run. Zero-initialise, then set what applies. */
struct ctm_setup_opts {
	/*
	 * Also run the create-time steps: root password, SSH keys, machine-id
	 * removal and the per-distribution template fixes.
	 */
	bool create;

	/*
	 * Create only. Plain text (hashed with SHA-512 crypt and a random
	 * salt) or an existing crypt hash (`$1$`, `$2a$`, `$5$`, `$6$`...),
	 * which is stored as given. NULL locks the root password (`*`), as
	 * pct does.
	 */
	const char *root_password;

	/* Create only: authorized_keys lines for root, or NULL. */
	const char *ssh_keys;

	/*
	 * The host's DNS settings, used for each of `nameserver` and
	 * `searchdomain` that the config leaves unset, as pct does: a list
	 * separated by blanks, ',' or ';'. When both are NULL, the host file
	 * HOST_RESOLV_CONF (NULL means /etc/resolv.conf) is read instead: its
	 * `search` or `domain` line and its first three `nameserver` lines.
	 * An empty string means "none".
	 */
	const char *host_nameserver;
	const char *host_searchdomain;
	const char *host_resolv_conf;

	/*
	 * The host's zone name (such as Europe/Vienna) for `timezone: host`.
	 * NULL reads it from the host's /etc/localtime link.
	 */
	const char *host_timezone;

	/*
	 * Owner given to files and directories that setup creates, such as
	 * the mapped root of an unprivileged container (100000). 0 or -1
	 * keeps the owner of the calling process. A replaced file keeps its
	 * old owner and mode.
	 */
	uid_t root_uid;
	gid_t root_gid;
};

/*
 * The outcome of one run. Paths are inside the root file system and
 * start with '/'. The arrays belong to the report; free them with
 * ctm_setup_report_clear().
 */
struct ctm_setup_report {
	char os[16];      /* "debian", "ubuntu", ..., or "unmanaged" */
	char version[32]; /* as read from the guest, "" when not needed */

	char **changed;   /* written, created or removed */
	size_t n_changed;
	char **ignored;   /* left alone because of a `.pve-ignore.` file */
	size_t n_ignored;
	char **notes;     /* sentences for the task log */
	size_t n_notes;
};

/*
 * Run guest setup on the root file system at ROOTFS (a directory that is
 * not `/`) for the container config section CT (the main section, with
 * pending changes already applied). OPTS may be NULL for a start without
 * host DNS settings: then the host's /etc/resolv.conf is read.
 *
 * The guest OS is read from /etc/os-release (or /usr/lib/os-release), and
 * from the release files pct checks when that file is missing or its ID
 * is unknown. `ostype: unmanaged` returns at once, with nothing changed.
 * Debian, Devuan, Ubuntu and Alpine get the full setup; CentOS, Fedora,
 * openSUSE, Arch Linux, Gentoo and openEuler only /etc/hostname and
 * /etc/hosts, with a note saying so; NixOS nothing.
 *
 * REPORT (required) is overwritten; on error it lists what was changed
 * before the error, so the caller can log it. ERRMSG (CONF_ERRMSG_SIZE
 * bytes) gets one sentence on error.
 *
 * Errors:
 *   -EINVAL  ROOTFS is `/` or not absolute; the OS cannot be detected or
 *            its version read (ERRMSG names the files checked); `ostype`
 *            differs from the detected OS; a hostname, nameserver,
 *            searchdomain, timezone, tty or netN value is invalid. These
 *            are found before anything is written.
 *   -ENOTSUP the guest's release is older than pct supports.
 *   -ENOENT, -ENOTDIR  ROOTFS does not exist or is not a directory; at
 *            create time, root's home directory is missing in the guest.
 *   -ENOMEM, or the negative errno of a failed file operation (ERRMSG
 *            names the path inside the guest).
 */
int ctm_setup_run(const char *rootfs, const struct conf_section *ct,
                  const struct ctm_setup_opts *opts, struct ctm_setup_report *report,
                  char *errmsg);

/* Free what REPORT owns and zero it; NULL is allowed. */
void ctm_setup_report_clear(struct ctm_setup_report *report);

#endif /* CTMGR_SETUP_H */

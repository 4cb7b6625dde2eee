/*
 * Property strings: the comma-separated `key=value` values of rootfs, mpN,
 * netN, devN, features, unusedN and startup, parsed into typed structs.
 *
 * Syntax shared by every kind except startup:
 * - parts are separated by ',' and parts that are empty or only blanks are
 *   skipped;
 * - a part `key=value` sets KEY (the key ends at the first '=', the value
 *   must not be empty); a part without '=' is the value of the kind's
 *   default key;
 * - a duplicate key, an unknown key and a missing required key are errors;
 * - every value is checked in full: booleans take 1/0/on/off/yes/no/
 *   true/false in any case, integers take an optional sign and digits and
 *   must be in range, strings must match their pattern.
 *
 * Printing writes pct's canonical form. The default key comes first as a
 * bare value, then the other required keys, then the optional keys, each
 * group sorted byte-wise. Booleans print as 1/0 and sizes in the largest
 * unit that divides them exactly. Parsing the printed text gives the same
 * struct.
 *
 * Unset optional fields: strings are NULL, integers, sizes and booleans
 * are CONF_UNSET.
 *
 * Return convention: 0, or a negative errno value. Parsers fill ERRMSG
 * (CONF_ERRMSG_SIZE bytes, may be NULL) with one sentence naming the key,
 * the value and what is allowed. Parsers overwrite *OUT without freeing
 * what it held; on success the caller frees it with the kind's clear
 * function, and on error it is left cleared (nothing to free). Printers return a new string in *OUT (caller
 * frees) and fail with -EINVAL when the struct holds a value that would
 * not parse back (a missing required key, a value with a comma, a value
 * out of range).
 */
#ifndef CONF_PROPSTR_H
#define CONF_PROPSTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

/* The value of an unset integer, size or boolean field. */
#define CONF_UNSET (-1)

/* The kind of object the `volume` of rootfs or mpN names. */
enum conf_volume_type {
	CONF_VOLUME_INVALID = 0,
	CONF_VOLUME_STORAGE = 1, /* `storage:volname`, a storage volume */
	CONF_VOLUME_ALLOC = 2,   /* `storage:N`, allocate a new volume of N GiB */
	CONF_VOLUME_BIND = 3,    /* an absolute host path outside /dev/ */
	CONF_VOLUME_DEVICE = 4,  /* a path starting with /dev/ */
};

/* A rootfs or mpN value. Booleans are 0, 1 or CONF_UNSET. */
struct conf_mountpoint {
	char *volume; /* default key, required */
	enum conf_volume_type volume_type; /* set by the parsers from volume */
	char *mp;     /* path inside the container: required for mpN, NULL for rootfs */
	int64_t size; /* bytes (read-only information), or CONF_UNSET */
	int8_t acl;
	int8_t ro;
	int8_t quota;
	int8_t replicate; /* pct's default when unset: 1 */
	int8_t shared;    /* pct's default when unset: 0 */
	int8_t backup;    /* mpN only */
	int8_t keepattrs; /* mpN only, pct's default when unset: 0 */
	char *mountoptions; /* `;`-list of discard lazytime noatime nodev noexec nosuid */
	char *idmap;        /* `passthrough` or `;`-list of `u|g:ct:disk:count` */
};

/* A netN value. Integers and booleans are CONF_UNSET when not given. */
struct conf_net {
	char *name; /* required */
	char *bridge;
	char *hwaddr; /* unicast MAC address */
	char *ip;     /* IPv4/CIDR, dhcp or manual */
	char *gw;
	char *ip6;    /* IPv6/CIDR, auto, dhcp or manual */
	char *gw6;
	char *trunks; /* `;`-list of VLAN ids */
	char *rate;   /* Mbit/s, a number as written */
	char *type;   /* only veth */
	int64_t mtu;  /* 64..65535 */
	int64_t tag;  /* 1..4094 */
	int8_t firewall;
	int8_t link_down;
	int8_t host_managed;
};

/* A devN value. */
struct conf_dev {
	char *path; /* default key, required: /dev/... without . or .. parts */
	char *mode; /* octal access mode, `0[0-7]{3}` */
	int64_t uid; /* >= 0 */
	int64_t gid; /* >= 0 */
	int8_t deny_write;
};

/* The features value; every flag defaults to 0 in pct. */
struct conf_features {
	char *mount; /* `;`-list of file system types */
	int8_t nesting;
	int8_t keyctl;
	int8_t fuse;
	int8_t mknod;
	int8_t force_rw_sys;
};

/* An unusedN value. */
struct conf_unused {
	char *volume; /* default key, required: a `storage:volname` volume id */
};

/* The startup value `[[order=]N][,up=N][,down=N]`; seconds for up/down. */
struct conf_startup {
	int64_t order;
	int64_t up;
	int64_t down;
};

int conf_rootfs_parse(const char *value, struct conf_mountpoint *out, char *errmsg);
int conf_rootfs_print(const struct conf_mountpoint *rootfs, char **out);
int conf_mp_parse(const char *value, struct conf_mountpoint *out, char *errmsg);
int conf_mp_print(const struct conf_mountpoint *mp, char **out);
/* Free the strings of MP and reset every field to unset. */
void conf_mountpoint_clear(struct conf_mountpoint *mp);

int conf_net_parse(const char *value, struct conf_net *out, char *errmsg);
int conf_net_print(const struct conf_net *net, char **out);
void conf_net_clear(struct conf_net *net);

int conf_dev_parse(const char *value, struct conf_dev *out, char *errmsg);
int conf_dev_print(const struct conf_dev *dev, char **out);
void conf_dev_clear(struct conf_dev *dev);

int conf_features_parse(const char *value, struct conf_features *out, char *errmsg);
int conf_features_print(const struct conf_features *features, char **out);
void conf_features_clear(struct conf_features *features);

int conf_unused_parse(const char *value, struct conf_unused *out, char *errmsg);
int conf_unused_print(const struct conf_unused *unused, char **out);
void conf_unused_clear(struct conf_unused *unused);

/*
 * Parse a startup value. Parts are split on ','; blank parts are skipped;
 * a later part overrides an earlier one of the same key, as in pct. The
 * value "0" is rejected as pct rejects it. The empty string gives an
 * all-unset struct. conf_startup_print() writes `order=N,up=N,down=N`,
 * leaving out unset parts.
 */
int conf_startup_parse(const char *value, struct conf_startup *out, char *errmsg);
int conf_startup_print(const struct conf_startup *startup, char **out);
void conf_startup_clear(struct conf_startup *startup);

/* Classify the volume of a rootfs or mpN: CONF_VOLUME_INVALID when it is
 * neither an absolute path nor `storage:volname`. */
enum conf_volume_type conf_volume_classify(const char *volume);

/*
 * Parse a disk size `\d+(\.\d+)?` with an optional unit into bytes,
 * rounded down, as pct's parse_size does. The units K, M, G and T (also
 * written KiB, MiB, GiB, TiB) are powers of 1024, and no unit means bytes.
 * Unlike pct, which uses floating point, the result is exact.
 * Errors: -EINVAL bad syntax, -ERANGE larger than INT64_MAX bytes.
 */
int conf_size_parse(const char *text, int64_t *bytes);

/*
 * Format BYTES (>= 0) as pct's format_size does: in the largest of T, G,
 * M, K that divides it exactly, else in bytes without a unit. Zero is
 * "0T". BUF needs CONF_SIZE_BUFSIZE bytes.
 */
#define CONF_SIZE_BUFSIZE 24
void conf_size_format(int64_t bytes, char *buf);

/* Parse a boolean spelling (1 0 on off yes no true false, any case). */
bool conf_bool_parse(const char *text, bool *value);

/*
 * Checks shared with conf/schema.c; not for other callers.
 * conf__quote() copies TEXT for a message: at most 60 bytes, control
 * bytes shown as '?', "..." when shortened. BUF needs CONF__QUOTE_SIZE.
 */
#define CONF__QUOTE_SIZE 72
const char *conf__quote(const char *text, char *buf);
bool conf__is_ipv4(const char *text);
bool conf__is_ipv6(const char *text);
bool conf__is_dns_name(const char *text);
bool conf__is_volume_id(const char *text);
bool conf__is_iface(const char *text);

#endif /* CONF_PROPSTR_H */

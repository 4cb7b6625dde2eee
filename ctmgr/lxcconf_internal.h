/*
 * The state shared by the files of the LXC config generator.
 */
#ifndef CTMGR_LXCCONF_INTERNAL_H
#define CTMGR_LXCCONF_INTERNAL_H

#include "conf/propstr.h"
#include "ctmgr/lxcconf.h"

/* The maximum number of id map lines of one container. */
#define CTM__MAX_IDMAPS 64

/* One `lxc.idmap` line: KIND 'u' or 'g', container ids CT..CT+COUNT-1 are
 * host ids HOST..HOST+COUNT-1. */
struct ctm__idmap {
	char kind;
	uint32_t ct;
	uint32_t host;
	uint32_t count;
};

struct ctm__builder {
	const struct conf_section *s;
	const struct ctm_lxc_params *p;
	struct ctm_lxc_config *c;
	char *errmsg;
	const char *lxc_path;
	struct conf_features features;
	struct ctm__idmap maps[CTM__MAX_IDMAPS];
	size_t n_maps;
	bool custom_idmap; /* the config has raw lxc.idmap lines */
};

/* Append KEY = formatted value. Errors: -ENOMEM. */
int ctm__lxc_add(struct ctm__builder *b, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append a note. Errors: -ENOMEM. */
int ctm__lxc_note(struct ctm__builder *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Validate KEY of the section strictly; *VALUE is its value or NULL. */
int ctm__lxc_value(struct ctm__builder *b, const char *key, const char **value);

/* Map the container id ID of KIND ('u' or 'g') to the host. */
int ctm__lxc_map_id(const struct ctm__builder *b, char kind, uint32_t id, uint32_t *host);

/* The rootfs, the mpN mount points and the devN devices. */
int ctm__lxc_rootfs(struct ctm__builder *b);
int ctm__lxc_mountpoints(struct ctm__builder *b);
int ctm__lxc_devices(struct ctm__builder *b);

#endif /* CTMGR_LXCCONF_INTERNAL_H */

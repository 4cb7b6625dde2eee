/*
 * storage.cfg and dir storage volumes: parsing, volume ids, allocation,
 * removal and snapshot copies. The layout follows pve-storage's dir
 * plugin (images/<vmid>/<name>, template/cache, snippets).
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/propstr.h"
#include "conf/snapshot.h"
#include "ctmgr/ctm_internal.h"
#include "ctmgr/storage.h"

#define DEFAULT_CFG_NAME "storage.cfg"
/* The highest disk number tried for one container, as pve-storage. */
#define MAX_DISKS_PER_GUEST 1024

/* ---- Parsing ---- */

static const struct {
	const char *name;
	unsigned bit;
} content_names[] = {
    {"images", CTM_CONTENT_IMAGES}, {"rootdir", CTM_CONTENT_ROOTDIR},
    {"vztmpl", CTM_CONTENT_VZTMPL}, {"iso", CTM_CONTENT_ISO},
    {"backup", CTM_CONTENT_BACKUP}, {"snippets", CTM_CONTENT_SNIPPETS},
    {"import", CTM_CONTENT_IMPORT}, {"none", 0},
};

/* Keys of a dir section that change nothing here. */
static const char *const accepted_keys[] = {
    "create-subdirs",
    "format",
    "preallocation",
    "prune-backups",
    "max-protected-backups",
    "bwlimit",
    "snapshot-as-volume-chain",
    "max-files",
    NULL,
};

struct parser {
	const char *file;
	unsigned line;
	struct ctm_storage_cfg *cfg;
	struct ctm_storage *current; /* NULL outside a section */
	bool current_is_dir;
	char seen[32][32]; /* keys seen in the current dir section */
	size_t n_seen;
	char *errmsg;
};

/* Report an error at the current line: "FILE:LINE: TEXT". */
__attribute__((format(printf, 2, 3))) static int parse_error(struct parser *p, const char *fmt, ...)
{
	char text[CONF_ERRMSG_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return ctm__error(-EINVAL, p->errmsg, "%s:%u: %s", p->file, p->line, text);
}

__attribute__((format(printf, 2, 3))) static int add_note(struct parser *p, const char *fmt, ...)
{
	struct ctm_storage_cfg *cfg = p->cfg;
	char *text = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0 || ctm__grow(&cfg->notes, cfg->n_notes, sizeof(*cfg->notes)) < 0) {
		free(n < 0 ? NULL : text);
		return -ENOMEM;
	}
	cfg->notes[cfg->n_notes] = ctm__printf("%s:%u: %s", p->file, p->line, text);
	free(text);
	if (!cfg->notes[cfg->n_notes])
		return -ENOMEM;
	cfg->n_notes++;
	return 0;
}

/* A storage id: `[a-z][a-z0-9._-]*[a-z0-9]`, any case. */
static bool is_storage_id(const char *id)
{
	size_t len = strlen(id);

	if (len < 2 || !isalpha((unsigned char)id[0]) || !isalnum((unsigned char)id[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)id[i]) && !strchr("._-", id[i]))
			return false;
	return true;
}

static void storage_clear(struct ctm_storage *s)
{
	free(s->id);
	free(s->type);
	free(s->path);
	free(s->is_mountpoint);
	for (size_t i = 0; s->nodes && s->nodes[i]; i++)
		free(s->nodes[i]);
	free(s->nodes);
	free(s->images_dir);
	free(s->vztmpl_dir);
	free(s->snippets_dir);
	memset(s, 0, sizeof(*s));
}

void ctm_storage_cfg_free(struct ctm_storage_cfg *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_storages; i++)
		storage_clear(&cfg->storages[i]);
	free(cfg->storages);
	for (size_t i = 0; i < cfg->n_notes; i++)
		free(cfg->notes[i]);
	free(cfg->notes);
	free(cfg);
}

const struct ctm_storage *ctm_storage_find(const struct ctm_storage_cfg *cfg, const char *id)
{
	for (size_t i = 0; cfg && i < cfg->n_storages; i++)
		if (strcmp(cfg->storages[i].id, id) == 0)
			return &cfg->storages[i];
	return NULL;
}

/* Check the dir section that ends here: it needs a path. */
static int finish_section(struct parser *p)
{
	struct ctm_storage *s = p->current;

	p->current = NULL;
	if (!s || !p->current_is_dir || s->path)
		return 0;
	if (p->errmsg)
		ctm__error(
		    0, p->errmsg,
		    "%s:%u: dir storage '%s' has no path: add an indented 'path /FOLDER' line",
		    p->file, s->line, s->id);
	return -EINVAL;
}

static int parse_header(struct parser *p, char *line)
{
	char *colon = strchr(line, ':'), *id, *end;
	struct ctm_storage_cfg *cfg = p->cfg;
	struct ctm_storage *s;

	if (!colon || colon == line || strpbrk(line, " \t") < colon)
		return parse_error(p, "expected a section header 'TYPE: ID', got '%s'", line);
	*colon = '\0';
	id = colon + 1 + strspn(colon + 1, " \t");
	end = id + strcspn(id, " \t");
	if (end[strspn(end, " \t")] != '\0')
		return parse_error(p, "expected a section header 'TYPE: ID', got '%s: %s'", line,
		                   id);
	*end = '\0';
	if (!is_storage_id(id))
		return parse_error(p,
		                   "invalid storage id '%s': expected a letter, then letters, "
		                   "digits, '.', '_' or '-', ending in a letter or digit",
		                   id);
	if (ctm_storage_find(cfg, id))
		return parse_error(p,
		                   "storage '%s' is defined twice: rename or remove one of the "
		                   "sections",
		                   id);

	if (ctm__grow(&cfg->storages, cfg->n_storages, sizeof(*cfg->storages)) < 0)
		return -ENOMEM;
	s = &cfg->storages[cfg->n_storages];
	memset(s, 0, sizeof(*s));
	s->id = strdup(id);
	s->type = strdup(line);
	s->line = p->line;
	s->content = CTM_CONTENT_IMAGES | CTM_CONTENT_ROOTDIR;
	s->create_base_path = true;
	if (!s->id || !s->type) {
		storage_clear(s);
		return -ENOMEM;
	}
	cfg->n_storages++;
	p->current = s;
	p->current_is_dir = strcmp(line, "dir") == 0;
	p->n_seen = 0;
	if (!p->current_is_dir)
		return add_note(p,
		                "storage '%s' of type '%s' is ignored: only dir storages hold "
		                "container volumes here",
		                id, line);
	return 0;
}

static int parse_bool(struct parser *p, const char *key, const char *value, bool *out)
{
	if (!value) {
		*out = true;
		return 0;
	}
	if (!conf_bool_parse(value, out))
		return parse_error(p,
		                   "invalid value '%s' for '%s': expected 1, 0, yes, no, on, off, "
		                   "true or false",
		                   value, key);
	return 0;
}

static int parse_content(struct parser *p, const char *value, unsigned *out)
{
	char *copy = strdup(value), *item, *save = NULL;
	unsigned bits = 0;
	int rv = copy ? 0 : -ENOMEM;

	for (item = copy ? strtok_r(copy, ", \t;", &save) : NULL; item && rv == 0;
	     item = strtok_r(NULL, ", \t;", &save)) {
		size_t i;

		for (i = 0; i < sizeof(content_names) / sizeof(content_names[0]); i++)
			if (strcmp(item, content_names[i].name) == 0)
				break;
		if (i == sizeof(content_names) / sizeof(content_names[0]))
			rv = parse_error(p,
			                 "invalid content type '%s' in '%s': expected images, "
			                 "rootdir, vztmpl, iso, backup, snippets, import or none",
			                 item, value);
		else
			bits |= content_names[i].bit;
	}
	free(copy);
	if (rv == 0)
		*out = bits;
	return rv;
}

/* Split the node list VALUE into a new NULL-terminated array *OUT. */
static int parse_nodes(const char *value, char ***out)
{
	char *copy = strdup(value), *item, *save = NULL, **nodes;
	size_t n = 0;

	nodes = calloc(strlen(value) / 2 + 2, sizeof(*nodes));
	if (!copy || !nodes)
		goto err_nomem;
	for (item = strtok_r(copy, ", \t;", &save); item; item = strtok_r(NULL, ", \t;", &save)) {
		nodes[n] = strdup(item);
		if (!nodes[n++])
			goto err_nomem;
	}
	free(copy);
	*out = nodes;
	return 0;

err_nomem:
	for (size_t i = 0; nodes && i < n; i++)
		free(nodes[i]);
	free(nodes);
	free(copy);
	return -ENOMEM;
}

/* `vtype=relative/path` items separated by ','. */
static int parse_content_dirs(struct parser *p, struct ctm_storage *s, const char *value)
{
	char *copy = strdup(value), *item, *save = NULL;
	int rv = copy ? 0 : -ENOMEM;

	for (item = copy ? strtok_r(copy, ",", &save) : NULL; item && rv == 0;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '='), **slot;

		if (!eq || eq[1] == '\0' || eq[1] == '/' || strstr(eq + 1, "..")) {
			rv =
			    parse_error(p,
			                "invalid content-dirs item '%s': expected TYPE=PATH with a "
			                "relative PATH without '..'",
			                item);
			break;
		}
		*eq = '\0';
		if (strcmp(item, "images") == 0)
			slot = &s->images_dir;
		else if (strcmp(item, "vztmpl") == 0)
			slot = &s->vztmpl_dir;
		else if (strcmp(item, "snippets") == 0)
			slot = &s->snippets_dir;
		else
			continue; /* iso, backup, import: not used here */
		free(*slot);
		*slot = strdup(eq + 1);
		if (!*slot)
			rv = -ENOMEM;
	}
	free(copy);
	return rv;
}

static bool seen_before(struct parser *p, const char *key)
{
	for (size_t i = 0; i < p->n_seen; i++)
		if (strcmp(p->seen[i], key) == 0)
			return true;
	if (p->n_seen < sizeof(p->seen) / sizeof(p->seen[0]))
		snprintf(p->seen[p->n_seen++], sizeof(p->seen[0]), "%s", key);
	return false;
}

static int parse_dir_property(struct parser *p, const char *key, const char *value)
{
	struct ctm_storage *s = p->current;
	bool flag;
	int rv;

	if (seen_before(p, key))
		return parse_error(p, "duplicate key '%s' in storage '%s': keep one line", key,
		                   s->id);
	if (strcmp(key, "path") == 0) {
		if (!value || value[0] != '/')
			return parse_error(p,
			                   "invalid value '%s' for 'path': expected an absolute "
			                   "folder",
			                   value ? value : "");
		s->path = strdup(value);
		if (!s->path)
			return -ENOMEM;
		/* "/mnt/ssd/" and "/mnt/ssd" name one folder. */
		for (size_t len = strlen(s->path); len > 1 && s->path[len - 1] == '/'; len--)
			s->path[len - 1] = '\0';
		return 0;
	}
	if (strcmp(key, "content") == 0)
		return parse_content(p, value ? value : "", &s->content);
	if (strcmp(key, "shared") == 0)
		return parse_bool(p, key, value, &s->shared);
	if (strcmp(key, "disable") == 0)
		return parse_bool(p, key, value, &s->disabled);
	if (strcmp(key, "mkdir") == 0 || strcmp(key, "create-base-path") == 0) {
		rv = parse_bool(p, key, value, &flag);
		/* Either key set to 0 turns creation off. */
		if (rv == 0 && !flag)
			s->create_base_path = false;
		return rv;
	}
	if (strcmp(key, "nodes") == 0)
		return value ? parse_nodes(value, &s->nodes)
		             : parse_error(p, "missing value for '%s'", key);
	if (strcmp(key, "is_mountpoint") == 0) {
		if (value && value[0] == '/')
			s->is_mountpoint = strdup(value);
		else if (parse_bool(p, key, value, &flag) < 0)
			return -EINVAL;
		else if (flag)
			s->is_mountpoint = s->path ? strdup(s->path) : strdup("");
		else
			return 0;
		return s->is_mountpoint ? 0 : -ENOMEM;
	}
	if (strcmp(key, "content-dirs") == 0)
		return value ? parse_content_dirs(p, s, value)
		             : parse_error(p, "missing value for '%s'", key);
	for (size_t i = 0; accepted_keys[i]; i++)
		if (strcmp(key, accepted_keys[i]) == 0)
			return 0;
	return parse_error(p, "unknown key '%s' in dir storage '%s': remove the line", key, s->id);
}

static int parse_property(struct parser *p, char *line)
{
	char *key = line + strspn(line, " \t"), *value;
	size_t key_len = strcspn(key, " \t");

	if (!p->current)
		return parse_error(p,
		                   "indented line '%s' outside a section: add a 'TYPE: ID' header "
		                   "above it",
		                   key);
	if (!p->current_is_dir)
		return 0;
	value = key + key_len;
	if (*value != '\0') {
		*value++ = '\0';
		value += strspn(value, " \t");
		for (size_t len = strlen(value); len > 0 && strchr(" \t", value[len - 1]); len--)
			value[len - 1] = '\0';
		if (*value == '\0')
			value = NULL;
	} else {
		value = NULL;
	}
	return parse_dir_property(p, key, value);
}

static int parse_line(struct parser *p, char *line)
{
	if (line[strspn(line, " \t")] == '\0')
		return finish_section(p);
	if (line[strspn(line, " \t")] == '#')
		return 0;
	if (line[0] == ' ' || line[0] == '\t')
		return parse_property(p, line);
	if (finish_section(p) < 0)
		return -EINVAL;
	return parse_header(p, line);
}

/* The path of a storage marked is_mountpoint=yes is known only after its
 * path line, which may come later. */
static int fix_mountpoints(struct ctm_storage_cfg *cfg)
{
	for (size_t i = 0; i < cfg->n_storages; i++) {
		struct ctm_storage *s = &cfg->storages[i];

		if (s->is_mountpoint && s->is_mountpoint[0] == '\0' && s->path) {
			free(s->is_mountpoint);
			s->is_mountpoint = strdup(s->path);
			if (!s->is_mountpoint)
				return -ENOMEM;
		}
	}
	return 0;
}

int ctm_storage_cfg_parse(const char *text, size_t len, const char *path,
                          struct ctm_storage_cfg **out, char *errmsg)
{
	struct parser p = {.file = path ? path : DEFAULT_CFG_NAME, .errmsg = errmsg};
	size_t pos = 0;
	int rv = 0;

	p.cfg = calloc(1, sizeof(*p.cfg));
	if (!p.cfg)
		return -ENOMEM;

	while (pos < len && rv == 0) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - text - pos) : len - pos;
		char *line;

		p.line++;
		if (memchr(text + pos, '\0', line_len)) {
			rv = parse_error(&p, "the line contains a NUL byte");
			break;
		}
		line = strndup(text + pos, line_len);
		if (!line) {
			rv = -ENOMEM;
			break;
		}
		if (line_len > 0 && line[line_len - 1] == '\r')
			line[line_len - 1] = '\0';
		rv = parse_line(&p, line);
		free(line);
		pos += line_len + 1;
	}
	if (rv == 0)
		rv = finish_section(&p);
	if (rv == 0)
		rv = fix_mountpoints(p.cfg);
	if (rv < 0) {
		if (rv == -ENOMEM && errmsg)
			ctm__error(0, errmsg, "%s: out of memory", p.file);
		ctm_storage_cfg_free(p.cfg);
		return rv;
	}
	*out = p.cfg;
	return 0;
}

int ctm_storage_cfg_read(const char *path, struct ctm_storage_cfg **out, char *errmsg)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t cap = 0, len = 0;
	int rv;

	if (!f) {
		rv = -errno;
		ctm__error(0, errmsg, "cannot read %s: %s", path, strerror(errno));
		return rv;
	}
	for (;;) {
		size_t n;

		if (len + 4096 > cap) {
			char *grown = realloc(text, cap + 65536);

			if (!grown) {
				free(text);
				fclose(f);
				return -ENOMEM;
			}
			text = grown;
			cap += 65536;
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	rv = ferror(f) ? -EIO : 0;
	fclose(f);
	if (rv == 0)
		rv = ctm_storage_cfg_parse(text, len, path, out, errmsg);
	else
		ctm__error(0, errmsg, "cannot read %s: input/output error", path);
	free(text);
	return rv;
}

/* ---- Volume ids ---- */

void ctm_volume_clear(struct ctm_volume *volume)
{
	free(volume->name);
	free(volume->file);
	free(volume->path);
	memset(volume, 0, sizeof(*volume));
}

/* `(vm|base|subvol)-VMID-...`: the VMID of a disk name, or 0. */
static unsigned disk_owner(const char *file)
{
	const char *digits = NULL;
	char *end;
	unsigned long vmid;

	if (strncmp(file, "vm-", 3) == 0)
		digits = file + 3;
	else if (strncmp(file, "base-", 5) == 0)
		digits = file + 5;
	else if (strncmp(file, "subvol-", 7) == 0)
		digits = file + 7;
	if (!digits || !isdigit((unsigned char)*digits))
		return 0;
	vmid = strtoul(digits, &end, 10);
	if (*end != '-' || end[1] == '\0' || vmid == 0 || vmid > UINT_MAX)
		return 0;
	return (unsigned)vmid;
}

static bool has_suffix(const char *text, const char *suffix)
{
	size_t len = strlen(text), slen = strlen(suffix);

	return len > slen && strcmp(text + len - slen, suffix) == 0;
}

/* A file name without '/', white space or a leading '.'. */
static bool is_plain_name(const char *name)
{
	if (name[0] == '\0' || name[0] == '.')
		return false;
	for (; *name; name++)
		if (*name == '/' || isspace((unsigned char)*name) || iscntrl((unsigned char)*name))
			return false;
	return true;
}

static int bad_volume(const char *volid, const char *reason, char *errmsg)
{
	ctm__error(0, errmsg, "invalid volume '%s': %s", volid, reason);
	return -EINVAL;
}

/* Fill the kind, owner and file of OUT from the volume name NAME. */
static int classify_name(const char *volid, const char *name, struct ctm_volume *out, char *errmsg)
{
	const char *slash = strchr(name, '/');
	char *end;

	if (strncmp(name, "vztmpl/", 7) == 0 || strncmp(name, "snippets/", 9) == 0) {
		out->kind = name[0] == 'v' ? CTM_VOLUME_VZTMPL : CTM_VOLUME_SNIPPET;
		if (!is_plain_name(slash + 1))
			return bad_volume(volid, "expected a file name after the folder", errmsg);
		out->file = strdup(slash + 1);
		return out->file ? 0 : -ENOMEM;
	}

	if (!slash) {
		/* The short form of a folder volume: subvol-VMID-NAME. */
		if (strncmp(name, "subvol-", 7) != 0 || !is_plain_name(name) ||
		    (out->vmid = disk_owner(name)) == 0)
			return bad_volume(volid,
			                  "expected VMID/vm-VMID-disk-N.raw, subvol-VMID-disk-N, "
			                  "vztmpl/FILE or snippets/FILE",
			                  errmsg);
		out->kind = CTM_VOLUME_SUBVOL;
		out->file = strdup(name);
		return out->file ? 0 : -ENOMEM;
	}

	/* VMID/FILE, pct's form for images and folders. */
	out->vmid = (unsigned)strtoul(name, &end, 10);
	if (end != slash || out->vmid == 0 || !is_plain_name(slash + 1))
		return bad_volume(volid, "expected VMID/FILE, e.g. 100/vm-100-disk-0.raw", errmsg);
	if (has_suffix(slash + 1, ".raw"))
		out->kind = CTM_VOLUME_RAW;
	else if (has_suffix(slash + 1, ".subvol"))
		out->kind = CTM_VOLUME_SUBVOL;
	else if (has_suffix(slash + 1, ".qcow2") || has_suffix(slash + 1, ".vmdk"))
		return bad_volume(volid,
		                  "qcow2 and vmdk images cannot hold a container: use a raw "
		                  "image or a folder volume",
		                  errmsg);
	else
		return bad_volume(volid, "expected a file ending in .raw or .subvol", errmsg);
	if (strncmp(slash + 1, "snap-", 5) == 0)
		return bad_volume(volid, "it names a snapshot copy, not a volume", errmsg);
	out->file = strdup(slash + 1);
	return out->file ? 0 : -ENOMEM;
}

static char *images_folder(const struct ctm_storage *s, unsigned vmid)
{
	return ctm__printf("%s/%s/%u", s->path, s->images_dir ? s->images_dir : "images", vmid);
}

static char *volume_path(const struct ctm_storage *s, const struct ctm_volume *v)
{
	switch (v->kind) {
	case CTM_VOLUME_VZTMPL:
		return ctm__printf("%s/%s/%s", s->path,
		                   s->vztmpl_dir ? s->vztmpl_dir : "template/cache", v->file);
	case CTM_VOLUME_SNIPPET:
		return ctm__printf("%s/%s/%s", s->path,
		                   s->snippets_dir ? s->snippets_dir : "snippets", v->file);
	default:
		return ctm__printf("%s/%s/%u/%s", s->path, s->images_dir ? s->images_dir : "images",
		                   v->vmid, v->file);
	}
}

/* Check that STORAGE may be used on NODE. */
static int check_usable(const struct ctm_storage *s, const char *node, char *errmsg)
{
	if (strcmp(s->type, "dir") != 0) {
		ctm__error(
		    0, errmsg,
		    "storage '%s' has type '%s': only dir storages hold container volumes here",
		    s->id, s->type);
		return -EINVAL;
	}
	if (s->disabled) {
		ctm__error(
		    0, errmsg,
		    "storage '%s' is disabled: remove 'disable' from its section in storage.cfg",
		    s->id);
		return -EACCES;
	}
	if (node && s->nodes) {
		for (size_t i = 0; s->nodes[i]; i++)
			if (strcmp(s->nodes[i], node) == 0)
				return 0;
		ctm__error(
		    0, errmsg,
		    "storage '%s' is not available on node '%s': add the node to its 'nodes' list",
		    s->id, node);
		return -EACCES;
	}
	return 0;
}

/* True when S can hold container root file systems on NODE. */
static bool rootdir_usable(const struct ctm_storage *s, const char *node)
{
	char msg[CONF_ERRMSG_SIZE];

	return check_usable(s, node, msg) == 0 && (s->content & CTM_CONTENT_ROOTDIR);
}

int ctm_storage_check_exists(const struct ctm_storage_cfg *cfg, const char *volid,
                             const char *node, unsigned content, const char *content_name,
                             char *errmsg)
{
	const char *colon = strchr(volid, ':');
	char id[CONF_ERRMSG_SIZE], valid[CONF_ERRMSG_SIZE] = "";
	size_t used = 0;

	if (!colon || colon == volid || (size_t)(colon - volid) >= sizeof(id))
		return 0;
	snprintf(id, sizeof(id), "%.*s", (int)(colon - volid), volid);
	if (ctm_storage_find(cfg, id))
		return 0;
	for (size_t i = 0; cfg && i < cfg->n_storages; i++) {
		const struct ctm_storage *c = &cfg->storages[i];
		char msg[CONF_ERRMSG_SIZE];

		if (check_usable(c, node, msg) < 0 || !(c->content & content) ||
		    used >= sizeof(valid))
			continue;
		used += (size_t)snprintf(valid + used, sizeof(valid) - used, "%s%s",
		                         used ? ", " : "", c->id);
	}
	if (used)
		ctm__error(0, errmsg,
		           "storage '%s' does not exist; or use one of the storages with "
		           "content %s: %s",
		           id, content_name, valid);
	else
		ctm__error(0, errmsg,
		           "storage '%s' does not exist, and no storage in storage.cfg has content "
		           "%s on this node: add %s to the content of one",
		           id, content_name, content_name);
	return -ENOENT;
}

int ctm_storage_check_rootdir(const struct ctm_storage_cfg *cfg, const char *id,
                              const char *node, char *errmsg)
{
	const struct ctm_storage *s = ctm_storage_find(cfg, id);
	char msg[CONF_ERRMSG_SIZE] = "", valid[CONF_ERRMSG_SIZE] = "";
	size_t used = 0;
	int rv = 0;

	if (!s) {
		snprintf(msg, sizeof(msg), "storage '%s' does not exist", id);
		rv = -ENOENT;
	} else {
		rv = check_usable(s, node, msg);
		if (rv == 0 && !(s->content & CTM_CONTENT_ROOTDIR)) {
			snprintf(msg, sizeof(msg),
			         "storage '%s' does not allow content type 'rootdir' (Container)",
			         s->id);
			rv = -EINVAL;
		}
	}
	if (rv == 0)
		return 0;
	for (size_t i = 0; i < cfg->n_storages; i++) {
		const struct ctm_storage *c = &cfg->storages[i];

		if (!rootdir_usable(c, node) || used >= sizeof(valid))
			continue;
		used += (size_t)snprintf(valid + used, sizeof(valid) - used, "%s%s",
		                         used ? ", " : "", c->id);
	}
	if (used)
		ctm__error(0, errmsg, "%s; or use one of the storages for containers: %s", msg, valid);
	else
		ctm__error(0, errmsg,
		           "%s, and no storage in storage.cfg holds containers on this node: "
		           "add one with content rootdir",
		           msg);
	return rv;
}

int ctm_volume_resolve(const struct ctm_storage_cfg *cfg, const char *volid, const char *node,
                       struct ctm_volume *out, char *errmsg)
{
	const char *colon = strchr(volid, ':');
	size_t id_len = colon ? (size_t)(colon - volid) : 0;
	int rv;

	memset(out, 0, sizeof(*out));
	if (!colon || id_len == 0 || colon[1] == '\0')
		return bad_volume(volid, "expected STORAGE:NAME", errmsg);
	for (size_t i = 0; cfg && i < cfg->n_storages && !out->storage; i++)
		if (strlen(cfg->storages[i].id) == id_len &&
		    strncmp(cfg->storages[i].id, volid, id_len) == 0)
			out->storage = &cfg->storages[i];
	if (!out->storage) {
		ctm__error(0, errmsg,
		           "storage '%.*s' of volume '%s' does not exist: define it in storage.cfg",
		           (int)id_len, volid, volid);
		return -ENOENT;
	}
	rv = check_usable(out->storage, node, errmsg);
	if (rv == 0)
		rv = classify_name(volid, colon + 1, out, errmsg);
	if (rv == 0) {
		out->name = strdup(colon + 1);
		out->path = volume_path(out->storage, out);
		if (!out->name || !out->path)
			rv = -ENOMEM;
	}
	if (rv < 0)
		ctm_volume_clear(out);
	return rv;
}

char *ctm_volume_snapshot_path(const struct ctm_volume *volume, const char *snapname)
{
	const char *slash = strrchr(volume->path, '/');

	return ctm__printf("%.*s/snap-%s-%s", (int)(slash - volume->path), volume->path, snapname,
	                   volume->file);
}

/* ---- Allocation ---- */

int ctm_alloc_request_parse(const char *text, char **storage_id, uint64_t *bytes, char *errmsg)
{
	const char *colon = strrchr(text, ':'), *digits, *dot;
	uint64_t gib = 0, mib_frac = 0, fraction = 0, pow10 = 1;
	size_t n_int;

	*storage_id = NULL;
	if (!colon || colon == text)
		goto err_syntax;
	digits = colon + 1;
	n_int = strspn(digits, "0123456789");
	dot = digits + n_int;
	if (n_int == 0 || n_int > 10 ||
	    (*dot != '\0' &&
	     (*dot != '.' || dot[1] == '\0' || dot[1 + strspn(dot + 1, "0123456789")] != '\0')))
		goto err_syntax;

	gib = strtoull(digits, NULL, 10);

	/* The fraction in whole MiB, rounded down and exact. The digits F of
	 * length L give floor(F * 1024 / 10^L). Digits past the 12th cannot
	 * add a MiB, so they are left out. */
	for (const char *d = *dot ? dot + 1 : dot; *d && pow10 < 1000000000000ULL; d++) {
		fraction = fraction * 10 + (uint64_t)(*d - '0');
		pow10 *= 10;
	}
	mib_frac = fraction * 1024 / pow10;
	if (gib > (UINT64_MAX >> 31)) {
		ctm__error(0, errmsg, "size of '%s' is too large", text);
		return -ERANGE;
	}
	*bytes = (gib * 1024 + mib_frac) * 1024 * 1024;
	*storage_id = strndup(text, (size_t)(colon - text));
	return *storage_id ? 0 : -ENOMEM;

err_syntax:
	ctm__error(0, errmsg,
	           "invalid allocation '%s': expected STORAGE:SIZE with SIZE in GiB, e.g. local:8",
	           text);
	return -EINVAL;
}

/* Create FOLDER and its parents (mode 0755). */
static int make_folders(const char *folder)
{
	char path[PATH_MAX];
	size_t len = strlen(folder);

	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, folder, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Check that the storage's base folder exists or may be created, and that
 * it is mounted when it must be. */
static int activate(const struct ctm_storage *s, char *errmsg)
{
	struct stat st, parent;
	char *up;
	int rv;

	if (s->is_mountpoint) {
		up = ctm__printf("%s/..", s->is_mountpoint);
		if (!up)
			return -ENOMEM;
		rv = stat(s->is_mountpoint, &st) == 0 && stat(up, &parent) == 0 &&
		     (st.st_dev != parent.st_dev || st.st_ino == parent.st_ino);
		free(up);
		if (!rv) {
			ctm__error(0, errmsg,
			           "storage '%s': folder '%s' must be a mount point but nothing is "
			           "mounted "
			           "there: mount it first",
			           s->id, s->is_mountpoint);
			return -ENODEV;
		}
	}
	if (stat(s->path, &st) == 0)
		return 0;
	if (errno != ENOENT || !s->create_base_path) {
		rv = -errno;
		ctm__error(0, errmsg, "storage '%s': cannot use folder '%s': %s%s", s->id, s->path,
		           strerror(-rv),
		           rv == -ENOENT ? " (create it, or remove 'mkdir 0' from storage.cfg)"
		                         : "");
		return rv;
	}
	rv = make_folders(s->path);
	if (rv < 0)
		ctm__error(0, errmsg, "storage '%s': cannot create folder '%s': %s", s->id, s->path,
		           strerror(-rv));
	return rv;
}

/* Mark in USED the disk numbers N of the `*-VMID-disk-N*` names in FOLDER. */
static int used_disk_numbers(const char *folder, unsigned vmid, bool *used)
{
	char prefix[3][40];
	struct dirent *e;
	DIR *dir = opendir(folder);

	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	snprintf(prefix[0], sizeof(prefix[0]), "vm-%u-disk-", vmid);
	snprintf(prefix[1], sizeof(prefix[1]), "base-%u-disk-", vmid);
	snprintf(prefix[2], sizeof(prefix[2]), "subvol-%u-disk-", vmid);
	while ((e = readdir(dir))) {
		for (int i = 0; i < 3; i++) {
			size_t len = strlen(prefix[i]);
			unsigned long n;
			char *end;

			if (strncmp(e->d_name, prefix[i], len) != 0 ||
			    !isdigit((unsigned char)e->d_name[len]))
				continue;
			n = strtoul(e->d_name + len, &end, 10);
			if ((*end == '\0' || *end == '.') && n < MAX_DISKS_PER_GUEST)
				used[n] = true;
		}
	}
	closedir(dir);
	return 0;
}

/* Make a sparse image of BYTES at PATH and format it as ext4. */
static int make_image(const struct ctm_storage *s, const char *path, uint64_t bytes, uid_t uid,
                      gid_t gid, char *errmsg)
{
	char owner[64], output[CONF_ERRMSG_SIZE];
	const char *argv[10];
	int fd, rv = 0, n = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rv = -errno;
		ctm__error(0, errmsg, "storage '%s': cannot create image '%s': %s", s->id, path,
		           strerror(-rv));
		return rv;
	}
	if (ftruncate(fd, (off_t)bytes) < 0)
		rv = -errno;
	close(fd);
	if (rv < 0) {
		ctm__error(0, errmsg, "storage '%s': cannot size image '%s': %s", s->id, path,
		           strerror(-rv));
		unlink(path);
		return rv;
	}

	/* Multi-mount protection makes ext4 refuse a second mount of the
	 * image while one is active, from this node or another, as pct. */
	snprintf(owner, sizeof(owner), "root_owner=%u:%u", (unsigned)uid, (unsigned)gid);
	argv[n++] = "mkfs.ext4";
	argv[n++] = "-q";
	argv[n++] = "-O";
	argv[n++] = "mmp";
	argv[n++] = "-E";
	argv[n++] = owner;
	argv[n++] = path;
	argv[n] = NULL;
	rv = ctm__run(argv, output, sizeof(output));
	if (rv < 0) {
		ctm__error(0, errmsg, "storage '%s': mkfs.ext4 failed on '%s': %s", s->id, path,
		           output);
		unlink(path);
	}
	return rv;
}

static int make_subvol(const struct ctm_storage *s, const char *path, uid_t uid, gid_t gid,
                       char *errmsg)
{
	int rv = 0;

	if (mkdir(path, 0755) < 0)
		rv = -errno;
	else if (chmod(path, 0755) < 0 || chown(path, uid, gid) < 0) {
		rv = -errno;
		rmdir(path);
	}
	if (rv < 0)
		ctm__error(0, errmsg, "storage '%s': cannot create folder volume '%s': %s", s->id,
		           path, strerror(-rv));
	return rv;
}

int ctm_volume_alloc(const struct ctm_storage_cfg *cfg, const char *storage_id, const char *node,
                     unsigned vmid, uint64_t bytes, uid_t root_uid, gid_t root_gid, char **volid,
                     char *errmsg)
{
	const struct ctm_storage *s = ctm_storage_find(cfg, storage_id);
	bool used[MAX_DISKS_PER_GUEST] = {false};
	char *folder = NULL, *path = NULL, *id = NULL;
	unsigned n;
	int rv;

	*volid = NULL;
	if (!s) {
		ctm__error(
		    0, errmsg,
		    "storage '%s' does not exist: define it in storage.cfg or choose another",
		    storage_id);
		return -ENOENT;
	}
	rv = check_usable(s, node, errmsg);
	if (rv < 0)
		return rv;
	if (!(s->content & CTM_CONTENT_ROOTDIR)) {
		ctm__error(
		    0, errmsg,
		    "storage '%s' does not allow content type 'rootdir' (Container): add rootdir "
		    "to its content list",
		    s->id);
		return -EINVAL;
	}
	rv = activate(s, errmsg);
	if (rv < 0)
		return rv;

	folder = images_folder(s, vmid);
	if (!folder)
		return -ENOMEM;
	rv = make_folders(folder);
	if (rv == 0)
		rv = used_disk_numbers(folder, vmid, used);
	if (rv < 0) {
		ctm__error(0, errmsg, "storage '%s': cannot use folder '%s': %s", s->id, folder,
		           strerror(-rv));
		goto out;
	}
	for (n = 0; n < MAX_DISKS_PER_GUEST && used[n]; n++)
		;
	if (n == MAX_DISKS_PER_GUEST) {
		ctm__error(
		    0, errmsg,
		    "storage '%s': no free volume name for container %u: free unused volumes",
		    s->id, vmid);
		rv = -EEXIST;
		goto out;
	}

	if (bytes == 0) {
		id = ctm__printf("%s:subvol-%u-disk-%u", s->id, vmid, n);
		path = ctm__printf("%s/subvol-%u-disk-%u", folder, vmid, n);
	} else {
		id = ctm__printf("%s:%u/vm-%u-disk-%u.raw", s->id, vmid, vmid, n);
		path = ctm__printf("%s/vm-%u-disk-%u.raw", folder, vmid, n);
	}
	if (!id || !path) {
		rv = -ENOMEM;
		goto out;
	}
	rv = bytes == 0 ? make_subvol(s, path, root_uid, root_gid, errmsg)
	                : make_image(s, path, bytes, root_uid, root_gid, errmsg);
	if (rv == 0) {
		*volid = id;
		id = NULL;
	}
out:
	free(id);
	free(path);
	free(folder);
	return rv;
}

/* ---- Removal and snapshots ---- */

/* Remove every snapshot copy of VOLUME. */
static int remove_snapshot_copies(const struct ctm_volume *volume)
{
	const char *slash = strrchr(volume->path, '/');
	char *folder = strndup(volume->path, (size_t)(slash - volume->path));
	struct dirent *e;
	DIR *dir;
	int rv = 0;

	if (!folder)
		return -ENOMEM;
	dir = opendir(folder);
	if (!dir) {
		rv = errno == ENOENT ? 0 : -errno;
		free(folder);
		return rv;
	}
	while (rv == 0 && (e = readdir(dir))) {
		const char *dash;
		char *path;

		/* snap-NAME-FILE: NAME may hold '-', so match FILE at the end. */
		if (strncmp(e->d_name, "snap-", 5) != 0 || !has_suffix(e->d_name, volume->file))
			continue;
		dash = e->d_name + strlen(e->d_name) - strlen(volume->file) - 1;
		if (dash <= e->d_name + 5 || *dash != '-')
			continue;
		path = ctm__printf("%s/%s", folder, e->d_name);
		rv = path ? ctm__remove_tree(path) : -ENOMEM;
		free(path);
	}
	closedir(dir);
	free(folder);
	return rv;
}

int ctm_volume_free(const struct ctm_storage_cfg *cfg, const char *volid, char *errmsg)
{
	struct ctm_volume v;
	int rv = ctm_volume_resolve(cfg, volid, NULL, &v, errmsg);

	if (rv < 0)
		return rv;
	if (v.kind != CTM_VOLUME_RAW && v.kind != CTM_VOLUME_SUBVOL) {
		ctm__error(0, errmsg, "volume '%s' is not a container volume", volid);
		ctm_volume_clear(&v);
		return -EINVAL;
	}
	rv = ctm__remove_tree(v.path);
	if (rv == 0)
		rv = remove_snapshot_copies(&v);
	if (rv == -EBUSY)
		ctm__error(
		    0, errmsg,
		    "cannot remove volume '%s': something is mounted below '%s': unmount it first",
		    volid, v.path);
	else if (rv < 0)
		ctm__error(0, errmsg, "cannot remove volume '%s' (%s): %s", volid, v.path,
		           strerror(-rv));
	ctm_volume_clear(&v);
	return rv;
}

/* Resolve VOLID and the path of its snapshot SNAPNAME. */
static int resolve_snapshot(const struct ctm_storage_cfg *cfg, const char *volid,
                            const char *snapname, struct ctm_volume *v, char **snap_path,
                            char *errmsg)
{
	int rv = conf_snapshot_check_name(snapname, errmsg);

	if (rv < 0)
		return rv;
	rv = ctm_volume_resolve(cfg, volid, NULL, v, errmsg);
	if (rv < 0)
		return rv;
	if (v->kind != CTM_VOLUME_RAW && v->kind != CTM_VOLUME_SUBVOL) {
		ctm__error(0, errmsg, "volume '%s' is not a container volume", volid);
		ctm_volume_clear(v);
		return -EINVAL;
	}
	*snap_path = ctm_volume_snapshot_path(v, snapname);
	if (!*snap_path) {
		ctm_volume_clear(v);
		return -ENOMEM;
	}
	return 0;
}

/* Copy SRC to the new path DST with cp -a, through a temporary name so
 * that DST appears only complete. */
static int copy_tree(const char *src, const char *dst, char *output, size_t size)
{
	char *tmp = ctm__printf("%s.tmp-%ld", dst, (long)getpid());
	const char *argv[] = {"cp", "-a", "--reflink=auto", "--sparse=always", "-T", src,
	                      NULL, NULL};
	int rv;

	if (!tmp)
		return -ENOMEM;
	argv[6] = tmp;
	ctm__remove_tree(tmp);
	rv = ctm__run(argv, output, size);
	if (rv == 0 && rename(tmp, dst) < 0) {
		rv = -errno;
		snprintf(output, size, "cannot rename '%s': %s", tmp, strerror(errno));
	}
	if (rv < 0)
		ctm__remove_tree(tmp);
	free(tmp);
	return rv;
}

int ctm_volume_snapshot(const struct ctm_storage_cfg *cfg, const char *volid, const char *snapname,
                        char *errmsg)
{
	char output[CONF_ERRMSG_SIZE], *snap = NULL;
	struct ctm_volume v;
	struct stat st;
	int rv = resolve_snapshot(cfg, volid, snapname, &v, &snap, errmsg);

	if (rv < 0)
		return rv;
	if (lstat(v.path, &st) < 0) {
		rv = -errno;
		ctm__error(0, errmsg, "cannot snapshot volume '%s': '%s': %s", volid, v.path,
		           strerror(errno));
	} else if (lstat(snap, &st) == 0) {
		rv = -EEXIST;
		ctm__error(0, errmsg,
		           "snapshot '%s' of volume '%s' already exists: delete it first", snapname,
		           volid);
	} else {
		rv = copy_tree(v.path, snap, output, sizeof(output));
		if (rv < 0)
			ctm__error(0, errmsg, "cannot snapshot volume '%s': %s", volid, output);
	}
	free(snap);
	ctm_volume_clear(&v);
	return rv;
}

int ctm_volume_snapshot_rollback(const struct ctm_storage_cfg *cfg, const char *volid,
                                 const char *snapname, char *errmsg)
{
	char output[CONF_ERRMSG_SIZE], *snap = NULL, *fresh = NULL;
	struct ctm_volume v;
	struct stat st;
	int rv = resolve_snapshot(cfg, volid, snapname, &v, &snap, errmsg);

	if (rv < 0)
		return rv;
	if (lstat(snap, &st) < 0) {
		rv = -errno;
		ctm__error(0, errmsg, "cannot roll back volume '%s': snapshot copy '%s': %s", volid,
		           snap, strerror(errno));
		goto out;
	}
	fresh = ctm__printf("%s.rollback", v.path);
	if (!fresh) {
		rv = -ENOMEM;
		goto out;
	}

	/* Copy the snapshot next to the volume, then swap the two names in
	 * one step: a crash leaves either the old or the new data in place. */
	ctm__remove_tree(fresh);
	rv = copy_tree(snap, fresh, output, sizeof(output));
	if (rv < 0) {
		ctm__error(0, errmsg, "cannot roll back volume '%s': %s", volid, output);
		goto out;
	}
	if (renameat2(AT_FDCWD, fresh, AT_FDCWD, v.path, RENAME_EXCHANGE) < 0) {
		if (errno == ENOENT && rename(fresh, v.path) == 0) {
			rv = 0;
		} else {
			rv = -errno;
			ctm__error(0, errmsg, "cannot roll back volume '%s': rename: %s", volid,
			           strerror(errno));
		}
	}
	ctm__remove_tree(fresh);
out:
	free(fresh);
	free(snap);
	ctm_volume_clear(&v);
	return rv;
}

int ctm_volume_snapshot_delete(const struct ctm_storage_cfg *cfg, const char *volid,
                               const char *snapname, char *errmsg)
{
	struct ctm_volume v;
	char *snap = NULL;
	int rv = resolve_snapshot(cfg, volid, snapname, &v, &snap, errmsg);

	if (rv < 0)
		return rv;
	rv = ctm__remove_tree(snap);
	if (rv < 0)
		ctm__error(0, errmsg, "cannot delete snapshot '%s' of volume '%s': %s", snapname,
		           volid, strerror(-rv));
	free(snap);
	ctm_volume_clear(&v);
	return rv;
}

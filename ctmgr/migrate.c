/*
 * Container migration: the task on the source node, and what the target
 * node's agent does for it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <lxc/lxccontainer.h>

#include "conf/propstr.h"
#include "ctmgr/agent.h"
#include "ctmgr/ct_internal.h"
#include "ctmgr/ctm_internal.h"
#include "ctmgr/migrate.h"
#include "lock/ctlock.h"

/* ---- Task ids and logs ---- */

const char *ctm_task_dir(void)
{
	const char *dir = getenv("CTMGR_TASK_DIR");

	return dir && dir[0] ? dir : CTM_TASK_DIR;
}

void ctm_task_id(char *out, const char *node, pid_t pid, time_t start, unsigned ctid)
{
	snprintf(out, CTM_TASK_ID_SIZE, "UPID:%s:%08X:%08X:ctmigrate:%u:root:", node,
	         (unsigned)pid, (unsigned)start, ctid);
}

int ctm_task_id_node(const char *id, char *node, char *errmsg)
{
	const char *p = id + 5, *end;
	size_t n;

	if (strncmp(id, "UPID:", 5) || strlen(id) >= CTM_TASK_ID_SIZE || strchr(id, '/') ||
	    !(end = strchr(p, ':')) || (n = (size_t)(end - p)) == 0 || n >= 64)
		return ctm__error(-EINVAL, errmsg,
		                  "invalid task id '%.80s': expected UPID:NODE:PID:START:...", id);
	memcpy(node, p, n);
	node[n] = '\0';
	return 0;
}

static bool ends_with_newline(int fd, off_t size)
{
	char c = 0;

	return pread(fd, &c, 1, size - 1) == 1 && c == '\n';
}

/* Whether the task log FD of SIZE bytes ends with its final line: *DONE,
 * and *STATUS 0 for TASK OK, 1 for TASK ERROR. */
static void final_line(int fd, off_t size, bool *done, int *status)
{
	char tail[256];
	size_t want = size < (off_t)sizeof(tail) - 1 ? (size_t)size : sizeof(tail) - 1;
	ssize_t t = size > 0 ? pread(fd, tail, want, size - (off_t)want) : 0;
	const char *last;

	*done = false;
	*status = 0;
	if (t <= 0 || tail[t - 1] != '\n')
		return;
	tail[t - 1] = '\0';
	last = strrchr(tail, '\n');
	last = last ? last + 1 : tail;
	if (!strncmp(last, "TASK OK", 7)) {
		*done = true;
	} else if (!strncmp(last, "TASK ERROR", 10)) {
		*done = true;
		*status = 1;
	}
}

int ctm_task_log_create(const char *id)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", ctm_task_dir(), id);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int rv = -errno;

		close(fd);
		return rv;
	}
	return fd;
}

int ctm_task_end_orphan(const char *id, char *errmsg)
{
	static const char line[] = "TASK ERROR: " CTM_TASK_ORPHANED "\n";
	char node[64], path[PATH_MAX];
	bool done = false;
	struct stat st;
	int fd, rv, status;

	rv = ctm_task_id_node(id, node, errmsg);
	if (rv < 0)
		return rv;
	snprintf(path, sizeof(path), "%s/%s", ctm_task_dir(), id);
	fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return ctm__error(-errno, errmsg, "task %s: cannot open its log %s: %s", id, path,
		                  strerror(errno));
	/* The task process holds the lock until it ends; once the lock is
	 * ours, nothing writes the log any more, so the check below holds. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rv = errno == EWOULDBLOCK ? 0 : -errno;
		close(fd);
		if (rv < 0)
			ctm__error(rv, errmsg, "task %s: cannot lock its log %s: %s", id, path,
			           strerror(-rv));
		return rv;
	}
	if (fstat(fd, &st) < 0) {
		rv = ctm__error(-errno, errmsg, "task %s: cannot read its log %s: %s", id, path,
		                strerror(errno));
	} else {
		final_line(fd, st.st_size, &done, &status);
		/* A log cut in the middle of a line gets its line break first. */
		if (!done && st.st_size > 0 && !ends_with_newline(fd, st.st_size) &&
		    write(fd, "\n", 1) != 1)
			rv = -errno;
		if (!done && rv == 0 && write(fd, line, sizeof(line) - 1) != (ssize_t)sizeof(line) - 1)
			rv = -errno;
		if (rv < 0)
			ctm__error(rv, errmsg, "task %s: cannot write its log %s: %s", id, path,
			           strerror(-rv));
		else if (!done)
			rv = 1;
	}
	close(fd);
	return rv;
}

int ctm_task_end_orphans(unsigned *ended, char *errmsg)
{
	DIR *dir = opendir(ctm_task_dir());
	struct dirent *de;
	char msg[CONF_ERRMSG_SIZE];
	int rv = 0;

	*ended = 0;
	if (!dir) {
		if (errno == ENOENT)
			return 0;
		return ctm__error(-errno, errmsg, "cannot read the task folder %s: %s",
		                  ctm_task_dir(), strerror(errno));
	}
	while ((de = readdir(dir))) {
		int r;

		if (strncmp(de->d_name, "UPID:", 5))
			continue;
		r = ctm_task_end_orphan(de->d_name, msg);
		if (r == 1)
			(*ended)++;
		else if (r < 0 && rv == 0)
			rv = ctm__error(r, errmsg, "%s", msg);
	}
	closedir(dir);
	return rv;
}

int ctm_task_read(const char *id, uint64_t offset, char **data, size_t *len, bool *done,
                  int *status, char *errmsg)
{
	char node[64], path[PATH_MAX], *buf;
	struct stat st;
	ssize_t r;
	int fd, rv;

	rv = ctm_task_id_node(id, node, errmsg);
	if (rv < 0)
		return rv;
	snprintf(path, sizeof(path), "%s/%s", ctm_task_dir(), id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ctm__error(-errno, errmsg, "task %s: cannot open its log %s: %s", id, path,
		                  strerror(errno));
	if (fstat(fd, &st) < 0 || !(buf = malloc(CTM_TASK_SLICE + 1))) {
		close(fd);
		return ctm__error(-ENOMEM, errmsg, "task %s: cannot read its log", id);
	}
	r = offset < (uint64_t)st.st_size ? pread(fd, buf, CTM_TASK_SLICE, (off_t)offset) : 0;
	if (r < 0) {
		rv = -errno;
		close(fd);
		free(buf);
		return ctm__error(rv, errmsg, "task %s: cannot read %s: %s", id, path,
		                  strerror(-rv));
	}
	buf[r] = '\0';
	*done = false;
	*status = 0;
	if (offset + (uint64_t)r >= (uint64_t)st.st_size)
		final_line(fd, st.st_size, done, status);
	close(fd);
	*data = buf;
	*len = (size_t)r;
	return 0;
}

/* One timestamped line of the task log. */
static void tlog(FILE *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tlog(FILE *log, const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	if (!log)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(log, "%s.%03ld ", when, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(log, fmt, ap);
	va_end(ap);
	fputc('\n', log);
	fflush(log);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A storage id: 1 to 63 characters of [A-Za-z0-9_.-], not starting with '.'. */
static int check_storage_id(const char *id, char *errmsg)
{
	size_t len = strlen(id);

	if (len == 0 || len > 63 || id[0] == '.' || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                                    "abcdefghijklmnopqrstuvwxyz"
	                                                    "0123456789_.-") != len)
		return ctm__error(-EINVAL, errmsg,
		                  "invalid storage id '%.64s': use 1 to 63 characters of letters, "
		                  "digits, '_', '.' and '-', not starting with '.'",
		                  id);
	return 0;
}

/* Split TEXT, check that it is VERB with MIN to MAX fields in all. */
static int split_request(const char *text, const char *verb, const char *usage, char *buf,
                         char **w, size_t min, size_t max, size_t *n, char *errmsg)
{
	int rv = ctm_agent_split(text, buf, w, CTM_AGENT_WORDS_MAX, n, errmsg);

	if (rv < 0)
		return rv;
	if (strcmp(w[0], verb) || *n < min || *n > max)
		return ctm__error(-EINVAL, errmsg, "invalid request '%.64s': expected %s", text,
		                  usage);
	return 0;
}

static int parse_ctid(const char *word, unsigned *ctid, char *errmsg)
{
	uint64_t v;
	int rv = ctm_agent_number(word, "CTID", CTM_CTID_MIN, CTM_CTID_MAX, &v, errmsg);

	if (rv == 0)
		*ctid = (unsigned)v;
	return rv;
}

int ctm_migrate_parse(const char *text, struct ctm_migrate_params *p, char *errmsg)
{
	char buf[CTM_AGENT_REQUEST_MAX], *w[CTM_AGENT_WORDS_MAX];
	uint64_t v;
	size_t n;
	int rv;

	memset(p, 0, sizeof(*p));
	p->timeout = CTM_MIGRATE_TIMEOUT;
	rv = split_request(text, "migrate", "migrate CTID TARGET [RESTART [TIMEOUT]]", buf, w, 3,
	                   5, &n, errmsg);
	if (rv == 0)
		rv = parse_ctid(w[1], &p->ctid, errmsg);
	if (rv < 0)
		return rv;
	if (strlen(w[2]) >= sizeof(p->target) || strchr(w[2], '/') || w[2][0] == '.')
		return ctm__error(-EINVAL, errmsg,
		                  "invalid target node '%.64s': use the name of a cluster node", w[2]);
	snprintf(p->target, sizeof(p->target), "%s", w[2]);
	if (n > 3) {
		if ((rv = ctm_agent_number(w[3], "restart flag", 0, 1, &v, errmsg)) < 0)
			return rv;
		p->restart = v != 0;
	}
	if (n > 4) {
		if ((rv = ctm_agent_number(w[4], "timeout", 1, UINT_MAX, &v, errmsg)) < 0)
			return rv;
		p->timeout = (unsigned)v;
	}
	return 0;
}

int ctm_migrate_parse_expect(const char *text, struct ctm_migrate_expect *e, char *errmsg)
{
	char buf[CTM_AGENT_REQUEST_MAX], *w[CTM_AGENT_WORDS_MAX], xmsg[CTM_XFER_ERRMSG_SIZE];
	size_t n;
	int rv;

	memset(e, 0, sizeof(*e));
	rv = split_request(text, "expect", "expect CTID TOKEN STORAGE", buf, w, 4, 4, &n, errmsg);
	if (rv == 0)
		rv = parse_ctid(w[1], &e->ctid, errmsg);
	if (rv < 0)
		return rv;
	if (ctm_xfer_check_token(w[2], xmsg) < 0)
		return ctm__error(-EINVAL, errmsg, "%.250s", xmsg);
	rv = check_storage_id(w[3], errmsg);
	if (rv < 0)
		return rv;
	snprintf(e->token, sizeof(e->token), "%s", w[2]);
	snprintf(e->storage, sizeof(e->storage), "%s", w[3]);
	return 0;
}

int ctm_migrate_parse_volume(const char *text, const char *verb, unsigned *ctid, char *storage,
                             char *volume, char *errmsg)
{
	char buf[CTM_AGENT_REQUEST_MAX], *w[CTM_AGENT_WORDS_MAX], xmsg[CTM_XFER_ERRMSG_SIZE];
	char usage[64];
	size_t n;
	int rv;

	snprintf(usage, sizeof(usage), "%.16s CTID STORAGE VOLUME", verb);
	rv = split_request(text, verb, usage, buf, w, 4, 4, &n, errmsg);
	if (rv == 0)
		rv = parse_ctid(w[1], ctid, errmsg);
	if (rv == 0)
		rv = check_storage_id(w[2], errmsg);
	if (rv < 0)
		return rv;
	if (ctm_xfer_check_volume(w[3], xmsg) < 0)
		return ctm__error(-EINVAL, errmsg, "%.250s", xmsg);
	snprintf(storage, 64, "%s", w[2]);
	snprintf(volume, CTM_XFER_VOLUME_MAX + 1, "%s", w[3]);
	return 0;
}

int ctm_migrate_parse_tasklog(const char *text, char *id, uint64_t *offset, char *errmsg)
{
	char buf[CTM_AGENT_REQUEST_MAX], *w[CTM_AGENT_WORDS_MAX], node[64];
	size_t n;
	int rv;

	rv = split_request(text, "tasklog", "tasklog ID OFFSET", buf, w, 3, 3, &n, errmsg);
	if (rv == 0)
		rv = ctm_task_id_node(w[1], node, errmsg);
	if (rv == 0)
		rv = ctm_agent_number(w[2], "offset", 0, INT64_MAX, offset, errmsg);
	if (rv < 0)
		return rv;
	snprintf(id, CTM_TASK_ID_SIZE, "%s", w[1]);
	return 0;
}

/* ---- Cluster facts: port, addresses, key ---- */

int ctm_migrate_port(struct ctm_ctx *ctx, uint16_t *port, char *errmsg)
{
	char *text = NULL, *line, *save = NULL;
	int rv;

	*port = CTM_MIGRATE_PORT;
	rv = pfs_get(ctx->conn, "/datacenter.cfg", &text, NULL, NULL);
	if (rv == -ENOENT)
		return 0;
	if (rv < 0)
		return ctm__error(rv, errmsg, "cannot read datacenter.cfg: %s", strerror(-rv));
	rv = 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v, *item, *isave = NULL;

		if (strncmp(line, "migration:", 10))
			continue;
		v = line + 10;
		for (item = strtok_r(v, ", \t", &isave); item; item = strtok_r(NULL, ", \t", &isave)) {
			char *end;
			unsigned long n;

			if (strncmp(item, "port=", 5))
				continue;
			errno = 0;
			n = strtoul(item + 5, &end, 10);
			if (errno || *end || end == item + 5 || n < 1 || n > 65535) {
				rv = ctm__error(-EINVAL, errmsg,
				                "datacenter.cfg: invalid migration port '%s': use "
				                "1 to 65535",
				                item + 5);
				goto out;
			}
			*port = (uint16_t)n;
		}
	}
out:
	free(text);
	return rv;
}

/* The /.members JSON: *ROOT (json_object_put()). */
static int read_members(struct ctm_ctx *ctx, struct json_object **root, char *errmsg)
{
	char *text = NULL;
	int rv;

	rv = pfs_get(ctx->conn, "/.members", &text, NULL, NULL);
	if (rv < 0)
		return ctm__error(rv, errmsg, "cannot read /.members: %s", strerror(-rv));
	*root = json_tokener_parse(text);
	free(text);
	if (!*root)
		return ctm__error(-EBADMSG, errmsg, "/.members is not the JSON pmxfs writes");
	return 0;
}

/* NODE's entry in /.members, or -ENOENT; *ONLINE and ADDR (64 bytes). */
static int member_info(struct ctm_ctx *ctx, const char *node, bool *online, char *addr,
                       char *errmsg)
{
	struct json_object *root = NULL, *list, *m, *v;
	int rv;

	rv = read_members(ctx, &root, errmsg);
	if (rv < 0)
		return rv;
	if (!json_object_object_get_ex(root, "nodelist", &list) ||
	    !json_object_object_get_ex(list, node, &m)) {
		json_object_put(root);
		return ctm__error(-ENOENT, errmsg,
		                  "node '%s' is not a member of the cluster: check the name "
		                  "(ctmgr list shows the nodes)",
		                  node);
	}
	*online = json_object_object_get_ex(m, "online", &v) && json_object_get_int(v) == 1;
	addr[0] = '\0';
	if (json_object_object_get_ex(m, "ip", &v))
		snprintf(addr, 64, "%s", json_object_get_string(v));
	json_object_put(root);
	return 0;
}

int ctm_migrate_node_addr(struct ctm_ctx *ctx, const char *node, char *addr, char *errmsg)
{
	bool online = false;
	int rv = member_info(ctx, node, &online, addr, errmsg);

	if (rv == 0 && !addr[0])
		rv = ctm__error(-ENOENT, errmsg,
		                "node %s has no ring address in the corosync node list: set its "
		                "ring0_addr",
		                node);
	return rv;
}

int ctm_migrate_key(struct ctm_ctx *ctx, struct ctm_xfer_key *key, char *errmsg)
{
	char msg[CTM_XFER_ERRMSG_SIZE];
	char *text = NULL;
	size_t len = 0;
	int rv;

	rv = pfs_get(ctx->conn, CTM_CLUSTER_KEY_PATH, &text, &len, NULL);
	if (rv == -ENOENT)
		return ctm__error(rv, errmsg,
		                  "the cluster key %s does not exist yet: pmxfs creates it once "
		                  "the cluster is quorate",
		                  CTM_CLUSTER_KEY_PATH);
	if (rv < 0)
		return ctm__error(rv, errmsg, "cannot read the cluster key %s: %s",
		                  CTM_CLUSTER_KEY_PATH, strerror(-rv));
	rv = ctm_xfer_key_derive(text, len, key, msg);
	explicit_bzero(text, len);
	free(text);
	if (rv < 0)
		return ctm__error(rv, errmsg, "%s", msg);
	return 0;
}

/* ---- The source side ---- */

/* A volume to copy: its path on this node and below the storage. */
struct copy {
	char *volid;    /* NULL for a snapshot copy */
	char storage[64];
	char *dir;      /* absolute path here */
	char *rel;      /* path below the storage */
	bool raw;       /* a raw image file, sent in a folder of its own */
	bool done;      /* arrived on the target */
};

struct plan {
	struct ctm_ct *ct;
	struct ctm_storage_cfg *storage;
	struct copy *copies;
	size_t ncopies;
	char **local_volids; /* to free on the source at the end */
	size_t nlocal;
	bool running;
};

static void plan_clear(struct plan *pl)
{
	for (size_t i = 0; i < pl->ncopies; i++) {
		free(pl->copies[i].volid);
		free(pl->copies[i].dir);
		free(pl->copies[i].rel);
	}
	free(pl->copies);
	for (size_t i = 0; i < pl->nlocal; i++)
		free(pl->local_volids[i]);
	free(pl->local_volids);
	ctm_ct_free(pl->ct);
	ctm_storage_cfg_free(pl->storage);
	memset(pl, 0, sizeof(*pl));
}

static int add_copy(struct plan *pl, const char *volid, const struct ctm_storage *st,
                    const char *dir, bool raw)
{
	size_t plen = strlen(st->path);
	struct copy *c;

	while (plen > 1 && st->path[plen - 1] == '/')
		plen--;
	if (strncmp(dir, st->path, plen) || dir[plen] != '/')
		return -EINVAL;
	if (ctm__grow(&pl->copies, pl->ncopies, sizeof(*pl->copies)) < 0)
		return -ENOMEM;
	c = &pl->copies[pl->ncopies];
	memset(c, 0, sizeof(*c));
	snprintf(c->storage, sizeof(c->storage), "%s", st->id);
	c->volid = volid ? strdup(volid) : NULL;
	c->dir = strdup(dir);
	c->rel = strdup(dir + plen + 1);
	c->raw = raw;
	pl->ncopies++;
	if ((volid && !c->volid) || !c->dir || !c->rel)
		return -ENOMEM;
	return 0;
}

static bool in_list(char **list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

/*
 * Check everything that can be checked before anything changes, and work
 * out the volumes to copy. PL->ct is the config as read.
 */
static int plan_make(struct ctm_ctx *ctx, const struct ctm_migrate_params *p, struct plan *pl,
                     char *errmsg)
{
	char addr[64], msg[CONF_ERRMSG_SIZE];
	struct conf_section *main_s;
	bool online = false;
	int rv;

	if (!ctx->quorate)
		return ctm__error(-EROFS, errmsg,
		                  "the cluster is not quorate: migrate once node %s is quorate "
		                  "again",
		                  ctx->node);
	if (!strcmp(p->target, ctx->node))
		return ctm__error(-EINVAL, errmsg,
		                  "CT %u: the target node %s is the node it is on: name another "
		                  "node",
		                  p->ctid, p->target);
	rv = member_info(ctx, p->target, &online, addr, errmsg);
	if (rv < 0)
		return rv;
	if (!online)
		return ctm__error(-EHOSTUNREACH, errmsg,
		                  "target node %s is offline: start it or pick another node",
		                  p->target);
	rv = ctm_ct_load(ctx, p->ctid, &pl->ct, errmsg);
	if (rv < 0)
		return rv;
	rv = ctm__ct_require_local(ctx, pl->ct, errmsg);
	if (rv < 0)
		return rv;
	main_s = conf_main(pl->ct->cf);
	{
		const char *lock = conf_get(main_s, "lock");

		if (lock && lock[0])
			return ctm__error(-EBUSY, errmsg,
			                  "CT %u is locked (%s): wait for the operation or clear it "
			                  "with ctmgr unlock %u",
			                  p->ctid, lock, p->ctid);
	}
	rv = ctm_ct_running(ctx, p->ctid, &pl->running, errmsg);
	if (rv < 0)
		return rv;
	if (pl->running && !p->restart)
		return ctm__error(-EBUSY, errmsg,
		                  "CT %u is running: add --restart to shut it down for the "
		                  "migration and start it on %s, or stop it first",
		                  p->ctid, p->target);

	/* Bind and device mount points must exist on the target as well. */
	for (size_t i = 0; i < main_s->n_keys; i++) {
		struct conf_mountpoint mp = {0};
		const struct conf_entry *e = &main_s->keys[i];

		if (strncmp(e->key, "mp", 2) || !e->key[2])
			continue;
		if (conf_mp_parse(e->value, &mp, msg) < 0) {
			rv = ctm__error(-EINVAL, errmsg, "CT %u: %s: %s", p->ctid, e->key, msg);
			conf_mountpoint_clear(&mp);
			return rv;
		}
		if ((mp.volume_type == CONF_VOLUME_BIND || mp.volume_type == CONF_VOLUME_DEVICE) &&
		    mp.shared != 1)
			rv = ctm__error(-EINVAL, errmsg,
			                "CT %u: mount point %s (%s) is a local %s mount: if %s "
			                "holds the same data on node %s, mark it shared=1, else "
			                "remove it before the migration",
			                p->ctid, e->key, mp.volume,
			                mp.volume_type == CONF_VOLUME_BIND ? "bind" : "device",
			                mp.volume, p->target);
		conf_mountpoint_clear(&mp);
		if (rv < 0)
			return rv;
	}

	/* Every storage must be usable on the target; local volumes are copied. */
	rv = ctm__ct_storage(ctx, &pl->storage, errmsg);
	if (rv < 0)
		return rv;
	for (size_t s = 0; s < pl->ct->cf->n_sections; s++) {
		const struct conf_section *sec = &pl->ct->cf->sections[s];
		char **volids = NULL;

		rv = ctm_ct_section_volumes(sec, true, &volids);
		if (rv < 0)
			return ctm__error(rv, errmsg, "out of memory");
		for (size_t v = 0; volids[v] && rv == 0; v++) {
			struct ctm_volume vol = {0};

			if (in_list(pl->local_volids, pl->nlocal, volids[v]))
				continue;
			rv = ctm_volume_resolve(pl->storage, volids[v], p->target, &vol, msg);
			if (rv < 0) {
				rv = ctm__error(rv, errmsg,
				                "CT %u: volume %s cannot be used on node %s: %s",
				                p->ctid, volids[v], p->target, msg);
				break;
			}
			if (vol.storage->shared) {
				ctm_volume_clear(&vol);
				continue;
			}
			if (vol.kind != CTM_VOLUME_SUBVOL && vol.kind != CTM_VOLUME_RAW) {
				rv = ctm__error(-EINVAL, errmsg,
				                "CT %u: volume %s is neither a folder nor a raw image",
				                p->ctid, volids[v]);
				ctm_volume_clear(&vol);
				break;
			}
			if (ctm__grow(&pl->local_volids, pl->nlocal, sizeof(char *)) < 0 ||
			    !(pl->local_volids[pl->nlocal] = strdup(volids[v]))) {
				rv = -ENOMEM;
			} else {
				pl->nlocal++;
				rv = add_copy(pl, volids[v], vol.storage, vol.path,
				              vol.kind == CTM_VOLUME_RAW);
			}
			/* Snapshot copies of the volume, where they exist. */
			for (size_t k = 0; k < pl->ct->cf->n_sections && rv == 0; k++) {
				const struct conf_section *snap = &pl->ct->cf->sections[k];
				char *sp;

				if (snap->kind != CONF_SECTION_SNAPSHOT)
					continue;
				sp = ctm_volume_snapshot_path(&vol, snap->name);
				if (sp && access(sp, F_OK) == 0)
					rv = add_copy(pl, NULL, vol.storage, sp,
					              vol.kind == CTM_VOLUME_RAW);
				free(sp);
			}
			ctm_volume_clear(&vol);
			if (rv == -ENOMEM)
				ctm__error(rv, errmsg, "out of memory");
			else if (rv < 0)
				ctm__error(rv, errmsg, "CT %u: volume %s is not below its storage",
				           p->ctid, volids[v]);
		}
		ctm_strv_free(volids);
		if (rv < 0)
			return rv;
	}
	return 0;
}

/* Shut CTID down, killing it after TIMEOUT seconds. */
static int shut_down(struct ctm_ctx *ctx, unsigned ctid, unsigned timeout, FILE *log,
                     char *errmsg)
{
	struct lxc_container *c = ctm__ct_lxc(ctx, ctid);
	int rv = 0;

	if (!c)
		return ctm__error(-EIO, errmsg, "CT %u: liblxc cannot open the container", ctid);
	/* Judge by the state liblxc reports after each step, never by the
	 * return values: the copy must not start while the container runs. */
	if (c->is_running(c)) {
		tlog(log, "shutting down CT %u (timeout %u s)", ctid, timeout);
		if (timeout > 0)
			c->shutdown(c, timeout > INT_MAX ? INT_MAX : (int)timeout);
		if (c->is_running(c)) {
			tlog(log, "CT %u did not stop within %u s: killing it", ctid, timeout);
			c->stop(c);
			if (c->is_running(c))
				rv = ctm__error(-EIO, errmsg,
				                "CT %u: liblxc cannot kill the container: it is still "
				                "running",
				                ctid);
		}
	}
	if (rv == 0)
		ctm__ct_unstage(ctx, ctid);
	lxc_container_put(c);
	return rv;
}

struct progress {
	FILE *log;
	const char *rel;
	unsigned tenth;
	double start;
	double last; /* of the last progress line */
	bool paused; /* the test hook ran */
};

static int on_progress(uint64_t bytes, uint64_t total, void *data)
{
	struct progress *pr = data;
	unsigned tenth = total ? (unsigned)(bytes * 10 / total) : 0;
	const char *pause = getenv(CTM_MIGRATE_COPY_PAUSE_ENV);

	/* Test only: a window in which the copy is surely under way. */
	if (pause && atoi(pause) > 0 && !pr->paused) {
		pr->paused = true;
		tlog(pr->log, "test hook: pausing %d s during the copy of %s", atoi(pause),
		     pr->rel);
		sleep((unsigned)atoi(pause));
	}

	/* A line at each tenth of the estimate, at most one a second. */
	if (tenth > pr->tenth && tenth <= 10 && mono_s() - pr->last >= 1.0) {
		double s = mono_s() - pr->start;

		pr->tenth = tenth;
		pr->last = mono_s();
		tlog(pr->log, "%s: %" PRIu64 " of about %" PRIu64 " bytes (%.1f MB/s)", pr->rel,
		     bytes, total, s > 0 ? (double)bytes / s / 1e6 : 0.0);
	}
	return 0;
}

/* Send request TEXT to the agent of NODE; fold its status into the return. */
static int ask(struct ctm_ctx *ctx, const char *node, const char *text, unsigned timeout_s,
               char *msg)
{
	int result = 0, rv;

	rv = ctm_agent_forward(ctx, node, text, timeout_s, &result, msg);
	return rv < 0 ? rv : result;
}

/*
 * Copy one volume: announce it to the target's agent, then send it. A raw
 * image goes as the folder images/<CTID>/migrate-<token> holding a hard
 * link to it, which the target's agent then empties into images/<CTID>
 * (request "place").
 */
static int copy_one(struct ctm_ctx *ctx, const struct ctm_migrate_params *p, struct copy *c,
                    const struct ctm_xfer_key *key, const char *addr, uint16_t port,
                    const char *token, FILE *log, uint64_t *bytes, char *errmsg)
{
	char req[PATH_MAX + 64], msg[CONF_ERRMSG_SIZE], xmsg[CTM_XFER_ERRMSG_SIZE];
	char stage[PATH_MAX] = "", link_path[PATH_MAX * 2] = "", stage_rel[PATH_MAX] = "";
	struct ctm_xfer_header h = {p->ctid, token, c->rel, 0};
	struct progress pr = {log, c->rel, 0, mono_s(), mono_s(), false};
	struct ctm_xfer_opts opts = {0};
	struct ctm_xfer_result res = {0};
	const char *send_dir = c->dir;
	int rv;

	if (c->raw) {
		const char *base = strrchr(c->dir, '/') + 1;
		const char *rel_base = strrchr(c->rel, '/');

		snprintf(stage, sizeof(stage), "%.*s/migrate-%s", (int)(base - c->dir - 1), c->dir,
		         token);
		snprintf(stage_rel, sizeof(stage_rel), "%.*s/migrate-%s",
		         rel_base ? (int)(rel_base - c->rel) : 0, c->rel, token);
		snprintf(link_path, sizeof(link_path), "%s/%s", stage, base);
		if (mkdir(stage, 0700) < 0 || link(c->dir, link_path) < 0) {
			rv = -errno;
			rmdir(stage);
			return ctm__error(rv, errmsg, "cannot prepare %s for the copy in %s: %s",
			                  c->dir, stage, strerror(-rv));
		}
		send_dir = stage;
		h.volume = stage_rel;
	}
	snprintf(req, sizeof(req), "expect %u %s %s", p->ctid, token, c->storage);
	rv = ask(ctx, p->target, req, 30, msg);
	if (rv < 0) {
		ctm__error(rv, errmsg, "the agent of node %s cannot receive %s: %s", p->target,
		           c->rel, msg);
		goto out;
	}
	/* The copy's time starts here, without the request to the agent. */
	pr.start = pr.last = mono_s();
	opts.progress = on_progress;
	opts.progress_data = &pr;
	tlog(log, "copying %s (storage %s) to %s:%u", c->rel, c->storage, addr, port);
	rv = ctm_xfer_send(key, addr, port, &h, send_dir, &opts, &res, xmsg);
	if (rv < 0) {
		ctm__error(rv, errmsg, "%s", xmsg);
		goto out;
	}
	if (c->raw) {
		snprintf(req, sizeof(req), "place %u %s %s", p->ctid, c->storage, stage_rel);
		rv = ask(ctx, p->target, req, 60, msg);
		if (rv < 0) {
			ctm__error(rv, errmsg, "the agent of node %s cannot move %s into place: %s",
			           p->target, c->rel, msg);
			snprintf(req, sizeof(req), "abort %u %s %s", p->ctid, c->storage, stage_rel);
			if (ask(ctx, p->target, req, 60, msg) < 0)
				tlog(log, "cannot remove %s of storage %s on node %s: %s", stage_rel,
				     c->storage, p->target, msg);
			goto out;
		}
	}
	c->done = true;
	*bytes += res.archive_bytes;
	tlog(log, "copied %s: %" PRIu64 " bytes, %" PRIu64 " entries in %.3f s", c->rel,
	     res.archive_bytes, res.entries, mono_s() - pr.start);
out:
	if (c->raw) {
		unlink(link_path);
		rmdir(stage);
	}
	return rv;
}

/* Undo before the rename: remove the copies, clear the lock, restart. */
static void roll_back(struct ctm_ctx *ctx, const struct ctm_migrate_params *p, struct plan *pl,
                      bool locked, bool stopped, FILE *log)
{
	char req[4200], msg[CONF_ERRMSG_SIZE];
	int result, rv;

	for (size_t i = 0; i < pl->ncopies; i++) {
		if (!pl->copies[i].done)
			continue;
		snprintf(req, sizeof(req), "abort %u %s %s", p->ctid, pl->copies[i].storage,
		         pl->copies[i].rel);
		result = 0;
		rv = ctm_agent_forward(ctx, p->target, req, 60, &result, msg);
		if (rv == 0 && result < 0)
			rv = result;
		if (rv < 0)
			tlog(log, "cannot remove the copy of %s on node %s: %s; remove %s of "
			     "storage %s there by hand",
			     pl->copies[i].rel, p->target, msg, pl->copies[i].rel,
			     pl->copies[i].storage);
		else
			tlog(log, "removed the copy of %s on node %s", pl->copies[i].rel, p->target);
	}
	if (locked) {
		rv = ctlock_clear(ctx->conn, p->ctid, "migrate", NULL, msg);
		if (rv < 0)
			tlog(log, "cannot clear the lock of CT %u: %s; run ctmgr unlock %u", p->ctid,
			     msg, p->ctid);
		else
			tlog(log, "cleared the lock of CT %u", p->ctid);
	}
	if (stopped) {
		rv = ctm_agent_start(ctx, p->ctid, msg);
		if (rv < 0)
			tlog(log, "cannot start CT %u again on node %s: %s", p->ctid, ctx->node, msg);
		else
			tlog(log, "started CT %u again on node %s", p->ctid, ctx->node);
	}
}

int ctm_migrate_run(struct ctm_ctx *ctx, const struct ctm_migrate_params *p, FILE *log,
                    char *errmsg)
{
	char addr[64], token[CTM_XFER_TOKEN_MAX + 1], msg[CONF_ERRMSG_SIZE];
	char to[4200], lxcdir[PATH_MAX];
	struct ctm_xfer_key key = {0};
	struct pfs_cond cond = {0};
	struct plan pl = {0};
	bool locked = false, stopped = false;
	double t0 = mono_s(), down_at = 0;
	uint64_t bytes = 0;
	uint16_t port = 0;
	const char *pause;
	int rv, result = 0;

	tlog(log, "starting migration of CT %u from node %s to node %s%s", p->ctid, ctx->node,
	     p->target, p->restart ? " (restart mode)" : "");
	rv = plan_make(ctx, p, &pl, errmsg);
	if (rv == 0 && pl.ncopies > 0) {
		rv = ctm_migrate_key(ctx, &key, errmsg);
		if (rv == 0)
			rv = ctm_migrate_port(ctx, &port, errmsg);
		if (rv == 0)
			rv = ctm_migrate_node_addr(ctx, p->target, addr, errmsg);
	}
	if (rv < 0)
		goto out;
	tlog(log, "checks passed: CT %u is %s; %zu local %s, %zu %s with their snapshot copies",
	     p->ctid, pl.running ? "running" : "stopped", pl.nlocal,
	     pl.nlocal == 1 ? "volume" : "volumes", pl.ncopies,
	     pl.ncopies == 1 ? "transfer" : "transfers");

	/* The lock, written only on the config version the checks saw. */
	rv = conf_set(conf_main(pl.ct->cf), "lock", "migrate");
	if (rv == 0)
		rv = ctm_ct_save(ctx, pl.ct, errmsg);
	else
		ctm__error(rv, errmsg, "out of memory");
	if (rv == -ESTALE) {
		struct ctlock_state now;

		if (ctlock_get(ctx->conn, p->ctid, &now, NULL) == 0 && (now.value[0] || now.raw[0]))
			ctm__error(-EBUSY, errmsg,
			           "CT %u is locked (%s): another operation started meanwhile",
			           p->ctid, now.value[0] ? now.value : now.raw);
		else
			ctm__error(rv, errmsg,
			           "CT %u: the config changed during the checks: run the migration "
			           "again",
			           p->ctid);
		rv = -EBUSY;
	}
	if (rv < 0)
		goto out;
	locked = true;
	tlog(log, "set lock: migrate on CT %u", p->ctid);

	if (pl.running) {
		down_at = mono_s();
		rv = shut_down(ctx, p->ctid, p->timeout, log, errmsg);
		if (rv < 0)
			goto out;
		stopped = true;
		tlog(log, "CT %u stopped after %.3f s", p->ctid, mono_s() - down_at);
	}

	for (size_t i = 0; i < pl.ncopies; i++) {
		snprintf(token, sizeof(token), "%lx-%d-%zu", (unsigned long)time(NULL),
		         (int)getpid(), i);
		rv = copy_one(ctx, p, &pl.copies[i], &key, addr, port, token, log, &bytes,
		              errmsg);
		if (rv < 0)
			goto out;
	}
	if (pl.ncopies)
		tlog(log, "copied %zu %s, %" PRIu64 " bytes", pl.ncopies,
		     pl.ncopies == 1 ? "volume" : "volumes", bytes);

	/* The one atomic step: the config moves with the version locked. */
	snprintf(to, sizeof(to), "/nodes/%s/lxc/%u.conf", p->target, p->ctid);
	cond.has_version = 1;
	cond.version = pl.ct->version;
	rv = pfs_rename(ctx->conn, pl.ct->path, to, &cond);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: moving the config %s to %s failed: %s", p->ctid,
		           pl.ct->path, to, pfs_last_error(ctx->conn)[0] ? pfs_last_error(ctx->conn)
		                                                     : strerror(-rv));
		if (rv == -EINPROGRESS) {
			/* The outcome is unknown: touch nothing. */
			tlog(log, "%s; the outcome is unknown: check where the config is with "
			     "ctmgr list, then run ctmgr unlock %u",
			     errmsg, p->ctid);
			locked = stopped = false;
			pl.ncopies = 0;
		}
		goto out;
	}
	tlog(log, "moved the config to %s: CT %u belongs to node %s now", to, p->ctid,
	     p->target);
	pause = getenv(CTM_MIGRATE_PAUSE_ENV);
	if (pause && atoi(pause) > 0) {
		tlog(log, "test hook: pausing %d s after the rename", atoi(pause));
		sleep((unsigned)atoi(pause));
	}

	rv = ctlock_clear(ctx->conn, p->ctid, "migrate", NULL, msg);
	if (rv < 0) {
		rv = ctm__error(rv, errmsg,
		                "CT %u is on node %s now, but its lock could not be cleared: %s; "
		                "run ctmgr unlock %u%s, then remove its old volumes on node %s",
		                p->ctid, p->target, msg, p->ctid,
		                pl.running ? ", start it there" : "", ctx->node);
		goto done;
	}
	tlog(log, "cleared the lock of CT %u", p->ctid);
	if (pl.running) {
		snprintf(to, sizeof(to), "start %u", p->ctid);
		rv = ctm_agent_forward(ctx, p->target, to, 300, &result, msg);
		if (rv == 0 && result < 0)
			rv = result;
		if (rv < 0) {
			rv = ctm__error(rv, errmsg,
			                "CT %u is on node %s now, but starting it there failed: %s; "
			                "start it with ctmgr start %u, then remove its old volumes "
			                "on node %s",
			                p->ctid, p->target, msg, p->ctid, ctx->node);
			goto done;
		}
		tlog(log, "started CT %u on node %s; downtime %.3f s", p->ctid, p->target,
		     mono_s() - down_at);
	}
	/* The source's copies go last: the container runs from the target's. */
	for (size_t i = 0; i < pl.nlocal; i++) {
		if (ctm_volume_free(pl.storage, pl.local_volids[i], msg) < 0)
			tlog(log, "cannot remove the source copy of %s: %s; remove it by hand",
			     pl.local_volids[i], msg);
		else
			tlog(log, "removed the source copy of %s", pl.local_volids[i]);
	}
	/* The images/<CTID> folders, once empty. */
	for (size_t i = 0; i < pl.ncopies; i++) {
		char *slash = strrchr(pl.copies[i].dir, '/');

		if (slash) {
			*slash = '\0';
			rmdir(pl.copies[i].dir);
		}
	}
	snprintf(lxcdir, sizeof(lxcdir), "%s/%u", ctm__ct_lxc_path(ctx), p->ctid);
	ctm__remove_tree(lxcdir);
	tlog(log, "migration of CT %u to node %s finished in %.3f s", p->ctid, p->target,
	     mono_s() - t0);
done:
	if (rv < 0)
		for (size_t i = 0; i < pl.nlocal; i++)
			tlog(log, "left on node %s: %s", ctx->node, pl.local_volids[i]);
	explicit_bzero(&key, sizeof(key));
	plan_clear(&pl);
	return rv;
out:
	tlog(log, "migration failed before the config moved: %s", errmsg);
	roll_back(ctx, p, &pl, locked, stopped, log);
	explicit_bzero(&key, sizeof(key));
	plan_clear(&pl);
	return rv;
}

/* ---- The target side ---- */

int ctm_migrate_storage_path(struct ctm_ctx *ctx, const char *storage_id, char **path,
                             char *errmsg)
{
	struct ctm_storage_cfg *cfg = NULL;
	const struct ctm_storage *st;
	int rv;

	rv = ctm__ct_storage(ctx, &cfg, errmsg);
	if (rv < 0)
		return rv;
	st = ctm_storage_find(cfg, storage_id);
	if (!st || strcmp(st->type, "dir"))
		rv = ctm__error(-ENOENT, errmsg, "storage '%s' is not a dir storage of storage.cfg",
		                storage_id);
	else if (!(*path = strdup(st->path)))
		rv = ctm__error(-ENOMEM, errmsg, "out of memory");
	ctm_storage_cfg_free(cfg);
	return rv;
}

struct route {
	struct ctm_ctx *ctx;
	const struct ctm_migrate_expect *exp;
	size_t n;
	int report_fd;
	const char *node;
};

static int route_expected(const struct ctm_xfer_header *h, void *data, char *storage,
                          char *errmsg)
{
	const struct route *r = data;
	const struct ctm_migrate_expect *e = NULL;
	char msg[CONF_ERRMSG_SIZE];
	struct timespec ts;
	int64_t now;
	char *path = NULL;
	ssize_t w;
	int rv;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	for (size_t i = 0; i < r->n; i++)
		if (r->exp[i].ctid == h->ctid && !strcmp(r->exp[i].token, h->token) &&
		    (!r->exp[i].deadline_ms || r->exp[i].deadline_ms > now))
			e = &r->exp[i];
	if (!e) {
		snprintf(errmsg, CTM_XFER_ERRMSG_SIZE,
		         "node %s expects no transfer of CT %u with token %s: the migration "
		         "did not announce it, or waited too long",
		         r->node, h->ctid, h->token);
		return -EACCES;
	}
	if (strncmp(h->volume, "images/", 7)) {
		snprintf(errmsg, CTM_XFER_ERRMSG_SIZE, "volume %s is not below images/",
		         h->volume);
		return -EACCES;
	}
	rv = ctm_migrate_storage_path(r->ctx, e->storage, &path, msg);
	if (rv < 0) {
		snprintf(errmsg, CTM_XFER_ERRMSG_SIZE, "%s", msg);
		return rv;
	}
	snprintf(storage, PATH_MAX, "%s", path);
	free(path);
	if (r->report_fd >= 0) {
		do
			w = write(r->report_fd, e, sizeof(*e));
		while (w < 0 && errno == EINTR);
	}
	return 0;
}

int ctm_migrate_receive_fd(struct ctm_ctx *ctx, struct ctm_xfer_server *server, int fd,
                           const struct ctm_migrate_expect *exp, size_t n, int report_fd,
                           char *errmsg)
{
	char xmsg[CTM_XFER_ERRMSG_SIZE];
	struct route r = {ctx, exp, n, report_fd, ctx->node};
	struct ctm_xfer_opts opts = {0};
	int rv;

	opts.route = route_expected;
	opts.accept_data = &r;
	rv = ctm_xfer_server_receive_fd(server, fd, &opts, NULL, NULL, xmsg);
	if (rv < 0)
		return ctm__error(rv, errmsg, "%s", xmsg);
	return 0;
}

int ctm_migrate_abort(struct ctm_ctx *ctx, unsigned ctid, const char *storage_id,
                      const char *volume, char *errmsg)
{
	char xmsg[CTM_XFER_ERRMSG_SIZE], prefix[32], full[PATH_MAX];
	struct ctm_ct *ct = NULL;
	char *path = NULL;
	int rv;

	snprintf(prefix, sizeof(prefix), "images/%u/", ctid);
	if (ctm_xfer_check_volume(volume, xmsg) < 0 || strncmp(volume, prefix, strlen(prefix)))
		return ctm__error(-EINVAL, errmsg, "invalid volume '%.200s' of CT %u", volume,
		                  ctid);
	/* Never remove the volumes of a container this node owns. */
	if (ctm_ct_load(ctx, ctid, &ct, NULL) == 0 && !strcmp(ct->node, ctx->node)) {
		ctm_ct_free(ct);
		return ctm__error(-EBUSY, errmsg,
		                  "CT %u belongs to this node %s: its volume %s stays", ctid,
		                  ctx->node, volume);
	}
	ctm_ct_free(ct);
	rv = ctm_migrate_storage_path(ctx, storage_id, &path, errmsg);
	if (rv < 0)
		return rv;
	snprintf(full, sizeof(full), "%s/%s", path, volume);
	free(path);
	rv = ctm__remove_tree(full);
	if (rv < 0)
		return ctm__error(rv, errmsg, "cannot remove %s: %s", full, strerror(-rv));
	return 0;
}

int ctm_migrate_place(struct ctm_ctx *ctx, unsigned ctid, const char *storage_id,
                      const char *folder, char *errmsg)
{
	char xmsg[CTM_XFER_ERRMSG_SIZE], prefix[32], full[PATH_MAX], parent[PATH_MAX];
	const char *base = strrchr(folder, '/');
	struct dirent *e;
	char *path = NULL;
	int dfd = -1, pfd = -1, rv;
	DIR *d = NULL;

	snprintf(prefix, sizeof(prefix), "images/%u/", ctid);
	if (ctm_xfer_check_volume(folder, xmsg) < 0 || strncmp(folder, prefix, strlen(prefix)) ||
	    !base || strncmp(base + 1, "migrate-", 8) || strchr(folder + strlen(prefix), '/'))
		return ctm__error(-EINVAL, errmsg, "invalid transfer folder '%.200s' of CT %u",
		                  folder, ctid);
	rv = ctm_migrate_storage_path(ctx, storage_id, &path, errmsg);
	if (rv < 0)
		return rv;
	snprintf(full, sizeof(full), "%s/%s", path, folder);
	snprintf(parent, sizeof(parent), "%s/%.*s", path, (int)(base - folder), folder);
	free(path);
	dfd = open(full, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || pfd < 0 || !(d = fdopendir(dup(dfd)))) {
		rv = ctm__error(-errno, errmsg, "cannot open %s: %s", full, strerror(errno));
		goto out;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (renameat2(dfd, e->d_name, pfd, e->d_name, RENAME_NOREPLACE) < 0) {
			rv = ctm__error(-errno, errmsg, "cannot move %s/%s to %s: %s", full, e->d_name,
			                parent, strerror(errno));
			goto out;
		}
	}
	if (rmdir(full) < 0 || fsync(pfd) < 0)
		rv = ctm__error(-errno, errmsg, "cannot remove %s: %s", full, strerror(errno));
out:
	if (d)
		closedir(d);
	if (dfd >= 0)
		close(dfd);
	if (pfd >= 0)
		close(pfd);
	return rv;
}

int ctm_migrate_clean(struct ctm_ctx *ctx, unsigned *removed, char *errmsg)
{
	char xmsg[CTM_XFER_ERRMSG_SIZE];
	struct ctm_storage_cfg *cfg = NULL;
	int rv, first = 0;

	*removed = 0;
	rv = ctm__ct_storage(ctx, &cfg, errmsg);
	if (rv < 0)
		return rv;
	for (size_t i = 0; i < cfg->n_storages; i++) {
		const struct ctm_storage *st = &cfg->storages[i];
		unsigned n = 0;

		if (strcmp(st->type, "dir") || !st->path || access(st->path, F_OK) < 0)
			continue;
		rv = ctm_xfer_clean_incoming(st->path, &n, xmsg);
		if (rv < 0 && !first)
			first = ctm__error(rv, errmsg, "%s", xmsg);
		*removed += n;
	}
	ctm_storage_cfg_free(cfg);
	return first;
}

/*
 * pmxfs: the store daemon. With --local it runs a single node (the
 * loopback transport delivers every change back to this node at once);
 * otherwise it joins the corosync CPG group and syncs with the other
 * nodes (docs/sync.md).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <corosync/cmap.h>
#include <qb/qbipcc.h>
#include <qb/qbloop.h>

#include "pmxfs/clusterkey.h"
#include "pmxfs/cpg.h"
#include "pmxfs/log.h"
#include "pmxfs/mirror.h"
#include "pmxfs/proto.h"
#include "pmxfs/server.h"
#include "pmxfs/store.h"

/* Held by the one cluster-mode daemon of this node. */
#define CLUSTER_LOCK_FILE "/run/pmxfs-cluster.lock"

#define DEFAULT_DATA_DIR "/var/lib/pmxfs"
#define DEFAULT_MIRROR "/etc/pve"
#define DEFAULT_READER_GROUP "www-data"
#define LOCAL_NODE_ID 1

struct options {
	bool foreground;
	bool local;
	bool debug;
	bool bind_mount;
	const char *node;
	const char *data_dir;
	const char *mirror;
	const char *reader_group;
	const char *service;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pmxfs [-f] [--local] [--node NAME] [--data-dir DIR] [--mirror DIR]\n"
		"\n"
		"The cluster configuration store: a replicated tree of small files.\n"
		"\n"
		"  -f, --foreground     stay in the foreground and log to stderr\n"
		"  -l, --local          run as a single node without corosync\n"
		"      --node NAME      this node's name (default: its name in the corosync\n"
		"                       nodelist, else the short host name)\n"
		"      --data-dir DIR   database and lock file folder (default %s)\n"
		"      --mirror DIR     where the read-only copy of the tree is mounted\n"
		"                       (default %s)\n"
		"      --no-bind-mount  keep the copy in DIR/mirror of the data folder only\n"
		"      --reader-group G group that may read everything but priv/ (default %s)\n"
		"      --service NAME   IPC service name (default pmxfs, or $PMXFS_SERVICE)\n"
		"  -d, --debug          log debug messages\n"
		"  -h, --help           show this help\n",
		DEFAULT_DATA_DIR, DEFAULT_MIRROR, DEFAULT_READER_GROUP);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_NODE = 256, OPT_DATA, OPT_MIRROR, OPT_READER, OPT_SERVICE, OPT_NO_BIND };
	static const struct option long_options[] = {
		{"foreground", no_argument, NULL, 'f'},
		{"local", no_argument, NULL, 'l'},
		{"debug", no_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{"node", required_argument, NULL, OPT_NODE},
		{"data-dir", required_argument, NULL, OPT_DATA},
		{"mirror", required_argument, NULL, OPT_MIRROR},
		{"reader-group", required_argument, NULL, OPT_READER},
		{"service", required_argument, NULL, OPT_SERVICE},
		{"no-bind-mount", no_argument, NULL, OPT_NO_BIND},
		{NULL, 0, NULL, 0},
	};
	int c;

	o->data_dir = DEFAULT_DATA_DIR;
	o->mirror = DEFAULT_MIRROR;
	o->reader_group = DEFAULT_READER_GROUP;
	o->service = getenv("PMXFS_SERVICE");
	if (!o->service || !*o->service)
		o->service = PFS_IPC_SERVICE;
	o->bind_mount = true;
	while ((c = getopt_long(argc, argv, "fldh", long_options, NULL)) != -1) {
		switch (c) {
		case 'f': o->foreground = true; break;
		case 'l': o->local = true; break;
		case 'd': o->debug = true; break;
		case 'h': usage(stdout); exit(0);
		case OPT_NODE: o->node = optarg; break;
		case OPT_DATA: o->data_dir = optarg; break;
		case OPT_MIRROR: o->mirror = optarg; break;
		case OPT_READER: o->reader_group = optarg; break;
		case OPT_SERVICE: o->service = optarg; break;
		case OPT_NO_BIND: o->bind_mount = false; break;
		default: return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pmxfs: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static void setup_logging(const struct options *o)
{
	int level = o->debug ? LOG_DEBUG : LOG_INFO;

	qb_log_init("pmxfs", LOG_DAEMON, level);
	qb_log_format_set(QB_LOG_SYSLOG, "[%f:%l] %b");
	if (o->foreground) {
		qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
		qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", level);
		qb_log_format_set(QB_LOG_STDERR, "%t pmxfs [%p] %g[%f:%l] %b");
		qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
	} else {
		qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", level);
	}
}

/* One instance per data folder: an exclusive lock on a file inside it. */
static int lock_data_dir(const char *dir)
{
	char path[4096];
	int fd;

	/* Others may pass through to the mirror copy, but not list the folder;
	 * the database is private through the umask set in main(). */
	if (mkdir(dir, 0711) == 0) {
		chmod(dir, 0711); /* past the umask */
	} else if (errno != EEXIST) {
		pfs_log(ERR, "cannot create the data folder %s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/.pmxfs.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		pfs_log(ERR, "cannot open the lock file %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		pfs_log(ERR, "another pmxfs already uses %s (lock file %s is held)", dir, path);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Check that no other daemon serves the IPC service. A second pmxfs with
 * another data folder would otherwise join the CPG group under this
 * node's id before its own server fails to bind.
 */
static bool service_in_use(const char *service)
{
	qb_ipcc_connection_t *conn = qb_ipcc_connect(service, 4096);

	if (!conn)
		return false;
	qb_ipcc_disconnect(conn);
	return true;
}

/*
 * Take the lock that allows one cluster-mode pmxfs per node. CPG would
 * accept a second daemon under the same node id, with another data folder
 * or service name, and its changes would reach every node.
 */
static int lock_cluster_node(void)
{
	int fd = open(CLUSTER_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		pfs_log(ERR, "cannot open the lock file %s: %s", CLUSTER_LOCK_FILE, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		pfs_log(ERR, "another pmxfs already runs in cluster mode on this node (lock file %s "
			"is held): stop it first", CLUSTER_LOCK_FILE);
		close(fd);
		return -1;
	}
	return fd;
}

/* This node's name in corosync's nodelist, when corosync runs. */
static int corosync_node_name(char *out, size_t len)
{
	cmap_handle_t handle;
	uint32_t pos;
	char key[64], *name = NULL;
	int rv = -ENOENT;

	if (cmap_initialize(&handle) != CS_OK)
		return -ENOTCONN;
	if (cmap_get_uint32(handle, "nodelist.local_node_pos", &pos) == CS_OK) {
		snprintf(key, sizeof(key), "nodelist.node.%u.name", pos);
		if (cmap_get_string(handle, key, &name) == CS_OK) {
			snprintf(out, len, "%s", name);
			free(name);
			rv = 0;
		}
	}
	cmap_finalize(handle);
	return rv;
}

/* The shortest lock lease in a cluster: four totem tokens plus 5 s, so a
 * lease outlasts the membership change that removes a dead holder. */
static uint32_t cluster_min_lease_ms(void)
{
	cmap_handle_t handle;
	uint32_t token = 0;

	if (cmap_initialize(&handle) != CS_OK)
		return 0;
	if (cmap_get_uint32(handle, "runtime.config.totem.token", &token) != CS_OK)
		token = 0;
	cmap_finalize(handle);
	return token ? 4 * token + 5000 : 0;
}

static int node_name(const struct options *o, char *out, size_t len)
{
	char host[256], listed[64];

	if (o->node && !o->local && corosync_node_name(listed, sizeof(listed)) == 0 &&
	    strcmp(listed, o->node) != 0) {
		pfs_log(ERR, "node name '%s' differs from '%s', this node's name in the corosync "
			"nodelist: drop --node or use the nodelist name", o->node, listed);
		return -EINVAL;
	}
	if (o->node) {
		snprintf(out, len, "%s", o->node);
	} else if (corosync_node_name(out, len) == 0) {
		pfs_log(INFO, "node name %s comes from the corosync nodelist", out);
	} else {
		if (gethostname(host, sizeof(host)) < 0)
			return -errno;
		host[sizeof(host) - 1] = '\0';
		host[strcspn(host, ".")] = '\0';
		snprintf(out, len, "%.63s", host);
	}
	if (!pfs_tree_is_dns_label(out)) {
		pfs_log(ERR, "node name '%s' is invalid: use a DNS label (letters, digits, hyphens)",
			out);
		return -EINVAL;
	}
	return 0;
}

/* Set when a signal stops the main loop; any other stop is a failure. */
static bool stop_requested;

static int32_t on_signal(int32_t sig, void *data)
{
	qb_loop_t *loop = data;

	pfs_log(INFO, "signal %d received, stopping", sig);
	stop_requested = true;
	qb_loop_stop(loop);
	return 0;
}

struct daemon {
	qb_loop_t *loop;
	struct pfs_cpg *cpg; /* NULL in --local mode */
	struct pfs_store *store;
	struct pfs_mirror *mirror;
	struct pfs_server *server;
	int lock_fd;
	int node_lock_fd; /* cluster mode: one daemon per corosync node */
};

/* --local: node id 1, a generation per start, the loopback transport. */
static int start_local(const char *db_path, struct daemon *d, char *errmsg)
{
	struct pfs_transport transport;
	int rv;

	rv = pfs_store_open(db_path, LOCAL_NODE_ID, &d->store, errmsg);
	if (rv < 0)
		return rv;
	rv = pfs_db_generation_start(pfs_store_db(d->store), "local", 1,
				     pfs_tree_version(pfs_store_tree(d->store)) + 1, errmsg);
	if (rv < 0)
		return rv;
	rv = pfs_loopback_new(d->loop, d->store, &transport);
	if (rv < 0)
		return rv;
	pfs_store_set_transport(d->store, transport);
	return 0;
}

/* A cluster: the node id from CPG, then the sync state machine. */
static int start_cluster(const char *db_path, const char *node, struct daemon *d, char *errmsg)
{
	uint32_t node_id = 0;
	int rv;

	rv = pfs_cpg_connect(d->loop, &d->cpg, &node_id, errmsg);
	if (rv < 0)
		return rv;
	rv = pfs_store_open(db_path, node_id, &d->store, errmsg);
	if (rv < 0)
		return rv;
	return pfs_cpg_join(d->cpg, d->store, node, errmsg);
}

/* Below this many free bytes the data folder counts as full: sqlite needs
 * room for its write-ahead log and shared memory files to open the store. */
#define DISK_FULL_BYTES (1024 * 1024)

/* Whether the disk holding dir is full; *avail gets its free bytes. */
static bool disk_full(const char *dir, unsigned long long *avail)
{
	struct statvfs st;

	if (statvfs(dir, &st) < 0)
		return false;
	*avail = (unsigned long long)st.f_bavail * st.f_frsize;
	return *avail < DISK_FULL_BYTES;
}

static int start(const struct options *o, const char *node, gid_t reader_gid, struct daemon *d)
{
	struct pfs_server_config config = {o->service, node, reader_gid, NULL, 0};
	char errmsg[PFS_ERRMSG_SIZE] = "", path[4096];
	int rv;

	snprintf(path, sizeof(path), "%s/config.db", o->data_dir);
	rv = o->local ? start_local(path, d, errmsg) : start_cluster(path, node, d, errmsg);
	if (rv < 0) {
		unsigned long long avail = 0;

		if (disk_full(o->data_dir, &avail)) {
			pfs_log(WARN, "opening the store %s failed: %s", path, errmsg);
			pfs_log(ERR, "cannot start the store %s: the disk holding %s is full "
				"(%llu bytes free): free space there and start pmxfs again",
				path, o->data_dir, avail);
			return -ENOSPC;
		}
		/* Only a database error names the store. Other errors, such as no
		 * corosync CPG, must not point the operator to the database. */
		if (strncmp(errmsg, "database ", 9) == 0)
			pfs_log(ERR, "cannot start the store %s: %s", path, errmsg);
		else
			pfs_log(ERR, "cannot start pmxfs: %s", errmsg);
		return rv;
	}
	if (d->cpg) {
		config.sync = pfs_cpg_sync(d->cpg);
		config.min_lease_ms = cluster_min_lease_ms();
		if (!config.min_lease_ms)
			pfs_log(WARN, "the totem token is unknown, so the shortest lock lease stays %u ms",
				PFS_LOCK_MIN_LEASE_MS);
	}

	snprintf(path, sizeof(path), "%s/mirror", o->data_dir);
	rv = pfs_mirror_open(path, o->bind_mount ? o->mirror : NULL, node, reader_gid, &d->mirror,
			     errmsg);
	if (rv < 0) {
		pfs_log(ERR, "cannot set up the mirror: %s", errmsg);
		return rv;
	}
	rv = pfs_mirror_sync(d->mirror, pfs_store_tree(d->store));
	if (rv < 0)
		pfs_log(WARN, "initial mirror sync of %s left some paths out of date (logged above); "
			"the first error was: %s", path, strerror(-rv));

	rv = pfs_server_start(d->loop, d->store, d->mirror, &config, &d->server, errmsg);
	if (rv < 0) {
		pfs_log(ERR, "%s", errmsg);
		return rv;
	}
	if (d->cpg)
		pfs_cpg_attach_noderq(d->cpg, pfs_server_noderq(d->server));
	/* The folders first: the key goes into /priv. */
	rv = pfs_server_bootstrap(d->server);
	if (rv < 0)
		return rv;
	rv = pfs_cluster_key_watch(d->loop, d->store, d->cpg ? pfs_cpg_sync(d->cpg) : NULL);
	if (rv < 0)
		pfs_log(ERR, "cannot watch for %s: %s", PFS_CLUSTER_KEY_PATH, strerror(-rv));
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct daemon d = {0};
	struct group *gr;
	gid_t reader_gid = 0;
	char node[64];
	int rv = 1;

	if (parse_options(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}

	/* The database and the lock file hold priv/ data: private. The mirror
	 * sets its modes explicitly. */
	umask(077);
	setup_logging(&o);
	if (node_name(&o, node, sizeof(node)) < 0)
		return 1;
	gr = getgrnam(o.reader_group);
	if (gr)
		reader_gid = gr->gr_gid;
	else
		pfs_log(WARN, "reader group '%s' not found: only root has access", o.reader_group);

	d.lock_fd = lock_data_dir(o.data_dir);
	if (d.lock_fd < 0)
		return 1;
	if (!o.local) {
		d.node_lock_fd = lock_cluster_node();
		if (d.node_lock_fd < 0) {
			close(d.lock_fd);
			return 1;
		}
	}
	if (service_in_use(o.service)) {
		pfs_log(ERR, "another pmxfs already serves IPC service '%s' on this node: stop it, "
			"or give this one another --service", o.service);
		close(d.lock_fd);
		return 1;
	}
	if (!o.foreground && daemon(0, 0) < 0) {
		pfs_log(ERR, "cannot detach from the terminal: %s", strerror(errno));
		return 1;
	}

	d.loop = qb_loop_create();
	if (!d.loop) {
		pfs_log(ERR, "cannot create the main loop");
		return 1;
	}
	qb_loop_signal_add(d.loop, QB_LOOP_HIGH, SIGTERM, d.loop, on_signal, NULL);
	qb_loop_signal_add(d.loop, QB_LOOP_HIGH, SIGINT, d.loop, on_signal, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (start(&o, node, reader_gid, &d) == 0) {
		pfs_log(INFO, "pmxfs started as node %s (%s mode, node id %u) on %s, version %llu",
			node, o.local ? "local" : "cluster", pfs_store_node_id(d.store), o.data_dir,
			(unsigned long long)pfs_tree_version(pfs_store_tree(d.store)));
		qb_loop_run(d.loop);
		rv = stop_requested && !pfs_store_broken(d.store) ? 0 : 1;
		pfs_log(INFO, "pmxfs stopped (%s)", rv ? "after an error, see above" : "on request");
	}

	pfs_server_stop(d.server);
	pfs_mirror_close(d.mirror);
	pfs_cpg_free(d.cpg);
	pfs_store_free(d.store);
	qb_loop_destroy(d.loop);
	close(d.lock_fd);
	if (d.node_lock_fd > 0)
		close(d.node_lock_fd);
	qb_log_fini();
	return rv;
}

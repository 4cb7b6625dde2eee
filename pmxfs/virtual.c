/* pfs_tree: the virtual files (.members, .vmlist, .version) and the
 * ephemeral status area. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "pmxfs/tree_internal.h"

const char *pfs_tree_status_get(const struct pfs_tree *tree, uint32_t node, const char *key,
				uint32_t *len)
{
	char k[16 + PFS_MAX_STATUS_KEY];
	struct pfs__status_value *sv;

	snprintf(k, sizeof(k), "%08x/%s", node, key);
	sv = qb_map_get(tree->status, k);
	if (!sv)
		return NULL;
	if (len)
		*len = sv->len;
	return sv->value;
}

void pfs_tree_status_walk(const struct pfs_tree *tree, uint32_t node, pfs_tree_status_fn fn,
			  void *ctx)
{
	qb_map_iter_t *it = qb_map_iter_create(tree->status);
	void *value;

	while (it && qb_map_iter_next(it, &value)) {
		struct pfs__status_value *sv = value;

		if (node == 0 || sv->node == node)
			fn(sv->node, strchr(sv->key, '/') + 1, sv->value, sv->len, ctx);
	}
	qb_map_iter_free(it);
}

void pfs_tree_status_drop(struct pfs_tree *tree, uint32_t node)
{
	char prefix[16];
	qb_map_iter_t *it;
	struct pfs__status_value **drop = NULL;
	size_t n = 0, cap = 0;
	void *value;

	/* Collect first: the map must not change while it is iterated. */
	snprintf(prefix, sizeof(prefix), "%08x/", node);
	it = qb_map_iter_create(tree->status);
	while (it && qb_map_iter_next(it, &value)) {
		struct pfs__status_value *sv = value;

		if (sv->node == node && pfs__grow((void **)&drop, &cap, n, sizeof(*drop)) == 0)
			drop[n++] = sv;
	}
	qb_map_iter_free(it);
	for (size_t i = 0; i < n; i++) {
		qb_map_rm(tree->status, drop[i]->key);
		free(drop[i]->key);
		free(drop[i]->value);
		free(drop[i]);
	}
	free(drop);
}

static struct json_object *members_json(const struct pfs_tree *tree, const char *local_node,
					const struct pfs_member *members, size_t n, bool quorate)
{
	struct json_object *root = json_object_new_object(), *cluster, *list;

	json_object_object_add(root, "nodename", json_object_new_string(local_node));
	json_object_object_add(root, "version", json_object_new_uint64(pfs_tree_version(tree)));
	cluster = json_object_new_object();
	json_object_object_add(cluster, "nodes", json_object_new_int((int)n));
	json_object_object_add(cluster, "quorate", json_object_new_int(quorate ? 1 : 0));
	json_object_object_add(root, "cluster", cluster);
	list = json_object_new_object();
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_new_object();

		json_object_object_add(m, "id", json_object_new_int64(members[i].id));
		json_object_object_add(m, "online", json_object_new_int(members[i].online ? 1 : 0));
		if (members[i].ip && members[i].ip[0])
			json_object_object_add(m, "ip", json_object_new_string(members[i].ip));
		json_object_object_add(list, members[i].name, m);
	}
	json_object_object_add(root, "nodelist", list);
	return root;
}

/* Add every guest config in /nodes/<node>/<type> to ids. */
static void vmlist_add(const struct pfs_tree *tree, const struct pfs__entry *node,
		       const char *type, struct json_object *ids)
{
	const struct pfs__entry *dir = pfs__child(tree, node, type), *c;
	char path[PFS_MAX_PATH + 1];

	if (!dir || dir->st.type != PFS_TYPE_DIR)
		return;
	for (c = dir->first_child; c; c = c->next_sibling) {
		struct json_object *vm;
		char id[24];
		uint64_t ctid;

		snprintf(path, sizeof(path), "/nodes/%s/%s/%s", node->name, type, c->name);
		ctid = pfs_tree_guest_ctid(path);
		if (c->st.type != PFS_TYPE_FILE || ctid < PFS_CTID_MIN || ctid > PFS_CTID_MAX)
			continue;
		vm = json_object_new_object();
		json_object_object_add(vm, "node", json_object_new_string(node->name));
		json_object_object_add(vm, "type", json_object_new_string(type));
		json_object_object_add(vm, "version", json_object_new_uint64(c->st.version));
		snprintf(id, sizeof(id), "%" PRIu64, ctid);
		json_object_object_add(ids, id, vm);
	}
}

static struct json_object *vmlist_json(const struct pfs_tree *tree)
{
	struct json_object *root = json_object_new_object(), *ids = json_object_new_object();
	const struct pfs__entry *nodes = pfs__child(tree, &tree->root, "nodes"), *node;

	json_object_object_add(root, "version", json_object_new_uint64(pfs_tree_version(tree)));
	if (nodes && nodes->st.type == PFS_TYPE_DIR) {
		for (node = nodes->first_child; node; node = node->next_sibling) {
			vmlist_add(tree, node, "lxc", ids);
			vmlist_add(tree, node, "qemu-server", ids);
		}
	}
	json_object_object_add(root, "ids", ids);
	return root;
}

static struct json_object *version_json(const struct pfs_tree *tree)
{
	struct json_object *root = json_object_new_object();

	json_object_object_add(root, "version", json_object_new_uint64(pfs_tree_version(tree)));
	json_object_object_add(root, "writer", json_object_new_int64(tree->root.st.writer));
	json_object_object_add(root, "mtime", json_object_new_int64(tree->root.st.mtime));
	json_object_object_add(root, "entries", json_object_new_int64(tree->entries));
	json_object_object_add(root, "bytes", json_object_new_uint64(tree->bytes));
	return root;
}

int pfs_tree_virtual(const struct pfs_tree *tree, const char *name, const char *local_node,
		     const struct pfs_member *members, size_t nmembers, bool quorate, char **out)
{
	struct json_object *obj;
	int rv = 0;

	if (!strcmp(name, ".members"))
		obj = members_json(tree, local_node, members, nmembers, quorate);
	else if (!strcmp(name, ".vmlist"))
		obj = vmlist_json(tree);
	else if (!strcmp(name, ".version"))
		obj = version_json(tree);
	else
		return -ENOENT;
	if (!obj)
		return -ENOMEM;
	*out = strdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
	if (!*out)
		rv = -ENOMEM;
	json_object_put(obj);
	return rv;
}

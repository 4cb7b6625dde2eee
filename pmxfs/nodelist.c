/* pfs_nodelist: read corosync's node list through cmap (see nodelist.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <corosync/cmap.h>

#include "pmxfs/nodelist.h"

#define PREFIX "nodelist.node."

/* The entry of position pos, added to the list when it is new. */
static struct pfs_node_info *entry_at(struct pfs_node_info **nodes, unsigned **positions,
				      size_t *count, size_t *cap, unsigned pos)
{
	for (size_t i = 0; i < *count; i++)
		if ((*positions)[i] == pos)
			return &(*nodes)[i];
	if (*count == *cap) {
		size_t n = *cap ? *cap * 2 : 16;
		struct pfs_node_info *grown = realloc(*nodes, n * sizeof(**nodes));
		unsigned *grown_pos;

		if (!grown)
			return NULL;
		*nodes = grown;
		grown_pos = realloc(*positions, n * sizeof(**positions));
		if (!grown_pos)
			return NULL;
		*positions = grown_pos;
		*cap = n;
	}
	memset(&(*nodes)[*count], 0, sizeof(**nodes));
	(*positions)[*count] = pos;
	return &(*nodes)[(*count)++];
}

/* Store one key of the node at its position: nodeid, name or ring0_addr. */
static void read_key(cmap_handle_t handle, const char *key, struct pfs_node_info *node)
{
	const char *field = strrchr(key, '.') + 1;
	char *value = NULL;
	uint32_t id;

	if (!strcmp(field, "nodeid")) {
		if (cmap_get_uint32(handle, key, &id) == CS_OK)
			node->id = id;
		return;
	}
	if (strcmp(field, "name") && strcmp(field, "ring0_addr"))
		return;
	if (cmap_get_string(handle, key, &value) != CS_OK)
		return;
	if (!strcmp(field, "name"))
		snprintf(node->name, sizeof(node->name), "%s", value);
	else
		snprintf(node->addr, sizeof(node->addr), "%s", value);
	free(value);
}

/* Name the nodes without a name by their address, drop those without an id. */
static size_t finish_list(struct pfs_node_info *nodes, size_t count)
{
	size_t n = 0;

	for (size_t i = 0; i < count; i++) {
		if (nodes[i].id == 0)
			continue;
		if (!nodes[i].name[0])
			snprintf(nodes[i].name, sizeof(nodes[i].name), "%.63s", nodes[i].addr);
		nodes[n++] = nodes[i];
	}
	return n;
}

int pfs_nodelist_read(struct pfs_node_info **out, size_t *out_count)
{
	struct pfs_node_info *nodes = NULL, *node;
	unsigned *positions = NULL;
	size_t count = 0, cap = 0;
	cmap_handle_t handle;
	cmap_iter_handle_t iter;
	char key[CMAP_KEYNAME_MAXLEN + 1];
	size_t value_len;
	cmap_value_types_t type;
	int rv = 0;

	if (cmap_initialize(&handle) != CS_OK)
		return -ENOTCONN;
	if (cmap_iter_init(handle, PREFIX, &iter) != CS_OK) {
		cmap_finalize(handle);
		return -ENOTCONN;
	}
	while (rv == 0 && cmap_iter_next(handle, iter, key, &value_len, &type) == CS_OK) {
		unsigned pos;
		int used = 0;

		if (sscanf(key, PREFIX "%u.%n", &pos, &used) != 1 || used == 0)
			continue;
		node = entry_at(&nodes, &positions, &count, &cap, pos);
		if (node)
			read_key(handle, key, node);
		else
			rv = -ENOMEM;
	}
	cmap_iter_finalize(handle, iter);
	cmap_finalize(handle);
	free(positions);
	if (rv < 0) {
		free(nodes);
		return rv;
	}
	*out = nodes;
	*out_count = finish_list(nodes, count);
	return 0;
}

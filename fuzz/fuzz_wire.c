/* libFuzzer target: the store's message decoder, then apply. A message
 * that decodes must encode to the same bytes, applying it to a tree must
 * not crash, and apply must reject what the precheck rejects. A batch of messages is taken apart first, and each of
 * its items goes the same way. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pmxfs/batch.h"
#include "pmxfs/tree.h"
#include "pmxfs/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One tree serves many inputs, so earlier inputs build state for later
 * ones; it is made anew every RESET_EVERY inputs to stay small. */
#define RESET_EVERY 4096

static void apply_one(const struct pfs_msg *msg)
{
	static const char *const dirs[] = {"/nodes", "/nodes/n1", "/nodes/n1/lxc"};
	static struct pfs_tree *tree;
	static unsigned runs;
	struct pfs_apply_result res;
	struct pfs_msg m = {0};
	bool rejected;

	if (tree && ++runs % RESET_EVERY == 0) {
		pfs_tree_free(tree);
		tree = NULL;
	}
	if (!tree) {
		if (pfs_tree_new(&tree) < 0)
			return;
		pfs_tree_round_begin(tree);
		m.type = PFS_MSG_MKDIR;
		for (size_t i = 0; i < 3; i++) {
			m.path = dirs[i];
			pfs_tree_apply(tree, &m, &res);
		}
	}
	rejected = pfs_tree_precheck(msg, &res) < 0;
	pfs_tree_round_begin(tree);
	if (pfs_tree_apply(tree, msg, &res) == 0 && rejected)
		abort();
	pfs_tree_apply(tree, msg, &res);
	pfs_tree_round_end(tree);
}

static int decode_one(void *ctx, const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (pfs_batch_is(data, size)) {
		pfs_batch_foreach(data, size, decode_one, NULL);
		return 0;
	}
	return decode_one(NULL, data, size);
}

static int decode_one(void *ctx, const uint8_t *data, size_t size)
{
	struct pfs_msg msg;
	uint8_t *again = NULL;
	size_t len = 0;

	(void)ctx;
	if (pfs_msg_decode(data, size, &msg) < 0)
		return 0;
	if (pfs_msg_encode(&msg, &again, &len) == 0) {
		if (len != size || memcmp(again, data, size) != 0)
			abort();
		free(again);
	}
	apply_one(&msg);
	pfs_msg_clear(&msg);
	return 0;
}

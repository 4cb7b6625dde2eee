/* libFuzzer target: the decoder of the cluster sync messages. A message
 * that decodes must encode to the same bytes. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pmxfs/sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfs_sync_msg m;
	uint8_t *out = NULL;
	size_t len = 0;

	if (pfs_sync_msg_decode(data, size, &m) < 0)
		return 0;
	if (pfs_sync_msg_encode(&m, &out, &len) == 0) {
		if (len != size || memcmp(out, data, size) != 0)
			abort();
		free(out);
	}
	pfs_sync_msg_clear(&m);
	return 0;
}

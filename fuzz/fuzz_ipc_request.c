/* libFuzzer target: the daemon's client request decoder, which reads
 * every byte a local client sends. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pmxfs/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pfs_request req;

	if (pfs_request_decode(data, size, &req) < 0)
		return 0;

	/* What the decoder promises the handlers. */
	if (req.op < 1 || req.op > PFS_OP_MAX || strlen(req.path) > PFS_MAX_PATH ||
	    strlen(req.path2) > PFS_MAX_PATH ||
	    req.data_len > PFS_MAX_FILE_SIZE ||
	    (req.data_len && (req.data < (const char *)data ||
			      req.data + req.data_len > (const char *)data + size)))
		abort();
	return 0;
}

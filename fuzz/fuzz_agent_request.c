/*
 * libFuzzer target for the one-line requests the node agent ctmgrd parses
 * (ctmgr/agent.h, ctmgr/migrate.h): start, stop, shutdown, status,
 * migrate, expect, abort, place and tasklog.
 *
 * The input, up to its first NUL, is one request line, given to every
 * parser. A parser that accepts it must have filled its fields so that
 * the request written back from them parses again to the same fields; a
 * parser that rejects it must have written a message. Anything else
 * aborts.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "ctmgr/agent.h"
#include "ctmgr/migrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A rejection must say why, in a NUL-terminated message. */
static void check_message(int rv, const char *errmsg)
{
	if (rv == 0)
		return;
	if (rv != -EINVAL || !memchr(errmsg, '\0', CONF_ERRMSG_SIZE) || !errmsg[0])
		abort();
}

static void fuzz_agent(const char *text)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", again[CTM_AGENT_REQUEST_MAX + 64];
	struct ctm_agent_request r, r2;
	int rv = ctm_agent_parse(text, &r, errmsg);

	check_message(rv, errmsg);
	if (rv < 0)
		return;
	if (r.ctid < CTM_CTID_MIN || r.ctid > CTM_CTID_MAX)
		abort();
	snprintf(again, sizeof(again), "%s %u %u %d", r.verb, r.ctid, r.timeout, r.force ? 1 : 0);
	if (ctm_agent_parse(again, &r2, errmsg) < 0 || strcmp(r.verb, r2.verb) ||
	    r.ctid != r2.ctid || r.timeout != r2.timeout || r.force != r2.force)
		abort();
}

static void fuzz_migrate(const char *text)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", again[CTM_AGENT_REQUEST_MAX + 64];
	struct ctm_migrate_params p, p2;
	int rv = ctm_migrate_parse(text, &p, errmsg);

	check_message(rv, errmsg);
	if (rv < 0)
		return;
	if (!memchr(p.target, '\0', sizeof(p.target)) || !p.target[0])
		abort();
	snprintf(again, sizeof(again), "migrate %u %s %d %u", p.ctid, p.target, p.restart ? 1 : 0,
	         p.timeout);
	if (ctm_migrate_parse(again, &p2, errmsg) < 0 || p.ctid != p2.ctid ||
	    strcmp(p.target, p2.target) || p.restart != p2.restart || p.timeout != p2.timeout)
		abort();
}

static void fuzz_expect(const char *text)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", again[CTM_AGENT_REQUEST_MAX + 64];
	struct ctm_migrate_expect e, e2;
	int rv = ctm_migrate_parse_expect(text, &e, errmsg);

	check_message(rv, errmsg);
	if (rv < 0)
		return;
	snprintf(again, sizeof(again), "expect %u %s %s", e.ctid, e.token, e.storage);
	if (ctm_migrate_parse_expect(again, &e2, errmsg) < 0 || e.ctid != e2.ctid ||
	    strcmp(e.token, e2.token) || strcmp(e.storage, e2.storage))
		abort();
}

static void fuzz_volume(const char *text, const char *verb)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", again[CTM_AGENT_REQUEST_MAX + 64];
	char storage[64], volume[CTM_XFER_VOLUME_MAX + 1], storage2[64];
	char volume2[CTM_XFER_VOLUME_MAX + 1];
	unsigned ctid = 0, ctid2 = 0;
	int rv = ctm_migrate_parse_volume(text, verb, &ctid, storage, volume, errmsg);

	check_message(rv, errmsg);
	if (rv < 0)
		return;
	if (strstr(volume, "..") == volume || strstr(volume, "/../") || volume[0] == '/')
		abort();
	snprintf(again, sizeof(again), "%s %u %s %s", verb, ctid, storage, volume);
	if (ctm_migrate_parse_volume(again, verb, &ctid2, storage2, volume2, errmsg) < 0 ||
	    ctid != ctid2 || strcmp(storage, storage2) || strcmp(volume, volume2))
		abort();
}

static void fuzz_tasklog(const char *text)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", again[CTM_AGENT_REQUEST_MAX + 64];
	char id[CTM_TASK_ID_SIZE], id2[CTM_TASK_ID_SIZE];
	uint64_t offset = 0, offset2 = 0;
	int rv = ctm_migrate_parse_tasklog(text, id, &offset, errmsg);

	check_message(rv, errmsg);
	if (rv < 0)
		return;
	if (strchr(id, '/') || offset > INT64_MAX)
		abort();
	snprintf(again, sizeof(again), "tasklog %s %" PRIu64, id, offset);
	if (ctm_migrate_parse_tasklog(again, id2, &offset2, errmsg) < 0 || strcmp(id, id2) ||
	    offset != offset2)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = strnlen((const char *)data, size);
	char *text = malloc(len + 1);

	if (!text)
		return 0;
	memcpy(text, data, len);
	text[len] = '\0';
	fuzz_agent(text);
	fuzz_migrate(text);
	fuzz_expect(text);
	fuzz_volume(text, "abort");
	fuzz_volume(text, "place");
	fuzz_tasklog(text);
	free(text);
	return 0;
}

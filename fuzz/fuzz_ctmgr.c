/*
 * libFuzzer target for the container manager's parsers of outside input.
 *
 * The first byte picks the parser and the rest is its input:
 *   0  storage.cfg text, then every volume id of a small fixed list is
 *      resolved against what parsed;
 *   1  command-line options of `create` and `set`, one argument per
 *      NUL-terminated piece, applied to an empty section when they parse;
 *   2  a container config, turned into an LXC config and its text for
 *      both cgroup layouts.
 * Only memory errors and failed internal checks can show up here; every
 * error return is a valid outcome.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "ctmgr/lxcconf.h"
#include "ctmgr/options.h"
#include "ctmgr/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 64

static const char *const volume_ids[] = {
	"local:100/vm-100-disk-0.raw",
	"local:subvol-100-disk-1",
	"data:100/vm-100-disk-0.raw",
	"local:../escape",
	"local:",
};

static void fuzz_storage(const char *text, size_t len)
{
	char errmsg[CONF_ERRMSG_SIZE];
	struct ctm_storage_cfg *cfg = NULL;
	struct ctm_volume volume;

	if (ctm_storage_cfg_parse(text, len, "storage.cfg", &cfg, errmsg) < 0)
		return;

	for (size_t i = 0; i < sizeof(volume_ids) / sizeof(volume_ids[0]); i++) {
		memset(&volume, 0, sizeof(volume));
		if (ctm_volume_resolve(cfg, volume_ids[i], "node1", &volume, errmsg) == 0)
			ctm_volume_clear(&volume);
	}
	ctm_storage_cfg_free(cfg);
}

static void fuzz_options(const char *text, size_t len)
{
	char errmsg[CONF_ERRMSG_SIZE];
	char *argv[MAX_ARGS];
	int argc = 0;
	size_t start = 0;
	struct ctm_options options;
	struct conf_file *cf = NULL;

	/* The text is NUL-terminated, so its last piece ends too. */
	while (start < len && argc < MAX_ARGS) {
		argv[argc++] = (char *)text + start;
		start += strlen(text + start) + 1;
	}

	for (int command = CTM_COMMAND_CREATE; command <= CTM_COMMAND_SET; command++) {
		if (ctm_options_parse(command, argc, argv, &options, errmsg) < 0)
			continue;
		if (conf_parse("", 0, "fuzz.conf", &cf) == 0) {
			ctm_options_apply(&options, conf_main(cf), errmsg);
			conf_file_free(cf);
			cf = NULL;
		}
		ctm_options_clear(&options);
	}
}

static void fuzz_lxc(const char *text, size_t len)
{
	static const enum ctm_cgroup_layout layouts[] = {CTM_CGROUP_V1, CTM_CGROUP_V2};
	char errmsg[CONF_ERRMSG_SIZE];
	struct conf_file *cf = NULL;

	if (conf_parse(text, len, "100.conf", &cf) < 0)
		return;

	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		struct ctm_lxc_params params = {
			.ctid = 100,
			.layout = layouts[i],
			.lxc_path = "/nonexistent/lxc",
			.config_dir = "/nonexistent/config",
			.host_cpus = "0-3",
		};
		struct ctm_lxc_config *config = NULL;
		char *out = NULL;

		if (ctm_lxc_config_build(conf_main(cf), &params, &config, errmsg) < 0)
			continue;
		if (ctm_lxc_config_text(config, &out) == 0)
			free(out);
		ctm_lxc_config_free(config);
	}
	conf_file_free(cf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1 || size > (1u << 20))
		return 0;

	/* A NUL-terminated copy, so every piece of the input ends. */
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';

	switch (data[0] % 3) {
	case 0:
		fuzz_storage(text, size - 1);
		break;
	case 1:
		fuzz_options(text, size - 1);
		break;
	default:
		fuzz_lxc(text, size - 1);
		break;
	}
	free(text);
	return 0;
}

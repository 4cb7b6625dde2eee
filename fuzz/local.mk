# fuzz/: libFuzzer targets, built only with --enable-fuzz (CC=clang).
if ENABLE_FUZZ
noinst_PROGRAMS += fuzz/fuzz_conf_parse fuzz/fuzz_propstr
fuzz_fuzz_conf_parse_SOURCES = fuzz/fuzz_conf_parse.c tests/conf_oracle.h tests/conf_oracle.c
fuzz_fuzz_conf_parse_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
fuzz_fuzz_conf_parse_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_conf_parse_LDADD = conf/libconf.la
fuzz_fuzz_propstr_SOURCES = fuzz/fuzz_propstr.c
fuzz_fuzz_propstr_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
fuzz_fuzz_propstr_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_propstr_LDADD = conf/libconf.la

# pmxfs-begin: fuzz targets of the store
noinst_PROGRAMS += fuzz/fuzz_wire fuzz/fuzz_ipc_request
fuzz_fuzz_wire_SOURCES = fuzz/fuzz_wire.c
fuzz_fuzz_wire_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
fuzz_fuzz_wire_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_wire_LDADD = pmxfs/libpfscore.la
fuzz_fuzz_ipc_request_SOURCES = fuzz/fuzz_ipc_request.c
fuzz_fuzz_ipc_request_CFLAGS = $(AM_CFLAGS) $(QB_CFLAGS) -fsanitize=fuzzer
fuzz_fuzz_ipc_request_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_ipc_request_LDADD = pmxfs/libpfscore.la
noinst_PROGRAMS += fuzz/fuzz_sync_msg
fuzz_fuzz_sync_msg_SOURCES = fuzz/fuzz_sync_msg.c
fuzz_fuzz_sync_msg_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
fuzz_fuzz_sync_msg_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_sync_msg_LDADD = pmxfs/libpfscore.la
# pmxfs-end

# ctmgr-begin: storage.cfg, command-line options and LXC config generation
noinst_PROGRAMS += fuzz/fuzz_ctmgr
fuzz_fuzz_ctmgr_SOURCES = fuzz/fuzz_ctmgr.c
fuzz_fuzz_ctmgr_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
fuzz_fuzz_ctmgr_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_ctmgr_LDADD = ctmgr/libctmgr.la conf/libconf.la
# ctmgr-end

# agent-request-begin: the node agent's one-line requests
noinst_PROGRAMS += fuzz/fuzz_agent_request
fuzz_fuzz_agent_request_SOURCES = fuzz/fuzz_agent_request.c
fuzz_fuzz_agent_request_CFLAGS = $(AM_CFLAGS) $(LXC_CFLAGS) $(JSON_CFLAGS) -fsanitize=fuzzer
fuzz_fuzz_agent_request_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
fuzz_fuzz_agent_request_LDADD = ctmgr/libctagent.la
# agent-request-end
endif
EXTRA_DIST += fuzz/corpus

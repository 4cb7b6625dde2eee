# completion/: bash completions, one file per command, named after it as
# bash-completion loads them on demand.
EXTRA_DIST += completion/pmxfsctl completion/ctconf completion/ctmgr
if HAVE_BASH_COMPLETION
bashcompletion_DATA = completion/pmxfsctl completion/ctconf completion/ctmgr
endif

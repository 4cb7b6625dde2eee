#!/usr/bin/env bash
# A corosync cluster on one machine: each node is a network namespace with
# its own address on a shared bridge, plus a persistent mount namespace
# with private /run, /etc/corosync, /var/lib/corosync, /var/lib/pmxfs,
# /etc/pve, /var/lib/lxc and a storage folder, so that node-local state
# really is local. Every daemon and command of node K runs through
# `lab.sh exec K ...` (nsenter into both namespaces).
#
# Usage:
#   lab.sh up N          create N nodes (1..16) and start corosync on each
#   lab.sh down          stop everything and remove every namespace and folder
#   lab.sh exec K CMD..  run CMD on node K
#   lab.sh start K       start corosync on node K (after stop)
#   lab.sh stop K        stop corosync on node K (SIGTERM, then SIGKILL)
#   lab.sh kill K        SIGKILL corosync on node K
#   lab.sh cut K         take node K's link down (the bridge-side veth)
#   lab.sh heal K        bring node K's link up again
#   lab.sh partition G1 G2..  split the cluster into groups of nodes given
#                        as comma lists (1,2 3,4,5): every packet between
#                        groups is dropped silently by nftables in the
#                        nodes' namespaces, links stay up; nodes named in
#                        no group are cut off from everyone
#   lab.sh join          drop every partition rule again
#   lab.sh wait-quorate K [SECONDS]   wait until node K reports quorum
#   lab.sh pmxfs-start K [ARGS..]  start `pmxfs -f ARGS` on node K (pid file
#                        pmxfs.pid, output pmxfs.out in the node's folder)
#   lab.sh pmxfs-stop K  stop pmxfs on node K (SIGTERM, then SIGKILL)
#   lab.sh pmxfs-kill K  SIGKILL pmxfs on node K
#   lab.sh status        show the nodes and their corosync pids
#   lab.sh small-disk K SIZE  mount a tmpfs of SIZE (e.g. 8M) on node K's
#                        /var/lib/pmxfs, so that it can fill up; run it
#                        before pmxfs starts on K, as it hides the folder
#
# Environment: LAB (name prefix, default pmxlab; lets tests run side by
# side), LAB_DIR (state folder, default /var/tmp/$LAB; not under a folder
# the nodes get privately, such as /run), LAB_TOKEN_MS (totem
# token, default 1000), LAB_VOTES (votequorum votes of nodes 1, 2, ... as a
# comma list such as 2,1,1; default one each), PMXFS (the pmxfs binary, default
# $BUILD_DIR/pmxfs/pmxfs). Addresses come from 192.0.2.0/24 (TEST-NET-1),
# which exists only inside the lab's namespaces.
set -euo pipefail

LAB=${LAB:-pmxlab}
LAB_DIR=${LAB_DIR:-/var/tmp/$LAB}
LAB_TOKEN_MS=${LAB_TOKEN_MS:-1000}
SUBNET=192.0.2
BRIDGE_NS=$LAB-br
# Interface names have at most 15 bytes, so veths take a short hash of LAB.
IF_PREFIX=l$(printf '%s' "$LAB" | md5sum | cut -c1-6)

die() {
	echo "lab: $*" >&2
	exit 1
}

node_ns() { echo "$LAB-n$1"; }
node_dir() { echo "$LAB_DIR/n$1"; }
node_addr() { echo "$SUBNET.$((10 + $1))"; }
node_count() { cat "$LAB_DIR/nodes" 2>/dev/null || echo 0; }

check_node() {
	[[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$(node_count)" ] ||
		die "no node '$1' in lab $LAB (nodes 1..$(node_count))"
}

# Private folders bind-mounted over the host's in each node's mount namespace.
PRIVATE_DIRS="/run /etc/corosync /var/lib/corosync /var/log/corosync /var/lib/pmxfs /etc/pve /var/lib/lxc /var/lib/vz"

write_corosync_conf() {
	local n=$1 i votes=()
	IFS=, read -r -a votes <<< "${LAB_VOTES:-}"
	{
		cat <<EOF
totem {
	version: 2
	cluster_name: $LAB
	transport: knet
	token: $LAB_TOKEN_MS
	crypto_cipher: none
	crypto_hash: none
	interface {
		linknumber: 0
	}
}
nodelist {
EOF
		for i in $(seq 1 "$n"); do
			printf '\tnode {\n\t\tnodeid: %d\n\t\tname: node%d\n\t\tring0_addr: %s\n\t\tquorum_votes: %d\n\t}\n' \
				"$i" "$i" "$(node_addr "$i")" "${votes[$((i - 1))]:-1}"
		done
		cat <<EOF
}
quorum {
	provider: corosync_votequorum
}
system {
	sched_rr: no
	move_to_root_cgroup: no
	state_dir: /var/lib/corosync
}
logging {
	to_stderr: no
	to_logfile: yes
	logfile: /var/log/corosync/corosync.log
	to_syslog: no
	timestamp: on
}
EOF
	}
}

setup_bridge() {
	ip netns add "$BRIDGE_NS"
	ip -n "$BRIDGE_NS" link add br0 type bridge
	ip -n "$BRIDGE_NS" link set br0 up
	ip -n "$BRIDGE_NS" link set lo up
}

# The mount namespace of node K, kept alive by a bind mount on a file.
setup_mount_ns() {
	local k=$1 dir d
	dir=$(node_dir "$k")
	for d in $PRIVATE_DIRS; do
		mkdir -p "$dir/root$d"
	done
	touch "$dir/mnt"
	# Not through `ip netns exec`: it makes a mount namespace of its own,
	# and the bind mount that keeps ours alive would be made inside it.
	nsenter --net="/run/netns/$(node_ns "$k")" unshare --mount="$dir/mnt" --propagation private \
		sh -c '
			set -e
			for d in '"$PRIVATE_DIRS"'; do
				mkdir -p "$d"
				mount --bind "'"$dir"'/root$d" "$d"
			done
			mkdir -p /run/lock /run/lxc
			# A sysfs mount shows the network namespace of the process that mounts it.
			umount -l /sys
			mount -t sysfs sysfs /sys
		'
}

setup_node() {
	local k=$1 n=$2 ns veth
	ns=$(node_ns "$k")
	veth="${IF_PREFIX}v$k"
	ip netns add "$ns"
	ip link add "$veth" type veth peer name "${veth}b"
	ip link set "$veth" netns "$ns"
	ip link set "${veth}b" netns "$BRIDGE_NS"
	ip -n "$BRIDGE_NS" link set "${veth}b" master br0 up
	ip -n "$ns" link set "$veth" name eth0
	ip -n "$ns" addr add "$(node_addr "$k")/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up

	mkdir -p "$(node_dir "$k")"
	setup_mount_ns "$k"
	write_corosync_conf "$n" > "$(node_dir "$k")/root/etc/corosync/corosync.conf"
}

cmd_exec() {
	local k=$1
	shift
	check_node "$k"
	exec nsenter --net="/run/netns/$(node_ns "$k")" --mount="$(node_dir "$k")/mnt" -- "$@"
}

corosync_pid() {
	local f
	f="$(node_dir "$1")/corosync.pid"
	[ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

cmd_start() {
	local k=$1 dir
	check_node "$k"
	dir=$(node_dir "$k")
	if corosync_pid "$k" > /dev/null; then
		return 0
	fi
	# Close every descriptor above 2 so corosync inherits no lock of ours.
	nsenter --net="/run/netns/$(node_ns "$k")" --mount="$dir/mnt" -- \
		bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null; exec corosync -f' \
		> "$dir/corosync.out" 2>&1 < /dev/null &
	echo $! > "$dir/corosync.pid"
}

stop_pid_file() {
	local f=$1 signal=$2 pid i
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	kill -"$signal" "$pid" 2>/dev/null || { rm -f "$f"; return 0; }
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	# Shared-memory rings of a killed libqb process stay behind.
	rm -f /dev/shm/qb-*-"$pid"-* 2>/dev/null || true
	rm -f "$f"
}

cmd_stop() {
	check_node "$1"
	stop_pid_file "$(node_dir "$1")/corosync.pid" TERM
}

cmd_kill() {
	check_node "$1"
	stop_pid_file "$(node_dir "$1")/corosync.pid" KILL
}

cmd_pmxfs_start() {
	local k=$1 dir bin
	shift
	check_node "$k"
	dir=$(node_dir "$k")
	bin=${PMXFS:-${BUILD_DIR:-$(pwd)/build}/pmxfs/pmxfs}
	[ -x "$bin" ] || die "pmxfs binary $bin not found: set PMXFS or BUILD_DIR"
	if [ -s "$dir/pmxfs.pid" ] && kill -0 "$(cat "$dir/pmxfs.pid")" 2>/dev/null; then
		return 0
	fi
	# Descriptors above 2 closed, as for corosync.
	nsenter --net="/run/netns/$(node_ns "$k")" --mount="$dir/mnt" -- \
		bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null; exec 2>&1; exec "$@"' \
		pmxfs "$bin" -f "$@" >> "$dir/pmxfs.out" 2>&1 < /dev/null &
	echo $! > "$dir/pmxfs.pid"
}

cmd_link() {
	local k=$1 state=$2
	check_node "$k"
	ip -n "$BRIDGE_NS" link set "${IF_PREFIX}v${k}b" "$state"
}

# Each node gets one nftables table, "lab_partition", whose input and
# output chains drop the addresses of every node outside its group.
cmd_partition() {
	local n k g member peers group_of=() i
	n=$(node_count)
	[ "$#" -ge 1 ] || die "usage: $0 partition G1 [G2..], each a comma list of node numbers"
	i=0
	for g in "$@"; do
		i=$((i + 1))
		[[ "$g" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "partition group '$g' is not a comma list of node numbers"
		for member in ${g//,/ }; do
			check_node "$member"
			[ -z "${group_of[$member]:-}" ] || die "node $member is named in two groups"
			group_of[$member]=$i
		done
	done
	cmd_join
	for k in $(seq 1 "$n"); do
		peers=""
		for member in $(seq 1 "$n"); do
			[ "$member" -ne "$k" ] || continue
			if [ -z "${group_of[$k]:-}" ] || [ "${group_of[$member]:-}" != "${group_of[$k]}" ]; then
				peers="$peers${peers:+, }$(node_addr "$member")"
			fi
		done
		[ -n "$peers" ] || continue
		ip netns exec "$(node_ns "$k")" nft -f - <<-NFT
			table inet lab_partition {
				chain in { type filter hook input priority 0; ip saddr { $peers } drop; }
				chain out { type filter hook output priority 0; ip daddr { $peers } drop; }
			}
		NFT
	done
}

cmd_join() {
	local k
	for k in $(seq 1 "$(node_count)"); do
		ip netns exec "$(node_ns "$k")" nft delete table inet lab_partition 2>/dev/null || true
	done
}

cmd_wait_quorate() {
	local k=$1 limit=${2:-30} i
	check_node "$k"
	for i in $(seq 1 $((limit * 5))); do
		if "$0" exec "$k" corosync-quorumtool -s 2>/dev/null | grep -Eq '^Quorate: +Yes'; then
			return 0
		fi
		sleep 0.2
	done
	die "node $k is not quorate after ${limit}s"
}

cmd_up() {
	local n=$1 k
	[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 16 ] || die "node count must be 1..16"
	[ ! -e "$LAB_DIR/nodes" ] || die "lab $LAB exists already: run '$0 down' first"
	mkdir -p "$LAB_DIR"
	# unshare --mount=FILE needs FILE on a mount with private propagation.
	mount --bind "$LAB_DIR" "$LAB_DIR"
	mount --make-private "$LAB_DIR"
	echo "$n" > "$LAB_DIR/nodes"
	setup_bridge
	for k in $(seq 1 "$n"); do
		setup_node "$k" "$n"
	done
	for k in $(seq 1 "$n"); do
		cmd_start "$k"
	done
}

cmd_down() {
	local n k
	n=$(node_count)
	for k in $(seq 1 "$n"); do
		for f in "$(node_dir "$k")"/*.pid; do
			[ -e "$f" ] && stop_pid_file "$f" KILL
		done
		umount "$(node_dir "$k")/mnt" 2>/dev/null || true
		ip netns del "$(node_ns "$k")" 2>/dev/null || true
	done
	# Namespaces of an earlier run whose node count file was lost.
	for ns in $(ip netns list | awk '{print $1}' | grep -E "^$LAB-(n[0-9]+|br)$" || true); do
		ip netns del "$ns" 2>/dev/null || true
	done
	umount "$LAB_DIR" 2>/dev/null || true
	rm -rf "$LAB_DIR"
}

cmd_small_disk() {
	local k=$1 size=$2
	check_node "$k"
	[[ "$size" =~ ^[0-9]+[kKmMgG]?$ ]] || die "size '$size' is not a number with an optional k, m or g"
	nsenter --net="/run/netns/$(node_ns "$k")" --mount="$(node_dir "$k")/mnt" -- \
		mount -t tmpfs -o "size=$size,mode=0755" "$LAB-n$k-data" /var/lib/pmxfs
}

cmd_status() {
	local k
	for k in $(seq 1 "$(node_count)"); do
		printf 'node%d %s corosync pid %s\n' "$k" "$(node_addr "$k")" "$(corosync_pid "$k" || echo -)"
	done
}

[ "$(id -u)" -eq 0 ] || die "the lab needs root (network and mount namespaces)"
command=${1:-}
shift || true
case "$command" in
up) cmd_up "${1:?node count}" ;;
down) cmd_down ;;
exec) cmd_exec "$@" ;;
start) cmd_start "${1:?node}" ;;
stop) cmd_stop "${1:?node}" ;;
kill) cmd_kill "${1:?node}" ;;
cut) cmd_link "${1:?node}" down ;;
heal) cmd_link "${1:?node}" up ;;
partition) cmd_partition "$@" ;;
join) cmd_join ;;
wait-quorate) cmd_wait_quorate "${1:?node}" "${2:-30}" ;;
pmxfs-start) cmd_pmxfs_start "${1:?node}" "${@:2}" ;;
pmxfs-stop) check_node "${1:?node}"; stop_pid_file "$(node_dir "$1")/pmxfs.pid" TERM ;;
pmxfs-kill) check_node "${1:?node}"; stop_pid_file "$(node_dir "$1")/pmxfs.pid" KILL ;;
status) cmd_status ;;
small-disk) cmd_small_disk "${1:?node}" "${2:?size}" ;;
*) die "usage: $0 up N | down | exec K CMD... | start K | stop K | kill K | cut K | heal K | partition G1 G2.. | join | wait-quorate K [S] | pmxfs-start K [ARGS] | pmxfs-stop K | pmxfs-kill K | status | small-disk K SIZE" ;;
esac

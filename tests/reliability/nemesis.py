#!/usr/bin/env python3
"""Inject faults into a lab cluster for a bounded time, at random from a seed.

Each episode picks one fault, or two at once, holds it for a random time,
then heals it and waits a calm interval. Faults: SIGKILL of pmxfs or of
corosync on a node (healed by a restart), a silent partition of any shape
(nftables, healed by `lab.sh join`), and a pause of pmxfs or corosync with
SIGSTOP (healed by SIGCONT), and a full data disk: a filler file takes
every free byte of the node's own small /var/lib/pmxfs filesystem (healed
by removing it). Half of the disk faults stop pmxfs first and start it
again on the full disk. At the end every fault is healed and every daemon runs
again.

Every fault start and end goes to the log as a JSON line with its
CLOCK_MONOTONIC time in ns, the clock of the clients' histories.

Usage: nemesis.py --lab LAB_SH --nodes N --seconds S --seed X --log FILE
Environment: LAB and LAB_DIR as for lab.sh.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time

KINDS = ["kill-pmxfs", "kill-corosync", "partition", "pause-pmxfs", "pause-corosync", "fill-disk"]
# Inside the node's mount namespace: its own small filesystem (lab.sh small-disk).
FILLER = "/var/lib/pmxfs/nemesis-filler"


class Nemesis:
    def __init__(self, lab, nodes, log, rng, hold, calm):
        self.lab = lab
        self.nodes = nodes
        self.log = log
        self.rng = rng
        self.hold = hold
        self.calm = calm
        self.lab_dir = os.environ.get("LAB_DIR") or "/var/tmp/" + os.environ.get("LAB", "pmxlab")
        self.counts = {}
        self.exits = 0

    def record(self, **fields):
        fields["time"] = time.monotonic_ns()
        self.log.write(json.dumps(fields) + "\n")
        self.log.flush()

    def run_lab(self, *args):
        res = subprocess.run([self.lab, *map(str, args)], capture_output=True, text=True)
        if res.returncode != 0:
            self.record(action="lab-error", args=list(map(str, args)),
                        output=(res.stdout + res.stderr)[-400:])
        return res.returncode == 0

    def pid(self, node, daemon):
        try:
            with open(f"{self.lab_dir}/n{node}/{daemon}.pid") as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def signal(self, node, daemon, sig):
        pid = self.pid(node, daemon)
        if pid is not None:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        return pid

    def fill_disk(self, node, restart):
        """Take every free byte of the node's data filesystem with a filler
        file. dd stops with "no space left", so its status is ignored.

        sqlite writes over the blocks its write-ahead log already holds, so
        a running pmxfs may go on without ever needing a new block. A clean
        stop removes the log, so with restart pmxfs stops first and starts
        again on the full disk, where the sync it needs cannot be stored."""
        if restart:
            self.run_lab("pmxfs-stop", node)
        res = subprocess.run([self.lab, "exec", str(node), "sh", "-c",
                              f"dd if=/dev/zero of={FILLER} bs=64k oflag=append conv=notrunc "
                              f"2>/dev/null; df -B1 --output=avail /var/lib/pmxfs | tail -n 1"],
                             capture_output=True, text=True)
        self.record(action="filled", node=node, avail=res.stdout.strip(), restart=restart)
        if restart:
            self.run_lab("pmxfs-start", node)

    def free_disk(self, node):
        self.run_lab("exec", node, "rm", "-f", FILLER)

    def random_partition(self):
        """A split of the nodes into 2 to 4 nonempty groups, any shape."""
        groups = self.rng.randint(2, min(4, self.nodes))
        order = list(range(1, self.nodes + 1))
        self.rng.shuffle(order)
        parts = [[order[i]] for i in range(groups)]
        for node in order[groups:]:
            parts[self.rng.randrange(groups)].append(node)
        return [sorted(p) for p in parts]

    def start_fault(self, kind, busy):
        """Start a fault on nodes not in busy; return (kind, detail) or None."""
        free = [k for k in range(1, self.nodes + 1) if k not in busy]
        if kind == "partition":
            if "partition" in busy:
                return None
            parts = self.random_partition()
            shape = "|".join(",".join(map(str, p)) for p in parts)
            self.record(action="start", kind=kind, shape=shape,
                        sizes="|".join(str(len(p)) for p in sorted(parts, key=len)))
            self.run_lab("partition", *[",".join(map(str, p)) for p in parts])
            return (kind, parts)
        if not free:
            return None
        node = self.rng.choice(free)
        self.record(action="start", kind=kind, node=node)
        if kind == "kill-pmxfs":
            self.run_lab("pmxfs-kill", node)
        elif kind == "kill-corosync":
            self.run_lab("kill", node)
        elif kind == "pause-pmxfs":
            self.signal(node, "pmxfs", signal.SIGSTOP)
        elif kind == "pause-corosync":
            self.signal(node, "corosync", signal.SIGSTOP)
        elif kind == "fill-disk":
            self.fill_disk(node, self.rng.random() < 0.5)
        return (kind, node)

    def end_fault(self, fault):
        kind, detail = fault
        if kind == "partition":
            self.run_lab("join")
        elif kind == "kill-pmxfs":
            self.run_lab("pmxfs-start", detail)
        elif kind == "kill-corosync":
            self.run_lab("start", detail)
            time.sleep(1.0)
            self.run_lab("pmxfs-start", detail)
        elif kind == "pause-pmxfs":
            self.signal(detail, "pmxfs", signal.SIGCONT)
        elif kind == "pause-corosync":
            self.signal(detail, "corosync", signal.SIGCONT)
        elif kind == "fill-disk":
            self.free_disk(detail)
        self.record(action="end", kind=kind,
                    node=detail if kind != "partition" else None)

    def restart_exited(self):
        """Start a pmxfs that stopped on its own, e.g. after corosync
        restarted under it, and count it."""
        for k in range(1, self.nodes + 1):
            if self.pid(k, "pmxfs") is None and self.pid(k, "corosync") is not None:
                self.exits += 1
                self.record(action="restart-exited", node=k)
                self.run_lab("pmxfs-start", k)

    def heal_all(self):
        self.run_lab("join")
        for k in range(1, self.nodes + 1):
            self.free_disk(k)
            self.signal(k, "corosync", signal.SIGCONT)
            self.signal(k, "pmxfs", signal.SIGCONT)
            self.run_lab("start", k)
        time.sleep(2.0)
        for k in range(1, self.nodes + 1):
            self.run_lab("pmxfs-start", k)
        self.record(action="healed")

    def run(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            count = 2 if self.rng.random() < 0.25 else 1
            faults, busy = [], set()
            for _ in range(count):
                fault = self.start_fault(self.rng.choice(KINDS), busy)
                if fault is None:
                    continue
                faults.append(fault)
                self.counts[fault[0]] = self.counts.get(fault[0], 0) + 1
                busy.add("partition" if fault[0] == "partition" else fault[1])
            time.sleep(self.rng.uniform(*self.hold))
            for fault in reversed(faults):
                self.end_fault(fault)
            time.sleep(self.rng.uniform(*self.calm))
            self.restart_exited()
        self.heal_all()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", required=True, help="path of tests/lab/lab.sh")
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True, help="time of faults")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--log", required=True, help="JSON lines of the faults")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    with open(args.log, "a") as log:
        nemesis = Nemesis(args.lab, args.nodes, log, rng, hold=(2.0, 10.0), calm=(1.0, 5.0))
        nemesis.record(action="seed", seed=args.seed)
        nemesis.run(args.seconds)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(nemesis.counts.items()))
    print(f"nemesis: seed {args.seed}, faults: {summary or 'none'}, "
          f"pmxfs restarted after stopping on its own: {nemesis.exits}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Check the histories of a reliability run of pmxfs.

Input: the clients' histories (JSON lines from rel_client: an "invoke" line,
then an "ok", "fail" or "info" line per operation, CLOCK_MONOTONIC ns), the
final state of each node (`rel_client dump`) and the nemesis log.

Checks:
- keys: each key's changes (create, compare-and-swap write, delete), plus a
  final read of the converged state, are linearizable as a compare-and-swap
  register (Wing and Gong's search with Lowe's memoization of the linearized
  set and the state). An "info" operation (outcome unknown) may take effect
  at any time after its invocation, or never. Reads of clients are not part
  of that search, because pmxfs serves reads from the node's own committed
  tree, which may lag behind a change acknowledged elsewhere (a minority
  node serves reads on purpose). Reads are checked for two weaker things.
  Each value read was written by an operation invoked before the read
  ended, and one client never reads an older version of a key than it saw
  before, because its node's tree only moves forward.
- versions: no two acknowledged changes report the same tree version, and
  a value is always seen with one version.
- files: an acknowledged create that was not deleted exists at the end, an
  acknowledged delete is gone, a definitely failed create does not exist.
- locks: no two holders' spans (acquire reply to release request or to
  liblock's loss) overlap, tokens of acquisitions ordered in real time
  increase, acknowledged writes with a fencing token have non-decreasing
  tokens in version order, and the lock's file ends with the last one.
- nodes: every node's final digest and dump are equal; entries under
  lost+found are listed, and an acknowledged value found there is a
  violation (it was moved out of place).

Exit status: 0 no violation, 1 violations, 2 usage or unreadable input.
"""

import argparse
import errno
import glob
import json
import os
import sys
from collections import defaultdict

# Errors that mean a change was certainly not applied and that observed
# nothing about the register, so the search leaves them out.
NOT_APPLIED = {-errno.EROFS, -errno.EAGAIN, -errno.EACCES, -errno.EINVAL, -errno.EFBIG,
               -errno.ENOSPC, -errno.EISDIR, -errno.ENOTDIR, -errno.EBUSY, -errno.ENOLCK}
ESTALE, EEXIST, ENOENT = -errno.ESTALE, -errno.EEXIST, -errno.ENOENT

DEFAULT_BUDGET = 2_000_000


class Op:
    """One operation: invoke and complete times, result type and fields."""

    __slots__ = ("client", "index", "f", "key", "call", "ret", "type", "fields")

    def __init__(self, client, index, f, key, call, ret, type_, fields):
        self.client = client
        self.index = index
        self.f = f
        self.key = key
        self.call = call
        self.ret = ret
        self.type = type_
        self.fields = fields

    def get(self, name, default=None):
        return self.fields.get(name, default)

    def describe(self):
        f = self.fields
        parts = [f"client {self.client} op {self.index} {self.f}"]
        if self.key is not None:
            parts.append(f"key {self.key}")
        for name in ("expect", "value", "version", "token", "rc", "error"):
            if name in f:
                parts.append(f"{name} {f[name]!r}")
        ret = "never" if self.ret is None else f"{self.ret / 1e9:.3f}"
        return " ".join(parts) + f" [{self.type}, {self.call / 1e9:.3f} -> {ret}]"


def parse_history(lines, client_hint=None):
    """Pair invoke and result lines. Return (ops, holds, errors)."""
    pending, ops, holds, errors = {}, [], [], []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"line {number} of client {client_hint}: {e}")
            continue
        key = (rec.get("client"), rec.get("op"))
        kind = rec.get("type")
        if kind == "invoke":
            pending[key] = rec
        elif kind == "hold":
            holds.append(rec)
        elif kind in ("ok", "fail", "info"):
            start = pending.pop(key, None)
            if start is None:
                errors.append(f"result without invoke: {line}")
                continue
            ops.append(Op(rec["client"], rec["op"], rec["f"], rec.get("key"), start["time"],
                          rec["time"] if kind != "info" else None, kind, rec))
        else:
            errors.append(f"unknown line type {kind!r}: {line}")
    for rec in pending.values():
        ops.append(Op(rec["client"], rec["op"], rec["f"], rec.get("key"), rec["time"], None,
                      "info", rec))
    return ops, holds, errors


# Compare-and-swap register --------------------------------------------------

_IMPOSSIBLE = object()


def step(state, op):
    """The state after op, or _IMPOSSIBLE when op cannot happen in state."""
    f, rc = op.f, op.get("rc", 0)
    if op.type in ("ok", "info"):
        if f == "create":
            return op.get("value") if state is None else _IMPOSSIBLE
        if f == "cas":
            return op.get("value") if state == op.get("expect") else _IMPOSSIBLE
        if f == "delete":
            return None if state == op.get("expect") else _IMPOSSIBLE
        if f == "read":
            return state if state == op.get("value") else _IMPOSSIBLE
        raise ValueError(f"unknown operation {f}")
    # A failure observed the state and changed nothing.
    if f == "create" and rc == EEXIST:
        return state if state is not None else _IMPOSSIBLE
    if f == "cas" and rc == ESTALE:
        return state if state != op.get("expect") else _IMPOSSIBLE
    if f == "delete" and rc == ESTALE:
        return state if state is not None and state != op.get("expect") else _IMPOSSIBLE
    if f == "delete" and rc == ENOENT:
        return state if state is None else _IMPOSSIBLE
    raise ValueError(f"unexpected failure {rc} of {f}")


def register_ops(ops):
    """The operations of one key that take part in the search, with
    definite non-effects and unobserved outcome-unknown writes left out."""
    used = []
    for op in ops:
        if op.f == "read":
            if op.type == "ok" and op.get("final"):
                used.append(op)
            continue
        if op.type == "fail" and op.get("rc") in NOT_APPLIED:
            continue
        used.append(op)
    # A write of unknown outcome whose value no operation read or expected can
    # only lead to a state that no later successful operation accepts, so
    # leaving it out loses no linearization when a final read exists.
    observed = set()
    for op in used:
        if op.f in ("cas", "delete"):
            observed.add(op.get("expect"))
        if op.f == "read":
            observed.add(op.get("value"))
    has_final = any(op.f == "read" and op.get("final") for op in used)
    if has_final:
        used = [op for op in used
                if not (op.type == "info" and op.f in ("create", "cas")
                        and op.get("value") not in observed)]
    return used


def linearizable(ops, init=None, budget=DEFAULT_BUDGET):
    """Search for a linearization of ops as a compare-and-swap register.

    Returns (True, None), (False, report) or (None, report) when the
    search ran out of budget.
    """
    events = []
    for i, op in enumerate(ops):
        events.append((op.call, 0, i))
        if op.ret is not None:
            events.append((op.ret, 1, i))
    events.sort()
    n = len(events)
    # A doubly linked list of the events; index n is its head, -1 its end.
    nxt = [pos + 1 if pos + 1 < n else -1 for pos in range(n)] + [0 if n else -1]
    prv = [pos - 1 if pos > 0 else n for pos in range(n)] + [-1]
    is_call = [ev[1] == 0 for ev in events]
    op_of = [ev[2] for ev in events]
    ret_pos = {}
    for pos, ev in enumerate(events):
        if ev[1] == 1:
            ret_pos[ev[2]] = pos

    def lift(pos):
        p, q = prv[pos], nxt[pos]
        nxt[p] = q
        if q != -1:
            prv[q] = p
        r = ret_pos.get(op_of[pos])
        if r is not None:
            p, q = prv[r], nxt[r]
            nxt[p] = q
            if q != -1:
                prv[q] = p

    def unlift(pos):
        r = ret_pos.get(op_of[pos])
        if r is not None:
            p, q = prv[r], nxt[r]
            nxt[p] = r
            if q != -1:
                prv[q] = r
        p, q = prv[pos], nxt[pos]
        nxt[p] = pos
        if q != -1:
            prv[q] = pos

    remaining = len(ret_pos)
    linearized, state = 0, init
    stack, cache = [], set()
    entry = nxt[n] if n else -1
    steps, best, blocker = 0, -1, None
    while remaining > 0:
        steps += 1
        if steps > budget:
            return None, {"reason": f"search budget of {budget} steps used up",
                          "ops": len(ops)}
        if entry == -1:
            raise AssertionError("a return event is left, so the list cannot end here")
        i = op_of[entry]
        if is_call[entry]:
            new = step(state, ops[i])
            if new is not _IMPOSSIBLE:
                mask = linearized | (1 << i)
                if (mask, new) not in cache:
                    cache.add((mask, new))
                    stack.append((entry, state))
                    linearized, state = mask, new
                    lift(entry)
                    if i in ret_pos:
                        remaining -= 1
                    if len(stack) > best:
                        best = len(stack)
                    entry = nxt[n]
                    continue
            entry = nxt[entry]
        else:
            if len(stack) >= best:
                blocker = (i, state, len(stack))
            if not stack:
                return False, failure_report(ops, blocker)
            entry, state = stack.pop()
            j = op_of[entry]
            linearized &= ~(1 << j)
            unlift(entry)
            if j in ret_pos:
                remaining += 1
            entry = nxt[entry]
    return True, None


def failure_report(ops, blocker):
    i, state, depth = blocker
    op = ops[i]
    window = [o for o in ops
              if o.call <= (op.ret or op.call) and (o.ret is None or o.ret >= op.call - 2_000_000_000)]
    window.sort(key=lambda o: o.call)
    return {
        "reason": "no linearization: this operation cannot take effect in any order "
                  "that explains the operations before it",
        "op": op.describe(),
        "state_before": state,
        "linearized": depth,
        "excerpt": [o.describe() for o in window[-25:]],
    }


# The other checks ----------------------------------------------------------

def check_versions(ops, dump):
    """No two acknowledged changes share a version; a value has one version."""
    violations = []
    by_version, by_value = {}, {}

    def see(value, version, what):
        if version is None or value is None:
            return
        other = by_value.setdefault(value, (version, what))
        if other[0] != version:
            violations.append(f"value {value!r} seen with version {version} ({what}) and "
                              f"{other[0]} ({other[1]})")
        other = by_version.setdefault(version, (value, what))
        if other[0] != value:
            violations.append(f"version {version} belongs to {value!r} ({what}) and to "
                              f"{other[0]!r} ({other[1]})")

    for op in ops:
        if op.type != "ok" or op.f not in ("create", "cas", "read", "lockwrite"):
            continue
        see(op.get("value"), op.get("version"), op.describe())
    for key, entry in (dump or {}).get("keys", {}).items():
        see(entry["value"], entry["version"], f"final state of {key}")
    return violations


def check_reads(ops):
    """Reads return written values and never go back in version for one
    client and key."""
    violations = []
    writes = defaultdict(list)
    for op in ops:
        if op.f in ("create", "cas") and not (op.type == "fail"):
            writes[(op.key, op.get("value"))].append(op)
    last = {}
    for op in sorted(ops, key=lambda o: (o.client, o.index)):
        if op.type != "ok" or op.key is None:
            continue
        if op.f == "read" and not op.get("final"):
            value = op.get("value")
            if value is not None:
                sources = writes.get((op.key, value), [])
                if not any(w.call <= op.ret for w in sources):
                    violations.append(f"read of a value nobody wrote before: {op.describe()}")
                seen = last.get((op.client, op.key))
                if seen is not None and op.get("version") < seen[0]:
                    violations.append(f"read went back from version {seen[0]} ({seen[1]}) to "
                                      f"{op.describe()}")
                last[(op.client, op.key)] = (op.get("version"), op.describe())
        elif op.f in ("create", "cas") and op.get("version") is not None:
            last[(op.client, op.key)] = (op.get("version"), op.describe())
    return violations


def check_files(ops, final_files):
    """Acknowledged creates and deletes of the clients' own files hold."""
    violations = []
    by_name = defaultdict(list)
    for op in ops:
        if op.f in ("fcreate", "fdelete"):
            by_name[op.key].append(op)
    for name, fops in by_name.items():
        fops.sort(key=lambda o: o.index)
        create = next((o for o in fops if o.f == "fcreate"), None)
        deletes = [o for o in fops if o.f == "fdelete"]
        exists = name in final_files
        if create is None:
            continue
        acked_delete = any(d.type == "ok" for d in deletes)
        maybe_deleted = any(d.type == "info" or d.type == "ok" for d in deletes)
        if create.type == "ok" and not maybe_deleted and not exists:
            violations.append(f"acknowledged file is missing at the end: {create.describe()}"
                              + "".join(f"; {d.describe()}" for d in deletes))
        if acked_delete and exists:
            violations.append(f"acknowledged delete, but the file exists at the end: "
                              f"{next(d for d in deletes if d.type == 'ok').describe()}")
        if create.type == "fail" and exists:
            violations.append(f"failed create, but the file exists at the end: "
                              f"{create.describe()}")
        for d in deletes:
            if d.type == "fail" and d.get("rc") == ENOENT and create.type == "ok" and \
                    not any(o.type in ("ok", "info") for o in deletes if o.index < d.index):
                violations.append(f"acknowledged file was gone before its delete: "
                                  f"{create.describe()}; {d.describe()}")
    return violations


def check_locks(ops, holds, final_keys):
    """Holders do not overlap, tokens increase, fenced writes keep order."""
    violations = []
    by_lock = defaultdict(list)
    for h in holds:
        by_lock[h["key"]].append(h)
    for name, hs in by_lock.items():
        hs.sort(key=lambda h: h["start"])
        for a, b in zip(hs, hs[1:]):
            if b["start"] < a["end"]:
                violations.append(
                    f"lock {name}: client {b['client']} (token {b['token']}) held it from "
                    f"{b['start'] / 1e9:.3f} while client {a['client']} (token {a['token']}) "
                    f"held it until {a['end'] / 1e9:.3f}")
        tokens = [h["token"] for h in hs]
        if len(set(tokens)) != len(tokens):
            violations.append(f"lock {name}: a token was granted twice: {tokens}")

    acquires = defaultdict(list)
    for op in ops:
        if op.f == "acquire" and op.type == "ok":
            acquires[op.key].append(op)
    for name, acq in acquires.items():
        for op in sorted(acq, key=lambda o: o.call):
            # Every acquisition that ended before this one started has a
            # lower token.
            earlier = [a.get("token") for a in acq if a.ret < op.call]
            if earlier and max(earlier) >= op.get("token"):
                violations.append(f"lock {name}: token {op.get('token')} is not above the "
                                  f"earlier token {max(earlier)}: {op.describe()}")

    writes = defaultdict(list)
    for op in ops:
        if op.f == "lockwrite":
            writes[op.key].append(op)
    for name, ws in writes.items():
        acked = sorted((w for w in ws if w.type == "ok"), key=lambda w: w.get("version"))
        for a, b in zip(acked, acked[1:]):
            if b.get("token") < a.get("token"):
                violations.append(f"lock {name}: write with token {b.get('token')} was applied "
                                  f"after one with token {a.get('token')}: {a.describe()}; "
                                  f"{b.describe()}")
        if not acked:
            continue
        path = "l" + name.rsplit("-", 1)[-1]
        final = final_keys.get(path)
        last = acked[-1]
        unknown = {w.get("value") for w in ws if w.type == "info"}
        if final is None:
            violations.append(f"lock {name}: /rel/{path} is missing at the end, last write "
                              f"{last.describe()}")
        elif final["version"] < last.get("version"):
            violations.append(f"lock {name}: /rel/{path} ends at version {final['version']}, "
                              f"before the acknowledged {last.describe()}")
        elif final["version"] == last.get("version") and final["value"] != last.get("value"):
            violations.append(f"lock {name}: /rel/{path} version {final['version']} holds "
                              f"{final['value']!r}, not {last.get('value')!r}")
        elif final["version"] > last.get("version") and final["value"] not in unknown:
            violations.append(f"lock {name}: /rel/{path} ends with {final['value']!r}, which no "
                              f"write of unknown outcome wrote")
    return violations


def check_nodes(dumps, ops):
    """Equal digests and dumps on every node; nothing acknowledged in
    lost+found."""
    violations, notes = [], []
    if not dumps:
        return ["no final state of any node"], notes
    first_name, first = dumps[0]
    for name, d in dumps[1:]:
        if d.get("digest") != first.get("digest"):
            violations.append(f"digest of {name} {d.get('digest')} differs from {first_name}'s "
                              f"{first.get('digest')}")
        elif d != first:
            violations.append(f"state of {name} differs from {first_name}'s with equal digests")
    lost = first.get("lost+found", {})
    acked = {op.get("value") for op in ops if op.type == "ok" and op.get("value") is not None}
    for path, entry in lost.items():
        notes.append(f"lost+found entry {path}: {entry['value']!r}")
        if entry["value"] in acked:
            violations.append(f"acknowledged value {entry['value']!r} ended up in {path}")
    return violations, notes


def final_reads(dump, keys, end):
    """A read of each key's final state, after every operation."""
    reads = []
    for i, key in enumerate(sorted(keys)):
        entry = dump.get("keys", {}).get(key)
        fields = {"f": "read", "rc": 0, "final": True,
                  "value": entry["value"] if entry else None}
        reads.append(Op("final", i, "read", key, end + 1, end + 2, "ok", fields))
    return reads


def check(ops, holds, dumps, budget=DEFAULT_BUDGET):
    """Run every check. Returns (violations, unchecked, notes)."""
    violations, unchecked, notes = [], [], []
    dump = dumps[0][1] if dumps else {"keys": {}, "files": {}}
    end = max([o.ret or o.call for o in ops] + [0])
    keys = {o.key for o in ops if o.f in ("create", "cas", "delete", "read")}
    keys |= {k for k in dump.get("keys", {}) if k.startswith("k")}
    all_ops = ops + final_reads(dump, keys, end)
    for key in sorted(keys):
        kops = register_ops([o for o in all_ops if o.key == key and
                             o.f in ("create", "cas", "delete", "read")])
        result, report = linearizable(kops, None, budget)
        if result is False:
            violations.append(f"key {key} is not linearizable: " + json.dumps(report, indent=1))
        elif result is None:
            unchecked.append(f"key {key}: {report['reason']} ({report['ops']} operations)")
    violations += check_versions(ops, dump)
    violations += check_reads(ops)
    violations += check_files(ops, dump.get("files", {}))
    violations += check_locks(ops, holds, dump.get("keys", {}))
    v, notes = check_nodes(dumps, ops)
    violations += v
    return violations, unchecked, notes


def load(history_dir, dump_files):
    ops, holds, errors = [], [], []
    for path in sorted(glob.glob(os.path.join(history_dir, "*.jsonl"))):
        with open(path) as f:
            o, h, e = parse_history(f, os.path.basename(path))
        ops += o
        holds += h
        errors += e
    dumps = []
    for path in dump_files:
        with open(path) as f:
            dumps.append((os.path.basename(path), json.load(f)))
    return ops, holds, dumps, errors


def fault_counts(log_path):
    counts, seed, exits = defaultdict(int), None, 0
    if not log_path or not os.path.exists(log_path):
        return counts, seed, exits
    with open(log_path) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("action") == "start":
                key = rec["kind"]
                if key == "partition":
                    key += " " + rec["sizes"]
                counts[key] += 1
            elif rec.get("action") == "seed":
                seed = rec["seed"]
            elif rec.get("action") == "restart-exited":
                exits += 1
    return counts, seed, exits


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", required=True, help="folder of *.jsonl histories")
    parser.add_argument("--dump", action="append", default=[], help="final state of a node")
    parser.add_argument("--faults", help="nemesis log")
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET,
                        help="search steps per key (default %(default)s)")
    args = parser.parse_args()
    try:
        ops, holds, dumps, errors = load(args.histories, args.dump)
    except (OSError, json.JSONDecodeError) as e:
        print(f"checker: cannot read the input: {e}", file=sys.stderr)
        return 2
    violations, unchecked, notes = check(ops, holds, dumps, args.budget)
    violations = errors + violations

    by_kind = defaultdict(lambda: defaultdict(int))
    for op in ops:
        by_kind[op.f][op.type] += 1
    counts, seed, exits = fault_counts(args.faults)
    print(f"seed: {seed}")
    print(f"operations: {len(ops)}")
    for f in sorted(by_kind):
        print(f"  {f}: " + ", ".join(f"{t} {n}" for t, n in sorted(by_kind[f].items())))
    print(f"lock holds: {len(holds)}")
    print(f"faults: {sum(counts.values())}")
    for kind in sorted(counts):
        print(f"  {kind}: {counts[kind]}")
    print(f"  pmxfs restarted after stopping on its own: {exits}")
    for note in notes:
        print(f"note: {note}")
    for u in unchecked:
        print(f"unchecked: {u}")
    print(f"violations: {len(violations)}")
    for v in violations:
        print(f"VIOLATION: {v}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())

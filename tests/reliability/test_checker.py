#!/usr/bin/env python3
"""Unit tests of checker.py on small hand-made histories: each history
either must pass or must be reported with the violation it contains.
Prints TAP."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402

S = 1_000_000_000  # ns per second


class History:
    """Build history lines: op(client, f, key, start, end, result, **fields)."""

    def __init__(self):
        self.lines = []
        self.next = {}

    def op(self, client, f, key, start, end, result="ok", **fields):
        index = self.next.get(client, 0)
        self.next[client] = index + 1
        base = {"client": client, "op": index, "f": f, "key": key}
        self.lines.append(json.dumps({**base, "type": "invoke", "time": start * S}))
        if result is not None:
            rec = {**base, **fields, "type": result,
                   "time": (end if end is not None else start + 1) * S}
            rec.setdefault("rc", 0)
            self.lines.append(json.dumps(rec))
        return self

    def hold(self, client, lock, token, start, end):
        self.lines.append(json.dumps({"client": client, "op": self.next.get(client, 0),
                                      "f": "hold", "key": lock, "type": "hold",
                                      "token": token, "start": start * S, "end": end * S}))
        return self

    def check(self, keys=None, files=None, digests=("d", "d"), budget=100000):
        ops, holds, errors = checker.parse_history(self.lines)
        assert not errors, errors
        dump = {"keys": keys or {}, "files": files or {}, "lost+found": {}}
        dumps = [(f"node{i + 1}", {**dump, "digest": d}) for i, d in enumerate(digests)]
        return checker.check(ops, holds, dumps, budget)


def final(value, version):
    return {"value": value, "version": version}


class RegisterTests(unittest.TestCase):
    def assertClean(self, result):
        violations, unchecked, _ = result
        self.assertEqual(violations, [])
        self.assertEqual(unchecked, [])

    def assertViolation(self, result, text):
        violations, _, _ = result
        self.assertTrue(any(text in v for v in violations), violations)

    def test_sequential_changes_pass(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        h.op(1, "cas", "k0", 3, 4, expect="a", value="b", version=11)
        h.op(2, "cas", "k0", 5, 6, "fail", rc=checker.ESTALE, expect="a", value="c")
        h.op(2, "delete", "k0", 7, 8, expect="b")
        h.op(2, "delete", "k0", 9, 10, "fail", rc=checker.ENOENT, expect="b")
        self.assertClean(h.check())

    def test_lost_acknowledged_write_fails(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        h.op(1, "cas", "k0", 3, 4, expect="a", value="b", version=11)
        self.assertViolation(h.check(keys={"k0": final("a", 10)}), "key k0 is not linearizable")

    def test_two_winners_of_one_cas_fail(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        h.op(1, "cas", "k0", 3, 6, expect="a", value="b", version=11)
        h.op(2, "cas", "k0", 4, 5, expect="a", value="c", version=12)
        self.assertViolation(h.check(keys={"k0": final("b", 11)}), "key k0 is not linearizable")

    def test_concurrent_chain_passes(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        h.op(1, "cas", "k0", 3, 10, expect="a", value="b", version=11)
        h.op(2, "cas", "k0", 5, 7, expect="b", value="c", version=12)
        self.assertClean(h.check(keys={"k0": final("c", 12)}))

    def test_real_time_order_fails(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        h.op(1, "cas", "k0", 3, 4, expect="a", value="b", version=11)
        h.op(2, "cas", "k0", 5, 6, expect="a", value="x", version=12)
        self.assertViolation(h.check(keys={"k0": final("x", 12)}), "key k0 is not linearizable")

    def test_impossible_failure_fails(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        h.op(2, "cas", "k0", 3, 4, "fail", rc=checker.ESTALE, expect="a", value="b")
        self.assertViolation(h.check(keys={"k0": final("a", 10)}), "key k0 is not linearizable")

    def test_unknown_outcome_applied_passes(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        h.op(1, "cas", "k0", 3, None, "info", rc=-115, expect="a", value="b")
        h.op(2, "cas", "k0", 8, 9, expect="b", value="c", version=12)
        self.assertClean(h.check(keys={"k0": final("c", 12)}))

    def test_unknown_outcome_not_applied_passes(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        h.op(1, "cas", "k0", 3, None, None, expect="a", value="b")
        h.op(2, "cas", "k0", 8, 9, expect="a", value="c", version=12)
        self.assertClean(h.check(keys={"k0": final("c", 12)}))

    def test_unknown_outcome_before_its_invoke_fails(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        h.op(2, "cas", "k0", 3, 4, expect="b", value="c", version=12)
        h.op(1, "cas", "k0", 5, None, "info", rc=-115, expect="a", value="b")
        self.assertViolation(h.check(keys={"k0": final("c", 12)}), "key k0 is not linearizable")

    def test_definite_failure_applied_fails(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        h.op(1, "cas", "k0", 3, 4, "fail", rc=-30, expect="a", value="b")
        self.assertViolation(h.check(keys={"k0": final("b", 11)}), "key k0 is not linearizable")

    def test_search_budget_reports_unchecked(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        for i in range(12):
            h.op(10 + i, "cas", "k0", 3, None, "info", rc=-115, expect="a", value=f"v{i}")
            h.op(30 + i, "cas", "k0", 20 + i, 21 + i, "fail", rc=checker.ESTALE,
                 expect=f"v{i}", value="z")
        violations, unchecked, _ = h.check(keys={"k0": final("a", 10)}, budget=50)
        self.assertEqual(len(unchecked), 1)
        self.assertIn("budget", unchecked[0])


class OtherChecksTests(unittest.TestCase):
    def violations(self, h, **kwargs):
        return h.check(**kwargs)[0]

    def test_duplicate_version_fails(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        h.op(2, "create", "k1", 1, 2, value="b", version=10)
        v = self.violations(h, keys={"k0": final("a", 10), "k1": final("b", 10)})
        self.assertTrue(any("version 10 belongs to" in x for x in v), v)

    def test_phantom_read_fails(self):
        h = History()
        h.op(1, "read", "k0", 1, 2, value="ghost", version=7)
        v = self.violations(h)
        self.assertTrue(any("nobody wrote" in x for x in v), v)

    def test_read_going_back_fails(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        h.op(1, "cas", "k0", 3, 4, expect="a", value="b", version=11)
        h.op(1, "read", "k0", 5, 6, value="a", version=10)
        v = self.violations(h, keys={"k0": final("b", 11)})
        self.assertTrue(any("went back" in x for x in v), v)

    def test_stale_read_of_other_client_passes(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        h.op(1, "cas", "k0", 3, 4, expect="a", value="b", version=11)
        h.op(2, "read", "k0", 5, 6, value="a", version=10)
        self.assertEqual(self.violations(h, keys={"k0": final("b", 11)}), [])

    def test_missing_file_fails(self):
        h = History()
        h.op(1, "fcreate", "c1-0", 1, 2)
        h.op(1, "fcreate", "c1-1", 3, 4)
        h.op(1, "fdelete", "c1-1", 5, 6)
        v = self.violations(h, files={})
        self.assertEqual(len(v), 1, v)
        self.assertIn("c1-0", v[0])

    def test_deleted_file_present_fails(self):
        h = History()
        h.op(1, "fcreate", "c1-0", 1, 2)
        h.op(1, "fdelete", "c1-0", 3, 4)
        v = self.violations(h, files={"c1-0": final("c1-0", 5)})
        self.assertTrue(any("acknowledged delete" in x for x in v), v)

    def test_files_of_unknown_outcome_pass(self):
        h = History()
        h.op(1, "fcreate", "c1-0", 1, None, "info", rc=-115)
        h.op(1, "fcreate", "c1-1", 3, 4)
        h.op(1, "fdelete", "c1-1", 5, None, "info", rc=-115)
        self.assertEqual(self.violations(h, files={"c1-1": final("c1-1", 4)}), [])

    def test_overlapping_holders_fail(self):
        h = History()
        h.op(1, "acquire", "rel-0", 1, 2, token=20)
        h.hold(1, "rel-0", 20, 2, 6)
        h.op(2, "acquire", "rel-0", 3, 5, token=30)
        h.hold(2, "rel-0", 30, 5, 7)
        v = self.violations(h)
        self.assertTrue(any("held it until" in x for x in v), v)

    def test_consecutive_holders_pass(self):
        h = History()
        h.op(1, "acquire", "rel-0", 1, 2, token=20)
        h.hold(1, "rel-0", 20, 2, 4)
        h.op(1, "lockwrite", "rel-0", 2, 3, token=20, value="w1", version=21)
        h.op(2, "acquire", "rel-0", 3, 5, token=30)
        h.hold(2, "rel-0", 30, 5, 7)
        h.op(2, "lockwrite", "rel-0", 5, 6, token=30, value="w2", version=31)
        self.assertEqual(self.violations(h, keys={"l0": final("w2", 31)}), [])

    def test_token_going_down_fails(self):
        h = History()
        h.op(1, "acquire", "rel-0", 1, 2, token=30)
        h.op(2, "acquire", "rel-0", 5, 6, token=20)
        v = self.violations(h)
        self.assertTrue(any("is not above" in x for x in v), v)

    def test_fenced_write_out_of_order_fails(self):
        h = History()
        h.op(1, "lockwrite", "rel-0", 1, 2, token=30, value="new", version=40)
        h.op(2, "lockwrite", "rel-0", 3, 4, token=20, value="old", version=41)
        v = self.violations(h, keys={"l0": final("old", 41)})
        self.assertTrue(any("was applied after" in x for x in v), v)

    def test_lock_file_losing_last_write_fails(self):
        h = History()
        h.op(1, "lockwrite", "rel-0", 1, 2, token=30, value="w1", version=40)
        h.op(1, "lockwrite", "rel-0", 3, 4, token=30, value="w2", version=41)
        v = self.violations(h, keys={"l0": final("w1", 40)})
        self.assertTrue(any("before the acknowledged" in x for x in v), v)

    def test_digests_differ_fail(self):
        h = History()
        v = self.violations(h, digests=("a", "b"))
        self.assertTrue(any("differs" in x for x in v), v)

    def test_acknowledged_value_in_lost_found_fails(self):
        h = History()
        h.op(1, "create", "k0", 1, 2, value="a", version=10)
        ops, holds, _ = checker.parse_history(h.lines)
        dump = {"keys": {"k0": final("a", 10)}, "files": {}, "digest": "d",
                "lost+found": {"/lost+found/node2/x/rel/k0": final("a", 50)}}
        violations, _, notes = checker.check(ops, holds, [("node1", dump)])
        self.assertTrue(any("ended up in" in x for x in violations), violations)
        self.assertEqual(len(notes), 1)

    def test_invoke_without_result_is_unknown(self):
        h = History()
        h.op(1, "cas", "k0", 1, None, None, expect="a", value="b")
        ops, _, _ = checker.parse_history(h.lines)
        self.assertEqual(ops[0].type, "info")
        self.assertIsNone(ops[0].ret)


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    tests = list(iter_tests(suite))
    print(f"1..{len(tests)}")
    failed = 0
    for n, test in enumerate(tests, 1):
        result = unittest.TestResult()
        test.run(result)
        name = test.id().rsplit(".", 1)[-1]
        if result.wasSuccessful():
            print(f"ok {n} - {name}")
        else:
            failed += 1
            print(f"not ok {n} - {name}")
            for _, trace in result.failures + result.errors:
                for line in trace.splitlines():
                    print(f"# {line}")
    return 1 if failed else 0


def iter_tests(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from iter_tests(item)
        else:
            yield item


if __name__ == "__main__":
    sys.exit(main())

"""`wf2sqlite diff` (SPEC 15): what changed between two loaded runs of a table."""
import csv
import io
import json
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from wfharness import Emu, WfTestCase, db_query, run_wf, wf_env  # noqa: E402

SCHEMA = [{"id": "id", "type": "number"}, {"id": "name", "type": "string"},
          {"id": "score", "type": "number"}]

# Run 1 and run 2 of table t (ids: 1 same, 2 changed, 3 twice in A, 4 removed,
# 5 added twice; score 1 vs 1.0 is no change).
ROWS_A = [{"id": 1, "name": "a", "score": 1}, {"id": 2, "name": "b", "score": 2.5},
          {"id": 3, "name": "c", "score": 3}, {"id": 3, "name": "c", "score": 3},
          {"id": 4, "name": "d", "score": 4}]
ROWS_B = [{"id": 1, "name": "a", "score": 1.0}, {"id": 2, "name": "B", "score": 2.5},
          {"id": 3, "name": "c", "score": 3}, {"id": 5, "name": "e", "score": 5},
          {"id": 5, "name": "e", "score": 5}]


def body(rows, schema=SCHEMA):
    return json.dumps({"schema": schema, "data": rows, "start": 0, "end": len(rows)})


class TestDiff(WfTestCase):
    def setUp(self):
        super().setUp()
        self.db = self.path("h.db")

    def load(self, rows, table="t", schema=SCHEMA, rc=0):
        p = self.path("b%d.json" % len(os.listdir(self.dir)))
        with open(p, "w") as f:
            f.write(body(rows, schema))
        r = run_wf(["load", p, "--db", self.db, "--table", table, "-q"], env=wf_env())
        self.assertRc(r, rc)

    def diff(self, *args, rc=0):
        r = run_wf(["diff", "--db", self.db] + list(args), env=wf_env())
        self.assertRc(r, rc)
        return r

    def two_runs(self):
        self.load(ROWS_A)
        self.load(ROWS_B)

    def test_without_key_rows_compare_whole_as_multisets(self):
        self.two_runs()
        r = self.diff("--table", "t")
        lines = r.out.splitlines()
        # 1 and 1.0 are equal; the second copy of id 3 is removed once; id 5
        # is added twice; id 2 changed: one row removed, one added.
        self.assertEqual(lines[0], "3 added, 3 removed, 0 changed, 2 unchanged")
        self.assertIn("comparing run 1 with run 2 of t", r.err)
        added = lines[lines.index("added (3):") + 2:][:3]
        self.assertEqual(added, ["2\tB\t2.5", "5\te\t5", "5\te\t5"])
        removed = lines[lines.index("removed (3):") + 1:][:4]
        self.assertEqual(removed, ["id\tname\tscore", "2\tb\t2.5", "3\tc\t3", "4\td\t4"])

    def test_with_key_added_removed_changed_and_duplicates(self):
        self.two_runs()
        r = self.diff("--table", "t", "--key", "id")
        lines = r.out.splitlines()
        self.assertEqual(lines[0], "0 added, 1 removed, 1 changed, 1 unchanged, 2 duplicate keys")
        ch = lines.index("changed (1):")
        self.assertEqual(lines[ch + 1:ch + 3], ["id\tcolumn\told\tnew", "2\tname\tb\tB"])
        dup = lines.index("duplicate keys (2):")
        self.assertEqual(lines[dup + 1:dup + 4],
                         ["id\trows in run 1\trows in run 2", "3\t2\t1", "5\t0\t2"])

    def test_json_has_every_difference_and_the_summary(self):
        self.two_runs()
        j = self.diff("--table", "t", "--key", "id", "--json").json()
        self.assertEqual((j["run_a"], j["run_b"], j["key"], j["table"]), (1, 2, ["id"], "t"))
        self.assertEqual(j["summary"], {"added": 0, "removed": 1, "changed": 1, "unchanged": 1,
                                        "duplicate_keys": 2})
        by = {}
        for d in j["differences"]:
            by.setdefault(d["change"], []).append(d)
        self.assertEqual(by["changed"], [{"change": "changed", "key": {"id": 2},
                                          "columns": {"name": {"old": "b", "new": "B"}}}])
        self.assertEqual(by["removed"][0]["row"], {"id": 4, "name": "d", "score": 4})
        self.assertEqual(sorted((d["key"]["id"], d["rows_a"], d["rows_b"])
                                for d in by["duplicate_key"]), [(3, 2, 1), (5, 0, 2)])
        self.assertIsNone(j["error"])
        self.assertEqual(j["exit_code"], 0)
        # Without a key: one element per repeated row.
        j = self.diff("--table", "t", "--json").json()
        self.assertEqual(len([d for d in j["differences"] if d["change"] == "added"]), 3)
        self.assertEqual(j["summary"]["added"], 3)
        self.assertIsNone(j["key"])

    def test_csv_prints_every_difference(self):
        self.two_runs()
        r = self.diff("--table", "t", "--csv", "--limit", "1")
        rows = list(csv.reader(io.StringIO(r.out)))
        self.assertEqual(rows[0], ["change", "id", "name", "score"])
        self.assertEqual(sorted(rows[1:]), [["added", "2", "B", "2.5"],
                                            ["added", "5", "e", "5"], ["added", "5", "e", "5"],
                                            ["removed", "2", "b", "2.5"], ["removed", "3", "c", "3"],
                                            ["removed", "4", "d", "4"]])
        self.assertIn("3 added, 3 removed", r.err)
        rows = list(csv.reader(io.StringIO(self.diff("--table", "t", "--key", "id", "--csv").out)))
        self.assertEqual(rows[0], ["change", "id", "column", "old", "new"])
        self.assertIn(["changed", "2", "name", "b", "B"], rows)
        self.assertIn(["removed", "4", "score", "4", ""], rows)
        self.assertIn(["duplicate_key", "3", "", "2", "1"], rows)

    def test_limit_cuts_the_report_and_says_how_many_more(self):
        self.load([{"id": i, "name": "x", "score": i} for i in range(30)])
        self.load([{"id": i, "name": "y", "score": i} for i in range(30)])
        lines = self.diff("--table", "t", "--key", "id").out.splitlines()
        self.assertEqual(lines[0], "0 added, 0 removed, 30 changed, 0 unchanged")
        self.assertEqual(len([ln for ln in lines if ln.endswith("\tname\tx\ty")]), 20)
        self.assertIn("... and 10 more", lines[-1])
        lines = self.diff("--table", "t", "--key", "id", "--limit", "0").out.splitlines()
        self.assertEqual(len([ln for ln in lines if ln.endswith("\tname\tx\ty")]), 30)

    def test_defaults_newest_two_loaded_runs_and_explicit_runs(self):
        self.load([{"id": 1, "name": "a", "score": 1}])
        self.load([{"id": 1, "name": "b", "score": 1}])
        self.load([{"id": 1, "name": "c", "score": 1}])
        self.load([{"id": 1}], table="other")
        # A failed run of t is not a loaded run: the defaults skip it.
        p = self.path("bad.json")
        with open(p, "w") as f:
            f.write('{"schema": [], "data": [{"id": 1}, ')
        self.assertRc(run_wf(["load", p, "--db", self.db, "--table", "t"], env=wf_env()), 9)
        j = self.diff("--table", "t", "--key", "id", "--json").json()
        self.assertEqual((j["run_a"], j["run_b"]), (2, 3))
        j = self.diff("1", "--table", "t", "--key", "id", "--json").json()
        self.assertEqual((j["run_a"], j["run_b"]), (1, 3))
        j = self.diff("3", "1", "--table", "t", "--key", "id", "--json").json()
        self.assertEqual(j["differences"][0]["columns"]["name"], {"old": "c", "new": "a"})
        # Unknown run, a run of another table, a failed run: exit 2.
        for args in (["9"], ["1", "4"], ["1", "5"]):
            r = self.diff(*args, "--table", "t", rc=2)
            self.assertIn("run", r.err)
        j = self.diff("1", "4", "--table", "t", "--json", rc=2).json()
        self.assertIn("run 4 loaded table other", j["error"])
        self.assertEqual((j["exit_code"], j["summary"], j["differences"]), (2, None, []))

    def test_exit_codes(self):
        self.two_runs()
        self.load(ROWS_B)
        self.assertRc(run_wf(["diff", "--db", self.db, "--table", "t", "--exit-code"],
                             env=wf_env()), 0)
        self.diff("1", "2", "--table", "t", "--exit-code", rc=10)
        self.diff("1", "2", "--table", "t")
        j = self.diff("1", "2", "--table", "t", "--exit-code", "--json", rc=10).json()
        self.assertEqual(j["exit_code"], 10)
        self.diff("--table", "nope", rc=2)
        self.diff("--table", "t", "--key", "nope", rc=2)
        self.diff(rc=2)
        self.diff("x", "--table", "t", rc=2)
        self.diff("--table", "t", "--json", "--csv", rc=2)
        self.assertRc(run_wf(["diff", "--db", self.path("none.db"), "--table", "t"],
                             env=wf_env()), 2)
        self.assertFalse(os.path.exists(self.path("none.db")))
        self.load([{"id": 1}], table="one")
        self.assertIn("only one", self.diff("--table", "one", rc=2).err)

    def test_column_in_one_run_only_is_reported_then_compared_as_null(self):
        self.load([{"id": 1, "name": "a", "score": 1}],
                  schema=SCHEMA + [{"id": "old", "type": "string"}])
        self.load([{"id": 1, "name": "a", "score": 1, "new": None}],
                  schema=SCHEMA + [{"id": "new", "type": "string"}])
        r = self.diff("--table", "t", "--key", "id")
        self.assertIn("column dropped: old (only in run 1)", r.out)
        self.assertIn("column added: new (only in run 2)", r.out)
        self.assertEqual(r.out.splitlines()[0], "0 added, 0 removed, 0 changed, 1 unchanged")
        j = self.diff("--table", "t", "--key", "id", "--json", "--exit-code", rc=10).json()
        self.assertEqual((j["columns_added"], j["columns_dropped"]), (["new"], ["old"]))

    def test_reads_without_writing_and_names_are_quoted(self):
        schema = [{"id": 'k"1', "type": "string"}, {"id": "select", "type": "number"}]
        self.load([{'k"1': "a", "select": 1}], table="my table", schema=schema)
        self.load([{'k"1': "a", "select": 2}], table="my table", schema=schema)
        before = db_query(self.db, "SELECT count(*) FROM _wf_runs")
        os.chmod(self.db, 0o444)
        j = self.diff("--table", "my table", "--key", 'k"1', "--json").json()
        self.assertEqual(j["differences"][0]["columns"], {"select": {"old": 1, "new": 2}})
        self.assertEqual(db_query(self.db, "SELECT count(*) FROM _wf_runs"), before)

    def test_terminal_gets_an_aligned_table_cut_to_its_width(self):
        import fcntl
        import pty
        import struct
        import subprocess
        import termios
        from wfharness import WF2SQLITE
        self.load([{"id": 1, "name": "short", "score": 1}])
        self.load([{"id": 1, "name": "x" * 200, "score": 22}])
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 60, 0, 0))
        p = subprocess.Popen([WF2SQLITE, "diff", "--db", self.db, "--table", "t", "--key", "id"],
                             stdout=slave, stderr=subprocess.DEVNULL, env=wf_env())
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        self.assertEqual(p.wait(), 0)
        lines = out.decode().replace("\r", "").splitlines()
        self.assertEqual(lines[0], "0 added, 0 removed, 1 changed, 0 unchanged")
        head = lines.index("changed (1):") + 1
        header, name, score = lines[head], lines[head + 1], lines[head + 2]
        self.assertEqual(header.split(), ["id", "column", "old", "new"])
        # Aligned: each value starts under its header; cut to 60 columns.
        self.assertEqual(name[header.index("old"):].split()[0], "short")
        self.assertEqual(score[header.index("new"):].strip(), "22")
        self.assertLessEqual(max(len(ln) for ln in lines), 60)
        self.assertIn("...", name)

    def test_runs_of_the_emulator_with_the_defaults(self):
        def wf(seed):
            return {"cards": [{"id": "c", "ms": 10}], "final_status": "idle",
                    "generate": {"rows": 50, "seed": seed}}
        scenario = {"workflows": {"w1": wf(0), "w2": wf(0), "w3": wf(7)}}
        with Emu(scenario) as emu:
            for w in ("w1", "w2", "w3"):
                r = run_wf(["run", w, "--db", self.db, "--table", "sales", "-q"], emu=emu)
                self.assertRc(r, 0)
        # The same rows twice, then every row's content changed.
        j = self.diff("1", "2", "--table", "sales", "--key", "id", "--json").json()
        self.assertEqual(j["summary"]["unchanged"], 50)
        j = self.diff("--table", "sales", "--key", "id", "--json").json()
        self.assertEqual((j["run_a"], j["run_b"]), (2, 3))
        s = j["summary"]
        self.assertEqual(s["added"] + s["removed"] + s["duplicate_keys"], 0)
        self.assertGreater(s["changed"], 40)
        # The changed values are the stored ones.
        con = sqlite3.connect(self.db)
        d = j["differences"][0]
        col, ch = next(iter(d["columns"].items()))
        got = con.execute('SELECT "%s" FROM sales WHERE id = ? AND _run_id = 3' % col,
                          (d["key"]["id"],)).fetchone()[0]
        con.close()
        self.assertEqual(got, ch["new"])


if __name__ == "__main__":
    unittest.main()

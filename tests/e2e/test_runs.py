"""`wf2sqlite runs`: the audit history, newest first."""
import json
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from wfharness import SOURCE_DIR, WfTestCase, db_query, run_wf, wf_env  # noqa: E402

SCHEMA = [{"id": "a", "type": "string"}, {"id": "n", "type": "number"}]


def body(n, total=None):
    rows = [{"a": "x%d" % i, "n": i} for i in range(n)]
    return json.dumps({"schema": SCHEMA, "data": rows, "start": 0, "end": n,
                       "result": {"summary": {"totalNumberOfRows": n if total is None else total}}})


class TestRuns(WfTestCase):
    def setUp(self):
        super().setUp()
        self.db = self.path("runs.db")

    def load(self, text, *args, rc=0):
        p = self.path("b%d.json" % len(os.listdir(self.dir)))
        with open(p, "w") as f:
            f.write(text)
        r = run_wf(["load", p, "--db", self.db] + list(args), env=wf_env())
        self.assertRc(r, rc)
        return r

    def history(self):
        self.load(body(3), "--table", "sales", "--workflow", "wf-1")
        self.load(body(2, total=5), "--table", "sales")
        self.load('{"schema": [], "data": [{"a": 1}, ' + "x" * 300, "--table", "other", rc=9)

    def test_table_lists_runs_newest_first_aligned(self):
        self.history()
        r = run_wf(["runs", "--db", self.db], env=wf_env())
        self.assertRc(r, 0)
        lines = r.out.splitlines()
        self.assertEqual(len(lines), 4, r.out)
        header = lines[0]
        for col in ("RUN", "STARTED", "STATUS", "ROWS", "TABLE", "SESSION", "WORKFLOW",
                    "DURATION", "ERROR"):
            self.assertIn(col, header)
        self.assertEqual([ln.split()[0] for ln in lines[1:]], ["3", "2", "1"])
        # Aligned: every status starts under the STATUS header.
        at = header.index("STATUS")
        self.assertEqual([ln[at:].split()[0] for ln in lines[1:]], ["failed", "partial", "loaded"])
        at = header.index("TABLE")
        self.assertEqual([ln[at:].split()[0] for ln in lines[1:]], ["other", "sales", "sales"])
        self.assertIn("2/5", lines[2])
        self.assertIn("wf-1", lines[3])
        # The error is shortened to one readable line.
        self.assertIn("...", lines[1])
        self.assertLess(len(lines[1]), 200)
        for ln in lines:
            self.assertEqual(ln, ln.rstrip())

    def test_json_is_an_array_of_objects_newest_first(self):
        self.history()
        r = run_wf(["runs", "--db", self.db, "--json"], env=wf_env())
        self.assertRc(r, 0)
        runs = json.loads(r.out)
        self.assertEqual([x["run_id"] for x in runs], [3, 2, 1])
        self.assertEqual([x["status"] for x in runs], ["failed", "partial", "loaded"])
        self.assertEqual(runs[2]["workflow_id"], "wf-1")
        self.assertEqual((runs[1]["rows_loaded"], runs[1]["rows_reported"]), (2, 5))
        self.assertTrue(runs[0]["error"])
        self.assertIsNone(runs[0]["rows_loaded"])
        self.assertIsNone(runs[2]["session_id"])
        for key in ("table", "mode", "started_at", "finished_at", "total_ms", "load_ms",
                    "wait_ms", "execution_ms", "pid", "tool_version", "variables"):
            self.assertIn(key, runs[0])

    def test_database_from_the_environment(self):
        self.load(body(1), "--table", "t")
        r = run_wf(["runs", "--json"], env=wf_env(extra={"WF2SQLITE_DB": self.db}))
        self.assertRc(r, 0)
        self.assertEqual(len(json.loads(r.out)), 1)

    def test_missing_database_is_not_created(self):
        missing = self.path("typo.db")
        r = run_wf(["runs", "--db", missing], env=wf_env())
        self.assertRc(r, 7)
        self.assertIn("typo.db", r.err)
        self.assertFalse(os.path.exists(missing))

    def test_database_without_runs(self):
        db_query(self.db, "CREATE TABLE unrelated (x)")
        r = run_wf(["runs", "--db", self.db], env=wf_env())
        self.assertRc(r, 0)
        self.assertEqual(r.out, "")
        self.assertIn("no runs", r.err)
        r = run_wf(["runs", "--db", self.db, "--json"], env=wf_env())
        self.assertEqual(json.loads(r.out), [])

    def test_runs_does_not_write(self):
        self.load(body(1), "--table", "t")
        before = db_query(self.db, "SELECT * FROM _wf_runs")
        mtime = os.path.getmtime(self.db)
        run_wf(["runs", "--db", self.db], env=wf_env())
        self.assertEqual(db_query(self.db, "SELECT * FROM _wf_runs"), before)
        self.assertEqual(os.path.getmtime(self.db), mtime)


class TestExampleQueries(WfTestCase):
    """sql/examples/*.sql run against a real database (table `sales`)."""

    def statements(self, name):
        path = os.path.join(SOURCE_DIR, "sql", "examples", name)
        with open(path) as f:
            text = f.read()
        return [s for s in (p.strip() for p in text.split(";\n")) if s and
                not all(ln.startswith("--") for ln in s.splitlines())]

    def setUp(self):
        super().setUp()
        self.db = self.path("ex.db")
        # The columns of the demo workflow (examples/demo-scenario.json).
        schema = [{"id": "region", "type": "string"}, {"id": "product", "type": "string"},
                  {"id": "units", "type": "number"}, {"id": "revenue", "type": "number"}]
        for rows in ([["a", "w", 1, 10], ["b", "w", 2, 20]],
                     [["a", "w", 1, 10], ["c", "g", 3, 30.5]]):
            p = self.path("b.json")
            with open(p, "w") as f:
                json.dump({"schema": schema, "data": rows, "start": 0, "end": 2,
                           "result": {"summary": {"totalNumberOfRows": 2}}}, f)
            self.assertRc(run_wf(["load", p, "--db", self.db, "--table", "sales"], env=wf_env()), 0)
        with open(p, "w") as f:
            f.write("{oops")
        self.assertRc(run_wf(["load", p, "--db", self.db, "--table", "sales"], env=wf_env()), 9)

    def run_file(self, name):
        con = sqlite3.connect(self.db)
        try:
            return [con.execute(s).fetchall() for s in self.statements(name)]
        finally:
            con.close()

    def test_latest_rows(self):
        a, b = self.run_file("latest_rows.sql")
        self.assertEqual(sorted(r[:3] for r in a), [("a", "w", 1), ("c", "g", 3)])
        self.assertEqual([r[0] for r in b], [2, 2])

    def test_compare_runs(self):
        per_run, diff = self.run_file("compare_runs.sql")
        self.assertEqual(per_run, [(2, 2), (1, 2)])
        self.assertEqual(sorted(diff), [("added", "c", "g", 3, 30.5), ("removed", "b", "w", 2, 20)])

    def test_run_durations(self):
        per_table, slowest = self.run_file("run_durations.sql")
        self.assertEqual(per_table[0][:2], ("sales", 2))
        self.assertEqual(len(slowest), 3)

    def test_failed_runs(self):
        failed, running, partial = self.run_file("failed_runs.sql")
        self.assertEqual([(r[0], r[1]) for r in failed], [(3, "failed")])
        self.assertEqual(running, [])
        self.assertEqual(partial, [])


if __name__ == "__main__":
    unittest.main()

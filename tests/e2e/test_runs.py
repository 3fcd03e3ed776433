"""`wf2sqlite runs`: the audit history, newest first."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from wfharness import SOURCE_DIR, WF2SQLITE, WfTestCase, db_query, run_wf, wf_env  # noqa: E402

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
        # SPEC 18: says so on stderr, lists nothing, exit 0.
        missing = self.path("typo.db")
        r = run_wf(["runs", "--db", missing], env=wf_env())
        self.assertRc(r, 0)
        self.assertIn("typo.db", r.err)
        self.assertEqual(r.out, "")
        self.assertFalse(os.path.exists(missing))
        r = run_wf(["runs", "--db", missing, "--json"], env=wf_env())
        self.assertRc(r, 0)
        self.assertEqual(json.loads(r.out), [])
        self.assertIn("typo.db", r.err)
        for suffix in ("", "-wal", "-shm", "-journal"):
            self.assertFalse(os.path.exists(missing + suffix), suffix)

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


class TestRunsAtAGlance(WfTestCase):
    """SPEC 18: filters done by SQLite, the variables column, --limit, and
    no -wal/-shm files left behind."""

    def setUp(self):
        super().setUp()
        self.db = self.path("runs.db")

    load = TestRuns.load

    def history(self):
        self.load(body(3), "--table", "sales", "--workflow", "wf-1")
        self.load(body(2, total=5), "--table", "Sales", "--workflow", "wf-2")
        self.load('{"schema": [], "data": [{"a": 1}, ' + "x" * 300, "--table", "other", rc=9)
        con = sqlite3.connect(self.db)
        con.execute("""UPDATE _wf_runs SET variables = '{"region": "emea", "n": "3"}',
                       batch_id = NULL WHERE run_id = 1""")
        con.execute("INSERT INTO _wf_batches (workflow_id, table_name, matrix, matrix_sha256,"
                    " total, created_at, status) VALUES ('wf-1', 'sales', '[]', 'x', 1,"
                    " '2026-01-01T00:00:00.000Z', 'done')")
        con.execute("UPDATE _wf_runs SET batch_id = 1, batch_index = 0 WHERE run_id = 2")
        # An old run: started two days ago.
        con.execute("UPDATE _wf_runs SET started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now',"
                    " '-2 days') WHERE run_id = 1")
        con.commit()
        con.close()

    def ids(self, *args):
        r = run_wf(["runs", "--db", self.db, "--json"] + list(args), env=wf_env())
        self.assertRc(r, 0)
        return [x["run_id"] for x in json.loads(r.out)]

    def test_each_filter(self):
        self.history()
        self.assertEqual(self.ids(), [3, 2, 1])
        # --table compares as SQLite does names: case-insensitively.
        self.assertEqual(self.ids("--table", "sales"), [2, 1])
        self.assertEqual(self.ids("--table", "other"), [3])
        self.assertEqual(self.ids("--workflow", "wf-1"), [1])
        self.assertEqual(self.ids("--status", "failed"), [3])
        self.assertEqual(self.ids("--status", "loaded,partial"), [2, 1])
        self.assertEqual(self.ids("--batch", "1"), [2])
        self.assertEqual(self.ids("--batch", "7"), [])
        self.assertEqual(self.ids("--since", "1h"), [3, 2])
        self.assertEqual(self.ids("--since", "3d"), [3, 2, 1])
        self.assertEqual(self.ids("--limit", "2"), [3, 2])
        self.assertEqual(self.ids("--limit", "0"), [3, 2, 1])
        # They all apply.
        self.assertEqual(self.ids("--table", "sales", "--since", "1h"), [2])
        self.assertEqual(self.ids("--table", "sales", "--status", "failed"), [])

    def test_repeated_status_lists_add_up(self):
        self.history()
        self.assertEqual(self.ids("--status", "failed", "--status", "loaded"), [3, 1])
        self.assertEqual(self.ids("--status", "partial", "--status", "failed,loaded"),
                         self.ids("--status", "partial,failed,loaded"))
        # Options before the command add up with the command's own.
        r = run_wf(["--status", "failed", "runs", "--db", self.db, "--json", "--status",
                    "loaded"], env=wf_env())
        self.assertRc(r, 0)
        self.assertEqual([x["run_id"] for x in json.loads(r.out)], [3, 1])
        r = run_wf(["runs", "--db", self.db, "--status", "failed", "--status", "bogus"],
                   env=wf_env())
        self.assertRc(r, 2)
        self.assertIn("failed,bogus", r.err)

    def test_filters_are_bound_not_pasted(self):
        self.history()
        self.assertEqual(self.ids("--table", "x' OR '1'='1"), [])
        self.assertEqual(self.ids("--workflow", "wf-1' --"), [])
        self.assertEqual(db_query(self.db, "SELECT count(*) FROM _wf_runs"), [(3,)])

    def test_bad_filter_values_are_usage_errors(self):
        self.history()
        for args in (["--status", "done"], ["--status", ""], ["--status", "upsert"],
                     ["--status", "loaded,,failed"], ["--limit", "-1"],
                     ["--limit", "x"], ["--batch", "b"], ["--since", "yesterday"],
                     ["--since", "0"]):
            r = run_wf(["runs", "--db", self.db] + args, env=wf_env())
            self.assertRc(r, 2)
            self.assertIn(args[0], r.err)
            r = run_wf(["runs", "--db", self.db, "--json"] + args, env=wf_env())
            self.assertRc(r, 2)
            self.assertEqual(json.loads(r.out), [], args)

    def test_variables_column(self):
        self.history()
        r = run_wf(["runs", "--db", self.db], env=wf_env())
        self.assertRc(r, 0)
        lines = r.out.splitlines()
        self.assertIn("VARIABLES", lines[0])
        at = lines[0].index("VARIABLES")
        self.assertTrue(lines[3][at:].startswith("region=emea n=3"), lines[3])
        self.assertTrue(lines[1][at:].startswith("-"), lines[1])
        r = run_wf(["runs", "--db", self.db, "--json", "--workflow", "wf-1"], env=wf_env())
        self.assertEqual(json.loads(r.out)[0]["variables"], {"region": "emea", "n": "3"})

    def test_nothing_matches_says_so(self):
        self.history()
        r = run_wf(["runs", "--db", self.db, "--workflow", "nope"], env=wf_env())
        self.assertRc(r, 0)
        self.assertEqual(r.out, "")
        self.assertIn("no runs match", r.err)

    def test_quiet_says_nothing_on_stderr(self):
        self.history()
        r = run_wf(["runs", "--db", self.db, "--workflow", "nope", "-q"], env=wf_env())
        self.assertRc(r, 0)
        self.assertEqual((r.out, r.err), ("", ""))
        r = run_wf(["runs", "--db", self.path("none.db"), "--quiet"], env=wf_env())
        self.assertRc(r, 0)
        self.assertEqual((r.out, r.err), ("", ""))
        r = run_wf(["runs", "--db", self.db, "-q"], env=wf_env())
        self.assertRc(r, 0)
        self.assertEqual(len(r.out.splitlines()), 1 + 3, r.out)

    def test_all_runs_in_a_pipe_the_newest_50_on_a_terminal(self):
        for i in range(55):
            self.load(body(1), "--table", "t")
        r = run_wf(["runs", "--db", self.db], env=wf_env())
        self.assertEqual(len(r.out.splitlines()), 56)
        # stdout a terminal (a pty): the newest 50, and a note on stderr.
        import pty
        import subprocess
        from wfharness import WF2SQLITE
        master, slave = pty.openpty()
        env = dict(wf_env(), TERM="xterm")
        p = subprocess.Popen([WF2SQLITE, "runs", "--db", self.db], stdout=slave,
                             stderr=subprocess.PIPE, env=env)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        err = p.communicate(timeout=60)[1].decode()
        os.close(master)
        self.assertEqual(p.returncode, 0, err)
        lines = [l for l in out.decode().splitlines() if l.strip()]
        self.assertEqual(len(lines), 51, out)
        self.assertEqual(lines[1].split()[0], "55")
        self.assertIn("--limit", err)
        r = run_wf(["runs", "--db", self.db, "--limit", "3"], env=wf_env())
        self.assertEqual(len(r.out.splitlines()), 4)

    def test_no_wal_or_shm_left_behind(self):
        self.history()
        for suffix in ("-wal", "-shm"):
            if os.path.exists(self.db + suffix):
                os.unlink(self.db + suffix)
        # Empty -wal/-shm as an earlier reader may have left them.
        for suffix in ("-wal", "-shm"):
            open(self.db + suffix, "w").close()
        for args in ([], ["--json"], ["--table", "sales", "--status", "loaded"]):
            r = run_wf(["runs", "--db", self.db] + args, env=wf_env())
            self.assertRc(r, 0)
            for suffix in ("-wal", "-shm"):
                self.assertFalse(os.path.exists(self.db + suffix), (args, suffix))

    def test_closed_stdout_ends_quietly_as_git_does(self):
        """`runs | head -1`: a reader that has gone is no error to report; the
        process ends by SIGPIPE (status 141 in a shell), as git does, and says
        nothing. A stdout that fails otherwise is still an error."""
        self.history()
        for args in ([], ["--json"]):
            r, w = os.pipe()
            os.close(r)  # the reader is gone before anything is written
            try:
                p = subprocess.run([WF2SQLITE, "runs", "--db", self.db] + args, stdout=w,
                                   stderr=subprocess.PIPE, text=True, env=wf_env(), timeout=60)
            finally:
                os.close(w)
            self.assertEqual(p.returncode, -signal.SIGPIPE, (args, p.stderr))
            self.assertEqual(p.stderr, "", args)
        with open("/dev/full", "w") as full:
            p = subprocess.run([WF2SQLITE, "runs", "--db", self.db], stdout=full,
                               stderr=subprocess.PIPE, text=True, env=wf_env(), timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("writing to stdout: No space left on device", p.stderr)


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

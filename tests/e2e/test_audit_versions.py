"""Audit schema versions (SPEC section 13) through the real binary.

tests/fixtures/audit-v1.sqlite was written by the first release (audit schema
version 1: PRAGMA user_version 0) with tests/fixtures/make_audit_v1.py: a run
in every status, `load` and `run` rows, data tables and their _latest views.
"""
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlib import RESULT, EmuTestCase, workflow  # noqa: E402
from wfharness import SOURCE_DIR, db_query, db_runs, spawn_wf  # noqa: E402

FIXTURE = os.path.join(SOURCE_DIR, "tests", "fixtures", "audit-v1.sqlite")
V1_COLUMNS = ("run_id", "session_id", "workflow_id", "table_name", "mode", "status", "error",
              "variables", "started_at", "finished_at", "wait_ms", "load_ms", "total_ms",
              "execution_ms", "rows_reported", "rows_received", "rows_loaded", "range_start",
              "range_end", "schema_json", "api_host", "tool_version", "pid")
NEW_COLUMNS = ("hostname", "heartbeat_at", "batch_id", "batch_index", "exit_code")
STATUSES = {"running", "loaded", "partial", "errored", "inactive", "timeout", "interrupted",
            "failed"}


def scenario():
    return {"workflows": {"w": workflow(cards_ms=(10,), partial=False)},
            "sessions": {"sess-preset": {"workflow": "w", "age_ms": 60000}}}


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def v1_rows(path):
    return [{k: r[k] for k in V1_COLUMNS} for r in db_runs(path)]


def user_version(path):
    return db_query(path, "PRAGMA user_version")[0][0]


def body_file(test):
    p = test.path("body.json")
    with open(p, "w") as f:
        json.dump(RESULT, f)
    return p


class TestAuditVersions(EmuTestCase):
    scenario = staticmethod(scenario)

    def copy(self, name="archive.db"):
        p = self.path(name)
        shutil.copyfile(FIXTURE, p)
        return p

    def assertNoSideFiles(self, db):
        for suffix in ("-wal", "-shm", "-journal"):
            self.assertFalse(os.path.exists(db + suffix), db + suffix)

    def test_fixture_is_version_1_with_a_run_in_every_status(self):
        db = self.copy()
        self.assertEqual(user_version(db), 0)
        self.assertEqual({r["status"] for r in db_runs(db)}, STATUSES)
        cols = [r[1] for r in db_query(db, "PRAGMA table_info(_wf_runs)")]
        self.assertEqual(tuple(cols), V1_COLUMNS)

    def test_run_upgrades_keeping_every_row_and_the_counter(self):
        db = self.copy()
        # The newest run deleted by a user: its id is never given again.
        con = sqlite3.connect(db)
        top = con.execute("SELECT max(run_id) FROM _wf_runs").fetchone()[0]
        con.execute("DELETE FROM _wf_runs WHERE run_id = ?", (top,))
        con.commit()
        con.close()
        before = v1_rows(db)
        latest_other = db_query(db, "SELECT * FROM other_latest ORDER BY _row")
        r = self.wf(["run", "w", "--db", db, "--table", "sales"])
        self.assertRc(r, 0)
        self.assertEqual(user_version(db), 2)
        runs = db_runs(db)
        self.assertEqual([{k: x[k] for k in V1_COLUMNS} for x in runs[:-1]], before)
        new = runs[-1]
        self.assertEqual(new["run_id"], top + 1)
        self.assertEqual(new["status"], "loaded")
        self.assertEqual(new["hostname"], socket.gethostname())
        for old in runs[:-1]:
            for k in NEW_COLUMNS:
                self.assertIsNone(old[k], (old["run_id"], k))
        # The views of the old tables read the rebuilt _wf_runs.
        self.assertEqual(db_query(db, "SELECT DISTINCT _run_id FROM sales_latest"),
                         [(top + 1,)])
        self.assertEqual(db_query(db, "SELECT * FROM other_latest ORDER BY _row"), latest_other)
        self.assertEqual(db_query(db, "PRAGMA integrity_check"), [("ok",)])
        con = sqlite3.connect(db)
        with self.assertRaises(sqlite3.IntegrityError):
            con.execute("INSERT INTO _wf_runs (table_name, mode, status, started_at)"
                        " VALUES ('t', 'junk', 'loaded', 'x')")
        con.execute("INSERT INTO _wf_runs (table_name, mode, status, started_at)"
                    " VALUES ('t', 'upsert', 'loaded', 'x')")
        con.rollback()
        con.close()

    def test_load_upgrades_too(self):
        db = self.copy()
        r = self.wf(["load", body_file(self), "--db", db, "--table", "from_file"])
        self.assertRc(r, 0)
        self.assertEqual(user_version(db), 2)
        runs = db_runs(db)
        self.assertEqual(len(runs), 13)
        self.assertEqual(runs[-1]["run_id"], 13)
        self.assertEqual(runs[-1]["hostname"], socket.gethostname())
        self.assertEqual(db_query(db, "SELECT count(*) FROM _wf_batches"), [(0,)])

    def test_the_upgrade_gives_every_old_data_table_its_run_id_index(self):
        # SPEC 18: every data table has an index on _run_id; the first
        # release made none. A load into a new table upgrades the file and
        # indexes the tables it did not touch, their rows kept.
        db = self.copy()

        def run_id_indexed(table):
            return db_query(db, "SELECT count(*) FROM pragma_index_list(?) AS il, "
                            "pragma_index_info(il.name) AS ii WHERE ii.seqno = 0 "
                            "AND ii.name = '_run_id'", (table,))[0][0] > 0

        old = [t for (t,) in db_query(db, "SELECT DISTINCT table_name FROM _wf_runs "
                                      "ORDER BY 1")]
        self.assertTrue(old)
        self.assertFalse([t for t in old if run_id_indexed(t)])
        rows = {t: db_query(db, 'SELECT * FROM "%s" ORDER BY _run_id, _row' % t) for t in old}
        r = self.wf(["load", body_file(self), "--db", db, "--table", "from_file"])
        self.assertRc(r, 0)
        self.assertEqual([t for t in old + ["from_file"] if not run_id_indexed(t)], [])
        self.assertEqual(db_query(db, "PRAGMA integrity_check"), [("ok",)])
        for t in old:
            self.assertEqual(db_query(db, 'SELECT * FROM "%s" ORDER BY _run_id, _row' % t),
                             rows[t], t)

    def test_attach_upgrades_too(self):
        db = self.copy()
        before = v1_rows(db)
        r = self.wf(["attach", "sess-preset", "--workflow", "w", "--table", "sales", "--db", db])
        self.assertRc(r, 0)
        self.assertEqual(user_version(db), 2)
        runs = db_runs(db)
        self.assertEqual([{k: x[k] for k in V1_COLUMNS} for x in runs[:-1]], before)
        self.assertEqual((runs[-1]["run_id"], runs[-1]["session_id"], runs[-1]["status"]),
                         (13, "sess-preset", "loaded"))

    def test_runs_reads_version_1_without_writing(self):
        db = self.copy()
        digest = sha256(db)
        r = self.wf(["runs", "--db", db])
        self.assertRc(r, 0)
        lines = r.out.splitlines()
        self.assertEqual(len(lines), 1 + 12, r.out)
        at = lines[0].index("STATUS")
        self.assertEqual({ln[at:].split()[0] for ln in lines[1:]}, STATUSES)
        r = self.wf(["runs", "--db", db, "--json"])
        self.assertRc(r, 0)
        runs = r.json()
        self.assertEqual([x["run_id"] for x in runs], list(range(12, 0, -1)))
        for x in runs:
            for k in NEW_COLUMNS:
                self.assertIn(k, x)
                self.assertIsNone(x[k])
        self.assertEqual(sha256(db), digest)
        self.assertEqual(user_version(db), 0)
        self.assertNoSideFiles(db)

    def test_resume_dry_run_reads_version_1_without_writing(self):
        db = self.copy()
        digest = sha256(db)
        # The first release's runs cut short (no exit_code column yet).
        unfinished = {x["run_id"] for x in db_runs(db) if x["session_id"]
                      and x["status"] in ("running", "timeout", "interrupted")}
        self.assertTrue(unfinished)
        r = self.wf(["resume", "--db", db, "--dry-run"])
        self.assertRc(r, 0)
        said = {int(m) for m in re.findall(r"\brun (\d+)\b", r.out + r.err)}
        self.assertEqual(said, unfinished, r.out + r.err)
        self.assertEqual(sha256(db), digest)
        self.assertEqual(user_version(db), 0)
        self.assertNoSideFiles(db)

    def test_runs_json_shows_the_new_columns_after_an_upgrade(self):
        db = self.copy()
        self.assertRc(self.wf(["run", "w", "--db", db, "--table", "sales"]), 0)
        runs = self.wf(["runs", "--db", db, "--json"]).json()
        self.assertEqual(runs[0]["run_id"], 13)
        self.assertEqual(runs[0]["hostname"], socket.gethostname())
        self.assertIsNone(runs[0]["batch_id"])
        self.assertIsNone(runs[1]["hostname"])

    def test_a_newer_database_is_refused_by_every_command(self):
        db = self.copy()
        con = sqlite3.connect(db)
        con.execute("PRAGMA user_version = 3")
        con.close()
        digest = sha256(db)
        body = body_file(self)
        posts = len(self.calls(self.emu, "run"))
        for args in (["run", "w", "--table", "sales"],
                     ["attach", "sess-preset", "--workflow", "w", "--table", "sales"],
                     ["resume"],
                     ["load", body, "--table", "sales"],
                     ["runs"],
                     ["runs", "--json"]):
            r = self.wf(args + ["--db", db])
            self.assertRc(r, 7)
            self.assertIn("audit schema version 3", r.err, r)
            self.assertIn("up to 2", r.err, r)
            self.assertIn(db, r.err)
            self.assertEqual(sha256(db), digest, args)
            self.assertNoSideFiles(db)
        # Refused before the run was started.
        self.assertEqual(len(self.calls(self.emu, "run")), posts)
        self.assertEqual(user_version(db), 3)

    def test_a_newer_database_is_refused_in_json_mode_too(self):
        db = self.copy()
        con = sqlite3.connect(db)
        con.execute("PRAGMA user_version = 9")
        con.close()
        r = self.wf(["run", "w", "--db", db, "--json"])
        self.assertRc(r, 7)
        out = r.json()
        self.assertEqual(out["exit_code"], 7)
        self.assertIn("audit schema version 9", out["error"])

    def test_two_processes_upgrading_at_once_end_with_one_upgrade(self):
        # What one upgrade alone makes: where the rebuilt _wf_runs lives.
        ref = self.copy("reference.db")
        self.assertRc(self.wf(["load", body_file(self), "--db", ref, "--table", "a"]), 0)
        root = db_query(ref, "SELECT rootpage FROM sqlite_schema WHERE name = '_wf_runs'")

        db = self.copy()
        body = body_file(self)
        # Hold the write lock so that both processes read version 1 and then
        # wait for the lock together.
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        procs = [spawn_wf(["load", body, "--db", db, "--table", t], emu=self.emu)
                 for t in ("a", "b")]
        time.sleep(1.5)
        for p in procs:
            self.assertIsNone(p.poll(), "a process did not wait for the lock")
        self.assertEqual(user_version(db), 0)
        holder.execute("ROLLBACK")
        holder.close()
        for p in procs:
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
            self.assertNotIn("Sanitizer", err)
        self.assertEqual(user_version(db), 2)
        runs = db_runs(db)
        self.assertEqual(len(runs), 14)
        self.assertEqual(sorted(r["run_id"] for r in runs[-2:]), [13, 14])
        self.assertEqual(db_query(db, "SELECT rootpage FROM sqlite_schema"
                                      " WHERE name = '_wf_runs'"), root)
        self.assertEqual(db_query(db, "SELECT count(*) FROM sqlite_schema"
                                      " WHERE name LIKE '%v1%'"), [(0,)])
        self.assertEqual(db_query(db, "PRAGMA integrity_check"), [("ok",)])

    def test_a_fresh_database_gets_the_newest_version(self):
        db = self.path("fresh.db")
        self.assertRc(self.wf(["run", "w", "--db", db]), 0)
        self.assertEqual(user_version(db), 2)
        cols = [r[1] for r in db_query(db, "PRAGMA table_info(_wf_runs)")]
        self.assertEqual(tuple(cols), V1_COLUMNS + NEW_COLUMNS)
        self.assertEqual(db_runs(db)[0]["hostname"], socket.gethostname())


if __name__ == "__main__":
    unittest.main()

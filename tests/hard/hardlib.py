"""Helpers of the hardening tests (tests/hard): every fault test ends with the
same checks of SPEC sections 7 and 9, made here once:
  - the exact exit code, and a message naming what failed;
  - the run's _wf_runs row (status, error) when a session was started;
  - no row of a failed run in the data table, whole runs only;
  - PRAGMA integrity_check is ok;
  - the API key is nowhere: stdout, stderr, the database files, the requests
    that reached the emulator's other origin.
Standard library only."""
import json
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import wfharness  # noqa: E402
from wfharness import (API_KEY, ACCOUNT_ID, API_PATH, SANITIZED, Emu,  # noqa: E402,F401
                       WfTestCase, run_wf, spawn_wf, wf_env)

# Sizes: the sanitizer build runs the same tests, slower, on smaller inputs.
def size(release, sanitized):
    return sanitized if SANITIZED else release


def db_connect(path):
    return sqlite3.connect(path, timeout=30)


def integrity(path):
    con = db_connect(path)
    try:
        return con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()


def runs(path):
    """The _wf_runs rows as dicts, oldest first ([] when there is no table)."""
    if not os.path.exists(path):
        return []
    con = db_connect(path)
    con.row_factory = sqlite3.Row
    try:
        have = con.execute("SELECT 1 FROM sqlite_schema WHERE name = '_wf_runs'").fetchall()
        if not have:
            return []
        return [dict(r) for r in con.execute("SELECT * FROM _wf_runs ORDER BY run_id")]
    finally:
        con.close()


def table_exists(path, table):
    con = db_connect(path)
    try:
        return bool(con.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?",
                                (table,)).fetchall())
    finally:
        con.close()


def rows_of_run(path, table, run_id):
    if not os.path.exists(path) or not table_exists(path, table):
        return 0
    con = db_connect(path)
    try:
        return con.execute('SELECT count(*) FROM "%s" WHERE _run_id = ?' % table.replace('"', '""'),
                           (run_id,)).fetchone()[0]
    finally:
        con.close()


def whole_runs_only(path):
    """Checks the 'whole runs only' invariant over every data table named in
    _wf_runs; returns a list of problems (empty = fine)."""
    problems = []
    rs = runs(path)
    con = db_connect(path)
    try:
        tables = {r["table_name"] for r in rs if r["table_name"]}
        for t in sorted(tables):
            if not con.execute("SELECT 1 FROM sqlite_schema WHERE type='table' AND name=?",
                               (t,)).fetchall():
                continue
            q = '"%s"' % t.replace('"', '""')
            counts = dict(con.execute("SELECT _run_id, count(*) FROM %s GROUP BY _run_id" % q))
            known = {r["run_id"]: r for r in rs}
            for run_id, n in counts.items():
                r = known.get(run_id)
                if r is None:
                    problems.append("%s: %d rows of run %s which is not in _wf_runs" % (t, n, run_id))
                elif r["status"] not in ("loaded", "partial"):
                    problems.append("%s: %d rows of run %s with status %s" % (t, n, run_id, r["status"]))
                elif r["rows_loaded"] != n:
                    problems.append("%s: run %s has %d rows, rows_loaded says %s" % (
                        t, run_id, n, r["rows_loaded"]))
    finally:
        con.close()
    return problems


def db_files(path):
    return [p for p in (path, path + "-wal", path + "-shm", path + "-journal") if os.path.exists(p)]


class HardCase(WfTestCase):
    """A fault test: one emulator per class (scenario()), the checks above."""
    scenario = None
    emu = None

    @classmethod
    def setUpClass(cls):
        if cls.scenario is not None:
            cls.emu = Emu(cls.scenario())
            cls.emu.start()

    @classmethod
    def tearDownClass(cls):
        if cls.emu:
            cls.emu.stop()

    def wf(self, args, env=None, emu=None, **kw):
        r = run_wf(args, emu=emu or self.emu, env=env, **kw)
        self.assertNotIn(API_KEY, r.out + r.err, "the key in the output")
        return r

    def requests_of(self, kind=None, origin="main", emu=None):
        """Requests the emulator logged: kind 'run', 'session', 'result' or None."""
        out = []
        for q in (emu or self.emu).requests():
            if origin and q["origin"] != origin:
                continue
            p = q["path"]
            k = ("run" if p.endswith("/workflow/run") else
                 "result" if p.endswith("/result") else "session")
            if kind is None or k == kind:
                out.append(q)
        return out

    def runs_of_workflow(self, wf, emu=None):
        """POST run requests for workflow wf."""
        return [q for q in self.requests_of("run", emu=emu)
                if json.loads(q["body"]).get("workflowId") == wf]

    def assertIntegrity(self, db):
        if os.path.exists(db):
            self.assertEqual(integrity(db), [("ok",)])

    def assertNoKeyAnywhere(self, db=None, emu=None):
        key = API_KEY.encode()
        for p in db_files(db) if db else []:
            with open(p, "rb") as f:
                self.assertNotIn(key, f.read(), "the key in " + p)
        for root, _, files in os.walk(self.dir):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    self.assertNotIn(key, f.read(), "the key in " + name)
        emu = emu or self.emu
        if emu:
            for q in emu.requests():
                if q["origin"] == "other":
                    self.assertNotIn(API_KEY, json.dumps(q), "the key reached the other origin")
                    self.assertNotIn(ACCOUNT_ID, json.dumps(q),
                                     "the account reached the other origin")

    def assertFailedRun(self, r, rc, db, table, status, message, error=None, run_expected=True):
        """The end state of a failed run: exit code rc, message parts on stderr,
        the run recorded with status and error, none of its rows, integrity ok,
        the key nowhere. Returns the run's row (or None)."""
        self.assertEqual(r.rc, rc, repr(r))
        for m in ([message] if isinstance(message, str) else message):
            self.assertIn(m, r.err, repr(r))
        rs = runs(db)
        row = None
        if run_expected:
            self.assertEqual(len(rs), 1, rs)
            row = rs[0]
            self.assertEqual(row["status"], status, row)
            self.assertEqual(row["rows_loaded"] or 0, 0, row)
            for e in ([error] if isinstance(error, str) else error or []):
                self.assertIn(e, row["error"] or "", row)
            self.assertIn("wf2sqlite attach %s" % row["session_id"], r.err)
            self.assertEqual(rows_of_run(db, table, row["run_id"]), 0)
        else:
            self.assertEqual(rs, [], "a run was recorded")
        self.assertIntegrity(db)
        self.assertEqual(whole_runs_only(db) if os.path.exists(db) else [], [])
        self.assertNoKeyAnywhere(db)
        return row

    def assertLoaded(self, r, db, table, rows):
        self.assertEqual(r.rc, 0, repr(r))
        rs = runs(db)
        self.assertEqual(rs[-1]["status"], "loaded", rs[-1])
        self.assertEqual(rs[-1]["rows_loaded"], rows, rs[-1])
        self.assertEqual(rows_of_run(db, table, rs[-1]["run_id"]), rows)
        self.assertIntegrity(db)
        self.assertEqual(whole_runs_only(db), [])
        self.assertNoKeyAnywhere(db)
        return rs[-1]


def elapsed(fn):
    t = time.monotonic()
    v = fn()
    return v, time.monotonic() - t

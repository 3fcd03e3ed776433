"""run --no-wait, attach, resume and status against compass-emu: a run
recorded before waiting, loaded later, never twice; a killed process's run
resumed; the status table."""
import json
import os
import signal
import sqlite3
import subprocess
import time
import unittest

from netlib import wait_for_run, API_KEY, ROWS, EmuTestCase, wf_env, workflow
from wfharness import db_query, run_wf, spawn_wf


def db_exec(path, sql, params=()):
    con = sqlite3.connect(path)
    try:
        con.execute(sql, params)
        con.commit()
    finally:
        con.close()


def scenario():
    sc = {"workflows": {
        "w": workflow("w-s", cards_ms=(300, 300)),
        "mid": workflow("mid-s", cards_ms=(3000,)),
        "bad": workflow("bad-s", cards_ms=(50, 50)),
    }, "sessions": {"old-done": {"workflow": "w", "age_ms": 60000}}}
    sc["workflows"]["bad"]["cards"][1].update({"status": "errored", "error": "bad\tthing\nhappened"})
    return sc


class AttachTest(EmuTestCase):
    scenario = staticmethod(scenario)

    def tearDown(self):
        self.assertNoKeyInFiles()
        super().tearDown()

    def runs(self, db):
        return db_query(db, "SELECT run_id, session_id, status, error, pid, rows_loaded, table_name "
                            "FROM _wf_runs ORDER BY run_id")

    def test_no_wait_then_attach(self):
        db = self.path("a.db")
        r = self.wf(["run", "w", "--db", db, "--no-wait"])
        self.assertRc(r, 0)
        sid = r.out.strip()
        self.assertTrue(sid.startswith("w-s"), r.out)
        self.assertEqual(r.out, sid + "\n")
        ((run_id, s, status, err, pid, rows, table),) = self.runs(db)
        self.assertEqual((s, status, table), (sid, "running", "wf_w"))
        self.assertGreater(pid, 0)
        self.assertIn("wf2sqlite attach %s" % sid, r.err)
        # Only the POST was sent.
        self.assertFalse([q for q in self.calls(self.emu) if sid in q["path"]])
        a = self.wf(["attach", sid, "--db", db, "--workflow", "w", "--json"])
        self.assertRc(a, 0)
        self.assertEqual(a.json()["status"], "loaded")
        # The run of --no-wait was taken over: one row, now loaded.
        self.assertEqual(a.json()["run_id"], run_id)
        self.assertIn("continuing run %d" % run_id, a.err)
        self.assertEqual([(x[0], x[2], x[5]) for x in self.runs(db)], [(run_id, "loaded", 5)])
        self.assertEqual(a.json()["rows_loaded"], len(ROWS))
        self.assertEqual(db_query(db, 'SELECT count(*) FROM "wf_w"'), [(len(ROWS),)])
        # Attaching again loads nothing; --force loads it again.
        b = self.wf(["attach", sid, "--db", db, "--workflow", "w", "--json"])
        self.assertRc(b, 0)
        self.assertEqual(b.json()["already_loaded_by"], a.json()["run_id"])
        self.assertIn("already", b.err)
        self.assertEqual(db_query(db, 'SELECT count(*) FROM "wf_w"'), [(len(ROWS),)])
        c = self.wf(["attach", sid, "--db", db, "--workflow", "w", "--force"])
        self.assertRc(c, 0)
        self.assertEqual(db_query(db, 'SELECT count(*) FROM "wf_w"'), [(2 * len(ROWS),)])

    def test_two_attaches_racing_load_the_session_once(self):
        db = self.path("a.db")
        sid = self.wf(["run", "mid", "--db", db, "--no-wait"]).out.strip()
        procs = [spawn_wf(["attach", sid, "--db", db, "--workflow", "mid", "--json"],
                          emu=self.emu) for _ in range(2)]
        outs = [p.communicate(timeout=60) for p in procs]
        self.assertEqual([p.returncode for p in procs], [0, 0], outs)
        js = [json.loads(o[0]) for o in outs]
        loaded = [j for j in js if j["status"] == "loaded"]
        skipped = [j for j in js if j["already_loaded_by"]]
        self.assertEqual(len(loaded), 1, js)
        self.assertEqual(len(skipped), 1, js)
        self.assertEqual(skipped[0]["already_loaded_by"], loaded[0]["run_id"])
        self.assertEqual(db_query(db, "SELECT count(*) FROM wf_mid"), [(len(ROWS),)])
        # One took over the --no-wait run, the other made its own.
        self.assertEqual(len(self.runs(db)), 2)
        statuses = sorted(x[2] for x in self.runs(db))
        self.assertEqual(statuses, ["failed", "loaded"])
        failed = [x for x in self.runs(db) if x[2] == "failed"][0]
        self.assertIn("already loaded", failed[3])

    def test_no_wait_json(self):
        db = self.path("a.db")
        r = self.wf(["run", "w", "--db", db, "--no-wait", "--json"])
        self.assertRc(r, 0)
        j = r.json()
        self.assertEqual(j["status"], "running")
        self.assertTrue(j["session_id"].startswith("w-s"))
        self.assertEqual(j["run_id"], 1)

    def test_attach_default_table_is_results_without_workflow(self):
        db = self.path("a.db")
        r = self.wf(["attach", "old-done", "--db", db])
        self.assertRc(r, 0)
        self.assertEqual(db_query(db, "SELECT count(*) FROM results"), [(len(ROWS),)])
        self.assertEqual(db_query(db, "SELECT workflow_id FROM _wf_runs"), [(None,)])

    def test_attach_unknown_session_exit_4_nothing_recorded(self):
        db = self.path("a.db")
        r = self.wf(["attach", "nope", "--db", db])
        self.assertRc(r, 4)
        self.assertIn("session not found", r.err)
        self.assertEqual(self.runs(db), [])

    def test_attach_errored_then_allow_partial(self):
        db = self.path("a.db")
        sid = self.wf(["run", "bad", "--db", db, "--no-wait"]).out.strip()
        time.sleep(0.3)
        r = self.wf(["attach", sid, "--db", db, "--table", "t"])
        self.assertRc(r, 5)
        # The workflow id comes from the --no-wait run's row.
        self.assertIn("attach %s --db %s --table t --workflow bad --allow-partial" % (sid, db),
                      r.err)
        # The --no-wait run was taken over (SPEC 7: not recorded anew), into
        # the table --table named: its row ends errored, none is left running.
        self.assertEqual([(x[2], x[6]) for x in self.runs(db)], [("errored", "t")])
        r = self.wf(["attach", sid, "--db", db, "--table", "t", "--allow-partial"])
        self.assertRc(r, 0)
        # The errored run is over (the server ended it): a run of its own.
        self.assertEqual([x[2] for x in self.runs(db)], ["errored", "partial"])
        r = self.wf(["attach", sid, "--db", db, "--table", "wf_bad"])
        self.assertRc(r, 5)
        self.assertEqual([x[2] for x in self.runs(db)], ["errored", "partial", "errored"])

    def test_sigkill_while_waiting_then_resume_loads_it(self):
        db = self.path("a.db")
        p = spawn_wf(["run", "mid", "--db", db, "--table", "m", "--mode", "replace"],
                     emu=self.emu)
        wait_for_run(db)
        time.sleep(0.3)
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=10)
        ((run_id, sid, status, _, pid, _, _),) = self.runs(db)
        self.assertEqual(status, "running")
        self.assertEqual(pid, p.pid)
        r = self.wf(["resume", "--db", db, "--json"])
        self.assertRc(r, 0)
        # One JSON value holding the resumed runs (docs/json.md).
        out = json.loads(r.out)
        self.assertEqual(out["count"], 1)
        j = out["runs"][-1]
        self.assertEqual(j["status"], "loaded")
        self.assertEqual(j["table"], "m")
        self.assertEqual(j["mode"], "replace")
        self.assertEqual(j["session_id"], sid)
        # The killed run itself was taken over and finished.
        rows = self.runs(db)
        self.assertEqual([(x[0], x[2]) for x in rows], [(run_id, "loaded")])
        self.assertEqual(j["run_id"], run_id)
        self.assertEqual(db_query(db, "SELECT count(*) FROM m"), [(len(ROWS),)])
        # Nothing left to resume.
        r = self.wf(["resume", "--db", db])
        self.assertRc(r, 0)
        self.assertIn("nothing to resume", r.err)

    def test_resume_of_a_session_loaded_meanwhile_loads_nothing(self):
        db = self.path("a.db")
        sid = self.wf(["run", "w", "--db", db, "--no-wait"]).out.strip()
        # While the run's process is alive (here: a stand-in's pid), an attach
        # cannot take the run over: it loads the session into the table as a
        # new run. Then that process is gone.
        alive = subprocess.Popen(["sleep", "60"])
        try:
            db_exec(db, "UPDATE _wf_runs SET pid = ?", (alive.pid,))
            self.assertRc(self.wf(["attach", sid, "--db", db]), 0)
        finally:
            alive.kill()
            alive.wait()
        r = self.wf(["resume", "--db", db])
        self.assertRc(r, 0)
        self.assertEqual([x[2] for x in self.runs(db)], ["failed", "loaded"])
        self.assertIn("was loaded into wf_w by another run", self.runs(db)[0][3])
        self.assertEqual(db_query(db, "SELECT count(*) FROM wf_w"), [(len(ROWS),)])

    def test_resume_leaves_live_runs_alone(self):
        db = self.path("a.db")
        p = spawn_wf(["run", "mid", "--db", db], emu=self.emu)
        try:
            wait_for_run(db)
            r = self.wf(["resume", "--db", db])
            self.assertRc(r, 0)
            self.assertIn("nothing to resume", r.err)
        finally:
            out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual([x[2] for x in self.runs(db)], ["loaded"])

    def test_resume_without_config_and_nothing_pending_is_fine(self):
        db = self.path("a.db")
        r = run_wf(["resume", "--db", db], env=wf_env(None, key=None))
        self.assertRc(r, 0)

    def test_resume_counts_only_the_runs_it_resumed(self):
        db = self.path("a.db")
        sids = [self.wf(["run", "w", "--db", db, "--no-wait"]).out.strip() for _ in range(3)]
        # Runs 1 and 2 were started against another API host: left alone.
        db_exec(db, "UPDATE _wf_runs SET api_host = '127.0.0.1:1' WHERE run_id < 3")
        r = self.wf(["resume", "--db", db, "--json"])
        self.assertRc(r, 0)
        out = r.json()
        self.assertEqual(out["count"], 1)
        self.assertEqual([j["run_id"] for j in out["runs"]], [3])
        self.assertEqual([(j["run_id"], j["session_id"], j["api_host"]) for j in out["left_alone"]],
                         [(1, sids[0], "127.0.0.1:1"), (2, sids[1], "127.0.0.1:1")])
        self.assertIn("resumed 1 of 3 unfinished runs; 2 left alone: started against another "
                      "API host", r.err)
        self.assertIn("--base-url http://127.0.0.1:1/corp-api/compass/api", r.err)
        self.assertEqual([x[2] for x in self.runs(db)], ["running", "running", "loaded"])
        # Only runs of another host left: none resumed, and the line says so.
        r = self.wf(["resume", "--db", db])
        self.assertRc(r, 0)
        self.assertIn("resumed 0 of 2 unfinished runs; 2 left alone", r.err)
        self.assertNotIn("resumed 2", r.err)
        self.assertEqual([x[2] for x in self.runs(db)], ["running", "running", "loaded"])

    def assertOneRunPerSession(self, db):
        self.assertEqual(db_query(db, "SELECT count(*) FROM _wf_runs WHERE status = 'running'"),
                         [(0,)])
        self.assertEqual(db_query(db, "SELECT count(*) FROM _wf_runs GROUP BY session_id "
                                      "HAVING count(*) > 1"), [])

    def test_attach_with_another_mode_takes_the_no_wait_run_over(self):
        db = self.path("a.db")
        sid = self.wf(["run", "w", "--db", db, "--no-wait"]).out.strip()
        a = self.wf(["attach", sid, "--db", db, "--mode", "replace", "--json"])
        self.assertRc(a, 0)
        self.assertEqual((a.json()["run_id"], a.json()["table"], a.json()["mode"],
                          a.json()["status"]), (1, "wf_w", "replace", "loaded"))
        # The notes say what happened, and only that.
        self.assertNotIn("with mode replace, as run 1", a.err)
        self.assertIn("with mode replace (--mode)", a.err)
        self.assertIn("recorded into table wf_w with mode append: it is taken over", a.err)
        self.assertEqual(db_query(db, "SELECT run_id, session_id, table_name, mode, status "
                                      "FROM _wf_runs"), [(1, sid, "wf_w", "replace", "loaded")])
        self.assertOneRunPerSession(db)
        self.assertEqual(db_query(db, "SELECT count(*) FROM wf_w"), [(len(ROWS),)])
        self.assertIn("nothing to resume", self.wf(["resume", "--db", db]).err)

    def test_attach_with_another_table_takes_the_no_wait_run_over(self):
        db = self.path("a.db")
        sid = self.wf(["run", "w", "--db", db, "--no-wait", "--mode", "replace"]).out.strip()
        a = self.wf(["attach", sid, "--db", db, "--table", "other", "--json"])
        self.assertRc(a, 0)
        self.assertEqual((a.json()["run_id"], a.json()["table"], a.json()["mode"]),
                         (1, "other", "replace"))
        self.assertIn("attach again with --table wf_w --mode replace", a.err)
        self.assertEqual(db_query(db, "SELECT run_id, table_name, mode, status FROM _wf_runs"),
                         [(1, "other", "replace", "loaded")])
        self.assertOneRunPerSession(db)
        self.assertEqual(db_query(db, "SELECT count(*) FROM other"), [(len(ROWS),)])
        # The recorded table too, as the note says: a run of its own.
        self.assertRc(self.wf(["attach", sid, "--db", db, "--table", "wf_w"]), 0)
        self.assertEqual(db_query(db, "SELECT table_name, status FROM _wf_runs ORDER BY run_id"),
                         [("other", "loaded"), ("wf_w", "loaded")])
        self.assertEqual(db_query(db, "SELECT count(*) FROM wf_w"), [(len(ROWS),)])

    def test_resume_and_batch_continue_create_no_database(self):
        db = self.path("missing.db")
        for args in (["resume"], ["resume", "--dry-run"]):
            r = self.wf(args + ["--db", db])
            self.assertRc(r, 0)
            self.assertIn("no database %s; nothing to resume" % db, r.err)
            r = self.wf(args + ["--db", db, "--json"])
            self.assertRc(r, 0)
            self.assertEqual((r.json()["count"], r.json()["exit_code"]), (0, 0))
            self.assertFalse(os.path.exists(db))
        r = self.wf(["batch", "--continue", "1", "--db", db])
        self.assertRc(r, 2)
        self.assertIn("no database %s" % db, r.err)
        self.assertEqual(os.listdir(self.dir), [])

    def test_status_table_and_json(self):
        r = self.wf(["status", "old-done"])
        self.assertRc(r, 0)
        lines = r.out.splitlines()
        self.assertEqual(lines[0], "session  old-done")
        self.assertEqual(lines[1], "status   idle (finished)")
        self.assertEqual(lines[2], "cards    2/2 done")
        self.assertEqual(lines[4].split(), ["ID", "TYPE", "STATUS", "ERROR"])
        self.assertEqual(lines[5].split(), ["c1", "sql", "completed"])
        self.assertEqual(lines[6].split(), ["c2", "transform", "completed"])
        # Columns aligned: STATUS starts at the same offset on every line.
        col = lines[4].index("STATUS")
        self.assertEqual(lines[5][col:col + 9], "completed")
        j = self.wf(["status", "old-done", "--json"]).json()
        self.assertEqual(j["status"], "idle")
        self.assertTrue(j["terminal"])
        self.assertEqual([c["id"] for c in j["cards"]], ["c1", "c2"])
        self.assertEqual(self.calls(self.emu)[-1]["method"], "GET")

    def test_status_shows_card_errors_on_one_line(self):
        sid = self.wf(["run", "bad", "--db", self.path("a.db"), "--no-wait"]).out.strip()
        time.sleep(0.4)
        r = self.wf(["status", sid])
        self.assertRc(r, 0)
        self.assertIn("status   errored (finished)", r.out)
        line = [l for l in r.out.splitlines() if l.startswith("c2")][0]
        self.assertTrue(line.endswith("bad thing happened"), line)

    def test_status_errors(self):
        self.assertRc(self.wf(["status", "nope"]), 4)
        self.assertRc(run_wf(["status", "old-done"], env=wf_env(self.emu, key="wrong")), 3)
        self.assertRc(run_wf(["status", "old-done"], env=wf_env(self.emu, account=None)), 2)
        # No database is opened, not even the default one.
        self.assertRc(run_wf(["status", "old-done"], emu=self.emu, cwd=self.dir), 0)
        self.assertEqual(os.listdir(self.dir), [])


if __name__ == "__main__":
    unittest.main()

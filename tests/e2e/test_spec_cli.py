"""SPEC sections 1-4, 8 and 9 sentence by sentence: the command line, the
defaults, waiting, the exit codes and their messages, checked against the real
binary and compass-emu (the sentences other tests already prove are not
repeated here)."""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from netlib import (RESULT, API_KEY, ACCOUNT_ID, API_PATH, Emu, NetTestCase,  # noqa: E402
                    wait_for_run, workflow, wf_env)
import wfharness  # noqa: E402
from wfharness import db_query, run_wf  # noqa: E402

JQ = shutil.which("jq")


def scenario():
    return {
        "workflows": {
            "w1": workflow(cards_ms=(50, 50), partial=False),
            "slow": workflow(cards_ms=(60000,)),
            # An idle session whose cards errored (SPEC 4: exit 5, nothing loaded).
            "idlebad": {"cards": [{"id": "c1", "type": "sql", "ms": 30, "status": "errored",
                                   "error": "bad rows skipped", "session_continues": True},
                                  {"id": "c2", "type": "chart", "ms": 30, "status": "errored",
                                   "error": "chart failed", "session_continues": True},
                                  {"id": "c3", "ms": 10}],
                        "final_status": "idle", "result": RESULT},
        },
    }


class SpecCliTest(NetTestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emu(scenario())
        cls.emu.start()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    def wf(self, *args, env=None, **kw):
        r = run_wf(list(args), emu=self.emu, env=env, **kw)
        self.assertNoKey(r.out + r.err)
        return r

    # --- SPEC 4: an idle session with errored cards -----------------------

    def test_idle_session_with_errored_cards_exit_5_every_message_nothing_loaded(self):
        db = self.path("t.db")
        r = self.wf("run", "idlebad", "--db", db)
        self.assertRc(r, 5)
        self.assertIn("bad rows skipped", r.err)
        self.assertIn("chart failed", r.err)
        self.assertIn("--allow-partial", r.err)
        rows = db_query(db, "SELECT run_id, status, error FROM _wf_runs")
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][1], "errored")
        self.assertIn("bad rows skipped", rows[0][2])
        self.assertIn("chart failed", rows[0][2])
        cards = db_query(db, "SELECT card_id, card_type, status, error_message FROM _wf_cards "
                             "WHERE run_id = ? ORDER BY position", (rows[0][0],))
        self.assertEqual(cards, [("c1", "sql", "errored", "bad rows skipped"),
                                 ("c2", "chart", "errored", "chart failed"),
                                 ("c3", "transform", "completed", None)])
        tables = [t for (t,) in db_query(db, "SELECT name FROM sqlite_master WHERE type='table'")]
        self.assertNotIn("wf_idlebad", tables)

    def test_idle_session_with_errored_cards_allow_partial_loads_as_partial(self):
        db = self.path("t.db")
        r = self.wf("run", "idlebad", "--db", db, "--allow-partial", "--json")
        self.assertRc(r, 0)
        self.assertEqual(r.json()["status"], "partial")
        self.assertEqual(db_query(db, "SELECT count(*) FROM wf_idlebad")[0][0], 5)
        (status, error), = db_query(db, "SELECT status, error FROM _wf_runs")
        self.assertEqual(status, "partial")
        self.assertIn("chart failed", error)

    # --- SPEC 3: --no-wait, then attach loads it where run meant it to go --

    def test_attach_without_table_uses_the_table_and_mode_run_no_wait_recorded(self):
        db = self.path("t.db")
        r = self.wf("run", "w1", "--db", db, "--no-wait", "--table", "X", "--mode", "replace")
        self.assertRc(r, 0)
        sid = r.out.strip()
        a = self.wf("attach", sid, "--db", db, "--json")
        self.assertRc(a, 0)
        out = a.json()
        self.assertEqual((out["table"], out["mode"], out["workflow_id"], out["status"]),
                         ("X", "replace", "w1", "loaded"))
        self.assertEqual(db_query(db, "SELECT count(*) FROM X")[0][0], 5)
        self.assertEqual(db_query(db, "SELECT run_id, workflow_id, table_name, mode, status "
                                      "FROM _wf_runs"), [(1, "w1", "X", "replace", "loaded")])
        # Again: already in X, nothing loaded, exit 0.
        b = self.wf("attach", sid, "--db", db)
        self.assertRc(b, 0)
        self.assertIn("already", b.err)
        self.assertEqual(db_query(db, "SELECT count(*) FROM _wf_runs")[0][0], 1)

    def test_attach_with_table_overrides_the_recorded_one(self):
        db = self.path("t.db")
        sid = self.wf("run", "w1", "--db", db, "--no-wait", "--table", "X").out.strip()
        a = self.wf("attach", sid, "--db", db, "--table", "Y", "--json")
        self.assertRc(a, 0)
        self.assertEqual(a.json()["table"], "Y")
        self.assertEqual(a.json()["workflow_id"], "w1")
        self.assertEqual(db_query(db, "SELECT count(*) FROM Y")[0][0], 5)


if __name__ == "__main__":
    unittest.main()

"""SPEC 16: on PostgreSQL, heartbeat_at is refreshed while a run waits (the
same beat as SQLite's, written on the engine's own connection), against a
real PostgreSQL 15 server this module starts (tests/lib/pgserver.py)."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from netlib import Emu, NetTestCase, workflow  # noqa: E402
from wfharness import drops_privileges, spawn_wf, wf_env  # noqa: E402
from pgserver import PgServer  # noqa: E402

PG = None


def setUpModule():
    global PG
    if PgServer.available():
        PG = PgServer.start()


def tearDownModule():
    if PG:
        PG.stop()


@drops_privileges
@unittest.skipUnless(PgServer.available(), "PostgreSQL 15 server not installed (scripts/deps.sh --test)")
class PgHeartbeat(NetTestCase):

    def test_heartbeat_is_refreshed_while_the_run_waits(self):
        db = PG.create_db()
        uri = PG.uri(db)
        beat = ("SELECT status, extract(epoch FROM heartbeat_at - started_at)::float8"
                " FROM _wf_runs")
        scen = {"workflows": {"long": workflow("long-s", cards_ms=(23000,))}}
        with Emu(scen) as emu:
            env = wf_env(emu)
            for k in list(env):
                if k.startswith("PG"):
                    del env[k]
            p = spawn_wf(["run", "long", "--db", uri, "--wait", "poll", "--poll-interval", "1s"],
                         env=env)
            try:
                t0 = time.monotonic()
                first = []
                while not first and time.monotonic() - t0 < 10:
                    try:
                        first = PG.query(db, beat)
                    except RuntimeError:  # the audit tables are not made yet
                        first = []
                    time.sleep(0.1)
                self.assertEqual(len(first), 1, first)
                self.assertEqual(first[0][0], "running")
                time.sleep(21.5)
                (later,) = PG.query(db, beat)
                self.assertEqual(later[0], "running", later)
                # the second beat: 20 s or more after the first, within 30 s of the start
                self.assertGreaterEqual(float(later[1]) - float(first[0][1]), 15.0, (first, later))
                self.assertLessEqual(float(later[1]), 30.0, later)
            finally:
                out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
        self.assertEqual(PG.query(db, "SELECT status FROM _wf_runs"), [("loaded",)])


if __name__ == "__main__":
    unittest.main()

"""SPEC 16: on PostgreSQL, heartbeat_at is refreshed while a run waits and while its rows stream in (the
same beat as SQLite's, written on the engine's own connection), against a
real PostgreSQL 15 server this module starts (tests/lib/pgserver.py)."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from netlib import Emu, NetTestCase, workflow  # noqa: E402
from wfharness import drops_privileges, spawn_wf  # noqa: E402
from pgserver import PgServer, pg_env  # noqa: E402

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
        # A 23 s session polled every second beats at its start and about
        # 20 s later; the run's end does not write heartbeat_at, so the row
        # keeps the last beat.
        db = PG.create_db()
        uri = PG.uri(db)
        scen = {"workflows": {"long": workflow("long-s", cards_ms=(23000,))}}
        with Emu(scen) as emu:
            env = pg_env(emu)
            p = spawn_wf(["run", "long", "--db", uri, "--wait", "poll", "--poll-interval", "1s"],
                         env=env)
            out, err = p.communicate(timeout=90)
        self.assertEqual(p.returncode, 0, err)
        (row,) = PG.query(db, "SELECT status,"
                              " extract(epoch FROM heartbeat_at - started_at)::float8,"
                              " heartbeat_at <= finished_at FROM _wf_runs")
        self.assertEqual(row[0], "loaded", row)
        self.assertGreaterEqual(float(row[1]), 15.0, row)
        self.assertLessEqual(float(row[1]), 30.0, row)
        self.assertEqual(row[2], "t", row)

    def test_heartbeat_is_refreshed_while_the_rows_go_in(self):
        # The session ends at once; its 3,600 rows then trickle in for about
        # 24 s (8 KiB every 350 ms): a beat 15 s or more after the start can
        # only have been written while the rows went in (the loader reports
        # every second while bytes arrive, and the beat is due at 20 s).
        db = PG.create_db()
        uri = PG.uri(db)
        scen = {"workflows": {"trickle": {
            "session_id": "trickle-s", "cards": [{"id": "c1", "ms": 20}],
            "generate": {"rows": 3600, "shape": "bench8"}}},
            "faults": [{"endpoint": "result", "kind": "slow", "chunk_bytes": 8192,
                        "delay_ms": 350, "times": -1}]}
        with Emu(scen) as emu:
            env = pg_env(emu)
            t0 = time.monotonic()
            p = spawn_wf(["run", "trickle", "--db", uri], env=env)
            out, err = p.communicate(timeout=90)
            took = time.monotonic() - t0
        self.assertEqual(p.returncode, 0, err)
        self.assertGreater(took, 18.0, "the body did not trickle: %.1f s" % took)
        (row,) = PG.query(db, "SELECT status, rows_loaded,"
                              " extract(epoch FROM heartbeat_at - started_at)::float8,"
                              " extract(epoch FROM finished_at - heartbeat_at)::float8"
                              " FROM _wf_runs")
        self.assertEqual(row[:2], ("loaded", "3600"), row)
        self.assertGreaterEqual(float(row[2]), 15.0, row)
        # Written while bytes still came (due at 20 s, the body lasting
        # about 24 s), not by the session's confirmation after the last one.
        self.assertGreaterEqual(float(row[3]), 1.5, row)


if __name__ == "__main__":
    unittest.main()

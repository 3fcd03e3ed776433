"""What real servers and gateways send, end to end against compass-emu on
libmicrohttpd (SPEC 17): a large result chunked and gzip-encoded loads
exactly; a gzip bomb is exit 9 with memory bounded and the database
unchanged; a broken gzip stream is fetched again, as a cut body is, and when
it stays broken the run fails like one. Each test also reads the emulator's
log to prove the body really was chunked / gzip-encoded (so a tool or an
emulator ignoring them fails the test). TLS: tests/e2e/test_session_tls.py."""
import os
import subprocess
import unittest

from hardlib import (SANITIZED, HardCase, db_connect, runs, rows_of_run, wf_env)
import wfharness

BIG = 300000
ROWS = 500
FIRST_ROW = (0, "north-america", "product-73137", "customer-0000000", "shipped", 535, 232.92,
             124612.2)


def scenario():
    def wf(**kw):
        w = {"cards": [{"id": "c1", "type": "sql", "ms": 20}],
             "generate": {"rows": ROWS, "shape": "mixed"}}
        w.update(kw)
        return w

    return {
        "workflows": {
            "big": wf(generate={"rows": BIG, "shape": "bench8"}, chunked=True, gzip=True),
            "small": wf(gzip=True),
            "broken": wf(),
            "broken_always": wf(),
            "bomb": wf(),
            "sbomb": wf(),
        },
        "faults": [
            {"endpoint": "result", "workflow": "broken", "kind": "gzip_broken"},
            {"endpoint": "result", "workflow": "broken_always", "kind": "gzip_broken",
             "after_bytes": 3000, "times": -1},
            # 2 GiB inflated from about 2 MiB on the wire.
            {"endpoint": "result", "workflow": "bomb", "kind": "gzip_bomb",
             "inflated_bytes": 2 << 30, "times": -1},
            {"endpoint": "session", "workflow": "sbomb", "kind": "gzip_bomb",
             "inflated_bytes": 1 << 30, "times": -1,
             "body": '{"sessionState":{"status":"idle","cards":[],"x":"'},
        ],
    }


def peak_rss_mib(args, env):
    """Runs wf2sqlite; returns (exit code, peak RSS in MiB, stderr)."""
    p = subprocess.Popen([wfharness.WF2SQLITE] + args, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    err = p.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(p.pid, 0)
    p.stderr.close()
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024.0, err


def snapshot(db, upto_run):
    """Every row of every table, audit rows only of runs up to upto_run (a
    failed run adds its own audit rows, and only those), to compare."""
    con = db_connect(db)
    try:
        names = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        out = {}
        for n in names:
            q = 'SELECT * FROM "%s"' % n.replace('"', '""')
            cols = [c[1] for c in con.execute('PRAGMA table_info("%s")' % n.replace('"', '""'))]
            if n.startswith("_wf_") and "run_id" in cols:
                q += " WHERE run_id <= %d" % upto_run
            out[n] = sorted(map(repr, con.execute(q)))
        return out
    finally:
        con.close()


class HttpStack(HardCase):
    scenario = staticmethod(scenario)

    def db(self):
        return self.path("t.db")

    def run_(self, workflow, *extra):
        return self.wf(["run", workflow, "--db", self.db(), "--retries", "2"] + list(extra))

    def result_calls(self):
        sid = runs(self.db())[-1]["session_id"]
        return [q for q in self.requests_of("result") if sid in q["path"]]

    def test_300k_rows_chunked_and_gzip_encoded_load_exactly(self):
        r = self.run_("big")
        self.assertLoaded(r, self.db(), "wf_big", BIG)
        run_id = runs(self.db())[-1]["run_id"]
        con = db_connect(self.db())
        try:
            n, ids, distinct = con.execute(
                'SELECT count(*), sum(id), count(DISTINCT id) FROM wf_big WHERE _run_id = ?',
                (run_id,)).fetchone()
            first = con.execute(
                'SELECT id, region, product, customer, status, units, price, revenue '
                'FROM wf_big WHERE _run_id = ? AND id = 0', (run_id,)).fetchone()
            last = con.execute('SELECT customer FROM wf_big WHERE _run_id = ? AND id = ?',
                               (run_id, BIG - 1)).fetchone()
        finally:
            con.close()
        self.assertEqual((n, ids, distinct), (BIG, BIG * (BIG - 1) // 2, BIG))
        self.assertEqual(first, FIRST_ROW)
        self.assertEqual(last, ("customer-%07d" % (BIG - 1),))
        (res,) = self.result_calls()
        self.assertIn("gzip", res["headers"].get("accept-encoding", ""))
        self.assertEqual(res["encoding"], "gzip", "the result was not gzip-encoded")
        self.assertTrue(res["chunked"], "the result was not chunked")

    def test_gzip_bomb_is_exit_9_memory_bounded_database_unchanged(self):
        r = self.run_("small")
        self.assertLoaded(r, self.db(), "wf_small", ROWS)
        self.assertEqual(self.result_calls()[0]["encoding"], "gzip")
        runs_before = runs(self.db())
        last = runs_before[-1]["run_id"]
        before = snapshot(self.db(), last)
        env = wf_env(self.emu)
        rc, mib, err = peak_rss_mib(["run", "bomb", "--db", self.db(), "--retries", "2"], env)
        self.assertEqual(rc, 9, err)
        self.assertIn("larger than the limit", err)
        self.assertNotIn(wfharness.API_KEY, err)
        if not SANITIZED:  # ASan's shadow memory would be measured, not wf2sqlite
            self.assertLess(mib, 256, "peak RSS %.0f MiB for a 2 GiB bomb" % mib)
        self.assertEqual(snapshot(self.db(), last), before, "the database changed")
        (failed,) = runs(self.db())[len(runs_before):]
        self.assertEqual((failed["status"], failed["rows_loaded"] or 0), ("failed", 0))
        self.assertEqual(rows_of_run(self.db(), "wf_bomb", failed["run_id"]), 0)
        self.assertIntegrity(self.db())
        res = self.result_calls()
        self.assertEqual(len(res), 1, "a bad body is not fetched again")
        self.assertEqual((res[0]["fault"], res[0]["encoding"]), ("gzip_bomb", "gzip"))

    def test_gzip_bomb_on_a_session_read_stops_at_its_size_limit(self):
        env = wf_env(self.emu)
        rc, mib, err = peak_rss_mib(["run", "sbomb", "--db", self.db(), "--wait", "poll",
                                     "--poll-interval", "100ms"], env)
        self.assertEqual(rc, 9, err)
        self.assertIn("larger than the 8388608 bytes allowed", err)
        if not SANITIZED:
            self.assertLess(mib, 128, "peak RSS %.0f MiB for a 1 GiB bomb" % mib)
        self.assertEqual(runs(self.db())[-1]["status"], "failed")
        self.assertIntegrity(self.db())

    def test_broken_gzip_stream_is_fetched_again_as_a_cut_body_is(self):
        r = self.run_("broken")
        self.assertLoaded(r, self.db(), "wf_broken", ROWS)
        self.assertIn("compressed answer is broken", r.err)
        res = self.result_calls()
        self.assertEqual([(q["fault"], q["encoding"]) for q in res],
                         [("gzip_broken", "gzip"), (None, None)])

    def test_broken_gzip_stream_every_time_exit_8_no_rows(self):
        r = self.run_("broken_always", "--retries", "1")
        self.assertFailedRun(r, 8, self.db(), "wf_broken_always", "failed",
                             ["result of session", "compressed answer is broken",
                              "gave up after 1 retr"], error="compressed answer is broken")
        res = self.result_calls()
        self.assertGreaterEqual(len(res), 2)
        self.assertEqual({(q["fault"], q["encoding"]) for q in res}, {("gzip_broken", "gzip")})


if __name__ == "__main__":
    unittest.main()

"""Conformance of SPEC sections 5 (result to SQLite), 6 (audit tables) and 7
(nothing lost), sentence by sentence, through `load` and through `run`
against compass-emu. Each test names the sentence it proves."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlib import RESULT, ROWS, Emu, NetTestCase, wait_for_run, workflow  # noqa: E402
from wfharness import WF2SQLITE, db_query, run_wf, spawn_wf, wf_env  # noqa: E402

TYPED_SCHEMA = [
    {"id": "s", "header": "S", "type": "string"},
    {"id": "n", "header": "N", "type": "number"},
    {"id": "b", "header": "B", "type": "boolean"},
    {"id": "o", "header": "O", "type": "object"},
    {"id": "u"},
]
# Written by hand: Python would not keep the big integers' text.
TYPED_BODY = (
    '{"schema": ' + json.dumps(TYPED_SCHEMA) + ', "data": ['
    '{"s": "x", "n": 18446744073709551616, "b": true, "o": {"k": [1, 2]}, "u": [1, {"q": 2}]},'
    '{"s": "y", "n": -9223372036854775809, "b": false, "o": null, "u": "t"},'
    '{"s": "z", "n": 9223372036854775807},'
    '{"n": -9223372036854775808},'
    '{"n": 2.5},'
    '{"n": 123456789012345678901234567890}'
    '], "start": 0, "end": 6, "result": {"summary": {"totalNumberOfRows": 6,'
    ' "executionDurationMillis": 3}}}')
INF_BODY = '{"schema": [{"id": "n", "type": "number"}], "data": [{"n": 1e400}]}'


def scenario():
    sc = {"workflows": {
        "typed": {"session_id": "typed-s", "cards": [{"id": "c1", "ms": 20}],
                  "result_raw": TYPED_BODY},
        "inf": {"session_id": "inf-s", "cards": [{"id": "c1", "ms": 20}],
                "result_raw": INF_BODY},
        "w": workflow("w-s", cards_ms=(50,)),
    }}
    return sc


class SpecDbTest(NetTestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emu(scenario())
        cls.emu.start()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    def setUp(self):
        super().setUp()
        self.db = self.path("t.db")

    def wf(self, args, rc=0, **kw):
        r = run_wf(args, emu=self.emu, **kw)
        self.assertRc(r, rc)
        return r

    def load(self, text, *args, rc=0):
        p = self.path("body-%d.json" % time.monotonic_ns())
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
        return self.wf(["load", p, "--db", self.db] + list(args), rc=rc)

    def q(self, sql, params=()):
        return db_query(self.db, sql, params)

    def runs(self):
        con = sqlite3.connect(self.db)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute("SELECT * FROM _wf_runs ORDER BY run_id")]
        finally:
            con.close()

    # ---- SPEC 5, the type table ---------------------------------------------

    def check_typed_table(self, table):
        self.assertEqual(
            [(r[1], r[2]) for r in self.q('PRAGMA table_info("%s")' % table)],
            [("s", "TEXT"), ("n", "NUMERIC"), ("b", "INTEGER"), ("o", "TEXT"), ("u", "TEXT"),
             ("_run_id", "INTEGER"), ("_row", "INTEGER")])
        got = self.q('SELECT s, typeof(s), n, typeof(n), b, typeof(b) FROM "%s" ORDER BY _row'
                     % table)
        # string -> text; number -> INTEGER when it fits 64 bits, else REAL
        # (never clamped to the 64-bit limits); boolean -> 0/1.
        self.assertEqual(got[0][:6], ("x", "text", 18446744073709551616.0, "real", 1, "integer"))
        self.assertEqual(got[1][:6], ("y", "text", -9223372036854775809.0, "real", 0, "integer"))
        self.assertNotEqual(got[0][2], 18446744073709551615)
        self.assertIsInstance(got[1][2], float)  # -2**63 as a REAL, not the INTEGER
        self.assertEqual(got[2][2:4], (9223372036854775807, "integer"))
        self.assertEqual(got[3][2:4], (-9223372036854775808, "integer"))
        self.assertEqual(got[4][2:4], (2.5, "real"))
        self.assertEqual(got[5][2:4], (1.2345678901234568e+29, "real"))
        # objects and arrays: JSON text usable with json_extract.
        self.assertEqual(self.q('SELECT typeof(o), json_extract(o, \'$.k[1]\'), '
                                'json_extract(u, \'$[1].q\') FROM "%s" WHERE _row = 0' % table),
                         [("text", 2, 2)])
        self.assertEqual(self.q('SELECT json_valid(o), json_valid(u) FROM "%s" WHERE _row = 0'
                                % table), [(1, 1)])
        self.assertEqual(self.q('SELECT o, u FROM "%s" WHERE _row = 1' % table), [(None, "t")])

    def test_types_through_load(self):
        self.load(TYPED_BODY, "--table", "typed")
        self.check_typed_table("typed")

    def test_types_through_run_over_http(self):
        self.wf(["run", "typed", "--db", self.db, "--table", "typed"])
        self.check_typed_table("typed")

    def test_a_number_beyond_a_double_is_hostile_exit_9(self):
        # 1e400 could only be stored as Infinity (SPEC 9: hostile).
        r = self.load(INF_BODY, "--table", "inf", rc=9)
        self.assertIn("1e400", r.err)
        self.assertIn("Infinity", r.err)
        r = self.wf(["run", "inf", "--db", self.db, "--table", "inf"], rc=9)
        self.assertEqual(self.q("SELECT count(*) FROM sqlite_master WHERE name = 'inf'"), [(0,)])
        self.assertEqual([x["status"] for x in self.runs()], ["failed", "failed"])

    # ---- SPEC 5, rows ------------------------------------------------------

    def test_array_rows_longer_than_the_schema_get_positional_columns(self):
        body = ('{"schema": [{"id": "a", "type": "number"}, {"id": "b", "type": "string"}],'
                ' "data": [[1, "x", "extra", 7], [2]]}')
        r = self.load(body, "--table", "arr")
        self.assertIn("row 0 has a value at position 3 that the schema lacks; added as column "
                      '"col_3"', r.err)
        self.assertIn('position 4 that the schema lacks; added as column "col_4"', r.err)
        self.assertEqual(self.q("SELECT a, b, col_3, col_4, _row FROM arr ORDER BY _row"),
                         [(1, "x", "extra", 7, 0), (2, None, None, None, 1)])
        self.assertEqual(self.q("SELECT position, column_name, source_id, sql_type FROM _wf_columns"
                                " ORDER BY position"),
                         [(0, "a", "a", "NUMERIC"), (1, "b", "b", "TEXT"),
                          (2, "col_3", "", "TEXT"), (3, "col_4", "", "NUMERIC")])

    # ---- SPEC 7 / resume: a killed load ----------------------------------------

    def big_body(self, n=200000):
        p = self.path("big.json")
        with open(p, "w") as f:
            f.write('{"schema": [{"id": "a", "type": "number"}, {"id": "s", "type": "string"}],'
                    ' "data": [')
            f.write(",".join('{"a": %d, "s": "%s"}' % (i, "x" * 150) for i in range(n)))
            f.write("]}")
        return p

    def spawn_load_and_wait_for_rows(self, big):
        p = spawn_wf(["load", big, "--db", self.db, "--table", "big"], env=wf_env())
        wal = self.db + "-wal"
        deadline = time.time() + 60
        while time.time() < deadline and p.poll() is None:
            if os.path.exists(wal) and os.path.getsize(wal) > 2 * 1024 * 1024:
                return p
            time.sleep(0.005)
        p.kill()
        p.communicate()
        self.skipTest("the load finished before it could be caught in the middle")

    def test_resume_ends_the_run_of_a_killed_load(self):
        p = self.spawn_load_and_wait_for_rows(self.big_body())
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=10)  # reaped: a zombie's pid would look alive
        (run,) = self.runs()
        self.assertEqual((run["status"], run["session_id"]), ("running", None))
        r = self.wf(["resume", "--db", self.db], env=wf_env(None, key=None))
        self.assertIn("marked interrupted", r.err)
        (run,) = self.runs()
        self.assertEqual(run["status"], "interrupted")
        self.assertIn("pid %d" % p.pid, run["error"])
        self.assertIn("wf2sqlite load again", run["error"])
        self.assertRegex(run["finished_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(self.q("SELECT count(*) FROM sqlite_master WHERE name = 'big'"), [(0,)])
        self.assertEqual(self.q("PRAGMA integrity_check"), [("ok",)])

    def test_resume_leaves_a_live_load_alone(self):
        p = self.spawn_load_and_wait_for_rows(self.big_body(300000))
        try:
            r = self.wf(["resume", "--db", self.db], env=wf_env(None, key=None))
            self.assertNotIn("marked interrupted", r.err)
        finally:
            out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual([x["status"] for x in self.runs()], ["loaded"])


if __name__ == "__main__":
    unittest.main()

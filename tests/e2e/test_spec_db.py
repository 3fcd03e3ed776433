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
from netlib import (RESULT, ROWS, Emu, EmuTestCase, NetTestCase, wait_for_run,  # noqa: E402
                    workflow)
from wfharness import (db_query, db_runs, drops_privileges, run_as, run_wf,  # noqa: E402
                       spawn_wf, unprivileged, wf_env)

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
        "nodata": {"session_id": "nodata-s", "cards": [{"id": "c1", "ms": 20}],
                   "result_raw": '{"error": "Internal", "status_code": 500}'},
        "big": {"session_id": "big-s", "cards": [{"id": "c1", "ms": 20}],
                "generate": {"rows": 400000, "shape": "bench8"}},
        "mid": workflow("mid-s", cards_ms=(2500,)),
        "slow": workflow("slow-s", cards_ms=(30000,)),
        "bad": workflow("bad-s", cards_ms=(50, 50)),
        "gone": workflow("gone-s", cards_ms=(50,), final_status="inactive"),
        "hostile": {"session_id": "hostile-s", "cards": [{"id": "c1", "ms": 20}],
                    "result_raw": '{"data": [[NaN]]}'},
        "short": workflow("short-s", cards_ms=(50,), result=dict(
            RESULT, result={"summary": {"totalNumberOfRows": 9, "executionDurationMillis": 4}})),
    }}
    sc["workflows"]["bad"]["cards"][1].update({"status": "errored", "error": "card c2 broke"})
    return sc


ISO_MS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
RUN_COLUMNS = ["run_id", "session_id", "workflow_id", "table_name", "mode", "status", "error",
               "variables", "started_at", "finished_at", "wait_ms", "load_ms", "total_ms",
               "execution_ms", "rows_reported", "rows_received", "rows_loaded", "range_start",
               "range_end", "schema_json", "api_host", "tool_version", "pid",
               # SPEC 6 as amended (audit schema version 2).
               "hostname", "heartbeat_at", "batch_id", "batch_index", "exit_code"]


class SpecDbTest(EmuTestCase):
    scenario = staticmethod(scenario)

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
        return db_runs(self.db)

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

    def test_a_body_without_data_is_not_an_empty_result(self):
        for text in ("{}", '{"error": "Internal", "status_code": 500}',
                     '{"schema": [{"id": "a", "type": "number"}]}'):
            r = self.load(text, "--table", "nd", rc=9)
            self.assertIn('no "data" array', r.err)
            self.assertEqual(r.err.count("nothing was loaded"), 1, r.err)
            p = self.path("nd.json")
            with open(p, "w") as f:
                f.write(text)
            self.assertRc(run_wf(["schema", p], env=wf_env()), 9)
        r = self.wf(["run", "nodata", "--db", self.db, "--table", "nd"], rc=9)
        self.assertIn("wf2sqlite attach nodata-s", r.err)
        self.assertEqual(self.q("SELECT count(*) FROM sqlite_master WHERE name = 'nd'"), [(0,)])
        self.assertEqual({x["status"] for x in self.runs()}, {"failed"})
        # "data": [] is an empty result: loaded, the table created.
        self.load('{"schema": [{"id": "a", "type": "number"}], "data": []}', "--table", "nd")
        self.assertEqual([r[1] for r in self.q("PRAGMA table_info(nd)")], ["a", "_run_id", "_row"])

    # ---- SPEC 5, rows ------------------------------------------------------

    def test_array_rows_longer_than_the_schema_get_positional_columns(self):
        body = ('{"schema": [{"id": "a", "type": "number"}, {"id": "b", "type": "string"}],'
                ' "data": [[1, "x", "extra", 7], [2]]}')
        r = self.load(body, "--table", "arr")
        self.assertIn("row 0 has more values than the schema has columns; added as column "
                      '"col_3"', r.err)
        self.assertIn('columns; added as column "col_4"', r.err)
        self.assertEqual(self.q("SELECT a, b, col_3, col_4, _row FROM arr ORDER BY _row"),
                         [(1, "x", "extra", 7, 0), (2, None, None, None, 1)])
        self.assertEqual(self.q("SELECT position, column_name, source_id, sql_type FROM _wf_columns"
                                " ORDER BY position"),
                         [(0, "a", "a", "NUMERIC"), (1, "b", "b", "TEXT"),
                          (2, "col_3", "", "TEXT"), (3, "col_4", "", "NUMERIC")])

    def test_names_with_quotes_spaces_keywords_and_unicode_are_quoted(self):
        schema = [{"id": 'a"b', "header": "Q"}, {"id": "select", "type": "number"},
                  {"id": " sp ace", "type": "boolean"}, {"id": "", "type": "string"},
                  {"id": "Été"}, {"id": "été"}, {"id": "Name"}, {"id": "NAME"},
                  {"id": "_run_id"}, {"id": "_ROW"}, {"id": '"'}, {"id": "x'); DROP TABLE y; --"}]
        row = [1, 2, True, "e", "É", "é", "n", "N", 5, 6, "q", "inj"]
        table = 'it\'s "t" é'
        self.load(json.dumps({"schema": schema, "data": [row]}), "--table", table)
        names = ['a"b', "select", " sp ace", "col_4", "Été", "été", "Name", "NAME_2",
                 "_run_id_2", "_ROW_2", '"', "x'); DROP TABLE y; --"]
        self.assertEqual(self.q("SELECT column_name, source_id FROM _wf_columns ORDER BY position"),
                         list(zip(names, [f["id"] for f in schema])))
        quoted = '"%s"' % table.replace('"', '""')
        self.assertEqual([r[1] for r in self.q("PRAGMA table_info(%s)" % quoted)],
                         names + ["_run_id", "_row"])
        latest = '"%s_latest"' % table.replace('"', '""')
        got = self.q("SELECT * FROM %s" % latest)
        # Untyped columns are TEXT: numbers there become text (and are counted).
        self.assertEqual(got, [("1", 2, 1, "e", "É", "é", "n", "N", "5", "6", "q", "inj", 1, 0)])
        self.assertEqual(self.q("SELECT table_name FROM _wf_runs"), [(table,)])

    # ---- SPEC 5, the table and its view ---------------------------------------------

    def test_every_schema_column_is_created_even_when_all_null(self):
        body = ('{"schema": [{"id": "a", "type": "number"}, {"id": "never", "type": "string"},'
                ' {"id": "flag", "type": "boolean"}], "data": [{"a": 1}, {"a": 2, "never": null}]}')
        self.load(body, "--table", "t")
        self.assertEqual([r[1] for r in self.q("PRAGMA table_info(t)")],
                         ["a", "never", "flag", "_run_id", "_row"])
        self.assertEqual(self.q("SELECT a, never, flag, _row FROM t ORDER BY _row"),
                         [(1, None, None, 0), (2, None, None, 1)])

    def test_latest_after_append_append_failed_run_and_replace(self):
        db = ["--db", self.db, "--table", "t"]
        self.wf(["run", "w"] + db)
        self.wf(["run", "w"] + db)
        self.assertEqual(self.q("SELECT count(*), min(_run_id), max(_run_id) FROM t_latest"),
                         [(len(ROWS), 2, 2)])
        self.assertEqual(self.q("SELECT count(*) FROM t"), [(2 * len(ROWS),)])
        # A third run that fails after the session started: still the second.
        self.wf(["run", "hostile"] + db, rc=9)
        self.wf(["run", "bad"] + db, rc=5)
        self.assertEqual(self.q("SELECT count(*), min(_run_id) FROM t_latest"), [(len(ROWS), 2)])
        self.wf(["run", "w", "--mode", "replace"] + db)
        self.assertEqual(self.q("SELECT count(*), min(_run_id) FROM t_latest"), [(len(ROWS), 5)])
        self.assertEqual(self.q("SELECT count(*), min(_run_id) FROM t"), [(len(ROWS), 5)])

    def test_a_session_already_loaded_is_not_loaded_twice_unless_force(self):
        sid = self.wf(["run", "w", "--db", self.db, "--no-wait"]).out.strip()
        self.wf(["attach", sid, "--db", self.db, "--workflow", "w"])
        r = self.wf(["attach", sid, "--db", self.db, "--workflow", "w", "--json"])
        self.assertIn("is already in wf_w", r.err)
        self.assertIn("nothing loaded", r.err)
        self.assertEqual(json.loads(r.out)["exit_code"], 0)
        self.assertEqual(self.q("SELECT count(*) FROM wf_w"), [(len(ROWS),)])
        self.wf(["attach", sid, "--db", self.db, "--workflow", "w", "--force"])
        self.assertEqual(self.q("SELECT count(*), count(DISTINCT _run_id) FROM wf_w"),
                         [(2 * len(ROWS), 2)])

    def test_fewer_rows_than_reported_over_http_is_partial_with_a_warning(self):
        r = self.wf(["run", "short", "--db", self.db])
        self.assertIn("warning", r.err)
        self.assertIn("9", r.err)
        (run,) = self.runs()
        self.assertEqual((run["status"], run["rows_reported"], run["rows_received"],
                          run["rows_loaded"]), ("partial", 9, len(ROWS), len(ROWS)))
        self.assertEqual(self.q("SELECT count(*) FROM wf_short_latest"), [(len(ROWS),)])

    # ---- SPEC 6, _wf_runs after every kind of end --------------------------------------

    def assertRunShape(self, run, status, session, loaded):
        self.assertEqual(sorted(run), sorted(RUN_COLUMNS))
        self.assertEqual(run["status"], status)
        self.assertRegex(run["session_id"], "^%s(-[0-9]+)?$" % session)
        self.assertRegex(run["started_at"], ISO_MS)
        self.assertRegex(run["finished_at"], ISO_MS)
        self.assertLessEqual(run["started_at"], run["finished_at"])
        self.assertEqual(run["tool_version"], self.version)
        self.assertEqual(run["api_host"], "127.0.0.1:%d" % self.emu.port)
        self.assertIsInstance(run["pid"], int)
        self.assertGreater(run["pid"], 0)
        self.assertIsInstance(run["wait_ms"], int)
        self.assertIsInstance(run["total_ms"], int)
        self.assertGreaterEqual(run["total_ms"], run["wait_ms"])
        if loaded:
            if status == "loaded":
                self.assertIsNone(run["error"])
            for k in ("load_ms", "execution_ms", "rows_reported", "rows_received",
                      "rows_loaded", "range_start", "range_end"):
                self.assertIsInstance(run[k], int, k)
        else:
            self.assertTrue(run["error"])
            self.assertIsNone(run["rows_loaded"])

    @property
    def version(self):
        out = run_wf(["--version"], env=wf_env()).out
        return out.split()[1]

    def test_wf_runs_columns_for_every_status(self):
        db = ["--db", self.db]
        self.wf(["run", "w", "-v", "region=north", "-v", "n=2"] + db)
        self.wf(["run", "bad"] + db, rc=5)
        self.wf(["run", "gone"] + db, rc=5)
        self.wf(["run", "slow", "--timeout", "1s"] + db, rc=6)
        self.wf(["run", "hostile"] + db, rc=9)
        for sig in (signal.SIGINT, signal.SIGTERM):
            n = len(self.runs())
            p = spawn_wf(["run", "slow"] + db, emu=self.emu)
            deadline = time.time() + 15
            while len(self.runs()) == n and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
            p.send_signal(sig)
            out, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 130, err)
            self.assertIn("wf2sqlite attach slow-s", err)
        self.wf(["run", "bad", "--allow-partial"] + db)
        runs = self.runs()
        self.assertEqual([r["status"] for r in runs],
                         ["loaded", "errored", "inactive", "timeout", "failed", "interrupted",
                          "interrupted", "partial"])
        loaded, errored, inactive, timeout, failed, intr, term, partial = runs
        self.assertRunShape(loaded, "loaded", "w-s", True)
        self.assertEqual(json.loads(loaded["variables"]), {"region": "north", "n": "2"})
        self.assertEqual((loaded["workflow_id"], loaded["table_name"], loaded["mode"]),
                         ("w", "wf_w", "append"))
        self.assertEqual((loaded["execution_ms"], loaded["rows_reported"], loaded["rows_received"],
                          loaded["rows_loaded"], loaded["range_start"], loaded["range_end"]),
                         (7, len(ROWS), len(ROWS), len(ROWS), 0, len(ROWS)))
        self.assertEqual(json.loads(loaded["schema_json"]), RESULT["schema"])
        self.assertRunShape(errored, "errored", "bad-s", False)
        self.assertIn("card c2 broke", errored["error"])
        self.assertRunShape(inactive, "inactive", "gone-s", False)
        self.assertRunShape(timeout, "timeout", "slow-s", False)
        self.assertGreaterEqual(timeout["wait_ms"], 900)
        self.assertRunShape(failed, "failed", "hostile-s", False)
        self.assertIn("NaN", failed["error"])
        self.assertRunShape(intr, "interrupted", "slow-s", False)
        self.assertRunShape(term, "interrupted", "slow-s", False)
        self.assertRunShape(partial, "partial", "bad-s", True)
        self.assertIn("card c2 broke", partial["error"])
        for r in runs:
            self.assertEqual(r["pid"] != os.getpid(), True)
        # _wf_cards: the cards as last seen, with the errored one's message.
        self.assertEqual(self.q("SELECT position, card_id, card_type, status, error_message "
                                "FROM _wf_cards WHERE run_id = ? ORDER BY position",
                                (errored["run_id"],)),
                         [(0, "c1", "sql", "completed", None),
                          (1, "c2", "transform", "errored", "card c2 broke")])
        self.assertEqual(self.q("SELECT count(*) FROM _wf_cards WHERE run_id = ?",
                                (loaded["run_id"],)), [(1,)])
        # _wf_columns: one row per column of a loaded run.
        self.assertEqual(self.q("SELECT position, column_name, source_id, header, source_type, "
                                "sql_type FROM _wf_columns WHERE run_id = ? ORDER BY position",
                                (loaded["run_id"],)),
                         [(0, "n", "n", "N", "number", "NUMERIC"),
                          (1, "s", "s", "S", "string", "TEXT")])

    def test_load_run_row(self):
        self.load(TYPED_BODY, "--table", "typed", "--workflow", "wf-9")
        (run,) = self.runs()
        self.assertEqual((run["status"], run["session_id"], run["workflow_id"], run["mode"],
                          run["wait_ms"], run["api_host"]), ("loaded", None, "wf-9", "append",
                                                             None, None))
        self.assertRegex(run["started_at"], ISO_MS)
        self.assertRegex(run["finished_at"], ISO_MS)
        self.assertEqual((run["rows_reported"], run["rows_received"], run["rows_loaded"],
                          run["range_start"], run["range_end"], run["execution_ms"]),
                         (6, 6, 6, 0, 6, 3))
        self.assertEqual(json.loads(run["schema_json"]), TYPED_SCHEMA)

    # ---- SPEC 7 -----------------------------------------------------------------------

    def test_the_running_row_is_committed_before_waiting(self):
        p = spawn_wf(["run", "mid", "--db", self.db], emu=self.emu)
        try:
            wait_for_run(self.db)
            (run,) = self.runs()
            self.assertEqual((run["status"], run["pid"]), ("running", p.pid))
            self.assertTrue(run["session_id"].startswith("mid-s"), run)
            self.assertIsNone(run["finished_at"])
            # The session is still processing on the server.
            st = run_wf(["status", run["session_id"], "--json"], emu=self.emu)
            self.assertEqual(json.loads(st.out)["status"], "processing", st)
        finally:
            out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual([r["status"] for r in self.runs()], ["loaded"])

    def test_a_database_failure_after_the_session_started_is_recorded_with_attach(self):
        # --mode fail passes preflight; the table appears while the session runs.
        p = spawn_wf(["run", "mid", "--db", self.db, "--table", "t", "--mode", "fail"],
                     emu=self.emu)
        wait_for_run(self.db)
        con = sqlite3.connect(self.db)
        con.execute("CREATE TABLE t (x)")
        con.commit()
        con.close()
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 7, err)
        (run,) = self.runs()
        self.assertEqual(run["status"], "failed")
        self.assertIn("exists", run["error"])
        self.assertRegex(run["finished_at"], ISO_MS)
        self.assertIn("wf2sqlite attach %s" % run["session_id"], err)
        self.assertEqual(self.q("SELECT count(*) FROM t"), [(0,)])

    def test_attach_records_its_running_row_before_waiting(self):
        sid = self.wf(["run", "mid", "--db", self.path("other.db"), "--no-wait"]).out.strip()
        p = spawn_wf(["attach", sid, "--db", self.db, "--workflow", "mid"], emu=self.emu)
        try:
            wait_for_run(self.db)
            (run,) = self.runs()
            self.assertEqual((run["status"], run["session_id"], run["pid"]),
                             ("running", sid, p.pid))
        finally:
            out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual([r["status"] for r in self.runs()], ["loaded"])

    def test_a_signal_in_the_middle_of_the_load_leaves_none_of_its_rows(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            p = spawn_wf(["run", "big", "--db", self.db, "--table", "big"], emu=self.emu)
            wal = self.db + "-wal"
            deadline = time.time() + 60
            while time.time() < deadline and p.poll() is None:
                if os.path.exists(wal) and os.path.getsize(wal) > 2 * 1024 * 1024:
                    break
                time.sleep(0.005)
            if p.poll() is not None:
                p.communicate()
                self.skipTest("the load finished before it could be interrupted")
            p.send_signal(sig)
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 130, err)
            run = self.runs()[-1]
            self.assertEqual(run["status"], "interrupted")
            self.assertIsNone(run["rows_loaded"])
            self.assertIn("wf2sqlite attach %s" % run["session_id"], err)
            self.assertEqual(self.q("SELECT count(*) FROM sqlite_master WHERE name = 'big'"),
                             [(0,)])
        self.assertEqual(self.q("PRAGMA integrity_check"), [("ok",)])

    def test_two_resumes_racing_load_the_session_once(self):
        p = spawn_wf(["run", "mid", "--db", self.db, "--table", "m"], emu=self.emu)
        wait_for_run(self.db)
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=10)
        procs = [spawn_wf(["resume", "--db", self.db], emu=self.emu) for _ in range(3)]
        outs = [q.communicate(timeout=60) for q in procs]
        self.assertEqual([q.returncode for q in procs], [0, 0, 0], outs)
        self.assertEqual(self.q("SELECT count(*), count(DISTINCT _run_id) FROM m"),
                         [(len(ROWS), 1)])
        self.assertEqual([r["status"] for r in self.runs()], ["loaded"])

    def test_a_locked_database_is_waited_for(self):
        # Created, so the run only has to wait for the lock, not for the tables.
        self.wf(["run", "w", "--db", self.db])
        con = sqlite3.connect(self.db, isolation_level=None, check_same_thread=False)
        con.execute("BEGIN IMMEDIATE")
        released = []

        def release():
            time.sleep(2)
            con.execute("COMMIT")
            released.append(time.time())
        t = threading.Thread(target=release)
        t.start()
        t0 = time.time()
        try:
            r = self.wf(["run", "w", "--db", self.db])
        finally:
            t.join()
            con.close()
        self.assertGreaterEqual(time.time() - t0, 1.9)
        self.assertEqual([x["status"] for x in self.runs()], ["loaded", "loaded"], r)

    def test_the_file_is_wal_with_a_clean_integrity_check(self):
        self.wf(["run", "w", "--db", self.db])
        self.assertEqual(self.q("PRAGMA journal_mode"), [("wal",)])
        self.assertEqual(self.q("PRAGMA integrity_check"), [("ok",)])

    def as_nobody(self, args):
        """Runs wf2sqlite as uid/gid 65534 (root can write anywhere), from a
        copy nobody can reach (tests/lib/asuser.py)."""
        binary, kw = unprivileged(self)
        os.chmod(self.dir, 0o755)
        return run_as(binary, args, kw, wf_env(self.emu))

    def nobody_dir(self, name, mode):
        os.chmod(self.dir, 0o755)
        d = self.path(name)
        os.mkdir(d)
        os.chmod(d, mode)
        return d

    @drops_privileges
    def test_preflight_unwritable_folder_and_file_nothing_sent(self):
        before = len(self.emu.requests())
        ro = self.nobody_dir("ro", 0o755)  # root's, read-only for nobody
        r = self.as_nobody(["run", "w", "--db", os.path.join(ro, "a.db")])
        self.assertRc(r, 7)
        self.assertIn("not writable", r.err)
        self.assertFalse(os.path.exists(os.path.join(ro, "a.db")))
        rw = self.nobody_dir("rw", 0o777)
        db = os.path.join(rw, "b.db")
        self.wf(["run", "w", "--db", db])  # root's file, 0644
        os.chmod(db, 0o644)
        n_runs = db_query(db, "SELECT count(*) FROM _wf_runs")
        before = len(self.emu.requests())
        r = self.as_nobody(["run", "w", "--db", db])
        self.assertRc(r, 7)
        self.assertIn("not writable", r.err)
        self.assertEqual(len(self.emu.requests()), before)
        self.assertEqual(db_query(db, "SELECT count(*) FROM _wf_runs"), n_runs)

    def test_preflight_missing_folder_says_so_nothing_sent(self):
        before = len(self.emu.requests())
        with open(self.path("plain"), "w") as f:
            f.write("x")
        for db, part in ((os.path.join(self.path("no"), "such", "a.db"),
                          "does not exist; create it"),
                         (os.path.join(self.path("plain"), "a.db"), "is a file, not a folder")):
            r = self.wf(["run", "w", "--db", db], rc=7)
            self.assertIn(part, r.err)
            self.assertIn("choose another --db", r.err)
            self.assertNotIn("permissions", r.err)
        self.assertEqual(len(self.emu.requests()), before)
        self.assertFalse(os.path.exists(self.path("no")))

    def test_preflight_bad_table_and_mode_fail_nothing_sent(self):
        self.wf(["run", "w", "--db", self.db, "--table", "t"])
        before = len(self.emu.requests())
        for table in ("sqlite_x", "SQLITE_master2", ""):
            r = self.wf(["run", "w", "--db", self.db, "--table", table], rc=2)
            self.assertIn("--table", r.err)
        self.wf(["run", "w", "--db", self.db, "--table", "t", "--mode", "fail"], rc=7)
        self.assertEqual(len(self.emu.requests()), before)
        self.assertEqual(len(self.runs()), 1)

    def test_array_positions_are_not_shifted_by_keys_of_object_rows(self):
        body = ('{"schema": [{"id": "a", "type": "number"}], "data": ['
                '{"a": 1, "k": "key"}, [2, "p2", "p3"], {"a": 3, "col_2": "named"}, [4, "q2"]]}')
        self.load(body, "--table", "mix")
        self.assertEqual(self.q("SELECT position, column_name, source_id FROM _wf_columns"
                                " ORDER BY position"),
                         [(0, "a", "a"), (1, "k", "k"), (2, "col_2", ""), (3, "col_3", ""),
                          (4, "col_2_2", "col_2")])
        self.assertEqual(self.q('SELECT a, k, col_2, col_3, col_2_2 FROM mix ORDER BY _row'),
                         [(1, "key", None, None, None), (2, None, "p2", "p3", None),
                          (3, None, None, None, "named"), (4, None, "q2", None, None)])

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


class EmulatorTest(NetTestCase):
    """SPEC 10: compass-emu serves the demo scenario; wf2sqlite runs against it."""

    def test_help_and_usage_errors(self):
        import wfharness
        p = subprocess.run([wfharness.EMU, "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--scenario FILE", p.stdout)
        self.assertIn("docs/emulator.md", p.stdout)
        p = subprocess.run([wfharness.EMU], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--scenario FILE is required", p.stderr)

    def test_demo_scenario_loads_with_wf2sqlite(self):
        import wfharness
        path = os.path.join(wfharness.SOURCE_DIR, "examples", "demo-scenario.json")
        key = self.path("key")
        with open(key, "w") as f:
            f.write("demo-key")
        db = self.path("demo.db")
        with Emu(path) as emu:
            env = wf_env(emu, key=None, account="demo-account")
            r = run_wf(["run", "sales_by_region", "--db", db, "--api-key-file", key,
                        "-v", "region=emea"], env=env)
        self.assertRc(r, 0)
        self.assertEqual(db_query(db, "SELECT count(*), count(DISTINCT _run_id) FROM "
                                      "wf_sales_by_region_latest"), [(20, 1)])
        self.assertEqual(db_query(db, "SELECT status, variables FROM _wf_runs"),
                         [("loaded", '{"region":"emea"}')])


if __name__ == "__main__":
    unittest.main()

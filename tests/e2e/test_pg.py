"""PostgreSQL as the archive (SPEC 16), against a real PostgreSQL 15 server
that this module starts itself (tests/lib/pgserver.py) and compass-emu over
loopback: exact types, rejects, the audit tables, every command with --db,
exit codes, passwords that never leak, kill safety, racing processes and
replace seen atomically by concurrent readers."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlib import Emu, NetTestCase, workflow  # noqa: E402
from wfharness import API_KEY, WF2SQLITE, drops_privileges, run_wf, spawn_wf  # noqa: E402
from pgserver import PSQL, PgServer, pg_env  # noqa: E402

PG = None

# Written by hand: Python would not keep the numbers' text.
TYPED_SCHEMA = [{"id": "s", "header": "S", "type": "string"},
                {"id": "n", "header": "N", "type": "number"},
                {"id": "b", "type": "boolean"},
                {"id": "o", "type": "object"},
                {"id": "u"}]
TYPED_BODY = (
    '{"schema": ' + json.dumps(TYPED_SCHEMA) + ', "data": ['
    '{"s": "tab\\there\\nnew \\\\ line \\u00e9\\u4e2d", "n": 123456789012345678901234567890,'
    ' "b": true, "o": {"k": [1, 2.50, "x"]}, "u": [1, {"q": 2}]},'
    '{"s": "y", "n": 0.1, "b": false, "o": null, "u": "t"},'
    '{"s": "z", "n": 1e-30},'
    '{"n": -9223372036854775809},'
    '{"n": 9223372036854775807},'
    '{"n": 1.0000000000000000000000000001},'
    '{"n": -2.5E+40}'
    '], "start": 0, "end": 7, "result": {"summary": {"totalNumberOfRows": 7,'
    ' "executionDurationMillis": 3}}}')
EXACT = ["123456789012345678901234567890", "0.1", "1e-30", "-9223372036854775809",
         "9223372036854775807", "1.0000000000000000000000000001", "-2.5E+40"]

REJECT_BODY = (
    '{"schema": [{"id": "n", "type": "number"}, {"id": "b", "type": "boolean"},'
    ' {"id": "s", "type": "string"}, {"id": "o", "type": "object"}], "data": ['
    '{"n": "12", "b": 1, "s": {"a": 1}, "o": {"ok": true}},'
    '{"n": true, "b": "yes", "s": 7, "o": {"bad": "\\u0000"}},'
    '{"n": 5, "b": false, "s": "fine\\u0000nul", "o": [1]}'
    '], "start": 0, "end": 3}')


def setUpModule():
    global PG
    if PgServer.available():
        PG = PgServer.start()


def tearDownModule():
    if PG:
        PG.stop()


@drops_privileges
@unittest.skipUnless(PgServer.available(), "PostgreSQL 15 server not installed (scripts/deps.sh --test)")
class PgCase(NetTestCase):
    def setUp(self):
        super().setUp()
        self.db = PG.create_db()
        self.uri = PG.uri(self.db)

    def q(self, sql):
        return PG.query(self.db, sql)

    def load(self, body, *args, env=None, rc=0):
        r = run_wf(["load", "-", "--db", self.uri] + list(args), env=env or pg_env(),
                   input=body, cwd=self.dir)
        self.assertEqual(r.rc, rc, repr(r))
        return r


class Types(PgCase):
    def test_numbers_round_trip_exactly_and_types_map(self):
        self.load(TYPED_BODY, "--table", "typed")
        types = dict(self.q("SELECT column_name, data_type FROM information_schema.columns"
                            " WHERE table_name = 'typed'"))
        self.assertEqual(types, {"s": "text", "n": "numeric", "b": "boolean", "o": "jsonb",
                                 "u": "text", "_run_id": "bigint", "_row": "bigint"})
        for i, text in enumerate(EXACT):
            got = self.q("SELECT n = '%s'::numeric, n::text FROM typed WHERE _row = %d"
                         % (text, i))
            self.assertEqual(got[0][0], "t", (text, got))
        self.assertEqual(self.q("SELECT n::text FROM typed WHERE _row = 0"),
                         [("123456789012345678901234567890",)])
        self.assertEqual(self.q("SELECT s FROM typed WHERE _row = 0"),
                         [("tab\there\nnew \\ line \u00e9\u4e2d",)])
        self.assertEqual(self.q("SELECT b::text, o = '{\"k\": [1, 2.50, \"x\"]}'::jsonb,"
                                " o->'k'->>1, u FROM typed WHERE _row = 0"),
                         [("true", "t", "2.50", '[1, {"q": 2}]')])
        self.assertEqual(self.q("SELECT b::text, o IS NULL, u FROM typed WHERE _row = 1"),
                         [("false", "t", "t")])
        self.assertEqual(self.q("SELECT count(*) FROM _wf_rejects"), [("0",)])
        # The audit row: timestamptz and jsonb, as SPEC 16 says.
        cols = dict(self.q("SELECT column_name, data_type FROM information_schema.columns"
                           " WHERE table_name = '_wf_runs'"))
        self.assertEqual((cols["started_at"], cols["finished_at"], cols["heartbeat_at"]),
                         ("timestamp with time zone",) * 3)
        self.assertEqual((cols["variables"], cols["schema_json"]), ("jsonb", "jsonb"))
        run = self.q("SELECT status, rows_loaded, rows_reported, schema_json->1->>'id',"
                     " finished_at >= started_at FROM _wf_runs")
        self.assertEqual(run, [("loaded", "7", "7", "n", "t")])
        self.assertEqual(self.q("SELECT value FROM _wf_meta WHERE key = 'audit_schema_version'"),
                         [("2",)])
        self.assertEqual(self.q("SELECT count(*) FROM typed_latest"), [("7",)])

    def test_values_that_do_not_fit_are_null_and_kept_verbatim_in_rejects(self):
        r = self.load(REJECT_BODY, "--table", "rej")
        self.assertIn("7 values did not match their column type (stored as NULL, kept as they came in _wf_rejects)", r.err)
        rows = self.q("SELECT _row, n::text, b::text, s, o::text FROM rej ORDER BY _row")
        self.assertEqual(rows, [("0", None, None, None, '{"ok": true}'),
                                ("1", None, None, "7", None),
                                ("2", "5", "false", None, "[1]")])
        rej = self.q("SELECT _row, column_name, value FROM _wf_rejects")
        self.assertEqual(len(rej), 7, rej)
        self.assertIn(("0", "n", '"12"'), rej)
        self.assertIn(("0", "b", "1"), rej)
        self.assertIn(("0", "s", '{"a": 1}'), rej)
        self.assertIn(("1", "n", "true"), rej)
        self.assertIn(("1", "b", '"yes"'), rej)
        self.assertIn(("1", "o", '{"bad": "\\u0000"}'), rej)
        self.assertIn(("2", "s", '"fine\\u0000nul"'), rej)
        self.assertEqual(self.q("SELECT DISTINCT run_id FROM _wf_rejects"), [("1",)])

    def test_keys_beyond_the_schema_become_columns_during_copy(self):
        body = json.dumps({"schema": [{"id": "a", "type": "number"}],
                           "data": [{"a": 1}, {"a": 2, "x": "new"}, {"a": 3, "y": {"j": 1}}]})
        r = self.load(body, "--table", "grow")
        self.assertIn("'x'", r.err)
        self.assertEqual(self.q("SELECT a, x, y::text FROM grow ORDER BY _row"),
                         [("1", None, None), ("2", "new", None), ("3", None, '{"j": 1}')])

    def test_data_before_schema_and_no_schema_load_the_same_rows(self):
        body = ('{"data": [{"n": 1.50, "o": {"a": 1}, "s": "x"}, {"n": 7, "o": [2], "s": "y"}],'
                ' "schema": [{"id": "n", "type": "number"}, {"id": "o", "type": "object"},'
                ' {"id": "s", "type": "string"}], "start": 0, "end": 2}')
        self.load(body, "--table", "df")
        self.assertEqual(self.q("SELECT n::text, o::text, s FROM df ORDER BY _row"),
                         [("1.50", '{"a": 1}', "x"), ("7", "[2]", "y")])
        self.assertEqual(self.q("SELECT data_type FROM information_schema.columns WHERE"
                                " table_name = 'df' AND column_name = 'o'"), [("jsonb",)])
        r = self.load('{"data": [{"n": 2.25, "b": true, "t": "z"}]}', "--table", "ns")
        self.assertIn("no schema", r.err)
        self.assertEqual(self.q("SELECT n::text, b::text, t FROM ns"), [("2.25", "true", "z")])

class Upsert(PgCase):
    """--mode upsert --key on PostgreSQL (SPEC 15): what test_upsert.py asks
    of SQLite."""

    def upsert(self, rows, key="id", schema=None, table="t", rc=0):
        import test_upsert as tu
        return self.load(tu.body(rows, schema or tu.SCHEMA), "--table", table, "--mode",
                         "upsert", "--key", key, rc=rc)

    def test_latest_values_last_writer_and_repeated_keys(self):
        import test_upsert as tu
        extra = tu.SCHEMA + [{"id": "note", "type": "string"}]
        self.upsert([{"id": 1, "name": "a", "score": 1, "note": "n1"},
                     {"id": 2, "name": "b", "score": 2, "note": "n2"},
                     {"id": 3, "name": "c", "score": 3}], schema=extra)
        # id 2 changes (score missing: NULL), id 4 new, id 4 repeated (last
        # wins); note is not in this result's schema: rows keep theirs.
        r = self.upsert([{"id": 2, "name": "B"}, {"id": 4, "name": "x", "score": 0},
                         {"id": 4, "name": "d", "score": 4}])
        self.assertIn("1 row repeated the key", r.err)
        self.assertEqual(self.q("SELECT id, name, score, note, _run_id, _row FROM t ORDER BY id"),
                         [("1", "a", "1", "n1", "1", "0"), ("2", "B", None, "n2", "2", "0"),
                          ("3", "c", "3", None, "1", "2"), ("4", "d", "4", None, "2", "2")])
        self.assertEqual(self.q("SELECT mode, status, rows_loaded FROM _wf_runs ORDER BY run_id"),
                         [("upsert", "loaded", "3"), ("upsert", "loaded", "3")])
        self.assertEqual(self.q("SELECT indexdef LIKE '%UNIQUE%(id)' FROM pg_indexes"
                                " WHERE indexname = 't__key'"), [("t",)])
        # The key is fixed by the first upsert; appending is refused too.
        r = self.upsert([{"id": 1, "name": "a"}], key="name", rc=2)
        self.assertIn("keyed by id", r.err)
        r = self.load(tu.body([{"id": 1}]), "--table", "t", rc=2)
        self.assertIn("keeps one row per key", r.err)
        self.assertEqual(self.q("SELECT count(*) FROM _wf_runs"), [("2",)])
        # A replace keeps the key index.
        self.load(tu.body([{"id": 5}]), "--table", "t", "--mode", "replace")
        self.assertEqual(self.q("SELECT count(*) FROM pg_indexes WHERE indexname = 't__key'"),
                         [("1",)])

    def test_key_names_match_columns_as_on_sqlite(self):
        # --key ID names the column id (the exact name first, else the only
        # one equal ignoring case), as SQLite resolves it: the first upsert
        # keys the table by id, a later --key id or Id is that key.
        import test_upsert as tu
        sqlite_db = os.path.join(self.dir, "same.db")
        for rows, key in (([{"id": 1, "name": "a"}], "ID"),
                          ([{"id": 1, "name": "b"}, {"id": 2, "name": "c"}], "id"),
                          ([{"id": 2, "name": "C"}], "Id")):
            self.upsert(rows, key=key)
            r = run_wf(["load", "-", "--db", sqlite_db, "--table", "t", "--mode", "upsert",
                        "--key", key], env=pg_env(), input=tu.body(rows), cwd=self.dir)
            self.assertEqual(r.rc, 0, repr(r))
        self.assertEqual(self.q("SELECT id, name, _run_id FROM t ORDER BY id"),
                         [("1", "b", "2"), ("2", "C", "3")])
        lite = run_wf(["diff", "1", "3", "--table", "t", "--db", sqlite_db, "--key", "ID"],
                      env=pg_env())
        pg = run_wf(["diff", "1", "3", "--table", "t", "--db", self.uri, "--key", "ID"],
                    env=pg_env())
        self.assertEqual((pg.rc, pg.out), (lite.rc, lite.out))
        self.assertEqual(self.q("SELECT indexdef LIKE '%UNIQUE%(id)' FROM pg_indexes"
                                " WHERE indexname = 't__key'"), [("t",)])

    def test_sigkill_mid_upsert_leaves_the_table_as_before_and_resume_loads_it_once(self):
        # Run 1 upserts 200 rows; run 2's 3,000 rows (other values for ids
        # 0..199) trickle in (8 KiB every 40 ms, about 2.5 s) and it is
        # killed while its COPY into the staging table is going on.
        gen = {"rows": 3000, "shape": "bench8", "seed": 1}
        scen = {"workflows": {
            "first": {"session_id": "first-s", "cards": [{"id": "c1", "ms": 10}],
                      "generate": {"rows": 200, "shape": "bench8"}},
            "up": {"session_id": "up-s", "cards": [{"id": "c1", "ms": 10}], "generate": gen}},
            "faults": [{"endpoint": "result", "workflow": "up", "kind": "slow",
                        "chunk_bytes": 8192, "delay_ms": 40, "times": 1}]}
        table = "SELECT * FROM k ORDER BY id"
        with Emu(scen) as emu:
            env = pg_env(emu)
            args = ["--db", self.uri, "--table", "k", "--mode", "upsert", "--key", "id", "-q"]
            r = run_wf(["run", "first"] + args, env=env)
            self.assertEqual(r.rc, 0, repr(r))
            before = self.q(table)
            self.assertEqual(len(before), 200)
            p = spawn_wf(["run", "up"] + args, env=env)
            deadline = time.time() + 30
            copying = False
            while time.time() < deadline and p.poll() is None and not copying:
                copying = bool(self.q(
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = 'wf2sqlite'"
                    " AND state = 'active' AND query LIKE 'COPY pg_temp.\"_wf_upsert_stage\"%'"))
                time.sleep(0.02)
            self.assertTrue(copying, "never saw the upsert's COPY")
            time.sleep(0.2)
            self.assertIsNone(p.poll(), "the load ended before the kill")
            p.send_signal(signal.SIGKILL)
            p.communicate()
            self.assertEqual(p.returncode, -signal.SIGKILL)
            # The server ends the dead client's transaction: none of its rows.
            deadline = time.time() + 10
            while time.time() < deadline and self.q(
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = 'wf2sqlite'"):
                time.sleep(0.05)
            self.assertEqual(self.q(table), before)
            self.assertEqual(self.q("SELECT run_id, status, rows_loaded FROM _wf_runs"
                                    " ORDER BY run_id"),
                             [("1", "loaded", "200"), ("2", "running", None)])
            r = run_wf(["resume", "--db", self.uri], env=env, timeout=60)
            self.assertEqual(r.rc, 0, repr(r))
            self.assertNotIn("repeated the key", r.err)
        self.assertEqual(self.q("SELECT run_id, status, rows_loaded FROM _wf_runs"
                                " ORDER BY run_id"),
                         [("1", "loaded", "200"), ("2", "loaded", "3000")])
        self.assertEqual(self.q("SELECT count(*), count(DISTINCT id), count(DISTINCT _row),"
                                " min(_run_id), max(_run_id), min(id), max(id) FROM k"),
                         [("3000", "3000", "3000", "2", "2", "0", "2999")])
        # Run 2's values replaced run 1's for the ids both had.
        self.assertNotEqual(self.q(table + " LIMIT 200"), before)

    def test_null_or_missing_key_fails_with_nothing_loaded(self):
        self.upsert([{"id": 1, "name": "a", "score": 1}])
        for rows in ([{"id": 2, "name": "b"}, {"name": "no key"}],
                     [{"id": 2, "name": "b"}, {"id": None, "name": "null key"}]):
            r = self.upsert(rows, rc=9)
            self.assertIn("the row at index 1 of the result has no key", r.err)
        r = self.upsert([{"name": "x"}], schema=[{"id": "name", "type": "string"}], rc=9)
        self.assertIn("no column id", r.err)
        self.assertEqual(self.q("SELECT id, name FROM t"), [("1", "a")])
        self.assertEqual(self.q("SELECT status, exit_code FROM _wf_runs WHERE run_id > 1"),
                         [("failed", "9")] * 3)
        # Earlier appends that share a key: the table cannot be keyed by it.
        import test_upsert as tu
        self.load(tu.body([{"id": 1}]), "--table", "h")
        self.load(tu.body([{"id": 1}]), "--table", "h")
        r = self.upsert([{"id": 1}], table="h", rc=2)
        self.assertIn("share a key", r.err)


class Diff(PgCase):
    """`diff` says on PostgreSQL exactly what it says on SQLite for the same
    loads (tests/e2e/test_diff.py's runs: 1 vs 1.0 equal, a changed name,
    duplicate keys, rows added twice; then a column only in the third run)."""

    def test_diff_output_is_the_same_as_on_sqlite(self):
        import test_diff as td
        extra = td.SCHEMA + [{"id": "note", "type": "string"}]
        rows_c = [dict(r, note="n%d" % r["id"]) for r in td.ROWS_B[:3]]
        sqlite_db = os.path.join(self.dir, "same.db")
        for rows, schema in ((td.ROWS_A, td.SCHEMA), (td.ROWS_B, td.SCHEMA), (rows_c, extra)):
            b = td.body(rows, schema)
            self.load(b, "--table", "t", "-q")
            r = run_wf(["load", "-", "--db", sqlite_db, "--table", "t", "-q"], env=pg_env(),
                       input=b, cwd=self.dir)
            self.assertEqual(r.rc, 0, repr(r))
        for args in ([], ["--key", "id"], ["--json"], ["--key", "id", "--json"],
                     ["1", "3", "--key", "id", "--json"], ["1", "3"]):
            pg = run_wf(["diff", "--table", "t", "--db", self.uri] + args, env=pg_env())
            lite = run_wf(["diff", "--table", "t", "--db", sqlite_db] + args, env=pg_env())
            self.assertEqual(pg.rc, lite.rc, (args, pg, lite))
            if "--json" in args:
                jp, jl = json.loads(pg.out), json.loads(lite.out)
                self.assertEqual(jp.pop("database"), self.uri)
                jl.pop("database")
                self.assertEqual(jp, jl, args)
                j = jp
            else:
                self.assertEqual(pg.out, lite.out, args)
        # The last --json (runs 1 and 3): the column only in run 3 says so.
        self.assertEqual((j["run_a"], j["run_b"], j["summary"]["changed"], j["columns_added"]),
                         (1, 3, 2, ["note"]), j)
        pg = run_wf(["diff", "--table", "t", "--db", self.uri, "1", "2", "--key", "id"],
                    env=pg_env())
        self.assertIn("0 added, 1 removed, 1 changed, 1 unchanged, 2 duplicate keys",
                      pg.out.splitlines()[0])
        self.assertIn("2\tname\tb\tB", pg.out.splitlines())
        r = run_wf(["diff", "--table", "nope", "--db", self.uri], env=pg_env())
        self.assertEqual(r.rc, 2, repr(r))
        self.assertIn("no table nope", r.err)

    def test_key_names_match_columns_as_on_sqlite(self):
        # --key ID names the column id on both engines (SQLite's names ignore
        # ASCII case): the same output, the table's spelling in it.
        import test_diff as td
        sqlite_db = os.path.join(self.dir, "same.db")
        for rows in (td.ROWS_A, td.ROWS_B):
            self.load(td.body(rows), "--table", "t", "-q")
            r = run_wf(["load", "-", "--db", sqlite_db, "--table", "t", "-q"], env=pg_env(),
                       input=td.body(rows), cwd=self.dir)
            self.assertEqual(r.rc, 0, repr(r))
        for fmt in ([], ["--json"], ["--csv"]):
            outs = [run_wf(["diff", "--table", "t", "--db", db, "--key", key] + fmt,
                           env=pg_env()) for db in (self.uri, sqlite_db) for key in ("ID", "id")]
            self.assertEqual([o.rc for o in outs], [0] * 4, outs)
            if fmt == ["--json"]:
                for o in outs[:2]:
                    self.assertEqual(json.loads(o.out).pop("database"), self.uri)
                outs = [json.dumps(dict(json.loads(o.out), database=None)) for o in outs]
            else:
                outs = [o.out for o in outs]
            self.assertEqual(outs[1:], outs[:1] * 3, fmt)
            if not fmt:
                self.assertIn("0 added, 1 removed, 1 changed, 1 unchanged, 2 duplicate keys",
                              outs[0].splitlines()[0])
                self.assertIn("id\tcolumn\told\tnew", outs[0].splitlines())
        # A second column that differs from id only in case: ID and id are
        # each exact; Id names neither (exit 2 naming both), for diff and for
        # an upsert alike.
        self.q('ALTER TABLE t ADD COLUMN "ID" numeric')
        r = run_wf(["diff", "--table", "t", "--db", self.uri, "--key", "Id"], env=pg_env())
        self.assertEqual(r.rc, 2, repr(r))
        self.assertIn("--key Id: table t has the columns id and ID", r.err)
        r = run_wf(["diff", "--table", "t", "--db", self.uri, "--key", "ID"], env=pg_env())
        self.assertEqual(r.rc, 0, repr(r))
        self.assertTrue(r.out.splitlines()[0].endswith(", 1 duplicate key"), r.out)
        r = self.load(td.body(td.ROWS_B), "--table", "t", "--mode", "upsert", "--key", "iD",
                      rc=2)
        self.assertIn("--key iD: table t has the columns id and ID", r.err)
        self.assertEqual(self.q("SELECT count(*) FROM _wf_runs"), [("2",)])

    def test_append_keeps_history_and_latest_view_shows_newest(self):
        self.load(TYPED_BODY, "--table", "h")
        self.load(REJECT_BODY, "--table", "h")
        self.assertEqual(self.q("SELECT _run_id, count(*) FROM h GROUP BY 1 ORDER BY 1"),
                         [("1", "7"), ("2", "3")])
        self.assertEqual(self.q("SELECT DISTINCT _run_id FROM h_latest"), [("2",)])
        idx = self.q("SELECT indexdef FROM pg_indexes WHERE tablename = 'h'")
        self.assertTrue(any("_run_id" in i[0] for i in idx), idx)

    def test_schema_qualified_table_is_created_in_its_schema(self):
        self.load(TYPED_BODY, "--table", "arch.typed")
        self.assertEqual(self.q("SELECT count(*) FROM arch.typed"), [("7",)])
        self.assertEqual(self.q("SELECT count(*) FROM arch.typed_latest"), [("7",)])
        self.assertEqual(self.q("SELECT table_name FROM _wf_runs"), [("arch.typed",)])

    def test_mode_fail_and_hostile_body_leave_the_archive_as_it_was(self):
        self.load(TYPED_BODY, "--table", "f")
        r = self.load(TYPED_BODY, "--table", "f", "--mode", "fail", rc=7)
        self.assertIn("--mode fail", r.err)
        r = self.load('{"schema": [{"id": "n", "type": "number"}], "data": [{"n": 1}, [NaN]]}',
                      "--table", "f", rc=9)
        self.assertEqual(self.q("SELECT count(*) FROM f"), [("7",)])
        self.assertEqual(self.q("SELECT count(*) FROM _wf_runs WHERE status = 'loaded'"),
                         [("1",)])
        self.assertNotIn(("loaded",), self.q("SELECT status FROM _wf_runs WHERE run_id > 1"))


class Commands(PgCase):
    def scenario(self):
        return {"workflows": {
            "w": workflow("w-s", cards_ms=(30,)),
            "big": {"session_id": "big-s", "cards": [{"id": "c1", "ms": 20}],
                    "generate": {"rows": 150000, "shape": "bench8"}},
            "slow": workflow("slow-s", cards_ms=(1500,)),
        }}

    def test_run_attach_resume_runs_and_dry_run_work_on_postgres(self):
        with Emu(self.scenario()) as emu:
            env = pg_env(emu)
            r = run_wf(["run", "w", "--db", self.uri, "-v", "region=emea", "--json"], env=env)
            self.assertEqual(r.rc, 0, repr(r))
            out = json.loads(r.out)
            self.assertEqual(out["status"], "loaded")
            self.assertEqual(self.q("SELECT count(*) FROM wf_w"), [("5",)])
            self.assertEqual(self.q("SELECT variables->>'region', status, exit_code, hostname"
                                    " IS NOT NULL FROM _wf_runs"), [("emea", "loaded", "0", "t")])
            # the same session again: already loaded, exit 0, nothing added
            r = run_wf(["attach", "w-s", "--db", self.uri, "--table", "wf_w"], env=env)
            self.assertEqual(r.rc, 0, repr(r))
            self.assertIn("already", r.err + r.out)
            self.assertEqual(self.q("SELECT count(*) FROM wf_w"), [("5",)])
            # --no-wait then resume
            r = run_wf(["run", "slow", "--db", self.uri, "--no-wait"], env=env)
            self.assertEqual(r.rc, 0, repr(r))
            r = run_wf(["resume", "--db", self.uri, "--dry-run"], env=env)
            self.assertEqual(r.rc, 0, repr(r))
            r = run_wf(["resume", "--db", self.uri], env=env)
            self.assertEqual(r.rc, 0, repr(r))
            self.assertEqual(self.q("SELECT status FROM _wf_runs WHERE session_id = 'slow-s'"),
                             [("loaded",)])
            r = run_wf(["runs", "--db", self.uri, "--json"], env=env)
            self.assertEqual(r.rc, 0, repr(r))
            runs = json.loads(r.out)
            self.assertEqual([x["status"] for x in runs], ["loaded", "loaded"])
            self.assertRegex(runs[0]["started_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_resume_judges_a_run_of_another_machine_by_its_heartbeat(self):
        with Emu(self.scenario()) as emu:
            env = pg_env(emu)
            r = run_wf(["run", "slow", "--db", self.uri, "--no-wait"], env=env)
            self.assertEqual(r.rc, 0, repr(r))
            PG.psql(self.db, "UPDATE _wf_runs SET hostname = 'another-machine', pid = 1,"
                    " heartbeat_at = now() - interval '20 seconds'")
            for args in (["resume", "--db", self.uri],
                         ["resume", "--db", self.uri, "--stale", "1m"]):
                r = run_wf(args, env=env)
                self.assertEqual(r.rc, 0, repr(r))
                self.assertEqual(self.q("SELECT status, hostname FROM _wf_runs"),
                                 [("running", "another-machine")])
            r = run_wf(["resume", "--db", self.uri, "--stale", "10s"], env=env)
            self.assertEqual(r.rc, 0, repr(r))
            self.assertEqual(self.q("SELECT status, hostname = 'another-machine', run_id"
                                    " FROM _wf_runs"), [("loaded", "f", "1")])
            self.assertEqual(self.q("SELECT count(*) FROM wf_slow"), [("5",)])
            r = run_wf(["resume", "--db", self.uri, "--stale", "0"], env=env)
            self.assertEqual(r.rc, 2, repr(r))

    def test_batch_runs_each_set_into_postgres_and_records_the_batch(self):
        with Emu(self.scenario()) as emu:
            env = pg_env(emu)
            matrix = '{"region": "emea"}\n\n{"region": "apac"}\n{"region": "amer"}\n'
            r = run_wf(["batch", "w", "--matrix", "-", "--db", self.uri, "--table", "bt",
                        "--parallel", "2"], env=env, input=matrix)
            self.assertEqual(r.rc, 0, repr(r))
            self.assertEqual(self.q("SELECT batch_index, variables->>'region', status FROM"
                                    " _wf_runs ORDER BY batch_index"),
                             [("0", "emea", "loaded"), ("1", "apac", "loaded"),
                              ("2", "amer", "loaded")])
            self.assertEqual(self.q("SELECT status, total, finished_at IS NOT NULL,"
                                    " matrix_sha256 <> '' FROM _wf_batches"),
                             [("done", "3", "t", "t")])
            self.assertEqual(self.q("SELECT count(DISTINCT batch_id) FROM _wf_runs"), [("1",)])

    def test_a_continue_while_the_batch_runs_starts_no_set_twice(self):
        # The set's check and its run are one transaction under an advisory
        # lock: of the batch and a --continue of it, one starts each set.
        sc = self.scenario()
        sc["workflows"]["w"]["variants"] = {"variable": "case", "workflows": {"slow": "slow"}}
        with Emu(sc) as emu:
            env = pg_env(emu)
            matrix = "".join('{"case": "%s"}\n' % c for c in ("slow", "a", "b", "c"))
            p = spawn_wf(["batch", "w", "--matrix", "-", "--db", self.uri, "--table", "bt",
                          "--parallel", "1"], env=env, stdin=subprocess.PIPE)
            p.stdin.write(matrix)
            p.stdin.close()
            deadline = time.time() + 10
            while not [q for q in emu.requests() if q["method"] == "POST"] and \
                    time.time() < deadline:
                time.sleep(0.05)
            r = run_wf(["batch", "--continue", "1", "--db", self.uri, "--parallel", "2"],
                       env=env)
            p.wait(timeout=30)
            err = p.stderr.read()
            p.stdout.close()
            p.stderr.close()
            self.assertIn(p.returncode, (0, 2), err)
            self.assertIn(r.rc, (0, 2), repr(r))
            cases = [json.loads(q["body"])["variables"]["case"] for q in emu.requests()
                     if q["method"] == "POST"]
            self.assertEqual(sorted(cases), ["a", "b", "c", "slow"])
            self.assertEqual(self.q("SELECT batch_index, count(*) FROM _wf_runs WHERE"
                                    " status = 'loaded' GROUP BY 1 ORDER BY 1"),
                             [(str(i), "1") for i in range(4)])
            self.assertEqual(self.q("SELECT count(*), count(DISTINCT _run_id) FROM bt"),
                             [("20", "4")])

    def test_refused_connection_is_exit_7_with_the_servers_words(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        uri = "postgresql://wf@127.0.0.1:%d/nowhere" % port
        with Emu(self.scenario()) as emu:
            r = run_wf(["run", "w", "--db", uri], env=pg_env(emu))
            self.assertEqual(r.rc, 7, repr(r))
            self.assertIn("Connection refused", r.err)
            self.assertIn("nowhere on 127.0.0.1:%d" % port, r.err)
            self.assertEqual(emu.requests(), [])  # nothing started that cannot be saved

    def test_permission_denied_is_exit_7_before_anything_starts(self):
        PG.psql(self.db, "CREATE ROLE reader LOGIN; GRANT CONNECT ON DATABASE %s TO reader;"
                % self.db)
        self.load(TYPED_BODY, "--table", "t")  # the audit tables exist, owned by wf
        uri = PG.uri(self.db, user="reader")
        with Emu(self.scenario()) as emu:
            r = run_wf(["run", "w", "--db", uri, "--table", "t"], env=pg_env(emu))
            self.assertEqual(r.rc, 7, repr(r))
            self.assertIn("permission denied", r.err)
            self.assertEqual(self.calls(emu, "run"), [])

    def test_password_from_pgpassword_and_pgpass_never_leaks(self):
        secret = PgServer.PASSWORD
        uri = PG.uri(self.db, tcp=True)
        with Emu(self.scenario()) as emu:
            # without a password: the server's refusal, exit 7
            r = run_wf(["run", "w", "--db", uri], env=pg_env(emu, {"PGPASSFILE": os.devnull}))
            self.assertEqual(r.rc, 7, repr(r))
            self.assertIn("password", r.err)
            env = pg_env(emu, {"PGPASSWORD": secret})
            p = spawn_wf(["run", "slow", "--db", uri, "--verbose"], env=env)
            seen = []
            deadline = time.time() + 20
            while p.poll() is None and time.time() < deadline:
                for pid in os.listdir("/proc"):
                    if pid.isdigit():
                        try:
                            with open("/proc/%s/cmdline" % pid, "rb") as f:
                                seen.append(f.read())
                        except OSError:
                            pass
                time.sleep(0.1)
            out, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0, out + err)
            self.assertFalse([c for c in seen if secret.encode() in c])
            self.assertNotIn(secret, out + err)
            self.assertIn("slow", out + err)
            pgpass = os.path.join(self.dir, "pgpass")
            with open(pgpass, "w") as f:
                f.write("127.0.0.1:%d:*:wf:%s\n" % (PG.port, secret))
            os.chmod(pgpass, 0o600)
            r = run_wf(["run", "w", "--db", uri, "--verbose"],
                       env=pg_env(emu, {"PGPASSFILE": pgpass}))
            self.assertEqual(r.rc, 0, repr(r))
            self.assertNotIn(secret, r.out + r.err)
        dump = subprocess.run([os.path.join(os.path.dirname(PSQL), "pg_dump"), "-h", PG.sock,
                               "-p", str(PG.port), "-U", PG.USER, self.db],
                              capture_output=True, text=True)
        self.assertEqual(dump.returncode, 0, dump.stderr)
        self.assertIn("slow-s", dump.stdout)
        self.assertNotIn(secret, dump.stdout)
        self.assertNotIn(API_KEY, dump.stdout)

    def test_sigkill_during_copy_leaves_no_half_run_and_resume_loads_it(self):
        with Emu(self.scenario()) as emu:
            env = pg_env(emu)
            p = spawn_wf(["run", "big", "--db", self.uri, "--table", "k"], env=env)
            deadline = time.time() + 60
            copying = False
            while time.time() < deadline and p.poll() is None and not copying:
                copying = bool(self.q("SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY %%'"
                                      " AND application_name = 'wf2sqlite' AND state = 'active'"))
                time.sleep(0.02)
            self.assertTrue(copying, "never saw the COPY")
            time.sleep(0.2)
            p.send_signal(signal.SIGKILL)
            p.communicate()
            # The server ends the dead client's transaction: none of its rows.
            deadline = time.time() + 10
            while time.time() < deadline and self.q(
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = 'wf2sqlite'"):
                time.sleep(0.05)
            self.assertEqual(self.q("SELECT to_regclass('k') IS NULL"), [("t",)])
            self.assertEqual(self.q("SELECT status FROM _wf_runs"), [("running",)])
            r = run_wf(["resume", "--db", self.uri], env=env, timeout=120)
            self.assertEqual(r.rc, 0, repr(r))
            self.assertEqual(self.q("SELECT count(*), count(DISTINCT _row) FROM k"),
                             [("150000", "150000")])
            self.assertEqual(self.q("SELECT run_id, status FROM _wf_runs"), [("1", "loaded")])

    def test_two_racing_processes_load_a_session_once(self):
        with Emu(self.scenario()) as emu:
            env = pg_env(emu)
            r = run_wf(["run", "slow", "--db", self.uri, "--no-wait", "--table", "race"], env=env)
            self.assertEqual(r.rc, 0, repr(r))
            procs = [spawn_wf(["attach", "slow-s", "--db", self.uri, "--table", "race"],
                              env=env) for _ in range(2)]
            outs = [p.communicate(timeout=60) for p in procs]
            self.assertEqual([p.returncode for p in procs], [0, 0], outs)
            self.assertEqual(self.q("SELECT count(*) FROM race"), [("5",)])
            self.assertEqual(self.q("SELECT count(*) FROM _wf_runs WHERE status = 'loaded'"),
                             [("1",)])

    def test_loads_racing_into_a_new_table_take_turns(self):
        bodies = [json.dumps({"schema": [{"id": "v", "type": "number"},
                                         {"id": "k%d" % i, "type": "string"}],
                              "data": [{"v": j, "k%d" % i: "x"} for j in range(2000)]})
                  for i in range(4)]
        procs = [subprocess.Popen([WF2SQLITE, "load", "-", "--db", self.uri, "--table", "new"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=pg_env())
                 for _ in bodies]
        outs = [p.communicate(b, timeout=120) for p, b in zip(procs, bodies)]
        self.assertEqual([p.returncode for p in procs], [0] * 4, outs)
        self.assertEqual(self.q("SELECT count(*), count(DISTINCT _run_id) FROM new"),
                         [("8000", "4")])
        self.assertEqual(self.q("SELECT count(*) FROM information_schema.columns"
                                " WHERE table_name = 'new' AND column_name LIKE 'k%'"), [("4",)])

    def test_replace_is_seen_old_or_new_never_empty(self):
        small = json.dumps({"schema": [{"id": "v", "type": "number"}],
                            "data": [{"v": i} for i in range(300)]})
        large = json.dumps({"schema": [{"id": "v", "type": "number"}],
                            "data": [{"v": i} for i in range(20000)]})
        self.load(small, "--table", "rep")
        seen, errors, stop = set(), [], threading.Event()

        def reader():
            cmd = [PSQL, "-X", "-At", "-h", PG.sock, "-p", str(PG.port), "-U", PG.USER, "-d",
                   self.db]
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, bufsize=1)
            while not stop.is_set():
                p.stdin.write("SELECT count(*) FROM rep;\n")
                p.stdin.flush()
                line = p.stdout.readline().strip()
                if not line.isdigit():
                    errors.append(line)
                    break
                seen.add(int(line))
            p.stdin.close()
            errors.append(p.stderr.read().strip() or None)
            p.wait()
            p.stdout.close()
            p.stderr.close()

        t = threading.Thread(target=reader)
        t.start()
        try:
            for body in (large, small, large, small):
                self.load(body, "--table", "rep", "--mode", "replace")
        finally:
            stop.set()
            t.join(30)
        self.assertEqual([e for e in errors if e], [])
        self.assertTrue(seen <= {300, 20000}, seen)
        self.assertEqual(self.q("SELECT count(*) FROM rep"), [("300",)])


if __name__ == "__main__":
    unittest.main()

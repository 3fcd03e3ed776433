"""`wf2sqlite load`: a saved result body into SQLite (SPEC sections 5, 6, 7)."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import wfharness  # noqa: E402
from wfharness import (WfTestCase, db_query, db_runs, drops_privileges, run_wf,  # noqa: E402
                       spawn_wf, wf_env)


def body(rows, schema=None, total=None, start=None, end=None, data_first=False, execution=12):
    """A result body as the API sends it; keys in the order asked for."""
    parts = []
    data = ('"data": ' + json.dumps(rows)) if rows is not None else None
    sch = ('"schema": ' + json.dumps(schema)) if schema is not None else None
    order = [data, sch] if data_first else [sch, data]
    parts += [p for p in order if p]
    n = len(rows) if rows is not None else 0
    parts.append('"start": %d' % (0 if start is None else start))
    parts.append('"end": %d' % (n if end is None else end))
    parts.append('"result": {"summary": {"totalNumberOfRows": %d, "executionDurationMillis": %d}}'
                 % (n if total is None else total, execution))
    return "{" + ", ".join(parts) + "}"


SALES_SCHEMA = [
    {"id": "region", "header": "Region", "type": "string"},
    {"id": "amount", "header": "Amount", "type": "number"},
    {"id": "paid", "header": "Paid?", "type": "boolean"},
]


def sales_rows(n, offset=0):
    return [{"region": "r%d" % (i + offset), "amount": i + offset, "paid": i % 2 == 0}
            for i in range(n)]


class LoadTestBase(WfTestCase):
    def setUp(self):
        super().setUp()
        self.db = self.path("t.db")

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
        return p

    def load(self, text_or_path, *args, rc=0):
        p = text_or_path
        if not os.path.exists(str(p)):
            p = self.write("body-%d.json" % time.monotonic_ns(), text_or_path)
        r = run_wf(["load", p, "--db", self.db] + list(args), env=wf_env())
        self.assertRc(r, rc)
        return r

    def q(self, sql, params=()):
        return db_query(self.db, sql, params)

    def runs(self):
        return db_runs(self.db)

    def assertIntegrity(self):
        self.assertEqual(self.q("PRAGMA integrity_check"), [("ok",)])


class TestTypes(LoadTestBase):
    def test_values_keep_their_types_and_declared_types_follow_the_schema(self):
        schema = [
            {"id": "s", "type": "string"}, {"id": "n", "type": "number"},
            {"id": "b", "type": "boolean"}, {"id": "o", "type": "object"},
            {"id": "nothing", "type": "string"},
        ]
        # Raw text: Python's json would not write integers beyond 64 bits as we want.
        text = ('{"schema": %s, "data": ['
                '{"s": "a\\u0000b", "n": 42, "b": true, "o": {"k": [1, 2, {"x": "y"}]}},'
                '{"s": "é€", "n": 2.5, "b": false, "o": [1, "two"]},'
                '{"s": "big", "n": 18446744073709551616, "b": null, "o": null},'
                '{"s": "neg", "n": -99999999999999999999999, "b": true},'
                '{"s": "max", "n": 9223372036854775807, "b": false}'
                '], "start": 0, "end": 5, "result": {"summary": {"totalNumberOfRows": 5}}}'
                % json.dumps(schema))
        r = self.load(text, "--table", "typed", "--json")
        out = r.json()
        self.assertEqual(out["status"], "loaded")
        self.assertEqual(out["rows_loaded"], 5)
        decl = {name: t for _, name, t, *_ in self.q("PRAGMA table_info(typed)")}
        self.assertEqual(decl["s"], "TEXT")
        self.assertEqual(decl["n"], "NUMERIC")
        self.assertEqual(decl["b"], "INTEGER")
        self.assertEqual(decl["o"], "TEXT")
        # Every schema column exists even though all its values are null.
        self.assertEqual(decl["nothing"], "TEXT")
        self.assertEqual(decl["_run_id"], "INTEGER")
        self.assertEqual(decl["_row"], "INTEGER")
        rows = self.q("SELECT s, typeof(s), n, typeof(n), b, typeof(b), o FROM typed ORDER BY _row")
        self.assertEqual(rows[0][:6], ("a\x00b", "text", 42, "integer", 1, "integer"))
        self.assertEqual(rows[1][:6], ("é€", "text", 2.5, "real", 0, "integer"))
        # Beyond 64 bits: REAL, never clamped to INT64_MAX.
        self.assertEqual(rows[2][3], "real")
        self.assertEqual(rows[2][2], 18446744073709551616.0)
        self.assertEqual(rows[3][3], "real")
        self.assertLess(rows[3][2], -9.9e22)
        self.assertEqual(rows[4][2:4], (9223372036854775807, "integer"))
        self.assertEqual(rows[2][5], "null")
        # NUL kept: bound with its length.
        self.assertEqual(self.q("SELECT length(CAST(s AS BLOB)) FROM typed WHERE _row = 0"), [(3,)])
        # Nested JSON is usable with json_extract.
        self.assertEqual(self.q("SELECT json_extract(o, '$.k[2].x') FROM typed WHERE _row = 0"),
                         [("y",)])
        self.assertEqual(self.q("SELECT json_extract(o, '$[1]') FROM typed WHERE _row = 1"),
                         [("two",)])
        self.assertEqual(self.q("SELECT count(*) FROM typed WHERE _run_id = ?", (out["run_id"],)),
                         [(5,)])
        self.assertIntegrity()

    def test_a_value_of_another_type_is_stored_as_it_is_and_counted(self):
        schema = [{"id": "n", "type": "number"}, {"id": "s", "type": "string"}]
        rows = [{"n": "not a number", "s": "x"}, {"n": 1, "s": 5}, {"n": 2, "s": "y"}]
        r = self.load(body(rows, schema), "--table", "mixed")
        self.assertIn("2 values did not match their column type", r.err)
        self.assertEqual(self.q("SELECT n, typeof(n) FROM mixed WHERE _row = 0"),
                         [("not a number", "text")])

    def test_array_rows_map_by_position(self):
        schema = [{"id": "a", "type": "string"}, {"id": "b", "type": "number"}]
        text = body([["x", 1], ["y", 2], ["z", 3, "extra"]], schema)
        self.load(text, "--table", "arr")
        self.assertEqual(self.q("SELECT a, b, col_3 FROM arr ORDER BY _row"),
                         [("x", 1, None), ("y", 2, None), ("z", 3, "extra")])
        self.assertEqual(self.q("SELECT position FROM _wf_columns WHERE column_name = 'col_3'"),
                         [(2,)])

    def test_a_key_appearing_late_adds_a_column_mid_load(self):
        rows = sales_rows(3000)
        rows[2500]["late"] = "here"
        rows[2999]["late"] = "again"
        self.load(body(rows, SALES_SCHEMA), "--table", "late")
        self.assertEqual(self.q("SELECT count(*), count(late) FROM late"), [(3000, 2)])
        self.assertEqual(self.q("SELECT _row, late FROM late WHERE late IS NOT NULL ORDER BY _row"),
                         [(2500, "here"), (2999, "again")])
        self.assertEqual(self.q("SELECT sum(amount) FROM late"), [(sum(range(3000)),)])


class TestNames(LoadTestBase):
    def test_clashing_and_empty_ids_get_distinct_names_recorded_in_wf_columns(self):
        schema = [
            {"id": "name", "header": "Name", "type": "string"},
            {"id": "Name", "header": "Name again", "type": "string"},
            {"id": "", "header": "No id", "type": "number"},
            {"id": "_run_id", "header": "clashes with meta", "type": "number"},
            {"id": 'we"ird name; DROP TABLE x', "type": "string"},
        ]
        rows = [{"name": "a", "Name": "b", "": 3, "_run_id": 99, 'we"ird name; DROP TABLE x': "w"}]
        r = self.load(body(rows, schema), "--table", "names", "--json")
        run_id = r.json()["run_id"]
        cols = self.q("SELECT position, column_name, source_id, header, source_type, sql_type "
                      "FROM _wf_columns WHERE run_id = ? ORDER BY position", (run_id,))
        self.assertEqual([c[2] for c in cols], [f["id"] for f in schema])
        self.assertEqual([c[3] for c in cols], [f.get("header") for f in schema])
        names = [c[1] for c in cols]
        self.assertEqual(len({n.lower() for n in names} | {"_run_id", "_row"}), len(names) + 2)
        self.assertEqual(names[0], "name")
        self.assertNotIn("", names)
        table_cols = [row[1] for row in self.q("PRAGMA table_info(names)")]
        for n in names:
            self.assertIn(n, table_cols)
        # The values landed under the right names; the meta column is ours.
        got = self.q('SELECT "%s", "%s", "%s", _run_id FROM names'
                     % (names[1].replace('"', '""'), names[2], names[3]))
        self.assertEqual(got, [("b", 3, 99, run_id)])
        self.assertEqual(self.q('SELECT "%s" FROM names' % names[4].replace('"', '""')), [("w",)])

    def test_table_names_reserved_or_invalid_are_refused(self):
        text = body(sales_rows(1), SALES_SCHEMA)
        for bad in ("sqlite_stats", "SQLite_x", "_wf_runs"):
            r = self.load(text, "--table", bad, rc=2)
            self.assertIn(bad, r.err)

    def test_default_table_comes_from_the_workflow_id(self):
        self.load(body(sales_rows(2), SALES_SCHEMA), "--workflow", "abc-123")
        self.assertEqual(self.q("SELECT count(*) FROM wf_abc_123"), [(2,)])
        self.assertEqual(self.q("SELECT workflow_id, table_name FROM _wf_runs"),
                         [("abc-123", "wf_abc_123")])
        self.load(body(sales_rows(1), SALES_SCHEMA))
        self.assertEqual(self.q("SELECT count(*) FROM results"), [(1,)])


class TestModes(LoadTestBase):
    def test_append_twice_adds_the_new_column(self):
        self.load(body(sales_rows(3), SALES_SCHEMA), "--table", "sales")
        schema2 = SALES_SCHEMA + [{"id": "note", "header": "Note", "type": "string"}]
        rows2 = [dict(r, note="n%d" % i) for i, r in enumerate(sales_rows(2, 100))]
        r = self.load(body(rows2, schema2), "--table", "sales", "--json")
        run2 = r.json()["run_id"]
        self.assertEqual(self.q("SELECT count(*) FROM sales"), [(5,)])
        self.assertEqual(self.q("SELECT count(*) FROM sales WHERE note IS NULL"), [(3,)])
        self.assertEqual(self.q("SELECT note FROM sales WHERE _run_id = ? ORDER BY _row", (run2,)),
                         [("n0",), ("n1",)])
        self.assertEqual(self.q("SELECT count(*) FROM _wf_columns WHERE run_id = ?", (run2,)),
                         [(4,)])
        # The view holds the newest run only.
        self.assertEqual(self.q("SELECT DISTINCT _run_id FROM sales_latest"), [(run2,)])
        self.assertIntegrity()

    def test_a_key_missing_from_the_schema_becomes_a_column_with_one_warning(self):
        rows = [{"region": "a", "amount": 1, "paid": True, "extra": "x"},
                {"region": "b", "amount": 2, "paid": False, "extra": "y"}]
        r = self.load(body(rows, SALES_SCHEMA), "--table", "sales")
        self.assertEqual(len([ln for ln in r.err.splitlines() if "extra" in ln]), 1, r.err)
        self.assertEqual(self.q("SELECT extra FROM sales ORDER BY _row"), [("x",), ("y",)])
        self.assertEqual(self.q("SELECT source_id FROM _wf_columns WHERE column_name = 'extra'"),
                         [("extra",)])

    def test_a_hostile_key_is_stored_but_never_printed_raw(self):
        rows = [{"region": "a", "amount": 1, "paid": True, "\x1b[2J\nboom": "x"}]
        r = self.load(body(rows, SALES_SCHEMA), "--table", "sales")
        self.assertNotIn("\x1b", r.err)
        self.assertIn("\\x1b[2J\\x0aboom", r.err)
        self.assertEqual(self.q("SELECT source_id FROM _wf_columns WHERE position = 3"),
                         [("\x1b[2J\nboom",)])

    def test_replace_keeps_only_this_run_and_the_user_index(self):
        schema1 = SALES_SCHEMA + [{"id": "old", "type": "string"}]
        self.load(body([dict(r, old="o") for r in sales_rows(4)], schema1), "--table", "sales")
        con = sqlite3.connect(self.db)
        con.execute("CREATE INDEX sales_region ON sales(region)")
        con.commit()
        con.close()
        r = self.load(body(sales_rows(2, 50), SALES_SCHEMA), "--table", "sales",
                      "--mode", "replace", "--json")
        run2 = r.json()["run_id"]
        self.assertEqual(self.q("SELECT DISTINCT _run_id FROM sales"), [(run2,)])
        self.assertEqual(self.q("SELECT count(*) FROM sales"), [(2,)])
        cols = [c[1] for c in self.q("PRAGMA table_info(sales)")]
        self.assertNotIn("old", cols)  # replace: the table has exactly this run's columns
        # The user's index, and the _run_id index every data table has (SPEC 18).
        self.assertEqual(self.q("SELECT name FROM sqlite_schema WHERE type = 'index' "
                                "AND tbl_name = 'sales' ORDER BY name"),
                         [("sales__run_id",), ("sales_region",)])
        self.assertEqual(self.q("SELECT count(*) FROM sales_latest"), [(2,)])
        self.assertIntegrity()

    def test_failed_replace_leaves_the_previous_run_intact(self):
        self.load(body(sales_rows(4), SALES_SCHEMA), "--table", "sales")
        bad = body(sales_rows(3, 10), SALES_SCHEMA)[:-40]  # cut mid-body
        r = self.load(bad, "--table", "sales", "--mode", "replace", rc=9)
        self.assertIn("not a valid result", r.err)
        self.assertEqual(self.q("SELECT count(*), min(_run_id), max(_run_id) FROM sales"),
                         [(4, 1, 1)])
        self.assertEqual(self.q("SELECT count(*) FROM sales_latest"), [(4,)])

    def test_mode_fail_refuses_an_existing_table_before_starting_a_run(self):
        self.load(body(sales_rows(2), SALES_SCHEMA), "--table", "sales", "--mode", "fail")
        r = self.load(body(sales_rows(5), SALES_SCHEMA), "--table", "sales", "--mode", "fail",
                      "--json", rc=7)
        self.assertIn("--mode fail", r.err)
        out = r.json()
        self.assertEqual(out["exit_code"], 7)
        self.assertIsNone(out["run_id"])
        self.assertIn("exists", out["error"])
        self.assertEqual(self.q("SELECT count(*) FROM sales"), [(2,)])
        self.assertEqual(self.q("SELECT count(*) FROM _wf_runs"), [(1,)])

    def test_bad_mode_is_a_usage_error(self):
        r = self.load(body(sales_rows(1), SALES_SCHEMA), "--mode", "upsert", rc=2)
        self.assertIn("upsert", r.err)
        self.assertFalse(os.path.exists(self.db))

    def test_force_is_accepted_and_loads_again(self):
        text = body(sales_rows(2), SALES_SCHEMA)
        self.load(text, "--table", "sales")
        self.load(text, "--table", "sales", "--force")
        self.assertEqual(self.q("SELECT count(*), count(DISTINCT _run_id) FROM sales"), [(4, 2)])


class TestBodies(LoadTestBase):
    def test_data_before_schema_is_loaded_with_the_schema_types(self):
        text = body(sales_rows(50), SALES_SCHEMA, data_first=True)
        self.assertLess(text.index('"data"'), text.index('"schema"'))
        self.load(text, "--table", "sales")
        self.assertEqual(self.q("SELECT count(*), sum(amount), sum(paid) FROM sales"),
                         [(50, sum(range(50)), 25)])
        self.assertEqual(self.q("SELECT type FROM pragma_table_info('sales') WHERE name = 'amount'"),
                         [("NUMERIC",)])
        self.assertEqual(self.q("SELECT header FROM _wf_columns WHERE column_name = 'paid'"),
                         [("Paid?",)])

    def test_no_schema_infers_columns_from_the_rows(self):
        rows = [{"a": "x", "n": 1, "f": True}, {"a": "y", "n": 2, "f": False}]
        r = self.load(body(rows), "--table", "inferred", "--json")
        self.assertEqual(r.json()["rows_loaded"], 2)
        self.assertEqual(self.q("SELECT a, n, typeof(n), f FROM inferred ORDER BY _row"),
                         [("x", 1, "integer", 1), ("y", 2, "integer", 0)])
        self.assertIsNone(self.q("SELECT schema_json FROM _wf_runs")[0][0])

    def test_empty_result_still_creates_the_table(self):
        self.load(body([], SALES_SCHEMA), "--table", "empty")
        self.assertEqual(self.q("SELECT count(*) FROM empty"), [(0,)])
        self.assertEqual([c[1] for c in self.q("PRAGMA table_info(empty)")],
                         ["region", "amount", "paid", "_run_id", "_row"])
        self.assertEqual(self.q("SELECT status, rows_loaded FROM _wf_runs"), [("loaded", 0)])

    def test_fewer_rows_than_reported_is_partial(self):
        r = self.load(body(sales_rows(3), SALES_SCHEMA, total=10), "--table", "sales", "--json")
        out = r.json()
        self.assertEqual(out["status"], "partial")
        self.assertEqual((out["rows_loaded"], out["rows_reported"]), (3, 10))
        self.assertIn("partial", r.err)
        self.assertIn("10", r.err)
        self.assertEqual(self.q("SELECT status, rows_loaded, rows_reported, rows_received "
                                "FROM _wf_runs"), [("partial", 3, 10, 3)])
        # A partial run is still the newest loaded one.
        self.assertEqual(self.q("SELECT count(*) FROM sales_latest"), [(3,)])

    def test_fewer_rows_than_end_minus_start_is_partial(self):
        self.load(body(sales_rows(3), SALES_SCHEMA, total=3, start=10, end=15),
                  "--table", "sales")
        self.assertEqual(self.q("SELECT status, range_start, range_end FROM _wf_runs"),
                         [("partial", 10, 15)])

    def test_malformed_bodies_exit_9_load_nothing_and_are_recorded_failed(self):
        self.load(body(sales_rows(2), SALES_SCHEMA), "--table", "sales")
        good = body(sales_rows(3), SALES_SCHEMA)
        bad = {
            "truncated": good[:-30],
            "nan": good.replace('"amount": 1,', '"amount": NaN,'),
            "trailing": good + "<html>",
            "not json": "<html>502 Bad Gateway</html>",
            "empty": "",
        }
        for what, text in bad.items():
            with self.subTest(what):
                before = self.q("SELECT count(*) FROM _wf_runs")[0][0]
                r = self.load(text, "--table", "sales", "--json", rc=9)
                out = r.json()
                self.assertEqual(out["status"], "failed")
                self.assertEqual(out["exit_code"], 9)
                self.assertTrue(out["error"])
                self.assertEqual(self.q("SELECT count(*) FROM sales"), [(2,)])
                runs = self.runs()
                self.assertEqual(len(runs), before + 1)
                self.assertEqual(runs[-1]["status"], "failed")
                self.assertTrue(runs[-1]["error"])
                self.assertIsNotNone(runs[-1]["finished_at"])
                self.assertEqual(self.q("SELECT count(*) FROM _wf_columns WHERE run_id = ?",
                                        (runs[-1]["run_id"],)), [(0,)])
        self.assertEqual(self.q("SELECT DISTINCT _run_id FROM sales_latest"), [(1,)])
        self.assertIntegrity()

    def test_a_new_table_from_a_malformed_body_is_not_created(self):
        self.load(body(sales_rows(3), SALES_SCHEMA)[:-20], "--table", "never", rc=9)
        self.assertEqual(self.q("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'never%'"),
                         [(0,)])

    def test_missing_input_file_is_a_usage_error(self):
        r = run_wf(["load", self.path("nope.json"), "--db", self.db], env=wf_env())
        self.assertRc(r, 2)
        self.assertIn("nope.json", r.err)

    def test_stdin_is_read_with_dash(self):
        r = run_wf(["load", "-", "--db", self.db, "--table", "piped"], env=wf_env(),
                   input=body(sales_rows(4), SALES_SCHEMA))
        self.assertRc(r, 0)
        self.assertEqual(self.q("SELECT count(*) FROM piped"), [(4,)])


class TestAudit(LoadTestBase):
    def test_the_run_row_and_summary(self):
        r = self.load(body(sales_rows(20), SALES_SCHEMA, execution=345), "--table", "sales",
                      "--workflow", "wf9", "--json")
        out = r.json()
        # Rows, table, run, total time and the server's executionDurationMillis.
        self.assertRegex(r.err, r"^wf2sqlite: loaded 20 rows into sales \(run 1\) in \d+\.\d\d s "
                                r"\(server 0\.3[45] s\)\n$")
        self.assertEqual(out["timings"]["execution_ms"], 345)
        for key in ("run_id", "session_id", "workflow_id", "table", "mode", "status",
                    "rows_loaded", "rows_reported", "timings", "error"):
            self.assertIn(key, out)
        self.assertEqual(out["session_id"], None)
        self.assertEqual((out["workflow_id"], out["table"], out["mode"], out["status"]),
                         ("wf9", "sales", "append", "loaded"))
        self.assertIsNone(out["error"])
        self.assertGreaterEqual(out["timings"]["total_ms"], out["timings"]["load_ms"])
        run = self.runs()[0]
        self.assertEqual(run["status"], "loaded")
        self.assertIsNone(run["session_id"])
        self.assertEqual(run["execution_ms"], 345)
        self.assertEqual((run["rows_reported"], run["rows_received"], run["rows_loaded"]),
                         (20, 20, 20))
        self.assertEqual((run["range_start"], run["range_end"]), (0, 20))
        self.assertRegex(run["started_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertRegex(run["finished_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertGreaterEqual(run["finished_at"], run["started_at"])
        self.assertIsNotNone(run["load_ms"])
        self.assertIsNotNone(run["total_ms"])
        self.assertIsNone(run["wait_ms"])
        self.assertEqual(json.loads(run["schema_json"]), SALES_SCHEMA)
        self.assertGreater(run["pid"], 0)
        self.assertTrue(run["tool_version"])

    def test_quiet_prints_nothing_on_success(self):
        r = self.load(body(sales_rows(2), SALES_SCHEMA, total=5), "-q")
        self.assertEqual(r.err, "")
        self.assertEqual(r.out, "")

    def test_audit_tables_match_the_spec(self):
        self.load(body(sales_rows(1), SALES_SCHEMA))
        cols = lambda t: [c[1] for c in self.q("PRAGMA table_info(%s)" % t)]  # noqa: E731
        self.assertEqual(cols("_wf_runs"), [
            "run_id", "session_id", "workflow_id", "table_name", "mode", "status", "error",
            "variables", "started_at", "finished_at", "wait_ms", "load_ms", "total_ms",
            "execution_ms", "rows_reported", "rows_received", "rows_loaded", "range_start",
            "range_end", "schema_json", "api_host", "tool_version", "pid",
            # SPEC 6 as amended (audit schema version 2).
            "hostname", "heartbeat_at", "batch_id", "batch_index", "exit_code"])
        self.assertEqual(cols("_wf_batches"), [
            "batch_id", "workflow_id", "table_name", "matrix", "matrix_sha256", "total",
            "created_at", "finished_at", "status"])
        self.assertEqual(cols("_wf_columns"), ["run_id", "position", "column_name", "source_id",
                                               "header", "source_type", "sql_type"])
        self.assertEqual(cols("_wf_cards"), ["run_id", "position", "card_id", "card_type",
                                             "status", "error_message"])
        self.assertEqual(self.q("PRAGMA journal_mode"), [("wal",)])


class TestDatabase(LoadTestBase):
    def test_two_loads_into_one_database_at_once_both_succeed(self):
        a = self.write("a.json", body(sales_rows(40000), SALES_SCHEMA))
        b = self.write("b.json", body(sales_rows(40000, 1000000), SALES_SCHEMA))
        procs = [spawn_wf(["load", a, "--db", self.db, "--table", "sales"], env=wf_env()),
                 spawn_wf(["load", b, "--db", self.db, "--table", "sales"], env=wf_env()),
                 spawn_wf(["load", a, "--db", self.db, "--table", "other"], env=wf_env())]
        for p in procs:
            out, err = p.communicate(timeout=300)
            self.assertEqual(p.returncode, 0, err)
        self.assertEqual(self.q("SELECT count(*), count(DISTINCT _run_id) FROM sales"),
                         [(80000, 2)])
        self.assertEqual(self.q("SELECT count(*) FROM other"), [(40000,)])
        self.assertEqual(self.q("SELECT status, count(*) FROM _wf_runs GROUP BY 1"),
                         [("loaded", 3)])
        self.assertIntegrity()

    def _as_other_user(self):
        """Runs the binary as nobody when we are root (root ignores file modes)."""
        self._binary, kw = wfharness.unprivileged(self)
        return kw

    def _run_as(self, args, kw):
        p = subprocess.run([self._binary] + args,
                           capture_output=True, text=True, env=wf_env(), timeout=60, **kw)
        self.assertNotIn("Sanitizer", p.stderr)
        return p

    @drops_privileges
    def test_read_only_database_file_exits_7_with_a_clear_message(self):
        self.load(body(sales_rows(2), SALES_SCHEMA), "--table", "sales")
        kw = self._as_other_user()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.db + suffix):
                os.chmod(self.db + suffix, 0o444)
        p = self._run_as(["load", self.write("b.json", body(sales_rows(3), SALES_SCHEMA)),
                          "--db", self.db, "--table", "sales"], kw)
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertIn(self.db, p.stderr)
        self.assertRegex(p.stderr, "read-only|not writable")
        os.chmod(self.db, 0o644)
        self.assertEqual(self.q("SELECT count(*) FROM sales"), [(2,)])
        self.assertEqual(self.q("SELECT count(*) FROM _wf_runs"), [(1,)])

    @drops_privileges
    def test_read_only_folder_exits_7_naming_the_folder(self):
        sub = self.path("ro")
        os.mkdir(sub)
        db = os.path.join(sub, "x.db")
        r = run_wf(["load", self.write("a.json", body(sales_rows(2), SALES_SCHEMA)), "--db", db],
                   env=wf_env())
        self.assertRc(r, 0)
        kw = self._as_other_user()
        for f in os.listdir(sub):
            os.chmod(os.path.join(sub, f), 0o666)
        os.chmod(sub, 0o555)
        try:
            p = self._run_as(["load", self.path("a.json"), "--db", db], kw)
        finally:
            os.chmod(sub, 0o755)
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertIn(sub, p.stderr)

    def test_not_a_database_exits_7(self):
        with open(self.db, "w") as f:
            f.write("hello, I am a text file and not a database at all" * 20)
        r = self.load(body(sales_rows(1), SALES_SCHEMA), rc=7)
        self.assertIn(self.db, r.err)

    def test_latest_view_follows_the_newest_loaded_run(self):
        self.load(body(sales_rows(3), SALES_SCHEMA), "--table", "sales")
        self.load(body(sales_rows(5, 10), SALES_SCHEMA), "--table", "sales")
        self.assertEqual(self.q("SELECT count(*), min(_run_id) FROM sales_latest"), [(5, 2)])
        self.load("{broken", "--table", "sales", rc=9)
        self.assertEqual(self.q("SELECT count(*), min(_run_id) FROM sales_latest"), [(5, 2)])
        # Another table's runs do not count.
        self.load(body(sales_rows(1), SALES_SCHEMA), "--table", "other")
        self.assertEqual(self.q("SELECT count(*), min(_run_id) FROM sales_latest"), [(5, 2)])

    def big_body(self, n):
        big = self.path("big.json")
        with open(big, "w") as f:
            f.write('{"schema": %s, "data": [' % json.dumps(SALES_SCHEMA + [
                {"id": "pad", "type": "string"}]))
            for i in range(n):
                if i:
                    f.write(",")
                f.write('{"region": "region %d", "amount": %d, "paid": %s, "pad": "%s"}'
                        % (i, i, "true" if i % 2 else "false", "x" * 100))
            f.write('], "start": 0, "end": %d, "result": {"summary": {"totalNumberOfRows": %d}}}'
                    % (n, n))
        return big

    def signal_mid_load(self, p, sig):
        """Sends sig once rows are being written (the -wal file grows)."""
        wal = self.db + "-wal"
        deadline = time.time() + 60
        while time.time() < deadline and p.poll() is None:
            if os.path.exists(wal) and os.path.getsize(wal) > 4 * 1024 * 1024:
                p.send_signal(sig)
                return True
            time.sleep(0.005)
        return False

    def test_sigint_in_the_middle_of_a_large_load_records_interrupted(self):
        self.load(body(sales_rows(10), SALES_SCHEMA), "--table", "big")
        p = spawn_wf(["load", self.big_body(200000), "--db", self.db, "--table", "big", "--json"],
                     env=wf_env())
        sent = self.signal_mid_load(p, signal.SIGINT)
        out, err = p.communicate(timeout=60)
        self.assertTrue(sent, "the load ended before it could be interrupted")
        self.assertEqual(p.returncode, 130, err)
        self.assertIn("interrupted", err)
        self.assertEqual(json.loads(out)["status"], "interrupted")
        self.assertEqual(self.q("SELECT count(*) FROM big"), [(10,)])
        self.assertEqual(self.q("SELECT status FROM _wf_runs ORDER BY run_id"),
                         [("loaded",), ("interrupted",)])
        self.assertIntegrity()

    def test_sigkill_in_the_middle_of_a_large_load_leaves_none_of_its_rows(self):
        self.load(body(sales_rows(10), SALES_SCHEMA), "--table", "big")
        p = spawn_wf(["load", self.big_body(200000), "--db", self.db, "--table", "big"],
                     env=wf_env())
        # Killed once rows are being written, before the run is committed.
        killed = self.signal_mid_load(p, signal.SIGKILL)
        p.communicate()
        self.assertTrue(killed, "the load ended before it could be killed")
        self.assertEqual(p.returncode, -signal.SIGKILL)
        self.assertIntegrity()
        self.assertEqual(self.q("SELECT count(*), max(_run_id) FROM big"), [(10, 1)])
        self.assertEqual(self.q("SELECT run_id, status FROM _wf_runs ORDER BY run_id"),
                         [(1, "loaded"), (2, "running")])
        self.assertEqual(self.q("SELECT count(*) FROM _wf_columns WHERE run_id = 2"), [(0,)])
        # The database is usable afterwards.
        self.load(body(sales_rows(2), SALES_SCHEMA), "--table", "big")
        self.assertEqual(self.q("SELECT count(*) FROM big"), [(12,)])


if __name__ == "__main__":
    unittest.main()

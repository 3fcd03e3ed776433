"""Rows before their schema (SPEC 5, 11; docs/performance.md "Data first").

With `data` before `schema` the loader inserts the rows as they arrive into
a table made from a guess (the first row's keys and value kinds), and keeps
it only when the schema makes exactly the same columns; otherwise it reads
the rows back, rolls back to a savepoint and loads them through the
schema-first path. Each test here loads the same rows in both orders, with
bodies whose first rows mislead a guess, and checks that the data-first
database is the schema-first one: the columns and their declared types
(PRAGMA table_info), every value and its typeof(), _wf_columns, the run's
counts and schema_json, the exit code and the warning lines."""
import json
import os
import re
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import wfharness as h  # noqa: E402


def body(schema, rows, data_first, total=None):
    """The result body's text with the keys in the chosen order."""
    parts = [("schema", schema), ("data", rows)]
    if data_first:
        parts.reverse()
    if schema is None:
        parts = [p for p in parts if p[0] != "schema"]
    parts.append(("result", {"summary": {"totalNumberOfRows":
                                         len(rows) if total is None else total}}))
    return "{" + ",".join("%s:%s" % (json.dumps(k), json.dumps(v)) for k, v in parts) + "}"


def fields(*spec):
    return [{"id": i, "header": "H " + i, "type": t} for i, t in spec]


def snapshot(db, table="t"):
    """Everything a load leaves that the two orders must agree on."""
    con = sqlite3.connect(db)
    try:
        info = con.execute("SELECT name, type, \"notnull\", dflt_value, pk FROM"
                           " pragma_table_info(?)", (table,)).fetchall()
        names = [r[0] for r in info]
        sel = ", ".join('typeof("%s"), quote("%s")' % (n.replace('"', '""'), n.replace('"', '""'))
                        for n in names)
        rows = con.execute('SELECT %s FROM "%s" ORDER BY rowid' % (sel, table)).fetchall()
        cols = con.execute("SELECT run_id, position, column_name, source_id, header, source_type,"
                           " sql_type FROM _wf_columns ORDER BY run_id, position").fetchall()
        runs = con.execute("SELECT run_id, table_name, mode, status, error, rows_reported,"
                           " rows_received, rows_loaded, schema_json FROM _wf_runs"
                           " ORDER BY run_id").fetchall()
        views = con.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'view'"
                            " ORDER BY name").fetchall()
        return {"table_info": info, "rows": rows, "columns": cols, "runs": runs, "views": views}
    finally:
        con.close()


class DataFirstSameAsSchemaFirst(h.WfTestCase):

    def load(self, name, text, args=(), setup=None, env=None):
        path = self.path(name + ".json")
        with open(path, "w") as f:
            f.write(text)
        db = self.path(name + ".db")
        if setup:
            setup(db)
        return h.run_wf(["load", path, "--db", db, "--table", "t"] + list(args), env=env), db

    def both(self, schema, rows, args=(), setup=None, rc=0, total=None):
        """Loads the rows in both orders; asserts the same outcome; returns
        the schema-first snapshot."""
        sf, sf_db = self.load("sf", body(schema, rows, False, total), args, setup)
        df, df_db = self.load("df", body(schema, rows, True, total), args, setup)
        self.assertEqual(sf.rc, rc, repr(sf))
        self.assertEqual(df.rc, sf.rc, repr(df))
        self.assertEqual(self.said(df, "df"), self.said(sf, "sf"))
        a, b = snapshot(sf_db), snapshot(df_db)
        for k in a:
            self.assertEqual(b[k], a[k], "%s differs between the orders" % k)
        return a

    def said(self, run, name):
        """stderr, less the file names and the time taken."""
        text = run.err.replace(self.path(name), "FILE")
        return re.sub(r" in [0-9.]+ s\b", " in T s", text).splitlines()

    def types(self, snap):
        return [(n, t) for n, t, _, _, _ in snap["table_info"]]

    # --- the guess is right: kept ---------------------------------------

    def test_guess_right_kept_with_every_value_kind(self):
        rows = [{"s": "x%d" % i, "n": i, "r": i + 0.5, "b": i % 2 == 0, "j": {"k": i},
                 "z": None if i % 3 else "t\u0000nul"} for i in range(50)]
        snap = self.both(fields(("s", "string"), ("n", "number"), ("r", "number"),
                                ("b", "boolean"), ("j", "object"), ("z", "string")), rows)
        self.assertEqual(self.types(snap)[:6], [("s", "TEXT"), ("n", "NUMERIC"), ("r", "NUMERIC"),
                                                ("b", "INTEGER"), ("j", "TEXT"), ("z", "TEXT")])
        self.assertEqual(len(snap["rows"]), 50)

    def test_number_column_whose_first_values_are_integers(self):
        # NUMERIC affinity stores 3.0 as the integer 3, 2.5 as a real.
        rows = [{"x": 1}, {"x": 2}, {"x": 2.5}, {"x": 3.0}, {"x": 10 ** 22}, {"x": -7}]
        snap = self.both(fields(("x", "number")), rows)
        self.assertEqual([r[0] for r in snap["rows"]],
                         ["integer", "integer", "real", "integer", "real", "integer"])

    def test_schema_ids_renamed_col_n_and_name_2(self):
        rows = [{"": 1, "A": "a", "a": "b", "_row": 5, "_RUN_ID": 6}]
        snap = self.both(fields(("", "number"), ("A", "string"), ("a", "string"),
                                ("_row", "number"), ("_RUN_ID", "number")), rows * 3)
        self.assertEqual([n for n, _ in self.types(snap)],
                         ["col_1", "A", "a_2", "_row_2", "_RUN_ID_2", "_run_id", "_row"])

    def test_rows_that_leave_keys_out_or_reorder_them(self):
        rows = [{"a": 1, "b": "x", "c": True}, {"b": "y"}, {"c": False, "a": 2.0, "b": "z"},
                {}, {"a": None, "b": None, "c": None}]
        self.both(fields(("a", "number"), ("b", "string"), ("c", "boolean")), rows * 20)

    # --- the guess is wrong: rolled back and loaded again ----------------

    def test_all_null_first_values(self):
        rows = [{"a": None, "b": None}] * 40 + [{"a": 5, "b": True}, {"a": 2.5, "b": False}]
        snap = self.both(fields(("a", "number"), ("b", "boolean")), rows)
        self.assertEqual(self.types(snap)[:2], [("a", "NUMERIC"), ("b", "INTEGER")])

    def test_integers_first_in_a_string_column(self):
        # TEXT affinity turns 3.0 into '3.0', 7 into '7' and true into '1'.
        rows = [{"x": 7}, {"x": 3.0}, {"x": 2.5}, {"x": "text"}, {"x": 10 ** 22}, {"x": True},
                {"x": -0.0}, {"x": 2.0 ** 62}, {"x": -(2.0 ** 63)}]
        snap = self.both(fields(("x", "string")), rows)
        self.assertEqual(self.types(snap)[0], ("x", "TEXT"))
        self.assertEqual([r[1] for r in snap["rows"]][:6],
                         ["'7'", "'3.0'", "'2.5'", "'text'", "'1.0e+22'", "'1'"])

    def test_numeric_looking_text_in_a_number_column(self):
        rows = [{"x": "12"}, {"x": "1.50"}, {"x": "abc"}, {"x": 4}]
        snap = self.both(fields(("x", "number")), rows)
        self.assertEqual([r[0] for r in snap["rows"]], ["integer", "real", "text", "integer"])

    def test_booleans_in_a_number_column_and_numbers_in_a_boolean_one(self):
        rows = [{"n": True, "b": 1}, {"n": False, "b": 0}, {"n": 3, "b": True}]
        self.both(fields(("n", "number"), ("b", "boolean")), rows)

    def test_schema_renames_the_keys(self):
        rows = [{"a": 1, "b": "x"}] * 5
        self.both(fields(("a", "string"), ("c", "number")), rows)

    def test_schema_reorders_the_columns(self):
        rows = [{"b": "x", "a": 1}, {"a": 2, "b": "y"}] * 5
        snap = self.both(fields(("a", "number"), ("b", "string")), rows)
        self.assertEqual([n for n, _ in self.types(snap)][:2], ["a", "b"])

    def test_a_key_the_schema_lacks(self):
        rows = [{"a": 1, "z": "extra"}, {"a": 2, "z": 3}]
        snap = self.both(fields(("a", "number")), rows)
        self.assertEqual(self.types(snap), [("a", "NUMERIC"), ("_run_id", "INTEGER"),
                                            ("_row", "INTEGER"), ("z", "TEXT")])

    def test_a_key_that_first_appears_mid_stream(self):
        # The guess lacks it: given up at that row, the rest spooled.
        rows = [{"a": i, "b": "x"} for i in range(30)] + \
               [{"a": 99, "b": "y", "c": 1.5}] + [{"a": i, "c": i} for i in range(30)]
        self.both(fields(("a", "number"), ("b", "string"), ("c", "number")), rows)

    def test_no_schema_at_all(self):
        rows = [{"a": None, "b": 1}, {"a": "x", "b": 2.5}]
        self.both(None, rows)

    def test_empty_schema(self):
        self.both([], [{"a": 1}, {"a": "x"}])

    def test_rows_as_arrays(self):
        rows = [[1, "x", None], [2.0, "y", True], [3, "z", False, "extra"]]
        self.both(fields(("a", "number"), ("b", "string"), ("c", "boolean")), rows)

    def test_objects_and_arrays_in_a_string_column(self):
        rows = [{"j": "plain"}, {"j": {"k": [1, 2]}}, {"j": [1, "x"]}]
        self.both(fields(("j", "string")), rows)

    def test_many_batches_then_a_wrong_guess(self):
        # Enough rows for the writer thread and the multi-row INSERTs; the
        # last column's schema type differs from the guess; whole reals and
        # NUL bytes go through the side file.
        rows = [{"id": i, "name": "n\u0000%d" % i, "v": i / 4, "flag": "y" if i % 2 else "n"}
                for i in range(40000)]
        snap = self.both(fields(("id", "number"), ("name", "string"), ("v", "number"),
                                ("flag", "number")), rows)
        self.assertEqual(len(snap["rows"]), 40000)

    def test_fewer_rows_than_reported_partial(self):
        rows = [{"a": None}, {"a": 1}]
        snap = self.both(fields(("a", "number")), rows, total=5)
        self.assertEqual(snap["runs"][0][3], "partial")

    # --- modes, into a table that exists ----------------------------------

    def existing(self, ddl_rows):
        def setup(db):
            con = sqlite3.connect(db)
            con.executescript(ddl_rows)
            con.close()
        return setup

    def test_append_into_an_existing_table_adds_columns(self):
        setup = self.existing('CREATE TABLE t (a TEXT, b NUMERIC, "_run_id" INTEGER,'
                              ' "_row" INTEGER); INSERT INTO t VALUES (\'old\', 1, NULL, 0);')
        rows = [{"a": 1, "b": None, "c": None}, {"a": 2.0, "b": "x", "c": 7}]
        snap = self.both(fields(("a", "number"), ("b", "string"), ("c", "number")), rows,
                         ["--mode", "append"], setup)
        self.assertEqual(self.types(snap)[-1], ("c", "NUMERIC"))

    def test_append_with_the_guess_right(self):
        setup = self.existing('CREATE TABLE t (a NUMERIC, "_run_id" INTEGER, "_row" INTEGER);'
                              'INSERT INTO t VALUES (5, NULL, 0);')
        rows = [{"a": i, "b": "s%d" % i} for i in range(100)]
        self.both(fields(("a", "number"), ("b", "string")), rows, ["--mode", "append"], setup)

    def test_replace_keeps_indexes(self):
        setup = self.existing('CREATE TABLE t (a TEXT, "_run_id" INTEGER, "_row" INTEGER);'
                              'CREATE INDEX t_a ON t (a); INSERT INTO t VALUES (\'x\', NULL, 0);')
        rows = [{"a": None}, {"a": 2}]
        self.both(fields(("a", "number")), rows, ["--mode", "replace"], setup)

    def test_replace_with_an_index_that_cannot_come_back(self):
        setup = self.existing('CREATE TABLE t (a TEXT, gone TEXT, "_run_id" INTEGER,'
                              ' "_row" INTEGER); CREATE INDEX t_gone ON t (gone);')
        self.both(fields(("a", "string")), [{"a": "x"}], ["--mode", "replace"], setup)

    def test_fail_mode_with_the_table_there(self):
        setup = self.existing('CREATE TABLE t (a TEXT, "_run_id" INTEGER, "_row" INTEGER);')
        self.both(fields(("a", "string")), [{"a": "x"}], ["--mode", "fail"], setup, rc=7)

    def test_table_name_taken_by_a_view(self):
        setup = self.existing("CREATE TABLE x (a); CREATE VIEW t AS SELECT * FROM x;")
        self.both(fields(("a", "string")), [{"a": "x"}], (), setup, rc=2)


class DataFirstHostileAndTempFiles(h.WfTestCase):

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def test_hostile_bytes_after_guessed_rows_leave_the_database_unchanged(self):
        db = self.path("h.db")
        good = self.write("good.json", body(fields(("a", "number")), [{"a": 1}], True))
        self.assertRc(h.run_wf(["load", good, "--db", db, "--table", "t"]), 0)
        rows = json.dumps([{"a": i} for i in range(20000)])
        bad = self.write("bad.json", '{"data":' + rows[:-1] + ',{"a":NaN}],"schema":[]}')
        r = h.run_wf(["load", bad, "--db", db, "--table", "t"])
        self.assertRc(r, 9)
        self.assertEqual(h.db_query(db, "SELECT count(*) FROM t")[0][0], 1)
        self.assertEqual([x["status"] for x in h.db_runs(db)], ["loaded", "failed"])

    def test_right_guess_needs_no_temporary_file(self):
        # Rows the table gives back exactly are never written aside: with
        # TMPDIR unusable, the data-first load still succeeds.
        rows = [{"s": "x%d" % i, "n": i, "r": i + 0.25} for i in range(5000)]
        text = body(fields(("s", "string"), ("n", "number"), ("r", "number")), rows, True)
        env = h.wf_env(extra={"TMPDIR": self.path("missing")})
        r = h.run_wf(["load", self.write("b.json", text), "--db", self.path("a.db"),
                      "--table", "t"], env=env)
        self.assertRc(r, 0)
        self.assertEqual(h.db_query(self.path("a.db"), "SELECT count(*) FROM t")[0][0], 5000)

    def test_wrong_guess_reads_the_rows_back_through_a_temporary_file(self):
        rows = [{"n": None}] + [{"n": i} for i in range(100)]
        text = body(fields(("n", "number")), rows, True)
        env = h.wf_env(extra={"TMPDIR": self.path("missing")})
        r = h.run_wf(["load", self.write("b.json", text), "--db", self.path("a.db"),
                      "--table", "t"], env=env)
        self.assertRc(r, 1)
        self.assertIn("TMPDIR", r.err)
        self.assertEqual(h.db_query(self.path("a.db"), "SELECT count(*) FROM sqlite_schema"
                                    " WHERE name = 't'")[0][0], 0)


class DataFirstNothingVisibleBeforeCommit(h.WfTestCase):

    def test_guessed_table_is_not_visible_to_others_while_the_body_streams(self):
        scen = {"workflows": {"dfslow": {
                    "start_ms": 0, "pending_ms": 0, "cards": [],
                    "generate": {"rows": 5000, "shape": "bench8", "data_first": True}}},
                "faults": [{"endpoint": "result", "kind": "slow", "chunk_bytes": 16384,
                            "delay_ms": 80, "times": -1}]}
        db = self.path("v.db")
        with h.Emu(scen, workdir=self.dir) as emu:
            p = h.spawn_wf(["run", "dfslow", "--db", db, "--table", "t", "-q"], emu=emu)
            try:
                seen = []
                deadline = time.monotonic() + 60
                while p.poll() is None and time.monotonic() < deadline:
                    if os.path.exists(db):
                        try:
                            seen.extend(h.db_query(
                                db, "SELECT (SELECT count(*) FROM sqlite_schema WHERE name ="
                                    " 't'), (SELECT group_concat(status) FROM _wf_runs)"))
                        except sqlite3.OperationalError:
                            pass  # the file is being created
                    time.sleep(0.1)
                out, err = p.communicate(timeout=60)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.communicate()
        self.assertEqual(p.returncode, 0, err)
        # Polled for seconds while rows streamed into the guessed table: the
        # table only ever appeared with the commit of the run.
        self.assertGreater(seen.count((0, "running")), 10, seen)
        self.assertEqual(set(seen) - {(0, None), (0, "running"), (1, "loaded")}, set(), seen)
        self.assertEqual(h.db_query(db, "SELECT count(*) FROM t")[0][0], 5000)


class DataFirstSessionLoadedOnce(h.WfTestCase):

    def test_a_data_first_session_already_loaded_is_not_loaded_twice_unless_force(self):
        scen = {"workflows": {"df": {"start_ms": 0, "pending_ms": 0, "cards": [],
                                     "generate": {"rows": 3000, "shape": "mixed",
                                                  "data_first": True}}}}
        db = self.path("once.db")
        with h.Emu(scen, workdir=self.dir) as emu:
            r = h.run_wf(["run", "df", "--db", db, "--no-wait"], emu=emu)
            self.assertRc(r, 0)
            sid = r.out.strip()
            self.assertRc(h.run_wf(["attach", sid, "--db", db, "--workflow", "df"], emu=emu), 0)
            r = h.run_wf(["attach", sid, "--db", db, "--workflow", "df"], emu=emu)
            self.assertRc(r, 0)
            self.assertIn("is already in wf_df", r.err)
            self.assertEqual(h.db_query(db, "SELECT count(*) FROM wf_df"), [(3000,)])
            r = h.run_wf(["attach", sid, "--db", db, "--workflow", "df", "--force"], emu=emu)
            self.assertRc(r, 0)
        self.assertEqual(h.db_query(db, "SELECT count(*), count(DISTINCT _run_id) FROM wf_df"),
                         [(6000, 2)])


if __name__ == "__main__":
    unittest.main()

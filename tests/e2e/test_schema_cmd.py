"""`wf2sqlite schema`: the CREATE TABLE a result maps to, without a database."""
import json
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from wfharness import WfTestCase, run_wf, wf_env  # noqa: E402

SCHEMA = [
    {"id": "region", "header": "Region", "type": "string"},
    {"id": "amount", "type": "number"},
    {"id": "paid", "type": "boolean"},
    {"id": "details", "type": "object"},
]


class TestSchemaCommand(WfTestCase):
    def file(self, obj_or_text):
        p = self.path("body.json")
        with open(p, "w") as f:
            f.write(obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text))
        return p

    def schema(self, obj_or_text, *args, rc=0):
        r = run_wf(["schema", self.file(obj_or_text)] + list(args), env=wf_env(), cwd=self.dir)
        self.assertRc(r, rc)
        return r

    def columns(self, ddl, table):
        con = sqlite3.connect(":memory:")
        try:
            con.executescript(ddl)
            return [(c[1], c[2]) for c in con.execute("PRAGMA table_info(%s)" % table)]
        finally:
            con.close()

    def test_prints_a_create_table_sqlite_accepts(self):
        r = self.schema({"schema": SCHEMA, "data": [{"region": "a", "amount": 1}]})
        self.assertTrue(r.out.lstrip().upper().startswith("CREATE TABLE"), r.out)
        self.assertEqual(self.columns(r.out, "results"), [
            ("region", "TEXT"), ("amount", "NUMERIC"), ("paid", "INTEGER"),
            ("details", "TEXT"), ("_run_id", "INTEGER"), ("_row", "INTEGER")])
        # No database anywhere.
        self.assertEqual(sorted(os.listdir(self.dir)), ["body.json"])

    def test_table_name_from_option_or_workflow(self):
        r = self.schema({"schema": SCHEMA, "data": []}, "--table", "my sales")
        self.assertEqual(len(self.columns(r.out, '"my sales"')), 6)
        r = self.schema({"schema": SCHEMA, "data": []}, "--workflow", "abc")
        self.assertEqual(len(self.columns(r.out, "wf_abc")), 6)

    def test_keys_beyond_the_schema_and_no_schema_become_columns(self):
        r = self.schema({"schema": SCHEMA, "data": [{"region": "a", "extra": 1}]})
        self.assertIn(("extra", "NUMERIC"),
                      [(n, t) for n, t in self.columns(r.out, "results")])
        r = self.schema({"data": [{"x": "s", "y": 2}]})
        names = [n for n, _ in self.columns(r.out, "results")]
        self.assertEqual(names, ["x", "y", "_run_id", "_row"])

    def test_stdin(self):
        r = run_wf(["schema", "-"], env=wf_env(), input=json.dumps({"schema": SCHEMA, "data": []}))
        self.assertRc(r, 0)
        self.assertIn("CREATE TABLE", r.out)

    def test_malformed_body_exits_9_and_prints_no_sql(self):
        r = self.schema('{"schema": [{"id": "a"}], "data": [', rc=9)
        self.assertEqual(r.out, "")
        self.assertIn("body.json", r.err)

    def test_reserved_table_name_is_refused(self):
        r = self.schema({"schema": SCHEMA, "data": []}, "--table", "sqlite_master", rc=2)
        self.assertEqual(r.out, "")


if __name__ == "__main__":
    unittest.main()

"""The index on _run_id in every data table (SPEC 18): created with the table,
added to a table an older wf2sqlite made at its next write, kept once through
replace, and used by the _latest view and per-run queries."""
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_load import LoadTestBase, SALES_SCHEMA, body, sales_rows  # noqa: E402


class TestRunIdIndex(LoadTestBase):
    def run_indexes(self, table):
        """Names of the indexes of table whose first column is _run_id."""
        return [r[0] for r in self.q(
            "SELECT il.name FROM pragma_index_list(?1) AS il, pragma_index_info(il.name) AS ii"
            " WHERE ii.seqno = 0 AND ii.name = '_run_id' ORDER BY il.name", (table,))]

    def plan(self, sql):
        return " ".join(r[-1] for r in self.q("EXPLAIN QUERY PLAN " + sql))

    def test_a_new_table_has_the_index_and_latest_and_per_run_queries_use_it(self):
        self.load(body(sales_rows(5), SALES_SCHEMA), "--table", "sales")
        self.assertEqual(self.run_indexes("sales"), ["sales__run_id"])
        self.assertIn("USING INDEX sales__run_id", self.plan("SELECT * FROM sales_latest"))
        self.assertRegex(self.plan("SELECT region FROM sales WHERE _run_id = 1"),
                         r"USING (COVERING )?INDEX sales__run_id")

    def test_append_into_a_table_without_the_index_adds_it_and_keeps_the_rows(self):
        self.load(body(sales_rows(5), SALES_SCHEMA), "--table", "sales")
        # A table as an older wf2sqlite left it: no index.
        con = sqlite3.connect(self.db)
        con.execute('DROP INDEX "sales__run_id"')
        con.commit()
        con.close()
        self.assertEqual(self.run_indexes("sales"), [])
        self.load(body(sales_rows(3, 100), SALES_SCHEMA), "--table", "sales")
        self.assertEqual(self.run_indexes("sales"), ["sales__run_id"])
        self.assertEqual(self.q("SELECT _run_id, count(*) FROM sales GROUP BY 1 ORDER BY 1"),
                         [(1, 5), (2, 3)])
        self.assertIntegrity()

    def test_more_runs_keep_one_index(self):
        for i in range(3):
            self.load(body(sales_rows(4, 10 * i), SALES_SCHEMA), "--table", "sales")
        self.assertEqual(self.run_indexes("sales"), ["sales__run_id"])

    def test_replace_keeps_exactly_one_index_without_a_warning(self):
        self.load(body(sales_rows(5), SALES_SCHEMA), "--table", "sales")
        r = self.load(body(sales_rows(2), SALES_SCHEMA), "--table", "sales", "--mode",
                      "replace")
        self.assertNotIn("could not recreate", r.err)
        self.assertNotIn("warning", r.err)
        self.assertEqual(self.run_indexes("sales"), ["sales__run_id"])
        self.assertEqual(self.q("SELECT count(*) FROM sales"), [(2,)])

    def test_replace_of_an_old_table_gets_the_index(self):
        self.load(body(sales_rows(5), SALES_SCHEMA), "--table", "sales")
        con = sqlite3.connect(self.db)
        con.execute('DROP INDEX "sales__run_id"')
        con.commit()
        con.close()
        self.load(body(sales_rows(2), SALES_SCHEMA), "--table", "sales", "--mode", "replace")
        self.assertEqual(self.run_indexes("sales"), ["sales__run_id"])

    def test_a_name_taken_by_another_object_gets_a_suffix(self):
        con = sqlite3.connect(self.db)
        con.execute('CREATE TABLE "sales__run_id" (x)')
        con.commit()
        con.close()
        self.load(body(sales_rows(5), SALES_SCHEMA), "--table", "sales")
        self.assertEqual(self.run_indexes("sales"), ["sales__run_id_2"])
        self.assertEqual(self.q('SELECT count(*) FROM "sales__run_id"'), [(0,)])

    def test_an_index_the_user_made_on_run_id_is_enough(self):
        self.load(body(sales_rows(5), SALES_SCHEMA), "--table", "sales")
        con = sqlite3.connect(self.db)
        con.execute('DROP INDEX "sales__run_id"')
        con.execute('CREATE INDEX my_idx ON sales (_run_id, region)')
        con.commit()
        con.close()
        self.load(body(sales_rows(3), SALES_SCHEMA), "--table", "sales")
        self.assertEqual(self.run_indexes("sales"), ["my_idx"])

    def test_odd_table_names_are_quoted(self):
        name = 'we"ird ta-ble'
        self.load(body(sales_rows(2), SALES_SCHEMA), "--table", name)
        self.assertEqual(self.run_indexes(name), [name + "__run_id"])


if __name__ == "__main__":
    unittest.main()

"""--mode upsert --key (SPEC 15): one row per key, the latest values."""
import json
import os
import signal
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from wfharness import Emu, WfTestCase, db_query, run_wf, spawn_wf, wf_env  # noqa: E402

SCHEMA = [{"id": "id", "type": "number"}, {"id": "name", "type": "string"},
          {"id": "score", "type": "number"}]


def body(rows, schema=SCHEMA):
    return json.dumps({"schema": schema, "data": rows, "start": 0, "end": len(rows)})


class TestUpsert(WfTestCase):
    def setUp(self):
        super().setUp()
        self.db = self.path("u.db")

    def load(self, rows, *args, schema=SCHEMA, table="t", rc=0):
        p = self.path("b%d.json" % len(os.listdir(self.dir)))
        with open(p, "w") as f:
            f.write(body(rows, schema))
        r = run_wf(["load", p, "--db", self.db, "--table", table] + list(args), env=wf_env())
        self.assertRc(r, rc)
        return r

    def upsert(self, rows, key="id", **kw):
        return self.load(rows, "--mode", "upsert", "--key", key, **kw)

    def q(self, sql):
        return db_query(self.db, sql)

    def test_one_row_per_key_with_the_latest_values_and_the_last_writer(self):
        extra = SCHEMA + [{"id": "note", "type": "string"}]
        self.upsert([{"id": 1, "name": "a", "score": 1, "note": "n1"},
                     {"id": 2, "name": "b", "score": 2, "note": "n2"},
                     {"id": 3, "name": "c", "score": 3}], schema=extra)
        # Run 2: id 2 changes (score missing: NULL), id 4 is new; note is not
        # in this result's schema, so rows keep theirs.
        self.upsert([{"id": 2, "name": "B"}, {"id": 4, "name": "d", "score": 4}])
        self.assertEqual(self.q("SELECT id, name, score, note, _run_id, _row FROM t ORDER BY id"),
                         [(1, "a", 1, "n1", 1, 0), (2, "B", None, "n2", 2, 0),
                          (3, "c", 3, None, 1, 2), (4, "d", 4, None, 2, 1)])
        self.assertEqual(self.q("SELECT mode, status FROM _wf_runs ORDER BY run_id"),
                         [("upsert", "loaded"), ("upsert", "loaded")])
        # The key is a unique index.
        idx = self.q("SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 't'"
                     " AND sql LIKE '%UNIQUE%'")
        self.assertEqual(len(idx), 1)
        self.assertIn('("id")', idx[0][0])

    def test_a_key_repeated_in_one_result_last_row_wins_with_a_warning(self):
        r = self.upsert([{"id": 1, "name": "first", "score": 1}, {"id": 2, "name": "x"},
                         {"id": 1, "name": "last", "score": 9}])
        self.assertIn("1 row repeated the key", r.err)
        self.assertEqual(self.q("SELECT id, name, score, _row FROM t ORDER BY id"),
                         [(1, "last", 9, 2), (2, "x", None, 1)])
        # Repeats inside the loader's multi-row INSERTs (16 rows each).
        r = self.upsert([{"id": i % 10, "name": "n%d" % i, "score": i} for i in range(40)],
                        table="m")
        self.assertIn("30 rows repeated the key", r.err)
        self.assertEqual(self.q("SELECT count(*), min(score), max(score), min(_row) FROM m"),
                         [(10, 30, 39, 30)])

    def test_null_or_missing_key_fails_the_run_with_nothing_loaded(self):
        self.upsert([{"id": 1, "name": "a", "score": 1}])
        for rows in ([{"id": 2, "name": "b"}, {"name": "no key"}],
                     [{"id": 2, "name": "b"}, {"id": None, "name": "null key"}]):
            r = self.upsert(rows, rc=9)
            self.assertIn("no key", r.err)
        r = self.upsert([{"name": "x"}], schema=[{"id": "name", "type": "string"}], rc=9)
        self.assertIn("no column id", r.err)
        self.assertEqual(self.q("SELECT id, name FROM t"), [(1, "a")])
        self.assertEqual(self.q("SELECT status, exit_code FROM _wf_runs WHERE run_id > 1"),
                         [("failed", 9)] * 3)

    def test_the_key_is_fixed_by_the_first_upsert(self):
        self.upsert([{"id": 1, "name": "a"}], key="id,name")
        self.upsert([{"id": 1, "name": "a", "score": 5}], key="name,id")
        r = self.upsert([{"id": 1, "name": "a"}], key="id", rc=2)
        self.assertIn("keyed by id,name", r.err)
        self.assertEqual(self.q("SELECT id, name, score FROM t"), [(1, "a", 5)])
        # Nothing was recorded for the refused run: it was refused before.
        self.assertEqual(self.q("SELECT count(*) FROM _wf_runs"), [(2,)])

    def test_usage_errors(self):
        self.load([{"id": 1}], "--mode", "upsert", rc=2)
        self.load([{"id": 1}], "--key", "id", rc=2)
        self.load([{"id": 1}], "--mode", "upsert", "--key", "id,", rc=2)
        r = self.load([{"id": 1}], "--mode", "upsert", "--key", "id,ID", rc=2)
        self.assertIn("names the column 'ID' twice", r.err)
        self.assertFalse(os.path.exists(self.db))
        self.assertRc(run_wf(["status", "s", "--key", "x"], env=wf_env()), 2)
        # A table whose earlier appends share a key cannot be keyed by it.
        self.load([{"id": 1, "name": "a"}], table="h")
        self.load([{"id": 1, "name": "a"}], table="h")
        r = self.upsert([{"id": 1}], table="h", rc=2)
        self.assertIn("share a key", r.err)

    def test_run_against_the_emulator_records_upsert(self):
        scenario = {"workflows": {"w": {"cards": [{"id": "c", "ms": 10}], "final_status": "idle",
                                        "generate": {"rows": 30, "seed": 1}}}}
        with Emu(scenario) as emu:
            for _ in range(2):
                r = run_wf(["run", "w", "--db", self.db, "--table", "s", "--mode", "upsert",
                            "--key", "id", "--json", "-q"], emu=emu)
                self.assertRc(r, 0)
                self.assertEqual(r.json()["mode"], "upsert")
            self.assertEqual(self.q("SELECT count(*), min(_run_id), max(_run_id) FROM s"),
                             [(30, 2, 2)])
            # resume continues an upsert run with the table's key.
            r = run_wf(["run", "w", "--db", self.db, "--table", "s", "--mode", "upsert",
                        "--key", "id", "--no-wait"], emu=emu)
            self.assertRc(r, 0)
            self.assertRc(run_wf(["resume", "--db", self.db, "-q"], emu=emu), 0)
            # Appending (the default mode) to the keyed table would repeat its
            # keys and fail after the workflow ran: refused before the start.
            r = run_wf(["run", "w", "--db", self.db, "--table", "s"], emu=emu)
            self.assertRc(r, 2)
            self.assertIn("--mode upsert --key id", r.err)
            self.assertIn("not started", r.err)
            self.assertEqual(len([q for q in emu.requests() if q["method"] == "POST"]), 3)
        self.assertEqual(self.q("SELECT count(*), min(_run_id), max(_run_id) FROM s"),
                         [(30, 3, 3)])
        self.assertEqual(self.q("SELECT mode, status FROM _wf_runs WHERE run_id = 3"),
                         [("upsert", "loaded")])
        self.assertEqual(self.q("SELECT count(*) FROM _wf_runs"), [(3,)])

    def test_upsert_stopped_before_its_table_existed_says_how_to_continue(self):
        # Its --key is not recorded and resume takes none: the message gives
        # the attach command that continues it (not "needs --key", which
        # resume cannot take).
        scenario = {"workflows": {"w": {"cards": [{"id": "c", "ms": 10}], "final_status": "idle",
                                        "generate": {"rows": 5, "seed": 1}}}}
        with Emu(scenario) as emu:
            r = run_wf(["run", "w", "--db", self.db, "--table", "n", "--mode", "upsert",
                        "--key", "id", "--no-wait"], emu=emu)
            self.assertRc(r, 0)
            sid = r.out.strip()
            want = "attach %s --mode upsert --key" % sid
            r = run_wf(["resume", "--db", self.db], emu=emu)
            self.assertRc(r, 2)
            self.assertIn(want, r.err)
            r = run_wf(["attach", sid, "--db", self.db], emu=emu)
            self.assertRc(r, 2)
            self.assertIn(want, r.err)
            r = run_wf(["attach", sid, "--db", self.db, "--mode", "upsert", "--key", "id", "-q"],
                       emu=emu)
            self.assertRc(r, 0)
        self.assertEqual(self.q("SELECT run_id, mode, status FROM _wf_runs"),
                         [(1, "upsert", "loaded")])
        self.assertEqual(self.q("SELECT count(*) FROM n"), [(5,)])

    def test_append_into_a_keyed_table_is_refused_before_anything_is_recorded(self):
        self.upsert([{"id": 1, "name": "a"}])
        r = self.load([{"id": 2, "name": "b"}], rc=2)
        self.assertIn("table t keeps one row per key (id", r.err)
        self.assertIn("--mode upsert --key id", r.err)
        self.assertEqual(self.q("SELECT count(*) FROM _wf_runs"), [(1,)])
        self.assertEqual(self.q("SELECT id FROM t"), [(1,)])
        # replace keeps working (and keeps the key), as does upsert.
        self.load([{"id": 2, "name": "b"}], "--mode", "replace")
        self.upsert([{"id": 2, "name": "c"}, {"id": 3, "name": "d"}])
        self.assertEqual(self.q("SELECT id, name FROM t ORDER BY id"), [(2, "c"), (3, "d")])

    def test_batch_upserts_every_set(self):
        scenario = {"workflows": {"w": {"cards": [{"id": "c", "ms": 10}], "final_status": "idle",
                                        "generate": {"rows": 20, "seed": 2}}}}
        matrix = self.path("m.jsonl")
        with open(matrix, "w") as f:
            f.write('{"n": "1"}\n{"n": "2"}\n{"n": "3"}\n')
        with Emu(scenario) as emu:
            r = run_wf(["batch", "w", "--matrix", matrix, "--db", self.db, "--table", "b",
                        "--mode", "upsert", "--key", "id", "--parallel", "2", "-q"], emu=emu)
            self.assertRc(r, 0)
            r = run_wf(["batch", "w", "--matrix", matrix, "--db", self.db, "--table", "b",
                        "--mode", "upsert", "--key", "region", "-q"], emu=emu)
            self.assertRc(r, 2)
        self.assertEqual(self.q("SELECT count(*), count(DISTINCT id) FROM b"), [(20, 20)])
        self.assertEqual(self.q("SELECT DISTINCT mode, status FROM _wf_runs"),
                         [("upsert", "loaded")])

    def test_sigkill_mid_upsert_leaves_the_table_as_before(self):
        self.upsert([{"id": 0, "name": "before", "score": 0}])
        big = self.path("big.json")
        n = 200000
        with open(big, "w") as f:
            f.write('{"schema": %s, "data": [' % json.dumps(SCHEMA))
            f.write(",".join('{"id": %d, "name": "%s", "score": %d}' % (i, "x" * 100, i)
                             for i in range(n)))
            f.write('], "start": 0, "end": %d}' % n)
        p = spawn_wf(["load", big, "--db", self.db, "--table", "t", "--mode", "upsert",
                      "--key", "id"], env=wf_env())
        wal, killed = self.db + "-wal", False
        deadline = time.time() + 60
        while time.time() < deadline and p.poll() is None:
            if os.path.exists(wal) and os.path.getsize(wal) > 4 * 1024 * 1024:
                p.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.005)
        p.communicate()
        self.assertTrue(killed, "the load ended before it could be killed")
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        con.close()
        self.assertEqual(self.q("SELECT id, name, _run_id FROM t"), [(0, "before", 1)])
        # Usable afterwards: the next upsert goes in.
        self.upsert([{"id": 0, "name": "after"}])
        self.assertEqual(self.q("SELECT id, name FROM t"), [(0, "after")])


if __name__ == "__main__":
    unittest.main()

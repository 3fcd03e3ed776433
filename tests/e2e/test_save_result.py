"""--save-result (SPEC 3): the final result body kept byte for byte, plain or
gzip, written while it streams; `load` of the file gives the same rows as the
run; a body cut and fetched again is saved once, whole; resume saves one
<run_id>.json.gz per run in a folder; a file that cannot be written is found
before a run is started."""
import gzip
import json
import os
import sqlite3

from netlib import EmuTestCase, result_bytes, workflow
from wfharness import db_query


def scenario():
    return {"workflows": {
        "w": workflow(cards_ms=(100, 100)),
        "cutw": workflow(cards_ms=(100,)),
    }, "faults": [
        {"endpoint": "result", "workflow": "cutw", "kind": "cut", "after_bytes": 40},
    ]}


DATA_COLS = "n, s, _row"


class SaveResult(EmuTestCase):
    scenario = staticmethod(scenario)

    def setUp(self):
        super().setUp()
        self.db = self.path("s.db")

    def same_rows(self, a, b):
        """The data columns of two tables hold the same rows (both ways)."""
        for x, y in ((a, b), (b, a)):
            self.assertEqual(db_query(self.db, 'SELECT count(*) FROM (SELECT %s FROM "%s" EXCEPT '
                                      'SELECT %s FROM "%s")' % (DATA_COLS, x, DATA_COLS, y)),
                             [(0,)])
        self.assertEqual(db_query(self.db, 'SELECT count(*) FROM "%s"' % a),
                         db_query(self.db, 'SELECT count(*) FROM "%s"' % b))
        self.assertEqual(db_query(self.db, "SELECT typeof(n), typeof(s) FROM \"%s\" ORDER BY _row"
                                  % a),
                         db_query(self.db, "SELECT typeof(n), typeof(s) FROM \"%s\" ORDER BY _row"
                                  % b))

    def save_then_load(self, name, wf="w"):
        path = self.path(name)
        r = self.wf(["run", wf, "--db", self.db, "--table", "orig", "--save-result", path,
                     "--json"])
        self.assertRc(r, 0)
        self.assertEqual(json.loads(r.out)["saved_result"], path)
        r = self.wf(["load", path, "--db", self.db, "--table", "copy"])
        self.assertRc(r, 0)
        self.same_rows("orig", "copy")
        return path

    def test_plain_file_is_the_body_byte_for_byte_and_loads_the_same_rows(self):
        path = self.save_then_load("result.json")
        with open(path) as f:
            self.assertEqual(f.read(), result_bytes())
        # Nothing else beside it (the temporary file is gone).
        self.assertEqual(sorted(n for n in os.listdir(self.dir) if n.startswith(".")), [])

    def test_gz_file_is_gzip_of_the_body_and_loads_the_same_rows(self):
        path = self.save_then_load("result.json.gz")
        with open(path, "rb") as f:
            self.assertEqual(f.read(2), b"\x1f\x8b")
        with gzip.open(path, "rt") as f:
            self.assertEqual(f.read(), result_bytes())
        # From standard input too.
        with open(path, "rb") as f:
            raw = f.read()
        import subprocess
        from wfharness import WF2SQLITE, wf_env
        p = subprocess.run([WF2SQLITE, "load", "-", "--db", self.db, "--table", "piped"],
                           input=raw, capture_output=True, env=wf_env())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.same_rows("orig", "piped")

    def test_a_cut_body_fetched_again_is_saved_once_whole(self):
        path = self.save_then_load("cut.json", wf="cutw")
        with open(path) as f:
            self.assertEqual(f.read(), result_bytes())
        # The first attempt was cut: two result calls, one whole body saved.
        self.assertGreaterEqual(len(self.calls(self.emu, "result")), 2)

    def test_a_broken_gzip_file_loads_nothing(self):
        path = self.save_then_load("b.json.gz")
        with open(path, "rb") as f:
            raw = f.read()
        cut = self.path("cut.json.gz")
        with open(cut, "wb") as f:
            f.write(raw[:len(raw) // 2])
        r = self.wf(["load", cut, "--db", self.db, "--table", "broken"])
        self.assertRc(r, 9)
        self.assertIn("gzip", r.err)
        self.assertEqual(db_query(self.db, "SELECT count(*) FROM sqlite_schema WHERE name = "
                                  "'broken'"), [(0,)])

    def test_a_file_that_cannot_be_written_is_refused_before_the_run_starts(self):
        before = len(self.calls(self.emu, "run"))
        r = self.wf(["run", "w", "--db", self.db, "--save-result",
                     self.path("no/such/folder/r.json"), "--json"])
        self.assertRc(r, 2)
        self.assertIn("--save-result", r.err)
        self.assertIn("not started", r.err)
        self.assertEqual(len(self.calls(self.emu, "run")), before)
        self.assertIsNone(json.loads(r.out)["run_id"])

    def test_resume_saves_one_gz_per_run_in_a_folder(self):
        sids = []
        for _ in range(2):
            r = self.wf(["run", "w", "--db", self.db, "--table", "orig", "--no-wait", "--json"])
            self.assertRc(r, 0)
            sids.append(json.loads(r.out)["session_id"])
        con = sqlite3.connect(self.db)
        con.execute("UPDATE _wf_runs SET pid = 2147483646")
        con.commit()
        con.close()
        folder = self.path("saved")
        r = self.wf(["resume", "--db", self.db, "--save-result", folder, "--json"])
        self.assertRc(r, 0)
        out = json.loads(r.out)
        self.assertEqual(out["count"], 2)
        for run in out["runs"]:
            want = os.path.join(folder, "%d.json.gz" % run["run_id"])
            self.assertEqual(run["saved_result"], want)
            with gzip.open(want, "rt") as f:
                self.assertEqual(f.read(), result_bytes())
        self.assertEqual(sorted(os.listdir(folder)),
                         sorted("%d.json.gz" % x["run_id"] for x in out["runs"]))

"""The main end-to-end paths under valgrind memcheck: run, run --no-wait then
attach, resume, status, load, schema, runs (and a failing run), against
compass-emu. Each must exit as it does natively with no memcheck error and
no definite or indirect leak (--errors-for-leak-kinds=definite,indirect
--error-exitcode=99). "Still reachable" blocks of libcurl/OpenSSL/gnutls
and json-c are allowed. Run by scripts/valgrind.sh (scripts/test.sh calls
it) against the release build, not by CTest: skipped in a sanitizer build
and when valgrind is missing."""
import os
import re
import shutil
import subprocess
import unittest

from hardlib import (API_KEY, HardCase, SANITIZED, runs, rows_of_run, wf_env, wfharness)

ROWS = 200
VALGRIND = ["valgrind", "--tool=memcheck", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
            "--track-origins=yes", "--child-silent-after-fork=yes", "--num-callers=30"]


def scenario():
    return {"workflows": {
        "w": {"cards": [{"id": "c1", "type": "sql", "ms": 100},
                        {"id": "c2", "type": "transform", "ms": 100}],
              "generate": {"rows": ROWS, "shape": "mixed"}},
        "bad": {"cards": [{"id": "c1", "ms": 50, "status": "errored", "error": "no such table"}],
                "generate": {"rows": 3}},
        "retry": {"cards": [{"id": "c1", "ms": 50}], "generate": {"rows": ROWS}},
    }, "faults": [{"endpoint": "result", "workflow": "retry", "kind": "status", "status": 503},
                  {"endpoint": "result", "workflow": "retry", "kind": "cut", "after_bytes": 100}]}


@unittest.skipIf(SANITIZED, "valgrind does not run sanitizer builds")
@unittest.skipIf(shutil.which("valgrind") is None, "valgrind is not installed")
class Valgrind(HardCase):
    scenario = staticmethod(scenario)

    def vg(self, args, rc=0, input=None, env=None):
        log = self.path("vg-%s.log" % args[0])
        env = env if env is not None else wf_env(self.emu)
        p = subprocess.run(VALGRIND + ["--log-file=" + log, wfharness.WF2SQLITE] + list(args),
                           capture_output=True, text=True, env=env, input=input, timeout=300)
        with open(log) as f:
            report = f.read()
        self.assertNotIn(API_KEY, p.stdout + p.stderr)
        self.assertNotEqual(p.returncode, 99, "memcheck errors or leaks in %s:\n%s" % (args, report))
        self.assertEqual(p.returncode, rc, "%s: rc %d\n%s\n%s" % (args, p.returncode, p.stderr, report))
        m = re.search(r"ERROR SUMMARY: (\d+) errors", report)
        self.assertTrue(m and m.group(1) == "0", report)
        for kind in ("definitely lost", "indirectly lost"):
            m = re.search(kind + r": ([\d,]+) bytes", report)
            self.assertTrue(m is None or m.group(1) == "0", report)
        return p

    def test_main_paths_are_clean_under_memcheck(self):
        db = self.path("v.db")
        self.vg(["run", "w", "--db", db, "-v", "region=emea"])
        self.assertEqual(rows_of_run(db, "wf_w", 1), ROWS)
        self.vg(["run", "retry", "--db", db, "--retries", "3"])  # 503, cut mid-body, then loads
        self.assertEqual(runs(db)[-1]["status"], "loaded")
        self.vg(["run", "bad", "--db", db], rc=5)
        sid = self.vg(["run", "w", "--db", db, "--no-wait"]).stdout.strip()
        self.vg(["status", sid])
        self.vg(["attach", sid, "--db", db, "--workflow", "w", "--json"])
        sid2 = self.vg(["run", "w", "--db", db, "--no-wait", "--table", "r2"]).stdout.strip()
        self.assertTrue(sid2)
        # resume takes only runs whose process is gone: the --no-wait one is
        self.vg(["resume", "--db", db])
        self.assertEqual(runs(db)[-1]["status"], "loaded")
        body = self.path("r.json")
        with open(body, "w") as f:
            f.write('{"schema":[{"id":"a","type":"number"},{"id":"b","type":"string"}],'
                    '"data":[{"a":1,"b":"x"},[2,"y"],{"a":18446744073709551616,"c":{"k":[1]}}],'
                    '"start":0,"end":3,"result":{"summary":{"totalNumberOfRows":3}}}')
        self.vg(["load", body, "--db", db, "--table", "l"])
        self.vg(["load", "-", "--db", db, "--table", "l"], input='{"data":[{"a":NaN}]}', rc=9)
        self.vg(["schema", body])
        # Data before schema: the guess kept; given up at the schema (the
        # rows read back, whole reals and a short row among them); given up
        # mid-stream at a new key (the rest spooled). 3000 rows: several
        # batches, the writer thread.
        for name, first, late in (("dfk", '"a":0', ""), ("dfg", '"a":null', ""),
                                  ("dfm", '"a":0', ',"late":1')):
            rows = ['{%s,"b":"x0","r":1.0}' % first]
            for i in range(1, 3000):
                rows.append('{"a":%d,"b":"x%d","r":%s%s}' % (
                    i, i, "%d.0" % i if i % 7 else "%d.5" % i, late if i > 1500 else "")
                    if i % 11 else '{"b":"short"}')
            path = self.path(name + ".json")
            with open(path, "w") as f:
                f.write('{"data":[%s],"schema":[{"id":"a","type":"number"},{"id":"b",'
                        '"type":"string"},{"id":"r","type":"number"}]}' % ",".join(rows))
            self.vg(["load", path, "--db", db, "--table", name])
            self.assertEqual(rows_of_run(db, name, runs(db)[-1]["run_id"]), 3000)
        self.vg(["runs", "--db", db])
        self.vg(["runs", "--db", db, "--json"])
        self.assertNoKeyAnywhere(db)


if __name__ == "__main__":
    unittest.main()

"""SIGKILL at random points of a large load, many times (SPEC 7: "after any
failure or kill the table holds all of that run's rows or none of them").

A result of ROWS rows (300k bench8 rows, about 47 MB; 30k in the sanitizer
build) is loaded again and again into one database, alternately with `load`
from a file and with `run` against compass-emu, in append and replace modes,
and each process is SIGKILLed after a random delay between 0 and 1.2 times a
full load's duration (seeded: WF_CRASH_SEED, default 20261129), so kills fall
in the start, the wait, the streaming load and the commit. After every kill:
PRAGMA integrity_check is ok, and the table holds whole runs only (rows per
_run_id equal that run's rows_loaded; no rows of runs that are not
loaded/partial; no rows of unknown runs). At the end `resume` is run on the
database and every run is accounted for."""
import os
import random
import signal
import subprocess
import time
import unittest
import urllib.request

from hardlib import (API_KEY, ACCOUNT_ID, HardCase, SANITIZED, integrity, runs,
                     whole_runs_only, wf_env, wfharness)

ROWS = 30000 if SANITIZED else 300000
KILLS = 24
SEED = int(os.environ.get("WF_CRASH_SEED", "20261129"))


def scenario():
    return {"workflows": {"big": {"cards": [{"id": "c1", "type": "sql", "ms": 20}],
                                  "generate": {"rows": ROWS}}},
            "sessions": {"saved": {"workflow": "big", "age_ms": 60000}}}


class Crash(HardCase):
    scenario = staticmethod(scenario)

    def fetch_body(self, path):
        req = urllib.request.Request(
            self.emu.base_url + "/v1/sessions/saved/result",
            headers={"x-scale-api-key": API_KEY, "x-selected-account-id": ACCOUNT_ID})
        with urllib.request.urlopen(req, timeout=60) as resp, open(path, "wb") as f:
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                f.write(chunk)

    def command(self, i, body, db):
        mode = "replace" if i % 4 >= 2 else "append"
        if i % 2 == 0:
            return ["load", body, "--db", db, "--table", "t", "--workflow", "big",
                    "--mode", mode, "-q"]
        return ["run", "big", "--db", db, "--table", "t", "--mode", mode, "-q"]

    def check(self, db, what):
        self.assertEqual(integrity(db), [("ok",)], what)
        self.assertEqual(whole_runs_only(db), [], what)

    def test_sigkill_at_random_points_leaves_whole_runs_only(self):
        rnd = random.Random(SEED)
        body = self.path("body.json")
        db = self.path("crash.db")
        self.fetch_body(body)
        env = wf_env(self.emu)
        # two full loads of each kind: they must work, and time the kills.
        # The faster of the two is the yardstick: the first `run` also waits
        # for the emulator to render the body, so it can take twice a warm
        # one, and kills timed by it would mostly come after the end.
        full = [None, None]
        for i in (0, 1, 0, 1):
            t = time.monotonic()
            r = self.wf(self.command(i, body, db))
            took = time.monotonic() - t
            full[i % 2] = took if full[i % 2] is None else min(full[i % 2], took)
            self.assertEqual(r.rc, 0, repr(r))
        self.check(db, "after the full loads")
        killed = outcomes = 0
        log = []
        for i in range(KILLS):
            args = self.command(i, body, db)
            delay = rnd.uniform(0, 1.2 * full[i % 2])
            p = subprocess.Popen([wfharness.WF2SQLITE] + args, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(delay)
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                killed += 1
            p.wait(120)
            err = p.stderr.read().decode(errors="replace")
            p.stderr.close()
            self.assertNotIn(API_KEY, err)
            self.assertNotIn("Sanitizer", err)
            if p.returncode != -signal.SIGKILL:
                outcomes += 1
                self.assertEqual(p.returncode, 0, err)
            log.append("%d %s after %.3fs: rc %d" % (i, args[0], delay, p.returncode))
            self.check(db, "kill %d (%s)" % (i, "; ".join(log)))
        import sys
        print("\n".join(["full loads: %.2fs (load), %.2fs (run)" % tuple(full)] + log),
              file=sys.stderr)
        self.assertGreaterEqual(killed, KILLS // 2, "most runs should be killed: %s" % log)
        # every killed run is recorded 'running' (or nothing was recorded yet)
        rs = runs(db)
        self.assertTrue(all(r["status"] in ("running", "loaded") for r in rs), rs)
        print("runs: %s" % ", ".join("%d %s %s" % (r["run_id"], r["status"], r["rows_loaded"])
                                     for r in rs), file=sys.stderr)
        # resume takes every killed run whose session is known: each is loaded
        # (or found already loaded) and the table still holds whole runs only
        r = self.wf(["resume", "--db", db, "-q"], timeout=600)
        self.assertEqual(r.rc, 0, repr(r))
        self.check(db, "after resume")
        rs = runs(db)
        self.assertFalse([x for x in rs if x["status"] == "running" and x["session_id"]], rs)
        self.assertNoKeyAnywhere(db)


def scenario_data_first():
    s = scenario()
    s["workflows"]["big"]["generate"]["data_first"] = True
    return s


class CrashDataFirst(Crash):
    """The same with `data` before `schema`: the rows stream into the table
    guessed from the first row (docs/performance.md, "Data first")."""
    scenario = staticmethod(scenario_data_first)


if __name__ == "__main__":
    unittest.main()

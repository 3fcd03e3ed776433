"""`wf2sqlite batch` (SPEC 14) against compass-emu over loopback: the matrix
formats, the batch columns, --parallel, the shared rate limit, mixed
outcomes, --fail-fast, and SIGKILL + --continue. Small row counts, short
timelines (CI budget)."""
import collections
import json
import os
import random
import signal
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import netlib as h  # noqa: E402
from wfharness import Emu, run_wf, spawn_wf, wf_env  # noqa: E402


def scenario(ms=300, rows=20, faults=()):
    """Workflow "w" whose variable "case" picks an outcome: "bad" errors,
    "slow" takes 3 s, anything else takes ms."""
    gen = {"rows": rows}
    return {"workflows": {
        "w": {"cards": [{"id": "c", "ms": ms}], "generate": gen,
              "variants": {"variable": "case", "workflows": {"bad": "w_bad", "slow": "w_slow"}}},
        "w_bad": {"cards": [{"id": "c", "ms": 100, "status": "errored", "error": "boom"}],
                  "generate": gen},
        "w_slow": {"cards": [{"id": "c", "ms": 3000}], "generate": gen}},
        "faults": list(faults)}


def posts(emu):
    """The variable sets POSTed, in order (their "case")."""
    return [json.loads(q["body"])["variables"]["case"]
            for q in emu.requests() if q["method"] == "POST"]


class BatchTest(h.NetTestCase):

    def emu(self, **kw):
        os.makedirs(self.path("emu"), exist_ok=True)
        e = Emu(scenario(**kw), workdir=self.path("emu"))
        e.start()
        self.addCleanup(e.stop)
        return e

    def matrix(self, cases, name="m.jsonl"):
        p = self.path(name)
        with open(p, "w") as f:
            f.write("".join('{"case": "%s"}\n' % c for c in cases))
        return p

    def batch(self, emu, args, **kw):
        r = run_wf(["batch"] + args, emu=emu, **kw)
        self.assertNoKey(r.out + r.err)
        return r

    def db(self):
        return sqlite3.connect(self.path("b.db"))

    def test_every_set_is_its_own_run_with_batch_id_and_index(self):
        emu = self.emu()
        m = self.path("m.jsonl")
        with open(m, "w") as f:
            f.write('{"case": "a"}\n\n   \n{"case": "b", "n": 2}\n{"case": "c"}\n'
                    '{"case": "d"}\n{"case": "e"}\n')
        r = self.batch(emu, ["w", "--matrix", m, "--db", self.path("b.db"), "--parallel", "2",
                             "-v", "common=x", "--json"])
        self.assertEqual(r.rc, 0, repr(r))
        j = r.json()
        self.assertEqual((j["status"], j["total"], j["loaded"], j["exit_code"]),
                         ("done", 5, 5, 0))
        self.assertEqual([x["batch_index"] for x in j["runs"]], [0, 1, 2, 3, 4])
        con = self.db()
        b = con.execute("SELECT batch_id, workflow_id, table_name, matrix, matrix_sha256, total,"
                        " created_at, finished_at, status FROM _wf_batches").fetchall()
        self.assertEqual(len(b), 1)
        bid, wf, table, matrix, sha, total, created, finished, status = b[0]
        self.assertEqual((wf, table, total, status), ("w", "wf_w", 5, "done"))
        self.assertEqual(json.loads(matrix)[1], {"common": "x", "case": "b", "n": 2})
        self.assertRegex(sha, r"^[0-9a-f]{64}$")
        self.assertRegex(created, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertIsNotNone(finished)
        runs = con.execute("SELECT batch_id, batch_index, status, variables FROM _wf_runs "
                           "ORDER BY batch_index").fetchall()
        self.assertEqual([(x[0], x[1], x[2]) for x in runs],
                         [(bid, i, "loaded") for i in range(5)])
        self.assertEqual(json.loads(runs[0][3]), {"common": "x", "case": "a"})
        self.assertEqual(con.execute("SELECT count(*), count(DISTINCT _run_id) FROM wf_w")
                         .fetchone(), (100, 5))
        # --parallel 2: never more than two sessions in flight, and the waits overlap.
        most = max(q["max_active"] for q in emu.requests())
        self.assertEqual(most, 2)
        # runs --batch lists them.
        rr = run_wf(["runs", "--db", self.path("b.db"), "--batch", str(bid), "--json"])
        self.assertEqual(len(rr.json()), 5, repr(rr))

    def test_matrix_from_stdin_and_results_saved_per_run(self):
        emu = self.emu(ms=50)
        saved = self.path("saved")
        r = self.batch(emu, ["w", "--matrix", "-", "--db", self.path("b.db"),
                             "--save-result", saved, "--parallel", "64"],
                       input='{"case": "a"}\n\n{"case": "b"}\n')
        self.assertEqual(r.rc, 0, repr(r))
        ids = [i for (i,) in self.db().execute("SELECT run_id FROM _wf_runs ORDER BY run_id")]
        self.assertEqual(len(ids), 2)
        self.assertEqual(sorted(os.listdir(saved)), sorted("%d.json.gz" % i for i in ids))
        for bad in ("0", "65", "x"):
            r = self.batch(emu, ["w", "--matrix", "-", "--db", self.path("b.db"),
                                 "--parallel", bad], input='{"case": "a"}\n')
            self.assertEqual(r.rc, 2, repr(r))
            self.assertIn("--parallel", r.err)
        self.assertEqual(sorted(posts(emu)), ["a", "b"])

    def test_csv_matrix_each_column_a_variable(self):
        emu = self.emu(ms=50)
        m = self.path("m.csv")
        with open(m, "w") as f:
            f.write('case,note\r\na,"one, two"\r\n\r\nb,"say ""hi""\nthere"\r\n')
        r = self.batch(emu, ["w", "--matrix", m, "--db", self.path("b.db")])
        self.assertEqual(r.rc, 0, repr(r))
        got = [json.loads(v) for (v,) in self.db().execute(
            "SELECT variables FROM _wf_runs ORDER BY batch_index")]
        self.assertEqual(got, [{"case": "a", "note": "one, two"},
                               {"case": "b", "note": 'say "hi"\nthere'}])

    def test_bad_matrix_line_starts_nothing_and_names_the_line(self):
        emu = self.emu()
        m = self.path("m.jsonl")
        with open(m, "w") as f:
            f.write('{"case": "a"}\n\n{"case": "b",}\n{"case": "c"}\n')
        r = self.batch(emu, ["w", "--matrix", m, "--db", self.path("b.db")])
        self.assertEqual(r.rc, 2, repr(r))
        self.assertIn("line 3", r.err)
        self.assertEqual(posts(emu), [])
        self.assertFalse(os.path.exists(self.path("b.db")))
        m2 = self.path("m.csv")
        with open(m2, "w") as f:
            f.write("case,note\na,1\nb\n")
        r = self.batch(emu, ["w", "--matrix", m2, "--db", self.path("b.db")])
        self.assertEqual(r.rc, 2, repr(r))
        self.assertIn("line 3", r.err)
        self.assertEqual(posts(emu), [])

    def test_mixed_outcomes_exit_with_the_first_failed_set_in_matrix_order(self):
        emu = self.emu(ms=100)
        # Set 1 times out (exit 6) after set 3 errored (exit 5): matrix order wins.
        m = self.matrix(["a", "slow", "b", "bad", "c"])
        r = self.batch(emu, ["w", "--matrix", m, "--db", self.path("b.db"), "--parallel", "5",
                             "--timeout", "1500ms", "--json"])
        self.assertEqual(r.rc, 6, repr(r))
        j = r.json()
        self.assertEqual((j["status"], j["loaded"], j["failed"], j["exit_code"]),
                         ("failed", 3, 2, 6))
        self.assertEqual([x["exit_code"] for x in j["runs"]], [0, 6, 0, 5, 0])
        self.assertIn("set 1", j["error"])
        self.assertRegex(r.err, r"set 1 \(run \d+\) \(exit 6\)")
        self.assertRegex(r.err, r"set 3 \(run \d+\) \(exit 5\): .*boom")
        self.assertIn("batch --continue", r.err)
        # The timed-out set is the one --continue takes up; the errored one is not.
        self.assertIn("0 sets not started, 1 unfinished", r.err)
        self.assertEqual(self.db().execute("SELECT status FROM _wf_batches").fetchone(),
                         ("failed",))

    def test_fail_fast_starts_no_new_set_after_a_failure(self):
        emu = self.emu(ms=50)
        m = self.matrix(["a", "bad", "b", "c", "d"])
        r = self.batch(emu, ["w", "--matrix", m, "--db", self.path("b.db"), "--parallel", "1",
                             "--fail-fast"])
        self.assertEqual(r.rc, 5, repr(r))
        self.assertEqual(posts(emu), ["a", "bad"])
        self.assertIn("3 sets not started, 0 unfinished", r.err)

    def test_sets_refused_before_a_session_are_counted_as_not_started(self):
        emu = self.emu(ms=50)
        m = self.matrix(["a", "b", "c"])
        r = self.batch(emu, ["nope", "--matrix", m, "--db", self.path("b.db"),
                             "--parallel", "1"])
        self.assertEqual(r.rc, 4, repr(r))
        self.assertEqual(len([q for q in emu.requests() if q["method"] == "POST"]), 3)
        self.assertIn("set 0: not started (exit 4)", r.err)
        self.assertNotIn("(run 0)", r.err)
        self.assertIn("3 sets not started, 0 unfinished", r.err)
        self.assertIn("batch --continue 1", r.err)

    def test_a_429_slows_every_worker(self):
        emu = self.emu(ms=200, faults=[{"endpoint": "run", "kind": "retry_after", "skip": 2,
                                        "times": 1, "retry_after": "3"}])
        m = self.matrix(["a", "b", "c", "d", "e", "f"])
        r = self.batch(emu, ["w", "--matrix", m, "--db", self.path("b.db"), "--parallel", "4"])
        self.assertEqual(r.rc, 0, repr(r))
        reqs = emu.requests()
        t429 = [q["t_ms"] for q in reqs if q["status"] == 429]
        self.assertEqual(len(t429), 1)
        # Once the 429 is back at the client (a request another worker sent
        # meanwhile may still arrive: 0.5 s of grace), nobody sends a request
        # before its Retry-After of 3 s has passed (2.9 s: the log's clock is
        # whole milliseconds of the arrival of the request head).
        during = [q for q in reqs if t429[0] + 500 < q["t_ms"] < t429[0] + 2900]
        self.assertEqual(during, [])
        after = [q for q in reqs if q["t_ms"] >= t429[0] + 2900]
        self.assertTrue(after)
        # Every worker waited: the sessions running during the 429 (a, b, and
        # whoever was past its POST) ask for nothing until it has passed.
        self.assertGreaterEqual(len({q["path"] for q in after if "/sessions/" in q["path"]}), 2)

    def test_ctrl_c_interrupts_the_batch_and_continue_finishes_it(self):
        emu = self.emu(ms=1500, rows=5)
        cases = ["a", "b", "c", "d"]
        db = self.path("b.db")
        p = spawn_wf(["batch", "w", "--matrix", self.matrix(cases), "--db", db,
                      "--parallel", "2"], emu=emu)
        deadline = time.time() + 10
        while len(posts(emu)) < 2 and time.time() < deadline:
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 130, err)
        self.assertIn("batch --continue 1", err)
        con = sqlite3.connect(db)
        self.assertEqual(con.execute("SELECT status FROM _wf_batches").fetchone(),
                         ("interrupted",))
        self.assertEqual(con.execute("SELECT status, exit_code FROM _wf_runs").fetchall(),
                         [("interrupted", 130)] * 2)
        con.close()
        r = self.batch(emu, ["--continue", "1", "--db", db, "--json"])
        self.assertEqual(r.rc, 0, repr(r))
        self.assertEqual(r.json()["status"], "done")
        self.assertEqual(collections.Counter(posts(emu)), collections.Counter(cases))
        con = sqlite3.connect(db)
        self.assertEqual(con.execute("SELECT count(*), count(DISTINCT batch_index) FROM _wf_runs"
                                     " WHERE status = 'loaded'").fetchone(), (4, 4))

    def test_continue_of_an_unknown_batch_is_exit_2(self):
        emu = self.emu()
        self.batch(emu, ["w", "--matrix", self.matrix(["a"]), "--db", self.path("b.db")])
        r = self.batch(emu, ["--continue", "99", "--db", self.path("b.db")])
        self.assertEqual(r.rc, 2, repr(r))
        self.assertIn("no batch 99", r.err)

    def test_continue_refuses_a_mode_or_key_other_than_the_batchs(self):
        emu = self.emu(ms=10, rows=3)
        db = self.path("b.db")
        m = self.matrix(["a", "b"])
        self.assertEqual(self.batch(emu, ["w", "--matrix", m, "--db", db]).rc, 0)
        con = self.db()
        # Set 1 as if killed before it got a session: --continue starts it.
        con.execute("DELETE FROM _wf_runs WHERE batch_index = 1")
        con.commit()
        before = con.execute("SELECT run_id, status FROM _wf_runs").fetchall()
        n = len(posts(emu))
        r = self.batch(emu, ["--continue", "1", "--db", db, "--mode", "upsert", "--key", "id",
                             "--json"])
        self.assertEqual(r.rc, 2, repr(r))
        self.assertIn("the batch loads with --mode append", r.err)
        self.assertEqual(r.json()["exit_code"], 2)
        self.assertEqual((len(posts(emu)), con.execute("SELECT run_id, status FROM _wf_runs")
                          .fetchall()), (n, before))
        # The batch's own mode given again is accepted.
        r = self.batch(emu, ["--continue", "1", "--db", db, "--mode", "append"])
        self.assertEqual(r.rc, 0, repr(r))
        # An upsert batch: its table's key, and appending into it, with
        # advice batch takes (not --mode replace).
        m2 = self.path("m2.jsonl")
        with open(m2, "w") as f:
            f.write('{"case": "c"}\n{"case": "d"}\n')
        r = self.batch(emu, ["w", "--matrix", m2, "--db", db, "--table", "u", "--mode",
                             "upsert", "--key", "id"])
        self.assertEqual(r.rc, 0, repr(r))
        con.execute("DELETE FROM _wf_runs WHERE batch_id = 2 AND batch_index = 1")
        con.commit()
        r = self.batch(emu, ["--continue", "2", "--db", db, "--mode", "upsert", "--key",
                             "region"])
        self.assertEqual(r.rc, 2, repr(r))
        self.assertIn("keyed by id", r.err)
        r = self.batch(emu, ["--continue", "2", "--db", db, "--mode", "append"])
        self.assertEqual(r.rc, 2, repr(r))
        self.assertIn("--mode upsert --key id", r.err)
        n = len(posts(emu))
        r = self.batch(emu, ["w", "--matrix", m2, "--db", db, "--table", "u"])
        self.assertEqual(r.rc, 2, repr(r))
        self.assertIn("use --mode upsert --key id", r.err)
        self.assertNotIn("replace", r.err)
        self.assertEqual(len(posts(emu)), n)
        self.assertEqual(self.batch(emu, ["--continue", "2", "--db", db]).rc, 0)
        self.assertEqual(con.execute("SELECT count(*) FROM u").fetchone(), (3,))

    def test_sigkill_at_random_moments_then_continue_loads_every_set_once(self):
        emu = self.emu(ms=250, rows=10)
        cases = ["s%02d" % i for i in range(12)]
        m = self.matrix(cases)
        db = self.path("b.db")
        rnd = random.Random(os.environ.get("WF_TEST_SEED") or time.time())
        args = ["w", "--matrix", m, "--db", db, "--parallel", "3"]
        for attempt in range(4):
            p = spawn_wf(["batch"] + args, emu=emu)
            delay = rnd.uniform(0.05, 0.9)
            time.sleep(delay)
            p.send_signal(signal.SIGKILL)
            p.communicate()
            args = ["--continue", "1", "--db", db, "--parallel", "3"]
            if not os.path.exists(db):
                args = ["w", "--matrix", m, "--db", db, "--parallel", "3"]
        r = self.batch(emu, args)
        self.assertEqual(r.rc, 0, repr(r))
        con = sqlite3.connect(db)
        loaded = collections.Counter(i for (i,) in con.execute(
            "SELECT batch_index FROM _wf_runs WHERE status = 'loaded'"))
        self.assertEqual(loaded, collections.Counter(range(12)))
        self.assertEqual(con.execute("SELECT count(*), count(DISTINCT _run_id) FROM wf_w")
                         .fetchone(), (120, 12))
        self.assertEqual(con.execute("SELECT count(*), max(status) FROM _wf_batches")
                         .fetchone(), (1, "done"))
        # No set was started twice once its session id was recorded: each
        # set's recorded session is the last one POSTed for it. A SIGKILL in
        # the instant between the server's answer and the row's commit may
        # leave a session nobody recorded; then the set has no row and is
        # started again (SPEC 14 allows it): at most one per kill.
        recorded = {sid for (sid,) in con.execute("SELECT session_id FROM _wf_runs")}
        started = collections.defaultdict(list)
        for q in emu.requests():
            if q["method"] == "POST" and q["session"]:
                started[json.loads(q["body"])["variables"]["case"]].append(q["session"])
        self.assertEqual(set(started), set(cases))
        unrecorded = 0
        for case, sids in started.items():
            self.assertIn(sids[-1], recorded, (case, sids))
            self.assertEqual([s for s in sids[:-1] if s in recorded], [], (case, sids))
            unrecorded += len(sids) - 1
        self.assertLessEqual(unrecorded, 4)

    def assertEverySetStartedOnce(self, emu, db, cases):
        """Each set POSTed once, loaded once, its rows in the table once."""
        self.assertEqual(collections.Counter(posts(emu)), collections.Counter(cases))
        con = sqlite3.connect(db)
        loaded = collections.Counter(i for (i,) in con.execute(
            "SELECT batch_index FROM _wf_runs WHERE status = 'loaded'"))
        self.assertEqual(loaded, collections.Counter(range(len(cases))))
        self.assertEqual(con.execute("SELECT count(*), count(DISTINCT _run_id) FROM wf_w")
                         .fetchone(), (5 * len(cases), len(cases)))
        con.close()

    def test_continue_while_the_batch_still_runs_starts_no_set_twice(self):
        # SPEC 14: no set is started twice once its session id was
        # recorded. The batch runs the slow sets 0 and 1 on its two workers
        # while a --continue of it starts; each of the sets 2 and 3 must be
        # started by one of the two processes only.
        emu = self.emu(ms=200, rows=5)
        cases = ["slow", "slow", "a", "b"]
        db = self.path("b.db")
        p = spawn_wf(["batch", "w", "--matrix", self.matrix(cases), "--db", db,
                      "--parallel", "2"], emu=emu)
        deadline = time.time() + 10
        while len(posts(emu)) < 2 and time.time() < deadline:
            time.sleep(0.05)
        r = self.batch(emu, ["--continue", "1", "--db", db, "--parallel", "2"])
        p.communicate(timeout=30)
        # The sets the other process ran are not this one's to load: said,
        # with the run that holds each.
        self.assertNotEqual(r.rc, 0, repr(r))
        self.assertIn("still running in process", r.err)
        self.assertEverySetStartedOnce(emu, db, cases)

    def test_two_continues_at_once_start_each_set_once(self):
        emu = self.emu(ms=200, rows=5)
        cases = ["slow", "a", "b", "c"]
        db = self.path("b.db")
        p = spawn_wf(["batch", "w", "--matrix", self.matrix(cases), "--db", db,
                      "--parallel", "1"], emu=emu)
        deadline = time.time() + 10
        while len(posts(emu)) < 1 and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the row of set 0 committed
        p.send_signal(signal.SIGKILL)
        p.communicate()
        args = ["batch", "--continue", "1", "--db", db, "--parallel", "2"]
        c1, c2 = spawn_wf(args, emu=emu), spawn_wf(args, emu=emu)
        out1, err1 = c1.communicate(timeout=30)
        out2, err2 = c2.communicate(timeout=30)
        # Each says what it left to the other (exit 2), or did it all (0).
        self.assertTrue({c1.returncode, c2.returncode} <= {0, 2}, err1 + err2)
        self.assertIn("started meanwhile by another process", err1 + err2)
        # Set 0's session was recorded before the kill: taken over, not
        # started again; every other set once.
        self.assertEqual(collections.Counter(posts(emu)), collections.Counter(cases))
        self.assertEverySetStartedOnce(emu, db, cases)


if __name__ == "__main__":
    unittest.main()

"""Database faults (SPEC 7): a read-only file, a folder that cannot be
written, a database locked by another process past the busy timeout (and
within it), a full disk (a file size limit, and a small tmpfs when mounting
is allowed). Every test asserts the exact exit code, a message naming the
file and the problem, the _wf_runs rows, whole runs only, integrity_check ok,
the key nowhere, and, where a run could not start, that nothing was sent.
A run that started but could not be saved is loaded afterwards with the
printed attach command, or by resume: nothing lost.

The permission tests drop root to nobody (65534) for wf2sqlite, run from a
copy reachable by nobody wherever the checkout lives (tests/lib/asuser.py):
root ignores file modes."""
import json
import os
import re
import resource
import shlex
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import unittest

from hardlib import (API_KEY, HardCase, WfTestCase, integrity, runs, rows_of_run,
                     whole_runs_only, wf_env, wfharness)
from asuser import UserArea, drops_privileges  # noqa: E402 (tests/lib, put on the path by hardlib)

ROWS = 300
BIG_ROWS = 5000  # about 1 MB of mixed rows


def scenario():
    return {"workflows": {
        "w": {"cards": [{"id": "c1", "type": "sql", "ms": 50}],
              "generate": {"rows": ROWS, "shape": "mixed"}},
        "slow": {"cards": [{"id": "c1", "type": "sql", "ms": 1500}],
                 "generate": {"rows": ROWS, "shape": "mixed"}},
        "big": {"cards": [{"id": "c1", "type": "sql", "ms": 50}],
                "generate": {"rows": BIG_ROWS, "shape": "mixed"}},
    }}


def result_file(path, rows, pad=0):
    data = [{"s": "row-%d" % i, "i": i, "pad": "x" * pad} for i in range(rows)]
    with open(path, "w") as f:
        json.dump({"schema": [{"id": "s", "type": "string"}, {"id": "i", "type": "number"},
                              {"id": "pad", "type": "string"}],
                   "data": data, "start": 0, "end": rows,
                   "result": {"summary": {"totalNumberOfRows": rows}}}, f)


class Locker:
    """Another process holding the write lock (BEGIN IMMEDIATE) of a file."""

    def __init__(self, path):
        self.p = subprocess.Popen(
            ["python3", "-c",
             "import sqlite3,sys\n"
             "c=sqlite3.connect(sys.argv[1],isolation_level=None)\n"
             "c.execute('BEGIN IMMEDIATE')\n"
             "print('locked',flush=True)\n"
             "sys.stdin.readline()\n"
             "c.execute('ROLLBACK')\n", path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "locked"

    def release(self):
        if self.p.poll() is None:
            self.p.stdin.write("\n")
            self.p.stdin.flush()
            self.p.wait(10)
            self.p.stdin.close()
            self.p.stdout.close()


class DbFaults(HardCase):
    scenario = staticmethod(scenario)

    def setUp(self):
        super().setUp()
        os.chmod(self.dir, 0o777)

    def wf_as(self, args, env=None, unprivileged=False, limit_fsize=None, timeout=120):
        """Runs wf2sqlite, optionally as nobody (a copy in a UserArea:
        tests/lib/asuser.py) and with a file size limit."""
        def pre():
            if limit_fsize is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit_fsize, limit_fsize))
        env = env if env is not None else wf_env(self.emu)
        binary, kw = wfharness.WF2SQLITE, {}
        if unprivileged:
            area = UserArea(self)
            binary, = area.copy(wfharness.WF2SQLITE)
            kw = area.kwargs()
        p = subprocess.run([binary] + list(args), capture_output=True, text=True,
                           env=env, timeout=timeout, preexec_fn=pre, **kw)
        r = wfharness.Run(args, p.returncode, p.stdout, p.stderr)
        self.assertNotIn("Sanitizer", p.stderr, repr(r))
        self.assertNotIn("runtime error:", p.stderr, repr(r))
        self.assertNotIn(API_KEY, p.stdout + p.stderr)
        return r

    def seed_db(self, db):
        """A database with one loaded run, owned by root, world-readable."""
        src = self.path("seed.json")
        result_file(src, 3)
        r = self.wf(["load", src, "--db", db, "--table", "wf_w"])
        self.assertEqual(r.rc, 0, repr(r))
        con = sqlite3.connect(db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        return runs(db)

    def posts(self):
        return self.requests_of("run")

    def snapshot(self, db):
        out = []
        for p in (db, db + "-wal"):
            if os.path.exists(p):
                with open(p, "rb") as f:
                    out.append((p, f.read()))
        return out

    # ---- permissions -----------------------------------------------------

    @drops_privileges
    def test_read_only_file_exit_7_before_the_run_starts(self):
        db = self.path("ro.db")
        before_runs = self.seed_db(db)
        os.chmod(db, 0o444)
        before = self.snapshot(db)
        n = len(self.posts())
        r = self.wf_as(["run", "w", "--db", db], unprivileged=True)
        self.assertEqual(r.rc, 7, repr(r))
        self.assertIn(db, r.err)
        self.assertRegex(r.err, "read-only|not writable")
        self.assertIn("the run was not started", r.err)
        self.assertEqual(len(self.posts()), n, "a run was started that cannot be saved")
        self.assertEqual(self.snapshot(db), before, "the database changed")
        self.assertEqual(runs(db), before_runs)
        self.assertIntegrity(db)
        self.assertNoKeyAnywhere(db)
        # load refuses the same way, recording nothing
        src = self.path("r.json")
        result_file(src, 5)
        r = self.wf_as(["load", src, "--db", db, "--table", "wf_w"], unprivileged=True)
        self.assertEqual(r.rc, 7, repr(r))
        self.assertRegex(r.err, "read-only|not writable")
        self.assertEqual(runs(db), before_runs)

    @drops_privileges
    def test_folder_not_writable_new_file_exit_7_nothing_sent(self):
        d = self.path("ro-dir")
        os.mkdir(d, 0o555)
        db = os.path.join(d, "new.db")
        n = len(self.posts())
        r = self.wf_as(["run", "w", "--db", db], unprivileged=True)
        self.assertEqual(r.rc, 7, repr(r))
        self.assertIn(db, r.err)
        self.assertIn("the run was not started", r.err)
        self.assertEqual(len(self.posts()), n)
        self.assertFalse(os.path.exists(db))

    @drops_privileges
    def test_folder_not_writable_existing_file_exit_7_nothing_sent(self):
        # WAL needs -wal and -shm beside the file: a writable file in a
        # read-only folder cannot be written either (SQLite error 1544).
        d = self.path("ro-dir2")
        os.mkdir(d)
        db = os.path.join(d, "x.db")
        before_runs = self.seed_db(db)
        os.chmod(db, 0o666)
        os.chmod(d, 0o555)
        n = len(self.posts())
        r = self.wf_as(["run", "w", "--db", db], unprivileged=True)
        self.assertEqual(r.rc, 7, repr(r))
        self.assertIn(d, r.err)
        self.assertRegex(r.err, "not writable|read-only")
        self.assertEqual(len(self.posts()), n)
        os.chmod(d, 0o755)
        self.assertEqual(runs(db), before_runs)
        self.assertIntegrity(db)

    # ---- locks -----------------------------------------------------------

    def test_lock_shorter_than_the_busy_timeout_is_waited_for(self):
        db = self.path("l.db")
        self.seed_db(db)
        lock = Locker(db)
        threading.Timer(1.5, lock.release).start()
        t = time.monotonic()
        r = self.wf(["run", "w", "--db", db])
        took = time.monotonic() - t
        lock.release()
        self.assertLoaded(r, db, "wf_w", ROWS)
        self.assertGreater(took, 1.2, "the lock was not waited for")

    def test_lock_past_the_busy_timeout_at_start_exit_7_nothing_started(self):
        # SPEC 7: a started session is always recorded. run takes the write
        # lock before the POST: past the busy timeout nothing is started
        # (a session nobody could record was the old way), and a second run
        # once the lock is gone loads.
        db = self.path("l2.db")
        before_runs = self.seed_db(db)
        env = wf_env(self.emu, extra={"WF2SQLITE_BUSY_TIMEOUT_MS": "700"})
        started = len(self.requests_of("run"))
        lock = Locker(db)
        try:
            r = self.wf(["run", "w", "--db", db], env=env)
        finally:
            lock.release()
        self.assertEqual(r.rc, 7, repr(r))
        self.assertIn("locked", r.err)
        self.assertIn("the run was not started", r.err)
        self.assertEqual(len(self.requests_of("run")), started)
        self.assertEqual(runs(db), before_runs)
        self.assertIntegrity(db)
        a = self.wf(["run", "w", "--db", db], env=env)
        self.assertEqual(a.rc, 0, repr(a))
        last = runs(db)[-1]
        self.assertEqual((last["status"], last["rows_loaded"]), ("loaded", ROWS))
        self.assertEqual(whole_runs_only(db), [])
        self.assertNoKeyAnywhere(db)

    def test_lock_past_the_busy_timeout_at_load_exit_7_then_resume(self):
        db = self.path("l3.db")
        self.seed_db(db)
        env = wf_env(self.emu, extra={"WF2SQLITE_BUSY_TIMEOUT_MS": "700"})
        p = wfharness.spawn_wf(["run", "slow", "--db", db], env=env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if any(x["status"] == "running" for x in runs(db)):
                break
            time.sleep(0.02)
        lock = Locker(db)
        try:
            out, err = p.communicate(timeout=60)
        finally:
            lock.release()
            p.stdout.close()
            p.stderr.close()
        self.assertNotIn(API_KEY, out + err)
        self.assertEqual(p.returncode, 7, err)
        self.assertIn("locked", err)
        self.assertIn("wf2sqlite attach", err)
        rs = runs(db)
        run = rs[-1]
        # the end of the run could not be written either: still 'running'
        # (its process is gone, so resume takes it) or 'failed'
        self.assertIn(run["status"], ("running", "failed"), run)
        self.assertEqual(rows_of_run(db, "wf_slow", run["run_id"]), 0)
        self.assertIntegrity(db)
        self.assertEqual(whole_runs_only(db), [])
        r = self.wf(["resume", "--db", db] if run["status"] == "running" else
                    ["attach", run["session_id"], "--db", db, "--workflow", "slow"])
        self.assertEqual(r.rc, 0, repr(r))
        last = runs(db)[-1]
        self.assertEqual((last["session_id"], last["status"], last["rows_loaded"]),
                         (run["session_id"], "loaded", ROWS))
        self.assertEqual(whole_runs_only(db), [])
        self.assertNoKeyAnywhere(db)

    def test_processes_creating_one_file_at_once_all_wait_and_load(self):
        # Turning a new file to WAL needs an exclusive lock for which SQLite
        # never calls the busy handler: without a retry, one of several
        # processes creating the file at once failed with exit 7 "locked".
        src = self.path("small.json")
        result_file(src, 50)
        for attempt in range(6):
            db = self.path("race%d.db" % attempt)
            procs = [wfharness.spawn_wf(["load", src, "--db", db, "--table", "t%d" % (i % 2)],
                                        env=wf_env()) for i in range(6)]
            for p in procs:
                out, err = p.communicate(timeout=120)
                self.assertEqual(p.returncode, 0, "attempt %d: %s" % (attempt, err))
            rs = runs(db)
            self.assertEqual([x["status"] for x in rs], ["loaded"] * 6)
            self.assertIntegrity(db)
            self.assertEqual(whole_runs_only(db), [])

    # ---- full disk -------------------------------------------------------

    def check_full(self, r, db, pattern):
        self.assertEqual(r.rc, 7, repr(r))
        self.assertIn(db, r.err)
        self.assertRegex(r.err, pattern)
        self.assertIntegrity(db)
        self.assertEqual(whole_runs_only(db), [])
        rs = runs(db)
        self.assertEqual(rs[0]["status"], "loaded")  # the seed run is intact
        self.assertEqual(rows_of_run(db, "wf_w", rs[0]["run_id"]), 3)
        for x in rs[1:]:
            self.assertNotIn(x["status"], ("loaded", "partial"), x)
            self.assertEqual(rows_of_run(db, "wf_w", x["run_id"]), 0)
        self.assertNoKeyAnywhere(db)

    def test_file_size_limit_mid_load_exit_7_whole_runs_only(self):
        db = self.path("full.db")
        self.seed_db(db)
        src = self.path("big.json")
        result_file(src, 20000, pad=200)
        limit = os.path.getsize(db) + 256 * 1024
        r = self.wf_as(["load", src, "--db", db, "--table", "wf_w"], limit_fsize=limit)
        self.check_full(r, db, "I/O error|disk is full")
        self.assertEqual(runs(db)[-1]["status"], "failed")
        self.assertRegex(runs(db)[-1]["error"], "I/O error|disk is full")

    def test_file_size_limit_during_a_run_exit_7_then_attach(self):
        db = self.path("full2.db")
        self.seed_db(db)
        limit = os.path.getsize(db) + 64 * 1024
        r = self.wf_as(["run", "big", "--db", db, "--table", "wf_w"], limit_fsize=limit)
        self.check_full(r, db, "I/O error|disk is full")
        m = re.search(r"(wf2sqlite attach .*)$", r.err, re.M)
        self.assertTrue(m, repr(r))
        a = self.wf(shlex.split(m.group(1))[1:])
        self.assertEqual(a.rc, 0, repr(a))
        self.assertEqual(runs(db)[-1]["status"], "loaded")
        self.assertEqual(runs(db)[-1]["rows_loaded"], BIG_ROWS)
        self.assertEqual(whole_runs_only(db), [])

    def test_small_filesystem_full_exit_7_disk_full(self):
        mnt = self.path("mnt")
        os.mkdir(mnt)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt],
                           capture_output=True, text=True)
        if p.returncode != 0:
            self.skipTest("cannot mount a tmpfs here (%s); the file size limit test "
                          "covers the failed write" % p.stderr.strip())
        try:
            db = os.path.join(mnt, "f.db")
            self.seed_db(db)
            src = self.path("big.json")
            result_file(src, 20000, pad=200)
            r = self.wf(["load", src, "--db", db, "--table", "wf_w"])
            self.check_full(r, db, "disk is full")
            self.assertEqual(runs(db)[-1]["status"], "failed")
        finally:
            subprocess.run(["umount", "-l", mnt])


if __name__ == "__main__":
    unittest.main()

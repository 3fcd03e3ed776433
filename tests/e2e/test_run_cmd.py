"""wf2sqlite run against compass-emu: configuration errors (exit 2, nothing
sent, no database), the database checked before a run is started, every exit
code of a run and its audit row, exact requests, the key never shown."""
import json
import os
import signal
import stat
import time
import unittest

from netlib import (wait_for_run, API_KEY, ACCOUNT_ID, RESULT, ROWS, EmuTestCase, wf_env, workflow)
from wfharness import db_query, drops_privileges, run_as, run_wf, spawn_wf, unprivileged

HOSTILE = '{"data": [{"n": NaN}], "schema": [{"id": "n", "header": "N", "type": "number"}]}'


def scenario():
    sc = {"workflows": {
        "w": workflow("w-s", cards_ms=(100, 100)),
        "slow": workflow("slow-s", cards_ms=(30000,)),
        "mid": workflow("mid-s", cards_ms=(2500,)),
        "bad": workflow("bad-s", cards_ms=(100, 100)),
        "gone": workflow("gone-s", cards_ms=(100,), final_status="inactive"),
        "hostile": {"session_id": "hostile-s", "cards": [{"id": "c1", "ms": 50}],
                    "result_raw": HOSTILE},
        "boom": workflow("boom-s"),
        "redir": workflow("redir-s"),
        "busy": workflow("busy-s"),
        "jammed": workflow("jammed-s"),
    }, "faults": [
        {"endpoint": "run", "workflow": "jammed", "kind": "retry_after",
         "retry_after": 99999999999, "times": -1},
        {"endpoint": "run", "workflow": "boom", "kind": "status", "status": 500, "after_run": True},
        {"endpoint": "session", "workflow": "redir", "kind": "redirect", "status": 302,
         "times": -1},
        {"endpoint": "run", "workflow": "busy", "kind": "retry_after", "retry_after": 1},
    ]}
    sc["workflows"]["bad"]["cards"][1].update({"status": "errored",
                                               "error": "division by zero in card c2"})
    return sc


class RunTest(EmuTestCase):
    scenario = staticmethod(scenario)

    def tearDown(self):
        self.assertNoKeyInFiles()
        super().tearDown()

    def runs(self, db):
        con_rows = db_query(db, "SELECT run_id, session_id, workflow_id, table_name, mode, status, "
                                "error, variables, rows_loaded, pid, api_host FROM _wf_runs "
                                "ORDER BY run_id")
        keys = ["run_id", "session_id", "workflow_id", "table", "mode", "status", "error",
                "variables", "rows_loaded", "pid", "api_host"]
        return [dict(zip(keys, r)) for r in con_rows]

    def sessions_of(self, wf):
        return [q for q in self.calls(self.emu, "run") if json.loads(q["body"])["workflowId"] == wf]

    # ---- success -----------------------------------------------------------

    def test_run_loads_and_records(self):
        db = self.path("a.db")
        r = self.wf(["run", "w", "--db", db, "-v", "region=emea", "--var", "k=v=w"])
        self.assertRc(r, 0)
        self.assertEqual(r.out, "")
        self.assertIn("loaded 5 rows into wf_w", r.err)
        rows = db_query(db, 'SELECT n, s FROM "wf_w" ORDER BY _row')
        self.assertEqual(rows, [(x["n"], x["s"]) for x in ROWS])
        (run,) = self.runs(db)
        self.assertEqual(run["status"], "loaded")
        self.assertEqual(run["workflow_id"], "w")
        self.assertEqual(run["table"], "wf_w")
        self.assertEqual(run["rows_loaded"], 5)
        self.assertEqual(json.loads(run["variables"]), {"region": "emea", "k": "v=w"})
        self.assertEqual(run["api_host"], "127.0.0.1:%d" % self.emu.port)
        self.assertEqual(run["pid"] > 0, True)
        sid = run["session_id"]
        self.assertTrue(sid.startswith("w-s"))
        post = [q for q in self.sessions_of("w") if json.loads(q["body"]).get("variables")
                == {"region": "emea", "k": "v=w"}]
        self.assertEqual(len(post), 1)
        self.assertEqual(post[0]["headers"]["content-type"], "application/json")
        self.assertEqual(post[0]["headers"]["x-scale-api-key"], API_KEY)
        self.assertEqual(post[0]["headers"]["x-selected-account-id"], ACCOUNT_ID)

    def test_run_json_and_poll_mode(self):
        db = self.path("a.db")
        r = self.wf(["run", "w", "--db", db, "--json", "--wait", "poll",
                          "--poll-interval", "100ms", "--table", "t1", "--mode", "replace"])
        self.assertRc(r, 0)
        j = r.json()
        self.assertEqual(j["status"], "loaded")
        self.assertEqual(j["rows_loaded"], 5)
        self.assertEqual(j["table"], "t1")
        self.assertEqual(j["mode"], "replace")
        self.assertEqual(j["exit_code"], 0)
        self.assertIsNone(j["error"])
        self.assertEqual(db_query(db, 'SELECT count(*) FROM "t1"'), [(5,)])

    def test_verbose_trace_has_the_key_redacted(self):
        db = self.path("a.db")
        r = self.wf(["run", "w", "--db", db, "--verbose"])
        self.assertRc(r, 0)
        self.assertIn("x-scale-api-key: [redacted]", r.err)

    def test_wrong_key_not_shown_anywhere(self):
        db = self.path("a.db")
        r = run_wf(["run", "w", "--db", db, "--verbose"],
                   env=wf_env(self.emu, key="Sup3rSecret-wrong"))
        self.assertRc(r, 3)
        self.assertNotIn("Sup3rSecret-wrong", r.out + r.err)
        self.assertNoKeyInFiles("Sup3rSecret-wrong")
        # Nothing started: no run recorded.
        self.assertEqual(self.runs(db), [])

    # ---- failures after the start --------------------------------------------

    def test_errored_card_exit_5_with_every_message(self):
        db = self.path("a.db")
        r = self.wf(["run", "bad", "--db", db])
        self.assertRc(r, 5)
        self.assertIn("division by zero in card c2", r.err)
        (run,) = self.runs(db)
        self.assertEqual(run["status"], "errored")
        self.assertIn("division by zero", run["error"])
        self.assertIn("--allow-partial", r.err)
        self.assertEqual(db_query(db, "SELECT count(*) FROM sqlite_master WHERE name='wf_bad'"),
                         [(0,)])
        cards = db_query(db, "SELECT card_id, status, error_message FROM _wf_cards "
                             "WHERE run_id=? ORDER BY position", (run["run_id"],))
        self.assertEqual([c[0] for c in cards], ["c1", "c2"])
        self.assertEqual(cards[1][2], "division by zero in card c2")

    def test_errored_with_allow_partial_loads_as_partial(self):
        db = self.path("a.db")
        r = self.wf(["run", "bad", "--db", db, "--allow-partial", "--json"])
        self.assertRc(r, 0)
        self.assertEqual(r.json()["status"], "partial")
        (run,) = self.runs(db)
        self.assertEqual(run["status"], "partial")
        self.assertIn("division by zero", run["error"])
        self.assertEqual(db_query(db, 'SELECT count(*) FROM "wf_bad"'), [(5,)])

    def test_inactive_exit_5(self):
        db = self.path("a.db")
        r = self.wf(["run", "gone", "--db", db])
        self.assertRc(r, 5)
        self.assertEqual(self.runs(db)[0]["status"], "inactive")

    def test_timeout_exit_6_then_the_printed_command_continues(self):
        db = self.path("my db.db")
        r = self.wf(["run", "mid", "--db", db, "--timeout", "500ms", "--table", "t x",
                          "--json"])
        self.assertRc(r, 6)
        j = r.json()
        self.assertEqual(j["status"], "timeout")
        self.assertEqual(j["exit_code"], 6)
        sid = j["session_id"]
        self.assertIn(sid, j["error"])
        (run,) = self.runs(db)
        self.assertEqual(run["status"], "timeout")
        line = [l for l in r.err.splitlines() if "continue with:" in l][0]
        cmd = line.split("continue with: ", 1)[1]
        self.assertIn("wf2sqlite attach %s --db '%s' --table 't x' --workflow mid" % (sid, db), cmd)
        # Run exactly the printed command (through a shell, as a user would).
        import shlex
        args = shlex.split(cmd)[1:]
        r2 = self.wf(args + ["--json"])
        self.assertRc(r2, 0)
        self.assertEqual(r2.json()["status"], "loaded")
        # SPEC 7: continuing the session takes its row over (same run_id).
        self.assertEqual([(x["run_id"], x["status"]) for x in self.runs(db)],
                         [(run["run_id"], "loaded")])
        self.assertEqual(db_query(db, 'SELECT count(*) FROM "t x"'), [(5,)])

    def test_post_500_after_start_exit_8_run_sent_once(self):
        db = self.path("a.db")
        before = len(self.sessions_of("boom"))
        r = self.wf(["run", "boom", "--db", db, "--retries", "3"])
        self.assertRc(r, 8)
        self.assertEqual(len(self.sessions_of("boom")) - before, 1)
        self.assertIn("may have started", r.err)
        self.assertEqual(self.runs(db), [])

    def test_post_429_retried_after_retry_after(self):
        db = self.path("a.db")
        r = self.wf(["run", "busy", "--db", db])
        self.assertRc(r, 0)
        posts = self.sessions_of("busy")
        self.assertEqual([q["status"] for q in posts], [429, 200])
        self.assertGreaterEqual(posts[1]["t_ms"] - posts[0]["t_ms"], 950)

    def test_post_retry_after_beyond_the_timeout_gives_up_at_the_deadline(self):
        db = self.path("a.db")
        before = len(self.sessions_of("jammed"))
        t0 = time.monotonic()
        r = self.wf(["run", "jammed", "--db", db, "--timeout", "1500ms"])
        self.assertRc(r, 6)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIn("the run was not started", r.err)
        self.assertEqual(len(self.sessions_of("jammed")) - before, 1)
        self.assertEqual(self.runs(db), [])

    def test_post_429_without_retries_exit_8(self):
        db = self.path("a.db")
        r = self.wf(["run", "jammed", "--db", db, "--retries", "0"])
        self.assertRc(r, 8)
        self.assertIn("HTTP 429", r.err)
        self.assertIn("the run was not started", r.err)

    def test_redirect_exit_8_key_never_sent_elsewhere(self):
        db = self.path("a.db")
        r = self.wf(["run", "redir", "--db", db])
        self.assertRc(r, 8)
        self.assertIn("redirect", r.err)
        self.assertEqual([q for q in self.emu.requests() if q["origin"] == "other"], [])
        self.assertEqual(self.runs(db)[0]["status"], "failed")

    def test_hostile_result_exit_9_table_untouched(self):
        db = self.path("a.db")
        r = self.wf(["run", "hostile", "--db", db])
        self.assertRc(r, 9)
        (run,) = self.runs(db)
        self.assertEqual(run["status"], "failed")
        self.assertEqual(db_query(db, "SELECT count(*) FROM sqlite_master WHERE name='wf_hostile'"),
                         [(0,)])

    def test_unknown_workflow_exit_4(self):
        db = self.path("a.db")
        r = self.wf(["run", "nope", "--db", db])
        self.assertRc(r, 4)
        self.assertIn("workflow not found", r.err)

    def test_sigint_while_waiting_exit_130_recorded_interrupted(self):
        db = self.path("a.db")
        p = spawn_wf(["run", "slow", "--db", db], emu=self.emu)
        wait_for_run(db)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 130, err)
        (run,) = self.runs(db)
        self.assertEqual(run["status"], "interrupted")
        self.assertIn("wf2sqlite attach %s" % run["session_id"], err)
        self.assertNoKey(out + err)

    def test_sigterm_while_waiting_exit_130(self):
        db = self.path("a.db")
        p = spawn_wf(["run", "slow", "--db", db, "--wait", "poll"], emu=self.emu)
        wait_for_run(db)
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 130, err)
        self.assertEqual(self.runs(db)[0]["status"], "interrupted")


class ConfigTest(EmuTestCase):
    """Every configuration error: exit 2, nothing sent, no database made."""
    scenario = staticmethod(lambda: {"workflows": {"w": workflow("w-s", cards_ms=(50,))}})

    def check2(self, args, env=None, want=None):
        db = self.path("never.db")
        before = len(self.emu.requests())
        r = run_wf(["run", "w", "--db", db] + args, emu=self.emu, env=env)
        self.assertRc(r, 2)
        self.assertEqual(len(self.emu.requests()), before, "a request was sent: %r" % r)
        self.assertFalse(os.path.exists(db), "the database was created: %r" % r)
        self.assertNoKey(r.out + r.err)
        self.assertEqual(len(r.err.strip().splitlines()), 1, r.err)
        if want:
            self.assertIn(want, r.err)
        return r

    def test_missing_key(self):
        self.check2([], env=wf_env(self.emu, key=None), want="SCALE_API_KEY")

    def test_missing_account(self):
        self.check2([], env=wf_env(self.emu, account=None), want="SCALE_ACCOUNT_ID")

    def test_missing_base_url(self):
        self.check2([], env=wf_env(None), want="SGP_BASE_URL")

    def test_plain_http_to_another_host(self):
        self.check2(["--base-url", "http://example.com/corp-api/compass/api"], want="https://")

    def test_malformed_url(self):
        self.check2(["--base-url", "https://exa mple.com/x"], want="--base-url")
        self.check2(["--base-url", "ftp://example.com/x"], want="--base-url")

    def test_key_with_newline(self):
        self.check2([], env=wf_env(self.emu, key=API_KEY + "\r\nX-Injected: 1"),
                    want="printable ASCII")

    def test_account_with_space(self):
        self.check2([], env=wf_env(self.emu, account="a b"), want="account id")

    def test_key_file_missing(self):
        self.check2(["--api-key-file", self.path("nokey")], want="nokey")

    def test_cacert_missing(self):
        self.check2(["--cacert", self.path("ca.pem")], want="--cacert")

    def test_bad_durations(self):
        self.check2(["--timeout", "-5s"], want="negative")
        self.check2(["--timeout", "10 minutes"], want="--timeout")
        self.check2(["--timeout", "0"], want="--timeout")
        self.check2(["--poll-interval", "5x"], want="--poll-interval")
        self.check2(["--timeout", "99999999999999999999h"], want="too large")

    def test_bad_retries(self):
        self.check2(["--retries", "-1"], want="--retries")
        self.check2(["--retries", "lots"], want="--retries")
        self.check2(["--retries", "1000"], want="--retries")

    def test_bad_wait_and_mode(self):
        self.check2(["--wait", "sometimes"], want="--wait")
        self.check2(["--mode", "merge"], want="merge")

    def test_var_without_equals(self):
        self.check2(["--var", "region"], want="KEY=VALUE")

    def test_vars_number_that_cannot_be_sent_as_written(self):
        vf = self.path("vars.json")
        with open(vf, "w") as f:
            f.write('{"year": 2024, "id": 123456789012345678901234567890}')
        self.check2(["--vars", vf], want="'id'")

    def test_key_on_command_line_refused(self):
        r = run_wf(["run", "w", "--api-key", API_KEY], emu=self.emu)
        self.assertRc(r, 2)
        self.assertIn("never accepted on the command line", r.err)

    def test_invalid_table_name_exit_2_nothing_sent(self):
        before = len(self.emu.requests())
        r = run_wf(["run", "w", "--db", self.path("a.db"), "--table", "sqlite_x"], emu=self.emu)
        self.assertRc(r, 2)
        self.assertEqual(len(self.emu.requests()), before)

    def test_mode_fail_with_existing_table_exit_7_nothing_sent(self):
        db = self.path("a.db")
        self.assertRc(run_wf(["run", "w", "--db", db, "--table", "t"], emu=self.emu), 0)
        before = len(self.emu.requests())
        r = run_wf(["run", "w", "--db", db, "--table", "t", "--mode", "fail"], emu=self.emu)
        self.assertRc(r, 7)
        self.assertIn("not started", r.err)
        self.assertEqual(len(self.emu.requests()), before)

    # Root ignores file modes: as root these run the binary as nobody
    # (a copy nobody can reach: tests/lib/asuser.py).

    @drops_privileges
    def test_unwritable_folder_exit_7_nothing_sent(self):
        binary, kw = unprivileged(self)
        d = self.path("ro")
        os.mkdir(d)
        os.chmod(d, 0o555)
        try:
            before = len(self.emu.requests())
            r = run_as(binary, ["run", "w", "--db", os.path.join(d, "a.db")], kw,
                       wf_env(self.emu))
            self.assertRc(r, 7)
            self.assertIn(d, r.err)
            self.assertIn("not started", r.err)
            self.assertEqual(len(self.emu.requests()), before)
        finally:
            os.chmod(d, stat.S_IRWXU)

    @drops_privileges
    def test_unwritable_db_file_exit_7_nothing_sent(self):
        db = self.path("a.db")
        self.assertRc(run_wf(["run", "w", "--db", db], emu=self.emu), 0)
        binary, kw = unprivileged(self)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.chmod(db + suffix, 0o444)
        try:
            before = len(self.emu.requests())
            r = run_as(binary, ["run", "w", "--db", db], kw, wf_env(self.emu))
            self.assertRc(r, 7)
            self.assertIn("not started", r.err)
            self.assertEqual(len(self.emu.requests()), before)
        finally:
            os.chmod(db, stat.S_IRUSR | stat.S_IWUSR)


if __name__ == "__main__":
    unittest.main()

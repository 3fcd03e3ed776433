"""SPEC sections 1-4, 8 and 9 sentence by sentence: the command line, the
defaults, waiting, the exit codes and their messages, checked against the real
binary and compass-emu (the sentences other tests already prove are not
repeated here)."""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from netlib import (RESULT, API_KEY, ACCOUNT_ID, API_PATH, EmuTestCase,  # noqa: E402
                    wait_for_run, workflow, wf_env)
import wfharness  # noqa: E402
from wfharness import db_query, run_wf  # noqa: E402

JQ = shutil.which("jq")


def scenario():
    return {
        "workflows": {
            "w1": workflow(cards_ms=(50, 50), partial=False),
            "slow": workflow(cards_ms=(60000,)),
            # An idle session whose cards errored (SPEC 4: exit 5, nothing loaded).
            "idlebad": {"cards": [{"id": "c1", "type": "sql", "ms": 30, "status": "errored",
                                   "error": "bad rows skipped", "session_continues": True},
                                  {"id": "c2", "type": "chart", "ms": 30, "status": "errored",
                                   "error": "chart failed", "session_continues": True},
                                  {"id": "c3", "ms": 10}],
                        "final_status": "idle", "result": RESULT},
            "gone": workflow(cards_ms=(10,), final_status="inactive", partial=False),
            "w500": workflow(cards_ms=(10,), partial=False),
            "w502": workflow(cards_ms=(10,), partial=False),
            "w409": workflow(cards_ms=(10,), partial=False),
            "wjunk": workflow(cards_ms=(10,), partial=False),
            "walt": workflow(cards_ms=(10,), partial=False),
            "walt2": workflow(cards_ms=(10,), partial=False),
            "odd_poll": workflow(cards_ms=(10,), partial=False),
            "odd_block": workflow(cards_ms=(10,), partial=False),
            # A login page where the result should be (a proxy in the way).
            "whtml": {"cards": [{"id": "c", "ms": 10}], "result_content_type": "text/html",
                      "result_raw": "\n<!DOCTYPE html><html><head><meta charset=utf-8>"
                                    "<title>Corporate\n  Login</title></head><body>"
                                    "<form>user</form></body></html>"},
        },
        "sessions": {"s500": {"workflow": "w500", "age_ms": 60000},
                     "s409": {"workflow": "w409", "age_ms": 60000},
                     "sjunk": {"workflow": "wjunk", "age_ms": 60000},
                     "salt": {"workflow": "walt", "age_ms": 60000},
                     "salt2": {"workflow": "walt2", "age_ms": 60000},
                     "s502": {"workflow": "w502", "age_ms": 60000}},
        "faults": [
            # Transient failures of changing kinds, then the normal answer.
            *[{"endpoint": "session", "workflow": w, "kind": "status", "status": code}
              for w in ("walt", "walt2") for code in (503, 502, 503)],
            # Statuses that are not exactly idle/errored/inactive: keep waiting.
            *[{"endpoint": "session", "workflow": w, "kind": "status", "status": 200,
               "times": 1, "body": {"sessionState": {"status": st, "cards": []}}}
              for w in ("odd_poll", "odd_block")
              for st in ("queued", "Idle", "IDLE", "idle ", "completed")],
            {"endpoint": "session", "workflow": "wjunk", "kind": "status", "status": 200,
             "times": -1, "content_type": "text/html", "body": "<html>welcome</html>"},
            {"endpoint": "session", "workflow": "w409", "kind": "status", "status": 409,
             "times": -1, "body": {"error": "Conflict", "message": "session is locked",
                                   "status_code": 409}},
            {"endpoint": "session", "workflow": "w500", "kind": "status", "status": 500,
             "times": -1, "body": {"error": "Internal Server Error",
                                   "message": "database on fire", "status_code": 500}},
            {"endpoint": "session", "workflow": "w502", "kind": "status", "status": 502,
             "times": -1, "content_type": "text/html",
             "body": "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"},
        ],
    }


def free_port():
    """A loopback port nothing listens on."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SpecCliTest(EmuTestCase):
    scenario = staticmethod(scenario)

    def wf(self, *args, **kw):
        return super().wf(list(args), **kw)

    # --- SPEC 4: an idle session with errored cards -----------------------

    def test_idle_session_with_errored_cards_exit_5_every_message_nothing_loaded(self):
        db = self.path("t.db")
        r = self.wf("run", "idlebad", "--db", db)
        self.assertRc(r, 5)
        self.assertIn("bad rows skipped", r.err)
        self.assertIn("chart failed", r.err)
        self.assertIn("--allow-partial", r.err)
        rows = db_query(db, "SELECT run_id, status, error FROM _wf_runs")
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][1], "errored")
        self.assertIn("bad rows skipped", rows[0][2])
        self.assertIn("chart failed", rows[0][2])
        cards = db_query(db, "SELECT card_id, card_type, status, error_message FROM _wf_cards "
                             "WHERE run_id = ? ORDER BY position", (rows[0][0],))
        self.assertEqual(cards, [("c1", "sql", "errored", "bad rows skipped"),
                                 ("c2", "chart", "errored", "chart failed"),
                                 ("c3", "transform", "completed", None)])
        tables = [t for (t,) in db_query(db, "SELECT name FROM sqlite_master WHERE type='table'")]
        self.assertNotIn("wf_idlebad", tables)

    def test_idle_session_with_errored_cards_allow_partial_loads_as_partial(self):
        db = self.path("t.db")
        r = self.wf("run", "idlebad", "--db", db, "--allow-partial", "--json")
        self.assertRc(r, 0)
        self.assertEqual(r.json()["status"], "partial")
        self.assertEqual(db_query(db, "SELECT count(*) FROM wf_idlebad")[0][0], 5)
        (status, error), = db_query(db, "SELECT status, error FROM _wf_runs")
        self.assertEqual(status, "partial")
        self.assertIn("chart failed", error)

    # --- SPEC 3: --no-wait, then attach loads it where run meant it to go --

    def test_attach_without_table_uses_the_table_and_mode_run_no_wait_recorded(self):
        db = self.path("t.db")
        r = self.wf("run", "w1", "--db", db, "--no-wait", "--table", "X", "--mode", "replace")
        self.assertRc(r, 0)
        sid = r.out.strip()
        a = self.wf("attach", sid, "--db", db, "--json")
        self.assertRc(a, 0)
        out = a.json()
        self.assertEqual((out["table"], out["mode"], out["workflow_id"], out["status"]),
                         ("X", "replace", "w1", "loaded"))
        self.assertEqual(db_query(db, "SELECT count(*) FROM X")[0][0], 5)
        self.assertEqual(db_query(db, "SELECT run_id, workflow_id, table_name, mode, status "
                                      "FROM _wf_runs"), [(1, "w1", "X", "replace", "loaded")])
        # Again: already in X, nothing loaded, exit 0.
        b = self.wf("attach", sid, "--db", db)
        self.assertRc(b, 0)
        self.assertIn("already", b.err)
        self.assertEqual(db_query(db, "SELECT count(*) FROM _wf_runs")[0][0], 1)

    def test_attach_with_table_overrides_the_recorded_one(self):
        db = self.path("t.db")
        sid = self.wf("run", "w1", "--db", db, "--no-wait", "--table", "X").out.strip()
        a = self.wf("attach", sid, "--db", db, "--table", "Y", "--json")
        self.assertRc(a, 0)
        self.assertEqual(a.json()["table"], "Y")
        self.assertEqual(a.json()["workflow_id"], "w1")
        self.assertEqual(db_query(db, "SELECT count(*) FROM Y")[0][0], 5)

    # --- SPEC 3: options and defaults ---------------------------------------

    def test_db_default_is_workflows_db_then_env_then_option(self):
        env = wf_env(self.emu)
        r = run_wf(["run", "w1", "-q"], env=env, cwd=self.dir)
        self.assertRc(r, 0)
        self.assertEqual(db_query(self.path("workflows.db"), "SELECT count(*) FROM wf_w1"), [(5,)])
        env["WF2SQLITE_DB"] = self.path("env.db")
        self.assertRc(run_wf(["run", "w1", "-q"], env=env, cwd=self.dir), 0)
        self.assertEqual(db_query(self.path("env.db"), "SELECT count(*) FROM _wf_runs"), [(1,)])
        self.assertRc(run_wf(["run", "w1", "-q", "--db", self.path("opt.db")], env=env,
                             cwd=self.dir), 0)
        self.assertEqual(db_query(self.path("opt.db"), "SELECT count(*) FROM _wf_runs"), [(1,)])
        self.assertEqual(db_query(self.path("env.db"), "SELECT count(*) FROM _wf_runs"), [(1,)])

    def test_status_and_schema_touch_no_database(self):
        sid = self.wf("run", "w1", "--db", self.path("t.db"), "--no-wait").out.strip()
        work = self.path("empty")
        os.mkdir(work)
        env = wf_env(self.emu, extra={"WF2SQLITE_DB": os.path.join(work, "env.db")})
        r = run_wf(["status", sid], env=env, cwd=work)
        self.assertRc(r, 0)
        self.assertIn(sid, r.out)
        body = self.path("body.json")
        with open(body, "w") as f:
            json.dump(RESULT, f)
        r = run_wf(["schema", body], env=env, cwd=work)
        self.assertRc(r, 0)
        self.assertIn("CREATE TABLE", r.out)
        self.assertEqual(os.listdir(work), [])

    def test_vars_from_stdin_and_repeated_var_are_posted(self):
        db = self.path("t.db")
        before = len(self.calls(self.emu, "run"))
        r = self.wf("run", "w1", "--db", db, "--no-wait", "--vars", "-", "-v", "b=over",
                    "--var", "c=3", "-v", "c=4", input='{"a": "1", "b": "x y"}')
        self.assertRc(r, 0)
        posts = self.calls(self.emu, "run")[before:]
        self.assertEqual(len(posts), 1)
        sent = json.loads(posts[0]["body"])
        self.assertEqual(sent, {"workflowId": "w1",
                                "variables": {"a": "1", "b": "over", "c": "4"}})
        self.assertEqual(posts[0]["headers"]["content-type"], "application/json")
        self.assertEqual(json.loads(db_query(db, "SELECT variables FROM _wf_runs")[0][0]),
                         sent["variables"])
        vf = self.path("vars.json")
        with open(vf, "w") as f:
            f.write('{"region": "emea"}')
        self.assertRc(self.wf("run", "w1", "--db", db, "--no-wait", "--vars", vf), 0)
        self.assertEqual(json.loads(self.calls(self.emu, "run")[-1]["body"])["variables"],
                         {"region": "emea"})

    def test_short_option_takes_its_value_attached_as_getopt(self):
        r = self.wf("run", "w1", "--db", self.path("t.db"), "--no-wait", "-vregion=x y",
                    "-v", "n=1")
        self.assertRc(r, 0)
        self.assertEqual(json.loads(self.calls(self.emu, "run")[-1]["body"])["variables"],
                         {"region": "x y", "n": "1"})
        # Before the command too; a flag takes nothing attached.
        r = self.wf("-vregion=z", "run", "w1", "--db", self.path("t.db"), "--no-wait")
        self.assertRc(r, 0)
        self.assertEqual(json.loads(self.calls(self.emu, "run")[-1]["body"])["variables"],
                         {"region": "z"})
        r = self.wf("run", "w1", "-qx")
        self.assertRc(r, 2)
        self.assertIn("unknown option: -qx", r.err)
        # A command without -v names the option, not its value.
        r = self.wf("runs", "--db", self.path("t.db"), "-vsecret=1")
        self.assertRc(r, 2)
        self.assertIn("does not take the option -v\n", r.err)
        self.assertNotIn("secret", r.err)

    def test_empty_db_is_refused_and_nothing_is_created(self):
        work = self.path("emptydb")
        os.mkdir(work)
        before = len(self.calls(self.emu, "run"))
        for args in (["run", "w1"], ["runs"], ["batch", "w1", "--matrix", "-"],
                     ["load", "-"], ["check"]):
            r = run_wf(args + ["--db", ""], env=wf_env(self.emu), cwd=work, input="{}")
            self.assertRc(r, 2)
            self.assertIn("--db is empty", r.err)
        self.assertEqual(os.listdir(work), [])
        self.assertEqual(len(self.calls(self.emu, "run")), before)

    def test_vars_values_of_any_type_are_posted_as_written(self):
        vf = self.path("vars.json")
        text = '{"year": 2024, "rate": 0.10, "on": true, "none": null, "list": ["a", 1]}'
        with open(vf, "w") as f:
            f.write(text)
        r = self.wf("run", "w1", "--db", self.path("t.db"), "--no-wait", "--vars", vf)
        self.assertRc(r, 0)
        body = self.calls(self.emu, "run")[-1]["body"]
        self.assertIn('"rate":0.10', body)
        self.assertEqual(json.loads(body)["variables"], json.loads(text))

    def test_timeout_units(self):
        for text, secs in (("1500ms", 1.5), ("1", 1.0), ("0.02m", 1.2)):
            t0 = time.monotonic()
            r = self.wf("run", "slow", "--db", self.path("t.db"), "--timeout", text, "-q")
            took = time.monotonic() - t0
            self.assertRc(r, 6)
            self.assertGreaterEqual(took, secs - 0.05, text)
            self.assertLess(took, secs + 3, text)
        # h and s are accepted too (the run ends long before).
        for text in ("1h", "90s"):
            self.assertRc(self.wf("run", "w1", "--db", self.path("t.db"), "--timeout", text,
                                  "--wait", "poll", "--poll-interval", "0.1s", "-q"), 0)

    def test_poll_interval_spaces_the_session_polls(self):
        before = len(self.emu.requests())
        r = self.wf("run", "w1", "--db", self.path("t.db"), "--wait", "poll",
                    "--poll-interval", "200ms", "-q")
        self.assertRc(r, 0)
        reqs = self.emu.requests()[before:]
        polls = [q["t_ms"] for q in reqs
                 if "/sessions/" in q["path"] and not q["path"].endswith("/result")]
        results = [q for q in reqs if q["path"].endswith("/result")]
        self.assertEqual(len(results), 1)  # poll: the result is fetched once
        gaps = [b - a for a, b in zip(polls, polls[1:])]
        self.assertTrue(gaps, reqs)
        self.assertTrue(all(g >= 150 for g in gaps), gaps)

    def test_quiet_prints_only_errors(self):
        r = self.wf("run", "w1", "--db", self.path("t.db"), "-q")
        self.assertRc(r, 0)
        self.assertEqual(r.err, "")
        r = self.wf("run", "idlebad", "--db", self.path("t.db"), "--quiet")
        self.assertRc(r, 5)
        lines = r.err.strip().splitlines()
        self.assertTrue(lines)
        self.assertTrue(all(line.startswith("wf2sqlite: ") for line in lines), lines)
        self.assertFalse(any("started session" in line or "[0:" in line for line in lines))

    # --- SPEC 4: the terminal states are exactly idle, errored, inactive ---

    def test_unknown_or_miscased_statuses_mean_keep_waiting(self):
        for wf, mode in (("odd_poll", "poll"), ("odd_block", "block")):
            db = self.path(wf + ".db")
            before = len(self.calls(self.emu, "session"))
            r = self.wf("run", wf, "--db", db, "--wait", mode, "--poll-interval", "50ms",
                        "--json")
            self.assertRc(r, 0)
            self.assertEqual(r.json()["status"], "loaded")
            self.assertEqual(r.json()["rows_loaded"], 5)
            # The five odd answers were read, and the wait went on past them.
            self.assertGreaterEqual(len(self.calls(self.emu, "session")) - before, 6, mode)

    # --- SPEC 8: every error message names what failed and what to do ------

    def test_refused_connection_exit_8_says_check_the_base_url(self):
        url = "http://127.0.0.1:%d%s" % (free_port(), API_PATH)
        r = self.wf("run", "w1", "--db", self.path("t.db"), "--base-url", url, "--retries", "1")
        self.assertRc(r, 8)
        # SPEC 4: before any answer, refused is a configuration mistake:
        # one attempt, naming the URL.
        self.assertNotIn("retrying", r.err)
        self.assertIn(url + "/v1/workflow/run", r.err)
        self.assertIn("--base-url / SGP_BASE_URL", r.err)
        self.assertIn("reachable", r.err)
        self.assertIn("the run was not started", r.err)

    def test_401_exit_3_says_which_key_and_account_settings(self):
        env = wf_env(self.emu, key="wrong-key-000")
        for args in (["run", "w1", "--db", self.path("t.db")], ["status", "s500"],
                     ["attach", "s500", "--db", self.path("t.db")]):
            r = self.wf(*args, env=env)
            self.assertRc(r, 3)
            self.assertNotIn("wrong-key-000", r.out + r.err)
            for part in ("HTTP 401", "server says:", "SCALE_API_KEY", "--api-key-file",
                         "SCALE_ACCOUNT_ID"):
                self.assertIn(part, r.err, args)

    def test_404_exit_4_says_check_the_id_and_account(self):
        for args in (["run", "no_such_workflow", "--db", self.path("t.db")],
                     ["status", "no-such-session"],
                     ["attach", "no-such-session", "--db", self.path("t.db")]):
            r = self.wf(*args)
            self.assertRc(r, 4)
            for part in ("HTTP 404", "not found or no access", "check the id",
                         ACCOUNT_ID, "SCALE_ACCOUNT_ID"):
                self.assertIn(part, r.err, args)

    def test_404_from_a_base_url_without_the_api_path_names_the_base_url(self):
        r = self.wf("status", "s500", "--base-url", self.emu.origin)
        self.assertRc(r, 4)
        self.assertIn("no such API path", r.err)
        self.assertIn("/corp-api/compass/api", r.err)
        r = self.wf("status", "no-such-session")
        self.assertNotIn("the API is under", r.err)

    def test_500_exit_8_shows_the_server_body_and_what_to_do(self):
        r = self.wf("status", "s500")
        self.assertRc(r, 8)
        self.assertIn("HTTP 500", r.err)
        self.assertIn("database on fire", r.err)
        self.assertIn("try again later", r.err)
        a = self.wf("attach", "s500", "--db", self.path("t.db"))
        self.assertRc(a, 8)
        self.assertIn("database on fire", a.err)

    def test_other_4xx_exit_8_shows_the_body_and_is_not_called_a_server_failure(self):
        r = self.wf("status", "s409")
        self.assertRc(r, 8)
        self.assertIn("refused the request (HTTP 409)", r.err)
        self.assertIn("session is locked", r.err)
        self.assertNotIn("try again later", r.err)
        self.assertEqual(len([q for q in self.calls(self.emu, "session")
                              if q["path"].endswith("/s409")]), 1)  # not retried

    def test_502_html_page_retried_then_exit_8_with_the_page_title(self):
        r = self.wf("status", "s502", "--retries", "1")
        self.assertRc(r, 8)
        self.assertIn("502 Bad Gateway", r.err)
        self.assertNotIn("<html>", r.err)
        self.assertIn("gave up after 1 retry", r.err)
        self.assertIn("try again later", r.err)

    def test_retries_bound_failures_in_a_row_whatever_their_kind(self):
        r = self.wf("status", "salt", "--retries", "2")
        self.assertRc(r, 8)
        self.assertIn("gave up after 2 retries", r.err)
        self.assertEqual(len([q for q in self.calls(self.emu, "session")
                              if q["path"].endswith("/salt")]), 3)
        r = self.wf("status", "salt2", "--retries", "3")
        self.assertRc(r, 0)
        self.assertIn("idle", r.out)

    def test_timeout_exit_6_names_the_attach_command(self):
        db = self.path("t.db")
        r = self.wf("run", "slow", "--db", db, "--timeout", "1")
        self.assertRc(r, 6)
        sid = db_query(db, "SELECT session_id FROM _wf_runs")[0][0]
        self.assertIn("timed out", r.err)
        self.assertIn("wf2sqlite attach %s --db %s --table wf_slow --workflow slow" % (sid, db),
                      r.err)
        self.assertEqual(db_query(db, "SELECT status FROM _wf_runs"), [("timeout",)])

    def test_inactive_exit_5_says_to_start_it_again(self):
        r = self.wf("run", "gone", "--db", self.path("t.db"))
        self.assertRc(r, 5)
        self.assertIn("inactive", r.err)
        self.assertIn("wf2sqlite run gone", r.err)

    def test_usage_errors_exit_2_say_how_to_fix_them(self):
        cases = [
            (["run"], "run needs WORKFLOW_ID"),
            (["run", "w1", "--frob"], "wf2sqlite run --help"),
            (["frob"], "wf2sqlite --help"),
            (["run", "w1", "--timeout", "5x"], "30s, 5m"),
            (["run", "w1", "--timeout", "-5"], "30s, 5m"),
            (["run", "w1", "--retries", "x"], "from 0 to 100"),
            (["run", "w1", "--wait", "x"], "block or poll"),
            (["run", "w1", "--mode", "x"], "append, replace or fail"),
            (["run", "w1", "-v", "x"], "KEY=VALUE"),
            (["run", "w1", "--vars", self.path("none.json")], "check the path"),
            (["run", "w1", "--api-key-file", self.path("none")], "check the path"),
            (["run", "w1", "--cacert", self.path("none.pem")], "check the path"),
            (["run", "w1", "--api-key", "x"], "SCALE_API_KEY"),
            (["load", self.path("none.json")], "check the path"),
        ]
        for args, part in cases:
            r = self.wf(*args)
            self.assertRc(r, 2)
            self.assertTrue(r.err.startswith("wf2sqlite: "), r)
            self.assertIn(part, r.err, args)

    def test_unparseable_session_exit_9_says_what_to_check(self):
        r = self.wf("status", "sjunk")
        self.assertRc(r, 9)
        self.assertIn("not valid JSON", r.err)
        self.assertIn("--base-url", r.err)
        self.assertIn("--verbose", r.err)

    def test_html_page_for_a_result_says_so_with_its_title(self):
        for wait in ("block", "poll"):
            r = self.wf("run", "whtml", "--db", self.path("t.db"), "--wait", wait)
            self.assertRc(r, 9)
            self.assertIn("with an HTML page (\"Corporate Login\") instead of the API's JSON",
                          r.err)
            self.assertIn("check --base-url", r.err)
            self.assertIn("proxy", r.err)
            self.assertNotIn("<title>", r.err)

    def test_bad_result_file_exit_9_says_what_a_body_is(self):
        bad = self.path("bad.json")
        with open(bad, "w") as f:
            f.write('{"data": [')
        for cmd in ("load", "schema"):
            r = self.wf(cmd, bad, *(["--db", self.path("t.db")] if cmd == "load" else []))
            self.assertRc(r, 9)
            self.assertIn("not a valid result body", r.err)
            self.assertIn("/v1/sessions/:id/result", r.err)

    # --- the summary line and --json ---------------------------------------

    KEYS = ("run_id", "session_id", "workflow_id", "table", "mode", "status", "rows_loaded",
            "rows_reported", "timings", "error", "exit_code")

    def jq(self, text, program):
        """Reads text with jq, as a cron script would."""
        if not JQ:
            self.fail("jq is not installed (scripts/deps.sh installs it)")
        p = subprocess.run([JQ, "-r", program], input=text, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, (text, program, p.stderr))
        return p.stdout.strip()

    def test_summary_line_has_rows_table_run_session_server_and_total_time(self):
        db = self.path("t.db")
        r = self.wf("run", "w1", "--db", db)
        self.assertRc(r, 0)
        sid = db_query(db, "SELECT session_id FROM _wf_runs")[0][0]
        last = r.err.strip().splitlines()[-1]
        # RESULT says executionDurationMillis 7.
        self.assertRegex(last, r"^wf2sqlite: loaded 5 rows into wf_w1 \(run 1, session %s\) in "
                               r"\d+\.\d\d s \(server 0\.01 s\)$" % sid)

    def test_json_of_a_loaded_run_read_with_jq(self):
        db = self.path("t.db")
        r = self.wf("run", "w1", "--db", db, "--json", "-v", "k=v")
        self.assertRc(r, 0)
        self.assertEqual(len(r.out.strip().splitlines()), 1)
        self.assertEqual(self.jq(r.out, "[%s] | map(tostring) | join(\" \")" % ", ".join(
            "has(\"%s\")" % k for k in self.KEYS)), " ".join(["true"] * len(self.KEYS)))
        self.assertEqual(self.jq(r.out, '"\\(.status) \\(.rows_loaded) \\(.rows_reported) '
                                        '\\(.table) \\(.mode) \\(.workflow_id) \\(.exit_code)"'),
                         "loaded 5 5 wf_w1 append w1 0")
        self.assertEqual(self.jq(r.out, ".run_id"), "1")
        self.assertEqual(self.jq(r.out, ".session_id"),
                         db_query(db, "SELECT session_id FROM _wf_runs")[0][0])
        self.assertEqual(self.jq(r.out, ".timings.execution_ms"), "7")
        self.assertEqual(self.jq(r.out, ".timings | (.total_ms >= .wait_ms) and (.wait_ms > 0)"),
                         "true")
        self.assertEqual(self.jq(r.out, ".error == null"), "true")

    def test_json_of_failures_at_every_stage(self):
        db = self.path("t.db")
        cases = [
            # (args, exit code, the error mentions, run recorded)
            (["run", "w1", "--timeout", "5x"], 2, "--timeout", False),
            (["run", "w1", "--frob"], 2, "--frob", False),
            (["run"], 2, "WORKFLOW_ID", False),
            (["run", "w1", "--table", "sqlite_x"], 2, "reserved", False),
            (["run", "no_such_workflow"], 4, "HTTP 404", False),
            (["run", "idlebad"], 5, "chart failed", True),
            (["attach", "no-such-session"], 4, "HTTP 404", False),
            (["load", self.path("none.json")], 2, "check the path", False),
            (["load", "-", "--mode", "nope"], 2, "--mode", False),
            (["status", "no-such-session"], 4, "HTTP 404", False),
        ]
        for args, rc, part, recorded in cases:
            full = args + (["--db", db] if args[0] not in ("status",) and len(args) > 1
                           else []) + ["--json"]
            r = self.wf(*full, input="")
            self.assertRc(r, rc)
            self.assertEqual(len(r.out.strip().splitlines()), 1, r)
            self.assertEqual(self.jq(r.out, ".exit_code"), str(rc), r)
            self.assertIn(self.jq(r.out, ".status"), ("failed", "errored"), r)
            self.assertIn(part, self.jq(r.out, ".error"), r)
            self.assertEqual(self.jq(r.out, ".run_id != null"), str(recorded).lower(), r)
            # The same line is on stderr (a usage error adds where the help is).
            self.assertIn(self.jq(r.out, ".error").split("; see 'wf2sqlite")[0], r.err, r)
        # Without --db: the default workflows.db in the test's folder, not the checkout.
        self.assertEqual(self.jq(self.wf("run", "no_such_workflow", "--json", cwd=self.dir).out,
                                 ".workflow_id"), "no_such_workflow")

    def test_no_wait_json_and_plain(self):
        db = self.path("t.db")
        r = self.wf("run", "w1", "--db", db, "--no-wait")
        self.assertRc(r, 0)
        sid = r.out.strip()
        self.assertEqual(db_query(db, "SELECT session_id, status FROM _wf_runs"),
                         [(sid, "running")])
        self.assertIn("wf2sqlite attach %s" % sid, r.err)
        j = self.wf("run", "w1", "--db", db, "--no-wait", "--json")
        self.assertEqual(self.jq(j.out, ".status"), "running")
        self.assertEqual(self.jq(j.out, ".run_id"), "2")

    # --- a second Ctrl-C stops at once -------------------------------------

    @staticmethod
    def caught_signals(pid):
        """The signals pid has handlers for (SigCgt of /proc/PID/status), or None."""
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("SigCgt:"):
                        mask = int(line.split()[1], 16)
                        return {n for n in range(1, 64) if mask & (1 << (n - 1))}
        except (FileNotFoundError, ProcessLookupError):
            return None
        return None

    def test_second_ctrl_c_stops_at_once(self):
        import signal
        db = self.path("t.db")
        for attempt in range(10):
            if os.path.exists(db):
                os.unlink(db)
            p = wfharness.spawn_wf(["run", "slow", "--db", db], emu=self.emu)
            try:
                wait_for_run(db)
                caught = self.caught_signals(p.pid)
                self.assertIn(signal.SIGINT, caught)
                self.assertIn(signal.SIGTERM, caught)
                p.send_signal(signal.SIGINT)
                # The first Ctrl-C resets the handler (SA_RESETHAND) ...
                deadline = time.time() + 5
                while time.time() < deadline:
                    caught = self.caught_signals(p.pid)
                    if caught is None or signal.SIGINT not in caught:
                        break
                    time.sleep(0.0005)
                if caught is None or p.poll() is not None:
                    continue  # it finished its clean stop first: try again
                self.assertNotIn(signal.SIGINT, caught)
                # ... so the second one kills the process, whatever it was doing.
                p.send_signal(signal.SIGINT)
                rc = p.wait(timeout=10)
                if rc == 130:
                    continue  # the clean stop won the race after all
                self.assertEqual(rc, -signal.SIGINT)
                return
            finally:
                if p.poll() is None:
                    p.kill()
                p.wait()
                p.stdout.close()
                p.stderr.close()
        self.fail("the clean stop always finished before a second SIGINT could be sent")


if __name__ == "__main__":
    unittest.main()

"""--json of every command (docs/json.md, SPEC 18): stdout is exactly one JSON
value, for a success and for a failure, also when there is nothing to show,
and a command's value has the same shape (the same keys) whatever happened."""
import json
import os
import re
import shutil
import subprocess
import unittest

from netlib import EmuTestCase, workflow
from wfharness import wf_env

JQ = shutil.which("jq")

RUN_KEYS = {"database", "run_id", "session_id", "workflow_id", "variables", "table", "mode",
            "status", "started_at", "rows_loaded", "rows_reported", "timings",
            "already_loaded_by", "saved_result", "error", "exit_code"}
TIMING_KEYS = {"wait_ms", "load_ms", "total_ms", "execution_ms"}
RESUME_KEYS = {"database", "count", "runs", "left_alone", "error", "exit_code"}
BATCH_KEYS = {"database", "batch_id", "workflow_id", "table", "mode", "status", "total", "loaded",
              "failed", "not_started", "rows_loaded", "created_at", "finished_at", "total_ms",
              "runs", "error", "exit_code"}
CHECK_KEYS = {"config_file", "profile", "settings", "request", "host_answered",
              "credentials_accepted", "error", "exit_code"}
STATUS_KEYS = {"session_id", "status", "terminal", "cards_done", "cards_total", "cards", "error",
               "exit_code"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def scenario():
    sc = {"workflows": {
        "w": workflow(cards_ms=(100, 100)),
        "bad": workflow(cards_ms=(100, 100)),
    }}
    sc["workflows"]["bad"]["cards"][1].update({"status": "errored", "error": "boom in c2"})
    return sc


class JsonShapes(EmuTestCase):
    scenario = staticmethod(scenario)

    def setUp(self):
        super().setUp()
        self.db = self.path("j.db")

    def one(self, r, rc):
        """stdout is exactly one JSON value (jq -s counts the values)."""
        self.assertEqual(r.rc, rc, repr(r))
        if not JQ:
            self.fail("jq is not installed (scripts/deps.sh installs it)")
        p = subprocess.run([JQ, "-s", "length"], input=r.out, capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "1"), repr(r))
        return json.loads(r.out)

    def run_shape(self, v, rc):
        self.assertEqual(set(v), RUN_KEYS, v)
        self.assertEqual(set(v["timings"]), TIMING_KEYS, v)
        self.assertEqual(v["exit_code"], rc)

    # ---- run / attach / load ----------------------------------------------

    def test_run_success_and_failures_share_one_shape(self):
        v = self.one(self.wf(["run", "w", "--db", self.db, "-v", "region=emea", "--json"]), 0)
        self.run_shape(v, 0)
        self.assertEqual(v["status"], "loaded")
        self.assertEqual(v["variables"], {"region": "emea"})
        self.assertRegex(v["started_at"], ISO)
        self.assertIsNone(v["error"])
        # The workflow fails (exit 5).
        v = self.one(self.wf(["run", "bad", "--db", self.db, "--json"]), 5)
        self.run_shape(v, 5)
        self.assertEqual(v["status"], "errored")
        self.assertIsNone(v["variables"])
        self.assertRegex(v["started_at"], ISO)
        self.assertIn("boom in c2", v["error"])
        # A usage error before anything (exit 2).
        v = self.one(self.wf(["run", "--db", self.db, "--json"]), 2)
        self.run_shape(v, 2)
        self.assertEqual(v["status"], "failed")
        self.assertIsNone(v["run_id"])
        # An unknown option.
        v = self.one(self.wf(["run", "w", "--db", self.db, "--json", "--bogus"]), 2)
        self.run_shape(v, 2)

    def test_run_no_wait_then_attach(self):
        v = self.one(self.wf(["run", "w", "--db", self.db, "--json", "--no-wait"]), 0)
        self.run_shape(v, 0)
        self.assertEqual(v["status"], "running")
        sid = v["session_id"]
        v = self.one(self.wf(["attach", sid, "--db", self.db, "--json"]), 0)
        self.run_shape(v, 0)
        self.assertEqual(v["status"], "loaded")
        self.assertRegex(v["started_at"], ISO)
        # Already loaded: nothing done, still one object of the same shape.
        v = self.one(self.wf(["attach", sid, "--db", self.db, "--json"]), 0)
        self.run_shape(v, 0)
        self.assertGreater(v["already_loaded_by"], 0)
        # An unknown session (exit 4).
        v = self.one(self.wf(["attach", "no-such-session", "--db", self.db, "--json"]), 4)
        self.run_shape(v, 4)
        self.assertTrue(v["error"])

    def test_load_success_and_failure(self):
        good = self.path("good.json")
        with open(good, "w") as f:
            json.dump({"schema": [{"id": "a", "type": "number"}], "data": [{"a": 1}]}, f)
        bad = self.path("bad.json")
        with open(bad, "w") as f:
            f.write('{"data": [1, ')
        v = self.one(self.wf(["load", good, "--db", self.db, "--json"]), 0)
        self.run_shape(v, 0)
        self.assertRegex(v["started_at"], ISO)
        v = self.one(self.wf(["load", bad, "--db", self.db, "--json"]), 9)
        self.run_shape(v, 9)
        v = self.one(self.wf(["load", self.path("missing.json"), "--db", self.db, "--json"]), 2)
        self.run_shape(v, 2)

    # ---- resume -------------------------------------------------------------

    def test_resume_nothing_to_do_is_an_object_with_count_0(self):
        v = self.one(self.wf(["resume", "--db", self.db, "--json"]), 0)
        self.assertEqual(set(v), RESUME_KEYS)
        self.assertEqual((v["count"], v["runs"], v["error"], v["exit_code"]), (0, [], None, 0))

    def test_resume_runs_in_one_object(self):
        sids = []
        for _ in range(2):
            v = self.one(self.wf(["run", "w", "--db", self.db, "--json", "--no-wait"]), 0)
            sids.append(v["session_id"])
        # Their process is gone: make the runs look abandoned (pid of no process).
        import sqlite3
        con = sqlite3.connect(self.db)
        con.execute("UPDATE _wf_runs SET pid = 2147483646")
        con.commit()
        con.close()
        v = self.one(self.wf(["resume", "--db", self.db, "--json"]), 0)
        self.assertEqual(set(v), RESUME_KEYS)
        self.assertEqual(v["count"], 2)
        self.assertEqual(sorted(x["session_id"] for x in v["runs"]), sorted(sids))
        for x in v["runs"]:
            self.run_shape(x, 0)
            self.assertEqual(x["status"], "loaded")

    # ---- batch --------------------------------------------------------------

    def test_batch_success_and_failures_share_one_shape(self):
        m = self.path("m.jsonl")
        with open(m, "w") as f:
            f.write('{"k": "1"}\n{"k": "2"}\n')
        v = self.one(self.wf(["batch", "w", "--matrix", m, "--db", self.db, "--json"]), 0)
        self.assertEqual(set(v), BATCH_KEYS)
        self.assertEqual((v["status"], v["total"], v["loaded"], v["error"]), ("done", 2, 2, None))
        self.assertRegex(v["created_at"], ISO)
        for i, x in enumerate(v["runs"]):
            self.assertEqual(set(x) - {"batch_index", "started", "earlier"}, RUN_KEYS)
            self.assertEqual((x["batch_index"], x["started"], x["status"]), (i, True, "loaded"))
        # A set that fails: exit 5, --fail-fast leaves the other not started.
        v = self.one(self.wf(["batch", "bad", "--matrix", m, "--db", self.db, "--json",
                              "--parallel", "1", "--fail-fast"]), 5)
        self.assertEqual(set(v), BATCH_KEYS)
        self.assertEqual([(x["started"], x["exit_code"]) for x in v["runs"]],
                         [(True, 5), (False, None)])
        self.assertEqual(set(v["runs"][1]) - {"batch_index", "started", "earlier"}, RUN_KEYS)
        self.assertIn("boom in c2", v["error"])
        # A usage error: the same object, nothing in it.
        v = self.one(self.wf(["batch", "w", "--matrix", m, "--db", self.db, "--json",
                              "--parallel", "0"]), 2)
        self.assertEqual(set(v), BATCH_KEYS)
        self.assertEqual((v["batch_id"], v["runs"], v["exit_code"]), (None, [], 2))
        self.assertIn("--parallel", v["error"])

    def test_resume_failures_have_the_same_shape(self):
        v = self.one(self.wf(["resume", "--db", self.db, "--json", "--timeout", "x"]), 2)
        self.assertEqual(set(v), RESUME_KEYS)
        self.assertEqual((v["count"], v["runs"], v["exit_code"]), (0, [], 2))
        self.assertIn("--timeout", v["error"])
        v = self.one(self.wf(["resume", "--db", self.path("no/such/dir/x.db"), "--json"]), 7)
        self.assertEqual(set(v), RESUME_KEYS)
        self.assertEqual(v["count"], 0)

    # ---- status -------------------------------------------------------------

    def test_status_success_and_failure_share_one_shape(self):
        v = self.one(self.wf(["run", "w", "--db", self.db, "--json", "--no-wait"]), 0)
        sid = v["session_id"]
        v = self.one(self.wf(["status", sid, "--json"]), 0)
        self.assertEqual(set(v), STATUS_KEYS)
        self.assertEqual(v["session_id"], sid)
        self.assertEqual(v["cards_total"], 2)
        self.assertIsNone(v["error"])
        v = self.one(self.wf(["status", "no-such-session", "--json"]), 4)
        self.assertEqual(set(v), STATUS_KEYS)
        self.assertEqual((v["status"], v["terminal"], v["cards"], v["exit_code"]),
                         ("failed", None, [], 4))
        self.assertTrue(v["error"])
        v = self.one(self.wf(["status", "--json"]), 2)
        self.assertEqual(set(v), STATUS_KEYS)
        self.assertIsNone(v["session_id"])
        # A configuration error (no key).
        env = wf_env(self.emu, key=None)
        env.pop("SCALE_API_KEY", None)
        v = self.one(self.wf(["status", "x", "--json"], env=env), 2)
        self.assertEqual(set(v), STATUS_KEYS)

    # ---- check --------------------------------------------------------------

    def test_check_success_and_failures_share_one_shape(self):
        v = self.one(self.wf(["check", "--json"]), 0)
        self.assertEqual(set(v), CHECK_KEYS, v)
        self.assertEqual((v["host_answered"], v["credentials_accepted"]), (True, True))
        v = self.one(self.wf(["check", "--json", "--account-id", "nobody"]), 3)
        self.assertEqual(set(v), CHECK_KEYS, v)
        # Usage errors, found before anything is asked.
        for args in (["--timeout", "bogus"], ["--no-such-option"], ["extra"]):
            v = self.one(self.wf(["check", "--json"] + args), 2)
            self.assertEqual(set(v), CHECK_KEYS, (args, v))
            self.assertEqual((v["host_answered"], v["credentials_accepted"], v["exit_code"]),
                             (False, None, 2), args)
            self.assertTrue(v["error"], args)

    def test_failure_objects_carry_what_the_command_line_gave(self):
        # diff: the runs and the key given, on a usage failure.
        v = self.one(self.wf(["diff", "1", "2", "--json"]), 2)
        self.assertEqual((v["run_a"], v["run_b"], v["key"], v["table"]), (1, 2, None, None))
        v = self.one(self.wf(["diff", "3", "--json", "--key", "a,b", "--table", "t", "--db",
                              self.path("none.db")]), 2)
        self.assertEqual((v["run_a"], v["run_b"], v["key"], v["table"]),
                         (3, None, ["a", "b"], "t"))
        # batch: the workflow, table and mode, or the batch id of --continue.
        v = self.one(self.wf(["batch", "w", "--json", "--db", self.db]), 2)
        self.assertEqual((v["workflow_id"], v["mode"], v["table"], v["batch_id"]),
                         ("w", "append", None, None))
        v = self.one(self.wf(["batch", "w", "--json", "--db", self.db, "--table", "t", "--mode",
                              "upsert", "--key", "id", "--matrix", self.path("none")]), 2)
        self.assertEqual((v["workflow_id"], v["mode"], v["table"]), ("w", "upsert", "t"))
        v = self.one(self.wf(["batch", "--continue", "7", "--json", "--db", self.db]), 2)
        self.assertEqual((v["batch_id"], v["workflow_id"]), (7, None))
        # check: the config file and the settings, also after an unknown option.
        v = self.one(self.wf(["check", "--json", "--bogus"]), 2)
        self.assertEqual(v["config_file"], os.devnull)
        self.assertEqual(v["settings"]["base_url"]["value"], self.emu.base_url)
        self.assertEqual(v["settings"]["base_url"]["source"], "environment")
        v = self.one(self.wf(["check", "--json", "--profile", "nope"]), 2)
        self.assertEqual((v["config_file"], v["profile"]), (os.devnull, "nope"))

    # ---- runs ---------------------------------------------------------------

    def test_runs_is_always_an_array(self):
        v = self.one(self.wf(["runs", "--db", self.path("missing.db"), "--json"]), 0)
        self.assertEqual(v, [])
        self.assertFalse(os.path.exists(self.path("missing.db")))
        self.one(self.wf(["run", "w", "--db", self.db, "--json"]), 0)
        v = self.one(self.wf(["runs", "--db", self.db, "--json"]), 0)
        self.assertEqual(len(v), 1)
        v = self.one(self.wf(["runs", "--db", self.db, "--json", "--status", "failed"]), 0)
        self.assertEqual(v, [])
        v = self.one(self.wf(["runs", "--db", self.db, "--json", "--limit", "x"]), 2)
        self.assertEqual(v, [])
        notdb = self.path("not.db")
        with open(notdb, "w") as f:
            f.write("this is not a database, " * 100)
        v = self.one(self.wf(["runs", "--db", notdb, "--json"]), 7)
        self.assertEqual(v, [])

    # ---- no command ---------------------------------------------------------

    def test_no_command_or_an_unknown_one_is_still_one_object(self):
        cases = ((["--json"], None, "no command given"),
                 (["--json", "rnus"], "rnus", "did you mean 'runs'"),
                 (["rnus", "--json", "--db", self.db], "rnus", "unknown command 'rnus'"),
                 (["--json", "--tabel", "t", "run", "w"], None, "did you mean --table"))
        for args, command, said in cases:
            r = self.wf(args)
            v = self.one(r, 2)
            self.assertEqual(set(v), {"command", "error", "exit_code"}, args)
            self.assertEqual((v["command"], v["exit_code"]), (command, 2), args)
            self.assertIn(said, v["error"], args)
            # The human line still goes to stderr.
            self.assertIn("wf2sqlite: " + v["error"], r.err, args)
        # Without --json nothing goes to stdout; after "--" it is no option.
        for args in (["rnus"], ["rnus", "--", "--json"]):
            r = self.wf(args)
            self.assertEqual((r.rc, r.out), (2, ""), args)
        self.assertFalse(os.path.exists(self.db))


if __name__ == "__main__":
    unittest.main()

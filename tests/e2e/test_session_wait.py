"""The waiter (lib/session.c) through session_driver against compass-emu:
block and poll modes, final vs partial results, timeouts, failed workflows,
signals. The database side is not involved."""
import json
import os
import signal
import subprocess
import time
import unittest

from netlib import (API_KEY, ACCOUNT_ID, DRIVER, PARTIAL, RESULT, Emu, NetTestCase, result_bytes,
                    wf_env, workflow)


def scenario():
    return {"workflows": {
        "quick": workflow("quick-s", cards_ms=(150, 150)),
        "slow": workflow("slow-s", cards_ms=(1200, 1200)),
        "long": workflow("long-s", cards_ms=(30000,)),
        "bad_card": workflow("bad-s", cards_ms=(100, 100), final_status="idle"),
        "errored": workflow("err-s", cards_ms=(100,)),
        "inactive": workflow("inactive-s", cards_ms=(100,), final_status="inactive"),
        "weird id": workflow("s 1/x?y#z%", cards_ms=(50,)),
    }}


class WaitTest(NetTestCase):
    @classmethod
    def setUpClass(cls):
        sc = scenario()
        sc["workflows"]["bad_card"]["cards"][1].update(
            {"status": "errored", "error": "column \"x\" does not exist"})
        # A session that ends idle although a card errored: emulate with a
        # card errored in the middle of an idle session.
        sc["workflows"]["errored"]["cards"][0].update({"status": "errored", "error": "boom"})
        cls.emu = Emu(sc)
        cls.emu.start()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    def test_block_hands_on_the_final_result_once(self):
        d = self.drive(self.emu, ["--start", "quick"], expect_rc=0)
        self.assertIn("session quick-s", d.out)
        self.assertEqual(len(d.finals()), 1, repr(d))
        self.assertNotIn("finish 0", "\n".join(d.events))
        self.assertEqual(self.body(), result_bytes())
        # The result came from a long-poll with the default 25 s slice.
        res = [q for q in self.calls(self.emu, "result") if q["path"].endswith("/quick-s/result")]
        self.assertTrue(res)
        self.assertEqual(res[0]["query"], "timeout=25000")

    def test_timed_out_long_poll_is_never_handed_on(self):
        # 2.4 s of work, 500 ms slices: several long-polls return the partial
        # body because their timeout passed; none may reach the consumer.
        d = self.drive(self.emu, ["--start", "slow", "--slice", "500ms"], expect_rc=0)
        sid = d.out.split()[1]
        res = [q for q in self.calls(self.emu, "result") if q["path"].endswith("/%s/result" % sid)]
        self.assertGreaterEqual(len(res), 3, res)
        self.assertTrue(all(q["query"] == "timeout=500" for q in res))
        self.assertEqual(d.events.count("reset"), 1, repr(d))
        self.assertEqual(len(d.finals()), 1)
        self.assertNotIn("finish 0", "\n".join(d.events))
        self.assertEqual(self.body(), result_bytes())
        self.assertNotIn("partial", self.body())

    def test_progress_follows_the_cards_during_one_long_poll(self):
        d = self.drive(self.emu, ["--start", "slow", "--progress-interval", "200ms"], expect_rc=0)
        sid = d.out.split()[1]
        res = [q for q in self.calls(self.emu, "result") if q["path"].endswith("/%s/result" % sid)]
        self.assertEqual(len(res), 1)
        prog = [e for e in d.events if e.startswith("progress 2 ")]
        self.assertIn("progress 2 processing 1/2", prog)
        self.assertEqual(prog[-1], "progress 2 idle 2/2")
        # Nothing reported after the body began to arrive but the final state.
        self.assertEqual(d.events[d.events.index("reset") + 1:],
                         ["progress 2 idle 2/2", "finish 1 %d" % len(result_bytes())])
        # The watcher read the session on a connection of its own.
        ses = [q for q in self.calls(self.emu, "session") if sid in q["path"]]
        self.assertGreater(len({q["conn"] for q in ses}), 1)

    def test_poll_mode_polls_the_session_then_fetches_once(self):
        d = self.drive(self.emu, ["--start", "slow", "--wait", "poll", "--poll-interval", "300ms"],
                       expect_rc=0)
        sid = d.out.split()[1]
        mine = [q for q in self.calls(self.emu) if sid in q["path"]]
        kinds = ["result" if q["path"].endswith("/result") else "session" for q in mine]
        self.assertEqual(kinds.count("result"), 1, kinds)
        self.assertEqual(kinds[-1], "result")
        # The session is finished: a longer timeout, for a big result to start.
        self.assertEqual(mine[-1]["query"], "timeout=60000")
        self.assertGreaterEqual(kinds.count("session"), 5)
        # Spaced by the poll interval.
        ts = [q["t_ms"] for q in mine if not q["path"].endswith("/result")]
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        self.assertTrue(all(g >= 250 for g in gaps), gaps)
        self.assertEqual(self.body(), result_bytes())

    def test_timeout_exits_6_naming_the_session(self):
        t0 = time.monotonic()
        d = self.drive(self.emu, ["--start", "long", "--timeout", "1500ms", "--slice", "10s"],
                       expect_rc=6)
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 1.4)
        self.assertLess(took, 5)
        self.assertIn(d.out.split()[1], d.err)
        self.assertIn("timed out after 1.5s", d.err)
        self.assertEqual(d.finals(), [])
        # The long-poll's slice was capped by what was left of the deadline.
        sid = d.out.split()[1]
        res = [q for q in self.calls(self.emu, "result") if q["path"].endswith("/%s/result" % sid)]
        self.assertTrue(res)
        self.assertLessEqual(int(res[0]["query"].split("=")[1]), 1500)

    def test_timeout_in_poll_mode(self):
        d = self.drive(self.emu, ["--start", "long", "--wait", "poll", "--timeout", "1s",
                                  "--poll-interval", "300ms"], expect_rc=6)
        self.assertIn("timed out", d.err)

    def test_errored_card_fails_with_every_message(self):
        d = self.drive(self.emu, ["--start", "bad_card"], expect_rc=5)
        self.assertIn('column "x" does not exist', d.err)
        self.assertIn("c2", d.err)
        self.assertIn("--allow-partial", d.err)
        self.assertEqual(d.finals(), [])

    def test_errored_session_fails_unless_allow_partial(self):
        d = self.drive(self.emu, ["--start", "errored"], expect_rc=5)
        self.assertIn("boom", d.err)
        self.assertIn("errored", d.err)
        self.assertEqual(d.finals(), [])
        d = self.drive(self.emu, ["--session", "err-s", "--allow-partial"], expect_rc=0)
        self.assertEqual(len(d.finals()), 1)
        self.assertIn("status errored", d.out)

    def test_inactive_session_fails_even_with_allow_partial(self):
        d = self.drive(self.emu, ["--start", "inactive", "--allow-partial"], expect_rc=5)
        self.assertIn("inactive", d.err)
        self.assertEqual(d.finals(), [])

    def test_session_id_is_escaped_in_paths(self):
        d = self.drive(self.emu, ["--start", "weird id"], expect_rc=0)
        self.assertIn("session s 1/x?y#z%", d.out)
        paths = {q["path"] for q in self.calls(self.emu) if "s%201" in q["path"]}
        base = "/corp-api/compass/api/v1/sessions/s%201%2Fx%3Fy%23z%25"
        self.assertEqual(paths, {base, base + "/result"})

    def test_dot_session_ids_refused(self):
        for sid in (".", "..", ""):
            d = self.drive(self.emu, ["--session", sid], expect_rc=2)
            self.assertIn("not a session id", d.err)

    def wait_for_event(self, path, prefix, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(path):
                with open(path) as f:
                    if any(l.startswith(prefix) for l in f):
                        return
            time.sleep(0.05)
        self.fail("no %r event in %s" % (prefix, path))

    def test_sigint_while_waiting_exits_130(self):
        events = self.path("events.txt")
        p = subprocess.Popen([DRIVER, "--events", events, "--start", "long"], env=wf_env(self.emu),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.wait_for_event(events, "progress")
        time.sleep(0.5)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertEqual(p.returncode, 130, err)
        self.assertIn("interrupted while waiting for session " + out.split()[1], err)
        with open(events) as f:
            self.assertNotIn("finish 1", f.read())

    def test_sigterm_in_poll_sleep_exits_130(self):
        events = self.path("events.txt")
        p = subprocess.Popen([DRIVER, "--events", events, "--start", "long", "--wait", "poll",
                              "--poll-interval", "30s"],
                             env=wf_env(self.emu), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        self.wait_for_event(events, "progress")
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 130, err)

    def test_consumer_failure_is_returned_as_is(self):
        d = self.drive(self.emu, ["--start", "quick", "--fail-write-after", "1"], expect_rc=9)
        self.assertIn("test consumer refuses the body", d.err)

    def test_verbose_trace_redacts_the_key(self):
        d = self.drive(self.emu, ["--start", "quick", "--verbose"], expect_rc=0)
        self.assertIn("x-scale-api-key: [redacted]", d.err)
        self.assertIn("x-selected-account-id: " + ACCOUNT_ID, d.err)
        self.assertIn('{"workflowId":"quick"}', d.err)
        self.assertNotIn(API_KEY, d.err)


class RequestsTest(NetTestCase):
    """Exact requests on the wire."""

    def test_exact_headers_and_bodies(self):
        with Emu({"workflows": {"w": workflow("w-s", cards_ms=(50,))}}) as emu:
            self.drive(emu, ["--start", "w", "--var", "region=emea", "--var", "q=a \"b\"/c",
                             "--var", "region=apac"], expect_rc=0)
            reqs = self.calls(emu)
            run = reqs[0]
            self.assertEqual(run["method"], "POST")
            self.assertEqual(run["path"], "/corp-api/compass/api/v1/workflow/run")
            self.assertEqual(json.loads(run["body"]),
                             {"workflowId": "w", "variables": {"region": "apac", "q": 'a "b"/c'}})
            self.assertEqual(run["body"],
                             '{"workflowId":"w","variables":{"region":"apac","q":"a \\"b\\"/c"}}')
            self.assertEqual(run["headers"]["content-type"], "application/json")
            for q in reqs:
                self.assertEqual(q["headers"]["x-scale-api-key"], API_KEY)
                self.assertEqual(q["headers"]["x-selected-account-id"], ACCOUNT_ID)
                self.assertNotIn("expect", q["headers"])
                if q["method"] == "GET":
                    self.assertNotIn("content-type", q["headers"])
                    self.assertEqual(q["body"], "")
            # Keep-alive: the GETs share one connection; the POST had its own.
            gets = [q["conn"] for q in reqs if q["method"] == "GET"]
            self.assertEqual(len(set(gets)), 1, gets)
            self.assertNotIn(run["conn"], gets)

    def test_no_variables_leaves_the_key_out(self):
        with Emu({"workflows": {"w": workflow("w-s", cards_ms=(50,))}}) as emu:
            self.drive(emu, ["--start", "w"], expect_rc=0)
            self.assertEqual(self.calls(emu, "run")[0]["body"], '{"workflowId":"w"}')

    def test_vars_file_then_var_override(self):
        path = self.path("vars.json")
        with open(path, "w") as f:
            json.dump({"a": "1", "b": "2"}, f)
        with Emu({"workflows": {"w": workflow("w-s", cards_ms=(50,))}}) as emu:
            self.drive(emu, ["--start", "w", "--vars", path, "--var", "b=3"], expect_rc=0)
            self.assertEqual(json.loads(self.calls(emu, "run")[0]["body"])["variables"],
                             {"a": "1", "b": "3"})

    def test_api_key_file_is_used_and_never_shown(self):
        key = "file-key-ABCDEFGH"
        kf = self.path("key")
        with open(kf, "w") as f:
            f.write(key + "\n")
        with Emu({"api_key": key, "workflows": {"w": workflow("w-s", cards_ms=(50,))}}) as emu:
            d = self.drive(emu, ["--start", "w", "--api-key-file", kf, "--verbose"],
                           env=wf_env(emu, key=None), expect_rc=0)
            self.assertNotIn(key, d.out + d.err)
            self.assertTrue(all(q["headers"]["x-scale-api-key"] == key for q in self.calls(emu)))


if __name__ == "__main__":
    unittest.main()

"""Network faults against compass-emu (SPEC 4, 7, 8, 9): 5xx bursts, 429 with
Retry-After, connections cut at every phase (starting the run, the long-poll,
mid-body, a status poll), slow trickle bodies, HTML error pages, truncated,
oversized and deeply nested bodies, redirects to another origin. Every test
asserts the exact exit code, a message naming what failed, the _wf_runs row,
no row of a failed run, integrity_check ok and the key nowhere; a failed run
whose session goes on is then loaded with the printed attach command, so
nothing is lost."""
import json
import os
import re
import shlex
import socket
import time
import unittest

from hardlib import (API_KEY, HardCase, runs, rows_of_run, size, wf_env)

ROWS = 500
HTML = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
DEEP_RESULT = ('{"schema":[{"id":"a","type":"string"}],"data":[{"a":' + "[" * 200 + "]" * 200 + "}]}")
DEEP_SESSION = ('{"sessionState":{"status":"idle","cards":[{"id":"c1","context":{"cardType":"t"},'
                '"status":"completed","output":' + "[" * 5000 + "]" * 5000 + "}]}}")
BIG = 9 << 20  # over the 8 MiB bound of a session answer


def wf(rows=ROWS, card_ms=50, **kw):
    w = {"cards": [{"id": "c1", "type": "sql", "ms": card_ms}],
         "generate": {"rows": rows, "shape": "mixed"}}
    w.update(kw)
    return w


def fault(endpoint, workflow, kind, **kw):
    f = {"endpoint": endpoint, "workflow": workflow, "kind": kind}
    f.update(kw)
    return f


def scenario():
    w = {}
    faults = []

    def add(name, *fs, **kw):
        w[name] = wf(**kw)
        faults.extend(fs)

    add("burst", fault("result", "burst", "status", status=503, times=1),
        fault("result", "burst", "status", status=502, body=HTML, content_type="text/html"))
    add("burst_long", fault("result", "burst_long", "status", status=503, times=-1))
    add("run500", fault("run", "run500", "status", status=500,
                        body='{"error":"Internal Server Error","message":"database on fire",'
                             '"status_code":500}'))
    add("run502after", fault("run", "run502after", "status", status=502, after_run=True,
                              body=HTML, content_type="text/html"))
    add("run429", fault("run", "run429", "retry_after", retry_after=1))
    add("res429", fault("result", "res429", "retry_after", retry_after="2"))
    add("res429huge", fault("result", "res429huge", "retry_after", retry_after=99999999,
                            times=-1))
    add("runcut", fault("run", "runcut", "cut", after_bytes=3))
    add("runclose", fault("run", "runclose", "close"))
    add("polldrop", fault("result", "polldrop", "hold_drop", hold_ms=300, times=2))
    add("midbody", fault("result", "midbody", "cut", after_bytes=5000))
    add("midbody_always", fault("result", "midbody_always", "cut", after_bytes=5000, times=-1))
    add("sesscut", fault("session", "sesscut", "cut", after_bytes=10, times=2))
    add("trickle", fault("result", "trickle", "slow", chunk_bytes=4096, delay_ms=150), rows=300)
    add("htmlpoll", fault("session", "htmlpoll", "status", status=502, body=HTML,
                          content_type="text/html", times=2))
    w["html200"] = {"cards": [{"id": "c1", "ms": 50}], "result_raw": HTML,
                    "result_content_type": "text/html"}
    w["truncated"] = {"cards": [{"id": "c1", "ms": 50}],
                      "result_raw": '{"schema":[{"id":"a","type":"number"}],"data":[{"a":1},{"a":2'}
    w["nan"] = {"result_raw": '{"schema":[{"id":"a","type":"number"}],"data":[{"a":1},{"a":NaN}]}'}
    w["nulkey"] = {"result_raw": '{"data":[{"amount":1,"amount\\u0000x":9}]}'}
    w["deep"] = {"cards": [{"id": "c1", "ms": 50}], "result_raw": DEEP_RESULT}
    add("deepsess", fault("session", "deepsess", "status", status=200, body=DEEP_SESSION))
    add("bigsess", fault("session", "bigsess", "status", status=200,
                         body='{"sessionState":{"status":"idle","cards":[],"x":"' + "x" * BIG + '"}}'))
    add("bigerr", fault("result", "bigerr", "status", status=503, body="E" * (5 << 20),
                        content_type="text/plain"))
    add("redirrun", fault("run", "redirrun", "redirect", status=307))
    add("redirres", fault("result", "redirres", "redirect", status=302))
    add("verbose", fault("result", "verbose", "status", status=503),
        fault("result", "verbose", "redirect", status=302))
    add("auth", fault("result", "auth", "status", status=401,
                      body='{"error":"Unauthorized","message":"key revoked","status_code":401}'))
    return {"workflows": w, "faults": faults}


class NetFaults(HardCase):
    scenario = staticmethod(scenario)

    def db(self):
        return self.path("t.db")

    def run_(self, workflow, *extra, env=None):
        return self.wf(["run", workflow, "--db", self.db(), "--retries", "2"] + list(extra),
                       env=env)

    def attach_printed(self, r, rows):
        """Runs the 'continue with: wf2sqlite attach ...' the failure printed:
        the session's rows arrive whole, once."""
        m = re.search(r"continue with: (wf2sqlite attach .*)$", r.err, re.M)
        self.assertTrue(m, repr(r))
        args = shlex.split(m.group(1))[1:]
        a = self.wf(args)
        self.assertEqual(a.rc, 0, repr(a))
        rs = runs(self.db())
        self.assertEqual(rs[-1]["status"], "loaded")
        self.assertEqual(rs[-1]["rows_loaded"], rows)
        self.assertEqual(rows_of_run(self.db(), rs[-1]["table_name"], rs[-1]["run_id"]), rows)
        self.assertIntegrity(self.db())

    # ---- 5xx -------------------------------------------------------------

    def test_5xx_burst_on_result_is_retried_and_loads(self):
        r = self.run_("burst")
        self.assertLoaded(r, self.db(), "wf_burst", ROWS)
        self.assertIn("HTTP 503", r.err)
        self.assertIn("HTTP 502", r.err)
        sid = runs(self.db())[0]["session_id"]
        res = [q for q in self.requests_of("result") if sid in q["path"]]
        self.assertEqual([q["status"] for q in res], [503, 502, 200])

    def test_5xx_burst_longer_than_retries_exit_8(self):
        r = self.run_("burst_long", "--retries", "1")
        self.assertFailedRun(r, 8, self.db(), "wf_burst_long", "failed",
                             ["HTTP 503", "Service Unavailable", "gave up after 1 retr"],
                             error="HTTP 503")

    def test_run_500_is_not_retried_and_nothing_recorded(self):
        r = self.run_("run500")
        self.assertFailedRun(r, 8, self.db(), "wf_run500", None,
                             ["HTTP 500", "database on fire", "may have started",
                              "not sent again"], run_expected=False)
        self.assertEqual(len(self.runs_of_workflow("run500")), 1)

    def test_run_502_html_after_start_is_not_repeated(self):
        r = self.run_("run502after")
        self.assertFailedRun(r, 8, self.db(), "wf_run502after", None,
                             ["HTTP 502", "Bad Gateway", "may have started"], run_expected=False)
        posts = self.runs_of_workflow("run502after")
        self.assertEqual(len(posts), 1, "a run must never be started twice")

    # ---- 429 + Retry-After -----------------------------------------------

    def test_429_on_run_waits_retry_after_then_loads(self):
        r = self.run_("run429")
        self.assertLoaded(r, self.db(), "wf_run429", ROWS)
        posts = self.runs_of_workflow("run429")
        self.assertEqual([q["status"] for q in posts], [429, 200])
        self.assertGreaterEqual(posts[1]["t_ms"] - posts[0]["t_ms"], 950)

    def test_429_on_result_honours_retry_after(self):
        r = self.run_("res429")
        self.assertLoaded(r, self.db(), "wf_res429", ROWS)
        sid = runs(self.db())[0]["session_id"]
        res = [q for q in self.requests_of("result") if sid in q["path"]]
        self.assertEqual(res[0]["status"], 429)
        self.assertGreaterEqual(res[1]["t_ms"] - res[0]["t_ms"], 1950)

    def test_huge_retry_after_is_clamped_to_the_deadline(self):
        t = time.monotonic()
        r = self.run_("res429huge", "--timeout", "2s", "--retries", "5")
        took = time.monotonic() - t
        self.assertFailedRun(r, 6, self.db(), "wf_res429huge", "timeout", ["HTTP 429"])
        self.assertLess(took, 15, "Retry-After 99999999 must not be slept")

    # ---- cut connections -------------------------------------------------

    def test_cut_while_starting_the_run_is_not_resent(self):
        r = self.run_("runcut")
        self.assertFailedRun(r, 8, self.db(), "wf_runcut", None,
                             ["POST /v1/workflow/run", "cut", "may have started",
                              "wf2sqlite attach SESSION_ID"], run_expected=False)
        posts = self.runs_of_workflow("runcut")
        self.assertEqual(len(posts), 1)
        self.assertEqual(posts[0]["status"], 200)  # the server did start it

    def test_closed_without_answer_while_starting_is_not_resent(self):
        r = self.run_("runclose")
        self.assertFailedRun(r, 8, self.db(), "wf_runclose", None,
                             ["POST /v1/workflow/run", "may have started"], run_expected=False)
        self.assertEqual(len(self.runs_of_workflow("runclose")), 1)

    def test_refused_connection_is_exit_8_nothing_started(self):
        # A refused first contact is a configuration mistake: one attempt
        # (SPEC 4); test_recovery retries it once the host has answered.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        env = wf_env(None, extra={"SGP_BASE_URL": "http://127.0.0.1:%d/corp-api/compass/api" % port})
        r = self.wf(["run", "burst", "--db", self.db(), "--retries", "1"], env=env)
        self.assertFailedRun(r, 8, self.db(), "wf_burst", None,
                             ["POST /v1/workflow/run", "onnect", "the run was not started"],
                             run_expected=False)

    def test_long_poll_dropped_by_a_proxy_is_retried(self):
        r = self.run_("polldrop")
        self.assertLoaded(r, self.db(), "wf_polldrop", ROWS)
        sid = runs(self.db())[0]["session_id"]
        res = [q for q in self.requests_of("result") if sid in q["path"]]
        self.assertEqual([q["fault"] for q in res[:2]], ["hold_drop", "hold_drop"])

    def test_cut_mid_body_is_retried_rows_loaded_once(self):
        r = self.run_("midbody")
        self.assertLoaded(r, self.db(), "wf_midbody", ROWS)
        sid = runs(self.db())[0]["session_id"]
        res = [q for q in self.requests_of("result") if sid in q["path"]]
        self.assertEqual(res[0]["fault"], "cut")

    def test_cut_mid_body_every_time_exit_8_no_rows(self):
        r = self.run_("midbody_always", "--retries", "1")
        self.assertFailedRun(r, 8, self.db(), "wf_midbody_always", "failed",
                             ["result of session", "connection cut", "gave up after 1 retr"],
                             error="connection cut")

    def test_cut_status_poll_is_retried(self):
        r = self.run_("sesscut", "--wait", "poll", "--poll-interval", "100ms")
        self.assertLoaded(r, self.db(), "wf_sesscut", ROWS)

    # ---- slow bodies -----------------------------------------------------

    def test_slow_trickle_body_loads_even_past_the_timeout(self):
        # docs/waiting.md: once the session is terminal, --timeout no longer
        # bounds the download (only the stall limits do): a slow body loads.
        t = time.monotonic()
        r = self.run_("trickle", "--timeout", "1s")
        took = time.monotonic() - t
        self.assertLoaded(r, self.db(), "wf_trickle", 300)
        self.assertGreater(took, 1.5)
        sid = runs(self.db())[0]["session_id"]
        res = [q for q in self.requests_of("result") if sid in q["path"]]
        self.assertEqual(res[-1]["fault"], "slow")

    # ---- error pages and hostile bodies ----------------------------------

    def test_html_error_page_on_status_poll_is_retried(self):
        r = self.run_("htmlpoll", "--wait", "poll", "--poll-interval", "100ms")
        self.assertLoaded(r, self.db(), "wf_htmlpoll", ROWS)
        self.assertIn("HTTP 502", r.err)

    def test_html_page_as_result_exit_9(self):
        r = self.run_("html200")
        self.assertFailedRun(r, 9, self.db(), "wf_html200", "failed",
                             ["bad result body", "'<'"], error="bad result body")

    def test_truncated_body_exit_9(self):
        r = self.run_("truncated")
        self.assertFailedRun(r, 9, self.db(), "wf_truncated", "failed",
                             ["bad result body", "truncated"], error="truncated")

    def test_nan_exit_9(self):
        r = self.run_("nan")
        self.assertFailedRun(r, 9, self.db(), "wf_nan", "failed", ["bad result body", "NaN"])

    def test_nul_in_a_key_exit_9(self):
        r = self.run_("nulkey")
        self.assertFailedRun(r, 9, self.db(), "wf_nulkey", "failed", ["bad result body", "NUL"])

    def test_deeply_nested_result_exit_9(self):
        r = self.run_("deep")
        self.assertFailedRun(r, 9, self.db(), "wf_deep", "failed", ["bad result body", "nesting"])

    def test_deeply_nested_session_answer_exit_9(self):
        r = self.run_("deepsess", "--wait", "poll", "--poll-interval", "100ms")
        self.assertFailedRun(r, 9, self.db(), "wf_deepsess", "failed",
                             ["GET /v1/sessions/", "nesting too deep"])

    def test_oversized_session_answer_exit_9(self):
        r = self.run_("bigsess", "--wait", "poll", "--poll-interval", "100ms")
        self.assertFailedRun(r, 9, self.db(), "wf_bigsess", "failed",
                             ["GET /v1/sessions/", "larger than the 8388608 bytes"])

    def test_oversized_error_body_exit_9(self):
        r = self.run_("bigerr")
        self.assertFailedRun(r, 9, self.db(), "wf_bigerr", "failed",
                             ["HTTP 503", "larger than the 4194304 bytes"])

    def test_oversized_row_exit_9(self):
        path = self.path("big.json")
        with open(path, "w") as f:
            f.write('{"schema":[{"id":"a","type":"string"}],"data":[{"a":"')
            f.write("y" * ((64 << 20) + 16))
            f.write('"}]}')
        r = self.wf(["load", path, "--db", self.db(), "--table", "big"])
        self.assertEqual(r.rc, 9, repr(r))
        self.assertIn("a row larger than the limit of 67108864 bytes", r.err)
        self.assertEqual(runs(self.db())[0]["status"], "failed")
        self.assertEqual(rows_of_run(self.db(), "big", 1), 0)
        self.assertIntegrity(self.db())

    # ---- redirects and auth ----------------------------------------------

    def other_origin(self):
        with open(self.emu.port_path + ".other") as f:
            return "127.0.0.1:%d" % int(f.read())

    def test_redirect_of_the_run_to_another_origin_exit_8(self):
        r = self.run_("redirrun")
        self.assertFailedRun(r, 8, self.db(), "wf_redirrun", None,
                             ["redirected (HTTP 307)", self.other_origin(), "not followed"],
                             run_expected=False)
        self.assertEqual(self.requests_of(origin="other"), [])
        self.assertEqual(len(self.runs_of_workflow("redirrun")), 1)

    def test_redirect_of_the_result_to_another_origin_exit_8_then_attach(self):
        r = self.run_("redirres")
        self.assertFailedRun(r, 8, self.db(), "wf_redirres", "failed",
                             ["redirected (HTTP 302)", self.other_origin()], error="redirected")
        self.assertEqual(self.requests_of(origin="other"), [])
        self.attach_printed(r, ROWS)

    def test_verbose_trace_of_faults_redacts_the_key(self):
        r = self.run_("verbose", "--verbose")
        self.assertFailedRun(r, 8, self.db(), "wf_verbose", "failed",
                             ["HTTP 503", "redirected (HTTP 302)"])
        self.assertIn("x-scale-api-key: [redacted]", r.err)
        self.assertIn("> GET ", r.err)
        self.assertEqual(self.requests_of(origin="other"), [])

    def test_401_on_result_exit_3(self):
        r = self.run_("auth")
        self.assertFailedRun(r, 3, self.db(), "wf_auth", "failed", ["401", "key revoked"])


if __name__ == "__main__":
    unittest.main()

"""compass-emu serves SPEC section 2 from a scenario: run, session status
moving along the timeline, the long-poll result, auth, 404/400, the log."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from emutest import (ACCOUNT_ID, API_KEY, API_PATH, EmuTestCase, Emu, raw_exchange, request,
                     result, run, session, split_response)
import wfharness

LITERAL = {
    "data": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}],
    "schema": [{"id": "a", "header": "A", "type": "number"},
               {"id": "b", "header": "B", "type": "string"}],
    "start": 0, "end": 2,
    "result": {"summary": {"totalNumberOfRows": 2, "executionDurationMillis": 5}},
}


class ApiTest(EmuTestCase):
    def scenario(self):
        return {
            "workflows": {
                "ok": {"start_ms": 100, "pending_ms": 100,
                       "cards": [{"id": "c1", "type": "sql", "ms": 100},
                                 {"id": "c2", "type": "chart", "ms": 100, "output": {"n": 2}}],
                       "result": LITERAL},
                "bad": {"cards": [{"id": "c1", "ms": 50},
                                  {"id": "c2", "ms": 50, "status": "errored", "error": "division by zero"},
                                  {"id": "c3", "ms": 50}],
                        "result": LITERAL},
                "gone": {"cards": [{"id": "c1", "ms": 50}], "final_status": "inactive"},
                "idlebad": {"cards": [{"id": "c1", "ms": 50, "status": "errored",
                                       "error": "partial failure", "session_continues": True},
                                      {"id": "c2", "ms": 50}],
                            "result": LITERAL},
                "errflag": {"cards": [{"id": "c1", "ms": 10}], "final_status": "errored"},
                "slow": {"start_ms": 5000, "result": LITERAL},
                "fixed": {"session_id": "a b/c%d?", "result": LITERAL},
            },
            "sessions": {"old one/1": {"workflow": "ok", "age_ms": 60000},
                         "young": {"workflow": "slow"}},
        }

    def test_run_status_progression_then_result_when_idle(self):
        t0 = time.monotonic()
        sid = run(self.emu, "ok", {"region": "emea"})
        seen = []
        cards_seen = set()
        while time.monotonic() - t0 < 3:
            st = session(self.emu, sid)
            if not seen or seen[-1] != st["status"]:
                seen.append(st["status"])
            cards_seen.add(tuple(c["status"] for c in st["cards"]))
            if st["status"] == "idle":
                break
            time.sleep(0.02)
        self.assertEqual(seen, ["starting", "pending_work", "processing", "idle"])
        self.assertIn(("processing", "pending"), cards_seen)
        self.assertIn(("completed", "processing"), cards_seen)
        self.assertEqual(st["cards"][0]["id"], "c1")
        self.assertEqual(st["cards"][0]["context"], {"cardType": "sql"})
        self.assertEqual(st["cards"][1]["output"], {"n": 2})
        self.assertNotIn("errorMessage", st["cards"][0])
        r = result(self.emu, sid, 1000)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), LITERAL)
        self.assertEqual(r.header("Content-Type"), "application/json")

    def test_literal_result_is_served_byte_for_byte(self):
        sid = run(self.emu, "ok")
        body = result(self.emu, sid).body
        # Keys in the order given, as json.dumps wrote them.
        self.assertEqual(body, json.dumps(LITERAL).encode())

    def test_result_blocks_until_the_session_ends(self):
        sid = run(self.emu, "ok")
        r = result(self.emu, sid)  # default timeout 600000
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["end"], 2)
        self.assertGreater(r.elapsed, 0.3)
        self.assertLess(r.elapsed, 1.5)
        self.assertEqual(session(self.emu, sid)["status"], "idle")

    def test_result_timeout_answers_partial_state_early(self):
        sid = run(self.emu, "slow")
        r = result(self.emu, sid, 200)
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(r.elapsed, 0.18)
        self.assertLess(r.elapsed, 1.0)
        body = r.json()
        self.assertEqual(body["data"], [])
        self.assertEqual(body["schema"], LITERAL["schema"])
        self.assertEqual(body["result"]["summary"]["totalNumberOfRows"], 0)
        self.assertEqual(session(self.emu, sid)["status"], "starting")
        r0 = result(self.emu, sid, 0)
        self.assertLess(r0.elapsed, 0.2)
        self.assertEqual(r0.json()["data"], [])

    def test_errored_card_ends_session_with_its_message(self):
        sid = run(self.emu, "bad")
        r = result(self.emu, sid, 2000)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), LITERAL)  # still served, for --allow-partial
        self.assertLess(r.elapsed, 1.0)
        st = session(self.emu, sid)
        self.assertEqual(st["status"], "errored")
        self.assertEqual([c["status"] for c in st["cards"]], ["completed", "errored", "pending"])
        self.assertEqual(st["cards"][1]["errorMessage"], "division by zero")
        self.assertNotIn("errorMessage", st["cards"][2])

    def test_errored_card_with_session_continues_gives_an_idle_session(self):
        sid = run(self.emu, "idlebad")
        r = result(self.emu, sid, 2000)
        self.assertEqual(r.status, 200)
        self.assertGreater(r.elapsed, 0.08)  # both cards ran
        st = session(self.emu, sid)
        self.assertEqual(st["status"], "idle")
        self.assertEqual([c["status"] for c in st["cards"]], ["errored", "completed"])
        self.assertEqual(st["cards"][0]["errorMessage"], "partial failure")

    def test_final_status_errored_and_inactive(self):
        a = run(self.emu, "errflag")
        b = run(self.emu, "gone")
        self.assertEqual(result(self.emu, a, 2000).status, 200)
        self.assertEqual(result(self.emu, b, 2000).status, 200)
        sa, sb = session(self.emu, a), session(self.emu, b)
        self.assertEqual(sa["status"], "errored")
        self.assertEqual(sa["cards"][0]["status"], "completed")
        self.assertEqual(sb["status"], "inactive")
        # No result given: an empty one.
        self.assertEqual(result(self.emu, b).json()["data"], [])

    def test_preexisting_sessions_and_percent_decoded_ids(self):
        st = session(self.emu, "old one/1")
        self.assertEqual(st["status"], "idle")
        self.assertEqual(result(self.emu, "old one/1", 0).json(), LITERAL)
        self.assertEqual(session(self.emu, "young")["status"], "starting")
        sid = run(self.emu, "fixed")
        self.assertEqual(sid, "a b/c%d?")
        self.assertEqual(result(self.emu, sid, 1000).json(), LITERAL)
        self.assertEqual(run(self.emu, "fixed"), "a b/c%d?-2")
        # The raw '/' is a path separator, not part of an id.
        r = request(self.emu, "GET", "/v1/sessions/old one/1".replace(" ", "%20"))
        self.assertEqual(r.status, 404)

    def test_distinct_session_ids(self):
        ids = {run(self.emu, "ok") for _ in range(5)}
        self.assertEqual(len(ids), 5)

    def test_auth_failures(self):
        sid = run(self.emu, "ok")
        path = "/v1/sessions/" + sid
        cases = [
            {},
            {"x-selected-account-id": ACCOUNT_ID},
            {"x-scale-api-key": "wrong", "x-selected-account-id": ACCOUNT_ID},
            {"x-scale-api-key": API_KEY},
            {"x-scale-api-key": API_KEY, "x-selected-account-id": "other"},
            {"x-scale-api-key": API_KEY.upper(), "x-selected-account-id": ACCOUNT_ID},
        ]
        for h in cases:
            r = request(self.emu, "GET", path, headers=h, auth=False)
            self.assertEqual(r.status, 401, h)
            body = r.json()
            self.assertEqual(body["status_code"], 401)
            self.assertIn("error", body)
            self.assertIn("message", body)
        r = request(self.emu, "POST", "/v1/workflow/run", {"workflowId": "ok"}, auth=False,
                    headers={"x-scale-api-key": "wrong", "x-selected-account-id": ACCOUNT_ID})
        self.assertEqual(r.status, 401)
        # A refused run starts no session: the next id is still the second one.
        runs = [q for q in self.emu.requests() if q["path"].endswith("/run") and q["status"] == 200]
        self.assertEqual(len(runs), 1)

    def test_not_found(self):
        r = request(self.emu, "POST", "/v1/workflow/run", {"workflowId": "nope"})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["status_code"], 404)
        self.assertIn("error", r.json())
        for path in ["/v1/sessions/nope", "/v1/sessions/nope/result", "/v1/other",
                     "/v1/sessions/x/y", "/v2/workflow/run", "//nothing/here"]:
            r = request(self.emu, "GET", path)
            self.assertEqual(r.status, 404, path)
            self.assertEqual(r.json()["status_code"], 404)

    def test_bad_requests(self):
        cases = [
            ("not json", {"Content-Type": "application/json"}),
            ('{"workflowId": "ok"} trailing', {"Content-Type": "application/json"}),
            ("[1,2]", {"Content-Type": "application/json"}),
            ("{}", {"Content-Type": "application/json"}),
            ('{"workflowId": 5}', {"Content-Type": "application/json"}),
            ('{"workflowId": ""}', {"Content-Type": "application/json"}),
            ('{"workflowId": "ok", "variables": "a=b"}', {"Content-Type": "application/json"}),
            ('{"workflowId": "ok", "variables": null}', {"Content-Type": "application/json"}),
            ('{"workflowId": "ok"}', {}),
            ('{"workflowId": "ok"}', {"Content-Type": "text/plain"}),
            ("", {"Content-Type": "application/json"}),
        ]
        for body, h in cases:
            r = request(self.emu, "POST", "/v1/workflow/run", body, headers=h)
            self.assertEqual(r.status, 400, (body, h, r))
            self.assertEqual(r.json()["status_code"], 400)
        ok = request(self.emu, "POST", "/v1/workflow/run", '{"workflowId":"ok"}',
                     headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(ok.status, 200)
        sid = ok.json()["sessionId"]
        for q in ["?timeout=abc", "?timeout=", "?timeout=-5"]:
            r = request(self.emu, "GET", "/v1/sessions/%s/result%s" % (sid, q))
            self.assertEqual(r.status, 400, q)
        self.assertEqual(request(self.emu, "GET", "/v1/sessions/bad%zz").status, 400)
        self.assertEqual(request(self.emu, "GET", "/v1/workflow/run").status, 405)

    def test_request_log(self):
        sid = run(self.emu, "ok", {"k": "v"})
        session(self.emu, sid)
        request(self.emu, "GET", "/v1/sessions/" + sid + "/result?timeout=0&x=1")
        log = self.emu.requests()
        self.assertEqual(len(log), 3)
        post, get, res = log
        self.assertEqual(post["method"], "POST")
        self.assertEqual(post["path"], API_PATH + "/v1/workflow/run")
        self.assertEqual(json.loads(post["body"]), {"workflowId": "ok", "variables": {"k": "v"}})
        self.assertEqual(post["headers"]["x-scale-api-key"], API_KEY)
        self.assertEqual(post["headers"]["x-selected-account-id"], ACCOUNT_ID)
        self.assertEqual(post["headers"]["content-type"], "application/json")
        self.assertEqual(post["origin"], "main")
        self.assertEqual(post["status"], 200)
        self.assertEqual(get["path"], API_PATH + "/v1/sessions/" + sid)
        self.assertEqual(get["query"], "")
        self.assertEqual(res["query"], "timeout=0&x=1")
        self.assertEqual(res["body"], "")
        self.assertLessEqual(post["t_ms"], get["t_ms"])
        self.assertLessEqual(get["t_ms"], res["t_ms"])
        self.assertEqual(len({post["conn"], get["conn"], res["conn"]}), 3)

    def test_log_stays_utf8_with_binary_bodies(self):
        import base64
        raw = b'{"workflowId":"ok","variables":{"k":"caf\xc3\xa9 \xff\xfe"}}'
        r = request(self.emu, "POST", "/v1/workflow/run", raw,
                    headers={"Content-Type": "application/json", "X-Odd": "v\u00e9"})
        self.assertEqual(r.status, 200)
        entry = self.emu.requests()[-1]  # would raise if the line were not UTF-8 JSON
        self.assertEqual(entry["body"], raw.decode("utf-8", "replace"))
        self.assertEqual(base64.b64decode(entry["body_base64"]), raw)
        # http.client sends the header as Latin-1: one invalid UTF-8 byte.
        self.assertEqual(entry["headers"]["x-odd"], "v\ufffd")
        run(self.emu, "ok")
        self.assertNotIn("body_base64", self.emu.requests()[-1])

    def test_keep_alive_and_connection_close(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.emu.port, timeout=5)
        h = {"x-scale-api-key": API_KEY, "x-selected-account-id": ACCOUNT_ID}
        for _ in range(3):
            conn.request("GET", API_PATH + "/v1/sessions/young", headers=h)
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.getheader("Connection"), "keep-alive")
        conn.request("GET", API_PATH + "/v1/sessions/young", headers=dict(h, Connection="close"))
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.getheader("Connection"), "close")
        conn.close()
        conns = [q["conn"] for q in self.emu.requests()]
        self.assertEqual(len(conns), 4)
        self.assertEqual(len(set(conns)), 1)

    def test_held_long_poll_does_not_block_other_requests(self):
        import threading
        sid = run(self.emu, "slow")
        out = {}
        t = threading.Thread(target=lambda: out.update(r=result(self.emu, sid, 800)))
        t.start()
        time.sleep(0.1)
        t0 = time.monotonic()
        self.assertEqual(session(self.emu, sid)["status"], "starting")
        self.assertLess(time.monotonic() - t0, 0.5)
        t.join()
        self.assertGreater(out["r"].elapsed, 0.7)

    def test_concurrent_clients(self):
        import threading
        out, errors = [], []

        def client():
            try:
                sid = run(self.emu, "ok")
                for _ in range(3):
                    session(self.emu, sid)
                r = result(self.emu, sid, 3000)
                out.append((sid, r.status, r.json()))
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=client) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len({sid for sid, _, _ in out}), 16)
        self.assertTrue(all(st == 200 and body == LITERAL for _, st, body in out))
        self.assertEqual(len(self.emu.requests()), 16 * 5)

    def test_other_origin_listener(self):
        with open(self.emu.port_path + ".other") as f:
            other = int(f.read())
        self.assertNotEqual(other, self.emu.port)
        r = request(self.emu, "POST", "/v1/workflow/run", {"workflowId": "ok"}, port=other)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"sessionId": "evil"})
        log = self.emu.requests()
        self.assertEqual(log[-1]["origin"], "other")
        self.assertEqual(log[-1]["headers"]["x-scale-api-key"], API_KEY)


class WireTest(EmuTestCase):
    """HTTP details over raw sockets."""

    def scenario(self):
        return {"workflows": {"w": {}}, "sessions": {"s1": {"workflow": "w"}}}

    def head(self, method, path, extra=""):
        return ("%s %s%s HTTP/1.1\r\nHost: x\r\nx-scale-api-key: %s\r\n"
                "x-selected-account-id: %s\r\n%s\r\n" % (method, API_PATH, path, API_KEY,
                                                         ACCOUNT_ID, extra)).encode()

    def test_expect_100_continue(self):
        import socket
        body = b'{"workflowId":"w"}'
        s = socket.create_connection(("127.0.0.1", self.emu.port), timeout=5)
        try:
            s.sendall(self.head("POST", "/v1/workflow/run",
                                "Content-Type: application/json\r\nExpect: 100-continue\r\n"
                                "Content-Length: %d\r\n" % len(body)))
            self.assertEqual(s.recv(100), b"HTTP/1.1 100 Continue\r\n\r\n")
            s.sendall(body + self.head("GET", "/v1/sessions/s1", "Connection: close\r\n"))
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        # Two answers, the second pipelined behind the body of the first.
        first, _, rest = data.partition(b"\r\n\r\n")
        self.assertTrue(first.startswith(b"HTTP/1.1 200 OK"))
        self.assertIn(b'{"sessionId":"sess-', rest)
        self.assertIn(b"HTTP/1.1 200 OK", rest)
        self.assertTrue(rest.endswith(b'"cards":[]}}'))
        log = self.emu.requests()
        self.assertEqual([q["status"] for q in log], [200, 200])
        self.assertEqual(log[0]["conn"], log[1]["conn"])
        self.assertEqual(log[0]["body"], body.decode())

    def test_binary_request_body_in_the_same_packet_as_the_head(self):
        raw, closed, _ = raw_exchange(self.emu.port, self.head(
            "GET", "/v1/sessions/s1", "Content-Length: 3\r\nConnection: close\r\n") + b"\x00\x01\xff")
        self.assertEqual(split_response(raw)[0], 200)
        entry = self.emu.requests()[-1]
        self.assertEqual(entry["body"], "\x00\x01\ufffd")
        self.assertEqual(entry["body_base64"], "AAH/")

    def test_chunked_body_refused_and_logged(self):
        raw, closed, _ = raw_exchange(self.emu.port, self.head(
            "POST", "/v1/workflow/run",
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n") +
            b"5\r\nhello\r\n0\r\n\r\n")
        self.assertTrue(closed)
        self.assertEqual(split_response(raw)[0], 411)
        self.assertEqual(self.emu.requests()[-1]["status"], 411)

    def test_http10_closes_and_garbage_is_400(self):
        raw, closed, _ = raw_exchange(self.emu.port, self.head("GET", "/v1/sessions/s1")
                                      .replace(b"HTTP/1.1", b"HTTP/1.0", 1))
        self.assertTrue(closed)
        status, headers, body = split_response(raw)
        self.assertEqual(status, 200)
        self.assertEqual(headers["connection"], "close")
        self.assertEqual(int(headers["content-length"]), len(body))
        raw, closed, _ = raw_exchange(self.emu.port, b"NONSENSE\r\n\r\n")
        self.assertTrue(closed)
        self.assertEqual(split_response(raw)[0], 400)


class ExamplesTest(unittest.TestCase):
    def test_demo_scenario(self):
        path = os.path.join(wfharness.SOURCE_DIR, "examples", "demo-scenario.json")
        with open(path) as f:
            sc = json.load(f)
        self.assertEqual(sc["api_key"], "demo-key")
        self.assertEqual(sc["account_id"], "demo-account")
        with Emu(path) as emu:
            import http.client
            h = {"x-scale-api-key": "demo-key", "x-selected-account-id": "demo-account",
                 "Content-Type": "application/json"}
            c = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
            c.request("POST", API_PATH + "/v1/workflow/run",
                      json.dumps({"workflowId": "sales_by_region",
                                  "variables": {"region": "emea"}}), h)
            sid = json.loads(c.getresponse().read())["sessionId"]
            t0 = time.monotonic()
            c.request("GET", API_PATH + "/v1/sessions/%s/result" % sid, headers=h)
            r = c.getresponse()
            body = json.loads(r.read())
            secs = time.monotonic() - t0
            c.request("GET", API_PATH + "/v1/sessions/%s" % sid, headers=h)
            st = json.loads(c.getresponse().read())["sessionState"]
            c.close()
        self.assertEqual(r.status, 200)
        self.assertGreater(secs, 1.2)
        self.assertLess(secs, 3.0)
        self.assertEqual(st["status"], "idle")
        self.assertGreaterEqual(len(st["cards"]), 3)
        self.assertEqual([(c["id"], c["type"]) for c in body["schema"]],
                         [("region", "string"), ("product", "string"), ("units", "number"),
                          ("revenue", "number")])
        self.assertEqual(len(body["data"]), 20)
        self.assertEqual(body["result"]["summary"]["totalNumberOfRows"], 20)
        for row in body["data"]:
            self.assertIsInstance(row["region"], str)
            self.assertIsInstance(row["units"], int)

    def test_docs_example_scenario_loads(self):
        path = os.path.join(wfharness.SOURCE_DIR, "docs", "emulator.md")
        with open(path) as f:
            text = f.read()
        example = text[text.rindex("```json") + 7:text.rindex("```")]
        d = tempfile.mkdtemp(prefix="wfemu-")
        self.addCleanup(shutil.rmtree, d, True)
        sc = os.path.join(d, "s.json")
        with open(sc, "w") as f:
            f.write(example)
        with Emu(sc, workdir=d) as emu:
            r = request(emu, "GET", "/v1/sessions/old-session")
            self.assertEqual(r.status, 200)


class ProcessTest(unittest.TestCase):
    def test_bad_scenarios_exit_2_naming_the_file(self):
        d = tempfile.mkdtemp(prefix="wfemu-")
        self.addCleanup(shutil.rmtree, d, True)
        cases = [
            ("{not json", "not valid JSON"),
            ("[]", "must be a JSON object"),
            ('{"account_id": "a", "workflows": {}}', "api_key"),
            ('{"api_key": "k", "account_id": "a"}', "workflows"),
            ('{"api_key": "k", "account_id": "a", "workflows": {"w": {"final_status": "done"}}}',
             "final_status"),
            ('{"api_key": "k", "account_id": "a", "workflows": {"w": {"cardz": []}}}', "cardz"),
            ('{"api_key": "k", "account_id": "a", "workflows": {"w": {"generate": {"rows": 1, "shape": "x"}}}}',
             "shape"),
            ('{"api_key": "k", "account_id": "a", "workflows": {}, "sessions": {"s": {"workflow": "nope"}}}',
             "nope"),
            ('{"api_key": "k", "account_id": "a", "workflows": {}, "faults": [{"endpoint": "run", "kind": "zap"}]}',
             "zap"),
            ('{"api_key": "k", "account_id": "a", "workflows": {"w": {"result": {}, "result_raw": "x"}}}',
             "only one"),
        ]
        for text, word in cases:
            path = os.path.join(d, "s.json")
            with open(path, "w") as f:
                f.write(text)
            p = subprocess.run([wfharness.EMU, "--scenario", path, "--port", "0"],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, (text, p.stderr))
            lines = p.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertIn(path, lines[0])
            self.assertIn(word, lines[0])
        p = subprocess.run([wfharness.EMU, "--scenario", os.path.join(d, "missing.json")],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("missing.json", p.stderr)

    def test_prints_port_and_exits_0_on_sigint_and_sigterm(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            emu = Emu({"workflows": {"w": {}}})
            emu.proc = None
            p = subprocess.Popen([wfharness.EMU, "--scenario", emu.scenario_path, "--port", "0",
                                  "--port-file", emu.port_path], stdout=subprocess.PIPE, text=True)
            line = p.stdout.readline()
            with open(emu.port_path) as f:
                port = int(f.read())
            self.assertEqual(f"compass-emu listening on http://127.0.0.1:{port}\n", line)
            p.send_signal(sig)
            self.assertEqual(p.wait(timeout=5), 0)
            p.stdout.close()

    def test_fixed_port(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        emu = Emu({"workflows": {"w": {}}}, extra_args=["--port", str(port)])
        # extra --port comes last and wins over the harness's --port 0.
        with emu:
            self.assertEqual(emu.port, port)


if __name__ == "__main__":
    unittest.main()

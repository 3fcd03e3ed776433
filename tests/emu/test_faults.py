"""Every fault kind of compass-emu, checked on the wire (http.client and raw
sockets) and in the request log."""
import json
import time
import unittest

from emutest import (API_KEY, API_PATH, EmuTestCase, raw_exchange, raw_get, request, result,
                     run, split_response)

BODY = {"data": [{"n": i, "s": "value-%03d" % i} for i in range(10)],
        "schema": [{"id": "n", "header": "N", "type": "number"},
                   {"id": "s", "header": "S", "type": "string"}],
        "start": 0, "end": 10,
        "result": {"summary": {"totalNumberOfRows": 10, "executionDurationMillis": 1}}}
BODY_BYTES = json.dumps(BODY).encode()
HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"


def wf(name):
    return {"session_id": name + "-s", "result": BODY}


class FaultTest(EmuTestCase):
    def scenario(self):
        names = ["status_run", "after_run", "retry", "html", "cut", "close", "slow", "hold",
                 "redirect", "any", "order", "always", "clean", "cut_run", "skip"]
        return {
            "workflows": {n: wf(n) for n in names},
            "sessions": {"any-pre": {"workflow": "any"}},
            "faults": [
                {"endpoint": "run", "workflow": "status_run", "kind": "status", "status": 500},
                {"endpoint": "run", "workflow": "after_run", "kind": "status", "status": 504,
                 "after_run": True, "body": {"error": "Gateway Timeout", "status_code": 504}},
                {"endpoint": "run", "workflow": "retry", "kind": "retry_after", "retry_after": 7},
                {"endpoint": "session", "workflow": "html", "kind": "status", "status": 502,
                 "times": 2, "body": HTML, "content_type": "text/html",
                 "headers": {"X-Proxy": "edge"}},
                {"endpoint": "result", "workflow": "cut", "kind": "cut", "after_bytes": 10},
                {"endpoint": "result", "workflow": "close", "kind": "close"},
                {"endpoint": "result", "workflow": "slow", "kind": "slow", "chunk_bytes": 100,
                 "delay_ms": 60},
                {"endpoint": "result", "workflow": "hold", "kind": "hold_drop", "hold_ms": 300},
                {"endpoint": "session", "workflow": "redirect", "kind": "redirect",
                 "status": 307},
                {"endpoint": "any", "workflow": "any", "kind": "status", "status": 503,
                 "times": 2},
                {"endpoint": "result", "workflow": "order", "kind": "status", "status": 504,
                 "hold_ms": 200},
                {"endpoint": "result", "workflow": "order", "kind": "retry_after",
                 "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT"},
                {"endpoint": "session", "workflow": "always", "kind": "status", "status": 500,
                 "times": -1},
                {"endpoint": "session", "workflow": "skip", "kind": "status", "status": 503,
                 "skip": 2, "times": 1},
                {"endpoint": "run", "workflow": "cut_run", "kind": "cut", "after_bytes": 5},
            ],
        }

    def runs_logged(self, workflow):
        return [q for q in self.emu.requests()
                if q["path"].endswith("/run") and json.loads(q["body"])["workflowId"] == workflow]

    def test_status_on_run_does_not_start_a_session(self):
        r = request(self.emu, "POST", "/v1/workflow/run", {"workflowId": "status_run"})
        self.assertEqual(r.status, 500)
        self.assertEqual(r.json()["status_code"], 500)
        self.assertEqual(request(self.emu, "GET", "/v1/sessions/status_run-s").status, 404)
        # The next run is the first session of the workflow: it gets the fixed id.
        self.assertEqual(run(self.emu, "status_run"), "status_run-s")
        log = self.runs_logged("status_run")
        self.assertEqual([q["status"] for q in log], [500, 200])
        self.assertEqual(log[0]["fault"], "status")
        self.assertIsNone(log[1]["fault"])

    def test_status_after_run_starts_the_session(self):
        r = request(self.emu, "POST", "/v1/workflow/run", {"workflowId": "after_run"})
        self.assertEqual(r.status, 504)
        self.assertEqual(r.json(), {"error": "Gateway Timeout", "status_code": 504})
        self.assertEqual(request(self.emu, "GET", "/v1/sessions/after_run-s").status, 200)

    def test_retry_after(self):
        r = request(self.emu, "POST", "/v1/workflow/run", {"workflowId": "retry"})
        self.assertEqual(r.status, 429)
        self.assertEqual(r.header("Retry-After"), "7")
        self.assertEqual(request(self.emu, "GET", "/v1/sessions/retry-s").status, 404)
        self.assertEqual(run(self.emu, "retry"), "retry-s")

    def test_status_with_html_body_headers_and_times(self):
        sid = run(self.emu, "html")
        for _ in range(2):
            r = request(self.emu, "GET", "/v1/sessions/" + sid)
            self.assertEqual(r.status, 502)
            self.assertEqual(r.body.decode(), HTML)
            self.assertEqual(r.header("Content-Type"), "text/html")
            self.assertEqual(r.header("X-Proxy"), "edge")
        self.assertEqual(request(self.emu, "GET", "/v1/sessions/" + sid).status, 200)

    def test_cut_sends_real_length_then_closes(self):
        sid = run(self.emu, "cut")
        raw, closed, _ = raw_exchange(self.emu.port, raw_get("/v1/sessions/%s/result" % sid))
        self.assertTrue(closed)
        status, headers, body = split_response(raw)
        self.assertEqual(status, 200)
        self.assertEqual(int(headers["content-length"]), len(BODY_BYTES))
        self.assertEqual(body, BODY_BYTES[:10])
        # Only the first call is cut.
        self.assertEqual(result(self.emu, sid).body, BODY_BYTES)

    def test_cut_on_run_starts_the_session(self):
        body = '{"workflowId":"cut_run"}'
        r, closed, _ = raw_exchange(self.emu.port, (
            "POST %s/v1/workflow/run HTTP/1.1\r\nHost: x\r\nx-scale-api-key: %s\r\n"
            "x-selected-account-id: test-account\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n%s" % (API_PATH, API_KEY, len(body), body)).encode())
        self.assertTrue(closed)
        self.assertEqual(split_response(r)[2], b'{"ses')
        self.assertEqual(request(self.emu, "GET", "/v1/sessions/cut_run-s").status, 200)

    def test_close_without_answer(self):
        sid = run(self.emu, "close")
        raw, closed, _ = raw_exchange(self.emu.port, raw_get("/v1/sessions/%s/result" % sid))
        self.assertEqual(raw, b"")
        self.assertTrue(closed)
        self.assertEqual(self.emu.requests()[-1]["status"], 0)
        self.assertEqual(self.emu.requests()[-1]["fault"], "close")
        self.assertEqual(result(self.emu, sid).body, BODY_BYTES)

    def test_slow_body_arrives_whole_in_chunks(self):
        sid = run(self.emu, "slow")
        chunks = (len(BODY_BYTES) + 99) // 100
        r = result(self.emu, sid)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, BODY_BYTES)
        self.assertGreaterEqual(r.elapsed, (chunks - 1) * 0.06 - 0.02)
        self.assertLess(r.elapsed, chunks * 0.06 + 1.0)

    def test_hold_drop(self):
        sid = run(self.emu, "hold")
        raw, closed, secs = raw_exchange(self.emu.port, raw_get("/v1/sessions/%s/result" % sid))
        self.assertEqual(raw, b"")
        self.assertTrue(closed)
        self.assertGreaterEqual(secs, 0.28)
        self.assertLess(secs, 2.0)

    def test_redirect_to_other_origin(self):
        sid = run(self.emu, "redirect")
        r = request(self.emu, "GET", "/v1/sessions/" + sid)
        self.assertEqual(r.status, 307)
        with open(self.emu.port_path + ".other") as f:
            other = int(f.read())
        self.assertEqual(r.header("Location"),
                         "http://127.0.0.1:%d%s/v1/sessions/%s" % (other, API_PATH, sid))
        self.assertEqual(request(self.emu, "GET", "/v1/sessions/" + sid).status, 200)
        # Following it by hand reaches the other origin, and the log says so.
        request(self.emu, "GET", "/v1/sessions/" + sid, auth=False, port=other)
        self.assertEqual(self.emu.requests()[-1]["origin"], "other")

    def test_any_endpoint_and_times(self):
        self.assertEqual(request(self.emu, "GET", "/v1/sessions/any-pre").status, 503)
        self.assertEqual(result(self.emu, "any-pre").status, 503)
        self.assertEqual(request(self.emu, "GET", "/v1/sessions/any-pre").status, 200)
        self.assertEqual(result(self.emu, "any-pre").status, 200)
        run(self.emu, "any")

    def test_faults_consumed_in_order(self):
        sid = run(self.emu, "order")
        a = result(self.emu, sid)
        b = result(self.emu, sid)
        c = result(self.emu, sid)
        self.assertEqual([a.status, b.status, c.status], [504, 429, 200])
        self.assertGreaterEqual(a.elapsed, 0.18)
        self.assertLess(b.elapsed, 0.15)
        self.assertEqual(b.header("Retry-After"), "Wed, 21 Oct 2015 07:28:00 GMT")

    def test_times_minus_one_is_every_call(self):
        sid = run(self.emu, "always")
        for _ in range(4):
            self.assertEqual(request(self.emu, "GET", "/v1/sessions/" + sid).status, 500)

    def test_skip_lets_first_calls_through(self):
        sid = run(self.emu, "skip")
        got = [request(self.emu, "GET", "/v1/sessions/" + sid).status for _ in range(4)]
        self.assertEqual(got, [200, 200, 503, 200])

    def test_faults_do_not_touch_other_workflows(self):
        sid = run(self.emu, "clean")
        self.assertEqual(request(self.emu, "GET", "/v1/sessions/" + sid).status, 200)
        self.assertEqual(result(self.emu, sid).body, BODY_BYTES)
        self.assertTrue(all(q["fault"] is None for q in self.emu.requests()))


if __name__ == "__main__":
    unittest.main()

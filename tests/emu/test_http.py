"""compass-emu on libmicrohttpd (SPEC 17), checked on the wire: chunked
transfer, gzip only when Accept-Encoding allows it, a gzip bomb, a broken
gzip stream, HTTPS with --tls-cert/--tls-key, keep-alive through all of
them, and the request log saying what was sent."""
import gzip
import http.client
import json
import ssl
import unittest
import zlib

from emutest import AUTH, API_PATH, Emu, EmuTestCase, raw_exchange, raw_get, request, result
from wfharness import OPENSSL, make_cert

LITERAL = {"data": [{"n": i, "s": "v%03d" % i} for i in range(50)],
           "schema": [{"id": "n", "header": "N", "type": "number"},
                      {"id": "s", "header": "S", "type": "string"}],
           "start": 0, "end": 50}
LITERAL_BYTES = json.dumps(LITERAL).encode()
BOMB = 64 << 20


def scenario():
    return {
        "workflows": {
            "plain": {"result": LITERAL},
            "ch": {"result": LITERAL, "chunked": True},
            "gz": {"result": LITERAL, "gzip": True},
            "both": {"generate": {"rows": 2000, "shape": "mixed"}, "chunked": True,
                     "gzip": True},
            "bomb": {"result": LITERAL},
            "broken": {"result": LITERAL},
            "cutgz": {"result": LITERAL, "gzip": True},
        },
        "sessions": {n: {"workflow": n} for n in
                     ["plain", "ch", "gz", "both", "bomb", "broken", "cutgz"]},
        "faults": [
            {"endpoint": "result", "workflow": "bomb", "kind": "gzip_bomb",
             "inflated_bytes": BOMB},
            {"endpoint": "result", "workflow": "broken", "kind": "gzip_broken",
             "after_bytes": 1000},
            {"endpoint": "result", "workflow": "cutgz", "kind": "cut", "after_bytes": 30},
        ],
    }


def gz(headers=None):
    h = {"Accept-Encoding": "gzip"}
    h.update(headers or {})
    return h


class CodingTest(EmuTestCase):
    def scenario(self):
        return scenario()

    def test_chunked_result_has_no_content_length(self):
        raw, closed, _ = raw_exchange(self.emu.port, raw_get("/v1/sessions/ch/result",
                                                             b"Connection: close\r\n"))
        head, _, body = raw.partition(b"\r\n\r\n")
        head = head.decode("latin-1").lower()
        self.assertIn("transfer-encoding: chunked", head)
        self.assertNotIn("content-length", head)
        # Decode the chunks by hand: size line, data, CRLF; a 0 chunk ends.
        out, rest = b"", body
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            n = int(size_line.split(b";")[0], 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        self.assertEqual(out, LITERAL_BYTES)
        log = self.emu.requests()[-1]
        self.assertEqual((log["chunked"], log["encoding"]), (True, None))

    def test_gzip_only_when_accepted(self):
        cases = [({"Accept-Encoding": "gzip"}, True), ({"Accept-Encoding": "br, gzip;q=0.5"}, True),
                 ({"Accept-Encoding": "*"}, True), ({"Accept-Encoding": "deflate, GZIP"}, True),
                 ({}, False), ({"Accept-Encoding": "identity"}, False),
                 ({"Accept-Encoding": "gzip;q=0"}, False), ({"Accept-Encoding": "gzip; q=0.000"}, False),
                 ({"Accept-Encoding": "br"}, False)]
        for headers, want in cases:
            r = result(self.emu, "gz", headers=headers)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Vary"), "Accept-Encoding")
            if want:
                self.assertEqual(r.header("Content-Encoding"), "gzip", headers)
                self.assertEqual(gzip.decompress(r.body), LITERAL_BYTES)
                self.assertLess(len(r.body), len(LITERAL_BYTES))
            else:
                self.assertIsNone(r.header("Content-Encoding"), headers)
                self.assertEqual(r.body, LITERAL_BYTES)
            self.assertEqual(self.emu.requests()[-1]["encoding"], "gzip" if want else None)
        # A workflow without the switch never encodes.
        r = result(self.emu, "plain", headers=gz())
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertIsNone(r.header("Vary"))
        self.assertEqual(r.body, LITERAL_BYTES)

    def test_session_and_run_answers_follow_the_switches_too(self):
        r = request(self.emu, "GET", "/v1/sessions/gz", headers=gz())
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertIn("sessionState", json.loads(gzip.decompress(r.body)))
        r = request(self.emu, "POST", "/v1/workflow/run", {"workflowId": "both"}, headers=gz())
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertIn("sessionId", json.loads(gzip.decompress(r.body)))
        # Errors are plain.
        r = request(self.emu, "GET", "/v1/sessions/nope", headers=gz())
        self.assertEqual(r.status, 404)
        self.assertIsNone(r.header("Content-Encoding"))

    def test_chunked_gzip_over_keep_alive(self):
        plain = result(self.emu, "both").body
        conn = http.client.HTTPConnection("127.0.0.1", self.emu.port, timeout=10)
        try:
            for _ in range(3):
                conn.request("GET", API_PATH + "/v1/sessions/both/result", headers=dict(AUTH, **gz()))
                r = conn.getresponse()
                body = r.read()
                self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
                self.assertEqual(r.getheader("Content-Encoding"), "gzip")
                self.assertEqual(gzip.decompress(body), plain)
                self.assertEqual(len(json.loads(plain)["data"]), 2000)
        finally:
            conn.close()
        log = [q for q in self.emu.requests() if q["headers"].get("accept-encoding") == "gzip"]
        self.assertEqual(len(log), 3)
        self.assertEqual(len({q["conn"] for q in log}), 1, "not one keep-alive connection")

    def test_gzip_bomb_is_small_on_the_wire_and_inflates_to_its_size(self):
        r = result(self.emu, "bomb", headers=gz())
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertLess(len(r.body), BOMB // 500)
        d = zlib.decompressobj(31)
        total, head, data = 0, b"", r.body
        while data:
            out = d.decompress(data, 1 << 20)
            if not head:
                head = out[:80]
            total += len(out)
            data = d.unconsumed_tail
        total += len(d.flush())
        self.assertTrue(d.eof, "the gzip trailer is missing")
        self.assertEqual(total, BOMB)
        self.assertTrue(head.startswith(b'{"schema":[{"id":"x"'), head)
        self.assertEqual(self.emu.requests()[-1]["fault"], "gzip_bomb")
        # times 1: then the normal answer.
        self.assertEqual(result(self.emu, "bomb").body, LITERAL_BYTES)

    def test_broken_gzip_stream_inflates_then_fails(self):
        r = result(self.emu, "broken", headers=gz())
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(int(r.header("Content-Length")), len(r.body))
        d = zlib.decompressobj(31)
        got = b""
        with self.assertRaises(zlib.error):
            for i in range(len(r.body)):
                got += d.decompress(r.body[i:i + 1])
        self.assertEqual(got, LITERAL_BYTES[:1000])
        log = self.emu.requests()[-1]
        self.assertEqual((log["fault"], log["encoding"]), ("gzip_broken", "gzip"))
        self.assertEqual(result(self.emu, "broken", headers=gz()).header("Content-Encoding"), None)

    def test_cut_of_a_gzip_body_cuts_the_encoded_bytes(self):
        encoded = gzip.compress(LITERAL_BYTES)
        raw, closed, _ = raw_exchange(self.emu.port, raw_get("/v1/sessions/cutgz/result",
                                                             b"Accept-Encoding: gzip\r\n"))
        self.assertTrue(closed)
        head, _, body = raw.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Encoding: gzip", head)
        self.assertEqual(len(body), 30)
        self.assertEqual(body[:2], encoded[:2])

    def test_scenario_switches_are_validated(self):
        import os
        import subprocess
        import tempfile
        import wfharness
        d = tempfile.mkdtemp(prefix="wfemu-")
        for wf, word in [({"gzip": "yes"}, "gzip"), ({"chunked": 1}, "chunked")]:
            path = os.path.join(d, "s.json")
            with open(path, "w") as f:
                json.dump({"api_key": "k", "account_id": "a", "workflows": {"w": wf}}, f)
            p = subprocess.run([wfharness.EMU, "--scenario", path], capture_output=True,
                               text=True, timeout=10)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(word, p.stderr)


@unittest.skipIf(OPENSSL is None, "the openssl tool is not installed: TLS is not checked")
class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.dir = tempfile.mkdtemp(prefix="wfemu-tls-")
        cls.key, cls.crt = make_cert(cls.dir, "srv", "IP:127.0.0.1")
        cls.emu = Emu(scenario(), workdir=cls.dir,
                      extra_args=["--tls-cert", cls.crt, "--tls-key", cls.key])
        cls.emu.start()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    def https(self, port=None):
        ctx = ssl.create_default_context(cafile=self.crt)
        return http.client.HTTPSConnection("127.0.0.1", port or self.emu.port, timeout=10,
                                           context=ctx)

    def test_https_with_keep_alive_and_gzip(self):
        conn = self.https()
        try:
            for _ in range(2):
                conn.request("GET", API_PATH + "/v1/sessions/both/result",
                             headers=dict(AUTH, **gz()))
                r = conn.getresponse()
                body = json.loads(gzip.decompress(r.read()))
                self.assertEqual(r.status, 200)
                self.assertEqual(len(body["data"]), 2000)
        finally:
            conn.close()
        log = [q for q in self.emu.requests() if q["path"].endswith("/both/result")]
        self.assertEqual(len(log), 2)
        self.assertTrue(all(q["tls"] for q in log))
        self.assertEqual(len({q["conn"] for q in log}), 1)

    def test_untrusted_and_plain_clients_get_nothing(self):
        with self.assertRaises(ssl.SSLError):
            c = http.client.HTTPSConnection("127.0.0.1", self.emu.port, timeout=5,
                                            context=ssl.create_default_context())
            try:
                c.request("GET", API_PATH + "/v1/sessions/plain", headers=AUTH)
            finally:
                c.close()
        raw, _, _ = raw_exchange(self.emu.port, raw_get("/v1/sessions/plain"))
        self.assertFalse(raw.startswith(b"HTTP/1.1 200"))

    def test_other_origin_is_https_too(self):
        with open(self.emu.port_path + ".other") as f:
            other = int(f.read())
        conn = self.https(other)
        try:
            conn.request("GET", "/anything")
            r = conn.getresponse()
            self.assertEqual(json.loads(r.read()), {"sessionId": "evil"})
        finally:
            conn.close()
        self.assertEqual(self.emu.requests()[-1]["origin"], "other")

    def test_tls_options_go_together_and_bad_files_exit_2(self):
        import subprocess
        import wfharness
        sc = self.emu.scenario_path
        for args in (["--tls-cert", self.crt], ["--tls-key", self.key],
                     ["--tls-cert", self.crt, "--tls-key", self.dir + "/missing.key"]):
            p = subprocess.run([wfharness.EMU, "--scenario", sc, "--port", "0"] + args,
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
        # A key that is not the certificate's: libmicrohttpd refuses to start.
        key2, _ = make_cert(self.dir, "other", "IP:127.0.0.1")
        p = subprocess.run([wfharness.EMU, "--scenario", sc, "--port", "0", "--tls-cert",
                            self.crt, "--tls-key", key2], capture_output=True, text=True,
                           timeout=10)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--tls-cert", p.stderr)


if __name__ == "__main__":
    unittest.main()

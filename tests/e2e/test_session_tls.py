"""TLS: verification is always on, --cacert adds a private CA, the host name
is checked, a bare host expands to https://HOST/corp-api/compass/api.

compass-emu speaks plain HTTP, so this test runs a small HTTPS endpoint of
its own (Python's ssl + http.server on 127.0.0.1, a throwaway certificate
made with the openssl tool) that answers session reads the way the API does.
"""
import json
import os
import shutil
import ssl
import subprocess
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from netlib import API_KEY, ACCOUNT_ID, NetTestCase, wf_env
from wfharness import run_wf

OPENSSL = shutil.which("openssl")
STATE = {"sessionState": {"status": "idle", "cards": [
    {"id": "c1", "context": {"cardType": "sql"}, "status": "completed", "output": None}]}}


def make_cert(d, name, san):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", crt, "-days", "2", "-subj", "/CN=wf2sqlite-test",
                    "-addext", "subjectAltName=" + san],
                   check=True, capture_output=True)
    return key, crt


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.seen.append((self.path, dict(self.headers)))
        body = json.dumps(STATE).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@unittest.skipIf(OPENSSL is None, "the openssl tool is not installed: TLS is not checked")
class TlsTest(NetTestCase):
    def serve(self, san):
        key, crt = make_cert(self.dir, "srv", san)
        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        srv.seen = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        return srv, crt

    def env(self, srv, url=None):
        return wf_env(None, extra={"SGP_BASE_URL": url or
                                   "https://127.0.0.1:%d/corp-api/compass/api" % srv.server_address[1]})

    def test_unknown_ca_is_refused_before_anything_is_sent(self):
        srv, _ = self.serve("IP:127.0.0.1")
        r = run_wf(["status", "s1"], env=self.env(srv))
        self.assertRc(r, 8)
        self.assertIn("TLS", r.err)
        self.assertIn("--cacert", r.err)
        self.assertEqual(srv.seen, [])
        self.assertNoKey(r.out + r.err)

    def test_cacert_trusts_a_private_ca_and_the_key_goes_over_tls(self):
        srv, crt = self.serve("IP:127.0.0.1")
        r = run_wf(["status", "s1", "--cacert", crt], env=self.env(srv))
        self.assertRc(r, 0)
        self.assertIn("status   idle", r.out)
        ((path, headers),) = srv.seen
        self.assertEqual(path, "/corp-api/compass/api/v1/sessions/s1")
        self.assertEqual(headers["x-scale-api-key"], API_KEY)
        self.assertEqual(headers["x-selected-account-id"], ACCOUNT_ID)

    def test_bare_host_expands_to_the_https_api_path(self):
        srv, crt = self.serve("IP:127.0.0.1")
        r = run_wf(["status", "s1", "--cacert", crt, "--base-url",
                    "127.0.0.1:%d" % srv.server_address[1]], env=wf_env(None))
        self.assertRc(r, 0)
        self.assertEqual(srv.seen[0][0], "/corp-api/compass/api/v1/sessions/s1")

    def test_host_name_is_verified(self):
        srv, crt = self.serve("DNS:other.example")
        r = run_wf(["status", "s1", "--cacert", crt], env=self.env(srv))
        self.assertRc(r, 8)
        self.assertEqual(srv.seen, [])

    def test_verbose_over_tls_redacts_the_key(self):
        srv, crt = self.serve("IP:127.0.0.1")
        r = run_wf(["status", "s1", "--cacert", crt, "--verbose"], env=self.env(srv))
        self.assertRc(r, 0)
        self.assertIn("x-scale-api-key: [redacted]", r.err)
        self.assertNoKey(r.out + r.err)


if __name__ == "__main__":
    unittest.main()

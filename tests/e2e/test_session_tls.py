"""TLS: verification is always on, --cacert adds a private CA, the host name
is checked, a bare host expands to https://HOST/corp-api/compass/api.

compass-emu serves HTTPS itself (--tls-cert/--tls-key, libmicrohttpd with
GnuTLS) with a throwaway certificate made with the openssl tool; its request
log says which requests came over TLS.
"""
import unittest

from netlib import API_KEY, ACCOUNT_ID, API_PATH, Emu, NetTestCase, wf_env
from wfharness import OPENSSL, make_cert, run_wf

# Session s1: terminal long ago, one completed sql card.
SCENARIO = {
    "workflows": {"w": {"cards": [{"id": "c1", "type": "sql", "ms": 10}],
                        "result": {"data": [{"n": 1}],
                                   "schema": [{"id": "n", "header": "N", "type": "number"}],
                                   "start": 0, "end": 1},
                        "gzip": True, "chunked": True}},
    "sessions": {"s1": {"workflow": "w", "age_ms": 600000}},
}


@unittest.skipIf(OPENSSL is None, "the openssl tool is not installed: TLS is not checked")
class TlsTest(NetTestCase):
    def serve(self, san):
        key, crt = make_cert(self.dir, "srv", san)
        emu = Emu(dict(SCENARIO), workdir=self.dir,
                  extra_args=["--tls-cert", crt, "--tls-key", key])
        emu.start()
        self.addCleanup(emu.stop)
        self.assertTrue(emu.base_url.startswith("https://127.0.0.1:"))
        return emu, crt

    def env(self, emu, url=None):
        return wf_env(None, extra={"SGP_BASE_URL": url or emu.base_url})

    def seen(self, emu):
        """(path, headers) of each request that reached the API listener."""
        return [(q["path"], q["headers"]) for q in emu.requests() if q["origin"] == "main"]

    def test_unknown_ca_is_refused_before_anything_is_sent(self):
        emu, _ = self.serve("IP:127.0.0.1")
        r = run_wf(["status", "s1"], env=self.env(emu))
        self.assertRc(r, 8)
        self.assertIn("TLS", r.err)
        self.assertIn("--cacert", r.err)
        self.assertEqual(self.seen(emu), [])
        self.assertNoKey(r.out + r.err)
        # The advice is the CA bundle: this server does speak TLS, so no
        # hint that a local emulator speaks plain HTTP.
        self.assertIn("not signed by a CA this system trusts", r.err)
        self.assertIn("with --cacert FILE", r.err)
        self.assertNotIn("plain HTTP", r.err)
        self.assertNotIn("http://", r.err)
        # A bundle that does not hold the server's CA says so.
        _, other = make_cert(self.dir, "other", "IP:127.0.0.1")
        r = run_wf(["status", "s1", "--cacert", other], env=self.env(emu))
        self.assertRc(r, 8)
        self.assertIn("not signed by the bundle given with --cacert", r.err)
        self.assertNotIn("plain HTTP", r.err)

    def test_cacert_trusts_a_private_ca_and_the_key_goes_over_tls(self):
        emu, crt = self.serve("IP:127.0.0.1")
        r = run_wf(["status", "s1", "--cacert", crt], env=self.env(emu))
        self.assertRc(r, 0)
        self.assertIn("status   idle", r.out)
        ((path, headers),) = self.seen(emu)
        self.assertEqual(path, "/corp-api/compass/api/v1/sessions/s1")
        self.assertEqual(headers["x-scale-api-key"], API_KEY)
        self.assertEqual(headers["x-selected-account-id"], ACCOUNT_ID)
        self.assertTrue(emu.requests()[0]["tls"], "the request did not come over TLS")

    def test_plain_http_to_the_https_listener_gets_no_answer(self):
        emu, crt = self.serve("IP:127.0.0.1")
        r = run_wf(["status", "s1", "--cacert", crt, "--retries", "0"],
                   env=self.env(emu, "http://127.0.0.1:%d%s" % (emu.port, API_PATH)))
        self.assertRc(r, 8)
        self.assertEqual(self.seen(emu), [])

    def test_bare_host_expands_to_the_https_api_path(self):
        emu, crt = self.serve("IP:127.0.0.1")
        r = run_wf(["status", "s1", "--cacert", crt, "--base-url",
                    "127.0.0.1:%d" % emu.port], env=wf_env(None))
        self.assertRc(r, 0)
        self.assertEqual(self.seen(emu)[0][0], "/corp-api/compass/api/v1/sessions/s1")

    def test_host_name_is_verified(self):
        emu, crt = self.serve("DNS:other.example")
        r = run_wf(["status", "s1", "--cacert", crt], env=self.env(emu))
        self.assertRc(r, 8)
        self.assertEqual(self.seen(emu), [])
        self.assertIn("certificate does not name this host", r.err)
        self.assertNotIn("plain HTTP", r.err)

    def test_verbose_over_tls_redacts_the_key(self):
        emu, crt = self.serve("IP:127.0.0.1")
        r = run_wf(["status", "s1", "--cacert", crt, "--verbose"], env=self.env(emu))
        self.assertRc(r, 0)
        self.assertIn("x-scale-api-key: [redacted]", r.err)
        self.assertNoKey(r.out + r.err)

    def test_attach_over_tls_loads_a_chunked_gzip_result(self):
        emu, crt = self.serve("IP:127.0.0.1")
        db = self.path("tls.db")
        r = run_wf(["attach", "s1", "--workflow", "w", "--db", db, "--cacert", crt],
                   env=self.env(emu))
        self.assertRc(r, 0)
        self.assertNoKey(r.out + r.err)
        import wfharness
        self.assertEqual(wfharness.db_query(db, 'SELECT n FROM "wf_w"'), [(1,)])
        (res,) = [q for q in emu.requests() if q["path"].endswith("/result")]
        self.assertEqual((res["tls"], res["encoding"], res["chunked"]), (True, "gzip", True))


if __name__ == "__main__":
    unittest.main()

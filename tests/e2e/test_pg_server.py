"""The PostgreSQL test harness (tests/lib/pgserver.py): a real server 15,
started as an unprivileged user in a temporary folder, answers over its
socket and, with the password, over loopback TCP; a wrong password is
refused there (so the password tests of the PostgreSQL engine prove
something)."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from asuser import drops_privileges  # noqa: E402
from pgserver import PSQL, PgServer  # noqa: E402

PG = None


def setUpModule():
    global PG
    if PgServer.available():
        PG = PgServer.start()


def tearDownModule():
    if PG:
        PG.stop()


@drops_privileges
@unittest.skipUnless(PgServer.available(), "PostgreSQL 15 server not installed (scripts/deps.sh --test)")
class PgServerHarness(unittest.TestCase):
    def test_socket_connection_answers_and_server_is_15(self):
        db = PG.create_db()
        self.assertEqual(PG.query(db, "SELECT current_database(), NULL, 'a|b'"),
                         [(db, None, "a|b")])
        self.assertTrue(PG.query(db, "SHOW server_version")[0][0].startswith("15."))

    def test_server_does_not_run_as_root(self):
        user = PG.query("postgres", "SELECT pg_read_file('postmaster.pid')")
        self.assertTrue(user)
        pid = int(user[0][0].split("\n")[0])
        self.assertNotEqual(os.stat("/proc/%d" % pid).st_uid, 0)

    def test_tcp_needs_the_password(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["PGPASSWORD"] = "wrong"
        cmd = [PSQL, "-X", "-At", "-d", PG.uri("postgres", tcp=True), "-c", "SELECT 7"]
        bad = subprocess.run(cmd, capture_output=True, text=True, env=env)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("password authentication failed", bad.stderr)
        env["PGPASSWORD"] = PgServer.PASSWORD
        good = subprocess.run(cmd, capture_output=True, text=True, env=env)
        self.assertEqual((good.returncode, good.stdout.strip()), (0, "7"), good.stderr)


if __name__ == "__main__":
    unittest.main()

"""--db with a PostgreSQL URI (SPEC 16): postgresql:// and postgres:// name a
server; a URI carrying a password is refused (exit 2) by every command that
takes --db, from the flag and from WF2SQLITE_DB, before anything is started
or written, with a message saying where the password goes and never the
password itself."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlib import Emu, NetTestCase, workflow  # noqa: E402
from wfharness import run_wf, wf_env  # noqa: E402

SECRET = "s3cr3t-Pa55"
WHERE = ("PGPASSWORD", "~/.pgpass", "PGPASSFILE", "service file")


class PasswordInUriRefused(NetTestCase):
    def check_refused(self, r, emu=None):
        self.assertEqual(r.rc, 2, repr(r))
        for w in WHERE:
            self.assertIn(w, r.err)
        self.assertNotIn(SECRET, r.out + r.err)
        self.assertEqual(os.listdir(self.dir), [])
        if emu:
            self.assertEqual(emu.requests(), [])

    def test_every_command_with_db_refuses_a_password_in_the_uri(self):
        uris = ["postgresql://alice:%s@db.example:5433/archive" % SECRET,
                "postgres://alice:%s@/archive" % SECRET,
                "postgresql://alice@db.example/archive?sslmode=require&password=%s" % SECRET,
                "POSTGRESQL://:%s@localhost/archive" % SECRET]
        with Emu({"workflows": {"w": workflow("w-s")}}) as emu:
            for uri in uris:
                for args in (["run", "w"], ["attach", "w-s"], ["resume"], ["runs"],
                             ["load", "-"], ["check"]):
                    with self.subTest(uri=uri, args=args):
                        r = run_wf(args + ["--db", uri], emu=emu, cwd=self.dir, input="{}")
                        self.check_refused(r, emu)

    def test_wf2sqlite_db_with_a_password_is_refused(self):
        with Emu({"workflows": {"w": workflow("w-s")}}) as emu:
            env = wf_env(emu, extra={"WF2SQLITE_DB": "postgresql://u:%s@h/d" % SECRET})
            r = run_wf(["run", "w", "--verbose"], env=env, cwd=self.dir)
            self.check_refused(r, emu)

    def test_a_malformed_uri_is_a_usage_error_naming_the_syntax(self):
        r = run_wf(["runs", "--db", "postgresql://h/d?no_such_param=1"], env=wf_env(),
                   cwd=self.dir)
        self.assertEqual(r.rc, 2, repr(r))
        self.assertIn("no_such_param", r.err)
        self.assertIn("postgresql://[USER@][HOST]", r.err)


if __name__ == "__main__":
    unittest.main()

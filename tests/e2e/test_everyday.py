"""SPEC section 18, everyday use: `help COMMAND`, suggestions for a mistyped
option or command, options before the command, profiles and `check`."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from netlib import EmuTestCase, workflow, wf_env  # noqa: E402
from wfharness import db_query, run_wf  # noqa: E402

COMMANDS = ("run", "attach", "resume", "status", "load", "schema", "runs")


def scenario():
    return {"workflows": {"w1": workflow(cards_ms=(20,), partial=False)}}


def plain(args, **kw):
    return run_wf(args, env=wf_env(key=None, account=None), **kw)


class HelpAndParsingTest(EmuTestCase):
    scenario = staticmethod(scenario)

    def test_help_command_is_command_help(self):
        for cmd in COMMANDS:
            with self.subTest(cmd=cmd):
                a, b = plain(["help", cmd]), plain([cmd, "--help"])
                self.assertRc(a, 0)
                self.assertRc(b, 0)
                self.assertEqual(a.out, b.out)
                self.assertTrue(a.out.startswith("usage: wf2sqlite " + cmd), a.out)

    def test_help_alone_is_the_main_help(self):
        a, b = plain(["help"]), plain(["--help"])
        self.assertRc(a, 0)
        self.assertEqual(a.out, b.out)

    def test_help_of_an_unknown_command_suggests_one(self):
        r = plain(["help", "rnus"])
        self.assertRc(r, 2)
        self.assertIn("unknown command 'rnus'; did you mean 'runs'?", r.err)

    def test_mistyped_option_suggests_the_closest(self):
        r = plain(["load", "x.json", "--tabel", "t"])
        self.assertRc(r, 2)
        self.assertIn("wf2sqlite: unknown option: --tabel; did you mean --table?", r.err)
        self.assertIn("usage: wf2sqlite load", r.err)
        r = plain(["run", "w1", "--timout", "5m"])
        self.assertRc(r, 2)
        self.assertIn("did you mean --timeout?", r.err)

    def test_mistyped_option_never_echoes_its_value(self):
        r = plain(["run", "w1", "--acount-id=s3cret"])
        self.assertRc(r, 2)
        self.assertNotIn("s3cret", r.err)
        self.assertIn("did you mean --account-id?", r.err)

    def test_mistyped_command_suggests_the_closest(self):
        r = plain(["rnu", "w1"])
        self.assertRc(r, 2)
        self.assertIn("unknown command 'rnu'; did you mean 'run'?", r.err)
        self.assertIn("wf2sqlite --help", r.err)
        r = plain(["frobnicate"])
        self.assertRc(r, 2)
        self.assertNotIn("did you mean", r.err)

    def test_options_before_the_command(self):
        db = self.path("t.db")
        r = self.wf(["--db", db, "--quiet", "run", "w1"])
        self.assertRc(r, 0)
        self.assertEqual(r.err, "")
        self.assertEqual(db_query(db, "SELECT status FROM _wf_runs"), [("loaded",)])
        r = self.wf(["--db=" + db, "runs", "--json"])
        self.assertRc(r, 0)
        self.assertEqual(len(r.json()), 1)

    def test_option_after_the_command_wins(self):
        a, b = self.path("a.db"), self.path("b.db")
        r = self.wf(["--db", a, "run", "w1", "--db", b, "-q"])
        self.assertRc(r, 0)
        self.assertFalse(os.path.exists(a))
        self.assertEqual(db_query(b, "SELECT count(*) FROM _wf_runs"), [(1,)])

    def test_option_before_a_command_that_does_not_take_it(self):
        r = plain(["--no-wait", "runs"])
        self.assertRc(r, 2)
        self.assertIn("does not take the option --no-wait", r.err)

    def test_unknown_option_before_the_command_suggests(self):
        r = plain(["--dbb", "x.db", "runs"])
        self.assertRc(r, 2)
        self.assertIn("unknown option: --dbb; did you mean --db?", r.err)

    def test_options_without_a_command(self):
        r = plain(["--db", "x.db"])
        self.assertRc(r, 2)
        self.assertIn("no command", r.err)

    def test_load_help_lists_only_what_does_something(self):
        r = plain(["load", "--help"])
        self.assertNotIn("--force", r.out)
        self.assertNotIn("HTTP", r.out)
        self.assertNotIn("changes nothing", r.out)

    def test_runs_help_does_not_contradict_itself(self):
        r = plain(["runs", "--help"])
        self.assertNotIn("created if missing", r.out)
        self.assertIn("never created", r.out)
        self.assertNotIn("JSON object", r.out)
        self.assertIn("JSON array", r.out)


if __name__ == "__main__":
    unittest.main()

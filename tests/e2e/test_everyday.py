"""SPEC section 18, everyday use: `help COMMAND`, suggestions for a mistyped
option or command, options before the command, profiles and `check`."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from netlib import API_KEY, ACCOUNT_ID, EmuTestCase, workflow, wf_env  # noqa: E402
from wfharness import db_query, run_wf  # noqa: E402

COMMANDS = ("run", "attach", "resume", "status", "load", "schema", "runs")


def scenario():
    return {"workflows": {"w1": workflow(cards_ms=(20,), partial=False),
                          "slow": workflow(cards_ms=(60000,), partial=False)}}


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

    def test_help_help_is_the_main_help(self):
        # Not "unknown command 'help'; did you mean 'help'?".
        main = plain(["--help"])
        for arg in ("help", "--help", "-h"):
            with self.subTest(arg=arg):
                r = plain(["help", arg])
                self.assertRc(r, 0)
                self.assertEqual(r.out, main.out)
                self.assertEqual(r.err, "")

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



class ProfileTest(EmuTestCase):
    """SPEC 18: the config file, its profiles and the order of precedence."""
    scenario = staticmethod(scenario)

    def setUp(self):
        super().setUp()
        self.key_file = self.path("key")
        with open(self.key_file, "w") as f:
            f.write(API_KEY + "\n")
        os.chmod(self.key_file, 0o600)
        self.config = self.path("config")

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def env(self, profile=None, **extra):
        """No credentials in the environment: they come from the config file."""
        env = wf_env(key=None, account=None, extra={"WF2SQLITE_CONFIG": self.config})
        if profile:
            env["WF2SQLITE_PROFILE"] = profile
        env.update(extra)
        return env

    def staging_prod(self, staging_db="staging.db", prod_url=None):
        self.write_config(
            "# two environments\n"
            "[default]\n"
            "db = %s\n"
            "timeout = 2m\n"
            "\n"
            "[staging]\n"
            "base_url = %s\n"
            "account_id = %s\n"
            "api_key_file = %s\n"
            "db = %s\n"
            "\n"
            "[prod]\n"
            "base_url = %s\n"
            "account_id = other-account\n"
            "api_key_file = %s\n"
            % (self.path("default.db"), self.emu.base_url, ACCOUNT_ID, self.key_file,
               self.path(staging_db), prod_url or self.emu.base_url, self.key_file))

    def test_profile_gives_the_credentials_and_the_database(self):
        self.staging_prod()
        r = self.wf(["run", "w1", "--profile", "staging", "-q"], env=self.env())
        self.assertRc(r, 0)
        self.assertEqual(db_query(self.path("staging.db"), "SELECT status FROM _wf_runs"),
                         [("loaded",)])
        self.assertFalse(os.path.exists(self.path("default.db")))

    def test_profile_from_the_environment(self):
        self.staging_prod()
        r = self.wf(["run", "w1", "-q"], env=self.env(profile="staging"))
        self.assertRc(r, 0)
        self.assertTrue(os.path.exists(self.path("staging.db")))

    def test_flag_beats_profile(self):
        self.staging_prod()
        db = self.path("flag.db")
        r = self.wf(["run", "w1", "--profile", "staging", "--db", db, "-q"], env=self.env())
        self.assertRc(r, 0)
        self.assertTrue(os.path.exists(db))
        self.assertFalse(os.path.exists(self.path("staging.db")))

    def test_named_profile_beats_environment_beats_default_section(self):
        self.staging_prod()
        env_db = self.path("env.db")
        # staging names a db: it wins over WF2SQLITE_DB.
        r = self.wf(["run", "w1", "--profile", "staging", "-q"],
                    env=self.env(WF2SQLITE_DB=env_db))
        self.assertRc(r, 0)
        self.assertTrue(os.path.exists(self.path("staging.db")))
        self.assertFalse(os.path.exists(env_db))
        # Without a named profile the environment wins over [default].
        r = self.wf(["runs", "--json"], env=self.env(WF2SQLITE_DB=self.path("staging.db")))
        self.assertRc(r, 0)
        self.assertEqual(len(r.json()), 1)
        r = self.wf(["check", "--json"], env=self.env(WF2SQLITE_DB=env_db))
        self.assertEqual(r.json()["settings"]["db"],
                         {"value": env_db, "source": "environment", "from": "WF2SQLITE_DB"})
        r = self.wf(["check", "--json"], env=self.env())
        db = r.json()["settings"]["db"]
        self.assertEqual((db["value"], db["source"]), (self.path("default.db"), "profile"))
        self.assertIn("[default]", db["from"])
        self.assertIn("line 3", db["from"])

    def test_how_to_continue_names_the_profile(self):
        self.staging_prod()
        r = self.wf(["run", "slow", "--profile", "staging", "--timeout", "1s"], env=self.env())
        self.assertRc(r, 6)
        self.assertIn("--workflow slow --profile staging", r.err)

    def test_missing_keys_of_a_named_profile_fall_through(self):
        self.staging_prod()
        # prod has no db: WF2SQLITE_DB, then [default].
        r = self.wf(["check", "--profile", "prod", "--json"], env=self.env())
        out = r.json()
        self.assertEqual(out["profile"], "prod")
        self.assertEqual(out["settings"]["db"]["value"], self.path("default.db"))
        self.assertEqual(out["settings"]["timeout"]["value"], "2m")
        self.assertEqual(out["settings"]["retries"],
                         {"value": "5", "source": "default", "from": "the built-in default"})
        r = self.wf(["check", "--profile", "prod", "--json"],
                    env=self.env(WF2SQLITE_DB=self.path("e.db")))
        self.assertEqual(r.json()["settings"]["db"]["source"], "environment")

    def test_environment_key_beats_default_section_key_file(self):
        self.write_config("[default]\napi_key_file = %s\n" % self.path("nokey"))
        r = self.wf(["check", "--json"],
                    env=self.env(SCALE_API_KEY=API_KEY, SCALE_ACCOUNT_ID=ACCOUNT_ID,
                                 SGP_BASE_URL=self.emu.base_url))
        self.assertRc(r, 0)
        key = r.json()["settings"]["api_key_file"]
        self.assertEqual((key["value"], key["source"], key["from"]),
                         (None, "environment", "SCALE_API_KEY"))

    def test_unknown_profile_is_exit_2_naming_the_file(self):
        self.staging_prod()
        for args, env in ((["runs", "--profile", "qa"], self.env()),
                          (["runs"], self.env(profile="qa"))):
            r = self.wf(args, env=env)
            self.assertRc(r, 2)
            self.assertIn("profile 'qa'", r.err)
            self.assertIn(self.config, r.err)
            self.assertIn("default, staging, prod", r.err)

    def test_profile_without_a_config_file_is_exit_2(self):
        r = self.wf(["runs", "--profile", "staging"],
                    env=self.env(WF2SQLITE_CONFIG=self.path("none")))
        self.assertRc(r, 2)
        self.assertIn(self.path("none"), r.err)

    def bad_config(self, text, line, want):
        self.write_config(text)
        r = self.wf(["runs"], env=self.env())
        self.assertRc(r, 2)
        self.assertIn("%s line %d: " % (self.config, line), r.err)
        self.assertIn(want, r.err)
        return r

    def test_unknown_key_is_exit_2_naming_file_and_line(self):
        self.bad_config("[default]\ndb = a.db\ntiemout = 5m\n", 3, "unknown key 'tiemout'")

    def test_malformed_line_is_exit_2_naming_file_and_line(self):
        self.bad_config("[default]\n\ndb a.db\n", 3, "malformed line")
        self.bad_config("[default\ndb = a.db\n", 1, "malformed line")

    def test_api_key_in_the_config_is_refused_naming_file_and_line(self):
        r = self.bad_config("[staging]\naccount_id = a\napi_key = %s\n" % API_KEY, 3,
                            "api_key_file")
        self.assertNotIn(API_KEY, r.err)

    def test_key_outside_a_section_is_exit_2(self):
        self.bad_config("db = a.db\n", 1, "outside any section")

    def test_bad_value_in_a_profile_names_where_it_is_written(self):
        self.write_config("[default]\ntimeout = soon\n")
        r = self.wf(["run", "w1"], env=self.env())
        self.assertRc(r, 2)
        self.assertIn("timeout in [default] (%s line 2)" % self.config, r.err)

    def test_check_checks_every_setting_of_the_profile(self):
        # A profile `check` passes must not fail `run` later: its bad wait
        # is found by `check` too (exit 2 naming file and line, JSON alike).
        self.write_config("[default]\nwait = sometimes\n")
        for args in (["run", "w1"], ["check"]):
            r = self.wf(args, env=self.env())
            self.assertRc(r, 2)
            self.assertIn("wait in [default] (%s line 2)" % self.config, r.err)
        r = self.wf(["check", "--json"], env=self.env())
        self.assertRc(r, 2)
        self.assertIn("line 2", r.json()["error"])
        self.write_config("[default]\nwait = poll\n")
        r = self.wf(["check", "--json"], env=self.env())
        self.assertEqual(r.json()["settings"]["wait"]["value"], "poll")

    def test_tilde_in_a_path_is_the_home_folder(self):
        self.write_config("[default]\ndb = ~/x.db\n")
        r = self.wf(["check", "--json"], env=self.env(HOME=self.dir))
        self.assertEqual(r.json()["settings"]["db"]["value"], os.path.join(self.dir, "x.db"))

    def test_readable_key_file_gets_a_warning(self):
        self.staging_prod()
        os.chmod(self.key_file, 0o644)
        r = self.wf(["run", "w1", "--profile", "staging"], env=self.env())
        self.assertRc(r, 0)
        self.assertIn("warning: the API key file '%s'" % self.key_file, r.err)
        self.assertIn("chmod 600", r.err)
        # --api-key-file too.
        r = self.wf(["check", "--api-key-file", self.key_file],
                    env=wf_env(self.emu, key=None))
        self.assertRc(r, 0)
        self.assertIn("chmod 600", r.err)
        os.chmod(self.key_file, 0o600)
        r = self.wf(["check", "--api-key-file", self.key_file],
                    env=wf_env(self.emu, key=None))
        self.assertNotIn("warning", r.err)

    def test_commands_without_settings_ignore_a_broken_config(self):
        self.write_config("garbage\n")
        body = self.path("r.json")
        with open(body, "w") as f:
            f.write('{"schema": [{"id": "a", "type": "number"}], "data": []}')
        r = self.wf(["schema", body], env=self.env())
        self.assertRc(r, 0)


class CheckTest(EmuTestCase):
    """SPEC 18: `check` says where the settings come from and whether the host
    answered and accepted the credentials; it starts and writes nothing."""
    scenario = staticmethod(scenario)

    def test_good_credentials_exit_0(self):
        db = self.path("never.db")
        r = self.wf(["check", "--db", db])
        self.assertRc(r, 0)
        self.assertRegex(r.out, r"(?m)^base URL +%s .*\(environment: SGP_BASE_URL\)$"
                         % self.emu.base_url)
        self.assertRegex(r.out, r"(?m)^account +%s \(environment: SCALE_ACCOUNT_ID\)$"
                         % ACCOUNT_ID)
        self.assertRegex(r.out, r"(?m)^API key +taken from SCALE_API_KEY \(environment")
        self.assertRegex(r.out, r"(?m)^database +%s \(flag: --db\)$" % db)
        self.assertRegex(r.out, r"(?m)^host +answered")
        self.assertRegex(r.out, r"(?m)^credentials +accepted$")
        self.assertFalse(os.path.exists(db))
        # One GET, nothing started.
        calls = self.calls(self.emu)
        self.assertEqual(calls[-1]["method"], "GET")
        self.assertEqual(self.calls(self.emu, "run"), [])

    def test_default_database_is_reported_not_opened(self):
        r = self.wf(["check"], cwd=self.dir)
        self.assertRc(r, 0)
        self.assertRegex(r.out, r"(?m)^database +workflows.db \(default\)$")
        self.assertFalse(os.path.exists(self.path("workflows.db")))

    def test_bad_key_exit_3(self):
        r = run_wf(["check"], env=wf_env(self.emu, key="wrong-key"))
        self.assertRc(r, 3)
        self.assertRegex(r.out, r"(?m)^host +answered")
        self.assertRegex(r.out, r"(?m)^credentials +refused$")
        self.assertIn("authentication refused", r.err)
        self.assertNotIn("wrong-key", r.out + r.err)

    def test_bad_account_exit_3(self):
        r = self.wf(["check", "--account-id", "nobody", "--json"])
        self.assertRc(r, 3)
        out = r.json()
        self.assertEqual((out["host_answered"], out["credentials_accepted"], out["exit_code"]),
                         (True, False, 3))

    def test_no_host_exit_8(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        r = self.wf(["check", "--base-url", "http://127.0.0.1:%d" % port, "--json"])
        self.assertRc(r, 8)
        out = r.json()
        self.assertEqual((out["host_answered"], out["credentials_accepted"]), (False, None))
        self.assertIn(str(port), out["error"])

    def test_wrong_base_path_exit_2(self):
        # The emulator lets the key through (it checks it before the path)
        # and answers 404 "no such API path": not the API's "no such
        # session", so check must not say all is well.
        wrong = self.emu.base_url.replace("/compass/api", "/compass/apx")
        r = self.wf(["check", "--base-url", wrong])
        self.assertRc(r, 2)
        self.assertRegex(r.out, r"(?m)^host +answered, but not as the Compass API does")
        self.assertRegex(r.out, r"(?m)^credentials +not checked$")
        self.assertIn("no such API path", r.err)
        self.assertIn("https://HOST/corp-api/compass/api", r.err)
        self.assertNotIn(API_KEY, r.out + r.err)
        out = self.wf(["check", "--base-url", wrong, "--json"]).json()
        self.assertEqual((out["host_answered"], out["credentials_accepted"], out["exit_code"]),
                         (True, None, 2))

    def test_web_server_404_page_exit_2(self):
        # A web server that is not the API: its own HTML 404 page.
        import functools
        import http.server
        import threading

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *a):
                pass
        srv = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Quiet, directory=self.dir))
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            r = self.wf(["check", "--base-url", "http://127.0.0.1:%d/corp-api/compass/api"
                         % srv.server_address[1], "--json"])
        finally:
            srv.shutdown()
            srv.server_close()
        self.assertRc(r, 2)
        out = r.json()
        self.assertEqual((out["host_answered"], out["credentials_accepted"]), (True, None))
        self.assertIn("HTTP 404", out["error"])
        self.assertNotIn(API_KEY, r.out + r.err)

    def test_json_has_every_setting_and_never_the_key(self):
        r = self.wf(["check", "--json"])
        self.assertRc(r, 0)
        out = r.json()
        self.assertEqual(set(out["settings"]), {"base_url", "account_id", "api_key_file", "db",
                                                "cacert", "wait", "timeout", "retries"})
        self.assertEqual((out["host_answered"], out["credentials_accepted"], out["error"],
                          out["exit_code"]), (True, True, None, 0))
        self.assertEqual(out["settings"]["base_url"]["source"], "environment")
        self.assertNotIn(API_KEY, r.out)

    def test_missing_configuration_exit_2_still_reports(self):
        r = run_wf(["check"], env=wf_env(key=None, account=None))
        self.assertRc(r, 2)
        self.assertRegex(r.out, r"(?m)^base URL +- \(set nowhere\)$")
        self.assertIn("SGP_BASE_URL", r.err)


if __name__ == "__main__":
    unittest.main()

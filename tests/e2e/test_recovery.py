"""The ways back from a failure as users meet them (issue: recovery that
really recovers): gateways that cut long requests (a real nginx in front of
compass-emu), slices that end on time on one connection, configuration
mistakes that fail fast naming the URL, hostile --vars."""
import json
import os
import subprocess
import time
import unittest

from netlib import (NGINX, API_PATH, Emu, EmuTestCase, NetTestCase, Nginx, free_port,
                    wait_for_run, wf_env, workflow)
from wfharness import SANITIZED, WfTestCase, db_query, db_runs, run_wf, spawn_wf


# SPEC 4's "under 2 s"; a sanitizer build on a loaded machine starts slower.
FAST_S = 5.0 if SANITIZED else 2.0


def result_calls(emu):
    """The result calls in the order they arrived (the log is written as
    each is answered)."""
    return sorted(NetTestCase.calls(emu, "result"), key=lambda q: q["t_ms"])


def timeout_of(q):
    return int(q["query"].split("timeout=")[1].split("&")[0])


@unittest.skipUnless(NGINX, "nginx is not installed (scripts/deps.sh --test installs it)")
class GatewayTest(EmuTestCase):
    """SPEC 4: two cuts at the same elapsed time are a gateway's signature;
    the slices shrink below it, or the wait polls when it cuts faster than
    about 2 s; a give-up that involved cuts suggests --wait poll."""

    @staticmethod
    def scenario():
        return {"workflows": {
            "nine": workflow("nine-s", cards_ms=(4500, 4500)),
            "five": workflow("five-s", cards_ms=(2500, 2500)),
            "long": workflow("long-s", cards_ms=(30000,)),
        }}

    def gateway(self, read_timeout):
        g = Nginx(self.emu.port, self.path("nginx"), read_timeout)
        g.start()
        self.addCleanup(g.stop)
        return g

    def test_gateway_cutting_every_3s_still_loads_in_block_mode(self):
        g = self.gateway("3s")
        db = self.path("g.db")
        before = len(result_calls(self.emu))
        t0 = time.monotonic()
        r = self.wf(["run", "nine", "--db", db, "--base-url", g.base_url])
        took = time.monotonic() - t0
        self.assertRc(r, 0)
        self.assertIn("loaded 5 rows", r.err)
        self.assertNotIn("polling", r.err)
        # Only the first cut (not yet known as the gateway's) was a retry.
        self.assertLessEqual(r.err.count("retrying in"), 1, r.err)
        # Block mode all along: two long-polls cut at 3 s (the second shows
        # the gateway's signature), then slices below the cut (a final
        # fetch of a finished session asks 60 s and answers at once).
        polls = [timeout_of(q) for q in result_calls(self.emu)[before:]
                 if timeout_of(q) != 60000]
        self.assertEqual(polls[:2], [25000, 25000], (polls, r.err))
        self.assertGreaterEqual(len(polls), 3, polls)
        self.assertTrue(all(t < 3000 for t in polls[2:]), polls)
        self.assertLess(took, 20)
        (run,) = db_runs(db)
        self.assertEqual(run["status"], "loaded")

    def test_gateway_cutting_every_second_switches_to_polling_once(self):
        g = self.gateway("1s")
        db = self.path("p.db")
        r = self.wf(["run", "five", "--db", db, "--base-url", g.base_url,
                     "--poll-interval", "500ms"])
        self.assertRc(r, 0)
        self.assertIn("loaded 5 rows", r.err)
        self.assertEqual(r.err.count("by polling its status"), 1, r.err)
        self.assertIn("a gateway cuts requests held open for", r.err)

    def test_give_up_after_a_cut_suggests_wait_poll(self):
        g = self.gateway("3s")
        r = self.wf(["run", "long", "--db", self.path("x.db"), "--base-url", g.base_url,
                     "--retries", "0"])
        self.assertRc(r, 8)
        self.assertIn("--wait poll", r.err)
        self.assertIn("HTTP 504", r.err)
        # The line names the URL it tried.
        self.assertIn("http://127.0.0.1:%d%s/v1/sessions/long-s" % (g.port, API_PATH), r.err)


class SliceTest(NetTestCase):
    """A slice whose answer comes right at its timeout is read (and not
    handed on), so the next request reuses the connection."""

    def test_slices_ending_on_time_share_one_connection(self):
        sc = {"workflows": {"w": workflow("w-s", cards_ms=(4500,))}}
        with Emu(sc) as emu:
            d = self.drive(emu, ["--start", "w", "--slice", "1s", "--quiet"], expect_rc=0)
            self.assertEqual(len(d.finals()), 1)
            gets = [q for q in self.calls(emu) if q["method"] == "GET"]
            polls = [q for q in gets if q["path"].endswith("/result")]
            self.assertGreaterEqual(len(polls), 4)
            # Every slice but the last ended at its timeout, and all the GETs
            # went over one keep-alive connection.
            self.assertEqual(sorted(set(q["conn"] for q in gets)), [gets[0]["conn"]], gets)


class FailFastTest(EmuTestCase):
    """SPEC 4: until a host has answered once, a refused connection, a DNS
    failure or a TLS failure is a configuration mistake: one attempt, exit 8
    in under 2 s, naming the URL tried and the likely fix."""

    @staticmethod
    def scenario():
        return {"workflows": {"w": workflow("w-s", cards_ms=(100,)),
                              "slow": workflow("slow-s", cards_ms=(60000,))}}

    def assertNoRuns(self, db):
        if os.path.exists(db):
            self.assertEqual(db_query(db, "SELECT count(*) FROM sqlite_master WHERE name = "
                                      "'_wf_runs'")[0][0] and len(db_runs(db)), 0)

    def timed(self, args, **kw):
        t0 = time.monotonic()
        r = self.wf(args, **kw)
        return r, time.monotonic() - t0

    def test_https_to_a_plain_http_server_fails_fast_naming_the_url(self):
        # A plain-HTTP server answers the TLS hello with an HTTP error at
        # once (as libmicrohttpd does): a TLS protocol failure.
        import socket
        import threading
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        port = srv.getsockname()[1]
        seen = []

        def serve():
            while True:
                try:
                    c, _ = srv.accept()
                except OSError:
                    return
                seen.append(c.recv(4096))
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                          b"Connection: close\r\n\r\n")
                c.close()
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        try:
            r, took = self.timed(["status", "w-s", "--base-url", "127.0.0.1:%d" % port])
        finally:
            srv.close()
        self.assertRc(r, 8)
        self.assertLess(took, FAST_S, r.err)
        self.assertEqual(len(seen), 1)  # one attempt
        self.assertIn("https://127.0.0.1:%d%s/v1/sessions/w-s" % (port, API_PATH), r.err)
        self.assertIn("TLS", r.err)
        self.assertIn("--base-url http://127.0.0.1:%d%s" % (port, API_PATH), r.err)
        self.assertIn("--cacert", r.err)
        self.assertNotIn("retrying", r.err)

    def test_https_to_a_plain_http_emulator_fails_at_once_naming_the_url(self):
        before = len(self.emu.requests())
        r, took = self.timed(["run", "w", "--db", self.path("a.db"),
                              "--base-url", "127.0.0.1:%d" % self.emu.port])
        self.assertRc(r, 8)
        # One attempt, under SPEC 4's 2 s: the emulator (libmicrohttpd)
        # answers a TLS hello on its plain-HTTP port at once.
        self.assertLess(took, FAST_S, r.err)
        self.assertIn("https://127.0.0.1:%d%s/v1/workflow/run" % (self.emu.port, API_PATH), r.err)
        self.assertIn("TLS", r.err)
        self.assertIn("--base-url http://127.0.0.1:%d%s" % (self.emu.port, API_PATH), r.err)
        self.assertIn("--cacert", r.err)
        self.assertIn("the run was not started", r.err)
        self.assertNotIn("retrying", r.err)
        self.assertNotIn("--retries", r.err)
        # Nothing reached the API as a request (a TLS hello is no request).
        self.assertEqual([q for q in self.emu.requests()[before:] if q["status"] == 200], [])
        self.assertNoRuns(self.path("a.db"))

    def test_refused_port_fails_fast_naming_the_url(self):
        port = free_port()
        for args in (["run", "w", "--db", self.path("b.db")],
                     ["attach", "w-s", "--db", self.path("b.db")], ["status", "w-s"]):
            r, took = self.timed(args + ["--base-url", "http://127.0.0.1:%d%s" % (port, API_PATH)])
            self.assertRc(r, 8)
            self.assertLess(took, FAST_S, r.err)
            self.assertIn("http://127.0.0.1:%d%s/v1/" % (port, API_PATH), r.err)
            self.assertIn("port", r.err)
            self.assertIn("configuration mistake", r.err)
            self.assertNotIn("retrying", r.err)

    def test_unknown_host_fails_without_retrying(self):
        r, took = self.timed(["status", "w-s", "--base-url", "wf2sqlite-test.invalid"])
        self.assertRc(r, 8)
        self.assertIn("https://wf2sqlite-test.invalid/corp-api/compass/api/v1/sessions/w-s", r.err)
        self.assertIn("host name", r.err)
        self.assertNotIn("retrying", r.err)

    def test_refused_after_the_host_answered_is_retried(self):
        # Once the host has answered, a refused connection is an outage
        # (SPEC 4): retried within --retries, every line naming the URL.
        emu = Emu({"workflows": {"slow": workflow("slow-s", cards_ms=(60000,))}})
        emu.start()
        self.addCleanup(emu.stop)
        db = self.path("c.db")
        p = spawn_wf(["run", "slow", "--db", db, "--retries", "2"], emu=emu)
        try:
            wait_for_run(db)
            time.sleep(0.5)
            emu.stop()
            out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 8, err)
        self.assertGreaterEqual(err.count("retrying in"), 2, err)
        self.assertIn("gave up after 2 retries", err)
        url = "http://127.0.0.1:%d%s/v1/sessions/slow-s" % (emu.port, API_PATH)
        for line in err.splitlines():
            if "retrying in" in line or "gave up" in line:
                self.assertIn(url, line)
        self.assertNotIn("configuration mistake", err)


class HostileVarsTest(EmuTestCase):
    @staticmethod
    def scenario():
        return {"workflows": {"w": workflow("w-s", cards_ms=(100,))}}

    def test_overlong_utf8_in_a_nested_key_is_refused_and_not_sent(self):
        before = len(self.calls(self.emu, "run"))
        for body in (b'{"o":{"\xe0\x8c\x80":{}}}', b'{"o":[{"k":"\xc0\x80"}]}'):
            path = self.path("vars.json")
            with open(path, "wb") as f:
                f.write(body)
            r = self.wf(["run", "w", "--db", self.path("v.db"), "--vars", path])
            self.assertRc(r, 2)
            self.assertIn("not valid UTF-8", r.err)
        self.assertEqual(len(self.calls(self.emu, "run")), before)
        self.assertFalse(os.path.exists(self.path("v.db")) and db_runs(self.path("v.db")))



class ResumeTest(EmuTestCase):
    """SPEC 7: resume continues every run the tool itself calls continuable
    (exit 6, 7, 8, 130 before loading, or running with its process gone),
    in its own row with its variables, once; attach takes the row over too;
    runs of another API host are left alone."""

    @staticmethod
    def scenario():
        return {"workflows": {
            "slow": workflow("slow-s", cards_ms=(2500,)),
            "intr": workflow("intr-s", cards_ms=(2500,)),
            "netw": workflow("netw-s", cards_ms=(1500,)),
            "gone": workflow("gone-s", cards_ms=(100,)),
            "long": workflow("long-s", cards_ms=(23000,)),
        }, "faults": [
            {"endpoint": "session", "workflow": "netw", "kind": "status", "status": 503,
             "skip": 1, "times": 1},
        ]}

    def test_timeout_then_resume_loads_once_into_the_same_row(self):
        db = self.path("t.db")
        r = self.wf(["run", "slow", "--db", db, "-v", "region=emea", "--timeout", "500ms"])
        self.assertRc(r, 6)
        (run,) = db_runs(db)
        self.assertEqual((run["status"], run["exit_code"]), ("timeout", 6))
        r = self.wf(["resume", "--db", db])
        self.assertRc(r, 0)
        self.assertIn("ended timeout", r.err)
        (run2,) = db_runs(db)
        self.assertEqual(run2["run_id"], run["run_id"])
        self.assertEqual((run2["status"], run2["exit_code"]), ("loaded", 0))
        self.assertEqual(json.loads(run2["variables"]), {"region": "emea"})
        self.assertEqual(db_query(db, 'SELECT count(*), min(_run_id) FROM "wf_slow"'),
                         [(5, run["run_id"])])
        # Loaded runs are never continued again.
        r = self.wf(["resume", "--db", db])
        self.assertRc(r, 0)
        self.assertIn("nothing to resume", r.err)
        self.assertEqual(db_query(db, 'SELECT count(*) FROM "wf_slow"')[0][0], 5)

    def test_ctrl_c_then_the_printed_attach_continues_the_row(self):
        import shlex
        import signal
        db = self.path("i.db")
        p = spawn_wf(["run", "intr", "--db", db, "-v", "region=emea"], emu=self.emu)
        wait_for_run(db)
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, err)
        (run,) = db_runs(db)
        self.assertEqual((run["status"], run["exit_code"]), ("interrupted", 130))
        cmd = [line.split("continue with: ", 1)[1] for line in err.splitlines()
               if "continue with: " in line][0]
        r = self.wf(shlex.split(cmd)[1:])
        self.assertRc(r, 0)
        self.assertIn("continuing run %d" % run["run_id"], r.err)
        (run2,) = db_runs(db)
        self.assertEqual((run2["run_id"], run2["status"], run2["exit_code"]),
                         (run["run_id"], "loaded", 0))
        self.assertEqual(json.loads(run2["variables"]), {"region": "emea"})

    def test_network_failure_while_waiting_then_resume(self):
        db = self.path("n.db")
        r = self.wf(["run", "netw", "--db", db, "--retries", "0", "--wait", "poll",
                     "--poll-interval", "200ms"])
        self.assertRc(r, 8)
        (run,) = db_runs(db)
        self.assertEqual((run["status"], run["exit_code"]), ("failed", 8))
        r = self.wf(["resume", "--db", db])
        self.assertRc(r, 0)
        (run2,) = db_runs(db)
        self.assertEqual((run2["run_id"], run2["status"], run2["exit_code"]),
                         (run["run_id"], "loaded", 0))

    def test_resume_leaves_runs_of_another_host_alone(self):
        db = self.path("h.db")
        r = self.wf(["run", "slow", "--db", db, "--timeout", "300ms"])
        self.assertRc(r, 6)
        before = db_runs(db)
        other = Emu({"workflows": {"x": workflow("x-s")}})
        other.start()
        self.addCleanup(other.stop)
        r = self.wf(["resume", "--db", db, "--base-url", other.base_url])
        self.assertRc(r, 0)
        self.assertIn("was started against 127.0.0.1:%d" % self.emu.port, r.err)
        # The emulator speaks plain HTTP: the hint is its http:// URL, not https://.
        hint = "--base-url http://127.0.0.1:%d/corp-api/compass/api" % self.emu.port
        self.assertIn(hint, r.err)
        self.assertNotIn("https://127.0.0.1", r.err.replace("or https:// if", ""))
        self.assertEqual(db_runs(db), before)
        self.assertEqual(self.calls(other, "session"), [])
        r = self.wf(["resume", "--db", db, "--base-url", other.base_url, "--dry-run"])
        self.assertRc(r, 0)
        self.assertIn("would leave run %d alone" % before[0]["run_id"], r.out)
        self.assertIn("(resume with %s (or https:// if that server speaks TLS))" % hint, r.out)
        # A host that is not loopback is reached by https://, the default: the
        # bare host[:port] is the hint, with no scheme.
        con = __import__("sqlite3").connect(db)
        con.execute("UPDATE _wf_runs SET api_host = 'api.example.com:8443'")
        con.commit()
        con.close()
        r = self.wf(["resume", "--db", db, "--dry-run"])
        self.assertRc(r, 0)
        self.assertIn("started against api.example.com:8443 (resume with --base-url "
                      "api.example.com:8443)", r.out)
        r = self.wf(["resume", "--db", db])
        self.assertRc(r, 0)
        self.assertIn("resume it with --base-url api.example.com:8443 (or the profile", r.err)
        self.assertEqual([x["status"] for x in db_runs(db)], [x["status"] for x in before])

    def test_a_session_the_server_does_not_know_is_recorded_4_and_not_asked_again(self):
        db = self.path("g.db")
        r = self.wf(["run", "gone", "--db", db, "--timeout", "1ms"])
        self.assertIn(r.rc, (0, 6))
        con = __import__("sqlite3").connect(db)
        con.execute("UPDATE _wf_runs SET session_id = 'no-such-session', status = 'timeout',"
                    " exit_code = 6")
        con.commit()
        con.close()
        r = self.wf(["resume", "--db", db])
        self.assertRc(r, 4)
        self.assertNotIn("goes on", r.err)
        (run,) = db_runs(db)
        self.assertEqual((run["status"], run["exit_code"]), ("failed", 4))
        r = self.wf(["resume", "--db", db])
        self.assertRc(r, 0)
        self.assertIn("nothing to resume", r.err)

    def test_resume_dry_run_lists_and_changes_nothing(self):
        import hashlib
        db = self.path("d.db")
        r = self.wf(["run", "slow", "--db", db, "--timeout", "300ms"])
        self.assertRc(r, 6)
        with open(db, "rb") as f:
            before = hashlib.sha256(f.read()).hexdigest()
        runs_before = db_runs(db)
        calls = len(self.emu.requests())
        r = self.wf(["resume", "--db", db, "--dry-run"])
        self.assertRc(r, 0)
        self.assertIn("would continue run %d: session %s (timeout)" %
                      (runs_before[0]["run_id"], runs_before[0]["session_id"]), r.out)
        self.assertEqual(db_runs(db), runs_before)
        with open(db, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), before)
        self.assertEqual(len(self.emu.requests()), calls)
        r = self.wf(["resume", "--db", self.path("none.db"), "--dry-run"])
        self.assertRc(r, 0)
        self.assertFalse(os.path.exists(self.path("none.db")))

    def test_running_row_has_hostname_and_heartbeat(self):
        import socket
        db = self.path("hb.db")
        p = spawn_wf(["run", "slow", "--db", db], emu=self.emu)
        try:
            wait_for_run(db)
            time.sleep(0.3)
            (run,) = db_runs(db)
            self.assertEqual(run["status"], "running")
            self.assertEqual(run["hostname"], socket.gethostname())
            self.assertTrue(run["heartbeat_at"] and run["heartbeat_at"] >= run["started_at"], run)
        finally:
            p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0)

    def test_heartbeat_is_refreshed_while_the_run_waits(self):
        # SPEC 6: heartbeat_at is refreshed at least every 30 s while the
        # process waits: at the first report of the wait 20 s or more after
        # the last beat (every poll with --wait poll; the end of each 25 s
        # long-poll slice in block mode). A 23 s session polled every second
        # beats at its start and about 20 s later; the run's end does not
        # write heartbeat_at, so the row keeps the last beat.
        import datetime

        def ts(text):
            return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")

        db = self.path("beat.db")
        r = self.wf(["run", "long", "--db", db, "--wait", "poll", "--poll-interval", "1s"])
        self.assertRc(r, 0)
        (run,) = db_runs(db)
        self.assertEqual(run["status"], "loaded")
        since_start = (ts(run["heartbeat_at"]) - ts(run["started_at"])).total_seconds()
        self.assertGreaterEqual(since_start, 15.0, run)
        self.assertLessEqual(since_start, 30.0, run)
        self.assertLessEqual(ts(run["heartbeat_at"]), ts(run["finished_at"]), run)

    def test_running_run_of_another_machine_is_judged_by_its_heartbeat(self):
        import sqlite3
        db = self.path("m.db")
        r = self.wf(["run", "slow", "--db", db, "--timeout", "300ms"])
        self.assertRc(r, 6)
        con = sqlite3.connect(db)
        con.execute("UPDATE _wf_runs SET status = 'running', exit_code = NULL,"
                    " hostname = 'another-machine', pid = 1,"
                    " heartbeat_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")
        con.commit()
        r = self.wf(["resume", "--db", db])
        self.assertRc(r, 0)
        self.assertIn("nothing to resume", r.err)  # its heartbeat is fresh
        con.execute("UPDATE _wf_runs SET heartbeat_at ="
                    " strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-10 minutes')")
        con.commit()
        con.close()
        r = self.wf(["resume", "--db", db])
        self.assertRc(r, 0)
        self.assertEqual([x["status"] for x in db_runs(db)], ["loaded"])

    def test_continue_command_names_a_base_url_given(self):
        db = self.path("b.db")
        r = self.wf(["run", "slow", "--db", db, "--timeout", "300ms",
                     "--base-url", self.emu.base_url])
        self.assertRc(r, 6)
        self.assertIn("--base-url %s" % self.emu.base_url, r.err)


class LockTest(EmuTestCase):
    """SPEC 7: a started session is always recorded, and a signal ends every
    lock wait within a second with exit 130."""

    @staticmethod
    def scenario():
        return {"workflows": {"w": workflow("w-s", cards_ms=(3000,))}}

    def hold_lock(self, db):
        import sqlite3
        con = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        con.execute("BEGIN IMMEDIATE")
        self.addCleanup(con.close)
        return con

    def interrupt(self, p, after):
        import signal
        time.sleep(after)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        return time.monotonic() - t0, out, err

    def test_sigint_while_the_database_is_locked_before_the_start_exits_130_at_once(self):
        db = self.path("l.db")
        r0 = self.wf(["run", "w", "--db", db, "--no-wait"])  # the audit tables exist
        self.assertRc(r0, 0)
        before = len(self.calls(self.emu, "run"))
        con = self.hold_lock(db)
        p = spawn_wf(["run", "w", "--db", db], emu=self.emu,
                     env=wf_env(self.emu, extra={"WF2SQLITE_BUSY_TIMEOUT_MS": "15000"}))
        took, out, err = self.interrupt(p, 2)
        self.assertEqual(p.returncode, 130, err)
        self.assertLess(took, 1.0, err)
        self.assertIn("interrupted while waiting for another process's lock", err)
        self.assertNotIn("longer than the busy timeout", err)
        # No session was started that could not be recorded.
        self.assertEqual(len(self.calls(self.emu, "run")), before)
        con.rollback()
        self.assertEqual(len(db_runs(db)), 1)

    def test_sigint_when_the_end_cannot_be_recorded_says_so(self):
        db = self.path("m.db")
        p = spawn_wf(["run", "w", "--db", db], emu=self.emu,
                     env=wf_env(self.emu, extra={"WF2SQLITE_BUSY_TIMEOUT_MS": "15000"}))
        wait_for_run(db)
        con = self.hold_lock(db)
        took, out, err = self.interrupt(p, 0.3)
        self.assertEqual(p.returncode, 130, err)
        self.assertLess(took, 2.0, err)
        (run,) = db_runs(db)
        self.assertNotIn("run %d recorded as" % run["run_id"], err)
        self.assertIn("run %d could not be recorded as interrupted" % run["run_id"], err)
        self.assertIn("wf2sqlite attach %s" % run["session_id"], err)
        con.rollback()
        self.assertEqual(db_runs(db)[0]["status"], "running")
        # resume takes it over (its process is gone) and loads it once.
        r = self.wf(["resume", "--db", db])
        self.assertRc(r, 0)
        self.assertEqual([(x["run_id"], x["status"]) for x in db_runs(db)],
                         [(run["run_id"], "loaded")])


def wide_body(prefix, n):
    cols = [{"id": "%s%d" % (prefix, i), "header": "H", "type": "number"} for i in range(n)]
    return json.dumps({"data": [{c["id"]: 1 for c in cols}], "schema": cols})


class DbErrorTest(WfTestCase):
    """Database errors a user can act on."""

    def load(self, body, db, *args):
        src = self.path("body.json")
        with open(src, "w") as f:
            f.write(body)
        return run_wf(["load", src, "--db", db] + list(args), env={})

    def test_appending_past_the_column_limit_names_table_count_and_limit(self):
        db = self.path("w.db")
        self.assertRc(self.load(wide_body("a", 1990), db, "--table", "wide"), 0)
        r = self.load(wide_body("b", 20), db, "--table", "wide")
        self.assertRc(r, 7)
        self.assertIn("table wide would need 2012 columns (it has 1992", r.err)
        self.assertIn("at most 2000", r.err)
        self.assertIn("--table", r.err)
        self.assertNotIn("sqlite_altertab", r.err)
        runs = db_runs(db)
        self.assertEqual([x["status"] for x in runs], ["loaded", "failed"])
        self.assertIn("2012 columns", runs[1]["error"])
        self.assertEqual(db_query(db, "SELECT count(*) FROM pragma_table_info('wide')")[0][0],
                         1992)

    def test_full_disk_reported_as_an_io_error_says_the_disk_is_full(self):
        mnt = self.path("mnt")
        os.mkdir(mnt)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt],
                           capture_output=True, text=True)
        if p.returncode != 0:
            self.skipTest("cannot mount a tmpfs here (%s)" % p.stderr.strip())
        try:
            # 16 KiB left: the WAL index cannot grow, which SQLite reports
            # as "disk I/O error (code 4874)", not as a full disk.
            with open(os.path.join(mnt, "filler"), "wb") as f:
                f.write(b"x" * (1024 * 1024 - 16 * 1024))
            r = self.load(wide_body("a", 3), os.path.join(mnt, "f.db"), "--table", "t")
            self.assertRc(r, 7)
            self.assertIn("disk is full", r.err)
            self.assertIn("free some space", r.err)
        finally:
            subprocess.run(["umount", "-l", mnt])


if __name__ == "__main__":
    unittest.main()

"""Helpers of the network-side end-to-end tests (run/attach/resume/status and
the session_driver): scenarios for compass-emu and checks every test makes.
Standard library only."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import wfharness  # noqa: E402
from wfharness import API_KEY, ACCOUNT_ID, API_PATH, Emu, WfTestCase, wf_env  # noqa: E402,F401

DRIVER = os.environ.get("WF_SESSION_DRIVER") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(wfharness.WF2SQLITE))), "tests", "unit",
    "session_driver")

ROWS = [{"n": i, "s": "value-%03d" % i} for i in range(5)]
RESULT = {"data": ROWS,
          "schema": [{"id": "n", "header": "N", "type": "number"},
                     {"id": "s", "header": "S", "type": "string"}],
          "start": 0, "end": len(ROWS),
          "result": {"summary": {"totalNumberOfRows": len(ROWS), "executionDurationMillis": 7}}}
PARTIAL = {"data": [{"n": 0, "s": "partial"}], "schema": RESULT["schema"], "start": 0, "end": 1}


def workflow(session_id=None, cards_ms=(100, 100), result=None, partial=True, **kw):
    """A workflow of len(cards_ms) cards taking those times."""
    w = {"cards": [{"id": "c%d" % (i + 1), "type": "sql" if i == 0 else "transform", "ms": ms}
                   for i, ms in enumerate(cards_ms)],
         "result": result if result is not None else RESULT}
    if partial:
        w["partial_result"] = PARTIAL
    if session_id:
        w["session_id"] = session_id
    w.update(kw)
    return w


def result_bytes():
    """The result exactly as the emulator serves it (the bytes of the file)."""
    return json.dumps(RESULT)


class Driven:
    def __init__(self, args, rc, out, err, events):
        self.args, self.rc, self.out, self.err, self.events = args, rc, out, err, events

    def __repr__(self):
        return "Driven(%r, rc=%d)\nstdout:\n%s\nstderr:\n%s\nevents:\n%s" % (
            self.args, self.rc, self.out, self.err, "\n".join(self.events))

    def finals(self):
        return [e for e in self.events if e.startswith("finish 1")]


def wait_for_run(db, timeout=15):
    """Waits until db has a _wf_runs row (the process recorded its run)."""
    import sqlite3
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(db):
            try:
                if wfharness.db_query(db, "SELECT count(*) FROM _wf_runs")[0][0]:
                    return
            except sqlite3.OperationalError:
                pass  # the file exists, its tables not yet
        time.sleep(0.05)
    raise AssertionError("no run recorded in %s within %ss" % (db, timeout))


class NetTestCase(WfTestCase):
    """A test with helpers for the driver and the emulator log."""

    def drive(self, emu, args, env=None, timeout=60, expect_rc=None):
        events = self.path("events.txt")
        out = self.path("body.json")
        for p in (events, out):
            if os.path.exists(p):
                os.unlink(p)
        env = env if env is not None else wf_env(emu)
        p = subprocess.run([DRIVER, "--events", events, "--out", out] + list(args),
                           capture_output=True, text=True, env=env, timeout=timeout)
        ev = []
        if os.path.exists(events):
            with open(events) as f:
                ev = [line.strip() for line in f if line.strip()]
        d = Driven(args, p.returncode, p.stdout, p.stderr, ev)
        self.assertNotIn("Sanitizer", p.stderr, repr(d))
        self.assertNotIn("runtime error:", p.stderr, repr(d))
        self.assertNoKey(p.stdout + p.stderr)
        if expect_rc is not None:
            self.assertEqual(d.rc, expect_rc, repr(d))
        return d

    def body(self):
        with open(self.path("body.json")) as f:
            return f.read()

    def assertNoKey(self, text, key=API_KEY):
        self.assertNotIn(key, text)

    def assertNoKeyInFiles(self, key=API_KEY):
        """The key is in no file of the test directory (databases included)."""
        for root, _, files in os.walk(self.dir):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    self.assertNotIn(key.encode(), f.read(), name)

    @staticmethod
    def calls(emu, kind=None, origin="main"):
        """Requests of one kind: 'run', 'session', 'result' (None: all)."""
        out = []
        for q in emu.requests():
            if origin and q["origin"] != origin:
                continue
            p = q["path"]
            k = "run" if p.endswith("/workflow/run") else "result" if p.endswith("/result") \
                else "session"
            if kind is None or k == kind:
                out.append(q)
        return out


class EmuTestCase(NetTestCase):
    """One compass-emu per class, serving scenario() (set it with
    `scenario = staticmethod(fn)`); wf() runs wf2sqlite against it and checks
    the key is in neither output."""
    scenario = None

    @classmethod
    def setUpClass(cls):
        cls.emu = Emu(cls.scenario())
        cls.emu.start()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    def wf(self, args, **kw):
        r = wfharness.run_wf(args, emu=self.emu, **kw)
        self.assertNoKey(r.out + r.err)
        return r


def free_port():
    """A loopback port nothing listens on (now)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


NGINX = os.environ.get("WF_NGINX") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/bin/nginx") if os.path.exists(p)), None)


class Nginx:
    """A real nginx (Debian's package) in front of an emulator, as a gateway
    that cuts idle requests after read_timeout: a process of the test with
    its configuration, logs and temp folders in a folder of its own, on a
    free loopback port, stopped by stop(). Use as a context manager."""

    def __init__(self, upstream_port, workdir, read_timeout="3s"):
        self.dir = workdir
        self.upstream_port = upstream_port
        self.read_timeout = read_timeout
        self.proc = None
        self.port = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        d = self.dir
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        conf = os.path.join(d, "nginx.conf")
        for _ in range(5):
            self.port = free_port()
            with open(conf, "w") as f:
                f.write(NGINX_CONF % {
                    "dir": d, "port": self.port, "upstream": self.upstream_port,
                    "timeout": self.read_timeout,
                    # as root, workers would run as nobody, who cannot
                    # reach a 0700 checkout
                    "user": "user root;" if os.geteuid() == 0 else ""})
            self._err = open(os.path.join(d, "nginx.stderr"), "w")
            self.proc = subprocess.Popen([NGINX, "-p", d, "-c", conf], stdout=subprocess.DEVNULL,
                                         stderr=self._err)
            if self._wait_listening():
                return
            self.stop()
        raise RuntimeError("nginx did not start: " + open(os.path.join(d, "error.log")).read())

    def _wait_listening(self):
        import socket
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # nginx: fast shutdown, workers too
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._err.close()
        self.proc = None

    @property
    def base_url(self):
        return "http://127.0.0.1:%d%s" % (self.port, API_PATH)


NGINX_CONF = """
%(user)s
daemon off;
master_process on;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 64; }
http {
    access_log %(dir)s/access.log;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    gzip on;
    gzip_types application/json;
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            proxy_pass http://127.0.0.1:%(upstream)d;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout %(timeout)s;
            proxy_buffering off;
        }
    }
}
"""

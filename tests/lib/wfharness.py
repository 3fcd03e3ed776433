"""Shared helpers for the Python end-to-end and emulator tests.

Starts the real compass-emu on 127.0.0.1 with a scenario, runs the real
wf2sqlite binary against it, and opens the SQLite files it writes.
Standard library only.
"""
import atexit
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

from asuser import UserArea, drops_privileges, reachable_tmp  # noqa: F401 (re-exported)

WF2SQLITE = os.environ.get("WF2SQLITE_BIN", "wf2sqlite")
EMU = os.environ.get("COMPASS_EMU_BIN", "compass-emu")
SOURCE_DIR = os.environ.get("WF_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SANITIZED = os.environ.get("WF_SANITIZE", "OFF").upper() in ("ON", "1", "TRUE")

API_KEY = "test-key-0123456789"
ACCOUNT_ID = "test-account"
API_PATH = "/corp-api/compass/api"


class Emu:
    """A running compass-emu. Use as a context manager.

    scenario: a dict (written to a temp file) or a path.
    The emulator writes one JSON line per request it received to self.log_path.
    A folder it makes itself (no workdir given) is removed when the test
    process ends (after every test could still read the log).
    """

    def __init__(self, scenario, workdir=None, extra_args=()):
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="wfemu-")
            atexit.register(shutil.rmtree, workdir, True)
        self.dir = workdir
        if isinstance(scenario, dict):
            scenario.setdefault("api_key", API_KEY)
            scenario.setdefault("account_id", ACCOUNT_ID)
            self.scenario_path = os.path.join(self.dir, "scenario.json")
            with open(self.scenario_path, "w") as f:
                json.dump(scenario, f)
        else:
            self.scenario_path = scenario
        self.port_path = os.path.join(self.dir, "emu.port")
        self.log_path = os.path.join(self.dir, "emu.requests.jsonl")
        self.stderr_path = os.path.join(self.dir, "emu.stderr")
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if os.path.exists(self.port_path):
            os.unlink(self.port_path)
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [EMU, "--scenario", self.scenario_path, "--port", "0",
             "--port-file", self.port_path, "--log", self.log_path] + self.extra_args,
            stdout=subprocess.DEVNULL, stderr=self._stderr)
        deadline = time.time() + 10
        while time.time() < deadline:
            if os.path.exists(self.port_path):
                with open(self.port_path) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("compass-emu did not start: " + open(self.stderr_path).read())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._stderr.close()

    @property
    def origin(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def base_url(self):
        return self.origin + API_PATH

    def requests(self):
        """Every request the emulator received so far, oldest first."""
        out = []
        if os.path.exists(self.log_path):
            with open(self.log_path) as f:
                for line in f:
                    line = line.strip()
                    if line:
                        out.append(json.loads(line))
        return out


class Run:
    """The outcome of one wf2sqlite invocation."""

    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "Run(%r, rc=%d)\nstdout:\n%s\nstderr:\n%s" % (self.args, self.rc, self.out, self.err)


def wf_env(emu=None, key=API_KEY, account=ACCOUNT_ID, extra=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCALE_API_KEY", "SCALE_ACCOUNT_ID", "SGP_BASE_URL", "WF2SQLITE_DB",
                        "WF2SQLITE_PROFILE")}
    # No profile of the user's own config file (~/.config/wf2sqlite/config).
    env["WF2SQLITE_CONFIG"] = os.devnull
    if emu is not None:
        env["SGP_BASE_URL"] = emu.base_url
    if key is not None:
        env["SCALE_API_KEY"] = key
    if account is not None:
        env["SCALE_ACCOUNT_ID"] = account
    if extra:
        env.update(extra)
    return env


def run_wf(args, emu=None, env=None, input=None, timeout=120, cwd=None):
    """Runs wf2sqlite with args; env defaults to one pointing at emu."""
    if env is None:
        env = wf_env(emu)
    p = subprocess.run([WF2SQLITE] + list(args), input=input, capture_output=True,
                       text=True, env=env, timeout=timeout, cwd=cwd)
    r = Run(args, p.returncode, p.stdout, p.stderr)
    assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, repr(r)
    return r


def spawn_wf(args, emu=None, env=None, **kw):
    """Starts wf2sqlite without waiting; returns the Popen."""
    if env is None:
        env = wf_env(emu)
    return subprocess.Popen([WF2SQLITE] + list(args), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def unprivileged(test):
    """For checks of file permissions, which root ignores (CI runs as root):
    returns (binary, kwargs) to run wf2sqlite as user nobody when we are root
    -- a copy of the binary in a UserArea (tests/lib/asuser.py: the checkout
    may sit in a folder nobody cannot enter) and subprocess's user, group and
    cwd -- and opens test.dir to nobody. When we are not root: a copy run as
    ourselves. The test must be marked @drops_privileges."""
    area = UserArea(test)
    binary, = area.copy(WF2SQLITE)
    if area.dropping:
        os.chmod(test.dir, 0o777)
    return binary, area.kwargs()


def run_as(binary, args, kwargs, env, timeout=60, **more):
    """Runs binary (from unprivileged) with args; returns a Run."""
    p = subprocess.run([binary] + list(args), capture_output=True, text=True, env=env,
                       timeout=timeout, **kwargs, **more)
    r = Run(args, p.returncode, p.stdout, p.stderr)
    assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, repr(r)
    return r


def db_query(path, sql, params=()):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def db_runs(path):
    """The _wf_runs rows of the database at path as dicts, oldest first."""
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM _wf_runs ORDER BY run_id")]
    finally:
        con.close()


class WfTestCase(unittest.TestCase):
    """A test case with a fresh temporary directory in self.dir (in a folder
    nobody can reach, for the tests that drop privileges: asuser.py)."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="wftest-", dir=reachable_tmp())
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def assertRc(self, run, rc):
        self.assertEqual(run.rc, rc, repr(run))

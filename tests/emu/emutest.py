"""Helpers for the tests of compass-emu itself: a raw HTTP client over
http.client (and plain sockets for faults that break HTTP), standard library only."""
import http.client
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import wfharness  # noqa: E402
from wfharness import API_KEY, ACCOUNT_ID, API_PATH, Emu  # noqa: E402,F401

AUTH = {"x-scale-api-key": API_KEY, "x-selected-account-id": ACCOUNT_ID}


class Resp:
    def __init__(self, status, headers, body, elapsed):
        self.status, self.headers, self.body, self.elapsed = status, headers, body, elapsed

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return "Resp(%d, %r)" % (self.status, self.body[:300])


def request(emu, method, path, body=None, headers=None, auth=True, timeout=10, port=None):
    """One request on a fresh connection; path is relative to the API base
    unless it starts with '//' (then it is the raw path)."""
    h = dict(AUTH) if auth else {}
    if headers:
        h.update(headers)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode()
    raw = path[1:] if path.startswith("//") else API_PATH + path
    conn = http.client.HTTPConnection("127.0.0.1", port or emu.port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request(method, raw, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        return Resp(r.status, r.getheaders(), data, time.monotonic() - t0)
    finally:
        conn.close()


def run(emu, workflow, variables=None):
    body = {"workflowId": workflow}
    if variables is not None:
        body["variables"] = variables
    r = request(emu, "POST", "/v1/workflow/run", body)
    assert r.status == 200, r
    return r.json()["sessionId"]


def session(emu, sid):
    from urllib.parse import quote
    r = request(emu, "GET", "/v1/sessions/" + quote(sid, safe=""))
    assert r.status == 200, r
    return r.json()["sessionState"]


def result(emu, sid, timeout_ms=None, **kw):
    from urllib.parse import quote
    q = "" if timeout_ms is None else "?timeout=%d" % timeout_ms
    return request(emu, "GET", "/v1/sessions/" + quote(sid, safe="") + "/result" + q, **kw)


def raw_exchange(port, data, read_timeout=5):
    """Sends raw bytes, reads until the server closes; returns
    (bytes, closed_cleanly, seconds)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    t0 = time.monotonic()
    out = b""
    closed = False
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            out += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    finally:
        s.close()
    return out, closed, time.monotonic() - t0


def raw_get(path, extra=b""):
    head = "GET %s%s HTTP/1.1\r\nHost: x\r\nx-scale-api-key: %s\r\nx-selected-account-id: %s\r\n" % (
        API_PATH, path, API_KEY, ACCOUNT_ID)
    return head.encode() + extra + b"\r\n"


def split_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


class EmuTestCase(unittest.TestCase):
    """Starts one emulator per test with self.scenario() (override)."""

    def scenario(self):
        return {"workflows": {"w": {}}}

    def setUp(self):
        self.emu = Emu(self.scenario())
        self.emu.start()

    def tearDown(self):
        self.emu.stop()
        rc = self.emu.proc.returncode
        with open(self.emu.stderr_path) as f:
            err = f.read()
        self.assertEqual(rc, 0, "compass-emu exited %s: %s" % (rc, err))
        self.assertNotIn("Sanitizer", err)
        self.assertNotIn("runtime error", err)

#!/usr/bin/env python3
"""Throughput benchmark of `wf2sqlite batch` (SPEC section 14, docs/performance.md).

64 variable sets, each a session of 2 s of server time whose result is
10,000 bench8 rows (the SPEC 11 row: 4 text, 4 numbers), at --parallel 8,
served by compass-emu on loopback. The target: the batch finishes within
1.2x of (64/8 x 2 s + SQLite's insert-only time of all 640,000 rows), with a
peak RSS under 64 MiB. The insert-only time is measured in the same run by
bench/ceiling (the same rows parsed into memory beforehand, inserted with
prepared statements in one transaction on a connection opened like
wf2sqlite's; docs/performance.md) on a body of the 640,000 rows; the same
rows inserted as 64 transactions of 10,000 (what a batch commits) is printed
too, for reference.

usage: bench/bench_batch.py [--build DIR] [--runs K] [--sets N] [--rows R]
                            [--server-ms MS] [--parallel P]
  --build DIR  a build with cmd/wf2sqlite, cmd/compass-emu and bench/ceiling
               (default: build-bench, made as a Release build when missing)
"""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KEY, ACCOUNT = "bench-key", "bench-account"
RATIO_LIMIT = 1.2
RSS_LIMIT_MIB = 64.0


def build(build_dir):
    subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
                    "-DWF2SQLITE_TESTS=OFF"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "-j2"], check=True, stdout=subprocess.DEVNULL)


class Emu:
    """compass-emu with workflow "set" (server_ms, then `rows` rows) and
    workflow "all" (no wait, sets x rows rows: the ceiling's body)."""

    def __init__(self, exe, work, a):
        gen = {"shape": "bench8"}
        scen = {"api_key": KEY, "account_id": ACCOUNT, "workflows": {
            "set": {"cards": [{"id": "work", "ms": a.server_ms}],
                    "generate": dict(gen, rows=a.rows)},
            "all": {"cards": [], "generate": dict(gen, rows=a.rows * a.sets)},
            "one": {"cards": [], "generate": dict(gen, rows=a.rows)}}}
        path = os.path.join(work, "scenario.json")
        with open(path, "w") as f:
            json.dump(scen, f)
        port_file = os.path.join(work, "port")
        self.proc = subprocess.Popen([exe, "--scenario", path, "--port", "0",
                                      "--port-file", port_file], stdout=subprocess.DEVNULL)
        for _ in range(1000):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.01)
        else:
            self.stop()
            sys.exit("compass-emu did not start")
        self.base = "http://127.0.0.1:%s/corp-api/compass/api" % open(port_file).read().strip()

    def save_body(self, workflow, path):
        hdr = {"x-scale-api-key": KEY, "x-selected-account-id": ACCOUNT,
               "Content-Type": "application/json"}
        req = urllib.request.Request(self.base + "/v1/workflow/run", method="POST",
                                     data=json.dumps({"workflowId": workflow}).encode(),
                                     headers=hdr)
        sid = json.load(urllib.request.urlopen(req))["sessionId"]
        req = urllib.request.Request(self.base + "/v1/sessions/%s/result" % sid, headers=hdr)
        with urllib.request.urlopen(req) as r, open(path, "wb") as f:
            shutil.copyfileobj(r, f, 1 << 20)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def fresh(path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)


def ceiling(exe, body, db):
    """(insert seconds, insert + close seconds) of bench/ceiling."""
    fresh(db)
    p = subprocess.run([exe, body, db, "bench"], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("ceiling failed: %s" % p.stderr)
    ins, with_close = p.stdout.split()[:2]
    return float(ins), float(with_close)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sets", type=int, default=64)
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--server-ms", type=int, default=2000)
    ap.add_argument("--parallel", type=int, default=8)
    a = ap.parse_args()
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("bench_batch.py needs /usr/bin/time (Debian: apt-get install time)")
    wf = os.path.join(a.build, "cmd", "wf2sqlite")
    if not os.path.exists(wf):
        build(a.build)
    emu_exe = os.path.join(a.build, "cmd", "compass-emu")
    ceil_exe = os.path.join(a.build, "bench", "ceiling")
    work = tempfile.mkdtemp(prefix="wfbenchbatch-")
    emu = Emu(emu_exe, work, a)
    try:
        body_all = os.path.join(work, "all.json")
        body_one = os.path.join(work, "one.json")
        emu.save_body("all", body_all)
        emu.save_body("one", body_one)
        matrix = os.path.join(work, "m.jsonl")
        with open(matrix, "w") as f:
            for i in range(a.sets):
                f.write('{"set": "%d"}\n' % i)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WF2SQLITE")}
        env.update({"SCALE_API_KEY": KEY, "SCALE_ACCOUNT_ID": ACCOUNT, "SGP_BASE_URL": emu.base,
                    "WF2SQLITE_CONFIG": os.devnull})
        db = os.path.join(work, "batch.db")
        cdb = os.path.join(work, "ceiling.db")
        cmd = [wf, "batch", "set", "--matrix", matrix, "--db", db, "--parallel",
               str(a.parallel), "-q"]
        # One warm-up render: the emulator renders a workflow's body once.
        emu.save_body("set", os.path.join(work, "set.json"))
        times, rss, ceil_all, ceil_parts = [], [], [], []
        for _ in range(a.runs):
            ceil_all.append(ceiling(ceil_exe, body_all, cdb)[1])
            fresh(cdb)
            part = 0.0
            for _ in range(a.sets):
                part += ceiling(ceil_exe, body_one, cdb)[1]
            ceil_parts.append(part)
            fresh(db)
            t0 = time.monotonic()
            p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, env=env,
                               capture_output=True, text=True)
            times.append(time.monotonic() - t0)
            if p.returncode != 0:
                sys.exit("batch failed (%d): %s" % (p.returncode, p.stderr))
            rss.append(int(p.stderr.strip().splitlines()[-1]) / 1024.0)
            con = sqlite3.connect(db)
            n, runs = con.execute("SELECT (SELECT count(*) FROM wf_set),"
                                  " (SELECT count(*) FROM _wf_runs WHERE status='loaded')"
                                  ).fetchone()
            con.close()
            if (n, runs) != (a.sets * a.rows, a.sets):
                sys.exit("batch loaded %d rows in %d runs, not %d in %d" %
                         (n, runs, a.sets * a.rows, a.sets))
    finally:
        emu.stop()
        shutil.rmtree(work, True)
    waves = -(-a.sets // a.parallel)
    c = statistics.median(ceil_all)
    target = waves * a.server_ms / 1000.0 + c
    t = statistics.median(times)
    print("command: %s" % " ".join(["bench/bench_batch.py"] + sys.argv[1:]))
    print("batch: %d sets x %d rows, %d ms of server time each, --parallel %d, %d runs"
          % (a.sets, a.rows, a.server_ms, a.parallel, a.runs))
    print("batch wall seconds:          %s  median %.2f" % (
        " ".join("%.2f" % x for x in times), t))
    print("ceiling, %d rows at once:   %s  median %.2f" % (
        a.sets * a.rows, " ".join("%.2f" % x for x in ceil_all), c))
    print("ceiling, %d x %d rows:      %s  median %.2f (reference)" % (
        a.sets, a.rows, " ".join("%.2f" % x for x in ceil_parts), statistics.median(ceil_parts)))
    print("target: %d waves x %.1f s + %.2f s = %.2f s; batch / target = %.3f (limit %.1f): %s"
          % (waves, a.server_ms / 1000.0, c, target, t / target, RATIO_LIMIT,
             "met" if t / target <= RATIO_LIMIT else "NOT met"))
    print("peak RSS MiB:                %s  max %.1f (limit %.0f): %s" % (
        " ".join("%.1f" % x for x in rss), max(rss), RSS_LIMIT_MIB,
        "met" if max(rss) < RSS_LIMIT_MIB else "NOT met"))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Throughput benchmark of SPEC section 11.

Generates a result of N rows x 8 columns (4 text, 4 numbers; ~160 bytes a row),
serves it from compass-emu on loopback, and times, RUNS times each:
  run      `wf2sqlite run` end to end (POST, wait, download, parse, insert, commit)
  load     `wf2sqlite load FILE` of the same body saved to a file
  ceiling  bench/ceiling: the same rows, parsed into memory beforehand, inserted
           with one prepared statement in one transaction (WAL, synchronous=FULL)
and prints medians, peak RSS (from /usr/bin/time) and the ratios to the ceiling.

usage: bench/bench.py [--rows N] [--runs K] [--build DIR] [--rss-sweep]
  --rss-sweep  also measure peak RSS of `run` at 100k, 1M and 4M rows
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KEY, ACCOUNT = "bench-key", "bench-account"


def build(build_dir):
    subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
                    "-DWF2SQLITE_TESTS=OFF"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "-j%d" % os.cpu_count()], check=True,
                   stdout=subprocess.DEVNULL)


class Emu:
    def __init__(self, exe, work, rows):
        self.work = work
        scen = {"api_key": KEY, "account_id": ACCOUNT,
                "workflows": {"bench": {"start_ms": 0, "pending_ms": 0, "cards": [],
                                        "final_status": "idle",
                                        "generate": {"rows": rows, "shape": "bench8"}}}}
        self.scenario = os.path.join(work, "scenario-%d.json" % rows)
        with open(self.scenario, "w") as f:
            json.dump(scen, f)
        port_file = os.path.join(work, "port-%d" % rows)
        self.proc = subprocess.Popen([exe, "--scenario", self.scenario, "--port", "0",
                                      "--port-file", port_file], stdout=subprocess.DEVNULL)
        for _ in range(500):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.01)
        self.base = "http://127.0.0.1:%s/corp-api/compass/api" % open(port_file).read().strip()

    def save_body(self, path):
        hdr = {"x-scale-api-key": KEY, "x-selected-account-id": ACCOUNT,
               "Content-Type": "application/json"}
        req = urllib.request.Request(self.base + "/v1/workflow/run", method="POST",
                                     data=b'{"workflowId":"bench"}', headers=hdr)
        sid = json.load(urllib.request.urlopen(req))["sessionId"]
        req = urllib.request.Request(self.base + "/v1/sessions/%s/result" % sid, headers=hdr)
        with urllib.request.urlopen(req) as r, open(path, "wb") as f:
            shutil.copyfileobj(r, f, 1 << 20)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time; returns (seconds, peak RSS in KiB)."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("benchmark command failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr))
    rss = int(p.stderr.strip().splitlines()[-1])
    return elapsed, rss


def fresh(path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--rss-sweep", action="store_true")
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()

    if not a.no_build:
        build(a.build)
    wf = os.path.join(a.build, "cmd", "wf2sqlite")
    emu_exe = os.path.join(a.build, "cmd", "compass-emu")
    ceiling = os.path.join(a.build, "bench", "ceiling")
    work = tempfile.mkdtemp(prefix="wfbench-", dir=os.environ.get("TMPDIR", "/tmp"))
    db = os.path.join(work, "bench.db")
    try:
        emu = Emu(emu_exe, work, a.rows)
        body = os.path.join(work, "body.json")
        emu.save_body(body)
        size_mb = os.path.getsize(body) / 1e6
        env = dict(os.environ, SCALE_API_KEY=KEY, SCALE_ACCOUNT_ID=ACCOUNT, SGP_BASE_URL=emu.base)
        res = {"run": [], "load": [], "ceiling": [], "ceiling_close": []}
        rss = {"run": [], "load": []}
        for i in range(a.runs):
            fresh(db)
            out = subprocess.run([ceiling, body, db], capture_output=True, text=True, check=True)
            ins, with_close = (float(x) for x in out.stdout.split())
            res["ceiling"].append(ins)
            res["ceiling_close"].append(with_close)
            fresh(db)
            t, m = timed([wf, "run", "bench", "--db", db, "--quiet"], env)
            res["run"].append(t)
            rss["run"].append(m)
            fresh(db)
            t, m = timed([wf, "load", body, "--db", db, "--table", "bench", "--quiet"], env)
            res["load"].append(t)
            rss["load"].append(m)
        emu.stop()
        med = {k: statistics.median(v) for k, v in res.items()}
        print("rows: %d  body: %.1f MB  runs: %d  (medians)" % (a.rows, size_mb, a.runs))
        print("ceiling insert   %7.3f s   (with close/checkpoint %.3f s)" % (med["ceiling"], med["ceiling_close"]))
        for k in ("run", "load"):
            print("wf2sqlite %-6s %7.3f s   ratio %.2f   peak RSS %.1f MiB" % (
                k, med[k], med[k] / med["ceiling"], max(rss[k]) / 1024))
        if a.rss_sweep:
            print("peak RSS of `wf2sqlite run` by rows:")
            for n in (100000, 1000000, 4000000):
                e = Emu(emu_exe, work, n)
                env["SGP_BASE_URL"] = e.base
                fresh(db)
                t, m = timed([wf, "run", "bench", "--db", db, "--quiet"], env)
                e.stop()
                print("  %8d rows  %7.3f s  %.1f MiB" % (n, t, m / 1024))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

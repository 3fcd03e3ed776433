#!/usr/bin/env python3
"""Benchmark of `wf2sqlite diff` (SPEC 15: runs of a million rows compare in a
few seconds, in flat memory under 32 MiB). docs/performance.md cites it.

One command: builds a Release build (build-bench-diff/), has compass-emu on
loopback render the bench8 result of N rows x 8 columns twice (seed 0, and
seed 1: the same ids with every other value changed), saves both bodies,
loads them with `wf2sqlite load` as three runs of one table (seed 0, seed 0
again, seed 1), then times, RUNS times each, with the peak RSS
(/usr/bin/time), the CPU time (user + system: less sensitive than the wall
time to other load on the machine):
  same-key     diff 1 2 --key id    identical runs, matched by key
  same-rows    diff 1 2             identical runs, whole rows as multisets
  changed-key  diff 2 3 --key id --json   every row changed: N differences
                                          streamed as JSON (to /dev/null)
  changed-rows diff 2 3 --csv       every row differs: 2N lines of CSV
at each row count of the sweep (default 100k and 1M), so that the RSS can be
seen to stay flat as N grows. Then `--mode upsert` beside `append` (SPEC 15:
the same speed class), each into a new database, of the seed-0 body:
  append         load FILE (the table made by this load)
  upsert-new     load FILE --mode upsert --key id (table and key made)
  upsert-update  the same into that table again with the seed-1 body: every
                 key is there, every row updated

usage: bench/bench_diff.py [--rows N[,N...]] [--runs K] [--no-build] [--build DIR]
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
TABLE = "bench"
RSS_LIMIT_MIB = 32.0
CASES = (("same-key", ["1", "2", "--key", "id"]),
         ("same-rows", ["1", "2"]),
         ("changed-key", ["2", "3", "--key", "id", "--json"]),
         ("changed-rows", ["2", "3", "--csv"]))


def build(build_dir):
    subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
                    "-DWF2SQLITE_TESTS=OFF"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "-j2"], check=True, stdout=subprocess.DEVNULL)


def save_bodies(emu_exe, work, rows):
    """The bench8 bodies of seed 0 and seed 1, saved from compass-emu."""
    wfs = {"s%d" % seed: {"start_ms": 0, "pending_ms": 0, "cards": [], "final_status": "idle",
                          "generate": {"rows": rows, "shape": "bench8", "seed": seed}}
           for seed in (0, 1)}
    scen = os.path.join(work, "scenario.json")
    with open(scen, "w") as f:
        json.dump({"api_key": KEY, "account_id": ACCOUNT, "workflows": wfs}, f)
    port_file = os.path.join(work, "port")
    if os.path.exists(port_file):
        os.unlink(port_file)
    proc = subprocess.Popen([emu_exe, "--scenario", scen, "--port", "0", "--port-file",
                             port_file], stdout=subprocess.DEVNULL)
    paths = []
    try:
        for _ in range(1000):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.01)
        base = "http://127.0.0.1:%s/corp-api/compass/api" % open(port_file).read().strip()
        hdr = {"x-scale-api-key": KEY, "x-selected-account-id": ACCOUNT,
               "Content-Type": "application/json"}
        for seed in (0, 1):
            req = urllib.request.Request(base + "/v1/workflow/run", method="POST", headers=hdr,
                                         data=json.dumps({"workflowId": "s%d" % seed}).encode())
            sid = json.load(urllib.request.urlopen(req))["sessionId"]
            req = urllib.request.Request(base + "/v1/sessions/%s/result" % sid, headers=hdr)
            path = os.path.join(work, "seed%d-%d.json" % (seed, rows))
            with urllib.request.urlopen(req) as r, open(path, "wb") as f:
                shutil.copyfileobj(r, f, 1 << 20)
            paths.append(path)
    finally:
        proc.terminate()
        proc.wait()
    return paths


def timed(cmd, env):
    """(wall seconds, peak RSS KiB, CPU seconds) of cmd, its stdout thrown away."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S"] + cmd, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("benchmark command failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr))
    rss, user, system = p.stderr.strip().splitlines()[-1].split()
    return elapsed, int(rss), float(user) + float(system)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", default="100000,1000000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench-diff"))
    a = ap.parse_args()
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("bench_diff.py needs /usr/bin/time (Debian: apt-get install time)")
    if not a.no_build:
        build(a.build)
    wf = os.path.join(a.build, "cmd", "wf2sqlite")
    emu = os.path.join(a.build, "cmd", "compass-emu")
    env = dict(os.environ, WF2SQLITE_CONFIG=os.devnull)
    worst = 0
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as work:
        for rows in [int(x) for x in a.rows.split(",")]:
            bodies = save_bodies(emu, work, rows)
            db = os.path.join(work, "diff-%d.db" % rows)
            for body in (bodies[0], bodies[0], bodies[1]):
                subprocess.run([wf, "load", body, "--db", db, "--table", TABLE, "-q"], env=env,
                               check=True)
            print("%d rows per run (%.0f MB of JSON each), %d runs each:" %
                  (rows, os.path.getsize(bodies[0]) / 1e6, a.runs))
            for name, args in CASES:
                results = [timed([wf, "diff", "--db", db, "--table", TABLE] + args, env)
                           for _ in range(a.runs)]
                wall = statistics.median(r[0] for r in results)
                cpu = statistics.median(r[2] for r in results)
                rss = max(r[1] for r in results) / 1024.0
                worst = max(worst, rss)
                print("  %-13s %-30s median %6.2f s (CPU %6.2f s)   peak RSS %5.1f MiB" %
                      (name, "diff " + " ".join(args), wall, cpu, rss))
            for name, mode, body, fresh_db in (("append", [], bodies[0], True),
                                               ("upsert-new", ["--mode", "upsert", "--key", "id"],
                                                bodies[0], True),
                                               ("upsert-update", ["--mode", "upsert", "--key",
                                                                  "id"], bodies[1], False)):
                results = []
                for _ in range(a.runs):
                    udb = os.path.join(work, "upsert-%d-%s.db" % (rows, name))
                    if fresh_db or not os.path.exists(udb):
                        for suffix in ("", "-wal", "-shm"):
                            if os.path.exists(udb + suffix):
                                os.unlink(udb + suffix)
                    if not fresh_db:
                        udb = os.path.join(work, "upsert-%d-upsert-new.db" % rows)
                    results.append(timed([wf, "load", body, "--db", udb, "--table", TABLE, "-q"]
                                         + mode, env))
                wall = statistics.median(r[0] for r in results)
                cpu = statistics.median(r[2] for r in results)
                rss = max(r[1] for r in results) / 1024.0
                print("  %-13s %-30s median %6.2f s (CPU %6.2f s)   peak RSS %5.1f MiB" %
                      (name, "load " + " ".join(mode), wall, cpu, rss))
            for body in bodies:
                os.unlink(body)
    print("load average %s" % open("/proc/loadavg").read().split()[0])
    print("peak RSS of every diff: %.1f MiB (target: under %.0f MiB) %s" %
          (worst, RSS_LIMIT_MIB, "met" if worst < RSS_LIMIT_MIB else "NOT MET"))


if __name__ == "__main__":
    main()

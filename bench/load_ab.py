"""A/B of two builds on `wf2sqlite load FILE` (docs/performance.md): the same
bench8 bodies as bench.py (schema first and data first, made once by
compass-emu of build B), loaded by build A and build B in turn, RUNS times;
prints every wall time, the medians of wall and CPU seconds (user + system,
less sensitive than wall to other work on a shared machine) and the peak
RSS, and checks that all databases hold the same rows.

usage: python3 bench/load_ab.py BUILD_A BUILD_B [--rows N] [--runs K] [--work DIR]
  BUILD_*  a build folder (cmake -DCMAKE_BUILD_TYPE=Release) holding cmd/wf2sqlite
"""
import argparse
import importlib.util
import os
import statistics
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("bench", os.path.join(HERE, "bench.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_a")
    ap.add_argument("build_b")
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default=None, help="folder for the bodies (kept) and databases")
    a = ap.parse_args()
    bench.need_time()
    builds = {"A": a.build_a, "B": a.build_b}
    work = a.work or tempfile.mkdtemp(prefix="wf-load-ab-")
    os.makedirs(work, exist_ok=True)
    bodies = {w: os.path.join(work, "%s-%d.json" % (w, a.rows)) for w in bench.WORKFLOWS}
    if not all(os.path.exists(p) for p in bodies.values()):
        emu = bench.Emu(os.path.join(a.build_b, "cmd", "compass-emu"), work, a.rows)
        try:
            for w, p in bodies.items():
                emu.save_body(w, p)
        finally:
            emu.stop()
    env = dict(os.environ, WF2SQLITE_CONFIG="/dev/null")
    res = {}
    print("load average before: %s" % bench.loadavg())
    for _ in range(a.runs):
        for b, d in builds.items():
            for w, p in bodies.items():
                db = os.path.join(work, "%s-%s.db" % (b, w))
                bench.fresh(db)
                res.setdefault((b, w), []).append(bench.timed(
                    [os.path.join(d, "cmd", "wf2sqlite"), "load", "--db", db, "--table",
                     bench.TABLE, p], env=env))
    for (b, w), v in sorted(res.items()):
        print("%s %-9s wall %s  median %.3f | CPU median %.3f | peak RSS %.1f MiB" % (
            b, w, " ".join("%.3f" % x[0] for x in v), statistics.median(x[0] for x in v),
            statistics.median(x[2] for x in v), max(x[1] for x in v) / 1024))
    print("load average after: %s" % bench.loadavg())
    sums = {k: bench.checksum(os.path.join(work, "%s-%s.db" % k)) for k in res}
    same = len(set(s[2] for s in sums.values())) == 1 and all(s[1] == a.rows for s in sums.values())
    print("same rows in all databases: %s" % ("yes" if same else "NO"))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())

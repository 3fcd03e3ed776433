#!/usr/bin/env python3
"""PostgreSQL throughput benchmark of SPEC section 16 (docs/performance.md,
"PostgreSQL").

One command: starts a PostgreSQL 15 server of its own (tests/lib/pgserver.py:
a temporary cluster as an unprivileged user, on a socket; fsync=off, the same
for every contender), generates the bench8 result (N rows x 8 columns: 4
text, 4 numbers) in compass-emu on loopback, saves the body to a file, and
times, RUNS times each, in turn, into a fresh table of the same columns and
types:
  load       `wf2sqlite load FILE --db postgresql://...` (process start to
             exit: parse, map, COPY, commit, the _run_id index)
  run        `wf2sqlite run` end to end against the emulator
  copy       `psql -c "\\copy T FROM 'rows.csv' CSV"`: the same rows (exported
             once from the first load, _run_id and _row included) from a CSV
             file, the target of SPEC 16 (1.3x)
  psycopg2   a typical peer: Python (Debian's python3-psycopg2) reading the
             body with json.load and inserting with execute_values, 1000 rows
             a statement, one transaction (skipped when psycopg2 is missing)
It prints every time, the medians and the ratios to `copy`, and the peak RSS
of wf2sqlite (/usr/bin/time). With --formats it also times the server's side
of COPY's two formats: `\\copy T FROM` a text-format file and a binary-format
file of the same rows (written by COPY TO), which is why wf2sqlite sends text.

usage: bench/bench_pg.py [--rows N] [--runs K] [--build DIR] [--no-build] [--formats]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from pgserver import PG_BIN, PSQL, PgServer  # noqa: E402

sys.path.insert(0, HERE)
from bench import Emu, KEY, ACCOUNT, build, need_time, timed  # noqa: E402

TARGET = 1.3
PEER = r'''
import json, sys, psycopg2
from psycopg2.extras import execute_values
body, dsn, table = sys.argv[1:4]
with open(body) as f:
    doc = json.load(f)
ids = [c["id"] for c in doc["schema"]]
conn = psycopg2.connect(dsn)
cur = conn.cursor()
rows = ([r.get(i) for i in ids] + [1, n] for n, r in enumerate(doc["data"]))
cols = ", ".join('"%s"' % i for i in ids + ["_run_id", "_row"])
execute_values(cur, 'INSERT INTO "%s" (%s) VALUES %%s' % (table, cols), rows, page_size=1000)
conn.commit()
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--no-build", action="store_true", help="use the build as it is")
    ap.add_argument("--peer-rows", type=int, default=200000,
                    help="rows for psycopg2 (its json.load holds the whole body: about 1 GB "
                         "of Python objects at 1M rows); its rate is scaled to --rows")
    ap.add_argument("--formats", action="store_true",
                    help="also time COPY FROM in text and in binary format")
    a = ap.parse_args()
    need_time()
    if not PgServer.available():
        sys.exit("bench_pg.py needs PostgreSQL 15 in %s (scripts/deps.sh --test)" % PG_BIN)
    if not a.no_build:
        build(a.build)
    wf = os.path.join(a.build, "cmd", "wf2sqlite")
    emu_exe = os.path.join(a.build, "cmd", "compass-emu")
    pg = PgServer.start()
    work = tempfile.mkdtemp(prefix="wfbenchpg-")
    os.chmod(work, 0o755)
    emu = None
    try:
        emu = Emu(emu_exe, work, a.rows)
        body = os.path.join(work, "body.json")
        emu.save_body("bench", body)
        peer_rows = min(a.rows, a.peer_rows)
        peer_body = body
        if peer_rows < a.rows:
            small = Emu(emu_exe, work, peer_rows)
            peer_body = os.path.join(work, "peer.json")
            small.save_body("bench", peer_body)
            small.stop()
        db = pg.create_db("bench")
        uri = pg.uri(db)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(WF2SQLITE_CONFIG=os.devnull, SCALE_API_KEY=KEY, SCALE_ACCOUNT_ID=ACCOUNT,
                   SGP_BASE_URL=emu.base)

        def sql(text):
            return pg.psql(db, text)

        def fresh(table):
            sql('DROP VIEW IF EXISTS "%s_latest"; DROP TABLE IF EXISTS "%s"' % (table, table))

        # The CSV of the same rows, and the table the others fill (its DDL is
        # wf2sqlite's own).
        timed([wf, "load", body, "--db", uri, "--table", "proto", "--quiet"], env)
        csv = os.path.join(work, "rows.csv")
        sql("\\copy (SELECT * FROM proto ORDER BY _row) TO '%s' CSV" % csv)

        def like(table):
            fresh(table)
            # the same table: wf2sqlite's columns, types and _run_id index
            sql('CREATE TABLE "%s" (LIKE proto INCLUDING INDEXES)' % table)

        times = {"load": [], "run": [], "copy": [], "psycopg2": []}
        rss = {"load": [], "run": []}
        peer = shutil.which("python3", path="/usr/bin")
        has_peer = peer and subprocess.run([peer, "-c", "import psycopg2"],
                                           capture_output=True).returncode == 0
        for i in range(a.runs):
            fresh("b")
            t, r, _ = timed([wf, "load", body, "--db", uri, "--table", "b", "--quiet"], env)
            times["load"].append(t)
            rss["load"].append(r)
            fresh("b")
            t, r, _ = timed([wf, "run", "bench", "--db", uri, "--table", "b", "--quiet"], env)
            times["run"].append(t)
            rss["run"].append(r)
            like("c")
            t0 = time.monotonic()
            subprocess.run([PSQL, "-X", "-q", "-h", pg.sock, "-p", str(pg.port), "-U", pg.USER,
                            "-d", db, "-c", "\\copy c FROM '%s' CSV" % csv], check=True)
            times["copy"].append(time.monotonic() - t0)
            if has_peer:
                like("p")
                dsn = "host=%s port=%d user=%s dbname=%s" % (pg.sock, pg.port, pg.USER, db)
                t0 = time.monotonic()
                subprocess.run([peer, "-c", PEER, peer_body, dsn, "p"], check=True)
                times["psycopg2"].append((time.monotonic() - t0) * a.rows / peer_rows)
            print("run %d: %s" % (i + 1, ", ".join("%s %.2f s" % (k, v[-1])
                                                   for k, v in times.items() if v)), flush=True)
        sql("UPDATE c SET _run_id = (SELECT min(_run_id) FROM b)")
        same = sql("SELECT (SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM c) x)"
                   " + (SELECT count(*) FROM (SELECT * FROM c EXCEPT ALL SELECT * FROM b) y)"
                   ).stdout.strip()
        copy = statistics.median(times["copy"])
        print("\n%d rows x 8 columns, %d runs, medians (psycopg2: %d rows, scaled):"
              % (a.rows, a.runs, peer_rows))
        for k, v in times.items():
            if v:
                print("  %-9s %7.2f s  %5.2fx copy" % (k, statistics.median(v),
                                                      statistics.median(v) / copy))
        for k, v in rss.items():
            print("  peak RSS %-4s %6.1f MiB (max of runs)" % (k, max(v) / 1024.0))
        print("  rows of load and \\copy differing (EXCEPT ALL both ways): %s" % same)
        ratio = statistics.median(times["load"]) / copy
        print("  SPEC 16: load within %.1fx of \\copy: %s (%.2fx)" %
              (TARGET, "met" if ratio <= TARGET else "NOT met", ratio))
        if a.formats:
            txt, binf = os.path.join(work, "rows.txt"), os.path.join(work, "rows.bin")
            sql("\\copy proto TO '%s'" % txt)
            sql("\\copy proto TO '%s' (FORMAT binary)" % binf)
            fmt = {"text": [], "binary": []}
            for i in range(a.runs):
                for name, path, opt in (("text", txt, ""), ("binary", binf, " (FORMAT binary)")):
                    like("f")
                    t0 = time.monotonic()
                    sql("\\copy f FROM '%s'%s" % (path, opt))
                    fmt[name].append(time.monotonic() - t0)
            print("  COPY FROM, server side (medians): text %.2f s (%d MB), binary %.2f s (%d MB)"
                  % (statistics.median(fmt["text"]), os.path.getsize(txt) >> 20,
                     statistics.median(fmt["binary"]), os.path.getsize(binf) >> 20))
    finally:
        if emu:
            emu.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

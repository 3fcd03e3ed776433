"""Peak memory of a load does not grow with the number of rows (SPEC 11:
the body is streamed, never held whole). Measured as the child's peak RSS
(getrusage via os.wait4), not time: the timings live in bench/."""
import os
import subprocess
import unittest

import sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import wfharness as h  # noqa: E402

MiB = 1024  # ru_maxrss is in KiB


def peak_rss_kib(args, env):
    p = subprocess.Popen([h.WF2SQLITE] + args, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    rc = os.waitstatus_to_exitcode(status)
    return rc, usage.ru_maxrss, err


@unittest.skipIf(h.SANITIZED, "peak RSS is measured in the plain build only: ASan's shadow "
                 "memory and quarantine make RSS track the sanitizer, not wf2sqlite")
class PeakMemory(h.WfTestCase):
    SMALL, LARGE = 100000, 1000000

    def scenario(self, data_first):
        wfs = {}
        for n in (self.SMALL, self.LARGE):
            wfs["rows%d" % n] = {"start_ms": 0, "pending_ms": 0, "cards": [],
                                 "generate": {"rows": n, "shape": "bench8",
                                              "data_first": data_first}}
        return {"workflows": wfs}

    def measure(self, data_first):
        peaks = {}
        with h.Emu(self.scenario(data_first), workdir=self.dir) as emu:
            env = h.wf_env(emu)
            for n in (self.SMALL, self.LARGE):
                db = self.path("m%d-%d.db" % (n, data_first))
                rc, kib, err = peak_rss_kib(["run", "rows%d" % n, "--db", db, "-q"], env)
                self.assertEqual(rc, 0, err)
                self.assertEqual(h.db_query(db, 'SELECT count(*) FROM "wf_rows%d"' % n)[0][0], n)
                peaks[n] = kib
        return peaks

    def check_flat(self, peaks):
        small, large = peaks[self.SMALL], peaks[self.LARGE]
        self.assertLess(large, 32 * MiB, "peak RSS %d KiB at %d rows" % (large, self.LARGE))
        self.assertLessEqual(large - small, 4 * MiB,
                             "peak RSS grew from %d to %d KiB between %d and %d rows"
                             % (small, large, self.SMALL, self.LARGE))

    def test_peak_rss_flat_from_100k_to_1m_rows_schema_first(self):
        self.check_flat(self.measure(data_first=False))

    def test_peak_rss_flat_from_100k_to_1m_rows_data_first_spooled(self):
        self.check_flat(self.measure(data_first=True))


@unittest.skipIf(h.SANITIZED, "peak RSS is measured in the plain build only")
class PeakMemoryWrongGuess(h.WfTestCase):
    """Data first with first rows that mislead the guess (a number column
    null at first): the rows are read back from the table, rolled back and
    loaded again (docs/performance.md, "Data first"); memory stays flat."""
    SMALL, LARGE = 100000, 1000000

    def write_body(self, path, n):
        with open(path, "w") as f:
            f.write('{"data":[')
            for i in range(n):
                f.write('%s{"id":%d,"name":"row-%d","v":%s,"w":%d.5}'
                        % ("," if i else "", i, i, "null" if i < 10 else str(i), i))
            f.write('],"schema":[{"id":"id","type":"number"},{"id":"name","type":"string"},'
                    '{"id":"v","type":"number"},{"id":"w","type":"string"}]}')

    def test_peak_rss_flat_from_100k_to_1m_rows_data_first_wrong_guess(self):
        peaks = {}
        for n in (self.SMALL, self.LARGE):
            body, db = self.path("b%d.json" % n), self.path("g%d.db" % n)
            self.write_body(body, n)
            rc, kib, err = peak_rss_kib(["load", body, "--db", db, "--table", "t", "-q"],
                                        h.wf_env())
            os.unlink(body)
            self.assertEqual(rc, 0, err)
            self.assertEqual(h.db_query(db, "SELECT count(*), count(v), typeof(max(w))"
                                        " FROM t"), [(n, n - 10, "text")])
            peaks[n] = kib
        self.assertLess(peaks[self.LARGE], 32 * MiB)
        self.assertLessEqual(peaks[self.LARGE] - peaks[self.SMALL], 4 * MiB, peaks)


if __name__ == "__main__":
    unittest.main()

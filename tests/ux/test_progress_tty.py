"""The progress line as a person sees it: wf2sqlite runs inside tmux (a real
terminal), the test reads the screen with capture-pane while the workflow's
cards take their time, and once it is done. Without a TTY (a pipe) the same
run prints one plain line per change; --quiet prints nothing.

Needs tmux (scripts/deps.sh --test installs it); skipped, saying so, without.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import wfharness as h  # noqa: E402

TMUX = shutil.which("tmux")
# The ux branch alone has neither `run` nor compass-emu; a merged tree has both.
MERGED = all(os.path.exists(os.path.join(h.SOURCE_DIR, f))
             for f in ("cmd/cmd_run.c", "tools/compass-emu/main.c"))
NOT_MERGED = ("needs `wf2sqlite run` (cmd/cmd_run.c) and compass-emu (tools/compass-emu/main.c): "
              "this tree has not merged them yet")
SLOW = 3 if h.SANITIZED else 1

# Three cards of 0.9 s each, then a result big enough for a visible load.
SCENARIO = {
    "workflows": {
        "slow_report": {
            "start_ms": 200,
            "pending_ms": 300,
            "cards": [
                {"id": "fetch_orders", "type": "dataset", "ms": 900},
                {"id": "join_customers", "type": "join", "ms": 900},
                {"id": "summarize", "type": "groupby", "ms": 900},
            ],
            "final_status": "idle",
            "generate": {"rows": 20000, "shape": "bench8", "seed": 7},
        },
        "long_report": {
            "cards": [{"id": "crunch", "type": "llm", "ms": 20000}],
            "generate": {"rows": 10, "shape": "bench8", "seed": 7},
        },
    }
}

LIVE_WAIT = re.compile(r"^\[\d+:\d\d\] (pending_work|processing|starting|waiting[^,]*)"
                       r"(, cards \d/3)?(, at card \S+)?\s*$")
# The card at work is named by its id or by its type (result.h allows both).
CARD_TYPES = {"dataset": "fetch_orders", "join": "join_customers", "groupby": "summarize"}
LIVE_CARDS = re.compile(r"^\[\d+:\d\d\] \w+, cards [0-3]/3, at card "
                        r"(fetch_orders|join_customers|summarize|dataset|join|groupby)\s*$")
ELAPSED = re.compile(r"^\[(\d+:\d\d)\] ")


def card_of(line):
    name = LIVE_CARDS.match(line).group(1)
    return CARD_TYPES.get(name, name)
ANY_PROGRESS = re.compile(r"^\[\d+:\d\d\] ")


class TmuxPane:
    """One tmux server (own socket) running one command in a 100x20 pane."""

    def __init__(self, workdir, script_text, width=100, height=20):
        self.sock = os.path.join(workdir, "tmux.sock")
        self.script = os.path.join(workdir, "run.sh")
        with open(self.script, "w") as f:
            f.write(script_text)
        subprocess.run([TMUX, "-S", self.sock, "-f", "/dev/null", "new-session", "-d",
                        "-s", "wf", "-x", str(width), "-y", str(height),
                        "bash " + shlex.quote(self.script)], check=True)

    def capture(self):
        p = subprocess.run([TMUX, "-S", self.sock, "capture-pane", "-p", "-J", "-t", "wf"],
                           capture_output=True, text=True)
        return p.stdout if p.returncode == 0 else ""

    def keys(self, *keys):
        subprocess.run([TMUX, "-S", self.sock, "send-keys", "-t", "wf"] + list(keys), check=True)

    def close(self):
        subprocess.run([TMUX, "-S", self.sock, "kill-server"], capture_output=True)


def script_for(emu, args, workdir):
    """A bash script that runs wf2sqlite with args against emu, then prints
    its exit status and stays (so the screen can be read)."""
    key = os.path.join(workdir, "key")
    with open(key, "w") as f:
        f.write(h.API_KEY)
    env = h.wf_env(emu, key=None)
    lines = ["unset SCALE_API_KEY WF2SQLITE_DB"]
    for k in ("SGP_BASE_URL", "SCALE_ACCOUNT_ID", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if k in env:
            lines.append("export %s=%s" % (k, shlex.quote(env[k])))
    lines.append("cd " + shlex.quote(workdir))
    lines.append("clear")
    lines.append(" ".join(shlex.quote(a) for a in
                          [h.WF2SQLITE] + list(args) + ["--api-key-file", key]))
    lines.append('echo "EXIT=$?"')
    lines.append("sleep 120")
    return "\n".join(lines) + "\n"


@unittest.skipUnless(MERGED, NOT_MERGED)
@unittest.skipIf(TMUX is None, "tmux is not installed: the live progress line is not "
                 "checked (scripts/deps.sh --test installs it)")
class ProgressTtyTest(h.WfTestCase):

    def watch(self, args, timeout=60 * SLOW, interrupt_on=None):
        """Runs wf2sqlite in tmux; returns (every distinct screen seen, the last).
        interrupt_on: a regex; once a screen matches it, Ctrl-C is typed."""
        frames = []
        with h.Emu(SCENARIO, workdir=self.dir) as emu:
            pane = TmuxPane(self.dir, script_for(emu, args, self.dir))
            try:
                deadline = time.time() + timeout
                screen = ""
                while time.time() < deadline:
                    screen = pane.capture()
                    if not frames or frames[-1] != screen:
                        frames.append(screen)
                    if "EXIT=" in screen:
                        break
                    if interrupt_on and re.search(interrupt_on, screen, re.M):
                        pane.keys("C-c")
                        interrupt_on = None
                    time.sleep(0.05)
                time.sleep(0.2)
                last = pane.capture()
            finally:
                pane.close()
        self.assertIn("EXIT=", last, "wf2sqlite did not finish in %ds:\n%s" % (timeout, last))
        self.assertNotIn("Sanitizer", last)
        self.assertNotIn("runtime error:", last)
        return frames, last

    def check_live_run(self, frames, last, cards_move=True):
        lines = [l.rstrip() for f in frames for l in f.splitlines() if l.strip()]
        progress = [l for l in lines if ANY_PROGRESS.match(l)]
        self.assertTrue(any(LIVE_CARDS.match(l) for l in progress),
                        "no frame showed the cards and the card at work:\n" + "\n".join(lines))
        # The elapsed time moves while the cards work (about 3 s).
        elapsed = {ELAPSED.match(l).group(1) for l in progress}
        self.assertGreaterEqual(len(elapsed), 3, "\n".join(progress))
        if cards_move:
            # The cards were seen at work in order.
            cards = [card_of(l) for l in progress if LIVE_CARDS.match(l)]
            seen = [c for i, c in enumerate(cards) if i == 0 or cards[i - 1] != c]
            self.assertEqual(seen, [c for c in ("fetch_orders", "join_customers", "summarize")
                                    if c in seen])
            self.assertGreaterEqual(len(seen), 2, "\n".join(progress))
        # The live line stays one line: never two progress lines on one screen.
        for f in frames:
            self.assertLessEqual(sum(1 for l in f.splitlines() if ANY_PROGRESS.match(l)), 1, f)
        # At the end it is gone; the exit status is 0 and the line above it
        # (the summary) starts at column 0, not after a half-erased line.
        self.assertIn("EXIT=0", last)
        self.assertFalse([l for l in last.splitlines() if ANY_PROGRESS.match(l)], last)

    def test_live_line_in_a_terminal_block_wait(self):
        db = self.path("t.db")
        frames, last = self.watch(["run", "slow_report", "--db", db])
        # The long-poll outlasts the cards; the line follows them all the same.
        self.check_live_run(frames, last)
        rows = h.db_query(db, "SELECT count(*) FROM wf_slow_report")[0][0]
        self.assertEqual(rows, 20000)

    def test_block_wait_line_never_goes_back_and_counts_read_alike(self):
        db = self.path("t.db")
        frames, last = self.watch(["run", "slow_report", "--db", db])
        progress = [l.rstrip() for f in frames for l in f.splitlines() if ANY_PROGRESS.match(l)]
        transfer = [i for i, l in enumerate(progress)
                    if re.search(r"\] (loading|downloading)", l)]
        if transfer:
            # Once the result arrives the line stays on it: no status after it.
            for l in progress[transfer[0]:]:
                self.assertRegex(l, r"\] (loading|downloading)", "\n".join(progress))
        for l in progress:
            m = re.search(r"loading, ([\d,]+) rows", l)
            if m:
                self.assertRegex(m.group(1), r"^\d{1,3}(,\d{3})*$")
        # The summary groups its count as the live line does.
        self.assertRegex(last, r"(?m)^wf2sqlite: loaded 20,000 rows into wf_slow_report ")

    def test_live_line_in_a_terminal_poll_wait(self):
        db = self.path("t.db")
        frames, last = self.watch(["run", "slow_report", "--db", db, "--wait", "poll",
                                   "--poll-interval", "200ms"])
        self.check_live_run(frames, last)

    def test_batch_shows_one_live_line_for_the_whole_batch(self):
        db = self.path("t.db")
        m = self.path("m.jsonl")
        with open(m, "w") as f:
            f.write('{"n": "1"}\n{"n": "2"}\n{"n": "3"}\n')
        frames, last = self.watch(["batch", "slow_report", "--matrix", m, "--db", db,
                                   "--parallel", "2"])
        live = re.compile(r"^batch 1: (\d) loaded, (\d) running, (\d) failed, (\d) queued "
                          r"of 3; [\d,]+ rows\s*$")
        lines = [l.rstrip() for f in frames for l in f.splitlines() if live.match(l)]
        self.assertTrue(lines, "no frame showed the batch's line:\n" + "\n".join(frames))
        self.assertTrue(any(live.match(l).group(2) == "2" for l in lines), "\n".join(lines))
        for f in frames:
            self.assertLessEqual(sum(1 for l in f.splitlines() if live.match(l)), 1, f)
        self.assertIn("EXIT=0", last)
        self.assertFalse([l for l in last.splitlines() if live.match(l)], last)
        self.assertRegex(last, r"(?m)^wf2sqlite: batch 1 done: 3 of 3 sets loaded "
                         r"\(60,000 rows\) into wf_slow_report ")

    def test_ctrl_c_erases_the_line_before_the_message(self):
        db = self.path("t.db")
        frames, last = self.watch(["run", "long_report", "--db", db],
                                  interrupt_on=r"^\[0:0[1-9]\] \w+, cards 0/1, at card")
        self.assertIn("EXIT=130", last)
        self.assertFalse([l for l in last.splitlines() if ANY_PROGRESS.match(l)], last)
        # The message starts at column 0, not after the remains of the line.
        self.assertRegex(last, r"(?m)^wf2sqlite: interrupted")
        self.assertRegex(last, r"wf2sqlite attach")

    def test_quiet_shows_nothing_in_a_terminal(self):
        db = self.path("t.db")
        frames, last = self.watch(["run", "slow_report", "--db", db, "--quiet"])
        for f in frames:
            self.assertFalse([l for l in f.splitlines() if ANY_PROGRESS.match(l)], f)
        self.assertIn("EXIT=0", last)
        self.assertFalse([l for l in last.splitlines() if l.startswith(("[", "wf2sqlite:"))],
                         last)


@unittest.skipUnless(MERGED, NOT_MERGED)
class ProgressPlainTest(h.WfTestCase):
    """stderr is a pipe here: plain lines, one per change."""

    def test_plain_lines_one_per_change_without_a_tty(self):
        db = self.path("t.db")
        with h.Emu(SCENARIO, workdir=self.dir) as emu:
            r = h.run_wf(["run", "slow_report", "--db", db, "--wait", "poll",
                          "--poll-interval", "200ms"], emu=emu)
        self.assertRc(r, 0)
        self.assertNotIn("\r", r.err)
        self.assertNotIn("\033", r.err)
        lines = [l for l in r.err.splitlines() if re.match(r"^wf2sqlite: \[\d+:\d\d\] ", l)]
        self.assertTrue(any(re.search(r", cards 1/3, at card (join_customers|join)$", l)
                            for l in lines), r.err)
        # One line per change: no two consecutive lines say the same thing.
        bodies = [l.split("] ", 1)[1] for l in lines]
        for a, b in zip(bodies, bodies[1:]):
            self.assertNotEqual(a, b, r.err)
        # Not one per poll or per row: a handful for 3 cards and 20,000 rows.
        self.assertLess(len(lines), 20, r.err)

    def test_block_wait_plain_lines_in_order_with_the_prefix(self):
        db = self.path("t.db")
        with h.Emu(SCENARIO, workdir=self.dir) as emu:
            r = h.run_wf(["run", "slow_report", "--db", db], emu=emu)
        self.assertRc(r, 0)
        lines = r.err.splitlines()
        # Every line names the program, the summary too.
        for l in lines:
            self.assertTrue(l.startswith("wf2sqlite: "), r.err)
        self.assertRegex(lines[-1], r"^wf2sqlite: loaded 20,000 rows into wf_slow_report "
                                    r"\(run 1, session [^)]+\) in ")
        # After the first load/download line no status line comes: the
        # session's end is not printed after its result began to load.
        steps = [l.split("] ", 1)[1] for l in lines if re.match(r"^wf2sqlite: \[\d+:\d\d\] ", l)]
        first = next((i for i, b in enumerate(steps)
                      if b.startswith(("loading", "downloading"))), None)
        if first is not None:
            for b in steps[first:]:
                self.assertTrue(b.startswith(("loading", "downloading")), r.err)

    def test_quiet_prints_nothing_on_success(self):
        db = self.path("t.db")
        with h.Emu(SCENARIO, workdir=self.dir) as emu:
            r = h.run_wf(["run", "slow_report", "--db", db, "--quiet"], emu=emu)
        self.assertRc(r, 0)
        self.assertEqual(r.err, "")


if __name__ == "__main__":
    unittest.main()

"""compass-emu for `batch` tests: per-variable outcomes ("variants") and the
count of sessions in flight ("active", "max_active" in the request log)."""
import subprocess
import unittest

from emutest import EmuTestCase, Emu, result, run, session
import wfharness


class VariantsTest(EmuTestCase):
    def scenario(self):
        return {"workflows": {
            "w": {"cards": [{"id": "c", "ms": 50}],
                  "variants": {"variable": "case", "workflows": {"bad": "w_bad"}}},
            "w_bad": {"cards": [{"id": "c", "ms": 10, "status": "errored", "error": "boom"}]},
        }, "faults": [{"endpoint": "run", "workflow": "w", "kind": "retry_after", "skip": 2,
                       "retry_after": "3"}]}

    def test_a_variable_picks_the_workflow_of_the_session(self):
        ok = run(self.emu, "w", {"case": "fine"})
        bad = run(self.emu, "w", {"case": "bad"})
        self.assertEqual(result(self.emu, bad).status, 200)
        self.assertEqual(session(self.emu, bad)["status"], "errored")
        self.assertEqual(result(self.emu, ok).status, 200)
        self.assertEqual(session(self.emu, ok)["status"], "idle")
        # A 429 after K sessions: the run fault with "skip": K answers the
        # third POST naming "w", whatever variant it would start.
        from emutest import request
        r = request(self.emu, "POST", "/v1/workflow/run",
                    body={"workflowId": "w", "variables": {"case": "bad"}})
        self.assertEqual((r.status, r.header("retry-after")), (429, "3"))

    def test_the_log_counts_sessions_in_flight(self):
        a = run(self.emu, "w", {"case": "a"})
        b = run(self.emu, "w", {"case": "b"})
        log = self.emu.requests()
        self.assertEqual([q["active"] for q in log], [1, 2])
        result(self.emu, a)          # a's final result answered: a is done
        session(self.emu, b)         # b not terminal yet, or terminal: both end it
        log = self.emu.requests()
        self.assertEqual(log[2]["active"], 1)
        self.assertEqual(max(q["max_active"] for q in log), 2)
        result(self.emu, b)
        self.assertEqual(self.emu.requests()[-1]["active"], 0)


class VariantsScenarioErrors(unittest.TestCase):
    def test_a_variant_naming_no_workflow_is_refused(self):
        emu = Emu({"workflows": {"w": {"variants": {"variable": "v",
                                                    "workflows": {"x": "nope"}}}}})
        p = subprocess.run([wfharness.EMU, "--scenario", emu.scenario_path],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn('workflows.w.variants.workflows.x: no workflow "nope"', p.stderr)


if __name__ == "__main__":
    unittest.main()

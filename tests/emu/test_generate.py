"""Generated result bodies of compass-emu: shapes bench8 and mixed, data
before or after schema, row arrays, lies about the row count, and a 1M-row
(~160 MB) body served fast once rendered."""
import json
import os
import re
import time
import unittest

from emutest import EmuTestCase, request, result

BENCH8_SCHEMA = [
    {"id": "id", "header": "ID", "type": "number"},
    {"id": "region", "header": "Region", "type": "string"},
    {"id": "product", "header": "Product", "type": "string"},
    {"id": "customer", "header": "Customer", "type": "string"},
    {"id": "status", "header": "Status", "type": "string"},
    {"id": "units", "header": "Units", "type": "number"},
    {"id": "price", "header": "Price", "type": "number"},
    {"id": "revenue", "header": "Revenue", "type": "number"},
]


class GenerateTest(EmuTestCase):
    def scenario(self):
        return {
            "workflows": {
                "b8": {"generate": {"rows": 20000}},
                "b8_first": {"generate": {"rows": 5, "data_first": True}},
                "b8_seed": {"generate": {"rows": 5, "seed": 42}},
                "b8_arrays": {"generate": {"rows": 3, "rows_as": "arrays"}},
                "b8_lie": {"generate": {"rows": 10, "report_rows": 25}},
                "mixed": {"start_ms": 100, "cards": [{"id": "c", "ms": 50}],
                          "generate": {"rows": 4, "shape": "mixed"}},
                "empty": {"generate": {"rows": 0}},
                "raw": {"result_raw": '{"data": [NaN], "schema": []} trailing'},
                "html": {"result_raw": "<html>oops</html>", "result_content_type": "text/html"},
                "file": {"result_file": "result.json"},
                "partial": {"start_ms": 5000, "partial_result": {"data": [], "note": "later"},
                            "result": {"data": []}},
            },
            "sessions": {n: {"workflow": n} for n in
                         ["b8", "b8_first", "b8_seed", "b8_arrays", "b8_lie", "empty", "raw",
                          "html", "file", "partial"]},
        }

    def setUp(self):
        # result_file is relative to the scenario file's folder.
        from emutest import Emu
        self.emu = Emu(self.scenario())
        with open(os.path.join(self.emu.dir, "result.json"), "w") as f:
            f.write('{"schema": [], "data": [{"x": 1}], "start": 0, "end": 1}\n')
        self.emu.start()

    def test_bench8_shape_and_size(self):
        r = result(self.emu, "b8", 0)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body.startswith(b'{"schema":'))
        body = r.json()
        self.assertEqual(body["schema"], BENCH8_SCHEMA)
        self.assertEqual(len(body["data"]), 20000)
        self.assertEqual(body["start"], 0)
        self.assertEqual(body["end"], 20000)
        self.assertEqual(body["result"]["summary"]["totalNumberOfRows"], 20000)
        per_row = len(r.body) / 20000
        self.assertGreater(per_row, 150)
        self.assertLess(per_row, 170)
        for i, row in enumerate(body["data"][:50]):
            self.assertEqual(list(row), [c["id"] for c in BENCH8_SCHEMA])
            self.assertEqual(row["id"], i)
            self.assertEqual(row["customer"], "customer-%07d" % i)
            for k in ("region", "product", "status"):
                self.assertIsInstance(row[k], str)
            self.assertIsInstance(row["units"], int)
            self.assertIsInstance(row["price"], float)
        # Rendered once: the same bytes every time.
        self.assertEqual(result(self.emu, "b8", 0).body, r.body)

    def test_data_first_and_seed_and_arrays(self):
        first = result(self.emu, "b8_first", 0)
        self.assertTrue(first.body.startswith(b'{"data":['))
        self.assertEqual(list(first.json()), ["data", "schema", "start", "end", "result"])
        plain = result(self.emu, "b8", 0).json()["data"][:5]
        self.assertEqual(first.json()["data"], plain)
        seeded = result(self.emu, "b8_seed", 0).json()["data"]
        self.assertNotEqual(seeded, plain)
        self.assertEqual([r["id"] for r in seeded], [0, 1, 2, 3, 4])
        arrays = result(self.emu, "b8_arrays", 0).json()
        self.assertEqual(arrays["data"], [list(r.values()) for r in plain[:3]])

    def test_report_rows_lies(self):
        body = result(self.emu, "b8_lie", 0).json()
        self.assertEqual(len(body["data"]), 10)
        self.assertEqual(body["end"], 10)
        self.assertEqual(body["result"]["summary"]["totalNumberOfRows"], 25)

    def test_mixed_shape(self):
        r = request(self.emu, "POST", "/v1/workflow/run", {"workflowId": "mixed"})
        sid = r.json()["sessionId"]
        early = result(self.emu, sid, 0).json()
        self.assertEqual(early["data"], [])
        self.assertEqual([c["id"] for c in early["schema"]],
                         ["s", "i", "r", "b", "n", "big", "obj", "arr", "uni", "nul"])
        res = result(self.emu, sid, 2000)
        body = res.json()
        self.assertEqual(body["result"]["summary"]["executionDurationMillis"], 150)
        rows = body["data"]
        self.assertEqual(len(rows), 4)
        self.assertEqual(rows[1], {
            "s": "row-1", "i": -4, "r": 1.5, "b": False, "n": "x1",
            "big": 10 ** 21 + 1, "obj": {"k": 1, "tags": ["a", "b"]},
            "arr": [1, "x", None, True],
            "uni": "h\u00e9llo \"w\u00f6rld\" \\ / \u2603 \U0001F600 \u20ac\n\t1",
            "nul": "a\x00b1"})
        self.assertIsNone(rows[0]["n"])
        self.assertIs(rows[0]["b"], True)
        self.assertIn(b'"big":1000000000000000000003', res.body)
        self.assertIn(b"\\u0000", res.body)

    def test_empty_raw_html_file_results(self):
        self.assertEqual(result(self.emu, "empty", 0).json()["data"], [])
        raw = result(self.emu, "raw", 0)
        self.assertEqual(raw.body, b'{"data": [NaN], "schema": []} trailing')
        html = result(self.emu, "html", 0)
        self.assertEqual(html.body, b"<html>oops</html>")
        self.assertEqual(html.header("Content-Type"), "text/html")
        self.assertEqual(result(self.emu, "file", 0).body,
                         b'{"schema": [], "data": [{"x": 1}], "start": 0, "end": 1}\n')
        self.assertEqual(result(self.emu, "partial", 50).body, b'{"data": [], "note": "later"}')


class BigBodyTest(EmuTestCase):
    ROWS = 1000000

    def scenario(self):
        return {"workflows": {"big": {"generate": {"rows": self.ROWS}}},
                "sessions": {"big": {"workflow": "big"}}}

    def test_one_million_rows_served_fast(self):
        first = result(self.emu, "big", 0, timeout=120)  # renders it
        self.assertEqual(first.status, 200)
        self.assertGreater(len(first.body), 150 * self.ROWS)
        self.assertLess(len(first.body), 170 * self.ROWS)
        self.assertEqual(len(re.findall(rb'\{"id":[0-9]', first.body)), self.ROWS)
        self.assertTrue(first.body.endswith(b'"totalNumberOfRows":1000000,'
                                            b'"executionDurationMillis":0}}}'))
        t0 = time.monotonic()
        second = result(self.emu, "big", 0, timeout=120)
        secs = time.monotonic() - t0
        self.assertEqual(len(second.body), len(first.body))
        # Hundreds of MB/s are typical (docs/emulator.md); keep a wide margin
        # for loaded machines and sanitizer builds.
        self.assertGreater(len(second.body) / secs, 50e6, "%.2f s" % secs)


if __name__ == "__main__":
    unittest.main()

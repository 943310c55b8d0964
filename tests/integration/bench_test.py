#!/usr/bin/python3
"""scripts/bench --quick end to end: every server starts and stops, every workload runs
against devstate and its reference, and the report and charts are written."""
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.environ.get("DEVSTATE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))


SERVERS = ("redis-server", "mosquitto", "devstate", "constant-http-s")  # comm: 15 characters


def server_pids():
    out = subprocess.run(["pgrep", "-x", "|".join(SERVERS)], capture_output=True, text=True).stdout
    return set(out.split())


class BenchQuickTest(unittest.TestCase):
    def test_quick_run_writes_the_report(self):
        before = server_pids()
        with tempfile.TemporaryDirectory(prefix="bench-test.") as out:
            t0 = time.monotonic()
            run = subprocess.run([os.path.join(ROOT, "scripts", "bench"), "--quick", "--no-build", "--out", out],
                                 capture_output=True, text=True, timeout=300)
            elapsed = time.monotonic() - t0
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
            self.assertLess(elapsed, 120, "--quick must stay under 2 minutes")
            with open(os.path.join(out, "BENCHMARKS.md")) as f:
                report = f.read()
            self.assertNotIn("Failed runs", report)
            for section in ("RESP: redis-benchmark", "RESP: devstate-loadgen", "Device ingest over HTTP",
                            "HTTP GET /devices", "Device ingest over MQTT", "Pub/sub fan-out", "raw write(200 B) + fdatasync"):
                self.assertIn(section, report)
            for workload in ("GET -P 1", "GET -P 16", "SET -P 1", "SET -P 16", "resp-mixed -P 1",
                             "POST /devices/<id>", "POST /events", "mqtt.ack = after_commit",
                             "mqtt.ack = on_receipt"):
                row = next((line for line in report.splitlines() if line.startswith(f"| {workload}")), None)
                self.assertIsNotNone(row, workload)
                ratio = re.search(r"\| (\d+\.\d\d)x \|", row)
                self.assertIsNotNone(ratio, row)
                self.assertGreater(float(ratio.group(1)), 0, row)
            charts = re.findall(r"\]\((bench/[^)]+\.html)\)", report)
            self.assertGreaterEqual(len(charts), 8)
            for chart in charts:
                with open(os.path.join(out, chart)) as f:
                    self.assertEqual(f.read().count("<svg"), 2, chart)
            # Everything it started is stopped, and its directories are removed.
            self.assertEqual(server_pids() - before, set())
            work = re.search(r"servers' directories under (\S+)", run.stderr).group(1)
            self.assertFalse(os.path.exists(work))


if __name__ == "__main__":
    sys.exit(unittest.main(verbosity=2))

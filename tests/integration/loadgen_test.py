#!/usr/bin/python3
"""devstate-loadgen against real servers: a short smoke run of each scenario (RESP ones
against redis-server too), and the ledger through a kill -9 of devstate."""
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, Devstate, Mosquitto, WorkDir, free_port, port_open, wait_until  # noqa: E402

LOADGEN = os.environ.get("DEVSTATE_LOADGEN",
                         os.path.join(os.path.dirname(os.path.dirname(BIN)), "loadgen", "devstate-loadgen"))


def loadgen(*args, timeout=60):
    return subprocess.run([LOADGEN, *args], capture_output=True, text=True, timeout=timeout)


def rows(out):
    """The Markdown result rows: name, [requests/s, events/s, errors, p50, p90, p99, p99.9, max]."""
    result = []
    for line in out.strip().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[1][:1].isdigit():
            result.append((cells[0], [float(c) for c in cells[1:]]))
    return result


def row(out):
    return rows(out)[0]


class LoadgenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = WorkDir("loadgen")
        cls.ds = Devstate(cls.work.path)
        cls.redis_port = free_port()
        cls.redis = subprocess.Popen(["redis-server", "--port", str(cls.redis_port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", cls.work.path],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: port_open(cls.redis_port), 10, "redis-server")

    @classmethod
    def tearDownClass(cls):
        cls.redis.terminate()
        cls.redis.wait(10)
        rc = cls.ds.stop()
        cls.work.cleanup()
        assert rc == 0, f"devstate exited {rc}"

    def run_ok(self, *args):
        out = loadgen(*args, "-d", "1")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        name, (rps, eps, errors, p50, p90, p99, p999, mx) = row(out.stdout)
        self.assertGreater(rps, 0, name)
        self.assertEqual(errors, 0, name)
        self.assertTrue(0 < p50 <= p90 <= p99 <= p999 <= mx, (name, p50, p90, p99, p999, mx))
        return name, rps, eps

    def test_http_scenarios(self):
        port = str(self.ds.http_port)
        self.run_ok("http-ingest", "--port", port, "-c", "8", "--devices", "100")
        _, rps, eps = self.run_ok("http-ingest", "--port", port, "-c", "4", "--batch", "10", "--devices", "100")
        self.assertAlmostEqual(eps / rps, 10, delta=0.01)
        self.run_ok("http-get", "--port", port, "-c", "8", "--devices", "100")
        self.assertIsNotNone(self.ds.device("dev-7"))

    def test_open_loop_holds_the_rate(self):
        name, rps, _ = self.run_ok("http-ingest", "--port", str(self.ds.http_port), "-c", "4", "--rate", "500")
        self.assertIn("--rate 500", name)
        self.assertAlmostEqual(rps, 500, delta=50)

    def test_resp_scenarios_against_devstate_and_redis(self):
        for port in (self.ds.resp_port, self.redis_port):
            self.run_ok("resp-set", "--port", str(port), "-c", "8", "-P", "4", "-r", "1000")
            self.run_ok("resp-get", "--port", str(port), "-c", "8", "-P", "16", "-r", "1000")
            # open loop: the rate is held whatever the server's speed
            name, rps, _ = self.run_ok("resp-get", "--port", str(port), "-c", "4", "--rate", "2000", "-r", "1000")
            self.assertIn("--rate 2000", name)
            self.assertAlmostEqual(rps, 2000, delta=200)
            _, rps, _ = self.run_ok("resp-set", "--port", str(port), "-c", "4", "--rate", "1000", "-r", "1000")
            self.assertAlmostEqual(rps, 1000, delta=100)

    def test_pubsub_fanout_against_devstate_and_redis(self):
        for port in (self.ds.resp_port, self.redis_port):
            name, rps, _ = self.run_ok("pubsub-fanout", "--port", str(port), "-c", "20", "-P", "4")
            self.assertEqual(name, "pubsub-fanout -c 20 -P 4")
        # Nobody to publish to: the publisher waits for its subscribers, then gives up.
        out = loadgen("pubsub-fanout", "--port", str(self.ds.resp_port), "-c", "0", "-d", "1")
        self.assertNotEqual(out.returncode, 0)

    def test_mixed_scenarios_split_reads_and_writes(self):
        port = str(self.ds.http_port)
        out = loadgen("http-mixed", "--port", port, "-c", "8", "--devices", "50", "--read-percent", "80", "-d", "1")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        (name, total), (reads_name, reads), (writes_name, writes) = rows(out.stdout)
        self.assertIn("--read-percent 80", name)
        self.assertTrue(reads_name.endswith("(reads)") and writes_name.endswith("(writes)"))
        self.assertAlmostEqual(reads[0] / total[0], 0.8, delta=0.05)
        self.assertAlmostEqual((reads[0] + writes[0]) / total[0], 1, delta=0.01)
        self.assertLess(reads[3], writes[3])  # a read is answered from memory, a write waits for fsync
        # Pipelined GETs queued behind SETs (this once hung devstate's RESP connection).
        for port in (self.ds.resp_port, self.redis_port):
            out = loadgen("resp-mixed", "--port", str(port), "-c", "8", "-P", "8", "-r", "100", "-d", "1",
                          timeout=30)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            (_, total), (_, reads), (_, writes) = rows(out.stdout)
            self.assertAlmostEqual(reads[0] / total[0], 0.9, delta=0.05)
            self.assertGreater(writes[0], 0)

    def test_progress_json_html_and_report(self):
        a, b = (os.path.join(self.work.path, n) for n in ("a.json", "b.json"))
        html, combined = (os.path.join(self.work.path, n) for n in ("a.html", "report.html"))
        out = loadgen("resp-get", "--port", str(self.ds.resp_port), "-c", "4", "-r", "100", "-d", "2.5",
                      "--progress", "--label", "devstate GET", "--json", a, "--html", html)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        progress = [line for line in out.stderr.splitlines() if "req/s" in line]
        self.assertGreaterEqual(len(progress), 2, out.stderr)
        self.assertIn(" 0 errors", progress[-1])
        out = loadgen("resp-get", "--port", str(self.redis_port), "-c", "4", "-r", "100", "-d", "1",
                      "--label", "redis GET", "--json", b)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(out.stderr, "")  # no progress line unless asked (stderr is not a terminal)
        import json
        with open(a) as f:
            r = json.load(f)
        self.assertEqual(r["scenario"], "devstate GET")
        self.assertGreaterEqual(len(r["per_second"]), 2)
        self.assertEqual(r["latency_us"]["curve"][-1][0], 1.0)
        with open(html) as f:
            page = f.read()
        self.assertEqual(page.count("<svg"), 2)
        out = loadgen("report", "--title", "GET: devstate and redis", "--out", combined, a, b)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(combined) as f:
            page = f.read()
        self.assertIn("devstate GET", page)
        self.assertIn("redis GET", page)
        self.assertEqual(page.count('class="series"'), 4)  # two runs in each chart
        out = loadgen("report", "--out", combined, os.path.join(self.work.path, "missing.json"))
        self.assertEqual(out.returncode, 2)

    def test_mqtt_publish_through_a_broker_into_devstate(self):
        work = WorkDir("loadgen-mqtt")
        broker = Mosquitto(work.path)
        ds = Devstate(work.path, broker=broker.uri)
        try:
            ds.wait_ready()
            port = str(broker.port)
            self.run_ok("mqtt-publish", "--port", port, "-c", "2", "--qos", "1", "--devices", "20")
            self.run_ok("mqtt-publish", "--port", port, "-c", "2", "--qos", "0", "--devices", "20")
            name, rps, _ = self.run_ok("mqtt-publish", "--port", port, "-c", "2", "--qos", "1", "--rate", "400",
                                       "--devices", "20")
            self.assertAlmostEqual(rps, 400, delta=40)
            # the payloads are real device events: devstate merges them
            wait_until(lambda: (ds.device("dev-7") or {}).get("status") in ("active", "idle"), 20, "dev-7")
            state = ds.device("dev-7")
            for field in ("temperature", "batteryLevel", "latitude", "longitude", "lastSeenAt"):
                self.assertIn(field, state)
        finally:
            self.assertEqual(ds.stop(), 0)
            broker.stop()
            work.cleanup()

    def test_json_output(self):
        path = os.path.join(self.work.path, "r.json")
        self.run_ok("http-ingest", "--port", str(self.ds.http_port), "-c", "4", "--devices", "10")
        out = loadgen("http-get", "--port", str(self.ds.http_port), "-c", "2", "-d", "0.5", "--devices", "10",
                      "--json", path)
        self.assertEqual(out.returncode, 0, out.stderr)
        import json
        with open(path) as f:
            r = json.load(f)
        self.assertGreater(r["requests_per_second"], 0)
        self.assertLessEqual(r["latency_us"]["p50"], r["latency_us"]["p99"])

    def test_unreachable_server_is_an_error(self):
        out = loadgen("http-get", "--port", str(free_port()), "-d", "0.2")
        self.assertEqual(out.returncode, 2)
        self.assertIn("cannot connect", out.stderr)

    def test_ledger_survives_kill9_and_verify_finds_a_lost_write(self):
        work = WorkDir("loadgen-ledger")
        ds = Devstate(work.path)
        ledger = os.path.join(work.path, "ledger.txt")
        try:
            proc = subprocess.Popen([LOADGEN, "http-ingest", "--port", str(ds.http_port), "-c", "16", "-d", "4",
                                     "--devices", "64", "--ledger", ledger],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            wait_until(lambda: os.path.exists(ledger) and os.path.getsize(ledger) > 100_000, 20, "acknowledged writes")
            ds.kill9()
            proc.wait(30)
            with open(ledger) as f:
                acked = f.read().splitlines()
            self.assertGreater(len(acked), 1000)
            ds.start()
            out = loadgen("verify", "--port", str(ds.http_port), "--ledger", ledger)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn(f"{len(acked)} acknowledged writes over 64 devices: all visible", out.stdout)
            # A write the server never saw must be reported.
            device, seq, version = acked[-1].split()
            with open(ledger, "a") as f:
                f.write(f"{device} {int(seq) + 1000000} {version}\n")
            out = loadgen("verify", "--port", str(ds.http_port), "--ledger", ledger)
            self.assertEqual(out.returncode, 1, out.stdout)
            self.assertIn(f"LOST {device}: has seq", out.stdout)
        finally:
            self.assertEqual(ds.stop(), 0)
            work.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)

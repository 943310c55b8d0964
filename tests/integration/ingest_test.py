#!/usr/bin/python3
"""Device events in, end to end: Mosquitto + devstate + real MQTT and HTTP clients."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import paho.mqtt.client as mqtt  # noqa: E402  Debian python3-paho-mqtt

from harness import BIN, Devstate, Mosquitto, WorkDir, free_port, http_request, raw_exchange, tail, wait_until  # noqa: E402


def publisher(broker_port, client_id):
    c = mqtt.Client(client_id=client_id, clean_session=True)
    c.max_inflight_messages_set(200)
    c.connect("127.0.0.1", broker_port)
    c.loop_start()
    return c


def publish(client, topic, payload):
    info = client.publish(topic, payload if isinstance(payload, (str, bytes)) else json.dumps(payload), qos=1)
    info.wait_for_publish(10)
    assert info.is_published()


class MqttIngestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = WorkDir("mqtt")
        cls.broker = Mosquitto(cls.work.path)
        cls.ds = Devstate(cls.work.path, broker=cls.broker.uri)
        cls.ds.wait_ready()
        cls.pub = publisher(cls.broker.port, "test-pub")

    @classmethod
    def tearDownClass(cls):
        cls.pub.loop_stop()
        cls.pub.disconnect()
        rc = cls.ds.stop()
        cls.broker.stop()
        cls.work.cleanup()
        assert rc == 0, f"devstate exited {rc}"

    def meta(self, device_id):
        status, body = self.ds.get_json(f"/devices/{device_id}?view=meta")
        return body if status == 200 else None

    def wait_version(self, device_id, version):
        try:
            return wait_until(lambda: (m := self.meta(device_id)) and m["version"] >= version and m,
                              10, f"{device_id} at version {version}")
        except AssertionError as e:  # say what devstate and the broker saw
            raise AssertionError(f"{e}\n--- devstate log:\n{tail(self.ds.log_path)}"
                                 f"--- mosquitto log:\n{tail(self.broker.log_path)}") from None

    def test_partial_events_merge_and_older_fields_lose(self):
        publish(self.pub, "devices/m1/state", {"status": "active", "temperature": 6.4, "ts": 1000})
        publish(self.pub, "devices/m1/state", {"temperature": 7.0, "ts": 2000})
        m = self.wait_version("m1", 2)
        self.assertEqual(m["state"], {"deviceId": "m1", "status": "active", "temperature": 7.0,
                                      "lastSeenAt": "1970-01-01T00:00:02.000Z"})
        # Older than temperature (2000) but newer than status (1000): only status moves.
        publish(self.pub, "devices/m1/state", {"status": "idle", "temperature": 1.0, "ts": 1500})
        m = self.wait_version("m1", 3)
        self.assertEqual(m["state"]["status"], "idle")
        self.assertEqual(m["state"]["temperature"], 7.0)

    def test_duplicates_change_nothing(self):
        event = {"status": "on", "battery": 90, "ts": 5000}
        publish(self.pub, "devices/m2/state", event)
        self.wait_version("m2", 1)
        for _ in range(5):
            publish(self.pub, "devices/m2/state", event)
        # A marker after the duplicates proves they were all processed before it.
        publish(self.pub, "devices/m2/state", {"marker": 1, "ts": 6000})
        m = self.wait_version("m2", 2)
        self.assertEqual(m["version"], 2)
        self.assertEqual(m["state"]["battery"], 90)

    def test_null_deletes_and_older_value_cannot_resurrect(self):
        publish(self.pub, "devices/m3/state", {"door": "open", "ts": 100})
        publish(self.pub, "devices/m3/state", {"door": None, "ts": 200})
        m = self.wait_version("m3", 2)
        self.assertNotIn("door", m["state"])
        publish(self.pub, "devices/m3/state", {"door": "closed", "ts": 150})
        publish(self.pub, "devices/m3/state", {"marker": 1, "ts": 300})
        m = self.wait_version("m3", 3)
        self.assertNotIn("door", m["state"])

    def test_bad_payloads_go_to_dead_letters_and_ingest_continues(self):
        _, before = self.ds.get_json("/deadletters")
        publish(self.pub, "devices/m4/state", b"{not json")
        publish(self.pub, "devices/m4/state", {"deviceId": "someone-else", "x": 1})
        publish(self.pub, "devices/bad id/state", {"x": 1})
        publish(self.pub, "devices/m4/state", {"ok": True, "ts": 1})
        m = self.wait_version("m4", 1)
        self.assertEqual(m["state"]["ok"], True)
        _, after = self.ds.get_json("/deadletters?limit=3")
        self.assertEqual(after["total"], before["total"] + 3)
        reasons = [e["reason"] for e in after["entries"]]
        sources = [e["source"] for e in after["entries"]]
        self.assertIn("device id must match [A-Za-z0-9._:-]{1,128}", reasons)
        self.assertTrue(any("does not match" in r for r in reasons), reasons)
        self.assertTrue(any("not valid JSON" in r for r in reasons), reasons)
        self.assertIn("mqtt:devices/m4/state", sources)
        head = [e for e in after["entries"] if "not valid JSON" in e["reason"]][0]
        self.assertEqual(head["payloadHead"], "{not json")
        self.assertEqual(head["payloadBytes"], 9)

    def test_dead_letters_survive_restart(self):
        publish(self.pub, "devices/m5/state", b"\xff\xfe")
        wait_until(lambda: any(e["source"] == "mqtt:devices/m5/state"
                               for e in self.ds.get_json("/deadletters")[1]["entries"]), 10, "dead letter")
        self.assertEqual(self.ds.stop(), 0)
        self.ds.start()
        entries = self.ds.get_json("/deadletters")[1]["entries"]
        mine = [e for e in entries if e["source"] == "mqtt:devices/m5/state"]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0].get("payloadHeadBase64"), "//4=", mine[0])
        self.assertEqual(mine[0]["reason"], "event is not valid UTF-8")
        self.ds.wait_ready()

    def test_events_published_while_devstate_is_down_arrive(self):
        self.assertEqual(self.ds.stop(), 0)
        for i in range(1, 21):
            publish(self.pub, "devices/m6/state", {"seq": i, "ts": i})
        self.ds.start()
        m = wait_until(lambda: (d := self.ds.device("m6")) and d["seq"] == 20 and d, 20, "m6 seq 20")
        self.assertEqual(m["seq"], 20)
        self.ds.wait_ready()


    def test_a_rejected_event_says_why_on_its_rejected_topic(self):
        got = []
        sub = mqtt.Client(client_id="rejected-sub", clean_session=True)
        sub.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload)))
        sub.connect("127.0.0.1", self.broker.port)
        sub.loop_start()
        try:
            done = threading.Event()
            sub.on_subscribe = lambda *a: done.set()
            sub.subscribe("devices/+/state/rejected", qos=1)
            self.assertTrue(done.wait(10))
            publish(self.pub, "devices/m9/state", b'{"temperature": ')
            wait_until(lambda: got, 10, "the rejection")
            topic, body = got[0]
            self.assertEqual(topic, "devices/m9/state/rejected")
            self.assertIn("not valid JSON", body["error"])
            self.assertEqual(body["payload"], '{"temperature": ')
            self.assertEqual(body["topic"], "devices/m9/state")
        finally:
            sub.loop_stop()
            sub.disconnect()


class Mqtt5Test(unittest.TestCase):
    def test_ingest_over_mqtt_5_with_a_session_that_outlives_devstate(self):
        work = WorkDir("mqtt5")
        broker = Mosquitto(work.path)
        ds = Devstate(work.path, broker=broker.uri, args=["--mqtt.version=5", "--mqtt.max_inflight=16"])
        pub = publisher(broker.port, "mqtt5-pub")
        try:
            ds.wait_ready()
            for i in range(1, 201):
                pub.publish("devices/v5/state", json.dumps({"seq": i, "ts": i}), qos=1)
            wait_until(lambda: (ds.device("v5") or {}).get("seq") == 200, 20, "v5 seq 200")
            # Session expiry keeps the session while devstate is away: nothing is lost.
            self.assertEqual(ds.stop(), 0)
            for i in range(201, 301):
                publish(pub, "devices/v5/state", {"seq": i, "ts": i})
            ds.start()
            wait_until(lambda: (ds.device("v5") or {}).get("seq") == 300, 20, "v5 seq 300")
            with open(broker.log_path) as f:
                self.assertIn("(p5, c0", f.read(), "devstate connects as MQTT 5, clean start off")
        finally:
            pub.loop_stop()
            pub.disconnect()
            self.assertEqual(ds.stop(), 0)
            broker.stop()
            work.cleanup()


class BrokerRestartTest(unittest.TestCase):
    def test_broker_restarted_mid_stream_loses_nothing(self):
        """Mosquitto with persistence is restarted while events stream in and while it
        holds a backlog for devstate: devstate reconnects by itself and nothing is lost."""
        work = WorkDir("brokerrestart")
        broker = Mosquitto(work.path)
        ds = Devstate(work.path, broker=broker.uri)
        devices, per_device = 100, 30
        try:
            ds.wait_ready()
            pub = publisher(broker.port, "restart-pub")

            def publish_seqs(seqs):
                infos = [pub.publish(f"devices/br-{d}/state",
                                     json.dumps({"seq": seq, "ts": seq, f"e{seq}": 1}), qos=1)
                         for seq in seqs for d in range(devices)]
                for info in infos:  # the broker holds each: delivered, or queued for devstate
                    info.wait_for_publish(30)

            publish_seqs(range(1, 6))
            wait_until(lambda: (ds.device("br-0") or {}).get("seq", 0) >= 2, 20, "events flowing")
            # devstate paused: the broker queues a backlog for its session, then restarts.
            ds.proc.send_signal(signal.SIGSTOP)
            publish_seqs(range(6, per_device // 2 + 1))
            pub.loop_stop()
            pub.disconnect()
            broker.stop()
            broker = Mosquitto(work.path, port=broker.port)  # same port, same persistence
            ds.proc.send_signal(signal.SIGCONT)
            pub = publisher(broker.port, "restart-pub")
            for seq in range(per_device // 2 + 1, per_device + 1):
                for d in range(devices):
                    pub.publish(f"devices/br-{d}/state", json.dumps({"seq": seq, "ts": seq, f"e{seq}": 1}), qos=1)
            wait_until(lambda: all((ds.device(f"br-{d}") or {}).get("seq") == per_device
                                   for d in range(devices)), 60, "every device at its last event")
            for d in range(devices):
                state = ds.device(f"br-{d}")
                missing = [s for s in range(1, per_device + 1) if f"e{s}" not in state]
                self.assertEqual(missing, [], f"br-{d} lost events")
            ds.wait_ready()
            with open(ds.log_path) as f:
                self.assertIn("lost the connection", f.read())
            pub.loop_stop()
            pub.disconnect()
        finally:
            self.assertEqual(ds.stop(), 0)
            broker.stop()
            work.cleanup()


class BrokerDownTest(unittest.TestCase):
    def test_serves_http_while_broker_is_down_and_connects_when_it_comes(self):
        work = WorkDir("brokerdown")
        port = free_port()
        ds = Devstate(work.path, broker=f"tcp://127.0.0.1:{port}")
        try:
            status, body = ds.get_json("/readyz")
            self.assertEqual(status, 503)
            self.assertEqual(body["mqtt"], "connecting")
            self.assertEqual(ds.post_json("/devices/h1", {"x": 1})[0], 200)
            self.assertEqual(ds.device("h1")["x"], 1)
            # The broker appears on that port: devstate connects by itself, and notices
            # when it goes away again.
            broker = Mosquitto(work.path, port=port)
            try:
                ds.wait_ready(20)
                self.assertEqual(ds.get_json("/readyz")[1]["mqtt"], "connected")
            finally:
                broker.stop()
            wait_until(lambda: ds.get_json("/readyz")[0] == 503, 20, "readyz to notice the broker left")
        finally:
            self.assertEqual(ds.stop(), 0)
            work.cleanup()


class ReadinessTest(unittest.TestCase):
    def test_not_ready_before_the_subscription_exists(self):
        """/readyz, polled from the moment devstate starts, says ready only once MQTT is
        subscribed: a client that waits for it and then publishes loses nothing. (The HTTP
        listener opens before MQTT ingest starts; it used to say "mqtt":"disabled" then.)"""
        work = WorkDir("readiness")
        broker = Mosquitto(work.path)
        http_port = free_port()
        proc = subprocess.Popen([BIN, f"--store.dir={work.path}/store", f"--http.port={http_port}",
                                 "--resp.port=0", f"--mqtt.broker={broker.uri}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            first_ready = None
            deadline = time.monotonic() + 20
            while first_ready is None and time.monotonic() < deadline and proc.poll() is None:
                try:
                    status, _, body = http_request(http_port, "GET", "/readyz")
                    if status == 200:
                        first_ready = json.loads(body)
                except OSError:
                    pass  # not listening yet: ask again at once, the window is milliseconds
            self.assertIsNotNone(first_ready, "devstate never became ready")
            self.assertEqual(first_ready["mqtt"], "connected")
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(20), 0)
            broker.stop()
            work.cleanup()


class HttpIngestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = WorkDir("http")
        cls.ds = Devstate(cls.work.path, args=[
            "--http.max_body_bytes=4096", "--http.max_header_bytes=2048",
            "--http.header_timeout_ms=500", "--http.body_timeout_ms=500",
            "--http.idle_timeout_ms=1500", "--limits.max_event_bytes=1024",
            "--limits.max_batch_events=50"])

    @classmethod
    def tearDownClass(cls):
        rc = cls.ds.stop()
        cls.work.cleanup()
        assert rc == 0, f"devstate exited {rc}"

    def test_single_event(self):
        self.assertEqual(self.ds.post_json("/devices/h-1", {"status": "active", "ts": 10}),
                         (200, {"version": 1, "stale": False}))
        self.assertEqual(self.ds.post_json("/devices/h-1", {"status": "old", "ts": 5}),
                         (200, {"version": 1, "stale": True}))
        status, headers, body = self.ds.get("/devices/h-1")
        self.assertEqual(status, 200)
        self.assertEqual(headers["ETag"], '"1"')
        self.assertEqual(json.loads(body)["status"], "active")
        self.assertEqual(self.ds.get("/devices/h-1", {"If-None-Match": '"1"'})[0], 304)
        self.assertEqual(self.ds.get("/devices/h-unknown")[0], 404)

    def test_batch_array_and_ndjson(self):
        status, body = self.ds.post_json("/events", [
            {"deviceId": "b-1", "x": 1, "ts": 1}, {"deviceId": "b-2", "y": 2}, {"x": "no id"}])
        self.assertEqual(status, 200)
        self.assertEqual((body["accepted"], body["rejected"]), (2, 1))
        self.assertEqual(body["results"][1], {"deviceId": "b-2", "version": 1, "stale": False})
        self.assertIn("error", body["results"][2])
        ndjson = "\n".join(json.dumps({"deviceId": f"n-{i}", "v": i}) for i in range(40))
        status, body = self.ds.post_json("/events", ndjson, "application/x-ndjson")
        self.assertEqual((status, body["accepted"]), (200, 40))
        self.assertEqual(self.ds.device("n-39")["v"], 39)

    def test_error_statuses(self):
        self.assertEqual(self.ds.post_json("/devices/e-1", "{oops")[0], 400)
        self.assertEqual(self.ds.post_json("/devices/e-1", {"deviceId": "e-2"})[0], 400)
        self.assertEqual(self.ds.post_json("/devices/e-1", {"a": 1}, "text/plain")[0], 415)
        self.assertEqual(self.ds.post_json("/devices/e-1", {"a": "x" * 2000})[0], 413)  # event limit
        status, body = self.ds.post_json("/events", [{"deviceId": f"x{i}"} for i in range(51)])
        self.assertEqual((status, body["error"]), (400, "batch has more than 50 events"))
        self.assertEqual(self.ds.request("DELETE", "/devices/e-1")[0], 405)
        # 411: a POST with neither Content-Length nor chunked encoding.
        reply = raw_exchange(self.ds.http_port, b"POST /devices/e-1 HTTP/1.1\r\nHost: t\r\n"
                             b"Content-Type: application/json\r\nConnection: close\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 411 "), reply)
        # 413 from the body limit: answered from the headers, then the connection closes.
        reply = raw_exchange(self.ds.http_port, b"POST /events HTTP/1.1\r\nHost: t\r\n"
                             b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n[")
        self.assertTrue(reply.startswith(b"HTTP/1.1 413 "), reply)
        self.assertIn(b"limit of 4096 bytes", reply)
        # 413 for a chunked body that grows past the limit.
        chunk = b"x" * 3000
        data = (b"POST /events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(chunk) + chunk + b"\r\n"
                + b"%x\r\n" % len(chunk) + chunk + b"\r\n0\r\n\r\n")
        reply = raw_exchange(self.ds.http_port, data)
        self.assertTrue(reply.startswith(b"HTTP/1.1 413 "), reply)
        # 431 for headers over the limit; 400 for a malformed request line.
        reply = raw_exchange(self.ds.http_port, b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 3000 + b"\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 431 "), reply)
        reply = raw_exchange(self.ds.http_port, b"GARBAGE\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), reply)
        self.assertEqual(self.ds.get("/healthz")[0], 200)

    def test_keep_alive_and_pipelining_answer_in_order(self):
        body = json.dumps({"k": 1})
        reqs = b""
        for i in range(10):
            reqs += (f"POST /devices/p-{i} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
            reqs += f"GET /devices/p-{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
        reqs += b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        reply = raw_exchange(self.ds.http_port, reqs)
        self.assertEqual(reply.count(b"HTTP/1.1 200 OK"), 21)
        # Each GET follows its POST, so it sees the write (read-your-writes, in order).
        positions = [reply.find(f'"deviceId":"p-{i}"'.encode()) for i in range(10)]
        self.assertTrue(all(p > 0 for p in positions))
        self.assertEqual(positions, sorted(positions))

    def test_slow_clients_do_not_stall_others_and_are_cut_off(self):
        slow_header = socket.create_connection(("127.0.0.1", self.ds.http_port))
        slow_header.sendall(b"POST /devices/s-1 HTTP/1.1\r\nHost: t\r\n")  # and then nothing
        slow_body = socket.create_connection(("127.0.0.1", self.ds.http_port))
        slow_body.sendall(b"POST /devices/s-1 HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100\r\n\r\n{")
        idle = socket.create_connection(("127.0.0.1", self.ds.http_port))
        try:
            started = time.monotonic()
            for i in range(50):
                self.assertEqual(self.ds.post_json(f"/devices/f-{i}", {"i": i})[0], 200)
            self.assertLess(time.monotonic() - started, 5.0)
            for s, limit in ((slow_header, 5), (slow_body, 5), (idle, 8)):
                s.settimeout(limit)
                self.assertEqual(s.recv(1024), b"", "the server closes a stalled connection")
        finally:
            for s in (slow_header, slow_body, idle):
                s.close()

    def test_metrics_pass_promtool(self):
        self.assertEqual(self.ds.post_json("/devices/mx-1", {"a": 1})[0], 200)
        self.assertEqual(self.ds.post_json("/devices/mx-1", "{bad")[0], 400)
        status, headers, body = self.ds.get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        check = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        text = body.decode()
        for needle in ('devstate_ingest_events_total{outcome="changed"}', 'devstate_ingest_events_total{outcome="rejected"}',
                       "devstate_commit_group_mutations_bucket", "devstate_commit_seconds_count",
                       "devstate_keyspace_keys", 'devstate_http_responses_total{code="200"}',
                       "devstate_http_connections", "devstate_resp_connections"):
            self.assertIn(needle, text)

    def test_device_paging_is_stable_under_writes(self):
        for i in range(120):
            self.assertEqual(self.ds.post_json(f"/devices/pg-{i}", {"v": i})[0], 200)
        seen = []
        cursor = None
        while True:
            path = "/devices?limit=25" + (f"&cursor={cursor}" if cursor else "")
            status, page = self.ds.get_json(path)
            self.assertEqual(status, 200)
            seen += page["devices"]
            # Writes between pages: new devices and updates must not disturb the listing.
            for j in range(5):
                self.ds.post_json(f"/devices/pg-new-{len(seen)}-{j}", {"v": j})
                self.ds.post_json(f"/devices/pg-{j}", {"v": len(seen)})
            cursor = page["cursor"]
            if cursor is None:
                break
        self.assertEqual(len(seen), len(set(seen)), "no device twice")
        self.assertTrue({f"pg-{i}" for i in range(120)} <= set(seen), "every device present throughout appears")

    def test_concurrent_clients_all_commit(self):
        errors = []

        def worker(n):
            try:
                for i in range(25):
                    status, body = self.ds.post_json(f"/devices/c-{n}", {"i": i, "ts": i + 1})
                    if status != 200 or body["version"] != i + 1:
                        errors.append((n, i, status, body))
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for n in range(16):
            self.assertEqual(self.ds.device(f"c-{n}")["i"], 24)


class HttpConnectionLimitTest(unittest.TestCase):
    def test_connection_over_the_cap_gets_503(self):
        work = WorkDir("conncap")
        ds = Devstate(work.path, args=["--http.max_connections=3"])
        held = []
        try:
            for _ in range(3):
                held.append(socket.create_connection(("127.0.0.1", ds.http_port)))
            wait_until(lambda: raw_exchange(ds.http_port, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                       .startswith(b"HTTP/1.1 503 "), 10, "503 over the cap")
            for s in held:
                s.close()
            held = []
            wait_until(lambda: ds.get("/healthz")[0] == 200, 10, "service after the cap frees")
        finally:
            for s in held:
                s.close()
            self.assertEqual(ds.stop(), 0)
            work.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)

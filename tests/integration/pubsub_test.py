"""Pub/sub (issue 23): redis-py's PubSub against a real devstate process.

Channels, patterns and shard channels deliver to every subscriber, RESP3 connections get
pushes and may run other commands meanwhile, PUBSUB counts what is subscribed, and a
subscriber that does not read is disconnected at limits.max_pubsub_output_bytes while the
others get every message. Run with /usr/bin/python3.
"""
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Devstate, Raw, WorkDir, wait_until  # noqa: E402

import redis  # noqa: E402


def next_message(ps, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = ps.get_message(timeout=0.2)
        if m and m["type"] not in ("subscribe", "psubscribe", "ssubscribe"):
            return m
    return None


class PubSubTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = WorkDir("pubsub")
        cls.ds = Devstate(cls.work.path, args=["--limits.max_pubsub_output_bytes=1048576"])

    @classmethod
    def tearDownClass(cls):
        rc = cls.ds.stop()
        cls.work.cleanup()
        assert rc == 0, f"devstate exited {rc}"

    def test_channels_and_patterns_deliver_to_every_subscriber(self):
        r = self.ds.redis()
        subs = []
        for _ in range(3):
            ps = self.ds.redis().pubsub()
            ps.subscribe("dev:alerts")
            subs.append(ps)
        pat = self.ds.redis().pubsub()
        pat.psubscribe("dev:*")
        wait_until(lambda: r.pubsub_numsub("dev:alerts")[0][1] == 3, 5, "3 subscribers")
        self.assertEqual(r.pubsub_numpat(), 1)
        self.assertEqual(r.publish("dev:alerts", "hot"), 4, "3 channel + 1 pattern deliveries")
        for ps in subs:
            m = next_message(ps)
            self.assertEqual((m["type"], m["channel"], m["data"]), ("message", b"dev:alerts", b"hot"))
        m = next_message(pat)
        self.assertEqual((m["type"], m["pattern"], m["channel"], m["data"]),
                         ("pmessage", b"dev:*", b"dev:alerts", b"hot"))
        self.assertIn(b"dev:alerts", r.pubsub_channels())
        self.assertEqual(r.pubsub_channels("nomatch*"), [])
        for ps in subs + [pat]:
            ps.close()
        wait_until(lambda: r.pubsub_numsub("dev:alerts")[0][1] == 0, 5, "subscribers gone")
        self.assertEqual(r.pubsub_numpat(), 0)
        self.assertEqual(r.publish("dev:alerts", "x"), 0)

    def test_keyspace_notifications_follow_committed_writes(self):
        r = self.ds.redis()
        self.assertEqual(r.config_get("notify-keyspace-events"), {"notify-keyspace-events": ""})
        with self.assertRaises(redis.exceptions.ResponseError) as e:
            r.config_set("notify-keyspace-events", "KQ")
        self.assertIn("Invalid event class character", str(e.exception))
        r.config_set("notify-keyspace-events", "KEA")
        try:
            ps = self.ds.redis().pubsub()
            ps.psubscribe("__keyspace@0__:{n}*")
            r.set("{n}s", "1", ex=100)
            r.incrby("{n}s", 2)
            r.hset("{n}h", "a", "1")
            with self.assertRaises(redis.exceptions.ResponseError):
                r.hset("{n}s", "a", "1")  # refused: WRONGTYPE, no event
            r.hdel("{n}h", "a")
            tx = r.pipeline()
            tx.set("{n}t", "1")
            tx.rename("{n}t", "{n}u")
            tx.execute()
            r.delete("{n}u", "{n}missing")
            r.pexpire("{n}s", 1)
            want = [("{n}s", "set"), ("{n}s", "expire"), ("{n}s", "incrby"), ("{n}h", "hset"),
                    ("{n}h", "hdel"), ("{n}h", "del"), ("{n}t", "set"), ("{n}t", "rename_from"),
                    ("{n}u", "rename_to"), ("{n}u", "del"), ("{n}s", "expire"), ("{n}s", "expired")]
            got = []
            while len(got) < len(want):
                m = next_message(ps)
                self.assertIsNotNone(m, f"heard only {got}")
                got.append((m["channel"].decode().split(":", 1)[1], m["data"].decode()))
            self.assertEqual(got, want)
            # A device changed over HTTP: its key's event, and its new state on its channel.
            dev = self.ds.redis().pubsub()
            dev.psubscribe("device:*:changes")
            status, _ = self.ds.post_json("/devices/sensor-1", {"temperature": 6.5, "ts": 10})
            self.assertEqual(status, 200)
            m = next_message(dev)
            self.assertEqual(m["channel"], b"device:sensor-1:changes")
            self.assertEqual(json.loads(m["data"]),
                             {"deviceId": "sensor-1", "version": 1,
                              "state": self.ds.device("sensor-1")},
                             "the state GET /devices/sensor-1 serves")
            status, _ = self.ds.post_json("/devices/sensor-1", {"temperature": 1, "ts": 5})
            self.assertEqual(status, 200)
            self.assertIsNone(next_message(dev, timeout=0.5), "a stale event changes nothing")
            dev.close()
            ps.close()
        finally:
            r.config_set("notify-keyspace-events", "")

    def test_shard_channels(self):
        r = self.ds.redis()
        raw = Raw(self.ds.resp_port)
        try:
            self.assertEqual(raw.call("SSUBSCRIBE", "{d7}state"),
                             b"*3\r\n$10\r\nssubscribe\r\n$9\r\n{d7}state\r\n:1\r\n")
            self.assertEqual(r.execute_command("PUBSUB", "SHARDNUMSUB", "{d7}state"),
                             [b"{d7}state", 1])
            self.assertEqual(r.publish("{d7}state", "other namespace"), 0)
            self.assertEqual(r.execute_command("SPUBLISH", "{d7}state", "on"), 1)
            self.assertEqual(raw.call("PING"),
                             b"*3\r\n$8\r\nsmessage\r\n$9\r\n{d7}state\r\n$2\r\non\r\n",
                             "the message, then PING's answer")
            self.assertEqual(r.execute_command("PUBSUB", "SHARDCHANNELS"), [b"{d7}state"])
        finally:
            raw.close()

    def test_resp2_subscribers_speak_only_pubsub_and_resp3_ones_anything(self):
        raw = Raw(self.ds.resp_port)
        try:
            self.assertEqual(raw.call("SUBSCRIBE", "c1"), b"*3\r\n$9\r\nsubscribe\r\n$2\r\nc1\r\n:1\r\n")
            self.assertEqual(raw.call("GET", "k"),
                             b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                             b"PING / QUIT / RESET are allowed in this context\r\n")
            self.assertEqual(raw.call("PING"), b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")
            self.assertEqual(raw.call("RESET"), b"+RESET\r\n")
            self.assertEqual(raw.call("GET", "k"), b"$-1\r\n", "RESET unsubscribed")
        finally:
            raw.close()
        raw = Raw(self.ds.resp_port)
        try:
            raw.call("HELLO", "3")
            self.assertEqual(raw.call("SUBSCRIBE", "c3"), b">3\r\n$9\r\nsubscribe\r\n$2\r\nc3\r\n:1\r\n")
            self.assertEqual(raw.call("SET", "resp3k", "v"), b"+OK\r\n", "RESP3 may run commands")
            self.assertEqual(self.ds.redis().publish("c3", "m"), 1)
            self.assertEqual(raw.call("GET", "resp3k"),
                             b">3\r\n$7\r\nmessage\r\n$2\r\nc3\r\n$1\r\nm\r\n",
                             "the push arrives before the next reply")
            self.assertEqual(raw.read(), b"$1\r\nv\r\n", "then GET's own reply")
            # Data that looks like RESP is carried as it is.
            self.assertEqual(self.ds.redis().publish("c3", "$-1\r\n"), 1)
            self.assertEqual(raw.read(),
                             b">3\r\n$7\r\nmessage\r\n$2\r\nc3\r\n$5\r\n$-1\r\n\r\n")
            self.assertEqual(raw.call("UNSUBSCRIBE"),
                             b">3\r\n$11\r\nunsubscribe\r\n$2\r\nc3\r\n:0\r\n")
            self.assertEqual(raw.call("UNSUBSCRIBE"), b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n")
        finally:
            raw.close()

    def test_a_subscriber_that_does_not_read_is_cut_off_and_others_get_everything(self):
        r = self.ds.redis()
        slow = socket.create_connection(("127.0.0.1", self.ds.resp_port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(b"SUBSCRIBE flood\r\n")
        good = self.ds.redis().pubsub()
        good.subscribe("flood")
        wait_until(lambda: r.pubsub_numsub("flood")[0][1] == 2, 5, "2 subscribers")
        payload = "x" * 16384
        received = 0
        for i in range(4000):
            r.publish("flood", payload)
            while good.get_message(timeout=0) is not None:
                received += 1
        wait_until(lambda: r.pubsub_numsub("flood")[0][1] == 1, 10,
                   "the subscriber that does not read to be disconnected")
        deadline = time.monotonic() + 10
        while received < 4000 + 1 and time.monotonic() < deadline:  # + its subscribe confirmation
            if good.get_message(timeout=0.2) is not None:
                received += 1
        self.assertEqual(received, 4001, "the reading subscriber got every message")
        self.assertTrue(r.ping(), "publishers never wait for subscribers")
        good.close()
        slow.close()


if __name__ == "__main__":
    unittest.main()
